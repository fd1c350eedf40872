/*
 * analysis_pools.c - connection pool sizing from measured load (see
 * analysis_pools.h for the model). No I/O.
 */
#include "collector/analysis_pools.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double
pools_formula(double requests_per_second, double avg_query_seconds, double buffer)
{
	return requests_per_second * avg_query_seconds + buffer;
}

int64_t
pools_round_up(double exact)
{
	if (!(exact > 0.0))
		return 0;
	if (exact >= (double) INT64_MAX / 2)
		return INT64_MAX / 2;
	return (int64_t) ceil(exact - 1e-9);
}

/* Checks one input of the formula. */
static bool
check_input(const char *name, double value, char *errbuf, size_t errlen)
{
	if (!isfinite(value) || value < 0.0) {
		snprintf(errbuf, errlen, "%s must be a number, zero or more", name);
		return false;
	}
	if (value > POOLS_FORMULA_MAX) {
		snprintf(errbuf, errlen, "%s %g is larger than %g", name, value, POOLS_FORMULA_MAX);
		return false;
	}
	return true;
}

bool
pools_size_check(double requests_per_second, double avg_query_ms, double buffer,
    char *errbuf, size_t errlen)
{
	return check_input("concurrent_requests", requests_per_second, errbuf, errlen) &&
	    check_input("avg_query_ms", avg_query_ms, errbuf, errlen) &&
	    check_input("buffer", buffer, errbuf, errlen);
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;
	return (x > y) - (x < y);
}

