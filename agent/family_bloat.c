/*
 * family_bloat.c - the bloat family: how much space each table and btree
 * index of every database could give back, estimated from statistics.
 *
 * Measuring bloat exactly (pgstattuple) reads every page of a relation,
 * which the agent must never do to the server it watches. The estimate
 * here only reads catalogs: the width of an average row is rebuilt from
 * pg_stats (avg_width and null_frac of each column) the way the storage
 * lays rows out (tuple header, null bitmap, 8-byte alignment, line
 * pointer), the rows that fit on a page follow from the block size and
 * the fillfactor, and reltuples then gives the pages the relation would
 * need if it were packed. What pg_class says it has (relpages) beyond that
 * is bloat. It is the well-known approach of the public "ioguix" bloat
 * queries, written afresh: heap only (TOAST is left out, as avg_width is
 * the in-line width), whole pages, btree leaf pages at fillfactor 90 plus
 * the metapage.
 *
 * An estimate without statistics is a guess: relations with columns that
 * were never analyzed (or that the agent's role may not see in pg_stats),
 * or with no row count yet, are sent flagged as unreliable. relpages and
 * reltuples are used as a pair, both as of the last VACUUM or ANALYZE, so
 * a table that grew since then does not look bloated.
 */
#include "agent/family.h"

#include <string.h>

/* At most this many estimates per database, the most bloated first. */
#define BLOAT_MAX_ROWS_PER_DATABASE 100000

/* Column order of bloat_sql's result. */
enum bloat_column {
	COL_SCHEMA,
	COL_TABLE,
	COL_INDEX,
	COL_REAL_BYTES,
	COL_EXPECTED_BYTES,
	COL_BLOAT_BYTES,
	COL_UNRELIABLE,
};

/*
 * One query for every supported version (13..17): it uses nothing that
 * changed in between (pg_stats.inherited, pg_index.indisvalid and the
 * int2vector indkey are all older than 13). reltuples is -1 for "never
 * counted" from 14 on and 0 on 13; both read as "no row count".
 *
 * Sizes, in bytes, as the server lays them out (MAXALIGN 8):
 * - heap row: 4 (line pointer) + MAXALIGN(23 + null bitmap) + MAXALIGN(data),
 *   the bitmap (one bit per column) only when some column has nulls;
 * - heap page: block_size - 24 (page header), times fillfactor (100);
 * - btree entry: 4 (line pointer) + MAXALIGN(8 (header) + 8 when nulls
 *   (bitmap, aligned) + data);
 * - btree page: block_size - 24 - 16 (btree special space), times
 *   fillfactor (90), plus one metapage per index.
 * data is the sum over columns of (1 - null_frac) * avg_width. An index
 * column on an expression finds its statistics under the index's own name.
 * The limit is one over the cap so the family knows when it cut.
 */
