/*
 * store_sqlite_metrics.c - the store's part of /metrics: the latest stored
 * snapshot of each family per instance, and the statements with the most
 * time over the stored history, as Prometheus samples (metrics.h).
 *
 * Each query is one row of `queries`: its first columns are the label
 * values of its families (all of its families share the labels), the
 * remaining columns one value per family, in order. A NULL value leaves
 * that sample out. Nothing here decides what a figure means; the names and
 * help texts are metrics.c's. Each query's label values are unique per row
 * (statements are grouped by database name, not oid, for that): the text
 * format refuses a series twice.
 */
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/metrics.h"

/* The latest snapshot time of FAMILY's table per instance, as in
 * store_sqlite_tables.c: a backward search of (instance_id, ts_us). */
#define LATEST(family)                                                             \
	"WITH latest AS MATERIALIZED (SELECT i.instance_id, i.name,"               \
	"  i.system_identifier AS cluster,"                                        \
	"  (SELECT f.ts_us FROM " family " f WHERE f.instance_id = i.instance_id" \
	"   ORDER BY f.ts_us DESC LIMIT 1) AS ts_us FROM instances i) "

/* An instance is stale after 3 report intervals without a report (60 s
 * when the agent did not say), as in the fleet answer. */
#define STATUS                                                                     \
	"CASE WHEN :now - i.last_seen_us > 3 * 1000 * (CASE WHEN i.report_interval_ms > 0" \
	" THEN i.report_interval_ms ELSE 60000 END) THEN 'stale'"                  \
	" WHEN i.unreachable_reason <> '' THEN 'down' ELSE 'ok' END"

#define MAX_FAMILIES 8

static const struct {
	const char *what;
	const char *sql;
	enum metrics_family_id families[MAX_FAMILIES];
	int n_families;
} queries[] = {
	{"instances",
	    "SELECT name, system_identifier, unreachable_reason = '', last_seen_us / 1e6"
	    " FROM instances ORDER BY name",
	    {METRICS_PG_UP, METRICS_LAST_REPORT}, 2},
	{"instance roles",
	    "SELECT i.name, i.system_identifier, i.role, i.server_version, " STATUS ", 1"
	    " FROM instances i ORDER BY i.name",
	    {METRICS_INSTANCE_INFO}, 1},
	{"statement totals",
	    "SELECT i.name, i.system_identifier, s.datname, CAST(s.queryid AS TEXT),"
	    "  sum(s.calls), sum(s.total_exec_time_ms) / 1000.0, sum(s.rows)"
	    " FROM %s s JOIN instances i USING (instance_id)"
	    " GROUP BY s.instance_id, s.datname, s.queryid"
	    " ORDER BY sum(s.total_exec_time_ms) DESC, i.name, s.queryid LIMIT :top",
	    {METRICS_STATEMENTS_CALLS, METRICS_STATEMENTS_SECONDS, METRICS_STATEMENTS_ROWS}, 3},
	{"table stats",
	    LATEST("table_stats")
	    "SELECT l.name, l.cluster, s.datname, s.schemaname, s.relname,"
	    "  s.n_live_tup, s.n_dead_tup, s.seq_scan, s.seq_tup_read, s.idx_scan,"
	    "  s.n_tup_ins, s.n_tup_upd, s.n_tup_del"
	    " FROM latest l JOIN table_stats s ON s.instance_id = l.instance_id AND s.ts_us = l.ts_us"
	    " ORDER BY l.name, s.datname, s.schemaname, s.relname",
	    {METRICS_TABLES_LIVE, METRICS_TABLES_DEAD, METRICS_TABLES_SEQ_SCAN,
		METRICS_TABLES_SEQ_TUP_READ, METRICS_TABLES_IDX_SCAN, METRICS_TABLES_INS,
		METRICS_TABLES_UPD, METRICS_TABLES_DEL},
	    8},
	{"table sizes",
	    LATEST("table_stats")
	    "SELECT l.name, l.cluster, s.datname, s.schemaname, s.relname, s.total_bytes"
	    " FROM latest l JOIN table_stats s ON s.instance_id = l.instance_id AND s.ts_us = l.ts_us"
	    " ORDER BY l.name, s.datname, s.schemaname, s.relname",
	    {METRICS_TABLES_SIZE}, 1},
	{"index stats",
	    LATEST("index_stats")
	    "SELECT l.name, l.cluster, s.datname, s.schemaname, s.relname, s.indexrelname,"
	    "  s.idx_scan, s.size_bytes"
	    " FROM latest l JOIN index_stats s ON s.instance_id = l.instance_id AND s.ts_us = l.ts_us"
	    " ORDER BY l.name, s.datname, s.schemaname, s.relname, s.indexrelname",
	    {METRICS_INDEXES_IDX_SCAN, METRICS_INDEXES_SIZE}, 2},
	{"replication",
	    "SELECT i.name, i.system_identifier, r.is_standby,"
	    "  CASE WHEN r.is_standby THEN r.replay_delay_seconds ELSE 0 END,"
	    "  CASE WHEN r.is_standby THEN r.replay_lag_bytes ELSE 0 END,"
	    "  CASE WHEN r.is_standby THEN r.replay_paused ELSE 0 END"
	    " FROM replication_latest r JOIN instances i USING (instance_id) ORDER BY i.name",
	    {METRICS_IS_REPLICA, METRICS_REPLICATION_LAG_SECONDS, METRICS_REPLICATION_LAG_BYTES,
		METRICS_REPLICATION_PAUSED},
	    4},
	{"replicas",
	    "SELECT i.name, i.system_identifier, r.application_name, r.client_addr,"
	    "  CAST(r.pid AS TEXT), r.replay_lag_bytes, r.replay_lag_seconds"
	    " FROM replication_replicas r JOIN instances i USING (instance_id)"
	    " ORDER BY i.name, r.pid",
	    {METRICS_STAT_REPLICATION_LSN_DIFF, METRICS_STAT_REPLICATION_REPLAY_LAG}, 2},
	{"replication slots",
	    "SELECT i.name, i.system_identifier, s.slot_name, s.retained_bytes, s.active"
	    " FROM replication_slots s JOIN instances i USING (instance_id)"
	    " ORDER BY i.name, s.slot_name",
	    {METRICS_SLOT_RETAINED_BYTES, METRICS_SLOT_ACTIVE}, 2},
	{"connections",
	    "SELECT i.name, i.system_identifier, c.datname, c.state, c.username,"
	    "  c.application_name, sum(c.count)"
	    " FROM activity_connections c JOIN instances i USING (instance_id)"
	    " GROUP BY c.instance_id, c.datname, c.state, c.username, c.application_name"
	    " ORDER BY i.name, c.datname, c.state, c.username, c.application_name",
	    {METRICS_ACTIVITY_COUNT}, 1},
	{"max connections",
	    "SELECT i.name, i.system_identifier, a.max_connections"
	    " FROM activity_latest a JOIN instances i USING (instance_id) ORDER BY i.name",
	    {METRICS_MAX_CONNECTIONS}, 1},
	/* pools (store_sqlite_pools.c): applications' connections, as the
	 * agent samples them, and pgbouncer's pools when it watches one. An
	 * application's samples are taken at the activity snapshots, and one
	 * with no connection then has none: the latest activity snapshot is
	 * the one to read, not the application's own latest sample */
	{"application pools",
	    LATEST("activity_history")
	    "SELECT l.name, l.cluster, p.application_name, p.datname, p.busy, p.idle, p.waiting"
	    " FROM latest l JOIN pool_app_samples p ON p.instance_id = l.instance_id AND p.ts_us = l.ts_us"
	    " ORDER BY l.name, p.application_name, p.datname",
	    {METRICS_POOL_BUSY, METRICS_POOL_IDLE, METRICS_POOL_WAITING}, 3},
	{"pgbouncer pools",
	    LATEST("pooler_samples")
	    "SELECT l.name, l.cluster, p.database, p.username, p.cl_active, p.cl_waiting,"
	    "  p.sv_active, p.sv_idle, p.sv_used, p.maxwait_seconds, p.default_pool_size"
	    " FROM latest l JOIN pooler_samples p ON p.instance_id = l.instance_id AND p.ts_us = l.ts_us"
	    " ORDER BY l.name, p.database, p.username",
	    {METRICS_PGBOUNCER_CLIENT_ACTIVE, METRICS_PGBOUNCER_CLIENT_WAITING,
		METRICS_PGBOUNCER_SERVER_ACTIVE, METRICS_PGBOUNCER_SERVER_IDLE,
		METRICS_PGBOUNCER_SERVER_USED, METRICS_PGBOUNCER_MAXWAIT,
		METRICS_PGBOUNCER_POOL_SIZE},
	    7},
};

