/* cloudfront: CreateInvalidation, GetInvalidation and the "invalidation
 * completed" waiter over REST-XML through dr_aws_send and xml.h. Arguments
 * are checked here, before anything is signed, so that a typo fails fast
 * with InvalidArgument instead of a distant 404. */
#include "dbtrun/cloudfront.h"
#include "dbtrun/buf.h"
#include "dbtrun/dl.h"
#include "dbtrun/xml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ID_MAX 128 /* real ids have 13-14 characters; the cap keeps paths short */
#define PATH_PREFIX "/" DR_CLOUDFRONT_VERSION "/distribution/"

static const struct dr_http_header xml_headers[] = {
    {"Content-Type", "application/xml"},
};

/* Distribution and invalidation ids are upper-case letters and digits: such
 * an id can go into the request path as it is. */
static int valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > ID_MAX)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

/* 0, or -1 with err (InvalidArgument) naming the first bad id. */
static int check_ids(const char *op, const char *dist, const char *id, struct dr_aws_error *err)
{
    if (!valid_id(dist))
        return dr_aws_fail(err, op, dist, "InvalidArgument",
                           "bad distribution id \"%.64s\": want upper-case letters and digits",
                           dist ? dist : "");
    if (id != NULL && !valid_id(id))
        return dr_aws_fail(err, op, dist, "InvalidArgument",
                           "bad invalidation id \"%.64s\": want upper-case letters and digits", id);
    return 0;
}

/* Paths must start with '/'; control characters cannot be written in XML 1.0. */
static int check_paths(const char *dist, const char *const *paths, size_t npaths,
                       struct dr_aws_error *err)
{
    if (npaths == 0 || !paths)
        return dr_aws_fail(err, "CreateInvalidation", dist, "InvalidArgument", "no paths");
    for (size_t i = 0; i < npaths; i++) {
        const char *p = paths[i];
        if (!p || p[0] != '/')
            return dr_aws_fail(err, "CreateInvalidation", dist, "InvalidArgument",
                               "path \"%.256s\" does not start with '/'", p ? p : "");
        for (; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return dr_aws_fail(err, "CreateInvalidation", dist, "InvalidArgument",
                                   "path %zu holds a control character", i + 1);
    }
    return 0;
}

static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '&' ? 5 : (*s == '<' || *s == '>') ? 4 : 1;
    return n;
}

