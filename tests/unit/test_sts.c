/* Unit tests for src/aws/sts.c: the form bodies and answers (pure), then the
 * three calls through a real client against the loopback server: answers
 * read, AWS's errors passed on with the operation and the role, and web
 * identity sent unsigned (it works with no credentials at all). */
#include "harness.h"
#include "loopback.h"
#include "dbtrun/creds.h"
#include "dbtrun/dl.h"
#include "dbtrun/http.h"
#include "dbtrun/sts.h"
#include "dbtrun/fs.h"

#include <stdlib.h>
#include <string.h>

static void test_sts_form(void)
{
    struct dr_sts_role_params p = {.role_arn = "arn:aws:iam::123456789012:role/ci",
                                   .external_id = "ext id",
                                   .duration_seconds = "900"};
    char *body = dr_sts_form("AssumeRole", &p, "dbtrun-1");
    CHECK_STR(body, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
                    "123456789012%3Arole%2Fci&RoleSessionName=dbtrun-1&ExternalId=ext%20id&"
                    "DurationSeconds=900");
    dr_sts_free_body(body);
    p = (struct dr_sts_role_params){.role_arn = "arn:r", .web_identity_token = "a.b+c/d="};
    body = dr_sts_form("AssumeRoleWithWebIdentity", &p, "s");
    CHECK_STR(body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Ar&"
                    "RoleSessionName=s&WebIdentityToken=a.b%2Bc%2Fd%3D");
    dr_sts_free_body(body);
    p = (struct dr_sts_role_params){.role_arn = "arn:r",
                                    .serial_number = "arn:aws:iam::123456789012:mfa/alice",
                                    .token_code = "123456"};
    body = dr_sts_form("AssumeRole", &p, "s");
    CHECK_STR(body,
              "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Ar&RoleSessionName=s&"
              "SerialNumber=arn%3Aaws%3Aiam%3A%3A123456789012%3Amfa%2Falice&TokenCode=123456");
    dr_sts_free_body(body);
}

static void test_sts_parse(void)
{
    const char *xml = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                      "<AssumeRoleResult><AssumedRoleUser><Arn>arn:x</Arn></AssumedRoleUser>"
                      "<Credentials><AccessKeyId>ASIA1</AccessKeyId>"
                      "<SecretAccessKey>sk&amp;1</SecretAccessKey>"
                      "<SessionToken>tok</SessionToken>"
                      "<Expiration>2021-09-21T18:41:26Z</Expiration></Credentials>"
                      "</AssumeRoleResult></AssumeRoleResponse>";
    struct dr_aws_credentials c;
    char err[200];
    CHECK(dr_sts_parse_credentials(xml, strlen(xml), &c, err, sizeof err) == 0);
    CHECK_STR(c.access_key_id, "ASIA1");
    CHECK_STR(c.secret_access_key, "sk&1");
    CHECK_STR(c.session_token, "tok");
    CHECK(c.expiration == 1632249686);
    dr_aws_credentials_free(&c);
    const char *bad[] = {"<AssumeRoleResponse><AssumeRoleResult/></AssumeRoleResponse>",
                         "<a><Credentials><AccessKeyId>A</AccessKeyId></Credentials></a>",
                         "<a><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S"
                         "</SecretAccessKey><SessionToken>T</SessionToken><Expiration>soon"
                         "</Expiration></Credentials></a>",
                         "not xml"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(dr_sts_parse_credentials(bad[i], strlen(bad[i]), &c, err, sizeof err) == -1);
        CHECK(c.access_key_id == NULL && err[0]);
    }
}

/* ---- the calls over loopback ------------------------------------------------ */

static char dir[] = "/tmp/dbtrun-test-sts-XXXXXX";
static int ready;
static int with_keys; /* the environment holds static keys */

static const char *test_env(void *ud, const char *name)
{
    (void)ud;
    if (strcmp(name, "HOME") == 0)
        return dir;
    if (strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0)
        return "true";
    if (with_keys && strcmp(name, "AWS_ACCESS_KEY_ID") == 0)
        return "AKIDEXAMPLE";
    if (with_keys && strcmp(name, "AWS_SECRET_ACCESS_KEY") == 0)
        return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    return NULL;
}

static struct dr_aws_client *client_at(const struct lb_server *lb, int keys)
{
    char url[64];
    struct dr_aws_client *c = NULL;
    struct dr_settings_env env = {test_env, NULL};
    struct dr_aws_client_opts opts = {
        .region = "eu-west-1", .endpoint_url = url, .max_attempts = 1};
    struct dr_aws_error err;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", lb->port);
    with_keys = keys;
    CHECK(dr_aws_client_new_env(&opts, &env, &c, &err) == 0);
    return c;
}

static char reply[2048];

