/* manifest: streams manifest.json through jsonpull, keeping per node only what
 * state comparison reads. Whole values become hashes of canonical JSON (keys
 * sorted, numbers normalized: Python's equality of decoded values); all of it
 * in one arena and one intern table per manifest. */
#include "dbtrun/manifest.h"
#include "dbtrun/buf.h"
#include "dbtrun/jsonpull.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARENA_BLOCK (1u << 20)
#define IDS_MAX (16u << 20)
#define CANON_MAX (16u << 20) /* cap on one value's canonical JSON */
#define VEC_MAX (1u << 24)    /* cap on elements of a temporary vector */
#define WALK_DEPTH_MAX 64     /* folder depth followed by dr_manifest_stale */

/* ---- hashing ------------------------------------------------------------ */

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t avalanche(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/* Two 64-bit lanes over 16-byte blocks, mixed into each other after every
 * block; the length is folded in at the start and the end. */
struct dr_hash dr_manifest_hash(const void *data, size_t n)
{
    const unsigned char *s = data;
    const uint64_t m1 = 0x87c37b91114253d5ULL, m2 = 0x4cf5ad432745937fULL;
    uint64_t h1 = 0x243f6a8885a308d3ULL ^ (uint64_t)n, h2 = 0x13198a2e03707344ULL + (uint64_t)n;
    size_t left = n;
    unsigned char tail[16];
    while (left > 0) {
        uint64_t a, b;
        if (left >= 16) {
            memcpy(&a, s, 8);
            memcpy(&b, s + 8, 8);
            s += 16;
            left -= 16;
        } else {
            memset(tail, 0, sizeof tail);
            memcpy(tail, s, left);
            tail[15] = (unsigned char)(0x80 | left);
            memcpy(&a, tail, 8);
            memcpy(&b, tail + 8, 8);
            left = 0;
        }
        a = rotl64(a * m1, 31) * m2;
        b = rotl64(b * m2, 33) * m1;
        h1 = rotl64(h1 ^ a, 27) + h2;
        h1 = h1 * 5 + 0x52dce729;
        h2 = rotl64(h2 ^ b, 31) + h1;
        h2 = h2 * 5 + 0x38495ab5;
    }
    h1 ^= (uint64_t)n;
    h2 ^= (uint64_t)n;
    h1 += h2;
    h2 += h1;
    h1 = avalanche(h1);
    h2 = avalanche(h2);
    h1 += h2;
    h2 += h1;
    return (struct dr_hash){h1, h2};
}

int dr_manifest_hash_eq(struct dr_hash a, struct dr_hash b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

/* ---- the store: arena and intern table ---------------------------------- */

struct arena_block {
    struct arena_block *next;
    size_t used, size;
    char data[]; /* 8-aligned: follows three 8-byte members */
};

struct intern_entry {
    const char *text;
    uint32_t len;
    uint32_t nchildren;
    uint64_t hash;
    int32_t node, macro;
    uint32_t *children;
    unsigned disabled : 1;
};

struct dr_manifest_store {
    struct arena_block *blocks;
    size_t mem;
    struct intern_entry *ids;
    uint32_t nids, ids_cap;
    uint32_t *slots; /* open addressing: entry index + 1, 0 when empty */
    uint32_t nslots; /* a power of two */
};

static void *arena_alloc(struct dr_manifest_store *st, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    struct arena_block *b = st->blocks;
    if (!b || b->size - b->used < n) {
        size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if (st->mem + size > DR_MANIFEST_MEM_MAX)
            return NULL;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        b->next = st->blocks;
        st->blocks = b;
        st->mem += sizeof *b + size;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static char *arena_strndup(struct dr_manifest_store *st, const char *s, size_t n)
{
    char *d = arena_alloc(st, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static long find_slot(const struct dr_manifest_store *st, const char *s, size_t n, uint64_t h)
{
    if (!st->nslots)
        return -1;
    uint32_t mask = st->nslots - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        uint32_t e = st->slots[i];
        if (!e)
            return -(long)i - 2;
        const struct intern_entry *ent = &st->ids[e - 1];
        if (ent->hash == h && ent->len == n && memcmp(ent->text, s, n) == 0)
            return (long)e - 1;
    }
}

static int grow_slots(struct dr_manifest_store *st)
{
    uint32_t nslots = st->nslots ? st->nslots * 2 : 1024;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t e = 0; e < st->nids; e++) {
        uint32_t i = (uint32_t)st->ids[e].hash & (nslots - 1);
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = e + 1;
    }
    free(st->slots);
    st->slots = slots;
    st->nslots = nslots;
    return 0;
}

/* The id of `s`, added when new; -1 when a cap or memory refuses. */
static long intern(struct dr_manifest_store *st, const char *s, size_t n)
{
    uint64_t h = dr_manifest_hash(s, n).lo;
    long at = find_slot(st, s, n, h);
    if (at >= 0)
        return at;
    if (st->nids >= IDS_MAX || n > UINT32_MAX)
        return -1;
    if ((st->nids + 1) * 2 > st->nslots) {
        if (grow_slots(st))
            return -1;
        at = find_slot(st, s, n, h);
    }
    if (st->nids == st->ids_cap) {
        uint32_t cap = st->ids_cap ? st->ids_cap * 2 : 1024;
        struct intern_entry *ids = realloc(st->ids, (size_t)cap * sizeof *ids);
        if (!ids)
            return -1;
        st->ids = ids;
        st->ids_cap = cap;
    }
    char *text = arena_strndup(st, s, n);
    if (!text)
        return -1;
    uint32_t e = st->nids++;
    st->ids[e] =
        (struct intern_entry){.text = text, .len = (uint32_t)n, .hash = h, .node = -1, .macro = -1};
    st->slots[-at - 2] = e + 1;
    return e;
}

/* ---- public lookups ----------------------------------------------------- */

long dr_manifest_lookup(const struct dr_manifest *m, const char *s, size_t n)
{
    long at = find_slot(m->store, s, n, dr_manifest_hash(s, n).lo);
    return at >= 0 ? at : -1;
}

const char *dr_manifest_id_text(const struct dr_manifest *m, uint32_t id)
{
    return id < m->store->nids ? m->store->ids[id].text : NULL;
}

const struct dr_manifest_node *dr_manifest_id_node(const struct dr_manifest *m, uint32_t id)
{
    if (id >= m->store->nids || m->store->ids[id].node < 0)
        return NULL;
    return &m->nodes[m->store->ids[id].node];
}

const struct dr_manifest_macro *dr_manifest_id_macro(const struct dr_manifest *m, uint32_t id)
{
    if (id >= m->store->nids || m->store->ids[id].macro < 0)
        return NULL;
    return &m->macros[m->store->ids[id].macro];
}

const struct dr_manifest_node *dr_manifest_find(const struct dr_manifest *m, const char *uid)
{
    long id = dr_manifest_lookup(m, uid, strlen(uid));
    return id < 0 ? NULL : dr_manifest_id_node(m, (uint32_t)id);
}

const struct dr_manifest_macro *dr_manifest_find_macro(const struct dr_manifest *m, const char *uid)
{
    long id = dr_manifest_lookup(m, uid, strlen(uid));
    return id < 0 ? NULL : dr_manifest_id_macro(m, (uint32_t)id);
}

int dr_manifest_is_disabled(const struct dr_manifest *m, const char *uid)
{
    long id = dr_manifest_lookup(m, uid, strlen(uid));
    return id >= 0 && m->store->ids[id].disabled;
}

const uint32_t *dr_manifest_children(const struct dr_manifest *m, uint32_t id, uint32_t *n)
{
    if (id >= m->store->nids) {
        *n = 0;
        return NULL;
    }
    *n = m->store->ids[id].nchildren;
    return m->store->ids[id].children;
}

struct dr_hash dr_manifest_prop(const struct dr_manifest_node *node, enum dr_manifest_prop prop)
{
    uint32_t bit = 1u << prop;
    if (!(node->props_mask & bit))
        return dr_manifest_hash("null", 4);
    return node->props[__builtin_popcount(node->props_mask & (bit - 1))];
}

const struct dr_manifest_config *dr_manifest_config_get(const struct dr_manifest_node *node,
                                                        const char *key)
{
    size_t lo = 0, hi = node->nconfig;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(node->config[mid].key, key);
        if (c == 0)
            return &node->config[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const char *const kind_names[DR_MK_COUNT] = {
    "model",    "seed",   "snapshot",       "test",        "analysis",  "operation", "source",
    "exposure", "metric", "semantic_model", "saved_query", "unit_test", "function",  "other"};

const char *dr_manifest_kind_name(enum dr_manifest_kind kind)
{
    return kind < DR_MK_COUNT ? kind_names[kind] : "other";
}

static const char *const prop_names[DR_MP_COUNT] = {
    "fqn",      "access",         "latest_version",  "deprecation_date",
    "quoting",  "freshness",      "loaded_at_field", "external",
    "type",     "owner",          "maturity",        "url",
    "label",    "filter",         "metadata",        "type_params",
    "model",    "defaults",       "entities",        "dimensions",
    "measures", "primary_entity", "group",           "query_params",
    "exports",  "tags",           "arguments",       "returns"};

const char *dr_manifest_prop_name(enum dr_manifest_prop prop)
{
    return prop < DR_MP_COUNT ? prop_names[prop] : "?";
}

/* ---- the loader --------------------------------------------------------- */

/* A growable array of fixed-size elements, capped at VEC_MAX elements. */
struct vec {
    void *data;
    size_t n, cap, size;
};

static void *vec_push(struct vec *v)
{
    void *data = dr_grow(v->data, &v->cap, v->n + 1, v->size, VEC_MAX);
    if (!data)
        return NULL;
    v->data = data;
    return (char *)v->data + v->size * v->n++;
}

struct loader {
    struct dr_jsonpull p;
    struct dr_manifest *m;
    struct dr_manifest_store *st;
    struct dr_buf canon;    /* canonical JSON of the value being read */
    struct vec ids;         /* temporary id lists */
    struct vec configs;     /* struct dr_manifest_config of the current node */
    struct vec columns;     /* struct dr_manifest_column of the current node */
    struct vec constraints; /* struct dr_manifest_constraint being collected */
    struct vec nodes, macros;
    char path[384]; /* JSON path of the value being read, for errors */
    size_t pathlen;
    char err[640];
};

/* Appends ".key" (or "key" at the top) to the path; returns the old length
 * to restore. A path too long for the buffer ends in "...". */
static size_t path_push(struct loader *ld, const char *key, size_t klen)
{
    size_t old = ld->pathlen, room = sizeof ld->path - old;
    int n = snprintf(ld->path + old, room, "%s%.*s", old ? "." : "", (int)klen, key);
    if (n < 0 || (size_t)n >= room) {
        memcpy(ld->path + sizeof ld->path - 4, "...", 4);
        ld->pathlen = sizeof ld->path - 1;
    } else {
        ld->pathlen = old + (size_t)n;
    }
    return old;
}

static size_t path_push_index(struct loader *ld, size_t i)
{
    char ix[32];
    int n = snprintf(ix, sizeof ix, "[%zu]", i);
    size_t old = ld->pathlen;
    if (old + (size_t)n < sizeof ld->path) {
        memcpy(ld->path + old, ix, (size_t)n + 1);
        ld->pathlen = old + (size_t)n;
    }
    return old;
}

static void path_pop(struct loader *ld, size_t old)
{
    ld->pathlen = old;
    ld->path[old] = '\0';
}

/* The first error wins; it names the JSON path being read and the byte. */
static int failf(struct loader *ld, const char *what)
{
    if (ld->err[0])
        return -1;
    const char *where = ld->pathlen ? ld->path : "(top level)";
    if (ld->p.error[0])
        snprintf(ld->err, sizeof ld->err, "field %s: %s", where, ld->p.error);
    else
        snprintf(ld->err, sizeof ld->err, "field %s: %s (at byte %lld)", where, what,
                 dr_jsonpull_offset(&ld->p));
    return -1;
}

/* What a manifest field may hold, for type checks. */
enum {
    J_OBJECT = 1 << 0,
    J_ARRAY = 1 << 1,
    J_STRING = 1 << 2,
    J_NUMBER = 1 << 3,
    J_BOOL = 1 << 4,
    J_NULL = 1 << 5,
};

static unsigned jtype(enum dr_jsonpull_token t)
{
    switch (t) {
    case DR_JP_OBJECT:
        return J_OBJECT;
    case DR_JP_ARRAY:
        return J_ARRAY;
    case DR_JP_STRING:
        return J_STRING;
    case DR_JP_NUMBER:
        return J_NUMBER;
    case DR_JP_TRUE:
    case DR_JP_FALSE:
        return J_BOOL;
    case DR_JP_NULL:
        return J_NULL;
    default:
        return 0;
    }
}

static const char *jtype_name(unsigned bit)
{
    switch (bit) {
    case J_OBJECT:
        return "an object";
    case J_ARRAY:
        return "an array";
    case J_STRING:
        return "a string";
    case J_NUMBER:
        return "a number";
    case J_BOOL:
        return "a boolean";
    case J_NULL:
        return "null";
    default:
        return "no value";
    }
}

/* 0 when the value starting with `t` is one of `allowed`; otherwise an error
 * "expected X or Y, got Z" at the byte where the value starts. */
static int expect(struct loader *ld, enum dr_jsonpull_token t, unsigned allowed)
{
    if (t == DR_JP_ERROR)
        return failf(ld, "bad JSON");
    unsigned got = jtype(t);
    if (got & allowed)
        return 0;
    if (ld->err[0])
        return -1;
    char want[96] = "";
    size_t w = 0;
    for (unsigned bit = 1; bit <= J_NULL; bit <<= 1) {
        if (!(allowed & bit))
            continue;
        int n = snprintf(want + w, sizeof want - w, "%s%s", w ? " or " : "", jtype_name(bit));
        if (n > 0 && (size_t)n < sizeof want - w)
            w += (size_t)n;
    }
    const char *where = ld->pathlen ? ld->path : "(top level)";
    snprintf(ld->err, sizeof ld->err, "field %s: expected %s, got %s (at byte %lld)", where, want,
             jtype_name(got), ld->p.start);
    return -1;
}

static int nomem(struct loader *ld)
{
    return failf(ld, "out of memory or over the manifest size limit");
}

/* An arena copy of v's items, so v can be reused for the next node; NULL when
 * v is empty or memory ran out (the caller tells them apart by v->n). */
static void *vec_keep(struct loader *ld, const struct vec *v)
{
    size_t bytes = v->n * v->size;
    void *copy = bytes ? arena_alloc(ld->st, bytes) : NULL;
    if (copy)
        memcpy(copy, v->data, bytes);
    return copy;
}

static enum dr_jsonpull_token next(struct loader *ld)
{
    enum dr_jsonpull_token t = dr_jsonpull_next(&ld->p);
    if (t == DR_JP_ERROR)
        failf(ld, "bad JSON");
    return t;
}

/* Discards the value whose first token `t` was just read. */
static int skip(struct loader *ld, enum dr_jsonpull_token t)
{
    if (t == DR_JP_OBJECT || t == DR_JP_ARRAY)
        return dr_jsonpull_skip_container(&ld->p) ? failf(ld, "bad JSON") : 0;
    if (t == DR_JP_ERROR)
        return -1;
    if (t == DR_JP_EOF || t == DR_JP_END_OBJECT || t == DR_JP_END_ARRAY || t == DR_JP_KEY)
        return failf(ld, "expected a value");
    return 0;
}

static int canon_value(struct loader *ld, enum dr_jsonpull_token t, struct dr_buf *out);

/* Numbers compare by value in Python (1 == 1.0): integral values are written
 * without a fraction, others with 17 significant digits. */
static int canon_number(struct dr_buf *out, const char *lit)
{
    if (!strpbrk(lit, ".eE") && strlen(lit) < 19)
        return dr_buf_puts(out, strcmp(lit, "-0") == 0 ? "0" : lit);
    char *end;
    double d = strtod(lit, &end);
    if (d > -1e15 && d < 1e15 && (double)(long long)d == d)
        return dr_buf_printf(out, "%lld", (long long)d);
    return dr_buf_printf(out, "%.17g", d);
}

struct member {
    const char *key, *value;
    size_t klen, vlen;
};

static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* An object's members in key order: keys and values are first gathered in a
 * scratch buffer (offsets), then sorted and written out. */
static int canon_object(struct loader *ld, struct dr_buf *out)
{
    struct dr_buf scratch;
    struct vec offs = {.size = 4 * sizeof(size_t)};
    struct member *members = NULL;
    int rc = -1;
    dr_buf_init(&scratch, CANON_MAX);
    for (;;) {
        enum dr_jsonpull_token t = next(ld);
        if (t == DR_JP_END_OBJECT)
            break;
        if (t != DR_JP_KEY) {
            failf(ld, "expected an object key");
            goto out;
        }
        size_t *o = vec_push(&offs);
        if (!o || dr_buf_add(&scratch, ld->p.str, ld->p.len)) {
            nomem(ld);
            goto out;
        }
        o[0] = scratch.len - ld->p.len;
        o[1] = ld->p.len;
        o[2] = scratch.len;
        if (canon_value(ld, next(ld), &scratch))
            goto out;
        o[3] = scratch.len - o[2];
    }
    members = calloc(offs.n ? offs.n : 1, sizeof *members);
    if (!members) {
        nomem(ld);
        goto out;
    }
    for (size_t i = 0; i < offs.n; i++) {
        const size_t *o = (const size_t *)offs.data + 4 * i;
        members[i] = (struct member){scratch.data + o[0], scratch.data + o[2], o[1], o[3]};
    }
    if (offs.n > 1)
        qsort(members, offs.n, sizeof *members, member_cmp);
    int w = dr_buf_add(out, "{", 1);
    for (size_t i = 0; i < offs.n && w == 0; i++) {
        if (i)
            w |= dr_buf_add(out, ",", 1);
        w |= dr_buf_json_string(out, members[i].key, members[i].klen);
        w |= dr_buf_add(out, ":", 1);
        w |= dr_buf_add(out, members[i].value, members[i].vlen);
    }
    w |= dr_buf_add(out, "}", 1);
    if (w) {
        failf(ld, "a value is too large");
        goto out;
    }
    rc = 0;
out:
    free(members);
    free(offs.data);
    dr_buf_free(&scratch);
    return rc;
}

/* Writes the value whose first token is `t` as canonical JSON. */
static int canon_value(struct loader *ld, enum dr_jsonpull_token t, struct dr_buf *out)
{
    int w = 0;
    switch (t) {
    case DR_JP_OBJECT:
        return canon_object(ld, out);
    case DR_JP_ARRAY:
        w = dr_buf_add(out, "[", 1);
        for (int first = 1;; first = 0) {
            enum dr_jsonpull_token e = next(ld);
            if (e == DR_JP_END_ARRAY)
                break;
            if (!first)
                w |= dr_buf_add(out, ",", 1);
            if (canon_value(ld, e, out))
                return -1;
        }
        w |= dr_buf_add(out, "]", 1);
        break;
    case DR_JP_STRING:
        w = dr_buf_json_string(out, ld->p.str, ld->p.len);
        break;
    case DR_JP_NUMBER:
        w = canon_number(out, ld->p.str);
        break;
    case DR_JP_TRUE:
        w = dr_buf_puts(out, "true");
        break;
    case DR_JP_FALSE:
        w = dr_buf_puts(out, "false");
        break;
    case DR_JP_NULL:
        w = dr_buf_puts(out, "null");
        break;
    case DR_JP_ERROR:
        return -1;
    default:
        return failf(ld, "expected a value");
    }
    return w ? failf(ld, "a value is too large") : 0;
}

/* Reads the value starting with `t` into ld->canon and hashes it. */
static int canon_hash(struct loader *ld, enum dr_jsonpull_token t, struct dr_hash *h)
{
    dr_buf_reset(&ld->canon);
    if (canon_value(ld, t, &ld->canon))
        return -1;
    *h = dr_manifest_hash(ld->canon.data, ld->canon.len);
    return 0;
}

/* Python truthiness of the canonical value in ld->canon. */
static int canon_truthy(const struct loader *ld)
{
    static const char *const falsy[] = {"false", "null", "0", "\"\"", "{}", "[]"};
    for (size_t i = 0; i < sizeof falsy / sizeof falsy[0]; i++)
        if (strcmp(ld->canon.data, falsy[i]) == 0)
            return 0;
    return 1;
}

/* A string value copied into the arena; NULL for null. */
static int opt_string(struct loader *ld, enum dr_jsonpull_token t, const char **out)
{
    *out = NULL;
    if (expect(ld, t, J_STRING | J_NULL))
        return -1;
    if (t != DR_JP_STRING)
        return 0;
    *out = arena_strndup(ld->st, ld->p.str, ld->p.len);
    return *out ? 0 : nomem(ld);
}

/* Whether code calls var( — a name `var` not preceded by an identifier
 * character, then optional blanks and an opening parenthesis. */
static int calls_var(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++) {
        if (s[i] != 'v' || s[i + 1] != 'a' || s[i + 2] != 'r')
            continue;
        if (i > 0) {
            char c = s[i - 1];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_')
                continue;
        }
        size_t j = i + 3;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j < n && s[j] == '(')
            return 1;
    }
    return 0;
}

/* An array of strings as intern ids in the arena (nulls are dropped). */
/* An array of unique ids into interned ids. A null entry is left out and
 * counted in *nulls when given: dbt writes one for a macro it could not find. */
static int id_list(struct loader *ld, enum dr_jsonpull_token t, uint32_t **out, uint32_t *n,
                   unsigned *nulls)
{
    *out = NULL;
    *n = 0;
    if (expect(ld, t, J_ARRAY | J_NULL))
        return -1;
    if (t != DR_JP_ARRAY)
        return 0;
    ld->ids.n = 0;
    for (size_t i = 0;; i++) {
        enum dr_jsonpull_token e = next(ld);
        if (e == DR_JP_END_ARRAY)
            break;
        size_t old = path_push_index(ld, i);
        if (expect(ld, e, J_STRING | J_NULL))
            return -1;
        path_pop(ld, old);
        if (e != DR_JP_STRING) {
            if (nulls)
                (*nulls)++;
            continue;
        }
        long id = intern(ld->st, ld->p.str, ld->p.len);
        uint32_t *slot = id < 0 ? NULL : vec_push(&ld->ids);
        if (!slot)
            return nomem(ld);
        *slot = (uint32_t)id;
    }
    if (ld->ids.n) {
        *out = vec_keep(ld, &ld->ids);
        if (!*out)
            return nomem(ld);
        *n = (uint32_t)ld->ids.n;
    }
    return 0;
}

/* Calls fn(ld, key, ctx) for each member of the object starting with `t`,
 * with the key pushed on the path; the key is copied first (fn reads the
 * value, which reuses p->str). null reads as an empty object; any other
 * non-object is an error. */
typedef int (*member_fn)(struct loader *ld, const char *key, size_t klen, void *ctx);

static int each_member(struct loader *ld, enum dr_jsonpull_token t, member_fn fn, void *ctx)
{
    if (expect(ld, t, J_OBJECT | J_NULL))
        return -1;
    if (t != DR_JP_OBJECT)
        return 0;
    char small[128];
    for (;;) {
        t = next(ld);
        if (t == DR_JP_END_OBJECT)
            return 0;
        if (t != DR_JP_KEY)
            return failf(ld, "expected an object key");
        const char *key = small;
        char *big = NULL;
        if (ld->p.len < sizeof small) {
            memcpy(small, ld->p.str, ld->p.len + 1);
        } else {
            big = malloc(ld->p.len + 1);
            if (!big)
                return nomem(ld);
            memcpy(big, ld->p.str, ld->p.len + 1);
            key = big;
        }
        size_t klen = ld->p.len, old = path_push(ld, key, klen);
        int rc = fn(ld, key, klen, ctx);
        free(big);
        if (rc)
            return -1;
        path_pop(ld, old);
    }
}

/* A constraint object: canonical JSON and its "type". */
static int read_constraint(struct loader *ld, enum dr_jsonpull_token t)
{
    dr_buf_reset(&ld->canon);
    if (canon_value(ld, t, &ld->canon))
        return -1;
    struct dr_manifest_constraint *c = vec_push(&ld->constraints);
    if (!c)
        return nomem(ld);
    c->json = arena_strndup(ld->st, ld->canon.data, ld->canon.len);
    c->type = "";
    const char *at = strstr(ld->canon.data, "\"type\":\"");
    if (at) {
        at += 8;
        const char *end = strchr(at, '"');
        c->type = arena_strndup(ld->st, at, end ? (size_t)(end - at) : strlen(at));
    }
    return c->json && c->type ? 0 : nomem(ld);
}

/* An array of constraint objects, moved from ld->constraints to the arena. */
static int constraint_list(struct loader *ld, enum dr_jsonpull_token t,
                           struct dr_manifest_constraint **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    if (expect(ld, t, J_ARRAY | J_NULL))
        return -1;
    if (t != DR_JP_ARRAY)
        return 0;
    ld->constraints.n = 0;
    for (size_t i = 0;; i++) {
        enum dr_jsonpull_token e = next(ld);
        if (e == DR_JP_END_ARRAY)
            break;
        size_t old = path_push_index(ld, i);
        if (expect(ld, e, J_OBJECT) || read_constraint(ld, e))
            return -1;
        path_pop(ld, old);
    }
    if (ld->constraints.n) {
        *out = vec_keep(ld, &ld->constraints);
        if (!*out)
            return nomem(ld);
        *n = (uint32_t)ld->constraints.n;
    }
    return 0;
}

static int column_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    struct dr_manifest_column *col = ctx;
    enum dr_jsonpull_token t = next(ld);
    if (strcmp(key, "description") == 0)
        return canon_hash(ld, t, &col->description);
    if (strcmp(key, "data_type") == 0)
        return opt_string(ld, t, &col->data_type);
    if (strcmp(key, "constraints") == 0)
        return constraint_list(ld, t, &col->constraints, &col->nconstraints);
    return skip(ld, t);
}

static int column_entry(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)ctx;
    struct dr_manifest_column col = {.description = dr_manifest_hash("null", 4)};
    col.key = arena_strndup(ld->st, key, klen);
    if (!col.key)
        return nomem(ld);
    enum dr_jsonpull_token t = next(ld);
    if (expect(ld, t, J_OBJECT) || each_member(ld, t, column_field, &col))
        return -1;
    struct dr_manifest_column *slot = vec_push(&ld->columns);
    if (!slot)
        return nomem(ld);
    *slot = col;
    return 0;
}

static int config_entry(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)ctx;
    struct dr_manifest_config c;
    if (canon_hash(ld, next(ld), &c.value))
        return -1;
    size_t shown =
        ld->canon.len < DR_MANIFEST_DISPLAY_MAX ? ld->canon.len : DR_MANIFEST_DISPLAY_MAX;
    c.key = arena_strndup(ld->st, key, klen);
    c.display = arena_strndup(ld->st, ld->canon.data, shown);
    struct dr_manifest_config *slot = vec_push(&ld->configs);
    if (!c.key || !c.display || !slot)
        return nomem(ld);
    *slot = c;
    return 0;
}

static int config_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dr_manifest_config *)a)->key,
                  ((const struct dr_manifest_config *)b)->key);
}

