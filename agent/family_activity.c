/*
 * family_activity.c - who is connected and what they do, from
 * pg_stat_activity (client backends only, never the agent itself).
 *
 * Four reads, all cluster-wide through the main session:
 * - connection groups per (database, user, application, client, state),
 *   with the totals computed by window functions in the same statement so
 *   they agree with the groups even when the groups are capped;
 * - long-running active queries (older than long_query_threshold) and
 *   every backend idle in a transaction, oldest first, capped at 100 each;
 * - blocking pairs, only when some backend waits on a heavyweight lock:
 *   pg_blocking_pids() and pg_locks take every lock manager partition lock,
 *   so they are never run on a quiet server and only for waiting backends;
 * - max_connections and superuser_reserved_connections, to see how close
 *   the server is to refusing connections.
 * Query texts are cut to max_query_text bytes.
 */
#include "agent/family_activity.h"

#include <stdio.h>

#include "agent/family.h"

/* Most backends named in each list, and most blocking pairs (groups stop
 * at 1000 in activity_groups_sql): the report stays small on a server with
 * thousands of connections. */
#define ACTIVITY_MAX_BACKENDS 100
#define ACTIVITY_MAX_PAIRS 1000

/* The client backends other than the agent's own session. A role without
 * pg_read_all_stats sees other users' backends without their type, state
 * or query, but with their database, user and application: such a backend
 * connected to a database is counted as a client (it may also be an
 * autovacuum or parallel worker; the type is hidden) and as invisible. */
#define ACTIVITY_CLIENTS \
	" FROM pg_catalog.pg_stat_activity" \
	" WHERE (backend_type = 'client backend' OR (backend_type IS NULL" \
	" AND datname IS NOT NULL AND query = '<insufficient privilege>'))" \
	" AND pid <> pg_catalog.pg_backend_pid()"

/* Microseconds since the epoch of a timestamp, 0 for NULL. */
#define ACTIVITY_US(x) "coalesce((extract(epoch FROM " x ") * 1000000)::int8, 0)"
/* Seconds since a timestamp, never negative (a backend may have started
 * its query after the agent's statement began). */
#define ACTIVITY_AGE(x) "greatest(0, coalesce(extract(epoch FROM now() - " x "), 0))"

/* Column order of ACTIVITY_BACKEND_SQL's result. */
enum backend_column {
	BACKEND_PID,
	BACKEND_DATABASE,
	BACKEND_USER,
	BACKEND_APPLICATION,
	BACKEND_CLIENT,
	BACKEND_STATE,
	BACKEND_WAIT_EVENT_TYPE,
	BACKEND_WAIT_EVENT,
	BACKEND_BACKEND_START,
	BACKEND_XACT_START,
	BACKEND_QUERY_START,
	BACKEND_STATE_CHANGE,
	BACKEND_QUERY_AGE,
	BACKEND_XACT_AGE,
	BACKEND_STATE_AGE,
	BACKEND_QUERY,
	BACKEND_TYPE,
};

#define ACTIVITY_BACKEND_SQL \
	"SELECT pid, coalesce(datname, ''), coalesce(usename, '')," \
	" coalesce(application_name, ''), coalesce(host(client_addr), '')," \
	" coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(wait_event, '')," \
	" " ACTIVITY_US("backend_start") ", " ACTIVITY_US("xact_start") "," \
	" " ACTIVITY_US("query_start") ", " ACTIVITY_US("state_change") "," \
	" " ACTIVITY_AGE("query_start") ", " ACTIVITY_AGE("xact_start") "," \
	" " ACTIVITY_AGE("state_change") ", query, coalesce(backend_type, '')" \
	ACTIVITY_CLIENTS

/* Column order of the groups query. */
enum group_column {
	GROUP_DATABASE,
	GROUP_USER,
	GROUP_APPLICATION,
	GROUP_CLIENT,
	GROUP_STATE,
	GROUP_COUNT,
	GROUP_WAITING,
	GROUP_MAX_STATE_AGE,
	GROUP_TOTAL,
	GROUP_TOTAL_ACTIVE,
	GROUP_TOTAL_IDLE,
	GROUP_TOTAL_IDLE_IN_TRANSACTION,
	GROUP_TOTAL_WAITING,
	GROUP_TOTAL_LOCK_WAITING,
	GROUP_TOTAL_INVISIBLE,
};

