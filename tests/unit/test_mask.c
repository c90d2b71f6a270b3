/* Unit tests for src/mask.c: whole-text and streamed masking. */
#include "dbtrun/mask.h"
#include "harness.h"

#include <stdlib.h>
#include <unistd.h>

static char *masked(const char *text)
{
    static char *last;
    size_t n;
    free(last);
    last = dr_mask_apply(text, strlen(text), &n);
    return last;
}

static void test_whole_text(void)
{
    dr_mask_reset();
    CHECK(!dr_mask_active());
    CHECK_STR(masked("nothing to hide"), "nothing to hide");
    CHECK(dr_mask_add("hunter22", 8) == 1);
    CHECK(dr_mask_add("hunter22", 8) == 0); /* known */
    CHECK(dr_mask_add("ab", 2) == 0);       /* too short */
    CHECK(dr_mask_active());
    CHECK_STR(masked("pw=hunter22;hunter22hunter22"), "pw=***;******");
    CHECK_STR(masked("hunter2"), "hunter2");
}

static void test_longest_first_and_lines(void)
{
    dr_mask_reset();
    CHECK(dr_mask_add("secret", 6) == 1);
    CHECK(dr_mask_add("my-secret-key", 13) == 1);
    CHECK_STR(masked("a my-secret-key b secret"), "a *** b ***");
    const char *pem = "-----BEGIN KEY-----\nMIIEabc\nXYZ123\n-----END KEY-----\n";
    CHECK(dr_mask_add(pem, strlen(pem)) == 5); /* the whole, then 4 lines */
    CHECK_STR(masked("key: MIIEabc done"), "key: *** done");
}

/* Streams chunks through a pipe and returns what came out. */
static char *stream(const char *const *chunks)
{
    int fds[2];
    static char out[4096];
    if (pipe(fds) != 0)
        return NULL;
    struct dr_mask_stream s = {fds[1], NULL, 0};
    for (const char *const *c = chunks; *c; c++)
        CHECK(dr_mask_stream_write(&s, *c, strlen(*c)) == 0);
    CHECK(dr_mask_stream_flush(&s) == 0);
    close(fds[1]);
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void test_stream_split_secret(void)
{
    dr_mask_reset();
    dr_mask_add("s3cr3t-value", 12);
    const char *const split[] = {"token=s3cr", "3t-val", "ue and more\n", NULL};
    CHECK_STR(stream(split), "token=*** and more\n");
    const char *const near_miss[] = {"s3cr3t-va", "lve s3c", NULL}; /* never completed */
    CHECK_STR(stream(near_miss), "s3cr3t-valve s3c");
    const char *const at_end[] = {"x s3cr3t-value", NULL};
    CHECK_STR(stream(at_end), "x ***");
}

static void test_stream_holds_back_only_a_possible_prefix(void)
{
    dr_mask_reset();
    dr_mask_add("abcdef", 6);
    int fds[2];
    char out[64];
    CHECK(pipe(fds) == 0);
    struct dr_mask_stream s = {fds[1], NULL, 0};
    CHECK(dr_mask_stream_write(&s, "hello abc", 9) == 0);
    ssize_t n = read(fds[0], out, sizeof out);
    CHECK(n == 6 && memcmp(out, "hello ", 6) == 0); /* "abc" waits */
    CHECK(s.len == 3);
    CHECK(dr_mask_stream_flush(&s) == 0);
    n = read(fds[0], out, sizeof out);
    CHECK(n == 3 && memcmp(out, "abc", 3) == 0);
    close(fds[0]);
    close(fds[1]);
}

TEST_MAIN(test_whole_text, test_longest_first_and_lines, test_stream_split_secret,
          test_stream_holds_back_only_a_possible_prefix)