static int persist_docs_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    struct dr_manifest_node *node = ctx;
    enum dr_jsonpull_token t = next(ld);
    int is_relation = strcmp(key, "relation") == 0;
    if (!is_relation && strcmp(key, "columns") != 0)
        return skip(ld, t);
    dr_buf_reset(&ld->canon);
    if (canon_value(ld, t, &ld->canon))
        return -1;
    if (is_relation)
        node->persist_relation = (unsigned)canon_truthy(ld);
    else
        node->persist_columns = (unsigned)canon_truthy(ld);
    return 0;
}

static int config_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    struct dr_manifest_node *node = ctx;
    enum dr_jsonpull_token t = next(ld);
    if (strcmp(key, "persist_docs") == 0)
        return each_member(ld, t, persist_docs_field, node);
    if (strcmp(key, "materialized") == 0)
        return opt_string(ld, t, &node->materialized);
    return skip(ld, t);
}

static int contract_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    struct dr_manifest_node *node = ctx;
    enum dr_jsonpull_token t = next(ld);
    if (strcmp(key, "enforced") == 0) {
        node->contract_enforced = t == DR_JP_TRUE;
        return expect(ld, t, J_BOOL | J_NULL);
    }
    if (strcmp(key, "checksum") == 0)
        return opt_string(ld, t, &node->contract_checksum);
    return skip(ld, t);
}

