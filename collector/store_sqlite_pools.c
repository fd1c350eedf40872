/*
 * store_sqlite_pools.c - connection pools and slow-query regressions in
 * the SQLite store.
 *
 * Schema (one migration step, store_sqlite_pools_schema):
 *   pool_app_samples  per activity snapshot: the client connections of
 *                     each (application_name, database) on the instance,
 *                     held, busy, idle and waiting; the per-application
 *                     history pool sizing needs (activity_history keeps
 *                     only instance totals, activity_connections only the
 *                     latest snapshot)
 *   pooler_samples    per pool family: each pgbouncer pool (SHOW POOLS)
 *                     with the pool sizes of SHOW CONFIG
 * The snapshot times of an instance are its activity_history rows, so an
 * application with no connection at a snapshot counts as 0 there.
 *
 * Answers: pool-stats and pool-recommendation read the samples of the
 * window and feed them to pools_answer.c (shared with the PostgreSQL
 * store), which makes the pools and hands them to analysis_pools.c;
 * query-regressions sums each statement over the window and its baseline
 * from the statement history (store_sqlite_statement_source: each
 * interval once, from whichever level holds it) and hands the sums to
 * pools_answer.c and analysis_regressions.c.
 */
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/pools_answer.h"

#define POOLER_NOT_ADMIN POOLS_ANSWER_POOLER_NOT_ADMIN

const char store_sqlite_pools_schema[] =
    "CREATE TABLE pool_app_samples ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  application_name TEXT NOT NULL,"
    "  datname TEXT NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  busy INTEGER NOT NULL,"
    "  idle INTEGER NOT NULL,"
    "  waiting INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX pool_app_samples_key ON pool_app_samples"
    "  (instance_id, ts_us, application_name, datname);"
    "CREATE TABLE pooler_samples ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  database TEXT NOT NULL,"
    "  username TEXT NOT NULL,"
    "  cl_active INTEGER NOT NULL,"
    "  cl_waiting INTEGER NOT NULL,"
    "  sv_active INTEGER NOT NULL,"
    "  sv_idle INTEGER NOT NULL,"
    "  sv_used INTEGER NOT NULL,"
    "  sv_tested INTEGER NOT NULL,"
    "  sv_login INTEGER NOT NULL,"
    "  maxwait_seconds REAL NOT NULL,"
    "  default_pool_size INTEGER NOT NULL,"
    "  reserve_pool_size INTEGER NOT NULL);"
    "CREATE INDEX pooler_samples_by_instance_time ON pooler_samples (instance_id, ts_us);";

/* ---- writing ----------------------------------------------------------- */

static int
write_app_samples(struct store_sqlite *store, int64_t instance_id, int64_t ts_us,
    const Pgfleet__V1__ActivityFamily *a)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (a->n_connections == 0)
		return SQLITE_OK;
	/* groups differ by user, client and state too: add them up */
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO pool_app_samples (instance_id, ts_us, application_name, datname,"
	    " total, busy, idle, waiting) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT (instance_id, ts_us, application_name, datname) DO UPDATE SET"
	    " total = total + excluded.total, busy = busy + excluded.busy,"
	    " idle = idle + excluded.idle, waiting = waiting + excluded.waiting",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < a->n_connections; i++) {
		const Pgfleet__V1__ConnectionGroup *g = a->connections[i];
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, ts_us);
		if ((rc = sqlite_bind_clean_string(stmt, 3, g->application_name)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, g->database)) != SQLITE_OK)
			break;
		sqlite3_bind_int64(stmt, 5, g->count);
		sqlite3_bind_int64(stmt, 6, pools_answer_state_is_busy(g->state) ? g->count : 0);
		sqlite3_bind_int64(stmt, 7, strcmp(g->state, "idle") == 0 ? g->count : 0);
		sqlite3_bind_int64(stmt, 8, g->waiting);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc;
}

