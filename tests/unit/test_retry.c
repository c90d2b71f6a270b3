/* Tests of retry.c with the test's own clock: the standard mode's retry
 * quota, legacy mode's lack of one, the adaptive limiter's throttle and
 * recovery, HTTP dates and the clock-skew rule. */
#include "harness.h"

#include "dbtrun/retry.h"

static void test_quota(void)
{
    struct dr_retry_state s;
    CHECK(dr_retry_init(&s, DR_RETRY_STANDARD) == 0);
    CHECK(s.quota == 500);
    CHECK(dr_retry_quota_take(&s, 0) == 5);
    CHECK(dr_retry_quota_take(&s, 1) == 10); /* no answer costs double */
    CHECK(s.quota == 485);
    dr_retry_quota_success(&s, 10); /* a retry that worked gives its cost back */
    CHECK(s.quota == 495);
    dr_retry_quota_success(&s, 0); /* a first-time success adds one */
    CHECK(s.quota == 496);
    for (int i = 0; i < 10; i++)
        dr_retry_quota_success(&s, 0);
    CHECK(s.quota == 500); /* never above the start */
    int retries = 0;
    while (dr_retry_quota_take(&s, 0) > 0)
        retries++;
    CHECK(retries == 100);
    CHECK(s.quota == 0);
    CHECK(dr_retry_quota_take(&s, 1) == 0);
    dr_retry_quota_success(&s, 0);
    dr_retry_quota_success(&s, 0);
    dr_retry_quota_success(&s, 0);
    dr_retry_quota_success(&s, 0);
    CHECK(dr_retry_quota_take(&s, 0) == 0); /* 4 tokens: not enough for a retry */
    dr_retry_quota_success(&s, 0);
    CHECK(dr_retry_quota_take(&s, 0) == 5);
    dr_retry_destroy(&s);

    CHECK(dr_retry_init(&s, DR_RETRY_LEGACY) == 0);
    int paid = 0;
    for (int i = 0; i < 1000; i++)
        paid += dr_retry_quota_take(&s, 1) > 0;
    CHECK(paid == 1000); /* legacy: no quota */
    dr_retry_destroy(&s);
    CHECK(dr_retry_quota_take(NULL, 0) > 0);
    CHECK_STR(dr_retry_mode_name(DR_RETRY_ADAPTIVE), "adaptive");
}

static void test_adaptive_limiter(void)
{
    struct dr_retry_state s;
    double t = 1000.0, waited = 0;
    CHECK(dr_retry_init(&s, DR_RETRY_ADAPTIVE) == 0);
    /* 20 sends a second, all fine: never held back */
    for (int i = 0; i < 40; i++, t += 0.05) {
        CHECK(dr_retry_rate_wait(&s, t) == 0);
        dr_retry_rate_answer(&s, 0, t);
    }
    CHECK(!s.rate.enabled);
    CHECK(s.rate.measured_rate > 10);
    /* a throttle: the limiter turns on at a lower rate than was measured */
    dr_retry_rate_answer(&s, 1, t);
    CHECK(s.rate.enabled);
    double cut = s.rate.fill_rate;
    CHECK(cut < s.rate.measured_rate && cut >= 0.5);
    /* past the bucket's burst, sending faster than that makes the sender wait */
    for (int i = 0; i < 40; i++) {
        double w = dr_retry_rate_wait(&s, t);
        waited += w;
        t += w;
        dr_retry_rate_answer(&s, 0, t);
    }
    CHECK(waited > 1.0);
    /* successes let the rate climb back past the cut */
    for (int i = 0; i < 50; i++) {
        t += dr_retry_rate_wait(&s, t) + 0.01;
        dr_retry_rate_answer(&s, 0, t);
    }
    CHECK(s.rate.fill_rate > cut);
    /* throttles again and again: the rate floors at half a send a second */
    for (int i = 0; i < 40; i++) {
        t += 0.1;
        dr_retry_rate_answer(&s, 1, t);
    }
    CHECK(s.rate.fill_rate >= 0.5 && s.rate.fill_rate < cut);
    dr_retry_destroy(&s);

    CHECK(dr_retry_init(&s, DR_RETRY_STANDARD) == 0);
    dr_retry_rate_answer(&s, 1, 5.0);
    CHECK(!s.rate.enabled && dr_retry_rate_wait(&s, 5.0) == 0); /* only adaptive limits */
    dr_retry_destroy(&s);
}

static void test_http_date(void)
{
    time_t t;
    CHECK(dr_retry_http_date("Sun, 30 Aug 2015 12:36:00 GMT", &t) == 0 && t == 1440938160);
    CHECK(dr_retry_http_date("Thu, 01 Jan 1970 00:00:00 GMT", &t) == 0 && t == 0);
    CHECK(dr_retry_http_date("Mon, 29 Feb 2016 23:59:59 GMT", &t) == 0 && t == 1456790399);
    CHECK(dr_retry_http_date("Sun, 30 Foo 2015 12:36:00 GMT", &t) == -1);
    CHECK(dr_retry_http_date("Sun, 30 ugS 2015 12:36:00 GMT", &t) == -1);
    CHECK(dr_retry_http_date("Sun, 31 Feb 2015 12:36:00 GMT", &t) == -1);
    CHECK(dr_retry_http_date("Sun, 30 Aug 2015 12:36:00 GMT junk", &t) == -1);
    CHECK(dr_retry_http_date("Sun, 30 Aug 2015 12:36:00", &t) == -1);
    CHECK(dr_retry_http_date("", &t) == -1);
    CHECK(dr_retry_http_date(NULL, &t) == -1);
}

static void test_clock_skew(void)
{
    const char *date = "Sun, 30 Aug 2015 12:36:00 GMT";
    time_t server = 1440938160;
    long skew = 0;
    CHECK(dr_retry_clock_skewed("RequestTimeTooSkewed", date, server - 3600, &skew) == 1);
    CHECK(skew == 3600);
    CHECK(dr_retry_clock_skewed("SignatureDoesNotMatch", date, server + 900, &skew) == 1);
    CHECK(skew == -900);
    CHECK(dr_retry_clock_skewed("RequestExpired", date, server - 240, &skew) == 1);
    CHECK(dr_retry_clock_skewed("InvalidSignatureException", date, server + 1000, &skew) == 1);
    skew = 7;
    /* a wrong signature from a server whose clock agrees is a real one */
    CHECK(dr_retry_clock_skewed("SignatureDoesNotMatch", date, server - 30, &skew) == 0);
    CHECK(dr_retry_clock_skewed("AccessDenied", date, server - 3600, &skew) == 0);
    CHECK(dr_retry_clock_skewed("RequestTimeTooSkewed", NULL, server - 3600, &skew) == 0);
    CHECK(dr_retry_clock_skewed("RequestTimeTooSkewed", "yesterday", server - 3600, &skew) == 0);
    CHECK(dr_retry_clock_skewed(NULL, date, server - 3600, &skew) == 0);
    CHECK(skew == 7);

    struct dr_retry_state s;
    CHECK(dr_retry_init(&s, DR_RETRY_STANDARD) == 0);
    CHECK(dr_retry_skew(&s) == 0);
    dr_retry_skew_set(&s, -120);
    CHECK(dr_retry_skew(&s) == -120);
    CHECK(dr_retry_skew(NULL) == 0);
    dr_retry_destroy(&s);
}

TEST_MAIN(test_quota, test_adaptive_limiter, test_http_date, test_clock_skew)
