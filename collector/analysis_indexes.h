/*
 * analysis_indexes.h - structural index advice for one cluster: unused,
 * duplicate, redundant and invalid indexes, and foreign keys without an
 * index on the referencing side.
 *
 * Pure: rows in (what the agents of a cluster's members reported), rows
 * out (recommendations with DDL, evidence and priority); no I/O, so it is
 * tested from plain data files (tests/analysis/indexes/).
 */
#ifndef PGFLEET_COLLECTOR_ANALYSIS_INDEXES_H
#define PGFLEET_COLLECTOR_ANALYSIS_INDEXES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One index as one member of the cluster saw it over the window. */
struct index_fact {
	const char *instance;
	const char *database;
	const char *schema;
	const char *table;
	const char *index;
	const char *access_method;
	/* key columns, in order */
	const char *const *columns;
	size_t n_columns;
	const char *predicate;	/* "" when none */
	const char *definition;	/* pg_get_indexdef() */
	const char *constraint_type; /* "p", "u", "x" or "" */
	bool is_unique;
	bool is_valid;
	int64_t size_bytes;
	/* index scans on this member during the window; -1 when unknown (no
	 * two snapshots, or statistics reset inside the window) */
	int64_t window_scans;
};

struct foreign_key_fact {
	const char *database;
	const char *schema;
	const char *table;
	const char *name;
	const char *const *columns;
	size_t n_columns;
	const char *referenced_table;
};

enum index_advice_type {
	INDEX_ADVICE_UNUSED,
	INDEX_ADVICE_DUPLICATE,
	INDEX_ADVICE_REDUNDANT,
	INDEX_ADVICE_INVALID,
	INDEX_ADVICE_FOREIGN_KEY_WITHOUT_INDEX,
};

enum advice_priority {
	ADVICE_PRIORITY_LOW,
	ADVICE_PRIORITY_MEDIUM,
	ADVICE_PRIORITY_HIGH,
};

struct index_advice {
	enum index_advice_type type;
	enum advice_priority priority;
	char database[64];
	char schema[64];
	char table[64];
	/* the index the advice is about ("" for a foreign key) */
	char index[64];
	char ddl[1024];
	char evidence[1024];
};

/* index_advice_type_name: "unused", "duplicate", "redundant", "invalid",
 * "foreign_key_without_index". */
const char *index_advice_type_name(enum index_advice_type type);
const char *advice_priority_name(enum advice_priority priority);

/* analysis_quote_ident writes name as an SQL identifier, quoted when it
 * needs to be; analysis_qualified writes "schema.name" so. */
void analysis_quote_ident(const char *name, char *out, size_t size);
void analysis_qualified(const char *schema, const char *name, char *out, size_t size);

/* analysis_duration writes seconds as "45s", "12m05s", "3h02m", "2d04h". */
void analysis_duration(int64_t seconds, char *out, size_t size);

/*
 * analysis_indexes examines the indexes every member of one cluster
 * reported (n_members instances; one fact per index per member) and the
 * foreign keys (from any member: a cluster has one catalog), over a window
 * of window_seconds. Writes at most max_out advice rows into out, most
 * important first; returns how many there were in all (may exceed max_out).
 *
 * Rules: an index is unused only when every member reported it with 0 scans
 * over the window (a member without a known count keeps it), and never when
 * it backs a constraint or is unique. Duplicates share table, access
 * method, columns and predicate: the one that backs no constraint (else the
 * later name) is dropped. A btree whose columns are a strict leading prefix
 * of another btree's, with the same predicate, is redundant unless it is
 * unique or backs a constraint. Invalid indexes are rebuilt. A foreign key
 * whose columns lead no index of its table wants one.
 */
size_t analysis_indexes(const struct index_fact *indexes, size_t n_indexes,
    size_t n_members, const struct foreign_key_fact *foreign_keys, size_t n_foreign_keys,
    int64_t window_seconds, struct index_advice *out, size_t max_out);

#endif
