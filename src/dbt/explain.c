/* explain: the evidence of `dbtrun plan --explain`. The plan itself compares
 * hashes; here the two manifest files are streamed once more, keeping the
 * raw code, unrendered config and relation of the explained nodes only, so a
 * plain plan pays nothing for it. Rendering is in plan_render.c. */
#include "dbtrun/explain.h"
#include "dbtrun/buf.h"
#include "dbtrun/jsonpull.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONTEXT 3                  /* lines of context around a diff hunk */
#define LCS_CELLS_MAX (4u << 20)   /* past this the changed middle is shown whole */
#define VALUE_JSON_MAX (64u << 10) /* cap on one config value read */
#define PATHS_MAX 3                /* macro paths listed per node */
#define MACRO_DEPTH_MAX 64

/* ---- one node as one manifest file has it -------------------------------- */

struct kv {
    char *key, *value;
};

struct side {
    int found;
    char *raw_code;
    struct kv *config; /* unrendered_config, compact JSON values */
    size_t nconfig, capconfig;
    char *database, *schema, *alias, *identifier, *name;
    char *unrendered_database, *unrendered_schema; /* sources */
};

static void side_free(struct side *s)
{
    for (size_t i = 0; i < s->nconfig; i++) {
        free(s->config[i].key);
        free(s->config[i].value);
    }
    free(s->config);
    free(s->raw_code);
    free(s->database);
    free(s->schema);
    free(s->alias);
    free(s->identifier);
    free(s->name);
    free(s->unrendered_database);
    free(s->unrendered_schema);
    memset(s, 0, sizeof *s);
}

static const char *side_config(const struct side *s, const char *key)
{
    for (size_t i = 0; i < s->nconfig; i++)
        if (strcmp(s->config[i].key, key) == 0)
            return s->config[i].value;
    return NULL;
}

/* ---- the streaming pass ------------------------------------------------- */

struct pass {
    struct dr_jsonpull p;
    char *const *uids; /* the wanted nodes */
    struct side *sides;
    size_t n;
    int oom;
};

/* Writes the value starting at token t as compact JSON (keys in file order). */
static int emit_value(struct pass *ps, enum dr_jsonpull_token t, struct dr_buf *b)
{
    switch (t) {
    case DR_JP_STRING:
        return dr_buf_json_string(b, ps->p.str, ps->p.len), 0;
    case DR_JP_NUMBER:
        return dr_buf_add(b, ps->p.str, ps->p.len), 0;
    case DR_JP_TRUE:
        return dr_buf_puts(b, "true"), 0;
    case DR_JP_FALSE:
        return dr_buf_puts(b, "false"), 0;
    case DR_JP_NULL:
        return dr_buf_puts(b, "null"), 0;
    case DR_JP_OBJECT:
    case DR_JP_ARRAY: {
        int object = t == DR_JP_OBJECT, first = 1;
        enum dr_jsonpull_token end = object ? DR_JP_END_OBJECT : DR_JP_END_ARRAY;
        dr_buf_puts(b, object ? "{" : "[");
        for (t = dr_jsonpull_next(&ps->p); t != end; t = dr_jsonpull_next(&ps->p)) {
            if (!first)
                dr_buf_puts(b, ", ");
            first = 0;
            if (object && t == DR_JP_KEY) {
                dr_buf_json_string(b, ps->p.str, ps->p.len);
                dr_buf_puts(b, ": ");
                t = dr_jsonpull_next(&ps->p);
            }
            if (emit_value(ps, t, b))
                return -1;
        }
        return dr_buf_puts(b, object ? "}" : "]"), 0;
    }
    default:
        return -1;
    }
}

/* A string or null field into *out (replacing an earlier one). */
static int read_string(struct pass *ps, char **out)
{
    enum dr_jsonpull_token t = dr_jsonpull_next(&ps->p);
    if (t == DR_JP_STRING) {
        free(*out);
        *out = strdup(ps->p.str);
        if (!*out)
            ps->oom = 1;
        return 0;
    }
    if (t == DR_JP_OBJECT || t == DR_JP_ARRAY)
        return dr_jsonpull_skip_container(&ps->p);
    return t == DR_JP_ERROR || t == DR_JP_EOF ? -1 : 0;
}

