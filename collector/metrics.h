/*
 * metrics.h - the Prometheus text exposition of /metrics: which metric
 * families exist (one descriptor row each), a set of samples, and the
 * renderer. Pure: the store fills a set (store op `metrics`), the HTTP
 * server adds the collector's own figures and renders it.
 *
 * Names and labels follow postgres_exporter where it has the figure
 * (pg_stat_user_tables_n_dead_tup, pg_stat_statements_calls_total,
 * pg_replication_lag_seconds, ...), with the labels `instance` (the
 * agent's name) and `cluster` (system_identifier) in front; pgfleet's own
 * figures are pgfleet_*.
 */
#ifndef PGFLEET_COLLECTOR_METRICS_H
#define PGFLEET_COLLECTOR_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

#define METRICS_MAX_LABELS 8

/* One row per metric family, in the order they are written. */
enum metrics_family_id {
	METRICS_PG_UP,
	METRICS_INSTANCE_INFO,
	METRICS_LAST_REPORT,
	METRICS_STATEMENTS_CALLS,
	METRICS_STATEMENTS_SECONDS,
	METRICS_STATEMENTS_ROWS,
	METRICS_TABLES_LIVE,
	METRICS_TABLES_DEAD,
	METRICS_TABLES_SEQ_SCAN,
	METRICS_TABLES_SEQ_TUP_READ,
	METRICS_TABLES_IDX_SCAN,
	METRICS_TABLES_INS,
	METRICS_TABLES_UPD,
	METRICS_TABLES_DEL,
	METRICS_TABLES_SIZE,
	METRICS_INDEXES_IDX_SCAN,
	METRICS_INDEXES_SIZE,
	METRICS_IS_REPLICA,
	METRICS_REPLICATION_LAG_SECONDS,
	METRICS_REPLICATION_LAG_BYTES,
	METRICS_REPLICATION_PAUSED,
	METRICS_STAT_REPLICATION_LSN_DIFF,
	METRICS_STAT_REPLICATION_REPLAY_LAG,
	METRICS_SLOT_RETAINED_BYTES,
	METRICS_SLOT_ACTIVE,
	METRICS_ACTIVITY_COUNT,
	METRICS_MAX_CONNECTIONS,
	METRICS_POOL_BUSY,
	METRICS_POOL_IDLE,
	METRICS_POOL_WAITING,
	METRICS_PGBOUNCER_CLIENT_ACTIVE,
	METRICS_PGBOUNCER_CLIENT_WAITING,
	METRICS_PGBOUNCER_SERVER_ACTIVE,
	METRICS_PGBOUNCER_SERVER_IDLE,
	METRICS_PGBOUNCER_SERVER_USED,
	METRICS_PGBOUNCER_MAXWAIT,
	METRICS_PGBOUNCER_POOL_SIZE,
	METRICS_COLLECTOR_RECEIVED,
	METRICS_COLLECTOR_STORED,
	METRICS_COLLECTOR_DUPLICATES,
	METRICS_COLLECTOR_REJECTED,
	METRICS_COLLECTOR_RETRY,
	METRICS_COLLECTOR_UNAUTHORIZED,
	METRICS_COLLECTOR_RATE_LIMITED,
	METRICS_COLLECTOR_CONNECTIONS_REFUSED,
	METRICS_COLLECTOR_INGEST_SECONDS,
	METRICS_COLLECTOR_STORE_BYTES,
	METRICS_COLLECTOR_STORE_WAL_BYTES,
	METRICS_COLLECTOR_START_TIME,
	METRICS_FAMILY_COUNT
};

enum metrics_type {
	METRICS_GAUGE,
	METRICS_COUNTER,
	METRICS_HISTOGRAM,
};

struct metrics_family {
	const char *name;
	enum metrics_type type;
	const char *help;
	/* label names, NULL-terminated; a histogram's last one is "le" */
	const char *labels[METRICS_MAX_LABELS + 1];
};

extern const struct metrics_family metrics_families[METRICS_FAMILY_COUNT];

/* A histogram's samples are its buckets, its sum and its count. */
enum metrics_suffix {
	METRICS_SUFFIX_NONE,
	METRICS_SUFFIX_BUCKET,
	METRICS_SUFFIX_SUM,
	METRICS_SUFFIX_COUNT,
};

struct metrics_sample {
	enum metrics_family_id family;
	enum metrics_suffix suffix;
	/* malloc'd values of the family's labels, in its order; a NULL value
	 * leaves the label out */
	char *values[METRICS_MAX_LABELS];
	double value;
};

struct metrics_set {
	struct metrics_sample *samples;
	size_t count;
	size_t capacity;
};

/* metrics_set_init / metrics_set_fini: an empty set; fini frees every
 * sample and leaves the set empty. */
void metrics_set_init(struct metrics_set *set);
void metrics_set_fini(struct metrics_set *set);

/*
 * metrics_add appends a sample of family with the label values values[]
 * (as many as the family has labels, copied; a NULL entry leaves the label
 * out). PGF_OK or PGF_ENOMEM (the set is unchanged).
 */
int metrics_add(struct metrics_set *set, enum metrics_family_id family,
    const char *const *values, double value) PGF_MUST_CHECK;

/* metrics_add_histogram_part appends one of a histogram's samples: a
 * bucket (values' "le" entry set), its sum or its count. */
int metrics_add_histogram_part(struct metrics_set *set, enum metrics_family_id family,
    enum metrics_suffix suffix, const char *const *values, double value) PGF_MUST_CHECK;

/*
 * metrics_render writes set in the Prometheus text format (version 0.0.4)
 * to out: per family with samples, in the table's order, a # HELP and a
 * # TYPE line, then its samples in the order added. Label values are
 * escaped (backslash, double quote, newline); values are written exactly
 * (integers up to 2^53 without exponent; NaN, +Inf, -Inf by name). Returns
 * 0, or -1 on a write error.
 */
int metrics_render(const struct metrics_set *set, FILE *out);

/* metrics_format_value writes value as the format wants it into buf. */
const char *metrics_format_value(double value, char *buf, size_t size);

#endif