/* "Waiting" is an active backend inside a wait event (a lock, I/O, a
 * latch...); an idle backend always waits for its client and is not. */
#define ACTIVITY_WAITING "state = 'active' AND wait_event IS NOT NULL"

static const char activity_groups_sql[] =
    "SELECT coalesce(datname, ''), coalesce(usename, ''),"
    " coalesce(application_name, ''), coalesce(host(client_addr), ''),"
    " coalesce(state, ''), count(*),"
    " count(*) FILTER (WHERE " ACTIVITY_WAITING "),"
    " max(" ACTIVITY_AGE("state_change") "),"
    " sum(count(*)) OVER ()::int8,"
    " sum(count(*) FILTER (WHERE state = 'active')) OVER ()::int8,"
    " sum(count(*) FILTER (WHERE state = 'idle')) OVER ()::int8,"
    " sum(count(*) FILTER (WHERE state IN ('idle in transaction',"
    " 'idle in transaction (aborted)'))) OVER ()::int8,"
    " sum(count(*) FILTER (WHERE " ACTIVITY_WAITING ")) OVER ()::int8,"
    " sum(count(*) FILTER (WHERE wait_event_type = 'Lock')) OVER ()::int8,"
    " sum(count(*) FILTER (WHERE query = '<insufficient privilege>')) OVER ()::int8"
    ACTIVITY_CLIENTS
    " GROUP BY 1, 2, 3, 4, 5"
    " ORDER BY 6 DESC, 1, 2, 3, 4, 5"
    " LIMIT 1000";

/* Column order of activity_blocking_sql's result. */
enum blocking_column {
	BLOCKING_BLOCKED_PID,
	BLOCKING_BLOCKING_PID,
	BLOCKING_BLOCKED_QUERY,
	BLOCKING_BLOCKING_QUERY,
	BLOCKING_SECONDS,
	BLOCKING_STATE,
	BLOCKING_RELATION,
	BLOCKING_MODE,
};

bool
activity_blocking_sql(int server_version_num, char *buf, size_t size)
{
	/* pg_locks.waitstart arrived in 14 (and is NULL for a moment after
	 * the wait began) */
	const char *waitstart =
	    server_version_num >= 140000 ? "l.waitstart" : "NULL::timestamptz";
	int n = snprintf(buf, size,
	    /* materialized, so pg_blocking_pids() runs for waiting backends
	     * only, once each */
	    "WITH waiting AS MATERIALIZED ("
	    " SELECT pid, query, query_start" ACTIVITY_CLIENTS
	    " AND wait_event_type = 'Lock'"
	    " ORDER BY query_start LIMIT %d),"
	    " pairs AS MATERIALIZED ("
	    " SELECT pid, query, query_start,"
	    " unnest(pg_catalog.pg_blocking_pids(pid)) AS blocking_pid FROM waiting),"
	    /* a backend waits for one lock at a time; a relation of another
	     * database cannot be named from here */
	    " wanted AS MATERIALIZED ("
	    " SELECT DISTINCT ON (l.pid) l.pid,"
	    " CASE WHEN l.relation IS NOT NULL AND l.database IN (0,"
	    " (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))"
	    " THEN l.relation::regclass::text ELSE '' END AS relation,"
	    " l.mode, %s AS waitstart"
	    " FROM pg_catalog.pg_locks l"
	    " WHERE NOT l.granted AND l.pid IN (SELECT pid FROM waiting)"
	    " ORDER BY l.pid)"
	    " SELECT p.pid, p.blocking_pid, p.query, k.query,"
	    " " ACTIVITY_AGE("coalesce(w.waitstart, p.query_start)") ","
	    " coalesce(k.state, ''), coalesce(w.relation, ''), coalesce(w.mode, '')"
	    " FROM pairs p"
	    " LEFT JOIN pg_catalog.pg_stat_activity k ON k.pid = p.blocking_pid"
	    " LEFT JOIN wanted w ON w.pid = p.pid"
	    " ORDER BY 5 DESC, 1, 2 LIMIT %d",
	    ACTIVITY_MAX_BACKENDS, waitstart, ACTIVITY_MAX_PAIRS);
	return n > 0 && (size_t) n < size;
}

/* The longest query text sent, in bytes. */
static size_t
max_query_text(const struct family_context *context)
{
	return context->config->max_query_text > 0 ? (size_t) context->config->max_query_text
						    : 0;
}

