/* The manifest reader (src/dbt/manifest.c over src/base/jsonpull.c) on any bytes; a
 * manifest that loads is also compared with itself and rendered, which reads
 * every field the plan uses. */
#include "dbtrun/manifest.h"
#include "dbtrun/plan.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dr_manifest *m = NULL;
    char err[1024];
    if (dr_manifest_parse((const char *)data, size, &m, err, sizeof err) != 0)
        return 0;
    struct dr_plan_options opts = {0};
    struct dr_plan *plan = NULL;
    if (dr_plan_compare(m, m, &opts, &plan, err, sizeof err) == 0) {
        char *text = NULL;
        size_t len;
        if (dr_plan_render(plan, DR_PLAN_JSON, 0, &text, &len) == 0)
            free(text);
        dr_plan_free(plan);
    }
    dr_manifest_free(m);
    return 0;
}
