/*
 * test_trends.c - table-trend and replication-trend over synthetic
 * history: 30 days of reports (four a day, one day missing) from a
 * primary and its replica, both with a table of the same name. Checks the
 * buckets' last and largest values, growth against the previous bucket
 * with data, the sparklines' length, the ambiguity and not-found errors,
 * and the walsender's lag standing in when the standby's own is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/store.h"
#include "common/log.h"

#define HOUR (3600LL * 1000000)
#define DAY (24 * HOUR)
/* the history ends here (a whole day) */
#define NOW (1790000000LL * 1000000 - 1790000000LL * 1000000 % DAY)
#define DAYS 30
/* one report every 6 hours per instance, an hour into each quarter day */
#define STEP (6 * HOUR)
#define REPORTS (DAYS * 4)
/* no reports on this day */
#define MISSING_DAY 10

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/pgfleet-test-trends-XXXXXX");
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

static int64_t
ts_of(int k)
{
	return NOW - DAYS * DAY + (int64_t) k * STEP + HOUR;
}

/* The primary's orders table at report k: 1000 bytes more each report;
 * dead tuples climb through the day and drop at its last report. */
static int64_t
total_of(int k)
{
	return 1000000 + (int64_t) k * 1000;
}

static int64_t
dead_of(int k)
{
	return k % 4 == 3 ? 5 : (k % 4 + 1) * 100 + k / 4;
}

/* Report k of the primary (db0) or the replica (db1). The replica's own
 * replay delay is 0 (nothing replayed) at every fourth report. */
static void
write_report(struct store *store, int replica, int k)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__TablesFamily tables = PGFLEET__V1__TABLES_FAMILY__INIT;
	Pgfleet__V1__TableStat table = PGFLEET__V1__TABLE_STAT__INIT;
	Pgfleet__V1__TableStat *table_list[1] = {&table};
	Pgfleet__V1__ReplicationFamily replication = PGFLEET__V1__REPLICATION_FAMILY__INIT;
	Pgfleet__V1__ReplicaConnection walsender = PGFLEET__V1__REPLICA_CONNECTION__INIT;
	Pgfleet__V1__ReplicaConnection *walsenders[1] = {&walsender};
	Pgfleet__V1__StandbyStatus standby = PGFLEET__V1__STANDBY_STATUS__INIT;
	char *name = replica ? (char *) "db1" : (char *) "db0";
	char errbuf[512];
	bool duplicate;

	report.agent_id = name;
	report.boot_id = (char *) "boot";
	report.seq = (uint64_t) k + 1;
	report.collected_at_us = ts_of(k);
	report.instance = &identity;
	report.tables = &tables;
	report.replication = &replication;
	identity.name = name;
	identity.system_identifier = (char *) "42";
	identity.host = replica ? (char *) "10.0.0.2" : (char *) "10.0.0.1";
	identity.port = 5432;
	identity.role = replica ? PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA
				: PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	tables.tables = table_list;
	tables.n_tables = 1;
	table.database = (char *) "app";
	table.schema = (char *) "public";
	table.table = (char *) "orders";
	table.relid = 16384;
	table.total_bytes = replica ? 5000 : total_of(k);
	table.n_live_tup = 1000 + k;
	table.n_dead_tup = replica ? 0 : dead_of(k);
	replication.timeline_id = 1;
	if (replica) {
		replication.standby = &standby;
		standby.receiver_status = (char *) "streaming";
		standby.upstream_host = (char *) "10.0.0.1";
		standby.upstream_port = 5432;
		standby.replay_lag_bytes = (int64_t) k * 10;
		standby.replay_delay_seconds = k % 4 == 0 ? 0.0 : (double) k;
		standby.replay_paused = k == 117;
	} else {
		replication.replicas = walsenders;
		replication.n_replicas = 1;
		walsender.application_name = (char *) "db1";
		walsender.client_addr = (char *) "10.0.0.2";
		walsender.state = (char *) "streaming";
		walsender.replay_lag_bytes = (int64_t) k * 7;
		walsender.replay_lag_seconds = 0.5 * (double) k;
	}
	assert_int_equal(store_write_report(store, &report, ts_of(k), &duplicate, errbuf,
	    sizeof(errbuf)), PGF_OK);
	assert_false(duplicate);
}

static void
write_history(struct store *store)
{
	for (int k = 0; k < REPORTS; k++) {
		if (k / 4 == MISSING_DAY)
			continue;
		write_report(store, 0, k);
		write_report(store, 1, k);
	}
}

/* characters (UTF-8 code points) in text: one per bucket in a sparkline */
static size_t
chars(const char *text)
{
	size_t n = 0;
	for (const unsigned char *c = (const unsigned char *) text; *c != '\0'; c++)
		n += (*c & 0xc0) != 0x80;
	return n;
}

static int
table_trend(struct store *store, const char *instance, const char *table,
    Pgfleet__V1__TableTrend **answer, char *errbuf, size_t errlen)
{
	Pgfleet__V1__TableTrendRequest request = PGFLEET__V1__TABLE_TREND_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	int rv;

	scope.instance = (char *) instance;
	scope.since_us = NOW - DAYS * DAY;
	scope.until_us = NOW;
	request.scope = &scope;
	request.table = (char *) table;
	*answer = malloc(sizeof(**answer));
	assert_non_null(*answer);
	pgfleet__v1__table_trend__init(*answer);
	rv = store->ops->table_trend(store, &request, *answer, errbuf, errlen);
	if (rv != PGF_OK) {
		store_answer_free(&(*answer)->base);
		*answer = NULL;
	}
	return rv;
}

