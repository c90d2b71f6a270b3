/* proc: child processes in their own process group, with signal forwarding
 * and no survivors after an interrupt. Knows nothing of Lua. */

/* posix_spawn_file_actions_addchdir_np (glibc >= 2.29) is a GNU extension. */
#define _GNU_SOURCE
#include "dbtrun/proc.h"
#include "dbtrun/mask.h"
#include "dbtrun/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t child_pgid; /* group of the running child, 0 if none */
/* Groups of the children started side by side (dr_proc_start), 0 for a free
 * slot: a signal to dbtrun reaches every one of them. */
static volatile sig_atomic_t parallel_pgids[DR_PROC_PARALLEL_MAX];
/* The last SIGINT/SIGTERM/SIGHUP received and how many: atomics (lock-free,
 * so the handler may write them), as sync's and ranged downloads' worker
 * threads read them too, which a volatile sig_atomic_t does not allow. */
static atomic_int last_signal;
static atomic_int signal_count;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "a signal handler may only touch lock-free atomics");
static void (*signal_hook)(int sig);
static int signals_installed;                           /* dr_proc_init_signals ran */
static long kill_after_ms = DR_PROC_KILL_AFTER_DEFAULT; /* grace before SIGKILL */

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};
#define N_FORWARDED (sizeof forwarded / sizeof forwarded[0])

static void on_signal(int sig)
{
    int saved = errno;
    last_signal = sig;
    signal_count++;
    if (child_pgid > 0)
        kill(-child_pgid, sig);
    for (size_t i = 0; i < DR_PROC_PARALLEL_MAX; i++)
        if (parallel_pgids[i] > 0)
            kill(-parallel_pgids[i], sig);
    if (signal_hook)
        signal_hook(sig);
    errno = saved;
}

/* A Ctrl-C that the terminal delivered to the child's group (see the ear
 * below): counted like a signal to dbtrun, not forwarded — the child has it. */
static void note_interrupt(void)
{
    last_signal = SIGINT;
    signal_count++;
    if (signal_hook)
        signal_hook(SIGINT);
}

/* Installs on_signal for the forwarded signals; old[] (may be NULL) gets
 * the dispositions it replaced. */
static void install_handlers(struct sigaction old[N_FORWARDED])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaction(forwarded[i], &sa, old ? &old[i] : NULL);
}

void dr_proc_init_signals(void (*hook)(int sig))
{
    signal_hook = hook;
    signals_installed = 1;
    install_handlers(NULL);
}

void dr_proc_set_kill_after(long ms)
{
    kill_after_ms = ms < 0 ? DR_PROC_KILL_AFTER_DEFAULT : ms;
}

int dr_proc_parse_seconds(const char *text, long *ms)
{
    char *end;
    errno = 0;
    double s = text ? strtod(text, &end) : -1;
    if (!text || end == text || *end || errno || !(s >= 0) || s > 86400.0 * 365)
        return -1;
    *ms = (long)(s * 1000 + 0.5);
    return 0;
}

int dr_proc_last_signal(void)
{
    return last_signal;
}

int dr_proc_signal_count(void)
{
    return signal_count;
}

/* Blocks the forwarded signals and SIGCHLD: they are only let in while
 * ppoll waits, so none can slip between a check and the wait. */
static void block_forwarded(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaddset(&set, forwarded[i]);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, old);
}

