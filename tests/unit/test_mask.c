/* Unit tests for src/base/mask.c: whole-text and streamed masking. */
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

/* A fixed-seed generator, so a failure replays the same case. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

/* Few distinct symbols, so that secrets overlap a lot: ASCII, a two-byte
 * UTF-8 letter, a newline. */
static size_t random_word(char *out, size_t max)
{
    static const char *const symbols[] = {"a", "b", "S", "\xc3\xa9", "\n"};
    size_t len = 0, want = 1 + rnd((unsigned)max);
    while (len < want) {
        const char *sym = symbols[rnd(5)];
        size_t n = strlen(sym);
        if (len + n > max)
            break;
        memcpy(out + len, sym, n);
        len += n;
    }
    return len;
}

/* Registers 1..6 secrets, many built from an earlier one: its prefix, its
 * suffix, or it extended. Copies them into set[] for building texts. */
static size_t random_secrets(char set[][32], size_t *lens)
{
    size_t n = 1 + rnd(6);
    for (size_t i = 0; i < n; i++) {
        size_t len = random_word(set[i], 12);
        if (i > 0 && rnd(3) > 0) {
            size_t from = rnd((unsigned)i), flen = lens[from], cut = rnd((unsigned)flen + 1);
            switch (rnd(3)) {
            case 0: /* a prefix of an earlier secret */
                memcpy(set[i], set[from], cut);
                len = cut;
                break;
            case 1: /* a suffix */
                memcpy(set[i], set[from] + cut, flen - cut);
                len = flen - cut;
                break;
            default: /* an earlier secret, extended */
                memmove(set[i] + flen, set[i], len > 31 - flen ? 31 - flen : len);
                memcpy(set[i], set[from], flen);
                len = flen + (len > 31 - flen ? 31 - flen : len);
            }
        }
        lens[i] = len;
        dr_mask_add(set[i], len);
    }
    return n;
}

/* A text of pieces of the secrets (whole, cut at either end) and noise. */
static size_t random_text(char set[][32], const size_t *lens, size_t n, char *out, size_t max)
{
    size_t len = 0;
    for (unsigned pieces = 1 + rnd(8); pieces > 0; pieces--) {
        char piece[32];
        size_t plen;
        if (rnd(4) == 0) {
            plen = random_word(piece, 4);
        } else {
            size_t s = rnd((unsigned)n), from = rnd(3) ? 0 : rnd((unsigned)lens[s] + 1);
            size_t to = rnd(3) ? lens[s] : from + rnd((unsigned)(lens[s] - from) + 1);
            plen = to - from;
            memcpy(piece, set[s] + from, plen);
        }
        if (len + plen > max)
            break;
        memcpy(out + len, piece, plen);
        len += plen;
    }
    return len;
}

/* Streams text[0..len) in chunks cut at random points; returns the output
 * (NUL-terminated, static) and its length in *out_len. */
static char *stream_split(const char *text, size_t len, size_t *out_len)
{
    static char out[4096];
    int fds[2];
    *out_len = 0;
    if (pipe(fds) != 0)
        return NULL;
    struct dr_mask_stream s = {fds[1], NULL, 0};
    for (size_t at = 0; at < len;) {
        size_t n = 1 + rnd((unsigned)(len - at < 12 ? len - at : 12));
        if (rnd(5) == 0)
            dr_mask_stream_write(&s, text + at, 0); /* empty writes change nothing */
        dr_mask_stream_write(&s, text + at, n);
        at += n;
    }
    dr_mask_stream_flush(&s);
    close(fds[1]);
    ssize_t got = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    *out_len = got > 0 ? (size_t)got : 0;
    out[*out_len] = '\0';
    return out;
}

/* Streamed masking must decide exactly as whole-text masking, wherever the
 * chunks are cut. */
static void test_stream_equals_whole_text(void)
{
    int mismatches = 0;
    for (int round = 0; round < 3000; round++) {
        char set[6][32], text[256];
        size_t lens[6], whole_len, streamed_len;
        dr_mask_reset();
        size_t n = random_secrets(set, lens);
        size_t len = random_text(set, lens, n, text, sizeof text);
        char *whole = dr_mask_apply(text, len, &whole_len);
        char *streamed = stream_split(text, len, &streamed_len);
        if (whole_len != streamed_len || memcmp(whole, streamed, whole_len) != 0) {
            if (mismatches++ == 0)
                fprintf(stderr, "round %d: text \"%.*s\": whole \"%s\", streamed \"%s\"\n", round,
                        (int)len, text, whole, streamed);
        }
        free(whole);
    }
    CHECK(mismatches == 0);
}

static void test_stream_shorter_secret_is_a_prefix(void)
{
    dr_mask_reset();
    dr_mask_add("Sup", 3);
    dr_mask_add("Sup3rS3cretPW", 13);
    const char *const split[] = {"Sup", "3rS3cretPW\n", NULL};
    CHECK_STR(stream(split), "***\n");
    const char *const shorter[] = {"Sup", "3r and Sup\n", NULL};
    CHECK_STR(stream(shorter), "***3r and ***\n");
}

TEST_MAIN(test_whole_text, test_longest_first_and_lines, test_stream_split_secret,
          test_stream_holds_back_only_a_possible_prefix, test_stream_shorter_secret_is_a_prefix,
          test_stream_equals_whole_text)
