-- main: one dbtrun run, called by host.c with the embedded built-in task
-- sources and the parsed command line. Finds and loads the task file, then
-- lists, completes or runs. Returns the exit status.

local native = require("dbtrun.native")
local errors = require("dbtrun.errors")
local ui = require("dbtrun.ui")

-- The rest of the library, loaded by load_library() unless the --list text
-- comes from the cache (main, below).
local api, config, tasks
local function load_library()
  api = require("dbtrun.api")
  config = require("dbtrun.config")
  tasks = require("dbtrun.tasks")
end

local TASK_FILE = "dbtrun.lua"

-- The task file compiled: from .dbtrun/cache/ when an earlier run left it
-- there (native.cache checks versions, chunk name and text; then `true`
-- follows the chunk), else from the text, keeping the bytecode and doc
-- comments there for the next run (unless `dry`: a dry run writes nothing).
-- A cache that cannot be written (a read-only folder) is no error.
local function compile(text, chunkname, env, dry)
  local bytecode, docs = native.cache.load(text, chunkname)
  local chunk = bytecode and load(bytecode, chunkname, "b", env)
  if chunk then
    tasks.add_source(chunkname, text, docs)
    return chunk, nil, true
  end
  tasks.add_source(chunkname, text)
  local msg
  chunk, msg = load(text, chunkname, "t", env)
  if chunk and not dry then
    native.cache.store(text, chunkname, string.dump(chunk), tasks.docs_text(chunkname))
  end
  return chunk, msg
end

-- Loads the task file (its text) as chunk `chunkname` and runs its top
-- level. Any error here is a task-file error (exit 2). Returns true when
-- that top level read nothing that can change between runs (task, config{},
-- string, table, pairs, ...: api.outside_reads), so that its tasks, and its
-- --list, follow from its text alone; false on the first run after an edit
-- (it was compiled): a file being edited would pay for keeping a --list text
-- each time, and the next run keeps it.
local function load_task_file(text, chunkname, dry)
  local chunk, msg, cached = compile(text, chunkname, api.environment(false), dry)
  if not chunk then
    errors.raise("taskfile", "%s", msg)
  end
  local reads = api.outside_reads()
  local ok, err = xpcall(chunk, function(e)
    return errors.wrap(e, "taskfile")
  end)
  if not ok then
    if err.kind == "failure" then
      err.kind = "taskfile"
    end
    error(err, 0)
  end
  return cached and api.outside_reads() == reads
end

-- The built-in tasks, from the table tools/embed.c builds at compile time
-- (dbtrun.builtin_tasks): a start registers them without running their
-- files; a file's bytecode is loaded when one of its tasks first runs.
local function load_builtins(sources)
  local bodies = {} -- file -> name -> function, once the file has run
  local function body(file, name)
    if not bodies[file] then
      local found, env = {}, api.environment(true)
      local shim = setmetatable({
        task = function(n, spec, fn)
          found[n] = fn or spec
        end,
      }, { __index = env, __newindex = env })
      assert(load(sources[file], "@(dbtrun)/" .. file, "b", shim))()
      bodies[file] = found
    end
    return bodies[file][name]
  end
  for _, r in ipairs(require("dbtrun.builtin_tasks")) do
    local fn
    tasks.declare(r.name, r.spec, function(...)
      fn = fn or body(r.file, r.name)
      return fn(...)
    end, true, { source = "@(dbtrun)/" .. r.file, currentline = r.line })
  end
end

local function chdir(dir, why)
  local ok, msg = native.fs.chdir(dir)
  if not ok then
    errors.raise("usage", "%s: %s", why, msg)
  end
end

-- Finds the task file (-f, or upward from the current folder), makes its
-- folder the working directory, and returns the name errors should show.
local function locate_task_file(opts)
  local start = native.fs.cwd()
  if opts.file then
    if not native.fs.stat(opts.file) then
      errors.raise("usage", "task file not found: %s", opts.file)
    end
    local dir = opts.file:match("^(.*)/[^/]*$")
    if dir and dir ~= "" then
      chdir(dir, "cannot enter the task file's folder")
    end
    return native.fs.cwd() .. "/" .. opts.file:match("[^/]*$"), opts.file
  end
  local dir = native.fs.find_upward(start, TASK_FILE)
  if not dir then
    return nil
  end
  chdir(dir, "cannot enter the task file's folder")
  local display = dir == start and TASK_FILE or (dir .. "/" .. TASK_FILE)
  return dir .. "/" .. TASK_FILE, display
end

local function apply_overrides(opts)
  config.load_environment()
  for _, kv in ipairs(opts.sets) do
    local key, value = kv:match("^([^=]*)=(.*)$")
    local ok, msg = config.override(key, value, true)
    if not ok then
      errors.raise("usage", "--set %s: %s", kv, msg)
    end
  end
end

-- --script FILE [ARGS]: runs a Lua file with the whole library loaded and
-- returns its numeric result (0 when it returns nothing). For tests.
local function run_script(path, args)
  local dir = path:match("^(.*)/[^/]*$") or "."
  package.path = dir .. "/?.lua;" .. package.path
  local chunk, msg = loadfile(path)
  if not chunk then
    errors.raise("taskfile", "%s", msg)
  end
  local result = chunk(table.unpack(args))
  return math.tointeger(result) or 0
end

