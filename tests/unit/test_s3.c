/* Unit tests for the pure parts of src/aws/s3.c: s3:// URLs, addressing and
 * key encoding, content types, ETags and hashes, safe local paths, times,
 * ListObjectsV2 pages and the parallel runner. No network. */
#include "dbtrun/s3.h"
#include "dbtrun/isotime.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void test_url_parse(void)
{
    struct dr_s3_url u;
    CHECK(dr_s3_url_parse("s3://bucket/a/b c.json", &u) == 0);
    CHECK_STR(u.bucket, "bucket");
    CHECK_STR(u.key, "a/b c.json");
    dr_s3_url_free(&u);
    CHECK(dr_s3_url_parse("s3://bucket", &u) == 0);
    CHECK_STR(u.key, "");
    dr_s3_url_free(&u);
    CHECK(dr_s3_url_parse("s3://bucket/", &u) == 0);
    CHECK_STR(u.key, "");
    dr_s3_url_free(&u);
    CHECK(dr_s3_url_parse("s3:///key", &u) == -1);
    CHECK(u.bucket == NULL && u.key == NULL);
    CHECK(dr_s3_url_parse("https://bucket/key", &u) == -1);
    CHECK(dr_s3_url_parse("S3://bucket/key", &u) == -1);
    CHECK(dr_s3_url_parse(NULL, &u) == -1);
    char big[DR_S3_KEY_MAX + 20];
    memcpy(big, "s3://b/", 7);
    memset(big + 7, 'k', DR_S3_KEY_MAX + 1);
    big[7 + DR_S3_KEY_MAX + 1] = '\0';
    CHECK(dr_s3_url_parse(big, &u) == -1);
    big[7 + DR_S3_KEY_MAX] = '\0';
    CHECK(dr_s3_url_parse(big, &u) == 0);
    dr_s3_url_free(&u);
}

static void check_address(const char *endpoint, int custom, const char *bucket, const char *key,
                          const char *want_base, const char *want_path)
{
    char *base = NULL, *path = NULL;
    CHECK(dr_s3_address(endpoint, custom, bucket, key, &base, &path) == 0);
    CHECK_STR(base, want_base);
    CHECK_STR(path, want_path);
    free(base);
    free(path);
}

static void test_address(void)
{
    /* AWS endpoint, DNS-safe bucket: virtual-hosted */
    check_address("https://s3.eu-west-1.amazonaws.com", 0, "my-bucket", "docs/index.html",
                  "https://my-bucket.s3.eu-west-1.amazonaws.com", "/docs/index.html");
    /* dots in the name break the wildcard certificate: path style */
    check_address("https://s3.eu-west-1.amazonaws.com", 0, "my.bucket", "k",
                  "https://s3.eu-west-1.amazonaws.com", "/my.bucket/k");
    /* legacy names with upper case or underscores: path style */
    check_address("https://s3.amazonaws.com", 0, "My_Bucket", "k", "https://s3.amazonaws.com",
                  "/My_Bucket/k");
    /* custom endpoint (moto): always path style, port kept */
    check_address("http://127.0.0.1:5000", 1, "bucket", "a/b", "http://127.0.0.1:5000",
                  "/bucket/a/b");
    /* bucket-level requests */
    check_address("http://127.0.0.1:5000", 1, "bucket", "", "http://127.0.0.1:5000", "/bucket/");
    check_address("https://s3.us-east-1.amazonaws.com", 0, "bkt", NULL,
                  "https://bkt.s3.us-east-1.amazonaws.com", "/");
    /* keys are encoded exactly once, '/' kept */
    check_address("http://h", 1, "b", "dir/a b+c%d=e~f.json", "http://h",
                  "/b/dir/a%20b%2Bc%25d%3De~f.json");
    check_address("http://h", 1, "b", "caf\xc3\xa9/\xe2\x82\xac.txt", "http://h",
                  "/b/caf%C3%A9/%E2%82%AC.txt");
    check_address("http://h", 1, "b", "already%20encoded", "http://h", "/b/already%2520encoded");
    check_address("http://h", 1, "b", "../x/./y", "http://h", "/b/../x/./y");
}

