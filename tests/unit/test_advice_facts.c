/* test_advice_facts.c - the rows-to-facts steps both store backends share
 * (collector/advice_facts.c), from plain values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/advice_facts.h"

static void
test_settings(void **state)
{
	struct vacuum_table_fact f;
	(void) state;

	assert_int_equal(advice_server_autovacuum("on"), 1);
	assert_int_equal(advice_server_autovacuum("off"), 0);
	assert_int_equal(advice_server_autovacuum(NULL), -1);
	/* the table's own insert trigger wins over the server's */
	memset(&f, 0, sizeof(f));
	advice_vacuum_insert(&f, true, 500, 0.05, "1000", "0.2");
	assert_true(f.insert_known);
	assert_int_equal(f.insert_threshold, 500);
	assert_true(f.insert_scale_factor == 0.05);
	/* else the server's, as texts; -1 (off) too */
	memset(&f, 0, sizeof(f));
	advice_vacuum_insert(&f, false, 0, 0, "-1", "0.2");
	assert_true(f.insert_known);
	assert_int_equal(f.insert_threshold, -1);
	assert_true(f.insert_scale_factor == 0.2);
	/* neither: unknown, not judged */
	memset(&f, 0, sizeof(f));
	advice_vacuum_insert(&f, false, 0, 0, "1000", NULL);
	assert_false(f.insert_known);
}

static void
test_window(void **state)
{
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	(void) state;

	scope.since_us = 5;
	scope.until_us = 10 * ADVICE_DEFAULT_WINDOW_US;
	assert_true(advice_window_since(&scope) == 5);
	scope.since_us = 0;
	assert_true(advice_window_since(&scope) == 9 * ADVICE_DEFAULT_WINDOW_US);
	/* open: a day before now */
	assert_true(advice_window_since(NULL) > 0);
}

/* A standby on slot_name (or none) behind an upstream. */
static enum replication_listed
listed(const char *slot, bool reported, int64_t walsenders, int64_t standbys,
    int64_t matched)
{
	struct replica_fact f;
	struct advice_upstream u = { reported, walsenders, standbys, matched, 0, 0 };

	memset(&f, 0, sizeof(f));
	f.slot_name = slot;
	advice_replica_upstream(&f, &u);
	return f.listed;
}

static void
test_upstream(void **state)
{
	struct replica_fact f;
	struct advice_upstream u = { true, 1, 1, 1, 4096, 2.5 };
	(void) state;

	/* the upstream never reported: unknown */
	assert_int_equal(listed("", false, 0, 0, 0), REPLICATION_LISTED_UNKNOWN);
	/* a walsender surely its own */
	assert_int_equal(listed("s1", true, 2, 2, 1), REPLICATION_LISTED_YES);
	/* no walsender at all, or none on its slot */
	assert_int_equal(listed("", true, 0, 1, 0), REPLICATION_LISTED_NO);
	assert_int_equal(listed("s1", true, 3, 3, 0), REPLICATION_LISTED_NO);
	/* without a slot: as many walsenders as standbys, else unknown */
	assert_int_equal(listed("", true, 2, 2, 0), REPLICATION_LISTED_YES);
	assert_int_equal(listed("", true, 1, 2, 0), REPLICATION_LISTED_UNKNOWN);
	/* its walsender's view of the lag when larger */
	memset(&f, 0, sizeof(f));
	f.slot_name = "s1";
	f.lag_bytes = 1024;
	f.lag_seconds = 1.0;
	advice_replica_upstream(&f, &u);
	assert_int_equal(f.lag_bytes, 4096);
	assert_true(f.lag_seconds == 2.5);
	/* two walsenders match: neither is taken */
	u.matched = 2;
	f.lag_bytes = 1024;
	f.lag_seconds = 1.0;
	advice_replica_upstream(&f, &u);
	assert_int_equal(f.lag_bytes, 1024);
	assert_true(f.lag_seconds == 1.0);
}

static void
test_points(void **state)
{
	struct advice_pool pool = { 0 };
	struct replica_fact f;
	const struct replication_lag_point points[2] = { { 10, 100 }, { 20, 300 } };
	(void) state;

	memset(&f, 0, sizeof(f));
	assert_true(advice_replica_points(&pool, &f, points, 0));
	assert_null(f.points);
	assert_true(advice_replica_points(&pool, &f, points, 2));
	assert_int_equal(f.n_points, 2);
	assert_int_equal(f.points[1].lag_bytes, 300);
	assert_ptr_not_equal(f.points, points);
	advice_pool_free(&pool);
}

static void
test_indexes(void **state)
{
	struct advice_indexes indexes = { 0 };
	struct checklist_facts f;
	(void) state;

	memset(&f, 0, sizeof(f));
	/* rows come in name order; a duplicate is every index after the first
	 * of those doing the same, in one database */
	assert_true(advice_indexes_add(&indexes, &f, "app", "public", "a_idx", true,
	    "CREATE INDEX a_idx ON public.t USING btree (x)"));
	assert_true(advice_indexes_add(&indexes, &f, "app", "public", "b_idx", true,
	    "CREATE INDEX b_idx ON public.t USING btree (x)"));
	/* the same in another database: not a duplicate */
	assert_true(advice_indexes_add(&indexes, &f, "other", "public", "c_idx", true,
	    "CREATE INDEX c_idx ON public.t USING btree (x)"));
	/* invalid, and no definition known */
	assert_true(
	    advice_indexes_add(&indexes, &f, "app", "public", "d_idx", false, ""));
	advice_indexes_finish(&indexes, &f);
	assert_int_equal(f.invalid_indexes, 1);
	assert_int_equal(f.duplicate_indexes, 1);
	assert_string_equal(f.index_names, "app.public.d_idx, app.public.b_idx");
	assert_int_equal(indexes.n, 0);
	assert_null(indexes.list);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_upstream),
		cmocka_unit_test(test_points),
		cmocka_unit_test(test_indexes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
