/*
 * test_activity_replication.c - the SQL the activity and replication
 * families choose by server version, checked without a server: PG 14
 * brought pg_locks.waitstart and pg_get_wal_replay_pause_state().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/family_activity.h"
#include "agent/family_replication.h"

static void
test_blocking_13_has_no_waitstart(void **state)
{
	char buf[8192];
	(void) state;
	assert_true(activity_blocking_sql(130000, buf, sizeof(buf)));
	assert_null(strstr(buf, "l.waitstart"));
	assert_non_null(strstr(buf, "NULL::timestamptz AS waitstart"));
}

static void
test_blocking_14_and_later_use_waitstart(void **state)
{
	static const int versions[] = {140000, 150004, 160000, 170002};
	char buf[8192];
	(void) state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		assert_true(activity_blocking_sql(versions[i], buf, sizeof(buf)));
		assert_non_null(strstr(buf, "l.waitstart AS waitstart"));
	}
}

static void
test_blocking_asks_only_waiting_backends(void **state)
{
	char buf[8192];
	const char *materialized;
	const char *blocking_pids;
	(void) state;
	assert_true(activity_blocking_sql(150000, buf, sizeof(buf)));
	/* pg_blocking_pids() runs over the materialized waiting backends,
	 * never over pg_stat_activity as a whole */
	materialized = strstr(buf, "WITH waiting AS MATERIALIZED");
	blocking_pids = strstr(buf, "pg_blocking_pids(pid)) AS blocking_pid FROM waiting");
	assert_non_null(materialized);
	assert_non_null(strstr(buf, "wait_event_type = 'Lock'"));
	assert_non_null(blocking_pids);
	assert_true(materialized < blocking_pids);
	assert_non_null(strstr(buf, "pg_backend_pid()"));
}

static void
test_blocking_refuses_a_small_buffer(void **state)
{
	char buf[64];
	(void) state;
	assert_false(activity_blocking_sql(150000, buf, sizeof(buf)));
}

static void
test_paused_by_version(void **state)
{
	(void) state;
	assert_string_equal(replication_paused_sql(130000), "pg_catalog.pg_is_wal_replay_paused()");
	assert_string_equal(replication_paused_sql(130015), "pg_catalog.pg_is_wal_replay_paused()");
	assert_string_equal(replication_paused_sql(140000),
	    "pg_catalog.pg_get_wal_replay_pause_state() <> 'not paused'");
	assert_string_equal(replication_paused_sql(170002),
	    "pg_catalog.pg_get_wal_replay_pause_state() <> 'not paused'");
}

/* The slots a pool cannot use: superuser_reserved_connections, plus on
 * PG 16+ reserved_connections (a setting older servers do not have). */
static void
test_limits_by_version(void **state)
{
	static const int before16[] = {130000, 140000, 150004, 159999};
	static const int from16[] = {160000, 170002};
	(void) state;
	for (size_t i = 0; i < sizeof(before16) / sizeof(before16[0]); i++) {
		const char *sql = activity_limits_sql(before16[i]);
		assert_non_null(strstr(sql, "'superuser_reserved_connections'"));
		assert_null(strstr(sql, "'reserved_connections'"));
	}
	for (size_t i = 0; i < sizeof(from16) / sizeof(from16[0]); i++) {
		const char *sql = activity_limits_sql(from16[i]);
		assert_non_null(strstr(sql, "'superuser_reserved_connections'"));
		assert_non_null(strstr(sql, "+ pg_catalog.current_setting('reserved_connections')"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocking_13_has_no_waitstart),
	    cmocka_unit_test(test_blocking_14_and_later_use_waitstart),
	    cmocka_unit_test(test_blocking_asks_only_waiting_backends),
	    cmocka_unit_test(test_blocking_refuses_a_small_buffer),
	    cmocka_unit_test(test_paused_by_version),
	    cmocka_unit_test(test_limits_by_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
