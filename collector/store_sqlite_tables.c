/*
 * store_sqlite_tables.c - tables, indexes and bloat in the SQLite store.
 *
 * Schema (migration step 3):
 *   table_stats        one row per table per tables family an instance
 *                      reported: sizes, cumulative counters, vacuum times
 *                      and the autovacuum settings that apply
 *   index_stats        one row per index per indexes family: scans, size
 *                      and the flags that say whether the index is needed
 *   index_definitions  the latest pg_get_indexdef() text per index, kept
 *                      apart so the history does not repeat it
 *   bloat_estimates    one row per table or btree index per bloat family
 * Each history is keyed for reading by (instance_id, ts_us), ts_us being
 * the report's collected_at.
 *
 * Answers show one snapshot per instance: the newest ts_us of that
 * instance in the family's table (inside the scope's window when it has
 * one), found per instance with a max() the (instance_id, ts_us) index
 * answers in one seek, so history never makes an answer slower. Families
 * come on their own cadences, so each family's snapshot is its own newest.
 */
#include "collector/store_sqlite_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/size_pretty.h"
#include "common/timeutil.h"

/* Rows in an answer when the request names no limit. */
#define TABLES_DEFAULT_LIMIT 50

const char store_sqlite_tables_schema[] =
    "CREATE TABLE table_stats ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  datname TEXT NOT NULL,"
    "  schemaname TEXT NOT NULL,"
    "  relname TEXT NOT NULL,"
    "  relid INTEGER NOT NULL,"
    "  table_bytes INTEGER NOT NULL,"
    "  indexes_bytes INTEGER NOT NULL,"
    "  toast_bytes INTEGER NOT NULL,"
    "  total_bytes INTEGER NOT NULL,"
    "  n_live_tup INTEGER NOT NULL,"
    "  n_dead_tup INTEGER NOT NULL,"
    "  seq_scan INTEGER NOT NULL,"
    "  seq_tup_read INTEGER NOT NULL,"
    "  idx_scan INTEGER NOT NULL,"
    "  idx_tup_fetch INTEGER NOT NULL,"
    "  n_tup_ins INTEGER NOT NULL,"
    "  n_tup_upd INTEGER NOT NULL,"
    "  n_tup_hot_upd INTEGER NOT NULL,"
    "  n_tup_del INTEGER NOT NULL,"
    "  last_vacuum_us INTEGER NOT NULL,"
    "  last_autovacuum_us INTEGER NOT NULL,"
    "  last_analyze_us INTEGER NOT NULL,"
    "  last_autoanalyze_us INTEGER NOT NULL,"
    "  vacuum_count INTEGER NOT NULL,"
    "  autovacuum_count INTEGER NOT NULL,"
    "  analyze_count INTEGER NOT NULL,"
    "  autoanalyze_count INTEGER NOT NULL,"
    "  n_mod_since_analyze INTEGER NOT NULL,"
    "  n_ins_since_vacuum INTEGER NOT NULL,"
    "  relfrozenxid_age INTEGER NOT NULL,"
    "  reltuples REAL NOT NULL,"
    "  autovacuum_enabled INTEGER NOT NULL,"
    "  autovacuum_vacuum_threshold INTEGER NOT NULL,"
    "  autovacuum_vacuum_scale_factor REAL NOT NULL,"
    "  autovacuum_analyze_threshold INTEGER NOT NULL,"
    "  autovacuum_analyze_scale_factor REAL NOT NULL,"
    "  autovacuum_vacuum_trigger REAL NOT NULL,"
    "  autovacuum_analyze_trigger REAL NOT NULL);"
    "CREATE INDEX table_stats_by_instance_time ON table_stats (instance_id, ts_us);"
    "CREATE TABLE index_stats ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  datname TEXT NOT NULL,"
    "  schemaname TEXT NOT NULL,"
    "  relname TEXT NOT NULL,"
    "  indexrelname TEXT NOT NULL,"
    "  indexrelid INTEGER NOT NULL,"
    "  idx_scan INTEGER NOT NULL,"
    "  idx_tup_read INTEGER NOT NULL,"
    "  idx_tup_fetch INTEGER NOT NULL,"
    "  size_bytes INTEGER NOT NULL,"
    "  is_unique INTEGER NOT NULL,"
    "  is_primary INTEGER NOT NULL,"
    "  is_valid INTEGER NOT NULL,"
    "  constraint_type TEXT NOT NULL,"
    "  last_idx_scan_us INTEGER NOT NULL);"
    "CREATE INDEX index_stats_by_instance_time ON index_stats (instance_id, ts_us);"
    "CREATE TABLE index_definitions ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  datname TEXT NOT NULL,"
    "  schemaname TEXT NOT NULL,"
    "  indexrelname TEXT NOT NULL,"
    "  definition TEXT NOT NULL,"
    "  access_method TEXT NOT NULL,"
    "  predicate TEXT NOT NULL,"
    "  updated_us INTEGER NOT NULL,"
    "  PRIMARY KEY (instance_id, datname, schemaname, indexrelname)) WITHOUT ROWID;"
    "CREATE TABLE bloat_estimates ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  ts_us INTEGER NOT NULL,"
    "  datname TEXT NOT NULL,"
    "  schemaname TEXT NOT NULL,"
    "  relname TEXT NOT NULL,"
    "  indexrelname TEXT NOT NULL,"
    "  real_bytes INTEGER NOT NULL,"
    "  expected_bytes INTEGER NOT NULL,"
    "  bloat_bytes INTEGER NOT NULL,"
    "  bloat_ratio REAL NOT NULL,"
    "  unreliable INTEGER NOT NULL);"
    /* (instance_id, ts_us) first for the snapshot, then the relation so
     * bloat-stats finds a table's estimate in one seek */
    "CREATE INDEX bloat_estimates_by_instance_time ON bloat_estimates"
    "  (instance_id, ts_us, datname, schemaname, relname, indexrelname);";

