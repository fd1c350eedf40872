/*
 * store_sqlite_fleet.c - the fleet's live state in the SQLite store:
 * instances and clusters (roles over time), activity, replication.
 *
 * Schema (migration step 2):
 *   instances (+ columns)   report_interval_ms (when an instance is stale),
 *                           upstream host/port and timeline of a standby
 *   role_history            one row per change of an instance's role,
 *                           cluster or timeline: a failover is a role
 *                           change inside one cluster, not a new cluster
 *   activity_latest         the latest activity snapshot per instance:
 *   activity_connections,   totals, connection groups, named sessions and
 *   activity_sessions,      blocking pairs, replaced by each newer report
 *   activity_blocking       that carries activity
 *   activity_history        the totals of every snapshot, for trends
 *   replication_latest      the latest replication state per instance
 *   replication_replicas,   (standby status, walsenders, slots), replaced
 *   replication_slots       by each newer report that carries replication
 *   replica_lag_history     lag per walsender as the primary sees it, and
 *   standby_lag_history     a standby's own replay lag, for trends
 *
 * "Newer" is by collection time: a backlog an agent replays after an
 * outage adds history but never rolls the latest state back.
 *
 * Answers are built generically: each query names its columns after the
 * answer row's proto fields, and fill_row copies a result row into a row
 * message through the descriptors, so a new column is one SQL alias and
 * one proto field.
 */
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

/* An instance is stale after this many report intervals without a report;
 * the interval is taken as DEFAULT_INTERVAL_MS when the agent did not say. */
#define STALE_INTERVALS 3
#define DEFAULT_INTERVAL_MS 60000

bool
store_sqlite_stale(int64_t last_seen_us, int64_t interval_ms, int64_t now_us)
{
	if (interval_ms <= 0)
		interval_ms = DEFAULT_INTERVAL_MS;
	return now_us - last_seen_us > STALE_INTERVALS * 1000 * interval_ms;
}

const char store_sqlite_fleet_schema[] =
    "ALTER TABLE instances ADD COLUMN report_interval_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE instances ADD COLUMN upstream_host TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE instances ADD COLUMN upstream_port INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE instances ADD COLUMN timeline_id INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE role_history ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  since_us INTEGER NOT NULL,"
    "  role TEXT NOT NULL,"
    "  previous_role TEXT NOT NULL,"
    "  system_identifier TEXT NOT NULL,"
    "  timeline_id INTEGER NOT NULL);"
    "CREATE INDEX role_history_by_instance_time ON role_history (instance_id, since_us);"
    "CREATE TABLE activity_latest ("
    "  instance_id INTEGER PRIMARY KEY REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  active INTEGER NOT NULL,"
    "  idle INTEGER NOT NULL,"
    "  idle_in_transaction INTEGER NOT NULL,"
    "  waiting INTEGER NOT NULL,"
    "  max_connections INTEGER NOT NULL,"
    "  superuser_reserved_connections INTEGER NOT NULL,"
    "  invisible_backends INTEGER NOT NULL);"
    "CREATE TABLE activity_connections ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  datname TEXT NOT NULL,"
    "  username TEXT NOT NULL,"
    "  application_name TEXT NOT NULL,"
    "  client_addr TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  waiting INTEGER NOT NULL,"
    "  max_state_age_seconds REAL NOT NULL);"
    "CREATE INDEX activity_connections_by_instance ON activity_connections (instance_id);"
    /* kind: 'long_running' or 'idle_in_transaction' */
    "CREATE TABLE activity_sessions ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  kind TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  datname TEXT NOT NULL,"
    "  username TEXT NOT NULL,"
    "  application_name TEXT NOT NULL,"
    "  client_addr TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  wait_event_type TEXT NOT NULL,"
    "  wait_event TEXT NOT NULL,"
    "  backend_type TEXT NOT NULL,"
    "  backend_start_us INTEGER NOT NULL,"
    "  xact_start_us INTEGER NOT NULL,"
    "  query_start_us INTEGER NOT NULL,"
    "  state_change_us INTEGER NOT NULL,"
    "  query_age_seconds REAL NOT NULL,"
    "  xact_age_seconds REAL NOT NULL,"
    "  state_age_seconds REAL NOT NULL,"
    "  query TEXT NOT NULL,"
    "  query_truncated INTEGER NOT NULL);"
    "CREATE INDEX activity_sessions_by_instance ON activity_sessions (instance_id);"
    "CREATE TABLE activity_blocking ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  blocked_pid INTEGER NOT NULL,"
    "  blocking_pid INTEGER NOT NULL,"
    "  blocked_query TEXT NOT NULL,"
    "  blocking_query TEXT NOT NULL,"
    "  blocked_seconds REAL NOT NULL,"
    "  blocking_state TEXT NOT NULL,"
    "  locked_relation TEXT NOT NULL,"
    "  lock_mode TEXT NOT NULL);"
    "CREATE INDEX activity_blocking_by_instance ON activity_blocking (instance_id);"
    "CREATE TABLE activity_history ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  active INTEGER NOT NULL,"
    "  idle INTEGER NOT NULL,"
    "  idle_in_transaction INTEGER NOT NULL,"
    "  waiting INTEGER NOT NULL,"
    "  max_connections INTEGER NOT NULL);"
    "CREATE INDEX activity_history_by_instance_time ON activity_history (instance_id, ts_us);"
    "CREATE TABLE replication_latest ("
    "  instance_id INTEGER PRIMARY KEY REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  timeline_id INTEGER NOT NULL,"
    "  current_wal_lsn INTEGER NOT NULL,"
    "  is_standby INTEGER NOT NULL,"
    "  receiver_status TEXT NOT NULL,"
    "  receive_lsn INTEGER NOT NULL,"
    "  replay_lsn INTEGER NOT NULL,"
    "  replay_lag_bytes INTEGER NOT NULL,"
    "  replay_delay_seconds REAL NOT NULL,"
    "  replay_paused INTEGER NOT NULL,"
    "  upstream_host TEXT NOT NULL,"
    "  upstream_port INTEGER NOT NULL,"
    "  slot_name TEXT NOT NULL,"
    "  last_msg_receipt_us INTEGER NOT NULL,"
    "  last_replay_us INTEGER NOT NULL);"
    "CREATE TABLE replication_replicas ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  pid INTEGER NOT NULL,"
    "  username TEXT NOT NULL,"
    "  application_name TEXT NOT NULL,"
    "  client_addr TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  sync_state TEXT NOT NULL,"
    "  sent_lsn INTEGER NOT NULL,"
    "  write_lsn INTEGER NOT NULL,"
    "  flush_lsn INTEGER NOT NULL,"
    "  replay_lsn INTEGER NOT NULL,"
    "  replay_lag_bytes INTEGER NOT NULL,"
    "  write_lag_seconds REAL NOT NULL,"
    "  flush_lag_seconds REAL NOT NULL,"
    "  replay_lag_seconds REAL NOT NULL,"
    "  backend_start_us INTEGER NOT NULL,"
    "  slot_name TEXT NOT NULL);"
    "CREATE INDEX replication_replicas_by_instance ON replication_replicas (instance_id);"
    "CREATE TABLE replication_slots ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  slot_name TEXT NOT NULL,"
    "  slot_type TEXT NOT NULL,"
    "  datname TEXT NOT NULL,"
    "  plugin TEXT NOT NULL,"
    "  active INTEGER NOT NULL,"
    "  active_pid INTEGER NOT NULL,"
    "  restart_lsn INTEGER NOT NULL,"
    "  confirmed_flush_lsn INTEGER NOT NULL,"
    "  retained_bytes INTEGER NOT NULL,"
    "  wal_status TEXT NOT NULL,"
    "  temporary INTEGER NOT NULL);"
    "CREATE INDEX replication_slots_by_instance ON replication_slots (instance_id);"
    "CREATE TABLE replica_lag_history ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  application_name TEXT NOT NULL,"
    "  client_addr TEXT NOT NULL,"
    "  slot_name TEXT NOT NULL,"
    "  replay_lag_bytes INTEGER NOT NULL,"
    "  replay_lag_seconds REAL NOT NULL);"
    "CREATE INDEX replica_lag_history_by_instance_time ON replica_lag_history (instance_id, ts_us);"
    "CREATE TABLE standby_lag_history ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  replay_lag_bytes INTEGER NOT NULL,"
    "  replay_delay_seconds REAL NOT NULL,"
    "  replay_paused INTEGER NOT NULL);"
    "CREATE INDEX standby_lag_history_by_instance_time ON standby_lag_history (instance_id, ts_us);";

