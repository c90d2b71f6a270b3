/* cli: parses dbtrun's options. Global options stop at the first word that
 * is not an option: that word is the task and the rest are its arguments,
 * passed through untouched (`dbtrun dev --fail-fast`). */
#include "dbtrun/cli.h"
#include "dbtrun/proc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char dr_cli_usage[] =
    "usage: dbtrun [OPTIONS] [TASK [ARG...]]\n"
    "\n"
    "  -l, --list             list tasks with their parameters and docs (default)\n"
    "  -n, --dry-run          print each command instead of running it\n"
    "      --json             list tasks as JSON\n"
    "      --usage TASK       one task's usage line, parameters and doc\n"
    "  -f, --file PATH        task file (default: dbtrun.lua here or in a parent)\n"
    "  -C, --directory DIR    run as if started in DIR\n"
    "      --set KEY=VALUE    override a config value (also DBTRUN_<KEY>)\n"
    "      --dotenv PATH      load variables from PATH before the task runs\n"
    "                         (the real environment wins; see config.dotenv)\n"
    "      --kill-after SECS  after SIGINT/SIGTERM, SIGKILL a command that has not\n"
    "                         ended within SECS (default 5; also DBTRUN_KILL_AFTER)\n"
    "  -v, --verbose          say more (repeatable)\n"
    "  -q, --quiet            do not echo commands\n"
    "  -y, --yes              answer yes to every confirmation (needed without a terminal)\n"
    "      --color WHEN       auto, always or never (NO_COLOR is honoured)\n"
    "      --completions SH   print a completion script for bash, zsh or fish\n"
    "  -h, --help             this text\n"
    "      --version          dbtrun's version\n";

/* Options that take a value, by long and short name. */
struct valued {
    const char *longname;
    char shortname;
    const char **slot;
};

__attribute__((format(printf, 2, 3))) static int fail(struct dr_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cli->err, sizeof cli->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int set_flag(struct dr_cli *cli, char c)
{
    switch (c) {
    case 'l':
        cli->run.list = 1;
        return 0;
    case 'n':
        cli->run.dry_run = 1;
        return 0;
    case 'v':
        cli->run.verbose++;
        return 0;
    case 'q':
        cli->run.quiet = 1;
        return 0;
    case 'y':
        cli->run.yes = 1;
        return 0;
    case 'h':
        cli->help = 1;
        return 0;
    default:
        return -1;
    }
}

static int set_long_flag(struct dr_cli *cli, const char *name)
{
    static const struct {
        const char *name;
        char flag;
    } longs[] = {{"list", 'l'},  {"dry-run", 'n'}, {"verbose", 'v'},
                 {"quiet", 'q'}, {"yes", 'y'},     {"help", 'h'}};
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++)
        if (strcmp(name, longs[i].name) == 0)
            return set_flag(cli, longs[i].flag);
    if (strcmp(name, "json") == 0)
        cli->run.json = 1;
    else if (strcmp(name, "version") == 0)
        cli->version = 1;
    else if (strcmp(name, "summary") == 0)
        cli->run.summary = 1;
    else if (strcmp(name, "complete") == 0) /* for the completion scripts */
        cli->run.complete = 1;
    else
        return -1;
    return 0;
}

/* Handles an option with a value; returns the number of argv words used,
 * 0 if `arg` is not such an option, -1 on error. */
static int take_value(struct dr_cli *cli, int argc, char **argv, int i)
{
    const char *set = NULL;
    struct valued opts[] = {
        {"kill-after", 0, &cli->kill_after},
        {"file", 'f', &cli->run.file},
        {"directory", 'C', &cli->run.directory},
        {"color", 0, &cli->run.color},
        {"completions", 0, &cli->run.completions},
        {"script", 0, &cli->run.script},
        {"usage", 0, &cli->run.usage},
        {"set", 0, &set},
        {"dotenv", 0, &cli->run.dotenv}, /* read by main.lua only when a task runs */
    };
    const char *arg = argv[i];
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        const char *value = NULL;
        int used = 0;
        size_t n = strlen(opts[k].longname);
        if (arg[1] == '-' && strncmp(arg + 2, opts[k].longname, n) == 0 &&
            (arg[2 + n] == '=' || arg[2 + n] == '\0')) {
            value = arg[2 + n] == '=' ? arg + 3 + n : NULL;
        } else if (opts[k].shortname && arg[1] == opts[k].shortname) {
            value = arg[2] ? arg + 2 : NULL;
        } else {
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                return fail(cli, "option %s needs a value", arg);
            value = argv[i + 1];
            used = 1;
        }
        *opts[k].slot = value;
        if (set) {
            if (!strchr(set, '='))
                return fail(cli, "--set takes KEY=VALUE, not '%s'", set);
            cli->run.sets[cli->run.nsets++] = set;
        }
        return 1 + used;
    }
    return 0;
}

/* --kill-after wins over DBTRUN_KILL_AFTER; a bad value of either is a
 * usage error, not a silent default. */
static int parse_kill_after(struct dr_cli *cli)
{
    const char *env = getenv("DBTRUN_KILL_AFTER");
    cli->run.kill_after_ms = -1;
    if (cli->kill_after && dr_proc_parse_seconds(cli->kill_after, &cli->run.kill_after_ms) != 0)
        return fail(cli, "--kill-after takes a number of seconds, not '%.64s'", cli->kill_after);
    if (!cli->kill_after && env && *env && dr_proc_parse_seconds(env, &cli->run.kill_after_ms) != 0)
        return fail(cli, "DBTRUN_KILL_AFTER takes a number of seconds, not '%.64s'", env);
    return 0;
}

int dr_cli_parse(int argc, char **argv, struct dr_cli *cli)
{
    memset(cli, 0, sizeof *cli);
    cli->run.color = "auto";
    cli->run.sets = calloc((size_t)argc + 1, sizeof *cli->run.sets);
    if (!cli->run.sets)
        return fail(cli, "%s", "out of memory");
    int i = 1;
    while (i < argc) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0')
            break;
        int used = take_value(cli, argc, argv, i);
        if (used < 0)
            return -1;
        if (used > 0) {
            i += used;
            continue;
        }
        if (arg[1] == '-') {
            if (set_long_flag(cli, arg + 2) != 0)
                return fail(cli, "unknown option '%s' (see dbtrun --help)", arg);
        } else {
            for (const char *c = arg + 1; *c; c++)
                if (set_flag(cli, *c) != 0)
                    return fail(cli, "unknown option '%s' (see dbtrun --help)", arg);
        }
        i++;
    }
    if (strcmp(cli->run.color, "auto") != 0 && strcmp(cli->run.color, "always") != 0 &&
        strcmp(cli->run.color, "never") != 0)
        return fail(cli, "--color takes auto, always or never, not '%s'", cli->run.color);
    if (parse_kill_after(cli) != 0)
        return -1;
    if (i < argc) {
        cli->run.task = argv[i];
        cli->run.args = argv + i + 1;
        cli->run.nargs = argc - i - 1;
    }
    return 0;
}

void dr_cli_free(struct dr_cli *cli)
{
    free(cli->run.sets);
    cli->run.sets = NULL;
}
