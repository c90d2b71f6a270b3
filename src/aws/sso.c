/* sso: IAM Identity Center's token cache and calls (see dbtrun/sso.h). The
 * cache is the AWS CLI v2's, byte for byte in its names and fields, so
 * either tool can sign in for the other. Every buffer that held a token, a
 * client secret or credentials is wiped before it is freed. */
#include "dbtrun/sso.h"
#include "dbtrun/buf.h"
#include "dbtrun/dl.h"
#include "dbtrun/fs.h"
#include "dbtrun/isotime.h"
#include "dbtrun/sigv4.h"
#include "dbtrun/wipe.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE_DIR "/.aws/sso/cache"

/* ---- JSON helpers ----------------------------------------------------------------- */

static const char *json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring && *v->valuestring ? v->valuestring : NULL;
}

/* A copy of o's string `name` into *dst (NULL when absent). 0, or -1 (memory). */
static int json_take(const cJSON *o, const char *name, char **dst)
{
    const char *v = json_str(o, name);
    *dst = NULL;
    return v && !(*dst = strdup(v)) ? -1 : 0;
}

/* A number member (seconds), or def. */
static long json_long(const cJSON *o, const char *name, long def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : def;
}

/* Bytes the printed form of item and its siblings can take, at worst. */
static size_t json_size(const cJSON *item)
{
    size_t n = 16;
    for (; item; item = item->next)
        n += 16 +
             6 * ((item->string ? strlen(item->string) : 0) +
                  (item->valuestring ? strlen(item->valuestring) : 0)) +
             json_size(item->child);
    return n;
}

/* The text of doc in one allocation sized up front, so no partial copy of a
 * secret is left in memory a growing buffer freed; doc's strings are wiped
 * and doc is deleted. Caller frees with dr_free_secret; NULL when out of
 * memory. */
static char *json_print_wipe(cJSON *doc)
{
    size_t cap = json_size(doc) + 64;
    char *out = NULL;
    if (doc && (out = malloc(cap)) && !cJSON_PrintPreallocated(doc, out, (int)cap, 0)) {
        dr_free_secret(out);
        out = NULL;
    }
    dr_wipe_json(doc);
    return out;
}

/* ---- the token cache ------------------------------------------------------------- */

void dr_sso_token_free(struct dr_sso_token *t)
{
    if (!t)
        return;
    dr_free_secret(t->access_token);
    dr_free_secret(t->refresh_token);
    free(t->client_id);
    dr_free_secret(t->client_secret);
    free(t->region);
    free(t->start_url);
    memset(t, 0, sizeof *t);
}