/* ---- writing ----------------------------------------------------------- */

static const char *
role_text(Pgfleet__V1__InstanceIdentity__Role role)
{
	switch (role) {
	case PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY:
		return "primary";
	case PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA:
		return "replica";
	default:
		return "unknown";
	}
}

/* Prepares sql, or reuses *stmt when already prepared (reset, unbound). */
static int
prepare(struct store_sqlite *store, sqlite3_stmt **stmt, const char *sql)
{
	if (*stmt != NULL) {
		sqlite3_reset(*stmt);
		return sqlite3_clear_bindings(*stmt);
	}
	return sqlite3_prepare_v2(store->db, sql, -1, stmt, NULL);
}

/* Runs sql (no rows) with the instance id as ?1. */
static int
exec_instance(struct store_sqlite *store, const char *sql, int64_t instance_id)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(stmt, 1, instance_id);
		rc = sqlite_step_done(stmt);
	}
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Is this report the instance's newest? upsert_instance has already moved
 * last_collected_us to the largest collection time seen, so the report is
 * the newest when it equals it.
 */
static int
report_is_newest(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, bool *newest)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db,
	    "SELECT last_collected_us FROM instances WHERE instance_id = ?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(stmt, 1, instance_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*newest = sqlite3_column_int64(stmt, 0) <= report->collected_at_us;
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_CORRUPT; /* the instance row was written just before */
	}
done:
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Records a change of role, cluster or timeline after the last recorded
 * one. A report older than the last change (a replayed backlog) changes
 * nothing; a timeline of 0 (no replication family in this report) means
 * "unchanged", and fills in the last row's when that one had none.
 */
static int
record_role(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report)
{
	const Pgfleet__V1__InstanceIdentity *id = report->instance;
	const char *role = role_text(id->role);
	uint32_t timeline = report->replication != NULL ? report->replication->timeline_id : 0;
	sqlite3_stmt *last = NULL;
	sqlite3_stmt *stmt = NULL;
	char *last_role = NULL;
	char *last_cluster = NULL;
	int64_t last_rowid = 0, last_since = 0, last_timeline = 0;
	bool have_last = false;
	int rc;

	if (report->unreachable_reason[0] != '\0' ||
	    id->role == PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_UNKNOWN)
		return SQLITE_OK; /* identity as last known: nothing new */
	rc = sqlite3_prepare_v2(store->db,
	    "SELECT rowid, since_us, role, system_identifier, timeline_id FROM role_history"
	    " WHERE instance_id = ?1 ORDER BY since_us DESC, rowid DESC LIMIT 1",
	    -1, &last, NULL);
	if (rc != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(last, 1, instance_id);
	rc = sqlite3_step(last);
	if (rc == SQLITE_ROW) {
		have_last = true;
		last_rowid = sqlite3_column_int64(last, 0);
		last_since = sqlite3_column_int64(last, 1);
		last_role = sqlite_column_text(last, 2);
		last_cluster = sqlite_column_text(last, 3);
		last_timeline = sqlite3_column_int64(last, 4);
		if (last_role == NULL || last_cluster == NULL) {
			rc = SQLITE_NOMEM;
			goto done;
		}
	} else if (rc != SQLITE_DONE) {
		goto done;
	}
	rc = SQLITE_OK;
	if (have_last) {
		bool changed;
		if (report->collected_at_us < last_since)
			goto done;
		changed = strcmp(last_role, role) != 0 ||
		    strcmp(last_cluster, id->system_identifier) != 0 ||
		    (timeline != 0 && last_timeline != 0 && timeline != last_timeline);
		if (!changed) {
			if (timeline != 0 && last_timeline == 0) {
				rc = sqlite3_prepare_v2(store->db,
				    "UPDATE role_history SET timeline_id = ?2 WHERE rowid = ?1",
				    -1, &stmt, NULL);
				if (rc != SQLITE_OK)
					goto done;
				sqlite3_bind_int64(stmt, 1, last_rowid);
				sqlite3_bind_int64(stmt, 2, timeline);
				rc = sqlite_step_done(stmt);
			}
			goto done;
		}
		if (timeline == 0 && strcmp(last_cluster, id->system_identifier) == 0)
			timeline = (uint32_t) last_timeline;
	}
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO role_history (instance_id, since_us, role, previous_role,"
	    " system_identifier, timeline_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(stmt, 1, instance_id);
	sqlite3_bind_int64(stmt, 2, report->collected_at_us);
	sqlite3_bind_text(stmt, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, have_last ? last_role : "", -1, SQLITE_STATIC);
	if ((rc = sqlite_bind_clean_string(stmt, 5, id->system_identifier)) != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(stmt, 6, timeline);
	rc = sqlite_step_done(stmt);
done:
	sqlite3_finalize(last);
	sqlite3_finalize(stmt);
	free(last_role);
	free(last_cluster);
	return rc;
}

/* Binds a Backend's fields from ?2 (kind at ?2, pid at ?3, ...). */
static int
bind_session(sqlite3_stmt *stmt, const char *kind, const Pgfleet__V1__Backend *b)
{
	int rc;

	sqlite3_bind_text(stmt, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, b->pid);
	if ((rc = sqlite_bind_clean_string(stmt, 4, b->database)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 5, b->user)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 6, b->application_name)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 7, b->client_addr)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 8, b->state)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 9, b->wait_event_type)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 10, b->wait_event)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 11, b->backend_type)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_text(stmt, 19, b->query.data, b->query.len)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(stmt, 12, b->backend_start_us);
	sqlite3_bind_int64(stmt, 13, b->xact_start_us);
	sqlite3_bind_int64(stmt, 14, b->query_start_us);
	sqlite3_bind_int64(stmt, 15, b->state_change_us);
	sqlite3_bind_double(stmt, 16, b->query_age_seconds);
	sqlite3_bind_double(stmt, 17, b->xact_age_seconds);
	sqlite3_bind_double(stmt, 18, b->state_age_seconds);
	sqlite3_bind_int(stmt, 20, b->query_truncated);
	return SQLITE_OK;
}

