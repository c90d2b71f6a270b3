/* l_env: the process environment, and the few facts about the terminal and
 * clock that the Lua library needs. */
#include "bindings.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* env.get(name) -> value | nil */
static int l_env_get(lua_State *L)
{
    lua_pushstring(L, getenv(luaL_checkstring(L, 1)));
    return 1;
}

/* env.set(name, value|nil) — nil unsets; children inherit the change */
static int l_env_set(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *value = luaL_optstring(L, 2, NULL);
    luaL_argcheck(L, *name && !strchr(name, '='), 1, "invalid variable name");
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    return 0;
}

/* env.all([prefix]) -> {name = value, ...}: every variable, or those whose
 * name starts with prefix (config reads DBTRUN_* at every start: the rest
 * need not become Lua strings). */
static int l_env_all(lua_State *L)
{
    size_t plen = 0;
    const char *prefix = luaL_optlstring(L, 1, "", &plen);
    lua_newtable(L);
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, prefix, plen) != 0)
            continue;
        lua_pushlstring(L, *e, (size_t)(eq - *e));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    return 1;
}

int dr_lua_open_env(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"get", l_env_get}, {"set", l_env_set}, {"all", l_env_all}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}

/* term.isatty(fd) -> boolean */
static int l_term_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* term.clock() -> seconds from a monotonic clock, as a float */
static int l_term_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

int dr_lua_open_term(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"isatty", l_term_isatty}, {"clock", l_term_clock}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
