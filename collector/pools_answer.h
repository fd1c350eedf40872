/*
 * pools_answer.h - the pool-stats, pool-recommendation and
 * query-regressions answers, made from the rows a store reads.
 *
 * Backend-neutral: each store (store_sqlite_pools.c, store_pg_pools.c)
 * keeps only its SQL and feeds the rows it reads, in the order each
 * function below names, into these builders; the pools, the figures,
 * the judging (analysis_pools.c, analysis_regressions.c) and the answer
 * rows are made here once, so both stores answer alike. No I/O.
 *
 * Memory: a struct pools_answer owns every pool, share, load and budget
 * (pools_answer_fini frees them); the answers' rows are malloc'd as the
 * listing ops' (store_answer_free). Builders return false when out of
 * memory, or when a question would read more than POOLS_ANSWER_MAX_CELLS
 * samples (pools_answer_read_error says so).
 */
#ifndef PGFLEET_COLLECTOR_POOLS_ANSWER_H
#define PGFLEET_COLLECTOR_POOLS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis_pools.h"
#include "collector/analysis_regressions.h"
#include "pgfleet/v1/api.pb-c.h"

/* Most samples x pools one answer reads into memory. */
#define POOLS_ANSWER_MAX_CELLS (8 * 1024 * 1024)

/* pgbouncer's admin console is a pool of its own (database "pgbouncer"),
 * with no server connections: not a pool to size. A condition on the
 * pool samples' database column, for the stores' SQL. */
#define POOLS_ANSWER_POOLER_NOT_ADMIN "database <> 'pgbouncer'"

/* Is a backend in state (pg_stat_activity.state) holding its connection
 * for a request (busy), for the pool samples the stores write? */
bool pools_answer_state_is_busy(const char *state);