/* The totals of every snapshot go to history; the snapshot itself
 * replaces the instance's latest when the report is the newest. */
static int
write_activity(struct store_sqlite *store, int64_t instance_id, int64_t ts_us, bool newest,
    const Pgfleet__V1__ActivityFamily *a)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = prepare(store, &stmt,
	    "INSERT INTO activity_history (instance_id, ts_us, total, active, idle,"
	    " idle_in_transaction, waiting, max_connections)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	if (rc != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(stmt, 1, instance_id);
	sqlite3_bind_int64(stmt, 2, ts_us);
	sqlite3_bind_int64(stmt, 3, a->total_connections);
	sqlite3_bind_int64(stmt, 4, a->active);
	sqlite3_bind_int64(stmt, 5, a->idle);
	sqlite3_bind_int64(stmt, 6, a->idle_in_transaction_count);
	sqlite3_bind_int64(stmt, 7, a->waiting);
	sqlite3_bind_int64(stmt, 8, a->max_connections);
	if ((rc = sqlite_step_done(stmt)) != SQLITE_OK || !newest)
		goto done;
	sqlite3_finalize(stmt);
	stmt = NULL;

	if ((rc = exec_instance(store, "DELETE FROM activity_connections WHERE instance_id = ?1",
		 instance_id)) != SQLITE_OK ||
	    (rc = exec_instance(store, "DELETE FROM activity_sessions WHERE instance_id = ?1",
		 instance_id)) != SQLITE_OK ||
	    (rc = exec_instance(store, "DELETE FROM activity_blocking WHERE instance_id = ?1",
		 instance_id)) != SQLITE_OK)
		goto done;

	rc = prepare(store, &stmt,
	    "INSERT OR REPLACE INTO activity_latest (instance_id, ts_us, total, active, idle,"
	    " idle_in_transaction, waiting, max_connections, superuser_reserved_connections,"
	    " invisible_backends) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
	if (rc != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(stmt, 1, instance_id);
	sqlite3_bind_int64(stmt, 2, ts_us);
	sqlite3_bind_int64(stmt, 3, a->total_connections);
	sqlite3_bind_int64(stmt, 4, a->active);
	sqlite3_bind_int64(stmt, 5, a->idle);
	sqlite3_bind_int64(stmt, 6, a->idle_in_transaction_count);
	sqlite3_bind_int64(stmt, 7, a->waiting);
	sqlite3_bind_int64(stmt, 8, a->max_connections);
	sqlite3_bind_int64(stmt, 9, a->superuser_reserved_connections);
	sqlite3_bind_int64(stmt, 10, a->invisible_backends);
	if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
		goto done;
	sqlite3_finalize(stmt);
	stmt = NULL;

	for (size_t i = 0; i < a->n_connections; i++) {
		const Pgfleet__V1__ConnectionGroup *g = a->connections[i];
		rc = prepare(store, &stmt,
		    "INSERT INTO activity_connections (instance_id, datname, username,"
		    " application_name, client_addr, state, count, waiting, max_state_age_seconds)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
		if (rc != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 1, instance_id);
		if ((rc = sqlite_bind_clean_string(stmt, 2, g->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 3, g->user)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, g->application_name)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 5, g->client_addr)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 6, g->state)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 7, g->count);
		sqlite3_bind_int64(stmt, 8, g->waiting);
		sqlite3_bind_double(stmt, 9, g->max_state_age_seconds);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;

	for (size_t i = 0; i < a->n_long_running + a->n_idle_in_transaction; i++) {
		bool long_running = i < a->n_long_running;
		const Pgfleet__V1__Backend *b = long_running
		    ? a->long_running[i]
		    : a->idle_in_transaction[i - a->n_long_running];
		rc = prepare(store, &stmt,
		    "INSERT INTO activity_sessions (instance_id, kind, pid, datname, username,"
		    " application_name, client_addr, state, wait_event_type, wait_event,"
		    " backend_type, backend_start_us, xact_start_us, query_start_us,"
		    " state_change_us, query_age_seconds, xact_age_seconds, state_age_seconds,"
		    " query, query_truncated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
		    " ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)");
		if (rc != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 1, instance_id);
		if ((rc = bind_session(stmt, long_running ? "long_running" : "idle_in_transaction",
			 b)) != SQLITE_OK ||
		    (rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;

	for (size_t i = 0; i < a->n_blocking; i++) {
		const Pgfleet__V1__BlockingPair *p = a->blocking[i];
		rc = prepare(store, &stmt,
		    "INSERT INTO activity_blocking (instance_id, blocked_pid, blocking_pid,"
		    " blocked_query, blocking_query, blocked_seconds, blocking_state,"
		    " locked_relation, lock_mode) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
		if (rc != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, p->blocked_pid);
		sqlite3_bind_int64(stmt, 3, p->blocking_pid);
		if ((rc = sqlite_bind_clean_text(stmt, 4, p->blocked_query.data,
			 p->blocked_query.len)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_text(stmt, 5, p->blocking_query.data,
			 p->blocking_query.len)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 7, p->blocking_state)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 8, p->locked_relation)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 9, p->lock_mode)) != SQLITE_OK)
			goto done;
		sqlite3_bind_double(stmt, 6, p->blocked_seconds);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	rc = SQLITE_OK;
done:
	sqlite3_finalize(stmt);
	return rc;
}

/* Lag history always; the latest state (standby status, walsenders,
 * slots, the instance's upstream and timeline) when the report is the
 * newest. */
static int
write_replication(struct store_sqlite *store, int64_t instance_id, int64_t ts_us,
    bool newest, const Pgfleet__V1__ReplicationFamily *r)
{
	const Pgfleet__V1__StandbyStatus *s = r->standby;
	sqlite3_stmt *stmt = NULL;
	int rc = SQLITE_OK;

	for (size_t i = 0; i < r->n_replicas; i++) {
		const Pgfleet__V1__ReplicaConnection *c = r->replicas[i];
		rc = prepare(store, &stmt,
		    "INSERT INTO replica_lag_history (instance_id, ts_us, application_name,"
		    " client_addr, slot_name, replay_lag_bytes, replay_lag_seconds)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
		if (rc != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, ts_us);
		if ((rc = sqlite_bind_clean_string(stmt, 3, c->application_name)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, c->client_addr)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 5, c->slot_name)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 6, c->replay_lag_bytes);
		sqlite3_bind_double(stmt, 7, c->replay_lag_seconds);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (s != NULL) {
		rc = prepare(store, &stmt,
		    "INSERT INTO standby_lag_history (instance_id, ts_us, replay_lag_bytes,"
		    " replay_delay_seconds, replay_paused) VALUES (?1, ?2, ?3, ?4, ?5)");
		if (rc != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, ts_us);
		sqlite3_bind_int64(stmt, 3, s->replay_lag_bytes);
		sqlite3_bind_double(stmt, 4, s->replay_delay_seconds);
		sqlite3_bind_int(stmt, 5, s->replay_paused);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
		sqlite3_finalize(stmt);
		stmt = NULL;
	}
	if (!newest)
		goto done;

	if ((rc = exec_instance(store, "DELETE FROM replication_replicas WHERE instance_id = ?1",
		 instance_id)) != SQLITE_OK ||
	    (rc = exec_instance(store, "DELETE FROM replication_slots WHERE instance_id = ?1",
		 instance_id)) != SQLITE_OK)
		goto done;

	rc = prepare(store, &stmt,
	    "INSERT OR REPLACE INTO replication_latest (instance_id, ts_us, timeline_id,"
	    " current_wal_lsn, is_standby, receiver_status, receive_lsn, replay_lsn,"
	    " replay_lag_bytes, replay_delay_seconds, replay_paused, upstream_host,"
	    " upstream_port, slot_name, last_msg_receipt_us, last_replay_us)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
	if (rc != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(stmt, 1, instance_id);
	sqlite3_bind_int64(stmt, 2, ts_us);
	sqlite3_bind_int64(stmt, 3, r->timeline_id);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64) r->current_wal_lsn);
	sqlite3_bind_int(stmt, 5, s != NULL);
	if ((rc = sqlite_bind_clean_string(stmt, 6, s != NULL ? s->receiver_status : "")) !=
		SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 12, s != NULL ? s->upstream_host : "")) !=
		SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 14, s != NULL ? s->slot_name : "")) != SQLITE_OK)
		goto done;
	if (s != NULL) {
		sqlite3_bind_int64(stmt, 7, (sqlite3_int64) s->receive_lsn);
		sqlite3_bind_int64(stmt, 8, (sqlite3_int64) s->replay_lsn);
		sqlite3_bind_int64(stmt, 9, s->replay_lag_bytes);
		sqlite3_bind_double(stmt, 10, s->replay_delay_seconds);
		sqlite3_bind_int(stmt, 11, s->replay_paused);
		sqlite3_bind_int64(stmt, 13, s->upstream_port);
		sqlite3_bind_int64(stmt, 15, s->last_msg_receipt_us);
		sqlite3_bind_int64(stmt, 16, s->last_replay_us);
	} else {
		for (int column = 7; column <= 16; column++)
			if (column != 12 && column != 14)
				sqlite3_bind_int64(stmt, column, 0);
	}
	if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
		goto done;
	sqlite3_finalize(stmt);
	stmt = NULL;

	rc = prepare(store, &stmt,
	    "UPDATE instances SET upstream_host = ?2, upstream_port = ?3,"
	    " timeline_id = CASE WHEN ?4 > 0 THEN ?4 ELSE timeline_id END"
	    " WHERE instance_id = ?1");
	if (rc != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(stmt, 1, instance_id);
	if ((rc = sqlite_bind_clean_string(stmt, 2, s != NULL ? s->upstream_host : "")) !=
		SQLITE_OK)
		goto done;
	sqlite3_bind_int64(stmt, 3, s != NULL ? s->upstream_port : 0);
	sqlite3_bind_int64(stmt, 4, r->timeline_id);
	if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
		goto done;
	sqlite3_finalize(stmt);
	stmt = NULL;

	for (size_t i = 0; i < r->n_replicas; i++) {
		const Pgfleet__V1__ReplicaConnection *c = r->replicas[i];
		rc = prepare(store, &stmt,
		    "INSERT INTO replication_replicas (instance_id, pid, username,"
		    " application_name, client_addr, state, sync_state, sent_lsn, write_lsn,"
		    " flush_lsn, replay_lsn, replay_lag_bytes, write_lag_seconds,"
		    " flush_lag_seconds, replay_lag_seconds, backend_start_us, slot_name)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
		    " ?16, ?17)");
		if (rc != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, c->pid);
		if ((rc = sqlite_bind_clean_string(stmt, 3, c->user)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, c->application_name)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 5, c->client_addr)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 6, c->state)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 7, c->sync_state)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 17, c->slot_name)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 8, (sqlite3_int64) c->sent_lsn);
		sqlite3_bind_int64(stmt, 9, (sqlite3_int64) c->write_lsn);
		sqlite3_bind_int64(stmt, 10, (sqlite3_int64) c->flush_lsn);
		sqlite3_bind_int64(stmt, 11, (sqlite3_int64) c->replay_lsn);
		sqlite3_bind_int64(stmt, 12, c->replay_lag_bytes);
		sqlite3_bind_double(stmt, 13, c->write_lag_seconds);
		sqlite3_bind_double(stmt, 14, c->flush_lag_seconds);
		sqlite3_bind_double(stmt, 15, c->replay_lag_seconds);
		sqlite3_bind_int64(stmt, 16, c->backend_start_us);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;

	for (size_t i = 0; i < r->n_slots; i++) {
		const Pgfleet__V1__ReplicationSlot *slot = r->slots[i];
		rc = prepare(store, &stmt,
		    "INSERT INTO replication_slots (instance_id, slot_name, slot_type, datname,"
		    " plugin, active, active_pid, restart_lsn, confirmed_flush_lsn,"
		    " retained_bytes, wal_status, temporary)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
		if (rc != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 1, instance_id);
		if ((rc = sqlite_bind_clean_string(stmt, 2, slot->slot_name)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 3, slot->slot_type)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, slot->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 5, slot->plugin)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 11, slot->wal_status)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int(stmt, 6, slot->active);
		sqlite3_bind_int64(stmt, 7, slot->active_pid);
		sqlite3_bind_int64(stmt, 8, (sqlite3_int64) slot->restart_lsn);
		sqlite3_bind_int64(stmt, 9, (sqlite3_int64) slot->confirmed_flush_lsn);
		sqlite3_bind_int64(stmt, 10, slot->retained_bytes);
		sqlite3_bind_int(stmt, 12, slot->temporary);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	rc = SQLITE_OK;
done:
	sqlite3_finalize(stmt);
	return rc;
}

