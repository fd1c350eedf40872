/*
 * store_sqlite_rollup.c - months of statement history in one SQLite file:
 * hourly and daily rollups, and retention.
 *
 * Raw per-interval rows are kept `raw_retention` (7 days by default),
 * hourly sums `hourly_retention` (90 days), daily sums `daily_retention`
 * (a year). Two watermarks in rollup_state say how far each rollup has
 * gone: every raw row before the hourly watermark is in the hourly table,
 * every hourly row before the daily watermark is in the daily table. So
 * the statements a question reads (store_sqlite_statement_source) are raw
 * rows after the hourly watermark, hourly rows between the two, and daily
 * rows before the daily one: every interval counted exactly once, whatever
 * has been pruned. A late report (an agent's backlog) for a time already
 * rolled up is added to the rollups as it is stored.
 *
 * Fleet-wide levels (statement_fleet_hourly, statement_fleet_daily) hold
 * the same rows added up across instances per (queryid, bucket, database
 * name), written by the same rollup steps and late path and pruned with
 * the same cutoffs, so with the same watermarks they answer a fleet-wide
 * trend exactly as adding up every instance would
 * (store_sqlite_fleet_statement_source; tests/unit/test_fleet_trend.c).
 *
 * Snapshot histories (tables, indexes, bloat) are thinned past
 * `raw_retention` to the last snapshot of each day per instance, which is
 * what growth-per-day trends read, and deleted past `hourly_retention`,
 * like the other histories (activity totals, replication lag).
 *
 * Maintenance is incremental: each call rolls up at most a day of raw rows
 * and deletes at most a bounded number of rows, so the ingest thread that
 * runs it between reports never stalls for long.
 */
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/rollup_plan.h"

#define HOUR_US ROLLUP_HOUR_US
#define DAY_US ROLLUP_DAY_US
/* Rows one maintenance call deletes from a table at most (the rollup
 * range a call covers: rollup_plan.h). */
#define DELETE_BATCH 20000

/* The rollup tables repeat the columns questions add up. */
#define ROLLUP_TABLE(name)                                              \
	"CREATE TABLE " name " ("                                      \
	"  instance_id INTEGER NOT NULL,"                              \
	"  bucket_us INTEGER NOT NULL,"                                \
	"  dbid INTEGER NOT NULL,"                                     \
	"  queryid INTEGER NOT NULL,"                                  \
	"  datname TEXT NOT NULL,"                                     \
	"  calls INTEGER NOT NULL,"                                    \
	"  total_exec_time_ms REAL NOT NULL,"                          \
	"  sum_sq_exec_time_ms2 REAL NOT NULL,"                        \
	"  max_exec_time_ms REAL NOT NULL,"                            \
	"  rows INTEGER NOT NULL,"                                     \
	"  PRIMARY KEY (instance_id, bucket_us, dbid, queryid)) WITHOUT ROWID;"

const char store_sqlite_rollup_schema[] =
	ROLLUP_TABLE("statement_stats_hourly")
	ROLLUP_TABLE("statement_stats_daily")
	"CREATE INDEX statement_stats_hourly_by_time ON statement_stats_hourly (bucket_us);"
	"CREATE INDEX statement_stats_daily_by_time ON statement_stats_daily (bucket_us);"
	/* query-trend reads one statement over weeks: from the rollups,
	 * by queryid (the raw rows it reads are only the last hour's) */
	"CREATE INDEX statement_stats_hourly_by_query ON statement_stats_hourly (queryid, bucket_us);"
	"CREATE INDEX statement_stats_daily_by_query ON statement_stats_daily (queryid, bucket_us);"
	"CREATE TABLE rollup_state (name TEXT PRIMARY KEY, until_us INTEGER NOT NULL);"
	"INSERT INTO rollup_state VALUES ('hourly', 0), ('daily', 0), ('thinned', 0);";

/* Adding rows into a rollup: sums add, maxima take the larger. */
#define ROLLUP_UPSERT                                                           \
	" ON CONFLICT (instance_id, bucket_us, dbid, queryid) DO UPDATE SET"   \
	" calls = calls + excluded.calls,"                                      \
	" total_exec_time_ms = total_exec_time_ms + excluded.total_exec_time_ms," \
	" sum_sq_exec_time_ms2 = sum_sq_exec_time_ms2 + excluded.sum_sq_exec_time_ms2," \
	" max_exec_time_ms = max(max_exec_time_ms, excluded.max_exec_time_ms),"   \
	" rows = rows + excluded.rows"

