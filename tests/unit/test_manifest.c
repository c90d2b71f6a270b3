/* Unit tests for src/dbt/manifest.c: the compact form of small hand-written
 * manifests (written with ' for ", turned into JSON by dq), canonical config
 * values, both checksum shapes, child maps, errors and staleness. */
#include "dbtrun/manifest.h"
#include "harness.h"
#include "manifest_text.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *DOC =
    "{'metadata': {'dbt_version': '1.11.2', 'dbt_schema_version': 'v12', 'adapter_type': "
    "'duckdb', 'generated_at': 'now', 'env': {'x': [1, 2]}},"
    " 'nodes': {"
    "  'model.p.a': {'resource_type': 'model', 'name': 'a', 'package_name': 'p',"
    "    'original_file_path': 'models/a.sql', 'fqn': ['p', 'a'], 'tags': ['nightly', 'fin'],"
    "    'raw_code': 'select {{ var(\\'x\\') }}', 'checksum': {'name': 'sha256', 'checksum': 'c1'},"
    "    'unrendered_config': {'materialized': 'table', 'meta': {'b': 1, 'a': [true, null]}},"
    "    'config': {'materialized': 'table', 'persist_docs': {'relation': true, 'columns': {}}},"
    "    'description': 'Caf\\u00e9', 'columns': {'id': {'name': 'id', 'description': 'key',"
    "      'data_type': 'integer', 'constraints': [{'type': 'not_null', 'name': null}]}},"
    "    'contract': {'enforced': true, 'alias_types': true, 'checksum': 'k1'},"
    "    'constraints': [], 'version': null, 'access': 'protected',"
    "    'depends_on': {'macros': ['macro.p.m'], 'nodes': ['seed.p.s']}},"
    "  'seed.p.s': {'resource_type': 'seed', 'name': 's', 'raw_code': '', 'tags': [],"
    "    'checksum': {'name': 'path', 'checksum': 'seeds/s.csv'}, 'unrendered_config': {},"
    "    'config': {'persist_docs': {'relation': 0, 'columns': 'yes'}}, 'depends_on': {'macros': "
    "[]}},"
    "  'test.p.t.1': {'resource_type': 'test', 'test_metadata': {'name': 'unique'},"
    "    'raw_code': '{{ test_unique() }}', 'depends_on': {'macros': [], 'nodes': ['model.p.a']}}"
    " },"
    " 'sources': {'source.p.raw.t': {'resource_type': 'source', 'database': 'db', 'schema': 'raw',"
    "   'identifier': 't', 'unrendered_schema': 'raw', 'unrendered_database': null,"
    "   'freshness': {'warn_after': {'count': 1, 'period': 'day'}}, 'unrendered_config': {}}},"
    " 'macros': {'macro.p.m': {'macro_sql': '{% macro m() %}{{ n() }}{% endmacro %}',"
    "   'depends_on': {'macros': ['macro.p.n']}},"
    "   'macro.p.n': {'macro_sql': 'x', 'depends_on': {'macros': []}}},"
    " 'unit_tests': {'unit_test.p.a.u': {'resource_type': 'unit_test', 'checksum': 'u1'}},"
    " 'docs': {'doc.p.d': {'block_contents': 'ignored'}},"
    " 'disabled': {'model.p.off': [{'resource_type': 'model'}]},"
    " 'child_map': {'seed.p.s': ['model.p.a'], 'model.p.a': ['test.p.t.1'], 'test.p.t.1': []},"
    " 'parent_map': {}}";

