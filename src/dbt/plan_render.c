/* plan_render: the reports of a plan (include/dbtrun/plan.h) — text for a
 * terminal, JSON for tools and tests, Markdown for GitHub step summaries and
 * pull-request comments, cut section by section to fit GitHub's limits. */
#include "dbtrun/buf.h"
#include "dbtrun/estimate.h"
#include "dbtrun/explain.h"
#include "dbtrun/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RENDER_MAX (512u << 20) /* cap on any report */
#define NOTE_RESERVE 96         /* room kept for a "... more not shown" line */
#define TEXT_LIST_MAX 200       /* nodes (or warnings) listed per text section */
#define UNKNOWN_LIST_MAX 5      /* nodes without a timing named in a report */

static const char *const plural[DR_MK_COUNT] = {
    "models",        "seeds",      "snapshots", "tests",      "analyses",
    "operations",    "sources",    "exposures", "metrics",    "semantic models",
    "saved queries", "unit tests", "functions", "other nodes"};

static const char *const singular[DR_MK_COUNT] = {
    "model",    "seed",   "snapshot",       "test",        "analysis",  "operation", "source",
    "exposure", "metric", "semantic model", "saved query", "unit test", "function",  "other node"};

/* "5 models, 2 tests" (kinds with a count only), or "nothing". */
static void kind_counts(struct dr_buf *b, const size_t *counts)
{
    size_t before = b->len;
    for (int k = 0; k < DR_MK_COUNT; k++) {
        if (!counts[k])
            continue;
        if (b->len > before)
            dr_buf_puts(b, ", ");
        dr_buf_printf(b, "%zu %s", counts[k], counts[k] == 1 ? singular[k] : plural[k]);
    }
    if (b->len == before)
        dr_buf_puts(b, "nothing");
}

static size_t count_all(const size_t *counts)
{
    size_t n = 0;
    for (int k = 0; k < DR_MK_COUNT; k++)
        n += counts[k];
    return n;
}

static const char *status_name(enum dr_plan_status s)
{
    return s == DR_PLAN_NEW ? "new" : s == DR_PLAN_REMOVED ? "removed" : "modified";
}

/* The detail text of one reason of an entry, or NULL. */
static const char *reason_detail(const struct dr_plan_entry *e, unsigned bit)
{
    switch (bit) {
    case DR_PR_CONFIGS:
        return e->configs;
    case DR_PR_RELATION:
        return e->relation;
    case DR_PR_PERSISTED_DESCRIPTIONS:
        return e->descriptions;
    case DR_PR_MACROS:
        return e->macros;
    case DR_PR_CONTRACT:
        return e->contract;
    case DR_PR_PROPERTIES:
        return e->properties;
    case DR_PR_REMOVED:
        return e->disabled ? "disabled" : "deleted";
    }
    return NULL;
}

static const char *not_selected_note(const struct dr_plan_entry *e)
{
    if (e->selected || e->status == DR_PLAN_REMOVED)
        return NULL;
    if (e->status == DR_PLAN_MODIFIED)
        return "not selected by state:modified: dbt compares a generic test's config and "
               "name only; its sub-selectors also see the compiled test";
    return "not selected by state:modified: dbt counts a new source, exposure, metric, "
           "semantic model or saved query as state:new only";
}

/* ---- the estimate and the evidence (all formats) ------------------------ */

/* "Estimated build time: ~3m 02s with 4 threads (...)". */
static void estimate_line(struct dr_buf *b, const struct dr_estimate *e, int markdown)
{
    char total[32], critical[32], serial[32];
    dr_estimate_duration(e->total, total, sizeof total);
    dr_estimate_duration(e->critical, critical, sizeof critical);
    dr_estimate_duration(e->serial, serial, sizeof serial);
    dr_buf_printf(b, markdown ? "**Estimated build time: ~%s**" : "Estimated build time: ~%s",
                  total);
    dr_buf_printf(b,
                  " with %u thread%s (longest chain %s, %s one after another), from the last "
                  "production timings of %zu of %zu nodes",
                  e->threads, e->threads == 1 ? "" : "s", critical, serial, e->nknown, e->nnodes);
    if (e->nunknown) {
        dr_buf_printf(b, "; %zu without a timing, counted as 0s: ", e->nunknown);
        for (size_t i = 0; i < e->nunknown && i < UNKNOWN_LIST_MAX; i++)
            dr_buf_printf(b, markdown ? "%s`%s`" : "%s%s", i ? ", " : "", e->unknown[i]);
        if (e->nunknown > UNKNOWN_LIST_MAX)
            dr_buf_printf(b, ", and %zu more", e->nunknown - UNKNOWN_LIST_MAX);
    }
    dr_buf_puts(b, "\n");
}

