/* Unit tests for src/aws/filter.c and glob.c: the aws CLI's
 * --exclude/--include rules (order matters, last match wins, `*` crosses
 * `/`, case-sensitive) with Python fnmatch's pattern rules. */
#include "dbtrun/filter.h"
#include "dbtrun/glob.h"
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

/* 1 when `text` matches `pattern` alone. */
static int glob(const char *pattern, const char *text)
{
    struct dr_glob *g = dr_glob_compile(pattern);
    int m = g ? dr_glob_match(g, text) : -1;
    dr_glob_free(g);
    return m;
}

/* Issue 19, case 1: `^` in a set is an ordinary character for Python;
 * only `!` negates. Files a.txt b.txt, --exclude '[^a]*': b.txt goes up. */
static void test_caret_is_literal(void)
{
    struct dr_filter f = {0};
    CHECK(dr_filter_add(&f, 0, "[^a]*") == 0);
    CHECK(dr_filter_match(&f, "a.txt") == 0);
    CHECK(dr_filter_match(&f, "b.txt") == 1);
    CHECK(dr_filter_match(&f, "^b.txt") == 0);
    dr_filter_free(&f);
    CHECK(glob("[!a]", "b") == 1);
    CHECK(glob("[!a]", "a") == 0);
    CHECK(glob("[!^]", "^") == 0);
    CHECK(glob("[a^]", "^") == 1);
}

/* Issue 19, case 2: no POSIX classes or collating elements: `[[:upper:]]`
 * is the set `[:uper` followed by a literal `]`. */
static void test_no_posix_classes(void)
{
    struct dr_filter f = {0};
    CHECK(dr_filter_add(&f, 0, "[[:upper:]]*") == 0);
    CHECK(dr_filter_match(&f, "A.txt") == 1);
    CHECK(dr_filter_match(&f, "u].txt") == 0);
    dr_filter_free(&f);
    CHECK(glob("[[:upper:]]", "A") == 0);
    CHECK(glob("[[:upper:]]", "u]") == 1);
    CHECK(glob("[[:upper:]]", ":]") == 1);
    CHECK(glob("[[:upper:]]", "[]") == 1);
    CHECK(glob("[[.a.]]", "a") == 0);
    CHECK(glob("[[.a.]]", ".]") == 1);
    CHECK(glob("[[=a=]]", "=]") == 1);
    CHECK(glob("[[=a=]]", "a") == 0);
    CHECK(glob("[[]", "[") == 1);
}

/* Issue 19, case 3: `?` and sets match one character, not one byte;
 * invalid UTF-8 is one character per byte (Python's surrogateescape). */
static void test_characters_not_bytes(void)
{
    struct dr_filter f = {0};
    CHECK(dr_filter_add(&f, 0, "?.txt") == 0);
    CHECK(dr_filter_match(&f, "\xc3\xa9.txt") == 0);         /* é.txt */
    CHECK(dr_filter_match(&f, "\xf0\x9f\x98\x80.txt") == 0); /* an emoji */
    CHECK(dr_filter_match(&f, "ab.txt") == 1);
    dr_filter_free(&f);
    CHECK(glob("[\xc3\xa9"
               "e]x",
               "\xc3\xa9x") == 1);
    CHECK(glob("[\xc3\xa9"
               "e]x",
               "\xc3x") == 0);
    CHECK(glob("[!a]", "\xc3\xa9") == 1);
    CHECK(glob("[a-\xc3\xbf]", "\xc3\xa9") == 1); /* ranges over code points */
    CHECK(glob("[a-z]", "\xc3\xa9") == 0);
    /* invalid: a lone byte, a truncated sequence, an overlong '/', a surrogate */
    CHECK(glob("?.txt", "\xe9.txt") == 1);
    CHECK(glob("??", "\xe2\x82") == 1);
    CHECK(glob("?", "\xe2\x82") == 0);
    CHECK(glob("??", "\xc0\xaf") == 1);
    CHECK(glob("???", "\xed\xa0\x80") == 1);
    CHECK(glob("?\xe2\x82\xac", "\xe2\xe2\x82\xac") == 1); /* resync after a bad byte */
    CHECK(glob("\xe9", "\xe9") == 1);
    CHECK(glob("\xe9", "\xc3\xa9") == 0);
}

