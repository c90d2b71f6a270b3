/* jsonpull: a pull (streaming) JSON tokenizer over a file descriptor or a
 * memory block. It reads a fixed-size window at a time and decodes one string
 * at a time, so memory stays bounded by the longest string, not the document:
 * the way to read a 100 MB dbt manifest and keep only what is needed. */
#ifndef DR_JSONPULL_H
#define DR_JSONPULL_H

#include <stddef.h>

#define DR_JSONPULL_DEPTH_MAX 256
#define DR_JSONPULL_STRING_MAX (64u << 20) /* cap on one decoded string */
#define DR_JSONPULL_WINDOW (256u << 10)    /* bytes read from the fd at a time */

enum dr_jsonpull_token {
    DR_JP_ERROR = -1,
    DR_JP_EOF = 0,
    DR_JP_OBJECT,     /* '{' */
    DR_JP_END_OBJECT, /* '}' */
    DR_JP_ARRAY,      /* '[' */
    DR_JP_END_ARRAY,  /* ']' */
    DR_JP_KEY,        /* an object key: text in str/len */
    DR_JP_STRING,     /* a string value: decoded text in str/len */
    DR_JP_NUMBER,     /* a number: its literal text in str/len */
    DR_JP_TRUE,
    DR_JP_FALSE,
    DR_JP_NULL,
};

struct dr_jsonpull {
    /* The current token's text (KEY, STRING, NUMBER), NUL-terminated. Valid
     * until the next call. */
    char *str;
    size_t len;
    char error[160]; /* set when a call returns DR_JP_ERROR */
    long long start; /* byte offset where the last returned token began */

    /* private */
    int fd;
    const char *in;
    size_t in_len, in_pos;
    char *window;
    size_t str_cap;
    long long consumed; /* bytes of input before `in` */
    int state;
    int depth;
    unsigned char stack[DR_JSONPULL_DEPTH_MAX];
};

/* Reads from `fd` (not closed by dr_jsonpull_close). 0, or -1 out of memory. */
int dr_jsonpull_open_fd(struct dr_jsonpull *p, int fd);

/* Reads from a memory block that must outlive the parser. */
void dr_jsonpull_open_mem(struct dr_jsonpull *p, const char *data, size_t len);

/* The next token. After DR_JP_ERROR or DR_JP_EOF every call returns the same. */
enum dr_jsonpull_token dr_jsonpull_next(struct dr_jsonpull *p);

/* Skips the rest of a container whose opening token (OBJECT or ARRAY) was
 * just returned, without decoding it. 0, or -1 with p->error set. */
int dr_jsonpull_skip_container(struct dr_jsonpull *p);

/* Reads and discards the next value (a scalar or a whole container).
 * 0, or -1 with p->error set. */
int dr_jsonpull_skip_value(struct dr_jsonpull *p);

/* Byte offset of the next unread input, for error messages. */
long long dr_jsonpull_offset(const struct dr_jsonpull *p);

/* Frees the parser's buffers. */
void dr_jsonpull_close(struct dr_jsonpull *p);

#endif
