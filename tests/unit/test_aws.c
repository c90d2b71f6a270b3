/* Tests of aws.c: the pure pieces (retry classes, backoff, error bodies,
 * error text, log redaction) and dr_aws_send against a scripted loopback
 * server (loopback.h): retries, error parsing, what is signed against what
 * goes on the wire. The client is a stub defined here, so these tests do
 * not depend on client.c / creds.c (aws.o only needs the four functions). */
#include "harness.h"
#include "loopback.h"

#include "dbtrun/aws.h"
#include "dbtrun/dl.h"
#include "dbtrun/retry.h"
#include "dbtrun/sigv4.h"

#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <time.h>

/* ---- the stub client -------------------------------------------------------- */

struct dr_aws_client {
    const char *region;
    char endpoint[128];
    int verbose;
    int cred_calls;
    int cred_fail;
    int max_attempts;             /* 0: DR_AWS_MAX_ATTEMPTS */
    struct dr_retry_state *retry; /* NULL: no quota, no offset */
    struct dr_aws_credentials cred;
};

int dr_aws_client_verbose(const struct dr_aws_client *c)
{
    return c->verbose;
}

const char *dr_aws_client_region(const struct dr_aws_client *c)
{
    return c->region;
}

const char *dr_aws_signing_region(const struct dr_aws_client *c, const char *service)
{
    (void)service;
    return c->region;
}

int dr_aws_client_max_attempts(const struct dr_aws_client *c)
{
    return c && c->max_attempts ? c->max_attempts : DR_AWS_MAX_ATTEMPTS;
}

struct dr_retry_state *dr_aws_client_retry(const struct dr_aws_client *c)
{
    return c ? c->retry : NULL;
}

void dr_aws_client_timeouts(const struct dr_aws_client *c, long *connect_ms, long *read_s)
{
    (void)c;
    *connect_ms = *read_s = 0;
}

char *dr_aws_endpoint(const struct dr_aws_client *c, const char *service, int *custom)
{
    (void)service;
    *custom = 1;
    return c->endpoint[0] ? strdup(c->endpoint) : NULL;
}

const struct dr_aws_credentials *dr_aws_credentials_get(struct dr_aws_client *c,
                                                        struct dr_aws_error *err)
{
    c->cred_calls++;
    if (c->cred_fail) {
        dr_aws_fail(err, "AssumeRole", "arn:aws:iam::123456789012:role/ci", "AccessDenied",
                    "not authorized to perform sts:AssumeRole");
        err->status = 403;
        snprintf(err->request_id, sizeof err->request_id, "sts-req-1");
        return NULL;
    }
    return &c->cred;
}

