/* Tests of mfa.c: the aws CLI's cache key (checked against botocore's
 * sha1(json.dumps(args, sort_keys=True))), the cache file (0600, only the
 * credentials, read back while fresh, never when others may read it), the
 * run's copy, and what happens without a terminal. */
#include "harness.h"

#include "dbtrun/client.h"
#include "dbtrun/dl.h"
#include "dbtrun/fs.h"
#include "dbtrun/mfa.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/dbtrun-test-mfa-XXXXXX";
static int ready;

static void test_setup(void)
{
    char err[256] = "";
    ready = dr_dl_crypto(err, sizeof err) == 0 && mkdtemp(dir) != NULL;
    if (!ready)
        MISSING("test_mfa: libcrypto or a temporary folder (%s)", err);
}

static void test_cache_key(void)
{
    char key[DR_MFA_KEY_LEN + 1];
    struct dr_sts_role_params p = {.role_arn = "arn:aws:iam::123456789012:role/admin",
                                   .serial_number = "arn:aws:iam::123456789012:mfa/alice",
                                   .token_code = "123456"};
    if (!ready)
        return;
    CHECK(dr_mfa_cache_key(&p, key) == 0);
    CHECK_STR(key, "c08bbcd61d2960e17757c33319b79219a44dea4e"); /* the code is not in it */
    p.duration_seconds = "0900";
    p.external_id = "ext \"\xc3\xa9\" \xf0\x9f\x98\x80\n";
    p.session_name = "me";
    CHECK(dr_mfa_cache_key(&p, key) == 0);
    CHECK_STR(key, "1343653adc77a9cb20e0ac64c9e5e4f0689ffadf");
    char *path = NULL, err[128];
    struct dr_settings_env env = {NULL, NULL}; /* getenv */
    setenv("HOME", "/home/u/", 1);
    path = dr_mfa_cache_path(&env, "abc", err, sizeof err);
    CHECK_STR(path, "/home/u/.aws/cli/cache/abc.json");
    free(path);
    unsetenv("HOME");
    CHECK(dr_mfa_cache_path(&env, "abc", err, sizeof err) == NULL);
    CHECK(strstr(err, "HOME") != NULL);
}

static char akid[] = "ASIAMFA", secret[] = "mfa-secret", token[] = "mfa-token";

static void test_cache_file(void)
{
    char path[300], file_only[300];
    struct dr_aws_credentials c = {.access_key_id = akid,
                                   .secret_access_key = secret,
                                   .session_token = token,
                                   .expiration = 2000000000},
                              got;
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    if (!ready)
        return;
    snprintf(path, sizeof path, "%s/home/.aws/cli/cache/k1.json", dir);
    CHECK(dr_mfa_cache_put("k1", path, &c) == 0);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(file_only, sizeof file_only, "%s/home/.aws/cli/cache", dir);
    CHECK(stat(file_only, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(dr_fs_read(path, &data, &len) == 0);
    CHECK_STR(data, "{\"Credentials\": {\"AccessKeyId\": \"ASIAMFA\", \"SecretAccessKey\": "
                    "\"mfa-secret\", \"SessionToken\": \"mfa-token\", \"Expiration\": "
                    "\"2033-05-18T03:33:20Z\"}}\n");
    free(data);
    /* the run's copy */
    CHECK(dr_mfa_cache_get("k1", NULL, 1900000000, &got) == 0);
    CHECK_STR(got.access_key_id, "ASIAMFA");
    CHECK(got.expiration == 2000000000);
    dr_aws_credentials_free(&got);
    CHECK(dr_mfa_cache_get("k1", NULL, 2000000000 - 60, &got) == 1); /* due to expire */
    CHECK(dr_mfa_cache_get("other", NULL, 1900000000, &got) == 1);

    /* the file alone, as another run (or the aws CLI) left it */
    snprintf(file_only, sizeof file_only, "%s/cli.json", dir);
    const char *cli = "{\"Credentials\": {\"AccessKeyId\": \"ASIACLI\", \"SecretAccessKey\": "
                      "\"s\", \"SessionToken\": \"t\", \"Expiration\": \"2033-05-18T03:33:20UTC\", "
                      "\"AccountId\": \"123456789012\"}, \"AssumedRoleUser\": {}}";
    CHECK(dr_fs_write_atomic(file_only, cli, strlen(cli), 0600) == 0);
    CHECK(dr_mfa_cache_get("k2", file_only, 1900000000, &got) == 0);
    CHECK_STR(got.access_key_id, "ASIACLI");
    CHECK_STR(got.session_token, "t");
    CHECK(got.expiration == 2000000000);
    dr_aws_credentials_free(&got);
    CHECK(dr_mfa_cache_get("k3", file_only, 2000000000, &got) == 1); /* expired */
    char link[320];
    snprintf(link, sizeof link, "%s/link.json", dir);
    CHECK(symlink(file_only, link) == 0);
    CHECK(dr_mfa_cache_get("k7", link, 1900000000, &got) == 1); /* a symlink is not followed */
    unlink(link);
    chmod(file_only, 0644);
    CHECK(dr_mfa_cache_get("k4", file_only, 1900000000, &got) == 1); /* others could read it */
    CHECK(dr_fs_write_atomic(file_only, "{\"Credentials\": {}}", 19, 0600) == 0);
    CHECK(dr_mfa_cache_get("k5", file_only, 1900000000, &got) == 1);
    CHECK(dr_fs_write_atomic(file_only, "not json", 8, 0600) == 0);
    CHECK(dr_mfa_cache_get("k6", file_only, 1900000000, &got) == 1);
    unlink(file_only);
}

static void test_no_terminal(void)
{
    char code[DR_MFA_CODE_MAX], err[128] = "";
    int interrupted = -1;
    pid_t pid;
    int status = -1;
    if (!ready)
        return;
    /* a child without a controlling terminal (its own session) */
    if ((pid = fork()) == 0) {
        setsid();
        _exit(dr_mfa_ask("dev", "arn:mfa", code, err, sizeof err, &interrupted) == 1 ? 0 : 1);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
}

static void test_teardown(void)
{
    if (ready)
        dr_fs_rm_rf(dir);
}

TEST_MAIN(test_setup, test_cache_key, test_cache_file, test_no_terminal, test_teardown)
