/*
 * agent_main.c - pgfleet-agent: the daemon beside one Postgres server.
 *
 * Design note. One thread, one loop:
 *   1. every `interval`, connect if needed, snapshot pg_stat_statements,
 *      turn it into a delta against the previous snapshot, and append the
 *      resulting Report (packed, with its boot id and seq) to the outbox
 *      (outbox.c: memory, and the spool when spool_dir is set, fsync'd);
 *      then save the state file (baseline + that seq) before sending, so a
 *      crash after this point neither loses the interval nor counts it
 *      twice (a spooled report newer than the saved baseline is dropped at
 *      restart: the next delta covers it);
 *   2. send pending reports oldest first, each until it is acknowledged;
 *      an unreachable collector means backoff, never a busy loop; with a
 *      list of collectors, to one at a time, moving on after a bounded
 *      failure (collector_list.h: sticky, failover, return to the first);
 *   3. sleep until the next of those two, waking for SIGTERM/SIGINT.
 * Reports left over from an earlier run are replayed under the boot id they
 * were made with; the collector stores each (agent, boot, seq) once.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>

#include "agent/action_channel.h"
#include "agent/agent_config.h"
#include "agent/collector_list.h"
#include "agent/db_pool.h"
#include "agent/family.h"
#include "agent/family_hypo.h"
#include "agent/outbox.h"
#include "agent/pg_session.h"
#include "agent/sender.h"
#include "agent/state_file.h"
#include "agent/statement_texts.h"
#include "agent/statements.h"
#include "common/cfg.h"
#include "common/arena.h"
#include "common/log.h"
#include "common/render.h"
#include "common/secret_file.h"
#include "common/service_notify.h"
#include "common/timeutil.h"
#include "common/tls_link.h"

#define BACKOFF_MIN_MS 500
#define FAMILY_COUNT 16
#define BACKOFF_MAX_MS 30000

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

/* The next wait after a failure: doubling from BACKOFF_MIN_MS up to
 * BACKOFF_MAX_MS. */
static int64_t
backoff_next(int64_t current_ms)
{
	if (current_ms == 0)
		return BACKOFF_MIN_MS;
	return current_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : current_ms * 2;
}

static void
on_stop_signal(int signo)
{
	(void) signo;
	stop_requested = 1;
}

static void
on_reload_signal(int signo)
{
	(void) signo;
	reload_requested = 1;
}

/* A set of queryids whose text the collector has been sent, kept sorted. */
struct text_set {
	int64_t *ids;
	size_t count;
	size_t capacity;
};

struct agent {
	struct agent_config config;
	/* the action channel's thread (action_channel.c); NULL when off */
	struct action_channel *actions;
	char agent_id[33];
	char boot_id[33];
	uint64_t seq;
	/* effective instance name: config name or host:port */
	char *name;
	struct pg_session *session;
	/* last known identity; strings owned by pg_session_identity */
	Pgfleet__V1__InstanceIdentity identity;
	bool identity_known;
	struct statements_snapshot baseline;
	bool have_baseline;
	/* baseline read from the state file: valid once the name and the
	 * system identifier are confirmed to match */
	char *state_instance_name;
	/* unacknowledged reports, oldest first, in memory and the optional
	 * spool (outbox.c); dropped_reports counts the earlier runs' drops
	 * and this run's rejections, the outbox this run's drops */
	struct outbox *outbox;
	uint64_t dropped_reports;
	/* the state file's last report (the spooled reports it covers) */
	char *state_last_boot;
	uint64_t state_last_seq;
	struct sender *sender;
	/* certificates of tls+tcp:// collector addresses; NULL: no TLS */
	struct pgf_tls_link *tls;
	/* the collector list and the one reports go to (collector_list.h) */
	struct collector_list collectors;
	struct collector_list_policy collector_policy;
	struct text_set texts_sent;
	bool postgres_down;
	bool collector_down;
	int64_t send_backoff_ms;
	int64_t next_send_ms;
	int64_t connect_backoff_ms;
	int64_t next_connect_ms;
	/* the families of families.c: when each is due, and its own state */
	struct db_pool *databases;
	struct pgf_arena *arena;
	struct family_warned *warned;
	int64_t family_due_ms[FAMILY_COUNT];
	void *family_state[FAMILY_COUNT];
	int64_t statements_due_ms;
	/* the statements family's last problem, logged once until it changes */
	char statements_problem[512];
	/* token_file's token (NULL: none), appended to every report sent, and
	 * whether the collector refuses it now (then reports wait, kept) */
	char *token;
	bool unauthorized;
	int64_t unauthorized_backoff_ms;
};

static bool
text_set_contains(const struct text_set *set, int64_t id)
{
	size_t low = 0, high = set->count;
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (set->ids[mid] == id)
			return true;
		if (set->ids[mid] < id)
			low = mid + 1;
		else
			high = mid;
	}
	return false;
}

static int
text_set_add(struct text_set *set, int64_t id)
{
	size_t at = 0;
	if (text_set_contains(set, id))
		return PGF_OK;
	if (set->count == set->capacity) {
		size_t capacity = set->capacity == 0 ? 256 : set->capacity * 2;
		int64_t *ids = realloc(set->ids, capacity * sizeof(ids[0]));
		if (ids == NULL)
			return PGF_ENOMEM;
		set->ids = ids;
		set->capacity = capacity;
	}
	while (at < set->count && set->ids[at] < id)
		at++;
	memmove(set->ids + at + 1, set->ids + at, (set->count - at) * sizeof(set->ids[0]));
	set->ids[at] = id;
	set->count++;
	return PGF_OK;
}

static void
text_set_remove(struct text_set *set, int64_t id)
{
	for (size_t i = 0; i < set->count; i++) {
		if (set->ids[i] == id) {
			memmove(set->ids + i, set->ids + i + 1,
			    (set->count - i - 1) * sizeof(set->ids[0]));
			set->count--;
			return;
		}
	}
}