int dr_sso_cache_name(const char *key, char out[DR_SSO_CACHE_NAME_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char err[128];
    if (dr_dl_crypto(err, sizeof err) != 0 ||
        !dr_crypto.EVP_Digest(key, strlen(key), md, &mdlen, dr_crypto.EVP_sha1(), NULL) ||
        mdlen != 20)
        return -1;
    dr_hex(md, 20, out);
    memcpy(out + 40, ".json", 6);
    return 0;
}

char *dr_sso_cache_path(const struct dr_settings_env *env, const char *key, char *err,
                        size_t errlen)
{
    const char *home = dr_settings_getenv(env, "HOME");
    char name[DR_SSO_CACHE_NAME_MAX];
    char *path;
    if (!home)
        home = dr_settings_getenv(env, "USERPROFILE");
    if (!home) {
        snprintf(err, errlen, "no home folder (HOME is not set) for ~/.aws/sso/cache");
        return NULL;
    }
    if (dr_sso_cache_name(key, name) != 0) {
        snprintf(err, errlen, "SHA-1 failed (libcrypto)");
        return NULL;
    }
    size_t n = strlen(home);
    while (n > 1 && home[n - 1] == '/')
        n--;
    size_t len = n + sizeof CACHE_DIR + 1 + sizeof name;
    if (!(path = malloc(len))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(path, len, "%.*s%s/%s", (int)n, home, CACHE_DIR, name);
    return path;
}

int dr_sso_token_parse(const char *json, size_t len, struct dr_sso_token *out, char *err,
                       size_t errlen)
{
    cJSON *doc = cJSON_ParseWithLength(json, len);
    const char *exp, *reg;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(doc)) {
        snprintf(err, errlen, "is not a JSON object");
        goto out;
    }
    if (!json_str(doc, "accessToken") || !(exp = json_str(doc, "expiresAt"))) {
        snprintf(err, errlen, "has no accessToken or expiresAt");
        goto out;
    }
    if (dr_isotime_parse(exp, &out->expires_at) != 0) {
        snprintf(err, errlen, "has an expiresAt that is not an ISO 8601 time");
        goto out;
    }
    if ((reg = json_str(doc, "registrationExpiresAt")) &&
        dr_isotime_parse(reg, &out->registration_expires_at) != 0)
        out->registration_expires_at = 0; /* unknown: no refresh, as with no registration */
    if (json_take(doc, "accessToken", &out->access_token) != 0 ||
        json_take(doc, "refreshToken", &out->refresh_token) != 0 ||
        json_take(doc, "clientId", &out->client_id) != 0 ||
        json_take(doc, "clientSecret", &out->client_secret) != 0 ||
        json_take(doc, "region", &out->region) != 0 ||
        json_take(doc, "startUrl", &out->start_url) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        dr_sso_token_free(out);
    dr_wipe_json(doc);
    return rc;
}

int dr_sso_token_load(const char *path, struct dr_sso_token *out, char *err, size_t errlen)
{
    char *data = NULL, msg[128];
    size_t len = 0;
    int rc;
    memset(out, 0, sizeof *out);
    if (dr_fs_read(path, &data, &len) != 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "cannot read %.300s: %s", path, strerror(errno));
        return -1;
    }
    if ((rc = dr_sso_token_parse(data, len, out, msg, sizeof msg)) != 0)
        snprintf(err, errlen, "the SSO token cache %.300s %s", path, msg);
    dr_wipe(data, len);
    free(data);
    return rc;
}

/* Adds "name": "value" when value is set; a time when t is. 0, or -1. */
static int add_str(cJSON *doc, const char *name, const char *value)
{
    return value && !cJSON_AddStringToObject(doc, name, value) ? -1 : 0;
}

static int add_time(cJSON *doc, const char *name, time_t t)
{
    char when[32];
    if (!t)
        return 0;
    dr_isotime_format(t, when);
    return add_str(doc, name, when);
}

char *dr_sso_token_json(const struct dr_sso_token *t)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc || add_str(doc, "startUrl", t->start_url) || add_str(doc, "region", t->region) ||
        add_str(doc, "accessToken", t->access_token) || add_time(doc, "expiresAt", t->expires_at) ||
        add_str(doc, "clientId", t->client_id) || add_str(doc, "clientSecret", t->client_secret) ||
        add_time(doc, "registrationExpiresAt", t->registration_expires_at) ||
        add_str(doc, "refreshToken", t->refresh_token)) {
        dr_wipe_json(doc);
        return NULL;
    }
    return json_print_wipe(doc);
}

int dr_sso_token_save(const char *path, const struct dr_sso_token *t)
{
    char *json = dr_sso_token_json(t);
    int rc;
    if (!json) {
        errno = ENOMEM;
        return -1;
    }
    rc = dr_fs_write_secret(path, json, strlen(json));
    dr_free_secret(json);
    return rc;
}

/* ---- the calls ----------------------------------------------------------------------- */

static const struct dr_http_header json_headers[] = {{"Content-Type", "application/json"}};

/* OIDC answers errors the OAuth way ({"error": "authorization_pending"}):
 * that word becomes err->code, so callers compare one thing. */
static void oauth_code(const struct dr_http_response *resp, struct dr_aws_error *err)
{
    cJSON *doc = resp->body ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
    const char *code = json_str(doc, "error"), *desc = json_str(doc, "error_description");
    if (code)
        snprintf(err->code, sizeof err->code, "%s", code);
    else if (strcmp(err->code, "AuthorizationPendingException") == 0)
        snprintf(err->code, sizeof err->code, "authorization_pending");
    else if (strcmp(err->code, "SlowDownException") == 0)
        snprintf(err->code, sizeof err->code, "slow_down");
    if (code && desc) /* OAuth's own words beat the reason phrase */
        snprintf(err->message, sizeof err->message, "%s", desc);
    dr_wipe_json(doc);
}

/* POSTs `body` (JSON, may hold secrets) to base_url + path as SSO OIDC's
 * `op`, unsigned. 0 with *answer (free with json_wipe_delete), or -1 with err. */
static int oidc_post(struct dr_aws_client *c, const char *base_url, const char *op,
                     const char *path, const char *body, cJSON **answer, struct dr_aws_error *err)
{
    struct dr_http_response resp = {0};
    struct dr_aws_request r = {.service = "sso-oidc",
                               .op = op,
                               .target = base_url,
                               .method = "POST",
                               .base_url = base_url,
                               .path = path,
                               .headers = json_headers,
                               .nheaders = 1,
                               .body = body,
                               .body_len = strlen(body),
                               .no_auth = 1};
    int rc = -1;
    *answer = NULL;
    if (dr_aws_send(c, &r, &resp, err) != 0) {
        oauth_code(&resp, err);
        goto out;
    }
    if (!cJSON_IsObject(*answer = cJSON_ParseWithLength(resp.body, resp.body_len))) {
        dr_aws_fail(err, op, base_url, "InvalidResponse", "the answer is not a JSON object");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0 && *answer) {
        dr_wipe_json(*answer);
        *answer = NULL;
    }
    dr_http_response_free_wiped(&resp);
    return rc;
}