/* Issue 19, case 5: the aws CLI accepts an empty pattern; joined to the
 * source root it matches only the root itself, i.e. the empty path. */
static void test_empty_pattern(void)
{
    struct dr_filter f = {0};
    CHECK(dr_filter_add(&f, 0, "") == 0);
    CHECK(dr_filter_match(&f, "a.txt") == 1);
    CHECK(dr_filter_match(&f, "") == 0);
    dr_filter_free(&f);
    CHECK(glob("", "") == 1);
    CHECK(glob("*", "") == 1);
    CHECK(glob("?", "") == 0);
}

/* The set rules of CPython's fnmatch.translate, edge by edge (each checked
 * against Python 3.11's fnmatch.fnmatchcase). */
static void test_translate_sets(void)
{
    CHECK(glob("[]a]", "]") == 1);  /* `]` first is literal */
    CHECK(glob("[!]a]", "]") == 0); /* also after `!` */
    CHECK(glob("[!]a]", "b") == 1);
    CHECK(glob("[abc", "[abc") == 1); /* never closed: literal `[` */
    CHECK(glob("[abc", "a") == 0);
    CHECK(glob("[", "[") == 1);
    CHECK(glob("[]", "[]") == 1);
    CHECK(glob("[!]", "[!]") == 1);
    CHECK(glob("[z-a]", "z") == 0); /* a reversed range matches nothing */
    CHECK(glob("[z-a]", "-") == 0);
    CHECK(glob("[!z-a]", "q") == 1); /* ... so its negation matches anything */
    CHECK(glob("[z-ax]", "x") == 1);
    CHECK(glob("[z-ax]", "z") == 0);
    CHECK(glob("[a-]", "-") == 1); /* a trailing hyphen is literal */
    CHECK(glob("[-a]", "-") == 1);
    CHECK(glob("[!-a]", "-") == 0);
    CHECK(glob("[a-c-e]", "-") == 1); /* a range, then a literal `-` and `e` */
    CHECK(glob("[a-c-e]", "e") == 1);
    CHECK(glob("[a-c-e]", "d") == 0);
    CHECK(glob("[b-a-c-d]", "-") == 1);
    CHECK(glob("[b-a-c-d]", "d") == 1);
    CHECK(glob("[b-a-c-d]", "b") == 0);
    CHECK(glob("[b-a!]", "q") == 1); /* what is left is `!`: any character */
    CHECK(glob("[a--]", "a") == 0);
    CHECK(glob("[a--]", "-") == 0);
    CHECK(glob("[\\]", "\\") == 1); /* backslash is literal */
    CHECK(glob("[&&b]", "&") == 1);
    CHECK(glob("[~|]", "|") == 1);
    CHECK(glob("a[/]b", "a/b") == 1);
    CHECK(glob("a**b", "ab") == 1);
    CHECK(glob("*a*b", "xxaxxbb") == 1);
    CHECK(glob("*a?b", "aaab") == 1);
    CHECK(glob("*a?b", "aab") == 1);
    CHECK(glob("*a?b", "ab") == 0);
    CHECK(glob("a\nb", "a\nb") == 1);
    CHECK(glob("a?b", "a\nb") == 1); /* DOTALL: `?` matches a newline */
    CHECK(glob("*", "a\nb") == 1);
}

/* The aws CLI's own cases (tests/unit/customizations/s3/test_filters.py),
 * with each file given relative to the root its patterns are joined to. */
