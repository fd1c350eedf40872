/*
 * action_channel.c - the agent's end of the action channel (see
 * action_channel.h).
 *
 * Design note. One thread, one REQ socket, one loop:
 *   1. send an ActionPoll (instance, permissions, the previous command's
 *      result if any) and wait up to POLL_WAIT_MS + 5 s for the reply; the
 *      collector holds the poll until it has a command or POLL_WAIT_MS
 *      passes (NNG_OPT_REQ_RESENDTIME is set far above that, so nng never
 *      resends a poll the collector is still holding);
 *   2. a Command with id 0 means "nothing": poll again; otherwise run it
 *      and keep its result for the next poll;
 *   3. a failed exchange backs off (1 s doubling to 10 s), then polls again.
 * Actions run on the thread's own connection(s), never the collector
 * thread's: application_name pgfleet-agent-action, statement_timeout =
 * action_statement_timeout, default_transaction_read_only on. EXPLAIN runs
 * inside BEGIN READ ONLY ... ROLLBACK, always rolled back, one statement per
 * round trip (extended protocol). The owner's allow_* keys are checked
 * here, on the server's side of the wire, whatever the collector says.
 */
#include "agent/action_channel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "agent/action_check.h"
#include "agent/collector_list.h"
#include "agent/explain_plan.h"
#include "agent/pg_session.h"
#include "common/log.h"
#include "common/secret_file.h"
#include "common/timeutil.h"
#include "common/tls_link.h"
#include "common/wire.h"
#include "pgfleet/v1/agent_actions.pb-c.h"

/* How long the collector may hold a poll. */
#define POLL_WAIT_MS 20000
/* Largest Command accepted (a statement is at most 256 KiB). */
#define COMMAND_MAX_BYTES (1024 * 1024)
#define ACTION_PORT       7453
#define BACKOFF_MIN_MS    1000
#define BACKOFF_MAX_MS    10000
/* How long terminate waits to see the backend gone. */
#define TERMINATE_WAIT_MS 3000

struct action_channel {
	/* copied from the agent's config at start */
	struct agent_config config;
	char *agent_id;
	/* token_file's token (NULL: none), sent with every poll */
	char *token;
	/* certificates of tls+tcp:// action addresses; NULL: no TLS */
	struct pgf_tls_link *tls;
	char *address;
	char *name;
	nng_socket socket;
	pthread_t thread;
	atomic_bool stop;
	/* Failover (collector_list.h): the action address of each collector.
	 * With more than one, the channel polls the one at `wanted`, which
	 * the report loop sets (action_channel_follow) to the collector its
	 * reports go to: actions reach the instance through the collector
	 * that shows it. socket_lock orders a socket swap in this thread
	 * against action_channel_follow and action_channel_stop closing the
	 * socket to end a held poll. */
	struct collector_list addresses;
	atomic_size_t wanted;
	size_t polling;
	pthread_mutex_t socket_lock;
	bool socket_closed;
	/* the action connection and its database ("" = the conninfo's) */
	struct pg_session *session;
	char *session_database;
	int64_t session_used_ms;
	unsigned server_version_num;
};

bool
action_channel_derive_address(const char *collector, char *out, size_t size)
{
	const char *host;
	const char *colon;
	const char *scheme = "tcp://";
	int written;

	/* a TLS collector's actions go over TLS too */
	if (strncmp(collector, "tls+tcp://", 10) == 0)
		scheme = "tls+tcp://";
	else if (strncmp(collector, "tcp://", 6) != 0)
		return false;
	host = collector + strlen(scheme);
	colon = strrchr(host, ':');
	if (colon == NULL || colon == host)
		return false;
	written = snprintf(out, size, "%s%.*s:%d", scheme, (int) (colon - host), host,
	    ACTION_PORT);
	return written > 0 && (size_t) written < size;
}

/* Is name in the comma-separated list (spaces around names ignored)? The
 * same reading as db_pool's `databases` / `exclude_databases`. */
static bool
listed(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	while (*p != '\0') {
		const char *end;
		const char *last;
		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		while (*end != '\0' && *end != ',')
			end++;
		last = end;
		while (last > p && last[-1] == ' ')
			last--;
		if ((size_t) (last - p) == len && strncmp(p, name, len) == 0)
			return true;
		p = end;
	}
	return false;
}

/* Closes the action connection; the next action opens a new one. */
static void
session_drop(struct action_channel *channel)
{
	pg_session_close(channel->session);
	channel->session = NULL;
	free(channel->session_database);
	channel->session_database = NULL;
}

/* Makes sure the action connection is to database ("" = the conninfo's). */
static int
session_ready(
    struct action_channel *channel, const char *database, char *errbuf, size_t errlen)
{
	int rv;

