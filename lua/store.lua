-- store: the artifact store of task files — store.get/put/sync over
-- `s3://bucket/prefix/` and `file://path/` locations with one set of
-- semantics (src/dbt/store.c): atomic replacement, unchanged content not sent,
-- a missing artifact raises code "NoSuchKey"; store.list and store.remove
-- for what lives below a prefix (deploy's history). S3 locations use the
-- default AWS client (config.aws); file:// locations never load the AWS code.

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
-- include, filters, dryrun, jobs, quiet). `shown`, for the library's own
-- calls: how src is named in the dry-run line and the GitHub Actions group
-- (the docs clean-up pass syncs from a temporary folder).
function M.sync(src, dst, opts, shown)
  check.place("store.sync", 1, "src", src)
  check.place("store.sync", 2, "dst", dst)
  opts = aws.check_sync_opts("store.sync", opts)
  local raw_opts, filters = aws.sync_opts(opts, shown or src, dst)
  if aws.dry("store", "sync", shown or src, dst, aws.sync_flags(opts, filters)) then
    return { copied = 0, deleted = 0, unchanged = 0, excluded = 0, bytes = 0 }
  end
  local r = aws.check(native.aws.sync(client_for(src, dst), src, dst, raw_opts))
  record_sync(src, dst, r)
  return r
end

-- The folder of a file:// location (or a plain path), without trailing "/".
local function folder(location)
  local dir = location:match("^file://(.*)$") or location
  dir = dir:gsub("/+$", "")
  return dir == "" and "." or dir
end

-- A prefix below a location: relative, no "..", so a listing or a removal
-- never reaches outside it.
local function check_prefix(fn, prefix)
  check.arg(fn, 2, "prefix", prefix, "string")
  if prefix:sub(1, 1) == "/" or ("/" .. prefix .. "/"):find("/%.%./") then
    check.misuse("%s: argument 2 (prefix) '%s' must stay below the location (relative, no '..')", fn, prefix)
  end
end

local function walk(dir, rel, out)
  for _, name in ipairs(native.fs.list(dir) or {}) do
    local path, r = dir .. "/" .. name, rel .. name
    local kind, size, mtime = native.fs.stat(path)
    if kind == "dir" then
      walk(path, r .. "/", out)
    elseif kind == "file" then
      out[#out + 1] = { name = r, size = size, mtime = mtime }
    end
  end
end

-- store.list(location, prefix) -> { {name=, size=, mtime=}, ... }
-- Every artifact whose name starts with `prefix` ("history/"), at any depth;
-- names are relative to the location, mtime in seconds since the epoch (S3:
-- LastModified). A missing folder or prefix lists nothing.
function M.list(location, prefix)
  location = location == nil and M.DEFAULT or check.place("store.list", 1, "location", location)
  check_prefix("store.list", prefix)
  local out = {}
  if is_s3(location) then
    local bucket, key = aws.parse_url(location, "store.list", 1)
    if key ~= "" and key:sub(-1) ~= "/" then
      key = key .. "/"
    end
    for _, obj in ipairs((aws.check(native.aws.s3_list(client_for(location), bucket, key .. prefix)))) do
      out[#out + 1] = { name = obj.key:sub(#key + 1), size = obj.size, mtime = obj.last_modified }
    end
    return out
  end
  local base = folder(location)
  local dir = prefix:match("^(.*)/[^/]*$")
  walk(dir and (base .. "/" .. dir) or base, dir and (dir .. "/") or "", out)
  local kept = {}
  for _, e in ipairs(out) do
    if e.name:sub(1, #prefix) == prefix then
      kept[#kept + 1] = e
    end
  end
  return kept
end

-- Removes the folders emptied by a removal, from `dir` up to (not) `base`.
local function prune_up(base, dir)
  while dir and #dir > #base and #(native.fs.list(dir) or { 1 }) == 0 do
    native.fs.rm(dir)
    dir = dir:match("^(.*)/[^/]*$")
  end
end

-- store.remove(location, prefix, names) -> number removed
-- Deletes the named artifacts, each of which must start with `prefix`
-- (what store.list gave): nothing outside the prefix is ever touched. A
-- file:// location loses the folders this empties too.
function M.remove(location, prefix, names)
  location = check.place("store.remove", 1, "location", location)
  check_prefix("store.remove", prefix)
  check.arg("store.remove", 3, "names", names, "table")
  for i, name in ipairs(names) do
    if type(name) ~= "string" or name:sub(1, #prefix) ~= prefix or ("/" .. name .. "/"):find("/%.%./") then
      check.misuse("store.remove: names[%d] '%s' is not below prefix '%s'", i, tostring(name), prefix)
    end
  end
  if #names == 0 or aws.dry("store", "rm", join(location, prefix), "(" .. #names .. " artifacts)") then
    return 0
  end
  if is_s3(location) then
    local bucket, key = aws.parse_url(location, "store.remove", 1)
    if key ~= "" and key:sub(-1) ~= "/" then
      key = key .. "/"
    end
    local removed, batch = 0, {}
    for i, name in ipairs(names) do
      batch[#batch + 1] = key .. name
      if #batch == 1000 or i == #names then
        removed = removed + aws.check(native.aws.s3_delete_many(client_for(location), bucket, batch))
        batch = {}
      end
    end
    return removed
  end
  local base = folder(location)
  for _, name in ipairs(names) do
    local path = base .. "/" .. name
    native.fs.rm(path)
    prune_up(base .. "/" .. prefix:gsub("/+$", ""), path:match("^(.*)/[^/]*$"))
  end
  return #names
end

return M
