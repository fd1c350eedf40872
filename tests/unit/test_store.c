/*
 * test_store.c - the SQLite store on a real file in a temporary directory:
 * reports written once, statements added up by store_slow_queries (calls,
 * total, mean, population stddev from the sums of squares, max, rows), texts
 * cleaned to UTF-8, orders, limit, min_duration_ms, scope and time window
 * filters; a file with a newer schema refused; read-only opens.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "collector/store.h"
#include "common/log.h"

#define FFFD "\xEF\xBF\xBD"
#define SECOND 1000000LL
/* interval ends of the fixture's reports */
#define T0 (1700000000LL * SECOND)
#define T1 (T0 + 60 * SECOND)
#define T2 (T0 + 120 * SECOND)

#define MAX_DELTAS 16

#define assert_near(actual, expected, tolerance) \
	check_near((actual), (expected), (tolerance), #actual, __FILE__, __LINE__)

static void
check_near(double actual, double expected, double tolerance, const char *what,
    const char *file, int line)
{
	if (!(fabs(actual - expected) <= tolerance)) {
		print_error("%s is %.17g, expected %.17g\n", what, actual, expected);
		_fail(file, line);
	}
}

/* A report and everything it points to. */
struct test_report {
	Pgfleet__V1__Report report;
	Pgfleet__V1__InstanceIdentity instance;
	Pgfleet__V1__StatementsFamily family;
	Pgfleet__V1__StatementDelta deltas[MAX_DELTAS];
	Pgfleet__V1__StatementDelta *pointers[MAX_DELTAS];
};

static void
init_report(struct test_report *r, const char *instance, const char *cluster,
    const char *agent_id, uint64_t seq, int64_t interval_end_us)
{
	memset(r, 0, sizeof(*r));
	pgfleet__v1__report__init(&r->report);
	pgfleet__v1__instance_identity__init(&r->instance);
	pgfleet__v1__statements_family__init(&r->family);
	r->report.agent_id = (char *) agent_id;
	r->report.boot_id = (char *) "boot-1";
	r->report.seq = seq;
	r->report.collected_at_us = interval_end_us;
	r->report.instance = &r->instance;
	r->report.statements = &r->family;
	r->instance.name = (char *) instance;
	r->instance.system_identifier = (char *) cluster;
	r->instance.host = (char *) "localhost";
	r->instance.port = 5432;
	r->instance.server_version_num = 160004;
	r->instance.server_version = (char *) "16.4";
	r->family.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
	r->family.interval_start_us = interval_end_us - 60 * SECOND;
	r->family.interval_end_us = interval_end_us;
	r->family.statements = r->pointers;
}

/* add_delta adds a statement whose calls took times[0..n) ms. */
static Pgfleet__V1__StatementDelta *
add_delta(struct test_report *r, int64_t queryid, const char *datname,
    const double *times, size_t n, int64_t rows)
{
	Pgfleet__V1__StatementDelta *d;

	assert_true(r->family.n_statements < MAX_DELTAS);
	d = &r->deltas[r->family.n_statements];
	pgfleet__v1__statement_delta__init(d);
	d->queryid = queryid;
	d->dbid = strcmp(datname, "app") == 0 ? 16384 : 16385;
	d->datname = (char *) datname;
	d->userid = 10;
	d->username = (char *) "web";
	d->toplevel = true;
	d->calls = (int64_t) n;
	d->min_exec_time_ms = n > 0 ? times[0] : 0.0;
	for (size_t i = 0; i < n; i++) {
		d->total_exec_time_ms += times[i];
		d->sum_sq_exec_time_ms2 += times[i] * times[i];
		if (times[i] > d->max_exec_time_ms)
			d->max_exec_time_ms = times[i];
		if (times[i] < d->min_exec_time_ms)
			d->min_exec_time_ms = times[i];
	}
	d->rows = rows;
	d->shared_blks_hit = 10 * (int64_t) n;
	r->pointers[r->family.n_statements++] = d;
	return d;
}

static void
set_text(Pgfleet__V1__StatementDelta *d, const char *text, size_t len, bool truncated)
{
	d->query.data = (uint8_t *) text;
	d->query.len = len;
	d->query_truncated = truncated;
}

/* population standard deviation of values, two passes */
static double
population_stddev(const double *values, size_t n)
{
	double mean = 0.0;
	double squares = 0.0;
	for (size_t i = 0; i < n; i++)
		mean += values[i];
	mean /= (double) n;
	for (size_t i = 0; i < n; i++)
		squares += (values[i] - mean) * (values[i] - mean);
	return sqrt(squares / (double) n);
}

/* The fixture's calls (ms). Statement 101 runs in both reports. */
static const double q101_first[] = { 5.0, 5.0, 15.0, 15.0 };
static const double q101_second[] = { 10.0, 30.0 };
static const double q101_all[] = { 5.0, 5.0, 15.0, 15.0, 10.0, 30.0 };
static const double q202_first[] = { 100.0 };
static double q303_second[50];

static const char q101_text[] = "SELECT \xff 1 FROM t";
static const char q202_text[] = "SELECT pg_sleep($1)";

struct fixture {
	char dir[64];
	char path[128];
	struct store *store;
};

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static int
make_dir(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pgfleet-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	*state = f;
	return 0;
}

static int
open_store(void **state)
{
	struct fixture *f;
	char errbuf[512];
	if (make_dir(state) != 0)
		return -1;
	f = *state;
	if (store_open(f->path, false, &f->store, errbuf, sizeof(errbuf)) != PGF_OK) {
		print_error("%s\n", errbuf);
		return -1;
	}
	return 0;
}

static int
remove_dir(void **state)
{
	struct fixture *f = *state;
	int rc;
	store_close(f->store);
	rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static void
write_report(struct store *store, const struct test_report *r, bool want_duplicate)
{
	char errbuf[512] = "";
	bool duplicate = !want_duplicate;
	int rv = store_write_report(store, &r->report, r->family.interval_end_us + 5,
	    &duplicate, errbuf, sizeof(errbuf));
	if (rv != PGF_OK) {
		print_error("store_write_report: %s\n", errbuf);
		fail();
	}
	assert_int_equal(duplicate, want_duplicate);
}

/* first report of db1: statements 101 and 202 */
static void
first_report(struct test_report *r)
{
	Pgfleet__V1__StatementDelta *d;
	init_report(r, "db1", "111", "agent-1", 1, T1);
	d = add_delta(r, 101, "app", q101_first, 4, 8);
	set_text(d, q101_text, sizeof(q101_text) - 1, false);
	d = add_delta(r, 202, "app", q202_first, 1, 1);
	set_text(d, q202_text, sizeof(q202_text) - 1, true);
}

/* second report of db1: statements 101 (no text: sent before) and 303 */
static void
second_report(struct test_report *r)
{
	for (size_t i = 0; i < 50; i++)
		q303_second[i] = 10.0;
	init_report(r, "db1", "111", "agent-1", 2, T2);
	(void) add_delta(r, 101, "app", q101_second, 2, 2);
	(void) add_delta(r, 303, "reports", q303_second, 50, 50);
}

static void
write_fixture(struct store *store)
{
	struct test_report r;
	first_report(&r);
	write_report(store, &r, false);
	second_report(&r);
	write_report(store, &r, false);
}

/* slow runs store_slow_queries into answer. */
static void
slow(struct store *store, const Pgfleet__V1__Scope *scope, uint32_t limit,
    double min_duration_ms, Pgfleet__V1__SlowQueriesRequest__Order order,
    Pgfleet__V1__SlowQueries *answer)
{
	Pgfleet__V1__SlowQueriesRequest request;
	char errbuf[512] = "";
	int rv;

	pgfleet__v1__slow_queries_request__init(&request);
	request.scope = (Pgfleet__V1__Scope *) scope;
	request.limit = limit;
	request.min_duration_ms = min_duration_ms;
	request.order = order;
	pgfleet__v1__slow_queries__init(answer);
	rv = store_slow_queries(store, &request, answer, errbuf, sizeof(errbuf));
	if (rv != PGF_OK) {
		print_error("store_slow_queries: %s\n", errbuf);
		fail();
	}
}

/* assert_queryids checks the answer's rows are want[0..n), in order. */
static void
assert_queryids(const Pgfleet__V1__SlowQueries *answer, const int64_t *want, size_t n)
{
	if (answer->n_rows != n) {
		print_error("%zu rows, expected %zu\n", answer->n_rows, n);
		fail();
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(answer->rows[i]->queryid, want[i]);
}

#define ORDER_TOTAL PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL
#define ORDER_MEAN PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN
#define ORDER_CALLS PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS
#define IDS(...) ((const int64_t[]) { __VA_ARGS__ }), \
	(sizeof((const int64_t[]) { __VA_ARGS__ }) / sizeof(int64_t))

static void
test_aggregates(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__SlowQueries answer;
	const Pgfleet__V1__SlowQuery *row;

	write_fixture(f->store);
	slow(f->store, NULL, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303, 202, 101));

	/* 101: four calls in the first report, two in the second */
	row = answer.rows[2];
	assert_string_equal(row->instance, "db1");
	assert_string_equal(row->database, "app");
	assert_int_equal(row->calls, 6);
	assert_near(row->total_seconds, 0.080, 1e-12);
	assert_near(row->mean_seconds, 0.080 / 6.0, 1e-12);
	assert_near(row->stddev_seconds, population_stddev(q101_all, 6) / 1000.0, 1e-9);
	assert_near(row->stddev_seconds, sqrt(1500.0 / 6.0 - (80.0 / 6.0) * (80.0 / 6.0)) / 1000.0,
	    1e-12);
	assert_near(row->max_seconds, 0.030, 1e-12);
	assert_int_equal(row->rows, 10);
	/* the invalid byte became U+FFFD; the text of the first report stays */
	assert_string_equal(row->query, "SELECT " FFFD " 1 FROM t");
	assert_false(row->query_truncated);

	row = answer.rows[1];
	assert_string_equal(row->database, "app");
	assert_int_equal(row->calls, 1);
	assert_near(row->total_seconds, 0.1, 1e-12);
	assert_near(row->mean_seconds, 0.1, 1e-12);
	assert_near(row->stddev_seconds, 0.0, 0.0);
	assert_near(row->max_seconds, 0.1, 1e-12);
	assert_int_equal(row->rows, 1);
	assert_string_equal(row->query, q202_text);
	assert_true(row->query_truncated);

	/* equal times: the variance from sums may round below zero, never
	 * a NaN */
	row = answer.rows[0];
	assert_string_equal(row->database, "reports");
	assert_int_equal(row->calls, 50);
	assert_near(row->total_seconds, 0.5, 1e-12);
	assert_near(row->mean_seconds, 0.010, 1e-12);
	assert_near(row->stddev_seconds, 0.0, 1e-9);
	assert_near(row->max_seconds, 0.010, 1e-12);
	assert_int_equal(row->rows, 50);
	/* no text was ever sent */
	assert_string_equal(row->query, "");
	assert_false(row->query_truncated);
	store_slow_queries_fini(&answer);
	assert_int_equal(answer.n_rows, 0);
	assert_null(answer.rows);
}

static void
test_orders_and_limit(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__SlowQueries answer;

	write_fixture(f->store);
	slow(f->store, NULL, 0, 0.0, ORDER_MEAN, &answer);
	assert_queryids(&answer, IDS(202, 101, 303));
	store_slow_queries_fini(&answer);
	slow(f->store, NULL, 0, 0.0, ORDER_CALLS, &answer);
	assert_queryids(&answer, IDS(303, 101, 202));
	store_slow_queries_fini(&answer);

	slow(f->store, NULL, 2, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303, 202));
	store_slow_queries_fini(&answer);
	slow(f->store, NULL, 1, 0.0, ORDER_CALLS, &answer);
	assert_queryids(&answer, IDS(303));
	store_slow_queries_fini(&answer);
	slow(f->store, NULL, 1, 0.0, ORDER_MEAN, &answer);
	assert_queryids(&answer, IDS(202));
	store_slow_queries_fini(&answer);

	/* an order this collector does not know falls back to total */
	slow(f->store, NULL, 0, 0.0, (Pgfleet__V1__SlowQueriesRequest__Order) 77, &answer);
	assert_queryids(&answer, IDS(303, 202, 101));
	store_slow_queries_fini(&answer);
}

static void
test_default_limit(void **state)
{
	struct fixture *f = *state;
	struct test_report r;
	Pgfleet__V1__SlowQueries answer;
	double times[12];

	init_report(&r, "db1", "111", "agent-1", 1, T1);
	for (size_t i = 0; i < 12; i++) {
		times[i] = 1.0 + (double) i;
		(void) add_delta(&r, 500 + (int64_t) i, "app", &times[i], 1, 1);
	}
	write_report(f->store, &r, false);
	slow(f->store, NULL, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(511, 510, 509, 508, 507, 506, 505, 504, 503, 502));
	store_slow_queries_fini(&answer);
	slow(f->store, NULL, 100, 0.0, ORDER_TOTAL, &answer);
	assert_int_equal(answer.n_rows, 12);
	store_slow_queries_fini(&answer);
}

static void
test_min_duration(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__SlowQueries answer;

	write_fixture(f->store);
	/* means: 202 100 ms, 101 13.33 ms, 303 10 ms */
	slow(f->store, NULL, 0, 10.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303, 202, 101));
	store_slow_queries_fini(&answer);
	slow(f->store, NULL, 0, 10.5, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(202, 101));
	store_slow_queries_fini(&answer);
	slow(f->store, NULL, 0, 13.4, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(202));
	store_slow_queries_fini(&answer);
	slow(f->store, NULL, 0, 100.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(202));
	store_slow_queries_fini(&answer);
	slow(f->store, NULL, 0, 100.5, ORDER_TOTAL, &answer);
	assert_int_equal(answer.n_rows, 0);
	store_slow_queries_fini(&answer);
}

