/*
 * store_sqlite_indexes.c - index recommendations in the SQLite store: the
 * facts the analysis needs, kept from reports, and the answer built from
 * them by the pure analysis (index_advice.c, analysis_indexes.c).
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

#include "collector/analysis_indexes.h"
#include "collector/index_advice.h"
#include "common/arena.h"
#include "common/timeutil.h"

/* Rows in an answer when the request names no limit. */
#define INDEXES_DEFAULT_LIMIT 100
/* The window when the scope has no start. */
#define INDEXES_DEFAULT_WINDOW_US (24LL * 3600 * 1000000)
/* Statements read per question (the most expensive in the window). */
#define INDEXES_MAX_STATEMENTS 500
/* Checks asked of an agent at once, and how long a verdict stands. */
#define INDEXES_MAX_CHECKS 10
#define INDEXES_CHECK_WINDOW_US (3600LL * 1000000)
#define INDEXES_CHECK_FRESH_US (24LL * 3600 * 1000000)
/* A failed check (hypopg not installed yet, no privilege) is asked again
 * sooner: the operator may have fixed it. */
#define INDEXES_RECHECK_FAILED_US (3600LL * 1000000)
/* Proposals for an instance are worked out on every this-many-th tables
 * snapshot it sends (the first included), not on each: they compare the
 * first and last snapshot of an hour, which moves little from one
 * snapshot to the next (5 minutes apart by default), and working them
 * out was a sixth of the ingest writer's time. A new proposal waits at
 * most this many snapshots. */
#define INDEXES_CHECK_EVERY 3
/* Index facts, tables and advice rows kept per question. */
#define INDEXES_MAX_ROWS 100000

/* The separator of column lists in one TEXT value: no identifier or
 * expression contains it. */
#define COLUMN_SEPARATOR "\x1f"

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
 * proposals were last worked out for it (INDEXES_CHECK_EVERY). */
const char store_sqlite_index_check_state_schema[] =
    "CREATE TABLE index_check_state ("
    "  instance_id INTEGER PRIMARY KEY REFERENCES instances,"
    "  snapshots INTEGER NOT NULL);";

/* ---- writing ---- */