static struct dr_aws_client client;
static char access_key_id[] = "AKIDEXAMPLE";
static char secret_access_key[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
static char session_token[] = "SESSIONTOKEN/EXAMPLE+=";
static int ready;
static char dir[] = "/tmp/dbtrun-test-aws-XXXXXX";

static void client_reset(int port)
{
    memset(&client, 0, sizeof client);
    client.region = "us-east-1";
    if (port > 0)
        snprintf(client.endpoint, sizeof client.endpoint, "http://127.0.0.1:%d", port);
    client.cred.access_key_id = access_key_id;
    client.cred.secret_access_key = secret_access_key;
    client.cred.session_token = session_token;
    snprintf(client.cred.provider, sizeof client.cred.provider, "test");
}

static void test_setup(void)
{
    char err[256] = "";
    setenv("no_proxy", "*", 1);
    setenv(DR_AWS_BACKOFF_ENV, "1", 1);
    setenv(DR_SIGV4_CLOCK_ENV, "20150830T123600Z", 1);
    unsetenv("AWS_CA_BUNDLE");
    ready = dr_dl_curl(err, sizeof err) == 0 && dr_dl_crypto(err, sizeof err) == 0 &&
            mkdtemp(dir) != NULL;
    if (!ready)
        printf("test_aws: network tests skipped (%s)\n", err);
}

/* ---- pure pieces ---------------------------------------------------------- */

static void test_retry_class(void)
{
    CHECK(dr_aws_retry_class(1, 0, NULL) == DR_AWS_RETRY_TRANSIENT);
    CHECK(dr_aws_retry_class(1, 200, NULL) == DR_AWS_RETRY_TRANSIENT); /* cut mid-body */
    CHECK(dr_aws_retry_class(0, 200, NULL) == DR_AWS_RETRY_NO);
    CHECK(dr_aws_retry_class(0, 204, "") == DR_AWS_RETRY_NO);
    for (long s = 500; s <= 504; s++)
        CHECK(dr_aws_retry_class(0, s, "Http500") ==
              (s == 501 ? DR_AWS_RETRY_NO : DR_AWS_RETRY_TRANSIENT));
    CHECK(dr_aws_retry_class(0, 429, "Http429") == DR_AWS_RETRY_THROTTLE);
    CHECK(dr_aws_retry_class(0, 503, "SlowDown") == DR_AWS_RETRY_THROTTLE);
    CHECK(dr_aws_retry_class(0, 400, "ThrottlingException") == DR_AWS_RETRY_THROTTLE);
    CHECK(dr_aws_retry_class(0, 400, "Throttling") == DR_AWS_RETRY_THROTTLE);
    CHECK(dr_aws_retry_class(0, 400, "RequestLimitExceeded") == DR_AWS_RETRY_THROTTLE);
    CHECK(dr_aws_retry_class(0, 400, "PriorRequestNotComplete") == DR_AWS_RETRY_THROTTLE);
    CHECK(dr_aws_retry_class(0, 400, "EC2ThrottledException") == DR_AWS_RETRY_THROTTLE);
    CHECK(dr_aws_retry_class(0, 400, "RequestTimeout") == DR_AWS_RETRY_TRANSIENT);
    CHECK(dr_aws_retry_class(0, 400, "RequestTimeoutException") == DR_AWS_RETRY_TRANSIENT);
    CHECK(dr_aws_retry_class(0, 400, "IDPCommunicationError") == DR_AWS_RETRY_TRANSIENT);
    /* never other 4xx, whatever the code */
    CHECK(dr_aws_retry_class(0, 400, "InvalidArgument") == DR_AWS_RETRY_NO);
    CHECK(dr_aws_retry_class(0, 403, "AccessDenied") == DR_AWS_RETRY_NO);
    CHECK(dr_aws_retry_class(0, 403, "SignatureDoesNotMatch") == DR_AWS_RETRY_NO);
    CHECK(dr_aws_retry_class(0, 404, "NoSuchKey") == DR_AWS_RETRY_NO);
    CHECK(dr_aws_retry_class(0, 412, NULL) == DR_AWS_RETRY_NO);
    CHECK(dr_aws_retry_class(0, 304, "Http304") == DR_AWS_RETRY_NO);
    CHECK(dr_aws_retry_class(0, 400, "throttling") == DR_AWS_RETRY_NO); /* codes are exact */
}

static void test_backoff(void)
{
    CHECK(dr_aws_backoff_ms(1, 0.5) == 500);
    CHECK(dr_aws_backoff_ms(2, 0.5) == 1000);
    CHECK(dr_aws_backoff_ms(3, 0.5) == 2000);
    CHECK(dr_aws_backoff_ms(5, 0.5) == 8000);
    CHECK(dr_aws_backoff_ms(6, 0.5) == 10000); /* 32 s capped at 20 s */
    CHECK(dr_aws_backoff_ms(1000, 0.5) == 10000);
    CHECK(dr_aws_backoff_ms(1, 0.0) == 0);
    CHECK(dr_aws_backoff_ms(0, 0.9) == 0);
    CHECK(dr_aws_backoff_ms(1, 0.999999) < 1000);
    CHECK(dr_aws_backoff_ms(30, 1.0) < DR_AWS_MAX_BACKOFF_MS);
    CHECK(dr_aws_backoff_ms(2, -3.0) == 0);
    CHECK(dr_aws_backoff_ms(2, nan("")) == 0);
}

/* A response built by hand for the parser. */
static struct dr_http_response response(long status, const char *body, ...)
{
    static struct dr_http_header headers[4];
    struct dr_http_response r = {0};
    va_list ap;
    const char *name;
    r.status = status;
    r.body = (char *)body;
    r.body_len = body ? strlen(body) : 0;
    r.headers = headers;
    va_start(ap, body);
    while (r.nheaders < 4 && (name = va_arg(ap, const char *))) {
        headers[r.nheaders].name = name;
        headers[r.nheaders].value = va_arg(ap, const char *);
        r.nheaders++;
    }
    va_end(ap);
    return r;
}

static void test_error_parse_xml(void)
{
    struct dr_aws_error e = {0};
    struct dr_http_response r =
        response(404,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                 "<Message>The specified key does not exist.</Message><Key>a&amp;b</Key>"
                 "<RequestId>4442587FB7D0A2F9</RequestId><HostId>host-id</HostId></Error>",
                 "x-amz-request-id", "HEADER-ID", NULL);
    dr_aws_error_parse(&r, "GET", &e);
    CHECK_STR(e.code, "NoSuchKey");
    CHECK_STR(e.message, "The specified key does not exist.");
    CHECK_STR(e.request_id, "4442587FB7D0A2F9");
    CHECK(e.status == 404);

    /* STS / CloudFront: ErrorResponse around Error, RequestId beside it */
    r = response(403,
                 "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                 "  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n"
                 "    <Message>User: arn:aws:iam::123456789012:user/ci is not authorized "
                 "to perform: sts:AssumeRole</Message>\n  </Error>\n"
                 "  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
                 "</ErrorResponse>\n",
                 NULL);
    dr_aws_error_parse(&r, "POST", &e);
    CHECK_STR(e.code, "AccessDenied");
    CHECK_STR(e.message, "User: arn:aws:iam::123456789012:user/ci is not authorized to "
                         "perform: sts:AssumeRole");
    CHECK_STR(e.request_id, "c6104cbe-af31-11e0-8154-cbc7ccf896c7");

    r = response(404,
                 "<?xml version=\"1.0\"?><ErrorResponse "
                 "xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Error><Type>Sender"
                 "</Type><Code>NoSuchDistribution</Code><Message>The specified distribution "
                 "does not exist.</Message></Error><RequestId>cf-1</RequestId></ErrorResponse>",
                 NULL);
    dr_aws_error_parse(&r, "POST", &e);
    CHECK_STR(e.code, "NoSuchDistribution");
    CHECK_STR(e.request_id, "cf-1");

    /* EC2 shape; and a request id from the header when the body has none */
    r = response(503,
                 "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request "
                 "limit exceeded.</Message></Error></Errors><RequestID>ec2-1</RequestID>"
                 "</Response>",
                 NULL);
    dr_aws_error_parse(&r, "POST", &e);
    CHECK_STR(e.code, "RequestLimitExceeded");
    CHECK_STR(e.request_id, "ec2-1");
    r = response(503,
                 "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message>"
                 "</Error>",
                 "X-Amz-Request-Id", "S3-HDR", NULL);
    dr_aws_error_parse(&r, "PUT", &e);
    CHECK_STR(e.code, "SlowDown");
    CHECK_STR(e.request_id, "S3-HDR");
}

static void test_error_parse_json_and_bare(void)
{
    struct dr_aws_error e = {0};
    struct dr_http_response r =
        response(400,
                 "{\"__type\":\"com.amazonaws.secretsmanager#ResourceNotFoundException\","
                 "\"Message\":\"Secrets Manager can't find the specified secret.\"}",
                 "x-amzn-RequestId", "sm-req-1", NULL);
    dr_aws_error_parse(&r, "POST", &e);
    CHECK_STR(e.code, "ResourceNotFoundException");
    CHECK_STR(e.message, "Secrets Manager can't find the specified secret.");
    CHECK_STR(e.request_id, "sm-req-1");

    r = response(400, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}", NULL);
    dr_aws_error_parse(&r, "POST", &e);
    CHECK_STR(e.code, "ThrottlingException");
    CHECK_STR(e.message, "Rate exceeded");

    /* restJson: the code only in x-amzn-errortype */
    r = response(429, "{\"message\":\"Too many\"}", "x-amzn-errortype",
                 "TooManyRequestsException:http://internal.amazon.com/coral/com.amazon.x/",
                 "x-amzn-requestid", "rj-1", NULL);
    dr_aws_error_parse(&r, "GET", &e);
    CHECK_STR(e.code, "TooManyRequestsException");
    CHECK_STR(e.message, "Too many");

    /* nothing to parse */
    r = response(404, "", "x-amz-request-id", "HEAD-1", NULL);
    dr_aws_error_parse(&r, "HEAD", &e);
    CHECK_STR(e.code, "NotFound");
    CHECK_STR(e.message, "Not Found");
    CHECK_STR(e.request_id, "HEAD-1");
    r = response(404, NULL, NULL);
    dr_aws_error_parse(&r, "GET", &e);
    CHECK_STR(e.code, "Http404");
    CHECK(e.request_id[0] == '\0'); /* nothing left from the last parse */
    r = response(403, "", NULL);
    dr_aws_error_parse(&r, "HEAD", &e);
    CHECK_STR(e.code, "Http403");
    CHECK_STR(e.message, "Forbidden");
    r = response(502, "<html><body>Bad gateway</body></html>", NULL);
    dr_aws_error_parse(&r, "GET", &e);
    CHECK_STR(e.code, "Http502");
    CHECK_STR(e.message, "Bad Gateway");
    r = response(500, "<Error><Code>Internal", NULL); /* cut short */
    dr_aws_error_parse(&r, "GET", &e);
    CHECK_STR(e.code, "Http500");
    r = response(400, "{not json", NULL);
    dr_aws_error_parse(&r, "POST", &e);
    CHECK_STR(e.code, "Http400");
    r = response(301, "", "x-amz-bucket-region", "eu-west-1", NULL);
    dr_aws_error_parse(&r, "HEAD", &e);
    CHECK_STR(e.code, "PermanentRedirect");
    CHECK(strstr(e.message, "eu-west-1") != NULL);
}

static void test_error_format(void)
{
    struct dr_aws_error e;
    char buf[1600];
    CHECK(dr_aws_fail(&e, "GetObject", "s3://b/k", "NoSuchKey", "The specified key %s.",
                      "does not exist") == -1);
    e.status = 404;
    snprintf(e.request_id, sizeof e.request_id, "X");
    dr_aws_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "GetObject s3://b/k: NoSuchKey (404): The specified key does not exist. "
                   "(request id X)");
    dr_aws_fail(&e, "GetSecretValue", NULL, "NetworkError", "Couldn't connect");
    dr_aws_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "GetSecretValue: NetworkError: Couldn't connect");
    dr_aws_fail(&e, NULL, "s3://b", "InvalidArgument", "%s", "");
    dr_aws_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "s3://b: InvalidArgument");
    dr_aws_fail(&e, NULL, NULL, NULL, "odd");
    dr_aws_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "Error: odd");
    /* a short buffer is cut, never overrun */
    dr_aws_fail(&e, "GetObject", "s3://b/k", "NoSuchKey", "long message");
    memset(buf, 'Z', sizeof buf);
    dr_aws_error_format(&e, buf, 12);
    CHECK_STR(buf, "GetObject s");
    CHECK(buf[12] == 'Z');
    /* a message that fills the field is cut, NUL-terminated */
    char big[2000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dr_aws_fail(&e, "Op", "t", "C", "%s", big);
    CHECK(strlen(e.message) == sizeof e.message - 1);
}

