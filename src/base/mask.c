/* mask: a process-wide list of secret values and the replacement of them in
 * text, whole or streamed in chunks. Matching tries longer secrets first so
 * that a secret containing another is hidden whole. */
#include "dbtrun/mask.h"
#include "dbtrun/fs.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct secret {
    char *value;
    size_t len;
};

static struct secret secrets[DR_MASK_MAX]; /* sorted by length, longest first */
static size_t nsecrets;

static int known(const char *value, size_t len)
{
    for (size_t i = 0; i < nsecrets; i++)
        if (secrets[i].len == len && memcmp(secrets[i].value, value, len) == 0)
            return 1;
    return 0;
}

static int add_one(const char *value, size_t len)
{
    if (len < DR_MASK_MIN_LEN || known(value, len))
        return 0;
    if (nsecrets == DR_MASK_MAX)
        return -1;
    char *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, value, len);
    size_t at = 0;
    while (at < nsecrets && secrets[at].len >= len)
        at++;
    memmove(secrets + at + 1, secrets + at, (nsecrets - at) * sizeof *secrets);
    secrets[at] = (struct secret){copy, len};
    nsecrets++;
    return 1;
}

int dr_mask_add(const char *value, size_t len)
{
    int added = add_one(value, len);
    if (added < 0 || !memchr(value, '\n', len))
        return added;
    for (const char *line = value, *end = value + len; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)((nl ? nl : end) - line);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        int r = add_one(line, n);
        if (r < 0)
            return -1;
        added += r;
        line = nl ? nl + 1 : end;
    }
    return added;
}

int dr_mask_active(void)
{
    return nsecrets > 0;
}

/* Length of the secret starting at p (at most `avail` bytes), or 0. */
static size_t match_at(const char *p, size_t avail)
{
    for (size_t i = 0; i < nsecrets; i++)
        if (secrets[i].len <= avail && memcmp(p, secrets[i].value, secrets[i].len) == 0)
            return secrets[i].len;
    return 0;
}

/* Masks text[0..len) into out (room for len * 3 + 1 is always enough, since
 * "***" is no longer than any secret). Returns the output length. */
static size_t mask_into(const char *text, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = match_at(text + i, len - i);
        if (n) {
            memcpy(out + o, DR_MASK_REPLACEMENT, sizeof DR_MASK_REPLACEMENT - 1);
            o += sizeof DR_MASK_REPLACEMENT - 1;
            i += n;
        } else {
            out[o++] = text[i++];
        }
    }
    return o;
}

char *dr_mask_apply(const char *text, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    *out_len = mask_into(text, len, out);
    out[*out_len] = '\0';
    return out;
}

void dr_mask_fprintf(FILE *f, const char *fmt, ...)
{
    char line[4096], masked[4096]; /* masking never makes text longer */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    len = mask_into(line, len, masked);
    struct dr_mask_stream *s = dr_mask_std(fileno(f));
    if (s)
        dr_mask_stream_flush(s); /* what Lua wrote and held back comes first */
    fwrite(masked, 1, len, f);
}

/* Non-zero when p[0..n) is the start of some secret longer than n bytes:
 * the next chunk may complete it. */
static int secret_prefix(const char *p, size_t n)
{
    for (size_t i = 0; i < nsecrets; i++)
        if (secrets[i].len > n && memcmp(p, secrets[i].value, n) == 0)
            return 1;
    return 0;
}

int dr_mask_stream_write(struct dr_mask_stream *s, const char *data, size_t len)
{
    if (nsecrets == 0 && s->len == 0)
        return dr_fs_write_all(s->fd, data, len); /* --list and secret-free tasks pay nothing */
    size_t total = s->len + len, keep, done = 0;
    char *buf = realloc(s->pending, total + 1);
    int rc;
    if (!buf)
        return -1;
    memcpy(buf + s->len, data, len);
    s->pending = buf;
    s->len = total;
    /* Mask what is decided: every position whose secret (or absence of one)
     * cannot change with more input. */
    char *out = malloc(total + 1);
    if (!out)
        return -1;
    size_t o = 0;
    while (done < total) {
        /* First: a longer secret may still match here, even when a shorter
         * one already does ("Sup" now, "Sup3rS3cretPW" after more input). */
        if (secret_prefix(buf + done, total - done))
            break;
        size_t n = match_at(buf + done, total - done);
        if (n) {
            memcpy(out + o, DR_MASK_REPLACEMENT, sizeof DR_MASK_REPLACEMENT - 1);
            o += sizeof DR_MASK_REPLACEMENT - 1;
            done += n;
            continue;
        }
        out[o++] = buf[done++];
    }
    keep = total - done;
    memmove(buf, buf + done, keep);
    s->len = keep;
    rc = dr_fs_write_all(s->fd, out, o);
    free(out);
    return rc;
}

int dr_mask_stream_flush(struct dr_mask_stream *s)
{
    int rc = 0;
    if (s->len > 0) {
        char *out = malloc(s->len + 1);
        rc = out ? dr_fs_write_all(s->fd, out, mask_into(s->pending, s->len, out)) : -1;
        free(out);
    }
    free(s->pending);
    s->pending = NULL;
    s->len = 0;
    return rc;
}

static struct dr_mask_stream std_streams[2] = {{1, NULL, 0}, {2, NULL, 0}};

struct dr_mask_stream *dr_mask_std(int fd)
{
    return fd == 1 || fd == 2 ? &std_streams[fd - 1] : NULL;
}

int dr_mask_write_raw(int fd, const char *data, size_t len)
{
    struct dr_mask_stream *s = dr_mask_std(fd);
    if (s && dr_mask_stream_flush(s) != 0)
        return -1;
    return dr_fs_write_all(fd, data, len);
}

void dr_mask_reset(void)
{
    for (size_t i = 0; i < nsecrets; i++) {
        memset(secrets[i].value, 0, secrets[i].len);
        free(secrets[i].value);
    }
    nsecrets = 0;
}
