/* Tests of cloudfront.c: the InvalidationBatch body, argument checks, and
 * the requests and answers of CreateInvalidation / GetInvalidation / the
 * waiter against a loopback server that records every request it reads.
 * The client is the real one (client.c), keys from the environment. */
#include "harness.h"
#include "loopback.h"

#include "dbtrun/cloudfront.h"
#include "dbtrun/dl.h"
#include "dbtrun/http.h"
#include "dbtrun/sigv4.h"
#include "dbtrun/xml.h"

#include <fcntl.h>
#include <time.h>

extern char **environ;

#define DIST "E2QWRUHAPOMQZL"
#define INV "I2J0I21PCUYOIK"

static int ready;
static char dir[] = "/tmp/dbtrun-test-cloudfront-XXXXXX";

static void test_setup(void)
{
    char err[256] = "", name[256];
    /* no AWS_* setting of the machine running the tests may leak in */
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "AWS_", 4) == 0 && strcspn(*e, "=") < sizeof name) {
                snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
                again = 1;
                break;
            }
        }
    }
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/dbtrun-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/dbtrun-credentials", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("no_proxy", "*", 1);
    setenv(DR_AWS_BACKOFF_ENV, "1", 1);
    setenv(DR_SIGV4_CLOCK_ENV, "20150830T123600Z", 1);
    ready = dr_dl_curl(err, sizeof err) == 0 && dr_dl_crypto(err, sizeof err) == 0 &&
            mkdtemp(dir) != NULL;
    if (!ready)
        printf("test_cloudfront: network tests skipped (%s)\n", err);
}

/* ---- the body --------------------------------------------------------------- */

static void test_batch_xml(void)
{
    const char *paths[] = {"/*", "/a&b<c>.html", "/docs/index.html"};
    char *xml = dr_cloudfront_batch_xml(paths, 3, "ref-1&2");
    CHECK_STR(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">"
                   "<Paths><Quantity>3</Quantity><Items><Path>/*</Path>"
                   "<Path>/a&amp;b&lt;c&gt;.html</Path><Path>/docs/index.html</Path></Items>"
                   "</Paths><CallerReference>ref-1&amp;2</CallerReference></InvalidationBatch>");

    /* what a server reads back is what was asked for */
    struct dr_xml_node *root = NULL;
    CHECK(xml && dr_xml_parse(xml, strlen(xml), &root, NULL, 0) == 0);
    CHECK_STR(root ? root->name : NULL, "InvalidationBatch");
    CHECK_STR(dr_xml_text(root, "Paths/Quantity"), "3");
    const struct dr_xml_node *p = dr_xml_find(root, "Paths/Items/Path");
    for (size_t i = 0; i < 3; i++, p = dr_xml_next(p))
        CHECK_STR(p ? p->text : NULL, paths[i]);
    CHECK(p == NULL);
    CHECK_STR(dr_xml_text(root, "CallerReference"), "ref-1&2");
    dr_xml_free(root);
    free(xml);

    xml = dr_cloudfront_batch_xml(paths, 1, "r");
    CHECK(xml && strstr(xml, "<Quantity>1</Quantity><Items><Path>/*</Path></Items>"));
    free(xml);
}

/* ---- a loopback server that keeps what it reads ------------------------------- */

/* Serves replies[0..n) in turn (on as many connections as the client opens)
 * and writes request k, head and body as received, to dir/req-k. */
static void record_serve(int listener, const char *const *replies, size_t n)
{
    size_t k = 0;
    while (k < n) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            continue;
        for (;;) {
            char *req = NULL, path[sizeof dir + 32];
            long len = lb_read_request(fd, &req);
            if (len <= 0 || k >= n) {
                free(req);
                break;
            }
            snprintf(path, sizeof path, "%s/req-%zu", dir, k);
            int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (out >= 0) {
                lb_write_all(out, req, (size_t)len);
                close(out);
            }
            free(req);
            lb_write_all(fd, replies[k], strlen(replies[k]));
            k++;
        }
        close(fd);
    }
    sleep(1); /* as lb_serve: no reset while the client reads the last reply */
}