int dr_sso_get_role_credentials(struct dr_aws_client *c, const char *base_url,
                                const char *access_token, const char *account_id,
                                const char *role_name, struct dr_aws_credentials *out,
                                struct dr_aws_error *err)
{
    char *account = dr_sigv4_uri_encode(account_id, strlen(account_id), 0);
    char *role = dr_sigv4_uri_encode(role_name, strlen(role_name), 0);
    char *query = NULL, target[256];
    struct dr_http_header bearer = {"x-amz-sso_bearer_token", access_token};
    struct dr_http_response resp = {0};
    cJSON *doc = NULL;
    const cJSON *rc_obj;
    int rc = -1;
    memset(out, 0, sizeof *out);
    snprintf(target, sizeof target, "account %.32s role %.128s", account_id, role_name);
    size_t qlen = (account ? strlen(account) : 0) + (role ? strlen(role) : 0) + 32;
    if (!account || !role || !(query = malloc(qlen))) {
        dr_aws_fail(err, "GetRoleCredentials", target, "InternalError", "out of memory");
        goto out;
    }
    snprintf(query, qlen, "account_id=%s&role_name=%s", account, role);
    struct dr_aws_request r = {.service = "sso",
                               .op = "GetRoleCredentials",
                               .target = target,
                               .method = "GET",
                               .base_url = base_url,
                               .path = "/federation/credentials",
                               .query = query,
                               .headers = &bearer,
                               .nheaders = 1,
                               .no_auth = 1};
    if (dr_aws_send(c, &r, &resp, err) != 0)
        goto out;
    doc = cJSON_ParseWithLength(resp.body, resp.body_len);
    rc_obj = cJSON_GetObjectItemCaseSensitive(doc, "roleCredentials");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(rc_obj, "expiration");
    if (json_take(rc_obj, "accessKeyId", &out->access_key_id) != 0 ||
        json_take(rc_obj, "secretAccessKey", &out->secret_access_key) != 0 ||
        json_take(rc_obj, "sessionToken", &out->session_token) != 0 || !out->access_key_id ||
        !out->secret_access_key) {
        dr_aws_fail(err, "GetRoleCredentials", target, "InvalidResponse",
                    "the answer has no roleCredentials with accessKeyId and secretAccessKey");
        dr_aws_credentials_free(out);
        goto out;
    }
    if (cJSON_IsNumber(exp))
        out->expiration = (time_t)(exp->valuedouble / 1000); /* milliseconds */
    rc = 0;
out:
    dr_wipe_json(doc);
    dr_http_response_free_wiped(&resp);
    free(account);
    free(role);
    free(query);
    return rc;
}

void dr_sso_client_free(struct dr_sso_client *r)
{
    if (!r)
        return;
    free(r->client_id);
    dr_free_secret(r->client_secret);
    memset(r, 0, sizeof *r);
}

int dr_sso_register_client(struct dr_aws_client *c, const char *base_url, const char *client_name,
                           const char *const *scopes, struct dr_sso_client *out,
                           struct dr_aws_error *err)
{
    static const char *const grants[] = {DR_SSO_GRANT_DEVICE, DR_SSO_GRANT_REFRESH};
    cJSON *req = cJSON_CreateObject(), *answer = NULL, *list = NULL;
    char *body = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!req || !cJSON_AddStringToObject(req, "clientName", client_name) ||
        !cJSON_AddStringToObject(req, "clientType", "public") ||
        !(list = cJSON_CreateStringArray(grants, 2)) ||
        !cJSON_AddItemToObject(req, "grantTypes", list)) {
        cJSON_Delete(list);
        goto oom;
    }
    if (scopes && scopes[0]) {
        int n = 0;
        while (scopes[n])
            n++;
        if (!(list = cJSON_CreateStringArray(scopes, n)) ||
            !cJSON_AddItemToObject(req, "scopes", list)) {
            cJSON_Delete(list);
            goto oom;
        }
    }
    body = json_print_wipe(req);
    req = NULL;
    if (!body)
        goto oom;
    if (oidc_post(c, base_url, "RegisterClient", "/client/register", body, &answer, err) != 0)
        goto out;
    if (json_take(answer, "clientId", &out->client_id) != 0 ||
        json_take(answer, "clientSecret", &out->client_secret) != 0)
        goto oom;
    if (!out->client_id || !out->client_secret) {
        dr_aws_fail(err, "RegisterClient", base_url, "InvalidResponse",
                    "the answer has no clientId or clientSecret");
        goto out;
    }
    out->expires_at = (time_t)json_long(answer, "clientSecretExpiresAt", 0);
    rc = 0;
    goto out;