static int
label_count(enum metrics_family_id family)
{
	int n = 0;
	while (n < METRICS_MAX_LABELS && metrics_families[family].labels[n] != NULL)
		n++;
	return n;
}

/* Runs one query of the table into set. */
static int
run_query(struct store_sqlite *store, size_t index, size_t top_statements, int64_t now_us,
    struct metrics_set *set, char *errbuf, size_t errlen)
{
	char sql[4096];
	char what[128];
	sqlite3_stmt *stmt = NULL;
	int labels = label_count(queries[index].families[0]);
	int parameter;
	int rc;

	snprintf(sql, sizeof(sql), queries[index].sql, store_sqlite_statement_source);
	snprintf(what, sizeof(what), "read %s for metrics", queries[index].what);
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, what, errbuf, errlen);
	if ((parameter = sqlite3_bind_parameter_index(stmt, ":top")) > 0)
		sqlite3_bind_int64(stmt, parameter, (sqlite3_int64) top_statements);
	if ((parameter = sqlite3_bind_parameter_index(stmt, ":now")) > 0)
		sqlite3_bind_int64(stmt, parameter, now_us);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *values[METRICS_MAX_LABELS] = {NULL};

		for (int l = 0; l < labels; l++) {
			const unsigned char *text = sqlite3_column_text(stmt, l);
			values[l] = text != NULL ? (const char *) text : "";
		}
		for (int f = 0; f < queries[index].n_families; f++) {
			int column = labels + f;
			if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
				continue;
			if (metrics_add(set, queries[index].families[f], values,
				sqlite3_column_double(stmt, column)) != PGF_OK) {
				sqlite3_finalize(stmt);
				snprintf(errbuf, errlen, "could not %s: out of memory", what);
				return PGF_ENOMEM;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		int rv = sqlite_store_error(store->db, rc, what, errbuf, errlen);
		sqlite3_finalize(stmt);
		return rv;
	}
	sqlite3_finalize(stmt);
	return PGF_OK;
}

int
store_sqlite_metrics(struct store *base, size_t top_statements, int64_t now_us,
    struct metrics_set *set, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	int rv = PGF_OK;

	/* one read transaction: every family from the same moment */
	if ((rv = sqlite_exec(store->db, "BEGIN", "begin a metrics read", errbuf, errlen)) !=
	    PGF_OK)
		return rv;
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]) && rv == PGF_OK; i++)
		rv = run_query(store, i, top_statements, now_us, set, errbuf, errlen);
	(void) sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	return rv;
}
