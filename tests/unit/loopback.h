/* A scripted HTTP/1.1 server on 127.0.0.1 (ephemeral port) in a forked
 * child, for tests of http.c and aws.c: each request it reads takes the
 * next step of a script (a canned reply, an echo of the request, a dropped
 * connection, silence). Test-only; nothing here is used by dbtrun. */
#ifndef DR_LOOPBACK_H
#define DR_LOOPBACK_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum lb_action {
    LB_REPLY,       /* send `reply`, keep the connection */
    LB_REPLY_CLOSE, /* send `reply`, then close */
    LB_ECHO,        /* 200 whose body is the request (head and body) as received */
    LB_CLOSE,       /* close without a reply */
    LB_HANG,        /* never answer */
};

struct lb_step {
    enum lb_action action;
    const char *reply;
};

struct lb_server {
    pid_t pid;
    int port;
    const char *record; /* lb_start_recording's file, or NULL */
};

#define LB_RECORD_END "\n--lb-end--\n"

#define LB_REQUEST_MAX (8u << 20)

/* Reads one request (head plus Content-Length body) into a new buffer.
 * Returns its length, 0 on EOF before a request, -1 on error. */
static inline long lb_read_request(int fd, char **out)
{
    size_t cap = 65536, len = 0, want = 0;
    char *buf = malloc(cap), *end = NULL;
    *out = NULL;
    if (!buf)
        return -1;
    for (;;) {
        if (end && len >= want)
            break;
        if (len + 1 >= cap) {
            char *grown = cap * 2 <= LB_REQUEST_MAX ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                free(buf);
                return -1;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return len == 0 ? 0 : -1;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            size_t body = 0;
            for (char *line = strstr(buf, "\r\n"); line && line < end;
                 line = strstr(line + 2, "\r\n"))
                if (strncasecmp(line + 2, "content-length:", 15) == 0)
                    body = strtoul(line + 17, NULL, 10);
            want = (size_t)(end - buf) + 4 + body;
        }
    }
    *out = buf;
    return (long)len;
}

static inline void lb_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static inline void lb_serve(int listener, const struct lb_step *steps, size_t nsteps,
                            const char *record)
{
    int record_fd = record ? open(record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    size_t step = 0;
    int conn = 0;
    while (step < nsteps) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            continue;
        conn++;
        for (;;) {
            char *req = NULL, head[256];
            long len = lb_read_request(fd, &req);
            if (len <= 0 || step >= nsteps) {
                free(req);
                break;
            }
            if (record_fd >= 0) {
                lb_write_all(record_fd, req, (size_t)len);
                lb_write_all(record_fd, LB_RECORD_END, strlen(LB_RECORD_END));
            }
            const struct lb_step *s = &steps[step++];
            int keep = 1;
            switch (s->action) {
            case LB_REPLY:
            case LB_REPLY_CLOSE:
                lb_write_all(fd, s->reply, strlen(s->reply));
                keep = s->action == LB_REPLY;
                break;
            case LB_ECHO:
                snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\nX-Conn: %d\r\n"
                         "X-Req: %zu\r\n\r\n",
                         len, conn, step);
                lb_write_all(fd, head, strlen(head));
                lb_write_all(fd, req, (size_t)len);
                break;
            case LB_CLOSE:
                keep = 0;
                break;
            case LB_HANG:
                pause();
                break;
            }
            free(req);
            if (!keep)
                break;
        }
        close(fd);
    }
    /* keep the last connection's peer from seeing a reset while it reads */
    sleep(1);
}

/* Starts a server running `steps` (which must outlive the call only until
 * it returns: the child has its own copy) that appends each request it reads
 * to the file `record` (NULL: none), followed by LB_RECORD_END, before it
 * answers. 0, or -1 (then skip the test). */
static inline int lb_start_recording(struct lb_server *lb, const struct lb_step *steps,
                                     size_t nsteps, const char *record)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    lb->port = ntohs(addr.sin_port);
    lb->record = record;
    fflush(NULL);
    lb->pid = fork();
    if (lb->pid < 0) {
        close(fd);
        return -1;
    }
    if (lb->pid == 0) {
        alarm(10); /* never outlive a stuck test */
        lb_serve(fd, steps, nsteps, lb->record);
        _exit(0);
    }
    close(fd);
    return 0;
}

static inline int lb_start(struct lb_server *lb, const struct lb_step *steps, size_t nsteps)
{
    return lb_start_recording(lb, steps, nsteps, NULL);
}

static inline void lb_stop(struct lb_server *lb)
{
    if (lb->pid > 0) {
        kill(lb->pid, SIGKILL);
        waitpid(lb->pid, NULL, 0);
    }
    lb->pid = 0;
}

/* A port where nothing listens (bound, then closed). */
static inline int lb_dead_port(void)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int port = -1, fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &alen) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

#endif
