/* Unit tests of progress.c: the line's text (bytes, rate, time left, files),
 * nothing on a non-terminal, and on a pseudo-terminal the drawing, the
 * redraw limit and the erasure. */
#define _XOPEN_SOURCE 700 /* posix_openpt and friends */
#include "dbtrun/progress.h"
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void test_bytes(void)
{
    char out[16];
    dr_progress_format_bytes(0, out, sizeof out);
    CHECK_STR(out, "0 B");
    dr_progress_format_bytes(1023, out, sizeof out);
    CHECK_STR(out, "1023 B");
    dr_progress_format_bytes(1536, out, sizeof out);
    CHECK_STR(out, "1.5 KiB");
    dr_progress_format_bytes(20LL << 20, out, sizeof out);
    CHECK_STR(out, "20.0 MiB");
    dr_progress_format_bytes(3LL << 30, out, sizeof out);
    CHECK_STR(out, "3.0 GiB");
}

static void test_line(void)
{
    char out[160];
    /* the first half second: no rate yet */
    dr_progress_format(1024, 4096, 0, 0, 0.2, out, sizeof out);
    CHECK_STR(out, "Completed 1.0 KiB/4.0 KiB");
    dr_progress_format(1 << 20, 4 << 20, 0, 0, 2.0, out, sizeof out);
    CHECK_STR(out, "Completed 1.0 MiB/4.0 MiB (512.0 KiB/s, 6s left)");
    dr_progress_format(1 << 20, 301LL << 20, 0, 0, 1.0, out, sizeof out);
    CHECK_STR(out, "Completed 1.0 MiB/301.0 MiB (1.0 MiB/s, 5m00s left)");
    dr_progress_format(1 << 20, 0, 0, 0, 1.0, out, sizeof out); /* size unknown */
    CHECK_STR(out, "Completed 1.0 MiB (1.0 MiB/s)");
    dr_progress_format(2048, 2048, 3, 1, 1.0, out, sizeof out);
    CHECK_STR(out, "Completed 2.0 KiB/2.0 KiB (2.0 KiB/s) with 3 file(s) remaining");
    dr_progress_format(5000, 4096, 0, 0, 1.0, out, sizeof out); /* never past the total */
    CHECK_STR(out, "Completed 4.0 KiB/4.0 KiB (4.0 KiB/s)");
}

static void test_not_a_terminal(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(dr_progress_new(fds[1]) == NULL);
    /* NULL is a no-op everywhere */
    dr_progress_set_total(NULL, 1, 1);
    dr_progress_add(NULL, 1, 1);
    dr_progress_file_done(NULL);
    dr_progress_pause(NULL);
    dr_progress_resume(NULL);
    dr_progress_end(NULL);
    close(fds[0]);
    close(fds[1]);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* What the terminal got since the last call (the fd is non-blocking). */
static size_t drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    nap_ms(20);
    while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return n;
}

static void test_terminal(void)
{
    char buf[512];
    int master = posix_openpt(O_RDWR | O_NOCTTY), slave = -1;
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
        (slave = open(ptsname(master), O_RDWR | O_NOCTTY)) < 0) {
        printf("test_progress: no pseudo-terminal, skipped\n");
        return;
    }
    fcntl(master, F_SETFL, O_NONBLOCK);
    struct dr_progress *p = dr_progress_new(slave);
    CHECK(p != NULL);
    dr_progress_set_total(p, 1000, 2);
    dr_progress_add(p, 100, 500); /* a fixed total ignores the announced size */
    drain(master, buf, sizeof buf);
    CHECK_STR(buf, "\rCompleted 100 B/1000 B with 2 file(s) remaining");
    dr_progress_add(p, 100, 0); /* within 100 ms of the last drawing: not drawn */
    CHECK(drain(master, buf, sizeof buf) == 0);
    dr_progress_file_done(p);
    nap_ms(520); /* past the redraw limit, and old enough for a rate */
    dr_progress_add(p, 800, 0);
    drain(master, buf, sizeof buf);
    CHECK(strncmp(buf, "\rCompleted 1000 B/1000 B (", 26) == 0);
    CHECK(strstr(buf, "B/s) with 1 file(s) remaining") != NULL);
    size_t shown = strlen(buf) - 1;
    dr_progress_pause(p); /* erased for the caller's line */
    drain(master, buf, sizeof buf);
    CHECK(strlen(buf) == shown + 2 && buf[0] == '\r' && buf[shown + 1] == '\r' &&
          strspn(buf + 1, " ") == shown);
    dr_progress_resume(p);
    dr_progress_end(p); /* nothing shown: nothing written */
    CHECK(drain(master, buf, sizeof buf) == 0);
    close(slave);
    close(master);
}

TEST_MAIN(test_bytes, test_line, test_not_a_terminal, test_terminal)
