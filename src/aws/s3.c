/* s3: S3 operations over dr_aws_send (one synchronous exchange each; the
 * parallelism of multipart parts and of sync comes from dr_s3_parallel's
 * threads), and the pure helpers they need. XML through xml.h; MD5, SHA-256
 * and base64 through libcrypto (dl.h). No Lua, no CLI, no global state. */
#include "dbtrun/buf.h"
#include "dbtrun/s3.h"
#include "dbtrun/checksum.h"
#include "dbtrun/chunked.h"
#include "dbtrun/dl.h"
#include "dbtrun/fs.h"
#include "dbtrun/http.h"
#include "dbtrun/isotime.h"
#include "dbtrun/proc.h"
#include "dbtrun/sigv4.h"
#include "dbtrun/xml.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define TARGET_MAX 512

/* ---- small helpers -------------------------------------------------------- */

/* "s3://bucket/key" for error messages. */
static void make_target(char *out, size_t len, const char *bucket, const char *key)
{
    snprintf(out, len, "s3://%s/%s", bucket, key ? key : "");
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int crypto_ready(void)
{
    char msg[160];
    return dr_dl_crypto(msg, sizeof msg);
}

/* ---- URLs and addressing -------------------------------------------------- */

int dr_s3_url_parse(const char *url, struct dr_s3_url *out)
{
    memset(out, 0, sizeof *out);
    if (!url || strncmp(url, "s3://", 5) != 0)
        return -1;
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    const char *key = slash ? slash + 1 : "";
    if (blen == 0 || strlen(key) > DR_S3_KEY_MAX)
        return -1;
    out->bucket = dup_n(b, blen);
    out->key = strdup(key);
    if (!out->bucket || !out->key) {
        dr_s3_url_free(out);
        return -1;
    }
    return 0;
}

void dr_s3_url_free(struct dr_s3_url *u)
{
    free(u->bucket);
    free(u->key);
    u->bucket = u->key = NULL;
}

/* A bucket name usable as a TLS-safe host label: 3-63 of [a-z0-9-], starting
 * and ending with a letter or digit (dots would break the wildcard cert). */
static int dns_safe_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-'))
            return 0;
    return 1;
}

int dr_s3_address(const char *endpoint, int custom, const char *bucket, const char *key,
                  char **base_url, char **path)
{
    const char *sep = strstr(endpoint, "://");
    char *ekey = dr_sigv4_uri_encode(key ? key : "", key ? strlen(key) : 0, 1);
    char *ebucket = dr_sigv4_uri_encode(bucket, strlen(bucket), 0);
    *base_url = *path = NULL;
    if (ekey && ebucket) {
        if (!custom && sep && dns_safe_bucket(bucket)) {
            *base_url =
                dr_strprintf("%.*s://%s.%s", (int)(sep - endpoint), endpoint, bucket, sep + 3);
            *path = dr_strprintf("/%s", ekey);
        } else {
            *base_url = strdup(endpoint);
            *path = dr_strprintf("/%s/%s", ebucket, ekey);
        }
    }
    free(ekey);
    free(ebucket);
    if (!*base_url || !*path) {
        free(*base_url);
        free(*path);
        *base_url = *path = NULL;
        return -1;
    }
    return 0;
}

/* ---- ETags (content types: mime.c) ---------------------------------------------- */

void dr_s3_etag_strip(const char *etag, char *out, size_t outlen)
{
    size_t n;
    if (!outlen)
        return;
    if (!etag)
        etag = "";
    if (strncmp(etag, "W/", 2) == 0)
        etag += 2;
    n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, etag, n);
    out[n] = '\0';
}

int dr_s3_etag_is_multipart(const char *etag)
{
    return etag && strchr(etag, '-') != NULL;
}

int dr_s3_etag_matches_md5(const char *etag, const char *md5_hex)
{
    char bare[128];
    if (!etag || !md5_hex || dr_s3_etag_is_multipart(etag))
        return 0;
    dr_s3_etag_strip(etag, bare, sizeof bare);
    return strlen(bare) == 32 && strcasecmp(bare, md5_hex) == 0;
}

int dr_s3_multipart_etag(const unsigned char *md5s, size_t nparts, char *out, size_t outlen)
{
    unsigned char md[16];
    unsigned int mdlen = 0;
    char hex[33];
    if (crypto_ready() != 0 ||
        !dr_crypto.EVP_Digest(md5s, nparts * 16, md, &mdlen, dr_crypto.EVP_md5(), NULL))
        return -1;
    dr_hex(md, 16, hex);
    snprintf(out, outlen, "%s-%zu", hex, nparts);
    return 0;
}

static void md5_outputs(const unsigned char md[16], char *md5_hex, char *md5_b64)
{
    if (md5_hex)
        dr_hex(md, 16, md5_hex);
    if (md5_b64)
        dr_crypto.EVP_EncodeBlock((unsigned char *)md5_b64, md, 16);
}

int dr_s3_md5_mem(const void *data, size_t len, char *md5_hex, char *md5_b64)
{
    unsigned char md[16];
    unsigned int mdlen = 0;
    if (crypto_ready() != 0 || !dr_crypto.EVP_Digest(data, len, md, &mdlen, dr_dl_md5(), NULL))
        return -1;
    md5_outputs(md, md5_hex, md5_b64);
    return 0;
}

int dr_s3_hash_file(const char *path, long long offset, long long len, char *md5_hex, char *md5_b64,
                    char *sha256_hex)
{
    unsigned char md[16], sha[32];
    if (dr_aws_hash_file(path, offset, len, md, sha256_hex ? sha : NULL) != 0)
        return -1;
    md5_outputs(md, md5_hex, md5_b64);
    if (sha256_hex)
        dr_hex(sha, 32, sha256_hex);
    return 0;
}

long long dr_s3_part_size(long long size)
{
    long long mib = 1LL << 20, part = (size / 8 + mib - 1) / mib * mib;
    if (part < DR_S3_PART_MIN)
        part = DR_S3_PART_MIN;
    if (part > DR_S3_PART_MAX)
        part = DR_S3_PART_MAX;
    if ((size + part - 1) / part > DR_S3_MAX_PARTS)
        part = ((size + DR_S3_MAX_PARTS - 1) / DR_S3_MAX_PARTS + mib - 1) / mib * mib;
    return part;
}

int dr_s3_file_etag(const char *path, long long part_size, char *out, size_t outlen)
{
    struct stat st;
    unsigned char *md5s = NULL, md[16];
    int rc = -1;
    if (stat(path, &st) != 0)
        return -1;
    long long size = (long long)st.st_size;
    if (part_size <= 0)
        part_size = dr_s3_part_size(size);
    if (size < DR_S3_MULTIPART_THRESHOLD) {
        if (dr_aws_hash_file(path, 0, size, md, NULL) != 0)
            return -1;
        char hex[33];
        dr_hex(md, 16, hex);
        snprintf(out, outlen, "%s", hex);
        return 0;
    }
    size_t nparts = (size_t)((size + part_size - 1) / part_size);
    if (!(md5s = malloc(nparts * 16)))
        return -1;
    for (size_t i = 0; i < nparts; i++) {
        long long off = (long long)i * part_size;
        if (dr_aws_hash_file(path, off, size - off < part_size ? size - off : part_size,
                             md5s + 16 * i, NULL) != 0)
            goto out;
    }
    if (dr_s3_multipart_etag(md5s, nparts, out, outlen) != 0) {
        errno = EIO;
        goto out;
    }
    rc = 0;
out:
    free(md5s);
    return rc;
}

/* ---- local paths and times ------------------------------------------------ */

const char *dr_s3_local_name_problem(const char *rel)
{
    size_t n = rel ? strlen(rel) : 0;
    if (n == 0)
        return "the key is empty";
    if (rel[n - 1] == '/')
        return "the key ends in \"/\", so it has no file name";
    for (const char *seg = rel; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len > NAME_MAX)
            return "a part of the key between \"/\" is longer than a file name may be "
                   "(255 bytes)";
        if (!end && len == 1 && seg[0] == '.')
            return "the key's last part is \".\", which names a folder, not a file";
        seg = end ? end + 1 : NULL;
    }
    return NULL;
}

int dr_s3_local_path(const char *root, const char *rel, char **out)
{
    size_t n = rel ? strlen(rel) : 0;
    *out = NULL;
    if (n == 0 || n > DR_S3_KEY_MAX || rel[0] == '/' || rel[n - 1] == '/')
        return -1;
    for (const char *seg = rel; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return -1;
        seg = end ? end + 1 : NULL;
    }
    if (!root || !*root)
        root = ".";
    size_t rn = strlen(root);
    while (rn > 1 && root[rn - 1] == '/')
        rn--;
    *out = dr_strprintf("%.*s%s%s", (int)rn, root, root[rn - 1] == '/' ? "" : "/", rel);
    return *out ? 0 : -1;
}

int dr_s3_parse_time(const char *s, time_t *t)
{
    return dr_isotime_parse(s, t) == 0 || dr_isotime_parse_http(s, t) == 0 ? 0 : -1;
}

/* ---- XML (through xml.h) ------------------------------------------------------ */

