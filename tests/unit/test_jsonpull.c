/* Unit tests for src/base/jsonpull.c: token sequences, escapes, errors, skipping,
 * and tokens that straddle the read window of a file. */
#include "dbtrun/jsonpull.h"
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static enum dr_jsonpull_token next_of(struct dr_jsonpull *p)
{
    return dr_jsonpull_next(p);
}

static void test_tokens(void)
{
    const char *doc = " {\"a\": [1, -2.5e3, true, false, null], \"b\": {}, \"c\": \"x\"} ";
    struct dr_jsonpull p;
    dr_jsonpull_open_mem(&p, doc, strlen(doc));
    CHECK(next_of(&p) == DR_JP_OBJECT);
    CHECK(next_of(&p) == DR_JP_KEY);
    CHECK_STR(p.str, "a");
    CHECK(next_of(&p) == DR_JP_ARRAY);
    CHECK(next_of(&p) == DR_JP_NUMBER);
    CHECK_STR(p.str, "1");
    CHECK(next_of(&p) == DR_JP_NUMBER);
    CHECK_STR(p.str, "-2.5e3");
    CHECK(next_of(&p) == DR_JP_TRUE);
    CHECK(next_of(&p) == DR_JP_FALSE);
    CHECK(next_of(&p) == DR_JP_NULL);
    CHECK(next_of(&p) == DR_JP_END_ARRAY);
    CHECK(next_of(&p) == DR_JP_KEY);
    CHECK_STR(p.str, "b");
    CHECK(next_of(&p) == DR_JP_OBJECT);
    CHECK(next_of(&p) == DR_JP_END_OBJECT);
    CHECK(next_of(&p) == DR_JP_KEY);
    CHECK(next_of(&p) == DR_JP_STRING);
    CHECK_STR(p.str, "x");
    CHECK(next_of(&p) == DR_JP_END_OBJECT);
    CHECK(next_of(&p) == DR_JP_EOF);
    CHECK(next_of(&p) == DR_JP_EOF);
    dr_jsonpull_close(&p);
}

static void test_escapes(void)
{
    const char *doc = "[\"a\\\"b\\\\c\\/\\n\\t\", \"\\u00e9\\u20ac\", \"\\ud83d\\ude00\"]";
    struct dr_jsonpull p;
    dr_jsonpull_open_mem(&p, doc, strlen(doc));
    CHECK(next_of(&p) == DR_JP_ARRAY);
    CHECK(next_of(&p) == DR_JP_STRING);
    CHECK_STR(p.str, "a\"b\\c/\n\t");
    CHECK(next_of(&p) == DR_JP_STRING);
    CHECK_STR(p.str, "\xc3\xa9\xe2\x82\xac");
    CHECK(next_of(&p) == DR_JP_STRING);
    CHECK_STR(p.str, "\xf0\x9f\x98\x80");
    CHECK(p.len == 4);
    CHECK(next_of(&p) == DR_JP_END_ARRAY);
    CHECK(next_of(&p) == DR_JP_EOF);
    dr_jsonpull_close(&p);
}

static void expect_error(const char *doc)
{
    struct dr_jsonpull p;
    enum dr_jsonpull_token t;
    dr_jsonpull_open_mem(&p, doc, strlen(doc));
    int guard = 0;
    do {
        t = next_of(&p);
    } while (t != DR_JP_ERROR && t != DR_JP_EOF && ++guard < 100);
    CHECK(t == DR_JP_ERROR);
    CHECK(p.error[0] != '\0');
    CHECK(next_of(&p) == DR_JP_ERROR); /* sticky */
    dr_jsonpull_close(&p);
}

static void test_errors(void)
{
    expect_error("{\"a\": 1");
    expect_error("{\"a\" 1}");
    expect_error("[1, 2]]");
    expect_error("[1 2]");
    expect_error("{\"a\": tru}");
    expect_error("\"abc");
    expect_error("[\"\\x\"]");
    expect_error("{1: 2}");
    expect_error("[1] [2]");
    expect_error("[}");
}

