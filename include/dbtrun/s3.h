/* s3: Amazon S3 over dr_aws_send — object get/put/head/delete, multipart
 * uploads, ListObjectsV2, DeleteObjects, presigned URLs — and the pure pieces
 * they stand on (s3:// URLs, addressing, content types, ETags, XML pages,
 * safe local paths), exposed for tests. Knows nothing of Lua or the CLI. */
#ifndef DR_S3_H
#define DR_S3_H

#include "dbtrun/aws.h"
#include "dbtrun/progress.h"

#include <stddef.h>
#include <time.h>

#define DR_S3_KEY_MAX 1024          /* S3's own limit on a key, in bytes */
#define DR_S3_PART_SIZE (8LL << 20) /* the aws CLI's part size (sync matches its ETags) */
#define DR_S3_PART_MIN (16LL << 20) /* dbtrun's parts: 16 to 64 MiB by object size */
#define DR_S3_PART_MAX (64LL << 20)
#define DR_S3_MULTIPART_THRESHOLD (8LL << 20) /* files this big go multipart (as aws CLI) */
#define DR_S3_MAX_PARTS 10000                 /* S3's limit */
#define DR_S3_DELETE_BATCH 1000               /* keys per DeleteObjects request */
#define DR_S3_LIST_MAX 10000000               /* cap on keys one listing collects */
#define DR_S3_ETAG_XATTR "user.dbtrun.etag"   /* where a download records its ETag */

/* ---- pure helpers --------------------------------------------------------- */

/* "s3://bucket/key" split into parts, both owned (free with dr_s3_url_free). */
struct dr_s3_url {
    char *bucket;
    char *key; /* "" when the URL names the bucket only */
};

/* Parses `url`. 0, or -1 when it is not s3://, the bucket is empty, or the
 * key is longer than DR_S3_KEY_MAX. *out is left empty on failure. */
int dr_s3_url_parse(const char *url, struct dr_s3_url *out);
void dr_s3_url_free(struct dr_s3_url *u);

/* Where a request for bucket/key goes. `endpoint` is dr_aws_endpoint("s3")
 * (scheme://host[:port]); `custom` says it was overridden. Virtual-hosted
 * style (scheme://bucket.host, path "/key") for AWS endpoints and DNS-safe
 * bucket names without dots; path style ("/bucket/key") for custom
 * endpoints and other names. The key is percent-encoded once ('/' kept);
 * key may be "" or NULL (bucket-level requests: path "/" or "/bucket/").
 * *base_url and *path are owned by the caller. 0, or -1 out of memory. */
int dr_s3_address(const char *endpoint, int custom, const char *bucket, const char *key,
                  char **base_url, char **path);

/* Content-Type for a file name as the aws CLI guesses it: Python's
 * mimetypes.guess_type(name)[0] (suffix_map, then encodings_map stripped,
 * then the type of what is left), from its builtin tables (generated into
 * mimetypes.inc) overlaid by the system files it reads (/etc/mime.types...),
 * read once on first use. "binary/octet-stream" (S3's default) when unknown.
 * The string lives as long as the process. Thread-safe. */
const char *dr_s3_content_type(const char *name);

/* The same guess against builtins overlaid by the given files only (in
 * order, later lines win), for tests. NULL out of memory. */
struct dr_s3_mime_db;
struct dr_s3_mime_db *dr_s3_mime_open(const char *const *files, size_t nfiles);
const char *dr_s3_mime_guess(const struct dr_s3_mime_db *db, const char *name);
void dr_s3_mime_free(struct dr_s3_mime_db *db);

/* ETag helpers. S3 quotes ETags; dr_s3_etag_strip copies without quotes (at
 * most outlen-1 bytes). A multipart ETag is "<md5 of md5s>-<parts>". */
void dr_s3_etag_strip(const char *etag, char *out, size_t outlen);
int dr_s3_etag_is_multipart(const char *etag);

