/*
 * store_pg_fleet.c - the fleet's live state in the PostgreSQL store:
 * instances and clusters (roles over time), activity, replication. The
 * tables, rules and answers are store_sqlite_fleet.c's (see there for
 * what each table holds); the id columns stand for SQLite's rowid where an
 * answer tells one walsender or role change from another.
 */
#include "collector/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sparkline.h"
#include "common/timeutil.h"

/* As store_sqlite_fleet.c: stale after this many report intervals. */
#define STALE_INTERVALS 3
#define DEFAULT_INTERVAL_MS 60000

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

/* Runs sql (no rows) with the instance id as $1. */
static int
exec_instance(struct store_pg *store, const char *sql, int64_t instance_id, char *errbuf,
    size_t errlen)
{
	struct pg_params params;

	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	return pg_run(store, sql, &params, NULL, "store the fleet state", errbuf, errlen);
}

/* Records a change of role, cluster or timeline (store_sqlite_fleet.c's
 * record_role). */
static int
record_role(struct store_pg *store, int64_t instance_id, const Pgfleet__V1__Report *report,
    char *errbuf, size_t errlen)
{
	const Pgfleet__V1__InstanceIdentity *id = report->instance;
	const char *role = role_text(id->role);
	uint32_t timeline = report->replication != NULL ? report->replication->timeline_id : 0;
	struct pg_params params;
	PGresult *last = NULL;
	bool have_last;
	const char *last_role = "";
	int rv;

	if (report->unreachable_reason[0] != '\0' ||
	    id->role == PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_UNKNOWN)
		return PGF_OK; /* identity as last known: nothing new */
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	if ((rv = pg_run(store,
		 "SELECT id, since_us, role, system_identifier, timeline_id FROM role_history"
		 " WHERE instance_id = $1 ORDER BY since_us DESC, id DESC LIMIT 1",
		 &params, &last, "read the role history", errbuf, errlen)) != PGF_OK)
		return rv;
	have_last = PQntuples(last) == 1;
	if (have_last) {
		int64_t last_since = pg_int(last, 0, 1);
		const char *last_cluster = PQgetvalue(last, 0, 3);
		int64_t last_timeline = pg_int(last, 0, 4);
		bool changed;
		last_role = PQgetvalue(last, 0, 2);
		if (report->collected_at_us < last_since)
			goto done;
		changed = strcmp(last_role, role) != 0 ||
		    strcmp(last_cluster, id->system_identifier) != 0 ||
		    (timeline != 0 && last_timeline != 0 && timeline != last_timeline);
		if (!changed) {
			if (timeline != 0 && last_timeline == 0) {
				pg_params_init(&params);
				pg_param_int(&params, instance_id);
				pg_param_int(&params, pg_int(last, 0, 0));
				pg_param_int(&params, timeline);
				rv = pg_run(store,
				    "UPDATE role_history SET timeline_id = $3"
				    " WHERE instance_id = $1 AND id = $2",
				    &params, NULL, "store the role history", errbuf, errlen);
			}
			goto done;
		}
		if (timeline == 0 && strcmp(last_cluster, id->system_identifier) == 0)
			timeline = (uint32_t) last_timeline;
	}
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, report->collected_at_us);
	pg_param_text(&params, role);
	pg_param_text(&params, have_last ? last_role : "");
	pg_param_text(&params, id->system_identifier);
	pg_param_int(&params, timeline);
	rv = pg_run(store,
	    "INSERT INTO role_history (instance_id, since_us, role, previous_role,"
	    " system_identifier, timeline_id) VALUES ($1, $2, $3, $4, $5, $6)",
	    &params, NULL, "store the role history", errbuf, errlen);
done:
	PQclear(last);
	return rv;
}

/* The totals of every snapshot go to history; the snapshot itself
 * replaces the instance's latest when the report is the newest. */
