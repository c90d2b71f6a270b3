/* Unit tests for src/dbt/explain.c: the body diff, the likely-false-positive
 * rules, and the evidence of hand-written manifest pairs (' stands for ")
 * read back from files, as `plan --explain` does, and its three reports. */
#include "dbtrun/explain.h"
#include "dbtrun/fs.h"
#include "dbtrun/plan.h"
#include "harness.h"
#include "manifest_text.h"
#include "scratch.h"

#include <stdlib.h>

/* ---- the diff ----------------------------------------------------------- */

static void test_diff_of_equal_texts_is_empty(void)
{
    char *d = dr_explain_diff("a\nb\n", "a\nb\n", 10, 1000);
    CHECK_STR(d, "");
    free(d);
}

static void test_diff_keeps_three_lines_of_context(void)
{
    char *d =
        dr_explain_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", 60, 4096);
    CHECK_STR(d, "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
    free(d);
}

static void test_diff_of_an_added_first_line_and_a_text_without_newline(void)
{
    char *d = dr_explain_diff("select 1", "-- note\nselect 1", 60, 4096);
    CHECK_STR(d, "@@ -1,1 +1,2 @@\n+-- note\n select 1\n");
    free(d);
}

static void test_distant_changes_are_two_hunks_near_ones_one(void)
{
    const char *old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n";
    char *far = dr_explain_diff(old, "A\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nM\n", 60, 4096);
    CHECK_STR(far, "@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n d\n@@ -10,4 +10,4 @@\n j\n k\n l\n-m\n+M\n");
    char *near = dr_explain_diff(old, "A\nb\nc\nd\ne\nf\nG\nh\ni\nj\nk\nl\nm\n", 60, 4096);
    CHECK(near && strncmp(near, "@@ -1,10 +1,10 @@\n", 18) == 0);
    CHECK(near && strstr(near, "@@") == near && strstr(near + 2, "@@ -") == NULL);
    free(far);
    free(near);
}

static void test_diff_is_capped_in_lines_and_bytes(void)
{
    char old[4096] = "", cur[4096] = "";
    for (int i = 0; i < 100; i++) {
        snprintf(old + strlen(old), sizeof old - strlen(old), "old line %d\n", i);
        snprintf(cur + strlen(cur), sizeof cur - strlen(cur), "new line %d\n", i);
    }
    char *d = dr_explain_diff(old, cur, 10, 1 << 20);
    size_t lines = 0;
    for (const char *s = d; s && *s; s++)
        lines += *s == '\n';
    CHECK(lines == 11); /* 10 and the note */
    CHECK(d && strstr(d, "... 191 more diff lines not shown\n") != NULL);
    free(d);
    d = dr_explain_diff(old, cur, 1000, 200);
    CHECK(d && strlen(d) < 200 + 64);
    CHECK(d && strstr(d, "more diff lines not shown") != NULL);
    free(d);
}

/* ---- likely false positives --------------------------------------------- */

static const char *hint(const char *key, const char *o, const char *n, const char *raw,
                        const char **what)
{
    return dr_explain_env_hint(key, o, n, "analytics", "prod_db", "ci_pr_7", "ci_db", raw, what);
}

static void test_env_var_values_are_flagged(void)
{
    const char *what = NULL;
    const char *h = hint("schema", "\"{{ env_var('S') }}\"", "\"x\"", NULL, &what);
    CHECK(h && strstr(h, "state_modified_compare_more_unrendered_values"));
    CHECK_STR(what, "the value comes from env_var()");
    h = hint("tags", "[\"a\"]", "[\"b\"]", "{{ config(tags=[env_var('T')]) }} select 1", &what);
    CHECK(h && strstr(h, "state_modified_compare_more_unrendered_values"));
    CHECK_STR(what, "the node's config() sets it from env_var()");
}

static void test_the_targets_schema_or_database_is_flagged(void)
{
    const char *what = NULL;
    const char *h = hint("schema", "\"analytics\"", "\"ci_pr_7\"", "select 1", &what);
    CHECK(h && strstr(h, "generate_schema_name"));
    CHECK_STR(what, "the value is the target's schema or database");
    CHECK(hint("database", NULL, "\"ci_db\"", NULL, &what) != NULL);
}

static void test_timestamps_and_project_roots_are_flagged(void)
{
    const char *what = NULL;
    const char *h = hint("meta", "{\"built\": \"2026-12-01T10:00:00Z\"}",
                         "{\"built\": \"2026-12-07T09:00:00Z\"}", NULL, &what);
    CHECK(h && strstr(h, "generated_at"));
    h = hint("location", "\"/home/runner/work/proj/data/x.csv\"", "\"/tmp/ci/proj/data/x.csv\"",
             NULL, &what);
    CHECK(h && strstr(h, "relative to the project root"));
    CHECK_STR(what, "the paths differ only by the project root");
}

static void test_code_changes_are_not_flagged(void)
{
    const char *what = NULL;
    CHECK(hint("materialized", "\"view\"", "\"table\"", "select 1", &what) == NULL);
    CHECK(hint("schema", "\"marts\"", "\"finance\"", "select 1", &what) == NULL);
    CHECK(hint("location", "\"/data/a/x.csv\"", "\"/data/b/y.csv\"", NULL, &what) == NULL);
    CHECK(hint("location", "\"data/x.csv\"", "\"other/x.csv\"", NULL, &what) == NULL);
    CHECK(hint("meta", "{\"owner\": \"a\"}", "{\"owner\": \"b\"}", NULL, &what) == NULL);
}

/* ---- the evidence of a manifest pair ------------------------------------ */

#define NODE(name, raw, ucfg, schema, deps, macros)                                                \
    "'model.p." name "': {'resource_type': 'model', 'name': '" name "', 'fqn': ['p', '" name       \
    "'], 'raw_code': '" raw "', 'unrendered_config': {" ucfg "}, 'config': {'materialized': "      \
    "'view'}, 'database': 'db', 'schema': '" schema "', 'alias': '" name "', 'depends_on': "       \
    "{'macros': [" macros "], 'nodes': [" deps "]}}"

#define PAIR(raw_a, mat_a, schema_c, mac, more)                                                    \
    "{'metadata': {'dbt_version': '1.9.0'}, 'nodes': {" NODE(                                      \
        "a", raw_a, "'materialized': '" mat_a "'", "prod", "",                                     \
        "") ", " NODE("b", "select 1", "", "prod", "'model.p.a'",                                  \
                      "") ", " NODE("c", "{{ config(schema=env_var(\\'S\\')) }} select 1",         \
                                    "'schema': '" schema_c "'", schema_c, "",                      \
                                    "") ", " NODE("d", "select {{ m1() }}", "", "prod", "",        \
                                                  "'macro.p.m1'") more                             \
        "}, 'macros': {'macro.p.m1': {'macro_sql': "                                               \
        "'{{ m2() }}', 'depends_on': {'macros': "                                                  \
        "['macro.p.m2']}}, 'macro.p.m2': {'macro_sql': '" mac "', 'depends_on': {'macros': []}}}}"

struct world {
    struct dr_manifest *state, *cur;
    struct dr_plan *plan;
    struct dr_explain *ex;
    char err[256];
};

static int load(struct world *w, const char *state, const char *cur, const char *const *names,
                size_t n)
{
    char *s = dq(state), *c = dq(cur);
    write_text(in_root("state.json"), s);
    write_text(in_root("cur.json"), c);
    free(s);
    free(c);
    memset(w, 0, sizeof *w);
    w->state = parse(state);
    w->cur = parse(cur);
    CHECK(w->state && w->cur);
    if (!w->state || !w->cur || dr_plan_compare(w->state, w->cur, NULL, &w->plan, w->err, 256))
        return -1;
    return dr_explain_build(w->plan, w->state, w->cur, in_root("state.json"), in_root("cur.json"),
                            names, n, &w->ex, w->err, sizeof w->err);
}

static void unload(struct world *w)
{
    dr_explain_free(w->ex);
    dr_plan_free(w->plan);
    dr_manifest_free(w->state);
    dr_manifest_free(w->cur);
}

static const struct dr_explain_node *node(const struct world *w, const char *uid)
{
    for (size_t i = 0; w->ex && i < w->ex->nnodes; i++)
        if (strcmp(w->ex->nodes[i].unique_id, uid) == 0)
            return &w->ex->nodes[i];
    return NULL;
}

static const char OLD[] = PAIR("select 1\\nfrom x\\nwhere y", "view", "prod", "x", "");
static const char CUR[] = PAIR("select 1\\nfrom x\\nwhere z", "table", "ci", "y", "");

static void test_every_change_is_explained_with_its_evidence(void)
{
    struct world w;
    CHECK(load(&w, OLD, CUR, NULL, 0) == 0);
    CHECK(w.ex && w.ex->nnodes == 3 && w.ex->nleft == 0);
    const struct dr_explain_node *a = node(&w, "model.p.a");
    CHECK(a && a->nconfigs == 1);
    if (a && a->nconfigs == 1) {
        CHECK_STR(a->status, "modified");
        CHECK_STR(a->configs[0].key, "materialized");
        CHECK_STR(a->configs[0].old_value, "\"view\"");
        CHECK_STR(a->configs[0].new_value, "\"table\"");
        CHECK_STR(a->diff, "@@ -1,3 +1,3 @@\n select 1\n from x\n-where y\n+where z\n");
        CHECK_STR(a->relation_old, "db.prod.a");
        CHECK(a->nflags == 0);
    }
    const struct dr_explain_node *c = node(&w, "model.p.c");
    CHECK(c && c->nconfigs == 1 && c->nflags == 1);
    if (c && c->nflags == 1 && c->nconfigs == 1) {
        CHECK_STR(c->configs[0].key, "schema");
        CHECK_STR(c->relation_old, "db.prod.c");
        CHECK_STR(c->relation_new, "db.ci.c");
        CHECK_STR(c->flags[0].what, "config schema: the node's config() sets it from env_var()");
        CHECK(strstr(c->flags[0].hint, "state_modified_compare_more_unrendered_values") != NULL);
        CHECK(c->diff == NULL);
    }
    const struct dr_explain_node *d = node(&w, "model.p.d");
    CHECK(d && d->nmacro_paths == 1);
    if (d && d->nmacro_paths == 1)
        CHECK_STR(d->macro_paths[0], "model.p.d -> macro.p.m1 -> macro.p.m2 (changed)");
    CHECK(node(&w, "model.p.b") == NULL); /* a child, not a change */
    unload(&w);
}

static void test_long_config_values_are_cut(void)
{
    static const char S[] = PAIR("select 1", "view", "prod", "x", "");
    static const char MAT[] = "'materialized': 'view'";
    char big[600], cur[8192];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *at = strstr(S, MAT); /* model a's: the first */
    CHECK(at != NULL);
    if (!at)
        return;
    snprintf(cur, sizeof cur, "%.*s'materialized': '%s'%s", (int)(at - S), S, big,
             at + strlen(MAT));
    struct world w;
    CHECK(load(&w, S, cur, NULL, 0) == 0);
    const struct dr_explain_node *a = node(&w, "model.p.a");
    CHECK(a && a->nconfigs == 1);
    if (a && a->nconfigs == 1) {
        CHECK(strlen(a->configs[0].new_value) == DR_EXPLAIN_VALUE_MAX + 3);
        CHECK(strcmp(a->configs[0].new_value + DR_EXPLAIN_VALUE_MAX, "...") == 0);
        CHECK_STR(a->configs[0].old_value, "\"view\"");
    }
    unload(&w);
}

static void test_named_nodes_by_model_name_or_unique_id(void)
{
    struct world w;
    const char *names[] = {"b", "model.p.a", "a"};
    CHECK(load(&w, OLD, CUR, names, 3) == 0);
    CHECK(w.ex && w.ex->nnodes == 2); /* "a" and "model.p.a" are one node */
    const struct dr_explain_node *b = node(&w, "model.p.b");
    CHECK(b != NULL);
    if (b) {
        CHECK_STR(b->status, "unchanged");
        CHECK_STR(b->note, "not modified: selected as a child of model.p.a");
        CHECK(b->nconfigs == 0 && b->diff == NULL);
    }
    unload(&w);
}

static void test_a_name_that_matches_nothing_or_several_fails(void)
{
    struct world w;
    const char *nobody[] = {"zz"};
    CHECK(load(&w, OLD, CUR, nobody, 1) == -1);
    CHECK(strstr(w.err, "no node 'zz'") != NULL);
    unload(&w);
    static const char TWO[] = PAIR("select 1", "view", "prod", "x",
                                   ", 'seed.p.a': {'resource_type': 'seed', 'name': 'a'}");
    const char *a[] = {"a"};
    CHECK(load(&w, TWO, TWO, a, 1) == -1);
    CHECK(strstr(w.err, "'a' names 2 nodes") != NULL);
    unload(&w);
}

#define SOURCE(schema)                                                                             \
    ", 'source.p.raw.orders': {'resource_type': 'source', 'name': 'orders', 'fqn': ['p', 'raw', "  \
    "'orders'], 'database': 'db', 'schema': '" schema "', 'identifier': 'orders', "                \
    "'unrendered_schema': '{{ env_var(\\'RAW\\') }}', 'config': {}}"

static void test_a_source_rendered_from_the_same_text_is_flagged(void)
{
    static const char S[] = PAIR("select 1", "view", "prod", "x", SOURCE("raw_prod"));
    static const char C[] = PAIR("select 1", "view", "prod", "x", SOURCE("raw_ci"));
    struct world w;
    const char *names[] = {"source.p.raw.orders"};
    CHECK(load(&w, S, C, names, 1) == 0);
    const struct dr_explain_node *src = node(&w, "source.p.raw.orders");
    CHECK(src && src->nflags == 1);
    if (src && src->nflags == 1) {
        CHECK_STR(src->relation_old, "db.raw_prod.orders");
        CHECK_STR(src->relation_new, "db.raw_ci.orders");
        CHECK_STR(
            src->flags[0].what,
            "relation: the rendered schema/database differ, the unrendered ones are the same");
        CHECK(strstr(src->flags[0].hint, "state_modified_compare_more_unrendered_values") != NULL);
    }
    unload(&w);
}

/* ---- the reports -------------------------------------------------------- */

static void test_reports_show_the_evidence(void)
{
    struct world w;
    CHECK(load(&w, OLD, CUR, NULL, 0) == 0);
    if (!w.plan || !w.ex) {
        unload(&w);
        return;
    }
    w.plan->explain = w.ex;
    char *text = NULL, *json = NULL, *md = NULL, *small = NULL;
    CHECK(dr_plan_render(w.plan, DR_PLAN_TEXT, 0, &text, NULL) == 0);
    CHECK(text && strstr(text, "\nWhy (--explain)\n  model.p.a (modified)\n"
                               "      config materialized: \"view\" -> \"table\"\n"));
    CHECK(text && strstr(text, "      body:\n        @@ -1,3 +1,3 @@\n"));
    CHECK(text && strstr(text, "      likely false positive: config schema: the node's config() "
                               "sets it from env_var()\n        hint: "));
    CHECK(text && strstr(text, "      macro: model.p.d -> macro.p.m1 -> macro.p.m2 (changed)\n"));
    CHECK(dr_plan_render(w.plan, DR_PLAN_JSON, 0, &json, NULL) == 0);
    CHECK(json && strstr(json, "\"explain\": {\n    \"model.p.a\": {\"status\": \"modified\""));
    CHECK(json && strstr(json, "{\"key\": \"materialized\", \"old\": \"\\\"view\\\"\", "
                               "\"new\": \"\\\"table\\\"\"}"));
    CHECK(dr_plan_render(w.plan, DR_PLAN_MARKDOWN, 0, &md, NULL) == 0);
    CHECK(md && strstr(md, "<details><summary><code>model.p.c</code> (modified) - likely false "
                           "positive</summary>"));
    CHECK(md && strstr(md, "```diff\n@@ -1,3 +1,3 @@\n select 1\n"));
    /* within the cap: the evidence is cut node by node, never mid-block */
    CHECK(dr_plan_render(w.plan, DR_PLAN_MARKDOWN, 900, &small, NULL) == 0);
    CHECK(small && strlen(small) <= 900);
    if (small) {
        const char *open = strstr(small, "<details><summary><code>");
        size_t opens = 0, closes = 0;
        for (const char *s = open; s && (s = strstr(s, "<details>")); s++)
            opens++;
        for (const char *s = open; s && (s = strstr(s, "</details>")); s++)
            closes++;
        CHECK(opens == closes);
    }
    free(text);
    free(json);
    free(md);
    free(small);
    unload(&w);
}

static void setup(void)
{
    CHECK(mkdtemp(root) != NULL);
}

static void teardown(void)
{
    dr_fs_rm_rf(root);
}

TEST_MAIN(setup, test_diff_of_equal_texts_is_empty, test_diff_keeps_three_lines_of_context,
          test_diff_of_an_added_first_line_and_a_text_without_newline,
          test_distant_changes_are_two_hunks_near_ones_one, test_diff_is_capped_in_lines_and_bytes,
          test_env_var_values_are_flagged, test_the_targets_schema_or_database_is_flagged,
          test_timestamps_and_project_roots_are_flagged, test_code_changes_are_not_flagged,
          test_every_change_is_explained_with_its_evidence, test_long_config_values_are_cut,
          test_named_nodes_by_model_name_or_unique_id,
          test_a_name_that_matches_nothing_or_several_fails,
          test_a_source_rendered_from_the_same_text_is_flagged, test_reports_show_the_evidence,
          teardown)
