/* settings: see dbtrun/settings.h. The region and endpoint rules are the
 * AWS SDKs' (the aws CLI's for the [services] section and the FIPS and
 * dual-stack hosts). */
#include "dbtrun/settings.h"
#include "dbtrun/aws.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ECS_HOST "http://169.254.170.2"
#define IMDS_IPV4 "http://169.254.169.254"
#define IMDS_IPV6 "http://[fd00:ec2::254]"

const char *dr_settings_getenv(const struct dr_settings_env *env, const char *name)
{
    const char *v = env && env->fn ? env->fn(env->ud, name) : getenv(name);
    if (!v)
        return NULL;
    for (const char *p = v; *p; p++)
        if (!isspace((unsigned char)*p))
            return v;
    return NULL;
}

const char *dr_settings_value(const struct dr_ini_section *p, const char *key)
{
    const char *v = p ? dr_ini_get(p, key) : NULL;
    return v && *v ? v : NULL;
}

int dr_settings_true(const char *v)
{
    return v && strcasecmp(v, "true") == 0;
}

const char *dr_settings_lookup(const struct dr_settings_env *env, const char *env_name,
                               const struct dr_ini_section *p, const char *key)
{
    const char *v = dr_settings_getenv(env, env_name);
    return v ? v : dr_settings_value(p, key);
}

const char *dr_settings_region_named(const char *explicit_region, const struct dr_settings_env *env,
                                     const struct dr_ini_section *profile)
{
    const char *r = explicit_region && *explicit_region ? explicit_region : NULL;
    if (!r)
        r = dr_settings_getenv(env, "AWS_REGION");
    if (!r)
        r = dr_settings_getenv(env, "AWS_DEFAULT_REGION");
    if (!r)
        r = dr_settings_value(profile, "region");
    return r;
}

const char *dr_settings_region(const char *explicit_region, const struct dr_settings_env *env,
                               const struct dr_ini_section *profile)
{
    const char *r = dr_settings_region_named(explicit_region, env, profile);
    return r ? r : DR_SETTINGS_REGION_DEFAULT;
}

/* Where a retry setting came from, for messages: the variable, or the
 * profile and its file. */
static void setting_origin(char *out, size_t len, const char *env_name, int from_env,
                           const struct dr_ini_section *profile, const char *key,
                           const char *config_path)
{
    if (from_env)
        snprintf(out, len, "%s", env_name);
    else
        snprintf(out, len, "%s in profile %.64s%s%.200s", key,
                 profile && profile->name ? profile->name : "default", config_path ? " of " : "",
                 config_path ? config_path : "");
}

static int parse_mode(const char *v, enum dr_retry_mode *mode)
{
    static const enum dr_retry_mode modes[] = {DR_RETRY_STANDARD, DR_RETRY_ADAPTIVE,
                                               DR_RETRY_LEGACY};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(v, dr_retry_mode_name(modes[i])) == 0) {
            *mode = modes[i];
            return 0;
        }
    return -1;
}

int dr_settings_retry(int explicit_attempts, const struct dr_settings_env *env,
                      const struct dr_ini_section *profile, const char *config_path,
                      enum dr_retry_mode *mode, int *attempts, char *msg, size_t len)
{
    const char *m = dr_settings_getenv(env, "AWS_RETRY_MODE");
    const char *v = dr_settings_getenv(env, "AWS_MAX_ATTEMPTS");
    int mode_env = m != NULL, attempts_env = v != NULL;
    char from[320];
    if (!m)
        m = dr_settings_value(profile, "retry_mode");
    *mode = DR_RETRY_STANDARD;
    if (m && parse_mode(m, mode) != 0) {
        setting_origin(from, sizeof from, "AWS_RETRY_MODE", mode_env, profile, "retry_mode",
                       config_path);
        snprintf(msg, len, "%s must be standard, adaptive or legacy, not '%.32s'", from, m);
        return -1;
    }
    *attempts = *mode == DR_RETRY_LEGACY ? DR_AWS_LEGACY_ATTEMPTS : DR_AWS_MAX_ATTEMPTS;
    if (explicit_attempts > 0) {
        *attempts = explicit_attempts;
        return 0;
    }
    if (!v)
        v = dr_settings_value(profile, "max_attempts");
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > DR_AWS_ATTEMPTS_LIMIT) {
        setting_origin(from, sizeof from, "AWS_MAX_ATTEMPTS", attempts_env, profile, "max_attempts",
                       config_path);
        snprintf(msg, len, "%s must be a whole number from 1 to %d, not '%.32s'", from,
                 DR_AWS_ATTEMPTS_LIMIT, v);
        return -1;
    }
    *attempts = (int)n;
    return 0;
}