/* Expectations are Python 3.11's mimetypes.MimeTypes(filenames=()).guess_type
 * (name)[0], written out by hand, None as binary/octet-stream. */
static const char *const builtin_cases[][2] = {
    {"target/index.html", "text/html"},
    {"INDEX.HTML", "text/html"},
    {"a.css", "text/css"},
    {"a.js", "application/javascript"},
    {"manifest.json", "application/json"},
    {"logo.svg", "image/svg+xml"},
    {"notes.txt", "text/plain"},
    {"graph.gpickle", "binary/octet-stream"},
    {"partial_parse.msgpack", "binary/octet-stream"},
    {"Makefile", "binary/octet-stream"},
    {".json", "binary/octet-stream"}, /* a dot file: no extension */
    {"..json", "binary/octet-stream"},
    {"...a.json", "application/json"},
    {"dir.html/file", "binary/octet-stream"},
    {"archive.tar.gz", "application/x-tar"},
    {"a.tgz", "application/x-tar"},
    {"a.TGZ", "application/x-tar"},      /* suffix_map is looked up lowercased */
    {"a.tar.GZ", "binary/octet-stream"}, /* encodings_map is case-sensitive */
    {"a.TAR.gz", "application/x-tar"},
    {"seeds.csv.gz", "text/csv"},
    {"x.json.gz", "application/json"},
    {"x.json.bz2", "application/json"},
    {"x.json.xz", "application/json"},
    {"x.json.br", "application/json"},
    {"x.tar.Z", "application/x-tar"},
    {"x.tar.z", "binary/octet-stream"},
    {"a.gz", "binary/octet-stream"},
    {".gz", "binary/octet-stream"},
    {"x.gz.gz", "binary/octet-stream"}, /* only one encoding is stripped */
    {"x.tgz.gz", "binary/octet-stream"},
    {".tgz", "binary/octet-stream"},
    {"a.svgz", "image/svg+xml"},
    {"a.txz", "application/x-tar"},
    {"a.tbz2", "application/x-tar"},
    {"a.taz", "application/x-tar"},
    {"a.tz", "application/x-tar"},
    {"run.py", "text/x-python"},
    {"a.PY", "text/x-python"},
    {"deploy.sh", "application/x-sh"},
    {"a.sql", "binary/octet-stream"},
    {"a.md", "binary/octet-stream"},
    {"a.xml", "text/xml"},
    {"a.yml", "binary/octet-stream"},
    {"a.", "binary/octet-stream"},
    {"a.html.", "binary/octet-stream"},
    {"/abs/dir.d/x.CSV", "text/csv"},
    {"a.b.c.pdf", "application/pdf"},
    {"x.tar", "application/x-tar"},
    {"a.tgz/", "binary/octet-stream"},
};

static void test_content_type(void)
{
    struct dr_s3_mime_db *db = dr_s3_mime_open(NULL, 0);
    CHECK(db != NULL);
    for (size_t i = 0; i < sizeof builtin_cases / sizeof builtin_cases[0]; i++)
        CHECK_STR(dr_s3_mime_guess(db, builtin_cases[i][0]), builtin_cases[i][1]);
    dr_s3_mime_free(db);
    /* the process-wide guess: the same where no system file disagrees */
    CHECK_STR(dr_s3_content_type("target/index.html"), "text/html");
    CHECK_STR(dr_s3_content_type("a.tar.gz"), "application/x-tar");
    CHECK_STR(dr_s3_content_type("graph.gpickle"), "binary/octet-stream");
}

/* System files overlay the builtins as MimeTypes.read does: later lines and
 * files win, '#' words end a line, a suffix written with capitals never
 * matches (lookups are lowercased), absent files are skipped. */
