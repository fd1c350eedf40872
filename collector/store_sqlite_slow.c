/*
 * store_sqlite_slow.c - slow-queries: statements added up over a window,
 * the plain way, or pruned by the statement totals' bounds for one
 * instance at a time (the method is slow_answer.h's; this module has
 * SQLite's SQL for it).
 */
#include "collector/store_sqlite_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/slow_answer.h"

/* Where the rows come from: every statement, or only the candidates (a
 * JSON array of [instance_id, queryid] pairs in ?8), read through the
 * per-statement indexes. Same columns and the same once-only rule as
 * store_sqlite_statement_source. */
static const char candidate_prefix[] =
    "WITH candidates (instance_id, queryid) AS MATERIALIZED ("
    " SELECT value ->> 0, value ->> 1 FROM json_each(?8)) ";

static const char candidate_source[] =
    "(SELECT r.instance_id, r.ts_us, r.dbid, r.datname, r.queryid, r.calls,"
    "  r.total_exec_time_ms, r.sum_sq_exec_time_ms2, r.max_exec_time_ms, r.rows"
    "  FROM statement_stats r"
    "  WHERE r.ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
    "   AND (r.instance_id, r.queryid) IN (SELECT instance_id, queryid FROM candidates)"
    " UNION ALL"
    " SELECT h.instance_id, h.bucket_us, h.dbid, h.datname, h.queryid, h.calls,"
    "  h.total_exec_time_ms, h.sum_sq_exec_time_ms2, h.max_exec_time_ms, h.rows"
    "  FROM candidates c CROSS JOIN statement_stats_hourly h"
    "   INDEXED BY statement_stats_hourly_by_pair"
    "   ON h.instance_id = c.instance_id AND h.queryid = c.queryid"
    "  WHERE h.bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
    "   AND h.bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
    "   AND h.bucket_us >= ?9 AND h.bucket_us < ?10"
    " UNION ALL"
    " SELECT d.instance_id, d.bucket_us, d.dbid, d.datname, d.queryid, d.calls,"
    "  d.total_exec_time_ms, d.sum_sq_exec_time_ms2, d.max_exec_time_ms, d.rows"
    "  FROM candidates c CROSS JOIN statement_stats_daily d"
    "   INDEXED BY statement_stats_daily_by_pair"
    "   ON d.instance_id = c.instance_id AND d.queryid = c.queryid"
    "  WHERE d.bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily')"
    "   AND d.bucket_us >= ?9 AND d.bucket_us < ?10)";

/* The scope's instance, cluster and window as one condition on s and i
 * (?4 since, ?5 until: bind_scope makes an open end INT64_MAX). */
#define SCOPE_FILTER                                                              \
	" WHERE (?1 = '' OR i.name = ?1) AND (?2 = '' OR i.system_identifier = ?2)" \
	"  AND (?3 = '' OR s.datname = ?3) AND s.ts_us >= ?4 AND s.ts_us < ?5"

static const char *const orders[] = {
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL] = "total_ms DESC",
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN] = "total_ms / total_calls DESC",
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS] = "total_calls DESC",
};

/* Binds the scope (?1..?5) and, when not NULL, the candidates (?8) and
 * the window as bucket bounds (?9, ?10). */
static void
bind_scope(sqlite3_stmt *stmt, const Pgfleet__V1__Scope *scope)
{
	sqlite3_bind_text(stmt, 1, scope != NULL ? scope->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, scope != NULL ? scope->cluster : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, scope != NULL ? scope->database : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, scope != NULL ? scope->since_us : 0);
	/* a plain range (no "0 = open" test), so SQLite can push it into
	 * each level of the history and use the time indexes */
	sqlite3_bind_int64(stmt, 5,
	    scope != NULL && scope->until_us != 0 ? scope->until_us : INT64_MAX);
}

/* Adds up the statements of source (restricted to candidates when not
 * NULL) and fills answer with the top rows (slow_pruning_ops.answer). */
