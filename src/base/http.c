/* http: one HTTP exchange over libcurl's easy interface, called through the
 * dl.h table. Handles are kept in a small pool so connections stay alive
 * between calls and threads (s3 part uploads) never share one. Knows nothing
 * of AWS: signing, retries and error bodies are aws.c's. */
#include "dbtrun/http.h"
#include "dbtrun/buf.h"
#include "dbtrun/wipe.h"
#include "dbtrun/dl.h"
#include "dbtrun/proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define POOL_MAX 16                  /* idle handles kept (one per concurrent transfer) */
#define HEADERS_MAX 256              /* cap on response header lines */
#define HEADER_BYTES_MAX (64u << 10) /* cap on response header bytes */
#define CONNECT_TIMEOUT_MS 10000L
#define FILE_BUFFER_SIZE (256L << 10) /* receive buffer for bodies going to a file */
#define LOW_SPEED_TIME_S 60L
#define NO_CONNECT_TIMEOUT_MS ((long)INT_MAX) /* "no timeout": curl's 0 would mean 300 s */
#define USER_AGENT "dbtrun/" DR_VERSION

/* The only mutable globals: idle easy handles, each with its connection
 * cache, and the lock that guards them (plus each thread's own handle, below). */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[POOL_MAX];
static size_t pool_len;

/* State of one exchange, shared with the callbacks. */
struct exchange {
    const struct dr_http_request *req;
    struct dr_http_response *resp;
    size_t max_body;
    size_t body_cap;
    size_t headers_cap;
    size_t header_bytes;
    int head;          /* HEAD: no body will come */
    int to_file;       /* the current response's body goes to out_path */
    int out_fd;        /* -1 until out_path is opened */
    int in_fd;         /* body_path, -1 when the body is in memory or produced */
    int interrupted;   /* a SIGINT/SIGTERM/SIGHUP stopped the transfer */
    int signals;       /* dr_proc_signal_count() when the exchange began */
    long long sent;    /* request body bytes handed to curl */
    long long written; /* body bytes of the current response written out */
    char *wbuf;        /* file-bound body bytes not yet written (curl hands over
                          16 KiB at a time: one write per FILE_BUFFER_SIZE instead) */
    size_t wlen;
    long long reported_done, reported_total; /* what on_bytes was told */
    char failure[256];                       /* why a callback stopped the transfer ("" if none) */
};

/* Each thread keeps the handle it used last (curl reallocates inside it on
 * every request: a handle that moved to another thread frees into the first
 * one's malloc arena and takes its lock, which sync's workers contended on).
 * The handle goes back to the pool when its thread ends (park). */
static pthread_key_t own_key;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;
static int own_ready;

