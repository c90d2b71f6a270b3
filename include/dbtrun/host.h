/* host: the one Lua state of a dbtrun run — native primitives, the embedded
 * library and built-in tasks, the user's task file — and the protected call
 * that runs everything. */
#ifndef DR_HOST_H
#define DR_HOST_H

#include "dbtrun/cli.h"

/* Runs the command line `cli` (list, completions, a task or a --script) and
 * returns the exit status: the failing child's code, 1 for other failures,
 * 2 for usage and task-file errors, 128+N after signal N. */
int dr_host_run(const struct dr_cli *cli);

#endif
