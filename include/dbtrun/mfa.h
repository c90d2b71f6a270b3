/* mfa: what an assume-role profile with mfa_serial needs beyond AssumeRole —
 * asking for the code on the terminal, and keeping the session credentials
 * it buys for their lifetime: in memory for the run, and on disk where the
 * aws CLI keeps them (~/.aws/cli/cache/<SHA-1 of the call's arguments>.json,
 * mode 0600), so that neither tool asks again while they last. Used by
 * creds.c; uses sts.h's parameters and base. */
#ifndef DR_MFA_H
#define DR_MFA_H

#include "dbtrun/aws.h"
#include "dbtrun/settings.h"
#include "dbtrun/sts.h"

#include <stddef.h>
#include <time.h>

#define DR_MFA_KEY_LEN 40  /* hex SHA-1 */
#define DR_MFA_CODE_MAX 64 /* longest code read */

/* The aws CLI's cache key for AssumeRole with p (role_arn, session_name,
 * external_id, duration_seconds, serial_number; never the code): the SHA-1
 * hex of the JSON botocore hashes. 0 with out (41 bytes), or -1. */
int dr_mfa_cache_key(const struct dr_sts_role_params *p, char out[DR_MFA_KEY_LEN + 1]);

/* ~/.aws/cli/cache/<key>.json for HOME in env. Caller frees; NULL with a
 * message when there is no home folder. */
char *dr_mfa_cache_path(const struct dr_settings_env *env, const char *key, char *err,
                        size_t errlen);

/* Credentials the run or the cache file at `path` (may be NULL) already
 * holds for `key` that are still fresh at `now` (dr_aws_credentials_fresh).
 * 0 with *out filled (free with dr_aws_credentials_free), or 1 (none). A
 * file that is not the owner's alone (group or world bits, a symlink) is
 * not read. */
int dr_mfa_cache_get(const char *key, const char *path, time_t now, struct dr_aws_credentials *out);

/* Keeps c for the run under `key`, and writes it to `path` (may be NULL)
 * atomically with mode 0600, creating the folder 0700: {"Credentials":
 * {AccessKeyId, SecretAccessKey, SessionToken, Expiration}}, a subset of
 * what the aws CLI writes there. 0, or -1 when the file could not be
 * written (the run's copy is kept all the same). */
int dr_mfa_cache_put(const char *key, const char *path, const struct dr_aws_credentials *c);

/* Asks for the code of MFA device `serial` for `profile` on the terminal
 * (/dev/tty), echo off, into code (a secret: the caller
 * wipes it). 0; 1 when there is no terminal; -1 with a message (empty
 * answer, interrupted: *interrupted set). */
int dr_mfa_ask(const char *profile, const char *serial, char code[DR_MFA_CODE_MAX], char *err,
               size_t errlen, int *interrupted);

#endif
