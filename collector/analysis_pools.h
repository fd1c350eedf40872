/*
 * analysis_pools.h - connection pool sizing from measured load.
 *
 * Pure: rows in (a pool's activity samples, the statement time of the
 * databases it uses, each instance's connection budget), rows out (the
 * size each pool needs and why); no I/O, so it is tested with plain data.
 *
 * The size of a pool is the largest of two measured figures: the p95 of
 * its busy connections over the activity samples (bursts), and the
 * guide's formula requests_per_second x avg_query_seconds + buffer, whose
 * first term is Little's law (average busy connections = arrival rate x
 * time in the system) with both factors measured from pg_stat_statements
 * deltas. Clients a pgbouncer kept waiting raise it further (the busy
 * figures are capped by the pool it had). Every pool on one instance
 * draws on the same max_connections minus the reserved connections: when
 * their sizes add up to more, each gets its share of that budget.
 */
#ifndef PGFLEET_COLLECTOR_ANALYSIS_POOLS_H
#define PGFLEET_COLLECTOR_ANALYSIS_POOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest figure pools_size_check accepts for any input of the formula. */
#define POOLS_FORMULA_MAX 1e9

/*
 * pools_formula is the guide's formula:
 * (avg_concurrent_requests * avg_query_time_seconds) + buffer.
 */
double pools_formula(double requests_per_second, double avg_query_seconds, double buffer);

/* pools_round_up rounds a pool size up to whole connections, ignoring
 * floating-point noise below 1e-9 (100 * 0.05 + 10 is 15, not 16). */
int64_t pools_round_up(double exact);

/*
 * pools_size_check checks the formula's inputs: finite, zero or more,
 * at most POOLS_FORMULA_MAX. true, or false with a one-line reason that
 * names the input in errbuf.
 */
bool pools_size_check(double requests_per_second, double avg_query_ms, double buffer,
    char *errbuf, size_t errlen);

/*
 * pools_percentile is the p-th percentile (0 < p <= 100, nearest rank) of
 * values[0..n); it sorts values in place. 0 when n is 0.
 */
double pools_percentile(double *values, size_t n, double p);

/* One pool on one instance, as measured over the window. */
struct pools_input {
	const char *instance;
	const char *cluster;
	/* "server" (an application's connections) or "pgbouncer" */
	const char *source;
	const char *application;
	/* server: median connections held; pgbouncer: default_pool_size */
	int64_t current_pool_size;
	/* busy connections at each activity sample; sorted in place */
	double *busy;
	size_t n_samples;
	/* most clients a pgbouncer kept waiting in one sample; 0 for server */
	int64_t max_waiting;
	/* most clients served plus waiting in one sample (pgbouncer): the
	 * demand the queue shows; the pool size plus the longest queue
	 * overstates it while pgbouncer is still opening server connections */
	int64_t max_demand;
	bool overflow_used;
	/* statement execution time and calls attributed to this pool over
	 * wall_seconds (pools_attribute fills the first two) */
	double exec_ms;
	double calls;
	double wall_seconds;
};

/* The statement load of one database on one instance over the window. */
struct pools_load {
	const char *instance;
	const char *database;
	double exec_ms;
	double calls;
};

/* How busy one pool was in one database (mean busy connections over the
 * samples): its share of that database's statement load. */
struct pools_share {
	size_t pool; /* index into the pools array */
	const char *database;
	double mean_busy;
};

/*
 * pools_attribute adds each load to the pools that use its database on
 * its instance, in proportion to their mean busy connections there (evenly
 * when none was seen busy). A load no pool uses is not attributed.
 */
void pools_attribute(struct pools_input *pools, size_t n_pools, const struct pools_load *loads,
    size_t n_loads, const struct pools_share *shares, size_t n_shares);

/* One instance's connections for clients. */
struct pools_budget {
	const char *instance;
	int64_t max_connections; /* 0 when unknown: no bound */
	/* superuser_reserved_connections (+ reserved_connections on 16+) */
	int64_t reserved_connections;
};

struct pools_recommendation {
	int64_t current_pool_size;
	int64_t recommended_pool_size;
	/* what the pool's load asks for before the budget */
	int64_t needed_pool_size;
	double utilization_percentage;
	/* "increase", "decrease" or "keep" (static strings) */
	const char *recommendation;
	/* "p95", "formula", "waiting", "budget" or "minimum" (static) */
	const char *driven_by;
	bool overflow_used;
	double avg_busy_connections;
	double p95_busy_connections;
	double max_busy_connections;
	double formula_pool_size;
	double requests_per_second;
	double avg_query_seconds;
	double buffer;
	int64_t connection_budget; /* 0 when unknown */
	int64_t max_connections;
	int64_t reserved_connections;
	char reason[640];
};

/*
 * pools_recommend sizes every pool: out[i] is pools[i]'s recommendation.
 * buffer is the formula's (zero or more). Pools of source "server" on one
 * instance share its budget (budgets[] by instance name; an instance
 * without one is not bounded); a pgbouncer pool is bounded by the budget
 * alone (its server connections are among the instance's "server" rows).
 * Sorts each pool's busy samples.
 */
void pools_recommend(struct pools_input *pools, size_t n_pools,
    const struct pools_budget *budgets, size_t n_budgets, double buffer,
    struct pools_recommendation *out);

#endif
