/*
 * index_advice.h - the "missing index" half of index advice: tables read
 * mostly by sequential scans over a window (the guide's
 * high_sequential_scans), and concrete CREATE INDEX proposals for the
 * statements that read them, with the columns taken from the statements'
 * own text (parsed by libpg_query).
 *
 * Pure: rows in, rows out, no I/O (libpg_query parses in memory); tested
 * with plain data in tests/unit/test_index_advice.c. The structural half
 * (unused, duplicate, redundant, invalid, foreign keys) is
 * analysis_indexes.h.
 */
#ifndef PGFLEET_COLLECTOR_INDEX_ADVICE_H
#define PGFLEET_COLLECTOR_INDEX_ADVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis_indexes.h"

/*
 * Tiny tables are never reported: below 1 MiB (128 pages of 8 kB) a
 * sequential scan is cheap and the planner often prefers it to an index
 * anyway, so their scan counts say nothing.
 */
#define INDEX_ADVICE_TINY_TABLE_BYTES (1024 * 1024)
/* A table needs at least this many sequential scans in the window... */
#define INDEX_ADVICE_MIN_SEQ_SCANS 10
/* ...reading at least this many tuples each on average. */
#define INDEX_ADVICE_MIN_AVG_TUPLES 1000.0
/* Tuples read by sequential scans in the window that make it high
 * priority. */
#define INDEX_ADVICE_HIGH_TUPLES 10000000
#define INDEX_ADVICE_MAX_COLUMNS 8
#define INDEX_ADVICE_NAME_SIZE 64
#define INDEX_ADVICE_PREDICATE_SIZE 256

/* One table on one instance over a window: counter deltas between the
 * first and the last snapshot in the window. */
struct table_window {
	const char *instance;
	const char *database;
	const char *schema;
	const char *table;
	int64_t seq_scans;
	int64_t seq_tuples_read;
	int64_t index_scans;
	/* the last snapshot's size and rows */
	int64_t table_bytes;
	int64_t live_tuples;
};

/* A table read mostly by sequential scans. */
struct seq_scan_advice {
	/* index of the table in the input */
	size_t table;
	enum advice_priority priority;
	double avg_tuples_per_scan;
	char recommendation[256];
	char evidence[512];
};

/*
 * index_advice_seq_scans flags the tables with at least
 * INDEX_ADVICE_MIN_SEQ_SCANS sequential scans averaging at least
 * INDEX_ADVICE_MIN_AVG_TUPLES tuples each, more sequential than index
 * scans, and not tiny. Priority: high from INDEX_ADVICE_HIGH_TUPLES tuples
 * read, else medium. Writes at most max_out rows, most tuples read first;
 * returns how many there were in all.
 */
size_t index_advice_seq_scans(const struct table_window *tables, size_t n_tables,
    struct seq_scan_advice *out, size_t max_out);

/* What one statement does with one table. */
struct statement_columns {
	/* proposed key columns, in order: equality (and join) columns first,
	 * then one range column, else the ORDER BY columns */
	char columns[INDEX_ADVICE_MAX_COLUMNS][INDEX_ADVICE_NAME_SIZE];
	size_t n_columns;
	size_t n_equality;
	/* conditions that select a fixed subset of rows whatever the
	 * parameters (col IS NULL, col IS NOT NULL, a boolean column, NOT
	 * col): the partial index predicate, "" when none */
	char predicate[INDEX_ADVICE_PREDICATE_SIZE];
	/* highest $n in the text */
	unsigned n_params;
	/* a plain SELECT (the only kind the agent checks with hypopg) */
	bool is_select;
};

/*
 * index_advice_statement_columns parses text (a normalized statement) and
 * finds the columns of schema.table its WHERE, JOIN ... ON and ORDER BY
 * filter, join or sort on. An unqualified column counts when the table is
 * the statement's only one; OR branches and expressions over columns are
 * not used. Returns 0 with *out filled, 1 when the statement does not use
 * the table in a way an index serves (not referenced, no usable column, not
 * a SELECT/UPDATE/DELETE), -1 when it does not parse (errbuf says why).
 */
int index_advice_statement_columns(const char *text, const char *schema, const char *table,
    struct statement_columns *out, char *errbuf, size_t errlen);

/* One statement on one instance over the window. */
struct statement_fact {
	const char *instance;
	const char *database;
	int64_t queryid;
	const char *text;
	int64_t calls;
	double total_ms;
};

struct index_proposal {
	/* indexes into the inputs */
	size_t table;
	size_t statement;
	struct statement_columns key;
	enum advice_priority priority;
	char index_name[INDEX_ADVICE_NAME_SIZE];
	/* CREATE INDEX CONCURRENTLY name ON schema.table (...) [WHERE ...]; */
	char ddl[768];
	/* the same without name and CONCURRENTLY, for hypopg_create_index() */
	char hypothetical_ddl[768];
	char recommendation[1024];
	char evidence[1536];
};

/* Statements proposed for per flagged table, the most expensive first. */
#define INDEX_ADVICE_STATEMENTS_PER_TABLE 3

/*
 * index_advice_proposals proposes, for each flagged table (flagged[i].table
 * indexes tables), an index for each of the INDEX_ADVICE_STATEMENTS_PER_TABLE
 * statements of the same instance and database with the largest total time
 * that use the table's columns; a statement whose columns an existing valid
 * index of the table already leads (existing, same database, schema and
 * table, any member) gets none, and equal proposals are made once. Writes
 * at most max_out rows; returns how many there were in all.
 */
size_t index_advice_proposals(const struct table_window *tables,
    const struct seq_scan_advice *flagged, size_t n_flagged,
    const struct statement_fact *statements, size_t n_statements,
    const struct index_fact *existing, size_t n_existing, struct index_proposal *out,
    size_t max_out);

#endif
