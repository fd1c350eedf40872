/*
 * families.c - the table of statistics families and their default
 * cadences. A new family is one family_<name>.c and one row here.
 *
 * Cadences keep their ratio to `interval` (the statements cadence, 60 s by
 * default) unless set: tables and indexes 5x (300 s), bloat 15x (900 s),
 * activity, replication and pool 1/6 (10 s), settings 60x (3600 s).
 */
#include "agent/family.h"
#include "agent/family_hypo.h"

#include <stddef.h>

/* family_cadence returns the configured cadence, or interval scaled by
 * numerator/denominator, never below one second. */
static int64_t
family_cadence(int64_t configured, int64_t interval, int64_t numerator,
    int64_t denominator)
{
	int64_t ms = configured > 0 ? configured : interval * numerator / denominator;
	return ms < 1000 ? 1000 : ms;
}

int64_t
family_cadence_tables(const struct agent_config *c)
{
	return family_cadence(c->tables_interval, c->interval, 5, 1);
}

int64_t
family_cadence_indexes(const struct agent_config *c)
{
	return family_cadence(c->indexes_interval, c->interval, 5, 1);
}

int64_t
family_cadence_bloat(const struct agent_config *c)
{
	return family_cadence(c->bloat_interval, c->interval, 15, 1);
}

int64_t
family_cadence_activity(const struct agent_config *c)
{
	return family_cadence(c->activity_interval, c->interval, 1, 6);
}

int64_t
family_cadence_replication(const struct agent_config *c)
{
	return family_cadence(c->replication_interval, c->interval, 1, 6);
}

int64_t
family_cadence_settings(const struct agent_config *c)
{
	return family_cadence(c->settings_interval, c->interval, 60, 1);
}

int64_t
family_cadence_pool(const struct agent_config *c)
{
	return family_cadence(c->pool_interval, c->interval, 1, 6);
}

const struct agent_family *const agent_families[] = {
	&family_settings,
	&family_activity,
	&family_replication,
	&family_tables,
	&family_indexes,
	&family_bloat,
	&family_pool,
	&family_index_checks,
	NULL,
};
