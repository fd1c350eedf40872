/*
 * store_sqlite_advice.c - what vacuum-advice, replication-health and the
 * checklist read from the SQLite store, and the little they need stored
 * that no other module keeps.
 *
 * Schema (one migration step, store_sqlite_advice_schema):
 *   advice_instance       per instance: when its settings and tables
 *                         families were last stored, and the server's
 *                         autovacuum_freeze_max_age
 *   advice_settings       the latest settings family (name -> setting)
 *   advice_extensions     the latest extensions per database
 *   advice_table_options  the insert variant of the autovacuum trigger per
 *                         table, from the latest tables family (the
 *                         table_stats history does not keep it)
 * All four hold the latest state only: each newer family (by collection
 * time) replaces the instance's rows, an older one (a replayed backlog) is
 * ignored.
 *
 * The readers gather plain facts (advice.h); the judging is the pure
 * analysis code's.
 */
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/advice.h"
#include "collector/advice_facts.h"
#include "common/timeutil.h"

const char store_sqlite_advice_schema[]
    = "CREATE TABLE advice_instance ("
      "  instance_id INTEGER PRIMARY KEY REFERENCES instances,"
      "  settings_ts_us INTEGER NOT NULL DEFAULT 0,"
      "  tables_ts_us INTEGER NOT NULL DEFAULT 0,"
      "  freeze_max_age INTEGER NOT NULL DEFAULT 0);"
      "CREATE TABLE advice_settings ("
      "  instance_id INTEGER NOT NULL REFERENCES instances,"
      "  name TEXT NOT NULL,"
      "  setting TEXT NOT NULL,"
      "  PRIMARY KEY (instance_id, name)) WITHOUT ROWID;"
      "CREATE TABLE advice_extensions ("
      "  instance_id INTEGER NOT NULL REFERENCES instances,"
      "  datname TEXT NOT NULL,"
      "  name TEXT NOT NULL,"
      "  version TEXT NOT NULL,"
      "  PRIMARY KEY (instance_id, datname, name)) WITHOUT ROWID;"
      "CREATE TABLE advice_table_options ("
      "  instance_id INTEGER NOT NULL REFERENCES instances,"
      "  datname TEXT NOT NULL,"
      "  schemaname TEXT NOT NULL,"
      "  relname TEXT NOT NULL,"
      "  insert_threshold INTEGER NOT NULL,"
      "  insert_scale_factor REAL NOT NULL,"
      "  PRIMARY KEY (instance_id, datname, schemaname, relname)) WITHOUT ROWID;";

/* ---- writing ---- */

/* Runs sql with ?1 = instance_id (and ?2 = ts when given). */
static int
exec_instance(
    struct store_sqlite *store, const char *sql, int64_t instance_id, int64_t ts)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(stmt, 1, instance_id);
	if (sqlite3_bind_parameter_count(stmt) >= 2)
		sqlite3_bind_int64(stmt, 2, ts);
	rc = sqlite_step_done(stmt);
	sqlite3_finalize(stmt);
	return rc;
}

/* True when a family collected at ts is newer than the one stored (the
 * column of advice_instance); *rc is set on error. */
