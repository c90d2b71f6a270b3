/* Unit tests for src/base/cache.c: the hash, and entries that are read back
 * only when whole and made under the same key. */
#include "dbtrun/cache.h"
#include "dbtrun/fs.h"
#include "harness.h"
#include "scratch.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct dr_cache_key key_of(const char *text)
{
    struct dr_cache_key k = {{0, 0}};
    dr_cache_hash(&k, text, strlen(text));
    return k;
}

static int same_key(struct dr_cache_key a, struct dr_cache_key b)
{
    return a.h[0] == b.h[0] && a.h[1] == b.h[1];
}

static void test_hash(void)
{
    CHECK(same_key(key_of("task()"), key_of("task()")));
    CHECK(!same_key(key_of("task()"), key_of("task( ")));
    struct dr_cache_key a = {{0, 0}}, b = {{0, 0}};
    dr_cache_hash(&a, "abc", 3);
    dr_cache_hash(&b, "abc\0", 4);
    CHECK(!same_key(a, b));
    /* parts chain: each part changes the key */
    struct dr_cache_key c = {{0, 0}};
    dr_cache_hash(&c, "ab", 2);
    CHECK(!same_key(c, key_of("abc")));
    dr_cache_hash(&c, "c", 1);
    CHECK(!same_key(c, key_of("ab")));
    /* every single-bit flip of a 64-byte text changes both halves */
    char text[64];
    memset(text, 'x', sizeof text);
    struct dr_cache_key base = {{0, 0}};
    dr_cache_hash(&base, text, sizeof text);
    int all = 1;
    for (size_t i = 0; i < sizeof text * 8; i++) {
        struct dr_cache_key k = {{0, 0}};
        text[i / 8] ^= (char)(1 << (i % 8));
        dr_cache_hash(&k, text, sizeof text);
        text[i / 8] ^= (char)(1 << (i % 8));
        all &= k.h[0] != base.h[0] && k.h[1] != base.h[1];
    }
    CHECK(all);
}

static void test_round_trip_creates_the_folder(void)
{
    struct dr_cache_key k = key_of("v1");
    char *payload = NULL;
    size_t len = 0;
    CHECK(dr_cache_read(in_root("c/d/entry"), &k, &payload, &len) == -1);
    CHECK(dr_cache_write(in_root("c/d/entry"), &k, "bytecode", 8) == 0);
    CHECK(dr_cache_read(in_root("c/d/entry"), &k, &payload, &len) == 0);
    CHECK(len == 8 && payload && memcmp(payload, "bytecode", 8) == 0);
    free(payload);
    /* an empty payload is an entry too */
    CHECK(dr_cache_write(in_root("c/d/empty"), &k, "", 0) == 0);
    payload = NULL;
    CHECK(dr_cache_read(in_root("c/d/empty"), &k, &payload, &len) == 0 && len == 0);
    free(payload);
}

static void test_another_key_is_a_miss(void)
{
    struct dr_cache_key k = key_of("v1"), other = key_of("v2");
    char *payload = NULL;
    size_t len;
    CHECK(dr_cache_write(in_root("k"), &k, "payload", 7) == 0);
    CHECK(dr_cache_read(in_root("k"), &other, &payload, &len) == -1 && payload == NULL);
}

/* Writes `data` over the entry as it is on disk. */
static void damage(const char *path, long offset, const void *data, size_t n, long truncate_to)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f)
        return;
    if (n) {
        fseek(f, offset, SEEK_SET);
        fwrite(data, 1, n, f);
    }
    fclose(f);
    if (truncate_to >= 0)
        CHECK(truncate(path, truncate_to) == 0);
}

static void test_damaged_entries_are_misses(void)
{
    struct dr_cache_key k = key_of("v1");
    const char *path = in_root("damaged");
    const char text[] = "some bytecode long enough to damage";
    char *payload = NULL;
    size_t len;
    long offsets[] = {0, 9, 25, 33, 48, 60};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        CHECK(dr_cache_write(path, &k, text, sizeof text) == 0);
        damage(path, offsets[i], "\xff", 1, -1);
        CHECK(dr_cache_read(path, &k, &payload, &len) == -1);
    }
    long lengths[] = {0, 10, 47, 48, 48 + (long)sizeof text - 1};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        CHECK(dr_cache_write(path, &k, text, sizeof text) == 0);
        damage(path, 0, NULL, 0, lengths[i]);
        CHECK(dr_cache_read(path, &k, &payload, &len) == -1);
    }
    /* bytes added at the end */
    CHECK(dr_cache_write(path, &k, text, sizeof text) == 0);
    damage(path, 48 + (long)sizeof text, "x", 1, -1);
    CHECK(dr_cache_read(path, &k, &payload, &len) == -1);
    CHECK(payload == NULL);
}

static void test_unwritable_folder_fails_cleanly(void)
{
    struct dr_cache_key k = key_of("v1");
    write_text(in_root("file"), "x");
    errno = 0;
    CHECK(dr_cache_write(in_root("file/cache/entry"), &k, "x", 1) == -1 && errno == ENOTDIR);
    /* a rewrite replaces the entry whole and leaves no temporary file */
    CHECK(dr_fs_mkdir_p(in_root("one"), 0777) == 0);
    CHECK(dr_cache_write(in_root("one/entry"), &k, "first", 5) == 0);
    CHECK(dr_cache_write(in_root("one/entry"), &k, "second", 6) == 0);
    char *payload = NULL;
    size_t len;
    CHECK(dr_cache_read(in_root("one/entry"), &k, &payload, &len) == 0);
    CHECK(len == 6 && memcmp(payload, "second", 6) == 0);
    free(payload);
    int files = 0;
    DIR *dir = opendir(in_root("one"));
    CHECK(dir != NULL);
    for (struct dirent *e; dir && (e = readdir(dir));)
        files += e->d_name[0] != '.';
    if (dir)
        closedir(dir);
    CHECK(files == 1);
}

static void setup(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void teardown(void)
{
    CHECK(dr_fs_rm_rf(root) == 0);
}

TEST_MAIN(setup, test_hash, test_round_trip_creates_the_folder, test_another_key_is_a_miss,
          test_damaged_entries_are_misses, test_unwritable_folder_fails_cleanly, teardown)
