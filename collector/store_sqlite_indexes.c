/*
 * store_sqlite_indexes.c - index recommendations in the SQLite store: the
 * facts the analysis needs, kept from reports, and read back for a
 * question; the answer is built from them by index_answer.c (shared with
 * the PostgreSQL store, store_pg_indexes.c), which runs the pure analysis
 * (index_advice.c, analysis_indexes.c).
 *
 * Schema (migration step 7):
 *   index_columns          the latest key columns of each index (the
 *                          indexes family sends them every time; the
 *                          history in index_stats does not repeat them)
 *   foreign_keys           each instance's latest foreign keys
 *   database_stats_resets  every pg_stat_database.stats_reset an instance
 *                          reported, so a window that contains a reset is
 *                          known to have no usable scan count
 *   index_checks           hypopg's verdict on a proposed index for one
 *                          statement on one instance (cost before and
 *                          after), from the agents' index_checks families
 *
 * Windows: a counter over a window is its last snapshot in the window
 * minus its first. A counter that went down (a reset inside the window)
 * counts from the reset: for tables that is the last value (a lower bound);
 * for an index's scans it is "unknown", so the index is never called
 * unused on that evidence.
 */
#include "collector/store_sqlite_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/index_answer.h"
#include "common/timeutil.h"

const char store_sqlite_indexes_schema[] =
    "CREATE TABLE index_columns ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  datname TEXT NOT NULL,"
    "  schemaname TEXT NOT NULL,"
    "  indexrelname TEXT NOT NULL,"
    "  columns TEXT NOT NULL,"
    "  PRIMARY KEY (instance_id, datname, schemaname, indexrelname)) WITHOUT ROWID;"
    "CREATE TABLE foreign_keys ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  datname TEXT NOT NULL,"
    "  schemaname TEXT NOT NULL,"
    "  relname TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  columns TEXT NOT NULL,"
    "  referenced_table TEXT NOT NULL,"
    "  PRIMARY KEY (instance_id, datname, schemaname, relname, name)) WITHOUT ROWID;"
    "CREATE TABLE database_stats_resets ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  datname TEXT NOT NULL,"
    "  stats_reset_us INTEGER NOT NULL,"
    "  PRIMARY KEY (instance_id, datname, stats_reset_us)) WITHOUT ROWID;"
    "CREATE TABLE index_checks ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  datname TEXT NOT NULL,"
    "  queryid INTEGER NOT NULL,"
    "  index_statement TEXT NOT NULL,"
    "  checked_us INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  cost_before REAL NOT NULL,"
    "  cost_after REAL NOT NULL,"
    "  index_used INTEGER NOT NULL,"
    "  detail TEXT NOT NULL,"
    "  estimated_bytes INTEGER NOT NULL,"
    "  PRIMARY KEY (instance_id, datname, queryid, index_statement)) WITHOUT ROWID;";

/* Migration: how many tables snapshots each instance has sent since
 * proposals were last worked out for it (INDEX_ANSWER_CHECK_EVERY). */
const char store_sqlite_index_check_state_schema[] =
    "CREATE TABLE index_check_state ("
    "  instance_id INTEGER PRIMARY KEY REFERENCES instances,"
    "  snapshots INTEGER NOT NULL);";

/* ---- writing ---- */