/*
 * Totals per statement (instance, database, queryid) of everything rolled
 * up so far: upper bounds of any window's figures, which let slow-queries
 * over a long window look at a few statements instead of all of them
 * (store_sqlite_slow.c). Kept by the hourly rollup, so a question adds the
 * raw rows past the hourly watermark itself. Never lowered by retention:
 * a bound may only be too high.
 */
#define TOTALS_UPSERT                                                           \
	" ON CONFLICT (instance_id, dbid, queryid) DO UPDATE SET"               \
	" calls = calls + excluded.calls,"                                      \
	" total_exec_time_ms = total_exec_time_ms + excluded.total_exec_time_ms," \
	" max_exec_time_ms = max(max_exec_time_ms, excluded.max_exec_time_ms)"

const char store_sqlite_totals_schema[] =
	"CREATE TABLE statement_totals ("
	"  instance_id INTEGER NOT NULL,"
	"  dbid INTEGER NOT NULL,"
	"  queryid INTEGER NOT NULL,"
	"  calls INTEGER NOT NULL,"
	"  total_exec_time_ms REAL NOT NULL,"
	"  max_exec_time_ms REAL NOT NULL,"
	"  PRIMARY KEY (instance_id, dbid, queryid)) WITHOUT ROWID;"
	"CREATE INDEX statement_totals_by_total ON statement_totals (total_exec_time_ms);"
	"CREATE INDEX statement_totals_by_calls ON statement_totals (calls);"
	"CREATE INDEX statement_totals_by_max ON statement_totals (max_exec_time_ms);"
	/* one statement's rows of a level, for the few a question adds up */
	"CREATE INDEX statement_stats_hourly_by_pair ON statement_stats_hourly"
	"  (instance_id, queryid, bucket_us);"
	"CREATE INDEX statement_stats_daily_by_pair ON statement_stats_daily"
	"  (instance_id, queryid, bucket_us);"
	/* what is rolled up already */
	"INSERT INTO statement_totals (instance_id, dbid, queryid, calls,"
	"  total_exec_time_ms, max_exec_time_ms)"
	" SELECT instance_id, dbid, queryid, sum(calls), sum(total_exec_time_ms),"
	"  max(max_exec_time_ms) FROM ("
	"  SELECT instance_id, dbid, queryid, calls, total_exec_time_ms, max_exec_time_ms"
	"   FROM statement_stats_hourly"
	"   WHERE bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
	"    AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
	"  UNION ALL"
	"  SELECT instance_id, dbid, queryid, calls, total_exec_time_ms, max_exec_time_ms"
	"   FROM statement_stats_daily"
	"   WHERE bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily'))"
	" GROUP BY 1, 2, 3;";

/*
 * Fleet-wide rollups per statement: the per-instance hourly and daily rows
 * added up across instances by (queryid, bucket, database name), kept by
 * the same rollup steps, late-report path and pruning as the per-instance
 * levels (so the same watermarks apply). query-trend over the whole fleet
 * reads one row per bucket from here instead of one per instance per
 * bucket (store_sqlite_fleet_statement_source). Only the columns a trend
 * adds up.
 */
#define FLEET_TABLE(name)                                                \
	"CREATE TABLE " name " ("                                        \
	"  queryid INTEGER NOT NULL,"                                    \
	"  bucket_us INTEGER NOT NULL,"                                  \
	"  datname TEXT NOT NULL,"                                       \
	"  calls INTEGER NOT NULL,"                                      \
	"  total_exec_time_ms REAL NOT NULL,"                            \
	"  rows INTEGER NOT NULL,"                                       \
	"  PRIMARY KEY (queryid, bucket_us, datname)) WITHOUT ROWID;"

/* A per-instance level's buckets [from, to) added to its fleet level. */
#define FLEET_FROM(fleet, level)                                                  \
	"INSERT INTO " fleet " (queryid, bucket_us, datname, calls,"              \
	" total_exec_time_ms, rows)"                                               \
	" SELECT queryid, bucket_us, datname, sum(calls), sum(total_exec_time_ms)," \
	"  sum(rows) FROM " level
