/*
 * analysis_vacuum.h - VACUUM advice for the tables of one or more
 * instances: which tables autovacuum should already have vacuumed (its own
 * formula, with the table's reloptions), which have autovacuum off, which
 * waste much space (the bloat estimate), and which near transaction-id
 * wraparound.
 *
 * Pure: facts in (what the agents last reported), findings out (with the
 * command to apply, the evidence and a priority); no I/O.
 */
#ifndef PGFLEET_COLLECTOR_ANALYSIS_VACUUM_H
#define PGFLEET_COLLECTOR_ANALYSIS_VACUUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Transaction ids a table may age before wraparound: 2^31. */
#define VACUUM_WRAPAROUND_LIMIT INT64_C(2147483648)

/* One table as an instance last reported it. Strings are borrowed. */
struct vacuum_table_fact {
	const char *instance;
	const char *database;
	const char *schema;
	const char *table;
	int server_version_num;
	/* the instance is a standby: nothing to do there (it is read-only,
	 * counts no dead tuples of its own and follows the primary's
	 * catalog), so it gets no finding */
	bool is_standby;
	int64_t n_live_tup;
	int64_t n_dead_tup;
	int64_t n_ins_since_vacuum;
	/* pg_class.reltuples; negative when never analyzed */
	double reltuples;
	/* effective: the server's autovacuum and the table's reloption */
	bool autovacuum_enabled;
	/* the server's `autovacuum` setting: 1 on, 0 off, -1 unknown */
	int server_autovacuum;
	/* the effective settings (the table's reloptions over the server's) */
	int64_t vacuum_threshold;
	double vacuum_scale_factor;
	/* the insert variant; insert_known false when the agent did not say
	 * (then it is not judged) */
	bool insert_known;
	int64_t insert_threshold;
	double insert_scale_factor;
	int64_t relfrozenxid_age;
	/* the server's autovacuum_freeze_max_age; 0 when unknown */
	int64_t freeze_max_age;
	/* the bloat estimate of the table itself, when there is one */
	bool has_bloat;
	bool bloat_unreliable;
	int64_t real_bytes;
	int64_t bloat_bytes;
	int64_t last_vacuum_us;
	int64_t last_autovacuum_us;
	int64_t collected_at_us;
};

enum vacuum_finding_type {
	VACUUM_FINDING_NEEDS_VACUUM,
	VACUUM_FINDING_AUTOVACUUM_DISABLED,
	VACUUM_FINDING_BLOAT,
	VACUUM_FINDING_WRAPAROUND,
};

enum vacuum_priority {
	VACUUM_PRIORITY_LOW,
	VACUUM_PRIORITY_MEDIUM,
	VACUUM_PRIORITY_HIGH,
};

/* The figures of one table, computed once for all its findings. */
struct vacuum_figures {
	bool needs_vacuum;
	/* dead / (live + dead) * 100, two decimals; 0 when the table is empty */
	double dead_tuple_percentage;
	/* dead tuples (inserts) at which autovacuum starts; insert_trigger is
	 * -1 when the insert variant does not apply */
	double vacuum_trigger;
	double insert_trigger;
	/* bloat_bytes / real_bytes * 100, two decimals; 0 without estimate */
	double bloat_percentage;
	int64_t wasted_bytes;
	int64_t xids_to_wraparound;
};

struct vacuum_finding {
	enum vacuum_finding_type type;
	enum vacuum_priority priority;
	/* the fact it is about (borrowed from the input) */
	const struct vacuum_table_fact *fact;
	struct vacuum_figures figures;
	char recommendation[1100];
	char evidence[768];
};

/* "needs_vacuum", "autovacuum_disabled", "bloat", "wraparound". */
const char *vacuum_finding_type_name(enum vacuum_finding_type type);
/* "low", "medium", "high". */
const char *vacuum_priority_name(enum vacuum_priority priority);

/* vacuum_insert_trigger_applies: the server has the insert variant of the
 * autovacuum trigger (PostgreSQL 13 and later). */
bool vacuum_insert_trigger_applies(int server_version_num);

/* vacuum_trigger: autovacuum's start point, threshold + scale_factor *
 * reltuples, a never-analyzed table (reltuples < 0) counting 0 tuples. */
double vacuum_trigger(int64_t threshold, double scale_factor, double reltuples);

/* vacuum_figures_of computes a table's figures. */
void vacuum_figures_of(const struct vacuum_table_fact *fact, struct vacuum_figures *out);

/*
 * analysis_vacuum writes the findings about facts[0..n) into out (at most
 * max_out), most urgent first (priority, then the dead tuples), and returns
 * how many there were in all (may exceed max_out).
 *
 * needs_vacuum: more dead tuples than vacuum_trigger, or (PG 13+, insert
 * threshold not -1) more inserts since the last vacuum than the insert
 * trigger; high when autovacuum will not come, medium when 20% or more of
 * the tuples are dead, else low. autovacuum_disabled: every table
 * autovacuum skips; high when it also needs a vacuum. bloat: a reliable
 * estimate of at least 20% and 1 MB wasted; high from 50% and 100 MB.
 * wraparound: age(relfrozenxid) beyond autovacuum_freeze_max_age
 * (medium), or within 500 million transactions of the limit (high).
 * Standbys get no findings.
 */
size_t analysis_vacuum(const struct vacuum_table_fact *facts, size_t n,
    struct vacuum_finding *out, size_t max_out);

#endif
