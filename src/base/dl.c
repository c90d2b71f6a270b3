/* dl: loads libcrypto and libcurl on first use (see include/dbtrun/dl.h for
 * why) and fills the function tables. Not thread-safe: dbtrun loads them from
 * its one main thread before any transfer starts. */
#include "dbtrun/dl.h"

#include <dlfcn.h>
#include <stdio.h>

struct dr_crypto_api dr_crypto;
struct dr_curl_api dr_curl;

/* dr_dl_sha256 / dr_dl_md5: fetched once, kept for the process */
static EVP_MD *sha256, *md5;

/* A library dbtrun loads: the file names tried in order (the soname first)
 * and the Debian/Ubuntu package that ships the soname, so that the error on a
 * host without it says what to install rather than only what failed. */
struct lib {
    const char *what;         /* "libcurl" */
    const char *const *names; /* "libcurl.so.4", ..., NULL */
    const char *package;      /* "libcurl4 (libcurl4t64 on Ubuntu 24.04)" */
};

/* Opens the first name of `lib` that loads and resolves each of the `n`
 * symbols into `slots`. 0, or -1 with a message naming the soname, the
 * loader's reason for the soname (not for a later fallback name, whose
 * "not found" would hide a broken soname) and the package. */
static int load(const struct lib *lib, const char *const *symbols, void **slots, size_t n,
                char *err, size_t errlen)
{
    void *handle = NULL;
    char first[160] = "";
    for (const char *const *name = lib->names; *name && !handle; name++) {
        handle = dlopen(*name, RTLD_NOW | RTLD_LOCAL);
        if (!handle && name == lib->names)
            snprintf(first, sizeof first, "%s", dlerror());
    }
    if (!handle) {
        snprintf(err, errlen, "cannot load %s: %s; install the Debian/Ubuntu package %s", lib->what,
                 first, lib->package);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        slots[i] = dlsym(handle, symbols[i]);
        if (!slots[i]) {
            snprintf(err, errlen, "%s has no %s (too old? dbtrun needs the one of package %s)",
                     lib->names[0], symbols[i], lib->package);
            return -1; /* the library stays loaded: harmless, and never retried */
        }
    }
    return 0;
}

#define DR_DL_NAME(name) #name,

/* The first failure's message is kept and given again to later callers, so
 * the error a user sees names the package whichever call met it first. */
static int report(int state, const char *why, char *err, size_t errlen)
{
    if (state < 0)
        snprintf(err, errlen, "%s", why);
    return state > 0 ? 0 : -1;
}

int dr_dl_crypto(char *err, size_t errlen)
{
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    static char why[DR_DL_ERRLEN];
    static const char *const names[] = {"libcrypto.so.3", "libcrypto.so", NULL};
    static const struct lib lib = {"libcrypto", names, "libssl3 (libssl3t64 on Ubuntu 24.04)"};
    static const char *const symbols[] = {DR_CRYPTO_FUNCTIONS(DR_DL_NAME)};
    if (state == 0) {
        state = load(&lib, symbols, (void **)&dr_crypto, sizeof symbols / sizeof symbols[0], why,
                     sizeof why) == 0
                    ? 1
                    : -1;
        if (state > 0) {
            sha256 = dr_crypto.EVP_MD_fetch(NULL, "SHA256", NULL);
            md5 = dr_crypto.EVP_MD_fetch(NULL, "MD5", NULL);
        }
    }
    return report(state, why, err, errlen);
}

const EVP_MD *dr_dl_sha256(void)
{
    return sha256 ? sha256 : dr_crypto.EVP_sha256();
}

const EVP_MD *dr_dl_md5(void)
{
    return md5 ? md5 : dr_crypto.EVP_md5();
}

int dr_dl_curl(char *err, size_t errlen)
{
    static int state;
    static char why[DR_DL_ERRLEN];
    static const char *const names[] = {"libcurl.so.4", "libcurl.so", NULL};
    static const struct lib lib = {"libcurl", names, "libcurl4 (libcurl4t64 on Ubuntu 24.04)"};
    static const char *const symbols[] = {DR_CURL_FUNCTIONS(DR_DL_NAME)};
    if (state == 0) {
        state = load(&lib, symbols, (void **)&dr_curl, sizeof symbols / sizeof symbols[0], why,
                     sizeof why) == 0
                    ? 1
                    : -1;
        if (state > 0 && dr_curl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(why, sizeof why, "curl_global_init failed");
            state = -1;
        }
    }
    return report(state, why, err, errlen);
}
