/*
 * store_pg_tables.c - tables, indexes and bloat in the PostgreSQL store:
 * the families written as store_sqlite_tables.c writes them, and the
 * table-stats, index-usage and bloat-stats answers: one snapshot per
 * instance (its newest in the family's table, inside the scope's window),
 * the same columns, orders and limits.
 */
#include "collector/store_pg_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/pg_array.h"
#include "common/size_pretty.h"
#include "common/sparkline.h"
#include "common/timeutil.h"

/* Rows in an answer when the request names no limit (SQLite's). */
#define TABLES_DEFAULT_LIMIT 50
/* As the fleet's staleness rule (store_sqlite_stale). */
#define STALE_INTERVALS 3
#define DEFAULT_INTERVAL_MS 60000

static bool
stale(int64_t last_seen_us, int64_t interval_ms, int64_t now_us)
{
	if (interval_ms <= 0)
		interval_ms = DEFAULT_INTERVAL_MS;
	return now_us - last_seen_us > STALE_INTERVALS * 1000 * interval_ms;
}

/* A double SQLite would have stored: not a NaN (NOT NULL there). */
static double
finite_or(double value, double fallback)
{
	return isfinite(value) ? value : fallback;
}

/* ---- writing ----------------------------------------------------------- */

/* One INSERT for the family's tables: a parameter per column, each an
 * array of the tables' values (pg_array.h), unnested in the family's
 * order, as store_pg.c writes a report's statements. */
enum table_column {
	TC_DATNAME, TC_SCHEMANAME, TC_RELNAME, TC_RELID, TC_TABLE_BYTES, TC_INDEXES_BYTES,
	TC_TOAST_BYTES, TC_TOTAL_BYTES, TC_N_LIVE_TUP, TC_N_DEAD_TUP, TC_SEQ_SCAN,
	TC_SEQ_TUP_READ, TC_IDX_SCAN, TC_IDX_TUP_FETCH, TC_N_TUP_INS, TC_N_TUP_UPD,
	TC_N_TUP_HOT_UPD, TC_N_TUP_DEL, TC_LAST_VACUUM, TC_LAST_AUTOVACUUM, TC_LAST_ANALYZE,
	TC_LAST_AUTOANALYZE, TC_VACUUM_COUNT, TC_AUTOVACUUM_COUNT, TC_ANALYZE_COUNT,
	TC_AUTOANALYZE_COUNT, TC_N_MOD_SINCE_ANALYZE, TC_N_INS_SINCE_VACUUM,
	TC_RELFROZENXID_AGE, TC_RELTUPLES, TC_AUTOVACUUM_ENABLED, TC_AV_VACUUM_THRESHOLD,
	TC_AV_VACUUM_SCALE_FACTOR, TC_AV_ANALYZE_THRESHOLD, TC_AV_ANALYZE_SCALE_FACTOR,
	TC_AV_VACUUM_TRIGGER, TC_AV_ANALYZE_TRIGGER, TABLE_COLUMNS
};

