/*
 * test_store_pools.c - pools and regressions on a real SQLite store in a
 * temporary directory: activity snapshots become per-application pool
 * samples (pool_size the median held, latest checked out / in), pgbouncer
 * pools come from the pool family (its admin console left out), the
 * statement load of a database is shared by the pools using it (Little's
 * law over the wall time the intervals cover), the instance's budget is
 * read; regressions are found in raw rows and, after a rollup, in hourly
 * ones, per instance and per cluster, with the window's defaults.
 */
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

#include "collector/store.h"

#define SECOND 1000000LL
#define HOUR (3600 * SECOND)
#define DAY (24 * HOUR)
/* a whole day, so that rollups have whole hours and days */
#define T0 (1700006400LL * SECOND)
#define MAX_ITEMS 8

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
	Pgfleet__V1__StatementsFamily statements;
	Pgfleet__V1__StatementDelta deltas[MAX_ITEMS];
	Pgfleet__V1__StatementDelta *delta_pointers[MAX_ITEMS];
	Pgfleet__V1__ActivityFamily activity;
	Pgfleet__V1__ConnectionGroup groups[MAX_ITEMS];
	Pgfleet__V1__ConnectionGroup *group_pointers[MAX_ITEMS];
	Pgfleet__V1__PoolFamily pool;
	Pgfleet__V1__PoolerPool pools[MAX_ITEMS];
	Pgfleet__V1__PoolerPool *pool_pointers[MAX_ITEMS];
};

static uint64_t next_seq;

static void
init_report(struct test_report *r, const char *instance, int64_t at_us)
{
	memset(r, 0, sizeof(*r));
	pgfleet__v1__report__init(&r->report);
	pgfleet__v1__instance_identity__init(&r->instance);
	r->report.agent_id = (char *) instance;
	r->report.boot_id = (char *) "boot-1";
	r->report.seq = ++next_seq;
	r->report.collected_at_us = at_us;
	r->report.instance = &r->instance;
	r->instance.name = (char *) instance;
	r->instance.system_identifier = (char *) "42";
	r->instance.host = (char *) "localhost";
	r->instance.port = 5432;
	r->instance.server_version_num = 150004;
	r->instance.server_version = (char *) "15.4";
	r->instance.role = strcmp(instance, "db-1") == 0
	    ? PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY
	    : PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA;
}

/* A statements family of one interval of `seconds` ending at the report. */
static void
add_statement(struct test_report *r, int64_t queryid, const char *datname, int64_t calls,
    double each_ms, int64_t seconds)
{
	Pgfleet__V1__StatementDelta *d;

	if (r->report.statements == NULL) {
		pgfleet__v1__statements_family__init(&r->statements);
		r->statements.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
		r->statements.interval_start_us = r->report.collected_at_us - seconds * SECOND;
		r->statements.interval_end_us = r->report.collected_at_us;
		r->statements.statements = r->delta_pointers;
		r->report.statements = &r->statements;
	}
	assert_true(r->statements.n_statements < MAX_ITEMS);
	d = &r->deltas[r->statements.n_statements];
	pgfleet__v1__statement_delta__init(d);
	d->queryid = queryid;
	d->dbid = 1;
	d->datname = (char *) datname;
	d->userid = 10;
	d->username = (char *) "web";
	d->toplevel = true;
	d->calls = calls;
	d->total_exec_time_ms = (double) calls * each_ms;
	d->sum_sq_exec_time_ms2 = (double) calls * each_ms * each_ms;
	d->max_exec_time_ms = each_ms;
	d->min_exec_time_ms = each_ms;
	if (queryid == 7) {
		d->query.data = (uint8_t *) "SELECT slow()";
		d->query.len = strlen("SELECT slow()");
	}
	r->delta_pointers[r->statements.n_statements++] = d;
}

static void
add_group(struct test_report *r, const char *application, const char *database,
    const char *state, int64_t count)
{
	Pgfleet__V1__ConnectionGroup *g;

	if (r->report.activity == NULL) {
		pgfleet__v1__activity_family__init(&r->activity);
		r->activity.connections = r->group_pointers;
		r->activity.max_connections = 20;
		r->activity.superuser_reserved_connections = 3;
		r->report.activity = &r->activity;
	}
	assert_true(r->activity.n_connections < MAX_ITEMS);
	g = &r->groups[r->activity.n_connections];
	pgfleet__v1__connection_group__init(g);
	g->application_name = (char *) application;
	g->database = (char *) database;
	g->user = (char *) "web";
	g->client_addr = (char *) "10.0.0.1";
	g->state = (char *) state;
	g->count = count;
	r->group_pointers[r->activity.n_connections++] = g;
	r->activity.total_connections += count;
}

