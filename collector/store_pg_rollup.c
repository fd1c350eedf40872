/*
 * store_pg_rollup.c - months of statement history in the PostgreSQL store:
 * hourly and daily rollups, the fleet-wide levels, statement totals,
 * snapshot thinning and retention, as store_sqlite_rollup.c does them.
 *
 * The rules are the SQLite store's, translated statement by statement so
 * both stores keep the same rows and answer alike: two watermarks in
 * rollup_state say how far each rollup went (raw rows before the hourly
 * one are in the hourly level, hourly rows before the daily one in the
 * daily level), questions read each interval once through
 * store_pg_statement_source / store_pg_fleet_statement_source, a report
 * for a time already rolled up is added to the rollups as it is stored
 * (store_pg_rollup_late), and maintenance works in bounded steps (a day of
 * raw rows, a bounded number of snapshots or one bucket deleted per call).
 *
 * What SQLite does not need and this store does: several collectors may
 * share it. Rolling the same hour up twice would count it twice, and a
 * report stored while its hour is being rolled up (its batch still open)
 * would be missed. So maintenance locks the watermark rows (FOR UPDATE)
 * for its whole step, and a report with statements reads them FOR SHARE:
 * a step and the reports of its hours never interleave, and of two
 * collectors maintaining at once the second waits and then starts from the
 * watermarks the first left.
 */
#include "collector/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/rollup_plan.h"

#define HOUR_US ROLLUP_HOUR_US
#define DAY_US ROLLUP_DAY_US
/* Work one maintenance call may do besides a rollup range
 * (rollup_plan.h): this many of the oldest snapshots (report times) of
 * each instance deleted per history table, */
#define PRUNE_SNAPSHOTS 32
/* and this many of the oldest buckets of a rollup level (SQLite deletes
 * one a call: a day of hourly buckets took a day of calls, each a
 * transaction, the same rows in the end) */
#define PRUNE_BUCKETS 24

/* Adding rows into a rollup level (aliased r): sums add, maxima take the
 * larger. */
#define ROLLUP_UPSERT                                                                  \
	" ON CONFLICT (instance_id, bucket_us, dbid, queryid) DO UPDATE SET"          \
	" calls = r.calls + excluded.calls,"                                           \
	" total_exec_time_ms = r.total_exec_time_ms + excluded.total_exec_time_ms,"    \
	" sum_sq_exec_time_ms2 = r.sum_sq_exec_time_ms2 + excluded.sum_sq_exec_time_ms2," \
	" max_exec_time_ms = greatest(r.max_exec_time_ms, excluded.max_exec_time_ms),"  \
	" rows = r.rows + excluded.rows"

/* Statement totals (aliased r): upper bounds of any window's figures,
 * kept by the hourly rollup; never lowered by retention. */
#define TOTALS_UPSERT                                                                  \
	" ON CONFLICT (instance_id, dbid, queryid) DO UPDATE SET"                      \
	" calls = r.calls + excluded.calls,"                                           \
	" total_exec_time_ms = r.total_exec_time_ms + excluded.total_exec_time_ms,"    \
	" max_exec_time_ms = greatest(r.max_exec_time_ms, excluded.max_exec_time_ms)"

/* A fleet level (aliased r). */
#define FLEET_UPSERT                                                                   \
	" ON CONFLICT (queryid, bucket_us, datname) DO UPDATE SET"                     \
	" calls = r.calls + excluded.calls,"                                           \
	" total_exec_time_ms = r.total_exec_time_ms + excluded.total_exec_time_ms,"    \
	" rows = r.rows + excluded.rows"

const char store_pg_fleet_statement_source[] =
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

/* The watermarks, as read (and locked) at the start of a step. */
struct marks {
	int64_t hourly;
	int64_t daily;
	int64_t thinned;
};

/* Reads the watermarks with a row lock: "UPDATE" for maintenance, "SHARE"
 * for a report. */
