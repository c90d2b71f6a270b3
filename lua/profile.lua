-- profile: the warehouse connection of ci, deploy and docs, made the way
-- the seed's workflow steps make it — secrets from Secrets Manager as
-- variables, a PEM key in a 0600 file, profiles.yml rendered from a template
-- into a private DBT_PROFILES_DIR — and undone when the task ends; and, before
-- dbt runs, whether dbt will find the project's profile. The parsing and
-- rendering are pure, so tests/lua/test_dbt.lua checks them alone.

local native = require("dbtrun.native")
local api = require("dbtrun.api")
local aws = require("dbtrun.aws")
local config = require("dbtrun.config")
local errors = require("dbtrun.errors")
local github = require("dbtrun.github")
local tasks = require("dbtrun.tasks")
local ui = require("dbtrun.ui")
local util = require("dbtrun.util")

local M = {}

local blank = util.blank

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

-- Restores the environment as it is now when the running task ends.
local function restore_env_at_end()
  local saved = native.env.all()
  tasks.always(function()
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
end

-- Each configured secret's keys become masked variables.
local function load_secrets()
  local secrets = M.parse_secrets(config.get("secrets"))
  if #secrets > 0 then
    github.aws_role()
  end
  for _, s in ipairs(secrets) do
    local names = aws.secrets.env(s.id, s.prefix)
    if not ui.dry_run then
      ui.info(("secrets: %s -> %s"):format(s.id, table.concat(names, " ")))
    end
  end
end

-- The PEM key in variable key_var -> dir/private_key.pem (0600), named by
-- DBT_PRIVATE_KEY_PATH.
local function write_key(dir, key_var)
  local key = native.env.get(key_var)
  if blank(key) and not ui.dry_run then
    errors.raise("failure", "private_key: %s is not set (is it a key of the configured secret?)", key_var)
  end
  ui.secret(key or "")
  local path = dir .. "/private_key.pem"
  api.fs.write(path, (key or ""):gsub("\n?$", "\n", 1), { mode = "0600" })
  native.env.set("DBT_PRIVATE_KEY_PATH", path)
end

-- The text of profiles.yml from `profile` (config `key`): a function's
-- result, or a template file rendered with the environment. Returns the
-- text and where it came from.
local function profile_text(profile, key, vars)
  if type(profile) == "function" then
    local source = "config " .. key
    local text = profile({ target = vars and vars.DBT_TARGET, env = native.env.get,
      schema = vars and vars.DBT_CI_SCHEMA, key_path = native.env.get("DBT_PRIVATE_KEY_PATH") })
    if type(text) ~= "string" then
      errors.raise("failure", "%s must return the text of profiles.yml, not %s", source, type(text))
    end
    return text, source
  end
  local source = tostring(profile)
  local template, msg = native.fs.read(source)
  if not template then
    errors.raise("failure", "profile template: %s", msg)
  end
  return M.render_profile(template, function(name)
    local v = native.env.get(name)
    if v == nil and ui.dry_run then -- the secrets were not fetched
      return "<" .. name .. ">"
    end
    return v
  end, source), source
end

-- Inside a task: makes the warehouse connection of ci/deploy/docs the way the
-- seed's workflow steps do. `vars` go into the environment first (e.g.
-- DBT_CI_SCHEMA); then each configured secret becomes variables
-- (aws.secrets.env, masked); config private_key names the variable holding a
-- PEM key, written to a 0600 file named by DBT_PRIVATE_KEY_PATH; config
-- <task>.profile or profile (a template file, or a function(vars) returning
-- YAML) becomes profiles.yml (0600) in a private folder named by
-- DBT_PROFILES_DIR. When the task ends — also after failure or Ctrl-C — the
-- folder is removed and the environment restored. Returns the folder (nil
-- when neither a key nor a profile is configured).
function M.connect(task_name, vars)
  restore_env_at_end()
  for name, value in pairs(vars or {}) do
    native.env.set(name, tostring(value))
  end
  load_secrets()
  local key_var = config.get("private_key")
  local key = task_name .. ".profile"
  local profile = config.get(key)
  if blank(profile) then
    key, profile = "profile", config.get("profile")
  end
  if blank(key_var) and blank(profile) then
    return nil
  end
  local dir = tasks.private_dir()
  if not blank(key_var) then
    write_key(dir, key_var)
  end
  if not blank(profile) then
    local text, source = profile_text(profile, key, vars)
    api.fs.write(dir .. "/profiles.yml", text, { mode = "0600" })
    native.env.set("DBT_PROFILES_DIR", dir)
    ui.info(("profile: %s/profiles.yml (0600) from %s"):format(dir, source))
  end
  return dir
