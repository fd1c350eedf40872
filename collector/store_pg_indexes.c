/*
 * store_pg_indexes.c - index recommendations in the PostgreSQL store: the
 * facts the analysis needs, kept from reports as store_sqlite_indexes.c
 * keeps them (index_columns, foreign_keys, database_stats_resets,
 * index_checks, index_check_state: schema version 5), and read back for
 * a question. The answers are built by index_answer.c, the same code the
 * SQLite store runs, from the same rows read by the same SQL translated:
 * so both stores answer alike (tests/unit/test_store_pg.c compares them).
 *
 * Translation notes: SQLite's bare columns in GROUP BY queries become
 * grouped columns or DISTINCT; flags are booleans; text is COLLATE "C"
 * (byte order, as SQLite orders); ties SQLite leaves to its scan order
 * are broken by the keys it groups by.
 */
#include "collector/store_pg_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/index_answer.h"
#include "common/timeutil.h"

/* ---- writing ----------------------------------------------------------- */

/* The latest key columns of each index, and the instance's foreign keys
 * (the family holds all of them, so it replaces them). */
static void
write_indexes(struct store_pg *store, struct pg_pipeline *pipeline, int64_t instance_id,
    const Pgfleet__V1__IndexesFamily *family)
{
	struct pg_params p;

	for (size_t i = 0; i < family->n_indexes; i++) {
		const Pgfleet__V1__IndexStat *x = family->indexes[i];
		pg_params_init(&p);
		pg_param_int(&p, instance_id);
		pg_param_text(&p, x->database);
		pg_param_text(&p, x->schema);
		pg_param_text(&p, x->index);
		{
			char *columns = index_answer_join_columns(x->columns, x->n_columns);
			pg_param_text(&p, columns);
			/* out of memory fails the params, and so the pipeline */
			if (columns == NULL)
				p.failed = true;
			free(columns);
		}
		pg_pipeline_send(store, pipeline,
		    "INSERT INTO index_columns (instance_id, datname, schemaname, indexrelname,"
		    " columns) VALUES ($1, $2, $3, $4, $5)"
		    " ON CONFLICT (instance_id, datname, schemaname, indexrelname) DO UPDATE"
		    " SET columns = excluded.columns WHERE index_columns.columns <> excluded.columns",
		    &p);
	}
	pg_params_init(&p);
	pg_param_int(&p, instance_id);
	pg_pipeline_send(store, pipeline, "DELETE FROM foreign_keys WHERE instance_id = $1", &p);
	for (size_t i = 0; i < family->n_foreign_keys; i++) {
		const Pgfleet__V1__ForeignKey *k = family->foreign_keys[i];
		char *columns = index_answer_join_columns(k->columns, k->n_columns);
		pg_params_init(&p);
		pg_param_int(&p, instance_id);
		pg_param_text(&p, k->database);
		pg_param_text(&p, k->schema);
		pg_param_text(&p, k->table);
		pg_param_text(&p, k->name);
		pg_param_text(&p, columns);
		pg_param_text(&p, k->referenced_table);
		if (columns == NULL)
			p.failed = true;
		free(columns);
		/* a key named twice: the later one, as SQLite's INSERT OR REPLACE */
		pg_pipeline_send(store, pipeline,
		    "INSERT INTO foreign_keys (instance_id, datname, schemaname, relname, name,"
		    " columns, referenced_table) VALUES ($1, $2, $3, $4, $5, $6, $7)"
		    " ON CONFLICT (instance_id, datname, schemaname, relname, name) DO UPDATE"
		    " SET columns = excluded.columns, referenced_table = excluded.referenced_table",
		    &p);
	}
}

/* Every pg_stat_database.stats_reset the instance reported. */
static void
write_resets(struct store_pg *store, struct pg_pipeline *pipeline, int64_t instance_id,
    const Pgfleet__V1__TablesFamily *family)
{
	struct pg_params p;

	for (size_t i = 0; i < family->n_databases; i++) {
		const Pgfleet__V1__DatabaseStatsReset *d = family->databases[i];
		if (d->stats_reset_us <= 0)
			continue;
		pg_params_init(&p);
		pg_param_int(&p, instance_id);
		pg_param_text(&p, d->database);
		pg_param_int(&p, d->stats_reset_us);
		pg_pipeline_send(store, pipeline,
		    "INSERT INTO database_stats_resets (instance_id, datname, stats_reset_us)"
		    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		    &p);
	}
}

/* hypopg's verdicts, checked_us the report's time; a proposal checked
 * again replaces its verdict. */
