/*
 * family_replication.c - where WAL goes and how far behind it is.
 *
 * A primary reports its current WAL position and every walsender of
 * pg_stat_replication (a cascading standby has walsenders too; its lags are
 * then measured from its own replay position). Both roles report their
 * replication slots, because a slot nobody reads keeps WAL forever and
 * fills the disk: retained_bytes is what a slot holds back. A standby also
 * reports its WAL receiver and how far replay trails what it received,
 * whether replay is paused, and how old the last replayed transaction is.
 * LSNs are read as text (pg_lsn has no cast to a number) and parsed by
 * family_lsn.
 */
#include "agent/family_replication.h"

#include <stdio.h>

#include "agent/family.h"

/* The position lags are measured from: the WAL written on a primary, the
 * WAL replayed on a standby. */
#define REPLICATION_CURRENT_LSN \
	"CASE WHEN pg_catalog.pg_is_in_recovery()" \
	" THEN pg_catalog.pg_last_wal_replay_lsn()" \
	" ELSE pg_catalog.pg_current_wal_lsn() END"

/* Microseconds since the epoch of a timestamp, 0 for NULL. */
#define REPLICATION_US(x) "coalesce((extract(epoch FROM " x ") * 1000000)::int8, 0)"
/* An interval in seconds, 0 for NULL. */
#define REPLICATION_SECONDS(x) "coalesce(extract(epoch FROM " x "), 0)"

const char *
replication_paused_sql(int server_version_num)
{
	if (server_version_num >= 140000)
		return "pg_catalog.pg_get_wal_replay_pause_state() <> 'not paused'";
	return "pg_catalog.pg_is_wal_replay_paused()";
}

/* Column order of the replicas query. */
enum replica_column {
	REPLICA_PID,
	REPLICA_USER,
	REPLICA_APPLICATION,
	REPLICA_CLIENT,
	REPLICA_STATE,
	REPLICA_SYNC_STATE,
	REPLICA_SENT_LSN,
	REPLICA_WRITE_LSN,
	REPLICA_FLUSH_LSN,
	REPLICA_REPLAY_LSN,
	REPLICA_REPLAY_LAG_BYTES,
	REPLICA_WRITE_LAG,
	REPLICA_FLUSH_LAG,
	REPLICA_REPLAY_LAG,
	REPLICA_BACKEND_START,
	REPLICA_SLOT_NAME,
};

static const char replication_replicas_sql[] =
    "SELECT r.pid, coalesce(r.usename, ''), coalesce(r.application_name, ''),"
    " coalesce(host(r.client_addr), ''), coalesce(r.state, ''),"
    " coalesce(r.sync_state, ''), r.sent_lsn::text, r.write_lsn::text,"
    " r.flush_lsn::text, r.replay_lsn::text,"
    " coalesce(greatest(0, pg_catalog.pg_wal_lsn_diff(" REPLICATION_CURRENT_LSN ","
    " r.replay_lsn)), 0)::int8,"
    " " REPLICATION_SECONDS("r.write_lag") ", " REPLICATION_SECONDS("r.flush_lag") ","
    " " REPLICATION_SECONDS("r.replay_lag") ", " REPLICATION_US("r.backend_start") ","
    " coalesce(s.slot_name::text, '')"
    " FROM pg_catalog.pg_stat_replication r"
    " LEFT JOIN pg_catalog.pg_replication_slots s ON s.active_pid = r.pid"
    " ORDER BY r.application_name, r.pid";

/* Column order of the slots query. */
enum slot_column {
	SLOT_NAME,
	SLOT_TYPE,
	SLOT_DATABASE,
	SLOT_PLUGIN,
	SLOT_ACTIVE,
	SLOT_ACTIVE_PID,
	SLOT_RESTART_LSN,
	SLOT_CONFIRMED_FLUSH_LSN,
	SLOT_RETAINED_BYTES,
	SLOT_WAL_STATUS,
	SLOT_TEMPORARY,
};

static const char replication_slots_sql[] =
    "SELECT slot_name::text, coalesce(slot_type, ''), coalesce(database::text, ''),"
    " coalesce(plugin::text, ''), active, active_pid, restart_lsn::text,"
    " confirmed_flush_lsn::text,"
    " coalesce(greatest(0, pg_catalog.pg_wal_lsn_diff(" REPLICATION_CURRENT_LSN ","
    " restart_lsn)), 0)::int8,"
    " coalesce(wal_status, ''), temporary"
    " FROM pg_catalog.pg_replication_slots"
    " ORDER BY slot_name";

