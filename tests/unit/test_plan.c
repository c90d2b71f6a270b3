/* Unit tests for src/dbt/plan.c and src/dbt/plan_render.c: one small pair of
 * hand-written manifests (' stands for ") per rule of dbt's state:modified,
 * the downstream closure, the blind-spot warnings and the three reports. */
#include "dbtrun/plan.h"
#include "harness.h"
#include "manifest_text.h"

#include <stdlib.h>

/* A model node; `extra` may repeat a key to override it (the last wins). */
#define MODEL(name, raw, ucfg, extra)                                                              \
    "'model.p." name "': {'resource_type': 'model', 'name': '" name "', 'fqn': ['p', '" name       \
    "'], 'raw_code': '" raw "', 'unrendered_config': {" ucfg "}, 'config': {'materialized': "      \
    "'view'}, 'depends_on': {'macros': [], 'nodes': []}" extra "}"

struct run {
    struct dr_manifest *state, *cur;
    struct dr_plan *plan;
};

static struct run compare_opts(const char *state, const char *cur,
                               const struct dr_plan_options *opts)
{
    struct run r = {parse(state), parse(cur), NULL};
    char err[128];
    if (r.state && r.cur && dr_plan_compare(r.state, r.cur, opts, &r.plan, err, sizeof err))
        fprintf(stderr, "compare failed: %s\n", err);
    CHECK(r.plan != NULL);
    return r;
}

static struct run compare(const char *state, const char *cur)
{
    return compare_opts(state, cur, NULL);
}

static void done(struct run *r)
{
    dr_plan_free(r->plan);
    dr_manifest_free(r->state);
    dr_manifest_free(r->cur);
}

static const struct dr_plan_entry *entry(const struct run *r, const char *uid)
{
    for (size_t i = 0; r->plan && i < r->plan->nentries; i++)
        if (strcmp(r->plan->entries[i].unique_id, uid) == 0)
            return &r->plan->entries[i];
    return NULL;
}

static unsigned reasons(const struct run *r, const char *uid)
{
    const struct dr_plan_entry *e = entry(r, uid);
    return e ? e->reasons : 0;
}

static int selected(const struct run *r, const char *uid)
{
    for (size_t i = 0; r->plan && i < r->plan->nselected; i++)
        if (strcmp(r->plan->selected[i].unique_id, uid) == 0)
            return 1;
    return 0;
}

static int warned(const struct run *r, const char *needle)
{
    for (size_t i = 0; r->plan && i < r->plan->nwarnings; i++)
        if (strstr(r->plan->warnings[i], needle))
            return 1;
    return 0;
}

static void test_body(void)
{
    struct run r = compare(
        "{'nodes': {" MODEL("a", "select 1", "", "") "," MODEL("b", "select 2", "", "") "}}",
        "{'nodes': {" MODEL("a", "select  1", "", "") "," MODEL("b", "select 2", "", "") "}}");
    CHECK(reasons(&r, "model.p.a") == DR_PR_BODY);
    CHECK(entry(&r, "model.p.b") == NULL);
    CHECK(r.plan && r.plan->nmodified == 1 && r.plan->nnew == 0 && r.plan->nremoved == 0);
    done(&r);
}