-- --complete -- WORD...: what completes the last word of a command line
-- (completions.lua), honouring its -C and -f. Tab must never print an error:
-- a task file that fails to load only loses its own tasks.
local function complete(builtin_sources, opts)
  local completions = require("dbtrun.completions")
  local line = completions.parse({ opts.task, table.unpack(opts.args) })
  if line.directory and not native.fs.chdir(line.directory) then
    io.stdout:write("words\n")
    return 0
  end
  load_builtins(builtin_sources)
  pcall(function()
    local path, display = locate_task_file({ file = line.file })
    if path then
      load_task_file(assert(native.fs.read(path)), "@" .. display, true) -- Tab writes nothing
    end
    apply_overrides({ sets = {} })
  end)
  io.stdout:write(completions.complete(line))
  return 0
end

-- The dotenv file of a task run: --dotenv (relative to where dbtrun started,
-- so it must be found before the task file's folder becomes the working
-- directory; missing is an error) or config.dotenv (relative to the task
-- file; missing is skipped). Returns the function that loads it.
local function dotenv_loader(opts)
  if opts.dotenv then
    local path = opts.dotenv:sub(1, 1) == "/" and opts.dotenv or (native.fs.cwd() .. "/" .. opts.dotenv)
    return function()
      require("dbtrun.dotenv").load(path, opts.dotenv, true)
    end
  end
  return function()
    local file = config.get("dotenv")
    if file then
      if type(file) ~= "string" then
        errors.raise("taskfile", "config.dotenv must be a file name, got %s", type(file))
      end
      require("dbtrun.dotenv").load(file, file, false)
    end
  end
end

-- Restarts the collector that host.c stops while loading. Restarted plainly,
-- it would begin a cycle at once and mark everything loading made (4% of a
-- trivial task's instructions); instead its first cycle waits until the
-- heap has doubled, as Lua's default pause does between cycles (a negative
-- step takes that many KiB off the collector's debt).
local function restart_collector()
  collectgarbage("restart")
  collectgarbage("step", -math.floor(collectgarbage("count")))
end

-- Whether this run's --list text may come from .dbtrun/cache/, and be kept
-- there: a plain --list (not --json, --summary or --usage), without --set
-- and without colour. The text is kept only for a task file whose top level
-- reads nothing that can change between runs (load_task_file), keyed by its
-- text and name and by dbtrun's build (src/lua/l_cache.c), so it is the
-- text this run would make.
local function listing_kept(opts)
  return (opts.list or not opts.task) and not (opts.script or opts.complete or opts.completions
    or opts.usage or opts.summary or opts.json) and #opts.sets == 0 and not ui.color
end

local function main(builtin_sources, opts)
  if opts.directory then
    chdir(opts.directory, "-C")
  end
  local load_dotenv = dotenv_loader(opts)
  local keep = listing_kept(opts)
  local path, display, text
  if keep then
    path, display = locate_task_file(opts)
    text = path and native.fs.read(path)
    local listing = text and native.cache.load_listing(text, "@" .. display)
    if listing then
      io.stdout:write(listing)
      return 0
    end
  end
  load_library()
  if opts.script then
    restart_collector()
    -- the command line parser took the first word after FILE for a task name
    local args = { table.unpack(opts.args) }
    if opts.task then
      table.insert(args, 1, opts.task)
    end
    return run_script(opts.script, args)
  end
  if opts.complete then
    return complete(builtin_sources, opts)
  end
  if opts.completions then
    local script = require("dbtrun.completions").script(opts.completions)
    if not script then
      errors.raise("usage", "--completions takes bash, zsh or fish, not '%s'", opts.completions)
    end
    io.stdout:write(script)
    return 0
  end
  load_builtins(builtin_sources)
  if not keep then
    path, display = locate_task_file(opts)
  end
  local fixed = false -- its tasks follow from its text (load_task_file)
  if path then
    local msg
    if not text then
      text, msg = native.fs.read(path)
    end
    if not text then
      errors.raise("usage", "cannot read the task file: %s", msg)
    end
    fixed = load_task_file(text, "@" .. display, opts.dry_run)
  end
  tasks.check_deps()
  local list = (opts.summary or opts.json or opts.list or not opts.task) and require("dbtrun.list")
  if not list then
    load_dotenv() -- before the overrides: DBTRUN_<KEY> lines in it are settings too
  end
  apply_overrides(opts)
  if opts.usage then
    io.stdout:write(require("dbtrun.usage").text(tasks.find_or_raise(opts.usage)))
  elseif opts.summary then
    io.stdout:write(list.summary())
  elseif opts.json then
    io.stdout:write(list.json())
  elseif opts.list or not opts.task then
    local listing = list.text()
    io.stdout:write(listing)
    if keep and fixed and not opts.dry_run then
      native.cache.store_listing(text, "@" .. display, listing) -- a folder dbtrun cannot write is no error
    end
  else
    restart_collector()
    tasks.check_words(tasks.find_or_raise(opts.task), opts.args)
    tasks.invoke(opts.task, opts.args, { done = {}, running = {} })
  end
  return 0
end

local function report(err)
  local text = tostring(err)
  -- a task-file mistake already names its file:line
  if err.task and err.kind ~= "usage" and err.kind ~= "interrupt" and err.kind ~= "taskfile" then
    text = ("task '%s' failed: %s"):format(err.task, text)
  end
  ui.error(text)
  if err.traceback and ui.verbose > 0 then
    io.stderr:write(err.traceback, "\n")
  end
end

return function(builtin_sources, opts)
  require("dbtrun.stdio").install() -- before anything is written
  ui.setup(opts)
  local ok, result = xpcall(main, errors.wrap, builtin_sources, opts)
  local signal = native.proc.last_signal()
  if ok and signal == 0 then
    return result
  end
  local err = ok and errors.interrupt(signal) or result
  if signal ~= 0 and err.kind ~= "interrupt" then
    err = errors.interrupt(signal) -- a signal outranks the failure it caused
  end
  report(err)
  return errors.exit_code(err)
end
