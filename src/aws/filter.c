/* filter: aws CLI include/exclude rules over fnmatch(3). The flags mirror
 * Python's fnmatch, which the aws CLI uses: no FNM_PATHNAME (`*` crosses
 * `/`), no FNM_PERIOD (a leading dot is an ordinary character), and
 * FNM_NOESCAPE (a backslash is literal, as in Python). */
#include "dbtrun/filter.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int dr_filter_add(struct dr_filter *f, int include, const char *pattern)
{
    size_t len = pattern ? strlen(pattern) : 0;
    if (len == 0 || len > DR_FILTER_PATTERN_MAX || f->n >= DR_FILTER_RULES_MAX)
        return -1;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct dr_filter_rule *grown = realloc(f->rules, cap * sizeof *grown);
        if (!grown)
            return -1;
        f->rules = grown;
        f->cap = cap;
    }
    char *copy = strdup(pattern);
    if (!copy)
        return -1;
    f->rules[f->n].include = include ? 1 : 0;
    f->rules[f->n].pattern = copy;
    f->n++;
    return 0;
}

int dr_filter_match(const struct dr_filter *f, const char *relpath)
{
    int included = 1;
    if (!f)
        return 1;
    for (size_t i = 0; i < f->n; i++)
        if (fnmatch(f->rules[i].pattern, relpath, FNM_NOESCAPE) == 0)
            included = f->rules[i].include;
    return included;
}

void dr_filter_free(struct dr_filter *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->rules[i].pattern);
    free(f->rules);
    memset(f, 0, sizeof *f);
}