static bool
needs_text(int64_t queryid, void *arg)
{
	return !text_set_contains(arg, queryid);
}

/* Every report dropped since the agent was installed. */
static uint64_t
agent_dropped(const struct agent *agent)
{
	return agent->dropped_reports +
	    (agent->outbox != NULL ? outbox_dropped(agent->outbox) : 0);
}

/* Saves the baseline and the last report's seq; failures are logged, not
 * fatal: the agent keeps working from memory. */
static void
agent_save_state(struct agent *agent)
{
	Pgfleet__V1__AgentState state = PGFLEET__V1__AGENT_STATE__INIT;
	Pgfleet__V1__StatementsSnapshot snapshot;
	char errbuf[512];
	bool have_snapshot = false;

	state.instance_name = agent->name != NULL ? agent->name : (char *) "";
	if (agent->have_baseline) {
		if (statements_snapshot_to_proto(&agent->baseline, &snapshot) == PGF_OK) {
			state.statements = &snapshot;
			have_snapshot = true;
		}
	}
	/* reports live in the outbox; the state file keeps the baseline and
	 * which report it was last saved with */
	state.dropped_reports = agent_dropped(agent);
	state.last_report_boot_id = agent->boot_id;
	state.last_report_seq = agent->seq;
	state.unspooled_reports = agent->outbox != NULL && !outbox_spooling(agent->outbox)
	    ? outbox_count(agent->outbox)
	    : 0;
	if (state_file_save(agent->config.state_dir, &state, errbuf, sizeof(errbuf)) != PGF_OK)
		pgf_warning("%s", errbuf);
	if (have_snapshot)
		statements_snapshot_proto_fini(&snapshot);
}

static void
agent_load_state(struct agent *agent)
{
	Pgfleet__V1__AgentState *state = NULL;
	char errbuf[512];
	int rv = state_file_load(agent->config.state_dir, &state, errbuf, sizeof(errbuf));

	if (rv == PGF_ENOTFOUND)
		return;
	if (rv != PGF_OK) {
		pgf_warning("%s; starting without a baseline", errbuf);
		return;
	}
	agent->state_instance_name = strdup(state->instance_name);
	if (state->statements != NULL &&
	    statements_snapshot_from_proto(state->statements, &agent->baseline) == PGF_OK)
		agent->have_baseline = true;
	/* reports an older agent kept in the state file, and reports only
	 * the memory of the last run held, are gone: counted as dropped */
	agent->dropped_reports = state->dropped_reports + state->unspooled_reports +
	    state->n_pending_reports;
	agent->state_last_boot = strdup(state->last_report_boot_id);
	agent->state_last_seq = state->last_report_seq;
	pgf_info("state loaded: baseline %s, %llu report(s) dropped so far",
	    agent->have_baseline ? "present" : "absent",
	    (unsigned long long) agent->dropped_reports);
	pgfleet__v1__agent_state__free_unpacked(state, NULL);
}

/* A spooled report stays unless it holds statement deltas made after the
 * baseline of the state file (a crash between spooling it and saving the
 * state): the next delta counts those calls again. */
static bool
agent_keep_spooled(const uint8_t *data, size_t len, void *arg)
{
	const struct agent *agent = arg;
	Pgfleet__V1__Report *report = pgfleet__v1__report__unpack(NULL, len, data);
	bool keep;

	if (report == NULL)
		return false;
	keep = agent->state_last_boot == NULL || strcmp(report->boot_id, agent->state_last_boot) != 0 ||
	    report->seq <= agent->state_last_seq || report->statements == NULL ||
	    report->statements->status != PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
	pgfleet__v1__report__free_unpacked(report, NULL);
	return keep;
}

/* The outbox bounds from the configuration. */
static struct outbox_limits
agent_outbox_limits(const struct agent *agent)
{
	struct outbox_limits limits;

	limits.max_reports = agent->config.spool_max_reports > 0
	    ? agent->config.spool_max_reports
	    : agent->config.max_pending_reports;
	limits.max_bytes = agent->config.spool_max_bytes;
	limits.max_age_ms = agent->config.spool_max_age;
	return limits;
}

/* Opens the outbox and recovers a spooled backlog; false when out of
 * memory. */
static bool
agent_open_outbox(struct agent *agent)
{
	struct outbox_limits limits = agent_outbox_limits(agent);

	return outbox_open(agent->config.spool_dir, &limits, agent_keep_spooled, agent,
		   &agent->outbox) == PGF_OK;
}

/* Appends a packed report, dropping the oldest when a bound is hit. */
static int
agent_enqueue(struct agent *agent, uint8_t *data, size_t len)
{
	uint64_t before = outbox_dropped(agent->outbox);
	int rv = outbox_append(agent->outbox, data, len, pgf_time_now_us());

	if (outbox_dropped(agent->outbox) != before)
		pgf_warning("instance=%s unacknowledged report bound reached: dropped the oldest (%llu dropped so far)",
		    agent->name, (unsigned long long) agent_dropped(agent));
	return rv;
}

