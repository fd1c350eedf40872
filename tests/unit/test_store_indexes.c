/*
 * test_store_indexes.c - index recommendations from a real SQLite store:
 * reports of a primary (p) and its replica (r) written through the store,
 * then asked about. Covers what the end-to-end test cannot make happen on
 * demand: counters taken over the window (first to last snapshot in it),
 * an index scanned only on the replica kept, a statistics reset inside the
 * window making a scan count unknown (so nothing is called unused), the
 * hypopg check asked for and its verdict shown.
 */
#include <ftw.h>
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

#define SECOND 1000000LL
#define T0 (1700000000LL * SECOND)
#define T1 (T0 + 60 * SECOND)
#define T2 (T0 + 120 * SECOND)

static char dir[64];
static struct store *store;

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

/* What one report says: the snapshot of one instance at one time. */
struct snapshot {
	const char *instance;
	uint64_t seq;
	int64_t at_us;
	int64_t stats_reset_us;
	int64_t seq_scan, seq_tup_read;
	int64_t scans_a, scans_b; /* idx_a (note), idx_b (status) */
	bool with_statement;
	/* an index check result to send (0: none) */
	double cost_before, cost_after;
};

static void
write_snapshot(const struct snapshot *s)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__TablesFamily tables = PGFLEET__V1__TABLES_FAMILY__INIT;
	Pgfleet__V1__TableStat table = PGFLEET__V1__TABLE_STAT__INIT, *table_ptr = &table;
	Pgfleet__V1__DatabaseStatsReset reset = PGFLEET__V1__DATABASE_STATS_RESET__INIT,
					*reset_ptr = &reset;
	Pgfleet__V1__IndexesFamily indexes = PGFLEET__V1__INDEXES_FAMILY__INIT;
	Pgfleet__V1__IndexStat x[3], *x_ptr[3];
	static char *cols_pkey[] = {(char *) "id"}, *cols_a[] = {(char *) "note"},
		    *cols_b[] = {(char *) "status"};
	static char *fk_cols[] = {(char *) "order_id"};
	Pgfleet__V1__ForeignKey fk = PGFLEET__V1__FOREIGN_KEY__INIT, *fk_ptr = &fk;
	Pgfleet__V1__StatementsFamily statements = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__StatementDelta delta = PGFLEET__V1__STATEMENT_DELTA__INIT, *delta_ptr = &delta;
	Pgfleet__V1__IndexChecksFamily checks = PGFLEET__V1__INDEX_CHECKS_FAMILY__INIT;
	Pgfleet__V1__IndexCheckResult result = PGFLEET__V1__INDEX_CHECK_RESULT__INIT,
				      *result_ptr = &result;
	static const char text[] = "SELECT * FROM orders WHERE customer_id = $1";
	const char *names[3] = {"orders_pkey", "idx_a", "idx_b"};
	char **cols[3] = {cols_pkey, cols_a, cols_b};
	int64_t scans[3] = {0, s->scans_a, s->scans_b};
	bool duplicate = false;
	char errbuf[512];

	report.agent_id = (char *) s->instance;
	report.boot_id = (char *) "boot";
	report.seq = s->seq;
	report.collected_at_us = s->at_us;
	report.instance = &identity;
	identity.name = (char *) s->instance;
	identity.system_identifier = (char *) "42";
	identity.role = strcmp(s->instance, "p") == 0 ? PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY
						      : PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA;
	identity.server_version_num = 150004;

	report.tables = &tables;
	tables.tables = &table_ptr;
	tables.n_tables = 1;
	tables.databases = &reset_ptr;
	tables.n_databases = 1;
	reset.database = (char *) "app";
	reset.stats_reset_us = s->stats_reset_us;
	table.database = (char *) "app";
	table.schema = (char *) "public";
	table.table = (char *) "orders";
	table.table_bytes = 8 << 20;
	table.total_bytes = 8 << 20;
	table.n_live_tup = 100000;
	table.seq_scan = s->seq_scan;
	table.seq_tup_read = s->seq_tup_read;

	report.indexes = &indexes;
	for (int i = 0; i < 3; i++) {
		pgfleet__v1__index_stat__init(&x[i]);
		x_ptr[i] = &x[i];
		x[i].database = (char *) "app";
		x[i].schema = (char *) "public";
		x[i].table = (char *) "orders";
		x[i].index = (char *) names[i];
		x[i].access_method = (char *) "btree";
		x[i].definition = (char *) "CREATE INDEX ...";
		x[i].columns = cols[i];
		x[i].n_columns = 1;
		x[i].idx_scan = scans[i];
		x[i].size_bytes = 2 << 20;
		x[i].is_valid = true;
	}
	x[0].is_unique = x[0].is_primary = true;
	x[0].constraint_type = (char *) "p";
	indexes.indexes = x_ptr;
	indexes.n_indexes = 3;
	indexes.foreign_keys = &fk_ptr;
	indexes.n_foreign_keys = 1;
	fk.database = (char *) "app";
	fk.schema = (char *) "public";
	fk.table = (char *) "order_lines";
	fk.name = (char *) "order_lines_order_id_fkey";
	fk.columns = fk_cols;
	fk.n_columns = 1;
	fk.referenced_table = (char *) "public.orders";

	if (s->with_statement) {
		report.statements = &statements;
		statements.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
		statements.interval_start_us = s->at_us - 60 * SECOND;
		statements.interval_end_us = s->at_us;
		statements.statements = &delta_ptr;
		statements.n_statements = 1;
		delta.queryid = 77;
		delta.dbid = 16384;
		delta.datname = (char *) "app";
		delta.username = (char *) "web";
		delta.toplevel = true;
		delta.calls = 50;
		delta.total_exec_time_ms = 500.0;
		delta.query.data = (uint8_t *) text;
		delta.query.len = strlen(text);
	}
	if (s->cost_before > 0) {
		report.index_checks = &checks;
		checks.results = &result_ptr;
		checks.n_results = 1;
		result.database = (char *) "app";
		result.queryid = 77;
		result.index_statement = (char *) "CREATE INDEX ON public.orders (customer_id)";
		result.status = PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK;
		result.cost_before = s->cost_before;
		result.cost_after = s->cost_after;
		result.index_used = true;
		result.detail = (char *) "generic plan";
	}
	if (store_write_report(store, &report, s->at_us, &duplicate, errbuf, sizeof(errbuf)) !=
	    PGF_OK) {
		print_error("%s\n", errbuf);
		fail();
	}
}