/* Fills backend from row of an ACTIVITY_BACKEND_SQL result. */
static void
read_backend(struct family_context *context, const PGresult *result, int row,
    Pgfleet__V1__Backend *backend)
{
	backend->pid = (int32_t) family_int64(result, row, BACKEND_PID);
	backend->database = family_text(context, result, row, BACKEND_DATABASE);
	backend->user = family_text(context, result, row, BACKEND_USER);
	backend->application_name = family_text(context, result, row, BACKEND_APPLICATION);
	backend->client_addr = family_text(context, result, row, BACKEND_CLIENT);
	backend->state = family_text(context, result, row, BACKEND_STATE);
	backend->wait_event_type = family_text(context, result, row, BACKEND_WAIT_EVENT_TYPE);
	backend->wait_event = family_text(context, result, row, BACKEND_WAIT_EVENT);
	backend->backend_start_us = family_int64(result, row, BACKEND_BACKEND_START);
	backend->xact_start_us = family_int64(result, row, BACKEND_XACT_START);
	backend->query_start_us = family_int64(result, row, BACKEND_QUERY_START);
	backend->state_change_us = family_int64(result, row, BACKEND_STATE_CHANGE);
	backend->query_age_seconds = family_double(result, row, BACKEND_QUERY_AGE);
	backend->xact_age_seconds = family_double(result, row, BACKEND_XACT_AGE);
	backend->state_age_seconds = family_double(result, row, BACKEND_STATE_AGE);
	backend->query = family_bytes(context, result, row, BACKEND_QUERY,
	    max_query_text(context), &backend->query_truncated);
	backend->backend_type = family_text(context, result, row, BACKEND_TYPE);
}

/* Runs an ACTIVITY_BACKEND_SQL query and puts its rows in *backends. */
static void
collect_backends(struct family_context *context, const char *what, const char *sql,
    Pgfleet__V1__Backend ***backends, size_t *n_backends)
{
	PGresult *result;
	Pgfleet__V1__Backend **rows;
	int count;

	result = family_query_rows(context, context->session, NULL, what, sql,
	    &pgfleet__v1__backend__descriptor, &rows);
	if (result == NULL)
		return;
	count = PQntuples(result);
	for (int i = 0; i < count; i++)
		read_backend(context, result, i, rows[i]);
	*backends = rows;
	*n_backends = (size_t) count;
	PQclear(result);
}

/* Reads the connection groups and the totals; returns how many backends
 * wait on a heavyweight lock (0 when the query failed). */
static int64_t
collect_groups(struct family_context *context, Pgfleet__V1__ActivityFamily *family)
{
	const char *what = "could not read connections";
	PGresult *result;
	Pgfleet__V1__ConnectionGroup **groups;
	int64_t lock_waiting = 0;
	int count;

	result = family_query_rows(context, context->session, NULL, what, activity_groups_sql,
	    &pgfleet__v1__connection_group__descriptor, &groups);
	if (result == NULL)
		return 0;
	count = PQntuples(result);
	for (int i = 0; i < count; i++) {
		Pgfleet__V1__ConnectionGroup *group = groups[i];
		group->database = family_text(context, result, i, GROUP_DATABASE);
		group->user = family_text(context, result, i, GROUP_USER);
		group->application_name = family_text(context, result, i, GROUP_APPLICATION);
		group->client_addr = family_text(context, result, i, GROUP_CLIENT);
		group->state = family_text(context, result, i, GROUP_STATE);
		group->count = family_int64(result, i, GROUP_COUNT);
		group->waiting = family_int64(result, i, GROUP_WAITING);
		group->max_state_age_seconds = family_double(result, i, GROUP_MAX_STATE_AGE);
	}
	if (count > 0) {
		/* the window totals are the same on every row */
		family->total_connections = family_int64(result, 0, GROUP_TOTAL);
		family->active = family_int64(result, 0, GROUP_TOTAL_ACTIVE);
		family->idle = family_int64(result, 0, GROUP_TOTAL_IDLE);
		family->idle_in_transaction_count =
		    family_int64(result, 0, GROUP_TOTAL_IDLE_IN_TRANSACTION);
		family->waiting = family_int64(result, 0, GROUP_TOTAL_WAITING);
		family->invisible_backends = family_int64(result, 0, GROUP_TOTAL_INVISIBLE);
		lock_waiting = family_int64(result, 0, GROUP_TOTAL_LOCK_WAITING);
	}
	family->connections = groups;
	family->n_connections = (size_t) count;
	PQclear(result);
	return lock_waiting;
}

