/* plan: state:modified+ between two compact manifests, as dbt-core decides
 * it: what counts depends on the node's class (ParsedNode, generic test,
 * source, exposure, ...), macros are followed through depends_on.macros, and
 * contracts are compared for models only. Reports are in plan_render.c. */
#include "dbtrun/plan.h"
#include "dbtrun/buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DETAIL_MAX (64u << 10) /* cap on one entry's detail text */
#define LIST_MAX 3             /* names listed in one detail or warning */

struct dr_plan_priv {
    char **strings; /* detail texts owned by the plan */
    size_t nstrings, cap;
    size_t warnings_cap; /* of plan->warnings */
};

/* ---- small helpers ------------------------------------------------------ */

static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Hands the buffer's text to the plan; NULL when empty (or out of memory,
 * which *oom records). */
static const char *keep(struct dr_plan *plan, struct dr_buf *b, int *oom)
{
    if (b->out_of_mem)
        *oom = 1;
    if (b->len == 0) {
        dr_buf_free(b);
        return NULL;
    }
    struct dr_plan_priv *pv = plan->priv;
    char **s = dr_grow(pv->strings, &pv->cap, pv->nstrings + 1, sizeof *s, 0);
    if (!s) {
        *oom = 1;
        dr_buf_free(b);
        return NULL;
    }
    pv->strings = s;
    char *text = dr_buf_take(b, NULL);
    if (!text) {
        *oom = 1;
        return NULL;
    }
    pv->strings[pv->nstrings++] = text;
    return text;
}

static void sep(struct dr_buf *b, const char *s)
{
    if (b->len)
        dr_buf_puts(b, s);
}

const char *dr_plan_reason_name(unsigned reason)
{
    switch (reason) {
    case DR_PR_NEW:
        return "new";
    case DR_PR_REMOVED:
        return "removed";
    case DR_PR_BODY:
        return "modified.body";
    case DR_PR_CONFIGS:
        return "modified.configs";
    case DR_PR_RELATION:
        return "modified.relation";
    case DR_PR_PERSISTED_DESCRIPTIONS:
        return "modified.persisted_descriptions";
    case DR_PR_MACROS:
        return "modified.macros";
    case DR_PR_CONTRACT:
        return "modified.contract";
    case DR_PR_PROPERTIES:
        return "modified.properties";
    }
    return "?";
}

/* ---- the comparison rules ----------------------------------------------- */

/* Node classes with their own same_contents in dbt-core. */
enum node_class {
    C_PARSED, /* models, seeds, snapshots, analyses, hooks, functions, singular tests */
    C_GENERIC_TEST,
    C_SOURCE,
    C_EXPOSURE,
    C_METRIC,
    C_SEMANTIC_MODEL,
    C_SAVED_QUERY,
    C_UNIT_TEST,
};

static enum node_class class_of(const struct dr_manifest_node *n)
{
    switch (n->kind) {
    case DR_MK_TEST:
        return n->generic_test ? C_GENERIC_TEST : C_PARSED;
    case DR_MK_SOURCE:
        return C_SOURCE;
    case DR_MK_EXPOSURE:
        return C_EXPOSURE;
    case DR_MK_METRIC:
        return C_METRIC;
    case DR_MK_SEMANTIC_MODEL:
        return C_SEMANTIC_MODEL;
    case DR_MK_SAVED_QUERY:
        return C_SAVED_QUERY;
    case DR_MK_UNIT_TEST:
        return C_UNIT_TEST;
    default:
        return C_PARSED;
    }
}

/* Whether config key `key` takes part in same_config for this node: the
 * config class's CompareBehavior.Exclude fields are left out, and a test's
 * config compares only the fields that change how it fails. */
static int config_compared(const struct dr_manifest_node *n, const char *key)
{
    static const char *const node_excluded[] = {"alias", "schema", "database", "tags", "group"};
    static const char *const test_modifiers[] = {
        "severity", "where",    "limit",          "fail_calc",
        "warn_if",  "error_if", "store_failures", "store_failures_as"};
    size_t i;
    switch (n->kind) {
    case DR_MK_TEST:
        for (i = 0; i < sizeof test_modifiers / sizeof test_modifiers[0]; i++)
            if (strcmp(key, test_modifiers[i]) == 0)
                return 1;
        return 0;
    case DR_MK_SOURCE:
    case DR_MK_EXPOSURE:
        return 1;
    case DR_MK_METRIC:
    case DR_MK_SEMANTIC_MODEL:
        return strcmp(key, "group") != 0;
    case DR_MK_SAVED_QUERY:
        return strcmp(key, "group") != 0 && strcmp(key, "tags") != 0;
    default:
        for (i = 0; i < sizeof node_excluded / sizeof node_excluded[0]; i++)
            if (strcmp(key, node_excluded[i]) == 0)
                return 0;
        return 1;
    }
}

/* same_config: unrendered_config key by key (both sorted by key). */
static int same_config(const struct dr_manifest_node *old, const struct dr_manifest_node *cur,
                       struct dr_buf *detail, struct dr_buf *keys)
{
    uint32_t i = 0, j = 0;
    int same = 1;
    while (i < old->nconfig || j < cur->nconfig) {
        const struct dr_manifest_config *a = i < old->nconfig ? &old->config[i] : NULL;
        const struct dr_manifest_config *b = j < cur->nconfig ? &cur->config[j] : NULL;
        int c = !a ? 1 : !b ? -1 : strcmp(a->key, b->key);
        const char *key = c <= 0 ? a->key : b->key;
        int differs = c != 0 || !dr_manifest_hash_eq(a->value, b->value);
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
        if (!differs || !config_compared(cur, key))
            continue;
        same = 0;
        sep(detail, "; ");
        dr_buf_printf(detail, "%s: %s -> %s", key, c <= 0 ? a->display : "(unset)",
                      c >= 0 ? b->display : "(unset)");
        sep(keys, ", ");
        dr_buf_puts(keys, key);
    }
    return same;
}

