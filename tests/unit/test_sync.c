/* Unit tests for src/aws/sync.c without a network: the plan (what is
 * copied, deleted, left alone), lazy MD5s, the local walk, the aws CLI's
 * display paths, and a folder-to-folder run. */
#include "dbtrun/sync.h"
#include "harness.h"
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MD5_HELLO "5eb63bbbe01eeed093cb22bb8f5acdc3" /* "hello world" */
#define MD5_OTHER "0123456789abcdef0123456789abcdef"

/* A local item with its MD5 given in advance (no file behind it). */
static void add_local(struct dr_sync_list *l, const char *path, long long size, time_t mtime,
                      const char *md5)
{
    CHECK(dr_sync_list_add(l, path, size, mtime, NULL) == 0);
    if (md5)
        snprintf(l->items[l->n - 1].md5, sizeof l->items[0].md5, "%s", md5);
}

static void add_remote(struct dr_sync_list *l, const char *path, long long size, time_t mtime,
                       const char *etag)
{
    CHECK(dr_sync_list_add(l, path, size, mtime, etag) == 0);
}

/* The plan as text: "copy a", "delete b", one per line. */
static char *plan_text(const struct dr_sync_plan *p, const struct dr_sync_list *src,
                       const struct dr_sync_list *dst)
{
    static char buf[4096];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        const struct dr_sync_op *op = &p->ops[i];
        const char *path =
            op->kind == DR_SYNC_COPY ? src->items[op->index].path : dst->items[op->index].path;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s %s\n",
                                op->kind == DR_SYNC_COPY ? "copy" : "delete", path);
    }
    return buf;
}

static struct dr_filter seed_filter(void)
{
    struct dr_filter f = {0};
    dr_filter_add(&f, 0, "*.json");
    dr_filter_add(&f, 1, "index.html");
    dr_filter_add(&f, 1, "catalog.json");
    dr_filter_add(&f, 1, "manifest.json");
    dr_filter_add(&f, 1, "run_results.json");
    return f;
}

/* The seed's docs deploy: target/ to s3://…/docs/ with --delete. */
static void test_seed_docs_upload(void)
{
    struct dr_sync_list src = {0}, dst = {0};
    struct dr_sync_plan plan;
    struct dr_filter f = seed_filter();
    struct dr_sync_opts o = {.filter = &f, .delete_extra = 1};
    char err[128];
    add_local(&src, "catalog.json", 11, 100, MD5_HELLO);        /* same as remote */
    add_local(&src, "compiled/a/model.sql", 5, 100, MD5_OTHER); /* new */
    add_local(&src, "graph.gpickle", 7, 100, MD5_OTHER);        /* new */
    add_local(&src, "index.html", 11, 100, MD5_OTHER);          /* same size, changed */
    add_local(&src, "manifest.json", 12, 100, MD5_OTHER);       /* size changed */
    add_local(&src, "run_results.json", 3, 100, MD5_OTHER);     /* new */
    add_local(&src, "semantic_manifest.json", 3, 100, NULL);    /* excluded */
    dr_sync_list_sort(&src);
    add_remote(&dst, "catalog.json", 11, 50, MD5_HELLO);
    add_remote(&dst, "index.html", 11, 50, MD5_HELLO);
    add_remote(&dst, "manifest.json", 11, 50, MD5_HELLO);
    add_remote(&dst, "old.html", 4, 50, MD5_HELLO);   /* deleted */
    add_remote(&dst, "stale.json", 4, 50, MD5_HELLO); /* excluded: survives */
    dr_sync_list_sort(&dst);
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK_STR(plan_text(&plan, &src, &dst), "copy compiled/a/model.sql\n"
                                            "copy graph.gpickle\n"
                                            "copy index.html\n"
                                            "copy manifest.json\n"
                                            "copy run_results.json\n"
                                            "delete old.html\n");
    CHECK(plan.unchanged == 1);
    CHECK(plan.excluded == 2);
    CHECK(plan.bytes == 5 + 7 + 11 + 12 + 3);
    dr_sync_plan_free(&plan);

    /* without --delete nothing is deleted */
    o.delete_extra = 0;
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK(strstr(plan_text(&plan, &src, &dst), "delete") == NULL);
    dr_sync_plan_free(&plan);

    /* without filters the excluded ones take part: stale.json goes too */
    o.delete_extra = 1;
    o.filter = NULL;
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK(strstr(plan_text(&plan, &src, &dst), "delete stale.json\n") != NULL);
    CHECK(strstr(plan_text(&plan, &src, &dst), "copy semantic_manifest.json\n") != NULL);
    dr_sync_plan_free(&plan);
    dr_filter_free(&f);
    dr_sync_list_free(&src);
    dr_sync_list_free(&dst);
}

