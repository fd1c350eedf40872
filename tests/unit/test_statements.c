/*
 * test_statements.c - the statements family without a server: the SQL
 * chosen for each server version, deltas of hand-built snapshots (plain,
 * new keys, evictions, resets, never a negative counter), the snapshot's
 * conversions for the state file, and the state and agent id files
 * themselves in a temporary directory.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/state_file.h"
#include "agent/statements.h"

#define SCHEMA "\"my stats\""

/* assert_near: a double within tolerance of what is expected, with both
 * shown on failure. */
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

/* ---- SQL by server version ---- */

static void
test_sql_refuses_before_13(void **state)
{
	char buf[4096];
	(void) state;
	assert_false(statements_sql(120000, SCHEMA, buf, sizeof(buf)));
	assert_false(statements_sql(129999, SCHEMA, buf, sizeof(buf)));
	assert_false(statements_sql(0, SCHEMA, buf, sizeof(buf)));
}

static void
test_sql_13_has_no_toplevel(void **state)
{
	char buf[4096];
	(void) state;
	assert_true(statements_sql(130000, SCHEMA, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "s.userid, true, s.calls"));
	assert_null(strstr(buf, "toplevel"));
	assert_non_null(strstr(buf, " s.blk_read_time, s.blk_write_time,"));
	assert_null(strstr(buf, "shared_blk_read_time"));
	assert_null(strstr(buf, "local_blk_read_time"));
	assert_non_null(strstr(buf, "s.local_blks_hit, s.local_blks_read,"));
	assert_non_null(strstr(buf, " FROM " SCHEMA ".pg_stat_statements(false) s"));
}

static void
test_sql_14_to_16(void **state)
{
	static const int versions[] = { 140000, 150000, 160000, 169999 };
	(void) state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		char buf[4096];
		assert_true(statements_sql(versions[i], SCHEMA, buf, sizeof(buf)));
		assert_non_null(strstr(buf, "s.userid, s.toplevel, s.calls"));
		assert_non_null(strstr(buf, " s.blk_read_time, s.blk_write_time,"));
		assert_null(strstr(buf, "shared_blk_read_time"));
		assert_null(strstr(buf, "local_blk_read_time"));
	assert_non_null(strstr(buf, "s.local_blks_hit, s.local_blks_read,"));
		assert_non_null(strstr(buf, " FROM " SCHEMA ".pg_stat_statements(false) s"));
	}
}

static void
test_sql_17_splits_block_time(void **state)
{
	char buf[4096];
	(void) state;
	assert_true(statements_sql(170000, SCHEMA, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "s.userid, s.toplevel, s.calls"));
	assert_non_null(strstr(buf,
	    " s.shared_blk_read_time + s.local_blk_read_time,"
	    " s.shared_blk_write_time + s.local_blk_write_time,"));
	assert_null(strstr(buf, " s.blk_read_time"));
	assert_null(strstr(buf, " s.blk_write_time"));
	assert_non_null(strstr(buf, " FROM " SCHEMA ".pg_stat_statements(false) s"));
}

static void
test_sql_buffer_too_small(void **state)
{
	char buf[4096];
	char *exact;
	size_t need;
	(void) state;
	assert_true(statements_sql(160000, SCHEMA, buf, sizeof(buf)));
	need = strlen(buf) + 1;
	exact = malloc(need);
	assert_non_null(exact);
	/* one byte short is refused, the exact size is enough */
	assert_false(statements_sql(160000, SCHEMA, exact, need - 1));
	assert_true(statements_sql(160000, SCHEMA, exact, need));
	assert_string_equal(exact, buf);
	assert_false(statements_sql(160000, SCHEMA, exact, 16));
	free(exact);
}

static void
test_info_sql(void **state)
{
	char buf[512];
	char tiny[16];
	(void) state;
	assert_null(statements_info_sql(120000, SCHEMA, buf, sizeof(buf)));
	assert_null(statements_info_sql(130000, SCHEMA, buf, sizeof(buf)));
	assert_null(statements_info_sql(139999, SCHEMA, buf, sizeof(buf)));
	assert_ptr_equal(statements_info_sql(140000, SCHEMA, buf, sizeof(buf)), buf);
	assert_non_null(strstr(buf, "SELECT dealloc,"));
	assert_non_null(strstr(buf, " FROM " SCHEMA ".pg_stat_statements_info"));
	assert_ptr_equal(statements_info_sql(170000, SCHEMA, buf, sizeof(buf)), buf);
	assert_null(statements_info_sql(170000, SCHEMA, tiny, sizeof(tiny)));
}

/* ---- deltas ---- */

static char db_app[] = "app";
static char db_other[] = "other";
static char user_web[] = "web";

/* sample makes a statement whose counters all grow with calls, so each
 * field of a delta has its own value to check. */
static struct statement_sample
sample(int64_t queryid, bool toplevel, int64_t calls)
{
	struct statement_sample s;
	memset(&s, 0, sizeof(s));
	s.key.queryid = queryid;
	s.key.dbid = 16384;
	s.key.userid = 10;
	s.key.toplevel = toplevel;
	s.calls = calls;
	s.total_exec_time_ms = 1.5 * (double) calls;
	s.sum_sq_exec_time_ms2 = 2.25 * (double) calls + 0.5;
	s.rows = 3 * calls;
	s.shared_blks_hit = 100 * calls;
	s.shared_blks_read = 7 * calls;
	s.shared_blks_dirtied = 2 * calls;
	s.shared_blks_written = 1 * calls;
	s.temp_blks_read = 5 * calls;
	s.temp_blks_written = 4 * calls;
	s.blk_read_time_ms = 0.25 * (double) calls;
	s.blk_write_time_ms = 0.125 * (double) calls;
	s.wal_bytes = 1000 * calls;
	s.total_plan_time_ms = 0.5 * (double) calls;
	s.min_exec_time_ms = 0.75;
	s.max_exec_time_ms = 9.0 + (double) calls;
	s.datname = db_app;
	s.username = user_web;
	return s;
}