struct deps_ctx {
    uint32_t **macros, *nmacros, **nodes, *nnodes;
    unsigned null_macros;
};

static int depends_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    struct deps_ctx *d = ctx;
    enum dr_jsonpull_token t = next(ld);
    if (strcmp(key, "macros") == 0)
        return id_list(ld, t, d->macros, d->nmacros, &d->null_macros);
    if (strcmp(key, "nodes") == 0 && d->nodes)
        return id_list(ld, t, d->nodes, d->nnodes, NULL);
    return skip(ld, t);
}

static int checksum_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    struct dr_manifest_node *node = ctx;
    enum dr_jsonpull_token t = next(ld);
    if (strcmp(key, "name") == 0)
        return opt_string(ld, t, &node->checksum_name);
    if (strcmp(key, "checksum") == 0)
        return opt_string(ld, t, &node->checksum);
    return skip(ld, t);
}

/* SQL text (raw_code, macro_sql) or null: its hash (that of "" for null)
 * and, for text, whether it calls var(). 0, or -1. */
static int read_sql(struct loader *ld, enum dr_jsonpull_token t, struct dr_hash *hash,
                    int *uses_var)
{
    if (expect(ld, t, J_STRING | J_NULL))
        return -1;
    if (t != DR_JP_STRING) {
        *hash = dr_manifest_hash("", 0);
        return 0;
    }
    *hash = dr_manifest_hash(ld->p.str, ld->p.len);
    *uses_var = calls_var(ld->p.str, ld->p.len);
    return 0;
}

