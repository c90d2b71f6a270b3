-- config: settings in layers, later ones winning — defaults declared by the
-- built-in tasks, config{...} in the task file, DBTRUN_<KEY> environment
-- variables, then --set KEY=VALUE. Nested keys use dots (aws.region); in the
-- environment a double underscore stands for the dot (DBTRUN_AWS__REGION).

local native = require("dbtrun.native")
-- lua/check.lua is loaded on the first misuse only: the fast paths below
-- test the type inline, and reaching `check` means a message is needed.
local check = setmetatable({}, {
  __index = function(_, k)
    return require("dbtrun.check")[k]
  end,
})

local M = {}

M.reads = 0 -- settings read through get() or the proxy (api.outside_reads)

-- The settings of the built-in dbt tasks (README: "Built-in tasks"). They live here,
-- not in lua/dbt.lua, artifacts.lua or profile.lua, so that they apply before any task body loads those.
local builtin_defaults = {
  state_dir = ".artifacts", -- production state for --state; never target/
  artifacts = "file://.dbtrun/store/artifacts/", -- where deploy publishes manifest.json
  docs = "file://.dbtrun/store/docs/", -- where deploy/docs sync the site; false: not published
  docs_include = {}, -- more of target/ for the docs location: aws s3 sync patterns, e.g. "compiled/*"
  aws = {}, -- profile, region, endpoint, max_attempts, connect_timeout, read_timeout (s, 0: none); role_arn (exported as AWS_ROLE_ARN on GitHub Actions)
  secrets = {}, -- { { prefix = "SNOWFLAKE", id = "dbt/snowflake-credentials" }, ... }
  targets = { ci = "ci", prod = "prod" }, -- targets.dev: --target of dev (default: the profile's)
  ci = { schema = "CI_PR_{pr}" }, -- ci.database: database_name of the clean-up macro
  favor_state = false, -- add --favor-state to deferred builds
  plan = true, -- dev and ci print `dbtrun plan` before building
  one_process = true, -- dev: the plan's dbt parse and the build in one dbt process (dbt-core's Python script only)
  state = "latest", -- what ci compares with: "latest" or "merge-base" (the PR's branch point, from the history)
  -- history_keep / history_days: deploy's history/<commit>/ entries kept (newest N, younger than N days)
  -- profile: template of profiles.yml for ci/deploy/docs (a file, or a function)
  -- private_key: the variable holding a PEM key, written to a 0600 file
  -- threads: --threads for every build; cloudfront: distribution to invalidate
}

local defaults, file_values, overrides = builtin_defaults, {}, {}
local resolved -- cache of the merged view, rebuilt after any change

local function deep_merge(into, from)
  for k, v in pairs(from) do
    if type(v) == "table" and type(into[k]) == "table" then
      deep_merge(into[k], v)
    elseif type(v) == "table" then
      into[k] = deep_merge({}, v)
    else
      into[k] = v
    end
  end
  return into
end

-- An override arrives as text; it takes the type of the value it replaces.
local function coerce(text, current)
  if type(current) == "boolean" then
    if text == "true" or text == "1" or text == "yes" then
      return true
    elseif text == "false" or text == "0" or text == "no" or text == "" then
      return false
    end
  elseif type(current) == "number" then
    return tonumber(text) or text
  end
  return text
end

-- Locations that `false` turns off: `--set docs=false` must mean "not
-- published", not a folder named "false".
local off_by_false = { artifacts = true, docs = true }

local function set_path(t, path, text)
  local keys = {}
  for key in path:gmatch("[^%.]+") do
    keys[#keys + 1] = key
  end
  for i = 1, #keys - 1 do
    if type(t[keys[i]]) ~= "table" then
      t[keys[i]] = {}
    end
    t = t[keys[i]]
  end
  if off_by_false[path] and text == "false" then
    t[keys[#keys]] = false
  else
    t[keys[#keys]] = coerce(text, t[keys[#keys]])
  end
end

function M.resolved()
  if not resolved then
    resolved = deep_merge(deep_merge({}, defaults), file_values)
    for _, o in ipairs(overrides) do
      set_path(resolved, o.key, o.value)
    end
  end
  return resolved
end

-- config{...} from a task file.
function M.merge(t)
  deep_merge(file_values, t)
  resolved = nil
end

-- Defaults from the built-in tasks: a task file's values win over them.
function M.default(t)
  deep_merge(defaults, t)
  resolved = nil
end

-- KEY=VALUE from --set (`strict`: checked against the known keys and their
-- types) or from a DBTRUN_<KEY> variable.
function M.override(key, value, strict)
  if not key:match("^[%w_][%w_%.%-]*$") then
    return nil, ("invalid config key '%s'"):format(key)
  end
  if strict then
    local ok, msg = require("dbtrun.strict").check_setting(M, key, value)
    if not ok then
      return nil, msg
    end
  end
  overrides[#overrides + 1] = { key = key, value = value }
  resolved = nil
  return true
end

-- DBTRUN_<KEY> variables, sorted so the result does not depend on the
-- environment's order. DBTRUN_TEST_* belong to the test suite.
function M.load_environment()
  local names = {}
  for name in pairs(native.env.all("DBTRUN_")) do
    if name:match("^DBTRUN_") and not name:match("^DBTRUN_TEST_") then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local key = name:sub(8):lower():gsub("__", ".")
    M.override(key, native.env.get(name))
  end
end

-- Looks up "a.b.c" in the merged view.
function M.get(path)
  M.reads = M.reads + 1
  if type(path) ~= "string" then
    check.arg("config.get", 1, "key", path, "string")
  end
  local v = M.resolved()
  for key in path:gmatch("[^%.]+") do
    if type(v) ~= "table" then
      return nil
    end
    v = v[key]
  end
  return v
end

-- The object task files see as `config`: config{...} merges, config.key reads.
M.proxy = setmetatable({ get = M.get, default = M.default }, {
  __call = function(_, t)
    if type(t) ~= "table" then
      error("config expects a table: config { key = value }", 2)
    end
    M.merge(t)
  end,
  __index = function(_, key)
    M.reads = M.reads + 1
    return M.resolved()[key]
  end,
  __newindex = function()
    error("config is read-only here: use config { key = value } or --set", 2)
  end,
})

return M
