/* Unit tests for src/dbt/github.c against the loopback server, which records
 * what was sent: the sticky comment is created when no comment carries the
 * marker, found on a later page and updated in place otherwise; the body is
 * the marker then the text, cut at a UTF-8 boundary to GitHub's limit; bad
 * arguments fail before any request; GitHub's own message is passed on. */
#include "harness.h"
#include "loopback.h"
#include "scratch.h"
#include "dbtrun/buf.h"
#include "dbtrun/github.h"
#include "dbtrun/http.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MARKER "<!-- dbtrun-plan -->"

static int ready;
static char api[64];
static char *replies[16];
static int nreplies;

/* An HTTP answer with a JSON body; freed by replies_free. */
static const char *answer(int status, const char *json)
{
    char *r = dr_strprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                           "Content-Length: %zu\r\n\r\n%s",
                           status, strlen(json), json);
    if (r && nreplies < (int)(sizeof replies / sizeof replies[0]))
        replies[nreplies++] = r;
    return r ? r : "";
}

static void replies_free(void)
{
    while (nreplies > 0)
        free(replies[--nreplies]);
}

/* The n-th request (from 0) the server recorded, in a new string; NULL if none. */
static char *recorded(const char *path, int n)
{
    char *all = slurp(path), *at = all, *end;
    char *one = NULL;
    for (int i = 0; at && (end = strstr(at, LB_RECORD_END)); i++) {
        if (i == n) {
            one = strndup(at, (size_t)(end - at));
            break;
        }
        at = end + strlen(LB_RECORD_END);
    }
    free(all);
    return one;
}

/* The "body" member of the JSON a request sent; NULL when there is none. */
static char *sent_body(const char *request)
{
    const char *json = request ? strstr(request, "\r\n\r\n") : NULL;
    cJSON *doc = json ? cJSON_Parse(json + 4) : NULL;
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(doc, "body");
    char *text = cJSON_IsString(body) ? strdup(body->valuestring) : NULL;
    cJSON_Delete(doc);
    return text;
}

static int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static struct dr_github_comment comment(const char *body)
{
    return (struct dr_github_comment){.api_url = api,
                                      .token = "ghs_tok",
                                      .repo = "acme/shop",
                                      .pr = 7,
                                      .marker = MARKER,
                                      .body = body};
}

static void setup(void)
{
    ready = mkdtemp(root) != NULL;
    if (!ready)
        MISSING("a temporary folder for the recorded requests");
}

static void test_bad_arguments_send_nothing(void)
{
    /* no server at all: a request would fail with a connection error instead */
    snprintf(api, sizeof api, "http://127.0.0.1:%d", lb_dead_port());
    const char *repos[] = {NULL,          "",           "acme",     "/acme/shop", "acme/shop/",
                           "acme/shop/x", "ac me/shop", "acme/sh?p"};
    struct dr_github_status st;
    for (size_t i = 0; i < sizeof repos / sizeof repos[0]; i++) {
        struct dr_github_comment c = comment("x");
        c.repo = repos[i];
        CHECK(dr_github_upsert_comment(&c, &st) == -1);
        CHECK_STR(st.message, "github: need a token, a repository (owner/name) and a pull request");
        CHECK(st.http_status == 0);
    }
    struct dr_github_comment c = comment("x");
    c.pr = 0;
    CHECK(dr_github_upsert_comment(&c, &st) == -1 && strstr(st.message, "need a token"));
    c = comment("x");
    c.token = "";
    CHECK(dr_github_upsert_comment(&c, &st) == -1 && strstr(st.message, "need a token"));
    c = comment("x");
    c.marker = "";
    CHECK(dr_github_upsert_comment(&c, &st) == -1 && strstr(st.message, "need a token"));
    c = comment("x");
    c.repo = "Acme-1/shop_2.db";
    CHECK(dr_github_upsert_comment(&c, &st) == -1);
    CHECK(strstr(st.message, "listing the pull request's comments") != NULL);
}

static void test_creates_when_no_comment_is_marked(void)
{
    if (!ready)
        return;
    struct lb_server lb = {0};
    const char *record = in_root("create");
    struct lb_step steps[] = {
        {LB_REPLY, answer(200, "[{\"id\":1,\"body\":\"looks good\"},{\"id\":2,\"body\":null}]")},
        {LB_REPLY_CLOSE, answer(201, "{\"id\":77,\"body\":\"...\"}")},
    };
    CHECK(lb_start_recording(&lb, steps, 2, record) == 0);
    /* a trailing slash on the API URL is not doubled */
    snprintf(api, sizeof api, "http://127.0.0.1:%d/", lb.port);
    struct dr_github_comment c = comment("## Plan\n3 modified");
    struct dr_github_status st;
    CHECK(dr_github_upsert_comment(&c, &st) == 0);
    CHECK(st.created == 1 && st.id == 77 && st.http_status == 201);
    lb_stop(&lb);
    char *list = recorded(record, 0), *post = recorded(record, 1);
    CHECK(starts_with(list, "GET /repos/acme/shop/issues/7/comments?per_page=100&page=1 "));
    CHECK(list && strstr(list, "\r\nAuthorization: Bearer ghs_tok\r\n"));
    CHECK(list && strstr(list, "\r\nAccept: application/vnd.github+json\r\n"));
    CHECK(starts_with(post, "POST /repos/acme/shop/issues/7/comments HTTP/1.1\r\n"));
    CHECK(post && strstr(post, "\r\nContent-Type: application/json\r\n"));
    char *body = sent_body(post);
    CHECK_STR(body, MARKER "\n## Plan\n3 modified");
    CHECK(recorded(record, 2) == NULL);
    free(body);
    free(list);
    free(post);
    replies_free();
}