/* Column order of the standby query. */
enum standby_column {
	STANDBY_STATUS,
	STANDBY_HOST,
	STANDBY_PORT,
	STANDBY_SLOT_NAME,
	STANDBY_LAST_MSG_RECEIPT,
	STANDBY_RECEIVE_LSN,
	STANDBY_REPLAY_LSN,
	STANDBY_REPLAY_LAG_BYTES,
	STANDBY_REPLAY_DELAY,
	STANDBY_LAST_REPLAY,
	STANDBY_PAUSED,
};

/* Reads the role and the current WAL position; false when it cannot tell. */
static bool
read_role(struct family_context *context, Pgfleet__V1__ReplicationFamily *family,
    bool *in_recovery)
{
	PGresult *result = family_query(context, context->session, NULL,
	    "could not read the recovery state",
	    "SELECT pg_catalog.pg_is_in_recovery(),"
	    " CASE WHEN NOT pg_catalog.pg_is_in_recovery()"
	    " THEN pg_catalog.pg_current_wal_lsn()::text END");
	bool ok = false;

	if (result == NULL)
		return false;
	if (PQntuples(result) == 1) {
		*in_recovery = family_bool(result, 0, 0);
		family->current_wal_lsn = family_lsn(result, 0, 1);
		ok = true;
	}
	PQclear(result);
	return ok;
}

/* The timeline: a standby's is the one it receives (the control file's
 * checkpoint only moves at restartpoints); a primary's is the one of the
 * WAL file it writes now (the first 8 hex digits of its name), which a
 * promotion changes at once, where the checkpoint's waits for the next
 * checkpoint. */
static void
read_timeline(struct family_context *context, Pgfleet__V1__ReplicationFamily *family,
    bool in_recovery)
{
	PGresult *result = family_query(context, context->session, NULL,
	    "could not read the timeline",
	    in_recovery ? "SELECT coalesce((SELECT received_tli"
			  " FROM pg_catalog.pg_stat_wal_receiver),"
			  " (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()))"
			: "SELECT ('x' || substr(pg_catalog.pg_walfile_name("
			  "pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int");
	if (result == NULL)
		return;
	if (PQntuples(result) == 1)
		family->timeline_id = (uint32_t) family_int64(result, 0, 0);
	PQclear(result);
}

static void
read_replicas(struct family_context *context, Pgfleet__V1__ReplicationFamily *family)
{
	const char *what = "could not read pg_stat_replication";
	PGresult *result;
	Pgfleet__V1__ReplicaConnection **replicas;
	int count;

	result = family_query_rows(context, context->session, NULL, what, replication_replicas_sql,
	    &pgfleet__v1__replica_connection__descriptor, &replicas);
	if (result == NULL)
		return;
	count = PQntuples(result);
	for (int i = 0; i < count; i++) {
		Pgfleet__V1__ReplicaConnection *replica = replicas[i];
		replica->pid = (int32_t) family_int64(result, i, REPLICA_PID);
		replica->user = family_text(context, result, i, REPLICA_USER);
		replica->application_name =
		    family_text(context, result, i, REPLICA_APPLICATION);
		replica->client_addr = family_text(context, result, i, REPLICA_CLIENT);
		replica->state = family_text(context, result, i, REPLICA_STATE);
		replica->sync_state = family_text(context, result, i, REPLICA_SYNC_STATE);
		replica->sent_lsn = family_lsn(result, i, REPLICA_SENT_LSN);
		replica->write_lsn = family_lsn(result, i, REPLICA_WRITE_LSN);
		replica->flush_lsn = family_lsn(result, i, REPLICA_FLUSH_LSN);
		replica->replay_lsn = family_lsn(result, i, REPLICA_REPLAY_LSN);
		replica->replay_lag_bytes = family_int64(result, i, REPLICA_REPLAY_LAG_BYTES);
		replica->write_lag_seconds = family_double(result, i, REPLICA_WRITE_LAG);
		replica->flush_lag_seconds = family_double(result, i, REPLICA_FLUSH_LAG);
		replica->replay_lag_seconds = family_double(result, i, REPLICA_REPLAY_LAG);
		replica->backend_start_us = family_int64(result, i, REPLICA_BACKEND_START);
		replica->slot_name = family_text(context, result, i, REPLICA_SLOT_NAME);
	}
	family->replicas = replicas;
	family->n_replicas = (size_t) count;
	PQclear(result);
}

