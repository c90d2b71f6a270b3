/* sigv4: AWS Signature Version 4 over a plain request description. The
 * canonicalisation (path, query, headers) is written here because no library
 * does it the AWS way; hashing comes from OpenSSL (HMAC is built on it here).
 * No I/O except the clock helper, which also reads DBTRUN_TEST_CLOCK. */
#include "dbtrun/sigv4.h"

#include "dbtrun/buf.h"
#include "dbtrun/dl.h"
#include "dbtrun/isotime.h"
#include "dbtrun/wipe.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCOPE_TERMINATOR "aws4_request"

/* ---- size-capped text: every string the signer builds is a dr_buf capped at
 * DR_SIGV4_MAX; a refused append marks it, checked once in text_take */

#define TEXT_INIT                                                                                  \
    {                                                                                              \
        .max = DR_SIGV4_MAX                                                                        \
    }

static void text_putn(struct dr_buf *t, const char *s, size_t n)
{
    (void)dr_buf_add(t, s, n); /* a refusal stays marked on t */
}

static void text_puts(struct dr_buf *t, const char *s)
{
    text_putn(t, s, strlen(s));
}

static void text_putc(struct dr_buf *t, char c)
{
    text_putn(t, &c, 1);
}

/* Hands over the built string (caller frees), or NULL after any failure;
 * t is left empty. */
static char *text_take(struct dr_buf *t)
{
    char *p = t->overflowed || t->out_of_mem ? NULL : dr_buf_take(t, NULL);
    dr_buf_free(t);
    t->overflowed = t->out_of_mem = 0;
    return p;
}

static char *concat(const char *first, ...)
{
    struct dr_buf t = TEXT_INIT;
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        text_puts(&t, s);
    va_end(ap);
    return text_take(&t);
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "sigv4: %s", msg);
}

/* ---- percent-encoding */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void put_encoded(struct dr_buf *t, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            text_putc(t, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            text_putn(t, esc, 3);
        }
    }
}

/* SigV4 percent-encoding of `len` bytes; caller frees; NULL on OOM or cap. */
char *dr_sigv4_uri_encode(const char *s, size_t len, int keep_slash)
{
    struct dr_buf t = TEXT_INIT;
    put_encoded(&t, s, len, keep_slash);
    return text_take(&t);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes (a '%' not followed by two hex digits stays literal;
 * '+' stays '+', as AWS reads it). Returns a buffer the caller frees, of
 * *outlen bytes plus a NUL, or NULL when out of memory. */
static char *percent_decode(const char *s, size_t len, size_t *outlen)
{
    char *d = malloc(len + 1);
    size_t n = 0;
    if (!d)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int hi = -1, lo = -1;
        if (s[i] == '%' && i + 2 < len) {
            hi = hex_value(s[i + 1]);
            lo = hex_value(s[i + 2]);
        }
        if (hi >= 0 && lo >= 0) {
            d[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[n++] = s[i];
        }
    }
    d[n] = '\0';
    *outlen = n;
    return d;
}

/* ---- hashing */

/* Hex SHA-256 of a buffer into hex[65]; 0 or -1. */
int dr_sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char err[128];
    if (dr_dl_crypto(err, sizeof err) != 0 ||
        !dr_crypto.EVP_Digest(data, len, md, &mdlen, dr_dl_sha256(), NULL) || mdlen != 32)
        return -1;
    dr_hex(md, 32, hex);
    return 0;
}

/* HMAC-SHA256 (RFC 2104) over the fetched digest: OpenSSL's one-shot HMAC()
 * looks up the MAC and the digest again on every call, which cost more than
 * hashing these short messages. 0 or -1. */
