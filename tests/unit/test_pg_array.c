/*
 * test_pg_array.c - array literals as array_in reads them: integers and
 * doubles exact (17 digits, inf, nan), booleans, text quoted with " and \
 * escaped and cleaned of NUL-free invalid UTF-8, the empty array, and
 * growth past the first allocation. (That the server reads them back is
 * test_store_pg's: the PostgreSQL store writes statements through them.)
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/pg_array.h"

static void
test_numbers_and_booleans(void **state)
{
	struct pg_array a;
	char *text;
	(void) state;

	pg_array_init(&a);
	pg_array_add_int(&a, 0);
	pg_array_add_int(&a, INT64_MIN);
	pg_array_add_int(&a, INT64_MAX);
	text = pg_array_finish(&a);
	assert_string_equal(text, "{0,-9223372036854775808,9223372036854775807}");
	free(text);

	pg_array_add_double(&a, 0.1);
	pg_array_add_double(&a, -INFINITY);
	pg_array_add_double(&a, NAN);
	pg_array_add_double(&a, 1e300);
	text = pg_array_finish(&a);
	assert_string_equal(text, "{0.10000000000000001,-inf,nan,1.0000000000000001e+300}");
	assert_true(strtod("0.10000000000000001", NULL) == 0.1);
	free(text);

	pg_array_add_bool(&a, true);
	pg_array_add_bool(&a, false);
	text = pg_array_finish(&a);
	assert_string_equal(text, "{t,f}");
	free(text);

	text = pg_array_finish(&a);
	assert_string_equal(text, "{}");
	free(text);
}

static void
test_text(void **state)
{
	struct pg_array a;
	char *text;
	(void) state;

	pg_array_init(&a);
	pg_array_add_text(&a, "app");
	pg_array_add_text(&a, "");
	pg_array_add_text(&a, "NULL");
	pg_array_add_text(&a, "a \"quoted\", {braced} \\back\\");
	pg_array_add_text(&a, "caf\xc3\xa9 \xff");
	pg_array_add_text(&a, NULL);
	text = pg_array_finish(&a);
	assert_string_equal(text,
	    "{\"app\",\"\",\"NULL\",\"a \\\"quoted\\\", {braced} \\\\back\\\\\","
	    "\"caf\xc3\xa9 \xef\xbf\xbd\",\"\"}");
	free(text);
}

static void
test_growth(void **state)
{
	struct pg_array a;
	char *text, expected[16];
	size_t at = 1;
	(void) state;

	pg_array_init(&a);
	for (int i = 0; i < 5000; i++)
		pg_array_add_int(&a, i);
	text = pg_array_finish(&a);
	assert_non_null(text);
	assert_int_equal(text[0], '{');
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(expected, sizeof(expected), "%d%c", i, i == 4999 ? '}' : ',');
		assert_memory_equal(text + at, expected, (size_t) n);
		at += (size_t) n;
	}
	assert_int_equal(text[at], '\0');
	free(text);

	/* an unfinished array is dropped */
	pg_array_add_text(&a, "left");
	pg_array_free(&a);
	assert_null(a.text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_and_booleans),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
