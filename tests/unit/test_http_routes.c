/* test_http_routes.c - HTTP paths and parameters become the CLI's Requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/http_routes.h"

#define NOW_US (1800000000LL * 1000000)

static const struct http_route *
route(const char *method, const char *path)
{
	const struct http_route *found = NULL;
	char allow[16];
	assert_int_equal(http_route_find(method, path, &found, allow, sizeof(allow)),
	    HTTP_ROUTE_FOUND);
	return found;
}

static void
test_find(void **state)
{
	const struct http_route *found = NULL;
	char allow[16] = "";
	(void) state;

	assert_ptr_equal(route("GET", "/api/db/slow-queries")->question,
	    &pgfleet__v1__slow_queries_request__descriptor);
	assert_ptr_equal(route("GET", "/api/fleet/instances")->question,
	    &pgfleet__v1__fleet_request__descriptor);
	assert_int_equal(http_route_find("GET", "/api/db/nope", &found, allow, sizeof(allow)),
	    HTTP_ROUTE_NO_PATH);
	assert_int_equal(http_route_find("DELETE", "/api/db/table-stats", &found, allow,
			     sizeof(allow)),
	    HTTP_ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "GET");
	/* every row's question is a member of Request */
	for (size_t i = 0; i < http_routes_count; i++) {
		struct http_question question;
		assert_int_equal(http_question_init(&question, &http_routes[i], NOW_US), PGF_OK);
		assert_int_not_equal(question.request.question_case, 0);
		http_question_fini(&question);
	}
}

/* Sets parameters (name, value pairs) on a new question of path. */
static int
build(struct http_question *question, const char *path, const char *const *pairs,
    char *errbuf, size_t errlen)
{
	assert_int_equal(http_question_init(question, route("GET", path), NOW_US), PGF_OK);
	for (size_t i = 0; pairs[i] != NULL; i += 2) {
		int rv = http_question_set(question, pairs[i], pairs[i + 1], NOW_US, errbuf, errlen);
		if (rv != PGF_OK)
			return rv;
	}
	return PGF_OK;
}