static int hmac_sha256(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    enum { BLOCK = 64 };
    const EVP_MD *md = dr_dl_sha256();
    unsigned char k0[BLOCK] = {0}, pad[BLOCK], inner[32];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = dr_crypto.EVP_MD_CTX_new();
    int rc = -1;
    if (!ctx)
        return -1;
    if (keylen <= BLOCK)
        memcpy(k0, key, keylen);
    else if (!dr_crypto.EVP_Digest(key, keylen, k0, &len, md, NULL)) /* long keys: their hash */
        goto out;
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ 0x36;
    if (!dr_crypto.EVP_DigestInit_ex(ctx, md, NULL) ||
        !dr_crypto.EVP_DigestUpdate(ctx, pad, BLOCK) ||
        !dr_crypto.EVP_DigestUpdate(ctx, msg, strlen(msg)) ||
        !dr_crypto.EVP_DigestFinal_ex(ctx, inner, &len) || len != 32)
        goto out;
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ 0x5c;
    if (!dr_crypto.EVP_DigestInit_ex(ctx, md, NULL) ||
        !dr_crypto.EVP_DigestUpdate(ctx, pad, BLOCK) ||
        !dr_crypto.EVP_DigestUpdate(ctx, inner, 32) ||
        !dr_crypto.EVP_DigestFinal_ex(ctx, out, &len) || len != 32)
        goto out;
    rc = 0;
out:
    dr_crypto.EVP_MD_CTX_free(ctx);
    dr_crypto.OPENSSL_cleanse(k0, sizeof k0);
    dr_crypto.OPENSSL_cleanse(pad, sizeof pad);
    dr_crypto.OPENSSL_cleanse(inner, sizeof inner);
    return rc;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"). The caller cleanses `key` after use. */
static int derive_key(const char *secret, const char *date8, const char *region,
                      const char *service, unsigned char key[32])
{
    char *seed = concat("AWS4", secret, (char *)NULL);
    unsigned char k_date[32], k_region[32], k_service[32];
    int rc = -1;
    if (seed && hmac_sha256(seed, strlen(seed), date8, k_date) == 0 &&
        hmac_sha256(k_date, 32, region, k_region) == 0 &&
        hmac_sha256(k_region, 32, service, k_service) == 0 &&
        hmac_sha256(k_service, 32, SCOPE_TERMINATOR, key) == 0)
        rc = 0;
    if (seed)
        dr_crypto.OPENSSL_cleanse(seed, strlen(seed));
    free(seed);
    dr_crypto.OPENSSL_cleanse(k_date, sizeof k_date);
    dr_crypto.OPENSSL_cleanse(k_region, sizeof k_region);
    dr_crypto.OPENSSL_cleanse(k_service, sizeof k_service);
    return rc;
}

/* The last signing key each thread derived, and what it was derived from:
 * the key is the same for every request of a day, region, service and secret,
 * and deriving it is four HMACs, most of what signing a small request costs.
 * Per thread, so that sync's workers share no lock; wiped when a thread ends
 * (key_cache_wipe) and when replaced. Inputs longer than the fields are not
 * cached. */
struct key_cache {
    int valid;
    char secret[128], date8[9], region[64], service[64];
    unsigned char key[32];
};

static _Thread_local struct key_cache key_cache;
static pthread_key_t key_cache_key;
static pthread_once_t key_cache_once = PTHREAD_ONCE_INIT;
static int key_cache_ready;

static void key_cache_wipe(void *p)
{
    dr_wipe(p, sizeof(struct key_cache));
}

static void key_cache_init(void)
{
    key_cache_ready = pthread_key_create(&key_cache_key, key_cache_wipe) == 0;
}

static int fits(const char *s, size_t cap)
{
    return strlen(s) < cap;
}

static int key_cache_hit(const char *secret, const char *date8, const char *region,
                         const char *service)
{
    const struct key_cache *k = &key_cache;
    return k->valid && strcmp(k->date8, date8) == 0 && strcmp(k->region, region) == 0 &&
           strcmp(k->service, service) == 0 && strcmp(k->secret, secret) == 0;
}

/* derive_key through this thread's cache. */
static int signing_key(const char *secret, const char *date8, const char *region,
                       const char *service, unsigned char key[32])
{
    struct key_cache *k = &key_cache;
    int cacheable = fits(secret, sizeof k->secret) && fits(date8, sizeof k->date8) &&
                    fits(region, sizeof k->region) && fits(service, sizeof k->service);
    if (cacheable && key_cache_hit(secret, date8, region, service)) {
        memcpy(key, k->key, 32);
        return 0;
    }
    if (derive_key(secret, date8, region, service, key) != 0)
        return -1;
    pthread_once(&key_cache_once, key_cache_init);
    if (!cacheable || !key_cache_ready || pthread_setspecific(key_cache_key, k) != 0)
        return 0;
    dr_wipe(k, sizeof *k);
    snprintf(k->secret, sizeof k->secret, "%s", secret);
    snprintf(k->date8, sizeof k->date8, "%s", date8);
    snprintf(k->region, sizeof k->region, "%s", region);
    snprintf(k->service, sizeof k->service, "%s", service);
    memcpy(k->key, key, 32);
    k->valid = 1;
    return 0;
}

/* ---- time */

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int read_digits(const char *s, int n, long *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* "20150830T123600Z" or "2015-08-30T12:36:00Z" (UTC) to time_t; 0 or -1. */
int dr_sigv4_parse_time(const char *s, time_t *t)
{
    /* offsets of year, month, day, hour, minute, second in each form */
    static const int basic[] = {0, 4, 6, 9, 11, 13}, extended[] = {0, 5, 8, 11, 14, 17};
    static const int width[] = {4, 2, 2, 2, 2, 2};
    size_t len = s ? strlen(s) : 0;
    const int *at = len == 16 ? basic : len == 20 ? extended : NULL;
    long f[6];
    if (!at || s[len - 1] != 'Z' || s[at[3] - 1] != 'T')
        return -1;
    if (at == extended && (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':'))
        return -1;
    for (int i = 0; i < 6; i++)
        if (read_digits(s + at[i], width[i], &f[i]))
            return -1;
    if (f[5] > 59) /* no leap second in a signing time */
        return -1;
    return dr_isotime_from_fields((int)f[0], (int)f[1], (int)f[2], (int)f[3], (int)f[4], (int)f[5],
                                  t);
}

/* Now, or DBTRUN_TEST_CLOCK when set; -1 and err when that is malformed. */
int dr_sigv4_now(time_t *t, char *err, size_t errlen)
{
    const char *forced = getenv(DR_SIGV4_CLOCK_ENV);
    if (!forced || !*forced) {
        *t = time(NULL);
        return 0;
    }
    if (dr_sigv4_parse_time(forced, t) == 0)
        return 0;
    set_err(err, errlen, DR_SIGV4_CLOCK_ENV " must look like 20150830T123600Z");
    return -1;
}

static int format_amz_date(time_t t, char out[17])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return -1;
    return 0;
}

/* ---- canonical URI */

/* Removes "." and ".." segments and empty segments (duplicate slashes);
 * keeps a trailing slash only when the path ends with '/': "/a/." and
 * "/a/b/.." sign as "/a", as botocore and the other AWS SDKs do (RFC 3986
 * would give "/a/"). Returns a string the caller frees, or NULL. */
static char *normalize_path(const char *path)
{
    size_t len = strlen(path);
    char *out = malloc(len + 2);
    size_t n = 0;
    int dir_ending = 1;
    if (!out)
        return NULL;
    for (const char *seg = path; seg <= path + len;) {
        const char *end = strchr(seg, '/');
        size_t seglen = end ? (size_t)(end - seg) : strlen(seg);
        dir_ending = seglen == 0;
        if (seglen == 2 && seg[0] == '.' && seg[1] == '.') {
            while (n > 0 && out[--n] != '/')
                ;
        } else if (seglen && !(seglen == 1 && seg[0] == '.')) {
            out[n++] = '/';
            memcpy(out + n, seg, seglen);
            n += seglen;
        }
        seg += seglen + 1;
    }
    if (n == 0 || dir_ending)
        out[n++] = '/';
    out[n] = '\0';
    return out;
}

/* Generic rules encode the sent path once more (so "%20" signs as "%2520");
 * S3 decodes it first so that the key is encoded exactly once. */
static const char *put_canonical_uri(struct dr_buf *t, const char *path, unsigned flags)
{
    size_t len = 0;
    char *work;
    if (!*path)
        path = "/";
    if (flags & DR_SIGV4_S3)
        work = percent_decode(path, strlen(path), &len);
    else if (flags & DR_SIGV4_NO_NORMALIZE)
        work = strdup(path);
    else
        work = normalize_path(path);
    if (!work)
        return "out of memory";
    if (!(flags & DR_SIGV4_S3))
        len = strlen(work);
    put_encoded(t, work, len, 1);
    free(work);
    return NULL;
}

/* ---- canonical query */

struct param {
    char *key; /* encoded */
    char *value;
};

struct params {
    struct param *v;
    size_t n, cap;
};

static void params_free(struct params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].key);
        free(ps->v[i].value);
    }
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

