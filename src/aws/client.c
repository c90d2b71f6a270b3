/* client: the AWS client object — region, profile, the shared config and
 * credentials files (read once, at creation; no network then), endpoint
 * overrides, and the credentials cache: resolved on first use through the
 * resolver the client was created with (the default chain installs itself,
 * see creds.c), refreshed before they expire, safe to share between threads. */
#include "dbtrun/client.h"
#include "dbtrun/aws.h"
#include "dbtrun/retry.h"
#include "dbtrun/sigv4.h"
#include "dbtrun/wipe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replaced credentials stay alive until the client is freed, because a
 * thread may still be signing with them; the oldest go past this many. */
#define RETIRED_MAX 16

struct dr_aws_client {
    struct dr_settings_env env;
    char *profile;
    int profile_explicit; /* DR_CREDS_PROFILE_* */
    char *region;
    int region_pending;             /* nothing named one: ask region_source at first use */
    dr_aws_region_fn region_source; /* set only while pending; never changed once shared */
    pthread_mutex_t region_lock;
    char *endpoint_url; /* opts->endpoint_url; NULL in derived clients */
    int verbose;
    int max_attempts; /* resolved at creation */
    struct dr_retry_state
        *retry;              /* the root's: quota, limiter and clock offset are per client tree */
    long connect_timeout_ms; /* as in dr_aws_client_opts */
    long read_timeout_s;
    struct dr_ini ini;                /* what the files hold (empty in derived clients) */
    const struct dr_ini *settings;    /* &ini, or the parent's */
    struct dr_ini_paths paths;        /* config and credentials files; NULL without home */
    const struct dr_aws_client *root; /* the client whose settings a derived one uses */
    int fixed;                        /* derived: credentials given, never resolved */
    dr_aws_resolve_fn resolve;        /* where fresh credentials come from */
    pthread_mutex_t lock;
    struct dr_aws_credentials *current;
    struct dr_aws_credentials *retired[RETIRED_MAX];
    size_t nretired;
};

int dr_aws_credentials_fresh(const struct dr_aws_credentials *c, time_t now)
{
    return c && (c->expiration == 0 || now + DR_CREDS_REFRESH_S < c->expiration);
}

int dr_aws_credentials_unexpired(const struct dr_aws_credentials *c, time_t now)
{
    return c && (c->expiration == 0 || now < c->expiration);
}

void dr_aws_credentials_free(struct dr_aws_credentials *c)
{
    if (!c)
        return;
    dr_free_secret(c->access_key_id);
    dr_free_secret(c->secret_access_key);
    dr_free_secret(c->session_token);
    memset(c, 0, sizeof *c);
}

static void creds_destroy(struct dr_aws_credentials *c)
{
    dr_aws_credentials_free(c);
    free(c);
}

/* The variable through the client's lookup, as the files are resolved. */
static const char *env_raw(void *ud, const char *name)
{
    const struct dr_settings_env *env = ud;
    return env->fn ? env->fn(env->ud, name) : getenv(name);
}

/* The file paths when no home folder is known: only absolute
 * AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE count. 0, or -1 (memory). */
static int paths_without_home(struct dr_aws_client *c)
{
    const char *cfg = dr_settings_getenv(&c->env, "AWS_CONFIG_FILE");
    const char *cred = dr_settings_getenv(&c->env, "AWS_SHARED_CREDENTIALS_FILE");
    const char *profile = dr_settings_getenv(&c->env, "AWS_PROFILE");
    memset(&c->paths, 0, sizeof c->paths);
    if ((cfg && cfg[0] == '/' && !(c->paths.config = strdup(cfg))) ||
        (cred && cred[0] == '/' && !(c->paths.credentials = strdup(cred))) ||
        !(c->paths.profile = strdup(profile ? profile : "default")))
        return -1;
    return 0;
}

