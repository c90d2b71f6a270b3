/* main: dbtrun's entry point. Parses the command line, then hands over to the
 * Lua host; the only place that decides the process's exit status. */
#include "dbtrun/cli.h"
#include "dbtrun/host.h"
#include "dbtrun/http.h"
#include "dbtrun/proc.h"
#include "aws_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct dr_cli cli;
    int status;
    if (dr_cli_parse(argc, argv, &cli) != 0) {
        fprintf(stderr, "dbtrun: %s\n", cli.err);
        dr_cli_free(&cli);
        return 2;
    }
    if (cli.help) {
        fputs(dr_cli_usage, stdout);
        status = 0;
    } else if (cli.version) {
        printf("dbtrun %s\n", DR_VERSION);
        status = 0;
    } else if (cli.run.task && strcmp(cli.run.task, "aws") == 0) {
        dr_proc_set_kill_after(cli.run.kill_after_ms); /* for credential_process */
        status = dr_aws_cmd(cli.run.nargs, cli.run.args, cli.run.verbose);
        dr_http_cleanup();
    } else {
        status = dr_host_run(&cli.run);
    }
    dr_cli_free(&cli);
    return status;
}