static Pgfleet__V1__IndexRecommendations *
ask(int64_t since_us, int64_t until_us)
{
	Pgfleet__V1__IndexRecommendationsRequest request =
	    PGFLEET__V1__INDEX_RECOMMENDATIONS_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__IndexRecommendations *answer = malloc(sizeof(*answer));
	char errbuf[512];

	assert_non_null(answer);
	pgfleet__v1__index_recommendations__init(answer);
	scope.since_us = since_us;
	scope.until_us = until_us;
	request.scope = &scope;
	if (store->ops->index_recommendations(store, &request, answer, errbuf, sizeof(errbuf)) !=
	    PGF_OK) {
		print_error("%s\n", errbuf);
		fail();
	}
	return answer;
}

static const Pgfleet__V1__IndexRecommendation *
find(const Pgfleet__V1__IndexRecommendations *answer, const char *type, const char *index)
{
	for (size_t i = 0; i < answer->n_rows; i++) {
		if (strcmp(answer->rows[i]->type, type) == 0 &&
		    (index == NULL || strcmp(answer->rows[i]->index, index) == 0))
			return answer->rows[i];
	}
	return NULL;
}

static int
setup(void **state)
{
	char path[128], errbuf[512];
	(void) state;
	snprintf(dir, sizeof(dir), "/tmp/pgfleet-test-indexes-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (store_open(path, false, &store, errbuf, sizeof(errbuf)) != PGF_OK) {
		print_error("%s\n", errbuf);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void) state;
	store_close(store);
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_recommendations(void **state)
{
	Pgfleet__V1__IndexRecommendations *answer;
	const Pgfleet__V1__IndexRecommendation *row;
	const int64_t reset = T0 - 1000 * SECOND;
	(void) state;

	/* p: idx_a never scanned, idx_b not either; r: idx_b scanned 4
	 * times in the window; orders read 50 times by sequential scans */
	write_snapshot(&(struct snapshot){"p", 1, T0, reset, 100, 1000000, 10, 3, false, 0, 0});
	write_snapshot(&(struct snapshot){"r", 1, T0, reset, 0, 0, 0, 5, false, 0, 0});
	write_snapshot(&(struct snapshot){"p", 2, T1, reset, 150, 6000000, 10, 3, true, 0, 0});
	write_snapshot(&(struct snapshot){"r", 2, T1, reset, 0, 0, 0, 9, false, 0, 0});

	answer = ask(T0, T1);
	row = find(answer, "high_sequential_scans", NULL);
	assert_non_null(row);
	/* the window's deltas, not the counters since the reset */
	assert_int_equal(row->seq_scans, 50);
	assert_int_equal(row->seq_tuples_read, 5000000);
	assert_true(row->avg_tuples_per_scan == 100000.0);
	assert_string_equal(row->priority, "medium");
	assert_string_equal(row->instance, "p");
	assert_string_equal(row->window, "1m00s");
	row = find(answer, "missing_index", NULL);
	assert_non_null(row);
	assert_int_equal(row->n_columns, 1);
	assert_string_equal(row->columns[0], "customer_id");
	assert_string_equal(row->hypopg_check, "pending");
	assert_int_equal(row->queryid, 77);
	/* unused on both members; idx_b is scanned on r; the primary key is
	 * needed */
	row = find(answer, "unused", "idx_a");
	assert_non_null(row);
	assert_string_equal(row->ddl, "DROP INDEX CONCURRENTLY public.idx_a;");
	assert_string_equal(row->instance, "p,r");
	assert_non_null(strstr(row->evidence, "0 scans on all 2 member(s)"));
	assert_non_null(strstr(row->evidence, "over the last 1m00s"));
	assert_null(find(answer, "unused", "idx_b"));
	assert_null(find(answer, "unused", "orders_pkey"));
	row = find(answer, "foreign_key_without_index", NULL);
	assert_non_null(row);
	assert_string_equal(row->ddl, "CREATE INDEX CONCURRENTLY ON public.order_lines (order_id);");
	/* high before medium before low */
	for (size_t i = 1; i < answer->n_rows; i++) {
		const char *a = answer->rows[i - 1]->priority, *b = answer->rows[i]->priority;
		assert_false(strcmp(a, "low") == 0 && strcmp(b, "low") != 0);
		assert_false(strcmp(a, "medium") == 0 && strcmp(b, "high") == 0);
	}
	store_answer_free(&answer->base);

	/* the limit */
	{
		Pgfleet__V1__IndexRecommendationsRequest request =
		    PGFLEET__V1__INDEX_RECOMMENDATIONS_REQUEST__INIT;
		Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
		char errbuf[512];
		answer = malloc(sizeof(*answer));
		assert_non_null(answer);
		pgfleet__v1__index_recommendations__init(answer);
		scope.since_us = T0;
		scope.until_us = T1;
		request.scope = &scope;
		request.limit = 2;
		assert_int_equal(store->ops->index_recommendations(store, &request, answer, errbuf,
				     sizeof(errbuf)),
		    PGF_OK);
		assert_int_equal(answer->n_rows, 2);
		store_answer_free(&answer->base);
	}

	/* p's statistics were reset at T1 + 10 s: over [T0, T2] its counts
	 * are unknown, so idx_a is not called unused */
	write_snapshot(&(struct snapshot){"p", 3, T2, T1 + 10 * SECOND, 5, 500000, 0, 0, false, 0, 0});
	write_snapshot(&(struct snapshot){"r", 3, T2, reset, 0, 0, 0, 9, false, 0, 0});
	answer = ask(T0, T2);
	assert_null(find(answer, "unused", "idx_a"));
	/* the table's counters went down: counted from the reset */
	row = find(answer, "high_sequential_scans", NULL);
	assert_null(row); /* 5 scans since the reset: below the threshold */
	store_answer_free(&answer->base);
}

/* index_check_state's count for an instance, read from the store file
 * by a second connection (WAL: it sees what the store committed). */
static int
check_state_snapshots(const char *instance)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int snapshots = -1;

	snprintf(path, sizeof(path), "%s/store.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
			     "SELECT s.snapshots FROM index_check_state s JOIN instances i"
			     " USING (instance_id) WHERE i.name = ?1",
			     -1, &stmt, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(stmt, 1, instance, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		snapshots = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return snapshots;
}

static void
test_checks(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__TablesFamily tables = PGFLEET__V1__TABLES_FAMILY__INIT;
	Pgfleet__V1__IndexCheckRequest **checks = NULL;
	Pgfleet__V1__IndexRecommendations *answer;
	const Pgfleet__V1__IndexRecommendation *row;
	size_t count = 0;
	char errbuf[512];
	(void) state;

	/* a report with a tables snapshot at T1 asks p to check the proposal */
	report.instance = &identity;
	report.tables = &tables;
	report.collected_at_us = T1;
	identity.name = (char *) "p";
	assert_int_equal(store->ops->index_checks(store, &report, &checks, &count, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(count, 1);
	assert_string_equal(checks[0]->index_statement,
	    "CREATE INDEX ON public.orders (customer_id)");
	assert_string_equal(checks[0]->statement, "SELECT * FROM orders WHERE customer_id = $1");
	assert_string_equal(checks[0]->database, "app");
	assert_int_equal(checks[0]->n_params, 1);
	assert_int_equal(checks[0]->queryid, 77);
	store_answer_free(&checks[0]->base);
	free(checks);
	/* without a tables snapshot nothing is asked */
	report.tables = NULL;
	assert_int_equal(store->ops->index_checks(store, &report, &checks, &count, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(count, 0);
	assert_null(checks);

	/* the agent's verdict, then shown in the recommendation, and not
	 * asked again while fresh */
	write_snapshot(&(struct snapshot){"p", 10, T1 + SECOND, T0 - 1000 * SECOND, 150, 6000000,
	    10, 3, false, 1887.0, 73.8});
	answer = ask(T0, T1 + SECOND);
	row = find(answer, "missing_index", NULL);
	assert_non_null(row);
	assert_string_equal(row->hypopg_check, "ok");
	assert_true(row->cost_before == 1887.0);
	assert_true(row->cost_after == 73.8);
	assert_true(row->hypothetical_index_used);
	assert_non_null(strstr(row->evidence, "from 1887.00 to 73.80"));
	store_answer_free(&answer->base);
	/* proposals are worked out on every third tables snapshot of an
	 * instance (the first asked above): the 2nd and 3rd skip, and the 4th,
	 * which works them out again, asks nothing while the verdict is fresh */
	report.tables = &tables;
	for (int snapshot = 2; snapshot <= 4; snapshot++) {
		report.collected_at_us = T1 + snapshot * SECOND;
		assert_int_equal(store->ops->index_checks(store, &report, &checks, &count,
				     errbuf, sizeof(errbuf)),
		    PGF_OK);
		assert_int_equal(count, 0);
		assert_null(checks);
	}
	assert_int_equal(check_state_snapshots("p"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recommendations),
		cmocka_unit_test(test_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
