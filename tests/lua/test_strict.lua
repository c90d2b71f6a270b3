-- Strictness in the library: argument checks (lua/check.lua), did-you-mean
-- and --set checks (lua/strict.lua), strict task arguments (lua/tasks.lua).
local t = require("harness")
local check = require("dbtrun.check")
local config = require("dbtrun.config")
local strict = require("dbtrun.strict")
local tasks = require("dbtrun.tasks")

local function message(fn, ...)
  local ok, err = pcall(fn, ...)
  t.check(not ok, "expected an error")
  return not ok and type(err) == "table" and err.kind == "taskfile" and err.message or tostring(err)
end

return t.run("test_strict", {
  { "arg and opt", function()
    t.eq(check.arg("f", 1, "x", "s", "string"), "s")
    t.eq(check.arg("f", 1, "x", 5, "text"), 5)
    t.eq(check.opt("f", 2, "y", nil, "table"), nil)
    t.check(message(check.arg, "store.get", 3, "path", nil, "string")
      :find("store.get: argument 3 %(path%) must be a string, got nil$"))
    t.check(message(check.opt, "f", 2, "v", {}, "text"):find("must be a string, a number or nil, got table$"))
    t.check(message(check.arg, "f", 1, "n", "x", "number"):find('got string "x"$'))
  end },
  { "opts and fields", function()
    t.eq(next(check.opts("f", 2, nil, { a = true })), nil)
    t.check(message(check.opts, "f", 2, { b = 1 }, { a = true, c = true }):find("f: unknown option 'b' %(a, c%)$"))
    t.check(message(check.opts, "f", 2, 7, { a = true }):find("argument 2 %(options%) must be a table or nil, got number 7"))
    t.check(message(check.field, "f", { a = 1 }, "a", "string"):find("f: option a must be a string, got number$"))
  end },
  { "place refuses one-slash URLs", function()
    t.eq(check.place("f", 1, "p", "s3://b/k"), "s3://b/k")
    t.eq(check.place("f", 1, "p", "file:///abs/dir/"), "file:///abs/dir/")
    t.eq(check.place("f", 1, "p", "local/s3/dir"), "local/s3/dir")
    t.check(message(check.place, "f", 1, "p", "s3:/b/k"):find("'s3:/b/k' is not an S3 URL"))
    t.check(message(check.place, "f", 1, "p", "s3:b"):find("is not an S3 URL"))
    t.check(message(check.place, "f", 1, "p", "file:/x"):find("is not a file URL"))
  end },
  { "closest", function()
    t.eq(strict.closest("threds", { "state_dir", "threads", "targets" }), "threads")
    t.eq(strict.closest("zzzzzz", { "threads" }), nil)
  end },
  { "check_setting", function()
    config.default({ threads = 4, favor_state = false, aws = { region = "us-east-1" } })
    t.check(strict.check_setting(config, "threads", "8"))
    t.check(strict.check_setting(config, "pr", "12"))
    t.check(strict.check_setting(config, "aws.profile", "p"))
    local ok, msg = strict.check_setting(config, "threads", "abc")
    t.eq(ok, nil)
    t.eq(msg, "'threads' is a number, not 'abc'")
    ok, msg = strict.check_setting(config, "favor_state", "yes")
    t.eq(msg, "'favor_state' is a boolean: true or false, not 'yes'")
    ok, msg = strict.check_setting(config, "aws.regoin", "x")
    t.eq(msg, "unknown config key 'aws.regoin'. Did you mean 'aws.region'?")
    ok, msg = config.override("threds", "1", true)
    t.eq(msg, "unknown config key 'threds'. Did you mean 'threads'?")
    t.check(config.override("unheard_of", "1"), "the environment stays lenient")
  end },
  { "strict task arguments", function()
    local task = { name = "x", params = { { name = "SELECTION", kind = "required" } } }
    local args = tasks.strict_args(task, { SELECTION = "a" })
    t.eq(args.SELECTION, "a")
    t.check(message(function() return args.SELECTOIN end):find("task 'x' has no parameter 'SELECTOIN' %(it has SELECTION%)$"))
    local none = tasks.strict_args({ name = "y", params = {} }, {})
    t.check(message(function() return none.A end):find("%(it has none%)$"))
  end },
})