static struct statements_snapshot
snapshot(struct statement_sample *rows, size_t count, int64_t taken_at_us,
    int64_t stats_reset_us, int64_t dealloc)
{
	struct statements_snapshot s;
	memset(&s, 0, sizeof(s));
	s.taken_at_us = taken_at_us;
	s.stats_reset_us = stats_reset_us;
	s.dealloc = dealloc;
	s.count = count;
	s.rows = rows;
	return s;
}

/* find_delta returns the delta for (queryid, toplevel), or NULL. */
static const Pgfleet__V1__StatementDelta *
find_delta(const Pgfleet__V1__StatementsFamily *family, int64_t queryid, bool toplevel)
{
	for (size_t i = 0; i < family->n_statements; i++) {
		if (family->statements[i]->queryid == queryid &&
		    (bool) family->statements[i]->toplevel == toplevel)
			return family->statements[i];
	}
	return NULL;
}

/* assert_nonnegative checks every counter of every delta. */
static void
assert_nonnegative(const Pgfleet__V1__StatementsFamily *family)
{
	assert_true(family->dealloc >= 0);
	for (size_t i = 0; i < family->n_statements; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		assert_true(d->calls > 0);
		assert_true(d->total_exec_time_ms >= 0.0);
		assert_true(d->sum_sq_exec_time_ms2 >= 0.0);
		assert_true(d->rows >= 0);
		assert_true(d->shared_blks_hit >= 0);
		assert_true(d->shared_blks_read >= 0);
		assert_true(d->shared_blks_dirtied >= 0);
		assert_true(d->shared_blks_written >= 0);
		assert_true(d->temp_blks_read >= 0);
		assert_true(d->temp_blks_written >= 0);
		assert_true(d->blk_read_time_ms >= 0.0);
		assert_true(d->blk_write_time_ms >= 0.0);
		assert_true(d->wal_bytes >= 0);
		assert_true(d->total_plan_time_ms >= 0.0);
	}
}

/* assert_whole checks that d carries all of cur's counters (a statement
 * counted from zero). */
static void
assert_whole(const Pgfleet__V1__StatementDelta *d, const struct statement_sample *cur)
{
	assert_non_null(d);
	assert_int_equal(d->calls, cur->calls);
	assert_near(d->total_exec_time_ms, cur->total_exec_time_ms, 0.0);
	assert_near(d->sum_sq_exec_time_ms2, cur->sum_sq_exec_time_ms2, 0.0);
	assert_int_equal(d->rows, cur->rows);
	assert_int_equal(d->shared_blks_hit, cur->shared_blks_hit);
	assert_int_equal(d->shared_blks_read, cur->shared_blks_read);
	assert_int_equal(d->shared_blks_dirtied, cur->shared_blks_dirtied);
	assert_int_equal(d->shared_blks_written, cur->shared_blks_written);
	assert_int_equal(d->temp_blks_read, cur->temp_blks_read);
	assert_int_equal(d->temp_blks_written, cur->temp_blks_written);
	assert_near(d->blk_read_time_ms, cur->blk_read_time_ms, 0.0);
	assert_near(d->blk_write_time_ms, cur->blk_write_time_ms, 0.0);
	assert_int_equal(d->wal_bytes, cur->wal_bytes);
	assert_near(d->total_plan_time_ms, cur->total_plan_time_ms, 0.0);
}

static void
test_delta_plain(void **state)
{
	struct statement_sample before[] = { sample(1, true, 10), sample(2, true, 5),
		sample(3, false, 8) };
	struct statement_sample after[] = { sample(1, true, 16), sample(2, true, 5),
		sample(3, false, 9) };
	struct statements_snapshot prev = snapshot(before, 3, 1000000, 42, 3);
	struct statements_snapshot cur = snapshot(after, 3, 61000000, 42, 10);
	Pgfleet__V1__StatementsFamily family;
	const Pgfleet__V1__StatementDelta *d;
	(void) state;

	after[0].sum_sq_exec_time_ms2 = before[0].sum_sq_exec_time_ms2 + 111.0;
	after[0].max_exec_time_ms = 77.0;
	after[0].min_exec_time_ms = 0.125;
	after[0].datname = db_other;
	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);

	assert_false(family.reset_detected);
	assert_int_equal(family.interval_start_us, 1000000);
	assert_int_equal(family.interval_end_us, 61000000);
	assert_int_equal(family.dealloc, 7);
	/* statement 2 had no calls in the interval: left out */
	assert_int_equal(family.n_statements, 2);
	assert_null(find_delta(&family, 2, true));

	d = find_delta(&family, 1, true);
	assert_non_null(d);
	assert_int_equal(d->dbid, 16384);
	assert_int_equal(d->userid, 10);
	assert_int_equal(d->calls, 6);
	assert_near(d->total_exec_time_ms, 9.0, 1e-12);
	assert_near(d->sum_sq_exec_time_ms2, 111.0, 1e-12);
	assert_int_equal(d->rows, 18);
	assert_int_equal(d->shared_blks_hit, 600);
	assert_int_equal(d->shared_blks_read, 42);
	assert_int_equal(d->shared_blks_dirtied, 12);
	assert_int_equal(d->shared_blks_written, 6);
	assert_int_equal(d->temp_blks_read, 30);
	assert_int_equal(d->temp_blks_written, 24);
	assert_near(d->blk_read_time_ms, 1.5, 1e-12);
	assert_near(d->blk_write_time_ms, 0.75, 1e-12);
	assert_int_equal(d->wal_bytes, 6000);
	assert_near(d->total_plan_time_ms, 3.0, 1e-12);
	/* extremes are cur's, not differences */
	assert_near(d->max_exec_time_ms, 77.0, 0.0);
	assert_near(d->min_exec_time_ms, 0.125, 0.0);
	/* names are copies of cur's */
	assert_string_equal(d->datname, "other");
	assert_string_equal(d->username, "web");
	assert_ptr_not_equal(d->datname, db_other);
	assert_ptr_not_equal(d->username, user_web);
	assert_int_equal(d->query.len, 0);

	/* the same queryid as a nested statement is its own key */
	d = find_delta(&family, 3, false);
	assert_non_null(d);
	assert_int_equal(d->calls, 1);
	assert_int_equal(d->rows, 3);
	assert_int_equal(d->wal_bytes, 1000);
	assert_nonnegative(&family);
	statements_family_fini(&family);
	assert_int_equal(family.n_statements, 0);
	assert_null(family.statements);
}