oom:
    dr_aws_fail(err, "RegisterClient", base_url, "InternalError", "out of memory");
out:
    if (rc != 0)
        dr_sso_client_free(out);
    dr_wipe_json(req);
    dr_wipe_json(answer);
    dr_free_secret(body);
    return rc;
}

void dr_sso_device_free(struct dr_sso_device *d)
{
    if (!d)
        return;
    dr_free_secret(d->device_code);
    free(d->user_code);
    free(d->verification_uri);
    free(d->verification_uri_complete);
    memset(d, 0, sizeof *d);
}

int dr_sso_start_device_authorization(struct dr_aws_client *c, const char *base_url,
                                      const struct dr_sso_client *client, const char *start_url,
                                      struct dr_sso_device *out, struct dr_aws_error *err)
{
    cJSON *req = cJSON_CreateObject(), *answer = NULL;
    char *body = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!req || !cJSON_AddStringToObject(req, "clientId", client->client_id) ||
        !cJSON_AddStringToObject(req, "clientSecret", client->client_secret) ||
        !cJSON_AddStringToObject(req, "startUrl", start_url))
        goto oom;
    body = json_print_wipe(req);
    req = NULL;
    if (!body)
        goto oom;
    if (oidc_post(c, base_url, "StartDeviceAuthorization", "/device_authorization", body, &answer,
                  err) != 0)
        goto out;
    if (json_take(answer, "deviceCode", &out->device_code) != 0 ||
        json_take(answer, "userCode", &out->user_code) != 0 ||
        json_take(answer, "verificationUri", &out->verification_uri) != 0 ||
        json_take(answer, "verificationUriComplete", &out->verification_uri_complete) != 0)
        goto oom;
    if (!out->device_code || !out->user_code || !out->verification_uri) {
        dr_aws_fail(err, "StartDeviceAuthorization", base_url, "InvalidResponse",
                    "the answer has no deviceCode, userCode or verificationUri");
        goto out;
    }
    out->expires_in = json_long(answer, "expiresIn", 600);
    out->interval = json_long(answer, "interval", 0);
    rc = 0;
    goto out;
oom:
    dr_aws_fail(err, "StartDeviceAuthorization", base_url, "InternalError", "out of memory");
out:
    if (rc != 0)
        dr_sso_device_free(out);
    dr_wipe_json(req);
    dr_wipe_json(answer);
    dr_free_secret(body);
    return rc;
}

/* CreateToken's request body. Caller frees with dr_free_secret; NULL (memory). */
static char *create_token_body(const char *grant, const struct dr_sso_client *client,
                               const char *secret)
{
    int device = strcmp(grant, DR_SSO_GRANT_DEVICE) == 0;
    cJSON *req = cJSON_CreateObject();
    if (!req || !cJSON_AddStringToObject(req, "grantType", grant) ||
        !cJSON_AddStringToObject(req, "clientId", client->client_id) ||
        !cJSON_AddStringToObject(req, "clientSecret", client->client_secret) ||
        !cJSON_AddStringToObject(req, device ? "deviceCode" : "refreshToken", secret)) {
        dr_wipe_json(req);
        return NULL;
    }
    return json_print_wipe(req);
}

int dr_sso_create_token(struct dr_aws_client *c, const char *base_url, const char *grant,
                        const struct dr_sso_client *client, const char *secret, time_t now,
                        struct dr_sso_token *tok, struct dr_aws_error *err)
{
    char *body = create_token_body(grant, client, secret), *access = NULL, *refresh = NULL;
    cJSON *answer = NULL;
    int rc = -1;
    if (!body) {
        dr_aws_fail(err, "CreateToken", base_url, "InternalError", "out of memory");
        goto out;
    }
    if (oidc_post(c, base_url, "CreateToken", "/token", body, &answer, err) != 0)
        goto out;
    if (json_take(answer, "accessToken", &access) != 0 ||
        json_take(answer, "refreshToken", &refresh) != 0 || !access) {
        dr_aws_fail(err, "CreateToken", base_url, "InvalidResponse",
                    "the answer has no accessToken");
        goto out;
    }
    dr_free_secret(tok->access_token);
    tok->access_token = access;
    access = NULL;
    if (refresh) {
        dr_free_secret(tok->refresh_token);
        tok->refresh_token = refresh;
        refresh = NULL;
    }
    tok->expires_at = now + json_long(answer, "expiresIn", 3600);
    rc = 0;
out:
    dr_free_secret(access);
    dr_free_secret(refresh);
    dr_wipe_json(answer);
    dr_free_secret(body);
    return rc;
}
