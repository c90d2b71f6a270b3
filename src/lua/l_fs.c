/* l_fs: raw file-system binding over src/base/fs.c. Operational failures return
 * nil, msg; lua/fs.lua turns them into raised errors. */
#include "dbtrun/fs.h"
#include "bindings.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dr_lua_fail_errno(lua_State *L, const char *what)
{
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", what, strerror(e));
    return 2;
}

/* fs.stat(path) -> "file"|"dir"|"link"|"other", size, mtime | nil */
static int l_fs_stat(lua_State *L)
{
    struct stat st;
    if (lstat(luaL_checkstring(L, 1), &st) == -1)
        return 0;
    lua_pushstring(L, S_ISREG(st.st_mode)   ? "file"
                      : S_ISDIR(st.st_mode) ? "dir"
                      : S_ISLNK(st.st_mode) ? "link"
                                            : "other");
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_pushinteger(L, (lua_Integer)st.st_mtime);
    return 3;
}

/* fs.mkdir(path) -> true | nil, msg  (creates parents too) */
static int l_fs_mkdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (dr_fs_mkdir_p(path, 0777) == -1)
        return dr_lua_fail_errno(L, path);
    lua_pushboolean(L, 1);
    return 1;
}

/* fs.rm(path) -> true | nil, msg  (recursive; missing is fine) */
static int l_fs_rm(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (dr_fs_rm_rf(path) == -1)
        return dr_lua_fail_errno(L, path);
    lua_pushboolean(L, 1);
    return 1;
}

/* fs.read(path) -> data | nil, msg */
static int l_fs_read(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char *data;
    size_t len;
    if (dr_fs_read(path, &data, &len) == -1)
        return dr_lua_fail_errno(L, path);
    lua_pushlstring(L, data, len);
    free(data);
    return 1;
}

/* fs.write(path, data [, mode]) -> true | nil, msg  (atomic; mode like 384) */
static int l_fs_write(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    lua_Integer mode = luaL_optinteger(L, 3, -1);
    luaL_argcheck(L, mode >= -1 && mode <= 07777, 3, "mode out of range");
    if (dr_fs_write_atomic(path, data, len, (int)mode) == -1)
        return dr_lua_fail_errno(L, path);
    lua_pushboolean(L, 1);
    return 1;
}

/* fs.list(dir) -> {name, ...} (sorted by the caller) | nil, msg */
static int l_fs_list(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    if (!d)
        return dr_lua_fail_errno(L, path);
    lua_newtable(L);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(d);
    return 1;
}

/* fs.find_upward(start_dir, name) -> dir | nil */
static int l_fs_find_upward(lua_State *L)
{
    char *dir;
    if (dr_fs_find_upward(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &dir) == -1)
        return 0;
    lua_pushstring(L, dir);
    free(dir);
    return 1;
}

/* fs.mkdtemp(prefix) -> path | nil, msg  (a new folder prefix.XXXXXX, mode 0700) */
static int l_fs_mkdtemp(lua_State *L)
{
    size_t len;
    const char *prefix = luaL_checklstring(L, 1, &len);
    char path[4096];
    luaL_argcheck(L, len + 8 < sizeof path, 1, "path too long");
    memcpy(path, prefix, len);
    memcpy(path + len, ".XXXXXX", 8);
    if (!mkdtemp(path))
        return dr_lua_fail_errno(L, prefix);
    lua_pushstring(L, path);
    return 1;
}

/* fs.cwd() -> path | nil, msg */
static int l_fs_cwd(lua_State *L)
{
    char buf[4096];
    if (!getcwd(buf, sizeof buf))
        return dr_lua_fail_errno(L, "getcwd");
    lua_pushstring(L, buf);
    return 1;
}

/* fs.chdir(path) -> true | nil, msg */
static int l_fs_chdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (chdir(path) == -1)
        return dr_lua_fail_errno(L, path);
    lua_pushboolean(L, 1);
    return 1;
}

int dr_lua_open_fs(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"stat", l_fs_stat},       {"mkdir", l_fs_mkdir}, {"rm", l_fs_rm},
        {"read", l_fs_read},       {"write", l_fs_write}, {"list", l_fs_list},
        {"cwd", l_fs_cwd},         {"chdir", l_fs_chdir}, {"find_upward", l_fs_find_upward},
        {"mkdtemp", l_fs_mkdtemp}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