static void
insert_tables(struct store_pg *store, struct pg_pipeline *pipeline, int64_t instance_id,
    int64_t ts_us, const Pgfleet__V1__TablesFamily *family)
{
	struct pg_array c[TABLE_COLUMNS];
	struct pg_params p;

	if (family->n_tables == 0)
		return;
	for (int k = 0; k < TABLE_COLUMNS; k++)
		pg_array_init(&c[k]);
	for (size_t i = 0; i < family->n_tables; i++) {
		const Pgfleet__V1__TableStat *t = family->tables[i];
		pg_array_add_text(&c[TC_DATNAME], t->database);
		pg_array_add_text(&c[TC_SCHEMANAME], t->schema);
		pg_array_add_text(&c[TC_RELNAME], t->table);
		pg_array_add_int(&c[TC_RELID], t->relid);
		pg_array_add_int(&c[TC_TABLE_BYTES], t->table_bytes);
		pg_array_add_int(&c[TC_INDEXES_BYTES], t->indexes_bytes);
		pg_array_add_int(&c[TC_TOAST_BYTES], t->toast_bytes);
		pg_array_add_int(&c[TC_TOTAL_BYTES], t->total_bytes);
		pg_array_add_int(&c[TC_N_LIVE_TUP], t->n_live_tup);
		pg_array_add_int(&c[TC_N_DEAD_TUP], t->n_dead_tup);
		pg_array_add_int(&c[TC_SEQ_SCAN], t->seq_scan);
		pg_array_add_int(&c[TC_SEQ_TUP_READ], t->seq_tup_read);
		pg_array_add_int(&c[TC_IDX_SCAN], t->idx_scan);
		pg_array_add_int(&c[TC_IDX_TUP_FETCH], t->idx_tup_fetch);
		pg_array_add_int(&c[TC_N_TUP_INS], t->n_tup_ins);
		pg_array_add_int(&c[TC_N_TUP_UPD], t->n_tup_upd);
		pg_array_add_int(&c[TC_N_TUP_HOT_UPD], t->n_tup_hot_upd);
		pg_array_add_int(&c[TC_N_TUP_DEL], t->n_tup_del);
		pg_array_add_int(&c[TC_LAST_VACUUM], t->last_vacuum_us);
		pg_array_add_int(&c[TC_LAST_AUTOVACUUM], t->last_autovacuum_us);
		pg_array_add_int(&c[TC_LAST_ANALYZE], t->last_analyze_us);
		pg_array_add_int(&c[TC_LAST_AUTOANALYZE], t->last_autoanalyze_us);
		pg_array_add_int(&c[TC_VACUUM_COUNT], t->vacuum_count);
		pg_array_add_int(&c[TC_AUTOVACUUM_COUNT], t->autovacuum_count);
		pg_array_add_int(&c[TC_ANALYZE_COUNT], t->analyze_count);
		pg_array_add_int(&c[TC_AUTOANALYZE_COUNT], t->autoanalyze_count);
		pg_array_add_int(&c[TC_N_MOD_SINCE_ANALYZE], t->n_mod_since_analyze);
		pg_array_add_int(&c[TC_N_INS_SINCE_VACUUM], t->n_ins_since_vacuum);
		pg_array_add_int(&c[TC_RELFROZENXID_AGE], t->relfrozenxid_age);
		pg_array_add_double(&c[TC_RELTUPLES], finite_or(t->reltuples, -1.0));
		pg_array_add_bool(&c[TC_AUTOVACUUM_ENABLED], t->autovacuum_enabled);
		pg_array_add_int(&c[TC_AV_VACUUM_THRESHOLD], t->autovacuum_vacuum_threshold);
		pg_array_add_double(&c[TC_AV_VACUUM_SCALE_FACTOR],
		    finite_or(t->autovacuum_vacuum_scale_factor, 0.0));
		pg_array_add_int(&c[TC_AV_ANALYZE_THRESHOLD], t->autovacuum_analyze_threshold);
		pg_array_add_double(&c[TC_AV_ANALYZE_SCALE_FACTOR],
		    finite_or(t->autovacuum_analyze_scale_factor, 0.0));
		pg_array_add_double(&c[TC_AV_VACUUM_TRIGGER],
		    finite_or(t->autovacuum_vacuum_trigger, 0.0));
		pg_array_add_double(&c[TC_AV_ANALYZE_TRIGGER],
		    finite_or(t->autovacuum_analyze_trigger, 0.0));
	}
	pg_params_init(&p);
	pg_param_int(&p, instance_id);
	pg_param_int(&p, ts_us);
	/* an array out of memory is a NULL literal: the parameters fail, and
	 * so does the pipeline */
	for (int k = 0; k < TABLE_COLUMNS; k++)
		pg_param_array(&p, pg_array_finish(&c[k]));
	pg_pipeline_send(store, pipeline,
	    "INSERT INTO table_stats (instance_id, ts_us, datname, schemaname, relname,"
	    " relid, table_bytes, indexes_bytes, toast_bytes, total_bytes, n_live_tup,"
	    " n_dead_tup, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins,"
	    " n_tup_upd, n_tup_hot_upd, n_tup_del, last_vacuum_us, last_autovacuum_us,"
	    " last_analyze_us, last_autoanalyze_us, vacuum_count, autovacuum_count,"
	    " analyze_count, autoanalyze_count, n_mod_since_analyze, n_ins_since_vacuum,"
	    " relfrozenxid_age, reltuples, autovacuum_enabled,"
	    " autovacuum_vacuum_threshold, autovacuum_vacuum_scale_factor,"
	    " autovacuum_analyze_threshold, autovacuum_analyze_scale_factor,"
	    " autovacuum_vacuum_trigger, autovacuum_analyze_trigger)"
	    " SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[], $5::text[],"
	    "  $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[],"
	    "  $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[],"
	    "  $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[],"
	    "  $21::bigint[], $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[],"
	    "  $26::bigint[], $27::bigint[], $28::bigint[], $29::bigint[], $30::bigint[],"
	    "  $31::bigint[], $32::float8[], $33::boolean[], $34::bigint[], $35::float8[],"
	    "  $36::bigint[], $37::float8[], $38::float8[], $39::float8[]) AS u",
	    &p);
}

/* The index rows likewise (their definitions stay one upsert each: one
 * statement may not update a row twice, as a family naming an index twice
 * would make it). */