/* The value of hex digit c, or -1. */
static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A copy of listing text `s` (caller frees; NULL when out of memory). With
 * `url` set (the response said <EncodingType>url</EncodingType>) it is
 * decoded as botocore's unquote_plus does: '+' is a space, %XX a byte, a
 * stray '%' kept. Without it a "\r" in a key arrives as "\n" (XML
 * normalises line ends), which is why dr_s3_list asks for the encoding. */
static char *list_text(const char *s, int url)
{
    char *out = strdup(s), *o = out;
    if (!out || !url)
        return out;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%' && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0) {
            *o++ = (char)(hi << 4 | lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* Fills one object from a <Contents> element. 0, or -1 when malformed. */
static int object_from(const struct dr_xml_node *n, struct dr_s3_object *o, int url)
{
    const char *key = dr_xml_text(n, "Key"), *size = dr_xml_text(n, "Size");
    const char *etag = dr_xml_text(n, "ETag"), *when = dr_xml_text(n, "LastModified");
    char *end, bare[128];
    if (!key || !size)
        return -1;
    o->size = strtoll(size, &end, 10);
    if (end == size || *end || o->size < 0)
        return -1;
    if (when && dr_s3_parse_time(when, &o->last_modified) != 0)
        return -1;
    if (etag)
        dr_s3_etag_strip(etag, bare, sizeof bare);
    o->key = list_text(key, url);
    o->etag = etag ? strdup(bare) : NULL;
    return o->key && (!etag || o->etag) ? 0 : -1;
}

int dr_s3_list_page_parse(const char *xml, size_t len, struct dr_s3_list_page *page, char *err,
                          size_t errlen)
{
    struct dr_xml_node *root = NULL;
    const struct dr_xml_node *n;
    size_t count = 0;
    int rc = -1;
    memset(page, 0, sizeof *page);
    if (dr_xml_parse(xml, len, &root, err, errlen) != 0)
        return -1;
    const char *encoding = dr_xml_text(root, "EncodingType");
    int url = encoding && strcmp(encoding, "url") == 0;
    for (n = dr_xml_child(root, "Contents"); n; n = dr_xml_next(n))
        count++;
    if (count > DR_S3_LIST_MAX ||
        (count && !(page->objects = calloc(count, sizeof *page->objects))))
        goto bad;
    for (n = dr_xml_child(root, "Contents"); n; n = dr_xml_next(n))
        if (object_from(n, &page->objects[page->nobjects++], url) != 0)
            goto bad;
    count = 0;
    for (n = dr_xml_child(root, "CommonPrefixes"); n; n = dr_xml_next(n))
        count++;
    if (count > DR_S3_LIST_MAX || (count && !(page->prefixes = calloc(count, sizeof(char *)))))
        goto bad;
    for (n = dr_xml_child(root, "CommonPrefixes"); n; n = dr_xml_next(n)) {
        const char *prefix = dr_xml_text(n, "Prefix");
        if (!prefix || !(page->prefixes[page->nprefixes++] = list_text(prefix, url)))
            goto bad;
    }
    const char *truncated = dr_xml_text(root, "IsTruncated");
    const char *token = dr_xml_text(root, "NextContinuationToken");
    page->truncated = truncated && strcmp(truncated, "true") == 0;
    if (token && !(page->next_token = strdup(token)))
        goto bad;
    rc = 0;
    goto out;
bad:
    snprintf(err, errlen, "malformed ListObjectsV2 response");
out:
    dr_xml_free(root);
    return rc;
}

void dr_s3_list_page_free(struct dr_s3_list_page *page)
{
    for (size_t i = 0; i < page->nobjects; i++) {
        free(page->objects[i].key);
        free(page->objects[i].etag);
    }
    for (size_t i = 0; i < page->nprefixes; i++)
        free(page->prefixes[i]);
    free(page->objects);
    free(page->prefixes);
    free(page->next_token);
    memset(page, 0, sizeof *page);
}

int dr_s3_xml_find(const char *xml, size_t len, const char *name, char **out)
{
    struct dr_xml_node *root = NULL;
    *out = NULL;
    if (dr_xml_parse(xml, len, &root, NULL, 0) != 0)
        return -1;
    const struct dr_xml_node *n =
        strcmp(root->name, name) == 0 ? root : dr_xml_descendant(root, name);
    int rc = n && !(*out = strdup(n->text)) ? -1 : 0;
    dr_xml_free(root);
    return rc;
}

int dr_s3_buckets_parse(const char *xml, size_t len, dr_s3_bucket_fn fn, void *ctx, char *err,
                        size_t errlen)
{
    struct dr_xml_node *root = NULL;
    int rc = 0;
    if (dr_xml_parse(xml, len, &root, err, errlen) != 0)
        return -1;
    for (const struct dr_xml_node *b = dr_xml_find(root, "Buckets/Bucket"); b && rc == 0;
         b = dr_xml_next(b)) {
        const char *name = dr_xml_text(b, "Name"), *when = dr_xml_text(b, "CreationDate");
        time_t created = 0;
        if (!name || (when && dr_s3_parse_time(when, &created) != 0)) {
            snprintf(err, errlen, "malformed ListBuckets response");
            rc = -1;
        } else {
            rc = fn(ctx, name, created);
        }
    }
    dr_xml_free(root);
    return rc;
}

/* ---- parallel runner -------------------------------------------------------- */

struct pool {
    pthread_mutex_t lock;
    size_t next, n;
    int rc;
    int (*fn)(void *ctx, size_t i);
    void *ctx;
};

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next;
        int stop = p->rc != 0 || i >= p->n;
        if (!stop)
            p->next++;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            return NULL;
        int rc = p->fn(p->ctx, i);
        if (rc != 0) {
            pthread_mutex_lock(&p->lock);
            if (p->rc == 0)
                p->rc = rc;
            pthread_mutex_unlock(&p->lock);
        }
    }
}