static void
test_delta_new_key_counts_from_zero(void **state)
{
	struct statement_sample before[] = { sample(1, true, 10) };
	struct statement_sample after[] = { sample(1, true, 10), sample(7, false, 0),
		sample(7, true, 4) };
	struct statements_snapshot prev = snapshot(before, 1, 1000, 0, 0);
	struct statements_snapshot cur = snapshot(after, 3, 2000, 0, 0);
	Pgfleet__V1__StatementsFamily family;
	(void) state;

	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	/* a statement seen for the first time is not a reset */
	assert_false(family.reset_detected);
	assert_int_equal(family.n_statements, 1);
	assert_whole(find_delta(&family, 7, true), &after[2]);
	assert_null(find_delta(&family, 7, false));
	assert_nonnegative(&family);
	statements_family_fini(&family);
}

static void
test_delta_calls_down_counts_from_zero(void **state)
{
	/* statement 5 was evicted and came back with 3 calls */
	struct statement_sample before[] = { sample(4, true, 20), sample(5, true, 100) };
	struct statement_sample after[] = { sample(4, true, 21), sample(5, true, 3) };
	struct statements_snapshot prev = snapshot(before, 2, 1000, 9, 2);
	struct statements_snapshot cur = snapshot(after, 2, 2000, 9, 3);
	Pgfleet__V1__StatementsFamily family;
	const Pgfleet__V1__StatementDelta *d;
	(void) state;

	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_true(family.reset_detected);
	assert_int_equal(family.dealloc, 1);
	assert_int_equal(family.n_statements, 2);
	assert_whole(find_delta(&family, 5, true), &after[1]);
	/* the other statement still subtracts */
	d = find_delta(&family, 4, true);
	assert_non_null(d);
	assert_int_equal(d->calls, 1);
	assert_int_equal(d->rows, 3);
	assert_nonnegative(&family);
	statements_family_fini(&family);
}

static void
test_delta_stats_reset_counts_all_from_zero(void **state)
{
	struct statement_sample before[] = { sample(1, true, 10), sample(2, true, 50) };
	struct statement_sample after[] = { sample(1, true, 12), sample(2, true, 60) };
	struct statements_snapshot prev = snapshot(before, 2, 1000, 111, 40);
	struct statements_snapshot cur = snapshot(after, 2, 2000, 222, 45);
	Pgfleet__V1__StatementsFamily family;
	(void) state;

	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_true(family.reset_detected);
	/* dealloc was reset with the rest */
	assert_int_equal(family.dealloc, 45);
	assert_int_equal(family.n_statements, 2);
	assert_whole(find_delta(&family, 1, true), &after[0]);
	assert_whole(find_delta(&family, 2, true), &after[1]);
	assert_nonnegative(&family);
	statements_family_fini(&family);
}

static void
test_delta_dealloc_going_down(void **state)
{
	struct statement_sample before[] = { sample(1, true, 1) };
	struct statement_sample after[] = { sample(1, true, 2) };
	struct statements_snapshot prev = snapshot(before, 1, 1000, 5, 30);
	struct statements_snapshot cur = snapshot(after, 1, 2000, 5, 4);
	Pgfleet__V1__StatementsFamily family;
	(void) state;

	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(family.dealloc, 4);
	assert_int_equal(family.n_statements, 1);
	statements_family_fini(&family);
}

/* An entry evicted and made again with as many calls as before: the
 * counters look unchanged, but its min rose and its max fell (PG 13-16):
 * counted from zero (T13). On PG 17 (minmax_only resets) and against a
 * baseline without extremes (an older state file) the rule is off. */
