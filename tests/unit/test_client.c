/* Unit tests for client.c, creds.c and sts.c without a network: region,
 * profile and endpoint resolution from a given environment and config, the
 * IMDS / ECS address rules and the profile-chain rules (the smithy-rs suites
 * from DR_TESTDATA or ../shared/testdata, skipped when absent), times and
 * refresh decisions, credential_process output, STS bodies and answers, and
 * the client's cache. */
#include "harness.h"
#include "procs.h"
#include "testdata.h"

#include "dbtrun/aws.h"
#include "dbtrun/creds.h"
#include "dbtrun/isotime.h"
#include "dbtrun/ini.h"
#include "dbtrun/wipe.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------ */

/* Environment lookups from a NULL-terminated array of "NAME=value". */
static const char *fake_getenv(void *ud, const char *name)
{
    const char *const *v = ud;
    size_t n = strlen(name);
    for (; v && *v; v++)
        if (strncmp(*v, name, n) == 0 && (*v)[n] == '=')
            return *v + n + 1;
    return NULL;
}

#define ENVS(...) ((const char *[]){__VA_ARGS__, NULL})
#define ENV_OF(arr) ((struct dr_settings_env){fake_getenv, (void *)(arr)})

static void ini_from(struct dr_ini *ini, const char *config, const char *credentials)
{
    memset(ini, 0, sizeof *ini);
    if (config)
        CHECK(dr_ini_parse(ini, DR_INI_CONFIG, config, strlen(config), "config", NULL) ==
              DR_INI_OK);
    if (credentials)
        CHECK(dr_ini_parse(ini, DR_INI_CREDENTIALS, credentials, strlen(credentials), "credentials",
                           NULL) == DR_INI_OK);
}

/* A JSON object of strings as a NULL-terminated "NAME=value" array (freed
 * with free_env). */
static char **env_from_json(const cJSON *obj)
{
    int n = cJSON_GetArraySize(obj), i = 0;
    char **out = calloc((size_t)n + 1, sizeof *out);
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        size_t len = strlen(it->string) + strlen(it->valuestring) + 2;
        out[i] = malloc(len);
        snprintf(out[i++], len, "%s=%s", it->string, it->valuestring);
    }
    return out;
}

static void free_env(char **env)
{
    for (char **p = env; p && *p; p++)
        free(*p);
    free(env);
}

static char *endpoint(const char *service, const char *explicit_url, const char **vars,
                      const char *config, const char *profile, const char *region, int *custom)
{
    struct dr_ini ini;
    struct dr_settings_env env = ENV_OF(vars);
    ini_from(&ini, config, NULL);
    char *url = dr_settings_endpoint(service, explicit_url, &env, &ini,
                                     dr_ini_profile(&ini, profile ? profile : "default"),
                                     region ? region : "us-east-1", custom);
    dr_ini_free(&ini);
    return url;
}

#define CHECK_ENDPOINT(want, want_custom, ...)                                                     \
    do {                                                                                           \
        int custom_ = -1;                                                                          \
        char *got_ = endpoint(__VA_ARGS__, &custom_);                                              \
        CHECK_STR(got_, want);                                                                     \
        CHECK(custom_ == (want_custom));                                                           \
        free(got_);                                                                                \
    } while (0)

/* ---- region --------------------------------------------------------------------- */

static void test_region(void)
{
    struct dr_ini ini;
    ini_from(&ini, "[default]\nregion = eu-central-1\n[profile dev]\nregion = ap-south-1\n", NULL);
    const struct dr_ini_section *def = dr_ini_profile(&ini, "default");
    struct dr_settings_env both =
        ENV_OF(ENVS("AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=us-west-2"));
    struct dr_settings_env legacy = ENV_OF(ENVS("AWS_DEFAULT_REGION=us-west-2"));
    struct dr_settings_env blank = ENV_OF(ENVS("AWS_REGION= ", "AWS_DEFAULT_REGION="));
    struct dr_settings_env none = ENV_OF(ENVS("HOME=/x"));
    CHECK_STR(dr_settings_region("sa-east-1", &both, def), "sa-east-1");
    CHECK_STR(dr_settings_region(NULL, &both, def), "eu-west-1");
    CHECK_STR(dr_settings_region("", &legacy, def), "us-west-2");
    CHECK_STR(dr_settings_region(NULL, &blank, def), "eu-central-1");
    CHECK_STR(dr_settings_region(NULL, &none, dr_ini_profile(&ini, "dev")), "ap-south-1");
    CHECK_STR(dr_settings_region(NULL, &none, NULL), "us-east-1");
    CHECK(dr_settings_region_valid("eu-west-1"));
    CHECK(dr_settings_region_valid("us-gov-west-1"));
    CHECK(!dr_settings_region_valid("EU-WEST-1"));
    CHECK(!dr_settings_region_valid("evil.com/x"));
    CHECK(!dr_settings_region_valid(""));
    CHECK(!dr_settings_region_valid("-a"));
    CHECK(!dr_settings_region_valid("a b"));
    dr_ini_free(&ini);
}

/* ---- the region when nothing names one ------------------------------------------ */

static int region_calls;
static const char *region_answer;

static char *fake_region(const struct dr_settings_env *env, const struct dr_ini_section *profile,
                         int verbose)
{
    (void)env;
    (void)profile;
    (void)verbose;
    region_calls++;
    return region_answer ? strdup(region_answer) : NULL;
}

static void test_region_source(void)
{
    const char *homeless[] = {"AWS_EC2_METADATA_DISABLED=true", NULL};
    const char *named[] = {"AWS_DEFAULT_REGION=ap-south-1", NULL};
    struct dr_settings_env env = ENV_OF(homeless), env_named = ENV_OF(named);
    struct dr_aws_client *c = NULL, *d = NULL;
    struct dr_aws_error err;
    int custom;
    region_calls = 0;
    region_answer = "eu-west-3";
    CHECK(dr_settings_region_named(NULL, &env, NULL) == NULL);
    CHECK(dr_aws_client_create(NULL, &env, NULL, &c, &err) == 0);
    dr_aws_client_region_source(c, fake_region);
    CHECK(region_calls == 0); /* nothing asked until the region is needed */
    char *url = dr_aws_endpoint(c, "s3", &custom);
    CHECK_STR(url, "https://s3.eu-west-3.amazonaws.com");
    free(url);
    CHECK_STR(dr_aws_client_region(c), "eu-west-3");
    CHECK_STR(dr_aws_signing_region(c, "sts"), "eu-west-3");
    CHECK(dr_aws_client_derive(c, NULL, &d) == 0);
    CHECK_STR(dr_aws_client_region(d), "eu-west-3");
    dr_aws_client_free(d);
    CHECK(region_calls == 1); /* once per client */
    dr_aws_client_free(c);

    /* a named region: never asked */
    CHECK(dr_aws_client_create(NULL, &env_named, NULL, &c, &err) == 0);
    dr_aws_client_region_source(c, fake_region);
    CHECK_STR(dr_aws_client_region(c), "ap-south-1");
    CHECK(region_calls == 1);
    dr_aws_client_free(c);
    struct dr_aws_client_opts opts = {.region = "sa-east-1"};
    CHECK(dr_aws_client_create(&opts, &env, NULL, &c, &err) == 0);
    dr_aws_client_region_source(c, fake_region);
    CHECK_STR(dr_aws_client_region(c), "sa-east-1");
    CHECK(region_calls == 1);
    dr_aws_client_free(c);

    /* no answer, or one unfit for a host name: the default */
    region_answer = NULL;
    CHECK(dr_aws_client_create(NULL, &env, NULL, &c, &err) == 0);
    dr_aws_client_region_source(c, fake_region);
    CHECK_STR(dr_aws_client_region(c), "us-east-1");
    dr_aws_client_free(c);
    region_answer = "evil.example/x";
    CHECK(dr_aws_client_create(NULL, &env, NULL, &c, &err) == 0);
    dr_aws_client_region_source(c, fake_region);
    CHECK_STR(dr_aws_client_region(c), "us-east-1");
    CHECK(region_calls == 3);
    dr_aws_client_free(c);
}

