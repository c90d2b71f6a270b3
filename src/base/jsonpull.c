/* jsonpull: the pull tokenizer. Input arrives in windows that tokens may
 * straddle; strings are decoded (escapes, surrogate pairs to UTF-8) into one
 * reused buffer; skipped containers — most of a manifest — are scanned
 * without decoding. */
#include "dbtrun/jsonpull.h"
#include "dbtrun/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    ST_VALUE,     /* a value must come */
    ST_OBJ_FIRST, /* after '{': a key or '}' */
    ST_OBJ_KEY,   /* after ',' in an object: a key */
    ST_ARR_FIRST, /* after '[': a value or ']' */
    ST_AFTER,     /* after a value: ',', a closer, or the end */
    ST_DONE,
    ST_FAILED,
};

#define NUMBER_MAX 512

int dr_jsonpull_open_fd(struct dr_jsonpull *p, int fd)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
    p->window = malloc(DR_JSONPULL_WINDOW);
    p->str_cap = 256;
    p->str = malloc(p->str_cap);
    if (!p->window || !p->str) {
        dr_jsonpull_close(p);
        return -1;
    }
    p->str[0] = '\0';
    p->in = p->window;
    p->state = ST_VALUE;
    return 0;
}

void dr_jsonpull_open_mem(struct dr_jsonpull *p, const char *data, size_t len)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->in = data;
    p->in_len = len;
    p->state = ST_VALUE;
}

void dr_jsonpull_close(struct dr_jsonpull *p)
{
    free(p->window);
    free(p->str);
    p->window = NULL;
    p->str = NULL;
    p->str_cap = 0;
}

long long dr_jsonpull_offset(const struct dr_jsonpull *p)
{
    return p->consumed + (long long)p->in_pos;
}

static enum dr_jsonpull_token fail(struct dr_jsonpull *p, const char *what)
{
    if (p->state != ST_FAILED)
        snprintf(p->error, sizeof p->error, "%s at byte %lld", what, dr_jsonpull_offset(p));
    p->state = ST_FAILED;
    return DR_JP_ERROR;
}

/* Refills the window: 1 when bytes are available, 0 at the end, -1 on error. */
static int fill(struct dr_jsonpull *p)
{
    if (p->in_pos < p->in_len)
        return 1;
    if (p->fd < 0)
        return 0;
    p->consumed += (long long)p->in_len;
    p->in_pos = p->in_len = 0;
    for (;;) {
        ssize_t n = read(p->fd, p->window, DR_JSONPULL_WINDOW);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(p->error, sizeof p->error, "read: %s", strerror(errno));
            p->state = ST_FAILED;
            return -1;
        }
        p->in_len = (size_t)n;
        return n > 0;
    }
}

/* The next byte without consuming it; -1 at the end, -2 on a read error. */
static int peek(struct dr_jsonpull *p)
{
    int rc = fill(p);
    if (rc <= 0)
        return rc < 0 ? -2 : -1;
    return (unsigned char)p->in[p->in_pos];
}

static int skip_space(struct dr_jsonpull *p)
{
    for (;;) {
        while (p->in_pos < p->in_len) {
            char c = p->in[p->in_pos];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
                return (unsigned char)c;
            p->in_pos++;
        }
        int rc = fill(p);
        if (rc <= 0)
            return rc < 0 ? -2 : -1;
    }
}

static int str_reserve(struct dr_jsonpull *p, size_t extra)
{
    if (extra > DR_JSONPULL_STRING_MAX - p->len) {
        fail(p, "string longer than the limit");
        return -1;
    }
    /* dr_grow, not dr_buf: str/len are the reader's public view of a token */
    char *s = dr_grow(p->str, &p->str_cap, p->len + extra + 1, 1, DR_JSONPULL_STRING_MAX + 1);
    if (!s) {
        fail(p, "out of memory");
        return -1;
    }
    p->str = s;
    return 0;
}

static int str_add(struct dr_jsonpull *p, const char *data, size_t n)
{
    if (str_reserve(p, n))
        return -1;
    memcpy(p->str + p->len, data, n);
    p->len += n;
    return 0;
}

