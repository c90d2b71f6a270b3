/* aws_s3: the `dbtrun aws s3 cp|sync|ls|rm|presign` commands, with the aws
 * CLI's argument shapes and one-line-per-object output. A thin front over
 * s3.h and sync.h; runner/aws_cmd.c dispatches here. */
#ifndef DR_RUNNER_AWS_S3_H
#define DR_RUNNER_AWS_S3_H

#include "dbtrun/aws.h"

/* Runs one s3 subcommand; argv[0] is the subcommand ("cp", "sync", ...),
 * i.e. argv starts after "s3". Common options (--profile, --region,
 * --endpoint-url) are the caller's: it built `c`. Writes results to stdout
 * and errors to stderr ("error: GetObject s3://b/k: NoSuchKey (404): ...").
 * Returns the exit status: 0, 1 on failure, 2 on a usage error. */
int dr_aws_s3_cmd(struct dr_aws_client *c, int argc, char **argv);

#endif
