/*
 * store_sqlite_internal.h - what the SQLite backend's modules share.
 *
 * The backend is split by subject: store_sqlite.c (opening, migrations,
 * reports, statements), store_sqlite_fleet.c (instances, clusters,
 * activity, replication), store_sqlite_tables.c (tables, indexes, bloat).
 * Each module owns its tables (its schema is one migration step) and its
 * answers. Not for use outside the backend.
 */
#ifndef PGFLEET_COLLECTOR_STORE_SQLITE_INTERNAL_H
#define PGFLEET_COLLECTOR_STORE_SQLITE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "collector/store.h"

/* Statements the write path runs for every report, prepared once
 * (sqlite_prepare_cached). */
#define STORE_SQLITE_CACHED 16

struct store_sqlite {
	struct store base;
	sqlite3 *db;
	char *path;
	bool read_only;
	/* inside store_batch_begin .. store_batch_end: reports are savepoints */
	bool in_batch;
	/* keyed by the address of their SQL text; finalized at close */
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} cached[STORE_SQLITE_CACHED];
};

/* sqlite_prepare_cached sets *out to sql prepared once per store, reset
 * and with no bindings. sql must have static storage (its address is the
 * key). The store owns the statement: reset it when done, never finalize
 * it. SQLITE_OK or the error. */
int sqlite_prepare_cached(struct store_sqlite *store, const char *sql, sqlite3_stmt **out);

/* sqlite_store_error writes "could not WHAT: reason" into errbuf and maps
 * rc to PGF_EFULL (disk or size limit full) or PGF_ESTORE. */
int sqlite_store_error(sqlite3 *db, int rc, const char *what, char *errbuf, size_t errlen);

/* sqlite_exec runs sql (no rows); PGF_OK or a store error. */
int sqlite_exec(sqlite3 *db, const char *sql, const char *what, char *errbuf, size_t errlen);

/* Bind text made valid UTF-8 (names and texts come from other hosts). */
int sqlite_bind_clean_text(sqlite3_stmt *stmt, int index, const uint8_t *data, size_t len);
int sqlite_bind_clean_string(sqlite3_stmt *stmt, int index, const char *text);

/* sqlite_step_done steps a statement that returns no rows: SQLITE_OK or
 * the error. */
int sqlite_step_done(sqlite3_stmt *stmt);

/* sqlite_column_text is a malloc'd copy of a text column ("" for NULL);
 * NULL when out of memory. */
char *sqlite_column_text(sqlite3_stmt *stmt, int column);

/* Schema steps of the modules (migrations 2, 3 and 4). */
extern const char store_sqlite_fleet_schema[];
extern const char store_sqlite_tables_schema[];
extern const char store_sqlite_rollup_schema[];
extern const char store_sqlite_totals_schema[];
/* Migration 7 (store_sqlite_indexes.c). */
extern const char store_sqlite_indexes_schema[];
/* Tables snapshots counted per instance between index-check proposals
 * (store_sqlite_indexes.c). */
extern const char store_sqlite_index_check_state_schema[];
/* Pool samples (store_sqlite_pools.c). */
extern const char store_sqlite_pools_schema[];
/* Settings, extensions, freeze age and insert triggers for the advice
 * (store_sqlite_advice.c). */
extern const char store_sqlite_advice_schema[];
/* Delivery per (agent, boot): highest seq, missing seq ranges, the
 * agent's counters, and clock skew per instance (store_sqlite_gaps.c). */
extern const char store_sqlite_gaps_schema[];
/* The latest status of each family per instance (store_sqlite_families.c). */
extern const char store_sqlite_families_schema[];
/* An instance whose clock differs from the collector's by more than this
 * is flagged as clock-skewed. */