static int
read_marks(struct store_pg *store, const char *lock, struct marks *marks, char *errbuf,
    size_t errlen)
{
	char sql[160];
	PGresult *res = NULL;
	int rv;

	memset(marks, 0, sizeof(*marks));
	snprintf(sql, sizeof(sql), "SELECT name, until_us FROM rollup_state FOR %s", lock);
	if ((rv = pg_run(store, sql, NULL, &res, "read the rollup watermarks", errbuf, errlen)) !=
	    PGF_OK)
		return rv;
	for (int r = 0; r < PQntuples(res); r++) {
		const char *name = PQgetvalue(res, r, 0);
		int64_t until = pg_int(res, r, 1);
		if (strcmp(name, "hourly") == 0)
			marks->hourly = until;
		else if (strcmp(name, "daily") == 0)
			marks->daily = until;
		else if (strcmp(name, "thinned") == 0)
			marks->thinned = until;
	}
	PQclear(res);
	return PGF_OK;
}

static int
write_mark(struct store_pg *store, const char *name, int64_t until_us, char *errbuf,
    size_t errlen)
{
	struct pg_params params;

	pg_params_init(&params);
	pg_param_text(&params, name);
	pg_param_int(&params, until_us);
	return pg_run(store, "UPDATE rollup_state SET until_us = $2 WHERE name = $1", &params,
	    NULL, "move a rollup watermark", errbuf, errlen);
}

/* Runs sql with $1 and $2 bound to two times (a statement that does not
 * use $2 says "$2::bigint IS NOT NULL"); *changed (when not NULL): rows
 * it touched. */
static int
exec_range(struct store_pg *store, const char *sql, int64_t from_us, int64_t to_us,
    int64_t *changed, const char *what, char *errbuf, size_t errlen)
{
	struct pg_params params;
	PGresult *res = NULL;
	int rv;

	pg_params_init(&params);
	pg_param_int(&params, from_us);
	pg_param_int(&params, to_us);
	if ((rv = pg_run(store, sql, &params, &res, what, errbuf, errlen)) != PGF_OK)
		return rv;
	if (changed != NULL)
		*changed = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return PGF_OK;
}

/* Starting point of a rollup that never ran: the oldest source row, -1
 * when there is none. */
static int
oldest(struct store_pg *store, const char *sql, int64_t *out, char *errbuf, size_t errlen)
{
	PGresult *res = NULL;
	int rv;

	*out = -1;
	if ((rv = pg_run(store, sql, NULL, &res, "find the oldest history", errbuf, errlen)) !=
	    PGF_OK)
		return rv;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*out = pg_int(res, 0, 0);
	PQclear(res);
	return PGF_OK;
}

/* ---- late reports ------------------------------------------------------ */

/* Queues the upserts adding one late family to a level (bucket_us: its
 * bucket there), its fleet level and, for the hourly level, the totals. */
