/*
 * family_pool.c - the pool family: pgbouncer's pools, traffic counters and
 * sizing settings, read from its admin console (SHOW POOLS, SHOW STATS,
 * SHOW CONFIG).
 *
 * pgbouncer's admin console is not PostgreSQL: it speaks only the simple
 * query protocol and refuses startup parameters it does not know (the
 * "options=-c statement_timeout=..." that pg_session sends). So this family
 * keeps its own plain libpq connection, opened with the user's conninfo plus
 * connect_timeout, keepalives and application_name (which pgbouncer always
 * accepts), and runs each SHOW with PQsendQuery under a poll() deadline.
 * The connection lives in the family's state between collections and is
 * opened again when it breaks (pgbouncer restarted, network cut).
 *
 * Columns are found by name: every pgbouncer release adds or moves some
 * (cl_cancel_req became cl_active_cancel_req, total_requests became
 * total_query_count, ...). A column a version lacks reads as 0.
 *
 * Without pgbouncer_conninfo there is no pool family in the report at all.
 */
#include "agent/family.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

/* The family's state across collections: the admin console connection. */
struct pool_state {
	PGconn *conn;
};

static void
pool_state_free(void *state)
{
	struct pool_state *pool = state;
	if (pool == NULL)
		return;
	if (pool->conn != NULL)
		PQfinish(pool->conn);
	free(pool);
}

/* Opens the admin console connection. Only client-side keywords are added
 * to the user's conninfo: pgbouncer rejects unknown startup parameters.
 * Returns NULL with errbuf set on failure. */
static PGconn *
pool_connect(const struct agent_config *config, char *errbuf, size_t errlen)
{
	char connect_timeout[32];
	const char *keywords[] = {"dbname", "connect_timeout", "application_name",
	    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
	    NULL};
	const char *values[sizeof(keywords) / sizeof(keywords[0])];
	PGconn *conn;

	snprintf(connect_timeout, sizeof(connect_timeout), "%lld",
	    (long long) ((config->connect_timeout + 999) / 1000));
	values[0] = config->pgbouncer_conninfo;
	values[1] = connect_timeout;
	values[2] = "pgfleet-agent";
	values[3] = "1";
	values[4] = "10";
	values[5] = "5";
	values[6] = "3";
	values[7] = NULL;
	conn = PQconnectdbParams(keywords, values, 1);
	if (conn == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		pg_message_line(errbuf, errlen, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/*
 * Runs one SHOW command with the simple protocol, waiting at most
 * deadline_ms. Returns the result (the caller clears it) or NULL with
 * errbuf set; *lost is set when the connection can no longer be used (the
 * caller closes it), as opposed to pgbouncer refusing the command.
 */
static PGresult *
pool_show(PGconn *conn, const char *command, int64_t deadline_ms, char *errbuf,
    size_t errlen, bool *lost)
{
	int64_t deadline = pgf_monotonic_ms() + deadline_ms;
	PGresult *result = NULL;
	PGresult *next;

	*lost = false;
	if (!PQsendQuery(conn, command)) {
		pg_message_line(errbuf, errlen, PQerrorMessage(conn));
		*lost = true;
		return NULL;
	}
	for (;;) {
		struct pollfd pfd;
		int64_t remaining;

		if (!PQconsumeInput(conn)) {
			pg_message_line(errbuf, errlen, PQerrorMessage(conn));
			*lost = true;
			return NULL;
		}
		if (!PQisBusy(conn))
			break;
		remaining = deadline - pgf_monotonic_ms();
		if (remaining <= 0) {
			/* the answer may still come later and would be taken
			 * for the next command's: the connection is spent */
			snprintf(errbuf, errlen, "no answer within %lld ms",
			    (long long) deadline_ms);
			*lost = true;
			return NULL;
		}
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int) remaining) < 0 && errno != EINTR) {
			snprintf(errbuf, errlen, "poll failed: %s", strerror(errno));
			*lost = true;
			return NULL;
		}
	}
	/* drain to NULL so the connection is ready for the next command */
	while ((next = PQgetResult(conn)) != NULL) {
		if (result == NULL)
			result = next;
		else
			PQclear(next);
	}
	if (result == NULL) {
		snprintf(errbuf, errlen, "no result");
		*lost = PQstatus(conn) != CONNECTION_OK;
		return NULL;
	}
	if (PQresultStatus(result) != PGRES_TUPLES_OK) {
		const char *primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
		pg_message_line(errbuf, errlen,
		    primary != NULL ? primary : PQresultErrorMessage(result));
		PQclear(result);
		*lost = PQstatus(conn) != CONNECTION_OK;
		return NULL;
	}
	return result;
}

