/* sts: GetCallerIdentity, AssumeRole and AssumeRoleWithWebIdentity over the
 * STS Query protocol (form POST, XML answer) through dr_aws_send and xml.h.
 * Bodies and answers that carry tokens or keys are wiped before release. */
#include "dbtrun/sts.h"
#include "dbtrun/wipe.h"
#include "dbtrun/client.h"
#include "dbtrun/isotime.h"
#include "dbtrun/sigv4.h"
#include "dbtrun/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct dr_http_header form_headers[] = {
    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
};

/* Wipes every text of a parsed tree (answers hold keys) before freeing it. */
static void xml_wipe_free(struct dr_xml_node *root)
{
    struct dr_xml_node *n = root;
    while (n) {
        dr_wipe(n->text, n->text_len);
        if (n->children) {
            n = n->children;
            continue;
        }
        while (n && n != root && !n->next)
            n = n->parent;
        n = (n && n != root) ? n->next : NULL;
    }
    dr_xml_free(root);
}

void dr_sts_free_body(char *body)
{
    dr_free_secret(body);
}

char *dr_sts_form(const char *action, const struct dr_sts_role_params *p, const char *session)
{
    /* Each value is encoded once, the body allocated once: no stray copies
     * of the token are left behind in freed memory by a growing buffer. */
    const char *names[] = {"RoleArn",          "RoleSessionName", "ExternalId", "DurationSeconds",
                           "WebIdentityToken", "SerialNumber",    "TokenCode"};
    const char *values[] = {p ? p->role_arn : NULL,           session,
                            p ? p->external_id : NULL,        p ? p->duration_seconds : NULL,
                            p ? p->web_identity_token : NULL, p ? p->serial_number : NULL,
                            p ? p->token_code : NULL};
    enum { N = sizeof names / sizeof names[0] };
    char *enc[N] = {0}, *body = NULL;
    size_t len = strlen("Action=") + strlen(action) + strlen("&Version=" DR_STS_VERSION) + 1;
    for (size_t i = 0; i < N; i++) {
        if (!values[i] || !*values[i])
            continue;
        if (!(enc[i] = dr_sigv4_uri_encode(values[i], strlen(values[i]), 0)))
            goto out;
        len += 2 + strlen(names[i]) + strlen(enc[i]);
    }
    if (!(body = malloc(len)))
        goto out;
    size_t at = (size_t)snprintf(body, len, "Action=%s&Version=%s", action, DR_STS_VERSION);
    for (size_t i = 0; i < N; i++)
        if (enc[i])
            at += (size_t)snprintf(body + at, len - at, "&%s=%s", names[i], enc[i]);
out:
    for (size_t i = 0; i < N; i++)
        dr_free_secret(enc[i]);
    return body;
}

/* Copies the text of `path` below n into *dst (caller frees). 0, or -1. */
static int take_text(const struct dr_xml_node *n, const char *path, char **dst)
{
    const char *v = dr_xml_text(n, path);
    if (!v || !*v)
        return -1;
    return (*dst = strdup(v)) ? 0 : -1;
}