int dr_settings_region_valid(const char *region)
{
    size_t n = region ? strlen(region) : 0;
    if (n == 0 || n > DR_SETTINGS_REGION_MAX || region[0] == '-' || region[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)region[i]) && !isdigit((unsigned char)region[i]) &&
            region[i] != '-')
            return 0;
    return 1;
}

struct service {
    const char *name;       /* dbtrun's name, the signing name */
    const char *env_id;     /* AWS_ENDPOINT_URL_<env_id> */
    const char *config_key; /* key in a [services] section */
    int global;             /* one endpoint for all regions */
    const char *host;       /* the host's first label(s), when not the name */
};

/* sso is the IAM Identity Center portal (GetRoleCredentials), sso-oidc its
 * token service (CreateToken, device authorization): the SDKs' service ids
 * "SSO" and "SSO OIDC", hence AWS_ENDPOINT_URL_SSO / _SSO_OIDC. */
static const struct service services[] = {
    {"s3", "S3", "s3", 0, NULL},
    {"sts", "STS", "sts", 0, NULL},
    {"secretsmanager", "SECRETS_MANAGER", "secrets_manager", 0, NULL},
    {"cloudfront", "CLOUDFRONT", "cloudfront", 1, NULL},
    {"sso", "SSO", "sso", 0, "portal.sso"},
    {"sso-oidc", "SSO_OIDC", "sso_oidc", 0, "oidc"},
};

static const struct service *service_find(const char *name)
{
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (strcmp(services[i].name, name) == 0)
            return &services[i];
    return NULL;
}

/* A configured URL without its trailing slashes; NULL when out of memory. */
static char *url_trimmed(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, url, n);
        s[n] = '\0';
    }
    return s;
}

char *dr_settings_endpoint(const char *service, const char *explicit_url,
                           const struct dr_settings_env *env, const struct dr_ini *ini,
                           const struct dr_ini_section *profile, const char *region, int *custom)
{
    const struct service *svc = service_find(service);
    char env_name[96], env_id[64], config_key[64];
    const char *v = NULL;
    int dummy;
    if (!custom)
        custom = &dummy;
    *custom = 1;
    if (explicit_url && *explicit_url)
        return url_trimmed(explicit_url);
    /* ids of services dbtrun does not know: upper case for the variable, lower for the key */
    size_t i = 0;
    for (; service[i] && i + 1 < sizeof env_id; i++) {
        unsigned char ch = (unsigned char)service[i];
        env_id[i] = isalnum(ch) ? (char)toupper(ch) : '_';
        config_key[i] = isalnum(ch) ? (char)tolower(ch) : '_';
    }
    env_id[i] = config_key[i] = '\0';
    snprintf(env_name, sizeof env_name, "AWS_ENDPOINT_URL_%s", svc ? svc->env_id : env_id);
    if (!dr_settings_true(dr_settings_lookup(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", profile,
                                             "ignore_configured_endpoint_urls"))) {
        const char *section = dr_settings_value(profile, "services");
        v = dr_settings_getenv(env, env_name);
        if (!v)
            v = dr_settings_getenv(env, "AWS_ENDPOINT_URL");
        if (!v && section && ini) {
            const char *sub = dr_ini_get_sub(dr_ini_find(&ini->services, section),
                                             svc ? svc->config_key : config_key, "endpoint_url");
            v = sub && *sub ? sub : NULL;
        }
        if (!v)
            v = dr_settings_value(profile, "endpoint_url");
        if (v)
            return url_trimmed(v);
    }
    *custom = 0;
    int fips = dr_settings_true(
        dr_settings_lookup(env, "AWS_USE_FIPS_ENDPOINT", profile, "use_fips_endpoint"));
    int dual = dr_settings_true(
        dr_settings_lookup(env, "AWS_USE_DUALSTACK_ENDPOINT", profile, "use_dualstack_endpoint"));
    int china = region && strncmp(region, "cn-", 3) == 0;
    const char *suffix = china ? "amazonaws.com.cn" : "amazonaws.com";
    const char *dual_suffix = china ? "api.amazonwebservices.com.cn" : "api.aws";
    const char *name = svc ? (svc->host ? svc->host : svc->name) : config_key;
    char url[256];
    if (svc && svc->global)
        snprintf(url, sizeof url, "https://%s.%s", name, suffix);
    else if (strcmp(name, "s3") == 0)
        snprintf(url, sizeof url, "https://s3%s%s.%s.%s", fips ? "-fips" : "",
                 dual ? ".dualstack" : "", region, suffix);
    else
        snprintf(url, sizeof url, "https://%s%s.%s.%s", name, fips ? "-fips" : "", region,
                 dual ? dual_suffix : suffix);
    return strdup(url);
}

