/* l_mask: the secret registry (src/base/mask.c) for the Lua library: secret()
 * registers; apply masks a string; write and flush are the masked stdout and
 * stderr that lua/stdio.lua installs as io.stdout, io.stderr, io.write, print. */
#include "dbtrun/mask.h"
#include "bindings.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

/* mask.add(value) -> number of values added; raises when the registry is full */
static int l_mask_add(lua_State *L)
{
    size_t len;
    const char *value = luaL_checklstring(L, 1, &len);
    int added = dr_mask_add(value, len);
    if (added < 0)
        return luaL_error(L, "secret: too many secrets (at most %d)", DR_MASK_MAX);
    lua_pushinteger(L, added);
    return 1;
}

/* mask.apply(text) -> text with every secret replaced by *** */
static int l_mask_apply(lua_State *L)
{
    size_t len, out_len;
    const char *text = luaL_checklstring(L, 1, &len);
    if (!dr_mask_active()) {
        lua_settop(L, 1);
        return 1;
    }
    char *out = dr_mask_apply(text, len, &out_len);
    if (!out)
        return luaL_error(L, "out of memory");
    lua_pushlstring(L, out, out_len);
    free(out);
    return 1;
}

static struct dr_mask_stream *check_std(lua_State *L, int idx)
{
    struct dr_mask_stream *s = dr_mask_std((int)luaL_checkinteger(L, idx));
    luaL_argcheck(L, s != NULL, idx, "fd must be 1 or 2");
    return s;
}

/* mask.write(fd, ...) -> true | nil, msg, errno: the strings and numbers
 * (formatted as io.write does) through the mask to fd 1 or 2, unbuffered. */
static int l_mask_write(lua_State *L)
{
    struct dr_mask_stream *s = check_std(L, 1);
    int n = lua_gettop(L), ok = 1;
    for (int i = 2; i <= n && ok; i++) {
        char num[64];
        size_t len;
        const char *text;
        if (lua_type(L, i) == LUA_TNUMBER) {
            int w = lua_isinteger(L, i)
                        ? snprintf(num, sizeof num, LUA_INTEGER_FMT, lua_tointeger(L, i))
                        : snprintf(num, sizeof num, LUA_NUMBER_FMT, lua_tonumber(L, i));
            text = num;
            len = w > 0 ? (size_t)w : 0;
        } else {
            text = luaL_checklstring(L, i, &len);
        }
        ok = dr_mask_stream_write(s, text, len) == 0;
    }
    return luaL_fileresult(L, ok, NULL);
}

/* mask.flush(fd) -> true | nil, msg, errno: writes what is held back. */
static int l_mask_flush(lua_State *L)
{
    return luaL_fileresult(L, dr_mask_stream_flush(check_std(L, 1)) == 0, NULL);
}

/* mask.write_raw(fd, text) -> true | nil, msg, errno: unmasked, after what
 * is held back (GitHub's "::add-mask::" lines). */
static int l_mask_write_raw(lua_State *L)
{
    size_t len;
    int fd = (int)luaL_checkinteger(L, 1);
    const char *text = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, dr_mask_std(fd) != NULL, 1, "fd must be 1 or 2");
    return luaL_fileresult(L, dr_mask_write_raw(fd, text, len) == 0, NULL);
}

/* mask.active() -> boolean */
static int l_mask_active(lua_State *L)
{
    lua_pushboolean(L, dr_mask_active());
    return 1;
}

int dr_lua_open_mask(lua_State *L)
{
    static const luaL_Reg fns[] = {{"add", l_mask_add},
                                   {"apply", l_mask_apply},
                                   {"active", l_mask_active},
                                   {"write", l_mask_write},
                                   {"write_raw", l_mask_write_raw},
                                   {"flush", l_mask_flush},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
