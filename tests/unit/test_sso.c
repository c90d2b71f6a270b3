/* Unit tests for src/aws/sso.c: the token cache (the AWS CLI's file names,
 * parse, JSON, atomic 0600 writes) and the portal and OIDC calls against the
 * loopback server (answers read, the bearer header and JSON bodies sent,
 * OAuth errors as codes). */
#include "harness.h"
#include "loopback.h"
#include "dbtrun/dl.h"
#include "dbtrun/fs.h"
#include "dbtrun/http.h"
#include "dbtrun/sso.h"
#include "dbtrun/wipe.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[] = "/tmp/dbtrun-test-sso-XXXXXX";
static int ready;

static void setup(void)
{
    char msg[256] = "";
    setenv("no_proxy", "*", 1);
    ready = dr_dl_curl(msg, sizeof msg) == 0 && dr_dl_crypto(msg, sizeof msg) == 0 &&
            mkdtemp(dir) != NULL;
    if (!ready)
        MISSING("libcurl/libcrypto for the SSO tests (%s)", msg);
}

static const char *home_env(void *ud, const char *name)
{
    return strcmp(name, "HOME") == 0 ? ud : NULL;
}

static void test_cache_name(void)
{
    char name[DR_SSO_CACHE_NAME_MAX], err[200] = "";
    if (!ready)
        return;
    /* the names in the smithy-rs cases, which the AWS CLI computes the same way */
    CHECK(dr_sso_cache_name("dev", name) == 0);
    CHECK_STR(name, "34c6fceca75e456f25e7e99531e2425c6c1de443.json");
    CHECK(dr_sso_cache_name("https://ssotest.awsapps.com/start", name) == 0);
    CHECK_STR(name, "dace00cba5f8355ec9d274ceb2bcebdfbeed0e12.json");
    struct dr_settings_env env = {home_env, (void *)"/home/u/"};
    char *path = dr_sso_cache_path(&env, "dev", err, sizeof err);
    CHECK_STR(path, "/home/u/.aws/sso/cache/34c6fceca75e456f25e7e99531e2425c6c1de443.json");
    free(path);
    struct dr_settings_env nohome = {NULL, NULL};
    unsetenv("HOME");
    unsetenv("USERPROFILE");
    CHECK(dr_sso_cache_path(&nohome, "dev", err, sizeof err) == NULL);
    CHECK(strstr(err, "HOME") != NULL);
}

static void test_token_parse(void)
{
    const char *full =
        "{\"accessToken\": \"at-secret\", \"expiresAt\": \"2199-11-14T04:05:45Z\","
        " \"refreshToken\": \"rt-secret\", \"clientId\": \"cid\","
        " \"clientSecret\": \"cs-secret\","
        " \"registrationExpiresAt\": \"2199-03-06T19:53:17Z\","
        " \"region\": \"us-east-1\", \"startUrl\": \"https://d-1.awsapps.com/start\"}";
    struct dr_sso_token t;
    char err[200] = "";
    CHECK(dr_sso_token_parse(full, strlen(full), &t, err, sizeof err) == 0);
    CHECK_STR(t.access_token, "at-secret");
    CHECK_STR(t.refresh_token, "rt-secret");
    CHECK_STR(t.client_id, "cid");
    CHECK_STR(t.client_secret, "cs-secret");
    CHECK_STR(t.region, "us-east-1");
    CHECK_STR(t.start_url, "https://d-1.awsapps.com/start");
    CHECK(t.expires_at == 7253985945);
    CHECK(t.registration_expires_at > t.expires_at - 365L * 86400);
    /* the JSON written back parses to the same token, with the CLI's names */
    char *json = dr_sso_token_json(&t);
    struct dr_sso_token back;
    CHECK(json && strstr(json, "\"expiresAt\":\"2199-11-14T04:05:45Z\""));
    CHECK(json && dr_sso_token_parse(json, strlen(json), &back, err, sizeof err) == 0);
    CHECK_STR(back.access_token, "at-secret");
    CHECK_STR(back.client_secret, "cs-secret");
    CHECK(back.registration_expires_at == t.registration_expires_at);
    dr_sso_token_free(&back);
    dr_free_secret(json);
    dr_sso_token_free(&t);
    CHECK(t.access_token == NULL);
    /* the legacy form has the token alone */
    const char *legacy = "{\"accessToken\": \"a\", \"expiresAt\": \"2080-10-16T03:56:45Z\"}";
    CHECK(dr_sso_token_parse(legacy, strlen(legacy), &t, err, sizeof err) == 0);
    CHECK(t.refresh_token == NULL && t.client_id == NULL && t.registration_expires_at == 0);
    dr_sso_token_free(&t);
    /* broken caches: said so, never quoted */
    const char *bad[] = {"[]", "{\"accessToken\": \"tok-x\"}",
                         "{\"accessToken\": \"tok-x\", \"expiresAt\": \"soon\"}", "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(dr_sso_token_parse(bad[i], strlen(bad[i]), &t, err, sizeof err) == -1);
        CHECK(err[0] && !strstr(err, "tok-x"));
        CHECK(t.access_token == NULL);
    }
}

