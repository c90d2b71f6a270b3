/* l_mask: the secret registry (src/mask.c) for the Lua library: secret()
 * registers, and everything ui.lua writes goes through apply. */
#include "dbtrun/mask.h"
#include "bindings.h"

#include <lauxlib.h>
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

/* mask.active() -> boolean */
static int l_mask_active(lua_State *L)
{
    lua_pushboolean(L, dr_mask_active());
    return 1;
}

int dr_lua_open_mask(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"add", l_mask_add}, {"apply", l_mask_apply}, {"active", l_mask_active}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
