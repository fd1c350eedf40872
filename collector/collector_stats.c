/*
 * collector_stats.c - the ingest latency histogram (see collector_stats.h).
 */
#include "collector/collector_stats.h"

#include <string.h>

const double collector_stats_bucket_bounds[COLLECTOR_STATS_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
};

void
collector_stats_init(struct collector_stats *stats, int64_t started_us)
{
	for (int i = 0; i < COLLECTOR_STATS_BUCKETS; i++)
		atomic_store(&stats->latency_buckets[i], 0);
	atomic_store(&stats->latency_count, 0);
	atomic_store(&stats->latency_sum_us, 0);
	atomic_store(&stats->started_us, started_us);
}

void
collector_stats_observe(struct collector_stats *stats, uint64_t reports, int64_t latency_us)
{
	uint64_t us = latency_us > 0 ? (uint64_t) latency_us : 0;
	double seconds = (double) us / 1e6;

	if (reports == 0)
		return;
	/* cumulative buckets, as Prometheus wants them: every bucket whose
	 * bound is at least the observation */
	for (int i = 0; i < COLLECTOR_STATS_BUCKETS; i++) {
		if (seconds <= collector_stats_bucket_bounds[i])
			atomic_fetch_add(&stats->latency_buckets[i], reports);
	}
	atomic_fetch_add(&stats->latency_sum_us, us * reports);
	/* the count last: a reader clamps buckets read before it */
	atomic_fetch_add(&stats->latency_count, reports);
}

void
collector_stats_read(struct collector_stats *stats, struct collector_stats_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	out->latency_count = atomic_load(&stats->latency_count);
	for (int i = 0; i < COLLECTOR_STATS_BUCKETS; i++) {
		out->latency_buckets[i] = atomic_load(&stats->latency_buckets[i]);
		/* an observation counted in a bucket but not yet in the count */
		if (out->latency_buckets[i] > out->latency_count)
			out->latency_buckets[i] = out->latency_count;
		/* and never fewer than the bucket below, read a moment before */
		if (i > 0 && out->latency_buckets[i] < out->latency_buckets[i - 1])
			out->latency_buckets[i] = out->latency_buckets[i - 1];
	}
	out->latency_sum_us = atomic_load(&stats->latency_sum_us);
	out->started_us = atomic_load(&stats->started_us);
}
