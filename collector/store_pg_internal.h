/*
 * store_pg_internal.h - what the PostgreSQL backend's modules share.
 *
 * The backend mirrors the SQLite one (store_sqlite_internal.h) module by
 * module: store_pg.c (connection, schema, reports, statements, batches,
 * texts, trends), store_pg_fleet.c (instances, roles, activity,
 * replication), store_pg_gaps.c (delivery bookkeeping), store_pg_slow.c
 * (slow-queries), store_pg_tables.c (tables, indexes, bloat),
 * store_pg_indexes.c (index recommendations and checks),
 * store_pg_pools.c (pools, regressions), store_pg_families.c (family
 * statuses, settings), store_pg_advice.c (vacuum, replication and
 * checklist facts), store_pg_metrics.c (/metrics). Its SQL is the SQLite store's, translated, so both answer
 * every question the same (tests/unit/test_store_pg.c compares them).
 *
 * Everything goes through libpq's text protocol with parameters typed
 * explicitly (struct pg_params), so a value is never spliced into SQL.
 * Not for use outside the backend.
 */
#ifndef PGFLEET_COLLECTOR_STORE_PG_INTERNAL_H
#define PGFLEET_COLLECTOR_STORE_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "collector/store.h"

/* A statement the write path's pipelines prepared on this connection
 * (named "pgf_<id>"): parsed and planned once, not for every row. */
#define PG_PREPARED_MAX 64
struct pg_prepared {
	char *sql; /* NULL: a free slot */
	uint64_t hash;
	unsigned id;
	/* the server confirmed it (a pipeline with it ended without error) */
	bool ready;
	/* its Parse was sent in the open pipeline */
	bool sending;
};

struct store_pg {
	struct store base;
	PGconn *conn;
	/* where the store is, for messages: never the conninfo (it may
	 * hold a password) */
	char *label;
	bool read_only;
	/* inside store_batch_begin .. store_batch_end: reports are savepoints */
	bool in_batch;
	struct pg_prepared prepared[PG_PREPARED_MAX];
	unsigned next_prepared_id;
};

/* Parameters of one statement, as text with their types. */
#define PG_MAX_PARAMS 48
struct pg_params {
	int n;
	Oid types[PG_MAX_PARAMS];
	const char *values[PG_MAX_PARAMS];
	char *owned[PG_MAX_PARAMS];
	/* a value could not be made (out of memory, too many) */
	bool failed;
};

void pg_params_init(struct pg_params *p);
void pg_params_free(struct pg_params *p);
/* Text made valid UTF-8 (names and texts come from other hosts). */
void pg_param_text(struct pg_params *p, const char *text);
void pg_param_bytes(struct pg_params *p, const uint8_t *data, size_t len);
void pg_param_int(struct pg_params *p, int64_t value);
void pg_param_double(struct pg_params *p, double value);
void pg_param_bool(struct pg_params *p, bool value);
/* A bigint NULL (LIMIT NULL: no limit). */
void pg_param_null_int(struct pg_params *p);
/* A bigint[] literal made by the caller ("{1,2}"): taken over (freed). */
void pg_param_int_array(struct pg_params *p, char *literal);
/* An array literal (pg_array.h; owned from here on) whose type the
 * statement gives with a cast ($n::bigint[]). */
void pg_param_array(struct pg_params *p, char *literal);

/*
 * pg_run runs sql with params (NULL: none). With res NULL the result is
 * dropped; else *res is the caller's (PQclear). PGF_OK, or a store error
 * "could not WHAT: reason" in errbuf: PGF_EFULL for a full disk,
 * PGF_EUNAVAILABLE when the server cannot be reached, PGF_ENOMEM, else
 * PGF_ESTORE. The params are freed either way.
 */
int pg_run(struct store_pg *store, const char *sql, struct pg_params *params, PGresult **res,
    const char *what, char *errbuf, size_t errlen);

/*
 * A pipeline: statements without rows sent one after the other without
 * waiting for each answer (libpq's pipeline mode), then pg_pipeline_end
 * waits for all of them: one round trip for many rows. Nothing else may
 * run on the connection in between. pg_pipeline_send frees the params;
 * pg_pipeline_end returns the first failure as pg_run would.
 */
struct pg_pipeline {
	int sent;
	int rv;
	char errbuf[256];
};
void pg_pipeline_begin(struct store_pg *store, struct pg_pipeline *pipeline);
void pg_pipeline_send(struct store_pg *store, struct pg_pipeline *pipeline, const char *sql,
    struct pg_params *params);
int pg_pipeline_end(struct store_pg *store, struct pg_pipeline *pipeline, const char *what,
    char *errbuf, size_t errlen);