const char *dr_settings_signing_region(const char *service, const char *region)
{
    const struct service *svc = service ? service_find(service) : NULL;
    if (svc && svc->global && !(region && strncmp(region, "cn-", 3) == 0))
        return "us-east-1";
    return region;
}

/* Splits a URL's host (brackets kept for IPv6) into host[hostlen].
 * 0, or -1 when the URL has no scheme://host or holds blanks or controls. */
static int url_host(const char *url, char *scheme, size_t scheme_len, char *host, size_t hostlen)
{
    const char *sep = strstr(url, "://");
    if (!sep || sep == url || (size_t)(sep - url) >= scheme_len)
        return -1;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -1;
    for (const char *p = url; p < sep; p++)
        if (!isalpha((unsigned char)*p))
            return -1;
    memcpy(scheme, url, (size_t)(sep - url));
    scheme[sep - url] = '\0';
    const char *h = sep + 3, *end;
    if (*h == '[') {
        if (!(end = strchr(h, ']')))
            return -1;
        end++;
    } else {
        end = h + strcspn(h, ":/?#");
    }
    if (end == h || (size_t)(end - h) >= hostlen || memchr(h, '@', (size_t)(end - h)))
        return -1;
    if (*end && !strchr(":/?#", *end))
        return -1;
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
    return 0;
}

int dr_settings_imds_endpoint(const struct dr_settings_env *env,
                              const struct dr_ini_section *profile, char **url, char *err,
                              size_t errlen)
{
    const char *v = dr_settings_lookup(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", profile,
                                       "ec2_metadata_service_endpoint");
    char scheme[16], host[256];
    *url = NULL;
    if (v) {
        if (url_host(v, scheme, sizeof scheme, host, sizeof host) != 0 ||
            (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
            snprintf(err, errlen, "invalid IMDS endpoint '%.200s'", v);
            return -1;
        }
    } else {
        const char *mode = dr_settings_lookup(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                              profile, "ec2_metadata_service_endpoint_mode");
        if (!mode || strcasecmp(mode, "IPv4") == 0) {
            v = IMDS_IPV4;
        } else if (strcasecmp(mode, "IPv6") == 0) {
            v = IMDS_IPV6;
        } else {
            snprintf(err, errlen, "'%.64s' is not a valid IMDS endpoint mode (IPv4 or IPv6)", mode);
            return -1;
        }
    }
    if (!(*url = url_trimmed(v))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* 1 when an http:// host may serve container credentials: loopback, or the
 * ECS and EKS Pod Identity agents. */
static int container_host_allowed(const char *host)
{
    static const char *const agents[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
                                         "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof agents / sizeof agents[0]; i++)
        if (strcasecmp(host, agents[i]) == 0)
            return 1;
    if (strncmp(host, "127.", 4) != 0)
        return 0;
    int dots = 0;
    for (const char *p = host + 4; *p; p++) {
        if (*p == '.')
            dots++;
        else if (!isdigit((unsigned char)*p))
            return 0;
    }
    return dots == 2;
}

int dr_settings_ecs_url(const struct dr_settings_env *env, char **url, char *err, size_t errlen)
{
    const char *rel = dr_settings_getenv(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = dr_settings_getenv(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char scheme[16], host[256];
    *url = NULL;
    if (rel) {
        size_t n = strlen(ECS_HOST) + strlen(rel) + 2;
        for (const char *p = rel; *p; p++) {
            if ((unsigned char)*p <= ' ' || *p == 0x7f) {
                snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI holds a blank");
                return -1;
            }
        }
        if (!(*url = malloc(n))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        snprintf(*url, n, "%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
        return 0;
    }
    if (!full)
        return 1;
    if (url_host(full, scheme, sizeof scheme, host, sizeof host) != 0) {
        snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI '%.200s' names no host", full);
        return -1;
    }
    if (strcasecmp(scheme, "https") != 0 &&
        !(strcasecmp(scheme, "http") == 0 && container_host_allowed(host))) {
        snprintf(err, errlen,
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI must use https, or http to a loopback "
                 "address or the ECS / EKS agent; '%.200s' does not",
                 host);
        return -1;
    }
    if (!(*url = strdup(full))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}
