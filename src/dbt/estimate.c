/* estimate: production's execution times (run_results.json, streamed: its
 * compiled code can weigh more than the manifest) and a list-scheduling
 * simulation of `dbt build` over the plan's selection with `threads` workers. */
#include "dbtrun/estimate.h"
#include "dbtrun/buf.h"
#include "dbtrun/jsonpull.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMINGS_MAX (4u << 20)

struct timing {
    char *uid;
    double secs;
};

struct dr_timings {
    struct timing *items; /* sorted by uid */
    size_t n, cap;
};

/* ---- run_results.json --------------------------------------------------- */

static int timing_cmp(const void *a, const void *b)
{
    return strcmp(((const struct timing *)a)->uid, ((const struct timing *)b)->uid);
}

/* One element of `results`: its unique_id and execution_time, if both. */
static int read_result(struct dr_jsonpull *p, enum dr_jsonpull_token tok, struct dr_timings *t)
{
    char *uid = NULL;
    double secs = -1;
    if (tok != DR_JP_OBJECT)
        return tok == DR_JP_ARRAY ? dr_jsonpull_skip_container(p) : tok < 0 ? -1 : 0;
    while ((tok = dr_jsonpull_next(p)) == DR_JP_KEY) {
        int is_uid = strcmp(p->str, "unique_id") == 0;
        int is_time = strcmp(p->str, "execution_time") == 0;
        if (!is_uid && !is_time) {
            if (dr_jsonpull_skip_value(p))
                goto fail;
            continue;
        }
        tok = dr_jsonpull_next(p);
        if (tok == DR_JP_OBJECT || tok == DR_JP_ARRAY) {
            if (dr_jsonpull_skip_container(p))
                goto fail;
        } else if (is_uid && tok == DR_JP_STRING) {
            free(uid);
            uid = strdup(p->str);
            if (!uid)
                goto fail;
        } else if (is_time && tok == DR_JP_NUMBER) {
            secs = strtod(p->str, NULL);
        }
    }
    if (tok != DR_JP_END_OBJECT)
        goto fail;
    if (uid && secs >= 0) {
        struct timing *items = dr_grow(t->items, &t->cap, t->n + 1, sizeof *items, TIMINGS_MAX);
        if (!items)
            goto fail;
        t->items = items;
        t->items[t->n++] = (struct timing){uid, secs};
        return 0;
    }
    free(uid);
    return 0;
fail:
    free(uid);
    return -1;
}

static int read_timings(struct dr_jsonpull *p, struct dr_timings *t)
{
    enum dr_jsonpull_token tok = dr_jsonpull_next(p);
    if (tok != DR_JP_OBJECT)
        return -1;
    while ((tok = dr_jsonpull_next(p)) == DR_JP_KEY) {
        if (strcmp(p->str, "results") != 0) {
            if (dr_jsonpull_skip_value(p))
                return -1;
            continue;
        }
        if (dr_jsonpull_next(p) != DR_JP_ARRAY)
            return -1;
        while ((tok = dr_jsonpull_next(p)) != DR_JP_END_ARRAY)
            if (read_result(p, tok, t))
                return -1;
    }
    return tok == DR_JP_END_OBJECT ? 0 : -1;
}

static int timings_read(struct dr_jsonpull *p, const char *label, struct dr_timings **out,
                        char *err, size_t errlen)
{
    struct dr_timings *t = calloc(1, sizeof *t);
    if (!t || read_timings(p, t)) {
        snprintf(err, errlen, "%s: not a run_results.json it can read (%s)", label,
                 !t            ? "out of memory"
                 : p->error[0] ? p->error
                               : "unexpected content");
        dr_timings_free(t);
        return -1;
    }
    if (t->n)
        qsort(t->items, t->n, sizeof *t->items, timing_cmp);
    *out = t;
    return 0;
}

int dr_estimate_timings_load(const char *path, struct dr_timings **out, char *err, size_t errlen)
{
    struct dr_jsonpull p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (dr_jsonpull_open_fd(&p, fd)) {
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc = timings_read(&p, path, out, err, errlen);
    dr_jsonpull_close(&p);
    close(fd);
    return rc;
}

int dr_estimate_timings_parse(const char *data, size_t len, struct dr_timings **out, char *err,
                              size_t errlen)
{
    struct dr_jsonpull p;
    dr_jsonpull_open_mem(&p, data, len);
    int rc = timings_read(&p, "run_results", out, err, errlen);
    dr_jsonpull_close(&p);
    return rc;
}

double dr_estimate_timing(const struct dr_timings *t, const char *uid)
{
    if (!t || !t->n)
        return -1;
    struct timing key = {(char *)uid, 0};
    const struct timing *hit = bsearch(&key, t->items, t->n, sizeof key, timing_cmp);
    return hit ? hit->secs : -1;
}

void dr_timings_free(struct dr_timings *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i].uid);
    free(t->items);
    free(t);
}

