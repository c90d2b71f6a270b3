/* proc: child processes in their own process group, with signal forwarding
 * and no survivors after an interrupt. Knows nothing of Lua. */

/* posix_spawn_file_actions_addchdir_np (glibc >= 2.29) is a GNU extension. */
#define _GNU_SOURCE
#include "dbtrun/proc.h"
#include "dbtrun/mask.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t child_pgid;  /* group of the running child, 0 if none */
static volatile sig_atomic_t last_signal; /* last SIGINT/SIGTERM/SIGHUP received */
static volatile sig_atomic_t signal_count;
static void (*signal_hook)(int sig);

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};
#define N_FORWARDED (sizeof forwarded / sizeof forwarded[0])

static void on_signal(int sig)
{
    int saved = errno;
    last_signal = sig;
    signal_count++;
    if (child_pgid > 0)
        kill(-child_pgid, sig);
    if (signal_hook)
        signal_hook(sig);
    errno = saved;
}

void dr_proc_init_signals(void (*hook)(int sig))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    signal_hook = hook;
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaction(forwarded[i], &sa, NULL);
}

int dr_proc_last_signal(void)
{
    return last_signal;
}

int dr_proc_signal_count(void)
{
    return signal_count;
}

static void block_forwarded(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaddset(&set, forwarded[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* After an interrupt the leader is gone but members that ignored the signal
 * (a shell's background jobs ignore SIGINT) may live on: ask them to stop,
 * then make sure. */
static void end_group(pid_t pgid)
{
    if (kill(-pgid, SIGTERM) == -1)
        return;
    for (int i = 0; i < 100; i++) {
        sleep_ms(10);
        if (kill(-pgid, 0) == -1 && errno == ESRCH)
            return;
    }
    kill(-pgid, SIGKILL);
}

/* The child's group takes the terminal while it runs, so that it can read
 * from it and Ctrl-C reaches it directly. Returns 1 if it was handed over. */
static int give_terminal(pid_t pgid)
{
    if (!isatty(STDIN_FILENO) || tcgetpgrp(STDIN_FILENO) != getpgrp())
        return 0;
    return tcsetpgrp(STDIN_FILENO, pgid) == 0;
}

static void take_terminal_back(void)
{
    /* tcsetpgrp from a background group raises SIGTTOU unless ignored. */
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGTTOU, &ign, &old);
    tcsetpgrp(STDIN_FILENO, getpgrp());
    sigaction(SIGTTOU, &old, NULL);
}

static int spawn_child(const struct dr_proc_opts *o, int out_fd, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaddset(&defaults, forwarded[i]);

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    if (err_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
    if (o->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    int rc = posix_spawnp(pid, o->argv[0], &fa, &attr, o->argv, o->envp ? o->envp : environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* The child's output on its way back: stdout captured into a buffer, or
 * relayed through the secret mask (stdout and stderr) when secrets exist. */
struct output {
    int fd[2];                     /* read ends for stdout, stderr; -1 when not piped */
    struct dr_mask_stream mask[2]; /* relays to our fd 1 and 2 */
    int capture;
    char *buf; /* captured stdout */
    size_t len, cap;
    int over; /* capture cap exceeded */
};

static void keep_captured(struct output *o, const char *data, size_t n)
{
    if (o->over || o->len + n > DR_PROC_CAPTURE_MAX) {
        o->over = 1; /* keep draining so the child is not blocked */
        return;
    }
    if (o->len + n + 1 > o->cap) {
        size_t want = o->cap ? o->cap * 2 : 65536;
        while (want < o->len + n + 1)
            want *= 2;
        char *grown = realloc(o->buf, want);
        if (!grown) {
            o->over = 1;
            return;
        }
        o->buf = grown;
        o->cap = want;
    }
    memcpy(o->buf + o->len, data, n);
    o->len += n;
}

/* Reads the pipes until both are closed. Returns 0, or -1 past the capture cap. */
static int collect_output(struct output *o)
{
    char chunk[65536];
    while (o->fd[0] >= 0 || o->fd[1] >= 0) {
        struct pollfd p[2] = {{o->fd[0], POLLIN, 0}, {o->fd[1], POLLIN, 0}};
        if (poll(p, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (o->fd[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(o->fd[i], chunk, sizeof chunk);
            if (n == -1 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(o->fd[i]);
                o->fd[i] = -1;
            } else if (i == 0 && o->capture) {
                keep_captured(o, chunk, (size_t)n);
            } else {
                dr_mask_stream_write(&o->mask[i], chunk, (size_t)n);
            }
        }
    }
    dr_mask_stream_flush(&o->mask[0]);
    dr_mask_stream_flush(&o->mask[1]);
    return o->over ? -1 : 0;
}

/* Opens the pipe for stream i (0 stdout, 1 stderr); *child_end gets the
 * child's end. 0, or -1. */
static int open_pipe(struct output *o, int i, int *child_end)
{
    int fds[2];
    if (pipe(fds) == -1)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    o->fd[i] = fds[0];
    *child_end = fds[1];
    return 0;
}

static int wait_child(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR)
            return 1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

int dr_proc_run(const struct dr_proc_opts *o, struct dr_proc_result *r, char *err, size_t errlen)
{
    struct output out = {
        {-1, -1}, {{STDOUT_FILENO, NULL, 0}, {STDERR_FILENO, NULL, 0}}, o->capture, NULL, 0, 0, 0};
    int child_end[2] = {-1, -1}, rc = -1, relay = dr_mask_active();
    sigset_t old;
    pid_t pid;
    memset(r, 0, sizeof *r);
    r->exit_code = 1;
    if (((o->capture || relay) && open_pipe(&out, 0, &child_end[0]) == -1) ||
        (relay && open_pipe(&out, 1, &child_end[1]) == -1)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }

    int count_before = signal_count;
    block_forwarded(&old); /* the handler must see child_pgid set */
    int spawn_rc = spawn_child(o, child_end[0], child_end[1], &pid);
    if (spawn_rc == 0)
        child_pgid = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < 2; i++)
        if (child_end[i] >= 0)
            close(child_end[i]);
    if (spawn_rc != 0) {
        snprintf(err, errlen, "%s: %s", o->argv[0],
                 spawn_rc == ENOENT ? "command not found" : strerror(spawn_rc));
        r->exit_code = spawn_rc == ENOENT ? 127 : 126;
        goto out;
    }
    int has_terminal = give_terminal(pid);
    int capture_failed = collect_output(&out);
    r->exit_code = wait_child(pid);
    if (has_terminal)
        take_terminal_back();
    child_pgid = 0;
    if (signal_count != count_before) {
        r->interrupted = last_signal;
        end_group(pid);
    } else if (has_terminal && (r->exit_code == 128 + SIGINT || r->exit_code == 128 + SIGQUIT)) {
        /* Ctrl-C on the terminal went straight to the child's group. */
        r->interrupted = r->exit_code - 128;
        end_group(pid);
    }
    if (capture_failed) {
        snprintf(err, errlen, "%s: captured output larger than %u bytes", o->argv[0],
                 DR_PROC_CAPTURE_MAX);
        goto out;
    }
    if (o->capture) {
        r->out = out.buf ? out.buf : calloc(1, 1);
        r->out_len = out.len;
        if (out.buf)
            out.buf[out.len] = '\0';
        out.buf = NULL;
    }
    rc = 0;
out:
    for (int i = 0; i < 2; i++)
        if (out.fd[i] >= 0)
            close(out.fd[i]);
    free(out.buf);
    return rc;
}