static int record_start(struct lb_server *lb, const char *const *replies, size_t n)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int fd = ready ? socket(AF_INET, SOCK_STREAM, 0) : -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    lb->port = ntohs(addr.sin_port);
    fflush(NULL);
    if ((lb->pid = fork()) < 0) {
        close(fd);
        return -1;
    }
    if (lb->pid == 0) {
        alarm(10);
        record_serve(fd, replies, n);
        _exit(0);
    }
    close(fd);
    return 0;
}

/* Request k as the server read it (static buffer), "" when there was none. */
static const char *recorded(size_t k)
{
    static char buf[65536];
    char path[sizeof dir + 32];
    snprintf(path, sizeof path, "%s/req-%zu", dir, k);
    buf[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return buf;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    return buf;
}

static void record_stop(struct lb_server *lb, size_t n)
{
    char path[sizeof dir + 32];
    dr_http_cleanup();
    lb_stop(lb);
    for (size_t k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/req-%zu", dir, k);
        unlink(path);
    }
}

/* The value of header `name` in a request head, into out. */
static const char *header_of(const char *req, const char *name, char *out, size_t len)
{
    const char *end = strstr(req, "\r\n\r\n");
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *line = strstr(req, "\r\n"); line && end && line < end;
         line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, n) == 0 && line[2 + n] == ':') {
            const char *v = line + 3 + n, *eol = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, len, "%.*s", (int)(eol - v), v);
            break;
        }
    }
    return out;
}

static const char *body_of(const char *req)
{
    const char *end = strstr(req, "\r\n\r\n");
    return end ? end + 4 : "";
}

/* A canned reply (static slot `slot` of 8). */
static const char *reply(int slot, const char *status_line, const char *body)
{
    static char text[8][2048];
    snprintf(text[slot], sizeof text[slot],
             "HTTP/1.1 %s\r\nContent-Type: text/xml\r\nx-amzn-RequestId: req-%d\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             status_line, slot, strlen(body), body);
    return text[slot];
}

static const char *invalidation(int slot, const char *status_line, const char *status)
{
    char body[1024];
    snprintf(body, sizeof body,
             "<?xml version=\"1.0\"?>\n<Invalidation "
             "xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Id>" INV "</Id>"
             "<Status>%s</Status><CreateTime>2015-08-30T12:36:00Z</CreateTime>"
             "<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/*</Path></Items>"
             "</Paths><CallerReference>x</CallerReference></InvalidationBatch></Invalidation>",
             status);
    return reply(slot, status_line, body);
}

/* A client for the server on `port` (0: a dead port), in a region that is
 * not CloudFront's signing region. */
static struct dr_aws_client *client_for(int port)
{
    char url[64];
    struct dr_aws_client *c = NULL;
    struct dr_aws_error err;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port ? port : lb_dead_port());
    struct dr_aws_client_opts opts = {.region = "eu-west-1", .endpoint_url = url};
    CHECK(dr_aws_client_new(&opts, &c, &err) == 0);
    return c;
}

/* ---- requests ------------------------------------------------------------------ */

static void test_argument_checks(void)
{
    struct dr_aws_client *c = ready ? client_for(0) : NULL;
    struct dr_aws_error err;
    const char *good[] = {"/*"};
    const char *bad_paths[][2] = {{"index.html", NULL}, {"", NULL}, {"/a", "/b\nc"}};
    const char *bad_ids[] = {"", "e2qwruhapomqzl", "E2/../X", "E2 X", NULL};
    char *id = (char *)"untouched", *status = (char *)"untouched";
    if (!c)
        return;
    /* nothing is sent: the port is dead, so a request would be a NetworkError */
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        CHECK(dr_cloudfront_invalidate(c, bad_ids[i], good, 1, &id, &status, &err) == -1);
        CHECK_STR(err.code, "InvalidArgument");
        CHECK_STR(err.op, "CreateInvalidation");
        CHECK(id == NULL && status == NULL);
        CHECK(dr_cloudfront_status(c, bad_ids[i], INV, &status, &err) == -1);
        CHECK_STR(err.code, "InvalidArgument");
        CHECK(dr_cloudfront_status(c, DIST, bad_ids[i], &status, &err) == -1);
        CHECK_STR(err.code, "InvalidArgument");
        CHECK_STR(err.target, DIST);
    }
    for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
        size_t n = bad_paths[i][1] ? 2 : 1;
        CHECK(dr_cloudfront_invalidate(c, DIST, bad_paths[i], n, &id, NULL, &err) == -1);
        CHECK_STR(err.code, "InvalidArgument");
        CHECK_STR(err.target, DIST);
    }
    CHECK(dr_cloudfront_invalidate(c, DIST, good, 0, &id, NULL, &err) == -1);
    CHECK_STR(err.code, "InvalidArgument");
    CHECK(dr_cloudfront_wait(c, DIST, INV, -1, 0, &err) == -1);
    CHECK_STR(err.code, "InvalidArgument");
    /* a good request does go out */
    CHECK(dr_cloudfront_invalidate(c, DIST, good, 1, &id, NULL, &err) == -1);
    CHECK_STR(err.code, "NetworkError");
    dr_aws_client_free(c);
    dr_http_cleanup();
}