static void
queue_late_level(struct store_pg *store, struct pg_pipeline *pipeline, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family, const char *table, const char *fleet_table,
    int64_t bucket_us, bool totals)
{
	char level_sql[1024];
	char fleet_sql[512];
	struct pg_params params;

	snprintf(level_sql, sizeof(level_sql),
	    "INSERT INTO %s AS r (instance_id, bucket_us, dbid, queryid, datname, calls,"
	    " total_exec_time_ms, sum_sq_exec_time_ms2, max_exec_time_ms, rows)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)" ROLLUP_UPSERT,
	    table);
	snprintf(fleet_sql, sizeof(fleet_sql),
	    "INSERT INTO %s AS r (queryid, bucket_us, datname, calls, total_exec_time_ms, rows)"
	    " VALUES ($1, $2, $3, $4, $5, $6)" FLEET_UPSERT,
	    fleet_table);
	/* the instance level keeps the first database name a (dbid,
	 * queryid) had in the bucket, the fleet level takes each row's own:
	 * as store_sqlite_rollup_late, in the same order */
	for (size_t i = 0; i < family->n_statements; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, bucket_us);
		pg_param_int(&params, d->dbid);
		pg_param_int(&params, d->queryid);
		pg_param_text(&params, d->datname);
		pg_param_int(&params, d->calls);
		pg_param_double(&params, d->total_exec_time_ms);
		pg_param_double(&params, d->sum_sq_exec_time_ms2);
		pg_param_double(&params, d->max_exec_time_ms);
		pg_param_int(&params, d->rows);
		pg_pipeline_send(store, pipeline, level_sql, &params);
	}
	for (size_t i = 0; i < family->n_statements; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		pg_params_init(&params);
		pg_param_int(&params, d->queryid);
		pg_param_int(&params, bucket_us);
		pg_param_text(&params, d->datname);
		pg_param_int(&params, d->calls);
		pg_param_double(&params, d->total_exec_time_ms);
		pg_param_int(&params, d->rows);
		pg_pipeline_send(store, pipeline, fleet_sql, &params);
	}
	for (size_t i = 0; totals && i < family->n_statements; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, d->dbid);
		pg_param_int(&params, d->queryid);
		pg_param_int(&params, d->calls);
		pg_param_double(&params, d->total_exec_time_ms);
		pg_param_double(&params, d->max_exec_time_ms);
		pg_pipeline_send(store, pipeline,
		    "INSERT INTO statement_totals AS r (instance_id, dbid, queryid, calls,"
		    " total_exec_time_ms, max_exec_time_ms) VALUES ($1, $2, $3, $4, $5, $6)"
		    TOTALS_UPSERT,
		    &params);
	}
}

int
store_pg_rollup_late(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family, char *errbuf, size_t errlen)
{
	static const char *const tables[] = {"statement_stats_hourly", "statement_stats_daily"};
	static const char *const fleet_tables[] = {"statement_fleet_hourly",
	    "statement_fleet_daily"};
	static const int64_t widths[] = {HOUR_US, DAY_US};
	int64_t ts = family->interval_end_us;
	struct pg_pipeline pipeline;
	struct marks marks;
	int rv;

	if (family->n_statements == 0)
		return PGF_OK;
	/* FOR SHARE: no maintenance step rolls these hours up until this
	 * report's transaction ends (file comment) */
	if ((rv = read_marks(store, "SHARE", &marks, errbuf, errlen)) != PGF_OK)
		return rv;
	/* not rolled up yet (the usual case): maintenance will */
	if (ts >= marks.hourly && ts >= marks.daily)
		return PGF_OK;
	/* one round trip for every row of both levels */
	pg_pipeline_begin(store, &pipeline);
	for (int level = 0; level < 2; level++) {
		if (ts >= (level == 0 ? marks.hourly : marks.daily))
			continue;
		queue_late_level(store, &pipeline, instance_id, family, tables[level],
		    fleet_tables[level], ts - ts % widths[level], level == 0);
	}
	return pg_pipeline_end(store, &pipeline, "add a late report to the rollups", errbuf,
	    errlen);
}

/* ---- rollups ----------------------------------------------------------- */

/* Rolls source rows of [from, to) into target by bucket width, then
 * target's new buckets into fleet_target. */
