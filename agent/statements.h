/*
 * statements.h - the statements family: pg_stat_statements snapshots and
 * the per-interval deltas made from two of them.
 *
 * The SQL choice (by server_version_num) and the delta are pure functions,
 * tested with plain data; only statements_collect talks to Postgres.
 */
#ifndef PGFLEET_AGENT_STATEMENTS_H
#define PGFLEET_AGENT_STATEMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/pg_session.h"
#include "common/error.h"
#include "pgfleet/v1/agent.pb-c.h"
#include "pgfleet/v1/agent_state.pb-c.h"

/* Oldest server the family supports (total_exec_time appeared in 13). */
#define STATEMENTS_MIN_SERVER_VERSION 130000

/* pg_stat_statements' key. */
struct statement_key {
	int64_t queryid;
	uint32_t dbid;
	uint32_t userid;
	bool toplevel;
};

/* One statement at one snapshot: cumulative counters plus what is not
 * cumulative (extremes, names). */
struct statement_sample {
	struct statement_key key;
	int64_t calls;
	double total_exec_time_ms;
	double sum_sq_exec_time_ms2;
	int64_t rows;
	int64_t shared_blks_hit;
	int64_t shared_blks_read;
	int64_t shared_blks_dirtied;
	int64_t shared_blks_written;
	int64_t local_blks_hit;
	int64_t local_blks_read;
	int64_t local_blks_dirtied;
	int64_t local_blks_written;
	int64_t temp_blks_read;
	int64_t temp_blks_written;
	double blk_read_time_ms;
	double blk_write_time_ms;
	int64_t wal_bytes;
	double total_plan_time_ms;
	double min_exec_time_ms;
	double max_exec_time_ms;
	/* malloc'd; NULL in samples restored from the state file */
	char *datname;
	char *username;
};

/* All statements at one moment, sorted by key. */
struct statements_snapshot {
	char *system_identifier;
	/* the extension's schema, quoted; NULL when restored from the state
	 * file */
	char *schema;
	int64_t taken_at_us;
	int64_t stats_reset_us;
	int64_t dealloc;
	int64_t postmaster_start_time_us;
	/* rows hidden from the agent's role (queryid NULL) */
	int64_t invisible;
	/* min/max_exec_time of a surviving entry only move outwards (PG 13-16:
	 * nothing resets them alone), so an inward move means the entry was
	 * evicted and made again (statements_delta); false on PG 17+, whose
	 * pg_stat_statements_reset(minmax_only) breaks that, and in snapshots
	 * restored from the state file */
	bool minmax_monotonic;
	size_t count;
	struct statement_sample *rows;
};

/* statements_sql writes the snapshot query for a server version into buf,
 * with schema (already quoted as an identifier) as the extension's schema.
 * Returns false when the version is older than STATEMENTS_MIN_SERVER_VERSION
 * or buf is too small. Pure. */
bool statements_sql(int server_version_num, const char *schema, char *buf,
    size_t size);

/* statements_info_sql: the query for pg_stat_statements_info (dealloc,
 * stats_reset in µs), or NULL before 14, where the view does not exist. */
const char *statements_info_sql(int server_version_num, const char *schema,
    char *buf, size_t size);

/*
 * statements_collect takes a snapshot on session into *out (which the
 * caller finishes with statements_snapshot_fini). On failure sets *status
 * (UNAVAILABLE when the extension is missing or not preloaded,
 * INSUFFICIENT_PRIVILEGE, ERROR) and a one-line detail. Blocks for at most
 * the session's deadline per query.
 */
int statements_collect(struct pg_session *session, const char *system_identifier,
    int64_t postmaster_start_time_us, struct statements_snapshot *out,
    Pgfleet__V1__StatementsFamily__Status *status, char *detail,
    size_t detail_len) PGF_MUST_CHECK;

/* statements_snapshot_sort sorts rows by key (collect does it already). */
void statements_snapshot_sort(struct statements_snapshot *snapshot);

/*
 * statements_delta fills family->statements with the activity between prev
 * and cur: one StatementDelta per statement with calls in the interval
 * (malloc'd; free with statements_family_fini). Counters never go
 * negative: a statement missing from prev, or whose counters went down
 * (reset, eviction), counts from zero; a change of stats_reset counts every
 * statement from zero and sets reset_detected. Names are copied from cur;
 * query texts are not set here. Pure.
 */
int statements_delta(const struct statements_snapshot *prev,
    const struct statements_snapshot *cur,
    Pgfleet__V1__StatementsFamily *family) PGF_MUST_CHECK;

/* statements_family_fini frees what statements_delta and the agent put in
 * family (deltas, their strings and query texts). */
void statements_family_fini(Pgfleet__V1__StatementsFamily *family);

/* statements_fetch_texts sets query (cut to max_len bytes, with
 * query_truncated) on the deltas for which needs_text(queryid, arg) is true,
 * reading pg_stat_statements' texts once for all of them. schema as in
 * statements_sql. */
int statements_fetch_texts(struct pg_session *session, const char *schema,
    Pgfleet__V1__StatementsFamily *family, size_t max_len,
    bool (*needs_text)(int64_t queryid, void *arg), void *arg, char *detail,
    size_t detail_len) PGF_MUST_CHECK;

void statements_snapshot_fini(struct statements_snapshot *snapshot);

/* Conversions for the state file. to_proto allocates (free with
 * statements_snapshot_proto_fini); from_proto copies into *out. */
int statements_snapshot_to_proto(const struct statements_snapshot *snapshot,
    Pgfleet__V1__StatementsSnapshot *proto) PGF_MUST_CHECK;
void statements_snapshot_proto_fini(Pgfleet__V1__StatementsSnapshot *proto);
int statements_snapshot_from_proto(const Pgfleet__V1__StatementsSnapshot *proto,
    struct statements_snapshot *out) PGF_MUST_CHECK;

#endif
