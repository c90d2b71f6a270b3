/* creds: where an AWS client's credentials come from — the plan a
 * shared-config profile makes (assume-role chains, credential_process, web
 * identity) and the default credential chain that runs it. It sits above
 * client.c and sts.c: it installs itself as the resolver of the clients that
 * dr_aws_client_new makes. Settings (region, endpoints) are settings.h's. */
#ifndef DR_CREDS_H
#define DR_CREDS_H

#include "dbtrun/aws.h"
#include "dbtrun/client.h"
#include "dbtrun/ini.h"
#include "dbtrun/settings.h"

#include <stddef.h>
#include <time.h>

#define DR_CREDS_CHAIN_MAX 16              /* cap on chained assume-role profiles */
#define DR_CREDS_PROCESS_MAX (64u << 10)   /* cap on credential_process output */
#define DR_CREDS_PROCESS_TIMEOUT_MS 60000L /* default credential_process time limit */
#define DR_CREDS_TOKEN_MAX (64u << 10)     /* cap on a token file / OIDC token */

/* ---- credential_process ---------------------------------------------------- */

/* Parses credential_process output (`len` bytes of JSON): Version 1,
 * AccessKeyId, SecretAccessKey, optional SessionToken and Expiration. Fills
 * *out (free with dr_aws_credentials_free; provider left empty). 0, or -1
 * with a message in err that never quotes the input. */
int dr_creds_process_parse(const char *json, size_t len, struct dr_aws_credentials *out, char *err,
                           size_t errlen);

/* The credential_process JSON for `c` (what `aws configure
 * export-credentials --format process` prints): Version, AccessKeyId,
 * SecretAccessKey, SessionToken and Expiration when present. Caller frees
 * with dr_free_secret; NULL when out of memory. */
char *dr_creds_process_json(const struct dr_aws_credentials *c);

/* ---- profile plan ---------------------------------------------------------- */

enum dr_creds_base {
    DR_CREDS_BASE_STATIC,       /* aws_access_key_id / aws_secret_access_key */
    DR_CREDS_BASE_SOURCE,       /* credential_source */
    DR_CREDS_BASE_WEB_IDENTITY, /* role_arn + web_identity_token_file */
    DR_CREDS_BASE_GITHUB_OIDC,  /* role_arn alone, on GitHub Actions */
    DR_CREDS_BASE_PROCESS,      /* credential_process */
    DR_CREDS_BASE_SSO,          /* IAM Identity Center: sso_session or sso_start_url */
};

enum dr_creds_source {
    DR_CREDS_SOURCE_ENVIRONMENT,
    DR_CREDS_SOURCE_EC2,
    DR_CREDS_SOURCE_ECS,
};

/* One role to assume; strings borrowed from the ini. */
struct dr_creds_role {
    const char *profile; /* where it is configured */
    const char *role_arn;
    const char *session_name;     /* NULL: generated */
    const char *external_id;      /* NULL: none */
    const char *duration_seconds; /* NULL: STS's default */
    const char *mfa_serial;       /* NULL: none; else the code is asked for on the terminal */
};

/* An IAM Identity Center (SSO) profile's settings, from its [sso-session]
 * section or (the legacy form) the profile itself; borrowed from the ini. */
struct dr_creds_sso {
    const char *session;    /* sso_session; NULL: the legacy form */
    const char *start_url;  /* sso_start_url */
    const char *region;     /* sso_region */
    const char *scopes;     /* sso_registration_scopes (comma-separated); NULL: none */
    const char *account_id; /* sso_account_id; NULL: a token-only profile */
    const char *role_name;  /* sso_role_name */
};

/* What a profile resolves to: a base, then roles assumed in order (roles[0]
 * with the base credentials, roles[1] with roles[0]'s...). Strings are
 * borrowed from the ini given to dr_creds_plan. */
struct dr_creds_plan {
    enum dr_creds_base base;
    const char *base_profile;
    const char *access_key_id, *secret_access_key, *session_token; /* STATIC */
    enum dr_creds_source source;                                   /* SOURCE */
    struct dr_creds_role identity; /* WEB_IDENTITY, GITHUB_OIDC: the role */
    const char *token_file;        /* WEB_IDENTITY */
    const char *command;           /* PROCESS */
    struct dr_creds_sso sso;       /* SSO */
    struct dr_creds_role roles[DR_CREDS_CHAIN_MAX];
    size_t nroles;
    const char *missing_source; /* on DR_CREDS_PLAN_ERROR: a source_profile not in the files */
    const char *missing_by;     /* ...and the profile that named it */
    const char *role_alone;     /* on DR_CREDS_PLAN_ERROR: a role_arn with nothing to assume it */
};

enum dr_creds_plan_rc {
    DR_CREDS_PLAN_ERROR = -1, /* a broken profile: err says why */
    DR_CREDS_PLAN_OK = 0,
    DR_CREDS_PLAN_MISSING = 1, /* no such profile */
    DR_CREDS_PLAN_EMPTY = 2,   /* the profile holds no credentials settings */
};

/* Works out what profile `name` in `ini` resolves to, the way the SDKs do:
 * role_arn with source_profile (chained, cycles refused, a profile naming
 * itself uses its own keys), credential_source or web_identity_token_file;
 * static keys of a source profile win over its role_arn; otherwise
 * web_identity_token_file, sso_*, credential_process, then static keys.
 * `github_oidc`: a role_arn with no source becomes DR_CREDS_BASE_GITHUB_OIDC
 * instead of an error. Returns a dr_creds_plan_rc; err is filled on
 * DR_CREDS_PLAN_ERROR. */
int dr_creds_plan(const struct dr_ini *ini, const char *name, int github_oidc,
                  struct dr_creds_plan *plan, char *err, size_t errlen);

/* ---- the chain ------------------------------------------------------------- */

/* Runs the default chain: environment, shared profile, web identity (token
 * file or GitHub Actions OIDC), ECS, IMDSv2. A profile asked for by name
 * (opts or AWS_PROFILE) that is not in the files is an error naming it and
 * the files searched, as the aws CLI does, even when neither file exists;
 * environment keys still come first. Fills *out (free with
 * dr_aws_credentials_free; provider says which source). 0, or -1 with err
 * (code CredentialsError unless AWS answered with its own). When no source
 * gives credentials the message lists each one, a line each, with why it
 * gave nothing. Messages never hold a secret. */
int dr_creds_resolve(const struct dr_creds_ctx *ctx, struct dr_aws_credentials *out,
                     struct dr_aws_error *err);

/* Like dr_aws_client_new with environment lookups through `env` (tests);
 * env->ud must outlive the client. */
int dr_aws_client_new_env(const struct dr_aws_client_opts *opts, const struct dr_settings_env *env,
                          struct dr_aws_client **out, struct dr_aws_error *err);

#endif