static void
test_delta_recreated_entry_counts_from_zero(void **state)
{
	struct statement_sample before[] = { sample(1, true, 1), sample(2, true, 4) };
	struct statement_sample after[] = { sample(1, true, 1), sample(2, true, 6) };
	struct statements_snapshot prev = snapshot(before, 2, 1000, 5, 10);
	struct statements_snapshot cur = snapshot(after, 2, 2000, 5, 12);
	Pgfleet__V1__StatementsFamily family;
	const Pgfleet__V1__StatementDelta *d;
	(void) state;

	/* 1: made again with one call, slower than the old one's only call */
	after[0].min_exec_time_ms = after[0].max_exec_time_ms = 12.0;
	before[0].min_exec_time_ms = before[0].max_exec_time_ms = 10.0;
	/* 2: made again with 6 calls (4 before): max fell from 13 to 11 */
	after[1].max_exec_time_ms = 11.0;
	cur.minmax_monotonic = true;
	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(family.n_statements, 2);
	d = find_delta(&family, 1, true);
	assert_non_null(d);
	assert_int_equal(d->calls, 1);
	d = find_delta(&family, 2, true);
	assert_non_null(d);
	assert_int_equal(d->calls, 6);
	assert_true(family.reset_detected);
	statements_family_fini(&family);

	/* PG 17: the extremes may be reset alone; counters decide */
	cur.minmax_monotonic = false;
	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(family.n_statements, 1);
	assert_int_equal(find_delta(&family, 2, true)->calls, 2);
	statements_family_fini(&family);

	/* a baseline without extremes (older state file): counters decide */
	cur.minmax_monotonic = true;
	before[0].max_exec_time_ms = before[0].min_exec_time_ms = 0.0;
	before[1].max_exec_time_ms = before[1].min_exec_time_ms = 0.0;
	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(family.n_statements, 1);
	assert_int_equal(find_delta(&family, 2, true)->calls, 2);
	statements_family_fini(&family);

	/* a surviving entry (min down, max up) is a plain difference */
	before[1].min_exec_time_ms = 0.75;
	before[1].max_exec_time_ms = 10.0;
	after[1].min_exec_time_ms = 0.5;
	after[1].max_exec_time_ms = 15.0;
	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(find_delta(&family, 2, true)->calls, 2);
	statements_family_fini(&family);
}

static void
test_delta_never_negative(void **state)
{
	struct statement_sample before[] = { sample(1, true, 10), sample(2, true, 10),
		sample(3, true, 10), sample(4, true, 10), sample(5, true, 10) };
	struct statement_sample after[] = { sample(1, true, 11), sample(2, true, 11),
		sample(3, true, 11), sample(4, true, 11), sample(5, true, 11) };
	struct statements_snapshot prev = snapshot(before, 5, 1000, 0, 0);
	struct statements_snapshot cur = snapshot(after, 5, 2000, 0, 0);
	Pgfleet__V1__StatementsFamily family;
	const Pgfleet__V1__StatementDelta *d;
	(void) state;

	/* 1: rows went down while calls went up: the entry was made again */
	after[0].rows = 2;
	/* 2: counters not watched for resets went down */
	after[1].shared_blks_dirtied = 1;
	after[1].shared_blks_written = 0;
	after[1].temp_blks_read = 0;
	after[1].temp_blks_written = 3;
	/* 3: times went down (float noise, or a partial reset) */
	after[2].blk_read_time_ms = 0.0;
	after[2].blk_write_time_ms = 0.0;
	after[2].total_plan_time_ms = 0.0;
	after[2].sum_sq_exec_time_ms2 = before[2].sum_sq_exec_time_ms2 - 1e-9;
	/* 4: blocks read and WAL went down */
	after[3].shared_blks_read = 1;
	after[3].wal_bytes = 5;
	/* 5: total time went down */
	after[4].total_exec_time_ms = 0.5;

	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(family.n_statements, 5);
	assert_nonnegative(&family);
	assert_true(family.reset_detected);

	/* watched counters going down make the statement count from zero */
	assert_whole(find_delta(&family, 1, true), &after[0]);
	assert_whole(find_delta(&family, 4, true), &after[3]);
	assert_whole(find_delta(&family, 5, true), &after[4]);

	/* the others subtract, clamped at zero */
	d = find_delta(&family, 2, true);
	assert_non_null(d);
	assert_int_equal(d->calls, 1);
	assert_int_equal(d->rows, 3);
	assert_int_equal(d->shared_blks_dirtied, 0);
	assert_int_equal(d->shared_blks_written, 0);
	assert_int_equal(d->temp_blks_read, 0);
	assert_int_equal(d->temp_blks_written, 0);
	d = find_delta(&family, 3, true);
	assert_non_null(d);
	assert_int_equal(d->calls, 1);
	assert_near(d->blk_read_time_ms, 0.0, 0.0);
	assert_near(d->blk_write_time_ms, 0.0, 0.0);
	assert_near(d->total_plan_time_ms, 0.0, 0.0);
	assert_near(d->sum_sq_exec_time_ms2, 0.0, 0.0);
	assert_near(d->total_exec_time_ms, 1.5, 1e-12);
	statements_family_fini(&family);
}

static void
test_delta_sum_sq(void **state)
{
	/* calls of 2 ms and 4 ms, then one more of 10 ms: pg_stat_statements'
	 * mean and population stddev give the sum of squares */
	struct statement_sample before[] = { sample(1, true, 2) };
	struct statement_sample after[] = { sample(1, true, 3) };
	struct statements_snapshot prev = snapshot(before, 1, 1000, 0, 0);
	struct statements_snapshot cur = snapshot(after, 1, 2000, 0, 0);
	Pgfleet__V1__StatementsFamily family;
	double mean1 = 3.0, stddev1 = 1.0;
	double mean2 = 16.0 / 3.0;
	double stddev2 = sqrt((4.0 + 16.0 + 100.0) / 3.0 - mean2 * mean2);
	(void) state;

	before[0].total_exec_time_ms = 6.0;
	before[0].sum_sq_exec_time_ms2 = 2.0 * (stddev1 * stddev1 + mean1 * mean1);
	after[0].total_exec_time_ms = 16.0;
	after[0].sum_sq_exec_time_ms2 = 3.0 * (stddev2 * stddev2 + mean2 * mean2);
	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(family.n_statements, 1);
	assert_near(family.statements[0]->total_exec_time_ms, 10.0, 1e-12);
	assert_near(family.statements[0]->sum_sq_exec_time_ms2, 100.0, 1e-9);
	statements_family_fini(&family);
}

