-- strict: the slow paths of strictness, loaded only when needed — "did you
-- mean" suggestions, the checks of --set values, and the hint for a dbtrun
-- option written after the task name. The checks on every call (argument
-- types) are in lua/check.lua; this file stays off the start-up path.

local errors = require("dbtrun.errors")
local ui = require("dbtrun.ui")

local M = {}

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
  local prev = {}
  for j = 0, #b do
    prev[j] = j
  end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- The candidate closest to `name`, if it is close enough to be a typo.
function M.closest(name, candidates)
  local best, best_d
  for _, candidate in ipairs(candidates) do
    local d = distance(name, candidate)
    if d <= math.max(2, #name // 3) and (not best_d or d < best_d) then
      best, best_d = candidate, d
    end
  end
  return best
end

--- --set ---------------------------------------------------------------------

-- Settings the built-in tasks read that have no default value, with the
-- type a --set value must have ("text": any text). Keys present in the
-- defaults or in config{...} take the type of their value instead.
local optional_keys = {
  threads = "number", pr = "text", cloudfront = "text", cloudfront_wait = "boolean", private_key = "text",
  profile = "text", dbt = "text", ["targets.dev"] = "text", ["ci.database"] = "text", ["ci.profile"] = "text",
  ["deploy.profile"] = "text", ["aws.profile"] = "text", ["aws.region"] = "text", ["aws.endpoint"] = "text",
  ["aws.role_arn"] = "text", ["aws.max_attempts"] = "number", ["aws.connect_timeout"] = "number",
  ["aws.read_timeout"] = "number", history_keep = "number", history_days = "number",
}

-- Lists that also take a text form (secrets: "PREFIX, id" lines;
-- docs_include: comma-separated patterns).
local text_tables = { secrets = true, docs_include = true }

-- Every settable key: the leaves of the merged view, and the optional ones.
local function known_keys(config)
  local keys = {}
  local function walk(t, prefix)
    for k, v in pairs(t) do
      if type(k) == "string" then
        local path = prefix .. k
        keys[#keys + 1] = path
        if type(v) == "table" and not text_tables[path] then
          walk(v, path .. ".")
        end
      end
    end
  end
  walk(config.resolved(), "")
  for k in pairs(optional_keys) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- A --set value must name a known key of `config` (lua/config.lua) and fit
-- the type of the value it replaces: a typo or "threads=abc" is an error,
-- never a silent new setting. Returns true, or nil and the message.
function M.check_setting(config, key, text)
  local current = config.get(key)
  local want = optional_keys[key]
  if current ~= nil then
    want = type(current)
  end
  if want == nil then
    local hint = M.closest(key, known_keys(config))
    return nil, ("unknown config key '%s'%s"):format(key, hint and (". Did you mean '" .. hint .. "'?") or "")
  end
  if want == "boolean" and text ~= "true" and text ~= "false" then
    return nil, ("'%s' is a boolean: true or false, not '%s'"):format(key, text)
  elseif want == "number" and not tonumber(text) then
    return nil, ("'%s' is a number, not '%s'"):format(key, text)
  elseif want == "table" and not text_tables[key] then
    return nil, ("'%s' is a table: set one of its keys (%s.KEY=VALUE)"):format(key, key)
  end
  return true
end

--- Options after the task name ------------------------------------------------

-- dbtrun's own options, which only count before the task name. -q, -v and
-- -h are left out: dbt takes them too, so a task passing words on to dbt
-- may well mean them. (true: a flag; "value": it takes the next word unless
-- written --opt=value)
local dbtrun_options = {
  ["--set"] = "value", ["--dry-run"] = true, ["-n"] = true, ["--file"] = "value", ["-f"] = "value",
  ["--directory"] = "value", ["-C"] = "value", ["--kill-after"] = "value", ["--color"] = "value",
  ["--list"] = true, ["-l"] = true, ["--json"] = true, ["--usage"] = "value",
}

-- The command line as it should have been written: the option (and its
-- value) moved before the task name.
local function reordered(t, words, i)
  local moved, rest = { words[i] }, {}
  local j = i + 1
  if dbtrun_options[words[i]] == "value" and words[j] then
    moved[2], j = words[j], j + 1
  end
  for k, w in ipairs(words) do
    if k < i or k >= j then
      rest[#rest + 1] = w
    end
  end
  return table.concat({ "dbtrun", table.concat(moved, " "), t.name, table.unpack(rest) }, " ")
end

-- The command line's words after the name of task `t` belong to it. One that
-- is a dbtrun option was most likely meant for dbtrun: an error (with the
-- task's `usage` line) when it would fill a named parameter or is one word
-- too many, a warning when a variadic parameter takes it (the task may pass
-- it on, to dbt say).
function M.check_words(t, words, usage)
  local last = t.params[#t.params]
  local variadic_from = last and (last.kind == "star" or last.kind == "plus") and #t.params or math.huge
  for i, word in ipairs(words) do
    local option = word:match("^(%-%-?[%w-]+)")
    if option and dbtrun_options[option] then
      local hint = "dbtrun's options go before the task: " .. reordered(t, words, i)
      if i < variadic_from then
        errors.raise("usage", "'%s' after the task name would be an argument of task '%s'; %s\n%s", word, t.name,
          hint, usage)
      end
      ui.warn(("'%s' is passed to task '%s' as an argument; %s"):format(word, t.name, hint))
    end
  end
end

return M
