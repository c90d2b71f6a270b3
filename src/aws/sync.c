/* sync: listings (local walk, S3 ListObjectsV2), the pure plan, and its
 * execution on dr_s3_parallel's threads with aws-CLI-style output lines.
 * The threads share only the run context below, under its mutex. */
#include "dbtrun/buf.h"
#include "dbtrun/sync.h"
#include "dbtrun/dl.h"
#include "dbtrun/fs.h"
#include "dbtrun/mask.h"
#include "dbtrun/progress.h"
#include "dbtrun/s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WALK_DEPTH_MAX 128 /* folders nested deeper are refused */

/* ---- listings --------------------------------------------------------------- */

int dr_sync_list_add(struct dr_sync_list *l, const char *path, long long size, time_t mtime,
                     const char *etag)
{
    if (l->n >= DR_SYNC_ITEMS_MAX)
        return -1;
    struct dr_sync_item *grown =
        dr_grow(l->items, &l->cap, l->n + 1, sizeof *grown, DR_SYNC_ITEMS_MAX);
    if (!grown)
        return -1;
    l->items = grown;
    struct dr_sync_item *it = &l->items[l->n];
    memset(it, 0, sizeof *it);
    it->path = strdup(path);
    it->etag = etag ? strdup(etag) : NULL;
    if (!it->path || (etag && !it->etag)) {
        free(it->path);
        free(it->etag);
        return -1;
    }
    it->size = size;
    it->mtime = mtime;
    l->n++;
    return 0;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dr_sync_item *)a)->path, ((const struct dr_sync_item *)b)->path);
}

void dr_sync_list_sort(struct dr_sync_list *l)
{
    if (l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, item_cmp);
}

void dr_sync_list_free(struct dr_sync_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].path);
        free(l->items[i].etag);
    }
    free(l->items);
    free(l->root);
    memset(l, 0, sizeof *l);
}

/* A folder on the current walk path, to refuse symbolic-link loops. */
struct walk_dir {
    dev_t dev;
    ino_t ino;
};

struct walk {
    struct dr_sync_list *l;
    struct walk_dir stack[WALK_DEPTH_MAX];
    int depth;
    int destination; /* DR_SYNC_DESTINATION given */
    char *err;
    size_t errlen;
};

static int is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static int walk_dir(struct walk *w, const char *abs, const char *rel);

/* Walks into sub-folder `child` (its stat in st) unless it closes a link
 * loop or goes too deep. 1, or 0 with w->err. */
static int descend(struct walk *w, const char *child, const char *crel, const struct stat *st)
{
    for (int i = 0; i < w->depth; i++)
        if (w->stack[i].dev == st->st_dev && w->stack[i].ino == st->st_ino) {
            snprintf(w->err, w->errlen, "symbolic link loop at %s", child);
            return 0;
        }
    if (w->depth >= WALK_DEPTH_MAX) {
        snprintf(w->err, w->errlen, "folders nested too deep at %s", child);
        return 0;
    }
    w->stack[w->depth].dev = st->st_dev;
    w->stack[w->depth].ino = st->st_ino;
    w->depth++;
    int ok = walk_dir(w, child, crel) == 0;
    w->depth--;
    return ok;
}

