/* plan: dbt's `state:modified+` between the production and current manifests,
 * each change with its reason in dbt's terms (nodes.py same_*, StateSelector-
 * Method), the impact through child_map, dbt's blind spots, and text, JSON and
 * Markdown reports. Knows nothing of Lua or of files. */
#ifndef DR_PLAN_H
#define DR_PLAN_H

#include "dbtrun/manifest.h"

#include <stddef.h>

struct dr_explain;
struct dr_estimate;

enum dr_plan_status {
    DR_PLAN_NEW,
    DR_PLAN_MODIFIED,
    DR_PLAN_REMOVED,
};

/* Reasons, as dbt's state selector methods name them: an entry has exactly
 * the bits of the selectors (state:new, state:modified.<sub>) that select the
 * node in dbt. PROPERTIES is the part of state:modified that has no
 * sub-selector (fqn, access, source freshness, exposure fields, a unit test's
 * given/expect, ...). */
enum dr_plan_reason {
    DR_PR_NEW = 1u << 0,
    DR_PR_REMOVED = 1u << 1,
    DR_PR_BODY = 1u << 2,
    DR_PR_CONFIGS = 1u << 3,
    DR_PR_RELATION = 1u << 4,
    DR_PR_PERSISTED_DESCRIPTIONS = 1u << 5,
    DR_PR_MACROS = 1u << 6,
    DR_PR_CONTRACT = 1u << 7,
    DR_PR_PROPERTIES = 1u << 8,
};
#define DR_PR_COUNT 9

enum dr_plan_format { DR_PLAN_TEXT, DR_PLAN_JSON, DR_PLAN_MARKDOWN };

struct dr_plan_options {
    /* dbt's flag state_modified_compare_more_unrendered_values: compare a
     * source's unrendered database/schema instead of the rendered ones. */
    int compare_unrendered_sources;
    const char *state_label;   /* shown in reports, e.g. ".artifacts/manifest.json" */
    const char *current_label; /* e.g. "target/manifest.json" */
};

/* One changed node. Detail strings are owned by the plan. */
struct dr_plan_entry {
    const char *unique_id;
    const char *resource_type;
    const char *name;
    enum dr_manifest_kind kind;
    enum dr_plan_status status;
    unsigned reasons;         /* DR_PR_* bits: each dbt selector that selects the node */
    unsigned absent_reasons;  /* of reasons: the sub-selectors a new node gets for having
                                 no old version (JSON lists them, text and Markdown not) */
    int selected;             /* part of state:modified (removed nodes never are) */
    int disabled;             /* removed: disabled rather than deleted */
    int breaking;             /* the contract change is breaking */
    const char *configs;      /* differing config keys: `key: old -> new; ...` */
    const char *config_keys;  /* the same, keys only: "materialized, unique_key" */
    const char *relation;     /* e.g. `schema: null -> "marts"` */
    const char *macros;       /* changed macros reached, e.g. `macro.p.a (via macro.p.b)` */
    const char *contract;     /* what changed in the contract */
    const char *properties;   /* e.g. "fqn, freshness" */
    const char *descriptions; /* "description", "column descriptions" */
};

/* A node selected by state:modified+. */
struct dr_plan_selected {
    const char *unique_id;
    const char *resource_type;
    enum dr_manifest_kind kind;
    int direct; /* selected by state:modified itself, not only as a child */
};

struct dr_plan {
    const char *state_label, *current_label;
    const char *state_version, *current_version; /* dbt versions, may be NULL */
    const char *state_generated_at, *current_generated_at;
    struct dr_plan_entry *entries; /* new, modified and removed, sorted by unique id */
    size_t nentries;
    size_t nnew, nmodified, nremoved;  /* of entries */
    struct dr_plan_selected *selected; /* state:modified+, sorted by unique id */
    size_t nselected;
    size_t selected_by_kind[DR_MK_COUNT];   /* all of state:modified+ */
    size_t downstream_by_kind[DR_MK_COUNT]; /* selected only as children */
    char **warnings;
    size_t nwarnings;
    int breaking; /* some change breaks a contract */
    /* Set by the caller after dr_plan_compare, owned by the caller, shown by
     * dr_plan_render when not NULL: the evidence of `plan --explain`
     * (explain.h) and the build-time estimate (estimate.h). */
    const struct dr_explain *explain;
    const struct dr_estimate *estimate;
    struct dr_plan_priv *priv;
};

/* Compares `current` against `state`. Both manifests must outlive the plan.
 * On success returns 0 and sets *out (free with dr_plan_free); -1 with a
 * message in err when memory runs out; -2 with a message when `current`
 * cannot be compared at all (a node uses a macro dbt lost, as dbt's own
 * state selector fails). */
int dr_plan_compare(const struct dr_manifest *state, const struct dr_manifest *current,
                    const struct dr_plan_options *opts, struct dr_plan **out, char *err,
                    size_t errlen);

/* Renders the plan. For Markdown, max_bytes bounds the output (0: no bound)
 * and sections are cut row by row to fit; text lists at most 200 downstream
 * nodes; JSON is complete. Returns 0 and a NUL-terminated text the caller
 * frees, or -1 when out of memory. */
int dr_plan_render(const struct dr_plan *plan, enum dr_plan_format format, size_t max_bytes,
                   char **out, size_t *len);

/* "modified.body", "new", ... for one DR_PR_* bit. */
const char *dr_plan_reason_name(unsigned reason);

/* Frees a plan and its detail texts (not the manifests); NULL is fine. */
void dr_plan_free(struct dr_plan *plan);

#endif