/* ---- retry settings --------------------------------------------------------------- */

static void test_retry_settings(void)
{
    struct dr_ini ini;
    enum dr_retry_mode mode;
    int attempts = 0;
    char msg[512] = "";
    ini_from(&ini,
             "[default]\nretry_mode = adaptive\nmax_attempts = 7\n"
             "[profile old]\nretry_mode = legacy\n"
             "[profile bad]\nretry_mode = Standard\nmax_attempts = 0\n"
             "[profile worse]\nmax_attempts = 2x\n",
             NULL);
    const struct dr_ini_section *def = dr_ini_profile(&ini, "default");
    struct dr_settings_env none = ENV_OF(ENVS("HOME=/x"));
    struct dr_settings_env envs = ENV_OF(ENVS("AWS_RETRY_MODE=legacy", "AWS_MAX_ATTEMPTS=2"));
    CHECK(dr_settings_retry(0, &none, NULL, NULL, &mode, &attempts, msg, sizeof msg) == 0);
    CHECK(mode == DR_RETRY_STANDARD && attempts == 3);
    CHECK(dr_settings_retry(0, &none, def, "/c", &mode, &attempts, msg, sizeof msg) == 0);
    CHECK(mode == DR_RETRY_ADAPTIVE && attempts == 7);
    CHECK(dr_settings_retry(0, &envs, def, "/c", &mode, &attempts, msg, sizeof msg) == 0);
    CHECK(mode == DR_RETRY_LEGACY && attempts == 2); /* the environment wins */
    CHECK(dr_settings_retry(9, &envs, def, "/c", &mode, &attempts, msg, sizeof msg) == 0);
    CHECK(attempts == 9); /* then an explicit number (a task's config.aws.max_attempts) */
    CHECK(dr_settings_retry(0, &none, dr_ini_profile(&ini, "old"), "/c", &mode, &attempts, msg,
                            sizeof msg) == 0);
    CHECK(mode == DR_RETRY_LEGACY && attempts == 5);
    /* a bad value names where it was read */
    CHECK(dr_settings_retry(0, &none, dr_ini_profile(&ini, "bad"), "/home/u/.aws/config", &mode,
                            &attempts, msg, sizeof msg) == -1);
    CHECK_STR(msg, "retry_mode in profile bad of /home/u/.aws/config must be standard, adaptive "
                   "or legacy, not 'Standard'");
    struct dr_settings_env good_mode = ENV_OF(ENVS("AWS_RETRY_MODE=standard"));
    CHECK(dr_settings_retry(0, &good_mode, dr_ini_profile(&ini, "bad"), "/home/u/.aws/config",
                            &mode, &attempts, msg, sizeof msg) == -1);
    CHECK_STR(msg, "max_attempts in profile bad of /home/u/.aws/config must be a whole number "
                   "from 1 to 100, not '0'");
    CHECK(dr_settings_retry(0, &none, dr_ini_profile(&ini, "worse"), NULL, &mode, &attempts, msg,
                            sizeof msg) == -1);
    CHECK_STR(msg, "max_attempts in profile worse must be a whole number from 1 to 100, not '2x'");
    struct dr_settings_env bad_env = ENV_OF(ENVS("AWS_RETRY_MODE=fast", "AWS_MAX_ATTEMPTS=-1"));
    CHECK(dr_settings_retry(0, &bad_env, def, "/c", &mode, &attempts, msg, sizeof msg) == -1);
    CHECK_STR(msg, "AWS_RETRY_MODE must be standard, adaptive or legacy, not 'fast'");
    bad_env = ENV_OF(ENVS("AWS_MAX_ATTEMPTS=101"));
    CHECK(dr_settings_retry(0, &bad_env, def, "/c", &mode, &attempts, msg, sizeof msg) == -1);
    CHECK_STR(msg, "AWS_MAX_ATTEMPTS must be a whole number from 1 to 100, not '101'");
    dr_ini_free(&ini);
}

/* ---- endpoints ------------------------------------------------------------------ */

static void test_endpoint_defaults(void)
{
    const char **none = ENVS("HOME=/x");
    CHECK_ENDPOINT("https://s3.eu-west-1.amazonaws.com", 0, "s3", NULL, none, NULL, NULL,
                   "eu-west-1");
    CHECK_ENDPOINT("https://sts.us-east-1.amazonaws.com", 0, "sts", NULL, none, NULL, NULL, NULL);
    CHECK_ENDPOINT("https://secretsmanager.eu-west-1.amazonaws.com", 0, "secretsmanager", NULL,
                   none, NULL, NULL, "eu-west-1");
    CHECK_ENDPOINT("https://cloudfront.amazonaws.com", 0, "cloudfront", NULL, none, NULL, NULL,
                   "eu-west-1");
    CHECK_ENDPOINT("https://s3.cn-north-1.amazonaws.com.cn", 0, "s3", NULL, none, NULL, NULL,
                   "cn-north-1");
    CHECK_ENDPOINT("https://sts-fips.us-east-1.amazonaws.com", 0, "sts", NULL,
                   ENVS("AWS_USE_FIPS_ENDPOINT=true"), NULL, NULL, NULL);
    CHECK_ENDPOINT("https://sts-fips.us-east-1.api.aws", 0, "sts", NULL,
                   ENVS("AWS_USE_FIPS_ENDPOINT=true"), "[default]\nuse_dualstack_endpoint = true\n",
                   NULL, NULL);
    CHECK_ENDPOINT("https://s3.dualstack.eu-west-1.amazonaws.com", 0, "s3", NULL,
                   ENVS("AWS_USE_DUALSTACK_ENDPOINT=TRUE"), NULL, NULL, "eu-west-1");
    CHECK_ENDPOINT("https://s3-fips.dualstack.us-east-1.amazonaws.com", 0, "s3", NULL,
                   ENVS("AWS_USE_DUALSTACK_ENDPOINT=true", "AWS_USE_FIPS_ENDPOINT=true"), NULL,
                   NULL, NULL);
    /* IAM Identity Center: the portal and its OIDC service */
    CHECK_ENDPOINT("https://portal.sso.us-east-2.amazonaws.com", 0, "sso", NULL, none, NULL, NULL,
                   "us-east-2");
    CHECK_ENDPOINT("https://portal.sso-fips.us-east-2.api.aws", 0, "sso", NULL,
                   ENVS("AWS_USE_FIPS_ENDPOINT=true", "AWS_USE_DUALSTACK_ENDPOINT=true"), NULL,
                   NULL, "us-east-2");
    CHECK_ENDPOINT("https://oidc.eu-west-1.amazonaws.com", 0, "sso-oidc", NULL, none, NULL, NULL,
                   "eu-west-1");
    CHECK_STR(dr_settings_signing_region("cloudfront", "eu-west-1"), "us-east-1");
    CHECK_STR(dr_settings_signing_region("s3", "eu-west-1"), "eu-west-1");
    CHECK_STR(dr_settings_signing_region("sts", "ap-south-1"), "ap-south-1");
}

