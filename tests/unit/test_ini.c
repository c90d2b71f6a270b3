/* Unit tests for src/aws/ini.c: every case of the SDKs' shared profile-parser
 * and file-location suites (smithy-rs test data, read at run time from
 * DR_TESTDATA or ../shared/testdata), plus hand-written cases. */
#include "harness.h"
#include "testdata.h"

#include "dbtrun/ini.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A property by exact key, so the tests also see that keys are lower-cased. */
static const struct dr_ini_prop *exact_prop(const struct dr_ini_section *s, const char *key)
{
    for (size_t i = 0; i < s->nprops; i++)
        if (strcmp(s->props[i].key, key) == 0)
            return &s->props[i];
    return NULL;
}

/* 1 when `list` holds exactly the sections and properties of JSON `want`. */
static int same_sections(const struct dr_ini_list *list, const cJSON *want, char *why, size_t n)
{
    if (list->n != (size_t)cJSON_GetArraySize(want)) {
        snprintf(why, n, "%zu sections, want %d", list->n, cJSON_GetArraySize(want));
        return 0;
    }
    const cJSON *sec;
    cJSON_ArrayForEach(sec, want)
    {
        const struct dr_ini_section *got = dr_ini_find(list, sec->string);
        if (!got) {
            snprintf(why, n, "section \"%s\" missing", sec->string);
            return 0;
        }
        if (got->nprops != (size_t)cJSON_GetArraySize(sec)) {
            snprintf(why, n, "\"%s\" has %zu properties, want %d", sec->string, got->nprops,
                     cJSON_GetArraySize(sec));
            return 0;
        }
        const cJSON *prop;
        cJSON_ArrayForEach(prop, sec)
        {
            const struct dr_ini_prop *p = exact_prop(got, prop->string);
            if (!p || !cJSON_IsString(prop) || strcmp(p->value, prop->valuestring) != 0) {
                snprintf(why, n, "\"%s\".\"%s\" = \"%s\"", sec->string, prop->string,
                         p ? p->value : "(missing)");
                return 0;
            }
        }
    }
    return 1;
}

static int run_parser_case(const cJSON *tc, char *why, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(tc, "input");
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(tc, "output");
    const char *cfg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(input, "configFile"));
    const char *cred =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(input, "credentialsFile"));
    const char *want_err =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(output, "errorContaining"));
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(output, "config");

    struct dr_ini ini = {0};
    struct dr_ini_status st = {0};
    int rc = DR_INI_OK, ok = 0;
    if (cfg)
        rc = dr_ini_parse(&ini, DR_INI_CONFIG, cfg, strlen(cfg), "config", &st);
    if (!rc && cred)
        rc = dr_ini_parse(&ini, DR_INI_CREDENTIALS, cred, strlen(cred), "credentials", &st);

    if (want_err) {
        ok = rc == DR_INI_ESYNTAX && strstr(st.msg, want_err) && st.line > 0;
        if (!ok)
            snprintf(why, n, "rc %d \"%s\", want an error containing \"%s\"", rc, st.msg, want_err);
        goto out;
    }
    if (rc) {
        snprintf(why, n, "unexpected error %d: %s", rc, st.msg);
        goto out;
    }
    const cJSON *sso = cJSON_GetObjectItemCaseSensitive(want, "sso_sessions");
    ok = same_sections(&ini.profiles, cJSON_GetObjectItemCaseSensitive(want, "profiles"), why, n) &&
         (!sso || same_sections(&ini.sso_sessions, sso, why, n));
out:
    dr_ini_free(&ini);
    return ok;
}

static void test_profile_parser_suite(void)
{
    cJSON *doc = load_suite("aws-runtime-test-data", "profile-parser-tests.json");
    if (!doc)
        return;
    int pass = 0, total = 0;
    const cJSON *tc;
    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(doc, "tests"))
    {
        char why[512] = "";
        int ok = run_parser_case(tc, why, sizeof why);
        total++;
        pass += ok;
        if (!ok)
            fprintf(stderr, "profile-parser case \"%s\": %s\n",
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "name")), why);
        CHECK(ok);
    }
    printf("profile-parser-tests.json: %d/%d cases pass\n", pass, total);
    CHECK(total > 50);
    cJSON_Delete(doc);
}

