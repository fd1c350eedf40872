/*
 * pg_session.c - the agent's safe connection to the watched server.
 *
 * The agent must never harm the server it watches. Safety options are
 * passed as keywords after the user's conninfo (PQconnectdbParams with
 * expand_dbname), so they override whatever the user's string says. Queries
 * go out with the extended protocol (one statement per round trip, no
 * multi-statement strings), and every wait on the socket has a deadline.
 */
#include "agent/pg_session.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"

struct pg_session {
	PGconn *conn;
	int64_t deadline_ms;
	bool broken;
	int server_version;
};

void
pg_message_line(char *errbuf, size_t errlen, const char *message)
{
	size_t len;
	snprintf(errbuf, errlen, "%s", message != NULL ? message : "unknown error");
	len = strlen(errbuf);
	while (len > 0 && (errbuf[len - 1] == '\n' || errbuf[len - 1] == ' '))
		errbuf[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (errbuf[i] == '\n' || errbuf[i] == '\t')
			errbuf[i] = ' ';
	}
}

static void
log_notice(void *arg, const char *message)
{
	char line[512];
	(void) arg;
	pg_message_line(line, sizeof(line), message);
	pgf_debug("server notice: %s", line);
}

int
pg_session_open(const struct agent_config *config, struct pg_session **out,
    char *errbuf, size_t errlen)
{
	return pg_session_open_database(config, NULL, out, errbuf, errlen);
}

int
pg_session_open_database(const struct agent_config *config, const char *dbname,
    struct pg_session **out, char *errbuf, size_t errlen)
{
	return pg_session_open_as(config, dbname, "pgfleet-agent", out, errbuf, errlen);
}

int
pg_session_open_as(const struct agent_config *config, const char *dbname,
    const char *application_name, struct pg_session **out, char *errbuf, size_t errlen)
{
	char options[256];
	char connect_timeout[32];
	char tcp_user_timeout[32];
	struct pg_session *session = NULL;
	PGconn *conn = NULL;
	const char *keywords[] = {"dbname", "application_name", "options",
	    "connect_timeout", "keepalives", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	    /* a second dbname is taken as a plain name and overrides the
	     * conninfo's (libpq expands only the first) */
	    "dbname", NULL};
	const char *values[sizeof(keywords) / sizeof(keywords[0])];

	*out = NULL;
	snprintf(options, sizeof(options),
	    "-c statement_timeout=%lld -c lock_timeout=%lld"
	    " -c idle_in_transaction_session_timeout=%lld"
	    " -c default_transaction_read_only=on",
	    (long long) config->statement_timeout, (long long) config->lock_timeout,
	    (long long) config->statement_timeout * 2);
	snprintf(connect_timeout, sizeof(connect_timeout), "%lld",
	    (long long) ((config->connect_timeout + 999) / 1000));
	snprintf(tcp_user_timeout, sizeof(tcp_user_timeout), "%lld",
	    (long long) (config->statement_timeout + 5000));
	values[0] = config->conninfo;
	values[1] = application_name;
	values[2] = options;
	values[3] = connect_timeout;
	values[4] = "1";
	values[5] = "10";
	values[6] = "5";
	values[7] = "3";
	values[8] = tcp_user_timeout;
	values[9] = dbname;
	values[10] = NULL;
	if (dbname == NULL)
		keywords[9] = NULL;

	conn = PQconnectdbParams(keywords, values, 1);
	if (conn == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		pg_message_line(errbuf, errlen, PQerrorMessage(conn));
		PQfinish(conn);
		return PGF_ECONNECT;
	}
	session = calloc(1, sizeof(*session));
	if (session == NULL) {
		PQfinish(conn);
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	/* server notices (e.g. "terminating connection due to administrator
	 * command") go to the log on one line, not raw to stderr */
	PQsetNoticeProcessor(conn, log_notice, NULL);
	session->conn = conn;
	session->deadline_ms = config->statement_timeout + 2000;
	session->server_version = PQserverVersion(conn);
	*out = session;
	return PGF_OK;
}

void
pg_session_close(struct pg_session *session)
{
	if (session == NULL)
		return;
	PQfinish(session->conn);
	free(session);
}

bool
pg_session_broken(const struct pg_session *session)
{
	return session->broken || PQstatus(session->conn) != CONNECTION_OK;
}

int
pg_session_server_version(const struct pg_session *session)
{
	return session->server_version;
}

/* libpq 15's PQcancel waits, with no bound, for the server to close the
 * cancel connection: against a half-open server (a peer that accepts and
 * never answers) it would hang the agent (tests/e2e/rel_halfopen.sh, T21).
 * So the cancel is sent from a detached thread the agent does not wait
 * for, and at most one is in flight (a server that ignores one cancel
 * ignores the next: no pile of stuck threads). */
static atomic_bool cancel_in_flight;

static void *
cancel_thread(void *arg)
{
	PGcancel *cancel = arg;
	char errbuf[256];

	if (!PQcancel(cancel, errbuf, sizeof(errbuf)))
		pgf_debug("could not cancel query: %s", errbuf);
	PQfreeCancel(cancel);
	atomic_store(&cancel_in_flight, false);
	return NULL;
}

/* Asks the server to cancel the running query (without waiting) and marks
 * the session broken: after a missed deadline the connection's state is
 * unknown. */
static void
cancel_and_break(struct pg_session *session)
{
	PGcancel *cancel = PQgetCancel(session->conn);
	pthread_attr_t attr;
	pthread_t thread;
	bool started = false;

	if (cancel != NULL && !atomic_exchange(&cancel_in_flight, true)) {
		if (pthread_attr_init(&attr) == 0) {
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			started = pthread_create(&thread, &attr, cancel_thread, cancel) == 0;
			pthread_attr_destroy(&attr);
		}
		if (!started)
			atomic_store(&cancel_in_flight, false);
	}
	if (cancel != NULL && !started)
		PQfreeCancel(cancel);
	session->broken = true;
}

PGresult *
pg_session_query(struct pg_session *session, const char *sql, char *errbuf,
    size_t errlen, char sqlstate[6])
{
	int64_t deadline = pgf_monotonic_ms() + session->deadline_ms;
	PGresult *result = NULL;
	PGresult *next;

	sqlstate[0] = '\0';
	if (session->broken) {
		snprintf(errbuf, errlen, "connection is broken");
		return NULL;
	}
	if (!PQsendQueryParams(session->conn, sql, 0, NULL, NULL, NULL, NULL, 0)) {
		pg_message_line(errbuf, errlen, PQerrorMessage(session->conn));
		session->broken = true;
		return NULL;
	}
	for (;;) {
		struct pollfd pfd;
		int64_t remaining;
		int rv;

		if (!PQconsumeInput(session->conn)) {
			pg_message_line(errbuf, errlen, PQerrorMessage(session->conn));
			session->broken = true;
			return NULL;
		}
		if (!PQisBusy(session->conn))
			break;
		remaining = deadline - pgf_monotonic_ms();
		if (remaining <= 0) {
			snprintf(errbuf, errlen, "no answer from the server within %lld ms",
			    (long long) session->deadline_ms);
			cancel_and_break(session);
			return NULL;
		}
		pfd.fd = PQsocket(session->conn);
		pfd.events = POLLIN;
		rv = poll(&pfd, 1, (int) remaining);
		if (rv < 0 && errno != EINTR) {
			snprintf(errbuf, errlen, "poll failed: %s", strerror(errno));
			cancel_and_break(session);
			return NULL;
		}
	}
	/* one statement gives one result; drain to NULL so the connection is
	 * ready for the next query */
	while ((next = PQgetResult(session->conn)) != NULL) {
		if (result == NULL)
			result = next;
		else
			PQclear(next);
	}
	if (result == NULL) {
		snprintf(errbuf, errlen, "no result");
		return NULL;
	}
	switch (PQresultStatus(result)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		return result;
	default: {
		const char *state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
		snprintf(sqlstate, 6, "%s", state != NULL ? state : "");
		pg_message_line(errbuf, errlen, PQresultErrorField(result,
		    PG_DIAG_MESSAGE_PRIMARY) != NULL
			? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)
			: PQresultErrorMessage(result));
		PQclear(result);
		return NULL;
	}
	}
}