#define STORE_SQLITE_CLOCK_SKEW_BOUND_US "300000000"
/* The fleet row's delivery columns for the instances row alias i. */
#define SQL_FLEET_DELIVERY(i)                                                     \
	"(SELECT coalesce(max(b.dropped_reports), 0) FROM report_boots b"            \
	" WHERE b.instance_id = " i ".instance_id) AS dropped_reports,"              \
	" (SELECT coalesce(sum(g.last_seq - g.first_seq + 1), 0) FROM report_gaps g" \
	" JOIN report_boots b USING (agent_id, boot_id) WHERE b.instance_id = " i    \
	".instance_id) AS missing_reports,"                                          \
	" (SELECT coalesce(sum(b.corrupt_spool_records), 0) FROM report_boots b"     \
	" WHERE b.instance_id = " i ".instance_id) AS corrupt_spool_records,"        \
	" (SELECT coalesce(sum(b.spool_failures), 0) FROM report_boots b"            \
	" WHERE b.instance_id = " i ".instance_id) AS spool_failures,"               \
	" coalesce((SELECT cs.skew_us / 1e6 FROM clock_skew cs"                      \
	" WHERE cs.instance_id = " i ".instance_id), 0.0) AS clock_skew_seconds,"    \
	" coalesce((SELECT abs(cs.skew_us) > " STORE_SQLITE_CLOCK_SKEW_BOUND_US       \
	" FROM clock_skew cs WHERE cs.instance_id = " i ".instance_id), 0)"          \
	" AS clock_skewed"

/* The statement history questions read, as a subquery with the columns
 * instance_id, ts_us, dbid, datname, queryid, calls, total_exec_time_ms,
 * sum_sq_exec_time_ms2, max_exec_time_ms, rows: raw, hourly and daily rows
 * each counted once (store_sqlite_rollup.c). */
extern const char store_sqlite_statement_source[];

/* The same across the fleet, for questions that add up every instance
 * (query-trend without an instance or cluster): columns ts_us, datname,
 * queryid, calls, total_exec_time_ms, rows; raw rows past the hourly
 * watermark, then the fleet-wide hourly and daily rollups
 * (store_sqlite_rollup.c). */
extern const char store_sqlite_fleet_statement_source[];
/* Its schema: the fleet-wide rollups, filled from the rollups so far. */
extern const char store_sqlite_fleet_rollup_schema[];

/* store_sqlite_stale: is an instance last seen at last_seen_us, reporting
 * every interval_ms (0: unknown), stale at now_us? The fleet's rule
 * (store_sqlite_fleet.c), for listings that say when data is stale. */
bool store_sqlite_stale(int64_t last_seen_us, int64_t interval_ms, int64_t now_us);

/* The slow-queries op (store_sqlite_slow.c), and its two ways, apart for
 * the test that compares them: _plain adds up every statement; _pruned
 * uses the totals' bounds, and says with *answered false that it could not
 * prune (the plain way must answer). */
int store_sqlite_slow_queries(struct store *base,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    char *errbuf, size_t errlen);
int store_sqlite_slow_queries_plain(struct store *base,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    char *errbuf, size_t errlen);
int store_sqlite_slow_queries_pruned(struct store *base,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    bool *answered, char *errbuf, size_t errlen);

/* store_sqlite_rollup_late adds a late statements family (a time already
 * rolled up) to the rollups, inside the report's transaction. */
int store_sqlite_rollup_late(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family);

int store_sqlite_maintain(struct store *store, int64_t now_us,
    const struct store_retention *retention, bool *more, char *errbuf, size_t errlen);

/* Write hooks, called inside the report's transaction for a report stored
 * for the first time; SQLITE_OK or the error (the transaction is then
 * rolled back). */
int store_sqlite_fleet_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report);
int store_sqlite_tables_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report);
int store_sqlite_indexes_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report);
int store_sqlite_pools_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report);
int store_sqlite_advice_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report);
/* Gaps, agent counters and clock skew (store_sqlite_gaps.c); it also needs
 * the time the report was received. */
int store_sqlite_gaps_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, int64_t received_at_us);
/* Family statuses (store_sqlite_families.c): the write hook, and the
 * families of every row of a fleet answer (after the fleet listing). */
int store_sqlite_families_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report);
int store_sqlite_families_fill(struct store_sqlite *store, Pgfleet__V1__Fleet *answer,
    char *errbuf, size_t errlen);
/* Advice facts (store ops; store_sqlite_advice.c). */
int store_sqlite_vacuum_facts(struct store *store, const Pgfleet__V1__Scope *scope,
    struct vacuum_fact_set *out, char *errbuf, size_t errlen);
int store_sqlite_replication_facts(struct store *store, const Pgfleet__V1__Scope *scope,
    struct replication_fact_set *out, char *errbuf, size_t errlen);
int store_sqlite_checklist_facts(struct store *store, const Pgfleet__V1__Scope *scope,
    struct checklist_fact_set *out, char *errbuf, size_t errlen);

/* Answers (store ops; see store.h). */
int store_sqlite_fleet(struct store *store, const Pgfleet__V1__FleetRequest *request,
    Pgfleet__V1__Fleet *answer, char *errbuf, size_t errlen);
