/* Tests of http.c against a scripted loopback server (loopback.h): methods
 * and bodies as they go on the wire, keep-alive, headers, bodies into files
 * and memory caps, HEAD, and the transport failures (refused, timeout,
 * connection dropped mid-body). Skips when libcurl or sockets are missing. */
#include "harness.h"
#include "loopback.h"

#include "dbtrun/dl.h"
#include "dbtrun/http.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

static int ready;
static char url[256];
static char dir[] = "/tmp/dbtrun-test-http-XXXXXX";

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts the script and points `url` at it; 0, or -1 to skip. */
static int start(struct lb_server *lb, const struct lb_step *steps, size_t n)
{
    if (!ready || lb_start(lb, steps, n) != 0)
        return -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", lb->port);
    return 0;
}

static void stop(struct lb_server *lb)
{
    dr_http_cleanup(); /* no connection to this server survives into the next test */
    lb_stop(lb);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(4u << 20);
    *len = 0;
    if (f && buf)
        *len = fread(buf, 1, (4u << 20) - 1, f);
    if (f)
        fclose(f);
    if (buf)
        buf[*len] = '\0';
    return buf;
}

/* Whether the echoed request head has a header `name` (any case). */
static int has_header(const char *echo, const char *name)
{
    const char *end = strstr(echo, "\r\n\r\n");
    size_t n = strlen(name);
    for (const char *line = strstr(echo, "\r\n"); line && end && line < end;
         line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, name, n) == 0 && line[2 + n] == ':')
            return 1;
    return 0;
}

/* The echoed body (after the request head). */
static const char *echo_body(const char *echo)
{
    const char *end = strstr(echo, "\r\n\r\n");
    return end ? end + 4 : "";
}

static void test_setup(void)
{
    char err[256];
    setenv("no_proxy", "*", 1); /* loopback tests never go through a proxy */
    unsetenv("AWS_CA_BUNDLE");
    ready = dr_dl_curl(err, sizeof err) == 0 && mkdtemp(dir) != NULL;
    if (!ready)
        printf("test_http: skipped (%s)\n", err);
}

static void test_get_echo_and_keepalive(void)
{
    static const struct lb_step steps[] = {{LB_ECHO, NULL}, {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0}, again = {0};
    char want_host[64], full[320];
    if (start(&lb, steps, 2) != 0)
        return;
    struct dr_http_header h[] = {{"X-Test", "one two"}, {"X-Empty", ""}};
    snprintf(full, sizeof full, "%s/a%%20b/../c?x=1&y=%%2F", url);
    struct dr_http_request req = {.method = "GET", .url = full, .headers = h, .nheaders = 2};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.status == 200);
    CHECK(resp.body != NULL);
    if (resp.body) {
        /* the path goes as given: no dot-segment squashing */
        CHECK(strncmp(resp.body, "GET /a%20b/../c?x=1&y=%2F HTTP/1.1\r\n", 36) == 0);
        snprintf(want_host, sizeof want_host, "\r\nHost: 127.0.0.1:%d\r\n", lb.port);
        CHECK(strstr(resp.body, want_host) != NULL);
        CHECK(strstr(resp.body, "\r\nX-Test: one two\r\n") != NULL);
        CHECK(strstr(resp.body, "\r\nX-Empty:") != NULL);
        CHECK(strstr(resp.body, "\r\nUser-Agent: dbtrun/") != NULL);
        CHECK(!has_header(resp.body, "expect"));
    }
    CHECK_STR(dr_http_header_get(&resp, "x-conn"), "1");
    CHECK_STR(dr_http_header_get(&resp, "X-REQ"), "1");
    CHECK(resp.transport_error == 0 && resp.error[0] == '\0');
    /* the same connection serves the second request */
    CHECK(dr_http_perform(&req, &again) == 0);
    CHECK_STR(dr_http_header_get(&again, "x-conn"), "1");
    CHECK_STR(dr_http_header_get(&again, "x-req"), "2");
    dr_http_response_free(&resp);
    dr_http_response_free(&again);
    CHECK(resp.body == NULL && resp.nheaders == 0);
    stop(&lb);
}

