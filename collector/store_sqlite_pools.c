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
 * window and hand them to analysis_pools.c; query-regressions sums each
 * statement over the window and its baseline from the statement history
 * (store_sqlite_statement_source: each interval once, from whichever level
 * holds it) and hands the sums to analysis_regressions.c.
 */
#include "collector/store_sqlite_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/analysis_pools.h"
#include "collector/analysis_regressions.h"
#include "common/timeutil.h"

#define POOLS_DEFAULT_LIMIT 50
#define REGRESSIONS_DEFAULT_LIMIT 20
#define DAY_US (86400LL * 1000000)
#define HOUR_US (3600LL * 1000000)
/* pgbouncer's admin console is a pool of its own (database "pgbouncer"),
 * with no server connections: not a pool to size. */
#define POOLER_NOT_ADMIN "database <> 'pgbouncer'"
/* Most samples × pools one answer reads into memory. */
#define POOLS_MAX_CELLS (8 * 1024 * 1024)

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

/* States in which a backend holds its connection for a request. */
static bool
state_is_busy(const char *state)
{
	return strcmp(state, "active") == 0 || strcmp(state, "idle in transaction") == 0 ||
	    strcmp(state, "idle in transaction (aborted)") == 0 ||
	    strcmp(state, "fastpath function call") == 0;
}

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
		sqlite3_bind_int64(stmt, 6, state_is_busy(g->state) ? g->count : 0);
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

/* One pool as read from the samples of the window. */
struct pool_rows {
	struct pools_input input;
	char *instance;
	char *cluster;
	char *application;
	/* connections held at each sample (busy ones are in input.busy) */
	double *held;
	int64_t latest_total;
	int64_t latest_busy;
	int64_t latest_free;
	int64_t latest_waiting;
	int64_t latest_ts_us;
	int64_t max_held;
};

/* Everything read for one question. */
struct pool_set {
	struct pool_rows *pools;
	size_t n_pools;
	size_t pools_capacity;
	struct pools_share *shares;
	size_t n_shares;
	size_t shares_capacity;
	struct pools_load *loads;
	size_t n_loads;
	size_t loads_capacity;
	struct pools_budget *budgets;
	size_t n_budgets;
	size_t budgets_capacity;
	size_t cells;
};

/* Grows *array (of size elements) to hold one more; false when out of
 * memory. */
static bool
grow(void **array, size_t size, size_t count, size_t *capacity)
{
	if (count < *capacity)
		return true;
	size_t bigger = *capacity == 0 ? 8 : *capacity * 2;
	void *grown = realloc(*array, bigger * size);
	if (grown == NULL)
		return false;
	*array = grown;
	*capacity = bigger;
	return true;
}

static void
pool_set_free(struct pool_set *set)
{
	for (size_t i = 0; i < set->n_pools; i++) {
		free(set->pools[i].instance);
		free(set->pools[i].cluster);
		free(set->pools[i].application);
		free(set->pools[i].held);
		free(set->pools[i].input.busy);
	}
	for (size_t i = 0; i < set->n_shares; i++)
		free((char *) set->shares[i].database);
	for (size_t i = 0; i < set->n_loads; i++) {
		free((char *) set->loads[i].instance);
		free((char *) set->loads[i].database);
	}
	for (size_t i = 0; i < set->n_budgets; i++)
		free((char *) set->budgets[i].instance);
	free(set->pools);
	free(set->shares);
	free(set->loads);
	free(set->budgets);
	memset(set, 0, sizeof(*set));
}

/* A new pool of n_samples zeroed samples; NULL when out of memory or the
 * answer would read too much. */
static struct pool_rows *
add_pool(struct pool_set *set, const char *instance, const char *cluster, const char *source,
    const char *application, size_t n_samples)
{
	struct pool_rows *pool;
	size_t n = n_samples > 0 ? n_samples : 1;

	if (set->cells + n > POOLS_MAX_CELLS)
		return NULL;
	if (!grow((void **) &set->pools, sizeof(set->pools[0]), set->n_pools,
		&set->pools_capacity))
		return NULL;
	pool = &set->pools[set->n_pools];
	memset(pool, 0, sizeof(*pool));
	pool->instance = strdup(instance);
	pool->cluster = strdup(cluster);
	pool->application = strdup(application);
	pool->held = calloc(n, sizeof(double));
	pool->input.busy = calloc(n, sizeof(double));
	set->n_pools++; /* freed with the set even when incomplete */
	if (pool->instance == NULL || pool->cluster == NULL || pool->application == NULL ||
	    pool->held == NULL || pool->input.busy == NULL)
		return NULL;
	set->cells += n;
	pool->input.instance = pool->instance;
	pool->input.cluster = pool->cluster;
	pool->input.application = pool->application;
	pool->input.source = source;
	pool->input.n_samples = n_samples;
	return pool;
}

