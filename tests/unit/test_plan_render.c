/* Unit tests for src/dbt/plan_render.c on plans built by hand (no manifests):
 * the text, JSON and Markdown reports word for word, Markdown's escaping,
 * and the caps — text lists 200 downstream nodes, Markdown fits max_bytes by
 * dropping whole rows with a note, warnings take at most a quarter of the
 * room, and a budget under the header is cut at a line. */
#include "harness.h"
#include "dbtrun/buf.h"
#include "dbtrun/plan.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static char *render(const struct dr_plan *p, enum dr_plan_format f, size_t max)
{
    char *out = NULL;
    size_t len = 0;
    CHECK(dr_plan_render(p, f, max, &out, &len) == 0);
    CHECK(out && strlen(out) == len);
    return out;
}

/* ---- one plan with every kind of row ------------------------------------ */

static struct dr_plan_entry entries[] = {
    {.unique_id = "model.p.a",
     .resource_type = "model",
     .name = "a",
     .kind = DR_MK_MODEL,
     .status = DR_PLAN_MODIFIED,
     .reasons = DR_PR_BODY | DR_PR_CONFIGS | DR_PR_CONTRACT,
     .selected = 1,
     .breaking = 1,
     .configs = "materialized: \"view\" -> \"table\"; unique_key: null -> \"id\"",
     .config_keys = "materialized, unique_key",
     .contract = "column id removed"},
    {.unique_id = "model.p.gone",
     .resource_type = "model",
     .name = "gone",
     .kind = DR_MK_MODEL,
     .status = DR_PLAN_REMOVED,
     .reasons = DR_PR_REMOVED,
     .disabled = 1,
     .breaking = 1,
     .contract = "contract enforcement removed"},
    {.unique_id = "model.p.n|ew",
     .resource_type = "model",
     .name = "n|ew",
     .kind = DR_MK_MODEL,
     .status = DR_PLAN_NEW,
     /* dbt's sub-selectors also select a node with no old version: JSON
      * lists them, text and Markdown say "new" only */
     .reasons = DR_PR_NEW | DR_PR_BODY | DR_PR_CONFIGS,
     .absent_reasons = DR_PR_BODY | DR_PR_CONFIGS,
     .selected = 1},
    {.unique_id = "source.p.raw.t",
     .resource_type = "source",
     .name = "t",
     .kind = DR_MK_SOURCE,
     .status = DR_PLAN_NEW,
     .reasons = DR_PR_NEW},
};

static struct dr_plan_selected selected[] = {
    {"model.p.a", "model", DR_MK_MODEL, 1},
    {"model.p.b", "model", DR_MK_MODEL, 0},
    {"model.p.n|ew", "model", DR_MK_MODEL, 1},
    {"test.p.t1", "test", DR_MK_TEST, 0},
};

static char warning_pipe[] = "dbt version skew: a | b <x>", warning_lines[] = "line1\nline2 `code`";
static char *warnings[] = {warning_pipe, warning_lines};

static struct dr_plan rich(void)
{
    struct dr_plan p = {.state_label = "prod",
                        .current_label = "target/manifest.json",
                        .state_version = "1.10.4",
                        .current_version = "1.11.2",
                        .state_generated_at = "2026-01-01T00:00:00Z",
                        .entries = entries,
                        .nentries = 4,
                        .nnew = 2,
                        .nmodified = 1,
                        .nremoved = 1,
                        .selected = selected,
                        .nselected = 4,
                        .warnings = warnings,
                        .nwarnings = 2,
                        .breaking = 1};
    p.selected_by_kind[DR_MK_MODEL] = 3;
    p.selected_by_kind[DR_MK_TEST] = 1;
    p.downstream_by_kind[DR_MK_MODEL] = 1;
    p.downstream_by_kind[DR_MK_TEST] = 1;
    return p;
}

