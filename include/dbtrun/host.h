/* host: the one Lua state of a dbtrun run — native primitives, the embedded
 * library and built-in tasks, the user's task file — and the protected call
 * that runs everything. The host owns the description of a run (struct
 * dr_run); the command line (runner/cli.c) is one way to fill it. */
#ifndef DR_HOST_H
#define DR_HOST_H

/* What one run asks for: the task, its arguments, --set values and the flags
 * main.lua reads. Strings are borrowed and must outlive the run. */
struct dr_run {
    int list, dry_run, json, summary, quiet;
    int yes;                 /* answer yes to every confirm() without asking */
    int verbose;             /* count of -v */
    int complete;            /* print completions for the words in task, args */
    const char *color;       /* "auto", "always" or "never" */
    const char *file;        /* the task file; NULL: search upwards */
    const char *directory;   /* change to this folder first; NULL: stay */
    const char *completions; /* print the completion script for this shell */
    const char *dotenv;      /* load this dotenv file before the task; NULL: config's */
    const char *script;      /* run this Lua file in the host (tests) */
    const char *usage;       /* print this task's usage, parameters and doc */
    long kill_after_ms;      /* grace before SIGKILL after a signal; -1: the default */
    const char **sets;       /* KEY=VALUE parameter values, nsets of them */
    int nsets;
    const char *task; /* NULL when none was given */
    char **args;      /* the task's arguments, nargs of them */
    int nargs;
};

/* Runs `run` (list, completions, a task or a script) and returns the exit
 * status: the failing child's code, 1 for other failures, 2 for usage and
 * task-file errors, 128+N after signal N. */
int dr_host_run(const struct dr_run *run);

#endif
