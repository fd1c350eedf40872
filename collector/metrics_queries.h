/*
 * metrics_queries.h - what /metrics reads from a store, once for every
 * backend: one query per group of metric families, in SQL that SQLite and
 * PostgreSQL both run (the same tables and columns in both stores), and
 * the step that turns a result row into samples. A backend runs each query
 * with $1 = now (µs) and $2 = the number of statements wanted, in one read
 * snapshot, and hands each row to metrics_queries_add_row
 * (store_sqlite_metrics.c, store_pg_metrics.c).
 *
 * A query's first columns are the label values of its families (all of its
 * families share the labels), the remaining columns one value per family,
 * in order; a NULL value leaves that sample out. Each query's label values
 * are unique per row (statements are grouped by database name, not oid):
 * the text format refuses a series twice.
 */
#ifndef PGFLEET_COLLECTOR_METRICS_QUERIES_H
#define PGFLEET_COLLECTOR_METRICS_QUERIES_H

#include <stdbool.h>
#include <stddef.h>

#include "collector/metrics.h"

#define METRICS_QUERY_MAX_FAMILIES 8

struct metrics_query {
	/* for messages: "could not read WHAT for metrics" */
	const char *what;
	const char *sql;
	enum metrics_family_id families[METRICS_QUERY_MAX_FAMILIES];
	int n_families;
	/* the statements' query: not run when no statement is wanted */
	bool statements;
};

extern const struct metrics_query metrics_queries[];
extern const size_t metrics_queries_count;

/* metrics_query_labels: how many label columns query's rows start with. */
int metrics_query_labels(const struct metrics_query *query);

/*
 * metrics_queries_add_row adds one result row of query to set: labels[]
 * are its first metrics_query_labels columns (copied), values[f] and
 * present[f] the value column of family f (absent: no sample). PGF_OK or
 * PGF_ENOMEM.
 */
int metrics_queries_add_row(struct metrics_set *set, const struct metrics_query *query,
    const char *const *labels, const double *values, const bool *present) PGF_MUST_CHECK;

#endif
