/* Unit tests for src/aws/checksum.c: the CRCs' published check values, and
 * which response headers a downloaded file is verified against. */
#include "dbtrun/checksum.h"
#include "harness.h"
#include "files.h"
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_check_values(void)
{
    const char *s = "123456789";
    CHECK(dr_checksum_crc(DR_CRC32, 0, s, 9) == 0xCBF43926u);
    CHECK(dr_checksum_crc(DR_CRC32C, 0, s, 9) == 0xE3069283u);
    CHECK(dr_checksum_crc(DR_CRC64NVME, 0, s, 9) == 0xAE8B14860A799888ull);
    /* chained calls equal one call */
    CHECK(dr_checksum_crc(DR_CRC32C, dr_checksum_crc(DR_CRC32C, 0, s, 4), s + 4, 5) == 0xE3069283u);
}

static int verify(const char *path, const char *name, const char *value, const char *name2,
                  const char *value2, char *why)
{
    struct dr_http_header h[2] = {{name, value}, {name2, value2}};
    struct dr_http_response r = {.headers = h, .nheaders = name2 ? 2 : 1};
    why[0] = '\0';
    return dr_checksum_verify(&r, path, why, 400);
}

static void test_verify(void)
{
    char why[400];
    CHECK(mkdtemp(root) != NULL);
    const char *path = in_root("f");
    write_text(path, "123456789");
    /* crc32 0xCBF43926 -> y/Q5Jg==; crc64nvme -> rosUhgp5mIg= */
    CHECK(verify(path, "x-amz-checksum-crc32", "y/Q5Jg==", NULL, NULL, why) == 0);
    CHECK(verify(path, "x-amz-checksum-crc64nvme", "rosUhgp5mIg=", NULL, NULL, why) == 0);
    CHECK(verify(path, "x-amz-checksum-crc32", "AAAAAA==", NULL, NULL, why) == 1);
    CHECK(strstr(why, "x-amz-checksum-crc32 expected AAAAAA==, got y/Q5Jg==") != NULL);
    /* md5("123456789") = 25f9e794323b453885f5181f1b624d0b */
    CHECK(verify(path, "etag", "\"25f9e794323b453885f5181f1b624d0b\"", NULL, NULL, why) == 0);
    CHECK(verify(path, "etag", "\"00f9e794323b453885f5181f1b624d0b\"", NULL, NULL, why) == 1);
    /* multipart ETags, KMS and weak ETags are no MD5s; composite checksums are skipped */
    CHECK(verify(path, "etag", "\"00f9e794323b453885f5181f1b624d0b-2\"", NULL, NULL, why) == 0);
    CHECK(verify(path, "etag", "\"00f9e794323b453885f5181f1b624d0b\"",
                 "x-amz-server-side-encryption", "aws:kms", why) == 0);
    CHECK(verify(path, "etag", "\"00f9e794323b453885f5181f1b624d0b\"",
                 "x-amz-server-side-encryption-customer-algorithm", "AES256", why) == 0);
    CHECK(verify(path, "x-amz-checksum-crc32", "AAAAAA==-3", NULL, NULL, why) == 0);
    /* a multipart object's checksum counts only when S3 says it is of the whole */
    CHECK(verify(path, "x-amz-checksum-crc32", "AAAAAA==", "etag",
                 "\"00f9e794323b453885f5181f1b624d0b-2\"", why) == 0);
    {
        struct dr_http_header h[3] = {{"x-amz-checksum-crc32", "AAAAAA=="},
                                      {"etag", "\"00f9e794323b453885f5181f1b624d0b-2\""},
                                      {"x-amz-checksum-type", "FULL_OBJECT"}};
        struct dr_http_response r = {.headers = h, .nheaders = 3};
        CHECK(dr_checksum_verify(&r, path, why, sizeof why) == 1);
    }
    /* the checksum wins over the ETag */
    CHECK(verify(path, "x-amz-checksum-crc32", "AAAAAA==", "etag",
                 "\"25f9e794323b453885f5181f1b624d0b\"", why) == 1);
    unlink(path);
    rmdir(root);
}

TEST_MAIN(test_check_values, test_verify)