enum index_column {
	IC_DATNAME, IC_SCHEMANAME, IC_RELNAME, IC_INDEXRELNAME, IC_INDEXRELID, IC_IDX_SCAN,
	IC_IDX_TUP_READ, IC_IDX_TUP_FETCH, IC_SIZE_BYTES, IC_IS_UNIQUE, IC_IS_PRIMARY,
	IC_IS_VALID, IC_CONSTRAINT_TYPE, IC_LAST_IDX_SCAN, INDEX_COLUMNS
};

static void
insert_indexes(struct store_pg *store, struct pg_pipeline *pipeline, int64_t instance_id,
    int64_t ts_us, const Pgfleet__V1__IndexesFamily *family)
{
	struct pg_array c[INDEX_COLUMNS];
	struct pg_params p;

	if (family->n_indexes == 0)
		return;
	for (int k = 0; k < INDEX_COLUMNS; k++)
		pg_array_init(&c[k]);
	for (size_t i = 0; i < family->n_indexes; i++) {
		const Pgfleet__V1__IndexStat *x = family->indexes[i];
		pg_array_add_text(&c[IC_DATNAME], x->database);
		pg_array_add_text(&c[IC_SCHEMANAME], x->schema);
		pg_array_add_text(&c[IC_RELNAME], x->table);
		pg_array_add_text(&c[IC_INDEXRELNAME], x->index);
		pg_array_add_int(&c[IC_INDEXRELID], x->indexrelid);
		pg_array_add_int(&c[IC_IDX_SCAN], x->idx_scan);
		pg_array_add_int(&c[IC_IDX_TUP_READ], x->idx_tup_read);
		pg_array_add_int(&c[IC_IDX_TUP_FETCH], x->idx_tup_fetch);
		pg_array_add_int(&c[IC_SIZE_BYTES], x->size_bytes);
		pg_array_add_bool(&c[IC_IS_UNIQUE], x->is_unique);
		pg_array_add_bool(&c[IC_IS_PRIMARY], x->is_primary);
		pg_array_add_bool(&c[IC_IS_VALID], x->is_valid);
		pg_array_add_text(&c[IC_CONSTRAINT_TYPE], x->constraint_type);
		pg_array_add_int(&c[IC_LAST_IDX_SCAN], x->last_idx_scan_us);
	}
	pg_params_init(&p);
	pg_param_int(&p, instance_id);
	pg_param_int(&p, ts_us);
	for (int k = 0; k < INDEX_COLUMNS; k++)
		pg_param_array(&p, pg_array_finish(&c[k]));
	pg_pipeline_send(store, pipeline,
	    "INSERT INTO index_stats (instance_id, ts_us, datname, schemaname, relname,"
	    " indexrelname, indexrelid, idx_scan, idx_tup_read, idx_tup_fetch,"
	    " size_bytes, is_unique, is_primary, is_valid, constraint_type,"
	    " last_idx_scan_us) SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[],"
	    "  $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[],"
	    "  $10::bigint[], $11::bigint[], $12::boolean[], $13::boolean[], $14::boolean[],"
	    "  $15::text[], $16::bigint[]) AS u",
	    &p);
	for (size_t i = 0; i < family->n_indexes; i++) {
		const Pgfleet__V1__IndexStat *x = family->indexes[i];
		/* the definition only moves forward in time, and is only
		 * written when it changed */
		pg_params_init(&p);
		pg_param_int(&p, instance_id);
		pg_param_text(&p, x->database);
		pg_param_text(&p, x->schema);
		pg_param_text(&p, x->index);
		pg_param_text(&p, x->definition);
		pg_param_text(&p, x->access_method);
		pg_param_text(&p, x->predicate);
		pg_param_int(&p, ts_us);
		pg_pipeline_send(store, pipeline,
		    "INSERT INTO index_definitions (instance_id, datname, schemaname,"
		    " indexrelname, definition, access_method, predicate, updated_us)"
		    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
		    " ON CONFLICT (instance_id, datname, schemaname, indexrelname) DO UPDATE SET"
		    " definition = excluded.definition, access_method = excluded.access_method,"
		    " predicate = excluded.predicate, updated_us = excluded.updated_us"
		    " WHERE excluded.updated_us > index_definitions.updated_us"
		    " AND (excluded.definition <> index_definitions.definition"
		    " OR excluded.access_method <> index_definitions.access_method"
		    " OR excluded.predicate <> index_definitions.predicate)",
		    &p);
	}
}

