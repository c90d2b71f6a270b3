/* aws_sso: `dbtrun aws sso login [--no-browser]` and `dbtrun aws sso logout`.
 * Login is the AWS CLI v2's device authorization (RegisterClient,
 * StartDeviceAuthorization, polling CreateToken) and writes its token cache
 * file (src/aws/sso.c), so the aws CLI can use a dbtrun sign-in and the other
 * way round. Nothing secret (device code, tokens, client secret) is printed. */
#include "aws_sso.h"
#include "dbtrun/client.h"
#include "dbtrun/creds.h"
#include "dbtrun/proc.h"
#include "dbtrun/sso.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCOPES_MAX 16
#define CLIENT_NAME "dbtrun"

extern char **environ;

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int report(const struct dr_aws_error *err)
{
    char text[2048];
    dr_aws_error_format(err, text, sizeof text);
    fprintf(stderr, "error: %s\n", text);
    return 1;
}

/* sso_registration_scopes ("a, b") into scopes[] (NULL-terminated, pointing
 * into buf); the AWS CLI's default for an sso-session without any. */
static void split_scopes(const struct dr_creds_sso *sso, char *buf, size_t len,
                         const char *scopes[SCOPES_MAX + 1])
{
    size_t n = 0;
    scopes[0] = NULL;
    if (!sso->session)
        return; /* the legacy form registers without scopes */
    snprintf(buf, len, "%s", sso->scopes ? sso->scopes : DR_SSO_DEFAULT_SCOPE);
    for (char *save = NULL, *s = strtok_r(buf, ",", &save); s && n < SCOPES_MAX;
         s = strtok_r(NULL, ",", &save)) {
        while (*s == ' ' || *s == '\t')
            s++;
        char *end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*s)
            scopes[n++] = s;
    }
    scopes[n] = NULL;
}

/* Opens url in a browser when a person is at a graphical terminal: stdout
 * is a terminal and DISPLAY or WAYLAND_DISPLAY is set. xdg-open gets the URL
 * as its own argument, never through a shell. Returns its pid, or 0. */
static pid_t open_browser(const char *url)
{
    posix_spawn_file_actions_t fa;
    char prog[] = "xdg-open";
    char *argv[] = {prog, (char *)url, NULL};
    pid_t pid = 0;
    if (!isatty(STDOUT_FILENO) || !(getenv("DISPLAY") || getenv("WAYLAND_DISPLAY")))
        return 0;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, prog, &fa, NULL, argv, environ) != 0)
        pid = 0;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Sleeps `s` seconds; 0, or -1 when a signal came (the caller stops). */
static int wait_seconds(long s)
{
    struct timespec ts = {s, 0};
    int before = dr_proc_signal_count();
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        if (dr_proc_signal_count() != before)
            return -1;
    return dr_proc_signal_count() != before ? -1 : 0;
}

/* Polls CreateToken until the person approves, as RFC 8628 says:
 * authorization_pending waits `interval`, slow_down adds 5 s. 0 with tok
 * filled, or 1 after saying why. */
static int poll_token(struct dr_aws_client *c, const char *oidc, const struct dr_sso_client *reg,
                      const struct dr_sso_device *dev, struct dr_sso_token *tok)
{
    long interval = dev->interval > 0 ? dev->interval : 5;
    time_t deadline = time(NULL) + (dev->expires_in > 0 ? dev->expires_in : 600);
    struct dr_aws_error err;
    for (;;) {
        if (wait_seconds(interval) != 0)
            return 1;
        if (dr_sso_create_token(c, oidc, DR_SSO_GRANT_DEVICE, reg, dev->device_code, time(NULL),
                                tok, &err) == 0)
            return 0;
        if (strcmp(err.code, "slow_down") == 0)
            interval += 5;
        else if (strcmp(err.code, "authorization_pending") != 0)
            return report(&err);
        if (time(NULL) >= deadline)
            return fail("the sign-in was not approved before the code expired; run the "
                        "login again");
    }
}

/* The client registration: the one in the existing cache while it has a day
 * left (the CLI reuses its registration too), else a new one. */
static int registration(struct dr_aws_client *c, const char *oidc, const struct dr_creds_sso *sso,
                        const char *path, struct dr_sso_client *reg)
{
    struct dr_sso_token old;
    struct dr_aws_error err;
    char msg[512], buf[1024];
    const char *scopes[SCOPES_MAX + 1];
    memset(reg, 0, sizeof *reg);
    if (dr_sso_token_load(path, &old, msg, sizeof msg) == 0 && old.client_id && old.client_secret &&
        old.registration_expires_at > time(NULL) + 86400) {
        reg->client_id = old.client_id;
        reg->client_secret = old.client_secret;
        reg->expires_at = old.registration_expires_at;
        old.client_id = old.client_secret = NULL;
    }
    dr_sso_token_free(&old);
    if (reg->client_id)
        return 0;
    split_scopes(sso, buf, sizeof buf, scopes);
    if (dr_sso_register_client(c, oidc, CLIENT_NAME, scopes, reg, &err) != 0)
        return report(&err);
    return 0;
}

/* Tells the person where to approve the sign-in, and opens it when it can. */
static pid_t prompt(const struct dr_sso_device *dev, int browser)
{
    const char *url =
        dev->verification_uri_complete ? dev->verification_uri_complete : dev->verification_uri;
    pid_t pid = browser ? open_browser(url) : 0;
    printf("%sopen this page to sign in:\n\n  %s\n\nand check it shows the code:\n\n  %s\n\n",
           pid ? "Opening a browser; if it does not open, " : "To sign in to IAM Identity Center, ",
           url, dev->user_code);
    printf("Waiting for approval...\n");
    fflush(stdout);
    return pid;
}

