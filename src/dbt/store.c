/* store: artifact locations, s3:// over s3.c and file:// over plain files,
 * with one set of semantics (atomic replace, unchanged content skipped,
 * "NoSuchKey" for a missing artifact). Folder copies go through sync.c. */
#include "dbtrun/store.h"
#include "dbtrun/fs.h"
#include "dbtrun/s3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int dr_store_is_s3(const char *location)
{
    return location && strncmp(location, "s3://", 5) == 0;
}

/* A resolved artifact: S3 bucket/key, or a local file path. All owned. */
struct artifact {
    char *bucket, *key; /* S3 */
    char *file;         /* file:// */
    char shown[512];    /* for errors: the location + name */
};

static void artifact_free(struct artifact *a)
{
    free(a->bucket);
    free(a->key);
    free(a->file);
}

static int artifact_resolve(struct dr_aws_client *c, const char *op, const char *location,
                            const char *name, struct artifact *a, struct dr_aws_error *err)
{
    char *checked = NULL;
    memset(a, 0, sizeof *a);
    if (!location || !*location)
        location = DR_STORE_DEFAULT;
    size_t n = strlen(location);
    snprintf(a->shown, sizeof a->shown, "%s%s%s", location, location[n - 1] == '/' ? "" : "/",
             name ? name : "");
    /* the name may not climb out of the location */
    if (dr_s3_local_path("x", name, &checked) != 0)
        return dr_aws_fail(err, op, a->shown, "InvalidArgument",
                           "bad artifact name \"%s\" (empty, absolute or with \"..\")",
                           name ? name : "");
    free(checked);
    if (dr_store_is_s3(location)) {
        struct dr_s3_url u;
        if (!c)
            return dr_aws_fail(err, op, a->shown, "InvalidArgument", "no AWS client");
        if (dr_s3_url_parse(a->shown, &u) != 0)
            return dr_aws_fail(err, op, a->shown, "InvalidArgument", "bad S3 location");
        a->bucket = u.bucket;
        a->key = u.key;
        return 0;
    }
    const char *dir = strncmp(location, "file://", 7) == 0 ? location + 7 : location;
    if (!*dir)
        dir = ".";
    if (dr_s3_local_path(dir, name, &a->file) != 0)
        return dr_aws_fail(err, op, a->shown, "InternalError", "out of memory");
    return 0;
}

/* Creates the folder that will hold file `path`. 0, or -1 with errno. */
static int make_parent(const char *path)
{
    char *parent = strdup(path), *slash;
    int rc = 0;
    if (!parent)
        return -1;
    if ((slash = strrchr(parent, '/')) && slash != parent) {
        *slash = '\0';
        rc = dr_fs_mkdir_p(parent, 0777);
    }
    free(parent);
    return rc;
}

/* 1 when the two local files have the same size and MD5. */
static int same_file(const char *a, const char *b, long long *size)
{
    struct stat sa, sb;
    char ha[33], hb[33];
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0 || !S_ISREG(sa.st_mode) || !S_ISREG(sb.st_mode))
        return 0;
    *size = (long long)sa.st_size;
    if (sa.st_size != sb.st_size)
        return 0;
    if (sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
        return 1;
    return dr_s3_hash_file(a, 0, -1, ha, NULL, NULL) == 0 &&
           dr_s3_hash_file(b, 0, -1, hb, NULL, NULL) == 0 && strcmp(ha, hb) == 0;
}

