-- list: what dbtrun shows about tasks without running any — the --list
-- table (aligned like just's), --json, --summary and shell completions.

local native = require("dbtrun.native")
local params = require("dbtrun.params")
local tasks = require("dbtrun.tasks")
local ui = require("dbtrun.ui")

local M = {}

local MAX_ALIGN = 50 -- signatures longer than this do not push the doc column

local function doc_of(t)
  local doc = tasks.doc(t)
  if #t.aliases > 0 then
    local tag = "[alias: " .. table.concat(t.aliases, ", ") .. "]"
    doc = doc and (doc .. " " .. tag) or tag
  end
  return doc
end

-- The --list text: ungrouped tasks first, then each [group] in name order.
-- This runs at every --list: each task's signature is made once, and the
-- text is one concat of its pieces (no string per line).
function M.text(heading)
  local groups, names, sigs, width = {}, {}, {}, 0
  for _, t in ipairs(tasks.list(false)) do
    local g = t.group or ""
    local members = groups[g]
    if not members then
      members = {}
      groups[g] = members
      names[#names + 1] = g
    end
    members[#members + 1] = t
    local sig = params.signature(t.name, t.params)
    sigs[t] = sig
    if #sig <= MAX_ALIGN and #sig > width then
      width = #sig
    end
  end
  table.sort(names)
  local dim, undim = ui.brush("dim")
  local pads = {} -- width -> that many spaces
  local out = { heading or "Available tasks:" }
  for _, g in ipairs(names) do
    if g ~= "" then
      out[#out + 1] = "    " .. ui.paint("cyan", "[" .. g .. "]")
    end
    for _, t in ipairs(groups[g]) do
      local sig = sigs[t]
      local doc = doc_of(t)
      if doc then
        local pad = width - #sig + 1
        pad = pad > 1 and pad or 1
        local spaces = pads[pad]
        if not spaces then
          spaces = string.rep(" ", pad)
          pads[pad] = spaces
        end
        out[#out + 1] = "    " .. sig .. spaces .. dim .. "# " .. doc .. undim
      else
        out[#out + 1] = "    " .. sig
      end
    end
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

function M.json()
  local list = setmetatable({}, native.json.array_mt)
  for _, t in ipairs(tasks.list(false)) do
    local plist = setmetatable({}, native.json.array_mt)
    for _, p in ipairs(t.params) do
      plist[#plist + 1] = { name = p.name, kind = p.kind, default = p.default }
    end
    local deps = setmetatable({}, native.json.array_mt)
    for _, d in ipairs(t.deps) do
      deps[#deps + 1] = type(d) == "table" and table.concat(d, " ") or d
    end
    local parallel = t.parallel and setmetatable({}, native.json.array_mt) or nil
    for _, d in ipairs(t.parallel or {}) do
      parallel[#parallel + 1] = type(d) == "table" and table.concat(d, " ") or d
    end
    list[#list + 1] = {
      name = t.name,
      doc = tasks.doc(t),
      params = plist,
      deps = deps,
      parallel_deps = parallel,
      group = t.group,
      aliases = setmetatable({ table.unpack(t.aliases) }, native.json.array_mt),
      builtin = t.builtin,
      usage = params.signature(t.name, t.params),
    }
  end
  return native.json.encode({ tasks = list }, { indent = true }) .. "\n"
end

function M.summary()
  local names = {}
  for _, t in ipairs(tasks.list(false)) do
    names[#names + 1] = t.name
  end
  return table.concat(names, " ") .. "\n"
end

return M
