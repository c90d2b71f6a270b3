/* glob: Python's fnmatch.fnmatchcase, the matcher the aws CLI's --exclude
 * and --include use, over characters: `*` (crossing `/`), `?`, `[...]` with
 * `[!...]` negation, exactly as CPython's fnmatch.translate builds its regex.
 * Used by filter.c; its own module so tests and the fuzzer reach it. */
#ifndef DR_GLOB_H
#define DR_GLOB_H

struct dr_glob; /* opaque */

/* Compiles `pattern` (UTF-8; invalid bytes are one character each, as
 * Python's surrogateescape decoding makes them). Any pattern is valid: an
 * empty one matches only the empty text. Caller frees with dr_glob_free;
 * NULL when out of memory. */
struct dr_glob *dr_glob_compile(const char *pattern);

/* 1 when the whole of `text` matches, else 0. */
int dr_glob_match(const struct dr_glob *g, const char *text);

void dr_glob_free(struct dr_glob *g);

#endif