static void
test_slow_queries_like_the_cli(void **state)
{
	static const char *const pairs[] = {"limit", "20", "min_duration_ms", "100.5", "order",
		"mean", "group", "CLUSTER", "instance", "db-1", "database", "app", "until",
		"2026-01-31 12:00", NULL};
	struct http_question question;
	char errbuf[256];
	const Pgfleet__V1__SlowQueriesRequest *q;
	(void) state;

	assert_int_equal(build(&question, "/api/db/slow-queries", pairs, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(question.request.question_case, PGFLEET__V1__REQUEST__QUESTION_SLOW_QUERIES);
	q = question.request.slow_queries;
	assert_int_equal(q->limit, 20);
	assert_true(q->min_duration_ms == 100.5);
	assert_int_equal(q->order, PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN);
	assert_int_equal(q->group, PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_CLUSTER);
	assert_ptr_equal(q->scope, &question.scope);
	assert_string_equal(q->scope->instance, "db-1");
	assert_string_equal(q->scope->database, "app");
	/* the CLI's default window, the last day, and the given end */
	assert_int_equal(q->scope->since_us, NOW_US - 86400LL * 1000000);
	assert_int_equal(q->scope->until_us, 1769860800LL * 1000000);
	assert_string_equal(http_question_instance(&question), "db-1");
	assert_string_equal(http_question_cluster(&question), "");
	http_question_fini(&question);
}

static void
test_since_as_duration(void **state)
{
	static const char *const pairs[] = {"since", "1h", "limit", "5", NULL};
	struct http_question question;
	char errbuf[256];
	(void) state;

	assert_int_equal(build(&question, "/api/db/table-stats", pairs, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(question.request.table_stats->scope->since_us, NOW_US - 3600LL * 1000000);
	assert_int_equal(question.request.table_stats->limit, 5);
	/* listings have no default window */
	http_question_fini(&question);
	assert_int_equal(build(&question, "/api/db/index-usage", (const char *const[]){NULL},
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(question.request.index_usage->scope->since_us, 0);
	http_question_fini(&question);
}

/* Expects pairs to fail on path with a reason containing needle. */
static void
expect_bad(const char *path, const char *const *pairs, const char *needle)
{
	struct http_question question;
	char errbuf[256] = "";
	assert_int_equal(build(&question, path, pairs, errbuf, sizeof(errbuf)), PGF_EINVAL);
	if (strstr(errbuf, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", errbuf, needle);
	http_question_fini(&question);
}

static void
test_bad_parameters_named(void **state)
{
	(void) state;
	expect_bad("/api/db/slow-queries", (const char *const[]){"limit", "0", NULL},
	    "invalid parameter \"limit\": \"0\" (expected a whole number from 1 to 10000)");
	expect_bad("/api/db/slow-queries", (const char *const[]){"limit", "10001", NULL},
	    "\"limit\"");
	expect_bad("/api/db/slow-queries", (const char *const[]){"limit", "-1", NULL}, "\"limit\"");
	expect_bad("/api/db/slow-queries", (const char *const[]){"limit", NULL, NULL}, "\"limit\"");
	expect_bad("/api/db/slow-queries", (const char *const[]){"min_duration_ms", "x", NULL},
	    "invalid parameter \"min_duration_ms\"");
	expect_bad("/api/db/slow-queries", (const char *const[]){"min_duration_ms", "-5", NULL},
	    "\"min_duration_ms\"");
	expect_bad("/api/db/slow-queries", (const char *const[]){"order", "fastest", NULL},
	    "invalid parameter \"order\": \"fastest\" (expected total, mean, calls)");
	expect_bad("/api/db/slow-queries", (const char *const[]){"since", "yesterday", NULL},
	    "invalid parameter \"since\"");
	expect_bad("/api/db/slow-queries", (const char *const[]){"limt", "5", NULL},
	    "unknown parameter \"limt\" for /api/db/slow-queries");
	/* the scope message itself is not a parameter */
	expect_bad("/api/db/table-stats", (const char *const[]){"scope", "x", NULL},
	    "unknown parameter \"scope\"");
	expect_bad("/api/db/query-trend", (const char *const[]){"queryid", "12x", NULL},
	    "invalid parameter \"queryid\"");
}

static void
test_json_body(void **state)
{
	struct http_question question;
	char errbuf[256];
	static const char body[] = "{\"queryid\": -9223372036854775807, \"bucket_ms\": 3600000,"
				   " \"instance\": \"db-2\", \"since\": \"7d\", \"x\": null}";
	(void) state;

	assert_int_equal(http_question_init(&question, route("GET", "/api/db/query-trend"), NOW_US),
	    PGF_OK);
	assert_int_equal(http_question_set_json(&question, body, strlen(body), NOW_US, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	/* 64-bit queryids stay exact */
	assert_true(question.request.query_trend->queryid == -9223372036854775807LL);
	assert_int_equal(question.request.query_trend->bucket_ms, 3600000);
	assert_string_equal(http_question_instance(&question), "db-2");
	http_question_fini(&question);

	assert_int_equal(http_question_init(&question, route("GET", "/api/db/query-trend"), NOW_US),
	    PGF_OK);
	assert_int_equal(http_question_set_json(&question, "[1]", 3, NOW_US, errbuf, sizeof(errbuf)),
	    PGF_EINVAL);
	assert_non_null(strstr(errbuf, "expected an object"));
	assert_int_equal(http_question_set_json(&question, "{\"queryid\":", 11, NOW_US, errbuf,
			     sizeof(errbuf)),
	    PGF_EINVAL);
	assert_non_null(strstr(errbuf, "invalid JSON body at line 1"));
	assert_int_equal(http_question_set_json(&question, "{\"queryid\": [1]}", 16, NOW_US,
			     errbuf, sizeof(errbuf)),
	    PGF_EINVAL);
	assert_non_null(strstr(errbuf, "\"queryid\""));
	http_question_fini(&question);
}

static void
test_times_durations_and_required(void **state)
{
	static const char *const trend[] = {"queryid", "42", "bucket", "1h", NULL};
	static const char *const regressions[] = {"baseline_since", "7d", "baseline_until",
		"2026-01-31", NULL};
	static const char *const pool[] = {"concurrent_requests", "100", NULL};
	static const char explain_body[] = "{\"query\": \"SELECT 1\", \"analyze\": true}";
	struct http_question question;
	const struct http_route *found = NULL;
	char allow[16] = "";
	char errbuf[256];
	(void) state;

	/* bucket=1h sets bucket_ms; baseline_since=7d sets baseline_since_us */
	assert_int_equal(build(&question, "/api/db/query-trend", trend, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(question.request.query_trend->bucket_ms, 3600000);
	assert_int_equal(http_question_check(&question, errbuf, sizeof(errbuf)), PGF_OK);
	http_question_fini(&question);
	assert_int_equal(build(&question, "/api/db/query-regressions", regressions, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(question.request.query_regressions->baseline_since_us,
	    NOW_US - 7 * 86400LL * 1000000);
	assert_int_equal(question.request.query_regressions->baseline_until_us,
	    1769817600LL * 1000000);
	http_question_fini(&question);
	expect_bad("/api/db/query-trend", (const char *const[]){"bucket", "soon", NULL},
	    "invalid parameter \"bucket\": \"soon\" (expected a duration");

	/* the CLI's required options */
	assert_int_equal(build(&question, "/api/db/pool-size", pool, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(http_question_check(&question, errbuf, sizeof(errbuf)), PGF_EINVAL);
	assert_string_equal(errbuf, "missing parameter \"avg_query_ms\" for /api/db/pool-size");
	http_question_fini(&question);
	assert_int_equal(build(&question, "/api/db/query-trend", (const char *const[]){NULL},
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(http_question_check(&question, errbuf, sizeof(errbuf)), PGF_EINVAL);
	assert_non_null(strstr(errbuf, "\"queryid\""));
	http_question_fini(&question);

	/* explain: a POST with the guide's body */
	assert_int_equal(http_route_find("GET", "/api/db/explain", &found, allow, sizeof(allow)),
	    HTTP_ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "POST");
	assert_int_equal(http_route_find("POST", "/api/db/explain", &found, allow, sizeof(allow)),
	    HTTP_ROUTE_FOUND);
	assert_true(found->json_body);
	assert_int_equal(http_question_init(&question, found, NOW_US), PGF_OK);
	assert_int_equal(http_question_set_json(&question, explain_body, strlen(explain_body),
			     NOW_US, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_string_equal(question.request.explain->query, "SELECT 1");
	assert_true(question.request.explain->analyze);
	assert_int_equal(http_question_check(&question, errbuf, sizeof(errbuf)), PGF_EINVAL);
	assert_non_null(strstr(errbuf, "missing parameter \"instance\""));
	assert_int_equal(http_question_set(&question, "instance", "db-1", NOW_US, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(http_question_check(&question, errbuf, sizeof(errbuf)), PGF_OK);
	assert_string_equal(http_question_instance(&question), "db-1");
	http_question_fini(&question);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_slow_queries_like_the_cli),
		cmocka_unit_test(test_since_as_duration),
		cmocka_unit_test(test_bad_parameters_named),
		cmocka_unit_test(test_json_body),
		cmocka_unit_test(test_times_durations_and_required),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
