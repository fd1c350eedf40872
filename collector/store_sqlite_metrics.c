/*
 * store_sqlite_metrics.c - the store's part of /metrics: the latest stored
 * snapshot of each family per instance, and the statements with the most
 * time since they were first stored, as Prometheus samples (metrics.h).
 *
 * The statements' counters (pg_stat_statements_*_total) read
 * statement_counters, each statement's running totals of everything rolled
 * up to the hourly level (kept by triggers on that level, so the rollup
 * and the late-report path feed it without knowing it, and never lowered
 * by retention), plus the raw rows past the hourly watermark: a counter
 * that only grows, read from a few rows instead of the whole history.
 *
 * The queries are metrics_queries.c's, the same for both store backends;
 * this module runs them on SQLite in one read transaction.
 */
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/metrics.h"
#include "collector/metrics_queries.h"

/*
 * The statements' running totals per (instance, database name, queryid):
 * every row the hourly level gains, and what a row there gains when a late
 * report adds to it, is added here; rows deleted by retention are not
 * taken off. Starts from what is rolled up already (the hourly rows past
 * the daily watermark and the daily rows before it: each interval once).
 */
const char store_sqlite_metrics_schema[] =
    "CREATE TABLE statement_counters ("
    "  instance_id INTEGER NOT NULL,"
    "  datname TEXT NOT NULL,"
    "  queryid INTEGER NOT NULL,"
    "  calls INTEGER NOT NULL,"
    "  total_exec_time_ms REAL NOT NULL,"
    "  rows INTEGER NOT NULL,"
    "  PRIMARY KEY (instance_id, datname, queryid)) WITHOUT ROWID;"
    "CREATE INDEX statement_counters_by_total ON statement_counters (total_exec_time_ms);"
    "CREATE TRIGGER statement_counters_insert AFTER INSERT ON statement_stats_hourly BEGIN"
    " INSERT INTO statement_counters (instance_id, datname, queryid, calls,"
    "  total_exec_time_ms, rows) VALUES (NEW.instance_id, NEW.datname, NEW.queryid,"
    "  NEW.calls, NEW.total_exec_time_ms, NEW.rows)"
    " ON CONFLICT (instance_id, datname, queryid) DO UPDATE SET calls = calls + excluded.calls,"
    "  total_exec_time_ms = total_exec_time_ms + excluded.total_exec_time_ms,"
    "  rows = rows + excluded.rows;"
    " END;"
    "CREATE TRIGGER statement_counters_update AFTER UPDATE OF calls, total_exec_time_ms, rows"
    " ON statement_stats_hourly BEGIN"
    " INSERT INTO statement_counters (instance_id, datname, queryid, calls,"
    "  total_exec_time_ms, rows) VALUES (NEW.instance_id, NEW.datname, NEW.queryid,"
    "  NEW.calls - OLD.calls, NEW.total_exec_time_ms - OLD.total_exec_time_ms,"
    "  NEW.rows - OLD.rows)"
    " ON CONFLICT (instance_id, datname, queryid) DO UPDATE SET calls = calls + excluded.calls,"
    "  total_exec_time_ms = total_exec_time_ms + excluded.total_exec_time_ms,"
    "  rows = rows + excluded.rows;"
    " END;"
    "INSERT INTO statement_counters (instance_id, datname, queryid, calls, total_exec_time_ms,"
    "  rows)"
    " SELECT instance_id, datname, queryid, sum(calls), sum(total_exec_time_ms), sum(rows)"
    " FROM (SELECT instance_id, datname, queryid, calls, total_exec_time_ms, rows"
    "  FROM statement_stats_hourly"
    "  WHERE bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
    "  UNION ALL SELECT instance_id, datname, queryid, calls, total_exec_time_ms, rows"
    "  FROM statement_stats_daily"
    "  WHERE bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily'))"
    " GROUP BY 1, 2, 3;";

/* Runs one query of metrics_queries into set. */
static int
run_query(struct store_sqlite *store, const struct metrics_query *query, size_t top_statements,
    int64_t now_us, struct metrics_set *set, char *errbuf, size_t errlen)
{
	char what[128];
	sqlite3_stmt *stmt = NULL;
	int labels = metrics_query_labels(query);
	int parameter;
	int rc;

	snprintf(what, sizeof(what), "read %s for metrics", query->what);
	rc = sqlite3_prepare_v2(store->db, query->sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, what, errbuf, errlen);
	if ((parameter = sqlite3_bind_parameter_index(stmt, "$1")) > 0)
		sqlite3_bind_int64(stmt, parameter, now_us);
	if ((parameter = sqlite3_bind_parameter_index(stmt, "$2")) > 0)
		sqlite3_bind_int64(stmt, parameter, (sqlite3_int64) top_statements);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *values[METRICS_MAX_LABELS] = {NULL};
		double figures[METRICS_QUERY_MAX_FAMILIES];
		bool present[METRICS_QUERY_MAX_FAMILIES];

		for (int l = 0; l < labels; l++) {
			const unsigned char *text = sqlite3_column_text(stmt, l);
			values[l] = text != NULL ? (const char *) text : "";
		}
		for (int f = 0; f < query->n_families; f++) {
			present[f] = sqlite3_column_type(stmt, labels + f) != SQLITE_NULL;
			figures[f] = sqlite3_column_double(stmt, labels + f);
		}
		if (metrics_queries_add_row(set, query, values, figures, present) != PGF_OK) {
			sqlite3_finalize(stmt);
			snprintf(errbuf, errlen, "could not %s: out of memory", what);
			return PGF_ENOMEM;
		}
	}
	if (rc != SQLITE_DONE) {
		int rv = sqlite_store_error(store->db, rc, what, errbuf, errlen);
		sqlite3_finalize(stmt);
		return rv;
	}
	sqlite3_finalize(stmt);
	return PGF_OK;
}

int
store_sqlite_metrics(struct store *base, size_t top_statements, int64_t now_us,
    struct metrics_set *set, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	int rv = PGF_OK;

	/* one read transaction: every family from the same moment */
	if ((rv = sqlite_exec(store->db, "BEGIN", "begin a metrics read", errbuf, errlen)) !=
	    PGF_OK)
		return rv;
	for (size_t i = 0; i < metrics_queries_count && rv == PGF_OK; i++) {
		/* no statement wanted: not even the bound's OFFSET -1 */
		if (metrics_queries[i].statements && top_statements == 0)
			continue;
		rv = run_query(store, &metrics_queries[i], top_statements, now_us, set, errbuf,
		    errlen);
	}
	(void) sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	return rv;
}