int
store_sqlite_fleet_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report)
{
	bool newest = false;
	int rc;

	if ((rc = report_is_newest(store, instance_id, report, &newest)) != SQLITE_OK)
		return rc;
	if (newest && report->report_interval_ms > 0) {
		sqlite3_stmt *stmt = NULL;
		rc = sqlite3_prepare_v2(store->db,
		    "UPDATE instances SET report_interval_ms = ?2 WHERE instance_id = ?1", -1,
		    &stmt, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(stmt, 1, instance_id);
			sqlite3_bind_int64(stmt, 2, report->report_interval_ms);
			rc = sqlite_step_done(stmt);
		}
		sqlite3_finalize(stmt);
		if (rc != SQLITE_OK)
			return rc;
	}
	if ((rc = record_role(store, instance_id, report)) != SQLITE_OK)
		return rc;
	if (report->activity != NULL &&
	    (rc = write_activity(store, instance_id, report->collected_at_us, newest,
		 report->activity)) != SQLITE_OK)
		return rc;
	if (report->replication != NULL &&
	    (rc = write_replication(store, instance_id, report->collected_at_us, newest,
		 report->replication)) != SQLITE_OK)
		return rc;
	return SQLITE_OK;
}

/* ---- answering --------------------------------------------------------- */

/*
 * fill_field sets the row's field named like the result column to the
 * column's value. Strings are malloc'd (the answer is freed as an unpacked
 * message). A column without a field is a bug in this file's SQL.
 */