/* Connects and learns the identity; logs a warning once per outage. */
static bool
agent_ensure_session(struct agent *agent)
{
	char errbuf[512];
	int64_t now = pgf_monotonic_ms();

	if (agent->session != NULL && !pg_session_broken(agent->session))
		return true;
	/* the server may have restarted: every per-database connection goes
	 * with the main one */
	db_pool_close_all(agent->databases);
	pg_session_close(agent->session);
	agent->session = NULL;
	if (now < agent->next_connect_ms)
		return false;
	if (pg_session_open(&agent->config, &agent->session, errbuf, sizeof(errbuf)) != PGF_OK ||
	    pg_session_identity(agent->session, &agent->identity, errbuf, sizeof(errbuf)) != PGF_OK) {
		pg_session_close(agent->session);
		agent->session = NULL;
		agent->connect_backoff_ms = backoff_next(agent->connect_backoff_ms);
		agent->next_connect_ms = now + agent->connect_backoff_ms;
		if (!agent->postgres_down)
			pgf_warning("instance=%s could not connect to Postgres: %s (retrying with backoff)",
			    agent->name != NULL ? agent->name : "?", errbuf);
		else
			pgf_debug("still cannot connect to Postgres: %s", errbuf);
		agent->postgres_down = true;
		return false;
	}
	agent->connect_backoff_ms = 0;
	agent->next_connect_ms = 0;
	if (agent->name == NULL) {
		char name[512];
		snprintf(name, sizeof(name), "%s:%u", agent->identity.host, agent->identity.port);
		agent->name = strdup(name);
	}
	agent->identity.name = agent->name;
	agent->identity_known = true;
	if (agent->postgres_down)
		pgf_info("instance=%s connected to Postgres again", agent->name);
	else
		pgf_info("instance=%s connected to Postgres %s (%s), system identifier %s",
		    agent->name, agent->identity.server_version,
		    agent->identity.role == PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA
			? "replica"
			: "primary",
		    agent->identity.system_identifier);
	agent->postgres_down = false;
	/* a baseline from the state file belongs to this instance only if the
	 * names and the server agree */
	if (agent->state_instance_name != NULL) {
		if (strcmp(agent->state_instance_name, agent->name) != 0 && agent->have_baseline) {
			pgf_warning("instance=%s state file belongs to instance \"%s\": its baseline is not used",
			    agent->name, agent->state_instance_name);
			statements_snapshot_fini(&agent->baseline);
			agent->have_baseline = false;
		}
		free(agent->state_instance_name);
		agent->state_instance_name = NULL;
	}
	return true;
}

/* Query texts for the family's new statements (statement_texts.c). False
 * only when the collection must be done again (out of memory, or a missed
 * deadline broke the session). A server that cannot show some texts (a
 * SQL_ASCII database's bytes, T19) costs those texts, not the deltas: they
 * go without, and are read again at the next interval. */
static bool
agent_fetch_texts(struct agent *agent, const char *schema,
    Pgfleet__V1__StatementsFamily *family, char *detail, size_t detail_len)
{
	/* the last problem logged, so a lasting one is logged once */
	static char last_problem[512];
	int rv = statement_texts_fetch(&agent->config, agent->session, schema, family,
	    (size_t) agent->config.max_query_text, needs_text, &agent->texts_sent, detail,
	    detail_len);

	if (rv == PGF_OK) {
		last_problem[0] = '\0';
		return true;
	}
	if (rv == PGF_ENOMEM || pg_session_broken(agent->session))
		return false;
	if (strcmp(last_problem, detail) != 0)
		pgf_warning("instance=%s some query texts could not be read: %s (their statements are sent without them)",
		    agent->name, detail);
	snprintf(last_problem, sizeof(last_problem), "%s", detail);
	return true;
}

/* Collects the statements family into family (status and deltas). */
static void
agent_collect_statements(struct agent *agent, Pgfleet__V1__StatementsFamily *family)
{
	struct statements_snapshot current;
	Pgfleet__V1__StatementsFamily__Status status;
	char detail[512];
	int rv;

	rv = statements_collect(agent->session, agent->identity.system_identifier,
	    agent->identity.postmaster_start_time_us, &current, &status, detail,
	    sizeof(detail));
	if (rv != PGF_OK) {
		family->status = status;
		family->status_detail = strdup(detail);
		if (family->status_detail == NULL)
			family->status_detail = (char *) protobuf_c_empty_string;
		if (strcmp(agent->statements_problem, detail) != 0)
			pgf_warning("instance=%s statements not collected: %s", agent->name, detail);
		snprintf(agent->statements_problem, sizeof(agent->statements_problem), "%s",
		    detail);
		return;
	}
	if (current.invisible > 0) {
		snprintf(detail, sizeof(detail),
		    "%lld statement(s) of other users are hidden from the agent's role:"
		    " GRANT pg_monitor (or pg_read_all_stats) to it",
		    (long long) current.invisible);
		/* logged once, not again for every change of the count */
		if (strstr(agent->statements_problem, "are hidden") == NULL)
			pgf_warning("instance=%s %s", agent->name, detail);
		snprintf(agent->statements_problem, sizeof(agent->statements_problem), "%s",
		    detail);
	} else if (agent->statements_problem[0] != '\0') {
		pgf_info("instance=%s statements collected again", agent->name);
		agent->statements_problem[0] = '\0';
	}
	current.taken_at_us = pgf_time_now_us();
	if (agent->have_baseline && agent->baseline.system_identifier != NULL &&
	    strcmp(agent->baseline.system_identifier, current.system_identifier) != 0) {
		pgf_warning("instance=%s system identifier changed from %s to %s: starting a new baseline",
		    agent->name, agent->baseline.system_identifier, current.system_identifier);
		statements_snapshot_fini(&agent->baseline);
		agent->have_baseline = false;
	}
	if (!agent->have_baseline) {
		family->status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_BASELINE;
		family->interval_end_us = current.taken_at_us;
	} else {
		family->status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
		if (statements_delta(&agent->baseline, &current, family) != PGF_OK ||
		    !agent_fetch_texts(agent, current.schema, family, detail, sizeof(detail))) {
			pgf_warning("instance=%s statements delta failed: %s", agent->name,
			    detail);
			/* keep the old baseline: the next interval covers this one */
			statements_family_fini(family);
			family->status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_ERROR;
			statements_snapshot_fini(&current);
			return;
		}
		for (size_t i = 0; i < family->n_statements; i++) {
			if (family->statements[i]->query.len > 0 &&
			    text_set_add(&agent->texts_sent, family->statements[i]->queryid) != PGF_OK)
				break;
		}
	}
	statements_snapshot_fini(&agent->baseline);
	agent->baseline = current;
	agent->have_baseline = true;
}

