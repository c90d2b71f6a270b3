/* Unit tests for src/base/buf.c: the escaping of keys for one-line output. */
#include "dbtrun/buf.h"
#include "harness.h"

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

TEST_MAIN(test_escape)