static void test_query_redact(void)
{
    char *q = dr_aws_query_redact("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F2015"
                                  "&X-Amz-Signature=abc&prefix=a%2Fb&X-Amz-Security-Token=zzz&"
                                  "uploads&continuation-token=t1&list-type=2");
    CHECK_STR(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED"
                 "&X-Amz-Signature=REDACTED&prefix=a%2Fb&X-Amz-Security-Token=REDACTED&"
                 "uploads&continuation-token=REDACTED&list-type=2");
    free(q);
    q = dr_aws_query_redact("");
    CHECK_STR(q, "");
    free(q);
    q = dr_aws_query_redact("a=1&&token&b=");
    CHECK_STR(q, "a=1&&token=REDACTED&b=");
    free(q);
}

/* ---- dr_aws_send over loopback -------------------------------------------- */

static char base[128];

static int start(struct lb_server *lb, const struct lb_step *steps, size_t n)
{
    if (!ready || lb_start(lb, steps, n) != 0)
        return -1;
    client_reset(lb->port);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", lb->port);
    return 0;
}

static void stop(struct lb_server *lb)
{
    dr_http_cleanup();
    lb_stop(lb);
}

/* The value of header `name` in an echoed request head, into out. */
static int echo_header(const char *echo, const char *name, char *out, size_t len)
{
    const char *end = echo ? strstr(echo, "\r\n\r\n") : NULL;
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *line = echo ? strstr(echo, "\r\n") : NULL; line && end && line < end;
         line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, n) == 0 && line[2 + n] == ':') {
            const char *v = line + 3 + n, *eol = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, len, "%.*s", (int)(eol - v), v);
            return 1;
        }
    }
    return 0;
}

