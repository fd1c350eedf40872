/*
 * metrics_queries.c - /metrics' queries, one table for both store
 * backends (see metrics_queries.h): written in the SQL both SQLite and
 * PostgreSQL accept (flags read through CASE, since they are integers in
 * one store and booleans in the other; CAST for texts; every grouped
 * column named), so both stores render the same text from the same data.
 */
#include "collector/metrics_queries.h"

/* The latest snapshot time of FAMILY's table per instance: a backward
 * search of its (instance_id, ts_us) key. */
#define LATEST(family)                                                            \
	"WITH latest AS MATERIALIZED (SELECT i.instance_id, i.name,"              \
	"  i.system_identifier AS cluster,"                                       \
	"  (SELECT f.ts_us FROM " family " f WHERE f.instance_id = i.instance_id" \
	"   ORDER BY f.ts_us DESC LIMIT 1) AS ts_us FROM instances i) "

/* An instance is stale after 3 report intervals without a report (60 s
 * when the agent did not say), as in the fleet answer; $1 is now. */
#define STATUS                                                                           \
	"CASE WHEN $1 - i.last_seen_us > 3 * 1000 * (CASE WHEN i.report_interval_ms > 0" \
	" THEN i.report_interval_ms ELSE 60000 END) THEN 'stale'"                        \
	" WHEN i.unreachable_reason <> '' THEN 'down' ELSE 'ok' END"

