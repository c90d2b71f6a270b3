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

-- Lua 5.4's os.execute results for an exit code from proc.run.
local function exit_results(code)
  if code == 0 then
    return true, "exit", 0
  end
  return nil, "exit", code
end

-- os.execute(cmd): through the process layer, which relays the output
-- through the mask and forwards interrupts to the child's group.
local function execute(cmd)
  if cmd == nil then
    return true -- a shell is available
  end
  local code, _, signal = native.proc.run({ "/bin/sh", "-c", cmd })
  return exit_results(code or signal or 127)
end

-- A file-like result of io.popen: reads or writes a temporary file, and its
-- close() returns the command's status as Lua's does.
local Piped = { __name = "FILE*" }
for _, name in ipairs({ "read", "lines", "seek", "setvbuf", "flush" }) do
  Piped[name] = function(self, ...)
    return self.file[name](self.file, ...)
  end
end

function Piped:write(...)
  local ok, msg, code = self.file:write(...)
  if not ok then
    return nil, msg, code
  end
  return self
end

-- "w": the command runs now, reading what was written as its stdin.
function Piped:close()
  if self.closed then
    error("attempt to use a closed file", 2)
  end
  self.closed = true
  self.file:close()
  if self.mode == "r" then
    return exit_results(self.code)
  end
  local code, _, signal = native.proc.run({ "/bin/sh", "-c", self.cmd }, { stdin = self.path })
  os.remove(self.path)
  return exit_results(code or signal or 127)
end

Piped.__index = Piped
Piped.__gc = function(self)
  if not self.closed then
    pcall(Piped.close, self)
  end
end
Piped.__close = Piped.__gc

function Piped:__tostring()
  return self.closed and "file (closed)" or ("file (%p)"):format(self)
end

-- io.popen(cmd [, "r"|"w"]). "r": the command runs to completion first, its
-- stdout is read back, its stderr relayed through the mask. "w": the lines
-- written become its stdin when the file is closed, and its output is masked.
local function popen(cmd, mode)
  mode = mode or "r"
  if type(cmd) ~= "string" then
    error("bad argument #1 to 'popen' (string expected)", 2)
  end
  if mode ~= "r" and mode ~= "w" then
    error("bad argument #2 to 'popen' (invalid mode)", 2)
  end
  if mode == "r" then
    local code, out, signal = native.proc.run({ "/bin/sh", "-c", cmd }, { capture = true })
    if code == nil then
      return nil, out, signal
    end
    local file = io.tmpfile()
    file:write(out)
    file:seek("set")
    return setmetatable({ file = file, mode = mode, code = code }, Piped)
  end
  local path = os.tmpname()
  local file, msg, code = io.open(path, "w")
  if not file then
    return nil, msg, code
  end
  return setmetatable({ file = file, mode = mode, cmd = cmd, path = path }, Piped)
end

local function is_ours(f)
  local mt = getmetatable(f)
  return mt == Std or mt == Piped
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
