/* retry: the state the SDKs' retry modes keep per client, shared by every
 * request it sends — the standard mode's retry quota (a token bucket that
 * stops retries when a service keeps failing), the adaptive mode's
 * client-side rate limiter (CUBIC, as the SDKs do), and the clock offset
 * learnt from a server that said our clock is wrong. Times are passed in,
 * so tests drive it with their own clock. Used by aws.c; owned by client.c. */
#ifndef DR_RETRY_H
#define DR_RETRY_H

#include <pthread.h>
#include <time.h>

enum dr_retry_mode { DR_RETRY_STANDARD, DR_RETRY_ADAPTIVE, DR_RETRY_LEGACY };

#define DR_RETRY_QUOTA 500       /* tokens a client starts with */
#define DR_RETRY_COST 5          /* a retry after an error answer */
#define DR_RETRY_TIMEOUT_COST 10 /* a retry after no answer (connection, timeout) */
#define DR_RETRY_SUCCESS_REFUND 1
#define DR_RETRY_SKEW_MIN_S 240 /* a server clock this far off is "skewed" */

/* The adaptive mode's limiter: off until the first throttle, then sends
 * wait for tokens that refill at a rate CUBIC raises after each success and
 * cuts after each throttle. */
struct dr_retry_rate {
    int enabled;
    double fill_rate, max_capacity, capacity, last_refill;
    double measured_rate, rate_bucket; /* smoothed sends per second, its half-second slot */
    int bucket_count;
    double last_max_rate, last_throttle, window;
};

struct dr_retry_state {
    pthread_mutex_t lock;
    enum dr_retry_mode mode;
    int quota;   /* tokens left (standard and adaptive) */
    long skew_s; /* the server's clock minus ours, added to signing times */
    struct dr_retry_rate rate;
};

/* Fresh state for `mode` (a full quota, no offset). 0, or -1 (mutex). */
int dr_retry_init(struct dr_retry_state *s, enum dr_retry_mode mode);
void dr_retry_destroy(struct dr_retry_state *s);

/* The mode's name: "standard", "adaptive", "legacy". */
const char *dr_retry_mode_name(enum dr_retry_mode mode);

/* Takes the cost of one retry from the quota (DR_RETRY_TIMEOUT_COST when the
 * attempt got no answer). Returns the cost taken, or 0 when the quota cannot
 * pay it: the caller must not retry. Legacy mode has no quota: always 1.
 * s may be NULL (no quota). */
int dr_retry_quota_take(struct dr_retry_state *s, int no_answer);

/* After a request succeeded: gives back `last_cost` (what its last retry
 * took), or DR_RETRY_SUCCESS_REFUND when it needed no retry; never above
 * DR_RETRY_QUOTA. */
void dr_retry_quota_success(struct dr_retry_state *s, int last_cost);

/* Adaptive mode, before each attempt at time `now` (seconds, any origin
 * that only grows): the seconds to wait before sending (0 while no throttle
 * has been seen, and in the other modes). */
double dr_retry_rate_wait(struct dr_retry_state *s, double now);

/* Adaptive mode, after each answer at time `now`: `throttled` cuts the
 * sending rate, anything else lets it grow back. */
void dr_retry_rate_answer(struct dr_retry_state *s, int throttled, double now);

/* The clock offset to sign with (seconds). */
long dr_retry_skew(struct dr_retry_state *s);
void dr_retry_skew_set(struct dr_retry_state *s, long skew_s);

/* Whether an error answer says our clock is wrong: `code` is one of
 * RequestTimeTooSkewed, RequestExpired, InvalidSignatureException,
 * SignatureDoesNotMatch and `date` (the HTTP Date header, RFC 7231) is at
 * least DR_RETRY_SKEW_MIN_S from `signed_at`, the time the request was
 * signed with. 1 with *skew_s (the server's time minus signed_at: add it to
 * the offset in use), else 0. */
int dr_retry_clock_skewed(const char *code, const char *date, time_t signed_at, long *skew_s);

/* Parses an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT"). 0 with *t, or -1. */
int dr_retry_http_date(const char *s, time_t *t);

#endif