static int
write_indexes(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__IndexesFamily *family)
{
	sqlite3_stmt *columns = NULL, *fk = NULL;
	char *text = NULL;
	int rc;

	rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO index_columns (instance_id, datname, schemaname, indexrelname, columns)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET columns = excluded.columns"
	    " WHERE columns <> excluded.columns",
	    -1, &columns, NULL);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_indexes; i++) {
		const Pgfleet__V1__IndexStat *x = family->indexes[i];
		sqlite3_reset(columns);
		sqlite3_clear_bindings(columns);
		sqlite3_bind_int64(columns, 1, instance_id);
		if ((text = index_answer_join_columns(x->columns, x->n_columns)) == NULL) {
			rc = SQLITE_NOMEM;
			goto done;
		}
		if ((rc = sqlite_bind_clean_string(columns, 2, x->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(columns, 3, x->schema)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(columns, 4, x->index)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(columns, 5, text)) != SQLITE_OK ||
		    (rc = sqlite_step_done(columns)) != SQLITE_OK)
			goto done;
		free(text);
		text = NULL;
	}
	/* foreign keys: the family holds all of them, so it replaces them */
	rc = sqlite3_prepare_v2(store->db, "DELETE FROM foreign_keys WHERE instance_id = ?1", -1,
	    &fk, NULL);
	if (rc != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(fk, 1, instance_id);
	if ((rc = sqlite_step_done(fk)) != SQLITE_OK)
		goto done;
	sqlite3_finalize(fk);
	fk = NULL;
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT OR REPLACE INTO foreign_keys (instance_id, datname, schemaname, relname,"
	    " name, columns, referenced_table) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	    -1, &fk, NULL);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_foreign_keys; i++) {
		const Pgfleet__V1__ForeignKey *k = family->foreign_keys[i];
		sqlite3_reset(fk);
		sqlite3_clear_bindings(fk);
		sqlite3_bind_int64(fk, 1, instance_id);
		if ((text = index_answer_join_columns(k->columns, k->n_columns)) == NULL) {
			rc = SQLITE_NOMEM;
			goto done;
		}
		if ((rc = sqlite_bind_clean_string(fk, 2, k->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(fk, 3, k->schema)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(fk, 4, k->table)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(fk, 5, k->name)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(fk, 6, text)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(fk, 7, k->referenced_table)) != SQLITE_OK ||
		    (rc = sqlite_step_done(fk)) != SQLITE_OK)
			goto done;
		free(text);
		text = NULL;
	}
	rc = SQLITE_OK;
done:
	free(text);
	sqlite3_finalize(columns);
	sqlite3_finalize(fk);
	return rc;
}

static int
write_resets(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__TablesFamily *family)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db,
	    "INSERT OR IGNORE INTO database_stats_resets (instance_id, datname, stats_reset_us)"
	    " VALUES (?1, ?2, ?3)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < family->n_databases; i++) {
		const Pgfleet__V1__DatabaseStatsReset *d = family->databases[i];
		if (d->stats_reset_us <= 0)
			continue;
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 3, d->stats_reset_us);
		if ((rc = sqlite_bind_clean_string(stmt, 2, d->database)) != SQLITE_OK ||
		    (rc = sqlite_step_done(stmt)) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
write_checks(struct store_sqlite *store, int64_t instance_id, int64_t ts_us,
    const Pgfleet__V1__IndexChecksFamily *family)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db,
	    "INSERT OR REPLACE INTO index_checks (instance_id, datname, queryid, index_statement,"
	    " checked_us, status, cost_before, cost_after, index_used, detail, estimated_bytes)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < family->n_results; i++) {
		const Pgfleet__V1__IndexCheckResult *r = family->results[i];
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 3, r->queryid);
		sqlite3_bind_int64(stmt, 5, ts_us);
		sqlite3_bind_int(stmt, 6, (int) r->status);
		sqlite3_bind_double(stmt, 7, isfinite(r->cost_before) ? r->cost_before : 0.0);
		sqlite3_bind_double(stmt, 8, isfinite(r->cost_after) ? r->cost_after : 0.0);
		sqlite3_bind_int(stmt, 9, r->index_used);
		sqlite3_bind_int64(stmt, 11, r->estimated_index_bytes);
		if ((rc = sqlite_bind_clean_string(stmt, 2, r->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, r->index_statement)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 10, r->detail)) != SQLITE_OK ||
		    (rc = sqlite_step_done(stmt)) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
store_sqlite_indexes_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report)
{
	int rc = SQLITE_OK;
	if (report->indexes != NULL &&
	    (rc = write_indexes(store, instance_id, report->indexes)) != SQLITE_OK)
		return rc;
	if (report->tables != NULL &&
	    (rc = write_resets(store, instance_id, report->tables)) != SQLITE_OK)
		return rc;
	if (report->index_checks != NULL &&
	    (rc = write_checks(store, instance_id, report->collected_at_us, report->index_checks)) !=
		SQLITE_OK)
		return rc;
	return SQLITE_OK;
}


