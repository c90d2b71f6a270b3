/* ini: the AWS shared config/credentials dialect. A file is first read into
 * raw sections keyed by their bracket text (syntax errors stop here), then
 * normalised — prefixes, name checks, [profile default] over [default] — and
 * merged into the caller's struct dr_ini. Pure C: no Lua, no AWS calls. */
#include "dbtrun/ini.h"
#include "dbtrun/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slice {
    const char *p;
    size_t n;
};

/* ------------------------------------------------------------------------ */
/* Small string helpers. */

/* The dialect's whitespace is space and tab only; "\v" inside a key is not. */
static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Wider test for "comment needs whitespace before it", as the SDKs use the
 * language's notion of whitespace there. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static struct slice trim(struct slice s)
{
    while (s.n && is_blank(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_blank(s.p[s.n - 1]))
        s.n--;
    return s;
}

static int slice_eq(struct slice s, const char *lit)
{
    return strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0;
}

/* True when s is `word`, then at least one blank, then more; *rest gets the
 * trimmed remainder. "profilefoo" and "profile" alone do not match. */
static int has_prefix_word(struct slice s, const char *word, struct slice *rest)
{
    size_t w = strlen(word);
    if (s.n <= w || memcmp(s.p, word, w) != 0 || !is_blank(s.p[w]))
        return 0;
    *rest = trim((struct slice){s.p + w, s.n - w});
    return 1;
}

static char *dup_slice(struct slice s, int lower)
{
    char *d = malloc(s.n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < s.n; i++)
        d[i] = lower ? ascii_lower(s.p[i]) : s.p[i];
    d[s.n] = '\0';
    return d;
}

static int ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = ascii_lower(*a), y = ascii_lower(*b);
        if (x != y || !x)
            return (unsigned char)x - (unsigned char)y;
    }
}

/* Names the SDKs accept for profiles, sections and keys. */
static int is_identifier(struct slice s)
{
    if (!s.n)
        return 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c && strchr("-_/.%@:+", c));
        if (!ok)
            return 0;
    }
    return 1;
}

/* Trims the line, cuts a comment (';' or '#'; for property lines only when
 * whitespace precedes it, so "a=b#c" keeps "b#c"), and trims again. */
static struct slice strip_comment(struct slice line, int need_space)
{
    struct slice s = trim(line);
    int prev_space = 0;
    for (size_t i = 0; i < s.n; i++) {
        if ((s.p[i] == '#' || s.p[i] == ';') && (prev_space || !need_space)) {
            s.n = i;
            break;
        }
        prev_space = is_space(s.p[i]);
    }
    return trim(s);
}