/* Appends the entry at `item` (v->size bytes) to v, at most
 * DR_MANIFEST_NODES_MAX, and makes it its id's entry (*first) unless one came
 * before: dbt keeps ids unique, so the first definition wins. 0, or -1. */
static int keep_entry(struct loader *ld, struct vec *v, const void *item, int32_t *first,
                      const char *too_many)
{
    if (v->n >= DR_MANIFEST_NODES_MAX)
        return failf(ld, too_many);
    void *slot = vec_push(v);
    if (!slot)
        return nomem(ld);
    memcpy(slot, item, v->size);
    if (*first < 0)
        *first = (int32_t)(v->n - 1);
    return 0;
}

/* The node being read, with its properties before they are packed. */
struct node_ctx {
    struct dr_manifest_node node;
    struct dr_hash props[DR_MP_COUNT];
};

struct field_def;

/* Reads the value starting with `t` of one top-level key of a node. */
typedef int field_reader(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                         const struct field_def *def);

/* What a node's top-level key means: the reader of its value and, for the
 * readers shared by several keys, where the value goes (`text`: offset of a
 * `const char *` in the node; `prop`: the slot of a hashed property). */
struct field_def {
    const char *name;
    field_reader *read;
    size_t text;
    enum dr_manifest_prop prop;
};

