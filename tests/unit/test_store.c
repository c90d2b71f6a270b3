/* Unit tests for src/dbt/store.c with file:// locations (no network): missing
 * artifacts, atomic replacement, unchanged files left alone, bad names. */
#include "dbtrun/store.h"
#include "harness.h"
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *read_all(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static void test_get_put(void)
{
    struct dr_store_result res;
    struct dr_aws_error e = {0};
    struct stat before, after;
    char loc[600];
    snprintf(loc, sizeof loc, "file://%s/store/artifacts/", root);

    /* nothing stored yet: NoSuchKey, like S3, and the local file untouched */
    write_text(in_root("manifest.json"), "local");
    CHECK(dr_store_get(NULL, loc, "manifest.json", in_root("manifest.json"), NULL, &res, &e) == -1);
    CHECK_STR(e.code, "NoSuchKey");
    CHECK_STR(read_all(in_root("manifest.json")), "local");

    /* put creates the folders; a second put of the same bytes changes nothing */
    write_text(in_root("target.json"), "{\"v\": 1}");
    CHECK(dr_store_put(NULL, loc, "manifest.json", in_root("target.json"), NULL, &res, &e) == 0);
    CHECK(res.changed == 1 && res.size == 8);
    CHECK_STR(read_all(in_root("store/artifacts/manifest.json")), "{\"v\": 1}");
    CHECK(dr_store_put(NULL, loc, "manifest.json", in_root("target.json"), NULL, &res, &e) == 0);
    CHECK(res.changed == 0);

    /* get into a new folder, then again: the file is left as it is */
    CHECK(dr_store_get(NULL, loc, "manifest.json", in_root(".artifacts/manifest.json"), NULL, &res,
                       &e) == 0);
    CHECK(res.changed == 1);
    CHECK_STR(read_all(in_root(".artifacts/manifest.json")), "{\"v\": 1}");
    CHECK(stat(in_root(".artifacts/manifest.json"), &before) == 0);
    CHECK(dr_store_get(NULL, loc, "manifest.json", in_root(".artifacts/manifest.json"), NULL, &res,
                       &e) == 0);
    CHECK(res.changed == 0);
    CHECK(stat(in_root(".artifacts/manifest.json"), &after) == 0);
    CHECK(before.st_ino == after.st_ino);
    CHECK(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
          before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);

    /* a new version of the same size is seen (MD5) and replaces the file */
    write_text(in_root("target.json"), "{\"v\": 2}");
    CHECK(dr_store_put(NULL, loc, "manifest.json", in_root("target.json"), NULL, &res, &e) == 0);
    CHECK(res.changed == 1);
    CHECK(dr_store_get(NULL, loc, "manifest.json", in_root(".artifacts/manifest.json"), NULL, &res,
                       &e) == 0);
    CHECK(res.changed == 1);
    CHECK_STR(read_all(in_root(".artifacts/manifest.json")), "{\"v\": 2}");
    CHECK(stat(in_root(".artifacts/manifest.json"), &after) == 0);
    CHECK(before.st_ino != after.st_ino); /* replaced by rename, never rewritten in place */

    /* no temporary files left behind */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%.600s/.artifacts')\" = manifest.json", root);
    CHECK(system(cmd) == 0);
}

static void test_bad_names(void)
{
    struct dr_aws_error e = {0};
    char loc[600];
    snprintf(loc, sizeof loc, "file://%s/store/", root);
    write_text(in_root("x"), "x");
    CHECK(dr_store_put(NULL, loc, "../escape", in_root("x"), NULL, NULL, &e) == -1);
    CHECK_STR(e.code, "InvalidArgument");
    CHECK(access(in_root("escape"), F_OK) == -1);
    CHECK(dr_store_put(NULL, loc, "/abs", in_root("x"), NULL, NULL, &e) == -1);
    CHECK(dr_store_get(NULL, loc, "a/../../x", in_root("y"), NULL, NULL, &e) == -1);
    CHECK(dr_store_put(NULL, loc, "", in_root("x"), NULL, NULL, &e) == -1);
    CHECK(dr_store_put(NULL, "s3://bucket/p/", "k", in_root("x"), NULL, NULL, &e) == -1);
    CHECK_STR(e.code, "InvalidArgument"); /* s3:// without a client */
    CHECK(dr_store_put(NULL, loc, "k", in_root("missing"), NULL, NULL, &e) == -1);
    CHECK_STR(e.code, "LocalError");
    CHECK(dr_store_is_s3("s3://b/") == 1);
    CHECK(dr_store_is_s3("file://x") == 0);
    CHECK(dr_store_is_s3(NULL) == 0);
}

static void test_default_location(void)
{
    struct dr_aws_error e = {0};
    struct dr_store_result res;
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(root) == 0);
    write_text("art.txt", "abc");
    CHECK(dr_store_put(NULL, NULL, "artifacts/art.txt", "art.txt", NULL, &res, &e) == 0);
    CHECK_STR(read_all(".dbtrun/store/artifacts/art.txt"), "abc");
    CHECK(chdir(cwd) == 0);
}

static void test_sync_folders(void)
{
    struct dr_aws_error e = {0};
    struct dr_sync_stats st;
    struct dr_sync_opts o = {.delete_extra = 1};
    char src[600], dst[600];
    mkdir(in_root("docs"), 0777);
    write_text(in_root("docs/index.html"), "<html>");
    snprintf(src, sizeof src, "file://%s/docs/", root);
    snprintf(dst, sizeof dst, "file://%s/store/docs/", root);
    CHECK(dr_store_sync(NULL, src, dst, &o, &st, &e) == 0);
    CHECK(st.copied == 1);
    CHECK(dr_store_sync(NULL, src, dst, &o, &st, &e) == 0);
    CHECK(st.copied == 0 && st.unchanged == 1);
}

static void setup(void)
{
    CHECK(mkdtemp(root) != NULL);
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
}

TEST_MAIN(setup, test_get_put, test_bad_names, test_default_location, test_sync_folders, cleanup)