static void test_configs(void)
{
    struct run r = compare(
        "{'nodes': {" MODEL("a", "x", "'materialized': 'view', 'tags': ['t']",
                            "") "," MODEL("b", "x", "'tags': ['t'], 'group': 'g'",
                                          "") "," MODEL("c", "x", "'meta': {'k': 1}", "") "}}",
        "{'nodes': {" MODEL("a", "x", "'materialized': 'table', 'tags': ['t']",
                            "") "," MODEL("b", "x", "'tags': ['u'], 'group': 'h'",
                                          "") "," MODEL("c", "x", "'meta': {'k': 1.0}", "") "}}");
    const struct dr_plan_entry *a = entry(&r, "model.p.a");
    CHECK(a && a->reasons == DR_PR_CONFIGS);
    if (a) {
        CHECK_STR(a->config_keys, "materialized");
        CHECK_STR(a->configs, "materialized: \"view\" -> \"table\"");
    }
    CHECK(entry(&r, "model.p.b") == NULL); /* tags and group are excluded */
    CHECK(entry(&r, "model.p.c") == NULL); /* 1 == 1.0 */
    done(&r);

    /* A key added or removed counts too. */
    r = compare(
        "{'nodes': {" MODEL("a", "x", "'materialized': 'view'", "") "}}",
        "{'nodes': {" MODEL("a", "x", "'materialized': 'view', 'full_refresh': false", "") "}}");
    a = entry(&r, "model.p.a");
    CHECK(a && a->reasons == DR_PR_CONFIGS);
    if (a)
        CHECK_STR(a->configs, "full_refresh: (unset) -> false");
    done(&r);
}

static void test_relation(void)
{
    struct run r = compare("{'nodes': {" MODEL("a", "x", "", "") "}}",
                           "{'nodes': {" MODEL("a", "x", "'schema': 'marts', 'alias': 'aa'",
                                               ", 'schema': 'rendered_changes_too'") "}}");
    const struct dr_plan_entry *a = entry(&r, "model.p.a");
    CHECK(a && a->reasons == DR_PR_RELATION); /* schema/alias are not config changes */
    if (a)
        CHECK_STR(a->relation, "schema: (unset) -> \"marts\"; alias: (unset) -> \"aa\"");
    done(&r);

    /* Only the rendered schema differs (another target): no change. */
    r = compare("{'nodes': {" MODEL("a", "x", "", ", 'schema': 'prod'") "}}",
                "{'nodes': {" MODEL("a", "x", "", ", 'schema': 'dev'") "}}");
    CHECK(r.plan && r.plan->nentries == 0);
    done(&r);
}

static void test_tests(void)
{
#define TEST(uid, meta, raw, ucfg)                                                                 \
    "'" uid "': {'resource_type': 'test', " meta "'raw_code': '" raw                               \
    "', 'unrendered_config': {" ucfg "}, 'depends_on': {'macros': [], 'nodes': []}}"
    struct run r = compare(
        "{'nodes': {" TEST(
            "test.p.g1", "'test_metadata': {'name': 'unique'}, ", "a",
            "'severity': 'error'") "," TEST("test.p.g2", "'test_metadata': {}, ", "a",
                                            "'alias': 'x'") "," TEST("test.p.s", "", "a", "") "}}",
        "{'nodes': {" TEST("test.p.g1", "'test_metadata': {'name': 'unique'}, ", "a",
                           "'severity': 'warn'") "," TEST("test.p.g2", "'test_metadata': {}, ", "b",
                                                          "'alias': 'y'") "," TEST("test.p.s", "",
                                                                                   "b", "") "}}");
#undef TEST
    CHECK(reasons(&r, "test.p.g1") == DR_PR_CONFIGS); /* severity is a test modifier */
    /* A generic test's body (its compiled YAML config) and alias are seen by
     * modified.body and modified.relation, not by state:modified. */
    const struct dr_plan_entry *g2 = entry(&r, "test.p.g2");
    CHECK(g2 && g2->reasons == (DR_PR_BODY | DR_PR_RELATION) && !g2->selected);
    CHECK(!selected(&r, "test.p.g2"));
    CHECK(reasons(&r, "test.p.s") == DR_PR_BODY); /* a singular test's body does */
    CHECK(selected(&r, "test.p.g1") && selected(&r, "test.p.s"));
    done(&r);
}

/* dbt parse writes null for a macro it lost (a generic test deleted while
 * still used): the comparison fails, naming the node and the test's macro. */
