/* aws_s3: `dbtrun aws s3 ...` — argument parsing, aws-CLI-shaped output and
 * exit codes over the core in s3.h/sync.h. No AWS logic lives here: every
 * request is made by a dr_s3_* or dr_sync_* function. */
#include "aws_s3.h"
#include "dbtrun/buf.h"
#include "dbtrun/filter.h"
#include "dbtrun/fs.h"
#include "dbtrun/s3.h"
#include "dbtrun/sync.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: dbtrun aws s3 cp SRC DST [--recursive] [--exclude GLOB]... [--include GLOB]...\n"
    "                        [--dryrun] [--quiet] [--no-progress] [--content-type TYPE]\n"
    "                        [--jobs N]\n"
    "       dbtrun aws s3 sync SRC DST [--delete] [--exclude GLOB]... [--include GLOB]...\n"
    "                        [--dryrun] [--size-only] [--quiet] [--no-progress] [--jobs N]\n"
    "       dbtrun aws s3 ls [s3://BUCKET[/PREFIX]] [--recursive]\n"
    "       dbtrun aws s3 rm s3://BUCKET/KEY [--recursive] [--exclude GLOB]... [--include "
    "GLOB]...\n"
    "                        [--dryrun] [--quiet]\n"
    "       dbtrun aws s3 presign s3://BUCKET/KEY [--expires-in SECONDS]\n"
    "  SRC/DST: s3://bucket/key, file://path or a local path\n";

struct args {
    const char *pos[3];
    int npos;
    int recursive, delete_extra, dryrun, quiet, size_only, no_progress;
    const char *content_type;
    long expires_in;
    int jobs;
    struct dr_filter filter;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", usage);
    va_end(ap);
    return 2;
}

static void print_error(const struct dr_aws_error *e)
{
    char text[2048];
    dr_aws_error_format(e, text, sizeof text);
    char *shown = dr_strescape(text); /* a key's "\n" must not start a line */
    fprintf(stderr, "error: %s\n", shown ? shown : text);
    free(shown);
}

/* Prints one stdout line made from printf arguments, escaped as a whole
 * (dr_buf_escape): keys come from the bucket and a "\n" or "\r" in one
 * must not forge a line of its own. */
static void print_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void print_line(const char *fmt, ...)
{
    struct dr_buf b;
    va_list ap;
    char *line = NULL;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (line = malloc((size_t)n + 1))) {
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    dr_buf_init(&b, 0);
    if (line && dr_buf_escape(&b, line, (size_t)n) == 0)
        printf("%s\n", b.data ? b.data : "");
    else
        fprintf(stderr, "error: out of memory\n");
    dr_buf_free(&b);
    free(line);
}

/* The value of option argv[*i] ("--x=v" or "--x v"), or NULL when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Parses argv[1..] (argv[0] is the subcommand). 0, or 2 after a message. */
static int parse(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->expires_in = 3600;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (strcmp(arg, "--recursive") == 0 || strcmp(arg, "-r") == 0) {
            a->recursive = 1;
        } else if (strcmp(arg, "--delete") == 0) {
            a->delete_extra = 1;
        } else if (strcmp(arg, "--dryrun") == 0 || strcmp(arg, "--dry-run") == 0) {
            a->dryrun = 1;
        } else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "--only-show-errors") == 0) {
            a->quiet = 1;
        } else if (strcmp(arg, "--size-only") == 0) {
            a->size_only = 1;
        } else if (strcmp(arg, "--no-progress") == 0) {
            a->no_progress = 1;
        } else if (is_option(arg, "--exclude") || is_option(arg, "--include")) {
            int include = arg[2] == 'i';
            if (!(v = option_value(argc, argv, &i, include ? "--include" : "--exclude")))
                return usage_error("%s needs a pattern", arg);
            if (dr_filter_add(&a->filter, include, v) != 0)
                return usage_error("bad pattern: \"%s\"", v);
        } else if (is_option(arg, "--content-type")) {
            if (!(a->content_type = option_value(argc, argv, &i, "--content-type")))
                return usage_error("%s needs a value", arg);
        } else if (is_option(arg, "--expires-in")) {
            char *end;
            if (!(v = option_value(argc, argv, &i, "--expires-in")))
                return usage_error("%s needs a number of seconds", arg);
            a->expires_in = strtol(v, &end, 10);
            if (*end || a->expires_in < 1 || a->expires_in > 604800)
                return usage_error("--expires-in must be 1..604800 seconds, not \"%s\"", v);
        } else if (is_option(arg, "--jobs")) {
            char *end;
            if (!(v = option_value(argc, argv, &i, "--jobs")))
                return usage_error("%s needs a number", arg);
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > DR_SYNC_JOBS_MAX)
                return usage_error("--jobs must be 1..256, not \"%s\"", v);
            a->jobs = (int)n;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return usage_error("unknown option %s", arg);
        } else if (a->npos < 3) {
            a->pos[a->npos++] = arg;
        } else {
            return usage_error("unexpected argument %s", arg);
        }
    }
    return 0;
}

