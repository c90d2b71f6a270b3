-- run: run{} and sh() for task files — argv without a shell, echo, dry run,
-- exit-status checking and interrupts. The process itself is native (proc.c).

local native = require("dbtrun.native")
-- lua/check.lua is loaded on the first misuse only: the fast paths below
-- test the type inline, and reaching `check` means a message is needed.
local check = setmetatable({}, {
  __index = function(_, k)
    return require("dbtrun.check")[k]
  end,
})
local errors = require("dbtrun.errors")
local ui = require("dbtrun.ui")

local M = {}

local option_names = { env = true, cwd = true, check = true, capture = true }

-- Quotes one word for display the way a POSIX shell would read it back.
function M.quote(word)
  if word == "" then
    return "''"
  end
  if word:match("^[%w%._/:=@%%+,^-]+$") then
    return word
  end
  return "'" .. word:gsub("'", "'\\''") .. "'"
end

-- The last positive integer key of t: a nil hole makes # unreliable, so the
-- keys are counted rather than trusted.
local function last_index(t)
  local n = #t
  for k in pairs(t) do
    if math.type(k) == "integer" and k > n then
      n = k
    end
  end
  return n
end

-- Flattens nested arrays, so run{"dbt", "build", a.ARGS} passes ARGS as words.
-- A nil hole or a value that is not a word (a boolean, a function) is the
-- task file's mistake: refused, naming its position ("argument 4", "3.2").
local function flatten(fn, list, out, at)
  for i = 1, last_index(list) do
    local v = list[i]
    local t = type(v)
    if t == "string" then
      out[#out + 1] = v
    elseif t == "table" then
      flatten(fn, v, out, (at or "") .. i .. ".")
    elseif t == "number" then
      out[#out + 1] = tostring(v)
    else
      local pos = (at or "") .. i
      check.misuse("%s: argument %s is %s%s", fn, pos, t == "nil" and "nil" or ("a " .. t),
        t == "nil" and " (a hole in the list: a nil value or a misspelled name?)" or "; pass strings")
    end
  end
  return out
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- The command as a user would type it. With `detail`, the cwd and env too.
function M.describe(argv, opts, detail, script)
  local words = {}
  if detail and opts.cwd then
    words[#words + 1] = "cd " .. M.quote(opts.cwd) .. " &&"
  end
  if detail and opts.env then
    for _, k in ipairs(sorted_keys(opts.env)) do
      local v = opts.env[k]
      words[#words + 1] = v == false and ("-u " .. k) or (k .. "=" .. M.quote(v))
    end
  end
  if script then
    words[#words + 1] = script
  else
    for _, w in ipairs(argv) do
      words[#words + 1] = M.quote(w)
    end
  end
  return table.concat(words, " ")
end

local function check_options(fn, spec)
  for k in pairs(spec) do
    if math.type(k) ~= "integer" and not option_names[k] then
      check.misuse("%s: unknown option '%s' (env, cwd, check, capture)", fn, tostring(k))
    end
  end
  local env, cwd = spec.env, spec.cwd
  if (env ~= nil and type(env) ~= "table") or (cwd ~= nil and type(cwd) ~= "string") then
    check.field(fn, spec, "env", "table")
    check.field(fn, spec, "cwd", "string")
  end
  for k, v in pairs(env or {}) do
    local tv = type(v)
    if type(k) ~= "string" or (tv ~= "string" and tv ~= "number" and v ~= false) then
      check.misuse("%s: option env: %s = %s; a variable is NAME = \"text\" (or false to remove it)", fn,
        tostring(k), tv)
    end
  end
end

-- Runs argv with the options of `spec`; `script` is the sh() text for display.
local function execute(argv, spec, script)
  local line = M.describe(argv, spec, ui.dry_run or ui.verbose > 0, script)
  local parallel = package.loaded["dbtrun.parallel"] -- loaded by parallel deps only
  local branch = parallel and parallel.branch()
  ui.command(branch and ("[" .. branch.label .. "] " .. line) or line)
  if ui.dry_run then
    return 0, spec.capture and "" or nil
  end
  local started = native.term.clock()
  local opts = { env = spec.env, cwd = spec.cwd, capture = spec.capture }
  local code, out, signal = (branch and parallel.run_child or native.proc.run)(argv, opts)
  ui.debug(1, ("  exit %s after %.3fs"):format(tostring(code or out), native.term.clock() - started))
  if code == nil then -- could not start: out is the message, signal slot the code
    local err = errors.new("command", { code = signal, command = line, message = out, where = errors.where() })
    if spec.check == false then
      ui.error(out)
      return err.code
    end
    error(err, 0)
  end
  if signal then
    error(errors.interrupt(signal), 0)
  end
  if code ~= 0 and spec.check ~= false then
    local where = errors.where()
    error(errors.new("command", {
      code = code,
      command = line,
      where = where,
      message = ("%scommand failed with exit code %d: %s"):format(where and (where .. ": ") or "", code, line),
    }), 0)
  end
  return code, out
end

-- The words of a command list as run{} takes them (nested arrays
-- flattened), refused the same way, in the name of primitive `fn` (dbt{}).
function M.words(fn, list)
  return flatten(fn, list, {})
end

-- run{ "prog", "arg", ..., env=, cwd=, check=true, capture=false } -> code, output
-- also run("prog", "arg", ...); a lone string (run "echo hi") is refused, since
-- it reads as a command line and run never uses a shell.
function M.run(spec, ...)
  if type(spec) == "string" and select("#", ...) == 0 then
    check.misuse('run takes a table of words: run { "prog", "arg" }; for a shell command line use sh "%s"', spec)
  elseif type(spec) ~= "table" then
    spec = table.pack(spec, ...)
    spec.n = nil
    for i = 1, select("#", ...) + 1 do
      if spec[i] == nil then
        check.misuse("run: argument %d is nil", i)
      end
    end
  end
  check_options("run", spec)
  local argv = flatten("run", spec, {})
  if #argv == 0 then
    check.misuse("run: empty command")
  end
  return execute(argv, spec)
end

-- capture{ "prog", "arg", ..., env=, cwd= } -> stdout without its trailing
-- newline, as just's backticks: for a value (a commit, a version) rather
-- than an outcome, so a failure always raises. In a dry run: "".
function M.capture(spec)
  if type(spec) ~= "table" then
    check.misuse('capture takes a table of words: capture { "git", "rev-parse", "HEAD" }, not %s', type(spec))
  end
  if spec.check ~= nil or spec.capture ~= nil then
    check.misuse("capture: no check or capture option: it always captures and raises on failure")
  end
  check_options("capture", spec)
  local argv = flatten("capture", spec, {})
  if #argv == 0 then
    check.misuse("capture: empty command")
  end
  local _, out = execute(argv, { env = spec.env, cwd = spec.cwd, capture = true })
  return (out:gsub("\n$", ""))
end

-- sh "script"  or  sh{ "script", env=, cwd=, check=, capture= }: the explicit shell form.
function M.sh(spec, opts)
  if type(spec) ~= "table" then
    if type(spec) ~= "string" or (opts ~= nil and type(opts) ~= "table") then
      check.arg("sh", 1, "script", spec, "string")
      check.opt("sh", 2, "options", opts, "table")
    end
    spec = { spec }
    for k, v in pairs(opts or {}) do
      spec[k] = v
    end
  end
  check_options("sh", spec)
  local n = last_index(spec)
  if type(spec[1]) ~= "string" or n ~= 1 then
    local bad = type(spec[1]) ~= "string" and 1 or 2
    check.misuse("sh: expects one script string, got %s at position %d", type(spec[bad]), bad)
  end
  return execute({ "/bin/sh", "-c", spec[1] }, spec, spec[1])
end

return M