static int read_config(struct pass *ps, struct side *s)
{
    enum dr_jsonpull_token t = dr_jsonpull_next(&ps->p);
    if (t != DR_JP_OBJECT)
        return t == DR_JP_ARRAY ? dr_jsonpull_skip_container(&ps->p) : 0;
    while ((t = dr_jsonpull_next(&ps->p)) == DR_JP_KEY) {
        struct kv *grown = dr_grow(s->config, &s->capconfig, s->nconfig + 1, sizeof *grown, 4096);
        char *key = strdup(ps->p.str);
        struct dr_buf v;
        dr_buf_init(&v, VALUE_JSON_MAX);
        if (!grown || !key || emit_value(ps, dr_jsonpull_next(&ps->p), &v)) {
            free(key);
            dr_buf_free(&v);
            ps->oom = !grown || !key;
            return -1;
        }
        s->config = grown;
        char *value = v.overflowed ? strdup("(too long to show)") : dr_buf_take(&v, NULL);
        dr_buf_free(&v);
        if (!value) {
            free(key);
            ps->oom = 1;
            return -1;
        }
        s->config[s->nconfig++] = (struct kv){key, value};
    }
    return t == DR_JP_END_OBJECT ? 0 : -1;
}

static int read_node(struct pass *ps, struct side *s)
{
    struct {
        const char *key;
        char **into;
    } strings[] = {{"raw_code", &s->raw_code},
                   {"raw_sql", &s->raw_code},
                   {"database", &s->database},
                   {"schema", &s->schema},
                   {"alias", &s->alias},
                   {"identifier", &s->identifier},
                   {"name", &s->name},
                   {"unrendered_database", &s->unrendered_database},
                   {"unrendered_schema", &s->unrendered_schema}};
    enum dr_jsonpull_token t = dr_jsonpull_next(&ps->p);
    if (t != DR_JP_OBJECT)
        return t == DR_JP_ARRAY ? dr_jsonpull_skip_container(&ps->p) : 0;
    s->found = 1;
    while ((t = dr_jsonpull_next(&ps->p)) == DR_JP_KEY) {
        size_t i = 0, n = sizeof strings / sizeof strings[0];
        while (i < n && strcmp(ps->p.str, strings[i].key) != 0)
            i++;
        int rc;
        if (i < n)
            rc = read_string(ps, strings[i].into);
        else if (strcmp(ps->p.str, "unrendered_config") == 0)
            rc = read_config(ps, s);
        else
            rc = dr_jsonpull_skip_value(&ps->p);
        if (rc || ps->oom)
            return -1;
    }
    return t == DR_JP_END_OBJECT ? 0 : -1;
}

static long wanted(const struct pass *ps, const char *uid)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->uids[i], uid) == 0)
            return (long)i;
    return -1;
}

/* One section ("nodes", "sources", ...): the wanted entries read, the rest skipped. */
static int read_section(struct pass *ps)
{
    enum dr_jsonpull_token t = dr_jsonpull_next(&ps->p);
    if (t != DR_JP_OBJECT)
        return t == DR_JP_ARRAY ? dr_jsonpull_skip_container(&ps->p) : 0;
    while ((t = dr_jsonpull_next(&ps->p)) == DR_JP_KEY) {
        long at = wanted(ps, ps->p.str);
        int rc = at >= 0 ? read_node(ps, &ps->sides[at]) : dr_jsonpull_skip_value(&ps->p);
        if (rc)
            return -1;
    }
    return t == DR_JP_END_OBJECT ? 0 : -1;
}

static int is_section(const char *key)
{
    static const char *const sections[] = {"nodes",      "sources",         "exposures",
                                           "metrics",    "semantic_models", "saved_queries",
                                           "unit_tests", "functions",       NULL};
    for (size_t i = 0; sections[i]; i++)
        if (strcmp(key, sections[i]) == 0)
            return 1;
    return 0;
}

/* The wanted nodes of the manifest at `path` into sides[0..n). */
static int read_manifest(const char *path, char *const *uids, struct side *sides, size_t n,
                         char *err, size_t errlen)
{
    struct pass ps = {.uids = uids, .sides = sides, .n = n};
    int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "--explain: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (dr_jsonpull_open_fd(&ps.p, fd)) {
        close(fd);
        snprintf(err, errlen, "--explain: out of memory");
        return -1;
    }
    enum dr_jsonpull_token t = dr_jsonpull_next(&ps.p);
    if (t != DR_JP_OBJECT)
        goto out;
    while ((t = dr_jsonpull_next(&ps.p)) == DR_JP_KEY) {
        int r = is_section(ps.p.str) ? read_section(&ps) : dr_jsonpull_skip_value(&ps.p);
        if (r)
            goto out;
    }
    rc = t == DR_JP_END_OBJECT ? 0 : -1;
