/* dl: loads libcrypto and libcurl on first use (see include/dbtrun/dl.h for
 * why) and fills the function tables. Not thread-safe: dbtrun loads them from
 * its one main thread before any transfer starts. */
#include "dbtrun/dl.h"

#include <dlfcn.h>
#include <stdio.h>

struct dr_crypto_api dr_crypto;
struct dr_curl_api dr_curl;

/* Opens the first library of `names` that loads and resolves each of the
 * `n` symbols into `slots`. 0, or -1 with a message. */
static int load(const char *const *names, const char *const *symbols, void **slots, size_t n,
                char *err, size_t errlen)
{
    void *lib = NULL;
    for (const char *const *name = names; *name && !lib; name++)
        lib = dlopen(*name, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, errlen, "cannot load %s: %s", names[0], dlerror());
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        slots[i] = dlsym(lib, symbols[i]);
        if (!slots[i]) {
            snprintf(err, errlen, "%s has no %s", names[0], symbols[i]);
            return -1; /* the library stays loaded: harmless, and never retried */
        }
    }
    return 0;
}

#define DR_DL_NAME(name) #name,

int dr_dl_crypto(char *err, size_t errlen)
{
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    static const char *const names[] = {"libcrypto.so.3", "libcrypto.so", NULL};
    static const char *const symbols[] = {DR_CRYPTO_FUNCTIONS(DR_DL_NAME)};
    if (state == 0)
        state = load(names, symbols, (void **)&dr_crypto, sizeof symbols / sizeof symbols[0], err,
                     errlen) == 0
                    ? 1
                    : -1;
    else if (state < 0)
        snprintf(err, errlen, "libcrypto could not be loaded");
    return state > 0 ? 0 : -1;
}

int dr_dl_curl(char *err, size_t errlen)
{
    static int state;
    static const char *const names[] = {"libcurl.so.4", "libcurl.so", NULL};
    static const char *const symbols[] = {DR_CURL_FUNCTIONS(DR_DL_NAME)};
    if (state == 0) {
        state = load(names, symbols, (void **)&dr_curl, sizeof symbols / sizeof symbols[0], err,
                     errlen) == 0
                    ? 1
                    : -1;
        if (state > 0 && dr_curl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "curl_global_init failed");
            state = -1;
        }
    } else if (state < 0) {
        snprintf(err, errlen, "libcurl could not be loaded");
    }
    return state > 0 ? 0 : -1;
}
