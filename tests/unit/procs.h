/* Process checks shared by the unit tests that kill process groups. */
#ifndef DR_TEST_PROCS_H
#define DR_TEST_PROCS_H

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Whether pid has ended (or is a zombie left for a non-reaping init) within
 * about 5 s: SIGKILL is delivered asynchronously, so a loaded machine may
 * still show the process for a moment after the kill. */
static inline int gone_soon(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    for (int i = 0; i < 500; i++) {
        char stat[512] = "";
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
        if (f)
            fclose(f);
        stat[n] = '\0';
        const char *paren = strrchr(stat, ')');
        if (!paren || paren[2] == 'Z')
            return 1;
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    return 0;
}

#endif