static void test_lost_macro(void)
{
    struct dr_manifest *state = parse("{'nodes': {}}");
    struct dr_manifest *cur = parse(
        "{'nodes': {'test.p.t': {'resource_type': 'test', 'original_file_path': 'models/s.yml', "
        "'test_metadata': {'name': 'gone', 'namespace': null}, "
        "'depends_on': {'macros': [null, 'macro.dbt.get_where_subquery'], 'nodes': []}}}}");
    struct dr_plan *plan = NULL;
    char err[512] = "";
    CHECK(state && cur && dr_plan_compare(state, cur, NULL, &plan, err, sizeof err) == -2);
    CHECK(plan == NULL);
    CHECK(strstr(err, "test.p.t (in models/s.yml) uses the generic test 'gone', whose macro "
                      "test_gone does not exist") != NULL);
    dr_manifest_free(cur);
    cur = parse("{'nodes': {'model.p.m': {'resource_type': 'model', "
                "'depends_on': {'macros': [null], 'nodes': []}}}}");
    CHECK(cur && dr_plan_compare(state, cur, NULL, &plan, err, sizeof err) == -2);
    CHECK(strstr(err, "model.p.m (in ?) depends on a macro that does not exist") != NULL);
    dr_manifest_free(cur);
    dr_manifest_free(state);
}

static void test_persisted_descriptions(void)
{
#define DESCRIBED(desc, col, persist)                                                              \
    MODEL("a", "x", "",                                                                            \
          ", 'description': '" desc "', 'columns': {'id': {'description': '" col                   \
          "'}}, 'config': {'persist_docs': " persist "}")
    const char *both = "{'relation': true, 'columns': true}";
    (void)both;
    struct run r = compare("{'nodes': {" DESCRIBED("old", "c", "{}") "}}",
                           "{'nodes': {" DESCRIBED("new", "d", "{}") "}}");
    CHECK(r.plan && r.plan->nentries == 0); /* descriptions not persisted: no change */
    done(&r);

    r = compare("{'nodes': {" DESCRIBED("old", "c", "{'relation': true}") "}}",
                "{'nodes': {" DESCRIBED("new", "c", "{'relation': true}") "}}");
    const struct dr_plan_entry *a = entry(&r, "model.p.a");
    CHECK(a && a->reasons == DR_PR_PERSISTED_DESCRIPTIONS);
    if (a)
        CHECK_STR(a->descriptions, "description");
    done(&r);

    r = compare("{'nodes': {" DESCRIBED("old", "c", "{'columns': true}") "}}",
                "{'nodes': {" DESCRIBED("old", "d", "{'columns': true}") "}}");
    a = entry(&r, "model.p.a");
    CHECK(a && a->reasons == DR_PR_PERSISTED_DESCRIPTIONS);
    if (a)
        CHECK_STR(a->descriptions, "column descriptions");
    done(&r);
#undef DESCRIBED
}

static void test_macros(void)
{
#define MACROS(m, n, o)                                                                            \
    "'macros': {'macro.p.m': {'macro_sql': '" m "', 'depends_on': {'macros': ['macro.p.n']}},"     \
    " 'macro.p.n': {'macro_sql': '" n "', 'depends_on': {'macros': ['macro.p.m']}}" o "}"
#define USES(name, macro) MODEL(name, "x", "", ", 'depends_on': {'macros': ['" macro "']}")
    const char *state = "{'nodes': {" USES("a", "macro.p.m") "," USES("b", "macro.p.n") "," USES(
        "c", "macro.p.gone") "," MODEL("d", "x", "",
                                       "") "}, " MACROS("m1", "n1",
                                                        ", 'macro.p.gone': {'macro_sql': 'g'}, "
                                                        "'macro.p.same': {'macro_sql': 's'}") "}";
    /* n changed; m calls n (and n calls m: the cycle must not hang); gone was removed */
    const char *cur = "{'nodes': {" USES("a", "macro.p.m") "," USES("b", "macro.p.n") "," USES(
        "c", "macro.p.gone") "," MODEL("d", "x", "",
                                       "") "}, " MACROS("m1", "n2",
                                                        ", 'macro.p.same': {'macro_sql': 's'}, "
                                                        "'macro.p.fresh': {'macro_sql': 'f'}") "}";
    struct run r = compare(state, cur);
    const struct dr_plan_entry *a = entry(&r, "model.p.a"), *b = entry(&r, "model.p.b");
    const struct dr_plan_entry *c = entry(&r, "model.p.c");
    CHECK(a && a->reasons == DR_PR_MACROS);
    if (a)
        CHECK_STR(a->macros, "macro.p.n (via macro.p.m)");
    CHECK(b && b->reasons == DR_PR_MACROS);
    if (b)
        CHECK_STR(b->macros, "macro.p.n");
    CHECK(c && c->reasons == DR_PR_MACROS);
    if (c)
        CHECK_STR(c->macros, "macro.p.gone");
    CHECK(entry(&r, "model.p.d") == NULL); /* a new macro nobody calls changes nothing */
    done(&r);
#undef USES
#undef MACROS
}

