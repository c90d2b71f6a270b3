-- params: task parameters in just's notation — required NAME, defaulted
-- NAME=value, variadic *NAME (zero or more) and +NAME (one or more) — and
-- the binding of command-line words to them.

local M = {}

-- One parameter's text ("TARGET=dev") -> its table, or nil and a message.
local function parse_one(spec)
  local sigil, name, rest = spec:match("^([%*%+]?)([%a_][%w_]*)(.*)$")
  if not name or (rest ~= "" and rest:sub(1, 1) ~= "=") or (sigil ~= "" and rest ~= "") then
    return nil, ("invalid parameter '%s'"):format(spec)
  end
  local p = { name = name, kind = "required" }
  if sigil == "*" then
    p.kind = "star"
  elseif sigil == "+" then
    p.kind = "plus"
  elseif rest ~= "" then
    p.kind, p.default = "default", rest:sub(2)
  end
  return p
end

-- Parameter texts already parsed -> their tables, shared by every task that
-- declares the same one (a task file repeats "TARGET=dev" and "*ARGS"):
-- parsing runs for each task at every start. Never written after parsing.
local parsed = {}

-- Parses a list like { "SELECTION", "TARGET=dev", "*ARGS" }.
-- Returns the parameter list, or nil and a message.
function M.parse(specs)
  local list = {}
  for i, spec in ipairs(specs or list) do
    local p = parsed[spec]
    if not p then
      if type(spec) ~= "string" then
        return nil, ("parameter %d must be a string"):format(i)
      end
      local msg
      p, msg = parse_one(spec)
      if not p then
        return nil, msg
      end
      parsed[spec] = p
    end
    local name, kind = p.name, p.kind
    for j = 1, i - 1 do
      if list[j].name == name then
        return nil, ("parameter '%s' appears twice"):format(name)
      end
    end
    local prev = list[i - 1]
    if prev and (prev.kind == "star" or prev.kind == "plus") then
      return nil, "a variadic parameter must be the last one"
    end
    if prev and prev.kind == "default" and kind == "required" then
      return nil, ("required parameter '%s' follows a parameter with a default"):format(name)
    end
    list[i] = p
  end
  return list
end

-- How a parameter is shown in --list and usage lines; made once per
-- parameter table (they are shared, see `parsed`).
local shown = {}

function M.show(p)
  local text = shown[p]
  if not text then
    if p.kind == "star" then
      text = "*" .. p.name
    elseif p.kind == "plus" then
      text = "+" .. p.name
    elseif p.kind == "default" then
      text = ("%s=%q"):format(p.name, p.default)
    else
      text = p.name
    end
    shown[p] = text
  end
  return text
end

function M.signature(name, list)
  local n = #list
  if n == 0 then
    return name
  elseif n == 1 then
    return name .. " " .. M.show(list[1])
  end
  local words = { name }
  for i = 1, n do
    words[i + 1] = M.show(list[i])
  end
  return table.concat(words, " ")
end

-- Binds command-line words to parameters. Returns the argument table the
-- task function receives, or nil and a message.
function M.bind(list, words)
  local args, i = {}, 1
  for _, p in ipairs(list) do
    if p.kind == "star" or p.kind == "plus" then
      local rest = {}
      for j = i, #words do
        rest[#rest + 1] = words[j]
      end
      if p.kind == "plus" and #rest == 0 then
        return nil, ("missing argument for +%s (one or more)"):format(p.name)
      end
      args[p.name], i = rest, #words + 1
    elseif words[i] ~= nil then
      args[p.name], i = words[i], i + 1
    elseif p.kind == "default" then
      args[p.name] = p.default
    else
      return nil, ("missing argument for %s"):format(p.name)
    end
  end
  if i <= #words then
    return nil, ("too many arguments (%d extra, first '%s')"):format(#words - i + 1, words[i])
  end
  return args
end

-- Copies `args` and fills in the defaults of parameters it lacks, for a
-- body called with another task's arguments (builtin("name")(a)).
function M.defaults(list, args)
  local out = {}
  for k, v in pairs(args) do
    out[k] = v
  end
  for _, p in ipairs(list) do
    if out[p.name] == nil and p.kind == "default" then
      out[p.name] = p.default
    elseif out[p.name] == nil and p.kind ~= "required" then
      out[p.name] = {}
    end
  end
  return out
end

return M