static void test_text(void)
{
    struct dr_plan p = rich();
    char *out = render(&p, DR_PLAN_TEXT, 0);
    CHECK_STR(out,
              "dbtrun plan: prod (dbt 1.10.4) -> target/manifest.json (dbt 1.11.2)\n"
              "2 new, 1 modified, 1 removed; state:modified+ selects 4: 3 models, 1 test\n"
              "BREAKING contract change (see below)\n"
              "\n"
              "Changes\n"
              "  ~ model.p.a\n"
              "      modified.body\n"
              "      modified.configs: materialized: \"view\" -> \"table\"; unique_key: null -> "
              "\"id\"\n"
              "      modified.contract (breaking): column id removed\n"
              "  - model.p.gone\n"
              "      removed (disabled)\n"
              "      modified.contract (breaking): contract enforcement removed\n"
              "  + model.p.n|ew\n"
              "      new\n"
              "  + source.p.raw.t\n"
              "      new\n"
              "      (not selected by state:modified: dbt counts a new source, exposure, metric, "
              "semantic model or saved query as state:new only)\n"
              "\n"
              "Downstream, selected as children of the changes: 1 model, 1 test\n"
              "    model.p.b\n"
              "    test.p.t1\n"
              "\n"
              "Warnings\n"
              "  ! dbt version skew: a | b <x>\n"
              "  ! line1\nline2 `code`\n");
    free(out);
}

static void test_text_empty_and_unknown_versions(void)
{
    struct dr_plan p = {.state_label = "s", .current_label = "c", .current_version = "1.11.2"};
    char *out = render(&p, DR_PLAN_TEXT, 0);
    CHECK_STR(out, "dbtrun plan: s (dbt ?) -> c (dbt 1.11.2)\n"
                   "No changes: state:modified+ selects nothing.\n");
    free(out);
}

/* 205 downstream nodes: text lists 200 and says how many more. */
static void test_text_downstream_cap(void)
{
    struct dr_plan_selected many[205];
    char ids[205][32];
    for (int i = 0; i < 205; i++) {
        snprintf(ids[i], sizeof ids[i], "model.p.m%03d", i);
        many[i] = (struct dr_plan_selected){ids[i], "model", DR_MK_MODEL, 0};
    }
    struct dr_plan p = rich();
    p.nwarnings = 0;
    p.selected = many;
    p.nselected = 205;
    p.downstream_by_kind[DR_MK_TEST] = 0;
    p.downstream_by_kind[DR_MK_MODEL] = 205;
    char *out = render(&p, DR_PLAN_TEXT, 0);
    CHECK(out && strstr(out, "children of the changes: 205 models\n    model.p.m000\n"));
    CHECK(out && strstr(out, "    model.p.m199\n    ... and 5 more; see --format json\n"));
    CHECK(out && !strstr(out, "model.p.m200"));
    free(out);
}

/* ---- JSON --------------------------------------------------------------- */

