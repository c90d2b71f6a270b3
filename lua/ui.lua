-- ui: everything dbtrun itself writes to the terminal: echoed commands,
-- warnings and errors on stderr, coloured when asked or when stderr is a
-- terminal (NO_COLOR and TERM=dumb turn colour off for "auto").

local native = require("dbtrun.native")

local M = { verbose = 0, quiet = false, dry_run = false, color = false, commands = 0 }

local codes = { bold = "1", dim = "2", red = "1;31", yellow = "1;33", green = "32", cyan = "36" }

function M.setup(opts)
  M.started = native.term.clock() -- for the built-in tasks' closing summary
  M.verbose = opts.verbose or 0
  M.quiet = opts.quiet or false
  M.dry_run = opts.dry_run or false
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

return M