/* 1 when `etag` (quoted or not) is the single-part ETag of content whose MD5
 * is md5_hex (lowercase hex); 0 otherwise, including multipart ETags. */
int dr_s3_etag_matches_md5(const char *etag, const char *md5_hex);

/* The multipart ETag S3 computes: MD5 over the parts' binary MD5s, hex, then
 * "-<nparts>". md5s holds nparts*16 bytes; out gets at most outlen-1 bytes.
 * 0, or -1 when libcrypto is unavailable. */
int dr_s3_multipart_etag(const unsigned char *md5s, size_t nparts, char *out, size_t outlen);

/* The part size dr_s3_put picks for an object of `size` bytes: an eighth of
 * it (so 8 parts keep 8 connections busy), rounded up to whole MiB, within
 * DR_S3_PART_MIN..DR_S3_PART_MAX, and grown so no more than DR_S3_MAX_PARTS. */
long long dr_s3_part_size(long long size);

/* The ETag S3 gives the file at `path` when dr_s3_put uploads it with parts
 * of `part_size` bytes (0: dr_s3_part_size's choice) from DR_S3_MULTIPART_THRESHOLD
 * on: the MD5 hex, or the multipart form. out needs 48 bytes. 0, or -1 with
 * errno. */
int dr_s3_file_etag(const char *path, long long part_size, char *out, size_t outlen);

/* MD5 of `len` bytes of the file at `offset` (len < 0: to the end), as hex
 * (33 bytes with NUL) and/or base64 (25 bytes with NUL); either may be NULL.
 * sha256_hex (65 bytes), when not NULL, gets the SHA-256 of the same bytes
 * from the same read. 0, or -1 with errno (EIO when libcrypto fails). */
int dr_s3_hash_file(const char *path, long long offset, long long len, char *md5_hex, char *md5_b64,
                    char *sha256_hex);

/* The same over a memory buffer. 0, or -1 when libcrypto fails. */
int dr_s3_md5_mem(const void *data, size_t len, char *md5_hex, char *md5_b64);

/* Joins `rel` (an S3 key below a prefix) onto the local folder `root`,
 * refusing what could land outside it: an empty key, an absolute key, a
 * ".." segment, a trailing '/', a NUL-free key longer than DR_S3_KEY_MAX.
 * *out is owned by the caller. 0, or -1 (refused or out of memory). */
int dr_s3_local_path(const char *root, const char *rel, char **out);

/* Why key path `rel` cannot be a local file name even when it is safe: a
 * last part "." (or none), or a part longer than NAME_MAX. A static
 * message, or NULL when the name is fine. */
const char *dr_s3_local_name_problem(const char *rel);

/* Parses S3 times: ISO 8601 ("2024-01-02T03:04:05.000Z", fraction optional)
 * and RFC 7231 ("Tue, 02 Jan 2024 03:04:05 GMT"). 0, or -1. */
int dr_s3_parse_time(const char *s, time_t *t);

/* An object as a listing or HEAD describes it. Strings owned by the holder. */
struct dr_s3_object {
    char *key;
    long long size;
    time_t last_modified;
    char *etag; /* without quotes; may be NULL */
};

/* One ListObjectsV2 response page. */
struct dr_s3_list_page {
    struct dr_s3_object *objects; /* owned */
    size_t nobjects;
    char **prefixes; /* CommonPrefixes, owned */
    size_t nprefixes;
    int truncated;
    char *next_token; /* NextContinuationToken, owned, NULL when none */
};

/* Parses a ListObjectsV2 XML body into *page (free with
 * dr_s3_list_page_free, also after failure). 0, or -1 with a message. */
int dr_s3_list_page_parse(const char *xml, size_t len, struct dr_s3_list_page *page, char *err,
                          size_t errlen);
void dr_s3_list_page_free(struct dr_s3_list_page *page);

