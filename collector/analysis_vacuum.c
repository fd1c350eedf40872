/*
 * analysis_vacuum.c - VACUUM advice (see analysis_vacuum.h).
 *
 * The trigger is autovacuum's own (src/backend/postmaster/autovacuum.c,
 * relation_needs_vacanalyze): dead tuples above threshold + scale_factor *
 * reltuples, and since PostgreSQL 13 inserts since the last vacuum above
 * insert_threshold + insert_scale_factor * reltuples (insert_threshold -1
 * turns that off). The agent resolves the reloptions over the server's
 * settings, so a table's own settings are what is judged here.
 */
#include "collector/analysis_vacuum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis_indexes.h"
#include "common/size_pretty.h"

/* Findings on transaction ids: high when fewer than this are left. */
#define WRAPAROUND_HIGH_LEFT INT64_C(500000000)
/* Bloat worth a finding, and worth a high one. */
#define BLOAT_MIN_PERCENT  20.0
#define BLOAT_MIN_BYTES    (INT64_C(1) << 20)
#define BLOAT_HIGH_PERCENT 50.0
#define BLOAT_HIGH_BYTES   (INT64_C(100) << 20)
/* needs_vacuum is medium from this share of dead tuples. */
#define DEAD_MEDIUM_PERCENT 20.0

const char *
vacuum_finding_type_name(enum vacuum_finding_type type)
{
	switch (type) {
	case VACUUM_FINDING_NEEDS_VACUUM:
		return "needs_vacuum";
	case VACUUM_FINDING_AUTOVACUUM_DISABLED:
		return "autovacuum_disabled";
	case VACUUM_FINDING_BLOAT:
		return "bloat";
	default:
		return "wraparound";
	}
}

const char *
vacuum_priority_name(enum vacuum_priority priority)
{
	switch (priority) {
	case VACUUM_PRIORITY_HIGH:
		return "high";
	case VACUUM_PRIORITY_MEDIUM:
		return "medium";
	default:
		return "low";
	}
}

bool
vacuum_insert_trigger_applies(int server_version_num)
{
	return server_version_num >= 130000;
}

double
vacuum_trigger(int64_t threshold, double scale_factor, double reltuples)
{
	return (double) threshold + scale_factor * (reltuples > 0 ? reltuples : 0.0);
}

static double
round2(double value)
{
	return round(value * 100.0) / 100.0;
}

/* The insert variant judges this table. */
static bool
insert_judged(const struct vacuum_table_fact *fact)
{
	return fact->insert_known && fact->insert_threshold >= 0
	    && vacuum_insert_trigger_applies(fact->server_version_num);
}

void
vacuum_figures_of(const struct vacuum_table_fact *fact, struct vacuum_figures *out)
{
	int64_t live = fact->n_live_tup > 0 ? fact->n_live_tup : 0;
	int64_t dead = fact->n_dead_tup > 0 ? fact->n_dead_tup : 0;

	memset(out, 0, sizeof(*out));
	out->vacuum_trigger = vacuum_trigger(
	    fact->vacuum_threshold, fact->vacuum_scale_factor, fact->reltuples);
	out->insert_trigger = insert_judged(fact) ? vacuum_trigger(fact->insert_threshold,
				  fact->insert_scale_factor, fact->reltuples)
						  : -1.0;
	out->dead_tuple_percentage = live + dead > 0
	    ? round2((double) dead * 100.0 / (double) (live + dead))
	    : 0.0;
	out->needs_vacuum = (double) dead > out->vacuum_trigger
	    || (out->insert_trigger >= 0
		&& (double) fact->n_ins_since_vacuum > out->insert_trigger);
	if (fact->has_bloat && fact->real_bytes > 0 && fact->bloat_bytes > 0) {
		out->wasted_bytes = fact->bloat_bytes;
		out->bloat_percentage = round2(
		    (double) fact->bloat_bytes * 100.0 / (double) fact->real_bytes);
	}
	out->xids_to_wraparound = VACUUM_WRAPAROUND_LIMIT - fact->relfrozenxid_age;
}

/* Where the table's autovacuum settings come from, for the evidence. */
static const char *
autovacuum_off_reason(const struct vacuum_table_fact *fact)
{
	if (fact->server_autovacuum == 0)
		return "the server's autovacuum setting is off";
	if (fact->server_autovacuum == 1)
		return "the table's reloption autovacuum_enabled is off";
	return "autovacuum is off for this table";
}

static void
needs_vacuum(const struct vacuum_table_fact *fact, const char *name,
    struct vacuum_finding *finding)
{
	const struct vacuum_figures *f = &finding->figures;
	bool by_dead
	    = (double) (fact->n_dead_tup > 0 ? fact->n_dead_tup : 0) > f->vacuum_trigger;
	int used;

