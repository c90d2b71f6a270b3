/* mfa: see dbtrun/mfa.h. The cache key and file are botocore's (the aws
 * CLI's assume-role cache), so a code typed into either tool serves both. */
#include "dbtrun/mfa.h"
#include "dbtrun/buf.h"
#include "dbtrun/client.h"
#include "dbtrun/dl.h"
#include "dbtrun/fs.h"
#include "dbtrun/isotime.h"
#include "dbtrun/proc.h"
#include "dbtrun/sigv4.h"
#include "dbtrun/wipe.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define CACHE_DIR "/.aws/cli/cache"
#define MEMO_MAX 8 /* roles with MFA one run can use */

/* ---- the key ------------------------------------------------------------------ */

/* Appends s as Python's json.dumps writes a str (ensure_ascii). */
static void json_string(struct dr_buf *b, const char *s)
{
    dr_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned long cp = *p;
        int extra = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : cp >= 0xC0 ? 1 : 0;
        if (extra) {
            cp &= 0x3Fu >> extra;
            for (int i = 0; i < extra && (p[1] & 0xC0) == 0x80; i++)
                cp = (cp << 6) | (*++p & 0x3F);
        }
        if (cp == '"' || cp == '\\')
            dr_buf_printf(b, "\\%c", (int)cp);
        else if (cp == '\n')
            dr_buf_puts(b, "\\n");
        else if (cp == '\r')
            dr_buf_puts(b, "\\r");
        else if (cp == '\t')
            dr_buf_puts(b, "\\t");
        else if (cp == '\b')
            dr_buf_puts(b, "\\b");
        else if (cp == '\f')
            dr_buf_puts(b, "\\f");
        else if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000))
            dr_buf_printf(b, "\\u%04lx", cp);
        else if (cp >= 0x10000)
            dr_buf_printf(b, "\\u%04lx\\u%04lx", 0xD800 + ((cp - 0x10000) >> 10),
                          0xDC00 + ((cp - 0x10000) & 0x3FF));
        else
            dr_buf_add(b, (const char *)p, 1);
    }
    dr_buf_puts(b, "\"");
}

/* One "Name": value pair of the sorted JSON object. */
static void json_pair(struct dr_buf *b, int *first, const char *name, const char *value, int number)
{
    if (!value || !*value)
        return;
    dr_buf_printf(b, "%s\"%s\": ", *first ? "" : ", ", name);
    *first = 0;
    if (number)
        dr_buf_printf(b, "%ld", strtol(value, NULL, 10));
    else
        json_string(b, value);
}

int dr_mfa_cache_key(const struct dr_sts_role_params *p, char out[DR_MFA_KEY_LEN + 1])
{
    struct dr_buf b;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char err[128];
    int first = 1, rc = -1;
    const char *d = p->duration_seconds;
    /* botocore makes DurationSeconds an int when it reads as one */
    int number = d && *d && strspn(d, "0123456789") == strlen(d) && strlen(d) < 10;
    dr_buf_init(&b, 0);
    dr_buf_puts(&b, "{");
    json_pair(&b, &first, "DurationSeconds", d, number);
    json_pair(&b, &first, "ExternalId", p->external_id, 0);
    json_pair(&b, &first, "RoleArn", p->role_arn, 0);
    json_pair(&b, &first, "RoleSessionName", p->session_name, 0);
    json_pair(&b, &first, "SerialNumber", p->serial_number, 0);
    dr_buf_puts(&b, "}");
    if (b.overflowed || b.out_of_mem || dr_dl_crypto(err, sizeof err) != 0 ||
        !dr_crypto.EVP_Digest(b.data, b.len, md, &mdlen, dr_crypto.EVP_sha1(), NULL) || mdlen != 20)
        goto out;
    dr_hex(md, 20, out);
    rc = 0;
out:
    dr_buf_free(&b);
    return rc;
}

