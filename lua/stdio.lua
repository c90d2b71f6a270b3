-- stdio: every byte Lua writes to the terminal passes the secret mask.
-- install() replaces io.stdout, io.stderr, io.write, io.output's default,
-- print, os.execute and io.popen for task files and dbtrun's own library.
-- Writes are unbuffered and share one mask stream per fd with relayed child
-- output (src/base/mask.c), so they stay in the order written.

local native = require("dbtrun.native")
local mask = native.mask

local M = {}

-- A standard file: the methods of a Lua file, writing through the mask.
local Std = { __name = "FILE*" }
Std.__index = Std

function Std:write(...)
  local ok, msg, code = mask.write(self.fd, ...)
  if not ok then
    return nil, msg, code
  end
  return self
end

function Std:flush()
  local ok, msg, code = mask.flush(self.fd)
  if not ok then
    return nil, msg, code
  end
  return self
end

function Std:close()
  return nil, "cannot close standard file"
end

function Std:setvbuf()
  return true -- always unbuffered: order with child output matters more
end

function Std:seek()
  return nil, "Illegal seek", 29
end

function Std:read()
  return nil, "Bad file descriptor", 9
end

function Std:lines()
  error("file is not readable", 2)
end

function Std:__tostring()
  return "file (" .. self.name .. ")"
end

M.stdout = setmetatable({ fd = 1, name = "stdout" }, Std)
M.stderr = setmetatable({ fd = 2, name = "stderr" }, Std)

-- print() as Lua's, through the mask.
function M.print(...)
  local parts = table.pack(...)
  for i = 1, parts.n do
    parts[i] = tostring(parts[i])
  end
  M.stdout:write(table.concat(parts, "\t", 1, parts.n), "\n")
end

-- io.popen and os.execute live in lua/pipes.lua, loaded on first use (a
-- start that never calls them does not load it; the calls are tail calls,
-- so their errors still name the caller's line).
local function popen(...)
  return require("dbtrun.pipes").popen(...)
end

local function execute(...)
  return require("dbtrun.pipes").execute(...)
end

local function is_ours(f)
  local mt = getmetatable(f)
  local pipes = package.loaded["dbtrun.pipes"] -- a piped file means it is loaded
  return mt == Std or (pipes ~= nil and mt == pipes.Piped)
end

function M.install()
  local raw_output, raw_close, raw_type = io.output, io.close, io.type
  local current = M.stdout
  io.stdout, io.stderr = M.stdout, M.stderr
  -- io.output(file|name) still redirects io.write to a real file (data).
  io.output = function(file)
    if file == nil then
      return current
    end
    current = is_ours(file) and file or raw_output(file)
    return current
  end
  io.write = function(...)
    return current:write(...)
  end
  io.close = function(file)
    file = file or current
    if is_ours(file) then
      return file:close()
    end
    return raw_close(file)
  end
  io.type = function(f)
    if is_ours(f) then
      return f.closed and "closed file" or "file"
    end
    return raw_type(f)
  end
  io.popen = popen
  os.execute = execute
  print = M.print
end

return M
