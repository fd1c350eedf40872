/*
 * pools_answer.c - pools and regressions answers from the rows a store
 * reads (pools_answer.h): what turns samples into pools (a server pool's
 * size is the median of the connections its application held while it
 * was connected; a pgbouncer pool's is its default_pool_size), their
 * figures into analysis_pools.c's inputs, statement sums into
 * analysis_regressions.c's, and the results into answer rows. Shared by
 * the SQLite and PostgreSQL stores so they cannot drift apart.
 */
#include "collector/pools_answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/name_list.h"
#include "common/error.h"
#include "common/timeutil.h"

#define POOLS_DEFAULT_LIMIT 50
#define REGRESSIONS_DEFAULT_LIMIT 20
#define DAY_US (86400LL * 1000000)

bool
pools_answer_state_is_busy(const char *state)
{
	return strcmp(state, "active") == 0 || strcmp(state, "idle in transaction") == 0 ||
	    strcmp(state, "idle in transaction (aborted)") == 0 ||
	    strcmp(state, "fastpath function call") == 0;
}

/* ---- the set ----------------------------------------------------------- */

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

void
pools_answer_init(struct pools_answer *set)
{
	memset(set, 0, sizeof(*set));
}

void
pools_answer_fini(struct pools_answer *set)
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

void
pools_answer_window(const Pgfleet__V1__Scope *scope, int64_t *since_us, int64_t *until_us)
{
	*until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : INT64_MAX;
	*since_us = scope != NULL && scope->since_us != 0
	    ? scope->since_us
	    : (scope != NULL && scope->until_us != 0 ? scope->until_us : pgf_time_now_us()) - DAY_US;
}

int
pools_answer_read_error(char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "out of memory (or a window with more than %d samples)",
	    POOLS_ANSWER_MAX_CELLS);
	return PGF_ENOMEM;
}

/* A new pool of n_samples zeroed samples; NULL when out of memory or the
 * answer would read too much. */
