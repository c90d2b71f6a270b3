/* l_aws: the raw AWS and artifact-store binding — clients as userdata and one
 * function per operation of the C core (src/aws/, src/dbt/store.c). Failures
 * return nil, text, info with info = {op, target, code, status, message,
 * request_id}; lua/aws.lua and lua/store.lua raise them as error values. */
#include "dbtrun/aws.h"
#include "dbtrun/cloudfront.h"
#include "dbtrun/mask.h"
#include "dbtrun/progress.h"
#include "dbtrun/s3.h"
#include "dbtrun/secrets.h"
#include "dbtrun/store.h"
#include "dbtrun/sts.h"
#include "dbtrun/sync.h"
#include "bindings.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CLIENT_MT "dbtrun.aws.client"

struct client_box {
    struct dr_aws_client *client;
};

/* Pushes nil, text, info for err; returns 3. */
static int push_error(lua_State *L, const struct dr_aws_error *err)
{
    char text[2048];
    dr_aws_error_format(err, text, sizeof text);
    lua_pushnil(L);
    lua_pushstring(L, text);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, err->op);
    lua_setfield(L, -2, "op");
    lua_pushstring(L, err->target);
    lua_setfield(L, -2, "target");
    lua_pushstring(L, err->code);
    lua_setfield(L, -2, "code");
    lua_pushinteger(L, err->status);
    lua_setfield(L, -2, "status");
    lua_pushstring(L, err->message);
    lua_setfield(L, -2, "message");
    lua_pushstring(L, err->request_id);
    lua_setfield(L, -2, "request_id");
    return 3;
}

static void set_int(lua_State *L, const char *name, lua_Integer n)
{
    lua_pushinteger(L, n);
    lua_setfield(L, -2, name);
}

static void set_str(lua_State *L, const char *name, const char *s)
{
    if (s && *s) {
        lua_pushstring(L, s);
        lua_setfield(L, -2, name);
    }
}

/* A timeout field in seconds: absent 0 (the default), 0 "none", else ms / s. */
static long timeout_field(lua_State *L, const char *key, long scale)
{
    lua_getfield(L, 1, key);
    lua_Number v = lua_isnil(L, -1) ? -1 : luaL_checknumber(L, -1);
    lua_pop(L, 1);
    if (v < 0)
        return 0;
    luaL_argcheck(L, v <= 86400, 1, "timeouts are seconds from 0 (none) to 86400");
    long scaled = (long)(v * (lua_Number)scale);
    return v == 0 ? DR_AWS_TIMEOUT_NONE : scaled > 0 ? scaled : 1;
}

/* aws.client_new({profile=, region=, endpoint=, verbose=, max_attempts=,
 *                 connect_timeout=, read_timeout=}) -> client | nil, text, info */
static int l_aws_client_new(lua_State *L)
{
    struct dr_aws_client_opts opts = {0};
    struct dr_aws_error err = {0};
    luaL_checktype(L, 1, LUA_TTABLE);
    opts.profile = dr_lua_str_field(L, 1, "profile");
    opts.region = dr_lua_str_field(L, 1, "region");
    opts.endpoint_url = dr_lua_str_field(L, 1, "endpoint");
    opts.verbose = (int)dr_lua_int_field(L, 1, "verbose", 0);
    lua_Integer attempts = dr_lua_int_field(L, 1, "max_attempts", 0);
    luaL_argcheck(L, attempts >= 0 && attempts <= DR_AWS_ATTEMPTS_LIMIT, 1,
                  "max_attempts is a whole number from 1 to 100");
    opts.max_attempts = (int)attempts;
    opts.connect_timeout_ms = timeout_field(L, "connect_timeout", 1000);
    opts.read_timeout_s = timeout_field(L, "read_timeout", 1);
    struct client_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->client = NULL;
    luaL_setmetatable(L, CLIENT_MT);
    if (dr_aws_client_new(&opts, &box->client, &err) != 0)
        return push_error(L, &err);
    return 1;
}

/* __gc and __close of a client */
static int l_aws_client_close(lua_State *L)
{
    struct client_box *box = luaL_checkudata(L, 1, CLIENT_MT);
    dr_aws_client_free(box->client);
    box->client = NULL;
    return 0;
}

static struct dr_aws_client *check_client(lua_State *L, int idx)
{
    struct client_box *box = luaL_checkudata(L, idx, CLIENT_MT);
    luaL_argcheck(L, box->client != NULL, idx, "closed AWS client");
    return box->client;
}