static void test_endpoint_overrides(void)
{
    const char *cfg = "[default]\nendpoint_url = http://profile-global\nservices = local\n"
                      "[services local]\n"
                      "s3 =\n  endpoint_url = http://profile-s3/\n"
                      "secrets_manager =\n  endpoint_url = http://profile-sm\n"
                      "[profile plain]\nendpoint_url = http://plain:4566/\n"
                      "[profile ignoring]\nendpoint_url = http://ignored\n"
                      "ignore_configured_endpoint_urls = true\n";
    const char **none = ENVS("HOME=/x");
    const char **env =
        ENVS("AWS_ENDPOINT_URL_S3=http://env-s3:9000/", "AWS_ENDPOINT_URL=http://env-all",
             "AWS_ENDPOINT_URL_SECRETS_MANAGER=http://env-sm",
             "AWS_ENDPOINT_URL_CLOUDFRONT=http://env-cf", "AWS_ENDPOINT_URL_STS=http://env-sts",
             "AWS_ENDPOINT_URL_SOME_SERVICE=http://env-some");
    /* explicit beats everything, even the ignore switch */
    CHECK_ENDPOINT("http://localhost:5000", 1, "s3", "http://localhost:5000/", env, cfg, NULL,
                   NULL);
    CHECK_ENDPOINT("http://localhost:5000", 1, "s3", "http://localhost:5000", none, cfg, "ignoring",
                   NULL);
    /* the service's variable, then the global one */
    CHECK_ENDPOINT("http://env-s3:9000", 1, "s3", NULL, env, cfg, NULL, NULL);
    CHECK_ENDPOINT("http://env-sm", 1, "secretsmanager", NULL, env, cfg, NULL, NULL);
    CHECK_ENDPOINT("http://env-cf", 1, "cloudfront", NULL, env, cfg, NULL, NULL);
    CHECK_ENDPOINT("http://env-sts", 1, "sts", NULL, env, cfg, NULL, NULL);
    CHECK_ENDPOINT("http://env-some", 1, "some service", NULL, env, cfg, NULL, NULL);
    CHECK_ENDPOINT("http://env-all", 1, "sts", NULL, ENVS("AWS_ENDPOINT_URL=http://env-all"), cfg,
                   NULL, NULL);
    /* environment before the config file */
    CHECK_ENDPOINT("http://env-all", 1, "s3", NULL, ENVS("AWS_ENDPOINT_URL=http://env-all/"), cfg,
                   NULL, NULL);
    /* the services section, then the profile's endpoint_url */
    CHECK_ENDPOINT("http://profile-s3", 1, "s3", NULL, none, cfg, NULL, NULL);
    CHECK_ENDPOINT("http://profile-sm", 1, "secretsmanager", NULL, none, cfg, NULL, NULL);
    CHECK_ENDPOINT("http://profile-global", 1, "sts", NULL, none, cfg, NULL, NULL);
    CHECK_ENDPOINT("http://plain:4566", 1, "s3", NULL, none, cfg, "plain", NULL);
    /* switched off from the environment or the profile */
    CHECK_ENDPOINT("https://s3.us-east-1.amazonaws.com", 0, "s3", NULL,
                   ENVS("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true", "AWS_ENDPOINT_URL=http://x"),
                   cfg, NULL, NULL);
    CHECK_ENDPOINT("https://s3.us-east-1.amazonaws.com", 0, "s3", NULL,
                   ENVS("AWS_ENDPOINT_URL=http://x"), cfg, "ignoring", NULL);
    /* the SSO services' own variables and [services] keys */
    CHECK_ENDPOINT("http://env-sso", 1, "sso", NULL,
                   ENVS("AWS_ENDPOINT_URL_SSO=http://env-sso", "AWS_ENDPOINT_URL=http://env-all"),
                   cfg, NULL, NULL);
    CHECK_ENDPOINT(
        "http://env-oidc", 1, "sso-oidc", NULL,
        ENVS("AWS_ENDPOINT_URL_SSO=http://env-sso", "AWS_ENDPOINT_URL_SSO_OIDC=http://env-oidc"),
        cfg, NULL, NULL);
    CHECK_ENDPOINT("http://cfg-oidc", 1, "sso-oidc", NULL, none,
                   "[default]\nservices = s\n[services s]\nsso_oidc =\n"
                   "  endpoint_url = http://cfg-oidc\nsso =\n  endpoint_url = http://cfg-sso\n",
                   NULL, NULL);
    CHECK_ENDPOINT("http://cfg-sso", 1, "sso", NULL, none,
                   "[default]\nservices = s\n[services s]\nsso_oidc =\n"
                   "  endpoint_url = http://cfg-oidc\nsso =\n  endpoint_url = http://cfg-sso\n",
                   NULL, NULL);
    /* a services name that has no section */
    CHECK_ENDPOINT("https://s3.us-east-1.amazonaws.com", 0, "s3", NULL, none,
                   "[default]\nservices = missing\n", NULL, NULL);
}

/* ---- IMDS and ECS addresses ------------------------------------------------------ */

static void test_imds_endpoint_suite(void)
{
    cJSON *doc = load_suite("aws-config-test-data", "imds-config/imds-endpoint-tests.json");
    const cJSON *t;
    int ran = 0;
    if (!doc)
        return;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(doc, "tests"))
    {
        if (cJSON_GetObjectItem(t, "endpoint_override") || cJSON_GetObjectItem(t, "mode_override"))
            continue; /* parameters of the Rust API, not settings */
        char **vars = env_from_json(cJSON_GetObjectItem(t, "env"));
        struct dr_settings_env env = ENV_OF(vars);
        const cJSON *cfg = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "fs"), "config");
        const cJSON *ok = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "result"), "Ok");
        struct dr_ini ini;
        char *url = NULL, err[256] = "", want[256];
        ini_from(&ini, cJSON_IsString(cfg) ? cfg->valuestring : NULL, NULL);
        int rc =
            dr_settings_imds_endpoint(&env, dr_ini_profile(&ini, "default"), &url, err, sizeof err);
        if (ok) {
            snprintf(want, sizeof want, "%s", ok->valuestring);
            char *cut = strstr(want, "/latest/api/token");
            if (cut)
                *cut = '\0';
            CHECK(rc == 0);
            CHECK_STR(url, want);
        } else {
            CHECK(rc == -1 && err[0]);
        }
        ran++;
        free(url);
        dr_ini_free(&ini);
        free_env(vars);
    }
    CHECK(ran >= 10);
    cJSON_Delete(doc);
}

