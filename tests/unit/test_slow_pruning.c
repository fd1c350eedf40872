/*
 * test_slow_pruning.c - slow-queries answered through the totals' bounds
 * (store_sqlite_slow.c) give exactly the plain way's answer: over windows
 * that cross raw, hourly and daily rows and the raw tail past the hourly
 * watermark, for every order, several limits, an instance scope and a
 * minimum duration. The history is made so the heaviest statements of the
 * whole history are not the heaviest of recent windows: bounds alone
 * would pick the wrong ones.
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

#include "collector/store.h"
#include "collector/store_sqlite_internal.h"
#include "tests/support/temp_store.h"

#define HOUR (3600LL * 1000000)
#define DAY (24 * HOUR)
#define NOW (1790000000LL * 1000000 - 1790000000LL * 1000000 % DAY)
#define DAYS 30
#define STEP (8 * HOUR)
#define INSTANCES 3
#define STATEMENTS 40

/* Statement j of instance i in report k: statements 0-9 are heavy early
 * (their totals lead), 30-39 heavy in the last 10 days, the rest steady
 * with a spread; a few are slow but rare. */
static void
fill(Pgfleet__V1__StatementDelta *d, int instance, int64_t k, int64_t day, int j)
{
	int64_t calls = 1 + (k * 7 + instance * 3 + j) % 11;
	double mean = 1.0 + (double) ((j * 13 + instance) % 17);

	if (j < 10 && day < DAYS - 20)
		calls *= 40;
	if (j >= 30 && day >= DAYS - 10)
		calls *= 25;
	if (j % 9 == 4) {
		calls = 1;
		mean = 400.0 + j;
	}
	d->queryid = 1000 + j;
	d->dbid = 5;
	d->datname = (char *) (j % 2 ? "app" : "jobs");
	d->username = (char *) "web";
	d->calls = calls;
	d->total_exec_time_ms = mean * (double) calls;
	d->sum_sq_exec_time_ms2 = mean * mean * (double) calls;
	d->max_exec_time_ms = mean * 1.5;
	d->rows = calls;
}

static void
write_history(struct store *store)
{
	Pgfleet__V1__StatementDelta deltas[STATEMENTS];
	Pgfleet__V1__StatementDelta *pointers[STATEMENTS];
	char errbuf[512];

	/* one batch: one commit for the whole history */
	assert_int_equal(store_batch_begin(store, errbuf, sizeof(errbuf)), PGF_OK);
	for (int instance = 0; instance < INSTANCES; instance++) {
		uint64_t seq = 1;
		char name[16];

		snprintf(name, sizeof(name), "db%d", instance);
		for (int64_t ts = NOW - DAYS * DAY + STEP; ts <= NOW; ts += STEP, seq++) {
			Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
			Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
			Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
			int64_t day = (ts - (NOW - DAYS * DAY)) / DAY;
			size_t n = 0;
			bool duplicate;

			/* a statement is seen in some reports only, as when it
			 * did not run in an interval */
			for (int j = 0; j < STATEMENTS; j++) {
				if ((j + (int) seq + instance) % 3 == 0)
					continue;
				pgfleet__v1__statement_delta__init(&deltas[n]);
				fill(&deltas[n], instance, (int64_t) seq, day, j);
				pointers[n] = &deltas[n];
				n++;
			}
			report.agent_id = name;
			report.boot_id = (char *) "boot";
			report.seq = seq;
			report.collected_at_us = ts;
			report.instance = &identity;
			report.statements = &family;
			identity.name = name;
			identity.system_identifier = (char *) "42";
			family.interval_start_us = ts - STEP;
			family.interval_end_us = ts;
			family.statements = pointers;
			family.n_statements = n;
			assert_int_equal(store_write_report(store, &report, ts, &duplicate, errbuf,
			    sizeof(errbuf)), PGF_OK);
		}
	}
	assert_int_equal(store_batch_end(store, true, errbuf, sizeof(errbuf)), PGF_OK);
}

/* Rolls up everything older than two days: the last two stay raw, past
 * the hourly watermark. */