/* ---- the simulation ----------------------------------------------------- */

struct sim {
    size_t n;
    const double *secs;
    uint32_t *child_off, *children; /* the reverse of deps */
    uint32_t *waiting;              /* dependencies not finished yet */
    double *chain;                  /* longest chain from a job to the end, itself included */
    uint32_t *order;                /* a topological order */
};

static void sim_free(struct sim *s)
{
    free(s->child_off);
    free(s->children);
    free(s->waiting);
    free(s->chain);
    free(s->order);
}

/* Children lists, the topological order (Kahn) and each job's chain.
 * -1 when out of memory or on a cycle. */
static int sim_prepare(struct sim *s, const uint32_t *dep_off, const uint32_t *deps)
{
    size_t n = s->n, ndeps = dep_off[n];
    s->child_off = calloc(n + 1, sizeof *s->child_off);
    s->children = calloc(ndeps + 1, sizeof *s->children);
    s->waiting = calloc(n + 1, sizeof *s->waiting);
    s->chain = calloc(n + 1, sizeof *s->chain);
    s->order = calloc(n + 1, sizeof *s->order);
    uint32_t *fill = calloc(n + 1, sizeof *fill);
    int rc = -1;
    if (!s->child_off || !s->children || !s->waiting || !s->chain || !s->order || !fill)
        goto out;
    for (size_t k = 0; k < ndeps; k++)
        s->child_off[deps[k] + 1]++;
    for (size_t i = 0; i < n; i++) {
        s->child_off[i + 1] += s->child_off[i];
        s->waiting[i] = dep_off[i + 1] - dep_off[i];
    }
    for (size_t i = 0; i < n; i++)
        for (uint32_t k = dep_off[i]; k < dep_off[i + 1]; k++)
            s->children[s->child_off[deps[k]] + fill[deps[k]]++] = (uint32_t)i;
    size_t head = 0, tail = 0;
    uint32_t *left = fill; /* reused: dependencies not yet ordered */
    for (size_t i = 0; i < n; i++)
        if (!(left[i] = s->waiting[i]))
            s->order[tail++] = (uint32_t)i;
    while (head < tail) {
        uint32_t j = s->order[head++];
        for (uint32_t k = s->child_off[j]; k < s->child_off[j + 1]; k++)
            if (--left[s->children[k]] == 0)
                s->order[tail++] = s->children[k];
    }
    if (tail != n)
        goto out; /* a cycle */
    for (size_t i = n; i-- > 0;) {
        uint32_t j = s->order[i];
        double longest = 0;
        for (uint32_t k = s->child_off[j]; k < s->child_off[j + 1]; k++)
            if (s->chain[s->children[k]] > longest)
                longest = s->chain[s->children[k]];
        s->chain[j] = s->secs[j] + longest;
    }
    rc = 0;
out:
    free(fill);
    return rc;
}

/* Whether ready job x goes before y: the longer chain, then the lower index. */
static int before(const struct sim *s, uint32_t x, uint32_t y)
{
    return s->chain[x] > s->chain[y] || (s->chain[x] == s->chain[y] && x < y);
}

/* The ready jobs are a binary heap on `before`, so a large selection with
 * few threads stays n log n. */
static void push_ready(const struct sim *s, uint32_t *ready, size_t *nready, uint32_t job)
{
    size_t i = (*nready)++;
    while (i > 0 && before(s, job, ready[(i - 1) / 2])) {
        ready[i] = ready[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    ready[i] = job;
}

/* The ready job with the longest chain (ties: the lowest index), or -1. */
static long take_ready(const struct sim *s, uint32_t *ready, size_t *nready)
{
    if (!*nready)
        return -1;
    uint32_t top = ready[0], last = ready[--*nready];
    size_t i = 0, n = *nready;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(s, ready[c + 1], ready[c]))
            c++;
        if (!before(s, ready[c], last))
            break;
        ready[i] = ready[c];
        i = c;
    }
    if (n)
        ready[i] = last;
    return top;
}