static void show_value(struct dr_buf *b, const char *s)
{
    if (s)
        dr_buf_json_string(b, s, strlen(s));
    else
        dr_buf_puts(b, "null");
}

/* ParsedNode.same_database_representation: the configured (unrendered)
 * database, schema and alias, so generate_*_name and target defaults do not
 * count. */
static int same_relation_config(const struct dr_manifest_node *old,
                                const struct dr_manifest_node *cur, struct dr_buf *detail)
{
    static const char *const keys[] = {"database", "schema", "alias"};
    int same = 1;
    for (size_t k = 0; k < 3; k++) {
        const struct dr_manifest_config *a = dr_manifest_config_get(old, keys[k]);
        const struct dr_manifest_config *b = dr_manifest_config_get(cur, keys[k]);
        if ((!a && !b) || (a && b && dr_manifest_hash_eq(a->value, b->value)))
            continue;
        same = 0;
        sep(detail, "; ");
        dr_buf_printf(detail, "%s: %s -> %s", keys[k], a ? a->display : "(unset)",
                      b ? b->display : "(unset)");
    }
    return same;
}

/* SourceDefinition.same_database_representation. */
static int same_relation_source(const struct dr_manifest_node *old,
                                const struct dr_manifest_node *cur, int unrendered,
                                struct dr_buf *detail)
{
    const char *names[3] = {"database", "schema", "identifier"};
    const char *a[3] = {unrendered ? old->unrendered_database : old->database,
                        unrendered ? old->unrendered_schema : old->schema, old->identifier};
    const char *b[3] = {unrendered ? cur->unrendered_database : cur->database,
                        unrendered ? cur->unrendered_schema : cur->schema, cur->identifier};
    int same = 1;
    for (int k = 0; k < 3; k++) {
        if (str_eq(a[k], b[k]))
            continue;
        same = 0;
        sep(detail, "; ");
        dr_buf_printf(detail, "%s: ", names[k]);
        show_value(detail, a[k]);
        dr_buf_puts(detail, " -> ");
        show_value(detail, b[k]);
    }
    return same;
}

static const struct dr_manifest_column *find_column(const struct dr_manifest_node *n,
                                                    const char *key)
{
    for (uint32_t i = 0; i < n->ncolumns; i++)
        if (strcmp(n->columns[i].key, key) == 0)
            return &n->columns[i];
    return NULL;
}

/* {name: description} of both nodes as dicts: same keys, same values. */
static int same_column_descriptions(const struct dr_manifest_node *old,
                                    const struct dr_manifest_node *cur)
{
    if (old->ncolumns != cur->ncolumns)
        return 0;
    for (uint32_t i = 0; i < cur->ncolumns; i++) {
        const struct dr_manifest_column *c = &cur->columns[i];
        const struct dr_manifest_column *o = &old->columns[i];
        if (strcmp(o->key, c->key) != 0)
            o = find_column(old, c->key);
        if (!o || !dr_manifest_hash_eq(o->description, c->description))
            return 0;
    }
    return 1;
}

/* same_persisted_description: only what the current node persists. */
static int same_persisted(const struct dr_manifest_node *old, const struct dr_manifest_node *cur,
                          struct dr_buf *detail)
{
    int same = 1;
    if (cur->persist_relation && !dr_manifest_hash_eq(old->description, cur->description)) {
        same = 0;
        dr_buf_puts(detail, "description");
    }
    if (cur->persist_columns && !same_column_descriptions(old, cur)) {
        same = 0;
        sep(detail, ", ");
        dr_buf_puts(detail, "column descriptions");
    }
    return same;
}

/* same_seeds: the checksum, name and value (a seed over dbt's size limit has
 * a "path" checksum). A plain-string checksum (unit tests) has no name. */
static int same_checksum(const struct dr_manifest_node *old, const struct dr_manifest_node *cur)
{
    return str_eq(old->checksum_name, cur->checksum_name) && str_eq(old->checksum, cur->checksum);
}

static void compare_props(const struct dr_manifest_node *old, const struct dr_manifest_node *cur,
                          const enum dr_manifest_prop *props, size_t n, struct dr_buf *detail)
{
    for (size_t i = 0; i < n; i++) {
        if (dr_manifest_hash_eq(dr_manifest_prop(old, props[i]), dr_manifest_prop(cur, props[i])))
            continue;
        sep(detail, ", ");
        dr_buf_puts(detail, dr_manifest_prop_name(props[i]));
    }
}

static int id_in(const struct dr_manifest *m, const uint32_t *ids, uint32_t n, const char *text)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(dr_manifest_id_text(m, ids[i]), text) == 0)
            return 1;
    return 0;
}

/* Exposure.same_depends_on: depends_on.nodes compared as sets. */
static int same_depends_set(const struct dr_manifest *sm, const struct dr_manifest_node *old,
                            const struct dr_manifest *cm, const struct dr_manifest_node *cur)
{
    for (uint32_t i = 0; i < cur->ndepends; i++)
        if (!id_in(sm, old->depends, old->ndepends, dr_manifest_id_text(cm, cur->depends[i])))
            return 0;
    for (uint32_t i = 0; i < old->ndepends; i++)
        if (!id_in(cm, cur->depends, cur->ndepends, dr_manifest_id_text(sm, old->depends[i])))
            return 0;
    return 1;
}

/* ---- contracts ---------------------------------------------------------- */

static int enforces_constraints(const char *materialized)
{
    return str_eq(materialized, "table") || str_eq(materialized, "incremental");
}

/* Whether the adapter enforces a constraint type (dbt's CONSTRAINT_SUPPORT:
 * the base adapter's table, or "all enforced" for duckdb and postgres). */
static int constraint_enforced(const char *adapter, const char *type)
{
    if (str_eq(adapter, "duckdb") || str_eq(adapter, "postgres"))
        return strcmp(type, "custom") != 0;
    return strcmp(type, "not_null") == 0 || strcmp(type, "foreign_key") == 0;
}

/* A data type without size, precision or scale, lower-cased: changing
 * varchar(10) to varchar(20) is not a breaking change. */