static int read_text(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                     const struct field_def *def)
{
    return opt_string(ld, t, (const char **)(void *)((char *)&nc->node + def->text));
}

static int read_prop(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                     const struct field_def *def)
{
    if (canon_hash(ld, t, &nc->props[def->prop]))
        return -1;
    nc->node.props_mask |= 1u << def->prop;
    if (def->prop != DR_MP_TAGS || ld->canon.len <= 2) /* "[]" or no tags */
        return 0;
    nc->node.tags = arena_strndup(ld->st, ld->canon.data, ld->canon.len); /* for completion */
    return nc->node.tags ? 0 : nomem(ld);
}

/* unique_id: the node is listed under it already. */
static int read_skip(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                     const struct field_def *def)
{
    (void)nc, (void)def;
    return skip(ld, t);
}

/* raw_code (raw_sql before dbt 1.3): hashed, and whether it calls var(). */
static int read_raw_code(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                         const struct field_def *def)
{
    (void)def;
    struct dr_manifest_node *node = &nc->node;
    int uses_var = node->uses_var;
    node->has_raw_code = 1;
    if (read_sql(ld, t, &node->raw_code, &uses_var))
        return -1;
    node->uses_var = (unsigned)uses_var;
    return 0;
}

/* checksum: a plain string (old manifests) or {name, checksum}. */
static int read_checksum(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                         const struct field_def *def)
{
    (void)def;
    if (expect(ld, t, J_STRING | J_OBJECT | J_NULL))
        return -1;
    if (t == DR_JP_STRING)
        return opt_string(ld, t, &nc->node.checksum);
    return each_member(ld, t, checksum_field, &nc->node);
}

static int read_description(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                            const struct field_def *def)
{
    (void)def;
    return canon_hash(ld, t, &nc->node.description);
}