/* Names in report->skipped_families the families from index first on that
 * are due but will not be collected now: the connection was lost during
 * an earlier one. Their due times stay, so the next collection takes them;
 * meanwhile the collector knows they are missing, not "not due"
 * (tests/e2e/rel_terminated.sh, T15). */
static void
agent_mark_skipped(struct agent *agent, Pgfleet__V1__Report *report, int64_t now,
    bool everything, size_t first)
{
	char **names = pgf_arena_array(agent->arena, FAMILY_COUNT, sizeof(names[0]));
	size_t n = 0;

	if (names == NULL)
		return;
	for (size_t i = first; agent_families[i] != NULL && n < FAMILY_COUNT; i++) {
		if (everything || now >= agent->family_due_ms[i])
			names[n++] = (char *) agent_families[i]->name;
	}
	report->skipped_families = names;
	report->n_skipped_families = n;
}

/* Runs every family that is due (all of them when everything is true)
 * into report. */
static void
agent_collect_families(struct agent *agent, Pgfleet__V1__Report *report, int64_t now,
    bool everything)
{
	struct family_context context;
	char errbuf[512];
	bool any_due = false;

	for (size_t i = 0; agent_families[i] != NULL; i++)
		any_due = any_due || everything || now >= agent->family_due_ms[i];
	if (!any_due)
		return;
	memset(&context, 0, sizeof(context));
	context.config = &agent->config;
	context.session = agent->session;
	context.databases = agent->databases;
	context.identity = &agent->identity;
	context.server_version = pg_session_server_version(agent->session);
	context.arena = agent->arena;
	context.warned = agent->warned;
	context.everything = everything;
	if (db_pool_refresh(agent->databases, agent->session, errbuf, sizeof(errbuf)) != PGF_OK)
		pgf_warning("instance=%s could not list databases: %s", agent->name, errbuf);
	for (size_t i = 0; agent_families[i] != NULL; i++) {
		const struct agent_family *family = agent_families[i];
		if (!everything && now < agent->family_due_ms[i])
			continue;
		agent->family_due_ms[i] = now + family->cadence_ms(&agent->config);
		if (context.server_version < family->min_server_version)
			continue;
		context.state = &agent->family_state[i];
		context.problems = NULL;
		context.n_problems = NULL;
		family->collect(&context, report);
		if (pg_session_broken(agent->session)) {
			pgf_warning("instance=%s lost the connection during the %s family",
			    agent->name, family->name);
			agent_mark_skipped(agent, report, now, everything, i + 1);
			break;
		}
	}
	db_pool_close_idle(agent->databases);
}

/* One collection: the families that are due go into a report. Returns the
 * report packed into *packed (malloc'd), or false when there was nothing
 * to report. */
static bool
agent_make_report(struct agent *agent, bool everything, uint8_t **packed, size_t *len)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	int64_t now = pgf_monotonic_ms();
	bool statements_due = everything || now >= agent->statements_due_ms;
	bool connected = agent_ensure_session(agent);

	*packed = NULL;
	if (!connected) {
		/* families wait for their next turn: no busy loop while the
		 * server is down */
		for (size_t i = 0; agent_families[i] != NULL; i++) {
			if (now >= agent->family_due_ms[i])
				agent->family_due_ms[i] =
				    now + agent_families[i]->cadence_ms(&agent->config);
		}
	}
	if (!connected && (!agent->identity_known || agent->name == NULL)) {
		if (statements_due)
			agent->statements_due_ms = now + agent->config.interval;
		return false; /* nothing to say about a server never reached */
	}
	report.agent_id = agent->agent_id;
	report.boot_id = agent->boot_id;
	report.collected_at_us = pgf_time_now_us();
	report.instance = &agent->identity;
	report.agent_version = PGFLEET_VERSION;
	report.dropped_reports = agent_dropped(agent);
	report.collector_switches = agent->collector_policy.switches;
	if (agent->outbox != NULL) {
		report.corrupt_spool_records = outbox_corrupt(agent->outbox);
		report.spool_failures = outbox_spool_failures(agent->outbox);
	}
	report.report_interval_ms = agent->config.interval;
	for (size_t i = 0; agent_families[i] != NULL; i++) {
		int64_t cadence = agent_families[i]->cadence_ms(&agent->config);
		if (cadence < report.report_interval_ms)
			report.report_interval_ms = cadence;
	}
	if (connected) {
		/* role and version can change (failover, upgrade): refresh */
		char errbuf[512];
		if (pg_session_identity(agent->session, &agent->identity, errbuf,
			sizeof(errbuf)) != PGF_OK)
			pgf_debug("instance=%s identity refresh failed: %s", agent->name, errbuf);
		agent->identity.name = agent->name;
		if (statements_due) {
			agent->statements_due_ms = now + agent->config.interval;
			agent_collect_statements(agent, &family);
			report.statements = &family;
		}
		if (!pg_session_broken(agent->session))
			agent_collect_families(agent, &report, now, everything);
		else
			agent_mark_skipped(agent, &report, now, everything, 0);
	} else if (statements_due) {
		agent->statements_due_ms = now + agent->config.interval;
		report.unreachable_reason = (char *) "could not connect to Postgres";
	} else {
		return false;
	}
	if (report.statements == NULL && report.unreachable_reason[0] == '\0' &&
	    report.tables == NULL && report.indexes == NULL && report.bloat == NULL &&
	    report.activity == NULL && report.replication == NULL &&
	    report.settings == NULL && report.pool == NULL && report.index_checks == NULL) {
		pgf_arena_reset(agent->arena);
		return false;
	}
	report.seq = ++agent->seq;
	*len = pgfleet__v1__report__get_packed_size(&report);
	*packed = malloc(*len > 0 ? *len : 1);
	if (*packed != NULL)
		pgfleet__v1__report__pack(&report, *packed);
	statements_family_fini(&family);
	pgf_arena_reset(agent->arena);
	return *packed != NULL;
}

