-- taskrun: running tasks — deps that run once per invocation (and in
-- parallel branches), always() cleanup handlers, the private folders that
-- live as long as a task, strict arguments, and builtin("name"). Loaded when
-- a task runs; lua/tasks.lua (the registry) hands its functions out.

local native = require("dbtrun.native")
-- lua/check.lua is loaded on the first misuse only: the fast paths below
-- test the type inline, and reaching `check` means a message is needed.
local check = setmetatable({}, {
  __index = function(_, k)
    return require("dbtrun.check")[k]
  end,
})
local errors = require("dbtrun.errors")
local params = require("dbtrun.params")
local tasks = require("dbtrun.tasks")
local ui = require("dbtrun.ui")

local M = {}

-- lua/parallel.lua, once a task with parallel deps has loaded it: before
-- that nothing runs in a branch.
local function parallel()
  return package.loaded["dbtrun.parallel"]
end

function M.usage(t)
  return "usage: dbtrun " .. params.signature(t.name, t.params)
end

-- The words after the task name belong to the task; one that is a dbtrun
-- option gets a hint (lua/strict.lua), looked at only when a word is one.
function M.check_words(t, words)
  for _, word in ipairs(words) do
    if word:byte(1) == 45 then -- "-"
      return require("dbtrun.strict").check_words(t, words, M.usage(t))
    end
  end
end


--- Execution -------------------------------------------------------------

-- Per line of execution (the main one, or each parallel branch), one
-- frame per running task body: its always() handlers.
local main_line = {}
local frames = setmetatable({}, { __mode = "k" })

local function frame_stack()
  local p = parallel()
  local line = p and p.branch() or main_line
  frames[line] = frames[line] or {}
  return frames[line]
end

function M.always(fn)
  if type(fn) ~= "function" then
    check.arg("always", 1, "fn", fn, "function")
  end
  local stack = frame_stack()
  local frame = stack[#stack]
  if not frame then
    check.misuse("always() must be called inside a running task")
  end
  frame[#frame + 1] = fn
end

-- A private folder (mode 0700, from mkdtemp) under RUNNER_TEMP, TMPDIR or
-- /tmp, removed when the running task ends — also after a failure or Ctrl-C.
-- In a dry run only the name it would have; nothing is created.
function M.private_dir()
  local base
  for _, name in ipairs({ "RUNNER_TEMP", "TMPDIR" }) do
    local v = native.env.get(name)
    if base == nil and v ~= nil and v ~= "" then
      base = v
    end
  end
  base = (base or "/tmp"):gsub("/+$", "")
  if ui.dry_run then
    return base .. "/dbtrun.XXXXXX"
  end
  local dir, msg = native.fs.mkdtemp(base .. "/dbtrun")
  if not dir then
    errors.raise("failure", "cannot create a private folder: %s", msg)
  end
  M.always(function()
    native.fs.rm(dir)
  end)
  return dir
end

-- Cleanup handlers run last-registered first; their errors are reported, and
-- never hide the task's own outcome.
local function run_handlers(frame, t)
  for i = #frame, 1, -1 do
    local ok, err = xpcall(frame[i], debug.traceback)
    if not ok then
      ui.warn(("cleanup handler of task '%s' failed: %s"):format(t.name, tostring(errors.wrap(err))))
    end
  end
end

local function add_context(t)
  return function(err)
    if errors.is(err) or (type(err) == "table" and err.kind) then
      local e = errors.wrap(err)
      e.task = e.task or t.name
      return e
    end
    return errors.new("failure", { message = tostring(err), task = t.name, traceback = debug.traceback(nil, 2) })
  end
end

-- Reading a parameter the task does not declare raises at the reading line,
-- as an undefined global does: a typo must not become a nil argument.
function M.strict_args(t, args)
  return setmetatable(args, {
    __index = function(_, key)
      local names = {}
      for _, p in ipairs(t.params) do
        if p.name == key then
          check.misuse("task '%s': parameter '%s' has no value here", t.name, key)
        end
        names[#names + 1] = p.name
      end
      local has = #names > 0 and ("it has " .. table.concat(names, ", ")) or "it has none"
      check.misuse("task '%s' has no parameter '%s' (%s)", t.name, tostring(key), has)
    end,
  })
end

function M.run_body(t, args)
  local frame, stack = {}, frame_stack()
  stack[#stack + 1] = frame
  ui.debug(1, ("task %s"):format(t.name))
  local p = parallel()
  local leave = p and p.enter(t.name)
  local ok, err = xpcall(t.fn, add_context(t), args)
  stack[#stack] = nil
  run_handlers(frame, t)
  if leave then
    leave()
  end
  if not ok then
    error(err, 0)
  end
end

local function dep_call(dep, owner)
  if type(dep) == "string" then
    return dep, {}
  end
  if type(dep) == "table" and type(dep[1]) == "string" then
    local args = {}
    for i = 2, #dep do
      args[#args + 1] = tostring(dep[i])
    end
    return dep[1], args
  end
  errors.raise("taskfile", "task '%s': a dep is a task name or { name, args... }", owner.name)
end

-- Runs task `name` with command-line words `words`, its deps first. `state`
-- is shared by one invocation: deps run once each (per name and arguments).
function M.invoke(name, words, state)
  local t = tasks.find_or_raise(name)
  local args, err = params.bind(t.params, words)
  if not args then
    errors.raise("usage", "%s\n%s", err, M.usage(t))
  end
  M.strict_args(t, args)
  local key = t.name .. "\0" .. table.concat(words, "\0")
  if state.done[key] then
    return
  end
  local p = parallel()
  local me = p and p.branch()
  while state.running[t.name] do
    -- Running on this line of execution: a cycle; in another parallel
    -- branch: wait for it, so that it still runs once.
    if not p or p.on_path(state.running[t.name], me) then
      errors.raise("taskfile", "dependency cycle through task '%s'", t.name)
    end
    p.wait_until(function()
      return not state.running[t.name]
    end)
    if state.done[key] then
      return
    end
  end
  state.running[t.name] = me or true
  for _, dep in ipairs(t.deps) do
    local dep_name, dep_args = dep_call(dep, t)
    M.invoke(dep_name, dep_args, state)
  end
  if t.parallel then -- after the listed deps, all at once
    local jobs = {}
    for i, dep in ipairs(t.parallel) do
      local dep_name, dep_args = dep_call(dep, t)
      jobs[i] = {
        label = dep_name,
        fn = function()
          M.invoke(dep_name, dep_args, state)
        end,
      }
    end
    require("dbtrun.parallel").run(jobs)
  end
  M.run_body(t, args)
  state.running[t.name] = nil
  state.done[key] = true
end

-- builtin("dev") -> a function(args) running the built-in task's body, for a
-- task file that replaces a built-in and still wants the original.
function M.builtin(name)
  check.arg("builtin", 1, "name", name, "string")
  local t = tasks.find_builtin(name)
  if not t then
    check.misuse("builtin: there is no built-in task '%s'", name)
  end
  return function(args)
    if args ~= nil and type(args) ~= "table" then
      check.opt("builtin('" .. name .. "')", 1, "args", args, "table")
    end
    M.run_body(t, M.strict_args(t, params.defaults(t.params, args or {})))
  end
end

return M