/* Walks folder `abs` whose path below the root is `rel` ("" at the top). */
static int walk_dir(struct walk *w, const char *abs, const char *rel)
{
    DIR *d = opendir(abs);
    struct dirent *e;
    int rc = -1;
    if (!d) {
        snprintf(w->err, w->errlen, "cannot read %s: %s", abs, strerror(errno));
        return -1;
    }
    while ((errno = 0, e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            dr_s3_is_temp_name(e->d_name)) /* a download in flight (or killed) */
            continue;
        char *child = dr_strprintf("%s/%s", abs, e->d_name);
        char *crel = dr_strprintf("%s%s%s", rel, *rel ? "/" : "", e->d_name);
        struct stat st;
        int ok = child && crel;
        if (!ok) {
            snprintf(w->err, w->errlen, "out of memory");
        } else if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) { /* stat(child), one name */
            /* a dangling link or a file gone meanwhile: skipped, as the aws CLI does */
        } else if (S_ISDIR(st.st_mode) && w->destination && is_link(child)) {
            /* files behind it are outside the destination: not ours to delete */
        } else if (S_ISDIR(st.st_mode)) {
            ok = descend(w, child, crel, &st);
        } else if (S_ISREG(st.st_mode)) {
            if (dr_sync_list_add(w->l, crel, (long long)st.st_size, st.st_mtim.tv_sec, NULL) != 0) {
                snprintf(w->err, w->errlen, "too many files or out of memory");
                ok = 0;
            }
        }
        free(child);
        free(crel);
        if (!ok)
            goto out;
    }
    if (errno != 0) {
        snprintf(w->err, w->errlen, "cannot read %s: %s", abs, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    closedir(d);
    return rc;
}

int dr_sync_list_local(const char *root, int flags, struct dr_sync_list *l, char *err,
                       size_t errlen)
{
    struct walk w = {
        .l = l, .destination = (flags & DR_SYNC_DESTINATION) != 0, .err = err, .errlen = errlen};
    struct stat st;
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    free(l->root);
    if (!(l->root = dr_strprintf("%.*s", (int)n, root))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (stat(l->root, &st) != 0) {
        if (errno == ENOENT && (flags & DR_SYNC_MISSING_OK))
            return 0;
        snprintf(err, errlen, "%s: %s", root, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a folder", root);
        return -1;
    }
    w.stack[0].dev = st.st_dev;
    w.stack[0].ino = st.st_ino;
    w.depth = 1;
    if (walk_dir(&w, l->root, "") != 0)
        return -1;
    dr_sync_list_sort(l);
    return 0;
}

struct s3_collect {
    struct dr_sync_list *l;
    size_t prefix_len;
};

int dr_sync_s3_listed(const char *rel, long long size)
{
    size_t n = strlen(rel);
    /* the aws CLI's filegenerator skips only empty "folder" markers; a key
     * ending in '/' with data (the prefix itself too) is an item, which
     * --delete removes and a download cannot save */
    return size != 0 || (n > 0 && rel[n - 1] != '/');
}

static int collect_object(void *ctx, const struct dr_s3_object *obj, const char *prefix)
{
    struct s3_collect *sc = ctx;
    (void)prefix;
    if (!obj || strlen(obj->key) < sc->prefix_len)
        return 0;
    const char *rel = obj->key + sc->prefix_len;
    if (!dr_sync_s3_listed(rel, obj->size))
        return 0;
    return dr_sync_list_add(sc->l, rel, obj->size, obj->last_modified, obj->etag) == 0 ? 0 : 1;
}

int dr_sync_list_s3(struct dr_aws_client *c, const char *bucket, const char *prefix,
                    struct dr_sync_list *l, struct dr_aws_error *err)
{
    struct s3_collect sc = {.l = l, .prefix_len = prefix ? strlen(prefix) : 0};
    int rc = dr_s3_list(c, bucket, prefix, NULL, collect_object, &sc, err);
    if (rc > 0)
        return dr_aws_fail(err, "ListObjectsV2", bucket, "LimitExceeded",
                           "too many objects or out of memory");
    if (rc != 0)
        return -1;
    dr_sync_list_sort(l);
    return 0;
}

/* ---- planning ----------------------------------------------------------------- */

/* The content hash to compare for an item: a single-part ETag, a file's MD5
 * (computed now if needed), or NULL when none is known. */
static const char *content_hash(struct dr_sync_list *l, struct dr_sync_item *it)
{
    if (it->etag)
        return dr_s3_etag_is_multipart(it->etag) || strlen(it->etag) != 32 ? NULL : it->etag;
    if (!it->md5[0] && l->root) {
        char *path = dr_strprintf("%s/%s", l->root, it->path);
        if (!path || dr_s3_hash_file(path, 0, -1, it->md5, NULL, NULL) != 0)
            it->md5[0] = '\0';
        free(path);
    }
    return it->md5[0] ? it->md5 : NULL;
}

/* An S3 item whose ETag is not an MD5 (multipart, or an encrypted object). */
static int opaque_etag(const struct dr_sync_item *it)
{
    return it->etag && (dr_s3_etag_is_multipart(it->etag) || strlen(it->etag) != 32);
}

/* The part size that splits `size` bytes into `parts` parts, of the two an
 * upload could have used: dbtrun's (dr_s3_part_size) or the aws CLI's 8 MiB.
 * 0 when neither does. */
static long long part_size_for(long long size, long long parts)
{
    long long mine = dr_s3_part_size(size);
    if ((size + mine - 1) / mine == parts)
        return mine;
    if ((size + DR_S3_PART_SIZE - 1) / DR_S3_PART_SIZE == parts)
        return DR_S3_PART_SIZE;
    return 0;
}

/* 1 when file `f` of list l, uploaded by dbtrun or the aws CLI, would get the
 * multipart ETag of object `o`. Hashes only when the part count fits. */
static int multipart_match(struct dr_sync_list *l, struct dr_sync_item *f,
                           const struct dr_sync_item *o)
{
    const char *dash = strrchr(o->etag, '-');
    long long part = dash ? part_size_for(f->size, strtoll(dash + 1, NULL, 10)) : 0;
    if (!l->root || f->etag || !part || f->size < DR_S3_MULTIPART_THRESHOLD)
        return 0;
    if (!f->mp_etag[0]) {
        char *path = dr_strprintf("%s/%s", l->root, f->path);
        if (!path || dr_s3_file_etag(path, part, f->mp_etag, sizeof f->mp_etag) != 0)
            f->mp_etag[0] = '\0';
        free(path);
    }
    return f->mp_etag[0] && strcasecmp(f->mp_etag, o->etag) == 0;
}

static int unchanged(struct dr_sync_list *src, struct dr_sync_item *s, struct dr_sync_list *dst,
                     struct dr_sync_item *d, const struct dr_sync_opts *o)
{
    if (s->size != d->size)
        return 0;
    if (o->size_only)
        return 1;
    if (opaque_etag(s) || opaque_etag(d)) {
        if (opaque_etag(s) ? multipart_match(dst, d, s) : multipart_match(src, s, d))
            return 1;
    } else {
        const char *hs = content_hash(src, s);
        const char *hd = hs ? content_hash(dst, d) : NULL;
        if (hs && hd)
            return strcasecmp(hs, hd) == 0;
    }
    return s->mtime <= d->mtime;
}

static int plan_add(struct dr_sync_plan *p, enum dr_sync_kind kind, size_t index)
{
    struct dr_sync_op *grown = dr_grow(p->ops, &p->cap, p->n + 1, sizeof *grown, 0);
    if (!grown)
        return -1;
    p->ops = grown;
    p->ops[p->n].kind = kind;
    p->ops[p->n].index = index;
    p->n++;
    return 0;
}

int dr_sync_plan_make(struct dr_sync_list *src, struct dr_sync_list *dst,
                      const struct dr_sync_opts *o, struct dr_sync_plan *plan, char *err,
                      size_t errlen)
{
    size_t i = 0, j = 0, ndeletes = 0;
    size_t *deletes = NULL;
    int rc = -1;
    memset(plan, 0, sizeof *plan);
    if (dst->n && !(deletes = malloc(dst->n * sizeof *deletes)))
        goto oom;
    while (i < src->n || j < dst->n) {
        int cmp = i >= src->n   ? 1
                  : j >= dst->n ? -1
                                : strcmp(src->items[i].path, dst->items[j].path);
        if (cmp < 0) { /* only in the source */
            if (!dr_filter_match(o->filter, src->items[i].path)) {
                plan->excluded++;
            } else {
                if (plan_add(plan, DR_SYNC_COPY, i) != 0)
                    goto oom;
                plan->bytes += src->items[i].size;
            }
            i++;
        } else if (cmp > 0) { /* only in the destination */
            if (!dr_filter_match(o->filter, dst->items[j].path))
                plan->excluded++;
            else if (o->delete_extra)
                deletes[ndeletes++] = j;
            j++;
        } else {
            if (!dr_filter_match(o->filter, src->items[i].path)) {
                plan->excluded++;
            } else if (!o->force && unchanged(src, &src->items[i], dst, &dst->items[j], o)) {
                plan->unchanged++;
            } else {
                if (plan_add(plan, DR_SYNC_COPY, i) != 0)
                    goto oom;
                plan->bytes += src->items[i].size;
            }
            i++;
            j++;
        }
    }
    for (size_t k = 0; k < ndeletes; k++)
        if (plan_add(plan, DR_SYNC_DELETE, deletes[k]) != 0)
            goto oom;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    dr_sync_plan_free(plan);
out:
    free(deletes);
    return rc;
}

void dr_sync_plan_free(struct dr_sync_plan *plan)
{
    free(plan->ops);
    memset(plan, 0, sizeof *plan);
}

/* ---- display paths -------------------------------------------------------------- */

/* Splits an absolute path into its components after lexical normalisation
 * ("." dropped, ".." pops). Components point into `buf`, which is modified. */
static size_t components(char *buf, char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            if (n > 0)
                n--;
            continue;
        }
        if (n < max)
            out[n++] = tok;
    }
    return n;
}

char *dr_sync_display_path(const char *path, const char *cwd)
{
    enum { MAXC = 512 };
    char *abs = path[0] == '/' ? strdup(path) : dr_strprintf("%s/%s", cwd, path);
    char *here = strdup(cwd), *out = NULL;
    char **pc = malloc(2 * MAXC * sizeof *pc), **cc = pc ? pc + MAXC : NULL;
    if (!abs || !here || !pc)
        goto out;
    size_t np = components(abs, pc, MAXC), nc = components(here, cc, MAXC), common = 0;
    if (np == 0)
        goto out;
    /* os.path.join(os.path.relpath(dirname, cwd), basename) */
    while (common < np - 1 && common < nc && strcmp(pc[common], cc[common]) == 0)
        common++;
    size_t len = 1;
    for (size_t k = common; k < nc; k++)
        len += 3;
    for (size_t k = common; k < np; k++)
        len += strlen(pc[k]) + 1;
    if (!(out = malloc(len + 2)))
        goto out;
    out[0] = '\0';
    if (common == nc && common == np - 1)
        strcat(out, "./");
    for (size_t k = common; k < nc; k++)
        strcat(out, "../");
    for (size_t k = common; k < np; k++) {
        strcat(out, pc[k]);
        if (k + 1 < np)
            strcat(out, "/");
    }
out:
    free(abs);
    free(here);
    free(pc);
    return out;
}

/* Whether rel is plain: no empty, "." or ".." segment, not absolute, and
 * shallow enough for components() to keep whole. */
static int rel_plain(const char *rel)
{
    size_t depth = 0;
    for (const char *seg = rel;; depth++) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.') ||
            depth > 256)
            return 0;
        if (!end)
            return 1;
        seg = end + 1;
    }
}