/* Runs the schedule: free workers take ready jobs, time jumps to the next
 * finish, finished jobs release their children. */
static double simulate(struct sim *s, unsigned threads, uint32_t *ready, uint32_t *running,
                       double *finish)
{
    size_t nready = 0, nrunning = 0, done = 0;
    double now = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!s->waiting[i])
            push_ready(s, ready, &nready, (uint32_t)i);
    while (done < s->n) {
        long job;
        while (nrunning < threads && (job = take_ready(s, ready, &nready)) >= 0) {
            running[nrunning] = (uint32_t)job;
            finish[nrunning++] = now + s->secs[job];
        }
        size_t first = 0;
        for (size_t i = 1; i < nrunning; i++)
            if (finish[i] < finish[first])
                first = i;
        now = finish[first];
        uint32_t j = running[first];
        running[first] = running[--nrunning];
        finish[first] = finish[nrunning];
        done++;
        for (uint32_t k = s->child_off[j]; k < s->child_off[j + 1]; k++)
            if (--s->waiting[s->children[k]] == 0)
                push_ready(s, ready, &nready, s->children[k]);
    }
    return now;
}

double dr_estimate_schedule(size_t n, const double *secs, const uint32_t *dep_off,
                            const uint32_t *deps, unsigned threads, double *critical)
{
    struct sim s = {.n = n, .secs = secs};
    double total = -1;
    uint32_t *ready = NULL, *running = NULL;
    double *finish = NULL;
    *critical = 0;
    if (threads < 1)
        threads = 1;
    if (n == 0)
        return 0;
    if (sim_prepare(&s, dep_off, deps))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (s.chain[i] > *critical)
            *critical = s.chain[i];
    ready = calloc(n, sizeof *ready);
    running = calloc(threads < n ? threads : n, sizeof *running);
    finish = calloc(threads < n ? threads : n, sizeof *finish);
    if (!ready || !running || !finish)
        goto out;
    total = simulate(&s, threads < n ? threads : (unsigned)n, ready, running, finish);
out:
    free(ready);
    free(running);
    free(finish);
    sim_free(&s);
    return total;
}

/* ---- the plan's selection ----------------------------------------------- */

/* Whether dbt build executes the node (and run_results.json times it). */
static int executed(const struct dr_manifest_node *n)
{
    switch (n->kind) {
    case DR_MK_MODEL:
        return !n->materialized || strcmp(n->materialized, "ephemeral") != 0;
    case DR_MK_SEED:
    case DR_MK_SNAPSHOT:
    case DR_MK_TEST:
    case DR_MK_UNIT_TEST:
    case DR_MK_FUNCTION:
        return 1;
    default:
        return 0;
    }
}

/* An edge: job `child` waits for job `parent`. */
struct edge {
    uint32_t parent, child;
};

struct graph {
    const struct dr_manifest_node **nodes;
    double *secs;
    uint32_t *dep_off, *deps;
    long *index; /* by intern id: job index, or -1 */
    struct edge *edges;
    size_t n, nedges, edges_cap;
};

static void graph_free(struct graph *g)
{
    free(g->nodes);
    free(g->secs);
    free(g->dep_off);
    free(g->deps);
    free(g->edges);
    free(g->index);
}

/* The jobs that wait for job `parent` below intern id `id`: its children
 * (child_map, as the plan's selection), and through a child that is not run
 * (an ephemeral model) that child's own. */
static int add_edges(struct graph *g, const struct dr_manifest *cur, uint32_t id, uint32_t parent,
                     int depth)
{
    uint32_t nkids = 0;
    const uint32_t *kids = dr_manifest_children(cur, id, &nkids);
    for (uint32_t k = 0; depth < 32 && k < nkids; k++) {
        uint32_t c = kids[k];
        const struct dr_manifest_node *cn = c < cur->nids ? dr_manifest_id_node(cur, c) : NULL;
        if (c < cur->nids && g->index[c] >= 0) {
            if ((uint32_t)g->index[c] == parent)
                continue;
            struct edge *e = dr_grow(g->edges, &g->edges_cap, g->nedges + 1, sizeof *e, 0);
            if (!e)
                return -1;
            g->edges = e;
            g->edges[g->nedges++] = (struct edge){parent, (uint32_t)g->index[c]};
        } else if (cn && cn->kind == DR_MK_MODEL && !executed(cn) &&
                   add_edges(g, cur, c, parent, depth + 1)) {
            return -1;
        }
    }
    return 0;
}