static void
write_checks(struct store_pg *store, struct pg_pipeline *pipeline, int64_t instance_id,
    int64_t ts_us, const Pgfleet__V1__IndexChecksFamily *family)
{
	struct pg_params p;

	for (size_t i = 0; i < family->n_results; i++) {
		const Pgfleet__V1__IndexCheckResult *r = family->results[i];
		pg_params_init(&p);
		pg_param_int(&p, instance_id);
		pg_param_text(&p, r->database);
		pg_param_int(&p, r->queryid);
		pg_param_text(&p, r->index_statement);
		pg_param_int(&p, ts_us);
		pg_param_int(&p, (int64_t) r->status);
		pg_param_double(&p, isfinite(r->cost_before) ? r->cost_before : 0.0);
		pg_param_double(&p, isfinite(r->cost_after) ? r->cost_after : 0.0);
		pg_param_bool(&p, r->index_used);
		pg_param_text(&p, r->detail);
		pg_param_int(&p, r->estimated_index_bytes);
		pg_pipeline_send(store, pipeline,
		    "INSERT INTO index_checks (instance_id, datname, queryid, index_statement,"
		    " checked_us, status, cost_before, cost_after, index_used, detail,"
		    " estimated_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
		    " ON CONFLICT (instance_id, datname, queryid, index_statement) DO UPDATE SET"
		    " checked_us = excluded.checked_us, status = excluded.status,"
		    " cost_before = excluded.cost_before, cost_after = excluded.cost_after,"
		    " index_used = excluded.index_used, detail = excluded.detail,"
		    " estimated_bytes = excluded.estimated_bytes",
		    &p);
	}
}

int
store_pg_indexes_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen)
{
	struct pg_pipeline pipeline;

	if (report->indexes == NULL && report->tables == NULL && report->index_checks == NULL)
		return PGF_OK;
	/* one round trip for the three families' rows */
	pg_pipeline_begin(store, &pipeline);
	if (report->indexes != NULL)
		write_indexes(store, &pipeline, instance_id, report->indexes);
	if (report->tables != NULL)
		write_resets(store, &pipeline, instance_id, report->tables);
	if (report->index_checks != NULL)
		write_checks(store, &pipeline, instance_id, report->collected_at_us,
		    report->index_checks);
	return pg_pipeline_end(store, &pipeline, "store the index facts", errbuf, errlen);
}

/* ---- reading the facts ------------------------------------------------- */

/* Runs a loader's query with the filter as $1 instance, $2 cluster,
 * $3 database, $4 since, $5 until. */
static int
run_filtered(struct store_pg *store, const char *sql, const struct index_filter *filter,
    PGresult **res, char *errbuf, size_t errlen)
{
	struct pg_params p;

	pg_params_init(&p);
	pg_param_text(&p, filter->instance);
	pg_param_text(&p, filter->cluster);
	pg_param_text(&p, filter->database);
	pg_param_int(&p, filter->since_us);
	pg_param_int(&p, filter->until_us);
	return pg_read(store, sql, &p, res, "read the index facts", errbuf, errlen);
}

static int
facts_full(int rv, char *errbuf, size_t errlen)
{
	if (rv != PGF_OK)
		snprintf(errbuf, errlen, "could not read the index facts: out of memory");
	return rv;
}

/* Instances in the filter: by name and cluster. */
#define INSTANCE_FILTER "($1 = '' OR i.name = $1) AND ($2 = '' OR i.system_identifier = $2)"

