/*
 * family_activity.c - the activity family (placeholder: not collected yet).
 */
#include "agent/family.h"

static void
collect_activity(struct family_context *context, Pgfleet__V1__Report *report)
{
	Pgfleet__V1__ActivityFamily *family =
	    family_new_message(context, &pgfleet__v1__activity_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "activity", &family->problems, &family->n_problems);
	report->activity = family;
}

const struct agent_family family_activity = {
	.name = "activity",
	.cadence_ms = family_cadence_activity,
	.min_server_version = 130000,
	.collect = collect_activity,
	.state_free = NULL,
};
