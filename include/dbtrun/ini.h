/* ini: the AWS shared config and credentials files (~/.aws/config,
 * ~/.aws/credentials) — the SDKs' INI dialect parsed into profiles,
 * sso-sessions and services sections, the two files merged the way the SDKs
 * merge them, and where the files are found from the environment. */
#ifndef DR_INI_H
#define DR_INI_H

#include <stddef.h>

#define DR_INI_FILE_MAX (4u << 20)   /* cap on one file's size */
#define DR_INI_VALUE_MAX (64u << 10) /* cap on one value, continuations included */
#define DR_INI_ENTRIES_MAX 20000u    /* cap on sections per kind, properties per section */
#define DR_INI_PATH_MAX 4096u        /* cap on a resolved path */

enum dr_ini_rc {
    DR_INI_OK = 0,
    DR_INI_ESYNTAX, /* a line the dialect does not allow; status.line says which */
    DR_INI_ENOMEM,
    DR_INI_ELIMIT, /* a DR_INI_*_MAX cap was reached */
    DR_INI_EIO,    /* a file exists but could not be read */
    DR_INI_ENOHOME /* a path needs the home folder and none is known */
};

struct dr_ini_status {
    int line;      /* 1-based line of a syntax error, else 0 */
    char msg[256]; /* "<origin>:<line>: <what>" or another readable reason */
};

/* One `key = value` line. Keys are stored lower-cased (ASCII), as the SDKs
 * compare them case-insensitively. A property whose value is empty on its own
 * line and is followed by indented `name = value` lines, e.g.
 *     s3 =
 *       max_concurrent_requests = 10
 * has sub-properties: `value` keeps the SDKs' raw form
 * ("\nmax_concurrent_requests = 10") and `subs` holds them parsed (keys
 * lower-cased, values trimmed, the later of two equal keys wins). */
struct dr_ini_prop {
    char *key;
    char *value;
    struct dr_ini_prop *subs; /* NULL when none; subs never have subs */
    size_t nsubs, subcap;     /* subcap, like the cap fields below, is allocation bookkeeping */
};

/* A named group of properties: a profile, an sso-session or a services
 * section. Properties keep the order of their first appearance. */
struct dr_ini_section {
    char *name; /* case-sensitive, e.g. "default", "dev" */
    struct dr_ini_prop *props;
    size_t nprops, cap;
};

struct dr_ini_list {
    struct dr_ini_section *items;
    size_t n, cap;
};

/* Everything read from one or more files. Zero-initialise before the first
 * dr_ini_parse; release with dr_ini_free. Fields are read-only to callers. */
struct dr_ini {
    struct dr_ini_list profiles;     /* [default], [profile X]; bare [X] in credentials */
    struct dr_ini_list sso_sessions; /* [sso-session X] (config file only) */
    struct dr_ini_list services;     /* [services X] (config file only) */
};

enum dr_ini_kind {
    DR_INI_CONFIG,     /* [default], [profile X], [sso-session X], [services X] */
    DR_INI_CREDENTIALS /* bare [X] */
};

/* Parses one file's text (len bytes, need not be NUL-terminated) and merges
 * it into `ini`: a profile seen before gains the new properties and a key seen
 * before takes the new value, so parse the config file first and the
 * credentials file second. In the config file [profile default] wins over
 * [default] (the bare one is then ignored), and other bare [X] sections are
 * ignored; sections and keys whose names are not identifiers (letters, digits
 * and - _ / . % @ : +) are ignored, as the SDKs do. `origin` (may be NULL)
 * names the file in messages. Returns DR_INI_OK, or a dr_ini_rc with st
 * filled (st may be NULL): after DR_INI_ESYNTAX `ini` is as it was; after
 * DR_INI_ENOMEM or DR_INI_ELIMIT it may hold part of the file but is still
 * valid for dr_ini_free. */
int dr_ini_parse(struct dr_ini *ini, enum dr_ini_kind kind, const char *text, size_t len,
                 const char *origin, struct dr_ini_status *st);

/* Reads and parses a file of `kind` at `path` into `ini` like dr_ini_parse.
 * A missing file (ENOENT, ENOTDIR) is not an error and changes nothing; any
 * other read failure is DR_INI_EIO, a file over DR_INI_FILE_MAX DR_INI_ELIMIT. */
int dr_ini_load(struct dr_ini *ini, enum dr_ini_kind kind, const char *path,
                struct dr_ini_status *st);

/* Frees everything `ini` holds and zeroes it; it may be reused. NULL is fine. */
void dr_ini_free(struct dr_ini *ini);

/* Looks a section up by exact name in a list. Returns a borrowed pointer
 * into the list (valid until the next parse or free), or NULL. */
const struct dr_ini_section *dr_ini_find(const struct dr_ini_list *list, const char *name);

/* dr_ini_find on ini->profiles. */
const struct dr_ini_section *dr_ini_profile(const struct dr_ini *ini, const char *name);

/* A property's value by key (ASCII case-insensitive), borrowed from the
 * section; NULL when the section is NULL or has no such key. */
const char *dr_ini_get(const struct dr_ini_section *sec, const char *key);

/* A sub-property's value, e.g. dr_ini_get_sub(p, "s3", "max_concurrent_requests");
 * borrowed, NULL when absent. */
const char *dr_ini_get_sub(const struct dr_ini_section *sec, const char *key, const char *subkey);

/* ------------------------------------------------------------------------ */
/* Where the files are. */

/* Returns the value of environment variable `name`, or NULL when unset. */
typedef const char *(*dr_ini_getenv_fn)(void *ud, const char *name);

enum dr_ini_platform {
    DR_INI_POSIX,  /* separator '/', home from HOME, else USERPROFILE */
    DR_INI_WINDOWS /* separator '\\', home from HOME, USERPROFILE, HOMEDRIVE+HOMEPATH */
};

struct dr_ini_paths {
    char *config;      /* AWS_CONFIG_FILE, else <home>/.aws/config */
    char *credentials; /* AWS_SHARED_CREDENTIALS_FILE, else <home>/.aws/credentials */
    char *profile;     /* AWS_PROFILE, else "default" */
};

/* Resolves the two file paths and the profile name from the environment,
 * read through `getenv_fn(ud, name)` (NULL: the process environment via
 * getenv). Empty variables count as unset. A leading "~" alone or followed
 * by '/' (or '\\' on Windows) in AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE
 * is replaced by the home folder. On success fills *out (caller frees with
 * dr_ini_paths_free); on error *out is zeroed and st says why, e.g.
 * DR_INI_ENOHOME. */
int dr_ini_paths_resolve(struct dr_ini_paths *out, dr_ini_getenv_fn getenv_fn, void *ud,
                         enum dr_ini_platform platform, struct dr_ini_status *st);

/* Frees the strings of `p` and zeroes it. NULL is fine. */
void dr_ini_paths_free(struct dr_ini_paths *p);

#endif