/* A client, or NULL when the argument is nil (file:// stores need none). */
static struct dr_aws_client *opt_client(lua_State *L, int idx)
{
    return lua_isnoneornil(L, idx) ? NULL : check_client(L, idx);
}

/* aws.region(client) -> region */
static int l_aws_region(lua_State *L)
{
    lua_pushstring(L, dr_aws_client_region(check_client(L, 1)));
    return 1;
}

/* Pushes {size=, etag=, last_modified=, content_type=, changed=} for info. */
static int push_s3_info(lua_State *L, const struct dr_s3_info *info, int changed)
{
    lua_createtable(L, 0, 5);
    set_int(L, "size", info->size);
    set_str(L, "etag", info->etag);
    set_str(L, "content_type", info->content_type);
    if (info->last_modified)
        set_int(L, "last_modified", (lua_Integer)info->last_modified);
    lua_pushboolean(L, changed);
    lua_setfield(L, -2, "changed");
    return 1;
}

/* The progress line of one transfer when argument idx is true and stderr a
 * terminal, else NULL. An upload's total is its file's size (`upload`). The
 * mask streams' held-back text goes out first, so it precedes the line. */
static struct dr_progress *progress_arg(lua_State *L, int idx, const char *upload)
{
    struct dr_progress *p;
    struct stat st;
    if (!lua_toboolean(L, idx) || !(p = dr_progress_new(2)))
        return NULL;
    dr_mask_write_raw(1, "", 0);
    dr_mask_write_raw(2, "", 0);
    if (upload && stat(upload, &st) == 0)
        dr_progress_set_total(p, (long long)st.st_size, 0);
    return p;
}

/* aws.s3_get(client, bucket, key, path [, conditional [, progress]]) -> info | nil, text, info
 * conditional: skip the download when the local file already has the
 * object's ETag (info.changed is then false). progress: a progress line on
 * a terminal. */
static int l_aws_s3_get(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *bucket = luaL_checkstring(L, 2), *key = luaL_checkstring(L, 3);
    const char *path = luaL_checkstring(L, 4);
    struct dr_s3_get_opts o = {.if_none_match = lua_toboolean(L, 5) ? DR_S3_ETAG_AUTO : NULL,
                               .progress = progress_arg(L, 6, NULL)};
    struct dr_s3_info info = {0};
    struct dr_aws_error err = {0};
    int rc = dr_s3_get(c, bucket, key, path, &o, &info, &err);
    dr_progress_end(o.progress);
    if (rc != 0)
        return push_error(L, &err);
    return push_s3_info(L, &info, !info.not_modified);
}

/* aws.s3_put(client, path, bucket, key [, content_type [, progress]]) -> info | nil, text, info */
static int l_aws_s3_put(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *path = luaL_checkstring(L, 2), *bucket = luaL_checkstring(L, 3);
    const char *key = luaL_checkstring(L, 4);
    struct dr_s3_put_opts o = {.content_type = luaL_optstring(L, 5, NULL),
                               .progress = progress_arg(L, 6, path)};
    struct dr_s3_info info = {0};
    struct dr_aws_error err = {0};
    int rc = dr_s3_put(c, bucket, key, path, &o, &info, &err);
    dr_progress_end(o.progress);
    if (rc != 0)
        return push_error(L, &err);
    return push_s3_info(L, &info, 1);
}

/* aws.s3_head(client, bucket, key) -> info | nil, text, info */
static int l_aws_s3_head(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *bucket = luaL_checkstring(L, 2), *key = luaL_checkstring(L, 3);
    struct dr_s3_info info = {0};
    struct dr_aws_error err = {0};
    if (dr_s3_head(c, bucket, key, &info, &err) != 0)
        return push_error(L, &err);
    return push_s3_info(L, &info, 0);
}

/* Collects a listing into the two tables at the top of the stack. */
struct list_ctx {
    lua_State *L;
    lua_Integer nobjects, nprefixes;
};

static int list_collect(void *ctx, const struct dr_s3_object *obj, const char *prefix)
{
    struct list_ctx *lc = ctx;
    lua_State *L = lc->L;
    if (!lua_checkstack(L, 4))
        return 1;
    if (!obj) {
        lua_pushstring(L, prefix);
        lua_rawseti(L, -2, ++lc->nprefixes);
        return 0;
    }
    lua_createtable(L, 0, 4);
    set_str(L, "key", obj->key);
    set_int(L, "size", obj->size);
    set_str(L, "etag", obj->etag);
    set_int(L, "last_modified", (lua_Integer)obj->last_modified);
    lua_rawseti(L, -3, ++lc->nobjects);
    return 0;
}

