/*
 * index_answer.h - index recommendations and index checks, built from
 * the facts a store read: the step both stores share (store_sqlite_indexes.c
 * and store_pg_indexes.c keep only their SQL).
 *
 * A store reads, for a filter (struct index_filter), each table's window
 * (first to last tables snapshot in it), the most expensive statements,
 * every index of the clusters' members, the clusters' foreign keys and
 * the hypopg verdicts already stored, and adds them here as plain rows
 * (index_facts_add_*, which copy what they are given). Then
 * index_answer_recommendations makes the index-recommendations answer
 * (analysis_indexes.c for the structural advice, index_advice.c for
 * sequential scans and missing indexes), and index_answer_checks the
 * proposals an agent is asked to check with hypopg.
 *
 * Pure: no I/O. Functions returning int return PGF_OK or PGF_ENOMEM
 * (out of memory, or more than INDEX_ANSWER_MAX_ROWS rows of one kind).
 */
#ifndef PGFLEET_COLLECTOR_INDEX_ANSWER_H
#define PGFLEET_COLLECTOR_INDEX_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis_indexes.h"
#include "collector/index_advice.h"
#include "pgfleet/v1/agent.pb-c.h"
#include "pgfleet/v1/api.pb-c.h"

/* Rows in an answer when the request names no limit. */
#define INDEX_ANSWER_DEFAULT_LIMIT 100
/* The window when the scope has no start. */
#define INDEX_ANSWER_DEFAULT_WINDOW_US (24LL * 3600 * 1000000)
/* Statements read per question (the most expensive in the window). */
#define INDEX_ANSWER_MAX_STATEMENTS 500
/* Checks asked of an agent at once, the window they are worked out over,
 * and how long a verdict stands. */
#define INDEX_ANSWER_MAX_CHECKS 10
#define INDEX_ANSWER_CHECK_WINDOW_US (3600LL * 1000000)
#define INDEX_ANSWER_CHECK_FRESH_US (24LL * 3600 * 1000000)
/* A failed check (hypopg not installed yet, no privilege) is asked again
 * sooner: the operator may have fixed it. */
#define INDEX_ANSWER_RECHECK_FAILED_US (3600LL * 1000000)
/* Proposals for an instance are worked out on every this-many-th tables
 * snapshot it sends (the first included), not on each: they compare the
 * first and last snapshot of an hour, which moves little from one
 * snapshot to the next (5 minutes apart by default), and working them
 * out was a sixth of the ingest writer's time. A new proposal waits at
 * most this many snapshots. Each store counts the snapshots
 * (index_check_state). */
#define INDEX_ANSWER_CHECK_EVERY 3
/* Index facts, tables and advice rows kept per question. */
#define INDEX_ANSWER_MAX_ROWS 100000

/* The separator of column lists stored as one text value: no identifier
 * or expression contains it. */
#define INDEX_ANSWER_COLUMN_SEPARATOR "\x1f"

/* What a question is about: filters as in Scope ("" = any), a window
 * (both ends included). Borrowed strings. */
struct index_filter {
	const char *instance;
	const char *cluster;
	const char *database;
	int64_t since_us;
	int64_t until_us;
};

/* index_answer_request_filter: the filter of an index-recommendations
 * request; the window ends now_us when the scope has no end and spans
 * INDEX_ANSWER_DEFAULT_WINDOW_US when it has no start. */
void index_answer_request_filter(const Pgfleet__V1__IndexRecommendationsRequest *request,
    int64_t now_us, struct index_filter *filter);

/* index_answer_check_filter: the filter index checks for report are
 * worked out over (its instance, the hour before it was collected);
 * false when the report brings no tables snapshot (nothing to do). */
bool index_answer_check_filter(const Pgfleet__V1__Report *report, struct index_filter *filter);

/* index_answer_join_columns joins list[0..n) with
 * INDEX_ANSWER_COLUMN_SEPARATOR into a malloc'd text (NULL: out of
 * memory). */
char *index_answer_join_columns(char *const *list, size_t n);

/* A stored hypopg verdict (the agents' index_checks families). */
struct index_check_fact {
	const char *instance;
	const char *database;
	int64_t queryid;
	const char *index_statement;
	int64_t checked_us;
	int status; /* Pgfleet__V1__IndexCheckResult__Status */
	double cost_before;
	double cost_after;
	bool index_used;
	const char *detail;
	int64_t estimated_bytes;
};

struct index_facts;

/* index_facts_new: empty facts (NULL: out of memory); index_facts_free
 * frees them and every copy (NULL: no-op). */
struct index_facts *index_facts_new(void);
void index_facts_free(struct index_facts *facts);

/*
 * Adding facts, in the order the answer lists them (each store reads
 * them so ordered, see store_sqlite_indexes.c):
 *   tables      by instance, database, schema, table; cluster is the
 *               instance's system identifier, span_us the window's
 *               first to last snapshot
 *   statements  by total time, most first
 *   indexes     by cluster, the primary's first, then instance, database,
 *               schema, index; columns joined as stored
 *   foreign keys by cluster, database, schema, table, name
 *   checks      any order
 * The rows' strings are copied; an index's or foreign key's own columns
 * field is ignored (columns, the joined text, is used).
 */
int index_facts_add_table(struct index_facts *facts, const struct table_window *table,
    const char *cluster, int64_t span_us);
int index_facts_add_statement(struct index_facts *facts, const struct statement_fact *statement);
int index_facts_add_index(struct index_facts *facts, const struct index_fact *index,
    const char *columns, const char *cluster, int64_t span_us);
int index_facts_add_foreign_key(struct index_facts *facts,
    const struct foreign_key_fact *foreign_key, const char *columns, const char *cluster);
int index_facts_add_check(struct index_facts *facts, const struct index_check_fact *check);

/* index_facts_any_flagged: some table read mostly by sequential scans
 * (index_advice_seq_scans); without one no check is proposed, so a store
 * reads nothing more. */
bool index_facts_any_flagged(const struct index_facts *facts);

/*
 * index_answer_recommendations fills answer's rows (empty on entry):
 * high_sequential_scans and missing_index rows (with the stored hypopg
 * verdict of each proposal), then each cluster's structural advice,
 * stable by priority, the first limit (0: INDEX_ANSWER_DEFAULT_LIMIT).
 * Every string malloc'd, as store_answer_free expects; on PGF_ENOMEM
 * the rows made so far stay in answer for the caller to free.
 */
int index_answer_recommendations(const struct index_facts *facts, uint32_t limit,
    Pgfleet__V1__IndexRecommendations *answer);

/*
 * index_answer_checks lists the proposals for instance to check with
 * hypopg as of now_us: plain SELECTs without a verdict newer than
 * INDEX_ANSWER_CHECK_FRESH_US (INDEX_ANSWER_RECHECK_FAILED_US for a
 * failed one), at most INDEX_ANSWER_MAX_CHECKS. *checks is a malloc'd
 * array of malloc'd requests (NULL when *count is 0), the caller's.
 */
int index_answer_checks(const struct index_facts *facts, const char *instance, int64_t now_us,
    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count);

#endif
