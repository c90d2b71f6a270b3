/* retry: see dbtrun/retry.h. The quota's numbers are the SDKs' standard
 * mode; the limiter follows the SDKs' adaptive mode (a token bucket whose
 * fill rate CUBIC sets from the measured sending rate). */
#include "dbtrun/retry.h"
#include "dbtrun/isotime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CUBIC_BETA 0.7    /* the share of the rate kept after a throttle */
#define CUBIC_SCALE 0.4   /* how fast the rate grows back */
#define RATE_SMOOTH 0.8   /* weight of the newest sending-rate sample */
#define RATE_SLOT_S 0.5   /* the sending rate is measured in slots this long */
#define MIN_FILL_RATE 0.5 /* never fewer sends per second than this */

int dr_retry_init(struct dr_retry_state *s, enum dr_retry_mode mode)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->quota = DR_RETRY_QUOTA;
    return pthread_mutex_init(&s->lock, NULL) == 0 ? 0 : -1;
}

void dr_retry_destroy(struct dr_retry_state *s)
{
    if (s)
        pthread_mutex_destroy(&s->lock);
}

const char *dr_retry_mode_name(enum dr_retry_mode mode)
{
    return mode == DR_RETRY_ADAPTIVE ? "adaptive" : mode == DR_RETRY_LEGACY ? "legacy" : "standard";
}

int dr_retry_quota_take(struct dr_retry_state *s, int no_answer)
{
    int cost = no_answer ? DR_RETRY_TIMEOUT_COST : DR_RETRY_COST;
    if (!s || s->mode == DR_RETRY_LEGACY)
        return 1;
    pthread_mutex_lock(&s->lock);
    if (s->quota < cost)
        cost = 0;
    else
        s->quota -= cost;
    pthread_mutex_unlock(&s->lock);
    return cost;
}

void dr_retry_quota_success(struct dr_retry_state *s, int last_cost)
{
    if (!s || s->mode == DR_RETRY_LEGACY)
        return;
    pthread_mutex_lock(&s->lock);
    s->quota += last_cost > 0 ? last_cost : DR_RETRY_SUCCESS_REFUND;
    if (s->quota > DR_RETRY_QUOTA)
        s->quota = DR_RETRY_QUOTA;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the adaptive limiter (callers hold the lock) ------------------------- */

static void refill(struct dr_retry_rate *r, double now)
{
    if (r->last_refill > 0) {
        r->capacity += (now - r->last_refill) * r->fill_rate;
        if (r->capacity > r->max_capacity)
            r->capacity = r->max_capacity;
    }
    r->last_refill = now;
}

/* Smoothed sends per second, sampled once per slot. */
static void measure(struct dr_retry_rate *r, double now)
{
    double slot = floor(now / RATE_SLOT_S) * RATE_SLOT_S;
    if (r->rate_bucket <= 0)
        r->rate_bucket = slot;
    r->bucket_count++;
    if (slot > r->rate_bucket) {
        double sample = r->bucket_count / (slot - r->rate_bucket);
        r->measured_rate = sample * RATE_SMOOTH + r->measured_rate * (1 - RATE_SMOOTH);
        r->bucket_count = 0;
        r->rate_bucket = slot;
    }
}

double dr_retry_rate_wait(struct dr_retry_state *s, double now)
{
    double wait = 0;
    if (!s || s->mode != DR_RETRY_ADAPTIVE)
        return 0;
    pthread_mutex_lock(&s->lock);
    struct dr_retry_rate *r = &s->rate;
    if (r->enabled) {
        refill(r, now);
        if (r->capacity < 1)
            wait = (1 - r->capacity) / r->fill_rate;
        r->capacity -= 1; /* below zero: owed, paid back by the refill after the wait */
    }
    pthread_mutex_unlock(&s->lock);
    return wait;
}

void dr_retry_rate_answer(struct dr_retry_state *s, int throttled, double now)
{
    double rate;
    if (!s || s->mode != DR_RETRY_ADAPTIVE)
        return;
    pthread_mutex_lock(&s->lock);
    struct dr_retry_rate *r = &s->rate;
    measure(r, now);
    if (throttled) {
        double from =
            r->enabled && r->fill_rate < r->measured_rate ? r->fill_rate : r->measured_rate;
        r->last_max_rate = from;
        r->last_throttle = now;
        rate = from * CUBIC_BETA;
        r->enabled = 1;
    }
    /* the time CUBIC takes to climb back to last_max_rate */
    r->window = cbrt(r->last_max_rate * (1 - CUBIC_BETA) / CUBIC_SCALE);
    if (!throttled) {
        double since = now - r->last_throttle - r->window;
        rate = CUBIC_SCALE * since * since * since + r->last_max_rate;
    }
    if (rate > 2 * r->measured_rate)
        rate = 2 * r->measured_rate;
    refill(r, now);
    r->fill_rate = rate > MIN_FILL_RATE ? rate : MIN_FILL_RATE;
    r->max_capacity = rate > 1 ? rate : 1;
    if (r->capacity > r->max_capacity)
        r->capacity = r->max_capacity;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the clock -------------------------------------------------------------- */

long dr_retry_skew(struct dr_retry_state *s)
{
    long v;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    v = s->skew_s;
    pthread_mutex_unlock(&s->lock);
    return v;
}

void dr_retry_skew_set(struct dr_retry_state *s, long skew_s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->skew_s = skew_s;
    pthread_mutex_unlock(&s->lock);
}

int dr_retry_http_date(const char *s, time_t *t)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4], iso[32];
    int day, year, h, m, sec, used = 0;
    if (!s ||
        sscanf(s, "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &day, mon, &year, &h, &m,
               &sec, &used) != 6 ||
        used == 0 || s[used] != '\0')
        return -1;
    const char *at = strstr(months, mon);
    if (strlen(mon) != 3 || !at || (at - months) % 3 != 0)
        return -1;
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, (int)(at - months) / 3 + 1,
             day, h, m, sec);
    return dr_isotime_parse(iso, t);
}

int dr_retry_clock_skewed(const char *code, const char *date, time_t signed_at, long *skew_s)
{
    static const char *const codes[] = {"RequestTimeTooSkewed", "RequestExpired",
                                        "InvalidSignatureException", "SignatureDoesNotMatch", NULL};
    time_t server;
    int known = 0;
    for (const char *const *c = codes; code && *c; c++)
        known |= strcmp(code, *c) == 0;
    if (!known || dr_retry_http_date(date, &server) != 0)
        return 0;
    long delta = (long)(server - signed_at);
    if (labs(delta) < DR_RETRY_SKEW_MIN_S)
        return 0;
    *skew_s = delta;
    return 1;
}
