/* checksum: verifies a downloaded S3 body against what the response claims
 * about it — the flexible checksums (x-amz-checksum-crc64nvme, -crc32c,
 * -crc32, -sha256, -sha1) sent back for x-amz-checksum-mode: ENABLED, else
 * the MD5 that a single-part, non-KMS, non-SSE-C object's ETag is. Used by
 * s3.c's GetObject; the CRCs are exposed for tests. */
#ifndef DR_CHECKSUM_H
#define DR_CHECKSUM_H

#include "dbtrun/http.h"

#include <stddef.h>
#include <stdint.h>

enum dr_crc { DR_CRC32, DR_CRC32C, DR_CRC64NVME };

/* Continues a CRC over n bytes; start with crc = 0 (the initial value and
 * the final xor are applied inside, so calls chain like zlib's crc32). */
uint64_t dr_checksum_crc(enum dr_crc kind, uint64_t crc, const void *p, size_t n);

/* Checks the file at `path` against resp's headers. 0: it matches, or the
 * response makes no claim that can be checked; 1: mismatch, `why` says which
 * header, what was expected and what the file has; -1: the file cannot be
 * read or libcrypto failed (errno set). */
int dr_checksum_verify(const struct dr_http_response *resp, const char *path, char *why,
                       size_t len);

#endif
