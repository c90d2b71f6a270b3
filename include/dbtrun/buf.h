/* buf: a growable byte buffer with a hard cap, for text that is built piece by
 * piece (reports, canonical JSON). Appends past the cap fail and leave the
 * buffer marked as overflowed, so a caller can check once at the end. */
#ifndef DR_BUF_H
#define DR_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct dr_buf {
    char *data; /* NUL-terminated when len > 0 or after dr_buf_reserve */
    size_t len;
    size_t cap;     /* allocated bytes */
    size_t max;     /* hard cap on len; 0 means DR_BUF_DEFAULT_MAX */
    int overflowed; /* an append was refused because of max */
    int out_of_mem; /* an append was refused because malloc failed */
};

#define DR_BUF_DEFAULT_MAX (256u << 20)

/* Initializes an empty buffer holding at most `max` bytes (0: the default). */
void dr_buf_init(struct dr_buf *b, size_t max);

/* Appends n bytes. 0, or -1 when the cap or memory refuses (nothing added). */
int dr_buf_add(struct dr_buf *b, const void *data, size_t n);

/* Appends a NUL-terminated string. 0 or -1 as dr_buf_add. */
int dr_buf_puts(struct dr_buf *b, const char *s);

/* Appends printf-formatted text. 0 or -1 as dr_buf_add. */
int dr_buf_printf(struct dr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends `s` (n bytes) as a JSON string literal, quotes included. */
int dr_buf_json_string(struct dr_buf *b, const char *s, size_t n);

/* Appends `s` (n bytes) for a one-line log: \n, \r, \t as those two
 * characters, other C0 controls and DEL as \xNN, a backslash as \\, so
 * an S3 key can never start a line of its own. 0 or -1 as dr_buf_add. */
int dr_buf_escape(struct dr_buf *b, const char *s, size_t n);

/* The same into a new string (caller frees); NULL when out of memory. */
char *dr_strescape(const char *s);

/* printf into a new string (caller frees); NULL when out of memory. */
char *dr_strprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes n bytes as lowercase hex and a NUL into hex (2n+1 bytes). */
void dr_hex(const unsigned char *bin, size_t n, char *hex);

/* Makes the buffer empty, keeping its memory. */
void dr_buf_reset(struct dr_buf *b);

/* Gives the text to the caller (who frees it; never NULL unless out of
 * memory) and leaves the buffer empty. */
char *dr_buf_take(struct dr_buf *b, size_t *len);

/* Frees the buffer's memory. */
void dr_buf_free(struct dr_buf *b);

/* The one array-growth rule: makes room for `need` (>= 1) elements of
 * `elem` bytes in array p, whose capacity *cap counts elements, at least
 * doubling it and never past `max` elements (0: DR_BUF_DEFAULT_MAX bytes'
 * worth). Returns the array (p itself when it already fits; *cap updated
 * when it moved), or NULL with errno EFBIG when need is past the cap or
 * ENOMEM; p then stays valid and unchanged. Returns the pointer rather than
 * taking a void ** so callers need no cast that breaks aliasing rules. */
void *dr_grow(void *p, size_t *cap, size_t need, size_t elem, size_t max);

#endif