#define FLEET_UPSERT                                                            \
	" ON CONFLICT (queryid, bucket_us, datname) DO UPDATE SET"              \
	" calls = calls + excluded.calls,"                                      \
	" total_exec_time_ms = total_exec_time_ms + excluded.total_exec_time_ms," \
	" rows = rows + excluded.rows"

const char store_sqlite_fleet_rollup_schema[] =
	FLEET_TABLE("statement_fleet_hourly")
	FLEET_TABLE("statement_fleet_daily")
	/* pruning takes the oldest bucket */
	"CREATE INDEX statement_fleet_hourly_by_time ON statement_fleet_hourly (bucket_us);"
	"CREATE INDEX statement_fleet_daily_by_time ON statement_fleet_daily (bucket_us);"
	/* what is rolled up already */
	FLEET_FROM("statement_fleet_hourly", "statement_stats_hourly") " GROUP BY 1, 2, 3;"
	FLEET_FROM("statement_fleet_daily", "statement_stats_daily") " GROUP BY 1, 2, 3;";

const char store_sqlite_fleet_statement_source[] =
	"(SELECT ts_us, datname, queryid, calls, total_exec_time_ms, rows FROM statement_stats"
	"  WHERE ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
	" UNION ALL"
	" SELECT bucket_us, datname, queryid, calls, total_exec_time_ms, rows"
	"  FROM statement_fleet_hourly"
	"  WHERE bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
	"   AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
	" UNION ALL"
	" SELECT bucket_us, datname, queryid, calls, total_exec_time_ms, rows"
	"  FROM statement_fleet_daily"
	"  WHERE bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily'))";

const char store_sqlite_statement_source[] =
	"(SELECT instance_id, ts_us, dbid, datname, queryid, calls, total_exec_time_ms,"
	"  sum_sq_exec_time_ms2, max_exec_time_ms, rows FROM statement_stats"
	"  WHERE ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
	" UNION ALL"
	" SELECT instance_id, bucket_us, dbid, datname, queryid, calls, total_exec_time_ms,"
	"  sum_sq_exec_time_ms2, max_exec_time_ms, rows FROM statement_stats_hourly"
	"  WHERE bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
	"   AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
	" UNION ALL"
	" SELECT instance_id, bucket_us, dbid, datname, queryid, calls, total_exec_time_ms,"
	"  sum_sq_exec_time_ms2, max_exec_time_ms, rows FROM statement_stats_daily"
	"  WHERE bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily'))";

static int
read_watermark(sqlite3 *db, const char *name, int64_t *until_us)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT until_us FROM rollup_state WHERE name = ?1",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*until_us = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc;
}

static int
write_watermark(sqlite3 *db, const char *name, int64_t until_us)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, "UPDATE rollup_state SET until_us = ?2 WHERE name = ?1",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, until_us);
	rc = sqlite_step_done(stmt);
	sqlite3_finalize(stmt);
	return rc;
}

/* Runs sql with ?1 and ?2 bound to two times. */
static int
exec_range(sqlite3 *db, const char *sql, int64_t from_us, int64_t to_us)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(stmt, 1, from_us);
	sqlite3_bind_int64(stmt, 2, to_us);
	rc = sqlite_step_done(stmt);
	sqlite3_finalize(stmt);
	return rc;
}