/* A full page of 100 comments without the marker, then the marked one on page 2. */
static char *full_page(void)
{
    struct dr_buf b;
    dr_buf_init(&b, 0);
    dr_buf_puts(&b, "[");
    for (int i = 1; i <= 100; i++)
        dr_buf_printf(&b, "%s{\"id\":%d,\"body\":\"comment %d\"}", i > 1 ? "," : "", i, i);
    dr_buf_puts(&b, "]");
    return dr_buf_take(&b, NULL);
}

static void test_updates_the_marked_comment_on_a_later_page(void)
{
    if (!ready)
        return;
    char *page1 = full_page();
    struct lb_server lb = {0};
    const char *record = in_root("update");
    struct lb_step steps[] = {
        {LB_REPLY, answer(200, page1)},
        {LB_REPLY, answer(200, "[{\"id\":9000000001,\"body\":\"" MARKER "\\nold plan\"}]")},
        {LB_REPLY_CLOSE, answer(200, "{\"id\":9000000001}")},
    };
    CHECK(lb_start_recording(&lb, steps, 3, record) == 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", lb.port);
    struct dr_github_comment c = comment("new plan");
    struct dr_github_status st;
    CHECK(dr_github_upsert_comment(&c, &st) == 0);
    CHECK(st.created == 0 && st.id == 9000000001LL && st.http_status == 200);
    lb_stop(&lb);
    char *page2 = recorded(record, 1), *patch = recorded(record, 2);
    CHECK(starts_with(page2, "GET /repos/acme/shop/issues/7/comments?per_page=100&page=2 "));
    CHECK(starts_with(patch, "PATCH /repos/acme/shop/issues/comments/9000000001 HTTP/1.1\r\n"));
    char *body = sent_body(patch);
    CHECK_STR(body, MARKER "\nnew plan");
    free(body);
    free(page2);
    free(patch);
    free(page1);
    replies_free();
}

/* Over the limit: the marker stays, the text is cut before a whole character
 * and a note says so; the total fits GitHub's limit. */
static void test_long_body_is_cut_at_a_character(void)
{
    if (!ready)
        return;
    /* "x" then two-byte "é"s, twice the limit: the cut falls inside an "é" */
    size_t n = DR_GITHUB_COMMENT_MAX;
    char *text = malloc(2 * n + 2);
    text[0] = 'x';
    for (size_t i = 0; i < n; i++)
        memcpy(text + 1 + 2 * i, "\xc3\xa9", 2);
    text[2 * n + 1] = '\0';
    struct lb_server lb = {0};
    const char *record = in_root("long");
    struct lb_step steps[] = {
        {LB_REPLY, answer(200, "[]")},
        {LB_REPLY_CLOSE, answer(201, "{\"id\":5}")},
    };
    CHECK(lb_start_recording(&lb, steps, 2, record) == 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", lb.port);
    struct dr_github_comment c = comment(text);
    struct dr_github_status st;
    CHECK(dr_github_upsert_comment(&c, &st) == 0 && st.id == 5);
    lb_stop(&lb);
    char *post = recorded(record, 1);
    char *body = sent_body(post);
    const char *note = "\n\n_(cut to GitHub's comment size limit)_\n";
    size_t len = body ? strlen(body) : 0;
    CHECK(len <= DR_GITHUB_COMMENT_MAX && len > DR_GITHUB_COMMENT_MAX - 100);
    CHECK(starts_with(body, MARKER "\nx\xc3\xa9"));
    CHECK(len > strlen(note) && strcmp(body + len - strlen(note), note) == 0);
    /* "x" and only whole "é"s between the marker and the note */
    size_t kept = len - strlen(note) - strlen(MARKER "\n");
    CHECK(kept % 2 == 1);
    CHECK(body && memcmp(body + strlen(MARKER "\n"), text, kept) == 0);
    free(body);
    free(post);
    free(text);
    replies_free();
}

static void test_github_errors_are_passed_on(void)
{
    if (!ready)
        return;
    struct lb_server lb = {0};
    struct dr_github_status st;
    struct dr_github_comment c = comment("x");
    struct lb_step not_found[] = {
        {LB_REPLY_CLOSE, answer(404, "{\"message\":\"Not Found\",\"documentation_url\":\"u\"}")}};
    CHECK(lb_start(&lb, not_found, 1) == 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", lb.port);
    CHECK(dr_github_upsert_comment(&c, &st) == -1);
    CHECK_STR(st.message, "github: listing the pull request's comments: HTTP 404: Not Found");
    CHECK(st.http_status == 404);
    lb_stop(&lb);

    struct lb_step not_array[] = {{LB_REPLY_CLOSE, answer(200, "{\"comments\":[]}")}};
    CHECK(lb_start(&lb, not_array, 1) == 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", lb.port);
    CHECK(dr_github_upsert_comment(&c, &st) == -1);
    CHECK_STR(st.message,
              "github: listing the pull request's comments: the answer is not a JSON array");
    lb_stop(&lb);

    struct lb_step refused[] = {
        {LB_REPLY, answer(200, "[{\"id\":3,\"body\":\"" MARKER "\"}]")},
        {LB_REPLY_CLOSE, answer(403, "{\"message\":\"Resource not accessible by integration\"}")},
    };
    CHECK(lb_start(&lb, refused, 2) == 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", lb.port);
    CHECK(dr_github_upsert_comment(&c, &st) == -1);
    CHECK_STR(st.message, "github: updating the comment: HTTP 403: Resource not accessible by "
                          "integration");
    CHECK(st.http_status == 403);
    lb_stop(&lb);

    struct lb_step plain[] = {
        {LB_REPLY, answer(200, "[]")},
        {LB_REPLY_CLOSE, answer(500, "oops")},
    };
    CHECK(lb_start(&lb, plain, 2) == 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", lb.port);
    CHECK(dr_github_upsert_comment(&c, &st) == -1);
    CHECK_STR(st.message, "github: creating the comment: HTTP 500");
    lb_stop(&lb);

    snprintf(api, sizeof api, "http://127.0.0.1:%d", lb_dead_port());
    CHECK(dr_github_upsert_comment(&c, &st) == -1);
    CHECK(starts_with(st.message, "github: listing the pull request's comments: ") &&
          strlen(st.message) > strlen("github: listing the pull request's comments: "));
    CHECK(st.http_status == 0);
    replies_free();
}

/* ci-cleanup's question: GET /repos/{repo}/pulls/{n}, state and merged read;
 * a 404 keeps GitHub's status; bad arguments send nothing. */
static void test_pull_state(void)
{
    if (!ready)
        return;
    struct lb_server lb = {0};
    const char *record = in_root("pull");
    struct dr_github_pull pull;
    struct dr_github_status st;
    struct dr_github_comment c = comment(NULL);
    struct lb_step steps[] = {
        {LB_REPLY, answer(200, "{\"number\":7,\"state\":\"closed\",\"merged\":true}")},
        {LB_REPLY, answer(200, "{\"number\":7,\"state\":\"open\",\"merged\":false}")},
        {LB_REPLY, answer(200, "{\"number\":7}")},
        {LB_REPLY_CLOSE, answer(404, "{\"message\":\"Not Found\"}")},
    };
    CHECK(lb_start_recording(&lb, steps, 4, record) == 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d/", lb.port);
    CHECK(dr_github_pull_get(&c, &pull, &st) == 0);
    CHECK_STR(pull.state, "closed");
    CHECK(pull.merged == 1 && st.http_status == 200);
    CHECK(dr_github_pull_get(&c, &pull, &st) == 0);
    CHECK_STR(pull.state, "open");
    CHECK(pull.merged == 0);
    CHECK(dr_github_pull_get(&c, &pull, &st) == -1);
    CHECK_STR(st.message, "github: reading the pull request: the answer has no state");
    CHECK(dr_github_pull_get(&c, &pull, &st) == -1);
    CHECK_STR(st.message, "github: reading the pull request: HTTP 404: Not Found");
    CHECK(st.http_status == 404);
    lb_stop(&lb);
    char *get = recorded(record, 0);
    CHECK(starts_with(get, "GET /repos/acme/shop/pulls/7 HTTP/1.1\r\n"));
    CHECK(get && strstr(get, "\r\nAuthorization: Bearer ghs_tok\r\n"));
    free(get);
    c.token = "";
    CHECK(dr_github_pull_get(&c, &pull, &st) == -1);
    CHECK_STR(st.message, "github: need a token, a repository (owner/name) and a pull request");
    replies_free();
}

static void teardown(void)
{
    if (!ready)
        return;
    const char *names[] = {"create", "update", "long", "pull"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(in_root(names[i]));
    rmdir(root);
    dr_http_cleanup();
}

TEST_MAIN(setup, test_bad_arguments_send_nothing, test_creates_when_no_comment_is_marked,
          test_updates_the_marked_comment_on_a_later_page, test_long_body_is_cut_at_a_character,
          test_github_errors_are_passed_on, test_pull_state, teardown)