const struct metrics_query metrics_queries[] = {
	{ "instances",
	    "SELECT name, system_identifier, CASE WHEN unreachable_reason = '' THEN 1 "
	    "ELSE 0 END,"
	    "  CAST(last_seen_us AS DOUBLE PRECISION) / 1000000.0"
	    " FROM instances ORDER BY name",
	    { METRICS_PG_UP, METRICS_LAST_REPORT }, 2, false },
	{ "instance roles",
	    "SELECT i.name, i.system_identifier, i.role, i.server_version, " STATUS ", 1"
	    " FROM instances i ORDER BY i.name",
	    { METRICS_INSTANCE_INFO }, 1, false },
	/*
	 * Counters that only grow: statement_counters holds each statement's
	 * running totals of what reached the hourly level (kept by triggers
	 * there, never lowered by retention), the raw rows past the hourly
	 * watermark the rest. Only the counters that can reach the top are
	 * read: those at least the $2-th largest (any other is beaten by $2 of
	 * them, whatever its raw tail) and those with a tail.
	 */
	{ "statement totals",
	    "WITH tail AS MATERIALIZED (SELECT instance_id, datname, queryid, sum(calls) "
	    "AS calls,"
	    "  sum(total_exec_time_ms) AS total_ms, sum(rows) AS rows FROM "
	    "statement_stats"
	    "  WHERE ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
	    "  GROUP BY instance_id, datname, queryid),"
	    " bound AS MATERIALIZED (SELECT coalesce((SELECT total_exec_time_ms"
	    "  FROM statement_counters ORDER BY total_exec_time_ms DESC LIMIT 1 OFFSET "
	    "$2 - 1),"
	    "  -1e308) AS ms),"
	    " figures AS (SELECT instance_id, datname, queryid, calls, "
	    "total_exec_time_ms AS total_ms,"
	    "  rows FROM statement_counters WHERE total_exec_time_ms >= (SELECT ms FROM "
	    "bound)"
	    " UNION ALL SELECT c.instance_id, c.datname, c.queryid, c.calls, "
	    "c.total_exec_time_ms,"
	    "  c.rows FROM tail t JOIN statement_counters c ON c.instance_id = "
	    "t.instance_id"
	    "  AND c.datname = t.datname AND c.queryid = t.queryid"
	    "  WHERE c.total_exec_time_ms < (SELECT ms FROM bound)"
	    " UNION ALL SELECT instance_id, datname, queryid, calls, total_ms, rows FROM "
	    "tail)"
	    " SELECT i.name, i.system_identifier, f.datname, CAST(f.queryid AS TEXT),"
	    "  sum(f.calls), sum(f.total_ms) / 1000.0, sum(f.rows)"
	    " FROM figures f JOIN instances i ON i.instance_id = f.instance_id"
	    " GROUP BY i.instance_id, i.name, i.system_identifier, f.datname, f.queryid"
	    " ORDER BY sum(f.total_ms) DESC, i.name, f.queryid, f.datname LIMIT $2",
	    { METRICS_STATEMENTS_CALLS, METRICS_STATEMENTS_SECONDS,
		METRICS_STATEMENTS_ROWS },
	    3, true },
	{ "table stats",
	    LATEST("table_stats") "SELECT l.name, l.cluster, s.datname, s.schemaname, "
				  "s.relname,"
				  "  s.n_live_tup, s.n_dead_tup, s.seq_scan, "
				  "s.seq_tup_read, s.idx_scan,"
				  "  s.n_tup_ins, s.n_tup_upd, s.n_tup_del"
				  " FROM latest l JOIN table_stats s ON s.instance_id = "
				  "l.instance_id AND s.ts_us = l.ts_us"
				  " ORDER BY l.name, s.datname, s.schemaname, s.relname",
	    { METRICS_TABLES_LIVE, METRICS_TABLES_DEAD, METRICS_TABLES_SEQ_SCAN,
		METRICS_TABLES_SEQ_TUP_READ, METRICS_TABLES_IDX_SCAN, METRICS_TABLES_INS,
		METRICS_TABLES_UPD, METRICS_TABLES_DEL },
	    8, false },
	{ "table sizes",
	    LATEST("table_stats") "SELECT l.name, l.cluster, s.datname, s.schemaname, "
				  "s.relname, s.total_bytes"
				  " FROM latest l JOIN table_stats s ON s.instance_id = "
				  "l.instance_id AND s.ts_us = l.ts_us"
				  " ORDER BY l.name, s.datname, s.schemaname, s.relname",
	    { METRICS_TABLES_SIZE }, 1, false },
	{ "index stats",
	    LATEST("index_stats") "SELECT l.name, l.cluster, s.datname, s.schemaname, "
				  "s.relname, s.indexrelname,"
				  "  s.idx_scan, s.size_bytes"
				  " FROM latest l JOIN index_stats s ON s.instance_id = "
				  "l.instance_id AND s.ts_us = l.ts_us"
				  " ORDER BY l.name, s.datname, s.schemaname, s.relname, "
				  "s.indexrelname",
	    { METRICS_INDEXES_IDX_SCAN, METRICS_INDEXES_SIZE }, 2, false },
	{ "replication",
	    "SELECT i.name, i.system_identifier, CASE WHEN r.is_standby THEN 1 ELSE 0 "
	    "END,"
	    "  CASE WHEN r.is_standby THEN r.replay_delay_seconds ELSE 0 END,"
	    "  CASE WHEN r.is_standby THEN r.replay_lag_bytes ELSE 0 END,"
	    "  CASE WHEN r.is_standby AND r.replay_paused THEN 1 ELSE 0 END"
	    " FROM replication_latest r JOIN instances i ON i.instance_id = r.instance_id"
	    " ORDER BY i.name",
	    { METRICS_IS_REPLICA, METRICS_REPLICATION_LAG_SECONDS,
		METRICS_REPLICATION_LAG_BYTES, METRICS_REPLICATION_PAUSED },
	    4, false },
	{ "replicas",
	    "SELECT i.name, i.system_identifier, r.application_name, r.client_addr,"
	    "  CAST(r.pid AS TEXT), r.replay_lag_bytes, r.replay_lag_seconds"
	    " FROM replication_replicas r JOIN instances i ON i.instance_id = "
	    "r.instance_id"
	    " ORDER BY i.name, r.pid",
	    { METRICS_STAT_REPLICATION_LSN_DIFF, METRICS_STAT_REPLICATION_REPLAY_LAG }, 2,
	    false },
	{ "replication slots",
	    "SELECT i.name, i.system_identifier, s.slot_name, s.retained_bytes,"
	    "  CASE WHEN s.active THEN 1 ELSE 0 END"
	    " FROM replication_slots s JOIN instances i ON i.instance_id = s.instance_id"
	    " ORDER BY i.name, s.slot_name",
	    { METRICS_SLOT_RETAINED_BYTES, METRICS_SLOT_ACTIVE }, 2, false },
	{ "connections",
	    "SELECT i.name, i.system_identifier, c.datname, c.state, c.username,"
	    "  c.application_name, sum(c.count)"
	    " FROM activity_connections c JOIN instances i ON i.instance_id = "
	    "c.instance_id"
	    " GROUP BY i.instance_id, i.name, i.system_identifier, c.datname, c.state, "
	    "c.username,"
	    "  c.application_name"
	    " ORDER BY i.name, c.datname, c.state, c.username, c.application_name",
	    { METRICS_ACTIVITY_COUNT }, 1, false },
	{ "max connections",
	    "SELECT i.name, i.system_identifier, a.max_connections"
	    " FROM activity_latest a JOIN instances i ON i.instance_id = a.instance_id"
	    " ORDER BY i.name",
	    { METRICS_MAX_CONNECTIONS }, 1, false },
	/* pools (store_*_pools.c): applications' connections, as the agent
	 * samples them, and pgbouncer's pools when it watches one. An
	 * application's samples are taken at the activity snapshots, and one
	 * with no connection then has none: the latest activity snapshot is
	 * the one to read, not the application's own latest sample */
	{ "application pools",
	    LATEST(
		"activity_history") "SELECT l.name, l.cluster, p.application_name, "
				    "p.datname, p.busy, p.idle, p.waiting"
				    " FROM latest l JOIN pool_app_samples p ON "
				    "p.instance_id = l.instance_id AND p.ts_us = l.ts_us"
				    " ORDER BY l.name, p.application_name, p.datname",
	    { METRICS_POOL_BUSY, METRICS_POOL_IDLE, METRICS_POOL_WAITING }, 3, false },
	{ "pgbouncer pools",
	    LATEST("pooler_samples") "SELECT l.name, l.cluster, p.database, p.username, "
				     "p.cl_active, p.cl_waiting,"
				     "  p.sv_active, p.sv_idle, p.sv_used, "
				     "p.maxwait_seconds, p.default_pool_size"
				     " FROM latest l JOIN pooler_samples p ON "
				     "p.instance_id = l.instance_id AND p.ts_us = l.ts_us"
				     " ORDER BY l.name, p.database, p.username",
	    { METRICS_PGBOUNCER_CLIENT_ACTIVE, METRICS_PGBOUNCER_CLIENT_WAITING,
		METRICS_PGBOUNCER_SERVER_ACTIVE, METRICS_PGBOUNCER_SERVER_IDLE,
		METRICS_PGBOUNCER_SERVER_USED, METRICS_PGBOUNCER_MAXWAIT,
		METRICS_PGBOUNCER_POOL_SIZE },
	    7, false },
};

const size_t metrics_queries_count = sizeof(metrics_queries) / sizeof(metrics_queries[0]);

int
metrics_query_labels(const struct metrics_query *query)
{
	int n = 0;

	while (n < METRICS_MAX_LABELS
	    && metrics_families[query->families[0]].labels[n] != NULL)
		n++;
	return n;
}

int
metrics_queries_add_row(struct metrics_set *set, const struct metrics_query *query,
    const char *const *labels, const double *values, const bool *present)
{
	for (int f = 0; f < query->n_families; f++) {
		if (!present[f])
			continue;
		if (metrics_add(set, query->families[f], labels, values[f]) != PGF_OK)
			return PGF_ENOMEM;
	}
	return PGF_OK;
}
