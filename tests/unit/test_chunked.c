/* Unit tests for src/aws/chunked.c: the aws-chunked framing of streaming
 * uploads — chunk sizes, the last chunk, the CRC32 trailer in base64, the
 * encoded length, reads of any size, resends from 0 and a short payload. */
#include "dbtrun/checksum.h"
#include "dbtrun/chunked.h"
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mem {
    const char *data;
    long long len; /* what the source really has (may be less than announced) */
    int reads;
};

static long mem_read(void *ctx, void *buf, size_t n, long long off)
{
    struct mem *m = ctx;
    m->reads++;
    if (off >= m->len)
        return 0;
    if ((long long)n > m->len - off)
        n = (size_t)(m->len - off);
    memcpy(buf, m->data + off, n);
    return (long)n;
}

/* The whole encoding of `len` bytes of data in chunks of `chunk`, read `step`
 * bytes at a time, into a malloc'd string (*n bytes); NULL on an error. */
static char *encode(const char *data, long long have, long long len, size_t chunk, size_t step,
                    size_t *n)
{
    struct mem m = {data, have, 0};
    struct dr_chunked e;
    size_t cap = (size_t)dr_chunked_length(len, chunk) + 64, got = 0;
    char *out = malloc(cap);
    dr_chunked_init(&e, len, chunk, mem_read, &m);
    for (;;) {
        size_t want = step < cap - got ? step : cap - got;
        long r = dr_chunked_read(&e, out + got, want, (long long)got);
        if (r < 0) {
            free(out);
            return NULL;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    out[got] = '\0';
    *n = got;
    return out;
}

static void test_base64_crc(void)
{
    char b64[9];
    dr_chunked_crc32_b64(0xCBF43926u, b64); /* CRC32 of "123456789" */
    CHECK_STR(b64, "y/Q5Jg==");
    dr_chunked_crc32_b64(0, b64);
    CHECK_STR(b64, "AAAAAA==");
    dr_chunked_crc32_b64(0xFFFFFFFFu, b64);
    CHECK_STR(b64, "/////w==");
}

static void test_small_body(void)
{
    size_t n;
    char *out = encode("123456789", 9, 9, 4, 1000, &n);
    CHECK(out != NULL);
    /* chunks of 4, 4 and 1, the empty last chunk, the trailer, the blank line */
    CHECK_STR(out, "4\r\n1234\r\n4\r\n5678\r\n1\r\n9\r\n0\r\n"
                   "x-amz-checksum-crc32:y/Q5Jg==\r\n\r\n");
    CHECK(n == (size_t)dr_chunked_length(9, 4));
    free(out);
}

static void test_empty_body(void)
{
    size_t n;
    char *out = encode("", 0, 0, 0, 1000, &n);
    CHECK(out != NULL);
    CHECK_STR(out, "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    CHECK(n == (size_t)dr_chunked_length(0, 0));
    free(out);
}

static void test_sizes_are_hex_and_exact(void)
{
    static char data[0x3000 + 17];
    size_t n, one;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + (i * 7) % 26); /* no NUL: strstr reads it */
    char *whole = encode(data, sizeof data, sizeof data, 0x1000, 1 << 20, &one);
    CHECK(whole != NULL);
    CHECK(strncmp(whole, "1000\r\n", 6) == 0);
    CHECK(strstr(whole, "\r\n11\r\n") != NULL); /* the last 17 bytes: hex 11 */
    CHECK(one == (size_t)dr_chunked_length(sizeof data, 0x1000));
    /* a chunk of exactly the size: no empty data chunk before "0" */
    char *exact = encode(data, 0x2000, 0x2000, 0x1000, 1 << 20, &n);
    CHECK(exact && n == (size_t)dr_chunked_length(0x2000, 0x1000));
    CHECK(exact && strstr(exact, "\r\n0\r\nx-amz-checksum-crc32:") != NULL);
    /* the same bytes whatever the read size, even one byte at a time */
    size_t steps[] = {1, 2, 5, 4095, 4096, 4097, 65536};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char *again = encode(data, sizeof data, sizeof data, 0x1000, steps[i], &n);
        CHECK(again && n == one && memcmp(again, whole, n) == 0);
        free(again);
    }
    /* the trailer is the CRC32 of all the payload */
    char b64[9], want[64];
    dr_chunked_crc32_b64((uint32_t)dr_checksum_crc(DR_CRC32, 0, data, sizeof data), b64);
    snprintf(want, sizeof want, "\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n", b64);
    CHECK(one > strlen(want) && strcmp(whole + one - strlen(want), want) == 0);
    free(whole);
    free(exact);
}

static void test_default_length(void)
{
    /* 16 MiB in 1 MiB chunks: 16 x ("100000\r\n" + bytes + "\r\n") + the tail */
    CHECK(dr_chunked_length(16LL << 20, 0) == 16 * (6 + 4 + (1LL << 20)) + 36);
    CHECK(dr_chunked_length(1, 0) == 1 + 4 + 1 + 36);
}

static void test_resend_starts_over(void)
{
    const char *data = "abcdefghij";
    struct mem m = {data, 10, 0};
    struct dr_chunked e;
    char buf[128], first[128];
    dr_chunked_init(&e, 10, 4, mem_read, &m);
    long a = dr_chunked_read(&e, first, 7, 0);
    CHECK(a == 7);
    /* a resend from 0: the same bytes, the CRC not summed twice */
    size_t got = 0;
    for (long r; (r = dr_chunked_read(&e, buf + got, sizeof buf - got, (long long)got)) > 0;)
        got += (size_t)r;
    CHECK(memcmp(buf, first, 7) == 0);
    char b64[9], want[64];
    dr_chunked_crc32_b64((uint32_t)dr_checksum_crc(DR_CRC32, 0, data, 10), b64);
    snprintf(want, sizeof want, "x-amz-checksum-crc32:%s\r\n\r\n", b64);
    buf[got] = '\0';
    CHECK(strstr(buf, want) != NULL);
    CHECK(e.crc == dr_checksum_crc(DR_CRC32, 0, data, 10));
    /* any other jump is refused */
    errno = 0;
    CHECK(dr_chunked_read(&e, buf, 4, 3) == -1 && errno == ESPIPE);
}

static void test_short_payload_fails(void)
{
    size_t n;
    errno = 0;
    CHECK(encode("abc", 3, 10, 4, 100, &n) == NULL);
    CHECK(errno == EIO);
}

TEST_MAIN(test_base64_crc, test_small_body, test_empty_body, test_sizes_are_hex_and_exact,
          test_default_length, test_resend_starts_over, test_short_payload_fails)