char *dr_sync_display_prefix(const char *dir, const char *cwd)
{
    enum { MAXC = 256 };
    char *abs = dir[0] == '/' ? strdup(dir) : dr_strprintf("%s/%s", cwd, dir);
    char *here = strdup(cwd), *out = NULL;
    char **rc = malloc(2 * MAXC * sizeof *rc), **cc = rc ? rc + MAXC : NULL;
    struct dr_buf b;
    dr_buf_init(&b, 0);
    if (!abs || !here || !rc)
        goto out;
    size_t nr = components(abs, rc, MAXC), nc = components(here, cc, MAXC), common = 0;
    while (common < nr && common < nc && strcmp(rc[common], cc[common]) == 0)
        common++;
    /* cwd at or below dir: where a path shows depends on the path (dir full
     * of components or cwd too deep to be sure, too) */
    if (common == nr || nr >= MAXC || nc >= MAXC)
        goto out;
    for (size_t k = common; k < nc; k++)
        dr_buf_puts(&b, "../");
    for (size_t k = common; k < nr; k++) {
        dr_buf_puts(&b, rc[k]);
        dr_buf_puts(&b, "/");
    }
    if (!b.overflowed && !b.out_of_mem)
        out = dr_buf_take(&b, NULL);
out:
    dr_buf_free(&b);
    free(abs);
    free(here);
    free(rc);
    return out;
}

