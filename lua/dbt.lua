-- dbt: how the built-in dbt tasks (tasks/*.lua) run dbt — the executable,
-- the seed's command lines, the production manifest, the warehouse
-- connection of ci/deploy/docs (secrets, key file, profile template), the CI
-- schema and its clean-up, docs publishing. Pure helpers are kept apart from
-- the steps that act, so tests/lua/test_dbt.lua checks them without dbt.

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local errors = require("dbtrun.errors")
local run = require("dbtrun.run")
local tasks = require("dbtrun.tasks")
local ui = require("dbtrun.ui")

local M = {}

-- The tasks' settings and their defaults are in lua/config.lua (README:
-- "Built-in tasks").

M.RESULTS = "target/run_results.json"
M.MANIFEST_SCHEMA_MAX = 12 -- the newest manifest schema (v12) this file knows

M.DOCS_FILTERS = { -- the seed's `aws s3 sync ./target/ docs/` rule, in order
  { "exclude", "*.json" },
  { "include", "index.html" },
  { "include", "catalog.json" },
  { "include", "manifest.json" },
  { "include", "run_results.json" },
}

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

--- Finding dbt and the state -------------------------------------------------

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

-- The folder that holds the production state, when it has a manifest.
function M.manifest()
  local dir = config.get("state_dir")
  if isfile(dir .. "/manifest.json") then
    return dir .. "/"
  end
  return nil
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

-- Checks the start of a manifest (its metadata comes first). Returns the
-- list of warnings; raises when the text is not a dbt manifest.
function M.check_manifest(text, local_version, label)
  label = label or "manifest"
  local schema = text:match('"dbt_schema_version":%s*"([^"]+)"')
  local n = schema and tonumber(schema:match("/manifest/v(%d+)%.json$"))
  if not n then
    errors.raise("failure", "%s is not a dbt manifest (metadata.dbt_schema_version: %s)", label,
      schema or "missing")
  end
  local warnings = {}
  if n > M.MANIFEST_SCHEMA_MAX then
    warnings[#warnings + 1] = ("%s has manifest schema v%d, newer than v%d: the local dbt may not read it")
      :format(label, n, M.MANIFEST_SCHEMA_MAX)
  end
  local version = text:match('"dbt_version":%s*"([^"]+)"')
  local function minor(v)
    return v and v:match("^(%d+%.%d+)")
  end
  if version and local_version and minor(version) ~= minor(local_version) then
    warnings[#warnings + 1] = ("%s was written by dbt %s, the local dbt is %s: across minor versions "
      .. "state:modified can select nodes that did not change"):format(label, version, local_version)
  end
  return warnings
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

--- Secrets and the profile -------------------------------------------------------

-- The secrets setting -> { {prefix=, id=}, ... }. Entries are tables
-- ({ prefix = "SNOWFLAKE", id = "dbt/snowflake-credentials" }, or
-- { "SNOWFLAKE", "dbt/..." }) or text in the seed's `secret-ids` form —
-- "SNOWFLAKE, dbt/snowflake-credentials" (also "SNOWFLAKE=dbt/...", or a bare
-- id: the prefix is then the secret's name); text may hold several, one per
-- line or separated by ";" (DBTRUN_SECRETS, --set secrets=...).
function M.parse_secrets(value)
  local list = {}
  local function add_text(s)
    for line in s:gmatch("[^\n;]+") do
      line = line:match("^%s*(.-)%s*$")
      if line ~= "" then
        local prefix, id = line:match("^([^,=]-)%s*[,=]%s*(.+)$")
        list[#list + 1] = { prefix = prefix or nil, id = id or line }
      end
    end
  end
  if type(value) == "string" then
    add_text(value)
  elseif type(value) == "table" then
    local keys = {}
    for k in pairs(value) do
      keys[#keys + 1] = k
    end
    table.sort(keys, function(a, b) -- --set secrets.1.id=... makes string keys
      return (tonumber(a) or math.huge) < (tonumber(b) or math.huge)
    end)
    for _, k in ipairs(keys) do
      local s = value[k]
      if type(s) == "string" then
        add_text(s)
      elseif type(s) == "table" and (s.id or s[2]) then
        list[#list + 1] = { prefix = s.prefix or (s[2] and s[1]) or nil, id = s.id or s[2] }
      else
        errors.raise("usage", "config secrets: entry %s must be { prefix = ..., id = ... }", tostring(k))
      end
    end
  elseif not blank(value) then
    errors.raise("usage", "config secrets must be a list of { prefix = ..., id = ... }")
  end
  return list
end

-- Text for a YAML double-quoted scalar.
local function yaml_escape(s)
  return (s:gsub('[\\"%c]', function(c)
    local named = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }
    return named[c] or ("\\x%02x"):format(c:byte())
  end))
end

-- Fills a profile template: ${NAME} is the value of NAME (lookup(name)),
-- ${NAME:-default} uses default when NAME is unset or empty, $$ is a "$";
-- comment lines (# ...) are left as written.
-- A placeholder written in double quotes ("${NAME}") gets its value escaped
-- for YAML, so a password with a quote or a backslash stays one string.
-- An unset NAME without a default raises, naming source:line.
function M.render_profile(text, lookup, source)
  local out, i = {}, 1
  local function fail(at, fmt, ...)
    local _, lines = text:sub(1, at):gsub("\n", "")
    errors.raise("failure", "profile template %s:%d: " .. fmt, source or "?", lines + 1, ...)
  end
  while true do
    local s = text:find("$", i, true)
    if not s then
      out[#out + 1] = text:sub(i)
      break
    end
    out[#out + 1] = text:sub(i, s - 1)
    local c = text:sub(s + 1, s + 1)
    local line_start = s
    while line_start > 1 and text:sub(line_start - 1, line_start - 1) ~= "\n" do
      line_start = line_start - 1
    end
    if text:sub(line_start, s):match("^%s*#") then -- a YAML comment line stays as written
      local eol = text:find("\n", s, true) or #text
      out[#out + 1] = text:sub(s, eol)
      i = eol + 1
    elseif c == "$" then
      out[#out + 1] = "$"
      i = s + 2
    elseif c == "{" then
      local e = text:find("}", s + 2, true)
      if not e then
        fail(s, "unterminated ${")
      end
      local expr = text:sub(s + 2, e - 1)
      local name, default = expr:match("^([%a_][%w_]*)$"), nil
      if not name then
        name, default = expr:match("^([%a_][%w_]*):%-(.*)$")
      end
      if not name then
        fail(s, "bad placeholder ${%s} (${NAME} or ${NAME:-default})", expr)
      end
      local value = lookup(name)
      if blank(value) and default then
        value = default
      end
      if value == nil then
        fail(s, "${%s} is not set (not in the environment, nor in the configured secrets)", name)
      end
      value = tostring(value)
      if text:sub(s - 1, s - 1) == '"' and text:sub(e + 1, e + 1) == '"' then
        value = yaml_escape(value)
      end
      out[#out + 1] = value
      i = e + 1
    else
      out[#out + 1] = "$"
      i = s + 1
    end
  end
  return table.concat(out)
end

-- A private folder (mode 0700, from mkdtemp) under RUNNER_TEMP, TMPDIR or /tmp.
local function private_dir()
  local base = native.env.get("RUNNER_TEMP")
  base = not blank(base) and base or native.env.get("TMPDIR")
  base = (not blank(base) and base or "/tmp"):gsub("/+$", "")
  if ui.dry_run then
    return base .. "/dbtrun.XXXXXX"
  end
  local dir, msg = native.fs.mkdtemp(base .. "/dbtrun")
  if not dir then
    errors.raise("failure", "cannot create a private folder: %s", msg)
  end
  return dir
end

-- Exports config aws.role_arn as AWS_ROLE_ARN on GitHub Actions, where the
-- credential chain exchanges the workflow's OIDC token for that role (the
-- seed's configure-aws-credentials step). Laptops keep their profile.
function M.aws_setup()
  local role = config.get("aws.role_arn")
  if not blank(role) and native.env.get("GITHUB_ACTIONS") == "true" and blank(native.env.get("AWS_ROLE_ARN")) then
    native.env.set("AWS_ROLE_ARN", tostring(role))
  end
end

-- Inside a task: makes the warehouse connection of ci/deploy/docs the way the
-- seed's workflow steps do. `vars` go into the environment first (e.g.
-- DBT_CI_SCHEMA); then each configured secret becomes variables
-- (aws.secrets.env, masked); config private_key names the variable holding a
-- PEM key, written to a 0600 file named by DBT_PRIVATE_KEY_PATH; config
-- <task>.profile or profile (a template file, or a function(vars) returning
-- YAML) becomes profiles.yml (0600) in a private folder named by
-- DBT_PROFILES_DIR. When the task ends — also after failure or Ctrl-C — the
-- folder is removed and the environment restored.
function M.connect(task_name, vars)
  local saved = native.env.all()
  local dir
  tasks.always(function()
    if dir and not ui.dry_run then
      native.fs.rm(dir)
    end
    local now = native.env.all()
    for name in pairs(now) do
      if saved[name] == nil then
        native.env.set(name, nil)
      end
    end
    for name, value in pairs(saved) do
      if now[name] ~= value then
        native.env.set(name, value)
      end
    end
  end)
  for name, value in pairs(vars or {}) do
    native.env.set(name, tostring(value))
  end
  local secrets = M.parse_secrets(config.get("secrets"))
  if #secrets > 0 then
    M.aws_setup()
    local aws = require("dbtrun.aws")
    for _, s in ipairs(secrets) do
      local names = aws.secrets.env(s.id, s.prefix)
      if not ui.dry_run then
        ui.info(("secrets: %s -> %s"):format(s.id, table.concat(names, " ")))
      end
    end
  end
  local key_var = config.get("private_key")
  local profile_key = task_name .. ".profile"
  local profile = config.get(profile_key)
  if blank(profile) then
    profile_key, profile = "profile", config.get("profile")
  end
  if blank(key_var) and blank(profile) then
    return nil
  end
  dir = private_dir()
  if not blank(key_var) then
    local key = native.env.get(key_var)
    if blank(key) and not ui.dry_run then
      errors.raise("failure", "private_key: %s is not set (is it a key of the configured secret?)", key_var)
    end
    ui.secret(key or "")
    local path = dir .. "/private_key.pem"
    require("dbtrun.api").fs.write(path, (key or ""):gsub("\n?$", "\n", 1), { mode = "0600" })
    native.env.set("DBT_PRIVATE_KEY_PATH", path)
  end
  if not blank(profile) then
    local text, source
    if type(profile) == "function" then
      source = "config " .. profile_key
      text = profile({ target = vars and vars.DBT_TARGET, env = native.env.get,
        schema = vars and vars.DBT_CI_SCHEMA, key_path = native.env.get("DBT_PRIVATE_KEY_PATH") })
      if type(text) ~= "string" then
        errors.raise("failure", "%s must return the text of profiles.yml, not %s", source, type(text))
      end
    else
      source = tostring(profile)
      local template, msg = native.fs.read(source)
      if not template then
        errors.raise("failure", "profile template: %s", msg)
      end
      text = M.render_profile(template, function(name)
        local v = native.env.get(name)
        if v == nil and ui.dry_run then -- the secrets were not fetched
          return "<" .. name .. ">"
        end
        return v
      end, source)
    end
    require("dbtrun.api").fs.write(dir .. "/profiles.yml", text, { mode = "0600" })
    native.env.set("DBT_PROFILES_DIR", dir)
    ui.info(("profile: %s/profiles.yml (0600) from %s"):format(dir, source))
  end
  return dir
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
  local github = require("dbtrun.github")
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

-- The plan of issue 7 before a build: printed, and its summary returned
-- (nil without a production manifest, in a dry run, when config plan is
-- false, or when it could not be made — a warning: dbt's own build says more).
function M.plan(opts)
  if not config.get("plan") or ui.dry_run or not M.manifest() then
    return nil
  end
  local ok, res = pcall(require("dbtrun.plan").run, opts or {})
  if not ok then
    local err = errors.wrap(res)
    -- An unreadable or malformed manifest stops the task: building anyway
    -- would trust the same broken state.
    if err.kind == "interrupt" or err.kind == "manifest" then
      error(err, 0)
    end
    ui.warn("plan: " .. tostring(err) .. " (building anyway)")
    return nil
  end
  return res
end

--- The production manifest -----------------------------------------------------------

-- fetch-manifest: config artifacts' manifest.json into the state folder,
-- replaced atomically and not downloaded when unchanged. A missing one is a
-- warning (dbt then builds everything); another failure is one too when an
-- earlier manifest is there to use, else it ends the task.
function M.fetch_manifest()
  local location = tostring(config.get("artifacts"))
  local path = config.get("state_dir") .. "/manifest.json"
  M.aws_setup()
  local ok, res = pcall(require("dbtrun.store").get, location, "manifest.json", path)
  if not ok then
    local err = errors.wrap(res)
    if err.kind == "interrupt" then
      error(err, 0)
    elseif err.code == "NoSuchKey" and isfile(path) then
      ui.warn(("no production manifest in %s: keeping %s from an earlier fetch"):format(location, path))
    elseif err.code == "NoSuchKey" then
      ui.warn(("no production manifest in %s: running without deferral"):format(location))
      return nil
    elseif isfile(path) then
      ui.warn(("cannot fetch the production manifest (%s): using %s from an earlier fetch"):format(tostring(err), path))
    else
      error(err, 0)
    end
  elseif ui.dry_run then
    return nil
  elseif res.changed then
    ui.info(("fetched the production manifest from %s (%d bytes)"):format(location, res.size or 0))
  else
    ui.info(("production manifest unchanged in %s: nothing downloaded"):format(location))
  end
  local ok_check, warnings = pcall(M.check_manifest, head(path, 4096) or "", M.local_version(), path)
  if not ok_check then
    native.fs.rm(path) -- dbt must not defer to it on the next run either
    error(warnings, 0)
  end
  for _, w in ipairs(warnings) do
    ui.warn(w)
  end
  return path
end

-- deploy: target/manifest.json to config artifacts, for future deferral.
function M.publish_manifest()
  local location = tostring(config.get("artifacts"))
  M.aws_setup()
  local r = require("dbtrun.store").put(location, "manifest.json", "target/manifest.json")
  if not ui.dry_run then
    ui.info(("%s the production manifest in %s"):format(r.changed and "published" or "unchanged:", location))
  end
end

--- Docs ------------------------------------------------------------------------------

-- The docs location, or nil (with a note) when docs publishing is off.
function M.docs_location()
  local docs = config.get("docs")
  if blank(docs) then
    ui.info("docs: no docs location (config docs): the docs site is not published")
    return nil
  end
  return tostring(docs)
end

-- Syncs target/ to the docs location with the seed's rule, then invalidates
-- config cloudfront's cache of /* (config cloudfront_wait: wait for it).
function M.publish_docs(location)
  M.aws_setup()
  local r = require("dbtrun.store").sync("target/", location, { delete = true, filters = M.DOCS_FILTERS })
  if not ui.dry_run then
    ui.info(("docs: %d copied, %d deleted, %d unchanged in %s"):format(r.copied or 0, r.deleted or 0,
      r.unchanged or 0, location))
  end
  local dist = config.get("cloudfront")
  if not blank(dist) then
    require("dbtrun.aws").cloudfront.invalidate(tostring(dist), { "/*" },
      { wait = config.get("cloudfront_wait") == true })
  end
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
  local pr = require("dbtrun.plan").pull_request()
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
    require("dbtrun.github").annotate("warning", note, { title = "CI schema clean-up" })
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