static void
read_slots(struct family_context *context, Pgfleet__V1__ReplicationFamily *family)
{
	const char *what = "could not read pg_replication_slots";
	PGresult *result;
	Pgfleet__V1__ReplicationSlot **slots;
	int count;

	result = family_query_rows(context, context->session, NULL, what, replication_slots_sql,
	    &pgfleet__v1__replication_slot__descriptor, &slots);
	if (result == NULL)
		return;
	count = PQntuples(result);
	for (int i = 0; i < count; i++) {
		Pgfleet__V1__ReplicationSlot *slot = slots[i];
		slot->slot_name = family_text(context, result, i, SLOT_NAME);
		slot->slot_type = family_text(context, result, i, SLOT_TYPE);
		slot->database = family_text(context, result, i, SLOT_DATABASE);
		slot->plugin = family_text(context, result, i, SLOT_PLUGIN);
		slot->active = family_bool(result, i, SLOT_ACTIVE);
		slot->active_pid = (int32_t) family_int64(result, i, SLOT_ACTIVE_PID);
		slot->restart_lsn = family_lsn(result, i, SLOT_RESTART_LSN);
		slot->confirmed_flush_lsn = family_lsn(result, i, SLOT_CONFIRMED_FLUSH_LSN);
		slot->retained_bytes = family_int64(result, i, SLOT_RETAINED_BYTES);
		slot->wal_status = family_text(context, result, i, SLOT_WAL_STATUS);
		slot->temporary = family_bool(result, i, SLOT_TEMPORARY);
	}
	family->slots = slots;
	family->n_slots = (size_t) count;
	PQclear(result);
}

static void
read_standby(struct family_context *context, Pgfleet__V1__ReplicationFamily *family)
{
	const char *what = "could not read the standby status";
	char sql[2048];
	PGresult *result;
	Pgfleet__V1__StandbyStatus *standby;
	int n = snprintf(sql, sizeof(sql),
	    "SELECT coalesce(w.status, ''), coalesce(w.sender_host, ''),"
	    " coalesce(w.sender_port, 0), coalesce(w.slot_name, ''),"
	    " " REPLICATION_US("w.last_msg_receipt_time") ","
	    " pg_catalog.pg_last_wal_receive_lsn()::text,"
	    " pg_catalog.pg_last_wal_replay_lsn()::text,"
	    " coalesce(greatest(0, pg_catalog.pg_wal_lsn_diff("
	    " pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())),"
	    " 0)::int8,"
	    " " REPLICATION_SECONDS("now() - pg_catalog.pg_last_xact_replay_timestamp()") ","
	    " " REPLICATION_US("pg_catalog.pg_last_xact_replay_timestamp()") ","
	    " %s"
	    /* no row at all when the receiver is not running (archive
	     * recovery, or the upstream is gone): still report replay */
	    " FROM (SELECT 1) AS one"
	    " LEFT JOIN pg_catalog.pg_stat_wal_receiver w ON true",
	    replication_paused_sql(context->server_version));

	if (n < 0 || (size_t) n >= sizeof(sql)) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, NULL,
		    "%s: query too long", what);
		return;
	}
	result = family_query(context, context->session, NULL, what, sql);
	if (result == NULL)
		return;
	if (PQntuples(result) != 1) {
		PQclear(result);
		return;
	}
	standby = family_new_message(context, &pgfleet__v1__standby_status__descriptor);
	if (standby == NULL) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, NULL,
		    "%s: out of memory", what);
		PQclear(result);
		return;
	}
	standby->receiver_status = family_text(context, result, 0, STANDBY_STATUS);
	standby->upstream_host = family_text(context, result, 0, STANDBY_HOST);
	standby->upstream_port = (int32_t) family_int64(result, 0, STANDBY_PORT);
	standby->slot_name = family_text(context, result, 0, STANDBY_SLOT_NAME);
	standby->last_msg_receipt_us = family_int64(result, 0, STANDBY_LAST_MSG_RECEIPT);
	standby->receive_lsn = family_lsn(result, 0, STANDBY_RECEIVE_LSN);
	standby->replay_lsn = family_lsn(result, 0, STANDBY_REPLAY_LSN);
	standby->replay_lag_bytes = family_int64(result, 0, STANDBY_REPLAY_LAG_BYTES);
	standby->replay_delay_seconds = family_double(result, 0, STANDBY_REPLAY_DELAY);
	standby->last_replay_us = family_int64(result, 0, STANDBY_LAST_REPLAY);
	standby->replay_paused = family_bool(result, 0, STANDBY_PAUSED);
	family->standby = standby;
	PQclear(result);
}

static void
collect_replication(struct family_context *context, Pgfleet__V1__Report *report)
{
	bool in_recovery = false;
	Pgfleet__V1__ReplicationFamily *family =
	    family_new_message(context, &pgfleet__v1__replication_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "replication", &family->problems, &family->n_problems);
	report->replication = family;

	/* without the role nothing else can be read right: the current
	 * position functions fail on the wrong side */
	if (!read_role(context, family, &in_recovery))
		return;
	read_timeline(context, family, in_recovery);
	read_replicas(context, family);
	read_slots(context, family);
	if (in_recovery)
		read_standby(context, family);
}

const struct agent_family family_replication = {
	.name = "replication",
	.cadence_ms = family_cadence_replication,
	.min_server_version = 130000,
	.collect = collect_replication,
	.state_free = NULL,
};
