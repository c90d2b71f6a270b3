/* settings: what an AWS client reads before any credentials — where
 * environment variables come from, the region, attempts per request, the
 * endpoint of each service (the service table), the signing region, and the
 * IMDS and ECS addresses. Pure functions of the environment and the shared
 * config; no network. Below client.c and creds.c; uses only ini.h (and
 * retry.h's mode names). */
#ifndef DR_SETTINGS_H
#define DR_SETTINGS_H

#include "dbtrun/ini.h"
#include "dbtrun/retry.h"

#include <stddef.h>

#define DR_SETTINGS_REGION_MAX 64

/* Where environment variables come from: fn NULL means getenv(3). Values
 * that are empty or only blanks count as unset. */
struct dr_settings_env {
    dr_ini_getenv_fn fn;
    void *ud;
};

/* The value of `name`, or NULL when unset or blank. Borrowed. */
const char *dr_settings_getenv(const struct dr_settings_env *env, const char *name);

#define DR_SETTINGS_REGION_DEFAULT "us-east-1"

/* The region: `explicit_region`, AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's `region`, else "us-east-1". Borrowed from the arguments. */
const char *dr_settings_region(const char *explicit_region, const struct dr_settings_env *env,
                               const struct dr_ini_section *profile);

/* As dr_settings_region, but NULL when nothing names a region (the client
 * then asks IMDS at first use, see client.h). */
const char *dr_settings_region_named(const char *explicit_region, const struct dr_settings_env *env,
                                     const struct dr_ini_section *profile);

/* The retry mode and attempts per request. The mode: AWS_RETRY_MODE, else
 * the profile's retry_mode, else standard. Attempts: `explicit_attempts`
 * (> 0), else AWS_MAX_ATTEMPTS, else the profile's max_attempts, else 3 (5
 * in legacy mode). `config_path` (may be NULL) names the file in messages.
 * 0 with *mode and *attempts, or -1 with a message naming the bad setting
 * and where it was read. */
int dr_settings_retry(int explicit_attempts, const struct dr_settings_env *env,
                      const struct dr_ini_section *profile, const char *config_path,
                      enum dr_retry_mode *mode, int *attempts, char *msg, size_t len);

/* 1 when `region` is fit to go into a host name (a-z, 0-9, '-'). */
int dr_settings_region_valid(const char *region);

/* The base URL for `service` ("s3", "sts", "secretsmanager", "cloudfront",
 * "sso" (the IAM Identity Center portal), "sso-oidc", or another service id), without a trailing
 * slash: `explicit_url`; unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS /
 * ignore_configured_endpoint_urls is true, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the
 * profile's `services` section, the profile's `endpoint_url`; else the AWS host for the region
 * (FIPS / dual-stack variants from AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT or the
 * profile). *custom is set when the URL was configured. ini and profile may be NULL. Caller frees;
 * NULL when out of memory. */
char *dr_settings_endpoint(const char *service, const char *explicit_url,
                           const struct dr_settings_env *env, const struct dr_ini *ini,
                           const struct dr_ini_section *profile, const char *region, int *custom);

/* The region to sign `service` with: "us-east-1" for CloudFront (a global
 * service), else `region`. Borrowed. */
const char *dr_settings_signing_region(const char *service, const char *region);

/* The IMDS base URL (no trailing slash): AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * the profile's ec2_metadata_service_endpoint, else the address for the
 * endpoint mode (AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE or the profile's
 * ec2_metadata_service_endpoint_mode: IPv4 or IPv6, any case). 0 with *url
 * (caller frees), or -1 with a message in err. */
int dr_settings_imds_endpoint(const struct dr_settings_env *env,
                              const struct dr_ini_section *profile, char **url, char *err,
                              size_t errlen);

/* The ECS / EKS Pod Identity credentials URL:
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2) wins over
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, which must be https, or http to a
 * loopback address or to the ECS / EKS agent (169.254.170.2,
 * 169.254.170.23, fd00:ec2::23). 0 with *url (caller frees); 1 when neither
 * variable is set; -1 with a message in err. */
int dr_settings_ecs_url(const struct dr_settings_env *env, char **url, char *err, size_t errlen);

/* A profile's `key`, or NULL when the profile is NULL or the value empty. Borrowed. */
const char *dr_settings_value(const struct dr_ini_section *profile, const char *key);

/* The environment variable `env_name`, else the profile's `key`. Borrowed. */
const char *dr_settings_lookup(const struct dr_settings_env *env, const char *env_name,
                               const struct dr_ini_section *profile, const char *key);

/* 1 when a setting's value is "true" (any case). */
int dr_settings_true(const char *v);

#endif
