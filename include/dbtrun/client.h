/* client: the parts of the AWS client object that the credential chain and
 * the tests need beyond aws.h — what a resolver is given, creating a client
 * with a resolver of one's own, and derived clients for the chain's STS
 * calls. client.c knows no credential source: it calls the resolver it was
 * given, so aws.c, client.c and sigv4.c read without the chain. */
#ifndef DR_CLIENT_H
#define DR_CLIENT_H

#include "dbtrun/aws.h"
#include "dbtrun/ini.h"
#include "dbtrun/settings.h"

#include <time.h>

#define DR_CREDS_REFRESH_S 300 /* refresh this long before expiration */

/* Where the client's profile name came from (a missing named profile is an
 * error that says which). */
enum { DR_CREDS_PROFILE_DEFAULT = 0, DR_CREDS_PROFILE_OPTS = 1, DR_CREDS_PROFILE_ENV = 2 };

/* Everything the default chain reads. */
struct dr_creds_ctx {
    struct dr_aws_client *client; /* STS calls go out with its region, endpoints, -v */
    const struct dr_settings_env *env;
    const struct dr_ini *ini;
    const char *profile;
    int profile_explicit; /* DR_CREDS_PROFILE_*: named by opts or AWS_PROFILE, or the default */
    const char *config_path, *credentials_path; /* for messages; may be NULL */
    time_t now;
    int verbose;
};

/* Resolves fresh credentials for a client: fills *out (free with
 * dr_aws_credentials_free), 0; or -1 with err. */
typedef int (*dr_aws_resolve_fn)(const struct dr_creds_ctx *ctx, struct dr_aws_credentials *out,
                                 struct dr_aws_error *err);

/* Where a client's region comes from when neither opts, AWS_REGION,
 * AWS_DEFAULT_REGION nor the profile names one (creds.c asks IMDS): a
 * region the caller frees, or NULL for the default (us-east-1). */
typedef char *(*dr_aws_region_fn)(const struct dr_settings_env *env,
                                  const struct dr_ini_section *profile, int verbose);

/* Gives c a region source, asked once, at the first use of the region
 * (dr_aws_client_region, an endpoint, a signature), and only when nothing
 * named a region at creation. Call before c is shared between threads. */
void dr_aws_client_region_source(struct dr_aws_client *c, dr_aws_region_fn fn);

/* dr_aws_client_new with environment lookups through `env` (NULL: getenv;
 * env->ud must outlive the client) and credentials from `resolve`. */
int dr_aws_client_create(const struct dr_aws_client_opts *opts, const struct dr_settings_env *env,
                         dr_aws_resolve_fn resolve, struct dr_aws_client **out,
                         struct dr_aws_error *err);

/* A client that shares `parent`'s region, profile and settings (the parent
 * must outlive it) but signs with a copy of `cred` (NULL: none, for unsigned
 * calls) and never resolves credentials itself; it also ignores the parent's
 * explicit endpoint_url: the chain's STS calls go where AWS_ENDPOINT_URL_STS
 * and the profile say, not where --endpoint-url points. Free with
 * dr_aws_client_free. 0, or -1 (out of memory). */
int dr_aws_client_derive(const struct dr_aws_client *parent, const struct dr_aws_credentials *cred,
                         struct dr_aws_client **out);

/* What c was made from, for the commands that read the profile themselves
 * (`dbtrun aws sso login`): the shared config, the profile's name and the
 * environment lookup. Borrowed; they live as long as c. */
const struct dr_ini *dr_aws_client_ini(const struct dr_aws_client *c);
const char *dr_aws_client_profile(const struct dr_aws_client *c);
const struct dr_settings_env *dr_aws_client_env(const struct dr_aws_client *c);

/* The base URL of `service` in `region` rather than the client's (the SSO
 * services live in sso_region), from the environment and the profile as
 * dr_aws_endpoint, but never --endpoint-url, which is for the command's own
 * service. Caller frees; NULL when out of memory. */
char *dr_aws_endpoint_in(const struct dr_aws_client *c, const char *service, const char *region);

/* 1 when cached credentials can be used as they are at `now`: they never
 * expire, or expire more than DR_CREDS_REFRESH_S later. */
int dr_aws_credentials_fresh(const struct dr_aws_credentials *c, time_t now);

/* 1 when credentials have not expired yet at `now` (still usable when a
 * refresh fails). */
int dr_aws_credentials_unexpired(const struct dr_aws_credentials *c, time_t now);

#endif