out:
    if (rc && ps.oom)
        snprintf(err, errlen, "--explain: out of memory");
    else if (rc)
        snprintf(err, errlen, "--explain: %s is not a manifest it can read again (%s)", path,
                 ps.p.error[0] ? ps.p.error : "unexpected content");
    dr_jsonpull_close(&ps.p);
    close(fd);
    return rc;
}

/* ---- the body diff ------------------------------------------------------ */

struct lines {
    const char **at; /* start of each line */
    size_t *len;     /* without the newline */
    size_t n;
};

static int split_lines(const char *s, struct lines *l)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '\n';
    n += (*s && s[strlen(s) - 1] != '\n');
    l->at = calloc(n + 1, sizeof *l->at);
    l->len = calloc(n + 1, sizeof *l->len);
    l->n = 0;
    if (!l->at || !l->len)
        return -1;
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        l->at[l->n] = p;
        l->len[l->n++] = len;
        p += len + (nl != NULL);
    }
    return 0;
}

static int line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
    return a->len[i] == b->len[j] && memcmp(a->at[i], b->at[j], a->len[i]) == 0;
}

/* The edit script as one op per step: ' ' keep, '-' old only, '+' new only.
 * Common head and tail are kept; the middle by LCS when it is small enough,
 * else as all of the old lines then all of the new. */
static char *edit_script(const struct lines *a, const struct lines *b, size_t *nops)
{
    size_t head = 0, tail = 0;
    while (head < a->n && head < b->n && line_eq(a, head, b, head))
        head++;
    while (tail < a->n - head && tail < b->n - head &&
           line_eq(a, a->n - 1 - tail, b, b->n - 1 - tail))
        tail++;
    size_t n = a->n - head - tail, m = b->n - head - tail;
    char *ops = malloc(a->n + b->n + 1);
    if (!ops)
        return NULL;
    size_t k = 0;
    memset(ops, ' ', head);
    k = head;
    uint32_t *lcs =
        (n + 1) * (m + 1) <= LCS_CELLS_MAX ? calloc((n + 1) * (m + 1), sizeof *lcs) : NULL;
    if (lcs) {
#define L(i, j) lcs[(size_t)(i) * (m + 1) + (j)]
        for (size_t i = n; i-- > 0;)
            for (size_t j = m; j-- > 0;)
                L(i, j) = line_eq(a, head + i, b, head + j) ? L(i + 1, j + 1) + 1
                          : L(i + 1, j) >= L(i, j + 1)      ? L(i + 1, j)
                                                            : L(i, j + 1);
        size_t i = 0, j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && line_eq(a, head + i, b, head + j))
                ops[k++] = ' ', i++, j++;
            else if (i < n && (j == m || L(i + 1, j) >= L(i, j + 1)))
                ops[k++] = '-', i++;
            else
                ops[k++] = '+', j++;
        }
#undef L
        free(lcs);
    } else {
        memset(ops + k, '-', n);
        memset(ops + k + n, '+', m);
        k += n + m;
    }
    memset(ops + k, ' ', tail);
    *nops = k + tail;
    return ops;
}

/* Where the hunk that starts at op `change` ends: changes closer than two
 * contexts join one hunk; the hunk keeps CONTEXT lines after its last change. */
static size_t hunk_end(const char *ops, size_t nops, size_t change)
{
    size_t end = change;
    for (;;) {
        while (end < nops && ops[end] != ' ')
            end++;
        size_t run = end;
        while (run < nops && ops[run] == ' ')
            run++;
        if (run == nops || run - end > 2 * CONTEXT)
            return end + (run - end < CONTEXT ? run - end : CONTEXT);
        end = run;
    }
}

struct hunk_out {
    struct dr_buf *b;
    size_t lines, cut, max_lines, max_bytes;
};

static void hunk_line(struct hunk_out *h, char sign, const char *text, size_t len)
{
    if (h->cut || h->lines >= h->max_lines || h->b->len + len + 2 > h->max_bytes) {
        h->cut++;
        return;
    }
    if (sign)
        dr_buf_add(h->b, &sign, 1);
    dr_buf_add(h->b, text, len);
    dr_buf_puts(h->b, "\n");
    h->lines++;
}

