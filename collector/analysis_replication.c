/*
 * analysis_replication.c - replication health (see analysis_replication.h).
 *
 * Bytes lead, seconds follow: the age of the last replayed transaction
 * grows on an idle primary too (nothing to replay), so seconds alone never
 * call a standby lagging; they do when WAL is waiting to be replayed.
 */
#include "collector/analysis_replication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/size_pretty.h"

#define LAG_BYTES_MEDIUM   (INT64_C(16) << 20)
#define LAG_SECONDS_MEDIUM 60.0
#define TREND_MIN_BYTES    (INT64_C(64) << 10)
#define SLOT_MEDIUM_BYTES  (INT64_C(64) << 20)
#define SLOT_HIGH_BYTES    (INT64_C(1) << 30)

const char *
replication_priority_name(enum replication_priority priority)
{
	switch (priority) {
	case REPLICATION_PRIORITY_HIGH:
		return "high";
	case REPLICATION_PRIORITY_MEDIUM:
		return "medium";
	case REPLICATION_PRIORITY_LOW:
		return "low";
	default:
		return "";
	}
}

void
replication_trend_of(
    const struct replication_lag_point *points, size_t n, struct replication_trend *out)
{
	int64_t first_ts = 0, last_ts = 0;
	double mean_t = 0, mean_y = 0, sxx = 0, sxy = 0;
	double change, bound;

	memset(out, 0, sizeof(*out));
	out->points = (int) n;
	out->trend = "unknown";
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || points[i].ts_us < first_ts) {
			first_ts = points[i].ts_us;
			out->first_lag_bytes = points[i].lag_bytes;
		}
		if (i == 0 || points[i].ts_us > last_ts)
			last_ts = points[i].ts_us;
		if (i == 0 || points[i].lag_bytes > out->max_lag_bytes)
			out->max_lag_bytes = points[i].lag_bytes;
	}
	if (n < 2 || last_ts == first_ts)
		return;
	/* time in minutes from the first point, so the sums stay small */
	for (size_t i = 0; i < n; i++) {
		mean_t += (double) (points[i].ts_us - first_ts) / 60e6;
		mean_y += (double) points[i].lag_bytes;
	}
	mean_t /= (double) n;
	mean_y /= (double) n;
	for (size_t i = 0; i < n; i++) {
		double t = (double) (points[i].ts_us - first_ts) / 60e6 - mean_t;
		sxx += t * t;
		sxy += t * ((double) points[i].lag_bytes - mean_y);
	}
	out->bytes_per_minute = sxx > 0 ? sxy / sxx : 0.0;
	change = out->bytes_per_minute * (double) (last_ts - first_ts) / 60e6;
	bound = (double) out->max_lag_bytes / 10.0;
	if (bound < (double) TREND_MIN_BYTES)
		bound = (double) TREND_MIN_BYTES;
	if (change >= bound)
		out->trend = "growing";
	else if (-change >= bound)
		out->trend = "shrinking";
	else
		out->trend = "steady";
}

static void
judge_replica(const struct replica_fact *r, struct replication_finding *f)
{
	char lag[32], first[32];
	const char *listed = r->listed == REPLICATION_LISTED_YES ? "listed"
	    : r->listed == REPLICATION_LISTED_NO                 ? "NOT listed"
						 : "not known to be listed";
	bool streaming = strcmp(r->receiver_status, "streaming") == 0;
	bool growing;
	int used;

	f->replica = r;
	replication_trend_of(r->points, r->n_points, &f->trend);
	growing = strcmp(f->trend.trend, "growing") == 0;
	pgf_size_pretty(r->lag_bytes, lag, sizeof(lag));
	pgf_size_pretty(f->trend.first_lag_bytes, first, sizeof(first));
	if (!streaming || r->listed == REPLICATION_LISTED_NO) {
		f->status = "not_streaming";
		f->priority = REPLICATION_PRIORITY_HIGH;
		snprintf(f->recommendation, sizeof(f->recommendation),
		    "on %s: check the server log and primary_conninfo, and that the "
		    "upstream %s"
		    " still has the WAL it needs (a slot keeps it); rebuild the standby "
		    "with"
		    " pg_basebackup if it does not",
		    r->instance, r->upstream[0] != '\0' ? r->upstream : "(unknown)");
	} else if (r->replay_paused) {
		f->status = "replay_paused";
		f->priority = REPLICATION_PRIORITY_HIGH;
		snprintf(f->recommendation, sizeof(f->recommendation),
		    "on %s, unless paused on purpose: SELECT pg_wal_replay_resume();",
		    r->instance);
	} else if (r->lag_bytes >= LAG_BYTES_MEDIUM
	    || (growing && r->lag_bytes >= TREND_MIN_BYTES)
	    || (r->lag_bytes > 0 && r->lag_seconds >= LAG_SECONDS_MEDIUM)) {
		f->status = "lagging";
		f->priority = REPLICATION_PRIORITY_MEDIUM;
		snprintf(f->recommendation, sizeof(f->recommendation),
		    "on %s: look for long queries delaying replay "
		    "(max_standby_streaming_delay,"
		    " hot_standby_feedback), I/O saturation, or a network limit; route "
		    "reads"
		    " elsewhere until it catches up",
		    r->instance);
	} else {
		f->status = "ok";
		f->priority = REPLICATION_PRIORITY_NONE;
		f->recommendation[0] = '\0';
	}
	used = snprintf(f->evidence, sizeof(f->evidence),
	    "walreceiver %s, %s by upstream %s; replay %s; lag %s, %.1f s; over the "
	    "window"
	    " %s (from %s, %.0f bytes/min, %d samples)",
	    r->receiver_status[0] != '\0' ? r->receiver_status : "absent", listed,
	    r->upstream[0] != '\0' ? r->upstream : "(unknown)",
	    r->replay_paused ? "PAUSED" : "running", lag, r->lag_seconds, f->trend.trend,
	    first, f->trend.bytes_per_minute, f->trend.points);
	if (r->stale && used > 0 && (size_t) used < sizeof(f->evidence))
		snprintf(f->evidence + used, sizeof(f->evidence) - (size_t) used,
		    "; its agent stopped reporting, these figures are old");
}

