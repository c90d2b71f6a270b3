/* pool: a small-object allocator for callers that know each block's size
 * when they free or resize it (the Lua state's allocator: lua_Alloc passes
 * the old size). Blocks up to DR_POOL_SMALL bytes come from 64 KiB chunks
 * (mmap'ed with their pages populated), bumped through and recycled on
 * per-size free lists, with no header and no search: about a tenth of
 * malloc's cost per call at start-up, where a run makes thousands. Larger
 * blocks go to malloc. Used by src/lua/host.c. */
#ifndef DR_POOL_H
#define DR_POOL_H

#include <stddef.h>

#define DR_POOL_SMALL 512 /* largest block served from the chunks */
#define DR_POOL_CLASSES (DR_POOL_SMALL / 16)

struct dr_pool {
    void *free[DR_POOL_CLASSES]; /* per 16-byte size class: freed blocks, linked */
    char *next, *end;            /* the current chunk's unused part */
    void *chunks;                /* every chunk, linked through its first word */
};

/* lua_Alloc's contract: `p` NULL allocates `nsize` bytes (osize is then not
 * a size), nsize 0 frees p (of osize bytes) and returns NULL, otherwise
 * resizes p from osize to nsize bytes, keeping the first min(osize, nsize).
 * Returns NULL on failure, except that shrinking never fails. Blocks are
 * 16-byte aligned. The pool starts zeroed ({0}). */
void *dr_pool_realloc(struct dr_pool *pool, void *p, size_t osize, size_t nsize);

/* Frees every chunk (blocks over DR_POOL_SMALL must have been freed by the
 * caller); the pool is zeroed again. */
void dr_pool_release(struct dr_pool *pool);

#endif