static void test_contract(void)
{
#define CONTRACTED(enforced, checksum, cols, mat)                                                  \
    MODEL("a", "x", "",                                                                            \
          ", 'contract': {'enforced': " enforced ", 'checksum': " checksum "}, 'columns': {" cols  \
          "}, 'config': {'materialized': '" mat "'}")
#define COL(name, type, cons)                                                                      \
    "'" name "': {'name': '" name "', 'data_type': " type ", 'constraints': [" cons "]}"
    const char *nn = "{'type': 'not_null'}";
    (void)nn;
    /* unchanged when the checksum is the same */
    struct run r =
        compare("{'nodes': {" CONTRACTED("true", "'k'", COL("id", "'int'", ""), "table") "}}",
                "{'nodes': {" CONTRACTED("true", "'k'", COL("id", "'int'", ""), "table") "}}");
    CHECK(r.plan && r.plan->nentries == 0);
    done(&r);

    /* enforcing a contract is a change, not a breaking one */
    r = compare("{'nodes': {" CONTRACTED("false", "null", COL("id", "'int'", ""), "table") "}}",
                "{'nodes': {" CONTRACTED("true", "'k'", COL("id", "'int'", ""), "table") "}}");
    const struct dr_plan_entry *a = entry(&r, "model.p.a");
    CHECK(a && a->reasons == DR_PR_CONTRACT && !a->breaking);
    CHECK(r.plan && !r.plan->breaking);
    done(&r);

    /* a size change only is not breaking */
    r = compare(
        "{'nodes': {" CONTRACTED("true", "'k1'", COL("v", "'varchar(3)'", ""), "table") "}}",
        "{'nodes': {" CONTRACTED("true", "'k2'", COL("v", "'VARCHAR (10)'", ""), "table") "}}");
    a = entry(&r, "model.p.a");
    CHECK(a && a->reasons == DR_PR_CONTRACT && !a->breaking);
    if (a)
        CHECK(strstr(a->contract, "size only") != NULL);
    done(&r);

    /* a type change, a removed column and a removed enforced constraint break it */
    r = compare("{'nodes': {" CONTRACTED("true", "'k1'",
                                         COL("id", "'int'", "{'type': 'not_null'}") "," COL(
                                             "v", "'int'", "") "," COL("w", "'int'", ""),
                                         "table") "}, 'metadata': {'adapter_type': 'snowflake'}}",
                "{'nodes': {" CONTRACTED("true", "'k2'",
                                         COL("id", "'int'", "") "," COL("v", "'text'", ""),
                                         "table") "}, 'metadata': {'adapter_type': 'snowflake'}}");
    a = entry(&r, "model.p.a");
    CHECK(a && a->reasons == DR_PR_CONTRACT && a->breaking);
    if (a) {
        CHECK(strstr(a->contract, "column v type int -> text") != NULL);
        CHECK(strstr(a->contract, "column w removed") != NULL);
        CHECK(strstr(a->contract, "not_null constraint removed from column id") != NULL);
    }
    CHECK(r.plan && r.plan->breaking);
    CHECK(warned(&r, "breaking contract change in model.p.a"));
    done(&r);

    /* turning enforcement off breaks it */
    r = compare("{'nodes': {" CONTRACTED("true", "'k'", COL("id", "'int'", ""), "table") "}}",
                "{'nodes': {" CONTRACTED("false", "null", COL("id", "'int'", ""), "table") "}}");
    a = entry(&r, "model.p.a");
    CHECK(a && a->breaking);
    done(&r);

    /* removing a contracted model */
    r = compare("{'nodes': {" CONTRACTED("true", "'k'", COL("id", "'int'", ""), "table") "}}",
                "{'nodes': {}}");
    a = entry(&r, "model.p.a");
    CHECK(a && a->status == DR_PLAN_REMOVED && a->breaking && !a->selected);
    CHECK(warned(&r, "contracted model model.p.a was deleted or renamed"));
    done(&r);
#undef COL
#undef CONTRACTED
}