static void
judge_slot(const struct slot_fact *s, struct replication_finding *f)
{
	char retained[32];

	f->slot = s;
	f->trend.trend = "unknown";
	pgf_size_pretty(s->retained_bytes, retained, sizeof(retained));
	if (strcmp(s->wal_status, "lost") == 0) {
		f->status = "slot_wal_lost";
		f->priority = REPLICATION_PRIORITY_HIGH;
		snprintf(f->recommendation, sizeof(f->recommendation),
		    "on %s: SELECT pg_drop_replication_slot('%s'); -- its consumer "
		    "cannot resume"
		    " from it (rebuild the standby or resync the subscriber)",
		    s->instance, s->slot_name);
	} else {
		f->status = "inactive_slot";
		if (s->retained_bytes >= SLOT_HIGH_BYTES
		    || strcmp(s->wal_status, "unreserved") == 0)
			f->priority = REPLICATION_PRIORITY_HIGH;
		else if (s->retained_bytes >= SLOT_MEDIUM_BYTES)
			f->priority = REPLICATION_PRIORITY_MEDIUM;
		else
			f->priority = REPLICATION_PRIORITY_LOW;
		snprintf(f->recommendation, sizeof(f->recommendation),
		    "on %s, if nothing will consume it again: SELECT "
		    "pg_drop_replication_slot('%s');"
		    " otherwise bound it with max_slot_wal_keep_size",
		    s->instance, s->slot_name);
	}
	snprintf(f->evidence, sizeof(f->evidence),
	    "%s slot %s is %s and retains %s of WAL (wal_status %s); the WAL stays on the"
	    " server's disk until the slot advances or is dropped",
	    s->slot_type[0] != '\0' ? s->slot_type : "replication", s->slot_name,
	    s->active ? "active" : "inactive", retained,
	    s->wal_status[0] != '\0' ? s->wal_status : "unknown");
}

static int
compare_findings(const void *a_, const void *b_)
{
	const struct replication_finding *a = a_;
	const struct replication_finding *b = b_;
	const char *an = a->replica != NULL ? a->replica->instance : a->slot->instance;
	const char *bn = b->replica != NULL ? b->replica->instance : b->slot->instance;
	int c;

	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if ((a->replica != NULL) != (b->replica != NULL))
		return a->replica != NULL ? -1 : 1;
	if ((c = strcmp(an, bn)) != 0)
		return c;
	if (a->slot != NULL && b->slot != NULL)
		return strcmp(a->slot->slot_name, b->slot->slot_name);
	return 0;
}

size_t
analysis_replication(const struct replica_fact *replicas, size_t n_replicas,
    const struct slot_fact *slots, size_t n_slots, struct replication_finding *out,
    size_t max_out)
{
	struct replication_finding *all;
	size_t count = 0;

	if (n_replicas + n_slots == 0)
		return 0;
	all = calloc(n_replicas + n_slots, sizeof(*all));
	if (all == NULL)
		return 0;
	for (size_t i = 0; i < n_replicas; i++)
		judge_replica(&replicas[i], &all[count++]);
	for (size_t i = 0; i < n_slots; i++) {
		if ((slots[i].active || slots[i].temporary)
		    && strcmp(slots[i].wal_status, "lost") != 0)
			continue;
		judge_slot(&slots[i], &all[count++]);
	}
	qsort(all, count, sizeof(*all), compare_findings);
	if (max_out > 0 && count > 0)
		memcpy(out, all, (count < max_out ? count : max_out) * sizeof(*all));
	free(all);
	return count;
}