static void test_fields(void)
{
    struct dr_manifest *m = parse(DOC);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_STR(m->dbt_version, "1.11.2");
    CHECK_STR(m->schema_version, "v12");
    CHECK_STR(m->adapter_type, "duckdb");
    CHECK(m->nnodes == 5);
    CHECK(m->nmacros == 2);
    CHECK(m->ndisabled == 1);
    CHECK(m->has_child_map);

    const struct dr_manifest_node *a = dr_manifest_find(m, "model.p.a");
    CHECK(a != NULL);
    if (a) {
        CHECK(a->kind == DR_MK_MODEL);
        CHECK_STR(a->name, "a");
        CHECK_STR(a->path, "models/a.sql");
        CHECK_STR(a->tags, "[\"nightly\",\"fin\"]"); /* as written: completion lists them */
        CHECK_STR(a->checksum_name, "sha256");
        CHECK_STR(a->checksum, "c1");
        CHECK(a->uses_var);
        CHECK(a->persist_relation && !a->persist_columns); /* {} is falsy */
        CHECK_STR(a->materialized, "table");
        CHECK(a->contract_enforced);
        CHECK_STR(a->contract_checksum, "k1");
        CHECK(a->version == NULL);
        CHECK(a->nconfig == 2);
        CHECK_STR(a->config[0].key, "materialized"); /* sorted */
        CHECK_STR(a->config[1].key, "meta");
        CHECK_STR(a->config[1].display, "{\"a\":[true,null],\"b\":1}");
        CHECK(a->ncolumns == 1);
        CHECK_STR(a->columns[0].key, "id");
        CHECK_STR(a->columns[0].data_type, "integer");
        CHECK(a->columns[0].nconstraints == 1);
        CHECK_STR(a->columns[0].constraints[0].type, "not_null");
        CHECK(a->nmacros == 1);
        CHECK_STR(dr_manifest_id_text(m, a->macros[0]), "macro.p.m");
        CHECK(a->ndepends == 1);
        /* the description was decoded: \u00e9 is the UTF-8 of é */
        CHECK(dr_manifest_hash_eq(a->description, dr_manifest_hash("\"Caf\xc3\xa9\"", 7)));
        CHECK(dr_manifest_config_get(a, "meta") != NULL);
        CHECK(dr_manifest_config_get(a, "schema") == NULL);
        CHECK(!dr_manifest_hash_eq(dr_manifest_prop(a, DR_MP_ACCESS), dr_manifest_hash("null", 4)));
        CHECK(
            dr_manifest_hash_eq(dr_manifest_prop(a, DR_MP_FRESHNESS), dr_manifest_hash("null", 4)));
    }
    const struct dr_manifest_node *s = dr_manifest_find(m, "seed.p.s");
    CHECK(s && s->kind == DR_MK_SEED);
    if (s) {
        CHECK_STR(s->checksum_name, "path");
        CHECK_STR(s->checksum, "seeds/s.csv");
        CHECK(s->tags == NULL); /* no tags */
        CHECK(!s->persist_relation && s->persist_columns);
    }
    const struct dr_manifest_node *t = dr_manifest_find(m, "test.p.t.1");
    CHECK(t && t->kind == DR_MK_TEST && t->generic_test);
    const struct dr_manifest_node *src = dr_manifest_find(m, "source.p.raw.t");
    CHECK(src && src->kind == DR_MK_SOURCE);
    if (src) {
        CHECK_STR(src->schema, "raw");
        CHECK_STR(src->identifier, "t");
        CHECK(src->unrendered_database == NULL);
        CHECK(!src->has_depends_on);
        CHECK_STR(src->name, "t"); /* from the unique id when absent */
    }
    const struct dr_manifest_node *u = dr_manifest_find(m, "unit_test.p.a.u");
    CHECK(u && u->kind == DR_MK_UNIT_TEST && u->checksum_name == NULL);
    if (u)
        CHECK_STR(u->checksum, "u1");
    CHECK(dr_manifest_find(m, "doc.p.d") == NULL);
    CHECK(dr_manifest_is_disabled(m, "model.p.off"));
    CHECK(!dr_manifest_is_disabled(m, "model.p.a"));

    const struct dr_manifest_macro *mm = dr_manifest_find_macro(m, "macro.p.m");
    CHECK(mm && mm->nmacros == 1);
    if (mm)
        CHECK_STR(dr_manifest_id_text(m, mm->macros[0]), "macro.p.n");

    uint32_t n = 0;
    long sid = dr_manifest_lookup(m, "seed.p.s", 8);
    CHECK(sid >= 0);
    const uint32_t *kids = dr_manifest_children(m, (uint32_t)sid, &n);
    CHECK(n == 1 && kids && strcmp(dr_manifest_id_text(m, kids[0]), "model.p.a") == 0);
    CHECK(dr_manifest_lookup(m, "nope", 4) == -1);
    dr_manifest_free(m);
}