static void
add_pooler(struct test_report *r, const char *database, int64_t sv_active, int64_t sv_idle,
    int64_t cl_waiting)
{
	Pgfleet__V1__PoolerPool *p;

	if (r->report.pool == NULL) {
		pgfleet__v1__pool_family__init(&r->pool);
		r->pool.pools = r->pool_pointers;
		r->pool.default_pool_size = 2;
		r->report.pool = &r->pool;
	}
	p = &r->pools[r->pool.n_pools];
	pgfleet__v1__pooler_pool__init(p);
	p->database = (char *) database;
	p->user = (char *) "web";
	p->sv_active = sv_active;
	p->sv_idle = sv_idle;
	p->cl_waiting = cl_waiting;
	p->pool_mode = (char *) "transaction";
	r->pool_pointers[r->pool.n_pools++] = p;
}

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

static void
write_report(struct store *store, const struct test_report *r)
{
	char errbuf[512] = "";
	bool duplicate = true;
	if (store_write_report(store, &r->report, r->report.collected_at_us + 5, &duplicate,
		errbuf, sizeof(errbuf)) != PGF_OK) {
		print_error("store_write_report: %s\n", errbuf);
		fail();
	}
	assert_false(duplicate);
}

/*
 * db-1, ten snapshots a second apart from T0 - 9 s to T0: "web" holds 4
 * connections to "app", 3 active and 1 idle; "batch" holds 1 idle in
 * transaction at every other snapshot (not the last); the statements of
 * "app" take 3000 ms a second (3 busy by Little's law); pgbouncer's pool
 * app/web has 2 active, 1 idle and up to 2 clients waiting; its admin
 * console a pool of its own.
 */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char errbuf[512];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pgfleet-test-pools-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	*state = f;
	if (store_open(f->path, false, &f->store, errbuf, sizeof(errbuf)) != PGF_OK) {
		print_error("%s\n", errbuf);
		return -1;
	}
	for (int k = 0; k < 10; k++) {
		struct test_report r;
		init_report(&r, "db-1", T0 - (9 - k) * SECOND);
		add_group(&r, "web", "app", "active", 3);
		add_group(&r, "web", "app", "idle", 1);
		if (k % 2 == 0)
			add_group(&r, "batch", "app", "idle in transaction", 1);
		add_statement(&r, 1, "app", 300, 10.0, 1);
		add_pooler(&r, "app", 2, 1, k == 4 ? 2 : (k == 5 ? 1 : 0));
		add_pooler(&r, "pgbouncer", 0, 0, 0);
		write_report(f->store, &r);
	}
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;
	store_close(f->store);
	rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static Pgfleet__V1__Scope
window(int64_t since_us, int64_t until_us)
{
	Pgfleet__V1__Scope scope;
	pgfleet__v1__scope__init(&scope);
	scope.since_us = since_us;
	scope.until_us = until_us;
	return scope;
}

static const void *
find_row(void **rows, size_t n, const char *source, const char *application)
{
	for (size_t i = 0; i < n; i++) {
		const Pgfleet__V1__PoolStatsRow *row = rows[i];
		/* both row types start with the same base; compare by field */
		const ProtobufCFieldDescriptor *s = protobuf_c_message_descriptor_get_field_by_name(
		    row->base.descriptor, "source");
		const ProtobufCFieldDescriptor *a = protobuf_c_message_descriptor_get_field_by_name(
		    row->base.descriptor, "application");
		if (strcmp(*(char **) ((char *) rows[i] + s->offset), source) == 0 &&
		    strcmp(*(char **) ((char *) rows[i] + a->offset), application) == 0)
			return rows[i];
	}
	return NULL;
}

