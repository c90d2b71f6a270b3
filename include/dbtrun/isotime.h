/* isotime: the one home of time parsing. RFC 3339 / ISO 8601 times as AWS
 * writes them in credentials and listings ("2021-09-21T18:41:26Z"), HTTP
 * dates (Last-Modified), and the calendar sum under both (and under SigV4's
 * X-Amz-Date, which sigv4.c reads). */
#ifndef DR_ISOTIME_H
#define DR_ISOTIME_H

#include <time.h>

/* Parses an RFC 3339 / ISO 8601 time: "2021-09-21T18:41:26Z", with optional
 * fraction and a "Z", "+HH:MM" or "+HHMM" offset ('t', 'z' and ' ' also
 * accepted). 0 with *t (UTC epoch), or -1. */
int dr_isotime_parse(const char *s, time_t *t);

/* Parses an HTTP date (RFC 7231 IMF-fixdate, "Wed, 21 Oct 2015 07:28:00 GMT",
 * as in Last-Modified). 0 with *t (UTC epoch), or -1. */
int dr_isotime_parse_http(const char *s, time_t *t);

/* The UTC epoch of y-mo-d h:mi:se in the proleptic Gregorian calendar, the
 * fields checked (days of the month with leap years, up to 23:59:60).
 * 0 with *t, or -1. */
int dr_isotime_from_fields(int y, int mo, int d, int h, int mi, int se, time_t *t);

/* Formats t as "2021-09-21T18:41:26Z" into out. */
void dr_isotime_format(time_t t, char out[32]);

#endif
