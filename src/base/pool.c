/* pool: the small-object allocator of dbtrun/pool.h. A block's size class
 * is (size - 1) / 16; a block of class c holds 16 * (c + 1) bytes. A block
 * is never moved between chunks and chunks are freed only by
 * dr_pool_release: a freed block waits on its class's list. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_POPULATE */
#include "dbtrun/pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK_SIZE (64u << 10)
#define CHUNK_HEAD 16 /* the chunk list's link, padded to the alignment */

static size_t class_of(size_t size)
{
    return (size - 1) / 16;
}

/* A block of class c, from its free list or the current chunk; NULL when
 * a new chunk cannot be had. */
static void *take(struct dr_pool *pool, size_t c)
{
    void *b = pool->free[c];
    if (b) {
        memcpy(&pool->free[c], b, sizeof b);
        return b;
    }
    size_t size = 16 * (c + 1);
    if ((size_t)(pool->end - pool->next) < size) {
        /* mapped with its pages in place: one call instead of a page
         * fault at each first touch of 16 pages, which a start pays for
         * every chunk it fills (3 for --list) */
        char *chunk = mmap(NULL, CHUNK_SIZE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (chunk == MAP_FAILED)
            return NULL;
        memcpy(chunk, &pool->chunks, sizeof pool->chunks);
        pool->chunks = chunk;
        /* the rest of the old chunk (under DR_POOL_SMALL bytes) is left */
        pool->next = chunk + CHUNK_HEAD;
        pool->end = chunk + CHUNK_SIZE;
    }
    b = pool->next;
    pool->next += size;
    return b;
}

static void give_back(struct dr_pool *pool, void *b, size_t size)
{
    size_t c = class_of(size);
    memcpy(b, &pool->free[c], sizeof b);
    pool->free[c] = b;
}

/* Frees a block of osize bytes, wherever it came from. */
static void drop(struct dr_pool *pool, void *p, size_t osize)
{
    if (osize > DR_POOL_SMALL)
        free(p);
    else if (osize > 0)
        give_back(pool, p, osize);
}

void *dr_pool_realloc(struct dr_pool *pool, void *p, size_t osize, size_t nsize)
{
    if (!p)
        osize = 0; /* Lua passes the object's type there */
    if (nsize == 0) {
        if (p)
            drop(pool, p, osize);
        return NULL;
    }
    if (osize > DR_POOL_SMALL && nsize > DR_POOL_SMALL)
        return realloc(p, nsize);
    /* a small block keeps its place while its class holds the new size */
    if (p && osize <= DR_POOL_SMALL && class_of(nsize) == class_of(osize))
        return p;
    void *n = nsize > DR_POOL_SMALL ? malloc(nsize) : take(pool, class_of(nsize));
    if (!n) {
        /* shrinking must not fail: keep the bigger block, which is then
         * recorded at the smaller size (and so never handed to free()
         * if it came from malloc: it stays with the pool) */
        return nsize <= osize ? p : NULL;
    }
    if (p) {
        memcpy(n, p, osize < nsize ? osize : nsize);
        drop(pool, p, osize);
    }
    return n;
}

void dr_pool_release(struct dr_pool *pool)
{
    void *chunk = pool->chunks;
    while (chunk) {
        void *next;
        memcpy(&next, chunk, sizeof next);
        munmap(chunk, CHUNK_SIZE);
        chunk = next;
    }
    memset(pool, 0, sizeof *pool);
}
