/*
 * test_analysis_advice.c - replication health and the production
 * checklist, from plain data.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis_checklist.h"
#include "collector/analysis_replication.h"

#define MINUTE_US INT64_C(60000000)

static struct replica_fact
replica(const char *name)
{
	struct replica_fact r;

	memset(&r, 0, sizeof(r));
	r.instance = name;
	r.cluster = "7000";
	r.upstream = "primary";
	r.receiver_status = "streaming";
	r.slot_name = "";
	r.listed = REPLICATION_LISTED_YES;
	return r;
}

static struct slot_fact
slot(const char *name, bool active, int64_t retained, const char *wal_status)
{
	struct slot_fact s;

	memset(&s, 0, sizeof(s));
	s.instance = "primary";
	s.cluster = "7000";
	s.slot_name = name;
	s.slot_type = "physical";
	s.active = active;
	s.retained_bytes = retained;
	s.wal_status = wal_status;
	return s;
}

static void
test_trend(void **state)
{
	/* 1 MB more every minute for 5 minutes */
	struct replication_lag_point growing[6];
	struct replication_lag_point flat[3]
	    = { { 0, 1000 }, { MINUTE_US, 1100 }, { 2 * MINUTE_US, 1000 } };
	struct replication_trend t;

	(void) state;
	for (int i = 0; i < 6; i++) {
		/* out of order on purpose: the store may hand them so */
		growing[5 - i].ts_us = i * MINUTE_US;
		growing[5 - i].lag_bytes = (int64_t) i << 20;
	}
	replication_trend_of(growing, 6, &t);
	assert_string_equal(t.trend, "growing");
	assert_int_equal(t.first_lag_bytes, 0);
	assert_int_equal(t.max_lag_bytes, INT64_C(5) << 20);
	assert_true(fabs(t.bytes_per_minute - 1048576.0) < 1e-3);
	assert_int_equal(t.points, 6);
	replication_trend_of(flat, 3, &t);
	assert_string_equal(t.trend, "steady");
	replication_trend_of(flat, 1, &t);
	assert_string_equal(t.trend, "unknown");
	replication_trend_of(NULL, 0, &t);
	assert_string_equal(t.trend, "unknown");
	/* shrinking: the same, reversed in time */
	for (int i = 0; i < 6; i++)
		growing[i].lag_bytes = (INT64_C(5) << 20) - growing[i].lag_bytes;
	replication_trend_of(growing, 6, &t);
	assert_string_equal(t.trend, "shrinking");
}

static void
test_replicas_and_slots(void **state)
{
	struct replication_lag_point rising[4] = { { 0, 0 }, { MINUTE_US, 2 << 20 },
		{ 2 * MINUTE_US, 4 << 20 }, { 3 * MINUTE_US, 6 << 20 } };
	struct replica_fact replicas[5];
	struct slot_fact slots[4];
	struct replication_finding out[16];
	size_t n;

	(void) state;
	replicas[0] = replica("ok");
	replicas[0].lag_seconds = 500; /* an idle primary: seconds alone are no lag */
	replicas[1] = replica("paused");
	replicas[1].replay_paused = true;
	replicas[1].lag_bytes = 6 << 20;
	replicas[1].points = rising;
	replicas[1].n_points = 4;
	replicas[2] = replica("gone");
	replicas[2].receiver_status = "";
	replicas[3] = replica("unlisted");
	replicas[3].listed = REPLICATION_LISTED_NO;
	replicas[4] = replica("slow");
	replicas[4].lag_bytes = 6 << 20;
	replicas[4].points = rising;
	replicas[4].n_points = 4;
	slots[0] = slot("used", true, INT64_C(1) << 30, "reserved");
	slots[1] = slot("idle_slot", false, INT64_C(80) << 20, "reserved");
	slots[2] = slot("lost_slot", false, 0, "lost");
	slots[3] = slot("tiny", false, 16384, "reserved");

	n = analysis_replication(replicas, 5, slots, 4, out, 16);
	/* 5 replicas, 3 slots (the active one is fine) */
	assert_int_equal(n, 8);
	/* high first: replicas before slots, by name */
	assert_string_equal(out[0].replica->instance, "gone");
	assert_string_equal(out[0].status, "not_streaming");
	assert_non_null(strstr(out[0].evidence, "walreceiver absent"));
	assert_string_equal(out[1].replica->instance, "paused");
	assert_string_equal(out[1].status, "replay_paused");
	assert_string_equal(out[1].recommendation,
	    "on paused, unless paused on purpose: SELECT pg_wal_replay_resume();");
	assert_string_equal(out[1].trend.trend, "growing");
	assert_string_equal(out[2].replica->instance, "unlisted");
	assert_string_equal(out[2].status, "not_streaming");
	assert_non_null(strstr(out[2].evidence, "NOT listed by upstream primary"));
	assert_non_null(out[3].slot);
	assert_string_equal(out[3].slot->slot_name, "lost_slot");
	assert_string_equal(out[3].status, "slot_wal_lost");
	/* medium */
	assert_string_equal(out[4].replica->instance, "slow");
	assert_string_equal(out[4].status, "lagging");
	assert_string_equal(out[5].slot->slot_name, "idle_slot");
	assert_string_equal(out[5].status, "inactive_slot");
	assert_int_equal(out[5].priority, REPLICATION_PRIORITY_MEDIUM);
	assert_non_null(strstr(out[5].evidence, "retains 80 MB of WAL"));
	assert_non_null(
	    strstr(out[5].recommendation, "pg_drop_replication_slot('idle_slot')"));
	/* low, then the healthy */
	assert_string_equal(out[6].slot->slot_name, "tiny");
	assert_int_equal(out[6].priority, REPLICATION_PRIORITY_LOW);
	assert_string_equal(out[7].replica->instance, "ok");
	assert_string_equal(out[7].status, "ok");
	assert_string_equal(out[7].recommendation, "");
	/* the count stays when the room is smaller */
	assert_int_equal(analysis_replication(replicas, 5, slots, 4, out, 2), 8);
	assert_int_equal(analysis_replication(NULL, 0, NULL, 0, out, 16), 0);
}