static const char *json_getenv(void *ud, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive((const cJSON *)ud, name));
}

static void test_file_location_suite(void)
{
    cJSON *doc = load_suite("aws-runtime-test-data", "file-location-tests.json");
    if (!doc)
        return;
    int pass = 0, total = 0;
    const cJSON *tc;
    cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(doc, "tests"))
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "name"));
        const char *platform =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "platform"));
        const char *want_cfg =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "configLocation"));
        const char *want_cred =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "credentialsLocation"));
        const char *want_profile =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tc, "profile"));
        struct dr_ini_paths p;
        struct dr_ini_status st;
        enum dr_ini_platform plat =
            platform && strcmp(platform, "windows") == 0 ? DR_INI_WINDOWS : DR_INI_POSIX;
        int rc = dr_ini_paths_resolve(
            &p, json_getenv, cJSON_GetObjectItemCaseSensitive(tc, "environment"), plat, &st);
        int ok = rc == DR_INI_OK && want_cfg && strcmp(p.config, want_cfg) == 0 && want_cred &&
                 strcmp(p.credentials, want_cred) == 0 &&
                 (!want_profile || strcmp(p.profile, want_profile) == 0);
        if (!ok)
            fprintf(stderr, "file-location case \"%s\": rc %d %s | %s | %s | %s\n", name, rc,
                    st.msg, p.config ? p.config : "-", p.credentials ? p.credentials : "-",
                    p.profile ? p.profile : "-");
        total++;
        pass += ok;
        CHECK(ok);
        dr_ini_paths_free(&p);
    }
    printf("file-location-tests.json: %d/%d cases pass\n", pass, total);
    CHECK(total > 5);
    cJSON_Delete(doc);
}

/* ------------------------------------------------------------------------ */
/* Hand-written cases. */

static int parse_cfg(struct dr_ini *ini, const char *text, struct dr_ini_status *st)
{
    return dr_ini_parse(ini, DR_INI_CONFIG, text, strlen(text), "cfg", st);
}

static void test_sub_properties(void)
{
    struct dr_ini ini = {0};
    struct dr_ini_status st;
    CHECK(parse_cfg(&ini,
                    "[profile dev]\n"
                    "s3 =\n"
                    "  max_concurrent_requests = 10\n"
                    "\n"
                    "  Multipart_Threshold = 64MB ; not a comment here\n"
                    "  max_concurrent_requests = 20\n"
                    "region = eu-west-1\n",
                    &st) == DR_INI_OK);
    const struct dr_ini_section *p = dr_ini_profile(&ini, "dev");
    CHECK(p != NULL);
    CHECK_STR(dr_ini_get_sub(p, "s3", "max_concurrent_requests"), "20");
    CHECK_STR(dr_ini_get_sub(p, "S3", "MULTIPART_THRESHOLD"), "64MB ; not a comment here");
    CHECK(dr_ini_get_sub(p, "s3", "nope") == NULL);
    CHECK(dr_ini_get_sub(p, "region", "x") == NULL);
    CHECK_STR(dr_ini_get(p, "REGION"), "eu-west-1");
    CHECK(p && p->nprops == 2 && p->props[0].nsubs == 2);

    /* Redefining the property drops its sub-properties. */
    CHECK(parse_cfg(&ini, "[profile dev]\ns3 = plain\n", &st) == DR_INI_OK);
    CHECK_STR(dr_ini_get(dr_ini_profile(&ini, "dev"), "s3"), "plain");
    CHECK(dr_ini_get_sub(dr_ini_profile(&ini, "dev"), "s3", "max_concurrent_requests") == NULL);
    dr_ini_free(&ini);
}

