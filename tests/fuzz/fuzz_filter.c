/* The --include/--exclude glob filter (src/aws/filter.c): every line but the
 * last is a rule ("+pattern" includes, anything else excludes), the last
 * line is the path matched. */
#include "dbtrun/filter.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[64];
    size_t n;
    char *copy = fuzz_lines(data, size, lines, 64, &n);
    if (!copy)
        return 0;
    struct dr_filter f;
    memset(&f, 0, sizeof f);
    for (size_t i = 0; i + 1 < n; i++) {
        int include = lines[i][0] == '+';
        if (dr_filter_add(&f, include, lines[i] + (lines[i][0] ? 1 : 0)) != 0)
            break;
    }
    (void)dr_filter_match(&f, lines[n - 1]);
    dr_filter_free(&f);
    free(copy);
    return 0;
}
