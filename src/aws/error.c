/* error: the structured AWS error — making one, formatting it for people
 * ("GetObject s3://b/k: NoSuchKey (404): ..."), and reading AWS's own code
 * and message out of an XML or JSON error body. Below client.c and aws.c. */
#include "dbtrun/aws.h"
#include "dbtrun/xml.h"

#include <cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- errors --------------------------------------------------------------- */

int dr_aws_fail(struct dr_aws_error *e, const char *op, const char *target, const char *code,
                const char *fmt, ...)
{
    va_list ap;
    memset(e, 0, sizeof *e);
    snprintf(e->op, sizeof e->op, "%s", op ? op : "");
    snprintf(e->target, sizeof e->target, "%s", target ? target : "");
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Appends printf text to buf (len bytes, *used so far), truncating safely. */
static void put(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    va_list ap;
    if (*used >= len)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used = *used + (size_t)n < len ? *used + (size_t)n : len;
}

/* "GetObject s3://b/k: NoSuchKey (404): The specified key does not exist.
 * (request id X)"; the parts that are empty (target, status, message,
 * request id) are left out with their punctuation. */
void dr_aws_error_format(const struct dr_aws_error *e, char *buf, size_t len)
{
    size_t used = 0;
    if (!buf || len == 0)
        return;
    buf[0] = '\0';
    if (e->op[0])
        put(buf, len, &used, "%s", e->op);
    if (e->target[0])
        put(buf, len, &used, "%s%s", e->op[0] ? " " : "", e->target);
    if (e->op[0] || e->target[0])
        put(buf, len, &used, ": ");
    put(buf, len, &used, "%s", e->code[0] ? e->code : "Error");
    if (e->status)
        put(buf, len, &used, " (%d)", e->status);
    if (e->message[0])
        put(buf, len, &used, ": %s", e->message);
    if (e->request_id[0])
        put(buf, len, &used, " (request id %s)", e->request_id);
}

/* ---- error bodies --------------------------------------------------------- */

static const char *reason_phrase(long status)
{
    switch (status) {
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status >= 500   ? "Server Error"
               : status >= 400 ? "Client Error"
                               : "Unexpected Status";
    }
}

/* Copies `s` into dst (size len) without leading/trailing white space. */
static void copy_trimmed(char *dst, size_t len, const char *s)
{
    size_t n;
    while (*s && isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    snprintf(dst, len, "%.*s", n > (size_t)len ? (int)len : (int)n, s);
}

/* "aws.protocoltests#ResourceNotFoundException:http://internal..." -> the
 * bare name, as the SDKs shorten __type and x-amzn-errortype. */
static void copy_code(char *dst, size_t len, const char *s)
{
    const char *hash = strrchr(s, '#');
    if (hash)
        s = hash + 1;
    size_t n = strcspn(s, ":");
    snprintf(dst, len, "%.*s", n > (size_t)len ? (int)len : (int)n, s);
}

static void parse_xml_error(const char *body, size_t len, struct dr_aws_error *e)
{
    struct dr_xml_node *root = NULL;
    const struct dr_xml_node *error;
    const char *v;
    if (dr_xml_parse(body, len, &root, NULL, 0) != 0)
        return;
    error = strcmp(root->name, "Error") == 0 ? root : dr_xml_descendant(root, "Error");
    if ((v = dr_xml_text(error, "Code")))
        copy_trimmed(e->code, sizeof e->code, v);
    if ((v = dr_xml_text(error, "Message")))
        copy_trimmed(e->message, sizeof e->message, v);
    const struct dr_xml_node *rid = dr_xml_descendant(root, "RequestId");
    if (!rid)
        rid = dr_xml_descendant(root, "RequestID"); /* EC2 spells it so */
    if (rid)
        copy_trimmed(e->request_id, sizeof e->request_id, rid->text);
    dr_xml_free(root);
}

/* The first string member of `doc` among `names`, or NULL. */
static const char *json_string(const cJSON *doc, const char *const *names)
{
    for (; *names; names++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, *names);
        if (cJSON_IsString(v) && v->valuestring)
            return v->valuestring;
    }
    return NULL;
}

static void parse_json_error(const char *body, size_t len, struct dr_aws_error *e)
{
    static const char *const code_names[] = {"__type", "code", "Code", NULL};
    static const char *const message_names[] = {"message", "Message", "errorMessage", NULL};
    cJSON *doc = cJSON_ParseWithLength(body, len);
    const char *v;
    if (!doc)
        return;
    if ((v = json_string(doc, code_names)))
        copy_code(e->code, sizeof e->code, v);
    if ((v = json_string(doc, message_names)))
        copy_trimmed(e->message, sizeof e->message, v);
    cJSON_Delete(doc);
}

void dr_aws_error_parse(const struct dr_http_response *resp, const char *method,
                        struct dr_aws_error *e)
{
    const char *body = resp->body ? resp->body : "", *v;
    size_t len = resp->body ? resp->body_len : 0;
    e->status = (int)resp->status;
    e->code[0] = e->message[0] = e->request_id[0] = '\0';
    while (len > 0 && isspace((unsigned char)*body))
        body++, len--;
    if (len > 0 && body[0] == '<')
        parse_xml_error(body, len, e);
    else if (len > 0 && body[0] == '{')
        parse_json_error(body, len, e);
    if (!e->code[0] && (v = dr_http_header_get(resp, "x-amzn-errortype")))
        copy_code(e->code, sizeof e->code, v);
    if (!e->request_id[0] && ((v = dr_http_header_get(resp, "x-amz-request-id")) ||
                              (v = dr_http_header_get(resp, "x-amzn-requestid")) ||
                              (v = dr_http_header_get(resp, "x-amzn-request-id"))))
        copy_trimmed(e->request_id, sizeof e->request_id, v);
    if (!e->code[0]) {
        if (resp->status == 404 && method && strcmp(method, "HEAD") == 0) {
            snprintf(e->code, sizeof e->code, "NotFound");
        } else if (resp->status == 301 && (v = dr_http_header_get(resp, "x-amz-bucket-region"))) {
            /* S3 answers a HEAD in the wrong region with only this header */
            snprintf(e->code, sizeof e->code, "PermanentRedirect");
            snprintf(e->message, sizeof e->message, "the bucket is in region %.64s", v);
        } else {
            snprintf(e->code, sizeof e->code, "Http%ld", resp->status);
        }
    }
    if (!e->message[0])
        snprintf(e->message, sizeof e->message, "%s", reason_phrase(resp->status));
}