static int
fill_field(ProtobufCMessage *row, sqlite3_stmt *stmt, int column)
{
	const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name(
	    row->descriptor, sqlite3_column_name(stmt, column));
	void *member;

	if (field == NULL || field->label == PROTOBUF_C_LABEL_REPEATED)
		return SQLITE_MISUSE;
	member = (char *) row + field->offset;
	switch (field->type) {
	case PROTOBUF_C_TYPE_STRING: {
		char *text = sqlite_column_text(stmt, column);
		if (text == NULL)
			return SQLITE_NOMEM;
		*(char **) member = text;
		break;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		*(int64_t *) member = sqlite3_column_int64(stmt, column);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *) member = (uint64_t) sqlite3_column_int64(stmt, column);
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		*(int32_t *) member = (int32_t) sqlite3_column_int64(stmt, column);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		*(uint32_t *) member = (uint32_t) sqlite3_column_int64(stmt, column);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *) member = sqlite3_column_int64(stmt, column) != 0;
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		*(double *) member = sqlite3_column_double(stmt, column);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		*(float *) member = (float) sqlite3_column_double(stmt, column);
		break;
	default:
		return SQLITE_MISUSE;
	}
	return SQLITE_OK;
}

/*
 * append_rows steps stmt and appends one row message per result row to
 * the answer's repeated message field `list`. The array grows by doubling
 * from 8 (its capacity follows from its length). Columns named "_..." only
 * order the rows and are not copied. Rows already
 * appended stay on failure: the caller frees the whole answer.
 */
static int
append_rows(ProtobufCMessage *answer, const char *list, sqlite3_stmt *stmt)
{
	const ProtobufCFieldDescriptor *field =
	    protobuf_c_message_descriptor_get_field_by_name(answer->descriptor, list);
	const ProtobufCMessageDescriptor *row_descriptor;
	size_t *count;
	ProtobufCMessage ***rows;
	int rc;

	if (field == NULL || field->label != PROTOBUF_C_LABEL_REPEATED ||
	    field->type != PROTOBUF_C_TYPE_MESSAGE)
		return SQLITE_MISUSE;
	row_descriptor = field->descriptor;
	count = (size_t *) ((char *) answer + field->quantifier_offset);
	rows = (ProtobufCMessage ***) ((char *) answer + field->offset);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		ProtobufCMessage *row;
		size_t n = *count;
		if (n == 0 || (n >= 8 && (n & (n - 1)) == 0)) {
			ProtobufCMessage **grown =
			    realloc(*rows, (n == 0 ? 8 : n * 2) * sizeof(grown[0]));
			if (grown == NULL)
				return SQLITE_NOMEM;
			*rows = grown;
		}
		row = malloc(row_descriptor->sizeof_message);
		if (row == NULL)
			return SQLITE_NOMEM;
		row_descriptor->message_init(row);
		(*rows)[(*count)++] = row;
		for (int column = 0; column < sqlite3_column_count(stmt); column++) {
			const char *name = sqlite3_column_name(stmt, column);
			if (name == NULL)
				return SQLITE_NOMEM;
			if (name[0] == '_')
				continue;
			if ((rc = fill_field(row, stmt, column)) != SQLITE_OK)
				return rc;
		}
	}
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Binds the named parameters a listing's SQL uses: :instance, :cluster,
 * :database, :now, :limit (0 = no limit). */
static void
bind_scope(sqlite3_stmt *stmt, const Pgfleet__V1__Scope *scope, uint32_t limit)
{
	int index;

	if ((index = sqlite3_bind_parameter_index(stmt, ":instance")) > 0)
		sqlite3_bind_text(stmt, index, scope != NULL ? scope->instance : "", -1,
		    SQLITE_STATIC);
	if ((index = sqlite3_bind_parameter_index(stmt, ":cluster")) > 0)
		sqlite3_bind_text(stmt, index, scope != NULL ? scope->cluster : "", -1,
		    SQLITE_STATIC);
	if ((index = sqlite3_bind_parameter_index(stmt, ":database")) > 0)
		sqlite3_bind_text(stmt, index, scope != NULL ? scope->database : "", -1,
		    SQLITE_STATIC);
	if ((index = sqlite3_bind_parameter_index(stmt, ":now")) > 0)
		sqlite3_bind_int64(stmt, index, pgf_time_now_us());
	if ((index = sqlite3_bind_parameter_index(stmt, ":limit")) > 0)
		sqlite3_bind_int64(stmt, index, limit > 0 ? (int64_t) limit : -1);
}

