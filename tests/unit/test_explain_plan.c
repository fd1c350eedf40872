/* test_explain_plan.c - EXPLAIN JSON plans (files in tests/analysis/explain)
 * rendered as text, and the guide's red flags found in them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/explain_plan.h"

/* read_case NAME: the file's text (malloc'd), from $EXPLAIN_CASES. */
static char *
read_case(const char *name)
{
	/* ctest sets it; run from the repository's root (valgrind in
	 * tests/run-all.sh) the relative path works */
	const char *dir = getenv("EXPLAIN_CASES") != NULL ? getenv("EXPLAIN_CASES")
							  : "tests/analysis/explain";
	char path[1024];
	FILE *file;
	char *text;
	long size;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	file = fopen(path, "rb");
	if (file == NULL)
		fail_msg("cannot open %s", path);
	fseek(file, 0, SEEK_END);
	size = ftell(file);
	fseek(file, 0, SEEK_SET);
	text = calloc(1, (size_t) size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t) size, file), (size_t) size);
	fclose(file);
	return text;
}

static size_t
count_kind(const struct explain_summary *summary, const char *kind)
{
	size_t count = 0;
	for (size_t i = 0; i < summary->flag_count; i++)
		count += strcmp(summary->flags[i].kind, kind) == 0;
	return count;
}

static const struct explain_flag *
flag_of(const struct explain_summary *summary, const char *kind, size_t nth)
{
	for (size_t i = 0; i < summary->flag_count; i++) {
		if (strcmp(summary->flags[i].kind, kind) == 0 && nth-- == 0)
			return &summary->flags[i];
	}
	fail_msg("no flag %s", kind);
	return NULL;
}

