/* words: builds an argv for tests from "a|b c|d" (the bar separates words, so
 * words may hold spaces). The result stays valid until the next call. */
#ifndef DR_WORDS_H
#define DR_WORDS_H

#include <stdlib.h>
#include <string.h>

static char **words(const char *spec, int *count)
{
    static char buf[1024];
    static char *argv[64];
    int n = 0;
    strncpy(buf, spec, sizeof buf - 1);
    argv[n++] = buf;
    for (char *p = buf; *p && n < 63; p++) {
        if (*p == '|') {
            *p = '\0';
            argv[n++] = p + 1;
        }
    }
    argv[n] = NULL;
    if (count)
        *count = n;
    return argv;
}

#endif
