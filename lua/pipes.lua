-- pipes: io.popen and os.execute for task files and the library, through
-- the process layer (src/base/proc.c), their output through the secret mask.
-- lua/stdio.lua installs them; this file is loaded on their first call.

local native = require("dbtrun.native")

local M = {}

-- Lua 5.4's os.execute results for an exit code from proc.run.
local function exit_results(code)
  if code == 0 then
    return true, "exit", 0
  end
  return nil, "exit", code
end

-- os.execute(cmd): through the process layer, which relays the output
-- through the mask and forwards interrupts to the child's group.
function M.execute(cmd)
  if cmd == nil then
    return true -- a shell is available
  end
  local code, _, signal = native.proc.run({ "/bin/sh", "-c", cmd })
  return exit_results(code or signal or 127)
end

-- A file-like result of io.popen: reads or writes a temporary file, and its
-- close() returns the command's status as Lua's does.
local Piped = { __name = "FILE*" }
M.Piped = Piped
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
function M.popen(cmd, mode)
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

return M