/*
 * list runs one listing query (named parameters as bind_scope) and appends
 * its rows to answer's field `list`. PGF_OK or a store error in errbuf.
 */
static int
list(struct store_sqlite *store, ProtobufCMessage *answer, const char *field,
    const char *sql, const Pgfleet__V1__Scope *scope, uint32_t limit, char *errbuf,
    size_t errlen)
{
	sqlite3_stmt *stmt = NULL;
	char what[64];
	int rc;
	int rv = PGF_OK;

	snprintf(what, sizeof(what), "read %s", field);
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	bind_scope(stmt, scope, limit);
	if ((rc = append_rows(answer, field, stmt)) != SQLITE_OK)
		goto fail;
	sqlite3_finalize(stmt);
	return PGF_OK;
fail:
	if (rc == SQLITE_NOMEM) {
		snprintf(errbuf, errlen, "out of memory");
		rv = PGF_ENOMEM;
	} else if (rc == SQLITE_MISUSE) {
		snprintf(errbuf, errlen, "could not %s: a column has no field in the answer",
		    what);
		rv = PGF_ESTORE;
	} else {
		rv = sqlite_store_error(store->db, rc, what, errbuf, errlen);
	}
	sqlite3_finalize(stmt);
	return rv;
}

/* SQL pieces the listings share; i is the instances table's alias. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define SQL_STALE(i)                                                               \
	"(:now - " i ".last_seen_us > " STR(STALE_INTERVALS) " * 1000 * (CASE WHEN " i \
	".report_interval_ms > 0 THEN " i ".report_interval_ms ELSE " STR(             \
	    DEFAULT_INTERVAL_MS) " END))"
#define SQL_TIME(us)                                                              \
	"(CASE WHEN " us " > 0 THEN strftime('%Y-%m-%d %H:%M:%S', " us " / 1000000," \
	" 'unixepoch') ELSE '' END)"
#define SQL_SCOPE(i) "(:instance = '' OR " i ".name = :instance) AND (:cluster = '' OR " \
	i ".system_identifier = :cluster)"
/* The instance a standby's upstream host:port names, in its cluster. */
#define SQL_UPSTREAM_ID(i)                                                        \
	"(SELECT u.instance_id FROM instances u WHERE u.instance_id <> " i            \
	".instance_id AND u.system_identifier = " i ".system_identifier"              \
	" AND u.port = " i ".upstream_port AND u.host = " i ".upstream_host"          \
	" ORDER BY u.role <> 'primary', u.last_seen_us DESC LIMIT 1)"
#define SQL_UPSTREAM(i)                                                           \
	"(CASE WHEN " i ".upstream_port = 0 AND " i ".upstream_host = '' THEN ''"     \
	" ELSE coalesce((SELECT u.name FROM instances u WHERE u.instance_id = "       \
	SQL_UPSTREAM_ID(i) "), " i ".upstream_host || ':' || " i ".upstream_port) END)"
/*
 * The walsender (replication_replicas rowid) that serves standby s
 * (instances row; rl its replication_latest row) on its upstream: the one
 * using the standby's slot, else the upstream's only walsender when s is
 * the only standby of the cluster streaming from that upstream. NULL when
 * it cannot be told (several unslotted standbys on one upstream).
 */
#define SQL_WALSENDER(s, rl)                                                      \
	"(SELECT rr.rowid FROM replication_replicas rr WHERE rr.instance_id = "       \
	SQL_UPSTREAM_ID(s) " AND ((" rl ".slot_name <> '' AND rr.slot_name = " rl     \
	".slot_name) OR ((SELECT count(*) FROM replication_replicas x"                 \
	" WHERE x.instance_id = rr.instance_id) = 1 AND (SELECT count(*) FROM"        \
	" instances y WHERE y.system_identifier = " s ".system_identifier"            \
	" AND y.upstream_port = " s ".upstream_port AND y.upstream_host = " s         \
	".upstream_host) = 1)) LIMIT 1)"

int
store_sqlite_fleet(struct store *base, const Pgfleet__V1__FleetRequest *request,
    Pgfleet__V1__Fleet *answer, char *errbuf, size_t errlen)
{
	static const char sql[] =
	    "WITH f AS ("
	    " SELECT i.*, " SQL_STALE("i") " AS is_stale,"
	    "  (SELECT max(h.since_us) FROM role_history h WHERE h.instance_id = i.instance_id"
	    "   AND h.previous_role <> '' AND h.previous_role <> h.role) AS changed_us,"
	    "  rl.is_standby, rl.replay_lag_bytes AS standby_lag_bytes,"
	    "  rl.replay_delay_seconds, rl.replay_paused AS paused,"
	    "  (SELECT rr.replay_lag_seconds FROM replication_replicas rr WHERE rr.rowid = "
	    SQL_WALSENDER("i", "rl") ") AS primary_lag_seconds"
	    " FROM instances i LEFT JOIN replication_latest rl USING (instance_id)"
	    " WHERE " SQL_SCOPE("i") ")"
	    " SELECT f.system_identifier AS cluster, f.name AS instance, f.role,"
	    "  CASE WHEN f.is_stale THEN 'stale' WHEN f.unreachable_reason <> '' THEN 'down'"
	    "   ELSE 'ok' END AS status,"
	    "  f.host, f.port, f.server_version, " SQL_UPSTREAM("f") " AS upstream,"
	    "  CASE WHEN f.is_standby THEN f.standby_lag_bytes ELSE 0 END AS replay_lag_bytes,"
	    "  CASE WHEN NOT f.is_standby THEN 0.0"
	    "   ELSE coalesce(f.primary_lag_seconds, f.replay_delay_seconds) END"
	    "   AS replay_lag_seconds,"
	    "  coalesce(f.is_standby AND f.paused, 0) AS replay_paused,"
	    "  f.timeline_id, " SQL_TIME("f.last_seen_us") " AS last_seen,"
	    "  " SQL_TIME("f.first_seen_us") " AS first_seen,"
	    "  " SQL_TIME("coalesce(f.changed_us, 0)") " AS role_changed,"
	    "  f.agent_version, f.unreachable_reason, f.report_interval_ms,"
	    "  f.last_seen_us, f.first_seen_us, coalesce(f.changed_us, 0) AS role_changed_us,"
	    "  f.is_stale AS stale, " SQL_FLEET_DELIVERY("f")
	    " FROM f ORDER BY f.system_identifier, f.role <> 'primary', f.name"
	    " LIMIT :limit";
	struct store_sqlite *store = (struct store_sqlite *) base;
	int rv = list(store, &answer->base, "rows", sql, request->scope, request->limit, errbuf,
	    errlen);

	/* each row's family statuses (store_sqlite_families.c) */
	if (rv == PGF_OK)
		rv = store_sqlite_families_fill(store, answer, errbuf, errlen);
	return rv;
}