static const char *echo_body(const char *echo)
{
    const char *end = echo ? strstr(echo, "\r\n\r\n") : NULL;
    return end ? end + 4 : "";
}

/* Requests the server answered before this one: its X-Req less one (the
 * script's next step must be LB_ECHO). -1 when that fails. */
static int requests_seen(void)
{
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    struct dr_aws_request r = {.service = "s3",
                               .op = "Probe",
                               .method = "GET",
                               .base_url = base,
                               .path = "/",
                               .no_auth = 1};
    int seen = -1;
    const char *v;
    if (dr_aws_send(&client, &r, &resp, &err) == 0 && (v = dr_http_header_get(&resp, "x-req")))
        seen = atoi(v) - 1;
    dr_http_response_free(&resp);
    return seen;
}

/* A canned reply (caller frees) with its Content-Length computed. */
static char *reply(const char *status_line, const char *body)
{
    size_t len = strlen(body) + 128;
    char *text = malloc(len);
    if (text)
        snprintf(text, len,
                 "HTTP/1.1 %s\r\nContent-Type: application/xml\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 status_line, strlen(body), body);
    return text;
}

/* A canned reply with an S3 <Error> body. */
static char *error_reply(const char *status_line, const char *code, const char *message)
{
    char body[512];
    snprintf(body, sizeof body,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
             "<Message>%s</Message><RequestId>REQ-%s</RequestId></Error>",
             code, message, code);
    return reply(status_line, body);
}

static void test_send_retries_then_succeeds(void)
{
    char *r503 = error_reply("503 Service Unavailable", "ServiceUnavailable", "Try again");
    char *r500 = error_reply("500 Internal Server Error", "InternalError", "Oops");
    char *throttle = reply("400 Bad Request",
                           "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                           "<Message>Rate exceeded</Message></Error><RequestId>t-1</RequestId>"
                           "</ErrorResponse>");
    struct lb_step steps[] = {{LB_REPLY, r503},     {LB_REPLY, r500}, {LB_ECHO, NULL},
                              {LB_REPLY, throttle}, {LB_ECHO, NULL},  {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    if (!r503 || !r500 || !throttle || start(&lb, steps, 6) != 0)
        goto out;
    struct dr_aws_request r = {.service = "s3",
                               .op = "GetObject",
                               .target = "s3://b/k",
                               .method = "GET",
                               .path = "/b/k",
                               .s3 = 1};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    CHECK(resp.status == 200);
    CHECK_STR(dr_http_header_get(&resp, "x-req"), "3");
    CHECK(client.cred_calls == 3); /* credentials asked for at each attempt */
    CHECK(err.code[0] == '\0');
    dr_http_response_free(&resp);

    /* a throttling code on a 400 is retried too */
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    CHECK_STR(dr_http_header_get(&resp, "x-req"), "5");
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 5);
    stop(&lb);
out:
    free(r503);
    free(r500);
    free(throttle);
}

static void test_send_gives_up(void)
{
    char *slow = error_reply("503 Slow Down", "SlowDown", "Reduce your request rate.");
    char *bad = error_reply("400 Bad Request", "InvalidArgument", "Invalid argument.");
    char *denied = error_reply("403 Forbidden", "AccessDenied", "Access Denied");
    struct lb_step steps[] = {{LB_REPLY, slow},   {LB_REPLY, slow}, {LB_REPLY, slow},
                              {LB_ECHO, NULL},    {LB_REPLY, bad},  {LB_ECHO, NULL},
                              {LB_REPLY, denied}, {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    char text[1600];
    if (!slow || !bad || !denied || start(&lb, steps, 8) != 0)
        goto out;
    struct dr_aws_request r = {.service = "s3",
                               .op = "PutObject",
                               .target = "s3://b/k",
                               .method = "PUT",
                               .path = "/b/k",
                               .body = "data",
                               .body_len = 4,
                               .s3 = 1};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "SlowDown");
    CHECK(err.status == 503 && resp.status == 503);
    CHECK_STR(err.op, "PutObject");
    CHECK_STR(err.target, "s3://b/k");
    CHECK_STR(err.request_id, "REQ-SlowDown");
    dr_aws_error_format(&err, text, sizeof text);
    CHECK_STR(text, "PutObject s3://b/k: SlowDown (503): Reduce your request rate. "
                    "(request id REQ-SlowDown)");
    CHECK(resp.body && strstr(resp.body, "<Code>SlowDown</Code>")); /* the last response */
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 3);

    /* a plain 4xx: one attempt only */
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "InvalidArgument");
    CHECK(err.status == 400);
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 5);
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "AccessDenied");
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 7);
    stop(&lb);
out:
    free(slow);
    free(bad);
    free(denied);
}