static void test_seeds(void)
{
#define SEED(name, ck)                                                                             \
    "'seed.p." name "': {'resource_type': 'seed', 'raw_code': '', 'checksum': " ck                 \
    ", 'unrendered_config': {}, 'depends_on': {'macros': []}}"
    struct run r = compare(
        "{'nodes': {" SEED("a", "{'name': 'sha256', 'checksum': '1'}") "," SEED(
            "b", "{'name': 'path', 'checksum': 'seeds/b.csv'}") "," SEED("c",
                                                                         "{'name': 'sha256', "
                                                                         "'checksum': '3'}") "}}",
        "{'nodes': {" SEED("a", "{'name': 'sha256', 'checksum': '2'}") "," SEED(
            "b", "{'name': 'path', 'checksum': 'seeds/b.csv'}") "," SEED("c",
                                                                         "{'name': 'path', "
                                                                         "'checksum': "
                                                                         "'seeds/c.csv'}") "}}");
#undef SEED
    CHECK(reasons(&r, "seed.p.a") == DR_PR_BODY);
    CHECK(entry(&r, "seed.p.b") == NULL);         /* same path: dbt cannot see a content change */
    CHECK(reasons(&r, "seed.p.c") == DR_PR_BODY); /* grew over the limit */
    CHECK(warned(&r, "1 seed over dbt's checksum size limit"));
    CHECK(warned(&r, "seed seed.p.c grew over"));
    done(&r);
}

static void test_sources(void)
{
#define SOURCE(db, udb, fresh)                                                                     \
    "'sources': {'source.p.raw.t': {'resource_type': 'source', 'fqn': ['p', 'raw', 't'], "         \
    "'database': '" db "', 'unrendered_database': " udb ", 'schema': 'raw', 'identifier': 't', "   \
    "'freshness': " fresh ", 'unrendered_config': {'freshness': " fresh "}}}"
#define CHILD "'nodes': {" MODEL("a", "x", "", ", 'depends_on': {'nodes': ['source.p.raw.t']}") "}"
    const char *f1 = "{'warn_after': {'count': 1}}";
    (void)f1;
    struct run r = compare("{" CHILD ", " SOURCE("db", "null", "{'warn_after': {'count': 1}}") "}",
                           "{" CHILD ", " SOURCE("db", "null", "{'warn_after': {'count': 2}}") "}");
    const struct dr_plan_entry *s = entry(&r, "source.p.raw.t");
    CHECK(s && s->reasons == (DR_PR_CONFIGS | DR_PR_PROPERTIES));
    if (s) {
        CHECK_STR(s->config_keys, "freshness");
        CHECK_STR(s->properties, "freshness");
    }
    CHECK(selected(&r, "model.p.a")); /* through depends_on: no child_map here */
    done(&r);

    /* rendered database differs (another target): dbt's default compares it */
    const char *st = "{" CHILD ", " SOURCE("prod", "null", "{}") "}";
    const char *cu = "{" CHILD ", " SOURCE("dev", "null", "{}") "}";
    r = compare(st, cu);
    CHECK(reasons(&r, "source.p.raw.t") == DR_PR_RELATION);
    CHECK(warned(&r, "1 source differ only in rendered database/schema"));
    done(&r);
    struct dr_plan_options unrendered = {1, "s", "c"};
    r = compare_opts(st, cu, &unrendered);
    CHECK(r.plan && r.plan->nentries == 0);
    done(&r);

    /* a new source is state:new but not state:modified */
    r = compare("{'nodes': {}}", "{'nodes': {}, " SOURCE("db", "null", "{}") "}");
    s = entry(&r, "source.p.raw.t");
    CHECK(s && s->status == DR_PLAN_NEW && !s->selected);
    CHECK(r.plan && r.plan->nselected == 0);
    done(&r);
#undef CHILD
#undef SOURCE
}