/* aws.s3_list(client, bucket, prefix [, delimiter]) -> objects, prefixes | nil, text, info
 * objects: {key=, size=, etag=, last_modified=}, in S3's order. */
static int l_aws_s3_list(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *bucket = luaL_checkstring(L, 2), *prefix = luaL_optstring(L, 3, "");
    const char *delimiter = luaL_optstring(L, 4, NULL);
    struct dr_aws_error err = {0};
    struct list_ctx lc = {L, 0, 0};
    lua_newtable(L); /* objects */
    lua_newtable(L); /* prefixes */
    int rc = dr_s3_list(c, bucket, prefix, delimiter, list_collect, &lc, &err);
    if (rc > 0)
        return luaL_error(L, "s3 list: Lua stack overflow");
    if (rc != 0)
        return push_error(L, &err);
    return 2;
}

/* aws.s3_delete(client, bucket, key) -> true | nil, text, info */
static int l_aws_s3_delete(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *bucket = luaL_checkstring(L, 2), *key = luaL_checkstring(L, 3);
    struct dr_aws_error err = {0};
    if (dr_s3_delete(c, bucket, key, &err) != 0)
        return push_error(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* aws.s3_delete_many(client, bucket, {key, ...}) -> count | nil, text, info */
static int l_aws_s3_delete_many(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *bucket = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 3), done = 0;
    luaL_argcheck(L, n <= DR_S3_DELETE_BATCH, 3, "at most 1000 keys");
    lua_settop(L, 3); /* the keys are pushed from index 4 on */
    luaL_checkstack(L, (int)n, "too many keys");
    for (size_t i = 1; i <= n; i++) /* check first: nothing to free when raising */
        if (lua_rawgeti(L, 3, (lua_Integer)i) != LUA_TSTRING)
            return luaL_argerror(L, 3, "keys must be strings");
    const char **keys = n ? malloc(n * sizeof *keys) : NULL;
    if (n && !keys)
        return luaL_error(L, "out of memory");
    for (size_t i = 0; i < n; i++) /* the strings stay on the stack */
        keys[i] = lua_tostring(L, 4 + (int)i);
    struct dr_aws_error err = {0};
    int rc = dr_s3_delete_many(c, bucket, keys, n, &done, &err);
    free(keys);
    if (rc != 0)
        return push_error(L, &err);
    lua_pushinteger(L, (lua_Integer)done);
    return 1;
}

/* aws.s3_presign(client, bucket, key, expires) -> url | nil, text, info */
static int l_aws_s3_presign(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *bucket = luaL_checkstring(L, 2), *key = luaL_checkstring(L, 3);
    lua_Integer expires = luaL_checkinteger(L, 4);
    struct dr_aws_error err = {0};
    char *url = NULL;
    if (dr_s3_presign(c, bucket, key, (unsigned)expires, &url, &err) != 0)
        return push_error(L, &err);
    lua_pushstring(L, url);
    free(url);
    return 1;
}

/* Reads {{"exclude"|"include", pattern}, ...} at idx into f. NULL, or a
 * message (f must then be freed). */
static const char *read_filters(lua_State *L, int idx, struct dr_filter *f)
{
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        const char *kind = lua_tostring(L, -2), *pattern = lua_tostring(L, -1);
        int include = kind && strcmp(kind, "include") == 0;
        int ok = kind && pattern && (include || strcmp(kind, "exclude") == 0);
        ok = ok && dr_filter_add(f, include, pattern) == 0;
        lua_pop(L, 3);
        if (!ok)
            return "filters must be {\"exclude\"|\"include\", pattern} pairs (at most 1024)";
    }
    return NULL;
}

/* aws.sync(client|nil, src, dst [, {delete=, dryrun=, jobs=, quiet=, filters=,
 *                                   progress=, group=}])
 *   -> {copied=, deleted=, unchanged=, excluded=, bytes=} | nil, text, info
 * src and dst: s3://bucket/prefix, file://path or a local path; one
 * "upload: a to s3://b/a" line per change on stdout unless quiet; progress:
 * a progress line on a terminal; group: the title of the GitHub Actions
 * group the lines go in (then a summary line). */
