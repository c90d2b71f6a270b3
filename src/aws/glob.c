/* glob: the aws CLI's pattern matcher (Python's fnmatch) in C. Not libc
 * fnmatch(3): that one negates with `[^...]`, knows POSIX classes
 * (`[[:upper:]]`, `[[.a.]]`, `[[=a=]]`) and matches bytes, where Python
 * reads `^` and `[` in a set as ordinary characters, has no classes, and
 * matches characters. The set rules below follow CPython's
 * fnmatch.translate step by step (its chunking of ranges included) so odd
 * patterns agree too; both strings are decoded as Python decodes file names
 * and argv: strict UTF-8, each invalid byte one character 0xDC00+byte. */
#include "dbtrun/glob.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEP UINT32_MAX /* a range hyphen in a set under construction */

enum tok_kind { TOK_LIT, TOK_ANY, TOK_STAR, TOK_SET, TOK_NEVER };

struct tok {
    enum tok_kind kind;
    uint32_t c;      /* TOK_LIT */
    int negate;      /* TOK_SET */
    size_t first, n; /* TOK_SET: ranges[first .. first+n) */
};

struct dr_glob {
    struct tok *toks;
    size_t ntoks;
    uint32_t (*ranges)[2]; /* inclusive lo, hi */
    size_t nranges;
};

static int cont(unsigned char b, unsigned char lo, unsigned char hi)
{
    return b >= lo && b <= hi;
}

/* Decodes one character at s (s[0] != 0) into *cp; returns its byte length.
 * Overlong forms, surrogates and values past U+10FFFF are invalid, as in
 * Python; an invalid byte is one character on its own. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned char b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF && cont(s[1], 0x80, 0xBF)) {
        *cp = (uint32_t)(b & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        unsigned char lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
        if (cont(s[1], lo, hi) && cont(s[2], 0x80, 0xBF)) {
            *cp = (uint32_t)(b & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
            return 3;
        }
    }
    if (b >= 0xF0 && b <= 0xF4) {
        unsigned char lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
        if (cont(s[1], lo, hi) && cont(s[2], 0x80, 0xBF) && cont(s[3], 0x80, 0xBF)) {
            *cp = (uint32_t)(b & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
                  (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
            return 4;
        }
    }
    *cp = 0xDC00 + b;
    return 1;
}

/* Removes n elements at index at from the array a of length *len. */
static void cut(uint32_t *a, size_t *len, size_t at, size_t n)
{
    memmove(a + at, a + at + n, (*len - at - n) * sizeof *a);
    *len -= n;
}

/* Builds the set of pattern characters p[0..m) (between `[` and `]`) into
 * flat: its characters with SEP for each range hyphen, after translate's
 * chunking, trailing-hyphen and empty-range rules. flat holds m entries. */
static size_t set_flatten(const uint32_t *p, size_t m, uint32_t *flat)
{
    size_t len = 0, k = p[0] == '!' ? 2 : 1, i = 0;
    int has_hyphen = 0;
    for (size_t x = 0; x < m; x++)
        has_hyphen |= p[x] == '-';
    if (!has_hyphen) {
        memcpy(flat, p, m * sizeof *p);
        return m;
    }
    /* chunks split at hyphens; after one, the search resumes two further on */
    for (;;) {
        while (k < m && p[k] != '-')
            k++;
        if (k >= m)
            break;
        while (i < k)
            flat[len++] = p[i++];
        flat[len++] = SEP;
        i = k + 1;
        k = k + 3;
    }
    if (i < m) {
        while (i < m)
            flat[len++] = p[i++];
    } else {
        flat[len - 1] = '-'; /* an empty last chunk: its hyphen is literal */
    }
    /* a reversed range matches nothing: drop it and its bounds, last first */
    for (size_t s = len; s-- > 0;) {
        if (flat[s] != SEP || s == 0 || s + 1 >= len || flat[s - 1] == SEP || flat[s + 1] == SEP)
            continue;
        if (flat[s - 1] > flat[s + 1]) {
            cut(flat, &len, s - 1, 3);
            s--;
        }
    }
    return len;
}

static int add_tok(struct dr_glob *g, size_t *cap, struct tok t)
{
    if (g->ntoks == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct tok *grown = realloc(g->toks, ncap * sizeof *grown);
        if (!grown)
            return -1;
        g->toks = grown;
        *cap = ncap;
    }
    g->toks[g->ntoks++] = t;
    return 0;
}