static void text_indented(struct dr_buf *b, const char *indent, const char *text)
{
    for (const char *s = text; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        dr_buf_puts(b, indent);
        dr_buf_add(b, s, n);
        dr_buf_puts(b, "\n");
        s += n + (nl != NULL);
    }
}

static const char *or_absent(const char *v)
{
    return v ? v : "(absent)";
}

static void text_explain_node(struct dr_buf *b, const struct dr_explain_node *x)
{
    dr_buf_printf(b, "  %s (%s)\n", x->unique_id, x->status);
    if (x->note)
        dr_buf_printf(b, "      %s\n", x->note);
    for (size_t i = 0; i < x->nconfigs; i++)
        dr_buf_printf(b, "      config %s: %s -> %s\n", x->configs[i].key,
                      or_absent(x->configs[i].old_value), or_absent(x->configs[i].new_value));
    if (x->relation_old || x->relation_new) {
        if (x->relation_old && x->relation_new && strcmp(x->relation_old, x->relation_new) == 0)
            dr_buf_printf(b, "      relation: %s (unchanged)\n", x->relation_old);
        else
            dr_buf_printf(b, "      relation: %s -> %s\n", or_absent(x->relation_old),
                          or_absent(x->relation_new));
    }
    for (size_t i = 0; i < x->nmacro_paths; i++)
        dr_buf_printf(b, "      macro: %s\n", x->macro_paths[i]);
    if (x->diff && *x->diff) {
        dr_buf_puts(b, "      body:\n");
        text_indented(b, "        ", x->diff);
    }
    for (size_t i = 0; i < x->nflags; i++)
        dr_buf_printf(b, "      likely false positive: %s\n        hint: %s\n", x->flags[i].what,
                      x->flags[i].hint);
}

static void text_explain(struct dr_buf *b, const struct dr_explain *ex)
{
    dr_buf_puts(b, "\nWhy (--explain)\n");
    if (!ex->nnodes)
        dr_buf_puts(b, "  nothing to explain: no new or modified nodes\n");
    for (size_t i = 0; i < ex->nnodes; i++)
        text_explain_node(b, &ex->nodes[i]);
    if (ex->nleft)
        dr_buf_printf(b,
                      "  ... and %zu more changes not explained; name them: plan --explain "
                      "NODE...\n",
                      ex->nleft);
}

/* Whether text and Markdown show reason `bit`: a new node's sub-selectors
 * that only say "there was no old version" are JSON's alone. */
static int shown(const struct dr_plan_entry *e, unsigned bit)
{
    return (e->reasons & bit) && !(e->absent_reasons & bit);
}

/* ---- text --------------------------------------------------------------- */

static void text_header(struct dr_buf *b, const struct dr_plan *p)
{
    dr_buf_printf(b, "dbtrun plan: %s (dbt %s) -> %s (dbt %s)\n", p->state_label,
                  p->state_version ? p->state_version : "?", p->current_label,
                  p->current_version ? p->current_version : "?");
    if (p->nentries == 0) {
        dr_buf_puts(b, "No changes: state:modified+ selects nothing.\n");
        return;
    }
    dr_buf_printf(b, "%zu new, %zu modified, %zu removed; state:modified+ selects %zu: ", p->nnew,
                  p->nmodified, p->nremoved, p->nselected);
    kind_counts(b, p->selected_by_kind);
    dr_buf_puts(b, p->breaking ? "\nBREAKING contract change (see below)\n" : "\n");
}

/* The line after a text section cut at TEXT_LIST_MAX: the terminal shows the
 * first nodes, the JSON report has them all. */