/* Adds one parameter from raw (decoded) bytes. 0, or -1 on failure. */
static int params_add(struct params *ps, const char *k, size_t klen, const char *v, size_t vlen)
{
    struct param *nv = dr_grow(ps->v, &ps->cap, ps->n + 1, sizeof *nv, DR_SIGV4_MAX / sizeof *nv);
    if (!nv)
        return -1;
    ps->v = nv;
    struct param *p = &ps->v[ps->n];
    p->key = dr_sigv4_uri_encode(k, klen, 0);
    p->value = dr_sigv4_uri_encode(v, vlen, 0);
    ps->n++;
    return p->key && p->value ? 0 : -1;
}

static int params_add_str(struct params *ps, const char *k, const char *v)
{
    return params_add(ps, k, strlen(k), v, strlen(v));
}

/* Splits a sent query on '&' and the first '=', decodes each side and adds
 * it re-encoded, so "a=%7e" and "a=~" sign alike. */
static int params_parse(struct params *ps, const char *query, int drop_signature)
{
    for (const char *item = query; item && *item;) {
        const char *end = strchr(item, '&');
        size_t len = end ? (size_t)(end - item) : strlen(item);
        const char *eq = memchr(item, '=', len);
        size_t klen = eq ? (size_t)(eq - item) : len, vlen = eq ? len - klen - 1 : 0;
        size_t kdec = 0, vdec = 0;
        char *k = percent_decode(item, klen, &kdec);
        char *v = percent_decode(eq ? eq + 1 : "", vlen, &vdec);
        int rc = k && v ? 0 : -1;
        int keep = rc == 0 && len > 0 && !(drop_signature && strcmp(k, "X-Amz-Signature") == 0);
        if (keep)
            rc = params_add(ps, k, kdec, v, vdec);
        free(k);
        free(v);
        if (rc)
            return -1;
        item += len + (end ? 1 : 0);
    }
    return 0;
}

