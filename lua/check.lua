-- check: argument checks of the public task API. A misused primitive names
-- itself and the argument as the user wrote it, at the task-file line that
-- called it ("dbtrun.lua:7: store.get: argument 3 (path) must be a string,
-- got nil"), instead of a raw binding's "bad argument #4 to 'store_get'".
-- The checks are one type() comparison each; messages are built on failure.

local errors = require("dbtrun.errors")

local M = {}

-- Raises a task-file error (exit 2) prefixed with the caller's file:line.
function M.misuse(fmt, ...)
  local where = errors.where()
  local message = (where and (where .. ": ") or "") .. fmt:format(...)
  error(errors.new("taskfile", { message = message, where = where }), 0)
end

local wanted = {
  string = "a string",
  table = "a table",
  number = "a number",
  boolean = "a boolean",
  ["function"] = "a function",
  text = "a string or a number",
}

local function fail(fn, n, name, value, want, optional)
  local got = type(value)
  if got == "string" or got == "number" then
    got = ("%s %q"):format(got, value)
  end
  local desc = wanted[want]
  if optional then
    desc = (desc:gsub(" or ", ", ")) .. " or nil"
  end
  M.misuse("%s: argument %d (%s) must be %s, got %s", fn, n, name, desc, got)
end

-- The argument `value` of `fn`, at position n and called `name` in the docs,
-- must be of Lua type `want` ("text" accepts a string or a number).
function M.arg(fn, n, name, value, want)
  local t = type(value)
  if t ~= want and not (want == "text" and (t == "string" or t == "number")) then
    fail(fn, n, name, value, want, false)
  end
  return value
end

-- As arg, but nil is fine too (an optional argument).
function M.opt(fn, n, name, value, want)
  if value ~= nil then
    local t = type(value)
    if t ~= want and not (want == "text" and (t == "string" or t == "number")) then
      fail(fn, n, name, value, want, true)
    end
  end
  return value
end

-- An options table: nil or a table whose keys are all in `known` (a set).
function M.opts(fn, n, value, known)
  if value == nil then
    return {}
  end
  if type(value) ~= "table" then
    fail(fn, n, "options", value, "table", true)
  end
  for k in pairs(value) do
    if not known[k] then
      local names = {}
      for name in pairs(known) do
        names[#names + 1] = name
      end
      table.sort(names)
      M.misuse("%s: unknown option '%s' (%s)", fn, tostring(k), table.concat(names, ", "))
    end
  end
  return value
end

-- A field of an options table must be of type `want`, or nil.
function M.field(fn, opts, key, want)
  local v = opts[key]
  if v ~= nil and type(v) ~= want then
    M.misuse("%s: option %s must be %s, got %s", fn, key, wanted[want], type(v))
  end
  return v
end

-- A location or a local path: a string, and not a URL with a mistyped
-- scheme ("s3:/bucket/key" would otherwise be a folder named "s3:").
function M.place(fn, n, name, value)
  M.arg(fn, n, name, value, "string")
  local scheme, slashes = value:match("^(%a[%w+.-]*):(/*)")
  if (scheme == "s3" or scheme == "file") and #slashes < 2 then
    local what = scheme == "s3" and "an S3 URL (expected s3://bucket/key)" or "a file URL (expected file://folder/)"
    M.misuse("%s: argument %d (%s) '%s' is not %s", fn, n, name, value, what)
  end
  return value
end

return M
