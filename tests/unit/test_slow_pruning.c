/*
 * test_slow_pruning.c - slow-queries answered through the totals' bounds
 * (slow_answer.h, store_sqlite_slow.c) give exactly the plain way's
 * answer, over the month of tests/support/slow_history.c: windows that
 * cross raw, hourly and daily rows and the raw tail past the hourly
 * watermark, for every order, several limits, an instance scope and a
 * minimum duration. (test_store_pg.c asks the same of the PostgreSQL
 * store.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/store.h"
#include "collector/store_sqlite_internal.h"
#include "tests/support/slow_history.h"
#include "tests/support/temp_store.h"

static void
test_pruned_equals_plain(void **state)
{
	struct temp_store *f = *state;
	char errbuf[512];
	const char *why = "";
	size_t pruned = 0;

	if (slow_history_write(f->store, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	for (size_t c = 0; c < slow_history_cases(); c++) {
		Pgfleet__V1__SlowQueriesRequest request;
		Pgfleet__V1__Scope scope;
		Pgfleet__V1__SlowQueries plain = PGFLEET__V1__SLOW_QUERIES__INIT;
		Pgfleet__V1__SlowQueries fast = PGFLEET__V1__SLOW_QUERIES__INIT;
		bool answered = false;

		slow_history_case(c, &request, &scope);
		assert_int_equal(store_sqlite_slow_queries_plain(f->store, &request, &plain,
		    errbuf, sizeof(errbuf)), PGF_OK);
		assert_int_equal(store_sqlite_slow_queries_pruned(f->store, &request, &fast,
		    &answered, errbuf, sizeof(errbuf)), PGF_OK);
		if (answered) {
			pruned++;
			if (!slow_history_same(&fast, &plain, &why))
				fail_msg("case %zu: the pruned answer has %s", c, why);
		}
		store_slow_queries_fini(&plain);
		store_slow_queries_fini(&fast);
	}
	/* the op is the pruned way, else the plain one: one check that it
	 * is wired */
	{
		Pgfleet__V1__SlowQueriesRequest request = PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
		Pgfleet__V1__SlowQueries plain = PGFLEET__V1__SLOW_QUERIES__INIT;
		Pgfleet__V1__SlowQueries fast = PGFLEET__V1__SLOW_QUERIES__INIT;

		assert_int_equal(store_slow_queries(f->store, &request, &fast, errbuf,
		    sizeof(errbuf)), PGF_OK);
		assert_int_equal(store_sqlite_slow_queries_plain(f->store, &request, &plain,
		    errbuf, sizeof(errbuf)), PGF_OK);
		if (!slow_history_same(&fast, &plain, &why))
			fail_msg("the op's answer has %s", why);
		store_slow_queries_fini(&plain);
		store_slow_queries_fini(&fast);
	}
	/* the bounds pruned in most cases (limit 200 exceeds the statements:
	 * those fall back) */
	print_message("pruned %zu of %zu cases\n", pruned, slow_history_cases());
	assert_true(pruned * 2 > slow_history_cases());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pruned_equals_plain, temp_store_setup,
		    temp_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
