/*
 * test_rollup_plan.c - the arithmetic of a maintenance step
 * (collector/rollup_plan.c), from plain numbers: the range a rollup level
 * covers (first step from the oldest row, a day at most, whole buckets
 * only, the running bucket left alone), the retention cutoffs (never past
 * a watermark) and the day of snapshots a step thins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/rollup_plan.h"

#define H ROLLUP_HOUR_US
#define D ROLLUP_DAY_US
/* a whole day */
#define T0 (20000 * D)

static void
test_range(void **state)
{
	int64_t from = 0, to = 0;
	bool more = false;

	(void) state;
	/* nothing stored, nothing to do */
	assert_false(rollup_plan_range(0, -1, H, T0, &from, &to, &more));
	assert_false(more);
	/* the first step starts at the oldest row's hour; three days of
	 * rows: a day now, more later */
	assert_true(rollup_plan_range(0, T0 - 3 * D + 25 * 60 * 1000000LL, H, T0 + 30 * 60 * 1000000LL,
	    &from, &to, &more));
	assert_int_equal(from, T0 - 3 * D);
	assert_int_equal(to, T0 - 2 * D);
	assert_true(more);
	/* the last step ends at the running hour, which waits */
	more = false;
	assert_true(rollup_plan_range(T0 - 5 * H, 0, H, T0 + 30 * 60 * 1000000LL, &from, &to, &more));
	assert_int_equal(from, T0 - 5 * H);
	assert_int_equal(to, T0);
	assert_false(more);
	/* caught up: nothing */
	assert_false(rollup_plan_range(T0, 0, H, T0 + 59 * 60 * 1000000LL, &from, &to, &more));
	/* daily buckets up to the hourly watermark's day */
	assert_true(rollup_plan_range(T0 - 2 * D, 0, D, T0 + 5 * H, &from, &to, &more));
	assert_int_equal(from, T0 - 2 * D);
	assert_int_equal(to, T0 - D);
	assert_true(more);
}

static void
test_cutoffs(void **state)
{
	struct store_retention retention = {7 * D, 90 * D, 365 * D};
	struct rollup_cutoffs c;

	(void) state;
	/* the watermarks behind retention: only what the next level holds */
	rollup_plan_cutoffs(T0, &retention, T0 - 10 * D, T0 - 100 * D, &c);
	assert_int_equal(c.raw, T0 - 10 * D);
	assert_int_equal(c.hourly, T0 - 100 * D);
	assert_int_equal(c.daily, T0 - 365 * D);
	assert_int_equal(c.snapshots, T0 - 90 * D);
	assert_int_equal(c.thin, T0 - 7 * D);
	/* up to date: retention decides */
	rollup_plan_cutoffs(T0, &retention, T0, T0 - D, &c);
	assert_int_equal(c.raw, T0 - 7 * D);
	assert_int_equal(c.hourly, T0 - 90 * D);
}

static void
test_thin(void **state)
{
	int64_t from = 0;
	bool more = false;

	(void) state;
	assert_false(rollup_plan_thin(0, -1, T0, &from, &more));
	/* from the oldest snapshot's day; two more days wait */
	assert_true(rollup_plan_thin(0, T0 - 3 * D + H, T0, &from, &more));
	assert_int_equal(from, T0 - 3 * D);
	assert_true(more);
	/* the last whole day before the cutoff */
	more = false;
	assert_true(rollup_plan_thin(T0 - D, 0, T0 + H, &from, &more));
	assert_int_equal(from, T0 - D);
	assert_false(more);
	/* a day not over before the cutoff waits */
	assert_false(rollup_plan_thin(T0, 0, T0 + H, &from, &more));
	/* the lists the backends prune */
	assert_int_equal(rollup_snapshot_history_count, 3);
	assert_string_equal(rollup_snapshot_histories[0], "table_stats");
	assert_true(rollup_other_history_count >= 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_cutoffs),
		cmocka_unit_test(test_thin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