static int is_s3(const char *s)
{
    return strncmp(s, "s3://", 5) == 0;
}

static const char *local_of(const char *s)
{
    return strncmp(s, "file://", 7) == 0 ? s + 7 : s;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* a then b, no separator added. Caller frees; NULL when out of memory. */
static char *concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", a, b);
    return p;
}

static char *shown_local(const char *path)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, "/");
    return dr_sync_display_path(path, cwd);
}

static int want_progress(const struct args *a)
{
    return !a->quiet && !a->no_progress && !a->dryrun && isatty(2);
}

/* The progress line of one cp transfer (NULL: none); an upload's total is
 * the file's size. */
static struct dr_progress *cp_progress(const struct args *a, const char *upload)
{
    struct stat st;
    struct dr_progress *p = want_progress(a) ? dr_progress_new(2) : NULL;
    if (p && upload && stat(upload, &st) == 0)
        dr_progress_set_total(p, (long long)st.st_size, 0);
    return p;
}

/* cp of a local file to S3 (u: the destination). 0, or 1 with the error printed. */
static int cp_upload(struct dr_aws_client *c, const struct args *a, const struct dr_s3_url *u,
                     const char *src)
{
    struct dr_aws_error e = {0};
    const char *from = local_of(src);
    size_t kn = strlen(u->key);
    char *key = kn == 0 || u->key[kn - 1] == '/' ? concat(u->key, base_name(from)) : strdup(u->key);
    char *shown = shown_local(from);
    int rc = 1;
    if (!key || !shown) {
        dr_aws_fail(&e, "cp", src, "InternalError", "out of memory");
        goto fail;
    }
    if (!a->dryrun) {
        struct dr_s3_put_opts po = {
            .content_type = a->content_type, .jobs = a->jobs, .progress = cp_progress(a, from)};
        int failed = dr_s3_put(c, u->bucket, key, from, &po, NULL, &e) != 0;
        dr_progress_end(po.progress);
        if (failed)
            goto fail;
    }
    if (!a->quiet)
        print_line("%supload: %s to s3://%s/%s", a->dryrun ? "(dryrun) " : "", shown, u->bucket,
                   key);
    rc = 0;
    goto out;
fail:
    print_error(&e);
out:
    free(key);
    free(shown);
    return rc;
}

/* Where a download of u's key to `to` goes: `to` itself, or the key's last
 * part inside `to` when that is a folder (and the part can be a file name
 * there). 0 with *path (caller frees), or -1 with e. */
static int download_path(const char *src, const char *to, const struct dr_s3_url *u, char **path,
                         struct dr_aws_error *e)
{
    struct stat st;
    const char *name = base_name(u->key);
    *path = NULL;
    if (to[strlen(to) - 1] == '/' || (stat(to, &st) == 0 && S_ISDIR(st.st_mode))) {
        const char *problem = dr_s3_local_name_problem(name);
        if (problem)
            return dr_aws_fail(e, "GetObject", src, "UnsupportedKey",
                               "cannot save it as a file in %s: %s", to, problem);
        if (dr_s3_local_path(to, name, path) != 0)
            return dr_aws_fail(e, "GetObject", src, "UnsafeKey", "refusing to write \"%s\" in %s",
                               name, to);
        return 0;
    }
    *path = strdup(to);
    return *path ? 0 : dr_aws_fail(e, "cp", src, "InternalError", "out of memory");
}