static void text_more(struct dr_buf *b, size_t total)
{
    if (total > TEXT_LIST_MAX)
        dr_buf_printf(b, "    ... and %zu more; see --format json\n", total - TEXT_LIST_MAX);
}

static void render_text(struct dr_buf *b, const struct dr_plan *p)
{
    static const char sign[] = {'+', '~', '-'};
    text_header(b, p);
    if (p->nentries)
        dr_buf_puts(b, "\nChanges\n");
    for (size_t i = 0; i < p->nentries && i < TEXT_LIST_MAX; i++) {
        const struct dr_plan_entry *e = &p->entries[i];
        dr_buf_printf(b, "  %c %s\n", sign[e->status], e->unique_id);
        for (unsigned bit = 1; bit < (1u << DR_PR_COUNT); bit <<= 1) {
            if (!shown(e, bit))
                continue;
            const char *detail = reason_detail(e, bit);
            dr_buf_printf(b, "      %s", dr_plan_reason_name(bit));
            if (bit == DR_PR_CONTRACT)
                dr_buf_puts(b, e->breaking ? " (breaking)" : " (not breaking)");
            if (detail && bit == DR_PR_REMOVED)
                dr_buf_printf(b, " (%s)", detail);
            else if (detail)
                dr_buf_printf(b, ": %s", detail);
            dr_buf_puts(b, "\n");
        }
        if (e->status == DR_PLAN_REMOVED && e->breaking)
            dr_buf_printf(b, "      modified.contract (breaking): %s\n", e->contract);
        if (not_selected_note(e))
            dr_buf_printf(b, "      (%s)\n", not_selected_note(e));
    }
    text_more(b, p->nentries);
    size_t ndown = count_all(p->downstream_by_kind);
    if (ndown) {
        dr_buf_puts(b, "\nDownstream, selected as children of the changes: ");
        kind_counts(b, p->downstream_by_kind);
        dr_buf_puts(b, "\n");
        size_t shown = 0;
        for (size_t i = 0; i < p->nselected; i++) {
            if (p->selected[i].direct)
                continue;
            if (shown++ < TEXT_LIST_MAX)
                dr_buf_printf(b, "    %s\n", p->selected[i].unique_id);
        }
        text_more(b, shown);
    }
    if (p->nwarnings)
        dr_buf_puts(b, "\nWarnings\n");
    for (size_t i = 0; i < p->nwarnings && i < TEXT_LIST_MAX; i++)
        dr_buf_printf(b, "  ! %s\n", p->warnings[i]);
    text_more(b, p->nwarnings);
    if (p->explain)
        text_explain(b, p->explain);
    if (p->estimate) {
        dr_buf_puts(b, "\n");
        estimate_line(b, p->estimate, 0);
    }
}

/* ---- JSON --------------------------------------------------------------- */

static void json_str(struct dr_buf *b, const char *s)
{
    if (s)
        dr_buf_json_string(b, s, strlen(s));
    else
        dr_buf_puts(b, "null");
}

static void json_counts(struct dr_buf *b, const size_t *counts)
{
    dr_buf_puts(b, "{");
    int first = 1;
    for (int k = 0; k < DR_MK_COUNT; k++) {
        if (!counts[k])
            continue;
        dr_buf_printf(b, "%s\"%s\": %zu", first ? "" : ", ",
                      dr_manifest_kind_name((enum dr_manifest_kind)k), counts[k]);
        first = 0;
    }
    dr_buf_puts(b, "}");
}

/* "a, b" as ["a", "b"]. */
static void json_split(struct dr_buf *b, const char *list)
{
    dr_buf_puts(b, "[");
    for (const char *s = list; s && *s;) {
        const char *end = strstr(s, ", ");
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (s != list)
            dr_buf_puts(b, ", ");
        dr_buf_json_string(b, s, n);
        s = end ? end + 2 : s + n;
    }
    dr_buf_puts(b, "]");
}