/* dbtrun aws sso login [--no-browser] */
static int login(struct dr_aws_client *c, const struct dr_creds_sso *sso, int browser)
{
    struct dr_sso_client reg = {0};
    struct dr_sso_device dev = {0};
    struct dr_sso_token tok = {0};
    struct dr_aws_error err;
    struct dr_aws_client *d = NULL;
    char *path = NULL, *oidc = NULL, msg[512];
    pid_t pid = 0;
    int status = 1;
    if (!(path =
              dr_sso_cache_path(dr_aws_client_env(c), sso->session ? sso->session : sso->start_url,
                                msg, sizeof msg))) {
        status = fail("%s", msg);
        goto out;
    }
    if (!(oidc = dr_aws_endpoint_in(c, "sso-oidc", sso->region)) ||
        dr_aws_client_derive(c, NULL, &d) != 0) {
        status = fail("out of memory");
        goto out;
    }
    if ((status = registration(d, oidc, sso, path, &reg)) != 0)
        goto out;
    if (dr_sso_start_device_authorization(d, oidc, &reg, sso->start_url, &dev, &err) != 0) {
        status = report(&err);
        goto out;
    }
    pid = prompt(&dev, browser);
    if ((status = poll_token(d, oidc, &reg, &dev, &tok)) != 0)
        goto out;
    if (!(tok.start_url = strdup(sso->start_url)) || !(tok.region = strdup(sso->region)) ||
        (sso->session && (!(tok.client_id = strdup(reg.client_id)) ||
                          !(tok.client_secret = strdup(reg.client_secret))))) {
        status = fail("out of memory");
        goto out;
    }
    if (sso->session) /* the CLI keeps a session's registration with its token, for refreshes */
        tok.registration_expires_at = reg.expires_at;
    if (dr_sso_token_save(path, &tok) != 0) {
        status = fail("cannot write the SSO token cache %s: %s", path, strerror(errno));
        goto out;
    }
    printf("Signed in to %s; the token is cached in %s\n", sso->start_url, path);
    status = 0;
out:
    if (pid > 0)
        waitpid(pid, NULL, WNOHANG);
    dr_sso_token_free(&tok);
    dr_sso_device_free(&dev);
    dr_sso_client_free(&reg);
    dr_aws_client_free(d);
    free(oidc);
    free(path);
    return status;
}

/* 1 when the JSON file at path is a token cache (it holds an accessToken),
 * which is what `aws sso logout` removes; registrations stay. */
static int is_token_file(const char *path)
{
    struct dr_sso_token t;
    char msg[512];
    int rc = dr_sso_token_load(path, &t, msg, sizeof msg) == 0;
    dr_sso_token_free(&t);
    return rc;
}

/* dbtrun aws sso logout: removes every cached SSO token, as `aws sso logout`. */
static int logout(struct dr_aws_client *c)
{
    char msg[512], file[1024];
    char *any = dr_sso_cache_path(dr_aws_client_env(c), "x", msg, sizeof msg), *slash;
    DIR *dir;
    struct dirent *e;
    int removed = 0, status = 0;
    if (!any)
        return fail("%s", msg);
    if ((slash = strrchr(any, '/')))
        *slash = '\0';
    if (!(dir = opendir(any))) {
        printf("No SSO tokens cached in %s\n", any);
        free(any);
        return 0;
    }
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(file, sizeof file, "%s/%s", any, e->d_name);
        if (!is_token_file(file))
            continue;
        if (unlink(file) == 0)
            removed++;
        else
            status = fail("cannot remove %s: %s", file, strerror(errno));
    }
    closedir(dir);
    printf("Removed %d SSO token%s from %s\n", removed, removed == 1 ? "" : "s", any);
    free(any);
    return status;
}

/* The profile's IAM Identity Center settings. 0, or 1 after saying why. */
static int sso_settings(struct dr_aws_client *c, struct dr_creds_plan *plan)
{
    char msg[512];
    const char *profile = dr_aws_client_profile(c);
    int rc = dr_creds_plan(dr_aws_client_ini(c), profile, 0, plan, msg, sizeof msg);
    if (rc == DR_CREDS_PLAN_ERROR)
        return fail("%s", msg);
    if (rc != DR_CREDS_PLAN_OK || plan->base != DR_CREDS_BASE_SSO)
        return fail("profile %s does not sign in through IAM Identity Center (no sso_session or "
                    "sso_start_url in it%s)",
                    profile, rc == DR_CREDS_PLAN_MISSING ? ", or no such profile" : "");
    return 0;
}

int dr_aws_sso_cmd(struct dr_aws_client *c, int argc, char **argv)
{
    struct dr_creds_plan plan;
    int browser = 1;
    for (int i = 1; i < argc; i++) {
        /* --use-device-code is the aws CLI's; dbtrun always uses the device code */
        if (strcmp(argv[i], "--no-browser") == 0)
            browser = 0;
        else if (strcmp(argv[i], "--use-device-code") != 0) {
            fprintf(stderr, "dbtrun aws: sso %s: unknown option %s\n(see dbtrun aws --help)\n",
                    argv[0], argv[i]);
            return 2;
        }
    }
    if (argc >= 1 && strcmp(argv[0], "logout") == 0)
        return argc == 1 ? logout(c) : 2;
    if (argc < 1 || strcmp(argv[0], "login") != 0) {
        fprintf(stderr, "dbtrun aws: sso wants login or logout\n(see dbtrun aws --help)\n");
        return 2;
    }
    if (sso_settings(c, &plan) != 0)
        return 1;
    return login(c, &plan.sso, browser);
}
