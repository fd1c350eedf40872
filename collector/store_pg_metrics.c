/*
 * store_pg_metrics.c - the PostgreSQL store's part of /metrics: the queries
 * of metrics_queries.c (the same SQL as on SQLite, so both stores render
 * the same text from the same data), run in one repeatable-read snapshot
 * so every family comes from the same moment. The statements' counters
 * read statement_counters (schema version 6: running totals kept by
 * triggers on the hourly level, never lowered by retention) and the raw
 * rows past the hourly watermark.
 */
#include "collector/store_pg_internal.h"

#include <stdio.h>
#include <string.h>

#include "collector/metrics.h"
#include "collector/metrics_queries.h"

/* Runs one query into set ($1 now, $2 the statements wanted: typed, so a
 * query need not use both). */
static int
run_query(struct store_pg *store, const struct metrics_query *query,
    size_t top_statements, int64_t now_us, struct metrics_set *set, char *errbuf,
    size_t errlen)
{
	struct pg_params params;
	PGresult *res = NULL;
	char what[128];
	int labels = metrics_query_labels(query);
	int rv;

	snprintf(what, sizeof(what), "read %s for metrics", query->what);
	pg_params_init(&params);
	pg_param_int(&params, now_us);
	pg_param_int(&params, (int64_t) top_statements);
	if ((rv = pg_run(store, query->sql, &params, &res, what, errbuf, errlen))
	    != PGF_OK)
		return rv;
	for (int r = 0; r < PQntuples(res); r++) {
		const char *values[METRICS_MAX_LABELS] = { NULL };
		double figures[METRICS_QUERY_MAX_FAMILIES];
		bool present[METRICS_QUERY_MAX_FAMILIES];

		/* NULL reads as "" (PQgetvalue) */
		for (int l = 0; l < labels; l++)
			values[l] = PQgetvalue(res, r, l);
		for (int f = 0; f < query->n_families; f++) {
			present[f] = !PQgetisnull(res, r, labels + f);
			figures[f] = pg_double(res, r, labels + f);
		}
		if (metrics_queries_add_row(set, query, values, figures, present)
		    != PGF_OK) {
			PQclear(res);
			snprintf(errbuf, errlen, "could not %s: out of memory", what);
			return PGF_ENOMEM;
		}
	}
	PQclear(res);
	return PGF_OK;
}

int
store_pg_metrics(struct store *base, size_t top_statements, int64_t now_us,
    struct metrics_set *set, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	int rv = pg_connected(store, errbuf, errlen);

	/* one snapshot: every family from the same moment */
	if (rv == PGF_OK)
		rv = pg_run(store, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		    NULL, NULL, "begin a metrics read", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	for (size_t i = 0; i < metrics_queries_count && rv == PGF_OK; i++) {
		/* no statement wanted: not even the bound's OFFSET -1 */
		if (metrics_queries[i].statements && top_statements == 0)
			continue;
		rv = run_query(store, &metrics_queries[i], top_statements, now_us, set,
		    errbuf, errlen);
	}
	{
		PGresult *end = PQexec(store->conn, rv == PGF_OK ? "COMMIT" : "ROLLBACK");
		PQclear(end);
	}
	return rv;
}
