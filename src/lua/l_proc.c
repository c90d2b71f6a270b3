/* l_proc: the raw process binding. run{} and sh() with their echo, dry-run
 * and check policy are in lua/run.lua; this file only marshals. */
#include "dbtrun/proc.h"
#include "bindings.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Builds a NULL-terminated argv from the array of strings at idx. The
 * strings stay owned by that table, which is on the stack for the call. */
static char **check_argv(lua_State *L, int idx)
{
    lua_Integer n = luaL_len(L, idx);
    luaL_argcheck(L, n > 0, idx, "empty command");
    char **argv = lua_newuserdatauv(L, sizeof(char *) * ((size_t)n + 1), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        luaL_argcheck(L, lua_geti(L, idx, i) == LUA_TSTRING, idx, "command words must be strings");
        argv[i - 1] = (char *)lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    argv[n] = NULL;
    return argv;
}

static int overridden(lua_State *L, int overlay, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq)
        return 0;
    lua_pushlstring(L, entry, (size_t)(eq - entry));
    int found = lua_rawget(L, overlay) != LUA_TNIL;
    lua_pop(L, 1);
    return found;
}

/* The current environment with the overlay table applied: string values set
 * a variable, false removes it. Entries are Lua strings anchored in a table
 * left on the stack. */
static char **build_env(lua_State *L, int overlay)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    lua_newtable(L); /* anchors the strings made here */
    int anchor = lua_gettop(L);
    size_t extra = 0;
    lua_pushnil(L);
    while (lua_next(L, overlay)) {
        luaL_argcheck(L, lua_type(L, -2) == LUA_TSTRING, 2, "env keys must be strings");
        luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TBOOLEAN, 2,
                      "env values must be strings or false");
        extra++;
        lua_pop(L, 1);
    }
    char **envp = lua_newuserdatauv(L, sizeof(char *) * (n + extra + 1), 0);
    lua_rawseti(L, anchor, 1);
    for (size_t i = 0; i < n; i++)
        if (!overridden(L, overlay, environ[i]))
            envp[k++] = environ[i];
    lua_pushnil(L);
    while (lua_next(L, overlay)) {
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
            envp[k++] = (char *)lua_tostring(L, -1);
            lua_rawseti(L, anchor, (lua_Integer)k + 1);
        }
        lua_pop(L, 1);
    }
    envp[k] = NULL;
    return envp;
}

/* proc.run(argv, {env=, cwd=, capture=, stdin=path}) -> code, output|nil, signal|nil
 *                                         | nil, msg, code */
static int l_proc_run(lua_State *L)
{
    struct dr_proc_opts o = {0};
    struct dr_proc_result r;
    char err[512];
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_isnoneornil(L, 2))
        lua_newtable(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    o.argv = check_argv(L, 1);
    lua_getfield(L, 2, "cwd");
    o.cwd = luaL_optstring(L, -1, NULL);
    lua_getfield(L, 2, "stdin");
    o.stdin_path = luaL_optstring(L, -1, NULL);
    lua_getfield(L, 2, "capture");
    o.capture = lua_toboolean(L, -1);
    if (lua_getfield(L, 2, "env") == LUA_TTABLE)
        o.envp = build_env(L, lua_gettop(L));
    if (dr_proc_run(&o, &r, err, sizeof err) != 0) {
        free(r.out);
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushinteger(L, r.exit_code);
        return 3;
    }
    lua_pushinteger(L, r.exit_code);
    if (r.out)
        lua_pushlstring(L, r.out, r.out_len);
    else
        lua_pushnil(L);
    free(r.out);
    if (r.interrupted)
        lua_pushinteger(L, r.interrupted);
    else
        lua_pushnil(L);
    return 3;
}

/* proc.last_signal() -> N | 0 */
static int l_proc_last_signal(lua_State *L)
{
    lua_pushinteger(L, dr_proc_last_signal());
    return 1;
}

int dr_lua_open_proc(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"run", l_proc_run}, {"last_signal", l_proc_last_signal}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