	finding->type = VACUUM_FINDING_NEEDS_VACUUM;
	if (!fact->autovacuum_enabled)
		finding->priority = VACUUM_PRIORITY_HIGH;
	else if (f->dead_tuple_percentage >= DEAD_MEDIUM_PERCENT)
		finding->priority = VACUUM_PRIORITY_MEDIUM;
	else
		finding->priority = VACUUM_PRIORITY_LOW;
	snprintf(finding->recommendation, sizeof(finding->recommendation),
	    "VACUUM (VERBOSE, ANALYZE) %s;", name);
	if (by_dead)
		used = snprintf(finding->evidence, sizeof(finding->evidence),
		    "%lld dead tuples (%.2f%% of %lld) exceed autovacuum's start point "
		    "%.0f"
		    " = threshold %lld + scale factor %g x %.0f reltuples",
		    (long long) fact->n_dead_tup, f->dead_tuple_percentage,
		    (long long) (fact->n_live_tup + fact->n_dead_tup), f->vacuum_trigger,
		    (long long) fact->vacuum_threshold, fact->vacuum_scale_factor,
		    fact->reltuples > 0 ? fact->reltuples : 0.0);
	else
		used = snprintf(finding->evidence, sizeof(finding->evidence),
		    "%lld inserts since the last vacuum exceed autovacuum's insert start "
		    "point"
		    " %.0f = insert threshold %lld + insert scale factor %g x %.0f "
		    "reltuples",
		    (long long) fact->n_ins_since_vacuum, f->insert_trigger,
		    (long long) fact->insert_threshold, fact->insert_scale_factor,
		    fact->reltuples > 0 ? fact->reltuples : 0.0);
	if (used > 0 && (size_t) used < sizeof(finding->evidence))
		snprintf(finding->evidence + used,
		    sizeof(finding->evidence) - (size_t) used, "%s%s",
		    fact->autovacuum_enabled ? "" : "; ",
		    fact->autovacuum_enabled ? "" : autovacuum_off_reason(fact));
}

static void
autovacuum_disabled(const struct vacuum_table_fact *fact, const char *name,
    struct vacuum_finding *finding)
{
	finding->type = VACUUM_FINDING_AUTOVACUUM_DISABLED;
	finding->priority = finding->figures.needs_vacuum ? VACUUM_PRIORITY_HIGH
							  : VACUUM_PRIORITY_MEDIUM;
	if (fact->server_autovacuum == 0)
		snprintf(finding->recommendation, sizeof(finding->recommendation),
		    "ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();");
	else
		snprintf(finding->recommendation, sizeof(finding->recommendation),
		    "ALTER TABLE %s RESET (autovacuum_enabled);", name);
	snprintf(finding->evidence, sizeof(finding->evidence),
	    "%s: dead tuples are only removed by a manual VACUUM (now %lld dead, %.2f%%;"
	    " start point %.0f)",
	    autovacuum_off_reason(fact), (long long) fact->n_dead_tup,
	    finding->figures.dead_tuple_percentage, finding->figures.vacuum_trigger);
}

static void
bloat(const struct vacuum_table_fact *fact, const char *name,
    struct vacuum_finding *finding)
{
	const struct vacuum_figures *f = &finding->figures;
	char wasted[32], real[32];

	finding->type = VACUUM_FINDING_BLOAT;
	finding->priority = f->bloat_percentage >= BLOAT_HIGH_PERCENT
		&& f->wasted_bytes >= BLOAT_HIGH_BYTES
	    ? VACUUM_PRIORITY_HIGH
	    : VACUUM_PRIORITY_MEDIUM;
	/* dead tuples first: a plain VACUUM makes their space reusable
	 * without a lock; only the space left after it needs a rewrite */
	if (f->needs_vacuum)
		snprintf(finding->recommendation, sizeof(finding->recommendation),
		    "VACUUM (VERBOSE, ANALYZE) %s; -- then, if the space is still wasted:"
		    " VACUUM FULL %s; (ACCESS EXCLUSIVE lock; pg_repack avoids it)",
		    name, name);
	else
		snprintf(finding->recommendation, sizeof(finding->recommendation),
		    "VACUUM FULL %s; -- rewrites the table under an ACCESS EXCLUSIVE lock"
		    " (pg_repack avoids the lock)",
		    name);
	pgf_size_pretty(f->wasted_bytes, wasted, sizeof(wasted));
	pgf_size_pretty(fact->real_bytes, real, sizeof(real));
	snprintf(finding->evidence, sizeof(finding->evidence),
	    "the statistical estimate says %s of %s (%.2f%%) is wasted space", wasted,
	    real, f->bloat_percentage);
}

