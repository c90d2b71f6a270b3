-- errors: dbtrun's error values. Every failure that crosses the library is a
-- table with a kind and a message (and, for AWS, op/target/code/status/
-- request_id), printable through __tostring and testable with pcall.

local M = {}

local Error = {}
Error.__index = Error
Error.__tostring = function(e)
  return e.message
end

-- Exit status by kind: usage, task-file and malformed-manifest errors are 2,
-- a failed command ends with its own code, an interrupt with 128+N, anything
-- else with 1.
local exit_codes = { usage = 2, taskfile = 2, manifest = 2 }

function M.new(kind, fields)
  fields = fields or {}
  fields.kind = kind
  fields.message = fields.message or kind
  return setmetatable(fields, Error)
end

function M.is(value)
  return getmetatable(value) == Error
end

-- Raises an error of `kind`; the message is formatted like string.format.
function M.raise(kind, fmt, ...)
  error(M.new(kind, { message = fmt:format(...) }), 0)
end

function M.exit_code(e)
  if e.kind == "command" then
    return e.code ~= 0 and e.code or 1
  elseif e.kind == "interrupt" then
    return 128 + e.signal
  end
  return exit_codes[e.kind] or 1
end

-- "file:line" of the innermost frame outside dbtrun's own library, so that
-- an error raised by a primitive names the task-file line that called it.
function M.where()
  for level = 2, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then
      break
    end
    if info.currentline > 0 and info.source:sub(1, 1) == "@" and info.source:sub(1, 9) ~= "@(dbtrun)" then
      return info.source:sub(2) .. ":" .. info.currentline
    end
  end
  return nil
end

local signal_names = { [1] = "SIGHUP", [2] = "SIGINT", [15] = "SIGTERM" }

function M.interrupt(signal)
  return M.new("interrupt", {
    signal = signal,
    message = "interrupted by " .. (signal_names[signal] or ("signal " .. signal)),
  })
end

-- Turns whatever was raised into an error value.
function M.wrap(value, kind)
  if M.is(value) then
    return value
  end
  if type(value) == "table" and value.kind == "interrupt" then -- raised by the C hook
    return M.interrupt(value.signal)
  end
  return M.new(kind or "failure", { message = tostring(value) })
end

return M
