/* cli: the dbtrun command line, parsed into the host's description of a run
 * plus what only the command line knows (--help, --version, parse errors).
 * Options come before the task name; everything after it belongs to the task. */
#ifndef DR_CLI_H
#define DR_CLI_H

#include "dbtrun/host.h"

struct dr_cli {
    struct dr_run run;
    int help, version;
    const char *kill_after; /* --kill-after SECONDS as given */
    char err[256];          /* why parsing failed */
};

/* Parses argv (which must outlive cli). Returns 0, or -1 with cli->err set.
 * cli->run.sets is allocated: release with dr_cli_free. */
int dr_cli_parse(int argc, char **argv, struct dr_cli *cli);

void dr_cli_free(struct dr_cli *cli);

/* The --help text. */
extern const char dr_cli_usage[];

#endif
