-- lua/aws.lua and lua/store.lua: the pure parts (URLs, filter order, dry-run
-- lines, error values) without a network; the calls themselves are proven
-- end to end in tests/e2e/test_lua_aws.py.
local t = require("harness")
local aws = require("dbtrun.aws")
local store = require("dbtrun.store")
local ui = require("dbtrun.ui")

return t.run("test_aws", {
  { "s3 URLs split into bucket and key", function()
    t.eq(select(1, aws.parse_url("s3://b/k/x.json")), "b")
    t.eq(select(2, aws.parse_url("s3://b/k/x.json")), "k/x.json")
    t.eq(select(2, aws.parse_url("s3://b")), "")
    t.eq(select(2, aws.parse_url("s3://b/")), "")
    t.raises(function() aws.parse_url("file://x") end, "not an S3 URL")
    t.raises(function() aws.parse_url("s3:///k") end, "not an S3 URL")
  end },
  { "filters keep their order: filters, then excludes, then includes", function()
    local f = aws.filters({ filters = { { "include", "a" } }, include = { "b", "c" }, exclude = "*.json" })
    t.eq(#f, 4)
    t.eq(f[1][1] .. f[1][2], "includea")
    t.eq(f[2][1] .. f[2][2], "exclude*.json")
    t.eq(f[3][1] .. f[3][2], "includeb")
    t.eq(f[4][1] .. f[4][2], "includec")
    t.eq(table.concat({ aws.sync_flags({ delete = true }, f) }, " "),
      "--delete --include a --exclude *.json --include b --include c")
  end },
  { "a raw failure becomes an aws error value", function()
    local ok, err = pcall(aws.check, nil, "GetObject s3://b/k: NoSuchKey (404): gone",
      { op = "GetObject", target = "s3://b/k", code = "NoSuchKey", status = 404, message = "gone" })
    t.eq(ok, false)
    t.eq(err.kind, "aws")
    t.eq(err.code, "NoSuchKey")
    t.eq(err.aws_message, "gone")
    t.eq(tostring(err), "GetObject s3://b/k: NoSuchKey (404): gone")
    t.eq(select(2, aws.check("value", "second")), "second")
  end },
  { "dry run: nothing is done, the aws command is shown", function()
    ui.dry_run = true
    local r = store.get("s3://nowhere-bucket/a/", "manifest.json", "/nonexistent/dir/m.json")
    t.eq(r.changed, false)
    t.eq(aws.s3.rm("s3://nowhere-bucket/x", { recursive = true }), 0)
    t.eq(aws.cloudfront.invalidate("E1", "/*"), "dry-run")
    ui.dry_run = false
  end },
})
