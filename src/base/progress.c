/* progress: a one-line progress display on a terminal, fed from transfer
 * threads. One lock guards the counters and the drawing, so a line is never
 * drawn half over another. Knows nothing of S3: bytes and files only. */
#include "dbtrun/progress.h"
#include "dbtrun/mask.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 100000000LL /* at most ten drawings a second */
#define LINE_MAX_COLS 200

struct dr_progress {
    int fd;
    pthread_mutex_t lock;
    long long done, total; /* bytes transferred, announced (or fixed) */
    int fixed;             /* total set by dr_progress_set_total: announcements ignored */
    size_t files, files_done;
    struct timespec start;
    long long last_draw_ns; /* -1: never drawn */
    size_t shown;           /* columns the line takes on screen (0: none) */
    size_t width;           /* the line is cut to this */
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The terminal's width less one column: a line that fills the last column
 * wraps on some terminals, and \r would then return to the wrong row. */
static size_t line_width(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col < 20)
        return 79;
    return ws.ws_col - 1 < LINE_MAX_COLS ? (size_t)ws.ws_col - 1 : LINE_MAX_COLS;
}

struct dr_progress *dr_progress_new(int fd)
{
    struct dr_progress *p;
    if (!isatty(fd) || !(p = calloc(1, sizeof *p)))
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->fd = fd;
    p->last_draw_ns = -1;
    p->width = line_width(fd);
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    return p;
}

void dr_progress_set_total(struct dr_progress *p, long long bytes, size_t files)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->total = bytes;
    p->fixed = 1;
    p->files = files;
    pthread_mutex_unlock(&p->lock);
}

void dr_progress_format_bytes(long long bytes, char *out, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = -1;
    if (bytes < 1024) {
        snprintf(out, len, "%lld B", bytes < 0 ? 0 : bytes);
        return;
    }
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(out, len, "%.1f %s", v, units[u]);
}

static void format_duration(double s, char *out, size_t len)
{
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t < 60)
        snprintf(out, len, "%lds", t);
    else if (t < 3600)
        snprintf(out, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(out, len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
}

void dr_progress_format(long long done, long long total, size_t files_left, int count_files,
                        double elapsed, char *out, size_t len)
{
    char d[16], t[16], rate[16], left[24], speed[64] = "", files[48] = "";
    if (total > 0 && done > total)
        done = total; /* a body fetched again after a failed check */
    dr_progress_format_bytes(done, d, sizeof d);
    dr_progress_format_bytes(total, t, sizeof t);
    /* the first half second says little about the rate */
    if (elapsed >= 0.5 && done > 0) {
        double per_s = (double)done / elapsed;
        dr_progress_format_bytes((long long)per_s, rate, sizeof rate);
        if (total > done) {
            format_duration((double)(total - done) / per_s, left, sizeof left);
            snprintf(speed, sizeof speed, " (%s/s, %s left)", rate, left);
        } else {
            snprintf(speed, sizeof speed, " (%s/s)", rate);
        }
    }
    if (count_files)
        snprintf(files, sizeof files, " with %zu file(s) remaining", files_left);
    snprintf(out, len, "Completed %s%s%s%s%s", d, total > 0 ? "/" : "", total > 0 ? t : "", speed,
             files);
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a terminal that went away: the transfer goes on */
        s += w;
        n -= (size_t)w;
    }
}

static void erase_locked(struct dr_progress *p)
{
    char blank[LINE_MAX_COLS + 2];
    if (!p->shown)
        return;
    blank[0] = '\r';
    memset(blank + 1, ' ', p->shown);
    blank[p->shown + 1] = '\r';
    write_all(p->fd, blank, p->shown + 2);
    p->shown = 0;
}

/* Draws the line over the last one: \r, the text, then spaces over what
 * the longer last line left. The text holds numbers only, but it passes the
 * mask all the same (every byte dbtrun prints does), as one piece so that
 * the \r stays where it is. */
static void draw_locked(struct dr_progress *p, long long now)
{
    char text[256], line[LINE_MAX_COLS + 2];
    size_t masked_len = 0;
    double elapsed =
        (double)(now - ((long long)p->start.tv_sec * 1000000000LL + p->start.tv_nsec)) / 1e9;
    dr_progress_format(p->done, p->total, p->files - p->files_done, p->files > 0, elapsed, text,
                       sizeof text);
    char *masked = dr_mask_apply(text, strlen(text), &masked_len);
    if (!masked)
        return;
    size_t n = masked_len < p->width ? masked_len : p->width;
    line[0] = '\r';
    memcpy(line + 1, masked, n);
    size_t pad = p->shown > n ? p->shown - n : 0;
    memset(line + 1 + n, ' ', pad);
    write_all(p->fd, line, 1 + n + pad);
    free(masked);
    p->shown = n;
    p->last_draw_ns = now;
}

static void maybe_draw_locked(struct dr_progress *p)
{
    long long now = now_ns();
    if (p->last_draw_ns < 0 || now - p->last_draw_ns >= REDRAW_NS)
        draw_locked(p, now);
}

void dr_progress_add(struct dr_progress *p, long long done, long long total)
{
    if (!p || (done == 0 && total == 0))
        return;
    pthread_mutex_lock(&p->lock);
    p->done += done;
    if (!p->fixed)
        p->total += total;
    maybe_draw_locked(p);
    pthread_mutex_unlock(&p->lock);
}

void dr_progress_on_bytes(void *ctx, long long done, long long total)
{
    dr_progress_add(ctx, done, total);
}

void dr_progress_file_done(struct dr_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    if (p->files_done < p->files)
        p->files_done++;
    pthread_mutex_unlock(&p->lock);
}

void dr_progress_pause(struct dr_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    erase_locked(p);
}

void dr_progress_resume(struct dr_progress *p)
{
    if (p)
        pthread_mutex_unlock(&p->lock);
}

void dr_progress_end(struct dr_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    erase_locked(p);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
