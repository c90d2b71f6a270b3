/* isotime: RFC 3339 / ISO 8601 times as AWS writes them in credentials
 * ("Expiration": "2021-09-21T18:41:26Z"). */
#ifndef DR_ISOTIME_H
#define DR_ISOTIME_H

#include <time.h>

/* Parses an RFC 3339 / ISO 8601 time: "2021-09-21T18:41:26Z", with optional
 * fraction and a "Z", "+HH:MM" or "+HHMM" offset ('t', 'z' and ' ' also
 * accepted). 0 with *t (UTC epoch), or -1. */
int dr_isotime_parse(const char *s, time_t *t);

/* Formats t as "2021-09-21T18:41:26Z" into out. */
void dr_isotime_format(time_t t, char out[32]);

#endif
