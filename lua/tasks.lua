-- tasks: the task registry — task() declarations, doc comments, aliases,
-- built-ins that a task file may replace, and the check that every dep
-- exists. Running tasks (deps once per invocation, always() handlers,
-- private folders) is lua/taskrun.lua, loaded when a task runs: its
-- functions are read through this module (tasks.invoke, tasks.always, ...),
-- so --list and --usage never load it.

local errors = require("dbtrun.errors")
local where = require("dbtrun.native").where
local is_name = require("dbtrun.native").is_task_name -- "^[%w_][%w_%-]*$", in C
local params = require("dbtrun.params")

local M = {}

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

-- The built-in task `name` (not a task file's replacement of it), or nil.
function M.find_builtin(name)
  return builtins[name]
end

-- tasks.invoke, .always, .private_dir, .builtin, .strict_args, .run_body,
-- .check_words, .usage: from lua/taskrun.lua, loaded on the first read.
return setmetatable(M, {
  __index = function(_, key)
    local v = require("dbtrun.taskrun")[key]
    M[key] = v
    return v
  end,
})
