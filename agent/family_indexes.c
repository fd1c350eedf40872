/*
 * family_indexes.c - the indexes family: every index of every database the
 * agent may enter (usage counters, size, definition, key columns,
 * predicate, the constraint it backs) and every foreign key.
 *
 * The collector finds unused, duplicate, invalid and missing indexes from
 * these rows: a foreign key whose columns lead no index is a missing one,
 * which is why the key columns are sent in order and the foreign keys are
 * sent at all.
 *
 * Cost on the watched server: two catalog queries per database, no table
 * scans. pg_relation_size, pg_get_indexdef and pg_get_expr may take an
 * ACCESS SHARE lock on the index or its table, which waits behind an
 * ACCESS EXCLUSIVE lock (REINDEX, DROP INDEX, VACUUM FULL) until
 * lock_timeout fails the whole database's query. Indexes whose index or
 * table has such a lock held or requested (read from pg_locks) are sent
 * with their size estimated from pg_class.relpages and without
 * definition, columns and predicate, this time only.
 */
#include "agent/family_indexes.h"

#include <string.h>

#include "agent/family.h"

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)

/* Column order of INDEXES_SQL. */
enum indexes_column {
	COL_SCHEMA,
	COL_TABLE,
	COL_INDEX,
	COL_INDEXRELID,
	COL_RELID,
	COL_IDX_SCAN,
	COL_IDX_TUP_READ,
	COL_IDX_TUP_FETCH,
	COL_SIZE_BYTES,
	COL_BUSY,
	COL_DEFINITION,
	COL_ACCESS_METHOD,
	COL_IS_UNIQUE,
	COL_IS_PRIMARY,
	COL_IS_VALID,
	COL_IS_READY,
	COL_COLUMNS,
	COL_PREDICATE,
	COL_CONSTRAINT_TYPE,
	COL_CONSTRAINT_NAME,
	COL_LAST_IDX_SCAN,
	COL_COUNT
};

/* Column order of FOREIGN_KEYS_SQL. */
enum foreign_keys_column {
	FK_SCHEMA,
	FK_TABLE,
	FK_NAME,
	FK_COLUMNS,
	FK_REFERENCED_TABLE,
	FK_COUNT
};

/*
 * The index query around the one column that differs by version. `busy`:
 * the index or its table has an ACCESS EXCLUSIVE lock held or waited for.
 * Key columns are pg_get_indexdef's text of each key column (a name, or
 * an expression's text; INCLUDE columns are not keys), joined with \x1f,
 * which no identifier or expression contains. The constraint join is a
 * hash join, not a lookup per index: pg_constraint has no index on
 * conindid.
 */
#define INDEXES_SQL(last_idx_scan) \
	"WITH locked AS (" \
	" SELECT array_agg(l.relation) AS oids FROM pg_catalog.pg_locks l" \
	" WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'" \
	" AND l.database = (SELECT oid FROM pg_catalog.pg_database" \
	" WHERE datname = current_database()))" \
	" SELECT s.schemaname, s.relname, s.indexrelname, s.indexrelid, s.relid," \
	" s.idx_scan, s.idx_tup_read, s.idx_tup_fetch," \
	" CASE WHEN b.busy THEN ic.relpages::int8 * current_setting('block_size')::int8" \
	" ELSE pg_catalog.pg_relation_size(s.indexrelid) END," \
	" b.busy," \
	" CASE WHEN NOT b.busy THEN pg_catalog.pg_get_indexdef(s.indexrelid) END," \
	" am.amname, i.indisunique, i.indisprimary, i.indisvalid, i.indisready," \
	" CASE WHEN NOT b.busy THEN (SELECT string_agg(" \
	" pg_catalog.pg_get_indexdef(i.indexrelid, k, true), E'\\x1f' ORDER BY k)" \
	" FROM generate_series(1, i.indnkeyatts) k) END," \
	" CASE WHEN NOT b.busy AND i.indpred IS NOT NULL" \
	" THEN pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) END," \
	" con.contype, con.conname," \
	" " last_idx_scan \
	" FROM pg_catalog.pg_stat_user_indexes s" \
	" JOIN pg_catalog.pg_index i ON i.indexrelid = s.indexrelid" \
	" JOIN pg_catalog.pg_class ic ON ic.oid = s.indexrelid" \
	" JOIN pg_catalog.pg_am am ON am.oid = ic.relam" \
	" CROSS JOIN locked" \
	" CROSS JOIN LATERAL (SELECT COALESCE(" \
	" locked.oids && ARRAY[i.indexrelid, i.indrelid], false) AS busy) b" \
	" LEFT JOIN (SELECT DISTINCT ON (conindid) conindid, contype, conname" \
	" FROM pg_catalog.pg_constraint WHERE contype IN ('p', 'u', 'x')" \
	" ORDER BY conindid, contype) con ON con.conindid = s.indexrelid" \
	" WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')" \
	" AND s.schemaname !~ '^pg_toast'" \
	" ORDER BY s.indexrelid" \
	" LIMIT " TEXT(FAMILY_INDEXES_LIMIT) " + 1"

