/*
 * family_tables.c - the tables family: every user table of every database
 * the agent may enter, with its sizes, its cumulative counters
 * (pg_stat_user_tables), its freeze age and the autovacuum settings that
 * really apply to it, plus one row per database (statistics reset time,
 * freeze age, size).
 *
 * The collector answers "why is this table not vacuumed?" and "which table
 * grows?" from these rows alone, so the effective autovacuum settings are
 * resolved here (the table's reloptions over the server's settings) and
 * the dead-tuple count at which autovacuum starts is sent with them.
 *
 * Cost on the watched server: one catalog query per database, no table
 * scans. The size functions take an ACCESS SHARE lock on the table, its
 * TOAST table and its indexes, which waits behind an ACCESS EXCLUSIVE lock
 * (VACUUM FULL, ALTER TABLE, a DROP in progress); a single such wait would
 * make the whole database's query fail on lock_timeout. Tables with such a
 * lock held or requested (read from pg_locks) get sizes estimated from
 * pg_class.relpages instead, which takes no lock. The query is capped at
 * TABLES_LIMIT rows.
 */
#include "agent/family.h"

#include <string.h>

/* At most this many tables per database: a safety cap, not a sample. The
 * query asks for one more, to tell "exactly the cap" from "cut". */
#define TABLES_LIMIT 100000

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)

/* Column order of TABLES_SQL. */
enum tables_column {
	COL_SCHEMA,
	COL_TABLE,
	COL_RELID,
	COL_TABLE_BYTES,
	COL_INDEXES_BYTES,
	COL_TOAST_BYTES,
	COL_TOTAL_BYTES,
	COL_SIZE_ESTIMATED,
	COL_N_LIVE_TUP,
	COL_N_DEAD_TUP,
	COL_SEQ_SCAN,
	COL_SEQ_TUP_READ,
	COL_IDX_SCAN,
	COL_IDX_TUP_FETCH,
	COL_N_TUP_INS,
	COL_N_TUP_UPD,
	COL_N_TUP_HOT_UPD,
	COL_N_TUP_DEL,
	COL_LAST_VACUUM,
	COL_LAST_AUTOVACUUM,
	COL_LAST_ANALYZE,
	COL_LAST_AUTOANALYZE,
	COL_VACUUM_COUNT,
	COL_AUTOVACUUM_COUNT,
	COL_ANALYZE_COUNT,
	COL_AUTOANALYZE_COUNT,
	COL_N_MOD_SINCE_ANALYZE,
	COL_N_INS_SINCE_VACUUM,
	COL_RELFROZENXID_AGE,
	COL_RELTUPLES,
	COL_AUTOVACUUM_ENABLED,
	COL_VACUUM_THRESHOLD,
	COL_VACUUM_SCALE_FACTOR,
	COL_ANALYZE_THRESHOLD,
	COL_ANALYZE_SCALE_FACTOR,
	COL_INSERT_THRESHOLD,
	COL_INSERT_SCALE_FACTOR,
	COL_COUNT
};

/* Microseconds since the epoch, 0 for NULL. */
#define US(x) "COALESCE((extract(epoch FROM " x ") * 1000000)::int8, 0)"

/*
 * The same for every supported server (13..17: n_ins_since_vacuum arrived
 * in 13, and so did the insert variant of the autovacuum trigger,
 * autovacuum_vacuum_insert_threshold/_scale_factor). `busy` is true when
 * the table, its TOAST table or one of their indexes has an ACCESS
 * EXCLUSIVE lock held or waited for: a size function would wait behind
 * it. Autovacuum is on for a table when the server's
 * `autovacuum` is on and the table does not turn it off; a reloption that
 * is set wins over the server's setting.
 */
