-- artifacts: what the built-in tasks move between the project and the
-- artifact store — the production manifest (fetched for deferral, checked,
-- published after a deploy) and the docs site (exactly the site's files,
-- published with CloudFront's cache invalidated). Locations are config
-- artifacts and docs (lua/store.lua).

local native = require("dbtrun.native")
local aws = require("dbtrun.aws")
local config = require("dbtrun.config")
local dbt = require("dbtrun.dbt")
local errors = require("dbtrun.errors")
local github = require("dbtrun.github")
local store = require("dbtrun.store")
local tasks = require("dbtrun.tasks")
local ui = require("dbtrun.ui")
local util = require("dbtrun.util")

local M = {}

local isfile, blank, head = util.isfile, util.blank, util.head

M.MANIFEST_SCHEMA_MAX = 12 -- the newest manifest schema (v12) this file knows

-- The docs site: what `dbt docs generate` writes for the site to work
-- (run_results.json when present). Only these leave target/ unless config
-- docs_include adds more.
M.DOCS_SITE = { "index.html", "catalog.json", "manifest.json", "run_results.json" }

-- The folder that holds the production state (--state), when it has a manifest.
function M.state()
  local dir = config.get("state_dir")
  if isfile(dir .. "/manifest.json") then
    return dir .. "/"
  end
  return nil
end

-- Checks the start of a manifest (its metadata comes first). Returns the
-- list of warnings; raises when the text is not a dbt manifest.
function M.check_manifest(text, local_version, label)
  label = label or "manifest"
  local schema = text:match('"dbt_schema_version":%s*"([^"]+)"')
  local n = schema and tonumber(schema:match("/manifest/v(%d+)%.json$"))
  if not n then
    errors.raise("failure", "%s is not a dbt manifest (metadata.dbt_schema_version: %s)", label,
      schema or "missing")
  end
  local warnings = {}
  if n > M.MANIFEST_SCHEMA_MAX then
    warnings[#warnings + 1] = ("%s has manifest schema v%d, newer than v%d: the local dbt may not read it")
      :format(label, n, M.MANIFEST_SCHEMA_MAX)
  end
  local version = text:match('"dbt_version":%s*"([^"]+)"')
  local function minor(v)
    return v and v:match("^(%d+%.%d+)")
  end
  if version and local_version and minor(version) ~= minor(local_version) then
    warnings[#warnings + 1] = ("%s was written by dbt %s, the local dbt is %s: across minor versions "
      .. "state:modified can select nodes that did not change"):format(label, version, local_version)
  end
  return warnings
end

-- Checks a manifest just fetched into `path` (M.check_manifest): warnings
-- printed; not a manifest: removed and raised.
local function check_fetched(path)
  local ok_check, warnings = pcall(M.check_manifest, head(path, 4096) or "", dbt.local_version(), path)
  if not ok_check then
    native.fs.rm(path) -- dbt must not defer to it on the next run either
    error(warnings, 0)
  end
  for _, w in ipairs(warnings) do
    ui.warn(w)
  end
end

-- fetch-manifest: config artifacts' manifest.json into the state folder,
-- replaced atomically and not downloaded when unchanged. A missing one is a
-- warning (dbt then builds everything); another failure is one too when an
-- earlier manifest is there to use, else it ends the task.
function M.fetch_manifest()
  local location = tostring(config.get("artifacts"))
  local path = config.get("state_dir") .. "/manifest.json"
  github.aws_role()
  local ok, res = pcall(store.get, location, "manifest.json", path)
  if not ok then
    local err = errors.wrap(res)
    if err.kind == "interrupt" then
      error(err, 0)
    elseif err.code == "NoSuchKey" and isfile(path) then
      ui.warn(("no production manifest in %s: keeping %s from an earlier fetch"):format(location, path))
    elseif err.code == "NoSuchKey" then
      ui.warn(("no production manifest in %s: running without deferral"):format(location))
      return nil
    elseif isfile(path) then
      ui.warn(("cannot fetch the production manifest (%s): using %s from an earlier fetch"):format(tostring(err), path))
    else
      error(err, 0)
    end
  elseif ui.dry_run then
    return nil
  elseif res.changed then
    ui.info(("fetched the production manifest from %s (%d bytes)"):format(location, res.size or 0))
  else
    ui.info(("production manifest unchanged in %s: nothing downloaded"):format(location))
  end
  check_fetched(path)
  M.fetch_run_results(location)
  return path
end

-- Production's run_results.json beside the manifest (the plan's build-time
-- estimate), optional: a missing or unreachable one only means no estimate.
-- One that production no longer has is removed, never left stale.
function M.fetch_run_results(location)
  local path = config.get("state_dir") .. "/run_results.json"
  local ok, res = pcall(store.get, location or tostring(config.get("artifacts")), "run_results.json", path)
  if ok then
    return path
  end
  local err = errors.wrap(res)
  if err.kind == "interrupt" then
    error(err, 0)
  elseif err.code == "NoSuchKey" then
    native.fs.rm(path)
  else
    ui.info("no production run_results.json (" .. tostring(err) .. "): the plan shows no build-time estimate")
  end
  return nil
end

-- deploy: the build's run_results.json beside the manifest (production
-- timings for the plan's estimate). Called right after the build, before
-- `dbt docs generate` writes its own run_results.json.
function M.publish_run_results()
  if not isfile(dbt.RESULTS) then
    return
  end
  local location = tostring(config.get("artifacts"))
  store.put(location, "run_results.json", dbt.RESULTS)
  if not ui.dry_run then
    ui.info(("published the build's run_results.json in %s"):format(location))
  end
end

-- deploy: target/manifest.json to config artifacts, for future deferral.
function M.publish_manifest()
  local location = tostring(config.get("artifacts"))
  github.aws_role()
  local r = store.put(location, "manifest.json", "target/manifest.json")
  if not ui.dry_run then
    ui.info(("%s the production manifest in %s"):format(r.changed and "published" or "unchanged:", location))
  end
end

--- History -----------------------------------------------------------------------------
-- deploy also keeps each deployed commit's manifest.json and
-- run_results.json under history/<sha>/ of config artifacts (manifest.json
-- at the top stays the latest); fetch-manifest --at and ci's merge-base
-- state read them back. Retention: config history_keep and history_days.

M.HISTORY = "history/"

local function git(words)
  local argv = { "git" }
  for _, w in ipairs(words) do
    argv[#argv + 1] = w
  end
  local code, out, signal = native.proc.run(argv, { capture = true })
  if signal then
    error(errors.interrupt(signal), 0)
  end
  return code == 0 and (out or ""):match("^%s*(.-)%s*$") or nil
end

local function is_sha(text)
  return text ~= nil and (#text == 40 or #text == 64) and text:match("^%x+$") ~= nil
end

-- The commit `ref` names (git rev-parse REF^{commit}), full and lower-case,
-- or nil when git does not know it.
function M.resolve_commit(ref)
  local sha = git({ "rev-parse", "--verify", "--quiet", ref .. "^{commit}" })
  return is_sha(sha) and sha:lower() or nil
end

-- The commit being deployed: GITHUB_SHA, else git rev-parse HEAD; nil
-- (with the reason) when neither gives one.
function M.commit_sha()
  local env = native.env.get("GITHUB_SHA")
  if not blank(env) then
    if is_sha(env) then
      return env:lower()
    end
    return nil, ("GITHUB_SHA %q is not a commit id"):format(env)
  end
  local sha = M.resolve_commit("HEAD")
  if sha then
    return sha
  end
  return nil, "no GITHUB_SHA and no git commit here (git rev-parse HEAD failed)"
end

-- history/<sha>/ entries of a listing: { {sha=, time=, names={...}}, ... },
-- newest first (time: the newest file of the entry).
function M.history_entries(list)
  local by, entries = {}, {}
  for _, item in ipairs(list) do
    local sha = item.name:sub(#M.HISTORY + 1):match("^([^/]+)/")
    if sha then
      local e = by[sha]
      if not e then
        e = { sha = sha, time = 0, names = {} }
        by[sha] = e
        entries[#entries + 1] = e
      end
      e.names[#e.names + 1] = item.name
      e.time = math.max(e.time, item.mtime or 0)
    end
  end
  table.sort(entries, function(a, b)
    if a.time ~= b.time then
      return a.time > b.time
    end
    return a.sha < b.sha
  end)
  return entries
end

local function setting_number(key)
  local v = config.get(key)
  if blank(v) then
    return nil
  end
  local n = tonumber(v)
  if not n or n < 0 then
    errors.raise("usage", "config %s: %q is not a number of %s", key, tostring(v),
      key == "history_days" and "days" or "entries")
  end
  return n
end

-- The entries the retention settings drop: beyond the history_keep newest,
-- or older than history_days (never the one just deployed, `keep_sha`).
function M.history_expired(entries, keep, days, now, keep_sha)
  local out = {}
  for i, e in ipairs(entries) do
    local old = (keep and i > keep) or (days and e.time < now - days * 86400)
    if old and e.sha ~= keep_sha then
      out[#out + 1] = e
    end
  end
  return out
end

-- Prunes the history after a publish: lists history/ of the location and
-- removes the expired entries (nothing outside history/ is ever removed).
local function prune_history(location, keep_sha)
  local keep, days = setting_number("history_keep"), setting_number("history_days")
  if not keep and not days then
    return
  end
  local entries = M.history_entries(store.list(location, M.HISTORY))
  local expired = M.history_expired(entries, keep and math.floor(keep), days, os.time(), keep_sha)
  local names = {}
  for _, e in ipairs(expired) do
    for _, name in ipairs(e.names) do
      names[#names + 1] = name
    end
  end
  store.remove(location, M.HISTORY, names)
  if #expired > 0 and not ui.dry_run then
    ui.info(("history: pruned %d of %d entries in %s%s (history_keep %s, history_days %s)"):format(#expired,
      #entries, location, M.HISTORY, tostring(keep or "unset"), tostring(days or "unset")))
  end
end

-- deploy: target/manifest.json and target/run_results.json also under
-- history/<commit>/ of config artifacts, then the retention settings
-- applied. No commit to name the entry: a note, and no history.
function M.publish_history()
  local location = tostring(config.get("artifacts"))
  local sha, why = M.commit_sha()
  if not sha then
    ui.info("history: not stored: " .. why)
    return nil
  end
  github.aws_role()
  local dir = M.HISTORY .. sha .. "/"
  local stored = {}
  for _, name in ipairs({ "manifest.json", "run_results.json" }) do
    if ui.dry_run or isfile("target/" .. name) then -- a dry run has built nothing, and says what it would put
      store.put(location, dir .. name, "target/" .. name)
      stored[#stored + 1] = name
    end
  end
  if not ui.dry_run then
    ui.info(("history: %s in %s%s"):format(table.concat(stored, " and "), location, dir))
  end
  prune_history(location, sha)
  return sha
end

-- fetch-manifest --at REF: the manifest deploy stored for the commit REF
-- names (a commit, a tag, a branch) into the state folder. A commit git
-- does not know, or one with no history entry, ends the task naming where
-- it looked.
function M.fetch_manifest_at(ref)
  local sha = M.resolve_commit(ref)
  if not sha then
    errors.raise("usage", "fetch-manifest --at %s: git knows no commit %s (git rev-parse %s^{commit} failed)", ref,
      ref, ref)
  end
  local location = tostring(config.get("artifacts"))
  local path = config.get("state_dir") .. "/manifest.json"
  local name = M.HISTORY .. sha .. "/manifest.json"
  github.aws_role()
  local ok, res = pcall(store.get, location, name, path)
  if not ok then
    local err = errors.wrap(res)
    if err.code == "NoSuchKey" then
      local shown = location:sub(-1) == "/" and location or location .. "/"
      errors.raise("failure", "fetch-manifest --at %s: no manifest of commit %s in the history: %s%s is missing "
        .. "(deploy stores one per deployed commit)", ref, sha, shown, name)
    end
    error(err, 0)
  end
  if not ui.dry_run then
    ui.info(("fetched the manifest of %s (%s) from %s%s"):format(ref, sha:sub(1, 12), location, M.HISTORY))
    check_fetched(path)
  end
  return path, sha
end

--- Merge-base state ------------------------------------------------------------------
-- With config state = "merge-base", ci compares against the manifest of the
-- commit the pull request branched from main, so changes that landed on main
-- since are not the pull request's.

-- The pull request's head commit from the GitHub event, if any.
local function event_head_sha()
  local path = native.env.get("GITHUB_EVENT_PATH")
  local text = path and native.fs.read(path)
  local event = text and native.json.decode(text)
  local pr = type(event) == "table" and event.pull_request
  local sha = type(pr) == "table" and type(pr.head) == "table" and pr.head.sha
  return type(sha) == "string" and is_sha(sha) and sha:lower() or nil
end

-- The merge-base commit of HEAD with the base branch (GITHUB_BASE_REF, else
-- main: origin/<base>, else the local branch), or nil and why not.
function M.merge_base()
  local base = native.env.get("GITHUB_BASE_REF")
  base = blank(base) and "main" or base
  local head = M.resolve_commit("HEAD")
  if not head then
    return nil, "no git commit here (git rev-parse HEAD failed)"
  end
  local pr_head = event_head_sha()
  if pr_head and pr_head ~= head then
    return nil, ("HEAD %s is not the pull request's head %s (actions/checkout's merge commit, which already "
      .. "holds %s's changes): check out ref: ${{ github.event.pull_request.head.sha }}"):format(head:sub(1, 12),
      pr_head:sub(1, 12), base)
  end
  local base_ref
  for _, ref in ipairs({ "origin/" .. base, base }) do
    if M.resolve_commit(ref) then
      base_ref = ref
      break
    end
  end
  local shallow = git({ "rev-parse", "--is-shallow-repository" }) == "true"
  local depth = shallow and " (the clone is shallow: actions/checkout needs fetch-depth: 0)" or ""
  if not base_ref then
    return nil, ("no branch origin/%s or %s to compare with%s"):format(base, base, depth)
  end
  local sha = git({ "merge-base", base_ref, "HEAD" })
  if not is_sha(sha) then
    return nil, ("git merge-base %s HEAD found no common commit%s"):format(base_ref, depth)
  end
  return sha:lower(), base_ref
end

-- ci with config state = "merge-base": replaces the latest manifest that
-- fetch-manifest put in the state folder with the merge-base's from the
-- history. When that cannot be, says why and keeps the latest.
function M.use_merge_base()
  local mode = config.get("state")
  if blank(mode) or mode == "latest" then
    return nil
  elseif mode ~= "merge-base" then
    errors.raise("usage", 'config state: %q is not "latest" or "merge-base"', tostring(mode))
  end
  local sha, why = M.merge_base()
  local function fallback(reason)
    local note = "state merge-base: " .. reason .. ": comparing against the latest production manifest"
    ui.warn(note)
    github.annotate("warning", note, { title = "dbtrun ci" })
  end
  if not sha then
    fallback(why)
    return nil
  end
  local location = tostring(config.get("artifacts"))
  local name = M.HISTORY .. sha .. "/manifest.json"
  local path = config.get("state_dir") .. "/manifest.json"
  github.aws_role()
  local ok, res = pcall(store.get, location, name, path)
  if not ok then
    local err = errors.wrap(res)
    if err.kind == "interrupt" then
      error(err, 0)
    end
    fallback(err.code == "NoSuchKey" and ("the history has no manifest of merge-base %s (%s)"):format(sha:sub(1, 12),
      why) or ("cannot fetch the manifest of merge-base %s (%s)"):format(sha:sub(1, 12), tostring(err)))
    return nil
  end
  if not ui.dry_run then
    ui.info(("state merge-base: comparing against the manifest of %s (merge-base with %s) from %s%s"):format(
      sha:sub(1, 12), why, location, M.HISTORY))
    check_fetched(path)
  end
  return sha
end

--- Docs ------------------------------------------------------------------------------

-- The docs location, or nil (with a note) when docs publishing is off.
function M.docs_location()
  local docs = config.get("docs")
  if blank(docs) then
    ui.info("docs: no docs location (config docs): the docs site is not published")
    return nil
  end
  return tostring(docs)
end

-- config docs_include -> a list of patterns: a pattern, a list of them, or
-- text holding several separated by commas (--set docs_include=a,b).
function M.docs_include(value)
  local list = {}
  local function add(text)
    for p in tostring(text):gmatch("[^,]+") do
      p = p:match("^%s*(.-)%s*$")
      if p ~= "" then
        list[#list + 1] = p
      end
    end
  end
  if type(value) == "table" then
    for _, p in ipairs(value) do
      add(p)
    end
  elseif not blank(value) then
    add(value)
  end
  return list
end

-- The sync filters that keep the docs site of target/ and drop the rest:
-- compiled SQL (of earlier CI schemas too), graph.gpickle,
-- partial_parse.msgpack. `include`: more patterns, as aws s3 sync reads them.
function M.docs_filters(include)
  local filters = { { "exclude", "*" } }
  for _, name in ipairs(M.DOCS_SITE) do
    filters[#filters + 1] = { "include", name }
  end
  for _, pattern in ipairs(include or {}) do
    filters[#filters + 1] = { "include", pattern }
  end
  return filters
end

-- Removes the empty folders under dir (what deleted files leave in a
-- file:// location); returns whether dir itself ended empty.
local function prune_empty(dir)
  local empty = true
  for _, name in ipairs(native.fs.list(dir) or {}) do
    local path = dir .. "/" .. name
    if native.fs.stat(path) == "dir" and prune_empty(path) then
      native.fs.rm(path)
    else
      empty = false
    end
  end
  return empty
end

-- Publishes the docs site of target/ (M.docs_filters with config
-- docs_include) so that the docs location holds exactly that: a sync with
-- --delete leaves alone what its filters exclude at the destination, so a
-- second sync, from an empty folder with the filters inverted, deletes the
-- rest. Then invalidates config cloudfront's cache of /* (config
-- cloudfront_wait: wait for it).
function M.publish_docs(location)
  github.aws_role()
  local filters = M.docs_filters(M.docs_include(config.get("docs_include")))
  local r = store.sync("target/", location, { delete = true, filters = filters })
  local others = {}
  for i, f in ipairs(filters) do
    others[i] = { f[1] == "include" and "exclude" or "include", f[2] }
  end
  local gone = store.sync(tasks.private_dir(), location, { delete = true, filters = others }, "(docs clean-up)")
  local folder = location:match("^file://(.+)$")
  if folder and not ui.dry_run then
    prune_empty((folder:gsub("/+$", "")))
  end
  if not ui.dry_run then
    ui.info(("docs: %d copied, %d deleted, %d unchanged in %s"):format(r.copied or 0,
      (r.deleted or 0) + (gone.deleted or 0), r.unchanged or 0, location))
  end
  local dist = config.get("cloudfront")
  if not blank(dist) then
    aws.cloudfront.invalidate(tostring(dist), { "/*" }, { wait = config.get("cloudfront_wait") == true })
  end
end

-- The paths `git status` reports changed or untracked (not ignored), or an
-- empty list outside a git work tree or without git. For a warning: what
-- is published is the working tree, not what is committed.
function M.uncommitted()
  local dir = native.fs.cwd()
  while dir ~= "" and not native.fs.stat(dir .. "/.git") do -- a folder, or a file in a worktree
    dir = dir:match("^(.*)/[^/]*$")
  end
  if dir == "" then
    return {}
  end
  local code, out, signal = native.proc.run({ "git", "status", "--porcelain" }, { capture = true })
  if signal then
    error(errors.interrupt(signal), 0)
  end
  local paths = {}
  for line in (code == 0 and out or ""):gmatch("[^\n]+") do
    paths[#paths + 1] = line:sub(4)
  end
  return paths
end

-- Warns when the working tree has uncommitted changes: the docs then show
-- models as they are here, not as they are in production.
function M.warn_uncommitted()
  local paths = M.uncommitted()
  if #paths == 0 then
    return
  end
  local shown = table.concat(paths, ", ", 1, math.min(#paths, 5)) .. (#paths > 5 and ", ..." or "")
  ui.warn(("the git working tree has %d uncommitted change(s) (%s): the docs site is built from "
    .. "them, not from what is committed"):format(#paths, shown))
end

return M
