/* Unit tests for src/base/buf.c: the escaping of keys for one-line output,
 * the buffer's growth and cap, and dr_grow. */
#include "dbtrun/buf.h"
#include "harness.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_escape(const char *in, size_t n, const char *want)
{
    struct dr_buf b;
    dr_buf_init(&b, 0);
    CHECK(dr_buf_escape(&b, in, n) == 0);
    CHECK_STR(b.data ? b.data : "", want);
    dr_buf_free(&b);
}

static void test_escape(void)
{
    check_escape("plain/key.txt", 13, "plain/key.txt");
    check_escape("a\nb", 3, "a\\nb");
    check_escape("a\rb\tc", 5, "a\\rb\\tc");
    check_escape("back\\slash", 10, "back\\\\slash");
    check_escape("\x01\x1f\x7f", 3, "\\x01\\x1f\\x7f");
    check_escape("nul\0x", 5, "nul\\x00x");
    check_escape("caf\xc3\xa9 + 100%", 12, "caf\xc3\xa9 + 100%");
    check_escape("", 0, "");
    char *s = dr_strescape("x\ndownload: s3://b/forged");
    CHECK_STR(s, "x\\ndownload: s3://b/forged");
    CHECK(s && !strchr(s, '\n'));
    free(s);
    struct dr_buf small;
    dr_buf_init(&small, 3);
    CHECK(dr_buf_escape(&small, "\n\n", 2) == 0 || small.overflowed);
    CHECK(dr_buf_escape(&small, "\n\n\n", 3) == -1 && small.overflowed);
    dr_buf_free(&small);
}

/* Growth keeps every byte, in order, NUL-terminated, across many reallocs. */
static void test_growth(void)
{
    struct dr_buf b;
    dr_buf_init(&b, 0);
    CHECK(b.max == DR_BUF_DEFAULT_MAX && b.len == 0 && !b.data);
    int ok = 1;
    for (int i = 0; i < 10000; i++)
        ok &= dr_buf_printf(&b, "%d,", i % 10) == 0;
    CHECK(ok);
    CHECK(b.len == 20000 && b.cap > b.len && b.data[b.len] == '\0');
    CHECK(memcmp(b.data, "0,1,2,", 6) == 0 && memcmp(b.data + 19994, "7,8,9,", 6) == 0);
    /* a long printf (past its 256-byte stack copy) goes straight in */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(dr_buf_printf(&b, "<%s>", big) == 0 && b.len == 20000 + 1001);
    CHECK(b.data[20000] == '<' && b.data[b.len - 1] == '>' && b.data[b.len] == '\0');
    size_t len = 0;
    char *taken = dr_buf_take(&b, &len);
    CHECK(taken && len == 21001 && strlen(taken) == 21001);
    CHECK(!b.data && b.len == 0 && b.cap == 0);
    free(taken);
    taken = dr_buf_take(&b, &len); /* an empty buffer still hands over "" */
    CHECK_STR(taken, "");
    CHECK(len == 0);
    free(taken);
    dr_buf_free(&b);
}

/* The cap refuses the append that would pass it, adds nothing of it, marks
 * the buffer, and still takes appends that fit. */
static void test_cap(void)
{
    struct dr_buf b;
    dr_buf_init(&b, 10);
    CHECK(dr_buf_add(&b, "0123456789", 10) == 0 && b.len == 10 && !b.overflowed);
    CHECK(dr_buf_add(&b, "x", 1) == -1 && b.overflowed && b.len == 10);
    CHECK_STR(b.data, "0123456789");
    dr_buf_reset(&b);
    b.overflowed = 0;
    CHECK(b.len == 0 && b.data && b.data[0] == '\0');
    CHECK(dr_buf_puts(&b, "abcdefgh") == 0);
    CHECK(dr_buf_printf(&b, "%s", "xyz") == -1 && b.overflowed && b.len == 8);
    CHECK(dr_buf_add(&b, "ij", 2) == 0 && b.len == 10);
    CHECK_STR(b.data, "abcdefghij");
    /* a size that would wrap len + n is refused, not wrapped */
    CHECK(dr_buf_add(&b, "", SIZE_MAX) == -1);
    CHECK(b.len == 10);
    dr_buf_free(&b);
    /* json strings obey the cap too: 3 bytes of input need 5 */
    dr_buf_init(&b, 4);
    CHECK(dr_buf_json_string(&b, "abc", 3) == -1 && b.overflowed);
    dr_buf_free(&b);
}

/* A zeroed struct dr_buf is an empty buffer with the default cap, as the
 * header says of max == 0 (it refused every append before). */
static void test_zeroed(void)
{
    struct dr_buf b = {0};
    CHECK(dr_buf_puts(&b, "hello") == 0 && !b.overflowed);
    CHECK_STR(b.data, "hello");
    dr_buf_free(&b);
    struct dr_buf capped = {.max = 3};
    CHECK(dr_buf_puts(&capped, "abc") == 0 && dr_buf_puts(&capped, "d") == -1);
    CHECK(capped.overflowed && capped.len == 3);
    dr_buf_free(&capped);
}

/* dr_grow: room for `need`, the same array when it fits, never past max,
 * and the array untouched on refusal. */
static void test_grow(void)
{
    int *v = NULL;
    size_t cap = 0;
    int *g = dr_grow(v, &cap, 1, sizeof *v, 100);
    CHECK(g && cap >= 1 && cap <= 100);
    v = g;
    for (int i = 0; i < 100; i++) {
        g = dr_grow(v, &cap, (size_t)i + 1, sizeof *v, 100);
        CHECK(g != NULL);
        if (!g)
            break;
        v = g;
        v[i] = i;
    }
    CHECK(cap == 100); /* doubling stops at the cap exactly */
    CHECK(v[0] == 0 && v[57] == 57 && v[99] == 99);
    int *same = dr_grow(v, &cap, 50, sizeof *v, 100);
    CHECK(same == v && cap == 100);
    errno = 0;
    CHECK(dr_grow(v, &cap, 101, sizeof *v, 100) == NULL && errno == EFBIG);
    CHECK(cap == 100 && v[99] == 99);
    /* max 0: DR_BUF_DEFAULT_MAX bytes' worth */
    size_t c2 = 0;
    errno = 0;
    CHECK(dr_grow(NULL, &c2, DR_BUF_DEFAULT_MAX / 8 + 1, 8, 0) == NULL && errno == EFBIG);
    CHECK(c2 == 0);
    /* elem * max past SIZE_MAX is refused, not wrapped */
    CHECK(dr_grow(NULL, &c2, 2, SIZE_MAX / 2, 4) == NULL && c2 == 0);
    free(v);
}

/* dr_strprintf formats into a stack buffer first: results shorter than it,
 * exactly at its edge and longer all come out whole. */
static void test_strprintf(void)
{
    static const size_t lens[] = {0, 1, 254, 255, 256, 257, 1000, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        char *want = malloc(n + 3), *got;
        if (!want)
            continue;
        memset(want, 'x', n);
        memcpy(want + n, "-7", 3);
        got = dr_strprintf("%.*s-%d", (int)n, want, 7);
        CHECK(got && strlen(got) == n + 2);
        CHECK(got && strcmp(got, want) == 0);
        free(got);
        free(want);
    }
    char *empty = dr_strprintf("%s", "");
    CHECK_STR(empty, "");
    free(empty);
}

TEST_MAIN(test_escape, test_growth, test_cap, test_zeroed, test_grow, test_strprintf)
