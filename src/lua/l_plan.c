/* l_plan: the state comparison (src/dbt/manifest.c, src/dbt/plan.c) for Lua. Thin:
 * options in, report text and a summary table out. Everything allocated is
 * held by a userdata box created first, so a Lua error at any point (out of
 * memory while pushing) still frees it through __gc. */
#include "dbtrun/estimate.h"
#include "dbtrun/explain.h"
#include "dbtrun/github.h"
#include "dbtrun/manifest.h"
#include "dbtrun/plan.h"
#include "dbtrun/sigv4.h"
#include "bindings.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define BOX_META "dbtrun.plan.box"
#define ROOTS_MAX 64
#define EXPLAIN_NAMES_MAX 256

struct box {
    struct dr_manifest *state, *current;
    struct dr_plan *plan;
    struct dr_explain *explain;
    struct dr_timings *timings;
    struct dr_estimate *estimate;
    char *text, *markdown, *comment;
};

/* __gc and __close of a box: frees whatever it holds; idempotent. */
static int box_release(lua_State *L)
{
    struct box *b = luaL_checkudata(L, 1, BOX_META);
    free(b->text);
    free(b->markdown);
    free(b->comment);
    dr_plan_free(b->plan);
    dr_explain_free(b->explain);
    dr_estimate_free(b->estimate);
    dr_timings_free(b->timings);
    dr_manifest_free(b->current);
    dr_manifest_free(b->state);
    memset(b, 0, sizeof *b);
    return 0;
}

static struct box *new_box(lua_State *L)
{
    struct box *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, BOX_META)) {
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, box_release);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    return b;
}

static enum dr_plan_format check_format(lua_State *L, int opts)
{
    static const char *const names[] = {"text", "json", "markdown", NULL};
    static const enum dr_plan_format formats[] = {DR_PLAN_TEXT, DR_PLAN_JSON, DR_PLAN_MARKDOWN};
    lua_getfield(L, opts, "format");
    int i = luaL_checkoption(L, -1, "text", names);
    lua_pop(L, 1);
    return formats[i];
}

static void set_int(lua_State *L, const char *key, size_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, key);
}

static void push_estimate(lua_State *L, const struct dr_estimate *e)
{
    lua_createtable(L, 0, 6);
    lua_pushnumber(L, e->total);
    lua_setfield(L, -2, "seconds");
    lua_pushnumber(L, e->critical);
    lua_setfield(L, -2, "critical_path_seconds");
    set_int(L, "threads", e->threads);
    set_int(L, "nodes", e->nnodes);
    set_int(L, "timed", e->nknown);
    set_int(L, "unknown", e->nunknown);
    lua_setfield(L, -2, "estimate");
}

static void push_summary(lua_State *L, const struct dr_plan *p, const char *markdown,
                         const char *comment)
{
    size_t downstream = 0;
    for (int k = 0; k < DR_MK_COUNT; k++)
        downstream += p->downstream_by_kind[k];
    lua_createtable(L, 0, 12);
    set_int(L, "new", p->nnew);
    set_int(L, "modified", p->nmodified);
    set_int(L, "removed", p->nremoved);
    set_int(L, "selected", p->nselected);
    set_int(L, "selected_models", p->selected_by_kind[DR_MK_MODEL]);
    set_int(L, "downstream", downstream);
    set_int(L, "warnings", p->nwarnings);
    lua_pushboolean(L, p->breaking);
    lua_setfield(L, -2, "breaking");
    lua_createtable(L, (int)p->nselected, 0);
    for (size_t i = 0; i < p->nselected; i++) {
        lua_pushstring(L, p->selected[i].unique_id);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "selected_ids");
    lua_createtable(L, 0, (int)p->nselected);
    for (size_t i = 0; i < p->nselected; i++)
        if (p->selected[i].direct) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, p->selected[i].unique_id);
        }
    lua_setfield(L, -2, "modified_ids"); /* a set: new or modified themselves, not only children */
    if (markdown) {
        lua_pushstring(L, markdown);
        lua_setfield(L, -2, "markdown");
    }
    if (comment) {
        lua_pushstring(L, comment);
        lua_setfield(L, -2, "comment");
    }
    if (p->estimate)
        push_estimate(L, p->estimate);
    if (p->explain)
        set_int(L, "explained", p->explain->nnodes);
}

/* opts.explain: true (every change) or a list of names -> the evidence in
 * b->explain, read in a second pass over the manifest files. */