/* The folder `path` goes in, created if missing (a failure shows when the
 * file is written). */
static void make_parent(const char *path)
{
    char *parent = strdup(path), *slash = parent ? strrchr(parent, '/') : NULL;
    if (slash && slash != parent) {
        *slash = '\0';
        dr_fs_mkdir_p(parent, 0777);
    }
    free(parent);
}

/* cp of an S3 object (u: the source) to a local file or folder. 0, 2 for a
 * usage error, or 1 with the error printed. */
static int cp_download(struct dr_aws_client *c, const struct args *a, const struct dr_s3_url *u,
                       const char *src, const char *dst)
{
    struct dr_aws_error e = {0};
    const char *to = local_of(dst);
    char *path = NULL, *shown = NULL;
    int rc = 1;
    if (!*to || !*u->key || u->key[strlen(u->key) - 1] == '/')
        return usage_error("cp needs an object key, not %s", src);
    if (download_path(src, to, u, &path, &e) != 0)
        goto fail;
    if (!(shown = shown_local(path))) {
        dr_aws_fail(&e, "cp", src, "InternalError", "out of memory");
        goto fail;
    }
    if (!a->dryrun) {
        struct dr_s3_get_opts go = {.if_none_match = DR_S3_ETAG_AUTO,
                                    .progress = cp_progress(a, NULL)};
        make_parent(path);
        int failed = dr_s3_get(c, u->bucket, u->key, path, &go, NULL, &e) != 0;
        dr_progress_end(go.progress);
        if (failed)
            goto fail;
    }
    if (!a->quiet)
        print_line("%sdownload: s3://%s/%s to %s", a->dryrun ? "(dryrun) " : "", u->bucket, u->key,
                   shown);
    rc = 0;
    goto out;
fail:
    print_error(&e);
out:
    free(path);
    free(shown);
    return rc;
}

/* cp of one object, either way. */
static int cp_one(struct dr_aws_client *c, const struct args *a, const char *src, const char *dst)
{
    struct dr_s3_url u = {0};
    if (is_s3(src) == is_s3(dst)) {
        fprintf(stderr, "error: cp needs one s3:// and one local side (S3 to S3 and local to "
                        "local copies are not supported)\n");
        return 2;
    }
    if (dr_s3_url_parse(is_s3(src) ? src : dst, &u) != 0)
        return usage_error("bad S3 URL: %s", is_s3(src) ? src : dst);
    int rc = is_s3(src) ? cp_download(c, a, &u, src, dst) : cp_upload(c, a, &u, src);
    dr_s3_url_free(&u);
    return rc;
}

/* sync, and cp --recursive (a sync that copies everything, deletes nothing).
 * On GitHub Actions the per-file lines fold into a group with a summary. */
static int run_sync(struct dr_aws_client *c, struct args *a, int force)
{
    const char *actions = getenv("GITHUB_ACTIONS");
    int github = actions && strcmp(actions, "true") == 0 && !a->quiet;
    char *title =
        github ? dr_strprintf("%s %s -> %s", force ? "cp" : "sync", a->pos[0], a->pos[1]) : NULL;
    struct dr_sync_opts o = {.filter = &a->filter,
                             .delete_extra = force ? 0 : a->delete_extra,
                             .size_only = a->size_only,
                             .force = force,
                             .dryrun = a->dryrun,
                             .jobs = a->jobs,
                             .progress = want_progress(a),
                             .out = a->quiet ? NULL : stdout,
                             .group = title,
                             .errout = stderr};
    struct dr_sync_stats st;
    struct dr_aws_error e = {0};
    int rc = 0;
    if (!is_s3(a->pos[0]) && !is_s3(a->pos[1])) {
        rc = usage_error("%s needs an s3:// side", force ? "cp --recursive" : "sync");
    } else if (dr_sync_run(c, a->pos[0], a->pos[1], &o, &st, &e) != 0) {
        if (st.failed == 0) /* per-item failures were printed as they happened */
            print_error(&e);
        rc = 1;
    }
    free(title);
    return rc;
}

