/*
 * store_pg_slow.c - slow-queries in the PostgreSQL store: statements added
 * up over a window, per instance, cluster or fleet (by fingerprint), as
 * store_sqlite_slow.c does: the plain way over the raw rows and the
 * rollups (store_pg_statement_source: a long window reads daily rows), or
 * pruned by the statement totals' bounds for one instance at a time (the
 * method is slow_answer.h's; this module has PostgreSQL's SQL for it).
 */
#include "collector/store_pg_internal.h"

#include <math.h>
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

/* Starts params with the scope: $1 instance, $2 cluster, $3 database, $4
 * since, $5 until (an open end is INT64_MAX: a plain range). */
static void
bind_scope(struct pg_params *params, const Pgfleet__V1__Scope *scope)
{
	pg_params_init(params);
	pg_param_text(params, scope != NULL ? scope->instance : "");
	pg_param_text(params, scope != NULL ? scope->cluster : "");
	pg_param_text(params, scope != NULL ? scope->database : "");
	pg_param_int(params, scope != NULL ? scope->since_us : 0);
	pg_param_int(params, scope != NULL && scope->until_us != 0 ? scope->until_us : INT64_MAX);
}

/* Where the rows come from for the pruned way: only the candidates' (a
 * JSON array of [instance_id, queryid] pairs in $8). Same columns and the
 * same once-only rule as store_pg_statement_source. Each rollup level is
 * read per candidate through its (instance_id, queryid, bucket_us) index:
 * a LATERAL subquery kept apart by OFFSET 0, since once flattened into a
 * join the planner, which cannot see the watermarks' values, chose to
 * read every daily row of the window by time and hash them (2.9 million
 * rows for 64 candidates, a second). The raw rows past the hourly
 * watermark are few: they are read by time. */
static const char candidate_prefix[] =
    "WITH candidates AS MATERIALIZED (SELECT (value ->> 0)::bigint AS instance_id,"
    "  (value ->> 1)::bigint AS queryid FROM json_array_elements($8::json)) ";

#define CANDIDATE_LEVEL(table, alias, lower, upper)                                    \
	" SELECT " alias ".* FROM candidates c CROSS JOIN LATERAL ("                     \
	"  SELECT l.instance_id, l.bucket_us, l.dbid, l.datname, l.queryid, l.calls,"    \
	"   l.total_exec_time_ms, l.sum_sq_exec_time_ms2, l.max_exec_time_ms, l.rows"    \
	"  FROM " table " l WHERE l.instance_id = c.instance_id AND l.queryid = c.queryid" \
	"   AND l.bucket_us >= " lower " AND l.bucket_us < " upper                        \
	"   AND l.bucket_us >= $4 AND l.bucket_us < $5 OFFSET 0) " alias

static const char candidate_source[] =
    "(SELECT r.instance_id, r.ts_us, r.dbid, r.datname, r.queryid, r.calls,"
    "  r.total_exec_time_ms, r.sum_sq_exec_time_ms2, r.max_exec_time_ms, r.rows"
    "  FROM statement_stats r"
    "  WHERE r.ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
    "   AND r.ts_us >= $4 AND r.ts_us < $5"
    "   AND (r.instance_id, r.queryid) IN (SELECT instance_id, queryid FROM candidates)"
    " UNION ALL"
    CANDIDATE_LEVEL("statement_stats_hourly", "h",
	"(SELECT until_us FROM rollup_state WHERE name = 'daily')",
	"(SELECT until_us FROM rollup_state WHERE name = 'hourly')")
    " UNION ALL"
    CANDIDATE_LEVEL("statement_stats_daily", "d", "0",
	"(SELECT until_us FROM rollup_state WHERE name = 'daily')")
    ")";

/* The scope: $1 instance, $2 cluster, $3 database, $4 since, $5 until. */
#define SCOPE_FILTER                                                              \
	" WHERE ($1 = '' OR i.name = $1) AND ($2 = '' OR i.system_identifier = $2)" \
	"  AND ($3 = '' OR s.datname = $3) AND s.ts_us >= $4 AND s.ts_us < $5"