static void
test_scope_filters(void **state)
{
	struct fixture *f = *state;
	static const double slow_call[] = { 1000.0 };
	struct test_report r;
	Pgfleet__V1__SlowQueries answer;
	Pgfleet__V1__Scope scope;

	write_fixture(f->store);
	/* another instance of another cluster runs statement 101 too */
	init_report(&r, "db2", "222", "agent-2", 1, T1);
	(void) add_delta(&r, 101, "app", slow_call, 1, 1);
	write_report(f->store, &r, false);

	slow(f->store, NULL, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(101, 303, 202, 101));
	assert_string_equal(answer.rows[0]->instance, "db2");
	assert_int_equal(answer.rows[0]->calls, 1);
	assert_string_equal(answer.rows[3]->instance, "db1");
	assert_int_equal(answer.rows[3]->calls, 6);
	store_slow_queries_fini(&answer);

	pgfleet__v1__scope__init(&scope);
	scope.instance = (char *) "db1";
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303, 202, 101));
	for (size_t i = 0; i < answer.n_rows; i++)
		assert_string_equal(answer.rows[i]->instance, "db1");
	store_slow_queries_fini(&answer);

	scope.instance = (char *) "db2";
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(101));
	assert_string_equal(answer.rows[0]->instance, "db2");
	assert_near(answer.rows[0]->total_seconds, 1.0, 1e-12);
	/* texts belong to an instance: db2 never sent one */
	assert_string_equal(answer.rows[0]->query, "");
	store_slow_queries_fini(&answer);

	scope.instance = (char *) "db3";
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_int_equal(answer.n_rows, 0);
	store_slow_queries_fini(&answer);

	pgfleet__v1__scope__init(&scope);
	scope.cluster = (char *) "222";
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(101));
	assert_string_equal(answer.rows[0]->instance, "db2");
	store_slow_queries_fini(&answer);

	pgfleet__v1__scope__init(&scope);
	scope.database = (char *) "reports";
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303));
	store_slow_queries_fini(&answer);
}