/* ---- writing ---- */

static int
insert_tables(struct store_sqlite *store, int64_t instance_id, int64_t ts_us,
    const Pgfleet__V1__TablesFamily *family)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (family->n_tables == 0)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO table_stats (instance_id, ts_us, datname, schemaname, relname, relid,"
	    " table_bytes, indexes_bytes, toast_bytes, total_bytes, n_live_tup, n_dead_tup,"
	    " seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd,"
	    " n_tup_hot_upd, n_tup_del, last_vacuum_us, last_autovacuum_us, last_analyze_us,"
	    " last_autoanalyze_us, vacuum_count, autovacuum_count, analyze_count,"
	    " autoanalyze_count, n_mod_since_analyze, n_ins_since_vacuum, relfrozenxid_age,"
	    " reltuples, autovacuum_enabled, autovacuum_vacuum_threshold,"
	    " autovacuum_vacuum_scale_factor, autovacuum_analyze_threshold,"
	    " autovacuum_analyze_scale_factor, autovacuum_vacuum_trigger,"
	    " autovacuum_analyze_trigger)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
	    " ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32,"
	    " ?33, ?34, ?35, ?36, ?37, ?38, ?39)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_tables; i++) {
		const Pgfleet__V1__TableStat *t = family->tables[i];
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, ts_us);
		if ((rc = sqlite_bind_clean_string(stmt, 3, t->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, t->schema)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 5, t->table)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 6, t->relid);
		sqlite3_bind_int64(stmt, 7, t->table_bytes);
		sqlite3_bind_int64(stmt, 8, t->indexes_bytes);
		sqlite3_bind_int64(stmt, 9, t->toast_bytes);
		sqlite3_bind_int64(stmt, 10, t->total_bytes);
		sqlite3_bind_int64(stmt, 11, t->n_live_tup);
		sqlite3_bind_int64(stmt, 12, t->n_dead_tup);
		sqlite3_bind_int64(stmt, 13, t->seq_scan);
		sqlite3_bind_int64(stmt, 14, t->seq_tup_read);
		sqlite3_bind_int64(stmt, 15, t->idx_scan);
		sqlite3_bind_int64(stmt, 16, t->idx_tup_fetch);
		sqlite3_bind_int64(stmt, 17, t->n_tup_ins);
		sqlite3_bind_int64(stmt, 18, t->n_tup_upd);
		sqlite3_bind_int64(stmt, 19, t->n_tup_hot_upd);
		sqlite3_bind_int64(stmt, 20, t->n_tup_del);
		sqlite3_bind_int64(stmt, 21, t->last_vacuum_us);
		sqlite3_bind_int64(stmt, 22, t->last_autovacuum_us);
		sqlite3_bind_int64(stmt, 23, t->last_analyze_us);
		sqlite3_bind_int64(stmt, 24, t->last_autoanalyze_us);
		sqlite3_bind_int64(stmt, 25, t->vacuum_count);
		sqlite3_bind_int64(stmt, 26, t->autovacuum_count);
		sqlite3_bind_int64(stmt, 27, t->analyze_count);
		sqlite3_bind_int64(stmt, 28, t->autoanalyze_count);
		sqlite3_bind_int64(stmt, 29, t->n_mod_since_analyze);
		sqlite3_bind_int64(stmt, 30, t->n_ins_since_vacuum);
		sqlite3_bind_int64(stmt, 31, t->relfrozenxid_age);
		/* a NaN would be stored as NULL and break NOT NULL */
		sqlite3_bind_double(stmt, 32, isfinite(t->reltuples) ? t->reltuples : -1.0);
		sqlite3_bind_int(stmt, 33, t->autovacuum_enabled);
		sqlite3_bind_int64(stmt, 34, t->autovacuum_vacuum_threshold);
		sqlite3_bind_double(stmt, 35, isfinite(t->autovacuum_vacuum_scale_factor)
			? t->autovacuum_vacuum_scale_factor : 0.0);
		sqlite3_bind_int64(stmt, 36, t->autovacuum_analyze_threshold);
		sqlite3_bind_double(stmt, 37, isfinite(t->autovacuum_analyze_scale_factor)
			? t->autovacuum_analyze_scale_factor : 0.0);
		sqlite3_bind_double(stmt, 38, isfinite(t->autovacuum_vacuum_trigger)
			? t->autovacuum_vacuum_trigger : 0.0);
		sqlite3_bind_double(stmt, 39, isfinite(t->autovacuum_analyze_trigger)
			? t->autovacuum_analyze_trigger : 0.0);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	rc = SQLITE_OK;
done:
	sqlite3_finalize(stmt);
	return rc;
}