static void pool_put(CURL *h)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_len < POOL_MAX) {
        pool[pool_len++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    if (h)
        dr_curl.curl_easy_cleanup(h);
}

static void park(void *h)
{
    pool_put(h);
}

static void own_init(void)
{
    own_ready = pthread_key_create(&own_key, park) == 0;
}

static CURL *acquire(void)
{
    CURL *h = NULL;
    pthread_once(&own_once, own_init);
    if (own_ready && (h = pthread_getspecific(own_key)) != NULL) {
        pthread_setspecific(own_key, NULL);
        return h;
    }
    pthread_mutex_lock(&pool_lock);
    if (pool_len > 0)
        h = pool[--pool_len];
    pthread_mutex_unlock(&pool_lock);
    return h ? h : dr_curl.curl_easy_init();
}

static void release(CURL *h)
{
    if (!h)
        return;
    /* options (pointers into the caller's stack) go, live connections stay */
    dr_curl.curl_easy_reset(h);
    if (own_ready && !pthread_getspecific(own_key) && pthread_setspecific(own_key, h) == 0)
        return;
    pool_put(h);
}

/* Makes room for `need` body bytes plus the NUL, within the cap. Grows by
 * copying and wiping, not realloc, so no stale copy of a body stays behind:
 * that is why this is not a dr_buf (which reallocs), as bodies carry
 * credentials (STS, IMDS, Secrets Manager). */
static int body_reserve(struct exchange *ex, size_t need)
{
    struct dr_http_response *r = ex->resp;
    if (need + 1 <= ex->body_cap)
        return 0;
    size_t cap = ex->body_cap ? ex->body_cap * 2 : 4096;
    if (cap < need + 1)
        cap = need + 1;
    if (cap > ex->max_body + 1)
        cap = ex->max_body + 1;
    char *grown = malloc(cap);
    if (!grown)
        return -1;
    if (r->body) {
        memcpy(grown, r->body, r->body_len + 1);
        dr_wipe(r->body, ex->body_cap);
        free(r->body);
    } else {
        grown[0] = '\0';
    }
    r->body = grown;
    ex->body_cap = cap;
    return 0;
}

static void headers_clear(struct dr_http_response *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        free((void *)r->headers[i].name); /* the value shares that allocation */
    r->nheaders = 0;
}

/* "HTTP/1.1 200 OK": the status code, or 0 when the line is not one. */
static long parse_status(const char *line, size_t len)
{
    size_t i = 0;
    long status = 0;
    if (len < 5 || memcmp(line, "HTTP/", 5) != 0)
        return 0;
    while (i < len && line[i] != ' ')
        i++;
    while (i < len && line[i] == ' ')
        i++;
    for (int digits = 0; digits < 3; digits++, i++) {
        if (i >= len || !isdigit((unsigned char)line[i]))
            return 0;
        status = status * 10 + (line[i] - '0');
    }
    return status;
}

static int open_out(struct exchange *ex)
{
    if (ex->out_fd >= 0)
        return ftruncate(ex->out_fd, 0) == 0 && lseek(ex->out_fd, 0, SEEK_SET) == 0 ? 0 : -1;
    ex->out_fd = open(ex->req->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    return ex->out_fd >= 0 ? 0 : -1;
}

/* Stores "name: value" with the name lower-cased. 0, or -1 over a cap. */
static int header_add(struct exchange *ex, const char *line, size_t len)
{
    struct dr_http_response *r = ex->resp;
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line || line[0] == ' ' || line[0] == '\t')
        return 0; /* not a header (or an obsolete folded line): ignored */
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (r->nheaders >= HEADERS_MAX || ex->header_bytes + nlen + vlen > HEADER_BYTES_MAX) {
        snprintf(ex->failure, sizeof ex->failure, "response headers too large");
        return -1;
    }
    struct dr_http_header *grown =
        dr_grow(r->headers, &ex->headers_cap, r->nheaders + 1, sizeof *grown, HEADERS_MAX);
    if (!grown)
        goto oom;
    r->headers = grown;
    char *text = malloc(nlen + vlen + 2);
    if (!text)
        goto oom;
    for (size_t i = 0; i < nlen; i++)
        text[i] = (char)tolower((unsigned char)line[i]);
    text[nlen] = '\0';
    memcpy(text + nlen + 1, v, vlen);
    text[nlen + 1 + vlen] = '\0';
    r->headers[r->nheaders].name = text;
    r->headers[r->nheaders].value = text + nlen + 1;
    r->nheaders++;
    ex->header_bytes += nlen + vlen;
    return 0;
oom:
    snprintf(ex->failure, sizeof ex->failure, "out of memory");
    return -1;
}

/* End of a header block: the status is known, so choose where the body
 * goes; a known Content-Length sizes the memory body in one allocation. */
static int headers_done(struct exchange *ex)
{
    struct dr_http_response *r = ex->resp;
    const char *clen;
    if (r->status >= 100 && r->status < 200)
        return 0; /* an interim response; the real one follows */
    if (r->status >= 200 && r->status < 300 && ex->req->on_headers &&
        ex->req->on_headers(ex->req->on_headers_ctx, r, ex->failure, sizeof ex->failure) != 0) {
        if (!ex->failure[0])
            snprintf(ex->failure, sizeof ex->failure, "stopped after the response headers");
        return -1;
    }
    if (r->status >= 200 && r->status < 300 && ex->req->out_fd && !ex->head) {
        ex->to_file = 1;
        return 0;
    }
    if (r->status >= 200 && r->status < 300 && ex->req->out_path && !ex->head) {
        if (open_out(ex) != 0) {
            snprintf(ex->failure, sizeof ex->failure, "cannot write %s: %s", ex->req->out_path,
                     strerror(errno));
            return -1;
        }
        ex->to_file = 1;
        return 0;
    }
    if (!ex->head && (clen = dr_http_header_get(r, "content-length"))) {
        char *end;
        unsigned long long n = strtoull(clen, &end, 10);
        if (*end == '\0' && n <= ex->max_body && body_reserve(ex, (size_t)n) != 0) {
            snprintf(ex->failure, sizeof ex->failure, "out of memory");
            return -1;
        }
    }
    return 0;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct exchange *ex = ud;
    size_t len = size * nitems;
    long status = parse_status(line, len);
    if (status) {
        /* a new response (after 100 Continue, say): forget the last one's headers */
        ex->resp->status = status;
        ex->to_file = 0;
        ex->written = 0;
        ex->wlen = 0;
        headers_clear(ex->resp);
        ex->header_bytes = 0;
        return len;
    }
    if ((len == 2 && line[0] == '\r' && line[1] == '\n') || (len == 1 && line[0] == '\n'))
        return headers_done(ex) == 0 ? len : 0;
    return header_add(ex, line, len) == 0 ? len : 0;
}

/* Writes len bytes to the output file: out_fd at its offset, or out_path's
 * descriptor. 0, or -1 with ex->failure set. */
static int file_write(struct exchange *ex, const char *data, size_t len)
{
    const struct dr_http_request *req = ex->req;
    for (size_t done = 0; done < len;) {
        ssize_t n = req->out_fd ? pwrite(*req->out_fd, data + done, len - done,
                                         (off_t)(req->out_offset + ex->written))
                                : write(ex->out_fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(ex->failure, sizeof ex->failure, "cannot write %s: %s",
                     req->out_path ? req->out_path : "the download",
                     n < 0 ? strerror(errno) : "short write");
            return -1;
        }
        done += (size_t)n;
        ex->written += n;
    }
    return 0;
}

/* Writes out what wbuf holds. 0, or -1 with ex->failure set. */
static int file_flush(struct exchange *ex)
{
    size_t n = ex->wlen;
    ex->wlen = 0;
    return n ? file_write(ex, ex->wbuf, n) : 0;
}

/* A body chunk for the file, gathered into wbuf when there is one. */
static int file_add(struct exchange *ex, const char *data, size_t len)
{
    if (!ex->wbuf && !(ex->wbuf = malloc(FILE_BUFFER_SIZE)))
        return file_write(ex, data, len);
    if (ex->wlen + len > FILE_BUFFER_SIZE && file_flush(ex) != 0)
        return -1;
    if (len >= FILE_BUFFER_SIZE)
        return file_write(ex, data, len);
    memcpy(ex->wbuf + ex->wlen, data, len);
    ex->wlen += len;
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nitems, void *ud)
{
    struct exchange *ex = ud;
    struct dr_http_response *r = ex->resp;
    size_t len = size * nitems;
    if (ex->to_file)
        return file_add(ex, data, len) == 0 ? len : 0;
    if (len > ex->max_body - r->body_len) {
        snprintf(ex->failure, sizeof ex->failure, "response body larger than %zu bytes",
                 ex->max_body);
        return 0;
    }
    if (body_reserve(ex, r->body_len + len) != 0) {
        snprintf(ex->failure, sizeof ex->failure, "out of memory");
        return 0;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

/* Request body: body_len bytes from memory, from body_path at body_offset,
 * or from body_read. */
static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct exchange *ex = ud;
    const struct dr_http_request *req = ex->req;
    size_t want = size * nitems;
    long long left = (long long)req->body_len - ex->sent;
    if (left <= 0)
        return 0;
    if ((long long)want > left)
        want = (size_t)left;
    if (req->body_read) {
        long got = req->body_read(req->body_read_ctx, buf, want, ex->sent, ex->failure,
                                  sizeof ex->failure);
        if (got <= 0 || (size_t)got > want) {
            if (!ex->failure[0])
                snprintf(ex->failure, sizeof ex->failure, "the request body ended early");
            return CURL_READFUNC_ABORT;
        }
        ex->sent += got;
        return (size_t)got;
    }
    if (ex->in_fd < 0) {
        memcpy(buf, (const char *)req->body + ex->sent, want);
        ex->sent += (long long)want;
        return want;
    }
    ssize_t n;
    do
        n = pread(ex->in_fd, buf, want, (off_t)(req->body_offset + ex->sent));
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        snprintf(ex->failure, sizeof ex->failure, "cannot read %s: %s", req->body_path,
                 n < 0 ? strerror(errno) : "file is shorter than expected");
        return CURL_READFUNC_ABORT;
    }
    ex->sent += n;
    return (size_t)n;
}

/* curl rewinds the body when it resends on a fresh connection. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct exchange *ex = ud;
    if (origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    if (offset < 0 || offset > (curl_off_t)ex->req->body_len)
        return CURL_SEEKFUNC_FAIL;
    if (ex->req->body_read && offset != 0) /* a producer only starts over */
        return CURL_SEEKFUNC_CANTSEEK;
    ex->sent = (long long)offset;
    return CURL_SEEKFUNC_OK;
}

