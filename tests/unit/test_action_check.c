/* test_action_check.c - which statements an EXPLAIN (ANALYZE) action takes,
 * and which EXPLAIN text goes to which server version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/action_check.h"

/* refused_with: the check refuses sql, with pattern in the reason. */
static void
refused_with(const char *sql, bool analyze, const char *pattern)
{
	struct action_check_result result;
	char errbuf[512] = "";
	int rv = action_check_statement(sql, analyze, &result, errbuf, sizeof(errbuf));
	if (rv == PGF_OK)
		fail_msg("accepted (analyze %d): %s", analyze, sql);
	if (strstr(errbuf, pattern) == NULL)
		fail_msg(
		    "refused \"%s\" with \"%s\", expected \"%s\"", sql, errbuf, pattern);
	assert_null(strchr(errbuf, '\n'));
}

static struct action_check_result
accepted(const char *sql, bool analyze)
{
	struct action_check_result result;
	char errbuf[512] = "";
	if (action_check_statement(sql, analyze, &result, errbuf, sizeof(errbuf))
	    != PGF_OK)
		fail_msg("refused (analyze %d) \"%s\": %s", analyze, sql, errbuf);
	return result;
}

static void
test_plain_selects_pass(void **state)
{
	struct action_check_result r;
	(void) state;
	r = accepted("SELECT * FROM t WHERE id = 1", true);
	assert_false(r.has_params);
	assert_string_equal(r.kind, "SelectStmt");
	accepted("WITH x AS (SELECT 1 AS a) SELECT a FROM x", true);
	accepted("SELECT pg_sleep(1)", true);
	accepted("VALUES (1), (2)", true);
	accepted("TABLE t", true);
	accepted("/* comment */ SELECT 1", true);
	accepted(
	    "SELECT count(*) FROM t JOIN u USING (id) WHERE u.x IN (SELECT y FROM v)",
	    true);
	accepted(
	    "SELECT now(), current_setting('work_mem'), pg_catalog.lower('A')", true);
}

static void
test_span_drops_the_semicolon(void **state)
{
	const char *sql = "  SELECT 1 ;  ";
	struct action_check_result r = accepted(sql, true);
	(void) state;
	/* the statement without its ';' and what follows */
	assert_true(r.start + r.length <= 11);
	assert_null(memchr(sql + r.start, ';', r.length));
	assert_non_null(memmem(sql + r.start, r.length, "SELECT 1", 8));
	/* a second statement's span would start after the first's */
	r = accepted("SELECT 2 /* tail */", true);
	assert_int_equal(r.start, 0);
	assert_int_equal(r.length, strlen("SELECT 2 /* tail */"));
}

static void
test_multiple_statements_refused(void **state)
{
	(void) state;
	refused_with("SELECT 1; SELECT 2", true, "2 statements");
	refused_with("SELECT 1; DELETE FROM t", true, "2 statements");
	refused_with("SELECT 1; DELETE FROM t", false, "2 statements");
	refused_with("SELECT 1;;; UPDATE t SET a = 1", false, "statements");
	refused_with("", true, "no statement");
	refused_with("   ", false, "no statement");
	refused_with("-- only a comment", true, "no statement");
	refused_with("SELEC 1", true, "does not parse");
	refused_with("SELECT (", false, "does not parse");
}

static void
test_not_a_select_refused_for_analyze(void **state)
{
	(void) state;
	refused_with("DELETE FROM t", true, "only a SELECT");
	refused_with("UPDATE t SET v = 1", true, "only a SELECT");
	refused_with("INSERT INTO t VALUES (1)", true, "only a SELECT");
	refused_with("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", true,
	    "only a SELECT");
	refused_with("DO $$BEGIN DELETE FROM t; END$$", true, "only a SELECT");
	refused_with("DO $$BEGIN DELETE FROM t; END$$", false, "cannot be explained");
	refused_with("CREATE TABLE x (a int)", false, "cannot be explained");
	refused_with("COPY t TO '/tmp/x'", false, "cannot be explained");
	refused_with("SET work_mem = '1GB'", false, "cannot be explained");
	refused_with("EXPLAIN ANALYZE DELETE FROM t", false, "cannot be explained");
	refused_with("CALL p()", false, "cannot be explained");
	refused_with("PREPARE p AS DELETE FROM t", false, "cannot be explained");
	refused_with("EXECUTE p", false, "cannot be explained");
	refused_with("CREATE TABLE x AS SELECT 1", false, "cannot be explained");
	refused_with("BEGIN", false, "cannot be explained");
	refused_with("COMMIT", true, "only a SELECT");
}