/* The edges as dep_off/deps, grouped by the waiting job. */
static int edges_to_deps(struct graph *g)
{
    g->deps = calloc(g->nedges + 1, sizeof *g->deps);
    uint32_t *fill = calloc(g->n + 1, sizeof *fill);
    if (!g->deps || !fill) {
        free(fill);
        return -1;
    }
    for (size_t k = 0; k < g->nedges; k++)
        g->dep_off[g->edges[k].child + 1]++;
    for (size_t i = 0; i < g->n; i++)
        g->dep_off[i + 1] += g->dep_off[i];
    for (size_t k = 0; k < g->nedges; k++) {
        uint32_t c = g->edges[k].child;
        g->deps[g->dep_off[c] + fill[c]++] = g->edges[k].parent;
    }
    free(fill);
    return 0;
}

/* The executed selected nodes and their dependencies among themselves
 * (the others are deferred to production, already built). */
static int graph_build(struct graph *g, const struct dr_plan *plan, const struct dr_manifest *cur)
{
    size_t cap = plan->nselected + 1;
    g->nodes = calloc(cap, sizeof *g->nodes);
    g->secs = calloc(cap, sizeof *g->secs);
    g->dep_off = calloc(cap + 1, sizeof *g->dep_off);
    g->index = malloc((cur->nids + 1) * sizeof *g->index);
    if (!g->nodes || !g->secs || !g->dep_off || !g->index)
        return -1;
    for (size_t i = 0; i <= cur->nids; i++)
        g->index[i] = -1;
    for (size_t i = 0; i < plan->nselected; i++) {
        const struct dr_manifest_node *n = dr_manifest_find(cur, plan->selected[i].unique_id);
        if (!n || !executed(n))
            continue;
        g->index[n->id] = (long)g->n;
        g->nodes[g->n++] = n;
    }
    for (size_t i = 0; i < g->n; i++)
        if (add_edges(g, cur, g->nodes[i]->id, (uint32_t)i, 0))
            return -1;
    return edges_to_deps(g);
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fill_estimate(struct dr_estimate *e, struct graph *g, const struct dr_timings *t)
{
    e->unknown = calloc(g->n + 1, sizeof *e->unknown);
    if (!e->unknown)
        return -1;
    for (size_t i = 0; i < g->n; i++) {
        double secs = dr_estimate_timing(t, g->nodes[i]->unique_id);
        if (secs < 0) {
            e->unknown[e->nunknown] = strdup(g->nodes[i]->unique_id);
            if (!e->unknown[e->nunknown++])
                return -1;
            secs = 0;
        }
        g->secs[i] = secs;
        e->serial += secs;
    }
    e->nnodes = g->n;
    e->nknown = g->n - e->nunknown;
    qsort(e->unknown, e->nunknown, sizeof *e->unknown, id_cmp);
    e->total = dr_estimate_schedule(g->n, g->secs, g->dep_off, g->deps, e->threads, &e->critical);
    return e->total < 0 ? -1 : 0;
}

int dr_estimate_plan(const struct dr_plan *plan, const struct dr_manifest *current,
                     const struct dr_timings *timings, unsigned threads, struct dr_estimate **out,
                     char *err, size_t errlen)
{
    struct graph g = {0};
    struct dr_estimate *e = calloc(1, sizeof *e);
    int rc = -1;
    if (!e)
        goto out;
    e->threads = threads ? threads : 1;
    if (graph_build(&g, plan, current) || fill_estimate(e, &g, timings))
        goto out;
    *out = e;
    e = NULL;
    rc = 0;
out:
    if (rc)
        snprintf(err, errlen, "plan: estimate: out of memory (or a dependency cycle)");
    graph_free(&g);
    dr_estimate_free(e);
    return rc;
}

void dr_estimate_duration(double secs, char *out, size_t outlen)
{
    if (secs < 60) {
        snprintf(out, outlen, "%.1fs", secs);
        return;
    }
    long s = (long)(secs + 0.5);
    if (s < 3600)
        snprintf(out, outlen, "%ldm %02lds", s / 60, s % 60);
    else
        snprintf(out, outlen, "%ldh %02ldm", s / 3600, (s % 3600) / 60);
}

void dr_estimate_free(struct dr_estimate *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nunknown; i++)
        free(e->unknown[i]);
    free(e->unknown);
    free(e);
}