static void json_entry(struct dr_buf *b, const struct dr_plan_entry *e)
{
    dr_buf_puts(b, "    {\"unique_id\": ");
    json_str(b, e->unique_id);
    dr_buf_puts(b, ", \"resource_type\": ");
    json_str(b, e->resource_type);
    dr_buf_puts(b, ", \"name\": ");
    json_str(b, e->name);
    dr_buf_printf(b, ", \"status\": \"%s\", \"selected\": %s, \"breaking\": %s, \"reasons\": [",
                  status_name(e->status), e->selected ? "true" : "false",
                  e->breaking ? "true" : "false");
    int first = 1;
    for (unsigned bit = 1; bit < (1u << DR_PR_COUNT); bit <<= 1) {
        if (!(e->reasons & bit))
            continue;
        dr_buf_printf(b, "%s\"%s\"", first ? "" : ", ", dr_plan_reason_name(bit));
        first = 0;
    }
    dr_buf_puts(b, "], \"details\": {");
    first = 1;
#define DETAIL(key, value)                                                                         \
    if (value) {                                                                                   \
        dr_buf_printf(b, "%s\"%s\": ", first ? "" : ", ", key);                                    \
        json_str(b, value);                                                                        \
        first = 0;                                                                                 \
    }
    DETAIL("configs", e->configs);
    DETAIL("relation", e->relation);
    DETAIL("persisted_descriptions", e->descriptions);
    DETAIL("macros", e->macros);
    DETAIL("contract", e->contract);
    DETAIL("properties", e->properties);
#undef DETAIL
    if (e->config_keys) {
        dr_buf_printf(b, "%s\"config_keys\": ", first ? "" : ", ");
        json_split(b, e->config_keys);
    }
    if (e->status == DR_PLAN_REMOVED)
        dr_buf_printf(b, "%s\"removed\": \"%s\"", first && !e->config_keys ? "" : ", ",
                      e->disabled ? "disabled" : "deleted");
    dr_buf_puts(b, "}}");
}

/* `  "state": {"path": ..., "dbt_version": ..., "generated_at": ...},` */
static void json_side(struct dr_buf *b, const char *side, const char *path, const char *version,
                      const char *generated_at)
{
    dr_buf_printf(b, "  \"%s\": {\"path\": ", side);
    json_str(b, path);
    dr_buf_puts(b, ", \"dbt_version\": ");
    json_str(b, version);
    dr_buf_puts(b, ", \"generated_at\": ");
    json_str(b, generated_at);
    dr_buf_puts(b, "},\n");
}

static void json_explain_node(struct dr_buf *b, const struct dr_explain_node *x)
{
    json_str(b, x->unique_id);
    dr_buf_printf(b, ": {\"status\": \"%s\", \"note\": ", x->status);
    json_str(b, x->note);
    dr_buf_puts(b, ", \"configs\": [");
    for (size_t i = 0; i < x->nconfigs; i++) {
        dr_buf_puts(b, i ? ", {\"key\": " : "{\"key\": ");
        json_str(b, x->configs[i].key);
        dr_buf_puts(b, ", \"old\": ");
        json_str(b, x->configs[i].old_value);
        dr_buf_puts(b, ", \"new\": ");
        json_str(b, x->configs[i].new_value);
        dr_buf_puts(b, "}");
    }
    dr_buf_puts(b, "], \"body_diff\": ");
    json_str(b, x->diff);
    dr_buf_puts(b, ", \"macro_paths\": [");
    for (size_t i = 0; i < x->nmacro_paths; i++) {
        dr_buf_puts(b, i ? ", " : "");
        json_str(b, x->macro_paths[i]);
    }
    dr_buf_puts(b, "], \"relation\": {\"old\": ");
    json_str(b, x->relation_old);
    dr_buf_puts(b, ", \"new\": ");
    json_str(b, x->relation_new);
    dr_buf_puts(b, "}, \"likely_false_positives\": [");
    for (size_t i = 0; i < x->nflags; i++) {
        dr_buf_puts(b, i ? ", {\"what\": " : "{\"what\": ");
        json_str(b, x->flags[i].what);
        dr_buf_puts(b, ", \"hint\": ");
        json_str(b, x->flags[i].hint);
        dr_buf_puts(b, "}");
    }
    dr_buf_puts(b, "]}");
}

