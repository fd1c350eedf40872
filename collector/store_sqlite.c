/*
 * store_sqlite.c - the SQLite backend of the store.
 *
 * Schema (version 1):
 *   instances        one row per instance name: identity as last reported
 *   reports          one row per (agent_id, boot_id, seq): the dedupe key
 *   statement_texts  one text per (instance, queryid), cleaned to UTF-8
 *   statement_stats  one row per statement per reported interval
 * The schema version lives in PRAGMA user_version; migrations run forward
 * in one transaction when the writer opens the file, and a file from a
 * newer collector is refused rather than guessed at.
 */
#include "collector/store_sqlite.h"
#include "collector/store_sqlite_internal.h"
#include "collector/fingerprint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/render.h"
#include "common/sparkline.h"
#include "common/timeutil.h"


/* Migrations: entry i takes a store from version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE instances ("
	"  instance_id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  system_identifier TEXT NOT NULL DEFAULT '',"
	"  host TEXT NOT NULL DEFAULT '',"
	"  port INTEGER NOT NULL DEFAULT 0,"
	"  server_version_num INTEGER NOT NULL DEFAULT 0,"
	"  server_version TEXT NOT NULL DEFAULT '',"
	"  role TEXT NOT NULL DEFAULT 'unknown',"
	"  agent_id TEXT NOT NULL DEFAULT '',"
	"  agent_version TEXT NOT NULL DEFAULT '',"
	"  first_seen_us INTEGER NOT NULL,"
	"  last_seen_us INTEGER NOT NULL,"
	"  last_collected_us INTEGER NOT NULL DEFAULT 0,"
	"  unreachable_reason TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE reports ("
	"  agent_id TEXT NOT NULL,"
	"  boot_id TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  instance_id INTEGER NOT NULL REFERENCES instances,"
	"  collected_at_us INTEGER NOT NULL,"
	"  received_at_us INTEGER NOT NULL,"
	"  PRIMARY KEY (agent_id, boot_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE statement_texts ("
	"  instance_id INTEGER NOT NULL REFERENCES instances,"
	"  queryid INTEGER NOT NULL,"
	"  query TEXT NOT NULL,"
	"  truncated INTEGER NOT NULL,"
	"  fingerprint TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (instance_id, queryid)) WITHOUT ROWID;"
	"CREATE TABLE statement_stats ("
	"  instance_id INTEGER NOT NULL REFERENCES instances,"
	"  ts_us INTEGER NOT NULL,"
	"  interval_start_us INTEGER NOT NULL,"
	"  queryid INTEGER NOT NULL,"
	"  dbid INTEGER NOT NULL,"
	"  datname TEXT NOT NULL,"
	"  userid INTEGER NOT NULL,"
	"  username TEXT NOT NULL,"
	"  toplevel INTEGER NOT NULL,"
	"  calls INTEGER NOT NULL,"
	"  total_exec_time_ms REAL NOT NULL,"
	"  sum_sq_exec_time_ms2 REAL NOT NULL,"
	"  max_exec_time_ms REAL NOT NULL,"
	"  min_exec_time_ms REAL NOT NULL,"
	"  rows INTEGER NOT NULL,"
	"  shared_blks_hit INTEGER NOT NULL,"
	"  shared_blks_read INTEGER NOT NULL,"
	"  shared_blks_dirtied INTEGER NOT NULL,"
	"  shared_blks_written INTEGER NOT NULL,"
	"  local_blks_hit INTEGER NOT NULL DEFAULT 0,"
	"  local_blks_read INTEGER NOT NULL DEFAULT 0,"
	"  local_blks_dirtied INTEGER NOT NULL DEFAULT 0,"
	"  local_blks_written INTEGER NOT NULL DEFAULT 0,"
	"  temp_blks_read INTEGER NOT NULL,"
	"  temp_blks_written INTEGER NOT NULL,"
	"  blk_read_time_ms REAL NOT NULL,"
	"  blk_write_time_ms REAL NOT NULL,"
	"  wal_bytes INTEGER NOT NULL,"
	"  total_plan_time_ms REAL NOT NULL);"
	"CREATE INDEX statement_stats_by_instance_time ON statement_stats (instance_id, ts_us);"
	"CREATE INDEX statement_stats_by_time ON statement_stats (ts_us);",
	/* 2: the fleet's live state (store_sqlite_fleet.c) */
	store_sqlite_fleet_schema,
	/* 3: tables, indexes and bloat (store_sqlite_tables.c) */
	store_sqlite_tables_schema,
	/* 4: hourly and daily rollups (store_sqlite_rollup.c) */
	store_sqlite_rollup_schema,
	/* 5: the keys of the texts apart from the texts, so the per-report
	 * "which texts are missing" probe reads a narrow index instead of
	 * wide rows */
	"CREATE INDEX statement_texts_keys ON statement_texts (instance_id, queryid);",
	/* 6: statement totals, bounds for long windows (store_sqlite_rollup.c) */
	store_sqlite_totals_schema,
	/* 7: index columns, foreign keys, statistics resets and hypopg
	 * checks for index recommendations (store_sqlite_indexes.c) */
	store_sqlite_indexes_schema,
	/* per-application connection samples and pgbouncer pool samples for
	 * pool sizing (store_sqlite_pools.c) */
	store_sqlite_pools_schema,
	/* settings, extensions, freeze age and insert triggers for vacuum
	 * advice and the checklist (store_sqlite_advice.c) */
	store_sqlite_advice_schema,
	/* delivery per (agent, boot): gaps, agent counters, clock skew
	 * (store_sqlite_gaps.c) */
	store_sqlite_gaps_schema,
	/* the latest status of each family per instance
	 * (store_sqlite_families.c) */
	store_sqlite_families_schema,
	/* fleet-wide statement rollups for query-trend across the fleet
	 * (store_sqlite_rollup.c) */
	store_sqlite_fleet_rollup_schema,
	/* index-check proposals on every few tables snapshots, not each
	 * (store_sqlite_indexes.c) */
	store_sqlite_index_check_state_schema,
	/* the statements' running totals /metrics counts from, kept by
	 * triggers on the hourly level (store_sqlite_metrics.c) */
	store_sqlite_metrics_schema,
};

