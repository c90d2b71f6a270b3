/* glibc_compat: linked into the portable binary only (`make portable`, the
 * wheel and the tarball). Debian 12's libexpat.a was built against glibc
 * 2.36 and seeds its hash tables with arc4random_buf, which glibc has only
 * since 2.36; linked in as is, that one call would make the wheel
 * manylinux_2_36 and shut out Ubuntu 22.04 (2.35) and RHEL 9 (2.34), whose
 * glibc has everything else dbtrun needs. A definition here is found before
 * libc's, so the binary asks glibc for getrandom (2.25) instead. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

void arc4random_buf(void *buf, size_t n);

/* Reads n bytes from /dev/urandom into p, for kernels without getrandom(2).
 * 0, or -1. */
static int urandom(unsigned char *p, size_t n)
{
    int rc = -1, fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (n > 0) {
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            goto out;
        p += got;
        n -= (size_t)got;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

/* Fills buf with n random bytes, as glibc's arc4random_buf does: it never
 * fails, so without any source of randomness it aborts as glibc's does. */
void arc4random_buf(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            if (urandom(p, n) != 0)
                abort();
            return;
        }
        p += got;
        n -= (size_t)got;
    }
}