/*
 * The groups' sums (g) of source (restricted to candidates when not NULL),
 * kept when their mean reaches $6, ordered and cut to $7 (o), then the
 * text of each: as SQLite's statement, with its HAVING and ORDER BY on
 * aliases written out (PostgreSQL does not take aliases there). Ties order
 * by the instance names, then the queryid. (slow_pruning_ops.answer)
 */
static int
answer_from(void *ctx, const Pgfleet__V1__SlowQueriesRequest *request,
    const char *candidates, Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = ctx;
	const Pgfleet__V1__Scope *scope = request->scope;
	bool fleet = request->group == PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET;
	const char *group;
	struct pg_params params;
	PGresult *res = NULL;
	char sql[8192];
	int rv;

	answer->rows = NULL;
	answer->n_rows = 0;
	/* a group's names, clusters and instance count: one instance's are
	 * plain minimums, which lets the server hash the groups where a
	 * DISTINCT aggregate made it sort every row of the window (twice as
	 * fast over 2.9 million rows; the plain way answers when the bounds
	 * cannot narrow) */
	const char *names = "string_agg(DISTINCT i.name, ',') AS names,"
			    " string_agg(DISTINCT i.system_identifier, ',') AS clusters,"
			    " count(DISTINCT s.instance_id) AS instances";
	switch (request->group) {
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_CLUSTER:
		group = "i.system_identifier, s.dbid, s.queryid";
		break;
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET:
		group = "coalesce(nullif(t.fingerprint, ''), 'q:' || s.queryid)";
		break;
	default:
		group = "s.instance_id, s.dbid, s.queryid";
		names = "min(i.name) AS names, min(i.system_identifier) AS clusters,"
			" 1 AS instances";
		break;
	}
	snprintf(sql, sizeof(sql),
	    "%sSELECT o.names, o.datname, o.queryid, o.total_calls, o.total_ms, o.sum_sq,"
	    "  o.max_ms, o.rows, %s, o.clusters, o.instances"
	    " FROM (SELECT g.* FROM (SELECT %s,"
	    "  max(s.datname) AS datname, min(s.queryid) AS queryid,"
	    "  sum(s.calls)::bigint AS total_calls, sum(s.total_exec_time_ms) AS total_ms,"
	    "  sum(s.sum_sq_exec_time_ms2) AS sum_sq, max(s.max_exec_time_ms) AS max_ms,"
	    "  sum(s.rows)::bigint AS rows,"
	    "  min(s.instance_id) AS text_instance%s"
	    " FROM %s s JOIN instances i USING (instance_id)%s"
	    SCOPE_FILTER
	    " GROUP BY %s) g"
	    " WHERE g.total_calls > 0 AND g.total_ms / g.total_calls >= $6"
	    " ORDER BY %s, g.names, g.queryid LIMIT $7) o%s"
	    " ORDER BY %s, o.names, o.queryid",
	    candidates != NULL ? candidate_prefix : "",
	    fleet ? "o.query, o.truncated"
		  : "coalesce(t.query, ''), coalesce(t.truncated, false)",
	    names,
	    /* grouped by the text's fingerprint: every row needs its text */
	    fleet ? ", coalesce(max(t.query), '') AS query,"
		    " coalesce(bool_or(t.truncated), false) AS truncated"
		  : "",
	    candidates != NULL ? candidate_source : store_pg_statement_source,
	    fleet ? " LEFT JOIN statement_texts t ON t.instance_id = s.instance_id"
		    " AND t.queryid = s.queryid"
		  : "",
	    group, orders[slow_answer_order(request)],
	    /* one queryid per group: the few texts shown, after the cut */
	    fleet ? ""
		  : " LEFT JOIN statement_texts t ON t.instance_id = o.text_instance"
		    " AND t.queryid = o.queryid",
	    outer_orders[slow_answer_order(request)]);
	bind_scope(&params, scope);
	pg_param_double(&params, request->min_duration_ms);
	pg_param_int(&params, slow_answer_limit(request));
	if (candidates != NULL)
		pg_param_text(&params, candidates);
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

/* The candidates (slow_pruning_ops.collect): $1-$5 the scope, $6 the
 * bound's threshold, $7 how many. */
static int
collect_candidates(void *ctx, const Pgfleet__V1__SlowQueriesRequest *request,
    bool by_threshold, double threshold, char **json, char *errbuf, size_t errlen)
{
	struct store_pg *store = ctx;
	const Pgfleet__V1__Scope *scope = request->scope;
	const char *bound = slow_answer_bound_column(request);
	struct pg_params params;
	PGresult *res = NULL;
	char sql[2048];
	int rv;

	*json = NULL;
	snprintf(sql, sizeof(sql),
	    "WITH tail AS MATERIALIZED (SELECT DISTINCT s.instance_id, s.queryid"
	    "  FROM statement_stats s JOIN instances i USING (instance_id)"
	    " WHERE ($1 = '' OR i.name = $1) AND ($2 = '' OR i.system_identifier = $2)"
	    "  AND ($3 = '' OR s.datname = $3)"
	    "  AND s.ts_us >= greatest($4, (SELECT until_us FROM rollup_state WHERE name = 'hourly'))"
	    "  AND s.ts_us < $5"
	    "  LIMIT %d),"
	    " bounded AS MATERIALIZED (SELECT t.instance_id, t.queryid"
	    "  FROM statement_totals t JOIN instances i USING (instance_id)"
	    "  WHERE ($1 = '' OR i.name = $1) AND ($2 = '' OR i.system_identifier = $2)"
	    "   AND t.%s >= $6"
	    "  ORDER BY t.%s DESC LIMIT $7),"
	    " pairs AS (SELECT instance_id, queryid FROM tail"
	    "  UNION SELECT instance_id, queryid FROM bounded)"
	    " SELECT (SELECT count(*) FROM tail), count(*),"
	    "  coalesce(json_agg(json_build_array(instance_id, queryid)), '[]')::text FROM pairs",
	    SLOW_MAX_TAIL + 1, bound, bound);
	bind_scope(&params, scope);
	pg_param_double(&params, by_threshold ? threshold : -INFINITY);
	pg_param_int(&params, by_threshold ? SLOW_MAX_CANDIDATES + 1 : SLOW_PROBE_STATEMENTS);
	if ((rv = pg_read(store, sql, &params, &res, "find slow-query candidates", errbuf,
		 errlen)) != PGF_OK)
		return rv;
	if (PQntuples(res) == 1 && pg_int(res, 0, 0) <= SLOW_MAX_TAIL &&
	    pg_int(res, 0, 1) <= SLOW_MAX_CANDIDATES) {
		*json = pg_text(res, 0, 2);
		if (*json == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			rv = PGF_ENOMEM;
		}
	}
	PQclear(res);
	return rv;
}

static const struct slow_pruning_ops pruning_ops = {
	.collect = collect_candidates,
	.answer = answer_from,
};

int
store_pg_slow_queries_pruned(struct store *base, const Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__SlowQueries *answer, bool *answered, char *errbuf, size_t errlen)
{
	return slow_answer_pruned(&pruning_ops, base, request, answer, answered, errbuf, errlen);
}

int
store_pg_slow_queries_plain(struct store *base, const Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen)
{
	return answer_from(base, request, NULL, answer, errbuf, errlen);
}

int
store_pg_slow_queries(struct store *base, const Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen)
{
	bool answered = false;
	int rv = store_pg_slow_queries_pruned(base, request, answer, &answered, errbuf, errlen);

	if (rv != PGF_OK || answered)
		return rv;
	return store_pg_slow_queries_plain(base, request, answer, errbuf, errlen);
}
