/* cache: verified, atomically replaced cache entries (see dbtrun/cache.h).
 * An entry is a 48-byte header — magic, key, payload length, payload hash —
 * then the payload. Knows nothing of Lua or of what the payload is. */
#include "dbtrun/cache.h"
#include "dbtrun/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char magic[8] = {'D', 'R', 'C', 'A', 'C', 'H', 'E', '1'};
#define HEADER_SIZE 48 /* magic 8, key 16, length 8, payload hash 16 */

static uint64_t rotl(uint64_t v, int n)
{
    return (v << n) | (v >> (64 - n));
}

/* Two lanes of multiply-rotate mixing over 8-byte words, each finished with
 * a full avalanche: fast on a 100 KB task file, and a flipped or missing
 * byte changes every bit of the result. */
static uint64_t mix(uint64_t h, uint64_t word, uint64_t k)
{
    h ^= rotl(word * k, 31) * 0x4CF5AD432745937Full;
    return rotl(h, 27) * 5 + 0x52DCE729;
}

static uint64_t avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 33);
}

void dr_cache_hash(struct dr_cache_key *key, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t a = key->h[0] ^ 0x9E3779B97F4A7C15ull, b = key->h[1] ^ 0xC2B2AE3D27D4EB4Full;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a = mix(a, w, 0x87C37B91114253D5ull);
        b = mix(b, w, 0x94D049BB133111EBull);
    }
    uint64_t tail = 0;
    memcpy(&tail, p + i, len - i);
    a = mix(a, tail ^ ((uint64_t)len << 56), 0x87C37B91114253D5ull);
    b = mix(b, tail ^ ((uint64_t)len << 56), 0x94D049BB133111EBull);
    key->h[0] = avalanche(a ^ (uint64_t)len);
    key->h[1] = avalanche(b + a);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void make_header(unsigned char *h, const struct dr_cache_key *key, const void *payload,
                        size_t len)
{
    struct dr_cache_key sum = {{0, 0}};
    dr_cache_hash(&sum, payload, len);
    memcpy(h, magic, 8);
    put_u64(h + 8, key->h[0]);
    put_u64(h + 16, key->h[1]);
    put_u64(h + 24, len);
    put_u64(h + 32, sum.h[0]);
    put_u64(h + 40, sum.h[1]);
}

int dr_cache_read(const char *path, const struct dr_cache_key *key, char **payload, size_t *len)
{
    char *data = NULL;
    size_t n = 0;
    int rc = -1;
    unsigned char want[HEADER_SIZE];
    if (dr_fs_read(path, &data, &n) != 0 || n < HEADER_SIZE ||
        get_u64((unsigned char *)data + 24) != n - HEADER_SIZE || n - HEADER_SIZE > DR_CACHE_MAX)
        goto out;
    make_header(want, key, data + HEADER_SIZE, n - HEADER_SIZE);
    if (memcmp(want, data, HEADER_SIZE) != 0)
        goto out;
    /* the payload moves to the front: one allocation, handed to the caller */
    memmove(data, data + HEADER_SIZE, n - HEADER_SIZE);
    *payload = data;
    *len = n - HEADER_SIZE;
    data = NULL;
    rc = 0;
out:
    free(data);
    return rc;
}

/* Creates the folder of `path` (everything before its last '/'). */
static int make_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    int rc = dir ? dr_fs_mkdir_p(dir, 0777) : -1;
    free(dir);
    return rc;
}

/* Unlike dr_fs_write_atomic there is no fsync: a cache entry torn by a
 * crash fails its hash and is rebuilt, so waiting for the disk buys nothing. */
int dr_cache_write(const char *path, const struct dr_cache_key *key, const void *payload,
                   size_t len)
{
    unsigned char header[HEADER_SIZE];
    size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
    char *tmp = NULL;
    int fd = -1, rc = -1, saved;
    if (len > DR_CACHE_MAX) {
        errno = EFBIG;
        return -1;
    }
    if (make_folder(path) != 0 || !(tmp = malloc(n)))
        return -1;
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    if ((fd = mkstemp(tmp)) == -1) {
        free(tmp);
        return -1;
    }
    make_header(header, key, payload, len);
    if (fchmod(fd, dr_fs_default_mode()) == -1 || dr_fs_write_all(fd, header, HEADER_SIZE) == -1 ||
        dr_fs_write_all(fd, payload, len) == -1)
        goto out;
    rc = close(fd);
    fd = -1;
    /* ext4 (auto_da_alloc) writes a file's data out before a rename that
     * replaces another file, which made a first run after an edit take ms
     * more: the old entry goes first. A reader in between sees no entry,
     * which is a miss, never a part. */
    if (rc == 0 && unlink(path) == -1 && errno != ENOENT)
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, path);
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    errno = saved;
    return rc;
}