static void
test_time_window(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__SlowQueries answer;
	Pgfleet__V1__Scope scope;

	write_fixture(f->store);
	pgfleet__v1__scope__init(&scope);

	/* from the second report on: 101's last two calls, and 303 */
	scope.since_us = T2;
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303, 101));
	assert_int_equal(answer.rows[1]->calls, 2);
	assert_near(answer.rows[1]->total_seconds, 0.040, 1e-12);
	assert_near(answer.rows[1]->mean_seconds, 0.020, 1e-12);
	assert_near(answer.rows[1]->stddev_seconds, population_stddev(q101_second, 2) / 1000.0,
	    1e-12);
	assert_near(answer.rows[1]->stddev_seconds, 0.010, 1e-12);
	assert_int_equal(answer.rows[1]->rows, 2);
	store_slow_queries_fini(&answer);

	/* until is exclusive: only the first report */
	scope.since_us = 0;
	scope.until_us = T2;
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(202, 101));
	assert_int_equal(answer.rows[1]->calls, 4);
	assert_near(answer.rows[1]->mean_seconds, 0.010, 1e-12);
	assert_near(answer.rows[1]->stddev_seconds, population_stddev(q101_first, 4) / 1000.0,
	    1e-12);
	assert_near(answer.rows[1]->stddev_seconds, 0.005, 1e-12);
	assert_near(answer.rows[1]->max_seconds, 0.015, 1e-12);
	store_slow_queries_fini(&answer);

	/* both */
	scope.since_us = T1;
	scope.until_us = T2 + 1;
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303, 202, 101));
	assert_int_equal(answer.rows[2]->calls, 6);
	store_slow_queries_fini(&answer);

	/* neither */
	scope.since_us = T2 + 1;
	scope.until_us = 0;
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_int_equal(answer.n_rows, 0);
	store_slow_queries_fini(&answer);
	scope.since_us = 0;
	scope.until_us = T1;
	slow(f->store, &scope, 0, 0.0, ORDER_TOTAL, &answer);
	assert_int_equal(answer.n_rows, 0);
	store_slow_queries_fini(&answer);
}