static void
test_delta_empty(void **state)
{
	struct statements_snapshot prev = snapshot(NULL, 0, 5, 0, 0);
	struct statements_snapshot cur = snapshot(NULL, 0, 6, 0, 0);
	Pgfleet__V1__StatementsFamily family;
	(void) state;

	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(family.n_statements, 0);
	assert_int_equal(family.interval_start_us, 5);
	assert_int_equal(family.interval_end_us, 6);
	assert_false(family.reset_detected);
	statements_family_fini(&family);
}

static void
test_family_fini_frees_texts_and_detail(void **state)
{
	struct statement_sample after[] = { sample(1, true, 1) };
	struct statements_snapshot prev = snapshot(NULL, 0, 5, 0, 0);
	struct statements_snapshot cur = snapshot(after, 1, 6, 0, 0);
	Pgfleet__V1__StatementsFamily family;
	(void) state;

	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&prev, &cur, &family), PGF_OK);
	assert_int_equal(family.n_statements, 1);
	family.statements[0]->query.data = (uint8_t *) strdup("SELECT 1");
	family.statements[0]->query.len = 8;
	family.status_detail = strdup("detail");
	statements_family_fini(&family);
	assert_string_equal(family.status_detail, "");
	/* a second fini is harmless */
	statements_family_fini(&family);
}

/* ---- snapshot conversions ---- */

static void
assert_same_counters(const struct statement_sample *a, const struct statement_sample *b)
{
	assert_int_equal(a->key.queryid, b->key.queryid);
	assert_int_equal(a->key.dbid, b->key.dbid);
	assert_int_equal(a->key.userid, b->key.userid);
	assert_int_equal(a->key.toplevel, b->key.toplevel);
	assert_int_equal(a->calls, b->calls);
	assert_near(a->total_exec_time_ms, b->total_exec_time_ms, 0.0);
	assert_near(a->sum_sq_exec_time_ms2, b->sum_sq_exec_time_ms2, 0.0);
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->shared_blks_hit, b->shared_blks_hit);
	assert_int_equal(a->shared_blks_read, b->shared_blks_read);
	assert_int_equal(a->shared_blks_dirtied, b->shared_blks_dirtied);
	assert_int_equal(a->shared_blks_written, b->shared_blks_written);
	assert_int_equal(a->temp_blks_read, b->temp_blks_read);
	assert_int_equal(a->temp_blks_written, b->temp_blks_written);
	assert_near(a->blk_read_time_ms, b->blk_read_time_ms, 0.0);
	assert_near(a->blk_write_time_ms, b->blk_write_time_ms, 0.0);
	assert_int_equal(a->wal_bytes, b->wal_bytes);
	assert_near(a->total_plan_time_ms, b->total_plan_time_ms, 0.0);
}

static char system_identifier[] = "7300000000000000001";

/* three statements, sorted by key, with a negative queryid */
static struct statements_snapshot
sorted_snapshot(struct statement_sample rows[3])
{
	rows[0] = sample(-9000000000000000000LL, true, 3);
	rows[1] = sample(17, false, 1000000);
	rows[2] = sample(17, true, 2);
	rows[2].key.dbid = 4000000000u;
	rows[2].key.userid = 3000000000u;
	rows[2].total_exec_time_ms = 0.1;
	struct statements_snapshot s = snapshot(rows, 3, 1700000000123456LL, 1699999999000000LL, 12);
	s.system_identifier = system_identifier;
	s.postmaster_start_time_us = 1690000000000001LL;
	return s;
}

static void
test_snapshot_proto_round_trip(void **state)
{
	struct statement_sample rows[3];
	struct statements_snapshot in = sorted_snapshot(rows);
	struct statements_snapshot out;
	Pgfleet__V1__StatementsSnapshot proto;
	(void) state;

	assert_int_equal(statements_snapshot_to_proto(&in, &proto), PGF_OK);
	assert_string_equal(proto.system_identifier, system_identifier);
	assert_int_equal(proto.taken_at_us, 1700000000123456LL);
	assert_int_equal(proto.stats_reset_us, 1699999999000000LL);
	assert_int_equal(proto.dealloc, 12);
	assert_int_equal(proto.postmaster_start_time_us, 1690000000000001LL);
	assert_int_equal(proto.n_statements, 3);
	assert_int_equal(proto.statements[0]->queryid, -9000000000000000000LL);
	assert_int_equal(proto.statements[1]->calls, 1000000);
	assert_int_equal(proto.statements[2]->dbid, 4000000000u);
	assert_int_equal(proto.statements[2]->userid, 3000000000u);

	assert_int_equal(statements_snapshot_from_proto(&proto, &out), PGF_OK);
	statements_snapshot_proto_fini(&proto);
	assert_int_equal(proto.n_statements, 0);
	assert_null(proto.statements);

	assert_string_equal(out.system_identifier, system_identifier);
	assert_ptr_not_equal(out.system_identifier, system_identifier);
	assert_null(out.schema);
	assert_int_equal(out.taken_at_us, in.taken_at_us);
	assert_int_equal(out.stats_reset_us, in.stats_reset_us);
	assert_int_equal(out.dealloc, in.dealloc);
	assert_int_equal(out.postmaster_start_time_us, in.postmaster_start_time_us);
	assert_int_equal(out.count, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_same_counters(&out.rows[i], &in.rows[i]);
		/* the extremes survive a restart: eviction is still seen (T13) */
		assert_true(out.rows[i].min_exec_time_ms == in.rows[i].min_exec_time_ms);
		assert_true(out.rows[i].max_exec_time_ms == in.rows[i].max_exec_time_ms);
		assert_null(out.rows[i].datname);
		assert_null(out.rows[i].username);
	}
	statements_snapshot_fini(&out);
	assert_int_equal(out.count, 0);
	assert_null(out.rows);
}

