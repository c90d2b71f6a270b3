/* SigV4 canonicalisation (src/aws/sigv4.c): lines are flags, method, path,
 * query, then header name/value pairs; signed with fixed credentials.
 * libcrypto is dlopened by src/base/dl.c on the first signature. */
#include "dbtrun/sigv4.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[4 + 2 * 32];
    size_t n;
    char *copy = fuzz_lines(data, size, lines, sizeof lines / sizeof lines[0], &n);
    if (!copy)
        return 0;
    if (n < 4) {
        free(copy);
        return 0;
    }
    struct dr_sigv4_header headers[32];
    size_t nh = 0;
    for (size_t i = 4; i + 1 < n && nh < 32; i += 2)
        headers[nh++] = (struct dr_sigv4_header){lines[i], lines[i + 1]};
    unsigned flags = (unsigned)(unsigned char)lines[0][0] & 0x1f;
    struct dr_sigv4_request req = {lines[1], lines[2], lines[3], headers, nh, NULL};
    struct dr_sigv4_credentials cred = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                        (flags & 1) ? "token" : NULL};
    struct dr_sigv4_params p = {"us-east-1", (flags & 1) ? "s3" : "service", 1440938160, flags,
                                300};
    struct dr_sigv4_result res;
    char err[256];
    (void)dr_sigv4_sign(&req, &cred, &p, &res, err, sizeof err);
    dr_sigv4_result_free(&res); /* empty after a failure, and safe to free */
    free(copy);
    return 0;
}
