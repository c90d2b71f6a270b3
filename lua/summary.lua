-- summary: the one line each built-in task ends with — how many commands
-- (steps) it ran, how long the whole run took, what dbt built (from
-- target/run_results.json) and what went to a store:
--   dev: 3 steps in 12.4s; built 4 nodes (2 modified, 2 downstream), 9 tests passed
-- Nothing is printed under --dry-run (nothing was built) or --quiet.

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local ui = require("dbtrun.ui")

local M = {}

M.RESULTS = "target/run_results.json"

local function plural(n, word)
  return ("%d %s%s"):format(n, word, n == 1 and "" or "s")
end

local function duration(seconds)
  if seconds < 60 then
    return ("%.1fs"):format(seconds)
  end
  return ("%dm%02ds"):format(seconds // 60, math.floor(seconds % 60))
end

-- What a dbt run built, read from run_results.json now (call it right after
-- the build: a later dbt command rewrites the file). nil when there is none.
-- { nodes = { unique_id, ... } of non-tests, passed = tests that passed, warned = }
function M.results(path)
  local text = native.fs.read(path or M.RESULTS)
  local ok, doc = pcall(native.json.decode, text or "")
  if not ok or type(doc) ~= "table" or type(doc.results) ~= "table" then
    return nil
  end
  local out = { nodes = {}, passed = 0, warned = 0 }
  for _, r in ipairs(doc.results) do
    local id, status = tostring(r.unique_id), tostring(r.status)
    if id:match("^test%.") or id:match("^unit_test%.") then
      out.passed = out.passed + (status == "pass" and 1 or 0)
    elseif status ~= "skipped" then
      out.nodes[#out.nodes + 1] = id
    end
    out.warned = out.warned + (status == "warn" and 1 or 0)
  end
  return out
end

-- "built 4 nodes (2 modified, 2 downstream), 9 tests passed"; the split
-- needs the plan (its modified_ids: nodes changed themselves).
local function built_text(r, plan)
  local text = "built " .. plural(#r.nodes, "node")
  if plan and plan.modified_ids then
    local direct = 0
    for _, id in ipairs(r.nodes) do
      direct = direct + (plan.modified_ids[id] and 1 or 0)
    end
    text = text .. (" (%d modified, %d downstream)"):format(direct, #r.nodes - direct)
  end
  if r.passed > 0 then
    text = text .. (", %d %s passed"):format(r.passed, r.passed == 1 and "test" or "tests")
  end
  if r.warned > 0 then
    text = text .. ", " .. plural(r.warned, "warning")
  end
  return text
end

-- "published manifest.json, run_results.json, history/<sha>/ to s3://b/artifacts/,
-- docs (57 files, 3 uploaded) to s3://b/docs/": puts grouped by location (a
-- history entry's files named once, by their folder), then each sync.
local function published_text(records)
  local parts, groups = {}, {}
  local docs = tostring(config.get("docs") or "")
  for _, p in ipairs(records) do
    if p.name then
      local g = groups[p.location]
      if not g then
        g = { names = {}, seen = {} }
        groups[p.location] = g
        parts[#parts + 1] = g
      end
      local name = p.name:match("^(history/[^/]+/)") or (p.name .. (p.changed and "" or " (unchanged)"))
      if not g.seen[name] then
        g.seen[name] = true
        g.names[#g.names + 1] = name
      end
      g.location = p.location
    else
      local what = (p.dst == docs and "docs" or p.src)
      parts[#parts + 1] = ("%s (%s, %d uploaded) to %s"):format(what, plural(p.files, "file"), p.copied, p.dst)
    end
  end
  for i, part in ipairs(parts) do
    if type(part) == "table" then
      parts[i] = ("%s to %s"):format(table.concat(part.names, ", "), part.location)
    end
  end
  return #parts > 0 and ("published " .. table.concat(parts, ", ")) or nil
end

-- The closing line of built-in task `name`. opts: results (of M.results,
-- or true to read them now), plan (dbt.plan's summary), note (a last part,
-- e.g. "nothing modified: nothing built").
function M.line(name, opts)
  opts = opts or {}
  local parts = { ("%s in %s"):format(plural(ui.commands, "step"), duration(native.term.clock() - (ui.started or 0))) }
  local results = opts.results == true and M.results() or opts.results
  if results then
    parts[#parts + 1] = built_text(results, opts.plan)
  end
  local store = package.loaded["dbtrun.store"] -- loaded only if something used a store
  parts[#parts + 1] = store and published_text(store.published) or nil
  parts[#parts + 1] = opts.note
  return name .. ": " .. table.concat(parts, "; ")
end

-- Prints M.line on stderr (not under --dry-run or --quiet).
function M.done(name, opts)
  if not ui.dry_run then
    ui.info(M.line(name, opts))
  end
end

return M
