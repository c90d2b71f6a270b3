/* bindings: the openers of the native Lua modules. Each pushes one table of
 * functions; host.c gathers them under require("dbtrun.native"). */
#ifndef DR_BINDINGS_H
#define DR_BINDINGS_H

#include <lauxlib.h>
#include <lua.h>

int dr_lua_open_proc(lua_State *L);
int dr_lua_open_fs(lua_State *L);
int dr_lua_open_env(lua_State *L);
int dr_lua_open_json(lua_State *L);
int dr_lua_open_term(lua_State *L);
int dr_lua_open_mask(lua_State *L);
int dr_lua_open_plan(lua_State *L);
int dr_lua_open_aws(lua_State *L);
int dr_lua_open_github(lua_State *L);
int dr_lua_open_cache(lua_State *L);

/* Pushes nil, "<what>: <strerror(errno)>" and returns 2: the raw bindings'
 * way of reporting an operational failure. */
int dr_lua_fail_errno(lua_State *L, const char *what);

/* Option tables. The field `key` of the table at index t: as a string (NULL
 * when absent; the table keeps it alive), as an integer (def when absent;
 * raises when it is not a number), as a boolean (false when absent). */
static inline const char *dr_lua_str_field(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    const char *v = lua_tostring(L, -1);
    lua_pop(L, 1);
    return v;
}

static inline lua_Integer dr_lua_int_field(lua_State *L, int t, const char *key, lua_Integer def)
{
    lua_getfield(L, t, key);
    lua_Integer v = luaL_optinteger(L, -1, def);
    lua_pop(L, 1);
    return v;
}

static inline int dr_lua_bool_field(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

#endif