static int set_status(struct dr_ini_status *st, int rc, const char *origin, int line,
                      const char *what)
{
    if (st) {
        st->line = line;
        if (line > 0)
            snprintf(st->msg, sizeof st->msg, "%s:%d: %s", origin, line, what);
        else
            snprintf(st->msg, sizeof st->msg, "%s: %s", origin, what);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Properties, sections and lists. */

static void prop_free(struct dr_ini_prop *p)
{
    for (size_t i = 0; i < p->nsubs; i++)
        prop_free(&p->subs[i]);
    free(p->subs);
    free(p->key);
    free(p->value);
    memset(p, 0, sizeof *p);
}

static void section_free(struct dr_ini_section *s)
{
    for (size_t i = 0; i < s->nprops; i++)
        prop_free(&s->props[i]);
    free(s->props);
    free(s->name);
    memset(s, 0, sizeof *s);
}

static void list_free(struct dr_ini_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        section_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Grows *items (of `size`-byte elements) so one more fits; capped. */
static int grow(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return DR_INI_OK;
    if (n >= DR_INI_ENTRIES_MAX)
        return DR_INI_ELIMIT;
    void *p = dr_grow(*items, cap, n + 1, size, DR_INI_ENTRIES_MAX);
    if (!p)
        return DR_INI_ENOMEM;
    *items = p;
    return DR_INI_OK;
}

static long list_index(const struct dr_ini_list *l, struct slice name)
{
    for (size_t i = 0; i < l->n; i++)
        if (slice_eq(name, l->items[i].name))
            return (long)i;
    return -1;
}

/* Index of the section called `name`, appended empty when new; -1 with *rc. */
static long list_intern(struct dr_ini_list *l, struct slice name, int *rc)
{
    long i = list_index(l, name);
    if (i >= 0)
        return i;
    *rc = grow((void **)&l->items, &l->cap, l->n, sizeof *l->items);
    if (*rc)
        return -1;
    struct dr_ini_section *s = &l->items[l->n];
    memset(s, 0, sizeof *s);
    if (!(s->name = dup_slice(name, 0))) {
        *rc = DR_INI_ENOMEM;
        return -1;
    }
    return (long)l->n++;
}

static long prop_index(const struct dr_ini_prop *props, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_casecmp(props[i].key, key) == 0)
            return (long)i;
    return -1;
}

/* Stores *p in (*props, *n, *cap), taking ownership of its strings and subs:
 * an existing key is replaced, a new one appended. *p is zeroed either way
 * on success. Returns the index, or -1 with *rc (p untouched). */
static long props_put(struct dr_ini_prop **props, size_t *n, size_t *cap, struct dr_ini_prop *p,
                      int *rc)
{
    long i = prop_index(*props, *n, p->key);
    if (i < 0) {
        *rc = grow((void **)props, cap, *n, sizeof **props);
        if (*rc)
            return -1;
        i = (long)(*n)++;
    } else {
        prop_free(&(*props)[i]);
    }
    (*props)[i] = *p;
    memset(p, 0, sizeof *p);
    return i;
}

/* ------------------------------------------------------------------------ */
/* Stage 1: text to raw sections. */

enum parse_state { BEFORE_SECTION, IN_SECTION, IN_PROPERTY };

struct parser {
    struct dr_ini_list raw; /* names are the bracket text as written */
    enum parse_state state;
    size_t sec, prop; /* current section and property (indices: arrays move) */
    int in_subs;      /* current property opened with an empty value */
    const char *origin;
    int line;
    struct dr_ini_status *st;
};

static int syntax(struct parser *ps, const char *what)
{
    return set_status(ps->st, DR_INI_ESYNTAX, ps->origin, ps->line, what);
}

static int limit_or_oom(struct parser *ps, int rc)
{
    return set_status(ps->st, rc, ps->origin, ps->line,
                      rc == DR_INI_ELIMIT ? "too many sections or properties" : "out of memory");
}

static int read_section_line(struct parser *ps, struct slice line)
{
    struct slice s = strip_comment(line, 0);
    if (s.n < 2 || s.p[s.n - 1] != ']')
        return syntax(ps, "Profile definition must end with ']'");
    int rc = DR_INI_OK;
    long i = list_intern(&ps->raw, (struct slice){s.p + 1, s.n - 2}, &rc);
    if (i < 0)
        return limit_or_oom(ps, rc);
    ps->sec = (size_t)i;
    ps->state = IN_SECTION;
    ps->in_subs = 0;
    return DR_INI_OK;
}

/* Splits "key = value" at the first '='; 0, or -1 when there is no '='
 * and -2 when the key is empty. */
static int split_assignment(struct slice s, struct slice *key, struct slice *value)
{
    const char *eq = memchr(s.p, '=', s.n);
    if (!eq)
        return -1;
    *key = trim((struct slice){s.p, (size_t)(eq - s.p)});
    *value = trim((struct slice){eq + 1, s.n - (size_t)(eq - s.p) - 1});
    return key->n ? 0 : -2;
}

static int read_property_line(struct parser *ps, struct slice line)
{
    if (ps->state == BEFORE_SECTION)
        return syntax(ps, "Expected a profile definition");
    struct slice key, value;
    int split = split_assignment(strip_comment(line, 1), &key, &value);
    if (split == -1)
        return syntax(ps, "Expected an '=' sign defining a property");
    if (split == -2)
        return syntax(ps, "Property did not have a name");

    struct dr_ini_section *sec = &ps->raw.items[ps->sec];
    struct dr_ini_prop p = {dup_slice(key, 1), dup_slice(value, 0), NULL, 0, 0};
    int rc = DR_INI_ENOMEM;
    long i = -1;
    if (p.key && p.value)
        i = props_put(&sec->props, &sec->nprops, &sec->cap, &p, &rc);
    if (i < 0) {
        prop_free(&p);
        return limit_or_oom(ps, rc);
    }
    ps->prop = (size_t)i;
    ps->state = IN_PROPERTY;
    ps->in_subs = value.n == 0;
    return DR_INI_OK;
}

static int read_continuation(struct parser *ps, struct slice line)
{
    if (ps->state == BEFORE_SECTION)
        return syntax(ps, "Expected a profile definition");
    if (ps->state == IN_SECTION)
        return syntax(ps, "Expected a property definition, found continuation");
    struct slice s = trim(line);
    struct dr_ini_prop *prop = &ps->raw.items[ps->sec].props[ps->prop];
    int rc = DR_INI_OK;

    if (ps->in_subs) {
        struct slice key, value;
        int split = split_assignment(s, &key, &value);
        if (split == -1)
            return syntax(ps, "Expected an '=' sign defining a sub-property");
        if (split == -2)
            return syntax(ps, "Sub-property did not have a name");
        struct dr_ini_prop sub = {dup_slice(key, 1), dup_slice(value, 0), NULL, 0, 0};
        rc = DR_INI_ENOMEM;
        if (!sub.key || !sub.value ||
            props_put(&prop->subs, &prop->nsubs, &prop->subcap, &sub, &rc) < 0) {
            prop_free(&sub);
            return limit_or_oom(ps, rc);
        }
    }

    /* The value keeps every continuation, newline-separated, as the SDKs do. */
    size_t old = strlen(prop->value);
    if (old + 1 + s.n > DR_INI_VALUE_MAX)
        return set_status(ps->st, DR_INI_ELIMIT, ps->origin, ps->line, "value too long");
    char *v = realloc(prop->value, old + 1 + s.n + 1);
    if (!v)
        return limit_or_oom(ps, DR_INI_ENOMEM);
    v[old] = '\n';
    memcpy(v + old + 1, s.p, s.n);
    v[old + 1 + s.n] = '\0';
    prop->value = v;
    return DR_INI_OK;
}

static int is_blank_line(struct slice line)
{
    return trim(line).n == 0;
}

static int parse_raw(struct parser *ps, const char *text, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        ps->line++;
        struct slice line = {start, n};
        if (line.n && line.p[line.n - 1] == '\r')
            line.n--;
        if (memchr(line.p, '\0', line.n))
            return syntax(ps, "unexpected NUL byte");
        if (is_blank_line(line) || line.p[0] == '#' || line.p[0] == ';')
            continue;
        int rc;
        if (line.p[0] == '[')
            rc = read_section_line(ps, line);
        else if (is_blank(line.p[0]))
            rc = read_continuation(ps, line);
        else
            rc = read_property_line(ps, line);
        if (rc)
            return rc;
    }
    return DR_INI_OK;
}

/* ------------------------------------------------------------------------ */
/* Stage 2: raw sections to profiles, sso-sessions and services. */

/* Where a raw section goes: *dst and *name, or 0 to ignore it. */
static int classify(struct dr_ini *ini, enum dr_ini_kind kind, const char *raw_name,
                    int has_profile_default, struct dr_ini_list **dst, struct slice *name)
{
    struct slice s = trim((struct slice){raw_name, strlen(raw_name)});
    *dst = &ini->profiles;
    *name = s;
    if (kind == DR_INI_CREDENTIALS)
        return 1;
    if (slice_eq(s, "default"))
        return !has_profile_default;
    if (has_prefix_word(s, "profile", name))
        return 1;
    *dst = &ini->sso_sessions;
    if (has_prefix_word(s, "sso-session", name))
        return 1;
    *dst = &ini->services;
    if (has_prefix_word(s, "services", name))
        return 1;
    return 0; /* a bare [X] in the config file */
}

static int merge_raw(struct dr_ini *ini, enum dr_ini_kind kind, struct dr_ini_list *raw)
{
    int has_profile_default = 0;
    for (size_t i = 0; i < raw->n && kind == DR_INI_CONFIG; i++) {
        struct slice s = trim((struct slice){raw->items[i].name, strlen(raw->items[i].name)});
        struct slice rest;
        if (has_prefix_word(s, "profile", &rest) && slice_eq(rest, "default"))
            has_profile_default = 1;
    }
    int rc = DR_INI_OK;
    for (size_t i = 0; i < raw->n; i++) {
        struct dr_ini_section *from = &raw->items[i];
        struct dr_ini_list *dst;
        struct slice name;
        if (!classify(ini, kind, from->name, has_profile_default, &dst, &name) ||
            !is_identifier(name))
            continue;
        long at = list_intern(dst, name, &rc);
        if (at < 0)
            goto out;
        struct dr_ini_section *to = &dst->items[at];
        for (size_t j = 0; j < from->nprops; j++) {
            struct dr_ini_prop *p = &from->props[j];
            if (!is_identifier((struct slice){p->key, strlen(p->key)}))
                continue;
            if (props_put(&to->props, &to->nprops, &to->cap, p, &rc) < 0)
                goto out;
        }
    }
out:
    return rc;
}

int dr_ini_parse(struct dr_ini *ini, enum dr_ini_kind kind, const char *text, size_t len,
                 const char *origin, struct dr_ini_status *st)
{
    struct parser ps = {
        .origin = origin ? origin : (kind == DR_INI_CONFIG ? "config" : "credentials"), .st = st};
    if (st) {
        st->line = 0;
        st->msg[0] = '\0';
    }
    int rc = DR_INI_OK;
    if (len > DR_INI_FILE_MAX) {
        rc = set_status(st, DR_INI_ELIMIT, ps.origin, 0, "file too large");
        goto out;
    }
    if ((rc = parse_raw(&ps, text, len)))
        goto out;
    if ((rc = merge_raw(ini, kind, &ps.raw)))
        set_status(st, rc, ps.origin, 0,
                   rc == DR_INI_ELIMIT ? "too many sections or properties" : "out of memory");
out:
    list_free(&ps.raw);
    return rc;
}

/* A read failure of `path` as DR_INI_EIO, with errno's text. */
static int io_error(struct dr_ini_status *st, const char *path, int err)
{
    char why[128];
    if (strerror_r(err, why, sizeof why) != 0)
        snprintf(why, sizeof why, "error %d", err);
    return set_status(st, DR_INI_EIO, path, 0, why);
}

int dr_ini_load(struct dr_ini *ini, enum dr_ini_kind kind, const char *path,
                struct dr_ini_status *st)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = DR_INI_OK;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno != ENOENT && errno != ENOTDIR) /* no file: no profiles, as with the SDKs */
            rc = io_error(st, path, errno);
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap > DR_INI_FILE_MAX) {
                rc = set_status(st, DR_INI_ELIMIT, path, 0, "file too large");
                goto out;
            }
            /* one byte past the cap tells "too large" */
            char *p = dr_grow(buf, &cap, len + 1, 1, DR_INI_FILE_MAX + 1);
            if (!p) {
                rc = set_status(st, DR_INI_ENOMEM, path, 0, "out of memory");
                goto out;
            }
            buf = p;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = io_error(st, path, errno);
                goto out;
            }
            break;
        }
    }
    rc = dr_ini_parse(ini, kind, buf, len, path, st);
out:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

void dr_ini_free(struct dr_ini *ini)
{
    if (!ini)
        return;
    list_free(&ini->profiles);
    list_free(&ini->sso_sessions);
    list_free(&ini->services);
}

const struct dr_ini_section *dr_ini_find(const struct dr_ini_list *list, const char *name)
{
    long i = list_index(list, (struct slice){name, strlen(name)});
    return i < 0 ? NULL : &list->items[i];
}

const struct dr_ini_section *dr_ini_profile(const struct dr_ini *ini, const char *name)
{
    return dr_ini_find(&ini->profiles, name);
}

const char *dr_ini_get(const struct dr_ini_section *sec, const char *key)
{
    if (!sec)
        return NULL;
    long i = prop_index(sec->props, sec->nprops, key);
    return i < 0 ? NULL : sec->props[i].value;
}

const char *dr_ini_get_sub(const struct dr_ini_section *sec, const char *key, const char *subkey)
{
    if (!sec)
        return NULL;
    long i = prop_index(sec->props, sec->nprops, key);
    if (i < 0)
        return NULL;
    const struct dr_ini_prop *p = &sec->props[i];
    long j = prop_index(p->subs, p->nsubs, subkey);
    return j < 0 ? NULL : p->subs[j].value;
}

/* ------------------------------------------------------------------------ */
/* File locations. */

