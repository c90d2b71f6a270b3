-- github: GitHub Actions for the dbt tasks — steps folded in ::group::,
-- ::error/::warning/::notice annotations (failed and warned nodes of
-- run_results.json on their files), and Markdown tables of built, warned,
-- skipped and failed nodes appended to the job summary (GITHUB_STEP_SUMMARY).
-- Everything written passes the secret mask. Outside Actions, groups and
-- annotations are no-ops. Also what a run learns from Actions: the pull
-- request it belongs to, and the role its OIDC token is exchanged for.

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local ui = require("dbtrun.ui")

local M = {}

M.SUMMARY_MAX = 1000 * 1000 -- GitHub refuses a step summary over 1 MiB

function M.active()
  return native.env.get("GITHUB_ACTIONS") == "true"
end

-- The pull request this run belongs to: --set pr=N, else the number in the
-- GitHub Actions event (pull_request or issue).
function M.pull_request()
  local pr = tonumber(config.get("pr"))
  local path = native.env.get("GITHUB_EVENT_PATH")
  local text = not pr and path and native.fs.read(path)
  if text then
    local event = native.json.decode(text)
    if type(event) == "table" then
      local holder = event.pull_request or event.issue or {}
      pr = tonumber(holder.number) or tonumber(event.number)
    end
  end
  return pr
end

-- Exports config aws.role_arn as AWS_ROLE_ARN on GitHub Actions, where the
-- credential chain exchanges the workflow's OIDC token for that role (the
-- seed's configure-aws-credentials step). Laptops keep their profile.
function M.aws_role()
  local role = config.get("aws.role_arn")
  if role ~= nil and role ~= false and role ~= "" and M.active() and (native.env.get("AWS_ROLE_ARN") or "") == "" then
    native.env.set("AWS_ROLE_ARN", tostring(role))
  end
end

-- Whether this run is in CI: GitHub Actions, or CI set as most CI services
-- set it (CI=true; "", "false" and "0" are not).
function M.ci()
  local ci = native.env.get("CI")
  return M.active() or (ci ~= nil and ci ~= "" and ci ~= "false" and ci ~= "0")
end

-- Escaping of workflow commands, as @actions/core does it.
function M.escape_data(s)
  return (tostring(s):gsub("%%", "%%25"):gsub("\r", "%%0D"):gsub("\n", "%%0A"))
end

function M.escape_property(s)
  return (M.escape_data(s):gsub(":", "%%3A"):gsub(",", "%%2C"))
end