/* Sessions of one kind, oldest first by ORDER_BY. */
#define SQL_SESSIONS(kind, order_by)                                              \
	"SELECT i.name AS instance, s.pid, s.datname AS database, s.username AS user," \
	" s.application_name, s.client_addr, s.state, s.query,"                       \
	" " SQL_TIME("s.query_start_us") " AS query_start, s.query_age_seconds,"      \
	" " SQL_TIME("s.xact_start_us") " AS xact_start, s.xact_age_seconds,"         \
	" s.state_age_seconds, s.wait_event_type, s.wait_event, s.backend_type,"      \
	" s.query_truncated, s.query_start_us, s.xact_start_us,"                      \
	" " SQL_STALE("i") " AS stale"                                                \
	" FROM activity_sessions s JOIN instances i USING (instance_id)"              \
	" WHERE s.kind = '" kind "' AND " SQL_SCOPE("i")                              \
	" AND (:database = '' OR s.datname = :database)"                              \
	" ORDER BY i.system_identifier, i.name, " order_by " DESC LIMIT :limit"

int
store_sqlite_activity(struct store *base, const Pgfleet__V1__ActivityRequest *request,
    Pgfleet__V1__Activity *answer, char *errbuf, size_t errlen)
{
	static const struct {
		const char *field;
		const char *sql;
	} lists[] = {
		{"instances",
		    "SELECT i.name AS instance, i.system_identifier AS cluster,"
		    " a.total AS total_connections, a.max_connections, a.active, a.idle,"
		    " a.idle_in_transaction, a.waiting, a.invisible_backends,"
		    " " SQL_TIME("a.ts_us") " AS collected_at, a.ts_us AS collected_at_us,"
		    " " SQL_STALE("i") " AS stale"
		    " FROM activity_latest a JOIN instances i USING (instance_id)"
		    " WHERE " SQL_SCOPE("i") " ORDER BY i.system_identifier, i.name"
		    " LIMIT :limit"},
		{"connections",
		    "SELECT i.name AS instance, c.datname AS database, c.username AS user,"
		    " c.application_name, c.client_addr, c.state, c.count, c.waiting,"
		    " c.max_state_age_seconds, " SQL_STALE("i") " AS stale"
		    " FROM activity_connections c JOIN instances i USING (instance_id)"
		    " WHERE " SQL_SCOPE("i") " AND (:database = '' OR c.datname = :database)"
		    " ORDER BY i.system_identifier, i.name, c.count DESC, c.datname, c.username,"
		    " c.application_name, c.state LIMIT :limit"},
		{"long_running", SQL_SESSIONS("long_running", "s.query_age_seconds")},
		{"idle_in_transaction", SQL_SESSIONS("idle_in_transaction", "s.xact_age_seconds")},
		{"blocking",
		    "SELECT i.name AS instance, b.blocked_pid, b.blocking_pid, b.locked_relation,"
		    " b.lock_mode, b.blocked_seconds, b.blocking_state, b.blocked_query,"
		    " b.blocking_query, " SQL_STALE("i") " AS stale"
		    " FROM activity_blocking b JOIN instances i USING (instance_id)"
		    " WHERE " SQL_SCOPE("i") " ORDER BY i.system_identifier, i.name,"
		    " b.blocked_seconds DESC LIMIT :limit"},
	};
	struct store_sqlite *store = (struct store_sqlite *) base;
	int rv = PGF_OK;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]) && rv == PGF_OK; i++)
		rv = list(store, &answer->base, lists[i].field, lists[i].sql, request->scope,
		    request->limit, errbuf, errlen);
	return rv;
}

int
store_sqlite_replication(struct store *base, const Pgfleet__V1__ReplicationRequest *request,
    Pgfleet__V1__Replication *answer, char *errbuf, size_t errlen)
{
	static const char sql[] =
	    "SELECT * FROM ("
	    /* walsenders, as primaries see them */
	    " SELECT 'replica' AS kind, i.system_identifier AS cluster, i.name AS instance,"
	    "  coalesce((SELECT s.name FROM instances s JOIN replication_latest srl"
	    "   USING (instance_id) WHERE srl.is_standby AND " SQL_WALSENDER("s", "srl")
	    "   = r.rowid LIMIT 1), '') AS replica,"
	    "  '' AS upstream, r.application_name, r.client_addr, r.state, r.sync_state,"
	    "  r.replay_lag_bytes, r.write_lag_seconds, r.flush_lag_seconds,"
	    "  r.replay_lag_seconds, 0.0 AS replay_delay_seconds, 0 AS replay_paused,"
	    "  r.slot_name, '' AS slot_type, 0 AS active, 0 AS retained_bytes,"
	    "  '' AS wal_status,"
	    "  printf('%X/%X', r.replay_lsn >> 32, r.replay_lsn & 4294967295) AS replay_lsn,"
	    "  rl.timeline_id, " SQL_TIME("rl.ts_us") " AS collected_at,"
	    "  rl.ts_us AS collected_at_us, " SQL_STALE("i") " AS stale,"
	    "  1 AS _order, r.application_name AS _key"
	    " FROM replication_replicas r JOIN instances i USING (instance_id)"
	    "  JOIN replication_latest rl USING (instance_id)"
	    " WHERE " SQL_SCOPE("i")
	    " UNION ALL"
	    /* standbys, as they see themselves */
	    " SELECT 'standby', i.system_identifier, i.name, '', " SQL_UPSTREAM("i") ","
	    "  '', '', rl.receiver_status, '', rl.replay_lag_bytes, 0.0, 0.0,"
	    "  coalesce((SELECT rr.replay_lag_seconds FROM replication_replicas rr"
	    "   WHERE rr.rowid = " SQL_WALSENDER("i", "rl") "), 0.0),"
	    "  rl.replay_delay_seconds, rl.replay_paused, rl.slot_name, '', 0, 0, '',"
	    "  printf('%X/%X', rl.replay_lsn >> 32, rl.replay_lsn & 4294967295),"
	    "  rl.timeline_id, " SQL_TIME("rl.ts_us") ", rl.ts_us, " SQL_STALE("i") ","
	    "  2, ''"
	    " FROM replication_latest rl JOIN instances i USING (instance_id)"
	    " WHERE rl.is_standby AND " SQL_SCOPE("i")
	    " UNION ALL"
	    /* slots */
	    " SELECT 'slot', i.system_identifier, i.name, '', '', '', '',"
	    "  CASE WHEN sl.active THEN 'active' ELSE 'inactive' END, '', 0, 0.0, 0.0, 0.0,"
	    "  0.0, 0, sl.slot_name, sl.slot_type, sl.active, sl.retained_bytes,"
	    "  sl.wal_status, '', rl.timeline_id, " SQL_TIME("rl.ts_us") ", rl.ts_us,"
	    "  " SQL_STALE("i") ", 3, sl.slot_name"
	    " FROM replication_slots sl JOIN instances i USING (instance_id)"
	    "  JOIN replication_latest rl USING (instance_id)"
	    " WHERE " SQL_SCOPE("i") ")"
	    " ORDER BY cluster, _order, instance, _key LIMIT :limit";
	struct store_sqlite *store = (struct store_sqlite *) base;

	return list(store, &answer->base, "rows", sql, request->scope, request->limit, errbuf,
	    errlen);
}