static void
test_writing_ctes_refused(void **state)
{
	(void) state;
	refused_with("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", true,
	    "data-modifying");
	refused_with("WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT 1", true,
	    "data-modifying");
	refused_with("WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT 1", true,
	    "data-modifying");
	/* nested: a writing CTE inside a subquery's WITH */
	refused_with(
	    "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d) s",
	    true, "data-modifying");
	refused_with(
	    "WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM t RETURNING 1) SELECT 1)"
	    " SELECT * FROM a, b",
	    true, "data-modifying");
}

static void
test_into_and_locks_refused(void **state)
{
	(void) state;
	refused_with("SELECT * INTO x FROM t", true, "SELECT INTO");
	refused_with("SELECT * INTO TEMP x FROM t", false, "SELECT INTO");
	refused_with("SELECT * FROM t FOR UPDATE", true, "FOR UPDATE");
	refused_with("SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", true, "FOR UPDATE");
	refused_with("SELECT * FROM (SELECT * FROM t FOR SHARE) s", true, "FOR UPDATE");
	refused_with("SELECT * FROM t WHERE id IN (SELECT id FROM u FOR KEY SHARE)", true,
	    "FOR UPDATE");
}

static void
test_blocklisted_functions_refused(void **state)
{
	(void) state;
	refused_with("SELECT pg_terminate_backend(1)", true, "\"pg_terminate_backend\"");
	refused_with(
	    "SELECT pg_catalog.pg_cancel_backend(1)", true, "\"pg_cancel_backend\"");
	refused_with("SELECT PG_TERMINATE_BACKEND(1)", true, "not allowed");
	refused_with("SELECT \"pg_terminate_backend\"(1)", true, "not allowed");
	refused_with("SELECT (SELECT (SELECT pg_terminate_backend(pid) FROM "
		     "pg_stat_activity LIMIT 1))",
	    true, "pg_terminate_backend");
	refused_with(
	    "SELECT * FROM t WHERE id IN (SELECT nextval('s'))", true, "\"nextval\"");
	refused_with("SELECT 1 FROM t JOIN LATERAL (SELECT setval('s', 1)) x ON true",
	    true, "\"setval\"");
	refused_with("SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", true,
	    "\"dblink\"");
	refused_with(
	    "SELECT dblink_exec('host=x', 'DELETE FROM t')", true, "\"dblink_exec\"");
	refused_with("SELECT lo_import('/etc/passwd')", true, "\"lo_import\"");
	refused_with("SELECT pg_read_file('/etc/passwd')", true, "\"pg_read_file\"");
	refused_with(
	    "SELECT pg_read_binary_file('/etc/passwd')", true, "pg_read_binary_file");
	refused_with(
	    "SELECT set_config('work_mem', '1GB', false)", true, "\"set_config\"");
	refused_with("SELECT pg_advisory_lock(1)", true, "\"pg_advisory_lock\"");
	refused_with(
	    "SELECT pg_try_advisory_xact_lock(1)", true, "pg_try_advisory_xact_lock");
	refused_with("SELECT pg_notify('c', 'x')", true, "\"pg_notify\"");
	refused_with("SELECT txid_current()", true, "\"txid_current\"");
	refused_with("SELECT pg_current_xact_id()", true, "pg_current_xact_id");
	refused_with("SELECT query_to_xml('DELETE FROM t RETURNING *', true, true, '')",
	    true, "query_to_xml");
	refused_with("SELECT pg_switch_wal()", true, "pg_switch_wal");
	refused_with(
	    "SELECT pg_create_restore_point('x')", true, "pg_create_restore_point");
	refused_with("SELECT pg_stat_reset()", true, "pg_stat_reset");
	refused_with("SELECT pg_reload_conf()", true, "pg_reload_conf");
	refused_with("SELECT 1 UNION ALL SELECT nextval('s')", true, "nextval");
	refused_with("SELECT CASE WHEN x THEN pg_terminate_backend(1) END FROM t", true,
	    "pg_terminate_backend");
	refused_with(
	    "SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM pg_stat_activity",
	    true, "pg_cancel_backend");
	refused_with("SELECT * FROM t ORDER BY nextval('s')", true, "nextval");
	refused_with(
	    "SELECT array_agg(x ORDER BY setval('s', 1)) FROM t", true, "setval");
	/* plain EXPLAIN runs nothing: functions do not matter there */
	accepted("SELECT nextval('s')", false);
	accepted("INSERT INTO t VALUES (nextval('s'))", false);
	accepted("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", false);
	accepted("DELETE FROM t WHERE v < 5", false);
}

static void
test_blocklist_names(void **state)
{
	(void) state;
	assert_true(action_check_blocklisted("dblink_connect"));
	assert_true(action_check_blocklisted("lo_unlink"));
	assert_true(action_check_blocklisted("pg_write_file"));
	assert_false(action_check_blocklisted("pg_sleep"));
	assert_false(action_check_blocklisted("lower"));
	assert_false(action_check_blocklisted("count"));
	assert_false(action_check_blocklisted("lo"));
	assert_false(action_check_blocklisted("currval"));
}

