/* test_collector_list.c - the agent's collector address list (parsing) and
 * its failover policy on a fake clock: sticky while answered, failover
 * after collector_failover_after and two failures, wrap round, return to
 * the first address every collector_return_after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "agent/collector_list.h"

static void
test_parse_one_and_many(void **state)
{
	struct collector_list list;
	char errbuf[256];

	(void) state;
	assert_int_equal(collector_list_parse("tcp://127.0.0.1:7450", "collector", &list,
			     errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(list.count, 1);
	assert_string_equal(list.addresses[0], "tcp://127.0.0.1:7450");
	collector_list_fini(&list);

	assert_int_equal(
	    collector_list_parse(" tcp://a:7450 ,tcp://b:7450,\ttcp://c:7451 ",
		"collector", &list, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(list.count, 3);
	assert_string_equal(list.addresses[0], "tcp://a:7450");
	assert_string_equal(list.addresses[1], "tcp://b:7450");
	assert_string_equal(list.addresses[2], "tcp://c:7451");
	collector_list_fini(&list);
	/* fini of an emptied list is a no-op */
	collector_list_fini(&list);
	assert_int_equal(list.count, 0);

	assert_int_equal(collector_list_parse("ipc:///run/pgfleet/c.sock", "collector",
			     &list, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(list.count, 1);
	collector_list_fini(&list);
}

/* bad input: one line naming the key (and the address when there is one) */
static void
expect_error(const char *text, const char *needle)
{
	struct collector_list list;
	char errbuf[256] = "";

	assert_int_equal(
	    collector_list_parse(text, "collector", &list, errbuf, sizeof(errbuf)),
	    PGF_ECONFIG);
	assert_int_equal(list.count, 0);
	assert_non_null(strstr(errbuf, "collector"));
	if (strstr(errbuf, needle) == NULL)
		fail_msg("\"%s\": error \"%s\" lacks \"%s\"", text, errbuf, needle);
	assert_null(strchr(errbuf, '\n'));
}

static void
test_parse_errors(void **state)
{
	char many[1024] = "";

	(void) state;
	expect_error("", "empty address");
	expect_error("   ", "empty address");
	expect_error("tcp://a:1,", "empty address");
	expect_error("tcp://a:1,,tcp://b:1", "empty address");
	expect_error(",tcp://a:1", "empty address");
	expect_error("tcp://a:1, tcp://a:1", "\"tcp://a:1\" is listed twice");
	expect_error("localhost:7450", "\"localhost:7450\"");
	expect_error("tcp://a:1, nonsense", "\"nonsense\"");
	for (int i = 0; i <= COLLECTOR_LIST_MAX; i++) {
		char one[32];
		snprintf(one, sizeof(one), "%stcp://h%d:1", i > 0 ? "," : "", i);
		strcat(many, one);
	}
	expect_error(many, "more than 16");
}

/* a transport nng does not know is found before the agent runs, wherever
 * it is in the list */
static void
test_check_dialable(void **state)
{
	struct collector_list list;
	char errbuf[256] = "";

	(void) state;
	assert_int_equal(collector_list_parse("tcp://127.0.0.1:1, ipc:///tmp/x.sock",
			     "collector", &list, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(
	    collector_list_check_dialable(&list, "collector", errbuf, sizeof(errbuf)),
	    PGF_OK);
	collector_list_fini(&list);
	assert_int_equal(collector_list_parse("tcp://127.0.0.1:1, bogus://x", "collector",
			     &list, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(
	    collector_list_check_dialable(&list, "collector", errbuf, sizeof(errbuf)),
	    PGF_ECONFIG);
	assert_non_null(strstr(errbuf, "invalid collector address \"bogus://x\""));
	collector_list_fini(&list);
}

#define FAILOVER 30000
#define RETURN   300000

static void
test_single_address_never_moves(void **state)
{
	struct collector_list_policy policy;

	(void) state;
	collector_list_policy_init(&policy, 1, FAILOVER, RETURN, 0);
	for (int64_t t = 0; t < 10 * RETURN; t += 1000) {
		assert_int_equal(
		    collector_list_policy_before_send(&policy, t), COLLECTOR_LIST_STAY);
		assert_int_equal(
		    collector_list_policy_after(&policy, false, t), COLLECTOR_LIST_STAY);
	}
	assert_int_equal(policy.current, 0);
	assert_int_equal(policy.switches, 0);
}

static void
test_sticky_while_answered(void **state)
{
	struct collector_list_policy policy;

	(void) state;
	collector_list_policy_init(&policy, 3, FAILOVER, RETURN, 0);
	/* answers, with failures in between that never last long enough */
	for (int64_t t = 0; t < 3600000; t += 10000) {
		assert_int_equal(
		    collector_list_policy_before_send(&policy, t), COLLECTOR_LIST_STAY);
		assert_int_equal(
		    collector_list_policy_after(&policy, (t / 10000) % 3 != 0, t),
		    COLLECTOR_LIST_STAY);
	}
	assert_int_equal(policy.current, 0);
	assert_int_equal(policy.switches, 0);
}

static void
test_failover_after_time_and_two_failures(void **state)
{
	struct collector_list_policy policy;

	(void) state;
	collector_list_policy_init(&policy, 2, FAILOVER, RETURN, 0);
	assert_int_equal(
	    collector_list_policy_after(&policy, true, 1000), COLLECTOR_LIST_STAY);
	/* first failure at 2 s starts the clock */
	assert_int_equal(
	    collector_list_policy_after(&policy, false, 2000), COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_after(&policy, false, 2000 + FAILOVER - 1),
	    COLLECTOR_LIST_STAY);
	assert_int_equal(policy.current, 0);
	assert_int_equal(collector_list_policy_after(&policy, false, 2000 + FAILOVER),
	    COLLECTOR_LIST_FAILOVER);
	assert_int_equal(policy.current, 1);
	assert_int_equal(policy.switches, 1);

	/* one failure, however long after the last answer, is not enough:
	 * a single slow ack never moves an agent */
	collector_list_policy_init(&policy, 2, FAILOVER, RETURN, 0);
	assert_int_equal(collector_list_policy_after(&policy, false, 10 * FAILOVER),
	    COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_after(&policy, false, 11 * FAILOVER),
	    COLLECTOR_LIST_FAILOVER);

	/* an answer in between restarts the clock */
	collector_list_policy_init(&policy, 2, FAILOVER, RETURN, 0);
	assert_int_equal(
	    collector_list_policy_after(&policy, false, 0), COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_after(&policy, true, FAILOVER - 1),
	    COLLECTOR_LIST_STAY);
	assert_int_equal(
	    collector_list_policy_after(&policy, false, FAILOVER), COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_after(&policy, false, FAILOVER + 1),
	    COLLECTOR_LIST_STAY);
	assert_int_equal(policy.current, 0);
}

static void
test_failover_wraps_round(void **state)
{
	struct collector_list_policy policy;
	const size_t expected[] = { 1, 2, 0, 1 };
	int64_t t = 0;

	(void) state;
	collector_list_policy_init(&policy, 3, FAILOVER, 0, 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(
		    collector_list_policy_after(&policy, false, t), COLLECTOR_LIST_STAY);
		t += FAILOVER;
		assert_int_equal(collector_list_policy_after(&policy, false, t),
		    COLLECTOR_LIST_FAILOVER);
		assert_int_equal(policy.current, expected[i]);
	}
	assert_int_equal(policy.switches, 4);
}

static void
test_return_to_first(void **state)
{
	struct collector_list_policy policy;
	int64_t t;

	(void) state;
	collector_list_policy_init(&policy, 2, FAILOVER, RETURN, 0);
	assert_int_equal(
	    collector_list_policy_after(&policy, false, 0), COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_after(&policy, false, FAILOVER),
	    COLLECTOR_LIST_FAILOVER);
	t = FAILOVER;
	/* on the second address: no probe before return_after */
	assert_int_equal(collector_list_policy_before_send(&policy, t + RETURN - 1),
	    COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_after(&policy, true, t + RETURN - 1),
	    COLLECTOR_LIST_STAY);
	/* the first address still fails: straight back, no failover wait */
	assert_int_equal(
	    collector_list_policy_before_send(&policy, t + RETURN), COLLECTOR_LIST_PROBE);
	assert_int_equal(policy.current, 0);
	assert_int_equal(collector_list_policy_after(&policy, false, t + RETURN + 2000),
	    COLLECTOR_LIST_PROBE_FAILED);
	assert_int_equal(policy.current, 1);
	assert_int_equal(policy.switches, 1);
	/* the next probe waits another return_after from then */
	t += RETURN + 2000;
	assert_int_equal(collector_list_policy_before_send(&policy, t + RETURN - 1),
	    COLLECTOR_LIST_STAY);
	assert_int_equal(
	    collector_list_policy_before_send(&policy, t + RETURN), COLLECTOR_LIST_PROBE);
	/* it answers: the agent stays on the first address */
	assert_int_equal(collector_list_policy_after(&policy, true, t + RETURN + 10),
	    COLLECTOR_LIST_RETURNED);
	assert_int_equal(policy.current, 0);
	assert_int_equal(policy.switches, 2);
	/* and never probes while there */
	assert_int_equal(collector_list_policy_before_send(&policy, t + 100 * RETURN),
	    COLLECTOR_LIST_STAY);
}

static void
test_probe_keeps_failover_clock(void **state)
{
	struct collector_list_policy policy;

	(void) state;
	/* three addresses, on the second, which starts failing just before a
	 * probe of the first that fails too */
	collector_list_policy_init(&policy, 3, FAILOVER, RETURN, 0);
	assert_int_equal(
	    collector_list_policy_after(&policy, false, 0), COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_after(&policy, false, FAILOVER),
	    COLLECTOR_LIST_FAILOVER);
	assert_int_equal(policy.current, 1);
	assert_int_equal(
	    collector_list_policy_after(&policy, false, FAILOVER + RETURN - 5),
	    COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_before_send(&policy, FAILOVER + RETURN),
	    COLLECTOR_LIST_PROBE);
	assert_int_equal(
	    collector_list_policy_after(&policy, false, FAILOVER + RETURN + 1),
	    COLLECTOR_LIST_PROBE_FAILED);
	assert_int_equal(policy.current, 1);
	/* the second address's failure clock ran on through the probe */
	assert_int_equal(
	    collector_list_policy_after(&policy, false, 2 * FAILOVER + RETURN - 5),
	    COLLECTOR_LIST_FAILOVER);
	assert_int_equal(policy.current, 2);
	/* return_after 0: never back to the first */
	collector_list_policy_init(&policy, 2, FAILOVER, 0, 0);
	assert_int_equal(
	    collector_list_policy_after(&policy, false, 0), COLLECTOR_LIST_STAY);
	assert_int_equal(collector_list_policy_after(&policy, false, FAILOVER),
	    COLLECTOR_LIST_FAILOVER);
	assert_int_equal(collector_list_policy_before_send(&policy, 1000 * RETURN),
	    COLLECTOR_LIST_STAY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_one_and_many),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_check_dialable),
		cmocka_unit_test(test_single_address_never_moves),
		cmocka_unit_test(test_sticky_while_answered),
		cmocka_unit_test(test_failover_after_time_and_two_failures),
		cmocka_unit_test(test_failover_wraps_round),
		cmocka_unit_test(test_return_to_first),
		cmocka_unit_test(test_probe_keeps_failover_clock),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	/* collector_list_check_dialable started nng's threads: stop them,
	 * so valgrind sees nothing left */
	nng_fini();
	return failed;
}