/* The first of names that result has, or -1 (older pgbouncers name some
 * columns differently). */
static int
pool_column(const PGresult *result, const char *name, const char *older_name)
{
	int column = family_column(result, name);
	if (column < 0 && older_name != NULL)
		column = family_column(result, older_name);
	return column;
}

static void
pool_read_pools(struct family_context *context, const PGresult *result,
    Pgfleet__V1__PoolFamily *family)
{
	int rows = PQntuples(result);
	int database = family_column(result, "database");
	int user = family_column(result, "user");
	int cl_active = family_column(result, "cl_active");
	int cl_waiting = family_column(result, "cl_waiting");
	int sv_active = family_column(result, "sv_active");
	int sv_idle = family_column(result, "sv_idle");
	int sv_used = family_column(result, "sv_used");
	int sv_tested = family_column(result, "sv_tested");
	int sv_login = family_column(result, "sv_login");
	int maxwait = family_column(result, "maxwait");
	int maxwait_us = family_column(result, "maxwait_us");
	int pool_mode = family_column(result, "pool_mode");
	Pgfleet__V1__PoolerPool **pools = (Pgfleet__V1__PoolerPool **) family_rows(
	    context, (size_t) rows, &pgfleet__v1__pooler_pool__descriptor);

	if (pools == NULL)
		return;
	for (int i = 0; i < rows; i++) {
		Pgfleet__V1__PoolerPool *pool = pools[i];
		pool->database = family_text(context, result, i, database);
		pool->user = family_text(context, result, i, user);
		pool->cl_active = family_int64(result, i, cl_active);
		pool->cl_waiting = family_int64(result, i, cl_waiting);
		pool->sv_active = family_int64(result, i, sv_active);
		pool->sv_idle = family_int64(result, i, sv_idle);
		pool->sv_used = family_int64(result, i, sv_used);
		pool->sv_tested = family_int64(result, i, sv_tested);
		pool->sv_login = family_int64(result, i, sv_login);
		/* maxwait is whole seconds, maxwait_us the rest (1.8+) */
		pool->maxwait_seconds = (double) family_int64(result, i, maxwait) +
		    (double) family_int64(result, i, maxwait_us) / 1e6;
		pool->pool_mode = family_text(context, result, i, pool_mode);
	}
	family->pools = pools;
	family->n_pools = (size_t) rows;
}

static void
pool_read_stats(struct family_context *context, const PGresult *result,
    Pgfleet__V1__PoolFamily *family)
{
	int rows = PQntuples(result);
	int database = family_column(result, "database");
	int xact_count = family_column(result, "total_xact_count");
	/* before 1.8 queries were "requests" */
	int query_count = pool_column(result, "total_query_count", "total_requests");
	int received = family_column(result, "total_received");
	int sent = family_column(result, "total_sent");
	int xact_time = family_column(result, "total_xact_time");
	int query_time = family_column(result, "total_query_time");
	int wait_time = family_column(result, "total_wait_time");
	Pgfleet__V1__PoolerStat **stats = (Pgfleet__V1__PoolerStat **) family_rows(
	    context, (size_t) rows, &pgfleet__v1__pooler_stat__descriptor);

	if (stats == NULL)
		return;
	for (int i = 0; i < rows; i++) {
		Pgfleet__V1__PoolerStat *stat = stats[i];
		stat->database = family_text(context, result, i, database);
		stat->total_xact_count = family_int64(result, i, xact_count);
		stat->total_query_count = family_int64(result, i, query_count);
		stat->total_received = family_int64(result, i, received);
		stat->total_sent = family_int64(result, i, sent);
		/* pgbouncer counts these times in microseconds */
		stat->total_xact_time_us = family_int64(result, i, xact_time);
		stat->total_query_time_us = family_int64(result, i, query_time);
		stat->total_wait_time_us = family_int64(result, i, wait_time);
	}
	family->stats = stats;
	family->n_stats = (size_t) rows;
}