static void test_send_transport_retry_and_file(void)
{
    static const struct lb_step steps[] = {
        {LB_CLOSE, NULL},
        {LB_REPLY_CLOSE, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nPARTIAL-PARTIAL"},
        {LB_REPLY, "HTTP/1.1 200 OK\r\nETag: \"e1\"\r\nContent-Length: 4\r\n\r\nfull"}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    char out[320], buf[64] = "";
    if (start(&lb, steps, 3) != 0)
        return;
    snprintf(out, sizeof out, "%s/object", dir);
    struct dr_aws_request r = {.service = "s3",
                               .op = "GetObject",
                               .target = "s3://b/k",
                               .method = "GET",
                               .path = "/b/k",
                               .out_path = out,
                               .s3 = 1};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    CHECK(resp.status == 200 && resp.body_len == 0);
    CHECK_STR(dr_http_header_get(&resp, "etag"), "\"e1\"");
    FILE *f = fopen(out, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    CHECK_STR(buf, "full"); /* the partial attempt's bytes are gone */
    dr_http_response_free(&resp);
    unlink(out);
    stop(&lb);

    /* nobody listens: three attempts, then NetworkError */
    int port = lb_dead_port();
    client_reset(port);
    CHECK(port > 0 && dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "NetworkError");
    CHECK(err.status == 0);
    CHECK_STR(err.op, "GetObject");
    CHECK(strstr(err.message, "onnect") != NULL);
    CHECK(client.cred_calls == 3);
    dr_http_response_free(&resp);
    dr_http_cleanup();
}

static void test_send_json_and_head_errors(void)
{
    static const struct lb_step steps[] = {
        {LB_REPLY, "HTTP/1.1 400 Bad Request\r\nx-amzn-RequestId: sm-1\r\n"
                   "Content-Type: application/x-amz-json-1.1\r\nContent-Length: 118\r\n\r\n"
                   "{\"__type\":\"com.amazonaws.secretsmanager#ResourceNotFoundException\","
                   "\"Message\":\"Secrets Manager can't find the secret.\"}"},
        {LB_ECHO, NULL},
        {LB_REPLY, "HTTP/1.1 404 Not Found\r\nx-amz-request-id: H404\r\nContent-Length: 0\r\n\r\n"},
        {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    static const struct dr_http_header headers[] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", "secretsmanager.GetSecretValue"}};
    if (start(&lb, steps, 4) != 0)
        return;
    struct dr_aws_request r = {.service = "secretsmanager",
                               .op = "GetSecretValue",
                               .target = "prod/db",
                               .method = "POST",
                               .path = "/",
                               .headers = headers,
                               .nheaders = 2,
                               .body = "{\"SecretId\":\"prod/db\"}",
                               .body_len = 22};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "ResourceNotFoundException");
    CHECK_STR(err.message, "Secrets Manager can't find the secret.");
    CHECK_STR(err.request_id, "sm-1");
    CHECK_STR(err.target, "prod/db");
    CHECK(err.status == 400);
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 1);

    struct dr_aws_request head = {.service = "s3",
                                  .op = "HeadObject",
                                  .target = "s3://b/missing",
                                  .method = "HEAD",
                                  .path = "/b/missing",
                                  .s3 = 1};
    CHECK(dr_aws_send(&client, &head, &resp, &err) == -1);
    CHECK_STR(err.code, "NotFound");
    CHECK_STR(err.request_id, "H404");
    CHECK(err.status == 404);
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 3);
    stop(&lb);
}

/* Signs again, from what the server received, and compares: proves that
 * what went on the wire is what was signed (Host with its port included). */
static void check_signature(const char *echo, const char *service, unsigned flags,
                            const char *const *signed_names, size_t nsigned, const char *payload)
{
    char method[16] = "", target[512] = "", auth[512], date[32], values[8][256];
    struct dr_sigv4_header h[8];
    struct dr_sigv4_result sig = {0};
    time_t t = 0;
    CHECK(echo && sscanf(echo, "%15s %511s", method, target) == 2);
    CHECK(echo_header(echo, "authorization", auth, sizeof auth));
    CHECK(echo_header(echo, "x-amz-date", date, sizeof date) && dr_sigv4_parse_time(date, &t) == 0);
    for (size_t i = 0; i < nsigned && i < 8; i++) {
        CHECK(echo_header(echo, signed_names[i], values[i], sizeof values[i]));
        h[i] = (struct dr_sigv4_header){signed_names[i], values[i]};
    }
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    struct dr_sigv4_request req = {.method = method,
                                   .path = target,
                                   .query = q,
                                   .headers = h,
                                   .nheaders = nsigned,
                                   .payload_sha256 = payload};
    struct dr_sigv4_credentials cred = {client.cred.access_key_id, client.cred.secret_access_key,
                                        client.cred.session_token};
    struct dr_sigv4_params p = {
        .region = "us-east-1", .service = service, .time = t, .flags = flags};
    CHECK(dr_sigv4_sign(&req, &cred, &p, &sig, NULL, 0) == 0);
    CHECK_STR(auth, sig.authorization);
    dr_sigv4_result_free(&sig);
}

static void test_send_signed_wire(void)
{
    static const struct lb_step steps[] = {{LB_ECHO, NULL}, {LB_ECHO, NULL}, {LB_ECHO, NULL},
                                           {LB_ECHO, NULL}, {LB_ECHO, NULL}, {LB_ECHO, NULL},
                                           {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    char v[512], want[512], sha[65], path[320], custom[200];
    if (start(&lb, steps, 7) != 0)
        return;

    /* S3 PUT from memory, with a query and an encoded key */
    struct dr_http_header ct = {"Content-Type", "text/plain"};
    struct dr_aws_request r = {.service = "s3",
                               .op = "PutObject",
                               .target = "s3://bucket/a b.txt",
                               .method = "PUT",
                               .path = "/bucket/a%20b.txt",
                               .query = "x-id=PutObject&tagging=",
                               .headers = &ct,
                               .nheaders = 1,
                               .body = "hello",
                               .body_len = 5,
                               .s3 = 1};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    const char *echo = resp.body;
    CHECK(echo &&
          strncmp(echo, "PUT /bucket/a%20b.txt?x-id=PutObject&tagging= HTTP/1.1\r\n", 56) == 0);
    snprintf(want, sizeof want, "127.0.0.1:%d", lb.port);
    CHECK(echo_header(echo, "host", v, sizeof v) && strcmp(v, want) == 0);
    CHECK(echo_header(echo, "x-amz-date", v, sizeof v) && strcmp(v, "20150830T123600Z") == 0);
    CHECK(echo_header(echo, "x-amz-security-token", v, sizeof v) &&
          strcmp(v, "SESSIONTOKEN/EXAMPLE+=") == 0);
    dr_sigv4_sha256_hex("hello", 5, sha);
    CHECK(echo_header(echo, "x-amz-content-sha256", v, sizeof v) && strcmp(v, sha) == 0);
    CHECK(echo_header(echo, "authorization", v, sizeof v) &&
          strncmp(v,
                  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, "
                  "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
                  "x-amz-security-token, Signature=",
                  163) == 0);
    static const char *const s3_signed[] = {"host", "content-type"};
    check_signature(echo, "s3", DR_SIGV4_S3, s3_signed, 2, sha);
    CHECK(strcmp(echo_body(echo), "hello") == 0);
    dr_http_response_free(&resp);

    /* a generic service: JSON POST, no x-amz-content-sha256 header */
    static const struct dr_http_header json[] = {{"Content-Type", "application/x-amz-json-1.1"},
                                                 {"X-Amz-Target", "secretsmanager.GetSecretValue"}};
    struct dr_aws_request sm = {.service = "secretsmanager",
                                .op = "GetSecretValue",
                                .method = "POST",
                                .path = "/",
                                .headers = json,
                                .nheaders = 2,
                                .body = "{\"SecretId\":\"x\"}",
                                .body_len = 16};
    CHECK(dr_aws_send(&client, &sm, &resp, &err) == 0);
    CHECK(!echo_header(resp.body, "x-amz-content-sha256", v, sizeof v));
    dr_sigv4_sha256_hex("{\"SecretId\":\"x\"}", 16, sha);
    static const char *const sm_signed[] = {"host", "content-type", "x-amz-target"};
    check_signature(resp.body, "secretsmanager", 0, sm_signed, 3, sha);
    dr_http_response_free(&resp);

    /* streamed from a file slice: the payload hash is the slice's */
    snprintf(path, sizeof path, "%s/part", dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("0123456789abcdefghij", f);
        fclose(f);
    }
    struct dr_aws_request part = {.service = "s3",
                                  .op = "UploadPart",
                                  .method = "PUT",
                                  .path = "/bucket/big",
                                  .query = "partNumber=2&uploadId=u%2B1",
                                  .body_path = path,
                                  .body_offset = 10,
                                  .body_len = 6,
                                  .s3 = 1};
    CHECK(dr_aws_send(&client, &part, &resp, &err) == 0);
    dr_sigv4_sha256_hex("abcdef", 6, sha);
    CHECK(echo_header(resp.body, "x-amz-content-sha256", v, sizeof v) && strcmp(v, sha) == 0);
    CHECK(resp.body && strcmp(echo_body(resp.body), "abcdef") == 0);
    static const char *const host_only[] = {"host"};
    check_signature(resp.body, "s3", DR_SIGV4_S3, host_only, 1, sha);
    dr_http_response_free(&resp);
    unlink(path);

    /* a payload hash given by the caller is used as it is */
    part.body_path = NULL;
    part.body = "abcdef";
    part.payload_sha256 = "00000000000000000000000000000000000000000000000000000000000000ff";
    CHECK(dr_aws_send(&client, &part, &resp, &err) == 0);
    CHECK(echo_header(resp.body, "x-amz-content-sha256", v, sizeof v) &&
          strcmp(v, part.payload_sha256) == 0);
    check_signature(resp.body, "s3", DR_SIGV4_S3, host_only, 1, part.payload_sha256);
    dr_http_response_free(&resp);

    /* UNSIGNED-PAYLOAD; and a base URL with a path of its own */
    snprintf(custom, sizeof custom, "http://127.0.0.1:%d/prefix/", lb.port);
    struct dr_aws_request up = {.service = "s3",
                                .op = "PutObject",
                                .method = "PUT",
                                .base_url = custom,
                                .path = "/bucket/k",
                                .body = "xyz",
                                .body_len = 3,
                                .unsigned_payload = 1,
                                .s3 = 1};
    CHECK(dr_aws_send(&client, &up, &resp, &err) == 0);
    CHECK(resp.body && strncmp(resp.body, "PUT /prefix/bucket/k HTTP/1.1\r\n", 31) == 0);
    CHECK(echo_header(resp.body, "x-amz-content-sha256", v, sizeof v) &&
          strcmp(v, "UNSIGNED-PAYLOAD") == 0);
    check_signature(resp.body, "s3", DR_SIGV4_S3, host_only, 1, "UNSIGNED-PAYLOAD");
    dr_http_response_free(&resp);

    /* no_auth: nothing signed, no credentials asked for */
    int calls = client.cred_calls;
    struct dr_aws_request anon = {.service = "sts",
                                  .op = "AssumeRoleWithWebIdentity",
                                  .method = "POST",
                                  .path = "/",
                                  .body = "Action=AssumeRoleWithWebIdentity",
                                  .body_len = 32,
                                  .no_auth = 1};
    CHECK(dr_aws_send(&client, &anon, &resp, &err) == 0);
    /* the base without a path again: a thread's parsed base follows the URL */
    CHECK(resp.body && strncmp(resp.body, "POST / HTTP/1.1\r\n", 17) == 0);
    CHECK(!echo_header(resp.body, "authorization", v, sizeof v));
    CHECK(!echo_header(resp.body, "x-amz-date", v, sizeof v));
    CHECK(client.cred_calls == calls);
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 6);
    stop(&lb);
}

static void test_send_credentials_and_misuse(void)
{
    static const struct lb_step steps[] = {{LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    if (start(&lb, steps, 1) != 0)
        return;
    client.cred_fail = 1;
    struct dr_aws_request r = {.service = "s3",
                               .op = "GetObject",
                               .target = "s3://b/k",
                               .method = "GET",
                               .path = "/b/k",
                               .s3 = 1};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.op, "GetObject");
    CHECK_STR(err.target, "s3://b/k");
    CHECK_STR(err.code, "AccessDenied");
    CHECK(err.status == 0);
    CHECK_STR(err.message, "AssumeRole arn:aws:iam::123456789012:role/ci: AccessDenied (403): not "
                           "authorized to perform sts:AssumeRole (request id sts-req-1)");
    CHECK(client.cred_calls == 1); /* not retried */
    dr_http_response_free(&resp);
    client.cred_fail = 0;
    CHECK(requests_seen() == 0);

    /* misuse and configuration */
    r.path = "b/k";
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "InvalidArgument");
    dr_http_response_free(&resp);
    r.path = "/b/k";
    client.endpoint[0] = '\0';
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "ConfigError");
    dr_http_response_free(&resp);
    r.base_url = "not a url";
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "ConfigError");
    dr_http_response_free(&resp);
    setenv(DR_SIGV4_CLOCK_ENV, "yesterday", 1);
    r.base_url = base;
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "ConfigError");
    setenv(DR_SIGV4_CLOCK_ENV, "20150830T123600Z", 1);
    dr_http_response_free(&resp);
    r.body_path = "/nonexistent/body";
    r.body_len = 3;
    r.method = "PUT";
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "LocalError");
    CHECK(strstr(err.message, "/nonexistent/body") != NULL);
    dr_http_response_free(&resp);
    stop(&lb);
}