/*
 * pg_read is pg_run for a question outside a write: it connects again
 * first when the connection was lost, and once more when the question is
 * what finds it lost (a restarted server). Inside a batch it is pg_run.
 * pg_connected makes a lost connection again (PGF_EUNAVAILABLE when it
 * cannot).
 */
int pg_read(struct store_pg *store, const char *sql, struct pg_params *params, PGresult **res,
    const char *what, char *errbuf, size_t errlen);
int pg_connected(struct store_pg *store, char *errbuf, size_t errlen);

/* Reading a text result: NULL reads as 0, "" or false. */
int64_t pg_int(const PGresult *res, int row, int column);
double pg_double(const PGresult *res, int row, int column);
bool pg_bool(const PGresult *res, int row, int column);
/* A malloc'd copy; NULL when out of memory. */
char *pg_text(const PGresult *res, int row, int column);

/*
 * pg_append_rows appends one row message per result row to answer's
 * repeated message field `list`, each column copied into the row's field
 * of the same name (columns named "_..." only order rows). PGF_OK,
 * PGF_ENOMEM, or PGF_ESTORE for a column without a field (a bug in the
 * SQL). Rows already appended stay: the caller frees the whole answer.
 */
int pg_append_rows(ProtobufCMessage *answer, const char *list, const PGresult *res,
    char *errbuf, size_t errlen);

/*
 * pg_list runs a listing query with the scope as $1 instance, $2 cluster,
 * $3 database, $4 now (µs), $5 limit (NULL: none), and appends its rows to
 * answer's field `list`.
 */
int pg_list(struct store_pg *store, ProtobufCMessage *answer, const char *list,
    const char *sql, const Pgfleet__V1__Scope *scope, uint32_t limit, char *errbuf,
    size_t errlen);

/* The buckets of a trend, as store_sqlite_buckets (store_sqlite_internal.h):
 * pg_buckets_init sizes them from the scope's window (the last day when
 * it has no start, up to now when no end), bucket_ms wide or sized to the
 * window when 0; PGF_EINVAL beyond 10000 buckets. */
struct pg_buckets {
	int64_t since_us;
	int64_t until_us;
	int64_t width_us;
	size_t count;
};
int pg_buckets_init(struct pg_buckets *buckets, const Pgfleet__V1__Scope *scope,
    int64_t bucket_ms, char *errbuf, size_t errlen);

/* The statement history questions read, as in store_sqlite_statement_source:
 * raw, hourly and daily rows each counted once. */
extern const char store_pg_statement_source[];

/* Rollups and retention (store_pg_rollup.c, as store_sqlite_rollup.c):
 * store_pg_fleet_statement_source is the fleet-wide levels read as
 * store_sqlite_fleet_statement_source (ts_us, datname, queryid, calls,
 * total_exec_time_ms, rows); store_pg_rollup_late adds a statements family
 * stored for a time already rolled up to the rollups, inside the report's
 * transaction (it locks the watermarks FOR SHARE until it ends);
 * store_pg_maintain is the maintain op (store.h). */
extern const char store_pg_fleet_statement_source[];
int store_pg_rollup_late(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family, char *errbuf, size_t errlen);
int store_pg_maintain(struct store *store, int64_t now_us,
    const struct store_retention *retention, bool *more, char *errbuf, size_t errlen);

/* Write hooks, inside the report's transaction, for a report stored for
 * the first time. */
int store_pg_fleet_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen);
int store_pg_tables_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen);
int store_pg_gaps_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, int64_t received_at_us, char *errbuf, size_t errlen);
/* Index facts (store_pg_indexes.c): each index's key columns, the foreign
 * keys, statistics resets and hypopg verdicts, as store_sqlite_indexes.c. */
int store_pg_indexes_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen);
/* Pools (store_pg_pools.c): each application's connections per activity
 * snapshot (pool_app_samples) and each pgbouncer pool (pooler_samples),
 * as store_sqlite_pools_write. */
int store_pg_pools_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen);
/* Family statuses (store_pg_families.c): the latest of each family per
 * instance (family_status), as store_sqlite_families_write; and
 * store_pg_families_fill, the families of every row of a fleet answer
 * (after the fleet listing), as store_sqlite_families_fill. */
int store_pg_families_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen);
int store_pg_families_fill(struct store_pg *store, Pgfleet__V1__Fleet *answer, char *errbuf,
    size_t errlen);
/* SETTINGS: store_pg_settings_write (store_pg_families.c) is what writes
 * the settings, as store_sqlite_advice_write: advice_instance
 * (settings_ts_us, tables_ts_us, freeze_max_age), advice_settings (name,
 * setting), advice_extensions (datname, name, version) and
 * advice_table_options (datname, schemaname, relname, insert_threshold,
 * insert_scale_factor), the columns of store_sqlite_advice_schema, latest
 * family only (an older one is ignored). */