static struct pools_answer_pool *
add_pool(struct pools_answer *set, const char *instance, const char *cluster,
    const char *source, const char *application, size_t n_samples)
{
	struct pools_answer_pool *pool;
	size_t n = n_samples > 0 ? n_samples : 1;

	if (set->cells + n > POOLS_ANSWER_MAX_CELLS)
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
add_share(struct pools_answer *set, size_t pool, const char *database, double mean_busy)
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

static void
reader_begin(struct pools_answer_reader *reader, struct pools_answer *set, const char *instance,
    const char *cluster, const int64_t *times, size_t n_times)
{
	memset(reader, 0, sizeof(*reader));
	reader->set = set;
	reader->instance = instance;
	reader->cluster = cluster;
	reader->times = times;
	reader->n_times = n_times;
	reader->first = set->n_pools;
	reader->current = SIZE_MAX;
}

/* Where a row of pool name goes: 1 when it starts a pool (the first row,
 * or another name), 0 when it adds to the current one, -1 when it is
 * ignored (the reader failed, or has no sample times). */
static int
row_pool(const struct pools_answer_reader *reader, const char *name)
{
	if (reader->failed || reader->n_times == 0)
		return -1;
	return reader->current == SIZE_MAX ||
	    strcmp(reader->set->pools[reader->current].application, name) != 0;
}

/* ---- server pools: an application's connections ------------------------ */

void
pools_answer_server_begin(struct pools_answer_reader *reader, struct pools_answer *set,
    const char *instance, const char *cluster, const int64_t *times, size_t n_times)
{
	reader_begin(reader, set, instance, cluster, times, n_times);
}

/* The current pool's share of the database read so far. */
static bool
server_share(struct pools_answer_reader *reader)
{
	return reader->database == NULL ||
	    add_share(reader->set, reader->current, reader->database,
		reader->busy_sum / (double) reader->n_times);
}

bool
pools_answer_server_row(struct pools_answer_reader *reader, const char *application,
    const char *database, int64_t ts_us, int64_t total, int64_t busy, int64_t idle,
    int64_t waiting)
{
	struct pools_answer *set = reader->set;
	struct pools_answer_pool *pool;
	int starts = row_pool(reader, application);
	size_t k;

	if (starts < 0)
		return !reader->failed;
	if (starts) {
		if (!server_share(reader))
			goto fail;
		free(reader->database);
		reader->database = NULL;
		if (add_pool(set, reader->instance, reader->cluster, "server", application,
			reader->n_times) == NULL)
			goto fail;
		reader->current = set->n_pools - 1;
	}
	if (reader->database == NULL || strcmp(reader->database, database) != 0) {
		if (!server_share(reader))
			goto fail;
		free(reader->database);
		if ((reader->database = strdup(database)) == NULL)
			goto fail;
		reader->busy_sum = 0.0;
	}
	k = sample_index(reader->times, reader->n_times, ts_us);
	if (k == reader->n_times)
		return true; /* a snapshot without totals: cannot happen, skip */
	pool = &set->pools[reader->current];
	pool->held[k] += (double) total;
	pool->input.busy[k] += (double) busy;
	reader->busy_sum += (double) busy;
	if (k == reader->n_times - 1) {
		pool->latest_total += total;
		pool->latest_busy += busy;
		pool->latest_free += idle;
		pool->latest_waiting += waiting;
	}
	return true;
fail:
	reader->failed = true;
	return false;
}

bool
pools_answer_server_end(struct pools_answer_reader *reader)
{
	struct pools_answer *set = reader->set;
	bool ok = !reader->failed && server_share(reader);

	free(reader->database);
	reader->database = NULL;
	/* sizes from the samples in which the application was connected:
	 * an application that comes and goes has its pool while it is there */
	for (size_t i = reader->first; i < set->n_pools && ok; i++) {
		struct pools_answer_pool *p = &set->pools[i];
		double *sorted;
		size_t present = 0;
		p->latest_ts_us = reader->times[reader->n_times - 1];
		for (size_t k = 0; k < reader->n_times; k++) {
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
			ok = false;
			break;
		}
		memcpy(sorted, p->held, present * sizeof(double));
		p->input.current_pool_size = pools_round_up(pools_percentile(sorted, present, 50.0));
		p->max_held = (int64_t) sorted[present - 1];
		free(sorted);
		p->input.overflow_used = p->max_held > p->input.current_pool_size;
	}
	return ok;
}

/* ---- pgbouncer pools ---------------------------------------------------- */

void
pools_answer_pooler_begin(struct pools_answer_reader *reader, struct pools_answer *set,
    const char *instance, const char *cluster, const int64_t *times, size_t n_times)
{
	reader_begin(reader, set, instance, cluster, times, n_times);
}

/* The current pool's share of its database's load. */
static bool
pooler_share(struct pools_answer_reader *reader)
{
	return reader->current == SIZE_MAX ||
	    add_share(reader->set, reader->current, reader->database,
		reader->busy_sum / (double) reader->n_times);
}

bool
pools_answer_pooler_row(struct pools_answer_reader *reader, const char *name,
    const char *database, int64_t ts_us, int64_t waiting, int64_t active,
    int64_t free_connections, int64_t login, int64_t default_pool_size)
{
	struct pools_answer *set = reader->set;
	struct pools_answer_pool *pool;
	int starts = row_pool(reader, name);
	size_t k;

	if (starts < 0)
		return !reader->failed;
	if (starts) {
		if (!pooler_share(reader))
			goto fail;
		free(reader->database);
		reader->database = strdup(database);
		if (add_pool(set, reader->instance, reader->cluster, "pgbouncer", name,
			reader->n_times) == NULL ||
		    reader->database == NULL)
			goto fail;
		reader->current = set->n_pools - 1;
		reader->busy_sum = 0.0;
	}
	k = sample_index(reader->times, reader->n_times, ts_us);
	if (k == reader->n_times)
		return true;
	pool = &set->pools[reader->current];
	pool->held[k] = (double) (active + free_connections + login);
	pool->input.busy[k] = (double) active;
	reader->busy_sum += (double) active;
	if (waiting > pool->input.max_waiting)
		pool->input.max_waiting = waiting;
	if (waiting > 0 && active + waiting > pool->input.max_demand)
		pool->input.max_demand = active + waiting;
	if (ts_us >= pool->latest_ts_us) {
		pool->latest_ts_us = ts_us;
		pool->latest_total = active + free_connections + login;
		pool->latest_busy = active;
		pool->latest_free = free_connections;
		pool->latest_waiting = waiting;
		pool->input.current_pool_size = default_pool_size;
	}
	if ((int64_t) pool->held[k] > pool->max_held)
		pool->max_held = (int64_t) pool->held[k];
	return true;
fail:
	/* a pool added without its database: no share for it at the end */
	reader->current = SIZE_MAX;
	reader->failed = true;
	return false;
}

bool
pools_answer_pooler_end(struct pools_answer_reader *reader)
{
	struct pools_answer *set = reader->set;
	bool ok = !reader->failed && pooler_share(reader);

	free(reader->database);
	reader->database = NULL;
	for (size_t i = reader->first; i < set->n_pools; i++) {
		struct pools_answer_pool *p = &set->pools[i];
		p->input.overflow_used = p->max_held > p->input.current_pool_size ||
		    p->input.max_waiting > 0;
	}
	return ok;
}

/* ---- loads and budgets ------------------------------------------------- */

bool
pools_answer_load(struct pools_answer *set, const char *instance, const char *database,
    double exec_ms, double calls)
{
	struct pools_load *load;

	if (!grow((void **) &set->loads, sizeof(set->loads[0]), set->n_loads,
		&set->loads_capacity))
		return false;
	load = &set->loads[set->n_loads];
	load->instance = strdup(instance);
	load->database = strdup(database);
	load->exec_ms = exec_ms;
	load->calls = calls;
	set->n_loads++; /* freed with the set even when incomplete */
	return load->instance != NULL && load->database != NULL;
}

bool
pools_answer_budget(struct pools_answer *set, const char *instance, int64_t max_connections,
    int64_t reserved_connections)
{
	struct pools_budget *b;

	if (!grow((void **) &set->budgets, sizeof(set->budgets[0]), set->n_budgets,
		&set->budgets_capacity))
		return false;
	b = &set->budgets[set->n_budgets];
	b->max_connections = max_connections;
	b->reserved_connections = reserved_connections;
	b->instance = strdup(instance);
	if (b->instance == NULL)
		return false;
	set->n_budgets++;
	return true;
}

void
pools_answer_wall(struct pools_answer *set, size_t first, double wall_seconds)
{
	for (size_t i = first; i < set->n_pools; i++)
		set->pools[i].input.wall_seconds = wall_seconds;
}

/* ---- answers ----------------------------------------------------------- */

/* "YYYY-MM-DD HH:MM:SS" (UTC) of us; "" for none (0 or INT64_MAX). */
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

static int
out_of_memory(char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "out of memory");
	return PGF_ENOMEM;
}