static void
wraparound(const struct vacuum_table_fact *fact, const char *name,
    struct vacuum_finding *finding)
{
	const struct vacuum_figures *f = &finding->figures;

	finding->type = VACUUM_FINDING_WRAPAROUND;
	finding->priority = f->xids_to_wraparound < WRAPAROUND_HIGH_LEFT
	    ? VACUUM_PRIORITY_HIGH
	    : VACUUM_PRIORITY_MEDIUM;
	snprintf(finding->recommendation, sizeof(finding->recommendation),
	    "VACUUM (FREEZE, VERBOSE) %s;", name);
	snprintf(finding->evidence, sizeof(finding->evidence),
	    "age(relfrozenxid) %lld is past autovacuum_freeze_max_age %lld; %lld "
	    "transactions"
	    " left before the 2^31 wraparound limit (the server stops writes a few "
	    "million"
	    " before it)",
	    (long long) fact->relfrozenxid_age, (long long) fact->freeze_max_age,
	    (long long) f->xids_to_wraparound);
}

/* A finding before its texts: what the order needs, small, so a fleet's
 * tables fit; texts are written for the rows answered only. */
struct candidate {
	const struct vacuum_table_fact *fact;
	struct vacuum_figures figures;
	enum vacuum_finding_type type;
	enum vacuum_priority priority;
};

static int
compare_candidates(const void *a_, const void *b_)
{
	const struct candidate *a = a_;
	const struct candidate *b = b_;

	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->fact->n_dead_tup != b->fact->n_dead_tup)
		return a->fact->n_dead_tup > b->fact->n_dead_tup ? -1 : 1;
	if (a->fact != b->fact)
		return a->fact < b->fact ? -1 : 1;
	return a->type < b->type ? -1 : (a->type > b->type ? 1 : 0);
}

static bool
applies(enum vacuum_finding_type type, const struct vacuum_table_fact *fact,
    const struct vacuum_figures *figures)
{
	switch (type) {
	case VACUUM_FINDING_NEEDS_VACUUM:
		return figures->needs_vacuum;
	case VACUUM_FINDING_AUTOVACUUM_DISABLED:
		return !fact->autovacuum_enabled;
	case VACUUM_FINDING_BLOAT:
		return fact->has_bloat && !fact->bloat_unreliable
		    && figures->bloat_percentage >= BLOAT_MIN_PERCENT
		    && figures->wasted_bytes >= BLOAT_MIN_BYTES;
	default:
		return (fact->freeze_max_age > 0
			   && fact->relfrozenxid_age > fact->freeze_max_age)
		    || figures->xids_to_wraparound < WRAPAROUND_HIGH_LEFT;
	}
}

/* describe writes the finding's priority and texts. */
static void
describe(const struct candidate *c, struct vacuum_finding *finding)
{
	char name[400];

	memset(finding, 0, sizeof(*finding));
	finding->fact = c->fact;
	finding->figures = c->figures;
	analysis_qualified(c->fact->schema, c->fact->table, name, sizeof(name));
	switch (c->type) {
	case VACUUM_FINDING_NEEDS_VACUUM:
		needs_vacuum(c->fact, name, finding);
		break;
	case VACUUM_FINDING_AUTOVACUUM_DISABLED:
		autovacuum_disabled(c->fact, name, finding);
		break;
	case VACUUM_FINDING_BLOAT:
		bloat(c->fact, name, finding);
		break;
	default:
		wraparound(c->fact, name, finding);
		break;
	}
}

size_t
analysis_vacuum(const struct vacuum_table_fact *facts, size_t n,
    struct vacuum_finding *out, size_t max_out)
{
	struct candidate *all;
	struct vacuum_finding *scratch;
	size_t count = 0;

	if (n == 0)
		return 0;
	all = calloc(n * 4, sizeof(*all));
	scratch = malloc(sizeof(*scratch));
	if (all == NULL || scratch == NULL) {
		free(all);
		free(scratch);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct vacuum_figures figures;

		if (facts[i].is_standby)
			continue;
		vacuum_figures_of(&facts[i], &figures);
		for (int type = VACUUM_FINDING_NEEDS_VACUUM;
		     type <= VACUUM_FINDING_WRAPAROUND; type++) {
			struct candidate *c = &all[count];

			if (!applies(
				(enum vacuum_finding_type) type, &facts[i], &figures))
				continue;
			c->fact = &facts[i];
			c->figures = figures;
			c->type = (enum vacuum_finding_type) type;
			/* the priority comes with the texts: one rule, one place */
			describe(c, scratch);
			c->priority = scratch->priority;
			count++;
		}
	}
	qsort(all, count, sizeof(*all), compare_candidates);
	for (size_t i = 0; i < count && i < max_out; i++)
		describe(&all[i], &out[i]);
	free(scratch);
	free(all);
	return count;
}
