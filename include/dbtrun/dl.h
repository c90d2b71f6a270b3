/* dl: libcurl and libcrypto, loaded with dlopen() the first time an AWS
 * primitive needs them. Linking them normally would make every start of
 * dbtrun load ~30 shared libraries (measured: 4.8 ms instead of 0.6 ms for an
 * empty program), a cost `dbtrun --list` and process-only tasks must not pay.
 * Code calls them through the tables: dr_crypto.EVP_sha256(),
 * dr_curl.curl_easy_init(). The headers still give every type and check
 * every call's arguments. */
#ifndef DR_DL_H
#define DR_DL_H

#include <stddef.h>

#define CURL_DISABLE_TYPECHECK /* its macros would wrap the table's names */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* The libcrypto functions dbtrun uses. */
#define DR_CRYPTO_FUNCTIONS(X)                                                                     \
    X(EVP_sha256)                                                                                  \
    X(EVP_md5)                                                                                     \
    X(EVP_sha1)                                                                                    \
    X(EVP_Digest)                                                                                  \
    X(EVP_MD_fetch)                                                                                \
    X(EVP_MD_CTX_new)                                                                              \
    X(EVP_MD_CTX_free)                                                                             \
    X(EVP_DigestInit_ex)                                                                           \
    X(EVP_DigestUpdate)                                                                            \
    X(EVP_DigestFinal_ex)                                                                          \
    X(EVP_EncodeBlock)                                                                             \
    X(EVP_DecodeBlock)                                                                             \
    X(RAND_bytes)                                                                                  \
    X(OPENSSL_cleanse)

/* The libcurl functions dbtrun uses. */
#define DR_CURL_FUNCTIONS(X)                                                                       \
    X(curl_global_init)                                                                            \
    X(curl_easy_init)                                                                              \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_reset)                                                                             \
    X(curl_easy_strerror)                                                                          \
    X(curl_easy_escape)                                                                            \
    X(curl_free)                                                                                   \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)                                                                         \
    X(curl_multi_init)                                                                             \
    X(curl_multi_add_handle)                                                                       \
    X(curl_multi_remove_handle)                                                                    \
    X(curl_multi_perform)                                                                          \
    X(curl_multi_poll)                                                                             \
    X(curl_multi_info_read)                                                                        \
    X(curl_multi_cleanup)                                                                          \
    X(curl_multi_strerror)                                                                         \
    X(curl_share_init)                                                                             \
    X(curl_share_setopt)                                                                           \
    X(curl_share_cleanup)                                                                          \
    X(curl_url)                                                                                    \
    X(curl_url_set)                                                                                \
    X(curl_url_get)                                                                                \
    X(curl_url_cleanup)

#define DR_DL_POINTER(name) __typeof__(name) *name;
struct dr_crypto_api {
    DR_CRYPTO_FUNCTIONS(DR_DL_POINTER)
};
struct dr_curl_api {
    DR_CURL_FUNCTIONS(DR_DL_POINTER)
};
#undef DR_DL_POINTER

extern struct dr_crypto_api dr_crypto;
extern struct dr_curl_api dr_curl;

/* A buffer this long holds any message of the loaders below whole (the
 * loader's reason and the package to install). */
#define DR_DL_ERRLEN 320

/* Loads libcrypto (once). 0, or -1 with a message in err naming libcrypto's
 * soname, why it did not load and the Debian/Ubuntu package that ships it;
 * later calls after a failure give the same message. */
int dr_dl_crypto(char *err, size_t errlen);

/* SHA-256 and MD5 fetched once when libcrypto loaded: EVP_sha256() and
 * EVP_md5() make every digest look the algorithm up again (a lock and a
 * property query), which showed on sync's thousands of small requests.
 * Only after dr_dl_crypto succeeded; the same digests either way. */
const EVP_MD *dr_dl_sha256(void);
const EVP_MD *dr_dl_md5(void);

/* Loads libcurl (once) and runs curl_global_init. 0, or -1 with a message
 * as for dr_dl_crypto. */
int dr_dl_curl(char *err, size_t errlen);

#endif