static void test_invalidate_request(void)
{
    const char *replies[] = {invalidation(0, "201 Created", "InProgress"),
                             invalidation(1, "201 Created", "InProgress")};
    const char *paths[] = {"/*", "/a&b.html"};
    struct lb_server lb;
    struct dr_aws_error err;
    char *id = NULL, *status = NULL, want[128], got[512], ref[2][128] = {"", ""};
    if (record_start(&lb, replies, 2) != 0)
        return;
    struct dr_aws_client *c = client_for(lb.port);
    CHECK(dr_cloudfront_invalidate(c, DIST, paths, 2, &id, &status, &err) == 0);
    CHECK_STR(id, INV);
    CHECK_STR(status, "InProgress");
    free(id);
    free(status);
    id = NULL;
    CHECK(dr_cloudfront_invalidate(c, DIST, paths, 1, &id, NULL, &err) == 0); /* status unwanted */
    CHECK_STR(id, INV);
    free(id);

    for (size_t k = 0; k < 2; k++) {
        const char *req = recorded(k), *body = body_of(req);
        CHECK(strncmp(req, "POST /2020-05-31/distribution/" DIST "/invalidation HTTP/1.1\r\n",
                      strlen("POST /2020-05-31/distribution/" DIST "/invalidation HTTP/1.1\r\n")) ==
              0);
        snprintf(want, sizeof want, "127.0.0.1:%d", lb.port);
        CHECK_STR(header_of(req, "Host", got, sizeof got), want);
        CHECK_STR(header_of(req, "Content-Type", got, sizeof got), "application/xml");
        /* global service: signed for us-east-1 although the client is in eu-west-1 */
        header_of(req, "Authorization", got, sizeof got);
        CHECK(strncmp(got,
                      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/cloudfront/"
                      "aws4_request, SignedHeaders=",
                      strlen("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
                             "cloudfront/aws4_request, SignedHeaders=")) == 0);
        CHECK(strstr(body, k == 0
                               ? "<Quantity>2</Quantity><Items><Path>/*</Path>"
                                 "<Path>/a&amp;b.html</Path></Items>"
                               : "<Quantity>1</Quantity><Items><Path>/*</Path></Items>") != NULL);
        const char *r = strstr(body, "<CallerReference>dbtrun-");
        CHECK(r != NULL);
        if (r)
            snprintf(ref[k], sizeof ref[k], "%.*s", (int)strcspn(r, "/"), r);
    }
    CHECK(ref[0][0] && strcmp(ref[0], ref[1]) != 0); /* each call its own reference */
    dr_aws_client_free(c);
    record_stop(&lb, 2);
}

