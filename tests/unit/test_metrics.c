/* test_metrics.c - the Prometheus text of /metrics, from plain samples, and
 * the ingest latency histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include <unistd.h>

#include "collector/collector_stats.h"
#include "collector/metrics.h"
#include "collector/store.h"
#include "common/timeutil.h"

/* Renders set into a malloc'd string. */
static char *
render(const struct metrics_set *set)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(metrics_render(set, out), 0);
	fclose(out);
	return text;
}

static void
test_families_grouped_with_help_and_type(void **state)
{
	struct metrics_set set;
	const char *table_a[] = {"db-1", "7000", "app", "public", "orders"};
	const char *table_b[] = {"db-2", "7000", "app", "public", "orders"};
	const char *instance[] = {"db-1", "7000"};
	char *text;
	(void) state;

	metrics_set_init(&set);
	/* added out of family order: rendered in the table's order, each
	 * family's samples together */
	assert_int_equal(metrics_add(&set, METRICS_TABLES_DEAD, table_a, 300), PGF_OK);
	assert_int_equal(metrics_add(&set, METRICS_PG_UP, instance, 1), PGF_OK);
	assert_int_equal(metrics_add(&set, METRICS_TABLES_DEAD, table_b, 0), PGF_OK);
	text = render(&set);
	assert_string_equal(text,
	    "# HELP pg_up Whether the agent reached PostgreSQL at its latest report (1) or reported it unreachable (0).\n"
	    "# TYPE pg_up gauge\n"
	    "pg_up{instance=\"db-1\",cluster=\"7000\"} 1\n"
	    "# HELP pg_stat_user_tables_n_dead_tup Estimated number of dead rows, latest snapshot.\n"
	    "# TYPE pg_stat_user_tables_n_dead_tup gauge\n"
	    "pg_stat_user_tables_n_dead_tup{instance=\"db-1\",cluster=\"7000\",datname=\"app\",schemaname=\"public\",relname=\"orders\"} 300\n"
	    "pg_stat_user_tables_n_dead_tup{instance=\"db-2\",cluster=\"7000\",datname=\"app\",schemaname=\"public\",relname=\"orders\"} 0\n");
	free(text);
	metrics_set_fini(&set);
	assert_int_equal(set.count, 0);
}

static void
test_label_values_escaped(void **state)
{
	struct metrics_set set;
	const char *values[] = {"a\"b", "c\\d", "e\nf", "x", "y"};
	char *text;
	(void) state;

	metrics_set_init(&set);
	assert_int_equal(metrics_add(&set, METRICS_TABLES_LIVE, values, 5), PGF_OK);
	text = render(&set);
	assert_non_null(strstr(text,
	    "pg_stat_user_tables_n_live_tup{instance=\"a\\\"b\",cluster=\"c\\\\d\",datname=\"e\\nf\","
	    "schemaname=\"x\",relname=\"y\"} 5\n"));
	free(text);
	metrics_set_fini(&set);
}

static void
test_values_exact(void **state)
{
	char buf[64];
	(void) state;
	/* counts as integers, never with an exponent */
	assert_string_equal(metrics_format_value(1234567890123.0, buf, sizeof(buf)), "1234567890123");
	assert_string_equal(metrics_format_value(0.25, buf, sizeof(buf)), "0.25");
	assert_string_equal(metrics_format_value(-3, buf, sizeof(buf)), "-3");
	assert_string_equal(metrics_format_value(NAN, buf, sizeof(buf)), "NaN");
	assert_string_equal(metrics_format_value(INFINITY, buf, sizeof(buf)), "+Inf");
	assert_string_equal(metrics_format_value(-INFINITY, buf, sizeof(buf)), "-Inf");
}

