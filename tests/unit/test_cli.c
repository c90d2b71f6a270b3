/* Unit tests for the command-line parser (runner/cli.c). */
#include "dbtrun/cli.h"
#include "harness.h"
#include "words.h"

#include <stdlib.h>

/* Parses "dbtrun|" + spec. */
static int parse(const char *spec, struct dr_cli *cli)
{
    char full[512];
    int argc;
    snprintf(full, sizeof full, "dbtrun%s%s", *spec ? "|" : "", spec);
    char **argv = words(full, &argc);
    return dr_cli_parse(argc, argv, cli);
}

static void test_no_arguments_lists(void)
{
    struct dr_cli cli;
    CHECK(parse("", &cli) == 0);
    CHECK(cli.run.task == NULL);
    CHECK(cli.run.yes == 0);
    CHECK_STR(cli.run.color, "auto");
    dr_cli_free(&cli);
}

static void test_task_arguments_pass_untouched(void)
{
    struct dr_cli cli;
    CHECK(parse("-n|dev|--fail-fast|-v|a b|--set|x=y", &cli) == 0);
    CHECK(cli.run.dry_run == 1);
    CHECK(cli.run.verbose == 0); /* -v after the task belongs to the task */
    CHECK(cli.run.nsets == 0);
    CHECK_STR(cli.run.task, "dev");
    CHECK(cli.run.nargs == 5);
    CHECK_STR(cli.run.args[0], "--fail-fast");
    CHECK_STR(cli.run.args[2], "a b");
    dr_cli_free(&cli);
}

static void test_values_in_all_forms(void)
{
    struct dr_cli cli;
    CHECK(parse("-f|x.lua|--directory=sub|--set|a=1|--set=b.c=2|--color|never|-Cother|t", &cli) ==
          0);
    CHECK_STR(cli.run.file, "x.lua");
    CHECK_STR(cli.run.directory, "other"); /* the last one wins */
    CHECK(cli.run.nsets == 2);
    CHECK_STR(cli.run.sets[0], "a=1");
    CHECK_STR(cli.run.sets[1], "b.c=2");
    CHECK_STR(cli.run.color, "never");
    CHECK_STR(cli.run.task, "t");
    dr_cli_free(&cli);
}

static void test_usage_takes_a_task(void)
{
    struct dr_cli cli;
    CHECK(parse("--usage|dev-select", &cli) == 0);
    CHECK_STR(cli.run.usage, "dev-select");
    CHECK(cli.run.task == NULL);
    dr_cli_free(&cli);
    CHECK(parse("--usage=ci", &cli) == 0);
    CHECK_STR(cli.run.usage, "ci");
    dr_cli_free(&cli);
    CHECK(parse("--usage", &cli) == -1);
    dr_cli_free(&cli);
}

static void test_combined_flags_and_double_dash(void)
{
    struct dr_cli cli;
    CHECK(parse("-nvv|-qy|--|-weird-task|x", &cli) == 0);
    CHECK(cli.run.dry_run && cli.run.quiet && cli.run.yes && cli.run.verbose == 2);
    CHECK_STR(cli.run.task, "-weird-task");
    CHECK(cli.run.nargs == 1);
    dr_cli_free(&cli);
}

static void test_errors_are_explained(void)
{
    struct dr_cli cli;
    CHECK(parse("--frobnicate", &cli) == -1);
    CHECK(strstr(cli.err, "--frobnicate") != NULL);
    dr_cli_free(&cli);
    CHECK(parse("-x", &cli) == -1);
    CHECK(strstr(cli.err, "-x") != NULL);
    dr_cli_free(&cli);
    CHECK(parse("-f", &cli) == -1);
    CHECK(strstr(cli.err, "needs a value") != NULL);
    dr_cli_free(&cli);
    CHECK(parse("--set|novalue", &cli) == -1);
    CHECK(strstr(cli.err, "KEY=VALUE") != NULL);
    dr_cli_free(&cli);
    CHECK(parse("--color=sometimes", &cli) == -1);
    CHECK(strstr(cli.err, "sometimes") != NULL);
    dr_cli_free(&cli);
}

static void test_long_flags(void)
{
    struct dr_cli cli;
    CHECK(parse("--list|--json|--dry-run|--quiet|--verbose|--summary|--yes", &cli) == 0);
    CHECK(cli.run.list && cli.run.json && cli.run.dry_run && cli.run.quiet &&
          cli.run.verbose == 1 && cli.run.summary && cli.run.yes);
    dr_cli_free(&cli);
    CHECK(parse("--help", &cli) == 0 && cli.help);
    dr_cli_free(&cli);
    CHECK(parse("--version", &cli) == 0 && cli.version);
    dr_cli_free(&cli);
}

static void test_kill_after(void)
{
    struct dr_cli cli;
    unsetenv("DBTRUN_KILL_AFTER");
    CHECK(parse("t", &cli) == 0 && cli.run.kill_after_ms == -1);
    dr_cli_free(&cli);
    CHECK(parse("--kill-after|1.5|t", &cli) == 0 && cli.run.kill_after_ms == 1500);
    dr_cli_free(&cli);
    CHECK(parse("--kill-after|abc|t", &cli) == -1 && strstr(cli.err, "'abc'") != NULL);
    dr_cli_free(&cli);
    setenv("DBTRUN_KILL_AFTER", "2", 1);
    CHECK(parse("t", &cli) == 0 && cli.run.kill_after_ms == 2000);
    dr_cli_free(&cli);
    CHECK(parse("--kill-after=0|t", &cli) == 0 && cli.run.kill_after_ms == 0); /* the option wins */
    dr_cli_free(&cli);
    setenv("DBTRUN_KILL_AFTER", "later", 1);
    CHECK(parse("t", &cli) == -1 && strstr(cli.err, "DBTRUN_KILL_AFTER") != NULL);
    dr_cli_free(&cli);
    unsetenv("DBTRUN_KILL_AFTER");
}

TEST_MAIN(test_no_arguments_lists, test_task_arguments_pass_untouched, test_values_in_all_forms,
          test_usage_takes_a_task, test_combined_flags_and_double_dash, test_errors_are_explained,
          test_long_flags, test_kill_after)