static void
test_snapshot_empty_round_trip(void **state)
{
	struct statements_snapshot in = snapshot(NULL, 0, 77, 0, 0);
	struct statements_snapshot out;
	Pgfleet__V1__StatementsSnapshot proto;
	(void) state;

	assert_int_equal(statements_snapshot_to_proto(&in, &proto), PGF_OK);
	assert_string_equal(proto.system_identifier, "");
	assert_int_equal(proto.n_statements, 0);
	assert_int_equal(statements_snapshot_from_proto(&proto, &out), PGF_OK);
	statements_snapshot_proto_fini(&proto);
	assert_string_equal(out.system_identifier, "");
	assert_int_equal(out.taken_at_us, 77);
	assert_int_equal(out.count, 0);
	statements_snapshot_fini(&out);
}

static void
test_snapshot_from_proto_sorts(void **state)
{
	/* written out of order, as by hand or an older agent */
	static const struct {
		int64_t queryid;
		uint32_t dbid;
		uint32_t userid;
		bool toplevel;
	} keys[] = {
		{ 5, 2, 1, true }, { -3, 9, 9, true }, { 5, 1, 7, true },
		{ 5, 2, 1, false }, { 5, 1, 2, false }, { 100, 0, 0, false },
	};
	/* the order of keys[] once sorted */
	static const size_t order[] = { 1, 4, 2, 3, 0, 5 };
	enum { N = sizeof(keys) / sizeof(keys[0]) };
	Pgfleet__V1__StatementCounters counters[N];
	Pgfleet__V1__StatementCounters *pointers[N];
	Pgfleet__V1__StatementsSnapshot proto;
	struct statements_snapshot out;
	(void) state;

	pgfleet__v1__statements_snapshot__init(&proto);
	for (size_t i = 0; i < N; i++) {
		pgfleet__v1__statement_counters__init(&counters[i]);
		counters[i].queryid = keys[i].queryid;
		counters[i].dbid = keys[i].dbid;
		counters[i].userid = keys[i].userid;
		counters[i].toplevel = keys[i].toplevel;
		counters[i].calls = (int64_t) i + 1;
		counters[i].wal_bytes = 1000 * ((int64_t) i + 1);
		pointers[i] = &counters[i];
	}
	proto.statements = pointers;
	proto.n_statements = N;
	proto.system_identifier = system_identifier;

	assert_int_equal(statements_snapshot_from_proto(&proto, &out), PGF_OK);
	assert_int_equal(out.count, N);
	for (size_t i = 0; i < N; i++) {
		size_t from = order[i];
		assert_int_equal(out.rows[i].key.queryid, keys[from].queryid);
		assert_int_equal(out.rows[i].key.dbid, keys[from].dbid);
		assert_int_equal(out.rows[i].key.userid, keys[from].userid);
		assert_int_equal(out.rows[i].key.toplevel, keys[from].toplevel);
		/* each row moved with its counters */
		assert_int_equal(out.rows[i].calls, (int64_t) from + 1);
		assert_int_equal(out.rows[i].wal_bytes, 1000 * ((int64_t) from + 1));
	}
	statements_snapshot_fini(&out);
}

static void
test_restored_snapshot_is_a_baseline(void **state)
{
	/* a snapshot restored from proto (no names) works as prev of a delta */
	struct statement_sample rows[3];
	struct statement_sample now[3];
	struct statements_snapshot in = sorted_snapshot(rows);
	struct statements_snapshot restored;
	struct statements_snapshot cur;
	Pgfleet__V1__StatementsSnapshot proto;
	Pgfleet__V1__StatementsFamily family;
	(void) state;

	assert_int_equal(statements_snapshot_to_proto(&in, &proto), PGF_OK);
	assert_int_equal(statements_snapshot_from_proto(&proto, &restored), PGF_OK);
	statements_snapshot_proto_fini(&proto);
	memcpy(now, rows, sizeof(now));
	now[1] = sample(17, false, 1000004);
	cur = snapshot(now, 3, in.taken_at_us + 60000000, in.stats_reset_us, in.dealloc);

	pgfleet__v1__statements_family__init(&family);
	assert_int_equal(statements_delta(&restored, &cur, &family), PGF_OK);
	assert_false(family.reset_detected);
	assert_int_equal(family.n_statements, 1);
	assert_int_equal(family.statements[0]->queryid, 17);
	assert_false(family.statements[0]->toplevel);
	assert_int_equal(family.statements[0]->calls, 4);
	assert_int_equal(family.statements[0]->wal_bytes, 4000);
	statements_family_fini(&family);
	statements_snapshot_fini(&restored);
}

/* ---- state files ---- */

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
	char *dir = strdup("/tmp/pgfleet-test-statements-XXXXXX");
	if (dir == NULL || mkdtemp(dir) == NULL) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int
remove_dir(void **state)
{
	char *dir = *state;
	int rc = nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return rc;
}

