/*
 * test_analysis_regressions.c - slow-query regressions from plain data:
 * the factor, the thresholds and the order.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collector/analysis_regressions.h"

static void
test_flags_by_factor_and_calls(void **state)
{
	/* {calls, total, sum of squares, baseline calls, total, sum of
	 * squares}; constant times have sum_sq = calls x time² */
	const struct regression_input rows[] = {
	    /* 0: 30 ms against 10 ms, 100 calls: flagged, extra 2 s */
	    {100, 3000.0, 100 * 900.0, 1000, 10000.0, 1000 * 100.0},
	    /* 1: 1.5x: not flagged */
	    {100, 1500.0, 100 * 225.0, 1000, 10000.0, 1000 * 100.0},
	    /* 2: 10x but 5 calls in the window: noise */
	    {5, 500.0, 5 * 10000.0, 1000, 10000.0, 1000 * 100.0},
	    /* 3: 4x, few calls in the baseline */
	    {100, 4000.0, 100 * 1600.0, 9, 90.0, 9 * 100.0},
	    /* 4: baseline took no time: no factor */
	    {100, 4000.0, 100 * 1600.0, 100, 0.0, 0.0},
	    /* 5: exactly 2x: flagged, extra 1000 x 1 ms = 1 s */
	    {1000, 2000.0, 1000 * 4.0, 100, 100.0, 100 * 1.0},
	    /* 6: 20x, 10 calls, but only 0.19 s more in all: not news */
	    {10, 200.0, 10 * 400.0, 10, 10.0, 10 * 1.0},
	    /* 7: 16x on average and 3 s more, but from one 3 s outlier
	     * among 19 calls of 10 ms: not significant (t = 1) */
	    {20, 3190.0, 19 * 100.0 + 9e6, 1000, 10000.0, 1000 * 100.0},
	};
	struct regression_params params = {REGRESSIONS_DEFAULT_FACTOR,
	    REGRESSIONS_DEFAULT_MIN_CALLS, REGRESSIONS_DEFAULT_MIN_EXTRA_MS};
	struct regression_result out[8];
	size_t n;
	(void) state;

	n = regressions_find(rows, 8, &params, out);
	assert_int_equal(n, 2);
	/* largest added time first */
	assert_int_equal(out[0].row, 0);
	assert_true(fabs(out[0].factor - 3.0) < 1e-9);
	assert_true(fabs(out[0].mean_ms - 30.0) < 1e-9);
	assert_true(fabs(out[0].baseline_mean_ms - 10.0) < 1e-9);
	assert_true(fabs(out[0].extra_ms - 2000.0) < 1e-9);
	assert_true(isinf(out[0].t_statistic));
	assert_int_equal(out[1].row, 5);
	assert_true(fabs(out[1].factor - 2.0) < 1e-9);
}

static void
test_welch_t(void **state)
{
	double t;
	(void) state;
	/* window: 100 calls, mean 30, sample variance 100 (sd 10); baseline:
	 * 1000 calls, mean 10, variance 0: t = 20 / sqrt(100 / 100) = 20 */
	t = regressions_welch_t(100, 3000.0, 99 * 100.0 + 100 * 900.0, 1000, 10000.0,
	    1000 * 100.0);
	assert_true(fabs(t - 20.0) < 1e-6);
	/* one 3 s outlier among 19 calls of 10 ms: mean 159.5, sample
	 * variance 447005, standard error 149.5: t = 1 */
	t = regressions_welch_t(20, 3190.0, 19 * 100.0 + 9e6, 1000, 10000.0, 1000 * 100.0);
	assert_true(fabs(t - 1.0) < 0.01);
	assert_true(regressions_welch_t(10, 10.0, 10.0, 10, 10.0, 10.0) == 0.0);
	assert_true(regressions_welch_t(0, 0.0, 0.0, 10, 10.0, 10.0) == 0.0);
}

static void
test_thresholds_are_parameters(void **state)
{
	const struct regression_input rows[] = {
	    {100, 1500.0, 100 * 225.0, 1000, 10000.0, 1000 * 100.0},
	    {5, 500.0, 5 * 10000.0, 5, 5.0, 5 * 1.0},
	};
	struct regression_params params = {1.4, 5, 100.0};
	struct regression_result out[2];
	(void) state;

	assert_int_equal(regressions_find(rows, 2, &params, out), 2);
	/* 5 ms x 100 = 500 ms more, then 99 ms x 5 = 495 ms more */
	assert_int_equal(out[0].row, 0);
	assert_true(fabs(out[0].factor - 1.5) < 1e-9);
	assert_int_equal(out[1].row, 1);
	assert_true(fabs(out[1].factor - 100.0) < 1e-9);
}

static void
test_empty(void **state)
{
	struct regression_params params = {2.0, 10, 1000.0};
	(void) state;
	assert_int_equal(regressions_find(NULL, 0, &params, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flags_by_factor_and_calls),
	    cmocka_unit_test(test_thresholds_are_parameters),
	    cmocka_unit_test(test_welch_t),
	    cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
