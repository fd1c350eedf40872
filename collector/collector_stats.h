/*
 * collector_stats.h - how long the collector takes to ingest a report, as a
 * Prometheus histogram shared between the ingest writer (the only writer)
 * and the HTTP threads that serve /metrics (readers).
 *
 * The report counters themselves live with the ingest server
 * (ingest_server_counters); this module adds what it does not keep. Every
 * field is a C11 atomic, so neither side takes a lock; a reader's snapshot
 * is made consistent (cumulative buckets never above the count, never
 * decreasing) when read.
 */
#ifndef PGFLEET_COLLECTOR_COLLECTOR_STATS_H
#define PGFLEET_COLLECTOR_COLLECTOR_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* Upper bounds (seconds) of the latency histogram's buckets; the last
 * bucket, +Inf, is the count. */
#define COLLECTOR_STATS_BUCKETS 12
extern const double collector_stats_bucket_bounds[COLLECTOR_STATS_BUCKETS];

struct collector_stats {
	/* cumulative counts per bucket (le bounds above), every
	 * observation, and their sum in microseconds */
	_Atomic uint64_t latency_buckets[COLLECTOR_STATS_BUCKETS];
	_Atomic uint64_t latency_count;
	_Atomic uint64_t latency_sum_us;
	_Atomic int64_t started_us;
};

/* A plain copy of the figures, for rendering. */
struct collector_stats_snapshot {
	uint64_t latency_buckets[COLLECTOR_STATS_BUCKETS];
	uint64_t latency_count;
	uint64_t latency_sum_us;
	int64_t started_us;
};

/* collector_stats_init zeroes stats and records the start time. */
void collector_stats_init(struct collector_stats *stats, int64_t started_us);

/* collector_stats_observe adds reports observations of latency_us each
 * (the reports of one stored batch all waited for it). Never blocks. */
void collector_stats_observe(struct collector_stats *stats, uint64_t reports,
    int64_t latency_us);

/* collector_stats_read copies the figures into out. Any thread. */
void collector_stats_read(struct collector_stats *stats,
    struct collector_stats_snapshot *out);

#endif