static int
load_tables(struct store_pg *store, struct index_facts *facts,
    const struct index_filter *filter, char *errbuf, size_t errlen)
{
	/* each instance's first and last tables snapshot in the window, as
	 * store_sqlite_indexes.c's load_tables */
	static const char sql[] =
	    "WITH span AS MATERIALIZED (SELECT i.instance_id,"
	    "  (SELECT min(t.ts_us) FROM table_stats t WHERE t.instance_id = i.instance_id"
	    "   AND t.ts_us >= $4 AND t.ts_us <= $5) AS first_us,"
	    "  (SELECT max(t.ts_us) FROM table_stats t WHERE t.instance_id = i.instance_id"
	    "   AND t.ts_us >= $4 AND t.ts_us <= $5) AS last_us"
	    "  FROM instances i WHERE " INSTANCE_FILTER "),"
	    " f AS MATERIALIZED (SELECT t.* FROM span s JOIN table_stats t"
	    "  ON t.instance_id = s.instance_id AND t.ts_us = s.first_us"
	    "  WHERE s.last_us > s.first_us AND ($3 = '' OR t.datname = $3)),"
	    " l AS MATERIALIZED (SELECT t.* FROM span s JOIN table_stats t"
	    "  ON t.instance_id = s.instance_id AND t.ts_us = s.last_us"
	    "  WHERE s.last_us > s.first_us AND ($3 = '' OR t.datname = $3))"
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
	PGresult *res = NULL;
	int rv = run_filtered(store, sql, filter, &res, errbuf, errlen);

	for (int r = 0; rv == PGF_OK && r < PQntuples(res); r++) {
		struct table_window t;
		t.instance = PQgetvalue(res, r, 0);
		t.database = PQgetvalue(res, r, 2);
		t.schema = PQgetvalue(res, r, 3);
		t.table = PQgetvalue(res, r, 4);
		t.seq_scans = pg_int(res, r, 5);
		t.seq_tuples_read = pg_int(res, r, 6);
		t.index_scans = pg_int(res, r, 7);
		t.table_bytes = pg_int(res, r, 8);
		t.live_tuples = pg_int(res, r, 9);
		rv = facts_full(index_facts_add_table(facts, &t, PQgetvalue(res, r, 1),
				    pg_int(res, r, 10)),
		    errbuf, errlen);
	}
	PQclear(res);
	return rv;
}

static int
load_statements(struct store_pg *store, struct index_facts *facts,
    const struct index_filter *filter, char *errbuf, size_t errlen)
{
	char sql[4096];
	PGresult *res = NULL;
	int rv;

	/* the most expensive statements first; equal ones in the order
	 * SQLite groups them */
	snprintf(sql, sizeof(sql),
	    "SELECT i.name, s.datname, s.queryid, sum(s.calls), sum(s.total_exec_time_ms),"
	    "  t.query"
	    " FROM %s s JOIN instances i ON i.instance_id = s.instance_id"
	    " JOIN statement_texts t ON t.instance_id = s.instance_id AND t.queryid = s.queryid"
	    " WHERE " INSTANCE_FILTER " AND ($3 = '' OR s.datname = $3)"
	    "  AND s.ts_us >= $4 AND s.ts_us <= $5 AND NOT t.truncated"
	    " GROUP BY s.instance_id, s.datname, s.queryid, i.name, t.query"
	    " ORDER BY 5 DESC, s.instance_id, s.datname, s.queryid LIMIT %d",
	    store_pg_statement_source, INDEX_ANSWER_MAX_STATEMENTS);
	rv = run_filtered(store, sql, filter, &res, errbuf, errlen);
	for (int r = 0; rv == PGF_OK && r < PQntuples(res); r++) {
		struct statement_fact s;
		s.instance = PQgetvalue(res, r, 0);
		s.database = PQgetvalue(res, r, 1);
		s.queryid = pg_int(res, r, 2);
		s.calls = pg_int(res, r, 3);
		s.total_ms = pg_double(res, r, 4);
		s.text = PQgetvalue(res, r, 5);
		rv = facts_full(index_facts_add_statement(facts, &s), errbuf, errlen);
	}
	PQclear(res);
	return rv;
}

/* Every member of the clusters the filter names (an instance without a
 * system identifier is a cluster of its own). */
#define MEMBERS                                                                           \
	"members AS (SELECT m.instance_id, m.name, m.system_identifier, m.role"             \
	"  FROM instances m WHERE m.instance_id IN (SELECT i.instance_id FROM instances i" \
	"  WHERE " INSTANCE_FILTER ") OR (m.system_identifier <> '' AND m.system_identifier" \
	"  IN (SELECT i.system_identifier FROM instances i WHERE " INSTANCE_FILTER ")))"

static int
load_indexes(struct store_pg *store, struct index_facts *facts,
    const struct index_filter *filter, char *errbuf, size_t errlen)
{
	static const char sql[] =
	    "WITH " MEMBERS ","
	    " w AS (SELECT x.* FROM index_stats x"
	    "  WHERE x.instance_id IN (SELECT instance_id FROM members)"
	    "  AND ($3 = '' OR x.datname = $3) AND x.ts_us >= $4 AND x.ts_us <= $5),"
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
	PGresult *res = NULL;
	int rv = run_filtered(store, sql, filter, &res, errbuf, errlen);

	for (int r = 0; rv == PGF_OK && r < PQntuples(res); r++) {
		struct index_fact x;
		memset(&x, 0, sizeof(x));
		x.instance = PQgetvalue(res, r, 0);
		x.database = PQgetvalue(res, r, 2);
		x.schema = PQgetvalue(res, r, 3);
		x.table = PQgetvalue(res, r, 4);
		x.index = PQgetvalue(res, r, 5);
		x.access_method = PQgetvalue(res, r, 6);
		x.predicate = PQgetvalue(res, r, 8);
		x.definition = PQgetvalue(res, r, 9);
		x.constraint_type = PQgetvalue(res, r, 10);
		x.is_unique = pg_bool(res, r, 11);
		x.is_valid = pg_bool(res, r, 12);
		x.size_bytes = pg_int(res, r, 13);
		x.window_scans = pg_int(res, r, 14);
		rv = facts_full(index_facts_add_index(facts, &x, PQgetvalue(res, r, 7),
				    PQgetvalue(res, r, 1), pg_int(res, r, 15)),
		    errbuf, errlen);
	}
	PQclear(res);
	return rv;
}

