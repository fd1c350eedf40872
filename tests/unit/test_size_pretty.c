/* test_size_pretty.c - sizes written exactly as pg_size_pretty() does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/size_pretty.h"

/* pretty is pgf_size_pretty into a static buffer, for assertions. */
static const char *
pretty(int64_t bytes)
{
	static char buf[32];
	return pgf_size_pretty(bytes, buf, sizeof(buf));
}

static void
test_bytes(void **state)
{
	(void) state;
	assert_string_equal(pretty(0), "0 bytes");
	assert_string_equal(pretty(1), "1 bytes");
	assert_string_equal(pretty(1023), "1023 bytes");
	assert_string_equal(pretty(1024), "1024 bytes");
	assert_string_equal(pretty(10239), "10239 bytes");
}

static void
test_kilobytes(void **state)
{
	(void) state;
	assert_string_equal(pretty(10240), "10 kB");
	assert_string_equal(pretty(10751), "10 kB");   /* 10.499 kB */
	assert_string_equal(pretty(10752), "11 kB");   /* 10.5 kB rounds up */
	assert_string_equal(pretty(8192), "8192 bytes");
	assert_string_equal(pretty(2048 * 1024), "2048 kB");
	assert_string_equal(pretty(1024 * 1024), "1024 kB");
	/* 10239.5 kB rounds to 10240: the next unit */
	assert_string_equal(pretty(10239 * 1024 + 511), "10239 kB");
	assert_string_equal(pretty(10239 * 1024 + 512), "10 MB");
}

static void
test_larger_units(void **state)
{
	(void) state;
	assert_string_equal(pretty(10240 * 1024), "10 MB");
	assert_string_equal(pretty(125 * 1024 * 1024), "125 MB");
	assert_string_equal(pretty(INT64_C(10240) * 1024 * 1024), "10 GB");
	assert_string_equal(pretty(INT64_C(3) * 1024 * 1024 * 1024 * 1024), "3072 GB");
	assert_string_equal(pretty(INT64_C(10240) * 1024 * 1024 * 1024), "10 TB");
	assert_string_equal(pretty(INT64_C(10240) * 1024 * 1024 * 1024 * 1024), "10 PB");
	/* PB is the last unit */
	assert_string_equal(pretty(INT64_MAX), "8192 PB");
}

static void
test_negative(void **state)
{
	(void) state;
	assert_string_equal(pretty(-1023), "-1023 bytes");
	assert_string_equal(pretty(-10240), "-10 kB");
	assert_string_equal(pretty(-10752), "-11 kB");
	assert_string_equal(pretty(-125 * 1024 * 1024), "-125 MB");
	assert_string_equal(pretty(INT64_MIN), "-8192 PB");
}

static void
test_small_buffer(void **state)
{
	char buf[4];
	(void) state;
	assert_string_equal(pgf_size_pretty(125 * 1024 * 1024, buf, sizeof(buf)), "125");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_kilobytes),
		cmocka_unit_test(test_larger_units),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
