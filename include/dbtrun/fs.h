/* fs: the file operations tasks need — upward search for the task file,
 * recursive mkdir and rm, whole-file reads, and atomic writes that create a
 * file with its final mode from the start. */
#ifndef DR_FS_H
#define DR_FS_H

#include <stddef.h>
#include <sys/types.h>

#define DR_FS_READ_MAX (1u << 30) /* cap on dr_fs_read */

/* Looks for `name` in `start_dir` and each parent up to the root. On success
 * returns 0 and sets *dir to the folder that holds it (caller frees); returns
 * -1 when not found. */
int dr_fs_find_upward(const char *start_dir, const char *name, char **dir);

/* Creates `path` and its missing parents with `mode`. 0, or -1 with errno. */
int dr_fs_mkdir_p(const char *path, mode_t mode);

/* Removes `path` and everything under it; a missing path is not an error.
 * Symbolic links are removed, never followed. 0, or -1 with errno. */
int dr_fs_rm_rf(const char *path);

/* Reads a whole file (at most DR_FS_READ_MAX bytes) into *data, NUL-terminated,
 * caller frees. 0, or -1 with errno (EFBIG past the cap). */
int dr_fs_read(const char *path, char **data, size_t *len);

/* Writes all `len` bytes of `data` to fd, again after EINTR and short
 * writes. 0, or -1 with errno. */
int dr_fs_write_all(int fd, const void *data, size_t len);

/* 0666 less the process's umask: the mode open(2) would give a new file. */
mode_t dr_fs_default_mode(void);

/* Writes `data` to `path` through a temporary file in the same folder that is
 * created with `mode` and renamed into place, so readers see the old file or
 * the new one, never a part, and the file is never more open than `mode`.
 * mode < 0 means 0666 less the umask. 0, or -1 with errno. */
int dr_fs_write_atomic(const char *path, const void *data, size_t len, int mode);

/* A file holding a secret (a token, credentials): its folder made with 0700
 * when missing, then written as dr_fs_write_atomic with mode 0600. 0, or -1
 * with errno. */
int dr_fs_write_secret(const char *path, const void *data, size_t len);

/* Feeds fn the bytes of the file at `path` from `offset`: `len` bytes (len
 * < 0: to the end) in chunks of at most DR_FS_CHUNK, read with pread. A file
 * that ends before offset + len fails with EIO (it shrank under us). 0, or
 * -1 with errno (EIO when fn returned non-zero). */
#define DR_FS_CHUNK (256u << 10)
typedef int (*dr_fs_chunk_fn)(void *ctx, const void *data, size_t n);
int dr_fs_read_chunks(const char *path, long long offset, long long len, dr_fs_chunk_fn fn,
                      void *ctx);

#endif
