/* creds: the default credential chain of the AWS SDKs: environment,
 * shared profile (assume-role chains, credential_process, web identity,
 * IAM Identity Center),
 * web identity / GitHub Actions OIDC, ECS, IMDSv2. Network calls go through
 * http.c (IMDS, ECS, GitHub) and sts.c; the client cache is client.c's. */
#include "dbtrun/creds.h"
#include "dbtrun/isotime.h"
#include "dbtrun/mfa.h"
#include "dbtrun/wipe.h"
#include "dbtrun/http.h"
#include "dbtrun/proc.h"
#include "dbtrun/sigv4.h"
#include "dbtrun/sso.h"
#include "dbtrun/sts.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMDS_TOKEN_TTL "21600"
#define IMDS_BODY_MAX (64u << 10)
#define OIDC_AUDIENCE "sts.amazonaws.com"

/* ---- small helpers ---------------------------------------------------------- */

/* Appends "<printf text>" to the chain's list of what it tried (a fixed
 * buffer, truncated), "; " between sources: one line, because S3 commands
 * escape line breaks in errors and annotations take one line. */
static void note(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    if (used + 1 >= len)
        return;
    if (used > 0)
        used += (size_t)snprintf(buf + used, len - used, "; ");
    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* Deep-copies credentials into *dst. 0, or -1 (out of memory; dst empty). */
static int creds_copy(struct dr_aws_credentials *dst, const char *akid, const char *secret,
                      const char *token, time_t expiration)
{
    memset(dst, 0, sizeof *dst);
    dst->access_key_id = strdup(akid);
    dst->secret_access_key = strdup(secret);
    dst->session_token = token && *token ? strdup(token) : NULL;
    dst->expiration = expiration;
    if (!dst->access_key_id || !dst->secret_access_key ||
        (token && *token && !dst->session_token)) {
        dr_aws_credentials_free(dst);
        return -1;
    }
    return 0;
}

/* ---- credential_process ----------------------------------------------------- */

/* A string member of a JSON object, or NULL. */
static const char *json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

int dr_creds_process_parse(const char *json, size_t len, struct dr_aws_credentials *out, char *err,
                           size_t errlen)
{
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const cJSON *version;
    const char *akid, *secret, *token, *exp;
    time_t expiration = 0;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(doc)) {
        snprintf(err, errlen, "output is not a JSON object");
        goto out;
    }
    version = cJSON_GetObjectItemCaseSensitive(doc, "Version");
    if (!cJSON_IsNumber(version) || version->valuedouble != 1) {
        snprintf(err, errlen, "output has no \"Version\": 1");
        goto out;
    }
    akid = json_str(doc, "AccessKeyId");
    secret = json_str(doc, "SecretAccessKey");
    token = json_str(doc, "SessionToken");
    exp = json_str(doc, "Expiration");
    if (!akid || !*akid || !secret || !*secret) {
        snprintf(err, errlen, "output lacks AccessKeyId or SecretAccessKey");
        goto out;
    }
    if (exp && dr_isotime_parse(exp, &expiration) != 0) {
        snprintf(err, errlen, "output has an Expiration that is not an ISO 8601 time");
        goto out;
    }
    if (creds_copy(out, akid, secret, token, expiration) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    dr_wipe_json(doc);
    return rc;
}

/* Writes s as a JSON string literal at dst (room checked by the caller:
 * 6 bytes per input byte plus 3). Returns the bytes written. */
static size_t json_quote(char *dst, const char *s)
{
    size_t n = 0;
    dst[n++] = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)ch;
        } else if (ch < 0x20) {
            n += (size_t)snprintf(dst + n, 7, "\\u%04x", ch);
        } else {
            dst[n++] = (char)ch;
        }
    }
    dst[n++] = '"';
    dst[n] = '\0';
    return n;
}

char *dr_creds_process_json(const struct dr_aws_credentials *c)
{
    /* sized once, so no partial copy of a key is left in freed memory */
    const char *names[] = {"AccessKeyId", "SecretAccessKey", "SessionToken"};
    const char *values[] = {c->access_key_id ? c->access_key_id : "",
                            c->secret_access_key ? c->secret_access_key : "", c->session_token};
    char when[32];
    size_t cap = 128;
    for (int i = 0; i < 3; i++)
        if (values[i])
            cap += strlen(names[i]) + 6 * strlen(values[i]) + 16;
    char *json = malloc(cap);
    if (!json)
        return NULL;
    size_t n = (size_t)snprintf(json, cap, "{\n    \"Version\": 1");
    for (int i = 0; i < 3; i++) {
        if (!values[i])
            continue;
        n += (size_t)snprintf(json + n, cap - n, ",\n    \"%s\": ", names[i]);
        n += json_quote(json + n, values[i]);
    }
    if (c->expiration) {
        dr_isotime_format(c->expiration, when);
        n += (size_t)snprintf(json + n, cap - n, ",\n    \"Expiration\": \"%s\"", when);
    }
    snprintf(json + n, cap - n, "\n}\n");
    return json;
}

/* ---- profile plan ------------------------------------------------------------ */

static void role_from(const struct dr_ini_section *p, struct dr_creds_role *r)
{
    r->profile = p->name;
    r->role_arn = dr_settings_value(p, "role_arn");
    r->session_name = dr_settings_value(p, "role_session_name");
    r->external_id = dr_settings_value(p, "external_id");
    r->duration_seconds = dr_settings_value(p, "duration_seconds");
    r->mfa_serial = dr_settings_value(p, "mfa_serial");
}

static int parse_source(const char *v, enum dr_creds_source *out)
{
    if (strcmp(v, "Environment") == 0)
        *out = DR_CREDS_SOURCE_ENVIRONMENT;
    else if (strcmp(v, "Ec2InstanceMetadata") == 0)
        *out = DR_CREDS_SOURCE_EC2;
    else if (strcmp(v, "EcsContainer") == 0)
        *out = DR_CREDS_SOURCE_ECS;
    else
        return -1;
    return 0;
}

static int has_sso(const struct dr_ini_section *p)
{
    return dr_settings_value(p, "sso_session") || dr_settings_value(p, "sso_start_url") ||
           dr_settings_value(p, "sso_account_id") || dr_settings_value(p, "sso_role_name") ||
           dr_settings_value(p, "sso_region");
}

/* Checks sso_* settings the way the SDKs do and fills *sso from the
 * profile and its [sso-session]. 0, or -1 with err. */
static int sso_check(const struct dr_ini *ini, const struct dr_ini_section *p,
                     struct dr_creds_sso *sso, char *err, size_t errlen)
{
    const struct dr_ini_section *s = NULL;
    const char *url = dr_settings_value(p, "sso_start_url");
    sso->session = dr_settings_value(p, "sso_session");
    sso->account_id = dr_settings_value(p, "sso_account_id");
    sso->role_name = dr_settings_value(p, "sso_role_name");
    if (sso->role_name && !sso->account_id) {
        snprintf(err, errlen, "profile '%s': sso_role_name is set but sso_account_id is not",
                 p->name);
        return -1;
    }
    if (sso->account_id && !sso->role_name) {
        snprintf(err, errlen, "profile '%s': sso_account_id is set but sso_role_name is not",
                 p->name);
        return -1;
    }
    if (sso->session && !(s = dr_ini_find(&ini->sso_sessions, sso->session))) {
        snprintf(err, errlen, "sso-session '%s' (named by profile '%s') was not found",
                 sso->session, p->name);
        return -1;
    }
    if (sso->session && dr_settings_value(p, "sso_region")) {
        snprintf(err, errlen, "profile '%s': sso_region belongs in the [sso-session %s] section",
                 p->name, sso->session);
        return -1;
    }
    sso->start_url = s ? dr_settings_value(s, "sso_start_url") : url;
    sso->region = dr_settings_value(s ? s : p, "sso_region");
    sso->scopes = s ? dr_settings_value(s, "sso_registration_scopes") : NULL;
    if (s && url && sso->start_url && strcmp(url, sso->start_url) != 0) {
        snprintf(err, errlen,
                 "profile '%s': sso_start_url differs from the one in [sso-session %s]", p->name,
                 sso->session);
        return -1;
    }
    if (!sso->start_url || !sso->region) {
        snprintf(err, errlen, "%s%s%s: IAM Identity Center needs both sso_start_url and sso_region",
                 s ? "sso-session '" : "profile '", s ? sso->session : p->name, "'");
        return -1;
    }
    return 0;
}

