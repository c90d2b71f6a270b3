/* github: create-or-update of one marked pull-request comment
 * (include/dbtrun/github.h): list the pull request's comments page by page,
 * PATCH the one that carries the marker, else POST a new one; and the state
 * of one pull request. JSON through cJSON, HTTP through http.h. */
#include "dbtrun/github.h"
#include "dbtrun/buf.h"
#include "dbtrun/http.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 2048
#define TRUNCATED_NOTE "\n\n_(cut to GitHub's comment size limit)_\n"

static int failf(struct dr_github_status *st, long status, const char *what, const char *detail)
{
    st->http_status = status;
    snprintf(st->message, sizeof st->message, "%s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
    return -1;
}

/* GitHub's own explanation of a failed request, from its JSON body. */
static int fail_response(struct dr_github_status *st, const char *what,
                         const struct dr_http_response *resp)
{
    char detail[200];
    cJSON *doc = resp->body ? cJSON_Parse(resp->body) : NULL;
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(doc, "message");
    if (cJSON_IsString(msg))
        snprintf(detail, sizeof detail, "HTTP %ld: %.150s", resp->status, msg->valuestring);
    else if (resp->status)
        snprintf(detail, sizeof detail, "HTTP %ld", resp->status);
    else
        snprintf(detail, sizeof detail, "%.150s", resp->error);
    cJSON_Delete(doc);
    return failf(st, resp->status, what, detail);
}

/* owner/name with GitHub's characters only: nothing to escape in a URL. */
static int valid_repo(const char *repo)
{
    int slashes = 0;
    if (!repo || !*repo)
        return 0;
    for (const char *p = repo; *p; p++) {
        if (*p == '/')
            slashes++;
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
            return 0;
    }
    return slashes == 1 && repo[0] != '/' && repo[strlen(repo) - 1] != '/';
}

static int request(const struct dr_github_comment *c, const char *method, const char *url,
                   const char *json, struct dr_http_response *resp)
{
    char auth[512];
    snprintf(auth, sizeof auth, "Bearer %s", c->token);
    struct dr_http_header headers[] = {
        {"Authorization", auth},
        {"Accept", "application/vnd.github+json"},
        {"X-GitHub-Api-Version", "2022-11-28"},
        {"User-Agent", "dbtrun"},
        {"Content-Type", "application/json"},
    };
    struct dr_http_request req = {
        .method = method,
        .url = url,
        .headers = headers,
        .nheaders = json ? 5 : 4,
        .body = json,
        .body_len = json ? strlen(json) : 0,
        .timeout_ms = 30000,
    };
    memset(resp, 0, sizeof *resp);
    return dr_http_perform(&req, resp);
}

/* The id of the marked comment on one page; 0 when absent. *count is the
 * number of comments on the page. -1 when the page is not a JSON array. */
static long long find_marked(const char *body, const char *marker, int *count)
{
    long long id = 0;
    cJSON *doc = cJSON_Parse(body ? body : "");
    if (!cJSON_IsArray(doc)) {
        cJSON_Delete(doc);
        return -1;
    }
    *count = cJSON_GetArraySize(doc);
    const cJSON *item;
    cJSON_ArrayForEach(item, doc)
    {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(item, "body");
        const cJSON *num = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (cJSON_IsString(text) && cJSON_IsNumber(num) && strstr(text->valuestring, marker)) {
            id = (long long)num->valuedouble;
            break;
        }
    }
    cJSON_Delete(doc);
    return id;
}

/* marker + body, cut at a UTF-8 boundary to GitHub's limit, as a JSON
 * object {"body": ...}. Caller frees; NULL when out of memory. */
static char *comment_json(const struct dr_github_comment *c)
{
    struct dr_buf text;
    char *json = NULL;
    dr_buf_init(&text, DR_GITHUB_COMMENT_MAX + 64);
    dr_buf_printf(&text, "%s\n", c->marker);
    size_t room = DR_GITHUB_COMMENT_MAX - text.len;
    size_t n = strlen(c->body);
    if (n > room) {
        n = room - (sizeof TRUNCATED_NOTE - 1);
        while (n > 0 && ((unsigned char)c->body[n] & 0xC0) == 0x80)
            n--;
    }
    dr_buf_add(&text, c->body, n);
    if (n < strlen(c->body))
        dr_buf_puts(&text, TRUNCATED_NOTE);
    cJSON *obj = cJSON_CreateObject();
    if (!text.out_of_mem && obj && cJSON_AddStringToObject(obj, "body", text.data))
        json = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    dr_buf_free(&text);
    return json;
}

/* Pages through the pull request's comments (resp holds the last answer)
 * for the one with the marker. Its id, 0 when there is none, or -1 with st. */
static long long find_comment(const struct dr_github_comment *c, int base_len,
                              struct dr_http_response *resp, struct dr_github_status *st)
{
    static const char what[] = "github: listing the pull request's comments";
    char url[URL_MAX];
    long long id = 0;
    for (int page = 1; page <= DR_GITHUB_PAGES_MAX && id == 0; page++) {
        int count = 0;
        snprintf(url, sizeof url, "%.*s/repos/%s/issues/%ld/comments?per_page=100&page=%d",
                 base_len, c->api_url, c->repo, c->pr, page);
        dr_http_response_free(resp);
        if (request(c, "GET", url, NULL, resp) || resp->status != 200)
            return fail_response(st, what, resp);
        id = find_marked(resp->body, c->marker, &count);
        if (id < 0)
            return failf(st, resp->status, what, "the answer is not a JSON array");
        if (count < 100)
            break;
    }
    return id;
}

/* The id GitHub gave a new comment, or 0 when its answer does not say. */
static long long created_id(const struct dr_http_response *resp)
{
    cJSON *doc = cJSON_Parse(resp->body ? resp->body : "");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(doc, "id");
    long long id = cJSON_IsNumber(num) ? (long long)num->valuedouble : 0;
    cJSON_Delete(doc);
    return id;
}

int dr_github_upsert_comment(const struct dr_github_comment *c, struct dr_github_status *st)
{
    struct dr_http_response resp = {0};
    char url[URL_MAX];
    char *json = NULL;
    int rc = -1;
    long long id = 0;
    memset(st, 0, sizeof *st);
    if (!valid_repo(c->repo) || c->pr <= 0 || !c->token || !*c->token || !c->marker ||
        !*c->marker) {
        failf(st, 0, "github: need a token, a repository (owner/name) and a pull request", NULL);
        goto out;
    }
    int base_len = (int)strlen(c->api_url);
    while (base_len > 0 && c->api_url[base_len - 1] == '/')
        base_len--;
    if ((id = find_comment(c, base_len, &resp, st)) < 0)
        goto out;
    if (!(json = comment_json(c))) {
        failf(st, 0, "github: out of memory", NULL);
        goto out;
    }
    if (id)
        snprintf(url, sizeof url, "%.*s/repos/%s/issues/comments/%lld", base_len, c->api_url,
                 c->repo, id);
    else
        snprintf(url, sizeof url, "%.*s/repos/%s/issues/%ld/comments", base_len, c->api_url,
                 c->repo, c->pr);
    dr_http_response_free(&resp);
    if (request(c, id ? "PATCH" : "POST", url, json, &resp) || resp.status != (id ? 200 : 201)) {
        fail_response(st, id ? "github: updating the comment" : "github: creating the comment",
                      &resp);
        goto out;
    }
    st->http_status = resp.status;
    st->created = id == 0;
    st->id = id ? id : created_id(&resp);
    rc = 0;
out:
    dr_http_response_free(&resp);
    cJSON_free(json);
    return rc;
}

/* state and merged of a pull request's JSON; -1 when they are not there. */
static int parse_pull(const char *body, struct dr_github_pull *pull)
{
    cJSON *doc = cJSON_Parse(body ? body : "");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(doc, "state");
    const cJSON *merged = cJSON_GetObjectItemCaseSensitive(doc, "merged");
    int rc = -1;
    if (cJSON_IsString(state) && strlen(state->valuestring) < sizeof pull->state) {
        snprintf(pull->state, sizeof pull->state, "%s", state->valuestring);
        pull->merged = cJSON_IsTrue(merged);
        rc = 0;
    }
    cJSON_Delete(doc);
    return rc;
}

int dr_github_pull_get(const struct dr_github_comment *c, struct dr_github_pull *pull,
                       struct dr_github_status *st)
{
    static const char what[] = "github: reading the pull request";
    struct dr_http_response resp = {0};
    char url[URL_MAX];
    int rc = -1;
    memset(st, 0, sizeof *st);
    memset(pull, 0, sizeof *pull);
    if (!valid_repo(c->repo) || c->pr <= 0 || !c->token || !*c->token) {
        failf(st, 0, "github: need a token, a repository (owner/name) and a pull request", NULL);
        goto out;
    }
    int base_len = (int)strlen(c->api_url);
    while (base_len > 0 && c->api_url[base_len - 1] == '/')
        base_len--;
    snprintf(url, sizeof url, "%.*s/repos/%s/pulls/%ld", base_len, c->api_url, c->repo, c->pr);
    if (request(c, "GET", url, NULL, &resp) || resp.status != 200) {
        fail_response(st, what, &resp);
        goto out;
    }
    if (parse_pull(resp.body, pull) != 0) {
        failf(st, resp.status, what, "the answer has no state");
        goto out;
    }
    st->http_status = resp.status;
    rc = 0;
out:
    dr_http_response_free(&resp);
    return rc;
}