static void base_type(const char *type, char *out, size_t outlen)
{
    size_t n = 0;
    if (!type) {
        out[0] = '\0';
        return;
    }
    const char *end = strchr(type, '(');
    size_t len = end ? (size_t)(end - type) : strlen(type);
    while (len > 0 && isspace((unsigned char)type[len - 1]))
        len--;
    while (len > 0 && isspace((unsigned char)*type)) {
        type++;
        len--;
    }
    for (; n < len && n + 1 < outlen; n++)
        out[n] = (char)tolower((unsigned char)type[n]);
    out[n] = '\0';
}

static int constraint_in(const struct dr_manifest_constraint *list, uint32_t n, const char *json)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(list[i].json, json) == 0)
            return 1;
    return 0;
}

/* Names each constraint of `old` that `cur` lost and the adapter enforces
 * (`column` NULL: model-level ones). Returns whether any was lost. */
static int lost_constraints(const struct dr_manifest_constraint *old, uint32_t nold,
                            const struct dr_manifest_constraint *cur, uint32_t ncur,
                            const char *adapter, const char *column, struct dr_buf *detail)
{
    int lost = 0;
    for (uint32_t k = 0; k < nold; k++) {
        if (constraint_in(cur, ncur, old[k].json) || !constraint_enforced(adapter, old[k].type))
            continue;
        lost = 1;
        sep(detail, "; ");
        if (column)
            dr_buf_printf(detail, "%s constraint removed from column %s", old[k].type, column);
        else
            dr_buf_printf(detail, "model-level %s constraint removed", old[k].type);
    }
    return lost;
}

/* A column whose data type changed: breaking unless only its size did. */
static int type_changed(const struct dr_manifest_column *o, const struct dr_manifest_column *c,
                        struct dr_buf *detail)
{
    char a[64], b[64];
    base_type(o->data_type, a, sizeof a);
    base_type(c->data_type, b, sizeof b);
    sep(detail, "; ");
    dr_buf_printf(detail, "column %s type %s -> %s", o->key, o->data_type ? o->data_type : "null",
                  c->data_type ? c->data_type : "null");
    if (strcmp(a, b) != 0)
        return 1;
    dr_buf_puts(detail, " (size only)");
    return 0;
}

/* The contract's columns, old against current: removed, retyped, constraints
 * lost (when the old materialization enforced them), added. Returns whether
 * any change breaks; *had_constraints says whether an old column had any. */
static int column_changes(const struct dr_manifest_node *old, const struct dr_manifest_node *cur,
                          const char *adapter, int old_enforces, struct dr_buf *detail,
                          int *had_constraints)
{
    int breaking = 0;
    *had_constraints = 0;
    for (uint32_t i = 0; i < old->ncolumns; i++) {
        const struct dr_manifest_column *o = &old->columns[i];
        const struct dr_manifest_column *c = find_column(cur, o->key);
        *had_constraints |= o->nconstraints > 0;
        if (!c) {
            breaking = 1;
            sep(detail, "; ");
            dr_buf_printf(detail, "column %s removed", o->key);
            continue;
        }
        if (!str_eq(o->data_type, c->data_type))
            breaking |= type_changed(o, c, detail);
        if (old_enforces)
            breaking |= lost_constraints(o->constraints, o->nconstraints, c->constraints,
                                         c->nconstraints, adapter, o->key, detail);
    }
    return breaking;
}

static void added_columns(const struct dr_manifest_node *old, const struct dr_manifest_node *cur,
                          struct dr_buf *detail)
{
    for (uint32_t i = 0; i < cur->ncolumns; i++) {
        if (!find_column(old, cur->columns[i].key)) {
            sep(detail, "; ");
            dr_buf_printf(detail, "column %s added", cur->columns[i].key);
        }
    }
}

/* ModelNode.same_contract. Returns 1 when the contract is unchanged; else 0,
 * with *breaking set when the change breaks the contract's consumers. */
static int same_contract(const struct dr_manifest_node *old, const struct dr_manifest_node *cur,
                         const char *adapter, struct dr_buf *detail, int *breaking)
{
    *breaking = 0;
    if (!old->contract_enforced && !cur->contract_enforced)
        return 1;
    if (!old->contract_enforced) {
        dr_buf_puts(detail, "contract now enforced");
        return 0;
    }
    if (cur->contract_enforced && str_eq(cur->contract_checksum, old->contract_checksum))
        return 1;
    if (!cur->contract_enforced) {
        *breaking = 1;
        dr_buf_puts(detail, "contract enforcement removed");
    }
    int old_enforces = enforces_constraints(old->materialized), column_constraints;
    *breaking |= column_changes(old, cur, adapter, old_enforces, detail, &column_constraints);
    if (old_enforces)
        *breaking |= lost_constraints(old->constraints, old->nconstraints, cur->constraints,
                                      cur->nconstraints, adapter, NULL, detail);
    if (old_enforces && !enforces_constraints(cur->materialized) &&
        (old->nconstraints || column_constraints)) {
        *breaking = 1;
        sep(detail, "; ");
        dr_buf_printf(detail, "materialization %s -> %s with constraints", old->materialized,
                      cur->materialized ? cur->materialized : "null");
    }
    added_columns(old, cur, detail);
    if (detail->len == 0)
        dr_buf_puts(detail, "contract checksum changed");
    return 0;
}

/* ---- macros ------------------------------------------------------------- */

/* Memo per current intern id: whether the macro, or one it calls, changed. */
enum { M_UNKNOWN, M_VISITING, M_CLEAN, M_TAINTED };

struct macro_walk {
    const struct dr_manifest *state, *cur;
    unsigned char *memo;
    uint32_t *found; /* for M_TAINTED: the id of the changed macro reached */
    size_t nids;
};

/* Whether macro `id` (a current intern id) is in dbt's modified-macro list:
 * new, changed macro_sql, or gone from the current manifest. */
static int macro_changed(const struct macro_walk *w, uint32_t id)
{
    const struct dr_manifest_macro *mac = dr_manifest_id_macro(w->cur, id);
    const struct dr_manifest_macro *old =
        dr_manifest_find_macro(w->state, dr_manifest_id_text(w->cur, id));
    if (!mac)
        return old != NULL;
    return !old || !dr_manifest_hash_eq(old->sql, mac->sql);
}