static void test_send_verbose_log(void)
{
    char *r503 = error_reply("503 Service Unavailable", "ServiceUnavailable", "busy");
    struct lb_step steps[] = {{LB_REPLY, r503}, {LB_ECHO, NULL}};
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    char log_path[320], log[4096] = "";
    if (!r503 || start(&lb, steps, 2) != 0)
        goto out;
    client.verbose = 1;
    snprintf(log_path, sizeof log_path, "%s/stderr", dir);
    struct dr_aws_request r = {.service = "s3",
                               .op = "ListObjectsV2",
                               .method = "GET",
                               .path = "/b",
                               .query = "list-type=2&X-Amz-Security-Token=zzz&prefix=p",
                               .s3 = 1};
    fflush(stderr);
    int saved = dup(2), fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0)
        goto out;
    dup2(fd, 2);
    int rc = dr_aws_send(&client, &r, &resp, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    CHECK(rc == 0);
    FILE *f = fopen(log_path, "r");
    size_t n = f ? fread(log, 1, sizeof log - 1, f) : 0;
    log[n] = '\0';
    if (f)
        fclose(f);
    CHECK(strstr(log, "ListObjectsV2 GET http://127.0.0.1:") != NULL);
    CHECK(strstr(log, "/b?list-type=2&X-Amz-Security-Token=REDACTED&prefix=p -> 503 "
                      "(attempt 1/3, ") != NULL);
    CHECK(strstr(log, "-> 200 (attempt 2/3, ") != NULL);
    CHECK(strstr(log, "retrying in 0 ms") != NULL);
    CHECK(strstr(log, "zzz") == NULL);
    CHECK(strstr(log, "AKIDEXAMPLE") == NULL);
    CHECK(strstr(log, "Signature") == NULL);
    CHECK(strstr(log, "SESSIONTOKEN") == NULL);
    dr_http_response_free(&resp);
    unlink(log_path);
    stop(&lb);
out:
    free(r503);
}

