/* Unit tests for src/base/pool.c: blocks keep their bytes through resizes
 * across the small/large line, never overlap, are aligned and reused. */
#include "dbtrun/pool.h"
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 400

struct slot {
    unsigned char *p;
    size_t size;
    unsigned char mark;
};

static uint32_t rng = 12345;

static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int intact(const struct slot *s)
{
    for (size_t i = 0; i < s->size; i++)
        if (s->p[i] != (unsigned char)(s->mark + i))
            return 0;
    return 1;
}

static void fill(struct slot *s)
{
    for (size_t i = 0; i < s->size; i++)
        s->p[i] = (unsigned char)(s->mark + i);
}

/* Random allocations, resizes (both ways across DR_POOL_SMALL) and frees;
 * every live block's bytes are checked after each step, so an overlap or a
 * lost copy shows. */
static void test_random_work_keeps_every_block(void)
{
    struct dr_pool pool = {0};
    struct slot slots[SLOTS] = {{0}};
    int bad = 0, misaligned = 0;
    for (int step = 0; step < 20000; step++) {
        struct slot *s = &slots[next_random() % SLOTS];
        size_t nsize = next_random() % 3 == 0 ? next_random() % 2000 : next_random() % 200;
        if (s->p && !intact(s))
            bad++;
        unsigned char *n = dr_pool_realloc(&pool, s->p, s->p ? s->size : 5 /* a Lua type */, nsize);
        if (nsize == 0) {
            CHECK(n == NULL);
            s->p = NULL;
            s->size = 0;
            continue;
        }
        if (!n) {
            bad++;
            continue;
        }
        misaligned += ((uintptr_t)n % 16) != 0;
        /* the kept prefix survived the move */
        struct slot kept = {n, s->p && s->size < nsize ? s->size : (s->p ? nsize : 0), s->mark};
        if (!intact(&kept))
            bad++;
        s->p = n;
        s->size = nsize;
        s->mark = (unsigned char)next_random();
        fill(s);
        if (step % 1000 == 0)
            for (int i = 0; i < SLOTS; i++)
                if (slots[i].p && !intact(&slots[i]))
                    bad++;
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].p && !intact(&slots[i]))
            bad++;
        dr_pool_realloc(&pool, slots[i].p, slots[i].size, 0);
    }
    CHECK(bad == 0);
    CHECK(misaligned == 0);
    dr_pool_release(&pool);
    CHECK(pool.chunks == NULL && pool.next == NULL);
}

static void test_freed_blocks_are_reused_by_class(void)
{
    struct dr_pool pool = {0};
    void *a = dr_pool_realloc(&pool, NULL, 0, 40);
    void *b = dr_pool_realloc(&pool, NULL, 0, 40);
    CHECK(a && b && a != b);
    CHECK(dr_pool_realloc(&pool, a, 40, 0) == NULL);
    CHECK(dr_pool_realloc(&pool, NULL, 0, 33) == a); /* 33..48 is a's class */
    /* a resize within the class stays in place */
    CHECK(dr_pool_realloc(&pool, b, 40, 48) == b);
    CHECK(dr_pool_realloc(&pool, b, 48, 34) == b);
    /* past the small line a block comes from malloc and keeps its bytes */
    memset(b, 7, 34);
    unsigned char *big = dr_pool_realloc(&pool, b, 34, 5000);
    CHECK(big != NULL && big[0] == 7 && big[33] == 7);
    unsigned char *small = dr_pool_realloc(&pool, big, 5000, 16);
    CHECK(small != NULL && small[0] == 7 && small[15] == 7);
    dr_pool_realloc(&pool, small, 16, 0);
    dr_pool_release(&pool);
}

TEST_MAIN(test_random_work_keeps_every_block, test_freed_blocks_are_reused_by_class)
