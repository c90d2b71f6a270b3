/* aws_sso: `dbtrun aws sso login` and `dbtrun aws sso logout`, the IAM
 * Identity Center sign-in of the AWS CLI v2 (device authorization), writing
 * and removing the same token cache files it does. */
#ifndef DR_AWS_SSO_H
#define DR_AWS_SSO_H

#include "dbtrun/aws.h"

/* Runs `sso login|logout` with the words after "sso" (argv[0] is the
 * subcommand) for client c's profile. Returns the exit status (0, 1 on
 * failure, 2 on usage). */
int dr_aws_sso_cmd(struct dr_aws_client *c, int argc, char **argv);

#endif