static int
answer_from(void *ctx, const Pgfleet__V1__SlowQueriesRequest *request,
    const char *candidates, Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = ctx;
	const Pgfleet__V1__Scope *scope = request->scope;
	const char *group;
	char sql[8192];
	sqlite3_stmt *stmt = NULL;
	size_t capacity = 0;
	int rc;

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
	if (request->group == PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET) {
		/* grouped by the text's fingerprint: every row needs its text */
		snprintf(sql, sizeof(sql),
		    "%sSELECT group_concat(DISTINCT i.name), max(s.datname), min(s.queryid),"
		    "  sum(s.calls) AS total_calls, sum(s.total_exec_time_ms) AS total_ms,"
		    "  sum(s.sum_sq_exec_time_ms2), max(s.max_exec_time_ms), sum(s.rows),"
		    "  coalesce(max(t.query), ''), coalesce(max(t.truncated), 0),"
		    "  group_concat(DISTINCT i.system_identifier), count(DISTINCT s.instance_id)"
		    " FROM %s s JOIN instances i USING (instance_id)"
		    " LEFT JOIN statement_texts t ON t.instance_id = s.instance_id"
		    "  AND t.queryid = s.queryid"
		    SCOPE_FILTER
		    " GROUP BY %s"
		    " HAVING total_calls > 0 AND total_ms / total_calls >= ?6"
		    " ORDER BY %s, 1, 3 LIMIT ?7",
		    candidates != NULL ? candidate_prefix : "",
		    candidates != NULL ? candidate_source : store_sqlite_statement_source, group,
		    orders[slow_answer_order(request)]);
	} else {
		/* one queryid per group: add up first, then fetch the few texts
		 * shown (a text row is wide; joining it to every statement row
		 * cost more than the adding up) */
		snprintf(sql, sizeof(sql),
		    "%sSELECT g.names, g.datname, g.queryid, g.total_calls, g.total_ms, g.sum_sq,"
		    "  g.max_ms, g.rows, coalesce(t.query, ''), coalesce(t.truncated, 0),"
		    "  g.clusters, g.instances"
		    " FROM (SELECT group_concat(DISTINCT i.name) AS names,"
		    "  max(s.datname) AS datname, min(s.queryid) AS queryid,"
		    "  sum(s.calls) AS total_calls, sum(s.total_exec_time_ms) AS total_ms,"
		    "  sum(s.sum_sq_exec_time_ms2) AS sum_sq, max(s.max_exec_time_ms) AS max_ms,"
		    "  sum(s.rows) AS rows, group_concat(DISTINCT i.system_identifier) AS clusters,"
		    "  count(DISTINCT s.instance_id) AS instances,"
		    "  min(s.instance_id) AS text_instance"
		    " FROM %s s JOIN instances i USING (instance_id)"
		    SCOPE_FILTER
		    " GROUP BY %s"
		    " HAVING total_calls > 0 AND total_ms / total_calls >= ?6"
		    " ORDER BY %s, 1, 3 LIMIT ?7) g"
		    " LEFT JOIN statement_texts t ON t.instance_id = g.text_instance"
		    "  AND t.queryid = g.queryid"
		    " ORDER BY %s, 1, 3",
		    candidates != NULL ? candidate_prefix : "",
		    candidates != NULL ? candidate_source : store_sqlite_statement_source, group,
		    orders[slow_answer_order(request)], orders[slow_answer_order(request)]);
	}
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "prepare the slow-queries query", errbuf, errlen);
	bind_scope(stmt, scope);
	sqlite3_bind_double(stmt, 6, request->min_duration_ms);
	sqlite3_bind_int64(stmt, 7, slow_answer_limit(request));
	if (candidates != NULL) {
		sqlite3_bind_text(stmt, 8, candidates, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 9, scope != NULL ? scope->since_us : 0);
		sqlite3_bind_int64(stmt, 10,
		    scope != NULL && scope->until_us != 0 ? scope->until_us : INT64_MAX);
	}

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		Pgfleet__V1__SlowQuery *row;
		struct slow_answer_sums sums;

		if (answer->n_rows == capacity) {
			size_t bigger = capacity == 0 ? 16 : capacity * 2;
			Pgfleet__V1__SlowQuery **rows = realloc(answer->rows, bigger * sizeof(rows[0]));
			if (rows == NULL)
				goto fail_memory;
			answer->rows = rows;
			capacity = bigger;
		}
		row = malloc(sizeof(*row));
		if (row == NULL)
			goto fail_memory;
		pgfleet__v1__slow_query__init(row);
		answer->rows[answer->n_rows++] = row;
		sums = (struct slow_answer_sums){
			.instances = (const char *) sqlite3_column_text(stmt, 0),
			.database = (const char *) sqlite3_column_text(stmt, 1),
			.queryid = sqlite3_column_int64(stmt, 2),
			.calls = sqlite3_column_int64(stmt, 3),
			.total_ms = sqlite3_column_double(stmt, 4),
			.sum_sq_ms2 = sqlite3_column_double(stmt, 5),
			.max_ms = sqlite3_column_double(stmt, 6),
			.rows = sqlite3_column_int64(stmt, 7),
			.query = (const char *) sqlite3_column_text(stmt, 8),
			.truncated = sqlite3_column_int(stmt, 9) != 0,
			.clusters = (const char *) sqlite3_column_text(stmt, 10),
			.instance_count = sqlite3_column_int(stmt, 11),
		};
		if (!slow_answer_row(row, &sums))
			goto fail_memory;
	}
	if (rc != SQLITE_DONE) {
		int rv = sqlite_store_error(store->db, rc, "read slow queries", errbuf, errlen);
		sqlite3_finalize(stmt);
		store_slow_queries_fini(answer);
		return rv;
	}
	sqlite3_finalize(stmt);
	return PGF_OK;