/* Joins list[0..n) with COLUMN_SEPARATOR into a malloc'd text. */
static char *
join_columns(char *const *list, size_t n)
{
	size_t len = 1;
	char *text;
	for (size_t i = 0; i < n; i++)
		len += strlen(list[i]) + 1;
	if ((text = malloc(len)) == NULL)
		return NULL;
	text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(text, COLUMN_SEPARATOR);
		strcat(text, list[i]);
	}
	return text;
}

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
		if ((text = join_columns(x->columns, x->n_columns)) == NULL) {
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
		if ((text = join_columns(k->columns, k->n_columns)) == NULL) {
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

/* What a question is about: filters as in Scope, a window. */
struct filter {
	const char *instance;
	const char *cluster;
	const char *database;
	int64_t since_us;
	int64_t until_us;
};

/* Everything the analysis reads, in one arena. */
struct facts {
	struct pgf_arena *arena;
	struct table_window *tables;
	const char **table_clusters;
	int64_t *table_spans_us;
	size_t n_tables;
	struct statement_fact *statements;
	size_t n_statements;
	struct index_fact *indexes;
	const char **index_clusters;
	int64_t *index_spans_us;
	size_t n_indexes;
	struct foreign_key_fact *foreign_keys;
	const char **foreign_key_clusters;
	size_t n_foreign_keys;
};

static void
bind_filter(sqlite3_stmt *stmt, const struct filter *f)
{
	sqlite3_bind_text(stmt, 1, f->instance, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, f->cluster, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, f->database, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, f->since_us);
	sqlite3_bind_int64(stmt, 5, f->until_us);
}

static const char *
arena_column(struct facts *facts, sqlite3_stmt *stmt, int column)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	return pgf_arena_strdup(facts->arena, text != NULL ? (const char *) text : "");
}

/* Splits a COLUMN_SEPARATOR list into an arena array. */
static const char *const *
split_columns(struct facts *facts, const char *text, size_t *count)
{
	size_t n = text[0] == '\0' ? 0 : 1;
	const char **list;
	char *copy;
	for (const char *p = text; *p != '\0'; p++)
		n += *p == COLUMN_SEPARATOR[0];
	*count = 0;
	list = pgf_arena_array(facts->arena, n > 0 ? n : 1, sizeof(list[0]));
	copy = pgf_arena_strdup(facts->arena, text);
	if (list == NULL || copy == NULL)
		return NULL;
	for (char *p = copy; n > 0 && *count < n;) {
		char *end = strchr(p, COLUMN_SEPARATOR[0]);
		list[(*count)++] = p;
		if (end == NULL)
			break;
		*end = '\0';
		p = end + 1;
	}
	return list;
}

/* Grows an arena array of elements of size bytes to hold one more. */
static void *
grow(struct facts *facts, void *array, size_t count, size_t *capacity, size_t size)
{
	void *bigger;
	if (count < *capacity)
		return array;
	if (count >= INDEXES_MAX_ROWS)
		return NULL;
	*capacity = *capacity == 0 ? 64 : *capacity * 2;
	if ((bigger = pgf_arena_array(facts->arena, *capacity, size)) == NULL)
		return NULL;
	if (count > 0)
		memcpy(bigger, array, count * size);
	return bigger;
}

/* Instances in the filter: by name and cluster. */
#define INSTANCE_FILTER "(?1 = '' OR i.name = ?1) AND (?2 = '' OR i.system_identifier = ?2)"

static int
load_tables(sqlite3 *db, struct facts *facts, const struct filter *filter)
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
	size_t capacity = 0, spans_capacity = 0, clusters_capacity = 0;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct table_window *t;
		facts->tables = grow(facts, facts->tables, facts->n_tables, &capacity,
		    sizeof(facts->tables[0]));
		facts->table_clusters = grow(facts, facts->table_clusters, facts->n_tables,
		    &clusters_capacity, sizeof(facts->table_clusters[0]));
		facts->table_spans_us = grow(facts, facts->table_spans_us, facts->n_tables,
		    &spans_capacity, sizeof(facts->table_spans_us[0]));
		if (facts->tables == NULL || facts->table_clusters == NULL ||
		    facts->table_spans_us == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		t = &facts->tables[facts->n_tables];
		t->instance = arena_column(facts, stmt, 0);
		facts->table_clusters[facts->n_tables] = arena_column(facts, stmt, 1);
		t->database = arena_column(facts, stmt, 2);
		t->schema = arena_column(facts, stmt, 3);
		t->table = arena_column(facts, stmt, 4);
		t->seq_scans = sqlite3_column_int64(stmt, 5);
		t->seq_tuples_read = sqlite3_column_int64(stmt, 6);
		t->index_scans = sqlite3_column_int64(stmt, 7);
		t->table_bytes = sqlite3_column_int64(stmt, 8);
		t->live_tuples = sqlite3_column_int64(stmt, 9);
		facts->table_spans_us[facts->n_tables] = sqlite3_column_int64(stmt, 10);
		if (t->instance == NULL || t->database == NULL || t->schema == NULL ||
		    t->table == NULL || facts->table_clusters[facts->n_tables] == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		facts->n_tables++;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
load_statements(sqlite3 *db, struct facts *facts, const struct filter *filter)
{
	char sql[4096];
	sqlite3_stmt *stmt = NULL;
	size_t capacity = 0;
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
	    store_sqlite_statement_source, INDEXES_MAX_STATEMENTS);
	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct statement_fact *s;
		facts->statements = grow(facts, facts->statements, facts->n_statements, &capacity,
		    sizeof(facts->statements[0]));
		if (facts->statements == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		s = &facts->statements[facts->n_statements];
		s->instance = arena_column(facts, stmt, 0);
		s->database = arena_column(facts, stmt, 1);
		s->queryid = sqlite3_column_int64(stmt, 2);
		s->calls = sqlite3_column_int64(stmt, 3);
		s->total_ms = sqlite3_column_double(stmt, 4);
		s->text = arena_column(facts, stmt, 5);
		if (s->instance == NULL || s->database == NULL || s->text == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		facts->n_statements++;
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
load_indexes(sqlite3 *db, struct facts *facts, const struct filter *filter)
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
	size_t capacity = 0, clusters_capacity = 0, spans_capacity = 0;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct index_fact *x;
		size_t n = facts->n_indexes;
		const char *columns;
		facts->indexes = grow(facts, facts->indexes, n, &capacity, sizeof(facts->indexes[0]));
		facts->index_clusters = grow(facts, facts->index_clusters, n, &clusters_capacity,
		    sizeof(facts->index_clusters[0]));
		facts->index_spans_us = grow(facts, facts->index_spans_us, n, &spans_capacity,
		    sizeof(facts->index_spans_us[0]));
		if (facts->indexes == NULL || facts->index_clusters == NULL ||
		    facts->index_spans_us == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		x = &facts->indexes[n];
		x->instance = arena_column(facts, stmt, 0);
		facts->index_clusters[n] = arena_column(facts, stmt, 1);
		x->database = arena_column(facts, stmt, 2);
		x->schema = arena_column(facts, stmt, 3);
		x->table = arena_column(facts, stmt, 4);
		x->index = arena_column(facts, stmt, 5);
		x->access_method = arena_column(facts, stmt, 6);
		columns = arena_column(facts, stmt, 7);
		x->predicate = arena_column(facts, stmt, 8);
		x->definition = arena_column(facts, stmt, 9);
		x->constraint_type = arena_column(facts, stmt, 10);
		x->is_unique = sqlite3_column_int(stmt, 11) != 0;
		x->is_valid = sqlite3_column_int(stmt, 12) != 0;
		x->size_bytes = sqlite3_column_int64(stmt, 13);
		x->window_scans = sqlite3_column_int64(stmt, 14);
		facts->index_spans_us[n] = sqlite3_column_int64(stmt, 15);
		if (x->instance == NULL || facts->index_clusters[n] == NULL ||
		    x->database == NULL || x->schema == NULL || x->table == NULL ||
		    x->index == NULL || x->access_method == NULL || columns == NULL ||
		    x->predicate == NULL || x->definition == NULL || x->constraint_type == NULL ||
		    (x->columns = split_columns(facts, columns, &x->n_columns)) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		facts->n_indexes++;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
load_foreign_keys(sqlite3 *db, struct facts *facts, const struct filter *filter)
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
	size_t capacity = 0, clusters_capacity = 0;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return rc;
	bind_filter(stmt, filter);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct foreign_key_fact *k;
		size_t n = facts->n_foreign_keys;
		const char *columns;
		facts->foreign_keys = grow(facts, facts->foreign_keys, n, &capacity,
		    sizeof(facts->foreign_keys[0]));
		facts->foreign_key_clusters = grow(facts, facts->foreign_key_clusters, n,
		    &clusters_capacity, sizeof(facts->foreign_key_clusters[0]));
		if (facts->foreign_keys == NULL || facts->foreign_key_clusters == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		k = &facts->foreign_keys[n];
		facts->foreign_key_clusters[n] = arena_column(facts, stmt, 0);
		k->database = arena_column(facts, stmt, 1);
		k->schema = arena_column(facts, stmt, 2);
		k->table = arena_column(facts, stmt, 3);
		k->name = arena_column(facts, stmt, 4);
		columns = arena_column(facts, stmt, 5);
		k->referenced_table = arena_column(facts, stmt, 6);
		if (facts->foreign_key_clusters[n] == NULL || k->database == NULL ||
		    k->schema == NULL || k->table == NULL || k->name == NULL || columns == NULL ||
		    k->referenced_table == NULL ||
		    (k->columns = split_columns(facts, columns, &k->n_columns)) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		facts->n_foreign_keys++;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- the answer ---- */

/* A malloc'd copy (the answer's ownership); sets *oom when out of memory. */
static char *
dup(const char *text, bool *oom)
{
	char *copy = strdup(text != NULL ? text : "");
	if (copy == NULL)
		*oom = true;
	return copy;
}

struct answer_rows {
	Pgfleet__V1__IndexRecommendation **rows;
	size_t n_rows;
	size_t capacity;
	bool oom;
};

static Pgfleet__V1__IndexRecommendation *
new_row(struct answer_rows *a, const char *type, enum advice_priority priority)
{
	Pgfleet__V1__IndexRecommendation *row;
	if (a->n_rows == a->capacity) {
		size_t capacity = a->capacity == 0 ? 32 : a->capacity * 2;
		Pgfleet__V1__IndexRecommendation **rows =
		    realloc(a->rows, capacity * sizeof(rows[0]));
		if (rows == NULL) {
			a->oom = true;
			return NULL;
		}
		a->rows = rows;
		a->capacity = capacity;
	}
	if ((row = malloc(sizeof(*row))) == NULL) {
		a->oom = true;
		return NULL;
	}
	pgfleet__v1__index_recommendation__init(row);
	a->rows[a->n_rows++] = row;
	/* every string malloc'd, as store_answer_free expects */
	row->type = dup(type, &a->oom);
	row->priority = dup(advice_priority_name(priority), &a->oom);
	row->schema = dup("", &a->oom);
	row->table = dup("", &a->oom);
	row->recommendation = dup("", &a->oom);
	row->instance = dup("", &a->oom);
	row->cluster = dup("", &a->oom);
	row->database = dup("", &a->oom);
	row->index = dup("", &a->oom);
	row->ddl = dup("", &a->oom);
	row->evidence = dup("", &a->oom);
	row->predicate = dup("", &a->oom);
	row->query = dup("", &a->oom);
	row->hypopg_check = dup("", &a->oom);
	row->window = dup("", &a->oom);
	return row;
}

static void
set(char **field, const char *text, bool *oom)
{
	free(*field);
	*field = dup(text, oom);
}

static void
set_window(Pgfleet__V1__IndexRecommendation *row, int64_t span_us, bool *oom)
{
	char text[32];
	row->window_seconds = span_us / 1000000;
	analysis_duration(row->window_seconds, text, sizeof(text));
	set(&row->window, text, oom);
}

/* The hypopg verdict for a proposal, from index_checks. */
static int
fill_check(sqlite3 *db, Pgfleet__V1__IndexRecommendation *row, const char *instance,
    const struct statement_fact *s, const struct index_proposal *p, bool *oom)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db,
	    "SELECT c.status, c.cost_before, c.cost_after, c.index_used, c.detail,"
	    " c.estimated_bytes FROM index_checks c JOIN instances i"
	    " ON i.instance_id = c.instance_id WHERE i.name = ?1 AND c.datname = ?2"
	    " AND c.queryid = ?3 AND c.index_statement = ?4",
	    -1, &stmt, NULL);
	char evidence[2048];

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, instance, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, s->database, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, s->queryid);
	sqlite3_bind_text(stmt, 4, p->hypothetical_ddl, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int status = sqlite3_column_int(stmt, 0);
		const char *detail = (const char *) sqlite3_column_text(stmt, 4);
		if (detail == NULL)
			detail = "";
		if (status == PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK) {
			row->cost_before = sqlite3_column_double(stmt, 1);
			row->cost_after = sqlite3_column_double(stmt, 2);
			row->hypothetical_index_used = sqlite3_column_int(stmt, 3) != 0;
			set(&row->hypopg_check, "ok", oom);
			snprintf(evidence, sizeof(evidence),
			    "%s; hypopg: the planner's cost of the statement goes from %.2f to %.2f with the index (%s, %s; estimated size %lld bytes)",
			    row->evidence, row->cost_before, row->cost_after,
			    row->hypothetical_index_used ? "the plan uses it" : "the plan does not use it",
			    detail, (long long) sqlite3_column_int64(stmt, 5));
		} else {
			set(&row->hypopg_check,
			    status == PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_NOT_INSTALLED
				? "not_installed"
				: "error",
			    oom);
			snprintf(evidence, sizeof(evidence), "%s; hypopg check: %s", row->evidence,
			    detail);
		}
		set(&row->evidence, evidence, oom);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		set(&row->hypopg_check, p->key.is_select ? "pending" : "not_checked", oom);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc;
}

static const char *
cluster_key(const char *cluster, const char *instance)
{
	/* an instance that never said its system identifier is alone */
	return cluster[0] != '\0' ? cluster : instance;
}

/* Structural advice (analysis_indexes) for each cluster in facts. */
static void
add_structural(const struct facts *facts, struct answer_rows *a)
{
	size_t start = 0;
	while (start < facts->n_indexes) {
		const char *cluster =
		    cluster_key(facts->index_clusters[start], facts->indexes[start].instance);
		size_t end = start, n_members = 0, n_fks = 0, fk_start = 0;
		int64_t span_us = INT64_MAX;
		char members[512] = "";
		struct index_advice *advice;
		size_t count;

		while (end < facts->n_indexes &&
		    strcmp(cluster_key(facts->index_clusters[end], facts->indexes[end].instance),
			cluster) == 0) {
			bool seen = false;
			for (size_t j = start; j < end && !seen; j++)
				seen = strcmp(facts->indexes[j].instance, facts->indexes[end].instance) == 0;
			if (!seen) {
				n_members++;
				snprintf(members + strlen(members), sizeof(members) - strlen(members),
				    "%s%s", n_members > 1 ? "," : "", facts->indexes[end].instance);
			}
			if (facts->indexes[end].window_scans >= 0 && facts->index_spans_us[end] < span_us)
				span_us = facts->index_spans_us[end];
			end++;
		}
		if (span_us == INT64_MAX)
			span_us = 0;
		for (size_t k = 0; k < facts->n_foreign_keys; k++) {
			if (strcmp(facts->foreign_key_clusters[k], facts->index_clusters[start]) == 0) {
				if (n_fks == 0)
					fk_start = k;
				n_fks++;
			}
		}
		/* foreign keys of a cluster are contiguous (ordered by cluster) */
		count = analysis_indexes(&facts->indexes[start], end - start, n_members,
		    n_fks > 0 ? &facts->foreign_keys[fk_start] : NULL, n_fks, span_us / 1000000,
		    NULL, 0);
		advice = calloc(count > 0 ? count : 1, sizeof(*advice));
		if (advice == NULL) {
			a->oom = true;
			return;
		}
		count = analysis_indexes(&facts->indexes[start], end - start, n_members,
		    n_fks > 0 ? &facts->foreign_keys[fk_start] : NULL, n_fks, span_us / 1000000,
		    advice, count);
		for (size_t i = 0; i < count; i++) {
			Pgfleet__V1__IndexRecommendation *row =
			    new_row(a, index_advice_type_name(advice[i].type), advice[i].priority);
			char text[1400];
			if (row == NULL)
				break;
			set(&row->schema, advice[i].schema, &a->oom);
			set(&row->table, advice[i].table, &a->oom);
			set(&row->database, advice[i].database, &a->oom);
			set(&row->index, advice[i].index, &a->oom);
			set(&row->ddl, advice[i].ddl, &a->oom);
			set(&row->evidence, advice[i].evidence, &a->oom);
			set(&row->instance, members, &a->oom);
			set(&row->cluster, facts->index_clusters[start], &a->oom);
			switch (advice[i].type) {
			case INDEX_ADVICE_FOREIGN_KEY_WITHOUT_INDEX:
				snprintf(text, sizeof(text), "Add an index for the foreign key of %s.%s",
				    advice[i].schema, advice[i].table);
				break;
			case INDEX_ADVICE_INVALID:
				snprintf(text, sizeof(text), "Rebuild invalid index %s.%s",
				    advice[i].schema, advice[i].index);
				break;
			default:
				snprintf(text, sizeof(text), "Drop %s index %s.%s",
				    index_advice_type_name(advice[i].type), advice[i].schema,
				    advice[i].index);
				break;
			}
			set(&row->recommendation, text, &a->oom);
			set_window(row, span_us, &a->oom);
		}
		free(advice);
		start = end;
	}
}

/* Sequential-scan tables and the proposals for them; with checks set,
 * also collects the proposals to check with hypopg (SELECTs without a
 * fresh verdict). */
static int
add_missing(sqlite3 *db, const struct facts *facts, struct answer_rows *a,
    struct seq_scan_advice **flagged_out, size_t *n_flagged_out,
    struct index_proposal **proposals_out, size_t *n_proposals_out)
{
	struct seq_scan_advice *flagged = NULL;
	struct index_proposal *proposals = NULL;
	size_t n_flagged, n_proposals = 0;
	int rc = SQLITE_OK;

	n_flagged = index_advice_seq_scans(facts->tables, facts->n_tables, NULL, 0);
	flagged = calloc(n_flagged > 0 ? n_flagged : 1, sizeof(*flagged));
	if (flagged == NULL)
		return SQLITE_NOMEM;
	n_flagged = index_advice_seq_scans(facts->tables, facts->n_tables, flagged, n_flagged);
	n_proposals = index_advice_proposals(facts->tables, flagged, n_flagged,
	    facts->statements, facts->n_statements, facts->indexes, facts->n_indexes, NULL, 0);
	proposals = calloc(n_proposals > 0 ? n_proposals : 1, sizeof(*proposals));
	if (proposals == NULL) {
		free(flagged);
		return SQLITE_NOMEM;
	}
	n_proposals = index_advice_proposals(facts->tables, flagged, n_flagged,
	    facts->statements, facts->n_statements, facts->indexes, facts->n_indexes, proposals,
	    n_proposals);
	for (size_t i = 0; a != NULL && i < n_flagged; i++) {
		const struct table_window *t = &facts->tables[flagged[i].table];
		Pgfleet__V1__IndexRecommendation *row =
		    new_row(a, "high_sequential_scans", flagged[i].priority);
		if (row == NULL)
			break;
		set(&row->schema, t->schema, &a->oom);
		set(&row->table, t->table, &a->oom);
		set(&row->instance, t->instance, &a->oom);
		set(&row->cluster, facts->table_clusters[flagged[i].table], &a->oom);
		set(&row->database, t->database, &a->oom);
		set(&row->recommendation, flagged[i].recommendation, &a->oom);
		set(&row->evidence, flagged[i].evidence, &a->oom);
		row->seq_scans = t->seq_scans;
		row->seq_tuples_read = t->seq_tuples_read;
		row->index_scans = t->index_scans;
		row->avg_tuples_per_scan = round(flagged[i].avg_tuples_per_scan * 100.0) / 100.0;
		set_window(row, facts->table_spans_us[flagged[i].table], &a->oom);
	}
	for (size_t i = 0; a != NULL && i < n_proposals && rc == SQLITE_OK; i++) {
		const struct index_proposal *p = &proposals[i];
		const struct table_window *t = &facts->tables[p->table];
		const struct statement_fact *s = &facts->statements[p->statement];
		Pgfleet__V1__IndexRecommendation *row = new_row(a, "missing_index", p->priority);
		if (row == NULL)
			break;
		set(&row->schema, t->schema, &a->oom);
		set(&row->table, t->table, &a->oom);
		set(&row->instance, t->instance, &a->oom);
		set(&row->cluster, facts->table_clusters[p->table], &a->oom);
		set(&row->database, t->database, &a->oom);
		set(&row->recommendation, p->recommendation, &a->oom);
		set(&row->evidence, p->evidence, &a->oom);
		set(&row->ddl, p->ddl, &a->oom);
		set(&row->index, "", &a->oom);
		set(&row->predicate, p->key.predicate, &a->oom);
		set(&row->query, s->text, &a->oom);
		row->queryid = s->queryid;
		row->seq_scans = t->seq_scans;
		row->seq_tuples_read = t->seq_tuples_read;
		row->index_scans = t->index_scans;
		row->avg_tuples_per_scan =
		    t->seq_scans > 0 ? round((double) t->seq_tuples_read / (double) t->seq_scans * 100.0) / 100.0
				     : 0.0;
		row->columns = calloc(p->key.n_columns > 0 ? p->key.n_columns : 1, sizeof(char *));
		if (row->columns == NULL) {
			a->oom = true;
			break;
		}
		for (size_t c = 0; c < p->key.n_columns; c++)
			row->columns[row->n_columns++] = dup(p->key.columns[c], &a->oom);
		set_window(row, facts->table_spans_us[p->table], &a->oom);
		rc = fill_check(db, row, t->instance, s, p, &a->oom);
	}
	if (flagged_out != NULL) {
		*flagged_out = flagged;
		*n_flagged_out = n_flagged;
	} else {
		free(flagged);
	}
	if (proposals_out != NULL) {
		*proposals_out = proposals;
		*n_proposals_out = n_proposals;
	} else {
		free(proposals);
	}
	return rc;
}

static int
load_facts(sqlite3 *db, struct facts *facts, const struct filter *filter, bool structural)
{
	int rc;
	if ((rc = load_tables(db, facts, filter)) != SQLITE_OK ||
	    (rc = load_statements(db, facts, filter)) != SQLITE_OK ||
	    (rc = load_indexes(db, facts, filter)) != SQLITE_OK)
		return rc;
	if (structural && (rc = load_foreign_keys(db, facts, filter)) != SQLITE_OK)
		return rc;
	return SQLITE_OK;
}

static int
priority_rank(const char *priority)
{
	return strcmp(priority, "high") == 0 ? 0 : strcmp(priority, "medium") == 0 ? 1 : 2;
}

static int
compare_rows(const void *pa, const void *pb)
{
	const Pgfleet__V1__IndexRecommendation *a =
	    *(const Pgfleet__V1__IndexRecommendation *const *) pa;
	const Pgfleet__V1__IndexRecommendation *b =
	    *(const Pgfleet__V1__IndexRecommendation *const *) pb;
	int ra = priority_rank(a->priority), rb = priority_rank(b->priority);
	return ra < rb ? -1 : ra > rb;
}

int
store_sqlite_index_recommendations(struct store *base,
    const Pgfleet__V1__IndexRecommendationsRequest *request,
    Pgfleet__V1__IndexRecommendations *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	const Pgfleet__V1__Scope *scope = request->scope;
	struct facts facts;
	struct answer_rows rows;
	struct filter filter;
	size_t limit = request->limit > 0 ? request->limit : INDEXES_DEFAULT_LIMIT;
	int rc;

	memset(&facts, 0, sizeof(facts));
	memset(&rows, 0, sizeof(rows));
	answer->rows = NULL;
	answer->n_rows = 0;
	filter.instance = scope != NULL ? scope->instance : "";
	filter.cluster = scope != NULL ? scope->cluster : "";
	filter.database = scope != NULL ? scope->database : "";
	filter.until_us = scope != NULL && scope->until_us != 0 ? scope->until_us
								 : pgf_time_now_us();
	filter.since_us = scope != NULL && scope->since_us != 0
	    ? scope->since_us
	    : filter.until_us - INDEXES_DEFAULT_WINDOW_US;
	if ((facts.arena = pgf_arena_new()) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	rc = load_facts(store->db, &facts, &filter, true);
	if (rc == SQLITE_OK)
		rc = add_missing(store->db, &facts, &rows, NULL, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		add_structural(&facts, &rows);
	pgf_arena_free(facts.arena);
	if (rc == SQLITE_OK && rows.oom)
		rc = SQLITE_NOMEM;
	if (rc == SQLITE_OK) {
		/* stable by priority: insertion sort keeps each type's order */
		for (size_t i = 1; i < rows.n_rows; i++) {
			Pgfleet__V1__IndexRecommendation *key = rows.rows[i];
			size_t j = i;
			while (j > 0 && compare_rows(&rows.rows[j - 1], &key) > 0) {
				rows.rows[j] = rows.rows[j - 1];
				j--;
			}
			rows.rows[j] = key;
		}
	}
	answer->rows = rows.rows;
	answer->n_rows = rows.n_rows;
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "read index recommendations", errbuf, errlen);
	/* past the limit: freed here, the answer keeps the first rows */
	while (answer->n_rows > limit)
		protobuf_c_message_free_unpacked(&answer->rows[--answer->n_rows]->base, NULL);
	return PGF_OK;
}

/* Counts one more tables snapshot of the instance; *due says proposals
 * are to be worked out for it now (INDEXES_CHECK_EVERY). */
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
	sqlite3_bind_int(stmt, 2, INDEXES_CHECK_EVERY);
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
	struct facts facts;
	struct filter filter;
	struct index_proposal *proposals = NULL;
	size_t n_proposals = 0;
	sqlite3_stmt *fresh = NULL;
	bool due = false;
	int rc;

	*checks = NULL;
	*count = 0;
	/* a new tables snapshot is when the sequential scans change: asking
	 * then, not at every report, bounds the work */
	if (report->tables == NULL || report->instance == NULL)
		return PGF_OK;
	if ((rc = check_due(store->db, report->instance->name, &due)) != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "count tables snapshots", errbuf, errlen);
	if (!due)
		return PGF_OK;
	memset(&facts, 0, sizeof(facts));
	filter.instance = report->instance->name;
	filter.cluster = "";
	filter.database = "";
	filter.until_us = report->collected_at_us;
	filter.since_us = report->collected_at_us - INDEXES_CHECK_WINDOW_US;
	if ((facts.arena = pgf_arena_new()) == NULL)
		return PGF_ENOMEM;
	/* most snapshots flag no table: then nothing else is read */
	rc = load_tables(store->db, &facts, &filter);
	if (rc == SQLITE_OK && index_advice_seq_scans(facts.tables, facts.n_tables, NULL, 0) == 0) {
		pgf_arena_free(facts.arena);
		return PGF_OK;
	}
	if (rc == SQLITE_OK && (rc = load_statements(store->db, &facts, &filter)) == SQLITE_OK)
		rc = load_indexes(store->db, &facts, &filter);
	if (rc == SQLITE_OK)
		rc = add_missing(store->db, &facts, NULL, NULL, NULL, &proposals, &n_proposals);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(store->db,
		    "SELECT 1 FROM index_checks c JOIN instances i ON i.instance_id = c.instance_id"
		    " WHERE i.name = ?1 AND c.datname = ?2 AND c.queryid = ?3"
		    " AND c.index_statement = ?4 AND c.checked_us > CASE c.status WHEN ?7 THEN ?5"
		    " ELSE ?6 END",
		    -1, &fresh, NULL);
	if (rc == SQLITE_OK && n_proposals > 0 &&
	    (*checks = calloc(n_proposals < INDEXES_MAX_CHECKS ? n_proposals : INDEXES_MAX_CHECKS,
		 sizeof((*checks)[0]))) == NULL)
		rc = SQLITE_NOMEM;
	for (size_t i = 0; rc == SQLITE_OK && i < n_proposals && *count < INDEXES_MAX_CHECKS; i++) {
		const struct index_proposal *p = &proposals[i];
		const struct statement_fact *s = &facts.statements[p->statement];
		Pgfleet__V1__IndexCheckRequest *check;
		bool oom = false;
		if (!p->key.is_select)
			continue;
		sqlite3_reset(fresh);
		sqlite3_bind_text(fresh, 1, report->instance->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(fresh, 2, s->database, -1, SQLITE_STATIC);
		sqlite3_bind_int64(fresh, 3, s->queryid);
		sqlite3_bind_text(fresh, 4, p->hypothetical_ddl, -1, SQLITE_STATIC);
		sqlite3_bind_int64(fresh, 5, report->collected_at_us - INDEXES_CHECK_FRESH_US);
		sqlite3_bind_int64(fresh, 6, report->collected_at_us - INDEXES_RECHECK_FAILED_US);
		sqlite3_bind_int(fresh, 7, PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK);
		rc = sqlite3_step(fresh);
		if (rc == SQLITE_ROW) {
			rc = SQLITE_OK;
			continue;
		}
		if (rc != SQLITE_DONE)
			break;
		rc = SQLITE_OK;
		if ((check = malloc(sizeof(*check))) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		pgfleet__v1__index_check_request__init(check);
		(*checks)[(*count)++] = check;
		check->database = dup(s->database, &oom);
		check->statement = dup(s->text, &oom);
		check->index_statement = dup(p->hypothetical_ddl, &oom);
		check->queryid = s->queryid;
		check->n_params = p->key.n_params;
		if (oom)
			rc = SQLITE_NOMEM;
	}
	sqlite3_finalize(fresh);
	free(proposals);
	pgf_arena_free(facts.arena);
	if (rc != SQLITE_OK) {
		for (size_t i = 0; i < *count; i++)
			protobuf_c_message_free_unpacked(&(*checks)[i]->base, NULL);
		free(*checks);
		*checks = NULL;
		*count = 0;
		return sqlite_store_error(store->db, rc, "propose index checks", errbuf, errlen);
	}
	if (*count == 0) {
		free(*checks);
		*checks = NULL;
	}
	return PGF_OK;
}
