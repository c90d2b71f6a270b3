/* progress: the one-line transfer progress dbtrun draws on a terminal
 * ("Completed 12.0 MiB/40.0 MiB (3.1 MiB/s, 9s left)"), redrawn in place
 * with \r at most ten times a second and erased at the end. Fed by the
 * transfers themselves (http.c's byte callback), from any thread; used by
 * sync.c and the callers of single transfers (the CLI, the Lua bindings). */
#ifndef DR_PROGRESS_H
#define DR_PROGRESS_H

#include <stddef.h>

struct dr_progress;

/* A progress line on terminal `fd`, or NULL when fd is not a terminal (or
 * memory is short): nothing is drawn on a pipe or a file. Every function
 * below does nothing with NULL. Freed by dr_progress_end. */
struct dr_progress *dr_progress_new(int fd);

/* Fixes the total: `bytes` to transfer and `files` (0: the line counts no
 * files). Without it, the total is the sum of the sizes the transfers
 * announce as they start. */
void dr_progress_set_total(struct dr_progress *p, long long bytes, size_t files);

/* Adds `done` bytes transferred and `total` bytes announced (negative: an
 * exchange that failed takes its bytes back before a retry), then redraws
 * when the last drawing is 100 ms old. Thread-safe. */
void dr_progress_add(struct dr_progress *p, long long done, long long total);

/* dr_progress_add with the signature of http.h's on_bytes (ctx: the progress). */
void dr_progress_on_bytes(void *ctx, long long done, long long total);

/* One file finished (the "N file(s) remaining" count). Thread-safe. */
void dr_progress_file_done(struct dr_progress *p);

/* Erases the line and holds it off until dr_progress_resume, so that the
 * caller's own lines (one per file) never land in the middle of it: like
 * flockfile, pause takes a lock that resume releases. */
void dr_progress_pause(struct dr_progress *p);
void dr_progress_resume(struct dr_progress *p);

/* Erases the line (the terminal is left as before the transfer) and frees p. */
void dr_progress_end(struct dr_progress *p);

/* "1.5 MiB", "512 B": bytes as the line shows them (out: 16 bytes). */
void dr_progress_format_bytes(long long bytes, char *out, size_t len);

/* The line for these counts, without \r (exposed for tests): elapsed
 * seconds give the rate and, with a total, the time left. */
void dr_progress_format(long long done, long long total, size_t files_left, int count_files,
                        double elapsed, char *out, size_t len);

#endif