static void test_content_type_system_files(void)
{
    char p1[] = "/tmp/dr_mime_XXXXXX", p2[] = "/tmp/dr_mime_XXXXXX";
    int f1 = mkstemp(p1), f2 = mkstemp(p2);
    FILE *a = fdopen(f1, "w"), *b = fdopen(f2, "w");
    CHECK(a && b);
    fputs("# comment line\n"
          "text/javascript\tjs mjs\n"
          "application/sql sql # text/x-nope yml\n"
          "text/x-upper SQLX\n"
          "\n"
          "text/first dup\n"
          "text/second dup\n",
          a);
    fputs("text/markdown md\ntext/third dup\n", b);
    fclose(a);
    fclose(b);
    const char *files[] = {p1, "/nonexistent/mime.types", p2};
    struct dr_s3_mime_db *db = dr_s3_mime_open(files, 3);
    CHECK(db != NULL);
    CHECK_STR(dr_s3_mime_guess(db, "a.js"), "text/javascript");
    CHECK_STR(dr_s3_mime_guess(db, "a.MJS"), "text/javascript");
    CHECK_STR(dr_s3_mime_guess(db, "q.sql"), "application/sql");
    CHECK_STR(dr_s3_mime_guess(db, "q.sql.gz"), "application/sql");
    CHECK_STR(dr_s3_mime_guess(db, "c.yml"), "binary/octet-stream");
    CHECK_STR(dr_s3_mime_guess(db, "x.sqlx"), "binary/octet-stream");
    CHECK_STR(dr_s3_mime_guess(db, "x.SQLX"), "binary/octet-stream");
    CHECK_STR(dr_s3_mime_guess(db, "x.dup"), "text/third");
    CHECK_STR(dr_s3_mime_guess(db, "README.md"), "text/markdown");
    CHECK_STR(dr_s3_mime_guess(db, "index.html"), "text/html"); /* builtins stay */
    dr_s3_mime_free(db);
    unlink(p1);
    unlink(p2);
}

static void test_etags(void)
{
    char out[64];
    dr_s3_etag_strip("\"abc\"", out, sizeof out);
    CHECK_STR(out, "abc");
    dr_s3_etag_strip("W/\"abc\"", out, sizeof out);
    CHECK_STR(out, "abc");
    dr_s3_etag_strip("abc", out, sizeof out);
    CHECK_STR(out, "abc");
    dr_s3_etag_strip("\"", out, sizeof out);
    CHECK_STR(out, "\"");
    dr_s3_etag_strip("\"abcdef\"", out, 4);
    CHECK_STR(out, "abc");
    dr_s3_etag_strip(NULL, out, sizeof out);
    CHECK_STR(out, "");
    CHECK(dr_s3_etag_is_multipart("0732917abc3288784e318ac0aab1757a-2"));
    CHECK(!dr_s3_etag_is_multipart("5eb63bbbe01eeed093cb22bb8f5acdc3"));
    CHECK(dr_s3_etag_matches_md5("\"5eb63bbbe01eeed093cb22bb8f5acdc3\"",
                                 "5eb63bbbe01eeed093cb22bb8f5acdc3"));
    CHECK(dr_s3_etag_matches_md5("5EB63BBBE01EEED093CB22BB8F5ACDC3",
                                 "5eb63bbbe01eeed093cb22bb8f5acdc3"));
    CHECK(!dr_s3_etag_matches_md5("5eb63bbbe01eeed093cb22bb8f5acdc4",
                                  "5eb63bbbe01eeed093cb22bb8f5acdc3"));
    CHECK(!dr_s3_etag_matches_md5("5eb63bbbe01eeed093cb22bb8f5acdc3-1",
                                  "5eb63bbbe01eeed093cb22bb8f5acdc3"));
    CHECK(!dr_s3_etag_matches_md5(NULL, "x"));
}