static void
insert_bloat(struct store_pg *store, struct pg_pipeline *pipeline, int64_t instance_id,
    int64_t ts_us, const Pgfleet__V1__BloatFamily *family)
{
	struct pg_params p;

	for (size_t i = 0; i < family->n_estimates; i++) {
		const Pgfleet__V1__BloatEstimate *e = family->estimates[i];
		pg_params_init(&p);
		pg_param_int(&p, instance_id);
		pg_param_int(&p, ts_us);
		pg_param_text(&p, e->database);
		pg_param_text(&p, e->schema);
		pg_param_text(&p, e->table);
		pg_param_text(&p, e->index);
		pg_param_int(&p, e->real_bytes);
		pg_param_int(&p, e->expected_bytes);
		pg_param_int(&p, e->bloat_bytes);
		pg_param_double(&p, finite_or(e->bloat_ratio, 0.0));
		pg_param_bool(&p, e->is_estimate_unreliable);
		pg_pipeline_send(store, pipeline,
		    "INSERT INTO bloat_estimates (instance_id, ts_us, datname, schemaname,"
		    " relname, indexrelname, real_bytes, expected_bytes, bloat_bytes,"
		    " bloat_ratio, unreliable)"
		    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		    &p);
	}
}

int
store_pg_tables_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen)
{
	struct pg_pipeline pipeline;

	if (report->tables == NULL && report->indexes == NULL && report->bloat == NULL)
		return PGF_OK;
	/* one round trip for the three families' rows */
	pg_pipeline_begin(store, &pipeline);
	if (report->tables != NULL)
		insert_tables(store, &pipeline, instance_id, report->collected_at_us, report->tables);
	if (report->indexes != NULL)
		insert_indexes(store, &pipeline, instance_id, report->collected_at_us,
		    report->indexes);
	if (report->bloat != NULL)
		insert_bloat(store, &pipeline, instance_id, report->collected_at_us, report->bloat);
	return pg_pipeline_end(store, &pipeline, "store the tables", errbuf, errlen);
}

/* ---- answers ----------------------------------------------------------- */

/*
 * `latest`: one row per instance in the scope ($1 instance, $2 cluster)
 * with its newest ts_us in the family's table inside the window ($4
 * since, $5 until, 0 = open), NULL when it has none; as SQLite's
 * LATEST_SNAPSHOT. The primary key (instance_id, ts_us, id) answers each
 * with one backward seek.
 */
#define LATEST_TS(family, alias)                                                  \
	"(SELECT f.ts_us FROM " family " f WHERE f.instance_id = i.instance_id"     \
	" AND f.ts_us >= $4"                                                        \
	" AND f.ts_us < CASE WHEN $5 = 0 THEN 9223372036854775807 ELSE $5 END"      \
	" ORDER BY f.ts_us DESC LIMIT 1) AS " alias
#define LATEST_FROM                                                               \
	" FROM instances i WHERE ($1 = '' OR i.name = $1)"                        \
	" AND ($2 = '' OR i.system_identifier = $2))"
#define LATEST_SNAPSHOT(family)                                                   \
	"WITH latest AS MATERIALIZED (SELECT i.instance_id, i.name, "               \
	    LATEST_TS(family, "ts_us") LATEST_FROM

/* Runs a listing's query: $1..$5 the scope, $6 the limit. */
static int
run_listing(struct store_pg *store, const char *sql, const Pgfleet__V1__Scope *scope,
    uint32_t limit, PGresult **res, const char *what, char *errbuf, size_t errlen)
{
	struct pg_params p;

	pg_params_init(&p);
	pg_param_text(&p, scope != NULL ? scope->instance : "");
	pg_param_text(&p, scope != NULL ? scope->cluster : "");
	pg_param_text(&p, scope != NULL ? scope->database : "");
	pg_param_int(&p, scope != NULL ? scope->since_us : 0);
	pg_param_int(&p, scope != NULL ? scope->until_us : 0);
	pg_param_int(&p, limit > 0 ? limit : TABLES_DEFAULT_LIMIT);
	return pg_read(store, sql, &p, res, what, errbuf, errlen);
}

/* A malloc'd pg_size_pretty() text of an integer column. */
static char *
column_size(const PGresult *res, int row, int column)
{
	char buf[32];
	return strdup(pgf_size_pretty(pg_int(res, row, column), buf, sizeof(buf)));
}