/* Writes the hunks of the script; stops at the caps with a note. */
static void write_hunks(struct dr_buf *b, const char *ops, size_t nops, const struct lines *a,
                        const struct lines *bl, size_t max_lines, size_t max_bytes)
{
    struct hunk_out h = {b, 0, 0, max_lines, max_bytes};
    size_t i = 0, ai = 0, bi = 0; /* ai, bi: the lines of a and b at op i */
    while (i < nops) {
        size_t change = i;
        while (change < nops && ops[change] == ' ')
            change++;
        if (change == nops)
            break;
        size_t start = change >= i + CONTEXT ? change - CONTEXT : i;
        ai += start - i;
        bi += start - i;
        size_t end = hunk_end(ops, nops, change), na = 0, nb = 0;
        for (size_t k = start; k < end; k++) {
            na += ops[k] != '+';
            nb += ops[k] != '-';
        }
        char head[96];
        int len = snprintf(head, sizeof head, "@@ -%zu,%zu +%zu,%zu @@", ai + (na > 0), na,
                           bi + (nb > 0), nb);
        hunk_line(&h, 0, head, (size_t)len);
        for (size_t k = start; k < end; k++) {
            if (ops[k] == '+')
                hunk_line(&h, '+', bl->at[bi], bl->len[bi]);
            else
                hunk_line(&h, ops[k], a->at[ai], a->len[ai]);
            ai += ops[k] != '+';
            bi += ops[k] != '-';
        }
        i = end;
    }
    if (h.cut)
        dr_buf_printf(b, "... %zu more diff line%s not shown\n", h.cut, h.cut == 1 ? "" : "s");
}

char *dr_explain_diff(const char *old_text, const char *new_text, size_t max_lines,
                      size_t max_bytes)
{
    struct lines a = {0}, b = {0};
    char *ops = NULL, *out = NULL;
    size_t nops = 0;
    struct dr_buf buf;
    dr_buf_init(&buf, max_bytes + 128);
    if (split_lines(old_text ? old_text : "", &a) || split_lines(new_text ? new_text : "", &b))
        goto out;
    ops = edit_script(&a, &b, &nops);
    if (!ops)
        goto out;
    write_hunks(&buf, ops, nops, &a, &b, max_lines, max_bytes);
    out = buf.out_of_mem ? NULL : buf.len ? dr_buf_take(&buf, NULL) : strdup("");
out:
    dr_buf_free(&buf);
    free(ops);
    free(a.at);
    free(a.len);
    free(b.at);
    free(b.len);
    return out;
}

/* ---- likely false positives --------------------------------------------- */

static const char HINT_ENV_VAR[] =
    "dbt compares the rendered value: set flags: {state_modified_compare_more_unrendered_values: "
    "true} in dbt_project.yml (dbt >= 1.9) so it compares the env_var() call instead";
static const char HINT_TARGET[] =
    "the value follows the target: leave schema/database to generate_schema_name / "
    "generate_database_name instead of setting the target's value in config";
static const char HINT_TIMESTAMP[] =
    "a timestamp taken at parse time (generated_at, run_started_at, now()) differs on every "
    "parse: keep it out of config and meta";
static const char HINT_ROOT[] = "an absolute path differs by checkout folder: use a path "
                                "relative to the project root";
static const char HINT_SOURCE[] =
    "dbt compares a source's rendered database/schema: set flags: "
    "{state_modified_compare_more_unrendered_values: true} in dbt_project.yml (dbt >= 1.9) so it "
    "compares what is written";
static const char HINT_RELATION[] =
    "the relation follows the target's schema/database: compare against a manifest of the same "
    "target, or make generate_schema_name give CI and production the same custom schema";

/* The JSON string literal `v` equals the text s. */
static int json_is(const char *v, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return v && s && v[0] == '"' && strncmp(v + 1, s, n) == 0 && v[n + 1] == '"' && !v[n + 2];
}

static int has_date(const char *v)
{
    for (const char *p = v; p && p[0]; p++) {
        int ok = 1;
        for (int i = 0; i < 10 && ok; i++)
            ok = i == 4 || i == 7 ? p[i] == '-' : p[i] >= '0' && p[i] <= '9';
        if (ok)
            return 1;
    }
    return 0;
}

