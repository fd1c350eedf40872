/*
 * pg_session.h - the agent's connection to the server it watches.
 *
 * Every connection carries the agent's safety options after the user's own
 * conninfo, so they always win: application_name=pgfleet-agent, a short
 * statement_timeout and lock_timeout, default_transaction_read_only=on,
 * TCP keepalives and tcp_user_timeout. Every round trip also has a
 * client-side deadline: a server that stops answering is cancelled and the
 * connection closed, never waited on forever.
 */
#ifndef PGFLEET_AGENT_PG_SESSION_H
#define PGFLEET_AGENT_PG_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "agent/agent_config.h"
#include "common/error.h"
#include "pgfleet/v1/agent.pb-c.h"

struct pg_session;

/* pg_session_open connects to the server of config->conninfo. Blocks up to
 * connect_timeout. On failure returns PGF_ECONNECT with a one-line reason
 * in errbuf. The caller owns *out (pg_session_close). */
int pg_session_open(const struct agent_config *config, struct pg_session **out,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* pg_session_open_database is pg_session_open to database dbname instead
 * of the conninfo's (NULL: the conninfo's). */
int pg_session_open_database(const struct agent_config *config, const char *dbname,
    struct pg_session **out, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* pg_session_open_as is pg_session_open_database with another
 * application_name (actions run as "pgfleet-agent-action", so operators and
 * the agent itself tell them apart). */
int pg_session_open_as(const struct agent_config *config, const char *dbname,
    const char *application_name, struct pg_session **out, char *errbuf, size_t errlen)
    PGF_MUST_CHECK;

/* pg_message_line copies a libpq message into errbuf on one line, without
 * its trailing newline (problems and log lines are one line). */
void pg_message_line(char *errbuf, size_t errlen, const char *message);

/* pg_session_close closes and frees; NULL is a no-op. */
void pg_session_close(struct pg_session *session);

/* pg_session_broken is true once a round trip failed at the connection
 * level: the caller closes and reconnects. */
bool pg_session_broken(const struct pg_session *session);

/*
 * pg_session_query runs sql (extended protocol, no parameters, text results)
 * and waits at most statement_timeout + 2 s. Returns the result (caller
 * PQclear) when it is PGRES_TUPLES_OK or PGRES_COMMAND_OK; otherwise NULL
 * with a one-line reason in errbuf and the SQLSTATE (or "") in sqlstate[6].
 */
PGresult *pg_session_query(struct pg_session *session, const char *sql,
    char *errbuf, size_t errlen, char sqlstate[6]);

/* pg_session_identity fills identity (strings malloc'd; free them with
 * pg_session_identity_fini) from the server. */
int pg_session_identity(struct pg_session *session,
    Pgfleet__V1__InstanceIdentity *identity, char *errbuf, size_t errlen)
	PGF_MUST_CHECK;

/* pg_session_identity_fini frees the strings pg_session_identity set. */
void pg_session_identity_fini(Pgfleet__V1__InstanceIdentity *identity);

/* pg_session_server_version is server_version_num of the connection. */
int pg_session_server_version(const struct pg_session *session);

#endif
