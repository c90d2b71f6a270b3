/* sso: IAM Identity Center — the token cache the AWS CLI v2 keeps in
 * ~/.aws/sso/cache (file names, JSON, atomic 0600 writes), the portal's
 * GetRoleCredentials and the SSO OIDC calls (RegisterClient,
 * StartDeviceAuthorization, CreateToken). Every call is unsigned and goes
 * through dr_aws_send to a base URL the caller resolved (services "sso" and
 * "sso-oidc" of settings.h, in the sso region). Used by creds.c (the
 * chain's SSO source) and the CLI's `dbtrun aws sso login/logout`. */
#ifndef DR_SSO_H
#define DR_SSO_H

#include "dbtrun/aws.h"
#include "dbtrun/settings.h"

#include <stddef.h>
#include <time.h>

#define DR_SSO_CACHE_MAX (64u << 10) /* cap on a token cache file */
#define DR_SSO_CACHE_NAME_MAX 46     /* 40 hex digits, ".json", NUL */
#define DR_SSO_REFRESH_S (15 * 60)   /* refresh a token this long before it expires */
#define DR_SSO_DEFAULT_SCOPE "sso:account:access"

/* One token cache file. Strings are the caller's (dr_sso_token_free). */
struct dr_sso_token {
    char *access_token; /* a secret */
    time_t expires_at;
    char *refresh_token;            /* a secret; NULL: none */
    char *client_id;                /* the client registration; NULL: none */
    char *client_secret;            /* a secret; NULL: none */
    time_t registration_expires_at; /* 0: unknown */
    char *region, *start_url;       /* NULL: not written */
};

/* Wipes the secrets of t and frees its strings; t is zeroed. NULL is fine. */
void dr_sso_token_free(struct dr_sso_token *t);

/* The cache file name the AWS CLI uses for `key` (the sso-session name, or
 * the start URL of a legacy profile): lower-case SHA-1 hex + ".json".
 * 0, or -1 when libcrypto fails. */
int dr_sso_cache_name(const char *key, char out[DR_SSO_CACHE_NAME_MAX]);

/* The full path of key's cache file under <home>/.aws/sso/cache (home from
 * HOME, else USERPROFILE, read through env). Caller frees; NULL when no home
 * is known (err says so) or out of memory. */
char *dr_sso_cache_path(const struct dr_settings_env *env, const char *key, char *err,
                        size_t errlen);

/* Parses a token cache file's JSON (`len` bytes): accessToken and expiresAt
 * are required; refreshToken, clientId, clientSecret, registrationExpiresAt,
 * region, startUrl are kept when present. 0 with *out, or -1 with a message
 * in err that never quotes the input. */
int dr_sso_token_parse(const char *json, size_t len, struct dr_sso_token *out, char *err,
                       size_t errlen);

/* Reads and parses the cache file at path. 0 with *out; 1 when there is no
 * such file; -1 with err. */
int dr_sso_token_load(const char *path, struct dr_sso_token *out, char *err, size_t errlen);

/* The cache file's JSON for t (the AWS CLI's field names, times as
 * "2026-12-07T21:00:00Z"). Caller frees with dr_free_secret; NULL when out
 * of memory. */
char *dr_sso_token_json(const struct dr_sso_token *t);

/* Writes t to path atomically with mode 0600, creating the folder (0700)
 * when missing. 0, or -1 with errno. */
int dr_sso_token_save(const char *path, const struct dr_sso_token *t);

/* ---- the calls ---------------------------------------------------------------- */

/* GetRoleCredentials: GET base_url/federation/credentials with the access
 * token in x-amz-sso_bearer_token. c (may be NULL) gives attempts and -v.
 * Fills *out (free with dr_aws_credentials_free; provider left empty).
 * 0, or -1 with err (AWS's code, e.g. UnauthorizedException). */
int dr_sso_get_role_credentials(struct dr_aws_client *c, const char *base_url,
                                const char *access_token, const char *account_id,
                                const char *role_name, struct dr_aws_credentials *out,
                                struct dr_aws_error *err);

/* A client registration (RegisterClient's answer). */
struct dr_sso_client {
    char *client_id;
    char *client_secret; /* a secret */
    time_t expires_at;   /* 0: unknown */
};
void dr_sso_client_free(struct dr_sso_client *r);

/* RegisterClient (POST /client/register): a public client named
 * `client_name` with `scopes` (NULL-terminated; NULL: none) allowed the
 * device code and refresh token grants. 0 with *out, or -1 with err. */
int dr_sso_register_client(struct dr_aws_client *c, const char *base_url, const char *client_name,
                           const char *const *scopes, struct dr_sso_client *out,
                           struct dr_aws_error *err);

/* StartDeviceAuthorization's answer. */
struct dr_sso_device {
    char *device_code; /* a secret */
    char *user_code;
    char *verification_uri;
    char *verification_uri_complete; /* NULL: none */
    long expires_in, interval;       /* seconds; interval 0: not given */
};
void dr_sso_device_free(struct dr_sso_device *d);

/* StartDeviceAuthorization (POST /device_authorization). 0, or -1 with err. */
int dr_sso_start_device_authorization(struct dr_aws_client *c, const char *base_url,
                                      const struct dr_sso_client *client, const char *start_url,
                                      struct dr_sso_device *out, struct dr_aws_error *err);

#define DR_SSO_GRANT_DEVICE "urn:ietf:params:oauth:grant-type:device_code"
#define DR_SSO_GRANT_REFRESH "refresh_token"

/* CreateToken (POST /token) with `grant` (DR_SSO_GRANT_*): the device code
 * or the refresh token goes with it. On success fills access_token,
 * expires_at (now + expiresIn) and refresh_token (replaced when the answer
 * has one) of *tok, leaving its other fields. 0, or -1 with err; OIDC's
 * OAuth error ("authorization_pending", "slow_down", "expired_token",
 * "invalid_grant"...) is err->code. */
int dr_sso_create_token(struct dr_aws_client *c, const char *base_url, const char *grant,
                        const struct dr_sso_client *client, const char *secret, time_t now,
                        struct dr_sso_token *tok, struct dr_aws_error *err);

#endif
