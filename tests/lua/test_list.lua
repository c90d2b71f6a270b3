-- --list, --json and --summary output (lua/list.lua) for a known task file.
local t = require("harness")
local api = require("dbtrun.api")
local list = require("dbtrun.list")
local tasks = require("dbtrun.tasks")
local json = require("dbtrun.native").json

local source = [[
-- Fetch the production manifest
task("fetch-manifest", function() end)

-- Run dbt with deferral to production
-- (only changed models)
task("dev", { deps = { "fetch-manifest" }, params = { "*ARGS" }, alias = "d" }, function() end)

-- Run a specific selection with deferral
task("dev-select", { params = { "SELECTION" } }, function() end)

task("build", { params = { "TARGET=dev" }, group = "prod", doc = "Full build" }, function() end)

local x = 1 -- not a doc: a blank line follows

task("zzz-no-doc", function() end)
-- hidden
task("_private", function() end)
task("also-private", { private = true }, function() end)
task("a-very-long-task-name-that-does-not-push-the-column", { params = { "WITH", "MANY=params" }, doc = "long" }, function() end)
]]

local function load_file()
  tasks.add_source("@list.lua", source)
  local chunk = assert(load(source, "@list.lua", "t", api.environment(false)))
  chunk()
end

return t.run("test_list", {
  { "text", function()
    load_file()
    local want = table.concat({
      "Available tasks:",
      '    a-very-long-task-name-that-does-not-push-the-column WITH MANY="params" # long',
      "    dev *ARGS            # Run dbt with deferral to production (only changed models) [alias: d]",
      "    dev-select SELECTION # Run a specific selection with deferral",
      "    fetch-manifest       # Fetch the production manifest",
      "    zzz-no-doc",
      "    [prod]",
      '    build TARGET="dev"   # Full build',
      "",
    }, "\n")
    local got = list.text()
    t.eq(got, want)
    if got ~= want then
      io.stderr:write(got)
    end
  end },
  { "text in colour: groups cyan, docs dim", function()
    local ui = require("dbtrun.ui")
    local was = ui.color
    ui.color = true
    local got = list.text("Tasks:")
    ui.color = was
    local dim, off = "\27[2m", "\27[0m"
    t.eq(got, table.concat({
      "Tasks:",
      '    a-very-long-task-name-that-does-not-push-the-column WITH MANY="params" ' .. dim .. "# long" .. off,
      "    dev *ARGS            " .. dim .. "# Run dbt with deferral to production (only changed models) [alias: d]" .. off,
      "    dev-select SELECTION " .. dim .. "# Run a specific selection with deferral" .. off,
      "    fetch-manifest       " .. dim .. "# Fetch the production manifest" .. off,
      "    zzz-no-doc",
      "    \27[36m[prod]" .. off,
      '    build TARGET="dev"   ' .. dim .. "# Full build" .. off,
      "",
    }, "\n"))
  end },
  { "json", function()
    local doc = json.decode(list.json())
    t.eq(#doc.tasks, 6)
    local dev
    for _, task in ipairs(doc.tasks) do
      if task.name == "dev" then
        dev = task
      end
    end
    t.eq(dev.params[1].kind, "star")
    t.eq(dev.deps[1], "fetch-manifest")
    t.eq(dev.aliases[1], "d")
    t.eq(dev.usage, "dev *ARGS")
    t.eq(dev.builtin, false)
  end },
  { "summary", function()
    t.eq(list.summary(), "a-very-long-task-name-that-does-not-push-the-column build dev dev-select fetch-manifest zzz-no-doc\n")
  end },
  { "completions", function()
    for _, shell in ipairs({ "bash", "zsh", "fish" }) do
      local s = require("dbtrun.completions").script(shell)
      t.check(s and s:find("--complete --", 1, true), shell)
    end
    t.eq(require("dbtrun.completions").script("tcsh"), nil)
  end },
  { "completion words are split like the command line", function()
    local c = require("dbtrun.completions")
    local line = c.parse({ "-C", "proj", "-fx.lua", "--set", "a=1", "dev-select", "sel", "cur" })
    t.eq(line.directory, "proj")
    t.eq(line.file, "x.lua")
    t.eq(line.task, "dev-select")
    t.eq(table.concat(line.args, " "), "sel")
    t.eq(line.cur, "cur")
    t.eq(c.parse({ "-n", "de" }).task_position, true)
    t.eq(c.parse({ "--directory", "" }).value_of, "--directory")
    t.eq(c.parse({ "--file=a.lua", "x", "" }).file, "a.lua")
  end },
  { "selection candidates keep operators and intersections", function()
    local c = require("dbtrun.completions")
    local nodes = {
      { type = "model", name = "orders", path = "models/orders.sql", tags = '["fin"]' },
      { type = "test", name = "orders_test" },
    }
    t.eq(table.concat(c.selection("3+ord", nodes), " "), "3+orders")
    t.eq(table.concat(c.selection("a,@or", nodes), " "), "a,@orders")
    t.eq(table.concat(c.selection("tag:", nodes), " "), "tag:fin")
    t.eq(table.concat(c.selection("path:m", nodes), " "), "path:models/")
  end },
  { "suggest and find", function()
    t.eq(tasks.suggest("dve"), "dev")
    t.eq(tasks.suggest("dev-selct"), "dev-select")
    t.eq(tasks.suggest("completely-different"), nil)
    t.eq(tasks.find("d").name, "dev")
  end },
})
