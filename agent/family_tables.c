/*
 * family_tables.c - the tables family (placeholder: not collected yet).
 */
#include "agent/family.h"

static void
collect_tables(struct family_context *context, Pgfleet__V1__Report *report)
{
	Pgfleet__V1__TablesFamily *family =
	    family_new_message(context, &pgfleet__v1__tables_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "tables", &family->problems, &family->n_problems);
	report->tables = family;
}

const struct agent_family family_tables = {
	.name = "tables",
	.cadence_ms = family_cadence_tables,
	.min_server_version = 130000,
	.collect = collect_tables,
	.state_free = NULL,
};
