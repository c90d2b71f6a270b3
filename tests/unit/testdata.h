/* testdata: the shared test data (AWS's SigV4 suite, the smithy-rs config
 * and credential suites), read at run time from DR_TESTDATA or
 * ../shared/testdata. Include after harness.h. */
#ifndef DR_TESTDATA_H
#define DR_TESTDATA_H

#include "files.h"

#include <cjson/cJSON.h>

static inline const char *testdata_root(void)
{
    const char *env = getenv("DR_TESTDATA");
    return env && *env ? env : "../shared/testdata";
}

/* smithy-rs/<suite>/<name> parsed, or NULL after saying why: a missing file
 * is a skip, invalid JSON a failure. Caller frees with cJSON_Delete. */
static inline cJSON *load_suite(const char *suite, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/smithy-rs/%s/%s", testdata_root(), suite, name);
    char *text = slurp(path);
    if (!text) {
        MISSING("%s: %s not found (set DR_TESTDATA to the testdata folder)", name, path);
        return NULL;
    }
    cJSON *doc = cJSON_Parse(text);
    free(text);
    CHECK(doc != NULL);
    if (!doc)
        fprintf(stderr, "%s: not valid JSON\n", path);
    return doc;
}

#endif
