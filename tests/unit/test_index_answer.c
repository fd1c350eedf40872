/*
 * test_index_answer.c - the index-recommendations answer and the index
 * checks built from plain facts (collector/index_answer.c), as both
 * stores build them: filters and their defaults, column lists joined and
 * split again, hypopg verdicts shown and their ages (a day for a plan, an
 * hour for a failure), the unused rule over a cluster's members, the
 * order by priority and the limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/index_answer.h"
#include "collector/store.h"

#define SECOND 1000000LL
#define HOUR (3600 * SECOND)
#define NOW (1700000000LL * SECOND)

static const char kind_text[] = "SELECT * FROM events WHERE kind = $1";
static const char update_text[] = "UPDATE events SET seen = $1 WHERE session_id = $2";

/* A big table read by sequential scans on db-1, its two statements, and
 * the indexes of a primary (db-1) and a replica (db-2) of cluster "7":
 * the pkey, note_idx (scanned on the replica only or on neither: scans),
 * and a two-column index given as its joined text. */
static struct index_facts *
make_facts(int64_t replica_note_scans, const struct index_check_fact *check)
{
	struct index_facts *facts = index_facts_new();
	const struct table_window table = {"db-1", "app", "public", "events", 100, 100 * 200000, 5,
	    64LL << 20, 1000000};
	const struct statement_fact statements[] = {
	    {"db-1", "app", 11, kind_text, 50, 900.5},
	    {"db-1", "app", 12, update_text, 20, 300.25},
	};
	char *two[] = {(char *) "user_id", (char *) "created_at"};
	char *joined = index_answer_join_columns(two, 2);

	assert_non_null(facts);
	assert_non_null(joined);
	assert_int_equal(index_facts_add_table(facts, &table, "7", 600 * SECOND), PGF_OK);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(index_facts_add_statement(facts, &statements[i]), PGF_OK);
	for (int member = 0; member < 2; member++) {
		struct index_fact x;
		const char *instance = member == 0 ? "db-1" : "db-2";
		memset(&x, 0, sizeof(x));
		x.instance = instance;
		x.database = "app";
		x.schema = "public";
		x.table = "events";
		x.access_method = "btree";
		x.predicate = "";
		x.definition = "CREATE INDEX ...";
		x.is_valid = true;
		x.size_bytes = 2 << 20;
		x.index = "events_pkey";
		x.constraint_type = "p";
		x.is_unique = true;
		x.window_scans = 7;
		assert_int_equal(index_facts_add_index(facts, &x, "id", "7", 600 * SECOND), PGF_OK);
		x.index = "events_note_idx";
		x.constraint_type = "";
		x.is_unique = false;
		x.window_scans = member == 0 ? 0 : replica_note_scans;
		assert_int_equal(index_facts_add_index(facts, &x, "note", "7", 600 * SECOND), PGF_OK);
		x.index = "events_user_idx";
		x.window_scans = 3;
		assert_int_equal(index_facts_add_index(facts, &x, joined, "7", 600 * SECOND), PGF_OK);
	}
	if (check != NULL)
		assert_int_equal(index_facts_add_check(facts, check), PGF_OK);
	free(joined);
	return facts;
}

static Pgfleet__V1__IndexRecommendations *
answer_of(const struct index_facts *facts, uint32_t limit)
{
	Pgfleet__V1__IndexRecommendations *answer = malloc(sizeof(*answer));
	assert_non_null(answer);
	pgfleet__v1__index_recommendations__init(answer);
	assert_int_equal(index_answer_recommendations(facts, limit, answer), PGF_OK);
	return answer;
}

static const Pgfleet__V1__IndexRecommendation *
find(const Pgfleet__V1__IndexRecommendations *answer, const char *type, const char *query)
{
	for (size_t i = 0; i < answer->n_rows; i++)
		if (strcmp(answer->rows[i]->type, type) == 0 &&
		    (query == NULL || strcmp(answer->rows[i]->query, query) == 0))
			return answer->rows[i];
	return NULL;
}