/* ---- execution ---------------------------------------------------------------- */

/* One side of a sync: a local folder or an S3 prefix. */
struct location {
    char *bucket; /* NULL: local */
    char *prefix; /* S3: "" or ending in '/' */
    char *dir;    /* local folder, no trailing '/' (except "/") */
    char *shown;  /* local: dr_sync_display_prefix of dir, or NULL */
};

static void location_free(struct location *l)
{
    free(l->bucket);
    free(l->prefix);
    free(l->dir);
    free(l->shown);
}

static int location_parse(const char *spec, struct location *l)
{
    memset(l, 0, sizeof *l);
    if (strncmp(spec, "s3://", 5) == 0) {
        struct dr_s3_url u;
        if (dr_s3_url_parse(spec, &u) != 0)
            return -1;
        size_t n = strlen(u.key);
        l->bucket = u.bucket;
        l->prefix = n == 0 || u.key[n - 1] == '/' ? strdup(u.key) : dr_strprintf("%s/", u.key);
        free(u.key);
        return l->prefix ? 0 : -1;
    }
    if (strncmp(spec, "file://", 7) == 0)
        spec += 7;
    size_t n = strlen(spec);
    if (n == 0)
        return -1;
    while (n > 1 && spec[n - 1] == '/')
        n--;
    l->dir = dr_strprintf("%.*s", (int)n, spec);
    return l->dir ? 0 : -1;
}

struct run {
    struct dr_aws_client *c;
    const struct dr_sync_opts *o;
    struct location src, dst;
    struct dr_sync_list *sl, *dl;
    struct dr_sync_plan *plan;
    char cwd[PATH_MAX];
    pthread_mutex_t lock;
    struct dr_sync_stats st;
    struct dr_aws_error first;
    struct dr_progress *progress; /* NULL: none (not asked, not a terminal) */
    int group_open;               /* the GitHub Actions group of o->group is open */
    struct timespec start;        /* for the summary's time */
    int out_live;                 /* o->out is a terminal: each line shows at once */
    struct timespec flushed;      /* when o->out was last flushed */
};