int
pools_answer_stats(const struct pools_answer *set, uint32_t limit,
    Pgfleet__V1__PoolStats *answer, char *errbuf, size_t errlen)
{
	size_t wanted = limit > 0 ? limit : POOLS_DEFAULT_LIMIT;
	size_t n = set->n_pools < wanted ? set->n_pools : wanted;

	if (!alloc_rows((void ***) &answer->rows, n))
		return out_of_memory(errbuf, errlen);
	for (size_t i = 0; i < n; i++) {
		const struct pools_answer_pool *p = &set->pools[i];
		Pgfleet__V1__PoolStatsRow *row = malloc(sizeof(*row));
		if (row == NULL)
			return out_of_memory(errbuf, errlen);
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
			return out_of_memory(errbuf, errlen);
	}
	return PGF_OK;
}

/* The shares of the pools of one source, so that pgbouncer's pools and
 * the server's application rows (the same connections seen twice) each
 * take the whole load. */
static size_t
shares_of(const struct pools_answer *set, const char *source, struct pools_share *out)
{
	size_t n = 0;
	for (size_t i = 0; i < set->n_shares; i++) {
		if (strcmp(set->pools[set->shares[i].pool].input.source, source) == 0)
			out[n++] = set->shares[i];
	}
	return n;
}

