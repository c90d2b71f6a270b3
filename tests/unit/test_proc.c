/* Unit tests for src/base/proc.c: exit codes, capture, cwd, environment. */
#include "dbtrun/proc.h"
#include "harness.h"
#include "procs.h"
#include "words.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

/* Runs the words of `spec` ("prog|arg|arg"). */
static int run(const char *spec, char **envp, const char *cwd, int capture,
               struct dr_proc_result *r)
{
    struct dr_proc_opts o = {words(spec, NULL), envp, cwd, capture, NULL, 0, NULL};
    char err[256];
    return dr_proc_run(&o, r, err, sizeof err);
}

static void test_exit_codes(void)
{
    struct dr_proc_result r;
    CHECK(run("true", NULL, NULL, 0, &r) == 0 && r.exit_code == 0);
    CHECK(run("sh|-c|exit 7", NULL, NULL, 0, &r) == 0 && r.exit_code == 7);
    CHECK(run("sh|-c|kill -9 $$", NULL, NULL, 0, &r) == 0 && r.exit_code == 128 + 9);
    CHECK(r.interrupted == 0);
}

static void test_not_found_is_127(void)
{
    struct dr_proc_result r;
    struct dr_proc_opts o = {words("dbtrun-no-such-program", NULL), NULL, NULL, 0, NULL, 0, NULL};
    char err[256];
    CHECK(dr_proc_run(&o, &r, err, sizeof err) == -1);
    CHECK(r.exit_code == 127);
    CHECK(strstr(err, "command not found") != NULL);
}

static void test_capture_cwd_and_env(void)
{
    struct dr_proc_result r;
    char greeting[] = "GREETING=hi there", path[] = "PATH=/usr/bin:/bin";
    char *envp[] = {greeting, path, NULL};
    CHECK(run("sh|-c|pwd; echo \"$GREETING\"", envp, "/", 1, &r) == 0);
    CHECK_STR(r.out, "/\nhi there\n");
    CHECK(r.out_len == 11);
    free(r.out);
}

static void test_arguments_are_not_split(void)
{
    struct dr_proc_result r;
    CHECK(run("printf|<%s>|a b|it's|$HOME|*", NULL, NULL, 1, &r) == 0);
    CHECK_STR(r.out, "<a b><it's><$HOME><*>");
    free(r.out);
}

static void test_child_has_its_own_group(void)
{
    struct dr_proc_result r;
    CHECK(run("sh|-c|read p c s pp pgrp rest </proc/$$/stat; echo $pgrp; echo $$", NULL, NULL, 1,
              &r) == 0);
    char *nl = strchr(r.out, '\n');
    CHECK(nl && strncmp(r.out, nl + 1, (size_t)(nl - r.out)) == 0); /* pgid == pid */
    free(r.out);
}

/* A child (and its grandchild, which holds the pipe) that ignores every
 * polite signal is killed, group and all, when timeout_ms runs out. */
static void test_timeout_kills_the_group(void)
{
    struct dr_proc_result r;
    struct dr_proc_opts o = {words("sh|-c|trap '' TERM INT HUP; sleep 300 & echo $!; wait", NULL),
                             NULL,
                             NULL,
                             1,
                             NULL,
                             300,
                             NULL};
    char err[256];
    time_t start = time(NULL);
    CHECK(dr_proc_run(&o, &r, err, sizeof err) == 0);
    CHECK(time(NULL) - start < 10);
    CHECK(r.timed_out == 1);
    CHECK(r.exit_code == 128 + SIGKILL);
    CHECK(r.interrupted == 0);
    pid_t grandchild = r.out ? (pid_t)atoi(r.out) : 0;
    CHECK(grandchild > 0 && gone_soon(grandchild));
    free(r.out);
}

static void test_no_timeout_when_quick(void)
{
    struct dr_proc_result r;
    struct dr_proc_opts o = {words("sh|-c|echo ok", NULL), NULL, NULL, 1, NULL, 5000, NULL};
    char err[256];
    CHECK(dr_proc_run(&o, &r, err, sizeof err) == 0);
    CHECK(r.timed_out == 0 && r.exit_code == 0);
    CHECK_STR(r.out, "ok\n");
    free(r.out);
}

static void test_parse_seconds(void)
{
    long ms = -1;
    CHECK(dr_proc_parse_seconds("5", &ms) == 0 && ms == 5000);
    CHECK(dr_proc_parse_seconds("0.25", &ms) == 0 && ms == 250);
    CHECK(dr_proc_parse_seconds("0", &ms) == 0 && ms == 0);
    CHECK(dr_proc_parse_seconds("abc", &ms) == -1);
    CHECK(dr_proc_parse_seconds("", &ms) == -1);
    CHECK(dr_proc_parse_seconds("-1", &ms) == -1);
    CHECK(dr_proc_parse_seconds("5s", &ms) == -1);
    CHECK(dr_proc_parse_seconds("nan", &ms) == -1);
    CHECK(dr_proc_parse_seconds(NULL, &ms) == -1);
}

