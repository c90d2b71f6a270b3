/* bindings: the openers of the native Lua modules. Each pushes one table of
 * functions; host.c gathers them under require("dbtrun.native"). */
#ifndef DR_BINDINGS_H
#define DR_BINDINGS_H

#include <lua.h>

int dr_lua_open_proc(lua_State *L);
int dr_lua_open_fs(lua_State *L);
int dr_lua_open_env(lua_State *L);
int dr_lua_open_json(lua_State *L);
int dr_lua_open_term(lua_State *L);
int dr_lua_open_mask(lua_State *L);
int dr_lua_open_plan(lua_State *L);
int dr_lua_open_aws(lua_State *L);

/* Pushes nil, "<what>: <strerror(errno)>" and returns 2: the raw bindings'
 * way of reporting an operational failure. */
int dr_lua_fail_errno(lua_State *L, const char *what);

#endif