static int
load_foreign_keys(struct store_pg *store, struct index_facts *facts,
    const struct index_filter *filter, char *errbuf, size_t errlen)
{
	/* one catalog per cluster: the keys of one member (the primary when
	 * it reported them); a cluster is a system identifier, or an
	 * instance without one (SQLite groups by both at once) */
	static const char sql[] =
	    "WITH " MEMBERS ","
	    " clusters AS (SELECT DISTINCT m.system_identifier,"
	    "  CASE WHEN m.system_identifier = '' THEN m.instance_id END AS alone FROM members m),"
	    " source AS (SELECT c.system_identifier, (SELECT k.instance_id FROM members k"
	    "  WHERE k.system_identifier = c.system_identifier AND (c.system_identifier <> ''"
	    "  OR k.instance_id = c.alone) AND EXISTS (SELECT 1 FROM foreign_keys f"
	    "  WHERE f.instance_id = k.instance_id) ORDER BY k.role <> 'primary', k.name"
	    "  LIMIT 1) AS instance_id FROM clusters c)"
	    " SELECT s.system_identifier, f.datname, f.schemaname, f.relname, f.name,"
	    "  f.columns, f.referenced_table"
	    " FROM source s JOIN foreign_keys f ON f.instance_id = s.instance_id"
	    " WHERE ($3 = '' OR f.datname = $3) AND $4 <= $5"
	    " ORDER BY 1, 2, 3, 4, 5";
	PGresult *res = NULL;
	int rv = run_filtered(store, sql, filter, &res, errbuf, errlen);

	for (int r = 0; rv == PGF_OK && r < PQntuples(res); r++) {
		struct foreign_key_fact k;
		memset(&k, 0, sizeof(k));
		k.database = PQgetvalue(res, r, 1);
		k.schema = PQgetvalue(res, r, 2);
		k.table = PQgetvalue(res, r, 3);
		k.name = PQgetvalue(res, r, 4);
		k.referenced_table = PQgetvalue(res, r, 6);
		rv = facts_full(index_facts_add_foreign_key(facts, &k, PQgetvalue(res, r, 5),
				    PQgetvalue(res, r, 0)),
		    errbuf, errlen);
	}
	PQclear(res);
	return rv;
}

/* The hypopg verdicts stored for the instances (and database) of the
 * filter. */
static int
load_checks(struct store_pg *store, struct index_facts *facts,
    const struct index_filter *filter, char *errbuf, size_t errlen)
{
	static const char sql[] =
	    "SELECT i.name, c.datname, c.queryid, c.index_statement, c.checked_us, c.status,"
	    "  c.cost_before, c.cost_after, c.index_used, c.detail, c.estimated_bytes"
	    " FROM index_checks c JOIN instances i ON i.instance_id = c.instance_id"
	    " WHERE " INSTANCE_FILTER " AND ($3 = '' OR c.datname = $3) AND $4 <= $5";
	PGresult *res = NULL;
	int rv = run_filtered(store, sql, filter, &res, errbuf, errlen);

	for (int r = 0; rv == PGF_OK && r < PQntuples(res); r++) {
		struct index_check_fact c;
		c.instance = PQgetvalue(res, r, 0);
		c.database = PQgetvalue(res, r, 1);
		c.queryid = pg_int(res, r, 2);
		c.index_statement = PQgetvalue(res, r, 3);
		c.checked_us = pg_int(res, r, 4);
		c.status = (int) pg_int(res, r, 5);
		c.cost_before = pg_double(res, r, 6);
		c.cost_after = pg_double(res, r, 7);
		c.index_used = pg_bool(res, r, 8);
		c.detail = PQgetvalue(res, r, 9);
		c.estimated_bytes = pg_int(res, r, 10);
		rv = facts_full(index_facts_add_check(facts, &c), errbuf, errlen);
	}
	PQclear(res);
	return rv;
}

