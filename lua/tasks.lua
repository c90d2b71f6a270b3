-- tasks: the task registry and its execution — task() declarations, doc
-- comments, aliases, built-ins that a task file may replace, deps that run
-- once per invocation, always() cleanup handlers, and the private folders
-- that live as long as a task.

local native = require("dbtrun.native")
-- lua/check.lua is loaded on the first misuse only: the fast paths below
-- test the type inline, and reaching `check` means a message is needed.
local check = setmetatable({}, {
  __index = function(_, k)
    return require("dbtrun.check")[k]
  end,
})
local errors = require("dbtrun.errors")
local where = require("dbtrun.native").where
local function is_name(s)
  return s:find("^[%w_][%w_%-]*$")
end
local params = require("dbtrun.params")
local ui = require("dbtrun.ui")

local M = {}

-- lua/parallel.lua, once a task with parallel deps has loaded it: before
-- that nothing runs in a branch, and --list never pays for it.
local function parallel()
  return package.loaded["dbtrun.parallel"]
end

local registry = {} -- name -> task, the one each name resolves to
local builtins = {} -- name -> the built-in task of that name
local aliases = {} -- alias -> task name
local sources = {} -- chunk source ("@path") -> array of lines
local defined_in_file = {} -- source -> name -> true: duplicates are errors

local spec_keys = { doc = true, params = true, deps = true, private = true, alias = true, group = true }