end

--- Whether dbt will find its profile ---------------------------------------------

-- The profile of a dbt_project.yml text (`profile: NAME`); nil when there is
-- none or it is templated ({{ ... }}): then dbt alone can tell.
function M.project_profile(text)
  local value = ("\n" .. text):match("\nprofile%s*:%s*([^\n#]*)")
  local name = value and value:match("^[\"']?(.-)[\"']?%s*$")
  if blank(name) or name:find("{", 1, true) then
    return nil
  end
  return name
end

-- The top-level keys of a profiles.yml text (the profiles; `config` is not one).
function M.profile_names(text)
  local names = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local key = line:match("^([%w_%-%.]+)%s*:") or line:match('^"([^"]+)"%s*:') or line:match("^'([^']+)'%s*:")
    if key and key ~= "config" then
      names[#names + 1] = key
    end
  end
  return names
end

-- The folders where dbt looks for profiles.yml, in dbt's order: --profiles-dir
-- or DBT_PROFILES_DIR alone when given, else the project folder, then ~/.dbt
-- (dbt reads the first profiles.yml it finds, never a second one).
function M.profile_dirs(flag_dir)
  local dir = not blank(flag_dir) and flag_dir or native.env.get("DBT_PROFILES_DIR")
  if not blank(dir) then
    return { dir }
  end
  local home = native.env.get("HOME")
  return { native.fs.cwd(), (not blank(home) and home or "~") .. "/.dbt" }
end

-- The value of a dbt flag among a command's words (nested lists allowed).
local function flag_value(words, flag)
  local flat = {}
  local function add(list)
    for _, w in ipairs(list) do
      if type(w) == "table" then
        add(w)
      else
        flat[#flat + 1] = tostring(w)
      end
    end
  end
  add(words)
  for i, w in ipairs(flat) do
    if w == flag then
      return flat[i + 1]
    elseif w:sub(1, #flag + 1) == flag .. "=" then
      return w:sub(#flag + 2)
    end
  end
  return nil
end

-- Before `dbt WORDS...` runs: raises (kind usage, exit 2 as dbt's own) when
-- dbt will not find the project's profile, naming it and each profiles.yml
-- looked at. Quiet whenever it cannot tell cheaply: no dbt_project.yml here,
-- a templated name, another project folder, a profiles.yml it cannot read.
function M.check(words)
  local project = native.fs.read("dbt_project.yml")
  if not project or flag_value(words, "--project-dir") or not blank(native.env.get("DBT_PROJECT_DIR")) then
    return
  end
  local name, source = flag_value(words, "--profile"), "--profile"
  if blank(name) then
    name, source = native.env.get("DBT_PROFILE"), "DBT_PROFILE"
  end
  if blank(name) then
    name, source = M.project_profile(project), "profile: in dbt_project.yml"
  end
  if not name then
    return
  end
  local looked = {}
  for _, dir in ipairs(M.profile_dirs(flag_value(words, "--profiles-dir"))) do
    local path = dir:gsub("/+$", "") .. "/profiles.yml"
    local text = native.fs.read(path)
    if text then
      local names = M.profile_names(text)
      for _, n in ipairs(names) do
        if n == name then
          return
        end
      end
      if #names == 0 then
        return
      end
      looked[#looked + 1] = ("%s (it has %s)"):format(path, table.concat(names, ", "))
      break
    end
    looked[#looked + 1] = path .. " (no such file)"
  end
  errors.raise("usage", "dbt profile '%s' (%s) not found: looked in %s\n"
    .. "  add it to profiles.yml in one of those folders, point DBT_PROFILES_DIR at the folder that has it, "
    .. "or set config profile to a profiles.yml template (dbtrun init writes one)",
    name, source, table.concat(looked, ", "))
end

-- The adapter of the project's profile (its outputs' `type:`), or nil: for
-- the install hint of a missing dbt.
function M.adapter()
  local name = M.project_profile(native.fs.read("dbt_project.yml") or "")
  for _, dir in ipairs(name and M.profile_dirs() or {}) do
    local text = native.fs.read(dir .. "/profiles.yml")
    if text then
      local block = ("\n" .. text .. "\n~"):match("\n[\"']?" .. name:gsub("%p", "%%%0") .. "[\"']?%s*:(.-)\n[^%s#\n]")
      return block and block:match("\n%s+type%s*:%s*[\"']?([%w_%-]+)")
    end
  end
  return nil
end

return M