static int
write_activity(struct store_pg *store, int64_t instance_id, int64_t ts_us, bool newest,
    const Pgfleet__V1__ActivityFamily *a, char *errbuf, size_t errlen)
{
	struct pg_params params;
	int rv;

	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, ts_us);
	pg_param_int(&params, a->total_connections);
	pg_param_int(&params, a->active);
	pg_param_int(&params, a->idle);
	pg_param_int(&params, a->idle_in_transaction_count);
	pg_param_int(&params, a->waiting);
	pg_param_int(&params, a->max_connections);
	pg_param_int(&params, a->superuser_reserved_connections);
	pg_param_int(&params, a->invisible_backends);
	if ((rv = pg_run(store,
		 "INSERT INTO activity_history (instance_id, ts_us, total, active, idle,"
		 " idle_in_transaction, waiting, max_connections)"
		 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		 &params, NULL, "store the activity", errbuf, errlen)) != PGF_OK ||
	    !newest)
		return rv;
	if ((rv = exec_instance(store, "DELETE FROM activity_connections WHERE instance_id = $1",
		 instance_id, errbuf, errlen)) != PGF_OK ||
	    (rv = exec_instance(store, "DELETE FROM activity_sessions WHERE instance_id = $1",
		 instance_id, errbuf, errlen)) != PGF_OK ||
	    (rv = exec_instance(store, "DELETE FROM activity_blocking WHERE instance_id = $1",
		 instance_id, errbuf, errlen)) != PGF_OK)
		return rv;
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, ts_us);
	pg_param_int(&params, a->total_connections);
	pg_param_int(&params, a->active);
	pg_param_int(&params, a->idle);
	pg_param_int(&params, a->idle_in_transaction_count);
	pg_param_int(&params, a->waiting);
	pg_param_int(&params, a->max_connections);
	pg_param_int(&params, a->superuser_reserved_connections);
	pg_param_int(&params, a->invisible_backends);
	if ((rv = pg_run(store,
		 "INSERT INTO activity_latest (instance_id, ts_us, total, active, idle,"
		 " idle_in_transaction, waiting, max_connections, superuser_reserved_connections,"
		 " invisible_backends) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
		 " ON CONFLICT (instance_id) DO UPDATE SET ts_us = excluded.ts_us,"
		 " total = excluded.total, active = excluded.active, idle = excluded.idle,"
		 " idle_in_transaction = excluded.idle_in_transaction,"
		 " waiting = excluded.waiting, max_connections = excluded.max_connections,"
		 " superuser_reserved_connections = excluded.superuser_reserved_connections,"
		 " invisible_backends = excluded.invisible_backends",
		 &params, NULL, "store the activity", errbuf, errlen)) != PGF_OK)
		return rv;
	for (size_t i = 0; i < a->n_connections; i++) {
		const Pgfleet__V1__ConnectionGroup *g = a->connections[i];
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_text(&params, g->database);
		pg_param_text(&params, g->user);
		pg_param_text(&params, g->application_name);
		pg_param_text(&params, g->client_addr);
		pg_param_text(&params, g->state);
		pg_param_int(&params, g->count);
		pg_param_int(&params, g->waiting);
		pg_param_double(&params, g->max_state_age_seconds);
		if ((rv = pg_run(store,
			 "INSERT INTO activity_connections (instance_id, datname, username,"
			 " application_name, client_addr, state, count, waiting,"
			 " max_state_age_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			 &params, NULL, "store the activity", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	for (size_t i = 0; i < a->n_long_running + a->n_idle_in_transaction; i++) {
		bool long_running = i < a->n_long_running;
		const Pgfleet__V1__Backend *b = long_running
		    ? a->long_running[i]
		    : a->idle_in_transaction[i - a->n_long_running];
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_text(&params, long_running ? "long_running" : "idle_in_transaction");
		pg_param_int(&params, b->pid);
		pg_param_text(&params, b->database);
		pg_param_text(&params, b->user);
		pg_param_text(&params, b->application_name);
		pg_param_text(&params, b->client_addr);
		pg_param_text(&params, b->state);
		pg_param_text(&params, b->wait_event_type);
		pg_param_text(&params, b->wait_event);
		pg_param_text(&params, b->backend_type);
		pg_param_int(&params, b->backend_start_us);
		pg_param_int(&params, b->xact_start_us);
		pg_param_int(&params, b->query_start_us);
		pg_param_int(&params, b->state_change_us);
		pg_param_double(&params, b->query_age_seconds);
		pg_param_double(&params, b->xact_age_seconds);
		pg_param_double(&params, b->state_age_seconds);
		pg_param_bytes(&params, b->query.data, b->query.len);
		pg_param_bool(&params, b->query_truncated);
		if ((rv = pg_run(store,
			 "INSERT INTO activity_sessions (instance_id, kind, pid, datname, username,"
			 " application_name, client_addr, state, wait_event_type, wait_event,"
			 " backend_type, backend_start_us, xact_start_us, query_start_us,"
			 " state_change_us, query_age_seconds, xact_age_seconds, state_age_seconds,"
			 " query, query_truncated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
			 " $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
			 &params, NULL, "store the activity", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	for (size_t i = 0; i < a->n_blocking; i++) {
		const Pgfleet__V1__BlockingPair *p = a->blocking[i];
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, p->blocked_pid);
		pg_param_int(&params, p->blocking_pid);
		pg_param_bytes(&params, p->blocked_query.data, p->blocked_query.len);
		pg_param_bytes(&params, p->blocking_query.data, p->blocking_query.len);
		pg_param_double(&params, p->blocked_seconds);
		pg_param_text(&params, p->blocking_state);
		pg_param_text(&params, p->locked_relation);
		pg_param_text(&params, p->lock_mode);
		if ((rv = pg_run(store,
			 "INSERT INTO activity_blocking (instance_id, blocked_pid, blocking_pid,"
			 " blocked_query, blocking_query, blocked_seconds, blocking_state,"
			 " locked_relation, lock_mode) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			 &params, NULL, "store the activity", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	return PGF_OK;
}

/* Lag history always; the latest state when the report is the newest. */
static int
write_replication(struct store_pg *store, int64_t instance_id, int64_t ts_us, bool newest,
    const Pgfleet__V1__ReplicationFamily *r, char *errbuf, size_t errlen)
{
	const Pgfleet__V1__StandbyStatus *s = r->standby;
	struct pg_params params;
	int rv;

	for (size_t i = 0; i < r->n_replicas; i++) {
		const Pgfleet__V1__ReplicaConnection *c = r->replicas[i];
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, ts_us);
		pg_param_text(&params, c->application_name);
		pg_param_text(&params, c->client_addr);
		pg_param_text(&params, c->slot_name);
		pg_param_int(&params, c->replay_lag_bytes);
		pg_param_double(&params, c->replay_lag_seconds);
		if ((rv = pg_run(store,
			 "INSERT INTO replica_lag_history (instance_id, ts_us, application_name,"
			 " client_addr, slot_name, replay_lag_bytes, replay_lag_seconds)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7)",
			 &params, NULL, "store the replication", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	if (s != NULL) {
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, ts_us);
		pg_param_int(&params, s->replay_lag_bytes);
		pg_param_double(&params, s->replay_delay_seconds);
		pg_param_bool(&params, s->replay_paused);
		if ((rv = pg_run(store,
			 "INSERT INTO standby_lag_history (instance_id, ts_us, replay_lag_bytes,"
			 " replay_delay_seconds, replay_paused) VALUES ($1, $2, $3, $4, $5)",
			 &params, NULL, "store the replication", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	if (!newest)
		return PGF_OK;
	if ((rv = exec_instance(store, "DELETE FROM replication_replicas WHERE instance_id = $1",
		 instance_id, errbuf, errlen)) != PGF_OK ||
	    (rv = exec_instance(store, "DELETE FROM replication_slots WHERE instance_id = $1",
		 instance_id, errbuf, errlen)) != PGF_OK)
		return rv;
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, ts_us);
	pg_param_int(&params, r->timeline_id);
	pg_param_int(&params, (int64_t) r->current_wal_lsn);
	pg_param_bool(&params, s != NULL);
	pg_param_text(&params, s != NULL ? s->receiver_status : "");
	pg_param_int(&params, s != NULL ? (int64_t) s->receive_lsn : 0);
	pg_param_int(&params, s != NULL ? (int64_t) s->replay_lsn : 0);
	pg_param_int(&params, s != NULL ? s->replay_lag_bytes : 0);
	pg_param_double(&params, s != NULL ? s->replay_delay_seconds : 0.0);
	pg_param_bool(&params, s != NULL && s->replay_paused);
	pg_param_text(&params, s != NULL ? s->upstream_host : "");
	pg_param_int(&params, s != NULL ? s->upstream_port : 0);
	pg_param_text(&params, s != NULL ? s->slot_name : "");
	pg_param_int(&params, s != NULL ? s->last_msg_receipt_us : 0);
	pg_param_int(&params, s != NULL ? s->last_replay_us : 0);
	if ((rv = pg_run(store,
		 "INSERT INTO replication_latest (instance_id, ts_us, timeline_id,"
		 " current_wal_lsn, is_standby, receiver_status, receive_lsn, replay_lsn,"
		 " replay_lag_bytes, replay_delay_seconds, replay_paused, upstream_host,"
		 " upstream_port, slot_name, last_msg_receipt_us, last_replay_us)"
		 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
		 " ON CONFLICT (instance_id) DO UPDATE SET ts_us = excluded.ts_us,"
		 " timeline_id = excluded.timeline_id, current_wal_lsn = excluded.current_wal_lsn,"
		 " is_standby = excluded.is_standby, receiver_status = excluded.receiver_status,"
		 " receive_lsn = excluded.receive_lsn, replay_lsn = excluded.replay_lsn,"
		 " replay_lag_bytes = excluded.replay_lag_bytes,"
		 " replay_delay_seconds = excluded.replay_delay_seconds,"
		 " replay_paused = excluded.replay_paused, upstream_host = excluded.upstream_host,"
		 " upstream_port = excluded.upstream_port, slot_name = excluded.slot_name,"
		 " last_msg_receipt_us = excluded.last_msg_receipt_us,"
		 " last_replay_us = excluded.last_replay_us",
		 &params, NULL, "store the replication", errbuf, errlen)) != PGF_OK)
		return rv;
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_text(&params, s != NULL ? s->upstream_host : "");
	pg_param_int(&params, s != NULL ? s->upstream_port : 0);
	pg_param_int(&params, r->timeline_id);
	if ((rv = pg_run(store,
		 "UPDATE instances SET upstream_host = $2, upstream_port = $3,"
		 " timeline_id = CASE WHEN $4 > 0 THEN $4 ELSE timeline_id END"
		 " WHERE instance_id = $1",
		 &params, NULL, "store the replication", errbuf, errlen)) != PGF_OK)
		return rv;
	for (size_t i = 0; i < r->n_replicas; i++) {
		const Pgfleet__V1__ReplicaConnection *c = r->replicas[i];
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, c->pid);
		pg_param_text(&params, c->user);
		pg_param_text(&params, c->application_name);
		pg_param_text(&params, c->client_addr);
		pg_param_text(&params, c->state);
		pg_param_text(&params, c->sync_state);
		pg_param_int(&params, (int64_t) c->sent_lsn);
		pg_param_int(&params, (int64_t) c->write_lsn);
		pg_param_int(&params, (int64_t) c->flush_lsn);
		pg_param_int(&params, (int64_t) c->replay_lsn);
		pg_param_int(&params, c->replay_lag_bytes);
		pg_param_double(&params, c->write_lag_seconds);
		pg_param_double(&params, c->flush_lag_seconds);
		pg_param_double(&params, c->replay_lag_seconds);
		pg_param_int(&params, c->backend_start_us);
		pg_param_text(&params, c->slot_name);
		if ((rv = pg_run(store,
			 "INSERT INTO replication_replicas (instance_id, pid, username,"
			 " application_name, client_addr, state, sync_state, sent_lsn, write_lsn,"
			 " flush_lsn, replay_lsn, replay_lag_bytes, write_lag_seconds,"
			 " flush_lag_seconds, replay_lag_seconds, backend_start_us, slot_name)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
			 " $16, $17)",
			 &params, NULL, "store the replication", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	for (size_t i = 0; i < r->n_slots; i++) {
		const Pgfleet__V1__ReplicationSlot *slot = r->slots[i];
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_text(&params, slot->slot_name);
		pg_param_text(&params, slot->slot_type);
		pg_param_text(&params, slot->database);
		pg_param_text(&params, slot->plugin);
		pg_param_bool(&params, slot->active);
		pg_param_int(&params, slot->active_pid);
		pg_param_int(&params, (int64_t) slot->restart_lsn);
		pg_param_int(&params, (int64_t) slot->confirmed_flush_lsn);
		pg_param_int(&params, slot->retained_bytes);
		pg_param_text(&params, slot->wal_status);
		pg_param_bool(&params, slot->temporary);
		if ((rv = pg_run(store,
			 "INSERT INTO replication_slots (instance_id, slot_name, slot_type, datname,"
			 " plugin, active, active_pid, restart_lsn, confirmed_flush_lsn,"
			 " retained_bytes, wal_status, temporary)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
			 &params, NULL, "store the replication", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	return PGF_OK;
}

int
store_pg_fleet_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen)
{
	struct pg_params params;
	PGresult *res = NULL;
	bool newest;
	int rv;

	/* the instance row was moved to the newest collection time just
	 * before: the report is the newest when it is that time */
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	if ((rv = pg_run(store, "SELECT last_collected_us FROM instances WHERE instance_id = $1",
		 &params, &res, "read the instance", errbuf, errlen)) != PGF_OK)
		return rv;
	newest = PQntuples(res) == 1 && pg_int(res, 0, 0) <= report->collected_at_us;
	PQclear(res);
	if (newest && report->report_interval_ms > 0) {
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_int(&params, report->report_interval_ms);
		if ((rv = pg_run(store,
			 "UPDATE instances SET report_interval_ms = $2 WHERE instance_id = $1",
			 &params, NULL, "store the instance", errbuf, errlen)) != PGF_OK)
			return rv;
	}
	if ((rv = record_role(store, instance_id, report, errbuf, errlen)) != PGF_OK)
		return rv;
	if (report->activity != NULL &&
	    (rv = write_activity(store, instance_id, report->collected_at_us, newest,
		 report->activity, errbuf, errlen)) != PGF_OK)
		return rv;
	if (report->replication != NULL &&
	    (rv = write_replication(store, instance_id, report->collected_at_us, newest,
		 report->replication, errbuf, errlen)) != PGF_OK)
		return rv;
	return PGF_OK;
}

/* ---- answering --------------------------------------------------------- */

/*
 * SQL pieces the listings share, as store_sqlite_fleet.c's; i is the
 * instances table's alias. Parameters (pg_list): $1 instance, $2 cluster,
 * $3 database, $4 now, $5 limit.
 */
#define STR_(x) #x
#define STR(x) STR_(x)
#define SQL_STALE(i)                                                               \
	"($4 - " i ".last_seen_us > " STR(STALE_INTERVALS) " * 1000 * (CASE WHEN " i   \
	".report_interval_ms > 0 THEN " i ".report_interval_ms ELSE " STR(             \
	    DEFAULT_INTERVAL_MS) " END))"
/* whole seconds, UTC, as SQLite's strftime of unixepoch */
#define SQL_TIME(us)                                                              \
	"(CASE WHEN " us " > 0 THEN to_char(to_timestamp((" us ") / 1000000)"         \
	" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') ELSE '' END)"
#define SQL_SCOPE(i) "($1 = '' OR " i ".name = $1) AND ($2 = '' OR " \
	i ".system_identifier = $2)"
#define SQL_UPSTREAM_ID(i)                                                        \
	"(SELECT u.instance_id FROM instances u WHERE u.instance_id <> " i            \
	".instance_id AND u.system_identifier = " i ".system_identifier"              \
	" AND u.port = " i ".upstream_port AND u.host = " i ".upstream_host"          \
	" ORDER BY u.role <> 'primary', u.last_seen_us DESC LIMIT 1)"
#define SQL_UPSTREAM(i)                                                           \
	"(CASE WHEN " i ".upstream_port = 0 AND " i ".upstream_host = '' THEN ''"     \
	" ELSE coalesce((SELECT u.name FROM instances u WHERE u.instance_id = "       \
	SQL_UPSTREAM_ID(i) "), " i ".upstream_host || ':' || " i ".upstream_port) END)"
#define SQL_WALSENDER(s, rl)                                                      \
	"(SELECT rr.id FROM replication_replicas rr WHERE rr.instance_id = "          \
	SQL_UPSTREAM_ID(s) " AND ((" rl ".slot_name <> '' AND rr.slot_name = " rl     \
	".slot_name) OR ((SELECT count(*) FROM replication_replicas x"                 \
	" WHERE x.instance_id = rr.instance_id) = 1 AND (SELECT count(*) FROM"        \
	" instances y WHERE y.system_identifier = " s ".system_identifier"            \
	" AND y.upstream_port = " s ".upstream_port AND y.upstream_host = " s         \
	".upstream_host) = 1)) LIMIT 1)"
/* SQLite's printf('%X/%X', lsn >> 32, lsn & 4294967295) */
#define SQL_LSN(lsn) \
	"(upper(to_hex((" lsn ") >> 32)) || '/' || upper(to_hex((" lsn ") & 4294967295)))"
#define SQL_FLEET_DELIVERY(i)                                                     \
	"(SELECT coalesce(max(b.dropped_reports), 0) FROM report_boots b"            \
	" WHERE b.instance_id = " i ".instance_id) AS dropped_reports,"              \
	" (SELECT coalesce(sum(g.last_seq - g.first_seq + 1), 0) FROM report_gaps g" \
	" JOIN report_boots b USING (instance_id, agent_id, boot_id)"                \
	" WHERE b.instance_id = " i ".instance_id) AS missing_reports,"              \
	" (SELECT coalesce(sum(b.corrupt_spool_records), 0) FROM report_boots b"     \
	" WHERE b.instance_id = " i ".instance_id) AS corrupt_spool_records,"        \
	" (SELECT coalesce(sum(b.spool_failures), 0) FROM report_boots b"            \
	" WHERE b.instance_id = " i ".instance_id) AS spool_failures,"               \
	" coalesce((SELECT cs.skew_us::float8 / 1e6 FROM clock_skew cs"                      \
	" WHERE cs.instance_id = " i ".instance_id), 0.0) AS clock_skew_seconds,"         \
	" coalesce((SELECT abs(cs.skew_us) > 300000000"                              \
	" FROM clock_skew cs WHERE cs.instance_id = " i ".instance_id), false)"      \
	" AS clock_skewed"

int
store_pg_fleet(struct store *base, const Pgfleet__V1__FleetRequest *request,
    Pgfleet__V1__Fleet *answer, char *errbuf, size_t errlen)
{
	static const char sql[] =
	    "WITH f AS ("
	    " SELECT i.*, " SQL_STALE("i") " AS is_stale,"
	    "  (SELECT max(h.since_us) FROM role_history h WHERE h.instance_id = i.instance_id"
	    "   AND h.previous_role <> '' AND h.previous_role <> h.role) AS changed_us,"
	    "  rl.is_standby, rl.replay_lag_bytes AS standby_lag_bytes,"
	    "  rl.replay_delay_seconds, rl.replay_paused AS paused,"
	    "  (SELECT rr.replay_lag_seconds FROM replication_replicas rr WHERE rr.id = "
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
	    "  coalesce(f.is_standby AND f.paused, false) AS replay_paused,"
	    "  f.timeline_id, " SQL_TIME("f.last_seen_us") " AS last_seen,"
	    "  " SQL_TIME("f.first_seen_us") " AS first_seen,"
	    "  " SQL_TIME("coalesce(f.changed_us, 0)") " AS role_changed,"
	    "  f.agent_version, f.unreachable_reason, f.report_interval_ms,"
	    "  f.last_seen_us, f.first_seen_us, coalesce(f.changed_us, 0) AS role_changed_us,"
	    "  f.is_stale AS stale, " SQL_FLEET_DELIVERY("f")
	    " FROM f ORDER BY f.system_identifier, f.role <> 'primary', f.name"
	    " LIMIT $5";
	struct store_pg *store = (struct store_pg *) base;
	int rv = pg_list(store, &answer->base, "rows", sql, request->scope, request->limit, errbuf,
	    errlen);

	/* each row's family statuses (store_pg_families.c) */
	if (rv == PGF_OK)
		rv = store_pg_families_fill(store, answer, errbuf, errlen);
	return rv;
}

/* Sessions of one kind, oldest first by ORDER_BY. */
#define SQL_SESSIONS(kind, order_by)                                              \
	"SELECT i.name AS instance, s.pid, s.datname AS database, s.username AS \"user\"," \
	" s.application_name, s.client_addr, s.state, s.query,"                       \
	" " SQL_TIME("s.query_start_us") " AS query_start, s.query_age_seconds,"      \
	" " SQL_TIME("s.xact_start_us") " AS xact_start, s.xact_age_seconds,"         \
	" s.state_age_seconds, s.wait_event_type, s.wait_event, s.backend_type,"      \
	" s.query_truncated, s.query_start_us, s.xact_start_us,"                      \
	" " SQL_STALE("i") " AS stale"                                                \
	" FROM activity_sessions s JOIN instances i USING (instance_id)"              \
	" WHERE s.kind = '" kind "' AND " SQL_SCOPE("i")                              \
	" AND ($3 = '' OR s.datname = $3)"                                            \
	" ORDER BY i.system_identifier, i.name, " order_by " DESC LIMIT $5"

int
store_pg_activity(struct store *base, const Pgfleet__V1__ActivityRequest *request,
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
		    " LIMIT $5"},
		{"connections",
		    "SELECT i.name AS instance, c.datname AS database, c.username AS \"user\","
		    " c.application_name, c.client_addr, c.state, c.count, c.waiting,"
		    " c.max_state_age_seconds, " SQL_STALE("i") " AS stale"
		    " FROM activity_connections c JOIN instances i USING (instance_id)"
		    " WHERE " SQL_SCOPE("i") " AND ($3 = '' OR c.datname = $3)"
		    " ORDER BY i.system_identifier, i.name, c.count DESC, c.datname, c.username,"
		    " c.application_name, c.state LIMIT $5"},
		{"long_running", SQL_SESSIONS("long_running", "s.query_age_seconds")},
		{"idle_in_transaction", SQL_SESSIONS("idle_in_transaction", "s.xact_age_seconds")},
		{"blocking",
		    "SELECT i.name AS instance, b.blocked_pid, b.blocking_pid, b.locked_relation,"
		    " b.lock_mode, b.blocked_seconds, b.blocking_state, b.blocked_query,"
		    " b.blocking_query, " SQL_STALE("i") " AS stale"
		    " FROM activity_blocking b JOIN instances i USING (instance_id)"
		    " WHERE " SQL_SCOPE("i") " ORDER BY i.system_identifier, i.name,"
		    " b.blocked_seconds DESC LIMIT $5"},
	};
	struct store_pg *store = (struct store_pg *) base;
	int rv = PGF_OK;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]) && rv == PGF_OK; i++)
		rv = pg_list(store, &answer->base, lists[i].field, lists[i].sql, request->scope,
		    request->limit, errbuf, errlen);
	return rv;
}

int
store_pg_replication(struct store *base, const Pgfleet__V1__ReplicationRequest *request,
    Pgfleet__V1__Replication *answer, char *errbuf, size_t errlen)
{
	static const char sql[] =
	    "SELECT * FROM ("
	    /* walsenders, as primaries see them */
	    " SELECT 'replica' AS kind, i.system_identifier AS cluster, i.name AS instance,"
	    "  coalesce((SELECT s.name FROM instances s JOIN replication_latest srl"
	    "   USING (instance_id) WHERE srl.is_standby AND " SQL_WALSENDER("s", "srl")
	    "   = r.id LIMIT 1), '') AS replica,"
	    "  ''::text AS upstream, r.application_name, r.client_addr, r.state, r.sync_state,"
	    "  r.replay_lag_bytes, r.write_lag_seconds, r.flush_lag_seconds,"
	    "  r.replay_lag_seconds, 0.0::float8 AS replay_delay_seconds,"
	    "  false AS replay_paused,"
	    "  r.slot_name, ''::text AS slot_type, false AS active, 0::bigint AS retained_bytes,"
	    "  ''::text AS wal_status, " SQL_LSN("r.replay_lsn") " AS replay_lsn,"
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
	    "   WHERE rr.id = " SQL_WALSENDER("i", "rl") "), 0.0),"
	    "  rl.replay_delay_seconds, rl.replay_paused, rl.slot_name, '', false, 0, '',"
	    "  " SQL_LSN("rl.replay_lsn") ","
	    "  rl.timeline_id, " SQL_TIME("rl.ts_us") ", rl.ts_us, " SQL_STALE("i") ","
	    "  2, ''"
	    " FROM replication_latest rl JOIN instances i USING (instance_id)"
	    " WHERE rl.is_standby AND " SQL_SCOPE("i")
	    " UNION ALL"
	    /* slots */
	    " SELECT 'slot', i.system_identifier, i.name, '', '', '', '',"
	    "  CASE WHEN sl.active THEN 'active' ELSE 'inactive' END, '', 0, 0.0, 0.0, 0.0,"
	    "  0.0, false, sl.slot_name, sl.slot_type, sl.active, sl.retained_bytes,"
	    "  sl.wal_status, '', rl.timeline_id, " SQL_TIME("rl.ts_us") ", rl.ts_us,"
	    "  " SQL_STALE("i") ", 3, sl.slot_name"
	    " FROM replication_slots sl JOIN instances i USING (instance_id)"
	    "  JOIN replication_latest rl USING (instance_id)"
	    " WHERE " SQL_SCOPE("i") ") u"
	    " ORDER BY cluster, _order, instance, _key LIMIT $5";
	struct store_pg *store = (struct store_pg *) base;

	return pg_list(store, &answer->base, "rows", sql, request->scope, request->limit, errbuf,
	    errlen);
}

/* ---- trends ------------------------------------------------------------ */

/*
 * Each standby's lag per bucket, as store_sqlite_fleet.c's
 * replication_trend_sql: its own view (standby_lag_history) and, for when
 * it has none, the walsender of its upstream that serves it. $1 instance,
 * $2 cluster, $3 since, $4 width, $5 until.
 */
#define SQL_TREND_SCOPE(i) "($1 = '' OR " i ".name = $1) AND ($2 = '' OR " \
	i ".system_identifier = $2)"
static const char replication_trend_sql[] =
    "WITH s AS MATERIALIZED ("
    " SELECT i.instance_id, i.name, coalesce(rl.slot_name, '') AS slot_name,"
    "  CASE WHEN i.upstream_port = 0 AND i.upstream_host = '' THEN NULL"
    "   ELSE " SQL_UPSTREAM_ID("i") " END AS upstream_id,"
    "  (SELECT count(*) FROM instances y WHERE y.system_identifier = i.system_identifier"
    "   AND y.upstream_port = i.upstream_port AND y.upstream_host = i.upstream_host)"
    "   AS siblings"
    " FROM instances i LEFT JOIN replication_latest rl USING (instance_id)"
    " WHERE " SQL_TREND_SCOPE("i") "),"
    " p AS ("
    " SELECT s.name, (h.ts_us - $3) / $4 AS b, h.replay_lag_bytes AS own_bytes,"
    "  nullif(h.replay_delay_seconds, 0) AS own_seconds, NULL::bigint AS walsender_bytes,"
    "  NULL::float8 AS walsender_seconds, h.replay_paused AS paused"
    " FROM s JOIN standby_lag_history h ON h.instance_id = s.instance_id"
    "  AND h.ts_us >= $3 AND h.ts_us < $5"
    " UNION ALL"
    " SELECT s.name, (w.ts_us - $3) / $4, NULL, NULL, w.replay_lag_bytes,"
    "  w.replay_lag_seconds, NULL"
    " FROM s JOIN replica_lag_history w ON w.instance_id = s.upstream_id"
    "  AND w.ts_us >= $3 AND w.ts_us < $5"
    " WHERE (s.slot_name <> '' AND w.slot_name = s.slot_name)"
    "  OR (s.slot_name = '' AND s.siblings = 1 AND (SELECT count(*) FROM"
    "   replica_lag_history x WHERE x.instance_id = w.instance_id"
    "   AND x.ts_us = w.ts_us) = 1))"
    " SELECT " SQL_TIME("($3 + p.b * $4)") " AS bucket, p.name AS instance,"
    "  coalesce(max(p.own_bytes), max(p.walsender_bytes), 0) AS max_replay_lag_bytes,"
    "  coalesce(max(p.own_seconds), max(p.walsender_seconds), 0.0)"
    "   AS max_replay_lag_seconds,"
    "  coalesce(bool_or(p.paused), false) AS paused,"
    "  $3 + p.b * $4 AS bucket_start_us"
    " FROM p GROUP BY p.b, p.name ORDER BY p.b, p.name";

int
store_pg_replication_trend(struct store *base,
    const Pgfleet__V1__ReplicationTrendRequest *request,
    Pgfleet__V1__ReplicationTrend *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	const Pgfleet__V1__Scope *scope = request->scope;
	struct pg_buckets buckets;
	struct pg_params params;
	PGresult *res = NULL;
	double *lag = NULL;
	bool *present = NULL;
	char width[32];
	int rv;

	if ((rv = pg_buckets_init(&buckets, scope, request->bucket_ms, errbuf, errlen)) != PGF_OK)
		return rv;
	pg_params_init(&params);
	pg_param_text(&params, scope != NULL ? scope->instance : "");
	pg_param_text(&params, scope != NULL ? scope->cluster : "");
	pg_param_int(&params, buckets.since_us);
	pg_param_int(&params, buckets.width_us);
	pg_param_int(&params, buckets.until_us);
	if ((rv = pg_read(store, replication_trend_sql, &params, &res,
		 "read the replication trend", errbuf, errlen)) != PGF_OK)
		return rv;
	if ((rv = pg_append_rows(&answer->base, "rows", res, errbuf, errlen)) != PGF_OK)
		goto done;
	rv = PGF_ENOMEM;
	lag = calloc(buckets.count, sizeof(lag[0]));
	present = calloc(buckets.count, sizeof(present[0]));
	if (lag == NULL || present == NULL)
		goto done;
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
	{
		/* 3 bytes of UTF-8 per bucket */
		size_t size = buckets.count * 3 + 1;
		answer->lag_sparkline = malloc(size);
		if (answer->lag_sparkline == NULL)
			goto done;
		pgf_sparkline(lag, present, buckets.count, answer->lag_sparkline, size);
	}
	answer->bucket_width =
	    strdup(pgf_duration_format(buckets.width_us / 1000, width, sizeof(width)));
	if (answer->bucket_width == NULL)
		goto done;
	rv = PGF_OK;
done:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	PQclear(res);
	free(lag);
	free(present);
	return rv;
}
