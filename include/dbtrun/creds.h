/* creds: where an AWS client's settings and credentials come from — region,
 * endpoints, IMDS and ECS addresses, the plan a shared-config profile makes
 * (assume-role chains, credential_process, web identity), and the default
 * credential chain that runs it. Internal to client.c, sts.c and the tests;
 * everything else goes through aws.h. */
#ifndef DR_CREDS_H
#define DR_CREDS_H

#include "dbtrun/aws.h"
#include "dbtrun/ini.h"

#include <stddef.h>
#include <time.h>

#define DR_CREDS_REFRESH_S 300             /* refresh this long before expiration */
#define DR_CREDS_CHAIN_MAX 16              /* cap on chained assume-role profiles */
#define DR_CREDS_PROCESS_MAX (64u << 10)   /* cap on credential_process output */
#define DR_CREDS_PROCESS_TIMEOUT_MS 60000L /* default credential_process time limit */
#define DR_CREDS_TOKEN_MAX (64u << 10)     /* cap on a token file / OIDC token */
#define DR_CREDS_REGION_MAX 64

/* Where environment variables come from: fn NULL means getenv(3). Values
 * that are empty or only blanks count as unset. */
struct dr_creds_env {
    dr_ini_getenv_fn fn;
    void *ud;
};

/* The value of `name`, or NULL when unset or blank. Borrowed. */
const char *dr_creds_getenv(const struct dr_creds_env *env, const char *name);

/* ---- settings -------------------------------------------------------------- */

/* The region: `explicit_region`, AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's `region`, else "us-east-1". Borrowed from the arguments. */
const char *dr_creds_region(const char *explicit_region, const struct dr_creds_env *env,
                            const struct dr_ini_section *profile);

/* Attempts per request: `explicit_attempts` (> 0), else AWS_MAX_ATTEMPTS,
 * else the profile's max_attempts, else 3 — or 5 when the retry mode
 * (AWS_RETRY_MODE, else the profile's retry_mode) is "legacy"; "standard"
 * and "adaptive" both retry the standard way. 0 with *out, or -1 with a
 * message naming the bad setting. */
int dr_creds_max_attempts(int explicit_attempts, const struct dr_creds_env *env,
                          const struct dr_ini_section *profile, int *out, char *msg, size_t len);

/* 1 when `region` is fit to go into a host name (a-z, 0-9, '-'). */
int dr_creds_region_valid(const char *region);

/* The base URL for `service` ("s3", "sts", "secretsmanager", "cloudfront",
 * or another service id), without a trailing slash: `explicit_url`; unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS / ignore_configured_endpoint_urls is
 * true, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's
 * `services` section, the profile's `endpoint_url`; else the AWS host for
 * the region (FIPS / dual-stack variants from AWS_USE_FIPS_ENDPOINT,
 * AWS_USE_DUALSTACK_ENDPOINT or the profile). *custom is set when the URL
 * was configured. ini and profile may be NULL. Caller frees; NULL when out
 * of memory. */
char *dr_creds_endpoint(const char *service, const char *explicit_url,
                        const struct dr_creds_env *env, const struct dr_ini *ini,
                        const struct dr_ini_section *profile, const char *region, int *custom);

/* The region to sign `service` with: "us-east-1" for CloudFront (a global
 * service), else `region`. Borrowed. */
const char *dr_creds_signing_region(const char *service, const char *region);

/* The IMDS base URL (no trailing slash): AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * the profile's ec2_metadata_service_endpoint, else the address for the
 * endpoint mode (AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE or the profile's
 * ec2_metadata_service_endpoint_mode: IPv4 or IPv6, any case). 0 with *url
 * (caller frees), or -1 with a message in err. */
int dr_creds_imds_endpoint(const struct dr_creds_env *env, const struct dr_ini_section *profile,
                           char **url, char *err, size_t errlen);

/* The ECS / EKS Pod Identity credentials URL:
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2) wins over
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, which must be https, or http to a
 * loopback address or to the ECS / EKS agent (169.254.170.2,
 * 169.254.170.23, fd00:ec2::23). 0 with *url (caller frees); 1 when neither
 * variable is set; -1 with a message in err. */
int dr_creds_ecs_url(const struct dr_creds_env *env, char **url, char *err, size_t errlen);

/* ---- time ------------------------------------------------------------------ */

/* Parses an RFC 3339 / ISO 8601 time: "2021-09-21T18:41:26Z", with optional
 * fraction and a "Z", "+HH:MM" or "+HHMM" offset ('t', 'z' and ' ' also
 * accepted). 0 with *t (UTC epoch), or -1. */
int dr_creds_parse_time(const char *s, time_t *t);

/* Formats t as "2021-09-21T18:41:26Z" into out. */
void dr_creds_format_time(time_t t, char out[32]);

/* 1 when cached credentials can be used as they are at `now`: they never
 * expire, or expire more than DR_CREDS_REFRESH_S later. */
int dr_creds_fresh(const struct dr_aws_credentials *c, time_t now);

/* 1 when credentials have not expired yet at `now` (still usable when a
 * refresh fails). */
int dr_creds_unexpired(const struct dr_aws_credentials *c, time_t now);

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
    DR_CREDS_BASE_SSO,          /* sso_* (recognised, not supported) */
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
    struct dr_creds_role roles[DR_CREDS_CHAIN_MAX];
    size_t nroles;
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

/* Everything the default chain reads. */
struct dr_creds_ctx {
    struct dr_aws_client *client; /* STS calls go out with its region, endpoints, -v */
    const struct dr_creds_env *env;
    const struct dr_ini *ini;
    const char *profile;
    int profile_explicit;                       /* chosen by opts or AWS_PROFILE, not the default */
    int files_exist;                            /* the config or the credentials file exists */
    const char *config_path, *credentials_path; /* for messages; may be NULL */
    time_t now;
    int verbose;
};

/* Runs the default chain: environment, shared profile, web identity (token
 * file or GitHub Actions OIDC), ECS, IMDSv2. A profile asked for by name
 * that is not in the files is an error, unless neither file exists (a CI
 * machine whose credentials come from web identity, ECS or IMDS). Fills *out (free with
 * dr_aws_credentials_free; provider says which source). 0, or -1 with err
 * (code CredentialsError unless AWS answered with its own). Messages name
 * what was tried and never hold a secret. */
int dr_creds_resolve(const struct dr_creds_ctx *ctx, struct dr_aws_credentials *out,
                     struct dr_aws_error *err);

/* ---- client internals (client.c) -------------------------------------------- */

/* Like dr_aws_client_new with environment lookups through `env` (tests);
 * env->ud must outlive the client. */
int dr_aws_client_new_env(const struct dr_aws_client_opts *opts, const struct dr_creds_env *env,
                          struct dr_aws_client **out, struct dr_aws_error *err);

/* A client that shares `parent`'s region, profile and settings (the parent
 * must outlive it) but signs with a copy of `cred` (NULL: none, for unsigned
 * calls) and never resolves credentials itself; it also ignores the parent's
 * explicit endpoint_url: the chain's STS calls go where AWS_ENDPOINT_URL_STS
 * and the profile say, not where --endpoint-url points. Free with
 * dr_aws_client_free. 0, or -1 (out of memory). */
int dr_aws_client_derive(const struct dr_aws_client *parent, const struct dr_aws_credentials *cred,
                         struct dr_aws_client **out);

#endif