static void test_token_save_load(void)
{
    if (!ready)
        return;
    char path[512], err[300] = "";
    struct dr_sso_token t = {0}, back;
    struct stat st;
    snprintf(path, sizeof path, "%s/home/.aws/sso/cache/x.json", dir);
    CHECK(dr_sso_token_load(path, &back, err, sizeof err) == 1); /* missing */
    t.access_token = strdup("at");
    t.expires_at = 2000000000;
    CHECK(dr_sso_token_save(path, &t) == 0);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(dr_sso_token_load(path, &back, err, sizeof err) == 0);
    CHECK_STR(back.access_token, "at");
    CHECK(back.expires_at == 2000000000);
    dr_sso_token_free(&back);
    dr_sso_token_free(&t);
    CHECK(dr_fs_write_atomic(path, "{\"accessToken\": 1}", 18, 0600) == 0);
    CHECK(dr_sso_token_load(path, &back, err, sizeof err) == -1);
    CHECK(strstr(err, path) && strstr(err, "expiresAt"));
}

/* ---- the calls over loopback ---------------------------------------------------- */

static char reply[4][2048];

static const char *answer(int slot, int status, const char *json)
{
    snprintf(reply[slot], sizeof reply[slot],
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             status, strlen(json), json);
    return reply[slot];
}

static void base_url(const struct lb_server *lb, char *url, size_t len)
{
    snprintf(url, len, "http://127.0.0.1:%d", lb->port);
}

static void test_get_role_credentials(void)
{
    if (!ready)
        return;
    struct lb_server lb = {0};
    struct lb_step steps[] = {
        {LB_ECHO, NULL},
        {LB_REPLY_CLOSE,
         answer(0, 200,
                "{\"roleCredentials\":{\"accessKeyId\":\"ASIA1\",\"secretAccessKey\":\"s1\","
                "\"sessionToken\":\"t1\",\"expiration\":1651516560000}}")}};
    struct dr_aws_credentials cred;
    struct dr_aws_error err;
    char url[64];
    CHECK(lb_start(&lb, steps, 2) == 0);
    base_url(&lb, url, sizeof url);
    /* an answer without roleCredentials (the echo of the request) is an error */
    CHECK(dr_sso_get_role_credentials(NULL, url, "bearer-tok", "0123", "Admin Role", &cred, &err) ==
          -1);
    CHECK_STR(err.op, "GetRoleCredentials");
    CHECK(dr_sso_get_role_credentials(NULL, url, "bearer-tok", "0123", "Admin Role", &cred, &err) ==
          0);
    CHECK_STR(cred.access_key_id, "ASIA1");
    CHECK_STR(cred.session_token, "t1");
    CHECK(cred.expiration == 1651516560);
    dr_aws_credentials_free(&cred);
    dr_http_cleanup();
    lb_stop(&lb);
}

static void test_create_token_errors(void)
{
    if (!ready)
        return;
    struct lb_server lb = {0};
    struct lb_step steps[] = {
        {LB_REPLY, answer(0, 400, "{\"error\":\"authorization_pending\"}")},
        {LB_REPLY, answer(1, 400, "{\"error\":\"slow_down\",\"error_description\":\"easy\"}")},
        {LB_REPLY_CLOSE, answer(2, 200,
                                "{\"accessToken\":\"new-at\",\"expiresIn\":3600,"
                                "\"refreshToken\":\"new-rt\",\"tokenType\":\"Bearer\"}")}};
    struct dr_sso_client reg = {(char *)"cid", (char *)"csecret", 0};
    struct dr_sso_token tok = {0};
    struct dr_aws_error err;
    char url[64];
    CHECK(lb_start(&lb, steps, 3) == 0);
    base_url(&lb, url, sizeof url);
    CHECK(dr_sso_create_token(NULL, url, DR_SSO_GRANT_DEVICE, &reg, "dev-code", 1000, &tok, &err) ==
          -1);
    CHECK_STR(err.code, "authorization_pending");
    CHECK(dr_sso_create_token(NULL, url, DR_SSO_GRANT_DEVICE, &reg, "dev-code", 1000, &tok, &err) ==
          -1);
    CHECK_STR(err.code, "slow_down");
    CHECK_STR(err.message, "easy");
    CHECK(!strstr(err.message, "csecret") && !strstr(err.message, "dev-code"));
    CHECK(dr_sso_create_token(NULL, url, DR_SSO_GRANT_REFRESH, &reg, "old-rt", 1000, &tok, &err) ==
          0);
    CHECK_STR(tok.access_token, "new-at");
    CHECK_STR(tok.refresh_token, "new-rt");
    CHECK(tok.expires_at == 4600);
    dr_sso_token_free(&tok);
    dr_http_cleanup();
    lb_stop(&lb);
}

static void teardown(void)
{
    if (ready)
        CHECK(dr_fs_rm_rf(dir) == 0);
}

TEST_MAIN(setup, test_cache_name, test_token_parse, test_token_save_load, test_get_role_credentials,
          test_create_token_errors, teardown)
