/*
 * store_pg_pools.c - connection pools and slow-query regressions in the
 * PostgreSQL store: store_sqlite_pools.c's SQL, translated.
 *
 * Tables (store_pg_schema.sql, version 4): pool_app_samples, each
 * application's client connections per activity snapshot (the snapshot
 * times are the instance's activity_history rows), and pooler_samples,
 * each pgbouncer pool per pool family.
 *
 * Answers: the rows read here are fed, in the order pools_answer.h asks,
 * to the builders the SQLite store feeds too (pools_answer.c), which make
 * the pools, judge them (analysis_pools.c, analysis_regressions.c) and
 * fill the answers; so only the SQL differs between the stores. Rows are
 * read one instance at a time, as the SQLite store reads them, so one
 * result holds at most one instance's samples.
 */
#include "collector/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/pools_answer.h"

/*
 * Sums of doubles depend on the order they are added in, and the answers
 * must match the SQLite store's to the bit. store_pg_statement_source's
 * rows, with what orders them as the SQLite store's plans read them
 * (SUM_ORDER): raw rows by time, then as stored (its ts_us indexes end in
 * the rowid; id here); then hourly and daily rows by bucket, instance,
 * database and statement (their primary keys, which their time indexes
 * end in).
 */
static const char ordered_source[] =
    "(SELECT 0 AS level, id AS k1, 0::bigint AS k2, 0::bigint AS k3, instance_id, ts_us,"
    "  dbid, datname, queryid, calls, total_exec_time_ms, sum_sq_exec_time_ms2"
    "  FROM statement_stats"
    "  WHERE ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
    " UNION ALL"
    " SELECT 1, instance_id, dbid, queryid, instance_id, bucket_us, dbid, datname, queryid,"
    "  calls, total_exec_time_ms, sum_sq_exec_time_ms2 FROM statement_stats_hourly"
    "  WHERE bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
    "   AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
    " UNION ALL"
    " SELECT 2, instance_id, dbid, queryid, instance_id, bucket_us, dbid, datname, queryid,"
    "  calls, total_exec_time_ms, sum_sq_exec_time_ms2 FROM statement_stats_daily"
    "  WHERE bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily'))";
#define SUM_ORDER " ORDER BY s.level, s.ts_us, s.k1, s.k2, s.k3"

/* ---- writing ----------------------------------------------------------- */

int
store_pg_pools_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen)
{
	const Pgfleet__V1__ActivityFamily *a = report->activity;
	const Pgfleet__V1__PoolFamily *p = report->pool;
	struct pg_pipeline pipeline;

	if ((a == NULL || a->n_connections == 0) && (p == NULL || p->n_pools == 0))
		return PGF_OK;
	/* one round trip for both families */
	pg_pipeline_begin(store, &pipeline);
	for (size_t i = 0; a != NULL && i < a->n_connections; i++) {
		const Pgfleet__V1__ConnectionGroup *g = a->connections[i];
		struct pg_params params;
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, report->collected_at_us);
		pg_param_text(&params, g->application_name);
		pg_param_text(&params, g->database);
		pg_param_int(&params, g->count);
		pg_param_int(&params, pools_answer_state_is_busy(g->state) ? g->count : 0);
		pg_param_int(&params, strcmp(g->state, "idle") == 0 ? g->count : 0);
		pg_param_int(&params, g->waiting);
		/* groups differ by user, client and state too: add them up */
		pg_pipeline_send(store, &pipeline,
		    "INSERT INTO pool_app_samples AS s (instance_id, ts_us, application_name,"
		    " datname, total, busy, idle, waiting) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
		    " ON CONFLICT (instance_id, ts_us, application_name, datname) DO UPDATE SET"
		    " total = s.total + excluded.total, busy = s.busy + excluded.busy,"
		    " idle = s.idle + excluded.idle, waiting = s.waiting + excluded.waiting",
		    &params);
	}
	for (size_t i = 0; p != NULL && i < p->n_pools; i++) {
		const Pgfleet__V1__PoolerPool *pool = p->pools[i];
		struct pg_params params;
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, report->collected_at_us);
		pg_param_text(&params, pool->database);
		pg_param_text(&params, pool->user);
		pg_param_int(&params, pool->cl_active);
		pg_param_int(&params, pool->cl_waiting);
		pg_param_int(&params, pool->sv_active);
		pg_param_int(&params, pool->sv_idle);
		pg_param_int(&params, pool->sv_used);
		pg_param_int(&params, pool->sv_tested);
		pg_param_int(&params, pool->sv_login);
		pg_param_double(&params, pool->maxwait_seconds);
		pg_param_int(&params, p->default_pool_size);
		pg_param_int(&params, p->reserve_pool_size);
		pg_pipeline_send(store, &pipeline,
		    "INSERT INTO pooler_samples (instance_id, ts_us, database, username, cl_active,"
		    " cl_waiting, sv_active, sv_idle, sv_used, sv_tested, sv_login, maxwait_seconds,"
		    " default_pool_size, reserve_pool_size)"
		    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
		    &params);
	}
	return pg_pipeline_end(store, &pipeline, "store the pool samples", errbuf, errlen);
}