/* A profile's own credentials, without following role_arn: credential_source,
 * web identity, SSO, credential_process, static keys. */
static int plan_base(const struct dr_ini *ini, const struct dr_ini_section *p,
                     struct dr_creds_plan *plan, char *err, size_t errlen)
{
    const char *source = dr_settings_value(p, "credential_source");
    const char *akid = dr_settings_value(p, "aws_access_key_id"),
               *secret = dr_settings_value(p, "aws_secret_access_key");
    plan->base_profile = p->name;
    if (source) {
        plan->base = DR_CREDS_BASE_SOURCE;
        if (parse_source(source, &plan->source) != 0) {
            snprintf(err, errlen,
                     "profile '%s': credential_source '%.64s' is not Environment, "
                     "Ec2InstanceMetadata or EcsContainer",
                     p->name, source);
            return DR_CREDS_PLAN_ERROR;
        }
        return DR_CREDS_PLAN_OK;
    }
    if ((plan->token_file = dr_settings_value(p, "web_identity_token_file"))) {
        if (!dr_settings_value(p, "role_arn")) {
            snprintf(err, errlen,
                     "profile '%s': web_identity_token_file was specified but role_arn was "
                     "missing",
                     p->name);
            return DR_CREDS_PLAN_ERROR;
        }
        plan->base = DR_CREDS_BASE_WEB_IDENTITY;
        role_from(p, &plan->identity);
        return DR_CREDS_PLAN_OK;
    }
    if (has_sso(p)) {
        plan->base = DR_CREDS_BASE_SSO;
        return sso_check(ini, p, &plan->sso, err, errlen) == 0 ? DR_CREDS_PLAN_OK
                                                               : DR_CREDS_PLAN_ERROR;
    }
    if ((plan->command = dr_settings_value(p, "credential_process"))) {
        plan->base = DR_CREDS_BASE_PROCESS;
        return DR_CREDS_PLAN_OK;
    }
    if (akid && secret) {
        plan->base = DR_CREDS_BASE_STATIC;
        plan->access_key_id = akid;
        plan->secret_access_key = secret;
        plan->session_token = dr_settings_value(p, "aws_session_token");
        return DR_CREDS_PLAN_OK;
    }
    if (akid || secret) {
        snprintf(err, errlen, "profile '%s' has %s but no %s", p->name,
                 akid ? "aws_access_key_id" : "aws_secret_access_key",
                 akid ? "aws_secret_access_key" : "aws_access_key_id");
        return DR_CREDS_PLAN_ERROR;
    }
    return DR_CREDS_PLAN_EMPTY;
}

/* Long on purpose, one loop: it walks the source_profile chain, and its
 * branches follow the SDK's precedence rules in order; split, the order
 * (the rule a reader must check against the SDK) would be scattered. */
int dr_creds_plan(const struct dr_ini *ini, const char *name, int github_oidc,
                  struct dr_creds_plan *plan, char *err, size_t errlen)
{
    const struct dr_ini_section *p = ini && name ? dr_ini_profile(ini, name) : NULL;
    const char *visited[DR_CREDS_CHAIN_MAX];
    struct dr_creds_role stack[DR_CREDS_CHAIN_MAX];
    size_t nvisited = 0, nstack = 0;
    int rc;
    memset(plan, 0, sizeof *plan);
    if (!p)
        return DR_CREDS_PLAN_MISSING;
    for (;;) {
        for (size_t i = 0; i < nvisited; i++) {
            if (strcmp(visited[i], p->name) == 0) {
                snprintf(err, errlen,
                         "profiles form a loop: source_profile of '%s' leads back "
                         "to '%s'",
                         visited[nvisited - 1], p->name);
                return DR_CREDS_PLAN_ERROR;
            }
        }
        if (nvisited == DR_CREDS_CHAIN_MAX) {
            snprintf(err, errlen, "more than %d profiles chained through source_profile",
                     DR_CREDS_CHAIN_MAX);
            return DR_CREDS_PLAN_ERROR;
        }
        visited[nvisited++] = p->name;
        /* a source profile's own keys end the chain, even beside a role_arn */
        if (nvisited > 1 && dr_settings_value(p, "aws_access_key_id") &&
            dr_settings_value(p, "aws_secret_access_key")) {
            plan->base = DR_CREDS_BASE_STATIC;
            plan->access_key_id = dr_settings_value(p, "aws_access_key_id");
            plan->secret_access_key = dr_settings_value(p, "aws_secret_access_key");
            plan->session_token = dr_settings_value(p, "aws_session_token");
            plan->base_profile = p->name;
            break;
        }
        if (!dr_settings_value(p, "role_arn") || dr_settings_value(p, "web_identity_token_file")) {
            rc = plan_base(ini, p, plan, err, errlen);
            if (rc == DR_CREDS_PLAN_EMPTY && nvisited > 1) {
                snprintf(err, errlen, "source profile '%s' (named by '%s') holds no credentials",
                         p->name, visited[nvisited - 2]);
                return DR_CREDS_PLAN_ERROR;
            }
            if (rc != DR_CREDS_PLAN_OK)
                return rc;
            break;
        }
        const char *source_profile = dr_settings_value(p, "source_profile");
        const char *source = dr_settings_value(p, "credential_source");
        if (source_profile && source) {
            snprintf(err, errlen, "profile '%s' has both source_profile and credential_source",
                     p->name);
            return DR_CREDS_PLAN_ERROR;
        }
        role_from(p, &stack[nstack++]);
        if (source) {
            rc = plan_base(ini, p, plan, err, errlen); /* credential_source comes first there */
            if (rc != DR_CREDS_PLAN_OK)
                return rc;
            break;
        }
        if (source_profile && strcmp(source_profile, p->name) == 0) {
            rc = plan_base(ini, p, plan, err, errlen);
            if (rc == DR_CREDS_PLAN_EMPTY)
                snprintf(err, errlen, "profile '%s' is its own source_profile but has no keys",
                         p->name);
            if (rc != DR_CREDS_PLAN_OK)
                return DR_CREDS_PLAN_ERROR;
            break;
        }
        if (source_profile) {
            const struct dr_ini_section *next = dr_ini_profile(ini, source_profile);
            if (!next) {
                snprintf(err, errlen, "source profile '%s' (named by '%s') was not found",
                         source_profile, p->name);
                plan->missing_source = source_profile;
                plan->missing_by = p->name;
                return DR_CREDS_PLAN_ERROR;
            }
            p = next;
            continue;
        }
        if (github_oidc) {
            plan->base = DR_CREDS_BASE_GITHUB_OIDC;
            plan->base_profile = p->name;
            plan->identity = stack[--nstack];
            break;
        }
        snprintf(err, errlen,
                 "profile '%s' has role_arn but no source_profile, credential_source or "
                 "web_identity_token_file",
                 p->name);
        plan->role_alone = p->name;
        return DR_CREDS_PLAN_ERROR;
    }
    for (size_t i = 0; i < nstack; i++)
        plan->roles[i] = stack[nstack - 1 - i];
    plan->nroles = nstack;
    return DR_CREDS_PLAN_OK;
}