static void
state_path(const char *dir, const char *name, char *path, size_t size)
{
	int n = snprintf(path, size, "%s/%s", dir, name);
	assert_true(n > 0 && (size_t) n < size);
}

/* read_whole reads path into a malloc'd buffer. */
static uint8_t *
read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	data = malloc((size_t) size);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t) size, f), (size_t) size);
	fclose(f);
	*len = (size_t) size;
	return data;
}

static void
write_whole(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* save_sample_state writes a state with a snapshot and two pending
 * reports into dir. */
static void
save_sample_state(const char *dir)
{
	struct statement_sample rows[3];
	struct statements_snapshot snap = sorted_snapshot(rows);
	Pgfleet__V1__StatementsSnapshot proto;
	Pgfleet__V1__AgentState saved;
	ProtobufCBinaryData pending[2] = {
		{ 3, (uint8_t *) "abc" },
		{ 5, (uint8_t *) "\x00\x01\xff\x02\x03" },
	};
	char errbuf[256] = "";

	assert_int_equal(statements_snapshot_to_proto(&snap, &proto), PGF_OK);
	pgfleet__v1__agent_state__init(&saved);
	saved.instance_name = (char *) "db1:5432";
	saved.statements = &proto;
	saved.n_pending_reports = 2;
	saved.pending_reports = pending;
	saved.dropped_reports = 7;
	assert_int_equal(state_file_save(dir, &saved, errbuf, sizeof(errbuf)), PGF_OK);
	statements_snapshot_proto_fini(&proto);
}

static void
test_state_file_round_trip(void **state)
{
	const char *dir = *state;
	struct statement_sample rows[3];
	struct statements_snapshot expected = sorted_snapshot(rows);
	struct statements_snapshot restored;
	Pgfleet__V1__AgentState *loaded = NULL;
	char errbuf[256] = "";
	char path[4096];
	struct stat st;

	save_sample_state(dir);
	/* the temporary file was renamed away */
	state_path(dir, "agent.state.tmp", path, sizeof(path));
	assert_int_equal(stat(path, &st), -1);
	state_path(dir, "agent.state", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_OK);
	assert_non_null(loaded);
	assert_string_equal(loaded->instance_name, "db1:5432");
	assert_int_equal(loaded->dropped_reports, 7);
	assert_int_equal(loaded->n_pending_reports, 2);
	assert_int_equal(loaded->pending_reports[0].len, 3);
	assert_memory_equal(loaded->pending_reports[0].data, "abc", 3);
	assert_int_equal(loaded->pending_reports[1].len, 5);
	assert_memory_equal(loaded->pending_reports[1].data, "\x00\x01\xff\x02\x03", 5);
	assert_non_null(loaded->statements);
	assert_int_equal(statements_snapshot_from_proto(loaded->statements, &restored),
	    PGF_OK);
	pgfleet__v1__agent_state__free_unpacked(loaded, NULL);

	assert_string_equal(restored.system_identifier, system_identifier);
	assert_int_equal(restored.taken_at_us, expected.taken_at_us);
	assert_int_equal(restored.stats_reset_us, expected.stats_reset_us);
	assert_int_equal(restored.dealloc, expected.dealloc);
	assert_int_equal(restored.postmaster_start_time_us, expected.postmaster_start_time_us);
	assert_int_equal(restored.count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_same_counters(&restored.rows[i], &expected.rows[i]);
	statements_snapshot_fini(&restored);

	/* saving again replaces the file */
	{
		Pgfleet__V1__AgentState small;
		pgfleet__v1__agent_state__init(&small);
		small.instance_name = (char *) "db2";
		assert_int_equal(state_file_save(dir, &small, errbuf, sizeof(errbuf)), PGF_OK);
		assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_OK);
		assert_string_equal(loaded->instance_name, "db2");
		assert_null(loaded->statements);
		assert_int_equal(loaded->n_pending_reports, 0);
		pgfleet__v1__agent_state__free_unpacked(loaded, NULL);
	}
}

static void
test_state_file_missing(void **state)
{
	const char *dir = *state;
	Pgfleet__V1__AgentState *loaded = (Pgfleet__V1__AgentState *) &loaded;
	char errbuf[256] = "";
	char missing[4096];

	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)),
	    PGF_ENOTFOUND);
	assert_null(loaded);
	state_path(dir, "nowhere", missing, sizeof(missing));
	assert_int_equal(state_file_load(missing, &loaded, errbuf, sizeof(errbuf)),
	    PGF_ENOTFOUND);
	assert_null(loaded);
}

static void
test_state_file_corrupt_byte(void **state)
{
	const char *dir = *state;
	Pgfleet__V1__AgentState *loaded = NULL;
	char errbuf[256] = "";
	char path[4096];
	uint8_t *data;
	size_t len;

	save_sample_state(dir);
	state_path(dir, "agent.state", path, sizeof(path));
	data = read_whole(path, &len);
	assert_true(len > 40);

	/* a payload byte: the checksum catches it */
	data[len / 2] ^= 0x10;
	write_whole(path, data, len);
	errbuf[0] = '\0';
	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_EDECODE);
	assert_null(loaded);
	assert_non_null(strstr(errbuf, "checksum"));
	data[len / 2] ^= 0x10;

	/* the magic */
	data[0] = 'X';
	write_whole(path, data, len);
	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_EDECODE);
	assert_null(loaded);
	assert_non_null(strstr(errbuf, "header"));
	data[0] = 'P';

	/* the format version */
	data[4] = 2;
	write_whole(path, data, len);
	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_EDECODE);
	assert_null(loaded);
	assert_non_null(strstr(errbuf, "format"));
	data[4] = 1;

	/* put back, it loads again */
	write_whole(path, data, len);
	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_OK);
	pgfleet__v1__agent_state__free_unpacked(loaded, NULL);
	free(data);
}