static bool
add_share(struct pool_set *set, size_t pool, const char *database, double mean_busy)
{
	char *copy;

	if (!grow((void **) &set->shares, sizeof(set->shares[0]), set->n_shares,
		&set->shares_capacity) ||
	    (copy = strdup(database)) == NULL)
		return false;
	set->shares[set->n_shares].pool = pool;
	set->shares[set->n_shares].database = copy;
	set->shares[set->n_shares].mean_busy = mean_busy;
	set->n_shares++;
	return true;
}

/* The window of a pools question: the scope's, the last 24 hours when it
 * has no start, up to now when it has no end. */
static void
pools_window(const Pgfleet__V1__Scope *scope, int64_t *since_us, int64_t *until_us)
{
	*until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : INT64_MAX;
	*since_us = scope != NULL && scope->since_us != 0
	    ? scope->since_us
	    : (scope != NULL && scope->until_us != 0 ? scope->until_us : pgf_time_now_us()) - DAY_US;
}

/* Index of ts in the sorted times[0..n), or n when absent. */
static size_t
sample_index(const int64_t *times, size_t n, int64_t ts)
{
	size_t low = 0, high = n;
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (times[mid] < ts)
			low = mid + 1;
		else
			high = mid;
	}
	return low < n && times[low] == ts ? low : n;
}