#define SCHEMA_VERSION ((int) (sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(SCHEMA_VERSION == STORE_SQLITE_SCHEMA_VERSION,
    "STORE_SQLITE_SCHEMA_VERSION must match the migration list");

/* Maps an SQLite result to the store's error codes. */
int
sqlite_store_error(sqlite3 *db, int rc, const char *what, char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "could not %s: %s", what,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	if ((rc & 0xFF) == SQLITE_FULL)
		return PGF_EFULL;
	return PGF_ESTORE;
}

int
sqlite_exec(sqlite3 *db, const char *sql, const char *what, char *errbuf, size_t errlen)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(db, rc, what, errbuf, errlen);
	return PGF_OK;
}

static int
read_schema_version(sqlite3 *db, int *version, char *errbuf, size_t errlen)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*version = sqlite3_column_int(stmt, 0);
		sqlite3_finalize(stmt);
		return PGF_OK;
	}
	sqlite3_finalize(stmt);
	return sqlite_store_error(db, rc, "read the schema version", errbuf, errlen);
}

static int
migrate(struct store_sqlite *store, char *errbuf, size_t errlen)
{
	int version = 0;
	int rv;

	if ((rv = sqlite_exec(store->db, "BEGIN IMMEDIATE", "begin the migration", errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if ((rv = read_schema_version(store->db, &version, errbuf, errlen)) != PGF_OK)
		goto fail;
	if (version > SCHEMA_VERSION) {
		snprintf(errbuf, errlen,
		    "store \"%s\" has schema version %d, newer than this collector's %d: use a newer pgfleet-collector",
		    store->path, version, SCHEMA_VERSION);
		rv = PGF_ESTORE;
		goto fail;
	}
	for (; version < SCHEMA_VERSION; version++) {
		char pragma[64];
		if ((rv = sqlite_exec(store->db, migrations[version], "migrate the schema",
			 errbuf, errlen)) != PGF_OK)
			goto fail;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		if ((rv = sqlite_exec(store->db, pragma, "record the schema version", errbuf,
			 errlen)) != PGF_OK)
			goto fail;
		pgf_info("store \"%s\" migrated to schema version %d", store->path, version + 1);
	}
	return sqlite_exec(store->db, "COMMIT", "commit the migration", errbuf, errlen);
fail:
	sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	return rv;
}

static const char *
role_name(Pgfleet__V1__InstanceIdentity__Role role)
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

/* Binds text made valid UTF-8 (names and texts come from other hosts). */
int
sqlite_bind_clean_text(sqlite3_stmt *stmt, int index, const uint8_t *data, size_t len)
{
	char *clean;
	size_t i = 0;

	/* plain ASCII (almost every name) is clean as it is: SQLite copies
	 * it, no allocation of ours per row */
	while (i < len && data[i] > 0 && data[i] < 0x80)
		i++;
	if (i == len && len < INT32_MAX)
		return sqlite3_bind_text(stmt, index, (const char *) data, (int) len,
		    SQLITE_TRANSIENT);
	clean = pgf_text_clean(data, len);
	if (clean == NULL)
		return SQLITE_NOMEM;
	return sqlite3_bind_text(stmt, index, clean, -1, free);
}

int
sqlite_bind_clean_string(sqlite3_stmt *stmt, int index, const char *text)
{
	return sqlite_bind_clean_text(stmt, index, (const uint8_t *) text, strlen(text));
}

/* Runs a prepared statement that returns no rows and finalizes it. */
int
sqlite_step_done(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
upsert_instance(struct store_sqlite *store, const Pgfleet__V1__Report *report,
    int64_t received_at_us, int64_t *instance_id)
{
	const Pgfleet__V1__InstanceIdentity *id = report->instance;
	bool unreachable = report->unreachable_reason[0] != '\0';
	sqlite3_stmt *stmt = NULL;
	int rc;

	/* The identity comes from the newest report by collection time: a
	 * backlog replayed after an outage must not roll a failover back. An
	 * unreachable report keeps the identity last seen and only moves the
	 * reason and the times. */
	rc = sqlite_prepare_cached(store,
	    "INSERT INTO instances (name, system_identifier, host, port,"
	    " server_version_num, server_version, role, agent_id, agent_version,"
	    " first_seen_us, last_seen_us, last_collected_us, unreachable_reason)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?13, ?11)"
	    " ON CONFLICT (name) DO UPDATE SET"
	    " system_identifier = CASE WHEN ?12 OR ?13 < last_collected_us THEN system_identifier ELSE excluded.system_identifier END,"
	    " host = CASE WHEN ?12 OR ?13 < last_collected_us THEN host ELSE excluded.host END,"
	    " port = CASE WHEN ?12 OR ?13 < last_collected_us THEN port ELSE excluded.port END,"
	    " server_version_num = CASE WHEN ?12 OR ?13 < last_collected_us THEN server_version_num ELSE excluded.server_version_num END,"
	    " server_version = CASE WHEN ?12 OR ?13 < last_collected_us THEN server_version ELSE excluded.server_version END,"
	    " role = CASE WHEN ?12 OR ?13 < last_collected_us THEN role ELSE excluded.role END,"
	    " agent_id = CASE WHEN ?13 < last_collected_us THEN agent_id ELSE excluded.agent_id END,"
	    " agent_version = CASE WHEN ?13 < last_collected_us THEN agent_version ELSE excluded.agent_version END,"
	    " unreachable_reason = CASE WHEN ?13 < last_collected_us THEN unreachable_reason ELSE excluded.unreachable_reason END,"
	    " last_seen_us = max(last_seen_us, excluded.last_seen_us),"
	    " last_collected_us = max(last_collected_us, excluded.last_collected_us)"
	    " RETURNING instance_id",
	    &stmt);
	if (rc != SQLITE_OK)
		return rc;
	if ((rc = sqlite_bind_clean_string(stmt, 1, id->name)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 2, id->system_identifier)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 3, id->host)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 4, id->port)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 5, id->server_version_num)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 6, id->server_version)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 7, role_name(id->role), -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 8, report->agent_id)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 9, report->agent_version)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 10, received_at_us)) != SQLITE_OK ||
	    (rc = sqlite_bind_clean_string(stmt, 11, report->unreachable_reason)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(stmt, 12, unreachable)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 13, report->collected_at_us)) != SQLITE_OK)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*instance_id = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