static int hex4(struct dr_jsonpull *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(p);
        if (c < 0)
            return -1;
        p->in_pos++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int put_utf8(struct dr_jsonpull *p, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return str_add(p, u, n);
}

/* One escape sequence, the backslash already consumed. */
static int read_escape(struct dr_jsonpull *p)
{
    int c = peek(p);
    if (c < 0) {
        fail(p, "unterminated string");
        return -1;
    }
    p->in_pos++;
    char ch;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        ch = (char)c;
        break;
    case 'b':
        ch = '\b';
        break;
    case 'f':
        ch = '\f';
        break;
    case 'n':
        ch = '\n';
        break;
    case 'r':
        ch = '\r';
        break;
    case 't':
        ch = '\t';
        break;
    case 'u': {
        unsigned cp, lo;
        if (hex4(p, &cp)) {
            fail(p, "bad \\u escape");
            return -1;
        }
        if (cp >= 0xD800 && cp < 0xDC00) {
            /* A high surrogate pairs with the \uDC00-\uDFFF that follows. */
            if (peek(p) == '\\') {
                p->in_pos++;
                if (peek(p) != 'u' || (p->in_pos++, hex4(p, &lo)) || lo < 0xDC00 || lo > 0xDFFF) {
                    fail(p, "bad surrogate pair");
                    return -1;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        return put_utf8(p, cp);
    }
    default:
        fail(p, "bad escape in string");
        return -1;
    }
    return str_add(p, &ch, 1);
}

static int read_string_raw(struct dr_jsonpull *p);

/* Length of the valid UTF-8 prefix of s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF); n when all of it is valid. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (len == 0 || c > 0xF4 || n - i < len)
            return i;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        unsigned c1 = s[i + 1];
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
            (c == 0xF4 && c1 >= 0x90))
            return i;
        i += len;
    }
    return n;
}

/* Decodes a string into p->str, the opening quote already consumed. Escapes
 * always decode to valid UTF-8, so checking the decoded text checks the raw
 * bytes too; the error names where the string starts. */
static int read_string(struct dr_jsonpull *p)
{
    long long at = dr_jsonpull_offset(p) - 1;
    if (read_string_raw(p))
        return -1;
    size_t ok = utf8_valid_prefix((const unsigned char *)p->str, p->len);
    if (ok < p->len) {
        snprintf(p->error, sizeof p->error,
                 "invalid UTF-8 in the string at byte %lld (decoded byte %zu)", at, ok);
        p->state = ST_FAILED;
        return -1;
    }
    return 0;
}

static int read_string_raw(struct dr_jsonpull *p)
{
    p->len = 0;
    if (!p->str && str_reserve(p, 0))
        return -1;
    for (;;) {
        int rc = fill(p);
        if (rc <= 0) {
            if (rc == 0)
                fail(p, "unterminated string");
            return -1;
        }
        const char *s = p->in + p->in_pos;
        size_t n = p->in_len - p->in_pos;
        const char *q = memchr(s, '"', n);
        size_t upto = q ? (size_t)(q - s) : n;
        const char *bs = memchr(s, '\\', upto);
        if (bs) {
            if (str_add(p, s, (size_t)(bs - s)))
                return -1;
            p->in_pos += (size_t)(bs - s) + 1;
            if (read_escape(p))
                return -1;
            continue;
        }
        if (str_add(p, s, upto))
            return -1;
        p->in_pos += upto;
        if (q) {
            p->in_pos++;
            p->str[p->len] = '\0';
            return 0;
        }
    }
}

static int read_number(struct dr_jsonpull *p)
{
    p->len = 0;
    for (;;) {
        int c = peek(p);
        if (c == -2)
            return -1;
        if (c < 0 ||
            !((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
            break;
        if (p->len >= NUMBER_MAX) {
            fail(p, "number too long");
            return -1;
        }
        char ch = (char)c;
        if (str_add(p, &ch, 1))
            return -1;
        p->in_pos++;
    }
    if (p->len == 0) {
        fail(p, "unexpected character");
        return -1;
    }
    p->str[p->len] = '\0';
    return 0;
}

static int read_literal(struct dr_jsonpull *p, const char *word)
{
    for (const char *w = word; *w; w++) {
        if (peek(p) != (unsigned char)*w) {
            fail(p, "unexpected character");
            return -1;
        }
        p->in_pos++;
    }
    return 0;
}

static enum dr_jsonpull_token push(struct dr_jsonpull *p, unsigned char kind)
{
    if (p->depth >= DR_JSONPULL_DEPTH_MAX)
        return fail(p, "nesting too deep");
    p->stack[p->depth++] = kind;
    p->state = kind == '{' ? ST_OBJ_FIRST : ST_ARR_FIRST;
    return kind == '{' ? DR_JP_OBJECT : DR_JP_ARRAY;
}

static enum dr_jsonpull_token pop(struct dr_jsonpull *p, unsigned char kind)
{
    if (p->depth == 0 || p->stack[p->depth - 1] != kind)
        return fail(p, "mismatched bracket");
    p->depth--;
    p->in_pos++;
    p->state = ST_AFTER;
    return kind == '{' ? DR_JP_END_OBJECT : DR_JP_END_ARRAY;
}

static enum dr_jsonpull_token read_key(struct dr_jsonpull *p)
{
    p->in_pos++;
    if (read_string(p))
        return DR_JP_ERROR;
    if (skip_space(p) != ':')
        return fail(p, "expected ':'");
    p->in_pos++;
    p->state = ST_VALUE;
    return DR_JP_KEY;
}

static enum dr_jsonpull_token read_value(struct dr_jsonpull *p, int c)
{
    switch (c) {
    case '{':
    case '[':
        p->in_pos++;
        return push(p, (unsigned char)c);
    case '"':
        p->in_pos++;
        if (read_string(p))
            return DR_JP_ERROR;
        p->state = ST_AFTER;
        return DR_JP_STRING;
    case 't':
        if (read_literal(p, "true"))
            return DR_JP_ERROR;
        p->state = ST_AFTER;
        return DR_JP_TRUE;
    case 'f':
        if (read_literal(p, "false"))
            return DR_JP_ERROR;
        p->state = ST_AFTER;
        return DR_JP_FALSE;
    case 'n':
        if (read_literal(p, "null"))
            return DR_JP_ERROR;
        p->state = ST_AFTER;
        return DR_JP_NULL;
    default:
        if (read_number(p))
            return DR_JP_ERROR;
        p->state = ST_AFTER;
        return DR_JP_NUMBER;
    }
}

enum dr_jsonpull_token dr_jsonpull_next(struct dr_jsonpull *p)
{
    if (p->state == ST_FAILED)
        return DR_JP_ERROR;
    if (p->state == ST_DONE)
        return DR_JP_EOF;
    for (;;) {
        int c = skip_space(p);
        if (c == -2)
            return DR_JP_ERROR;
        if (c == -1) {
            if (p->state == ST_AFTER && p->depth == 0) {
                p->state = ST_DONE;
                return DR_JP_EOF;
            }
            return fail(p, "unexpected end of input");
        }
        p->start = dr_jsonpull_offset(p);
        switch (p->state) {
        case ST_AFTER:
            if (p->depth == 0)
                return fail(p, "trailing characters");
            if (c == ',') {
                p->in_pos++;
                p->state = p->stack[p->depth - 1] == '{' ? ST_OBJ_KEY : ST_VALUE;
                continue;
            }
            if (c == '}' || c == ']')
                return pop(p, c == '}' ? '{' : '[');
            return fail(p, "expected ',' or a closing bracket");
        case ST_OBJ_FIRST:
            if (c == '}')
                return pop(p, '{');
            /* fall through */
        case ST_OBJ_KEY:
            if (c != '"')
                return fail(p, "expected an object key");
            return read_key(p);
        case ST_ARR_FIRST:
            if (c == ']')
                return pop(p, '[');
            return read_value(p, c);
        default:
            return read_value(p, c);
        }
    }
}

int dr_jsonpull_skip_container(struct dr_jsonpull *p)
{
    if (p->state != ST_OBJ_FIRST && p->state != ST_ARR_FIRST) {
        fail(p, "skip without an open container");
        return -1;
    }
    int level = 1, in_string = 0, escaped = 0;
    for (;;) {
        int rc = fill(p);
        if (rc <= 0) {
            if (rc == 0)
                fail(p, "unexpected end of input");
            return -1;
        }
        const char *s = p->in + p->in_pos;
        size_t n = p->in_len - p->in_pos, i = 0;
        while (i < n) {
            if (in_string) {
                if (escaped) {
                    escaped = 0;
                    i++;
                    continue;
                }
                const char *q = memchr(s + i, '"', n - i);
                size_t upto = q ? (size_t)(q - s) : n;
                const char *bs = memchr(s + i, '\\', upto - i);
                if (bs) {
                    i = (size_t)(bs - s) + 1;
                    escaped = 1;
                    continue;
                }
                i = upto;
                if (q) {
                    in_string = 0;
                    i++;
                }
                continue;
            }
            char c = s[i++];
            if (c == '"') {
                in_string = 1;
            } else if (c == '{' || c == '[') {
                level++;
            } else if ((c == '}' || c == ']') && --level == 0) {
                p->in_pos += i;
                p->depth--;
                p->state = ST_AFTER;
                return 0;
            }
        }
        p->in_pos += n;
    }
}

int dr_jsonpull_skip_value(struct dr_jsonpull *p)
{
    switch (dr_jsonpull_next(p)) {
    case DR_JP_OBJECT:
    case DR_JP_ARRAY:
        return dr_jsonpull_skip_container(p);
    case DR_JP_STRING:
    case DR_JP_NUMBER:
    case DR_JP_TRUE:
    case DR_JP_FALSE:
    case DR_JP_NULL:
        return 0;
    case DR_JP_ERROR:
        return -1;
    default:
        fail(p, "expected a value");
        return -1;
    }
}