static const char INDEXES_SQL_13[] = INDEXES_SQL("0::int8");
static const char INDEXES_SQL_16[] =
    INDEXES_SQL("COALESCE((extract(epoch FROM s.last_idx_scan) * 1000000)::int8, 0)");

/* Referencing columns in conkey order; the referenced table as
 * "schema.table" (unquoted, like TableStat's schema and table). */
static const char FOREIGN_KEYS_SQL[] =
    "SELECT n.nspname, c.relname, con.conname,"
    " (SELECT string_agg(a.attname, E'\\x1f' ORDER BY k.position)"
    " FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, position)"
    " JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),"
    " rn.nspname || '.' || rc.relname"
    " FROM pg_catalog.pg_constraint con"
    " JOIN pg_catalog.pg_class c ON c.oid = con.conrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid"
    " JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace"
    " WHERE con.contype = 'f'"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname !~ '^pg_toast'"
    " ORDER BY con.oid"
    " LIMIT " TEXT(FAMILY_INDEXES_LIMIT) " + 1";

const char *
family_indexes_sql(int server_version_num)
{
	if (server_version_num < 130000)
		return NULL;
	return server_version_num >= 160000 ? INDEXES_SQL_16 : INDEXES_SQL_13;
}

const char *
family_indexes_foreign_keys_sql(void)
{
	return FOREIGN_KEYS_SQL;
}

/* The rows of every database, grown as databases are read. */
struct index_rows {
	Pgfleet__V1__IndexStat **indexes;
	size_t n_indexes;
	size_t indexes_capacity;
	Pgfleet__V1__ForeignKey **foreign_keys;
	size_t n_foreign_keys;
	size_t foreign_keys_capacity;
};


/* capped_count is the result's row count, cut to the cap with a problem
 * when the query returned more. */
static size_t
capped_count(struct family_context *context, const PGresult *result, const char *database,
    const char *what)
{
	size_t count = (size_t) PQntuples(result);
	if (count <= FAMILY_INDEXES_LIMIT)
		return count;
	family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
	    "more than %d %s: only the first %d (by oid) are reported", FAMILY_INDEXES_LIMIT,
	    what, FAMILY_INDEXES_LIMIT);
	return FAMILY_INDEXES_LIMIT;
}

static void
fill_index(struct family_context *context, const char *database, const PGresult *result,
    int row, Pgfleet__V1__IndexStat *index)
{
	index->database = pgf_arena_strdup(context->arena, database);
	index->schema = family_text(context, result, row, COL_SCHEMA);
	index->table = family_text(context, result, row, COL_TABLE);
	index->index = family_text(context, result, row, COL_INDEX);
	index->indexrelid = (uint32_t) family_int64(result, row, COL_INDEXRELID);
	index->relid = (uint32_t) family_int64(result, row, COL_RELID);
	index->idx_scan = family_int64(result, row, COL_IDX_SCAN);
	index->idx_tup_read = family_int64(result, row, COL_IDX_TUP_READ);
	index->idx_tup_fetch = family_int64(result, row, COL_IDX_TUP_FETCH);
	index->size_bytes = family_int64(result, row, COL_SIZE_BYTES);
	index->definition = family_text(context, result, row, COL_DEFINITION);
	index->access_method = family_text(context, result, row, COL_ACCESS_METHOD);
	index->is_unique = family_bool(result, row, COL_IS_UNIQUE);
	index->is_primary = family_bool(result, row, COL_IS_PRIMARY);
	index->is_valid = family_bool(result, row, COL_IS_VALID);
	index->is_ready = family_bool(result, row, COL_IS_READY);
	if (!PQgetisnull(result, row, COL_COLUMNS))
		index->n_columns = family_split_list(context,
		    PQgetvalue(result, row, COL_COLUMNS), '\x1f', &index->columns);
	index->predicate = family_text(context, result, row, COL_PREDICATE);
	index->constraint_type = family_text(context, result, row, COL_CONSTRAINT_TYPE);
	index->constraint_name = family_text(context, result, row, COL_CONSTRAINT_NAME);
	index->last_idx_scan_us = family_int64(result, row, COL_LAST_IDX_SCAN);
}