/* Python compares decoded values: key order, number spelling and string
 * escapes do not make two configs differ. */
static void test_canonical_values(void)
{
    struct dr_manifest *x = parse("{'nodes': {'model.p.a': {'unrendered_config': "
                                  "{'k': {'b': 1.0, 'a': 'caf\\u00e9', 'c': [1e2, -0]}}}}}");
    struct dr_manifest *y = parse("{'nodes': {'model.p.a': {'unrendered_config': "
                                  "{'k': {'c': [100, 0], 'a': 'caf\xc3\xa9', 'b': 1}}}}}");
    struct dr_manifest *z = parse("{'nodes': {'model.p.a': {'unrendered_config': "
                                  "{'k': {'c': [0, 100], 'a': 'cafe', 'b': 1}}}}}");
    CHECK(x && y && z);
    if (x && y && z) {
        const struct dr_manifest_config *cx = dr_manifest_config_get(&x->nodes[0], "k");
        const struct dr_manifest_config *cy = dr_manifest_config_get(&y->nodes[0], "k");
        const struct dr_manifest_config *cz = dr_manifest_config_get(&z->nodes[0], "k");
        CHECK(cx && cy && cz);
        if (cx && cy && cz) {
            CHECK(dr_manifest_hash_eq(cx->value, cy->value));
            CHECK(!dr_manifest_hash_eq(cx->value, cz->value)); /* lists keep their order */
            CHECK_STR(cx->display, "{\"a\":\"caf\xc3\xa9\",\"b\":1,\"c\":[100,0]}");
        }
    }
    dr_manifest_free(x);
    dr_manifest_free(y);
    dr_manifest_free(z);
}

/* Without a child_map, children are the inverse of depends_on.nodes. */
static void test_children_from_depends(void)
{
    struct dr_manifest *m =
        parse("{'nodes': {'model.p.a': {'resource_type': 'model'},"
              " 'model.p.b': {'resource_type': 'model', 'depends_on': {'nodes': ['model.p.a']}},"
              " 'model.p.c': {'resource_type': 'model', 'depends_on': {'nodes': ['model.p.a', "
              "'model.p.b']}}}}");
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(!m->has_child_map);
    uint32_t n = 0;
    dr_manifest_children(m, (uint32_t)dr_manifest_lookup(m, "model.p.a", 9), &n);
    CHECK(n == 2);
    dr_manifest_children(m, (uint32_t)dr_manifest_lookup(m, "model.p.b", 9), &n);
    CHECK(n == 1);
    dr_manifest_children(m, (uint32_t)dr_manifest_lookup(m, "model.p.c", 9), &n);
    CHECK(n == 0);
    dr_manifest_free(m);
}

static void expect_fail(const char *doc, const char *want)
{
    char *json = dq(doc);
    struct dr_manifest *m = NULL;
    char err[1024] = "";
    CHECK(dr_manifest_parse(json, strlen(json), &m, err, sizeof err) == -1);
    CHECK(m == NULL);
    if (!strstr(err, want)) {
        fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
        CHECK(0);
    }
    free(json);
}

static void test_errors(void)
{
    expect_fail("[1, 2]", "not a dbt manifest");
    expect_fail("{'metadata': {}}", "no \"nodes\"");
    expect_fail("{'nodes': {'model.p.a': {'name': 'a'", "at byte");
    expect_fail("{'nodes': {}} x", "trailing");
    expect_fail("{'nodes': {'model.p.a': {'unrendered_config': {'k': [1,}}}}", "at byte");

    struct dr_manifest *m = NULL;
    char err[256] = "";
    CHECK(dr_manifest_load("/nonexistent/manifest.json", &m, err, sizeof err) == -1);
    CHECK(strstr(err, "/nonexistent/manifest.json") != NULL);
}

/* A wrong type anywhere plan reads is an error naming the JSON path and the
 * byte where the value starts, never a silently empty manifest. */
