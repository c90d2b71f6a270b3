-- store: the artifact store of task files — store.get/put/sync over
-- `s3://bucket/prefix/` and `file://path/` locations with one set of
-- semantics (src/dbt/store.c): atomic replacement, unchanged content not sent,
-- a missing artifact raises code "NoSuchKey". S3 locations use the default
-- AWS client (config.aws); file:// locations never load the AWS code.

local native = require("dbtrun.native")
local aws = require("dbtrun.aws")
local check = require("dbtrun.check")
local ui = require("dbtrun.ui")

local M = {}

M.DEFAULT = "file://.dbtrun/store/"

-- What this run put in a store, for the built-in tasks' closing summary:
-- { name=, location=, changed= } for put, { src=, dst=, files=, copied= } for sync.
M.published = {}

local function is_s3(location)
  return tostring(location):sub(1, 5) == "s3://"
end

-- The client a location needs: the default one for s3://, none otherwise.
local function client_for(...)
  for i = 1, select("#", ...) do
    if is_s3(select(i, ...)) then
      return aws.default_handle()
    end
  end
  return nil
end

local function join(location, name)
  return location:sub(-1) == "/" and location .. name or location .. "/" .. name
end

-- store.get(location, name, path) -> {changed=, size=, etag=}
function M.get(location, name, path)
  location = location == nil and M.DEFAULT or check.place("store.get", 1, "location", location)
  check.arg("store.get", 2, "name", name, "string")
  check.place("store.get", 3, "path", path)
  if aws.dry("store", "get", join(location, name), path) then
    return { changed = false }
  end
  return aws.check(native.aws.store_get(client_for(location), location, name, path, not ui.quiet))
end

-- store.put(location, name, path) -> {changed=, size=, etag=}
function M.put(location, name, path)
  location = location == nil and M.DEFAULT or check.place("store.put", 1, "location", location)
  check.arg("store.put", 2, "name", name, "string")
  check.place("store.put", 3, "path", path)
  if aws.dry("store", "put", path, join(location, name)) then
    return { changed = false }
  end
  local r = aws.check(native.aws.store_put(client_for(location), location, name, path, not ui.quiet))
  M.published[#M.published + 1] = { name = name, location = location, changed = r.changed }
  return r
end

-- One record per destination: a second sync into the same place (the docs
-- site's clean-up pass) adds to the first instead of reading as another
-- publish.
local function record_sync(src, dst, r)
  for _, p in ipairs(M.published) do
    if p.dst == dst then
      p.files, p.copied = p.files + (r.copied or 0) + (r.unchanged or 0), p.copied + (r.copied or 0)
      return
    end
  end
  M.published[#M.published + 1] =
    { src = src, dst = dst, files = (r.copied or 0) + (r.unchanged or 0), copied = r.copied or 0 }
end

-- store.sync(src, dst [, opts]) -> {copied=, deleted=, unchanged=, excluded=, bytes=}
-- Folders or locations either way; opts as aws.s3.sync (delete, exclude,
-- include, filters, dryrun, jobs, quiet).
function M.sync(src, dst, opts)
  check.place("store.sync", 1, "src", src)
  check.place("store.sync", 2, "dst", dst)
  opts = aws.check_sync_opts("store.sync", opts)
  local raw_opts, filters = aws.sync_opts(opts, src, dst)
  if aws.dry("store", "sync", src, dst, aws.sync_flags(opts, filters)) then
    return { copied = 0, deleted = 0, unchanged = 0, excluded = 0, bytes = 0 }
  end
  local r = aws.check(native.aws.sync(client_for(src, dst), src, dst, raw_opts))
  record_sync(src, dst, r)
  return r
end

return M
