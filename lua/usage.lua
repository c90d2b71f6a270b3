-- usage: `dbtrun --usage TASK` — one task's usage line, doc, parameters,
-- deps and aliases (as `just --usage` shows one recipe). Loaded only then.

local params = require("dbtrun.params")
local tasks = require("dbtrun.tasks")

local M = {}

local kinds = {
  required = "required",
  star = "zero or more words",
  plus = "one or more words",
}

-- --usage TASK: the usage line, then each parameter, the doc, deps and aliases.
function M.text(t)
  local out = { "usage: dbtrun " .. params.signature(t.name, t.params) }
  local doc = tasks.doc(t)
  if doc then
    out[#out + 1] = ""
    out[#out + 1] = doc
  end
  if #t.params > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "parameters:"
    local width, names = 0, {}
    for i, p in ipairs(t.params) do
      names[i] = p.kind == "default" and p.name or params.show(p)
      width = math.max(width, #names[i])
    end
    for i, p in ipairs(t.params) do
      local what = p.kind == "default" and ("default " .. ("%q"):format(p.default)) or kinds[p.kind]
      out[#out + 1] = ("    %s%s  %s"):format(names[i], string.rep(" ", width - #names[i]), what)
    end
  end
  if #t.deps > 0 or t.parallel or #t.aliases > 0 then
    out[#out + 1] = ""
  end
  local function words(list)
    local deps = {}
    for i, d in ipairs(list) do
      deps[i] = type(d) == "table" and table.concat(d, " ") or d
    end
    return table.concat(deps, ", ")
  end
  if #t.deps > 0 then
    out[#out + 1] = "runs first: " .. words(t.deps)
  end
  if t.parallel then
    out[#out + 1] = (#t.deps > 0 and "then at once: " or "runs first, at once: ") .. words(t.parallel)
  end
  if #t.aliases > 0 then
    out[#out + 1] = "aliases: " .. table.concat(t.aliases, ", ")
  end
  return table.concat(out, "\n") .. "\n"
end

return M
