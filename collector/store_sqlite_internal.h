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

#endif
