/* aws: what every AWS service client shares — the structured error, the
 * client (region, profile, endpoints, credentials), and dr_aws_send: sign
 * with SigV4, send over http.c, retry in AWS "standard" mode, and turn an
 * error body (XML or JSON) into a dr_aws_error. */
#ifndef DR_AWS_H
#define DR_AWS_H

#include "dbtrun/http.h"

#include <stddef.h>
#include <time.h>

/* An AWS failure as users see it: "GetObject s3://b/k: NoSuchKey (404): The
 * specified key does not exist. (request id X)". Codes dbtrun makes itself:
 * NetworkError, CredentialsError, ConfigError, InvalidArgument, Interrupted
 * (a SIGINT/SIGTERM/SIGHUP arrived: nothing is retried after one). */
struct dr_aws_error {
    char op[64];          /* operation: GetObject, AssumeRole, GetSecretValue */
    char target[512];     /* what it acted on: s3://bucket/key, a secret id */
    int status;           /* HTTP status, 0 if no response */
    char code[128];       /* AWS's error code */
    char message[1024];   /* AWS's message, or dbtrun's */
    char request_id[128]; /* x-amz-request-id / RequestId, if any */
};

/* Fills e; fmt formats the message. Returns -1 so callers can `return dr_aws_fail(...)`. */
int dr_aws_fail(struct dr_aws_error *e, const char *op, const char *target, const char *code,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The one-line text of e (as above) into buf. */
void dr_aws_error_format(const struct dr_aws_error *e, char *buf, size_t len);

struct dr_aws_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when none */
    time_t expiration;   /* 0: does not expire */
    char provider[64];   /* which source supplied them: "environment", "profile:x", ... */
};

void dr_aws_credentials_free(struct dr_aws_credentials *c);

/* How a client is asked for: each NULL field falls back to the environment
 * and the shared config files, as the SDKs do. */
struct dr_aws_client_opts {
    const char *profile;
    const char *region;
    const char *endpoint_url; /* overrides every service's endpoint */
    int verbose;              /* >0: log each request (never a secret) to stderr */
    int max_attempts;         /* 0: AWS_MAX_ATTEMPTS, the profile's max_attempts, 3 (5 in
                                 legacy mode: AWS_RETRY_MODE / retry_mode) */
    long connect_timeout_ms;  /* 0: 10 s; DR_AWS_TIMEOUT_NONE: none */
    long read_timeout_s;      /* no byte for this long ends an attempt; 0: 60 s;
                                 DR_AWS_TIMEOUT_NONE: none */
};

struct dr_aws_client; /* opaque: region, profile, endpoints, cached credentials */

/* Creates a client; nothing is read from the network yet. 0, or -1 with err. */
int dr_aws_client_new(const struct dr_aws_client_opts *opts, struct dr_aws_client **out,
                      struct dr_aws_error *err);

void dr_aws_client_free(struct dr_aws_client *c);

/* The client's region (never NULL after a successful new: "us-east-1" when
 * nothing says otherwise). */
const char *dr_aws_client_region(const struct dr_aws_client *c);

/* The base URL (scheme://host[:port], no trailing slash) for `service`
 * ("s3", "sts", "secretsmanager", "cloudfront"), after the overrides
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's endpoint_url
 * and --endpoint-url. Caller frees. *custom is set when it was overridden. */
char *dr_aws_endpoint(const struct dr_aws_client *c, const char *service, int *custom);

/* The region to sign requests to `service` with: the client's region, but
 * "us-east-1" for global services (CloudFront). Borrowed from the client. */
const char *dr_aws_signing_region(const struct dr_aws_client *c, const char *service);

/* How many attempts dr_aws_send makes (and GetObject makes for a body that
 * fails its checksum). */
int dr_aws_client_max_attempts(const struct dr_aws_client *c);

struct dr_retry_state;

/* The client's retry state (see retry.h): its mode, retry quota, adaptive
 * limiter and clock offset, shared with the clients derived from it. NULL
 * for c NULL. Borrowed. */
struct dr_retry_state *dr_aws_client_retry(const struct dr_aws_client *c);

/* The client's opts->connect_timeout_ms and read_timeout_s (c may be NULL:
 * both 0, the defaults). */
void dr_aws_client_timeouts(const struct dr_aws_client *c, long *connect_ms, long *read_s);

/* The client's opts->verbose: >0 makes dr_aws_send log each attempt. */
int dr_aws_client_verbose(const struct dr_aws_client *c);

/* Current credentials (resolved on first use through the chain, refreshed
 * before they expire). The pointer stays owned by the client. */
const struct dr_aws_credentials *dr_aws_credentials_get(struct dr_aws_client *c,
                                                        struct dr_aws_error *err);

