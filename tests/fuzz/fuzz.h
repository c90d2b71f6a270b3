/* fuzz.h: what the libFuzzer harnesses share — splitting the input into
 * NUL-terminated lines, since the APIs under test take C strings. */
#ifndef DR_FUZZ_H
#define DR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of the input with every '\n' turned into '\0'; the
 * lines are stored in lines[0..*n) (at most max). Caller frees the copy. */
static inline char *fuzz_lines(const uint8_t *data, size_t size, char **lines, size_t max,
                               size_t *n)
{
    char *copy = malloc(size + 1);
    *n = 0;
    if (!copy)
        return NULL;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *s = copy;
    while (*n < max) {
        lines[(*n)++] = s;
        char *nl = memchr(s, '\n', (size_t)(copy + size - s));
        if (!nl)
            break;
        *nl = '\0';
        s = nl + 1;
    }
    return copy;
}

#endif