/* A second sync of an unchanged tree plans nothing. */
static void test_unchanged_tree(void)
{
    struct dr_sync_list src = {0}, dst = {0};
    struct dr_sync_plan plan;
    struct dr_sync_opts o = {.delete_extra = 1};
    char err[128], name[32];
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "f%04d.html", i);
        /* newer than the remote copy: the MD5 decides */
        ok &= dr_sync_list_add(&src, name, 11, 100 + i, NULL) == 0;
        memcpy(src.items[src.n - 1].md5, MD5_HELLO, 33);
        ok &= dr_sync_list_add(&dst, name, 11, 50, MD5_HELLO) == 0;
    }
    CHECK(ok);
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK(plan.n == 0);
    CHECK(plan.unchanged == 1000);
    dr_sync_plan_free(&plan);
    dr_sync_list_free(&src);
    dr_sync_list_free(&dst);
}

/* Multipart ETags are no MD5: size and time decide. */
static void test_multipart_rule(void)
{
    struct dr_sync_list src = {0}, dst = {0};
    struct dr_sync_plan plan;
    struct dr_sync_opts o = {0};
    char err[128];
    add_local(&src, "big-new", 100, 200, MD5_OTHER);
    add_local(&src, "big-old", 100, 100, MD5_OTHER);
    add_local(&src, "big-same-time", 100, 150, MD5_OTHER);
    add_local(&src, "big-size", 101, 100, MD5_OTHER);
    add_remote(&dst, "big-new", 100, 150, "0732917abc3288784e318ac0aab1757a-2");
    add_remote(&dst, "big-old", 100, 150, "0732917abc3288784e318ac0aab1757a-2");
    add_remote(&dst, "big-same-time", 100, 150, "0732917abc3288784e318ac0aab1757a-2");
    add_remote(&dst, "big-size", 100, 150, "0732917abc3288784e318ac0aab1757a-2");
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK_STR(plan_text(&plan, &src, &dst), "copy big-new\ncopy big-size\n");
    dr_sync_plan_free(&plan);

    /* --size-only: only the size counts */
    o.size_only = 1;
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK_STR(plan_text(&plan, &src, &dst), "copy big-size\n");
    dr_sync_plan_free(&plan);
    dr_sync_list_free(&src);
    dr_sync_list_free(&dst);
}

/* S3 to local: the object's ETag against the file's MD5; local-only files
 * are deleted with --delete unless excluded. */
static void test_download_plan(void)
{
    struct dr_sync_list src = {0}, dst = {0};
    struct dr_sync_plan plan;
    struct dr_filter f = {0};
    struct dr_sync_opts o = {.filter = &f, .delete_extra = 1};
    char err[128];
    dr_filter_add(&f, 0, "keep/*");
    add_remote(&src, "a.json", 11, 500, MD5_HELLO);
    add_remote(&src, "b.json", 11, 50, MD5_HELLO); /* remote older, content differs */
    add_remote(&src, "c.json", 11, 50, MD5_HELLO);
    add_local(&dst, "a.json", 11, 100, MD5_HELLO); /* same content, older: still unchanged */
    add_local(&dst, "b.json", 11, 100, MD5_OTHER);
    add_local(&dst, "extra.txt", 1, 100, MD5_OTHER);
    add_local(&dst, "keep/mine.txt", 1, 100, MD5_OTHER);
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK_STR(plan_text(&plan, &src, &dst), "copy b.json\ncopy c.json\ndelete extra.txt\n");
    CHECK(plan.excluded == 1);
    dr_sync_plan_free(&plan);
    dr_filter_free(&f);
    dr_sync_list_free(&src);
    dr_sync_list_free(&dst);
}