/* `  "explain": {"<unique id>": {...}, ...},` */
static void json_explain(struct dr_buf *b, const struct dr_explain *ex)
{
    dr_buf_puts(b, "  \"explain\": {");
    for (size_t i = 0; i < ex->nnodes; i++) {
        dr_buf_puts(b, i ? ",\n    " : "\n    ");
        json_explain_node(b, &ex->nodes[i]);
    }
    dr_buf_printf(b, "%s},\n  \"explain_not_shown\": %zu,\n", ex->nnodes ? "\n  " : "", ex->nleft);
}

static void json_estimate(struct dr_buf *b, const struct dr_estimate *e)
{
    dr_buf_printf(b,
                  "  \"estimate\": {\"seconds\": %.3f, \"critical_path_seconds\": %.3f, "
                  "\"serial_seconds\": %.3f, \"threads\": %u, \"nodes\": %zu, \"timed\": %zu, "
                  "\"unknown\": [",
                  e->total, e->critical, e->serial, e->threads, e->nnodes, e->nknown);
    for (size_t i = 0; i < e->nunknown; i++) {
        dr_buf_puts(b, i ? ", " : "");
        json_str(b, e->unknown[i]);
    }
    dr_buf_puts(b, "], \"source\": ");
    json_str(b, e->source);
    dr_buf_puts(b, "},\n");
}

static void render_json(struct dr_buf *b, const struct dr_plan *p)
{
    dr_buf_puts(b, "{\n");
    json_side(b, "state", p->state_label, p->state_version, p->state_generated_at);
    json_side(b, "current", p->current_label, p->current_version, p->current_generated_at);
    dr_buf_printf(b,
                  "  \"summary\": {\"new\": %zu, \"modified\": %zu, \"removed\": %zu, "
                  "\"selected\": %zu, \"breaking\": %s, \"selected_by_type\": ",
                  p->nnew, p->nmodified, p->nremoved, p->nselected, p->breaking ? "true" : "false");
    json_counts(b, p->selected_by_kind);
    dr_buf_puts(b, ", \"downstream_by_type\": ");
    json_counts(b, p->downstream_by_kind);
    dr_buf_puts(b, "},\n  \"changes\": [");
    for (size_t i = 0; i < p->nentries; i++) {
        dr_buf_puts(b, i ? ",\n" : "\n");
        json_entry(b, &p->entries[i]);
    }
    dr_buf_puts(b, p->nentries ? "\n  ],\n  \"selected\": [" : "],\n  \"selected\": [");
    for (size_t i = 0; i < p->nselected; i++) {
        const struct dr_plan_selected *s = &p->selected[i];
        dr_buf_puts(b, i ? ",\n    {\"unique_id\": " : "\n    {\"unique_id\": ");
        json_str(b, s->unique_id);
        dr_buf_puts(b, ", \"resource_type\": ");
        json_str(b, s->resource_type);
        dr_buf_printf(b, ", \"direct\": %s}", s->direct ? "true" : "false");
    }
    dr_buf_puts(b, p->nselected ? "\n  ],\n" : "],\n");
    if (p->explain)
        json_explain(b, p->explain);
    if (p->estimate)
        json_estimate(b, p->estimate);
    dr_buf_puts(b, "  \"warnings\": [");
    for (size_t i = 0; i < p->nwarnings; i++) {
        dr_buf_puts(b, i ? ",\n    " : "\n    ");
        json_str(b, p->warnings[i]);
    }
    dr_buf_puts(b, p->nwarnings ? "\n  ]\n}\n" : "]\n}\n");
}

/* ---- Markdown ----------------------------------------------------------- */

/* Text for a table cell: no line breaks, no pipes, no HTML. */
static void md_text(struct dr_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '|':
            dr_buf_puts(b, "\\|");
            break;
        case '\n':
        case '\r':
            dr_buf_puts(b, " ");
            break;
        case '<':
            dr_buf_puts(b, "&lt;");
            break;
        case '>':
            dr_buf_puts(b, "&gt;");
            break;
        case '`':
            dr_buf_puts(b, "'");
            break;
        default:
            dr_buf_add(b, s, 1);
        }
    }
}

/* Adds `row` to section `sec` while it fits in `cap` (keeping room for the
 * closing note); once a row is refused, later rows are counted, not added. */
