-- ci_cleanup: `dbtrun ci-cleanup` — the CI schemas (config ci.schema,
-- CI_PR_<n> and its CI_PR_<n>_* family) that ci left behind (a cancelled
-- run, a runner that died) dropped when their pull request is closed or
-- they are older than --older-than days. The candidates come from dbt (the
-- project's list_ci_schemas macro), the pull requests' state from GitHub,
-- the drop from dbt.drop_ci_schemas. Pure helpers first (tests/lua).

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local dbt = require("dbtrun.dbt")
local errors = require("dbtrun.errors")
local github = require("dbtrun.github")
local profile = require("dbtrun.profile")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")

local M = {}

M.USAGE = "ci-cleanup [--older-than DAYS] [--dry-run]"
M.LINE = "dbtrun-ci-schema "

-- The command-line words -> {older_than=, dry_run=}.
function M.parse_args(words)
  local o, i = {}, 1
  while i <= #words do
    local w = words[i]
    local days = w:match("^%-%-older%-than=(.*)$")
    if w == "--older-than" then
      days, i = words[i + 1] or "nothing", i + 1
    end
    if days then
      o.older_than = tonumber(days)
      if not o.older_than or o.older_than < 0 then
        errors.raise("usage", "ci-cleanup: --older-than needs a number of days, got %s (%s)", tostring(days), M.USAGE)
      end
    elseif w == "--dry-run" then
      o.dry_run = true
    else
      errors.raise("usage", "ci-cleanup: unknown argument %s (%s)", w, M.USAGE)
    end
    i = i + 1
  end
  return o
end

-- ci.schema "CI_PR_{pr}" -> "CI_PR_" (what every PR's schema starts with).
function M.prefix(pattern)
  local before = tostring(pattern):match("^(.-){pr}")
  if not before or before == "" then
    errors.raise("usage", "ci-cleanup: ci.schema %q must start with text before {pr} (CI_PR_{pr}) to tell the "
      .. "CI schemas apart", tostring(pattern))
  end
  return before
end

-- Seconds since the epoch of an ISO 8601 time (2026-12-01T09:30:00.123-08:00
-- or a space for T; no zone: UTC); nil when it is not one.
function M.epoch(text)
  local y, mo, d, h, mi, s, rest = tostring(text or ""):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then
    return nil
  end
  y, mo = tonumber(y), tonumber(mo)
  -- days from 1970-01-01 of a civil date (Howard Hinnant's algorithm)
  local yy = mo <= 2 and y - 1 or y
  local era = (yy >= 0 and yy or yy - 399) // 400
  local yoe = yy - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + tonumber(d) - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  local t = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
  local sign, oh, om = rest:match("([+-])(%d%d):?(%d%d)$")
  if sign then
    t = t - (sign == "+" and 1 or -1) * (tonumber(oh) * 3600 + tonumber(om) * 60)
  end
  return t
end

-- The list_ci_schemas output -> { {name=, created=epoch|nil}, ... }
function M.parse_listing(text)
  local out = {}
  for line in tostring(text):gmatch("[^\n]+") do
    local at = line:find(M.LINE, 1, true)
    local item = at and native.json.decode(line:sub(at + #M.LINE))
    if type(item) == "table" and type(item.name) == "string" then
      out[#out + 1] = { name = item.name, created = M.epoch(item.created) }
    end
  end
  return out
end

-- Schemas -> pull requests: { {pr=, schema=CI_PR_<n>, names={...}, created=oldest|nil}, ... }
-- by number. A schema belongs to PR n when it is CI_PR_<n> or one of its
-- CI_PR_<n>_* (dbt.schema_matches: CI_PR_1 never takes CI_PR_12).
function M.group(schemas, pattern)
  local prefix = M.prefix(pattern):lower()
  local by, list = {}, {}
  for _, s in ipairs(schemas) do
    local n = s.name:lower():sub(1, #prefix) == prefix and s.name:sub(#prefix + 1):match("^(%d+)")
    local pr = n and tonumber(n)
    local base = pr and dbt.ci_schema(pattern, pr)
    if base and dbt.schema_matches(s.name, base) then
      local g = by[pr]
      if not g then
        g = { pr = pr, schema = base, names = {} }
        by[pr] = g
        list[#list + 1] = g
      end
      g.names[#g.names + 1] = s.name
      if s.created and (not g.created or s.created < g.created) then
        g.created = s.created
      end
    end
  end
  table.sort(list, function(a, b)
    return a.pr < b.pr
  end)
  return list
end

-- Why group g goes, or nil: older than `days` (when its creation time is
-- known), else its pull request closed (`state(pr)` -> "open"|"closed"|nil).
function M.reason(g, days, now, state)
  if days and g.created and g.created < now - days * 86400 then
    return ("created %s, more than %s days ago"):format(os.date("!%Y-%m-%d", g.created), tostring(days))
  end
  local s = state(g.pr)
  if s == "closed" then
    return ("pull request #%d is closed"):format(g.pr)
  end
  return nil
end

--- Acting ---------------------------------------------------------------------------

-- The state of pull request pr from GitHub ("open", "closed"), or nil with
-- a warning when GitHub cannot say (then the schema is kept).
local function pull_state(pr)
  local api = native.env.get("GITHUB_API_URL")
  local token = native.env.get("GITHUB_TOKEN")
  local repo = native.env.get("GITHUB_REPOSITORY")
  if not token or token == "" or not repo or repo == "" then
    errors.raise("usage", "ci-cleanup: GitHub needs GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name) to tell "
      .. "closed pull requests (the workflow's token: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }})")
  end
  native.mask.add(token)
  local pull, msg, status = native.github.pull {
    api_url = api ~= nil and api ~= "" and api or "https://api.github.com",
    token = token,
    repo = repo,
    pr = pr,
  }
  if not pull then
    ui.warn(("ci-cleanup: pull request #%d of %s: %s: its schemas are kept"):format(pr, repo, msg))
    if status == 401 then
      errors.raise("failure", "ci-cleanup: GitHub refused the token (HTTP 401)")
    end
    return nil
  end
  return pull.state
end

-- The CI schemas in the warehouse, through dbt run-operation list_ci_schemas.
local function list_schemas(target, prefix)
  if not dbt.has_macro("list_ci_schemas") then
    errors.raise("usage", "ci-cleanup: no list_ci_schemas macro in the project: `dbtrun init` writes "
      .. "macros/list_ci_schemas.sql (README: CI schema clean-up)")
  end
  local database = config.get("ci.database")
  local args = native.json.encode({ prefix = prefix,
    database_name = database ~= nil and database ~= "" and database or nil })
  local words = { "run-operation", "list_ci_schemas", "--args", args, target and { "--target", target } or {},
    "--no-write-json" }
  local code, out = run.run { dbt.ready(words), words, capture = true, check = false }
  if ui.dry_run then
    return {}
  end
  if code ~= 0 then
    ui.write(io.stderr, out or "")
    errors.raise("failure", "ci-cleanup: dbt run-operation list_ci_schemas exited %d", code)
  end
  return M.parse_listing(out or "")
end

-- The task: lists, decides, drops (or, with --dry-run, says what it would).
function M.run(o)
  local pattern = config.get("ci.schema")
  local prefix = M.prefix(pattern)
  local target = dbt.target("ci")
  dbt.deps()
  -- the profile's schema: a name no pull request has, never created by ci-cleanup
  profile.connect("ci", { DBT_CI_SCHEMA = dbt.ci_schema(pattern, "cleanup"), DBT_TARGET = target })
  local groups = M.group(list_schemas(target, prefix), pattern)
  if o.older_than then
    local unknown = 0
    for _, g in ipairs(groups) do
      unknown = unknown + (g.created and 0 or 1)
    end
    if unknown > 0 then
      ui.warn(("ci-cleanup: --older-than %s: the warehouse gives no creation time for %d of %d pull requests' "
        .. "schemas (DuckDB, Postgres, ... do not keep one): for them only the closed-pull-request rule applies")
        :format(tostring(o.older_than), unknown, #groups))
    end
  end
  local dropped, failed, now = {}, {}, os.time()
  for _, g in ipairs(groups) do
    local why = M.reason(g, o.older_than, now, pull_state)
    local names = table.concat(g.names, ", ")
    if not why then
      ui.info(("ci-cleanup: keeping %s: pull request #%d is open"):format(names, g.pr))
    elseif o.dry_run then
      print(("would drop %s (%s)"):format(names, why))
      dropped[#dropped + 1] = g.schema
    else
      ui.info(("ci-cleanup: dropping %s (%s)"):format(names, why))
      local list = dbt.drop_ci_schemas(g.schema, target) and dropped or failed
      list[#list + 1] = g.schema
    end
  end
  ui.info(("ci-cleanup: %d pull request(s) with CI schemas, %d %s"):format(#groups, #dropped,
    o.dry_run and "would be dropped (--dry-run)" or "dropped"))
  if #failed > 0 then -- the nightly job must not look green with schemas left
    errors.raise("failure", "ci-cleanup: the drop of %s failed (see the warnings above)", table.concat(failed, ", "))
  end
  return dropped
end

return M
