/* Unit tests for the secret → environment naming of src/aws/secrets.c,
 * against the rules of aws-actions/aws-secretsmanager-get-secrets. */
#include "dbtrun/secrets.h"
#include "harness.h"

#include <stdlib.h>

static char msg[256];

/* Converts and returns "NAME=value;NAME=value;" (static), or "ERR:msg". */
static const char *env_of(const char *prefix, const char *value)
{
    static char out[2048];
    struct dr_secret_var *vars;
    size_t n;
    if (dr_secrets_to_env(prefix, value, strlen(value), &vars, &n, msg, sizeof msg) != 0) {
        snprintf(out, sizeof out, "ERR:%s", msg);
        return out;
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, vars[i].name, sizeof out - strlen(out) - 1);
        strncat(out, "=", sizeof out - strlen(out) - 1);
        strncat(out, vars[i].value, sizeof out - strlen(out) - 1);
        strncat(out, ";", sizeof out - strlen(out) - 1);
    }
    dr_secrets_free_vars(vars, n);
    return out;
}

static void test_names(void)
{
    char *s;
    CHECK_STR(s = dr_secrets_env_name("dbt/snowflake-credentials"), "DBT_SNOWFLAKE_CREDENTIALS");
    free(s);
    CHECK_STR(s = dr_secrets_env_name("1/dev/foo"), "_1_DEV_FOO");
    free(s);
    CHECK_STR(s = dr_secrets_env_name("private.key"), "PRIVATE_KEY");
    free(s);
    CHECK_STR(s = dr_secrets_env_name("ümlaut"), "__MLAUT"); /* each byte outside ASCII */
    free(s);
}

static void test_seed_secret(void)
{
    const char *secret =
        "{\"account\":\"xy12345\",\"user\":\"DBT_CI\",\"private_key\":\"-----BEGIN "
        "KEY-----\\nMIIE\\n-----END KEY-----\",\"role\":\"TRANSFORMER\"}";
    CHECK_STR(env_of("SNOWFLAKE", secret),
              "SNOWFLAKE_ACCOUNT=xy12345;SNOWFLAKE_USER=DBT_CI;SNOWFLAKE_PRIVATE_KEY=-----BEGIN "
              "KEY-----\nMIIE\n-----END KEY-----;SNOWFLAKE_ROLE=TRANSFORMER;");
}

static void test_nested_and_odd_keys(void)
{
    CHECK_STR(env_of("db", "{\"conn\":{\"host\":\"h\",\"port\":5432},\"tags\":[1,\"a\"],"
                           "\"on\":true,\"none\":null,\"dashed-key\":\"d\",\"9lives\":\"c\"}"),
              "DB_CONN_HOST=h;DB_CONN_PORT=5432;DB_TAGS=[1,\"a\"];DB_ON=true;DB_NONE=null;"
              "DB_DASHED_KEY=d;DB__9LIVES=c;");
    /* a string that holds a JSON object is expanded, as the action does */
    CHECK_STR(env_of("x", "{\"inner\":\"{\\\"k\\\":\\\"v\\\"}\"}"), "X_INNER_K=v;");
    CHECK_STR(env_of("x", "{}"), "");
}

static void test_plain_and_blank_prefix(void)
{
    CHECK_STR(env_of("dbt/token", "not json at all"), "DBT_TOKEN=not json at all;");
    CHECK_STR(env_of("arr", "[1,2]"), "ARR=[1,2];");
    CHECK_STR(env_of("", "{\"user\":\"u\",\"pass\":\"p\"}"), "USER=u;PASS=p;");
    CHECK(strncmp(env_of("", "plain"), "ERR:an empty prefix", 19) == 0);
}

static void test_collisions_are_errors(void)
{
    CHECK(strstr(env_of("p", "{\"a-b\":\"1\",\"a_b\":\"2\"}"), "ERR:two keys") != NULL);
}

TEST_MAIN(test_names, test_seed_secret, test_nested_and_odd_keys, test_plain_and_blank_prefix,
          test_collisions_are_errors)