char *dr_mfa_cache_path(const struct dr_settings_env *env, const char *key, char *err,
                        size_t errlen)
{
    const char *home = dr_settings_getenv(env, "HOME");
    char *path;
    if (!home) {
        snprintf(err, errlen, "no home folder (HOME is not set) for ~/.aws/cli/cache");
        return NULL;
    }
    size_t n = strlen(home);
    while (n > 1 && home[n - 1] == '/')
        n--;
    size_t len = n + strlen(CACHE_DIR) + 1 + strlen(key) + sizeof ".json";
    if (!(path = malloc(len))) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(path, len, "%.*s%s/%s.json", (int)n, home, CACHE_DIR, key);
    return path;
}

/* ---- the run's copy --------------------------------------------------------------- */

struct memo {
    char key[DR_MFA_KEY_LEN + 1];
    struct dr_aws_credentials cred;
};

static struct memo memos[MEMO_MAX];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static int creds_dup(struct dr_aws_credentials *dst, const struct dr_aws_credentials *src)
{
    memset(dst, 0, sizeof *dst);
    dst->expiration = src->expiration;
    memcpy(dst->provider, src->provider, sizeof dst->provider);
    if (!(dst->access_key_id = strdup(src->access_key_id)) ||
        !(dst->secret_access_key = strdup(src->secret_access_key)) ||
        (src->session_token && !(dst->session_token = strdup(src->session_token)))) {
        dr_aws_credentials_free(dst);
        return -1;
    }
    return 0;
}

static int memo_get(const char *key, time_t now, struct dr_aws_credentials *out)
{
    int rc = 1;
    pthread_mutex_lock(&memo_lock);
    for (size_t i = 0; i < MEMO_MAX && rc == 1; i++)
        if (strcmp(memos[i].key, key) == 0 && dr_aws_credentials_fresh(&memos[i].cred, now))
            rc = creds_dup(out, &memos[i].cred) == 0 ? 0 : 1;
    pthread_mutex_unlock(&memo_lock);
    return rc;
}

static void memo_put(const char *key, const struct dr_aws_credentials *c)
{
    size_t slot = 0;
    pthread_mutex_lock(&memo_lock);
    for (size_t i = 0; i < MEMO_MAX; i++) {
        if (strcmp(memos[i].key, key) == 0 || !memos[i].key[0]) {
            slot = i;
            break;
        }
        if (memos[i].cred.expiration < memos[slot].cred.expiration)
            slot = i; /* full: the one that ends first makes room */
    }
    dr_aws_credentials_free(&memos[slot].cred);
    memos[slot].key[0] = '\0';
    if (creds_dup(&memos[slot].cred, c) == 0)
        snprintf(memos[slot].key, sizeof memos[slot].key, "%s", key);
    pthread_mutex_unlock(&memo_lock);
}

/* ---- the file ------------------------------------------------------------------- */

/* An Expiration as botocore writes it ("...T12:00:00UTC") or as STS does. */
static int parse_expiration(const char *s, time_t *t)
{
    char iso[40];
    size_t n = s ? strlen(s) : 0;
    if (n > 3 && n < sizeof iso && strcmp(s + n - 3, "UTC") == 0) {
        snprintf(iso, sizeof iso, "%.*sZ", (int)(n - 3), s);
        s = iso;
    }
    return dr_isotime_parse(s, t);
}

static const char *json_text(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* Frees a parsed cache file, erasing the copies of the secrets first. */
static void json_wipe_delete(cJSON *doc)
{
    const cJSON *it;
    if (!doc)
        return;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "Credentials"))
    {
        if (cJSON_IsString(it))
            dr_wipe(it->valuestring, strlen(it->valuestring));
    }
    cJSON_Delete(doc);
}

static int file_get(const char *path, time_t now, struct dr_aws_credentials *out)
{
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    cJSON *doc = NULL;
    int rc = 1;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) ||
        st.st_uid != geteuid() || dr_fs_read(path, &data, &len) != 0)
        goto out;
    doc = cJSON_ParseWithLength(data, len);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "Credentials");
    const char *akid = json_text(c, "AccessKeyId"), *secret = json_text(c, "SecretAccessKey");
    const char *token = json_text(c, "SessionToken");
    struct dr_aws_credentials found = {0};
    if (!akid || !secret || !token ||
        parse_expiration(json_text(c, "Expiration"), &found.expiration) != 0)
        goto out;
    found.access_key_id = (char *)akid;
    found.secret_access_key = (char *)secret;
    found.session_token = (char *)token;
    if (dr_aws_credentials_fresh(&found, now) && creds_dup(out, &found) == 0)
        rc = 0;
