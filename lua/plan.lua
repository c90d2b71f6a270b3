-- plan: state:modified+ for tasks — options, dbt parse for a stale manifest,
-- the report, the GitHub step summary and sticky PR comment (the comparison is
-- native: src/dbt/plan.c). dev and ci call M.before_build and read its
-- summary (summary.selected == 0: nothing to build).

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local errors = require("dbtrun.errors")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")
local artifacts = require("dbtrun.artifacts")
local dbt = require("dbtrun.dbt")
local profile = require("dbtrun.profile")
local github = require("dbtrun.github")

local M = {}

local FORMATS = { text = true, json = true, markdown = true }
M.COMMENT_MAX = 65000 -- bytes; GitHub's comment limit is 65,536 characters
M.MARKER = "<!-- dbtrun-plan -->" -- finds our comment among the others

M.USAGE = "usage: dbtrun plan [--state DIR] [--target-manifest PATH] "
  .. "[--format text|json|markdown] [--max-bytes N] [--no-parse] [--no-comment] [--explain [NODE...]]"

local function usage(fmt, ...)
  errors.raise("usage", "plan: " .. fmt .. "\n" .. M.USAGE, ...)
end

-- Words of the plan task -> options for M.run.
function M.parse_args(words)
  local o = { format = "text", parse = true }
  local flags = { ["--state"] = "state", ["--target-manifest"] = "target", ["--format"] = "format",
    ["--max-bytes"] = "max_bytes" }
  local i = 1
  while i <= #words do
    local w = words[i]
    local name, value = w:match("^(%-%-[%w%-]+)=(.*)$")
    name = name or w
    if name == "--no-parse" and not value then
      o.parse = false
    elseif name == "--explain" and not value then
      o.explain = o.explain or true
    elseif o.explain and not w:match("^%-") then
      -- the nodes --explain names (unique ids or model names)
      o.explain = o.explain == true and {} or o.explain
      o.explain[#o.explain + 1] = w
    elseif name == "--no-comment" and not value then
      o.comment = false
    elseif flags[name] then
      if not value then
        i = i + 1
        value = words[i]
        if value == nil then
          usage("%s needs a value", name)
        end
      end
      o[flags[name]] = value
    else
      usage("unknown argument '%s'", w)
    end
    i = i + 1
  end
  if not FORMATS[o.format] then
    usage("--format must be text, json or markdown, not '%s'", o.format)
  end
  if o.max_bytes and not tonumber(o.max_bytes) then
    usage("--max-bytes must be a number")
  end
  o.max_bytes = tonumber(o.max_bytes)
  return o
end

-- The files and folders whose change makes the current manifest stale:
-- dbt_project.yml's *-paths (else dbt's defaults), the project files and
-- the installed packages.
function M.inputs(project_text)
  local inputs = { "dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml" }
  local defaults = {
    ["model-paths"] = "models",
    ["macro-paths"] = "macros",
    ["seed-paths"] = "seeds",
    ["snapshot-paths"] = "snapshots",
    ["test-paths"] = "tests",
    ["analysis-paths"] = "analyses",
  }
  for key, default in pairs(defaults) do
    local list = project_text:match("\n%s*" .. key:gsub("%-", "%%-") .. "%s*:%s*(%b[])")
    local found = false
    for dir in (list or ""):gmatch("[\"']([^\"']+)[\"']") do
      inputs[#inputs + 1] = dir
      found = true
    end
    if not found then
      inputs[#inputs + 1] = default
    end
  end
  inputs[#inputs + 1] = dbt.packages_dir(project_text) -- a `dbt deps` changes what dbt parses
  table.sort(inputs)
  return inputs
end

-- The threads of the build the estimate simulates: config threads, else
-- the first `threads:` of profiles.yml (the project's, then DBT_PROFILES_DIR,
-- then ~/.dbt), else dbt's default of 1.
function M.threads()
  local n = tonumber(config.get("threads"))
  if n then
    return math.floor(n)
  end
  local dirs = { ".", native.env.get("DBT_PROFILES_DIR"), (native.env.get("HOME") or "") .. "/.dbt" }
  for _, dir in ipairs(dirs) do
    local text = dir and dir ~= "" and native.fs.read(dir .. "/profiles.yml")
    n = text and tonumber(text:match("\n%s*threads%s*:%s*(%d+)"))
    if n then
      return n
    end
  end
  return 1
end

-- The words of the plan's `dbt parse` into the folder of the target
-- manifest, for dbt target `dbt_target` (nil: the profile's default) and
-- `extra` words (dbt.parse_words of the build that follows).
local function parse_words(target, dbt_target, extra)
  local words = { "parse" }
  if dbt_target then
    words[#words + 1] = "--target"
    words[#words + 1] = dbt_target
  end
  local dir = target:match("^(.*)/manifest%.json$")
  if dir and dir ~= "target" then
    words[#words + 1] = "--target-path"
    words[#words + 1] = dir
  end
  for _, w in ipairs(extra or {}) do
    words[#words + 1] = w
  end
  return words
end

-- Variables a shell changes between two commands without changing a parse.
local VOLATILE = { _ = true, OLDPWD = true, SHLVL = true, COLUMNS = true, LINES = true }

-- What decides dbt's parse besides the project's files: the parse's words,
-- dbt's version, profiles.yml, and the environment (any file may read an
-- env_var). Their SHA-256, so no secret among them reaches the file it is
-- kept in; nil when there is no SHA-256 (then the manifest is parsed).
function M.parse_key(words)
  local parts = { table.concat(words, "\0"), dbt.local_version() or "?" }
  for _, dir in ipairs(profile.profile_dirs(dbt.flag(words, "--profiles-dir"))) do
    local text = native.fs.read(dir:gsub("/+$", "") .. "/profiles.yml")
    if text then
      parts[#parts + 1] = text
      break
    end
  end
  local env, names = native.env.all(), {}
  for name in pairs(env) do
    if not VOLATILE[name] then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    parts[#parts + 1] = name .. "=" .. env[name]
  end
  return (native.plan.fingerprint(table.concat(parts, "\1")))
end

-- Beside the manifest: the key of the parse (or build) that wrote it, and
-- that manifest's invocation id (a manifest written since by another
-- command does not match).
local function key_path(target)
  return (target:match("^(.*)/[^/]+$") or ".") .. "/.dbtrun-parse"
end

-- Records that `target` was written with the settings of `words` (after
-- the plan's dbt parse, and after a build with the same settings).
function M.record(target, words)
  local id, key = dbt.invocation_id(target), M.parse_key(words)
  if id and key then
    native.fs.write(key_path(target), key .. "\n" .. id .. "\n", 384) -- 0600
  end
end

-- Whether the manifest was written with other settings than `words`; why.
local function other_settings(target, words)
  local key, id = (native.fs.read(key_path(target)) or ""):match("^(%x+)\n([^\n]+)\n")
  if not key or id ~= dbt.invocation_id(target) then
    return true, target .. " was not written by dbtrun's dbt parse or build"
  end
  if key ~= M.parse_key(words) then
    return true, target .. " was parsed with other settings (target, vars, profile, environment or dbt version)"
  end
  return false
end

-- After dbt parse with `words` ended with `code`: recorded, or a failure.
local function parsed(target, words, code)
  if code ~= 0 then
    errors.raise("failure", "plan: dbt parse failed with exit code %d", code)
  end
  M.record(target, words)
end

-- dbt parse with `words` into the folder of the target manifest. Its
-- output stays off stdout, which belongs to the report; it is shown when dbt
-- fails.
local function dbt_parse(target, why, words)
  ui.info("plan: " .. why .. ": running dbt parse")
  local code, out = run.run { dbt.ready(words), words, capture = true, check = false }
  if code ~= 0 then
    ui.write(io.stderr, out or "")
  end
  parsed(target, words, code)
end

-- Whether the manifest must be parsed again for the parse `words`; why.
local function staleness(target, words, project)
  local stale, why = native.plan.stale(target, M.inputs(project))
  if not stale then
    stale, why = other_settings(target, words)
  end
  return stale, why
end

-- The sticky comment: created once per pull request, then updated. A
-- failure (a fork's read-only token) is a warning, never the build's end.
local function comment(body, pr)
  local token = native.env.get("GITHUB_TOKEN")
  native.mask.add(token)
  local api = native.env.get("GITHUB_API_URL")
  local id, how = native.plan.comment {
    api_url = api ~= nil and api ~= "" and api or "https://api.github.com",
    token = token,
    repo = native.env.get("GITHUB_REPOSITORY") or "",
    pr = pr,
    marker = M.MARKER,
    body = body,
  }
  if id then
    ui.info(("plan: %s the pull-request comment (#%d)"):format(how, id))
  else
    ui.warn("plan: pull-request comment: " .. how)
  end
end

-- The current manifest of options o: o.target, else the one in
-- --target-path of o.parse_args, else target/manifest.json.
function M.target_manifest(o)
  return o.target or ((dbt.flag(o.parse_args or {}, "--target-path") or "target"):gsub("/+$", "") .. "/manifest.json")
end

-- Compares and reports. o: state (folder), target (manifest path), format,
-- max_bytes, parse (refresh a stale manifest; default true), dbt_target
-- (--target of that dbt parse), parse_args (more words for it: those of
-- dbt.parse_words(build ARGS)), parsed (the exit code of that dbt parse,
-- run already by dev's one-process dbt: M.pending_parse), explain (true or a list of node names: the
-- evidence of each change), quiet (no
-- report on stdout), comment (default true: the pull-request comment when
-- GITHUB_TOKEN and a pull request are there). Returns the summary table of plan.compare (with .text),
-- or nil when there is no production manifest.
function M.run(o)
  o = o or {}
  local state = (o.state or config.get("state_dir") or ".artifacts"):gsub("/+$", "") .. "/manifest.json"
  local target = M.target_manifest(o)
  if native.fs.stat(state) ~= "file" then
    ui.warn(("plan: no production manifest at %s (dbtrun fetch-manifest gets it): "
      .. "without state, dbt builds everything"):format(state))
    return nil
  end
  local project = native.fs.read("dbt_project.yml") or ""
  if o.parse ~= false then
    local words = parse_words(target, o.dbt_target, o.parse_args)
    if o.parsed then
      parsed(target, words, o.parsed)
    else
      local stale, why = staleness(target, words, project)
      if stale then
        dbt_parse(target, why, words)
      end
    end
  end
  local step_summary = native.env.get("GITHUB_STEP_SUMMARY")
  if step_summary == "" then
    step_summary = nil
  end
  local token = native.env.get("GITHUB_TOKEN")
  local pr = o.comment ~= false and token ~= nil and token ~= "" and github.pull_request()
  local results = state:gsub("manifest%.json$", "run_results.json")
  local text, summary, why = native.plan.compare(state, target, {
    explain = o.explain,
    -- the step summary and the PR comment carry the evidence, collapsed
    markdown_explain = (step_summary ~= nil or pr) and true or false,
    run_results = native.fs.stat(results) == "file" and results or nil,
    threads = M.threads(),
    format = o.format or "text",
    max_bytes = o.max_bytes,
    markdown = step_summary ~= nil,
    markdown_max = github.SUMMARY_MAX,
    comment_max = pr and (M.COMMENT_MAX - #M.MARKER - 1) or nil,
    compare_unrendered_sources = project:match("state_modified_compare_more_unrendered_values%s*:%s*[Tt]rue") ~= nil,
    state_label = state,
    current_label = target,
  })
  if not text then
    -- A malformed manifest is not "nothing modified": kind manifest ends
    -- the run with exit 2, also from ci and dev.
    -- A name --explain cannot find is the user's word (exit 2); the evidence
    -- the step summary asks for on its own is not worth that.
    local kind = why == "explain" and type(o.explain) == "table" and "usage" or "failure"
    errors.raise(why == "manifest" and "manifest" or kind, "plan: %s", summary)
  end
  if summary.estimate_warning then
    ui.warn("plan: no build-time estimate: " .. summary.estimate_warning)
  end
  summary.text = text
  if not o.quiet then
    ui.write(io.stdout, text:sub(-1) == "\n" and text or text .. "\n")
  end
  if step_summary then
    github.summary(summary.markdown .. "\n")
  end
  if pr then
    comment(native.mask.apply(summary.comment), pr)
  end
  return summary
end

-- The nodes ({id=, name=, path= (original_file_path), ...}) of the manifest
-- at `path`, by unique id.
local function file_paths(path)
  local names, msg = native.plan.names(path)
  if not names then
    errors.raise("manifest", "plan.run: %s", msg)
  end
  local paths = {}
  for _, n in ipairs(names) do
    paths[n.id] = n
  end
  return paths
end

-- The plan as data, for task files (plan.run{} there). o: state (folder),
-- target (manifest path), parse (default true), dbt_target. Raises when
-- there is no production manifest: a team's lint of "the changed files"
-- must not pass silently on an empty list. Returns { nodes = {{unique_id=,
-- resource_type=, name=, original_file_path=, status=, reasons={...},
-- selected=}, ...} (sorted by unique id), new=, modified=, removed=,
-- selected= (counts), state=, current= (manifest paths) }.
function M.data(o)
  local state = (o.state or config.get("state_dir") or ".artifacts"):gsub("/+$", "") .. "/manifest.json"
  local target = o.target or "target/manifest.json"
  if native.fs.stat(state) ~= "file" then
    local where = errors.where() -- the task-file line of plan.run{}
    errors.raise("failure", "%splan.run: no production manifest at %s: get it with `dbtrun fetch-manifest` "
      .. "(or deps = { \"fetch-manifest\" } in the task)", where and (where .. ": ") or "", state)
  end
  if o.parse ~= false then
    local stale, why = native.plan.stale(target, M.inputs(native.fs.read("dbt_project.yml") or ""))
    if stale then
      dbt_parse(target, why, parse_words(target, o.dbt_target))
    end
  end
  local text, msg, why = native.plan.compare(state, target, { format = "json" })
  if not text then
    errors.raise(why == "manifest" and "manifest" or "failure", "plan.run: %s", msg)
  end
  local doc = native.json.decode(text)
  local current = file_paths(target)
  local old = doc.summary.removed > 0 and file_paths(state) or {}
  local nodes, seen = {}, {}
  local function add(id, resource_type, status, reasons, selected)
    seen[id] = true
    local node = current[id] or old[id] or {}
    nodes[#nodes + 1] = { unique_id = id, resource_type = resource_type, name = node.name,
      original_file_path = node.path, status = status, reasons = reasons, selected = selected }
  end
  for _, e in ipairs(doc.changes) do
    add(e.unique_id, e.resource_type, e.status, e.reasons, e.selected)
  end
  for _, s in ipairs(doc.selected) do
    if not seen[s.unique_id] then
      add(s.unique_id, s.resource_type, "downstream", setmetatable({}, native.json.array_mt), true)
    end
  end
  table.sort(nodes, function(a, b)
    return a.unique_id < b.unique_id
  end)
  local sum = doc.summary
  return { nodes = nodes, new = sum.new, modified = sum.modified, removed = sum.removed,
    selected = sum.selected, state = state, current = target }
end

-- The plan before a build (dev, ci): printed, and its summary returned
-- (nil without a production manifest, in a dry run, when config plan is
-- false, or when it could not be made — a warning: dbt's own build says more).
function M.before_build(opts)
  if not config.get("plan") or ui.dry_run or not artifacts.state() then
    return nil
  end
  local ok, res = pcall(M.run, opts or {})
  if not ok then
    local err = errors.wrap(res)
    -- An unreadable or malformed manifest stops the task: building anyway
    -- would trust the same broken state. So do a missing dbt or profile
    -- (dbt.ready): the build would only fail the same way.
    if err.kind == "interrupt" or err.kind == "manifest" or err.kind == "usage" or err.code == 127 then
      error(err, 0)
    end
    local msg = tostring(err)
    ui.warn((msg:find("^plan: ") and "" or "plan: ") .. msg .. " (building anyway)")
    return nil
  end
  return res
end

-- The dbt parse before_build(opts) would run now, for dev to run it in
-- the build's dbt process (dbt.fused_step): { why =, words = } (then give
-- before_build opts.parsed, that parse's exit code), or nil when the plan
-- would not parse (no plan, no production manifest, a fresh manifest).
function M.pending_parse(opts)
  if not config.get("plan") or ui.dry_run or not artifacts.state() or opts.parse == false then
    return nil
  end
  local state = (opts.state or config.get("state_dir") or ".artifacts"):gsub("/+$", "") .. "/manifest.json"
  if native.fs.stat(state) ~= "file" then
    return nil
  end
  local target = M.target_manifest(opts)
  local words = parse_words(target, opts.dbt_target, opts.parse_args)
  local stale, why = staleness(target, words, native.fs.read("dbt_project.yml") or "")
  return stale and { why = why, words = words } or nil
end

-- After the build that followed before_build(opts): its manifest was parsed
-- with the plan's settings, so the next plan may take it as it is when no
-- file changed since.
function M.after_build(opts)
  opts = opts or {}
  if not config.get("plan") or ui.dry_run or opts.parse == false then
    return
  end
  local target = M.target_manifest(opts)
  M.record(target, parse_words(target, opts.dbt_target, opts.parse_args))
end

return M
