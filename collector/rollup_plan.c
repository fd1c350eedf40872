/*
 * rollup_plan.c - one maintenance step's arithmetic, shared by the store
 * backends (see rollup_plan.h). The rules, from store_sqlite_rollup.c:
 * raw rows roll up to hourly buckets, hourly to daily, a day of source
 * time a step; a level is deleted only below the watermark of the level
 * that holds it; snapshot histories keep the last snapshot of each day
 * past the raw retention.
 */
#include "collector/rollup_plan.h"

const char *const rollup_snapshot_histories[] = {"table_stats", "index_stats",
    "bloat_estimates"};
const size_t rollup_snapshot_history_count =
    sizeof(rollup_snapshot_histories) / sizeof(rollup_snapshot_histories[0]);
const char *const rollup_other_histories[] = {"activity_history", "replica_lag_history",
    "standby_lag_history", "pool_app_samples", "pooler_samples"};
const size_t rollup_other_history_count =
    sizeof(rollup_other_histories) / sizeof(rollup_other_histories[0]);

bool
rollup_plan_range(int64_t until, int64_t oldest, int64_t width_us, int64_t limit_us,
    int64_t *from, int64_t *to, bool *more)
{
	if (until == 0) {
		if (oldest < 0)
			return false; /* nothing stored yet */
		until = oldest - oldest % width_us;
	}
	limit_us -= limit_us % width_us;
	if (until >= limit_us)
		return false;
	*from = until;
	*to = until + ROLLUP_STEP_US < limit_us ? until + ROLLUP_STEP_US : limit_us;
	*to -= *to % width_us;
	if (*to <= until)
		*to = until + width_us;
	*more = *more || *to < limit_us;
	return true;
}

static int64_t
earlier(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

void
rollup_plan_cutoffs(int64_t now_us, const struct store_retention *retention,
    int64_t hourly_until, int64_t daily_until, struct rollup_cutoffs *out)
{
	out->raw = earlier(now_us - retention->raw_us, hourly_until);
	out->hourly = earlier(now_us - retention->hourly_us, daily_until);
	out->daily = now_us - retention->daily_us;
	out->snapshots = now_us - retention->hourly_us;
	out->thin = now_us - retention->raw_us;
}

bool
rollup_plan_thin(int64_t thinned, int64_t oldest, int64_t before_us, int64_t *from,
    bool *more)
{
	if (thinned == 0) {
		if (oldest < 0)
			return false;
		thinned = oldest - oldest % ROLLUP_DAY_US;
	}
	if (thinned + ROLLUP_DAY_US > before_us)
		return false;
	*from = thinned;
	*more = *more || thinned + 2 * ROLLUP_DAY_US <= before_us;
	return true;
}