/* One collection into the pending list and the state file. */
static void
agent_collect(struct agent *agent, bool everything)
{
	uint8_t *packed = NULL;
	size_t len = 0;

	if (!agent_make_report(agent, everything, &packed, &len))
		return;
	if (agent_enqueue(agent, packed, len) != PGF_OK)
		free(packed);
	agent_save_state(agent);
	pgf_debug("instance=%s report seq %llu made (%zu bytes), %zu pending", agent->name,
	    (unsigned long long) agent->seq, len, outbox_count(agent->outbox));
}

/* --once: one report with every family, printed as JSON. The state file
 * is neither read nor written: this never disturbs a running agent. */
static int
agent_once(struct agent *agent)
{
	uint8_t *packed = NULL;
	size_t len = 0;
	Pgfleet__V1__Report *report;
	json_t *json;
	int status = 1;

	if (!agent_make_report(agent, true, &packed, &len) || agent->session == NULL) {
		fprintf(stderr, "pgfleet-agent: could not collect: Postgres is not reachable\n");
		free(packed);
		return 1;
	}
	report = pgfleet__v1__report__unpack(NULL, len, packed);
	free(packed);
	if (report == NULL)
		return 1;
	json = pgf_render_json(&report->base);
	if (json != NULL && pgf_render_json_print(json, stdout) == 0)
		status = 0;
	json_decref(json);
	pgfleet__v1__report__free_unpacked(report, NULL);
	return status;
}

/* SIGHUP: reads the configuration again (file, environment, flags) and
 * applies the keys that can change while running; a bad file keeps the
 * running configuration. */