static void
test_pool_stats(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__Scope scope = window(T0 - 60 * SECOND, T0 + SECOND);
	Pgfleet__V1__PoolStatsRequest request;
	Pgfleet__V1__PoolStats *answer = malloc(sizeof(*answer));
	const Pgfleet__V1__PoolStatsRow *web, *batch, *bouncer;
	char errbuf[512];

	pgfleet__v1__pool_stats_request__init(&request);
	request.scope = &scope;
	pgfleet__v1__pool_stats__init(answer);
	assert_int_equal(f->store->ops->pool_stats(f->store, &request, answer, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(answer->n_rows, 3);
	web = find_row((void **) answer->rows, answer->n_rows, "server", "web");
	batch = find_row((void **) answer->rows, answer->n_rows, "server", "batch");
	bouncer = find_row((void **) answer->rows, answer->n_rows, "pgbouncer", "app/web");
	assert_non_null(web);
	assert_non_null(batch);
	assert_non_null(bouncer);
	assert_null(find_row((void **) answer->rows, answer->n_rows, "pgbouncer",
	    "pgbouncer/web"));
	assert_int_equal(web->pool_size, 4);
	assert_int_equal(web->total_connections, 4);
	assert_int_equal(web->checked_out, 3);
	assert_int_equal(web->checked_in, 1);
	assert_int_equal(web->overflow, 0);
	assert_int_equal(web->samples, 10);
	assert_string_equal(web->instance, "db-1");
	assert_string_equal(web->cluster, "42");
	/* batch: present at 5 of the 10 snapshots, not at the last */
	assert_int_equal(batch->pool_size, 1);
	assert_int_equal(batch->samples, 5);
	assert_int_equal(batch->total_connections, 0);
	assert_int_equal(batch->max_connections_held, 1);
	/* pgbouncer: the pool's size from SHOW CONFIG, the last SHOW POOLS */
	assert_int_equal(bouncer->pool_size, 2);
	assert_int_equal(bouncer->checked_out, 2);
	assert_int_equal(bouncer->checked_in, 1);
	assert_int_equal(bouncer->total_connections, 3);
	assert_int_equal(bouncer->overflow, 1);
	assert_int_equal(bouncer->waiting, 0);
	store_answer_free(&answer->base);
}

static void
test_pool_recommendation(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__Scope scope = window(T0 - 60 * SECOND, T0 + SECOND);
	Pgfleet__V1__PoolRecommendationRequest request;
	Pgfleet__V1__PoolRecommendation *answer = malloc(sizeof(*answer));
	const Pgfleet__V1__PoolRecommendationRow *web, *batch, *bouncer;
	char errbuf[512];

	pgfleet__v1__pool_recommendation_request__init(&request);
	request.scope = &scope;
	pgfleet__v1__pool_recommendation__init(answer);
	assert_int_equal(f->store->ops->pool_recommendation(f->store, &request, answer, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	web = find_row((void **) answer->rows, answer->n_rows, "server", "web");
	batch = find_row((void **) answer->rows, answer->n_rows, "server", "batch");
	bouncer = find_row((void **) answer->rows, answer->n_rows, "pgbouncer", "app/web");
	assert_non_null(web);
	assert_non_null(batch);
	assert_non_null(bouncer);
	/* 30 s of statement time over the 10 s the intervals cover; web was
	 * 3 busy per snapshot, batch 0.5 on average: 6/7 and 1/7 of it */
	assert_near(web->window_seconds, 10.0, 1e-9);
	assert_near(web->avg_busy_connections, 3.0 * 6.0 / 7.0, 1e-9);
	assert_near(batch->avg_busy_connections, 3.0 / 7.0, 1e-9);
	assert_near(web->avg_query_seconds, 0.01, 1e-12);
	assert_near(web->p95_busy_connections, 3.0, 0);
	assert_int_equal(web->current_pool_size, 4);
	assert_int_equal(web->recommended_pool_size, 3);
	assert_string_equal(web->driven_by, "p95");
	assert_string_equal(web->recommendation, "decrease");
	assert_int_equal(batch->recommended_pool_size, 1);
	assert_string_equal(batch->recommendation, "keep");
	assert_int_equal(web->connection_budget, 17);
	assert_int_equal(web->max_connections, 20);
	assert_int_equal(web->reserved_connections, 3);
	assert_non_null(strstr(web->reason, "shared by 2 pools"));
	/* pgbouncer's pool takes the whole load of its database (3 busy),
	 * and 2 clients waited beyond its 2: 4 */
	assert_near(bouncer->avg_busy_connections, 3.0, 1e-9);
	assert_int_equal(bouncer->current_pool_size, 2);
	assert_int_equal(bouncer->recommended_pool_size, 4);
	assert_string_equal(bouncer->driven_by, "waiting");
	assert_true(bouncer->overflow_used);
	store_answer_free(&answer->base);
}

/* Runs query_regressions; the answer is the caller's to free. */
static Pgfleet__V1__QueryRegressions *
regressions(struct store *store, int64_t since_us, int64_t until_us,
    Pgfleet__V1__QueryRegressionsRequest__Group group)
{
	Pgfleet__V1__Scope scope = window(since_us, until_us);
	Pgfleet__V1__QueryRegressionsRequest request;
	Pgfleet__V1__QueryRegressions *answer = malloc(sizeof(*answer));
	char errbuf[512];

	pgfleet__v1__query_regressions_request__init(&request);
	request.scope = &scope;
	request.group = group;
	pgfleet__v1__query_regressions__init(answer);
	if (store->ops->query_regressions(store, &request, answer, errbuf, sizeof(errbuf)) !=
	    PGF_OK) {
		print_error("query_regressions: %s\n", errbuf);
		fail();
	}
	return answer;
}

static void
test_regressions_raw_and_rolled_up(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__QueryRegressions *answer;
	struct store_retention retention = {DAY, 90 * DAY, 365 * DAY};
	char errbuf[512];
	bool more = true;

	/* statement 7: 10 ms three days ago and on the replica two days ago,
	 * 50 ms in the last minute on db-1 (40 ms x 50 calls = 2 s more) */
	for (int k = 0; k < 2; k++) {
		struct test_report r;
		init_report(&r, k == 0 ? "db-1" : "db-2", T0 - (3 - k) * DAY);
		add_statement(&r, 7, "app", 100, 10.0, 60);
		write_report(f->store, &r);
	}
	{
		struct test_report r;
		init_report(&r, "db-1", T0 - 30 * SECOND);
		add_statement(&r, 7, "app", 50, 50.0, 20);
		/* 1 a steady statement */
		add_statement(&r, 1, "app", 300, 10.0, 20);
		write_report(f->store, &r);
	}
	answer = regressions(f->store, T0 - HOUR, T0 + SECOND,
	    PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_INSTANCE);
	assert_int_equal(answer->n_rows, 1);
	assert_int_equal(answer->rows[0]->queryid, 7);
	assert_string_equal(answer->rows[0]->instance, "db-1");
	assert_string_equal(answer->rows[0]->query, "SELECT slow()");
	assert_near(answer->rows[0]->factor, 5.0, 1e-9);
	assert_near(answer->rows[0]->extra_seconds, 2.0, 1e-9);
	assert_int_equal(answer->rows[0]->calls, 50);
	assert_int_equal(answer->rows[0]->baseline_calls, 100);
	assert_true(answer->rows[0]->t_statistic >= 3.0);
	store_answer_free(&answer->base);

	/* per cluster: the replica's 10 ms calls join the baseline */
	answer = regressions(f->store, T0 - HOUR, T0 + SECOND,
	    PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_CLUSTER);
	assert_int_equal(answer->n_rows, 1);
	assert_int_equal(answer->rows[0]->baseline_calls, 200);
	assert_int_equal(answer->rows[0]->instances, 2);
	assert_string_equal(answer->rows[0]->instance, "db-1,db-2");
	store_answer_free(&answer->base);

	/* roll the old rows up into hourly and daily sums (raw ones pruned):
	 * the same answer from the rollups */
	while (more)
		assert_int_equal(store_maintain(f->store, T0 - 6 * HOUR, &retention, &more,
				     errbuf, sizeof(errbuf)),
		    PGF_OK);
	answer = regressions(f->store, T0 - HOUR, T0 + SECOND,
	    PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_INSTANCE);
	assert_int_equal(answer->n_rows, 1);
	assert_near(answer->rows[0]->factor, 5.0, 1e-9);
	assert_int_equal(answer->rows[0]->baseline_calls, 100);
	store_answer_free(&answer->base);

	/* a window before the change: nothing */
	answer = regressions(f->store, T0 - 2 * DAY - HOUR, T0 - 2 * DAY + HOUR,
	    PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_INSTANCE);
	assert_int_equal(answer->n_rows, 0);
	store_answer_free(&answer->base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pool_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pool_recommendation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_regressions_raw_and_rolled_up, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