/* Reads the int64 column 0 of every row of stmt into a malloc'd array. */
static int
read_times(sqlite3_stmt *stmt, int64_t **times, size_t *n)
{
	size_t capacity = 0;
	int rc;

	*times = NULL;
	*n = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (!grow((void **) times, sizeof(int64_t), *n, &capacity))
			return SQLITE_NOMEM;
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

/* The applications' connections on one instance: one pool per
 * application over the instance's activity snapshots. */
static int
load_server_pools(struct store_sqlite *store, struct pool_set *set, int64_t instance_id,
    const char *instance, const char *cluster, int64_t since_us, int64_t until_us)
{
	sqlite3_stmt *stmt = NULL;
	int64_t *times = NULL;
	size_t n_times = 0;
	struct pool_rows *pool = NULL;
	size_t pool_index = 0;
	char *database = NULL;
	double database_busy = 0.0;
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
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *application = (const char *) sqlite3_column_text(stmt, 0);
		const char *datname = (const char *) sqlite3_column_text(stmt, 1);
		int64_t ts = sqlite3_column_int64(stmt, 2);
		size_t k = sample_index(times, n_times, ts);

		if (application == NULL)
			application = "";
		if (datname == NULL)
			datname = "";
		if (pool == NULL || strcmp(pool->application, application) != 0) {
			if (database != NULL &&
			    !add_share(set, pool_index, database, database_busy / (double) n_times)) {
				rc = SQLITE_NOMEM;
				goto done;
			}
			free(database);
			database = NULL;
			pool = add_pool(set, instance, cluster, "server", application, n_times);
			if (pool == NULL) {
				rc = SQLITE_NOMEM;
				goto done;
			}
			pool_index = set->n_pools - 1;
		}
		if (database == NULL || strcmp(database, datname) != 0) {
			if (database != NULL &&
			    !add_share(set, pool_index, database, database_busy / (double) n_times)) {
				rc = SQLITE_NOMEM;
				goto done;
			}
			free(database);
			if ((database = strdup(datname)) == NULL) {
				rc = SQLITE_NOMEM;
				goto done;
			}
			database_busy = 0.0;
		}
		if (k == n_times)
			continue; /* a snapshot without totals: cannot happen, skip */
		pool->held[k] += (double) sqlite3_column_int64(stmt, 3);
		pool->input.busy[k] += (double) sqlite3_column_int64(stmt, 4);
		database_busy += (double) sqlite3_column_int64(stmt, 4);
		if (k == n_times - 1) {
			pool->latest_total += sqlite3_column_int64(stmt, 3);
			pool->latest_busy += sqlite3_column_int64(stmt, 4);
			pool->latest_free += sqlite3_column_int64(stmt, 5);
			pool->latest_waiting += sqlite3_column_int64(stmt, 6);
		}
	}
	if (rc != SQLITE_DONE)
		goto done;
	rc = SQLITE_OK;
	if (database != NULL &&
	    !add_share(set, pool_index, database, database_busy / (double) n_times))
		rc = SQLITE_NOMEM;
	/* sizes from the samples in which the application was connected:
	 * an application that comes and goes has its pool while it is there */
	for (size_t i = 0; i < set->n_pools && rc == SQLITE_OK; i++) {
		struct pool_rows *p = &set->pools[i];
		double *sorted;
		size_t present = 0;
		if (strcmp(p->instance, instance) != 0 || strcmp(p->input.source, "server") != 0 ||
		    p->latest_ts_us != 0)
			continue;
		p->latest_ts_us = times[n_times - 1];
		for (size_t k = 0; k < n_times; k++) {
			if (p->held[k] > 0.0) {
				p->held[present] = p->held[k];
				p->input.busy[present] = p->input.busy[k];
				present++;
			}
		}
		p->input.n_samples = present;
		if (present == 0)
			continue;
		sorted = malloc(present * sizeof(double));
		if (sorted == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		memcpy(sorted, p->held, present * sizeof(double));
		p->input.current_pool_size = pools_round_up(pools_percentile(sorted, present, 50.0));
		p->max_held = (int64_t) sorted[present - 1];
		free(sorted);
		p->input.overflow_used = p->max_held > p->input.current_pool_size;
	}
done:
	sqlite3_finalize(stmt);
	free(times);
	free(database);
	return rc;
}

/* pgbouncer's pools on one instance: one pool per (database, user) over
 * the pool family's samples. */
static int
load_pooler_pools(struct store_sqlite *store, struct pool_set *set, int64_t instance_id,
    const char *instance, const char *cluster, int64_t since_us, int64_t until_us)
{
	sqlite3_stmt *stmt = NULL;
	int64_t *times = NULL;
	size_t n_times = 0;
	struct pool_rows *pool = NULL;
	char *pool_database = NULL;
	double busy_sum = 0.0;
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
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *) sqlite3_column_text(stmt, 0);
		const char *database = (const char *) sqlite3_column_text(stmt, 1);
		int64_t ts = sqlite3_column_int64(stmt, 2);
		int64_t waiting = sqlite3_column_int64(stmt, 3);
		int64_t active = sqlite3_column_int64(stmt, 4);
		int64_t free_connections = sqlite3_column_int64(stmt, 5);
		int64_t login = sqlite3_column_int64(stmt, 6);
		size_t k = sample_index(times, n_times, ts);

		if (name == NULL || database == NULL) {
			rc = SQLITE_NOMEM;
			goto done;
		}
		if (pool == NULL || strcmp(pool->application, name) != 0) {
			/* the previous pool's share of its database's load */
			if (pool != NULL && !add_share(set, set->n_pools - 1, pool_database,
						busy_sum / (double) n_times)) {
				rc = SQLITE_NOMEM;
				goto done;
			}
			free(pool_database);
			pool_database = strdup(database);
			pool = add_pool(set, instance, cluster, "pgbouncer", name, n_times);
			if (pool == NULL || pool_database == NULL) {
				rc = SQLITE_NOMEM;
				goto done;
			}
			busy_sum = 0.0;
		}
		if (k == n_times)
			continue;
		pool->held[k] = (double) (active + free_connections + login);
		pool->input.busy[k] = (double) active;
		busy_sum += (double) active;
		if (waiting > pool->input.max_waiting)
			pool->input.max_waiting = waiting;
		if (waiting > 0 && active + waiting > pool->input.max_demand)
			pool->input.max_demand = active + waiting;
		if (ts >= pool->latest_ts_us) {
			pool->latest_ts_us = ts;
			pool->latest_total = active + free_connections + login;
			pool->latest_busy = active;
			pool->latest_free = free_connections;
			pool->latest_waiting = waiting;
			pool->input.current_pool_size = sqlite3_column_int64(stmt, 7);
		}
		if ((int64_t) pool->held[k] > pool->max_held)
			pool->max_held = (int64_t) pool->held[k];
	}
	if (rc != SQLITE_DONE)
		goto done;
	rc = SQLITE_OK;
	if (pool != NULL &&
	    !add_share(set, set->n_pools - 1, pool_database, busy_sum / (double) n_times))
		rc = SQLITE_NOMEM;
	for (size_t i = 0; i < set->n_pools; i++) {
		struct pool_rows *p = &set->pools[i];
		if (strcmp(p->instance, instance) == 0 && strcmp(p->input.source, "pgbouncer") == 0)
			p->input.overflow_used = p->max_held > p->input.current_pool_size ||
			    p->input.max_waiting > 0;
	}
