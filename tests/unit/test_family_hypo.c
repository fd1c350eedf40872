/*
 * test_family_hypo.c - the pure parts of the index_checks family: the
 * planning method by server version (13..17), the SQL it sends, the
 * quoting of the index statement, the plan reader and the statement
 * guards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/family_hypo.h"

static void
test_method_by_version(void **state)
{
	(void) state;
	assert_int_equal(family_hypo_method(130000), FAMILY_HYPO_PREPARE);
	assert_int_equal(family_hypo_method(140010), FAMILY_HYPO_PREPARE);
	assert_int_equal(family_hypo_method(150004), FAMILY_HYPO_PREPARE);
	assert_int_equal(family_hypo_method(159999), FAMILY_HYPO_PREPARE);
	assert_int_equal(family_hypo_method(160000), FAMILY_HYPO_GENERIC_PLAN_OPTION);
	assert_int_equal(family_hypo_method(170002), FAMILY_HYPO_GENERIC_PLAN_OPTION);
}

static void
test_explain_sql(void **state)
{
	char prepare[256], explain[256], deallocate[64];
	(void) state;
	assert_true(family_hypo_explain_sql(FAMILY_HYPO_PREPARE,
	    "SELECT * FROM t WHERE a = $1 AND b > $2", 2, "p1", prepare, sizeof(prepare), explain,
	    sizeof(explain), deallocate, sizeof(deallocate)));
	assert_string_equal(prepare, "PREPARE p1 AS SELECT * FROM t WHERE a = $1 AND b > $2");
	assert_string_equal(explain, "EXPLAIN (FORMAT JSON) EXECUTE p1(NULL, NULL)");
	assert_string_equal(deallocate, "DEALLOCATE p1");
	/* no parameters: no parentheses */
	assert_true(family_hypo_explain_sql(FAMILY_HYPO_PREPARE, "SELECT 1", 0, "p1", prepare,
	    sizeof(prepare), explain, sizeof(explain), deallocate, sizeof(deallocate)));
	assert_string_equal(explain, "EXPLAIN (FORMAT JSON) EXECUTE p1");
	assert_true(family_hypo_explain_sql(FAMILY_HYPO_GENERIC_PLAN_OPTION,
	    "SELECT * FROM t WHERE a = $1", 1, "p1", prepare, sizeof(prepare), explain,
	    sizeof(explain), deallocate, sizeof(deallocate)));
	assert_string_equal(prepare, "");
	assert_string_equal(deallocate, "");
	assert_string_equal(explain, "EXPLAIN (FORMAT JSON, GENERIC_PLAN) SELECT * FROM t WHERE a = $1");
	/* too small a buffer is refused, not cut */
	assert_false(family_hypo_explain_sql(FAMILY_HYPO_PREPARE, "SELECT * FROM t WHERE a = $1",
	    1, "p1", prepare, sizeof(prepare), explain, 20, deallocate, sizeof(deallocate)));
}

static void
test_quote(void **state)
{
	char out[256];
	(void) state;
	assert_true(family_hypo_quote("CREATE INDEX ON t (a)", out, sizeof(out)));
	assert_string_equal(out, "$h$CREATE INDEX ON t (a)$h$");
	/* a tag inside the text is avoided */
	assert_true(family_hypo_quote("x $h$ y $h1$", out, sizeof(out)));
	assert_string_equal(out, "$h2$x $h$ y $h1$$h2$");
	assert_false(family_hypo_quote("CREATE INDEX ON t (a)", out, 10));
}

static void
test_plan_cost(void **state)
{
	static const char plan[] =
	    "[{\"Plan\": {\"Node Type\": \"Nested Loop\", \"Total Cost\": 73.82,"
	    " \"Plans\": [{\"Node Type\": \"Seq Scan\", \"Total Cost\": 1.0},"
	    " {\"Node Type\": \"Index Scan\", \"Index Name\": \"<13741>btree_orders_customer_id\","
	    " \"Total Cost\": 70.0}]}}]";
	double cost = 0;
	bool uses = true;
	(void) state;
	assert_true(family_hypo_plan_cost(plan, "<13741>btree_orders_customer_id", &cost, &uses));
	assert_true(cost == 73.82);
	assert_true(uses);
	assert_true(family_hypo_plan_cost(plan, "<1>other", &cost, &uses));
	assert_false(uses);
	assert_true(family_hypo_plan_cost(plan, NULL, &cost, &uses));
	assert_false(uses);
	assert_false(family_hypo_plan_cost("not json", NULL, &cost, &uses));
	assert_false(family_hypo_plan_cost("[{\"Plan\": {}}]", NULL, &cost, &uses));
}

static void
test_guards(void **state)
{
	char errbuf[256];
	(void) state;
	assert_true(family_hypo_statement_ok("SELECT * FROM t WHERE a = $1", errbuf, sizeof(errbuf)));
	assert_true(family_hypo_statement_ok("WITH x AS (SELECT 1) SELECT * FROM x", errbuf,
	    sizeof(errbuf)));
	/* a string that looks like a node name is not one */
	assert_true(family_hypo_statement_ok("SELECT '\"InsertStmt\":' FROM t", errbuf,
	    sizeof(errbuf)));
	assert_false(family_hypo_statement_ok("SELECT 1; SELECT 2", errbuf, sizeof(errbuf)));
	assert_false(family_hypo_statement_ok("DELETE FROM t", errbuf, sizeof(errbuf)));
	assert_false(family_hypo_statement_ok("SELECT * INTO t2 FROM t", errbuf, sizeof(errbuf)));
	assert_false(family_hypo_statement_ok("SELECT * FROM t FOR UPDATE", errbuf, sizeof(errbuf)));
	assert_false(family_hypo_statement_ok(
	    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", errbuf, sizeof(errbuf)));
	assert_false(family_hypo_statement_ok("SELEC 1", errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "could not parse"));
	assert_true(family_hypo_index_ok("CREATE INDEX ON public.t (a) WHERE b IS NULL", errbuf,
	    sizeof(errbuf)));
	assert_false(family_hypo_index_ok("DROP INDEX t_a", errbuf, sizeof(errbuf)));
	assert_false(family_hypo_index_ok("CREATE INDEX ON t (a); DROP TABLE t", errbuf,
	    sizeof(errbuf)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_by_version),
		cmocka_unit_test(test_explain_sql),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_plan_cost),
		cmocka_unit_test(test_guards),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