/* ---- trends ------------------------------------------------------------ */

/*
 * Each standby's lag per bucket (:since, :width, :until): the standby's
 * own view from standby_lag_history and, for when it has none (nothing
 * replayed yet, or no report in the bucket), the walsender of its
 * upstream that serves it (by slot, else the upstream's only walsender
 * when the standby is the only one streaming from it), as the standby's
 * latest state names its upstream and slot.
 */
static const char replication_trend_sql[] =
    "WITH s AS MATERIALIZED ("
    " SELECT i.instance_id, i.name, coalesce(rl.slot_name, '') AS slot_name,"
    "  CASE WHEN i.upstream_port = 0 AND i.upstream_host = '' THEN NULL"
    "   ELSE " SQL_UPSTREAM_ID("i") " END AS upstream_id,"
    "  (SELECT count(*) FROM instances y WHERE y.system_identifier = i.system_identifier"
    "   AND y.upstream_port = i.upstream_port AND y.upstream_host = i.upstream_host)"
    "   AS siblings"
    " FROM instances i LEFT JOIN replication_latest rl USING (instance_id)"
    " WHERE " SQL_SCOPE("i") "),"
    " p AS ("
    " SELECT s.name, (h.ts_us - :since) / :width AS b, h.replay_lag_bytes AS own_bytes,"
    "  nullif(h.replay_delay_seconds, 0) AS own_seconds, NULL AS walsender_bytes,"
    "  NULL AS walsender_seconds, h.replay_paused AS paused"
    " FROM s JOIN standby_lag_history h ON h.instance_id = s.instance_id"
    "  AND h.ts_us >= :since AND h.ts_us < :until"
    " UNION ALL"
    " SELECT s.name, (w.ts_us - :since) / :width, NULL, NULL, w.replay_lag_bytes,"
    "  w.replay_lag_seconds, NULL"
    " FROM s JOIN replica_lag_history w ON w.instance_id = s.upstream_id"
    "  AND w.ts_us >= :since AND w.ts_us < :until"
    " WHERE (s.slot_name <> '' AND w.slot_name = s.slot_name)"
    "  OR (s.slot_name = '' AND s.siblings = 1 AND (SELECT count(*) FROM"
    "   replica_lag_history x WHERE x.instance_id = w.instance_id"
    "   AND x.ts_us = w.ts_us) = 1))"
    " SELECT " SQL_TIME("(:since + p.b * :width)") " AS bucket, p.name AS instance,"
    "  coalesce(max(p.own_bytes), max(p.walsender_bytes), 0) AS max_replay_lag_bytes,"
    "  coalesce(max(p.own_seconds), max(p.walsender_seconds), 0.0)"
    "   AS max_replay_lag_seconds,"
    "  coalesce(max(p.paused), 0) AS paused,"
    "  :since + p.b * :width AS bucket_start_us"
    " FROM p GROUP BY p.b, p.name ORDER BY p.b, p.name";

int
store_sqlite_replication_trend(struct store *base,
    const Pgfleet__V1__ReplicationTrendRequest *request,
    Pgfleet__V1__ReplicationTrend *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	struct store_sqlite_buckets buckets;
	sqlite3_stmt *stmt = NULL;
	double *lag = NULL;
	bool *present = NULL;
	int rv;
	int rc;

	if ((rv = store_sqlite_buckets_init(&buckets, request->scope, request->bucket_ms, errbuf,
		 errlen)) != PGF_OK)
		return rv;
	rv = PGF_ENOMEM;
	lag = calloc(buckets.count, sizeof(lag[0]));
	present = calloc(buckets.count, sizeof(present[0]));
	if (lag == NULL || present == NULL)
		goto done;
	rc = sqlite3_prepare_v2(store->db, replication_trend_sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto fail_store;
	bind_scope(stmt, request->scope, 0);
	sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":since"), buckets.since_us);
	sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":until"), buckets.until_us);
	sqlite3_bind_int64(stmt, sqlite3_bind_parameter_index(stmt, ":width"), buckets.width_us);
	if ((rc = append_rows(&answer->base, "rows", stmt)) != SQLITE_OK) {
		if (rc == SQLITE_NOMEM)
			goto done;
		goto fail_store;
	}
	/* the sparkline: the largest lag of each bucket over the standbys */
	for (size_t i = 0; i < answer->n_rows; i++) {
		const Pgfleet__V1__ReplicationTrendPoint *point = answer->rows[i];
		size_t bucket =
		    (size_t) ((point->bucket_start_us - buckets.since_us) / buckets.width_us);
		if (bucket >= buckets.count)
			continue;
		if (!present[bucket] || point->max_replay_lag_seconds > lag[bucket])
			lag[bucket] = point->max_replay_lag_seconds;
		present[bucket] = true;
	}
	answer->lag_sparkline = store_sqlite_sparkline(lag, present, buckets.count);
	answer->bucket_width = store_sqlite_bucket_width(&buckets);
	if (answer->lag_sparkline == NULL || answer->bucket_width == NULL)
		goto done;
	rv = PGF_OK;
	goto done;
fail_store:
	if (rc == SQLITE_MISUSE) {
		snprintf(errbuf, errlen,
		    "could not read the replication trend: a column has no field in the answer");
		rv = PGF_ESTORE;
	} else {
		rv = sqlite_store_error(store->db, rc, "read the replication trend", errbuf, errlen);
	}
done:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	sqlite3_finalize(stmt);
	free(lag);
	free(present);
	return rv;
}