/* ---- reading pools ----------------------------------------------------- */

/* Runs sql with $1 instance_id, $2..$3 the window. */
static int
read_window(struct store_pg *store, const char *sql, int64_t instance_id, int64_t since_us,
    int64_t until_us, PGresult **res, const char *what, char *errbuf, size_t errlen)
{
	struct pg_params params;

	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, since_us);
	pg_param_int(&params, until_us);
	return pg_read(store, sql, &params, res, what, errbuf, errlen);
}

/* Column 0 of every row of res as a malloc'd array (NULL when none). */
static int
result_times(const PGresult *res, int64_t **times, size_t *n, char *errbuf, size_t errlen)
{
	*n = (size_t) PQntuples(res);
	*times = NULL;
	if (*n == 0)
		return PGF_OK;
	*times = malloc(*n * sizeof(int64_t));
	if (*times == NULL)
		return pools_answer_read_error(errbuf, errlen);
	for (size_t i = 0; i < *n; i++)
		(*times)[i] = pg_int(res, (int) i, 0);
	return PGF_OK;
}

/* One source's pools on one instance: the sample times (times_sql), then
 * the samples (rows_sql), fed to pools_answer. */
static int
load_source(struct store_pg *store, struct pools_answer *set, bool server,
    const char *times_sql, const char *rows_sql, int64_t instance_id, const char *instance,
    const char *cluster, int64_t since_us, int64_t until_us, char *errbuf, size_t errlen)
{
	struct pools_answer_reader reader;
	PGresult *res = NULL;
	int64_t *times = NULL;
	size_t n_times = 0;
	bool ok = true;
	int rv;

	if ((rv = read_window(store, times_sql, instance_id, since_us, until_us, &res,
		 "read pool samples", errbuf, errlen)) != PGF_OK)
		return rv;
	rv = result_times(res, &times, &n_times, errbuf, errlen);
	PQclear(res);
	res = NULL;
	if (rv != PGF_OK || n_times == 0)
		goto done;
	if ((rv = read_window(store, rows_sql, instance_id, since_us, until_us, &res,
		 "read pool samples", errbuf, errlen)) != PGF_OK)
		goto done;
	if (server) {
		pools_answer_server_begin(&reader, set, instance, cluster, times, n_times);
		for (int r = 0; r < PQntuples(res) && ok; r++)
			ok = pools_answer_server_row(&reader, PQgetvalue(res, r, 0),
			    PQgetvalue(res, r, 1), pg_int(res, r, 2), pg_int(res, r, 3),
			    pg_int(res, r, 4), pg_int(res, r, 5), pg_int(res, r, 6));
		ok = pools_answer_server_end(&reader) && ok;
	} else {
		pools_answer_pooler_begin(&reader, set, instance, cluster, times, n_times);
		for (int r = 0; r < PQntuples(res) && ok; r++)
			ok = pools_answer_pooler_row(&reader, PQgetvalue(res, r, 0),
			    PQgetvalue(res, r, 1), pg_int(res, r, 2), pg_int(res, r, 3),
			    pg_int(res, r, 4), pg_int(res, r, 5), pg_int(res, r, 6),
			    pg_int(res, r, 7));
		ok = pools_answer_pooler_end(&reader) && ok;
	}
	if (!ok)
		rv = pools_answer_read_error(errbuf, errlen);
done:
	PQclear(res);
	free(times);
	return rv;
}