static int
insert_indexes(struct store_sqlite *store, int64_t instance_id, int64_t ts_us,
    const Pgfleet__V1__IndexesFamily *family)
{
	sqlite3_stmt *stats = NULL;
	sqlite3_stmt *definition = NULL;
	int rc;

	if (family->n_indexes == 0)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO index_stats (instance_id, ts_us, datname, schemaname, relname,"
	    " indexrelname, indexrelid, idx_scan, idx_tup_read, idx_tup_fetch, size_bytes,"
	    " is_unique, is_primary, is_valid, constraint_type, last_idx_scan_us)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	    -1, &stats, NULL);
	if (rc != SQLITE_OK)
		goto done;
	/* the definition only moves forward in time (a backlog replayed
	 * later must not bring an old one back) and is only written when it
	 * changed, so the usual report writes nothing here */
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO index_definitions (instance_id, datname, schemaname, indexrelname,"
	    " definition, access_method, predicate, updated_us)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	    " ON CONFLICT (instance_id, datname, schemaname, indexrelname) DO UPDATE SET"
	    " definition = excluded.definition, access_method = excluded.access_method,"
	    " predicate = excluded.predicate, updated_us = excluded.updated_us"
	    " WHERE excluded.updated_us > index_definitions.updated_us"
	    " AND (excluded.definition <> index_definitions.definition"
	    " OR excluded.access_method <> index_definitions.access_method"
	    " OR excluded.predicate <> index_definitions.predicate)",
	    -1, &definition, NULL);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_indexes; i++) {
		const Pgfleet__V1__IndexStat *x = family->indexes[i];
		sqlite3_reset(stats);
		sqlite3_clear_bindings(stats);
		sqlite3_bind_int64(stats, 1, instance_id);
		sqlite3_bind_int64(stats, 2, ts_us);
		if ((rc = sqlite_bind_clean_string(stats, 3, x->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stats, 4, x->schema)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stats, 5, x->table)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stats, 6, x->index)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stats, 15, x->constraint_type)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stats, 7, x->indexrelid);
		sqlite3_bind_int64(stats, 8, x->idx_scan);
		sqlite3_bind_int64(stats, 9, x->idx_tup_read);
		sqlite3_bind_int64(stats, 10, x->idx_tup_fetch);
		sqlite3_bind_int64(stats, 11, x->size_bytes);
		sqlite3_bind_int(stats, 12, x->is_unique);
		sqlite3_bind_int(stats, 13, x->is_primary);
		sqlite3_bind_int(stats, 14, x->is_valid);
		sqlite3_bind_int64(stats, 16, x->last_idx_scan_us);
		if ((rc = sqlite_step_done(stats)) != SQLITE_OK)
			goto done;

		sqlite3_reset(definition);
		sqlite3_clear_bindings(definition);
		sqlite3_bind_int64(definition, 1, instance_id);
		if ((rc = sqlite_bind_clean_string(definition, 2, x->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(definition, 3, x->schema)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(definition, 4, x->index)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(definition, 5, x->definition)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(definition, 6, x->access_method)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(definition, 7, x->predicate)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(definition, 8, ts_us);
		if ((rc = sqlite_step_done(definition)) != SQLITE_OK)
			goto done;
	}
	rc = SQLITE_OK;
done:
	sqlite3_finalize(stats);
	sqlite3_finalize(definition);
	return rc;
}

static int
insert_bloat(struct store_sqlite *store, int64_t instance_id, int64_t ts_us,
    const Pgfleet__V1__BloatFamily *family)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (family->n_estimates == 0)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(store->db,
	    "INSERT INTO bloat_estimates (instance_id, ts_us, datname, schemaname, relname,"
	    " indexrelname, real_bytes, expected_bytes, bloat_bytes, bloat_ratio, unreliable)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto done;
	for (size_t i = 0; i < family->n_estimates; i++) {
		const Pgfleet__V1__BloatEstimate *e = family->estimates[i];
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_int64(stmt, 2, ts_us);
		if ((rc = sqlite_bind_clean_string(stmt, 3, e->database)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 4, e->schema)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 5, e->table)) != SQLITE_OK ||
		    (rc = sqlite_bind_clean_string(stmt, 6, e->index)) != SQLITE_OK)
			goto done;
		sqlite3_bind_int64(stmt, 7, e->real_bytes);
		sqlite3_bind_int64(stmt, 8, e->expected_bytes);
		sqlite3_bind_int64(stmt, 9, e->bloat_bytes);
		sqlite3_bind_double(stmt, 10, isfinite(e->bloat_ratio) ? e->bloat_ratio : 0.0);
		sqlite3_bind_int(stmt, 11, e->is_estimate_unreliable);
		if ((rc = sqlite_step_done(stmt)) != SQLITE_OK)
			goto done;
	}
	rc = SQLITE_OK;
done:
	sqlite3_finalize(stmt);
	return rc;
}

int
store_sqlite_tables_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report)
{
	int rc = SQLITE_OK;

	if (report->tables != NULL &&
	    (rc = insert_tables(store, instance_id, report->collected_at_us,
		 report->tables)) != SQLITE_OK)
		return rc;
	if (report->indexes != NULL &&
	    (rc = insert_indexes(store, instance_id, report->collected_at_us,
		 report->indexes)) != SQLITE_OK)
		return rc;
	if (report->bloat != NULL &&
	    (rc = insert_bloat(store, instance_id, report->collected_at_us, report->bloat)) !=
		SQLITE_OK)
		return rc;
	return SQLITE_OK;
}

/* ---- answers ---- */