static void md_row(struct dr_buf *sec, size_t cap, struct dr_buf *row, size_t *dropped)
{
    if (*dropped || sec->len + row->len + NOTE_RESERVE > cap)
        (*dropped)++;
    else
        dr_buf_add(sec, row->data ? row->data : "", row->len);
    dr_buf_reset(row);
}

/* A one-line note instead of a section that has no room, if even it fits. */
static void md_fit(struct dr_buf *sec, size_t cap, size_t n, const char *what)
{
    char note[128];
    int len = snprintf(note, sizeof note, "\n_%zu %s not shown (GitHub size limit)._\n", n, what);
    if (len > 0 && (size_t)len < sizeof note && sec->len + (size_t)len <= cap)
        dr_buf_add(sec, note, (size_t)len);
}

static void md_dropped(struct dr_buf *sec, size_t dropped)
{
    if (dropped)
        dr_buf_printf(sec, "\n_... and %zu more not shown (GitHub size limit)._\n", dropped);
}

static void md_header(struct dr_buf *b, const struct dr_plan *p)
{
    dr_buf_puts(b, "### dbtrun plan\n\n");
    if (p->nentries == 0) {
        dr_buf_puts(b, "No changes: `state:modified+` selects nothing.\n");
    } else {
        dr_buf_printf(b,
                      "**%zu new, %zu modified, %zu removed** - `state:modified+` selects "
                      "**%zu**: ",
                      p->nnew, p->nmodified, p->nremoved, p->nselected);
        kind_counts(b, p->selected_by_kind);
        dr_buf_puts(b, "\n");
    }
    if (p->estimate) {
        dr_buf_puts(b, "\n");
        estimate_line(b, p->estimate, 1);
    }
    dr_buf_printf(b, "\n<sub>state: `%s` (dbt %s) - current: `%s` (dbt %s)</sub>\n", p->state_label,
                  p->state_version ? p->state_version : "?", p->current_label,
                  p->current_version ? p->current_version : "?");
}

static void md_changes(struct dr_buf *sec, size_t cap, const struct dr_plan *p)
{
    struct dr_buf row;
    size_t dropped = 0;
    static const char head[] = "\n| change | node | type | why |\n| --- | --- | --- | --- |\n";
    if (!p->nentries)
        return;
    if (sizeof head + NOTE_RESERVE > cap) {
        md_fit(sec, cap, p->nentries, "changes");
        return;
    }
    dr_buf_init(&row, cap + 1);
    dr_buf_puts(sec, head);
    for (size_t i = 0; i < p->nentries; i++) {
        const struct dr_plan_entry *e = &p->entries[i];
        dr_buf_printf(&row, "| %s | `%s` | %s | ", status_name(e->status), e->unique_id,
                      e->resource_type);
        int first = 1;
        for (unsigned bit = 1; bit < (1u << DR_PR_COUNT); bit <<= 1) {
            if (!shown(e, bit))
                continue;
            dr_buf_printf(&row, "%s%s", first ? "" : "<br>", dr_plan_reason_name(bit));
            first = 0;
            const char *detail = bit == DR_PR_CONFIGS ? e->config_keys : reason_detail(e, bit);
            if (bit == DR_PR_CONTRACT)
                dr_buf_puts(&row, e->breaking ? " **(breaking)**" : " (not breaking)");
            if (detail) {
                dr_buf_puts(&row, ": ");
                md_text(&row, detail);
            }
        }
        if (e->status == DR_PLAN_REMOVED && e->breaking)
            dr_buf_puts(&row, "<br>modified.contract **(breaking)**");
        if (not_selected_note(e)) /* new only: a removed node is never selected */
            dr_buf_puts(&row, e->status == DR_PLAN_NEW
                                  ? "<br>_(not selected: new sources and exposures are state:new)_"
                                  : "<br>_(not selected by state:modified)_");
        dr_buf_puts(&row, " |\n");
        md_row(sec, cap, &row, &dropped);
    }
    md_dropped(sec, dropped);
    dr_buf_free(&row);
}

