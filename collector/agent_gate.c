/*
 * agent_gate.c - tokens and rates of agents, behind one mutex (see
 * agent_gate.h).
 *
 * The work under the lock is a binary search, a string compare and a
 * bucket update: microseconds, so one mutex for the ingest writer and the
 * action callbacks costs nothing measurable. Refusal logs are throttled by
 * a small direct-mapped table of (agent, instance) hashes: a collision
 * only logs one line more, and a flood of made-up ids cannot grow it.
 */
#include "collector/agent_gate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/agent_auth.h"
#include "collector/rate_limit.h"
#include "common/log.h"

#define LOG_SLOTS 1024

struct log_slot {
	uint64_t hash;
	int64_t logged_ms;
	bool used;
};

struct agent_gate {
	pthread_mutex_t lock;
	/* under lock */
	struct agent_auth *auth; /* NULL: no tokens checked */
	struct rate_limit *limit;
	struct log_slot logged[LOG_SLOTS];
	uint64_t unauthorized;
	uint64_t rate_limited;
};

static uint64_t
hash_pair(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *) a; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *) b; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* true when a refusal of (agent, instance) should be logged now; under
 * the lock */
static bool
should_log(struct agent_gate *gate, const char *kind, const char *agent_id,
    const char *instance, int64_t now_ms)
{
	/* each kind of refusal (report, poll, rate) has its own minute */
	uint64_t h = hash_pair(agent_id, instance) ^ hash_pair(kind, "");
	struct log_slot *slot = &gate->logged[h % LOG_SLOTS];

	if (slot->used && slot->hash == h && now_ms - slot->logged_ms < AGENT_GATE_LOG_EVERY_MS)
		return false;
	slot->used = true;
	slot->hash = h;
	slot->logged_ms = now_ms;
	return true;
}

int
agent_gate_new(const struct agent_gate_options *options, struct agent_gate **out,
    char *errbuf, size_t errlen)
{
	struct agent_gate *gate = calloc(1, sizeof(*gate));

	*out = NULL;
	if (gate == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	gate->limit = rate_limit_new(options->reports_per_second, options->burst,
	    AGENT_GATE_MAX_AGENTS);
	if (gate->limit == NULL) {
		free(gate);
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	if (options->tokens_file != NULL && options->tokens_file[0] != '\0') {
		int rv = agent_auth_load(options->tokens_file, &gate->auth, errbuf, errlen);
		if (rv != PGF_OK) {
			rate_limit_free(gate->limit);
			free(gate);
			return rv;
		}
		pgf_info("agent tokens: %zu instance(s) from \"%s\"; other agents are refused",
		    agent_auth_count(gate->auth), options->tokens_file);
	}
	pthread_mutex_init(&gate->lock, NULL);
	*out = gate;
	return PGF_OK;
}

void
agent_gate_free(struct agent_gate *gate)
{
	if (gate == NULL)
		return;
	agent_auth_free(gate->auth);
	rate_limit_free(gate->limit);
	pthread_mutex_destroy(&gate->lock);
	free(gate);
}

int
agent_gate_reload(struct agent_gate *gate, const char *tokens_file, char *errbuf,
    size_t errlen)
{
	struct agent_auth *fresh = NULL, *old;

	if (tokens_file != NULL && tokens_file[0] != '\0') {
		int rv = agent_auth_load(tokens_file, &fresh, errbuf, errlen);
		if (rv != PGF_OK)
			return rv;
	}
	pthread_mutex_lock(&gate->lock);
	old = gate->auth;
	gate->auth = fresh;
	/* a fixed file should be heard about at once */
	memset(gate->logged, 0, sizeof(gate->logged));
	pthread_mutex_unlock(&gate->lock);
	agent_auth_free(old);
	if (fresh != NULL)
		pgf_info("agent tokens reloaded: %zu instance(s) from \"%s\"",
		    agent_auth_count(fresh), tokens_file);
	else
		pgf_info("agent tokens: off (no agent_tokens_file)");
	return PGF_OK;
}

/* Checks the token; under the lock. Logs a refusal. */
static bool
token_ok(struct agent_gate *gate, const char *what, const char *agent_id,
    const char *instance, const char *token, int64_t now_ms)
{
	enum agent_auth_result result;

	if (gate->auth == NULL)
		return true;
	result = agent_auth_check(gate->auth, instance, token);
	if (result == AGENT_AUTH_OK)
		return true;
	gate->unauthorized++;
	if (should_log(gate, what, agent_id, instance, now_ms))
		pgf_warning("instance=%s agent=%s %s refused: unauthorized (%s); logged once a minute",
		    instance, agent_id, what,
		    result == AGENT_AUTH_UNKNOWN_INSTANCE
			? "the instance has no line in agent_tokens_file"
			: (token == NULL || token[0] == '\0'
				  ? "the agent sent no token: set its token_file"
				  : "the agent's token is not the instance's"));
	return false;
}

enum agent_gate_verdict
agent_gate_report(struct agent_gate *gate, const char *agent_id, const char *instance,
    const char *token, int64_t now_ms, uint32_t *retry_after_ms)
{
	enum agent_gate_verdict verdict = AGENT_GATE_ADMIT;
	int64_t wait_ms = 0;

	*retry_after_ms = 0;
	pthread_mutex_lock(&gate->lock);
	if (!token_ok(gate, "report", agent_id, instance, token, now_ms)) {
		*retry_after_ms = AGENT_GATE_UNAUTHORIZED_RETRY_MS;
		verdict = AGENT_GATE_UNAUTHORIZED;
	} else if (!rate_limit_take(gate->limit, agent_id, now_ms, &wait_ms)) {
		gate->rate_limited++;
		*retry_after_ms = (uint32_t) wait_ms;
		verdict = AGENT_GATE_RATE_LIMITED;
		if (should_log(gate, "rate", agent_id, instance, now_ms))
			pgf_info("instance=%s agent=%s reports rate limited (retry in %lld ms); logged once a minute",
			    instance, agent_id, (long long) wait_ms);
	}
	pthread_mutex_unlock(&gate->lock);
	return verdict;
}

bool
agent_gate_poll(struct agent_gate *gate, const char *agent_id, const char *instance,
    const char *token, int64_t now_ms)
{
	bool ok;

	pthread_mutex_lock(&gate->lock);
	ok = token_ok(gate, "action poll", agent_id, instance, token, now_ms);
	pthread_mutex_unlock(&gate->lock);
	return ok;
}

void
agent_gate_counters(struct agent_gate *gate, uint64_t *unauthorized, uint64_t *rate_limited)
{
	pthread_mutex_lock(&gate->lock);
	*unauthorized = gate->unauthorized;
	*rate_limited = gate->rate_limited;
	pthread_mutex_unlock(&gate->lock);
}

bool
agent_gate_checks_tokens(struct agent_gate *gate)
{
	bool checks;

	pthread_mutex_lock(&gate->lock);
	checks = gate->auth != NULL;
	pthread_mutex_unlock(&gate->lock);
	return checks;
}