/* One recommendation row of pool i; false when out of memory (the row
 * stays in answer). */
static bool
recommendation_row(const struct pools_answer *set, size_t i, const struct pools_input *input,
    const struct pools_recommendation *r, Pgfleet__V1__PoolRecommendation *answer)
{
	Pgfleet__V1__PoolRecommendationRow *row = malloc(sizeof(*row));

	if (row == NULL)
		return false;
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
	row->samples = (int64_t) input->n_samples;
	row->window_seconds = input->wall_seconds;
	row->recommendation = strdup(r->recommendation);
	row->reason = strdup(r->reason);
	row->driven_by = strdup(r->driven_by);
	row->instance = strdup(set->pools[i].instance);
	row->cluster = strdup(set->pools[i].cluster);
	row->source = strdup(set->pools[i].input.source);
	row->application = strdup(set->pools[i].application);
	return row->recommendation != NULL && row->reason != NULL && row->driven_by != NULL &&
	    row->instance != NULL && row->cluster != NULL && row->source != NULL &&
	    row->application != NULL;
}

int
pools_answer_recommendation(struct pools_answer *set, uint32_t limit, double buffer,
    Pgfleet__V1__PoolRecommendation *answer, char *errbuf, size_t errlen)
{
	struct pools_input *inputs = calloc(set->n_pools + 1, sizeof(inputs[0]));
	struct pools_share *shares = calloc(set->n_shares + 1, sizeof(shares[0]));
	struct pools_recommendation *out = calloc(set->n_pools + 1, sizeof(out[0]));
	size_t wanted = limit > 0 ? limit : POOLS_DEFAULT_LIMIT;
	size_t n = set->n_pools < wanted ? set->n_pools : wanted;
	int rv = PGF_ENOMEM;

	if (inputs == NULL || shares == NULL || out == NULL)
		goto done;
	for (size_t i = 0; i < set->n_pools; i++)
		inputs[i] = set->pools[i].input;
	pools_attribute(inputs, set->n_pools, set->loads, set->n_loads, shares,
	    shares_of(set, "server", shares));
	pools_attribute(inputs, set->n_pools, set->loads, set->n_loads, shares,
	    shares_of(set, "pgbouncer", shares));
	pools_recommend(inputs, set->n_pools, set->budgets, set->n_budgets, buffer, out);
	if (!alloc_rows((void ***) &answer->rows, n))
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (!recommendation_row(set, i, &inputs[i], &out[i], answer))
			goto done;
	}
	rv = PGF_OK;
done:
	free(inputs);
	free(shares);
	free(out);
	return rv == PGF_OK ? PGF_OK : out_of_memory(errbuf, errlen);
}

/* ---- regressions ------------------------------------------------------- */

int
pools_answer_regressions_init(struct pools_answer_regressions *q,
    const Pgfleet__V1__QueryRegressionsRequest *request, char *errbuf, size_t errlen)
{
	const Pgfleet__V1__Scope *scope = request->scope;

	memset(q, 0, sizeof(*q));
	q->until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : pgf_time_now_us();
	q->since_us = scope != NULL && scope->since_us != 0 ? scope->since_us
							    : q->until_us - DAY_US;
	q->baseline_until_us = request->baseline_until_us != 0 ? request->baseline_until_us
							       : q->since_us;
	q->baseline_since_us = request->baseline_since_us != 0 ? request->baseline_since_us
							       : q->baseline_until_us - 7 * DAY_US;
	q->params.min_factor = request->min_factor > 0.0 ? request->min_factor
							 : REGRESSIONS_DEFAULT_FACTOR;
	q->params.min_calls = request->min_calls > 0 ? request->min_calls
						     : REGRESSIONS_DEFAULT_MIN_CALLS;
	q->params.min_extra_ms = request->min_extra_seconds > 0.0
	    ? request->min_extra_seconds * 1000.0
	    : REGRESSIONS_DEFAULT_MIN_EXTRA_MS;
	q->limit = request->limit > 0 ? request->limit : REGRESSIONS_DEFAULT_LIMIT;
	q->by_cluster =
	    request->group == PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_CLUSTER;
	if (q->baseline_until_us <= q->baseline_since_us) {
		snprintf(errbuf, errlen, "the baseline ends before it starts");
		return PGF_EINVAL;
	}
	return PGF_OK;
}

