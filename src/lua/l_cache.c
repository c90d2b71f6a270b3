/* l_cache: what dbtrun derives from the task file, kept under .dbtrun/cache/
 * of the task file's folder (the working directory when main.lua loads it):
 * its compiled form, so a start that finds it skips parsing, and the text of
 * its --list (main.lua says when that may be kept). Over src/base/cache.c; an
 * entry is keyed by dbtrun's and Lua's versions, the embedded library's hash,
 * the chunk name (errors must name the file as this run calls it) and the
 * file's text. */
#include "dbtrun/cache.h"
#include "dbtrun/embedded.h"
#include "bindings.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_DIR ".dbtrun/cache"

/* The two kinds of entry: the compiled task file, and its --list. */
struct kind {
    const char *prefix, *ext;
};
static const struct kind TASKFILE = {"taskfile", "luac"}, LISTING = {"list", "txt"};

/* One entry of each kind per chunk name: an edit replaces it rather than
 * adding one. */
static void entry_path(struct kind kind, const char *chunkname, size_t len, char *path, size_t size)
{
    struct dr_cache_key name = {{0, 0}};
    dr_cache_hash(&name, chunkname, len);
    snprintf(path, size, CACHE_DIR "/%s-%016llx.%s", kind.prefix, (unsigned long long)name.h[0],
             kind.ext);
}

/* The key of (text, chunkname) at stack indexes 1 and 2; *path gets the
 * entry's file for `kind`. */
static void entry_key(lua_State *L, struct kind kind, struct dr_cache_key *key, char *path,
                      size_t size)
{
    static const char versions[] = DR_VERSION "\n" LUA_RELEASE "\n";
    size_t text_len, name_len;
    const char *text = luaL_checklstring(L, 1, &text_len);
    const char *name = luaL_checklstring(L, 2, &name_len);
    *key = (struct dr_cache_key){{0, 0}};
    dr_cache_hash(key, versions, sizeof versions - 1);
    dr_cache_hash(key, dr_embedded_id, strlen(dr_embedded_id));
    dr_cache_hash(key, name, name_len + 1); /* with its NUL: name and text stay apart */
    dr_cache_hash(key, text, text_len);
    entry_path(kind, name, name_len, path, size);
}

/* cache.load(text, chunkname) -> bytecode, docs | nil */
static int l_cache_load(lua_State *L)
{
    struct dr_cache_key key;
    char path[64], *payload = NULL;
    size_t len;
    uint64_t docs_len = 0;
    entry_key(L, TASKFILE, &key, path, sizeof path);
    if (dr_cache_read(path, &key, &payload, &len) != 0)
        return 0;
    if (len >= 8)
        memcpy(&docs_len, payload, 8);
    if (len < 8 || docs_len > len - 8) {
        free(payload); /* a whole entry this binding did not write: a miss */
        return 0;
    }
    lua_pushlstring(L, payload + 8 + docs_len, len - 8 - docs_len);
    lua_pushlstring(L, payload + 8, docs_len);
    free(payload);
    return 2;
}

/* cache.store(text, chunkname, bytecode, docs) -> true | nil, msg */
static int l_cache_store(lua_State *L)
{
    struct dr_cache_key key;
    char path[64];
    size_t bc_len, docs_len;
    entry_key(L, TASKFILE, &key, path, sizeof path);
    const char *bc = luaL_checklstring(L, 3, &bc_len);
    const char *docs = luaL_checklstring(L, 4, &docs_len);
    uint64_t n = docs_len;
    char *payload = malloc(8 + docs_len + bc_len);
    if (!payload)
        return luaL_error(L, "out of memory");
    memcpy(payload, &n, 8);
    memcpy(payload + 8, docs, docs_len);
    memcpy(payload + 8 + docs_len, bc, bc_len);
    int rc = dr_cache_write(path, &key, payload, 8 + docs_len + bc_len);
    free(payload);
    if (rc != 0)
        return dr_lua_fail_errno(L, path);
    lua_pushboolean(L, 1);
    return 1;
}

/* cache.load_listing(text, chunkname) -> listing | nil */
static int l_cache_load_listing(lua_State *L)
{
    struct dr_cache_key key;
    char path[64], *payload = NULL;
    size_t len;
    entry_key(L, LISTING, &key, path, sizeof path);
    if (dr_cache_read(path, &key, &payload, &len) != 0)
        return 0;
    lua_pushlstring(L, payload, len);
    free(payload);
    return 1;
}

/* cache.store_listing(text, chunkname, listing) -> true | nil, msg */
static int l_cache_store_listing(lua_State *L)
{
    struct dr_cache_key key;
    char path[64];
    size_t len;
    entry_key(L, LISTING, &key, path, sizeof path);
    const char *listing = luaL_checklstring(L, 3, &len);
    if (dr_cache_write(path, &key, listing, len) != 0)
        return dr_lua_fail_errno(L, path);
    lua_pushboolean(L, 1);
    return 1;
}

int dr_lua_open_cache(lua_State *L)
{
    static const luaL_Reg fns[] = {{"load", l_cache_load},
                                   {"store", l_cache_store},
                                   {"load_listing", l_cache_load_listing},
                                   {"store_listing", l_cache_store_listing},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
