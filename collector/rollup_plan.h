/*
 * rollup_plan.h - what one maintenance step of the statement history does,
 * as plain arithmetic both store backends follow (store_sqlite_rollup.c,
 * store_pg_rollup.c), so they keep the same rows: the range of a rollup
 * level a step covers, the retention cutoffs, the day of snapshots a step
 * thins, and the history tables retention prunes. No I/O.
 */
#ifndef PGFLEET_COLLECTOR_ROLLUP_PLAN_H
#define PGFLEET_COLLECTOR_ROLLUP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"

#define ROLLUP_HOUR_US (3600LL * 1000000)
#define ROLLUP_DAY_US (24 * ROLLUP_HOUR_US)
/* Raw time one step rolls up at most: the ingest thread that runs it
 * between reports never stalls for long. */
#define ROLLUP_STEP_US ROLLUP_DAY_US

/*
 * rollup_plan_range: the buckets [*from, *to) of width_us a level rolls up
 * in one step, given its watermark until (0: never ran, then oldest is
 * the oldest source time, read by the caller only in that case; -1 when
 * there is no source row) and limit_us (only whole buckets before it).
 * false when there is nothing to roll up; *more is set when a step
 * leaves work behind.
 */
bool rollup_plan_range(int64_t until, int64_t oldest, int64_t width_us, int64_t limit_us,
    int64_t *from, int64_t *to, bool *more);

/* Times before which each level may be deleted: only what a coarser
 * level already holds (the watermarks), and what retention lets go. */
struct rollup_cutoffs {
	int64_t raw;	   /* statement_stats */
	int64_t hourly;	   /* statement_stats_hourly, statement_fleet_hourly */
	int64_t daily;	   /* statement_stats_daily, statement_fleet_daily */
	int64_t snapshots; /* every other history: deleted past the hourly retention */
	int64_t thin;	   /* snapshot histories: one snapshot a day before this */
};
void rollup_plan_cutoffs(int64_t now_us, const struct store_retention *retention,
    int64_t hourly_until, int64_t daily_until, struct rollup_cutoffs *out);

/*
 * rollup_plan_thin: the day [*from, *from + ROLLUP_DAY_US) a step thins,
 * given the thinned watermark (0: never ran, then oldest is the oldest
 * snapshot, -1 for none) and the cutoff. false when there is none; *more
 * is set when more days wait.
 */
bool rollup_plan_thin(int64_t thinned, int64_t oldest, int64_t before_us, int64_t *from,
    bool *more);

/* The snapshot histories (thinned, then pruned) and the other histories
 * (pruned) retention covers, with their counts. */
extern const char *const rollup_snapshot_histories[];
extern const size_t rollup_snapshot_history_count;
extern const char *const rollup_other_histories[];
extern const size_t rollup_other_history_count;

#endif
