/* manifest_text: manifests written in C strings with ' for " (readable in
 * test sources), and parsing them. */
#ifndef DR_TEST_MANIFEST_TEXT_H
#define DR_TEST_MANIFEST_TEXT_H

#include "dbtrun/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The text with every ' turned into " (caller frees). */
static inline char *dq(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

/* The manifest written with single quotes, parsed; NULL after saying why. */
static inline struct dr_manifest *parse(const char *single_quoted)
{
    char *json = dq(single_quoted);
    struct dr_manifest *m = NULL;
    char err[256] = "";
    if (dr_manifest_parse(json, strlen(json), &m, err, sizeof err) != 0)
        fprintf(stderr, "parse failed: %s\n", err);
    free(json);
    return m;
}

#endif
