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

local M = {}

M.MANIFEST_SCHEMA_MAX = 12 -- the newest manifest schema (v12) this file knows

-- The docs site: what `dbt docs generate` writes for the site to work
-- (run_results.json when present). Only these leave target/ unless config
-- docs_include adds more.
M.DOCS_SITE = { "index.html", "catalog.json", "manifest.json", "run_results.json" }

local function isfile(path)
  return native.fs.stat(path) == "file"
end

local function blank(v)
  return v == nil or v == false or v == ""
end

local function head(path, bytes)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read(bytes)
  f:close()
  return text
end

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
  local ok_check, warnings = pcall(M.check_manifest, head(path, 4096) or "", dbt.local_version(), path)
  if not ok_check then
    native.fs.rm(path) -- dbt must not defer to it on the next run either
    error(warnings, 0)
  end
  for _, w in ipairs(warnings) do
    ui.warn(w)
  end
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
  local gone = store.sync(tasks.private_dir(), location, { delete = true, filters = others })
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
