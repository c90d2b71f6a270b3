-- The built-in task table tools/embed.c builds at compile time
-- (dbtrun.builtin_tasks) says exactly what running the tasks/ files says:
-- the same tasks, options, lines and files, so --list, --json and --usage
-- cannot drift from the files.
local t = require("harness")
local api = require("dbtrun.api")

local sources = debug.getregistry()["dbtrun.builtin_sources"]
local table_ = require("dbtrun.builtin_tasks")

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b
  end
  for k, v in pairs(a) do
    if not same(v, b[k]) then
      return false
    end
  end
  for k in pairs(b) do
    if a[k] == nil then
      return false
    end
  end
  return true
end

-- What the tasks/ files declare when they run, in file order.
local function run_files()
  local files = {}
  for file in pairs(sources) do
    files[#files + 1] = file
  end
  table.sort(files)
  local found = {}
  for _, file in ipairs(files) do
    local env = api.environment(true)
    local shim = setmetatable({
      task = function(name, spec, fn)
        if type(spec) == "function" and fn == nil then
          spec, fn = {}, spec
        end
        found[#found + 1] = { name = name, spec = spec, file = file, line = debug.getinfo(2, "l").currentline, fn = fn }
      end,
    }, { __index = env, __newindex = env })
    assert(load(sources[file], "@(dbtrun)/" .. file, "b", shim))()
  end
  return found
end

return t.run("builtin_tasks", {
  {
    "a built-in file's source is made on first read, and pairs lists every file",
    function()
      -- nothing has read a source yet: no copies made at start-up
      t.eq(rawget(sources, "tasks/dev.lua"), nil)
      local dev = sources["tasks/dev.lua"]
      t.eq(type(dev), "string")
      t.eq(rawget(sources, "tasks/dev.lua"), dev)
      t.check(load(dev, "dev", "b", {}) ~= nil, "bytecode that loads")
      t.eq(sources["tasks/nothing.lua"], nil)
      t.eq(sources["lua/main.lua"], nil) -- modules are not task files
      local files = {}
      for file, source in pairs(sources) do
        t.eq(type(source), "string")
        files[#files + 1] = file
      end
      table.sort(files)
      local want = {}
      for _, r in ipairs(table_) do
        want[#want + 1] = not want[r.file] and r.file or nil
        want[r.file] = true
      end
      table.sort(want)
      t.eq(table.concat(files, " "), table.concat(want, " "))
    end,
  },
  {
    "the table holds every built-in task, in file order",
    function()
      local ran = run_files()
      t.check(#ran >= 9, "at least the nine built-in tasks")
      t.eq(#table_, #ran)
      for i, r in ipairs(ran) do
        local e = table_[i] or {}
        t.eq(e.name, r.name)
        t.eq(e.file, r.file)
        t.check(same(e.spec, r.spec), "options of " .. r.name)
        t.check(type(r.fn) == "function", "body of " .. r.name)
      end
    end,
  },
  {
    "lines are the task() calls' lines (they are in where and error messages)",
    function()
      -- bytecode is stripped, so the lines come from the table: check them
      -- against the source text of one file
      local e
      for _, r in ipairs(table_) do
        if r.name == "dev" then
          e = r
        end
      end
      t.eq(e.file, "tasks/dev.lua")
      local f = io.open("tasks/dev.lua")
      if f then -- run from the repository root (tests/run does)
        local n = 0
        for line in f:lines() do
          n = n + 1
          if line:find('^task%("dev"') then
            t.eq(e.line, n)
          end
        end
        f:close()
      end
    end,
  },
})