/* `s` escaped for XML text (&, <, >, quotes, and \r \n \t as character
 * references so they survive line-end normalisation). Caller frees; NULL
 * when out of memory. */
char *dr_s3_xml_escape(const char *s);

/* Text of the first element named `name` anywhere in an XML body (e.g.
 * "UploadId"); *out owned by the caller, NULL when absent. 0, or -1 when the
 * XML is malformed or memory runs out. */
int dr_s3_xml_find(const char *xml, size_t len, const char *name, char **out);

/* ---- operations ----------------------------------------------------------- */

/* What a GET/HEAD/PUT learnt about the object. */
struct dr_s3_info {
    long long size;
    time_t last_modified; /* 0 when not known */
    char etag[128];       /* without quotes */
    char content_type[128];
    int not_modified; /* GET: 304, the local file was kept */
};

struct dr_s3_get_opts {
    /* Conditional GET: send If-None-Match with this ETag. DR_S3_ETAG_AUTO
     * ("auto") uses the ETag recorded on the existing file (xattr, valid only
     * while its size and mtime are unchanged) or else the file's MD5, which
     * is the ETag of single-part objects. NULL: unconditional. */
    const char *if_none_match;
    int keep_mtime;               /* 0: set the file's mtime to the object's LastModified */
    struct dr_progress *progress; /* fed with the body's bytes; NULL: none */
    /* The object's size when the caller knows it (sized: from a listing).
     * Below DR_S3_RANGED_MIN such an object comes in one plain GET (its
     * checksum whole in the answer). Otherwise the first GET asks for
     * bytes 0 to DR_S3_PART_MIN - 1: an object no bigger is that one
     * request; a bigger one gives its size in Content-Range, and while that
     * part streams the rest comes as parallel ranged GETs (dr_s3_part_size
     * each, 8 at a time, If-Match the first answer's ETag) with a HeadObject
     * for the claims to check, all into one preallocated temporary file. */
    long long size;
    int sized;
};
#define DR_S3_RANGED_MIN (32LL << 20)
#define DR_S3_ETAG_AUTO "auto"

/* Whether a file name (no folder) is one of dbtrun's temporary download
 * files (".NAME.dbtrun-<12 hex>", or "NAME.dbtrun-<6 alnum>" from a local
 * copy): an upload never sends them. */
int dr_s3_is_temp_name(const char *name);

/* Downloads bucket/key into `path`: the body streams into a temporary file
 * in the same folder (mode 0666 less the umask), is checked against
 * Content-Length and the object's checksum (dr_checksum_verify: the full-
 * object flexible checksum, else the MD5 a single-part ETag is; a multipart
 * object's composite checksum proves nothing about the whole and is not
 * checked; a download in ranges checks the HEAD's claims over the whole
 * file; an object changed midway fails with PreconditionFailed), and
 * is renamed over `path` only when complete — a failure
 * leaves the old file as it was and removes the temporary one. Records the
 * ETag in the DR_S3_ETAG_XATTR attribute when the file system allows.
 * `path`'s folder must exist. info may be NULL. 0, or -1 with err. */
int dr_s3_get(struct dr_aws_client *c, const char *bucket, const char *key, const char *path,
              const struct dr_s3_get_opts *o, struct dr_s3_info *info, struct dr_aws_error *err);

/* HeadObject. 0 with *info, or -1 with err (code "NotFound" for 404). */
int dr_s3_head(struct dr_aws_client *c, const char *bucket, const char *key,
               struct dr_s3_info *info, struct dr_aws_error *err);

struct dr_s3_put_opts {
    const char *content_type;      /* NULL: dr_s3_content_type(path) */
    long long multipart_threshold; /* 0: DR_S3_MULTIPART_THRESHOLD */
    long long part_size;           /* 0: dr_s3_part_size (min 5 MiB) */
    int jobs;                      /* parts in flight at once; 0: 8 */
    struct dr_progress *progress;  /* fed with the bytes sent; NULL: none */
};