static void
test_no_labels_and_histogram(void **state)
{
	struct metrics_set set;
	const char *le[] = {"0.5"};
	const char *inf[] = {"+Inf"};
	char *text;
	(void) state;

	metrics_set_init(&set);
	assert_int_equal(metrics_add(&set, METRICS_COLLECTOR_RECEIVED, NULL, 7), PGF_OK);
	assert_int_equal(metrics_add_histogram_part(&set, METRICS_COLLECTOR_INGEST_SECONDS,
			     METRICS_SUFFIX_BUCKET, le, 2), PGF_OK);
	assert_int_equal(metrics_add_histogram_part(&set, METRICS_COLLECTOR_INGEST_SECONDS,
			     METRICS_SUFFIX_BUCKET, inf, 3), PGF_OK);
	assert_int_equal(metrics_add_histogram_part(&set, METRICS_COLLECTOR_INGEST_SECONDS,
			     METRICS_SUFFIX_SUM, NULL, 1.5), PGF_OK);
	assert_int_equal(metrics_add_histogram_part(&set, METRICS_COLLECTOR_INGEST_SECONDS,
			     METRICS_SUFFIX_COUNT, NULL, 3), PGF_OK);
	text = render(&set);
	assert_non_null(strstr(text, "# TYPE pgfleet_reports_received_total counter\n"
				     "pgfleet_reports_received_total 7\n"));
	assert_non_null(strstr(text, "# TYPE pgfleet_ingest_duration_seconds histogram\n"
				     "pgfleet_ingest_duration_seconds_bucket{le=\"0.5\"} 2\n"
				     "pgfleet_ingest_duration_seconds_bucket{le=\"+Inf\"} 3\n"
				     "pgfleet_ingest_duration_seconds_sum 1.5\n"
				     "pgfleet_ingest_duration_seconds_count 3\n"));
	free(text);
	metrics_set_fini(&set);
}

static void
test_empty_set_renders_nothing(void **state)
{
	struct metrics_set set;
	char *text;
	(void) state;
	metrics_set_init(&set);
	text = render(&set);
	assert_string_equal(text, "");
	free(text);
}

static void
test_latency_histogram_cumulative(void **state)
{
	struct collector_stats stats;
	struct collector_stats_snapshot snapshot;
	(void) state;

	collector_stats_init(&stats, 1000000);
	/* 3 reports of one batch that took 2 ms, 1 that took 2 s, 1 of 10 s */
	collector_stats_observe(&stats, 3, 2000);
	collector_stats_observe(&stats, 1, 2000000);
	collector_stats_observe(&stats, 1, 10000000);
	collector_stats_observe(&stats, 0, 5);
	collector_stats_read(&stats, &snapshot);
	assert_int_equal(snapshot.latency_count, 5);
	assert_int_equal(snapshot.latency_sum_us, 3 * 2000 + 2000000 + 10000000);
	for (int i = 0; i < COLLECTOR_STATS_BUCKETS; i++) {
		double bound = collector_stats_bucket_bounds[i];
		uint64_t expected = bound >= 2.0 ? 4 : bound >= 0.002 ? 3 : 0;
		assert_int_equal(snapshot.latency_buckets[i], expected);
		if (i > 0)
			assert_true(snapshot.latency_buckets[i] >= snapshot.latency_buckets[i - 1]);
	}
	assert_int_equal(snapshot.started_us, 1000000);
}


/* ---- the statements' counters on a real SQLite store ---- */

#define HOUR_US (3600LL * 1000000)
#define DAY_US (24 * HOUR_US)

/* Writes one report of instance db-1 with statement 42 called calls
 * times (2.5 ms each, 2 rows each) in the minute before collected_us. */
static void
write_statement(struct store *store, uint64_t seq, int64_t collected_us, int64_t calls)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity instance = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__StatementDelta delta = PGFLEET__V1__STATEMENT_DELTA__INIT;
	Pgfleet__V1__StatementDelta *deltas[1] = {&delta};
	char errbuf[256];
	bool duplicate = true;

	report.agent_id = (char *) "agent-1";
	report.boot_id = (char *) "boot-1";
	report.seq = seq;
	report.collected_at_us = collected_us;
	report.instance = &instance;
	instance.name = (char *) "db-1";
	instance.system_identifier = (char *) "7000";
	instance.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	family.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
	family.interval_start_us = collected_us - 60 * 1000000LL;
	family.interval_end_us = collected_us;
	family.statements = deltas;
	family.n_statements = 1;
	report.statements = &family;
	delta.queryid = 42;
	delta.dbid = 16384;
	delta.datname = (char *) "app";
	delta.username = (char *) "web";
	delta.calls = calls;
	delta.total_exec_time_ms = 2.5 * (double) calls;
	delta.max_exec_time_ms = 2.5;
	delta.rows = 2 * calls;
	if (store_write_report(store, &report, collected_us, &duplicate, errbuf, sizeof(errbuf)) !=
	    PGF_OK)
		fail_msg("%s", errbuf);
	assert_false(duplicate);
}

/* The value of statement 42's sample of family in the store's metrics;
 * -1 when there is none. */
