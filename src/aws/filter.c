/* filter: aws CLI include/exclude rules, each pattern matched with the aws
 * CLI's own rules (Python's fnmatch, see glob.c) against the path relative
 * to the folder or prefix being synced. */
#include "dbtrun/filter.h"
#include "dbtrun/buf.h"
#include "dbtrun/glob.h"

#include <stdlib.h>
#include <string.h>

int dr_filter_add(struct dr_filter *f, int include, const char *pattern)
{
    if (!pattern || strlen(pattern) > DR_FILTER_PATTERN_MAX || f->n >= DR_FILTER_RULES_MAX)
        return -1;
    struct dr_filter_rule *grown =
        dr_grow(f->rules, &f->cap, f->n + 1, sizeof *grown, DR_FILTER_RULES_MAX);
    if (!grown)
        return -1;
    f->rules = grown;
    char *copy = strdup(pattern);
    struct dr_glob *g = dr_glob_compile(pattern);
    if (!copy || !g) {
        free(copy);
        dr_glob_free(g);
        return -1;
    }
    f->rules[f->n].include = include ? 1 : 0;
    f->rules[f->n].pattern = copy;
    f->rules[f->n].glob = g;
    f->n++;
    return 0;
}

int dr_filter_match(const struct dr_filter *f, const char *relpath)
{
    int included = 1;
    if (!f)
        return 1;
    for (size_t i = 0; i < f->n; i++)
        if (dr_glob_match(f->rules[i].glob, relpath))
            included = f->rules[i].include;
    return included;
}

void dr_filter_free(struct dr_filter *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->rules[i].pattern);
        dr_glob_free(f->rules[i].glob);
    }
    free(f->rules);
    memset(f, 0, sizeof *f);
}