/* The changed macro reached from `id` through depends_on.macros, or -1. */
static long macro_taint(struct macro_walk *w, uint32_t id, int depth)
{
    if (id >= w->nids || depth > 200)
        return -1;
    switch (w->memo[id]) {
    case M_VISITING:
    case M_CLEAN:
        return -1;
    case M_TAINTED:
        return w->found[id];
    }
    if (macro_changed(w, id)) {
        w->memo[id] = M_TAINTED;
        w->found[id] = id;
        return id;
    }
    w->memo[id] = M_VISITING;
    const struct dr_manifest_macro *mac = dr_manifest_id_macro(w->cur, id);
    for (uint32_t i = 0; mac && i < mac->nmacros; i++) {
        long hit = macro_taint(w, mac->macros[i], depth + 1);
        if (hit >= 0) {
            w->memo[id] = M_TAINTED;
            w->found[id] = (uint32_t)hit;
            return hit;
        }
    }
    w->memo[id] = M_CLEAN;
    return -1;
}

/* check_macros_modified for one node: names up to LIST_MAX changed macros. */
static int node_macros_changed(struct macro_walk *w, const struct dr_manifest_node *n,
                               struct dr_buf *detail)
{
    int count = 0;
    for (uint32_t i = 0; i < n->nmacros; i++) {
        long hit = macro_taint(w, n->macros[i], 0);
        if (hit < 0)
            continue;
        if (count < LIST_MAX) {
            sep(detail, ", ");
            dr_buf_puts(detail, dr_manifest_id_text(w->cur, (uint32_t)hit));
            if ((uint32_t)hit != n->macros[i])
                dr_buf_printf(detail, " (via %s)", dr_manifest_id_text(w->cur, n->macros[i]));
        }
        count++;
    }
    if (count > LIST_MAX)
        dr_buf_printf(detail, ", and %d more", count - LIST_MAX);
    return count > 0;
}

/* ---- one node ----------------------------------------------------------- */

struct ctx {
    struct dr_plan *plan;
    const struct dr_manifest *state, *cur;
    const struct dr_plan_options *opts;
    struct macro_walk walk;
    struct dr_plan_entry *entries;
    size_t nentries, cap;
    int oom;
};

static struct dr_plan_entry *add_entry(struct ctx *cx, const struct dr_manifest_node *n,
                                       enum dr_plan_status status)
{
    struct dr_plan_entry *grown =
        dr_grow(cx->entries, &cx->cap, cx->nentries + 1, sizeof *grown, 0);
    if (!grown) {
        cx->oom = 1;
        return NULL;
    }
    cx->entries = grown;
    struct dr_plan_entry *e = &cx->entries[cx->nentries++];
    memset(e, 0, sizeof *e);
    e->unique_id = n->unique_id;
    e->resource_type = n->resource_type;
    e->name = n->name;
    e->kind = n->kind;
    e->status = status;
    return e;
}

struct details {
    struct dr_buf configs, keys, relation, macros, contract, props, descriptions;
};

static void details_each(struct details *d, void (*fn)(struct dr_buf *b))
{
    struct dr_buf *all[] = {&d->configs,  &d->keys,  &d->relation,    &d->macros,
                            &d->contract, &d->props, &d->descriptions};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        fn(all[i]);
}

static void buf_init_detail(struct dr_buf *b)
{
    dr_buf_init(b, DETAIL_MAX);
}

static void details_init(struct details *d)
{
    details_each(d, buf_init_detail);
}

static void details_free(struct details *d)
{
    details_each(d, dr_buf_free);
}

#define PROPS(list) compare_props(old, cur, list, sizeof list / sizeof list[0], &d->props)

/* Models, seeds, snapshots, analyses, singular tests, functions: the parsed
 * nodes dbt compares by body, configs, persisted descriptions and relation. */
static unsigned compare_parsed(const struct dr_manifest_node *old,
                               const struct dr_manifest_node *cur, struct details *d)
{
    static const enum dr_manifest_prop fqn[] = {DR_MP_FQN};
    static const enum dr_manifest_prop model_refs[] = {DR_MP_LATEST_VERSION, DR_MP_ACCESS,
                                                       DR_MP_DEPRECATION_DATE};
    static const enum dr_manifest_prop function_props[] = {DR_MP_ARGUMENTS, DR_MP_RETURNS};
    unsigned r = 0;
    if (cur->kind == DR_MK_SEED ? !same_checksum(old, cur)
                                : !dr_manifest_hash_eq(old->raw_code, cur->raw_code))
        r |= DR_PR_BODY;
    if (!same_config(old, cur, &d->configs, &d->keys))
        r |= DR_PR_CONFIGS;
    if (!same_persisted(old, cur, &d->descriptions))
        r |= DR_PR_PERSISTED_DESCRIPTIONS;
    if (!same_relation_config(old, cur, &d->relation))
        r |= DR_PR_RELATION;
    PROPS(fqn);
    if (cur->kind == DR_MK_MODEL)
        PROPS(model_refs);
    if (cur->kind == DR_MK_FUNCTION)
        PROPS(function_props);
    return r;
}

static unsigned compare_source(struct ctx *cx, const struct dr_manifest_node *old,
                               const struct dr_manifest_node *cur, struct details *d)
{
    static const enum dr_manifest_prop source_props[] = {DR_MP_FQN, DR_MP_QUOTING, DR_MP_FRESHNESS,
                                                         DR_MP_LOADED_AT_FIELD, DR_MP_EXTERNAL};
    unsigned r = 0;
    if (!same_relation_source(old, cur, cx->opts->compare_unrendered_sources, &d->relation))
        r |= DR_PR_RELATION;
    if (!same_config(old, cur, &d->configs, &d->keys))
        r |= DR_PR_CONFIGS;
    PROPS(source_props);
    return r;
}

static void note_prop(struct details *d, const char *name)
{
    sep(&d->props, ", ");
    dr_buf_puts(&d->props, name);
}

