/* secrets: AWS Secrets Manager GetSecretValue, and the naming rules of
 * aws-actions/aws-secretsmanager-get-secrets with parse-json-secrets that
 * turn a secret into environment variables. */
#ifndef DR_SECRETS_H
#define DR_SECRETS_H

#include "dbtrun/aws.h"

#include <stddef.h>

#define DR_SECRETS_VARS_MAX 1000 /* variables one secret may produce */

/* Fetches secret `id` (name or ARN); version_stage / version_id may be NULL.
 * On success *value (SecretString, or SecretBinary decoded; caller frees
 * with dr_secrets_free_value) and *len are set, and *name (caller frees)
 * gets the secret's name. 0, or -1 with err. */
int dr_secrets_get(struct dr_aws_client *c, const char *id, const char *version_stage,
                   const char *version_id, char **value, size_t *len, char **name,
                   struct dr_aws_error *err);

/* Wipes and frees a secret value. */
void dr_secrets_free_value(char *value, size_t len);

/* An environment variable made from a secret. Both strings owned. */
struct dr_secret_var {
    char *name;
    char *value;
};

/* The action's rule for names: a leading digit gets "_" before it, every
 * character outside [A-Za-z0-9_] becomes "_", then upper case. Caller frees. */
char *dr_secrets_env_name(const char *text);

/* The variables for a secret, as the action makes them with
 * parse-json-secrets: a JSON object becomes one variable per key,
 * PREFIX_KEY, nested objects joined with "_" (PREFIX_OUTER_INNER), other
 * values (arrays, numbers, true, null) as their JSON text, a string holding a
 * JSON object expanded like an object; anything else is
 * one variable PREFIX. `prefix` is the alias (or the secret's name); an empty
 * prefix with a JSON object gives bare key names. 0 with *vars (free with
 * dr_secrets_free_vars) and *n set, or -1 with a message in msg. */
int dr_secrets_to_env(const char *prefix, const char *value, size_t len,
                      struct dr_secret_var **vars, size_t *n, char *msg, size_t msglen);

void dr_secrets_free_vars(struct dr_secret_var *vars, size_t n);

#endif
