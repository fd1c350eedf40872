/*
 * family_bloat.c - the bloat family (placeholder: not collected yet).
 */
#include "agent/family.h"

static void
collect_bloat(struct family_context *context, Pgfleet__V1__Report *report)
{
	Pgfleet__V1__BloatFamily *family =
	    family_new_message(context, &pgfleet__v1__bloat_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "bloat", &family->problems, &family->n_problems);
	report->bloat = family;
}

const struct agent_family family_bloat = {
	.name = "bloat",
	.cadence_ms = family_cadence_bloat,
	.min_server_version = 130000,
	.collect = collect_bloat,
	.state_free = NULL,
};
