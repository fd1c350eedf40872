/*
 * explain_plan.h - reading an EXPLAIN (FORMAT JSON) plan: the text an
 * operator reads, and the user's guide's red flags.
 *
 * The agent runs EXPLAIN once, as JSON (ANALYZE executes the statement:
 * running it twice for two formats would double its cost), and renders the
 * familiar text form from the JSON here. Red flags (the guide's list):
 * sequential scans on large tables, estimated vs actual rows off by 10x or
 * more, nodes that ran many times (loops), and where the time went (the
 * nodes with the largest exclusive time). Pure code: JSON in, text and
 * flags out; tested with plain plan files.
 */
#ifndef PGFLEET_AGENT_EXPLAIN_PLAN_H
#define PGFLEET_AGENT_EXPLAIN_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Largest plan accepted, bytes. */
#define EXPLAIN_PLAN_MAX_BYTES (16 * 1024 * 1024)

/* A table's size as the server's statistics know it (pg_class.reltuples),
 * for plain EXPLAIN, whose seq scans say only how many rows they return. */
struct explain_table_rows {
	const char *relation;
	double rows;
};

struct explain_thresholds {
	/* A Seq Scan over at least this many rows is a flag. */
	double large_table_rows;
	/* Estimated vs actual rows off by this factor or more ... */
	double misestimate_ratio;
	/* ... when the larger of the two is at least this many rows. */
	double misestimate_min_rows;
	/* A node that ran this many times or more. */
	double many_loops;
	/* How many nodes "where the time went" names. */
	int time_nodes;
};

#define EXPLAIN_THRESHOLDS_DEFAULT              \
	{                                       \
		10000.0, 10.0, 100.0, 1000.0, 3 \
	}

struct explain_flag {
	/* seq_scan_large_table, misestimate, many_loops, time_spent */
	const char *kind;
	/* malloc'd: "Seq Scan on orders (node 3)" */
	char *node;
	/* malloc'd: one line */
	char *detail;
};

struct explain_summary {
	/* malloc'd: the plan as text, lines ending in '\n' */
	char *text;
	bool analyzed;
	double planning_ms;
	double execution_ms;
	struct explain_flag *flags;
	size_t flag_count;
};

/*
 * explain_plan_seq_scans lists the relations the plan reads with a Seq
 * Scan (each once), so the caller can look their sizes up. *relations is
 * malloc'd, as is each name (explain_relations_free). PGF_EDECODE with a
 * one-line reason when plan_json is not an EXPLAIN JSON plan.
 */
int explain_plan_seq_scans(const char *plan_json, char ***relations, size_t *count,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

void explain_relations_free(char **relations, size_t count);

/*
 * explain_plan_summarize renders plan_json as text and finds its red flags,
 * using tables[0..table_count) for table sizes (may be empty). On PGF_OK
 * the caller owns out (explain_summary_fini); PGF_EDECODE for a plan it
 * cannot read, PGF_ENOMEM.
 */
int explain_plan_summarize(const char *plan_json, const struct explain_table_rows *tables,
    size_t table_count, const struct explain_thresholds *thresholds,
    struct explain_summary *out, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* explain_summary_fini frees what explain_plan_summarize put in summary. */
void explain_summary_fini(struct explain_summary *summary);

#endif
