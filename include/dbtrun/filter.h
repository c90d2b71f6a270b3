/* filter: the aws CLI's --exclude/--include rules for `s3 sync`/`cp
 * --recursive`. Rules apply in order and the last one that matches decides;
 * a path no rule matches is included. Patterns match the whole path relative
 * to the source folder with Python's fnmatch rules (glob.h): `*` crosses
 * `/`, case-sensitive, characters not bytes. */
#ifndef DR_FILTER_H
#define DR_FILTER_H

#include <stddef.h>

#define DR_FILTER_RULES_MAX 1024   /* cap on rules in one filter */
#define DR_FILTER_PATTERN_MAX 4096 /* cap on one pattern's length */

struct dr_glob;

struct dr_filter_rule {
    int include;          /* 1: --include, 0: --exclude */
    char *pattern;        /* owned */
    struct dr_glob *glob; /* the compiled pattern; owned */
};

/* Zero-initialise ({0}) before use; free with dr_filter_free. */
struct dr_filter {
    struct dr_filter_rule *rules; /* owned */
    size_t n, cap;
};

/* Appends a rule (the pattern is copied). An empty pattern is a rule that
 * matches only the empty path (the aws CLI accepts it). 0, or -1 when the
 * pattern is NULL or too long, a cap is reached, or memory runs out. */
int dr_filter_add(struct dr_filter *f, int include, const char *pattern);

/* 1 when `relpath` ('/'-separated, relative to the folder being synced) is
 * included, 0 when the last matching rule is an --exclude. A NULL or empty
 * filter includes everything. */
int dr_filter_match(const struct dr_filter *f, const char *relpath);

/* Frees the rules and zeroes *f; idempotent. */
void dr_filter_free(struct dr_filter *f);

#endif
