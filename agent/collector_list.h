/*
 * collector_list.h - the agent's list of collector addresses and the policy
 * that picks the one it sends to. Parsing and the policy are pure code
 * (the caller passes the time in, so tests run on a fake clock); only
 * collector_list_check_dialable touches nng.
 *
 * The policy, in the words an operator reads in the README:
 *   - sticky: the agent sends to one collector at a time, the first of the
 *     list at start, and stays with it while it acknowledges; one agent's
 *     reports go to one collector in normal operation;
 *   - failover: an exchange that gets no answer (nothing listens, the
 *     connection drops, no Ack within ack_timeout), a RETRY_AFTER (the
 *     collector cannot store right now) or an "unauthorized" refusal (it
 *     does not take this agent's reports) is a failure; once the current
 *     collector has failed for collector_failover_after (measured from its
 *     first failure, and at least two failed exchanges, so one slow ack
 *     never moves an agent) the agent moves to the next address, wrapping
 *     round to the first; a REJECTED ack is an answer (the collector
 *     works, the report is what is wrong), and so is a RETRY_AFTER "rate
 *     limited" (the collector works and paces a backlog);
 *   - return: on any other address than the first, every
 *     collector_return_after (0 = never) the agent tries the first one
 *     again with its next exchange; an answer keeps it there, a failure
 *     sends it straight back to where it was (no failover wait). Without
 *     this a fleet would pile onto the last collector standing after a
 *     restart of the others and never spread out again.
 * No randomness: the same failures at the same times give the same moves.
 */
#ifndef PGFLEET_AGENT_COLLECTOR_LIST_H
#define PGFLEET_AGENT_COLLECTOR_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* More addresses than an operator would list by hand. */
#define COLLECTOR_LIST_MAX 16

struct collector_list {
	/* owned; count entries, in the order given */
	char *addresses[COLLECTOR_LIST_MAX];
	size_t count;
};

/*
 * collector_list_parse reads a comma-separated list of nng addresses
 * ("tcp://a:7450, tcp://b:7450"); spaces around an address are ignored.
 * Refuses an empty list or entry, an address nng cannot parse, a duplicate
 * and more than COLLECTOR_LIST_MAX entries, with a one-line reason naming
 * key in errbuf (PGF_ECONFIG), or PGF_ENOMEM. On success the caller owns
 * *out (collector_list_fini); on failure *out is empty.
 */
int collector_list_parse(const char *text, const char *key, struct collector_list *out,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* collector_list_check_dialable tells whether nng can dial every address
 * (a transport this build knows, a valid host and port) by creating a
 * dialer on a scratch socket that is never started: nothing connects. Not
 * pure, but safe at start-up. PGF_ECONFIG with "invalid KEY address "X":
 * reason" in errbuf; PGF_EIO when no socket can be opened. */
int collector_list_check_dialable(const struct collector_list *list, const char *key,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* collector_list_fini frees the addresses; an empty list is a no-op. */
void collector_list_fini(struct collector_list *list);

/* What the caller must do after a policy call. */
enum collector_list_move {
	/* keep the current address */
	COLLECTOR_LIST_STAY,
	/* the current one failed long enough: now on the next address */
	COLLECTOR_LIST_FAILOVER,
	/* before_send: try the first address with this exchange */
	COLLECTOR_LIST_PROBE,
	/* the first address answered the probe: stay there */
	COLLECTOR_LIST_RETURNED,
	/* the probe failed: back on the address before it */
	COLLECTOR_LIST_PROBE_FAILED,
};

struct collector_list_policy {
	size_t count;
	/* the address exchanges go to now */
	size_t current;
	int64_t failover_after_ms;
	int64_t return_after_ms;
	/* the first failure since the last answer, -1 = none */
	int64_t failing_since_ms;
	unsigned failures;
	/* when the agent settled on current (the return clock) */
	int64_t settled_ms;
	/* a probe of the first address is under way, from probe_from */
	bool probing;
	size_t probe_from;
	/* failovers and returns so far (sent as Report.collector_switches) */
	uint64_t switches;
};

/* collector_list_policy_init starts on the first of count addresses. */
void collector_list_policy_init(struct collector_list_policy *policy, size_t count,
    int64_t failover_after_ms, int64_t return_after_ms, int64_t now_ms);

/* collector_list_policy_before_send: call before each exchange; returns
 * COLLECTOR_LIST_PROBE when this exchange goes to the first address (then
 * current is 0), else COLLECTOR_LIST_STAY. */
enum collector_list_move collector_list_policy_before_send(
    struct collector_list_policy *policy, int64_t now_ms);

/* collector_list_policy_after: call after each exchange with answered =
 * an OK or REJECTED ack came back. Returns STAY, FAILOVER, RETURNED or
 * PROBE_FAILED; current says the address to use from now on. */
enum collector_list_move collector_list_policy_after(
    struct collector_list_policy *policy, bool answered, int64_t now_ms);

#endif