static unsigned compare_exposure(struct ctx *cx, const struct dr_manifest_node *old,
                                 const struct dr_manifest_node *cur, struct details *d)
{
    static const enum dr_manifest_prop exposure_props[] = {DR_MP_FQN,      DR_MP_TYPE, DR_MP_OWNER,
                                                           DR_MP_MATURITY, DR_MP_URL,  DR_MP_LABEL};
    PROPS(exposure_props);
    if (!dr_manifest_hash_eq(old->description, cur->description))
        note_prop(d, "description");
    if (!same_depends_set(cx->state, old, cx->cur, cur))
        note_prop(d, "depends_on");
    return same_config(old, cur, &d->configs, &d->keys) ? 0 : DR_PR_CONFIGS;
}

/* Metrics, semantic models and saved queries: properties, description, configs. */
static unsigned compare_semantic(const struct dr_manifest_node *old,
                                 const struct dr_manifest_node *cur, struct details *d)
{
    static const enum dr_manifest_prop metric_props[] = {DR_MP_FILTER, DR_MP_METADATA, DR_MP_TYPE,
                                                         DR_MP_TYPE_PARAMS, DR_MP_LABEL};
    static const enum dr_manifest_prop semantic_props[] = {
        DR_MP_MODEL,    DR_MP_DEFAULTS,       DR_MP_ENTITIES, DR_MP_DIMENSIONS,
        DR_MP_MEASURES, DR_MP_PRIMARY_ENTITY, DR_MP_GROUP};
    static const enum dr_manifest_prop saved_query_props[] = {
        DR_MP_QUERY_PARAMS, DR_MP_LABEL, DR_MP_GROUP, DR_MP_EXPORTS, DR_MP_TAGS};
    enum node_class c = class_of(cur);
    if (c == C_METRIC)
        PROPS(metric_props);
    else if (c == C_SEMANTIC_MODEL)
        PROPS(semantic_props);
    else
        PROPS(saved_query_props);
    if (!dr_manifest_hash_eq(old->description, cur->description))
        note_prop(d, "description");
    return same_config(old, cur, &d->configs, &d->keys) ? 0 : DR_PR_CONFIGS;
}

#undef PROPS

/* A generic test: dbt's sub-selectors compare it as any parsed node (its YAML
 * config is compiled into raw_code, so modified.body sees a tags change),
 * but its same_contents looks at the config's failure settings and the fqn
 * only. Sets *modified to what state:modified decides. */
static unsigned compare_generic_test(const struct dr_manifest_node *old,
                                     const struct dr_manifest_node *cur, struct details *d,
                                     int *modified)
{
    unsigned r = compare_parsed(old, cur, d);
    *modified = (r & DR_PR_CONFIGS) || d->props.len;
    return r;
}

/* check_modified_content for a node present in both manifests: the reasons
 * (DR_PR_* bits: each sub-selector that selects the node, PROPERTIES for what
 * only state:modified sees), details filled in; *modified is whether
 * state:modified selects it (macros aside). */
static unsigned compare_node(struct ctx *cx, const struct dr_manifest_node *old,
                             const struct dr_manifest_node *cur, struct details *d, int *breaking,
                             int *modified)
{
    unsigned r = 0;
    *breaking = 0;
    *modified = -1;
    switch (class_of(cur)) {
    case C_PARSED:
        r = compare_parsed(old, cur, d);
        break;
    case C_GENERIC_TEST:
        r = compare_generic_test(old, cur, d, modified);
        break;
    case C_SOURCE:
        r = compare_source(cx, old, cur, d);
        break;
    case C_EXPOSURE:
        r = compare_exposure(cx, old, cur, d);
        break;
    case C_METRIC:
    case C_SEMANTIC_MODEL:
    case C_SAVED_QUERY:
        r = compare_semantic(old, cur, d);
        break;
    case C_UNIT_TEST:
        /* UnitTestDefinition has no same_body, same_config, ...: no
         * sub-selector but modified.macros ever selects a unit test. */
        if (!same_checksum(old, cur))
            note_prop(d, "given, expect or overrides (checksum)");
        break;
    }
    if (d->props.len)
        r |= DR_PR_PROPERTIES;
    if (old->kind == DR_MK_MODEL &&
        !same_contract(old, cur, cx->cur->adapter_type, &d->contract, breaking))
        r |= DR_PR_CONTRACT;
    if (*modified < 0)
        *modified = r != 0;
    return r;
}

/* The sub-selectors that select a new node only because it has no old
 * version: dbt's checkers answer "modified" for a missing old node whenever
 * the node's class has the compared method (same_body, same_config, ...). */
static unsigned absent_reasons(enum node_class c)
{
    switch (c) {
    case C_PARSED:
    case C_GENERIC_TEST:
        return DR_PR_BODY | DR_PR_CONFIGS | DR_PR_PERSISTED_DESCRIPTIONS | DR_PR_RELATION |
               DR_PR_CONTRACT;
    case C_SOURCE:
        return DR_PR_CONFIGS | DR_PR_RELATION;
    case C_UNIT_TEST:
        return 0;
    default:
        return DR_PR_CONFIGS;
    }
}

static void fill_details(struct ctx *cx, struct dr_plan_entry *e, struct details *d)
{
    e->configs = keep(cx->plan, &d->configs, &cx->oom);
    e->config_keys = keep(cx->plan, &d->keys, &cx->oom);
    e->relation = keep(cx->plan, &d->relation, &cx->oom);
    e->macros = keep(cx->plan, &d->macros, &cx->oom);
    e->contract = keep(cx->plan, &d->contract, &cx->oom);
    e->properties = keep(cx->plan, &d->props, &cx->oom);
    e->descriptions = keep(cx->plan, &d->descriptions, &cx->oom);
}