static void write_rel(const char *rel, const char *text)
{
    write_text(in_root(rel), text);
}

/* MD5s are computed from the files, and only for same-size pairs. */
static void test_lazy_md5(void)
{
    struct dr_sync_list src = {0}, dst = {0};
    struct dr_sync_plan plan;
    struct dr_sync_opts o = {0};
    char err[256];
    mkdir(in_root("lazy"), 0777);
    mkdir(in_root("lazy/sub"), 0777);
    write_rel("lazy/same.txt", "hello world");
    write_rel("lazy/sub/changed.txt", "hello there");
    write_rel("lazy/bigger.txt", "hello world, and more");
    CHECK(dr_sync_list_local(in_root("lazy"), 0, &src, err, sizeof err) == 0);
    CHECK(src.n == 3);
    add_remote(&dst, "bigger.txt", 11, 0, MD5_HELLO);
    add_remote(&dst, "same.txt", 11, 0, MD5_HELLO);
    add_remote(&dst, "sub/changed.txt", 11, 0, MD5_HELLO);
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK_STR(plan_text(&plan, &src, &dst), "copy bigger.txt\ncopy sub/changed.txt\n");
    CHECK(plan.unchanged == 1);
    CHECK_STR(src.items[0].path, "bigger.txt");
    CHECK_STR(src.items[0].md5, ""); /* sizes differ: never hashed */
    CHECK_STR(src.items[1].md5, MD5_HELLO);
    CHECK(strlen(src.items[2].md5) == 32);
    dr_sync_plan_free(&plan);
    dr_sync_list_free(&src);
    dr_sync_list_free(&dst);
}

/* A multipart ETag that the file reproduces means unchanged even when the
 * file is newer; one it does not reproduce falls back to the times. */
static void test_multipart_etag_match(void)
{
    struct dr_sync_list src = {0}, dst = {0};
    struct dr_sync_plan plan;
    struct dr_sync_opts o = {0};
    char err[256];
    long long n = 9LL << 20;
    mkdir(in_root("mp"), 0777);
    FILE *f = fopen(in_root("mp/big.bin"), "w");
    for (long long i = 0; f && i < n; i++)
        fputc((int)(i % 251), f);
    if (f)
        fclose(f);
    CHECK(dr_sync_list_local(in_root("mp"), 0, &src, err, sizeof err) == 0);
    time_t newer = src.n ? src.items[0].mtime : 0;
    add_remote(&dst, "big.bin", n, newer - 100, "37125a966ca49112e55042631840ac42-2");
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK(plan.n == 0 && plan.unchanged == 1);
    dr_sync_plan_free(&plan);
    free(dst.items[0].etag);
    dst.items[0].etag = strdup("ffff5a966ca49112e55042631840ac42-2");
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK(plan.n == 1);
    dr_sync_plan_free(&plan);
    dst.items[0].mtime = newer + 100; /* uploaded after the last edit */
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK(plan.n == 0);
    dr_sync_plan_free(&plan);
    dr_sync_list_free(&src);
    dr_sync_list_free(&dst);
}