fail_memory:
	/* a row whose strings failed is freed with the rest: NULLs are fine */
	sqlite3_finalize(stmt);
	store_slow_queries_fini(answer);
	snprintf(errbuf, errlen, "out of memory");
	return PGF_ENOMEM;
}

/* The candidates (slow_pruning_ops.collect). */
static int
collect_candidates(void *ctx, const Pgfleet__V1__SlowQueriesRequest *request,
    bool by_threshold, double threshold, char **json, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = ctx;
	const char *bound = slow_answer_bound_column(request);
	char sql[2048];
	sqlite3_stmt *stmt = NULL;
	int rc;

	*json = NULL;
	/* one lower bound on ts_us, the later of the window's start and the
	 * hourly watermark: given both, SQLite ranged the time index from the
	 * window's start and read every raw row kept (a week of them) */
	snprintf(sql, sizeof(sql),
	    "WITH tail AS MATERIALIZED (SELECT DISTINCT s.instance_id, s.queryid"
	    "  FROM statement_stats s JOIN instances i USING (instance_id)"
	    " WHERE (?1 = '' OR i.name = ?1) AND (?2 = '' OR i.system_identifier = ?2)"
	    "  AND (?3 = '' OR s.datname = ?3)"
	    "  AND s.ts_us >= max(?4, (SELECT until_us FROM rollup_state WHERE name = 'hourly'))"
	    "  AND s.ts_us < ?5"
	    "  LIMIT %d)"
	    " SELECT (SELECT count(*) FROM tail), count(*),"
	    "  json_group_array(json_array(instance_id, queryid)) FROM ("
	    " SELECT instance_id, queryid FROM tail"
	    " UNION"
	    " SELECT instance_id, queryid FROM (SELECT t.instance_id, t.queryid"
	    "  FROM statement_totals t JOIN instances i USING (instance_id)"
	    "  WHERE (?1 = '' OR i.name = ?1) AND (?2 = '' OR i.system_identifier = ?2)"
	    "   AND t.%s >= ?6"
	    "  ORDER BY t.%s DESC LIMIT ?7))",
	    SLOW_MAX_TAIL + 1, bound, bound);
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		bind_scope(stmt, request->scope);
		sqlite3_bind_double(stmt, 6, by_threshold ? threshold : -INFINITY);
		sqlite3_bind_int64(stmt, 7,
		    by_threshold ? SLOW_MAX_CANDIDATES + 1 : SLOW_PROBE_STATEMENTS);
		rc = sqlite3_step(stmt);
	}
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_int64(stmt, 0) <= SLOW_MAX_TAIL &&
		    sqlite3_column_int64(stmt, 1) <= SLOW_MAX_CANDIDATES) {
			*json = sqlite_column_text(stmt, 2);
			rc = *json != NULL ? SQLITE_OK : SQLITE_NOMEM;
		} else {
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "find slow-query candidates", errbuf, errlen);
	return PGF_OK;
}

static const struct slow_pruning_ops pruning_ops = {
	.collect = collect_candidates,
	.answer = answer_from,
};

int
store_sqlite_slow_queries_pruned(struct store *base,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    bool *answered, char *errbuf, size_t errlen)
{
	return slow_answer_pruned(&pruning_ops, base, request, answer, answered, errbuf, errlen);
}

int
store_sqlite_slow_queries_plain(struct store *base,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    char *errbuf, size_t errlen)
{
	return answer_from(base, request, NULL, answer, errbuf, errlen);
}

int
store_sqlite_slow_queries(struct store *base, const Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen)
{
	bool answered = false;
	int rv = store_sqlite_slow_queries_pruned(base, request, answer, &answered, errbuf,
	    errlen);

	if (rv != PGF_OK || answered)
		return rv;
	return store_sqlite_slow_queries_plain(base, request, answer, errbuf, errlen);
}