static void write_test_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; f && i < size; i++)
        fputc('a' + (int)(i % 26), f);
    if (f)
        fclose(f);
}

static void test_put_and_post_bodies(void)
{
    static const struct lb_step steps[] = {
        {LB_ECHO, NULL}, {LB_ECHO, NULL}, {LB_ECHO, NULL}, {LB_ECHO, NULL}, {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    char path[320], full[300], want[64];
    size_t size = (3u << 20) / 2; /* above curl's 1 MiB Expect: 100-continue threshold */
    if (start(&lb, steps, 5) != 0)
        return;
    snprintf(path, sizeof path, "%s/upload.bin", dir);
    write_test_file(path, size);
    snprintf(full, sizeof full, "%s/bucket/key", url);

    /* PUT streamed from a file at an offset */
    struct dr_http_request req = {
        .method = "PUT", .url = full, .body_path = path, .body_offset = 7, .body_len = size - 100};
    long t0 = now_ms();
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(now_ms() - t0 < 900); /* no wait for a 100 Continue */
    CHECK(resp.body && strncmp(resp.body, "PUT /bucket/key HTTP/1.1\r\n", 26) == 0);
    if (resp.body) {
        snprintf(want, sizeof want, "\r\nContent-Length: %zu\r\n", size - 100);
        CHECK(strstr(resp.body, want) != NULL);
        CHECK(!has_header(resp.body, "expect"));
        CHECK(!has_header(resp.body, "transfer-encoding"));
        const char *b = echo_body(resp.body);
        CHECK(strlen(b) == size - 100);
        CHECK(strncmp(b, "hijklmnop", 9) == 0); /* byte 7 is 'h' */
    }
    dr_http_response_free(&resp);

    /* PUT from memory; and an empty PUT still says Content-Length: 0 */
    req = (struct dr_http_request){.method = "PUT", .url = full, .body = "hello", .body_len = 5};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.body && strstr(resp.body, "\r\nContent-Length: 5\r\n") &&
          strcmp(echo_body(resp.body), "hello") == 0);
    dr_http_response_free(&resp);
    req = (struct dr_http_request){.method = "PUT", .url = full};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.body && strstr(resp.body, "\r\nContent-Length: 0\r\n"));
    dr_http_response_free(&resp);

    /* POST from memory: no form Content-Type invented; the caller's is kept */
    struct dr_http_header ct = {"Content-Type", "application/x-amz-json-1.1"};
    req =
        (struct dr_http_request){.method = "POST", .url = full, .body = "{\"a\":1}", .body_len = 7};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.body && strncmp(resp.body, "POST /bucket/key HTTP/1.1", 25) == 0);
    CHECK(resp.body && !has_header(resp.body, "content-type"));
    CHECK(resp.body && strcmp(echo_body(resp.body), "{\"a\":1}") == 0);
    dr_http_response_free(&resp);

    /* POST streamed from a file */
    req = (struct dr_http_request){.method = "POST",
                                   .url = full,
                                   .headers = &ct,
                                   .nheaders = 1,
                                   .body_path = path,
                                   .body_offset = 26,
                                   .body_len = 3};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.body && strstr(resp.body, "\r\nContent-Type: application/x-amz-json-1.1\r\n"));
    CHECK(resp.body && strstr(resp.body, "\r\nContent-Length: 3\r\n"));
    CHECK(resp.body && strcmp(echo_body(resp.body), "abc") == 0);
    dr_http_response_free(&resp);
    stop(&lb);
    unlink(path);
}