static int l_aws_sync(lua_State *L)
{
    struct dr_aws_client *c = opt_client(L, 1);
    const char *src = luaL_checkstring(L, 2), *dst = luaL_checkstring(L, 3);
    struct dr_filter filter = {0};
    struct dr_sync_opts o = {.filter = &filter, .errout = stderr};
    struct dr_sync_stats st = {0};
    struct dr_aws_error err = {0};
    if (lua_istable(L, 4)) {
        o.delete_extra = dr_lua_bool_field(L, 4, "delete");
        o.dryrun = dr_lua_bool_field(L, 4, "dryrun");
        o.jobs = (int)dr_lua_int_field(L, 4, "jobs", 0);
        o.out = dr_lua_bool_field(L, 4, "quiet") ? NULL : stdout;
        o.progress = dr_lua_bool_field(L, 4, "progress");
        if (lua_getfield(L, 4, "filters") == LUA_TTABLE) {
            const char *msg = read_filters(L, lua_gettop(L), &filter);
            if (msg) {
                dr_filter_free(&filter);
                return luaL_error(L, "sync: %s", msg);
            }
        }
        lua_pop(L, 1);
        lua_getfield(L, 4, "group"); /* stays on the stack while o.group is used */
        o.group = lua_tostring(L, -1);
    }
    fflush(stdout); /* the C lines follow what Lua already wrote */
    if (o.progress) {
        dr_mask_write_raw(1, "", 0);
        dr_mask_write_raw(2, "", 0);
    }
    int rc = dr_store_sync(c, src, dst, &o, &st, &err);
    dr_filter_free(&filter);
    fflush(stdout);
    if (rc != 0)
        return push_error(L, &err);
    lua_createtable(L, 0, 5);
    set_int(L, "copied", (lua_Integer)st.copied);
    set_int(L, "deleted", (lua_Integer)st.deleted);
    set_int(L, "unchanged", (lua_Integer)st.unchanged);
    set_int(L, "excluded", (lua_Integer)st.excluded);
    set_int(L, "bytes", st.bytes);
    return 1;
}

static int push_store_result(lua_State *L, const struct dr_store_result *res)
{
    lua_createtable(L, 0, 3);
    lua_pushboolean(L, res->changed);
    lua_setfield(L, -2, "changed");
    set_int(L, "size", res->size);
    set_str(L, "etag", res->etag);
    return 1;
}

/* aws.store_get(client|nil, location, name, path [, progress])
 *   -> {changed=, size=, etag=} | nil, text, info */
static int l_aws_store_get(lua_State *L)
{
    struct dr_aws_client *c = opt_client(L, 1);
    const char *location = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
    const char *path = luaL_checkstring(L, 4);
    struct dr_store_result res = {0};
    struct dr_aws_error err = {0};
    struct dr_progress *p = progress_arg(L, 5, NULL);
    int rc = dr_store_get(c, location, name, path, p, &res, &err);
    dr_progress_end(p);
    if (rc != 0)
        return push_error(L, &err);
    return push_store_result(L, &res);
}

/* aws.store_put(client|nil, location, name, path [, progress])
 *   -> {changed=, size=, etag=} | nil, text, info */
static int l_aws_store_put(lua_State *L)
{
    struct dr_aws_client *c = opt_client(L, 1);
    const char *location = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
    const char *path = luaL_checkstring(L, 4);
    struct dr_store_result res = {0};
    struct dr_aws_error err = {0};
    struct dr_progress *p = progress_arg(L, 5, path);
    int rc = dr_store_put(c, location, name, path, p, &res, &err);
    dr_progress_end(p);
    if (rc != 0)
        return push_error(L, &err);
    return push_store_result(L, &res);
}

/* aws.secrets_get(client, id [, version_stage [, version_id]]) -> value, name | nil, text, info */
static int l_aws_secrets_get(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *id = luaL_checkstring(L, 2);
    const char *stage = luaL_optstring(L, 3, NULL), *version = luaL_optstring(L, 4, NULL);
    struct dr_aws_error err = {0};
    char *value, *name;
    size_t len;
    if (dr_secrets_get(c, id, stage, version, &value, &len, &name, &err) != 0)
        return push_error(L, &err);
    lua_pushlstring(L, value, len);
    dr_secrets_free_value(value, len);
    lua_pushstring(L, name ? name : id);
    free(name);
    return 2;
}

