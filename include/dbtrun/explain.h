/* explain: the evidence behind a plan's changes (`dbtrun plan --explain`) —
 * config values old -> new, the body diff, the changed macro and the path to
 * it, the relation before and after, and the differences that likely come
 * from the environment rather than the code. The compact manifests keep only
 * hashes, so the values are read here, in a second streaming pass over both
 * manifest files that keeps the few explained nodes only. */
#ifndef DR_EXPLAIN_H
#define DR_EXPLAIN_H

#include "dbtrun/manifest.h"
#include "dbtrun/plan.h"

#include <stddef.h>

#define DR_EXPLAIN_NODES_MAX 50          /* nodes explained when none are named */
#define DR_EXPLAIN_DIFF_LINES 60         /* lines of one body diff */
#define DR_EXPLAIN_DIFF_BYTES (6u << 10) /* bytes of one body diff */
#define DR_EXPLAIN_VALUE_MAX 200         /* bytes of one config value shown */

/* A difference that likely comes from the environment, with the usual fix. */
struct dr_explain_flag {
    char *what;       /* e.g. `config schema: the value comes from env_var()` */
    const char *hint; /* one line, static */
};

/* One config key whose unrendered value differs (NULL: absent on that side). */
struct dr_explain_config {
    char *key, *old_value, *new_value;
};

/* The evidence for one node; every string is owned by the explain. */
struct dr_explain_node {
    char *unique_id;
    const char *status; /* "new", "modified", "removed", "unchanged" */
    char *note;         /* e.g. "selected as a child of model.p.a"; or NULL */
    struct dr_explain_config *configs;
    size_t nconfigs;
    char *diff;         /* unified body diff, capped; NULL when the body is the same */
    char **macro_paths; /* "model.p.x -> macro.p.a -> macro.p.b (changed)" */
    size_t nmacro_paths;
    char *relation_old, *relation_new; /* database.schema.alias; NULL when absent */
    struct dr_explain_flag *flags;
    size_t nflags;
};

struct dr_explain {
    struct dr_explain_node *nodes;
    size_t nnodes;
    size_t nleft; /* modified nodes not explained (past DR_EXPLAIN_NODES_MAX) */
};

/* Explains the nodes named in `names` (unique ids or unique model names), or
 * when nnames is 0 every new or modified entry of `plan` (at most
 * DR_EXPLAIN_NODES_MAX). `state_path`/`current_path` are the manifest files
 * `state`/`current` were loaded from. Returns 0 and sets *out (free with
 * dr_explain_free); -1 with a message in err for a name that matches no node
 * or several, an unreadable manifest, or memory running out. */
int dr_explain_build(const struct dr_plan *plan, const struct dr_manifest *state,
                     const struct dr_manifest *current, const char *state_path,
                     const char *current_path, const char *const *names, size_t nnames,
                     struct dr_explain **out, char *err, size_t errlen);

/* A unified diff of two texts (3 lines of context, "@@ -a,b +c,d @@" hunks),
 * at most max_lines lines and max_bytes bytes, then a line saying how many
 * were cut. Returns a new string (caller frees; "" when equal), or NULL when
 * out of memory. */
char *dr_explain_diff(const char *old_text, const char *new_text, size_t max_lines,
                      size_t max_bytes);

/* The hint when a config value pair old -> new looks environmental, or NULL.
 * `old_schema`, ... are the node's rendered relation parts on each side (may
 * be NULL); `raw_code` its current code (may be NULL). *what gets a static
 * description of the cause. */
const char *dr_explain_env_hint(const char *key, const char *old_value, const char *new_value,
                                const char *old_schema, const char *old_database,
                                const char *new_schema, const char *new_database,
                                const char *raw_code, const char **what);

/* Frees an explain; NULL is fine. */
void dr_explain_free(struct dr_explain *e);

#endif