/* Adds the set p[0..m) as a token. */
static int add_set(struct dr_glob *g, size_t *cap, const uint32_t *p, size_t m, uint32_t *flat)
{
    size_t len = set_flatten(p, m, flat), x = 0;
    struct tok t = {.kind = TOK_SET, .first = g->nranges};
    if (len == 0)
        return add_tok(g, cap, (struct tok){.kind = TOK_NEVER});
    if (len == 1 && flat[0] == '!')
        return add_tok(g, cap, (struct tok){.kind = TOK_ANY});
    if (flat[0] == '!') {
        t.negate = 1;
        x = 1;
    }
    for (; x < len; x++) {
        uint32_t lo = flat[x] == SEP ? '-' : flat[x], hi = lo;
        if (flat[x] != SEP && x + 2 < len && flat[x + 1] == SEP && flat[x + 2] != SEP) {
            hi = flat[x + 2];
            x += 2;
        }
        g->ranges[g->nranges][0] = lo;
        g->ranges[g->nranges][1] = hi;
        g->nranges++;
        t.n++;
    }
    return add_tok(g, cap, t);
}

static int compile(struct dr_glob *g, const uint32_t *p, size_t n, uint32_t *flat)
{
    size_t cap = 0, i = 0;
    while (i < n) {
        uint32_t c = p[i++];
        int rc = 0;
        if (c == '*') {
            if (!g->ntoks || g->toks[g->ntoks - 1].kind != TOK_STAR)
                rc = add_tok(g, &cap, (struct tok){.kind = TOK_STAR});
        } else if (c == '?') {
            rc = add_tok(g, &cap, (struct tok){.kind = TOK_ANY});
        } else if (c == '[') {
            size_t j = i;
            if (j < n && p[j] == '!')
                j++;
            if (j < n && p[j] == ']')
                j++;
            while (j < n && p[j] != ']')
                j++;
            if (j >= n) { /* never closed: a literal `[` */
                rc = add_tok(g, &cap, (struct tok){.kind = TOK_LIT, .c = '['});
            } else {
                rc = add_set(g, &cap, p + i, j - i, flat);
                i = j + 1;
            }
        } else {
            rc = add_tok(g, &cap, (struct tok){.kind = TOK_LIT, .c = c});
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

struct dr_glob *dr_glob_compile(const char *pattern)
{
    const unsigned char *s = (const unsigned char *)pattern;
    size_t bytes = strlen(pattern), n = 0;
    struct dr_glob *g = calloc(1, sizeof *g);
    uint32_t *p = malloc((bytes + 1) * sizeof *p), *flat = malloc((bytes + 1) * sizeof *flat);
    if (!g || !p || !flat)
        goto fail;
    /* a set never has more ranges than the pattern has characters */
    if (!(g->ranges = malloc((bytes + 1) * sizeof *g->ranges)))
        goto fail;
    for (size_t off = 0; off < bytes; n++)
        off += utf8_next(s + off, &p[n]);
    if (compile(g, p, n, flat) != 0)
        goto fail;
    free(p);
    free(flat);
    return g;
fail:
    free(p);
    free(flat);
    dr_glob_free(g);
    return NULL;
}

static int tok_match(const struct dr_glob *g, const struct tok *t, uint32_t c)
{
    switch (t->kind) {
    case TOK_LIT:
        return c == t->c;
    case TOK_ANY:
        return 1;
    case TOK_SET: {
        int in = 0;
        for (size_t k = t->first; k < t->first + t->n && !in; k++)
            in = c >= g->ranges[k][0] && c <= g->ranges[k][1];
        return in != t->negate;
    }
    default:
        return 0;
    }
}

/* Every token but `*` matches exactly one character, so the leftmost match
 * after the last `*` is the one to keep: one backtrack point suffices. */
int dr_glob_match(const struct dr_glob *g, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t p = 0, t = 0, star_p = 0, star_t = 0;
    int starred = 0;
    uint32_t c;
    while (s[t]) {
        size_t len = utf8_next(s + t, &c);
        if (p < g->ntoks && g->toks[p].kind == TOK_STAR) {
            starred = 1;
            star_p = ++p;
            star_t = t;
        } else if (p < g->ntoks && tok_match(g, &g->toks[p], c)) {
            p++;
            t += len;
        } else if (starred) {
            p = star_p;
            star_t += utf8_next(s + star_t, &c);
            t = star_t;
        } else {
            return 0;
        }
    }
    while (p < g->ntoks && g->toks[p].kind == TOK_STAR)
        p++;
    return p == g->ntoks;
}

void dr_glob_free(struct dr_glob *g)
{
    if (!g)
        return;
    free(g->toks);
    free(g->ranges);
    free(g);
}
