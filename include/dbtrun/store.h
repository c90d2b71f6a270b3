/* store: the artifact store behind store.get/put/sync — one interface over
 * `s3://bucket/prefix/` and `file://path/` locations with the same
 * semantics: atomic replacement, no transfer when the content is unchanged
 * (ETag or hash), filters and --delete for folders. The built-in tasks use it
 * so they run on a laptop with no cloud (default DR_STORE_DEFAULT). */
#ifndef DR_STORE_H
#define DR_STORE_H

#include "dbtrun/aws.h"
#include "dbtrun/progress.h"
#include "dbtrun/sync.h"

#define DR_STORE_DEFAULT "file://.dbtrun/store/"

/* 1 when `location` is s3:// (the caller must then pass an AWS client). */
int dr_store_is_s3(const char *location);

struct dr_store_result {
    int changed;    /* get: the local file was replaced; put: the stored copy was */
    long long size; /* bytes of the file */
    char etag[128]; /* S3: the object's ETag (without quotes); file://: "" */
};

/* Fetches `name` (a path below the location, no ".." segments) into local
 * `path`, whose folder is created. Unchanged content is not transferred and
 * the file is left as it is (inode, mtime): S3 sends one conditional GET
 * (If-None-Match with the recorded ETag or the file's MD5); file:// compares
 * sizes and MD5s. Otherwise the file is replaced atomically. A missing
 * object fails with code "NoSuchKey" for both kinds. c may be NULL for
 * file:// locations. res may be NULL. progress (may be NULL) is fed with an
 * S3 download's bytes. 0, or -1 with err. */
int dr_store_get(struct dr_aws_client *c, const char *location, const char *name, const char *path,
                 struct dr_progress *progress, struct dr_store_result *res,
                 struct dr_aws_error *err);

/* Stores local file `path` as `name` below the location. Unchanged content
 * is not sent: S3 compares the object's ETag (one HEAD) with the file's
 * (MD5, or the multipart form for big files); file:// compares MD5s. The
 * stored copy is replaced atomically. progress as for dr_store_get (the
 * caller sets its total). 0, or -1 with err. */
int dr_store_put(struct dr_aws_client *c, const char *location, const char *name, const char *path,
                 struct dr_progress *progress, struct dr_store_result *res,
                 struct dr_aws_error *err);

/* dr_sync_run between two locations (s3://, file:// or local paths), for
 * folders: filters, --delete, unchanged files skipped. See sync.h. */
int dr_store_sync(struct dr_aws_client *c, const char *src, const char *dst,
                  const struct dr_sync_opts *o, struct dr_sync_stats *stats,
                  struct dr_aws_error *err);

#endif