static double
statement_sample(struct store *store, enum metrics_family_id family, int64_t now_us)
{
	struct metrics_set set;
	char errbuf[256];
	double value = -1;

	metrics_set_init(&set);
	if (store->ops->metrics(store, 100, now_us, &set, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	for (size_t i = 0; i < set.count; i++) {
		const struct metrics_sample *s = &set.samples[i];
		if (s->family == family && strcmp(s->values[0], "db-1") == 0 &&
		    strcmp(s->values[2], "app") == 0 && strcmp(s->values[3], "42") == 0)
			value = s->value;
	}
	metrics_set_fini(&set);
	return value;
}

static void
maintain_all(struct store *store, int64_t now_us, const struct store_retention *retention)
{
	char errbuf[256];
	bool more = true;

	for (int i = 0; more && i < 1000; i++)
		if (store_maintain(store, now_us, retention, &more, errbuf, sizeof(errbuf)) != PGF_OK)
			fail_msg("%s", errbuf);
	assert_false(more);
}

/* pg_stat_statements_*_total are counters: rolling up and pruning the
 * history (raw, hourly, then daily rows gone) never lowers them, and what
 * comes later (a new interval, a late report for a time rolled up
 * already) adds to them. */
static void
test_statement_counters_never_go_down(void **state)
{
	char dir[] = "/tmp/pgfleet-test-metrics-XXXXXX";
	char path[96], errbuf[256];
	struct store *store = NULL;
	/* whole hours: the rollups' buckets */
	int64_t now = (pgf_time_now_us() / HOUR_US) * HOUR_US + 30 * 60 * 1000000LL;
	const struct store_retention keep = {HOUR_US, HOUR_US, 2 * DAY_US};
	(void) state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (store_open(path, false, &store, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	/* three days ago and five days ago: past every retention but the
	 * counters' */
	write_statement(store, 1, now - 5 * DAY_US, 10);
	write_statement(store, 2, now - 3 * DAY_US, 4);
	assert_true(statement_sample(store, METRICS_STATEMENTS_CALLS, now) == 14);
	assert_true(statement_sample(store, METRICS_STATEMENTS_SECONDS, now) == 0.035);
	assert_true(statement_sample(store, METRICS_STATEMENTS_ROWS, now) == 28);
	maintain_all(store, now, &keep);
	/* every row of both intervals is gone (the daily ones too) */
	{
		Pgfleet__V1__SlowQueriesRequest request = PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
		Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
		Pgfleet__V1__SlowQueries answer = PGFLEET__V1__SLOW_QUERIES__INIT;
		scope.since_us = now - 10 * DAY_US;
		request.scope = &scope;
		if (store_slow_queries(store, &request, &answer, errbuf, sizeof(errbuf)) != PGF_OK)
			fail_msg("%s", errbuf);
		assert_int_equal(answer.n_rows, 0);
		store_slow_queries_fini(&answer);
	}
	assert_true(statement_sample(store, METRICS_STATEMENTS_CALLS, now) == 14);
	assert_true(statement_sample(store, METRICS_STATEMENTS_SECONDS, now) == 0.035);
	assert_true(statement_sample(store, METRICS_STATEMENTS_ROWS, now) == 28);
	/* a new interval (raw, not rolled up) and a late one for an hour
	 * rolled up already both add */
	write_statement(store, 3, now - 10 * 60 * 1000000LL, 3);
	write_statement(store, 4, now - 2 * HOUR_US, 5);
	assert_true(statement_sample(store, METRICS_STATEMENTS_CALLS, now) == 22);
	assert_true(statement_sample(store, METRICS_STATEMENTS_ROWS, now) == 44);
	/* another late one in that hour: its hourly row grows */
	write_statement(store, 5, now - 2 * HOUR_US + 60 * 1000000LL, 2);
	assert_true(statement_sample(store, METRICS_STATEMENTS_CALLS, now) == 24);
	maintain_all(store, now + HOUR_US, &keep);
	assert_true(statement_sample(store, METRICS_STATEMENTS_CALLS, now + HOUR_US) == 24);
	assert_true(statement_sample(store, METRICS_STATEMENTS_SECONDS, now + HOUR_US) == 0.06);
	assert_true(statement_sample(store, METRICS_STATEMENTS_ROWS, now + HOUR_US) == 48);
	store_close(store);
	{
		char command[160];
		snprintf(command, sizeof(command), "rm -rf %s", dir);
		assert_int_equal(system(command), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families_grouped_with_help_and_type),
		cmocka_unit_test(test_label_values_escaped),
		cmocka_unit_test(test_values_exact),
		cmocka_unit_test(test_no_labels_and_histogram),
		cmocka_unit_test(test_empty_set_renders_nothing),
		cmocka_unit_test(test_latency_histogram_cumulative),
		cmocka_unit_test(test_statement_counters_never_go_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
