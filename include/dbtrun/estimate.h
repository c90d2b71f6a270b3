/* estimate: how long `dbt build` of a plan's selection will take, from the
 * execution times of production's last run_results.json: a list-scheduling
 * simulation with dbt's `threads` workers over the selected part of the DAG.
 * An estimate: warehouse load, caching and changed code all move it. */
#ifndef DR_ESTIMATE_H
#define DR_ESTIMATE_H

#include "dbtrun/manifest.h"
#include "dbtrun/plan.h"

#include <stddef.h>
#include <stdint.h>

/* Execution times by unique id, read from a run_results.json. */
struct dr_timings;

struct dr_estimate {
    double total;    /* seconds: the simulated build with `threads` workers */
    double critical; /* seconds: the longest dependency chain */
    double serial;   /* seconds: the sum, as with one thread */
    unsigned threads;
    size_t nnodes;  /* nodes dbt build runs (models, seeds, snapshots, tests, ...) */
    size_t nknown;  /* of them, with a timing */
    char **unknown; /* unique ids without a timing, sorted */
    size_t nunknown;
    const char *source; /* label of the run_results.json (owned by the caller) */
};

/* Reads the unique_id and execution_time of each result in the
 * run_results.json at `path`. Returns 0 and sets *out (free with
 * dr_timings_free); -1 with a message in err. */
int dr_estimate_timings_load(const char *path, struct dr_timings **out, char *err, size_t errlen);

/* The same from a memory block (tests). */
int dr_estimate_timings_parse(const char *data, size_t len, struct dr_timings **out, char *err,
                              size_t errlen);

/* The time of `uid`, or -1 when it has none. */
double dr_estimate_timing(const struct dr_timings *t, const char *uid);

/* Frees timings; NULL is fine. */
void dr_timings_free(struct dr_timings *t);

/* The makespan of n jobs of secs[i] seconds on `threads` workers, job i
 * waiting for its dependencies deps[dep_off[i] .. dep_off[i+1]) (indexes
 * below n): whenever a worker is free it takes the ready job with the longest
 * remaining chain. Sets *critical to the longest chain. Returns the makespan,
 * or -1 when out of memory or the graph has a cycle. */
double dr_estimate_schedule(size_t n, const double *secs, const uint32_t *dep_off,
                            const uint32_t *deps, unsigned threads, double *critical);

/* The estimate of the plan's selection of `current` with the timings.
 * Returns 0 and sets *out (free with dr_estimate_free); -1 with a message. */
int dr_estimate_plan(const struct dr_plan *plan, const struct dr_manifest *current,
                     const struct dr_timings *timings, unsigned threads, struct dr_estimate **out,
                     char *err, size_t errlen);

/* "1h 2m", "3m 4s", "5.2s". */
void dr_estimate_duration(double secs, char *out, size_t outlen);

/* Frees an estimate; NULL is fine. */
void dr_estimate_free(struct dr_estimate *e);

#endif
