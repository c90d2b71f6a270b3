/* aws_cmd: the `dbtrun aws ...` command line — thin adapters that parse
 * arguments, call the C core (src/aws/) and print results the way the aws
 * CLI users expect. No Lua is involved: `dbtrun aws` starts in a millisecond
 * plus the requests it makes. */
#include "aws_cmd.h"
#include "dbtrun/aws.h"
#include "dbtrun/cloudfront.h"
#include "dbtrun/creds.h"
#include "dbtrun/isotime.h"
#include "dbtrun/mask.h"
#include "dbtrun/proc.h"
#include "dbtrun/secrets.h"
#include "dbtrun/sts.h"
#include "dbtrun/wipe.h"
#include "aws_s3.h"
#include "aws_sso.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char dr_aws_usage[] =
    "usage: dbtrun aws [--profile P] [--region R] [--endpoint-url URL]\n"
    "                  [--cli-connect-timeout S] [--cli-read-timeout S] COMMAND ...\n"
    "  (timeouts in seconds, 0: none; defaults 10 and 60; retries: AWS_MAX_ATTEMPTS,\n"
    "   AWS_RETRY_MODE standard, adaptive or legacy)\n"
    "\n"
    "  whoami [--json]                      account, ARN, credential source and expiry (STS)\n"
    "  export-credentials                   the resolved credentials as credential_process JSON\n"
    "  sso login [--no-browser]             sign in to IAM Identity Center (device code) for the\n"
    "                                       profile; the token is cached where the aws CLI keeps "
    "it\n"
    "  sso logout                           remove the cached IAM Identity Center tokens\n"
    "  secrets get SECRET_ID [--env [PREFIX]] [--version-stage S] [--version-id V]\n"
    "                                       the value, or `export NAME=...` lines\n"
    "  s3 cp SRC DST [--recursive]          SRC/DST: s3://bucket/key, file://path or a path\n"
    "  s3 sync SRC DST [--delete] [--exclude G]... [--include G]... [--dryrun]\n"
    "  s3 ls s3://bucket[/prefix] [--recursive]\n"
    "  s3 rm s3://bucket/key [--recursive]\n"
    "  s3 presign s3://bucket/key [--expires-in SECONDS]\n"
    "  cloudfront invalidate DISTRIBUTION_ID PATH... [--wait] [--timeout SECONDS]\n"
    "                                       PATH: /index.html, '/docs/*'; waits up to 600 s\n";

/* The arguments after `aws`, with the common options taken out. */
struct aws_args {
    struct dr_aws_client_opts opts;
    int json;
    char **words; /* the command and its operands */
    int nwords;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dbtrun aws: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see dbtrun aws --help)\n", stderr);
    return 2;
}

/* "0".."86400" into *out. 0, or -1. */
static int parse_seconds(const char *v, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 0 || n > 86400)
        return -1;
    *out = n;
    return 0;
}

/* Splits argv into common options and words. 0, or 2 after printing why. */
static int parse_args(int argc, char **argv, struct aws_args *a)
{
    static const char *const valued[] = {"--profile", "--region", "--endpoint-url",
                                         "--cli-connect-timeout", "--cli-read-timeout"};
    a->words = calloc((size_t)argc + 1, sizeof *a->words);
    if (!a->words)
        return usage_error("%s", "out of memory");
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *value = NULL;
        size_t k;
        for (k = 0; k < 5; k++) {
            size_t n = strlen(valued[k]);
            if (strncmp(arg, valued[k], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
                if (arg[n] == '=')
                    value = arg + n + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return usage_error("option %s needs a value", arg);
                break;
            }
        }
        if (k == 0)
            a->opts.profile = value;
        else if (k == 1)
            a->opts.region = value;
        else if (k == 2)
            a->opts.endpoint_url = value;
        else if (k == 3 || k == 4) {
            long seconds;
            if (parse_seconds(value, &seconds) != 0)
                return usage_error("%s wants whole seconds from 0 (no timeout) to 86400",
                                   valued[k]);
            if (k == 3)
                a->opts.connect_timeout_ms = seconds ? seconds * 1000 : DR_AWS_TIMEOUT_NONE;
            else
                a->opts.read_timeout_s = seconds ? seconds : DR_AWS_TIMEOUT_NONE;
        } else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0)
            a->opts.verbose++;
        else if (strcmp(arg, "--json") == 0)
            a->json = 1;
        else
            a->words[a->nwords++] = argv[i];
    }
    return 0;
}

