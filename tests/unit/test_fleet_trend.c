/*
 * test_fleet_trend.c - query-trend over the whole fleet reads the
 * fleet-wide rollups (statement_fleet_hourly, statement_fleet_daily); its
 * answer must be exactly the per-instance answers added up, over raw,
 * hourly and daily history, with a database filter, after a late report,
 * after retention, and in a store migrated from before the fleet rollups.
 *
 * Plain data: three instances in two clusters, two databases, two
 * statements, a report every 3 hours for 40 days. Times are multiples of
 * 250 ms, so every sum, in ms or in seconds, is exact in a double and "the
 * same" means equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "collector/store.h"
#include "collector/store_sqlite_internal.h"
#include "common/log.h"
#include "tests/support/temp_store.h"

#define HOUR (3600LL * 1000000)
#define DAY (24 * HOUR)
/* the history ends here (a whole day) */
#define NOW (1790000000LL * 1000000 - 1790000000LL * 1000000 % DAY)
#define DAYS 40
#define STEP (3 * HOUR)
#define INSTANCES 3

static const char *const names[INSTANCES] = {"p1", "r1", "p2"};
static const char *const clusters[INSTANCES] = {"7001", "7001", "7002"};
static const int64_t queryids[] = {4242, -77};

static int64_t
calls_of(int instance, int64_t seq, int statement)
{
	return 1 + (seq * 5 + instance * 3 + statement * 7) % 13;
}

/* One report of instance at ts: both statements, in two databases on p1
 * (the same queryid under two dbids), one elsewhere. */
static void
write_report(struct store *store, int instance, uint64_t seq, int64_t ts)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__StatementDelta deltas[3];
	Pgfleet__V1__StatementDelta *pointers[3];
	char errbuf[512];
	bool duplicate;
	size_t n = 0;

	report.agent_id = (char *) names[instance];
	report.boot_id = (char *) "boot";
	report.seq = seq;
	report.collected_at_us = ts;
	report.instance = &identity;
	report.statements = &family;
	identity.name = (char *) names[instance];
	identity.system_identifier = (char *) clusters[instance];
	family.interval_start_us = ts - STEP;
	family.interval_end_us = ts;
	for (int s = 0; s < 2; s++) {
		for (int db = 0; db < (instance == 0 && s == 0 ? 2 : 1); db++) {
			Pgfleet__V1__StatementDelta *d = &deltas[n];
			pgfleet__v1__statement_delta__init(d);
			d->queryid = queryids[s];
			d->dbid = 16384 + (uint32_t) db + (uint32_t) instance;
			d->datname = (char *) (db == 0 ? "app" : "reports");
			d->username = (char *) "web";
			d->calls = calls_of(instance, (int64_t) seq, s) + db;
			d->total_exec_time_ms = 250.0 * (double) (d->calls * (3 + s + db));
			d->sum_sq_exec_time_ms2 = d->total_exec_time_ms;
			d->max_exec_time_ms = 4.0;
			d->rows = d->calls * 2;
			pointers[n] = d;
			n++;
		}
	}
	family.statements = pointers;
	family.n_statements = n;
	assert_int_equal(store_write_report(store, &report, ts, &duplicate, errbuf,
	    sizeof(errbuf)), PGF_OK);
	assert_false(duplicate);
}

static void
write_history(struct store *store)
{
	char errbuf[512];

	/* one transaction (one fsync), as the ingest batches them */
	assert_int_equal(store_batch_begin(store, errbuf, sizeof(errbuf)), PGF_OK);
	for (int i = 0; i < INSTANCES; i++) {
		uint64_t seq = 1;
		for (int64_t ts = NOW - DAYS * DAY + STEP; ts <= NOW; ts += STEP)
			write_report(store, i, seq++, ts);
	}
	assert_int_equal(store_batch_end(store, true, errbuf, sizeof(errbuf)), PGF_OK);
}

static void
maintain_all(struct store *store, int64_t now)
{
	struct store_retention retention = {7 * DAY, 30 * DAY, 365 * DAY};
	char errbuf[512];
	bool more = true;
	int steps = 0;
	while (more) {
		assert_int_equal(store_maintain(store, now, &retention, &more, errbuf,
		    sizeof(errbuf)), PGF_OK);
		assert_true(++steps < 10000);
	}
}