static void md_downstream(struct dr_buf *sec, size_t cap, const struct dr_plan *p)
{
    struct dr_buf row;
    size_t dropped = 0, ndown = count_all(p->downstream_by_kind);
    if (!ndown)
        return;
    dr_buf_init(&row, cap + 1);
    dr_buf_puts(&row, "\n**Downstream impact** (selected as children of the changes): ");
    kind_counts(&row, p->downstream_by_kind);
    dr_buf_printf(&row, "\n\n<details><summary>%zu downstream node%s</summary>\n\n", ndown,
                  ndown == 1 ? "" : "s");
    if (row.len + NOTE_RESERVE + 32 > cap) {
        md_fit(sec, cap, ndown, "downstream nodes");
        dr_buf_free(&row);
        return;
    }
    dr_buf_add(sec, row.data, row.len);
    dr_buf_reset(&row);
    for (size_t i = 0; i < p->nselected; i++) {
        if (p->selected[i].direct)
            continue;
        dr_buf_printf(&row, "- `%s`\n", p->selected[i].unique_id);
        md_row(sec, cap > 32 ? cap - 32 : 0, &row, &dropped);
    }
    md_dropped(sec, dropped);
    dr_buf_puts(sec, "\n</details>\n");
    dr_buf_free(&row);
}

static void md_warnings(struct dr_buf *sec, size_t cap, const struct dr_plan *p)
{
    struct dr_buf row;
    size_t dropped = 0;
    if (!p->nwarnings)
        return;
    if (16 + NOTE_RESERVE > cap) {
        md_fit(sec, cap, p->nwarnings, "warnings");
        return;
    }
    dr_buf_init(&row, cap + 1);
    dr_buf_printf(sec, "\n> [!%s]\n", p->breaking ? "CAUTION" : "WARNING");
    for (size_t i = 0; i < p->nwarnings; i++) {
        dr_buf_puts(&row, "> - ");
        md_text(&row, p->warnings[i]);
        dr_buf_puts(&row, "\n");
        md_row(sec, cap, &row, &dropped);
    }
    if (dropped)
        dr_buf_printf(sec, "> - ... and %zu more warnings\n", dropped);
    dr_buf_free(&row);
}

/* A fenced block whose fence cannot occur in the text. */
static void md_fenced(struct dr_buf *b, const char *lang, const char *text)
{
    int ticks = 3;
    for (const char *s = text; s && *s; s++) {
        int run = 0;
        while (s[run] == '`')
            run++;
        if (run >= ticks)
            ticks = run + 1;
        s += run ? run - 1 : 0;
    }
    for (int i = 0; i < ticks; i++)
        dr_buf_puts(b, "`");
    dr_buf_printf(b, "%s\n%s%s", lang, text, text[0] && text[strlen(text) - 1] != '\n' ? "\n" : "");
    for (int i = 0; i < ticks; i++)
        dr_buf_puts(b, "`");
    dr_buf_puts(b, "\n");
}

static void md_explain_node(struct dr_buf *row, const struct dr_explain_node *x)
{
    dr_buf_printf(row, "<details><summary><code>%s</code> (%s)%s</summary>\n\n", x->unique_id,
                  x->status, x->nflags ? " - likely false positive" : "");
    if (x->note) {
        md_text(row, x->note);
        dr_buf_puts(row, "\n\n");
    }
    for (size_t i = 0; i < x->nconfigs; i++) {
        dr_buf_printf(row, "- config `%s`: ", x->configs[i].key);
        md_text(row, or_absent(x->configs[i].old_value));
        dr_buf_puts(row, " &rarr; ");
        md_text(row, or_absent(x->configs[i].new_value));
        dr_buf_puts(row, "\n");
    }
    if (x->relation_old && x->relation_new && strcmp(x->relation_old, x->relation_new) != 0) {
        dr_buf_puts(row, "- relation: ");
        md_text(row, x->relation_old);
        dr_buf_puts(row, " &rarr; ");
        md_text(row, x->relation_new);
        dr_buf_puts(row, "\n");
    }
    for (size_t i = 0; i < x->nmacro_paths; i++) {
        dr_buf_puts(row, "- macro: ");
        md_text(row, x->macro_paths[i]);
        dr_buf_puts(row, "\n");
    }
    for (size_t i = 0; i < x->nflags; i++) {
        dr_buf_puts(row, "- **likely false positive**: ");
        md_text(row, x->flags[i].what);
        dr_buf_puts(row, " - ");
        md_text(row, x->flags[i].hint);
        dr_buf_puts(row, "\n");
    }
    if (x->diff && *x->diff) {
        dr_buf_puts(row, "\n");
        md_fenced(row, "diff", x->diff);
    }
    dr_buf_puts(row, "\n</details>\n");
}