static struct checklist_facts
healthy(void)
{
	struct checklist_facts f;

	memset(&f, 0, sizeof(f));
	f.instance = "primary";
	f.cluster = "7000";
	f.have_settings = true;
	f.shared_preload_libraries = "pg_stat_statements, auto_explain";
	f.autovacuum = "on";
	f.track_counts = "on";
	f.statements_extension = true;
	f.window_since_us = INT64_C(1767225600000000); /* 2026-01-01 00:00:00 */
	f.last_statement_us = f.window_since_us + 3600 * INT64_C(1000000);
	f.have_tables = true;
	f.tables = 12;
	f.have_activity = true;
	f.peak_connections = 20;
	f.max_connections = 100;
	f.reserved_connections = 3;
	f.have_indexes = true;
	f.indexes = 30;
	f.last_bloat_us = f.window_since_us + 7200 * INT64_C(1000000);
	f.have_replication = true;
	f.receiver_status = "";
	f.walsenders = 2;
	f.streaming_walsenders = 2;
	return f;
}

static void
test_checklist_all_pass(void **state)
{
	struct checklist_facts f = healthy();
	struct checklist_item items[CHECKLIST_ITEMS];
	static const char *const names[CHECKLIST_ITEMS] = { "pg_stat_statements enabled",
		"autovacuum configured", "pool sized", "slow query monitoring active",
		"indexes optimized", "bloat monitored", "replicas configured" };

	(void) state;
	analysis_checklist(&f, items);
	for (int i = 0; i < CHECKLIST_ITEMS; i++) {
		assert_string_equal(items[i].item, names[i]);
		assert_int_equal(items[i].status, CHECKLIST_PASS);
		assert_string_equal(items[i].recommendation, "");
		assert_true(items[i].evidence[0] != '\0');
	}
	assert_string_equal(items[2].evidence,
	    "peak 20 connections of 97 usable (max_connections 100 - 3 reserved): 21%");
	assert_string_equal(items[6].evidence, "2 of 2 walsenders streaming");
	assert_string_equal(items[3].evidence,
	    "pg_stat_statements intervals stored in the window, the latest at 2026-01-01 "
	    "01:00:00");
	assert_string_equal(items[5].evidence,
	    "latest bloat estimate at 2026-01-01 02:00:00; no table needs a vacuum");
}

