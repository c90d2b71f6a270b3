/* Unit tests for src/fs.c: upward search, mkdir -p, rm -rf, atomic writes. */
#include "dbtrun/fs.h"
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/dbtrun-test-fs-XXXXXX";

static char *path_in(const char *rel)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", root, rel);
    return p;
}

static void touch(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_find_upward(void)
{
    char *dir = NULL;
    CHECK(dr_fs_mkdir_p(path_in("a/b/c"), 0777) == 0);
    touch(path_in("a/dbtrun.lua"), "");
    CHECK(dr_fs_find_upward(path_in("a/b/c"), "dbtrun.lua", &dir) == 0);
    CHECK_STR(dir, path_in("a"));
    free(dir);
    CHECK(dr_fs_find_upward(path_in("a"), "dbtrun.lua", &dir) == 0);
    CHECK_STR(dir, path_in("a"));
    free(dir);
    /* the nearest one wins */
    touch(path_in("a/b/dbtrun.lua"), "");
    CHECK(dr_fs_find_upward(path_in("a/b/c"), "dbtrun.lua", &dir) == 0);
    CHECK_STR(dir, path_in("a/b"));
    free(dir);
    /* a folder with the name is not a task file */
    CHECK(dr_fs_mkdir_p(path_in("a/b/c/x.lua"), 0777) == 0);
    CHECK(dr_fs_find_upward(path_in("a/b/c"), "x.lua", &dir) == -1);
    CHECK(dr_fs_find_upward("/", "surely-not-here-dbtrun.lua", &dir) == -1);
}

static void test_mkdir_over_a_file_fails(void)
{
    touch(path_in("plain"), "x");
    errno = 0;
    CHECK(dr_fs_mkdir_p(path_in("plain"), 0777) == -1 && errno == ENOTDIR);
    CHECK(dr_fs_mkdir_p(path_in("plain/sub"), 0777) == -1);
}

static void test_rm_rf_does_not_follow_links(void)
{
    struct stat st;
    CHECK(dr_fs_mkdir_p(path_in("keep"), 0777) == 0);
    touch(path_in("keep/precious"), "x");
    CHECK(dr_fs_mkdir_p(path_in("gone/deep/er"), 0777) == 0);
    touch(path_in("gone/deep/er/f"), "x");
    CHECK(symlink(path_in("keep"), path_in("gone/link")) == 0);
    CHECK(dr_fs_rm_rf(path_in("gone")) == 0);
    CHECK(lstat(path_in("gone"), &st) == -1);
    CHECK(stat(path_in("keep/precious"), &st) == 0);
    CHECK(dr_fs_rm_rf(path_in("never-existed")) == 0);
}

static void test_write_atomic_modes(void)
{
    struct stat st;
    char *data;
    size_t len;
    CHECK(dr_fs_write_atomic(path_in("secret.pem"), "KEY", 3, 0600) == 0);
    CHECK(stat(path_in("secret.pem"), &st) == 0 && (st.st_mode & 07777) == 0600);
    mode_t old = umask(022);
    CHECK(dr_fs_write_atomic(path_in("plain.txt"), "hello", 5, -1) == 0);
    umask(old);
    CHECK(stat(path_in("plain.txt"), &st) == 0 && (st.st_mode & 07777) == 0644);
    CHECK(dr_fs_read(path_in("plain.txt"), &data, &len) == 0);
    CHECK(len == 5);
    CHECK_STR(data, "hello");
    free(data);
}

static void test_failed_write_keeps_the_old_file(void)
{
    char *data;
    size_t len;
    touch(path_in("good.json"), "{\"good\": true}");
    /* a folder where the temporary file cannot be created */
    CHECK(dr_fs_write_atomic(path_in("no/such/dir/good.json"), "x", 1, -1) == -1);
    /* rename onto a folder fails: the old content is still there, no temp left */
    CHECK(dr_fs_mkdir_p(path_in("adir"), 0777) == 0);
    touch(path_in("adir/inside"), "x");
    CHECK(dr_fs_write_atomic(path_in("adir"), "x", 1, -1) == -1);
    CHECK(dr_fs_read(path_in("good.json"), &data, &len) == 0);
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
    CHECK(dr_fs_read(path_in("missing"), &data, &len) == -1 && errno == ENOENT);
    CHECK(dr_fs_read(root, &data, &len) == -1 && errno == EISDIR);
    CHECK(dr_fs_read("/proc/self/status", &data, &len) == 0 && len > 0); /* size 0 in stat */
    free(data);
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
          test_write_atomic_modes, test_failed_write_keeps_the_old_file, test_read_errors, teardown)
