/*
 * analysis_regressions.c - slow-query regressions (see
 * analysis_regressions.h). No I/O.
 */
#include "collector/analysis_regressions.h"

#include <math.h>
#include <stdlib.h>

static int
compare_results(const void *a, const void *b)
{
	const struct regression_result *x = a;
	const struct regression_result *y = b;

	if (x->extra_ms != y->extra_ms)
		return x->extra_ms < y->extra_ms ? 1 : -1;
	if (x->factor != y->factor)
		return x->factor < y->factor ? 1 : -1;
	return (x->row > y->row) - (x->row < y->row);
}

/* The sample variance of n values from their sum and sum of squares;
 * rounding can make it a hair below zero. */
static double
variance(int64_t n, double sum, double sum_sq)
{
	double mean, v;

	if (n < 1)
		return 0.0;
	mean = sum / (double) n;
	v = (sum_sq - (double) n * mean * mean) / (double) (n > 1 ? n - 1 : 1);
	return v > 0.0 ? v : 0.0;
}

double
regressions_welch_t(int64_t calls, double total, double sum_sq, int64_t baseline_calls,
    double baseline_total, double baseline_sum_sq)
{
	double mean, baseline_mean, error;

	if (calls < 1 || baseline_calls < 1)
		return 0.0;
	mean = total / (double) calls;
	baseline_mean = baseline_total / (double) baseline_calls;
	error = sqrt(variance(calls, total, sum_sq) / (double) calls +
	    variance(baseline_calls, baseline_total, baseline_sum_sq) / (double) baseline_calls);
	if (mean == baseline_mean)
		return 0.0;
	if (!(error > 0.0))
		return mean > baseline_mean ? INFINITY : -INFINITY;
	return (mean - baseline_mean) / error;
}

size_t
regressions_find(const struct regression_input *rows, size_t n,
    const struct regression_params *params, struct regression_result *out)
{
	int64_t min_calls = params->min_calls > 0 ? params->min_calls : 1;
	size_t found = 0;

	for (size_t i = 0; i < n; i++) {
		const struct regression_input *row = &rows[i];
		struct regression_result *r;
		double mean, baseline_mean, t, extra;

		if (row->calls < min_calls || row->baseline_calls < min_calls)
			continue;
		mean = row->total_ms / (double) row->calls;
		baseline_mean = row->baseline_total_ms / (double) row->baseline_calls;
		/* no time in the baseline: no mean to compare with */
		if (!(baseline_mean > 0.0) || !(mean >= baseline_mean * params->min_factor))
			continue;
		extra = (mean - baseline_mean) * (double) row->calls;
		if (extra < params->min_extra_ms)
			continue;
		t = regressions_welch_t(row->calls, row->total_ms, row->sum_sq_ms2,
		    row->baseline_calls, row->baseline_total_ms, row->baseline_sum_sq_ms2);
		if (!(t >= REGRESSIONS_MIN_T))
			continue;
		r = &out[found++];
		r->row = i;
		r->mean_ms = mean;
		r->baseline_mean_ms = baseline_mean;
		r->factor = mean / baseline_mean;
		r->extra_ms = extra;
		r->t_statistic = t;
	}
	if (found > 1)
		qsort(out, found, sizeof(out[0]), compare_results);
	return found;
}
