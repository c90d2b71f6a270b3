/* cloudfront: CloudFront invalidations (CreateInvalidation, GetInvalidation
 * and a waiter) over the REST-XML protocol, API version 2020-05-31, through
 * dr_aws_send. CloudFront is global: requests are signed for us-east-1 and
 * go to dr_aws_endpoint(c, "cloudfront"). */
#ifndef DR_CLOUDFRONT_H
#define DR_CLOUDFRONT_H

#include "dbtrun/aws.h"

#include <stddef.h>

#define DR_CLOUDFRONT_VERSION "2020-05-31"
#define DR_CLOUDFRONT_WAIT_DEFAULT 600 /* s, as the aws CLI waiter: 30 polls of 20 s */
#define DR_CLOUDFRONT_POLL_DEFAULT 20  /* s */

/* Creates an invalidation of `paths` (each starting with '/', e.g. "/index.html"; a trailing
 * '*' is a wildcard, so '/' then '*' is everything) on distribution `dist` with a unique
 * CallerReference. *id gets the invalidation id (caller frees), *status (may be NULL;
 * caller frees) its status ("InProgress"/"Completed"). 0, or -1 with err. */
int dr_cloudfront_invalidate(struct dr_aws_client *c, const char *dist, const char *const *paths,
                             size_t npaths, char **id, char **status, struct dr_aws_error *err);

/* GetInvalidation: *status (caller frees). 0, or -1 with err. */
int dr_cloudfront_status(struct dr_aws_client *c, const char *dist, const char *id, char **status,
                         struct dr_aws_error *err);

/* Polls dr_cloudfront_status every poll_seconds (0: 20 s as the aws CLI waiter, but never more
 * than what is left) until "Completed"; fails with code "Timeout" after timeout_seconds
 * (0: 600). 0, or -1 with err. */
int dr_cloudfront_wait(struct dr_aws_client *c, const char *dist, const char *id,
                       int timeout_seconds, int poll_seconds, struct dr_aws_error *err);

/* ---- pure pieces, for tests ------------------------------------------------- */

/* Pure, for tests: the InvalidationBatch XML body (paths XML-escaped, Quantity = npaths). Caller
 * frees; NULL out of memory. */
char *dr_cloudfront_batch_xml(const char *const *paths, size_t npaths,
                              const char *caller_reference);

#endif
