/* mime: the Content-Type the aws CLI would send for a file. The CLI sends
 * mimetypes.guess_type(path)[0] (awscli/customizations/s3/utils.py) and
 * nothing when that is None, so S3 stores binary/octet-stream; it never sets
 * Content-Encoding from the guess, so neither do we. This file replays that
 * function: the builtin tables come generated from Python (mimetypes.inc),
 * and the system files Python's mimetypes.init() reads on top of them are
 * read here too, once, on first use, so start-up and --list never touch them. */
#include "dbtrun/s3.h"
#include "dbtrun/buf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dr_mime_pair {
    const char *key, *value;
};

#include "mimetypes.inc"

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))
#define UNKNOWN "binary/octet-stream"
/* suffix_map splices are chained at most this often (Python loops until no
 * key matches; the builtin values never match again, so one is enough). */
#define MAX_SPLICES 8

/* One type added by a system file: types_map[True][key] = value, where key
 * is "." + the word as written (so a capital letter never matches). */
struct overlay_entry {
    char *key, *value;
    size_t seq; /* later lines override earlier ones, as add_type does */
};

struct dr_s3_mime_db {
    struct overlay_entry *v;
    size_t n, cap, seq;
};

/* An extension as guess_type sees it: bytes [p, p+n), compared lowercased
 * (ASCII: every table key is ASCII) or as-is. */
struct ext {
    const char *p;
    size_t n;
    int lower;
};

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* strcmp of the extension (lowercased if asked) against a NUL-ended key */
static int ext_cmp(const struct ext *e, const char *key)
{
    for (size_t i = 0; i < e->n; i++) {
        int c = (unsigned char)(e->lower ? ascii_lower(e->p[i]) : e->p[i]);
        int k = (unsigned char)key[i];
        if (c != k)
            return c - k;
    }
    return key[e->n] ? -1 : 0;
}

static int pair_cmp(const void *a, const void *b)
{
    return ext_cmp(a, ((const struct dr_mime_pair *)b)->key);
}

static const char *pair_find(const struct dr_mime_pair *t, size_t n, const char *p, size_t len,
                             int lower)
{
    struct ext e = {p, len, lower};
    const struct dr_mime_pair *hit = bsearch(&e, t, n, sizeof *t, pair_cmp);
    return hit ? hit->value : NULL;
}

static int entry_cmp_key(const void *a, const void *b)
{
    return ext_cmp(a, ((const struct overlay_entry *)b)->key);
}