/* ---- the chain ---------------------------------------------------------------- */

/* What a provider did: supplied credentials, was not configured (the chain
 * goes on; it added a note), or failed (the chain stops; err says why). */
enum { FOUND = 0, SKIPPED = 1, FAILED = -1 };

/* A dbtrun-made CredentialsError. Returns FAILED. */
static int cred_fail(struct dr_aws_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int cred_fail(struct dr_aws_error *err, const char *fmt, ...)
{
    va_list ap;
    memset(err, 0, sizeof *err);
    snprintf(err->code, sizeof err->code, "CredentialsError");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return FAILED;
}

static const struct dr_ini_section *ctx_profile(const struct dr_creds_ctx *ctx)
{
    return ctx->ini && ctx->profile ? dr_ini_profile(ctx->ini, ctx->profile) : NULL;
}

/* 1 when s may go into an HTTP header value. */
static int header_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\0')
            return 0;
    return 1;
}

/* Reads a small file holding a secret (a token), trailing blanks cut.
 * 0 with *out (free with dr_free_secret), or -1 with errno set. */
static int read_secret_file(const char *path, size_t max, char **out)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1, saved;
    *out = NULL;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > max) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1)))
        goto out;
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    while (len > 0 && isspace((unsigned char)buf[len - 1]))
        len--;
    buf[len] = '\0';
    *out = buf;
    buf = NULL;
    rc = 0;
out:
    saved = errno;
    if (buf) {
        dr_wipe(buf, len);
        free(buf);
    }
    close(fd);
    errno = saved;
    return rc;
}

static void sleep_ms(long ms)
{
    const char *off = getenv(DR_AWS_BACKOFF_ENV);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    if (off && strcmp(off, "1") == 0)
        return;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

struct fetch {
    const char *method;
    const char *url;
    const struct dr_http_header *headers;
    size_t nheaders;
    long connect_timeout_ms, timeout_ms;
    int attempts;        /* for 5xx answers (and transport errors when retry_transport) */
    int retry_transport; /* 0: a host that does not answer is not asked again */
};

/* One exchange with small retries. 0 when a response arrived (any status;
 * resp holds it), -1 when none did (resp->error says why). The caller frees
 * resp with response_wipe_free either way. */
static int fetch(const struct fetch *f, struct dr_http_response *resp)
{
    for (int n = 1;; n++) {
        struct dr_http_request req = {.method = f->method,
                                      .url = f->url,
                                      .headers = f->headers,
                                      .nheaders = f->nheaders,
                                      .body = f->method[0] == 'P' ? "" : NULL,
                                      .max_body = IMDS_BODY_MAX,
                                      .connect_timeout_ms = f->connect_timeout_ms,
                                      .timeout_ms = f->timeout_ms};
        dr_http_response_free_wiped(resp);
        int rc = dr_http_perform(&req, resp);
        if (rc == 0 && !resp->body) { /* http.h promises a body; never index NULL */
            snprintf(resp->error, sizeof resp->error, "out of memory");
            return -1;
        }
        if (rc != 0 && (!f->retry_transport || !resp->transport_error || n >= f->attempts))
            return -1;
        if (rc == 0 && (resp->status < 500 || n >= f->attempts))
            return 0;
        sleep_ms(100L * n);
    }
}

/* The scheme://host[:port] of a URL for messages (paths may carry ids). */
static void url_origin(const char *url, char *buf, size_t len)
{
    const char *sep = strstr(url, "://");
    size_t n = sep ? (size_t)(sep + 3 - url) + strcspn(sep + 3, "/?#") : strlen(url);
    snprintf(buf, len, "%.*s", (int)(n < 200 ? n : 200), url);
}

/* Credentials out of an ECS or IMDS JSON answer. FOUND or FAILED. */
static int container_creds(const struct dr_http_response *resp, const char *what,
                           struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    cJSON *doc = cJSON_ParseWithLength(resp->body ? resp->body : "", resp->body_len);
    const char *code, *akid, *secret, *token, *exp;
    time_t expiration = 0;
    int rc = FAILED;
    if (!cJSON_IsObject(doc)) {
        cred_fail(err, "%s answered something other than JSON credentials", what);
        goto out;
    }
    code = json_str(doc, "Code");
    akid = json_str(doc, "AccessKeyId");
    secret = json_str(doc, "SecretAccessKey");
    token = json_str(doc, "Token");
    exp = json_str(doc, "Expiration");
    if (code && strcmp(code, "Success") != 0) {
        cred_fail(err, "%s answered Code %.64s", what, code);
        goto out;
    }
    if (!akid || !*akid || !secret || !*secret) {
        cred_fail(err, "%s answered without AccessKeyId or SecretAccessKey", what);
        goto out;
    }
    if (exp && dr_isotime_parse(exp, &expiration) != 0) {
        cred_fail(err, "%s answered an Expiration that is not an ISO 8601 time", what);
        goto out;
    }
    if (creds_copy(out, akid, secret, token, expiration) != 0) {
        cred_fail(err, "out of memory");
        goto out;
    }
    rc = FOUND;
out:
    dr_wipe_json(doc);
    return rc;
}

/* Reads a number setting, clamped to [lo, hi]; `def` when unset or bad. */
static double number_setting(const struct dr_settings_env *env, const char *env_name,
                             const struct dr_ini_section *p, const char *key, double def, double lo,
                             double hi)
{
    const char *v = dr_settings_lookup(env, env_name, p, key);
    char *end;
    double d = v ? strtod(v, &end) : def;
    if (!v || end == v || *end || d != d)
        return def;
    return d < lo ? lo : d > hi ? hi : d;
}

/* One IMDS conversation: where it goes, how patiently, and the notes for
 * the "tried" list. */
struct imds {
    const char *base; /* no trailing slash */
    char origin[256]; /* for messages */
    long timeout_ms;  /* connect and whole-request limit of each call */
    int attempts;     /* AWS_METADATA_SERVICE_NUM_ATTEMPTS */
    int v1_disabled;  /* no fallback to IMDSv1 */
    char *tried;
    size_t tlen;
    char url[1024];
};

/* Step 1: the IMDSv2 session token. FOUND with *token (NULL: IMDSv1, the
 * token call is not known there), SKIPPED when nothing answers, or FAILED. */
static int imds_token(struct imds *im, char **token, struct dr_http_response *resp,
                      struct dr_aws_error *err)
{
    struct dr_http_header ttl = {"x-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL};
    struct fetch f = {"PUT", im->url, &ttl, 1, im->timeout_ms, im->timeout_ms, im->attempts, 0};
    *token = NULL;
    snprintf(im->url, sizeof im->url, "%s/latest/api/token", im->base);
    if (fetch(&f, resp) != 0) {
        note(im->tried, im->tlen, "IMDS: no answer from %s (%s)", im->origin, resp->error);
        return SKIPPED;
    }
    if (resp->status == 200) {
        size_t n = resp->body_len;
        while (n > 0 && isspace((unsigned char)resp->body[n - 1]))
            n--;
        resp->body[n] = '\0';
        if (n == 0 || n != strlen(resp->body) || !header_safe(resp->body))
            return cred_fail(err, "IMDS at %s answered an unusable session token", im->origin);
        if (!(*token = strdup(resp->body)))
            return cred_fail(err, "out of memory");
        return FOUND;
    }
    if (resp->status == 403)
        return cred_fail(err,
                         "IMDS at %s refused a session token (HTTP 403): IMDS is disabled on this "
                         "instance",
                         im->origin);
    if ((resp->status == 404 || resp->status == 405) && !im->v1_disabled)
        return FOUND;
    return cred_fail(err, "IMDS at %s answered HTTP %ld to the session token request", im->origin,
                     resp->status);
}

/* Step 2: the instance's role name. FOUND with *role, SKIPPED when there is
 * none (or IMDSv1 does not answer), or FAILED. */
static int imds_role(struct imds *im, const struct fetch *f, char **role,
                     struct dr_http_response *resp, struct dr_aws_error *err)
{
    snprintf(im->url, sizeof im->url, "%s/latest/meta-data/iam/security-credentials/", im->base);
    if (fetch(f, resp) != 0) {
        if (f->nheaders)
            return cred_fail(err, "IMDS at %s stopped answering: %s", im->origin, resp->error);
        note(im->tried, im->tlen, "IMDS: no answer from %s (%s)", im->origin, resp->error);
        return SKIPPED;
    }
    if (resp->status != 200 && resp->status != 404)
        return cred_fail(err, "IMDS at %s answered HTTP %ld to the role list request", im->origin,
                         resp->status);
    size_t n = resp->status == 200 ? strcspn(resp->body, "\r\n") : 0;
    while (n > 0 && isspace((unsigned char)resp->body[n - 1]))
        n--;
    if (n == 0) {
        note(im->tried, im->tlen, "IMDS: no IAM role attached to the instance (%s)", im->origin);
        return SKIPPED;
    }
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)resp->body[i]) && !strchr("+=,.@_-", resp->body[i]))
            return cred_fail(err, "IMDS at %s named an instance role that is not a role name",
                             im->origin);
    if (!(*role = strndup(resp->body, n)))
        return cred_fail(err, "out of memory");
    return FOUND;
}

