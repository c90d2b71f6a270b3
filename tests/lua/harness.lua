-- harness: a tiny test harness for the Lua library, run by the binary itself
-- (dbtrun --script tests/lua/test_x.lua). Ends with "N passed, N failed".
local M = { passed = 0, failed = 0, name = "?" }

local function where()
  local info = debug.getinfo(3, "Sl")
  return info.short_src .. ":" .. info.currentline
end

function M.check(cond, what)
  if cond then
    M.passed = M.passed + 1
  else
    M.failed = M.failed + 1
    io.stderr:write(where(), ": check failed", what and (": " .. what) or "", "\n")
  end
end

function M.eq(got, want)
  if got == want then
    M.passed = M.passed + 1
  else
    M.failed = M.failed + 1
    io.stderr:write(where(), (": got %q, want %q\n"):format(tostring(got), tostring(want)))
  end
end

-- Expects fn to raise; returns the error message.
function M.raises(fn, pattern)
  local ok, err = pcall(fn)
  local msg = tostring(err)
  if not ok and (not pattern or msg:find(pattern)) then
    M.passed = M.passed + 1
  else
    M.failed = M.failed + 1
    io.stderr:write(where(), ": expected an error", pattern and (" matching " .. pattern) or "", ", got ", ok and "none" or msg, "\n")
  end
  return msg
end

-- A new empty folder for a test file's fixtures.
function M.tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(require("dbtrun.native").fs.mkdir(dir))
  return dir
end

function M.write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

function M.run(name, tests)
  for _, t in ipairs(tests) do
    local ok, err = xpcall(t[2], debug.traceback)
    if not ok then
      M.failed = M.failed + 1
      io.stderr:write(name, ": ", t[1], ": ", tostring(err), "\n")
    end
  end
  print(("%s: %d passed, %d failed"):format(name, M.passed, M.failed))
  return M.failed == 0 and 0 or 1
end

return M
