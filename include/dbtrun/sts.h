/* sts: the three AWS STS calls dbtrun makes — GetCallerIdentity (whoami),
 * AssumeRole and AssumeRoleWithWebIdentity (the credential chain) — over
 * the Query protocol (form-encoded POST, XML answer) through dr_aws_send. */
#ifndef DR_STS_H
#define DR_STS_H

#include "dbtrun/aws.h"

#include <stddef.h>

#define DR_STS_VERSION "2011-06-15"

/* Who the client's credentials belong to. On success *account, *arn and
 * *user_id are set to strings the caller frees (any of the three pointers
 * may be NULL when not wanted). 0, or -1 with err. */
int dr_sts_get_caller_identity(struct dr_aws_client *c, char **account, char **arn, char **user_id,
                               struct dr_aws_error *err);

struct dr_sts_role_params {
    const char *role_arn;           /* required */
    const char *session_name;       /* NULL or "": "dbtrun-<epoch seconds>" */
    const char *external_id;        /* AssumeRole only; NULL: none */
    const char *duration_seconds;   /* decimal; NULL: STS's default (1 hour) */
    const char *web_identity_token; /* AssumeRoleWithWebIdentity only (a secret) */
    const char *serial_number;      /* AssumeRole only: the MFA device (mfa_serial); NULL: none */
    const char *token_code;         /* AssumeRole only: the code it shows (a secret) */
};

/* AssumeRole signed with c's credentials, at dr_aws_endpoint(c, "sts").
 * Fills *out (free with dr_aws_credentials_free; provider left empty).
 * 0, or -1 with err (AWS's code, e.g. AccessDenied). */
int dr_sts_assume_role(struct dr_aws_client *c, const struct dr_sts_role_params *p,
                       struct dr_aws_credentials *out, struct dr_aws_error *err);

/* AssumeRoleWithWebIdentity, sent unsigned (c supplies the endpoint and
 * region only). As dr_sts_assume_role. */
int dr_sts_assume_role_with_web_identity(struct dr_aws_client *c,
                                         const struct dr_sts_role_params *p,
                                         struct dr_aws_credentials *out, struct dr_aws_error *err);

/* ---- pure pieces, for tests ------------------------------------------------- */

/* The form body for `action` ("AssumeRole", "AssumeRoleWithWebIdentity")
 * with the parameters of p that apply and `session` as RoleSessionName,
 * values percent-encoded. It may hold the web identity token: the caller
 * frees it with dr_sts_free_body. NULL when out of memory. */
char *dr_sts_form(const char *action, const struct dr_sts_role_params *p, const char *session);

/* Wipes and frees a body from dr_sts_form. */
void dr_sts_free_body(char *body);

/* Reads <Credentials> out of an AssumeRole* response (`len` bytes of XML).
 * 0 with *out filled, or -1 with a message in err. */
int dr_sts_parse_credentials(const char *xml, size_t len, struct dr_aws_credentials *out, char *err,
                             size_t errlen);

#endif
