/* wipe: see dbtrun/wipe.h. The stores go through a volatile pointer so they
 * are not optimised away as dead writes before free(). */
#include "dbtrun/wipe.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void dr_wipe(void *p, size_t n)
{
    volatile unsigned char *b = p;
    while (b && n--)
        *b++ = 0;
}

void dr_free_secret(char *s)
{
    if (s) {
        dr_wipe(s, strlen(s));
        free(s);
    }
}

static void wipe_strings(cJSON *item)
{
    for (; item; item = item->next) {
        if (item->valuestring)
            dr_wipe(item->valuestring, strlen(item->valuestring));
        wipe_strings(item->child);
    }
}

void dr_wipe_json(cJSON *doc)
{
    wipe_strings(doc);
    cJSON_Delete(doc);
}