/*
 * LATEST_SNAPSHOT(family) is the common table expression `latest`: one row
 * per instance in the scope (?1 instance name, ?2 cluster) with its newest
 * ts_us in the family's table inside the window (?4 since, ?5 until,
 * 0 = open), NULL when it has none. LATEST_TS and LATEST_FROM are its
 * parts, for a `latest` with more than one family's snapshot.
 *
 * MATERIALIZED keeps SQLite from flattening it into the outer query (which
 * would scan the whole history); the newest ts_us is a backward range
 * search of the (instance_id, ts_us) index that stops at its first entry.
 */
#define LATEST_TS(family, alias)                                                  \
	"(SELECT f.ts_us FROM " family " f WHERE f.instance_id = i.instance_id"     \
	" AND f.ts_us >= ?4"                                                        \
	" AND f.ts_us < CASE WHEN ?5 = 0 THEN 9223372036854775807 ELSE ?5 END"      \
	" ORDER BY f.ts_us DESC LIMIT 1) AS " alias
#define LATEST_FROM                                                               \
	" FROM instances i WHERE (?1 = '' OR i.name = ?1)"                        \
	" AND (?2 = '' OR i.system_identifier = ?2))"
#define LATEST_SNAPSHOT(family)                                                   \
	"WITH latest AS MATERIALIZED (SELECT i.instance_id, i.name, "               \
	    LATEST_TS(family, "ts_us") LATEST_FROM

/* bind_scope binds ?1..?5 (the scope) and ?6 (the limit). */
static void
bind_scope(sqlite3_stmt *stmt, const Pgfleet__V1__Scope *scope, uint32_t limit)
{
	sqlite3_bind_text(stmt, 1, scope != NULL ? scope->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, scope != NULL ? scope->cluster : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, scope != NULL ? scope->database : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, scope != NULL ? scope->since_us : 0);
	sqlite3_bind_int64(stmt, 5, scope != NULL ? scope->until_us : 0);
	sqlite3_bind_int64(stmt, 6, limit > 0 ? limit : TABLES_DEFAULT_LIMIT);
}

/* column_size is a malloc'd pg_size_pretty() text of an integer column;
 * NULL when out of memory. */
static char *
column_size(sqlite3_stmt *stmt, int column)
{
	char buf[32];
	return strdup(pgf_size_pretty(sqlite3_column_int64(stmt, column), buf, sizeof(buf)));
}

/* column_time is a malloc'd "YYYY-MM-DD HH:MM:SS" (UTC) text of a column
 * of microseconds since the epoch, "" for 0 (never); NULL when out of
 * memory. */