static const char *answer(int status, const char *xml)
{
    snprintf(reply, sizeof reply,
             "HTTP/1.1 %d %s\r\nContent-Type: text/xml\r\nx-amzn-RequestId: req-7\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             status, status == 200 ? "OK" : "Forbidden", strlen(xml), xml);
    return reply;
}

static void test_get_caller_identity(void)
{
    if (!ready)
        return;
    struct lb_server lb = {0};
    struct lb_step steps[] = {
        {LB_REPLY_CLOSE,
         answer(200, "<GetCallerIdentityResponse><GetCallerIdentityResult>"
                     "<Arn>arn:aws:iam::123456789012:user/ci</Arn><UserId>AIDA1</UserId>"
                     "<Account>123456789012</Account></GetCallerIdentityResult>"
                     "</GetCallerIdentityResponse>")}};
    CHECK(lb_start(&lb, steps, 1) == 0);
    struct dr_aws_client *c = client_at(&lb, 1);
    char *account = NULL, *arn = NULL, *user = NULL;
    struct dr_aws_error err;
    CHECK(dr_sts_get_caller_identity(c, &account, &arn, &user, &err) == 0);
    CHECK_STR(account, "123456789012");
    CHECK_STR(arn, "arn:aws:iam::123456789012:user/ci");
    CHECK_STR(user, "AIDA1");
    free(account);
    free(arn);
    free(user);
    dr_aws_client_free(c);
    dr_http_cleanup();
    lb_stop(&lb);
}

static void test_assume_role_answer_and_error(void)
{
    if (!ready)
        return;
    static char ok[2048];
    struct lb_server lb = {0};
    snprintf(ok, sizeof ok, "%s",
             answer(200, "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
                         "<AccessKeyId>ASIA2</AccessKeyId><SecretAccessKey>s2</SecretAccessKey>"
                         "<SessionToken>t2</SessionToken>"
                         "<Expiration>2030-01-02T03:04:05Z</Expiration></Credentials>"
                         "</AssumeRoleResult></AssumeRoleResponse>"));
    struct lb_step steps[] = {
        {LB_REPLY, ok},
        {LB_REPLY_CLOSE,
         answer(403, "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                     "<Message>not authorized to perform sts:AssumeRole</Message></Error>"
                     "<RequestId>req-7</RequestId></ErrorResponse>")}};
    CHECK(lb_start(&lb, steps, 2) == 0);
    struct dr_aws_client *c = client_at(&lb, 1);
    struct dr_sts_role_params p = {.role_arn = "arn:aws:iam::123456789012:role/deploy"};
    struct dr_aws_credentials cred = {0};
    struct dr_aws_error err;
    CHECK(dr_sts_assume_role(c, &p, &cred, &err) == 0);
    CHECK_STR(cred.access_key_id, "ASIA2");
    CHECK_STR(cred.session_token, "t2");
    CHECK(cred.expiration == 1893553445);
    dr_aws_credentials_free(&cred);
    CHECK(dr_sts_assume_role(c, &p, &cred, &err) == -1);
    CHECK_STR(err.code, "AccessDenied");
    CHECK_STR(err.op, "AssumeRole");
    CHECK(err.status == 403);
    CHECK(strstr(err.target, "role/deploy") != NULL);
    CHECK(strstr(err.message, "not authorized") != NULL);
    CHECK(cred.access_key_id == NULL);
    dr_aws_client_free(c);
    dr_http_cleanup();
    lb_stop(&lb);
}

static void test_web_identity_needs_no_credentials(void)
{
    if (!ready)
        return;
    struct lb_server lb = {0};
    struct lb_step steps[] = {
        {LB_REPLY_CLOSE,
         answer(200, "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
                     "<Credentials><AccessKeyId>ASIA3</AccessKeyId>"
                     "<SecretAccessKey>s3</SecretAccessKey><SessionToken>t3</SessionToken>"
                     "<Expiration>2030-01-02T03:04:05Z</Expiration></Credentials>"
                     "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>")}};
    CHECK(lb_start(&lb, steps, 1) == 0);
    struct dr_aws_client *c = client_at(&lb, 0); /* no keys anywhere: signing would fail */
    struct dr_sts_role_params p = {.role_arn = "arn:aws:iam::123456789012:role/ci",
                                   .web_identity_token = "eyJ.token.sig"};
    struct dr_aws_credentials cred = {0};
    struct dr_aws_error err;
    CHECK(dr_sts_assume_role_with_web_identity(c, &p, &cred, &err) == 0);
    CHECK_STR(cred.access_key_id, "ASIA3");
    dr_aws_credentials_free(&cred);
    dr_aws_client_free(c);
    dr_http_cleanup();
    lb_stop(&lb);
}

static void test_unreadable_answer(void)
{
    if (!ready)
        return;
    struct lb_server lb = {0};
    struct lb_step steps[] = {{LB_REPLY_CLOSE, answer(200, "<html>captive portal</html>")}};
    CHECK(lb_start(&lb, steps, 1) == 0);
    struct dr_aws_client *c = client_at(&lb, 1);
    struct dr_sts_role_params p = {.role_arn = "arn:aws:iam::123456789012:role/ci"};
    struct dr_aws_credentials cred = {0};
    struct dr_aws_error err;
    CHECK(dr_sts_assume_role(c, &p, &cred, &err) == -1);
    CHECK_STR(err.op, "AssumeRole");
    CHECK(err.message[0] != '\0');
    CHECK(cred.access_key_id == NULL);
    dr_aws_client_free(c);
    dr_http_cleanup();
    lb_stop(&lb);
}

static void setup(void)
{
    char msg[256] = "";
    setenv("no_proxy", "*", 1);
    ready = dr_dl_curl(msg, sizeof msg) == 0 && dr_dl_crypto(msg, sizeof msg) == 0 &&
            mkdtemp(dir) != NULL;
    if (!ready)
        MISSING("libcurl/libcrypto for the loopback tests (%s)", msg);
}

static void teardown(void)
{
    if (ready)
        CHECK(dr_fs_rm_rf(dir) == 0);
}

TEST_MAIN(test_sts_form, test_sts_parse, setup, test_get_caller_identity,
          test_assume_role_answer_and_error, test_web_identity_needs_no_credentials,
          test_unreadable_answer, teardown)
