/*
 * store_sqlite_slow.c - slow-queries: statements added up over a window.
 *
 * The plain way adds up every statement row of the window and keeps the
 * top N: over 30 days of a large fleet that is millions of rows. For the
 * per-instance question, this module first prunes with bounds.
 * statement_totals holds each statement's figures over everything rolled
 * up so far, which is at least its figures in any window (for the mean:
 * its largest single execution time). So:
 *   1. the statements with raw rows past the hourly watermark (not in the
 *      totals yet) are always candidates;
 *   2. those and the PROBE_STATEMENTS statements with the largest bounds,
 *      added up exactly over the window, give a threshold T: the N-th best
 *      exact figure;
 *   3. only statements whose bound is at least T can be in the top N: they
 *      and those of step 1 are added up exactly, and the answer is their
 *      top N.
 * The answer is the plain way's (tests/unit/test_slow_pruning.c compares
 * them).
 * When bounds cannot prune (fewer than N statements qualify, or too many
 * candidates), the plain way answers. Cluster and fleet groupings always
 * take the plain way: their bounds would need totals per group.
 */
#include "collector/store_sqlite_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/slow_answer.h"

/* Statements whose exact figures set the threshold. */
#define PROBE_STATEMENTS 64
/* Beyond this many candidates, pruning does not pay: the plain way. */
#define MAX_CANDIDATES 50000
/* Nor beyond this many statements past the hourly watermark (all of them
 * candidates): the window is mostly raw rows, which the plain way reads
 * once where pruning would read them twice. */
#define MAX_TAIL 4096

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

/* The totals column bounding each order's figure. */
static const char *const bound_columns[] = {
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL] = "total_exec_time_ms",
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN] = "max_exec_time_ms",
	[PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS] = "calls",
};

static unsigned
order_of(const Pgfleet__V1__SlowQueriesRequest *request)
{
	return (unsigned) request->order < sizeof(orders) / sizeof(orders[0])
	    ? (unsigned) request->order
	    : PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL;
}

static int64_t
limit_of(const Pgfleet__V1__SlowQueriesRequest *request)
{
	return request->limit > 0 ? request->limit : 10;
}

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
 * NULL) and fills answer with the top rows. */
static int
answer_from(struct store_sqlite *store, const Pgfleet__V1__SlowQueriesRequest *request,
    const char *candidates, Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen)
{
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
		    orders[order_of(request)]);
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
		    orders[order_of(request)], orders[order_of(request)]);
	}
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "prepare the slow-queries query", errbuf, errlen);
	bind_scope(stmt, scope);
	sqlite3_bind_double(stmt, 6, request->min_duration_ms);
	sqlite3_bind_int64(stmt, 7, limit_of(request));
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

/*
 * Collects candidates as a JSON array of [instance_id, queryid]: the
 * statements with raw rows in the window past the hourly watermark, and
 * those in scope whose bound is at least threshold (by_threshold) or the
 * PROBE_STATEMENTS with the largest bounds. *json is malloc'd, or NULL
 * when there are more than MAX_TAIL of the first or MAX_CANDIDATES in all.
 */
static int
collect_candidates(struct store_sqlite *store, const Pgfleet__V1__SlowQueriesRequest *request,
    bool by_threshold, double threshold, char **json)
{
	const char *bound = bound_columns[order_of(request)];
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
	    MAX_TAIL + 1, bound, bound);
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc;
	bind_scope(stmt, request->scope);
	sqlite3_bind_double(stmt, 6, by_threshold ? threshold : -INFINITY);
	sqlite3_bind_int64(stmt, 7, by_threshold ? MAX_CANDIDATES + 1 : PROBE_STATEMENTS);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_int64(stmt, 0) <= MAX_TAIL &&
		    sqlite3_column_int64(stmt, 1) <= MAX_CANDIDATES) {
			*json = sqlite_column_text(stmt, 2);
			rc = *json != NULL ? SQLITE_OK : SQLITE_NOMEM;
		} else {
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* The figure a row is ordered by, in the totals' units (ms, calls). */
static double
order_figure(const Pgfleet__V1__SlowQueriesRequest *request, const Pgfleet__V1__SlowQuery *row)
{
	switch (order_of(request)) {
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN:
		return row->mean_seconds * 1000.0;
	case PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS:
		return (double) row->calls;
	default:
		return row->total_seconds * 1000.0;
	}
}

int
store_sqlite_slow_queries_pruned(struct store *base,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    bool *answered, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	Pgfleet__V1__SlowQueries probe = PGFLEET__V1__SLOW_QUERIES__INIT;
	char *candidates = NULL;
	double threshold;
	int rv;
	int rc;

	*answered = false;
	answer->rows = NULL;
	answer->n_rows = 0;
	if (request->group != PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_INSTANCE)
		return PGF_OK;
	if ((rc = collect_candidates(store, request, false, 0.0, &candidates)) != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "find slow-query candidates", errbuf,
		    errlen);
	if (candidates == NULL)
		return PGF_OK;
	rv = answer_from(store, request, candidates, &probe, errbuf, errlen);
	free(candidates);
	candidates = NULL;
	if (rv != PGF_OK)
		return rv;
	if (probe.n_rows < (size_t) limit_of(request)) {
		/* fewer than N qualify among the probed: no threshold */
		store_slow_queries_fini(&probe);
		return PGF_OK;
	}
	/* a hair lower than the N-th figure: the exact sums were rounded
	 * through seconds, the bound must not be */
	threshold = order_figure(request, probe.rows[probe.n_rows - 1]);
	threshold -= fabs(threshold) * 1e-9 + 1e-9;
	store_slow_queries_fini(&probe);
	if ((rc = collect_candidates(store, request, true, threshold, &candidates)) != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "find slow-query candidates", errbuf,
		    errlen);
	if (candidates == NULL)
		return PGF_OK;
	rv = answer_from(store, request, candidates, answer, errbuf, errlen);
	free(candidates);
	*answered = rv == PGF_OK;
	return rv;
}

int
store_sqlite_slow_queries_plain(struct store *base,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    char *errbuf, size_t errlen)
{
	return answer_from((struct store_sqlite *) base, request, NULL, answer, errbuf, errlen);
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
