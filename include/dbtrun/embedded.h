/* embedded: the Lua library (lua/) and built-in tasks (tasks/)
 * compiled into the binary by tools/embed.c. */
#ifndef DR_EMBEDDED_H
#define DR_EMBEDDED_H

#include <stddef.h>

struct dr_embedded {
    const char *name; /* source path, e.g. "lua/task.lua" */
    const char *data; /* stripped Lua bytecode */
    size_t size;      /* length without the NUL */
};

/* All embedded files, ended by an entry whose name is NULL. */
extern const struct dr_embedded dr_embedded_files[];

/* A hash of all of them: outputs made by the library (a cached --list) are
 * kept under it, as builds of one version may differ. */
extern const char dr_embedded_id[];

#endif
