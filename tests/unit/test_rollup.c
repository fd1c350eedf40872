/*
 * test_rollup.c - 120 days of synthetic statement history through raw,
 * hourly and daily rows: every sum survives rollups and retention, a late
 * report is counted once, and answers over any window stay exact.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "collector/store.h"
#include "common/log.h"

#define HOUR (3600LL * 1000000)
#define DAY (24 * HOUR)
/* the history ends here (a whole day) */
#define NOW (1790000000LL * 1000000 - 1790000000LL * 1000000 % DAY)
#define DAYS 120
/* one report every 6 hours per instance */
#define STEP (6 * HOUR)

struct fixture {
	char dir[64];
	char path[96];
	struct store *store;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char errbuf[512];
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pgfleet-test-rollup-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (store_open(f->path, false, &f->store, errbuf, sizeof(errbuf)) != PGF_OK) {
		print_error("%s\n", errbuf);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[160];
	store_close(f->store);
	unlink(f->path);
	snprintf(path, sizeof(path), "%s-wal", f->path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", f->path);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The calls of report number k of instance i: varied, known. */
static int64_t
calls_of(int instance, int64_t k)
{
	return 1 + (k * 7 + instance * 3) % 11;
}

static void
write_report(struct store *store, int instance, uint64_t seq, int64_t ts)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__StatementDelta delta = PGFLEET__V1__STATEMENT_DELTA__INIT;
	Pgfleet__V1__StatementDelta *deltas[1] = {&delta};
	char name[16];
	char errbuf[512];
	bool duplicate;

	snprintf(name, sizeof(name), "db%d", instance);
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
	family.statements = deltas;
	family.n_statements = 1;
	delta.queryid = 77;
	delta.dbid = 5;
	delta.datname = (char *) "app";
	delta.username = (char *) "web";
	delta.calls = calls_of(instance, (int64_t) seq);
	delta.total_exec_time_ms = 2.0 * (double) delta.calls;
	delta.sum_sq_exec_time_ms2 = 4.0 * (double) delta.calls;
	delta.max_exec_time_ms = 2.0;
	delta.rows = delta.calls;
	assert_int_equal(store_write_report(store, &report, ts, &duplicate, errbuf,
	    sizeof(errbuf)), PGF_OK);
}

/* total calls and time the store answers for [since, until) */
static void
answer(struct store *store, int64_t since, int64_t until, int64_t *calls, double *total_s)
{
	Pgfleet__V1__SlowQueriesRequest request = PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__SlowQueries rows = PGFLEET__V1__SLOW_QUERIES__INIT;
	char errbuf[512];

	scope.since_us = since;
	scope.until_us = until;
	request.scope = &scope;
	request.group = PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_CLUSTER;
	assert_int_equal(store_slow_queries(store, &request, &rows, errbuf, sizeof(errbuf)), PGF_OK);
	*calls = rows.n_rows == 1 ? rows.rows[0]->calls : 0;
	*total_s = rows.n_rows == 1 ? rows.rows[0]->total_seconds : 0.0;
	assert_true(rows.n_rows <= 1);
	store_slow_queries_fini(&rows);
}

static int64_t
count_rows(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int64_t n;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

/* Expected calls of both instances for reports with ts in [since, until). */
static int64_t
expected_calls(int64_t since, int64_t until)
{
	int64_t total = 0;
	for (int instance = 0; instance < 2; instance++) {
		uint64_t seq = 1;
		for (int64_t ts = NOW - DAYS * DAY + STEP; ts <= NOW; ts += STEP, seq++) {
			if (ts >= since && ts < until)
				total += calls_of(instance, (int64_t) seq);
		}
	}
	return total;
}

static void
maintain_all(struct store *store, int64_t now)
{
	struct store_retention retention = {7 * DAY, 90 * DAY, 365 * DAY};
	char errbuf[512];
	bool more = true;
	int steps = 0;
	while (more) {
		assert_int_equal(store_maintain(store, now, &retention, &more, errbuf,
		    sizeof(errbuf)), PGF_OK);
		assert_true(++steps < 10000);
	}
}

static void
test_sums_survive_rollups_and_retention(void **state)
{
	struct fixture *f = *state;
	int64_t all = expected_calls(0, INT64_MAX);
	int64_t calls;
	double total;

	for (int instance = 0; instance < 2; instance++) {
		uint64_t seq = 1;
		for (int64_t ts = NOW - DAYS * DAY + STEP; ts <= NOW; ts += STEP, seq++)
			write_report(f->store, instance, seq, ts);
	}
	answer(f->store, 0, 0, &calls, &total);
	assert_int_equal(calls, all);

	maintain_all(f->store, NOW + HOUR);

	/* raw rows went after 7 days, hourly after 90: the sums did not */
	assert_true(count_rows(f->path, "SELECT min(ts_us) FROM statement_stats") >= NOW - 7 * DAY - DAY);
	assert_true(count_rows(f->path, "SELECT count(*) FROM statement_stats_hourly") > 0);
	assert_true(count_rows(f->path, "SELECT min(bucket_us) FROM statement_stats_hourly") >= NOW - 90 * DAY - DAY);
	assert_true(count_rows(f->path, "SELECT count(*) FROM statement_stats_daily") >= DAYS - 1);
	answer(f->store, 0, 0, &calls, &total);
	assert_int_equal(calls, all);
	assert_true(fabs(total - 2.0 * (double) all / 1000.0) < 1e-6);

	/* windows on whole days are exact whatever level serves them */
	answer(f->store, NOW - 30 * DAY, 0, &calls, &total);
	assert_int_equal(calls, expected_calls(NOW - 30 * DAY, INT64_MAX));
	answer(f->store, NOW - 100 * DAY, NOW - 95 * DAY, &calls, &total);
	assert_int_equal(calls, expected_calls(NOW - 100 * DAY, NOW - 95 * DAY));
	answer(f->store, NOW - 2 * DAY, 0, &calls, &total);
	assert_int_equal(calls, expected_calls(NOW - 2 * DAY, INT64_MAX));

	/* a late report for a day long rolled up counts once */
	write_report(f->store, 0, 100000, NOW - 50 * DAY + 3 * HOUR);
	answer(f->store, 0, 0, &calls, &total);
	assert_int_equal(calls, all + calls_of(0, 100000));
	maintain_all(f->store, NOW + 2 * HOUR);
	answer(f->store, 0, 0, &calls, &total);
	assert_int_equal(calls, all + calls_of(0, 100000));
}

static void
write_tables(struct store *store, uint64_t seq, int64_t ts)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__TablesFamily tables = PGFLEET__V1__TABLES_FAMILY__INIT;
	Pgfleet__V1__TableStat table = PGFLEET__V1__TABLE_STAT__INIT;
	Pgfleet__V1__TableStat *rows[1] = {&table};
	char errbuf[512];
	bool duplicate;

	report.agent_id = (char *) "tables-agent";
	report.boot_id = (char *) "boot";
	report.seq = seq;
	report.collected_at_us = ts;
	report.instance = &identity;
	report.tables = &tables;
	identity.name = (char *) "tdb";
	identity.system_identifier = (char *) "43";
	tables.tables = rows;
	tables.n_tables = 1;
	table.database = (char *) "app";
	table.schema = (char *) "public";
	table.table = (char *) "orders";
	table.total_bytes = (int64_t) seq * 8192;
	assert_int_equal(store_write_report(store, &report, ts, &duplicate, errbuf,
	    sizeof(errbuf)), PGF_OK);
}

/* Table snapshots past the raw retention keep the last of each day; past
 * the hourly retention none; the newest is never touched. */
static void
test_snapshots_thinned_to_one_a_day(void **state)
{
	struct fixture *f = *state;
	uint64_t seq = 1;

	for (int64_t ts = NOW - DAYS * DAY + STEP; ts <= NOW; ts += STEP)
		write_tables(f->store, seq++, ts);
	maintain_all(f->store, NOW + HOUR);
	/* within the raw retention, every snapshot (4 a day); from 8 to 89 days
	 * back, one a day; past 90 days, none */
	assert_int_equal(count_rows(f->path,
	    "SELECT max(n) FROM (SELECT count(*) AS n FROM table_stats"
	    " GROUP BY ts_us / 86400000000)"), 4);
	assert_int_equal(count_rows(f->path,
	    "SELECT count(*) FROM table_stats WHERE ts_us < 1790000000000000 - 1790000000000000 % 86400000000 - 8 * 86400000000"
	    " AND ts_us >= 1790000000000000 - 1790000000000000 % 86400000000 - 89 * 86400000000"),
	    81);
	assert_int_equal(count_rows(f->path,
	    "SELECT count(*) FROM table_stats WHERE ts_us < 1790000000000000 - 1790000000000000 % 86400000000 - 91 * 86400000000"),
	    0);
	assert_int_equal(count_rows(f->path, "SELECT max(total_bytes) FROM table_stats"),
	    (int64_t) (seq - 1) * 8192);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sums_survive_rollups_and_retention, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshots_thinned_to_one_a_day, setup,
		    teardown),
	};
	pgf_log_init("test_rollup", PGF_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
