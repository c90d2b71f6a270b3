/* Unit tests for src/aws/filter.c: the aws CLI's --exclude/--include rules
 * (order matters, last match wins, `*` crosses `/`, case-sensitive). */
#include "dbtrun/filter.h"
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* The deploy step of the seed: docs go up, other JSON stays home. */
static void test_seed_docs_rules(void)
{
    struct dr_filter f = {0};
    CHECK(dr_filter_add(&f, 0, "*.json") == 0);
    CHECK(dr_filter_add(&f, 1, "index.html") == 0);
    CHECK(dr_filter_add(&f, 1, "catalog.json") == 0);
    CHECK(dr_filter_add(&f, 1, "manifest.json") == 0);
    CHECK(dr_filter_add(&f, 1, "run_results.json") == 0);
    CHECK(dr_filter_match(&f, "index.html") == 1);
    CHECK(dr_filter_match(&f, "catalog.json") == 1);
    CHECK(dr_filter_match(&f, "manifest.json") == 1);
    CHECK(dr_filter_match(&f, "run_results.json") == 1);
    CHECK(dr_filter_match(&f, "semantic_manifest.json") == 0);
    CHECK(dr_filter_match(&f, "partial_parse.msgpack") == 1);
    CHECK(dr_filter_match(&f, "graph.gpickle") == 1);
    CHECK(dr_filter_match(&f, "graph_summary.json") == 0);
    CHECK(dr_filter_match(&f, "stale.json") == 0);
    /* "*.json" crosses "/", but "manifest.json" only matches at the top */
    CHECK(dr_filter_match(&f, "compiled/x/manifest.json") == 0);
    CHECK(dr_filter_match(&f, "compiled/x/model.sql") == 1);
    /* case-sensitive: neither rule matches, so included */
    CHECK(dr_filter_match(&f, "CATALOG.JSON") == 1);
    dr_filter_free(&f);
    CHECK(f.n == 0 && f.rules == NULL);
    dr_filter_free(&f); /* idempotent */
}

static void test_last_match_wins(void)
{
    struct dr_filter f = {0};
    /* include then exclude: the exclude is later, so it wins */
    CHECK(dr_filter_add(&f, 1, "a.txt") == 0);
    CHECK(dr_filter_add(&f, 0, "*") == 0);
    CHECK(dr_filter_match(&f, "a.txt") == 0);
    CHECK(dr_filter_match(&f, "b.txt") == 0);
    CHECK(dr_filter_add(&f, 1, "*.txt") == 0);
    CHECK(dr_filter_match(&f, "a.txt") == 1);
    CHECK(dr_filter_match(&f, "deep/er/b.txt") == 1);
    CHECK(dr_filter_match(&f, "b.csv") == 0);
    dr_filter_free(&f);
}

static void test_no_rules_includes(void)
{
    struct dr_filter f = {0};
    CHECK(dr_filter_match(&f, "anything/at/all") == 1);
    CHECK(dr_filter_match(NULL, "x") == 1);
    /* an include alone does not exclude the rest */
    CHECK(dr_filter_add(&f, 1, "*.html") == 0);
    CHECK(dr_filter_match(&f, "x.css") == 1);
    dr_filter_free(&f);
}

static void test_glob_features(void)
{
    struct dr_filter f = {0};
    CHECK(dr_filter_add(&f, 0, "*") == 0);
    CHECK(dr_filter_add(&f, 1, "logs/*") == 0);
    CHECK(dr_filter_add(&f, 1, "?.md") == 0);
    CHECK(dr_filter_add(&f, 1, "[ab]*.csv") == 0);
    CHECK(dr_filter_add(&f, 1, "[!x]y") == 0);
    CHECK(dr_filter_match(&f, "logs/a/b/c.log") == 1); /* * crosses / */
    CHECK(dr_filter_match(&f, "logs") == 0);
    CHECK(dr_filter_match(&f, "a.md") == 1);
    CHECK(dr_filter_match(&f, "ab.md") == 0);
    CHECK(dr_filter_match(&f, "/.md") == 1); /* ? matches / too */
    CHECK(dr_filter_match(&f, "b1.csv") == 1);
    CHECK(dr_filter_match(&f, "c1.csv") == 0);
    CHECK(dr_filter_match(&f, "zy") == 1);
    CHECK(dr_filter_match(&f, "xy") == 0);
    dr_filter_free(&f);
    /* dot files are ordinary; a backslash is literal (Python's fnmatch) */
    CHECK(dr_filter_add(&f, 0, "*rc") == 0);
    CHECK(dr_filter_add(&f, 0, "a\\*") == 0);
    CHECK(dr_filter_match(&f, ".bashrc") == 0);
    CHECK(dr_filter_match(&f, "dir/.zshrc") == 0);
    CHECK(dr_filter_match(&f, "a*") == 1);
    CHECK(dr_filter_match(&f, "a\\b") == 0);
    dr_filter_free(&f);
}

static void test_caps(void)
{
    struct dr_filter f = {0};
    CHECK(dr_filter_add(&f, 0, "") == -1);
    CHECK(dr_filter_add(&f, 0, NULL) == -1);
    char *big = malloc(DR_FILTER_PATTERN_MAX + 2);
    memset(big, 'a', DR_FILTER_PATTERN_MAX + 1);
    big[DR_FILTER_PATTERN_MAX + 1] = '\0';
    CHECK(dr_filter_add(&f, 0, big) == -1);
    big[DR_FILTER_PATTERN_MAX] = '\0';
    CHECK(dr_filter_add(&f, 0, big) == 0);
    free(big);
    int ok = 1;
    while (f.n < DR_FILTER_RULES_MAX)
        ok &= dr_filter_add(&f, 1, "x") == 0;
    CHECK(ok);
    CHECK(dr_filter_add(&f, 1, "x") == -1);
    CHECK(f.n == DR_FILTER_RULES_MAX);
    dr_filter_free(&f);
}

TEST_MAIN(test_seed_docs_rules, test_last_match_wins, test_no_rules_includes, test_glob_features,
          test_caps)