/* count_rows returns SELECT count(*) FROM table in the file at path. */
static int64_t
count_rows(const char *path, const char *table)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	char sql[128];
	int64_t count;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	count = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return count;
}

static void
test_duplicate_stored_once(void **state)
{
	struct fixture *f = *state;
	struct test_report r;
	Pgfleet__V1__SlowQueries answer;

	write_fixture(f->store);
	first_report(&r);
	write_report(f->store, &r, true);
	second_report(&r);
	write_report(f->store, &r, true);
	assert_int_equal(count_rows(f->path, "reports"), 2);
	assert_int_equal(count_rows(f->path, "statement_stats"), 4);
	assert_int_equal(count_rows(f->path, "statement_texts"), 2);
	assert_int_equal(count_rows(f->path, "instances"), 1);

	slow(f->store, NULL, 0, 0.0, ORDER_CALLS, &answer);
	assert_queryids(&answer, IDS(303, 101, 202));
	assert_int_equal(answer.rows[0]->calls, 50);
	assert_int_equal(answer.rows[1]->calls, 6);
	assert_int_equal(answer.rows[2]->calls, 1);
	store_slow_queries_fini(&answer);

	/* the same seq under another boot id is another report */
	first_report(&r);
	r.report.boot_id = (char *) "boot-2";
	write_report(f->store, &r, false);
	assert_int_equal(count_rows(f->path, "reports"), 3);
	assert_int_equal(count_rows(f->path, "statement_stats"), 6);
}

