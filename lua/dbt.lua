-- dbt: how the built-in dbt tasks (tasks/*.lua) run dbt — the executable,
-- the targets, the seed's command lines, each dbt step (folded and reported
-- on GitHub Actions from run_results.json), the CI schema and its clean-up.
-- Moving artifacts is lua/artifacts.lua, the warehouse connection
-- lua/profile.lua, the plan lua/plan.lua (which uses this file, never the
-- other way). Pure helpers are kept apart from the steps that act, so
-- tests/lua/test_dbt.lua checks them without dbt.

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local errors = require("dbtrun.errors")
local github = require("dbtrun.github")
local profile = require("dbtrun.profile")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")
local util = require("dbtrun.util")

local M = {}

local isfile, isdir, blank, head = util.isfile, util.isdir, util.blank, util.head

-- The tasks' settings and their defaults are in lua/config.lua (README:
-- "Built-in tasks").

M.RESULTS = "target/run_results.json"

--- Finding dbt -------------------------------------------------------------

-- Finds dbt: config dbt alone when set (a path, or a name looked up on
-- PATH), else .venv/bin/dbt, venv/bin/dbt, then dbt on PATH. Returns the
-- word to run (a found name stays bare, as the seed's commands show it) and
-- its path; or nil and the places looked at.
function M.find()
  local configured = config.get("dbt")
  local candidates = blank(configured) and { ".venv/bin/dbt", "venv/bin/dbt", "dbt" } or { tostring(configured) }
  local looked = {}
  for _, candidate in ipairs(candidates) do
    if candidate:find("/", 1, true) then
      if isfile(candidate) then
        return candidate, candidate
      end
      looked[#looked + 1] = candidate
    else
      local path = native.env.get("PATH") or ""
      for dir in path:gmatch("[^:]+") do
        if isfile(dir .. "/" .. candidate) then
          return candidate, dir .. "/" .. candidate
        end
      end
      looked[#looked + 1] = ("%s on PATH (%s)"):format(candidate, path)
    end
  end
  return nil, looked
end

-- The dbt executable to run; raises (exit 127, as a shell's "command not
-- found") naming where it looked and how to install dbt. A dry run does not
-- need dbt: there it is "dbt" when not found.
function M.executable()
  local exe, looked = M.find()
  if exe or ui.dry_run then
    return exe or "dbt"
  end
  local configured = config.get("dbt")
  local where = blank(configured) and table.concat(looked, ", ")
    or ("config dbt = %q: %s"):format(tostring(configured), looked[1])
  local known = profile.adapter()
  local adapter = "dbt-" .. (known or "<adapter>")
  error(errors.new("command", { code = 127, message = ("dbt not found: looked for %s\n"
    .. "  install dbt and its adapter in the project's virtualenv: python3 -m venv .venv && "
    .. ".venv/bin/pip install dbt-core %s\n"
    .. "  or with uv: uv add dbt-core %s; or set config dbt to the path of dbt%s"):format(where, adapter,
    adapter, known and "" or "\n  (<adapter>: your warehouse's, e.g. duckdb, postgres, snowflake, bigquery, "
      .. "redshift, databricks)") }), 0)
end

-- The version of the local dbt-core, read from its package metadata next to
-- the interpreter of the dbt script (no `dbt --version`: it takes seconds),
-- else from target/manifest.json. nil when neither says.
function M.local_version()
  local found, exe = M.find()
  exe = found and exe -- not found: the second value is the places looked at
  local python = exe and (head(exe, 512) or ""):match("^#!%s*(/[^%s]+)")
  local root = python and python:match("^(.*)/bin/[^/]+$")
  for _, lib in ipairs(root and native.fs.list(root .. "/lib") or {}) do
    for _, name in ipairs(native.fs.list(root .. "/lib/" .. lib .. "/site-packages") or {}) do
      local v = name:match("^dbt_core%-(.+)%.dist%-info$")
      if v then
        return v
      end
    end
  end
  return ((head("target/manifest.json") or ""):match('"dbt_version":%s*"([^"]+)"'))
end

-- The interpreter of dbt executable `path` when it is dbt-core's Python
-- console script: a first line `#!/abs/path/python...` and the script
-- importing dbt's CLI. Read, never run. nil for anything else (a shell
-- wrapper, `uv run`, the dbt Fusion binary, a shebang through env or with
-- options).
function M.python(path)
  local text = head(path, 512) or ""
  local python = text:match("^#!(/[^%s]+)[ \t]*\r?\n")
  if python and python:match("/python[%d%.]*$") and text:find("from dbt.cli.main import", 1, true) then
    return python
  end
  return nil
end

--- Command lines ---------------------------------------------------------------

-- The words after `dbt` of a build, in the seed's order:
--   build [--target T] [--select S] [--defer --state DIR [--favor-state]]
--         [--fail-fast] [--threads N] [ARGS...]
-- o: target, select, state (folder, deferral), favor_state, fail_fast, threads, args.
function M.build_args(o)
  local w = { "build" }
  local function add(...)
    for _, x in ipairs({ ... }) do
      w[#w + 1] = tostring(x)
    end
  end
  if not blank(o.target) then
    add("--target", o.target)
  end
  if o.select then
    add("--select", o.select)
  end
  if o.state then
    add("--defer", "--state", o.state)
    if o.favor_state then
      add("--favor-state")
    end
  end
  if o.fail_fast then
    add("--fail-fast")
  end
  if not blank(o.threads) then
    add("--threads", o.threads)
  end
  for _, x in ipairs(o.args or {}) do
    add(x)
  end
  return w
end

-- dbt reuses target/partial_parse.msgpack only when the command-line vars,
-- --profile and --target (as given), the profile and the project match the
-- run that wrote it; these flags of a build also decide where it parses.
local PARSE_FLAGS = { ["--vars"] = 1, ["--target"] = 1, ["-t"] = 1, ["--profile"] = 1, ["--profiles-dir"] = 1,
  ["--target-path"] = 1, ["--partial-parse-file-path"] = 1, ["--partial-parse"] = 0, ["--no-partial-parse"] = 0 }

-- The words of a build's ARGS that a `dbt parse` before it must repeat so that
-- the build's own parse is a partial-parse hit on what that parse wrote (and
-- the plan sees what the build will see). Both `--flag value` and
-- `--flag=value` forms.
function M.parse_words(args)
  local out = {}
  local i = 1
  args = args or {}
  while i <= #args do
    local w = tostring(args[i])
    local name = w:match("^(%-%-[%w%-]+)=") or w
    local arity = PARSE_FLAGS[name]
    if arity then
      out[#out + 1] = w
      if arity == 1 and name == w and args[i + 1] ~= nil then
        i = i + 1
        out[#out + 1] = tostring(args[i])
      end
    end
    i = i + 1
  end
  return out
end

-- The value of flag `name` in words (the last one wins, as in dbt), or nil.
function M.flag(words, name)
  local value
  for i, w in ipairs(words) do
    if w == name then
      value = words[i + 1]
    elseif w:sub(1, #name + 1) == name .. "=" then
      value = w:sub(#name + 2)
    end
  end
  return value
end

-- The target named targets.<name> in the config (nil: the profile's default).
function M.target(name)
  local t = config.get("targets." .. name)
  return not blank(t) and tostring(t) or nil
end

-- build_args with the config's favor_state and threads.
function M.build(o)
  o.favor_state = config.get("favor_state")
  o.threads = config.get("threads")
  return M.build_args(o)
end

-- Subcommands that take no --threads (dbt rejects it) and none --target.
local NO_THREADS = { ls = true, list = true, deps = true, debug = true, clean = true, init = true }
local NO_TARGET = { init = true }

local function has_flag(words, long, short)
  for _, w in ipairs(words) do
    if w == long or w:sub(1, #long + 1) == long .. "=" or (short and w == short) then
      return true
    end
  end
  return false
end

-- The words of a task file's dbt{} with the settings the built-in tasks
-- give their builds (dbt.build): --target `target` (nil: the profile's) and
-- config threads, placed after the subcommand's words ("docs generate",
-- "run-operation NAME"); a setting the words already give is left to them.
function M.with_settings(words, target)
  local n = 0
  while words[n + 1] and words[n + 1]:sub(1, 1) ~= "-" do
    n = n + 1
  end
  local cmd = words[1]
  local extra = {}
  if not blank(target) and not NO_TARGET[cmd] and not has_flag(words, "--target", "-t") then
    extra = { "--target", tostring(target) }
  end
  local threads = config.get("threads")
  if not blank(threads) and not NO_THREADS[cmd] and not has_flag(words, "--threads") then
    extra[#extra + 1] = "--threads"
    extra[#extra + 1] = tostring(threads)
  end
  local out = table.move(words, 1, n, 1, {})
  table.move(extra, 1, #extra, n + 1, out)
  return table.move(words, n + 1, #words, #out + 1, out)
end

--- Running dbt ------------------------------------------------------------------

-- run_results.json's invocation id, from its first bytes.
function M.invocation_id(path)
  return ((head(path or M.RESULTS, 2048) or ""):match('"invocation_id":%s*"([^"]+)"'))
end

-- The results of run_results.json: { {id=, name=, kind=, status=, message=,
-- execution_time=, failures=} };
-- nil when missing, unreadable, or still the one of invocation `stale_id`.
function M.read_results(path, stale_id)
  local text = native.fs.read(path or M.RESULTS)
  local doc = text and native.json.decode(text)
  if type(doc) ~= "table" or type(doc.results) ~= "table" then
    return nil
  end
  if stale_id and type(doc.metadata) == "table" and doc.metadata.invocation_id == stale_id then
    return nil
  end
  local out = {}
  for _, r in ipairs(doc.results) do
    local id = type(r.unique_id) == "string" and r.unique_id or "?"
    local kind, name = id:match("^([^.]+)%.[^.]+%.(.+)$")
    if kind == "test" then -- generic tests end in a hash: test.pkg.not_null_x_id.f79facb348
      name = name:gsub("%.%x%x%x%x%x%x%x%x%x%x$", "")
    end
    out[#out + 1] = {
      id = id,
      name = name or id,
      kind = kind or "node",
      status = tostring(r.status),
      message = type(r.message) == "string" and r.message or nil,
      execution_time = tonumber(r.execution_time),
      failures = type(r.failures) == "number" and math.tointeger(r.failures) or nil,
    }
  end
  return out
end

-- Before `dbt WORDS...`: the executable (raises when there is none) and,
-- but for `dbt deps`, whether dbt will find the project's profile (raises
-- when it will not), so that neither ends as dbt's own less helpful error.
function M.ready(words)
  local exe = M.executable()
  if words[1] ~= "deps" and not ui.dry_run then
    profile.check(words)
  end
  return exe
end

-- Whether a step's run_results.json is reported (opts.results, on GitHub
-- Actions or with a step summary to write; never in a dry run).
local function wants_results(opts)
  return opts.results and not ui.dry_run and (github.active() or not blank(native.env.get("GITHUB_STEP_SUMMARY")))
end

-- The end of a dbt step that ran: with `want`, run_results.json of this
-- invocation (not `before`'s) becomes the job summary's section; an error
-- without results is annotated, then raised.
local function finish(title, want, before, err)
  local results = want and not (err and err.kind == "interrupt") and M.read_results(M.RESULTS, before)
  if results then
    github.report(title, results)
  end
  if err then
    if not results and err.kind ~= "interrupt" then
      github.annotate("error", tostring(err), { title = title .. " failed" })
    end
    error(err, 0)
  end
end

-- Runs `dbt WORDS...` as one step of a task: folded in a ::group:: on GitHub
-- Actions; with opts.results, run_results.json becomes annotations and a
-- job-summary section. opts: check (default true), results, env.
-- Returns dbt's exit code; a failure raises (check) with dbt's exit code.
function M.step(title, words, opts)
  opts = opts or {}
  local want = wants_results(opts)
  local before = want and M.invocation_id()
  local ready, exe = pcall(M.ready, words)
  if not ready then
    local err = errors.wrap(exe)
    github.annotate("error", tostring(err), { title = title .. " failed" })
    error(err, 0)
  end
  local ok, code = github.group(title, pcall, run.run, { exe, words, env = opts.env, check = opts.check })
  finish(title, want, before, not ok and errors.wrap(code) or nil)
  return code
end

-- Whether dev's parse and build can be one dbt process (M.fused_step):
-- config one_process, dbt-core's Python script, not a dry run nor a branch
-- of parallel deps. Returns its interpreter, or nil.
function M.fusable()
  local parallel = package.loaded["dbtrun.parallel"] -- loaded by parallel deps only
  if not config.get("one_process") or ui.dry_run or (parallel and parallel.branch()) then
    return nil
  end
  local _, path = M.find()
  return path and M.python(path) or nil
end

-- dbt's command-line error for a step's exit code, as run{} raises it.
local function failed(code, line, where)
  return errors.new("command", { code = code, command = line, where = where,
    message = ("%scommand failed with exit code %d: %s"):format(where and (where .. ": ") or "", code, line) })
end

-- The one-process dbt's run: the driver (lua/dbt_driver.lua) under the
-- dbt script's interpreter, its control channel answered by `control`.
-- Returns dbt's code, or raises as run{} does (could not start, interrupt).
local function run_driver(python, line, control)
  local started = native.term.clock()
  local code, out, signal = native.proc.run({ python, "-c", require("dbtrun.dbt_driver") }, { control = control })
  ui.debug(1, ("  exit %s after %.3fs"):format(tostring(code or out), native.term.clock() - started))
  if code == nil then
    error(errors.new("command", { code = signal, command = line, message = out }), 0)
  end
  if signal then
    error(errors.interrupt(signal), 0)
  end
  return code
end

-- dev's `dbt parse` (words `parse`) and the step `dbt build` (words `build`)
-- in one dbt process (dbt's Python API: the build on the parsed manifest,
-- without a second start-up and parse). on_parsed(code) runs once the parse
-- wrote the manifest (code: its exit code, dbt's CLI's) and returns whether
-- to build; an error it raises stops the process before the build and is
-- raised again. opts.note: a line said first, once the one process goes
-- ahead. Echoes, the ::group:: and opts.results as dbt.step. Returns
-- dbt's exit code (a failure raises, with it), or nil when the driver ended
-- before the parse did (then nothing ran: the caller runs the two steps).
function M.fused_step(title, parse, build, opts, on_parsed)
  local python = M.fusable()
  local exe = python and M.find()
  if not exe or not pcall(M.ready, parse) or not pcall(M.ready, build) then
    return nil
  end
  local want = wants_results(opts)
  local before = want and M.invocation_id()
  local line = run.describe(table.move(build, 1, #build, 2, { exe }), {})
  local heard, built, raised = false, false, nil
  local function control(msg)
    if msg == "hello" then
      return native.json.encode({ argv0 = exe, parse = parse, build = build })
    end
    local code = math.tointeger(tonumber(msg:match("^parsed (%d+)$")))
    if not code or heard then
      return nil
    end
    heard = true
    local ok, go = pcall(on_parsed, code)
    if not ok or not go then
      raised = not ok and go or nil
      return "stop"
    end
    ui.command(line)
    github.group_open(title)
    built = true
    return "go"
  end
  if opts.note then
    ui.info(opts.note)
  end
  ui.command(run.describe(table.move(parse, 1, #parse, 2, { exe }), {}))
  local ok, code = pcall(run_driver, python, line, control)
  if built then
    github.group_close()
  end
  local err = (raised and errors.wrap(raised)) or (not ok and errors.wrap(code)) or nil
  if not err and not heard then
    ui.warn(("dbt's one-process run (%s) ended with exit code %d before its parse did: running dbt parse and "
      .. "dbt build apart (--set one_process=false does that always)"):format(python, code))
    return nil
  end
  if not err and built and code ~= 0 then
    err = failed(code, line, errors.where())
  end
  if built then
    finish(title, want, before, err)
  elseif err then
    error(err, 0)
  end
  return code
end

-- `dbt deps` when the project has packages (packages.yml or
-- dependencies.yml); with only_missing, only when they are not installed.
function M.deps(only_missing)
  if not (isfile("packages.yml") or isfile("dependencies.yml")) then
    return
  end
  if only_missing and isdir(M.packages_dir()) then
    return
  end
  M.step("dbt deps", { "deps" })
end

local function project_text()
  return native.fs.read("dbt_project.yml") or ""
end

-- Where dbt installs packages (packages-install-path, default dbt_packages).
function M.packages_dir(text)
  local p = (text or project_text()):match("\n%s*packages%-install%-path%s*:%s*[\"']?([^\"'\n#]-)[\"']?%s*\n")
  return not blank(p) and p or "dbt_packages"
end

function M.has_evaluator()
  return isdir(M.packages_dir() .. "/dbt_project_evaluator")
end

--- The CI schema --------------------------------------------------------------------

-- The CI schema of pull request `pr` from the pattern (config ci.schema).
function M.ci_schema(pattern, pr)
  local schema = tostring(pattern):gsub("{pr}", tostring(pr))
  if not schema:match("^[%a_][%w_]*$") then
    errors.raise("usage", "ci.schema: %q gives %q, not a plain schema name", tostring(pattern), schema)
  end
  return schema
end

-- The pull request number, or a clear failure.
function M.ci_pr()
  local pr = github.pull_request()
  if not pr then
    errors.raise("usage", "ci: no pull request number: run on a pull_request event (GITHUB_EVENT_PATH) "
      .. "or pass --set pr=N")
  end
  return math.tointeger(pr) or pr
end

-- Whether the schema `name` belongs to the CI schema `prefix`: the schema
-- itself or one of its custom schemas (prefix_...), so CI_PR_1 never takes
-- CI_PR_12 with it. Case-insensitive, as warehouses fold names.
function M.schema_matches(name, prefix)
  name, prefix = name:lower(), prefix:lower()
  return name == prefix or name:sub(1, #prefix + 1) == prefix .. "_"
end

-- {schema -> database (false: null)} of a manifest's nodes under the CI schema.
function M.manifest_schemas(text, prefix)
  local found = {}
  for database, schema in text:gmatch('"database":%s*"?([^",]*)"?,%s*"schema":%s*"([^"]+)"') do
    if M.schema_matches(schema, prefix) then
      found[schema] = database ~= "null" and database ~= "" and database or false
    end
  end
  return found
end

-- Whether a macro of that name is defined in the project's macro paths.
function M.has_macro(name)
  local text = project_text()
  local dirs = {}
  for dir in ((text:match("\n%s*macro%-paths%s*:%s*(%b[])")) or ""):gmatch("[\"']([^\"']+)[\"']") do
    dirs[#dirs + 1] = dir
  end
  if #dirs == 0 then
    dirs = { "macros" }
  end
  local pattern = "macro%s+" .. name .. "%s*%("
  local function scan(dir, depth)
    for _, entry in ipairs(native.fs.list(dir) or {}) do
      local path = dir .. "/" .. entry
      local kind = native.fs.stat(path)
      if kind == "dir" and depth < 8 then
        if scan(path, depth + 1) then
          return true
        end
      elseif kind == "file" and entry:match("%.sql$") and (native.fs.read(path) or ""):find(pattern) then
        return true
      end
    end
    return false
  end
  for _, dir in ipairs(dirs) do
    if scan(dir, 0) then
      return true
    end
  end
  return false
end

-- One clean-up run-operation. A failure does not fail ci (the seed's
-- clean-up step is continue-on-error) but is never silent: a warning on
-- stderr and, on GitHub Actions, a ::warning annotation naming the schemas
-- left in the warehouse.
local function drop_step(title, words, what)
  local code = M.step(title, words, { check = false })
  if code ~= 0 and not ui.dry_run then
    local note = ("%s exited %d: %s may be left in the warehouse (drop it by hand)"):format(title, code, what)
    ui.warn(note)
    github.annotate("warning", note, { title = "CI schema clean-up" })
  end
  return code == 0
end

-- Drops the CI schema and every schema it prefixes through the project's
-- macros: drop_ci_schemas(prefix) finds them with the adapter's API and
-- drops each (dbtrun init writes it); without it, the project's drop_schema
-- for each schema target/manifest.json puts under the prefix. Returns
-- whether every drop succeeded (a failure is a warning, never raised).
function M.drop_ci_schemas(schema, target)
  local database = config.get("ci.database")
  -- --no-write-json: run_results.json stays the build's, for the user and the summary
  local tail = { target and { "--target", target } or {}, "--no-write-json" }
  if M.has_macro("drop_ci_schemas") then
    local args = native.json.encode({ prefix = schema, database_name = not blank(database) and database or nil })
    return drop_step("drop " .. schema .. "*", { "run-operation", "drop_ci_schemas", "--args", args, tail },
      ("schema %s or one of %s_*"):format(schema, schema))
  end
  ui.warn("no drop_ci_schemas macro in the project (dbtrun init writes it): dropping the schemas "
    .. "target/manifest.json names, one dbt run-operation drop_schema each")
  local found = M.manifest_schemas(native.fs.read("target/manifest.json") or "", schema)
  found[schema] = found[schema] or false
  local names = {}
  for name in pairs(found) do
    names[#names + 1] = name
  end
  table.sort(names)
  local ok = true
  for _, name in ipairs(names) do
    local db = not blank(database) and database or found[name] or nil
    local args = native.json.encode({ schema_name = name, database_name = db })
    ok = drop_step("drop " .. name, { "run-operation", "drop_schema", "--args", args, tail }, "schema " .. name) and ok
  end
  return ok
end

return M