/* A malloc'd "YYYY-MM-DD HH:MM:SS" (UTC) of a µs column, "" for 0. */
static char *
column_time(const PGresult *res, int row, int column)
{
	int64_t us = pg_int(res, row, column);
	time_t seconds;
	struct tm tm;
	char buf[32];

	if (us <= 0)
		return strdup("");
	seconds = (time_t) (us / 1000000);
	if (gmtime_r(&seconds, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return strdup("");
	return strdup(buf);
}

static double
percentage(double part, double whole)
{
	if (whole <= 0.0)
		return part > 0.0 ? 100.0 : 0.0;
	return round(part * 100.0 / whole * 100.0) / 100.0;
}

/* The answer's rows array, all of it at once (each row malloc'd and
 * initialised); false when out of memory (what was made stays, to be
 * freed with the answer). */
static bool
make_rows(void *rows_slot, size_t *n_rows, int count,
    const ProtobufCMessageDescriptor *descriptor)
{
	void **rows;

	if (count == 0)
		return true;
	rows = calloc((size_t) count, sizeof(rows[0]));
	if (rows == NULL)
		return false;
	memcpy(rows_slot, &rows, sizeof(rows));
	for (int i = 0; i < count; i++) {
		void *row = malloc(descriptor->sizeof_message);
		if (row == NULL)
			return false;
		protobuf_c_message_init(descriptor, row);
		rows[(*n_rows)++] = row;
	}
	return true;
}

static int
out_of_memory(PGresult *res, char *errbuf, size_t errlen)
{
	PQclear(res);
	snprintf(errbuf, errlen, "out of memory");
	return PGF_ENOMEM;
}

int
store_pg_table_stats(struct store *base, const Pgfleet__V1__TableStatsRequest *request,
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
	    " WHERE ($3 = '' OR s.datname = $3)"
	    " ORDER BY s.total_bytes DESC, l.name, s.datname, s.schemaname, s.relname"
	    " LIMIT $6";
	struct store_pg *store = (struct store_pg *) base;
	int64_t now_us = pgf_time_now_us();
	PGresult *res = NULL;
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	if ((rv = run_listing(store, sql, request->scope, request->limit, &res,
		 "read table stats", errbuf, errlen)) != PGF_OK)
		return rv;
	if (!make_rows(&answer->rows, &answer->n_rows, PQntuples(res),
		&pgfleet__v1__table_stats_row__descriptor))
		return out_of_memory(res, errbuf, errlen);
	for (int r = 0; r < PQntuples(res); r++) {
		Pgfleet__V1__TableStatsRow *row = answer->rows[r];
		row->instance = pg_text(res, r, 0);
		row->database = pg_text(res, r, 1);
		row->schema = pg_text(res, r, 2);
		row->table = pg_text(res, r, 3);
		row->total_size = column_size(res, r, 4);
		row->table_size = column_size(res, r, 5);
		row->indexes_size = column_size(res, r, 6);
		row->collected_at = column_time(res, r, 17);
		row->total_bytes = pg_int(res, r, 4);
		row->seq_scans = pg_int(res, r, 7);
		row->seq_tuples_read = pg_int(res, r, 8);
		row->index_scans = pg_int(res, r, 9);
		row->index_tuples_fetched = pg_int(res, r, 10);
		row->inserts = pg_int(res, r, 11);
		row->updates = pg_int(res, r, 12);
		row->deletes = pg_int(res, r, 13);
		row->hot_updates = pg_int(res, r, 14);
		row->live_tuples = pg_int(res, r, 15);
		row->dead_tuples = pg_int(res, r, 16);
		row->stale = stale(pg_int(res, r, 18), pg_int(res, r, 19), now_us);
		if (row->instance == NULL || row->database == NULL || row->schema == NULL ||
		    row->table == NULL || row->total_size == NULL || row->table_size == NULL ||
		    row->indexes_size == NULL || row->collected_at == NULL)
			return out_of_memory(res, errbuf, errlen);
	}
	PQclear(res);
	return PGF_OK;
}

int
store_pg_index_usage(struct store *base, const Pgfleet__V1__IndexUsageRequest *request,
    Pgfleet__V1__IndexUsage *answer, char *errbuf, size_t errlen)
{
	/* unused: never scanned, and nothing else needs it */
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
	    " WHERE ($3 = '' OR x.datname = $3)"
	    " ORDER BY unused DESC, x.size_bytes DESC, l.name, x.datname, x.schemaname,"
	    "  x.relname, x.indexrelname"
	    " LIMIT $6";
	struct store_pg *store = (struct store_pg *) base;
	int64_t now_us = pgf_time_now_us();
	PGresult *res = NULL;
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	if ((rv = run_listing(store, sql, request->scope, request->limit, &res,
		 "read index usage", errbuf, errlen)) != PGF_OK)
		return rv;
	if (!make_rows(&answer->rows, &answer->n_rows, PQntuples(res),
		&pgfleet__v1__index_usage_row__descriptor))
		return out_of_memory(res, errbuf, errlen);
	for (int r = 0; r < PQntuples(res); r++) {
		Pgfleet__V1__IndexUsageRow *row = answer->rows[r];
		row->instance = pg_text(res, r, 0);
		row->database = pg_text(res, r, 1);
		row->schema = pg_text(res, r, 2);
		row->table = pg_text(res, r, 3);
		row->index = pg_text(res, r, 4);
		row->size = column_size(res, r, 8);
		row->definition = pg_text(res, r, 9);
		row->constraint_type = pg_text(res, r, 13);
		row->collected_at = column_time(res, r, 14);
		row->scans = pg_int(res, r, 5);
		row->tuples_read = pg_int(res, r, 6);
		row->tuples_fetched = pg_int(res, r, 7);
		row->stale = stale(pg_int(res, r, 16), pg_int(res, r, 17), now_us);
		row->size_bytes = pg_int(res, r, 8);
		row->is_unique = pg_bool(res, r, 10);
		row->is_primary = pg_bool(res, r, 11);
		row->is_valid = pg_bool(res, r, 12);
		row->unused = pg_bool(res, r, 15);
		if (row->instance == NULL || row->database == NULL || row->schema == NULL ||
		    row->table == NULL || row->index == NULL || row->size == NULL ||
		    row->definition == NULL || row->constraint_type == NULL ||
		    row->collected_at == NULL)
			return out_of_memory(res, errbuf, errlen);
	}
	PQclear(res);
	return PGF_OK;
}

int
store_pg_bloat_stats(struct store *base, const Pgfleet__V1__BloatStatsRequest *request,
    Pgfleet__V1__BloatStats *answer, char *errbuf, size_t errlen)
{
	/* the tables' snapshot and, on its own cadence, the bloat family's */
	static const char sql[] =
	    "WITH latest AS MATERIALIZED (SELECT i.instance_id, i.name, "
	    LATEST_TS("table_stats", "ts_us") ", " LATEST_TS("bloat_estimates", "bloat_ts_us")
	    LATEST_FROM
	    " SELECT l.name, s.datname, s.schemaname, s.relname, s.total_bytes,"
	    "  s.n_dead_tup, s.n_live_tup, s.last_vacuum_us, s.last_autovacuum_us,"
	    "  s.autovacuum_vacuum_trigger, s.autovacuum_enabled,"
	    "  coalesce(b.bloat_bytes, 0), coalesce(b.bloat_ratio, 0),"
	    "  coalesce(b.unreliable, false), s.ts_us,"
	    "  (SELECT last_seen_us FROM instances WHERE instance_id = l.instance_id),"
	    "  (SELECT report_interval_ms FROM instances WHERE instance_id = l.instance_id)"
	    " FROM latest l JOIN table_stats s"
	    "  ON s.instance_id = l.instance_id AND s.ts_us = l.ts_us"
	    " LEFT JOIN bloat_estimates b ON b.instance_id = l.instance_id"
	    "  AND b.ts_us = l.bloat_ts_us AND b.datname = s.datname"
	    "  AND b.schemaname = s.schemaname AND b.relname = s.relname"
	    "  AND b.indexrelname = ''"
	    " WHERE ($3 = '' OR s.datname = $3)"
	    " ORDER BY s.n_dead_tup DESC, l.name, s.datname, s.schemaname, s.relname"
	    " LIMIT $6";
	struct store_pg *store = (struct store_pg *) base;
	int64_t now_us = pgf_time_now_us();
	PGresult *res = NULL;
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	if ((rv = run_listing(store, sql, request->scope, request->limit, &res,
		 "read bloat stats", errbuf, errlen)) != PGF_OK)
		return rv;
	if (!make_rows(&answer->rows, &answer->n_rows, PQntuples(res),
		&pgfleet__v1__bloat_stats_row__descriptor))
		return out_of_memory(res, errbuf, errlen);
	for (int r = 0; r < PQntuples(res); r++) {
		Pgfleet__V1__BloatStatsRow *row = answer->rows[r];
		row->instance = pg_text(res, r, 0);
		row->database = pg_text(res, r, 1);
		row->schema = pg_text(res, r, 2);
		row->table = pg_text(res, r, 3);
		row->total_size = column_size(res, r, 4);
		row->last_vacuum = column_time(res, r, 7);
		row->last_autovacuum = column_time(res, r, 8);
		row->collected_at = column_time(res, r, 14);
		row->dead_tuples = pg_int(res, r, 5);
		row->live_tuples = pg_int(res, r, 6);
		row->stale = stale(pg_int(res, r, 15), pg_int(res, r, 16), now_us);
		row->bloat_percentage =
		    percentage((double) row->dead_tuples, (double) row->live_tuples);
		row->vacuum_trigger = pg_double(res, r, 9);
		row->needs_vacuum = (double) row->dead_tuples > row->vacuum_trigger;
		row->autovacuum_enabled = pg_bool(res, r, 10);
		row->estimated_bloat_bytes = pg_int(res, r, 11);
		row->estimated_bloat_percentage =
		    round(pg_double(res, r, 12) * 100.0 * 100.0) / 100.0;
		row->estimate_unreliable = pg_bool(res, r, 13);
		if (row->instance == NULL || row->database == NULL || row->schema == NULL ||
		    row->table == NULL || row->total_size == NULL || row->last_vacuum == NULL ||
		    row->last_autovacuum == NULL || row->collected_at == NULL)
			return out_of_memory(res, errbuf, errlen);
	}
	PQclear(res);
	return PGF_OK;
}

/* ---- trends ------------------------------------------------------------ */

/*
 * The table a table-trend is about, as store_sqlite_tables.c's
 * table_trend_candidates: how many distinct instances, databases and
 * schemas hold a table of that name with a snapshot in the window, their
 * names (", " separated, sorted) and the first candidate. $1..$3 the
 * scope, $4 $5 the window, $6 the table, $7 the schema ("" = any).
 */
static const char table_trend_candidates[] =
    "WITH c AS MATERIALIZED (SELECT DISTINCT i.instance_id, i.name, s.datname, s.schemaname"
    " FROM instances i JOIN table_stats s ON s.instance_id = i.instance_id"
    "  AND s.ts_us >= $4 AND s.ts_us < $5"
    " WHERE ($1 = '' OR i.name = $1) AND ($2 = '' OR i.system_identifier = $2)"
    "  AND ($3 = '' OR s.datname = $3) AND s.relname = $6"
    "  AND ($7 = '' OR s.schemaname = $7))"
    " SELECT (SELECT count(DISTINCT instance_id) FROM c),"
    "  (SELECT count(DISTINCT datname) FROM c),"
    "  (SELECT count(DISTINCT schemaname) FROM c),"
    "  (SELECT string_agg(name, ', ' ORDER BY name) FROM (SELECT DISTINCT name FROM c) d),"
    "  (SELECT string_agg(datname, ', ' ORDER BY datname) FROM"
    "   (SELECT DISTINCT datname FROM c) d),"
    "  (SELECT string_agg(schemaname, ', ' ORDER BY schemaname) FROM"
    "   (SELECT DISTINCT schemaname FROM c) d),"
    "  c.instance_id, c.name, c.datname, c.schemaname"
    " FROM c ORDER BY c.name, c.datname, c.schemaname LIMIT 1";

/* The snapshots of one table in the window, oldest first. */
static const char table_trend_points[] =
    "SELECT ts_us, total_bytes, n_live_tup, n_dead_tup FROM table_stats"
    " WHERE instance_id = $1 AND ts_us >= $2 AND ts_us < $3 AND datname = $4"
    "  AND schemaname = $5 AND relname = $6 ORDER BY ts_us, id";

/* Sets answer's instance, database and schema to the one table the
 * request names, and *instance_id; PGF_ENOTFOUND when none, PGF_EINVAL
 * (with what to name) when several. */
static int
find_trend_table(struct store_pg *store, const Pgfleet__V1__TableTrendRequest *request,
    const struct pg_buckets *buckets, Pgfleet__V1__TableTrend *answer, int64_t *instance_id,
    char *errbuf, size_t errlen)
{
	static const char *const what[] = {"name an instance: table %s exists on %s",
	    "name a database: table %s exists in %s", "name a schema: table %s exists in %s"};
	const Pgfleet__V1__Scope *scope = request->scope;
	const char *schema = request->schema != NULL ? request->schema : "";
	struct pg_params p;
	PGresult *res = NULL;
	char name[256];
	int rv;

	snprintf(name, sizeof(name), "%s%s%s", schema, schema[0] != '\0' ? "." : "",
	    request->table);
	pg_params_init(&p);
	pg_param_text(&p, scope != NULL ? scope->instance : "");
	pg_param_text(&p, scope != NULL ? scope->cluster : "");
	pg_param_text(&p, scope != NULL ? scope->database : "");
	pg_param_int(&p, buckets->since_us);
	pg_param_int(&p, buckets->until_us);
	pg_param_text(&p, request->table);
	pg_param_text(&p, schema);
	if ((rv = pg_read(store, table_trend_candidates, &p, &res, "find the table", errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if (PQntuples(res) == 0) {
		PQclear(res);
		snprintf(errbuf, errlen, "table %s has no statistics in the window", name);
		return PGF_ENOTFOUND;
	}
	/* one instance, then one database, then one schema */
	for (int column = 0; column < 3; column++) {
		if (pg_int(res, 0, column) > 1) {
			snprintf(errbuf, errlen, what[column], name, PQgetvalue(res, 0, column + 3));
			PQclear(res);
			return PGF_EINVAL;
		}
	}
	*instance_id = pg_int(res, 0, 6);
	answer->instance = pg_text(res, 0, 7);
	answer->database = pg_text(res, 0, 8);
	answer->schema = pg_text(res, 0, 9);
	answer->table = strdup(request->table);
	PQclear(res);
	if (answer->instance == NULL || answer->database == NULL || answer->schema == NULL ||
	    answer->table == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	return PGF_OK;
}

/* A malloc'd sparkline of values[0..count); NULL when out of memory. */
static char *
sparkline(const double *values, const bool *present, size_t count)
{
	size_t size = count * 3 + 1; /* 3 bytes of UTF-8 per bucket */
	char *line = malloc(size);

	if (line != NULL)
		pgf_sparkline(values, present, count, line, size);
	return line;
}

int
store_pg_table_trend(struct store *base, const Pgfleet__V1__TableTrendRequest *request,
    Pgfleet__V1__TableTrend *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct pg_buckets buckets;
	Pgfleet__V1__TableTrendPoint *point = NULL;
	struct pg_params p;
	PGresult *res = NULL;
	int64_t instance_id = 0;
	double *sizes = NULL;
	double *dead = NULL;
	bool *present = NULL;
	size_t current = 0;
	char text[32];
	int rv;

	if (request->table == NULL || request->table[0] == '\0') {
		snprintf(errbuf, errlen, "name a table");
		return PGF_EINVAL;
	}
	if ((rv = pg_buckets_init(&buckets, request->scope, request->bucket_ms, errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if ((rv = find_trend_table(store, request, &buckets, answer, &instance_id, errbuf,
		 errlen)) != PGF_OK)
		return rv;
	pg_params_init(&p);
	pg_param_int(&p, instance_id);
	pg_param_int(&p, buckets.since_us);
	pg_param_int(&p, buckets.until_us);
	pg_param_text(&p, answer->database);
	pg_param_text(&p, answer->schema);
	pg_param_text(&p, answer->table);
	if ((rv = pg_read(store, table_trend_points, &p, &res, "read the table trend", errbuf,
		 errlen)) != PGF_OK)
		return rv;
	rv = PGF_ENOMEM;
	answer->rows = calloc(buckets.count, sizeof(answer->rows[0]));
	sizes = calloc(buckets.count, sizeof(sizes[0]));
	dead = calloc(buckets.count, sizeof(dead[0]));
	present = calloc(buckets.count, sizeof(present[0]));
	if (answer->rows == NULL || sizes == NULL || dead == NULL || present == NULL)
		goto done;
	/* oldest first: a bucket's values are its last snapshot's, and a
	 * new bucket starts a new point */
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t ts_us = pg_int(res, r, 0);
		size_t bucket = (size_t) ((ts_us - buckets.since_us) / buckets.width_us);
		if (bucket >= buckets.count)
			continue;
		if (point == NULL || bucket != current) {
			time_t seconds;
			struct tm tm;
			if ((point = malloc(sizeof(*point))) == NULL)
				goto done;
			pgfleet__v1__table_trend_point__init(point);
			answer->rows[answer->n_rows++] = point;
			point->bucket_start_us = buckets.since_us + (int64_t) bucket * buckets.width_us;
			seconds = (time_t) (point->bucket_start_us / 1000000);
			if (gmtime_r(&seconds, &tm) == NULL ||
			    strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm) == 0)
				text[0] = '\0';
			if ((point->bucket = strdup(text)) == NULL)
				goto done;
			current = bucket;
			present[bucket] = true;
		}
		point->total_bytes = pg_int(res, r, 1);
		point->n_live_tup = pg_int(res, r, 2);
		point->n_dead_tup = pg_int(res, r, 3);
		if (point->n_dead_tup > point->max_dead_tup)
			point->max_dead_tup = point->n_dead_tup;
		sizes[bucket] = (double) point->total_bytes;
		dead[bucket] = (double) point->max_dead_tup;
	}
	for (size_t i = 0; i < answer->n_rows; i++) {
		point = answer->rows[i];
		if (i > 0)
			point->growth_bytes = point->total_bytes - answer->rows[i - 1]->total_bytes;
		point->total_size = strdup(pgf_size_pretty(point->total_bytes, text, sizeof(text)));
		if (point->total_size == NULL)
			goto done;
	}
	answer->size_sparkline = sparkline(sizes, present, buckets.count);
	answer->dead_tuples_sparkline = sparkline(dead, present, buckets.count);
	answer->bucket_width =
	    strdup(pgf_duration_format(buckets.width_us / 1000, text, sizeof(text)));
	if (answer->size_sparkline == NULL || answer->dead_tuples_sparkline == NULL ||
	    answer->bucket_width == NULL)
		goto done;
	rv = PGF_OK;
done:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	PQclear(res);
	free(sizes);
	free(dead);
	free(present);
	return rv;
}
