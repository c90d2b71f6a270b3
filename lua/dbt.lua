-- dbt: how dbtrun calls dbt — finding the executable (PATH or the project's
-- .venv), building the seed's command lines, folding steps into GitHub
-- Actions groups, and reading run_results.json for summaries.

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local errors = require("dbtrun.errors")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")

local M = {}

config.default({ state_dir = ".artifacts" })

local function github()
  return native.env.get("GITHUB_ACTIONS") == "true"
end

-- The dbt executable: config.dbt, else the project's .venv, else PATH.
function M.executable()
  if config.get("dbt") then
    return config.get("dbt")
  end
  for _, candidate in ipairs({ ".venv/bin/dbt", "venv/bin/dbt" }) do
    if native.fs.stat(candidate) == "file" then
      return candidate
    end
  end
  return "dbt"
end

-- The folder that holds the production state, when it has a manifest.
function M.manifest()
  local dir = config.get("state_dir")
  if native.fs.stat(dir .. "/manifest.json") == "file" then
    return dir .. "/"
  end
  return nil
end

-- Runs `dbt <words...>` as one step: a ::group:: under GitHub Actions, an
-- ::error annotation when it fails. opts: check (default true), env, title.
function M.step(words, opts)
  opts = opts or {}
  local title = opts.title or ("dbt " .. table.concat(words, " ", 1, math.min(#words, 3)))
  if github() then
    io.stdout:write("::group::", title, "\n")
    io.stdout:flush()
  end
  local ok, code = pcall(run.run, {
    M.executable(), words, env = opts.env, check = opts.check,
  })
  if github() then
    io.stdout:write("::endgroup::\n")
    if not ok or code ~= 0 then
      io.stdout:write("::error title=", title, " failed::", title, " failed",
        ok and (" with exit code " .. code) or (": " .. tostring(errors.wrap(code))), "\n")
    end
    io.stdout:flush()
  end
  if not ok then
    error(code, 0)
  end
  return code
end

-- The words of `dbt build` for options:
--   select, exclude, defer (state folder), target, fail_fast, full_refresh, args (extra words)
function M.build_words(o)
  local w = { "build" }
  local function add(...)
    for _, x in ipairs({ ... }) do
      w[#w + 1] = x
    end
  end
  if o.target then add("--target", o.target) end
  if o.select then add("--select", o.select) end
  if o.exclude then add("--exclude", o.exclude) end
  if o.defer then
    add("--defer", "--state", o.defer)
    if config.get("favor_state") then add("--favor-state") end
  end
  if o.fail_fast then add("--fail-fast") end
  if o.full_refresh then add("--full-refresh") end
  if config.get("threads") then add("--threads", tostring(config.get("threads"))) end
  for _, x in ipairs(o.args or {}) do add(x) end
  return w
end

-- dbt.build{ select=, defer=, target=, fail_fast=, args= }
function M.build(o)
  return M.step(M.build_words(o or {}), { env = o and o.env, title = "dbt build" })
end

-- Model results of target/run_results.json: list of {name, status, message}.
function M.results(path)
  local text = native.fs.read(path or "target/run_results.json")
  if not text then
    return nil
  end
  local doc = native.json.decode(text)
  if type(doc) ~= "table" or type(doc.results) ~= "table" then
    return nil
  end
  local out = {}
  for _, r in ipairs(doc.results) do
    out[#out + 1] = {
      id = r.unique_id,
      name = (r.unique_id or "?"):match("[^.]+$"),
      kind = (r.unique_id or "?"):match("^[^.]+"),
      status = r.status,
      message = type(r.message) == "string" and r.message or nil,
    }
  end
  return out
end

-- A Markdown summary of run_results.json for GITHUB_STEP_SUMMARY.
function M.summary_markdown(title, results)
  local counts, failed = {}, {}
  for _, r in ipairs(results) do
    counts[r.status] = (counts[r.status] or 0) + 1
    if r.status == "error" or r.status == "fail" then
      failed[#failed + 1] = r
    end
  end
  local lines = { "### " .. title, "", "| status | count |", "| --- | --- |" }
  local statuses = {}
  for s in pairs(counts) do statuses[#statuses + 1] = s end
  table.sort(statuses)
  for _, s in ipairs(statuses) do
    lines[#lines + 1] = ("| %s | %d |"):format(s, counts[s])
  end
  if #failed > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Failed:"
    for _, r in ipairs(failed) do
      lines[#lines + 1] = ("- `%s` (%s)%s"):format(r.id or r.name, r.kind,
        r.message and (": " .. r.message:gsub("\n", " ")) or "")
    end
  end
  return table.concat(lines, "\n") .. "\n\n"
end

-- Appends the summary of the last dbt run to GITHUB_STEP_SUMMARY, if any.
function M.publish_summary(title)
  local path = native.env.get("GITHUB_STEP_SUMMARY")
  local results = path and M.results()
  if not results then
    return
  end
  local f = io.open(path, "a")
  if f then
    f:write(ui and native.mask.apply(M.summary_markdown(title, results)) or "")
    f:close()
  end
end

return M
