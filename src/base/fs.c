/* fs: file operations for tasks and the task-file search. Plain POSIX;
 * knows nothing of Lua. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "dbtrun/fs.h"
#include "dbtrun/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return p;
}

int dr_fs_find_upward(const char *start_dir, const char *name, char **dir)
{
    char *here = strdup(start_dir);
    while (here) {
        char *candidate = join_path(here, name);
        struct stat st;
        int found = candidate && stat(candidate, &st) == 0 && S_ISREG(st.st_mode);
        free(candidate);
        if (found) {
            *dir = here;
            return 0;
        }
        char *slash = strrchr(here, '/');
        if (!slash || strcmp(here, "/") == 0)
            break;
        if (slash == here)
            slash[1] = '\0'; /* "/a" -> "/" */
        else
            *slash = '\0';
    }
    free(here);
    return -1;
}

int dr_fs_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) == -1 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) == -1) {
        struct stat st;
        if (errno != EEXIST || stat(buf, &st) == -1)
            return -1;
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return -1;
        }
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

int dr_fs_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == -1)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    return nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int dr_fs_read(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
    struct stat st;
    char *buf = NULL;
    size_t used = 0, cap;
    if (fd == -1)
        return -1;
    if (fstat(fd, &st) == -1)
        goto out;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto out;
    }
    if ((unsigned long long)st.st_size > DR_FS_READ_MAX) {
        errno = EFBIG;
        goto out;
    }
    cap = (size_t)st.st_size + 4096; /* files under /proc report size 0 */
    if (!(buf = malloc(cap)))
        goto out;
    for (;;) {
        if (used + 1 == cap) { /* room for one more byte and the NUL */
            char *grown = dr_grow(buf, &cap, used + 2, 1, DR_FS_READ_MAX + 1);
            if (!grown) {
                errno = EFBIG;
                goto out;
            }
            buf = grown;
        }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            goto out;
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    *data = buf;
    *len = used;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

int dr_fs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

mode_t dr_fs_default_mode(void)
{
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

int dr_fs_write_atomic(const char *path, const void *data, size_t len, int mode)
{
    size_t n = strlen(path) + sizeof ".dbtrun-XXXXXX";
    char *tmp = malloc(n);
    int fd = -1, rc = -1, saved;
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.dbtrun-XXXXXX", path);
    fd = mkstemp(tmp); /* created 0600: never more open than the final mode */
    if (fd == -1) {
        free(tmp);
        return -1;
    }
    if (fchmod(fd, mode < 0 ? dr_fs_default_mode() : (mode_t)mode) == -1 ||
        dr_fs_write_all(fd, data, len) == -1 || fsync(fd) == -1)
        goto out;
    if (close(fd) == -1) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) == -1)
        goto out;
    rc = 0;
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    errno = saved;
    return rc;
}

int dr_fs_write_secret(const char *path, const void *data, size_t len)
{
    char *dir = strdup(path), *slash;
    int rc = -1;
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    if ((slash = strrchr(dir, '/')) && slash != dir) {
        *slash = '\0';
        if (dr_fs_mkdir_p(dir, 0700) != 0)
            goto out;
    }
    rc = dr_fs_write_atomic(path, data, len, 0600);
out:
    free(dir);
    return rc;
}

int dr_fs_read_chunks(const char *path, long long offset, long long len, dr_fs_chunk_fn fn,
                      void *ctx)
{
    unsigned char *buf = NULL;
    int fd = -1, rc = -1, saved = EIO;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || !(buf = malloc(DR_FS_CHUNK))) {
        saved = errno;
        goto out;
    }
    for (long long pos = offset, left = len; len < 0 || left > 0;) {
        size_t want = len >= 0 && left < (long long)DR_FS_CHUNK ? (size_t)left : DR_FS_CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)pos);
        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1) {
            saved = errno;
            goto out;
        }
        if (got == 0) {
            if (len >= 0) /* the file shrank under us */
                goto out;
            break;
        }
        if (fn(ctx, buf, (size_t)got) != 0)
            goto out;
        pos += got;
        left -= got;
    }
    rc = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        errno = saved;
    return rc;
}