	if (channel->session != NULL
	    && (pg_session_broken(channel->session)
		|| strcmp(channel->session_database, database) != 0))
		session_drop(channel);
	channel->session_used_ms = pgf_monotonic_ms();
	if (channel->session != NULL)
		return PGF_OK;
	rv = pg_session_open_as(&channel->config, database[0] != '\0' ? database : NULL,
	    "pgfleet-agent-action", &channel->session, errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	channel->session_database = strdup(database);
	if (channel->session_database == NULL) {
		session_drop(channel);
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	channel->server_version_num
	    = (unsigned) pg_session_server_version(channel->session);
	return PGF_OK;
}

/* Learns the instance name the way the agent does when `name` is unset:
 * host:port of the server as libpq reports them. */
static bool
learn_name(struct action_channel *channel)
{
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	char errbuf[512];
	char name[512];

	if (session_ready(channel, "", errbuf, sizeof(errbuf)) != PGF_OK
	    || pg_session_identity(channel->session, &identity, errbuf, sizeof(errbuf))
		!= PGF_OK) {
		pgf_debug("actions: could not learn the instance name yet: %s", errbuf);
		pg_session_identity_fini(&identity);
		return false;
	}
	snprintf(name, sizeof(name), "%s:%u", identity.host, identity.port);
	pg_session_identity_fini(&identity);
	channel->name = strdup(name);
	return channel->name != NULL;
}

/* A result's error: kind "refused" (not allowed, not safe) or "failed". */
static void
result_error(Pgfleet__V1__CommandResult *result, const char *kind, const char *message)
{
	result->error = strdup(message);
	result->error_kind = (char *) kind;
	if (result->error == NULL)
		result->error = (char *) "out of memory";
}

/* SQL-quotes text as an E'' literal (for relation names the server itself
 * put in the plan). Returns a malloc'd string or NULL. */
static char *
quote_literal(const char *text)
{
	size_t len = strlen(text);
	char *quoted = malloc(len * 2 + 4);
	char *p = quoted;

	if (quoted == NULL)
		return NULL;
	*p++ = 'E';
	*p++ = '\'';
	for (const char *c = text; *c != '\0'; c++) {
		if (*c == '\'' || *c == '\\')
			*p++ = *c;
		*p++ = *c;
	}
	*p++ = '\'';
	*p = '\0';
	return quoted;
}

/* Looks up reltuples of the seq-scanned relations (inside the explain's
 * transaction); leaves *tables empty when anything fails (the flags then
 * use the plan's own row figures). */
static void
lookup_table_rows(struct action_channel *channel, const char *plan_json,
    struct explain_table_rows **tables, size_t *count, char ***names, size_t *name_count)
{
	char errbuf[256];
	char sqlstate[6];
	char *sql = NULL;
	size_t sql_len = 0;
	FILE *stream;
	PGresult *result;

	*tables = NULL;
	*count = 0;
	if (explain_plan_seq_scans(plan_json, names, name_count, errbuf, sizeof(errbuf))
		!= PGF_OK
	    || *name_count == 0)
		return;
	stream = open_memstream(&sql, &sql_len);
	if (stream == NULL)
		return;
	fputs("SELECT relname, max(reltuples)::float8 FROM pg_catalog.pg_class"
	      " WHERE relkind IN ('r', 'm', 'p') AND relname IN (",
	    stream);
	for (size_t i = 0; i < *name_count; i++) {
		char *quoted = quote_literal((*names)[i]);
		fprintf(
		    stream, "%s%s", i > 0 ? ", " : "", quoted != NULL ? quoted : "''");
		free(quoted);
	}
	fputs(") GROUP BY relname", stream);
	if (fclose(stream) != 0) {
		free(sql);
		return;
	}
	result
	    = pg_session_query(channel->session, sql, errbuf, sizeof(errbuf), sqlstate);
	free(sql);
	if (result == NULL)
		return;
	*tables = calloc((size_t) PQntuples(result) + 1, sizeof(**tables));
	for (int row = 0; *tables != NULL && row < PQntuples(result); row++) {
		for (size_t i = 0; i < *name_count; i++) {
			if (strcmp((*names)[i], PQgetvalue(result, row, 0)) == 0) {
				(*tables)[*count].relation = (*names)[i];
				(*tables)[*count].rows
				    = strtod(PQgetvalue(result, row, 1), NULL);
				(*count)++;
			}
		}
	}
	PQclear(result);
}

/* Runs sql inside the explain's transaction; false (reason in errbuf) on
 * failure. */
static bool
run(struct action_channel *channel, const char *sql, char *errbuf, size_t errlen)
{
	char sqlstate[6];
	PGresult *result
	    = pg_session_query(channel->session, sql, errbuf, errlen, sqlstate);
	if (result == NULL)
		return false;
	PQclear(result);
	return true;
}

/* Fills explain from the plan; PGF_OK or an error in errbuf. */
static int
explain_fill(struct action_channel *channel, const char *plan_json,
    Pgfleet__V1__Explain *explain, char *errbuf, size_t errlen)
{
	struct explain_thresholds thresholds = EXPLAIN_THRESHOLDS_DEFAULT;
	struct explain_summary summary;
	struct explain_table_rows *tables = NULL;
	size_t table_count = 0;
	char **names = NULL;
	size_t name_count = 0;
	int rv;

	lookup_table_rows(channel, plan_json, &tables, &table_count, &names, &name_count);
	rv = explain_plan_summarize(
	    plan_json, tables, table_count, &thresholds, &summary, errbuf, errlen);
	free(tables);
	explain_relations_free(names, name_count);
	if (rv != PGF_OK)
		return rv;
	explain->plan_text = summary.text;
	summary.text = NULL;
	explain->planning_ms = summary.planning_ms;
	explain->execution_ms = summary.execution_ms;
	explain->flags = calloc(summary.flag_count + 1, sizeof(*explain->flags));
	if (explain->flags == NULL) {
		explain_summary_fini(&summary);
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	for (size_t i = 0; i < summary.flag_count; i++) {
		Pgfleet__V1__PlanFlag *flag = malloc(sizeof(*flag));
		if (flag == NULL)
			break;
		pgfleet__v1__plan_flag__init(flag);
		flag->kind = (char *) summary.flags[i].kind;
		flag->node = summary.flags[i].node;
		flag->detail = summary.flags[i].detail;
		summary.flags[i].node = NULL;
		summary.flags[i].detail = NULL;
		explain->flags[explain->n_flags++] = flag;
	}
	explain_summary_fini(&summary);
	return PGF_OK;
}

/* The EXPLAIN action. */
static void
do_explain(struct action_channel *channel, const Pgfleet__V1__ExplainRequest *request,
    Pgfleet__V1__CommandResult *result)
{
	struct action_check_result checked;
	Pgfleet__V1__Explain *explain = NULL;
	const char *options = "";
	char *sql = NULL;
	char *prepare = NULL;
	char errbuf[1024];
	char sqlstate[6];
	char set_timeouts[160];
	PGresult *plan = NULL;
	bool in_transaction = false;
	int64_t started_ms = pgf_monotonic_ms();

	if (!channel->config.allow_explain) {
		result_error(result, "refused",
		    "EXPLAIN is not allowed on this instance (allow_explain = off)");
		return;
	}
	if (request->analyze && !channel->config.allow_explain_analyze) {
		result_error(result, "refused",
		    "EXPLAIN ANALYZE is not allowed on this instance "
		    "(allow_explain_analyze = off)");
		return;
	}
	/* a database the owner keeps the agent out of is out of actions too */
	if (request->database[0] != '\0'
	    && (listed(channel->config.exclude_databases, request->database)
		|| (channel->config.databases[0] != '\0'
		    && !listed(channel->config.databases, request->database)))) {
		snprintf(errbuf, sizeof(errbuf),
		    "database \"%.64s\" is not one this agent reads (databases, "
		    "exclude_databases)",
		    request->database);
		result_error(result, "refused", errbuf);
		return;
	}
	if (action_check_statement(
		request->query, request->analyze, &checked, errbuf, sizeof(errbuf))
	    != PGF_OK) {
		result_error(result, "refused", errbuf);
		return;
	}
	if (session_ready(channel, request->database, errbuf, sizeof(errbuf)) != PGF_OK) {
		result_error(result, "failed", errbuf);
		return;
	}
	if (action_explain_sql(request->query + checked.start, checked.length,
		request->analyze, checked.param_count, (int) channel->server_version_num,
		&prepare, &sql, &options, errbuf, sizeof(errbuf))
	    != PGF_OK) {
		result_error(result, "refused", errbuf);
		return;
	}
	/* READ ONLY: anything that would still write fails; ROLLBACK below in
	 * every case: anything that did not fail leaves no trace */
	if (!run(channel, "BEGIN TRANSACTION READ ONLY", errbuf, sizeof(errbuf)))
		goto failed;
	in_transaction = true;
	snprintf(set_timeouts, sizeof(set_timeouts), "SET LOCAL statement_timeout = %lld",
	    (long long) channel->config.action_statement_timeout);
	if (!run(channel, set_timeouts, errbuf, sizeof(errbuf)))
		goto failed;
	snprintf(set_timeouts, sizeof(set_timeouts), "SET LOCAL lock_timeout = %lld",
	    (long long) channel->config.lock_timeout);
	if (!run(channel, set_timeouts, errbuf, sizeof(errbuf)))
		goto failed;
	/* ANALYZE runs the statement, and the functions it calls run with the
	 * agent's rights: a user's function wrapping pg_terminate_backend is
	 * no write, so READ ONLY does not stop it, and the parse check cannot
	 * see into it (tests/e2e/rel_actions_abuse.sh, T26). Where the agent
	 * may (a superuser, or a member), it runs as pg_read_all_data (PG 14+):
	 * it reads every table and can neither write nor signal a backend */
	if (request->analyze && channel->server_version_num >= 140000) {
		PGresult *member = pg_session_query(channel->session,
		    "SELECT pg_catalog.pg_has_role('pg_read_all_data', 'MEMBER')", errbuf,
		    sizeof(errbuf), sqlstate);
		bool may = member != NULL && PQntuples(member) == 1 &&
		    strcmp(PQgetvalue(member, 0, 0), "t") == 0;

		PQclear(member);
		if (may && !run(channel, "SET LOCAL ROLE pg_read_all_data", errbuf, sizeof(errbuf)))
			goto failed;
	}
	/* a generic plan before PostgreSQL 16: the statement prepared (not
	 * run), the plan forced generic; DEALLOCATE below, as a prepared
	 * statement outlives the ROLLBACK */
	if (prepare != NULL
	    && (!run(channel, prepare, errbuf, sizeof(errbuf))
		|| !run(channel, "SET LOCAL plan_cache_mode = force_generic_plan", errbuf,
		    sizeof(errbuf))))
		goto failed;
	plan = pg_session_query(channel->session, sql, errbuf, sizeof(errbuf), sqlstate);
	if (plan == NULL)
		goto failed;
	if (PQntuples(plan) != 1 || PQnfields(plan) != 1) {
		snprintf(
		    errbuf, sizeof(errbuf), "EXPLAIN returned %d rows", PQntuples(plan));
		goto failed;
	}
	explain = malloc(sizeof(*explain));
	if (explain == NULL) {
		snprintf(errbuf, sizeof(errbuf), "out of memory");
		goto failed;
	}
	pgfleet__v1__explain__init(explain);
	explain->instance = channel->name;
	explain->database = request->database;
	explain->query = request->query;
	explain->analyze = request->analyze;
	explain->options = (char *) options;
	explain->plan_json = PQgetvalue(plan, 0, 0);
	if (explain_fill(channel, explain->plan_json, explain, errbuf, sizeof(errbuf))
	    != PGF_OK)
		goto failed;
	/* a failed ROLLBACK: the failure path tries once more, then drops
	 * the connection */
	if (!run(channel, "ROLLBACK", errbuf, sizeof(errbuf)))
		goto failed;
	in_transaction = false;
	if (prepare != NULL && !run(channel, "DEALLOCATE ALL", errbuf, sizeof(errbuf)))
		session_drop(channel);
	/* the plan text is copied: the PGresult goes away before packing */
	explain->plan_json = strdup(explain->plan_json);
	if (explain->plan_json == NULL) {
		snprintf(errbuf, sizeof(errbuf), "out of memory");
		goto failed;
	}
	explain->agent_ms = (double) (pgf_monotonic_ms() - started_ms);
	result->outcome_case = PGFLEET__V1__COMMAND_RESULT__OUTCOME_EXPLAIN;
	result->explain = explain;
	PQclear(plan);
	free(sql);
	free(prepare);
	return;
failed:
	result_error(result, "failed", errbuf);
	if (in_transaction && !run(channel, "ROLLBACK", errbuf, sizeof(errbuf)))
		session_drop(channel); /* its state is unknown: never reuse it */
	else if (prepare != NULL && channel->session != NULL
	    && !run(channel, "DEALLOCATE ALL", errbuf, sizeof(errbuf)))
		session_drop(channel);
	if (explain != NULL) {
		if (explain->plan_json != NULL
		    && (plan == NULL || explain->plan_json != PQgetvalue(plan, 0, 0)))
			free(explain->plan_json);
		free(explain->plan_text);
		for (size_t i = 0; i < explain->n_flags; i++) {
			free(explain->flags[i]->node);
			free(explain->flags[i]->detail);
			free(explain->flags[i]);
		}
		free(explain->flags);
		free(explain);
	}
	PQclear(plan);
	free(sql);
	free(prepare);
}

/* The cancel/terminate action. */
static void
do_backend_signal(struct action_channel *channel,
    const Pgfleet__V1__BackendSignalRequest *request, Pgfleet__V1__CommandResult *result)
{
	bool terminate = request->signal
	    == PGFLEET__V1__BACKEND_SIGNAL_REQUEST__SIGNAL__SIGNAL_TERMINATE;
	const char *verb = terminate ? "terminate" : "cancel";
	Pgfleet__V1__BackendSignal *signalled;
	char errbuf[1024];
	char sqlstate[6];
	char sql[1024];
	PGresult *found = NULL;
	PGresult *done = NULL;
	int64_t backend_start_us;

	if (terminate ? !channel->config.allow_terminate
		      : !channel->config.allow_cancel) {
		snprintf(errbuf, sizeof(errbuf),
		    "%s is not allowed on this instance (allow_%s = off)", verb, verb);
		result_error(result, "refused", errbuf);
		return;
	}
	if (request->pid <= 0) {
		result_error(result, "refused", "pid must be a positive number");
		return;
	}
	if (session_ready(channel, "", errbuf, sizeof(errbuf)) != PGF_OK) {
		result_error(result, "failed", errbuf);
		return;
	}
	snprintf(sql, sizeof(sql),
	    "SELECT coalesce(a.usename, ''), coalesce(a.datname, ''),"
	    " coalesce(a.application_name, ''), coalesce(a.state, ''),"
	    " left(coalesce(a.query, ''), 1000),"
	    " (extract(epoch FROM a.backend_start) * 1000000)::int8,"
	    " coalesce(r.rolsuper, false), a.pid = pg_backend_pid(),"
	    " a.application_name LIKE 'pgfleet-agent%%' AND a.usename = current_user,"
	    " coalesce(a.backend_type, '')"
	    " FROM pg_catalog.pg_stat_activity a"
	    " LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid WHERE a.pid = %d",
	    request->pid);
	found = pg_session_query(channel->session, sql, errbuf, sizeof(errbuf), sqlstate);
	if (found == NULL) {
		result_error(result, "failed", errbuf);
		return;
	}
	if (PQntuples(found) != 1) {
		snprintf(errbuf, sizeof(errbuf), "no backend with pid %d", request->pid);
		result_error(result, "failed", errbuf);
		goto done;
	}
	backend_start_us = strtoll(PQgetvalue(found, 0, 5), NULL, 10);
	if (strcmp(PQgetvalue(found, 0, 9), "client backend") != 0) {
		snprintf(errbuf, sizeof(errbuf),
		    "pid %d is a \"%.40s\" process, not a client backend: refused",
		    request->pid, PQgetvalue(found, 0, 9));
		result_error(result, "refused", errbuf);
		goto done;
	}
	if (strcmp(PQgetvalue(found, 0, 7), "t") == 0
	    || strcmp(PQgetvalue(found, 0, 8), "t") == 0) {
		snprintf(errbuf, sizeof(errbuf),
		    "pid %d is the agent's own backend: refused", request->pid);
		result_error(result, "refused", errbuf);
		goto done;
	}
	if (strcmp(PQgetvalue(found, 0, 6), "t") == 0) {
		snprintf(errbuf, sizeof(errbuf),
		    "pid %d belongs to superuser \"%.64s\": refused", request->pid,
		    PQgetvalue(found, 0, 0));
		result_error(result, "refused", errbuf);
		goto done;
	}
	if (request->backend_start_us != 0
	    && request->backend_start_us != backend_start_us) {
		snprintf(errbuf, sizeof(errbuf),
		    "pid %d started at another time than given (pid reused?): refused",
		    request->pid);
		result_error(result, "refused", errbuf);
		goto done;
	}
	/* the pid and its start time once more in the same statement: a pid
	 * reused since the check above is not signalled */
	snprintf(sql, sizeof(sql),
	    "SELECT pg_catalog.%s(pid) FROM pg_catalog.pg_stat_activity"
	    " WHERE pid = %d AND (extract(epoch FROM backend_start) * 1000000)::int8 = "
	    "%lld",
	    terminate ? "pg_terminate_backend" : "pg_cancel_backend", request->pid,
	    (long long) backend_start_us);
	done = pg_session_query(channel->session, sql, errbuf, sizeof(errbuf), sqlstate);
	if (done == NULL) {
		result_error(result, "failed", errbuf);
		goto done;
	}
	signalled = malloc(sizeof(*signalled));
	if (signalled == NULL) {
		result_error(result, "failed", "out of memory");
		goto done;
	}
	pgfleet__v1__backend_signal__init(signalled);
	signalled->instance = channel->name;
	signalled->pid = request->pid;
	signalled->signal = (char *) verb;
	signalled->signalled
	    = PQntuples(done) == 1 && strcmp(PQgetvalue(done, 0, 0), "t") == 0;
	signalled->usename = strdup(PQgetvalue(found, 0, 0));
	signalled->datname = strdup(PQgetvalue(found, 0, 1));
	signalled->application_name = strdup(PQgetvalue(found, 0, 2));
	signalled->state = strdup(PQgetvalue(found, 0, 3));
	signalled->query = strdup(PQgetvalue(found, 0, 4));
	signalled->backend_start_us = backend_start_us;
	if (terminate && signalled->signalled) {
		int64_t until = pgf_monotonic_ms() + TERMINATE_WAIT_MS;
		snprintf(sql, sizeof(sql),
		    "SELECT 1 FROM pg_catalog.pg_stat_activity WHERE pid = %d"
		    " AND (extract(epoch FROM backend_start) * 1000000)::int8 = %lld",
		    request->pid, (long long) backend_start_us);
		while (!signalled->gone && pgf_monotonic_ms() < until) {
			PGresult *check = pg_session_query(
			    channel->session, sql, errbuf, sizeof(errbuf), sqlstate);
			if (check == NULL)
				break;
			signalled->gone = PQntuples(check) == 0;
			PQclear(check);
			if (!signalled->gone)
				pgf_sleep_ms(50);
		}
	}
	result->outcome_case = PGFLEET__V1__COMMAND_RESULT__OUTCOME_BACKEND_SIGNAL;
	result->backend_signal = signalled;
	if (!signalled->signalled)
		result_error(result, "failed",
		    "the backend was gone before it could be signalled");
done:
	PQclear(found);
	PQclear(done);
}

/* Frees what do_explain / do_backend_signal put in result (pointers
 * borrowed from the command or the channel are left alone). */
static void
result_fini(Pgfleet__V1__CommandResult *result)
{
	if (result->error != protobuf_c_empty_string
	    && strcmp(result->error, "out of memory") != 0)
		free(result->error);
	if (result->outcome_case == PGFLEET__V1__COMMAND_RESULT__OUTCOME_EXPLAIN) {
		Pgfleet__V1__Explain *explain = result->explain;
		free(explain->plan_json);
		free(explain->plan_text);
		for (size_t i = 0; i < explain->n_flags; i++) {
			free(explain->flags[i]->node);
			free(explain->flags[i]->detail);
			free(explain->flags[i]);
		}
		free(explain->flags);
		free(explain);
	} else if (result->outcome_case
	    == PGFLEET__V1__COMMAND_RESULT__OUTCOME_BACKEND_SIGNAL) {
		Pgfleet__V1__BackendSignal *signalled = result->backend_signal;
		free(signalled->usename);
		free(signalled->datname);
		free(signalled->application_name);
		free(signalled->state);
		free(signalled->query);
		free(signalled);
	}
	pgfleet__v1__command_result__init(result);
}

/* Runs command into a packed CommandResult (*packed malloc'd) and logs
 * the action. */
static void
run_command(struct action_channel *channel, const Pgfleet__V1__Command *command,
    uint8_t **packed, size_t *packed_len)
{
	Pgfleet__V1__CommandResult result = PGFLEET__V1__COMMAND_RESULT__INIT;
	int64_t started_ms = pgf_monotonic_ms();
	char what[256];
	const char *requested_by = "?";

	result.id = command->id;
	if (command->deadline_us != 0 && pgf_time_now_us() > command->deadline_us) {
		snprintf(
		    what, sizeof(what), "command %llu", (unsigned long long) command->id);
		result_error(&result, "failed",
		    "the collector's deadline passed before the agent got the command");
	} else if (command->action_case == PGFLEET__V1__COMMAND__ACTION_EXPLAIN) {
		const Pgfleet__V1__ExplainRequest *request = command->explain;
		requested_by = request->requested_by;
		snprintf(what, sizeof(what), "%s database=\"%.64s\" query=\"%.80s\"",
		    request->analyze ? "explain-analyze" : "explain", request->database,
		    request->query);
		do_explain(channel, request, &result);
	} else if (command->action_case == PGFLEET__V1__COMMAND__ACTION_BACKEND_SIGNAL) {
		const Pgfleet__V1__BackendSignalRequest *request
		    = command->backend_signal;
		requested_by = request->requested_by;
		snprintf(what, sizeof(what), "%s pid=%d",
		    request->signal
			    == PGFLEET__V1__BACKEND_SIGNAL_REQUEST__SIGNAL__SIGNAL_TERMINATE
			? "terminate"
			: "cancel",
		    request->pid);
		do_backend_signal(channel, request, &result);
	} else {
		snprintf(
		    what, sizeof(what), "unknown action %d", (int) command->action_case);
		result_error(&result, "refused",
		    "unknown action: this agent is older than the collector");
	}
	/* the audit line: who asked, what, where, the outcome */
	if (result.error[0] == '\0')
		pgf_info(
		    "action instance=%s id=%llu requested_by=\"%.64s\" %s: ok (%lld ms)",
		    channel->name, (unsigned long long) command->id, requested_by, what,
		    (long long) (pgf_monotonic_ms() - started_ms));
	else
		pgf_warning("action instance=%s id=%llu requested_by=\"%.64s\" %s: %s: "
			    "%s (%lld ms)",
		    channel->name, (unsigned long long) command->id, requested_by, what,
		    result.error_kind, result.error,
		    (long long) (pgf_monotonic_ms() - started_ms));
	*packed_len = protobuf_c_message_get_packed_size(&result.base);
	*packed = malloc(*packed_len + 1);
	if (*packed != NULL)
		protobuf_c_message_pack(&result.base, *packed);
	else
		*packed_len = 0;
	result_fini(&result);
}

/* Opens channel->socket and starts dialing address (non-blocking). The
 * start and every failover use it: one socket per address polled, since a
 * REQ socket with several dialers would spread polls over them. */
static int
channel_dial(struct action_channel *channel, const char *address, char *errbuf, size_t errlen)
{
	char reason[512];
	int rv;

	if ((rv = nng_req0_open(&channel->socket)) != 0) {
		snprintf(errbuf, errlen, "could not open the action socket: %s",
		    nng_strerror(rv));
		return PGF_EIO;
	}
	nng_socket_set_ms(channel->socket, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(channel->socket, NNG_OPT_RECVTIMEO, POLL_WAIT_MS + 5000);
	/* above the poll's deadline: nng must not resend a poll being held */
	nng_socket_set_ms(channel->socket, NNG_OPT_REQ_RESENDTIME, POLL_WAIT_MS + 60000);
	nng_socket_set_ms(channel->socket, NNG_OPT_RECONNMINT, 200);
	nng_socket_set_ms(channel->socket, NNG_OPT_RECONNMAXT, 10000);
	nng_socket_set_size(channel->socket, NNG_OPT_RECVMAXSZ, COMMAND_MAX_BYTES);
	/* a tls+tcp:// dialer gets its certificates before it starts */
	if ((rv = pgf_tls_dial(channel->socket, address, channel->tls, NNG_FLAG_NONBLOCK, NULL, reason,
		 sizeof(reason))) != 0) {
		snprintf(errbuf, errlen, "invalid action_collector address %s", reason);
		nng_close(channel->socket);
		return PGF_ECONFIG;
	}
	return PGF_OK;
}

/* The action addresses: action_collector's list, or one derived from
 * each collector address (their host, port 7453). A list of several must
 * pair with the collector list, one action address per collector. An
 * empty *out (logged why) means actions are off. */
static int
channel_addresses(const struct agent_config *config, struct collector_list *out,
    char *errbuf, size_t errlen)
{
	struct collector_list collectors;
	char derived[512];
	int rv;

	memset(out, 0, sizeof(*out));
	if ((rv = collector_list_parse(config->collector, "collector", &collectors, errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if (config->action_collector[0] != '\0') {
		rv = collector_list_parse(config->action_collector, "action_collector", out,
		    errbuf, errlen);
		if (rv == PGF_OK && out->count > 1 && out->count != collectors.count) {
			snprintf(errbuf, errlen,
			    "invalid action_collector: %zu addresses for %zu collector(s); give one, or one per collector in the same order",
			    out->count, collectors.count);
			collector_list_fini(out);
			rv = PGF_ECONFIG;
		}
		collector_list_fini(&collectors);
		return rv;
	}
	for (size_t i = 0; i < collectors.count; i++) {
		if (!action_channel_derive_address(collectors.addresses[i], derived,
			sizeof(derived))) {
			pgf_info("actions: off (no action_collector set and none "
				 "derivable from \"%s\")",
			    collectors.addresses[i]);
			collector_list_fini(out);
			break;
		}
		if ((out->addresses[i] = strdup(derived)) == NULL) {
			collector_list_fini(out);
			collector_list_fini(&collectors);
			snprintf(errbuf, errlen, "out of memory");
			return PGF_ENOMEM;
		}
		out->count = i + 1;
	}
	collector_list_fini(&collectors);
	return PGF_OK;
}

/* Before a poll: when the report loop moved to another collector, close
 * the socket and dial that collector's action address (under the lock, so
 * a stop in between is never missed). Returns false when stopping; sets
 * *failed when the new socket could not be made (the caller naps). */
static bool
channel_follow_now(struct action_channel *channel, bool *failed)
{
	size_t wanted = atomic_load(&channel->wanted);
	char errbuf[512];
	const char *name = channel->name != NULL ? channel->name : "?";
	char *address;
	bool running = true;

	*failed = false;
	pthread_mutex_lock(&channel->socket_lock);
	if (channel->stop) {
		running = false;
		goto done;
	}
	if (wanted == channel->polling && !channel->socket_closed)
		goto done;
	if (!channel->socket_closed)
		nng_close(channel->socket);
	channel->socket_closed = true;
	address = channel->addresses.addresses[wanted];
	/* addresses were dialable at start: a failure here is out of
	 * memory or sockets; the next turn tries again */
	if (channel_dial(channel, address, errbuf, sizeof(errbuf)) != PGF_OK) {
		pgf_warning("instance=%s actions: %s", name, errbuf);
		*failed = true;
		goto done;
	}
	channel->socket_closed = false;
	if (wanted != channel->polling)
		pgf_info("instance=%s actions: switched from %s to %s (following the reports)",
		    name, channel->addresses.addresses[channel->polling], address);
	channel->polling = wanted;
done:
	pthread_mutex_unlock(&channel->socket_lock);
	return running;
}

void
action_channel_follow(struct action_channel *channel, size_t index)
{
	if (channel == NULL || channel->addresses.count < 2 ||
	    index >= channel->addresses.count)
		return;
	atomic_store(&channel->wanted, index);
	/* a poll held by the collector being left would wait out its full
	 * deadline: closing the socket ends it now */
	pthread_mutex_lock(&channel->socket_lock);
	if (!channel->socket_closed)
		nng_close(channel->socket);
	channel->socket_closed = true;
	pthread_mutex_unlock(&channel->socket_lock);
}

/* Sleeps ms in short steps, returning early when asked to stop. */
static void
nap(struct action_channel *channel, int64_t ms)
{
	int64_t until = pgf_monotonic_ms() + ms;
	while (!channel->stop && pgf_monotonic_ms() < until)
		pgf_sleep_ms(100);
}

static void *
channel_thread(void *arg)
{
	struct action_channel *channel = arg;
	uint8_t *pending = NULL; /* packed CommandResult for the next poll */
	size_t pending_len = 0;
	int64_t backoff_ms = 0;
	bool follow_failed;

	while (!channel->stop) {
		Pgfleet__V1__ActionPoll poll = PGFLEET__V1__ACTION_POLL__INIT;
		Pgfleet__V1__ActionPermissions permissions
		    = PGFLEET__V1__ACTION_PERMISSIONS__INIT;
		Pgfleet__V1__CommandResult *result = NULL;
		ProtobufCMessage *reply = NULL;
		int rv;

		if (!channel_follow_now(channel, &follow_failed))
			break;
		if (follow_failed) {
			nap(channel, BACKOFF_MAX_MS);
			continue;
		}
		if (channel->name == NULL && !learn_name(channel)) {
			backoff_ms = backoff_ms == 0
			    ? BACKOFF_MIN_MS
			    : (backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							       : backoff_ms * 2);
			nap(channel, backoff_ms);
			continue;
		}
		/* an action connection unused this long is closed: the watched
		 * server keeps no idle connection of ours for nothing */
		if (channel->session != NULL
		    && channel->config.idle_connection_timeout > 0
		    && pgf_monotonic_ms() - channel->session_used_ms
			> channel->config.idle_connection_timeout)
			session_drop(channel);
		permissions.explain = channel->config.allow_explain;
		permissions.explain_analyze = channel->config.allow_explain_analyze;
		permissions.cancel = channel->config.allow_cancel;
		permissions.terminate = channel->config.allow_terminate;
		poll.agent_id = channel->agent_id;
		if (channel->token != NULL)
			poll.agent_token = channel->token;
		poll.instance = channel->name;
		poll.permissions = &permissions;
		poll.server_version_num = channel->server_version_num;
		poll.wait_ms = POLL_WAIT_MS;
		if (pending != NULL) {
			result = pgfleet__v1__command_result__unpack(
			    NULL, pending_len, pending);
			poll.result = result;
		}
		rv = pgf_wire_send(channel->socket, &poll.base);
		if (result != NULL)
			pgfleet__v1__command_result__free_unpacked(result, NULL);
		if (rv == PGF_OK)
			rv = pgf_wire_recv(channel->socket,
			    &pgfleet__v1__command__descriptor, COMMAND_MAX_BYTES, &reply);
		if (rv != PGF_OK) {
			if (channel->stop)
				break;
			/* a failover closed the socket: poll the new one now */
			if (atomic_load(&channel->wanted) != channel->polling)
				continue;
			backoff_ms = backoff_ms == 0
			    ? BACKOFF_MIN_MS
			    : (backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							       : backoff_ms * 2);
			pgf_debug("instance=%s actions: no answer from %s: %s (retrying "
				  "in %lld ms)",
			    channel->name, channel->addresses.addresses[channel->polling],
			    pgf_error_text(rv),
			    (long long) backoff_ms);
			nap(channel, backoff_ms);
			continue;
		}
		backoff_ms = 0;
		/* the collector has the previous result now */
		free(pending);
		pending = NULL;
		pending_len = 0;
		if (((Pgfleet__V1__Command *) reply)->id != 0)
			run_command(channel, (Pgfleet__V1__Command *) reply, &pending,
			    &pending_len);
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	free(pending);
	return NULL;
}

int
action_channel_start(const struct agent_config *config, const char *agent_id,
    struct action_channel **out, char *errbuf, size_t errlen)
{
	struct action_channel *channel;
	char derived[512];
	const char *address = config->action_collector;
	struct collector_list addresses;
	int rv;

	*out = NULL;
	if (strcmp(address, "off") == 0) {
		pgf_info("actions: off (action_collector = off)");
		return PGF_OK;
	}
	if ((rv = channel_addresses(config, &addresses, errbuf, errlen)) != PGF_OK)
		return rv;
	if (addresses.count == 0)
		return PGF_OK;
	if ((rv = collector_list_check_dialable(&addresses, "action_collector", errbuf,
		 errlen)) != PGF_OK) {
		collector_list_fini(&addresses);
		return rv;
	}
	snprintf(derived, sizeof(derived), "%s", addresses.addresses[0]);
	address = derived;
	channel = calloc(1, sizeof(*channel));
	if (channel == NULL) {
		collector_list_fini(&addresses);
		return PGF_ENOMEM;
	}
	channel->addresses = addresses;
	pthread_mutex_init(&channel->socket_lock, NULL);
	/* only what pg_session and the actions read; strings owned here */
	channel->config.conninfo = strdup(config->conninfo);
	channel->config.databases = strdup(config->databases);
	channel->config.exclude_databases = strdup(config->exclude_databases);
	channel->config.statement_timeout = config->action_statement_timeout;
	channel->config.lock_timeout = config->lock_timeout;
	channel->config.connect_timeout = config->connect_timeout;
	channel->config.action_statement_timeout = config->action_statement_timeout;
	channel->config.idle_connection_timeout = config->idle_connection_timeout;
	channel->config.allow_explain = config->allow_explain;
	channel->config.allow_explain_analyze = config->allow_explain_analyze;
	channel->config.allow_cancel = config->allow_cancel;
	channel->config.allow_terminate = config->allow_terminate;
	channel->agent_id = strdup(agent_id);
	channel->address = strdup(address);
	if (config->name[0] != '\0')
		channel->name = strdup(config->name);
	if (channel->config.conninfo == NULL || channel->config.databases == NULL
	    || channel->config.exclude_databases == NULL || channel->agent_id == NULL
	    || channel->address == NULL
	    || (config->name[0] != '\0' && channel->name == NULL)) {
		rv = PGF_ENOMEM;
		goto fail;
	}
	/* read here too: the channel copies what it needs at start */
	if (config->token_file[0] != '\0' &&
	    (rv = pgf_secret_file_read(config->token_file, "token", &channel->token, errbuf,
		 errlen)) != PGF_OK)
		goto fail;
	/* the same certificates as the reports' link (agent_main checked
	 * the addresses against them) */
	{
		struct pgf_tls_options tls = {
			.ca = config->tls_ca,
			.cert = config->tls_cert,
			.key = config->tls_key,
			.server_name = config->tls_server_name,
		};
		if ((rv = pgf_tls_link_open(&tls, &channel->tls, errbuf, errlen)) != PGF_OK)
			goto fail;
	}
	if ((rv = channel_dial(channel, address, errbuf, errlen)) != PGF_OK)
		goto fail;
	if (pthread_create(&channel->thread, NULL, channel_thread, channel) != 0) {
		snprintf(errbuf, errlen, "could not start the action thread");
		nng_close(channel->socket);
		rv = PGF_EIO;
		goto fail;
	}
	if (channel->addresses.count > 1)
		pgf_info("actions: %zu collector action addresses, following the reports",
		    channel->addresses.count);
	pgf_info("actions: polling %s (explain %s, explain analyze %s, cancel %s, "
		 "terminate %s)",
	    address, config->allow_explain ? "on" : "off",
	    config->allow_explain_analyze ? "on" : "off",
	    config->allow_cancel ? "on" : "off", config->allow_terminate ? "on" : "off");
	*out = channel;
	return PGF_OK;
fail:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	free(channel->config.conninfo);
	free(channel->config.databases);
	free(channel->config.exclude_databases);
	free(channel->agent_id);
	free(channel->token);
	pgf_tls_link_free(channel->tls);
	free(channel->address);
	free(channel->name);
	collector_list_fini(&channel->addresses);
	pthread_mutex_destroy(&channel->socket_lock);
	free(channel);
	return rv;
}

void
action_channel_stop(struct action_channel *channel)
{
	if (channel == NULL)
		return;
	/* closing the socket ends a poll being held (under the lock: the
	 * thread may be swapping it for a failover) */
	pthread_mutex_lock(&channel->socket_lock);
	channel->stop = true;
	if (!channel->socket_closed)
		nng_close(channel->socket);
	channel->socket_closed = true;
	pthread_mutex_unlock(&channel->socket_lock);
	pthread_join(channel->thread, NULL);
	session_drop(channel);
	free(channel->config.conninfo);
	free(channel->config.databases);
	free(channel->config.exclude_databases);
	free(channel->agent_id);
	free(channel->token);
	pgf_tls_link_free(channel->tls);
	free(channel->address);
	free(channel->name);
	collector_list_fini(&channel->addresses);
	pthread_mutex_destroy(&channel->socket_lock);
	free(channel);
}