static int
write_pooler_samples(struct store_sqlite *store, int64_t instance_id, int64_t ts_us,
    const Pgfleet__V1__PoolFamily *p)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (p->n_pools == 0)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO pooler_samples (instance_id, ts_us, database, username, cl_active,"
	    " cl_waiting, sv_active, sv_idle, sv_used, sv_tested, sv_login, maxwait_seconds,"
	    " default_pool_size, reserve_pool_size)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < p->n_pools; i++) {
		const Pgfleet__V1__PoolerPool *pool = p->pools[i];
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, ts_us);
		if ((rc = sqlite_bind_clean_string(stmt, 3, pool->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, pool->user)) != SQLITE_OK)
			break;
		sqlite3_bind_int64(stmt, 5, pool->cl_active);
		sqlite3_bind_int64(stmt, 6, pool->cl_waiting);
		sqlite3_bind_int64(stmt, 7, pool->sv_active);
		sqlite3_bind_int64(stmt, 8, pool->sv_idle);
		sqlite3_bind_int64(stmt, 9, pool->sv_used);
		sqlite3_bind_int64(stmt, 10, pool->sv_tested);
		sqlite3_bind_int64(stmt, 11, pool->sv_login);
		sqlite3_bind_double(stmt, 12, pool->maxwait_seconds);
		sqlite3_bind_int64(stmt, 13, p->default_pool_size);
		sqlite3_bind_int64(stmt, 14, p->reserve_pool_size);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
store_sqlite_pools_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report)
{
	int rc = SQLITE_OK;

	if (report->activity != NULL)
		rc = write_app_samples(store, instance_id, report->collected_at_us,
		    report->activity);
	if (rc == SQLITE_OK && report->pool != NULL)
		rc = write_pooler_samples(store, instance_id, report->collected_at_us,
		    report->pool);
	return rc;
}

/* ---- reading pools ------------------------------------------------------ */

/* Reads the int64 column 0 of every row of stmt into a malloc'd array. */
static int
read_times(sqlite3_stmt *stmt, int64_t **times, size_t *n)
{
	size_t capacity = 0;
	int rc;

	*times = NULL;
	*n = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (*n == capacity) {
			/* grown by half: a day of 10 s snapshots is 8640 */
			int64_t *more = realloc(*times, (capacity + capacity / 2 + 64) * sizeof(int64_t));
			if (more == NULL)
				return SQLITE_NOMEM;
			*times = more;
			capacity += capacity / 2 + 64;
		}
		(*times)[(*n)++] = sqlite3_column_int64(stmt, 0);
	}
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
prepare_window(struct store_sqlite *store, const char *sql, int64_t instance_id,
    int64_t since_us, int64_t until_us, sqlite3_stmt **stmt)
{
	int rc = sqlite3_prepare_v2(store->db, sql, -1, stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(*stmt, 1, instance_id);
	sqlite3_bind_int64(*stmt, 2, since_us);
	sqlite3_bind_int64(*stmt, 3, until_us);
	return SQLITE_OK;
}

/* A text column; "" for NULL. */
static const char *
column_text(sqlite3_stmt *stmt, int column)
{
	const char *text = (const char *) sqlite3_column_text(stmt, column);
	return text != NULL ? text : "";
}

/* The applications' connections on one instance: one pool per
 * application over the instance's activity snapshots. */
static int
load_server_pools(struct store_sqlite *store, struct pools_answer *set, int64_t instance_id,
    const char *instance, const char *cluster, int64_t since_us, int64_t until_us)
{
	struct pools_answer_reader reader;
	sqlite3_stmt *stmt = NULL;
	int64_t *times = NULL;
	size_t n_times = 0;
	int rc;

	rc = prepare_window(store,
	    "SELECT ts_us FROM activity_history WHERE instance_id = ?1 AND ts_us >= ?2"
	    " AND ts_us < ?3 ORDER BY ts_us",
	    instance_id, since_us, until_us, &stmt);
	if (rc == SQLITE_OK)
		rc = read_times(stmt, &times, &n_times);
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (rc != SQLITE_OK || n_times == 0)
		goto done;
	rc = prepare_window(store,
	    "SELECT application_name, datname, ts_us, total, busy, idle, waiting"
	    " FROM pool_app_samples WHERE instance_id = ?1 AND ts_us >= ?2 AND ts_us < ?3"
	    " ORDER BY application_name, datname, ts_us",
	    instance_id, since_us, until_us, &stmt);
	if (rc != SQLITE_OK)
		goto done;
	pools_answer_server_begin(&reader, set, instance, cluster, times, n_times);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW &&
	    pools_answer_server_row(&reader, column_text(stmt, 0), column_text(stmt, 1),
		sqlite3_column_int64(stmt, 2), sqlite3_column_int64(stmt, 3),
		sqlite3_column_int64(stmt, 4), sqlite3_column_int64(stmt, 5),
		sqlite3_column_int64(stmt, 6)))
		;
	if (!pools_answer_server_end(&reader))
		rc = SQLITE_NOMEM;
	else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
done:
	sqlite3_finalize(stmt);
	free(times);
	return rc;
}