static void md_explain(struct dr_buf *sec, size_t cap, const struct dr_plan *p)
{
    struct dr_buf row;
    size_t dropped = 0;
    const struct dr_explain *ex = p->explain;
    if (!ex || !ex->nnodes)
        return;
    if (32 + NOTE_RESERVE > cap) {
        md_fit(sec, cap, ex->nnodes, "explanations");
        return;
    }
    dr_buf_init(&row, cap + 1);
    dr_buf_puts(sec, "\n**Why these changes**\n\n");
    for (size_t i = 0; i < ex->nnodes; i++) {
        md_explain_node(&row, &ex->nodes[i]);
        md_row(sec, cap, &row, &dropped);
    }
    md_dropped(sec, dropped + ex->nleft);
    dr_buf_free(&row);
}

/* Header first; then warnings (at most a quarter of the room), the changes,
 * the evidence of --explain, and the downstream list with what is left. Each section is cut at a
 * row boundary with a note, never in the middle of a row. */
static int render_markdown(struct dr_buf *out, const struct dr_plan *p, size_t max_bytes)
{
    struct dr_buf head, warn, changes, why, down;
    int rc = 0;
    size_t budget = max_bytes ? max_bytes : RENDER_MAX;
    dr_buf_init(&head, RENDER_MAX);
    dr_buf_init(&warn, RENDER_MAX);
    dr_buf_init(&changes, RENDER_MAX);
    dr_buf_init(&why, RENDER_MAX);
    dr_buf_init(&down, RENDER_MAX);
    md_header(&head, p);
    size_t room = budget > head.len + 16 ? budget - head.len - 16 : 0;
    md_warnings(&warn, room / 4, p);
    room = room > warn.len ? room - warn.len : 0;
    size_t ndown = count_all(p->downstream_by_kind);
    size_t down_reserve = ndown ? (room / 4 < 4096 ? room / 4 : 4096) : 0;
    /* the evidence keeps a share too, so a long change table leaves some */
    size_t why_reserve =
        p->explain && p->explain->nnodes ? (room / 4 < 16384 ? room / 4 : 16384) : 0;
    md_changes(&changes, room > down_reserve + why_reserve ? room - down_reserve - why_reserve : 0,
               p);
    room = room > changes.len ? room - changes.len : 0;
    md_explain(&why, room > down_reserve ? room - down_reserve : 0, p);
    room = room > why.len ? room - why.len : 0;
    md_downstream(&down, room, p);
    struct dr_buf *parts[] = {&head, &changes, &why, &down, &warn};
    for (size_t i = 0; i < 5; i++) {
        if (parts[i]->out_of_mem)
            rc = -1;
        if (parts[i]->len && dr_buf_add(out, parts[i]->data, parts[i]->len))
            rc = -1;
        dr_buf_free(parts[i]);
    }
    /* Only a budget smaller than the header itself gets here: cut at a line. */
    if (out->len > budget) {
        size_t cut = budget;
        while (cut > 0 && out->data[cut - 1] != '\n')
            cut--;
        out->len = cut;
        out->data[cut] = '\0';
    }
    return rc;
}

int dr_plan_render(const struct dr_plan *plan, enum dr_plan_format format, size_t max_bytes,
                   char **out, size_t *len)
{
    struct dr_buf b;
    int rc = 0;
    dr_buf_init(&b, RENDER_MAX);
    if (format == DR_PLAN_JSON)
        render_json(&b, plan);
    else if (format == DR_PLAN_MARKDOWN)
        rc = render_markdown(&b, plan, max_bytes);
    else
        render_text(&b, plan);
    if (rc || b.out_of_mem || b.overflowed) {
        dr_buf_free(&b);
        return -1;
    }
    *out = dr_buf_take(&b, len);
    return *out ? 0 : -1;
}