static void test_wrong_types(void)
{
    expect_fail("{'nodes': []}", "field nodes: expected an object, got an array (at byte 10)");
    expect_fail("{'nodes': null}", "field nodes: expected an object, got null (at byte 10)");
    expect_fail("{'nodes': {}, 'sources': 'x'}",
                "field sources: expected an object or null, got a string (at byte 25)");
    expect_fail("{'nodes': {'model.p.x': {'depends_on': {'nodes': 'model.p.y'}}}}",
                "field nodes.model.p.x.depends_on.nodes: expected an array or null, got a string "
                "(at byte 49)");
    expect_fail("{'nodes': {'model.p.x': {'depends_on': {'nodes': ['a', 7]}}}}",
                "field nodes.model.p.x.depends_on.nodes[1]: expected a string or null, got a "
                "number (at byte 55)");
    expect_fail("{'nodes': {'model.p.x': {'checksum': 12}}}",
                "field nodes.model.p.x.checksum: expected an object or a string or null, got a "
                "number (at byte 37)");
    expect_fail("{'nodes': {'model.p.x': {'checksum': {'checksum': true}}}}",
                "field nodes.model.p.x.checksum.checksum: expected a string or null, got a "
                "boolean");
    expect_fail("{'nodes': {'model.p.x': {'config': []}}}",
                "field nodes.model.p.x.config: expected an object or null, got an array (at byte "
                "35)");
    expect_fail("{'nodes': {'model.p.x': {'config': {'materialized': 1}}}}",
                "field nodes.model.p.x.config.materialized: expected a string or null");
    expect_fail("{'nodes': {'model.p.x': 3}}",
                "field nodes.model.p.x: expected an object, got a number (at byte 24)");
    expect_fail("{'nodes': {'model.p.x': {'raw_code': {}}}}",
                "field nodes.model.p.x.raw_code: expected a string or null, got an object");
    expect_fail("{'nodes': {'model.p.x': {'columns': {'c': []}}}}",
                "field nodes.model.p.x.columns.c: expected an object, got an array");
    expect_fail("{'nodes': {'model.p.x': {'constraints': [1]}}}",
                "field nodes.model.p.x.constraints[0]: expected an object, got a number");
    expect_fail(
        "{'nodes': {'model.p.x': {'contract': {'enforced': 'yes'}}}}",
        "field nodes.model.p.x.contract.enforced: expected a boolean or null, got a string");
    expect_fail("{'nodes': {'model.p.x': {'version': [2]}}}",
                "field nodes.model.p.x.version: expected a string or a number or null, got an "
                "array");
    expect_fail("{'nodes': {}, 'macros': {'macro.p.m': {'macro_sql': 1}}}",
                "field macros.macro.p.m.macro_sql: expected a string or null, got a number");
    expect_fail("{'nodes': {}, 'child_map': {'model.p.x': {}}}",
                "field child_map.model.p.x: expected an array or null, got an object");
    expect_fail("{'nodes': {}, 'disabled': {'model.p.x': 1}}",
                "field disabled.model.p.x: expected an array or null, got a number");
    expect_fail("{'nodes': {}, 'metadata': {'dbt_version': 1}}",
                "field metadata.dbt_version: expected a string or null, got a number");
    /* null reads as absent, as before */
    struct dr_manifest *m = parse("{'nodes': {'model.p.x': {'config': null, 'depends_on': "
                                  "{'nodes': null}, 'checksum': null}}, 'sources': null}");
    CHECK(m != NULL);
    dr_manifest_free(m);
}

