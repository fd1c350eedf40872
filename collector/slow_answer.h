/*
 * slow_answer.h - one slow-queries row from a store's sums, the same for
 * every store backend (store_sqlite_slow.c, store_pg_slow.c): each adds up
 * its rows in SQL and hands the sums here.
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

#endif