/* Tells req->on_bytes how far the payload got: the request body when there
 * is one, else the response body. A produced body's framing is left out
 * (in proportion), so the line counts the file's bytes. */
static void report_bytes(struct exchange *ex, long long now, long long total)
{
    const struct dr_http_request *req = ex->req;
    if (req->body_read && req->progress_len > 0 && req->body_len > 0 && total > 0) {
        now = (long long)((double)now * (double)req->progress_len / (double)req->body_len);
        total = req->progress_len;
    }
    if (!req->on_bytes || (now == ex->reported_done && total == ex->reported_total))
        return;
    req->on_bytes(req->on_bytes_ctx, now - ex->reported_done, total - ex->reported_total);
    ex->reported_done = now;
    ex->reported_total = total;
}

/* curl calls this about once a second even on a stalled connection, so an
 * interrupt (the flag proc.c's handler sets) ends a transfer within one;
 * and as data moves, so it also reports progress. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct exchange *ex = ud;
    if (ex->req->body || ex->req->body_path || ex->req->body_read)
        report_bytes(ex, (long long)ulnow, (long long)ultotal);
    else if (ex->resp->status >= 200 && ex->resp->status < 300) /* not an error's body */
        report_bytes(ex, (long long)dlnow, (long long)dltotal);
    if (dr_proc_signal_count() == ex->signals)
        return 0;
    ex->interrupted = 1;
    snprintf(ex->failure, sizeof ex->failure, "interrupted by signal %d", dr_proc_last_signal());
    return 1;
}

