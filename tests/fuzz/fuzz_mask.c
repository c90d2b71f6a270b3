/* The streaming mask (src/base/mask.c) against whole-text masking: the input's
 * first line gives the chunk sizes (one byte each, 0-15) and, in its first
 * byte, how many of the next lines are secrets (1-4); the rest is the text.
 * Streamed in those chunks, the text must come out exactly as dr_mask_apply
 * masks it whole: a secret split anywhere never leaks. */
#include "dbtrun/mask.h"
#include "fuzz.h"

#include <stdio.h>
#include <unistd.h>

static void stream_through(const char *text, size_t len, const char *chunks, FILE *f)
{
    struct dr_mask_stream s = {fileno(f), NULL, 0};
    size_t at = 0, c = 0, nchunks = strlen(chunks);
    while (at < len) {
        size_t step = nchunks ? (size_t)(chunks[c++ % nchunks] & 15) : len;
        if (step == 0 && c > nchunks) /* empty writes once, then progress */
            step = 1;
        if (step > len - at)
            step = len - at;
        dr_mask_stream_write(&s, text + at, step);
        at += step;
    }
    dr_mask_stream_flush(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[8];
    size_t n;
    char *copy = fuzz_lines(data, size, lines, 6, &n);
    if (!copy)
        return 0;
    size_t secrets = n > 1 ? (size_t)(lines[0][0] & 3) + 1 : 0;
    if (secrets > n - 1)
        secrets = n - 1;
    dr_mask_reset();
    for (size_t i = 1; i <= secrets; i++)
        dr_mask_add(lines[i], strlen(lines[i]));
    /* The text: everything after the secret lines, newlines restored. */
    const char *text = secrets + 1 < n ? lines[secrets + 1] : "";
    size_t len = secrets + 1 < n ? size - (size_t)(text - copy) : 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\0' && text + i < copy + size)
            copy[text - copy + i] = '\n';
    FILE *f = tmpfile();
    if (f) {
        stream_through(text, len, lines[0], f);
        size_t want_len = 0;
        char *want = dr_mask_apply(text, len, &want_len);
        long got_len = ftell(f);
        char *got = malloc(got_len > 0 ? (size_t)got_len : 1);
        rewind(f);
        size_t read_len = got ? fread(got, 1, (size_t)got_len, f) : 0;
        if (want && got && (read_len != want_len || memcmp(got, want, want_len) != 0))
            __builtin_trap(); /* stream and whole-text masking disagree */
        free(got);
        free(want);
        fclose(f);
    }
    dr_mask_reset();
    free(copy);
    return 0;
}