static void test_delete_and_headers(void)
{
    static const struct lb_step steps[] = {
        {LB_ECHO, NULL},
        {LB_REPLY, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                   "HTTP/1.1 204 No Content\r\nX-Amz-Request-Id:   ABC123  \r\n"
                   "ETag: \"d41d8cd98f00b204e9800998ecf8427e\"\r\nx-amz-meta-Mixed: V\r\n\r\n"}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    char full[300];
    if (start(&lb, steps, 2) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    struct dr_http_request req = {.method = "DELETE", .url = full};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.body && strncmp(resp.body, "DELETE /k HTTP/1.1\r\n", 20) == 0);
    dr_http_response_free(&resp);

    req.method = "GET";
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.status == 204);
    CHECK(resp.body != NULL && resp.body_len == 0 && resp.body && resp.body[0] == '\0');
    CHECK_STR(dr_http_header_get(&resp, "x-amz-request-id"), "ABC123");
    CHECK_STR(dr_http_header_get(&resp, "etag"), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    CHECK(dr_http_header_get(&resp, "x-interim") == NULL); /* the interim response's */
    int lower = resp.nheaders == 3;
    for (size_t i = 0; i < resp.nheaders; i++)
        for (const char *p = resp.headers[i].name; *p; p++)
            lower &= !(*p >= 'A' && *p <= 'Z');
    CHECK(lower);
    CHECK_STR(dr_http_header_get(&resp, "X-Amz-Meta-Mixed"), "V");
    dr_http_response_free(&resp);
    stop(&lb);
}

static void test_head_does_not_wait(void)
{
    static const struct lb_step steps[] = {
        {LB_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: \"e\"\r\n\r\n"},
        {LB_REPLY, "HTTP/1.1 404 Not Found\r\nContent-Length: 50\r\n\r\n"}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    char full[300], out[320];
    if (start(&lb, steps, 2) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    snprintf(out, sizeof out, "%s/head-out", dir);
    struct dr_http_request req = {
        .method = "HEAD", .url = full, .out_path = out, .timeout_ms = 3000};
    long t0 = now_ms();
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(now_ms() - t0 < 1000);
    CHECK(resp.status == 200 && resp.body_len == 0);
    CHECK_STR(dr_http_header_get(&resp, "content-length"), "1000");
    CHECK(access(out, F_OK) != 0); /* HEAD writes no file */
    dr_http_response_free(&resp);
    t0 = now_ms();
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(now_ms() - t0 < 1000);
    CHECK(resp.status == 404 && resp.body_len == 0);
    dr_http_response_free(&resp);
    stop(&lb);
}

static void test_body_to_file(void)
{
    static const struct lb_step steps[] = {
        {LB_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"},
        {LB_REPLY, "HTTP/1.1 404 Not Found\r\nContent-Length: 24\r\n\r\n<Error>NoSuchKey</Error>"},
        {LB_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    char full[300], out[320], missing[320];
    size_t len;
    if (start(&lb, steps, 3) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    snprintf(out, sizeof out, "%s/body-out", dir);
    snprintf(missing, sizeof missing, "%s/never-made", dir);
    write_test_file(out, 100); /* truncated by the download */
    struct dr_http_request req = {.method = "GET", .url = full, .out_path = out};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.status == 200 && resp.body_len == 0 && resp.body && !resp.body[0]);
    char *got = read_file(out, &len);
    CHECK(got && len == 11 && strcmp(got, "hello world") == 0);
    free(got);
    dr_http_response_free(&resp);

    /* an error body stays in memory, and the file is not touched */
    req.out_path = missing;
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.status == 404);
    CHECK_STR(resp.body, "<Error>NoSuchKey</Error>");
    CHECK(access(missing, F_OK) != 0);
    dr_http_response_free(&resp);

    /* an empty 2xx body still makes (and empties) the file */
    req.out_path = out;
    CHECK(dr_http_perform(&req, &resp) == 0);
    got = read_file(out, &len);
    CHECK(access(out, F_OK) == 0 && len == 0);
    free(got);
    dr_http_response_free(&resp);
    unlink(out);
    stop(&lb);
}

/* on_headers as a test sees it: the statuses and Content-Range it was
 * shown, and whether to refuse. */
struct headers_seen {
    long status[4];
    char range[64];
    int calls, refuse;
};

static int see_headers(void *ctx, const struct dr_http_response *resp, char *why, size_t len)
{
    struct headers_seen *h = ctx;
    const char *cr = dr_http_header_get(resp, "content-range");
    if (h->calls < 4)
        h->status[h->calls] = resp->status;
    h->calls++;
    snprintf(h->range, sizeof h->range, "%s", cr ? cr : "");
    if (h->refuse)
        snprintf(why, len, "not this one");
    return h->refuse;
}

static void test_on_headers(void)
{
    static const struct lb_step steps[] = {
        {LB_REPLY, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/11\r\n"
                   "Content-Length: 5\r\n\r\nhello"},
        {LB_REPLY, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!"},
        {LB_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct headers_seen seen = {0};
    char full[300], out[320];
    size_t len;
    if (start(&lb, steps, 3) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    snprintf(out, sizeof out, "%s/hook-out", dir);
    write_test_file(out, 0);
    int fd = open(out, O_WRONLY);
    struct dr_http_request req = {.method = "GET",
                                  .url = full,
                                  .out_fd = &fd,
                                  .on_headers = see_headers,
                                  .on_headers_ctx = &seen};
    /* shown a 2xx's headers before its body, which then goes to the file */
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(seen.calls == 1 && seen.status[0] == 206 && strcmp(seen.range, "bytes 0-4/11") == 0);
    char *got = read_file(out, &len);
    CHECK(got && len == 5 && strcmp(got, "hello") == 0);
    free(got);
    dr_http_response_free(&resp);
    /* never an error's */
    CHECK(dr_http_perform(&req, &resp) == 0 && resp.status == 404 && seen.calls == 1);
    dr_http_response_free(&resp);
    /* a refusal stops the exchange with its words, not as a transport error */
    seen.refuse = 1;
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(seen.calls == 2 && resp.status == 200 && !resp.transport_error);
    CHECK_STR(resp.error, "not this one");
    dr_http_response_free(&resp);
    close(fd);
    unlink(out);
    stop(&lb);
}

/* on_bytes as a test sees it: sums of the deltas, and how many calls. */
struct bytes_seen {
    long long done, total;
    int calls;
};

static void count_bytes(void *ctx, long long done, long long total)
{
    struct bytes_seen *b = ctx;
    b->done += done;
    b->total += total;
    b->calls++;
}

static void test_progress_bytes(void)
{
    static const struct lb_step steps[] = {
        {LB_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"},
        {LB_REPLY, "HTTP/1.1 500 Oops\r\nContent-Length: 24\r\n\r\n<Error>InternalE</Error>"},
        {LB_ECHO, NULL},
        {LB_REPLY, "HTTP/1.1 503 Slow\r\nContent-Length: 0\r\n\r\n"}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct bytes_seen seen = {0};
    char full[300];
    if (start(&lb, steps, 4) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    struct dr_http_request req = {
        .method = "GET", .url = full, .on_bytes = count_bytes, .on_bytes_ctx = &seen};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(seen.done == 11 && seen.total == 11 && seen.calls > 0);
    dr_http_response_free(&resp);

    /* an error's body is not progress */
    memset(&seen, 0, sizeof seen);
    CHECK(dr_http_perform(&req, &resp) == 0 && resp.status == 500);
    CHECK(seen.done == 0 && seen.total == 0);
    dr_http_response_free(&resp);

    /* an upload counts the request body; one refused takes its bytes back */
    req.method = "PUT";
    req.body = "0123456789abcdef";
    req.body_len = 16;
    memset(&seen, 0, sizeof seen);
    CHECK(dr_http_perform(&req, &resp) == 0 && resp.status == 200);
    CHECK(seen.done == 16 && seen.total == 16);
    dr_http_response_free(&resp);
    memset(&seen, 0, sizeof seen);
    CHECK(dr_http_perform(&req, &resp) == 0 && resp.status == 503);
    CHECK(seen.done == 0 && seen.total == 0);
    dr_http_response_free(&resp);
    stop(&lb);
}

/* A produced body: "0123456789" over and over, framed as [ ... ] (two
 * bytes of framing that progress leaves out); fails at offset `fail_at`
 * when it is not negative. */
struct produced {
    long long len, fail_at;
    int starts; /* calls at offset 0 */
};

static long produce(void *ctx, char *buf, size_t n, long long offset, char *why, size_t why_len)
{
    struct produced *p = ctx;
    if (offset == 0)
        p->starts++;
    if (p->fail_at >= 0 && offset + (long long)n > p->fail_at) {
        snprintf(why, why_len, "cannot read the source: test");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        long long at = offset + (long long)i;
        buf[i] = at == 0 ? '[' : at == p->len + 1 ? ']' : (char)('0' + (at - 1) % 10);
    }
    return (long)n;
}

static void test_produced_body(void)
{
    static const struct lb_step steps[] = {{LB_ECHO, NULL}, {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct bytes_seen seen = {0};
    struct produced p = {300000, -1, 0};
    char full[300];
    if (start(&lb, steps, 2) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    struct dr_http_request req = {.method = "PUT",
                                  .url = full,
                                  .body_read = produce,
                                  .body_read_ctx = &p,
                                  .body_len = (size_t)p.len + 2,
                                  .progress_len = p.len,
                                  .on_bytes = count_bytes,
                                  .on_bytes_ctx = &seen};
    CHECK(dr_http_perform(&req, &resp) == 0 && resp.status == 200);
    CHECK(resp.body && strstr(resp.body, "\r\nContent-Length: 300002\r\n") != NULL);
    CHECK(resp.body && !has_header(resp.body, "transfer-encoding"));
    const char *b = resp.body ? echo_body(resp.body) : "";
    CHECK(strlen(b) == 300002 && b[0] == '[' && strncmp(b + 1, "0123456789", 10) == 0 &&
          b[300001] == ']');
    CHECK(p.starts == 1);
    /* progress counts the payload, not the framing */
    CHECK(seen.done == p.len && seen.total == p.len);
    dr_http_response_free(&resp);
    /* a producer that fails: a local error with its words, not a transport one */
    p.fail_at = 100000;
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(!resp.transport_error && strstr(resp.error, "cannot read the source: test") != NULL);
    dr_http_response_free(&resp);
    stop(&lb);
}

static void test_body_cap(void)
{
    static const struct lb_step steps[] = {
        {LB_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789"},
        {LB_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    char full[300];
    if (start(&lb, steps, 2) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    struct dr_http_request req = {.method = "GET", .url = full, .max_body = 10};
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(resp.transport_error == 0);
    CHECK(strstr(resp.error, "larger than 10 bytes") != NULL);
    CHECK(resp.body_len <= 10);
    dr_http_response_free(&resp);
    /* exactly the cap is fine (on a new connection: the last one was cut) */
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK_STR(resp.body, "0123456789");
    dr_http_response_free(&resp);
    stop(&lb);
}

static void test_transport_errors(void)
{
    static const struct lb_step steps[] = {
        {LB_REPLY_CLOSE, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"},
        {LB_CLOSE, NULL},
        {LB_HANG, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    char full[300], out[320];
    if (start(&lb, steps, 3) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    snprintf(out, sizeof out, "%s/partial", dir);

    /* the connection closes 10 bytes into a 100-byte body */
    struct dr_http_request req = {.method = "GET", .url = full, .out_path = out};
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(resp.transport_error == 1);
    CHECK(resp.error[0] != '\0');
    dr_http_response_free(&resp);

    /* closed without a word */
    req.out_path = NULL;
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(resp.transport_error == 1 && resp.status == 0);
    dr_http_response_free(&resp);

    /* no answer: the total timeout ends it */
    req.timeout_ms = 300;
    long t0 = now_ms();
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(now_ms() - t0 < 1500);
    CHECK(resp.transport_error == 1);
    CHECK(strstr(resp.error, "imeout") != NULL || strstr(resp.error, "timed out") != NULL);
    dr_http_response_free(&resp);
    stop(&lb);
    unlink(out);

    /* nobody listens */
    int port = lb_dead_port();
    snprintf(full, sizeof full, "http://127.0.0.1:%d/k", port);
    req = (struct dr_http_request){.method = "GET", .url = full};
    CHECK(port > 0 && dr_http_perform(&req, &resp) == -1);
    CHECK(resp.transport_error == 1 && resp.status == 0);
    CHECK(strstr(resp.error, "onnect") != NULL);
    dr_http_response_free(&resp);
}

static void test_local_failures(void)
{
    static const struct lb_step steps[] = {{LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    char full[300], path[320], out[320];
    if (start(&lb, steps, 1) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    snprintf(path, sizeof path, "%s/short", dir);
    write_test_file(path, 10);

    /* a body file that is missing, or shorter than body_len */
    struct dr_http_request req = {
        .method = "PUT", .url = full, .body_path = "/nonexistent/file", .body_len = 5};
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(resp.transport_error == 0 && strstr(resp.error, "/nonexistent/file"));
    CHECK(resp.body != NULL);
    dr_http_response_free(&resp);
    req.body_path = path;
    req.body_len = 50;
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(resp.transport_error == 0 && strstr(resp.error, "shorter"));
    dr_http_response_free(&resp);
    stop(&lb);

    /* an out_path that cannot be created */
    static const struct lb_step ok[] = {
        {LB_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}};
    if (start(&lb, ok, 1) != 0)
        return;
    snprintf(full, sizeof full, "%s/k", url);
    snprintf(out, sizeof out, "%s/no/such/dir/file", dir);
    req = (struct dr_http_request){.method = "GET", .url = full, .out_path = out};
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(resp.transport_error == 0 && strstr(resp.error, "cannot write"));
    CHECK(resp.status == 200);
    dr_http_response_free(&resp);
    stop(&lb);

    /* AWS_CA_BUNDLE is used: a missing bundle fails the TLS setup, not retryable */
    static const struct lb_step none[] = {{LB_CLOSE, NULL}};
    if (start(&lb, none, 1) != 0)
        return;
    snprintf(full, sizeof full, "https://127.0.0.1:%d/k", lb.port);
    setenv("AWS_CA_BUNDLE", "/nonexistent/dbtrun-ca.pem", 1);
    req = (struct dr_http_request){.method = "GET", .url = full};
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(strstr(resp.error, "/nonexistent/dbtrun-ca.pem") != NULL);
    CHECK(resp.transport_error == 0);
    unsetenv("AWS_CA_BUNDLE");
    dr_http_response_free(&resp);
    stop(&lb);
    unlink(path);
}

#define THREADS 4
#define PER_THREAD 4

struct worker {
    pthread_t tid;
    int ok;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    char full[300];
    snprintf(full, sizeof full, "%s/t", url);
    for (int i = 0; i < PER_THREAD; i++) {
        struct dr_http_response resp = {0};
        struct dr_http_request req = {.method = "GET", .url = full, .timeout_ms = 5000};
        if (dr_http_perform(&req, &resp) == 0 && resp.status == 200 && resp.body &&
            strcmp(resp.body, "ok") == 0)
            w->ok++;
        dr_http_response_free(&resp);
    }
    return NULL;
}

/* Threads share the handle pool (s3 uploads parts this way): every
 * exchange completes and none sees another's response. */
static void test_threads(void)
{
    static struct lb_step steps[THREADS * PER_THREAD];
    struct worker workers[THREADS];
    struct lb_server lb;
    int started = 0, ok = 0;
    for (size_t i = 0; i < THREADS * PER_THREAD; i++)
        steps[i] =
            (struct lb_step){LB_REPLY_CLOSE, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
    if (start(&lb, steps, THREADS * PER_THREAD) != 0)
        return;
    memset(workers, 0, sizeof workers);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&workers[t].tid, NULL, worker_run, &workers[t]) == 0)
            started++;
    for (int t = 0; t < started; t++) {
        pthread_join(workers[t].tid, NULL);
        ok += workers[t].ok;
    }
    CHECK(started == THREADS);
    CHECK(ok == THREADS * PER_THREAD);
    stop(&lb);
}

/* A header line goes whole up to 8,191 bytes ("Name: value", or curl's
 * "Name;" for an empty value); one byte more is refused before sending. */
static void test_header_line_limit(void)
{
    static const struct lb_step steps[] = {{LB_ECHO, NULL}, {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    static char value[8192], name[8192];
    if (start(&lb, steps, 2) != 0)
        return;
    memset(value, 'v', 8191 - 7); /* "X-Big: " + value = 8,191 */
    struct dr_http_header h = {"X-Big", value};
    struct dr_http_request req = {.method = "GET", .url = url, .headers = &h, .nheaders = 1};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.body && strstr(resp.body, "\r\nX-Big: vvv") &&
          strlen(strstr(resp.body, "X-Big: ")) > 8191);
    dr_http_response_free(&resp);
    value[8191 - 7] = 'v';
    CHECK(dr_http_perform(&req, &resp) == -1);
    CHECK(strstr(resp.error, "8 KiB") != NULL);
    dr_http_response_free(&resp);
    memset(name, 'n', 8190); /* "nnn...;" = 8,191 */
    struct dr_http_header empty = {name, ""};
    req.headers = &empty;
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK(resp.body && strstr(resp.body, "\r\nnnnn") != NULL);
    dr_http_response_free(&resp);
    name[8190] = 'n';
    CHECK(dr_http_perform(&req, &resp) == -1);
    dr_http_response_free(&resp);
    stop(&lb);
}

/* One GET; *arg = the connection number the server saw (0 on failure). */
static void *one_get_conn(void *arg)
{
    struct dr_http_response resp = {0};
    struct dr_http_request req = {.method = "GET", .url = url};
    const char *conn;
    *(int *)arg =
        dr_http_perform(&req, &resp) == 0 && (conn = dr_http_header_get(&resp, "x-conn")) != NULL
            ? atoi(conn)
            : 0;
    dr_http_response_free(&resp);
    return NULL;
}

static void *one_get(void *arg)
{
    struct dr_http_response resp = {0};
    struct dr_http_request req = {.method = "GET", .url = url};
    *(int *)arg = dr_http_perform(&req, &resp) == 0 && resp.status == 200;
    dr_http_response_free(&resp);
    return NULL;
}

/* A thread keeps its handle between its own requests; when it ends, the
 * handle (and its live connection) goes back to the pool for the others. */
static void test_handle_outlives_its_thread(void)
{
    static const struct lb_step steps[] = {{LB_ECHO, NULL}, {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    pthread_t tid;
    int ok = 0;
    if (start(&lb, steps, 2) != 0)
        return;
    CHECK(pthread_create(&tid, NULL, one_get, &ok) == 0);
    CHECK(pthread_join(tid, NULL) == 0);
    CHECK(ok);
    struct dr_http_request req = {.method = "GET", .url = url};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK_STR(dr_http_header_get(&resp, "x-conn"), "1"); /* the ended thread's connection */
    CHECK_STR(dr_http_header_get(&resp, "x-req"), "2");
    dr_http_response_free(&resp);
    stop(&lb);
}

/* dr_http_share hands the calling thread's handle to threads it starts:
 * their first request goes over its connection. */
static void test_share_before_threads(void)
{
    static const struct lb_step steps[] = {{LB_ECHO, NULL}, {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    pthread_t tid;
    int ok = 0;
    if (start(&lb, steps, 2) != 0)
        return;
    struct dr_http_request req = {.method = "GET", .url = url};
    CHECK(dr_http_perform(&req, &resp) == 0);
    CHECK_STR(dr_http_header_get(&resp, "x-conn"), "1");
    dr_http_response_free(&resp);
    dr_http_share();
    CHECK(pthread_create(&tid, NULL, one_get_conn, &ok) == 0);
    CHECK(pthread_join(tid, NULL) == 0);
    CHECK(ok == 1); /* the thread's request went over connection 1 */
    stop(&lb);
}

static void test_teardown(void)
{
    if (ready)
        rmdir(dir);
    dr_http_cleanup();
}

TEST_MAIN(test_setup, test_get_echo_and_keepalive, test_put_and_post_bodies,
          test_delete_and_headers, test_head_does_not_wait, test_body_to_file, test_on_headers,
          test_progress_bytes, test_produced_body, test_body_cap, test_transport_errors,
          test_local_failures, test_threads, test_header_line_limit,
          test_handle_outlives_its_thread, test_share_before_threads, test_teardown)