/* unrendered_config: kept sorted by key, so two nodes compare entry by entry. */
static int read_unrendered_config(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                                  const struct field_def *def)
{
    (void)def;
    struct dr_manifest_node *node = &nc->node;
    ld->configs.n = 0;
    if (each_member(ld, t, config_entry, NULL))
        return -1;
    if (ld->configs.n > 1)
        qsort(ld->configs.data, ld->configs.n, ld->configs.size, config_cmp);
    node->config = vec_keep(ld, &ld->configs);
    if (ld->configs.n && !node->config)
        return nomem(ld);
    node->nconfig = (uint32_t)ld->configs.n;
    return 0;
}

static int read_config(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                       const struct field_def *def)
{
    (void)def;
    return each_member(ld, t, config_field, &nc->node);
}

static int read_columns(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                        const struct field_def *def)
{
    (void)def;
    struct dr_manifest_node *node = &nc->node;
    ld->columns.n = 0;
    node->has_columns = 1;
    if (each_member(ld, t, column_entry, NULL))
        return -1;
    node->columns = vec_keep(ld, &ld->columns);
    if (ld->columns.n && !node->columns)
        return nomem(ld);
    node->ncolumns = (uint32_t)ld->columns.n;
    return 0;
}

static int read_depends_on(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                           const struct field_def *def)
{
    (void)def;
    struct dr_manifest_node *node = &nc->node;
    struct deps_ctx d = {&node->macros, &node->nmacros, &node->depends, &node->ndepends, 0};
    node->has_depends_on = t == DR_JP_OBJECT;
    int rc = each_member(ld, t, depends_field, &d);
    node->missing_macro = d.null_macros > 0;
    return rc;
}

static int read_contract(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                         const struct field_def *def)
{
    (void)def;
    return each_member(ld, t, contract_field, &nc->node);
}

static int read_constraints(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                            const struct field_def *def)
{
    (void)def;
    return constraint_list(ld, t, &nc->node.constraints, &nc->node.nconstraints);
}

static int test_metadata_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    struct dr_manifest_node *node = ctx;
    enum dr_jsonpull_token t = next(ld);
    if (strcmp(key, "name") == 0)
        return opt_string(ld, t, &node->test_name);
    if (strcmp(key, "namespace") == 0)
        return opt_string(ld, t, &node->test_namespace);
    return skip(ld, t);
}

/* test_metadata: that it is there (a generic test), and the test's name and
 * namespace, which name its macro when dbt lost it. */
static int read_test_metadata(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                              const struct field_def *def)
{
    (void)def;
    nc->node.generic_test = t == DR_JP_OBJECT;
    if (expect(ld, t, J_OBJECT | J_NULL))
        return -1;
    return each_member(ld, t, test_metadata_field, &nc->node);
}

/* version: a string or a number (dbt accepts both), kept as canonical JSON. */
static int read_version(struct loader *ld, enum dr_jsonpull_token t, struct node_ctx *nc,
                        const struct field_def *def)
{
    (void)def;
    if (expect(ld, t, J_STRING | J_NUMBER | J_NULL))
        return -1;
    if (t == DR_JP_NULL)
        return 0;
    dr_buf_reset(&ld->canon);
    if (canon_value(ld, t, &ld->canon))
        return -1;
    nc->node.version = arena_strndup(ld->st, ld->canon.data, ld->canon.len);
    return nc->node.version ? 0 : nomem(ld);
}

#define TEXT(key, member)                                                                          \
    {                                                                                              \
        key, read_text, offsetof(struct dr_manifest_node, member), 0                               \
    }
#define PROP(key, p)                                                                               \
    {                                                                                              \
        key, read_prop, 0, p                                                                       \
    }

/* Sorted by name for bsearch. */
static const struct field_def node_fields[] = {
    PROP("access", DR_MP_ACCESS),
    PROP("arguments", DR_MP_ARGUMENTS),
    {"checksum", read_checksum, 0, 0},
    {"columns", read_columns, 0, 0},
    {"config", read_config, 0, 0},
    {"constraints", read_constraints, 0, 0},
    {"contract", read_contract, 0, 0},
    TEXT("database", database),
    PROP("defaults", DR_MP_DEFAULTS),
    {"depends_on", read_depends_on, 0, 0},
    PROP("deprecation_date", DR_MP_DEPRECATION_DATE),
    {"description", read_description, 0, 0},
    PROP("dimensions", DR_MP_DIMENSIONS),
    PROP("entities", DR_MP_ENTITIES),
    PROP("exports", DR_MP_EXPORTS),
    PROP("external", DR_MP_EXTERNAL),
    PROP("filter", DR_MP_FILTER),
    PROP("fqn", DR_MP_FQN),
    PROP("freshness", DR_MP_FRESHNESS),
    PROP("group", DR_MP_GROUP),
    TEXT("identifier", identifier),
    PROP("label", DR_MP_LABEL),
    PROP("latest_version", DR_MP_LATEST_VERSION),
    PROP("loaded_at_field", DR_MP_LOADED_AT_FIELD),
    PROP("maturity", DR_MP_MATURITY),
    PROP("measures", DR_MP_MEASURES),
    PROP("metadata", DR_MP_METADATA),
    PROP("model", DR_MP_MODEL),
    TEXT("name", name),
    TEXT("original_file_path", path),
    PROP("owner", DR_MP_OWNER),
    TEXT("package_name", package_name),
    PROP("primary_entity", DR_MP_PRIMARY_ENTITY),
    PROP("query_params", DR_MP_QUERY_PARAMS),
    PROP("quoting", DR_MP_QUOTING),
    {"raw_code", read_raw_code, 0, 0},
    {"raw_sql", read_raw_code, 0, 0},
    TEXT("resource_type", resource_type),
    PROP("returns", DR_MP_RETURNS),
    TEXT("schema", schema),
    PROP("tags", DR_MP_TAGS),
    {"test_metadata", read_test_metadata, 0, 0},
    PROP("type", DR_MP_TYPE),
    PROP("type_params", DR_MP_TYPE_PARAMS),
    {"unique_id", read_skip, 0, 0},
    {"unrendered_config", read_unrendered_config, 0, 0},
    TEXT("unrendered_database", unrendered_database),
    TEXT("unrendered_schema", unrendered_schema),
    PROP("url", DR_MP_URL),
    {"version", read_version, 0, 0},
};

#undef TEXT
#undef PROP

static int field_cmp(const void *key, const void *def)
{
    return strcmp(key, ((const struct field_def *)def)->name);
}

static enum dr_manifest_kind kind_of(const char *resource_type)
{
    if (strcmp(resource_type, "sql_operation") == 0)
        return DR_MK_OPERATION;
    for (int k = 0; k < DR_MK_OTHER; k++)
        if (strcmp(resource_type, kind_names[k]) == 0)
            return (enum dr_manifest_kind)k;
    return DR_MK_OTHER;
}

