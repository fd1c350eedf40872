/*
 * test_family_indexes.c - the indexes family's SQL for each server
 * version, without a server: last_idx_scan is read from 16 on only (the
 * column does not exist before), and both queries keep their safety cap.
 * The harness's PostgreSQL 15 runs the 13..15 text in
 * tests/e2e/family_tables.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/family_indexes.h"

static void
test_refuses_before_13(void **state)
{
	(void) state;
	assert_null(family_indexes_sql(0));
	assert_null(family_indexes_sql(120000));
	assert_null(family_indexes_sql(129999));
}

static void
test_13_to_15_without_last_idx_scan(void **state)
{
	static const int versions[] = { 130000, 140000, 150000, 159999 };
	(void) state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		const char *sql = family_indexes_sql(versions[i]);
		assert_non_null(sql);
		assert_null(strstr(sql, "last_idx_scan"));
		assert_non_null(strstr(sql, " con.contype, con.conname, 0::int8 FROM "));
	}
}

static void
test_16_and_17_read_last_idx_scan(void **state)
{
	static const int versions[] = { 160000, 170000, 170004 };
	(void) state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		const char *sql = family_indexes_sql(versions[i]);
		assert_non_null(sql);
		assert_non_null(strstr(sql,
		    " con.contype, con.conname,"
		    " COALESCE((extract(epoch FROM s.last_idx_scan)"
		    " * 1000000)::int8, 0) FROM "));
	}
}

static void
test_queries_are_capped_and_skip_catalogs(void **state)
{
	const char *queries[] = { family_indexes_sql(130000), family_indexes_sql(170000),
		family_indexes_foreign_keys_sql() };
	(void) state;
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		const char *limit = strstr(queries[i], " LIMIT 100000 + 1");
		assert_non_null(limit);
		/* the cap is the query's last clause */
		assert_string_equal(limit, " LIMIT 100000 + 1");
		assert_non_null(
		    strstr(queries[i], "NOT IN ('pg_catalog', 'information_schema')"));
		assert_non_null(strstr(queries[i], "!~ '^pg_toast'"));
	}
}

static void
test_lists_use_the_unit_separator(void **state)
{
	(void) state;
	/* E'\x1f' in SQL: the separator family_split_list splits at */
	assert_non_null(strstr(family_indexes_sql(150000), "E'\\x1f' ORDER BY k)"));
	assert_non_null(
	    strstr(family_indexes_foreign_keys_sql(), "E'\\x1f' ORDER BY k.position)"));
	assert_non_null(strstr(family_indexes_foreign_keys_sql(), "con.contype = 'f'"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_before_13),
		cmocka_unit_test(test_13_to_15_without_last_idx_scan),
		cmocka_unit_test(test_16_and_17_read_last_idx_scan),
		cmocka_unit_test(test_queries_are_capped_and_skip_catalogs),
		cmocka_unit_test(test_lists_use_the_unit_separator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
