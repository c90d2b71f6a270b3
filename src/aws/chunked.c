/* chunked: aws-chunked framing with a CRC32 trailer, produced piecewise into
 * whatever buffer the HTTP layer hands over (curl's read callback), the CRC
 * folded in as the payload passes. Knows nothing of requests or files. */
#include "dbtrun/chunked.h"
#include "dbtrun/checksum.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* "0\r\n" + "x-amz-checksum-crc32:" (sizeof counts the NUL: the colon) +
 * 8 base64 characters + "\r\n\r\n" */
#define TAIL_LEN (3 + sizeof DR_CHUNKED_TRAILER + 8 + 4)

void dr_chunked_crc32_b64(uint32_t crc, char out[9])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    /* 3 bytes make 4 characters: 4 bytes are 6 characters and "==" */
    unsigned char b[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                          (unsigned char)(crc >> 8), (unsigned char)crc};
    out[0] = b64[b[0] >> 2];
    out[1] = b64[((b[0] & 3) << 4) | (b[1] >> 4)];
    out[2] = b64[((b[1] & 15) << 2) | (b[2] >> 6)];
    out[3] = b64[b[2] & 63];
    out[4] = b64[b[3] >> 2];
    out[5] = b64[(b[3] & 3) << 4];
    out[6] = '=';
    out[7] = '=';
    out[8] = '\0';
}

static size_t hex_digits(unsigned long long n)
{
    size_t d = 1;
    while (n >>= 4)
        d++;
    return d;
}

long long dr_chunked_length(long long len, size_t chunk)
{
    unsigned long long c = chunk ? chunk : DR_CHUNKED_SIZE;
    unsigned long long full = (unsigned long long)len / c, last = (unsigned long long)len % c;
    /* each chunk: its size in hex, CRLF, the bytes, CRLF */
    unsigned long long n = full * (hex_digits(c) + 4 + c);
    if (last)
        n += hex_digits(last) + 4 + last;
    return (long long)(n + TAIL_LEN);
}

void dr_chunked_init(struct dr_chunked *e, long long len, size_t chunk, dr_chunked_read_fn read,
                     void *read_ctx)
{
    memset(e, 0, sizeof *e);
    e->len = len;
    e->chunk = chunk ? chunk : DR_CHUNKED_SIZE;
    e->read = read;
    e->read_ctx = read_ctx;
}

/* The framing that follows what was produced: the CRLF closing a chunk's
 * bytes (not before the first), then the next chunk's size line, or the
 * last chunk and the trailer once the payload is all out. */
static void next_frame(struct dr_chunked *e)
{
    const char *crlf = e->started ? "\r\n" : "";
    long long left = e->len - e->done;
    e->started = 1;
    e->frame_off = 0;
    if (left > 0) {
        e->data_left = left < (long long)e->chunk ? (size_t)left : e->chunk;
        e->frame_len = (size_t)snprintf(e->frame, sizeof e->frame, "%s%zx\r\n", crlf, e->data_left);
        return;
    }
    char b64[9];
    dr_chunked_crc32_b64((uint32_t)e->crc, b64);
    e->frame_len = (size_t)snprintf(e->frame, sizeof e->frame, "%s0\r\n%s:%s\r\n\r\n", crlf,
                                    DR_CHUNKED_TRAILER, b64);
    e->ended = 1;
}

/* Payload bytes into buf (at most n, within the current chunk). */
static long put_data(struct dr_chunked *e, char *buf, size_t n)
{
    size_t want = n < e->data_left ? n : e->data_left;
    long got = e->read(e->read_ctx, buf, want, e->done);
    if (got == 0)
        errno = EIO; /* the payload ended before its announced length */
    if (got <= 0 || (size_t)got > want)
        return -1;
    e->crc = dr_checksum_crc(DR_CRC32, e->crc, buf, (size_t)got);
    e->data_left -= (size_t)got;
    e->done += got;
    return got;
}

long dr_chunked_read(struct dr_chunked *e, char *buf, size_t n, long long offset)
{
    size_t put = 0;
    if (offset == 0) /* the first call, or a resend */
        dr_chunked_init(e, e->len, e->chunk, e->read, e->read_ctx);
    if (offset != e->pos) {
        errno = ESPIPE;
        return -1;
    }
    while (put < n) {
        if (e->frame_off < e->frame_len) {
            size_t k = e->frame_len - e->frame_off;
            if (k > n - put)
                k = n - put;
            memcpy(buf + put, e->frame + e->frame_off, k);
            e->frame_off += k;
            put += k;
        } else if (e->data_left > 0) {
            long got = put_data(e, buf + put, n - put);
            if (got < 0)
                return -1;
            put += (size_t)got;
        } else if (e->ended) {
            break;
        } else {
            next_frame(e);
        }
    }
    e->pos += (long long)put;
    return (long)put;
}
