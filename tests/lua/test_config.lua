-- config layers (lua/config.lua): defaults < config{} < DBTRUN_* < --set.
local t = require("harness")
local config = require("dbtrun.config")
local env = require("dbtrun.native").env

return t.run("test_config", {
  { "layers", function()
    config.default({ artifacts = "file://.dbtrun/store/", threads = 4, favor_state = false, aws = { region = "us-east-1" } })
    config.proxy({ artifacts = "s3://b/artifacts/", aws = { profile = "data-engineer" } })
    t.eq(config.proxy.artifacts, "s3://b/artifacts/")
    t.eq(config.proxy.aws.region, "us-east-1")
    t.eq(config.proxy.aws.profile, "data-engineer")
    env.set("DBTRUN_AWS__REGION", "eu-west-1")
    env.set("DBTRUN_THREADS", "8")
    env.set("DBTRUN_TEST_IGNORED", "x")
    config.load_environment()
    t.eq(config.proxy.aws.region, "eu-west-1")
    t.eq(config.proxy.threads, 8)
    t.eq(config.proxy.test_ignored, nil)
    assert(config.override("threads", "16"))
    assert(config.override("favor_state", "true"))
    assert(config.override("pr", "123"))
    t.eq(config.proxy.threads, 16)
    t.eq(config.proxy.favor_state, true)
    t.eq(config.proxy.pr, "123")
    t.eq(config.get("aws.profile"), "data-engineer")
    t.eq(config.get("aws.nothing.deeper"), nil)
  end },
  { "false turns a location off", function()
    -- --set docs=false means "not published", not a folder named "false"
    assert(config.override("docs", "false", true))
    assert(config.override("artifacts", "false"))
    t.eq(config.proxy.docs, false)
    t.eq(config.proxy.artifacts, false)
    assert(config.override("docs_include", "compiled/*, run/*", true))
    t.eq(config.proxy.docs_include, "compiled/*, run/*")
  end },
  { "env.all with a prefix keeps only those names", function()
    local env = require("dbtrun.native").env
    env.set("DBTRUN_PREFIX_SEEN", "1")
    env.set("XDBTRUN_PREFIX_UNSEEN", "2")
    local some, all = env.all("DBTRUN_"), env.all()
    t.eq(some.DBTRUN_PREFIX_SEEN, "1")
    t.eq(some.XDBTRUN_PREFIX_UNSEEN, nil)
    t.eq(all.XDBTRUN_PREFIX_UNSEEN, "2")
    for name in pairs(some) do
      t.check(name:sub(1, 7) == "DBTRUN_", name)
    end
  end },
  { "misuse", function()
    t.raises(function() config.proxy.threads = 3 end, "read%-only")
    t.raises(function() config.proxy("x") end, "expects a table")
    local ok, err = config.override("bad key", "1")
    t.check(not ok and err:find("invalid config key"), err)
  end },
})