static void test_local_walk(void)
{
    struct dr_sync_list l = {0};
    char err[256];
    mkdir(in_root("walk"), 0777);
    mkdir(in_root("walk/b"), 0777);
    mkdir(in_root("walk/b/c"), 0777);
    mkdir(in_root("walk/empty"), 0777);
    write_rel("walk/z.txt", "z");
    write_rel("walk/.hidden", "h");
    write_rel("walk/b/c/deep file.json", "{}");
    write_rel("walk/a b+c%=.txt", "x");
    CHECK(symlink("b/c/deep file.json", in_root("walk/link.json")) == 0);
    CHECK(symlink("nowhere", in_root("walk/dangling")) == 0);
    CHECK(dr_sync_list_local(in_root("walk/"), 0, &l, err, sizeof err) == 0);
    CHECK(l.n == 5);
    if (l.n == 5) {
        CHECK_STR(l.items[0].path, ".hidden");
        CHECK_STR(l.items[1].path, "a b+c%=.txt");
        CHECK_STR(l.items[2].path, "b/c/deep file.json");
        CHECK(l.items[2].size == 2);
        CHECK_STR(l.items[3].path, "link.json"); /* links followed, as the aws CLI does */
        CHECK_STR(l.items[4].path, "z.txt");
        CHECK(l.items[4].etag == NULL);
    }
    CHECK_STR(l.root, in_root("walk"));
    dr_sync_list_free(&l);

    /* a link back up is a loop, refused */
    CHECK(symlink("..", in_root("walk/b/up")) == 0);
    CHECK(dr_sync_list_local(in_root("walk"), 0, &l, err, sizeof err) == -1);
    CHECK(strstr(err, "loop") != NULL);
    dr_sync_list_free(&l);
    unlink(in_root("walk/b/up"));

    /* as a destination: a linked folder is not walked (its files are not
     * ours to delete); a linked file is listed, as the link */
    mkdir(in_root("outside"), 0777);
    write_rel("outside/precious", "p");
    CHECK(symlink("../outside", in_root("walk/linked")) == 0);
    CHECK(dr_sync_list_local(in_root("walk"), 0, &l, err, sizeof err) == 0);
    CHECK(l.n == 6);
    dr_sync_list_free(&l);
    CHECK(dr_sync_list_local(in_root("walk"), DR_SYNC_DESTINATION, &l, err, sizeof err) == 0);
    CHECK(l.n == 5);
    for (size_t i = 0; i < l.n; i++)
        CHECK(strncmp(l.items[i].path, "linked", 6) != 0);
    dr_sync_list_free(&l);
    unlink(in_root("walk/linked"));

    CHECK(dr_sync_list_local(in_root("missing"), 1, &l, err, sizeof err) == 0 && l.n == 0);
    dr_sync_list_free(&l);
    CHECK(dr_sync_list_local(in_root("missing"), 0, &l, err, sizeof err) == -1);
    dr_sync_list_free(&l);
    CHECK(dr_sync_list_local(in_root("walk/z.txt"), 0, &l, err, sizeof err) == -1);
    dr_sync_list_free(&l);
}

static void check_display(const char *path, const char *cwd, const char *want)
{
    char *got = dr_sync_display_path(path, cwd);
    CHECK_STR(got, want);
    free(got);
}

static void test_display_path(void)
{
    check_display("target/index.html", "/w/p", "target/index.html");
    check_display("./target/./index.html", "/w/p", "target/index.html");
    check_display("a.txt", "/w/p", "./a.txt");
    check_display("/w/p/a.txt", "/w/p", "./a.txt");
    check_display("/tmp/x/y.json", "/w/p", "../../tmp/x/y.json");
    check_display("../q/f", "/w/p", "../q/f");
    check_display("/w/p/target//docs/", "/w/p", "target/docs");
    check_display("/f", "/", "./f");
}

/* The display prefix is what dr_sync_display_path puts before a plain rel,
 * for every folder and cwd it is given for; none where cwd is in the folder. */
