/* Unit tests for src/base/fs.c: upward search, mkdir -p, rm -rf, atomic writes. */
#include "dbtrun/fs.h"
#include "harness.h"
#include "scratch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_find_upward(void)
{
    char *dir = NULL;
    CHECK(dr_fs_mkdir_p(in_root("a/b/c"), 0777) == 0);
    write_text(in_root("a/dbtrun.lua"), "");
    CHECK(dr_fs_find_upward(in_root("a/b/c"), "dbtrun.lua", &dir) == 0);
    CHECK_STR(dir, in_root("a"));
    free(dir);
    CHECK(dr_fs_find_upward(in_root("a"), "dbtrun.lua", &dir) == 0);
    CHECK_STR(dir, in_root("a"));
    free(dir);
    /* the nearest one wins */
    write_text(in_root("a/b/dbtrun.lua"), "");
    CHECK(dr_fs_find_upward(in_root("a/b/c"), "dbtrun.lua", &dir) == 0);
    CHECK_STR(dir, in_root("a/b"));
    free(dir);
    /* a folder with the name is not a task file */
    CHECK(dr_fs_mkdir_p(in_root("a/b/c/x.lua"), 0777) == 0);
    CHECK(dr_fs_find_upward(in_root("a/b/c"), "x.lua", &dir) == -1);
    CHECK(dr_fs_find_upward("/", "surely-not-here-dbtrun.lua", &dir) == -1);
}

static void test_mkdir_over_a_file_fails(void)
{
    write_text(in_root("plain"), "x");
    errno = 0;
    CHECK(dr_fs_mkdir_p(in_root("plain"), 0777) == -1 && errno == ENOTDIR);
    CHECK(dr_fs_mkdir_p(in_root("plain/sub"), 0777) == -1);
}

static void test_rm_rf_does_not_follow_links(void)
{
    struct stat st;
    CHECK(dr_fs_mkdir_p(in_root("keep"), 0777) == 0);
    write_text(in_root("keep/precious"), "x");
    CHECK(dr_fs_mkdir_p(in_root("gone/deep/er"), 0777) == 0);
    write_text(in_root("gone/deep/er/f"), "x");
    CHECK(symlink(in_root("keep"), in_root("gone/link")) == 0);
    CHECK(dr_fs_rm_rf(in_root("gone")) == 0);
    CHECK(lstat(in_root("gone"), &st) == -1);
    CHECK(stat(in_root("keep/precious"), &st) == 0);
    CHECK(dr_fs_rm_rf(in_root("never-existed")) == 0);
}

static void test_write_atomic_modes(void)
{
    struct stat st;
    char *data;
    size_t len;
    CHECK(dr_fs_write_atomic(in_root("secret.pem"), "KEY", 3, 0600) == 0);
    CHECK(stat(in_root("secret.pem"), &st) == 0 && (st.st_mode & 07777) == 0600);
    mode_t old = umask(022);
    CHECK(dr_fs_write_atomic(in_root("plain.txt"), "hello", 5, -1) == 0);
    umask(old);
    CHECK(stat(in_root("plain.txt"), &st) == 0 && (st.st_mode & 07777) == 0644);
    CHECK(dr_fs_read(in_root("plain.txt"), &data, &len) == 0);
    CHECK(len == 5);
    CHECK_STR(data, "hello");
    free(data);
}

/* A secret's file is 0600 and the folders made for it 0700, whatever the
 * umask; a folder already there is left as it is. */