/* One pool as read from the samples of the window. */
struct pools_answer_pool {
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
struct pools_answer {
	struct pools_answer_pool *pools;
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

void pools_answer_init(struct pools_answer *set);
/* Frees everything the set holds (and zeroes it); the struct is the
 * caller's. */
void pools_answer_fini(struct pools_answer *set);

/* The window of a pools question: the scope's, the last 24 hours when it
 * has no start, up to INT64_MAX (no end) when it has no end. */
void pools_answer_window(const Pgfleet__V1__Scope *scope, int64_t *since_us,
    int64_t *until_us);

/* Writes what a failed builder means into errbuf; returns PGF_ENOMEM. */
int pools_answer_read_error(char *errbuf, size_t errlen);

/*
 * Reading one instance's pools. The instances in scope come ordered by
 * cluster then name; for each, its server pools, then its pgbouncer
 * pools, then (a recommendation, when the instance has pools: n_pools
 * grew) its loads, its budget and pools_answer_wall.
 *
 * Server pools: pools_answer_server_begin with the times of the
 * instance's activity snapshots in the window (ascending, at least one;
 * borrowed until _end), then one pools_answer_server_row per
 * pool_app_samples row of the window ordered by application, database
 * and time, then pools_answer_server_end (always: it frees the reader).
 *
 * pgbouncer pools: the same with the distinct times of the instance's
 * pool samples (admin console left out) and one pools_answer_pooler_row
 * per sample ordered by pool name ("database/user") and time.
 *
 * A row whose time is not among the times is left out. After a false
 * from a row, the further rows are ignored and _end returns false.
 */
struct pools_answer_reader {
	struct pools_answer *set;
	const char *instance;
	const char *cluster;
	const int64_t *times;
	size_t n_times;
	/* the first pool of this instance and source, the current one
	 * (SIZE_MAX before the first row) */
	size_t first;
	size_t current;
	/* server: the database of the rows being read and its busy sum;
	 * pgbouncer: the current pool's database */
	char *database;
	double busy_sum;
	bool failed;
};

void pools_answer_server_begin(struct pools_answer_reader *reader, struct pools_answer *set,
    const char *instance, const char *cluster, const int64_t *times, size_t n_times);
bool pools_answer_server_row(struct pools_answer_reader *reader, const char *application,
    const char *database, int64_t ts_us, int64_t total, int64_t busy, int64_t idle,
    int64_t waiting);
bool pools_answer_server_end(struct pools_answer_reader *reader);

void pools_answer_pooler_begin(struct pools_answer_reader *reader, struct pools_answer *set,
    const char *instance, const char *cluster, const int64_t *times, size_t n_times);
/* free_connections: sv_idle + sv_used + sv_tested */
bool pools_answer_pooler_row(struct pools_answer_reader *reader, const char *name,
    const char *database, int64_t ts_us, int64_t waiting, int64_t active,
    int64_t free_connections, int64_t login, int64_t default_pool_size);
bool pools_answer_pooler_end(struct pools_answer_reader *reader);

/* The statement load of one database of instance over the window. */
bool pools_answer_load(struct pools_answer *set, const char *instance, const char *database,
    double exec_ms, double calls);
/* instance's connections for clients (from its latest activity). */
bool pools_answer_budget(struct pools_answer *set, const char *instance,
    int64_t max_connections, int64_t reserved_connections);
/* The wall time the statement intervals cover, for the pools from first
 * on (the instance's). */
void pools_answer_wall(struct pools_answer *set, size_t first, double wall_seconds);

/*
 * The answers, from everything read: the first limit pools (50 when 0),
 * as rows of answer (empty on entry). PGF_OK or PGF_ENOMEM (with a line
 * in errbuf); rows made before a failure stay in answer for the caller
 * to free. The recommendation sorts each pool's busy samples.
 */
int pools_answer_stats(const struct pools_answer *set, uint32_t limit,
    Pgfleet__V1__PoolStats *answer, char *errbuf, size_t errlen);
int pools_answer_recommendation(struct pools_answer *set, uint32_t limit, double buffer,
    Pgfleet__V1__PoolRecommendation *answer, char *errbuf, size_t errlen);

/* ---- regressions ------------------------------------------------------- */

/* One statement's sums as read, with what its answer row needs. */
struct pools_answer_regression {
	char *instance;
	char *database;
	char *query;
	char *cluster;
	int64_t queryid;
	int64_t instances;
	bool truncated;
};

/* A regressions question and the rows read for it. */
struct pools_answer_regressions {
	/* the window and the baseline, µs, end exclusive */
	int64_t since_us;
	int64_t until_us;
	int64_t baseline_since_us;
	int64_t baseline_until_us;
	struct regression_params params;
	size_t limit;
	/* --group cluster: one row per cluster, database and queryid */
	bool by_cluster;
	struct pools_answer_regression *rows;
	struct regression_input *inputs;
	size_t n_rows;
	size_t capacity;
};

/*
 * pools_answer_regressions_init reads the request (the window: the
 * scope's, the last 24 hours by default; the baseline: the request's,
 * the 7 days before the window by default; the defaults of
 * analysis_regressions.h). PGF_OK, or PGF_EINVAL with a line for a
 * baseline that ends before it starts. Fini it either way.
 *
 * The store then sums each statement (per instance, or per cluster;
 * database; queryid) over the window and the baseline, keeps those with
 * params.min_calls calls in both, and adds them in the order of their
 * grouping key with pools_answer_regressions_add (strings copied, the
 * comma-separated instance and cluster names put in byte order, so both
 * stores list them alike; false when out of memory);
 * pools_answer_regressions_fill judges them and
 * fills answer (as the pools answers).
 */
int pools_answer_regressions_init(struct pools_answer_regressions *q,
    const Pgfleet__V1__QueryRegressionsRequest *request, char *errbuf, size_t errlen);
bool pools_answer_regressions_add(struct pools_answer_regressions *q,
    const struct pools_answer_regression *row, const struct regression_input *input);
int pools_answer_regressions_fill(const struct pools_answer_regressions *q,
    Pgfleet__V1__QueryRegressions *answer, char *errbuf, size_t errlen);
void pools_answer_regressions_fini(struct pools_answer_regressions *q);

#endif
