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
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")

local M = {}

-- The tasks' settings and their defaults are in lua/config.lua (README:
-- "Built-in tasks").

M.RESULTS = "target/run_results.json"

local function isfile(path)
  return native.fs.stat(path) == "file"
end

local function isdir(path)
  return native.fs.stat(path) == "dir"
end

local function blank(v)
  return v == nil or v == false or v == ""
end

local function head(path, bytes)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read(bytes or 4096)
  f:close()
  return text
end

--- Finding dbt -------------------------------------------------------------

-- The dbt executable: config.dbt, else the project's .venv, else PATH.
function M.executable()
  if config.get("dbt") then
    return config.get("dbt")
  end
  for _, candidate in ipairs({ ".venv/bin/dbt", "venv/bin/dbt" }) do
    if isfile(candidate) then
      return candidate
    end
  end
  return "dbt"
end

-- The version of the local dbt-core, read from its package metadata next to
-- the interpreter of the dbt script (no `dbt --version`: it takes seconds),
-- else from target/manifest.json. nil when neither says.
function M.local_version()
  local exe = M.executable()
  if not exe:find("/", 1, true) then
    for dir in (native.env.get("PATH") or ""):gmatch("[^:]+") do
      if isfile(dir .. "/" .. exe) then
        exe = dir .. "/" .. exe
        break
      end
    end
  end
  local python = (head(exe, 512) or ""):match("^#!%s*(/[^%s]+)")
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

--- Running dbt ------------------------------------------------------------------

-- run_results.json's invocation id, from its first bytes.
function M.invocation_id(path)
  return ((head(path or M.RESULTS, 2048) or ""):match('"invocation_id":%s*"([^"]+)"'))
end

-- The results of run_results.json: { {id=, name=, kind=, status=, message=} };
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
    }
  end
  return out
end

-- Runs `dbt WORDS...` as one step of a task: folded in a ::group:: on GitHub
-- Actions; with opts.results, run_results.json becomes annotations and a
-- job-summary section. opts: check (default true), results, env.
-- Returns dbt's exit code; a failure raises (check) with dbt's exit code.
function M.step(title, words, opts)
  opts = opts or {}
  local want = opts.results and not ui.dry_run
    and (github.active() or not blank(native.env.get("GITHUB_STEP_SUMMARY")))
  local before = want and M.invocation_id()
  local ok, code = github.group(title, pcall, run.run, { M.executable(), words, env = opts.env, check = opts.check })
  local err = not ok and errors.wrap(code) or nil
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
end

-- Drops the CI schema and every schema it prefixes through the project's
-- macros: drop_ci_schemas(prefix) finds them with the adapter's API and
-- drops each (dbtrun init writes it); without it, the project's drop_schema
-- for each schema target/manifest.json puts under the prefix.
function M.drop_ci_schemas(schema, target)
  local database = config.get("ci.database")
  -- --no-write-json: run_results.json stays the build's, for the user and the summary
  local tail = { target and { "--target", target } or {}, "--no-write-json" }
  if M.has_macro("drop_ci_schemas") then
    local args = native.json.encode({ prefix = schema, database_name = not blank(database) and database or nil })
    drop_step("drop " .. schema .. "*", { "run-operation", "drop_ci_schemas", "--args", args, tail },
      ("schema %s or one of %s_*"):format(schema, schema))
    return
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
  for _, name in ipairs(names) do
    local db = not blank(database) and database or found[name] or nil
    local args = native.json.encode({ schema_name = name, database_name = db })
    drop_step("drop " .. name, { "run-operation", "drop_schema", "--args", args, tail }, "schema " .. name)
  end
end

return M