/* One top-level key of a node: its reader from node_fields, or skipped. */
static int node_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    enum dr_jsonpull_token t = next(ld);
    const struct field_def *def =
        bsearch(key, node_fields, sizeof node_fields / sizeof node_fields[0], sizeof node_fields[0],
                field_cmp);
    return def ? def->read(ld, t, ctx, def) : skip(ld, t);
}

/* One entry of nodes/sources/exposures/...: `section_kind` is the kind when
 * the node does not say (resource_type missing). */
static int node_entry(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    const enum dr_manifest_kind *section_kind = ctx;
    struct node_ctx nc;
    memset(&nc, 0, sizeof nc);
    struct dr_manifest_node *node = &nc.node;
    node->raw_code = node->description = dr_manifest_hash("null", 4);
    enum dr_jsonpull_token t = next(ld);
    if (expect(ld, t, J_OBJECT))
        return -1;
    long id = intern(ld->st, key, klen);
    if (id < 0)
        return nomem(ld);
    if (each_member(ld, t, node_field, &nc))
        return -1;
    node->id = (uint32_t)id;
    node->unique_id = ld->st->ids[id].text;
    node->kind = node->resource_type ? kind_of(node->resource_type) : *section_kind;
    if (!node->resource_type)
        node->resource_type = kind_names[node->kind];
    if (!node->name) {
        const char *dot = strrchr(node->unique_id, '.');
        node->name = dot ? dot + 1 : node->unique_id;
    }
    int nprops = __builtin_popcount(node->props_mask);
    if (nprops) {
        node->props = arena_alloc(ld->st, (size_t)nprops * sizeof *node->props);
        if (!node->props)
            return nomem(ld);
        for (int i = 0, j = 0; i < DR_MP_COUNT; i++)
            if (node->props_mask & (1u << i))
                node->props[j++] = nc.props[i];
    }
    return keep_entry(ld, &ld->nodes, node, &ld->st->ids[id].node, "too many nodes");
}

static int macro_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    struct dr_manifest_macro *mac = ctx;
    enum dr_jsonpull_token t = next(ld);
    if (strcmp(key, "macro_sql") == 0) {
        int uses_var = mac->uses_var;
        if (read_sql(ld, t, &mac->sql, &uses_var))
            return -1;
        mac->uses_var = (unsigned)uses_var;
        return 0;
    }
    if (strcmp(key, "depends_on") == 0) {
        struct deps_ctx d = {&mac->macros, &mac->nmacros, NULL, NULL, 0};
        return each_member(ld, t, depends_field, &d);
    }
    return skip(ld, t);
}

static int macro_entry(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)ctx;
    struct dr_manifest_macro mac;
    memset(&mac, 0, sizeof mac);
    mac.sql = dr_manifest_hash("", 0);
    long id = intern(ld->st, key, klen);
    if (id < 0)
        return nomem(ld);
    enum dr_jsonpull_token t = next(ld);
    if (expect(ld, t, J_OBJECT) || each_member(ld, t, macro_field, &mac))
        return -1;
    mac.id = (uint32_t)id;
    mac.unique_id = ld->st->ids[id].text;
    return keep_entry(ld, &ld->macros, &mac, &ld->st->ids[id].macro, "too many macros");
}

static int disabled_entry(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)ctx;
    long id = intern(ld->st, key, klen);
    if (id < 0)
        return nomem(ld);
    if (!ld->st->ids[id].disabled)
        ld->m->ndisabled++;
    ld->st->ids[id].disabled = 1;
    enum dr_jsonpull_token t = next(ld);
    return expect(ld, t, J_ARRAY | J_NULL) ? -1 : skip(ld, t);
}

static int child_entry(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)ctx;
    long id = intern(ld->st, key, klen);
    if (id < 0)
        return nomem(ld);
    uint32_t *children, n;
    if (id_list(ld, next(ld), &children, &n, NULL))
        return -1;
    ld->st->ids[id].children = children;
    ld->st->ids[id].nchildren = n;
    return 0;
}

static int metadata_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    (void)ctx;
    struct dr_manifest *m = ld->m;
    enum dr_jsonpull_token t = next(ld);
    if (strcmp(key, "dbt_version") == 0)
        return opt_string(ld, t, &m->dbt_version);
    if (strcmp(key, "dbt_schema_version") == 0)
        return opt_string(ld, t, &m->schema_version);
    if (strcmp(key, "adapter_type") == 0)
        return opt_string(ld, t, &m->adapter_type);
    if (strcmp(key, "project_name") == 0)
        return opt_string(ld, t, &m->project_name);
    if (strcmp(key, "generated_at") == 0)
        return opt_string(ld, t, &m->generated_at);
    return skip(ld, t);
}

static const struct {
    const char *name;
    enum dr_manifest_kind kind;
} node_sections[] = {
    {"nodes", DR_MK_OTHER},
    {"sources", DR_MK_SOURCE},
    {"exposures", DR_MK_EXPOSURE},
    {"metrics", DR_MK_METRIC},
    {"semantic_models", DR_MK_SEMANTIC_MODEL},
    {"saved_queries", DR_MK_SAVED_QUERY},
    {"unit_tests", DR_MK_UNIT_TEST},
    {"functions", DR_MK_FUNCTION},
};

static int top_field(struct loader *ld, const char *key, size_t klen, void *ctx)
{
    (void)klen;
    int *saw_nodes = ctx;
    enum dr_jsonpull_token t = next(ld);
    for (size_t i = 0; i < sizeof node_sections / sizeof node_sections[0]; i++) {
        if (strcmp(key, node_sections[i].name) == 0) {
            if (i == 0) {
                *saw_nodes = 1;
                if (expect(ld, t, J_OBJECT))
                    return -1;
            }
            return each_member(ld, t, node_entry, (void *)&node_sections[i].kind);
        }
    }
    if (strcmp(key, "metadata") == 0)
        return each_member(ld, t, metadata_field, NULL);
    if (strcmp(key, "macros") == 0)
        return each_member(ld, t, macro_entry, NULL);
    if (strcmp(key, "disabled") == 0)
        return each_member(ld, t, disabled_entry, NULL);
    if (strcmp(key, "child_map") == 0) {
        ld->m->has_child_map = t == DR_JP_OBJECT;
        return each_member(ld, t, child_entry, NULL);
    }
    return skip(ld, t);
}