static void test_errors_have_line_numbers(void)
{
    struct dr_ini ini = {0};
    struct dr_ini_status st;
    int rc = parse_cfg(&ini, "[default]\r\nregion = x\r\n\r\nbad line\r\n", &st);
    CHECK(rc == DR_INI_ESYNTAX);
    CHECK(st.line == 4);
    CHECK_STR(st.msg, "cfg:4: Expected an '=' sign defining a property");

    rc = dr_ini_parse(&ini, DR_INI_CREDENTIALS, "[a]\nk = v\n[b\n", 11, NULL, &st);
    CHECK(rc == DR_INI_ESYNTAX && st.line == 3);
    CHECK_STR(st.msg, "credentials:3: Profile definition must end with ']'");

    static const char nul[] = "[default]\nregion = a\0b\n";
    CHECK(dr_ini_parse(&ini, DR_INI_CONFIG, nul, sizeof nul - 1, "cfg", &st) == DR_INI_ESYNTAX);
    CHECK(st.line == 2);
    CHECK(ini.profiles.n == 0); /* nothing merged from failed files */
    CHECK(parse_cfg(&ini, "x = 1\n", NULL) == DR_INI_ESYNTAX); /* st is optional */
    dr_ini_free(&ini);
}

static void test_failed_parse_keeps_previous(void)
{
    struct dr_ini ini = {0};
    struct dr_ini_status st;
    CHECK(parse_cfg(&ini, "[default]\nregion = eu-west-1\n", &st) == DR_INI_OK);
    const char *bad = "[default]\nregion = us-east-1\n[x]\n  -cont\n";
    CHECK(dr_ini_parse(&ini, DR_INI_CREDENTIALS, bad, strlen(bad), "cred", &st) == DR_INI_ESYNTAX);
    CHECK_STR(st.msg, "cred:4: Expected a property definition, found continuation");
    CHECK_STR(dr_ini_get(dr_ini_profile(&ini, "default"), "region"), "eu-west-1");
    CHECK(ini.profiles.n == 1);
    dr_ini_free(&ini);
    dr_ini_free(&ini); /* idempotent */
    dr_ini_free(NULL);
}

static void test_config_and_credentials(void)
{
    struct dr_ini ini = {0};
    struct dr_ini_status st;
    const char *cfg = "[default]\n"
                      "region = eu-west-1\n"
                      "[profile data-engineer]\n"
                      "role_arn = arn:aws:iam::123456789012:role/de\n"
                      "source_profile = default\n"
                      "aws_access_key_id = FROMCONFIG\n"
                      "[sso-session corp]\n"
                      "sso_region = us-east-1\n"
                      "sso_start_url = https://corp.awsapps.com/start#/ # comment\n"
                      "[services local]\n"
                      "s3 =\n"
                      "  endpoint_url = http://127.0.0.1:5000\n"
                      "[not-a-profile]\n"
                      "x = 1\n";
    const char *cred = "[default]\n"
                       "aws_access_key_id = AKIDEXAMPLE\n"
                       "aws_secret_access_key = wJalr#XUtnFEMI ; trailing\n"
                       "[data-engineer]\n"
                       "aws_access_key_id = FROMCREDS\n"
                       "[profile ignored]\n"
                       "a = b\n";
    CHECK(parse_cfg(&ini, cfg, &st) == DR_INI_OK);
    CHECK(dr_ini_parse(&ini, DR_INI_CREDENTIALS, cred, strlen(cred), "cred", &st) == DR_INI_OK);
    const struct dr_ini_section *d = dr_ini_profile(&ini, "default");
    CHECK_STR(dr_ini_get(d, "region"), "eu-west-1");
    CHECK_STR(dr_ini_get(d, "aws_access_key_id"), "AKIDEXAMPLE");
    CHECK_STR(dr_ini_get(d, "aws_secret_access_key"), "wJalr#XUtnFEMI");
    const struct dr_ini_section *de = dr_ini_profile(&ini, "data-engineer");
    CHECK_STR(dr_ini_get(de, "aws_access_key_id"), "FROMCREDS");
    CHECK_STR(dr_ini_get(de, "source_profile"), "default");
    CHECK(dr_ini_profile(&ini, "ignored") == NULL);
    CHECK(dr_ini_profile(&ini, "not-a-profile") == NULL);
    CHECK(dr_ini_profile(&ini, "Default") == NULL); /* profile names are case-sensitive */
    CHECK(ini.profiles.n == 2);
    CHECK_STR(dr_ini_get(dr_ini_find(&ini.sso_sessions, "corp"), "sso_start_url"),
              "https://corp.awsapps.com/start#/");
    CHECK_STR(dr_ini_get_sub(dr_ini_find(&ini.services, "local"), "s3", "endpoint_url"),
              "http://127.0.0.1:5000");
    CHECK(dr_ini_get(NULL, "x") == NULL);
    dr_ini_free(&ini);
}