/* Uploads the file at `path` to bucket/key: one PutObject below the
 * threshold, else a multipart upload, aborted (no parts left behind) when any
 * step fails. Over plain HTTP every body is signed (its SHA-256 in the
 * signature, which S3 checks against the bytes) and a single PutObject also
 * carries Content-MD5; over HTTPS bodies go unsigned with their CRC32 (TLS
 * protects them on the way, the CRC at rest), as the SDKs send them: parts
 * and bodies over 64 KiB aws-chunked with the CRC32 as a trailer, summed as
 * the bytes go out (one read of the file), smaller ones as UNSIGNED-PAYLOAD
 * with an x-amz-checksum-crc32 header; a multipart upload declares CRC32 so
 * S3 keeps the parts' checksums. info
 * (may be NULL) gets the size and ETag. 0, or -1 with err. */
int dr_s3_put(struct dr_aws_client *c, const char *bucket, const char *key, const char *path,
              const struct dr_s3_put_opts *o, struct dr_s3_info *info, struct dr_aws_error *err);

/* DeleteObject (a missing key is not an error, as in S3). 0, or -1. */
int dr_s3_delete(struct dr_aws_client *c, const char *bucket, const char *key,
                 struct dr_aws_error *err);

/* DeleteObjects in batches of DR_S3_DELETE_BATCH (quiet mode, Content-MD5).
 * *ndeleted (may be NULL) counts keys deleted before any failure. A key S3
 * refuses fails the call with that key's code. 0, or -1 with err. */
int dr_s3_delete_many(struct dr_aws_client *c, const char *bucket, const char *const *keys,
                      size_t nkeys, size_t *ndeleted, struct dr_aws_error *err);

/* Called once per object and once per common prefix (obj NULL then) of a
 * listing, in S3's order. A non-zero return stops the listing, which then
 * returns that value without touching err. Pointers are valid during the
 * call only. */
typedef int (*dr_s3_list_fn)(void *ctx, const struct dr_s3_object *obj, const char *prefix);

/* ListObjectsV2 over all pages under `prefix` (NULL or "" for all),
 * grouping at `delimiter` (NULL for none). 0, the callback's non-zero
 * value, or -1 with err. */
int dr_s3_list(struct dr_aws_client *c, const char *bucket, const char *prefix,
               const char *delimiter, dr_s3_list_fn fn, void *ctx, struct dr_aws_error *err);

/* Called once per bucket of ListBuckets: its name and creation time. */
typedef int (*dr_s3_bucket_fn)(void *ctx, const char *name, time_t created);

/* Parses a ListBuckets XML body, calling fn per bucket in order. 0, fn's
 * non-zero value, or -1 with a message (malformed XML). */
int dr_s3_buckets_parse(const char *xml, size_t len, dr_s3_bucket_fn fn, void *ctx, char *err,
                        size_t errlen);

/* ListBuckets. 0, fn's non-zero value, or -1 with err. */
int dr_s3_list_buckets(struct dr_aws_client *c, dr_s3_bucket_fn fn, void *ctx,
                       struct dr_aws_error *err);

/* A presigned GET URL for bucket/key valid `expires` seconds (1..604800).
 * *url owned by the caller. 0, or -1 with err. */
int dr_s3_presign(struct dr_aws_client *c, const char *bucket, const char *key, unsigned expires,
                  char **url, struct dr_aws_error *err);

/* Runs fn(ctx, i) for i in 0..n-1 on up to `jobs` threads (1: in the
 * calling thread, in order). Stops handing out work after the first
 * non-zero return and returns it (0 when all succeed); running calls finish.
 * Used for parallel transfers on top of the synchronous dr_aws_send. */
int dr_s3_parallel(size_t n, int jobs, int (*fn)(void *ctx, size_t i), void *ctx);

#endif
