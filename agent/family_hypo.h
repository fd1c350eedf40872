/*
 * family_hypo.h - the index_checks family: the collector proposes indexes
 * (in an Ack) for the statements that read big tables by sequential scans;
 * the agent checks each on its server with a hypothetical index (hypopg)
 * and reports the planner's cost of the statement before and after.
 *
 * Nothing is written to the server: hypopg's hypothetical indexes live in
 * the agent's own backend memory, the checks run in a read-only
 * transaction that is rolled back, the statement is only planned (EXPLAIN
 * without ANALYZE), and the hypothetical index is dropped (hypopg_reset)
 * at once. A statement must be one plain SELECT and the index statement one
 * CREATE INDEX, both proved with libpg_query before anything is sent.
 *
 * The pure parts (version choice, SQL text, quoting, plan reading) are
 * exposed for tests/unit/test_family_hypo.c.
 */
#ifndef PGFLEET_AGENT_FAMILY_HYPO_H
#define PGFLEET_AGENT_FAMILY_HYPO_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/family.h"

/* Checks kept from Acks until the next collection; more are dropped (the
 * collector asks again with its next tables snapshot). */
#define FAMILY_HYPO_MAX_PENDING 10

extern const struct agent_family family_index_checks;

/* family_hypo_accept keeps copies of the ack's index checks in the
 * family's state (*state, allocated on first use), each once. */
void family_hypo_accept(void **state, const Pgfleet__V1__Ack *ack);

/* How a statement with $n parameters is planned without values: a generic
 * plan, the same one whatever the parameters. */
enum family_hypo_method {
	/* PG 16+: EXPLAIN (GENERIC_PLAN) takes the text with its $n */
	FAMILY_HYPO_GENERIC_PLAN_OPTION,
	/* PG 13-15: PREPARE the text, SET LOCAL plan_cache_mode =
	 * force_generic_plan, EXPLAIN EXECUTE it with NULLs (the generic plan
	 * never looks at the values, so NULL folds nothing away) */
	FAMILY_HYPO_PREPARE,
};

enum family_hypo_method family_hypo_method(int server_version);

/* A text naming the method, for the result's detail. */
const char *family_hypo_method_name(enum family_hypo_method method);

/*
 * family_hypo_explain_sql writes the SQL that plans statement (n_params
 * $n) under prepared name `name`: prepare ("" when the method needs none),
 * explain, and deallocate (""). False when a buffer is too small.
 */
bool family_hypo_explain_sql(enum family_hypo_method method, const char *statement,
    unsigned n_params, const char *name, char *prepare, size_t prepare_size,
    char *explain, size_t explain_size, char *deallocate, size_t deallocate_size);

/* family_hypo_quote writes text as a dollar-quoted SQL literal whose tag
 * does not occur in text. False when out is too small. */
bool family_hypo_quote(const char *text, char *out, size_t size);

/* family_hypo_plan_cost reads EXPLAIN (FORMAT JSON) output: the top plan's
 * Total Cost, and whether any node scans the index named index_name (NULL:
 * not asked). False when the text is not such a plan. */
bool family_hypo_plan_cost(const char *json, const char *index_name, double *cost,
    bool *uses_index);

/* family_hypo_statement_ok: text is one plain SELECT (no INTO, no locking
 * clause, no data-modifying WITH); family_hypo_index_ok: one CREATE INDEX.
 * False with a one-line reason otherwise. */
bool family_hypo_statement_ok(const char *text, char *errbuf, size_t errlen);
bool family_hypo_index_ok(const char *text, char *errbuf, size_t errlen);

#endif