static void local_time(time_t t, char *out, size_t len)
{
    struct tm tm;
    localtime_r(&t, &tm); /* the aws CLI shows local time */
    strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

struct ls_state {
    int recursive;
    size_t count;
};

static int ls_print(void *ctx, const struct dr_s3_object *obj, const char *prefix)
{
    struct ls_state *ls = ctx;
    ls->count++;
    if (!obj) {
        /* "PRE" right-aligned in 30 columns, then the last folder name */
        size_t n = strlen(prefix);
        const char *end = prefix + (n && prefix[n - 1] == '/' ? n - 1 : n), *start = end;
        while (start > prefix && start[-1] != '/')
            start--;
        print_line("%27sPRE %.*s/", "", (int)(end - start), start);
        return 0;
    }
    char when[32];
    local_time(obj->last_modified, when, sizeof when);
    print_line("%s %10lld %s", when, obj->size, ls->recursive ? obj->key : base_name(obj->key));
    return 0;
}

static int bucket_print(void *ctx, const char *name, time_t created)
{
    char when[32];
    (void)ctx;
    local_time(created, when, sizeof when);
    printf("%s %s\n", when, name);
    return 0;
}

static int cmd_ls(struct dr_aws_client *c, struct args *a)
{
    struct dr_s3_url u;
    struct dr_aws_error e = {0};
    struct ls_state ls = {.recursive = a->recursive};
    if (a->npos == 0 || (a->npos == 1 && strcmp(a->pos[0], "s3://") == 0)) {
        if (dr_s3_list_buckets(c, bucket_print, NULL, &e) != 0) {
            print_error(&e);
            return 1;
        }
        return 0;
    }
    if (a->npos != 1 || dr_s3_url_parse(a->pos[0], &u) != 0)
        return usage_error("%s", "ls needs s3://BUCKET[/PREFIX]");
    int rc = dr_s3_list(c, u.bucket, u.key, a->recursive ? NULL : "/", ls_print, &ls, &e);
    int has_key = *u.key != '\0';
    dr_s3_url_free(&u);
    if (rc != 0) {
        print_error(&e);
        return 1;
    }
    fflush(stdout);
    return has_key && ls.count == 0 ? 1 : 0; /* as the aws CLI: nothing under a prefix */
}

/* rm of one key. 0, or 1 with the error printed. */
static int rm_one(struct dr_aws_client *c, const struct args *a, const struct dr_s3_url *u)
{
    struct dr_aws_error e = {0};
    if (!a->dryrun && dr_s3_delete(c, u->bucket, u->key, &e) != 0) {
        print_error(&e);
        return 1;
    }
    if (!a->quiet)
        print_line("%sdelete: s3://%s/%s", a->dryrun ? "(dryrun) " : "", u->bucket, u->key);
    return 0;
}

/* Deletes keys[0..n) in S3's batches, printing each key deleted. 0, or 1
 * with the error printed at the first batch that fails. */
static int rm_batches(struct dr_aws_client *c, const struct args *a, const char *bucket,
                      const char **keys, size_t n)
{
    struct dr_aws_error e = {0};
    for (size_t done = 0; done < n;) {
        size_t batch = n - done < DR_S3_DELETE_BATCH ? n - done : DR_S3_DELETE_BATCH, ok = batch;
        int failed = !a->dryrun && dr_s3_delete_many(c, bucket, keys + done, batch, &ok, &e) != 0;
        if (failed) {
            print_error(&e);
            return 1;
        }
        for (size_t i = done; i < done + ok && !a->quiet; i++)
            print_line("%sdelete: s3://%s/%s", a->dryrun ? "(dryrun) " : "", bucket, keys[i]);
        done += batch;
    }
    return 0;
}

/* rm --recursive: the "folder" s3://b/logs removes logs/..., not logs2.
 * 0, or 1 with the error printed. */
static int rm_recursive(struct dr_aws_client *c, const struct args *a, const struct dr_s3_url *u)
{
    struct dr_aws_error e = {0};
    struct dr_sync_list l = {0};
    const char **keys = NULL;
    size_t n = 0, kn = strlen(u->key);
    int rc = 1;
    char *prefix = kn == 0 || u->key[kn - 1] == '/' ? strdup(u->key) : concat(u->key, "/");
    if (!prefix || dr_sync_list_s3(c, u->bucket, prefix, &l, &e) != 0) {
        if (!prefix)
            dr_aws_fail(&e, "rm", a->pos[0], "InternalError", "out of memory");
        print_error(&e);
        goto out;
    }
    if (l.n && !(keys = calloc(l.n, sizeof *keys)))
        goto out;
    for (size_t i = 0; i < l.n; i++)
        if (dr_filter_match(&a->filter, l.items[i].path) &&
            !(keys[n++] = concat(prefix, l.items[i].path)))
            goto out;
    rc = rm_batches(c, a, u->bucket, keys, n);
out:
    for (size_t i = 0; keys && i < n; i++)
        free((char *)keys[i]);
    free(keys);
    free(prefix);
    dr_sync_list_free(&l);
    return rc;
}

static int cmd_rm(struct dr_aws_client *c, struct args *a)
{
    struct dr_s3_url u;
    if (a->npos != 1 || dr_s3_url_parse(a->pos[0], &u) != 0)
        return usage_error("%s", "rm needs s3://BUCKET/KEY");
    if (!a->recursive && !*u.key) {
        dr_s3_url_free(&u);
        return usage_error("%s", "rm needs a key (or --recursive)");
    }
    int rc = a->recursive ? rm_recursive(c, a, &u) : rm_one(c, a, &u);
    dr_s3_url_free(&u);
    return rc;
}

static int cmd_presign(struct dr_aws_client *c, struct args *a)
{
    struct dr_s3_url u;
    struct dr_aws_error e = {0};
    char *url = NULL;
    if (a->npos != 1 || dr_s3_url_parse(a->pos[0], &u) != 0 || !*u.key) {
        if (a->npos == 1)
            dr_s3_url_free(&u);
        return usage_error("%s", "presign needs s3://BUCKET/KEY");
    }
    int rc = dr_s3_presign(c, u.bucket, u.key, (unsigned)a->expires_in, &url, &e);
    dr_s3_url_free(&u);
    if (rc != 0) {
        print_error(&e);
        return 1;
    }
    printf("%s\n", url);
    free(url);
    return 0;
}

int dr_aws_s3_cmd(struct dr_aws_client *c, int argc, char **argv)
{
    struct args a;
    int rc;
    if (argc < 1 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0 ||
        strcmp(argv[0], "help") == 0) {
        fputs(usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if ((rc = parse(argc, argv, &a)) != 0)
        goto out;
    const char *cmd = argv[0];
    if (strcmp(cmd, "cp") == 0) {
        if (a.npos != 2)
            rc = usage_error("%s", "cp needs SRC and DST");
        else if (a.recursive)
            rc = run_sync(c, &a, 1);
        else
            rc = cp_one(c, &a, a.pos[0], a.pos[1]);
    } else if (strcmp(cmd, "sync") == 0) {
        rc = a.npos == 2 ? run_sync(c, &a, 0) : usage_error("%s", "sync needs SRC and DST");
    } else if (strcmp(cmd, "ls") == 0) {
        rc = cmd_ls(c, &a);
    } else if (strcmp(cmd, "rm") == 0) {
        rc = cmd_rm(c, &a);
    } else if (strcmp(cmd, "presign") == 0) {
        rc = cmd_presign(c, &a);
    } else {
        rc = usage_error("unknown command \"s3 %s\"", cmd);
    }
out:
    fflush(stdout);
    dr_filter_free(&a.filter);
    return rc;
}
