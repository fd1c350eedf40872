/*
 * store_pg_slow.c - slow-queries in the PostgreSQL store: statements added
 * up over a window, per instance, cluster or fleet (by fingerprint), as
 * store_sqlite_slow.c's plain way, over the raw rows and the rollups
 * (store_pg_statement_source: a long window reads daily rows). SQLite's
 * pruning by statement totals is not needed for the same answer and not
 * done yet, though maintenance keeps the totals (statement_totals,
 * store_pg_rollup.c); PostgreSQL adds up in parallel, and on Citus per
 * shard.
 */
#include "collector/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/slow_answer.h"

/* The figure an order sorts by (columns of the aggregate g). */
static const char *const orders[] = {
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL] = "g.total_ms DESC",
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN] = "g.total_ms / g.total_calls DESC",
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS] = "g.total_calls DESC",
};

/* The same, outside g (its columns renamed by the outer query). */
static const char *const outer_orders[] = {
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL] = "o.total_ms DESC",
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN] = "o.total_ms / o.total_calls DESC",
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS] = "o.total_calls DESC",
};

static unsigned
order_of(const Pgfleet__V1__SlowQueriesRequest *request)
{
	return (unsigned) request->order < sizeof(orders) / sizeof(orders[0])
	    ? (unsigned) request->order
	    : PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL;
}

/* The scope: $1 instance, $2 cluster, $3 database, $4 since, $5 until. */
#define SCOPE_FILTER                                                              \
	" WHERE ($1 = '' OR i.name = $1) AND ($2 = '' OR i.system_identifier = $2)" \
	"  AND ($3 = '' OR s.datname = $3) AND s.ts_us >= $4 AND s.ts_us < $5"

/*
 * The groups' sums (g), kept when their mean reaches $6, ordered and cut
 * to $7 (o), then the text of each: as SQLite's statement, with its HAVING
 * and ORDER BY on aliases written out (PostgreSQL does not take aliases
 * there). Ties order by the instance names, then the queryid.
 */
int
store_pg_slow_queries(struct store *base, const Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	const Pgfleet__V1__Scope *scope = request->scope;
	bool fleet = request->group == PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET;
	const char *group;
	struct pg_params params;
	PGresult *res = NULL;
	char sql[8192];
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	switch (request->group) {
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_CLUSTER:
		group = "i.system_identifier, s.dbid, s.queryid";
		break;
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET:
		group = "coalesce(nullif(t.fingerprint, ''), 'q:' || s.queryid)";
		break;
	default:
		group = "s.instance_id, s.dbid, s.queryid";
		break;
	}
	snprintf(sql, sizeof(sql),
	    "SELECT o.names, o.datname, o.queryid, o.total_calls, o.total_ms, o.sum_sq,"
	    "  o.max_ms, o.rows, %s, o.clusters, o.instances"
	    " FROM (SELECT g.* FROM (SELECT string_agg(DISTINCT i.name, ',') AS names,"
	    "  max(s.datname) AS datname, min(s.queryid) AS queryid,"
	    "  sum(s.calls)::bigint AS total_calls, sum(s.total_exec_time_ms) AS total_ms,"
	    "  sum(s.sum_sq_exec_time_ms2) AS sum_sq, max(s.max_exec_time_ms) AS max_ms,"
	    "  sum(s.rows)::bigint AS rows,"
	    "  string_agg(DISTINCT i.system_identifier, ',') AS clusters,"
	    "  count(DISTINCT s.instance_id) AS instances,"
	    "  min(s.instance_id) AS text_instance%s"
	    " FROM %s s JOIN instances i USING (instance_id)%s"
	    SCOPE_FILTER
	    " GROUP BY %s) g"
	    " WHERE g.total_calls > 0 AND g.total_ms / g.total_calls >= $6"
	    " ORDER BY %s, g.names, g.queryid LIMIT $7) o%s"
	    " ORDER BY %s, o.names, o.queryid",
	    fleet ? "o.query, o.truncated"
		  : "coalesce(t.query, ''), coalesce(t.truncated, false)",
	    /* grouped by the text's fingerprint: every row needs its text */
	    fleet ? ", coalesce(max(t.query), '') AS query,"
		    " coalesce(bool_or(t.truncated), false) AS truncated"
		  : "",
	    store_pg_statement_source,
	    fleet ? " LEFT JOIN statement_texts t ON t.instance_id = s.instance_id"
		    " AND t.queryid = s.queryid"
		  : "",
	    group, orders[order_of(request)],
	    /* one queryid per group: the few texts shown, after the cut */
	    fleet ? ""
		  : " LEFT JOIN statement_texts t ON t.instance_id = o.text_instance"
		    " AND t.queryid = o.queryid",
	    outer_orders[order_of(request)]);
	pg_params_init(&params);
	pg_param_text(&params, scope != NULL ? scope->instance : "");
	pg_param_text(&params, scope != NULL ? scope->cluster : "");
	pg_param_text(&params, scope != NULL ? scope->database : "");
	pg_param_int(&params, scope != NULL ? scope->since_us : 0);
	pg_param_int(&params, scope != NULL && scope->until_us != 0 ? scope->until_us : INT64_MAX);
	pg_param_double(&params, request->min_duration_ms);
	pg_param_int(&params, request->limit > 0 ? request->limit : 10);
	if ((rv = pg_read(store, sql, &params, &res, "read slow queries", errbuf, errlen)) != PGF_OK)
		return rv;
	if (PQntuples(res) > 0) {
		answer->rows = calloc((size_t) PQntuples(res), sizeof(answer->rows[0]));
		if (answer->rows == NULL)
			goto oom;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		Pgfleet__V1__SlowQuery *row = malloc(sizeof(*row));
		struct slow_answer_sums sums;

		if (row == NULL)
			goto oom;
		pgfleet__v1__slow_query__init(row);
		answer->rows[answer->n_rows++] = row;
		sums = (struct slow_answer_sums){
			.instances = PQgetvalue(res, r, 0),
			.database = PQgetvalue(res, r, 1),
			.queryid = pg_int(res, r, 2),
			.calls = pg_int(res, r, 3),
			.total_ms = pg_double(res, r, 4),
			.sum_sq_ms2 = pg_double(res, r, 5),
			.max_ms = pg_double(res, r, 6),
			.rows = pg_int(res, r, 7),
			.query = PQgetvalue(res, r, 8),
			.truncated = pg_bool(res, r, 9),
			.clusters = PQgetvalue(res, r, 10),
			.instance_count = (int32_t) pg_int(res, r, 11),
		};
		if (!slow_answer_row(row, &sums))
			goto oom;
	}
	PQclear(res);
	return PGF_OK;
oom:
	/* a row whose strings failed is freed with the rest: NULLs are fine */
	PQclear(res);
	store_slow_queries_fini(answer);
	snprintf(errbuf, errlen, "out of memory");
	return PGF_ENOMEM;
}
