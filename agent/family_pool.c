/*
 * family_pool.c - the pool family (placeholder: not collected yet).
 */
#include "agent/family.h"

static void
collect_pool(struct family_context *context, Pgfleet__V1__Report *report)
{
	Pgfleet__V1__PoolFamily *family =
	    family_new_message(context, &pgfleet__v1__pool_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "pool", &family->problems, &family->n_problems);
	report->pool = family;
}

const struct agent_family family_pool = {
	.name = "pool",
	.cadence_ms = family_cadence_pool,
	.min_server_version = 130000,
	.collect = collect_pool,
	.state_free = NULL,
};
