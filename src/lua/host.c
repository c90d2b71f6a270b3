/* host: creates the Lua state, installs the native primitives and the
 * embedded library, and runs lua/main.lua inside one protected call. The
 * policy (task graph, parameters, listing) lives in lua/; this file only
 * wires C to it. */
#include "dbtrun/host.h"
#include "dbtrun/embedded.h"
#include "dbtrun/mask.h"
#include "dbtrun/pool.h"
#include "dbtrun/proc.h"
#include "bindings.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lua_State *signal_state;

/* Raised at the next Lua instruction after SIGINT/SIGTERM/SIGHUP. */
static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "interrupt");
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, dr_proc_last_signal());
    lua_setfield(L, -2, "signal");
    lua_error(L);
}

/* Called from the signal handler: lua_sethook is safe there (lua.c does the same). */
static void on_signal(int sig)
{
    (void)sig;
    if (signal_state)
        lua_sethook(signal_state, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* require("dbtrun.x") loads the embedded bytecode only when first needed. */
static int load_module(lua_State *L)
{
    const struct dr_embedded *e = lua_touserdata(L, lua_upvalueindex(1));
    char chunkname[128];
    snprintf(chunkname, sizeof chunkname, "@(dbtrun)/%s", e->name);
    if (luaL_loadbuffer(L, e->data, e->size, chunkname) != LUA_OK)
        return lua_error(L); /* a broken embedded file is a build bug */
    lua_call(L, 0, 1);
    return 1;
}

/* The embedded built-in task file (a tasks/ entry) named `name`, or NULL. */
static const struct dr_embedded *task_file(const char *name)
{
    for (const struct dr_embedded *e = dr_embedded_files; name && e->name; e++)
        if (strncmp(e->name, "lua/", 4) != 0 && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* The table of built-in task sources, __index(t, name): the bytecode of
 * that tasks/ file as a string, made on first use and kept in t. A start
 * reads a file's source only when one of its tasks runs; copying all of them
 * into strings at every start touched their pages for nothing. */
static int task_source(lua_State *L)
{
    const struct dr_embedded *e = task_file(lua_tostring(L, 2));
    if (!e)
        return 0;
    lua_pushlstring(L, e->data, e->size);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

/* The iterator of __pairs: the tasks/ entry after `key` (nil: the first). */
static int next_task_source(lua_State *L)
{
    const struct dr_embedded *e = dr_embedded_files;
    if (!lua_isnil(L, 2)) {
        e = task_file(lua_tostring(L, 2));
        if (!e)
            return 0;
        e++;
    }
    while (e->name && strncmp(e->name, "lua/", 4) == 0)
        e++;
    if (!e->name)
        return 0;
    lua_pushstring(L, e->name);
    lua_getfield(L, 1, e->name); /* through task_source */
    return 2;
}

/* __pairs of the sources table: every built-in task file, made or not. */
static int task_sources_pairs(lua_State *L)
{
    lua_pushcfunction(L, next_task_source);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Lua's standard libraries: the first six are opened at every start; the
 * others when a global of theirs is first read (open_lazy_global), as few
 * tasks use them and opening them was a fifth of a cached --list's work. */
static const luaL_Reg std_libs[] = {
    {LUA_GNAME, luaopen_base},          {LUA_LOADLIBNAME, luaopen_package},
    {LUA_TABLIBNAME, luaopen_table},    {LUA_STRLIBNAME, luaopen_string},
    {LUA_IOLIBNAME, luaopen_io},        {LUA_OSLIBNAME, luaopen_os},
    {LUA_MATHLIBNAME, luaopen_math},    {LUA_UTF8LIBNAME, luaopen_utf8},
    {LUA_COLIBNAME, luaopen_coroutine}, {LUA_DBLIBNAME, luaopen_debug},
};
#define STD_EAGER 6
#define N_STD (sizeof std_libs / sizeof std_libs[0])

/* The opener of lazy standard library `name`, or NULL. */
static lua_CFunction lazy_std_lib(const char *name)
{
    for (size_t i = STD_EAGER; name && i < N_STD; i++)
        if (strcmp(name, std_libs[i].name) == 0)
            return std_libs[i].func;
    return NULL;
}

/* _G's __index(t, name): a lazy standard library, opened as require(name)
 * would and then kept in _G; nil for any other name. */
static int open_lazy_global(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    lua_CFunction open = lazy_std_lib(name);
    if (!open)
        return 0;
    luaL_requiref(L, name, open, 1);
    return 1;
}

static void open_std_libs(lua_State *L)
{
    for (size_t i = 0; i < STD_EAGER; i++) {
        luaL_requiref(L, std_libs[i].name, std_libs[i].func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, open_lazy_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}

/* package.preload's __index(t, name): for "dbtrun.<x>", the loader of the
 * embedded lua/<x>.lua; for a lazy standard library, its opener (so that
 * require("math") works before math was read). require looks there first,
 * so the library's modules are found without a preload entry made for each
 * at every start. */
static int find_module(lua_State *L)
{
    size_t n;
    const char *name = lua_tolstring(L, 2, &n);
    lua_CFunction open = lazy_std_lib(name);
    if (open) {
        lua_pushcfunction(L, open);
        return 1;
    }
    if (!name || n < 8 || strncmp(name, "dbtrun.", 7) != 0)
        return 0;
    for (const struct dr_embedded *e = dr_embedded_files; e->name; e++) {
        /* e->name is "lua/<x>.lua" for module "dbtrun.<x>" */
        if (strncmp(e->name, "lua/", 4) == 0 && strncmp(e->name + 4, name + 7, n - 7) == 0 &&
            strcmp(e->name + 4 + (n - 7), ".lua") == 0) {
            lua_pushlightuserdata(L, (void *)e);
            lua_pushcclosure(L, load_module, 1);
            return 1;
        }
    }
    return 0;
}

/* Embedded files under lua/ become modules "dbtrun.<name>" (find_module);
 * tasks/ files are left in a table path -> bytecode (made on first read) for
 * main.lua to load as task files. */
static void install_embedded(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, find_module);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 2);
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, task_source);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, task_sources_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_setmetatable(L, -2);
}

static void push_run(lua_State *L, const struct dr_run *run)
{
    lua_createtable(L, 0, 16);
#define FLAG(name)                                                                                 \
    lua_pushboolean(L, run->name);                                                                 \
    lua_setfield(L, -2, #name)
#define STR(name)                                                                                  \
    lua_pushstring(L, run->name);                                                                  \
    lua_setfield(L, -2, #name)
    FLAG(list);
    FLAG(dry_run);
    FLAG(json);
    FLAG(summary);
    FLAG(quiet);
    FLAG(complete);
    FLAG(yes);
    STR(color);
    STR(file);
    STR(directory);
    STR(completions);
    STR(dotenv);
    STR(script);
    STR(usage);
    STR(task);
#undef FLAG
#undef STR
    lua_pushinteger(L, run->verbose);
    lua_setfield(L, -2, "verbose");
    lua_createtable(L, run->nsets, 0);
    for (int i = 0; i < run->nsets; i++) {
        lua_pushstring(L, run->sets[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "sets");
    lua_createtable(L, run->nargs, 0);
    for (int i = 0; i < run->nargs; i++) {
        lua_pushstring(L, run->args[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "args");
}

/* native.where(level) -> source, currentline | nothing: debug.getinfo(level,
 * "Sl") without the table it builds, which task() declarations would pay
 * for once per task at every start. */
static int l_where(lua_State *L)
{
    lua_Debug ar;
    if (!lua_getstack(L, (int)luaL_checkinteger(L, 1), &ar) || !lua_getinfo(L, "Sl", &ar))
        return 0;
    lua_pushstring(L, ar.source);
    lua_pushinteger(L, ar.currentline);
    return 2;
}

/* native.is_task_name(s) -> boolean: whether string s matches the pattern
 * "^[%w_][%w_%-]*$" (letters, digits, "_" and "-", not first), as task()
 * checks for every declaration at every start: here without a pattern
 * match. isalnum is the test Lua's %w makes. */
static int l_is_task_name(lua_State *L)
{
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    int ok = s != NULL && n > 0 && s[0] != '-';
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-';
    lua_pushboolean(L, ok);
    return 1;
}

/* native's submodules: the first six are used by every start (the library's
 * start-up modules read them as they load); the others are opened the first
 * time native.<name> is read, so that --list and a task that never touches
 * AWS, JSON, plans or GitHub do not build their tables. */
static const struct {
    const char *name;
    lua_CFunction open;
} native_mods[] = {{"proc", dr_lua_open_proc}, {"fs", dr_lua_open_fs},
                   {"env", dr_lua_open_env},   {"term", dr_lua_open_term},
                   {"mask", dr_lua_open_mask}, {"cache", dr_lua_open_cache},
                   {"json", dr_lua_open_json}, {"plan", dr_lua_open_plan},
                   {"aws", dr_lua_open_aws},   {"github", dr_lua_open_github}};
#define NATIVE_EAGER 6

/* native's __index(t, key): opens a lazy submodule and keeps it in t. */
static int open_lazy_native(lua_State *L)
{
    const char *key = lua_tostring(L, 2);
    for (size_t i = NATIVE_EAGER; key && i < sizeof native_mods / sizeof native_mods[0]; i++) {
        if (strcmp(key, native_mods[i].name) == 0) {
            native_mods[i].open(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, 1, key);
            return 1;
        }
    }
    return 0;
}

static int open_native(lua_State *L)
{
    size_t n = sizeof native_mods / sizeof native_mods[0];
    lua_createtable(L, 0, (int)n + 2);
    for (size_t i = 0; i < NATIVE_EAGER; i++) {
        native_mods[i].open(L);
        lua_setfield(L, -2, native_mods[i].name);
    }
    lua_pushstring(L, DR_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushcfunction(L, l_where);
    lua_setfield(L, -2, "where");
    lua_pushcfunction(L, l_is_task_name);
    lua_setfield(L, -2, "is_task_name");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, open_lazy_native);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    return 1;
}

/* Everything that can raise runs in here, under lua_pcall. */
static int protected_main(lua_State *L)
{
    const struct dr_run *run = lua_touserdata(L, 1);
    /* Loading allocates little garbage: collecting starts when a task runs
     * (main.lua restarts the collector), so --list never pays for it. */
    lua_gc(L, LUA_GCSTOP);
    open_std_libs(L);
    luaL_requiref(L, "dbtrun.native", open_native, 0);
    lua_pop(L, 1);
    install_embedded(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "dbtrun.builtin_sources");
    lua_settop(L, 0);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "dbtrun.main");
    lua_call(L, 1, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "dbtrun.builtin_sources");
    push_run(L, run);
    lua_call(L, 2, 1);
    return 1;
}

/* Under AddressSanitizer every Lua block is its own malloc, so that the
 * sanitizer sees overruns the pool would hide. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_OFF 1
#endif
#endif

/* The Lua state's allocator: a start makes thousands of small allocations,
 * for which the pool (src/base/pool.c) costs a tenth of malloc's time. */
static void *pool_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
#ifdef POOL_OFF
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
#else
    return dr_pool_realloc(ud, p, osize, nsize);
#endif
}

/* As lauxlib's: an error outside any protected call (a dbtrun bug). */
static int panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "dbtrun: PANIC: unprotected error in call to Lua API (%s)\n",
            msg ? msg : "error object is not a string");
    return 0; /* then Lua aborts */
}

/* luaL_newstate with the pool; warnings stay off, as there. */
static lua_State *new_state(void)
{
    static struct dr_pool pool;
    lua_State *L = lua_newstate(pool_alloc, &pool);
    if (L)
        lua_atpanic(L, panic);
    return L;
}

int dr_host_run(const struct dr_run *run)
{
    lua_State *L = new_state();
    int status = 1;
    if (!L) {
        fputs("dbtrun: cannot create the Lua state (out of memory)\n", stderr);
        return 1;
    }
    signal_state = L;
    dr_proc_set_kill_after(run->kill_after_ms);
    dr_proc_init_signals(on_signal);
    lua_pushcfunction(L, protected_main);
    lua_pushlightuserdata(L, (void *)run);
    int rc = lua_pcall(L, 1, 1, 0);
    /* Text the mask held back in case more of a secret followed: nothing follows now. */
    dr_mask_stream_flush(dr_mask_std(1));
    dr_mask_stream_flush(dr_mask_std(2));
    if (rc != LUA_OK && dr_proc_last_signal()) {
        status = 128 + dr_proc_last_signal(); /* interrupted before main.lua took over */
    } else if (rc != LUA_OK || !lua_isinteger(L, -1)) {
        /* main.lua reports every error it expects; this is a dbtrun bug. */
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "dbtrun: internal error: %s\n", msg ? msg : "(no message)");
    } else {
        status = (int)lua_tointeger(L, -1);
    }
    /* The process ends now: freeing every Lua object one by one (lua_close)
     * would cost a tenth of --list's time and return nothing to anyone. The
     * state stays reachable through signal_state, so leak checkers still see
     * only real leaks. Open files are stdio streams, which exit() flushes.
     * Set DBTRUN_LUA_CLOSE=1 to close it anyway (finalizer debugging). */
    if (getenv("DBTRUN_LUA_CLOSE")) {
        signal_state = NULL;
        lua_close(L);
    }
    return status;
}
