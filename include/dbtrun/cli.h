/* cli: the dbtrun command line, parsed into a plain struct. Options come
 * before the task name; everything after the task name belongs to the task. */
#ifndef DR_CLI_H
#define DR_CLI_H

struct dr_cli {
    int list, dry_run, json, summary, help, version, quiet;
    int verbose;             /* count of -v */
    const char *color;       /* "auto", "always" or "never" */
    const char *file;        /* -f/--file */
    const char *directory;   /* -C/--directory */
    const char *completions; /* --completions SHELL */
    const char *script;      /* --script FILE: run a Lua file in the host (tests) */
    const char *kill_after;  /* --kill-after SECONDS as given */
    long kill_after_ms;      /* --kill-after or DBTRUN_KILL_AFTER; -1: the default */
    const char **sets;       /* --set KEY=VALUE values, nsets of them */
    int nsets;
    const char *task; /* NULL when none was given */
    char **args;      /* the task's arguments, nargs of them */
    int nargs;
    char err[256]; /* why parsing failed */
};

/* Parses argv (which must outlive cli). Returns 0, or -1 with cli->err set.
 * cli->sets is allocated: release with dr_cli_free. */
int dr_cli_parse(int argc, char **argv, struct dr_cli *cli);

void dr_cli_free(struct dr_cli *cli);

/* The --help text. */
extern const char dr_cli_usage[];

#endif