/* Per-file lines are flushed at once on a terminal; into a pipe or a file,
 * at most every 100 ms (a CI log still follows a slow sync) and at the end:
 * a write per line was 12% of a 10,000-file sync's time read through a
 * pipe. Locked. */
#define FLUSH_EVERY_NS 100000000L

static void flush_lines(struct run *r, int now)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long since =
        (long long)(t.tv_sec - r->flushed.tv_sec) * 1000000000LL + (t.tv_nsec - r->flushed.tv_nsec);
    if (now || r->out_live || since >= FLUSH_EVERY_NS) {
        fflush(r->o->out);
        r->flushed = t;
    }
}

/* How `rel` on side `l` appears in output lines. Caller frees. */
static char *display(const struct run *r, const struct location *l, const char *rel)
{
    if (l->bucket)
        return dr_strprintf("s3://%s/%s%s", l->bucket, l->prefix, rel);
    if (l->shown && rel_plain(rel)) /* the walk's paths, most keys: no normalising to do */
        return dr_strprintf("%s%s", l->shown, rel);
    char *joined = dr_strprintf("%s/%s", l->dir, rel);
    char *shown = joined ? dr_sync_display_path(joined, r->cwd) : NULL;
    free(joined);
    return shown;
}

/* GitHub Actions' escaping of a command's text: %, CR and LF. Caller frees. */
static char *github_escape(const char *s)
{
    struct dr_buf b;
    dr_buf_init(&b, 0);
    for (; *s; s++) {
        const char *esc = *s == '%' ? "%25" : *s == '\r' ? "%0D" : *s == '\n' ? "%0A" : NULL;
        if ((esc ? dr_buf_puts(&b, esc) : dr_buf_add(&b, s, 1)) != 0) {
            dr_buf_free(&b);
            return NULL;
        }
    }
    return dr_buf_take(&b, NULL);
}

/* Opens the GitHub Actions group of o->group before the first per-file
 * line, so that a sync with nothing to do shows no empty group. Locked. */
static void group_open(struct run *r)
{
    char *title;
    if (!r->o->group || r->group_open || !(title = github_escape(r->o->group)))
        return;
    dr_mask_fprintf(r->o->out, "::group::%s\n", title);
    r->group_open = 1;
    free(title);
}

/* After the run, with o->group: the group closed and one line for the log
 * outside it ("sync a -> b: 3 uploaded, 1 deleted, 40 skipped, 1.2 MiB in 0.4s"). */
static void group_close(struct run *r)
{
    const struct dr_sync_opts *o = r->o;
    struct timespec now;
    char bytes[16], failed[32] = "", *title;
    if (!o->group || !o->out || !(title = dr_strescape(o->group)))
        return;
    if (r->group_open)
        dr_mask_fprintf(o->out, "::endgroup::\n");
    clock_gettime(CLOCK_MONOTONIC, &now);
    double took = (double)(now.tv_sec - r->start.tv_sec) + (now.tv_nsec - r->start.tv_nsec) / 1e9;
    dr_progress_format_bytes(r->st.bytes, bytes, sizeof bytes);
    if (r->st.failed)
        snprintf(failed, sizeof failed, ", %zu failed", r->st.failed);
    dr_mask_fprintf(o->out, "%s%s: %zu %s, %zu deleted, %zu skipped%s, %s in %.1fs\n",
                    o->dryrun ? "(dryrun) " : "", title, r->st.copied,
                    r->dst.bucket   ? "uploaded"
                    : r->src.bucket ? "downloaded"
                                    : "copied",
                    r->st.deleted, r->st.unchanged, failed, bytes, took);
    fflush(o->out);
    free(title);
}

/* Records the outcome of one item and prints its line. Called unlocked. */
static void report(struct run *r, const char *verb, const char *from, const char *to,
                   const struct dr_aws_error *e, long long bytes)
{
    const struct dr_sync_opts *o = r->o;
    char text[2048], *shown_text = NULL;
    /* keys are escaped: a "\n" in one must not print a line of its own */
    char *shown_from = dr_strescape(from), *shown_to = to ? dr_strescape(to) : NULL;
    if (e) {
        dr_aws_error_format(e, text, sizeof text);
        shown_text = dr_strescape(text);
    }
    pthread_mutex_lock(&r->lock);
    dr_progress_pause(r->progress); /* the line below must not land inside it */
    if (e) {
        if (!r->st.failed)
            r->first = *e;
        r->st.failed++;
        if (o->out)
            flush_lines(r, 1); /* the lines before it come first, in a log of both streams */
        if (o->errout)
            dr_mask_fprintf(o->errout, "error: %s\n", shown_text ? shown_text : "out of memory");
    } else {
        if (strcmp(verb, "delete") == 0)
            r->st.deleted++;
        else
            r->st.copied++;
        r->st.bytes += bytes;
        if (o->out) {
            group_open(r);
            dr_mask_fprintf(o->out, "%s%s: %s%s%s\n", o->dryrun ? "(dryrun) " : "", verb,
                            shown_from ? shown_from : "?", to ? " to " : "",
                            shown_to ? shown_to
                            : to     ? "?"
                                     : "");
            flush_lines(r, 0);
        }
    }
    dr_progress_resume(r->progress);
    if (strcmp(verb, "delete") != 0)
        dr_progress_file_done(r->progress);
    pthread_mutex_unlock(&r->lock);
    free(shown_from);
    free(shown_to);
    free(shown_text);
}