/* A node of the current manifest against its namesake in the state. */
static void visit_current(struct ctx *cx, const struct dr_manifest_node *cur)
{
    const struct dr_manifest_node *old = dr_manifest_find(cx->state, cur->unique_id);
    struct details d;
    int breaking = 0, modified;
    unsigned r, absent = 0;
    enum node_class c = class_of(cur);
    details_init(&d);
    if (old) {
        r = compare_node(cx, old, cur, &d, &breaking, &modified);
    } else {
        /* A new node is modified, except where dbt's same_contents(None)
         * answers "same": sources, exposures, metrics, semantic models and
         * saved queries (only state:new sees them). */
        absent = absent_reasons(c);
        r = DR_PR_NEW | absent;
        modified = !(c == C_SOURCE || c == C_EXPOSURE || c == C_METRIC || c == C_SEMANTIC_MODEL ||
                     c == C_SAVED_QUERY);
    }
    if (cur->has_depends_on && node_macros_changed(&cx->walk, cur, &d.macros)) {
        r |= DR_PR_MACROS;
        modified = 1;
    }
    struct dr_plan_entry *e = r ? add_entry(cx, cur, old ? DR_PLAN_MODIFIED : DR_PLAN_NEW) : NULL;
    if (!e) {
        details_free(&d);
        return;
    }
    e->reasons = r;
    e->absent_reasons = absent;
    e->breaking = breaking;
    e->selected = modified;
    fill_details(cx, e, &d);
}

/* ---- warnings ----------------------------------------------------------- */

static void warn(struct ctx *cx, struct dr_buf *b)
{
    struct dr_plan *plan = cx->plan;
    const char *text = keep(plan, b, &cx->oom);
    if (!text)
        return;
    char **w =
        dr_grow(plan->warnings, &plan->priv->warnings_cap, plan->nwarnings + 1, sizeof *w, 0);
    if (!w) {
        cx->oom = 1;
        return;
    }
    plan->warnings = w;
    plan->warnings[plan->nwarnings++] = (char *)text;
}

/* "1.11" of "1.11.16". */
static size_t minor_prefix(const char *v)
{
    const char *dot = v ? strchr(v, '.') : NULL;
    dot = dot ? strchr(dot + 1, '.') : NULL;
    return dot ? (size_t)(dot - v) : (v ? strlen(v) : 0);
}

/* The unique ids a warning names: the first LIST_MAX, and how many in all. */
struct named {
    const char *names[LIST_MAX];
    size_t total;
};

static void named_add(struct named *nm, const char *unique_id)
{
    if (nm->total < LIST_MAX)
        nm->names[nm->total] = unique_id;
    nm->total++;
}

/* " (a, b, c, and 4 more)" after a warning's text. */
static void list_names(struct dr_buf *b, const struct named *nm)
{
    size_t n = nm->total < LIST_MAX ? nm->total : LIST_MAX;
    for (size_t i = 0; i < n; i++) {
        dr_buf_puts(b, i ? ", " : " (");
        dr_buf_puts(b, nm->names[i]);
    }
    if (nm->total > n)
        dr_buf_printf(b, ", and %zu more", nm->total - n);
    if (n)
        dr_buf_puts(b, ")");
}

static void warn_version_skew(struct ctx *cx, struct dr_buf *b)
{
    const struct dr_manifest *s = cx->state, *c = cx->cur;
    if (!str_eq(s->dbt_version, c->dbt_version)) {
        int minor = !s->dbt_version || !c->dbt_version ||
                    minor_prefix(s->dbt_version) != minor_prefix(c->dbt_version) ||
                    strncmp(s->dbt_version, c->dbt_version, minor_prefix(c->dbt_version)) != 0;
        dr_buf_printf(b,
                      "dbt version skew: the state manifest was written by dbt %s, the current "
                      "one by dbt %s%s",
                      s->dbt_version ? s->dbt_version : "(unknown)",
                      c->dbt_version ? c->dbt_version : "(unknown)",
                      minor ? "; dbt's own macros differ between minor versions, so nodes "
                              "using them show as modified.macros"
                            : "");
        warn(cx, b);
    }
    if (!str_eq(s->schema_version, c->schema_version)) {
        dr_buf_printf(b, "manifest schema skew: %s (state) vs %s (current)",
                      s->schema_version ? s->schema_version : "(unknown)",
                      c->schema_version ? c->schema_version : "(unknown)");
        warn(cx, b);
    }
}

static void warn_vars(struct ctx *cx, struct dr_buf *b)
{
    const struct dr_manifest *c = cx->cur;
    struct named vars = {.total = 0};
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i].uses_var && c->nodes[i].kind != DR_MK_TEST)
            named_add(&vars, c->nodes[i].unique_id);
    if (!vars.total)
        return;
    dr_buf_printf(b,
                  "%zu node%s call var(): dbt does not compare variable values, so a "
                  "changed var (dbt_project.yml or --vars) is invisible to state:modified",
                  vars.total, vars.total == 1 ? "" : "s");
    list_names(b, &vars);
    warn(cx, b);
}

/* Seeds dbt compares by path: one warning each for a seed that just grew past
 * the limit, one for all the others. */
static void warn_path_seeds(struct ctx *cx, struct dr_buf *b)
{
    const struct dr_manifest *s = cx->state, *c = cx->cur;
    struct named big = {.total = 0};
    for (size_t i = 0; i < c->nnodes; i++) {
        const struct dr_manifest_node *n = &c->nodes[i];
        if (n->kind != DR_MK_SEED || !str_eq(n->checksum_name, "path"))
            continue;
        const struct dr_manifest_node *old = dr_manifest_find(s, n->unique_id);
        if (old && !str_eq(old->checksum_name, "path")) {
            dr_buf_printf(b,
                          "seed %s grew over dbt's checksum size limit: it is compared by "
                          "path from now on (this time: modified)",
                          n->unique_id);
            warn(cx, b);
            continue;
        }
        named_add(&big, n->unique_id);
    }
    if (!big.total)
        return;
    dr_buf_printf(b,
                  "%zu seed%s over dbt's checksum size limit (1 MiB) %s compared by path "
                  "only: changes to %s contents are invisible to state:modified",
                  big.total, big.total == 1 ? "" : "s", big.total == 1 ? "is" : "are",
                  big.total == 1 ? "its" : "their");
    list_names(b, &big);
    warn(cx, b);
}