-- Remembers a task file's text so that doc comments can be read from it;
-- `docs` (M.docs_text's, kept by the bytecode cache) spares reading the text.
function M.add_source(chunkname, text, docs)
  sources[chunkname] = { text = text, docs = docs }
end

-- Start offsets of the lines of a source, computed on first use.
local function line_starts(src)
  if not src.starts then
    local starts, pos = { 1 }, 1
    while true do
      local nl = src.text:find("\n", pos, true)
      if not nl then
        break
      end
      pos = nl + 1
      starts[#starts + 1] = pos
    end
    src.starts = starts
  end
  return src.starts
end

-- The "-- ..." lines directly above `line`, joined.
local function doc_comment(source, line)
  local src = sources[source]
  if not src then
    return nil
  elseif src.docs then
    -- a plain search for "\nLINE " in the cached "LINE DOC\n" lines: no
    -- pattern, and only the docs asked for are cut out
    if not src.lines then
      src.lines = "\n" .. src.docs
    end
    local key = "\n" .. line .. " "
    local at = src.lines:find(key, 1, true)
    if not at then
      return nil
    end
    at = at + #key
    return src.lines:sub(at, src.lines:find("\n", at, true) - 1)
  end
  local starts, doc = line_starts(src), {}
  for i = line - 1, 1, -1 do
    local text = src.text:sub(starts[i], starts[i + 1] - 2)
    local body = text:match("^%s*%-%-+ ?(.*)$")
    if not body or text:find("^%s*%-%-%[") then
      break
    end
    table.insert(doc, 1, (body:gsub("%s+$", "")))
  end
  return #doc > 0 and table.concat(doc, " ") or nil
end

-- Every doc comment of a source as "LINE DOC\n" lines, LINE the line it
-- documents (any line below comment lines that can hold code: not a "--"
-- line, though "--[[ ]] task(...)" is one): what the bytecode cache keeps,
-- whichever task() calls a run reaches.
function M.docs_text(source)
  local src, out = sources[source], {}
  local starts, text = line_starts(src), src.text
  for line = 2, #starts do
    local at = starts[line]
    local comment = text:find("^[ \t]*%-%-", at) and not text:find("^[ \t]*%-%-%[", at)
    local doc = not comment and doc_comment(source, line)
    if doc then
      out[#out + 1] = line .. " " .. doc .. "\n"
    end
  end
  return table.concat(out)
end

local none = {} -- the deps, aliases or params of a task that has none: shared, never written

local function as_list(v)
  if v == nil then
    return none
  end
  return type(v) == "table" and v or { v }
end

-- task(name, [spec,] fn): declares a task. Raised errors name the caller's line,
-- or `at` ({ source =, currentline = }) for a built-in from the compile-time table.
-- This runs for every task at every start: a spec-less task reads no spec,
-- and a task without deps, aliases or params shares `none`.
local no_spec = {} -- task(name, fn): declare only reads the spec

local function check_spec(name, spec)
  for k in pairs(spec) do
    if not spec_keys[k] then
      error(("task '%s': unknown option '%s'"):format(name, tostring(k)), 4)
    end
  end
  if type(spec.deps) == "table" then
    for k in pairs(spec.deps) do
      if math.type(k) ~= "integer" and k ~= "parallel" then
        error(("task '%s': deps: unknown key '%s' (a list of task names, and parallel = { ... })"):format(name,
          tostring(k)), 4)
      end
    end
  end
  if spec.params == nil then
    return none
  end
  local plist, perr = params.parse(spec.params)
  if not plist then
    error(("task '%s': %s"):format(name, perr), 4)
  end
  return plist
end

function M.declare(name, spec, fn, is_builtin, at)
  if fn == nil and type(spec) == "function" then
    spec, fn = no_spec, spec
  end
  if type(name) ~= "string" or not is_name(name) then
    error(("task: invalid task name %s"):format(tostring(name)), 3)
  end
  if type(spec) ~= "table" or type(fn) ~= "function" then
    error(("task '%s': expected task(name, {options}, function(a) ... end)"):format(name), 3)
  end
  local plist = spec == no_spec and none or check_spec(name, spec)
  local source, line
  if at then
    source, line = at.source, at.currentline
  else
    source, line = where(3) -- debug.getinfo(3, "Sl") without its table
  end
  local defined = defined_in_file[source]
  if not defined then
    defined = {}
    defined_in_file[source] = defined
  elseif defined[name] then
    error(("task '%s' is defined twice in this file"):format(name), 3)
  end
  defined[name] = true
  local t
  if spec == no_spec then
    t = { name = name, fn = fn, params = none, deps = none, source = source, line = line,
      private = name:byte(1) == 95, aliases = none, builtin = is_builtin or false }
  else
    local deps = spec.deps
    t = {
      name = name,
      fn = fn,
      params = plist,
      deps = as_list(deps),
      parallel = type(deps) == "table" and deps.parallel ~= nil and as_list(deps.parallel) or nil,
      doc = spec.doc, -- else read from the comment above, when first asked (M.doc)
      source = source,
      line = line,
      private = spec.private or name:byte(1) == 95, -- "_"
      aliases = as_list(spec.alias),
      group = spec.group,
      builtin = is_builtin or false,
    }
  end
  if is_builtin then
    builtins[name] = t
  end
  registry[name] = t
  if t.aliases ~= none then
    for _, alias in ipairs(t.aliases) do
      if registry[alias] and registry[alias].name ~= name then
        error(("task '%s': alias '%s' is already a task name"):format(name, alias), 3)
      end
      aliases[alias] = name
    end
  end
  return t
end

-- The task's doc: `doc =`, or the comment lines directly above its task() call.
function M.doc(t)
  if t.doc == nil then
    t.doc = doc_comment(t.source, t.line) or false
  end
  return t.doc or nil
end

function M.find(name)
  return registry[name] or (aliases[name] and registry[aliases[name]])
end

-- The task `name`, or a usage error with a "did you mean".
function M.find_or_raise(name)
  local t = M.find(name)
  if not t then
    local hint = M.suggest(name)
    errors.raise("usage", "no task named '%s'%s", name, hint and (". Did you mean '" .. hint .. "'?") or "")
  end
  return t
end

-- Public tasks in name order. (Names sort with the built-in comparison: a
-- Lua comparator costs a call per comparison, at every --list.)
function M.list(include_private)
  local out = {}
  for name, t in pairs(registry) do
    if include_private or not t.private then
      out[#out + 1] = name
    end
  end
  table.sort(out)
  for i, name in ipairs(out) do
    out[i] = registry[name]
  end
  return out
end

-- The task name or alias closest to `name`, for "did you mean".
function M.suggest(name, include_private)
  local names = {}
  for _, t in ipairs(M.list(include_private)) do
    names[#names + 1] = t.name
    table.move(t.aliases, 1, #t.aliases, #names + 1, names)
  end
  return require("dbtrun.strict").closest(name, names)
end

-- Every dep names a task that exists: checked once the task files are
-- loaded (also for --list), so a typo fails before anything runs. Walks the
-- registry unsorted (this runs on every start); the first task by name is
-- reported when several are wrong.
function M.check_deps()
  local bad
  local function check(t, list)
    for _, dep in ipairs(list) do
      local name = type(dep) == "table" and dep[1] or dep
      if (type(name) ~= "string" or not M.find(name)) and (not bad or t.name < bad.task.name) then
        bad = { task = t, name = name }
      end
    end
  end
  for _, t in pairs(registry) do
    check(t, t.deps)
    check(t, t.parallel or {})
  end
  if not bad then
    return
  end
  local t, name = bad.task, bad.name
  local at = t.source:sub(2) .. ":" .. t.line -- the task() call's file:line
  if type(name) ~= "string" then
    errors.raise("taskfile", "%s: task '%s': a dep is a task name or { name, args... }", at, t.name)
  end
  local hint = M.suggest(name, true)
  errors.raise("taskfile", "%s: task '%s' depends on '%s', which is not a task%s", at, t.name, name,
    hint and (". Did you mean '" .. hint .. "'?") or "")
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
  local t = M.find_or_raise(name)
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
  local t = builtins[name]
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