static void test_exposures_and_unit_tests(void)
{
#define EXPOSURE(owner)                                                                            \
    "'exposures': {'exposure.p.e': {'resource_type': 'exposure', 'owner': {'name': '" owner        \
    "'}, 'depends_on': {'macros': [], 'nodes': ['model.p.a']}, 'unrendered_config': {}}}"
#define UNIT(ck)                                                                                   \
    "'unit_tests': {'unit_test.p.a.u': {'resource_type': 'unit_test', 'checksum': '" ck "'}}"
    struct run r =
        compare("{'nodes': {" MODEL("a", "x", "", "") "}, " EXPOSURE("ann") ", " UNIT("1") "}",
                "{'nodes': {" MODEL("a", "x", "", "") "}, " EXPOSURE("bob") ", " UNIT("2") "}");
    const struct dr_plan_entry *e = entry(&r, "exposure.p.e");
    CHECK(e && e->reasons == DR_PR_PROPERTIES);
    if (e)
        CHECK_STR(e->properties, "owner");
    /* no sub-selector but modified.macros selects a unit test in dbt */
    e = entry(&r, "unit_test.p.a.u");
    CHECK(e && e->reasons == DR_PR_PROPERTIES && e->selected);
    if (e)
        CHECK_STR(e->properties, "given, expect or overrides (checksum)");
    done(&r);

    r = compare("{'nodes': {" MODEL("a", "x", "", "") "}}",
                "{'nodes': {" MODEL("a", "x", "", "") "}, " EXPOSURE("ann") ", " UNIT("1") "}");
    e = entry(&r, "exposure.p.e");
    CHECK(e && e->status == DR_PLAN_NEW && !e->selected);
    CHECK(e && e->reasons == (DR_PR_NEW | DR_PR_CONFIGS) && e->absent_reasons == DR_PR_CONFIGS);
    e = entry(&r, "unit_test.p.a.u");
    CHECK(e && e->status == DR_PLAN_NEW && e->selected); /* a new unit test is modified */
    CHECK(e && e->reasons == DR_PR_NEW && !e->absent_reasons);
    done(&r);
#undef UNIT
#undef EXPOSURE
}