done:
	sqlite3_finalize(stmt);
	free(times);
	free(pool_database);
	return rc;
}

/* The statement load of each database of one instance over the window,
 * and the wall time the statement intervals cover (Little's law needs
 * both): raw intervals from their start, rollup buckets whole. */
static int
load_statements(struct store_sqlite *store, struct pool_set *set, int64_t instance_id,
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
		const char *datname = (const char *) sqlite3_column_text(stmt, 0);
		struct pools_load *load;
		if (!grow((void **) &set->loads, sizeof(set->loads[0]), set->n_loads,
			&set->loads_capacity)) {
			rc = SQLITE_NOMEM;
			goto done;
		}
		load = &set->loads[set->n_loads];
		load->instance = strdup(instance);
		load->database = strdup(datname != NULL ? datname : "");
		load->exec_ms = sqlite3_column_double(stmt, 1);
		load->calls = sqlite3_column_double(stmt, 2);
		set->n_loads++;
		if (load->instance == NULL || load->database == NULL) {
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
load_budget(struct store_sqlite *store, struct pool_set *set, int64_t instance_id,
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
	if (rc == SQLITE_ROW) {
		struct pools_budget *b;
		rc = SQLITE_NOMEM;
		if (grow((void **) &set->budgets, sizeof(set->budgets[0]), set->n_budgets,
			&set->budgets_capacity)) {
			b = &set->budgets[set->n_budgets];
			b->max_connections = sqlite3_column_int64(stmt, 0);
			b->reserved_connections = sqlite3_column_int64(stmt, 1);
			b->instance = strdup(instance);
			if (b->instance != NULL) {
				set->n_budgets++;
				rc = SQLITE_OK;
			}
		}
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* Every pool of the instances in scope; with_load adds the statement load
 * and the budgets a recommendation needs. */
static int
load_pools(struct store_sqlite *store, const Pgfleet__V1__Scope *scope, bool with_load,
    struct pool_set *set)
{
	sqlite3_stmt *stmt = NULL;
	int64_t since_us, until_us;
	int rc;

	pools_window(scope, &since_us, &until_us);
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
		for (size_t i = first; i < set->n_pools; i++)
			set->pools[i].input.wall_seconds = wall;
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
	if (rc == SQLITE_NOMEM) {
		snprintf(errbuf, errlen, "out of memory (or a window with more than %d samples)",
		    POOLS_MAX_CELLS);
		return PGF_ENOMEM;
	}
	return sqlite_store_error(store->db, rc, what, errbuf, errlen);
}

static char *
time_text(int64_t us)
{
	char stamp[32];
	time_t seconds = (time_t) (us / 1000000);
	struct tm tm;

	if (us <= 0 || us == INT64_MAX || gmtime_r(&seconds, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return strdup("");
	return strdup(stamp);
}

/* Allocates the rows array of an answer for n rows. */
static bool
alloc_rows(void ***rows, size_t n)
{
	*rows = calloc(n > 0 ? n : 1, sizeof(void *));
	return *rows != NULL;
}

int
store_sqlite_pool_stats(struct store *base, const Pgfleet__V1__PoolStatsRequest *request,
    Pgfleet__V1__PoolStats *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	struct pool_set set;
	size_t limit = request->limit > 0 ? request->limit : POOLS_DEFAULT_LIMIT;
	size_t n;
	int rc;

	memset(&set, 0, sizeof(set));
	if ((rc = load_pools(store, request->scope, false, &set)) != SQLITE_OK) {
		int rv = pools_error(store, rc, "read pool samples", errbuf, errlen);
		pool_set_free(&set);
		return rv;
	}
	n = set.n_pools < limit ? set.n_pools : limit;
	if (!alloc_rows((void ***) &answer->rows, n))
		goto fail_memory;
	for (size_t i = 0; i < n; i++) {
		const struct pool_rows *p = &set.pools[i];
		Pgfleet__V1__PoolStatsRow *row = malloc(sizeof(*row));
		if (row == NULL)
			goto fail_memory;
		pgfleet__v1__pool_stats_row__init(row);
		answer->rows[answer->n_rows++] = row;
		row->pool_size = p->input.current_pool_size;
		row->checked_out = p->latest_busy;
		row->checked_in = p->latest_free;
		row->total_connections = p->latest_total;
		row->overflow = p->latest_total > p->input.current_pool_size
		    ? p->latest_total - p->input.current_pool_size
		    : 0;
		row->waiting = p->latest_waiting;
		row->max_connections_held = p->max_held;
		row->samples = (int64_t) p->input.n_samples;
		row->instance = strdup(p->instance);
		row->cluster = strdup(p->cluster);
		row->source = strdup(p->input.source);
		row->application = strdup(p->application);
		row->collected_at = time_text(p->latest_ts_us);
		if (row->instance == NULL || row->cluster == NULL || row->source == NULL ||
		    row->application == NULL || row->collected_at == NULL)
			goto fail_memory;
	}
	pool_set_free(&set);
	return PGF_OK;
fail_memory:
	pool_set_free(&set);
	snprintf(errbuf, errlen, "out of memory");
	return PGF_ENOMEM;
}

/* The shares of the pools of one source, so that pgbouncer's pools and
 * the server's application rows (the same connections seen twice) each
 * take the whole load. */
static size_t
shares_of(const struct pool_set *set, const char *source, struct pools_share *out)
{
	size_t n = 0;
	for (size_t i = 0; i < set->n_shares; i++) {
		if (strcmp(set->pools[set->shares[i].pool].input.source, source) == 0)
			out[n++] = set->shares[i];
	}
	return n;
}

int
store_sqlite_pool_recommendation(struct store *base,
    const Pgfleet__V1__PoolRecommendationRequest *request,
    Pgfleet__V1__PoolRecommendation *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	struct pool_set set;
	struct pools_input *inputs = NULL;
	struct pools_share *shares = NULL;
	struct pools_recommendation *out = NULL;
	size_t limit = request->limit > 0 ? request->limit : POOLS_DEFAULT_LIMIT;
	size_t n;
	int rc;

	memset(&set, 0, sizeof(set));
	if ((rc = load_pools(store, request->scope, true, &set)) != SQLITE_OK) {
		int rv = pools_error(store, rc, "read pool samples", errbuf, errlen);
		pool_set_free(&set);
		return rv;
	}
	inputs = calloc(set.n_pools + 1, sizeof(inputs[0]));
	shares = calloc(set.n_shares + 1, sizeof(shares[0]));
	out = calloc(set.n_pools + 1, sizeof(out[0]));
	if (inputs == NULL || shares == NULL || out == NULL)
		goto fail_memory;
	for (size_t i = 0; i < set.n_pools; i++)
		inputs[i] = set.pools[i].input;
	pools_attribute(inputs, set.n_pools, set.loads, set.n_loads, shares,
	    shares_of(&set, "server", shares));
	pools_attribute(inputs, set.n_pools, set.loads, set.n_loads, shares,
	    shares_of(&set, "pgbouncer", shares));
	pools_recommend(inputs, set.n_pools, set.budgets, set.n_budgets, request->buffer, out);

	n = set.n_pools < limit ? set.n_pools : limit;
	if (!alloc_rows((void ***) &answer->rows, n))
		goto fail_memory;
	for (size_t i = 0; i < n; i++) {
		const struct pools_recommendation *r = &out[i];
		Pgfleet__V1__PoolRecommendationRow *row = malloc(sizeof(*row));
		if (row == NULL)
			goto fail_memory;
		pgfleet__v1__pool_recommendation_row__init(row);
		answer->rows[answer->n_rows++] = row;
		row->current_pool_size = r->current_pool_size;
		row->recommended_pool_size = r->recommended_pool_size;
		row->utilization_percentage = r->utilization_percentage;
		row->overflow_used = r->overflow_used;
		row->avg_busy_connections = r->avg_busy_connections;
		row->p95_busy_connections = r->p95_busy_connections;
		row->max_busy_connections = r->max_busy_connections;
		row->formula_pool_size = r->formula_pool_size;
		row->requests_per_second = r->requests_per_second;
		row->avg_query_seconds = r->avg_query_seconds;
		row->buffer = r->buffer;
		row->connection_budget = r->connection_budget;
		row->max_connections = r->max_connections;
		row->reserved_connections = r->reserved_connections;
		row->samples = (int64_t) inputs[i].n_samples;
		row->window_seconds = inputs[i].wall_seconds;
		row->recommendation = strdup(r->recommendation);
		row->reason = strdup(r->reason);
		row->driven_by = strdup(r->driven_by);
		row->instance = strdup(set.pools[i].instance);
		row->cluster = strdup(set.pools[i].cluster);
		row->source = strdup(set.pools[i].input.source);
		row->application = strdup(set.pools[i].application);
		if (row->recommendation == NULL || row->reason == NULL || row->driven_by == NULL ||
		    row->instance == NULL || row->cluster == NULL || row->source == NULL ||
		    row->application == NULL)
			goto fail_memory;
	}
	free(inputs);
	free(shares);
	free(out);
	pool_set_free(&set);
	return PGF_OK;
fail_memory:
	free(inputs);
	free(shares);
	free(out);
	pool_set_free(&set);
	snprintf(errbuf, errlen, "out of memory");
	return PGF_ENOMEM;
}

/* ---- regressions ------------------------------------------------------- */

/* One statement's sums as read, with what its answer row needs. */
struct regression_row {
	char *instance;
	char *database;
	char *query;
	char *cluster;
	int64_t queryid;
	int instances;
	bool truncated;
};

int
store_sqlite_query_regressions(struct store *base,
    const Pgfleet__V1__QueryRegressionsRequest *request,
    Pgfleet__V1__QueryRegressions *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	const Pgfleet__V1__Scope *scope = request->scope;
	struct regression_params params;
	struct regression_input *inputs = NULL;
	struct regression_row *rows = NULL;
	struct regression_result *results = NULL;
	size_t n_rows = 0, capacity = 0, found, limit;
	int64_t since_us, until_us, baseline_since_us, baseline_until_us;
	sqlite3_stmt *stmt = NULL;
	char sql[4096];
	int rv = PGF_ENOMEM;
	int rc;

	until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : pgf_time_now_us();
	since_us = scope != NULL && scope->since_us != 0 ? scope->since_us : until_us - DAY_US;
	baseline_until_us = request->baseline_until_us != 0 ? request->baseline_until_us
							    : since_us;
	baseline_since_us = request->baseline_since_us != 0 ? request->baseline_since_us
							    : baseline_until_us - 7 * DAY_US;
	if (baseline_until_us <= baseline_since_us) {
		snprintf(errbuf, errlen, "the baseline ends before it starts");
		return PGF_EINVAL;
	}
	params.min_factor = request->min_factor > 0.0 ? request->min_factor
						      : REGRESSIONS_DEFAULT_FACTOR;
	params.min_calls = request->min_calls > 0 ? request->min_calls
						  : REGRESSIONS_DEFAULT_MIN_CALLS;
	params.min_extra_ms = request->min_extra_seconds > 0.0
	    ? request->min_extra_seconds * 1000.0
	    : REGRESSIONS_DEFAULT_MIN_EXTRA_MS;
	limit = request->limit > 0 ? request->limit : REGRESSIONS_DEFAULT_LIMIT;
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
	    request->group == PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_CLUSTER
		? "i.system_identifier, s.dbid, s.queryid"
		: "s.instance_id, s.dbid, s.queryid");
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "prepare the regressions query", errbuf,
		    errlen);
	sqlite3_bind_int64(stmt, 1, since_us);
	sqlite3_bind_int64(stmt, 2, until_us);
	sqlite3_bind_int64(stmt, 3, baseline_since_us);
	sqlite3_bind_int64(stmt, 4, baseline_until_us);
	sqlite3_bind_text(stmt, 5, scope != NULL ? scope->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, scope != NULL ? scope->cluster : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, scope != NULL ? scope->database : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 8, params.min_calls);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct regression_row *row;
		if (n_rows == capacity) {
			size_t bigger = capacity == 0 ? 16 : capacity * 2;
			void *grown_rows = realloc(rows, bigger * sizeof(rows[0]));
			if (grown_rows == NULL)
				goto done;
			rows = grown_rows;
			void *grown_inputs = realloc(inputs, bigger * sizeof(inputs[0]));
			if (grown_inputs == NULL)
				goto done;
			inputs = grown_inputs;
			capacity = bigger;
		}
		row = &rows[n_rows];
		memset(row, 0, sizeof(*row));
		n_rows++;
		row->instance = sqlite_column_text(stmt, 0);
		row->database = sqlite_column_text(stmt, 1);
		row->query = sqlite_column_text(stmt, 7);
		row->cluster = sqlite_column_text(stmt, 9);
		if (row->instance == NULL || row->database == NULL || row->query == NULL ||
		    row->cluster == NULL)
			goto done;
		row->queryid = sqlite3_column_int64(stmt, 2);
		row->truncated = sqlite3_column_int(stmt, 8) != 0;
		row->instances = sqlite3_column_int(stmt, 10);
		inputs[n_rows - 1].calls = sqlite3_column_int64(stmt, 3);
		inputs[n_rows - 1].total_ms = sqlite3_column_double(stmt, 4);
		inputs[n_rows - 1].baseline_calls = sqlite3_column_int64(stmt, 5);
		inputs[n_rows - 1].baseline_total_ms = sqlite3_column_double(stmt, 6);
		inputs[n_rows - 1].sum_sq_ms2 = sqlite3_column_double(stmt, 11);
		inputs[n_rows - 1].baseline_sum_sq_ms2 = sqlite3_column_double(stmt, 12);
	}
	if (rc != SQLITE_DONE) {
		rv = sqlite_store_error(store->db, rc, "read regressions", errbuf, errlen);
		goto done;
	}
	results = calloc(n_rows + 1, sizeof(results[0]));
	if (results == NULL)
		goto done;
	found = regressions_find(inputs, n_rows, &params, results);
	if (found > limit)
		found = limit;
	if (!alloc_rows((void ***) &answer->rows, found))
		goto done;
	for (size_t i = 0; i < found; i++) {
		const struct regression_result *r = &results[i];
		const struct regression_row *source = &rows[r->row];
		Pgfleet__V1__QueryRegression *row = malloc(sizeof(*row));
		if (row == NULL)
			goto done;
		pgfleet__v1__query_regression__init(row);
		answer->rows[answer->n_rows++] = row;
		row->factor = r->factor;
		row->mean_seconds = r->mean_ms / 1000.0;
		row->baseline_mean_seconds = r->baseline_mean_ms / 1000.0;
		row->calls = inputs[r->row].calls;
		row->baseline_calls = inputs[r->row].baseline_calls;
		row->total_seconds = inputs[r->row].total_ms / 1000.0;
		row->extra_seconds = r->extra_ms / 1000.0;
		row->t_statistic = r->t_statistic;
		row->queryid = source->queryid;
		row->instances = source->instances;
		row->query_truncated = source->truncated;
		row->query = strdup(source->query);
		row->instance = strdup(source->instance);
		row->database = strdup(source->database);
		row->cluster = strdup(source->cluster);
		row->window_start = time_text(since_us);
		row->window_end = time_text(until_us);
		row->baseline_start = time_text(baseline_since_us);
		row->baseline_end = time_text(baseline_until_us);
		if (row->query == NULL || row->instance == NULL || row->database == NULL ||
		    row->cluster == NULL || row->window_start == NULL || row->window_end == NULL ||
		    row->baseline_start == NULL || row->baseline_end == NULL)
			goto done;
	}
	rv = PGF_OK;
done:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	sqlite3_finalize(stmt);
	for (size_t i = 0; i < n_rows; i++) {
		free(rows[i].instance);
		free(rows[i].database);
		free(rows[i].query);
		free(rows[i].cluster);
	}
	free(rows);
	free(inputs);
	free(results);
	return rv;
}