/* A late family's rows, rolled up as they are stored, go to the totals. */
static int
totals_add_late(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO statement_totals (instance_id, dbid, queryid, calls,"
	    " total_exec_time_ms, max_exec_time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    TOTALS_UPSERT,
	    -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < family->n_statements && rc == SQLITE_OK; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, d->dbid);
		sqlite3_bind_int64(stmt, 3, d->queryid);
		sqlite3_bind_int64(stmt, 4, d->calls);
		sqlite3_bind_double(stmt, 5, d->total_exec_time_ms);
		sqlite3_bind_double(stmt, 6, d->max_exec_time_ms);
		rc = sqlite_step_done(stmt);
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* A late family's rows, rolled up as they are stored, go to a fleet
 * level too (bucket_us: the family's bucket there). */
static int
fleet_add_late(struct store_sqlite *store, const char *fleet_table, int64_t bucket_us,
    const Pgfleet__V1__StatementsFamily *family)
{
	char sql[512];
	sqlite3_stmt *stmt = NULL;
	int rc;

	snprintf(sql, sizeof(sql),
	    "INSERT INTO %s (queryid, bucket_us, datname, calls, total_exec_time_ms, rows)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)" FLEET_UPSERT,
	    fleet_table);
	if ((rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL)) != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < family->n_statements && rc == SQLITE_OK; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, d->queryid);
		sqlite3_bind_int64(stmt, 2, bucket_us);
		if ((rc = sqlite_bind_clean_string(stmt, 3, d->datname)) != SQLITE_OK)
			break;
		sqlite3_bind_int64(stmt, 4, d->calls);
		sqlite3_bind_double(stmt, 5, d->total_exec_time_ms);
		sqlite3_bind_int64(stmt, 6, d->rows);
		rc = sqlite_step_done(stmt);
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
store_sqlite_rollup_late(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family)
{
	static const char *const tables[] = {"statement_stats_hourly", "statement_stats_daily"};
	static const char *const fleet_tables[] = {"statement_fleet_hourly",
	    "statement_fleet_daily"};
	static const int64_t widths[] = {HOUR_US, DAY_US};
	int64_t ts = family->interval_end_us;
	int64_t watermarks[2] = {0, 0};
	sqlite3_stmt *marks = NULL;
	int rc;

	/* every report asks: one cached statement for both watermarks */
	if ((rc = sqlite_prepare_cached(store,
		 "SELECT (SELECT until_us FROM rollup_state WHERE name = 'hourly'),"
		 " (SELECT until_us FROM rollup_state WHERE name = 'daily')",
		 &marks)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(marks)) == SQLITE_ROW) {
		watermarks[0] = sqlite3_column_int64(marks, 0);
		watermarks[1] = sqlite3_column_int64(marks, 1);
		rc = SQLITE_OK;
	}
	sqlite3_reset(marks);
	if (rc != SQLITE_OK)
		return rc;
	for (int level = 0; level < 2; level++) {
		char sql[1024];
		int64_t until = watermarks[level];
		sqlite3_stmt *stmt = NULL;

		if (ts >= until)
			continue; /* not rolled up yet: maintenance will */
		snprintf(sql, sizeof(sql),
		    "INSERT INTO %s (instance_id, bucket_us, dbid, queryid, datname, calls,"
		    " total_exec_time_ms, sum_sq_exec_time_ms2, max_exec_time_ms, rows)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)" ROLLUP_UPSERT,
		    tables[level]);
		rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
		if (rc != SQLITE_OK)
			return rc;
		for (size_t i = 0; i < family->n_statements; i++) {
			const Pgfleet__V1__StatementDelta *d = family->statements[i];
			sqlite3_reset(stmt);
			sqlite3_bind_int64(stmt, 1, instance_id);
			sqlite3_bind_int64(stmt, 2, ts - ts % widths[level]);
			sqlite3_bind_int64(stmt, 3, d->dbid);
			sqlite3_bind_int64(stmt, 4, d->queryid);
			if ((rc = sqlite_bind_clean_string(stmt, 5, d->datname)) != SQLITE_OK)
				break;
			sqlite3_bind_int64(stmt, 6, d->calls);
			sqlite3_bind_double(stmt, 7, d->total_exec_time_ms);
			sqlite3_bind_double(stmt, 8, d->sum_sq_exec_time_ms2);
			sqlite3_bind_double(stmt, 9, d->max_exec_time_ms);
			sqlite3_bind_int64(stmt, 10, d->rows);
			if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
				break;
		}
		sqlite3_finalize(stmt);
		if (rc != SQLITE_OK)
			return rc;
		/* the fleet level takes the row's own database name; the
		 * instance level keeps the larger of the names a (dbid, queryid)
		 * had in the bucket, which differ only when a database was
		 * renamed within it */
		if ((rc = fleet_add_late(store, fleet_tables[level],
			 ts - ts % widths[level], family)) != SQLITE_OK)
			return rc;
		if (level == 0 && (rc = totals_add_late(store, instance_id, family)) != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* Rolls source rows of [from, to) into target by bucket width, then
 * target's new buckets into fleet_target. */
static int
roll(sqlite3 *db, const char *source, const char *time_column, const char *target,
    const char *fleet_target, int64_t width_us, int64_t from_us, int64_t to_us)
{
	char sql[1024];
	int rc;

	snprintf(sql, sizeof(sql),
	    "INSERT INTO %s (instance_id, bucket_us, dbid, queryid, datname, calls,"
	    " total_exec_time_ms, sum_sq_exec_time_ms2, max_exec_time_ms, rows)"
	    " SELECT instance_id, %s - %s %% %lld, dbid, queryid, max(datname), sum(calls),"
	    "  sum(total_exec_time_ms), sum(sum_sq_exec_time_ms2), max(max_exec_time_ms),"
	    "  sum(rows)"
	    " FROM %s WHERE %s >= ?1 AND %s < ?2 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
	    ROLLUP_UPSERT,
	    target, time_column, time_column, (long long) width_us, source, time_column,
	    time_column);
	if ((rc = exec_range(db, sql, from_us, to_us)) != SQLITE_OK)
		return rc;
	/* from the instance level just written (the buckets of [from, to)
	 * were empty before: late rows only go below the watermark), so both
	 * levels hold the same rows under the same names */
	snprintf(sql, sizeof(sql),
	    "INSERT INTO %s (queryid, bucket_us, datname, calls, total_exec_time_ms, rows)"
	    " SELECT queryid, bucket_us, datname, sum(calls), sum(total_exec_time_ms),"
	    "  sum(rows) FROM %s WHERE bucket_us >= ?1 AND bucket_us < ?2"
	    " GROUP BY 1, 2, 3" FLEET_UPSERT,
	    fleet_target, target);
	return exec_range(db, sql, from_us, to_us);
}

/* Starting point of a rollup that never ran: the oldest source row. */
static int
oldest(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(stmt);
	*out = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL
	    ? sqlite3_column_int64(stmt, 0)
	    : -1;
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* One step of a rollup level inside the caller's transaction; *more is set
 * when there is work left. */
static int
rollup_step(sqlite3 *db, const char *name, const char *oldest_sql, const char *source,
    const char *time_column, const char *target, const char *fleet_target, int64_t width_us,
    int64_t limit_us, bool *more)
{
	int64_t until = 0;
	int64_t first = -1;
	int64_t to;
	int rc;

	if ((rc = read_watermark(db, name, &until)) != SQLITE_OK)
		return rc;
	/* the oldest source row only matters before the first step */
	if (until == 0 && (rc = oldest(db, oldest_sql, &first)) != SQLITE_OK)
		return rc;
	if (!rollup_plan_range(until, first, width_us, limit_us, &until, &to, more))
		return SQLITE_OK;
	if ((rc = roll(db, source, time_column, target, fleet_target, width_us, until, to)) !=
	    SQLITE_OK)
		return rc;
	/* raw rows reaching the hourly level reach the totals too */
	if (strcmp(source, "statement_stats") == 0 &&
	    (rc = exec_range(db,
		 "INSERT INTO statement_totals (instance_id, dbid, queryid, calls,"
		 " total_exec_time_ms, max_exec_time_ms)"
		 " SELECT instance_id, dbid, queryid, sum(calls), sum(total_exec_time_ms),"
		 "  max(max_exec_time_ms)"
		 " FROM statement_stats WHERE ts_us >= ?1 AND ts_us < ?2"
		 " GROUP BY 1, 2, 3" TOTALS_UPSERT,
		 until, to)) != SQLITE_OK)
		return rc;
	return write_watermark(db, name, to);
}

/* Deletes at most DELETE_BATCH rows of table older than before_us. */
static int
prune(sqlite3 *db, const char *table, const char *time_column, bool has_rowid,
    int64_t before_us, bool *more)
{
	char sql[512];
	int rc;

	if (before_us <= 0)
		return SQLITE_OK;
	if (has_rowid)
		snprintf(sql, sizeof(sql),
		    "DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE %s < ?1 LIMIT %d)"
		    " AND ?2 = ?2",
		    table, table, time_column, DELETE_BATCH);
	else
		/* keyed tables: one oldest bucket at a time */
		snprintf(sql, sizeof(sql),
		    "DELETE FROM %s WHERE %s = (SELECT min(%s) FROM %s WHERE %s < ?1)"
		    " AND ?2 = ?2",
		    table, time_column, time_column, table, time_column);
	rc = exec_range(db, sql, before_us, 0);
	if (rc == SQLITE_OK && sqlite3_changes(db) > 0)
		*more = true;
	return rc;
}

/* Thins one day of the snapshot histories, the oldest not yet thinned and
 * older than before_us. */
static int
thin_step(sqlite3 *db, int64_t before_us, bool *more)
{
	int64_t until = 0;
	int64_t first = -1;
	int rc;

	if ((rc = read_watermark(db, "thinned", &until)) != SQLITE_OK)
		return rc;
	if (until == 0 &&
	    (rc = oldest(db, "SELECT min(ts_us) FROM table_stats", &first)) != SQLITE_OK)
		return rc;
	if (!rollup_plan_thin(until, first, before_us, &until, more))
		return SQLITE_OK;
	for (size_t i = 0; i < rollup_snapshot_history_count; i++) {
		const char *table = rollup_snapshot_histories[i];
		char sql[512];
		snprintf(sql, sizeof(sql),
		    "DELETE FROM %s WHERE ts_us >= ?1 AND ts_us < ?2 AND ts_us <> ("
		    " SELECT max(h.ts_us) FROM %s h WHERE h.instance_id = %s.instance_id"
		    "  AND h.ts_us >= ?1 AND h.ts_us < ?2)",
		    table, table, table);
		if ((rc = exec_range(db, sql, until, until + DAY_US)) != SQLITE_OK)
			return rc;
	}
	return write_watermark(db, "thinned", until + DAY_US);
}

int
store_sqlite_maintain(struct store *base, int64_t now_us, const struct store_retention *retention,
    bool *more, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	int64_t hourly_until = 0, daily_until = 0;
	struct rollup_cutoffs cutoffs;
	int rc;

	*more = false;
	if ((rc = sqlite3_exec(store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "begin maintenance", errbuf, errlen);
	/* complete hours only; the running hour is rolled up once it ends */
	rc = rollup_step(store->db, "hourly", "SELECT min(ts_us) FROM statement_stats",
	    "statement_stats", "ts_us", "statement_stats_hourly", "statement_fleet_hourly",
	    HOUR_US, now_us, more);
	if (rc == SQLITE_OK)
		rc = read_watermark(store->db, "hourly", &hourly_until);
	if (rc == SQLITE_OK && hourly_until > 0)
		rc = rollup_step(store->db, "daily", "SELECT min(bucket_us) FROM statement_stats_hourly",
		    "statement_stats_hourly", "bucket_us", "statement_stats_daily",
		    "statement_fleet_daily", DAY_US, hourly_until, more);
	if (rc == SQLITE_OK)
		rc = read_watermark(store->db, "daily", &daily_until);
	rollup_plan_cutoffs(now_us, retention, hourly_until, daily_until, &cutoffs);
	/* only what a coarser level already holds is ever deleted */
	if (rc == SQLITE_OK)
		rc = prune(store->db, "statement_stats", "ts_us", true, cutoffs.raw, more);
	if (rc == SQLITE_OK)
		rc = prune(store->db, "statement_stats_hourly", "bucket_us", false, cutoffs.hourly,
		    more);
	/* the fleet levels with the same cutoffs, a bucket a call each, so
	 * they keep step with the instance levels */
	if (rc == SQLITE_OK)
		rc = prune(store->db, "statement_fleet_hourly", "bucket_us", false, cutoffs.hourly,
		    more);
	if (rc == SQLITE_OK)
		rc = prune(store->db, "statement_stats_daily", "bucket_us", false, cutoffs.daily,
		    more);
	if (rc == SQLITE_OK)
		rc = prune(store->db, "statement_fleet_daily", "bucket_us", false, cutoffs.daily,
		    more);
	if (rc == SQLITE_OK)
		rc = thin_step(store->db, cutoffs.thin, more);
	for (size_t i = 0; rc == SQLITE_OK && i < rollup_snapshot_history_count; i++)
		rc = prune(store->db, rollup_snapshot_histories[i], "ts_us", true,
		    cutoffs.snapshots, more);
	for (size_t i = 0; rc == SQLITE_OK && i < rollup_other_history_count; i++)
		rc = prune(store->db, rollup_other_histories[i], "ts_us", true, cutoffs.snapshots,
		    more);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int rv = sqlite_store_error(store->db, rc, "maintain the store", errbuf, errlen);
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		return rv;
	}
	return PGF_OK;
}