static void test_status_and_errors(void)
{
    const char *replies[] = {
        invalidation(0, "200 OK", "Completed"),
        reply(1, "404 Not Found",
              "<?xml version=\"1.0\"?>\n<ErrorResponse "
              "xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Error><Type>Sender"
              "</Type><Code>NoSuchDistribution</Code><Message>The specified distribution does "
              "not exist.</Message></Error><RequestId>rid-404</RequestId></ErrorResponse>"),
        reply(2, "404 Not Found",
              "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchInvalidation</Code>"
              "<Message>The specified invalidation does not exist.</Message></Error>"
              "</ErrorResponse>"),
        reply(3, "201 Created", "<Invalidation><Id>" INV "</Id></Invalidation>"),
        reply(4, "200 OK", "not xml"),
    };
    const char *paths[] = {"/*"};
    struct lb_server lb;
    struct dr_aws_error err;
    char *id = NULL, *status = NULL, text[1024];
    if (record_start(&lb, replies, 5) != 0)
        return;
    struct dr_aws_client *c = client_for(lb.port);

    CHECK(dr_cloudfront_status(c, DIST, INV, &status, &err) == 0);
    CHECK_STR(status, "Completed");
    free(status);
    CHECK(strncmp(recorded(0), "GET /2020-05-31/distribution/" DIST "/invalidation/" INV " ",
                  strlen("GET /2020-05-31/distribution/" DIST "/invalidation/" INV " ")) == 0);
    CHECK(strstr(recorded(0), "/us-east-1/cloudfront/aws4_request") != NULL);

    CHECK(dr_cloudfront_invalidate(c, DIST, paths, 1, &id, &status, &err) == -1);
    CHECK(id == NULL && status == NULL);
    CHECK_STR(err.code, "NoSuchDistribution");
    CHECK(err.status == 404);
    dr_aws_error_format(&err, text, sizeof text);
    CHECK_STR(text, "CreateInvalidation " DIST ": NoSuchDistribution (404): The specified "
                    "distribution does not exist. (request id rid-404)");

    CHECK(dr_cloudfront_status(c, DIST, INV, &status, &err) == -1);
    CHECK_STR(err.code, "NoSuchInvalidation");
    CHECK_STR(err.op, "GetInvalidation");
    CHECK_STR(err.target, DIST);
    CHECK(status == NULL);

    CHECK(dr_cloudfront_invalidate(c, DIST, paths, 1, &id, &status, &err) == -1);
    CHECK_STR(err.code, "InvalidResponse"); /* no Status */
    CHECK(id == NULL && status == NULL);
    CHECK(dr_cloudfront_status(c, DIST, INV, &status, &err) == -1);
    CHECK_STR(err.code, "InvalidResponse");
    dr_aws_client_free(c);
    record_stop(&lb, 5);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_wait(void)
{
    /* moto answers "COMPLETED"; the waiter takes either spelling */
    const char *replies[] = {
        invalidation(0, "200 OK", "InProgress"), invalidation(1, "200 OK", "COMPLETED"),
        invalidation(2, "200 OK", "InProgress"), invalidation(3, "200 OK", "InProgress"),
        invalidation(4, "200 OK", "InProgress")};
    struct lb_server lb;
    struct dr_aws_error err;
    struct timespec t0;
    if (record_start(&lb, replies, 5) != 0)
        return;
    struct dr_aws_client *c = client_for(lb.port);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(dr_cloudfront_wait(c, DIST, INV, 30, 1, &err) == 0);
    double took = seconds_since(&t0);
    CHECK(took >= 0.9 && took < 5);

    /* the 20 s default poll is cut to the 1 s left: one more look, then Timeout */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(dr_cloudfront_wait(c, DIST, INV, 1, 0, &err) == -1);
    took = seconds_since(&t0);
    CHECK(took >= 0.9 && took < 5);
    CHECK_STR(err.code, "Timeout");
    CHECK_STR(err.op, "GetInvalidation");
    CHECK_STR(err.target, DIST);
    CHECK(strstr(err.message, INV) && strstr(err.message, "InProgress"));
    CHECK(strstr(recorded(3), "GET /2020-05-31/") == recorded(3)); /* 2 + 2 requests */
    CHECK(recorded(4)[0] == '\0');
    dr_aws_client_free(c);
    record_stop(&lb, 5);
}

static void test_teardown(void)
{
    if (ready)
        rmdir(dir);
    dr_http_cleanup();
}

TEST_MAIN(test_setup, test_batch_xml, test_argument_checks, test_invalidate_request,
          test_status_and_errors, test_wait, test_teardown)
