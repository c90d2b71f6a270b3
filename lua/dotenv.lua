-- dotenv: loads KEY=VALUE lines from a file (config.dotenv, --dotenv) into the
-- environment before a task runs. A variable already set in the real
-- environment wins; values of secret-looking names are masked. Required only
-- when a file is configured, so runs without one never load or read anything.
--
-- Syntax (README "Dotenv"): blank lines and `#` comment lines; KEY=VALUE with
-- an optional `export ` prefix; KEY is [A-Za-z_][A-Za-z0-9_]*; a value is bare
-- (trimmed, ending at a # that begins it or follows a space), 'single-quoted' (literal) or "double-quoted"
-- (\n \t \r \" \\ \$ escapes); one line per variable; no ${VAR} expansion.

local native = require("dbtrun.native")
local errors = require("dbtrun.errors")
local ui = require("dbtrun.ui")

local M = {}

local ESCAPES = { n = "\n", t = "\t", r = "\r", ['"'] = '"', ["\\"] = "\\", ["$"] = "$" }

-- Names whose values are masked: *_PASSWORD, *_TOKEN, *_SECRET, *_KEY (which
-- covers AWS_SECRET_ACCESS_KEY; AWS_SESSION_TOKEN ends in _TOKEN), and the
-- bare words themselves.
local SECRET_WORDS = { "PASSWORD", "TOKEN", "SECRET", "KEY" }

function M.is_secret_name(name)
  local upper = name:upper()
  for _, word in ipairs(SECRET_WORDS) do
    if upper == word or upper:sub(-#word - 1) == "_" .. word then
      return true
    end
  end
  return false
end

-- What may follow a closing quote: spaces, then nothing or a comment.
local function rest_is_comment(rest)
  return rest:match("^%s*$") or rest:match("^%s+#") or rest:match("^#")
end

local function double_quoted(body)
  local out, i = {}, 1
  while i <= #body do
    local c = body:sub(i, i)
    if c == '"' then
      return table.concat(out), body:sub(i + 1)
    elseif c == "\\" and i < #body then
      local e = body:sub(i + 1, i + 1)
      out[#out + 1] = ESCAPES[e] or ("\\" .. e) -- unknown escapes stay as written
      i = i + 2
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return nil
end

-- Parses one value (the text after '='). Returns value, or nil and why.
-- Messages never quote the value: it may be a secret.
local function parse_value(text)
  local first = text:sub(1, 1)
  local value, rest
  if first == "'" then
    value, rest = text:match("^'([^']*)'(.*)$")
    if not value then
      return nil, "the single quote is not closed on this line"
    end
  elseif first == '"' then
    value, rest = double_quoted(text:sub(2))
    if not value then
      return nil, 'the double quote is not closed on this line (write \\n for a line break)'
    end
  else
    return ((" " .. text):gsub("%s+#.*$", ""):gsub("^%s+", ""):gsub("%s+$", ""))
  end
  if not rest_is_comment(rest) then
    return nil, "only a # comment may follow the closing quote"
  end
  return value
end

-- Parses the text of a dotenv file. Returns a list of {name, value, line}, or
-- nil and "LINE: reason".
function M.parse(text)
  local vars, n = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    line = line:gsub("\r$", ""):gsub("^%s+", "")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      line = line:gsub("^export%s+", "")
      local name, value = line:match("^([^=]-)%s*=%s*(.*)$")
      if not name then
        return nil, ("%d: expected KEY=VALUE (this line has no '=')"):format(n)
      end
      if not name:match("^[%a_][%w_]*$") then
        return nil, ("%d: '%s' is not a variable name (letters, digits and _, not starting with a digit)"):format(
          n,
          name:sub(1, 40)
        )
      end
      local parsed, why = parse_value(value)
      if not parsed then
        return nil, ("%d: %s: %s"):format(n, name, why)
      end
      vars[#vars + 1] = { name = name, value = parsed, line = n }
    end
  end
  return vars
end

-- Loads `path` into the environment. `required`: a missing file is an error
-- (--dotenv) rather than skipped (config.dotenv). `display` names the file
-- in messages. Returns the number of variables set.
function M.load(path, display, required)
  if not native.fs.stat(path) then
    if required then
      errors.raise("usage", "dotenv file not found: %s", display)
    end
    ui.debug(1, ("dotenv: %s not found, skipped"):format(display))
    return 0
  end
  local text, msg = native.fs.read(path)
  if not text then
    errors.raise("usage", "cannot read the dotenv file %s: %s", display, msg)
  end
  local vars, why = M.parse(text)
  if not vars then
    errors.raise("taskfile", "%s:%s", display, why)
  end
  local set = 0
  for _, v in ipairs(vars) do
    if M.is_secret_name(v.name) and v.value ~= "" then
      ui.secret(v.value)
    end
    if native.env.get(v.name) == nil then
      native.env.set(v.name, v.value)
      set = set + 1
    end
  end
  ui.debug(1, ("dotenv: %s set %d of %d variables"):format(display, set, #vars))
  return set
end

return M
