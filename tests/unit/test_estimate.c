/* Unit tests for src/dbt/estimate.c: reading run_results.json timings, the
 * list-scheduling simulation on hand-made graphs, and the estimate of a
 * plan's selection (' stands for " in the manifests). */
#include "dbtrun/estimate.h"
#include "dbtrun/plan.h"
#include "harness.h"
#include "manifest_text.h"

#include <math.h>
#include <stdlib.h>

static int near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

/* ---- the simulation ----------------------------------------------------- */

static void test_a_chain_takes_its_sum_whatever_the_threads(void)
{
    double secs[] = {1, 2, 3}, critical;
    uint32_t off[] = {0, 0, 1, 2}, deps[] = {0, 1}; /* 0 <- 1 <- 2 */
    CHECK(near(dr_estimate_schedule(3, secs, off, deps, 8, &critical), 6));
    CHECK(near(critical, 6));
}

static void test_independent_jobs_share_the_workers(void)
{
    double secs[] = {4, 4, 4, 4}, critical;
    uint32_t off[] = {0, 0, 0, 0, 0};
    CHECK(near(dr_estimate_schedule(4, secs, off, NULL, 1, &critical), 16));
    CHECK(near(dr_estimate_schedule(4, secs, off, NULL, 2, &critical), 8));
    CHECK(near(dr_estimate_schedule(4, secs, off, NULL, 4, &critical), 4));
    CHECK(near(dr_estimate_schedule(4, secs, off, NULL, 64, &critical), 4));
    CHECK(near(critical, 4));
}

static void test_a_diamond_waits_for_both_parents(void)
{
    /* 0 -> {1, 2} -> 3 */
    double secs[] = {1, 5, 2, 1}, critical;
    uint32_t off[] = {0, 0, 1, 2, 4}, deps[] = {0, 0, 1, 2};
    CHECK(near(dr_estimate_schedule(4, secs, off, deps, 2, &critical), 7));
    CHECK(near(critical, 7));
    CHECK(near(dr_estimate_schedule(4, secs, off, deps, 1, &critical), 9));
}

static void test_the_longest_chain_starts_first(void)
{
    /* Two threads; jobs 0, 1, 2 ready. Job 2 (1s) heads a 10s chain (3).
     * Taking it first gives 11s; in index order it would be 12s. */
    double secs[] = {5, 5, 1, 10}, critical;
    uint32_t off[] = {0, 0, 0, 0, 1}, deps[] = {2};
    CHECK(near(dr_estimate_schedule(4, secs, off, deps, 2, &critical), 11));
    CHECK(near(critical, 11));
}

static void test_no_jobs_and_cycles(void)
{
    double critical = -1, secs[] = {1, 1};
    uint32_t off[] = {0, 1, 2}, deps[] = {1, 0};
    CHECK(near(dr_estimate_schedule(0, NULL, off, NULL, 4, &critical), 0));
    CHECK(near(critical, 0));
    CHECK(dr_estimate_schedule(2, secs, off, deps, 4, &critical) < 0);
}

/* ---- run_results.json --------------------------------------------------- */

static struct dr_timings *timings(const char *single_quoted)
{
    char *json = dq(single_quoted), err[256] = "";
    struct dr_timings *t = NULL;
    if (dr_estimate_timings_parse(json, strlen(json), &t, err, sizeof err))
        fprintf(stderr, "timings: %s\n", err);
    free(json);
    return t;
}

static void test_timings_are_read_by_unique_id(void)
{
    struct dr_timings *t = timings(
        "{'metadata': {'dbt_version': '1.9.0'}, 'results': [{'status': 'success', 'timing': "
        "[{'name': 'execute'}], 'unique_id': 'model.p.a', 'execution_time': 12.5, "
        "'compiled_code': 'select {'}, {'execution_time': 3, 'unique_id': 'seed.p.s', "
        "'adapter_response': {}}, {'unique_id': 'model.p.no_time'}], 'elapsed_time': 99}");
    CHECK(t != NULL);
    CHECK(near(dr_estimate_timing(t, "model.p.a"), 12.5));
    CHECK(near(dr_estimate_timing(t, "seed.p.s"), 3));
    CHECK(dr_estimate_timing(t, "model.p.no_time") < 0);
    CHECK(dr_estimate_timing(t, "model.p.zz") < 0);
    dr_timings_free(t);
}

static void test_a_file_that_is_no_run_results_says_so(void)
{
    char err[256] = "";
    struct dr_timings *t = NULL;
    CHECK(dr_estimate_timings_parse("[1, 2]", 6, &t, err, sizeof err) == -1);
    CHECK(strstr(err, "not a run_results.json") != NULL);
    CHECK(dr_estimate_timings_load("/nonexistent/run_results.json", &t, err, sizeof err) == -1);
    CHECK(strstr(err, "cannot read /nonexistent/run_results.json") != NULL);
}

/* ---- a plan's selection ------------------------------------------------- */