bool
pools_answer_regressions_add(struct pools_answer_regressions *q,
    const struct pools_answer_regression *row, const struct regression_input *input)
{
	struct pools_answer_regression *copy;

	if (q->n_rows == q->capacity) {
		size_t bigger = q->capacity == 0 ? 16 : q->capacity * 2;
		void *grown_rows = realloc(q->rows, bigger * sizeof(q->rows[0]));
		if (grown_rows == NULL)
			return false;
		q->rows = grown_rows;
		void *grown_inputs = realloc(q->inputs, bigger * sizeof(q->inputs[0]));
		if (grown_inputs == NULL)
			return false;
		q->inputs = grown_inputs;
		q->capacity = bigger;
	}
	copy = &q->rows[q->n_rows];
	*copy = *row;
	copy->instance = name_list_sorted(row->instance);
	copy->database = strdup(row->database);
	copy->query = strdup(row->query);
	copy->cluster = name_list_sorted(row->cluster);
	q->inputs[q->n_rows] = *input;
	q->n_rows++; /* freed with q even when incomplete */
	return copy->instance != NULL && copy->database != NULL && copy->query != NULL &&
	    copy->cluster != NULL;
}

int
pools_answer_regressions_fill(const struct pools_answer_regressions *q,
    Pgfleet__V1__QueryRegressions *answer, char *errbuf, size_t errlen)
{
	struct regression_result *results = calloc(q->n_rows + 1, sizeof(results[0]));
	size_t found;
	int rv = PGF_ENOMEM;

	if (results == NULL)
		goto done;
	found = regressions_find(q->inputs, q->n_rows, &q->params, results);
	if (found > q->limit)
		found = q->limit;
	if (!alloc_rows((void ***) &answer->rows, found))
		goto done;
	for (size_t i = 0; i < found; i++) {
		const struct regression_result *r = &results[i];
		const struct pools_answer_regression *source = &q->rows[r->row];
		const struct regression_input *input = &q->inputs[r->row];
		Pgfleet__V1__QueryRegression *row = malloc(sizeof(*row));
		if (row == NULL)
			goto done;
		pgfleet__v1__query_regression__init(row);
		answer->rows[answer->n_rows++] = row;
		row->factor = r->factor;
		row->mean_seconds = r->mean_ms / 1000.0;
		row->baseline_mean_seconds = r->baseline_mean_ms / 1000.0;
		row->calls = input->calls;
		row->baseline_calls = input->baseline_calls;
		row->total_seconds = input->total_ms / 1000.0;
		row->extra_seconds = r->extra_ms / 1000.0;
		row->t_statistic = r->t_statistic;
		row->queryid = source->queryid;
		row->instances = (int32_t) source->instances;
		row->query_truncated = source->truncated;
		row->query = strdup(source->query);
		row->instance = strdup(source->instance);
		row->database = strdup(source->database);
		row->cluster = strdup(source->cluster);
		row->window_start = time_text(q->since_us);
		row->window_end = time_text(q->until_us);
		row->baseline_start = time_text(q->baseline_since_us);
		row->baseline_end = time_text(q->baseline_until_us);
		if (row->query == NULL || row->instance == NULL || row->database == NULL ||
		    row->cluster == NULL || row->window_start == NULL || row->window_end == NULL ||
		    row->baseline_start == NULL || row->baseline_end == NULL)
			goto done;
	}
	rv = PGF_OK;
done:
	free(results);
	return rv == PGF_OK ? PGF_OK : out_of_memory(errbuf, errlen);
}

void
pools_answer_regressions_fini(struct pools_answer_regressions *q)
{
	for (size_t i = 0; i < q->n_rows; i++) {
		free(q->rows[i].instance);
		free(q->rows[i].database);
		free(q->rows[i].query);
		free(q->rows[i].cluster);
	}
	free(q->rows);
	free(q->inputs);
	memset(q, 0, sizeof(*q));
}
