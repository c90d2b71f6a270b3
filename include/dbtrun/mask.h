/* mask: the secrets dbtrun must never print. Every value registered here is
 * replaced by "***" in what dbtrun writes — its own messages, logs, dry-run
 * lines — and in child output it relays. One registry per process: a secret
 * obtained anywhere must be hidden everywhere. */
#ifndef DR_MASK_H
#define DR_MASK_H

#include <stddef.h>
#include <stdio.h>

#define DR_MASK_MAX 256   /* secrets registered at most */
#define DR_MASK_MIN_LEN 3 /* shorter values are not masked (they would hide everything) */
#define DR_MASK_REPLACEMENT "***"

/* Registers a copy of `value` (len bytes). A multi-line value is also
 * registered line by line, as output may split it. Returns the number of
 * values added (0 if it was known, empty or too short), or -1 when full. */
int dr_mask_add(const char *value, size_t len);

/* Non-zero once any secret is registered. */
int dr_mask_active(void);

/* Returns a copy of text with every secret replaced (caller frees), or NULL
 * when out of memory. *out_len gets the copy's length. */
char *dr_mask_apply(const char *text, size_t len, size_t *out_len);

/* fprintf through the mask: dbtrun's own lines (request logs, transfer
 * lines) may quote a key or URL that holds a secret. Lines longer than 4 KiB
 * are cut. */
void dr_mask_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A stream being relayed in chunks: a secret split across two chunks is
 * still masked, because the tail that could begin a secret is held back
 * until the next chunk (or the flush) decides it. */
struct dr_mask_stream {
    int fd;        /* where masked output goes */
    char *pending; /* bytes held back, owned */
    size_t len;
};

/* Masks and writes data to s->fd, holding back a possible secret prefix.
 * 0, or -1 on a write error. */
int dr_mask_stream_write(struct dr_mask_stream *s, const char *data, size_t len);

/* Writes what is held back and frees it. 0, or -1 on a write error. */
int dr_mask_stream_flush(struct dr_mask_stream *s);

/* The process's own stream for fd 1 or 2 (NULL for any other fd): every
 * byte dbtrun writes there — Lua's io.write, print, io.stdout, io.stderr
 * and relayed child output — goes through it, so that writes stay in order
 * and a secret split between two writes is still masked. Not thread-safe. */
struct dr_mask_stream *dr_mask_std(int fd);

/* Flushes the held-back text of dr_mask_std(fd), then writes data as is
 * (a GitHub "::add-mask::" line must show the value). 0, or -1. */
int dr_mask_write_raw(int fd, const char *data, size_t len);

/* Forgets every secret (tests). */
void dr_mask_reset(void);

#endif