/* Reads the config file, then the credentials file (its keys win). */
static int load_files(struct dr_aws_client *c, struct dr_aws_error *err)
{
    struct dr_ini_status st = {0};
    if (c->paths.config && dr_ini_load(&c->ini, DR_INI_CONFIG, c->paths.config, &st) != DR_INI_OK)
        return dr_aws_fail(err, "", "", "ConfigError", "%s", st.msg);
    if (c->paths.credentials &&
        dr_ini_load(&c->ini, DR_INI_CREDENTIALS, c->paths.credentials, &st) != DR_INI_OK)
        return dr_aws_fail(err, "", "", "ConfigError", "%s", st.msg);
    return 0;
}

/* Where the files are, which profile, and what they hold. 0, or -1 with err. */
static int read_config(struct dr_aws_client *c, const struct dr_aws_client_opts *opts,
                       struct dr_aws_error *err)
{
    struct dr_ini_status st = {0};
    int prc = dr_ini_paths_resolve(&c->paths, env_raw, &c->env, DR_INI_POSIX, &st);
    if (prc == DR_INI_ENOHOME ? paths_without_home(c) != 0 : prc != DR_INI_OK)
        return dr_aws_fail(err, "", "",
                           prc == DR_INI_ENOMEM || prc == DR_INI_ENOHOME ? "InternalError"
                                                                         : "ConfigError",
                           "%s", st.msg[0] ? st.msg : "out of memory");
    c->profile_explicit = opts->profile && *opts->profile              ? DR_CREDS_PROFILE_OPTS
                          : dr_settings_getenv(&c->env, "AWS_PROFILE") ? DR_CREDS_PROFILE_ENV
                                                                       : DR_CREDS_PROFILE_DEFAULT;
    if (!(c->profile = strdup(opts->profile && *opts->profile ? opts->profile : c->paths.profile)))
        return dr_aws_fail(err, "", "", "InternalError", "out of memory");
    if (load_files(c, err) != 0)
        return -1;
    return 0;
}

/* Region, endpoint, timeouts and attempts from opts, the environment and
 * the profile. 0, or -1 with err. */
static int apply_settings(struct dr_aws_client *c, const struct dr_aws_client_opts *opts,
                          struct dr_aws_error *err)
{
    const struct dr_ini_section *profile = dr_ini_profile(&c->ini, c->profile);
    const char *region = dr_settings_region_named(opts->region, &c->env, profile);
    char msg[512];
    enum dr_retry_mode mode;
    c->region_pending = !region;
    if (!region)
        region = DR_SETTINGS_REGION_DEFAULT;
    if (!dr_settings_region_valid(region))
        return dr_aws_fail(err, "", "", "ConfigError", "invalid region '%.64s'", region);
    if (!(c->region = strdup(region)) || (opts->endpoint_url && *opts->endpoint_url &&
                                          !(c->endpoint_url = strdup(opts->endpoint_url))))
        return dr_aws_fail(err, "", "", "InternalError", "out of memory");
    c->verbose = opts->verbose;
    c->connect_timeout_ms = opts->connect_timeout_ms;
    c->read_timeout_s = opts->read_timeout_s;
    if (dr_settings_retry(opts->max_attempts, &c->env, profile, c->paths.config, &mode,
                          &c->max_attempts, msg, sizeof msg) != 0)
        return dr_aws_fail(err, "", "", "ConfigError", "%s", msg);
    if (!(c->retry = malloc(sizeof *c->retry)))
        return dr_aws_fail(err, "", "", "InternalError", "out of memory");
    if (dr_retry_init(c->retry, mode) != 0) {
        free(c->retry);
        c->retry = NULL;
        return dr_aws_fail(err, "", "", "InternalError", "cannot make a mutex");
    }
    return 0;
}

static void retry_free(struct dr_aws_client *c)
{
    if (c->retry && c->root == c) {
        dr_retry_destroy(c->retry);
        free(c->retry);
    }
    c->retry = NULL;
}