/* A canned reply whose headers include a Date. */
static char *dated_reply(const char *status_line, const char *date, const char *body)
{
    size_t len = strlen(body) + 192;
    char *text = malloc(len);
    if (text)
        snprintf(text, len,
                 "HTTP/1.1 %s\r\nDate: %s\r\nContent-Type: application/xml\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 status_line, date, strlen(body), body);
    return text;
}

static void test_send_retry_quota(void)
{
    char *r503 = error_reply("503 Service Unavailable", "ServiceUnavailable", "Try again");
    struct lb_step steps[] = {{LB_REPLY, r503}, {LB_REPLY, r503}, {LB_ECHO, NULL},
                              {LB_REPLY, r503}, {LB_ECHO, NULL},  {LB_REPLY, r503},
                              {LB_REPLY, r503}, {LB_REPLY, r503}, {LB_ECHO, NULL}};
    struct dr_retry_state rs;
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    if (!r503 || dr_retry_init(&rs, DR_RETRY_STANDARD) != 0)
        goto out;
    if (start(&lb, steps, 9) != 0)
        goto out_state;
    client.retry = &rs;
    rs.quota = 5; /* one retry's worth */
    struct dr_aws_request r = {
        .service = "s3", .op = "GetObject", .target = "s3://b/k", .method = "GET", .path = "/b/k"};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1); /* 503, retry (5 tokens), 503, no more */
    CHECK_STR(err.code, "ServiceUnavailable");
    CHECK(rs.quota == 0);
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 2);
    /* an empty quota: the first answer is final */
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 4);
    /* legacy mode has no quota, and five attempts when nothing says otherwise */
    rs.mode = DR_RETRY_LEGACY;
    client.max_attempts = 4;
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    CHECK_STR(dr_http_header_get(&resp, "x-req"), "9");
    dr_http_response_free(&resp);
    stop(&lb);