/* file:// get and put: copy `from` over `to` unless they are the same. */
static int local_transfer(const char *op, const struct artifact *a, const char *from,
                          const char *to, struct dr_store_result *res, struct dr_aws_error *err)
{
    struct stat st;
    if (stat(from, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return dr_aws_fail(err, op, a->shown, "NoSuchKey", "%s does not exist", from);
        return dr_aws_fail(err, op, a->shown, "LocalError", "%s: %s", from, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return dr_aws_fail(err, op, a->shown, "NoSuchKey", "%s is not a file", from);
    res->size = (long long)st.st_size;
    if (same_file(from, to, &res->size))
        return 0;
    if (make_parent(to) != 0 || dr_sync_copy_file(from, to) != 0)
        return dr_aws_fail(err, op, a->shown, "LocalError", "cannot write %s: %s", to,
                           strerror(errno));
    res->changed = 1;
    return 0;
}

int dr_store_get(struct dr_aws_client *c, const char *location, const char *name, const char *path,
                 struct dr_progress *progress, struct dr_store_result *res,
                 struct dr_aws_error *err)
{
    struct dr_store_result local = {0};
    struct artifact a;
    int rc = -1;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (artifact_resolve(c, "StoreGet", location, name, &a, err) != 0)
        goto out;
    if (make_parent(path) != 0) {
        dr_aws_fail(err, "StoreGet", a.shown, "LocalError", "cannot create the folder of %s: %s",
                    path, strerror(errno));
        goto out;
    }
    if (a.file) {
        rc = local_transfer("StoreGet", &a, a.file, path, res, err);
        goto out;
    }
    struct dr_s3_get_opts o = {.if_none_match = DR_S3_ETAG_AUTO, .progress = progress};
    struct dr_s3_info info;
    if (dr_s3_get(c, a.bucket, a.key, path, &o, &info, err) != 0)
        goto out;
    res->changed = !info.not_modified;
    res->size = info.size;
    snprintf(res->etag, sizeof res->etag, "%s", info.etag);
    rc = 0;
out:
    artifact_free(&a);
    return rc;
}

int dr_store_put(struct dr_aws_client *c, const char *location, const char *name, const char *path,
                 struct dr_progress *progress, struct dr_store_result *res,
                 struct dr_aws_error *err)
{
    struct dr_store_result local = {0};
    struct dr_aws_error head_err = {0};
    struct dr_s3_info info;
    struct artifact a;
    struct stat st;
    char etag[48];
    int rc = -1;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (artifact_resolve(c, "StorePut", location, name, &a, err) != 0)
        goto out;
    int missing = stat(path, &st) != 0;
    if (missing || !S_ISREG(st.st_mode)) {
        dr_aws_fail(err, "StorePut", a.shown, "LocalError", "cannot read %s: %s", path,
                    missing ? strerror(errno) : "not a file");
        goto out;
    }
    if (a.file) {
        rc = local_transfer("StorePut", &a, path, a.file, res, err);
        goto out;
    }
    if (dr_s3_file_etag(path, 0, etag, sizeof etag) != 0) {
        dr_aws_fail(err, "StorePut", a.shown, "LocalError", "cannot read %s: %s", path,
                    strerror(errno));
        goto out;
    }
    /* one HEAD saves re-sending an unchanged artifact; if it fails for any
     * reason (missing, not allowed), the upload decides */
    if (dr_s3_head(c, a.bucket, a.key, &info, &head_err) == 0 && strcasecmp(info.etag, etag) == 0) {
        res->size = info.size;
        snprintf(res->etag, sizeof res->etag, "%s", info.etag);
        rc = 0;
        goto out;
    }
    struct dr_s3_put_opts po = {.progress = progress};
    if (dr_s3_put(c, a.bucket, a.key, path, &po, &info, err) != 0)
        goto out;
    res->changed = 1;
    res->size = info.size;
    snprintf(res->etag, sizeof res->etag, "%s", info.etag);
    rc = 0;
out:
    artifact_free(&a);
    return rc;
}

int dr_store_sync(struct dr_aws_client *c, const char *src, const char *dst,
                  const struct dr_sync_opts *o, struct dr_sync_stats *stats,
                  struct dr_aws_error *err)
{
    struct dr_sync_opts defaults = {0};
    if (!src || !*src)
        src = DR_STORE_DEFAULT;
    if (!dst || !*dst)
        dst = DR_STORE_DEFAULT;
    return dr_sync_run(c, src, dst, o ? o : &defaults, stats, err);
}