static void
test_filters(void **state)
{
	Pgfleet__V1__IndexRecommendationsRequest request =
	    PGFLEET__V1__INDEX_RECOMMENDATIONS_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__TablesFamily tables = PGFLEET__V1__TABLES_FAMILY__INIT;
	struct index_filter filter;
	char *list[] = {(char *) "a", (char *) "lower(b)"};
	char *text;

	(void) state;
	/* no scope: the last day up to now, everything */
	index_answer_request_filter(&request, NOW, &filter);
	assert_string_equal(filter.instance, "");
	assert_int_equal(filter.until_us, NOW);
	assert_int_equal(filter.since_us, NOW - INDEX_ANSWER_DEFAULT_WINDOW_US);
	scope.instance = (char *) "db-1";
	scope.until_us = NOW - HOUR;
	request.scope = &scope;
	index_answer_request_filter(&request, NOW, &filter);
	assert_string_equal(filter.instance, "db-1");
	assert_int_equal(filter.until_us, NOW - HOUR);
	assert_int_equal(filter.since_us, NOW - HOUR - INDEX_ANSWER_DEFAULT_WINDOW_US);
	scope.since_us = NOW - 2 * HOUR;
	index_answer_request_filter(&request, NOW, &filter);
	assert_int_equal(filter.since_us, NOW - 2 * HOUR);

	/* checks: only with a tables snapshot, over the hour before it */
	report.collected_at_us = NOW;
	assert_false(index_answer_check_filter(&report, &filter));
	report.instance = &identity;
	identity.name = (char *) "db-1";
	assert_false(index_answer_check_filter(&report, &filter));
	report.tables = &tables;
	assert_true(index_answer_check_filter(&report, &filter));
	assert_string_equal(filter.instance, "db-1");
	assert_int_equal(filter.until_us, NOW);
	assert_int_equal(filter.since_us, NOW - INDEX_ANSWER_CHECK_WINDOW_US);

	text = index_answer_join_columns(list, 2);
	assert_string_equal(text, "a" INDEX_ANSWER_COLUMN_SEPARATOR "lower(b)");
	free(text);
	text = index_answer_join_columns(NULL, 0);
	assert_string_equal(text, "");
	free(text);
}

static void
test_recommendations(void **state)
{
	struct index_facts *facts;
	Pgfleet__V1__IndexRecommendations *answer;
	const Pgfleet__V1__IndexRecommendation *row;
	const struct index_check_fact ok = {"db-1", "app", 11,
	    "CREATE INDEX ON public.events USING btree (kind)", NOW - HOUR, 1 /* STATUS_OK */,
	    4000.5, 8.25, true, "generic plan", 16384};

	(void) state;
	/* note_idx scanned on the replica: kept; no verdict yet: pending */
	facts = make_facts(4, NULL);
	assert_true(index_facts_any_flagged(facts));
	answer = answer_of(facts, 0);
	row = find(answer, "high_sequential_scans", NULL);
	assert_non_null(row);
	assert_string_equal(row->priority, "high");
	assert_int_equal(row->seq_scans, 100);
	assert_string_equal(row->window, "10m00s");
	row = find(answer, "missing_index", kind_text);
	assert_non_null(row);
	assert_string_equal(row->hypopg_check, "pending");
	assert_int_equal(row->n_columns, 1);
	assert_string_equal(row->columns[0], "kind");
	assert_string_equal(find(answer, "missing_index", update_text)->hypopg_check, "not_checked");
	assert_null(find(answer, "unused", NULL));
	/* sorted by priority, high first */
	for (size_t i = 1; i < answer->n_rows; i++)
		assert_false(strcmp(answer->rows[i - 1]->priority, "low") == 0 &&
		    strcmp(answer->rows[i]->priority, "low") != 0);
	store_answer_free(&answer->base);
	index_facts_free(facts);

	/* unscanned on both members: unused, said of both; the verdict of
	 * the proposal's own index statement is shown */
	facts = make_facts(0, NULL);
	{
		/* the hypothetical index statement the proposal made */
		Pgfleet__V1__IndexCheckRequest **checks = NULL;
		size_t n = 0;
		struct index_check_fact verdict = ok;
		assert_int_equal(index_answer_checks(facts, "db-1", NOW, &checks, &n), PGF_OK);
		assert_int_equal(n, 1); /* the SELECT, not the UPDATE */
		assert_int_equal(checks[0]->queryid, 11);
		assert_int_equal(checks[0]->n_params, 1);
		verdict.index_statement = checks[0]->index_statement;
		index_facts_free(facts);
		facts = make_facts(0, &verdict);
		store_answer_free(&checks[0]->base);
		free(checks);
	}
	answer = answer_of(facts, 0);
	row = find(answer, "unused", NULL);
	assert_non_null(row);
	assert_string_equal(row->index, "events_note_idx");
	assert_string_equal(row->instance, "db-1,db-2");
	assert_string_equal(row->cluster, "7");
	row = find(answer, "missing_index", kind_text);
	assert_string_equal(row->hypopg_check, "ok");
	assert_true(row->cost_before == 4000.5 && row->cost_after == 8.25);
	assert_true(row->hypothetical_index_used);
	assert_non_null(strstr(row->evidence, "from 4000.50 to 8.25"));
	{
		/* the limit keeps the first rows of the sorted answer */
		Pgfleet__V1__IndexRecommendations *first = answer_of(facts, 2);
		assert_true(answer->n_rows > 2);
		assert_int_equal(first->n_rows, 2);
		for (size_t i = 0; i < 2; i++)
			assert_string_equal(first->rows[i]->type, answer->rows[i]->type);
		store_answer_free(&first->base);
	}
	store_answer_free(&answer->base);
	index_facts_free(facts);
}

