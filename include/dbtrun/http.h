/* http: one HTTP exchange over libcurl (loaded through dl.h), with the
 * connection kept alive between calls, TLS verification always on
 * (AWS_CA_BUNDLE honoured), timeouts, and bodies streamed to and from files.
 * Knows nothing of AWS: signing, retries and error bodies are aws.c's. */
#ifndef DR_HTTP_H
#define DR_HTTP_H

#include <stddef.h>

#define DR_HTTP_BODY_MAX (64u << 20) /* default cap on an in-memory response body */

struct dr_http_header {
    const char *name;
    const char *value;
};

struct dr_http_response;

struct dr_http_request {
    const char *method;                   /* "GET", "PUT", "POST", "HEAD", "DELETE" */
    const char *url;                      /* complete and already percent-encoded */
    const struct dr_http_header *headers; /* sent exactly as given */
    size_t nheaders;
    const void *body;      /* request body in memory (body_len bytes), or NULL */
    size_t body_len;       /* also the length sent from body_path */
    const char *body_path; /* stream the body from this file instead */
    long long body_offset; /* where in body_path the body starts */
    const char *out_path;  /* stream a 2xx response body into this file (created
                              or truncated); other bodies stay in memory */
    const int *out_fd;     /* or write a 2xx body into this open file from
                              out_offset on (pwrite: nothing truncated, so
                              threads can fill ranges of one file) */
    long long out_offset;
    size_t max_body;         /* cap on an in-memory body; 0: DR_HTTP_BODY_MAX */
    long connect_timeout_ms; /* 0: 10 s; < 0: none */
    long timeout_ms;         /* whole exchange; 0: none (big transfers) */
    long low_speed_time_s;   /* abort when below 1 byte/s this long; 0: 60 s; < 0: never */
    const int *signals;      /* stop once dr_proc_signal_count() differs from this;
                                NULL: from the count when the call starts */
    /* Progress of the payload (the request body when there is one, else the
     * response body), from curl's thread: deltas of the bytes moved and of
     * the size announced (Content-Length, or body_len). An exchange that
     * ends without a 2xx takes back what it reported (negative deltas), so
     * a retry is not counted twice. NULL: no reports. */
    void (*on_bytes)(void *ctx, long long done, long long total);
    void *on_bytes_ctx;
    /* Or the request body produced by body_read (body and body_path NULL):
     * body_len bytes in all (the Content-Length), asked for in order from
     * offset 0, and from 0 again when curl resends on a fresh connection.
     * It returns how many bytes it put in buf (1..n), or -1 after writing
     * into why what went wrong (the exchange fails as a local error, not
     * retryable). progress_len is the size on_bytes reports for it, as
     * body_len counts its framing too (0: body_len). */
    long (*body_read)(void *ctx, char *buf, size_t n, long long offset, char *why, size_t why_len);
    void *body_read_ctx;
    long long progress_len;
    /* Called on the calling thread when a 2xx response's headers are
     * complete, before its body: a ranged GET learns the object's size from
     * the first part and starts the others while this body streams. Non-zero
     * stops the exchange, which fails with `why` (not a transport error, so
     * not retried). NULL: none. */
    int (*on_headers)(void *ctx, const struct dr_http_response *resp, char *why, size_t len);
    void *on_headers_ctx;
};

struct dr_http_response {
    long status; /* HTTP status; 0 when no response arrived */
    char *body;  /* in-memory body, NUL-terminated (may be empty) */
    size_t body_len;
    struct dr_http_header *headers; /* names lower-cased; owned */
    size_t nheaders;
    int transport_error; /* non-zero: connection failure or timeout (retryable) */
    int interrupted;     /* non-zero: stopped by a signal (dr_proc_last_signal) */
    char error[256];     /* what went wrong when status == 0 */
};

/* Performs one exchange. Returns 0 when a response arrived, whatever its
 * status; -1 when none did or it was cut short: resp->error says why, and
 * transport_error is set when the network failed (connect, timeout, reset,
 * truncated body: worth retrying) and clear when this side gave up (a file
 * could not be read or written, the body cap, out of memory); status keeps
 * the code of a status line that did arrive. The caller frees resp with
 * dr_http_response_free in both cases. A SIGINT/SIGTERM/SIGHUP caught by
 * proc.c's handler (see req->signals) stops the exchange within about a
 * second, with resp->interrupted set. Thread-safe: each call takes a kept-
 * alive handle from a small pool (libcurl must have been loaded with
 * dr_dl_curl on the main thread first; this call loads it if not). */
int dr_http_perform(const struct dr_http_request *req, struct dr_http_response *resp);

/* The value of response header `name` (any case), or NULL. */
const char *dr_http_header_get(const struct dr_http_response *resp, const char *name);

void dr_http_response_free(struct dr_http_response *resp);

/* The same for a response whose body may hold a secret: wiped first. */
void dr_http_response_free_wiped(struct dr_http_response *resp);

/* Closes the kept-alive connections (at exit, or in tests). */
void dr_http_cleanup(void);

/* Puts the calling thread's own handle (each thread keeps the one it used
 * last) back in the shared pool, so that threads about to start reuse its
 * live connection instead of opening one more. */
void dr_http_share(void);

#endif
