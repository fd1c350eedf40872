/*
 * analysis_regressions.h - slow-query regressions: statements whose mean
 * execution time in a window is well above their own mean in a baseline.
 *
 * Pure: rows in (each statement's calls, time and sum of squared times in
 * the window and in the baseline), rows out (the regressed ones with their
 * factor); no I/O, so it is tested with plain data.
 *
 * Noise is kept out three ways: both windows need min_calls calls; the
 * difference of the means must be significant (Welch's t of at least
 * REGRESSIONS_MIN_T, from each window's variance); and the window's calls
 * must have taken at least min_extra_ms more in all than at the baseline
 * mean, so a statement that went from 0.1 to 0.3 ms ten times is not
 * news while one that did so a million times is.
 */
#ifndef PGFLEET_COLLECTOR_ANALYSIS_REGRESSIONS_H
#define PGFLEET_COLLECTOR_ANALYSIS_REGRESSIONS_H

#include <stddef.h>
#include <stdint.h>

#define REGRESSIONS_DEFAULT_FACTOR 2.0
#define REGRESSIONS_DEFAULT_MIN_CALLS 10
#define REGRESSIONS_DEFAULT_MIN_EXTRA_MS 1000.0
#define REGRESSIONS_MIN_T 3.0

/* One statement (per instance or per cluster) in both windows. */
struct regression_input {
	int64_t calls;
	double total_ms;
	/* sum over the calls of the squared execution time, ms² */
	double sum_sq_ms2;
	int64_t baseline_calls;
	double baseline_total_ms;
	double baseline_sum_sq_ms2;
};

struct regression_params {
	/* flag when window mean / baseline mean >= min_factor (> 1) */
	double min_factor;
	/* calls needed in each window (at least 1) */
	int64_t min_calls;
	/* time the window's calls took beyond the baseline mean, at least */
	double min_extra_ms;
};

struct regression_result {
	/* index of the row in the input */
	size_t row;
	double factor;
	double mean_ms;
	double baseline_mean_ms;
	/* the window's calls' time beyond the baseline mean */
	double extra_ms;
	/* Welch's t of the two means (INFINITY when both variances are 0) */
	double t_statistic;
};

/*
 * regressions_find writes the regressed rows of rows[0..n) to out (room
 * for n) and returns how many: both windows with at least min_calls calls,
 * a baseline mean above zero, a factor of at least min_factor, Welch's t
 * of at least REGRESSIONS_MIN_T and extra_ms of at least min_extra_ms.
 * Ordered by extra_ms, largest first (ties: the larger factor, then input
 * order).
 */
size_t regressions_find(const struct regression_input *rows, size_t n,
    const struct regression_params *params, struct regression_result *out);

/*
 * regressions_welch_t is Welch's t of two means from their calls, sums and
 * sums of squares: (m1 - m0) / sqrt(v1/n1 + v0/n0) with each v the
 * sample variance (population variance when a window has one call).
 * INFINITY when the means differ and both variances are 0, 0 when equal.
 */
double regressions_welch_t(int64_t calls, double total, double sum_sq,
    int64_t baseline_calls, double baseline_total, double baseline_sum_sq);

#endif