/* The last report of an exchange: all the payload when it made a 2xx (curl
 * may not have called on_progress since the last bytes), else nothing, as
 * bytes that did not make a 2xx are resent by the retry. */
static void report_end(CURL *h, struct exchange *ex, int ok)
{
    curl_off_t moved = 0;
    int upload = ex->req->body || ex->req->body_path || ex->req->body_read;
    if (!ex->req->on_bytes)
        return;
    if (!ok) {
        report_bytes(ex, 0, 0);
        return;
    }
    dr_curl.curl_easy_getinfo(h, upload ? CURLINFO_SIZE_UPLOAD_T : CURLINFO_SIZE_DOWNLOAD_T,
                              &moved);
    report_bytes(ex, (long long)moved,
                 ex->reported_total > (long long)moved ? ex->reported_total : (long long)moved);
}

/* Failures worth retrying: the network, not this side or the TLS checks. */
static int is_transport(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static int has_header(const struct dr_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return 1;
    return 0;
}

/* The request headers as a curl list (caller frees with curl_slist_free_all),
 * or NULL when out of memory. */
static struct curl_slist *make_headers(const struct dr_http_request *req, int post)
{
    struct curl_slist *list = NULL, *next;
    char line[8192];
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name;
        const char *value = req->headers[i].value ? req->headers[i].value : "";
        size_t nlen = strlen(name), vlen = strlen(value), n = *value ? nlen + 2 + vlen : nlen + 1;
        /* "Name;" is curl's way to send a header with an empty value; joined
         * by hand, as snprintf was most of this loop's time */
        if (n >= sizeof line)
            goto fail;
        memcpy(line, name, nlen);
        if (*value) {
            memcpy(line + nlen, ": ", 2);
            memcpy(line + nlen + 2, value, vlen + 1);
        } else {
            memcpy(line + nlen, ";", 2);
        }
        if (!(next = dr_curl.curl_slist_append(list, line)))
            goto fail;
        list = next;
    }
    /* no 100-continue round trip; and no form Content-Type curl would invent for POST */
    if (!(next = dr_curl.curl_slist_append(list, "Expect:")))
        goto fail;
    list = next;
    if (post && !has_header(req, "content-type")) {
        if (!(next = dr_curl.curl_slist_append(list, "Content-Type:")))
            goto fail;
        list = next;
    }
    return list;
fail:
    dr_curl.curl_slist_free_all(list);
    return NULL;
}