/* Sources whose rendered database/schema moved while the configured values
 * did not: dbt (without the flag) calls them modified, by target alone. */
static void warn_rendered_sources(struct ctx *cx, struct dr_buf *b)
{
    const struct dr_manifest *s = cx->state, *c = cx->cur;
    struct named moved = {.total = 0};
    if (cx->opts->compare_unrendered_sources)
        return;
    for (size_t i = 0; i < c->nnodes; i++) {
        const struct dr_manifest_node *n = &c->nodes[i];
        const struct dr_manifest_node *old;
        if (n->kind != DR_MK_SOURCE || !(old = dr_manifest_find(s, n->unique_id)))
            continue;
        if ((!str_eq(old->database, n->database) || !str_eq(old->schema, n->schema)) &&
            str_eq(old->unrendered_database, n->unrendered_database) &&
            str_eq(old->unrendered_schema, n->unrendered_schema))
            named_add(&moved, n->unique_id);
    }
    if (!moved.total)
        return;
    dr_buf_printf(b,
                  "%zu source%s differ only in rendered database/schema (target-"
                  "dependent); the flag state_modified_compare_more_unrendered_values "
                  "would make dbt compare the configured values",
                  moved.total, moved.total == 1 ? "" : "s");
    list_names(b, &moved);
    warn(cx, b);
}

/* What state:modified cannot see in this pair of manifests, as warnings. */
static void blind_spots(struct ctx *cx)
{
    struct dr_buf b;
    dr_buf_init(&b, DETAIL_MAX);
    warn_version_skew(cx, &b);
    warn_vars(cx, &b);
    warn_path_seeds(cx, &b);
    warn_rendered_sources(cx, &b);
    dr_buf_free(&b);
}

/* ---- removed nodes ------------------------------------------------------ */

static void visit_removed(struct ctx *cx, const struct dr_manifest_node *old)
{
    if (dr_manifest_find(cx->cur, old->unique_id))
        return;
    struct dr_plan_entry *e = add_entry(cx, old, DR_PLAN_REMOVED);
    if (!e)
        return;
    e->reasons = DR_PR_REMOVED;
    e->disabled = dr_manifest_is_disabled(cx->cur, old->unique_id);
    if (old->kind == DR_MK_MODEL && old->contract_enforced) {
        struct dr_buf b;
        dr_buf_init(&b, DETAIL_MAX);
        e->breaking = 1;
        dr_buf_printf(&b, "contracted model %s", e->disabled ? "disabled" : "deleted or renamed");
        e->contract = keep(cx->plan, &b, &cx->oom);
        dr_buf_printf(&b, "contracted model %s was %s: a breaking change%s", old->unique_id,
                      e->disabled ? "disabled" : "deleted or renamed",
                      old->version ? " (it is versioned: dbt stops with an error unless it "
                                     "is past its deprecation_date)"
                                   : "");
        warn(cx, &b);
    }
}

/* ---- selection ---------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dr_plan_entry *)a)->unique_id,
                  ((const struct dr_plan_entry *)b)->unique_id);
}

static int selected_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dr_plan_selected *)a)->unique_id,
                  ((const struct dr_plan_selected *)b)->unique_id);
}

/* Marks state:modified (2) and, breadth first through child_map, its
 * descendants (1); mark and queue have a slot per current node. Returns how
 * many nodes are marked. */
static size_t mark_descendants(struct ctx *cx, unsigned char *mark, size_t *queue)
{
    const struct dr_manifest *c = cx->cur;
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < cx->nentries; i++) {
        const struct dr_plan_entry *e = &cx->entries[i];
        const struct dr_manifest_node *n;
        if (!e->selected || e->status == DR_PLAN_REMOVED ||
            !(n = dr_manifest_find(c, e->unique_id)))
            continue;
        size_t at = (size_t)(n - c->nodes);
        if (!mark[at])
            queue[tail++] = at;
        mark[at] = 2;
    }
    while (head < tail) {
        const struct dr_manifest_node *n = &c->nodes[queue[head++]];
        uint32_t nchildren;
        const uint32_t *children = dr_manifest_children(c, n->id, &nchildren);
        for (uint32_t k = 0; k < nchildren; k++) {
            const struct dr_manifest_node *child = dr_manifest_id_node(c, children[k]);
            size_t at = child ? (size_t)(child - c->nodes) : 0;
            if (child && !mark[at]) {
                mark[at] = 1;
                queue[tail++] = at;
            }
        }
    }
    return tail;
}

/* plan->selected from the marks, sorted by unique id, counted by kind.
 * 0, or -1 when out of memory. */
static int record_selected(struct ctx *cx, const unsigned char *mark, size_t nmarked)
{
    const struct dr_manifest *c = cx->cur;
    struct dr_plan *plan = cx->plan;
    plan->selected = calloc(nmarked ? nmarked : 1, sizeof *plan->selected);
    if (!plan->selected)
        return -1;
    for (size_t i = 0; i < c->nnodes; i++) {
        if (!mark[i])
            continue;
        const struct dr_manifest_node *n = &c->nodes[i];
        struct dr_plan_selected *s = &plan->selected[plan->nselected++];
        s->unique_id = n->unique_id;
        s->resource_type = n->resource_type;
        s->kind = n->kind;
        s->direct = mark[i] == 2;
        plan->selected_by_kind[n->kind]++;
        if (!s->direct)
            plan->downstream_by_kind[n->kind]++;
    }
    if (plan->nselected > 1)
        qsort(plan->selected, plan->nselected, sizeof *plan->selected, selected_cmp);
    return 0;
}

/* state:modified+: the selected entries and everything below them. */
static int select_descendants(struct ctx *cx)
{
    size_t n = cx->cur->nnodes ? cx->cur->nnodes : 1;
    unsigned char *mark = calloc(n, 1); /* 1 child, 2 direct */
    size_t *queue = malloc(n * sizeof *queue);
    int rc = !mark || !queue ? -1 : record_selected(cx, mark, mark_descendants(cx, mark, queue));
    free(mark);
    free(queue);
    return rc;
}