-- command("error", {title=, file=}, "msg") -> "::error file=...,title=...::msg"
function M.command(name, props, message)
  local keys = {}
  for k in pairs(props or {}) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for i, k in ipairs(keys) do
    keys[i] = k .. "=" .. M.escape_property(props[k])
  end
  return "::" .. name .. (#keys > 0 and " " .. table.concat(keys, ",") or "") .. "::" .. M.escape_data(message or "")
end

local function emit(line)
  ui.write(io.stdout, line .. "\n")
end

-- annotate("error"|"warning"|"notice", message [, {title=, file=, line=}])
function M.annotate(level, message, props)
  if M.active() then
    emit(M.command(level, props, message))
  end
end

-- A group's two ends apart, for a step whose output starts in the middle
-- of one command (dev's one-process dbt: the build after the parse).
function M.group_open(title)
  if M.active() then
    emit("::group::" .. M.escape_data(title))
  end
end

function M.group_close()
  if M.active() then
    emit("::endgroup::")
  end
end

-- group(title, fn, ...) -> fn's results: fn runs between ::group:: and
-- ::endgroup::; an error is raised again after the group is closed.
function M.group(title, fn, ...)
  if not M.active() then
    return fn(...)
  end
  emit("::group::" .. M.escape_data(title))
  local res = table.pack(pcall(fn, ...))
  emit("::endgroup::")
  if not res[1] then
    error(res[2], 0)
  end
  return table.unpack(res, 2, res.n)
end

-- Appends Markdown to the job summary when the runner offers one; returns
-- whether it did. Text past GitHub's limit is cut, never the whole summary lost.
function M.summary(markdown)
  local path = native.env.get("GITHUB_STEP_SUMMARY")
  if not path or path == "" then
    return false
  end
  local f, msg = io.open(path, "a")
  if not f then
    ui.warn("GITHUB_STEP_SUMMARY: " .. tostring(msg))
    return false
  end
  local size = f:seek("end") or 0
  local text = native.mask.apply(markdown)
  if size + #text > M.SUMMARY_MAX then
    text = text:sub(1, math.max(0, M.SUMMARY_MAX - size - 40)) .. "\n\n_(summary truncated)_\n"
  end
  f:write(text)
  f:close()
  return true
end

--- dbt results ----------------------------------------------------------------

local BUCKET = {
  success = "built", pass = "built", ["no-op"] = "built",
  warn = "warned", ["partial success"] = "warned",
  skipped = "skipped",
  error = "failed", fail = "failed", ["runtime error"] = "failed",
}

-- Counts results as built, warned, skipped, failed; also returns the
-- results of each bucket.
function M.tally(results)
  local counts = { built = 0, warned = 0, skipped = 0, failed = 0 }
  local by = { built = {}, warned = {}, skipped = {}, failed = {} }
  for _, r in ipairs(results) do
    local b = BUCKET[r.status] or "failed"
    counts[b] = counts[b] + 1
    table.insert(by[b], r)
  end
  return counts, by
end

local function one_line(s, max)
  s = tostring(s or ""):gsub("%s+", " ")
  return #s > max and s:sub(1, max - 3) .. "..." or s
end

-- Markdown of a step's results for the job summary.
function M.summary_markdown(title, results)
  local counts, by = M.tally(results)
  local lines = {
    ("### %s %s"):format(counts.failed > 0 and "❌" or "✅", title), "",
    "| built | warned | skipped | failed |", "| ---: | ---: | ---: | ---: |",
    ("| %d | %d | %d | %d |"):format(counts.built, counts.warned, counts.skipped, counts.failed), "",
  }
  local function list(bucket, heading, open)
    local items = by[bucket]
    if #items == 0 then
      return
    end
    lines[#lines + 1] = ("<details%s><summary>%s (%d)</summary>"):format(open and " open" or "", heading, #items)
    lines[#lines + 1] = ""
    for i, r in ipairs(items) do
      if i > 200 then
        lines[#lines + 1] = ("- ... and %d more"):format(#items - 200)
        break
      end
      local msg = r.message and (bucket == "failed" or bucket == "warned") and (": " .. one_line(r.message, 300)) or ""
      lines[#lines + 1] = ("- `%s` (%s)%s"):format(r.id, r.status, (msg:gsub("|", "\\|")))
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = "</details>"
    lines[#lines + 1] = ""
  end
  list("failed", "Failed", true)
  list("warned", "Warned", false)
  list("skipped", "Skipped", false)
  list("built", "Built", false)
  return table.concat(lines, "\n") .. "\n"
end

-- Files of nodes (unique_id -> original_file_path) from target/manifest.json,
-- read only for annotations and only when the manifest is of a sane size.
local function node_files()
  local _, size = native.fs.stat("target/manifest.json")
  if not size or size > 64 * 1024 * 1024 then
    return {}
  end
  local doc = native.json.decode(native.fs.read("target/manifest.json") or "")
  local files = {}
  for _, section in ipairs({ "nodes", "sources", "unit_tests" }) do
    for id, node in pairs(type(doc) == "table" and type(doc[section]) == "table" and doc[section] or {}) do
      if type(node) == "table" and type(node.original_file_path) == "string" then
        files[id] = node.original_file_path
      end
    end
  end
  return files
end

-- One annotation per failed or warned node of a step.
function M.annotate_results(results)
  local _, by = M.tally(results)
  if not M.active() or #by.failed + #by.warned == 0 then
    return
  end
  local files = node_files()
  for _, bucket in ipairs({ "failed", "warned" }) do
    for _, r in ipairs(by[bucket]) do
      M.annotate(bucket == "failed" and "error" or "warning", r.message or r.status, {
        title = ("%s %s: %s"):format(r.kind, r.name, r.status),
        file = files[r.id],
      })
    end
  end
end

-- The results of a dbt step (dbt.read_results) as annotations and a section
-- of the job summary.
function M.report(title, results)
  M.annotate_results(results)
  M.summary(M.summary_markdown(title, results))
end

return M