static void
maintain_all(struct store *store)
{
	struct store_retention retention = {7 * DAY, 90 * DAY, 365 * DAY};
	char errbuf[512];
	bool more = true;
	int steps = 0;

	while (more) {
		assert_int_equal(store_maintain(store, NOW - 2 * DAY, &retention, &more, errbuf,
		    sizeof(errbuf)), PGF_OK);
		assert_true(++steps < 10000);
	}
}

static void
assert_same_answer(const Pgfleet__V1__SlowQueries *a, const Pgfleet__V1__SlowQueries *b)
{
	assert_int_equal(a->n_rows, b->n_rows);
	for (size_t i = 0; i < a->n_rows; i++) {
		const Pgfleet__V1__SlowQuery *x = a->rows[i], *y = b->rows[i];
		assert_string_equal(x->instance, y->instance);
		assert_int_equal(x->queryid, y->queryid);
		assert_string_equal(x->database, y->database);
		assert_int_equal(x->calls, y->calls);
		assert_int_equal(x->rows, y->rows);
		assert_true(fabs(x->total_seconds - y->total_seconds) <=
		    1e-9 * fabs(y->total_seconds) + 1e-12);
		assert_true(fabs(x->max_seconds - y->max_seconds) <= 1e-12);
	}
}

static void
test_pruned_equals_plain(void **state)
{
	struct temp_store *f = *state;
	static const int64_t sinces[] = {0, NOW - 30 * DAY, NOW - 8 * DAY, NOW - 3 * DAY,
	    NOW - 1 * DAY, NOW - 10 * DAY};
	static const int64_t untils[] = {0, 0, 0, 0, 0, NOW - 5 * DAY};
	static const Pgfleet__V1__SlowQueriesRequest__Order orders[] = {
	    PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL,
	    PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN,
	    PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS};
	static const uint32_t limits[] = {1, 10, 200};
	static const char *const instances[] = {"", "db1"};
	static const double minimums[] = {0.0, 10.0};
	int pruned = 0, cases = 0;

	write_history(f->store);
	maintain_all(f->store);
	for (size_t w = 0; w < sizeof(sinces) / sizeof(sinces[0]); w++)
	for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++)
	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
	for (size_t s = 0; s < sizeof(instances) / sizeof(instances[0]); s++)
	for (size_t m = 0; m < sizeof(minimums) / sizeof(minimums[0]); m++) {
		Pgfleet__V1__SlowQueriesRequest request = PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
		Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
		Pgfleet__V1__SlowQueries plain = PGFLEET__V1__SLOW_QUERIES__INIT;
		Pgfleet__V1__SlowQueries fast = PGFLEET__V1__SLOW_QUERIES__INIT;
		char errbuf[512];
		bool answered = false;

		scope.since_us = sinces[w];
		scope.until_us = untils[w];
		scope.instance = (char *) instances[s];
		request.scope = &scope;
		request.order = orders[o];
		request.limit = limits[l];
		request.min_duration_ms = minimums[m];
		assert_int_equal(store_sqlite_slow_queries_plain(f->store, &request, &plain,
		    errbuf, sizeof(errbuf)), PGF_OK);
		assert_int_equal(store_sqlite_slow_queries_pruned(f->store, &request, &fast,
		    &answered, errbuf, sizeof(errbuf)), PGF_OK);
		cases++;
		if (answered) {
			pruned++;
			assert_same_answer(&fast, &plain);
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
		char errbuf[512];

		assert_int_equal(store_slow_queries(f->store, &request, &fast, errbuf,
		    sizeof(errbuf)), PGF_OK);
		assert_int_equal(store_sqlite_slow_queries_plain(f->store, &request, &plain,
		    errbuf, sizeof(errbuf)), PGF_OK);
		assert_same_answer(&fast, &plain);
		store_slow_queries_fini(&plain);
		store_slow_queries_fini(&fast);
	}
	/* the bounds pruned in most cases (limit 200 exceeds the statements:
	 * those fall back) */
	print_message("pruned %d of %d cases\n", pruned, cases);
	assert_true(pruned * 2 > cases);
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