static void test_awscli_filter_cases(void)
{
    const char *local[] = {"test.txt", "test.jpg", "directory/test.jpg"};
    struct dr_filter f = {0};
    /* test_include: an include alone keeps everything */
    CHECK(dr_filter_add(&f, 1, "*.txt") == 0);
    for (int i = 0; i < 3; i++)
        CHECK(dr_filter_match(&f, local[i]) == 1);
    dr_filter_free(&f);
    /* test_exclude */
    CHECK(dr_filter_add(&f, 0, "*") == 0);
    for (int i = 0; i < 3; i++)
        CHECK(dr_filter_match(&f, local[i]) == 0);
    /* test_exclude_include */
    CHECK(dr_filter_add(&f, 1, "*.txt") == 0);
    CHECK(dr_filter_match(&f, "test.txt") == 1);
    CHECK(dr_filter_match(&f, "test.jpg") == 0);
    CHECK(dr_filter_match(&f, "directory/test.jpg") == 0);
    dr_filter_free(&f);
    /* test_include_exclude */
    CHECK(dr_filter_add(&f, 1, "*.txt") == 0);
    CHECK(dr_filter_add(&f, 0, "*") == 0);
    for (int i = 0; i < 3; i++)
        CHECK(dr_filter_match(&f, local[i]) == 0);
    dr_filter_free(&f);
    /* test_exclude_with_dst_root */
    CHECK(dr_filter_add(&f, 0, "*.txt") == 0);
    CHECK(dr_filter_match(&f, "test.txt") == 0);
    CHECK(dr_filter_match(&f, "test.jpg") == 1);
    dr_filter_free(&f);
    /* test_prefix_filtering_consistent */
    CHECK(dr_filter_add(&f, 0, "t*") == 0);
    CHECK(dr_filter_match(&f, "test1.txt") == 0);
    CHECK(dr_filter_match(&f, "nottest1.txt") == 1);
    dr_filter_free(&f);
    /* test_bucket_exclude_with_prefix */
    CHECK(dr_filter_add(&f, 0, "dir1/*") == 0);
    CHECK(dr_filter_match(&f, "dir1/key1.txt") == 0);
    CHECK(dr_filter_match(&f, "dir1/key2.txt") == 0);
    CHECK(dr_filter_match(&f, "dir1/notkey3.txt") == 0);
    dr_filter_free(&f);
    CHECK(dr_filter_add(&f, 0, "dir1/key*") == 0);
    CHECK(dr_filter_match(&f, "dir1/key1.txt") == 0);
    CHECK(dr_filter_match(&f, "dir1/notkey3.txt") == 1);
    dr_filter_free(&f);
    /* test_root_dir: baz.txt under root /foo/bar, bar/baz.txt under /foo */
    CHECK(dr_filter_add(&f, 0, "baz.txt") == 0);
    CHECK(dr_filter_match(&f, "baz.txt") == 0);
    CHECK(dr_filter_match(&f, "bar/baz.txt") == 1);
    dr_filter_free(&f);
    /* test_create_root_s3_with_prefix */
    CHECK(dr_filter_add(&f, 0, "test.txt") == 0);
    CHECK(dr_filter_match(&f, "test.txt") == 0);
    CHECK(dr_filter_match(&f, "test2.txt") == 1);
    dr_filter_free(&f);
    /* test_create_filter_s3_to_s3 */
    CHECK(dr_filter_add(&f, 0, "*") == 0);
    CHECK(dr_filter_add(&f, 1, "*.jpg") == 0);
    CHECK(dr_filter_match(&f, "test.txt") == 0);
    CHECK(dr_filter_match(&f, "test.jpg") == 1);
    CHECK(dr_filter_match(&f, "key/test.jpg") == 1);
    dr_filter_free(&f);
}

TEST_MAIN(test_seed_docs_rules, test_last_match_wins, test_no_rules_includes, test_glob_features,
          test_caps, test_caret_is_literal, test_no_posix_classes, test_characters_not_bytes,
          test_empty_pattern, test_translate_sets, test_awscli_filter_cases)