static const char TABLES_SQL[] =
    "WITH locked AS ("
    " SELECT array_agg(l.relation) AS oids FROM pg_catalog.pg_locks l"
    " WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'"
    " AND l.database = (SELECT oid FROM pg_catalog.pg_database"
    " WHERE datname = current_database()))"
    " SELECT s.schemaname, s.relname, s.relid,"
    " CASE WHEN b.busy THEN c.relpages::int8 * bs.size"
    " ELSE pg_catalog.pg_relation_size(s.relid) END,"
    " CASE WHEN b.busy THEN (SELECT COALESCE(sum(ic.relpages), 0)::int8"
    " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    " WHERE i.indrelid = c.oid) * bs.size"
    " ELSE pg_catalog.pg_indexes_size(s.relid) END,"
    " CASE WHEN b.busy THEN COALESCE(t.relpages, 0)::int8 * bs.size"
    " ELSE COALESCE(pg_catalog.pg_total_relation_size(t.oid), 0) END,"
    " CASE WHEN b.busy THEN NULL"
    " ELSE pg_catalog.pg_total_relation_size(s.relid) END,"
    " b.busy,"
    " s.n_live_tup, s.n_dead_tup, s.seq_scan, s.seq_tup_read,"
    " COALESCE(s.idx_scan, 0), COALESCE(s.idx_tup_fetch, 0),"
    " s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, s.n_tup_del,"
    " " US("s.last_vacuum") ", " US("s.last_autovacuum") ","
    " " US("s.last_analyze") ", " US("s.last_autoanalyze") ","
    " s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,"
    " s.n_mod_since_analyze, s.n_ins_since_vacuum,"
    " pg_catalog.age(c.relfrozenxid), c.reltuples,"
    " current_setting('autovacuum')::bool AND COALESCE(r.enabled::bool, true),"
    " COALESCE(r.vacuum_threshold::int8,"
    " current_setting('autovacuum_vacuum_threshold')::int8),"
    " COALESCE(r.vacuum_scale_factor::float8,"
    " current_setting('autovacuum_vacuum_scale_factor')::float8),"
    " COALESCE(r.analyze_threshold::int8,"
    " current_setting('autovacuum_analyze_threshold')::int8),"
    " COALESCE(r.analyze_scale_factor::float8,"
    " current_setting('autovacuum_analyze_scale_factor')::float8),"
    " COALESCE(r.insert_threshold::int8,"
    " current_setting('autovacuum_vacuum_insert_threshold')::int8),"
    " COALESCE(r.insert_scale_factor::float8,"
    " current_setting('autovacuum_vacuum_insert_scale_factor')::float8)"
    " FROM pg_catalog.pg_stat_user_tables s"
    " JOIN pg_catalog.pg_class c ON c.oid = s.relid"
    " LEFT JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid"
    " CROSS JOIN locked"
    " CROSS JOIN (SELECT current_setting('block_size')::int8 AS size) bs"
    " CROSS JOIN LATERAL (SELECT CASE WHEN locked.oids IS NULL THEN false"
    " ELSE locked.oids && (ARRAY[c.oid, c.reltoastrelid] ||"
    " ARRAY(SELECT i.indexrelid FROM pg_catalog.pg_index i"
    " WHERE i.indrelid IN (c.oid, c.reltoastrelid))) END AS busy) b"
    " CROSS JOIN LATERAL (SELECT"
    " max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_enabled')"
    " AS enabled,"
    " max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_vacuum_threshold')"
    " AS vacuum_threshold,"
    " max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_vacuum_scale_factor')"
    " AS vacuum_scale_factor,"
    " max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_analyze_threshold')"
    " AS analyze_threshold,"
    " max(o.option_value) FILTER (WHERE o.option_name = 'autovacuum_analyze_scale_factor')"
    " AS analyze_scale_factor,"
    " max(o.option_value) FILTER (WHERE o.option_name ="
    " 'autovacuum_vacuum_insert_threshold') AS insert_threshold,"
    " max(o.option_value) FILTER (WHERE o.option_name ="
    " 'autovacuum_vacuum_insert_scale_factor') AS insert_scale_factor"
    " FROM pg_catalog.pg_options_to_table(c.reloptions) o) r"
    " WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')"
    " AND s.schemaname !~ '^pg_toast'"
    " ORDER BY s.relid"
    " LIMIT " TEXT(TABLES_LIMIT) " + 1";

/* One row: the database's statistics reset time, freeze age and size. */
static const char DATABASE_SQL[] =
    "SELECT " US("s.stats_reset") ", pg_catalog.age(d.datfrozenxid),"
    " pg_catalog.pg_database_size(d.oid),"
    " current_setting('autovacuum_freeze_max_age')::int8"
    " FROM pg_catalog.pg_database d"
    " LEFT JOIN pg_catalog.pg_stat_database s ON s.datid = d.oid"
    " WHERE d.datname = current_database()";

/* The rows of every database, grown as databases are read. */
struct table_rows {
	Pgfleet__V1__TableStat **tables;
	size_t n_tables;
	size_t tables_capacity;
	Pgfleet__V1__DatabaseStatsReset **databases;
	size_t n_databases;
	size_t databases_capacity;
};