static void
test_seq_scan_needs_the_table_size(void **state)
{
	struct explain_thresholds thresholds = EXPLAIN_THRESHOLDS_DEFAULT;
	struct explain_table_rows sizes[] = { { "u", 1e6 }, { "t", 20000 } };
	struct explain_summary summary;
	char errbuf[256];
	char *plan = read_case("seq_scan_plain.json");
	(void) state;

	/* a plain EXPLAIN says only the 20 rows it returns: no flag alone */
	assert_int_equal(explain_plan_summarize(plan, NULL, 0, &thresholds, &summary,
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_false(summary.analyzed);
	assert_int_equal(summary.flag_count, 0);
	assert_string_equal(summary.text,
	    "Seq Scan on t  (cost=0.00..339.00 rows=20 width=8)\n"
	    "  Filter: (v = 5)\n"
	    "Planning Time: 0.081 ms\n");
	explain_summary_fini(&summary);
	/* with the table's 20000 rows: a large table read whole */
	assert_int_equal(explain_plan_summarize(plan, sizes, 2, &thresholds, &summary,
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(summary.flag_count, 1);
	assert_string_equal(summary.flags[0].kind, "seq_scan_large_table");
	assert_string_equal(summary.flags[0].node, "Seq Scan on t (node 1)");
	assert_non_null(strstr(summary.flags[0].detail, "about 20000 rows"));
	assert_non_null(strstr(summary.flags[0].detail, "filtered by (v = 5)"));
	explain_summary_fini(&summary);
	/* below the threshold: no flag */
	thresholds.large_table_rows = 20001;
	assert_int_equal(explain_plan_summarize(plan, sizes, 2, &thresholds, &summary,
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(summary.flag_count, 0);
	explain_summary_fini(&summary);
	free(plan);
}

static void
test_nested_loop_flags(void **state)
{
	struct explain_thresholds thresholds = EXPLAIN_THRESHOLDS_DEFAULT;
	struct explain_summary summary;
	char errbuf[256];
	char *plan = read_case("nested_loop_analyze.json");
	const struct explain_flag *flag;
	(void) state;

	assert_int_equal(explain_plan_summarize(plan, NULL, 0, &thresholds, &summary,
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_true(summary.analyzed);
	assert_true(summary.execution_ms == 50.5);
	assert_true(summary.planning_ms == 0.2);
	/* estimated 10, got 2000: the Nested Loop and its outer Seq Scan */
	assert_int_equal(count_kind(&summary, "misestimate"), 2);
	assert_string_equal(
	    flag_of(&summary, "misestimate", 0)->node, "Nested Loop (node 1)");
	flag = flag_of(&summary, "misestimate", 1);
	assert_string_equal(flag->node, "Seq Scan on a (node 2)");
	assert_non_null(strstr(flag->detail, "estimated 10 rows, got 2000"));
	assert_non_null(strstr(flag->detail, "200x too few"));
	/* the inner Index Scan ran 2000 times; 1 row each time as estimated */
	assert_int_equal(count_kind(&summary, "many_loops"), 1);
	flag = flag_of(&summary, "many_loops", 0);
	assert_string_equal(flag->node, "Index Scan using b_pkey on b bb (node 3)");
	assert_non_null(strstr(flag->detail, "ran 2000 times"));
	/* 2500 rows scanned in a: not a large table */
	assert_int_equal(count_kind(&summary, "seq_scan_large_table"), 0);
	/* where the time went: 2000 x 0.020 ms in the Index Scan, then 5 ms
	 * each in the loop itself (50 - 5 - 40) and the Seq Scan */
	assert_int_equal(count_kind(&summary, "time_spent"), 3);
	flag = flag_of(&summary, "time_spent", 0);
	assert_string_equal(flag->node, "Index Scan using b_pkey on b bb (node 3)");
	assert_non_null(
	    strstr(flag->detail, "40.000 ms of the 50.500 ms execution (79%)"));
	assert_non_null(strstr(flag_of(&summary, "time_spent", 1)->detail, "5.000 ms"));
	assert_non_null(strstr(flag_of(&summary, "time_spent", 2)->detail, "5.000 ms"));
	/* the text: actual figures and the detail lines */
	assert_non_null(strstr(summary.text,
	    "Nested Loop  (cost=0.29..95.10 rows=10 width=16) (actual time=0.030..50.000 "
	    "rows=2000 loops=1)\n"));
	assert_non_null(strstr(summary.text,
	    "  ->  Index Scan using b_pkey on b bb  (cost=0.29..5.95 rows=1 width=8)"
	    " (actual time=0.015..0.020 rows=1 loops=2000)\n        Index Cond: (id = "
	    "a.b_id)\n"));
	assert_non_null(strstr(summary.text, "        Rows Removed by Filter: 500\n"));
	assert_non_null(strstr(summary.text, "Execution Time: 50.500 ms\n"));
	explain_summary_fini(&summary);
	/* thresholds are the caller's */
	thresholds.many_loops = 5000;
	thresholds.misestimate_ratio = 500;
	thresholds.time_nodes = 1;
	assert_int_equal(explain_plan_summarize(plan, NULL, 0, &thresholds, &summary,
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(summary.flag_count, 1);
	assert_string_equal(summary.flags[0].kind, "time_spent");
	explain_summary_fini(&summary);
	free(plan);
}

static void
test_text_like_explain(void **state)
{
	struct explain_thresholds thresholds = EXPLAIN_THRESHOLDS_DEFAULT;
	struct explain_summary summary;
	char errbuf[256];
	char *plan = read_case("hash_left_join.json");
	char *expected = read_case("hash_left_join.expected");
	char **relations = NULL;
	size_t count = 0;
	(void) state;

	assert_int_equal(explain_plan_summarize(plan, NULL, 0, &thresholds, &summary,
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_string_equal(summary.text, expected);
	assert_int_equal(summary.flag_count, 0);
	explain_summary_fini(&summary);
	assert_int_equal(
	    explain_plan_seq_scans(plan, &relations, &count, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(count, 2);
	assert_string_equal(relations[0], "missions");
	assert_string_equal(relations[1], "agents");
	explain_relations_free(relations, count);
	free(plan);
	free(expected);
}

static void
test_not_a_plan(void **state)
{
	struct explain_thresholds thresholds = EXPLAIN_THRESHOLDS_DEFAULT;
	struct explain_summary summary;
	const char *bad[] = { "", "not json", "{}", "[]", "[1]", "[{\"Plan\": 1}]",
		"[{\"Planning Time\": 1}]", NULL };
	char errbuf[256];
	char **relations = NULL;
	size_t count = 0;
	(void) state;

	for (size_t i = 0; bad[i] != NULL; i++) {
		errbuf[0] = '\0';
		assert_int_equal(explain_plan_summarize(bad[i], NULL, 0, &thresholds,
				     &summary, errbuf, sizeof(errbuf)),
		    PGF_EDECODE);
		assert_true(errbuf[0] != '\0');
		assert_null(summary.text);
		assert_int_equal(explain_plan_seq_scans(
				     bad[i], &relations, &count, errbuf, sizeof(errbuf)),
		    PGF_EDECODE);
		assert_null(relations);
	}
	/* odd but valid JSON inside a plan: no crash, "?" labels */
	assert_int_equal(
	    explain_plan_summarize(
		"[{\"Plan\": {\"Node Type\": 5, \"Plans\": [1, {\"Plans\": \"x\"}]}}]",
		NULL, 0, &thresholds, &summary, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_non_null(strstr(summary.text, "->  ?"));
	explain_summary_fini(&summary);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_scan_needs_the_table_size),
		cmocka_unit_test(test_nested_loop_flags),
		cmocka_unit_test(test_text_like_explain),
		cmocka_unit_test(test_not_a_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