static void test_write_secret(void)
{
    struct stat st;
    char *data;
    size_t len;
    mode_t old = umask(0);
    CHECK(dr_fs_write_secret(in_root("cache/sso/token.json"), "{\"t\":1}", 7) == 0);
    umask(old);
    CHECK(stat(in_root("cache"), &st) == 0 && (st.st_mode & 07777) == 0700);
    CHECK(stat(in_root("cache/sso"), &st) == 0 && (st.st_mode & 07777) == 0700);
    CHECK(stat(in_root("cache/sso/token.json"), &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK(dr_fs_read(in_root("cache/sso/token.json"), &data, &len) == 0);
    CHECK(len == 7);
    free(data);
    CHECK(dr_fs_mkdir_p(in_root("open"), 0755) == 0);
    CHECK(dr_fs_write_secret(in_root("open/creds.json"), "x", 1) == 0);
    CHECK(stat(in_root("open"), &st) == 0 && (st.st_mode & 07777) == 0755);
    CHECK(stat(in_root("open/creds.json"), &st) == 0 && (st.st_mode & 07777) == 0600);
    /* a file where a folder should be: the write fails */
    write_text(in_root("blocked"), "");
    CHECK(dr_fs_write_secret(in_root("blocked/creds.json"), "x", 1) == -1);
}

static void test_failed_write_keeps_the_old_file(void)
{
    char *data;
    size_t len;
    write_text(in_root("good.json"), "{\"good\": true}");
    /* a folder where the temporary file cannot be created */
    CHECK(dr_fs_write_atomic(in_root("no/such/dir/good.json"), "x", 1, -1) == -1);
    /* rename onto a folder fails: the old content is still there, no temp left */
    CHECK(dr_fs_mkdir_p(in_root("adir"), 0777) == 0);
    write_text(in_root("adir/inside"), "x");
    CHECK(dr_fs_write_atomic(in_root("adir"), "x", 1, -1) == -1);
    CHECK(dr_fs_read(in_root("good.json"), &data, &len) == 0);
    CHECK_STR(data, "{\"good\": true}");
    free(data);
    char *dir = NULL;
    CHECK(dr_fs_find_upward(root, "adir.dbtrun-", &dir) == -1);
}

static void test_read_errors(void)
{
    char *data;
    size_t len;
    errno = 0;
    CHECK(dr_fs_read(in_root("missing"), &data, &len) == -1 && errno == ENOENT);
    CHECK(dr_fs_read(root, &data, &len) == -1 && errno == EISDIR);
    CHECK(dr_fs_read("/proc/self/status", &data, &len) == 0 && len > 0); /* size 0 in stat */
    free(data);
}

struct collected {
    char text[1 << 20];
    size_t len, calls, fail_at;
};

static int collect(void *ctx, const void *data, size_t n)
{
    struct collected *c = ctx;
    if (++c->calls == c->fail_at)
        return 1;
    CHECK(n > 0 && n <= DR_FS_CHUNK && c->len + n <= sizeof c->text);
    memcpy(c->text + c->len, data, n);
    c->len += n;
    return 0;
}

static void test_read_chunks(void)
{
    static struct collected c;
    static char big[DR_FS_CHUNK * 2 + 100];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    CHECK(dr_fs_write_atomic(in_root("big"), big, sizeof big, 0644) == 0);
    memset(&c, 0, sizeof c);
    CHECK(dr_fs_read_chunks(in_root("big"), 0, -1, collect, &c) == 0);
    CHECK(c.len == sizeof big && c.calls == 3 && memcmp(c.text, big, sizeof big) == 0);
    /* a range: offset and length, across a chunk boundary */
    memset(&c, 0, sizeof c);
    CHECK(dr_fs_read_chunks(in_root("big"), DR_FS_CHUNK - 10, 20, collect, &c) == 0);
    CHECK(c.len == 20 && memcmp(c.text, big + DR_FS_CHUNK - 10, 20) == 0);
    memset(&c, 0, sizeof c);
    CHECK(dr_fs_read_chunks(in_root("big"), 5, 0, collect, &c) == 0 && c.calls == 0);
    /* a file shorter than the range asked for: it shrank under us */
    memset(&c, 0, sizeof c);
    errno = 0;
    CHECK(dr_fs_read_chunks(in_root("big"), 0, (long long)sizeof big + 1, collect, &c) == -1);
    CHECK(errno == EIO);
    /* the callback refusing stops the read */
    memset(&c, 0, sizeof c);
    c.fail_at = 2;
    errno = 0;
    CHECK(dr_fs_read_chunks(in_root("big"), 0, -1, collect, &c) == -1 && errno == EIO);
    CHECK(c.calls == 2);
    errno = 0;
    CHECK(dr_fs_read_chunks(in_root("missing"), 0, -1, collect, &c) == -1 && errno == ENOENT);
}

static void setup(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void teardown(void)
{
    CHECK(dr_fs_rm_rf(root) == 0);
}

TEST_MAIN(setup, test_find_upward, test_mkdir_over_a_file_fails, test_rm_rf_does_not_follow_links,
          test_write_atomic_modes, test_write_secret, test_failed_write_keeps_the_old_file,
          test_read_errors, test_read_chunks, teardown)
