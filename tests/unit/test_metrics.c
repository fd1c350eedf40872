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

#include "collector/collector_stats.h"
#include "collector/metrics.h"

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
