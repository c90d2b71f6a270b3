/* scratch: one temporary folder per test program (`root`, created by the
 * program's setup with mkdtemp) and paths in it. */
#ifndef DR_TEST_SCRATCH_H
#define DR_TEST_SCRATCH_H

#include "files.h"

static char root[] = "/tmp/dbtrun-test-XXXXXX";

/* root/rel in one of four rotating buffers, so a call can take two or three. */
static inline char *in_root(const char *rel)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", root, rel);
    return p;
}

#endif
