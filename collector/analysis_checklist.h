/*
 * analysis_checklist.h - the user's guide's production checklist, judged
 * for one instance from what its agent reported: pg_stat_statements
 * enabled, autovacuum configured, pool sized, slow query monitoring active,
 * indexes optimized, bloat monitored, replicas configured. ("Backup
 * strategy" and "monitoring alerts" are outside what an agent can see.)
 *
 * Pure: facts in, items out; no I/O.
 */
#ifndef PGFLEET_COLLECTOR_ANALYSIS_CHECKLIST_H
#define PGFLEET_COLLECTOR_ANALYSIS_CHECKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECKLIST_ITEMS 7
/* Names listed in an evidence text, at most. */
#define CHECKLIST_NAMES 256

/* What is known about one instance. Strings are borrowed; NULL = unknown
 * (the agent did not report it). */
struct checklist_facts {
	const char *instance;
	const char *cluster;
	bool is_standby;
	/* settings family */
	bool have_settings;
	const char *shared_preload_libraries;
	const char *autovacuum;
	const char *track_counts;
	/* pg_stat_statements created in at least one database */
	bool statements_extension;
	/* the window's start (µs since the epoch) and the newest statements
	 * interval and bloat estimate stored before its end (0 = none) */
	int64_t window_since_us;
	int64_t last_statement_us;
	/* tables family: how many tables, how many with autovacuum off, and
	 * some of their names ("db.schema.table, ...") */
	bool have_tables;
	int64_t tables;
	int64_t tables_autovacuum_off;
	char autovacuum_off_names[CHECKLIST_NAMES];
	/* tables that need a vacuum now (analysis_vacuum) */
	int64_t tables_need_vacuum;
	char need_vacuum_names[CHECKLIST_NAMES];
	/* activity in the window: the largest number of connections seen,
	 * and max_connections minus superuser_reserved_connections */
	bool have_activity;
	int64_t peak_connections;
	int64_t max_connections;
	int64_t reserved_connections;
	/* indexes family: indexes, invalid ones, duplicate definitions */
	bool have_indexes;
	int64_t indexes;
	int64_t invalid_indexes;
	int64_t duplicate_indexes;
	char index_names[CHECKLIST_NAMES];
	/* pgfleet index-recommendations for the instance (or its cluster),
	 * when it could be asked: how many, how many high, and some of them
	 * ("type schema.table[.index]") */
	bool have_index_advice;
	int64_t index_advice;
	int64_t index_advice_high;
	char index_advice_names[CHECKLIST_NAMES];
	int64_t last_bloat_us;
	/* replication: a standby's walreceiver status; a primary's
	 * walsenders and how many stream */
	bool have_replication;
	const char *receiver_status;
	int64_t walsenders;
	int64_t streaming_walsenders;
};

enum checklist_status {
	CHECKLIST_PASS,
	CHECKLIST_WARN,
	CHECKLIST_FAIL,
};

struct checklist_item {
	const char *item;
	enum checklist_status status;
	char evidence[512];
	char recommendation[384];
};

/* "pass", "warn", "fail". */
const char *checklist_status_name(enum checklist_status status);

/* checklist_library_listed: name is one of the comma-separated entries of
 * a shared_preload_libraries value (spaces and quotes ignored). */
bool checklist_library_listed(const char *libraries, const char *name);

/* checklist_index_signature writes what an index definition
 * (pg_get_indexdef) does, without its name: "CREATE [UNIQUE] INDEX ON
 * ...". Two indexes with the same signature on one database duplicate
 * each other. */
void checklist_index_signature(const char *definition, char *out, size_t size);

/* checklist_add_name appends name to a ", "-separated list, ending it with
 * ", ..." when full. */
void checklist_add_name(char *list, size_t size, const char *name);

/* analysis_checklist judges the seven items, in the guide's order, into
 * out. */
void analysis_checklist(
    const struct checklist_facts *facts, struct checklist_item out[CHECKLIST_ITEMS]);

#endif
