/* aws: dr_aws_send — one AWS call: sign with SigV4, send over http.c, retry
 * in the SDKs' modes (the quota, limiter and clock offset are retry.c's).
 * The pure pieces (retry class, backoff, log redaction) are separate
 * functions for tests. The structured error and reading AWS's error out of
 * a body are error.c's; the client itself (region, endpoints, credentials)
 * is client.c's. */
#include "dbtrun/aws.h"
#include "dbtrun/buf.h"
#include "dbtrun/dl.h"
#include "dbtrun/fs.h"
#include "dbtrun/mask.h"
#include "dbtrun/proc.h"
#include "dbtrun/retry.h"
#include "dbtrun/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BACKOFF_BASE_MS 1000L
#define QUERY_LOG_MAX 4096 /* cap on a query string shown in a log */

/* ---- retry rules ---------------------------------------------------------- */

static int in_list(const char *code, const char *const *list)
{
    for (; code && *list; list++)
        if (strcmp(code, *list) == 0)
            return 1;
    return 0;
}

enum dr_aws_retry dr_aws_retry_class(int transport_error, long status, const char *code)
{
    static const char *const throttling[] = {"Throttling",
                                             "ThrottlingException",
                                             "ThrottledException",
                                             "RequestThrottledException",
                                             "TooManyRequestsException",
                                             "ProvisionedThroughputExceededException",
                                             "TransactionInProgressException",
                                             "RequestLimitExceeded",
                                             "BandwidthLimitExceeded",
                                             "LimitExceededException",
                                             "RequestThrottled",
                                             "SlowDown",
                                             "PriorRequestNotComplete",
                                             "EC2ThrottledException",
                                             NULL};
    static const char *const transient[] = {"RequestTimeout", "RequestTimeoutException",
                                            "IDPCommunicationError", NULL};
    if (transport_error)
        return DR_AWS_RETRY_TRANSIENT;
    if (status >= 200 && status < 300)
        return DR_AWS_RETRY_NO;
    if (in_list(code, throttling))
        return DR_AWS_RETRY_THROTTLE;
    if (in_list(code, transient))
        return DR_AWS_RETRY_TRANSIENT;
    if (status == 429)
        return DR_AWS_RETRY_THROTTLE;
    if (status == 500 || status == 502 || status == 503 || status == 504)
        return DR_AWS_RETRY_TRANSIENT;
    return DR_AWS_RETRY_NO;
}

long dr_aws_backoff_ms(int retry, double random01)
{
    long ceiling = DR_AWS_MAX_BACKOFF_MS;
    if (retry < 1)
        return 0;
    if (retry - 1 < 15 && (BACKOFF_BASE_MS << (retry - 1)) < ceiling)
        ceiling = BACKOFF_BASE_MS << (retry - 1);
    if (!(random01 >= 0)) /* also NaN */
        random01 = 0;
    if (random01 >= 1)
        random01 = 0.999999;
    return (long)(random01 * (double)ceiling);
}

/* A uniform number in [0,1) from libcrypto (thread-safe, unlike random()). */
static double random01(void)
{
    unsigned char b[4];
    struct timespec ts;
    if (dr_crypto.RAND_bytes && dr_crypto.RAND_bytes(b, sizeof b) == 1)
        return (double)(((unsigned long)b[0] << 24) | ((unsigned long)b[1] << 16) |
                        ((unsigned long)b[2] << 8) | b[3]) /
               4294967296.0;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)(ts.tv_nsec % 1000000) / 1000000.0;
}

/* Sleeps in slices so that an interrupt (a signal after `signals`) cuts a
 * backoff short. */
static void sleep_ms(long ms, int signals)
{
    while (ms > 0 && dr_proc_signal_count() == signals) {
        long slice = ms < 100 ? ms : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = slice * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && dr_proc_signal_count() == signals)
            ;
        ms -= slice;
    }
}

static int interrupted(const struct dr_aws_request *r, struct dr_aws_error *err)
{
    return dr_aws_fail(err, r->op, r->target, "Interrupted", "interrupted by signal %d",
                       dr_proc_last_signal());
}

