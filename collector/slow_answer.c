/*
 * slow_answer.c - one slow-queries row from a store's sums (see
 * slow_answer.h).
 */
#include "collector/slow_answer.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collector/name_list.h"
#include "collector/store.h"
#include "common/error.h"

static char *
copy_text(const char *text)
{
	return strdup(text != NULL ? text : "");
}

bool
slow_answer_row(Pgfleet__V1__SlowQuery *row, const struct slow_answer_sums *sums)
{
	double calls = (double) sums->calls;
	double mean_ms = sums->calls > 0 ? sums->total_ms / calls : 0.0;
	double variance = sums->calls > 0 ? sums->sum_sq_ms2 / calls - mean_ms * mean_ms : 0.0;

	/* SQLite lists a group's names in plan order, PostgreSQL sorted */
	row->instance = name_list_sorted(sums->instances != NULL ? sums->instances : "");
	row->cluster = name_list_sorted(sums->clusters != NULL ? sums->clusters : "");
	row->database = copy_text(sums->database);
	row->query = copy_text(sums->query);
	if (row->instance == NULL || row->cluster == NULL || row->database == NULL ||
	    row->query == NULL)
		return false;
	row->instances = sums->instance_count;
	row->queryid = sums->queryid;
	row->calls = sums->calls;
	row->total_seconds = sums->total_ms / 1000.0;
	row->mean_seconds = mean_ms / 1000.0;
	/* rounding can make the variance a hair below zero */
	row->stddev_seconds = variance > 0.0 ? sqrt(variance) / 1000.0 : 0.0;
	row->max_seconds = sums->max_ms / 1000.0;
	row->rows = sums->rows;
	row->query_truncated = sums->truncated;
	return true;
}

unsigned
slow_answer_order(const Pgfleet__V1__SlowQueriesRequest *request)
{
	switch (request->order) {
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN:
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS:
		return (unsigned) request->order;
	default:
		return PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL;
	}
}

int64_t
slow_answer_limit(const Pgfleet__V1__SlowQueriesRequest *request)
{
	return request->limit > 0 ? request->limit : 10;
}

const char *
slow_answer_bound_column(const Pgfleet__V1__SlowQueriesRequest *request)
{
	switch (slow_answer_order(request)) {
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN:
		return "max_exec_time_ms";
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS:
		return "calls";
	default:
		return "total_exec_time_ms";
	}
}

/* The figure a row is ordered by, in the totals' units (ms, calls). */
static double
order_figure(const Pgfleet__V1__SlowQueriesRequest *request, const Pgfleet__V1__SlowQuery *row)
{
	switch (slow_answer_order(request)) {
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN:
		return row->mean_seconds * 1000.0;
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS:
		return (double) row->calls;
	default:
		return row->total_seconds * 1000.0;
	}
}

int
slow_answer_pruned(const struct slow_pruning_ops *ops, void *ctx,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    bool *answered, char *errbuf, size_t errlen)
{
	Pgfleet__V1__SlowQueries probe = PGFLEET__V1__SLOW_QUERIES__INIT;
	char *candidates = NULL;
	double threshold;
	int rv;

	*answered = false;
	answer->rows = NULL;
	answer->n_rows = 0;
	if (request->group != PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_INSTANCE)
		return PGF_OK;
	if ((rv = ops->collect(ctx, request, false, 0.0, &candidates, errbuf, errlen)) != PGF_OK ||
	    candidates == NULL)
		return rv;
	rv = ops->answer(ctx, request, candidates, &probe, errbuf, errlen);
	free(candidates);
	candidates = NULL;
	if (rv != PGF_OK)
		return rv;
	if (probe.n_rows < (size_t) slow_answer_limit(request)) {
		/* fewer than N qualify among the probed: no threshold */
		store_slow_queries_fini(&probe);
		return PGF_OK;
	}
	/* a hair lower than the N-th figure: the exact sums were rounded
	 * through seconds, the bound must not be */
	threshold = order_figure(request, probe.rows[probe.n_rows - 1]);
	threshold -= fabs(threshold) * 1e-9 + 1e-9;
	store_slow_queries_fini(&probe);
	if ((rv = ops->collect(ctx, request, true, threshold, &candidates, errbuf, errlen)) !=
		PGF_OK ||
	    candidates == NULL)
		return rv;
	rv = ops->answer(ctx, request, candidates, answer, errbuf, errlen);
	free(candidates);
	*answered = rv == PGF_OK;
	return rv;
}