static void test_caps(void)
{
    struct dr_ini ini = {0};
    struct dr_ini_status st;
    size_t big = DR_INI_FILE_MAX + 1;
    char *text = malloc(big);
    CHECK(text != NULL);
    if (!text)
        return;
    memset(text, '\n', big);
    CHECK(dr_ini_parse(&ini, DR_INI_CONFIG, text, big, "cfg", &st) == DR_INI_ELIMIT);
    CHECK(dr_ini_parse(&ini, DR_INI_CONFIG, text, big - 1, "cfg", &st) == DR_INI_OK);

    /* One value grown past DR_INI_VALUE_MAX by continuation lines. */
    size_t len = (size_t)snprintf(text, big, "[default]\nk = v\n");
    while (len < 2 * DR_INI_VALUE_MAX) {
        memcpy(text + len, " continued\n", 11);
        len += 11;
    }
    CHECK(dr_ini_parse(&ini, DR_INI_CONFIG, text, len, "cfg", &st) == DR_INI_ELIMIT);
    CHECK(strstr(st.msg, "value too long") != NULL);
    CHECK(ini.profiles.n == 0);

    /* More properties in one section than DR_INI_ENTRIES_MAX. */
    len = (size_t)snprintf(text, big, "[default]\n");
    for (unsigned i = 0; i <= DR_INI_ENTRIES_MAX; i++)
        len += (size_t)snprintf(text + len, big - len, "k%u = v\n", i);
    CHECK(dr_ini_parse(&ini, DR_INI_CONFIG, text, len, "cfg", &st) == DR_INI_ELIMIT);
    CHECK(st.line == (int)DR_INI_ENTRIES_MAX + 2);
    CHECK(ini.profiles.n == 0);
    free(text);
    dr_ini_free(&ini);
}

static void test_load_files(void)
{
    char dir[] = "/tmp/dr_ini_test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cfg[64], cred[64], missing[80];
    snprintf(cfg, sizeof cfg, "%s/config", dir);
    snprintf(cred, sizeof cred, "%s/credentials", dir);
    snprintf(missing, sizeof missing, "%s/config/not-a-dir", dir);
    write_text(cfg, "[profile p]\nregion = eu-west-1\n");
    write_text(cred, "[p]\naws_access_key_id = AKID\n");

    struct dr_ini ini = {0};
    struct dr_ini_status st;
    CHECK(dr_ini_load(&ini, DR_INI_CONFIG, cfg, &st) == DR_INI_OK);
    CHECK(dr_ini_load(&ini, DR_INI_CREDENTIALS, cred, &st) == DR_INI_OK);
    CHECK(dr_ini_load(&ini, DR_INI_CONFIG, "/nonexistent/dbtrun/config", &st) == DR_INI_OK);
    CHECK(dr_ini_load(&ini, DR_INI_CONFIG, missing, &st) == DR_INI_OK); /* ENOTDIR */
    const struct dr_ini_section *p = dr_ini_profile(&ini, "p");
    CHECK_STR(dr_ini_get(p, "region"), "eu-west-1");
    CHECK_STR(dr_ini_get(p, "aws_access_key_id"), "AKID");

    CHECK(dr_ini_load(&ini, DR_INI_CONFIG, dir, &st) == DR_INI_EIO); /* a directory */
    CHECK(strncmp(st.msg, dir, strlen(dir)) == 0);

    write_text(cfg, "[profile p]\nregion = eu-west-1\nregion\n");
    CHECK(dr_ini_load(&ini, DR_INI_CONFIG, cfg, &st) == DR_INI_ESYNTAX);
    char want[128];
    snprintf(want, sizeof want, "%s:3: Expected an '=' sign defining a property", cfg);
    CHECK_STR(st.msg, want);
    dr_ini_free(&ini);
    unlink(cfg);
    unlink(cred);
    rmdir(dir);
}

