/* wipe: see dbtrun/wipe.h. The stores go through a volatile pointer so they
 * are not optimised away as dead writes before free(). */
#include "dbtrun/wipe.h"

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