/* Step 3: the role's credentials. FOUND with *out, or FAILED. */
static int imds_credentials(struct imds *im, const struct fetch *f, const char *role,
                            struct dr_http_response *resp, struct dr_aws_credentials *out,
                            struct dr_aws_error *err)
{
    snprintf(im->url, sizeof im->url, "%s/latest/meta-data/iam/security-credentials/%s", im->base,
             role);
    if (fetch(f, resp) != 0)
        return cred_fail(err, "IMDS at %s stopped answering: %s", im->origin, resp->error);
    if (resp->status != 200)
        return cred_fail(err, "IMDS at %s answered HTTP %ld for the credentials of role %s",
                         im->origin, resp->status, role);
    return container_creds(resp, "IMDS", out, err);
}

/* IMDSv2 (falling back to IMDSv1 when the token call is not known), with
 * 1 s timeouts so that a machine without IMDS moves on quickly. */
static int provider_imds(const struct dr_creds_ctx *ctx, char *tried, size_t tlen,
                         struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    const struct dr_ini_section *p = ctx_profile(ctx);
    struct dr_http_response resp = {0};
    struct imds im = {.tried = tried, .tlen = tlen};
    char *base = NULL, *token = NULL, *role = NULL, msg[256];
    int rc;
    if (dr_settings_true(dr_settings_getenv(ctx->env, "AWS_EC2_METADATA_DISABLED"))) {
        note(tried, tlen, "IMDS: disabled by AWS_EC2_METADATA_DISABLED");
        return SKIPPED;
    }
    if (dr_settings_imds_endpoint(ctx->env, p, &base, msg, sizeof msg) != 0)
        return cred_fail(err, "%s", msg);
    im.base = base;
    url_origin(base, im.origin, sizeof im.origin);
    im.timeout_ms = (long)(1000 * number_setting(ctx->env, "AWS_METADATA_SERVICE_TIMEOUT", p,
                                                 "metadata_service_timeout", 1, 0.1, 60));
    im.attempts = (int)number_setting(ctx->env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", p,
                                      "metadata_service_num_attempts", 3, 1, 10);
    im.v1_disabled = dr_settings_true(dr_settings_lookup(ctx->env, "AWS_EC2_METADATA_V1_DISABLED",
                                                         p, "ec2_metadata_v1_disabled"));
    if ((rc = imds_token(&im, &token, &resp, err)) != FOUND)
        goto out;
    /* with a token, calls that stop answering are retried: IMDS is there */
    struct dr_http_header auth = {"x-aws-ec2-metadata-token", token};
    struct fetch f = {"GET",         im.url,        token ? &auth : NULL, token ? 1 : 0,
                      im.timeout_ms, im.timeout_ms, im.attempts,          token != NULL};
    if ((rc = imds_role(&im, &f, &role, &resp, err)) != FOUND)
        goto out;
    if ((rc = imds_credentials(&im, &f, role, &resp, out, err)) == FOUND)
        snprintf(out->provider, sizeof out->provider, "imds");
out:
    dr_http_response_free_wiped(&resp);
    dr_free_secret(token);
    free(role);
    free(base);
    return rc;
}

/* The instance's region (GET /latest/meta-data/placement/region) when no
 * setting names one, as the SDKs do: only where IMDS is enabled, with its
 * short timeouts; NULL when it does not answer. */
static char *imds_region(const struct dr_settings_env *env, const struct dr_ini_section *p,
                         int verbose)
{
    struct dr_http_response resp = {0};
    struct dr_aws_error err;
    char tried[256] = "", msg[256], *base = NULL, *token = NULL, *region = NULL;
    struct imds im = {.tried = tried, .tlen = sizeof tried};
    if (dr_settings_true(dr_settings_getenv(env, "AWS_EC2_METADATA_DISABLED")) ||
        dr_settings_imds_endpoint(env, p, &base, msg, sizeof msg) != 0)
        goto out;
    im.base = base;
    url_origin(base, im.origin, sizeof im.origin);
    im.timeout_ms = (long)(1000 * number_setting(env, "AWS_METADATA_SERVICE_TIMEOUT", p,
                                                 "metadata_service_timeout", 1, 0.1, 60));
    im.attempts = (int)number_setting(env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", p,
                                      "metadata_service_num_attempts", 3, 1, 10);
    im.v1_disabled = dr_settings_true(
        dr_settings_lookup(env, "AWS_EC2_METADATA_V1_DISABLED", p, "ec2_metadata_v1_disabled"));
    if (imds_token(&im, &token, &resp, &err) != FOUND)
        goto out;
    struct dr_http_header auth = {"x-aws-ec2-metadata-token", token};
    struct fetch f = {"GET",         im.url,        token ? &auth : NULL, token ? 1 : 0,
                      im.timeout_ms, im.timeout_ms, im.attempts,          token != NULL};
    snprintf(im.url, sizeof im.url, "%s/latest/meta-data/placement/region", im.base);
    if (fetch(&f, &resp) != 0 || resp.status != 200)
        goto out;
    size_t n = strcspn(resp.body, " \t\r\n");
    if (n > 0 && n <= DR_SETTINGS_REGION_MAX && (region = strndup(resp.body, n)) &&
        !dr_settings_region_valid(region)) {
        free(region);
        region = NULL;
    }
out:
    if (verbose > 0)
        fprintf(stderr, "aws: region %s%s\n", region ? region : DR_SETTINGS_REGION_DEFAULT,
                region ? " (from IMDS)"
                : base ? " (the default: IMDS named none)"
                       : " (the default)");
    dr_http_response_free_wiped(&resp);
    dr_free_secret(token);
    free(base);
    return region;
}

