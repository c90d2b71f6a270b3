/* wipe: erasing memory that held a secret before it is released — keys,
 * tokens, response bodies. The one home for it; everything above uses these. */
#ifndef DR_WIPE_H
#define DR_WIPE_H

#include <stddef.h>

/* Overwrites n bytes at p with zeros in a way the compiler keeps. NULL is fine. */
void dr_wipe(void *p, size_t n);

/* Wipes and frees a NUL-terminated secret; NULL is fine. */
void dr_free_secret(char *s);

struct cJSON;

/* Wipes every string value of a parsed JSON document (answers and caches
 * that hold keys or tokens), then deletes it; NULL is fine. */
void dr_wipe_json(struct cJSON *doc);

#endif