/* Writes s XML-escaped at o; returns the end. */
static char *put_escaped(char *o, const char *s)
{
    for (; *s; s++) {
        const char *rep = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : NULL;
        if (rep) {
            memcpy(o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            *o++ = *s;
        }
    }
    return o;
}

static char *put_text(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

char *dr_cloudfront_batch_xml(const char *const *paths, size_t npaths, const char *caller_reference)
{
    static const char head[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/" DR_CLOUDFRONT_VERSION
        "/\"><Paths><Quantity>";
    static const char items[] = "</Quantity><Items>", path_open[] = "<Path>",
                      path_close[] = "</Path>", ref_open[] = "</Items></Paths><CallerReference>",
                      tail[] = "</CallerReference></InvalidationBatch>";
    char quantity[32];
    snprintf(quantity, sizeof quantity, "%zu", npaths);
    /* sized once: the body never grows, so it needs no cap of its own */
    size_t len = strlen(head) + strlen(quantity) + strlen(items) + strlen(ref_open) +
                 escaped_len(caller_reference) + strlen(tail) + 1;
    for (size_t i = 0; i < npaths; i++)
        len += strlen(path_open) + escaped_len(paths[i]) + strlen(path_close);
    char *body = malloc(len), *o = body;
    if (!body)
        return NULL;
    o = put_text(o, head);
    o = put_text(o, quantity);
    o = put_text(o, items);
    for (size_t i = 0; i < npaths; i++) {
        o = put_text(o, path_open);
        o = put_escaped(o, paths[i]);
        o = put_text(o, path_close);
    }
    o = put_text(o, ref_open);
    o = put_escaped(o, caller_reference);
    o = put_text(o, tail);
    *o = '\0';
    return body;
}

/* Fills b with n random bytes: libcrypto, else /dev/urandom, else the clock
 * (the time and pid in the reference keep it unique enough then). */
static void random_bytes(unsigned char *b, size_t n)
{
    char msg[128];
    if (dr_dl_crypto(msg, sizeof msg) == 0 && dr_crypto.RAND_bytes &&
        dr_crypto.RAND_bytes(b, (int)n) == 1)
        return;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, b, n);
        close(fd);
        if (got == (ssize_t)n)
            return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(ts.tv_nsec >> (8 * (i % 4)));
}

/* "dbtrun-<unix time>-<pid>-<16 hex digits>": CloudFront treats a repeated
 * reference as the same request, so each call needs its own (while the
 * retries inside dr_aws_send reuse it and stay idempotent). */
static void caller_reference(char *buf, size_t len)
{
    unsigned char r[8];
    char hex[2 * sizeof r + 1];
    random_bytes(r, sizeof r);
    dr_hex(r, sizeof r, hex);
    snprintf(buf, len, "dbtrun-%lld-%ld-%s", (long long)time(NULL), (long)getpid(), hex);
}

/* Reads <Invalidation><Id> and <Status> from a response body into *id and
 * *status (either may be NULL when not wanted; caller frees). 0, or -1 with err. */
static int parse_invalidation(const char *op, const char *dist, const struct dr_http_response *resp,
                              char **id, char **status, struct dr_aws_error *err)
{
    struct dr_xml_node *root = NULL;
    const struct dr_xml_node *inv;
    const char *v_id, *v_status;
    char msg[160];
    int rc = -1;
    if (dr_xml_parse(resp->body, resp->body_len, &root, msg, sizeof msg) != 0) {
        dr_aws_fail(err, op, dist, "InvalidResponse", "unreadable CloudFront answer: %s", msg);
        goto out;
    }
    inv = strcmp(root->name, "Invalidation") == 0 ? root : dr_xml_descendant(root, "Invalidation");
    v_id = dr_xml_text(inv, "Id");
    v_status = dr_xml_text(inv, "Status");
    if (!v_id || !*v_id || !v_status || !*v_status) {
        dr_aws_fail(err, op, dist, "InvalidResponse", "CloudFront answer without Id or Status");
        goto out;
    }
    if ((id && !(*id = strdup(v_id))) || (status && !(*status = strdup(v_status)))) {
        dr_aws_fail(err, op, dist, "InternalError", "out of memory");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        if (id) {
            free(*id);
            *id = NULL;
        }
        if (status) {
            free(*status);
            *status = NULL;
        }
    }
    dr_xml_free(root);
    return rc;
}

int dr_cloudfront_invalidate(struct dr_aws_client *c, const char *dist, const char *const *paths,
                             size_t npaths, char **id, char **status, struct dr_aws_error *err)
{
    static const char op[] = "CreateInvalidation";
    struct dr_http_response resp = {0};
    char ref[96], path[sizeof PATH_PREFIX + ID_MAX + 16], *body = NULL;
    int rc = -1;
    *id = NULL;
    if (status)
        *status = NULL;
    if (check_ids(op, dist, NULL, err) != 0 || check_paths(dist, paths, npaths, err) != 0)
        return -1;
    caller_reference(ref, sizeof ref);
    if (!(body = dr_cloudfront_batch_xml(paths, npaths, ref))) {
        dr_aws_fail(err, op, dist, "InternalError", "out of memory");
        goto out;
    }
    snprintf(path, sizeof path, PATH_PREFIX "%s/invalidation", dist);
    struct dr_aws_request r = {.service = "cloudfront",
                               .op = op,
                               .target = dist,
                               .method = "POST",
                               .path = path,
                               .headers = xml_headers,
                               .nheaders = sizeof xml_headers / sizeof xml_headers[0],
                               .body = body,
                               .body_len = strlen(body)};
    if (dr_aws_send(c, &r, &resp, err) != 0)
        goto out;
    rc = parse_invalidation(op, dist, &resp, id, status, err);
out:
    dr_http_response_free(&resp);
    free(body);
    return rc;
}

int dr_cloudfront_status(struct dr_aws_client *c, const char *dist, const char *id, char **status,
                         struct dr_aws_error *err)
{
    static const char op[] = "GetInvalidation";
    struct dr_http_response resp = {0};
    char path[sizeof PATH_PREFIX + 2 * ID_MAX + 16];
    int rc = -1;
    *status = NULL;
    if (check_ids(op, dist, id ? id : "", err) != 0)
        return -1;
    snprintf(path, sizeof path, PATH_PREFIX "%s/invalidation/%s", dist, id);
    struct dr_aws_request r = {
        .service = "cloudfront", .op = op, .target = dist, .method = "GET", .path = path};
    if (dr_aws_send(c, &r, &resp, err) == 0)
        rc = parse_invalidation(op, dist, &resp, NULL, status, err);
    dr_http_response_free(&resp);
    return rc;
}

static long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int dr_cloudfront_wait(struct dr_aws_client *c, const char *dist, const char *id,
                       int timeout_seconds, int poll_seconds, struct dr_aws_error *err)
{
    static const char op[] = "GetInvalidation";
    char *status = NULL;
    if (timeout_seconds < 0 || poll_seconds < 0)
        return dr_aws_fail(err, op, dist, "InvalidArgument", "negative timeout or poll interval");
    if (timeout_seconds == 0)
        timeout_seconds = DR_CLOUDFRONT_WAIT_DEFAULT;
    if (poll_seconds == 0)
        poll_seconds = DR_CLOUDFRONT_POLL_DEFAULT;
    long long deadline = monotonic_ms() + 1000LL * timeout_seconds;
    for (;;) {
        if (dr_cloudfront_status(c, dist, id, &status, err) != 0)
            return -1;
        /* AWS says "Completed"; moto says "COMPLETED" */
        if (strcasecmp(status, "Completed") == 0)
            break;
        long long left = deadline - monotonic_ms();
        if (left <= 0) {
            dr_aws_fail(err, op, dist, "Timeout", "invalidation %s is still %.64s after %d s", id,
                        status, timeout_seconds);
            free(status);
            return -1;
        }
        free(status);
        status = NULL;
        sleep_ms(left < 1000LL * poll_seconds ? left : 1000LL * poll_seconds);
    }
    free(status);
    return 0;
}