static void test_display_prefix(void)
{
    static const char *const dirs[] = {"target",  "./target/", "target/./docs", "../q",   "/w/p",
                                       "/w/p/t",  "/w",        "/tmp/x/",       "a/../b", "/",
                                       "/w/p/..", "."};
    static const char *const cwds[] = {"/w/p", "/", "/w", "/w/p/target", "/tmp"};
    static const char *const rels[] = {"a.txt", "d9/f1.html", "x/y/z"};
    int prefixed = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++)
        for (size_t c = 0; c < sizeof cwds / sizeof cwds[0]; c++) {
            char *prefix = dr_sync_display_prefix(dirs[d], cwds[c]);
            prefixed += prefix != NULL;
            for (size_t r = 0; prefix && r < sizeof rels / sizeof rels[0]; r++) {
                char path[256], shown[512];
                snprintf(path, sizeof path, "%s/%s", dirs[d], rels[r]);
                snprintf(shown, sizeof shown, "%s%s", prefix, rels[r]);
                check_display(path, cwds[c], shown);
            }
            free(prefix);
        }
    CHECK(prefixed > 30);
    char *p = dr_sync_display_prefix("target", "/w/p");
    CHECK_STR(p, "target/");
    free(p);
    p = dr_sync_display_prefix("/tmp/x", "/w/p");
    CHECK_STR(p, "../../tmp/x/");
    free(p);
    CHECK((p = dr_sync_display_prefix(".", "/w/p")) == NULL); /* "./a.txt", but "d9/f1.html" */
    free(p);
    CHECK((p = dr_sync_display_prefix("/w", "/w/p/target")) == NULL);
    free(p);
}

/* Folder to folder, as file:// stores do: copies, deletes, a second run
 * does nothing, --dryrun changes nothing. */
static void test_run_local(void)
{
    struct dr_sync_stats st;
    struct dr_aws_error e = {0};
    struct dr_filter f = seed_filter();
    struct dr_sync_opts o = {.filter = &f, .delete_extra = 1};
    struct stat sb;
    char src[512], dst[512];
    mkdir(in_root("target"), 0777);
    mkdir(in_root("target/sub"), 0777);
    write_rel("target/index.html", "<html>");
    write_rel("target/manifest.json", "{}");
    write_rel("target/graph_summary.json", "{}");
    write_rel("target/sub/x.css", "a{}");
    mkdir(in_root("store"), 0777);
    write_rel("store/stale.json", "old");
    write_rel("store/old.html", "old");
    snprintf(src, sizeof src, "%s", in_root("target"));
    snprintf(dst, sizeof dst, "file://%s/", in_root("store"));

    o.dryrun = 1;
    CHECK(dr_sync_run(NULL, src, dst, &o, &st, &e) == 0);
    CHECK(st.copied == 3 && st.deleted == 1);
    CHECK(stat(in_root("store/index.html"), &sb) == -1);
    CHECK(stat(in_root("store/old.html"), &sb) == 0);

    o.dryrun = 0;
    CHECK(dr_sync_run(NULL, src, dst, &o, &st, &e) == 0);
    CHECK(st.copied == 3 && st.deleted == 1 && st.failed == 0);
    CHECK(stat(in_root("store/sub/x.css"), &sb) == 0 && sb.st_size == 3);
    CHECK(stat(in_root("store/old.html"), &sb) == -1);
    CHECK(stat(in_root("store/stale.json"), &sb) == 0);          /* excluded: kept */
    CHECK(stat(in_root("store/graph_summary.json"), &sb) == -1); /* excluded: not copied */

    CHECK(dr_sync_run(NULL, src, dst, &o, &st, &e) == 0);
    CHECK(st.copied == 0 && st.deleted == 0 && st.unchanged == 3);

    /* an edit of the same size is seen through the MD5 */
    write_rel("target/index.html", "<HTML>");
    CHECK(dr_sync_run(NULL, src, dst, &o, &st, &e) == 0);
    CHECK(st.copied == 1);

    CHECK(dr_sync_run(NULL, in_root("nope"), dst, &o, &st, &e) == -1);
    CHECK(e.code[0] != '\0');
    CHECK(dr_sync_run(NULL, "s3://b/p/", "s3://c/q/", &o, &st, &e) == -1);
    CHECK_STR(e.code, "InvalidArgument");
    dr_filter_free(&f);
}

/* A symbolic link inside the destination never leads a copy outside: the
 * key is refused before any folder is made, and the other keys still go. */
