/*
 * test_analysis_pools.c - pool sizing from plain data: the guide's
 * formula, percentiles, the attribution of statement load to pools, the
 * figure that drives a recommendation, and the shared connection budget.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis_pools.h"

static void
test_formula_is_the_guides(void **state)
{
	(void) state;
	/* the guide's example: 100 requests, 0.05 s, buffer 10 -> 15 */
	assert_true(fabs(pools_formula(100, 0.05, 10) - 15.0) < 1e-9);
	assert_int_equal(pools_round_up(pools_formula(100, 50 / 1000.0, 10)), 15);
	assert_int_equal(pools_round_up(15.2), 16);
	assert_int_equal(pools_round_up(0.0), 0);
	assert_int_equal(pools_round_up(-3.0), 0);
	assert_int_equal(pools_round_up(NAN), 0);
}

static void
test_size_check(void **state)
{
	char errbuf[128];
	(void) state;
	assert_true(pools_size_check(100, 50, 10, errbuf, sizeof(errbuf)));
	assert_true(pools_size_check(0, 0, 0, errbuf, sizeof(errbuf)));
	assert_false(pools_size_check(-1, 50, 10, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "concurrent_requests must be a number, zero or more");
	assert_false(pools_size_check(1, NAN, 10, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "avg_query_ms must be a number, zero or more");
	assert_false(pools_size_check(1, 1, INFINITY, errbuf, sizeof(errbuf)));
	assert_false(pools_size_check(1, 1, 2e9, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "buffer 2e+09 is larger than 1e+09");
}

static void
test_percentile_nearest_rank(void **state)
{
	double twenty[20];
	double three[] = {3, 1, 2};
	(void) state;
	for (int i = 0; i < 20; i++)
		twenty[i] = 20 - i; /* 20 .. 1, unsorted */
	assert_true(pools_percentile(twenty, 20, 95.0) == 19.0);
	assert_true(pools_percentile(twenty, 20, 50.0) == 10.0);
	assert_true(pools_percentile(twenty, 20, 100.0) == 20.0);
	assert_true(pools_percentile(three, 3, 50.0) == 2.0);
	assert_true(pools_percentile(three, 0, 50.0) == 0.0);
}

static void
test_attribute_by_busy_share(void **state)
{
	struct pools_input pools[3];
	struct pools_load loads[] = {
	    {"db-1", "app", 9000.0, 900.0},
	    {"db-1", "other", 500.0, 5.0},  /* no pool uses it */
	    {"db-2", "app", 1000.0, 10.0},
	};
	/* web is three times as busy as batch in "app" on db-1 */
	struct pools_share shares[] = {
	    {0, "app", 3.0},
	    {1, "app", 1.0},
	    {2, "app", 0.0},
	};
	(void) state;
	memset(pools, 0, sizeof(pools));
	pools[0].instance = "db-1";
	pools[1].instance = "db-1";
	pools[2].instance = "db-2";
	pools_attribute(pools, 3, loads, 3, shares, 3);
	assert_true(fabs(pools[0].exec_ms - 6750.0) < 1e-9);
	assert_true(fabs(pools[0].calls - 675.0) < 1e-9);
	assert_true(fabs(pools[1].exec_ms - 2250.0) < 1e-9);
	/* alone in its database, never seen busy: all of it */
	assert_true(fabs(pools[2].exec_ms - 1000.0) < 1e-9);
}

/* A server pool on instance with its samples. */
static struct pools_input
server_pool(const char *instance, const char *application, int64_t current, double *busy,
    size_t n, double exec_ms, double calls, double wall)
{
	struct pools_input pool;
	memset(&pool, 0, sizeof(pool));
	pool.instance = instance;
	pool.cluster = "42";
	pool.source = "server";
	pool.application = application;
	pool.current_pool_size = current;
	pool.busy = busy;
	pool.n_samples = n;
	pool.exec_ms = exec_ms;
	pool.calls = calls;
	pool.wall_seconds = wall;
	return pool;
}

static void
test_p95_drives_a_closed_load(void **state)
{
	/* 6 clients that are nearly always in a 10 ms statement: 5.7 busy on
	 * average by Little's law, 6 at every sample */
	double busy[] = {6, 6, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6};
	struct pools_input pool = server_pool("db-1", "pgbench", 6, busy, 12, 57000.0, 5700.0, 10.0);
	struct pools_budget budget = {"db-1", 100, 3};
	struct pools_recommendation r;
	(void) state;
	pools_recommend(&pool, 1, &budget, 1, 0.0, &r);
	assert_int_equal(r.recommended_pool_size, 6);
	assert_string_equal(r.driven_by, "p95");
	assert_string_equal(r.recommendation, "keep");
	assert_true(fabs(r.avg_busy_connections - 5.7) < 1e-9);
	assert_true(fabs(r.requests_per_second - 570.0) < 1e-9);
	assert_true(fabs(r.avg_query_seconds - 0.01) < 1e-12);
	assert_true(r.p95_busy_connections == 6.0);
	assert_true(r.utilization_percentage == 95.0);
	assert_int_equal(r.connection_budget, 97);
	assert_non_null(strstr(r.reason, "p95 of busy connections (6.0 over 12 samples) drove it"));
	assert_non_null(strstr(r.reason, "max_connections 100 - 3 reserved"));
}

static void
test_formula_drives_with_a_buffer(void **state)
{
	double busy[] = {2, 3, 2, 3};
	/* 200 calls/s x 20 ms = 4 busy on average; + buffer 2 = 6 > p95 3 */
	struct pools_input pool = server_pool("db-1", "web", 10, busy, 4, 40000.0, 2000.0, 10.0);
	struct pools_recommendation r;
	(void) state;
	pools_recommend(&pool, 1, NULL, 0, 2.0, &r);
	assert_int_equal(r.recommended_pool_size, 6);
	assert_string_equal(r.driven_by, "formula");
	assert_string_equal(r.recommendation, "decrease");
	assert_true(fabs(r.formula_pool_size - 6.0) < 1e-9);
	assert_true(r.utilization_percentage == 40.0);
	assert_int_equal(r.connection_budget, 0);
	assert_non_null(strstr(r.reason, "the guide's formula drove it"));
}

static void
test_waiting_clients_raise_the_size(void **state)
{
	double busy[] = {3, 3, 3};
	struct pools_input pool = server_pool("db-1", "postgres/app", 3, busy, 3, 0, 0, 10.0);
	struct pools_recommendation r;
	(void) state;
	pool.source = "pgbouncer";
	pool.max_waiting = 2;
	pool.overflow_used = true;
	pools_recommend(&pool, 1, NULL, 0, 0.0, &r);
	assert_int_equal(r.recommended_pool_size, 5);
	assert_string_equal(r.driven_by, "waiting");
	assert_string_equal(r.recommendation, "increase");
	assert_true(r.overflow_used);

	/* pgbouncer still opening server connections: 1 served and 3
	 * queued at the peak is a demand of 4, not the pool of 3 plus 3 */
	pool.max_waiting = 3;
	pool.max_demand = 4;
	pools_recommend(&pool, 1, NULL, 0, 0.0, &r);
	assert_int_equal(r.recommended_pool_size, 4);
	assert_string_equal(r.driven_by, "waiting");
}

static void
test_budget_is_shared(void **state)
{
	/* two applications needing 60 and 40 on an instance with 50 usable
	 * connections: 30 and 20; the other instance is not bounded */
	double a[] = {60}, b[] = {40}, c[] = {80};
	struct pools_input pools[3] = {
	    server_pool("db-1", "a", 30, a, 1, 0, 0, 1.0),
	    server_pool("db-1", "b", 30, b, 1, 0, 0, 1.0),
	    server_pool("db-2", "a", 30, c, 1, 0, 0, 1.0),
	};
	struct pools_budget budgets[] = {{"db-1", 53, 3}, {"db-2", 200, 3}};
	struct pools_recommendation r[3];
	(void) state;
	pools_recommend(pools, 3, budgets, 2, 0.0, r);
	assert_int_equal(r[0].recommended_pool_size, 30);
	assert_int_equal(r[1].recommended_pool_size, 20);
	assert_string_equal(r[0].driven_by, "budget");
	assert_string_equal(r[1].recommendation, "decrease");
	assert_non_null(strstr(r[1].reason, "the pools of db-1 need 100, more than its 50"));
	assert_int_equal(r[2].recommended_pool_size, 80);
	assert_string_equal(r[2].driven_by, "p95");
}

static void
test_no_load_is_one_connection(void **state)
{
	struct pools_input pool = server_pool("db-1", "idle", 0, NULL, 0, 0, 0, 0);
	struct pools_recommendation r;
	(void) state;
	pools_recommend(&pool, 1, NULL, 0, 0.0, &r);
	assert_int_equal(r.recommended_pool_size, 1);
	assert_string_equal(r.driven_by, "minimum");
	assert_string_equal(r.recommendation, "increase");
	assert_true(r.utilization_percentage == 0.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formula_is_the_guides),
	    cmocka_unit_test(test_size_check),
	    cmocka_unit_test(test_percentile_nearest_rank),
	    cmocka_unit_test(test_attribute_by_busy_share),
	    cmocka_unit_test(test_p95_drives_a_closed_load),
	    cmocka_unit_test(test_formula_drives_with_a_buffer),
	    cmocka_unit_test(test_waiting_clients_raise_the_size),
	    cmocka_unit_test(test_budget_is_shared),
	    cmocka_unit_test(test_no_load_is_one_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
