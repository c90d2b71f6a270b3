-- util: the small predicates and readers that the built-in dbt modules
-- (dbt.lua, artifacts.lua, profile.lua) share.

local native = require("dbtrun.native")

local M = {}

-- A setting or variable that says nothing: nil, false or "".
function M.blank(v)
  return v == nil or v == false or v == ""
end

function M.isfile(path)
  return native.fs.stat(path) == "file"
end

function M.isdir(path)
  return native.fs.stat(path) == "dir"
end

-- The first `bytes` (default 4096) of a file, or nil when it cannot be read.
function M.head(path, bytes)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read(bytes or 4096)
  f:close()
  return text
end

return M