static void test_run_through_symlink(void)
{
    struct dr_sync_stats st;
    struct dr_aws_error e = {0};
    struct dr_sync_opts o = {.force = 1};
    struct stat sb;
    char src[512], dst[512];
    mkdir(in_root("lsrc"), 0777);
    mkdir(in_root("lsrc/link"), 0777);
    mkdir(in_root("lsrc/link/newdir"), 0777);
    write_rel("lsrc/link/newdir/f.txt", "x");
    write_rel("lsrc/link/g.txt", "x");
    write_rel("lsrc/ok.txt", "x");
    mkdir(in_root("ldst"), 0777);
    mkdir(in_root("outside"), 0777);
    CHECK(symlink("../outside", in_root("ldst/link")) == 0);
    snprintf(src, sizeof src, "%s", in_root("lsrc"));
    snprintf(dst, sizeof dst, "%s", in_root("ldst"));
    CHECK(dr_sync_run(NULL, src, dst, &o, &st, &e) == -1);
    CHECK(st.failed == 2 && st.copied == 1);
    CHECK_STR(e.code, "UnsafeKey");
    CHECK(strstr(e.message, "symbolic link") != NULL);
    CHECK(stat(in_root("outside/newdir"), &sb) == -1);
    CHECK(stat(in_root("outside/g.txt"), &sb) == -1);
    CHECK(stat(in_root("ldst/ok.txt"), &sb) == 0);
    /* a sync (which lists the destination) refuses the same way */
    o.force = 0;
    CHECK(dr_sync_run(NULL, src, dst, &o, &st, &e) == -1);
    CHECK(st.failed == 2);
    CHECK(stat(in_root("outside/newdir"), &sb) == -1);
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
}

static void setup(void)
{
    CHECK(mkdtemp(root) != NULL);
}

/* Issue 19, case 4: like the aws CLI, only empty "folder" markers are left
 * out of an S3 listing; a stale non-empty `d/` (or the prefix itself, path
 * "") is an item that --delete removes. */
static void test_slash_keys(void)
{
    CHECK(dr_sync_s3_listed("d/", 0) == 0);
    CHECK(dr_sync_s3_listed("", 0) == 0);
    CHECK(dr_sync_s3_listed("d/", 2) == 1);
    CHECK(dr_sync_s3_listed("", 1) == 1);
    CHECK(dr_sync_s3_listed("a.txt", 0) == 1);
    CHECK(dr_sync_s3_listed("a/b", 3) == 1);
    struct dr_sync_list src = {0}, dst = {0};
    struct dr_sync_plan plan;
    struct dr_sync_opts o = {.delete_extra = 1};
    char err[128];
    add_local(&src, "d/x", 1, 1, MD5_OTHER);
    add_remote(&dst, "", 1, 1, MD5_OTHER);
    add_remote(&dst, "d/", 2, 1, MD5_OTHER);
    add_remote(&dst, "d/x", 1, 1, MD5_OTHER);
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK_STR(plan_text(&plan, &src, &dst), "delete \ndelete d/\n");
    dr_sync_plan_free(&plan);
    /* an empty pattern matches the prefix's own object only: it stays */
    struct dr_filter f = {0};
    CHECK(dr_filter_add(&f, 0, "") == 0);
    o.filter = &f;
    CHECK(dr_sync_plan_make(&src, &dst, &o, &plan, err, sizeof err) == 0);
    CHECK_STR(plan_text(&plan, &src, &dst), "delete d/\n");
    dr_sync_plan_free(&plan);
    dr_filter_free(&f);
    dr_sync_list_free(&src);
    dr_sync_list_free(&dst);
}

TEST_MAIN(setup, test_seed_docs_upload, test_unchanged_tree, test_multipart_rule,
          test_download_plan, test_lazy_md5, test_multipart_etag_match, test_local_walk,
          test_display_path, test_display_prefix, test_run_local, test_run_through_symlink,
          test_slash_keys, cleanup)