/* pgbouncer's pools on one instance: one pool per (database, user) over
 * the pool family's samples. */
static int
load_pooler_pools(struct store_sqlite *store, struct pools_answer *set, int64_t instance_id,
    const char *instance, const char *cluster, int64_t since_us, int64_t until_us)
{
	struct pools_answer_reader reader;
	sqlite3_stmt *stmt = NULL;
	int64_t *times = NULL;
	size_t n_times = 0;
	int rc;

	rc = prepare_window(store,
	    "SELECT DISTINCT ts_us FROM pooler_samples WHERE instance_id = ?1 AND ts_us >= ?2"
	    " AND ts_us < ?3 AND " POOLER_NOT_ADMIN " ORDER BY ts_us",
	    instance_id, since_us, until_us, &stmt);
	if (rc == SQLITE_OK)
		rc = read_times(stmt, &times, &n_times);
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (rc != SQLITE_OK || n_times == 0)
		goto done;
	rc = prepare_window(store,
	    "SELECT database || '/' || username, database, ts_us, cl_waiting, sv_active,"
	    " sv_idle + sv_used + sv_tested, sv_login, default_pool_size"
	    " FROM pooler_samples WHERE instance_id = ?1 AND ts_us >= ?2 AND ts_us < ?3"
	    " AND " POOLER_NOT_ADMIN " ORDER BY 1, ts_us",
	    instance_id, since_us, until_us, &stmt);
	if (rc != SQLITE_OK)
		goto done;
	pools_answer_pooler_begin(&reader, set, instance, cluster, times, n_times);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW &&
	    pools_answer_pooler_row(&reader, column_text(stmt, 0), column_text(stmt, 1),
		sqlite3_column_int64(stmt, 2), sqlite3_column_int64(stmt, 3),
		sqlite3_column_int64(stmt, 4), sqlite3_column_int64(stmt, 5),
		sqlite3_column_int64(stmt, 6), sqlite3_column_int64(stmt, 7)))
		;
	if (!pools_answer_pooler_end(&reader))
		rc = SQLITE_NOMEM;
	else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
done:
	sqlite3_finalize(stmt);
	free(times);
	return rc;
}

/* The statement load of each database of one instance over the window,
 * and the wall time the statement intervals cover (Little's law needs
 * both): raw intervals from their start, rollup buckets whole. */
static int
load_statements(struct store_sqlite *store, struct pools_answer *set, int64_t instance_id,
    const char *instance, int64_t since_us, int64_t until_us, double *wall_seconds)
{
	char sql[4096];
	sqlite3_stmt *stmt = NULL;
	int rc;

	*wall_seconds = 0.0;
	snprintf(sql, sizeof(sql),
	    "SELECT s.datname, sum(s.total_exec_time_ms), sum(s.calls) FROM %s s"
	    " WHERE s.instance_id = ?1 AND s.ts_us >= ?2 AND s.ts_us < ?3 GROUP BY s.datname",
	    store_sqlite_statement_source);
	if ((rc = prepare_window(store, sql, instance_id, since_us, until_us, &stmt)) != SQLITE_OK)
		goto done;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (!pools_answer_load(set, instance, column_text(stmt, 0),
			sqlite3_column_double(stmt, 1), sqlite3_column_double(stmt, 2))) {
			rc = SQLITE_NOMEM;
			goto done;
		}
	}
	if (rc != SQLITE_DONE)
		goto done;
	sqlite3_finalize(stmt);
	stmt = NULL;
	rc = prepare_window(store,
	    "SELECT min(st), max(en) FROM ("
	    " SELECT interval_start_us AS st, ts_us AS en FROM statement_stats"
	    "  WHERE instance_id = ?1 AND ts_us >= ?2 AND ts_us < ?3"
	    "  AND ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
	    " UNION ALL"
	    " SELECT bucket_us, bucket_us + 3600000000 FROM statement_stats_hourly"
	    "  WHERE instance_id = ?1 AND bucket_us >= ?2 AND bucket_us < ?3"
	    "  AND bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
	    "  AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
	    " UNION ALL"
	    " SELECT bucket_us, bucket_us + 86400000000 FROM statement_stats_daily"
	    "  WHERE instance_id = ?1 AND bucket_us >= ?2 AND bucket_us < ?3"
	    "  AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily'))",
	    instance_id, since_us, until_us, &stmt);
	if (rc != SQLITE_OK)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(stmt, 0) != SQLITE_NULL)
			*wall_seconds = (double) (sqlite3_column_int64(stmt, 1) -
						 sqlite3_column_int64(stmt, 0)) / 1e6;
		rc = SQLITE_OK;
	}
