-- artifacts: what the built-in tasks move between the project and the
-- artifact store — the production manifest (fetched for deferral, checked,
-- published after a deploy) and the docs site (published with CloudFront's
-- cache invalidated). Locations are config artifacts and docs (lua/store.lua).

local native = require("dbtrun.native")
local aws = require("dbtrun.aws")
local config = require("dbtrun.config")
local dbt = require("dbtrun.dbt")
local errors = require("dbtrun.errors")
local github = require("dbtrun.github")
local store = require("dbtrun.store")
local ui = require("dbtrun.ui")

local M = {}

M.MANIFEST_SCHEMA_MAX = 12 -- the newest manifest schema (v12) this file knows

M.DOCS_FILTERS = { -- the seed's `aws s3 sync ./target/ docs/` rule, in order
  { "exclude", "*.json" },
  { "include", "index.html" },
  { "include", "catalog.json" },
  { "include", "manifest.json" },
  { "include", "run_results.json" },
}

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
  return path
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

-- Syncs target/ to the docs location with the seed's rule, then invalidates
-- config cloudfront's cache of /* (config cloudfront_wait: wait for it).
function M.publish_docs(location)
  github.aws_role()
  local r = store.sync("target/", location, { delete = true, filters = M.DOCS_FILTERS })
  if not ui.dry_run then
    ui.info(("docs: %d copied, %d deleted, %d unchanged in %s"):format(r.copied or 0, r.deleted or 0,
      r.unchanged or 0, location))
  end
  local dist = config.get("cloudfront")
  if not blank(dist) then
    aws.cloudfront.invalidate(tostring(dist), { "/*" }, { wait = config.get("cloudfront_wait") == true })
  end
end

return M