static void test_hashes(void)
{
    char hex[33], b64[25], sha[65];
    CHECK(dr_s3_md5_mem("", 0, hex, b64) == 0);
    CHECK_STR(hex, "d41d8cd98f00b204e9800998ecf8427e");
    CHECK_STR(b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
    CHECK(dr_s3_md5_mem("hello world", 11, hex, b64) == 0);
    CHECK_STR(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    CHECK_STR(b64, "XrY7u+Ae7tCTyyK7j1rNww==");

    char path[] = "/tmp/dbtrun-test-s3-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, "hello world", 11) == 11);
    close(fd);
    CHECK(dr_s3_hash_file(path, 0, -1, hex, b64, sha) == 0);
    CHECK_STR(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    CHECK_STR(b64, "XrY7u+Ae7tCTyyK7j1rNww==");
    /* a slice, as multipart parts are hashed */
    CHECK(dr_s3_hash_file(path, 3, 5, hex, NULL, sha) == 0);
    CHECK_STR(hex, "405a146923df6f329f0f3e072fbfa173");
    CHECK_STR(sha, "c245b39611586f6401e743185b2bcd1c75e2a593aebbd2a55da056fd75e3012c");
    /* a slice past the end is an error, not a short hash */
    CHECK(dr_s3_hash_file(path, 8, 5, hex, NULL, NULL) == -1);
    unlink(path);
    CHECK(dr_s3_hash_file(path, 0, -1, hex, NULL, NULL) == -1);

    unsigned char md5s[32];
    char etag[64];
    /* md5("part one") and md5("part two"), binary */
    static const char *const parts[2] = {"part one", "part two"};
    for (int i = 0; i < 2; i++) {
        char h[33];
        CHECK(dr_s3_md5_mem(parts[i], 8, h, NULL) == 0);
        for (int k = 0; k < 16; k++) {
            unsigned v;
            sscanf(h + 2 * k, "%2x", &v);
            md5s[16 * i + k] = (unsigned char)v;
        }
    }
    CHECK(dr_s3_multipart_etag(md5s, 2, etag, sizeof etag) == 0);
    CHECK_STR(etag, "0732917abc3288784e318ac0aab1757a-2");
}

/* Writes `n` bytes i % 251 to a new temporary file; returns its path. */
static char *pattern_file(long long n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/dbtrun-test-s3-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    for (long long i = 0; f && i < n; i++)
        fputc((int)(i % 251), f);
    if (f)
        fclose(f);
    return path;
}

/* What S3 answers for files at and around the multipart threshold (values
 * from Python's hashlib over the same bytes). */
static void test_file_etag(void)
{
    char etag[48];
    char *p = pattern_file(9LL << 20);
    CHECK(dr_s3_file_etag(p, DR_S3_PART_SIZE, etag, sizeof etag) == 0); /* the aws CLI's */
    CHECK_STR(etag, "37125a966ca49112e55042631840ac42-2");
    CHECK(dr_s3_file_etag(p, 0, etag, sizeof etag) == 0); /* dbtrun's: one 16 MiB part */
    CHECK_STR(etag, "60b88e7db07fbd15e023ab8b6136424e-1");
    unlink(p);
    p = pattern_file(40LL << 20); /* 16 + 16 + 8 MiB */
    CHECK(dr_s3_file_etag(p, 0, etag, sizeof etag) == 0);
    CHECK_STR(etag, "55bf5b62e24ff1137cc54ff45a8b0b33-3");
    unlink(p);
    p = pattern_file(8LL << 20); /* exactly the threshold: one part, as the aws CLI does */
    CHECK(dr_s3_file_etag(p, 0, etag, sizeof etag) == 0);
    CHECK_STR(etag, "e039da9ee1fa336ed66c53824ac058a7-1");
    unlink(p);
    p = pattern_file((8LL << 20) - 1);
    CHECK(dr_s3_file_etag(p, 0, etag, sizeof etag) == 0);
    CHECK_STR(etag, "1acc725c3c7ab01db7fb5ab34863fb9a");
    unlink(p);
    CHECK(dr_s3_file_etag(p, 0, etag, sizeof etag) == -1);
}

/* Parts of 16 to 64 MiB, about 8 of them, never more than S3's 10,000. */
static void test_part_size(void)
{
    long long mib = 1LL << 20;
    CHECK(dr_s3_part_size(8 * mib) == 16 * mib);
    CHECK(dr_s3_part_size(200 * mib) == 25 * mib);
    CHECK(dr_s3_part_size(129 * mib) == 17 * mib);
    CHECK(dr_s3_part_size(10000 * mib) == 64 * mib);
    long long huge = 5LL << 40; /* S3's largest object: 5 TiB */
    long long part = dr_s3_part_size(huge);
    CHECK((huge + part - 1) / part <= DR_S3_MAX_PARTS);
    CHECK(part % mib == 0 && (huge + part - mib - 1) / (part - mib) > DR_S3_MAX_PARTS);
}

static void check_local(const char *root, const char *rel, const char *want)
{
    char *out = NULL;
    int rc = dr_s3_local_path(root, rel, &out);
    if (want) {
        CHECK(rc == 0);
        CHECK_STR(out, want);
    } else {
        if (rc != 0)
            CHECK(out == NULL);
        else
            fprintf(stderr, "accepted unsafe key \"%s\" as %s\n", rel, out);
        CHECK(rc == -1);
    }
    free(out);
}

static void test_local_path(void)
{
    check_local("dest", "a/b.json", "dest/a/b.json");
    check_local("dest/", "a b+c%d=e.json", "dest/a b+c%d=e.json");
    check_local("/", "x", "/x");
    check_local("", "x", "./x");
    check_local("d", "..x/y..", "d/..x/y..");
    check_local("d", "a/./b", "d/a/./b");
    check_local("d", "..", NULL);
    check_local("d", "../evil", NULL);
    check_local("d", "a/../../evil", NULL);
    check_local("d", "a/..", NULL);
    check_local("d", "/etc/passwd", NULL);
    check_local("d", "", NULL);
    check_local("d", "dir/", NULL);
    check_local("d", NULL, NULL);
}

static void test_local_name_problem(void)
{
    char seg[300];
    CHECK(dr_s3_local_name_problem("a/b.txt") == NULL);
    CHECK(dr_s3_local_name_problem(".hidden/..x") == NULL);
    CHECK(dr_s3_local_name_problem("./a") == NULL); /* "." inside collapses harmlessly */
    CHECK(dr_s3_local_name_problem(".") != NULL);
    CHECK(dr_s3_local_name_problem("a/.") != NULL);
    CHECK(dr_s3_local_name_problem("a/") != NULL);
    CHECK(dr_s3_local_name_problem("") != NULL);
    memset(seg, 'x', 255);
    seg[255] = '\0';
    CHECK(dr_s3_local_name_problem(seg) == NULL);
    memset(seg, 'x', 256);
    seg[256] = '\0';
    CHECK(dr_s3_local_name_problem(seg) != NULL);
    seg[0] = 'a', seg[1] = '/';
    CHECK(dr_s3_local_name_problem(seg) == NULL); /* 254 after the '/' */
    memcpy(seg + 256, "/f", 3);
    seg[1] = 'x';
    CHECK(dr_s3_local_name_problem(seg) != NULL); /* a long folder part */
}

static void test_parse_time(void)
{
    time_t t = 0;
    CHECK(dr_s3_parse_time("2024-01-02T03:04:05.000Z", &t) == 0 && t == 1704164645);
    CHECK(dr_s3_parse_time("2024-01-02T03:04:05Z", &t) == 0 && t == 1704164645);
    CHECK(dr_s3_parse_time("2024-01-02T03:04:05.123456Z", &t) == 0 && t == 1704164645);
    CHECK(dr_s3_parse_time("Wed, 21 Oct 2015 07:28:00 GMT", &t) == 0 && t == 1445412480);
    CHECK(dr_s3_parse_time("Wed, 21 Foo 2015 07:28:00 GMT", &t) == -1);
    CHECK(dr_s3_parse_time("Wed, 21 Oct 2015 07:28:00 GMTx", &t) == -1);
    CHECK(dr_s3_parse_time("2024-01-02T03:04:05.000", &t) == -1);
    CHECK(dr_s3_parse_time("2024-13-02T03:04:05Z", &t) == -1);
    CHECK(dr_s3_parse_time("", &t) == -1);
    CHECK(dr_s3_parse_time(NULL, &t) == -1);
    /* HTTP dates are read by isotime now: the fields are checked as for ISO times */
    CHECK(dr_isotime_parse_http("Thu, 29 Feb 2024 23:59:59 GMT", &t) == 0 && t == 1709251199);
    CHECK(dr_isotime_parse_http("Wed, 29 Feb 2023 00:00:00 GMT", &t) == -1);
    CHECK(dr_isotime_parse_http("Wed, 21 Oct 2015 25:28:00 GMT", &t) == -1);
    CHECK(dr_isotime_parse_http("Wed, 21 Oct 2015 07:28:00", &t) == -1);
    CHECK(dr_isotime_parse_http("2015-10-21T07:28:00Z", &t) == -1);
    CHECK(dr_isotime_from_fields(1970, 1, 1, 0, 0, 0, &t) == 0 && t == 0);
    CHECK(dr_isotime_from_fields(2000, 2, 29, 12, 0, 0, &t) == 0 && t == 951825600);
    CHECK(dr_isotime_from_fields(1900, 2, 29, 0, 0, 0, &t) == -1);
    CHECK(dr_isotime_from_fields(2024, 4, 31, 0, 0, 0, &t) == -1);
    CHECK(dr_isotime_from_fields(2024, 1, 1, 0, 60, 0, &t) == -1);
}

static const char page_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bucket</Name><Prefix>docs/</Prefix><KeyCount>3</"
    "KeyCount><MaxKeys>1000</MaxKeys>"
    "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
    "<Contents><Key>docs/a &amp; b&lt;c&gt;.html</Key>"
    "<LastModified>2024-01-02T03:04:05.000Z</LastModified>"
    "<ETag>&quot;5eb63bbbe01eeed093cb22bb8f5acdc3&quot;</ETag><Size>11</Size>"
    "<Owner><ID>x</ID><DisplayName>Key</DisplayName></Owner>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>docs/caf\xc3\xa9 +%=.json</Key>"
    "<LastModified>2024-01-02T03:04:06.000Z</LastModified>"
    "<ETag>\"0732917abc3288784e318ac0aab1757a-2\"</ETag><Size>20971520</Size></"
    "Contents>"
    "<CommonPrefixes><Prefix>docs/sub/</Prefix></CommonPrefixes>"
    "<CommonPrefixes><Prefix>docs/x y/</Prefix></CommonPrefixes>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
    "NextContinuationToken>"
    "</ListBucketResult>";

static void test_list_page(void)
{
    struct dr_s3_list_page page;
    char err[256];
    CHECK(dr_s3_list_page_parse(page_xml, strlen(page_xml), &page, err, sizeof err) == 0);
    CHECK(page.nobjects == 2);
    CHECK(page.nprefixes == 2);
    CHECK(page.truncated == 1);
    CHECK_STR(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    if (page.nobjects == 2) {
        CHECK_STR(page.objects[0].key, "docs/a & b<c>.html");
        CHECK(page.objects[0].size == 11);
        CHECK(page.objects[0].last_modified == 1704164645);
        CHECK_STR(page.objects[0].etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        CHECK_STR(page.objects[1].key, "docs/caf\xc3\xa9 +%=.json");
        CHECK(page.objects[1].size == 20971520);
        CHECK_STR(page.objects[1].etag, "0732917abc3288784e318ac0aab1757a-2");
    }
    if (page.nprefixes == 2) {
        CHECK_STR(page.prefixes[0], "docs/sub/");
        CHECK_STR(page.prefixes[1], "docs/x y/");
    }
    dr_s3_list_page_free(&page);
    CHECK(page.objects == NULL && page.nobjects == 0);

    static const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                               "<KeyCount>0</KeyCount></ListBucketResult>";
    CHECK(dr_s3_list_page_parse(last, strlen(last), &page, err, sizeof err) == 0);
    CHECK(page.nobjects == 0 && !page.truncated && page.next_token == NULL);
    dr_s3_list_page_free(&page);

    static const char broken[] = "<ListBucketResult><Contents><Key>a</Key>";
    CHECK(dr_s3_list_page_parse(broken, strlen(broken), &page, err, sizeof err) == -1);
    dr_s3_list_page_free(&page);
    static const char bad_size[] =
        "<ListBucketResult><Contents><Key>a</Key><Size>12x</Size></Contents></"
        "ListBucketResult>";
    CHECK(dr_s3_list_page_parse(bad_size, strlen(bad_size), &page, err, sizeof err) == -1);
    dr_s3_list_page_free(&page);
    static const char no_key[] = "<ListBucketResult><Contents><Size>1</Size></"
                                 "Contents></ListBucketResult>";
    CHECK(dr_s3_list_page_parse(no_key, strlen(no_key), &page, err, sizeof err) == -1);
    dr_s3_list_page_free(&page);
}

static void test_list_page_url_encoded(void)
{
    struct dr_s3_list_page page;
    char err[256];
    static const char xml[] =
        "<ListBucketResult><EncodingType>url</EncodingType><Prefix>o%2F</Prefix>"
        "<Contents><Key>o/cr%0Dlf%0A+plus%2B%25%C3%A9%09</Key><Size>1</Size></Contents>"
        "<Contents><Key>o/stray%zz%4</Key><Size>2</Size></Contents>"
        "<CommonPrefixes><Prefix>o/dir+one/</Prefix></CommonPrefixes>"
        "<IsTruncated>false</IsTruncated></ListBucketResult>";
    CHECK(dr_s3_list_page_parse(xml, strlen(xml), &page, err, sizeof err) == 0);
    CHECK(page.nobjects == 2 && page.nprefixes == 1);
    if (page.nobjects == 2) {
        CHECK_STR(page.objects[0].key, "o/cr\rlf\n plus+%\xc3\xa9\t");
        CHECK_STR(page.objects[1].key, "o/stray%zz%4");
    }
    if (page.nprefixes == 1)
        CHECK_STR(page.prefixes[0], "o/dir one/");
    dr_s3_list_page_free(&page);
    /* without <EncodingType> the text is taken as it is */
    static const char plain[] = "<ListBucketResult><Contents><Key>a+b%41</Key><Size>1</Size>"
                                "</Contents></ListBucketResult>";
    CHECK(dr_s3_list_page_parse(plain, strlen(plain), &page, err, sizeof err) == 0);
    if (page.nobjects == 1)
        CHECK_STR(page.objects[0].key, "a+b%41");
    dr_s3_list_page_free(&page);
}

static void test_xml_escape(void)
{
    char *e = dr_s3_xml_escape("a&b<c>\"d'e\rf\ng\th");
    CHECK_STR(e, "a&amp;b&lt;c&gt;&quot;d&apos;e&#13;f&#10;g&#9;h");
    free(e);
    e = dr_s3_xml_escape("");
    CHECK_STR(e, "");
    free(e);
}

static void test_xml_find(void)
{
    static const char init[] = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult "
                               "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                               "<Bucket>b</Bucket><Key>k</Key><UploadId>abc+/=&amp;</UploadId>"
                               "</InitiateMultipartUploadResult>";
    char *v = NULL;
    CHECK(dr_s3_xml_find(init, strlen(init), "UploadId", &v) == 0);
    CHECK_STR(v, "abc+/=&");
    free(v);
    CHECK(dr_s3_xml_find(init, strlen(init), "Nope", &v) == 0 && v == NULL);
    CHECK(dr_s3_xml_find("<a><b>", 6, "b", &v) == -1 && v == NULL);
    static const char del[] = "<DeleteResult><Error><Key>x y</Key><Code>AccessDenied</Code>"
                              "<Message>Access Denied</Message></Error></DeleteResult>";
    CHECK(dr_s3_xml_find(del, strlen(del), "Code", &v) == 0);
    CHECK_STR(v, "AccessDenied");
    free(v);
}

static int bucket_seen(void *ctx, const char *name, time_t created)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s@%lld;", name, (long long)created);
    return strcmp(name, "stop") == 0 ? 9 : 0;
}

static void test_buckets_parse(void)
{
    static const char xml[] =
        "<ListAllMyBucketsResult><Owner><ID>o</ID><DisplayName>Name</DisplayName></Owner>"
        "<Buckets><Bucket><Name>alpha</Name><CreationDate>2024-01-02T03:04:05.000Z"
        "</CreationDate></Bucket><Bucket><Name>b.e-ta</Name><CreationDate>"
        "2015-10-21T07:28:00Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>";
    char seen[256] = "", err[128];
    CHECK(dr_s3_buckets_parse(xml, strlen(xml), bucket_seen, seen, err, sizeof err) == 0);
    CHECK_STR(seen, "alpha@1704164645;b.e-ta@1445412480;"); /* Owner's Name is not a bucket */
    static const char stop[] = "<L><Buckets><Bucket><Name>stop</Name></Bucket><Bucket><Name>x"
                               "</Name></Bucket></Buckets></L>";
    seen[0] = '\0';
    CHECK(dr_s3_buckets_parse(stop, strlen(stop), bucket_seen, seen, err, sizeof err) == 9);
    CHECK_STR(seen, "stop@0;");
    CHECK(dr_s3_buckets_parse("<L><Bucket>", 11, bucket_seen, seen, err, sizeof err) == -1);
}

struct counter {
    int hits[1000];
    int fail_at;
};

static int count_job(void *ctx, size_t i)
{
    struct counter *c = ctx;
    c->hits[i]++;
    if ((int)i == c->fail_at)
        return 7;
    if (c->fail_at >= 0) { /* slow the others so the failure is seen early */
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return 0;
}

static void test_parallel(void)
{
    static struct counter c;
    int once = 1;
    memset(&c, 0, sizeof c);
    c.fail_at = -1;
    CHECK(dr_s3_parallel(1000, 16, count_job, &c) == 0);
    for (int i = 0; i < 1000; i++)
        once &= c.hits[i] == 1;
    CHECK(once);
    memset(&c, 0, sizeof c);
    c.fail_at = 3;
    CHECK(dr_s3_parallel(10, 1, count_job, &c) == 7);
    CHECK(c.hits[3] == 1 && c.hits[4] == 0); /* sequential: stops right there */
    memset(&c, 0, sizeof c);
    c.fail_at = 0;
    CHECK(dr_s3_parallel(1000, 4, count_job, &c) == 7);
    int total = 0;
    for (int i = 0; i < 1000; i++)
        total += c.hits[i];
    CHECK(total < 1000); /* stopped handing out work */
    CHECK(dr_s3_parallel(0, 8, count_job, &c) == 0);
}

TEST_MAIN(test_url_parse, test_address, test_content_type, test_content_type_system_files,
          test_etags, test_hashes, test_file_etag, test_part_size, test_local_path,
          test_local_name_problem, test_parse_time, test_list_page, test_list_page_url_encoded,
          test_xml_escape, test_xml_find, test_buckets_parse, test_parallel)