static void test_ecs_url_suite(void)
{
    cJSON *doc = load_suite("aws-config-test-data", "ecs-tests.json");
    const cJSON *t;
    if (doc) {
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(doc, "tests"))
        {
            char **vars = env_from_json(cJSON_GetObjectItem(t, "env"));
            struct dr_settings_env env = ENV_OF(vars);
            const cJSON *result = cJSON_GetObjectItem(t, "result");
            const cJSON *ok = cJSON_GetObjectItem(result, "Ok");
            char *url = NULL, err[256] = "";
            int rc = dr_settings_ecs_url(&env, &url, err, sizeof err);
            if (ok) {
                CHECK(rc == 0);
                CHECK_STR(url, ok->valuestring);
            } else if (cJSON_GetArraySize(cJSON_GetObjectItem(t, "env")) == 0) {
                CHECK(rc == 1); /* not configured: the chain goes on */
            } else {
                CHECK(rc == -1 && err[0]);
            }
            free(url);
            free_env(vars);
        }
        cJSON_Delete(doc);
    }
    const char *bad[] = {"http://example.com/creds", "http://127.0.0.1.evil.com/x",
                         "http://user@169.254.170.2/x", "ftp://localhost/x", "http://"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char var[128], *url = NULL, err[256];
        snprintf(var, sizeof var, "AWS_CONTAINER_CREDENTIALS_FULL_URI=%s", bad[i]);
        struct dr_settings_env env = ENV_OF(ENVS(var));
        CHECK(dr_settings_ecs_url(&env, &url, err, sizeof err) == -1);
        CHECK(url == NULL);
    }
    char *url = NULL, err[256];
    struct dr_settings_env env =
        ENV_OF(ENVS("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:8080/v1/credentials"));
    CHECK(dr_settings_ecs_url(&env, &url, err, sizeof err) == 0);
    CHECK_STR(url, "http://127.0.0.1:8080/v1/credentials");
    free(url);
}

/* ---- times and refresh ------------------------------------------------------------ */

