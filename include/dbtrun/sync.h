/* sync: `aws s3 sync` between a local folder and an S3 prefix, either way
 * (and folder to folder, for file:// stores). Listing, the pure planning
 * step (what to copy, what to delete, what is unchanged) and the parallel
 * execution are separate so the plan can be tested without a network. */
#ifndef DR_SYNC_H
#define DR_SYNC_H

#include "dbtrun/aws.h"
#include "dbtrun/filter.h"

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define DR_SYNC_ITEMS_MAX 10000000 /* cap on one side's listing */
#define DR_SYNC_JOBS 16            /* transfers at once by default */
#define DR_SYNC_JOBS_MAX 256

/* A file or object of a listing. */
struct dr_sync_item {
    char *path; /* relative to the folder or prefix, '/'-separated; owned */
    long long size;
    time_t mtime;     /* the file's mtime, or the object's LastModified */
    char *etag;       /* objects: ETag without quotes; NULL for files; owned */
    char md5[33];     /* files: MD5 hex, computed on first need ("" until then;
                         tests may fill it in advance) */
    char mp_etag[48]; /* files: the multipart ETag an upload would give, on need */
};

/* One side of a sync. Zero-initialise; free with dr_sync_list_free. */
struct dr_sync_list {
    struct dr_sync_item *items; /* owned */
    size_t n, cap;
    char *root; /* files: the folder paths are relative to (owned); NULL for S3 */
};

/* Appends an item (path and etag copied). 0, or -1 at the cap or out of memory. */
int dr_sync_list_add(struct dr_sync_list *l, const char *path, long long size, time_t mtime,
                     const char *etag);

/* Sorts by path (bytewise), as planning requires. */
void dr_sync_list_sort(struct dr_sync_list *l);

void dr_sync_list_free(struct dr_sync_list *l);

/* Flags of dr_sync_list_local. */
#define DR_SYNC_MISSING_OK 1 /* a missing root is an empty list */
/* The walk of a destination: a symbolic link to a folder is neither listed
 * nor descended, so --delete can never unlink files outside it (a link to a
 * file is listed and, when deleted, only the link goes). */
#define DR_SYNC_DESTINATION 2

/* Lists the regular files under folder `root` (symbolic links followed, as
 * the aws CLI does, except as DR_SYNC_DESTINATION says; loops refused) into
 * l, sorted. 0, or -1 with a message. */
int dr_sync_list_local(const char *root, int flags, struct dr_sync_list *l, char *err,
                       size_t errlen);

/* 1 when an object at `rel` (its key relative to the prefix) of `size`
 * bytes takes part in a sync: all but empty "folder" markers (keys ending
 * in '/', the prefix itself included), as in the aws CLI. */
int dr_sync_s3_listed(const char *rel, long long size);

/* Lists the objects under s3://bucket/prefix into l, sorted, with paths
 * relative to the prefix, as dr_sync_s3_listed picks them (a non-empty
 * object named as the prefix itself has path ""). 0, or -1 with err. */
int dr_sync_list_s3(struct dr_aws_client *c, const char *bucket, const char *prefix,
                    struct dr_sync_list *l, struct dr_aws_error *err);

enum dr_sync_kind {
    DR_SYNC_COPY,  /* src->items[index] to the destination */
    DR_SYNC_DELETE /* dst->items[index] from the destination */
};

struct dr_sync_op {
    enum dr_sync_kind kind;
    size_t index;
};

struct dr_sync_plan {
    struct dr_sync_op *ops; /* owned; copies in path order, then deletes */
    size_t n, cap;
    size_t unchanged; /* source items already at the destination (0 with force) */
    size_t excluded;  /* items on either side left alone by the filters */
    long long bytes;  /* bytes to copy */
};

struct dr_sync_opts {
    const struct dr_filter *filter; /* NULL: everything */
    int delete_extra;               /* --delete */
    int size_only;                  /* --size-only: equal sizes mean unchanged */
    int force;                      /* copy every included item (cp --recursive) */
    int dryrun;                     /* print, do nothing */
    int jobs;                       /* transfers at once; 0: DR_SYNC_JOBS */
    int progress;                   /* a progress line on stderr when it is a terminal */
    FILE *out;                      /* "upload: a to s3://b/a" lines; NULL: none */
    const char *group;              /* GitHub Actions: the lines on `out` go in a group
                                       of this title, then a one-line summary; NULL: no */
    FILE *errout;                   /* "error: ..." line per failed item; NULL: none */
};

/* Decides what turns dst into src. Both lists sorted. An item is unchanged
 * when the sizes are equal and (unless size_only) the contents match: a
 * single-part ETag against a file's MD5, two files' MD5s, a multipart ETag
 * against the one the file gives with dbtrun's part size (dr_s3_part_size) or
 * the aws CLI's (DR_S3_PART_SIZE) for that part count; failing those
 * (other part sizes, encrypted objects), the source not newer than the
 * destination. Files are hashed from root only when needed. With delete_extra,
 * destination items missing from the source are deleted unless the filters
 * exclude them. *plan freed with dr_sync_plan_free. 0, or -1 with a message
 * (out of memory). */
int dr_sync_plan_make(struct dr_sync_list *src, struct dr_sync_list *dst,
                      const struct dr_sync_opts *o, struct dr_sync_plan *plan, char *err,
                      size_t errlen);

void dr_sync_plan_free(struct dr_sync_plan *plan);

struct dr_sync_stats {
    size_t copied, deleted, unchanged, excluded, failed;
    long long bytes; /* bytes copied */
};

/* Makes `dst` like `src`. Each is "s3://bucket/prefix", "file://path" or a
 * local path; a local destination folder is created. S3 to S3 is not
 * supported. Copies run on o->jobs threads; S3 deletes go in batches.
 * Items that fail are reported on o->errout and skipped; the others still
 * run. c may be NULL when neither side is S3. stats may be NULL. 0 when
 * everything succeeded, else -1 with err (the first failure). */
int dr_sync_run(struct dr_aws_client *c, const char *src, const char *dst,
                const struct dr_sync_opts *o, struct dr_sync_stats *stats,
                struct dr_aws_error *err);

/* Copies file `from` to `to` through a temporary file renamed into place
 * (readers see the old file or the new one), keeping mode and mtime.
 * 0, or -1 with errno (the temporary file is removed). */
int dr_sync_copy_file(const char *from, const char *to);

/* The aws CLI's way of showing a local path in its output lines: relative
 * to `cwd` ("./a.txt", "target/index.html", "../x/y"), computed lexically.
 * Caller frees; NULL when out of memory. */
char *dr_sync_display_path(const char *path, const char *cwd);

/* What dr_sync_display_path shows before `rel` for every path "dir/rel"
 * whose rel has no empty, "." or ".." segment ("target/", "../x/"), so a
 * sync shows its files without normalising each path; NULL when cwd is dir
 * or below it (there the shown path depends on rel) or out of memory.
 * Caller frees. */
char *dr_sync_display_prefix(const char *dir, const char *cwd);

#endif