/* SIGCHLD only has to interrupt ppoll: the loop reaps the child itself. */
static void on_child(int sig)
{
    (void)sig;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    if (tcsetpgrp(STDIN_FILENO, pgid) != 0)
        return 0;
    /* The child runs from the spawn on: if it touched the terminal before
     * it was its own (a prompt), SIGTTIN stopped it. Now it may go on. */
    kill(-pgid, SIGCONT);
    return 1;
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

/* The terminal's ear. While the child's group holds the terminal, Ctrl-C
 * goes to that group and dbtrun never sees it, so a child that ignores it
 * would keep dbtrun waiting. A small forked process joins the group and
 * writes a byte to dbtrun for every SIGINT it gets there; dbtrun counts it
 * as an interrupt (grace period, then SIGKILL; a second Ctrl-C at once). It
 * ends when dbtrun closes `keep`, or with the group. */
struct ear {
    pid_t pid;
    int fd;   /* dbtrun's read end: one byte per Ctrl-C; -1 when none */
    int keep; /* dbtrun's end of the pipe whose EOF ends the ear */
};

static volatile sig_atomic_t ear_out = -1;

static void ear_on_sigint(int sig)
{
    char c = 'i';
    (void)sig;
    if (write(ear_out, &c, 1) == -1) {
        /* dbtrun is gone: nothing to tell */
    }
}

/* The ear's whole life, in the forked process: async-signal-safe calls only. */
static void ear_listen(int out, int keep)
{
    struct sigaction sa;
    sigset_t none;
    char c;
    for (int fd = 0; fd < 1024; fd++)
        if (fd != out && fd != keep)
            close(fd);
    ear_out = out;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaction(forwarded[i], &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = ear_on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    while (read(keep, &c, 1) == -1 && errno == EINTR)
        ;
    _exit(0);
}

static void ear_open(struct ear *e, pid_t pgid)
{
    int sig[2], keep[2];
    *e = (struct ear){-1, -1, -1};
    if (pipe(sig) == -1)
        return;
    if (pipe(keep) == -1) {
        close(sig[0]);
        close(sig[1]);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, pgid);
        ear_listen(sig[1], keep[0]);
    }
    close(sig[1]);
    close(keep[0]);
    if (pid < 0) {
        close(sig[0]);
        close(keep[1]);
        return;
    }
    setpgid(pid, pgid); /* on both sides, so the ear is in the group before anyone returns */
    fcntl(sig[0], F_SETFD, FD_CLOEXEC);
    fcntl(keep[1], F_SETFD, FD_CLOEXEC);
    *e = (struct ear){pid, sig[0], keep[1]};
}

/* Reads what the ear has said: an interrupt per byte; EOF when it is gone. */
static void ear_hear(struct ear *e)
{
    char buf[64];
    ssize_t n = read(e->fd, buf, sizeof buf);
    if (n == -1 && errno == EINTR)
        return;
    if (n <= 0) {
        close(e->fd);
        e->fd = -1;
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        note_interrupt();
}

static void ear_close(struct ear *e)
{
    if (e->fd >= 0)
        close(e->fd);
    if (e->keep >= 0)
        close(e->keep);
    if (e->pid > 0)
        kill(e->pid, SIGKILL); /* it holds nothing; even stopped (Ctrl-Z), it must end */
    if (e->pid > 0)
        while (waitpid(e->pid, NULL, 0) == -1 && errno == EINTR)
            ;
    *e = (struct ear){-1, -1, -1};
}

/* The child's fd 3 when it has a control channel (dr_proc_control). */
#define CONTROL_FD 3

static int spawn_child(const struct dr_proc_opts *o, int out_fd, int err_fd, int ctl_fd, pid_t *pid)
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
    if (o->stdin_path)
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, o->stdin_path, O_RDONLY, 0);
    if (ctl_fd >= 0) /* last: the ends dup'ed above may have been fd 3 */
        posix_spawn_file_actions_adddup2(&fa, ctl_fd, CONTROL_FD);
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
    int fd[2];                      /* read ends for stdout, stderr; -1 when not piped */
    struct dr_mask_stream *mask[2]; /* dr_mask_std(1), dr_mask_std(2) */
    int capture;
    struct dr_buf out;     /* captured stdout, capped at DR_PROC_CAPTURE_MAX */
    int over;              /* capture cap exceeded (or out of memory) */
    const char *prefix;    /* children side by side: "[name] " before each line, else NULL */
    struct dr_buf line[2]; /* with a prefix: the partial line of each stream, held back */
    int ctl;               /* dbtrun's end of the control channel, -1 when none */
    const struct dr_proc_control *ctl_reply;
    struct dr_buf ctl_line; /* the child's partial line on the channel */
};

/* Writes one whole line with its prefix, then flushes: the next child's
 * line must never start in the middle of this one. */
static void relay_line(struct output *o, int i, const char *line, size_t n)
{
    struct dr_mask_stream *s = o->mask[i];
    dr_mask_stream_write(s, o->prefix, strlen(o->prefix));
    dr_mask_stream_write(s, line, n);
    dr_mask_stream_write(s, "\n", 1);
    dr_mask_stream_flush(s);
}

