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

struct store_sqlite {
	struct store base;
	sqlite3 *db;
	char *path;
	bool read_only;
};

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

/* The statement history questions read, as a subquery with the columns
 * instance_id, ts_us, dbid, datname, queryid, calls, total_exec_time_ms,
 * sum_sq_exec_time_ms2, max_exec_time_ms, rows: raw, hourly and daily rows
 * each counted once (store_sqlite_rollup.c). */
extern const char store_sqlite_statement_source[];

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
int store_sqlite_replication_trend(struct store *store,
    const Pgfleet__V1__ReplicationTrendRequest *request,
    Pgfleet__V1__ReplicationTrend *answer, char *errbuf, size_t errlen);

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

#endif
