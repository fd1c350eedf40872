/*
 * family_settings.c - the settings family (placeholder: not collected yet).
 */
#include "agent/family.h"

static void
collect_settings(struct family_context *context, Pgfleet__V1__Report *report)
{
	Pgfleet__V1__SettingsFamily *family =
	    family_new_message(context, &pgfleet__v1__settings_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "settings", &family->problems, &family->n_problems);
	report->settings = family;
}

const struct agent_family family_settings = {
	.name = "settings",
	.cadence_ms = family_cadence_settings,
	.min_server_version = 130000,
	.collect = collect_settings,
	.state_free = NULL,
};
