-- api: what a task file sees — task, config, run, sh, capture, always, builtin, fs,
-- env, json, confirm, dbt, plan — in an environment where reading an undefined global is an
-- error that names file:line.

local config = require("dbtrun.config")
local stdio = require("dbtrun.stdio")
local tasks = require("dbtrun.tasks")
local ui = require("dbtrun.ui")

-- fs, env, json, log, warn, secret and quote live in lua/prims.lua, loaded
-- on first use (api.fs works too, for the library's own callers).
local from_prims = { fs = true, env = true, json = true, log = true, warn = true, secret = true, quote = true }

local M = setmetatable({}, {
  __index = function(_, key)
    if from_prims[key] then
      return require("dbtrun.prims")[key]
    end
  end,
})

-- Primitives loaded on first use, so a task file that never touches AWS or
-- the store does not pay for them.
local lazy = { aws = "dbtrun.aws", store = "dbtrun.store" }

-- dbt{} and plan.run{} come from lua/helpers.lua (which loads dbt.lua and,
-- on plan.run, plan.lua) on first use.
local from_helpers = { dbt = true, plan = true }

-- run, sh and capture come from lua/run.lua on first use: --list and a file's
-- top level never need it.
local from_run = { run = true, sh = true, capture = true }

-- always and builtin come from lua/taskrun.lua (through tasks) on first
-- use: declaring tasks never needs it.
local from_tasks = { always = true, builtin = true }

-- Reads of a task file's globals other than these, and of config's values,
-- counted: main.lua keeps a file's --list only if its top level made none.
-- These give the same on every run (declaring, looping, building strings);
-- anything else (os, io, env, fs, print, require, math.random, ...) may not.
local same_every_run = {
  task = true, config = true, ipairs = true, pairs = true, next = true, select = true,
  type = true, tostring = true, tonumber = true, string = true, table = true, error = true,
  assert = true, pcall = true, xpcall = true, setmetatable = true, getmetatable = true,
  rawget = true, rawset = true, rawequal = true, rawlen = true,
}
local lookups = 0
function M.outside_reads()
  return lookups + config.reads
end

-- The environment one task file runs in. Writes define file-level globals;
-- reads fall back to the API, then to Lua's standard globals, then fail.
function M.environment(is_builtin)
  local api = {
    task = function(name, spec, fn)
      local t = tasks.declare(name, spec, fn, is_builtin)
      return t and nil -- not a tail call: declare reads its caller's line
    end,
    config = config.proxy,
    confirm = ui.confirm,
    print = stdio.print,
  }
  return setmetatable({}, {
    __index = function(_, key)
      if not same_every_run[key] then
        lookups = lookups + 1
      end
      local v = api[key]
      if v == nil and lazy[key] then
        v = require(lazy[key])
        api[key] = v
      elseif v == nil and from_run[key] then
        v = require("dbtrun.run")[key]
        api[key] = v
      elseif v == nil and from_helpers[key] then
        v = require("dbtrun.helpers")[key]
        api[key] = v
      elseif v == nil and from_tasks[key] then
        v = tasks[key]
        api[key] = v
      elseif v == nil and from_prims[key] then
        v = require("dbtrun.prims")[key]
        api[key] = v
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
