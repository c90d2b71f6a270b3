/* sigv4: AWS Signature Version 4 — canonical request, string to sign, signing
 * key, and the Authorization header or presigned query string, under the
 * generic service rules or the S3 rules. Pure computation over caller data
 * (OpenSSL libcrypto for SHA-256/HMAC); no I/O or global state, except that
 * dr_sigv4_now reads DBTRUN_TEST_CLOCK. */
#ifndef DR_SIGV4_H
#define DR_SIGV4_H

#include <stddef.h>
#include <time.h>

#define DR_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define DR_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define DR_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DR_SIGV4_MAX (1u << 20)                /* cap on every string the signer builds */
#define DR_SIGV4_MAX_HEADERS 1024              /* cap on request headers */
#define DR_SIGV4_EXPIRES_MAX 604800            /* presigned URLs live at most 7 days */
#define DR_SIGV4_CLOCK_ENV "DBTRUN_TEST_CLOCK" /* forced clock for tests */

enum dr_sigv4_flag {
    /* S3 rules: the path is not normalised and is encoded once (a path sent
     * as "/a%20b" or "/a b" signs as "/a%20b"); x-amz-content-sha256 is
     * signed; a presign without payload hash uses UNSIGNED-PAYLOAD. */
    DR_SIGV4_S3 = 1u << 0,
    /* Generic rules without removing "." / ".." segments and duplicate
     * slashes (the path is still encoded over what is sent). */
    DR_SIGV4_NO_NORMALIZE = 1u << 1,
    /* Sign into the query string (presigned URL) instead of a header. */
    DR_SIGV4_PRESIGN = 1u << 2,
    /* Generic services: also add and sign x-amz-content-sha256 (implied by
     * DR_SIGV4_S3; ignored when presigning). */
    DR_SIGV4_CONTENT_SHA256 = 1u << 3,
    /* Add the session token after signing, outside the signature, as a few
     * services require; by default it is signed like any other header. */
    DR_SIGV4_TOKEN_UNSIGNED = 1u << 4,
};

struct dr_sigv4_header {
    const char *name;
    const char *value;
};

struct dr_sigv4_request {
    const char *method; /* "GET", "PUT", ... */
    /* The path exactly as it goes on the wire (percent-encoded); NULL or
     * "" mean "/".
     * Generic rules encode it again, as AWS requires. */
    const char *path;
    const char *query; /* as sent, without '?'; NULL or "" for none */
    /* Headers to sign; must include host. Names are matched without case.
     * The signer owns x-amz-date and x-amz-security-token (from the
     * credentials), and x-amz-content-sha256 when it adds that header: such
     * headers given here are ignored. authorization, user-agent, expect,
     * connection, transfer-encoding and x-amzn-trace-id are never signed. */
    const struct dr_sigv4_header *headers;
    size_t nheaders;
    /* Lowercase hex SHA-256 of the body, or DR_SIGV4_UNSIGNED_PAYLOAD.
     * NULL: the empty body's hash (S3 presign: UNSIGNED-PAYLOAD). */
    const char *payload_sha256;
};

struct dr_sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" for long-term keys */
};

struct dr_sigv4_params {
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3", "secretsmanager", ... */
    time_t time;         /* signing time, UTC (see dr_sigv4_now) */
    unsigned flags;      /* DR_SIGV4_* */
    unsigned expires;    /* presign only: X-Amz-Expires, 1..DR_SIGV4_EXPIRES_MAX */
};

#define DR_SIGV4_ADD_MAX 4

/* Everything the signer produced. Strings are owned by the result and freed
 * by dr_sigv4_result_free; add[] values point at those strings. */
struct dr_sigv4_result {
    char signature[65];      /* lowercase hex */
    char *amz_date;          /* "20150830T123600Z" */
    char *canonical_request; /* intermediate values, for tests and debugging */
    char *string_to_sign;
    char *signed_headers; /* "host;x-amz-date" */
    char *authorization;  /* header mode: the Authorization value */
    char *query;          /* presign: the whole query string to send */
    /* Header mode: the headers the caller must add to the request, in
     * order x-amz-date, x-amz-content-sha256, x-amz-security-token,
     * authorization (those that apply). Presign: none. */
    struct dr_sigv4_header add[DR_SIGV4_ADD_MAX];
    size_t nadd;
    char *content_sha256; /* storage behind add[] */
    char *security_token;
};

/* Signs `req` with `cred` under `p`. On success returns 0 and fills *out
 * (caller frees with dr_sigv4_result_free). On failure returns -1, leaves
 * *out empty (safe to free) and writes a message to err (may be NULL):
 * missing field, no host header, bad expiry, a cap exceeded, out of memory,
 * or an OpenSSL failure. */
int dr_sigv4_sign(const struct dr_sigv4_request *req, const struct dr_sigv4_credentials *cred,
                  const struct dr_sigv4_params *p, struct dr_sigv4_result *out, char *err,
                  size_t errlen);

/* Frees what dr_sigv4_sign allocated and zeroes *r; idempotent. */
void dr_sigv4_result_free(struct dr_sigv4_result *r);

/* Percent-encodes `len` bytes of `s` per SigV4: everything but A-Z a-z 0-9
 * - . _ ~ (and '/' when keep_slash) becomes %XX. Use it to turn an S3 key
 * into the path to send (keep_slash=1) or a query value (0). Returns a
 * NUL-terminated string the caller frees, or NULL when out of memory or the
 * result would exceed DR_SIGV4_MAX. */
char *dr_sigv4_uri_encode(const char *s, size_t len, int keep_slash);

/* Writes the lowercase hex SHA-256 of `len` bytes at `data` into hex (NUL
 * included). 0, or -1 if OpenSSL fails. */
int dr_sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

/* Parses "20150830T123600Z" or "2015-08-30T12:36:00Z" (UTC) into *t.
 * 0, or -1 when `s` is not exactly one of those forms or not a real time. */
int dr_sigv4_parse_time(const char *s, time_t *t);

/* The signing time: the value of DBTRUN_TEST_CLOCK when set and non-empty,
 * else the current time. 0, or -1 with a message in err (may be NULL) when
 * the variable is malformed: a forced clock must never fall back silently. */
int dr_sigv4_now(time_t *t, char *err, size_t errlen);

#endif