static void
test_table_trend(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__TableTrend *answer;
	char errbuf[512];

	write_history(f->store);

	/* on two instances: name one */
	assert_int_equal(table_trend(f->store, "", "orders", &answer, errbuf, sizeof(errbuf)),
	    PGF_EINVAL);
	assert_string_equal(errbuf, "name an instance: table orders exists on db0, db1");
	assert_int_equal(table_trend(f->store, "db0", "nosuch", &answer, errbuf,
	    sizeof(errbuf)), PGF_ENOTFOUND);

	assert_int_equal(table_trend(f->store, "db0", "orders", &answer, errbuf,
	    sizeof(errbuf)), PGF_OK);
	/* 30 days in 1-day buckets, one of them empty */
	assert_string_equal(answer->bucket_width, "1d00h");
	assert_string_equal(answer->instance, "db0");
	assert_string_equal(answer->database, "app");
	assert_string_equal(answer->schema, "public");
	assert_int_equal(answer->n_rows, DAYS - 1);
	assert_int_equal(chars(answer->size_sparkline), DAYS);
	assert_int_equal(chars(answer->dead_tuples_sparkline), DAYS);
	/* the empty day is a space, the one character that is one byte:
	 * 10 block characters before it */
	assert_int_equal(answer->size_sparkline[3 * MISSING_DAY], ' ');
	for (size_t i = 0; i < answer->n_rows; i++) {
		const Pgfleet__V1__TableTrendPoint *point = answer->rows[i];
		int day = (int) i < MISSING_DAY ? (int) i : (int) i + 1;
		int last = day * 4 + 3;
		assert_int_equal(point->bucket_start_us, NOW - DAYS * DAY + day * DAY);
		assert_int_equal(point->total_bytes, total_of(last));
		assert_int_equal(point->n_dead_tup, 5);
		assert_int_equal(point->max_dead_tup, 300 + day);
		assert_int_equal(point->n_live_tup, 1000 + last);
		if (day == 0)
			assert_int_equal(point->growth_bytes, 0);
		else if (day == MISSING_DAY + 1)
			/* against the day before the empty one */
			assert_int_equal(point->growth_bytes, 8000);
		else
			assert_int_equal(point->growth_bytes, 4000);
	}
	assert_string_equal(answer->rows[0]->bucket, "2026-08-22 00:00:00");
	assert_string_equal(answer->rows[0]->total_size, "979 kB");
	store_answer_free(&answer->base);
}

static void
test_replication_trend(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__ReplicationTrendRequest request = PGFLEET__V1__REPLICATION_TREND_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__ReplicationTrend *answer = malloc(sizeof(*answer));
	char errbuf[512];

	write_history(f->store);
	/* the last two days in 6-hour buckets: one report each */
	scope.since_us = NOW - 2 * DAY;
	scope.until_us = NOW;
	request.scope = &scope;
	request.bucket_ms = STEP / 1000;
	assert_non_null(answer);
	pgfleet__v1__replication_trend__init(answer);
	assert_int_equal(f->store->ops->replication_trend(f->store, &request, answer, errbuf,
	    sizeof(errbuf)), PGF_OK);
	assert_string_equal(answer->bucket_width, "6h00m");
	assert_int_equal(answer->n_rows, 8);
	assert_int_equal(chars(answer->lag_sparkline), 8);
	assert_int_equal(strlen(answer->lag_sparkline), 3 * 8);
	for (size_t j = 0; j < answer->n_rows; j++) {
		const Pgfleet__V1__ReplicationTrendPoint *point = answer->rows[j];
		int k = REPORTS - 8 + (int) j;
		assert_string_equal(point->instance, "db1");
		assert_int_equal(point->bucket_start_us, NOW - 2 * DAY + (int64_t) j * STEP);
		assert_int_equal(point->max_replay_lag_bytes, k * 10);
		/* the standby's own delay, or the walsender's lag when it has
		 * none */
		if (k % 4 == 0)
			assert_true(point->max_replay_lag_seconds == 0.5 * k);
		else
			assert_true(point->max_replay_lag_seconds == (double) k);
		assert_int_equal(point->paused, k == 117);
	}
	/* one day buckets over the whole history: the largest of the day */
	store_answer_free(&answer->base);
	answer = malloc(sizeof(*answer));
	assert_non_null(answer);
	pgfleet__v1__replication_trend__init(answer);
	scope.since_us = NOW - DAYS * DAY;
	request.bucket_ms = 0;
	assert_int_equal(f->store->ops->replication_trend(f->store, &request, answer, errbuf,
	    sizeof(errbuf)), PGF_OK);
	assert_string_equal(answer->bucket_width, "1d00h");
	assert_int_equal(answer->n_rows, DAYS - 1);
	assert_int_equal(chars(answer->lag_sparkline), DAYS);
	assert_int_equal(answer->lag_sparkline[3 * MISSING_DAY], ' ');
	assert_string_equal(answer->rows[0]->bucket, "2026-08-22 00:00:00");
	assert_int_equal(answer->rows[0]->max_replay_lag_bytes, 30);
	assert_true(answer->rows[0]->max_replay_lag_seconds == 3.0);
	store_answer_free(&answer->base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_table_trend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_trend, setup, teardown),
	};
	pgf_log_init("test_trends", PGF_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