static void
agent_reload(struct agent *agent, int argc, char **argv)
{
	struct agent_config fresh;
	char errbuf[1024];
	char restart[512];
	enum pgf_log_level level = PGF_LOG_INFO;
	int first_arg = argc;
	int changed;

	pgf_service_notify_reloading();
	memset(&fresh, 0, sizeof(fresh));
	if (pgf_cfg_load(agent_config_keys, &fresh, argc, argv, &first_arg, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		pgf_warning("configuration not reloaded: %s", errbuf);
		pgf_cfg_free(agent_config_keys, &fresh);
		pgf_service_notify_ready();
		return;
	}
	changed = pgf_cfg_reload(agent_config_keys, &agent->config, &fresh, restart,
	    sizeof(restart));
	pgf_cfg_free(agent_config_keys, &fresh);
	if (pgf_log_level_parse(agent->config.log_level, &level))
		pgf_log_set_level(level);
	if (agent->outbox != NULL) {
		struct outbox_limits limits = agent_outbox_limits(agent);
		outbox_set_limits(agent->outbox, &limits);
	}
	pgf_info("configuration reloaded: %d key(s) changed%s%s", changed,
	    restart[0] != '\0' ? "; these need a restart: " : "", restart);
	pgf_service_notify_ready();
}

/* When the next family (statements included) is due, monotonic ms. */
static int64_t
agent_next_due(const struct agent *agent)
{
	int64_t due = agent->statements_due_ms;
	for (size_t i = 0; agent_families[i] != NULL; i++) {
		if (agent->family_due_ms[i] < due)
			due = agent->family_due_ms[i];
	}
	return due;
}

/* The collector address reports go to now. */
static const char *
agent_collector_address(const struct agent *agent)
{
	return agent->collectors.addresses[agent->collector_policy.current];
}

/* Closes the sender and dials the policy's current address. One socket
 * for one address at a time: a REQ socket with a dialer per collector
 * would spread requests over them round robin (not sticky), and every
 * agent holding an idle connection to every collector of its list would
 * cost the collectors for nothing. The dial is non-blocking: the first
 * exchange waits for it within the ack timeout. Unacknowledged reports
 * stay in the outbox and go to the new address, oldest first. */
static void
agent_redial_collector(struct agent *agent)
{
	char errbuf[512];

	sender_close(agent->sender);
	agent->sender = NULL;
	/* the addresses were checked at start: this fails only for want of
	 * memory or sockets; exchanges fail until the next move */
	if (sender_open(agent_collector_address(agent), agent->tls, agent->config.ack_timeout,
		&agent->sender, errbuf, sizeof(errbuf)) != PGF_OK)
		pgf_warning("instance=%s agent=%s %s", agent->name != NULL ? agent->name : "?",
		    agent->agent_id, errbuf);
}

/* Before an exchange: every collector_return_after away from the first
 * collector of the list, this exchange tries it again. */
static void
agent_collector_before_send(struct agent *agent)
{
	size_t from = agent->collector_policy.current;

	if (collector_list_policy_before_send(&agent->collector_policy, pgf_monotonic_ms()) !=
	    COLLECTOR_LIST_PROBE)
		return;
	pgf_info("instance=%s agent=%s trying the first collector \"%s\" again (from \"%s\")",
	    agent->name != NULL ? agent->name : "?", agent->agent_id,
	    agent_collector_address(agent), agent->collectors.addresses[from]);
	agent_redial_collector(agent);
}

/* After an exchange; answered = an OK or REJECTED ack (a RETRY_AFTER or no
 * ack at all is a failure). Moves to another address when the policy says
 * so, logging the move, and returns true when the caller should send
 * there at once rather than back off. */
static bool
agent_collector_after(struct agent *agent, bool answered)
{
	struct collector_list_policy *policy = &agent->collector_policy;
	const char *name = agent->name != NULL ? agent->name : "?";
	size_t from = policy->current;
	int64_t now = pgf_monotonic_ms();
	int64_t failing_since = policy->failing_since_ms;

	switch (collector_list_policy_after(policy, answered, now)) {
	case COLLECTOR_LIST_FAILOVER:
		pgf_warning("instance=%s agent=%s collector \"%s\" failing for %llds: switching to \"%s\" (address %zu of %zu, switch %llu, %zu report(s) to resend)",
		    name, agent->agent_id, agent->collectors.addresses[from],
		    (long long) ((now - failing_since) / 1000), agent_collector_address(agent),
		    policy->current + 1, policy->count, (unsigned long long) policy->switches,
		    outbox_count(agent->outbox));
		agent_redial_collector(agent);
		action_channel_follow(agent->actions, policy->current);
		return true;
	case COLLECTOR_LIST_RETURNED:
		pgf_info("instance=%s agent=%s back on the first collector \"%s\" (from \"%s\", switch %llu)",
		    name, agent->agent_id, agent_collector_address(agent),
		    agent->collectors.addresses[policy->probe_from],
		    (unsigned long long) policy->switches);
		action_channel_follow(agent->actions, policy->current);
		return false;
	case COLLECTOR_LIST_PROBE_FAILED:
		pgf_info("instance=%s agent=%s first collector \"%s\" still not answering: back to \"%s\"",
		    name, agent->agent_id, agent->collectors.addresses[from],
		    agent_collector_address(agent));
		agent_redial_collector(agent);
		return true;
	default:
		return false;
	}
}

/* Sends the oldest report with sent_at_us appended: a field appended to a
 * packed message overrides it, so the spooled bytes stay as made. */
static int
agent_exchange_head(struct agent *agent, Pgfleet__V1__Ack **ack)
{
	const uint8_t *data = NULL;
	size_t len = 0, suffix;
	uint8_t *copy;
	int rv;

	if (!outbox_head(agent->outbox, &data, &len))
		return PGF_ENOTFOUND;
	copy = malloc(len + 16 + (agent->token != NULL ? strlen(agent->token) + 8 : 0));
	if (copy == NULL)
		return PGF_ENOMEM;
	memcpy(copy, data, len);
	/* field 24, varint: tag (24 << 3) | 0 = 192, as a varint c0 01 */
	copy[len] = 0xc0;
	copy[len + 1] = 0x01;
	suffix = 2;
	for (uint64_t v = (uint64_t) pgf_time_now_us();; v >>= 7) {
		copy[len + suffix++] = (uint8_t) (v < 0x80 ? v : (v & 0x7f) | 0x80);
		if (v < 0x80)
			break;
	}
	/* agent_token, field 30, length-delimited: tag (30 << 3) | 2 = 242,
	 * as a varint f2 01, then the length and the bytes. Added at send
	 * time, never spooled: a token changed since the report was made
	 * strands nothing */
	if (agent->token != NULL) {
		size_t token_len = strlen(agent->token);
		copy[len + suffix++] = 0xf2;
		copy[len + suffix++] = 0x01;
		for (uint64_t v = token_len;; v >>= 7) {
			copy[len + suffix++] = (uint8_t) (v < 0x80 ? v : (v & 0x7f) | 0x80);
			if (v < 0x80)
				break;
		}
		memcpy(copy + len + suffix, agent->token, token_len);
		suffix += token_len;
	}
	/* no sender: a redial after a failover failed (logged there) */
	rv = agent->sender == NULL ? PGF_EUNAVAILABLE
				   : sender_exchange(agent->sender, copy, len + suffix, ack);
	free(copy);
	return rv;
}

/* Sends pending reports until the list is empty, the collector fails, or
 * deadline_ms (monotonic) passes; always tries at least one. */
static void
agent_send_pending(struct agent *agent, int64_t deadline_ms)
{
	bool first = true;

	/* one exchange even when the next collection is already due: a
	 * collection slower than the fastest cadence must not starve
	 * delivery */
	while (outbox_count(agent->outbox) > 0 && !stop_requested &&
	    (first || pgf_monotonic_ms() < deadline_ms) &&
	    pgf_monotonic_ms() >= agent->next_send_ms) {
		first = false;
		Pgfleet__V1__Ack *ack = NULL;
		agent_collector_before_send(agent);
		int rv = agent_exchange_head(agent, &ack);
		if (rv != PGF_OK) {
			agent->send_backoff_ms = backoff_next(agent->send_backoff_ms);
			/* jitter so a fleet of agents does not redial in step */
			agent->next_send_ms = pgf_monotonic_ms() + agent->send_backoff_ms / 2 +
			    (int64_t) ((uint64_t) rand() % (uint64_t) (agent->send_backoff_ms / 2 + 1));
			if (!agent->collector_down)
				pgf_warning("agent=%s could not deliver a report to collector \"%s\": %s (%zu pending, retrying with backoff)",
				    agent->agent_id, agent_collector_address(agent), pgf_error_text(rv),
				    outbox_count(agent->outbox));
			agent->collector_down = true;
			/* moved to another collector: try it now, warn anew */
			if (agent_collector_after(agent, false)) {
				agent->send_backoff_ms = 0;
				agent->next_send_ms = 0;
				agent->collector_down = false;
			}
			return;
		}
		if (agent->collector_down)
			pgf_info("agent=%s collector \"%s\" reached again", agent->agent_id,
			    agent_collector_address(agent));
		agent->collector_down = false;
		agent->send_backoff_ms = 0;
		/* "unauthorized": the collector does not accept this agent's
		 * token. The report is kept (nothing is lost while an operator
		 * fixes a token file) and sent again with a growing backoff */
		if (ack->status == PGFLEET__V1__ACK__STATUS__STATUS_REJECTED &&
		    strcmp(ack->reason, "unauthorized") == 0) {
			agent->unauthorized_backoff_ms =
			    agent->unauthorized_backoff_ms == 0
				? (ack->retry_after_ms > 0 ? ack->retry_after_ms : BACKOFF_MIN_MS)
				: backoff_next(agent->unauthorized_backoff_ms);
			agent->next_send_ms = pgf_monotonic_ms() + agent->unauthorized_backoff_ms;
			if (!agent->unauthorized)
				pgf_error("instance=%s agent=%s collector \"%s\" refused this agent: unauthorized (%s); %zu report(s) kept, retrying with backoff",
				    agent->name != NULL ? agent->name : "?", agent->agent_id,
				    agent_collector_address(agent),
				    agent->token == NULL ? "no token_file is set"
							 : "its token_file does not hold the token the collector's agent_tokens_file lists for this instance",
				    outbox_count(agent->outbox));
			agent->unauthorized = true;
			pgfleet__v1__ack__free_unpacked(ack, NULL);
			/* a collector that refuses this agent does not take its
			 * reports: a failure, another collector may accept it */
			if (agent_collector_after(agent, false))
				agent->next_send_ms = 0;
			return;
		}
		if (agent->unauthorized)
			pgf_info("agent=%s collector accepts this agent again", agent->agent_id);
		agent->unauthorized = false;
		agent->unauthorized_backoff_ms = 0;
		switch (ack->status) {
		case PGFLEET__V1__ACK__STATUS__STATUS_OK:
			/* the collector lost these texts: send them again */
			for (size_t i = 0; i < ack->n_missing_query_texts; i++)
				text_set_remove(&agent->texts_sent, ack->missing_query_texts[i]);
			/* index proposals to check with hypopg at the next collection */
			for (size_t f = 0; agent_families[f] != NULL; f++) {
				if (agent_families[f] == &family_index_checks)
					family_hypo_accept(&agent->family_state[f], ack);
			}
			outbox_retire(agent->outbox);
			break;
		case PGFLEET__V1__ACK__STATUS__STATUS_REJECTED:
			pgf_warning("agent=%s collector rejected report seq %llu: %s",
			    agent->agent_id, (unsigned long long) ack->seq, ack->reason);
			outbox_retire(agent->outbox);
			agent->dropped_reports++;
			agent_save_state(agent);
			break;
		default:
			agent->next_send_ms = pgf_monotonic_ms() +
			    (ack->retry_after_ms > 0 ? ack->retry_after_ms : 1000);
			/* a backlog replayed faster than the collector's
			 * per-agent rate is paced, not a problem worth a line
			 * a report */
			pgf_log(strcmp(ack->reason, "rate limited") == 0 ? PGF_LOG_DEBUG : PGF_LOG_INFO,
			    "agent=%s collector asked to retry in %u ms: %s", agent->agent_id,
			    ack->retry_after_ms, ack->reason);
			break;
		}
		/* a moved agent sends to the new collector at once; being paced
		 * ("rate limited") is an answer: that collector works */
		if (agent_collector_after(agent,
			ack->status == PGFLEET__V1__ACK__STATUS__STATUS_OK ||
			    ack->status == PGFLEET__V1__ACK__STATUS__STATUS_REJECTED ||
			    strcmp(ack->reason, "rate limited") == 0))
			agent->next_send_ms = 0;
		pgfleet__v1__ack__free_unpacked(ack, NULL);
	}
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "pgfleet-agent watches one PostgreSQL server and reports to a pgfleet collector.\n\n"
	    "Usage: pgfleet-agent [--config FILE] [--KEY=VALUE ...]\n\n"
	    "Every key can also be set in FILE or as PGFLEET_KEY in the environment:\n");
	pgf_cfg_print_help(agent_config_keys, out);
	fprintf(out, "  --help         show this help\n  --version      show versions\n");
}