/* Two different absolute paths whose last two components or more agree. */
static int differ_by_root(const char *a, const char *b)
{
    if (!a || !b || strcmp(a, b) == 0 || a[0] != '"' || b[0] != '"' || a[1] != '/' || b[1] != '/')
        return 0;
    size_t la = strlen(a), lb = strlen(b), same = 0, slashes = 0;
    while (same < la && same < lb && a[la - 1 - same] == b[lb - 1 - same]) {
        slashes += a[la - 1 - same] == '/';
        same++;
    }
    while (same > 0 && a[la - same] != '/')
        same--; /* the common tail starts at a folder boundary */
    return slashes >= 2 && same > 1 && same < la - 1 && same < lb - 1;
}

const char *dr_explain_env_hint(const char *key, const char *old_value, const char *new_value,
                                const char *old_schema, const char *old_database,
                                const char *new_schema, const char *new_database,
                                const char *raw_code, const char **what)
{
    if ((old_value && strstr(old_value, "env_var")) ||
        (new_value && strstr(new_value, "env_var"))) {
        *what = "the value comes from env_var()";
        return HINT_ENV_VAR;
    }
    if (raw_code && strstr(raw_code, "env_var") && strstr(raw_code, key)) {
        *what = "the node's config() sets it from env_var()";
        return HINT_ENV_VAR;
    }
    if (json_is(old_value, old_schema) || json_is(new_value, new_schema) ||
        json_is(old_value, old_database) || json_is(new_value, new_database)) {
        *what = "the value is the target's schema or database";
        return HINT_TARGET;
    }
    if (old_value && new_value && has_date(old_value) && has_date(new_value)) {
        *what = "the value is a generated timestamp";
        return HINT_TIMESTAMP;
    }
    if (differ_by_root(old_value, new_value)) {
        *what = "the paths differ only by the project root";
        return HINT_ROOT;
    }
    return NULL;
}

/* ---- one explained node ------------------------------------------------- */

struct job {
    struct dr_explain_node *x;
    const struct dr_plan_entry *entry; /* NULL: unchanged */
    const struct side *old, *cur;
    const struct dr_manifest *state, *current;
    int oom;
};

static char *dup_or_oom(struct job *j, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    j->oom |= !d;
    return d;
}

/* A config value for the report: cut at DR_EXPLAIN_VALUE_MAX bytes (on a
 * UTF-8 character boundary) with "...". */
static char *shown_value(struct job *j, const char *v)
{
    if (!v || strlen(v) <= DR_EXPLAIN_VALUE_MAX)
        return dup_or_oom(j, v);
    size_t n = DR_EXPLAIN_VALUE_MAX;
    while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
        n--;
    char *d = dr_strprintf("%.*s...", (int)n, v);
    j->oom |= !d;
    return d;
}

static void add_flag(struct job *j, const char *subject, const char *what, const char *hint)
{
    struct dr_explain_flag *f = realloc(j->x->flags, (j->x->nflags + 1) * sizeof *f);
    char *text = dr_strprintf("%s: %s", subject, what);
    if (!f || !text) {
        free(text);
        j->oom = 1;
        if (f)
            j->x->flags = f;
        return;
    }
    j->x->flags = f;
    f[j->x->nflags++] = (struct dr_explain_flag){text, hint};
}

static void explain_config_key(struct job *j, const char *key, size_t klen)
{
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(klen < 127 ? klen : 127), key);
    const char *o = side_config(j->old, name), *c = side_config(j->cur, name);
    struct dr_explain_config *cfg = realloc(j->x->configs, (j->x->nconfigs + 1) * sizeof *cfg);
    if (!cfg) {
        j->oom = 1;
        return;
    }
    j->x->configs = cfg;
    cfg[j->x->nconfigs++] =
        (struct dr_explain_config){dup_or_oom(j, name), shown_value(j, o), shown_value(j, c)};
    const char *what = NULL;
    const char *hint =
        dr_explain_env_hint(name, o, c, j->old->schema, j->old->database, j->cur->schema,
                            j->cur->database, j->cur->raw_code, &what);
    if (hint) {
        char subject[160];
        snprintf(subject, sizeof subject, "config %s", name);
        add_flag(j, subject, what, hint);
    }
}

/* The keys the plan found different ("a, b"), each with old and new value. */
static void explain_configs(struct job *j)
{
    const char *keys =
        j->entry && (j->entry->reasons & DR_PR_CONFIGS) ? j->entry->config_keys : NULL;
    for (const char *s = keys; s && *s;) {
        const char *end = strstr(s, ", ");
        size_t n = end ? (size_t)(end - s) : strlen(s);
        explain_config_key(j, s, n);
        s = end ? end + 2 : s + n;
    }
}