done:
	sqlite3_reset(stmt);
	return rc;
}

static int
insert_statements(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family)
{
	sqlite3_stmt *stats = NULL;
	sqlite3_stmt *text = NULL;
	int rc;

	rc = sqlite_prepare_cached(store,
	    "INSERT INTO statement_stats (instance_id, ts_us, interval_start_us, queryid,"
	    " dbid, datname, userid, username, toplevel, calls, total_exec_time_ms,"
	    " sum_sq_exec_time_ms2, max_exec_time_ms, min_exec_time_ms, rows,"
	    " shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written,"
	    " temp_blks_read, temp_blks_written, blk_read_time_ms, blk_write_time_ms,"
	    " wal_bytes, total_plan_time_ms, local_blks_hit, local_blks_read,"
	    " local_blks_dirtied, local_blks_written)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
	    " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
	    &stats);
	if (rc != SQLITE_OK)
		goto done;
	rc = sqlite_prepare_cached(store,
	    "INSERT INTO statement_texts (instance_id, queryid, query, truncated, fingerprint)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (instance_id, queryid) DO UPDATE SET"
	    " query = excluded.query, truncated = excluded.truncated,"
	    " fingerprint = excluded.fingerprint",
	    &text);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_statements; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		sqlite3_reset(stats);
		sqlite3_clear_bindings(stats);
		sqlite3_bind_int64(stats, 1, instance_id);
		sqlite3_bind_int64(stats, 2, family->interval_end_us);
		sqlite3_bind_int64(stats, 3, family->interval_start_us);
		sqlite3_bind_int64(stats, 4, d->queryid);
		sqlite3_bind_int64(stats, 5, d->dbid);
		if ((rc = sqlite_bind_clean_string(stats, 6, d->datname)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stats, 7, d->userid);
		if ((rc = sqlite_bind_clean_string(stats, 8, d->username)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int(stats, 9, d->toplevel);
		sqlite3_bind_int64(stats, 10, d->calls);
		sqlite3_bind_double(stats, 11, d->total_exec_time_ms);
		sqlite3_bind_double(stats, 12, d->sum_sq_exec_time_ms2);
		sqlite3_bind_double(stats, 13, d->max_exec_time_ms);
		sqlite3_bind_double(stats, 14, d->min_exec_time_ms);
		sqlite3_bind_int64(stats, 15, d->rows);
		sqlite3_bind_int64(stats, 16, d->shared_blks_hit);
		sqlite3_bind_int64(stats, 17, d->shared_blks_read);
		sqlite3_bind_int64(stats, 18, d->shared_blks_dirtied);
		sqlite3_bind_int64(stats, 19, d->shared_blks_written);
		sqlite3_bind_int64(stats, 20, d->temp_blks_read);
		sqlite3_bind_int64(stats, 21, d->temp_blks_written);
		sqlite3_bind_double(stats, 22, d->blk_read_time_ms);
		sqlite3_bind_double(stats, 23, d->blk_write_time_ms);
		sqlite3_bind_int64(stats, 24, d->wal_bytes);
		sqlite3_bind_double(stats, 25, d->total_plan_time_ms);
		sqlite3_bind_int64(stats, 26, d->local_blks_hit);
		sqlite3_bind_int64(stats, 27, d->local_blks_read);
		sqlite3_bind_int64(stats, 28, d->local_blks_dirtied);
		sqlite3_bind_int64(stats, 29, d->local_blks_written);
		if ((rc = sqlite_step_done(stats)) != SQLITE_OK)
			goto done;
		if (d->query.len == 0)
			continue;
		sqlite3_reset(text);
		sqlite3_clear_bindings(text);
		sqlite3_bind_int64(text, 1, instance_id);
		sqlite3_bind_int64(text, 2, d->queryid);
		{
			/* the text as stored (valid UTF-8) is what is fingerprinted */
			char fingerprint[FINGERPRINT_SIZE];
			char *clean = pgf_text_clean(d->query.data, d->query.len);
			if (clean == NULL) {
				rc = SQLITE_NOMEM;
				goto done;
			}
			statement_fingerprint(clean, d->query_truncated, d->queryid, fingerprint);
			if ((rc = sqlite3_bind_text(text, 3, clean, -1, free)) != SQLITE_OK)
				goto done;
			sqlite3_bind_text(text, 5, fingerprint, -1, SQLITE_TRANSIENT);
		}
		sqlite3_bind_int(text, 4, d->query_truncated);
		if ((rc = sqlite_step_done(text)) != SQLITE_OK)
			goto done;
	}
	rc = store_sqlite_rollup_late(store, instance_id, family);
done:
	if (stats != NULL)
		sqlite3_reset(stats);
	if (text != NULL)
		sqlite3_reset(text);
	return rc;
}

static int
sqlite_write_report(struct store *base, const Pgfleet__V1__Report *report,
    int64_t received_at_us, bool *duplicate, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	sqlite3_stmt *stmt = NULL;
	int64_t instance_id = 0;
	int rc;

	*duplicate = false;
	/* alone: its own durable transaction; in a batch: a savepoint, so a
	 * failing report is undone without undoing the others */
	rc = sqlite3_exec(store->db, store->in_batch ? "SAVEPOINT report" : "BEGIN IMMEDIATE",
	    NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "begin a transaction", errbuf, errlen);
	if ((rc = upsert_instance(store, report, received_at_us, &instance_id)) != SQLITE_OK)
		goto fail;
	rc = sqlite_prepare_cached(store,
	    "INSERT INTO reports (agent_id, boot_id, seq, instance_id, collected_at_us,"
	    " received_at_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	    " ON CONFLICT DO NOTHING",
	    &stmt);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(stmt, 1, report->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, report->boot_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64) report->seq);
	sqlite3_bind_int64(stmt, 4, instance_id);
	sqlite3_bind_int64(stmt, 5, report->collected_at_us);
	sqlite3_bind_int64(stmt, 6, received_at_us);
	if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
		goto fail;
	sqlite3_reset(stmt);
	stmt = NULL;
	if (sqlite3_changes(store->db) == 0) {
		/* stored before: only the instance's last-seen time moves */
		*duplicate = true;
	} else {
		if (report->statements != NULL &&
		    report->statements->status == PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK &&
		    (rc = insert_statements(store, instance_id, report->statements)) != SQLITE_OK)
			goto fail;
		if ((rc = store_sqlite_fleet_write(store, instance_id, report)) != SQLITE_OK ||
		    (rc = store_sqlite_tables_write(store, instance_id, report)) != SQLITE_OK ||
		    (rc = store_sqlite_indexes_write(store, instance_id, report)) != SQLITE_OK ||
		    (rc = store_sqlite_pools_write(store, instance_id, report)) != SQLITE_OK ||
		    (rc = store_sqlite_advice_write(store, instance_id, report)) != SQLITE_OK ||
		    (rc = store_sqlite_gaps_write(store, instance_id, report, received_at_us)) !=
			SQLITE_OK ||
		    (rc = store_sqlite_families_write(store, instance_id, report)) != SQLITE_OK)
			goto fail;
	}
	rc = sqlite3_exec(store->db, store->in_batch ? "RELEASE report" : "COMMIT", NULL, NULL,
	    NULL);
	if (rc != SQLITE_OK)
		goto fail;
	return PGF_OK;
fail:
	if (stmt != NULL)
		sqlite3_reset(stmt);
	{
		int rv = sqlite_store_error(store->db, rc, "store the report", errbuf, errlen);
		if (store->in_batch)
			sqlite3_exec(store->db, "ROLLBACK TO report; RELEASE report", NULL, NULL,
			    NULL);
		else
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		return rv;
	}
}

static int
sqlite_batch_begin(struct store *base, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	int rv = sqlite_exec(store->db, "BEGIN IMMEDIATE", "begin a batch", errbuf, errlen);

	store->in_batch = rv == PGF_OK;
	return rv;
}

static int
sqlite_batch_end(struct store *base, bool commit, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	int rv;

	if (!store->in_batch)
		return PGF_OK;
	store->in_batch = false;
	/* some errors (a full disk among them) make SQLite roll the whole
	 * transaction back by itself: then there is nothing to commit, and
	 * the batch's reports were not stored */
	if (sqlite3_get_autocommit(store->db)) {
		snprintf(errbuf, errlen, "could not store the batch: it was rolled back");
		return PGF_ESTORE;
	}
	if (commit) {
		rv = sqlite_exec(store->db, "COMMIT", "commit a batch", errbuf, errlen);
		if (rv == PGF_OK)
			return PGF_OK;
	} else {
		rv = PGF_OK;
	}
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	return rv;
}

static int
sqlite_missing_texts(struct store *base, const Pgfleet__V1__Report *report,
    int64_t **missing, size_t *count, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	const Pgfleet__V1__StatementsFamily *family = report->statements;
	sqlite3_stmt *stmt = NULL;
	char *ids = NULL;
	size_t used = 0;
	size_t wanted = 0;
	int rc = SQLITE_NOMEM;

	*missing = NULL;
	*count = 0;
	if (family == NULL || family->n_statements == 0)
		return PGF_OK;
	/* one query per report: the textless queryids go in as a JSON array
	 * (21 characters and a comma each) */
	ids = malloc(family->n_statements * 22 + 3);
	if (ids == NULL)
		goto fail;
	ids[used++] = '[';
	for (size_t i = 0; i < family->n_statements; i++) {
		if (family->statements[i]->query.len > 0)
			continue;
		used += (size_t) sprintf(ids + used, "%s%lld", wanted++ > 0 ? "," : "",
		    (long long) family->statements[i]->queryid);
	}
	ids[used++] = ']';
	ids[used] = '\0';
	if (wanted == 0) {
		free(ids);
		return PGF_OK;
	}
	rc = sqlite_prepare_cached(store,
	    "SELECT j.value FROM json_each(?2) j WHERE NOT EXISTS ("
	    " SELECT 1 FROM statement_texts t INDEXED BY statement_texts_keys"
	    " WHERE t.instance_id = (SELECT instance_id FROM instances WHERE name = ?1)"
	    "  AND t.queryid = j.value)"
	    " GROUP BY j.value",
	    &stmt);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(stmt, 1, report->instance->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, ids, (int) used, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t *grown = realloc(*missing, (*count + 1) * sizeof(grown[0]));
		if (grown == NULL) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		*missing = grown;
		(*missing)[(*count)++] = sqlite3_column_int64(stmt, 0);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_reset(stmt);
	free(ids);
	return PGF_OK;
fail:
	{
		int rv = sqlite_store_error(store->db, rc, "look up query texts", errbuf, errlen);
		if (stmt != NULL)
			sqlite3_reset(stmt);
		free(ids);
		free(*missing);
		*missing = NULL;
		*count = 0;
		return rv;
	}
}

char *
sqlite_column_text(sqlite3_stmt *stmt, int column)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	return strdup(text != NULL ? (const char *) text : "");
}

/* Bucket widths a trend may use: the smallest that gives at most 30
 * buckets over the window. */
static int64_t
trend_bucket_ms(int64_t window_ms)
{
	static const int64_t widths[] = {60000, 300000, 900000, 3600000, 10800000,
	    21600000, 43200000, 86400000, 604800000};
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		if (window_ms / widths[i] <= 30)
			return widths[i];
	}
	return widths[sizeof(widths) / sizeof(widths[0]) - 1];
}