static void
test_state_file_truncated(void **state)
{
	const char *dir = *state;
	Pgfleet__V1__AgentState *loaded = NULL;
	char errbuf[256] = "";
	char path[4096];
	uint8_t *data;
	size_t len;

	save_sample_state(dir);
	state_path(dir, "agent.state", path, sizeof(path));
	data = read_whole(path, &len);

	write_whole(path, data, len - 1);
	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_EDECODE);
	assert_null(loaded);
	assert_non_null(strstr(errbuf, "truncated"));

	/* shorter than the header */
	write_whole(path, data, 10);
	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_EDECODE);
	assert_null(loaded);

	/* empty */
	write_whole(path, data, 0);
	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_EDECODE);
	assert_null(loaded);
	free(data);
}

static void
test_state_file_disk_full(void **state)
{
	const char *dir = *state;
	Pgfleet__V1__AgentState *loaded = NULL;
	Pgfleet__V1__AgentState other;
	char errbuf[256] = "";
	char tmp[4096];
	struct stat st;

	if (stat("/dev/full", &st) != 0)
		skip();
	save_sample_state(dir);
	/* the temporary file is /dev/full: every write fails with ENOSPC */
	state_path(dir, "agent.state.tmp", tmp, sizeof(tmp));
	assert_int_equal(symlink("/dev/full", tmp), 0);
	pgfleet__v1__agent_state__init(&other);
	other.instance_name = (char *) "other";
	assert_int_equal(state_file_save(dir, &other, errbuf, sizeof(errbuf)), PGF_EFULL);
	assert_non_null(strstr(errbuf, "No space left on device"));
	/* the temporary is gone and the old state is still there */
	assert_int_equal(lstat(tmp, &st), -1);
	assert_int_equal(state_file_load(dir, &loaded, errbuf, sizeof(errbuf)), PGF_OK);
	assert_string_equal(loaded->instance_name, "db1:5432");
	pgfleet__v1__agent_state__free_unpacked(loaded, NULL);
}

static bool
is_hex_id(const char *id)
{
	if (strlen(id) != 32)
		return false;
	for (size_t i = 0; i < 32; i++) {
		if (strchr("0123456789abcdef", id[i]) == NULL)
			return false;
	}
	return true;
}

static void
test_agent_id(void **state)
{
	const char *dir = *state;
	char sub[4096];
	char path[4096];
	char first[33];
	char second[33];
	char other[33];
	char errbuf[256] = "";
	uint8_t *data;
	size_t len;

	/* the state directory is made when missing */
	state_path(dir, "state", sub, sizeof(sub));
	assert_int_equal(state_file_agent_id(sub, first, errbuf, sizeof(errbuf)), PGF_OK);
	assert_true(is_hex_id(first));
	state_path(sub, "agent_id", path, sizeof(path));
	data = read_whole(path, &len);
	assert_int_equal(len, 33);
	assert_memory_equal(data, first, 32);
	assert_int_equal(data[32], '\n');
	free(data);

	assert_int_equal(state_file_agent_id(sub, second, errbuf, sizeof(errbuf)), PGF_OK);
	assert_string_equal(second, first);

	/* another directory gets another id */
	state_path(dir, "other", sub, sizeof(sub));
	assert_int_equal(state_file_agent_id(sub, other, errbuf, sizeof(errbuf)), PGF_OK);
	assert_true(is_hex_id(other));
	assert_string_not_equal(other, first);

	/* a damaged id file is an error, not silently replaced */
	state_path(sub, "agent_id", path, sizeof(path));
	write_whole(path, (const uint8_t *) "not-an-id\n", 10);
	errbuf[0] = '\0';
	assert_int_equal(state_file_agent_id(sub, other, errbuf, sizeof(errbuf)), PGF_EIO);
	assert_non_null(strstr(errbuf, "32 hex digits"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sql_refuses_before_13),
		cmocka_unit_test(test_sql_13_has_no_toplevel),
		cmocka_unit_test(test_sql_14_to_16),
		cmocka_unit_test(test_sql_17_splits_block_time),
		cmocka_unit_test(test_sql_buffer_too_small),
		cmocka_unit_test(test_info_sql),
		cmocka_unit_test(test_delta_plain),
		cmocka_unit_test(test_delta_new_key_counts_from_zero),
		cmocka_unit_test(test_delta_calls_down_counts_from_zero),
		cmocka_unit_test(test_delta_stats_reset_counts_all_from_zero),
		cmocka_unit_test(test_delta_dealloc_going_down),
		cmocka_unit_test(test_delta_never_negative),
		cmocka_unit_test(test_delta_recreated_entry_counts_from_zero),
		cmocka_unit_test(test_delta_sum_sq),
		cmocka_unit_test(test_delta_empty),
		cmocka_unit_test(test_family_fini_frees_texts_and_detail),
		cmocka_unit_test(test_snapshot_proto_round_trip),
		cmocka_unit_test(test_snapshot_empty_round_trip),
		cmocka_unit_test(test_snapshot_from_proto_sorts),
		cmocka_unit_test(test_restored_snapshot_is_a_baseline),
		cmocka_unit_test_setup_teardown(test_state_file_round_trip, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_state_file_missing, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_state_file_corrupt_byte, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_state_file_truncated, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_state_file_disk_full, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_agent_id, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