const char *
activity_limits_sql(int server_version_num)
{
	if (server_version_num >= 160000)
		return "SELECT pg_catalog.current_setting('max_connections')::int8,"
		       " pg_catalog.current_setting('superuser_reserved_connections')::int8"
		       " + pg_catalog.current_setting('reserved_connections')::int8";
	return "SELECT pg_catalog.current_setting('max_connections')::int8,"
	       " pg_catalog.current_setting('superuser_reserved_connections')::int8";
}

static void
collect_limits(struct family_context *context, Pgfleet__V1__ActivityFamily *family)
{
	PGresult *result = family_query(context, context->session, NULL,
	    "could not read connection limits",
	    activity_limits_sql(context->server_version));
	if (result == NULL)
		return;
	if (PQntuples(result) == 1) {
		family->max_connections = family_int64(result, 0, 0);
		family->superuser_reserved_connections = family_int64(result, 0, 1);
	}
	PQclear(result);
}

static void
collect_blocking(struct family_context *context, Pgfleet__V1__ActivityFamily *family)
{
	const char *what = "could not read blocking locks";
	char sql[4096];
	PGresult *result;
	Pgfleet__V1__BlockingPair **pairs;
	int count;

	if (!activity_blocking_sql(context->server_version, sql, sizeof(sql))) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, NULL,
		    "%s: query too long", what);
		return;
	}
	result = family_query_rows(context, context->session, NULL, what, sql,
	    &pgfleet__v1__blocking_pair__descriptor, &pairs);
	if (result == NULL)
		return;
	count = PQntuples(result);
	for (int i = 0; i < count; i++) {
		Pgfleet__V1__BlockingPair *pair = pairs[i];
		pair->blocked_pid = (int32_t) family_int64(result, i, BLOCKING_BLOCKED_PID);
		pair->blocking_pid = (int32_t) family_int64(result, i, BLOCKING_BLOCKING_PID);
		pair->blocked_query = family_bytes(context, result, i, BLOCKING_BLOCKED_QUERY,
		    max_query_text(context), NULL);
		pair->blocking_query = family_bytes(context, result, i,
		    BLOCKING_BLOCKING_QUERY, max_query_text(context), NULL);
		pair->blocked_seconds = family_double(result, i, BLOCKING_SECONDS);
		pair->blocking_state = family_text(context, result, i, BLOCKING_STATE);
		pair->locked_relation = family_text(context, result, i, BLOCKING_RELATION);
		pair->lock_mode = family_text(context, result, i, BLOCKING_MODE);
	}
	family->blocking = pairs;
	family->n_blocking = (size_t) count;
	PQclear(result);
}

static void
collect_activity(struct family_context *context, Pgfleet__V1__Report *report)
{
	char sql[4096];
	int n;
	Pgfleet__V1__ActivityFamily *family =
	    family_new_message(context, &pgfleet__v1__activity_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "activity", &family->problems, &family->n_problems);
	report->activity = family;

	collect_limits(context, family);
	if (collect_groups(context, family) > 0)
		collect_blocking(context, family);

	n = snprintf(sql, sizeof(sql),
	    ACTIVITY_BACKEND_SQL
	    " AND state = 'active'"
	    " AND query_start < now() - %lld * interval '1 millisecond'"
	    " ORDER BY query_start LIMIT %d",
	    (long long) context->config->long_query_threshold, ACTIVITY_MAX_BACKENDS);
	if (n > 0 && (size_t) n < sizeof(sql))
		collect_backends(context, "could not read long-running queries", sql,
		    &family->long_running, &family->n_long_running);

	n = snprintf(sql, sizeof(sql),
	    ACTIVITY_BACKEND_SQL
	    " AND state IN ('idle in transaction', 'idle in transaction (aborted)')"
	    " ORDER BY xact_start NULLS LAST, pid LIMIT %d",
	    ACTIVITY_MAX_BACKENDS);
	if (n > 0 && (size_t) n < sizeof(sql))
		collect_backends(context, "could not read idle transactions", sql,
		    &family->idle_in_transaction, &family->n_idle_in_transaction);
}

const struct agent_family family_activity = {
	.name = "activity",
	.cadence_ms = family_cadence_activity,
	.min_server_version = 130000,
	.collect = collect_activity,
	.state_free = NULL,
};