/* SHOW CONFIG is one key/value row per setting. */
static void
pool_read_config(struct family_context *context, const PGresult *result,
    Pgfleet__V1__PoolFamily *family)
{
	int key = family_column(result, "key");
	int value = family_column(result, "value");

	if (key < 0 || value < 0) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_UNAVAILABLE, NULL,
		    "SHOW CONFIG has no key and value columns");
		return;
	}
	for (int i = 0; i < PQntuples(result); i++) {
		const char *name = PQgetvalue(result, i, key);
		if (strcmp(name, "default_pool_size") == 0)
			family->default_pool_size = family_int64(result, i, value);
		else if (strcmp(name, "max_client_conn") == 0)
			family->max_client_conn = family_int64(result, i, value);
		else if (strcmp(name, "reserve_pool_size") == 0)
			family->reserve_pool_size = family_int64(result, i, value);
		else if (strcmp(name, "max_db_connections") == 0)
			family->max_db_connections = family_int64(result, i, value);
		else if (strcmp(name, "pool_mode") == 0)
			family->pool_mode = family_text(context, result, i, value);
	}
}

/* Opens the admin console connection when there is none; false (with a
 * problem) when pgbouncer cannot be reached. */
static bool
pool_ensure_connection(struct family_context *context, struct pool_state *pool)
{
	char errbuf[512];
	if (pool->conn != NULL && PQstatus(pool->conn) == CONNECTION_OK)
		return true;
	if (pool->conn != NULL) {
		PQfinish(pool->conn);
		pool->conn = NULL;
	}
	pool->conn = pool_connect(context->config, errbuf, sizeof(errbuf));
	if (pool->conn == NULL) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_UNAVAILABLE, NULL,
		    "could not connect to pgbouncer: %s", errbuf);
		return false;
	}
	return true;
}

static void
collect_pool(struct family_context *context, Pgfleet__V1__Report *report)
{
	static const struct {
		const char *command;
		void (*read)(struct family_context *, const PGresult *,
		    Pgfleet__V1__PoolFamily *);
	} shows[] = {
		{"SHOW POOLS", pool_read_pools},
		{"SHOW STATS", pool_read_stats},
		{"SHOW CONFIG", pool_read_config},
	};
	struct pool_state *pool = *context->state;
	Pgfleet__V1__PoolFamily *family;
	int64_t deadline_ms = context->config->statement_timeout + 2000;

	if (context->config->pgbouncer_conninfo == NULL ||
	    context->config->pgbouncer_conninfo[0] == '\0')
		return;
	family = family_new_message(context, &pgfleet__v1__pool_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "pool", &family->problems, &family->n_problems);
	report->pool = family;
	if (pool == NULL) {
		pool = calloc(1, sizeof(*pool));
		if (pool == NULL) {
			family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, NULL,
			    "out of memory");
			return;
		}
		*context->state = pool;
	}
	for (size_t i = 0; i < sizeof(shows) / sizeof(shows[0]); i++) {
		char errbuf[512];
		PGresult *result;
		bool reused;
		bool lost;

		reused = pool->conn != NULL;
		if (!pool_ensure_connection(context, pool))
			return;
		result = pool_show(pool->conn, shows[i].command, deadline_ms, errbuf,
		    sizeof(errbuf), &lost);
		if (result == NULL && lost && reused && i == 0) {
			/* a connection kept from the last collection may have
			 * died meanwhile (pgbouncer restarted): try a fresh one
			 * before calling it a problem */
			PQfinish(pool->conn);
			pool->conn = NULL;
			if (!pool_ensure_connection(context, pool))
				return;
			result = pool_show(pool->conn, shows[i].command, deadline_ms, errbuf,
			    sizeof(errbuf), &lost);
		}
		if (result == NULL) {
			family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, NULL,
			    "%s: %s", shows[i].command, errbuf);
			if (lost) {
				PQfinish(pool->conn);
				pool->conn = NULL;
				return;
			}
			continue;
		}
		shows[i].read(context, result, family);
		PQclear(result);
	}
}

const struct agent_family family_pool = {
	.name = "pool",
	.cadence_ms = family_cadence_pool,
	.min_server_version = 130000,
	.collect = collect_pool,
	.state_free = pool_state_free,
};