static void test_new_removed_downstream(void)
{
    const char *state = "{'nodes': {" MODEL("a", "x", "", "") "," MODEL("b", "x", "", "") "," MODEL(
        "old", "x", "", "") "," MODEL("off", "x", "",
                                      "") "},"
                                          " 'child_map': {'model.p.a': ['model.p.b']}}";
    const char *cur = "{'nodes': {" MODEL("a", "y", "", "") "," MODEL("b", "x", "", "") "," MODEL(
        "c", "x", "",
        "") ", 'test.p.t': {'resource_type': 'test', 'test_metadata': {}}},"
            " 'disabled': {'model.p.off': [{}]},"
            " 'child_map': {'model.p.a': ['model.p.b', 'test.p.t'], 'model.p.b': ['model.p.c'],"
            " 'model.p.c': ['model.p.b'], 'test.p.t': []}}";
    struct run r = compare(state, cur);
    const struct dr_plan *p = r.plan;
    CHECK(p && p->nnew == 2 && p->nmodified == 1 && p->nremoved == 2);
    /* dbt's sub-selectors select a node without an old version whenever its
     * class has the compared method */
    const unsigned absent =
        DR_PR_BODY | DR_PR_CONFIGS | DR_PR_PERSISTED_DESCRIPTIONS | DR_PR_RELATION | DR_PR_CONTRACT;
    CHECK(reasons(&r, "model.p.c") == (DR_PR_NEW | absent));
    CHECK(entry(&r, "model.p.c") && entry(&r, "model.p.c")->absent_reasons == absent);
    const struct dr_plan_entry *old = entry(&r, "model.p.old"), *off = entry(&r, "model.p.off");
    CHECK(old && old->status == DR_PLAN_REMOVED && !old->disabled && !old->selected);
    CHECK(off && off->status == DR_PLAN_REMOVED && off->disabled);
    /* a, c and the new test directly; b below a (the b <-> c cycle ends) */
    CHECK(p && p->nselected == 4);
    CHECK(selected(&r, "model.p.b") && selected(&r, "test.p.t"));
    CHECK(!selected(&r, "model.p.old"));
    if (p && p->nselected == 4) {
        CHECK_STR(p->selected[0].unique_id, "model.p.a"); /* sorted */
        CHECK(p->selected[0].direct && !p->selected[1].direct);
        CHECK(p->selected_by_kind[DR_MK_MODEL] == 3 && p->selected_by_kind[DR_MK_TEST] == 1);
        CHECK(p->downstream_by_kind[DR_MK_MODEL] == 1 && p->downstream_by_kind[DR_MK_TEST] == 0);
    }
    done(&r);
}

static void test_blind_spots(void)
{
    struct run r = compare("{'metadata': {'dbt_version': '1.10.3'}, 'nodes': {" MODEL(
                               "a", "{{ var(\\'x\\') }}", "", "") "}}",
                           "{'metadata': {'dbt_version': '1.11.2'}, 'nodes': {" MODEL(
                               "a", "{{ var(\\'x\\') }}", "", "") "}}");
    CHECK(warned(&r, "dbt version skew"));
    CHECK(warned(&r, "differ between minor versions"));
    CHECK(warned(&r, "1 node call var()"));
    CHECK(r.plan && r.plan->nentries == 0);
    char *md = NULL;
    size_t len;
    if (r.plan && dr_plan_render(r.plan, DR_PLAN_MARKDOWN, 0, &md, &len) == 0) {
        CHECK(strstr(md, "> [!WARNING]\n> - dbt version skew") != NULL);
        free(md);
    }
    done(&r);
}