/* aws.secrets_to_env(prefix, value) -> {{name, value}, ...} | nil, text */
static int l_aws_secrets_to_env(lua_State *L)
{
    const char *prefix = luaL_checkstring(L, 1);
    size_t len;
    const char *value = luaL_checklstring(L, 2, &len);
    struct dr_secret_var *vars;
    size_t n;
    char msg[256];
    if (dr_secrets_to_env(prefix, value, len, &vars, &n, msg, sizeof msg) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    if (!lua_checkstack(L, 4)) {
        dr_secrets_free_vars(vars, n);
        return luaL_error(L, "out of memory");
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 2, 0);
        lua_pushstring(L, vars[i].name);
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, vars[i].value);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    dr_secrets_free_vars(vars, n);
    return 1;
}

/* aws.cloudfront_invalidate(client, dist, {path, ...} [, wait [, timeout]])
 *   -> id, status | nil, text, info */
static int l_aws_cloudfront_invalidate(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    const char *dist = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    int wait = lua_toboolean(L, 4), timeout = (int)luaL_optinteger(L, 5, 0);
    size_t n = (size_t)luaL_len(L, 3);
    luaL_argcheck(L, n <= 3000, 3, "at most 3000 paths"); /* CloudFront's limit */
    lua_settop(L, 5);                                     /* the paths are pushed from index 6 on */
    luaL_checkstack(L, (int)n, "too many paths");
    for (size_t i = 1; i <= n; i++) /* check first: nothing to free when raising */
        if (lua_rawgeti(L, 3, (lua_Integer)i) != LUA_TSTRING)
            return luaL_argerror(L, 3, "paths must be strings");
    const char **paths = n ? malloc(n * sizeof *paths) : NULL;
    if (n && !paths)
        return luaL_error(L, "out of memory");
    for (size_t i = 0; i < n; i++)
        paths[i] = lua_tostring(L, 6 + (int)i);
    struct dr_aws_error err = {0};
    char *id = NULL, *status = NULL;
    int rc = dr_cloudfront_invalidate(c, dist, paths, n, &id, &status, &err);
    free(paths);
    if (rc == 0 && wait && (rc = dr_cloudfront_wait(c, dist, id, timeout, 0, &err)) == 0) {
        free(status);
        status = strdup("Completed");
    }
    if (rc != 0) {
        free(id);
        free(status);
        return push_error(L, &err);
    }
    lua_pushstring(L, id);
    lua_pushstring(L, status);
    free(id);
    free(status);
    return 2;
}

/* aws.sts_whoami(client) -> {account=, arn=, user_id=} | nil, text, info */
static int l_aws_sts_whoami(lua_State *L)
{
    struct dr_aws_client *c = check_client(L, 1);
    struct dr_aws_error err = {0};
    char *account = NULL, *arn = NULL, *user_id = NULL;
    if (dr_sts_get_caller_identity(c, &account, &arn, &user_id, &err) != 0)
        return push_error(L, &err);
    lua_createtable(L, 0, 3);
    set_str(L, "account", account);
    set_str(L, "arn", arn);
    set_str(L, "user_id", user_id);
    free(account);
    free(arn);
    free(user_id);
    return 1;
}

int dr_lua_open_aws(lua_State *L)
{
    static const luaL_Reg client_meta[] = {
        {"__gc", l_aws_client_close}, {"__close", l_aws_client_close}, {NULL, NULL}};
    static const luaL_Reg fns[] = {{"client_new", l_aws_client_new},
                                   {"region", l_aws_region},
                                   {"s3_get", l_aws_s3_get},
                                   {"s3_put", l_aws_s3_put},
                                   {"s3_head", l_aws_s3_head},
                                   {"s3_list", l_aws_s3_list},
                                   {"s3_delete", l_aws_s3_delete},
                                   {"s3_delete_many", l_aws_s3_delete_many},
                                   {"s3_presign", l_aws_s3_presign},
                                   {"sync", l_aws_sync},
                                   {"store_get", l_aws_store_get},
                                   {"store_put", l_aws_store_put},
                                   {"secrets_get", l_aws_secrets_get},
                                   {"secrets_to_env", l_aws_secrets_to_env},
                                   {"cloudfront_invalidate", l_aws_cloudfront_invalidate},
                                   {"sts_whoami", l_aws_sts_whoami},
                                   {NULL, NULL}};
    luaL_newmetatable(L, CLIENT_MT);
    luaL_setfuncs(L, client_meta, 0);
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