static char *
dup_or_empty(const char *text)
{
	return strdup(text != NULL ? text : "");
}

int
pg_session_identity(struct pg_session *session,
    Pgfleet__V1__InstanceIdentity *identity, char *errbuf, size_t errlen)
{
	char sqlstate[6];
	PGresult *result;
	const char *port;

	/* pg_control_system() needs pg_monitor-like rights on some setups; the
	 * scalar subquery keeps the rest of the identity when it is refused */
	result = pg_session_query(session,
	    "SELECT (SELECT system_identifier::text FROM pg_control_system()),"
	    " current_setting('server_version_num')::int,"
	    " current_setting('server_version'),"
	    " pg_is_in_recovery(),"
	    " (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::int8",
	    errbuf, errlen, sqlstate);
	if (result == NULL)
		return PGF_EPOSTGRES;
	if (PQntuples(result) != 1) {
		snprintf(errbuf, errlen, "identity query returned %d rows", PQntuples(result));
		PQclear(result);
		return PGF_EPOSTGRES;
	}
	pg_session_identity_fini(identity);
	identity->system_identifier = dup_or_empty(PQgetvalue(result, 0, 0));
	identity->server_version_num = (uint32_t) strtoul(PQgetvalue(result, 0, 1), NULL, 10);
	identity->server_version = dup_or_empty(PQgetvalue(result, 0, 2));
	identity->role = strcmp(PQgetvalue(result, 0, 3), "t") == 0
	    ? PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA
	    : PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	identity->postmaster_start_time_us = strtoll(PQgetvalue(result, 0, 4), NULL, 10);
	identity->host = dup_or_empty(PQhost(session->conn));
	port = PQport(session->conn);
	identity->port = port != NULL ? (uint32_t) strtoul(port, NULL, 10) : 0;
	PQclear(result);
	if (identity->system_identifier == NULL || identity->server_version == NULL ||
	    identity->host == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	return PGF_OK;
}

void
pg_session_identity_fini(Pgfleet__V1__InstanceIdentity *identity)
{
	/* protobuf-c initialises string fields to a shared empty string */
	if (identity->system_identifier != protobuf_c_empty_string)
		free(identity->system_identifier);
	if (identity->server_version != protobuf_c_empty_string)
		free(identity->server_version);
	if (identity->host != protobuf_c_empty_string)
		free(identity->host);
	identity->system_identifier = (char *) protobuf_c_empty_string;
	identity->server_version = (char *) protobuf_c_empty_string;
	identity->host = (char *) protobuf_c_empty_string;
}