/* An empty plan with the two manifests' labels, versions and times, or NULL. */
static struct dr_plan *plan_new(const struct dr_manifest *state, const struct dr_manifest *current,
                                const struct dr_plan_options *opts)
{
    struct dr_plan *plan = calloc(1, sizeof *plan);
    if (!plan || !(plan->priv = calloc(1, sizeof *plan->priv))) {
        dr_plan_free(plan);
        return NULL;
    }
    plan->state_label = opts->state_label ? opts->state_label : "state";
    plan->current_label = opts->current_label ? opts->current_label : "current";
    plan->state_version = state->dbt_version;
    plan->current_version = current->dbt_version;
    plan->state_generated_at = state->generated_at;
    plan->current_generated_at = current->generated_at;
    return plan;
}

/* Every node once (the first of a duplicated id only): current nodes against
 * the state, then state nodes gone from the current manifest. */
static void visit_all(struct ctx *cx)
{
    for (size_t i = 0; i < cx->cur->nnodes; i++) {
        const struct dr_manifest_node *n = &cx->cur->nodes[i];
        if (dr_manifest_id_node(cx->cur, n->id) == n)
            visit_current(cx, n);
    }
    for (size_t i = 0; i < cx->state->nnodes; i++) {
        const struct dr_manifest_node *n = &cx->state->nodes[i];
        if (dr_manifest_id_node(cx->state, n->id) == n)
            visit_removed(cx, n);
    }
}

/* Sorts the entries and counts them by status. */
static void tally(struct ctx *cx)
{
    struct dr_plan *plan = cx->plan;
    if (cx->nentries > 1)
        qsort(cx->entries, cx->nentries, sizeof *cx->entries, entry_cmp);
    for (size_t i = 0; i < cx->nentries; i++) {
        const struct dr_plan_entry *e = &cx->entries[i];
        plan->nnew += e->status == DR_PLAN_NEW;
        plan->nmodified += e->status == DR_PLAN_MODIFIED;
        plan->nremoved += e->status == DR_PLAN_REMOVED;
        plan->breaking |= e->breaking;
    }
}

static void warn_breaking(struct ctx *cx)
{
    for (size_t i = 0; i < cx->nentries; i++) {
        const struct dr_plan_entry *e = &cx->entries[i];
        if (e->breaking && e->status == DR_PLAN_MODIFIED) {
            struct dr_buf b;
            dr_buf_init(&b, DETAIL_MAX);
            dr_buf_printf(&b, "breaking contract change in %s: %s", e->unique_id,
                          e->contract ? e->contract : "");
            warn(cx, &b);
        }
    }
}

/* ---- a project dbt cannot select in -------------------------------------- */

/* dbt parse leaves a null in depends_on.macros when a macro or generic test is
 * removed while still used, and dbt's state selector then stops with a
 * compilation error: the plan stops too instead of reporting no changes.
 * Returns 1 with the message in err for the first such node, else 0. */
static int lost_macro(const struct dr_manifest *cur, char *err, size_t errlen)
{
    for (size_t i = 0; i < cur->nnodes; i++) {
        const struct dr_manifest_node *n = &cur->nodes[i];
        if (!n->missing_macro)
            continue;
        const char *path = n->path ? n->path : "?";
        if (n->test_name)
            snprintf(err, errlen,
                     "%s (in %s) uses the generic test '%s', whose macro %s%stest_%s "
                     "does not exist: it was removed or renamed but is still referenced "
                     "(dbt's state:modified fails on it with a compilation error)",
                     n->unique_id, path, n->test_name, n->test_namespace ? n->test_namespace : "",
                     n->test_namespace ? "." : "", n->test_name);
        else
            snprintf(err, errlen,
                     "%s (in %s) depends on a macro that does not exist: it was removed "
                     "or renamed but is still referenced (dbt's state:modified fails on it with "
                     "a compilation error)",
                     n->unique_id, path);
        return 1;
    }
    return 0;
}

int dr_plan_compare(const struct dr_manifest *state, const struct dr_manifest *current,
                    const struct dr_plan_options *opts, struct dr_plan **out, char *err,
                    size_t errlen)
{
    static const struct dr_plan_options defaults = {0, "state", "current"};
    struct ctx cx;
    memset(&cx, 0, sizeof cx);
    int rc = -1;
    if (!opts)
        opts = &defaults;
    if (lost_macro(current, err, errlen))
        return -2;
    struct dr_plan *plan = plan_new(state, current, opts);
    if (!plan)
        goto out;
    cx.plan = plan;
    cx.state = state;
    cx.cur = current;
    cx.opts = opts;
    cx.walk.state = state;
    cx.walk.cur = current;
    cx.walk.nids = current->nids;
    cx.walk.memo = calloc(cx.walk.nids ? cx.walk.nids : 1, 1);
    cx.walk.found = calloc(cx.walk.nids ? cx.walk.nids : 1, sizeof *cx.walk.found);
    if (!cx.walk.memo || !cx.walk.found)
        goto out;
    visit_all(&cx);
    if (cx.oom)
        goto out;
    tally(&cx);
    if (select_descendants(&cx))
        goto out;
    blind_spots(&cx);
    warn_breaking(&cx);
    if (cx.oom)
        goto out;
    plan->entries = cx.entries;
    plan->nentries = cx.nentries;
    cx.entries = NULL;
    *out = plan;
    plan = NULL;
    rc = 0;
out:
    if (rc)
        snprintf(err, errlen, "plan: out of memory");
    free(cx.walk.memo);
    free(cx.walk.found);
    free(cx.entries);
    dr_plan_free(plan);
    return rc;
}

void dr_plan_free(struct dr_plan *plan)
{
    if (!plan)
        return;
    if (plan->priv) {
        for (size_t i = 0; i < plan->priv->nstrings; i++)
            free(plan->priv->strings[i]);
        free(plan->priv->strings);
        free(plan->priv);
    }
    free(plan->entries);
    free(plan->selected);
    free(plan->warnings);
    free(plan);
}
