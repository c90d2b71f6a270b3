/* Unit tests for src/base/proc.c: exit codes, capture, cwd, environment. */
#include "dbtrun/proc.h"
#include "harness.h"
#include "procs.h"
#include "words.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Runs the words of `spec` ("prog|arg|arg"). */
static int run(const char *spec, char **envp, const char *cwd, int capture,
               struct dr_proc_result *r)
{
    struct dr_proc_opts o = {words(spec, NULL), envp, cwd, capture, NULL, 0};
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
    struct dr_proc_opts o = {words("dbtrun-no-such-program", NULL), NULL, NULL, 0, NULL, 0};
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
                             300};
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
    struct dr_proc_opts o = {words("sh|-c|echo ok", NULL), NULL, NULL, 1, NULL, 5000};
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

TEST_MAIN(test_exit_codes, test_not_found_is_127, test_capture_cwd_and_env,
          test_arguments_are_not_split, test_child_has_its_own_group, test_timeout_kills_the_group,
          test_no_timeout_when_quick, test_parse_seconds)
