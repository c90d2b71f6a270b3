/* secrets: Secrets Manager over the JSON 1.1 protocol, and the conversion of
 * a secret into environment variables the way GitHub's
 * aws-secretsmanager-get-secrets action does it. */
#include "dbtrun/secrets.h"
#include "dbtrun/wipe.h"
#include "dbtrun/dl.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dr_secrets_free_value(char *value, size_t len)
{
    if (value) {
        dr_wipe(value, len);
        free(value);
    }
}

/* Decodes base64 text into a new buffer (caller frees). NULL on bad input. */
static char *decode_base64(const char *text, size_t *len)
{
    size_t n = strlen(text), pad = 0;
    char err[128];
    if (n % 4 != 0 || dr_dl_crypto(err, sizeof err) != 0)
        return NULL;
    unsigned char *out = malloc(n / 4 * 3 + 1);
    if (!out)
        return NULL;
    int got = dr_crypto.EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
    if (got < 0) {
        free(out);
        return NULL;
    }
    while (pad < 2 && n > pad && text[n - 1 - pad] == '=')
        pad++;
    *len = (size_t)got - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    out[*len] = '\0';
    return (char *)out;
}

/* Takes SecretString or SecretBinary out of a GetSecretValue response. */
static int read_secret(const cJSON *doc, char **value, size_t *len, char **name)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "SecretString");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "SecretBinary");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(doc, "Name");
    if (cJSON_IsString(s)) {
        *len = strlen(s->valuestring);
        *value = strdup(s->valuestring);
    } else if (cJSON_IsString(b)) {
        *value = decode_base64(b->valuestring, len);
    } else {
        return -1;
    }
    *name = cJSON_IsString(n) ? strdup(n->valuestring) : NULL;
    return *value ? 0 : -1;
}

int dr_secrets_get(struct dr_aws_client *c, const char *id, const char *version_stage,
                   const char *version_id, char **value, size_t *len, char **name,
                   struct dr_aws_error *err)
{
    static const struct dr_http_header headers[] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", "secretsmanager.GetSecretValue"},
    };
    struct dr_http_response resp = {0};
    cJSON *req = cJSON_CreateObject(), *doc = NULL;
    char *body = NULL;
    int rc = -1;
    *value = *name = NULL;
    if (!req || !cJSON_AddStringToObject(req, "SecretId", id) ||
        (version_stage && !cJSON_AddStringToObject(req, "VersionStage", version_stage)) ||
        (version_id && !cJSON_AddStringToObject(req, "VersionId", version_id)) ||
        !(body = cJSON_PrintUnformatted(req))) {
        dr_aws_fail(err, "GetSecretValue", id, "InternalError", "out of memory");
        goto out;
    }
    struct dr_aws_request r = {
        .service = "secretsmanager",
        .op = "GetSecretValue",
        .target = id,
        .method = "POST",
        .path = "/",
        .headers = headers,
        .nheaders = 2,
        .body = body,
        .body_len = strlen(body),
    };
    if (dr_aws_send(c, &r, &resp, err) != 0)
        goto out;
    doc = cJSON_ParseWithLength(resp.body, resp.body_len);
    if (!doc || read_secret(doc, value, len, name) != 0) {
        dr_aws_fail(err, "GetSecretValue", id, "InvalidResponse",
                    "the response holds neither SecretString nor SecretBinary");
        goto out;
    }
    rc = 0;
out:
    if (doc) {
        /* the parsed copy held the secret too */
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "SecretString");
        if (cJSON_IsString(s))
            dr_wipe(s->valuestring, strlen(s->valuestring));
    }
    dr_http_response_free_wiped(&resp);
    cJSON_Delete(doc);
    cJSON_Delete(req);
    free(body);
    if (rc != 0) {
        free(*name);
        *name = NULL;
    }
    return rc;
}

char *dr_secrets_env_name(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(n + 2), *o = out;
    if (!out)
        return NULL;
    if (isdigit((unsigned char)text[0]))
        *o++ = '_';
    for (const char *p = text; *p; p++)
        *o++ = isalnum((unsigned char)*p) || *p == '_' ? (char)toupper((unsigned char)*p) : '_';
    *o = '\0';
    return out;
}

struct var_list {
    struct dr_secret_var *items;
    size_t n;
    char *msg;
    size_t msglen;
};

static int add_var(struct var_list *l, const char *name, const char *value)
{
    if (l->n == DR_SECRETS_VARS_MAX) {
        snprintf(l->msg, l->msglen, "the secret makes more than %d variables", DR_SECRETS_VARS_MAX);
        return -1;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].name, name) == 0) {
            snprintf(l->msg, l->msglen, "two keys of the secret give the variable name %s", name);
            return -1;
        }
    }
    struct dr_secret_var *grown = realloc(l->items, (l->n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    l->items = grown;
    l->items[l->n].name = dr_secrets_env_name(name);
    l->items[l->n].value = strdup(value);
    l->n++;
    return l->items[l->n - 1].name && l->items[l->n - 1].value ? 0 : -1;
}

/* One level of a JSON object under `prefix` (empty: bare key names). */
static int add_object(struct var_list *l, const char *prefix, const cJSON *obj, int depth)
{
    if (depth > 32) {
        snprintf(l->msg, l->msglen, "the secret's JSON nests deeper than 32 levels");
        return -1;
    }
    for (const cJSON *item = obj->child; item; item = item->next) {
        char *key = dr_secrets_env_name(item->string);
        size_t n = strlen(prefix) + strlen(key ? key : "") + 2;
        char *name = malloc(n);
        int rc = -1;
        if (key && name) {
            snprintf(name, n, "%s%s%s", prefix, *prefix ? "_" : "", key);
            cJSON *inner = cJSON_IsString(item) ? cJSON_Parse(item->valuestring) : NULL;
            if (cJSON_IsObject(item)) {
                rc = add_object(l, name, item, depth + 1);
            } else if (cJSON_IsObject(inner)) { /* a string holding a JSON object */
                rc = add_object(l, name, inner, depth + 1);
            } else if (cJSON_IsString(item)) {
                rc = add_var(l, name, item->valuestring);
            } else {
                char *text = cJSON_PrintUnformatted(item);
                rc = text ? add_var(l, name, text) : -1;
                free(text);
            }
            cJSON_Delete(inner);
        }
        free(key);
        free(name);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int dr_secrets_to_env(const char *prefix, const char *value, size_t len,
                      struct dr_secret_var **vars, size_t *n, char *msg, size_t msglen)
{
    struct var_list l = {NULL, 0, msg, msglen};
    cJSON *doc = cJSON_ParseWithLength(value, len);
    char *base = dr_secrets_env_name(prefix);
    int rc = -1;
    snprintf(msg, msglen, "out of memory");
    if (!base)
        goto out;
    if (cJSON_IsObject(doc))
        rc = add_object(&l, base, doc, 0);
    else if (*base)
        rc = add_var(&l, base, value);
    else
        snprintf(msg, msglen, "an empty prefix needs a secret that is a JSON object");
out:
    if (doc)
        cJSON_Delete(doc);
    free(base);
    if (rc != 0) {
        dr_secrets_free_vars(l.items, l.n);
        return -1;
    }
    *vars = l.items;
    *n = l.n;
    return 0;
}

void dr_secrets_free_vars(struct dr_secret_var *vars, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (vars[i].value)
            dr_wipe(vars[i].value, strlen(vars[i].value));
        free(vars[i].name);
        free(vars[i].value);
    }
    free(vars);
}