static void
test_parameters_found(void **state)
{
	struct action_check_result r;
	(void) state;
	r = accepted("SELECT * FROM t WHERE id = $1 AND v IN (SELECT $3)", false);
	assert_true(r.has_params);
	assert_int_equal(r.param_count, 3);
	r = accepted("SELECT * FROM t WHERE id = 1", false);
	assert_false(r.has_params);
	assert_int_equal(r.param_count, 0);
}

/* explain_sql: the EXPLAIN text for a version, or the reason there is none */
static void
test_explain_sql_by_version(void **state)
{
	const char *statement = "SELECT * FROM t WHERE id = $1 AND v = $2";
	const char *options = NULL;
	char errbuf[512];
	char *sql = NULL;
	char *prepare = NULL;
	(void) state;

	/* parameters: GENERIC_PLAN from 16 on */
	for (int version = 160000; version <= 170004; version += 10004) {
		assert_int_equal(
		    action_explain_sql(statement, strlen(statement), false, 2, version,
			&prepare, &sql, &options, errbuf, sizeof(errbuf)),
		    PGF_OK);
		assert_string_equal(sql,
		    "EXPLAIN (GENERIC_PLAN, FORMAT JSON) SELECT * FROM t WHERE id = $1 "
		    "AND v = $2");
		assert_null(prepare);
		assert_string_equal(options, "GENERIC_PLAN");
		free(sql);
	}
	/* before 16: PREPARE, then EXPLAIN EXECUTE with NULLs under a forced
	 * generic plan */
	for (int version = 130000; version <= 150000; version += 10000) {
		assert_int_equal(
		    action_explain_sql(statement, strlen(statement), false, 2, version,
			&prepare, &sql, &options, errbuf, sizeof(errbuf)),
		    PGF_OK);
		assert_string_equal(prepare,
		    "PREPARE pgfleet_explain AS SELECT * FROM t WHERE id = $1 AND v = "
		    "$2");
		assert_string_equal(
		    sql, "EXPLAIN (FORMAT JSON) EXECUTE pgfleet_explain(NULL, NULL)");
		assert_non_null(strstr(options, "force_generic_plan"));
		free(sql);
		free(prepare);
	}
	/* no parameters: every version, no PREPARE */
	for (int version = 130000; version <= 170000; version += 10000) {
		assert_int_equal(action_explain_sql("SELECT 1", 8, false, 0, version,
				     &prepare, &sql, &options, errbuf, sizeof(errbuf)),
		    PGF_OK);
		assert_string_equal(sql, "EXPLAIN (FORMAT JSON) SELECT 1");
		assert_null(prepare);
		assert_string_equal(options, "");
		free(sql);
		assert_int_equal(action_explain_sql("SELECT 1", 8, true, 0, version,
				     &prepare, &sql, &options, errbuf, sizeof(errbuf)),
		    PGF_OK);
		assert_string_equal(
		    sql, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1");
		assert_null(prepare);
		free(sql);
	}
	/* ANALYZE needs values, on every version */
	for (int version = 130000; version <= 170000; version += 10000) {
		assert_int_equal(
		    action_explain_sql(statement, strlen(statement), true, 2, version,
			&prepare, &sql, &options, errbuf, sizeof(errbuf)),
		    PGF_EINVAL);
		assert_null(sql);
		assert_null(prepare);
		assert_non_null(strstr(errbuf, "needs values"));
	}
	/* only the span given */
	assert_int_equal(action_explain_sql("SELECT 1; junk", 8, false, 0, 150000,
			     &prepare, &sql, &options, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_string_equal(sql, "EXPLAIN (FORMAT JSON) SELECT 1");
	free(sql);
}

static void
test_oversize_refused(void **state)
{
	size_t len = ACTION_CHECK_MAX_STATEMENT + 10;
	char *sql = malloc(len + 1);
	(void) state;
	memset(sql, ' ', len);
	memcpy(sql, "SELECT 1", 8);
	sql[len] = '\0';
	refused_with(sql, false, "longer than");
	free(sql);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_selects_pass),
		cmocka_unit_test(test_span_drops_the_semicolon),
		cmocka_unit_test(test_multiple_statements_refused),
		cmocka_unit_test(test_not_a_select_refused_for_analyze),
		cmocka_unit_test(test_writing_ctes_refused),
		cmocka_unit_test(test_into_and_locks_refused),
		cmocka_unit_test(test_blocklisted_functions_refused),
		cmocka_unit_test(test_blocklist_names),
		cmocka_unit_test(test_parameters_found),
		cmocka_unit_test(test_explain_sql_by_version),
		cmocka_unit_test(test_oversize_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