static int param_cmp(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

static void put_params(struct dr_buf *t, struct params *ps)
{
    if (ps->n > 1)
        qsort(ps->v, ps->n, sizeof *ps->v, param_cmp);
    for (size_t i = 0; i < ps->n; i++) {
        if (i)
            text_putc(t, '&');
        text_puts(t, ps->v[i].key);
        text_putc(t, '=');
        text_puts(t, ps->v[i].value);
    }
}

/* ---- canonical headers */

struct canon_header {
    char *name;  /* lowercase */
    char *value; /* trimmed, whitespace runs collapsed */
    size_t order;
};

struct headers {
    struct canon_header *v;
    size_t n;
};

static void headers_free(struct headers *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        free(hs->v[i].name);
        free(hs->v[i].value);
    }
    free(hs->v);
    memset(hs, 0, sizeof *hs);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims the value and turns every run of whitespace, line breaks of folded
 * multi-line values included, into one space. Caller frees; NULL on OOM. */
static char *canonical_value(const char *value)
{
    char *out = malloc(strlen(value) + 1);
    size_t n = 0;
    if (!out)
        return NULL;
    for (const char *c = value; *c; c++) {
        if (!is_space(*c))
            out[n++] = *c;
        else if (n && out[n - 1] != ' ')
            out[n++] = ' ';
    }
    if (n && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    return out;
}

static char *lowercase(const char *s)
{
    char *out = strdup(s);
    for (char *c = out; c && *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return out;
}

/* Headers the signer supplies itself, or that proxies and curl rewrite. */
static int is_unsigned_header(const char *lname)
{
    static const char *const skip[] = {
        "authorization",     "connection",           "expect",
        "transfer-encoding", "user-agent",           "x-amzn-trace-id",
        "x-amz-date",        "x-amz-security-token", NULL};
    for (int i = 0; skip[i]; i++)
        if (strcmp(lname, skip[i]) == 0)
            return 1;
    return 0;
}

static int headers_add(struct headers *hs, const char *name, const char *value)
{
    struct canon_header *h = &hs->v[hs->n];
    h->name = lowercase(name);
    h->value = canonical_value(value ? value : "");
    h->order = hs->n++;
    return h->name && h->value ? 0 : -1;
}

static void headers_drop_last(struct headers *hs)
{
    hs->n--;
    free(hs->v[hs->n].name);
    free(hs->v[hs->n].value);
    memset(&hs->v[hs->n], 0, sizeof hs->v[hs->n]);
}

static int header_cmp(const void *a, const void *b)
{
    const struct canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Writes "name:v1,v2\n" per distinct name into `canonical` and "a;b" into
 * `signed_names`; the list must be sorted. */
static void put_headers(const struct headers *hs, struct dr_buf *canonical,
                        struct dr_buf *signed_names)
{
    for (size_t i = 0; i < hs->n; i++) {
        int first = i == 0 || strcmp(hs->v[i].name, hs->v[i - 1].name) != 0;
        int last = i + 1 == hs->n || strcmp(hs->v[i].name, hs->v[i + 1].name) != 0;
        if (first) {
            if (i)
                text_putc(signed_names, ';');
            text_puts(signed_names, hs->v[i].name);
            text_puts(canonical, hs->v[i].name);
            text_putc(canonical, ':');
        } else {
            text_putc(canonical, ',');
        }
        text_puts(canonical, hs->v[i].value);
        if (last)
            text_putc(canonical, '\n');
    }
}

/* ---- the signing run */

struct signing {
    const struct dr_sigv4_request *req;
    const struct dr_sigv4_credentials *cred;
    const struct dr_sigv4_params *p;
    const char *payload;
    const char *token; /* NULL when there is none */
    int presign, content_header;
    char dl_err[DR_DL_ERRLEN]; /* why libcrypto could not be loaded */
    char *scope;               /* 20150830/us-east-1/service/aws4_request */
    char *credential;
    struct headers headers;
    char *canonical_headers;
    struct params params;
    char *canonical_query;
};

static void signing_free(struct signing *s)
{
    free(s->scope);
    free(s->credential);
    headers_free(&s->headers);
    free(s->canonical_headers);
    params_free(&s->params);
    free(s->canonical_query);
}

static int is_empty(const char *s)
{
    return !s || !*s;
}

static const char *check_inputs(const struct dr_sigv4_request *req,
                                const struct dr_sigv4_credentials *cred,
                                const struct dr_sigv4_params *p)
{
    if (!req || !cred || !p || is_empty(req->method))
        return "request, credentials, parameters and method are required";
    if (is_empty(cred->access_key_id) || is_empty(cred->secret_access_key))
        return "credentials need an access key id and a secret access key";
    if (is_empty(p->region) || is_empty(p->service))
        return "region and service are required";
    if (req->nheaders && !req->headers)
        return "nheaders is set but headers is NULL";
    if (req->nheaders > DR_SIGV4_MAX_HEADERS)
        return "too many headers";
    if (req->payload_sha256 && (!*req->payload_sha256 || strchr(req->payload_sha256, '\n')))
        return "payload hash is malformed";
    if ((p->flags & DR_SIGV4_PRESIGN) && (p->expires < 1 || p->expires > DR_SIGV4_EXPIRES_MAX))
        return "presign expiry must be 1 to 604800 seconds";
    return NULL;
}

static const char *start_signing(struct signing *s, struct dr_sigv4_result *out)
{
    unsigned flags = s->p->flags;
    char amz_date[17], date8[9];
    if (format_amz_date(s->p->time, amz_date))
        return "signing time is out of range";
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    s->presign = (flags & DR_SIGV4_PRESIGN) != 0;
    s->content_header = !s->presign && (flags & (DR_SIGV4_S3 | DR_SIGV4_CONTENT_SHA256));
    s->token = is_empty(s->cred->session_token) ? NULL : s->cred->session_token;
    s->payload = s->req->payload_sha256;
    if (!s->payload)
        s->payload =
            s->presign && (flags & DR_SIGV4_S3) ? DR_SIGV4_UNSIGNED_PAYLOAD : DR_SIGV4_EMPTY_SHA256;
    out->amz_date = strdup(amz_date);
    s->scope =
        concat(date8, "/", s->p->region, "/", s->p->service, "/", SCOPE_TERMINATOR, (char *)NULL);
    s->credential = concat(s->cred->access_key_id, "/", s->scope ? s->scope : "", (char *)NULL);
    return out->amz_date && s->scope && s->credential ? NULL : "out of memory";
}

/* The caller's headers, less those the signer owns or must not sign. */
static const char *collect_request_headers(struct signing *s, int *has_host)
{
    const struct dr_sigv4_request *req = s->req;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name;
        if (is_empty(name) || strpbrk(name, ": \t\r\n"))
            return "a header name is empty or malformed";
        if (headers_add(&s->headers, name, req->headers[i].value))
            return "out of memory";
        const char *lname = s->headers.v[s->headers.n - 1].name;
        *has_host |= strcmp(lname, "host") == 0;
        if (is_unsigned_header(lname) ||
            (s->content_header && strcmp(lname, "x-amz-content-sha256") == 0))
            headers_drop_last(&s->headers);
    }
    return *has_host ? NULL : "a host header is required";
}

static const char *collect_headers(struct signing *s, struct dr_sigv4_result *out)
{
    int has_host = 0, sign_token = s->token && !(s->p->flags & DR_SIGV4_TOKEN_UNSIGNED);
    struct dr_buf canonical = TEXT_INIT, names = TEXT_INIT;
    const char *why;
    s->headers.v = calloc(s->req->nheaders + 3, sizeof *s->headers.v);
    if (!s->headers.v)
        return "out of memory";
    if ((why = collect_request_headers(s, &has_host)) != NULL)
        return why;
    if ((!s->presign && headers_add(&s->headers, "x-amz-date", out->amz_date)) ||
        (s->content_header && headers_add(&s->headers, "x-amz-content-sha256", s->payload)) ||
        (!s->presign && sign_token && headers_add(&s->headers, "x-amz-security-token", s->token)))
        return "out of memory";
    qsort(s->headers.v, s->headers.n, sizeof *s->headers.v, header_cmp);
    put_headers(&s->headers, &canonical, &names);
    s->canonical_headers = text_take(&canonical);
    out->signed_headers = text_take(&names);
    return s->canonical_headers && out->signed_headers ? NULL
                                                       : "headers too large or out of memory";
}

static const char *collect_params(struct signing *s, struct dr_sigv4_result *out)
{
    struct dr_buf t = TEXT_INIT;
    char expires[16];
    if (params_parse(&s->params, s->req->query, s->presign))
        return "query too large or out of memory";
    if (s->presign) {
        snprintf(expires, sizeof expires, "%u", s->p->expires);
        if (params_add_str(&s->params, "X-Amz-Algorithm", DR_SIGV4_ALGORITHM) ||
            params_add_str(&s->params, "X-Amz-Credential", s->credential) ||
            params_add_str(&s->params, "X-Amz-Date", out->amz_date) ||
            params_add_str(&s->params, "X-Amz-Expires", expires) ||
            params_add_str(&s->params, "X-Amz-SignedHeaders", out->signed_headers) ||
            (s->token && !(s->p->flags & DR_SIGV4_TOKEN_UNSIGNED) &&
             params_add_str(&s->params, "X-Amz-Security-Token", s->token)))
            return "out of memory";
    }
    put_params(&t, &s->params);
    s->canonical_query = text_take(&t);
    return s->canonical_query ? NULL : "query too large or out of memory";
}

static const char *build_canonical_request(struct signing *s, struct dr_sigv4_result *out)
{
    struct dr_buf t = TEXT_INIT;
    const char *why;
    text_puts(&t, s->req->method);
    text_putc(&t, '\n');
    if ((why = put_canonical_uri(&t, s->req->path ? s->req->path : "/", s->p->flags)) != NULL) {
        free(text_take(&t));
        return why;
    }
    text_putc(&t, '\n');
    text_puts(&t, s->canonical_query);
    text_putc(&t, '\n');
    text_puts(&t, s->canonical_headers);
    text_putc(&t, '\n');
    text_puts(&t, out->signed_headers);
    text_putc(&t, '\n');
    text_puts(&t, s->payload);
    out->canonical_request = text_take(&t);
    return out->canonical_request ? NULL : "canonical request too large or out of memory";
}

static const char *build_string_to_sign(struct signing *s, struct dr_sigv4_result *out)
{
    char digest[65];
    const char *creq = out->canonical_request;
    if (dr_sigv4_sha256_hex(creq, strlen(creq), digest))
        return "SHA-256 failed";
    out->string_to_sign =
        concat(DR_SIGV4_ALGORITHM, "\n", out->amz_date, "\n", s->scope, "\n", digest, (char *)NULL);
    return out->string_to_sign ? NULL : "out of memory";
}

static const char *compute_signature(struct signing *s, struct dr_sigv4_result *out)
{
    unsigned char key[32], mac[32];
    char date8[9];
    const char *why = NULL;
    memcpy(date8, out->amz_date, 8);
    date8[8] = '\0';
    if (signing_key(s->cred->secret_access_key, date8, s->p->region, s->p->service, key) ||
        hmac_sha256(key, sizeof key, out->string_to_sign, mac))
        why = "HMAC-SHA256 failed";
    else
        dr_hex(mac, sizeof mac, out->signature);
    dr_crypto.OPENSSL_cleanse(key, sizeof key);
    return why;
}

static void add_header(struct dr_sigv4_result *out, const char *name, const char *value)
{
    out->add[out->nadd].name = name;
    out->add[out->nadd].value = value;
    out->nadd++;
}

static const char *finish_header_mode(struct signing *s, struct dr_sigv4_result *out)
{
    out->authorization = concat(DR_SIGV4_ALGORITHM " Credential=", s->credential,
                                ", SignedHeaders=", out->signed_headers,
                                ", Signature=", out->signature, (char *)NULL);
    if (s->content_header)
        out->content_sha256 = strdup(s->payload);
    if (s->token)
        out->security_token = strdup(s->token);
    if (!out->authorization || (s->content_header && !out->content_sha256) ||
        (s->token && !out->security_token))
        return "out of memory";
    add_header(out, "x-amz-date", out->amz_date);
    if (out->content_sha256)
        add_header(out, "x-amz-content-sha256", out->content_sha256);
    if (out->security_token)
        add_header(out, "x-amz-security-token", out->security_token);
    add_header(out, "authorization", out->authorization);
    return NULL;
}

static const char *finish_presign(struct signing *s, struct dr_sigv4_result *out)
{
    struct dr_buf t = TEXT_INIT;
    text_puts(&t, s->canonical_query);
    text_puts(&t, "&X-Amz-Signature=");
    text_puts(&t, out->signature);
    if (s->token && (s->p->flags & DR_SIGV4_TOKEN_UNSIGNED)) {
        text_puts(&t, "&X-Amz-Security-Token=");
        put_encoded(&t, s->token, strlen(s->token), 0);
    }
    out->query = text_take(&t);
    return out->query ? NULL : "query too large or out of memory";
}

/* Signs a request (contract in sigv4.h). 0 and *out filled, caller frees it
 * with dr_sigv4_result_free; or -1, *out empty, message in err. */
int dr_sigv4_sign(const struct dr_sigv4_request *req, const struct dr_sigv4_credentials *cred,
                  const struct dr_sigv4_params *p, struct dr_sigv4_result *out, char *err,
                  size_t errlen)
{
    struct signing s;
    const char *why;
    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    s.req = req;
    s.cred = cred;
    s.p = p;
    if ((why = check_inputs(req, cred, p)) != NULL)
        goto out;
    if (dr_dl_crypto(s.dl_err, sizeof s.dl_err) != 0) {
        why = s.dl_err;
        goto out;
    }
    if ((why = start_signing(&s, out)) || (why = collect_headers(&s, out)) ||
        (why = collect_params(&s, out)) || (why = build_canonical_request(&s, out)) ||
        (why = build_string_to_sign(&s, out)) || (why = compute_signature(&s, out)))
        goto out;
    why = s.presign ? finish_presign(&s, out) : finish_header_mode(&s, out);
out:
    signing_free(&s);
    if (why) {
        set_err(err, errlen, why);
        dr_sigv4_result_free(out);
        return -1;
    }
    return 0;
}

/* Frees a result's strings and zeroes it; idempotent, NULL-safe. */
void dr_sigv4_result_free(struct dr_sigv4_result *r)
{
    if (!r)
        return;
    free(r->amz_date);
    free(r->canonical_request);
    free(r->string_to_sign);
    free(r->signed_headers);
    free(r->authorization);
    free(r->query);
    free(r->content_sha256);
    free(r->security_token);
    memset(r, 0, sizeof *r);
}