static void
test_checklist_problems(void **state)
{
	struct checklist_facts f = healthy();
	struct checklist_item items[CHECKLIST_ITEMS];

	(void) state;
	f.shared_preload_libraries = "auto_explain";
	f.tables_autovacuum_off = 1;
	checklist_add_name(
	    f.autovacuum_off_names, sizeof(f.autovacuum_off_names), "app.public.v");
	f.peak_connections = 90;
	f.last_statement_us = f.window_since_us - 1;
	f.invalid_indexes = 1;
	f.duplicate_indexes = 1;
	checklist_add_name(f.index_names, sizeof(f.index_names), "app.public.i_bad");
	f.tables_need_vacuum = 1;
	checklist_add_name(
	    f.need_vacuum_names, sizeof(f.need_vacuum_names), "app.public.v");
	f.streaming_walsenders = 0;
	f.walsenders = 0;
	analysis_checklist(&f, items);
	assert_int_equal(items[0].status, CHECKLIST_FAIL);
	assert_non_null(strstr(items[0].recommendation, "shared_preload_libraries"));
	assert_int_equal(items[1].status, CHECKLIST_WARN);
	assert_string_equal(items[1].evidence,
	    "autovacuum = on, but off for 1 of 12 tables: app.public.v");
	assert_int_equal(items[2].status, CHECKLIST_FAIL); /* 90 of 97 */
	assert_int_equal(items[3].status, CHECKLIST_FAIL);
	assert_string_equal(items[3].evidence,
	    "no pg_stat_statements interval stored in the"
	    " window; the latest at 2025-12-31 23:59:59");
	assert_int_equal(items[4].status, CHECKLIST_FAIL);
	assert_non_null(strstr(items[4].evidence, "app.public.i_bad"));
	assert_int_equal(items[5].status, CHECKLIST_WARN);
	assert_non_null(strstr(items[5].evidence, "app.public.v"));
	assert_int_equal(items[6].status, CHECKLIST_WARN);

	/* preloaded but not created; autovacuum off on the server; a
	 * standby that does not stream; nothing reported is never a pass */
	f = healthy();
	f.statements_extension = false;
	f.autovacuum = "off";
	f.is_standby = true;
	f.receiver_status = "waiting";
	f.have_activity = false;
	f.have_indexes = false;
	f.last_bloat_us = 0;
	analysis_checklist(&f, items);
	assert_int_equal(items[0].status, CHECKLIST_WARN);
	assert_string_equal(
	    items[0].recommendation, "CREATE EXTENSION pg_stat_statements;");
	assert_int_equal(items[1].status, CHECKLIST_FAIL);
	assert_int_equal(items[2].status, CHECKLIST_WARN);
	assert_int_equal(items[4].status, CHECKLIST_WARN);
	assert_int_equal(items[5].status, CHECKLIST_WARN);
	assert_int_equal(items[6].status, CHECKLIST_FAIL);
	assert_string_equal(items[6].evidence, "a standby; walreceiver waiting");
	f.have_settings = false;
	analysis_checklist(&f, items);
	assert_int_equal(items[0].status, CHECKLIST_WARN);
	assert_int_equal(items[1].status, CHECKLIST_WARN);
}

/* indexes optimized takes pgfleet index-recommendations in when known */
static void
test_checklist_index_advice(void **state)
{
	struct checklist_facts f = healthy();
	struct checklist_item items[CHECKLIST_ITEMS];

	(void) state;
	f.have_index_advice = true;
	analysis_checklist(&f, items);
	assert_int_equal(items[4].status, CHECKLIST_PASS);
	assert_string_equal(items[4].evidence,
	    "30 indexes, none invalid or duplicate; 0 index recommendations, none high");
	f.index_advice = 2;
	checklist_add_name(f.index_advice_names, sizeof(f.index_advice_names),
	    "missing_index public.orders");
	checklist_add_name(f.index_advice_names, sizeof(f.index_advice_names),
	    "unused public.orders.orders_old");
	analysis_checklist(&f, items);
	assert_int_equal(items[4].status, CHECKLIST_PASS);
	f.index_advice_high = 1;
	analysis_checklist(&f, items);
	assert_int_equal(items[4].status, CHECKLIST_WARN);
	assert_string_equal(items[4].evidence,
	    "30 indexes, none invalid or duplicate; 2 index recommendations, 1 high:"
	    " missing_index public.orders, unused public.orders.orders_old");
	assert_string_equal(items[4].recommendation, "apply pgfleet index-recommendations");
	/* an invalid index still fails first */
	f.invalid_indexes = 1;
	analysis_checklist(&f, items);
	assert_int_equal(items[4].status, CHECKLIST_FAIL);
}

static void
test_checklist_helpers(void **state)
{
	char sig_a[256], sig_b[256], sig_c[256], list[24] = "";

	(void) state;
	assert_true(checklist_library_listed("pg_stat_statements", "pg_stat_statements"));
	assert_true(checklist_library_listed(
	    "auto_explain, \"pg_stat_statements\"", "pg_stat_statements"));
	assert_false(
	    checklist_library_listed("pg_stat_statements_x", "pg_stat_statements"));
	assert_false(checklist_library_listed("", "pg_stat_statements"));
	assert_false(checklist_library_listed(NULL, "pg_stat_statements"));
	checklist_index_signature(
	    "CREATE INDEX a ON public.t USING btree (x)", sig_a, sizeof(sig_a));
	checklist_index_signature(
	    "CREATE INDEX b ON public.t USING btree (x)", sig_b, sizeof(sig_b));
	checklist_index_signature(
	    "CREATE UNIQUE INDEX c ON public.t USING btree (x)", sig_c, sizeof(sig_c));
	assert_string_equal(sig_a, sig_b);
	assert_string_equal(sig_a, "CREATE INDEX ON public.t USING btree (x)");
	assert_string_not_equal(sig_a, sig_c);
	checklist_add_name(list, sizeof(list), "a.b.c");
	checklist_add_name(list, sizeof(list), "d.e.f");
	checklist_add_name(list, sizeof(list), "g.h.i");
	checklist_add_name(list, sizeof(list), "j.k.l");
	assert_string_equal(list, "a.b.c, d.e.f, ...");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trend),
		cmocka_unit_test(test_replicas_and_slots),
		cmocka_unit_test(test_checklist_all_pass),
		cmocka_unit_test(test_checklist_problems),
		cmocka_unit_test(test_checklist_index_advice),
		cmocka_unit_test(test_checklist_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