static int
sqlite_query_trend(struct store *base, const Pgfleet__V1__QueryTrendRequest *request,
    Pgfleet__V1__QueryTrend *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	const Pgfleet__V1__Scope *scope = request->scope;
	int64_t until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : pgf_time_now_us();
	int64_t since_us = scope != NULL && scope->since_us != 0 ? scope->since_us
								  : until_us - 86400LL * 1000000;
	int64_t bucket_us;
	size_t count;
	double *means = NULL;
	double *calls = NULL;
	bool *present = NULL;
	sqlite3_stmt *stmt = NULL;
	char width[32];
	char sql[4096];
	int rv = PGF_ENOMEM;
	int rc;

	bucket_us = (request->bucket_ms > 0 ? request->bucket_ms
					     : trend_bucket_ms((until_us - since_us) / 1000)) * 1000;
	/* buckets start on whole multiples of their width (UTC) */
	since_us -= since_us % bucket_us;
	count = (size_t) ((until_us - since_us + bucket_us - 1) / bucket_us);
	if (count == 0 || count > 10000) {
		snprintf(errbuf, errlen, "the window holds %zu buckets: choose between 1 and 10000",
		    count);
		return PGF_EINVAL;
	}
	answer->rows = calloc(count, sizeof(answer->rows[0]));
	means = calloc(count, sizeof(means[0]));
	calls = calloc(count, sizeof(calls[0]));
	present = calloc(count, sizeof(present[0]));
	if (answer->rows == NULL || means == NULL || calls == NULL || present == NULL)
		goto done;
	for (size_t i = 0; i < count; i++) {
		Pgfleet__V1__QueryTrendPoint *point = malloc(sizeof(*point));
		char stamp[32];
		time_t seconds;
		struct tm tm;
		if (point == NULL)
			goto done;
		pgfleet__v1__query_trend_point__init(point);
		answer->rows[answer->n_rows++] = point;
		point->bucket_start_us = since_us + (int64_t) i * bucket_us;
		seconds = (time_t) (point->bucket_start_us / 1000000);
		gmtime_r(&seconds, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		point->bucket = strdup(stamp);
		if (point->bucket == NULL)
			goto done;
	}
	if (scope == NULL || (scope->instance[0] == '\0' && scope->cluster[0] == '\0'))
		/* the whole fleet: its own rollups, a row per bucket, not one
		 * per instance per bucket (?5 and ?6 unused) */
		snprintf(sql, sizeof(sql),
		    "SELECT (s.ts_us - ?1) / ?2, sum(s.calls), sum(s.total_exec_time_ms),"
		    " sum(s.rows) FROM %s s"
		    " WHERE s.queryid = ?3 AND s.ts_us >= ?1 AND s.ts_us < ?4"
		    "  AND (?7 = '' OR s.datname = ?7)"
		    " GROUP BY 1 ORDER BY 1",
		    store_sqlite_fleet_statement_source);
	else
		snprintf(sql, sizeof(sql),
		    "SELECT (s.ts_us - ?1) / ?2, sum(s.calls), sum(s.total_exec_time_ms),"
		    " sum(s.rows) FROM %s s JOIN instances i USING (instance_id)"
		    " WHERE s.queryid = ?3 AND s.ts_us >= ?1 AND s.ts_us < ?4"
		    "  AND (?5 = '' OR i.name = ?5) AND (?6 = '' OR i.system_identifier = ?6)"
		    "  AND (?7 = '' OR s.datname = ?7)"
		    " GROUP BY 1 ORDER BY 1",
		    store_sqlite_statement_source);
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rv = sqlite_store_error(store->db, rc, "read the trend", errbuf, errlen);
		goto done;
	}
	sqlite3_bind_int64(stmt, 1, since_us);
	sqlite3_bind_int64(stmt, 2, bucket_us);
	sqlite3_bind_int64(stmt, 3, request->queryid);
	sqlite3_bind_int64(stmt, 4, until_us);
	sqlite3_bind_text(stmt, 5, scope != NULL ? scope->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, scope != NULL ? scope->cluster : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, scope != NULL ? scope->database : "", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t bucket = sqlite3_column_int64(stmt, 0);
		Pgfleet__V1__QueryTrendPoint *point;
		if (bucket < 0 || (size_t) bucket >= count)
			continue;
		point = answer->rows[bucket];
		point->calls = sqlite3_column_int64(stmt, 1);
		point->total_seconds = sqlite3_column_double(stmt, 2) / 1000.0;
		point->rows = sqlite3_column_int64(stmt, 3);
		point->mean_seconds = point->calls > 0 ? point->total_seconds / (double) point->calls : 0.0;
		present[bucket] = point->calls > 0;
		means[bucket] = point->mean_seconds;
		calls[bucket] = (double) point->calls;
	}
	if (rc != SQLITE_DONE) {
		rv = sqlite_store_error(store->db, rc, "read the trend", errbuf, errlen);
		goto done;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	/* the text, from any instance that sent it */
	rc = sqlite3_prepare_v2(store->db,
	    "SELECT query FROM statement_texts WHERE queryid = ?1 LIMIT 1", -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(stmt, 1, request->queryid);
		if (sqlite3_step(stmt) == SQLITE_ROW)
			answer->query = sqlite_column_text(stmt, 0);
	}
	{
		/* 3 bytes of UTF-8 per bucket */
		size_t size = count * 3 + 1;
		answer->mean_sparkline = malloc(size);
		answer->calls_sparkline = malloc(size);
		if (answer->mean_sparkline == NULL || answer->calls_sparkline == NULL)
			goto done;
		pgf_sparkline(means, present, count, answer->mean_sparkline, size);
		pgf_sparkline(calls, present, count, answer->calls_sparkline, size);
	}
	answer->bucket_width = strdup(pgf_duration_format(bucket_us / 1000, width, sizeof(width)));
	if (answer->bucket_width == NULL)
		goto done;
	rv = PGF_OK;
done:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	sqlite3_finalize(stmt);
	free(means);
	free(calls);
	free(present);
	return rv;
}

int
store_sqlite_buckets_init(struct store_sqlite_buckets *buckets,
    const Pgfleet__V1__Scope *scope, int64_t bucket_ms, char *errbuf, size_t errlen)
{
	int64_t until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : pgf_time_now_us();
	int64_t since_us = scope != NULL && scope->since_us != 0 ? scope->since_us
								  : until_us - 86400LL * 1000000;
	int64_t width_us;
	int64_t count;

	if (until_us <= since_us) {
		snprintf(errbuf, errlen, "the window ends before it starts");
		return PGF_EINVAL;
	}
	width_us = (bucket_ms > 0 ? bucket_ms : trend_bucket_ms((until_us - since_us) / 1000)) *
	    1000;
	/* buckets start on whole multiples of their width (UTC); floor, also
	 * before the epoch */
	since_us -= ((since_us % width_us) + width_us) % width_us;
	count = (until_us - since_us + width_us - 1) / width_us;
	if (count <= 0 || count > 10000) {
		snprintf(errbuf, errlen, "the window holds %lld buckets: choose between 1 and 10000",
		    (long long) count);
		return PGF_EINVAL;
	}
	buckets->since_us = since_us;
	buckets->until_us = until_us;
	buckets->width_us = width_us;
	buckets->count = (size_t) count;
	return PGF_OK;
}

char *
store_sqlite_bucket_text(int64_t start_us)
{
	time_t seconds = (time_t) (start_us / 1000000);
	char stamp[32];
	struct tm tm;

	if (gmtime_r(&seconds, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return strdup("");
	return strdup(stamp);
}

char *
store_sqlite_bucket_width(const struct store_sqlite_buckets *buckets)
{
	char width[32];
	return strdup(pgf_duration_format(buckets->width_us / 1000, width, sizeof(width)));
}

char *
store_sqlite_sparkline(const double *values, const bool *present, size_t count)
{
	/* 3 bytes of UTF-8 per bucket */
	size_t size = count * 3 + 1;
	char *line = malloc(size);

	if (line != NULL)
		pgf_sparkline(values, present, count, line, size);
	return line;
}

int
sqlite_prepare_cached(struct store_sqlite *store, const char *sql, sqlite3_stmt **out)
{
	size_t i;
	int rc;

	*out = NULL;
	for (i = 0; i < STORE_SQLITE_CACHED && store->cached[i].sql != NULL; i++) {
		if (store->cached[i].sql == sql) {
			sqlite3_reset(store->cached[i].stmt);
			sqlite3_clear_bindings(store->cached[i].stmt);
			*out = store->cached[i].stmt;
			return SQLITE_OK;
		}
	}
	if (i == STORE_SQLITE_CACHED)
		return SQLITE_NOMEM; /* more cached statements than slots: raise it */
	rc = sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK)
		return rc;
	store->cached[i].sql = sql;
	store->cached[i].stmt = *out;
	return SQLITE_OK;
}

static void
sqlite_close(struct store *base)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	for (size_t i = 0; i < STORE_SQLITE_CACHED; i++)
		sqlite3_finalize(store->cached[i].stmt);
	sqlite3_close(store->db);
	free(store->path);
	free(store);
}

static const struct store_ops sqlite_ops = {
	.write_report = sqlite_write_report,
	.slow_queries = store_sqlite_slow_queries,
	.missing_texts = sqlite_missing_texts,
	.fleet = store_sqlite_fleet,
	.activity = store_sqlite_activity,
	.replication = store_sqlite_replication,
	.table_stats = store_sqlite_table_stats,
	.index_usage = store_sqlite_index_usage,
	.bloat_stats = store_sqlite_bloat_stats,
	.query_trend = sqlite_query_trend,
	.batch_begin = sqlite_batch_begin,
	.batch_end = sqlite_batch_end,
	.maintain = store_sqlite_maintain,
	.table_trend = store_sqlite_table_trend,
	.replication_trend = store_sqlite_replication_trend,
	.index_recommendations = store_sqlite_index_recommendations,
	.index_checks = store_sqlite_index_checks,
	.metrics = store_sqlite_metrics,
	.pool_stats = store_sqlite_pool_stats,
	.pool_recommendation = store_sqlite_pool_recommendation,
	.query_regressions = store_sqlite_query_regressions,
	.vacuum_facts = store_sqlite_vacuum_facts,
	.replication_facts = store_sqlite_replication_facts,
	.checklist_facts = store_sqlite_checklist_facts,
	.statement_text = store_sqlite_statement_text,
	.close = sqlite_close,
};

/* test only: see store_sqlite_set_max_pages */
static long long max_pages_cap;

void
store_sqlite_set_max_pages(long long pages)
{
	max_pages_cap = pages;
}

int
store_sqlite_open(const char *path, bool read_only, struct store **out, char *errbuf,
    size_t errlen)
{
	struct store_sqlite *store;
	int flags = read_only ? SQLITE_OPEN_READONLY
			      : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int version = 0;
	int rc;
	int rv;

	*out = NULL;
	store = calloc(1, sizeof(*store));
	if (store == NULL)
		return PGF_ENOMEM;
	store->base.ops = &sqlite_ops;
	store->read_only = read_only;
	store->path = strdup(path);
	if (store->path == NULL) {
		free(store);
		return PGF_ENOMEM;
	}
	rc = sqlite3_open_v2(path, &store->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(errbuf, errlen, "could not open store \"%s\": %s", path,
		    store->db != NULL ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc));
		rv = PGF_ESTORE;
		goto fail;
	}
	sqlite3_busy_timeout(store->db, 5000);
	sqlite3_extended_result_codes(store->db, 1);
	/* a page cache that holds the hot ends of the history indexes: with
	 * SQLite's 2 MB default, every batch re-reads them from the OS */
	sqlite3_exec(store->db, "PRAGMA cache_size = -32768", NULL, NULL, NULL);
	if (!read_only) {
		/* WAL so readers never block the writer; FULL so an
		 * acknowledged report survives a power cut */
		if ((rv = sqlite_exec(store->db,
			 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
			 " PRAGMA foreign_keys = ON;"
			 /* a WAL that grew while a long reader held it back is
			  * cut back to this after the next full checkpoint */
			 " PRAGMA journal_size_limit = 16777216;",
			 "set up the store", errbuf, errlen)) != PGF_OK)
			goto fail_named;
		if ((rv = migrate(store, errbuf, errlen)) != PGF_OK)
			goto fail;
		if (max_pages_cap > 0) {
			char pragma[64];
			snprintf(pragma, sizeof(pragma), "PRAGMA max_page_count = %lld",
			    max_pages_cap);
			if ((rv = sqlite_exec(store->db, pragma, "cap the store", errbuf, errlen)) !=
			    PGF_OK)
				goto fail_named;
		}
	} else {
		if ((rv = read_schema_version(store->db, &version, errbuf, errlen)) != PGF_OK)
			goto fail_named;
		if (version != SCHEMA_VERSION) {
			snprintf(errbuf, errlen,
			    "store \"%s\" has schema version %d, this collector reads %d", path,
			    version, SCHEMA_VERSION);
			rv = PGF_ESTORE;
			goto fail;
		}
	}
	*out = &store->base;
	return PGF_OK;
fail_named:
	{
		/* say which file: SQLite's message alone does not */
		char reason[512];
		snprintf(reason, sizeof(reason), "%s", errbuf);
		snprintf(errbuf, errlen, "store \"%s\": %s", path, reason);
	}
fail:
	sqlite3_close(store->db);
	free(store->path);
	free(store);
	return rv;
}