int dr_sync_copy_file(const char *from, const char *to)
{
    char *tmp = dr_strprintf("%s.dbtrun-XXXXXX", to), buf[64 << 10];
    int in = -1, out = -1, rc = -1, saved = 0;
    struct stat st;
    if (!tmp)
        return -1;
    if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1 || fstat(in, &st) == -1 ||
        (out = mkstemp(tmp)) == -1) {
        free(tmp);
        tmp = NULL;
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == -1 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w == -1 && errno == EINTR)
                continue;
            if (w < 0)
                goto out;
            off += w;
        }
    }
    struct timespec times[2] = {{.tv_nsec = UTIME_NOW}, st.st_mtim};
    if (fchmod(out, st.st_mode & 0777) == -1 || futimens(out, times) == -1)
        goto out;
    if (close(out) == -1) {
        out = -1;
        goto out;
    }
    out = -1;
    if (rename(tmp, to) == -1)
        goto out;
    rc = 0;
out:
    saved = errno;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    errno = saved;
    return rc;
}

/* Makes the folders above key path `rel` inside the destination, one
 * component at a time, after checking each: an existing component that is a
 * symbolic link (or not a folder) refuses the key before anything is
 * created, so nothing is ever made or written outside the destination. */
static int prepare_parent(struct run *r, const char *rel, const char *target,
                          struct dr_aws_error *e)
{
    char *path = dr_strprintf("%s/%s", r->dst.dir, rel), *seg;
    struct stat st;
    int rc = -1;
    if (!path)
        return dr_aws_fail(e, "Download", target, "InternalError", "out of memory");
    for (seg = path + strlen(r->dst.dir) + 1; (seg = strchr(seg, '/')); *seg++ = '/') {
        *seg = '\0';
        if (lstat(path, &st) != 0 &&
            (errno != ENOENT || (mkdir(path, 0777) != 0 && errno != EEXIST) ||
             lstat(path, &st) != 0)) {
            dr_aws_fail(e, "Download", target, "LocalError", "cannot create %s: %s", path,
                        strerror(errno));
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            dr_aws_fail(e, "Download", target, "UnsafeKey",
                        "refusing to write through %s: it is a symbolic link, which could lead "
                        "outside %s",
                        path, r->dst.dir);
            goto out;
        }
        if (!S_ISDIR(st.st_mode)) {
            dr_aws_fail(e, "Download", target, "LocalError",
                        "cannot create %s: a file is in the way", path);
            goto out;
        }
    }
    rc = 0;
out:
    free(path);
    return rc;
}