struct dr_aws_request {
    const char *service; /* signing name and endpoint key: "s3", "sts", ... */
    const char *op;      /* for errors and -v logs */
    const char *target;  /* for errors */
    const char *method;
    const char *base_url;                 /* NULL: dr_aws_endpoint(service) */
    const char *path;                     /* percent-encoded, starts with "/" */
    const char *query;                    /* percent-encoded, no "?"; NULL for none */
    const struct dr_http_header *headers; /* extra headers (content-type, x-amz-target...) */
    size_t nheaders;
    const void *body; /* body in memory, or */
    size_t body_len;
    const char *body_path; /* ... streamed from a file (body_len bytes at body_offset) */
    long long body_offset;
    /* ... or produced (see http.h: body_len is then the Content-Length and
     * progress_len the payload), with payload_sha256 a literal saying how */
    long (*body_read)(void *ctx, char *buf, size_t n, long long offset, char *why, size_t why_len);
    void *body_read_ctx;
    long long progress_len;
    const char *payload_sha256; /* hex, or what to sign instead (S3's
                                   STREAMING-UNSIGNED-PAYLOAD-TRAILER), or NULL
                                   to compute from body/body_path */
    const char *out_path;       /* 2xx body into this file (see http.h) */
    const int *out_fd;          /* or into this open file at out_offset (see http.h) */
    long long out_offset;
    int s3;               /* S3 signing rules */
    int unsigned_payload; /* sign UNSIGNED-PAYLOAD (S3 streaming) */
    int no_auth;          /* send unsigned (AssumeRoleWithWebIdentity) */
    const int *signals;   /* see http.h; NULL: the count when dr_aws_send starts */
    void (*on_bytes)(void *ctx, long long done, long long total); /* see http.h */
    void *on_bytes_ctx;
    int (*on_headers)(void *ctx, const struct dr_http_response *resp, char *why,
                      size_t len); /* see http.h: each attempt's 2xx headers */
    void *on_headers_ctx;
};

/* Signs and sends `r`, retrying throttling, 5xx, 429 and transport errors up
 * to the client's attempts (dr_aws_client_max_attempts) with exponential backoff and full jitter,
 * while the client's retry quota pays for them (standard and adaptive modes; adaptive also waits
 * for its rate limiter before each attempt). An answer that says the clock is wrong, with a Date
 * far from ours, is sent again once at once, signed with the server's time (the offset stays with
 * the client).
 * Returns 0 on a 2xx response (resp holds it; caller frees with dr_http_response_free), else -1
 * with err filled from AWS's error body (resp still holds the last response). */
int dr_aws_send(struct dr_aws_client *c, const struct dr_aws_request *r,
                struct dr_http_response *resp, struct dr_aws_error *err);

/* ---- the pure pieces of dr_aws_send, exposed for tests -------------------- */

#define DR_AWS_MAX_ATTEMPTS 3     /* the default; see dr_aws_client_opts */
#define DR_AWS_LEGACY_ATTEMPTS 5  /* the default in legacy retry mode (the aws CLI's) */
#define DR_AWS_ATTEMPTS_LIMIT 100 /* the most a setting may ask for */
#define DR_AWS_CONNECT_TIMEOUT_MS 10000L
#define DR_AWS_READ_TIMEOUT_S 60L
#define DR_AWS_TIMEOUT_NONE (-1L) /* a timeout option that means "wait forever" */
#define DR_AWS_MAX_BACKOFF_MS 20000L
#define DR_AWS_BACKOFF_ENV "DBTRUN_TEST_NO_BACKOFF" /* "1": retries do not sleep */

enum dr_aws_retry {
    DR_AWS_RETRY_NO,        /* success, or a failure that retrying cannot fix */
    DR_AWS_RETRY_TRANSIENT, /* connection error, 5xx, RequestTimeout... */
    DR_AWS_RETRY_THROTTLE,  /* 429, Throttling, SlowDown... */
};

/* How the SDKs' standard mode treats an attempt that ended with
 * `transport_error` set, or with HTTP `status` and AWS error `code` (may be
 * NULL or ""). 2xx is DR_AWS_RETRY_NO. */
enum dr_aws_retry dr_aws_retry_class(int transport_error, long status, const char *code);

/* Milliseconds to wait before retry number `retry` (1 after the first
 * attempt), the SDKs' standard mode with full jitter:
 * random01 (in [0,1)) * min(1 s * 2^(retry-1), 20 s). */
long dr_aws_backoff_ms(int retry, double random01);

/* Fills e->code, e->message, e->request_id (and e->status) from a non-2xx
 * response: an XML <Error> (S3, STS, CloudFront...), a JSON body with
 * __type/code and message (the json protocols; "prefix#Name" gives "Name"),
 * or headers alone (x-amzn-errortype, x-amz-request-id, x-amzn-requestid).
 * Without a code: "NotFound" for a 404 to HEAD, "PermanentRedirect" naming
 * the region for a 301 with x-amz-bucket-region, else "Http<status>"; the
 * reason phrase is the message when there is none. op and target are left
 * alone. */
void dr_aws_error_parse(const struct dr_http_response *resp, const char *method,
                        struct dr_aws_error *e);

/* A query string fit for logs: values of parameters whose names mention
 * signature, credential, token, secret or password become "REDACTED".
 * Caller frees; NULL when out of memory. */
char *dr_aws_query_redact(const char *query);

/* MD5 and/or SHA-256 (binary; either output may be NULL) of `len` bytes of
 * the file at `offset` (len < 0: to the end), from one read, for Content-MD5,
 * ETags and payload signatures. 0, or -1 with errno (EIO when the file is
 * shorter than asked or libcrypto fails). */
int dr_aws_hash_file(const char *path, long long offset, long long len, unsigned char *md5_out,
                     unsigned char *sha_out);

#endif