/* Truncated JSON and invalid UTF-8 are errors with the path and the byte. */
static void test_truncated_and_utf8(void)
{
    expect_fail("{'nodes': {'model.p.x': {'name': 'a'",
                "field nodes.model.p.x: unexpected end of input at byte 36");
    expect_fail("{'nodes': {'model.p.x': {'name': 'a\xff'}}}",
                "field nodes.model.p.x.name: invalid UTF-8 in the string at byte 33");
    expect_fail("{'nodes': {'model.p.x': {'name': '\xed\xa0\x80'}}}", "invalid UTF-8");
    expect_fail("{'nodes': {'model.p.x': {'name': '\xc0\xaf'}}}", "invalid UTF-8");
    expect_fail("{'nodes': {'model.p.\xe2\x82': {}}}",
                "field nodes: invalid UTF-8 in the string at byte 11");
    struct dr_manifest *m =
        parse("{'nodes': {'model.p.x': {'name': 'caf\xc3\xa9 \xf0\x9f\x8d\xba'}}}");
    CHECK(m != NULL);
    if (m)
        CHECK_STR(dr_manifest_find(m, "model.p.x")->name, "caf\xc3\xa9 \xf0\x9f\x8d\xba");
    dr_manifest_free(m);
}

/* dr_manifest_load names the file in front of the field. */
static void test_wrong_type_names_file(void)
{
    char path[] = "/tmp/dr-manifest-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char doc[] = "{\"nodes\": []}";
    CHECK(write(fd, doc, sizeof doc - 1) == (ssize_t)(sizeof doc - 1));
    close(fd);
    struct dr_manifest *m = NULL;
    char err[1024] = "";
    CHECK(dr_manifest_load(path, &m, err, sizeof err) == -1);
    char want[1100];
    snprintf(want, sizeof want, "%s: field nodes: expected an object, got an array (at byte 10)",
             path);
    CHECK_STR(err, want);
    unlink(path);
}

static void set_mtime(const char *path, time_t t)
{
    struct timespec times[2] = {{t, 0}, {t, 0}};
    utimensat(AT_FDCWD, path, times, 0);
}

static void test_stale(void)
{
    char dir[] = "/tmp/dr_stale_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char manifest[128], models[128], model[128], why[256];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    snprintf(models, sizeof models, "%s/models", dir);
    snprintf(model, sizeof model, "%s/models/a.sql", dir);
    const char *roots[] = {models, "/nonexistent/folder"};
    CHECK(dr_manifest_stale(manifest, roots, 2, why, sizeof why) == 1); /* missing */
    mkdir(models, 0755);
    FILE *f = fopen(model, "w");
    if (f) {
        fputs("select 1", f);
        fclose(f);
    }
    f = fopen(manifest, "w");
    if (f) {
        fputs("{}", f);
        fclose(f);
    }
    set_mtime(model, 1000);
    set_mtime(models, 1000);
    set_mtime(manifest, 2000);
    CHECK(dr_manifest_stale(manifest, roots, 2, why, sizeof why) == 0);
    set_mtime(model, 3000);
    CHECK(dr_manifest_stale(manifest, roots, 2, why, sizeof why) == 1);
    CHECK(strstr(why, "a.sql") != NULL);
    set_mtime(model, 1000);
    set_mtime(models, 3000); /* a file was deleted or renamed */
    CHECK(dr_manifest_stale(manifest, roots, 2, why, sizeof why) == 1);
    unlink(model);
    rmdir(models);
    unlink(manifest);
    rmdir(dir);
}

/* The hash separates what it should and is stable. */
static void test_hash(void)
{
    struct dr_hash a = dr_manifest_hash("abc", 3), b = dr_manifest_hash("abc", 3);
    CHECK(dr_manifest_hash_eq(a, b));
    CHECK(!dr_manifest_hash_eq(a, dr_manifest_hash("abd", 3)));
    CHECK(!dr_manifest_hash_eq(dr_manifest_hash("", 0), dr_manifest_hash("\0", 1)));
    char long1[100], long2[100];
    memset(long1, 'x', sizeof long1);
    memcpy(long2, long1, sizeof long2);
    long2[99] = 'y';
    CHECK(!dr_manifest_hash_eq(dr_manifest_hash(long1, 100), dr_manifest_hash(long2, 100)));
    CHECK(!dr_manifest_hash_eq(dr_manifest_hash(long1, 99), dr_manifest_hash(long1, 100)));
}

TEST_MAIN(test_fields, test_canonical_values, test_children_from_depends, test_errors,
          test_wrong_types, test_truncated_and_utf8, test_wrong_type_names_file, test_stale,
          test_hash)