double
pools_percentile(double *values, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0.0;
	qsort(values, n, sizeof(values[0]), compare_doubles);
	/* nearest rank: the smallest value with at least p% at or below it */
	rank = (size_t) ceil(p / 100.0 * (double) n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return values[rank - 1];
}

void
pools_attribute(struct pools_input *pools, size_t n_pools, const struct pools_load *loads,
    size_t n_loads, const struct pools_share *shares, size_t n_shares)
{
	for (size_t l = 0; l < n_loads; l++) {
		const struct pools_load *load = &loads[l];
		double total_busy = 0.0;
		size_t users = 0;

		for (size_t s = 0; s < n_shares; s++) {
			const struct pools_share *share = &shares[s];
			if (share->pool >= n_pools ||
			    strcmp(pools[share->pool].instance, load->instance) != 0 ||
			    strcmp(share->database, load->database) != 0)
				continue;
			total_busy += share->mean_busy > 0.0 ? share->mean_busy : 0.0;
			users++;
		}
		if (users == 0)
			continue;
		for (size_t s = 0; s < n_shares; s++) {
			const struct pools_share *share = &shares[s];
			double part;
			if (share->pool >= n_pools ||
			    strcmp(pools[share->pool].instance, load->instance) != 0 ||
			    strcmp(share->database, load->database) != 0)
				continue;
			part = total_busy > 0.0
			    ? (share->mean_busy > 0.0 ? share->mean_busy : 0.0) / total_busy
			    : 1.0 / (double) users;
			pools[share->pool].exec_ms += load->exec_ms * part;
			pools[share->pool].calls += load->calls * part;
		}
	}
}

static const struct pools_budget *
find_budget(const struct pools_budget *budgets, size_t n_budgets, const char *instance)
{
	for (size_t i = 0; i < n_budgets; i++) {
		if (strcmp(budgets[i].instance, instance) == 0)
			return &budgets[i];
	}
	return NULL;
}

static bool
is_server(const struct pools_input *pool)
{
	return strcmp(pool->source, "server") == 0;
}

/* The size one pool needs on its own, before budgets. */
static void
size_pool(struct pools_input *pool, double buffer, struct pools_recommendation *r)
{
	int64_t need_p95, need_formula, need;

	memset(r, 0, sizeof(*r));
	r->current_pool_size = pool->current_pool_size;
	r->overflow_used = pool->overflow_used;
	r->buffer = buffer;
	if (pool->wall_seconds > 0.0) {
		r->avg_busy_connections = pool->exec_ms / 1000.0 / pool->wall_seconds;
		r->requests_per_second = pool->calls / pool->wall_seconds;
	}
	if (pool->calls > 0.0)
		r->avg_query_seconds = pool->exec_ms / 1000.0 / pool->calls;
	r->formula_pool_size = pools_formula(r->requests_per_second, r->avg_query_seconds, buffer);
	r->p95_busy_connections = pools_percentile(pool->busy, pool->n_samples, 95.0);
	r->max_busy_connections = pool->n_samples > 0 ? pool->busy[pool->n_samples - 1] : 0.0;

	need_p95 = pools_round_up(r->p95_busy_connections);
	need_formula = pools_round_up(r->formula_pool_size);
	if (need_p95 >= need_formula) {
		need = need_p95;
		r->driven_by = "p95";
	} else {
		need = need_formula;
		r->driven_by = "formula";
	}
	/* clients waited: the busy figures are capped by the pool there was,
	 * so the demand is the clients served plus those queued at the same
	 * moment (without that figure, the pool plus the longest queue) */
	if (pool->max_waiting > 0) {
		int64_t demand = pool->max_demand > 0
		    ? pool->max_demand : pool->current_pool_size + pool->max_waiting;
		if (demand > need) {
			need = demand;
			r->driven_by = "waiting";
		}
	}
	if (need < 1) {
		need = 1;
		r->driven_by = "minimum";
	}
	r->recommended_pool_size = need;
	r->needed_pool_size = need;
	if (pool->current_pool_size > 0)
		r->utilization_percentage =
		    round(r->avg_busy_connections / (double) pool->current_pool_size * 1000.0) / 10.0;
}

/* Writes the reason: the driving figure first, then the others. */
static void
explain(const struct pools_input *pool, struct pools_recommendation *r, size_t sharing,
    int64_t demand)
{
	char budget[256] = "";
	char head[256];
	int n;

	if (r->connection_budget > 0)
		snprintf(budget, sizeof(budget),
		    "; budget %lld connections on %s (max_connections %lld - %lld reserved) shared by %zu pool%s",
		    (long long) r->connection_budget, pool->instance,
		    (long long) r->max_connections, (long long) r->reserved_connections, sharing,
		    sharing == 1 ? "" : "s");
	if (strcmp(r->driven_by, "p95") == 0)
		snprintf(head, sizeof(head), "p95 of busy connections (%.1f over %zu samples) drove it",
		    r->p95_busy_connections, pool->n_samples);
	else if (strcmp(r->driven_by, "formula") == 0)
		snprintf(head, sizeof(head),
		    "the guide's formula drove it: %.1f requests/s x %.4f s + buffer %.1f = %.1f",
		    r->requests_per_second, r->avg_query_seconds, r->buffer, r->formula_pool_size);
	else if (strcmp(r->driven_by, "waiting") == 0)
		snprintf(head, sizeof(head),
		    "clients waited (up to %lld at once, with the pool of %lld) drove it",
		    (long long) pool->max_waiting, (long long) pool->current_pool_size);
	else if (strcmp(r->driven_by, "budget") == 0)
		snprintf(head, sizeof(head),
		    "the connection budget drove it: the pools of %s need %lld, more than its %lld",
		    pool->instance, (long long) demand, (long long) r->connection_budget);
	else
		snprintf(head, sizeof(head), "no measured load: one connection");
	n = snprintf(r->reason, sizeof(r->reason),
	    "%s; average busy %.2f by Little's law (%.1f calls/s x %.2f ms), p95 busy %.1f, max %.1f,"
	    " formula %.2f (buffer %.1f)%s",
	    head, r->avg_busy_connections, r->requests_per_second, r->avg_query_seconds * 1000.0,
	    r->p95_busy_connections, r->max_busy_connections, r->formula_pool_size, r->buffer,
	    budget);
	if (n >= (int) sizeof(r->reason))
		r->reason[sizeof(r->reason) - 1] = '\0';
}

void
pools_recommend(struct pools_input *pools, size_t n_pools,
    const struct pools_budget *budgets, size_t n_budgets, double buffer,
    struct pools_recommendation *out)
{
	for (size_t i = 0; i < n_pools; i++)
		size_pool(&pools[i], buffer, &out[i]);

	for (size_t i = 0; i < n_pools; i++) {
		struct pools_recommendation *r = &out[i];
		const struct pools_budget *b = find_budget(budgets, n_budgets, pools[i].instance);
		int64_t usable = 0, demand = 0;
		size_t sharing = 0;

		if (b != NULL && b->max_connections > 0) {
			usable = b->max_connections - b->reserved_connections;
			if (usable < 1)
				usable = 1;
			r->connection_budget = usable;
			r->max_connections = b->max_connections;
			r->reserved_connections = b->reserved_connections;
			/* the instance's server pools share it */
			for (size_t j = 0; j < n_pools; j++) {
				if (is_server(&pools[j]) &&
				    strcmp(pools[j].instance, pools[i].instance) == 0) {
					demand += out[j].needed_pool_size;
					sharing++;
				}
			}
			if (!is_server(&pools[i])) {
				if (r->needed_pool_size > usable) {
					demand = r->needed_pool_size;
					r->recommended_pool_size = usable;
					r->driven_by = "budget";
				}
			} else if (demand > usable) {
				/* a share in proportion to need; at least one */
				int64_t share = (int64_t) floor((double) usable *
				    (double) r->needed_pool_size / (double) demand);
				r->recommended_pool_size = share > 0 ? share : 1;
				r->driven_by = "budget";
			}
		}
		explain(&pools[i], r, sharing, demand);
	}
	for (size_t i = 0; i < n_pools; i++) {
		struct pools_recommendation *r = &out[i];
		if (r->recommended_pool_size > r->current_pool_size)
			r->recommendation = "increase";
		else if (r->recommended_pool_size < r->current_pool_size)
			r->recommendation = "decrease";
		else
			r->recommendation = "keep";
	}
}