static const char bloat_sql[] =
    "WITH params AS ("
    " SELECT current_setting('block_size')::int8 AS bs),"
    " table_columns AS ("
    "  SELECT a.attrelid AS relid,"
    "   count(*) AS natts,"
    "   count(*) FILTER (WHERE NOT a.attisdropped AND s.attname IS NULL) AS missing,"
    "   coalesce(max(s.null_frac), 0) AS max_null_frac,"
    "   coalesce(sum((1 - s.null_frac::float8) * s.avg_width), 0) AS data_width"
    "  FROM pg_catalog.pg_attribute a"
    "  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = n.nspname"
    "   AND s.tablename = c.relname AND s.attname = a.attname AND NOT s.inherited"
    "  WHERE a.attnum > 0 AND c.relkind IN ('r', 'm') AND c.relpages > 0"
    "  GROUP BY a.attrelid),"
    " index_columns AS ("
    "  SELECT k.indexrelid,"
    "   count(*) FILTER (WHERE s.attname IS NULL) AS missing,"
    "   coalesce(max(s.null_frac), 0) AS max_null_frac,"
    "   coalesce(sum((1 - s.null_frac::float8) * s.avg_width), 0) AS data_width"
    "  FROM ("
    "   SELECT i.indexrelid, n.nspname,"
    "    CASE WHEN i.indkey[ia.attnum - 1] > 0 THEN t.relname ELSE ic.relname END"
    "     AS stats_table,"
    "    coalesce(ta.attname, ia.attname) AS stats_column"
    "   FROM pg_catalog.pg_index i"
    "   JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    "   JOIN pg_catalog.pg_am am ON am.oid = ic.relam"
    "   JOIN pg_catalog.pg_class t ON t.oid = i.indrelid"
    "   JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
    "   JOIN pg_catalog.pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum > 0"
    "   LEFT JOIN pg_catalog.pg_attribute ta ON ta.attrelid = i.indrelid"
    "    AND ta.attnum = i.indkey[ia.attnum - 1]"
    "   WHERE am.amname = 'btree' AND ic.relpages > 0) k"
    "  LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = k.nspname"
    "   AND s.tablename = k.stats_table AND s.attname = k.stats_column"
    "   AND NOT s.inherited"
    "  GROUP BY k.indexrelid),"
    " shapes AS ("
    "  SELECT n.nspname AS schema_name, c.relname AS table_name, '' AS index_name,"
    "   c.relpages::int8 * p.bs AS real_bytes,"
    "   greatest(c.reltuples, 0)::float8 AS tuples,"
    "   4 + ceil((23 + CASE WHEN coalesce(w.max_null_frac, 0) > 0"
    "    THEN (coalesce(w.natts, 0) + 7) / 8 ELSE 0 END) / 8.0) * 8"
    "    + ceil(coalesce(w.data_width, 0) / 8) * 8 AS tuple_bytes,"
    "   (p.bs - 24) * coalesce((SELECT substring(o FROM '=([0-9]+)$')::int"
    "    FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%' LIMIT 1), 100)"
    "    / 100.0 AS page_bytes,"
    "   0 AS extra_pages,"
    "   coalesce(w.missing, 0) > 0 OR c.reltuples <= 0 AS unreliable,"
    "   p.bs"
    "  FROM pg_catalog.pg_class c"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "  CROSS JOIN params p"
    "  LEFT JOIN table_columns w ON w.relid = c.oid"
    "  WHERE c.relkind IN ('r', 'm') AND c.relpages > 0 AND c.relpersistence <> 't'"
    "  UNION ALL"
    "  SELECT n.nspname, t.relname, ic.relname,"
    "   ic.relpages::int8 * p.bs,"
    "   greatest(ic.reltuples, 0)::float8,"
    "   4 + ceil((CASE WHEN coalesce(w.max_null_frac, 0) > 0 THEN 16 ELSE 8 END"
    "    + coalesce(w.data_width, 0)) / 8) * 8,"
    "   (p.bs - 24 - 16) * coalesce((SELECT substring(o FROM '=([0-9]+)$')::int"
    "    FROM unnest(ic.reloptions) o WHERE o LIKE 'fillfactor=%' LIMIT 1), 90)"
    "    / 100.0,"
    "   1,"
    "   coalesce(w.missing, 1) > 0 OR t.reltuples <= 0 OR ic.reltuples < 0,"
    "   p.bs"
    "  FROM pg_catalog.pg_index i"
    "  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    "  JOIN pg_catalog.pg_am am ON am.oid = ic.relam"
    "  JOIN pg_catalog.pg_class t ON t.oid = i.indrelid"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
    "  CROSS JOIN params p"
    "  LEFT JOIN index_columns w ON w.indexrelid = i.indexrelid"
    "  WHERE am.amname = 'btree' AND ic.relpages > 0 AND i.indisvalid"
    "   AND t.relkind IN ('r', 'm') AND t.relpersistence <> 't'),"
    " estimates AS ("
    "  SELECT schema_name, table_name, index_name, real_bytes, unreliable,"
    "   least(real_bytes, ((CASE WHEN tuples > 0"
    "    THEN ceil(tuples / greatest(1, floor(page_bytes / tuple_bytes))) ELSE 0 END"
    "    + extra_pages) * bs)::int8) AS expected_bytes"
    "  FROM shapes)"
    " SELECT schema_name, table_name, index_name, real_bytes, expected_bytes,"
    "  real_bytes - expected_bytes AS bloat_bytes, unreliable"
    " FROM estimates"
    " ORDER BY bloat_bytes DESC, schema_name, table_name, index_name"
    " LIMIT 100001";