static char *relation_of(const struct side *s)
{
    if (!s->found)
        return NULL;
    const char *alias = s->alias ? s->alias : s->identifier ? s->identifier : s->name;
    if (!s->database && !s->schema && !alias)
        return NULL;
    return dr_strprintf("%s.%s.%s", s->database ? s->database : "?", s->schema ? s->schema : "?",
                        alias ? alias : "?");
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void explain_relation(struct job *j)
{
    j->x->relation_old = relation_of(j->old);
    j->x->relation_new = relation_of(j->cur);
    if (!j->entry || !(j->entry->reasons & DR_PR_RELATION))
        return;
    static const char *const keys[] = {"database", "schema", "alias"};
    int changed = 0;
    for (size_t i = 0; i < 3; i++)
        if (!same_text(side_config(j->old, keys[i]), side_config(j->cur, keys[i]))) {
            explain_config_key(j, keys[i], strlen(keys[i]));
            changed = 1;
        }
    if (changed)
        return;
    if (j->old->unrendered_schema && j->cur->unrendered_schema &&
        same_text(j->old->unrendered_schema, j->cur->unrendered_schema) &&
        same_text(j->old->unrendered_database, j->cur->unrendered_database))
        add_flag(j, "relation",
                 "the rendered schema/database differ, the unrendered ones are the same",
                 HINT_SOURCE);
    else
        add_flag(j, "relation", "the configured database/schema/alias are the same on both sides",
                 HINT_RELATION);
}

static void explain_body(struct job *j)
{
    if (!j->old->found || !j->cur->found || same_text(j->old->raw_code, j->cur->raw_code))
        return;
    if (!j->old->raw_code && !j->cur->raw_code)
        return;
    j->x->diff = dr_explain_diff(j->old->raw_code, j->cur->raw_code, DR_EXPLAIN_DIFF_LINES,
                                 DR_EXPLAIN_DIFF_BYTES);
    j->oom |= !j->x->diff;
}

/* ---- macro paths -------------------------------------------------------- */

struct mwalk {
    struct job *j;
    unsigned char *seen; /* current intern ids visited */
    uint32_t path[MACRO_DEPTH_MAX];
};

static int macro_changed(const struct dr_manifest *state, const struct dr_manifest *cur,
                         uint32_t id)
{
    const struct dr_manifest_macro *mac = dr_manifest_id_macro(cur, id);
    const struct dr_manifest_macro *old =
        dr_manifest_find_macro(state, dr_manifest_id_text(cur, id));
    if (!mac)
        return old != NULL;
    return !old || !dr_manifest_hash_eq(old->sql, mac->sql);
}

static void add_path(struct mwalk *w, int depth)
{
    struct dr_buf b;
    dr_buf_init(&b, 16u << 10);
    dr_buf_puts(&b, w->j->x->unique_id);
    for (int i = 0; i <= depth; i++)
        dr_buf_printf(&b, " -> %s", dr_manifest_id_text(w->j->current, w->path[i]));
    dr_buf_puts(&b, " (changed)");
    char **paths = realloc(w->j->x->macro_paths, (w->j->x->nmacro_paths + 1) * sizeof *paths);
    char *text = dr_buf_take(&b, NULL);
    dr_buf_free(&b);
    if (!paths || !text) {
        free(text);
        if (paths)
            w->j->x->macro_paths = paths;
        w->j->oom = 1;
        return;
    }
    w->j->x->macro_paths = paths;
    paths[w->j->x->nmacro_paths++] = text;
}

/* Depth first from macro `id`: each changed macro reached once, with the path. */
static void walk_macro(struct mwalk *w, uint32_t id, int depth)
{
    if (depth >= MACRO_DEPTH_MAX || id >= w->j->current->nids || w->seen[id] ||
        w->j->x->nmacro_paths >= PATHS_MAX)
        return;
    w->seen[id] = 1;
    w->path[depth] = id;
    if (macro_changed(w->j->state, w->j->current, id)) {
        add_path(w, depth);
        return;
    }
    const struct dr_manifest_macro *mac = dr_manifest_id_macro(w->j->current, id);
    for (uint32_t i = 0; mac && i < mac->nmacros; i++)
        walk_macro(w, mac->macros[i], depth + 1);
}

static void explain_macros(struct job *j)
{
    const struct dr_manifest_node *n = dr_manifest_find(j->current, j->x->unique_id);
    if (!n || !j->entry || !(j->entry->reasons & DR_PR_MACROS))
        return;
    struct mwalk w = {.j = j, .seen = calloc(j->current->nids + 1, 1)};
    if (!w.seen) {
        j->oom = 1;
        return;
    }
    for (uint32_t i = 0; i < n->nmacros; i++)
        walk_macro(&w, n->macros[i], 0);
    free(w.seen);
}

/* ---- the nodes to explain ----------------------------------------------- */

static const struct dr_plan_entry *find_entry(const struct dr_plan *plan, const char *uid)
{
    for (size_t i = 0; i < plan->nentries; i++)
        if (strcmp(plan->entries[i].unique_id, uid) == 0)
            return &plan->entries[i];
    return NULL;
}

static int is_selected(const struct dr_plan *plan, const char *uid, int *direct)
{
    for (size_t i = 0; i < plan->nselected; i++)
        if (strcmp(plan->selected[i].unique_id, uid) == 0) {
            *direct = plan->selected[i].direct;
            return 1;
        }
    return 0;
}

/* The change a node selected as a child descends from: a breadth-first walk
 * down the children (child_map, as the plan's selection) from every directly
 * selected node at once, each reached node remembering where it started. */
static const char *changed_parent(const struct dr_plan *plan, const struct dr_manifest *cur,
                                  const struct dr_manifest_node *n, int *oom)
{
    const char *found = NULL;
    uint32_t *queue = malloc((cur->nids + 1) * sizeof *queue);
    uint32_t *origin = malloc((cur->nids + 1) * sizeof *origin);
    unsigned char *seen = calloc(cur->nids + 1, 1);
    size_t head = 0, tail = 0;
    if (!n || !queue || !origin || !seen) {
        *oom = n != NULL;
        goto out;
    }
    for (size_t i = 0; i < plan->nselected; i++) {
        const struct dr_manifest_node *d = dr_manifest_find(cur, plan->selected[i].unique_id);
        if (plan->selected[i].direct && d && !seen[d->id]) {
            seen[d->id] = 1;
            origin[d->id] = d->id;
            queue[tail++] = d->id;
        }
    }
    while (head < tail && !found) {
        uint32_t id = queue[head++], nkids = 0;
        const uint32_t *kids = dr_manifest_children(cur, id, &nkids);
        for (uint32_t k = 0; k < nkids && !found; k++) {
            uint32_t c = kids[k];
            if (c >= cur->nids || seen[c])
                continue;
            seen[c] = 1;
            origin[c] = origin[id];
            queue[tail++] = c;
            if (c == n->id)
                found = dr_manifest_id_text(cur, origin[id]);
        }
    }
out:
    free(queue);
    free(origin);
    free(seen);
    return found;
}

/* The unique id a name stands for: a unique id of either manifest, or the
 * name of exactly one node. */
static int resolve(const struct dr_manifest *state, const struct dr_manifest *cur, const char *name,
                   const char **uid, char *err, size_t errlen)
{
    if (dr_manifest_find(cur, name) || dr_manifest_find(state, name)) {
        *uid = name;
        return 0;
    }
    const struct dr_manifest *sides[] = {cur, state};
    size_t hits = 0;
    const char *first = NULL, *second = NULL;
    for (size_t s = 0; s < 2 && !hits; s++)
        for (size_t i = 0; i < sides[s]->nnodes; i++) {
            const struct dr_manifest_node *n = &sides[s]->nodes[i];
            if (!n->name || strcmp(n->name, name) != 0)
                continue;
            if (hits++ == 0)
                first = n->unique_id;
            else if (hits == 2)
                second = n->unique_id;
        }
    if (hits == 1) {
        *uid = first;
        return 0;
    }
    if (hits == 0)
        snprintf(err, errlen,
                 "--explain: no node '%s' in the current or production manifest "
                 "(give a unique id or a model name)",
                 name);
    else
        snprintf(err, errlen, "--explain: '%s' names %zu nodes (%s, %s%s): give the unique id",
                 name, hits, first, second, hits > 2 ? ", ..." : "");
    return -1;
}

/* The unique ids to explain (caller frees the array, not the strings,
 * which belong to the manifests or the plan). */
static int pick(const struct dr_plan *plan, const struct dr_manifest *state,
                const struct dr_manifest *cur, const char *const *names, size_t nnames,
                const char ***uids, size_t *n, size_t *left, char *err, size_t errlen)
{
    *n = 0;
    *left = 0;
    *uids = calloc((nnames ? nnames : DR_EXPLAIN_NODES_MAX) + 1, sizeof **uids);
    if (!*uids) {
        snprintf(err, errlen, "--explain: out of memory");
        return -1;
    }
    for (size_t i = 0; i < nnames; i++) {
        const char *uid;
        if (resolve(state, cur, names[i], &uid, err, errlen))
            return -1;
        size_t k = 0;
        while (k < *n && strcmp((*uids)[k], uid) != 0)
            k++;
        if (k == *n)
            (*uids)[(*n)++] = uid;
    }
    for (size_t i = 0; !nnames && i < plan->nentries; i++) {
        if (plan->entries[i].status == DR_PLAN_REMOVED)
            continue;
        if (*n < DR_EXPLAIN_NODES_MAX)
            (*uids)[(*n)++] = plan->entries[i].unique_id;
        else
            (*left)++;
    }
    return 0;
}

static void explain_node(struct job *j, const struct dr_plan *plan)
{
    static const char *const status[] = {"new", "modified", "removed"};
    j->x->status = j->entry ? status[j->entry->status] : "unchanged";
    if (!j->entry) {
        int direct = 0;
        const char *parent = NULL;
        if (is_selected(plan, j->x->unique_id, &direct))
            parent = changed_parent(plan, j->current, dr_manifest_find(j->current, j->x->unique_id),
                                    &j->oom);
        j->x->note = parent ? dr_strprintf("not modified: selected as a child of %s", parent)
                            : dr_strprintf("not modified: state:modified+ does not select it");
        j->oom |= !j->x->note;
        explain_relation(j);
        return;
    }
    explain_configs(j);
    explain_body(j);
    explain_macros(j);
    explain_relation(j);
}

int dr_explain_build(const struct dr_plan *plan, const struct dr_manifest *state,
                     const struct dr_manifest *current, const char *state_path,
                     const char *current_path, const char *const *names, size_t nnames,
                     struct dr_explain **out, char *err, size_t errlen)
{
    const char **uids = NULL;
    struct side *olds = NULL, *curs = NULL;
    struct dr_explain *ex = calloc(1, sizeof *ex);
    size_t n = 0;
    int rc = -1;
    if (!ex || pick(plan, state, current, names, nnames, &uids, &n, &ex->nleft, err, errlen))
        goto out;
    olds = calloc(n + 1, sizeof *olds);
    curs = calloc(n + 1, sizeof *curs);
    ex->nodes = calloc(n + 1, sizeof *ex->nodes);
    if (!olds || !curs || !ex->nodes)
        goto oom;
    if (n && (read_manifest(state_path, (char *const *)uids, olds, n, err, errlen) ||
              read_manifest(current_path, (char *const *)uids, curs, n, err, errlen)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct job j = {
            &ex->nodes[i], find_entry(plan, uids[i]), &olds[i], &curs[i], state, current, 0};
        ex->nnodes++;
        j.x->unique_id = strdup(uids[i]);
        if (!j.x->unique_id)
            goto oom;
        explain_node(&j, plan);
        if (j.oom)
            goto oom;
    }
    *out = ex;
    ex = NULL;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "--explain: out of memory");
out:
    for (size_t i = 0; i < n && olds && curs; i++) {
        side_free(&olds[i]);
        side_free(&curs[i]);
    }
    free(olds);
    free(curs);
    free(uids);
    dr_explain_free(ex);
    return rc;
}

void dr_explain_free(struct dr_explain *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nnodes; i++) {
        struct dr_explain_node *x = &e->nodes[i];
        free(x->unique_id);
        free(x->note);
        for (size_t k = 0; k < x->nconfigs; k++) {
            free(x->configs[k].key);
            free(x->configs[k].old_value);
            free(x->configs[k].new_value);
        }
        free(x->configs);
        free(x->diff);
        for (size_t k = 0; k < x->nmacro_paths; k++)
            free(x->macro_paths[k]);
        free(x->macro_paths);
        free(x->relation_old);
        free(x->relation_new);
        for (size_t k = 0; k < x->nflags; k++)
            free(x->flags[k].what);
        free(x->flags);
    }
    free(e->nodes);
    free(e);
}
