/*
 * slow_answer.h - slow-queries the same way for every store backend
 * (store_sqlite_slow.c, store_pg_slow.c): each adds up its rows in SQL and
 * hands the sums here for one row of the answer; and the pruned way over
 * long windows, whose steps are here and whose SQL is each backend's.
 *
 * The pruned way. The plain way adds up every statement row of the window
 * and keeps the top N: over 30 days of a large fleet that is millions of
 * rows. statement_totals holds each statement's figures over everything
 * rolled up so far, which is at least its figures in any window (for the
 * mean: its largest single execution time). So:
 *   1. the statements with raw rows past the hourly watermark (not in the
 *      totals yet) are always candidates;
 *   2. those and the SLOW_PROBE_STATEMENTS statements with the largest
 *      bounds, added up exactly over the window, give a threshold T: the
 *      N-th best exact figure;
 *   3. only statements whose bound is at least T can be in the top N: they
 *      and those of step 1 are added up exactly, and the answer is their
 *      top N.
 * The answer is the plain way's (tests/unit/test_slow_pruning.c and
 * test_store_pg.c compare them). When bounds cannot prune (fewer than N
 * statements qualify, or too many candidates), the plain way answers.
 * Cluster and fleet groupings always take the plain way: their bounds
 * would need totals per group.
 */
#ifndef PGFLEET_COLLECTOR_SLOW_ANSWER_H
#define PGFLEET_COLLECTOR_SLOW_ANSWER_H

#include <stdbool.h>
#include <stdint.h>

#include "pgfleet/v1/api.pb-c.h"

/* The sums of one group of statement rows. */
struct slow_answer_sums {
	/* comma-separated, in any order (sorted here) */
	const char *instances;
	const char *clusters;
	const char *database;
	const char *query;
	int64_t queryid;
	int64_t calls; /* > 0: the query keeps only groups with calls */
	double total_ms;
	double sum_sq_ms2;
	double max_ms;
	int64_t rows;
	int32_t instance_count;
	bool truncated;
};

/*
 * slow_answer_row fills row (initialised, its strings NULL) from sums: the
 * names sorted, the mean and the population standard deviation from the
 * sums as pg_stat_statements computes them, times in seconds. The strings
 * are malloc'd (store_slow_queries_fini frees them). Returns false when
 * out of memory (row keeps what it got: free it with the answer).
 */
bool slow_answer_row(Pgfleet__V1__SlowQuery *row, const struct slow_answer_sums *sums);

/* Statements whose exact figures set the threshold. */
#define SLOW_PROBE_STATEMENTS 64
/* Beyond this many candidates, pruning does not pay: the plain way. */
#define SLOW_MAX_CANDIDATES 50000
/* Nor beyond this many statements past the hourly watermark (all of them
 * candidates): the window is mostly raw rows, which the plain way reads
 * once where pruning would read them twice. */
#define SLOW_MAX_TAIL 4096

/* The request's order (an unknown one is by total time) and row limit. */
unsigned slow_answer_order(const Pgfleet__V1__SlowQueriesRequest *request);
int64_t slow_answer_limit(const Pgfleet__V1__SlowQueriesRequest *request);
/* The statement_totals column bounding the order's figure. */
const char *slow_answer_bound_column(const Pgfleet__V1__SlowQueriesRequest *request);

/* A backend's two steps of the pruned way; ctx is its store. Both return
 * PGF_OK or an error with one line in errbuf. */
struct slow_pruning_ops {
	/* The candidates as a JSON array of [instance_id, queryid] pairs
	 * (malloc'd): the statements in scope with raw rows in the window
	 * past the hourly watermark, and the statements in scope whose bound
	 * is at least threshold (by_threshold) or else the
	 * SLOW_PROBE_STATEMENTS with the largest bounds. *json is NULL when
	 * there are more than SLOW_MAX_TAIL of the first or
	 * SLOW_MAX_CANDIDATES in all. */
	int (*collect)(void *ctx, const Pgfleet__V1__SlowQueriesRequest *request,
	    bool by_threshold, double threshold, char **json, char *errbuf, size_t errlen);
	/* The plain way's answer over the candidates' rows only. */
	int (*answer)(void *ctx, const Pgfleet__V1__SlowQueriesRequest *request,
	    const char *candidates, Pgfleet__V1__SlowQueries *answer, char *errbuf,
	    size_t errlen);
};

/* The pruned way: *answered tells whether it answered (answer filled);
 * when not, the caller asks the plain way. */
int slow_answer_pruned(const struct slow_pruning_ops *ops, void *ctx,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    bool *answered, char *errbuf, size_t errlen);

#endif
