/* test_sparkline.c - trends as block characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/sparkline.h"

static void
test_scales_to_the_maximum(void **state)
{
	const double values[] = {0.0, 1.0, 4.0, 8.0};
	char out[64];
	(void) state;
	assert_string_equal(pgf_sparkline(values, NULL, 4, out, sizeof(out)), "▁▂▅█");
}

static void
test_missing_buckets_are_spaces(void **state)
{
	const double values[] = {5.0, 0.0, 10.0};
	const bool present[] = {true, false, true};
	char out[64];
	(void) state;
	assert_string_equal(pgf_sparkline(values, present, 3, out, sizeof(out)), "▅ █");
}

static void
test_cut_at_a_character_boundary(void **state)
{
	const double values[] = {1.0, 1.0, 1.0};
	char out[8]; /* room for two 3-byte blocks and the NUL */
	(void) state;
	assert_string_equal(pgf_sparkline(values, NULL, 3, out, sizeof(out)), "██");
	assert_string_equal(pgf_sparkline(values, NULL, 0, out, sizeof(out)), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scales_to_the_maximum),
		cmocka_unit_test(test_missing_buckets_are_spaces),
		cmocka_unit_test(test_cut_at_a_character_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
