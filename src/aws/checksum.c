/* checksum: CRC32, CRC32C and CRC64/NVME (reflected, table-driven) and the
 * digests through libcrypto, over a downloaded file, compared with the
 * checksum headers of its GetObject response. Knows nothing of requests. */
#include "dbtrun/checksum.h"
#include "dbtrun/dl.h"
#include "dbtrun/fs.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    uint64_t poly; /* reflected */
    uint64_t mask; /* width */
} crc_params[] = {
    [DR_CRC32] = {0xEDB88320u, 0xFFFFFFFFu},
    [DR_CRC32C] = {0x82F63B78u, 0xFFFFFFFFu},
    [DR_CRC64NVME] = {0x9A6C9329AC4BC9B5ull, ~0ull},
};

static uint64_t crc_entry(enum dr_crc kind, unsigned i)
{
    uint64_t c = i;
    for (int k = 0; k < 8; k++)
        c = c & 1 ? (c >> 1) ^ crc_params[kind].poly : c >> 1;
    return c;
}

/* Slicing-by-8 tables, one set per kind: table[k][i] is the CRC of byte i
 * followed by k zero bytes, so eight bytes are folded in with eight lookups
 * (a byte-at-a-time loop is slower than SHA-256 on this hardware). Built
 * once, on first use, by any thread. */