int dr_aws_client_create(const struct dr_aws_client_opts *opts, const struct dr_settings_env *env,
                         dr_aws_resolve_fn resolve, struct dr_aws_client **out,
                         struct dr_aws_error *err)
{
    static const struct dr_aws_client_opts none = {0};
    struct dr_aws_client *c = calloc(1, sizeof *c);
    struct dr_aws_error local;
    int rc = -1;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    *out = NULL;
    if (!opts)
        opts = &none;
    if (!c) {
        dr_aws_fail(err, "", "", "InternalError", "out of memory");
        goto out;
    }
    c->root = c;
    c->settings = &c->ini;
    c->resolve = resolve;
    if (env)
        c->env = *env;
    if (read_config(c, opts, err) != 0 || apply_settings(c, opts, err) != 0)
        goto out;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        dr_aws_fail(err, "", "", "InternalError", "cannot make a mutex");
        goto out;
    }
    if (pthread_mutex_init(&c->region_lock, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        dr_aws_fail(err, "", "", "InternalError", "cannot make a mutex");
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    if (c) {
        retry_free(c);
        dr_ini_free(&c->ini);
        dr_ini_paths_free(&c->paths);
        free(c->profile);
        free(c->region);
        free(c->endpoint_url);
        free(c);
    }
    return rc;
}

int dr_aws_client_derive(const struct dr_aws_client *parent, const struct dr_aws_credentials *cred,
                         struct dr_aws_client **out)
{
    struct dr_aws_client *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return -1;
    c->root = parent->root;
    c->settings = parent->root->settings;
    c->env = parent->env;
    c->profile_explicit = parent->profile_explicit;
    c->verbose = parent->verbose;
    c->max_attempts = parent->max_attempts;
    c->retry = parent->retry;
    c->connect_timeout_ms = parent->connect_timeout_ms;
    c->read_timeout_s = parent->read_timeout_s;
    c->fixed = 1;
    c->profile = strdup(parent->profile);
    c->region = strdup(dr_aws_client_region(parent));
    if (cred && (c->current = calloc(1, sizeof *c->current))) {
        c->current->access_key_id = strdup(cred->access_key_id);
        c->current->secret_access_key = strdup(cred->secret_access_key);
        c->current->session_token = cred->session_token ? strdup(cred->session_token) : NULL;
        c->current->expiration = cred->expiration;
        memcpy(c->current->provider, cred->provider, sizeof cred->provider);
    }
    if (!c->profile || !c->region ||
        (cred && (!c->current || !c->current->access_key_id || !c->current->secret_access_key ||
                  (cred->session_token && !c->current->session_token))) ||
        pthread_mutex_init(&c->lock, NULL) != 0) {
        creds_destroy(c->current);
        free(c->profile);
        free(c->region);
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void dr_aws_client_free(struct dr_aws_client *c)
{
    if (!c)
        return;
    if (c->current)
        creds_destroy(c->current);
    for (size_t i = 0; i < c->nretired; i++)
        creds_destroy(c->retired[i]);
    retry_free(c);
    dr_ini_free(&c->ini);
    dr_ini_paths_free(&c->paths);
    free(c->profile);
    free(c->region);
    free(c->endpoint_url);
    pthread_mutex_destroy(&c->lock);
    if (c->root == c)
        pthread_mutex_destroy(&c->region_lock);
    free(c);
}

void dr_aws_client_region_source(struct dr_aws_client *c, dr_aws_region_fn fn)
{
    if (c->region_pending)
        c->region_source = fn;
}

const char *dr_aws_client_region(const struct dr_aws_client *c)
{
    /* resolved on first use, so that a client nobody sends with never asks
     * IMDS: the client stays logically const */
    struct dr_aws_client *m = (struct dr_aws_client *)c;
    const char *region;
    char *found;
    if (!c->region_source)
        return c->region;
    pthread_mutex_lock(&m->region_lock);
    if (m->region_pending) {
        m->region_pending = 0;
        found = m->region_source(&m->env, dr_ini_profile(m->settings, m->profile), m->verbose);
        if (found && dr_settings_region_valid(found)) {
            free(m->region);
            m->region = found;
        } else {
            free(found);
        }
    }
    region = m->region;
    pthread_mutex_unlock(&m->region_lock);
    return region;
}

int dr_aws_client_max_attempts(const struct dr_aws_client *c)
{
    return c && c->max_attempts > 0 ? c->max_attempts : DR_AWS_MAX_ATTEMPTS;
}

struct dr_retry_state *dr_aws_client_retry(const struct dr_aws_client *c)
{
    return c ? c->retry : NULL;
}

void dr_aws_client_timeouts(const struct dr_aws_client *c, long *connect_ms, long *read_s)
{
    *connect_ms = c ? c->connect_timeout_ms : 0;
    *read_s = c ? c->read_timeout_s : 0;
}

int dr_aws_client_verbose(const struct dr_aws_client *c)
{
    return c->verbose;
}

char *dr_aws_endpoint(const struct dr_aws_client *c, const char *service, int *custom)
{
    return dr_settings_endpoint(service, c->endpoint_url, &c->env, c->settings,
                                dr_ini_profile(c->settings, c->profile), dr_aws_client_region(c),
                                custom);
}

char *dr_aws_endpoint_in(const struct dr_aws_client *c, const char *service, const char *region)
{
    return dr_settings_endpoint(service, NULL, &c->env, c->settings,
                                dr_ini_profile(c->settings, c->profile), region, NULL);
}

const struct dr_ini *dr_aws_client_ini(const struct dr_aws_client *c)
{
    return c->settings;
}

const char *dr_aws_client_profile(const struct dr_aws_client *c)
{
    return c->profile;
}

const struct dr_settings_env *dr_aws_client_env(const struct dr_aws_client *c)
{
    return &c->env;
}

const char *dr_aws_signing_region(const struct dr_aws_client *c, const char *service)
{
    return dr_settings_signing_region(service, dr_aws_client_region(c));
}

/* Keeps `old` alive for threads that may still use it. */
static void retire(struct dr_aws_client *c, struct dr_aws_credentials *old)
{
    if (!old)
        return;
    if (c->nretired == RETIRED_MAX) {
        creds_destroy(c->retired[0]);
        memmove(c->retired, c->retired + 1, (RETIRED_MAX - 1) * sizeof c->retired[0]);
        c->nretired--;
    }
    c->retired[c->nretired++] = old;
}

/* Resolves new credentials and makes them current (c->lock held). On
 * failure, the current ones while they are unexpired, else NULL with err. */
static const struct dr_aws_credentials *refresh(struct dr_aws_client *c, time_t now,
                                                struct dr_aws_error *err)
{
    struct dr_aws_credentials *fresh = calloc(1, sizeof *fresh);
    if (!fresh) {
        dr_aws_fail(err, "", "", "InternalError", "out of memory");
        return NULL;
    }
    struct dr_creds_ctx ctx = {.client = c,
                               .env = &c->env,
                               .ini = c->settings,
                               .profile = c->profile,
                               .profile_explicit = c->profile_explicit,
                               .config_path = c->paths.config,
                               .credentials_path = c->paths.credentials,
                               .now = now,
                               .verbose = c->verbose};
    if (c->resolve(&ctx, fresh, err) != 0) {
        creds_destroy(fresh);
        if (!c->current || !dr_aws_credentials_unexpired(c->current, now))
            return NULL;
        /* a failed refresh of credentials still valid: use them while they last */
        if (c->verbose > 0)
            fprintf(stderr, "aws: refreshing credentials failed, using the current ones\n");
        memset(err, 0, sizeof *err);
        return c->current;
    }
    retire(c, c->current);
    c->current = fresh;
    return fresh;
}

const struct dr_aws_credentials *dr_aws_credentials_get(struct dr_aws_client *c,
                                                        struct dr_aws_error *err)
{
    const struct dr_aws_credentials *result = NULL;
    struct dr_aws_error local;
    char msg[160];
    time_t now;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    if (!c) {
        dr_aws_fail(err, "", "", "CredentialsError", "no AWS client");
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    if (c->fixed) {
        if (!(result = c->current))
            dr_aws_fail(err, "", "", "CredentialsError", "this client sends unsigned requests");
    } else if (dr_sigv4_now(&now, msg, sizeof msg) != 0) {
        dr_aws_fail(err, "", "", "ConfigError", "%s", msg);
    } else if (c->current && dr_aws_credentials_fresh(c->current, now)) {
        result = c->current;
    } else {
        result = refresh(c, now, err);
    }
    pthread_mutex_unlock(&c->lock);
    return result;
}
