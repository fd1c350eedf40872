/*
 * advice_facts.h - the steps that turn a store's rows into the advice
 * facts (advice.h), shared by every backend so that each keeps only its
 * SQL: what the server's settings mean for a table, whether a standby's
 * upstream lists it, a standby's lag history, and the checklist's judgement
 * of an instance's indexes (invalid ones, duplicate definitions).
 *
 * Pure: values in, fact fields out; no I/O.
 */
#ifndef PGFLEET_COLLECTOR_ADVICE_FACTS_H
#define PGFLEET_COLLECTOR_ADVICE_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/advice.h"

/* The window the facts cover when the scope sets no start: the last day. */
#define ADVICE_DEFAULT_WINDOW_US (INT64_C(86400) * 1000000)

/* advice_window_since: the window's start, the scope's (since_us), else a
 * day before its end (until_us, or now). */
int64_t advice_window_since(const Pgfleet__V1__Scope *scope);

/* advice_server_autovacuum: the server's `autovacuum` setting as
 * vacuum_table_fact.server_autovacuum wants it (1 "on", 0 anything else,
 * -1 for NULL: not reported). */
int advice_server_autovacuum(const char *setting);

/*
 * advice_vacuum_insert sets fact's insert variant of the autovacuum
 * trigger: the table's own (table_known: the agent sent the effective
 * values), else the server's settings (texts, NULL when not reported),
 * else unknown.
 */
void advice_vacuum_insert(struct vacuum_table_fact *fact, bool table_known,
    int64_t table_threshold, double table_scale_factor, const char *server_threshold,
    const char *server_scale_factor);

/* What the store knows of a standby's upstream. */
struct advice_upstream {
	/* the upstream reported its replication state */
	bool reported;
	/* its walsenders, and the standbys that name it as their upstream */
	int64_t walsenders;
	int64_t standbys;
	/* walsenders that surely are this standby's (by slot or by
	 * application_name = instance name), and their lag */
	int64_t matched;
	int64_t sent_lag_bytes;
	double sent_lag_seconds;
};

/*
 * advice_replica_upstream sets fact->listed from upstream and, when one
 * walsender surely is this standby's, takes its view of the lag where it
 * is larger (WAL sent but not yet received counts too). fact's slot_name,
 * lag_bytes and lag_seconds must be set.
 */
void advice_replica_upstream(
    struct replica_fact *fact, const struct advice_upstream *upstream);

/*
 * advice_replica_points copies a standby's lag history points[0..n) into
 * pool and points fact at it (nothing for n = 0). false when out of
 * memory.
 */
bool advice_replica_points(struct advice_pool *pool, struct replica_fact *fact,
    const struct replication_lag_point *points, size_t n);

/* The checklist's view of one instance's indexes, fed one index at a time
 * (any order): advice_indexes_add for each, then advice_indexes_finish. */
struct advice_index_signature;
struct advice_indexes {
	struct advice_index_signature *list;
	size_t n;
	size_t capacity;
};

/*
 * advice_indexes_add counts an invalid index into facts (and names it) and
 * keeps a valid or invalid index's definition (pg_get_indexdef; "" when
 * unknown: not compared) for the duplicates. false when out of memory
 * (then call advice_indexes_free).
 */
bool advice_indexes_add(struct advice_indexes *indexes, struct checklist_facts *facts,
    const char *database, const char *schema, const char *index, bool valid,
    const char *definition);

/* advice_indexes_finish counts and names the duplicate definitions in one
 * database (every index after the first, in name order, of those doing the
 * same) into facts, then frees what indexes holds. */
void advice_indexes_finish(struct advice_indexes *indexes, struct checklist_facts *facts);

/* advice_indexes_free frees what indexes holds; a zeroed one is empty. */
void advice_indexes_free(struct advice_indexes *indexes);

#endif
