/* isotime: see dbtrun/isotime.h. Days are counted with the civil-from-days
 * arithmetic (proleptic Gregorian), so no timegm(3) and no TZ. */
#include "dbtrun/isotime.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *s into *v and advances. 0, or -1. */
static int digits(const char **s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return -1;
        *v = *v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    return 0;
}

int dr_isotime_from_fields(int y, int mo, int d, int h, int mi, int se, time_t *t)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || se < 0 || se > 60)
        return -1;
    *t = (time_t)(days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + se);
    return 0;
}

int dr_isotime_parse(const char *s, time_t *t)
{
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    time_t local;
    if (!s || digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
        digits(&s, 2, &d) || (*s != 'T' && *s != 't' && *s != ' ') || !*s++ || digits(&s, 2, &h) ||
        *s++ != ':' || digits(&s, 2, &mi) || *s++ != ':' || digits(&s, 2, &se))
        return -1;
    if (*s == '.' || *s == ',') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '+' ? 1 : -1;
        if (digits(&s, 2, &oh) || (*s == ':' && !*s++) || digits(&s, 2, &om))
            return -1;
    } else {
        return -1;
    }
    if (*s || oh > 23 || om > 59 || dr_isotime_from_fields(y, mo, d, h, mi, se, &local) != 0)
        return -1;
    *t = (time_t)(local - sign * (oh * 3600LL + om * 60LL));
    return 0;
}

int dr_isotime_parse_http(const char *s, time_t *t)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    int d, y, h, mi, se, consumed = 0;
    if (!s ||
        sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &h, &mi, &se, &consumed) !=
            6 ||
        consumed != (int)strlen(s))
        return -1;
    const char *m = strstr(months, mon);
    if (!m || strlen(mon) != 3 || (m - months) % 3 != 0)
        return -1;
    return dr_isotime_from_fields(y, (int)(m - months) / 3 + 1, d, h, mi, se, t);
}

void dr_isotime_format(time_t t, char out[32])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}