/* How many checks db-1's agent is asked for with the verdict of status
 * checked at checked_us (0: none) on the proposal. */
static size_t
checks_with(int status, int64_t checked_us)
{
	struct index_facts *facts = make_facts(0, NULL);
	Pgfleet__V1__IndexCheckRequest **checks = NULL;
	struct index_check_fact verdict;
	size_t n = 0;

	assert_int_equal(index_answer_checks(facts, "db-1", NOW, &checks, &n), PGF_OK);
	assert_int_equal(n, 1);
	memset(&verdict, 0, sizeof(verdict));
	verdict.instance = "db-1";
	verdict.database = "app";
	verdict.queryid = 11;
	verdict.index_statement = checks[0]->index_statement;
	verdict.status = status;
	verdict.checked_us = checked_us;
	verdict.detail = "";
	assert_int_equal(index_facts_add_check(facts, &verdict), PGF_OK);
	store_answer_free(&checks[0]->base);
	free(checks);
	assert_int_equal(index_answer_checks(facts, "db-1", NOW, &checks, &n), PGF_OK);
	for (size_t i = 0; i < n; i++)
		store_answer_free(&checks[i]->base);
	free(checks);
	index_facts_free(facts);
	return n;
}

static void
test_checks(void **state)
{
	const int ok = PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK;
	const int missing = PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_NOT_INSTALLED;
	struct index_facts *facts = index_facts_new();
	Pgfleet__V1__IndexCheckRequest **checks = NULL;
	size_t n = 7;

	(void) state;
	/* nothing flagged: nothing asked */
	assert_false(index_facts_any_flagged(facts));
	assert_int_equal(index_answer_checks(facts, "db-1", NOW, &checks, &n), PGF_OK);
	assert_int_equal(n, 0);
	assert_null(checks);
	index_facts_free(facts);
	/* a plan stands for a day, a failure for an hour; another
	 * instance's verdict is not this one's */
	assert_int_equal(checks_with(ok, NOW - INDEX_ANSWER_CHECK_FRESH_US + SECOND), 0);
	assert_int_equal(checks_with(ok, NOW - INDEX_ANSWER_CHECK_FRESH_US), 1);
	assert_int_equal(checks_with(missing, NOW - INDEX_ANSWER_RECHECK_FAILED_US + SECOND), 0);
	assert_int_equal(checks_with(missing, NOW - INDEX_ANSWER_RECHECK_FAILED_US - SECOND), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_recommendations),
		cmocka_unit_test(test_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