static void test_render(void)
{
    const char *state = "{'metadata': {'dbt_version': '1.11.2'}, 'nodes': {" MODEL(
        "a", "x", "'materialized': 'view'",
        "") "," MODEL("b", "x", "", "") "},"
                                        " 'child_map': {'model.p.a': ['model.p.b']}}";
    const char *cur = "{'metadata': {'dbt_version': '1.11.2'}, 'nodes': {" MODEL(
        "a", "y", "'materialized': 'table'",
        "") "," MODEL("b", "x", "",
                      "") "," MODEL("n|ew", "x", "",
                                    "") "}, 'child_map': {'model.p.a': ['model.p.b']}}";
    struct dr_plan_options opts = {0, ".artifacts/manifest.json", "target/manifest.json"};
    struct run r = compare_opts(state, cur, &opts);
    char *out = NULL;
    size_t len = 0;
    if (!r.plan) {
        done(&r);
        return;
    }
    CHECK(dr_plan_render(r.plan, DR_PLAN_TEXT, 0, &out, &len) == 0);
    CHECK(out && strlen(out) == len);
    CHECK(out && strstr(out, "1 new, 1 modified, 0 removed; state:modified+ selects 3: 3 models"));
    CHECK(out && strstr(out, "  ~ model.p.a\n      modified.body\n      modified.configs: "
                             "materialized: \"view\" -> \"table\"\n"));
    CHECK(out && strstr(out, "  + model.p.n|ew\n      new\n"));
    CHECK(out && strstr(out, "Downstream, selected as children of the changes: 1 model\n"));
    free(out);

    CHECK(dr_plan_render(r.plan, DR_PLAN_JSON, 0, &out, &len) == 0);
    CHECK(out && strstr(out, "\"summary\": {\"new\": 1, \"modified\": 1, \"removed\": 0, "
                             "\"selected\": 3, \"breaking\": false, \"selected_by_type\": "
                             "{\"model\": 3}, \"downstream_by_type\": {\"model\": 1}}"));
    CHECK(out && strstr(out, "\"reasons\": [\"modified.body\", \"modified.configs\"], \"details\": "
                             "{\"configs\": \"materialized: \\\"view\\\" -> \\\"table\\\"\", "
                             "\"config_keys\": [\"materialized\"]}"));
    CHECK(out && strstr(out, "{\"unique_id\": \"model.p.b\", \"resource_type\": \"model\", "
                             "\"direct\": false}"));
    free(out);

    CHECK(dr_plan_render(r.plan, DR_PLAN_MARKDOWN, 0, &out, &len) == 0);
    CHECK(out && strncmp(out, "### dbtrun plan\n", 16) == 0);
    CHECK(out && strstr(out, "| modified | `model.p.a` | model | modified.body<br>"
                             "modified.configs: materialized |\n"));
    CHECK(out && strstr(out, "`model.p.n|ew`")); /* inside code: GitHub keeps the pipe */
    CHECK(out && !strstr(out, "not shown"));
    size_t full = len;
    free(out);

    /* Cut to fit: never over the limit, always with a note. */
    for (size_t limit = 300; limit < full; limit += 37) {
        CHECK(dr_plan_render(r.plan, DR_PLAN_MARKDOWN, limit, &out, &len) == 0);
        CHECK(len <= limit);
        CHECK(out && strstr(out, "### dbtrun plan"));
        CHECK(out && strstr(out, "not shown"));
        free(out);
    }
    done(&r);

    /* No changes at all. */
    r = compare("{'nodes': {" MODEL("a", "x", "", "") "}}",
                "{'nodes': {" MODEL("a", "x", "", "") "}}");
    if (r.plan) {
        CHECK(dr_plan_render(r.plan, DR_PLAN_TEXT, 0, &out, &len) == 0);
        CHECK(out && strstr(out, "No changes: state:modified+ selects nothing."));
        free(out);
        CHECK(dr_plan_render(r.plan, DR_PLAN_JSON, 0, &out, &len) == 0);
        CHECK(out && strstr(out, "\"changes\": [],\n  \"selected\": [],\n  \"warnings\": []\n}"));
        free(out);
    }
    done(&r);
}

static void test_reason_names(void)
{
    CHECK_STR(dr_plan_reason_name(DR_PR_BODY), "modified.body");
    CHECK_STR(dr_plan_reason_name(DR_PR_PERSISTED_DESCRIPTIONS), "modified.persisted_descriptions");
    CHECK_STR(dr_plan_reason_name(DR_PR_CONTRACT), "modified.contract");
    CHECK_STR(dr_plan_reason_name(DR_PR_NEW), "new");
}

TEST_MAIN(test_body, test_configs, test_relation, test_tests, test_lost_macro,
          test_persisted_descriptions, test_macros, test_contract, test_seeds, test_sources,
          test_exposures_and_unit_tests, test_new_removed_downstream, test_blind_spots, test_render,
          test_reason_names)
