/* test_clock_skew.c - skew measurement and the correction of agent-clock
 * times (collector/clock_skew.c), with plain reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collector/clock_skew.h"

#define HOUR_US (3600LL * 1000000LL)
#define NOW_US 1790000000000000LL

static void
test_measure(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	(void) state;
	assert_int_equal(clock_skew_of(&report, NOW_US), 0); /* no sent_at */
	report.sent_at_us = NOW_US + 2 * HOUR_US;
	assert_int_equal(clock_skew_of(&report, NOW_US), 2 * HOUR_US);
	report.sent_at_us = NOW_US - 2 * HOUR_US;
	assert_int_equal(clock_skew_of(&report, NOW_US), -2 * HOUR_US);
}

static void
test_correct_ahead_and_behind(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	(void) state;
	report.statements = &family;
	/* +2h, a replay made 10 minutes before it was sent */
	report.sent_at_us = NOW_US + 2 * HOUR_US;
	report.collected_at_us = NOW_US + 2 * HOUR_US - 600000000LL;
	family.interval_start_us = report.collected_at_us - 1000000;
	family.interval_end_us = report.collected_at_us;
	assert_true(clock_skew_correct(&report, NOW_US));
	assert_int_equal(report.collected_at_us, NOW_US - 600000000LL);
	assert_int_equal(family.interval_end_us, NOW_US - 600000000LL);
	assert_int_equal(family.interval_start_us, NOW_US - 601000000LL);
	assert_int_equal(report.sent_at_us, NOW_US + 2 * HOUR_US); /* the measurement stays */
	/* -2h */
	report.sent_at_us = NOW_US - 2 * HOUR_US;
	report.collected_at_us = NOW_US - 2 * HOUR_US;
	assert_true(clock_skew_correct(&report, NOW_US));
	assert_int_equal(report.collected_at_us, NOW_US);
}

static void
test_within_bound_untouched(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	(void) state;
	report.sent_at_us = NOW_US + CLOCK_SKEW_BOUND_US;
	report.collected_at_us = NOW_US;
	assert_false(clock_skew_correct(&report, NOW_US));
	assert_int_equal(report.collected_at_us, NOW_US);
	/* absurd stamps never wrap a time around */
	report.sent_at_us = INT64_MAX;
	report.collected_at_us = 5;
	assert_true(clock_skew_correct(&report, 1));
	assert_int_equal(report.collected_at_us, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_measure),
		cmocka_unit_test(test_correct_ahead_and_behind),
		cmocka_unit_test(test_within_bound_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
