-- run{} and sh() (lua/run.lua): quoting, capture, check, errors.
local t = require("harness")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")
ui.quiet = true

return t.run("test_run", {
  { "quote", function()
    t.eq(run.quote("plain-word_1.sql"), "plain-word_1.sql")
    t.eq(run.quote("state:modified+"), "state:modified+")
    t.eq(run.quote(""), "''")
    t.eq(run.quote("a b"), "'a b'")
    t.eq(run.quote("it's"), "'it'\\''s'")
    t.eq(run.quote("$HOME"), "'$HOME'")
  end },
  { "describe with env and cwd", function()
    t.eq(run.describe({ "dbt", "build" }, { env = { B = "2", A = "x y", C = false }, cwd = "sub dir" }, true),
      "cd 'sub dir' && A='x y' B=2 -u C dbt build")
    t.eq(run.describe({ "dbt", "build" }, { env = { A = "1" } }, false), "dbt build")
  end },
  { "capture and flatten", function()
    local code, out = run.run({ "printf", "%s|", { "a b", { "c" } }, 3, capture = true })
    t.eq(code, 0)
    t.eq(out, "a b|c|3|")
    code, out = run.sh({ "echo $X", env = { X = "from env" }, capture = true })
    t.eq(out, "from env\n")
  end },
  { "check", function()
    t.eq(run.run({ "sh", "-c", "exit 3", check = false }), 3)
    local ok, err = pcall(run.run, { "sh", "-c", "exit 4" })
    t.check(not ok and err.kind == "command" and err.code == 4, tostring(err))
    t.check(tostring(err):find("exit code 4: sh %-c 'exit 4'"), tostring(err))
    ok, err = pcall(run.run, { "no-such-program-dbtrun" })
    t.check(not ok and err.code == 127 and tostring(err):find("command not found"), tostring(err))
  end },
  { "misuse", function()
    t.raises(function() run.run({ "true", bogus = 1 }) end, "unknown option 'bogus'")
    t.raises(function() run.run({}) end, "empty command")
    t.raises(function() run.sh({ "a", "b" }) end, "one script")
  end },
})
