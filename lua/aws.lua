-- aws: the AWS primitives of task files — aws.s3.*, aws.secrets.*,
-- aws.cloudfront.invalidate, aws.sts.whoami and aws.client{} — over the raw
-- binding (src/lua/l_aws.c). Failures raise error values (kind "aws", with
-- op, target, code, status, aws_message, request_id). In a dry run every
-- call is printed, aws-CLI style, instead of made.

local native = require("dbtrun.native")
local config = require("dbtrun.config")
local check = require("dbtrun.check")
local errors = require("dbtrun.errors")
local run = require("dbtrun.run")
local ui = require("dbtrun.ui")

local raw = native.aws

local M = {}

-- Raises the raw binding's nil, text, info as an error value; passes
-- results through otherwise.
function M.check(result, text, info, ...)
  if result == nil and text then
    info = info or {}
    info.aws_message = info.message
    info.message = text
    error(errors.new("aws", info), 0)
  end
  return result, text, info, ...
end

local misuse = check.misuse

-- "s3://bucket/key" -> bucket, key ("" when the URL names the bucket).
-- `fn` and `n` name the caller's function and argument in errors.
function M.parse_url(url, fn, n)
  fn, n = fn or "aws.s3", n or 1
  check.arg(fn, n, "url", url, "string")
  local bucket, key = url:match("^s3://([^/]+)/?(.*)$")
  if not bucket then
    misuse("%s: argument %d (url) '%s' is not an S3 URL (expected s3://bucket/key)", fn, n, url)
  end
  return bucket, key
end

local sync_options = {
  delete = true, exclude = true, include = true, filters = true, dryrun = true, jobs = true, quiet = true,
}

-- The options of aws.s3.sync and store.sync, checked: a table or nil, known keys.
function M.check_sync_opts(fn, opts)
  opts = check.opts(fn, 3, opts, sync_options)
  check.field(fn, opts, "filters", "table")
  check.field(fn, opts, "jobs", "number")
  for i, f in ipairs(opts.filters or {}) do
    if type(f) ~= "table" or (f[1] ~= "exclude" and f[1] ~= "include") or type(f[2]) ~= "string" then
      misuse('%s: option filters: entry %d must be { "exclude" or "include", "pattern" }', fn, i)
    end
  end
  for _, kind in ipairs({ "exclude", "include" }) do
    local v = opts[kind]
    for i, p in ipairs(type(v) == "table" and v or { v }) do
      if type(p) ~= "string" then
        misuse("%s: option %s must be a pattern or a list of them, got %s", fn, kind,
          type(v) == "table" and (type(p) .. " at position " .. i) or type(p))
      end
    end
  end
  return opts
end

