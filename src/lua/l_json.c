/* l_json: json.encode / json.decode between Lua values and JSON via cJSON.
 * JSON null is the sentinel json.null; decoded arrays carry the metatable
 * json.array_mt so that an empty array encodes back as []. */
#include "bindings.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200

static const char null_sentinel; /* its address is json.null */
#define JSON_NULL ((void *)&null_sentinel)
#define ARRAY_MT "dbtrun.json.array"

/* Encoding builds a cJSON tree and only then raises, so that nothing leaks. */
struct encoder {
    lua_State *L;
    char err[160];
};

static cJSON *encode_value(struct encoder *e, int idx, int depth);

static int is_array(lua_State *L, int idx, lua_Integer *len)
{
    if (luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
        int marked = strcmp(lua_tostring(L, -1), ARRAY_MT) == 0;
        lua_pop(L, 1);
        if (marked) {
            *len = (lua_Integer)lua_rawlen(L, idx);
            return 1;
        }
    }
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return 0;
        }
        n++;
    }
    *len = n;
    return n > 0 && (lua_Integer)lua_rawlen(L, idx) == n;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cJSON *encode_object(struct encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    size_t n = 0, cap = 16;
    const char **keys = malloc(cap * sizeof *keys);
    cJSON *obj = cJSON_CreateObject();
    if (!keys || !obj)
        goto fail;
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* keys stay alive: they are in the table */
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            snprintf(e->err, sizeof e->err, "cannot encode a table with mixed or non-string keys");
            goto fail;
        }
        if (n == cap) {
            const char **grown = realloc(keys, (cap *= 2) * sizeof *keys);
            if (!grown) {
                lua_pop(L, 1);
                goto fail;
            }
            keys = grown;
        }
        keys[n++] = lua_tostring(L, -1);
    }
    qsort(keys, n, sizeof *keys, compare_keys);
    for (size_t i = 0; i < n; i++) {
        lua_getfield(L, idx, keys[i]);
        cJSON *item = encode_value(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (!item)
            goto fail;
        cJSON_AddItemToObject(obj, keys[i], item);
    }
    free(keys);
    return obj;
fail:
    free(keys);
    cJSON_Delete(obj);
    return NULL;
}

static cJSON *encode_table(struct encoder *e, int idx, int depth)
{
    lua_Integer len;
    if (depth > MAX_DEPTH) {
        snprintf(e->err, sizeof e->err, "cannot encode: nesting deeper than %d (a cycle?)",
                 MAX_DEPTH);
        return NULL;
    }
    luaL_checkstack(e->L, 8, "json nesting");
    if (!is_array(e->L, idx, &len))
        return encode_object(e, idx, depth);
    cJSON *arr = cJSON_CreateArray();
    for (lua_Integer i = 1; arr && i <= len; i++) {
        lua_rawgeti(e->L, idx, i);
        cJSON *item = encode_value(e, lua_gettop(e->L), depth + 1);
        lua_pop(e->L, 1);
        if (!item) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, item);
    }
    return arr;
}

static cJSON *encode_value(struct encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        lua_Number x = lua_tonumber(L, idx);
        if (isnan(x) || isinf(x)) {
            snprintf(e->err, sizeof e->err, "cannot encode %s", isnan(x) ? "NaN" : "infinity");
            return NULL;
        }
        return cJSON_CreateNumber(x);
    }
    case LUA_TSTRING:
        return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TTABLE:
        return encode_table(e, idx, depth);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == JSON_NULL)
            return cJSON_CreateNull();
        /* fall through */
    default:
        snprintf(e->err, sizeof e->err, "cannot encode a %s", luaL_typename(L, idx));
        return NULL;
    }
}

/* json.encode(value [, {indent = true}]) -> string  (raises on functions, cycles, NaN) */
static int l_json_encode(lua_State *L)
{
    struct encoder e = {L, "out of memory"};
    int indent = 0;
    luaL_checkany(L, 1);
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "indent");
        indent = lua_toboolean(L, -1);
    }
    lua_settop(L, 1);
    cJSON *root = encode_value(&e, 1, 0);
    char *text = root ? (indent ? cJSON_Print(root) : cJSON_PrintUnformatted(root)) : NULL;
    cJSON_Delete(root);
    if (!text)
        return luaL_error(L, "json.encode: %s", e.err);
    lua_pushstring(L, text);
    cJSON_free(text);
    return 1;
}

static void decode_value(lua_State *L, const cJSON *item)
{
    luaL_checkstack(L, 4, "json nesting");
    if (cJSON_IsNull(item)) {
        lua_pushlightuserdata(L, JSON_NULL);
    } else if (cJSON_IsBool(item)) {
        lua_pushboolean(L, cJSON_IsTrue(item));
    } else if (cJSON_IsNumber(item)) {
        double x = item->valuedouble;
        if (x == floor(x) && fabs(x) < 9007199254740992.0)
            lua_pushinteger(L, (lua_Integer)x);
        else
            lua_pushnumber(L, x);
    } else if (cJSON_IsString(item)) {
        lua_pushstring(L, item->valuestring);
    } else if (cJSON_IsArray(item)) {
        lua_newtable(L);
        lua_Integer i = 0;
        for (const cJSON *c = item->child; c; c = c->next) {
            decode_value(L, c);
            lua_rawseti(L, -2, ++i);
        }
        luaL_setmetatable(L, ARRAY_MT);
    } else {
        lua_newtable(L);
        for (const cJSON *c = item->child; c; c = c->next) {
            decode_value(L, c);
            lua_setfield(L, -2, c->string);
        }
    }
}

/* json.decode(text) -> value | nil, msg */
static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        lua_pushnil(L);
        lua_pushfstring(L, "invalid JSON at byte %d", (int)at);
        return 2;
    }
    /* decode_value cannot raise except on stack exhaustion; depth is capped by
     * cJSON's own nesting limit, so the tree is always freed below. */
    decode_value(L, root);
    cJSON_Delete(root);
    return 1;
}

int dr_lua_open_json(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"encode", l_json_encode}, {"decode", l_json_decode}, {NULL, NULL}};
    luaL_newmetatable(L, ARRAY_MT);
    luaL_newlib(L, fns);
    lua_pushlightuserdata(L, JSON_NULL);
    lua_setfield(L, -2, "null");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "array_mt");
    lua_remove(L, -2);
    return 1;
}