int dr_s3_parallel(size_t n, int jobs, int (*fn)(void *ctx, size_t i), void *ctx)
{
    enum { JOBS_MAX = 256 };
    pthread_t threads[JOBS_MAX];
    size_t started = 0;
    if (jobs > JOBS_MAX)
        jobs = JOBS_MAX;
    if (jobs <= 1 || n <= 1) {
        for (size_t i = 0; i < n; i++) {
            int rc = fn(ctx, i);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    struct pool p = {.n = n, .fn = fn, .ctx = ctx};
    if (pthread_mutex_init(&p.lock, NULL) != 0)
        return -1;
    dr_http_share(); /* this thread's connection (a listing, a CreateMultipartUpload) goes on */
    for (size_t t = 0; t < (size_t)jobs && t < n; t++) {
        if (pthread_create(&threads[t], NULL, pool_worker, &p) != 0)
            break;
        started++;
    }
    if (started == 0)
        pool_worker(&p); /* no thread could start: do the work here */
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    pthread_mutex_destroy(&p.lock);
    return p.rc;
}

/* ---- requests ------------------------------------------------------------- */

/* One S3 operation on one bucket and key: what every request shares (the
 * target errors name, the resolved base URL and path, the last response),
 * so each dr_s3_* states only what differs (method, query, headers, body).
 * call_init, then call_resolve (or let call_send do it); call_free frees it
 * at any point after call_init. */
struct s3_call {
    struct dr_aws_client *c;
    const char *op;           /* for errors and -v logs */
    const char *bucket, *key; /* bucket NULL: the service itself (ListBuckets) */
    char target[TARGET_MAX];
    char *base, *path;
    struct dr_http_response resp;
    struct dr_aws_error *err;
};

static void call_init(struct s3_call *k, struct dr_aws_client *c, const char *op,
                      const char *bucket, const char *key, struct dr_aws_error *err)
{
    memset(k, 0, sizeof *k);
    k->c = c;
    k->op = op;
    k->bucket = bucket;
    k->key = key;
    k->err = err;
    if (bucket)
        make_target(k->target, sizeof k->target, bucket, key);
    else
        snprintf(k->target, sizeof k->target, "s3://");
}

/* Fills k's base and path. 0, or -1 with err. */
static int call_resolve(struct s3_call *k)
{
    int custom = 0, rc = -1;
    char *endpoint = dr_aws_endpoint(k->c, "s3", &custom);
    if (endpoint && !k->bucket) {
        k->base = endpoint;
        endpoint = NULL;
        rc = (k->path = strdup("/")) ? 0 : -1;
    } else if (endpoint) {
        rc = dr_s3_address(endpoint, custom, k->bucket, k->key, &k->base, &k->path);
    }
    free(endpoint);
    if (rc != 0)
        return dr_aws_fail(k->err, k->op, k->target, "InternalError", "out of memory");
    return 0;
}

/* Completes r with what every S3 request shares (its op only when r names
 * none, so one call also sends UploadPart, CompleteMultipartUpload...) and
 * sends it into resp and err. Reads k only, so part threads share one call.
 * 0 or -1 as dr_aws_send; k must be resolved. */
static int call_send_to(const struct s3_call *k, struct dr_aws_request *r,
                        struct dr_http_response *resp, struct dr_aws_error *err)
{
    r->service = "s3";
    if (!r->op)
        r->op = k->op;
    r->target = k->target;
    r->base_url = k->base;
    r->path = k->path;
    r->s3 = 1;
    return dr_aws_send(k->c, r, resp, err);
}

/* Resolves k if not yet done, then call_send_to into k's own response (the
 * previous one freed) and err. 0, or -1 with err. */
static int call_send(struct s3_call *k, struct dr_aws_request *r)
{
    if (!k->base && call_resolve(k) != 0)
        return -1;
    dr_http_response_free(&k->resp);
    return call_send_to(k, r, &k->resp, k->err);
}

static void call_free(struct s3_call *k)
{
    dr_http_response_free(&k->resp);
    free(k->base);
    free(k->path);
    k->base = k->path = NULL;
}

static void info_from_headers(const struct dr_http_response *resp, struct dr_s3_info *info)
{
    const char *v;
    if ((v = dr_http_header_get(resp, "content-length")))
        info->size = strtoll(v, NULL, 10);
    if ((v = dr_http_header_get(resp, "etag")))
        dr_s3_etag_strip(v, info->etag, sizeof info->etag);
    if ((v = dr_http_header_get(resp, "last-modified")) &&
        dr_s3_parse_time(v, &info->last_modified) != 0)
        info->last_modified = 0;
    if ((v = dr_http_header_get(resp, "content-type")))
        snprintf(info->content_type, sizeof info->content_type, "%s", v);
}

int dr_s3_head(struct dr_aws_client *c, const char *bucket, const char *key,
               struct dr_s3_info *info, struct dr_aws_error *err)
{
    struct s3_call k;
    struct dr_aws_request r = {.method = "HEAD"};
    memset(info, 0, sizeof *info);
    call_init(&k, c, "HeadObject", bucket, key, err);
    int rc = call_send(&k, &r);
    if (rc != 0 && k.resp.status == 404 && !err->code[0]) {
        snprintf(err->code, sizeof err->code, "NotFound");
        snprintf(err->message, sizeof err->message, "Not Found");
    }
    if (rc == 0)
        info_from_headers(&k.resp, info);
    call_free(&k);
    return rc;
}

/* The ETag recorded on `path` by an earlier download, if the file still has
 * the size and mtime it had then. 0 with etag filled, or -1. */
static int recorded_etag(const char *path, const struct stat *st, char *etag, size_t len)
{
    char value[256], tag[128];
    long long size, sec, nsec;
    ssize_t n = getxattr(path, DR_S3_ETAG_XATTR, value, sizeof value - 1);
    if (n <= 0)
        return -1;
    value[n] = '\0';
    if (sscanf(value, "%127s %lld %lld %lld", tag, &size, &sec, &nsec) != 4 ||
        size != (long long)st->st_size || sec != (long long)st->st_mtim.tv_sec ||
        nsec != (long long)st->st_mtim.tv_nsec)
        return -1;
    snprintf(etag, len, "%s", tag);
    return 0;
}

/* Records the ETag on `path` with its size and mtime; failures are ignored
 * (file systems without user xattrs just fall back to the MD5 check). */
static void record_etag(const char *path, const char *etag)
{
    struct stat st;
    char value[256];
    if (!etag || !*etag || strlen(etag) > 127 || stat(path, &st) != 0)
        return;
    snprintf(value, sizeof value, "%s %lld %lld %lld", etag, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, (long long)st.st_mtim.tv_nsec);
    (void)setxattr(path, DR_S3_ETAG_XATTR, value, strlen(value), 0);
}

int dr_s3_is_temp_name(const char *name)
{
    const char *tag = NULL;
    for (const char *p = name; (p = strstr(p, ".dbtrun-")); p++)
        tag = p + 8;
    if (!tag)
        return 0;
    size_t n = strlen(tag), i = 0;
    if (name[0] == '.' && n == 12) /* make_temp below: 12 lower-case hex digits */
        while (i < n && (isdigit((unsigned char)tag[i]) || (tag[i] >= 'a' && tag[i] <= 'f')))
            i++;
    else if (n == 6) /* dr_sync_copy_file: mkstemp's six letters and digits */
        while (i < n && isalnum((unsigned char)tag[i]))
            i++;
    return n > 0 && i == n;
}

/* Creates an empty temporary file next to `path` (mode 0666 less the
 * umask, like any new file). *tmp owned by the caller. 0, or -1 with errno. */
static int make_temp(const char *path, char **tmp)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    const char *name = slash ? slash + 1 : path;
    unsigned char rnd[6];
    char hex[13];
    for (int attempt = 0; attempt < 100; attempt++) {
        if (!dr_crypto.RAND_bytes(rnd, sizeof rnd)) {
            errno = EIO;
            return -1;
        }
        dr_hex(rnd, sizeof rnd, hex);
        if (!(*tmp = dr_strprintf("%.*s.%.200s.dbtrun-%s", dirlen, path, name, hex)))
            return -1;
        int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        int saved = errno;
        free(*tmp);
        *tmp = NULL;
        if (saved != EEXIST) {
            errno = saved;
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

/* Whether the body in tmp is whole and matches the response's checksum or
 * MD5 ETag. 0, or -1 with err (IncompleteBody, BadDigest, LocalError). */
static int body_check(const struct dr_http_response *resp, const char *tmp, const char *path,
                      const char *target, struct dr_aws_error *err)
{
    const char *clen = dr_http_header_get(resp, "content-length");
    struct stat st;
    char why[400];
    if (stat(tmp, &st) != 0 || (clen && strtoll(clen, NULL, 10) != (long long)st.st_size))
        return dr_aws_fail(err, "GetObject", target, "IncompleteBody",
                           "received %lld of %s bytes; %s was left as it was",
                           (long long)st.st_size, clen ? clen : "?", path);
    int v = dr_checksum_verify(resp, tmp, why, sizeof why);
    if (v < 0)
        return dr_aws_fail(err, "GetObject", target, "LocalError", "cannot check %s: %s", tmp,
                           strerror(errno));
    if (v > 0)
        return dr_aws_fail(err, "GetObject", target, "BadDigest", "%s; %s was left as it was", why,
                           path);
    return 0;
}

/* The ETag to send as If-None-Match ("" for none): the caller's, or with
 * DR_S3_ETAG_AUTO the one recorded on (or else computed from) the file at path.
 * etag holds len bytes, at least 33 (an MD5 in hex). */
static void get_known_etag(const char *path, const struct dr_s3_get_opts *o, char *etag, size_t len)
{
    struct stat st;
    etag[0] = '\0';
    if (!o || !o->if_none_match)
        return;
    if (strcmp(o->if_none_match, DR_S3_ETAG_AUTO) != 0) {
        dr_s3_etag_strip(o->if_none_match, etag, len);
        return;
    }
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && recorded_etag(path, &st, etag, len) != 0 &&
        dr_s3_hash_file(path, 0, -1, etag, NULL, NULL) != 0)
        etag[0] = '\0';
}

/* GETs the object into tmp, again while a body fails its checks, as the SDKs
 * do. 0 fetched, 1 not modified (S3 answered 304), -1 with k's err. */
static int get_fetch(struct s3_call *k, struct dr_aws_request *r, const char *path, int signals)
{
    for (int n = 1;; n++) {
        if (call_send(k, r) != 0)
            return k->resp.status == 304 ? 1 : -1;
        if (body_check(&k->resp, r->out_path, path, k->target, k->err) == 0)
            return 0;
        if (n >= dr_aws_client_max_attempts(k->c) || dr_proc_signal_count() != signals ||
            strcmp(k->err->code, "LocalError") == 0)
            return -1;
    }
}

/* A 304: the file at path is the object; info describes it. */
static void get_not_modified(struct s3_call *k, const char *path, const char *etag,
                             struct dr_s3_info *info)
{
    struct stat st;
    memset(k->err, 0, sizeof *k->err);
    info_from_headers(&k->resp, info);
    snprintf(info->etag, sizeof info->etag, "%s", etag);
    if (stat(path, &st) == 0)
        info->size = (long long)st.st_size;
    info->not_modified = 1;
}

/* Moves the checked body at tmp into place at path, with its mtime (S3's
 * LastModified unless keep_mtime) and ETag recorded first. Nothing is replaced
 * once a signal came. 0, or -1 with k's err (tmp is then the caller's to remove). */
static int get_place(struct s3_call *k, const char *tmp, const char *path,
                     const struct dr_s3_get_opts *o, struct dr_s3_info *info, int signals)
{
    struct stat st;
    info_from_headers(&k->resp, info);
    if (stat(tmp, &st) == 0)
        info->size = (long long)st.st_size;
    if (!(o && o->keep_mtime) && info->last_modified > 0) {
        struct timespec times[2] = {{.tv_nsec = UTIME_NOW}, {.tv_sec = info->last_modified}};
        (void)utimensat(AT_FDCWD, tmp, times, 0);
    }
    record_etag(tmp, info->etag);
    if (dr_proc_signal_count() != signals)
        return dr_aws_fail(k->err, "GetObject", k->target, "Interrupted",
                           "interrupted by signal %d", dr_proc_last_signal());
    if (rename(tmp, path) != 0)
        return dr_aws_fail(k->err, "GetObject", k->target, "LocalError", "cannot write %s: %s",
                           path, strerror(errno));
    return 0;
}

/* ---- ranged downloads ----------------------------------------------------- */

/* The first GET of a download asks for this many bytes: an object no bigger
 * comes in that one request, as with a plain GET (most downloads are small
 * manifests: no HEAD first); a bigger one tells its size in Content-Range,
 * and the rest comes in parallel ranges while the first part streams. */
#define FIRST_RANGE DR_S3_PART_MIN

/* One download in ranges: the first GET on the caller's thread and, once its
 * headers give the size, a HEAD (the claims the whole file is checked
 * against) and the other ranges on dr_s3_parallel's threads, all writing
 * into one file of the object's size. */
struct ranged {
    const struct s3_call *call;
    const char *tmp, *path;
    int fd;
    long long size;  /* the object's; -1 until the first answer says */
    long long first; /* bytes the first answer carries: the other ranges follow */
    long long range;
    size_t n;                     /* jobs: the HEAD, then each range after the first */
    char etag[128];               /* the first answer's: no mixing of versions */
    char if_match[132];           /* the same, quoted */
    const int *signals;           /* the caller's signal count */
    struct dr_progress *progress; /* fed with every range's bytes; NULL: none */
    pthread_mutex_t lock;
    pthread_t runner;
    int running;                   /* the runner thread was started */
    int deferred;                  /* no thread could start: the jobs run after the first GET */
    struct dr_http_response head;  /* the HEAD's answer (checksum mode) */
    struct dr_aws_error first_err; /* the first job failure */
    int failed;                    /* a job failed, or the first GET did: start no more */
    struct dr_aws_error hook_err;  /* why the first GET's headers were refused */
    int hook_failed;
};

/* The object changed under the download (412 to If-Match, or an answer
 * with another ETag from a server that ignores If-Match). Returns -1. */
static int changed_fail(const struct ranged *g, struct dr_aws_error *err)
{
    dr_aws_fail(err, "GetObject", g->call->target, "PreconditionFailed",
                "the object was replaced while it was being downloaded (its ETag is no "
                "longer \"%s\"); %s was left as it was: run again for the new version",
                g->etag, g->path);
    err->status = 412;
    return -1;
}

/* Whether resp names the object the first answer did. 0, or -1 with err. */
static int same_object(const struct ranged *g, const struct dr_http_response *resp,
                       struct dr_aws_error *err)
{
    const char *e = dr_http_header_get(resp, "etag");
    char now[128];
    dr_s3_etag_strip(e ? e : "", now, sizeof now);
    return strcmp(now, g->etag) == 0 ? 0 : changed_fail(g, err);
}

/* Records a job's failure (the first one wins); the pool starts no more. */
static void range_fail(struct ranged *g, const struct dr_aws_error *err)
{
    pthread_mutex_lock(&g->lock);
    if (!g->failed)
        g->first_err = *err;
    g->failed = 1;
    pthread_mutex_unlock(&g->lock);
}

static int range_stopped(struct ranged *g)
{
    pthread_mutex_lock(&g->lock);
    int failed = g->failed;
    pthread_mutex_unlock(&g->lock);
    return failed;
}

/* A range's bytes (the first's too): the object's size was announced
 * whole when the first answer gave it. */
static void range_bytes(void *ctx, long long done, long long total)
{
    (void)total;
    dr_progress_add(ctx, done, 0);
}

/* Whether resp is the 206 for bytes [from, from + len) of the object. */
static int range_answered(const struct dr_http_response *resp, long long from, long long len)
{
    const char *cr = dr_http_header_get(resp, "content-range");
    long long a, b;
    return resp->status == 206 && cr && sscanf(cr, "bytes %lld-%lld/", &a, &b) == 2 && a == from &&
           b == from + len - 1;
}

/* Job 0: HeadObject with the checksum mode, for the claims to check. */
static int get_head(struct ranged *g)
{
    struct dr_http_header h[] = {{"x-amz-checksum-mode", "ENABLED"}, {"If-Match", g->if_match}};
    struct dr_aws_request r = {
        .op = "HeadObject", .method = "HEAD", .headers = h, .nheaders = 2, .signals = g->signals};
    struct dr_http_response resp = {0};
    struct dr_aws_error err = {0};
    int rc = call_send_to(g->call, &r, &resp, &err);
    if (rc != 0 && err.status == 412)
        changed_fail(g, &err);
    else if (rc == 0)
        rc = same_object(g, &resp, &err);
    if (rc == 0) {
        g->head = resp; /* read only after the jobs are joined */
        memset(&resp, 0, sizeof resp);
    } else {
        range_fail(g, &err);
    }
    dr_http_response_free(&resp);
    return rc;
}

/* Job i > 0: range i - 1 after the first answer's bytes. */
static int get_range(struct ranged *g, size_t i)
{
    long long from = g->first + (long long)(i - 1) * g->range;
    long long len = g->size - from < g->range ? g->size - from : g->range;
    char spec[64];
    struct dr_http_response resp = {0};
    struct dr_aws_error err = {0};
    snprintf(spec, sizeof spec, "bytes=%lld-%lld", from, from + len - 1);
    struct dr_http_header h[] = {{"Range", spec}, {"If-Match", g->if_match}};
    struct dr_aws_request r = {.op = "GetObject",
                               .method = "GET",
                               .headers = h,
                               .nheaders = 2,
                               .out_fd = &g->fd,
                               .out_offset = from,
                               .signals = g->signals,
                               .on_bytes = g->progress ? range_bytes : NULL,
                               .on_bytes_ctx = g->progress};
    int rc = call_send_to(g->call, &r, &resp, &err);
    const char *cr = dr_http_header_get(&resp, "content-range");
    if (rc != 0 && err.status == 412)
        changed_fail(g, &err);
    else if (rc == 0 && !range_answered(&resp, from, len))
        rc = dr_aws_fail(&err, "GetObject", g->call->target, "InvalidResponse",
                         "asked for bytes %lld-%lld, got HTTP %ld %s", from, from + len - 1,
                         resp.status, cr ? cr : "");
    else if (rc == 0)
        rc = same_object(g, &resp, &err);
    if (rc != 0)
        range_fail(g, &err);
    dr_http_response_free(&resp);
    return rc;
}

static int range_job(void *ctx, size_t i)
{
    struct ranged *g = ctx;
    if (range_stopped(g))
        return -1;
    return i == 0 ? get_head(g) : get_range(g, i);
}

static void *run_jobs(void *arg)
{
    struct ranged *g = arg;
    (void)dr_s3_parallel(g->n, 8, range_job, g); /* failures are in g */
    return NULL;
}

/* The size of the object and the bytes the first answer (a 2xx) carries:
 * a 206 from 0, or a 200 with everything from a server that ignores Range
 * (size -1 when it does not say). 0, or -1 when it is neither. */
static int first_answer(const struct dr_http_response *resp, long long *size, long long *got)
{
    const char *cr = dr_http_header_get(resp, "content-range");
    const char *cl = dr_http_header_get(resp, "content-length");
    long long a, b, total;
    if (resp->status == 200) {
        *size = *got = cl ? strtoll(cl, NULL, 10) : -1;
        return 0;
    }
    if (resp->status != 206 || !cr || sscanf(cr, "bytes %lld-%lld/%lld", &a, &b, &total) != 3 ||
        a != 0 || b < a || b >= total || b >= FIRST_RANGE)
        return -1;
    *size = total;
    *got = b + 1;
    return 0;
}

/* Sizes the file and starts the HEAD and the ranges after the first. 0, or
 * -1 with g->hook_err. */
static int start_rest(struct ranged *g)
{
    if (!g->etag[0])
        return dr_aws_fail(&g->hook_err, "GetObject", g->call->target, "InvalidResponse",
                           "the answer has no ETag, so the rest of the object cannot be "
                           "fetched without risk of mixing versions");
    if (ftruncate(g->fd, (off_t)g->size) != 0)
        return dr_aws_fail(&g->hook_err, "GetObject", g->call->target, "LocalError",
                           "cannot write %s: %s", g->tmp, strerror(errno));
    g->range = dr_s3_part_size(g->size - g->first); /* the rest in even parts, 8 at most */
    g->n = 1 + (size_t)((g->size - g->first + g->range - 1) / g->range);
    if (pthread_create(&g->runner, NULL, run_jobs, g) == 0)
        g->running = 1;
    else
        g->deferred = 1;
    return 0;
}

/* The first GET's headers (each attempt's): the size, and on the first
 * answer the start of the other ranges; a retry must see the same object. */
static int first_headers(void *ctx, const struct dr_http_response *resp, char *why, size_t len)
{
    struct ranged *g = ctx;
    const char *e = dr_http_header_get(resp, "etag");
    const char *cr = dr_http_header_get(resp, "content-range");
    char etag[128];
    long long size, got;
    int rc = 0;
    dr_s3_etag_strip(e ? e : "", etag, sizeof etag);
    if (first_answer(resp, &size, &got) != 0) {
        rc = dr_aws_fail(&g->hook_err, "GetObject", g->call->target, "InvalidResponse",
                         "asked for bytes 0-%lld, got HTTP %ld %s", FIRST_RANGE - 1, resp->status,
                         cr ? cr : "");
    } else if (g->size != -1 || g->first != 0) { /* a retry: the object must be the same */
        if (strcmp(etag, g->etag) != 0 || size != g->size || got != g->first)
            rc = changed_fail(g, &g->hook_err);
    } else {
        snprintf(g->etag, sizeof g->etag, "%s", etag);
        snprintf(g->if_match, sizeof g->if_match, "\"%s\"", etag);
        g->size = size;
        g->first = got;
        if (size > 0) /* the whole size at once: every range reports its bytes only */
            dr_progress_add(g->progress, 0, size);
        if (size >= 0 && got < size)
            rc = start_rest(g);
    }
    if (rc != 0) {
        g->hook_failed = 1;
        snprintf(why, len, "%s", g->hook_err.message);
    }
    return rc;
}

/* What one try of a ranged download came to, the jobs joined. */
static int ranged_outcome(struct s3_call *k, struct ranged *g, int sent)
{
    if (sent != 0) {
        if (g->hook_failed)
            *k->err = g->hook_err;
        else if (k->resp.status == 304)
            return 1;
        else if (k->resp.status == 416) /* S3's answer to any range of an empty object */
            return 2;
        return -1;
    }
    if (g->failed) {
        *k->err = g->first_err;
        return -1;
    }
    /* a longer file from an earlier attempt must not keep its tail */
    int fail = g->size >= 0 && ftruncate(g->fd, (off_t)g->size) != 0;
    fail |= close(g->fd) != 0;
    g->fd = -1;
    if (fail)
        return dr_aws_fail(k->err, "GetObject", k->target, "LocalError", "cannot write %s: %s",
                           g->tmp, strerror(errno));
    const struct dr_http_response *claims = g->first < g->size ? &g->head : &k->resp;
    return body_check(claims, g->tmp, g->path, k->target, k->err) == 0 ? 0 : 3;
}

/* One try of a download into tmp, the first GET asking for FIRST_RANGE
 * bytes (If-None-Match etag when set): a whole object in one answer is
 * checked against that answer, a bigger one against the HEAD. 0 fetched,
 * 1 not modified, 2 the object is empty (416: fetch it plainly), 3 the body
 * failed its checks (worth fetching again), -1 with k's err. */
static int get_ranged_once(struct s3_call *k, const char *tmp, const char *path, const char *etag,
                           const int *signals, struct dr_progress *progress)
{
    char spec[64], quoted[132];
    struct ranged g = {
        .call = k, .tmp = tmp, .path = path, .size = -1, .signals = signals, .progress = progress};
    snprintf(spec, sizeof spec, "bytes=0-%lld", FIRST_RANGE - 1);
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    /* checksum mode: an answer that is the whole object may carry its checksum */
    struct dr_http_header h[] = {
        {"Range", spec}, {"x-amz-checksum-mode", "ENABLED"}, {"If-None-Match", quoted}};
    struct dr_aws_request r = {.method = "GET",
                               .headers = h,
                               .nheaders = etag[0] ? 3 : 2,
                               .out_fd = &g.fd,
                               .signals = signals,
                               .on_bytes = progress ? range_bytes : NULL,
                               .on_bytes_ctx = progress,
                               .on_headers = first_headers,
                               .on_headers_ctx = &g};
    if ((g.fd = open(tmp, O_WRONLY | O_CLOEXEC)) < 0)
        return dr_aws_fail(k->err, "GetObject", k->target, "LocalError", "cannot write %s: %s", tmp,
                           strerror(errno));
    if (pthread_mutex_init(&g.lock, NULL) != 0) {
        close(g.fd);
        return dr_aws_fail(k->err, "GetObject", k->target, "InternalError", "out of memory");
    }
    int sent = call_send(k, &r);
    if (sent != 0)
        range_fail(&g, k->err); /* the queued ranges need not start */
    if (g.running)
        pthread_join(g.runner, NULL);
    else if (g.deferred && sent == 0)
        run_jobs(&g);
    int rc = ranged_outcome(k, &g, sent);
    pthread_mutex_destroy(&g.lock);
    if (g.fd >= 0)
        close(g.fd);
    dr_http_response_free(&g.head);
    return rc;
}

/* A download in ranges, again while the whole fails its checks, as the
 * SDKs do. 0 fetched, 1 not modified, 2 empty, -1 with k's err. */
static int get_fetch_ranged(struct s3_call *k, const char *tmp, const char *path, const char *etag,
                            const int *signals, struct dr_progress *progress)
{
    for (int n = 1;; n++) {
        int got = get_ranged_once(k, tmp, path, etag, signals, progress);
        if (got != 3)
            return got;
        if (n >= dr_aws_client_max_attempts(k->c) || dr_proc_signal_count() != *signals ||
            strcmp(k->err->code, "LocalError") == 0)
            return -1;
    }
}

int dr_s3_get(struct dr_aws_client *c, const char *bucket, const char *key, const char *path,
              const struct dr_s3_get_opts *o, struct dr_s3_info *info, struct dr_aws_error *err)
{
    char *tmp = NULL, etag[128], quoted[132];
    struct s3_call k;
    struct dr_s3_info local = {0};
    struct dr_http_header headers[2];
    int rc = -1, signals = dr_proc_signal_count();
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    call_init(&k, c, "GetObject", bucket, key, err);
    if (crypto_ready() != 0)
        return dr_aws_fail(err, "GetObject", k.target, "InternalError", "libcrypto unavailable");
    get_known_etag(path, o, etag, sizeof etag);
    if (call_resolve(&k) != 0)
        goto out;
    if (make_temp(path, &tmp) != 0) {
        dr_aws_fail(err, "GetObject", k.target, "LocalError", "cannot create a file next to %s: %s",
                    path, strerror(errno));
        goto out;
    }
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    /* checksum mode: S3 sends back the object's flexible checksum, if any */
    headers[0] = (struct dr_http_header){"x-amz-checksum-mode", "ENABLED"};
    headers[1] = (struct dr_http_header){"If-None-Match", quoted};
    struct dr_aws_request r = {.method = "GET",
                               .headers = headers,
                               .nheaders = etag[0] ? 2 : 1,
                               .out_path = tmp,
                               .signals = &signals,
                               .on_bytes = o && o->progress ? dr_progress_on_bytes : NULL,
                               .on_bytes_ctx = o ? o->progress : NULL};
    /* a size known to be small (a listing's) needs no range: its checksum comes whole */
    int plain = o && o->sized && o->size < DR_S3_RANGED_MIN;
    int got = plain ? get_fetch(&k, &r, path, signals)
                    : get_fetch_ranged(&k, tmp, path, etag, &signals, o ? o->progress : NULL);
    if (got == 2)
        got = get_fetch(&k, &r, path, signals);
    if (got == 1) {
        get_not_modified(&k, path, etag, info);
        rc = 0;
    } else if (got == 0 && get_place(&k, tmp, path, o, info, signals) == 0) {
        free(tmp);
        tmp = NULL;
        rc = 0;
    }
out:
    if (tmp)
        unlink(tmp);
    free(tmp);
    call_free(&k);
    return rc;
}

/* Whether bodies to k go over TLS: then unsigned with a CRC32 (see
 * dr_s3_put), else signed. k must be resolved. */
static int call_https(const struct s3_call *k)
{
    return strncasecmp(k->base, "https://", 8) == 0;
}

/* The SHA-256 (hex, to sign) of `len` bytes of path at offset: what
 * protects a body over plain HTTP. 0, or -1 with errno. */
static int body_sha256(const char *path, long long offset, long long len, char sha[65])
{
    unsigned char digest[32];
    if (dr_aws_hash_file(path, offset, len, NULL, digest) != 0)
        return -1;
    dr_hex(digest, 32, sha);
    return 0;
}

/* ---- bodies over HTTPS: aws-chunked with a CRC32 trailer ------------------- */

/* A file's bytes at an offset, for dr_chunked, and the encoder itself. */
struct trailer_body {
    struct dr_chunked enc;
    int fd;
    const char *path;
    long long offset;
};

static long file_bytes(void *ctx, void *buf, size_t n, long long off)
{
    struct trailer_body *t = ctx;
    ssize_t got;
    do
        got = pread(t->fd, buf, n, (off_t)(t->offset + off));
    while (got < 0 && errno == EINTR);
    return (long)got;
}

static long trailer_bytes(void *ctx, char *buf, size_t n, long long offset, char *why,
                          size_t why_len)
{
    struct trailer_body *t = ctx;
    long got = dr_chunked_read(&t->enc, buf, n, offset);
    if (got < 0)
        snprintf(why, why_len, "cannot read %s: %s", t->path,
                 errno == EIO ? "file is shorter than expected" : strerror(errno));
    return got;
}

/* Sends r (PutObject or UploadPart, on k resolved) with `len` bytes of path
 * at offset as its body, the way the SDKs stream to S3 over TLS: signed as
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER, aws-chunked, the CRC32 computed as the
 * bytes go out and sent after them, so each byte is read once (the page
 * cache is not asked twice) and a retry reads and sums again from offset.
 * `extra` headers (Content-Type) go too. crc_b64 gets the CRC32 of the bytes
 * S3 took (for CompleteMultipartUpload). 0, or -1 with err; resp as
 * dr_aws_send's. */
static int send_trailer(const struct s3_call *k, struct dr_aws_request *r, const char *path,
                        long long offset, long long len, const struct dr_http_header *extra,
                        size_t nextra, char crc_b64[13], struct dr_http_response *resp,
                        struct dr_aws_error *err)
{
    struct trailer_body t = {
        .fd = open(path, O_RDONLY | O_CLOEXEC), .path = path, .offset = offset};
    struct dr_http_header headers[8];
    char decoded[24];
    size_t n = 0;
    int rc = -1;
    if (t.fd < 0)
        return dr_aws_fail(err, r->op ? r->op : k->op, k->target, "LocalError",
                           "cannot read %s: %s", path, strerror(errno));
    dr_chunked_init(&t.enc, len, 0, file_bytes, &t);
    snprintf(decoded, sizeof decoded, "%lld", len);
    for (size_t i = 0; i < nextra && n < 4; i++)
        headers[n++] = extra[i];
    headers[n++] = (struct dr_http_header){"Content-Encoding", "aws-chunked"};
    headers[n++] = (struct dr_http_header){"x-amz-decoded-content-length", decoded};
    headers[n++] = (struct dr_http_header){"x-amz-sdk-checksum-algorithm", "CRC32"};
    headers[n++] = (struct dr_http_header){"x-amz-trailer", DR_CHUNKED_TRAILER};
    r->headers = headers;
    r->nheaders = n;
    r->body_read = trailer_bytes;
    r->body_read_ctx = &t;
    r->body_len = (size_t)dr_chunked_length(len, 0);
    r->progress_len = len;
    r->payload_sha256 = DR_CHUNKED_CONTENT_SHA256;
    if (call_send_to(k, r, resp, err) == 0) {
        dr_chunked_crc32_b64((uint32_t)t.enc.crc, crc_b64);
        rc = 0;
    }
    close(t.fd);
    return rc;
}

/* Bodies this small are read once into memory: hashed and sent from there
 * (one open and one read per file; curl puts them in the same send as the
 * headers), which is most of what a sync of many small files does. */
#define SMALL_BODY (64 << 10)

/* The whole of a file of `size` bytes (as stat saw it) in *out (caller
 * frees). 0, or -1 with errno (EIO when its size changed meanwhile). */
static int read_small(const char *path, size_t size, char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1, saved = EIO;
    size_t got = 0;
    char *buf = fd >= 0 ? malloc(size + 1) : NULL;
    if (!buf) {
        saved = fd >= 0 ? ENOMEM : errno;
        goto out;
    }
    for (;;) { /* one byte more than expected tells a grown file */
        ssize_t n = read(fd, buf + got, size + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            saved = errno;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got > size)
            break;
    }
    if (got == size) {
        *out = buf;
        buf = NULL;
        rc = 0;
    }
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        errno = saved;
    return rc;
}

/* body_digest's outputs for a body in memory, and its Content-MD5 (base64)
 * over plain HTTP. 0, or -1 when libcrypto fails. */
static int mem_digest(const void *data, size_t len, int https, char sha[65], char crc_b64[13],
                      char md5_b64[25])
{
    unsigned char be[4];
    if (crypto_ready() != 0)
        return -1;
    if (!https)
        return dr_sigv4_sha256_hex(data, len, sha) != 0 ||
                       dr_s3_md5_mem(data, len, NULL, md5_b64) != 0
                   ? -1
                   : 0;
    uint64_t crc = dr_checksum_crc(DR_CRC32, 0, data, len);
    for (int i = 0; i < 4; i++)
        be[i] = (unsigned char)(crc >> (8 * (3 - i)));
    dr_crypto.EVP_EncodeBlock((unsigned char *)crc_b64, be, 4);
    return 0;
}

/* Part-upload state shared by the worker threads. */
struct multipart {
    struct s3_call *call; /* the PutObject call: client, target, base, path, err */
    const char *path;
    char *upload_id_enc; /* set once CreateMultipartUpload answered: abort from then on */
    long long size, part_size;
    size_t nparts;
    int https; /* parts carry CRC32s (call_https) */
    char (*etags)[128];
    char (*crcs)[13]; /* each part's CRC32 when https, for CompleteMultipartUpload */
    pthread_mutex_t lock;
    int lock_ready;
    struct dr_aws_error first; /* the first part failure */
    int failed;
    struct dr_progress *progress; /* parts add their bytes up here (thread-safe) */
};

static int upload_part(void *ctx, size_t i)
{
    struct multipart *m = ctx;
    const char *target = m->call->target;
    long long offset = (long long)i * m->part_size;
    long long len = m->size - offset < m->part_size ? m->size - offset : m->part_size;
    char sha[65], *query = NULL;
    struct dr_http_response resp = {0};
    struct dr_aws_error err = {0};
    int rc = -1;
    if (!(query = dr_strprintf("partNumber=%zu&uploadId=%s", i + 1, m->upload_id_enc))) {
        dr_aws_fail(&err, "UploadPart", target, "InternalError", "out of memory");
        goto out;
    }
    struct dr_aws_request r = {.op = "UploadPart",
                               .method = "PUT",
                               .query = query,
                               .on_bytes = m->progress ? dr_progress_on_bytes : NULL,
                               .on_bytes_ctx = m->progress};
    if (m->https) {
        if (send_trailer(m->call, &r, m->path, offset, len, NULL, 0, m->crcs[i], &resp, &err) != 0)
            goto out;
    } else {
        /* no Content-MD5: the signed SHA-256 already covers the bytes, and
         * MD5 would be the costliest pass over them */
        if (body_sha256(m->path, offset, len, sha) != 0) {
            dr_aws_fail(&err, "UploadPart", target, "LocalError", "cannot read %s: %s", m->path,
                        strerror(errno));
            goto out;
        }
        r.body_path = m->path;
        r.body_offset = offset;
        r.body_len = (size_t)len;
        r.payload_sha256 = sha;
        if (call_send_to(m->call, &r, &resp, &err) != 0)
            goto out;
    }
    const char *etag = dr_http_header_get(&resp, "etag");
    if (!etag) {
        dr_aws_fail(&err, "UploadPart", target, "InvalidResponse", "part %zu has no ETag", i + 1);
        goto out;
    }
    dr_s3_etag_strip(etag, m->etags[i], sizeof m->etags[i]);
    rc = 0;
out:
    if (rc != 0) {
        pthread_mutex_lock(&m->lock);
        if (!m->failed)
            m->first = err;
        m->failed = 1;
        pthread_mutex_unlock(&m->lock);
    }
    dr_http_response_free(&resp);
    free(query);
    return rc;
}

/* The entity for XML text character c, or NULL when c stands as itself.
 * \r, \n and \t go as character references: a parser turns a raw "\r"
 * into "\n", so DeleteObjects would name another key and report the real
 * one deleted while it stays. */
static const char *xml_entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    case '\r':
        return "&#13;";
    case '\n':
        return "&#10;";
    case '\t':
        return "&#9;";
    default:
        return NULL;
    }
}

char *dr_s3_xml_escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += xml_entity(*p) ? strlen(xml_entity(*p)) : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p; p++) {
        const char *rep = xml_entity(*p);
        if (rep) {
            memcpy(o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* A 200 response that carries <Error> (CompleteMultipartUpload can do that)
 * is a failure: fills err and returns -1; else 0. */
static int error_in_body(const struct dr_http_response *resp, const char *op, const char *target,
                         struct dr_aws_error *err)
{
    char *code = NULL, *message = NULL;
    if (!resp->body || !strstr(resp->body, "<Error>"))
        return 0;
    dr_s3_xml_find(resp->body, resp->body_len, "Code", &code);
    dr_s3_xml_find(resp->body, resp->body_len, "Message", &message);
    dr_aws_fail(err, op, target, code ? code : "InternalError", "%s",
                message ? message : "error in a 200 response");
    err->status = (int)resp->status;
    free(code);
    free(message);
    return -1;
}

/* Sets up m for uploading `size` bytes of `path` on k: the caller's part
 * size (at least 5 MiB, grown so no more than DR_S3_MAX_PARTS) or
 * dr_s3_part_size's. */
static void upload_plan(struct multipart *m, struct s3_call *k, const char *path, long long size,
                        const struct dr_s3_put_opts *o)
{
    long long part = o && o->part_size ? o->part_size : dr_s3_part_size(size);
    if (part < (5LL << 20))
        part = 5LL << 20;
    while ((size + part - 1) / part > DR_S3_MAX_PARTS)
        part += 1LL << 20;
    memset(m, 0, sizeof *m);
    m->call = k;
    m->path = path;
    m->size = size;
    m->part_size = part;
    m->nparts = (size_t)((size + part - 1) / part);
    m->progress = o ? o->progress : NULL;
    m->https = call_https(k);
}

/* CreateMultipartUpload, then the part table and its lock. 0, or -1 with err. */
static int upload_init(struct multipart *m, const char *content_type)
{
    struct s3_call *k = m->call;
    struct dr_http_header hs[] = {{"Content-Type", content_type},
                                  {"x-amz-checksum-algorithm", "CRC32"}};
    struct dr_aws_request create = {.op = "CreateMultipartUpload",
                                    .method = "POST",
                                    .query = "uploads",
                                    .headers = hs,
                                    .nheaders = m->https ? 2 : 1};
    char *upload_id = NULL;
    int rc = -1;
    if (call_send(k, &create) != 0)
        goto out;
    if (dr_s3_xml_find(k->resp.body, k->resp.body_len, "UploadId", &upload_id) != 0 || !upload_id ||
        !*upload_id) {
        dr_aws_fail(k->err, "CreateMultipartUpload", k->target, "InvalidResponse", "no UploadId");
        goto out;
    }
    dr_http_response_free(&k->resp);
    if (!(m->upload_id_enc = dr_sigv4_uri_encode(upload_id, strlen(upload_id), 0)) ||
        !(m->etags = calloc(m->nparts, sizeof *m->etags)) ||
        !(m->crcs = calloc(m->nparts, sizeof *m->crcs)) ||
        pthread_mutex_init(&m->lock, NULL) != 0) {
        dr_aws_fail(k->err, "UploadPart", k->target, "InternalError", "out of memory");
        goto out;
    }
    m->lock_ready = 1;
    rc = 0;
out:
    free(upload_id);
    return rc;
}

/* Every part, `jobs` at a time. 0, or -1 with err the first part failure. */
static int upload_parts(struct multipart *m, int jobs)
{
    if (dr_s3_parallel(m->nparts, jobs, upload_part, m) == 0)
        return 0;
    *m->call->err = m->first;
    return -1;
}

/* CompleteMultipartUpload with the parts' ETags; info (may be NULL) gets the
 * size and the object's ETag. 0, or -1 with err. */
static int upload_complete(struct multipart *m, struct dr_s3_info *info)
{
    struct s3_call *k = m->call;
    char *body = NULL, *query = NULL, *etag = NULL;
    size_t bodylen = 0;
    int rc = -1;
    /* <Part> is at most ~260 bytes with a 128-byte ETag and a CRC32 */
    size_t bodycap = 128 + m->nparts * 260;
    if (!(body = malloc(bodycap)) || !(query = dr_strprintf("uploadId=%s", m->upload_id_enc))) {
        dr_aws_fail(k->err, "CompleteMultipartUpload", k->target, "InternalError", "out of memory");
        goto out;
    }
    bodylen = (size_t)snprintf(body, bodycap, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < m->nparts; i++)
        bodylen +=
            (size_t)snprintf(body + bodylen, bodycap - bodylen,
                             "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag>%s%s%s</Part>",
                             i + 1, m->etags[i], m->https ? "<ChecksumCRC32>" : "",
                             m->https ? m->crcs[i] : "", m->https ? "</ChecksumCRC32>" : "");
    bodylen += (size_t)snprintf(body + bodylen, bodycap - bodylen, "</CompleteMultipartUpload>");
    struct dr_aws_request complete = {.op = "CompleteMultipartUpload",
                                      .method = "POST",
                                      .query = query,
                                      .body = body,
                                      .body_len = bodylen};
    if (call_send(k, &complete) != 0 ||
        error_in_body(&k->resp, "CompleteMultipartUpload", k->target, k->err) != 0)
        goto out;
    if (info) {
        info->size = m->size;
        if (dr_s3_xml_find(k->resp.body, k->resp.body_len, "ETag", &etag) == 0 && etag)
            dr_s3_etag_strip(etag, info->etag, sizeof info->etag);
    }
    rc = 0;
out:
    free(body);
    free(query);
    free(etag);
    return rc;
}

/* AbortMultipartUpload, best effort: the original error is what the caller
 * needs, so err is left as it is. */
static void upload_abort(const struct multipart *m)
{
    struct dr_aws_error ignored = {0};
    struct dr_http_response resp = {0};
    char *query = dr_strprintf("uploadId=%s", m->upload_id_enc);
    struct dr_aws_request r = {.op = "AbortMultipartUpload", .method = "DELETE", .query = query};
    if (query)
        call_send_to(m->call, &r, &resp, &ignored);
    dr_http_response_free(&resp);
    free(query);
}

static void upload_free(struct multipart *m)
{
    if (m->lock_ready)
        pthread_mutex_destroy(&m->lock);
    free(m->etags);
    free(m->crcs);
    free(m->upload_id_enc);
    m->etags = NULL;
    m->crcs = NULL;
    m->upload_id_enc = NULL;
    m->lock_ready = 0;
}

/* PutObject as a multipart upload: init, parts, complete; any failure after
 * S3 handed out an upload id aborts it. 0, or -1 with k's err. */
static int put_multipart(struct s3_call *k, const char *path, long long size,
                         const char *content_type, const struct dr_s3_put_opts *o,
                         struct dr_s3_info *info)
{
    struct multipart m;
    upload_plan(&m, k, path, size, o);
    int rc = upload_init(&m, content_type);
    if (rc == 0)
        rc = upload_parts(&m, o && o->jobs ? o->jobs : 8);
    if (rc == 0)
        rc = upload_complete(&m, info);
    if (rc != 0 && m.upload_id_enc)
        upload_abort(&m);
    upload_free(&m);
    return rc;
}

/* One PutObject over HTTPS of a file too big to read into memory, streamed
 * with its CRC32 as a trailer (send_trailer). 0, or -1 with k's err. */
static int put_trailer(struct s3_call *k, const char *path, long long size,
                       const char *content_type, const struct dr_s3_put_opts *o,
                       struct dr_s3_info *info)
{
    char crc[13];
    struct dr_http_header type = {"Content-Type", content_type};
    struct dr_aws_request r = {.method = "PUT",
                               .on_bytes = o && o->progress ? dr_progress_on_bytes : NULL,
                               .on_bytes_ctx = o ? o->progress : NULL};
    dr_http_response_free(&k->resp);
    if (send_trailer(k, &r, path, 0, size, &type, 1, crc, &k->resp, k->err) != 0)
        return -1;
    if (info) {
        info_from_headers(&k->resp, info);
        info->size = size;
        snprintf(info->content_type, sizeof info->content_type, "%s", content_type);
    }
    return 0;
}

int dr_s3_put(struct dr_aws_client *c, const char *bucket, const char *key, const char *path,
              const struct dr_s3_put_opts *o, struct dr_s3_info *info, struct dr_aws_error *err)
{
    char md5_b64[25], sha[65], crc[13], *data = NULL;
    struct s3_call k;
    struct stat st;
    int rc = -1, https, digested;
    const char *content_type = o && o->content_type ? o->content_type : dr_s3_content_type(path);
    long long threshold =
        o && o->multipart_threshold ? o->multipart_threshold : DR_S3_MULTIPART_THRESHOLD;
    if (info)
        memset(info, 0, sizeof *info);
    call_init(&k, c, "PutObject", bucket, key, err);
    if (strlen(key) == 0 || strlen(key) > DR_S3_KEY_MAX)
        return dr_aws_fail(err, "PutObject", k.target, "InvalidArgument", "bad key length");
    if (stat(path, &st) != 0)
        return dr_aws_fail(err, "PutObject", k.target, "LocalError", "cannot read %s: %s", path,
                           strerror(errno));
    if (!S_ISREG(st.st_mode))
        return dr_aws_fail(err, "PutObject", k.target, "LocalError", "%s is not a file", path);
    if (call_resolve(&k) != 0)
        goto out;
    if ((long long)st.st_size >= threshold) {
        rc = put_multipart(&k, path, (long long)st.st_size, content_type, o, info);
        goto out;
    }
    https = call_https(&k);
    if (https && st.st_size > SMALL_BODY) {
        rc = put_trailer(&k, path, (long long)st.st_size, content_type, o, info);
        goto out;
    }
    if (st.st_size <= SMALL_BODY)
        digested = read_small(path, (size_t)st.st_size, &data) == 0 &&
                   mem_digest(data, (size_t)st.st_size, https, sha, crc, md5_b64) == 0;
    else
        digested = dr_s3_hash_file(path, 0, (long long)st.st_size, NULL, md5_b64, sha) == 0;
    if (!digested) {
        dr_aws_fail(err, "PutObject", k.target, "LocalError", "cannot read %s: %s", path,
                    strerror(errno));
        goto out;
    }
    struct dr_http_header headers[] = {{"Content-Type", content_type},
                                       https ? (struct dr_http_header){"x-amz-checksum-crc32", crc}
                                             : (struct dr_http_header){"Content-MD5", md5_b64}};
    struct dr_aws_request r = {.method = "PUT",
                               .headers = headers,
                               .nheaders = 2,
                               .body = data,
                               .body_path = data ? NULL : path,
                               .body_len = (size_t)st.st_size,
                               .payload_sha256 = https ? NULL : sha,
                               .unsigned_payload = https,
                               .on_bytes = o && o->progress ? dr_progress_on_bytes : NULL,
                               .on_bytes_ctx = o ? o->progress : NULL};
    if (call_send(&k, &r) != 0)
        goto out;
    if (info) {
        info_from_headers(&k.resp, info);
        info->size = (long long)st.st_size;
        snprintf(info->content_type, sizeof info->content_type, "%s", content_type);
    }
    rc = 0;
out:
    free(data);
    call_free(&k);
    return rc;
}

int dr_s3_delete(struct dr_aws_client *c, const char *bucket, const char *key,
                 struct dr_aws_error *err)
{
    struct s3_call k;
    struct dr_aws_request r = {.method = "DELETE"};
    call_init(&k, c, "DeleteObject", bucket, key, err);
    if (!key || !*key)
        return dr_aws_fail(err, "DeleteObject", k.target, "InvalidArgument", "no key");
    int rc = call_send(&k, &r);
    call_free(&k);
    return rc;
}

/* One DeleteObjects request for keys[0..n-1] on k (resolved). */
static int delete_batch(struct s3_call *k, const char *const *keys, size_t n)
{
    char target[TARGET_MAX], md5_b64[25];
    char *body = NULL, *code = NULL, *key = NULL, *message = NULL;
    size_t len = 0, cap = 64;
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        cap += 40 + 6 * strlen(keys[i]);
    if (!(body = malloc(cap)))
        goto oom;
    len = (size_t)snprintf(body, cap, "<Delete><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        char *esc = dr_s3_xml_escape(keys[i]);
        if (!esc)
            goto oom;
        len += (size_t)snprintf(body + len, cap - len, "<Object><Key>%s</Key></Object>", esc);
        free(esc);
    }
    len += (size_t)snprintf(body + len, cap - len, "</Delete>");
    if (dr_s3_md5_mem(body, len, NULL, md5_b64) != 0)
        goto oom;
    struct dr_http_header headers[] = {{"Content-Type", "application/xml"},
                                       {"Content-MD5", md5_b64}};
    struct dr_aws_request r = {.method = "POST",
                               .query = "delete",
                               .headers = headers,
                               .nheaders = 2,
                               .body = body,
                               .body_len = len};
    if (call_send(k, &r) != 0)
        goto out;
    /* quiet mode: the body lists only the keys that failed */
    const struct dr_http_response *resp = &k->resp;
    if (resp->body && strstr(resp->body, "<Error>")) {
        dr_s3_xml_find(resp->body, resp->body_len, "Key", &key);
        dr_s3_xml_find(resp->body, resp->body_len, "Code", &code);
        dr_s3_xml_find(resp->body, resp->body_len, "Message", &message);
        make_target(target, sizeof target, k->bucket, key ? key : "?");
        dr_aws_fail(k->err, "DeleteObjects", target, code ? code : "InternalError", "%s",
                    message ? message : "delete failed");
        goto out;
    }
    rc = 0;
    goto out;
oom:
    dr_aws_fail(k->err, "DeleteObjects", k->target, "InternalError", "out of memory");
out:
    free(body);
    free(code);
    free(key);
    free(message);
    return rc;
}

int dr_s3_delete_many(struct dr_aws_client *c, const char *bucket, const char *const *keys,
                      size_t nkeys, size_t *ndeleted, struct dr_aws_error *err)
{
    struct s3_call k;
    int rc = -1;
    size_t done = 0;
    call_init(&k, c, "DeleteObjects", bucket, "", err);
    if (ndeleted)
        *ndeleted = 0;
    if (nkeys == 0)
        return 0;
    if (crypto_ready() != 0)
        return dr_aws_fail(err, "DeleteObjects", k.target, "InternalError",
                           "libcrypto unavailable");
    if (call_resolve(&k) != 0)
        goto out;
    while (done < nkeys) {
        size_t n = nkeys - done < DR_S3_DELETE_BATCH ? nkeys - done : DR_S3_DELETE_BATCH;
        if (delete_batch(&k, keys + done, n) != 0)
            goto out;
        done += n;
        if (ndeleted)
            *ndeleted = done;
    }
    rc = 0;
out:
    call_free(&k);
    return rc;
}

/* The query of one ListObjectsV2 page (prefix and delimiter already
 * encoded; token as S3 gave it). encoding-type=url: keys come back
 * percent-encoded, so control characters survive the XML (the parse decodes
 * them). Caller frees; NULL when out of memory. */
static char *list_query(const char *token, const char *delimiter, const char *edelim,
                        const char *prefix, const char *eprefix)
{
    char *etoken = token ? dr_sigv4_uri_encode(token, strlen(token), 0) : NULL;
    if (token && !etoken)
        return NULL;
    char *query =
        dr_strprintf("list-type=2%s%s%s%s&encoding-type=url%s%s",
                     token ? "&continuation-token=" : "", token ? etoken : "",
                     delimiter ? "&delimiter=" : "", edelim, *prefix ? "&prefix=" : "", eprefix);
    free(etoken);
    return query;
}

/* Hands one page to fn: its common prefixes, then its objects. fn's first
 * non-zero answer, or 0. */
static int list_deliver(const struct dr_s3_list_page *page, dr_s3_list_fn fn, void *ctx)
{
    int rc = 0;
    for (size_t i = 0; i < page->nprefixes && rc == 0; i++)
        rc = fn(ctx, NULL, page->prefixes[i]);
    for (size_t i = 0; i < page->nobjects && rc == 0; i++)
        rc = fn(ctx, &page->objects[i], NULL);
    return rc;
}

int dr_s3_list(struct dr_aws_client *c, const char *bucket, const char *prefix,
               const char *delimiter, dr_s3_list_fn fn, void *ctx, struct dr_aws_error *err)
{
    char *query = NULL, *token = NULL, *eprefix = NULL, *edelim = NULL, msg[256];
    struct s3_call k;
    struct dr_s3_list_page page = {0};
    size_t seen = 0;
    int rc = -1;
    call_init(&k, c, "ListObjectsV2", bucket, "", err);
    make_target(k.target, sizeof k.target, bucket, prefix); /* errors name the prefix */
    if (!prefix)
        prefix = "";
    if (call_resolve(&k) != 0)
        goto out;
    eprefix = dr_sigv4_uri_encode(prefix, strlen(prefix), 0);
    edelim = delimiter ? dr_sigv4_uri_encode(delimiter, strlen(delimiter), 0) : strdup("");
    if (!eprefix || !edelim)
        goto oom;
    for (;;) {
        free(query);
        if (!(query = list_query(token, delimiter, edelim, prefix, eprefix)))
            goto oom;
        struct dr_aws_request r = {.method = "GET", .query = query};
        if (call_send(&k, &r) != 0)
            goto out;
        if (dr_s3_list_page_parse(k.resp.body, k.resp.body_len, &page, msg, sizeof msg) != 0) {
            dr_aws_fail(err, "ListObjectsV2", k.target, "InvalidResponse", "%s", msg);
            goto out;
        }
        dr_http_response_free(&k.resp);
        seen += page.nobjects + page.nprefixes;
        if (seen > DR_S3_LIST_MAX) {
            dr_aws_fail(err, "ListObjectsV2", k.target, "LimitExceeded",
                        "more than %d keys under the prefix", DR_S3_LIST_MAX);
            goto out;
        }
        if ((rc = list_deliver(&page, fn, ctx)) != 0)
            goto out;
        rc = -1;
        free(token);
        token = NULL;
        if (!page.truncated || !page.next_token || !*page.next_token)
            break;
        token = page.next_token;
        page.next_token = NULL;
        dr_s3_list_page_free(&page);
    }
    rc = 0;
    goto out;
oom:
    dr_aws_fail(err, "ListObjectsV2", k.target, "InternalError", "out of memory");
out:
    dr_s3_list_page_free(&page);
    call_free(&k);
    free(query);
    free(token);
    free(eprefix);
    free(edelim);
    return rc;
}

int dr_s3_list_buckets(struct dr_aws_client *c, dr_s3_bucket_fn fn, void *ctx,
                       struct dr_aws_error *err)
{
    struct s3_call k;
    struct dr_aws_request r = {.method = "GET"};
    char msg[256];
    call_init(&k, c, "ListBuckets", NULL, NULL, err);
    int rc = call_send(&k, &r);
    if (rc == 0) {
        rc = dr_s3_buckets_parse(k.resp.body, k.resp.body_len, fn, ctx, msg, sizeof msg);
        if (rc < 0)
            dr_aws_fail(err, "ListBuckets", k.target, "InvalidResponse", "%s", msg);
    }
    call_free(&k);
    return rc;
}

int dr_s3_presign(struct dr_aws_client *c, const char *bucket, const char *key, unsigned expires,
                  char **url, struct dr_aws_error *err)
{
    char msg[256];
    struct s3_call k;
    struct dr_sigv4_result res = {0};
    int rc = -1;
    time_t now;
    *url = NULL;
    call_init(&k, c, "Presign", bucket, key, err);
    if (expires < 1 || expires > DR_SIGV4_EXPIRES_MAX)
        return dr_aws_fail(err, "Presign", k.target, "InvalidArgument",
                           "expiry must be 1..%d seconds", DR_SIGV4_EXPIRES_MAX);
    const struct dr_aws_credentials *cred = dr_aws_credentials_get(c, err);
    if (!cred)
        return -1;
    if (call_resolve(&k) != 0)
        goto out;
    if (dr_sigv4_now(&now, msg, sizeof msg) != 0) {
        dr_aws_fail(err, "Presign", k.target, "ConfigError", "%s", msg);
        goto out;
    }
    const char *host = strstr(k.base, "://");
    host = host ? host + 3 : k.base;
    struct dr_sigv4_header h = {"host", host};
    struct dr_sigv4_request req = {.method = "GET", .path = k.path, .headers = &h, .nheaders = 1};
    struct dr_sigv4_credentials sc = {cred->access_key_id, cred->secret_access_key,
                                      cred->session_token};
    struct dr_sigv4_params p = {.region = dr_aws_client_region(c),
                                .service = "s3",
                                .time = now,
                                .flags = DR_SIGV4_S3 | DR_SIGV4_PRESIGN,
                                .expires = expires};
    if (dr_sigv4_sign(&req, &sc, &p, &res, msg, sizeof msg) != 0) {
        dr_aws_fail(err, "Presign", k.target, "InternalError", "%s", msg);
        goto out;
    }
    if (!(*url = dr_strprintf("%s%s?%s", k.base, k.path, res.query))) {
        dr_aws_fail(err, "Presign", k.target, "InternalError", "out of memory");
        goto out;
    }
    rc = 0;
out:
    dr_sigv4_result_free(&res);
    call_free(&k);
    return rc;
}
