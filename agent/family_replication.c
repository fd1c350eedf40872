/*
 * family_replication.c - the replication family (placeholder: not collected yet).
 */
#include "agent/family.h"

static void
collect_replication(struct family_context *context, Pgfleet__V1__Report *report)
{
	Pgfleet__V1__ReplicationFamily *family =
	    family_new_message(context, &pgfleet__v1__replication_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "replication", &family->problems, &family->n_problems);
	report->replication = family;
}

const struct agent_family family_replication = {
	.name = "replication",
	.cadence_ms = family_cadence_replication,
	.min_server_version = 130000,
	.collect = collect_replication,
	.state_free = NULL,
};