/* ---- the answers ------------------------------------------------------- */

int
store_pg_index_recommendations(struct store *base,
    const Pgfleet__V1__IndexRecommendationsRequest *request,
    Pgfleet__V1__IndexRecommendations *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct index_facts *facts;
	struct index_filter filter;
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	index_answer_request_filter(request, pgf_time_now_us(), &filter);
	if ((facts = index_facts_new()) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	if ((rv = load_tables(store, facts, &filter, errbuf, errlen)) == PGF_OK &&
	    (rv = load_statements(store, facts, &filter, errbuf, errlen)) == PGF_OK &&
	    (rv = load_indexes(store, facts, &filter, errbuf, errlen)) == PGF_OK &&
	    (rv = load_foreign_keys(store, facts, &filter, errbuf, errlen)) == PGF_OK &&
	    (rv = load_checks(store, facts, &filter, errbuf, errlen)) == PGF_OK &&
	    (rv = index_answer_recommendations(facts, request->limit, answer)) != PGF_OK)
		snprintf(errbuf, errlen, "could not read index recommendations: out of memory");
	index_facts_free(facts);
	return rv;
}

/* Counts one more tables snapshot of the instance; *due says proposals
 * are to be worked out for it now (INDEX_ANSWER_CHECK_EVERY). */
static int
check_due(struct store_pg *store, const char *instance, bool *due, char *errbuf,
    size_t errlen)
{
	struct pg_params p;
	PGresult *res = NULL;
	int rv;

	*due = false;
	pg_params_init(&p);
	pg_param_text(&p, instance);
	pg_param_int(&p, INDEX_ANSWER_CHECK_EVERY);
	rv = pg_read(store,
	    "INSERT INTO index_check_state (instance_id, snapshots)"
	    " SELECT instance_id, 1 FROM instances WHERE name = $1"
	    " ON CONFLICT (instance_id) DO UPDATE"
	    " SET snapshots = index_check_state.snapshots % $2 + 1"
	    " RETURNING snapshots",
	    &p, &res, "count tables snapshots", errbuf, errlen);
	if (rv == PGF_OK)
		*due = PQntuples(res) == 1 && pg_int(res, 0, 0) == 1;
	PQclear(res);
	return rv;
}

/* store_pg_index_checks without the savepoint. */
static int
propose_checks(struct store_pg *store, const Pgfleet__V1__Report *report,
    const struct index_filter *filter, Pgfleet__V1__IndexCheckRequest ***checks,
    size_t *count, char *errbuf, size_t errlen)
{
	struct index_facts *facts;
	bool due = false;
	int rv;

	if ((rv = check_due(store, report->instance->name, &due, errbuf, errlen)) != PGF_OK ||
	    !due)
		return rv;
	if ((facts = index_facts_new()) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	/* most snapshots flag no table: then nothing else is read */
	if ((rv = load_tables(store, facts, filter, errbuf, errlen)) == PGF_OK &&
	    index_facts_any_flagged(facts) &&
	    (rv = load_statements(store, facts, filter, errbuf, errlen)) == PGF_OK &&
	    (rv = load_indexes(store, facts, filter, errbuf, errlen)) == PGF_OK &&
	    (rv = load_checks(store, facts, filter, errbuf, errlen)) == PGF_OK &&
	    (rv = index_answer_checks(facts, report->instance->name, report->collected_at_us,
		 checks, count)) != PGF_OK)
		snprintf(errbuf, errlen, "could not propose index checks: out of memory");
	index_facts_free(facts);
	return rv;
}

int
store_pg_index_checks(struct store *base, const Pgfleet__V1__Report *report,
    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct index_filter filter;
	int rv;

	*checks = NULL;
	*count = 0;
	if (!index_answer_check_filter(report, &filter))
		return PGF_OK;
	if (!store->in_batch)
		return propose_checks(store, report, &filter, checks, count, errbuf, errlen);
	/* inside a batch a failed statement would abort the whole batch's
	 * transaction (SQLite's would not): a savepoint keeps the failure
	 * to the proposals, which are only advice */
	if ((rv = pg_run(store, "SAVEPOINT index_checks", NULL, NULL, "propose index checks",
		 errbuf, errlen)) != PGF_OK)
		return rv;
	rv = propose_checks(store, report, &filter, checks, count, errbuf, errlen);
	{
		/* a failure here is the batch's own (its end says so) */
		PGresult *end = PQexec(store->conn,
		    rv == PGF_OK ? "RELEASE index_checks"
				 : "ROLLBACK TO index_checks; RELEASE index_checks");
		PQclear(end);
	}
	return rv;
}