static int report(const struct dr_aws_error *err)
{
    char text[2048];
    dr_aws_error_format(err, text, sizeof text);
    fprintf(stderr, "error: %s\n", text);
    return 1;
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

/* When credentials expire, for people: "2026-12-07T22:00:00Z (in 59 min)",
 * or "never" for keys that do not. */
static void expiry_text(const struct dr_aws_credentials *cred, char *buf, size_t len)
{
    char when[32];
    time_t now = time(NULL);
    if (!cred->expiration) {
        snprintf(buf, len, "never");
        return;
    }
    dr_isotime_format(cred->expiration, when);
    if (cred->expiration <= now)
        snprintf(buf, len, "%s (expired)", when);
    else
        snprintf(buf, len, "%s (in %ld min)", when, (long)(cred->expiration - now + 59) / 60);
}

/* dbtrun aws whoami [--json]: who, and which source gave the credentials
 * until when (an SSO sign-in names its session). */
static int cmd_whoami(struct dr_aws_client *c, const struct aws_args *a)
{
    struct dr_aws_error err = {0};
    char *account = NULL, *arn = NULL, *user_id = NULL, expires[64], when[32] = "";
    const struct dr_aws_credentials *cred = dr_aws_credentials_get(c, &err);
    if (!cred || dr_sts_get_caller_identity(c, &account, &arn, &user_id, &err) != 0)
        return report(&err);
    expiry_text(cred, expires, sizeof expires);
    if (cred->expiration)
        dr_isotime_format(cred->expiration, when);
    if (a->json) {
        const char *keys[] = {"Account", "Arn", "UserId", "Provider", "Region", "Expiration"};
        const char *values[] = {account, arn, user_id, cred->provider, dr_aws_client_region(c),
                                when};
        for (int i = 0; i < 6; i++) {
            if (i == 5 && !when[0])
                continue;
            printf("%s\"%s\": ", i ? ", " : "{", keys[i]);
            print_json_string(values[i] ? values[i] : "");
        }
        printf("}\n");
    } else {
        printf("Account      %s\nArn          %s\nUserId       %s\nCredentials  %s\n"
               "Expires      %s\nRegion       %s\n",
               account, arn, user_id, cred->provider, expires, dr_aws_client_region(c));
    }
    free(account);
    free(arn);
    free(user_id);
    return 0;
}

/* dbtrun aws export-credentials: credential_process JSON (Version 1). */
static int cmd_export_credentials(struct dr_aws_client *c)
{
    struct dr_aws_error err = {0};
    const struct dr_aws_credentials *cred = dr_aws_credentials_get(c, &err);
    char *json = cred ? dr_creds_process_json(cred) : NULL;
    if (!cred)
        return report(&err);
    if (!json) {
        fputs("error: out of memory\n", stderr);
        return 1;
    }
    printf("%s\n", json);
    dr_free_secret(json);
    return 0;
}

/* Single-quotes value for a POSIX shell. */
static void print_shell_quoted(const char *value)
{
    putchar('\'');
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    }
    putchar('\'');
}

/* dbtrun aws secrets get ID [--env [PREFIX]] [--version-stage S] [--version-id V] */
static int cmd_secrets_get(struct dr_aws_client *c, int argc, char **argv)
{
    const char *id = NULL, *stage = NULL, *version = NULL, *prefix = NULL;
    int env = 0, status = 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--env") == 0) {
            env = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-' && id)
                prefix = argv[++i];
        } else if (strcmp(argv[i], "--version-stage") == 0 && i + 1 < argc) {
            stage = argv[++i];
        } else if (strcmp(argv[i], "--version-id") == 0 && i + 1 < argc) {
            version = argv[++i];
        } else if (!id && argv[i][0] != '-') {
            id = argv[i];
        } else {
            return usage_error("secrets get: unexpected argument %s", argv[i]);
        }
    }
    if (!id)
        return usage_error("%s", "secrets get needs a SECRET_ID");
    struct dr_aws_error err = {0};
    char *value = NULL, *name = NULL;
    size_t len = 0;
    if (dr_secrets_get(c, id, stage, version, &value, &len, &name, &err) != 0)
        return report(&err);
    if (!env) {
        fwrite(value, 1, len, stdout);
        putchar('\n');
        status = 0;
    } else {
        struct dr_secret_var *vars;
        size_t n;
        char msg[256];
        if (dr_secrets_to_env(prefix ? prefix : (name ? name : id), value, len, &vars, &n, msg,
                              sizeof msg) != 0) {
            fprintf(stderr, "error: %s: %s\n", id, msg);
        } else {
            for (size_t i = 0; i < n; i++) {
                printf("export %s=", vars[i].name);
                print_shell_quoted(vars[i].value);
                putchar('\n');
            }
            dr_secrets_free_vars(vars, n);
            status = 0;
        }
    }
    dr_secrets_free_value(value, len);
    free(name);
    return status;
}

