/*
 * action_check.h - is a statement safe to EXPLAIN (ANALYZE) on a watched
 * server, and which EXPLAIN text to send for it.
 *
 * The first of the safety layers of an EXPLAIN action (RELIABILITY.md,
 * "Actions are the server owner's choice"): the statement is parsed with
 * the Postgres parser (libpg_query) and refused before anything reaches the
 * server unless it is exactly one statement of an explainable kind; for
 * ANALYZE (which executes it) exactly one SELECT with no data-modifying
 * WITH, no SELECT INTO, no FOR UPDATE/SHARE and no blocklisted function
 * anywhere in its tree. The later layers (read-only transaction, always
 * rolled back, statement_timeout, extended protocol) are the caller's
 * (action_channel.c). Pure code: no I/O, unit-tested.
 */
#ifndef PGFLEET_AGENT_ACTION_CHECK_H
#define PGFLEET_AGENT_ACTION_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Longest statement accepted, bytes. */
#define ACTION_CHECK_MAX_STATEMENT (256 * 1024)

struct action_check_result {
	/* The statement has $n parameters (a normalized pg_stat_statements
	 * text). */
	bool has_params;
	/* The highest parameter number ($3: 3). */
	int param_count;
	/* The one statement's span in the text: without a trailing ';' or
	 * what follows it. */
	size_t start;
	size_t length;
	/* Node name of the statement, e.g. "SelectStmt". */
	char kind[32];
};

/*
 * action_check_statement parses sql and decides whether it may be
 * EXPLAINed (analyze false) or EXPLAIN ANALYZEd (analyze true). Returns
 * PGF_OK with out filled, or PGF_EINVAL with a one-line reason in errbuf
 * (e.g. `EXPLAIN ANALYZE refused: function "pg_terminate_backend" is not
 * allowed`). Never blocks.
 */
int action_check_statement(const char *sql, bool analyze, struct action_check_result *out,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* action_check_blocklisted is true when a function of this name (without
 * schema, any case) may not run under EXPLAIN ANALYZE. */
bool action_check_blocklisted(const char *function_name);

/* The prepared statement's name for a generic plan before PostgreSQL 16. */
#define ACTION_EXPLAIN_PREPARED "pgfleet_explain"

/*
 * action_explain_sql builds the EXPLAIN to send for a checked statement
 * (statement[0..length), with param_count parameters) on a server of
 * server_version_num: FORMAT JSON always; ANALYZE and BUFFERS for analyze.
 * A statement with parameters gets its generic plan: EXPLAIN (GENERIC_PLAN)
 * on PostgreSQL 16 and later; before 16, *prepare_out is set too: the
 * caller runs it (PREPARE pgfleet_explain AS ...), sets plan_cache_mode =
 * force_generic_plan, and *sql_out EXPLAINs EXECUTE pgfleet_explain(NULL,
 * ...): the generic plan does not depend on the NULLs, and nothing is
 * executed. A statement with parameters cannot be ANALYZEd: PGF_EINVAL
 * with the reason. On PGF_OK *sql_out and *prepare_out (or NULL) are
 * malloc'd (caller frees); *options_out is a static text of how the plan
 * was made ("" for a plain EXPLAIN).
 */
int action_explain_sql(const char *statement, size_t length, bool analyze,
    int param_count, int server_version_num, char **prepare_out, char **sql_out,
    const char **options_out, char *errbuf, size_t errlen) PGF_MUST_CHECK;

#endif
