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

/* Reads proc.run's arguments (argv at 1, options at 2) into o; the
 * strings stay anchored on the stack. */
static void check_opts(lua_State *L, struct dr_proc_opts *o)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_newtable(L);
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    o->argv = check_argv(L, 1);
    lua_getfield(L, 2, "cwd");
    o->cwd = luaL_optstring(L, -1, NULL);
    lua_getfield(L, 2, "stdin");
    o->stdin_path = luaL_optstring(L, -1, NULL);
    lua_getfield(L, 2, "capture");
    o->capture = lua_toboolean(L, -1);
    if (lua_getfield(L, 2, "env") == LUA_TTABLE)
        o->envp = build_env(L, lua_gettop(L));
}

static int push_result(lua_State *L, struct dr_proc_result *r);

/* The Lua function answering a child's control channel, and the first
 * error it raised (kept at stack index `error`, nil before one). */
struct control {
    lua_State *L;
    int fn, error;
};

/* dr_proc_control's reply: fn(line) -> answer | nil. An error closes the
 * channel and is raised once the child has ended. */
static char *control_reply(void *ud, const char *line, size_t len)
{
    struct control *c = ud;
    lua_State *L = c->L;
    char *answer = NULL;
    if (!lua_checkstack(L, 3))
        return NULL;
    lua_pushvalue(L, c->fn);
    lua_pushlstring(L, line, len);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        if (lua_isnil(L, c->error))
            lua_copy(L, -1, c->error);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        answer = strdup(lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    return answer;
}

/* proc.run(argv, {env=, cwd=, capture=, stdin=path, control=fn}) -> code, output|nil, signal|nil
 *                                         | nil, msg, code */
static int l_proc_run(lua_State *L)
{
    struct dr_proc_opts o = {0};
    struct dr_proc_result r;
    struct control c = {L, 0, 0};
    struct dr_proc_control ctl = {control_reply, &c};
    char err[512];
    check_opts(L, &o);
    if (lua_getfield(L, 2, "control") != LUA_TNIL) {
        luaL_checktype(L, -1, LUA_TFUNCTION);
        c.fn = lua_gettop(L);
        lua_pushnil(L);
        c.error = lua_gettop(L);
        o.control = &ctl;
    }
    if (dr_proc_run(&o, &r, err, sizeof err) != 0) {
        free(r.out);
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushinteger(L, r.exit_code);
        return 3;
    }
    if (c.error && !lua_isnil(L, c.error)) {
        free(r.out);
        lua_pushvalue(L, c.error);
        return lua_error(L);
    }
    return push_result(L, &r);
}

/* code, output|nil, signal|nil of a child that ran; frees r->out. */
static int push_result(lua_State *L, struct dr_proc_result *r)
{
    lua_pushinteger(L, r->exit_code);
    if (r->out)
        lua_pushlstring(L, r->out, r->out_len);
    else
        lua_pushnil(L);
    free(r->out);
    if (r->interrupted)
        lua_pushinteger(L, r->interrupted);
    else
        lua_pushnil(L);
    return 3;
}

#define CHILD_MT "dbtrun.proc.child"

/* The child a handle holds; NULL once collected. */
static struct dr_proc_child **check_child(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, CHILD_MT);
}

/* proc.start(argv, {env=, cwd=, capture=, stdin=, prefix=}) -> child | nil, msg, code */
static int l_proc_start(lua_State *L)
{
    struct dr_proc_opts o = {0};
    char err[512];
    int code;
    check_opts(L, &o);
    lua_getfield(L, 2, "prefix");
    const char *prefix = luaL_optstring(L, -1, "");
    struct dr_proc_child **h = lua_newuserdatauv(L, sizeof *h, 0);
    *h = NULL;
    luaL_setmetatable(L, CHILD_MT);
    *h = dr_proc_start(&o, prefix, &code, err, sizeof err);
    if (!*h) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushinteger(L, code);
        return 3;
    }
    return 1;
}

/* proc.wait_any({child, ...}) -> index of one that has ended */
static int l_proc_wait_any(lua_State *L)
{
    struct dr_proc_child *kids[DR_PROC_PARALLEL_MAX];
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n > 0 && n <= (lua_Integer)DR_PROC_PARALLEL_MAX, 1, "1 to 32 children");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        kids[i - 1] = *check_child(L, -1);
        luaL_argcheck(L, kids[i - 1] != NULL, 1, "a child already collected");
        lua_pop(L, 1);
    }
    lua_pushinteger(L, dr_proc_wait_any(kids, (size_t)n) + 1);
    return 1;
}

/* child:stop(): SIGTERM now, SIGKILL after the grace period */
static int l_proc_child_stop(lua_State *L)
{
    struct dr_proc_child **h = check_child(L, 1);
    if (*h)
        dr_proc_stop(*h);
    return 0;
}

/* child:collect() -> code, output|nil, signal|nil | nil, msg, code
 * (only after wait_any returned it) */
static int l_proc_child_collect(lua_State *L)
{
    struct dr_proc_child **h = check_child(L, 1);
    struct dr_proc_result r;
    char err[512];
    luaL_argcheck(L, *h != NULL, 1, "already collected");
    struct dr_proc_child *c = *h;
    *h = NULL;
    if (dr_proc_collect(c, &r, err, sizeof err) != 0) {
        free(r.out);
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushinteger(L, r.exit_code);
        return 3;
    }
    return push_result(L, &r);
}

/* child:close(), __gc and __close: a child never collected is killed, so none outlives dbtrun's
 * interest */
static int l_proc_child_close(lua_State *L)
{
    struct dr_proc_child **h = check_child(L, 1);
    if (*h)
        dr_proc_abandon(*h);
    *h = NULL;
    return 0;
}

/* proc.last_signal() -> N | 0 */
static int l_proc_last_signal(lua_State *L)
{
    lua_pushinteger(L, dr_proc_last_signal());
    return 1;
}

int dr_lua_open_proc(lua_State *L)
{
    static const luaL_Reg fns[] = {{"run", l_proc_run},
                                   {"start", l_proc_start},
                                   {"wait_any", l_proc_wait_any},
                                   {"last_signal", l_proc_last_signal},
                                   {NULL, NULL}};
    static const luaL_Reg methods[] = {
        {"stop", l_proc_child_stop},     {"collect", l_proc_child_collect},
        {"__gc", l_proc_child_close},    {"close", l_proc_child_close},
        {"__close", l_proc_child_close}, {NULL, NULL}};
    luaL_newmetatable(L, CHILD_MT);
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
