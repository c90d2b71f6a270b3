/* proc: runs child processes for tasks. Each child gets its own process
 * group; SIGINT, SIGTERM and SIGHUP received by dbtrun are forwarded to that
 * whole group, and after an interrupt no member of the group survives. */
#ifndef DR_PROC_H
#define DR_PROC_H

#include <stddef.h>

#define DR_PROC_CAPTURE_MAX (64u << 20)  /* cap on captured stdout */
#define DR_PROC_KILL_AFTER_DEFAULT 5000L /* ms from a forwarded signal to SIGKILL */
#define DR_PROC_PARALLEL_MAX 32u         /* children side by side (dr_proc_start) */
#define DR_PROC_LINE_MAX (64u << 10)     /* a prefixed line longer than this is cut */

/* A channel beside stdin/stdout/stderr for a child that talks to dbtrun
 * (dbt's one-process driver, lua/dbt_driver.lua): fd 3 in the child is one
 * end of a socket pair. Each line the child writes there is given to
 * reply() (without its newline), whose answer (malloc'd, NUL-terminated; a
 * newline is added) is written back; NULL closes the channel, which the
 * child reads as its end. reply() runs with signals let in, as while
 * waiting: one that comes reaches the child's group then too. */
struct dr_proc_control {
    char *(*reply)(void *ud, const char *line, size_t len);
    void *ud;
};

struct dr_proc_opts {
    char *const *argv;      /* argv[0] is looked up on PATH; never a shell */
    char *const *envp;      /* the child's whole environment; NULL: inherit */
    const char *cwd;        /* NULL: inherit */
    int capture;            /* non-zero: collect stdout into result.out */
    const char *stdin_path; /* NULL: inherit stdin; else the file opened as it */
    long timeout_ms;        /* > 0: SIGKILL the group after this long (result.timed_out) */
    const struct dr_proc_control *control; /* NULL: none; dr_proc_run only */
};

struct dr_proc_result {
    int exit_code;   /* the child's code, or 128+N if it died of signal N */
    int interrupted; /* signal dbtrun received while the child ran, else 0 */
    int timed_out;   /* opts.timeout_ms ran out and the group was killed */
    char *out;       /* captured stdout (NUL-terminated), caller frees */
    size_t out_len;
};

/* Installs the handlers that forward SIGINT/SIGTERM/SIGHUP to the running
 * child's group. `on_signal` (may be NULL) is called from the handler with
 * the signal number; it must be async-signal-safe. */
void dr_proc_init_signals(void (*on_signal)(int sig));

/* Milliseconds from the first forwarded signal to SIGKILL of the child's
 * whole group (a second signal kills at once); negative: the default. */
void dr_proc_set_kill_after(long ms);

/* Parses a number of seconds ("5", "0.5") into *ms. 0, or -1 if `text` is
 * NULL, not a number, negative or absurdly large. */
int dr_proc_parse_seconds(const char *text, long *ms);

/* Runs one child to completion. Without dr_proc_init_signals, the signals
 * are caught only while the child runs and one that came is re-raised
 * after the group is gone, so the caller ends as it would have. After a
 * signal the group has the kill-after grace period, then SIGKILL. Returns
 * 0 when the child ran (whatever its exit code) and fills `r`; returns -1 when it could not be
 * started or capture failed, with a message in err (r->exit_code is 127 when the program was not
 * found, else 1). r->out is set only when capturing. */
int dr_proc_run(const struct dr_proc_opts *o, struct dr_proc_result *r, char *err, size_t errlen);

/* Last signal received by dbtrun (0 if none). */
int dr_proc_last_signal(void);

/* How many SIGINT/SIGTERM/SIGHUP dbtrun has received so far. Long work
 * (an HTTP transfer, a retry loop) notes it when it starts and stops when it
 * changes, so cleanup started after an interrupt (a task's always()) still
 * runs and a second signal stops that too. */
int dr_proc_signal_count(void);

/* A child started by dr_proc_start, running beside others. */
struct dr_proc_child;

/* Starts a child without waiting for it (parallel dependencies). Its stdout
 * and stderr are relayed a whole line at a time, each line after `prefix`
 * ("[name] "), through the mask; with o->capture stdout is kept instead.
 * stdin is /dev/null unless o->stdin_path: the terminal is nobody's. A
 * signal to dbtrun reaches its group as it does dr_proc_run's. Returns the
 * child (freed by dr_proc_collect or dr_proc_abandon), or NULL with a
 * message in err and *code 127 (not found), 126 or 1. */
struct dr_proc_child *dr_proc_start(const struct dr_proc_opts *o, const char *prefix, int *code,
                                    char *err, size_t errlen);

/* Waits until one of kids[0..n) has ended (n <= DR_PROC_PARALLEL_MAX),
 * relaying all their output meanwhile and enforcing the grace periods of
 * signals and dr_proc_stop; returns the index of an ended child (at once if
 * one already had), or -1 when n is out of range. */
int dr_proc_wait_any(struct dr_proc_child *const *kids, size_t n);

/* Asks the child's group to stop: SIGTERM now, SIGKILL after the
 * kill-after grace period (enforced by dr_proc_wait_any). */
void dr_proc_stop(struct dr_proc_child *c);

/* The result of a child dr_proc_wait_any found ended, as dr_proc_run gives
 * it; frees the child. -1 with err when the captured output overflowed. */
int dr_proc_collect(struct dr_proc_child *c, struct dr_proc_result *r, char *err, size_t errlen);

/* Kills a child that may still run (SIGKILL to its group), reaps it and
 * frees it: for a handle dropped without being collected. */
void dr_proc_abandon(struct dr_proc_child *c);

#endif