/* The estimates of every database so far, grown in the arena. */
struct bloat_list {
	Pgfleet__V1__BloatEstimate **rows;
	size_t count;
	size_t capacity;
};


/* bloat_database reads the estimates of one database into list. */
static void
bloat_database(struct family_context *context, struct pg_session *session,
    const char *database, struct bloat_list *list)
{
	PGresult *result = family_query(context, session, database, "bloat estimate", bloat_sql);
	int rows;

	if (result == NULL)
		return;
	rows = PQntuples(result);
	if (rows > BLOAT_MAX_ROWS_PER_DATABASE) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_UNSPECIFIED,
		    database, "more than %d tables and indexes: only the %d most bloated are sent",
		    BLOAT_MAX_ROWS_PER_DATABASE, BLOAT_MAX_ROWS_PER_DATABASE);
		rows = BLOAT_MAX_ROWS_PER_DATABASE;
	}
	if (!family_grow(context, &list->rows, list->count, &list->capacity, (size_t) rows)) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "bloat estimate: out of memory for %d rows", rows);
		PQclear(result);
		return;
	}
	for (int row = 0; row < rows; row++) {
		Pgfleet__V1__BloatEstimate *estimate =
		    family_new_message(context, &pgfleet__v1__bloat_estimate__descriptor);
		if (estimate == NULL)
			break;
		estimate->database = pgf_arena_strdup(context->arena, database);
		estimate->schema = family_text(context, result, row, COL_SCHEMA);
		estimate->table = family_text(context, result, row, COL_TABLE);
		estimate->index = family_text(context, result, row, COL_INDEX);
		estimate->real_bytes = family_int64(result, row, COL_REAL_BYTES);
		estimate->expected_bytes = family_int64(result, row, COL_EXPECTED_BYTES);
		estimate->bloat_bytes = family_int64(result, row, COL_BLOAT_BYTES);
		if (estimate->bloat_bytes < 0)
			estimate->bloat_bytes = 0;
		estimate->bloat_ratio = estimate->real_bytes > 0
		    ? (double) estimate->bloat_bytes / (double) estimate->real_bytes
		    : 0.0;
		estimate->is_estimate_unreliable = family_bool(result, row, COL_UNRELIABLE);
		list->rows[list->count++] = estimate;
	}
	PQclear(result);
}

static void
collect_bloat(struct family_context *context, Pgfleet__V1__Report *report)
{
	struct bloat_list list = {NULL, 0, 0};
	Pgfleet__V1__BloatFamily *family =
	    family_new_message(context, &pgfleet__v1__bloat_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "bloat", &family->problems, &family->n_problems);
	for (size_t i = 0; i < db_pool_count(context->databases); i++) {
		const char *database = db_pool_name(context->databases, i);
		char errbuf[512];
		struct pg_session *session =
		    db_pool_session(context->databases, i, errbuf, sizeof(errbuf));
		if (session == NULL) {
			family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR,
			    database, "could not connect: %s", errbuf);
			continue;
		}
		bloat_database(context, session, database, &list);
	}
	family->estimates = list.rows;
	family->n_estimates = list.count;
	report->bloat = family;
}

const struct agent_family family_bloat = {
	.name = "bloat",
	.cadence_ms = family_cadence_bloat,
	.min_server_version = 130000,
	.collect = collect_bloat,
	.state_free = NULL,
};