#define N(kind, name, raw, mat, deps)                                                              \
    "'" kind ".p." name "': {'resource_type': '" kind "', 'name': '" name "', 'raw_code': '" raw   \
    "', 'config': {'materialized': '" mat "'}, 'depends_on': {'macros': [], 'nodes': [" deps "]}}"

/* model a <- ephemeral eph <- b <- test t; a <- c; other apart. */
#define REST                                                                                       \
    ", " N("model", "eph", "select 1", "ephemeral", "'model.p.a'") ", " N(                         \
        "model", "b", "select 2", "table",                                                         \
        "'model.p.eph'") ", " N("model", "c", "select 3", "view",                                  \
                                "'model.p.a'") ", " N("test", "t", "select 4", "test",             \
                                                      "'model.p.b'") ", " N("model", "other",      \
                                                                            "select 5", "view",    \
                                                                            "") "}, 'sources': "   \
                                                                                "{}, 'macros': "   \
                                                                                "{}}"
#define HEAD "{'metadata': {'dbt_version': '1.9.0'}, 'nodes': {"

static const char OLD[] = HEAD N("model", "a", "select 0", "table", "") REST;
static const char CUR[] = HEAD N("model", "a", "select 9", "table", "") REST;

static void test_the_selection_is_scheduled_with_unknowns_named(void)
{
    struct dr_manifest *state = parse(OLD), *cur = parse(CUR);
    struct dr_plan *plan = NULL;
    struct dr_estimate *e = NULL;
    char err[256] = "";
    /* model.p.other has a time but is not selected; model.p.c has none */
    struct dr_timings *t = timings("{'results': [{'unique_id': 'model.p.a', 'execution_time': 10},"
                                   " {'unique_id': 'model.p.b', 'execution_time': 20},"
                                   " {'unique_id': 'test.p.t', 'execution_time': 1},"
                                   " {'unique_id': 'model.p.other', 'execution_time': 500}]}");
    CHECK(state && cur && t);
    CHECK(state && cur && dr_plan_compare(state, cur, NULL, &plan, err, sizeof err) == 0);
    CHECK(plan && plan->nselected == 5); /* a, eph, b, c, t */
    CHECK(plan && dr_estimate_plan(plan, cur, t, 4, &e, err, sizeof err) == 0);
    if (e) {
        CHECK(e->nnodes == 4); /* the ephemeral model is never run */
        CHECK(e->nknown == 3 && e->nunknown == 1);
        CHECK(e->nunknown == 1 && strcmp(e->unknown[0], "model.p.c") == 0);
        CHECK(near(e->total, 31)); /* a, then b (through the ephemeral model) beside c, then t */
        CHECK(near(e->critical, 31));
        CHECK(near(e->serial, 31));
        CHECK(e->threads == 4);
    }
    if (plan && e) {
        char *text = NULL, *json = NULL, *md = NULL;
        plan->estimate = e;
        e->source = ".artifacts/run_results.json";
        CHECK(dr_plan_render(plan, DR_PLAN_TEXT, 0, &text, NULL) == 0);
        CHECK(text && strstr(text, "\nEstimated build time: ~31.0s with 4 threads (longest chain "
                                   "31.0s, 31.0s one after another), from the last production "
                                   "timings of 3 of 4 nodes; 1 without a timing, counted as 0s: "
                                   "model.p.c\n"));
        CHECK(dr_plan_render(plan, DR_PLAN_JSON, 0, &json, NULL) == 0);
        CHECK(json && strstr(json, "\"estimate\": {\"seconds\": 31.000, \"critical_path_seconds\": "
                                   "31.000, \"serial_seconds\": 31.000, \"threads\": 4, \"nodes\": "
                                   "4, \"timed\": 3, \"unknown\": [\"model.p.c\"], \"source\": "
                                   "\".artifacts/run_results.json\"}"));
        CHECK(dr_plan_render(plan, DR_PLAN_MARKDOWN, 0, &md, NULL) == 0);
        CHECK(md && strstr(md, "**Estimated build time: ~31.0s** with 4 threads"));
        CHECK(md && strstr(md, "counted as 0s: `model.p.c`"));
        free(text);
        free(json);
        free(md);
    }
    dr_estimate_free(e);
    dr_timings_free(t);
    dr_plan_free(plan);
    dr_manifest_free(state);
    dr_manifest_free(cur);
}

static void test_durations_read_as_people_say_them(void)
{
    char s[32];
    dr_estimate_duration(5.25, s, sizeof s);
    CHECK_STR(s, "5.2s");
    dr_estimate_duration(62, s, sizeof s);
    CHECK_STR(s, "1m 02s");
    dr_estimate_duration(3725, s, sizeof s);
    CHECK_STR(s, "1h 02m");
}

TEST_MAIN(test_a_chain_takes_its_sum_whatever_the_threads, test_independent_jobs_share_the_workers,
          test_a_diamond_waits_for_both_parents, test_the_longest_chain_starts_first,
          test_no_jobs_and_cycles, test_timings_are_read_by_unique_id,
          test_a_file_that_is_no_run_results_says_so,
          test_the_selection_is_scheduled_with_unknowns_named,
          test_durations_read_as_people_say_them)