static void
agent_fini(struct agent *agent)
{
	for (size_t i = 0; agent_families[i] != NULL; i++) {
		if (agent->family_state[i] != NULL && agent_families[i]->state_free != NULL)
			agent_families[i]->state_free(agent->family_state[i]);
	}
	db_pool_free(agent->databases);
	pgf_arena_free(agent->arena);
	family_warned_free(agent->warned);
	action_channel_stop(agent->actions);
	sender_close(agent->sender);
	pgf_tls_link_free(agent->tls);
	collector_list_fini(&agent->collectors);
	pg_session_close(agent->session);
	pg_session_identity_fini(&agent->identity);
	statements_snapshot_fini(&agent->baseline);
	outbox_close(agent->outbox);
	free(agent->state_last_boot);
	free(agent->texts_sent.ids);
	free(agent->state_instance_name);
	free(agent->name);
	if (agent->token != NULL) {
		memset(agent->token, 0, strlen(agent->token));
		free(agent->token);
	}
	pgf_cfg_free(agent_config_keys, &agent->config);
}

int
main(int argc, char **argv)
{
	struct agent agent;
	char errbuf[1024];
	enum pgf_log_level level = PGF_LOG_INFO;
	int first_arg = argc;
	struct sigaction action;

	memset(&agent, 0, sizeof(agent));
	pgfleet__v1__instance_identity__init(&agent.identity);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("pgfleet-agent %s (libpq %d, nng %s, protobuf-c %s, %s)\n",
			    PGFLEET_VERSION, PQlibVersion(), nng_version(),
			    protobuf_c_version(), pgf_service_notify_version());
			return 0;
		}
	}
	pgf_log_init("pgfleet-agent", PGF_LOG_INFO);
	if (pgf_cfg_load(agent_config_keys, &agent.config, argc, argv, &first_arg, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-agent: %s\n", errbuf);
		pgf_cfg_free(agent_config_keys, &agent.config);
		return 2;
	}
	if (first_arg < argc) {
		fprintf(stderr, "pgfleet-agent: unexpected argument \"%s\"\nTry \"pgfleet-agent --help\".\n",
		    argv[first_arg]);
		pgf_cfg_free(agent_config_keys, &agent.config);
		return 2;
	}
	(void) pgf_log_level_parse(agent.config.log_level, &level);
	pgf_log_set_level(level);
	if (agent.config.name[0] != '\0')
		agent.name = strdup(agent.config.name);
	agent.databases = db_pool_new(&agent.config);
	agent.arena = pgf_arena_new();
	agent.warned = family_warned_new();
	if (agent.databases == NULL || agent.arena == NULL || agent.warned == NULL) {
		fprintf(stderr, "pgfleet-agent: out of memory\n");
		agent_fini(&agent);
		return 1;
	}
	if (agent.config.once) {
		int status;
		snprintf(agent.agent_id, sizeof(agent.agent_id), "once");
		snprintf(agent.boot_id, sizeof(agent.boot_id), "once");
		status = agent_once(&agent);
		agent_fini(&agent);
		return status;
	}

	/* the token is read once: a token_file others can read is refused
	 * (secret_file.h), and a changed token takes a restart */
	if (agent.config.token_file[0] != '\0' &&
	    pgf_secret_file_read(agent.config.token_file, "token", &agent.token, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-agent: %s\n", errbuf);
		agent_fini(&agent);
		return 2;
	}
	if (state_file_agent_id(agent.config.state_dir, agent.agent_id, errbuf,
		sizeof(errbuf)) != PGF_OK ||
	    state_file_random_id(agent.boot_id) != PGF_OK) {
		fprintf(stderr, "pgfleet-agent: %s\n", errbuf);
		agent_fini(&agent);
		return 1;
	}
	/* TLS before any dial: a bad certificate, a key others can read or
	 * a scheme that does not match the certificates stops the start */
	{
		struct pgf_tls_options tls = {
			.ca = agent.config.tls_ca,
			.cert = agent.config.tls_cert,
			.key = agent.config.tls_key,
			.server_name = agent.config.tls_server_name,
		};
		if (pgf_tls_link_open(&tls, &agent.tls, errbuf, sizeof(errbuf)) != PGF_OK ||
		    pgf_tls_check_addresses(agent.tls, agent.config.collector, "collector", NULL,
			errbuf, sizeof(errbuf)) != PGF_OK ||
		    (strcmp(agent.config.action_collector, "off") != 0 &&
			pgf_tls_check_addresses(agent.tls, agent.config.action_collector,
			    "action_collector", NULL, errbuf, sizeof(errbuf)) != PGF_OK)) {
			fprintf(stderr, "pgfleet-agent: %s\n", errbuf);
			agent_fini(&agent);
			return 2;
		}
	}
	if (collector_list_parse(agent.config.collector, "collector", &agent.collectors, errbuf,
		sizeof(errbuf)) != PGF_OK ||
	    collector_list_check_dialable(&agent.collectors, "collector", errbuf,
		sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-agent: %s\n", errbuf);
		agent_fini(&agent);
		return 2;
	}
	collector_list_policy_init(&agent.collector_policy, agent.collectors.count,
	    agent.config.collector_failover_after, agent.config.collector_return_after,
	    pgf_monotonic_ms());
	if (sender_open(agent.collectors.addresses[0], agent.tls, agent.config.ack_timeout,
		&agent.sender, errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-agent: %s\n", errbuf);
		agent_fini(&agent);
		return 2;
	}
	srand((unsigned) pgf_time_now_us());
	agent_load_state(&agent);
	if (!agent_open_outbox(&agent)) {
		fprintf(stderr, "pgfleet-agent: out of memory\n");
		agent_fini(&agent);
		return 1;
	}
	if (action_channel_start(&agent.config, agent.agent_id, &agent.actions, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-agent: %s\n", errbuf);
		agent_fini(&agent);
		return 2;
	}

	memset(&action, 0, sizeof(action));
	action.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	action.sa_handler = on_reload_signal;
	sigaction(SIGHUP, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	pgf_info("agent=%s boot=%s starting: collector \"%s\", interval %llds",
	    agent.agent_id, agent.boot_id, agent.config.collector,
	    (long long) (agent.config.interval / 1000));
	/* ready: the state is loaded and the loop starts (an unreachable
	 * Postgres or collector is retried, not a failed start) */
	pgf_service_notify_ready();
	/* the first report carries every family: the collector learns the
	 * whole server at once */
	agent_collect(&agent, true);
	while (!stop_requested) {
		int64_t now;
		int64_t wake;

		if (reload_requested) {
			reload_requested = 0;
			agent_reload(&agent, argc, argv);
		}
		now = pgf_monotonic_ms();
		wake = agent_next_due(&agent);

		if (now >= wake) {
			agent_collect(&agent, false);
			wake = agent_next_due(&agent);
		}
		agent_send_pending(&agent, wake);
		if (outbox_count(agent.outbox) > 0 && agent.next_send_ms < wake)
			wake = agent.next_send_ms;
		now = pgf_monotonic_ms();
		if (wake > now)
			pgf_sleep_ms(wake - now > 200 ? 200 : wake - now);
	}
	pgf_service_notify_stopping();
	pgf_info("agent=%s stopping: %zu report(s) pending%s", agent.agent_id,
	    outbox_count(agent.outbox),
	    outbox_spooling(agent.outbox) ? " are kept in the spool" : " are dropped (no spool_dir)");
	agent_save_state(&agent);
	agent_fini(&agent);
	return 0;
}