/* ---- logging -------------------------------------------------------------- */

static int is_secret_name(const char *name, size_t len)
{
    static const char *const words[] = {"signature", "credential", "token",
                                        "secret",    "password",   NULL};
    char lower[128];
    if (len >= sizeof lower)
        len = sizeof lower - 1;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[len] = '\0';
    for (const char *const *w = words; *w; w++)
        if (strstr(lower, *w))
            return 1;
    return 0;
}

char *dr_aws_query_redact(const char *query)
{
    struct dr_buf out;
    dr_buf_init(&out, 0);
    for (const char *p = query; *p;) {
        size_t plen = strcspn(p, "&");
        size_t nlen = strcspn(p, "=&");
        if (is_secret_name(p, nlen))
            dr_buf_printf(&out, "%.*s=REDACTED", (int)nlen, p);
        else
            dr_buf_add(&out, p, plen);
        p += plen;
        if (*p == '&') {
            dr_buf_puts(&out, "&");
            p++;
        }
    }
    if (out.overflowed || out.out_of_mem) {
        dr_buf_free(&out);
        return NULL;
    }
    return dr_buf_take(&out, NULL);
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* One line per attempt on stderr: never a header, a signature or a body. */
static void log_attempt(const struct dr_aws_request *r, const char *url, const char *log_query,
                        const struct dr_http_response *resp, int rc, int attempt, int of, long ms)
{
    char outcome[300];
    size_t base_len = strcspn(url, "?");
    if (rc == 0)
        snprintf(outcome, sizeof outcome, "%ld", resp->status);
    else
        snprintf(outcome, sizeof outcome, "failed: %s", resp->error);
    dr_mask_fprintf(stderr, "aws: %s %s %.*s%s%.*s -> %s (attempt %d/%d, %ld ms)\n",
                    r->op ? r->op : "", r->method, (int)base_len, url, log_query ? "?" : "",
                    log_query ? QUERY_LOG_MAX : 0, log_query ? log_query : "", outcome, attempt, of,
                    ms);
}

/* ---- sending -------------------------------------------------------------- */

struct two_digests {
    EVP_MD_CTX *md5, *sha;
};

static int update_two(void *ctx, const void *data, size_t n)
{
    struct two_digests *d = ctx;
    return (d->md5 && !dr_crypto.EVP_DigestUpdate(d->md5, data, n)) ||
           (d->sha && !dr_crypto.EVP_DigestUpdate(d->sha, data, n));
}

int dr_aws_hash_file(const char *path, long long offset, long long len, unsigned char *md5_out,
                     unsigned char *sha_out)
{
    struct two_digests d = {NULL, NULL};
    unsigned int mdlen = 0;
    int rc = -1, saved = EIO;
    char msg[160];
    if (dr_dl_crypto(msg, sizeof msg) != 0) {
        errno = EIO;
        return -1;
    }
    d.md5 = md5_out ? dr_crypto.EVP_MD_CTX_new() : NULL;
    d.sha = sha_out ? dr_crypto.EVP_MD_CTX_new() : NULL;
    if ((md5_out && !d.md5) || (sha_out && !d.sha) ||
        (d.md5 && !dr_crypto.EVP_DigestInit_ex(d.md5, dr_crypto.EVP_md5(), NULL)) ||
        (d.sha && !dr_crypto.EVP_DigestInit_ex(d.sha, dr_crypto.EVP_sha256(), NULL)))
        goto out;
    if (dr_fs_read_chunks(path, offset, len, update_two, &d) != 0) {
        saved = errno;
        goto out;
    }
    if ((d.md5 && !dr_crypto.EVP_DigestFinal_ex(d.md5, md5_out, &mdlen)) ||
        (d.sha && !dr_crypto.EVP_DigestFinal_ex(d.sha, sha_out, &mdlen)))
        goto out;
    rc = 0;
out:
    if (d.md5)
        dr_crypto.EVP_MD_CTX_free(d.md5);
    if (d.sha)
        dr_crypto.EVP_MD_CTX_free(d.sha);
    if (rc != 0)
        errno = saved;
    return rc;
}

/* Where a request goes, worked out once for all attempts. */
struct target {
    char *url;         /* base + path + "?" query */
    char *signed_path; /* the base's own path (if any) + r->path */
    char *host;        /* Host header: host[:port], the port only when not the default */
    char *log_query;   /* query with secrets redacted, or NULL */
    char payload[65];  /* hex SHA-256, UNSIGNED-PAYLOAD or another literal */
};

static void target_free(struct target *t)
{
    free(t->url);
    free(t->signed_path);
    free(t->host);
    free(t->log_query);
}

/* What a base URL says of where requests go: the Host header (host[:port],
 * the port only when not the scheme's default) and the base's own path,
 * without trailing '/'. Caller frees both. 0, or -1 when it is not a URL
 * (or out of memory). */
static int base_parse(const char *base, char **host_out, char **path_out)
{
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    CURLU *u = NULL;
    int rc = -1;
    *host_out = *path_out = NULL;
    if (!(u = dr_curl.curl_url()) || dr_curl.curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        dr_curl.curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        dr_curl.curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        dr_curl.curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    dr_curl.curl_url_get(u, CURLUPART_PORT, &port, 0); /* none when the URL gives none */
    int default_port = port && ((strcasecmp(scheme, "https") == 0 && strcmp(port, "443") == 0) ||
                                (strcasecmp(scheme, "http") == 0 && strcmp(port, "80") == 0));
    size_t path_len = strlen(path);
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    *host_out = dr_strprintf("%s%s%s", host, port && !default_port ? ":" : "",
                             port && !default_port ? port : "");
    *path_out = dr_strprintf("%.*s", (int)path_len, path);
    rc = *host_out && *path_out ? 0 : -1;
out:
    if (u) {
        dr_curl.curl_free(scheme);
        dr_curl.curl_free(host);
        dr_curl.curl_free(port);
        dr_curl.curl_free(path);
        dr_curl.curl_url_cleanup(u);
    }
    return rc;
}

/* The last base URL each thread parsed and base_parse's answer: every
 * request of a sync goes to the same base, and parsing it with curl's URL
 * API was a tenth of a small upload's CPU. Longer ones are parsed each time. */
struct base_parts {
    char base[512]; /* "" when none */
    char host[512];
    char path[512];
};

static _Thread_local struct base_parts last_base;

static void base_remember(const char *base, const char *host, const char *path)
{
    struct base_parts *bp = &last_base;
    bp->base[0] = '\0';
    if (strlen(base) >= sizeof bp->base || strlen(host) >= sizeof bp->host ||
        strlen(path) >= sizeof bp->path)
        return;
    memcpy(bp->host, host, strlen(host) + 1);
    memcpy(bp->path, path, strlen(path) + 1);
    memcpy(bp->base, base, strlen(base) + 1);
}

/* Fills t from the request. 0, or -1 with err. */
static int target_make(struct dr_aws_client *c, const struct dr_aws_request *r, struct target *t,
                       struct dr_aws_error *err)
{
    char *endpoint = NULL, *parsed_path = NULL;
    int custom = 0, rc = -1;
    const char *base = r->base_url, *base_path;
    if (!base && !(base = endpoint = dr_aws_endpoint(c, r->service, &custom))) {
        dr_aws_fail(err, r->op, r->target, "ConfigError", "no endpoint for service %s", r->service);
        goto out;
    }
    if (last_base.base[0] && strcmp(last_base.base, base) == 0) {
        base_path = last_base.path;
        if (!(t->host = strdup(last_base.host))) {
            dr_aws_fail(err, r->op, r->target, "InternalError", "out of memory");
            goto out;
        }
    } else if (base_parse(base, &t->host, &parsed_path) != 0) {
        dr_aws_fail(err, r->op, r->target, "ConfigError", "bad endpoint URL: %s", base);
        goto out;
    } else {
        base_path = parsed_path;
        base_remember(base, t->host, parsed_path);
    }
    size_t base_len = strlen(base), path_len = strlen(base_path);
    while (base_len > 0 && base[base_len - 1] == '/')
        base_len--;
    const char *query = r->query && *r->query ? r->query : NULL;
    size_t url_len = base_len + strlen(r->path) + (query ? strlen(query) + 1 : 0) + 1;
    if (!(t->url = malloc(url_len)) || !(t->signed_path = malloc(path_len + strlen(r->path) + 1)) ||
        (query && !(t->log_query = dr_aws_query_redact(query)))) {
        dr_aws_fail(err, r->op, r->target, "InternalError", "out of memory");
        goto out;
    }
    snprintf(t->url, url_len, "%.*s%s%s%s", (int)base_len, base, r->path, query ? "?" : "",
             query ? query : "");
    snprintf(t->signed_path, path_len + strlen(r->path) + 1, "%s%s", base_path, r->path);
    rc = 0;
out:
    free(parsed_path);
    free(endpoint);
    return rc;
}

/* The payload hash to sign. 0, or -1 with err. */
static int payload_hash(const struct dr_aws_request *r, struct target *t, struct dr_aws_error *err)
{
    if (r->no_auth)
        return 0;
    if (r->unsigned_payload) {
        snprintf(t->payload, sizeof t->payload, "%s", DR_SIGV4_UNSIGNED_PAYLOAD);
    } else if (r->payload_sha256) {
        snprintf(t->payload, sizeof t->payload, "%s", r->payload_sha256);
    } else if (r->body_read) { /* a produced body is streamed, never hashed first */
        return dr_aws_fail(err, r->op, r->target, "InternalError", "no payload hash");
    } else if (r->body_path) {
        unsigned char sha[32];
        if (dr_aws_hash_file(r->body_path, r->body_offset, (long long)r->body_len, NULL, sha) != 0)
            return dr_aws_fail(err, r->op, r->target, "LocalError", "cannot read %s: %s",
                               r->body_path, strerror(errno));
        dr_hex(sha, sizeof sha, t->payload);
    } else if (dr_sigv4_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, t->payload) !=
               0) {
        return dr_aws_fail(err, r->op, r->target, "InternalError", "SHA-256 failed");
    }
    return 0;
}

/* Credentials failures come back from the chain (AssumeRole, a profile...);
 * the error names this request and keeps the chain's words in the message. */
static void credentials_error(const struct dr_aws_request *r, struct dr_aws_error *err)
{
    struct dr_aws_error inner = *err;
    char text[sizeof err->message];
    if (!inner.code[0])
        snprintf(inner.code, sizeof inner.code, "CredentialsError");
    if (inner.op[0] && (!r->op || strcmp(inner.op, r->op) != 0)) {
        dr_aws_error_format(&inner, text, sizeof text);
        inner.status = 0;
    } else {
        snprintf(text, sizeof text, "%s", inner.message[0] ? inner.message : "no credentials");
    }
    dr_aws_fail(err, r->op, r->target, inner.code, "%s", text);
    snprintf(err->request_id, sizeof err->request_id, "%s", inner.request_id);
}

/* Signs the request with the client's credentials (resolving them on first
 * use): the headers to add are in *sig. 0, or -1 with err. */
static int sign(struct dr_aws_client *c, const struct dr_aws_request *r, const struct target *t,
                const struct dr_sigv4_header *sign_headers, struct dr_sigv4_result *sig,
                time_t *signed_at, struct dr_aws_error *err)
{
    const struct dr_aws_credentials *cred = dr_aws_credentials_get(c, err);
    char msg[256];
    time_t now;
    if (!cred) {
        credentials_error(r, err);
        return -1;
    }
    if (dr_sigv4_now(&now, msg, sizeof msg) != 0)
        return dr_aws_fail(err, r->op, r->target, "ConfigError", "%s", msg);
    /* a server that found our clock wrong set the offset (see skew_retry) */
    now += dr_retry_skew(dr_aws_client_retry(c));
    *signed_at = now;
    struct dr_sigv4_credentials sc = {cred->access_key_id, cred->secret_access_key,
                                      cred->session_token};
    struct dr_sigv4_request sr = {.method = r->method,
                                  .path = t->signed_path,
                                  .query = r->query,
                                  .headers = sign_headers,
                                  .nheaders = r->nheaders + 1,
                                  .payload_sha256 = t->payload};
    struct dr_sigv4_params sp = {.region = dr_aws_signing_region(c, r->service),
                                 .service = r->service,
                                 .time = now,
                                 .flags = r->s3 ? DR_SIGV4_S3 : 0};
    if (dr_sigv4_sign(&sr, &sc, &sp, sig, msg, sizeof msg) != 0)
        return dr_aws_fail(err, r->op, r->target, "InternalError", "cannot sign: %s", msg);
    return 0;
}

static double monotonic_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* An answer saying our clock is wrong, with a Date far from the time we
 * signed with: keeps the server's offset for the client and says to send
 * again at once (once per request, outside the attempts and the quota: the
 * failed attempt was the clock's fault, not the service's). */
static int skew_retry(struct dr_aws_client *c, const struct dr_aws_request *r,
                      const struct dr_http_response *resp, const struct dr_aws_error *err,
                      time_t signed_at, int verbose)
{
    struct dr_retry_state *rs = dr_aws_client_retry(c);
    long delta;
    if (r->no_auth || !rs ||
        !dr_retry_clock_skewed(err->code, dr_http_header_get(resp, "date"), signed_at, &delta))
        return 0;
    dr_retry_skew_set(rs, dr_retry_skew(rs) + delta);
    if (verbose > 0)
        dr_mask_fprintf(stderr,
                        "aws: %s: %s: the server's clock is %ld s %s ours; signing again "
                        "with its time\n",
                        r->op ? r->op : r->method, err->code, labs(delta),
                        delta > 0 ? "ahead of" : "behind");
    return 1;
}

/* Whether a failed attempt is retried: its class, the attempts left and the
 * quota. 1 with *cost (what the quota paid), or 0. */
static int retry_allowed(struct dr_aws_client *c, const struct dr_aws_request *r,
                         enum dr_aws_retry kind, int no_answer, int n, int max_attempts,
                         int verbose, int *cost)
{
    if (kind == DR_AWS_RETRY_NO || n >= max_attempts)
        return 0;
    if ((*cost = dr_retry_quota_take(dr_aws_client_retry(c), no_answer)) > 0)
        return 1;
    if (verbose > 0)
        dr_mask_fprintf(stderr, "aws: %s: the retry quota is used up; not retrying\n",
                        r->op ? r->op : r->method);
    return 0;
}

/* Adaptive mode: waits for the client-side rate limiter before an attempt. */
static void rate_limit(struct dr_aws_client *c, int no_sleep, int signals)
{
    double wait = dr_retry_rate_wait(dr_aws_client_retry(c), monotonic_s());
    if (wait > 0 && !no_sleep)
        sleep_ms((long)(wait * 1000), signals);
}

/* The headers of r for curl (Host first) and for the signer, with room in
 * *headers for what the signer adds. 0 with both set (caller frees both,
 * also on failure), or -1 with err. */
static int request_headers(const struct dr_aws_request *r, const struct target *t,
                           struct dr_http_header **headers, struct dr_sigv4_header **sign_headers,
                           size_t *n, struct dr_aws_error *err)
{
    if (r->nheaders >= DR_SIGV4_MAX_HEADERS)
        return dr_aws_fail(err, r->op, r->target, "InvalidArgument", "too many headers");
    if (!(*headers = calloc(r->nheaders + 1 + DR_SIGV4_ADD_MAX, sizeof **headers)) ||
        !(*sign_headers = calloc(r->nheaders + 1, sizeof **sign_headers)))
        return dr_aws_fail(err, r->op, r->target, "InternalError", "out of memory");
    *n = 0;
    (*headers)[(*n)++] = (struct dr_http_header){"Host", t->host};
    (*sign_headers)[0] = (struct dr_sigv4_header){"host", t->host};
    for (size_t i = 0; i < r->nheaders; i++) {
        (*headers)[(*n)++] = r->headers[i];
        (*sign_headers)[i + 1] = (struct dr_sigv4_header){r->headers[i].name, r->headers[i].value};
    }
    return 0;
}

/* The HTTP request of one attempt, with the client's timeouts. */
static struct dr_http_request http_request(struct dr_aws_client *c, const struct dr_aws_request *r,
                                           const struct target *t,
                                           const struct dr_http_header *headers, size_t n,
                                           const int *signals)
{
    struct dr_http_request hr = {.method = r->method,
                                 .url = t->url,
                                 .headers = headers,
                                 .nheaders = n,
                                 .body = r->body,
                                 .body_len = r->body_len,
                                 .body_path = r->body_path,
                                 .body_offset = r->body_offset,
                                 .body_read = r->body_read,
                                 .body_read_ctx = r->body_read_ctx,
                                 .progress_len = r->progress_len,
                                 .out_path = r->out_path,
                                 .out_fd = r->out_fd,
                                 .out_offset = r->out_offset,
                                 .signals = signals,
                                 .on_bytes = r->on_bytes,
                                 .on_bytes_ctx = r->on_bytes_ctx,
                                 .on_headers = r->on_headers,
                                 .on_headers_ctx = r->on_headers_ctx};
    long connect_ms, read_s;
    dr_aws_client_timeouts(c, &connect_ms, &read_s);
    hr.connect_timeout_ms = connect_ms == DR_AWS_TIMEOUT_NONE ? -1 : connect_ms;
    hr.low_speed_time_s = read_s == DR_AWS_TIMEOUT_NONE ? -1 : read_s;
    return hr;
}

/* Signs and sends one attempt. 0 when a response arrived (any status), -1
 * with err when none did or the request could not be made. *fatal is set
 * when the failure is not worth retrying; *signed_at is the signing time. */
static int attempt(struct dr_aws_client *c, const struct dr_aws_request *r, const struct target *t,
                   const int *signals, struct dr_http_response *resp, struct dr_aws_error *err,
                   int *fatal, time_t *signed_at)
{
    struct dr_sigv4_result sig = {0};
    struct dr_sigv4_header *sign_headers = NULL;
    struct dr_http_header *headers = NULL;
    size_t n = 0;
    int rc = -1;
    *fatal = 1;
    if (request_headers(r, t, &headers, &sign_headers, &n, err) != 0)
        goto out;
    if (!r->no_auth) {
        if (sign(c, r, t, sign_headers, &sig, signed_at, err) != 0)
            goto out;
        for (size_t i = 0; i < sig.nadd; i++)
            headers[n++] = (struct dr_http_header){sig.add[i].name, sig.add[i].value};
    }
    struct dr_http_request hr = http_request(c, r, t, headers, n, signals);
    if (dr_http_perform(&hr, resp) != 0) {
        if (resp->interrupted) {
            interrupted(r, err);
            goto out;
        }
        *fatal = !resp->transport_error;
        dr_aws_fail(err, r->op, r->target, resp->transport_error ? "NetworkError" : "LocalError",
                    "%s", resp->error);
        goto out;
    }
    *fatal = 0;
    rc = 0;
out:
    dr_sigv4_result_free(&sig);
    free(sign_headers);
    free(headers);
    return rc;
}

/* After a failed attempt (sent: 0 when AWS answered): how to retry, with
 * err filled from AWS's answer when there is one. */
static enum dr_aws_retry retry_kind(int sent, const struct dr_aws_request *r,
                                    const struct dr_http_response *resp, struct dr_aws_error *err)
{
    if (sent != 0)
        return dr_aws_retry_class(1, 0, NULL);
    dr_aws_error_parse(resp, r->method, err);
    return dr_aws_retry_class(0, resp->status, err->code);
}

/* The wait before attempt n + 1: the SDKs' jittered backoff (none with
 * DR_AWS_BACKOFF_ENV=1, for tests), cut short by a signal. */
static void back_off(const struct dr_aws_request *r, int n, enum dr_aws_retry kind, int verbose,
                     int no_sleep, int signals)
{
    long wait = no_sleep ? 0 : dr_aws_backoff_ms(n, random01());
    if (verbose > 0)
        dr_mask_fprintf(stderr, "aws: %s: %s, retrying in %ld ms\n", r->op ? r->op : r->method,
                        kind == DR_AWS_RETRY_THROTTLE ? "throttled" : "transient failure", wait);
    sleep_ms(wait, signals);
}

/* A failure always names the operation and target, and has a code. */
static void name_failure(const struct dr_aws_request *r, struct dr_aws_error *err)
{
    snprintf(err->op, sizeof err->op, "%s", r->op ? r->op : "");
    snprintf(err->target, sizeof err->target, "%s", r->target ? r->target : "");
    if (!err->code[0])
        snprintf(err->code, sizeof err->code, "InternalError");
}

int dr_aws_send(struct dr_aws_client *c, const struct dr_aws_request *r,
                struct dr_http_response *resp, struct dr_aws_error *err)
{
    struct target t;
    char msg[DR_DL_ERRLEN];
    int rc = -1, verbose = c ? dr_aws_client_verbose(c) : 0;
    const char *no_backoff = getenv(DR_AWS_BACKOFF_ENV);
    int no_sleep = no_backoff && strcmp(no_backoff, "1") == 0;
    int last_cost = 0, skew_fixed = 0; /* what the quota paid for the last retry */
    int signals = r->signals ? *r->signals : dr_proc_signal_count();
    int max_attempts = dr_aws_client_max_attempts(c);
    memset(&t, 0, sizeof t);
    memset(resp, 0, sizeof *resp);
    memset(err, 0, sizeof *err);
    if (!r->method || !r->service || !r->path || r->path[0] != '/' || (!c && !r->no_auth) ||
        (!c && !r->base_url)) {
        dr_aws_fail(err, r->op, r->target, "InvalidArgument", "incomplete request");
        goto out;
    }
    if (dr_dl_curl(msg, sizeof msg) != 0 || dr_dl_crypto(msg, sizeof msg) != 0) {
        dr_aws_fail(err, r->op, r->target, "InternalError", "%s", msg);
        goto out;
    }
    if (target_make(c, r, &t, err) != 0 || payload_hash(r, &t, err) != 0)
        goto out;
    for (int n = 1; n <= max_attempts; n++) {
        struct timespec start;
        enum dr_aws_retry kind;
        int fatal;
        time_t signed_at = 0;
        dr_http_response_free(resp);
        if (dr_proc_signal_count() != signals) { /* never a (re)try after an interrupt */
            interrupted(r, err);
            goto out;
        }
        rate_limit(c, no_sleep, signals);
        clock_gettime(CLOCK_MONOTONIC, &start);
        int sent = attempt(c, r, &t, &signals, resp, err, &fatal, &signed_at);
        if (verbose > 0 && (sent == 0 || !fatal))
            log_attempt(r, t.url, t.log_query, resp, sent, n, max_attempts, elapsed_ms(&start));
        if (sent != 0 && fatal)
            goto out;
        if (sent == 0 && resp->status >= 200 && resp->status < 300) {
            memset(err, 0, sizeof *err); /* no trace of the failed attempts */
            dr_retry_rate_answer(dr_aws_client_retry(c), 0, monotonic_s());
            dr_retry_quota_success(dr_aws_client_retry(c), last_cost);
            rc = 0;
            goto out;
        }
        kind = retry_kind(sent, r, resp, err);
        dr_retry_rate_answer(dr_aws_client_retry(c), kind == DR_AWS_RETRY_THROTTLE, monotonic_s());
        if (sent == 0 && !skew_fixed && skew_retry(c, r, resp, err, signed_at, verbose)) {
            skew_fixed = 1;
            n--;
            continue;
        }
        if (!retry_allowed(c, r, kind, sent != 0, n, max_attempts, verbose, &last_cost))
            goto out;
        back_off(r, n, kind, verbose, no_sleep, signals);
    }
out:
    if (rc != 0)
        name_failure(r, err);
    target_free(&t);
    return rc;
}