static int add_explain(lua_State *L, int opts, struct box *b, const char *state_path,
                       const char *current_path, char *err, size_t errlen)
{
    const char *names[EXPLAIN_NAMES_MAX];
    size_t n = 0;
    int t = lua_getfield(L, opts, "explain");
    if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        lua_pop(L, 1);
        if (!dr_lua_bool_field(L, opts, "markdown_explain"))
            return 0;
        t = LUA_TBOOLEAN; /* every change, in the Markdown only */
        lua_pushboolean(L, 1);
    }
    if (t == LUA_TTABLE) {
        luaL_checkstack(L, EXPLAIN_NAMES_MAX + 2, "plan.compare");
        int list = lua_gettop(L);
        for (lua_Integer i = 1; n < EXPLAIN_NAMES_MAX; i++, n++) {
            if (lua_geti(L, list, i) == LUA_TNIL) {
                lua_pop(L, 1);
                break;
            }
            names[n] = luaL_checkstring(L, -1); /* stays on the stack while used */
        }
    } else if (t != LUA_TBOOLEAN) {
        return luaL_argerror(L, 3, "explain must be true or a list of node names");
    }
    return dr_explain_build(b->plan, b->state, b->current, state_path, current_path, names, n,
                            &b->explain, err, errlen);
}

/* opts.run_results (a path) -> b->estimate with opts.threads. An estimate
 * is never worth failing the plan: a file that cannot be read (or memory
 * running out) leaves a warning in *warning and no estimate. */
static void add_estimate(lua_State *L, int opts, struct box *b, char *warning, size_t len)
{
    lua_getfield(L, opts, "run_results");
    const char *path = luaL_optstring(L, -1, NULL); /* stays on the stack */
    lua_Integer threads = dr_lua_int_field(L, opts, "threads", 1);
    if (!path || dr_estimate_timings_load(path, &b->timings, warning, len) ||
        dr_estimate_plan(b->plan, b->current, b->timings,
                         (unsigned)(threads > 0 && threads < 1024 ? threads : 1), &b->estimate,
                         warning, len))
        return;
    lua_getfield(L, opts, "run_results_label");
    b->estimate->source = luaL_optstring(L, -1, path); /* both stay on the stack */
}

/* plan.compare(state_manifest, current_manifest [, opts]) -> text, summary | nil, msg
 * opts: format = "text"|"json"|"markdown", max_bytes (Markdown), markdown = true
 * (also render Markdown, at most markdown_max bytes, into summary.markdown),
 * comment_max = n (Markdown of at most n bytes into summary.comment),
 * compare_unrendered_sources, state_label, current_label, explain = true | {name, ...}
 * (the evidence of each change, or of the named nodes), markdown_explain = true (the
 * evidence of each change in the Markdown renders only), run_results = path and
 * threads = n (the build-time estimate; an unreadable file gives
 * summary.estimate_warning instead), run_results_label. A third result "explain"
 * marks a name that matches no node; "manifest" a manifest (or the project it
 * describes) that cannot be compared. */
static int l_plan_compare(lua_State *L)
{
    const char *state_path = luaL_checkstring(L, 1);
    const char *current_path = luaL_checkstring(L, 2);
    if (lua_isnoneornil(L, 3))
        lua_newtable(L);
    else
        luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    struct dr_plan_options opts = {0};
    enum dr_plan_format format = check_format(L, 3);
    lua_Integer max_bytes = dr_lua_int_field(L, 3, "max_bytes", 0);
    int want_markdown = dr_lua_bool_field(L, 3, "markdown");
    lua_Integer markdown_max = dr_lua_int_field(L, 3, "markdown_max", 0);
    lua_Integer comment_max = dr_lua_int_field(L, 3, "comment_max", 0);
    opts.compare_unrendered_sources = dr_lua_bool_field(L, 3, "compare_unrendered_sources");
    lua_getfield(L, 3, "state_label");
    opts.state_label = luaL_optstring(L, -1, state_path);
    lua_getfield(L, 3, "current_label");
    opts.current_label = luaL_optstring(L, -1, current_path); /* both stay on the stack */
    if (max_bytes < 0 || markdown_max < 0 || comment_max < 0)
        return luaL_argerror(L, 3, "sizes must not be negative");

    struct box *b = new_box(L);
    char err[1024];
    /* A third result "manifest" tells an unreadable or malformed manifest
     * (the run must stop) from other failures. */
    if (dr_manifest_load(state_path, &b->state, err, sizeof err) ||
        dr_manifest_load(current_path, &b->current, err, sizeof err)) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushliteral(L, "manifest");
        return 3; /* the box is collected later */
    }
    int rc = dr_plan_compare(b->state, b->current, &opts, &b->plan, err, sizeof err);
    if (rc) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        if (rc == -2) /* the project itself is broken: exit 2, like a bad manifest */
            lua_pushliteral(L, "manifest");
        return rc == -2 ? 3 : 2;
    }
    char warning[512] = "";
    if (add_explain(L, 3, b, state_path, current_path, err, sizeof err)) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushliteral(L, "explain");
        return 3;
    }
    add_estimate(L, 3, b, warning, sizeof warning);
    /* markdown_explain alone: the evidence in the step summary and the
     * pull-request comment, the report on stdout as it was */
    int everywhere = lua_getfield(L, 3, "explain") != LUA_TNIL && lua_toboolean(L, -1);
    b->plan->explain = everywhere ? b->explain : NULL;
    b->plan->estimate = b->estimate;
    size_t len;
    if (dr_plan_render(b->plan, format, (size_t)max_bytes, &b->text, &len))
        goto oom;
    b->plan->explain = b->explain;
    if ((want_markdown &&
         dr_plan_render(b->plan, DR_PLAN_MARKDOWN, (size_t)markdown_max, &b->markdown, NULL)) ||
        (comment_max > 0 &&
         dr_plan_render(b->plan, DR_PLAN_MARKDOWN, (size_t)comment_max, &b->comment, NULL)))
        goto oom;
    lua_pushlstring(L, b->text, len);
    push_summary(L, b->plan, b->markdown, b->comment);
    if (warning[0]) {
        lua_pushstring(L, warning);
        lua_setfield(L, -2, "estimate_warning");
    }
    return 2;