/* dbtrun aws cloudfront invalidate DIST PATH... [--wait] [--timeout SECONDS]: prints
 * "invalidation ID STATUS", and a second line with Completed once --wait sees it. */
static int cmd_cloudfront_invalidate(struct dr_aws_client *c, int argc, char **argv)
{
    const char *dist = NULL;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    size_t npaths = 0;
    int wait = 0, timeout = 0, status = 1;
    char *id = NULL, *state = NULL;
    struct dr_aws_error err = {0};
    if (!paths)
        return usage_error("%s", "out of memory");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else if (strcmp(argv[i], "--timeout") == 0) {
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[++i], &end, 10) : 0;
            if (!end || *end || end == argv[i] || v <= 0 || v > 86400) {
                status = usage_error("%s", "--timeout wants whole seconds from 1 to 86400");
                goto out;
            }
            timeout = (int)v;
        } else if (argv[i][0] == '-') {
            status = usage_error("cloudfront invalidate: unexpected argument %s", argv[i]);
            goto out;
        } else if (!dist) {
            dist = argv[i];
        } else {
            paths[npaths++] = argv[i];
        }
    }
    if (!dist || npaths == 0) {
        status = usage_error("%s", "cloudfront invalidate needs DISTRIBUTION_ID and PATH...");
        goto out;
    }
    if (timeout && !wait) {
        status = usage_error("%s", "--timeout goes with --wait");
        goto out;
    }
    if (dr_cloudfront_invalidate(c, dist, paths, npaths, &id, &state, &err) != 0) {
        status = report(&err);
        goto out;
    }
    printf("invalidation %s %s\n", id, state);
    fflush(stdout); /* the id is worth having while --wait runs */
    if (wait && dr_cloudfront_wait(c, dist, id, timeout, 0, &err) != 0) {
        status = report(&err);
        goto out;
    }
    if (wait)
        printf("invalidation %s Completed\n", id);
    status = 0;
out:
    free(id);
    free(state);
    free(paths);
    return status;
}

int dr_aws_cmd(int argc, char **argv, int verbose)
{
    struct aws_args a = {0};
    struct dr_aws_client *c = NULL;
    struct dr_aws_error err = {0};
    int status = parse_args(argc, argv, &a);
    a.opts.verbose += verbose;
    if (status != 0)
        goto out;
    if (a.nwords == 0 || strcmp(a.words[0], "--help") == 0 || strcmp(a.words[0], "-h") == 0) {
        fputs(dr_aws_usage, a.nwords ? stdout : stderr);
        status = a.nwords ? 0 : 2;
        goto out;
    }
    /* caught, not fatal: in-flight requests stop, temp files go, then exit 128+N */
    dr_proc_init_signals(NULL);
    if (dr_aws_client_new(&a.opts, &c, &err) != 0) {
        status = report(&err);
        goto out;
    }
    if (strcmp(a.words[0], "whoami") == 0 && a.nwords == 1)
        status = cmd_whoami(c, &a);
    else if (strcmp(a.words[0], "export-credentials") == 0 && a.nwords == 1)
        status = cmd_export_credentials(c);
    else if (strcmp(a.words[0], "secrets") == 0 && a.nwords >= 2 && strcmp(a.words[1], "get") == 0)
        status = cmd_secrets_get(c, a.nwords - 2, a.words + 2);
    else if (strcmp(a.words[0], "sso") == 0 && a.nwords >= 2)
        status = dr_aws_sso_cmd(c, a.nwords - 1, a.words + 1);
    else if (strcmp(a.words[0], "s3") == 0 && a.nwords >= 2)
        status = dr_aws_s3_cmd(c, a.nwords - 1, a.words + 1);
    else if (strcmp(a.words[0], "cloudfront") == 0 && a.nwords >= 2 &&
             strcmp(a.words[1], "invalidate") == 0)
        status = cmd_cloudfront_invalidate(c, a.nwords - 2, a.words + 2);
    else
        status = usage_error("unknown command or extra arguments: %s", a.words[0]);
out:
    if (dr_proc_last_signal())
        status = 128 + dr_proc_last_signal();
    dr_aws_client_free(c);
    free(a.words);
    return status;
}