static Pgfleet__V1__QueryTrend *
trend(struct store *store, int64_t queryid, const char *instance, const char *database,
    int64_t since, int64_t until, int64_t bucket_ms)
{
	Pgfleet__V1__QueryTrendRequest request = PGFLEET__V1__QUERY_TREND_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__QueryTrend *answer = malloc(sizeof(*answer));
	char errbuf[512];

	assert_non_null(answer);
	pgfleet__v1__query_trend__init(answer);
	scope.instance = (char *) instance;
	scope.database = (char *) database;
	scope.since_us = since;
	scope.until_us = until;
	request.scope = &scope;
	request.queryid = queryid;
	request.bucket_ms = bucket_ms;
	if (store->ops->query_trend(store, &request, answer, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("query-trend: %s", errbuf);
	return answer;
}

/* The fleet's answer against the instances' answers added up, bucket by
 * bucket; returns the fleet's calls (so a caller can see it was not an
 * empty window). */
static int64_t
compare(struct store *store, int64_t queryid, const char *database, int64_t since,
    int64_t until, int64_t bucket_ms)
{
	Pgfleet__V1__QueryTrend *fleet = trend(store, queryid, "", database, since, until,
	    bucket_ms);
	int64_t fleet_calls = 0;
	int64_t *calls = calloc(fleet->n_rows, sizeof(*calls));
	int64_t *rows = calloc(fleet->n_rows, sizeof(*rows));
	double *total = calloc(fleet->n_rows, sizeof(*total));

	assert_true(fleet->n_rows > 0);
	assert_non_null(calls);
	assert_non_null(rows);
	assert_non_null(total);
	for (int i = 0; i < INSTANCES; i++) {
		Pgfleet__V1__QueryTrend *one = trend(store, queryid, names[i], database, since,
		    until, bucket_ms);
		assert_int_equal(one->n_rows, fleet->n_rows);
		for (size_t b = 0; b < one->n_rows; b++) {
			assert_true(one->rows[b]->bucket_start_us == fleet->rows[b]->bucket_start_us);
			calls[b] += one->rows[b]->calls;
			rows[b] += one->rows[b]->rows;
			total[b] += one->rows[b]->total_seconds;
		}
		store_answer_free(&one->base);
	}
	for (size_t b = 0; b < fleet->n_rows; b++) {
		if (fleet->rows[b]->calls != calls[b] || fleet->rows[b]->rows != rows[b] ||
		    fleet->rows[b]->total_seconds != total[b])
			fail_msg("queryid %lld database '%s' bucket %s: fleet %lld calls %lld rows"
				 " %.6f s, instances %lld calls %lld rows %.6f s",
			    (long long) queryid, database, fleet->rows[b]->bucket,
			    (long long) fleet->rows[b]->calls, (long long) fleet->rows[b]->rows,
			    fleet->rows[b]->total_seconds, (long long) calls[b], (long long) rows[b],
			    total[b]);
		fleet_calls += fleet->rows[b]->calls;
	}
	free(calls);
	free(rows);
	free(total);
	store_answer_free(&fleet->base);
	return fleet_calls;
}

/* Every window and filter the test asks about, each non-empty. */
static void
compare_all(struct store *store)
{
	for (size_t q = 0; q < sizeof(queryids) / sizeof(queryids[0]); q++) {
		/* 30 days: daily buckets (daily and hourly rollups, raw tail) */
		assert_true(compare(store, queryids[q], "", NOW - 30 * DAY, NOW + HOUR, 0) > 0);
		/* two days: 3-hour buckets over hourly rows and raw rows */
		assert_true(compare(store, queryids[q], "", NOW - 2 * DAY, NOW + HOUR, 0) > 0);
		/* hourly buckets, a window inside the daily level */
		assert_true(compare(store, queryids[q], "", NOW - 20 * DAY, NOW - 19 * DAY,
				3600000) > 0);
		/* the whole history, weekly buckets */
		assert_true(compare(store, queryids[q], "", NOW - DAYS * DAY, NOW + HOUR,
				7 * 86400000LL) > 0);
	}
	/* one database: p1's second dbid of 4242 only */
	assert_true(compare(store, 4242, "reports", NOW - 30 * DAY, NOW + HOUR, 0) > 0);
	assert_true(compare(store, 4242, "app", NOW - 2 * DAY, NOW + HOUR, 0) > 0);
	/* a queryid nobody ran: empty on both sides */
	assert_int_equal(compare(store, 5, "", NOW - 30 * DAY, NOW + HOUR, 0), 0);
}

static int64_t
scalar(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int64_t n = 0;
	int rc;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

/* The fleet levels hold exactly the instance levels added up. */
static void
assert_levels_match(const char *path)
{
	static const char *const sql[] = {
		"SELECT count(*) FROM (SELECT queryid, bucket_us, datname, sum(calls),"
		" sum(total_exec_time_ms), sum(rows) FROM statement_stats_hourly GROUP BY 1, 2, 3"
		" EXCEPT SELECT queryid, bucket_us, datname, calls, total_exec_time_ms, rows"
		" FROM statement_fleet_hourly)",
		"SELECT count(*) FROM (SELECT queryid, bucket_us, datname, calls,"
		" total_exec_time_ms, rows FROM statement_fleet_hourly EXCEPT"
		" SELECT queryid, bucket_us, datname, sum(calls), sum(total_exec_time_ms),"
		" sum(rows) FROM statement_stats_hourly GROUP BY 1, 2, 3)",
		"SELECT count(*) FROM (SELECT queryid, bucket_us, datname, sum(calls),"
		" sum(total_exec_time_ms), sum(rows) FROM statement_stats_daily GROUP BY 1, 2, 3"
		" EXCEPT SELECT queryid, bucket_us, datname, calls, total_exec_time_ms, rows"
		" FROM statement_fleet_daily)",
		"SELECT count(*) FROM (SELECT queryid, bucket_us, datname, calls,"
		" total_exec_time_ms, rows FROM statement_fleet_daily EXCEPT"
		" SELECT queryid, bucket_us, datname, sum(calls), sum(total_exec_time_ms),"
		" sum(rows) FROM statement_stats_daily GROUP BY 1, 2, 3)",
	};
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
		assert_int_equal(scalar(path, sql[i]), 0);
	/* and they are smaller: that is the point */
	assert_true(scalar(path, "SELECT count(*) FROM statement_fleet_daily") > 0);
	assert_true(scalar(path, "SELECT count(*) FROM statement_fleet_daily") * 2 <
	    scalar(path, "SELECT count(*) FROM statement_stats_daily"));
}

static void
test_fleet_trend_is_the_sum_of_instances(void **state)
{
	struct temp_store *t = *state;

	write_history(t->store);
	/* raw rows only */
	compare_all(t->store);
	maintain_all(t->store, NOW + HOUR);
	/* raw past 7 days gone, hourly past 30 days gone, daily kept */
	assert_true(scalar(t->path, "SELECT min(ts_us) FROM statement_stats") >= NOW - 8 * DAY);
	assert_true(scalar(t->path, "SELECT min(bucket_us) FROM statement_fleet_hourly") >=
	    NOW - 31 * DAY);
	assert_levels_match(t->path);
	compare_all(t->store);

	/* a late report for a day long rolled up (p2, 20 days back) */
	write_report(t->store, 2, 100000, NOW - 20 * DAY + 5 * HOUR);
	assert_levels_match(t->path);
	compare_all(t->store);
	maintain_all(t->store, NOW + 2 * HOUR);
	compare_all(t->store);
}

/* A store from before the fleet rollups: the migration fills them from
 * the rollups it has. */
static void
test_migration_fills_fleet_levels(void **state)
{
	struct temp_store *t = *state;
	char errbuf[512];
	sqlite3 *db = NULL;

	write_history(t->store);
	maintain_all(t->store, NOW + HOUR);
	store_close(t->store);
	t->store = NULL;
	/* as before the fleet levels, then their migration step */
	scalar(t->path, "DROP TABLE statement_fleet_hourly");
	scalar(t->path, "DROP TABLE statement_fleet_daily");
	assert_int_equal(sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, store_sqlite_fleet_rollup_schema, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("the migration step: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	assert_int_equal(store_open(t->path, false, &t->store, errbuf, sizeof(errbuf)), PGF_OK);
	assert_levels_match(t->path);
	compare_all(t->store);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fleet_trend_is_the_sum_of_instances,
		    temp_store_setup, temp_store_teardown),
		cmocka_unit_test_setup_teardown(test_migration_fills_fleet_levels,
		    temp_store_setup, temp_store_teardown),
	};
	pgf_log_init("test_fleet_trend", PGF_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
