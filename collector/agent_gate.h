/*
 * agent_gate.h - what an agent's message must pass before the collector
 * acts on it: its token (agent_auth.h, when agent_tokens_file is set) and
 * its agent's rate (rate_limit.h).
 *
 * A report with a wrong or missing token is REJECTED "unauthorized"
 * (nothing stored; the agent keeps it and tries again later, so fixing the
 * token file loses nothing); a report over its agent's rate gets
 * RETRY_AFTER "rate limited" (never REJECTED). An action poll with a wrong
 * token is never given a command and its result is dropped. Each refusal
 * is counted and logged at most once a minute per agent, with instance=
 * and agent=. Thread-safe: the ingest writer, nng's callbacks (action
 * polls) and the main thread (SIGHUP reload) share one gate.
 */
#ifndef PGFLEET_COLLECTOR_AGENT_GATE_H
#define PGFLEET_COLLECTOR_AGENT_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Buckets remembered at most (agents at once). */
#define AGENT_GATE_MAX_AGENTS 65536
/* How often one agent's refusal is logged at most, ms. */
#define AGENT_GATE_LOG_EVERY_MS 60000
/* What an unauthorized agent is told: it waits this long before trying
 * again (the agent backs off further by itself). */
#define AGENT_GATE_UNAUTHORIZED_RETRY_MS 5000

struct agent_gate;

struct agent_gate_options {
	/* agent_tokens_file; "" or NULL = no tokens checked */
	const char *tokens_file;
	/* reports a second per agent on average (0 = no limit), and at once */
	long long reports_per_second;
	long long burst;
};

enum agent_gate_verdict {
	AGENT_GATE_ADMIT,
	AGENT_GATE_UNAUTHORIZED,
	AGENT_GATE_RATE_LIMITED,
};

/* agent_gate_new loads the tokens file (if any). PGF_OK with *out, or
 * PGF_ECONFIG / PGF_ENOMEM with one line in errbuf. */
PGF_MUST_CHECK int agent_gate_new(const struct agent_gate_options *options,
    struct agent_gate **out, char *errbuf, size_t errlen);

/* agent_gate_free frees it; NULL is a no-op. */
void agent_gate_free(struct agent_gate *gate);

/*
 * agent_gate_reload reads tokens_file again ("" turns checking off). On
 * error the running table stays and errbuf says why (PGF_ECONFIG).
 */
PGF_MUST_CHECK int agent_gate_reload(struct agent_gate *gate, const char *tokens_file,
    char *errbuf, size_t errlen);

/*
 * agent_gate_report decides on one report of agent_id for instance
 * carrying token, at now_ms (monotonic). RATE_LIMITED sets
 * *retry_after_ms; UNAUTHORIZED sets it to AGENT_GATE_UNAUTHORIZED_RETRY_MS.
 * Logs refusals (throttled) and counts them.
 */
enum agent_gate_verdict agent_gate_report(struct agent_gate *gate, const char *agent_id,
    const char *instance, const char *token, int64_t now_ms, uint32_t *retry_after_ms);

/* agent_gate_poll is true when an action poll's token is right (always,
 * without a tokens file). Logs refusals (throttled) and counts them. */
bool agent_gate_poll(struct agent_gate *gate, const char *agent_id, const char *instance,
    const char *token, int64_t now_ms);

/* agent_gate_counters reads the refusals so far (any thread). */
void agent_gate_counters(struct agent_gate *gate, uint64_t *unauthorized,
    uint64_t *rate_limited);

/* agent_gate_checks_tokens is true while a tokens file is in force. */
bool agent_gate_checks_tokens(struct agent_gate *gate);

#endif