-- In a dry run: prints the command that would do the same (aws CLI words,
-- or store's), and returns true so the caller returns without acting.
function M.dry(...)
  if not ui.dry_run then
    return false
  end
  local args, words = table.pack(...), {}
  for i = 1, args.n do
    if args[i] ~= nil then -- optional flags are passed as nil when absent
      words[#words + 1] = run.quote(tostring(args[i]))
    end
  end
  ui.command(table.concat(words, " "))
  return true
end

local dry = M.dry

-- The filters of a sync, in the order they apply (later match wins):
-- opts.filters ({"exclude"|"include", pattern} pairs), then opts.exclude,
-- then opts.include (each a pattern or a list of them).
function M.filters(opts)
  local list = {}
  for _, f in ipairs(opts.filters or {}) do
    list[#list + 1] = f
  end
  for _, kind in ipairs({ "exclude", "include" }) do
    local patterns = opts[kind]
    if type(patterns) == "string" then
      patterns = { patterns }
    end
    for _, p in ipairs(patterns or {}) do
      list[#list + 1] = { kind, p }
    end
  end
  return list
end

-- The aws CLI flags of sync options, for dry-run lines.
function M.sync_flags(opts, filters)
  local flags = {}
  if opts.delete then
    flags[#flags + 1] = "--delete"
  end
  for _, f in ipairs(filters) do
    flags[#flags + 1] = "--" .. f[1]
    flags[#flags + 1] = f[2]
  end
  return table.unpack(flags)
end

-- sync options for the raw binding: a progress line on a terminal unless
-- quiet; on GitHub Actions the per-file lines fold into a group titled
-- "sync SRC -> DST", with a summary line after it.
function M.sync_opts(opts, src, dst)
  local filters = M.filters(opts)
  local quiet = opts.quiet or ui.quiet
  return {
    delete = opts.delete,
    dryrun = opts.dryrun,
    jobs = opts.jobs,
    quiet = quiet,
    progress = not quiet,
    group = native.env.get("GITHUB_ACTIONS") == "true" and ("sync %s -> %s"):format(src, dst) or nil,
    filters = filters,
  }, filters
end

local function basename(path)
  return (path:match("([^/]+)/*$")) or path
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$")
end

-- Each family is written once against a client getter, so aws.s3.get and
-- aws.client{...}.s3.get are the same function on different clients.
local function s3_family(client)
  local s3 = {}

  -- s3.get(url, path [, {force=true}]) -> {changed=, size=, etag=, ...}
  -- The file is replaced atomically; unless forced, an unchanged object
  -- (same ETag as the local file) is not downloaded again.
  function s3.get(url, path, opts)
    local bucket, key = M.parse_url(url, "aws.s3.get", 1)
    check.place("aws.s3.get", 2, "path", path)
    opts = check.opts("aws.s3.get", 3, opts, { force = true })
    if dry("aws", "s3", "cp", url, path) then
      return { changed = false }
    end
    local dir = dirname(path)
    if dir and dir ~= "" then
      native.fs.mkdir(dir)
    end
    return M.check(raw.s3_get(client(), bucket, key, path, not opts.force, not ui.quiet))
  end

  -- s3.put(path, url [, {content_type=}]) -> {size=, etag=, changed=true}
  -- A URL ending in "/" gets the file's name, as `aws s3 cp` does.
  function s3.put(path, url, opts)
    check.place("aws.s3.put", 1, "path", path)
    local bucket, key = M.parse_url(url, "aws.s3.put", 2)
    opts = check.opts("aws.s3.put", 3, opts, { content_type = true })
    check.field("aws.s3.put", opts, "content_type", "string")
    if key == "" or key:sub(-1) == "/" then
      key = key .. basename(path)
    end
    if dry("aws", "s3", "cp", path, "s3://" .. bucket .. "/" .. key) then
      return { changed = false }
    end
    return M.check(raw.s3_put(client(), path, bucket, key, opts.content_type, not ui.quiet))
  end

  -- s3.head(url) -> {size=, etag=, last_modified=, content_type=}; a missing
  -- object raises code "NotFound".
  function s3.head(url)
    local bucket, key = M.parse_url(url, "aws.s3.head", 1)
    if dry("aws", "s3api", "head-object", "--bucket", bucket, "--key", key) then
      return {}
    end
    return M.check(raw.s3_head(client(), bucket, key))
  end

  -- s3.list(url [, {delimiter="/"}]) -> objects, prefixes
  -- objects: {key=, size=, etag=, last_modified=} under the URL's prefix.
  function s3.list(url, opts)
    local bucket, prefix = M.parse_url(url, "aws.s3.list", 1)
    opts = check.opts("aws.s3.list", 2, opts, { delimiter = true })
    check.field("aws.s3.list", opts, "delimiter", "string")
    if dry("aws", "s3", "ls", url, not opts.delimiter and "--recursive" or nil) then
      return {}, {}
    end
    return M.check(raw.s3_list(client(), bucket, prefix, opts.delimiter))
  end

  -- s3.rm(url [, {recursive=true}]) -> number of objects deleted.
  -- Recursive works on the "folder": s3://b/logs removes logs/..., not logs2.
  function s3.rm(url, opts)
    local bucket, key = M.parse_url(url, "aws.s3.rm", 1)
    opts = check.opts("aws.s3.rm", 2, opts, { recursive = true })
    if dry("aws", "s3", "rm", url, opts.recursive and "--recursive" or nil) then
      return 0
    end
    if not opts.recursive then
      if key == "" then
        misuse("aws.s3.rm: %s names a bucket; pass {recursive = true} to empty it", url)
      end
      M.check(raw.s3_delete(client(), bucket, key))
      return 1
    end
    if key ~= "" and key:sub(-1) ~= "/" then
      key = key .. "/"
    end
    local objects = M.check(raw.s3_list(client(), bucket, key))
    local deleted, batch = 0, {}
    for i, obj in ipairs(objects) do
      batch[#batch + 1] = obj.key
      if #batch == 1000 or i == #objects then
        deleted = deleted + M.check(raw.s3_delete_many(client(), bucket, batch))
        batch = {}
      end
    end
    return deleted
  end

  -- s3.sync(src, dst [, opts]) -> {copied=, deleted=, unchanged=, excluded=, bytes=}
  -- opts: delete, exclude, include, filters, dryrun, jobs, quiet.
  function s3.sync(src, dst, opts)
    check.place("aws.s3.sync", 1, "src", src)
    check.place("aws.s3.sync", 2, "dst", dst)
    opts = M.check_sync_opts("aws.s3.sync", opts)
    local raw_opts, filters = M.sync_opts(opts, src, dst)
    if dry("aws", "s3", "sync", src, dst, M.sync_flags(opts, filters)) then
      return { copied = 0, deleted = 0, unchanged = 0, excluded = 0, bytes = 0 }
    end
    return M.check(raw.sync(client(), src, dst, raw_opts))
  end

  -- s3.presign(url [, seconds]) -> a GET URL valid that long (default 3600).
  function s3.presign(url, seconds)
    local bucket, key = M.parse_url(url, "aws.s3.presign", 1)
    check.opt("aws.s3.presign", 2, "seconds", seconds, "number")
    return M.check(raw.s3_presign(client(), bucket, key, seconds or 3600))
  end

  return s3
end

local function secrets_family(client)
  local secrets = {}

  -- secrets.get(id [, {version_stage=, version_id=}]) -> value
  -- The value is masked in all output from now on.
  local secret_options = { version_stage = true, version_id = true }

  function secrets.get(id, opts)
    check.arg("aws.secrets.get", 1, "id", id, "string")
    opts = check.opts("aws.secrets.get", 2, opts, secret_options)
    check.field("aws.secrets.get", opts, "version_stage", "string")
    check.field("aws.secrets.get", opts, "version_id", "string")
    if dry("aws", "secretsmanager", "get-secret-value", "--secret-id", id) then
      return ""
    end
    local value = M.check(raw.secrets_get(client(), id, opts.version_stage, opts.version_id))
    return ui.secret(value)
  end

  -- secrets.env(id [, prefix]) -> names: sets environment variables the way
  -- aws-actions/aws-secretsmanager-get-secrets does with parse-json-secrets
  -- (see the README); every value is masked.
  function secrets.env(id, prefix, opts)
    check.arg("aws.secrets.env", 1, "id", id, "string")
    check.opt("aws.secrets.env", 2, "prefix", prefix, "string")
    opts = check.opts("aws.secrets.env", 3, opts, secret_options)
    check.field("aws.secrets.env", opts, "version_stage", "string")
    check.field("aws.secrets.env", opts, "version_id", "string")
    if dry("aws", "secretsmanager", "get-secret-value", "--secret-id", id) then
      return {}
    end
    local value, name = M.check(raw.secrets_get(client(), id, opts.version_stage, opts.version_id))
    ui.secret(value)
    local vars, msg = raw.secrets_to_env(prefix or name, value)
    if not vars then
      error(errors.new("aws", { op = "GetSecretValue", target = id, code = "InvalidArgument",
        message = "GetSecretValue " .. id .. ": " .. msg }), 0)
    end
    local names = {}
    for i, var in ipairs(vars) do
      ui.secret(var[2])
      native.env.set(var[1], var[2])
      names[i] = var[1]
    end
    return names
  end

  return secrets
end

local function cloudfront_family(client)
  -- cloudfront.invalidate(distribution_id, paths [, {wait=, timeout=}]) -> id
  local function invalidate(dist, paths, opts)
    local fn = "aws.cloudfront.invalidate"
    check.arg(fn, 1, "distribution_id", dist, "string")
    if type(paths) == "string" then
      paths = { paths }
    end
    check.arg(fn, 2, "paths", paths, "table")
    for i, p in ipairs(paths) do
      if type(p) ~= "string" then
        misuse("%s: argument 2 (paths): path %d must be a string, got %s", fn, i, type(p))
      end
    end
    if #paths == 0 then
      misuse("%s: argument 2 (paths) is empty", fn)
    end
    opts = check.opts(fn, 3, opts, { wait = true, timeout = true })
    check.field(fn, opts, "timeout", "number")
    if dry("aws", "cloudfront", "create-invalidation", "--distribution-id", dist, "--paths",
        table.unpack(paths)) then
      return "dry-run"
    end
    local id, status = M.check(raw.cloudfront_invalidate(client(), dist, paths, opts.wait, opts.timeout))
    ui.info(("cloudfront: invalidation %s of %s on %s: %s"):format(id, table.concat(paths, " "), dist, status))
    return id
  end
  return { invalidate = invalidate }
end

local function sts_family(client)
  -- sts.whoami() -> {account=, arn=, user_id=}
  local function whoami()
    return M.check(raw.sts_whoami(client()))
  end
  return { whoami = whoami }
end

-- Adds the service families to t, all using client().
local function attach(t, client)
  t.s3 = s3_family(client)
  t.secrets = secrets_family(client)
  t.cloudfront = cloudfront_family(client)
  t.sts = sts_family(client)
  return t
end

local function new_handle(opts)
  return M.check(raw.client_new({
    profile = opts.profile,
    region = opts.region,
    endpoint = opts.endpoint,
    verbose = ui.verbose,
    max_attempts = opts.max_attempts,
    connect_timeout = opts.connect_timeout,
    read_timeout = opts.read_timeout,
  }))
end

-- aws.client{profile=, region=, endpoint=, max_attempts=, connect_timeout=,
-- read_timeout=} (timeouts in seconds, 0: none) -> a client with its own
-- .s3, .secrets, .cloudfront, .sts.
local client_options = {
  profile = "string", region = "string", endpoint = "string",
  max_attempts = "number", connect_timeout = "number", read_timeout = "number",
}

function M.client(opts)
  opts = check.opts("aws.client", 1, opts, client_options)
  for key, want in pairs(client_options) do
    check.field("aws.client", opts, key, want)
  end
  local handle = new_handle(opts)
  local c = attach({}, function()
    return handle
  end)
  -- .region is read on first use: with no region configured the client asks
  -- IMDS for it, which a client that is made but never used must not do
  return setmetatable(c, {
    __index = function(t, k)
      if k ~= "region" then
        return nil
      end
      local region = raw.region(handle)
      rawset(t, "region", region)
      return region
    end,
  })
end

-- The default client: config.aws = {profile=, region=, endpoint=,
-- max_attempts=, connect_timeout=, read_timeout=}, made on
-- first use so that tasks that never touch AWS never load libcurl.
local default_handle
function M.default_handle()
  if not default_handle then
    default_handle = new_handle(config.get("aws") or {})
  end
  return default_handle
end

attach(M, M.default_handle)

return M