static char *
column_time(sqlite3_stmt *stmt, int column)
{
	int64_t us = sqlite3_column_int64(stmt, column);
	time_t seconds;
	struct tm tm;
	char buf[32];

	if (us <= 0)
		return strdup("");
	/* floor, so a time before the epoch would not round up a second */
	seconds = (time_t) (us / 1000000);
	if (gmtime_r(&seconds, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return strdup("");
	return strdup(buf);
}

/* append_row adds one initialised message of descriptor's type to an
 * answer's rows: rows_slot is the address of the rows array (some T **),
 * *n_rows its length, *capacity its allocated size. Returns the new row,
 * or NULL when out of memory (the rows so far are kept, to be freed with
 * the answer). */
static void *
append_row(void *rows_slot, size_t *n_rows, size_t *capacity,
    const ProtobufCMessageDescriptor *descriptor)
{
	void **rows;
	void *row;

	memcpy(&rows, rows_slot, sizeof(rows));
	if (*n_rows == *capacity) {
		size_t count = *capacity == 0 ? 16 : *capacity * 2;
		void **bigger = realloc(rows, count * sizeof(rows[0]));
		if (bigger == NULL)
			return NULL;
		rows = bigger;
		memcpy(rows_slot, &rows, sizeof(rows));
		*capacity = count;
	}
	row = malloc(descriptor->sizeof_message);
	if (row == NULL)
		return NULL;
	protobuf_c_message_init(descriptor, row);
	rows[(*n_rows)++] = row;
	return row;
}

/* percentage is part / whole * 100 rounded to two decimals: 100 when only
 * part exists, 0 when neither. */
static double
percentage(double part, double whole)
{
	if (whole <= 0.0)
		return part > 0.0 ? 100.0 : 0.0;
	return round(part * 100.0 / whole * 100.0) / 100.0;
}

/* The answer's rows on the way out: what every listing shares. A failed
 * row stays in the answer and is freed with it (its unset strings are the
 * protobuf-c empty default, which the free leaves alone). */
struct listing {
	struct store_sqlite *store;
	sqlite3_stmt *stmt;
	size_t capacity;
};

/* listing_prepare prepares sql and binds the scope; PGF_OK or a store
 * error naming what. */
static int
listing_prepare(struct listing *listing, struct store *base, const char *sql,
    const Pgfleet__V1__Scope *scope, uint32_t limit, const char *what, char *errbuf,
    size_t errlen)
{
	int rc;

	listing->store = (struct store_sqlite *) base;
	listing->stmt = NULL;
	listing->capacity = 0;
	rc = sqlite3_prepare_v2(listing->store->db, sql, -1, &listing->stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(listing->store->db, rc, what, errbuf, errlen);
	bind_scope(listing->stmt, scope, limit);
	return PGF_OK;
}

/* listing_finish finalizes and turns the last step's rc (or out of
 * memory) into the answer's result. */
static int
listing_finish(struct listing *listing, int rc, bool out_of_memory, const char *what,
    char *errbuf, size_t errlen)
{
	int rv = PGF_OK;

	if (out_of_memory) {
		snprintf(errbuf, errlen, "out of memory");
		rv = PGF_ENOMEM;
	} else if (rc != SQLITE_DONE) {
		rv = sqlite_store_error(listing->store->db, rc, what, errbuf, errlen);
	}
	sqlite3_finalize(listing->stmt);
	listing->stmt = NULL;
	return rv;
}

int
store_sqlite_table_stats(struct store *base, const Pgfleet__V1__TableStatsRequest *request,
    Pgfleet__V1__TableStats *answer, char *errbuf, size_t errlen)
{
	static const char sql[] =
	    LATEST_SNAPSHOT("table_stats")
	    " SELECT l.name, s.datname, s.schemaname, s.relname, s.total_bytes,"
	    "  s.table_bytes, s.indexes_bytes, s.seq_scan, s.seq_tup_read, s.idx_scan,"
	    "  s.idx_tup_fetch, s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd,"
	    "  s.n_live_tup, s.n_dead_tup, s.ts_us,"
	    "  (SELECT last_seen_us FROM instances WHERE instance_id = l.instance_id),"
	    "  (SELECT report_interval_ms FROM instances WHERE instance_id = l.instance_id)"
	    " FROM latest l JOIN table_stats s"
	    "  ON s.instance_id = l.instance_id AND s.ts_us = l.ts_us"
	    " WHERE (?3 = '' OR s.datname = ?3)"
	    " ORDER BY s.total_bytes DESC, l.name, s.datname, s.schemaname, s.relname"
	    " LIMIT ?6";
	int64_t now_us = pgf_time_now_us();
	struct listing listing;
	bool out_of_memory = false;
	int rc = SQLITE_DONE;
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	if ((rv = listing_prepare(&listing, base, sql, request->scope, request->limit,
		 "prepare the table-stats query", errbuf, errlen)) != PGF_OK)
		return rv;
	while (!out_of_memory && (rc = sqlite3_step(listing.stmt)) == SQLITE_ROW) {
		sqlite3_stmt *stmt = listing.stmt;
		Pgfleet__V1__TableStatsRow *row;

		row = append_row(&answer->rows, &answer->n_rows, &listing.capacity,
		    &pgfleet__v1__table_stats_row__descriptor);
		if (row == NULL) {
			out_of_memory = true;
			break;
		}
		row->instance = sqlite_column_text(stmt, 0);
		row->database = sqlite_column_text(stmt, 1);
		row->schema = sqlite_column_text(stmt, 2);
		row->table = sqlite_column_text(stmt, 3);
		row->total_size = column_size(stmt, 4);
		row->table_size = column_size(stmt, 5);
		row->indexes_size = column_size(stmt, 6);
		row->collected_at = column_time(stmt, 17);
		row->total_bytes = sqlite3_column_int64(stmt, 4);
		row->seq_scans = sqlite3_column_int64(stmt, 7);
		row->seq_tuples_read = sqlite3_column_int64(stmt, 8);
		row->index_scans = sqlite3_column_int64(stmt, 9);
		row->index_tuples_fetched = sqlite3_column_int64(stmt, 10);
		row->inserts = sqlite3_column_int64(stmt, 11);
		row->updates = sqlite3_column_int64(stmt, 12);
		row->deletes = sqlite3_column_int64(stmt, 13);
		row->hot_updates = sqlite3_column_int64(stmt, 14);
		row->live_tuples = sqlite3_column_int64(stmt, 15);
		row->dead_tuples = sqlite3_column_int64(stmt, 16);
		row->stale = store_sqlite_stale(sqlite3_column_int64(stmt, 18),
		    sqlite3_column_int64(stmt, 19), now_us);
		out_of_memory = row->instance == NULL || row->database == NULL ||
		    row->schema == NULL || row->table == NULL || row->total_size == NULL ||
		    row->table_size == NULL || row->indexes_size == NULL ||
		    row->collected_at == NULL;
	}
	return listing_finish(&listing, rc, out_of_memory, "read table stats", errbuf, errlen);
}

int
store_sqlite_index_usage(struct store *base, const Pgfleet__V1__IndexUsageRequest *request,
    Pgfleet__V1__IndexUsage *answer, char *errbuf, size_t errlen)
{
	/* unused: never scanned, and nothing else needs it (a constraint or
	 * uniqueness is enforced with zero scans) */
	static const char sql[] =
	    LATEST_SNAPSHOT("index_stats")
	    " SELECT l.name, x.datname, x.schemaname, x.relname, x.indexrelname,"
	    "  x.idx_scan, x.idx_tup_read, x.idx_tup_fetch, x.size_bytes,"
	    "  coalesce(d.definition, ''), x.is_unique, x.is_primary, x.is_valid,"
	    "  x.constraint_type, x.ts_us,"
	    "  (x.idx_scan = 0 AND NOT x.is_unique AND NOT x.is_primary"
	    "   AND x.constraint_type = '') AS unused,"
	    "  (SELECT last_seen_us FROM instances WHERE instance_id = l.instance_id),"
	    "  (SELECT report_interval_ms FROM instances WHERE instance_id = l.instance_id)"
	    " FROM latest l JOIN index_stats x"
	    "  ON x.instance_id = l.instance_id AND x.ts_us = l.ts_us"
	    " LEFT JOIN index_definitions d ON d.instance_id = x.instance_id"
	    "  AND d.datname = x.datname AND d.schemaname = x.schemaname"
	    "  AND d.indexrelname = x.indexrelname"
	    " WHERE (?3 = '' OR x.datname = ?3)"
	    " ORDER BY unused DESC, x.size_bytes DESC, l.name, x.datname, x.schemaname,"
	    "  x.relname, x.indexrelname"
	    " LIMIT ?6";
	int64_t now_us = pgf_time_now_us();
	struct listing listing;
	bool out_of_memory = false;
	int rc = SQLITE_DONE;
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	if ((rv = listing_prepare(&listing, base, sql, request->scope, request->limit,
		 "prepare the index-usage query", errbuf, errlen)) != PGF_OK)
		return rv;
	while (!out_of_memory && (rc = sqlite3_step(listing.stmt)) == SQLITE_ROW) {
		sqlite3_stmt *stmt = listing.stmt;
		Pgfleet__V1__IndexUsageRow *row;

		row = append_row(&answer->rows, &answer->n_rows, &listing.capacity,
		    &pgfleet__v1__index_usage_row__descriptor);
		if (row == NULL) {
			out_of_memory = true;
			break;
		}
		row->instance = sqlite_column_text(stmt, 0);
		row->database = sqlite_column_text(stmt, 1);
		row->schema = sqlite_column_text(stmt, 2);
		row->table = sqlite_column_text(stmt, 3);
		row->index = sqlite_column_text(stmt, 4);
		row->size = column_size(stmt, 8);
		row->definition = sqlite_column_text(stmt, 9);
		row->constraint_type = sqlite_column_text(stmt, 13);
		row->collected_at = column_time(stmt, 14);
		row->scans = sqlite3_column_int64(stmt, 5);
		row->tuples_read = sqlite3_column_int64(stmt, 6);
		row->tuples_fetched = sqlite3_column_int64(stmt, 7);
		row->stale = store_sqlite_stale(sqlite3_column_int64(stmt, 16),
		    sqlite3_column_int64(stmt, 17), now_us);
		row->size_bytes = sqlite3_column_int64(stmt, 8);
		row->is_unique = sqlite3_column_int(stmt, 10) != 0;
		row->is_primary = sqlite3_column_int(stmt, 11) != 0;
		row->is_valid = sqlite3_column_int(stmt, 12) != 0;
		row->unused = sqlite3_column_int(stmt, 15) != 0;
		out_of_memory = row->instance == NULL || row->database == NULL ||
		    row->schema == NULL || row->table == NULL || row->index == NULL ||
		    row->size == NULL || row->definition == NULL ||
		    row->constraint_type == NULL || row->collected_at == NULL;
	}
	return listing_finish(&listing, rc, out_of_memory, "read index usage", errbuf, errlen);
}

int
store_sqlite_bloat_stats(struct store *base, const Pgfleet__V1__BloatStatsRequest *request,
    Pgfleet__V1__BloatStats *answer, char *errbuf, size_t errlen)
{
	/* the tables' snapshot and, on its own cadence, the bloat family's:
	 * each table gets its estimate from the newest bloat snapshot */
	static const char sql[] =
	    "WITH latest AS MATERIALIZED (SELECT i.instance_id, i.name, "
	    LATEST_TS("table_stats", "ts_us") ", " LATEST_TS("bloat_estimates", "bloat_ts_us")
	    LATEST_FROM
	    " SELECT l.name, s.datname, s.schemaname, s.relname, s.total_bytes,"
	    "  s.n_dead_tup, s.n_live_tup, s.last_vacuum_us, s.last_autovacuum_us,"
	    "  s.autovacuum_vacuum_trigger, s.autovacuum_enabled,"
	    "  coalesce(b.bloat_bytes, 0), coalesce(b.bloat_ratio, 0),"
	    "  coalesce(b.unreliable, 0), s.ts_us,"
	    "  (SELECT last_seen_us FROM instances WHERE instance_id = l.instance_id),"
	    "  (SELECT report_interval_ms FROM instances WHERE instance_id = l.instance_id)"
	    " FROM latest l JOIN table_stats s"
	    "  ON s.instance_id = l.instance_id AND s.ts_us = l.ts_us"
	    " LEFT JOIN bloat_estimates b ON b.instance_id = l.instance_id"
	    "  AND b.ts_us = l.bloat_ts_us AND b.datname = s.datname"
	    "  AND b.schemaname = s.schemaname AND b.relname = s.relname"
	    "  AND b.indexrelname = ''"
	    " WHERE (?3 = '' OR s.datname = ?3)"
	    " ORDER BY s.n_dead_tup DESC, l.name, s.datname, s.schemaname, s.relname"
	    " LIMIT ?6";
	int64_t now_us = pgf_time_now_us();
	struct listing listing;
	bool out_of_memory = false;
	int rc = SQLITE_DONE;
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	if ((rv = listing_prepare(&listing, base, sql, request->scope, request->limit,
		 "prepare the bloat-stats query", errbuf, errlen)) != PGF_OK)
		return rv;
	while (!out_of_memory && (rc = sqlite3_step(listing.stmt)) == SQLITE_ROW) {
		sqlite3_stmt *stmt = listing.stmt;
		Pgfleet__V1__BloatStatsRow *row;

		row = append_row(&answer->rows, &answer->n_rows, &listing.capacity,
		    &pgfleet__v1__bloat_stats_row__descriptor);
		if (row == NULL) {
			out_of_memory = true;
			break;
		}
		row->instance = sqlite_column_text(stmt, 0);
		row->database = sqlite_column_text(stmt, 1);
		row->schema = sqlite_column_text(stmt, 2);
		row->table = sqlite_column_text(stmt, 3);
		row->total_size = column_size(stmt, 4);
		row->last_vacuum = column_time(stmt, 7);
		row->last_autovacuum = column_time(stmt, 8);
		row->collected_at = column_time(stmt, 14);
		row->dead_tuples = sqlite3_column_int64(stmt, 5);
		row->live_tuples = sqlite3_column_int64(stmt, 6);
		row->stale = store_sqlite_stale(sqlite3_column_int64(stmt, 15),
		    sqlite3_column_int64(stmt, 16), now_us);
		row->bloat_percentage =
		    percentage((double) row->dead_tuples, (double) row->live_tuples);
		row->vacuum_trigger = sqlite3_column_double(stmt, 9);
		row->needs_vacuum = (double) row->dead_tuples > row->vacuum_trigger;
		row->autovacuum_enabled = sqlite3_column_int(stmt, 10) != 0;
		row->estimated_bloat_bytes = sqlite3_column_int64(stmt, 11);
		row->estimated_bloat_percentage =
		    round(sqlite3_column_double(stmt, 12) * 100.0 * 100.0) / 100.0;
		row->estimate_unreliable = sqlite3_column_int(stmt, 13) != 0;
		out_of_memory = row->instance == NULL || row->database == NULL ||
		    row->schema == NULL || row->table == NULL || row->total_size == NULL ||
		    row->last_vacuum == NULL || row->last_autovacuum == NULL ||
		    row->collected_at == NULL;
	}
	return listing_finish(&listing, rc, out_of_memory, "read bloat stats", errbuf, errlen);
}

/* ---- trends ---- */

/*
 * The table a table-trend is about: the (instance, database, schema) that
 * hold a table of that name with a snapshot in the window, as one row:
 * how many distinct instances, databases and schemas, their names (", "
 * separated, sorted) and the first candidate. ?1..?3 the scope, ?4 ?5 the
 * window, ?6 the table, ?7 the schema ("" = any).
 */
static const char table_trend_candidates[] =
    "WITH c AS MATERIALIZED (SELECT DISTINCT i.instance_id, i.name, s.datname, s.schemaname"
    " FROM instances i JOIN table_stats s ON s.instance_id = i.instance_id"
    "  AND s.ts_us >= ?4 AND s.ts_us < ?5"
    " WHERE (?1 = '' OR i.name = ?1) AND (?2 = '' OR i.system_identifier = ?2)"
    "  AND (?3 = '' OR s.datname = ?3) AND s.relname = ?6"
    "  AND (?7 = '' OR s.schemaname = ?7))"
    " SELECT (SELECT count(DISTINCT instance_id) FROM c),"
    "  (SELECT count(DISTINCT datname) FROM c),"
    "  (SELECT count(DISTINCT schemaname) FROM c),"
    "  (SELECT group_concat(name, ', ') FROM (SELECT DISTINCT name FROM c ORDER BY name)),"
    "  (SELECT group_concat(datname, ', ') FROM"
    "   (SELECT DISTINCT datname FROM c ORDER BY datname)),"
    "  (SELECT group_concat(schemaname, ', ') FROM"
    "   (SELECT DISTINCT schemaname FROM c ORDER BY schemaname)),"
    "  c.instance_id, c.name, c.datname, c.schemaname"
    " FROM c ORDER BY c.name, c.datname, c.schemaname LIMIT 1";

/* The snapshots of one table in the window, oldest first. */
static const char table_trend_points[] =
    "SELECT ts_us, total_bytes, n_live_tup, n_dead_tup FROM table_stats"
    " WHERE instance_id = ?1 AND ts_us >= ?2 AND ts_us < ?3 AND datname = ?4"
    "  AND schemaname = ?5 AND relname = ?6 ORDER BY ts_us";

/*
 * find_trend_table sets answer's instance, database and schema to the one
 * table the request names, and *instance_id; PGF_ENOTFOUND when none,
 * PGF_EINVAL (with what to name) when several.
 */
static int
find_trend_table(struct store_sqlite *store, const Pgfleet__V1__TableTrendRequest *request,
    const struct store_sqlite_buckets *buckets, Pgfleet__V1__TableTrend *answer,
    int64_t *instance_id, char *errbuf, size_t errlen)
{
	const Pgfleet__V1__Scope *scope = request->scope;
	const char *schema = request->schema != NULL ? request->schema : "";
	sqlite3_stmt *stmt = NULL;
	char name[256];
	int rv = PGF_ENOMEM;
	int rc;

	snprintf(name, sizeof(name), "%s%s%s", schema, schema[0] != '\0' ? "." : "",
	    request->table);
	rc = sqlite3_prepare_v2(store->db, table_trend_candidates, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rv = sqlite_store_error(store->db, rc, "prepare the table-trend query", errbuf,
		    errlen);
		goto done;
	}
	sqlite3_bind_text(stmt, 1, scope != NULL ? scope->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, scope != NULL ? scope->cluster : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, scope != NULL ? scope->database : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, buckets->since_us);
	sqlite3_bind_int64(stmt, 5, buckets->until_us);
	sqlite3_bind_text(stmt, 6, request->table, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, schema, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		snprintf(errbuf, errlen, "table %s has no statistics in the window", name);
		rv = PGF_ENOTFOUND;
		goto done;
	}
	if (rc != SQLITE_ROW) {
		rv = sqlite_store_error(store->db, rc, "find the table", errbuf, errlen);
		goto done;
	}
	/* one instance, then one database, then one schema */
	for (int column = 0; column < 3; column++) {
		static const char *const what[] = {"name an instance: table %s exists on %s",
		    "name a database: table %s exists in %s", "name a schema: table %s exists in %s"};
		if (sqlite3_column_int64(stmt, column) > 1) {
			snprintf(errbuf, errlen, what[column], name,
			    (const char *) sqlite3_column_text(stmt, column + 3));
			rv = PGF_EINVAL;
			goto done;
		}
	}
	*instance_id = sqlite3_column_int64(stmt, 6);
	answer->instance = sqlite_column_text(stmt, 7);
	answer->database = sqlite_column_text(stmt, 8);
	answer->schema = sqlite_column_text(stmt, 9);
	answer->table = strdup(request->table);
	if (answer->instance == NULL || answer->database == NULL || answer->schema == NULL ||
	    answer->table == NULL)
		goto done;
	rv = PGF_OK;
done:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	sqlite3_finalize(stmt);
	return rv;
}

int
store_sqlite_table_trend(struct store *base, const Pgfleet__V1__TableTrendRequest *request,
    Pgfleet__V1__TableTrend *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	struct store_sqlite_buckets buckets;
	Pgfleet__V1__TableTrendPoint *point = NULL;
	sqlite3_stmt *stmt = NULL;
	int64_t instance_id = 0;
	double *sizes = NULL;
	double *dead = NULL;
	bool *present = NULL;
	size_t current = 0;
	char size[32];
	int rv;
	int rc;

	if (request->table == NULL || request->table[0] == '\0') {
		snprintf(errbuf, errlen, "name a table");
		return PGF_EINVAL;
	}
	if ((rv = store_sqlite_buckets_init(&buckets, request->scope, request->bucket_ms, errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if ((rv = find_trend_table(store, request, &buckets, answer, &instance_id, errbuf,
		 errlen)) != PGF_OK)
		return rv;
	rv = PGF_ENOMEM;
	answer->rows = calloc(buckets.count, sizeof(answer->rows[0]));
	sizes = calloc(buckets.count, sizeof(sizes[0]));
	dead = calloc(buckets.count, sizeof(dead[0]));
	present = calloc(buckets.count, sizeof(present[0]));
	if (answer->rows == NULL || sizes == NULL || dead == NULL || present == NULL)
		goto done;
	rc = sqlite3_prepare_v2(store->db, table_trend_points, -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		rv = sqlite_store_error(store->db, rc, "prepare the table-trend query", errbuf,
		    errlen);
		goto done;
	}
	sqlite3_bind_int64(stmt, 1, instance_id);
	sqlite3_bind_int64(stmt, 2, buckets.since_us);
	sqlite3_bind_int64(stmt, 3, buckets.until_us);
	sqlite3_bind_text(stmt, 4, answer->database, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, answer->schema, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, answer->table, -1, SQLITE_STATIC);
	/* oldest first: a bucket's values are its last snapshot's, and a
	 * new bucket starts a new point */
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t ts_us = sqlite3_column_int64(stmt, 0);
		size_t bucket = (size_t) ((ts_us - buckets.since_us) / buckets.width_us);
		if (bucket >= buckets.count)
			continue;
		if (point == NULL || bucket != current) {
			if ((point = malloc(sizeof(*point))) == NULL)
				goto done;
			pgfleet__v1__table_trend_point__init(point);
			answer->rows[answer->n_rows++] = point;
			point->bucket_start_us = buckets.since_us + (int64_t) bucket * buckets.width_us;
			if ((point->bucket = store_sqlite_bucket_text(point->bucket_start_us)) == NULL)
				goto done;
			current = bucket;
			present[bucket] = true;
		}
		point->total_bytes = sqlite3_column_int64(stmt, 1);
		point->n_live_tup = sqlite3_column_int64(stmt, 2);
		point->n_dead_tup = sqlite3_column_int64(stmt, 3);
		if (point->n_dead_tup > point->max_dead_tup)
			point->max_dead_tup = point->n_dead_tup;
		sizes[bucket] = (double) point->total_bytes;
		dead[bucket] = (double) point->max_dead_tup;
	}
	if (rc != SQLITE_DONE) {
		rv = sqlite_store_error(store->db, rc, "read the table trend", errbuf, errlen);
		goto done;
	}
	for (size_t i = 0; i < answer->n_rows; i++) {
		point = answer->rows[i];
		if (i > 0)
			point->growth_bytes = point->total_bytes - answer->rows[i - 1]->total_bytes;
		point->total_size = strdup(pgf_size_pretty(point->total_bytes, size, sizeof(size)));
		if (point->total_size == NULL)
			goto done;
	}
	answer->size_sparkline = store_sqlite_sparkline(sizes, present, buckets.count);
	answer->dead_tuples_sparkline = store_sqlite_sparkline(dead, present, buckets.count);
	answer->bucket_width = store_sqlite_bucket_width(&buckets);
	if (answer->size_sparkline == NULL || answer->dead_tuples_sparkline == NULL ||
	    answer->bucket_width == NULL)
		goto done;
	rv = PGF_OK;
done:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	sqlite3_finalize(stmt);
	free(sizes);
	free(dead);
	free(present);
	return rv;
}