static bool
is_newer(struct store_sqlite *store, const char *column, int64_t instance_id, int64_t ts,
    int *rc)
{
	sqlite3_stmt *stmt = NULL;
	char sql[160];
	bool newer = true;

	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM advice_instance WHERE instance_id = ?1", column);
	*rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (*rc != SQLITE_OK)
		return false;
	sqlite3_bind_int64(stmt, 1, instance_id);
	*rc = sqlite3_step(stmt);
	if (*rc == SQLITE_ROW) {
		newer = ts >= sqlite3_column_int64(stmt, 0);
		*rc = SQLITE_OK;
	} else if (*rc == SQLITE_DONE) {
		*rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return newer;
}

static int
write_settings(struct store_sqlite *store, int64_t instance_id, int64_t ts,
    const Pgfleet__V1__SettingsFamily *family)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (!is_newer(store, "settings_ts_us", instance_id, ts, &rc))
		return rc;
	if ((rc = exec_instance(store,
		 "INSERT INTO advice_instance (instance_id, settings_ts_us) VALUES (?1, "
		 "?2)"
		 " ON CONFLICT (instance_id) DO UPDATE SET settings_ts_us = "
		 "excluded.settings_ts_us",
		 instance_id, ts))
		!= SQLITE_OK
	    || (rc = exec_instance(store,
		    "DELETE FROM advice_settings WHERE instance_id = ?1", instance_id, 0))
		!= SQLITE_OK
	    || (rc = exec_instance(store,
		    "DELETE FROM advice_extensions WHERE instance_id = ?1", instance_id,
		    0))
		!= SQLITE_OK)
		return rc;
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT OR REPLACE INTO advice_settings (instance_id, name, setting)"
	    " VALUES (?1, ?2, ?3)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_settings; i++) {
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		if ((rc = sqlite_bind_clean_string(stmt, 2, family->settings[i]->name))
			!= SQLITE_OK
		    || (rc = sqlite_bind_clean_string(
			    stmt, 3, family->settings[i]->setting))
			!= SQLITE_OK
		    || (rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT OR REPLACE INTO advice_extensions (instance_id, datname, name, "
	    "version)"
	    " VALUES (?1, ?2, ?3, ?4)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_extensions; i++) {
		const Pgfleet__V1__Extension *e = family->extensions[i];
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		if ((rc = sqlite_bind_clean_string(stmt, 2, e->database)) != SQLITE_OK
		    || (rc = sqlite_bind_clean_string(stmt, 3, e->name)) != SQLITE_OK
		    || (rc = sqlite_bind_clean_string(stmt, 4, e->version)) != SQLITE_OK
		    || (rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	rc = SQLITE_OK;
done:
	sqlite3_finalize(stmt);
	return rc;
}

static int
write_tables(struct store_sqlite *store, int64_t instance_id, int64_t ts,
    const Pgfleet__V1__TablesFamily *family)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (!is_newer(store, "tables_ts_us", instance_id, ts, &rc))
		return rc;
	if ((rc = exec_instance(store,
		 "INSERT INTO advice_instance (instance_id, tables_ts_us) VALUES (?1, ?2)"
		 " ON CONFLICT (instance_id) DO UPDATE SET tables_ts_us = "
		 "excluded.tables_ts_us",
		 instance_id, ts))
		!= SQLITE_OK
	    || (rc = exec_instance(store,
		    "UPDATE advice_instance SET freeze_max_age = ?2 WHERE instance_id = "
		    "?1",
		    instance_id, family->autovacuum_freeze_max_age))
		!= SQLITE_OK
	    || (rc = exec_instance(store,
		    "DELETE FROM advice_table_options WHERE instance_id = ?1",
		    instance_id, 0))
		!= SQLITE_OK)
		return rc;
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT OR REPLACE INTO advice_table_options (instance_id, datname, "
	    "schemaname,"
	    " relname, insert_threshold, insert_scale_factor) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_tables; i++) {
		const Pgfleet__V1__TableStat *t = family->tables[i];
		/* both 0: an agent older than these fields (or a server that
		 * really has both at 0, which the server's settings then stand
		 * in for) */
		if (t->autovacuum_vacuum_insert_threshold == 0
		    && t->autovacuum_vacuum_insert_scale_factor == 0.0)
			continue;
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		if ((rc = sqlite_bind_clean_string(stmt, 2, t->database)) != SQLITE_OK
		    || (rc = sqlite_bind_clean_string(stmt, 3, t->schema)) != SQLITE_OK
		    || (rc = sqlite_bind_clean_string(stmt, 4, t->table)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 5, t->autovacuum_vacuum_insert_threshold);
		sqlite3_bind_double(stmt, 6,
		    t->autovacuum_vacuum_insert_scale_factor
			    == t->autovacuum_vacuum_insert_scale_factor
			? t->autovacuum_vacuum_insert_scale_factor
			: 0.0);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	rc = SQLITE_OK;
done:
	sqlite3_finalize(stmt);
	return rc;
}

int
store_sqlite_advice_write(
    struct store_sqlite *store, int64_t instance_id, const Pgfleet__V1__Report *report)
{
	int rc = SQLITE_OK;

	if (report->settings != NULL && report->settings->n_settings > 0)
		rc = write_settings(
		    store, instance_id, report->collected_at_us, report->settings);
	if (rc == SQLITE_OK && report->tables != NULL)
		rc = write_tables(
		    store, instance_id, report->collected_at_us, report->tables);
	return rc;
}

/* ---- reading ---- */

static const char *
scope_text(const Pgfleet__V1__Scope *scope, int which)
{
	if (scope == NULL)
		return "";
	return which == 0 ? scope->instance
	    : which == 1  ? scope->cluster
			  : scope->database;
}

/* Binds the named parameters a reader's SQL uses: :instance, :cluster,
 * :database, :since and :until (0 = unbounded), :wsince (the window's start,
 * the last day by default), :now. */
static void
bind_scope(sqlite3_stmt *stmt, const Pgfleet__V1__Scope *scope)
{
	int64_t now = pgf_time_now_us();
	int64_t until = scope != NULL ? scope->until_us : 0;
	int64_t since = scope != NULL ? scope->since_us : 0;
	int index;

	if ((index = sqlite3_bind_parameter_index(stmt, ":instance")) > 0)
		sqlite3_bind_text(stmt, index, scope_text(scope, 0), -1, SQLITE_STATIC);
	if ((index = sqlite3_bind_parameter_index(stmt, ":cluster")) > 0)
		sqlite3_bind_text(stmt, index, scope_text(scope, 1), -1, SQLITE_STATIC);
	if ((index = sqlite3_bind_parameter_index(stmt, ":database")) > 0)
		sqlite3_bind_text(stmt, index, scope_text(scope, 2), -1, SQLITE_STATIC);
	if ((index = sqlite3_bind_parameter_index(stmt, ":since")) > 0)
		sqlite3_bind_int64(stmt, index, since);
	if ((index = sqlite3_bind_parameter_index(stmt, ":until")) > 0)
		sqlite3_bind_int64(stmt, index, until);
	if ((index = sqlite3_bind_parameter_index(stmt, ":wsince")) > 0)
		sqlite3_bind_int64(stmt, index, advice_window_since(scope));
	if ((index = sqlite3_bind_parameter_index(stmt, ":wuntil")) > 0)
		sqlite3_bind_int64(stmt, index, until > 0 ? until : INT64_MAX);
	if ((index = sqlite3_bind_parameter_index(stmt, ":now")) > 0)
		sqlite3_bind_int64(stmt, index, now);
}

/* A text column copied into pool; NULL when out of memory. */
static const char *
column(struct advice_pool *pool, sqlite3_stmt *stmt, int index)
{
	return advice_pool_strdup(pool, (const char *) sqlite3_column_text(stmt, index));
}

/* Maps a reader's failure to the store's errors. */
static int
read_error(
    struct store_sqlite *store, int rc, const char *what, char *errbuf, size_t errlen)
{
	if (rc == SQLITE_NOMEM) {
		snprintf(errbuf, errlen, "could not read %s: out of memory", what);
		return PGF_ENOMEM;
	}
	return sqlite_store_error(store->db, rc, what, errbuf, errlen);
}

/* The instances in scope and their snapshot times, then each table of the
 * newest tables snapshot (inside the window when the scope has one). */
static const char vacuum_sql[]
    = "WITH snap AS ("
      " SELECT i.instance_id, i.name, i.server_version_num, i.role,"
      "  (SELECT max(t.ts_us) FROM table_stats t WHERE t.instance_id = i.instance_id"
      "   AND (:since = 0 OR t.ts_us >= :since) AND (:until = 0 OR t.ts_us < :until)) AS "
      "ts,"
      "  (SELECT max(b.ts_us) FROM bloat_estimates b WHERE b.instance_id = i.instance_id"
      "   AND (:since = 0 OR b.ts_us >= :since) AND (:until = 0 OR b.ts_us < :until))"
      "   AS bloat_ts"
      " FROM instances i"
      " WHERE (:instance = '' OR i.name = :instance)"
      "  AND (:cluster = '' OR i.system_identifier = :cluster))"
      " SELECT snap.name, t.datname, t.schemaname, t.relname, snap.server_version_num,"
      "  t.n_live_tup, t.n_dead_tup, t.n_ins_since_vacuum, t.reltuples, "
      "t.autovacuum_enabled,"
      "  (SELECT s.setting FROM advice_settings s WHERE s.instance_id = snap.instance_id"
      "   AND s.name = 'autovacuum'),"
      "  t.autovacuum_vacuum_threshold, t.autovacuum_vacuum_scale_factor,"
      "  o.insert_threshold, o.insert_scale_factor,"
      "  (SELECT s.setting FROM advice_settings s WHERE s.instance_id = snap.instance_id"
      "   AND s.name = 'autovacuum_vacuum_insert_threshold'),"
      "  (SELECT s.setting FROM advice_settings s WHERE s.instance_id = snap.instance_id"
      "   AND s.name = 'autovacuum_vacuum_insert_scale_factor'),"
      "  t.relfrozenxid_age,"
      "  coalesce(nullif(ai.freeze_max_age, 0), (SELECT CAST(s.setting AS INTEGER)"
      "   FROM advice_settings s WHERE s.instance_id = snap.instance_id"
      "   AND s.name = 'autovacuum_freeze_max_age'), 0),"
      "  b.real_bytes, b.bloat_bytes, b.unreliable,"
      "  t.last_vacuum_us, t.last_autovacuum_us, t.ts_us,"
      "  snap.role = 'replica' OR coalesce((SELECT rl.is_standby FROM replication_latest "
      "rl"
      "   WHERE rl.instance_id = snap.instance_id), 0)"
      " FROM snap JOIN table_stats t ON t.instance_id = snap.instance_id AND t.ts_us = "
      "snap.ts"
      " LEFT JOIN advice_table_options o ON o.instance_id = t.instance_id"
      "  AND o.datname = t.datname AND o.schemaname = t.schemaname AND o.relname = "
      "t.relname"
      " LEFT JOIN advice_instance ai ON ai.instance_id = snap.instance_id"
      " LEFT JOIN bloat_estimates b ON b.instance_id = snap.instance_id"
      "  AND b.ts_us = snap.bloat_ts AND b.datname = t.datname"
      "  AND b.schemaname = t.schemaname AND b.relname = t.relname AND b.indexrelname = "
      "''"
      " WHERE (:database = '' OR t.datname = :database)"
      " ORDER BY snap.name, t.datname, t.schemaname, t.relname";

int
store_sqlite_vacuum_facts(struct store *base, const Pgfleet__V1__Scope *scope,
    struct vacuum_fact_set *out, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, vacuum_sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		goto fail;
	bind_scope(stmt, scope);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct vacuum_table_fact *f;

		if (!advice_grow((void **) &out->rows, out->n, &out->capacity,
			sizeof(*out->rows))) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		f = &out->rows[out->n];
		f->instance = column(&out->pool, stmt, 0);
		f->database = column(&out->pool, stmt, 1);
		f->schema = column(&out->pool, stmt, 2);
		f->table = column(&out->pool, stmt, 3);
		if (f->instance == NULL || f->database == NULL || f->schema == NULL
		    || f->table == NULL) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		f->server_version_num = sqlite3_column_int(stmt, 4);
		f->n_live_tup = sqlite3_column_int64(stmt, 5);
		f->n_dead_tup = sqlite3_column_int64(stmt, 6);
		f->n_ins_since_vacuum = sqlite3_column_int64(stmt, 7);
		f->reltuples = sqlite3_column_double(stmt, 8);
		f->autovacuum_enabled = sqlite3_column_int(stmt, 9) != 0;
		f->server_autovacuum = advice_server_autovacuum(
		    (const char *) sqlite3_column_text(stmt, 10));
		f->vacuum_threshold = sqlite3_column_int64(stmt, 11);
		f->vacuum_scale_factor = sqlite3_column_double(stmt, 12);
		advice_vacuum_insert(f, sqlite3_column_type(stmt, 13) != SQLITE_NULL,
		    sqlite3_column_int64(stmt, 13), sqlite3_column_double(stmt, 14),
		    (const char *) sqlite3_column_text(stmt, 15),
		    (const char *) sqlite3_column_text(stmt, 16));
		f->relfrozenxid_age = sqlite3_column_int64(stmt, 17);
		f->freeze_max_age = sqlite3_column_int64(stmt, 18);
		f->has_bloat = sqlite3_column_type(stmt, 19) != SQLITE_NULL;
		f->real_bytes = sqlite3_column_int64(stmt, 19);
		f->bloat_bytes = sqlite3_column_int64(stmt, 20);
		f->bloat_unreliable = sqlite3_column_int(stmt, 21) != 0;
		f->last_vacuum_us = sqlite3_column_int64(stmt, 22);
		f->last_autovacuum_us = sqlite3_column_int64(stmt, 23);
		f->collected_at_us = sqlite3_column_int64(stmt, 24);
		f->is_standby = sqlite3_column_int(stmt, 25) != 0;
		out->n++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(stmt);
	return PGF_OK;
fail:
	sqlite3_finalize(stmt);
	return read_error(store, rc, "the tables", errbuf, errlen);
}

/* The upstream of standby i: the instance its walreceiver names (host and
 * port, same cluster), else the cluster's only primary. */
#define UPSTREAM_ID(i)                                                                \
	"coalesce((SELECT u.instance_id FROM instances u WHERE u.instance_id <> " i   \
	".instance_id AND u.system_identifier = " i ".system_identifier"              \
	" AND u.port = " i ".upstream_port AND u.host = " i ".upstream_host"          \
	" ORDER BY u.role <> 'primary', u.last_seen_us DESC LIMIT 1),"                \
	" (SELECT max(u.instance_id) FROM instances u WHERE u.system_identifier = " i \
	".system_identifier AND u.role = 'primary' AND u.instance_id <> " i           \
	".instance_id HAVING count(*) = 1))"

static const char replicas_sql[]
    = "WITH s AS ("
      " SELECT i.instance_id, i.name, i.system_identifier, i.upstream_host, "
      "i.upstream_port,"
      "  " UPSTREAM_ID(
	  "i") " AS upstream_id, rl.receiver_status, rl.replay_paused,"
	       "  rl.replay_lag_bytes, rl.replay_delay_seconds, rl.slot_name, rl.ts_us,"
	       /* stale as fleet says it: three report intervals without a report */
	       "  (:now - i.last_seen_us > 3 * 1000 * (CASE WHEN i.report_interval_ms > 0"
	       "   THEN i.report_interval_ms ELSE 60000 END)) AS stale"
	       " FROM replication_latest rl JOIN instances i USING (instance_id)"
	       " WHERE rl.is_standby AND (:instance = '' OR i.name = :instance)"
	       "  AND (:cluster = '' OR i.system_identifier = :cluster))"
	       " SELECT s.instance_id, s.name, s.system_identifier,"
	       "  coalesce((SELECT u.name FROM instances u WHERE u.instance_id = "
	       "s.upstream_id),"
	       "   CASE WHEN s.upstream_port = 0 THEN '' ELSE s.upstream_host || ':' || "
	       "s.upstream_port"
	       "   END),"
	       "  s.receiver_status, s.replay_paused, s.replay_lag_bytes, "
	       "s.replay_delay_seconds,"
	       "  s.slot_name, s.ts_us, s.stale,"
	       /* 11: the upstream reported its walsenders */
	       "  (SELECT count(*) FROM replication_latest url WHERE url.instance_id = "
	       "s.upstream_id),"
	       /* 12: its walsenders, 13: the standbys naming it */
	       "  (SELECT count(*) FROM replication_replicas r WHERE r.instance_id = "
	       "s.upstream_id),"
	       "  (SELECT count(*) FROM instances y JOIN replication_latest yl USING "
	       "(instance_id)"
	       "   WHERE yl.is_standby AND " UPSTREAM_ID(
		   "y") " = s.upstream_id),"
			/* 14, 15, 16: the walsender that is surely this standby's (by
			 * slot or by application_name = instance name), its lag in bytes
			 * and s */
			"  (SELECT count(*) FROM replication_replicas r WHERE "
			"r.instance_id = s.upstream_id"
			"   AND ((s.slot_name <> '' AND r.slot_name = s.slot_name)"
			"   OR r.application_name = s.name)),"
			"  (SELECT max(r.replay_lag_bytes) FROM replication_replicas r"
			"   WHERE r.instance_id = s.upstream_id AND ((s.slot_name <> '' "
			"AND"
			"   r.slot_name = s.slot_name) OR r.application_name = s.name)),"
			"  (SELECT max(r.replay_lag_seconds) FROM replication_replicas r"
			"   WHERE r.instance_id = s.upstream_id AND ((s.slot_name <> '' "
			"AND"
			"   r.slot_name = s.slot_name) OR r.application_name = s.name))"
			" FROM s ORDER BY s.system_identifier, s.name";

static const char points_sql[]
    = "SELECT ts_us, replay_lag_bytes FROM standby_lag_history WHERE instance_id = ?1"
      " AND ts_us >= ?2 AND ts_us < ?3 ORDER BY ts_us LIMIT 100000";

static const char slots_sql[]
    = "SELECT i.name, i.system_identifier, sl.slot_name, sl.slot_type, sl.active,"
      " sl.temporary, sl.retained_bytes, sl.wal_status, coalesce(rl.ts_us, 0)"
      " FROM replication_slots sl JOIN instances i USING (instance_id)"
      " LEFT JOIN replication_latest rl USING (instance_id)"
      " WHERE (:instance = '' OR i.name = :instance)"
      "  AND (:cluster = '' OR i.system_identifier = :cluster)"
      " ORDER BY i.name, sl.slot_name";

/* Loads a standby's lag history in the window into the pool. */
static int
read_points(struct store_sqlite *store, sqlite3_stmt *points, int64_t instance_id,
    int64_t since, int64_t until, struct advice_pool *pool, struct replica_fact *fact)
{
	struct replication_lag_point *list = NULL;
	size_t n = 0, capacity = 0;
	int rc;

	(void) store;
	sqlite3_reset(points);
	sqlite3_bind_int64(points, 1, instance_id);
	sqlite3_bind_int64(points, 2, since);
	sqlite3_bind_int64(points, 3, until);
	while ((rc = sqlite3_step(points)) == SQLITE_ROW) {
		if (!advice_grow((void **) &list, n, &capacity, sizeof(*list))) {
			free(list);
			return SQLITE_NOMEM;
		}
		list[n].ts_us = sqlite3_column_int64(points, 0);
		list[n].lag_bytes = sqlite3_column_int64(points, 1);
		n++;
	}
	if (rc != SQLITE_DONE) {
		free(list);
		return rc;
	}
	rc = advice_replica_points(pool, fact, list, n) ? SQLITE_OK : SQLITE_NOMEM;
	free(list);
	return rc;
}

int
store_sqlite_replication_facts(struct store *base, const Pgfleet__V1__Scope *scope,
    struct replication_fact_set *out, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	sqlite3_stmt *stmt = NULL;
	sqlite3_stmt *points = NULL;
	int64_t until
	    = scope != NULL && scope->until_us > 0 ? scope->until_us : INT64_MAX;
	int64_t since = advice_window_since(scope);
	int rc;

	if ((rc = sqlite3_prepare_v2(store->db, replicas_sql, -1, &stmt, NULL))
		!= SQLITE_OK
	    || (rc = sqlite3_prepare_v2(store->db, points_sql, -1, &points, NULL))
		!= SQLITE_OK)
		goto fail;
	bind_scope(stmt, scope);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct replica_fact *f;
		struct advice_upstream upstream;

		if (!advice_grow((void **) &out->replicas, out->n_replicas,
			&out->replicas_capacity, sizeof(*out->replicas))) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		f = &out->replicas[out->n_replicas];
		f->instance = column(&out->pool, stmt, 1);
		f->cluster = column(&out->pool, stmt, 2);
		f->upstream = column(&out->pool, stmt, 3);
		f->receiver_status = column(&out->pool, stmt, 4);
		f->slot_name = column(&out->pool, stmt, 8);
		if (f->instance == NULL || f->cluster == NULL || f->upstream == NULL
		    || f->receiver_status == NULL || f->slot_name == NULL) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		f->replay_paused = sqlite3_column_int(stmt, 5) != 0;
		f->lag_bytes = sqlite3_column_int64(stmt, 6);
		f->lag_seconds = sqlite3_column_double(stmt, 7);
		f->collected_at_us = sqlite3_column_int64(stmt, 9);
		f->stale = sqlite3_column_int(stmt, 10) != 0;
		upstream.reported = sqlite3_column_int64(stmt, 11) != 0;
		upstream.walsenders = sqlite3_column_int64(stmt, 12);
		upstream.standbys = sqlite3_column_int64(stmt, 13);
		upstream.matched = sqlite3_column_int64(stmt, 14);
		upstream.sent_lag_bytes = sqlite3_column_int64(stmt, 15);
		upstream.sent_lag_seconds = sqlite3_column_double(stmt, 16);
		advice_replica_upstream(f, &upstream);
		if ((rc = read_points(store, points, sqlite3_column_int64(stmt, 0), since,
			 until, &out->pool, f))
		    != SQLITE_OK)
			goto fail;
		out->n_replicas++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(stmt);
	stmt = NULL;
	if ((rc = sqlite3_prepare_v2(store->db, slots_sql, -1, &stmt, NULL)) != SQLITE_OK)
		goto fail;
	bind_scope(stmt, scope);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct slot_fact *s;

		if (!advice_grow((void **) &out->slots, out->n_slots,
			&out->slots_capacity, sizeof(*out->slots))) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		s = &out->slots[out->n_slots];
		s->instance = column(&out->pool, stmt, 0);
		s->cluster = column(&out->pool, stmt, 1);
		s->slot_name = column(&out->pool, stmt, 2);
		s->slot_type = column(&out->pool, stmt, 3);
		s->wal_status = column(&out->pool, stmt, 7);
		if (s->instance == NULL || s->cluster == NULL || s->slot_name == NULL
		    || s->slot_type == NULL || s->wal_status == NULL) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		s->active = sqlite3_column_int(stmt, 4) != 0;
		s->temporary = sqlite3_column_int(stmt, 5) != 0;
		s->retained_bytes = sqlite3_column_int64(stmt, 6);
		s->collected_at_us = sqlite3_column_int64(stmt, 8);
		out->n_slots++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(stmt);
	sqlite3_finalize(points);
	return PGF_OK;
fail:
	sqlite3_finalize(stmt);
	sqlite3_finalize(points);
	return read_error(store, rc, "the replication state", errbuf, errlen);
}

/* One row per instance in scope with what its checklist needs. */
static const char checklist_sql[]
    = "WITH i AS (SELECT * FROM instances"
      " WHERE (:instance = '' OR name = :instance)"
      "  AND (:cluster = '' OR system_identifier = :cluster)),"
      " snap AS (SELECT i.instance_id,"
      "  (SELECT max(ts_us) FROM table_stats t WHERE t.instance_id = i.instance_id) AS "
      "tables_ts,"
      "  (SELECT max(ts_us) FROM index_stats x WHERE x.instance_id = i.instance_id) AS "
      "indexes_ts"
      "  FROM i)"
      " SELECT i.instance_id, i.name, i.system_identifier,"
      "  i.role = 'replica' OR coalesce(rl.is_standby, 0),"
      "  coalesce(ai.settings_ts_us, 0) > 0,"
      "  (SELECT setting FROM advice_settings s WHERE s.instance_id = i.instance_id"
      "   AND s.name = 'shared_preload_libraries'),"
      "  (SELECT setting FROM advice_settings s WHERE s.instance_id = i.instance_id"
      "   AND s.name = 'autovacuum'),"
      "  (SELECT setting FROM advice_settings s WHERE s.instance_id = i.instance_id"
      "   AND s.name = 'track_counts'),"
      "  EXISTS (SELECT 1 FROM advice_extensions e WHERE e.instance_id = i.instance_id"
      "   AND e.name = 'pg_stat_statements'),"
      /* 9 */
      /* newest only: one seek in the (instance_id, ts_us) index */
      "  coalesce((SELECT max(st.ts_us) FROM statement_stats st"
      "   WHERE st.instance_id = i.instance_id AND st.ts_us < :wuntil), 0),"
      /* 10, 11 */
      "  snap.tables_ts IS NOT NULL,"
      "  (SELECT count(*) FROM table_stats t WHERE t.instance_id = i.instance_id"
      "   AND t.ts_us = snap.tables_ts),"
      /* 12, 13, 14 */
      "  (SELECT max(a.total) FROM activity_history a WHERE a.instance_id = i.instance_id"
      "   AND a.ts_us >= :wsince AND a.ts_us < :wuntil),"
      "  (SELECT a.max_connections FROM activity_history a WHERE a.instance_id = "
      "i.instance_id"
      "   AND a.ts_us >= :wsince AND a.ts_us < :wuntil ORDER BY a.ts_us DESC LIMIT 1),"
      /* slots ordinary roles cannot use: reserved_connections is PG 16+ */
      "  coalesce((SELECT sum(CAST(setting AS INTEGER)) FROM advice_settings s"
      "   WHERE s.instance_id = i.instance_id AND s.name IN "
      "('superuser_reserved_connections', 'reserved_connections')),"
      "   0),"
      /* 15, 16 */
      "  snap.indexes_ts IS NOT NULL,"
      "  (SELECT count(*) FROM index_stats x WHERE x.instance_id = i.instance_id"
      "   AND x.ts_us = snap.indexes_ts),"
      /* 17 */
      "  coalesce((SELECT max(b.ts_us) FROM bloat_estimates b"
      "   WHERE b.instance_id = i.instance_id AND b.ts_us < :wuntil), 0),"
      /* 18, 19, 20, 21 */
      "  rl.instance_id IS NOT NULL, coalesce(rl.receiver_status, ''),"
      "  (SELECT count(*) FROM replication_replicas r WHERE r.instance_id = "
      "i.instance_id),"
      "  (SELECT count(*) FROM replication_replicas r WHERE r.instance_id = i.instance_id"
      "   AND r.state = 'streaming'),"
      "  snap.tables_ts, snap.indexes_ts"
      " FROM i JOIN snap USING (instance_id)"
      " LEFT JOIN advice_instance ai USING (instance_id)"
      " LEFT JOIN replication_latest rl USING (instance_id)"
      " ORDER BY i.system_identifier, i.role <> 'primary', i.name";

/* Tables of the snapshot with autovacuum off. */
static const char autovacuum_off_sql[]
    = "SELECT datname || '.' || schemaname || '.' || relname FROM table_stats"
      " WHERE instance_id = ?1 AND ts_us = ?2 AND NOT autovacuum_enabled"
      " ORDER BY datname, schemaname, relname";

/* Indexes of the snapshot: invalid ones, and every definition (for the
 * duplicates). */
static const char indexes_sql[]
    = "SELECT x.datname, x.schemaname, x.indexrelname, x.is_valid, "
      "coalesce(d.definition, '')"
      " FROM index_stats x LEFT JOIN index_definitions d ON d.instance_id = x.instance_id"
      "  AND d.datname = x.datname AND d.schemaname = x.schemaname"
      "  AND d.indexrelname = x.indexrelname"
      " WHERE x.instance_id = ?1 AND x.ts_us = ?2"
      " ORDER BY x.datname, x.schemaname, x.indexrelname";

static int
read_autovacuum_off(struct store_sqlite *store, int64_t instance_id, int64_t ts,
    struct checklist_facts *f)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, autovacuum_off_sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(stmt, 1, instance_id);
	sqlite3_bind_int64(stmt, 2, ts);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		f->tables_autovacuum_off++;
		checklist_add_name(f->autovacuum_off_names,
		    sizeof(f->autovacuum_off_names),
		    (const char *) sqlite3_column_text(stmt, 0));
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
read_indexes(struct store_sqlite *store, int64_t instance_id, int64_t ts,
    struct checklist_facts *f)
{
	sqlite3_stmt *stmt = NULL;
	struct advice_indexes indexes = {0};
	int rc = sqlite3_prepare_v2(store->db, indexes_sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(stmt, 1, instance_id);
	sqlite3_bind_int64(stmt, 2, ts);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (!advice_indexes_add(&indexes, f, (const char *) sqlite3_column_text(stmt, 0),
			(const char *) sqlite3_column_text(stmt, 1),
			(const char *) sqlite3_column_text(stmt, 2),
			sqlite3_column_int(stmt, 3) != 0,
			(const char *) sqlite3_column_text(stmt, 4))) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE) {
		advice_indexes_finish(&indexes, f);
		return SQLITE_OK;
	}
	advice_indexes_free(&indexes);
	return rc;
}

int
store_sqlite_checklist_facts(struct store *base, const Pgfleet__V1__Scope *scope,
    struct checklist_fact_set *out, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, checklist_sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		goto fail;
	bind_scope(stmt, scope);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct checklist_facts *f;
		int64_t instance_id = sqlite3_column_int64(stmt, 0);

		if (!advice_grow((void **) &out->rows, out->n, &out->capacity,
			sizeof(*out->rows))) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		f = &out->rows[out->n];
		f->instance = column(&out->pool, stmt, 1);
		f->cluster = column(&out->pool, stmt, 2);
		f->receiver_status = column(&out->pool, stmt, 19);
		if (f->instance == NULL || f->cluster == NULL
		    || f->receiver_status == NULL) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		f->is_standby = sqlite3_column_int(stmt, 3) != 0;
		f->have_settings = sqlite3_column_int(stmt, 4) != 0;
		/* NULL stays NULL: "not reported" */
		if (sqlite3_column_type(stmt, 5) != SQLITE_NULL
		    && (f->shared_preload_libraries = column(&out->pool, stmt, 5))
			== NULL)
			rc = SQLITE_NOMEM;
		if (sqlite3_column_type(stmt, 6) != SQLITE_NULL
		    && (f->autovacuum = column(&out->pool, stmt, 6)) == NULL)
			rc = SQLITE_NOMEM;
		if (sqlite3_column_type(stmt, 7) != SQLITE_NULL
		    && (f->track_counts = column(&out->pool, stmt, 7)) == NULL)
			rc = SQLITE_NOMEM;
		if (rc == SQLITE_NOMEM)
			goto fail;
		f->statements_extension = sqlite3_column_int(stmt, 8) != 0;
		f->last_statement_us = sqlite3_column_int64(stmt, 9);
		f->have_tables = sqlite3_column_int(stmt, 10) != 0;
		f->tables = sqlite3_column_int64(stmt, 11);
		f->have_activity = sqlite3_column_type(stmt, 12) != SQLITE_NULL;
		f->peak_connections = sqlite3_column_int64(stmt, 12);
		f->max_connections = sqlite3_column_int64(stmt, 13);
		f->reserved_connections = sqlite3_column_int64(stmt, 14);
		f->have_indexes = sqlite3_column_int(stmt, 15) != 0;
		f->indexes = sqlite3_column_int64(stmt, 16);
		f->last_bloat_us = sqlite3_column_int64(stmt, 17);
		f->window_since_us = advice_window_since(scope);
		f->have_replication = sqlite3_column_int(stmt, 18) != 0;
		f->walsenders = sqlite3_column_int64(stmt, 20);
		f->streaming_walsenders = sqlite3_column_int64(stmt, 21);
		if ((f->have_tables
			&& (rc = read_autovacuum_off(
				store, instance_id, sqlite3_column_int64(stmt, 22), f))
			    != SQLITE_OK)
		    || (f->have_indexes
			&& (rc = read_indexes(
				store, instance_id, sqlite3_column_int64(stmt, 23), f))
			    != SQLITE_OK))
			goto fail;
		out->n++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(stmt);
	return PGF_OK;
fail:
	sqlite3_finalize(stmt);
	return read_error(store, rc, "the checklist facts", errbuf, errlen);
}
