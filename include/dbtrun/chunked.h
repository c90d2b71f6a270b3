/* chunked: the aws-chunked body of S3's STREAMING-UNSIGNED-PAYLOAD-TRAILER
 * uploads — the payload in chunks ("<hex size>\r\n<bytes>\r\n"), the empty
 * last chunk "0\r\n", then the trailer "x-amz-checksum-crc32:<base64>\r\n\r\n"
 * with the CRC32 of the bytes as they went out, so a body is read once.
 * Pure framing: the payload comes from the caller's read function. Used by
 * s3.c's uploads over HTTPS; exposed for tests. */
#ifndef DR_CHUNKED_H
#define DR_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Payload bytes per chunk (botocore's size: a few framing bytes per MiB). */
#define DR_CHUNKED_SIZE (1u << 20)
#define DR_CHUNKED_TRAILER "x-amz-checksum-crc32"
#define DR_CHUNKED_CONTENT_SHA256 "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

/* Puts up to n payload bytes from payload offset `offset` into buf: how many
 * (> 0), or -1 with errno (0 is a file shorter than announced). */
typedef long (*dr_chunked_read_fn)(void *ctx, void *buf, size_t n, long long offset);

struct dr_chunked {
    long long len;           /* payload bytes */
    size_t chunk;            /* payload bytes per chunk; 0: DR_CHUNKED_SIZE */
    dr_chunked_read_fn read; /* where the payload comes from */
    void *read_ctx;
    /* the encoder's own state (dr_chunked_init clears it) */
    long long pos;    /* encoded bytes produced */
    long long done;   /* payload bytes produced */
    size_t data_left; /* payload bytes left in the current chunk */
    char frame[64];   /* framing text being produced */
    size_t frame_len, frame_off;
    int started, ended;
    uint64_t crc; /* CRC32 of the payload bytes produced */
};

/* Sets up e for `len` payload bytes in chunks of `chunk` (0: the default)
 * read through read(read_ctx, ...). Nothing is read yet. */
void dr_chunked_init(struct dr_chunked *e, long long len, size_t chunk, dr_chunked_read_fn read,
                     void *read_ctx);

/* The encoded size of `len` payload bytes in chunks of `chunk` (0: the
 * default): the Content-Length of the request. */
long long dr_chunked_length(long long len, size_t chunk);

/* Puts up to n encoded bytes from encoded offset `offset` into buf: how many
 * (0 once all dr_chunked_length bytes are out), or -1 with errno. Offsets
 * go in order; 0 starts again (a resend: the CRC is computed afresh). Any
 * other jump is ESPIPE; a payload that ends early is EIO. */
long dr_chunked_read(struct dr_chunked *e, char *buf, size_t n, long long offset);

/* The base64 of a CRC32 in big-endian order, as x-amz-checksum-crc32 and
 * <ChecksumCRC32> carry it (out: 9 bytes at least). */
void dr_chunked_crc32_b64(uint32_t crc, char out[9]);

#endif
