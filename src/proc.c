/* proc: child processes in their own process group, with signal forwarding
 * and no survivors after an interrupt. Knows nothing of Lua. */

/* posix_spawn_file_actions_addchdir_np (glibc >= 2.29) is a GNU extension. */
#define _GNU_SOURCE
#include "dbtrun/proc.h"

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

static int spawn_child(const struct dr_proc_opts *o, int out_fd, pid_t *pid)
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
    if (o->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    int rc = posix_spawnp(pid, o->argv[0], &fa, &attr, o->argv, o->envp ? o->envp : environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Reads fd to EOF into *buf (capped); returns 0, or -1 past the cap. */
static int read_all(int fd, char **buf, size_t *len)
{
    size_t cap = 0;
    int over = 0;
    char chunk[65536];
    *buf = NULL;
    *len = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (over || *len + (size_t)n > DR_PROC_CAPTURE_MAX) {
            over = 1; /* keep draining so the child is not blocked */
            continue;
        }
        if (*len + (size_t)n + 1 > cap) {
            size_t want = cap ? cap * 2 : 65536;
            while (want < *len + (size_t)n + 1)
                want *= 2;
            char *grown = realloc(*buf, want);
            if (!grown) {
                over = 1;
                continue;
            }
            *buf = grown;
            cap = want;
        }
        memcpy(*buf + *len, chunk, (size_t)n);
        *len += (size_t)n;
    }
    if (!*buf)
        *buf = calloc(1, 1);
    else
        (*buf)[*len] = '\0';
    return over || !*buf ? -1 : 0;
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
    int pipefd[2] = {-1, -1}, rc = -1, capture_failed = 0;
    sigset_t old;
    pid_t pid;
    memset(r, 0, sizeof *r);
    r->exit_code = 1;
    if (o->capture && pipe(pipefd) == -1) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipefd[0] >= 0)
        fcntl(pipefd[0], F_SETFD, FD_CLOEXEC);

    int count_before = signal_count;
    block_forwarded(&old); /* the handler must see child_pgid set */
    int spawn_rc = spawn_child(o, pipefd[1], &pid);
    if (spawn_rc == 0)
        child_pgid = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (spawn_rc != 0) {
        snprintf(err, errlen, "%s: %s", o->argv[0],
                 spawn_rc == ENOENT ? "command not found" : strerror(spawn_rc));
        r->exit_code = spawn_rc == ENOENT ? 127 : 126;
        goto out;
    }
    int has_terminal = give_terminal(pid);
    if (o->capture)
        capture_failed = read_all(pipefd[0], &r->out, &r->out_len);
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
    rc = 0;
out:
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    return rc;
}