/* Sets the method and the request body. */
static void set_method(CURL *h, struct exchange *ex)
{
    const struct dr_http_request *req = ex->req;
    const char *m = req->method;
    int has_body = req->body || req->body_path || req->body_read;
    if (strcmp(m, "HEAD") == 0) {
        dr_curl.curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "GET") == 0 && !has_body) {
        dr_curl.curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "POST") == 0 && !req->body_path && !req->body_read) {
        dr_curl.curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        dr_curl.curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)(req->body ? req->body_len : 0));
    } else if (strcmp(m, "PUT") == 0 && req->body && !req->body_path) {
        /* as fields, a small body leaves in the same send as the headers */
        dr_curl.curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)req->body);
        dr_curl.curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        dr_curl.curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        return;
    } else if (strcmp(m, "POST") == 0) {
        dr_curl.curl_easy_setopt(h, CURLOPT_POST, 1L);
        dr_curl.curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(m, "PUT") == 0 || has_body) {
        dr_curl.curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        dr_curl.curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                                 (curl_off_t)(has_body ? req->body_len : 0));
        if (strcmp(m, "PUT") != 0)
            dr_curl.curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    } else {
        dr_curl.curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }
    if (has_body) {
        dr_curl.curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        dr_curl.curl_easy_setopt(h, CURLOPT_READDATA, ex);
        dr_curl.curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        dr_curl.curl_easy_setopt(h, CURLOPT_SEEKDATA, ex);
    }
}

/* Where to connect and how long to wait: the same for every request. */
static void set_transport(CURL *h, const struct dr_http_request *req)
{
    const char *ca_bundle = getenv("AWS_CA_BUNDLE");
    dr_curl.curl_easy_setopt(h, CURLOPT_URL, req->url);
    dr_curl.curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    dr_curl.curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* S3 keys may hold "/../" */
    /* HTTP/1.1, as the SDKs speak it to AWS (S3 has no HTTP/2) */
    dr_curl.curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    dr_curl.curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    dr_curl.curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    dr_curl.curl_easy_setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    dr_curl.curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
    dr_curl.curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                             req->connect_timeout_ms > 0   ? req->connect_timeout_ms
                             : req->connect_timeout_ms < 0 ? NO_CONNECT_TIMEOUT_MS
                                                           : CONNECT_TIMEOUT_MS);
    if (req->timeout_ms > 0)
        dr_curl.curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    if (req->low_speed_time_s >= 0) {
        dr_curl.curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        dr_curl.curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                                 req->low_speed_time_s > 0 ? req->low_speed_time_s
                                                           : LOW_SPEED_TIME_S);
    }
    if (ca_bundle && *ca_bundle)
        dr_curl.curl_easy_setopt(h, CURLOPT_CAINFO, ca_bundle);
    /* 16 KiB reads make a 200 MiB download ~13,000 write calls */
    if (req->out_path || req->out_fd)
        dr_curl.curl_easy_setopt(h, CURLOPT_BUFFERSIZE, FILE_BUFFER_SIZE);
}

/* The callbacks that fill the exchange, and where curl writes its own error text. */
static void set_callbacks(CURL *h, struct exchange *ex, char *curl_err)
{
    dr_curl.curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    dr_curl.curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    dr_curl.curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    dr_curl.curl_easy_setopt(h, CURLOPT_XFERINFODATA, ex);
    dr_curl.curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    dr_curl.curl_easy_setopt(h, CURLOPT_HEADERDATA, ex);
    dr_curl.curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    dr_curl.curl_easy_setopt(h, CURLOPT_WRITEDATA, ex);
}

/* After curl_easy_perform: the status, why it failed, and out_path closed (a
 * failed close is a failed write). 0 when the exchange completed. */