/* trigger is autovacuum's start point: threshold + scale * reltuples, with
 * a never-analyzed table's reltuples (-1 since PG 14) counted as 0, as
 * autovacuum itself does. */
static double
trigger(int64_t threshold, double scale_factor, double reltuples)
{
	return (double) threshold + scale_factor * (reltuples > 0 ? reltuples : 0.0);
}

static void
fill_table(struct family_context *context, const char *database, const PGresult *result,
    int row, Pgfleet__V1__TableStat *table)
{
	table->database = pgf_arena_strdup(context->arena, database);
	table->schema = family_text(context, result, row, COL_SCHEMA);
	table->table = family_text(context, result, row, COL_TABLE);
	table->relid = (uint32_t) family_int64(result, row, COL_RELID);
	table->table_bytes = family_int64(result, row, COL_TABLE_BYTES);
	table->indexes_bytes = family_int64(result, row, COL_INDEXES_BYTES);
	table->toast_bytes = family_int64(result, row, COL_TOAST_BYTES);
	table->total_bytes = family_int64(result, row, COL_TOTAL_BYTES);
	/* estimated (or dropped meanwhile): the parts add up to the whole */
	if (table->total_bytes == 0)
		table->total_bytes = table->table_bytes + table->indexes_bytes + table->toast_bytes;
	table->n_live_tup = family_int64(result, row, COL_N_LIVE_TUP);
	table->n_dead_tup = family_int64(result, row, COL_N_DEAD_TUP);
	table->seq_scan = family_int64(result, row, COL_SEQ_SCAN);
	table->seq_tup_read = family_int64(result, row, COL_SEQ_TUP_READ);
	table->idx_scan = family_int64(result, row, COL_IDX_SCAN);
	table->idx_tup_fetch = family_int64(result, row, COL_IDX_TUP_FETCH);
	table->n_tup_ins = family_int64(result, row, COL_N_TUP_INS);
	table->n_tup_upd = family_int64(result, row, COL_N_TUP_UPD);
	table->n_tup_hot_upd = family_int64(result, row, COL_N_TUP_HOT_UPD);
	table->n_tup_del = family_int64(result, row, COL_N_TUP_DEL);
	table->last_vacuum_us = family_int64(result, row, COL_LAST_VACUUM);
	table->last_autovacuum_us = family_int64(result, row, COL_LAST_AUTOVACUUM);
	table->last_analyze_us = family_int64(result, row, COL_LAST_ANALYZE);
	table->last_autoanalyze_us = family_int64(result, row, COL_LAST_AUTOANALYZE);
	table->vacuum_count = family_int64(result, row, COL_VACUUM_COUNT);
	table->autovacuum_count = family_int64(result, row, COL_AUTOVACUUM_COUNT);
	table->analyze_count = family_int64(result, row, COL_ANALYZE_COUNT);
	table->autoanalyze_count = family_int64(result, row, COL_AUTOANALYZE_COUNT);
	table->n_mod_since_analyze = family_int64(result, row, COL_N_MOD_SINCE_ANALYZE);
	table->n_ins_since_vacuum = family_int64(result, row, COL_N_INS_SINCE_VACUUM);
	table->relfrozenxid_age = family_int64(result, row, COL_RELFROZENXID_AGE);
	table->reltuples = family_double(result, row, COL_RELTUPLES);
	table->autovacuum_enabled = family_bool(result, row, COL_AUTOVACUUM_ENABLED);
	table->autovacuum_vacuum_threshold = family_int64(result, row, COL_VACUUM_THRESHOLD);
	table->autovacuum_vacuum_scale_factor =
	    family_double(result, row, COL_VACUUM_SCALE_FACTOR);
	table->autovacuum_analyze_threshold = family_int64(result, row, COL_ANALYZE_THRESHOLD);
	table->autovacuum_analyze_scale_factor =
	    family_double(result, row, COL_ANALYZE_SCALE_FACTOR);
	table->autovacuum_vacuum_trigger = trigger(table->autovacuum_vacuum_threshold,
	    table->autovacuum_vacuum_scale_factor, table->reltuples);
	table->autovacuum_analyze_trigger = trigger(table->autovacuum_analyze_threshold,
	    table->autovacuum_analyze_scale_factor, table->reltuples);
	table->autovacuum_vacuum_insert_threshold =
	    family_int64(result, row, COL_INSERT_THRESHOLD);
	table->autovacuum_vacuum_insert_scale_factor =
	    family_double(result, row, COL_INSERT_SCALE_FACTOR);
}