/* ECS task role, or EKS Pod Identity (a full URI with a token file). */
static int provider_ecs(const struct dr_creds_ctx *ctx, char *tried, size_t tlen,
                        struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    struct dr_http_response resp = {0};
    struct dr_http_header headers[2] = {{"Accept", "application/json"}, {"Authorization", NULL}};
    char *url = NULL, *token = NULL, origin[256], msg[256];
    const char *file = dr_settings_getenv(ctx->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *value = dr_settings_getenv(ctx->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    int rc = dr_settings_ecs_url(ctx->env, &url, msg, sizeof msg);
    if (rc == 1) {
        note(tried, tlen,
             "ECS: not configured (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI not set)");
        return SKIPPED;
    }
    if (rc != 0)
        return cred_fail(err, "%s", msg);
    rc = FAILED;
    url_origin(url, origin, sizeof origin);
    if (file && read_secret_file(file, DR_CREDS_TOKEN_MAX, &token) != 0) {
        cred_fail(err, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %.300s: %s", file,
                  strerror(errno));
        goto out;
    }
    if (!file && value && !(token = strdup(value))) {
        cred_fail(err, "out of memory");
        goto out;
    }
    if (token && !header_safe(token)) {
        cred_fail(err, "the container authorization token holds a line break");
        goto out;
    }
    headers[1].value = token;
    struct fetch f = {"GET", url, headers, token ? 2 : 1, 2000, 5000, 3, 1};
    if (fetch(&f, &resp) != 0) {
        cred_fail(err, "no answer from the container credentials endpoint %s: %s", origin,
                  resp.error);
        goto out;
    }
    if (resp.status != 200) {
        cred_fail(err, "the container credentials endpoint %s answered HTTP %ld", origin,
                  resp.status);
        goto out;
    }
    if ((rc = container_creds(&resp, "the container credentials endpoint", out, err)) == FOUND)
        snprintf(out->provider, sizeof out->provider, "ecs");
out:
    dr_http_response_free_wiped(&resp);
    dr_free_secret(token);
    free(url);
    return rc;
}

static int provider_env(const struct dr_creds_ctx *ctx, struct dr_aws_credentials *out,
                        struct dr_aws_error *err)
{
    const char *akid = dr_settings_getenv(ctx->env, "AWS_ACCESS_KEY_ID");
    const char *secret = dr_settings_getenv(ctx->env, "AWS_SECRET_ACCESS_KEY");
    const char *token = dr_settings_getenv(ctx->env, "AWS_SESSION_TOKEN");
    const char *exp = dr_settings_getenv(ctx->env, "AWS_CREDENTIAL_EXPIRATION");
    time_t expiration = 0;
    if (!akid && !secret)
        return SKIPPED;
    if (!akid || !secret)
        return cred_fail(err, "%s is set but %s is not",
                         akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                         akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    if (!token)
        token = dr_settings_getenv(ctx->env, "AWS_SECURITY_TOKEN");
    if (exp && dr_isotime_parse(exp, &expiration) != 0)
        return cred_fail(err, "AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time");
    if (creds_copy(out, akid, secret, token, expiration) != 0)
        return cred_fail(err, "out of memory");
    snprintf(out->provider, sizeof out->provider, "environment");
    return FOUND;
}

/* 1 when this is a GitHub Actions job allowed to ask for an OIDC token. */
static int github_oidc_available(const struct dr_creds_ctx *ctx)
{
    return dr_settings_getenv(ctx->env, "ACTIONS_ID_TOKEN_REQUEST_URL") &&
           dr_settings_getenv(ctx->env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
}

/* Asks GitHub Actions for an OIDC token with audience sts.amazonaws.com.
 * FOUND with *token (free with dr_free_secret), or FAILED. */
static int github_token(const struct dr_creds_ctx *ctx, char **token, struct dr_aws_error *err)
{
    const char *base = dr_settings_getenv(ctx->env, "ACTIONS_ID_TOKEN_REQUEST_URL");
    const char *bearer = dr_settings_getenv(ctx->env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    struct dr_http_response resp = {0};
    char *url = NULL, *auth = NULL, origin[256];
    cJSON *doc = NULL;
    const char *value;
    int rc = FAILED;
    *token = NULL;
    if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
        return cred_fail(err, "ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL");
    if (!header_safe(bearer))
        return cred_fail(err, "ACTIONS_ID_TOKEN_REQUEST_TOKEN holds a line break");
    size_t ulen = strlen(base) + sizeof "&audience=" OIDC_AUDIENCE;
    size_t alen = strlen(bearer) + sizeof "Bearer ";
    if (!(url = malloc(ulen)) || !(auth = malloc(alen))) {
        cred_fail(err, "out of memory");
        goto out;
    }
    snprintf(url, ulen, "%s%caudience=%s", base, strchr(base, '?') ? '&' : '?', OIDC_AUDIENCE);
    snprintf(auth, alen, "Bearer %s", bearer);
    url_origin(url, origin, sizeof origin);
    struct dr_http_header headers[2] = {{"Authorization", auth}, {"Accept", "application/json"}};
    struct fetch f = {"GET", url, headers, 2, 5000, 15000, 3, 1};
    if (fetch(&f, &resp) != 0) {
        cred_fail(err, "no answer from GitHub's OIDC token service %s: %s", origin, resp.error);
        goto out;
    }
    if (resp.status != 200) {
        cred_fail(err,
                  "GitHub's OIDC token service answered HTTP %ld (the job needs `permissions: "
                  "id-token: write`)",
                  resp.status);
        goto out;
    }
    doc = cJSON_ParseWithLength(resp.body, resp.body_len);
    if (!(value = json_str(doc, "value")) || !*value) {
        cred_fail(err, "GitHub's OIDC token service answered without a token");
        goto out;
    }
    if (!(*token = strdup(value))) {
        cred_fail(err, "out of memory");
        goto out;
    }
    rc = FOUND;
out:
    dr_wipe_json(doc);
    dr_http_response_free_wiped(&resp);
    dr_free_secret(auth);
    free(url);
    return rc;
}

/* AssumeRoleWithWebIdentity with `token`, sent where the chain's STS calls go. */
static int web_identity(const struct dr_creds_ctx *ctx, const struct dr_creds_role *role,
                        const char *token, const char *provider, struct dr_aws_credentials *out,
                        struct dr_aws_error *err)
{
    struct dr_aws_client *sts = NULL;
    struct dr_sts_role_params p = {.role_arn = role->role_arn,
                                   .session_name = role->session_name,
                                   .duration_seconds = role->duration_seconds,
                                   .web_identity_token = token};
    if (!ctx->client || dr_aws_client_derive(ctx->client, NULL, &sts) != 0)
        return cred_fail(err, "cannot make an STS client");
    int rc = dr_sts_assume_role_with_web_identity(sts, &p, out, err);
    dr_aws_client_free(sts);
    if (rc != 0)
        return FAILED;
    snprintf(out->provider, sizeof out->provider, "%s", provider);
    return FOUND;
}

/* Web identity from a token file. */
static int web_identity_file(const struct dr_creds_ctx *ctx, const struct dr_creds_role *role,
                             const char *file, const char *what, struct dr_aws_credentials *out,
                             struct dr_aws_error *err)
{
    char *token = NULL;
    if (read_secret_file(file, DR_CREDS_TOKEN_MAX, &token) != 0)
        return cred_fail(err, "cannot read %s %.300s: %s", what, file, strerror(errno));
    int rc = web_identity(ctx, role, token, "web-identity", out, err);
    dr_free_secret(token);
    return rc;
}

static int web_identity_github(const struct dr_creds_ctx *ctx, const struct dr_creds_role *role,
                               struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    char *token = NULL;
    if (github_token(ctx, &token, err) != FOUND)
        return FAILED;
    int rc = web_identity(ctx, role, token, "github-oidc", out, err);
    dr_free_secret(token);
    return rc;
}

/* ---- IAM Identity Center (SSO) ---------------------------------------------------- */

/* The one line an SSO profile without a usable sign-in gets: what to run. */
static int sso_login_needed(const struct dr_creds_ctx *ctx, const char *why,
                            struct dr_aws_error *err)
{
    return cred_fail(err, "profile %s: %s; run: dbtrun aws sso login --profile %s", ctx->profile,
                     why, ctx->profile);
}

/* Renews an access token that expires within DR_SSO_REFRESH_S with the
 * cache's refresh token and client registration (CreateToken), as the SDKs
 * do, and writes the cache back. A token that cannot be renewed is left as
 * it is: the caller decides whether it still serves. */
static void sso_refresh(const struct dr_creds_ctx *ctx, const struct dr_creds_sso *sso,
                        const char *path, struct dr_sso_token *tok, struct dr_aws_client *c)
{
    struct dr_sso_client reg = {tok->client_id, tok->client_secret, tok->registration_expires_at};
    struct dr_aws_error e = {0};
    char text[1200];
    char *oidc;
    if (!tok->refresh_token || !reg.client_id || !reg.client_secret || reg.expires_at <= ctx->now)
        return;
    if (!(oidc = dr_settings_endpoint("sso-oidc", NULL, ctx->env, ctx->ini, ctx_profile(ctx),
                                      sso->region, NULL)))
        return;
    if (dr_sso_create_token(c, oidc, DR_SSO_GRANT_REFRESH, &reg, tok->refresh_token, ctx->now, tok,
                            &e) != 0) {
        dr_aws_error_format(&e, text, sizeof text);
        if (ctx->verbose > 0)
            fprintf(stderr, "aws: refreshing the SSO token failed: %s\n", text);
    } else if (dr_sso_token_save(path, tok) != 0 && ctx->verbose > 0) {
        fprintf(stderr, "aws: cannot write the SSO token cache %s: %s\n", path, strerror(errno));
    }
    free(oidc);
}

/* GetRoleCredentials with the cached (renewed when due) access token. */
static int run_sso(const struct dr_creds_ctx *ctx, const struct dr_creds_plan *plan,
                   struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    const struct dr_creds_sso *sso = &plan->sso;
    struct dr_sso_token tok = {0};
    struct dr_aws_client *c = NULL;
    char *path = NULL, *portal = NULL, msg[512];
    int rc = FAILED, loaded;
    if (!sso->account_id)
        return cred_fail(err,
                         "profile '%s' signs in to IAM Identity Center for a token only: without "
                         "sso_account_id and sso_role_name it gives no AWS credentials",
                         plan->base_profile);
    if (!dr_settings_region_valid(sso->region))
        return cred_fail(err, "profile '%s': invalid sso_region '%.64s'", plan->base_profile,
                         sso->region);
    if (!(path = dr_sso_cache_path(ctx->env, sso->session ? sso->session : sso->start_url, msg,
                                   sizeof msg)))
        return cred_fail(err, "profile '%s': %s", plan->base_profile, msg);
    if ((loaded = dr_sso_token_load(path, &tok, msg, sizeof msg)) != 0) {
        if (loaded > 0)
            sso_login_needed(ctx, "not logged in to IAM Identity Center (SSO)", err);
        else
            cred_fail(err, "profile '%s': %s", plan->base_profile, msg);
        goto out;
    }
    if (ctx->client && dr_aws_client_derive(ctx->client, NULL, &c) != 0) {
        cred_fail(err, "out of memory");
        goto out;
    }
    if (tok.expires_at - DR_SSO_REFRESH_S <= ctx->now)
        sso_refresh(ctx, sso, path, &tok, c);
    if (tok.expires_at <= ctx->now) {
        sso_login_needed(ctx, "SSO session expired", err);
        goto out;
    }
    if (!(portal = dr_settings_endpoint("sso", NULL, ctx->env, ctx->ini, ctx_profile(ctx),
                                        sso->region, NULL))) {
        cred_fail(err, "out of memory");
        goto out;
    }
    if (dr_sso_get_role_credentials(c, portal, tok.access_token, sso->account_id, sso->role_name,
                                    out, err) != 0) {
        if (strcmp(err->code, "UnauthorizedException") == 0) /* signed out or revoked */
            sso_login_needed(ctx, "SSO session expired", err);
        goto out;
    }
    if (sso->session)
        snprintf(out->provider, sizeof out->provider, "sso (session %.48s)", sso->session);
    else
        snprintf(out->provider, sizeof out->provider, "sso (profile %.48s)", plan->base_profile);
    rc = FOUND;
out:
    dr_sso_token_free(&tok);
    dr_aws_client_free(c);
    free(portal);
    free(path);
    return rc;
}

/* credential_process's time limit: DBTRUN_CREDENTIAL_PROCESS_TIMEOUT
 * seconds, else DR_CREDS_PROCESS_TIMEOUT_MS. -1 for a bad setting. */
static long process_timeout_ms(const struct dr_creds_ctx *ctx, struct dr_aws_error *err)
{
    const char *v = dr_settings_getenv(ctx->env, "DBTRUN_CREDENTIAL_PROCESS_TIMEOUT");
    long ms = DR_CREDS_PROCESS_TIMEOUT_MS;
    if (v && *v && (dr_proc_parse_seconds(v, &ms) != 0 || ms == 0)) {
        cred_fail(err,
                  "DBTRUN_CREDENTIAL_PROCESS_TIMEOUT takes a number of seconds above 0, "
                  "not '%.32s'",
                  v);
        return -1;
    }
    return ms;
}

/* Why the process's answer cannot be used, in err; 0 when it can. */
static int process_outcome(const char *profile, const struct dr_proc_result *r, long timeout_ms,
                           struct dr_aws_error *err)
{
    if (r->interrupted)
        return cred_fail(err, "profile '%s': credential_process was interrupted", profile);
    if (r->timed_out)
        return cred_fail(err,
                         "profile '%s': credential_process did not finish within %ld s and was "
                         "killed (DBTRUN_CREDENTIAL_PROCESS_TIMEOUT)",
                         profile, (timeout_ms + 999) / 1000);
    if (r->exit_code != 0)
        return cred_fail(err, "profile '%s': credential_process exited with status %d", profile,
                         r->exit_code);
    if (r->out_len > DR_CREDS_PROCESS_MAX)
        return cred_fail(err, "profile '%s': credential_process printed more than %u bytes",
                         profile, DR_CREDS_PROCESS_MAX);
    return 0;
}

/* Runs credential_process through /bin/sh -c, as the SDKs do on POSIX, so
 * quoting and pipes in the setting work; stderr goes to the user. It runs in
 * its own process group (proc.c), killed on timeout or interrupt. */
static int run_process(const struct dr_creds_ctx *ctx, const char *profile, const char *command,
                       struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    char sh[] = "/bin/sh", dash_c[] = "-c", msg[256], when[32];
    char *cmd = strdup(command);
    char *argv[] = {sh, dash_c, cmd, NULL};
    struct dr_proc_opts o = {.argv = argv, .capture = 1};
    struct dr_proc_result r = {0};
    int rc = FAILED;
    if (!cmd)
        return cred_fail(err, "out of memory");
    if ((o.timeout_ms = process_timeout_ms(ctx, err)) < 0) {
        free(cmd);
        return FAILED;
    }
    if (dr_proc_run(&o, &r, msg, sizeof msg) != 0) {
        cred_fail(err, "profile '%s': credential_process could not run: %s", profile, msg);
    } else if (process_outcome(profile, &r, o.timeout_ms, err) != 0) {
        ; /* err says why */
    } else if (dr_creds_process_parse(r.out, r.out_len, out, msg, sizeof msg) != 0) {
        cred_fail(err, "profile '%s': credential_process %s", profile, msg);
    } else if (!dr_aws_credentials_unexpired(out, ctx->now)) {
        dr_isotime_format(out->expiration, when);
        cred_fail(err,
                  "credential_process for profile '%s' returned credentials that expired at %s",
                  profile, when);
        dr_aws_credentials_free(out);
    } else {
        snprintf(out->provider, sizeof out->provider, "process");
        rc = FOUND;
    }
    if (r.out) {
        dr_wipe(r.out, r.out_len);
        free(r.out);
    }
    free(cmd);
    return rc;
}

/* AssumeRole with p, signed with cur. */
static int assume_one(const struct dr_creds_ctx *ctx, const struct dr_sts_role_params *p,
                      const struct dr_aws_credentials *cur, struct dr_aws_credentials *next,
                      struct dr_aws_error *err)
{
    struct dr_aws_client *sts = NULL;
    if (!ctx->client || dr_aws_client_derive(ctx->client, cur, &sts) != 0)
        return cred_fail(err, "cannot make an STS client");
    int rc = dr_sts_assume_role(sts, p, next, err);
    dr_aws_client_free(sts);
    return rc == 0 ? FOUND : FAILED;
}

/* AssumeRole for a role with mfa_serial: the session credentials the run or
 * the aws CLI's cache still hold, else the code asked for on the terminal. */
static int assume_with_mfa(const struct dr_creds_ctx *ctx, const struct dr_creds_role *r,
                           struct dr_sts_role_params *p, const struct dr_aws_credentials *cur,
                           struct dr_aws_credentials *next, struct dr_aws_error *err)
{
    char key[DR_MFA_KEY_LEN + 1], code[DR_MFA_CODE_MAX], why[256] = "";
    char *path = NULL;
    int interrupted = 0, rc = FAILED, asked;
    p->serial_number = r->mfa_serial;
    if (dr_mfa_cache_key(p, key) != 0)
        return cred_fail(err, "cannot hash the MFA cache key");
    path = dr_mfa_cache_path(ctx->env, key, why, sizeof why); /* none: the run's copy only */
    if (dr_mfa_cache_get(key, path, ctx->now, next) == 0) {
        if (ctx->verbose > 0)
            fprintf(stderr, "aws: profile %s: MFA session credentials from the cache\n",
                    r->profile);
        rc = FOUND;
        goto out;
    }
    if ((asked = dr_mfa_ask(r->profile, r->mfa_serial, code, why, sizeof why, &interrupted)) == 1) {
        cred_fail(err,
                  "profile %s needs an MFA code (mfa_serial %s) but there is no terminal to "
                  "ask on",
                  r->profile, r->mfa_serial);
        goto out;
    }
    if (asked != 0) {
        cred_fail(err, "%s", why);
        if (interrupted)
            snprintf(err->code, sizeof err->code, "Interrupted");
        goto out;
    }
    p->token_code = code;
    rc = assume_one(ctx, p, cur, next, err);
    dr_wipe(code, sizeof code);
    p->token_code = NULL;
    if (rc == FOUND && dr_mfa_cache_put(key, path, next) != 0 && ctx->verbose > 0)
        fprintf(stderr, "aws: profile %s: could not write the MFA cache %s\n", r->profile,
                path ? path : "(no home folder)");
out:
    free(path);
    return rc;
}

/* Assumes plan's roles in turn, starting from *cur (replaced each time). */
static int assume_roles(const struct dr_creds_ctx *ctx, const struct dr_creds_plan *plan,
                        struct dr_aws_credentials *cur, struct dr_aws_error *err)
{
    for (size_t i = 0; i < plan->nroles; i++) {
        const struct dr_creds_role *r = &plan->roles[i];
        struct dr_aws_credentials next;
        const char *d = r->duration_seconds;
        if (d && (strspn(d, "0123456789") != strlen(d) || strlen(d) > 6))
            return cred_fail(err, "profile '%s': duration_seconds '%.32s' is not a number",
                             r->profile, d);
        struct dr_sts_role_params p = {.role_arn = r->role_arn,
                                       .session_name = r->session_name,
                                       .external_id = r->external_id,
                                       .duration_seconds = d};
        int rc = r->mfa_serial ? assume_with_mfa(ctx, r, &p, cur, &next, err)
                               : assume_one(ctx, &p, cur, &next, err);
        if (rc != FOUND)
            return FAILED;
        dr_aws_credentials_free(cur);
        *cur = next;
    }
    return FOUND;
}

/* A named credential_source of a role profile. */
static int run_source(const struct dr_creds_ctx *ctx, const struct dr_creds_plan *plan,
                      struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    char why[512] = "";
    int rc;
    switch (plan->source) {
    case DR_CREDS_SOURCE_ENVIRONMENT:
        if ((rc = provider_env(ctx, out, err)) == SKIPPED)
            return cred_fail(err,
                             "profile '%s' has credential_source = Environment, but "
                             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
                             plan->base_profile);
        return rc;
    case DR_CREDS_SOURCE_EC2:
        if ((rc = provider_imds(ctx, why, sizeof why, out, err)) == SKIPPED)
            return cred_fail(err, "profile '%s' has credential_source = Ec2InstanceMetadata: %s",
                             plan->base_profile, why);
        return rc;
    case DR_CREDS_SOURCE_ECS:
        if ((rc = provider_ecs(ctx, why, sizeof why, out, err)) == SKIPPED)
            return cred_fail(err, "profile '%s' has credential_source = EcsContainer: %s",
                             plan->base_profile, why);
        return rc;
    }
    return cred_fail(err, "unknown credential_source");
}

/* Runs a profile's plan: its base credentials, then its roles. */
static int run_plan(const struct dr_creds_ctx *ctx, const struct dr_creds_plan *plan,
                    struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    struct dr_aws_credentials cur = {0};
    int rc = FAILED;
    switch (plan->base) {
    case DR_CREDS_BASE_STATIC:
        if (creds_copy(&cur, plan->access_key_id, plan->secret_access_key, plan->session_token,
                       0) != 0)
            return cred_fail(err, "out of memory");
        rc = FOUND;
        break;
    case DR_CREDS_BASE_SOURCE:
        rc = run_source(ctx, plan, &cur, err);
        break;
    case DR_CREDS_BASE_WEB_IDENTITY:
        rc = web_identity_file(ctx, &plan->identity, plan->token_file, "web_identity_token_file",
                               &cur, err);
        break;
    case DR_CREDS_BASE_GITHUB_OIDC:
        rc = web_identity_github(ctx, &plan->identity, &cur, err);
        break;
    case DR_CREDS_BASE_PROCESS:
        rc = run_process(ctx, plan->base_profile, plan->command, &cur, err);
        break;
    case DR_CREDS_BASE_SSO:
        rc = run_sso(ctx, plan, &cur, err);
        break;
    }
    if (rc != FOUND)
        goto out;
    if ((rc = assume_roles(ctx, plan, &cur, err)) != FOUND)
        goto out;
    if (plan->nroles > 0) {
        const char *arn = plan->roles[plan->nroles - 1].role_arn;
        const char *slash = strrchr(arn, '/');
        int n = snprintf(cur.provider, sizeof cur.provider, "assume-role:%s via profile:%s", arn,
                         ctx->profile);
        if (n < 0 || (size_t)n >= sizeof cur.provider) /* too long: the role's name will do */
            snprintf(cur.provider, sizeof cur.provider, "assume-role:%s via profile:%s",
                     slash ? slash + 1 : arn, ctx->profile);
    } else if (plan->base == DR_CREDS_BASE_STATIC) {
        snprintf(cur.provider, sizeof cur.provider, "profile:%s", ctx->profile);
    }
    *out = cur;
    memset(&cur, 0, sizeof cur);
out:
    dr_aws_credentials_free(&cur);
    return rc;
}

/* One shared file for messages: its path, marked when it is not there. */
static void file_searched(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%.300s%s", path, access(path, F_OK) == 0 ? "" : " (no such file)");
}

/* Where a profile was looked for, for "not found <here>" messages. */
static void files_searched(const struct dr_creds_ctx *ctx, char *buf, size_t len)
{
    char cfg[340] = "", cred[340] = "";
    if (!ctx->config_path && !ctx->credentials_path) {
        snprintf(buf, len,
                 "(no config or credentials file: no home folder, and AWS_CONFIG_FILE and "
                 "AWS_SHARED_CREDENTIALS_FILE are not set)");
        return;
    }
    if (ctx->config_path)
        file_searched(ctx->config_path, cfg, sizeof cfg);
    if (ctx->credentials_path)
        file_searched(ctx->credentials_path, cred, sizeof cred);
    snprintf(buf, len, "in %s%s%s", cfg, cfg[0] && cred[0] ? " or " : "", cred);
}

/* A profile asked for by name is not in the files: an error, as in the aws
 * CLI, so that a typo never ends in another source's (IMDS's) message. */
static int profile_missing(const struct dr_creds_ctx *ctx, const char *files,
                           struct dr_aws_error *err)
{
    return cred_fail(err, "profile '%s'%s not found %s", ctx->profile,
                     ctx->profile_explicit == DR_CREDS_PROFILE_ENV ? " (from AWS_PROFILE)" : "",
                     files);
}

static int provider_profile(const struct dr_creds_ctx *ctx, char *tried, size_t tlen,
                            struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    struct dr_creds_plan plan;
    char msg[512], files[720];
    int rc =
        dr_creds_plan(ctx->ini, ctx->profile, github_oidc_available(ctx), &plan, msg, sizeof msg);
    if (rc == DR_CREDS_PLAN_OK)
        return run_plan(ctx, &plan, out, err);
    files_searched(ctx, files, sizeof files);
    switch (rc) {
    case DR_CREDS_PLAN_MISSING:
        if (ctx->profile_explicit != DR_CREDS_PROFILE_DEFAULT)
            return profile_missing(ctx, files, err);
        note(tried, tlen, "profile '%s': not found %s", ctx->profile, files);
        return SKIPPED;
    case DR_CREDS_PLAN_EMPTY:
        note(tried, tlen, "profile '%s': no credentials in it", ctx->profile);
        return SKIPPED;
    default:
        if (plan.missing_source)
            return cred_fail(err, "source profile '%s' (named by profile '%s') not found %s",
                             plan.missing_source, plan.missing_by, files);
        if (plan.role_alone && dr_settings_true(dr_settings_getenv(ctx->env, "GITHUB_ACTIONS")))
            return cred_fail(err,
                             "%s: on GitHub Actions it would use the job's OIDC token, but this "
                             "job gets none: it lacks `permissions: id-token: write`",
                             msg);
        return cred_fail(err, "%s", msg);
    }
}

/* Why GitHub Actions gave no OIDC token, for the list of what was tried:
 * GitHub sets ACTIONS_ID_TOKEN_REQUEST_URL only for jobs with `permissions:
 * id-token: write`. */
static void github_note(const struct dr_creds_ctx *ctx, char *tried, size_t tlen)
{
    if (!dr_settings_true(dr_settings_getenv(ctx->env, "GITHUB_ACTIONS"))) {
        note(tried, tlen,
             "web identity: AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
        return;
    }
    note(tried, tlen,
         "web identity: AWS_ROLE_ARN is set, but this GitHub Actions job gets no OIDC token: "
         "it lacks `permissions: id-token: write` (%s is not set)",
         dr_settings_getenv(ctx->env, "ACTIONS_ID_TOKEN_REQUEST_URL")
             ? "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
             : "ACTIONS_ID_TOKEN_REQUEST_URL");
}

/* AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, or GitHub Actions OIDC. */
static int provider_web_identity(const struct dr_creds_ctx *ctx, char *tried, size_t tlen,
                                 struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    const char *file = dr_settings_getenv(ctx->env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    struct dr_creds_role role = {.role_arn = dr_settings_getenv(ctx->env, "AWS_ROLE_ARN"),
                                 .session_name =
                                     dr_settings_getenv(ctx->env, "AWS_ROLE_SESSION_NAME")};
    if (!role.role_arn && !file) {
        note(tried, tlen, "web identity: AWS_ROLE_ARN is not set");
        return SKIPPED;
    }
    if (!role.role_arn)
        return cred_fail(err, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
    if (file)
        return web_identity_file(ctx, &role, file, "AWS_WEB_IDENTITY_TOKEN_FILE", out, err);
    if (github_oidc_available(ctx))
        return web_identity_github(ctx, &role, out, err);
    github_note(ctx, tried, tlen);
    return SKIPPED;
}

int dr_creds_resolve(const struct dr_creds_ctx *ctx, struct dr_aws_credentials *out,
                     struct dr_aws_error *err)
{
    char tried[sizeof err->message] = "";
    int rc;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if ((rc = provider_env(ctx, out, err)) != SKIPPED)
        goto out;
    note(tried, sizeof tried, "environment: AWS_ACCESS_KEY_ID is not set");
    if ((rc = provider_profile(ctx, tried, sizeof tried, out, err)) != SKIPPED)
        goto out;
    if ((rc = provider_web_identity(ctx, tried, sizeof tried, out, err)) != SKIPPED)
        goto out;
    if ((rc = provider_ecs(ctx, tried, sizeof tried, out, err)) != SKIPPED)
        goto out;
    if ((rc = provider_imds(ctx, tried, sizeof tried, out, err)) != SKIPPED)
        goto out;
    rc = cred_fail(err, "no AWS credentials found; tried in order: %s", tried);
out:
    if (rc == FOUND && ctx->verbose > 0)
        fprintf(stderr, "aws: credentials from %s\n", out->provider);
    else if (rc != FOUND && ctx->verbose > 0 && tried[0])
        fprintf(stderr, "aws: credentials: tried in order: %s\n", tried);
    return rc == FOUND ? 0 : -1;
}

/* ---- clients that resolve through the chain --------------------------------- */

int dr_aws_client_new_env(const struct dr_aws_client_opts *opts, const struct dr_settings_env *env,
                          struct dr_aws_client **out, struct dr_aws_error *err)
{
    if (dr_aws_client_create(opts, env, dr_creds_resolve, out, err) != 0)
        return -1;
    dr_aws_client_region_source(*out, imds_region);
    return 0;
}

int dr_aws_client_new(const struct dr_aws_client_opts *opts, struct dr_aws_client **out,
                      struct dr_aws_error *err)
{
    return dr_aws_client_new_env(opts, NULL, out, err);
}