/* slow_grouped runs store_slow_queries with a grouping, default order. */
static void
slow_grouped(struct store *store, Pgfleet__V1__SlowQueriesRequest__Group group,
    Pgfleet__V1__SlowQueries *answer)
{
	Pgfleet__V1__SlowQueriesRequest request;
	char errbuf[512] = "";

	pgfleet__v1__slow_queries_request__init(&request);
	request.group = group;
	pgfleet__v1__slow_queries__init(answer);
	if (store_slow_queries(store, &request, answer, errbuf, sizeof(errbuf)) != PGF_OK) {
		print_error("store_slow_queries: %s\n", errbuf);
		fail();
	}
}

/* A cluster adds a queryid up over its primary and replica; the fleet adds
 * the same statement up across clusters by its fingerprint, whatever its
 * queryid and spelling there. */
static void
test_cluster_and_fleet_groups(void **state)
{
	static const char primary_text[] = "SELECT * FROM orders WHERE id = $1";
	static const char other_text[] = "select *  from orders where id = $1";
	static const double times[] = {10.0, 20.0, 30.0};
	struct fixture *f = *state;
	struct test_report r;
	Pgfleet__V1__SlowQueries answer;
	Pgfleet__V1__StatementDelta *d;

	init_report(&r, "c1-primary", "111", "agent-p", 1, T1);
	d = add_delta(&r, 500, "app", times, 3, 3);
	set_text(d, primary_text, sizeof(primary_text) - 1, false);
	write_report(f->store, &r, false);
	init_report(&r, "c1-replica", "111", "agent-r", 1, T1);
	d = add_delta(&r, 500, "app", times, 2, 2);
	set_text(d, primary_text, sizeof(primary_text) - 1, false);
	write_report(f->store, &r, false);
	init_report(&r, "c2-primary", "222", "agent-q", 1, T1);
	d = add_delta(&r, 900, "app", times, 1, 1);
	set_text(d, other_text, sizeof(other_text) - 1, false);
	write_report(f->store, &r, false);

	slow_grouped(f->store, PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_INSTANCE, &answer);
	assert_int_equal(answer.n_rows, 3);
	store_slow_queries_fini(&answer);

	slow_grouped(f->store, PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_CLUSTER, &answer);
	assert_int_equal(answer.n_rows, 2);
	assert_int_equal(answer.rows[0]->calls, 5);
	assert_int_equal(answer.rows[0]->instances, 2);
	assert_string_equal(answer.rows[0]->cluster, "111");
	assert_near(answer.rows[0]->total_seconds, 0.09, 1e-9);
	assert_int_equal(answer.rows[1]->calls, 1);
	store_slow_queries_fini(&answer);

	slow_grouped(f->store, PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET, &answer);
	assert_int_equal(answer.n_rows, 1);
	assert_int_equal(answer.rows[0]->calls, 6);
	assert_int_equal(answer.rows[0]->instances, 3);
	assert_near(answer.rows[0]->total_seconds, 0.1, 1e-9);
	store_slow_queries_fini(&answer);
}

