/*
 * analysis_replication.h - replication health: per standby its lag now and
 * over the window, replay paused, streaming stopped (by its own
 * walreceiver or by its upstream no longer listing it); per slot, an
 * inactive slot and the WAL it keeps.
 *
 * Pure: facts in (the latest replication state the agents reported and
 * the stored lag history), findings out; no I/O.
 */
#ifndef PGFLEET_COLLECTOR_ANALYSIS_REPLICATION_H
#define PGFLEET_COLLECTOR_ANALYSIS_REPLICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One stored lag sample of a standby. */
struct replication_lag_point {
	int64_t ts_us;
	int64_t lag_bytes;
};

/* The lag over a window. */
struct replication_trend {
	int64_t first_lag_bytes;
	int64_t max_lag_bytes;
	/* least-squares slope, bytes per minute */
	double bytes_per_minute;
	/* "growing", "shrinking", "steady", "unknown" (fewer than 2 points) */
	const char *trend;
	int points;
};

enum replication_listed {
	REPLICATION_LISTED_UNKNOWN = -1,
	REPLICATION_LISTED_NO = 0,
	REPLICATION_LISTED_YES = 1,
};

/* One standby as its agent last reported it. Strings are borrowed. */
struct replica_fact {
	const char *instance;
	const char *cluster;
	/* the upstream's instance name, or host:port when not watched */
	const char *upstream;
	/* pg_stat_wal_receiver.status ("" when there is no walreceiver) */
	const char *receiver_status;
	bool replay_paused;
	/* WAL received (or sent, by the upstream's walsender) not replayed */
	int64_t lag_bytes;
	/* age of the last replayed transaction, seconds */
	double lag_seconds;
	const char *slot_name;
	/* whether the upstream lists a walsender for it */
	enum replication_listed listed;
	/* the agent stopped reporting (its state is old) */
	bool stale;
	const struct replication_lag_point *points;
	size_t n_points;
	int64_t collected_at_us;
};

struct slot_fact {
	const char *instance;
	const char *cluster;
	const char *slot_name;
	const char *slot_type;
	bool active;
	bool temporary;
	int64_t retained_bytes;
	/* reserved, extended, unreserved, lost ("" before PG 13) */
	const char *wal_status;
	int64_t collected_at_us;
};

enum replication_priority {
	REPLICATION_PRIORITY_NONE,
	REPLICATION_PRIORITY_LOW,
	REPLICATION_PRIORITY_MEDIUM,
	REPLICATION_PRIORITY_HIGH,
};

struct replication_finding {
	/* exactly one is set */
	const struct replica_fact *replica;
	const struct slot_fact *slot;
	/* "ok", "lagging", "replay_paused", "not_streaming",
	 * "inactive_slot", "slot_wal_lost" */
	const char *status;
	enum replication_priority priority;
	struct replication_trend trend;
	char recommendation[512];
	char evidence[768];
};

/* "", "low", "medium", "high". */
const char *replication_priority_name(enum replication_priority priority);

/* replication_trend_of reads points[0..n) (any order). "growing" when the
 * slope over the span adds at least max(64 kB, 10% of the largest lag),
 * "shrinking" the same downwards, else "steady". */
void replication_trend_of(
    const struct replication_lag_point *points, size_t n, struct replication_trend *out);

/*
 * analysis_replication writes one finding per standby (status "ok" when
 * healthy) and one per slot that is inactive (not temporary) or has lost
 * WAL, into out (at most max_out), most urgent first, and returns how many
 * there were in all.
 *
 * A standby is not_streaming (high) when its walreceiver is not streaming
 * or its upstream lists no walsender for it; replay_paused (high) when
 * replay is paused; lagging (medium) when its lag is 16 MB or more, or
 * grew over the window and is still 64 kB or more, or 60 s or more
 * behind while WAL waits. A stale
 * standby's figures are old: it is judged, and the evidence says so.
 * An inactive slot is medium from 64 MB retained, high from 1 GB or when
 * its WAL is unreserved; a slot whose WAL is lost is high.
 */
size_t analysis_replication(const struct replica_fact *replicas, size_t n_replicas,
    const struct slot_fact *slots, size_t n_slots, struct replication_finding *out,
    size_t max_out);

#endif
