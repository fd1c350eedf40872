/*
 * family_indexes.c - the indexes family (placeholder: not collected yet).
 */
#include "agent/family.h"

static void
collect_indexes(struct family_context *context, Pgfleet__V1__Report *report)
{
	Pgfleet__V1__IndexesFamily *family =
	    family_new_message(context, &pgfleet__v1__indexes_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "indexes", &family->problems, &family->n_problems);
	report->indexes = family;
}

const struct agent_family family_indexes = {
	.name = "indexes",
	.cadence_ms = family_cadence_indexes,
	.min_server_version = 130000,
	.collect = collect_indexes,
	.state_free = NULL,
};