static int
roll(struct store_pg *store, const char *source, const char *time_column, const char *target,
    const char *fleet_target, int64_t width_us, int64_t from_us, int64_t to_us, char *errbuf,
    size_t errlen)
{
	char sql[1536];
	int rv;

	snprintf(sql, sizeof(sql),
	    "INSERT INTO %s AS r (instance_id, bucket_us, dbid, queryid, datname, calls,"
	    " total_exec_time_ms, sum_sq_exec_time_ms2, max_exec_time_ms, rows)"
	    " SELECT instance_id, %s - %s %% %lld, dbid, queryid, max(datname), sum(calls),"
	    "  sum(total_exec_time_ms), sum(sum_sq_exec_time_ms2), max(max_exec_time_ms),"
	    "  sum(rows)"
	    " FROM %s WHERE %s >= $1 AND %s < $2 GROUP BY 1, 2, 3, 4" ROLLUP_UPSERT,
	    target, time_column, time_column, (long long) width_us, source, time_column,
	    time_column);
	if ((rv = exec_range(store, sql, from_us, to_us, NULL, "roll up statements", errbuf,
		 errlen)) != PGF_OK)
		return rv;
	/* from the instance level just written (the buckets of [from, to)
	 * were empty before: late rows only go below the watermark), so both
	 * levels hold the same rows under the same names */
	snprintf(sql, sizeof(sql),
	    "INSERT INTO %s AS r (queryid, bucket_us, datname, calls, total_exec_time_ms, rows)"
	    " SELECT queryid, bucket_us, datname, sum(calls), sum(total_exec_time_ms),"
	    "  sum(rows) FROM %s WHERE bucket_us >= $1 AND bucket_us < $2"
	    " GROUP BY 1, 2, 3" FLEET_UPSERT,
	    fleet_target, target);
	return exec_range(store, sql, from_us, to_us, NULL, "roll up statements fleet-wide",
	    errbuf, errlen);
}

/* One step of a rollup level; *until is its watermark, moved when rows
 * were rolled up; *more is set when there is work left. */
static int
rollup_step(struct store_pg *store, const char *name, int64_t *until, const char *oldest_sql,
    const char *source, const char *time_column, const char *target, const char *fleet_target,
    int64_t width_us, int64_t limit_us, bool *more, char *errbuf, size_t errlen)
{
	int64_t first = -1;
	int64_t from, to;
	int rv;

	/* the oldest source row only matters before the first step */
	if (*until == 0 && (rv = oldest(store, oldest_sql, &first, errbuf, errlen)) != PGF_OK)
		return rv;
	if (!rollup_plan_range(*until, first, width_us, limit_us, &from, &to, more))
		return PGF_OK;
	if ((rv = roll(store, source, time_column, target, fleet_target, width_us, from, to,
		 errbuf, errlen)) != PGF_OK)
		return rv;
	/* raw rows reaching the hourly level reach the totals too */
	if (strcmp(source, "statement_stats") == 0 &&
	    (rv = exec_range(store,
		 "INSERT INTO statement_totals AS r (instance_id, dbid, queryid, calls,"
		 " total_exec_time_ms, max_exec_time_ms)"
		 " SELECT instance_id, dbid, queryid, sum(calls), sum(total_exec_time_ms),"
		 "  max(max_exec_time_ms)"
		 " FROM statement_stats WHERE ts_us >= $1 AND ts_us < $2"
		 " GROUP BY 1, 2, 3" TOTALS_UPSERT,
		 from, to, NULL, "add up statement totals", errbuf, errlen)) != PGF_OK)
		return rv;
	if ((rv = write_mark(store, name, to, errbuf, errlen)) != PGF_OK)
		return rv;
	*until = to;
	return PGF_OK;
}

/* ---- retention --------------------------------------------------------- */

/*
 * Deletes rows of table older than before_us, a bounded amount a call:
 * a keyed level (rollups) the PRUNE_BUCKETS oldest buckets; a
 * history table the PRUNE_SNAPSHOTS oldest report times of each instance,
 * found through its (instance_id, ts_us, ...) key, so a call that finds
 * nothing to delete reads an index entry per instance, not the table
 * (SQLite deletes 20000 rows by rowid instead: the same rows go, in other
 * steps).
 */