/* getenv over a NULL-terminated list of name, value pairs. */
static const char *pairs_getenv(void *ud, const char *name)
{
    for (const char *const *kv = ud; kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static void test_paths(void)
{
    struct dr_ini_paths p;
    struct dr_ini_status st;
    const char *tilde[] = {
        "HOME",        "/home/u", "AWS_CONFIG_FILE", "~/cfg/config", "AWS_SHARED_CREDENTIALS_FILE",
        "~user/creds", NULL};
    CHECK(dr_ini_paths_resolve(&p, pairs_getenv, tilde, DR_INI_POSIX, &st) == DR_INI_OK);
    CHECK_STR(p.config, "/home/u/cfg/config");
    CHECK_STR(p.credentials, "~user/creds"); /* only "~" and "~/" expand */
    CHECK_STR(p.profile, "default");
    dr_ini_paths_free(&p);

    const char *root[] = {"HOME", "/", "AWS_CONFIG_FILE", "~", "AWS_PROFILE", "", NULL};
    CHECK(dr_ini_paths_resolve(&p, pairs_getenv, root, DR_INI_POSIX, &st) == DR_INI_OK);
    CHECK_STR(p.config, "");
    CHECK_STR(p.credentials, "/.aws/credentials");
    CHECK_STR(p.profile, "default"); /* empty counts as unset */
    dr_ini_paths_free(&p);

    const char *fallback[] = {"HOME", "", "USERPROFILE", "/users/u", NULL};
    CHECK(dr_ini_paths_resolve(&p, pairs_getenv, fallback, DR_INI_POSIX, &st) == DR_INI_OK);
    CHECK_STR(p.config, "/users/u/.aws/config");
    dr_ini_paths_free(&p);

    const char *win[] = {"USERPROFILE", "C:\\Users\\u\\", "AWS_CONFIG_FILE", "~\\cfg", NULL};
    CHECK(dr_ini_paths_resolve(&p, pairs_getenv, win, DR_INI_WINDOWS, &st) == DR_INI_OK);
    CHECK_STR(p.config, "C:\\Users\\u\\cfg");
    CHECK_STR(p.credentials, "C:\\Users\\u\\.aws\\credentials");
    dr_ini_paths_free(&p);

    const char *nohome[] = {"HOMEDRIVE", "C:", "HOMEPATH", "\\u", NULL};
    CHECK(dr_ini_paths_resolve(&p, pairs_getenv, nohome, DR_INI_POSIX, &st) == DR_INI_ENOHOME);
    CHECK(p.config == NULL && p.credentials == NULL && p.profile == NULL);
    CHECK(strstr(st.msg, "HOME") != NULL);

    const char *explicit_only[] = {"AWS_CONFIG_FILE", "/etc/aws/config",
                                   "AWS_SHARED_CREDENTIALS_FILE", "/etc/aws/credentials", NULL};
    CHECK(dr_ini_paths_resolve(&p, pairs_getenv, explicit_only, DR_INI_POSIX, &st) == DR_INI_OK);
    CHECK_STR(p.credentials, "/etc/aws/credentials");
    dr_ini_paths_free(&p);

    const char *tilde_nohome[] = {"AWS_CONFIG_FILE", "~/c", "AWS_SHARED_CREDENTIALS_FILE", "/c",
                                  NULL};
    CHECK(dr_ini_paths_resolve(&p, pairs_getenv, tilde_nohome, DR_INI_POSIX, &st) ==
          DR_INI_ENOHOME);
    CHECK_STR(st.msg, "AWS_CONFIG_FILE starts with ~ but HOME is not set");

    /* NULL callback: the process environment. */
    CHECK(setenv("AWS_PROFILE", "from-process-env", 1) == 0);
    CHECK(setenv("AWS_CONFIG_FILE", "/x/config", 1) == 0);
    CHECK(setenv("AWS_SHARED_CREDENTIALS_FILE", "/x/credentials", 1) == 0);
    CHECK(dr_ini_paths_resolve(&p, NULL, NULL, DR_INI_POSIX, &st) == DR_INI_OK);
    CHECK_STR(p.profile, "from-process-env");
    CHECK_STR(p.config, "/x/config");
    CHECK_STR(p.credentials, "/x/credentials");
    dr_ini_paths_free(&p);
    dr_ini_paths_free(NULL);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

TEST_MAIN(test_profile_parser_suite, test_file_location_suite, test_sub_properties,
          test_errors_have_line_numbers, test_failed_parse_keeps_previous,
          test_config_and_credentials, test_caps, test_load_files, test_paths)