/* ---- reading the facts ---- */

static void
bind_filter(sqlite3_stmt *stmt, const struct index_filter *f)
{
	sqlite3_bind_text(stmt, 1, f->instance, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, f->cluster, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, f->database, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, f->since_us);
	sqlite3_bind_int64(stmt, 5, f->until_us);
}

/* A text column, "" for NULL (borrowed until the next step). */
static const char *
text_column(sqlite3_stmt *stmt, int column)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	return text != NULL ? (const char *) text : "";
}

/* index_facts_add_* failed: out of memory, or too many rows */
static int
facts_full(int rv)
{
	return rv == PGF_OK ? SQLITE_OK : SQLITE_NOMEM;
}

/* Instances in the filter: by name and cluster. */
#define INSTANCE_FILTER "(?1 = '' OR i.name = ?1) AND (?2 = '' OR i.system_identifier = ?2)"

static int
load_tables(sqlite3 *db, struct index_facts *facts, const struct index_filter *filter)
{
	/* Each instance's first and last tables snapshot in the window (a
	 * snapshot holds every table at one ts_us): two index probes, then
	 * only those two snapshots are read, not every one in between. A
	 * table that appeared inside the window waits until it is in the
	 * window's first snapshot. */
	static const char sql[] =
	    "WITH span AS MATERIALIZED (SELECT i.instance_id,"
	    "  (SELECT min(t.ts_us) FROM table_stats t WHERE t.instance_id = i.instance_id"
	    "   AND t.ts_us >= ?4 AND t.ts_us <= ?5) AS first_us,"
	    "  (SELECT max(t.ts_us) FROM table_stats t WHERE t.instance_id = i.instance_id"
	    "   AND t.ts_us >= ?4 AND t.ts_us <= ?5) AS last_us"
	    "  FROM instances i WHERE " INSTANCE_FILTER "),"
	    " f AS MATERIALIZED (SELECT t.* FROM span s CROSS JOIN table_stats t"
	    "  ON t.instance_id = s.instance_id AND t.ts_us = s.first_us"
	    "  WHERE s.last_us > s.first_us AND (?3 = '' OR t.datname = ?3)),"
	    " l AS MATERIALIZED (SELECT t.* FROM span s CROSS JOIN table_stats t"
	    "  ON t.instance_id = s.instance_id AND t.ts_us = s.last_us"
	    "  WHERE s.last_us > s.first_us AND (?3 = '' OR t.datname = ?3))"
	    " SELECT i.name, i.system_identifier, l.datname, l.schemaname, l.relname,"
	    "  CASE WHEN l.seq_scan >= f.seq_scan THEN l.seq_scan - f.seq_scan ELSE l.seq_scan END,"
	    "  CASE WHEN l.seq_tup_read >= f.seq_tup_read THEN l.seq_tup_read - f.seq_tup_read"
	    "   ELSE l.seq_tup_read END,"
	    "  CASE WHEN l.idx_scan >= f.idx_scan THEN l.idx_scan - f.idx_scan ELSE l.idx_scan END,"
	    "  l.table_bytes, l.n_live_tup, l.ts_us - f.ts_us"
	    " FROM f JOIN l ON l.instance_id = f.instance_id AND l.datname = f.datname"
	    "  AND l.schemaname = f.schemaname AND l.relname = f.relname"
	    " JOIN instances i ON i.instance_id = f.instance_id"
	    " ORDER BY i.name, l.datname, l.schemaname, l.relname";
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct table_window t;
		t.instance = text_column(stmt, 0);
		t.database = text_column(stmt, 2);
		t.schema = text_column(stmt, 3);
		t.table = text_column(stmt, 4);
		t.seq_scans = sqlite3_column_int64(stmt, 5);
		t.seq_tuples_read = sqlite3_column_int64(stmt, 6);
		t.index_scans = sqlite3_column_int64(stmt, 7);
		t.table_bytes = sqlite3_column_int64(stmt, 8);
		t.live_tuples = sqlite3_column_int64(stmt, 9);
		if ((rc = facts_full(index_facts_add_table(facts, &t, text_column(stmt, 1),
			 sqlite3_column_int64(stmt, 10)))) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
load_statements(sqlite3 *db, struct index_facts *facts, const struct index_filter *filter)
{
	char sql[4096];
	sqlite3_stmt *stmt = NULL;
	int rc;

	snprintf(sql, sizeof(sql),
	    "SELECT i.name, s.datname, s.queryid, sum(s.calls), sum(s.total_exec_time_ms),"
	    "  t.query"
	    " FROM %s s JOIN instances i ON i.instance_id = s.instance_id"
	    " JOIN statement_texts t ON t.instance_id = s.instance_id AND t.queryid = s.queryid"
	    " WHERE " INSTANCE_FILTER " AND (?3 = '' OR s.datname = ?3)"
	    "  AND s.ts_us >= ?4 AND s.ts_us <= ?5 AND t.truncated = 0"
	    " GROUP BY s.instance_id, s.datname, s.queryid"
	    " ORDER BY 5 DESC LIMIT %d",
	    store_sqlite_statement_source, INDEX_ANSWER_MAX_STATEMENTS);
	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct statement_fact s;
		s.instance = text_column(stmt, 0);
		s.database = text_column(stmt, 1);
		s.queryid = sqlite3_column_int64(stmt, 2);
		s.calls = sqlite3_column_int64(stmt, 3);
		s.total_ms = sqlite3_column_double(stmt, 4);
		s.text = text_column(stmt, 5);
		if ((rc = facts_full(index_facts_add_statement(facts, &s))) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Every member of the clusters the filter names (an instance without a
 * system identifier is a cluster of its own). */
#define MEMBERS                                                                           \
	"members AS (SELECT m.instance_id, m.name, m.system_identifier, m.role"             \
	"  FROM instances m WHERE m.instance_id IN (SELECT i.instance_id FROM instances i" \
	"  WHERE " INSTANCE_FILTER ") OR (m.system_identifier <> '' AND m.system_identifier" \
	"  IN (SELECT i.system_identifier FROM instances i WHERE " INSTANCE_FILTER ")))"

static int
load_indexes(sqlite3 *db, struct index_facts *facts, const struct index_filter *filter)
{
	static const char sql[] =
	    "WITH " MEMBERS ","
	    " w AS (SELECT x.* FROM index_stats x"
	    "  WHERE x.instance_id IN (SELECT instance_id FROM members)"
	    "  AND (?3 = '' OR x.datname = ?3) AND x.ts_us >= ?4 AND x.ts_us <= ?5),"
	    " b AS (SELECT instance_id, datname, schemaname, indexrelname,"
	    "  min(ts_us) AS first_us, max(ts_us) AS last_us, count(*) AS n"
	    "  FROM w GROUP BY instance_id, datname, schemaname, indexrelname)"
	    " SELECT m.name, m.system_identifier, l.datname, l.schemaname, l.relname,"
	    "  l.indexrelname, coalesce(d.access_method, ''), coalesce(c.columns, ''),"
	    "  coalesce(d.predicate, ''), coalesce(d.definition, ''), l.constraint_type,"
	    "  l.is_unique, l.is_valid, l.size_bytes,"
	    "  CASE WHEN b.n < 2 OR l.idx_scan < f.idx_scan OR EXISTS (SELECT 1"
	    "   FROM database_stats_resets r WHERE r.instance_id = b.instance_id"
	    "   AND r.datname = b.datname AND r.stats_reset_us > b.first_us"
	    "   AND r.stats_reset_us <= b.last_us) THEN -1"
	    "   ELSE l.idx_scan - f.idx_scan END,"
	    "  b.last_us - b.first_us"
	    " FROM b JOIN w f ON f.instance_id = b.instance_id AND f.datname = b.datname"
	    "  AND f.schemaname = b.schemaname AND f.indexrelname = b.indexrelname"
	    "  AND f.ts_us = b.first_us"
	    " JOIN w l ON l.instance_id = b.instance_id AND l.datname = b.datname"
	    "  AND l.schemaname = b.schemaname AND l.indexrelname = b.indexrelname"
	    "  AND l.ts_us = b.last_us"
	    " JOIN members m ON m.instance_id = b.instance_id"
	    " LEFT JOIN index_definitions d ON d.instance_id = b.instance_id"
	    "  AND d.datname = b.datname AND d.schemaname = b.schemaname"
	    "  AND d.indexrelname = b.indexrelname"
	    " LEFT JOIN index_columns c ON c.instance_id = b.instance_id"
	    "  AND c.datname = b.datname AND c.schemaname = b.schemaname"
	    "  AND c.indexrelname = b.indexrelname"
	    /* the primary's facts first: they stand for the index */
	    " ORDER BY m.system_identifier, m.role <> 'primary', m.name, l.datname,"
	    "  l.schemaname, l.indexrelname";
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct index_fact x;
		memset(&x, 0, sizeof(x));
		x.instance = text_column(stmt, 0);
		x.database = text_column(stmt, 2);
		x.schema = text_column(stmt, 3);
		x.table = text_column(stmt, 4);
		x.index = text_column(stmt, 5);
		x.access_method = text_column(stmt, 6);
		x.predicate = text_column(stmt, 8);
		x.definition = text_column(stmt, 9);
		x.constraint_type = text_column(stmt, 10);
		x.is_unique = sqlite3_column_int(stmt, 11) != 0;
		x.is_valid = sqlite3_column_int(stmt, 12) != 0;
		x.size_bytes = sqlite3_column_int64(stmt, 13);
		x.window_scans = sqlite3_column_int64(stmt, 14);
		if ((rc = facts_full(index_facts_add_index(facts, &x, text_column(stmt, 7),
			 text_column(stmt, 1), sqlite3_column_int64(stmt, 15)))) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
load_foreign_keys(sqlite3 *db, struct index_facts *facts, const struct index_filter *filter)
{
	/* one catalog per cluster: the keys of one member (the primary when
	 * it reported them) */
	static const char sql[] =
	    "WITH " MEMBERS ","
	    " source AS (SELECT m.system_identifier, (SELECT k.instance_id FROM members k"
	    "  WHERE k.system_identifier = m.system_identifier AND (m.system_identifier <> ''"
	    "  OR k.instance_id = m.instance_id) AND EXISTS (SELECT 1 FROM foreign_keys f"
	    "  WHERE f.instance_id = k.instance_id) ORDER BY k.role <> 'primary', k.name"
	    "  LIMIT 1) AS instance_id FROM members m GROUP BY m.system_identifier,"
	    "  CASE WHEN m.system_identifier = '' THEN m.instance_id END)"
	    " SELECT s.system_identifier, f.datname, f.schemaname, f.relname, f.name,"
	    "  f.columns, f.referenced_table"
	    " FROM source s JOIN foreign_keys f ON f.instance_id = s.instance_id"
	    " WHERE (?3 = '' OR f.datname = ?3) AND ?4 <= ?5"
	    " ORDER BY 1, 2, 3, 4, 5";
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct foreign_key_fact k;
		memset(&k, 0, sizeof(k));
		k.database = text_column(stmt, 1);
		k.schema = text_column(stmt, 2);
		k.table = text_column(stmt, 3);
		k.name = text_column(stmt, 4);
		k.referenced_table = text_column(stmt, 6);
		if ((rc = facts_full(index_facts_add_foreign_key(facts, &k, text_column(stmt, 5),
			 text_column(stmt, 0)))) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The hypopg verdicts stored for the instances (and database) of the
 * filter: each proposal's is looked up among them. */
static int
load_checks(sqlite3 *db, struct index_facts *facts, const struct index_filter *filter)
{
	static const char sql[] =
	    "SELECT i.name, c.datname, c.queryid, c.index_statement, c.checked_us, c.status,"
	    "  c.cost_before, c.cost_after, c.index_used, c.detail, c.estimated_bytes"
	    " FROM index_checks c JOIN instances i ON i.instance_id = c.instance_id"
	    " WHERE " INSTANCE_FILTER " AND (?3 = '' OR c.datname = ?3) AND ?4 <= ?5";
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct index_check_fact c;
		c.instance = text_column(stmt, 0);
		c.database = text_column(stmt, 1);
		c.queryid = sqlite3_column_int64(stmt, 2);
		c.index_statement = text_column(stmt, 3);
		c.checked_us = sqlite3_column_int64(stmt, 4);
		c.status = sqlite3_column_int(stmt, 5);
		c.cost_before = sqlite3_column_double(stmt, 6);
		c.cost_after = sqlite3_column_double(stmt, 7);
		c.index_used = sqlite3_column_int(stmt, 8) != 0;
		c.detail = text_column(stmt, 9);
		c.estimated_bytes = sqlite3_column_int64(stmt, 10);
		if ((rc = facts_full(index_facts_add_check(facts, &c))) != SQLITE_OK)
			break;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- the answers ---- */

int
store_sqlite_index_recommendations(struct store *base,
    const Pgfleet__V1__IndexRecommendationsRequest *request,
    Pgfleet__V1__IndexRecommendations *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	struct index_facts *facts;
	struct index_filter filter;
	int rc, rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	index_answer_request_filter(request, pgf_time_now_us(), &filter);
	if ((facts = index_facts_new()) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	if ((rc = load_tables(store->db, facts, &filter)) != SQLITE_OK ||
	    (rc = load_statements(store->db, facts, &filter)) != SQLITE_OK ||
	    (rc = load_indexes(store->db, facts, &filter)) != SQLITE_OK ||
	    (rc = load_foreign_keys(store->db, facts, &filter)) != SQLITE_OK ||
	    (rc = load_checks(store->db, facts, &filter)) != SQLITE_OK) {
		index_facts_free(facts);
		return sqlite_store_error(store->db, rc, "read index recommendations", errbuf, errlen);
	}
	rv = index_answer_recommendations(facts, request->limit, answer);
	index_facts_free(facts);
	if (rv != PGF_OK)
		snprintf(errbuf, errlen, "could not read index recommendations: out of memory");
	return rv;
}

/* Counts one more tables snapshot of the instance; *due says proposals
 * are to be worked out for it now (INDEX_ANSWER_CHECK_EVERY). */
static int
check_due(sqlite3 *db, const char *instance, bool *due)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db,
	    "INSERT INTO index_check_state (instance_id, snapshots)"
	    " SELECT instance_id, 1 FROM instances WHERE name = ?1"
	    " ON CONFLICT (instance_id) DO UPDATE SET snapshots = snapshots % ?2 + 1"
	    " RETURNING snapshots",
	    -1, &stmt, NULL);

	*due = false;
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, instance, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, INDEX_ANSWER_CHECK_EVERY);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*due = sqlite3_column_int(stmt, 0) == 1;
		rc = sqlite3_step(stmt);
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
store_sqlite_index_checks(struct store *base, const Pgfleet__V1__Report *report,
    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	struct index_facts *facts;
	struct index_filter filter;
	bool due = false;
	int rc, rv;

	*checks = NULL;
	*count = 0;
	if (!index_answer_check_filter(report, &filter))
		return PGF_OK;
	if ((rc = check_due(store->db, report->instance->name, &due)) != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "count tables snapshots", errbuf, errlen);
	if (!due)
		return PGF_OK;
	if ((facts = index_facts_new()) == NULL)
		return PGF_ENOMEM;
	/* most snapshots flag no table: then nothing else is read */
	rc = load_tables(store->db, facts, &filter);
	if (rc == SQLITE_OK && !index_facts_any_flagged(facts)) {
		index_facts_free(facts);
		return PGF_OK;
	}
	if (rc == SQLITE_OK && (rc = load_statements(store->db, facts, &filter)) == SQLITE_OK &&
	    (rc = load_indexes(store->db, facts, &filter)) == SQLITE_OK)
		rc = load_checks(store->db, facts, &filter);
	if (rc != SQLITE_OK) {
		index_facts_free(facts);
		return sqlite_store_error(store->db, rc, "propose index checks", errbuf, errlen);
	}
	rv = index_answer_checks(facts, report->instance->name, report->collected_at_us, checks,
	    count);
	index_facts_free(facts);
	if (rv != PGF_OK)
		snprintf(errbuf, errlen, "could not propose index checks: out of memory");
	return rv;
}