/* read_database_row adds the database's DatabaseStatsReset row (none
 * when its query failed: the problem is recorded). */
static void
read_database_row(struct family_context *context, Pgfleet__V1__TablesFamily *family,
    struct table_rows *rows, struct pg_session *session, const char *database)
{
	Pgfleet__V1__DatabaseStatsReset *row;
	PGresult *result =
	    family_query(context, session, database, "could not read the database", DATABASE_SQL);

	if (result == NULL)
		return;
	if (PQntuples(result) != 1 ||
	    !family_grow(context, &rows->databases, rows->n_databases,
		&rows->databases_capacity, 1) ||
	    (row = family_new_message(context,
		 &pgfleet__v1__database_stats_reset__descriptor)) == NULL) {
		PQclear(result);
		return;
	}
	row->database = pgf_arena_strdup(context->arena, database);
	row->stats_reset_us = family_int64(result, 0, 0);
	row->datfrozenxid_age = family_int64(result, 0, 1);
	row->size_bytes = family_int64(result, 0, 2);
	family->autovacuum_freeze_max_age = family_int64(result, 0, 3);
	rows->databases[rows->n_databases++] = row;
	PQclear(result);
}

/* read_tables adds the database's tables. */
static void
read_tables(struct family_context *context, struct table_rows *rows,
    struct pg_session *session, const char *database)
{
	Pgfleet__V1__TableStat **tables;
	bool estimated = false;
	size_t count;
	PGresult *result =
	    family_query(context, session, database, "could not read the tables", TABLES_SQL);

	if (result == NULL)
		return;
	if (PQnfields(result) != COL_COUNT) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "could not read the tables: %d columns instead of %d", PQnfields(result),
		    (int) COL_COUNT);
		PQclear(result);
		return;
	}
	count = (size_t) PQntuples(result);
	if (count > TABLES_LIMIT) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "more than %d tables: only the first %d (by oid) are reported", TABLES_LIMIT,
		    TABLES_LIMIT);
		count = TABLES_LIMIT;
	}
	tables = (Pgfleet__V1__TableStat **) family_rows(context, count,
	    &pgfleet__v1__table_stat__descriptor);
	if (tables == NULL ||
	    !family_grow(context, &rows->tables, rows->n_tables, &rows->tables_capacity,
		count)) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "could not read the tables: out of memory");
		PQclear(result);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		fill_table(context, database, result, (int) i, tables[i]);
		estimated = estimated || family_bool(result, (int) i, COL_SIZE_ESTIMATED);
		rows->tables[rows->n_tables++] = tables[i];
	}
	PQclear(result);
	if (estimated)
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_TIMEOUT, database,
		    "sizes of tables under an ACCESS EXCLUSIVE lock (VACUUM FULL, ALTER TABLE)"
		    " were estimated from pg_class.relpages instead of waiting for the lock");
}

static void
collect_tables(struct family_context *context, Pgfleet__V1__Report *report)
{
	struct table_rows rows;
	Pgfleet__V1__TablesFamily *family =
	    family_new_message(context, &pgfleet__v1__tables_family__descriptor);
	size_t n_databases;

	if (family == NULL)
		return;
	family_problems_begin(context, "tables", &family->problems, &family->n_problems);
	report->tables = family;
	memset(&rows, 0, sizeof(rows));
	n_databases = context->databases != NULL ? db_pool_count(context->databases) : 0;
	for (size_t i = 0; i < n_databases; i++) {
		const char *database = db_pool_name(context->databases, i);
		char errbuf[512];
		struct pg_session *session =
		    db_pool_session(context->databases, i, errbuf, sizeof(errbuf));

		if (session == NULL) {
			family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR,
			    database, "could not connect: %s", errbuf);
			continue;
		}
		/* independent: a refused pg_database_size still lets the tables
		 * through */
		read_database_row(context, family, &rows, session, database);
		read_tables(context, &rows, session, database);
	}
	family->tables = rows.tables;
	family->n_tables = rows.n_tables;
	family->databases = rows.databases;
	family->n_databases = rows.n_databases;
}

const struct agent_family family_tables = {
	.name = "tables",
	.cadence_ms = family_cadence_tables,
	.min_server_version = 130000,
	.collect = collect_tables,
	.state_free = NULL,
};
