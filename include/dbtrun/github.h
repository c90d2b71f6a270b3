/* github: the GitHub REST API over http.h — the one sticky pull-request
 * comment of a tool (found by a hidden marker, updated in place, created only
 * when missing, so a pull request never collects duplicates) and the state of
 * a pull request (ci-cleanup). The API base URL is a parameter
 * (GITHUB_API_URL; a loopback fake in tests). */
#ifndef DR_GITHUB_H
#define DR_GITHUB_H

#include <stddef.h>

#define DR_GITHUB_COMMENT_MAX 65536 /* GitHub's limit on a comment body */
#define DR_GITHUB_PAGES_MAX 50      /* comments searched: 50 pages of 100 */

struct dr_github_comment {
    const char *api_url; /* e.g. "https://api.github.com", no trailing slash needed */
    const char *token;   /* sent as a bearer token */
    const char *repo;    /* "owner/name" */
    long pr;             /* pull request (issue) number */
    const char *marker;  /* hidden text that identifies the comment, e.g. "<!-- dbtrun-plan -->" */
    const char *body;    /* Markdown; the marker is put in front, the total cut to the limit */
};

struct dr_github_status {
    long http_status;  /* of the failing or last request */
    long long id;      /* the comment's id */
    int created;       /* 1 created, 0 updated */
    char message[256]; /* what went wrong */
};

/* The state of a pull request, as GET /repos/{repo}/pulls/{pr} gives it. */
struct dr_github_pull {
    char state[16]; /* "open" or "closed" */
    int merged;     /* 1 when it was merged */
};

/* Reads pull request c->pr of c->repo with c->token (c->marker and c->body
 * are not used). 0 with *pull filled; -1 with st->message (st->http_status
 * 404 when GitHub knows no such pull request). */
int dr_github_pull_get(const struct dr_github_comment *c, struct dr_github_pull *pull,
                       struct dr_github_status *st);

/* Creates or updates the comment. 0 on success (st->id, st->created), -1 with
 * st->message (and st->http_status when GitHub answered). */
int dr_github_upsert_comment(const struct dr_github_comment *c, struct dr_github_status *st);

#endif