/* read_indexes adds the database's indexes. */
static void
read_indexes(struct family_context *context, struct index_rows *rows,
    struct pg_session *session, const char *database, const char *sql)
{
	Pgfleet__V1__IndexStat **indexes;
	bool busy = false;
	size_t count;
	PGresult *result =
	    family_query(context, session, database, "could not read the indexes", sql);

	if (result == NULL)
		return;
	if (PQnfields(result) != COL_COUNT) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "could not read the indexes: %d columns instead of %d", PQnfields(result),
		    (int) COL_COUNT);
		PQclear(result);
		return;
	}
	count = capped_count(context, result, database, "indexes");
	indexes = (Pgfleet__V1__IndexStat **) family_rows(context, count,
	    &pgfleet__v1__index_stat__descriptor);
	if (indexes == NULL ||
	    !family_grow(context, &rows->indexes, rows->n_indexes, &rows->indexes_capacity,
		count)) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "could not read the indexes: out of memory");
		PQclear(result);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		fill_index(context, database, result, (int) i, indexes[i]);
		busy = busy || family_bool(result, (int) i, COL_BUSY);
		rows->indexes[rows->n_indexes++] = indexes[i];
	}
	PQclear(result);
	if (busy)
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_TIMEOUT, database,
		    "indexes under an ACCESS EXCLUSIVE lock (REINDEX, DROP INDEX, VACUUM FULL)"
		    " are sent without definition and columns, their size estimated from"
		    " pg_class.relpages, instead of waiting for the lock");
}

/* read_foreign_keys adds the database's foreign keys. */
static void
read_foreign_keys(struct family_context *context, struct index_rows *rows,
    struct pg_session *session, const char *database)
{
	Pgfleet__V1__ForeignKey **keys;
	size_t count;
	PGresult *result = family_query(context, session, database,
	    "could not read the foreign keys", FOREIGN_KEYS_SQL);

	if (result == NULL)
		return;
	if (PQnfields(result) != FK_COUNT) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "could not read the foreign keys: %d columns instead of %d", PQnfields(result),
		    (int) FK_COUNT);
		PQclear(result);
		return;
	}
	count = capped_count(context, result, database, "foreign keys");
	keys = (Pgfleet__V1__ForeignKey **) family_rows(context, count,
	    &pgfleet__v1__foreign_key__descriptor);
	if (keys == NULL ||
	    !family_grow(context, &rows->foreign_keys, rows->n_foreign_keys,
		&rows->foreign_keys_capacity, count)) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "could not read the foreign keys: out of memory");
		PQclear(result);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		Pgfleet__V1__ForeignKey *key = keys[i];
		int row = (int) i;
		key->database = pgf_arena_strdup(context->arena, database);
		key->schema = family_text(context, result, row, FK_SCHEMA);
		key->table = family_text(context, result, row, FK_TABLE);
		key->name = family_text(context, result, row, FK_NAME);
		if (!PQgetisnull(result, row, FK_COLUMNS))
			key->n_columns = family_split_list(context,
			    PQgetvalue(result, row, FK_COLUMNS), '\x1f', &key->columns);
		key->referenced_table = family_text(context, result, row, FK_REFERENCED_TABLE);
		rows->foreign_keys[rows->n_foreign_keys++] = key;
	}
	PQclear(result);
}

static void
collect_indexes(struct family_context *context, Pgfleet__V1__Report *report)
{
	struct index_rows rows;
	Pgfleet__V1__IndexesFamily *family =
	    family_new_message(context, &pgfleet__v1__indexes_family__descriptor);
	const char *sql = family_indexes_sql(context->server_version);
	size_t n_databases;

	if (family == NULL)
		return;
	family_problems_begin(context, "indexes", &family->problems, &family->n_problems);
	report->indexes = family;
	if (sql == NULL) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_UNAVAILABLE, NULL,
		    "server version %d is older than 13", context->server_version);
		return;
	}
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
		read_indexes(context, &rows, session, database, sql);
		read_foreign_keys(context, &rows, session, database);
	}
	family->indexes = rows.indexes;
	family->n_indexes = rows.n_indexes;
	family->foreign_keys = rows.foreign_keys;
	family->n_foreign_keys = rows.n_foreign_keys;
}

const struct agent_family family_indexes = {
	.name = "indexes",
	.cadence_ms = family_cadence_indexes,
	.min_server_version = 130000,
	.collect = collect_indexes,
	.state_free = NULL,
};
