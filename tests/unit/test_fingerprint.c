/* test_fingerprint.c - statements match across clusters by their parse
 * tree, not by their spelling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/fingerprint.h"

static void
test_same_statement_same_fingerprint(void **state)
{
	char a[FINGERPRINT_SIZE], b[FINGERPRINT_SIZE], c[FINGERPRINT_SIZE];
	(void) state;
	statement_fingerprint("SELECT * FROM orders WHERE id = $1", false, 1, a);
	statement_fingerprint("select *\n  from   orders where id = $1 -- hot", false, 2, b);
	statement_fingerprint("SELECT * FROM orders WHERE id = 42", false, 3, c);
	assert_int_equal(strncmp(a, "fp:", 3), 0);
	assert_int_equal(strlen(a), 19);
	assert_string_equal(a, b);
	assert_string_equal(a, c);
}

static void
test_other_statement_other_fingerprint(void **state)
{
	char a[FINGERPRINT_SIZE], b[FINGERPRINT_SIZE];
	(void) state;
	statement_fingerprint("SELECT * FROM orders WHERE id = $1", false, 1, a);
	statement_fingerprint("SELECT * FROM customers WHERE id = $1", false, 1, b);
	assert_string_not_equal(a, b);
}

static void
test_unparsable_or_cut_matches_only_itself(void **state)
{
	char a[FINGERPRINT_SIZE];
	(void) state;
	statement_fingerprint("SELECT * FROM orders WHERE", false, -77, a);
	assert_string_equal(a, "q:-77");
	statement_fingerprint("SELECT * FROM orders WHERE id = $1", true, 5, a);
	assert_string_equal(a, "q:5");
	statement_fingerprint("", false, 6, a);
	assert_string_equal(a, "q:6");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_statement_same_fingerprint),
		cmocka_unit_test(test_other_statement_other_fingerprint),
		cmocka_unit_test(test_unparsable_or_cut_matches_only_itself),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
