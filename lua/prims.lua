-- prims: the file, environment, JSON and message primitives of task files
-- (fs, env, json, log, warn, secret, quote), each checking its arguments in
-- the user's words (lua/check.lua). Loaded on first use through lua/api.lua,
-- so a task that only runs commands does not pay for them.

local native = require("dbtrun.native")
local check = require("dbtrun.check")
local errors = require("dbtrun.errors")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")

local M = {}

-- A raw binding's nil, msg becomes a raised error naming the operation.
local function checked(op, fn)
  return function(...)
    local result, msg = fn(...)
    if result == nil and msg then
      error(errors.new("failure", { op = op, target = (...), message = op .. ": " .. msg }), 2)
    end
    return result
  end
end

-- In a dry run, changes to files are described instead of made.
local function unless_dry(what, fn)
  return function(path, ...)
    if ui.dry_run then
      ui.command(what .. " " .. run.quote(tostring(path)))
      return true
    end
    return fn(path, ...)
  end
end

local function parse_mode(mode)
  if mode == nil or type(mode) == "number" then
    return mode
  end
  local n = type(mode) == "string" and mode:match("^0?[0-7]+$") and tonumber(mode, 8)
  if not n then
    check.misuse("fs.write: option mode must be octal text like \"0600\", not %s", tostring(mode))
  end
  return n
end

local raw = native.fs

-- A function of one path argument, checked, named `name` in errors.
local function on_path(name, fn)
  return function(path, ...)
    check.arg(name, 1, "path", path, "string")
    return fn(path, ...)
  end
end

M.fs = {
  exists = on_path("fs.exists", function(path)
    return raw.stat(path) ~= nil
  end),
  isdir = on_path("fs.isdir", function(path)
    return raw.stat(path) == "dir"
  end),
  isfile = on_path("fs.isfile", function(path)
    return raw.stat(path) == "file"
  end),
  read = on_path("fs.read", checked("fs.read", raw.read)),
  list = on_path("fs.list", function(dir)
    local names = checked("fs.list", raw.list)(dir)
    table.sort(names)
    return names
  end),
  mkdir = on_path("fs.mkdir", unless_dry("mkdir -p", checked("fs.mkdir", raw.mkdir))),
  rm = on_path("fs.rm", unless_dry("rm -rf", checked("fs.rm", raw.rm))),
  -- fs.write(path, data [, {mode = "0600"}]): atomic, created with its final mode.
  write = on_path("fs.write", function(path, data, opts)
    check.arg("fs.write", 2, "data", data, "text")
    opts = check.opts("fs.write", 3, opts, { mode = true })
    local mode = parse_mode(opts.mode)
    if ui.dry_run then
      ui.command("write " .. run.quote(path))
      return true
    end
    return checked("fs.write", raw.write)(path, data, mode)
  end),
  cwd = checked("fs.cwd", raw.cwd),
}

M.env = {
  get = function(name)
    return native.env.get(check.arg("env.get", 1, "name", name, "string"))
  end,
  -- env.set(name, value | nil): nil unsets.
  set = function(name, value)
    check.arg("env.set", 1, "name", name, "string")
    return native.env.set(name, check.opt("env.set", 2, "value", value, "text"))
  end,
  all = native.env.all,
}

M.json = {
  encode = function(value, opts)
    check.opts("json.encode", 2, opts, { indent = true })
    local t = type(value)
    if t == "function" or t == "thread" or (t == "userdata" and value ~= native.json.null) then
      check.misuse("json.encode: argument 1 (value) cannot be a %s", t)
    end
    local ok, text = pcall(native.json.encode, value, opts)
    if not ok then -- what cannot be encoded deep inside is the caller's mistake too
      check.misuse("%s", tostring(text))
    end
    return text
  end,
  decode = function(text)
    check.arg("json.decode", 1, "text", text, "string")
    local value, msg = native.json.decode(text)
    if msg then
      error(errors.new("failure", { op = "json.decode", message = "json.decode: " .. msg }), 2)
    end
    return value
  end,
  null = native.json.null,
  array = function(t)
    return setmetatable(check.opt("json.array", 1, "t", t, "table") or {}, native.json.array_mt)
  end,
}

function M.json.read(path)
  check.arg("json.read", 1, "path", path, "string")
  return M.json.decode(M.fs.read(path))
end

local function message_fn(name, fn)
  return function(msg)
    return fn(tostring(check.arg(name, 1, "message", msg, "text")))
  end
end

M.log = message_fn("log", ui.info)
M.warn = message_fn("warn", ui.warn)

function M.secret(value)
  return ui.secret(check.arg("secret", 1, "value", value, "string"))
end

function M.quote(word)
  return run.quote(tostring(check.arg("quote", 1, "word", word, "text")))
end

return M