/* instance_role returns the stored role of instance name (malloc'd). */
static char *
instance_role(const char *path, const char *name)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	char *role;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT role FROM instances WHERE name = ?1",
	    -1, &stmt, NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	role = strdup((const char *) sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return role;
}

/* A backlog replayed late (older collection time) must not roll the
 * instance's identity back, e.g. undo a failover. */
static void
test_older_report_keeps_identity(void **state)
{
	struct fixture *f = *state;
	struct test_report r;
	char *role;

	init_report(&r, "db1", "111", "agent-1", 5, T2);
	r.instance.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	write_report(f->store, &r, false);
	init_report(&r, "db1", "111", "agent-1", 1, T1);
	r.instance.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA;
	write_report(f->store, &r, false);
	role = instance_role(f->path, "db1");
	assert_string_equal(role, "primary");
	free(role);
	/* a newer one does change it */
	init_report(&r, "db1", "111", "agent-1", 6, T2 + SECOND);
	r.instance.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA;
	write_report(f->store, &r, false);
	role = instance_role(f->path, "db1");
	assert_string_equal(role, "replica");
	free(role);
}

static void
test_only_ok_families_stored(void **state)
{
	struct fixture *f = *state;
	struct test_report r;
	Pgfleet__V1__SlowQueries answer;

	first_report(&r);
	r.family.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_BASELINE;
	write_report(f->store, &r, false);
	init_report(&r, "db1", "111", "agent-1", 2, T2);
	r.report.statements = NULL;
	write_report(f->store, &r, false);
	assert_int_equal(count_rows(f->path, "reports"), 2);
	assert_int_equal(count_rows(f->path, "statement_stats"), 0);
	slow(f->store, NULL, 0, 0.0, ORDER_TOTAL, &answer);
	assert_int_equal(answer.n_rows, 0);
	store_slow_queries_fini(&answer);
}