static const cJSON *at(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *str_at(const cJSON *o, const char *key)
{
    const cJSON *v = at(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_at(const cJSON *o, const char *key)
{
    const cJSON *v = at(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void test_json(void)
{
    struct dr_plan p = rich();
    char *out = render(&p, DR_PLAN_JSON, 0);
    cJSON *doc = cJSON_Parse(out ? out : "");
    CHECK(doc != NULL);
    const cJSON *state = at(doc, "state"), *cur = at(doc, "current");
    CHECK_STR(str_at(state, "path"), "prod");
    CHECK_STR(str_at(state, "generated_at"), "2026-01-01T00:00:00Z");
    CHECK(cJSON_IsNull(at(cur, "generated_at")));
    CHECK_STR(str_at(cur, "dbt_version"), "1.11.2");
    const cJSON *sum = at(doc, "summary");
    CHECK(num_at(sum, "new") == 2 && num_at(sum, "modified") == 1 && num_at(sum, "removed") == 1);
    CHECK(num_at(sum, "selected") == 4 && cJSON_IsTrue(at(sum, "breaking")));
    CHECK(num_at(at(sum, "selected_by_type"), "model") == 3);
    CHECK(num_at(at(sum, "selected_by_type"), "test") == 1);
    CHECK(cJSON_GetArraySize(at(sum, "selected_by_type")) == 2); /* zero counts left out */
    CHECK(num_at(at(sum, "downstream_by_type"), "test") == 1);

    const cJSON *changes = at(doc, "changes");
    CHECK(cJSON_GetArraySize(changes) == 4);
    const cJSON *a = cJSON_GetArrayItem(changes, 0);
    CHECK_STR(str_at(a, "status"), "modified");
    CHECK(cJSON_IsTrue(at(a, "selected")) && cJSON_IsTrue(at(a, "breaking")));
    const cJSON *reasons = at(a, "reasons");
    CHECK(cJSON_GetArraySize(reasons) == 3);
    CHECK_STR(cJSON_GetArrayItem(reasons, 0)->valuestring, "modified.body");
    CHECK_STR(cJSON_GetArrayItem(reasons, 2)->valuestring, "modified.contract");
    const cJSON *d = at(a, "details");
    CHECK_STR(str_at(d, "configs"), entries[0].configs);
    CHECK_STR(str_at(d, "contract"), "column id removed");
    CHECK(cJSON_GetArraySize(at(d, "config_keys")) == 2);
    CHECK_STR(cJSON_GetArrayItem(at(d, "config_keys"), 1)->valuestring, "unique_key");
    CHECK(at(d, "relation") == NULL && at(d, "removed") == NULL);
    const cJSON *gone = cJSON_GetArrayItem(changes, 1);
    CHECK_STR(str_at(gone, "status"), "removed");
    CHECK_STR(str_at(at(gone, "details"), "removed"), "disabled");
    CHECK_STR(str_at(cJSON_GetArrayItem(changes, 2), "name"), "n|ew");
    reasons = at(cJSON_GetArrayItem(changes, 2), "reasons");
    CHECK(cJSON_GetArraySize(reasons) == 3);
    CHECK_STR(cJSON_GetArrayItem(reasons, 0)->valuestring, "new");
    CHECK_STR(cJSON_GetArrayItem(reasons, 1)->valuestring, "modified.body");
    CHECK(cJSON_IsFalse(at(cJSON_GetArrayItem(changes, 3), "selected")));

    const cJSON *sel = at(doc, "selected");
    CHECK(cJSON_GetArraySize(sel) == 4);
    CHECK(cJSON_IsFalse(at(cJSON_GetArrayItem(sel, 3), "direct")));
    CHECK_STR(str_at(cJSON_GetArrayItem(sel, 3), "resource_type"), "test");
    CHECK_STR(cJSON_GetArrayItem(at(doc, "warnings"), 1)->valuestring, "line1\nline2 `code`");
    cJSON_Delete(doc);
    free(out);

    /* nothing at all: still valid JSON with empty lists and null versions */
    struct dr_plan empty = {.state_label = "s", .current_label = "c"};
    out = render(&empty, DR_PLAN_JSON, 0);
    CHECK_STR(out,
              "{\n"
              "  \"state\": {\"path\": \"s\", \"dbt_version\": null, \"generated_at\": null},\n"
              "  \"current\": {\"path\": \"c\", \"dbt_version\": null, \"generated_at\": null},\n"
              "  \"summary\": {\"new\": 0, \"modified\": 0, \"removed\": 0, \"selected\": 0, "
              "\"breaking\": false, \"selected_by_type\": {}, \"downstream_by_type\": {}},\n"
              "  \"changes\": [],\n  \"selected\": [],\n  \"warnings\": []\n}\n");
    doc = cJSON_Parse(out ? out : "");
    CHECK(doc && cJSON_IsNull(at(at(doc, "state"), "dbt_version")));
    CHECK(doc && cJSON_GetArraySize(at(doc, "changes")) == 0 && cJSON_IsArray(at(doc, "warnings")));
    CHECK(doc && cJSON_GetArraySize(at(at(doc, "summary"), "selected_by_type")) == 0);
    cJSON_Delete(doc);
    free(out);
}

/* A generic test only dbt's modified.body sees (its tags changed): listed
 * with that reason, and said not to be part of state:modified. */
static void test_modified_not_selected(void)
{
    struct dr_plan_entry e = {.unique_id = "test.p.unique_a",
                              .resource_type = "test",
                              .name = "unique_a",
                              .kind = DR_MK_TEST,
                              .status = DR_PLAN_MODIFIED,
                              .reasons = DR_PR_BODY};
    struct dr_plan p = {
        .state_label = "s", .current_label = "c", .entries = &e, .nentries = 1, .nmodified = 1};
    char *out = render(&p, DR_PLAN_TEXT, 0);
    CHECK(out && strstr(out, "  ~ test.p.unique_a\n      modified.body\n      (not selected by "
                             "state:modified: dbt compares a generic test's config and name only; "
                             "its sub-selectors also see the compiled test)\n"));
    free(out);
    out = render(&p, DR_PLAN_MARKDOWN, 0);
    CHECK(out && strstr(out, "| modified.body<br>_(not selected by state:modified)_ |"));
    free(out);
}

/* ---- Markdown ----------------------------------------------------------- */

#define MD_HEADER                                                                                  \
    "### dbtrun plan\n\n"                                                                          \
    "**2 new, 1 modified, 1 removed** - `state:modified+` selects **4**: 3 models, 1 test\n\n"     \
    "<sub>state: `prod` (dbt 1.10.4) - current: `target/manifest.json` (dbt 1.11.2)</sub>\n"

static void test_markdown(void)
{
    struct dr_plan p = rich();
    char *out = render(&p, DR_PLAN_MARKDOWN, 0);
    CHECK_STR(out, MD_HEADER
              "\n| change | node | type | why |\n| --- | --- | --- | --- |\n"
              "| modified | `model.p.a` | model | modified.body<br>modified.configs: materialized, "
              "unique_key<br>modified.contract **(breaking)**: column id removed |\n"
              "| removed | `model.p.gone` | model | removed: disabled<br>modified.contract "
              "**(breaking)** |\n"
              "| new | `model.p.n|ew` | model | new |\n"
              "| new | `source.p.raw.t` | source | new<br>_(not selected: new sources and "
              "exposures are state:new)_ |\n"
              "\n**Downstream impact** (selected as children of the changes): 1 model, 1 test\n"
              "\n<details><summary>2 downstream nodes</summary>\n\n"
              "- `model.p.b`\n- `test.p.t1`\n"
              "\n</details>\n"
              "\n> [!CAUTION]\n"
              "> - dbt version skew: a \\| b &lt;x&gt;\n"
              "> - line1 line2 'code'\n");
    free(out);

    /* no breaking change: a warning, not a caution */
    p.breaking = 0;
    out = render(&p, DR_PLAN_MARKDOWN, 0);
    CHECK(out && strstr(out, "\n> [!WARNING]\n") && !strstr(out, "CAUTION"));
    free(out);

    struct dr_plan empty = {.state_label = "s", .current_label = "c"};
    out = render(&empty, DR_PLAN_MARKDOWN, 0);
    CHECK_STR(out, "### dbtrun plan\n\nNo changes: `state:modified+` selects nothing.\n"
                   "\n<sub>state: `s` (dbt ?) - current: `c` (dbt ?)</sub>\n");
    free(out);
}

/* n modified models "model.p.mNNNN" with a detail long enough to matter. */
static struct dr_plan_entry *many_entries(size_t n, char (*ids)[32])
{
    struct dr_plan_entry *e = calloc(n, sizeof *e);
    for (size_t i = 0; e && i < n; i++) {
        snprintf(ids[i], 32, "model.p.m%04zu", i);
        e[i] = (struct dr_plan_entry){.unique_id = ids[i],
                                      .resource_type = "model",
                                      .kind = DR_MK_MODEL,
                                      .status = DR_PLAN_MODIFIED,
                                      .reasons = DR_PR_CONFIGS,
                                      .selected = 1,
                                      .config_keys = "materialized, unique_key, tags"};
    }
    return e;
}

static size_t count_lines(const char *s, const char *prefix)
{
    size_t n = 0;
    for (const char *line = s; line && *line;) {
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            n++;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

/* Every table row is whole: a line that starts a row ends it. */
static int rows_whole(const char *s)
{
    for (const char *line = s; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len && line[0] == '|' && (len < 2 || strncmp(line + len - 2, " |", 2) != 0))
            return 0;
        line = nl ? nl + 1 : NULL;
    }
    return 1;
}

static void test_markdown_caps(void)
{
    enum { N = 300 };
    static char ids[N][32];
    struct dr_plan_entry *e = many_entries(N, ids);
    if (!e)
        return;
    struct dr_plan p = {.state_label = "prod",
                        .current_label = "target/manifest.json",
                        .entries = e,
                        .nentries = N,
                        .nmodified = N};
    char *full = render(&p, DR_PLAN_MARKDOWN, 0);
    size_t full_len = full ? strlen(full) : 0;
    CHECK(count_lines(full, "| modified |") == N && !strstr(full, "not shown"));
    for (size_t limit = 1000; limit < full_len; limit += 997) {
        char *out = render(&p, DR_PLAN_MARKDOWN, limit);
        size_t shown = count_lines(out, "| modified |"), dropped = 0;
        const char *note = out ? strstr(out, "\n_... and ") : NULL;
        CHECK(out && strlen(out) <= limit);
        CHECK(rows_whole(out));
        CHECK(note &&
              sscanf(note, "\n_... and %zu more not shown (GitHub size limit)._", &dropped));
        CHECK(shown > 0 && shown + dropped == N);
        free(out);
    }
    free(full);

    /* room for the header and a note only: the note says what is left out */
    char *head = render(&(struct dr_plan){.state_label = "prod",
                                          .current_label = "target/manifest.json",
                                          .nentries = 1,
                                          .entries = e,
                                          .nmodified = 1},
                        DR_PLAN_MARKDOWN, 0);
    size_t head_len = head ? strlen(head) - strlen(strstr(head, "\n| change")) : 0;
    char *out = render(&p, DR_PLAN_MARKDOWN, head_len + 16 + 100);
    CHECK(out && strstr(out, "\n_300 changes not shown (GitHub size limit)._\n"));
    CHECK(out && !strstr(out, "| change |"));
    free(out);
    free(head);

    /* a budget under the header itself: cut at a line, a prefix of the full text */
    full = render(&p, DR_PLAN_MARKDOWN, 0);
    out = render(&p, DR_PLAN_MARKDOWN, 40);
    CHECK(out && strlen(out) <= 40 && strlen(out) > 0 && out[strlen(out) - 1] == '\n');
    CHECK(out && full && strncmp(out, full, strlen(out)) == 0);
    free(out);
    free(full);
    free(e);
}

/* Warnings never take more than a quarter of the room; the changes keep theirs. */
static void test_markdown_warnings_quarter(void)
{
    enum { NW = 100 };
    static char text[NW][200];
    char *w[NW];
    for (int i = 0; i < NW; i++) {
        snprintf(text[i], sizeof text[i], "warning %03d: %0150d", i, 0);
        w[i] = text[i];
    }
    static char ids[20][32];
    struct dr_plan_entry *e = many_entries(20, ids);
    if (!e)
        return;
    struct dr_plan p = {.state_label = "s",
                        .current_label = "c",
                        .entries = e,
                        .nentries = 20,
                        .nmodified = 20,
                        .warnings = w,
                        .nwarnings = NW};
    size_t limit = 8000;
    char *out = render(&p, DR_PLAN_MARKDOWN, limit);
    const char *warn = out ? strstr(out, "\n> [!WARNING]\n") : NULL;
    size_t shown = count_lines(warn, "> - warning "), dropped = 0;
    const char *more = warn ? strstr(warn, "> - ... and ") : NULL;
    CHECK(out && strlen(out) <= limit);
    CHECK(warn && strlen(warn) <= limit / 4);
    CHECK(more && sscanf(more, "> - ... and %zu more warnings", &dropped) == 1);
    CHECK(shown > 0 && shown + dropped == NW);
    CHECK(count_lines(out, "| modified |") == 20); /* all changes still shown */
    free(out);
    free(e);
}

/* Downstream rows are cut too, and the <details> block is always closed. */
static void test_markdown_downstream_cap(void)
{
    enum { ND = 500 };
    static char ids[ND][32];
    static struct dr_plan_selected sel[ND];
    for (int i = 0; i < ND; i++) {
        snprintf(ids[i], sizeof ids[i], "model.p.d%03d", i);
        sel[i] = (struct dr_plan_selected){ids[i], "model", DR_MK_MODEL, 0};
    }
    struct dr_plan p = {.state_label = "s",
                        .current_label = "c",
                        .entries = entries,
                        .nentries = 1,
                        .nmodified = 1,
                        .selected = sel,
                        .nselected = ND};
    p.downstream_by_kind[DR_MK_MODEL] = ND;
    size_t limit = 3000, dropped = 0;
    char *out = render(&p, DR_PLAN_MARKDOWN, limit);
    const char *note = out ? strstr(out, "\n_... and ") : NULL;
    CHECK(out && strlen(out) <= limit);
    CHECK(out && strstr(out, "<summary>500 downstream nodes</summary>"));
    CHECK(note && sscanf(note, "\n_... and %zu more not shown (GitHub size limit)._", &dropped));
    CHECK(count_lines(out, "- `model.p.d") + dropped == ND);
    CHECK(out && strlen(out) > 12 && strcmp(out + strlen(out) - 12, "\n</details>\n") == 0);
    free(out);
}

TEST_MAIN(test_text, test_text_empty_and_unknown_versions, test_text_downstream_cap, test_json,
          test_modified_not_selected, test_markdown, test_markdown_caps,
          test_markdown_warnings_quarter, test_markdown_downstream_cap)
