/* buf: capped growable byte buffers (include/dbtrun/buf.h). Pure memory
 * management; no I/O. */
#include "dbtrun/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dr_buf_init(struct dr_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max ? max : DR_BUF_DEFAULT_MAX;
}

/* Makes room for `extra` more bytes plus a NUL. */
static int reserve(struct dr_buf *b, size_t extra)
{
    size_t max = b->max ? b->max : DR_BUF_DEFAULT_MAX; /* a zeroed buffer is valid */
    if (extra > max || b->len > max - extra) {
        b->overflowed = 1;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        b->out_of_mem = 1;
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

int dr_buf_add(struct dr_buf *b, const void *data, size_t n)
{
    if (reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int dr_buf_puts(struct dr_buf *b, const char *s)
{
    return dr_buf_add(b, s, strlen(s));
}

int dr_buf_printf(struct dr_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return dr_buf_add(b, small, (size_t)n);
    if (reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int dr_buf_json_string(struct dr_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = dr_buf_add(b, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = dr_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if (rc == 0)
            rc = dr_buf_add(b, esc, elen);
    }
    if (rc == 0)
        rc = dr_buf_add(b, s + run, n - run);
    if (rc == 0)
        rc = dr_buf_add(b, "\"", 1);
    return rc;
}

int dr_buf_escape(struct dr_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = 0;
    size_t run = 0; /* start of the pending run of bytes shown as they are */
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f && c != '\\')
            continue;
        rc = dr_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[4] = {'\\', (char)c, 0, 0};
        size_t elen = 2;
        if (c == '\n')
            esc[1] = 'n';
        else if (c == '\r')
            esc[1] = 'r';
        else if (c == '\t')
            esc[1] = 't';
        else if (c != '\\') {
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            elen = 4;
        }
        if (rc == 0)
            rc = dr_buf_add(b, esc, elen);
    }
    if (rc == 0)
        rc = dr_buf_add(b, s + run, n - run);
    return rc;
}

char *dr_strescape(const char *s)
{
    struct dr_buf b;
    dr_buf_init(&b, 0);
    if (dr_buf_escape(&b, s, strlen(s)) != 0) {
        dr_buf_free(&b);
        return NULL;
    }
    return dr_buf_take(&b, NULL);
}

void dr_buf_reset(struct dr_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *dr_buf_take(struct dr_buf *b, size_t *len)
{
    char *data = b->data;
    if (!data)
        data = calloc(1, 1);
    if (len)
        *len = data ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}

void dr_buf_free(struct dr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void *dr_grow(void *p, size_t *cap, size_t need, size_t elem, size_t max)
{
    if (!max)
        max = DR_BUF_DEFAULT_MAX / elem;
    if (need > max || max > ((size_t)-1) / elem) {
        errno = EFBIG;
        return NULL;
    }
    if (need <= *cap && p)
        return p;
    size_t ncap = *cap > max / 2 ? max : *cap * 2;
    if (ncap < 8)
        ncap = 8 < max ? 8 : max;
    if (ncap < need)
        ncap = need;
    void *grown = realloc(p, ncap * elem);
    if (!grown) {
        errno = ENOMEM;
        return NULL;
    }
    *cap = ncap;
    return grown;
}

char *dr_strprintf(const char *fmt, ...)
{
    char first[256]; /* most results fit: formatted once, not measured first */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(first, sizeof first, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = malloc((size_t)n + 1);
    if (!p)
        return NULL;
    if ((size_t)n < sizeof first) {
        memcpy(p, first, (size_t)n + 1);
        return p;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void dr_hex(const unsigned char *bin, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bin[i] >> 4];
        hex[2 * i + 1] = digits[bin[i] & 15];
    }
    hex[2 * n] = '\0';
}