static int
prune(struct store_pg *store, const char *table, const char *time_column, bool keyed,
    int64_t before_us, bool *more, char *errbuf, size_t errlen)
{
	char sql[1024];
	int64_t changed = 0;
	int rv;

	if (before_us <= 0)
		return PGF_OK;
	if (keyed)
		snprintf(sql, sizeof(sql),
		    "DELETE FROM %s WHERE %s IN (SELECT DISTINCT %s FROM %s WHERE %s < $1"
		    " ORDER BY 1 LIMIT %d) AND $2::bigint IS NOT NULL",
		    table, time_column, time_column, table, time_column, PRUNE_BUCKETS);
	else
		snprintf(sql, sizeof(sql),
		    "DELETE FROM %s WHERE (instance_id, ts_us) IN ("
		    " SELECT i.instance_id, h.ts_us FROM instances i CROSS JOIN LATERAL ("
		    "  SELECT DISTINCT x.ts_us FROM %s x"
		    "  WHERE x.instance_id = i.instance_id AND x.ts_us < $1"
		    "  ORDER BY 1 LIMIT %d) h)"
		    " AND $2::bigint IS NOT NULL",
		    table, table, PRUNE_SNAPSHOTS);
	if ((rv = exec_range(store, sql, before_us, 0, &changed, "delete old history", errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if (changed > 0)
		*more = true;
	return PGF_OK;
}

/* At most this many other histories (rollup_plan.h's list). */
#define MAX_OTHER 16

/* Thins one day of the snapshot histories, the oldest not yet thinned and
 * older than before_us. */
static int
thin_step(struct store_pg *store, int64_t *thinned, int64_t before_us, bool *more,
    char *errbuf, size_t errlen)
{
	int64_t first = -1;
	int64_t until;
	int rv;

	if (*thinned == 0 && (rv = oldest(store, "SELECT min(ts_us) FROM table_stats", &first,
				   errbuf, errlen)) != PGF_OK)
		return rv;
	if (!rollup_plan_thin(*thinned, first, before_us, &until, more))
		return PGF_OK;
	for (size_t i = 0; i < rollup_snapshot_history_count; i++) {
		const char *table = rollup_snapshot_histories[i];
		char sql[512];
		snprintf(sql, sizeof(sql),
		    "DELETE FROM %s t WHERE t.ts_us >= $1 AND t.ts_us < $2 AND t.ts_us <> ("
		    " SELECT max(h.ts_us) FROM %s h WHERE h.instance_id = t.instance_id"
		    "  AND h.ts_us >= $1 AND h.ts_us < $2)",
		    table, table);
		if ((rv = exec_range(store, sql, until, until + DAY_US, NULL,
			 "thin the snapshot history", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	if ((rv = write_mark(store, "thinned", until + DAY_US, errbuf, errlen)) != PGF_OK)
		return rv;
	*thinned = until + DAY_US;
	return PGF_OK;
}

/* Which of the other histories this store has: the pool samples came
 * with a later part of the schema. */
static int
existing_histories(struct store_pg *store, bool exists[MAX_OTHER], char *errbuf,
    size_t errlen)
{
	char sql[1024];
	size_t used = 0;
	PGresult *res = NULL;
	int rv;

	used += (size_t) snprintf(sql + used, sizeof(sql) - used, "SELECT");
	for (size_t i = 0; i < rollup_other_history_count && i < MAX_OTHER; i++)
		used += (size_t) snprintf(sql + used, sizeof(sql) - used,
		    "%s to_regclass('%s') IS NOT NULL", i > 0 ? "," : "",
		    rollup_other_histories[i]);
	if ((rv = pg_run(store, sql, NULL, &res, "list the history tables", errbuf, errlen)) !=
	    PGF_OK)
		return rv;
	for (size_t i = 0; i < MAX_OTHER; i++)
		exists[i] = i < rollup_other_history_count && PQntuples(res) == 1 &&
		    pg_bool(res, 0, (int) i);
	PQclear(res);
	return PGF_OK;
}

/* ---- one maintenance step ---------------------------------------------- */

/* The step inside the caller's transaction. */
static int
maintain_step(struct store_pg *store, int64_t now_us, const struct store_retention *retention,
    bool *more, char *errbuf, size_t errlen)
{
	struct marks marks;
	struct rollup_cutoffs cutoffs;
	bool exists[MAX_OTHER];
	int rv;

	/* FOR UPDATE: one step at a time across collectors, and none while
	 * a report of these hours is being stored (file comment) */
	if ((rv = read_marks(store, "UPDATE", &marks, errbuf, errlen)) != PGF_OK)
		return rv;
	/* complete hours only; the running hour is rolled up once it ends */
	if ((rv = rollup_step(store, "hourly", &marks.hourly,
		 "SELECT min(ts_us) FROM statement_stats", "statement_stats", "ts_us",
		 "statement_stats_hourly", "statement_fleet_hourly", HOUR_US, now_us, more, errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if (marks.hourly > 0 &&
	    (rv = rollup_step(store, "daily", &marks.daily,
		 "SELECT min(bucket_us) FROM statement_stats_hourly", "statement_stats_hourly",
		 "bucket_us", "statement_stats_daily", "statement_fleet_daily", DAY_US,
		 marks.hourly, more, errbuf, errlen)) != PGF_OK)
		return rv;
	rollup_plan_cutoffs(now_us, retention, marks.hourly, marks.daily, &cutoffs);
	/* only what a coarser level already holds is ever deleted; the
	 * fleet levels with the same cutoffs, so they keep step with the
	 * instance levels */
	if ((rv = prune(store, "statement_stats", "ts_us", false, cutoffs.raw, more, errbuf,
		 errlen)) != PGF_OK ||
	    (rv = prune(store, "statement_stats_hourly", "bucket_us", true, cutoffs.hourly, more,
		 errbuf, errlen)) != PGF_OK ||
	    (rv = prune(store, "statement_fleet_hourly", "bucket_us", true, cutoffs.hourly, more,
		 errbuf, errlen)) != PGF_OK ||
	    (rv = prune(store, "statement_stats_daily", "bucket_us", true, cutoffs.daily, more,
		 errbuf, errlen)) != PGF_OK ||
	    (rv = prune(store, "statement_fleet_daily", "bucket_us", true, cutoffs.daily, more,
		 errbuf, errlen)) != PGF_OK ||
	    (rv = thin_step(store, &marks.thinned, cutoffs.thin, more, errbuf, errlen)) != PGF_OK)
		return rv;
	for (size_t i = 0; i < rollup_snapshot_history_count; i++)
		if ((rv = prune(store, rollup_snapshot_histories[i], "ts_us", false,
			 cutoffs.snapshots, more, errbuf, errlen)) != PGF_OK)
			return rv;
	if ((rv = existing_histories(store, exists, errbuf, errlen)) != PGF_OK)
		return rv;
	for (size_t i = 0; i < rollup_other_history_count && i < MAX_OTHER; i++)
		if (exists[i] && (rv = prune(store, rollup_other_histories[i], "ts_us", false,
				      cutoffs.snapshots, more, errbuf, errlen)) != PGF_OK)
			return rv;
	return PGF_OK;
}

int
store_pg_maintain(struct store *base, int64_t now_us, const struct store_retention *retention,
    bool *more, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	int rv;

	*more = false;
	if (store->read_only) {
		snprintf(errbuf, errlen, "could not maintain the store: %s is open read-only",
		    store->label);
		return PGF_EINVAL;
	}
	if ((rv = pg_connected(store, errbuf, errlen)) != PGF_OK)
		return rv;
	rv = pg_run(store, "BEGIN", NULL, NULL, "begin maintenance", errbuf, errlen);
	/* a server restarted since the last use: BEGIN finds it out */
	if (rv == PGF_EUNAVAILABLE && pg_connected(store, errbuf, errlen) == PGF_OK)
		rv = pg_run(store, "BEGIN", NULL, NULL, "begin maintenance", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	rv = maintain_step(store, now_us, retention, more, errbuf, errlen);
	if (rv == PGF_OK)
		rv = pg_run(store, "COMMIT", NULL, NULL, "commit maintenance", errbuf, errlen);
	if (rv != PGF_OK) {
		PGresult *undo = PQexec(store->conn, "ROLLBACK");
		PQclear(undo);
		*more = false;
	}
	return rv;
}
