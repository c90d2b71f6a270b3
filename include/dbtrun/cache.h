/* cache: files that keep a derived payload (the task file's bytecode) under
 * a key made from what it was derived from. A read trusts nothing: the
 * header's magic, key, length and payload hash must all match, else the
 * entry is a miss. Writes go through a temporary file and a rename, so
 * concurrent runs see a whole entry or none. Used by src/lua/l_cache.c. */
#ifndef DR_CACHE_H
#define DR_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define DR_CACHE_MAX (64u << 20) /* cap on an entry's payload */

/* A 128-bit hash: an integrity check and a cache key, not a cryptographic
 * digest (whoever can write the cache can write the task file too). */
struct dr_cache_key {
    uint64_t h[2];
};

/* Hashes `len` bytes of `data`, continuing from *key (zeroed to start), so
 * several parts can make one key. */
void dr_cache_hash(struct dr_cache_key *key, const void *data, size_t len);

/* The entry at `path` if it is whole and made under `key`: *payload gets a
 * malloc'd copy (caller frees), *len its length, and 0 is returned. -1 when
 * missing, unreadable, of another key, truncated or corrupt. */
int dr_cache_read(const char *path, const struct dr_cache_key *key, char **payload, size_t *len);

/* Stores `payload` under `key` at `path`, creating its folder: a temporary
 * file in the same folder, renamed into place. 0, or -1 with errno (a folder
 * that is not writable, a full disk): callers treat that as "not cached". */
int dr_cache_write(const char *path, const struct dr_cache_key *key, const void *payload,
                   size_t len);

#endif
