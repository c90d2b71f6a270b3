/* files: reading and writing whole files in the unit tests. Include after
 * harness.h. */
#ifndef DR_TEST_FILES_H
#define DR_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whole file, NUL-terminated, caller frees; NULL when unreadable or out of memory. */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *p = realloc(data, cap);
            if (!p) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = p;
        }
        memcpy(data + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!data)
        return calloc(1, 1);
    data[len] = '\0';
    return data;
}

/* Writes text to path (replacing it); a file that cannot be created fails
 * the test. */
static inline void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

#endif
