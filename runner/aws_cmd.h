/* aws_cmd: `dbtrun aws COMMAND ...`, the aws-CLI-shaped front of the AWS core. */
#ifndef DR_AWS_CMD_H
#define DR_AWS_CMD_H

/* Runs `dbtrun aws` with the words after "aws"; `verbose` counts the -v given
 * before it. Returns the exit status (0, 1 on AWS failures, 2 on usage). */
int dr_aws_cmd(int argc, char **argv, int verbose);

extern const char dr_aws_usage[];

#endif