static void
test_reopen_and_read_only(void **state)
{
	struct fixture *f = *state;
	struct store *reader = NULL;
	char errbuf[512] = "";
	Pgfleet__V1__SlowQueries answer;

	write_fixture(f->store);
	/* a reader sees what the writer committed, while it is open */
	assert_int_equal(store_open(f->path, true, &reader, errbuf, sizeof(errbuf)), PGF_OK);
	slow(reader, NULL, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303, 202, 101));
	store_slow_queries_fini(&answer);
	store_close(reader);

	/* reopening the writer keeps the data and migrates nothing */
	store_close(f->store);
	f->store = NULL;
	assert_int_equal(store_open(f->path, false, &f->store, errbuf, sizeof(errbuf)), PGF_OK);
	slow(f->store, NULL, 0, 0.0, ORDER_TOTAL, &answer);
	assert_queryids(&answer, IDS(303, 202, 101));
	assert_int_equal(answer.rows[2]->calls, 6);
	store_slow_queries_fini(&answer);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct store *store = (struct store *) &store;
	sqlite3 *db = NULL;
	char errbuf[512] = "";

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	assert_int_equal(store_open(f->path, false, &store, errbuf, sizeof(errbuf)),
	    PGF_ESTORE);
	assert_null(store);
	assert_non_null(strstr(errbuf, "newer"));
	assert_non_null(strstr(errbuf, "99"));
	assert_non_null(strstr(errbuf, f->path));

	store = (struct store *) &store;
	errbuf[0] = '\0';
	assert_int_equal(store_open(f->path, true, &store, errbuf, sizeof(errbuf)),
	    PGF_ESTORE);
	assert_null(store);
	assert_non_null(strstr(errbuf, "99"));

	/* the file was left as it was: nothing migrated, nothing created */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	{
		sqlite3_stmt *stmt = NULL;
		assert_int_equal(sqlite3_prepare_v2(db,
		    "SELECT (SELECT user_version FROM pragma_user_version),"
		    " (SELECT count(*) FROM sqlite_master)", -1, &stmt, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(stmt, 0), 99);
		assert_int_equal(sqlite3_column_int(stmt, 1), 0);
		sqlite3_finalize(stmt);
	}
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
test_read_only_missing(void **state)
{
	struct fixture *f = *state;
	struct store *store = (struct store *) &store;
	char errbuf[512] = "";
	struct stat st;

	assert_int_equal(store_open(f->path, true, &store, errbuf, sizeof(errbuf)),
	    PGF_ESTORE);
	assert_null(store);
	assert_non_null(strstr(errbuf, f->path));
	/* and did not create it */
	assert_int_equal(stat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_read_only_empty_schema(void **state)
{
	struct fixture *f = *state;
	struct store *store = (struct store *) &store;
	sqlite3 *db = NULL;
	char errbuf[512] = "";

	/* a file that is not (yet) a store */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE x (y)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(store_open(f->path, true, &store, errbuf, sizeof(errbuf)),
	    PGF_ESTORE);
	assert_null(store);
	assert_non_null(strstr(errbuf, "schema version 0"));
}

/* the store's name as logged never carries a password */
static void
test_display_name_hides_passwords(void **state)
{
	char buf[256];
	(void) state;
	assert_string_equal(store_display_name("/var/lib/pgfleet/pgfleet.db", buf, sizeof(buf)),
	    "/var/lib/pgfleet/pgfleet.db");
	assert_string_equal(store_display_name("postgresql://fleet:s3cret@db:5432/pgfleet", buf,
				sizeof(buf)),
	    "postgresql://fleet:***@db:5432/pgfleet");
	assert_string_equal(store_display_name("postgres://fleet@db/pgfleet?password=x&sslmode=require",
				buf, sizeof(buf)),
	    "postgres://fleet@db/pgfleet?password=***&sslmode=require");
	/* an '@' after the path is no userinfo */
	assert_string_equal(store_display_name("postgresql://db:5432/pg?application_name=a:b@c", buf,
				sizeof(buf)),
	    "postgresql://db:5432/pg?application_name=a:b@c");
	/* truncated, still terminated */
	assert_string_equal(store_display_name("postgresql://u:p@h/d", buf, 8), "postgre");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_display_name_hides_passwords),
		cmocka_unit_test_setup_teardown(test_aggregates, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_orders_and_limit, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_default_limit, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_min_duration, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_scope_filters, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_time_window, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_duplicate_stored_once, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_only_ok_families_stored, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_older_report_keeps_identity, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_cluster_and_fleet_groups, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_reopen_and_read_only, open_store, remove_dir),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_read_only_missing, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_read_only_empty_schema, make_dir, remove_dir),
	};
	/* migrations log at info level; keep the output to failures */
	pgf_log_init("test_store", PGF_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