static int finish(CURL *h, struct exchange *ex, CURLcode code, const char *curl_err)
{
    const struct dr_http_request *req = ex->req;
    struct dr_http_response *resp = ex->resp;
    long status = 0;
    if (dr_curl.curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status)
        resp->status = status;
    resp->interrupted = ex->interrupted;
    if (code != CURLE_OK) {
        if (ex->failure[0]) {
            snprintf(resp->error, sizeof resp->error, "%s", ex->failure);
        } else {
            resp->transport_error = is_transport(code);
            /* curl's own text is the more precise ("Failed to connect to ... port ...") */
            snprintf(resp->error, sizeof resp->error, "%s",
                     curl_err[0] ? curl_err : dr_curl.curl_easy_strerror(code));
        }
        return -1;
    }
    /* out_path is opened when the headers end; this catches a 2xx that never said so */
    int failed = resp->status >= 200 && resp->status < 300 && req->out_path && !ex->head &&
                 !ex->to_file && open_out(ex) != 0;
    if (!failed && ex->to_file && file_flush(ex) != 0) {
        snprintf(resp->error, sizeof resp->error, "%s", ex->failure);
        return -1;
    }
    if (!failed && ex->out_fd >= 0) {
        failed = close(ex->out_fd) != 0;
        ex->out_fd = -1;
    }
    if (failed) {
        snprintf(resp->error, sizeof resp->error, "cannot write %s: %s", req->out_path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int dr_http_perform(const struct dr_http_request *req, struct dr_http_response *resp)
{
    struct exchange ex;
    struct curl_slist *headers = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *h = NULL;
    int rc = -1;
    memset(resp, 0, sizeof *resp);
    memset(&ex, 0, sizeof ex);
    ex.req = req;
    ex.resp = resp;
    ex.max_body = req->max_body ? req->max_body : DR_HTTP_BODY_MAX;
    ex.out_fd = ex.in_fd = -1;
    ex.head = strcmp(req->method, "HEAD") == 0;
    ex.signals = req->signals ? *req->signals : dr_proc_signal_count();
    if (dr_dl_curl(resp->error, sizeof resp->error) != 0)
        goto out;
    if (req->body_path && (ex.in_fd = open(req->body_path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(resp->error, sizeof resp->error, "cannot read %s: %s", req->body_path,
                 strerror(errno));
        goto out;
    }
    /* a body sent as POST fields gets curl's form Content-Type unless told otherwise */
    int fields = strcmp(req->method, "POST") == 0 ||
                 (strcmp(req->method, "PUT") == 0 && req->body && !req->body_path);
    if (!(h = acquire()) || !(headers = make_headers(req, fields))) {
        snprintf(resp->error, sizeof resp->error, "out of memory (or a header over 8 KiB)");
        goto out;
    }
    set_transport(h, req);
    dr_curl.curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    set_callbacks(h, &ex, curl_err);
    set_method(h, &ex);
    rc = finish(h, &ex, dr_curl.curl_easy_perform(h), curl_err);
    report_end(h, &ex, rc == 0 && resp->status >= 200 && resp->status < 300);
out:
    if (!resp->body && body_reserve(&ex, 0) != 0 && rc == 0) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        rc = -1;
    }
    if (ex.out_fd >= 0)
        close(ex.out_fd);
    free(ex.wbuf);
    if (ex.in_fd >= 0)
        close(ex.in_fd);
    if (headers)
        dr_curl.curl_slist_free_all(headers);
    release(h);
    return rc;
}

const char *dr_http_header_get(const struct dr_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

void dr_http_response_free(struct dr_http_response *resp)
{
    if (!resp)
        return;
    headers_clear(resp);
    free(resp->headers);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

void dr_http_share(void)
{
    CURL *own = own_ready ? pthread_getspecific(own_key) : NULL;
    if (own) {
        pthread_setspecific(own_key, NULL);
        pool_put(own);
    }
}

void dr_http_cleanup(void)
{
    CURL *own = own_ready ? pthread_getspecific(own_key) : NULL;
    if (own) {
        pthread_setspecific(own_key, NULL);
        dr_curl.curl_easy_cleanup(own);
    }
    pthread_mutex_lock(&pool_lock);
    while (pool_len > 0)
        dr_curl.curl_easy_cleanup(pool[--pool_len]);
    pthread_mutex_unlock(&pool_lock);
}

void dr_http_response_free_wiped(struct dr_http_response *resp)
{
    if (resp->body)
        dr_wipe(resp->body, resp->body_len);
    dr_http_response_free(resp);
    memset(resp, 0, sizeof *resp);
}