/* With a prefix, output goes out a whole line at a time; a line longer
 * than the buffer's cap is cut there rather than held forever. */
static void relay_lines(struct output *o, int i, const char *data, size_t n)
{
    struct dr_buf *b = &o->line[i];
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (b->len + take > b->max)
            take = b->max - b->len;
        dr_buf_add(b, data, take);
        data += take;
        n -= take;
        if (nl && data == nl) {
            data++;
            n--;
        } else if (b->len < b->max) {
            break; /* a partial line: held until its newline or the end */
        }
        relay_line(o, i, b->data ? b->data : "", b->len);
        dr_buf_reset(b);
    }
}

/* At the end of the child's output: a last line without its newline. */
static void relay_rest(struct output *o)
{
    for (int i = 0; o->prefix && i < 2; i++)
        if (o->line[i].len > 0) {
            relay_line(o, i, o->line[i].data, o->line[i].len);
            dr_buf_reset(&o->line[i]);
        }
}

static void keep_captured(struct output *o, const char *data, size_t n)
{
    if (!o->over && dr_buf_add(&o->out, data, n) != 0)
        o->over = 1; /* keep draining so the child is not blocked */
}

/* Reads whatever the pipes have ready; closes a pipe at its end. */
static void read_ready(struct output *o, const struct pollfd *p)
{
    char chunk[65536];
    for (int i = 0; i < 2; i++) {
        if (o->fd[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
            continue;
        ssize_t n = read(o->fd[i], chunk, sizeof chunk);
        if (n == -1 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            close(o->fd[i]);
            o->fd[i] = -1;
        } else if (i == 0 && o->capture) {
            keep_captured(o, chunk, (size_t)n);
        } else if (o->prefix) {
            relay_lines(o, i, chunk, (size_t)n);
        } else {
            dr_mask_stream_write(o->mask[i], chunk, (size_t)n);
        }
    }
}

/* Writes all of `data` to the control channel; 0, or -1 when the child is
 * gone (its end closed). */
static int ctl_write(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, data, n, MSG_NOSIGNAL);
        if (k == -1 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        data += k;
        n -= (size_t)k;
    }
    return 0;
}

static void ctl_close(struct output *o)
{
    close(o->ctl);
    o->ctl = -1;
    dr_buf_free(&o->ctl_line);
}

/* Answers each whole line of the control channel. reply() runs with
 * `wait_mask`, so a signal meanwhile is handled (and forwarded) at once. */
static void ctl_answer(struct output *o, const sigset_t *wait_mask)
{
    char chunk[4096];
    ssize_t n = recv(o->ctl, chunk, sizeof chunk, 0);
    if (n == -1 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0 || dr_buf_add(&o->ctl_line, chunk, (size_t)n) != 0) {
        ctl_close(o);
        return;
    }
    char *nl;
    while (o->ctl >= 0 && o->ctl_line.len > 0 &&
           (nl = memchr(o->ctl_line.data, '\n', o->ctl_line.len))) {
        size_t len = (size_t)(nl - o->ctl_line.data);
        sigset_t blocked;
        sigprocmask(SIG_SETMASK, wait_mask, &blocked);
        char *answer = o->ctl_reply->reply(o->ctl_reply->ud, o->ctl_line.data, len);
        sigprocmask(SIG_SETMASK, &blocked, NULL);
        if (!answer || ctl_write(o->ctl, answer, strlen(answer)) != 0 ||
            ctl_write(o->ctl, "\n", 1) != 0) {
            free(answer);
            ctl_close(o);
            return;
        }
        free(answer);
        size_t rest = o->ctl_line.len - len - 1;
        memmove(o->ctl_line.data, nl + 1, rest);
        o->ctl_line.len = rest;
    }
}

/* One running child: when it must be killed, and how far it got. */
struct watch {
    pid_t pid;
    int status, reaped;
    int signals_before; /* signal_count at spawn */
    long timeout_at;    /* opts->timeout_ms as a deadline, 0 for none */
    long kill_at;       /* end of the grace period after a signal, 0 before one */
    int killed;         /* SIGKILL sent to the group */
    int timed_out;
};

/* Decides whether the group is killed now; returns ms until the next
 * deadline, or -1 for none. */
static long check_deadlines(struct watch *w)
{
    long now = now_ms();
    int seen = signal_count - w->signals_before;
    if (seen > 0 && !w->kill_at)
        w->kill_at = now + kill_after_ms;
    if (seen > 1) /* a second interrupt: the user has waited enough */
        w->kill_at = now;
    if (!w->killed && w->timeout_at && now >= w->timeout_at)
        w->timed_out = 1;
    if (!w->killed && (w->timed_out || (w->kill_at && now >= w->kill_at))) {
        kill(-w->pid, SIGKILL);
        w->killed = 1;
    }
    if (w->killed)
        return -1;
    long next = w->kill_at ? w->kill_at : -1;
    if (w->timeout_at && (next < 0 || w->timeout_at < next))
        next = w->timeout_at;
    return next < 0 ? -1 : next - now;
}

/* Reads the pipes and reaps the leader, with signals blocked except inside
 * ppoll (`wait_mask`). Returns once the leader is reaped and either both
 * pipes are closed or the run was interrupted or timed out: then members
 * holding a pipe are ended by end_group, not waited for. */
static void watch_child(struct watch *w, struct output *o, struct ear *ear,
                        const sigset_t *wait_mask)
{
    for (;;) {
        if (!w->reaped && waitpid(w->pid, &w->status, WNOHANG) == w->pid)
            w->reaped = 1;
        long wait = check_deadlines(w);
        int stopping = w->timed_out || signal_count != w->signals_before;
        if (w->reaped && ((o->fd[0] < 0 && o->fd[1] < 0) || stopping))
            return;
        struct pollfd p[4] = {{o->fd[0], POLLIN, 0},
                              {o->fd[1], POLLIN, 0},
                              {ear->fd, POLLIN, 0},
                              {stopping ? -1 : o->ctl, POLLIN, 0}};
        struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
        int n = ppoll(p, 4, wait < 0 ? NULL : &ts, wait_mask);
        if (n > 0 && p[2].revents)
            ear_hear(ear);
        if (n > 0 && p[3].revents)
            ctl_answer(o, wait_mask);
        if (n > 0)
            read_ready(o, p);
        else if (n == -1 && errno != EINTR)
            sleep_ms(10); /* never spin */
    }
}

/* Reads what is left in the pipes once the group is gone. */
static void drain_output(struct output *o)
{
    while (o->fd[0] >= 0 || o->fd[1] >= 0) {
        struct pollfd p[2] = {{o->fd[0], POLLIN, 0}, {o->fd[1], POLLIN, 0}};
        if (poll(p, 2, 1000) <= 0)
            break; /* a member that left the group keeps the pipe: stop reading */
        read_ready(o, p);
    }
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

/* The control channel's socket pair: dbtrun's end in o->ctl, the child's
 * in *child_end, never fd 3 itself (dup2 onto the same fd would keep its
 * close-on-exec flag). 0, or -1. */
static int open_control(struct output *o, int *child_end)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
        return -1;
    o->ctl = sv[0];
    *child_end = sv[1];
    if (sv[1] <= CONTROL_FD) {
        *child_end = fcntl(sv[1], F_DUPFD_CLOEXEC, CONTROL_FD + 1);
        close(sv[1]);
    }
    return *child_end >= 0 ? 0 : -1;
}

static int exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/* From spawn to the group's end: watches the child, then makes sure no
 * member outlives an interrupt or a timeout. Signals are blocked. */
static void run_to_end(struct watch *w, struct output *out, const sigset_t *wait_mask,
                       struct dr_proc_result *r)
{
    struct ear ear = {-1, -1, -1};
    int has_terminal = give_terminal(w->pid);
    if (has_terminal)
        ear_open(&ear, w->pid);
    watch_child(w, out, &ear, wait_mask);
    r->exit_code = exit_code_of(w->status);
    r->timed_out = w->timed_out;
    if (has_terminal)
        take_terminal_back();
    ear_close(&ear);
    child_pgid = 0;
    int ended = 0;
    if (signal_count != w->signals_before) {
        r->interrupted = last_signal;
        ended = 1;
    } else if (has_terminal && (r->exit_code == 128 + SIGINT || r->exit_code == 128 + SIGQUIT)) {
        /* Ctrl-C on the terminal went straight to the child's group. */
        r->interrupted = r->exit_code - 128;
        ended = 1;
    }
    if (ended && !w->killed) /* after SIGKILL nobody is left to ask */
        end_group(w->pid);
    drain_output(out);
    dr_mask_stream_flush(out->mask[0]);
    dr_mask_stream_flush(out->mask[1]);
}

/* The signal set-up that brackets one child: the forwarded signals blocked
 * (the handler must see child_pgid set), SIGCHLD caught, and without dbtrun's
 * handlers (the `dbtrun aws` front) temporary ones, since a signal would
 * otherwise kill us and orphan the child's group. */
struct while_child {
    int temporary;
    sigset_t mask; /* the mask before */
    struct sigaction handlers[N_FORWARDED], chld;
};

static void signals_take(struct while_child *wc)
{
    struct sigaction chld;
    wc->temporary = !signals_installed;
    block_forwarded(&wc->mask);
    if (wc->temporary)
        install_handlers(wc->handlers);
    memset(&chld, 0, sizeof chld);
    chld.sa_handler = on_child;
    chld.sa_flags = SA_NOCLDSTOP;
    sigemptyset(&chld.sa_mask);
    sigaction(SIGCHLD, &chld, &wc->chld);
}

/* Undoes signals_take in reverse; a signal caught by the temporary handlers
 * (since signals_before) is raised again, to end as the caller's disposition
 * says, now that the child's group is gone. */
static void signals_give_back(struct while_child *wc, int signals_before)
{
    sigaction(SIGCHLD, &wc->chld, NULL);
    if (wc->temporary)
        for (size_t i = 0; i < N_FORWARDED; i++)
            sigaction(forwarded[i], &wc->handlers[i], NULL);
    sigprocmask(SIG_SETMASK, &wc->mask, NULL);
    if (wc->temporary && signal_count != signals_before)
        raise(last_signal);
}

int dr_proc_run(const struct dr_proc_opts *o, struct dr_proc_result *r, char *err, size_t errlen)
{
    struct output out = {.fd = {-1, -1},
                         .mask = {dr_mask_std(STDOUT_FILENO), dr_mask_std(STDERR_FILENO)},
                         .capture = o->capture,
                         .out = {.max = DR_PROC_CAPTURE_MAX},
                         .ctl = -1,
                         .ctl_reply = o->control,
                         .ctl_line = {.max = DR_PROC_LINE_MAX}};
    int child_end[2] = {-1, -1}, ctl_end = -1, rc = -1, relay = dr_mask_active();
    struct while_child wc;
    struct watch w = {0};
    memset(r, 0, sizeof *r);
    /* What Lua wrote and the mask held back goes out before the child's output. */
    dr_mask_stream_flush(dr_mask_std(STDOUT_FILENO));
    dr_mask_stream_flush(dr_mask_std(STDERR_FILENO));
    r->exit_code = 1;
    if (((o->capture || relay) && open_pipe(&out, 0, &child_end[0]) == -1) ||
        (relay && open_pipe(&out, 1, &child_end[1]) == -1)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    if (o->control && open_control(&out, &ctl_end) == -1) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        goto out;
    }

    w.signals_before = signal_count;
    signals_take(&wc);
    int spawn_rc = spawn_child(o, child_end[0], child_end[1], ctl_end, &w.pid);
    if (spawn_rc == 0) {
        child_pgid = w.pid;
        if (o->timeout_ms > 0)
            w.timeout_at = now_ms() + o->timeout_ms;
    }
    for (int i = 0; i < 2; i++)
        if (child_end[i] >= 0)
            close(child_end[i]);
    if (ctl_end >= 0)
        close(ctl_end);
    ctl_end = -1;
    if (spawn_rc == 0)
        run_to_end(&w, &out, &wc.mask, r);
    signals_give_back(&wc, w.signals_before);
    if (spawn_rc != 0) {
        snprintf(err, errlen, "%s: %s", o->argv[0],
                 spawn_rc == ENOENT ? "command not found" : strerror(spawn_rc));
        r->exit_code = spawn_rc == ENOENT ? 127 : 126;
        goto out;
    }
    if (out.over) {
        snprintf(err, errlen, "%s: captured output larger than %u bytes", o->argv[0],
                 DR_PROC_CAPTURE_MAX);
        goto out;
    }
    if (o->capture) {
        r->out = dr_buf_take(&out.out, &r->out_len);
    }
    rc = 0;
out:
    for (int i = 0; i < 2; i++)
        if (out.fd[i] >= 0)
            close(out.fd[i]);
    if (ctl_end >= 0)
        close(ctl_end);
    if (out.ctl >= 0)
        ctl_close(&out);
    dr_buf_free(&out.out);
    return rc;
}

/* Children side by side ------------------------------------------------- */

struct dr_proc_child {
    struct watch w;
    struct output out;
    char *prefix;
    int slot;      /* index in parallel_pgids */
    int ended;     /* reaped, output drained and flushed */
    long stop_at;  /* dr_proc_stop: SIGKILL after this, 0 before a stop */
    char name[64]; /* argv[0], for messages */
};

static int take_slot(void)
{
    for (int i = 0; i < (int)DR_PROC_PARALLEL_MAX; i++)
        if (parallel_pgids[i] == 0)
            return i;
    return -1;
}

static void free_child(struct dr_proc_child *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->out.fd[i] >= 0)
            close(c->out.fd[i]);
        dr_buf_free(&c->out.line[i]);
    }
    dr_buf_free(&c->out.out);
    free(c->prefix);
    free(c);
}