static int copy_one(struct run *r, const struct dr_sync_item *it)
{
    struct dr_aws_error e = {0};
    char *from = display(r, &r->src, it->path), *to = display(r, &r->dst, it->path);
    char *key = NULL, *srcpath = NULL, *dstpath = NULL;
    const char *verb = r->src.bucket ? "download" : r->dst.bucket ? "upload" : "copy";
    int failed = 1;
    if (!from || !to) {
        dr_aws_fail(&e, "Copy", it->path, "InternalError", "out of memory");
        goto out;
    }
    const char *problem = r->dst.dir ? dr_s3_local_name_problem(it->path) : NULL;
    if (problem) {
        dr_aws_fail(&e, "Download", from, "UnsupportedKey", "cannot save it as a file: %s",
                    problem);
        goto out;
    }
    if (r->dst.dir && dr_s3_local_path(r->dst.dir, it->path, &dstpath) != 0) {
        dr_aws_fail(&e, "Download", from, "UnsafeKey",
                    "refusing to write outside %s: the key is absolute or has a \"..\" segment",
                    r->dst.dir);
        goto out;
    }
    if (r->o->dryrun) {
        failed = 0;
        goto out;
    }
    if (r->src.dir && !(srcpath = dr_strprintf("%s/%s", r->src.dir, it->path)))
        goto oom;
    if (r->dst.dir && prepare_parent(r, it->path, from, &e) != 0)
        goto out;
    if (r->dst.bucket) {
        /* parts of one big file: the put's own default (8) unless fewer
         * transfers were asked for; more only crowd the connection */
        struct dr_s3_put_opts po = {.jobs = r->o->jobs > 0 && r->o->jobs < 8 ? r->o->jobs : 0,
                                    .progress = r->progress};
        if (!(key = dr_strprintf("%s%s", r->dst.prefix, it->path)))
            goto oom;
        failed = dr_s3_put(r->c, r->dst.bucket, key, srcpath, &po, NULL, &e) != 0;
    } else if (r->src.bucket) {
        if (!(key = dr_strprintf("%s%s", r->src.prefix, it->path)))
            goto oom;
        struct dr_s3_get_opts go = {
            .progress = r->progress, .size = it->size, .sized = 1}; /* big ones come in ranges */
        failed = dr_s3_get(r->c, r->src.bucket, key, dstpath, &go, NULL, &e) != 0;
    } else {
        failed = dr_sync_copy_file(srcpath, dstpath) != 0;
        if (failed)
            dr_aws_fail(&e, "Copy", to, "LocalError", "%s", strerror(errno));
    }
    goto out;
oom:
    dr_aws_fail(&e, "Copy", it->path, "InternalError", "out of memory");
out:
    report(r, verb, from ? from : it->path, to ? to : it->path, failed ? &e : NULL, it->size);
    free(from);
    free(to);
    free(key);
    free(srcpath);
    free(dstpath);
    return 0;
}

static int copy_job(void *ctx, size_t i)
{
    struct run *r = ctx;
    return copy_one(r, &r->sl->items[r->plan->ops[i].index]);
}

/* Deletes plan ops [first, n) from the destination. */
static void delete_all(struct run *r, size_t first)
{
    size_t n = r->plan->n - first;
    const char **keys = NULL;
    if (n == 0)
        return;
    if (r->dst.bucket && !r->o->dryrun) {
        if (!(keys = calloc(n, sizeof *keys)))
            return;
        for (size_t k = 0; k < n; k++)
            keys[k] = dr_strprintf("%s%s", r->dst.prefix,
                                   r->dl->items[r->plan->ops[first + k].index].path);
    }
    for (size_t done = 0; done < n;) {
        size_t batch = n - done < DR_S3_DELETE_BATCH ? n - done : DR_S3_DELETE_BATCH, ok = batch;
        struct dr_aws_error e = {0};
        int failed = 0;
        if (keys) {
            for (size_t k = done; k < done + batch; k++)
                if (!keys[k])
                    failed = dr_aws_fail(&e, "DeleteObjects", r->dst.bucket, "InternalError",
                                         "out of memory");
            if (!failed && dr_s3_delete_many(r->c, r->dst.bucket, keys + done, batch, &ok, &e) != 0)
                failed = 1;
        }
        for (size_t k = done; k < done + batch; k++) {
            const char *rel = r->dl->items[r->plan->ops[first + k].index].path;
            char *shown = display(r, &r->dst, rel);
            struct dr_aws_error le = {0}, *pe = failed ? &e : NULL;
            if (!keys && !r->o->dryrun) {
                char *path = dr_strprintf("%s/%s", r->dst.dir, rel);
                if (!path || (unlink(path) != 0 && errno != ENOENT)) {
                    dr_aws_fail(&le, "Delete", shown ? shown : rel, "LocalError", "%s",
                                strerror(path ? errno : ENOMEM));
                    pe = &le;
                }
                free(path);
            }
            report(r, "delete", shown ? shown : rel, NULL, pe, 0);
            free(shown);
        }
        done += batch;
    }
    if (keys)
        for (size_t k = 0; k < n; k++)
            free((char *)keys[k]);
    free(keys);
}

/* Parses both locations and loads, once and before any thread needs them,
 * libcrypto, libcurl and the credentials. 0, or -1 with err. */
static int run_prepare(struct run *r, const char *src, const char *dst, struct dr_aws_error *err)
{
    char msg[512];
    if (location_parse(src, &r->src) != 0 || location_parse(dst, &r->dst) != 0)
        return dr_aws_fail(err, "Sync", src, "InvalidArgument", "bad location: %s or %s", src, dst);
    if (r->src.bucket && r->dst.bucket)
        return dr_aws_fail(err, "Sync", src, "InvalidArgument", "S3 to S3 sync is not supported");
    int remote = r->src.bucket || r->dst.bucket;
    if (remote && !r->c)
        return dr_aws_fail(err, "Sync", src, "InvalidArgument", "no AWS client");
    if (!getcwd(r->cwd, sizeof r->cwd))
        snprintf(r->cwd, sizeof r->cwd, "/");
    if (r->src.dir)
        r->src.shown = dr_sync_display_prefix(r->src.dir, r->cwd);
    if (r->dst.dir)
        r->dst.shown = dr_sync_display_prefix(r->dst.dir, r->cwd);
    if (dr_dl_crypto(msg, sizeof msg) != 0 ||
        (remote && (dr_dl_curl(msg, sizeof msg) != 0 || !dr_aws_credentials_get(r->c, err)))) {
        if (!err->code[0])
            dr_aws_fail(err, "Sync", src, "InternalError", "%s", msg);
        return -1;
    }
    return 0;
}

