/* test_rate_limit.c - token buckets per agent, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "collector/rate_limit.h"

/* Counts how many of n takes at now_ms succeed. */
static int
take_n(struct rate_limit *limit, const char *key, int64_t now_ms, int n)
{
	int ok = 0;
	int64_t retry;
	for (int i = 0; i < n; i++)
		ok += rate_limit_take(limit, key, now_ms, &retry) ? 1 : 0;
	return ok;
}

static void
test_burst_then_rate(void **state)
{
	struct rate_limit *limit = rate_limit_new(50, 200, 16);
	int64_t retry = 0;
	(void) state;

	assert_non_null(limit);
	/* a backlog replay: the burst goes at once */
	assert_int_equal(take_n(limit, "agent-a", 0, 200), 200);
	assert_false(rate_limit_take(limit, "agent-a", 0, &retry));
	/* 50/s: the next token in 20 ms */
	assert_int_equal(retry, 20);
	assert_false(rate_limit_take(limit, "agent-a", 19, &retry));
	assert_int_equal(retry, 1);
	assert_true(rate_limit_take(limit, "agent-a", 20, &retry));
	/* one second later: 50 more, not 51 */
	assert_int_equal(take_n(limit, "agent-a", 1020, 60), 50);
	/* other agents are not slowed by agent-a */
	assert_int_equal(take_n(limit, "agent-b", 1020, 200), 200);
	assert_int_equal(rate_limit_keys(limit), 2);
	rate_limit_free(limit);
}

/* Paced at exactly the rate, an agent is never refused: after the burst,
 * a replay of 10 000 reports at 50/s drains in 196 s with no refusal. */
static void
test_steady_at_rate_never_refused(void **state)
{
	struct rate_limit *limit = rate_limit_new(50, 200, 16);
	int64_t now = 0, retry;
	int refused = 0, sent = 0;
	(void) state;

	while (sent < 10000) {
		if (rate_limit_take(limit, "replay", now, &retry))
			sent++;
		else {
			refused++;
			now += retry; /* the agent honours retry_after_ms */
		}
	}
	/* 200 at once, then 50 a second */
	assert_true(now >= 195000 && now <= 196000);
	/* each refusal is followed by a wait that earns a token */
	assert_int_equal(refused, 10000 - 200);
	rate_limit_free(limit);
}

static void
test_fractional_and_clock_backwards(void **state)
{
	struct rate_limit *limit = rate_limit_new(3, 1, 4);
	int64_t retry = 0;
	(void) state;

	assert_true(rate_limit_take(limit, "k", 1000, &retry));
	assert_false(rate_limit_take(limit, "k", 1000, &retry));
	/* 1/3 s, rounded up */
	assert_int_equal(retry, 334);
	assert_false(rate_limit_take(limit, "k", 1333, &retry));
	assert_true(rate_limit_take(limit, "k", 1334, &retry));
	/* a clock that goes back refills nothing and breaks nothing */
	assert_false(rate_limit_take(limit, "k", 500, &retry));
	assert_true(retry >= 1);
	/* idle long: the bucket is full again (burst 1), not more */
	assert_int_equal(take_n(limit, "k", 10000000, 5), 1);
	rate_limit_free(limit);
}

/* At most max_keys buckets: full ones are forgotten for a newcomer; when
 * every bucket is mid-burst the newcomer waits (never refused for good). */
static void
test_bounded_keys(void **state)
{
	struct rate_limit *limit = rate_limit_new(1, 2, 3);
	int64_t retry = 0;
	(void) state;

	assert_true(rate_limit_take(limit, "a", 0, &retry));
	assert_true(rate_limit_take(limit, "b", 0, &retry));
	assert_true(rate_limit_take(limit, "c", 0, &retry));
	assert_int_equal(rate_limit_keys(limit), 3);
	/* a, b, c are all mid-burst at 0 */
	assert_false(rate_limit_take(limit, "d", 0, &retry));
	assert_true(retry >= 1);
	assert_int_equal(rate_limit_keys(limit), 3);
	/* one second later they are full again: forgotten, d gets in */
	assert_true(rate_limit_take(limit, "d", 1000, &retry));
	assert_true(rate_limit_keys(limit) <= 3);
	/* a forgotten key comes back with a full bucket, as a new one */
	assert_int_equal(take_n(limit, "a", 1000, 3), 2);
	rate_limit_free(limit);
}

static void
test_no_limit(void **state)
{
	struct rate_limit *limit = rate_limit_new(0, 1, 1);
	(void) state;
	assert_int_equal(take_n(limit, "x", 0, 100000), 100000);
	assert_int_equal(rate_limit_keys(limit), 0);
	rate_limit_free(limit);
	rate_limit_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_rate),
	    cmocka_unit_test(test_steady_at_rate_never_refused),
	    cmocka_unit_test(test_fractional_and_clock_backwards),
	    cmocka_unit_test(test_bounded_keys),
	    cmocka_unit_test(test_no_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