static uint64_t crc_tables[3][8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_tables_build(void)
{
    for (int kind = 0; kind < 3; kind++)
        for (unsigned i = 0; i < 256; i++) {
            crc_tables[kind][0][i] = crc_entry((enum dr_crc)kind, i);
            for (int k = 1; k < 8; k++) {
                uint64_t prev = crc_tables[kind][k - 1][i];
                crc_tables[kind][k][i] = (prev >> 8) ^ crc_entry((enum dr_crc)kind, prev & 0xff);
            }
        }
}

uint64_t dr_checksum_crc(enum dr_crc kind, uint64_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t mask = crc_params[kind].mask;
    pthread_once(&crc_once, crc_tables_build);
    const uint64_t(*t)[256] = crc_tables[kind];
    crc = ~crc & mask;
    for (; n >= 8; n -= 8, b += 8) {
        uint64_t x = crc ^ ((uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
                            (uint64_t)b[3] << 24 | (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 |
                            (uint64_t)b[6] << 48 | (uint64_t)b[7] << 56);
        crc = t[7][x & 0xff] ^ t[6][(x >> 8) & 0xff] ^ t[5][(x >> 16) & 0xff] ^
              t[4][(x >> 24) & 0xff] ^ t[3][(x >> 32) & 0xff] ^ t[2][(x >> 40) & 0xff] ^
              t[1][(x >> 48) & 0xff] ^ t[0][x >> 56];
    }
    while (n--)
        crc = t[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
    return ~crc & mask;
}

/* What one response header claims and how to compute it. */
struct claim {
    const char *header; /* for the message */
    const char *want;   /* base64 (flexible checksums) or hex (ETag) */
    int crc;            /* an enum dr_crc, or -1 for a digest */
    const EVP_MD *md;   /* the digest when crc < 0 */
    int hex;            /* compare as lower-case hex (the ETag's MD5) */
};

/* The strongest full-object claim in resp, or 0 when none can be checked. */
static int pick_claim(const struct dr_http_response *resp, struct claim *c)
{
    static const struct {
        const char *header;
        int crc;
    } flexible[] = {{"x-amz-checksum-crc64nvme", DR_CRC64NVME},
                    {"x-amz-checksum-crc32c", DR_CRC32C},
                    {"x-amz-checksum-crc32", DR_CRC32},
                    {"x-amz-checksum-sha256", -1},
                    {"x-amz-checksum-sha1", -2}};
    const char *v, *type = dr_http_header_get(resp, "x-amz-checksum-type");
    const char *etag = dr_http_header_get(resp, "etag");
    /* A multipart object's checksum is of its parts' checksums unless S3
     * says FULL_OBJECT, and a ranged GET may carry it without its "-N". */
    int composite = (type && strcasecmp(type, "COMPOSITE") == 0) ||
                    (etag && strchr(etag, '-') && !(type && strcasecmp(type, "FULL_OBJECT") == 0));
    for (size_t i = 0; !composite && i < sizeof flexible / sizeof flexible[0]; i++) {
        /* "value-N" is a checksum of part checksums: not of these bytes */
        if (!(v = dr_http_header_get(resp, flexible[i].header)) || !*v || strchr(v, '-'))
            continue;
        *c = (struct claim){flexible[i].header, v, flexible[i].crc >= 0 ? flexible[i].crc : -1,
                            NULL, 0};
        if (flexible[i].crc == -1)
            c->md = dr_crypto.EVP_sha256();
        else if (flexible[i].crc == -2)
            c->md = dr_crypto.EVP_sha1();
        return 1;
    }
    /* An ETag is the body's MD5 only for a single-part object not encrypted
     * with KMS or a customer key. */
    const char *sse = dr_http_header_get(resp, "x-amz-server-side-encryption");
    if ((sse && strncasecmp(sse, "aws:kms", 7) == 0) ||
        dr_http_header_get(resp, "x-amz-server-side-encryption-customer-algorithm") ||
        !(v = dr_http_header_get(resp, "etag")))
        return 0;
    size_t n = 0;
    const char *p = v;
    if (*p == 'W' && p[1] == '/')
        return 0; /* a weak ETag promises nothing about the bytes */
    if (*p == '"')
        p++;
    while (n < 32 && isxdigit((unsigned char)p[n]))
        n++;
    if (n != 32 || !(p[32] == '"' || p[32] == '\0') || (p[32] == '"' && p[33] != '\0'))
        return 0;
    *c = (struct claim){"ETag (MD5)", p, -1, dr_crypto.EVP_md5(), 1};
    return 1;
}

struct running {
    const struct claim *claim;
    EVP_MD_CTX *ctx; /* a digest claim */
    uint64_t crc;    /* a CRC claim */
};

static int update_running(void *ctx, const void *data, size_t n)
{
    struct running *r = ctx;
    if (r->claim->crc >= 0) {
        r->crc = dr_checksum_crc((enum dr_crc)r->claim->crc, r->crc, data, n);
        return 0;
    }
    return !dr_crypto.EVP_DigestUpdate(r->ctx, data, n);
}

/* Computes the claim's checksum of the file into got (base64 or hex). */
static int compute(const struct claim *c, const char *path, char *got, size_t len)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    struct running r = {c, NULL, 0};
    int rc = -1, saved = EIO;
    if (c->crc < 0 &&
        (!(r.ctx = dr_crypto.EVP_MD_CTX_new()) || !dr_crypto.EVP_DigestInit_ex(r.ctx, c->md, NULL)))
        goto out;
    if (dr_fs_read_chunks(path, 0, -1, update_running, &r) != 0) {
        saved = errno;
        goto out;
    }
    if (c->crc >= 0) {
        dlen = c->crc == DR_CRC64NVME ? 8 : 4;
        for (unsigned i = 0; i < dlen; i++) /* big-endian, as AWS sends it */
            digest[i] = (unsigned char)(r.crc >> (8 * (dlen - 1 - i)));
    } else if (!dr_crypto.EVP_DigestFinal_ex(r.ctx, digest, &dlen)) {
        goto out;
    }
    if (c->hex) {
        for (unsigned i = 0; i < dlen && 2 * i + 2 < len; i++)
            snprintf(got + 2 * i, 3, "%02x", digest[i]);
    } else {
        unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
        dr_crypto.EVP_EncodeBlock(b64, digest, (int)dlen);
        snprintf(got, len, "%s", (const char *)b64);
    }
    rc = 0;
out:
    if (r.ctx)
        dr_crypto.EVP_MD_CTX_free(r.ctx);
    if (rc != 0)
        errno = saved;
    return rc;
}

int dr_checksum_verify(const struct dr_http_response *resp, const char *path, char *why, size_t len)
{
    struct claim c;
    char got[128] = "", want[128];
    char msg[160];
    if (!pick_claim(resp, &c))
        return 0;
    if (dr_dl_crypto(msg, sizeof msg) != 0) {
        errno = EIO;
        return -1;
    }
    if (compute(&c, path, got, sizeof got) != 0)
        return -1;
    snprintf(want, sizeof want, "%.*s", c.hex ? 32 : 127, c.want);
    if (c.hex ? strncasecmp(want, got, 32) == 0 : strcmp(want, got) == 0)
        return 0;
    snprintf(why, len, "%s expected %s, got %s", c.header, want, got);
    return 1;
}