/* Without a child_map, children are the inverse of depends_on.nodes. */
static int invert_depends(struct loader *ld)
{
    struct dr_manifest_store *st = ld->st;
    for (size_t i = 0; i < ld->m->nnodes; i++) {
        const struct dr_manifest_node *n = &ld->m->nodes[i];
        for (uint32_t j = 0; j < n->ndepends; j++)
            st->ids[n->depends[j]].nchildren++;
    }
    for (uint32_t e = 0; e < st->nids; e++) {
        if (!st->ids[e].nchildren)
            continue;
        st->ids[e].children = arena_alloc(st, st->ids[e].nchildren * sizeof(uint32_t));
        if (!st->ids[e].children)
            return nomem(ld);
        st->ids[e].nchildren = 0;
    }
    for (size_t i = 0; i < ld->m->nnodes; i++) {
        const struct dr_manifest_node *n = &ld->m->nodes[i];
        for (uint32_t j = 0; j < n->ndepends; j++) {
            struct intern_entry *p = &st->ids[n->depends[j]];
            p->children[p->nchildren++] = n->id;
        }
    }
    return 0;
}

/* The loader's element sizes and its canonical-JSON buffer. */
static void loader_vectors(struct loader *ld)
{
    ld->ids.size = sizeof(uint32_t);
    ld->configs.size = sizeof(struct dr_manifest_config);
    ld->columns.size = sizeof(struct dr_manifest_column);
    ld->constraints.size = sizeof(struct dr_manifest_constraint);
    ld->nodes.size = sizeof(struct dr_manifest_node);
    ld->macros.size = sizeof(struct dr_manifest_macro);
    dr_buf_init(&ld->canon, CANON_MAX);
}

/* Hands the nodes and macros read to the manifest, builds child_map from
 * depends_on when the file had none, and counts the memory. 0, or -1. */
static int load_finish(struct loader *ld)
{
    struct dr_manifest *m = ld->m;
    struct dr_manifest_store *st = ld->st;
    m->nodes = ld->nodes.data;
    m->nnodes = ld->nodes.n;
    m->macros = ld->macros.data;
    m->nmacros = ld->macros.n;
    ld->nodes.data = ld->macros.data = NULL;
    if (!m->has_child_map && invert_depends(ld))
        return -1;
    m->nids = st->nids;
    m->bytes = (size_t)dr_jsonpull_offset(&ld->p);
    m->mem = st->mem + (size_t)st->ids_cap * sizeof *st->ids +
             (size_t)st->nslots * sizeof *st->slots + m->nnodes * sizeof *m->nodes +
             m->nmacros * sizeof *m->macros;
    return 0;
}

/* Parses from an opened jsonpull into a new manifest. */
static int load(struct loader *ld, struct dr_manifest **out, char *err, size_t errlen)
{
    int rc = -1, saw_nodes = 0;
    struct dr_manifest *m = calloc(1, sizeof *m);
    struct dr_manifest_store *st = m ? calloc(1, sizeof *st) : NULL;
    loader_vectors(ld);
    if (!st) {
        nomem(ld);
        goto out;
    }
    m->store = st;
    ld->m = m;
    ld->st = st;
    enum dr_jsonpull_token t = next(ld);
    if (t != DR_JP_OBJECT) {
        failf(ld, "not a dbt manifest (the document is not a JSON object)");
        goto out;
    }
    if (each_member(ld, t, top_field, &saw_nodes))
        goto out;
    if (next(ld) != DR_JP_EOF) {
        failf(ld, "trailing data after the manifest");
        goto out;
    }
    if (!saw_nodes) {
        failf(ld, "not a dbt manifest (no \"nodes\")");
        goto out;
    }
    if (load_finish(ld))
        goto out;
    *out = m;
    m = NULL;
    rc = 0;
out:
    if (rc)
        snprintf(err, errlen, "%s", ld->err[0] ? ld->err : "cannot read the manifest");
    dr_manifest_free(m); /* NULL on success; frees st through m->store */
    struct vec *vecs[] = {&ld->ids,         &ld->configs, &ld->columns,
                          &ld->constraints, &ld->nodes,   &ld->macros};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        free(vecs[i]->data);
    dr_buf_free(&ld->canon);
    return rc;
}

int dr_manifest_parse(const char *data, size_t len, struct dr_manifest **out, char *err,
                      size_t errlen)
{
    struct loader ld;
    memset(&ld, 0, sizeof ld);
    dr_jsonpull_open_mem(&ld.p, data, len);
    int rc = load(&ld, out, err, errlen);
    dr_jsonpull_close(&ld.p);
    return rc;
}

int dr_manifest_load(const char *path, struct dr_manifest **out, char *err, size_t errlen)
{
    struct loader ld;
    memset(&ld, 0, sizeof ld);
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (dr_jsonpull_open_fd(&ld.p, fd)) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    char msg[sizeof((struct loader *)0)->err];
    rc = load(&ld, out, msg, sizeof msg);
    if (rc)
        snprintf(err, errlen, "%s: %s", path, msg);
out:
    dr_jsonpull_close(&ld.p);
    close(fd);
    return rc;
}

void dr_manifest_free(struct dr_manifest *m)
{
    if (!m)
        return;
    struct dr_manifest_store *st = m->store;
    if (st) {
        for (struct arena_block *b = st->blocks, *nb; b; b = nb) {
            nb = b->next;
            free(b);
        }
        free(st->ids);
        free(st->slots);
        free(st);
    }
    free(m->nodes);
    free(m->macros);
    free(m);
}

/* ---- staleness ---------------------------------------------------------- */

static int newer(const struct stat *st, const struct timespec *than)
{
    return st->st_mtim.tv_sec > than->tv_sec ||
           (st->st_mtim.tv_sec == than->tv_sec && st->st_mtim.tv_nsec > than->tv_nsec);
}

/* 1 when something under `path` is newer than `than` (its path in why). */
static int walk_newer(const char *path, const struct timespec *than, int depth, char *why,
                      size_t whylen)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode)) {
        if (!S_ISREG(st.st_mode) || !newer(&st, than))
            return 0;
        snprintf(why, whylen, "%s is newer than the manifest", path);
        return 1;
    }
    if (newer(&st, than)) { /* an entry was added, removed or renamed */
        snprintf(why, whylen, "%s changed after the manifest", path);
        return 1;
    }
    if (depth >= WALK_DEPTH_MAX)
        return 0;
    DIR *dir = opendir(path);
    if (!dir)
        return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') /* ., .. and hidden files dbt ignores too */
            continue;
        char child[4096];
        int n = snprintf(child, sizeof child, "%s/%s", path, de->d_name);
        if (n > 0 && (size_t)n < sizeof child)
            found = walk_newer(child, than, depth + 1, why, whylen);
    }
    closedir(dir);
    return found;
}

int dr_manifest_stale(const char *path, const char *const *roots, size_t n, char *why,
                      size_t whylen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (walk_newer(roots[i], &st.st_mtim, 0, why, whylen))
            return 1;
    return 0;
}
