-- ui: everything dbtrun itself writes to the terminal: echoed commands,
-- warnings and errors on stderr, coloured when asked or when stderr is a
-- terminal (NO_COLOR and TERM=dumb turn colour off for "auto").

local native = require("dbtrun.native")
local errors = require("dbtrun.errors")

local M = { verbose = 0, quiet = false, dry_run = false, yes = false, color = false, commands = 0 }

local codes = { bold = "1", dim = "2", red = "1;31", yellow = "1;33", green = "32", cyan = "36" }

function M.setup(opts)
  M.started = native.term.clock() -- for the built-in tasks' closing summary
  M.verbose = opts.verbose or 0
  M.quiet = opts.quiet or false
  M.dry_run = opts.dry_run or false
  M.yes = opts.yes or false
  local when = opts.color or "auto"
  if when == "auto" then
    local no_color = native.env.get("NO_COLOR")
    M.color = native.term.isatty(2) and (no_color == nil or no_color == "") and native.env.get("TERM") ~= "dumb"
  else
    M.color = when == "always"
  end
end

function M.paint(style, text)
  if not M.color then
    return text
  end
  return "\27[" .. codes[style] .. "m" .. text .. "\27[0m"
end

-- What goes before and after a text painted `style` ("" and "" without
-- colour), for output built from pieces: paint's result, unconcatenated.
function M.brush(style)
  if not M.color then
    return "", ""
  end
  return "\27[" .. codes[style] .. "m", "\27[0m"
end

-- Every line dbtrun writes passes the secret mask: io.stdout and io.stderr
-- are the masked files of stdio.lua.
function M.write(file, text)
  file:write(text)
  file:flush()
end

local function emit(text)
  M.write(io.stderr, text .. "\n")
end

-- secret(value) -> value: hide value (and each of its lines) in all output
-- from now on; under GitHub Actions also ask the runner to mask it.
function M.secret(value)
  if type(value) ~= "string" then
    error("secret expects a string", 2)
  end
  local added = native.mask.add(value)
  if added > 0 and native.env.get("GITHUB_ACTIONS") == "true" then
    for line in (value .. "\n"):gmatch("([^\n]*)\n") do
      if #line >= 3 then
        native.mask.write_raw(1, "::add-mask::" .. line .. "\n") -- the runner must see the value
      end
    end
  end
  return value
end

-- A command about to run (or, in a dry run, that would run).
function M.command(line)
  M.commands = M.commands + 1
  if M.dry_run or not M.quiet then
    emit(M.paint("bold", line))
  end
end

function M.info(text)
  if not M.quiet then
    emit(text)
  end
end

function M.debug(level, text)
  if M.verbose >= level then
    emit(M.paint("dim", text))
  end
end

function M.warn(text)
  emit(M.paint("yellow", "warning") .. ": " .. text)
end

function M.error(text)
  emit(M.paint("red", "error") .. ": " .. text)
end

-- confirm(question) -> boolean: asked on the terminal (y/yes or n/no; Enter
-- is no). --dry-run answers no and --yes yes, both without asking. Without
-- a terminal (stdin or stderr not one) and without --yes it raises a usage
-- error, so a script never hangs on a question nor guesses the answer.
function M.confirm(question)
  if type(question) ~= "string" then
    error(("confirm expects a question (a string), got %s"):format(type(question)), 2)
  end
  if M.dry_run then
    M.info(question .. " [y/N] no (dry run)")
    return false
  elseif M.yes then
    M.info(question .. " [y/N] yes (--yes)")
    return true
  elseif not (native.term.isatty(0) and native.term.isatty(2)) then
    local where = errors.where()
    errors.raise("usage", '%scannot ask "%s" without a terminal: run with --yes (-y) to answer yes',
      where and where .. ": " or "", question)
  end
  while true do
    M.write(io.stderr, M.paint("bold", question) .. " [y/N] ")
    local line = io.stdin:read("l")
    local signal = native.proc.last_signal()
    if signal ~= 0 then
      error(errors.interrupt(signal), 0)
    elseif line == nil then -- end of input: no
      M.write(io.stderr, "\n")
      return false
    end
    line = line:lower():match("^%s*(.-)%s*$")
    if line == "y" or line == "yes" then
      return true
    elseif line == "" or line == "n" or line == "no" then
      return false
    end
    M.write(io.stderr, "please answer y or n\n")
  end
end

return M