int store_sqlite_activity(struct store *store, const Pgfleet__V1__ActivityRequest *request,
    Pgfleet__V1__Activity *answer, char *errbuf, size_t errlen);
int store_sqlite_replication(struct store *store,
    const Pgfleet__V1__ReplicationRequest *request, Pgfleet__V1__Replication *answer,
    char *errbuf, size_t errlen);
int store_sqlite_table_stats(struct store *store,
    const Pgfleet__V1__TableStatsRequest *request, Pgfleet__V1__TableStats *answer,
    char *errbuf, size_t errlen);
int store_sqlite_index_usage(struct store *store,
    const Pgfleet__V1__IndexUsageRequest *request, Pgfleet__V1__IndexUsage *answer,
    char *errbuf, size_t errlen);
int store_sqlite_bloat_stats(struct store *store,
    const Pgfleet__V1__BloatStatsRequest *request, Pgfleet__V1__BloatStats *answer,
    char *errbuf, size_t errlen);
int store_sqlite_table_trend(struct store *store,
    const Pgfleet__V1__TableTrendRequest *request, Pgfleet__V1__TableTrend *answer,
    char *errbuf, size_t errlen);
/* store_sqlite_metrics.c */
extern const char store_sqlite_metrics_schema[];
int store_sqlite_metrics(struct store *store, size_t top_statements, int64_t now_us,
    struct metrics_set *set, char *errbuf, size_t errlen);
int store_sqlite_replication_trend(struct store *store,
    const Pgfleet__V1__ReplicationTrendRequest *request,
    Pgfleet__V1__ReplicationTrend *answer, char *errbuf, size_t errlen);

/* Index recommendations and hypopg checks (store_sqlite_indexes.c). */
int store_sqlite_index_recommendations(struct store *store,
    const Pgfleet__V1__IndexRecommendationsRequest *request,
    Pgfleet__V1__IndexRecommendations *answer, char *errbuf, size_t errlen);
int store_sqlite_index_checks(struct store *store, const Pgfleet__V1__Report *report,
    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count, char *errbuf, size_t errlen);

/* Pools and regressions (store_sqlite_pools.c). */
int store_sqlite_pool_stats(struct store *store, const Pgfleet__V1__PoolStatsRequest *request,
    Pgfleet__V1__PoolStats *answer, char *errbuf, size_t errlen);
int store_sqlite_pool_recommendation(struct store *store,
    const Pgfleet__V1__PoolRecommendationRequest *request,
    Pgfleet__V1__PoolRecommendation *answer, char *errbuf, size_t errlen);
int store_sqlite_query_regressions(struct store *store,
    const Pgfleet__V1__QueryRegressionsRequest *request,
    Pgfleet__V1__QueryRegressions *answer, char *errbuf, size_t errlen);

/* The buckets of a trend (store_sqlite.c). */
struct store_sqlite_buckets {
	/* the first bucket's start (a whole multiple of width_us, UTC) and
	 * the window's end, exclusive */
	int64_t since_us;
	int64_t until_us;
	int64_t width_us;
	size_t count;
};

/* store_sqlite_buckets_init sizes the buckets of scope's window (the last
 * day when it has no start; up to now when no end): bucket_ms wide, or
 * sized to the window when 0 (at most about 30 buckets). PGF_OK, or
 * PGF_EINVAL when the window would hold more than 10000 buckets. */
int store_sqlite_buckets_init(struct store_sqlite_buckets *buckets,
    const Pgfleet__V1__Scope *scope, int64_t bucket_ms, char *errbuf, size_t errlen);

/* store_sqlite_bucket_text is a malloc'd "YYYY-MM-DD HH:MM:SS" (UTC) of
 * a bucket start; NULL when out of memory. */
char *store_sqlite_bucket_text(int64_t start_us);

/* store_sqlite_bucket_width is a malloc'd text of the buckets' width
 * ("1h", "1d"); NULL when out of memory. */
char *store_sqlite_bucket_width(const struct store_sqlite_buckets *buckets);

/* store_sqlite_sparkline is a malloc'd sparkline of values[0..count)
 * (present may be NULL); NULL when out of memory. */
char *store_sqlite_sparkline(const double *values, const bool *present, size_t count);

/* store_statement_text (store_sqlite_actions.c). */
int store_sqlite_statement_text(struct store *store, const char *instance, int64_t queryid,
    char **text, bool *truncated, char **database, char *errbuf, size_t errlen);

#endif