int dr_sts_parse_credentials(const char *xml, size_t len, struct dr_aws_credentials *out, char *err,
                             size_t errlen)
{
    struct dr_xml_node *root = NULL;
    const struct dr_xml_node *cred;
    const char *exp;
    char msg[160];
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (dr_xml_parse(xml, len, &root, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "unreadable STS answer: %s", msg);
        goto out;
    }
    if (!(cred = dr_xml_descendant(root, "Credentials"))) {
        snprintf(err, errlen, "STS answer without <Credentials>");
        goto out;
    }
    if (take_text(cred, "AccessKeyId", &out->access_key_id) != 0 ||
        take_text(cred, "SecretAccessKey", &out->secret_access_key) != 0 ||
        take_text(cred, "SessionToken", &out->session_token) != 0) {
        snprintf(err, errlen, "STS answer without AccessKeyId, SecretAccessKey or SessionToken");
        goto out;
    }
    if ((exp = dr_xml_text(cred, "Expiration")) && dr_isotime_parse(exp, &out->expiration)) {
        snprintf(err, errlen, "STS answer with a bad Expiration");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        dr_aws_credentials_free(out);
    xml_wipe_free(root);
    return rc;
}

/* POSTs `body` as STS `action`. 0 with resp (2xx), or -1 with err. */
static int sts_call(struct dr_aws_client *c, const char *action, const char *target,
                    const char *body, int no_auth, struct dr_http_response *resp,
                    struct dr_aws_error *err)
{
    struct dr_aws_request r = {.service = "sts",
                               .op = action,
                               .target = target,
                               .method = "POST",
                               .path = "/",
                               .headers = form_headers,
                               .nheaders = sizeof form_headers / sizeof form_headers[0],
                               .body = body,
                               .body_len = strlen(body),
                               .no_auth = no_auth};
    return dr_aws_send(c, &r, resp, err);
}

int dr_sts_get_caller_identity(struct dr_aws_client *c, char **account, char **arn, char **user_id,
                               struct dr_aws_error *err)
{
    static const char action[] = "GetCallerIdentity";
    struct dr_http_response resp = {0};
    struct dr_xml_node *root = NULL;
    char *got[3] = {0}, msg[160];
    const char *paths[3] = {"Account", "Arn", "UserId"};
    char **want[3] = {account, arn, user_id};
    int rc = -1;
    if (sts_call(c, action, "", "Action=GetCallerIdentity&Version=" DR_STS_VERSION, 0, &resp,
                 err) != 0)
        goto out;
    const struct dr_xml_node *result;
    if (dr_xml_parse(resp.body, resp.body_len, &root, msg, sizeof msg) != 0 ||
        !(result = dr_xml_descendant(root, "GetCallerIdentityResult"))) {
        dr_aws_fail(err, action, "", "InternalError", "unreadable STS answer");
        goto out;
    }
    for (int i = 0; i < 3; i++) {
        if (want[i] && take_text(result, paths[i], &got[i]) != 0) {
            dr_aws_fail(err, action, "", "InternalError", "STS answer without %s", paths[i]);
            goto out;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (want[i]) {
            *want[i] = got[i];
            got[i] = NULL;
        }
    }
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        free(got[i]);
    dr_xml_free(root);
    dr_http_response_free(&resp);
    return rc;
}

/* The session name to send: p's, or "dbtrun-<epoch seconds>". */
static const char *session_name(const struct dr_sts_role_params *p, char *buf, size_t len)
{
    time_t now;
    if (p->session_name && *p->session_name)
        return p->session_name;
    if (dr_sigv4_now(&now, NULL, 0) != 0)
        now = time(NULL);
    snprintf(buf, len, "dbtrun-%lld", (long long)now);
    return buf;
}

/* AssumeRole or AssumeRoleWithWebIdentity. */
static int assume(struct dr_aws_client *c, const char *action, int no_auth,
                  const struct dr_sts_role_params *p, struct dr_aws_credentials *out,
                  struct dr_aws_error *err)
{
    struct dr_http_response resp = {0};
    char *body = NULL, session[64], msg[200];
    int rc = -1;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (!p || !p->role_arn || !*p->role_arn) {
        dr_aws_fail(err, action, "", "InvalidArgument", "no role ARN");
        goto out;
    }
    if (!(body = dr_sts_form(action, p, session_name(p, session, sizeof session)))) {
        dr_aws_fail(err, action, p->role_arn, "InternalError", "out of memory");
        goto out;
    }
    if (sts_call(c, action, p->role_arn, body, no_auth, &resp, err) != 0)
        goto out;
    if (dr_sts_parse_credentials(resp.body, resp.body_len, out, msg, sizeof msg) != 0) {
        dr_aws_fail(err, action, p->role_arn, "InternalError", "%s", msg);
        goto out;
    }
    rc = 0;
out:
    dr_sts_free_body(body);
    dr_http_response_free_wiped(&resp);
    return rc;
}

int dr_sts_assume_role(struct dr_aws_client *c, const struct dr_sts_role_params *p,
                       struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    struct dr_sts_role_params q;
    if (p) { /* never send a web identity token along with signed keys */
        q = *p;
        q.web_identity_token = NULL;
        p = &q;
    }
    return assume(c, "AssumeRole", 0, p, out, err);
}

int dr_sts_assume_role_with_web_identity(struct dr_aws_client *c,
                                         const struct dr_sts_role_params *p,
                                         struct dr_aws_credentials *out, struct dr_aws_error *err)
{
    struct dr_sts_role_params q;
    if (p) {
        q = *p;
        q.external_id = NULL; /* not a parameter of this call */
        p = &q;
    }
    if (p && (!p->web_identity_token || !*p->web_identity_token)) {
        memset(out, 0, sizeof *out);
        return dr_aws_fail(err, "AssumeRoleWithWebIdentity", p->role_arn ? p->role_arn : "",
                           "InvalidArgument", "no web identity token");
    }
    return assume(c, "AssumeRoleWithWebIdentity", 1, p, out, err);
}