int store_pg_settings_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen);

/* Answers (store ops; see store.h). */
int store_pg_fleet(struct store *store, const Pgfleet__V1__FleetRequest *request,
    Pgfleet__V1__Fleet *answer, char *errbuf, size_t errlen);
int store_pg_activity(struct store *store, const Pgfleet__V1__ActivityRequest *request,
    Pgfleet__V1__Activity *answer, char *errbuf, size_t errlen);
int store_pg_replication(struct store *store, const Pgfleet__V1__ReplicationRequest *request,
    Pgfleet__V1__Replication *answer, char *errbuf, size_t errlen);
int store_pg_table_stats(struct store *store, const Pgfleet__V1__TableStatsRequest *request,
    Pgfleet__V1__TableStats *answer, char *errbuf, size_t errlen);
int store_pg_index_usage(struct store *store, const Pgfleet__V1__IndexUsageRequest *request,
    Pgfleet__V1__IndexUsage *answer, char *errbuf, size_t errlen);
int store_pg_bloat_stats(struct store *store, const Pgfleet__V1__BloatStatsRequest *request,
    Pgfleet__V1__BloatStats *answer, char *errbuf, size_t errlen);
int store_pg_table_trend(struct store *store, const Pgfleet__V1__TableTrendRequest *request,
    Pgfleet__V1__TableTrend *answer, char *errbuf, size_t errlen);
int store_pg_replication_trend(struct store *store,
    const Pgfleet__V1__ReplicationTrendRequest *request,
    Pgfleet__V1__ReplicationTrend *answer, char *errbuf, size_t errlen);
/* A statements family's rows as one INSERT (store_pg.c; the bench's
 * ceiling sends the same): $1 instance_id, $2 ts_us (the interval's end),
 * $3 interval_start_us, then one array literal per column, as
 * store_pg_statement_arrays makes them (malloc'd, each NULL when out of
 * memory; the caller frees them). */
#define STORE_PG_STATEMENT_ARRAYS 26
extern const char store_pg_statement_rows_sql[];
void store_pg_statement_arrays(const Pgfleet__V1__StatementsFamily *family,
    char *arrays[STORE_PG_STATEMENT_ARRAYS]);

/* The slow-queries op (store_pg_slow.c), and its two ways, apart for the
 * test that compares them (as store_sqlite_internal.h's). */
int store_pg_slow_queries(struct store *store, const Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen);
int store_pg_slow_queries_plain(struct store *store,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    char *errbuf, size_t errlen);
int store_pg_slow_queries_pruned(struct store *store,
    const Pgfleet__V1__SlowQueriesRequest *request, Pgfleet__V1__SlowQueries *answer,
    bool *answered, char *errbuf, size_t errlen);
/* Index recommendations and the proposals agents check (store_pg_indexes.c). */
int store_pg_index_recommendations(struct store *store,
    const Pgfleet__V1__IndexRecommendationsRequest *request,
    Pgfleet__V1__IndexRecommendations *answer, char *errbuf, size_t errlen);
int store_pg_index_checks(struct store *store, const Pgfleet__V1__Report *report,
    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count, char *errbuf, size_t errlen);
/* Pools and regressions (store_pg_pools.c). */
int store_pg_pool_stats(struct store *store, const Pgfleet__V1__PoolStatsRequest *request,
    Pgfleet__V1__PoolStats *answer, char *errbuf, size_t errlen);
int store_pg_pool_recommendation(struct store *store,
    const Pgfleet__V1__PoolRecommendationRequest *request,
    Pgfleet__V1__PoolRecommendation *answer, char *errbuf, size_t errlen);
int store_pg_query_regressions(struct store *store,
    const Pgfleet__V1__QueryRegressionsRequest *request,
    Pgfleet__V1__QueryRegressions *answer, char *errbuf, size_t errlen);

/* Advice facts (store_pg_advice.c) and /metrics (store_pg_metrics.c):
 * store ops, see store.h. */
int store_pg_vacuum_facts(struct store *store, const Pgfleet__V1__Scope *scope,
    struct vacuum_fact_set *out, char *errbuf, size_t errlen);
int store_pg_replication_facts(struct store *store, const Pgfleet__V1__Scope *scope,
    struct replication_fact_set *out, char *errbuf, size_t errlen);
int store_pg_checklist_facts(struct store *store, const Pgfleet__V1__Scope *scope,
    struct checklist_fact_set *out, char *errbuf, size_t errlen);
int store_pg_metrics(struct store *store, size_t top_statements, int64_t now_us,
    struct metrics_set *set, char *errbuf, size_t errlen);

#endif
