-- helpers: dbt{} and plan.run{} for task files — the project's dbt run the
-- way the built-in tasks run it (lua/dbt.lua), and the plan as data
-- (lua/plan.lua). Loaded on first use through lua/api.lua, so --list and
-- tasks that never call them do not pay for dbt.lua or plan.lua.

local check = require("dbtrun.check")
local dbt = require("dbtrun.dbt")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")

local M = {}

local DBT_OPTIONS = { target = true, check = true, results = true, env = true }

-- Where this invocation writes run_results.json: --target-path when given.
local function results_path(words)
  for i, w in ipairs(words) do
    local v = w:match("^%-%-target%-path=(.+)$") or (w == "--target-path" and words[i + 1])
    if v then
      return v:gsub("/+$", "") .. "/run_results.json"
    end
  end
  return dbt.RESULTS
end

-- results of dbt.read_results keyed by unique id.
local function by_id(list)
  local out = {}
  for _, r in ipairs(list) do
    out[r.id] = { status = r.status, execution_time = r.execution_time, failures = r.failures,
      message = r.message, name = r.name, resource_type = r.kind }
  end
  return out
end

-- dbt{ "build", "-s", "x", target=, check=true, results=false, env= }
-- -> exit code [, results]. A step as the built-in tasks' (dbt.step): the
-- same dbt, folded on GitHub Actions; --target (default: config targets.dev,
-- as dev uses) and config threads added unless the words give them.
function M.dbt(spec)
  if type(spec) ~= "table" then
    local got = type(spec) == "string" and ("string %q"):format(spec) or type(spec)
    check.misuse('dbt: argument 1 must be a table of words, as dbt { "build", "--select", "x" }, got %s', got)
  end
  local named = {}
  for k, v in pairs(spec) do
    if math.type(k) ~= "integer" then
      named[k] = v
    end
  end
  check.opts("dbt", 1, named, DBT_OPTIONS)
  check.field("dbt", spec, "target", "string")
  check.field("dbt", spec, "check", "boolean")
  check.field("dbt", spec, "results", "boolean")
  check.field("dbt", spec, "env", "table")
  local words = run.words("dbt", spec)
  if #words == 0 then
    check.misuse('dbt: no dbt command (e.g. dbt { "build" })')
  end
  local target = spec.target
  if target == nil then
    target = dbt.target("dev")
  end
  words = dbt.with_settings(words, target)
  local path = spec.results and results_path(words)
  local before = path and dbt.invocation_id(path)
  local title = "dbt " .. words[1]
  if words[2] and words[2]:sub(1, 1) ~= "-" then -- "dbt docs generate"
    title = title .. " " .. words[2]
  end
  local code = dbt.step(title, words, { check = spec.check, env = spec.env, results = true })
  if not path then
    return code
  end
  local list = not ui.dry_run and dbt.read_results(path, before)
  return code, list and by_id(list) or nil
end

M.plan = {
  -- plan.run{ state=, target_manifest=, parse=true } -> { nodes = {...}, ... }
  run = function(opts)
    opts = check.opts("plan.run", 1, opts, { state = true, target_manifest = true, parse = true })
    check.field("plan.run", opts, "state", "string")
    check.field("plan.run", opts, "target_manifest", "string")
    check.field("plan.run", opts, "parse", "boolean")
    return require("dbtrun.plan").data({ state = opts.state, target = opts.target_manifest,
      parse = opts.parse, dbt_target = dbt.target("dev") })
  end,
}

return M
