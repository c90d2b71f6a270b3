/* The AWS config/credentials parser (src/aws/ini.c): the first byte picks
 * the dialect, the rest is the file. */
#include "dbtrun/ini.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum dr_ini_kind kind = (data[0] & 1) ? DR_INI_CREDENTIALS : DR_INI_CONFIG;
    struct dr_ini ini;
    memset(&ini, 0, sizeof ini);
    struct dr_ini_status st;
    if (dr_ini_parse(&ini, kind, (const char *)data + 1, size - 1, "fuzz", &st) == DR_INI_OK) {
        const struct dr_ini_section *sec = dr_ini_profile(&ini, "default");
        (void)dr_ini_get(sec, "region");
        (void)dr_ini_get_sub(sec, "s3", "addressing_style");
        (void)dr_ini_find(&ini.sso_sessions, "my-sso");
    }
    dr_ini_free(&ini);
    return 0;
}