oom:
    lua_pushnil(L);
    lua_pushliteral(L, "plan: out of memory while rendering");
    return 2;
}

/* plan.stale(manifest_path, {path, ...}) -> stale, why
 * Whether the manifest is missing or older than any file under the paths. */
static int l_plan_stale(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *roots[ROOTS_MAX];
    size_t n = 0;
    luaL_checkstack(L, ROOTS_MAX + 2, "plan.stale");
    for (lua_Integer i = 1; n < ROOTS_MAX; i++, n++) {
        if (lua_geti(L, 2, i) == LUA_TNIL)
            break;
        roots[n] = luaL_checkstring(L, -1); /* stays on the stack while used */
    }
    char why[512] = "";
    int stale = dr_manifest_stale(path, roots, n, why, sizeof why);
    lua_pushboolean(L, stale);
    if (!stale)
        return 1;
    lua_pushstring(L, why);
    return 2;
}

/* plan.fingerprint(text) -> hex | nil, msg
 * SHA-256 of the settings of a parse: they may hold secrets (a profile's
 * password, the environment), and the fingerprint is written to a file. */
static int l_plan_fingerprint(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    char hex[65];
    if (dr_sigv4_sha256_hex(text, len, hex) != 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "plan.fingerprint: SHA-256 unavailable (libcrypto)");
        return 2;
    }
    lua_pushstring(L, hex);
    return 1;
}

static void set_string(lua_State *L, const char *key, const char *value)
{
    if (!value)
        return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

/* plan.names(manifest_path) -> {{id=, name=, type=, path=, package=, tags=json}, ...}
 * | nil, msg. What shell completion offers: every node of the manifest with
 * its names (tags as canonical JSON text, absent when empty). */
static int l_plan_names(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct box *b = new_box(L);
    char err[1024];
    if (dr_manifest_load(path, &b->state, err, sizeof err)) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2; /* the box is collected later */
    }
    lua_createtable(L, (int)b->state->nnodes, 0);
    for (size_t i = 0; i < b->state->nnodes; i++) {
        const struct dr_manifest_node *n = &b->state->nodes[i];
        lua_createtable(L, 0, 6);
        set_string(L, "id", n->unique_id);
        set_string(L, "name", n->name);
        set_string(L, "type", n->resource_type);
        set_string(L, "path", n->path);
        set_string(L, "package", n->package_name);
        set_string(L, "tags", n->tags);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static const char *check_field(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    if (!lua_isstring(L, -1))
        luaL_error(L, "plan.comment: '%s' must be a string", key);
    return lua_tostring(L, -1); /* stays on the stack while used */
}

/* plan.comment{ api_url=, token=, repo=, pr=, marker=, body= } -> id, "created"|"updated"
 * | nil, msg. The one pull-request comment that carries `marker`. */
static int l_plan_comment(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    struct dr_github_comment c = {
        .api_url = check_field(L, 1, "api_url"),
        .token = check_field(L, 1, "token"),
        .repo = check_field(L, 1, "repo"),
        .pr = (long)dr_lua_int_field(L, 1, "pr", 0),
        .marker = check_field(L, 1, "marker"),
        .body = check_field(L, 1, "body"),
    };
    struct dr_github_status st;
    if (dr_github_upsert_comment(&c, &st)) {
        lua_pushnil(L);
        lua_pushstring(L, st.message);
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)st.id);
    lua_pushstring(L, st.created ? "created" : "updated");
    return 2;
}

int dr_lua_open_plan(lua_State *L)
{
    static const luaL_Reg fns[] = {{"compare", l_plan_compare},         {"stale", l_plan_stale},
                                   {"comment", l_plan_comment},         {"names", l_plan_names},
                                   {"fingerprint", l_plan_fingerprint}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