done:
	sqlite3_finalize(stmt);
	return rc;
}

/* The instance's connections for clients, from its latest activity. */
static int
load_budget(struct store_sqlite *store, struct pools_answer *set, int64_t instance_id,
    const char *instance)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db,
	    "SELECT max_connections, superuser_reserved_connections FROM activity_latest"
	    " WHERE instance_id = ?1",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(stmt, 1, instance_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		rc = pools_answer_budget(set, instance, sqlite3_column_int64(stmt, 0),
			 sqlite3_column_int64(stmt, 1))
		    ? SQLITE_OK
		    : SQLITE_NOMEM;
	else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(stmt);
	return rc;
}

/* Every pool of the instances in scope; with_load adds the statement load
 * and the budgets a recommendation needs. */
static int
load_pools(struct store_sqlite *store, const Pgfleet__V1__Scope *scope, bool with_load,
    struct pools_answer *set)
{
	sqlite3_stmt *stmt = NULL;
	int64_t since_us, until_us;
	int rc;

	pools_answer_window(scope, &since_us, &until_us);
	rc = sqlite3_prepare_v2(store->db,
	    "SELECT instance_id, name, system_identifier FROM instances"
	    " WHERE (?1 = '' OR name = ?1) AND (?2 = '' OR system_identifier = ?2)"
	    " ORDER BY system_identifier, name",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, scope != NULL ? scope->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, scope != NULL ? scope->cluster : "", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t instance_id = sqlite3_column_int64(stmt, 0);
		char *instance = sqlite_column_text(stmt, 1);
		char *cluster = sqlite_column_text(stmt, 2);
		size_t first = set->n_pools;
		double wall = 0.0;

		rc = instance == NULL || cluster == NULL ? SQLITE_NOMEM : SQLITE_OK;
		if (rc == SQLITE_OK)
			rc = load_server_pools(store, set, instance_id, instance, cluster, since_us,
			    until_us);
		if (rc == SQLITE_OK)
			rc = load_pooler_pools(store, set, instance_id, instance, cluster, since_us,
			    until_us);
		if (rc == SQLITE_OK && with_load && set->n_pools > first)
			rc = load_statements(store, set, instance_id, instance, since_us, until_us,
			    &wall);
		if (rc == SQLITE_OK && with_load && set->n_pools > first)
			rc = load_budget(store, set, instance_id, instance);
		pools_answer_wall(set, first, wall);
		free(instance);
		free(cluster);
		if (rc != SQLITE_OK)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(stmt);
	return rc;
}

/* Maps a read's SQLite result to the store's errors. */
static int
pools_error(struct store_sqlite *store, int rc, const char *what, char *errbuf, size_t errlen)
{
	if (rc == SQLITE_NOMEM)
		return pools_answer_read_error(errbuf, errlen);
	return sqlite_store_error(store->db, rc, what, errbuf, errlen);
}

int
store_sqlite_pool_stats(struct store *base, const Pgfleet__V1__PoolStatsRequest *request,
    Pgfleet__V1__PoolStats *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	struct pools_answer set;
	int rc, rv;

	pools_answer_init(&set);
	if ((rc = load_pools(store, request->scope, false, &set)) != SQLITE_OK)
		rv = pools_error(store, rc, "read pool samples", errbuf, errlen);
	else
		rv = pools_answer_stats(&set, request->limit, answer, errbuf, errlen);
	pools_answer_fini(&set);
	return rv;
}

int
store_sqlite_pool_recommendation(struct store *base,
    const Pgfleet__V1__PoolRecommendationRequest *request,
    Pgfleet__V1__PoolRecommendation *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	struct pools_answer set;
	int rc, rv;

	pools_answer_init(&set);
	if ((rc = load_pools(store, request->scope, true, &set)) != SQLITE_OK)
		rv = pools_error(store, rc, "read pool samples", errbuf, errlen);
	else
		rv = pools_answer_recommendation(&set, request->limit, request->buffer, answer,
		    errbuf, errlen);
	pools_answer_fini(&set);
	return rv;
}

/* ---- regressions ------------------------------------------------------- */

int
store_sqlite_query_regressions(struct store *base,
    const Pgfleet__V1__QueryRegressionsRequest *request,
    Pgfleet__V1__QueryRegressions *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	const Pgfleet__V1__Scope *scope = request->scope;
	struct pools_answer_regressions q;
	sqlite3_stmt *stmt = NULL;
	char sql[4096];
	int rv;
	int rc;

	if ((rv = pools_answer_regressions_init(&q, request, errbuf, errlen)) != PGF_OK)
		goto done;
	/* ?1..?2 the window, ?3..?4 the baseline (they may overlap: a row
	 * counts in each it falls in) */
	snprintf(sql, sizeof(sql),
	    "SELECT group_concat(DISTINCT i.name), max(s.datname), min(s.queryid),"
	    "  sum(CASE WHEN s.ts_us >= ?1 AND s.ts_us < ?2 THEN s.calls ELSE 0 END) AS w_calls,"
	    "  sum(CASE WHEN s.ts_us >= ?1 AND s.ts_us < ?2 THEN s.total_exec_time_ms ELSE 0 END),"
	    "  sum(CASE WHEN s.ts_us >= ?3 AND s.ts_us < ?4 THEN s.calls ELSE 0 END) AS b_calls,"
	    "  sum(CASE WHEN s.ts_us >= ?3 AND s.ts_us < ?4 THEN s.total_exec_time_ms ELSE 0 END),"
	    "  coalesce(max(t.query), ''), coalesce(max(t.truncated), 0),"
	    "  group_concat(DISTINCT i.system_identifier), count(DISTINCT s.instance_id),"
	    "  sum(CASE WHEN s.ts_us >= ?1 AND s.ts_us < ?2 THEN s.sum_sq_exec_time_ms2 ELSE 0 END),"
	    "  sum(CASE WHEN s.ts_us >= ?3 AND s.ts_us < ?4 THEN s.sum_sq_exec_time_ms2 ELSE 0 END)"
	    " FROM %s s JOIN instances i USING (instance_id)"
	    " LEFT JOIN statement_texts t ON t.instance_id = s.instance_id AND t.queryid = s.queryid"
	    " WHERE ((s.ts_us >= ?1 AND s.ts_us < ?2) OR (s.ts_us >= ?3 AND s.ts_us < ?4))"
	    "  AND (?5 = '' OR i.name = ?5) AND (?6 = '' OR i.system_identifier = ?6)"
	    "  AND (?7 = '' OR s.datname = ?7)"
	    " GROUP BY %s HAVING w_calls >= ?8 AND b_calls >= ?8",
	    store_sqlite_statement_source,
	    q.by_cluster ? "i.system_identifier, s.dbid, s.queryid"
			 : "s.instance_id, s.dbid, s.queryid");
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rv = sqlite_store_error(store->db, rc, "prepare the regressions query", errbuf,
		    errlen);
		goto done;
	}
	sqlite3_bind_int64(stmt, 1, q.since_us);
	sqlite3_bind_int64(stmt, 2, q.until_us);
	sqlite3_bind_int64(stmt, 3, q.baseline_since_us);
	sqlite3_bind_int64(stmt, 4, q.baseline_until_us);
	sqlite3_bind_text(stmt, 5, scope != NULL ? scope->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, scope != NULL ? scope->cluster : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, scope != NULL ? scope->database : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 8, q.params.min_calls);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const struct pools_answer_regression row = {
			.instance = (char *) column_text(stmt, 0),
			.database = (char *) column_text(stmt, 1),
			.query = (char *) column_text(stmt, 7),
			.cluster = (char *) column_text(stmt, 9),
			.queryid = sqlite3_column_int64(stmt, 2),
			.instances = sqlite3_column_int(stmt, 10),
			.truncated = sqlite3_column_int(stmt, 8) != 0,
		};
		const struct regression_input input = {
			.calls = sqlite3_column_int64(stmt, 3),
			.total_ms = sqlite3_column_double(stmt, 4),
			.baseline_calls = sqlite3_column_int64(stmt, 5),
			.baseline_total_ms = sqlite3_column_double(stmt, 6),
			.sum_sq_ms2 = sqlite3_column_double(stmt, 11),
			.baseline_sum_sq_ms2 = sqlite3_column_double(stmt, 12),
		};
		if (!pools_answer_regressions_add(&q, &row, &input)) {
			snprintf(errbuf, errlen, "out of memory");
			rv = PGF_ENOMEM;
			goto done;
		}
	}
	if (rc != SQLITE_DONE) {
		rv = sqlite_store_error(store->db, rc, "read regressions", errbuf, errlen);
		goto done;
	}
	rv = pools_answer_regressions_fill(&q, answer, errbuf, errlen);
done:
	sqlite3_finalize(stmt);
	pools_answer_regressions_fini(&q);
	return rv;
}