/* Lists one side into l; `name` is the side as the user wrote it, for errors.
 * 0, or -1 with err. */
static int list_side(struct run *r, const struct location *side, int flags, const char *name,
                     struct dr_sync_list *l, struct dr_aws_error *err)
{
    char msg[512];
    if (side->bucket)
        return dr_sync_list_s3(r->c, side->bucket, side->prefix, l, err) != 0 ? -1 : 0;
    if (dr_sync_list_local(side->dir, flags, l, msg, sizeof msg) != 0)
        return dr_aws_fail(err, "Sync", name, "LocalError", "%s", msg);
    return 0;
}

/* Copies first (the plan lists them first; they run in parallel), then
 * deletes, then erases the progress line (drawn only on a terminal). */
static void run_apply(struct run *r)
{
    const struct dr_sync_plan *plan = r->plan;
    size_t ncopies = 0;
    while (ncopies < plan->n && plan->ops[ncopies].kind == DR_SYNC_COPY)
        ncopies++;
    r->st.unchanged = plan->unchanged;
    r->st.excluded = plan->excluded;
    if (r->o->progress && !r->o->dryrun && ncopies > 0 && (r->progress = dr_progress_new(2)))
        dr_progress_set_total(r->progress, plan->bytes, ncopies);
    if (r->o->out) {
        r->out_live = isatty(fileno(r->o->out));
        clock_gettime(CLOCK_MONOTONIC, &r->flushed);
    }
    dr_s3_parallel(ncopies, r->o->jobs > 0 ? r->o->jobs : DR_SYNC_JOBS, copy_job, r);
    dr_progress_end(r->progress);
    r->progress = NULL;
    delete_all(r, ncopies);
    group_close(r);
    if (r->o->out)
        fflush(r->o->out);
}

int dr_sync_run(struct dr_aws_client *c, const char *src, const char *dst,
                const struct dr_sync_opts *o, struct dr_sync_stats *stats, struct dr_aws_error *err)
{
    struct dr_sync_list sl = {0}, dl = {0};
    struct dr_sync_plan plan = {0};
    struct run r = {.c = c, .o = o, .sl = &sl, .dl = &dl, .plan = &plan};
    char msg[512];
    int rc = -1, lock_ready = 0;
    if (stats)
        memset(stats, 0, sizeof *stats);
    clock_gettime(CLOCK_MONOTONIC, &r.start);
    if (run_prepare(&r, src, dst, err) != 0 || list_side(&r, &r.src, 0, src, &sl, err) != 0)
        goto out;
    /* cp --recursive copies everything and deletes nothing: no need to look */
    if (!(o->force && !o->delete_extra) &&
        list_side(&r, &r.dst, DR_SYNC_MISSING_OK | DR_SYNC_DESTINATION, dst, &dl, err) != 0)
        goto out;
    if (dr_sync_plan_make(&sl, &dl, o, &plan, msg, sizeof msg) != 0) {
        dr_aws_fail(err, "Sync", src, "InternalError", "%s", msg);
        goto out;
    }
    if (r.dst.dir && !o->dryrun && plan.n > 0 && dr_fs_mkdir_p(r.dst.dir, 0777) != 0) {
        dr_aws_fail(err, "Sync", dst, "LocalError", "cannot create %s: %s", r.dst.dir,
                    strerror(errno));
        goto out;
    }
    if (pthread_mutex_init(&r.lock, NULL) != 0) {
        dr_aws_fail(err, "Sync", src, "InternalError", "cannot create a lock");
        goto out;
    }
    lock_ready = 1;
    run_apply(&r);
    if (stats)
        *stats = r.st;
    if (r.st.failed) {
        *err = r.first;
        goto out;
    }
    rc = 0;
out:
    if (lock_ready)
        pthread_mutex_destroy(&r.lock);
    dr_sync_plan_free(&plan);
    dr_sync_list_free(&sl);
    dr_sync_list_free(&dl);
    location_free(&r.src);
    location_free(&r.dst);
    return rc;
}
