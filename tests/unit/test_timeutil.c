/* test_timeutil.c - durations as people write them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/timeutil.h"

static void
test_parse_accepts_units(void **state)
{
	int64_t ms = -1;
	(void) state;
	assert_true(pgf_duration_parse("500ms", &ms));
	assert_int_equal(ms, 500);
	assert_true(pgf_duration_parse("30s", &ms));
	assert_int_equal(ms, 30000);
	assert_true(pgf_duration_parse("1h02m", &ms));
	assert_int_equal(ms, 3720000);
	assert_true(pgf_duration_parse("7d", &ms));
	assert_int_equal(ms, 604800000);
	assert_true(pgf_duration_parse(" 15 ", &ms));
	assert_int_equal(ms, 15000);
	assert_true(pgf_duration_parse("0", &ms));
	assert_int_equal(ms, 0);
}

static void
test_parse_refuses_garbage(void **state)
{
	int64_t ms = 42;
	(void) state;
	assert_false(pgf_duration_parse("", &ms));
	assert_false(pgf_duration_parse("abc", &ms));
	assert_false(pgf_duration_parse("10x", &ms));
	assert_false(pgf_duration_parse("-5s", &ms));
	assert_false(pgf_duration_parse("1h 2", &ms));
	assert_false(pgf_duration_parse("99999999999999999999s", &ms));
	assert_false(pgf_duration_parse("9223372036854775807w", &ms));
	assert_false(pgf_duration_parse(NULL, &ms));
	assert_int_equal(ms, 42);
}

static void
test_format(void **state)
{
	char buf[32];
	(void) state;
	assert_string_equal(pgf_duration_format(120, buf, sizeof(buf)), "120ms");
	assert_string_equal(pgf_duration_format(1500, buf, sizeof(buf)), "1.5s");
	assert_string_equal(pgf_duration_format(3720000, buf, sizeof(buf)), "1h02m");
	assert_string_equal(pgf_duration_format(90061000, buf, sizeof(buf)), "1d01h");
}

static void
test_time_parse(void **state)
{
	int64_t now = 1800000000LL * 1000000;
	int64_t us = 0;
	(void) state;
	assert_true(pgf_time_parse("1h", now, &us));
	assert_int_equal(us, now - 3600LL * 1000000);
	assert_true(pgf_time_parse("now", now, &us));
	assert_int_equal(us, now);
	assert_true(pgf_time_parse("2026-11-27", now, &us));
	assert_int_equal(us, 1795737600LL * 1000000);
	assert_true(pgf_time_parse("2026-11-27T10:30:00Z", now, &us));
	assert_int_equal(us, (1795737600LL + 37800) * 1000000);
	assert_true(pgf_time_parse("2026-11-27 10:30", now, &us));
	assert_int_equal(us, (1795737600LL + 37800) * 1000000);
	assert_false(pgf_time_parse("yesterday", now, &us));
	assert_false(pgf_time_parse("2026-11-27X", now, &us));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_units),
		cmocka_unit_test(test_parse_refuses_garbage),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_time_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