/* The statement load of each database of one instance over the window,
 * and the wall time the statement intervals cover (Little's law needs
 * both): raw intervals from their start, rollup buckets whole. */
static int
load_statements(struct store_pg *store, struct pools_answer *set, int64_t instance_id,
    const char *instance, int64_t since_us, int64_t until_us, double *wall_seconds,
    char *errbuf, size_t errlen)
{
	char sql[4096];
	PGresult *res = NULL;
	int rv;

	*wall_seconds = 0.0;
	/* in the databases' order, as SQLite's GROUP BY gives them: the
	 * loads are added up in this order */
	snprintf(sql, sizeof(sql),
	    "SELECT s.datname, sum(s.total_exec_time_ms" SUM_ORDER "), sum(s.calls) FROM %s s"
	    " WHERE s.instance_id = $1 AND s.ts_us >= $2 AND s.ts_us < $3"
	    " GROUP BY s.datname ORDER BY s.datname",
	    ordered_source);
	if ((rv = read_window(store, sql, instance_id, since_us, until_us, &res,
		 "read the statement load", errbuf, errlen)) != PGF_OK)
		return rv;
	for (int r = 0; r < PQntuples(res); r++) {
		if (!pools_answer_load(set, instance, PQgetvalue(res, r, 0), pg_double(res, r, 1),
			pg_double(res, r, 2))) {
			PQclear(res);
			return pools_answer_read_error(errbuf, errlen);
		}
	}
	PQclear(res);
	if ((rv = read_window(store,
		 "SELECT min(st), max(en) FROM ("
		 " SELECT interval_start_us AS st, ts_us AS en FROM statement_stats"
		 "  WHERE instance_id = $1 AND ts_us >= $2 AND ts_us < $3"
		 "  AND ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
		 " UNION ALL"
		 " SELECT bucket_us, bucket_us + 3600000000 FROM statement_stats_hourly"
		 "  WHERE instance_id = $1 AND bucket_us >= $2 AND bucket_us < $3"
		 "  AND bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
		 "  AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
		 " UNION ALL"
		 " SELECT bucket_us, bucket_us + 86400000000 FROM statement_stats_daily"
		 "  WHERE instance_id = $1 AND bucket_us >= $2 AND bucket_us < $3"
		 "  AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily')) w",
		 instance_id, since_us, until_us, &res, "read the statement load", errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*wall_seconds = (double) (pg_int(res, 0, 1) - pg_int(res, 0, 0)) / 1e6;
	PQclear(res);
	return PGF_OK;
}

/* The instance's connections for clients, from its latest activity. */
static int
load_budget(struct store_pg *store, struct pools_answer *set, int64_t instance_id,
    const char *instance, char *errbuf, size_t errlen)
{
	struct pg_params params;
	PGresult *res = NULL;
	int rv;

	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	if ((rv = pg_read(store,
		 "SELECT max_connections, superuser_reserved_connections FROM activity_latest"
		 " WHERE instance_id = $1",
		 &params, &res, "read the connection budget", errbuf, errlen)) != PGF_OK)
		return rv;
	if (PQntuples(res) == 1 &&
	    !pools_answer_budget(set, instance, pg_int(res, 0, 0), pg_int(res, 0, 1)))
		rv = pools_answer_read_error(errbuf, errlen);
	PQclear(res);
	return rv;
}

/* Every pool of the instances in scope; with_load adds the statement load
 * and the budgets a recommendation needs. */
static int
load_pools(struct store_pg *store, const Pgfleet__V1__Scope *scope, bool with_load,
    struct pools_answer *set, char *errbuf, size_t errlen)
{
	static const char server_times[] =
	    "SELECT ts_us FROM activity_history WHERE instance_id = $1 AND ts_us >= $2"
	    " AND ts_us < $3 ORDER BY ts_us";
	static const char server_rows[] =
	    "SELECT application_name, datname, ts_us, total, busy, idle, waiting"
	    " FROM pool_app_samples WHERE instance_id = $1 AND ts_us >= $2 AND ts_us < $3"
	    " ORDER BY application_name, datname, ts_us";
	static const char pooler_times[] =
	    "SELECT DISTINCT ts_us FROM pooler_samples WHERE instance_id = $1 AND ts_us >= $2"
	    " AND ts_us < $3 AND " POOLS_ANSWER_POOLER_NOT_ADMIN " ORDER BY ts_us";
	/* the pool's name in byte order, as SQLite orders it */
	static const char pooler_rows[] =
	    "SELECT (database || '/' || username) COLLATE \"C\", database, ts_us, cl_waiting,"
	    " sv_active, sv_idle + sv_used + sv_tested, sv_login, default_pool_size"
	    " FROM pooler_samples WHERE instance_id = $1 AND ts_us >= $2 AND ts_us < $3"
	    " AND " POOLS_ANSWER_POOLER_NOT_ADMIN " ORDER BY 1, ts_us";
	struct pg_params params;
	PGresult *instances = NULL;
	int64_t since_us, until_us;
	int rv;

	pools_answer_window(scope, &since_us, &until_us);
	pg_params_init(&params);
	pg_param_text(&params, scope != NULL ? scope->instance : "");
	pg_param_text(&params, scope != NULL ? scope->cluster : "");
	if ((rv = pg_read(store,
		 "SELECT instance_id, name, system_identifier FROM instances"
		 " WHERE ($1 = '' OR name = $1) AND ($2 = '' OR system_identifier = $2)"
		 " ORDER BY system_identifier, name",
		 &params, &instances, "read the instances", errbuf, errlen)) != PGF_OK)
		return rv;
	for (int i = 0; i < PQntuples(instances) && rv == PGF_OK; i++) {
		int64_t instance_id = pg_int(instances, i, 0);
		const char *instance = PQgetvalue(instances, i, 1);
		const char *cluster = PQgetvalue(instances, i, 2);
		size_t first = set->n_pools;
		double wall = 0.0;

		rv = load_source(store, set, true, server_times, server_rows, instance_id,
		    instance, cluster, since_us, until_us, errbuf, errlen);
		if (rv == PGF_OK)
			rv = load_source(store, set, false, pooler_times, pooler_rows, instance_id,
			    instance, cluster, since_us, until_us, errbuf, errlen);
		if (rv == PGF_OK && with_load && set->n_pools > first)
			rv = load_statements(store, set, instance_id, instance, since_us, until_us,
			    &wall, errbuf, errlen);
		if (rv == PGF_OK && with_load && set->n_pools > first)
			rv = load_budget(store, set, instance_id, instance, errbuf, errlen);
		pools_answer_wall(set, first, wall);
	}
	PQclear(instances);
	return rv;
}

int
store_pg_pool_stats(struct store *base, const Pgfleet__V1__PoolStatsRequest *request,
    Pgfleet__V1__PoolStats *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct pools_answer set;
	int rv;

	pools_answer_init(&set);
	rv = load_pools(store, request->scope, false, &set, errbuf, errlen);
	if (rv == PGF_OK)
		rv = pools_answer_stats(&set, request->limit, answer, errbuf, errlen);
	pools_answer_fini(&set);
	return rv;
}

int
store_pg_pool_recommendation(struct store *base,
    const Pgfleet__V1__PoolRecommendationRequest *request,
    Pgfleet__V1__PoolRecommendation *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct pools_answer set;
	int rv;

	pools_answer_init(&set);
	rv = load_pools(store, request->scope, true, &set, errbuf, errlen);
	if (rv == PGF_OK)
		rv = pools_answer_recommendation(&set, request->limit, request->buffer, answer,
		    errbuf, errlen);
	pools_answer_fini(&set);
	return rv;
}

/* ---- regressions ------------------------------------------------------- */

int
store_pg_query_regressions(struct store *base,
    const Pgfleet__V1__QueryRegressionsRequest *request,
    Pgfleet__V1__QueryRegressions *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	const Pgfleet__V1__Scope *scope = request->scope;
	struct pools_answer_regressions q;
	struct pg_params params;
	PGresult *res = NULL;
	const char *key;
	char sql[6144];
	int rv;

	if ((rv = pools_answer_regressions_init(&q, request, errbuf, errlen)) != PGF_OK)
		goto done;
	key = q.by_cluster ? "i.system_identifier, s.dbid, s.queryid"
			   : "s.instance_id, s.dbid, s.queryid";
	/* $1..$2 the window, $3..$4 the baseline (they may overlap: a row
	 * counts in each it falls in). Rows in the order of their grouping
	 * key, as SQLite's GROUP BY gives them: ties are judged in input
	 * order. string_agg(DISTINCT) lists names in byte order, SQLite's
	 * group_concat in the order it met them: they match for one
	 * instance, and are the same set for a cluster. */
	snprintf(sql, sizeof(sql),
	    "SELECT string_agg(DISTINCT i.name, ','), max(s.datname), min(s.queryid),"
	    "  sum(CASE WHEN s.ts_us >= $1 AND s.ts_us < $2 THEN s.calls ELSE 0 END),"
	    "  sum(CASE WHEN s.ts_us >= $1 AND s.ts_us < $2 THEN s.total_exec_time_ms ELSE 0 END"
	    SUM_ORDER "),"
	    "  sum(CASE WHEN s.ts_us >= $3 AND s.ts_us < $4 THEN s.calls ELSE 0 END),"
	    "  sum(CASE WHEN s.ts_us >= $3 AND s.ts_us < $4 THEN s.total_exec_time_ms ELSE 0 END"
	    SUM_ORDER "),"
	    "  coalesce(max(t.query), ''), coalesce(bool_or(t.truncated), false),"
	    "  string_agg(DISTINCT i.system_identifier, ','), count(DISTINCT s.instance_id),"
	    "  sum(CASE WHEN s.ts_us >= $1 AND s.ts_us < $2 THEN s.sum_sq_exec_time_ms2 ELSE 0"
	    "   END" SUM_ORDER "),"
	    "  sum(CASE WHEN s.ts_us >= $3 AND s.ts_us < $4 THEN s.sum_sq_exec_time_ms2 ELSE 0"
	    "   END" SUM_ORDER ")"
	    " FROM %s s JOIN instances i USING (instance_id)"
	    " LEFT JOIN statement_texts t ON t.instance_id = s.instance_id AND t.queryid = s.queryid"
	    " WHERE ((s.ts_us >= $1 AND s.ts_us < $2) OR (s.ts_us >= $3 AND s.ts_us < $4))"
	    "  AND ($5 = '' OR i.name = $5) AND ($6 = '' OR i.system_identifier = $6)"
	    "  AND ($7 = '' OR s.datname = $7)"
	    " GROUP BY %s"
	    " HAVING sum(CASE WHEN s.ts_us >= $1 AND s.ts_us < $2 THEN s.calls ELSE 0 END) >= $8"
	    "  AND sum(CASE WHEN s.ts_us >= $3 AND s.ts_us < $4 THEN s.calls ELSE 0 END) >= $8"
	    " ORDER BY %s",
	    ordered_source, key, key);
	pg_params_init(&params);
	pg_param_int(&params, q.since_us);
	pg_param_int(&params, q.until_us);
	pg_param_int(&params, q.baseline_since_us);
	pg_param_int(&params, q.baseline_until_us);
	pg_param_text(&params, scope != NULL ? scope->instance : "");
	pg_param_text(&params, scope != NULL ? scope->cluster : "");
	pg_param_text(&params, scope != NULL ? scope->database : "");
	pg_param_int(&params, q.params.min_calls);
	if ((rv = pg_read(store, sql, &params, &res, "read regressions", errbuf, errlen)) !=
	    PGF_OK)
		goto done;
	for (int r = 0; r < PQntuples(res); r++) {
		const struct pools_answer_regression row = {
			.instance = PQgetvalue(res, r, 0),
			.database = PQgetvalue(res, r, 1),
			.query = PQgetvalue(res, r, 7),
			.cluster = PQgetvalue(res, r, 9),
			.queryid = pg_int(res, r, 2),
			.instances = pg_int(res, r, 10),
			.truncated = pg_bool(res, r, 8),
		};
		const struct regression_input input = {
			.calls = pg_int(res, r, 3),
			.total_ms = pg_double(res, r, 4),
			.baseline_calls = pg_int(res, r, 5),
			.baseline_total_ms = pg_double(res, r, 6),
			.sum_sq_ms2 = pg_double(res, r, 11),
			.baseline_sum_sq_ms2 = pg_double(res, r, 12),
		};
		if (!pools_answer_regressions_add(&q, &row, &input)) {
			snprintf(errbuf, errlen, "out of memory");
			rv = PGF_ENOMEM;
			goto done;
		}
	}
	rv = pools_answer_regressions_fill(&q, answer, errbuf, errlen);
done:
	PQclear(res);
	pools_answer_regressions_fini(&q);
	return rv;
}