static void test_skip(void)
{
    const char *doc = "{\"skip\": {\"x\": [1, {\"y\": \"}]\\\"{\"}], \"z\": \"]\"}, \"keep\": 7}";
    struct dr_jsonpull p;
    dr_jsonpull_open_mem(&p, doc, strlen(doc));
    CHECK(next_of(&p) == DR_JP_OBJECT);
    CHECK(next_of(&p) == DR_JP_KEY);
    CHECK(dr_jsonpull_skip_value(&p) == 0);
    CHECK(next_of(&p) == DR_JP_KEY);
    CHECK_STR(p.str, "keep");
    CHECK(next_of(&p) == DR_JP_NUMBER);
    CHECK_STR(p.str, "7");
    CHECK(next_of(&p) == DR_JP_END_OBJECT);
    CHECK(next_of(&p) == DR_JP_EOF);
    dr_jsonpull_close(&p);
}

/* A file bigger than the read window, with a long escaped string and a
 * skipped container both crossing window boundaries. */
static void test_windows(void)
{
    char path[] = "/tmp/dr_jsonpull_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    size_t n = DR_JSONPULL_WINDOW + 1000;
    char *big = malloc(n * 2 + 64);
    size_t len = 0;
    len += (size_t)sprintf(big, "{\"skip\": [\"");
    for (size_t i = 0; i < n; i++)
        big[len++] = i % 7 == 0 ? '}' : 'a';
    len += (size_t)sprintf(big + len, "\"], \"long\": \"");
    for (size_t i = 0; i < n / 2; i++) {
        big[len++] = '\\';
        big[len++] = 'n';
    }
    len += (size_t)sprintf(big + len, "\", \"end\": 1}");
    CHECK(write(fd, big, len) == (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    struct dr_jsonpull p;
    CHECK(dr_jsonpull_open_fd(&p, fd) == 0);
    CHECK(next_of(&p) == DR_JP_OBJECT);
    CHECK(next_of(&p) == DR_JP_KEY);
    CHECK(dr_jsonpull_skip_value(&p) == 0);
    CHECK(next_of(&p) == DR_JP_KEY);
    CHECK_STR(p.str, "long");
    CHECK(next_of(&p) == DR_JP_STRING);
    CHECK(p.len == n / 2);
    CHECK(p.str[0] == '\n' && p.str[p.len - 1] == '\n');
    CHECK(next_of(&p) == DR_JP_KEY);
    CHECK(next_of(&p) == DR_JP_NUMBER);
    CHECK(next_of(&p) == DR_JP_END_OBJECT);
    CHECK(next_of(&p) == DR_JP_EOF);
    CHECK(dr_jsonpull_offset(&p) == (long long)len);
    dr_jsonpull_close(&p);
    close(fd);
    unlink(path);
    free(big);
}

/* Raw strings must be UTF-8 (RFC 8259); escapes always decode to UTF-8. */
static void test_utf8(void)
{
    static const char *const bad[] = {
        "\"a\xff\"",   "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "\"\xe2\x82\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct dr_jsonpull p;
        dr_jsonpull_open_mem(&p, bad[i], strlen(bad[i]));
        CHECK(next_of(&p) == DR_JP_ERROR);
        CHECK(strstr(p.error, "invalid UTF-8 in the string at byte 0") != NULL);
        dr_jsonpull_close(&p);
    }
    const char *good = "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\xba\", \"\\ud800\"]";
    struct dr_jsonpull p;
    dr_jsonpull_open_mem(&p, good, strlen(good));
    CHECK(next_of(&p) == DR_JP_ARRAY);
    CHECK(next_of(&p) == DR_JP_STRING);
    CHECK_STR(p.str, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\xba");
    CHECK(next_of(&p) == DR_JP_STRING); /* a lone surrogate escape reads as U+FFFD */
    CHECK_STR(p.str, "\xef\xbf\xbd");
    dr_jsonpull_close(&p);
}

/* p->start is where the last token began, for error messages. */
static void test_token_start(void)
{
    const char *doc = "{ \"k\" :  [ 12 ,\"s\"] }";
    struct dr_jsonpull p;
    dr_jsonpull_open_mem(&p, doc, strlen(doc));
    CHECK(next_of(&p) == DR_JP_OBJECT && p.start == 0);
    CHECK(next_of(&p) == DR_JP_KEY && p.start == 2);
    CHECK(next_of(&p) == DR_JP_ARRAY && p.start == 9);
    CHECK(next_of(&p) == DR_JP_NUMBER && p.start == 11);
    CHECK(next_of(&p) == DR_JP_STRING && p.start == 15);
    CHECK(next_of(&p) == DR_JP_END_ARRAY && p.start == 18);
    dr_jsonpull_close(&p);
}

TEST_MAIN(test_tokens, test_escapes, test_errors, test_skip, test_windows, test_utf8,
          test_token_start)