out:
    if (data) {
        dr_wipe(data, len);
        free(data);
    }
    json_wipe_delete(doc);
    return rc;
}

int dr_mfa_cache_get(const char *key, const char *path, time_t now, struct dr_aws_credentials *out)
{
    memset(out, 0, sizeof *out);
    if (memo_get(key, now, out) == 0)
        return 0;
    if (path && file_get(path, now, out) == 0) {
        memo_put(key, out);
        return 0;
    }
    return 1;
}

/* The file's JSON (a secret: the caller wipes it). NULL when out of memory. */
static char *file_json(const struct dr_aws_credentials *c)
{
    char expires[32];
    struct dr_buf b;
    dr_isotime_format(c->expiration, expires);
    dr_buf_init(&b, 0);
    dr_buf_puts(&b, "{\"Credentials\": {\"AccessKeyId\": ");
    json_string(&b, c->access_key_id);
    dr_buf_puts(&b, ", \"SecretAccessKey\": ");
    json_string(&b, c->secret_access_key);
    dr_buf_puts(&b, ", \"SessionToken\": ");
    json_string(&b, c->session_token ? c->session_token : "");
    dr_buf_printf(&b, ", \"Expiration\": \"%s\"}}\n", expires);
    if (b.overflowed || b.out_of_mem) {
        dr_wipe(b.data, b.len);
        dr_buf_free(&b);
        return NULL;
    }
    return dr_buf_take(&b, NULL);
}

int dr_mfa_cache_put(const char *key, const char *path, const struct dr_aws_credentials *c)
{
    char *json;
    int rc;
    memo_put(key, c);
    if (!path || !c->session_token || !c->expiration)
        return path ? -1 : 0;
    if (!(json = file_json(c)))
        return -1;
    rc = dr_fs_write_secret(path, json, strlen(json));
    dr_free_secret(json);
    return rc;
}

/* ---- the terminal ---------------------------------------------------------------- */

/* Reads one line from fd into code, echo off. 0, -1 (error or empty), -2 (a signal). */
static int read_code(int fd, char code[DR_MFA_CODE_MAX], int signals)
{
    size_t n = 0;
    char c;
    for (;;) {
        ssize_t got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR) {
            if (dr_proc_signal_count() != signals)
                return -2;
            continue;
        }
        if (got <= 0 || c == '\n' || c == '\r')
            break;
        if (n + 1 < DR_MFA_CODE_MAX)
            code[n++] = c;
    }
    code[n] = '\0';
    while (n > 0 && (code[n - 1] == ' ' || code[n - 1] == '\t'))
        code[--n] = '\0';
    return n > 0 ? 0 : -1;
}

int dr_mfa_ask(const char *profile, const char *serial, char code[DR_MFA_CODE_MAX], char *err,
               size_t errlen, int *interrupted)
{
    struct termios saved, quiet;
    int fd, rc, signals = dr_proc_signal_count(), restore = 0;
    *interrupted = 0;
    code[0] = '\0';
    if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        return 1;
    if (!isatty(fd)) {
        close(fd);
        return 1;
    }
    if (tcgetattr(fd, &saved) == 0) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
    dprintf(fd, "Enter MFA code for %s (profile %s): ", serial, profile);
    rc = read_code(fd, code, signals);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &saved);
    dprintf(fd, "\n"); /* the Enter that was not echoed */
    close(fd);
    if (rc == -2) {
        *interrupted = 1;
        snprintf(err, errlen, "interrupted while asking for the MFA code");
    } else if (rc != 0) {
        snprintf(err, errlen, "no MFA code entered for profile %s", profile);
    }
    if (rc != 0)
        dr_wipe(code, DR_MFA_CODE_MAX);
    return rc == 0 ? 0 : -1;
}