/* Spawns with signals blocked, so a signal cannot come between the spawn
 * and the group's registration (it would miss the new group). */
static int spawn_registered(struct dr_proc_child *c, const struct dr_proc_opts *o, int child_end[2])
{
    sigset_t old;
    block_forwarded(&old);
    int rc = spawn_child(o, child_end[0], child_end[1], -1, &c->w.pid);
    if (rc == 0) {
        parallel_pgids[c->slot] = c->w.pid;
        c->w.signals_before = signal_count;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

struct dr_proc_child *dr_proc_start(const struct dr_proc_opts *o, const char *prefix, int *code,
                                    char *err, size_t errlen)
{
    struct dr_proc_child *c = calloc(1, sizeof *c);
    struct dr_proc_opts with_stdin = *o;
    int child_end[2] = {-1, -1}, rc = -1;
    *code = 1;
    if (!c || !(c->prefix = strdup(prefix ? prefix : ""))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    c->out = (struct output){.fd = {-1, -1},
                             .mask = {dr_mask_std(STDOUT_FILENO), dr_mask_std(STDERR_FILENO)},
                             .capture = o->capture,
                             .out = {.max = DR_PROC_CAPTURE_MAX},
                             .prefix = c->prefix,
                             .line = {{.max = DR_PROC_LINE_MAX}, {.max = DR_PROC_LINE_MAX}}};
    snprintf(c->name, sizeof c->name, "%s", o->argv[0]);
    if ((c->slot = take_slot()) < 0) {
        snprintf(err, errlen, "more than %u commands at once", (unsigned)DR_PROC_PARALLEL_MAX);
        goto out;
    }
    if (open_pipe(&c->out, 0, &child_end[0]) == -1 || open_pipe(&c->out, 1, &child_end[1]) == -1) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    /* Only one group can hold the terminal: side by side, none reads it. */
    if (!with_stdin.stdin_path)
        with_stdin.stdin_path = "/dev/null";
    int spawn_rc = spawn_registered(c, &with_stdin, child_end);
    if (spawn_rc != 0) {
        snprintf(err, errlen, "%s: %s", o->argv[0],
                 spawn_rc == ENOENT ? "command not found" : strerror(spawn_rc));
        *code = spawn_rc == ENOENT ? 127 : 126;
        goto out;
    }
    if (o->timeout_ms > 0)
        c->w.timeout_at = now_ms() + o->timeout_ms;
    rc = 0;
out:
    for (int i = 0; i < 2; i++)
        if (child_end[i] >= 0)
            close(child_end[i]);
    if (rc != 0 && c) {
        free_child(c);
        c = NULL;
    }
    return c;
}

void dr_proc_stop(struct dr_proc_child *c)
{
    if (c->ended || c->stop_at)
        return;
    c->stop_at = now_ms() + kill_after_ms;
    kill(-c->w.pid, SIGTERM);
}

/* check_deadlines plus the stop's own grace period. */
static long child_deadlines(struct dr_proc_child *c)
{
    if (!c->w.killed && c->stop_at && now_ms() >= c->stop_at) {
        kill(-c->w.pid, SIGKILL);
        c->w.killed = 1;
    }
    long next = check_deadlines(&c->w);
    if (c->stop_at && !c->w.killed) {
        long left = c->stop_at - now_ms();
        next = next < 0 || left < next ? (left < 0 ? 0 : left) : next;
    }
    return next;
}

/* Once the leader is reaped: done when the pipes closed, or at once when
 * the child was stopped (members keeping a pipe are ended, not waited for). */
static int child_finished(struct dr_proc_child *c)
{
    struct watch *w = &c->w;
    if (!w->reaped && waitpid(w->pid, &w->status, WNOHANG) == w->pid)
        w->reaped = 1;
    int stopping = w->timed_out || c->stop_at || signal_count != w->signals_before;
    if (!w->reaped || (!stopping && (c->out.fd[0] >= 0 || c->out.fd[1] >= 0)))
        return 0;
    if (stopping && !w->killed)
        end_group(w->pid);
    parallel_pgids[c->slot] = 0;
    drain_output(&c->out);
    relay_rest(&c->out);
    c->ended = 1;
    return 1;
}

/* One ppoll over every child's pipes; returns when something happened. */
static void wait_once(struct dr_proc_child *const *kids, size_t n, long wait, const sigset_t *mask)
{
    struct pollfd p[2 * DR_PROC_PARALLEL_MAX];
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = (struct pollfd){kids[i]->ended ? -1 : kids[i]->out.fd[0], POLLIN, 0};
        p[2 * i + 1] = (struct pollfd){kids[i]->ended ? -1 : kids[i]->out.fd[1], POLLIN, 0};
    }
    struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
    int got = ppoll(p, 2 * n, wait < 0 ? NULL : &ts, mask);
    if (got > 0) {
        for (size_t i = 0; i < n; i++)
            if (!kids[i]->ended)
                read_ready(&kids[i]->out, &p[2 * i]);
    } else if (got == -1 && errno != EINTR) {
        sleep_ms(10); /* never spin */
    }
}

int dr_proc_wait_any(struct dr_proc_child *const *kids, size_t n)
{
    struct sigaction chld, old_chld;
    sigset_t old;
    int found = -1;
    if (n == 0 || n > DR_PROC_PARALLEL_MAX)
        return -1;
    block_forwarded(&old);
    memset(&chld, 0, sizeof chld);
    chld.sa_handler = on_child;
    chld.sa_flags = SA_NOCLDSTOP;
    sigemptyset(&chld.sa_mask);
    sigaction(SIGCHLD, &chld, &old_chld);
    while (found < 0) {
        long wait = -1;
        for (size_t i = 0; i < n && found < 0; i++) {
            if (kids[i]->ended || child_finished(kids[i])) {
                found = (int)i;
                break;
            }
            long next = child_deadlines(kids[i]);
            if (next >= 0 && (wait < 0 || next < wait))
                wait = next;
        }
        if (found < 0)
            wait_once(kids, n, wait, &old);
    }
    sigaction(SIGCHLD, &old_chld, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return found;
}

int dr_proc_collect(struct dr_proc_child *c, struct dr_proc_result *r, char *err, size_t errlen)
{
    int rc = -1;
    memset(r, 0, sizeof *r);
    r->exit_code = exit_code_of(c->w.status);
    r->timed_out = c->w.timed_out;
    if (signal_count != c->w.signals_before)
        r->interrupted = last_signal;
    if (c->out.over) {
        snprintf(err, errlen, "%s: captured output larger than %u bytes", c->name,
                 DR_PROC_CAPTURE_MAX);
        r->exit_code = 1;
        goto out;
    }
    if (c->out.capture)
        r->out = dr_buf_take(&c->out.out, &r->out_len);
    rc = 0;
out:
    free_child(c);
    return rc;
}

void dr_proc_abandon(struct dr_proc_child *c)
{
    if (!c->ended) {
        kill(-c->w.pid, SIGKILL);
        while (waitpid(c->w.pid, NULL, 0) == -1 && errno == EINTR)
            ;
        parallel_pgids[c->slot] = 0;
    }
    free_child(c);
}