static void test_time(void)
{
    time_t t = 0;
    char buf[32];
    CHECK(dr_isotime_parse("2021-09-21T18:41:26Z", &t) == 0 && t == 1632249686);
    CHECK(dr_isotime_parse("2022-05-02T18:36:00+00:00", &t) == 0 && t == 1651516560);
    CHECK(dr_isotime_parse("2022-05-02T20:36:00+02:00", &t) == 0 && t == 1651516560);
    CHECK(dr_isotime_parse("2022-05-02T13:36:00-0500", &t) == 0 && t == 1651516560);
    CHECK(dr_isotime_parse("2022-05-02t18:36:00.123456z", &t) == 0 && t == 1651516560);
    CHECK(dr_isotime_parse("2009-02-13T23:31:30Z", &t) == 0 && t == 1234567890);
    CHECK(dr_isotime_parse("2020-02-29T00:00:00Z", &t) == 0);
    CHECK(dr_isotime_parse("1969-12-31T23:59:59Z", &t) == 0 && t == -1);
    const char *bad[] = {"",
                         "2021-02-29T00:00:00Z",
                         "2021-09-21T18:41:26",
                         "2021-09-21T18:41:26Zjunk",
                         "2021-13-01T00:00:00Z",
                         "2021-09-21T24:00:00Z",
                         "2021-09-21 18:41Z",
                         "20210921T184126Z",
                         "2021-09-21T18:41:26.Z",
                         "2021-09-21T18:41:26+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(dr_isotime_parse(bad[i], &t) == -1);
    dr_isotime_format(1632249686, buf);
    CHECK_STR(buf, "2021-09-21T18:41:26Z");
}

static void test_fresh(void)
{
    struct dr_aws_credentials c = {0};
    time_t now = 1700000000;
    CHECK(dr_aws_credentials_fresh(&c, now) &&
          dr_aws_credentials_unexpired(&c, now)); /* never expires */
    c.expiration = now + DR_CREDS_REFRESH_S + 1;
    CHECK(dr_aws_credentials_fresh(&c, now));
    c.expiration = now + DR_CREDS_REFRESH_S;
    CHECK(!dr_aws_credentials_fresh(&c, now));
    CHECK(dr_aws_credentials_unexpired(&c, now));
    c.expiration = now + 1;
    CHECK(dr_aws_credentials_unexpired(&c, now));
    c.expiration = now;
    CHECK(!dr_aws_credentials_unexpired(&c, now) && !dr_aws_credentials_fresh(&c, now));
    CHECK(!dr_aws_credentials_fresh(NULL, now));
}

/* ---- credential_process ------------------------------------------------------------- */

static int parse(const char *json, struct dr_aws_credentials *c, char *err, size_t len)
{
    err[0] = '\0';
    return dr_creds_process_parse(json, strlen(json), c, err, len);
}

static void test_process_output(void)
{
    struct dr_aws_credentials c;
    char err[256];
    CHECK(parse("{\"Version\": 1, \"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"SK\", "
                "\"SessionToken\": \"TOK\", \"Expiration\": \"2022-05-02T18:36:00+00:00\", "
                "\"AccountId\": \"123\"}",
                &c, err, sizeof err) == 0);
    CHECK_STR(c.access_key_id, "AKID");
    CHECK_STR(c.secret_access_key, "SK");
    CHECK_STR(c.session_token, "TOK");
    CHECK(c.expiration == 1651516560);
    dr_aws_credentials_free(&c);
    CHECK(c.access_key_id == NULL);
    CHECK(parse("{\"Version\":1,\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"SK\"}", &c, err,
                sizeof err) == 0);
    CHECK(c.session_token == NULL && c.expiration == 0);
    dr_aws_credentials_free(&c);
    const char *bad[] = {
        "not json SUPERSECRET",
        "[1]",
        "{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"SUPERSECRET\"}",
        "{\"Version\": \"1\", \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"SUPERSECRET\"}",
        "{\"Version\": 1, \"AccessKeyId\": \"A\"}",
        "{\"Version\": 1, \"AccessKeyId\": \"\", \"SecretAccessKey\": \"SUPERSECRET\"}",
        "{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"SUPERSECRET\", "
        "\"Expiration\": \"tomorrow\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(parse(bad[i], &c, err, sizeof err) == -1);
        CHECK(err[0] && !strstr(err, "SUPERSECRET"));
        CHECK(c.access_key_id == NULL);
    }
}

static void test_process_json_round_trip(void)
{
    char akid[] = "AKID", secret[] = "s\"e\\c/r+e=t\n", token[] = "tok/en+=";
    struct dr_aws_credentials in = {akid, secret, token, 1651516560, "x"}, out;
    char err[128];
    char *json = dr_creds_process_json(&in);
    CHECK(json && strstr(json, "\"Version\": 1"));
    CHECK(json && strstr(json, "\"Expiration\": \"2022-05-02T18:36:00Z\""));
    CHECK(dr_creds_process_parse(json, strlen(json), &out, err, sizeof err) == 0);
    CHECK_STR(out.access_key_id, akid);
    CHECK_STR(out.secret_access_key, secret);
    CHECK_STR(out.session_token, token);
    CHECK(out.expiration == in.expiration);
    dr_aws_credentials_free(&out);
    dr_free_secret(json);
    in.session_token = NULL;
    in.expiration = 0;
    json = dr_creds_process_json(&in);
    CHECK(json && !strstr(json, "SessionToken") && !strstr(json, "Expiration"));
    dr_free_secret(json);
}

/* ---- the profile plan ------------------------------------------------------------------ */

/* The config text for a suite case's profiles and sso sessions. */
static char *config_from_json(const cJSON *input)
{
    size_t cap = 8192, len = 0;
    char *text = calloc(1, cap);
    const char *kinds[] = {"profiles", "sso_sessions"};
    const char *heads[] = {"profile", "sso-session"};
    for (int k = 0; k < 2; k++) {
        const cJSON *sec, *kv;
        cJSON_ArrayForEach(sec, cJSON_GetObjectItem(input, kinds[k]))
        {
            len += (size_t)snprintf(text + len, cap - len, "[%s %s]\n", heads[k], sec->string);
            cJSON_ArrayForEach(kv, sec)
            {
                len += (size_t)snprintf(text + len, cap - len, "%s = %s\n", kv->string,
                                        kv->valuestring);
            }
        }
    }
    return text;
}

static int same(const char *got, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    if (!v)
        return got == NULL;
    return got && strcmp(got, v->valuestring) == 0;
}

static int same_role(const struct dr_creds_role *r, const cJSON *want)
{
    return same(r->role_arn, want, "role_arn") &&
           same(r->session_name, want, "role_session_name") &&
           (!cJSON_GetObjectItem(want, "external_id") || same(r->external_id, want, "external_id"));
}

/* 1 when the plan is the suite's ProfileChain. */
static int plan_matches(const struct dr_creds_plan *p, const cJSON *chain, char *why, size_t n)
{
    const cJSON *base = cJSON_GetArrayItem(chain, 0), *v;
    size_t roles = (size_t)cJSON_GetArraySize(chain) - 1;
    if ((v = cJSON_GetObjectItem(base, "AccessKey"))) {
        if (p->base != DR_CREDS_BASE_STATIC || !same(p->access_key_id, v, "access_key_id") ||
            !same(p->secret_access_key, v, "secret_access_key"))
            return snprintf(why, n, "base is not those keys"), 0;
    } else if ((v = cJSON_GetObjectItem(base, "NamedSource"))) {
        if (p->base != DR_CREDS_BASE_SOURCE || strcmp(v->valuestring, "Ec2InstanceMetadata") != 0 ||
            p->source != DR_CREDS_SOURCE_EC2)
            return snprintf(why, n, "base is not the named source"), 0;
    } else if ((v = cJSON_GetObjectItem(base, "WebIdentityToken"))) {
        if (p->base != DR_CREDS_BASE_WEB_IDENTITY ||
            !same(p->token_file, v, "web_identity_token_file") || !same_role(&p->identity, v))
            return snprintf(why, n, "base is not that web identity"), 0;
    } else if (cJSON_GetObjectItem(base, "Sso")) {
        if (p->base != DR_CREDS_BASE_SSO)
            return snprintf(why, n, "base is not SSO"), 0;
    } else {
        return snprintf(why, n, "unknown base in the suite"), 0;
    }
    if (p->nroles != roles)
        return snprintf(why, n, "%zu roles, want %zu", p->nroles, roles), 0;
    for (size_t i = 0; i < roles; i++) {
        const cJSON *want =
            cJSON_GetObjectItem(cJSON_GetArrayItem(chain, (int)i + 1), "AssumeRole");
        if (!want || !same_role(&p->roles[i], want))
            return snprintf(why, n, "role %zu differs", i), 0;
    }
    return 1;
}

static void test_plan_suite(void)
{
    cJSON *doc = load_suite("aws-config-test-data", "assume-role-tests.json");
    const cJSON *t;
    if (!doc)
        return;
    CHECK(cJSON_GetArraySize(doc) >= 25);
    cJSON_ArrayForEach(t, doc)
    {
        const cJSON *input = cJSON_GetObjectItem(t, "input");
        const cJSON *output = cJSON_GetObjectItem(t, "output");
        const char *docs = cJSON_GetObjectItem(t, "docs")->valuestring;
        char *text = config_from_json(input), err[512] = "", why[128] = "";
        struct dr_ini ini;
        struct dr_creds_plan plan;
        ini_from(&ini, text, NULL);
        int rc = dr_creds_plan(&ini, cJSON_GetObjectItem(input, "selected_profile")->valuestring, 0,
                               &plan, err, sizeof err);
        const cJSON *chain = cJSON_GetObjectItem(output, "ProfileChain");
        int ok = chain ? rc == DR_CREDS_PLAN_OK && plan_matches(&plan, chain, why, sizeof why)
                       : rc != DR_CREDS_PLAN_OK && (rc != DR_CREDS_PLAN_ERROR || err[0]);
        if (!ok)
            fprintf(stderr, "assume-role-tests: \"%s\": rc %d %s %s\n", docs, rc, err, why);
        CHECK(ok);
        dr_ini_free(&ini);
        free(text);
    }
    cJSON_Delete(doc);
}

static int plan_of(const char *config, const char *credentials, const char *name, int github,
                   struct dr_creds_plan *plan, struct dr_ini *ini, char *err, size_t len)
{
    ini_from(ini, config, credentials);
    err[0] = '\0';
    return dr_creds_plan(ini, name, github, plan, err, len);
}

/* Both forms of an IAM Identity Center profile, and what is refused. */
static void test_plan_sso(void)
{
    struct dr_creds_plan p;
    struct dr_ini ini;
    char err[512];
    const char *session = "[profile data-engineer]\nsso_session = corp\nsso_account_id = 1111\n"
                          "sso_role_name = DataEngineer\n"
                          "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
                          "sso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n";
    CHECK(plan_of(session, NULL, "data-engineer", 0, &p, &ini, err, sizeof err) ==
          DR_CREDS_PLAN_OK);
    CHECK(p.base == DR_CREDS_BASE_SSO);
    CHECK_STR(p.sso.session, "corp");
    CHECK_STR(p.sso.start_url, "https://corp.awsapps.com/start");
    CHECK_STR(p.sso.region, "eu-west-1");
    CHECK_STR(p.sso.scopes, "sso:account:access");
    CHECK_STR(p.sso.account_id, "1111");
    CHECK_STR(p.sso.role_name, "DataEngineer");
    dr_ini_free(&ini);
    CHECK(plan_of("[default]\nsso_start_url = https://old.awsapps.com/start\n"
                  "sso_region = us-east-2\nsso_account_id = 2222\nsso_role_name = R\n",
                  NULL, "default", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.base == DR_CREDS_BASE_SSO && p.sso.session == NULL && p.sso.scopes == NULL);
    CHECK_STR(p.sso.start_url, "https://old.awsapps.com/start");
    CHECK_STR(p.sso.region, "us-east-2");
    dr_ini_free(&ini);
    /* an SSO profile as the source of a role */
    CHECK(plan_of("[profile admin]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = sso\n"
                  "[profile sso]\nsso_start_url = https://old.awsapps.com/start\n"
                  "sso_region = us-east-2\nsso_account_id = 2222\nsso_role_name = R\n",
                  NULL, "admin", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.base == DR_CREDS_BASE_SSO && p.nroles == 1);
    CHECK_STR(p.base_profile, "sso");
    dr_ini_free(&ini);
    /* a token-only profile plans (sso login works with it); the chain refuses it later */
    CHECK(plan_of("[default]\nsso_session = corp\n[sso-session corp]\n"
                  "sso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n",
                  NULL, "default", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.sso.account_id == NULL);
    dr_ini_free(&ini);
    const char *broken[][2] = {
        {"[default]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n", "nope"},
        {"[default]\nsso_start_url = https://x\nsso_account_id = 1\nsso_role_name = R\n",
         "sso_region"},
        {"[default]\nsso_session = s\nsso_account_id = 1\nsso_role_name = R\n"
         "[sso-session s]\nsso_region = eu-west-1\n",
         "sso_start_url"},
        {"[default]\nsso_session = s\nsso_start_url = https://a\nsso_account_id = 1\n"
         "sso_role_name = R\n[sso-session s]\nsso_region = eu-west-1\n"
         "sso_start_url = https://b\n",
         "differs"},
        {"[default]\nsso_start_url = https://x\nsso_region = us-east-1\nsso_account_id = 1\n",
         "sso_role_name"},
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        CHECK(plan_of(broken[i][0], NULL, "default", 0, &p, &ini, err, sizeof err) ==
              DR_CREDS_PLAN_ERROR);
        if (!strstr(err, broken[i][1]))
            fprintf(stderr, "sso case %zu: %s\n", i, err);
        CHECK(strstr(err, broken[i][1]) != NULL);
        dr_ini_free(&ini);
    }
}

static void test_plan_rules(void)
{
    struct dr_creds_plan p;
    struct dr_ini ini;
    char err[512], config[8192];
    /* the credentials file's keys, merged into the config's profile */
    CHECK(plan_of("[profile a]\nregion = eu-west-1\n",
                  "[a]\naws_access_key_id = K\n"
                  "aws_secret_access_key = S\n"
                  "aws_session_token = T\n",
                  "a", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.base == DR_CREDS_BASE_STATIC && p.nroles == 0);
    CHECK_STR(p.session_token, "T");
    dr_ini_free(&ini);
    /* missing and empty profiles let the chain go on */
    CHECK(plan_of("[default]\nregion = x\n", NULL, "nope", 0, &p, &ini, err, sizeof err) ==
          DR_CREDS_PLAN_MISSING);
    CHECK(dr_creds_plan(&ini, "default", 0, &p, err, sizeof err) == DR_CREDS_PLAN_EMPTY);
    dr_ini_free(&ini);
    CHECK(dr_creds_plan(NULL, "default", 0, &p, err, sizeof err) == DR_CREDS_PLAN_MISSING);
    /* a loop names the profiles */
    CHECK(plan_of("[profile a]\nrole_arn = arn:a\nsource_profile = b\n"
                  "[profile b]\nrole_arn = arn:b\nsource_profile = c\n"
                  "[profile c]\nrole_arn = arn:c\nsource_profile = b\n",
                  NULL, "a", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_ERROR);
    CHECK(strstr(err, "loop") && strstr(err, "'c'") && strstr(err, "'b'"));
    dr_ini_free(&ini);
    /* a chain longer than the cap */
    size_t len = 0;
    for (int i = 0; i <= DR_CREDS_CHAIN_MAX; i++)
        len += (size_t)snprintf(config + len, sizeof config - len,
                                "[profile p%d]\nrole_arn = arn:%d\nsource_profile = p%d\n", i, i,
                                i + 1);
    snprintf(config + len, sizeof config - len,
             "[profile p%d]\naws_access_key_id = K\naws_secret_access_key = S\n",
             DR_CREDS_CHAIN_MAX + 1);
    CHECK(plan_of(config, NULL, "p0", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_ERROR);
    CHECK(strstr(err, "more than") != NULL);
    CHECK(dr_creds_plan(&ini, "p2", 0, &p, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.nroles == DR_CREDS_CHAIN_MAX - 1);
    CHECK_STR(p.roles[0].role_arn, "arn:16");
    CHECK_STR(p.roles[p.nroles - 1].role_arn, "arn:2");
    dr_ini_free(&ini);
    /* role_arn alone: an error, or GitHub Actions OIDC when available */
    const char *alone = "[profile a]\nrole_arn = arn:a\nsource_profile = b\nexternal_id = X\n"
                        "[profile b]\nrole_arn = arn:b\nrole_session_name = ci\n"
                        "duration_seconds = 900\n";
    CHECK(plan_of(alone, NULL, "b", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_ERROR);
    CHECK(strstr(err, "source_profile") != NULL);
    CHECK_STR(p.role_alone, "b"); /* the chain adds the id-token hint on GitHub Actions */
    CHECK(dr_creds_plan(&ini, "a", 1, &p, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.base == DR_CREDS_BASE_GITHUB_OIDC && p.nroles == 1);
    CHECK_STR(p.identity.role_arn, "arn:b");
    CHECK_STR(p.identity.session_name, "ci");
    CHECK_STR(p.identity.duration_seconds, "900");
    CHECK_STR(p.roles[0].role_arn, "arn:a");
    CHECK_STR(p.roles[0].external_id, "X");
    dr_ini_free(&ini);
    /* credential_process wins over keys; named sources; a role's mfa_serial */
    CHECK(plan_of("[default]\ncredential_process = my-helper --x\naws_access_key_id = K\n"
                  "aws_secret_access_key = S\n",
                  NULL, "default", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.base == DR_CREDS_BASE_PROCESS);
    CHECK_STR(p.command, "my-helper --x");
    dr_ini_free(&ini);
    CHECK(plan_of("[default]\nrole_arn = arn:r\ncredential_source = EcsContainer\n", NULL,
                  "default", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.base == DR_CREDS_BASE_SOURCE && p.source == DR_CREDS_SOURCE_ECS && p.nroles == 1);
    dr_ini_free(&ini);
    CHECK(plan_of("[default]\nrole_arn = arn:r\ncredential_source = Laptop\n", NULL, "default", 0,
                  &p, &ini, err, sizeof err) == DR_CREDS_PLAN_ERROR);
    CHECK(strstr(err, "Laptop") != NULL);
    dr_ini_free(&ini);
    CHECK(plan_of("[default]\nrole_arn = arn:r\nsource_profile = base\nmfa_serial = arn:mfa\n"
                  "[profile base]\naws_access_key_id = K\naws_secret_access_key = S\n",
                  NULL, "default", 0, &p, &ini, err, sizeof err) == DR_CREDS_PLAN_OK);
    CHECK(p.nroles == 1 && p.roles[0].mfa_serial && strcmp(p.roles[0].mfa_serial, "arn:mfa") == 0);
    dr_ini_free(&ini);
    /* a missing source_profile is named, with the profile naming it, for the
     * chain's "not found in <files>" message */
    CHECK(plan_of("[profile dev]\nrole_arn = arn:r\nsource_profile = gone\n", NULL, "dev", 0, &p,
                  &ini, err, sizeof err) == DR_CREDS_PLAN_ERROR);
    CHECK_STR(p.missing_source, "gone");
    CHECK_STR(p.missing_by, "dev");
    CHECK(dr_creds_plan(&ini, "nope", 0, &p, err, sizeof err) == DR_CREDS_PLAN_MISSING);
    CHECK(p.missing_source == NULL);
    dr_ini_free(&ini);
}

/* ---- the client ------------------------------------------------------------------------------ */

static char dir[] = "/tmp/dbtrun-test-client-XXXXXX";
static char home_var[128], config_var[160];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_text(path, text);
}

static void client_setup(void)
{
    char path[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/.aws", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(home_var, sizeof home_var, "HOME=%s", dir);
    snprintf(config_var, sizeof config_var, "AWS_CONFIG_FILE=%s/bad-config", dir);
    write_file(".aws/config", "[default]\nregion = eu-central-1\n"
                              "[profile moto]\nregion = us-west-2\n"
                              "endpoint_url = http://127.0.0.1:5000\n"
                              "[profile proc]\ncredential_process = printf '{\"Version\": 1, "
                              "\"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"s\"}'\n"
                              "[profile fails]\ncredential_process = exit 3\n"
                              "[profile orphan]\nrole_arn = arn:aws:iam::1:role/r\n"
                              "source_profile = gone\n");
    write_file(".aws/credentials", "[default]\naws_access_key_id = AKIDFILE\n"
                                   "aws_secret_access_key = SKFILE\n");
    write_file("bad-config", "[default]\n= eu-west-1\n");
}

static void test_client_settings(void)
{
    struct dr_aws_client *c = NULL;
    struct dr_aws_error err;
    const char *vars[] = {home_var, "AWS_EC2_METADATA_DISABLED=true", NULL};
    struct dr_settings_env env = ENV_OF(vars);
    int custom = -1;
    CHECK(dr_aws_client_new_env(NULL, &env, &c, &err) == 0);
    CHECK_STR(dr_aws_client_region(c), "eu-central-1");
    char *url = dr_aws_endpoint(c, "s3", &custom);
    CHECK_STR(url, "https://s3.eu-central-1.amazonaws.com");
    CHECK(custom == 0);
    free(url);
    CHECK_STR(dr_aws_signing_region(c, "cloudfront"), "us-east-1");
    const struct dr_aws_credentials *cred = dr_aws_credentials_get(c, &err);
    CHECK(cred && strcmp(cred->access_key_id, "AKIDFILE") == 0);
    CHECK(cred && strcmp(cred->provider, "profile:default") == 0);
    CHECK(dr_aws_credentials_get(c, &err) == cred); /* cached */
    dr_aws_client_free(c);

    struct dr_aws_client_opts opts = {.profile = "moto", .endpoint_url = "http://localhost:9/"};
    CHECK(dr_aws_client_new_env(&opts, &env, &c, &err) == 0);
    CHECK_STR(dr_aws_client_region(c), "us-west-2");
    url = dr_aws_endpoint(c, "sts", &custom);
    CHECK_STR(url, "http://localhost:9");
    free(url);
    /* a derived client (the chain's STS calls) ignores --endpoint-url, not the profile */
    char akid[] = "A", secret[] = "S";
    struct dr_aws_credentials base = {.access_key_id = akid, .secret_access_key = secret};
    struct dr_aws_client *d = NULL;
    CHECK(dr_aws_client_derive(c, &base, &d) == 0);
    url = dr_aws_endpoint(d, "sts", &custom);
    CHECK_STR(url, "http://127.0.0.1:5000");
    free(url);
    cred = dr_aws_credentials_get(d, &err);
    CHECK(cred && strcmp(cred->access_key_id, "A") == 0 && cred->session_token == NULL);
    dr_aws_client_free(d);
    CHECK(dr_aws_client_derive(c, NULL, &d) == 0);
    CHECK(dr_aws_credentials_get(d, &err) == NULL);
    dr_aws_client_free(d);
    dr_aws_client_free(c);

    /* a region that could redirect requests is refused */
    opts = (struct dr_aws_client_opts){.region = "evil.example/x"};
    CHECK(dr_aws_client_new_env(&opts, &env, &c, &err) == -1 && c == NULL);
    CHECK_STR(err.code, "ConfigError");
    /* a broken config file is reported at creation */
    const char *bad[] = {home_var, config_var, NULL};
    struct dr_settings_env bad_env = ENV_OF(bad);
    CHECK(dr_aws_client_new_env(NULL, &bad_env, &c, &err) == -1);
    CHECK_STR(err.code, "ConfigError");
    CHECK(strstr(err.message, "bad-config") != NULL);
    /* no home folder: no files, no failure */
    const char *homeless[] = {"AWS_EC2_METADATA_DISABLED=true", NULL};
    struct dr_settings_env homeless_env = ENV_OF(homeless);
    CHECK(dr_aws_client_new_env(NULL, &homeless_env, &c, &err) == 0);
    CHECK_STR(dr_aws_client_region(c), "us-east-1");
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    CHECK_STR(err.code, "CredentialsError");
    CHECK_STR(err.message,
              "no AWS credentials found; tried in order: "
              "environment: AWS_ACCESS_KEY_ID is not set; "
              "profile 'default': not found (no config or credentials file: no home folder, and "
              "AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE are not set); "
              "web identity: AWS_ROLE_ARN is not set; "
              "ECS: not configured (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI not set); "
              "IMDS: disabled by AWS_EC2_METADATA_DISABLED");
    dr_aws_client_free(c);
    /* ... but a profile named without files is an error naming it, never
     * the next source's (the aws CLI's "config profile could not be found") */
    opts = (struct dr_aws_client_opts){.profile = "ci"};
    CHECK(dr_aws_client_new_env(&opts, &homeless_env, &c, &err) == 0);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    CHECK_STR(err.message, "profile 'ci' not found (no config or credentials file: no home "
                           "folder, and AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE are not "
                           "set)");
    dr_aws_client_free(c);
}

/* What the chain says when it finds nothing: each source, in order, and why
 * it gave nothing; GitHub Actions jobs without the id-token permission are
 * told so. */
static void test_client_empty_chain(void)
{
    struct dr_aws_client *c = NULL;
    struct dr_aws_error err;
    char config_file[200], credentials_file[200], want[1024];
    snprintf(config_file, sizeof config_file, "AWS_CONFIG_FILE=%s/none-config", dir);
    snprintf(credentials_file, sizeof credentials_file,
             "AWS_SHARED_CREDENTIALS_FILE=%s/.aws/config", dir);
    const char *vars[] = {home_var,
                          config_file,
                          credentials_file,
                          "AWS_EC2_METADATA_DISABLED=true",
                          "AWS_PROFILE=typo",
                          "AWS_ROLE_ARN=arn:aws:iam::1:role/ci",
                          "GITHUB_ACTIONS=true",
                          NULL};
    struct dr_settings_env env = ENV_OF(vars);
    /* AWS_PROFILE names a profile that is in neither file */
    CHECK(dr_aws_client_new_env(NULL, &env, &c, &err) == 0);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    snprintf(want, sizeof want,
             "profile 'typo' (from AWS_PROFILE) not found in %s/none-config (no such file) or "
             "%s/.aws/config",
             dir, dir);
    CHECK_STR(err.message, want);
    dr_aws_client_free(c);
    /* the default profile is missing: the list goes on to the end */
    vars[4] = "AWS_PROFILE=";
    CHECK(dr_aws_client_new_env(NULL, &env, &c, &err) == 0);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    snprintf(
        want, sizeof want,
        "no AWS credentials found; tried in order: "
        "environment: AWS_ACCESS_KEY_ID is not set; "
        "profile 'default': no credentials in it; "
        "web identity: AWS_ROLE_ARN is set, but this GitHub Actions job gets no OIDC token: it "
        "lacks `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL is not set); "
        "ECS: not configured (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI not set); "
        "IMDS: disabled by AWS_EC2_METADATA_DISABLED");
    CHECK_STR(err.message, want);
    dr_aws_client_free(c);
    /* outside GitHub Actions the token file is what is missing */
    vars[6] = "GITHUB_ACTIONS=false";
    CHECK(dr_aws_client_new_env(NULL, &env, &c, &err) == 0);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    CHECK(strstr(err.message, "; web identity: AWS_ROLE_ARN is set but "
                              "AWS_WEB_IDENTITY_TOKEN_FILE is not; ECS: ") != NULL);
    dr_aws_client_free(c);
}

static void test_client_profiles(void)
{
    struct dr_aws_client *c = NULL;
    struct dr_aws_error err;
    char want[1024];
    const struct dr_aws_credentials *cred;
    const char *vars[] = {home_var, "AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=proc", NULL};
    struct dr_settings_env env = ENV_OF(vars);
    CHECK(dr_aws_client_new_env(NULL, &env, &c, &err) == 0);
    cred = dr_aws_credentials_get(c, &err);
    CHECK(cred && strcmp(cred->access_key_id, "AKIDPROC") == 0);
    CHECK(cred && strcmp(cred->provider, "process") == 0);
    dr_aws_client_free(c);
    struct dr_aws_client_opts opts = {.profile = "fails"};
    CHECK(dr_aws_client_new_env(&opts, &env, &c, &err) == 0);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    CHECK(strstr(err.message, "exited with status 3") != NULL);
    dr_aws_client_free(c);
    /* a profile asked for by name must exist; environment keys still come first */
    opts.profile = "nope";
    CHECK(dr_aws_client_new_env(&opts, &env, &c, &err) == 0);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    snprintf(want, sizeof want, "profile 'nope' not found in %s/.aws/config or %s/.aws/credentials",
             dir, dir);
    CHECK_STR(err.message, want);
    dr_aws_client_free(c);
    /* so is a source_profile, named with the profile that names it */
    opts.profile = "orphan";
    CHECK(dr_aws_client_new_env(&opts, &env, &c, &err) == 0);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    snprintf(want, sizeof want,
             "source profile 'gone' (named by profile 'orphan') not found in %s/.aws/config or "
             "%s/.aws/credentials",
             dir, dir);
    CHECK_STR(err.message, want);
    dr_aws_client_free(c);
    const char *with_keys[] = {home_var, "AWS_ACCESS_KEY_ID=AKIDENV", "AWS_SECRET_ACCESS_KEY=s",
                               NULL};
    struct dr_settings_env keys_env = ENV_OF(with_keys);
    CHECK(dr_aws_client_new_env(&opts, &keys_env, &c, &err) == 0);
    cred = dr_aws_credentials_get(c, &err);
    CHECK(cred && strcmp(cred->provider, "environment") == 0);
    dr_aws_client_free(c);
}

static void test_client_refresh(void)
{
    struct dr_aws_client *c = NULL;
    struct dr_aws_error err;
    const char *vars[] = {"AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=AKID1",
                          "AWS_SECRET_ACCESS_KEY=s",
                          "AWS_CREDENTIAL_EXPIRATION=2030-01-01T00:10:00Z", NULL};
    struct dr_settings_env env = ENV_OF(vars);
    CHECK(dr_aws_client_new_env(NULL, &env, &c, &err) == 0);
    setenv("DBTRUN_TEST_CLOCK", "20300101T000000Z", 1);
    const struct dr_aws_credentials *first = dr_aws_credentials_get(c, &err);
    CHECK(first && first->expiration == 1893456600);
    CHECK(dr_aws_credentials_get(c, &err) == first); /* 10 minutes left: kept */
    setenv("DBTRUN_TEST_CLOCK", "20300101T000600Z", 1);
    vars[1] = "AWS_ACCESS_KEY_ID=AKID2";
    const struct dr_aws_credentials *second = dr_aws_credentials_get(c, &err);
    CHECK(second && second != first && strcmp(second->access_key_id, "AKID2") == 0);
    CHECK_STR(first->access_key_id, "AKID1"); /* replaced ones stay readable */
    /* a failed refresh keeps credentials that have not expired yet ... */
    vars[1] = "AWS_PROFILE_UNUSED=1";
    vars[2] = "AWS_PROFILE_UNUSED=2";
    setenv("DBTRUN_TEST_CLOCK", "20300101T000900Z", 1);
    CHECK(dr_aws_credentials_get(c, &err) == second);
    /* ... until they do */
    setenv("DBTRUN_TEST_CLOCK", "20300101T001000Z", 1);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    CHECK_STR(err.code, "CredentialsError");
    /* a malformed forced clock is an error, never the real time */
    setenv("DBTRUN_TEST_CLOCK", "yesterday", 1);
    CHECK(dr_aws_credentials_get(c, &err) == NULL);
    unsetenv("DBTRUN_TEST_CLOCK");
    dr_aws_client_free(c);
}

static void client_cleanup(void)
{
    const char *names[] = {".aws/config", ".aws/credentials", "bad-config", "hang-config",
                           "hang.pid",    "expired-config",   ".aws",       ""};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (remove(path) != 0)
            fprintf(stderr, "cannot remove %s\n", path);
    }
}

/* The credentials of AWS_CONFIG_FILE=dir/name's default profile; NULL with err. */
static const struct dr_aws_credentials *process_creds(const char *name, const char *config,
                                                      const char *timeout, struct dr_aws_client **c,
                                                      struct dr_aws_error *err)
{
    char config_file[200];
    snprintf(config_file, sizeof config_file, "AWS_CONFIG_FILE=%s/%s", dir, name);
    write_file(name, config);
    const char *vars[] = {home_var, "AWS_EC2_METADATA_DISABLED=true", config_file, timeout, NULL};
    struct dr_settings_env env = ENV_OF(vars);
    *c = NULL;
    CHECK(dr_aws_client_new_env(NULL, &env, c, err) == 0);
    return *c ? dr_aws_credentials_get(*c, err) : NULL;
}

/* A credential_process that never ends is killed, with its whole group, at
 * the time limit, and the error says so. */
static void test_process_timeout(void)
{
    struct dr_aws_client *c;
    struct dr_aws_error err;
    char config[512], pidfile[160], pidtext[32] = "";
    snprintf(pidfile, sizeof pidfile, "%s/hang.pid", dir);
    snprintf(config, sizeof config,
             "[default]\ncredential_process = sleep 300 & echo $! > %s; wait\n", pidfile);
    time_t start = time(NULL);
    CHECK(process_creds("hang-config", config, "DBTRUN_CREDENTIAL_PROCESS_TIMEOUT=1", &c, &err) ==
          NULL);
    CHECK(time(NULL) - start < 10);
    CHECK(strstr(err.message, "profile 'default': credential_process did not finish within 1 s") !=
          NULL);
    dr_aws_client_free(c);
    FILE *f = fopen(pidfile, "r");
    CHECK(f && fgets(pidtext, sizeof pidtext, f));
    if (f)
        fclose(f);
    CHECK(atoi(pidtext) > 0 && gone_soon(atoi(pidtext)));
    /* a bad setting is refused rather than ignored */
    CHECK(process_creds("hang-config", config, "DBTRUN_CREDENTIAL_PROCESS_TIMEOUT=soon", &c,
                        &err) == NULL);
    CHECK(strstr(err.message, "DBTRUN_CREDENTIAL_PROCESS_TIMEOUT") != NULL);
    dr_aws_client_free(c);
}

static void test_process_expired(void)
{
    struct dr_aws_client *c;
    struct dr_aws_error err;
    const char *config = "[default]\ncredential_process = printf '{\"Version\": 1, "
                         "\"AccessKeyId\": \"AKIDOLD\", \"SecretAccessKey\": \"s\", "
                         "\"Expiration\": \"2001-02-03T04:05:06Z\"}'\n";
    CHECK(process_creds("expired-config", config, NULL, &c, &err) == NULL);
    CHECK(strstr(err.message, "credential_process for profile 'default' returned credentials that "
                              "expired at 2001-02-03T04:05:06Z") != NULL);
    dr_aws_client_free(c);
}

TEST_MAIN(test_region, test_region_source, test_retry_settings, test_plan_sso,
          test_endpoint_defaults, test_endpoint_overrides, test_imds_endpoint_suite,
          test_ecs_url_suite, test_time, test_fresh, test_process_output,
          test_process_json_round_trip, test_plan_suite, test_plan_rules, client_setup,
          test_client_settings, test_client_profiles, test_client_empty_chain, test_process_timeout,
          test_process_expired, test_client_refresh, client_cleanup)