struct env {
    dr_ini_getenv_fn fn;
    void *ud;
};

static const char *env_get(const struct env *e, const char *name)
{
    const char *v = e->fn ? e->fn(e->ud, name) : getenv(name);
    return v && *v ? v : NULL;
}

/* The home folder into buf: 0, -1 when the environment names none, -2 when
 * it does not fit. */
static int find_home(const struct env *e, enum dr_ini_platform platform, char *buf, size_t size)
{
    const char *home = env_get(e, "HOME");
    if (!home)
        home = env_get(e, "USERPROFILE");
    const char *drive = env_get(e, "HOMEDRIVE"), *path = env_get(e, "HOMEPATH");
    int n;
    if (home)
        n = snprintf(buf, size, "%s", home);
    else if (platform == DR_INI_WINDOWS && drive && path)
        n = snprintf(buf, size, "%s%s", drive, path);
    else
        return -1;
    return n >= 0 && (size_t)n < size ? 0 : -2;
}

static int is_sep(enum dr_ini_platform platform, char c)
{
    return c == '/' || (platform == DR_INI_WINDOWS && c == '\\');
}

/* One path: the variable's value with "~" expanded, or home/.aws/<file>. */
static int resolve_one(const struct env *e, enum dr_ini_platform platform, const char *var,
                       const char *file, char **out, struct dr_ini_status *st)
{
    const char *given = env_get(e, var);
    const char *rest = NULL;
    char home[DR_INI_PATH_MAX];
    if (given && !(given[0] == '~' && (given[1] == '\0' || is_sep(platform, given[1])))) {
        if (strlen(given) >= DR_INI_PATH_MAX)
            return set_status(st, DR_INI_ELIMIT, var, 0, "path too long");
        return (*out = strdup(given)) ? DR_INI_OK
                                      : set_status(st, DR_INI_ENOMEM, var, 0, "out of memory");
    }
    int found = find_home(e, platform, home, sizeof home);
    if (found == -2)
        return set_status(st, DR_INI_ELIMIT, "HOME", 0, "path too long");
    if (found == -1) {
        if (st && given)
            snprintf(st->msg, sizeof st->msg, "%s starts with ~ but HOME is not set", var);
        else if (st)
            snprintf(st->msg, sizeof st->msg, "cannot find the %s file: neither HOME nor %s is set",
                     file, var);
        return DR_INI_ENOHOME;
    }
    size_t hn = strlen(home);
    if (hn && is_sep(platform, home[hn - 1]))
        home[--hn] = '\0'; /* "/" + "/.aws" must not become "//.aws" */

    char path[DR_INI_PATH_MAX];
    int n;
    if (given) {
        rest = given + 1; /* "" or starts with a separator */
        n = snprintf(path, sizeof path, "%s%s", home, rest);
    } else {
        const char *sep = platform == DR_INI_WINDOWS ? "\\" : "/";
        n = snprintf(path, sizeof path, "%s%s.aws%s%s", home, sep, sep, file);
    }
    if (n < 0 || (size_t)n >= sizeof path)
        return set_status(st, DR_INI_ELIMIT, var, 0, "path too long");
    return (*out = strdup(path)) ? DR_INI_OK
                                 : set_status(st, DR_INI_ENOMEM, var, 0, "out of memory");
}

int dr_ini_paths_resolve(struct dr_ini_paths *out, dr_ini_getenv_fn getenv_fn, void *ud,
                         enum dr_ini_platform platform, struct dr_ini_status *st)
{
    struct env e = {getenv_fn, ud};
    memset(out, 0, sizeof *out);
    if (st) {
        st->line = 0;
        st->msg[0] = '\0';
    }
    int rc = resolve_one(&e, platform, "AWS_CONFIG_FILE", "config", &out->config, st);
    if (!rc)
        rc = resolve_one(&e, platform, "AWS_SHARED_CREDENTIALS_FILE", "credentials",
                         &out->credentials, st);
    if (!rc) {
        const char *profile = env_get(&e, "AWS_PROFILE");
        if (!(out->profile = strdup(profile ? profile : "default")))
            rc = set_status(st, DR_INI_ENOMEM, "AWS_PROFILE", 0, "out of memory");
    }
    if (rc)
        dr_ini_paths_free(out);
    return rc;
}

void dr_ini_paths_free(struct dr_ini_paths *p)
{
    if (!p)
        return;
    free(p->config);
    free(p->credentials);
    free(p->profile);
    memset(p, 0, sizeof *p);
}