out_state:
    client.retry = NULL;
    dr_retry_destroy(&rs);
out:
    free(r503);
}

static void test_send_quota_refund(void)
{
    char *r500 = error_reply("500 Internal Server Error", "InternalError", "Oops");
    struct lb_step steps[] = {{LB_REPLY, r500}, {LB_ECHO, NULL}, {LB_ECHO, NULL}};
    struct dr_retry_state rs;
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    if (!r500 || dr_retry_init(&rs, DR_RETRY_ADAPTIVE) != 0)
        goto out;
    if (start(&lb, steps, 3) != 0)
        goto out_state;
    client.retry = &rs;
    rs.quota = 100;
    struct dr_aws_request r = {
        .service = "s3", .op = "GetObject", .target = "s3://b/k", .method = "GET", .path = "/b/k"};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    CHECK(rs.quota == 100); /* the retry's 5 tokens came back with its success */
    dr_http_response_free(&resp);
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    CHECK(rs.quota == 101); /* a first-time success adds one */
    dr_http_response_free(&resp);
    stop(&lb);
out_state:
    client.retry = NULL;
    dr_retry_destroy(&rs);
out:
    free(r500);
}

static void test_send_clock_skew(void)
{
    /* the test clock signs at 2015-08-30 12:36:00; the server lives an hour later */
    char *skewed = dated_reply(
        "403 Forbidden", "Sun, 30 Aug 2015 13:36:00 GMT",
        "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request "
        "time and the current time is too large.</Message></Error>");
    char *wrong = dated_reply("403 Forbidden", "Sun, 30 Aug 2015 13:36:10 GMT",
                              "<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message>"
                              "</Error>");
    char *later = dated_reply("403 Forbidden", "Sun, 30 Aug 2015 14:36:00 GMT",
                              "<Error><Code>RequestExpired</Code><Message>late</Message></Error>");
    char *latest = dated_reply("403 Forbidden", "Sun, 30 Aug 2015 15:36:00 GMT",
                               "<Error><Code>RequestExpired</Code><Message>late</Message></Error>");
    struct lb_step steps[] = {{LB_REPLY, skewed}, {LB_ECHO, NULL}, {LB_ECHO, NULL},
                              {LB_REPLY, wrong},  {LB_ECHO, NULL}, {LB_REPLY, later},
                              {LB_REPLY, latest}, {LB_ECHO, NULL}};
    struct dr_retry_state rs;
    struct lb_server lb;
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    char v[64];
    if (!skewed || !wrong || !later || !latest || dr_retry_init(&rs, DR_RETRY_STANDARD) != 0)
        goto out;
    if (start(&lb, steps, 8) != 0)
        goto out_state;
    client.retry = &rs;
    client.max_attempts = 1; /* the correction is not an attempt */
    struct dr_aws_request r = {
        .service = "s3", .op = "GetObject", .target = "s3://b/k", .method = "GET", .path = "/b/k"};
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    CHECK_STR(dr_http_header_get(&resp, "x-req"), "2");
    CHECK(echo_header(resp.body, "x-amz-date", v, sizeof v));
    CHECK_STR(v, "20150830T133600Z");
    CHECK(rs.skew_s == 3600);
    dr_http_response_free(&resp);
    /* the offset stays with the client: the next request is right at once */
    CHECK(dr_aws_send(&client, &r, &resp, &err) == 0);
    CHECK(echo_header(resp.body, "x-amz-date", v, sizeof v));
    CHECK_STR(v, "20150830T133600Z");
    dr_http_response_free(&resp);
    /* a wrong signature from a server whose clock agrees (10 s) is final */
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "SignatureDoesNotMatch");
    CHECK(rs.skew_s == 3600);
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 4);
    /* skewed again after the correction: corrected once per request, no more */
    CHECK(dr_aws_send(&client, &r, &resp, &err) == -1);
    CHECK_STR(err.code, "RequestExpired");
    CHECK(rs.skew_s == 7200); /* the first answer moved it; the second is not acted on */
    dr_http_response_free(&resp);
    CHECK(requests_seen() == 7);
    stop(&lb);
out_state:
    client.retry = NULL;
    dr_retry_destroy(&rs);
out:
    free(skewed);
    free(wrong);
    free(later);
    free(latest);
}

static void test_teardown(void)
{
    if (ready)
        rmdir(dir);
    dr_http_cleanup();
}

TEST_MAIN(test_setup, test_retry_class, test_backoff, test_error_parse_xml,
          test_error_parse_json_and_bare, test_error_format, test_query_redact,
          test_send_retries_then_succeeds, test_send_gives_up, test_send_transport_retry_and_file,
          test_send_json_and_head_errors, test_send_signed_wire, test_send_credentials_and_misuse,
          test_send_verbose_log, test_send_retry_quota, test_send_quota_refund,
          test_send_clock_skew, test_teardown)
