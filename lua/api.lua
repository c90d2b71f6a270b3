-- api: what a task file sees — task, config, run, sh, always, builtin, fs,
-- env, json, confirm — in an environment where reading an undefined global is an
-- error that names file:line.

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local errors = require("dbtrun.errors")
local run = require("dbtrun.run")
local stdio = require("dbtrun.stdio")
local tasks = require("dbtrun.tasks")
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
    error(("fs.write: mode must be octal text like \"0600\", not %s"):format(tostring(mode)), 3)
  end
  return n
end

local raw = native.fs

M.fs = {
  exists = function(path)
    return raw.stat(path) ~= nil
  end,
  isdir = function(path)
    return raw.stat(path) == "dir"
  end,
  isfile = function(path)
    return raw.stat(path) == "file"
  end,
  read = checked("fs.read", raw.read),
  list = function(dir)
    local names = checked("fs.list", raw.list)(dir)
    table.sort(names)
    return names
  end,
  mkdir = unless_dry("mkdir -p", checked("fs.mkdir", raw.mkdir)),
  rm = unless_dry("rm -rf", checked("fs.rm", raw.rm)),
  -- fs.write(path, data [, {mode = "0600"}]): atomic, created with its final mode.
  write = unless_dry("write", function(path, data, opts)
    local mode = parse_mode(opts and opts.mode)
    return checked("fs.write", raw.write)(path, data, mode)
  end),
  cwd = checked("fs.cwd", raw.cwd),
}

M.env = { get = native.env.get, set = native.env.set, all = native.env.all }

M.json = {
  encode = native.json.encode,
  decode = function(text)
    local value, msg = native.json.decode(text)
    if msg then
      error(errors.new("failure", { op = "json.decode", message = "json.decode: " .. msg }), 2)
    end
    return value
  end,
  null = native.json.null,
  array = function(t)
    return setmetatable(t or {}, native.json.array_mt)
  end,
}

function M.json.read(path)
  return M.json.decode(M.fs.read(path))
end

-- Primitives loaded on first use, so a task file that never touches AWS or
-- the store does not pay for them.
local lazy = { aws = "dbtrun.aws", store = "dbtrun.store" }

-- The environment one task file runs in. Writes define file-level globals;
-- reads fall back to the API, then to Lua's standard globals, then fail.
function M.environment(is_builtin)
  local api = {
    task = function(name, spec, fn)
      local t = tasks.declare(name, spec, fn, is_builtin)
      return t and nil -- not a tail call: declare reads its caller's line
    end,
    config = config.proxy,
    run = run.run,
    sh = run.sh,
    quote = run.quote,
    always = tasks.always,
    builtin = tasks.builtin,
    fs = M.fs,
    env = M.env,
    json = M.json,
    log = ui.info,
    warn = ui.warn,
    secret = ui.secret,
    confirm = ui.confirm,
    print = stdio.print,
  }
  return setmetatable({}, {
    __index = function(_, key)
      local v = api[key]
      if v == nil and lazy[key] then
        v = require(lazy[key])
      elseif v == nil then
        v = _G[key]
      end
      if v == nil then
        error(("undefined global '%s'"):format(tostring(key)), 2)
      end
      return v
    end,
  })
end

return M