/* Starts the words of `spec` beside others, with `prefix`. */
static struct dr_proc_child *start(const char *spec, int capture, const char *prefix, int *code)
{
    struct dr_proc_opts o = {words(spec, NULL), NULL, NULL, capture, NULL, 0, NULL};
    char err[256];
    return dr_proc_start(&o, prefix, code, err, sizeof err);
}

/* Waits for every child and collects each; codes[i] gets kids[i]'s code. */
static void collect_all(struct dr_proc_child **kids, size_t n, int *codes, char **outs)
{
    struct dr_proc_child *left[8];
    size_t index[8], m = n;
    char err[256];
    for (size_t i = 0; i < n; i++)
        left[i] = kids[i], index[i] = i;
    while (m > 0) {
        int k = dr_proc_wait_any(left, m);
        struct dr_proc_result r;
        CHECK(k >= 0 && dr_proc_collect(left[k], &r, err, sizeof err) == 0);
        codes[index[k]] = r.exit_code;
        outs[index[k]] = r.out;
        left[k] = left[m - 1], index[k] = index[m - 1];
        m--;
    }
}

static void test_children_side_by_side(void)
{
    int code = 0, codes[2];
    char *outs[2];
    /* Each waits for the other's file: passes only when both run at once. */
    struct dr_proc_child *kids[2] = {
        start("sh|-c|cd /tmp; touch dr-a.$PPID; "
              "i=0; while [ ! -f dr-b.$PPID ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
              "rm -f dr-b.$PPID; echo a; exit 3",
              1, "", &code),
        start("sh|-c|cd /tmp; touch dr-b.$PPID; "
              "i=0; while [ ! -f dr-a.$PPID ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
              "rm -f dr-a.$PPID; echo b",
              1, "", &code)};
    CHECK(kids[0] && kids[1]);
    if (!kids[0] || !kids[1])
        return;
    collect_all(kids, 2, codes, outs);
    CHECK(codes[0] == 3 && codes[1] == 0);
    CHECK_STR(outs[0], "a\n");
    CHECK_STR(outs[1], "b\n");
    free(outs[0]);
    free(outs[1]);
}

static void test_start_not_found_is_127(void)
{
    int code = 0;
    CHECK(start("dbtrun-no-such-program", 0, "", &code) == NULL && code == 127);
}

static void test_stop_ends_the_group(void)
{
    int code = 0, codes[1];
    char *outs[1];
    dr_proc_set_kill_after(200);
    struct dr_proc_child *kids[1] = {
        start("sh|-c|trap '' TERM; while :; do sleep 0.05; done", 0, "", &code)};
    CHECK(kids[0] != NULL);
    if (!kids[0])
        return;
    dr_proc_stop(kids[0]); /* TERM is ignored (once the trap is set): SIGKILL after the grace */
    collect_all(kids, 1, codes, outs);
    CHECK(codes[0] == 128 + SIGKILL || codes[0] == 128 + SIGTERM);
    dr_proc_set_kill_after(-1);
}

/* Runs one prefixed child with fd 1 and 2 sent to a file; returns its text. */
static char *relayed(const char *spec, const char *prefix)
{
    char path[] = "/tmp/dr-relay-XXXXXX", *text = NULL;
    int fd = mkstemp(path), saved[2] = {dup(1), dup(2)}, code, codes[1];
    char *outs[1];
    fflush(stdout);
    dup2(fd, 1);
    dup2(fd, 2);
    struct dr_proc_child *kids[1] = {start(spec, 0, prefix, &code)};
    if (kids[0])
        collect_all(kids, 1, codes, outs);
    dup2(saved[0], 1);
    dup2(saved[1], 2);
    close(saved[0]);
    close(saved[1]);
    off_t n = lseek(fd, 0, SEEK_END);
    text = calloc(1, (size_t)n + 1);
    if (text && pread(fd, text, (size_t)n, 0) != n)
        text[0] = '\0';
    close(fd);
    unlink(path);
    return text;
}

static void test_prefixed_whole_lines(void)
{
    char *text = relayed("sh|-c|printf 'one '; sleep 0.05; printf 'two\\n\\nthree'", "[p] ");
    CHECK_STR(text, "[p] one two\n[p] \n[p] three\n");
    free(text);
    /* A line longer than the cap is cut there rather than held forever. */
    text = relayed("sh|-c|printf '%070000d' 0", "> ");
    CHECK(text && strlen(text) == 70000 + 2 * 3 && strncmp(text, "> 00", 4) == 0);
    CHECK(text && text[2 + DR_PROC_LINE_MAX] == '\n');
    free(text);
}

TEST_MAIN(test_exit_codes, test_not_found_is_127, test_capture_cwd_and_env,
          test_arguments_are_not_split, test_child_has_its_own_group, test_timeout_kills_the_group,
          test_no_timeout_when_quick, test_parse_seconds, test_children_side_by_side,
          test_start_not_found_is_127, test_stop_ends_the_group, test_prefixed_whole_lines)
