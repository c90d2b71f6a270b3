/* l_github: GitHub's REST API for Lua (src/dbt/github.c) — what a pull
 * request's state is, for ci-cleanup. The plan's comment stays in l_plan.c,
 * next to the report it posts. */
#include "dbtrun/github.h"
#include "bindings.h"

#include <lauxlib.h>

/* github.pull{ api_url=, token=, repo=, pr= } -> {state=, merged=} | nil, msg, http_status */
static int l_github_pull(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct dr_github_comment c = {
        .api_url = dr_lua_str_field(L, 1, "api_url"),
        .token = dr_lua_str_field(L, 1, "token"),
        .repo = dr_lua_str_field(L, 1, "repo"),
        .pr = (long)dr_lua_int_field(L, 1, "pr", 0),
    };
    struct dr_github_pull pull;
    struct dr_github_status st;
    if (!c.api_url)
        return luaL_error(L, "github.pull: 'api_url' must be a string");
    if (dr_github_pull_get(&c, &pull, &st) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, st.message);
        lua_pushinteger(L, (lua_Integer)st.http_status);
        return 3;
    }
    lua_createtable(L, 0, 2);
    lua_pushstring(L, pull.state);
    lua_setfield(L, -2, "state");
    lua_pushboolean(L, pull.merged);
    lua_setfield(L, -2, "merged");
    return 1;
}

int dr_lua_open_github(lua_State *L)
{
    static const luaL_Reg fns[] = {{"pull", l_github_pull}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