static int entry_sort(const void *a, const void *b)
{
    const struct overlay_entry *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* posixpath.splitext on a base name: where its extension starts (the last
 * dot, unless only dots precede it, as in ".bashrc"), or len for none. */
static size_t split_ext(const char *s, size_t len)
{
    size_t dot = len, i;
    for (i = len; i > 0; i--)
        if (s[i - 1] == '.') {
            dot = i - 1;
            break;
        }
    if (dot == len)
        return len;
    for (i = 0; i < dot; i++)
        if (s[i] != '.')
            return dot;
    return len;
}

static const char *type_find(const struct dr_s3_mime_db *db, const char *p, size_t len)
{
    if (db && db->n) {
        struct ext e = {p, len, 1};
        const struct overlay_entry *hit = bsearch(&e, db->v, db->n, sizeof *db->v, entry_cmp_key);
        if (hit)
            return hit->value;
    }
    return pair_find(dr_mime_types, NITEMS(dr_mime_types), p, len, 1);
}

/* guess_type's steps on a writable copy of the base name with room for
 * MAX_SPLICES splices. */
static const char *guess_in(const struct dr_s3_mime_db *db, char *buf, size_t len, size_t cap)
{
    size_t e = split_ext(buf, len);
    const char *splice;
    for (int i = 0; i < MAX_SPLICES; i++) {
        splice = pair_find(dr_mime_suffixes, NITEMS(dr_mime_suffixes), buf + e, len - e, 1);
        if (!splice || e + strlen(splice) >= cap)
            break;
        strcpy(buf + e, splice); /* base + suffix_map[ext], split again */
        len = e + strlen(splice);
        e = split_ext(buf, len);
    }
    /* encodings_map is case-sensitive: ".gz" and ".Z" are, ".GZ" is not */
    if (pair_find(dr_mime_encodings, NITEMS(dr_mime_encodings), buf + e, len - e, 0)) {
        len = e;
        e = split_ext(buf, len);
    }
    return type_find(db, buf + e, len - e);
}

const char *dr_s3_mime_guess(const struct dr_s3_mime_db *db, const char *name)
{
    /* The CLI passes an absolute path, so urllib's scheme split never
     * applies and only the last component counts. */
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t len = strlen(base), cap = len + MAX_SPLICES * 16 + 1;
    char *buf = malloc(cap);
    const char *type = NULL;
    if (buf) {
        memcpy(buf, base, len + 1);
        type = guess_in(db, buf, len, cap);
    }
    free(buf);
    return type ? type : UNKNOWN;
}

/* ---- system files, as MimeTypes.readfp reads them ------------------------- */

static int overlay_add(struct dr_s3_mime_db *db, const char *type, const char *word)
{
    struct overlay_entry *v = dr_grow(db->v, &db->cap, db->n + 1, sizeof *v, 0);
    if (!v)
        return -1;
    db->v = v;
    struct overlay_entry *o = &db->v[db->n];
    o->key = malloc(strlen(word) + 2);
    o->value = strdup(type);
    if (!o->key || !o->value) {
        free(o->key);
        free(o->value);
        return -1;
    }
    o->key[0] = '.';
    strcpy(o->key + 1, word);
    o->seq = db->seq++;
    db->n++;
    return 0;
}

/* One line: words split on whitespace (str.split's ASCII set), a word that
 * starts with '#' ends the line, the first word is the type, the rest its
 * suffixes. */
static int overlay_line(struct dr_s3_mime_db *db, char *line)
{
    static const char ws[] = " \t\n\v\f\r\x1c\x1d\x1e\x1f";
    char *save = NULL, *type = strtok_r(line, ws, &save), *word;
    if (!type || type[0] == '#')
        return 0;
    while ((word = strtok_r(NULL, ws, &save)) && word[0] != '#')
        if (overlay_add(db, type, word) != 0)
            return -1;
    return 0;
}

static int overlay_read(struct dr_s3_mime_db *db, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t n = 0;
    int rc = 0;
    if (!f)
        return 0; /* Python skips files that are not there */
    while (rc == 0 && getline(&line, &n, f) >= 0)
        rc = overlay_line(db, line);
    free(line);
    fclose(f);
    return rc;
}

/* Sort by key, keep the last-added entry of each key. */
static void overlay_settle(struct dr_s3_mime_db *db)
{
    size_t out = 0;
    if (!db->n)
        return;
    qsort(db->v, db->n, sizeof *db->v, entry_sort);
    for (size_t i = 0; i < db->n; i++) {
        if (i + 1 < db->n && strcmp(db->v[i].key, db->v[i + 1].key) == 0) {
            free(db->v[i].key);
            free(db->v[i].value);
            continue;
        }
        db->v[out++] = db->v[i];
    }
    db->n = out;
}

struct dr_s3_mime_db *dr_s3_mime_open(const char *const *files, size_t nfiles)
{
    struct dr_s3_mime_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    for (size_t i = 0; i < nfiles; i++)
        if (overlay_read(db, files[i]) != 0) {
            dr_s3_mime_free(db);
            return NULL;
        }
    overlay_settle(db);
    return db;
}

void dr_s3_mime_free(struct dr_s3_mime_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->n; i++) {
        free(db->v[i].key);
        free(db->v[i].value);
    }
    free(db->v);
    free(db);
}

/* ---- the process-wide table ------------------------------------------------ */

static pthread_once_t system_once = PTHREAD_ONCE_INIT;
static struct dr_s3_mime_db *system_db; /* NULL: builtins only (out of memory) */

static void system_load(void)
{
    static const char *const files[] = {DR_MIME_KNOWNFILES};
    system_db = dr_s3_mime_open(files, NITEMS(files));
}

const char *dr_s3_content_type(const char *name)
{
    pthread_once(&system_once, system_load);
    return dr_s3_mime_guess(system_db, name);
}
