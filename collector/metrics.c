/*
 * metrics.c - Prometheus text exposition (see metrics.h).
 *
 * A set is a flat list of samples; families are written in the table's
 * order however the samples were added, because the format wants every
 * sample of a family together under its HELP and TYPE lines.
 */
#include "collector/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSTANCE "instance", "cluster"

const struct metrics_family metrics_families[METRICS_FAMILY_COUNT] = {
	[METRICS_PG_UP] = {"pg_up", METRICS_GAUGE,
	    "Whether the agent reached PostgreSQL at its latest report (1) or reported it unreachable (0).",
	    {INSTANCE, NULL}},
	[METRICS_INSTANCE_INFO] = {"pgfleet_instance_info", METRICS_GAUGE,
	    "Always 1: an instance's role, version and status (ok, stale, down) as labels.",
	    {INSTANCE, "role", "server_version", "status", NULL}},
	[METRICS_LAST_REPORT] = {"pgfleet_instance_last_report_timestamp_seconds", METRICS_GAUGE,
	    "When the collector last received a report about the instance, Unix time.",
	    {INSTANCE, NULL}},
	[METRICS_STATEMENTS_CALLS] = {"pg_stat_statements_calls_total", METRICS_COUNTER,
	    "Calls of a statement over the stored history (top statements by total time).",
	    {INSTANCE, "datname", "queryid", NULL}},
	[METRICS_STATEMENTS_SECONDS] = {"pg_stat_statements_seconds_total", METRICS_COUNTER,
	    "Execution time of a statement over the stored history, seconds (top statements by total time).",
	    {INSTANCE, "datname", "queryid", NULL}},
	[METRICS_STATEMENTS_ROWS] = {"pg_stat_statements_rows_total", METRICS_COUNTER,
	    "Rows retrieved or affected by a statement over the stored history (top statements by total time).",
	    {INSTANCE, "datname", "queryid", NULL}},
	[METRICS_TABLES_LIVE] = {"pg_stat_user_tables_n_live_tup", METRICS_GAUGE,
	    "Estimated number of live rows, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_TABLES_DEAD] = {"pg_stat_user_tables_n_dead_tup", METRICS_GAUGE,
	    "Estimated number of dead rows, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_TABLES_SEQ_SCAN] = {"pg_stat_user_tables_seq_scan", METRICS_GAUGE,
	    "Sequential scans since the server's statistics reset, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_TABLES_SEQ_TUP_READ] = {"pg_stat_user_tables_seq_tup_read", METRICS_GAUGE,
	    "Rows read by sequential scans since the statistics reset, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_TABLES_IDX_SCAN] = {"pg_stat_user_tables_idx_scan", METRICS_GAUGE,
	    "Index scans on the table since the statistics reset, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_TABLES_INS] = {"pg_stat_user_tables_n_tup_ins", METRICS_GAUGE,
	    "Rows inserted since the statistics reset, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_TABLES_UPD] = {"pg_stat_user_tables_n_tup_upd", METRICS_GAUGE,
	    "Rows updated since the statistics reset, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_TABLES_DEL] = {"pg_stat_user_tables_n_tup_del", METRICS_GAUGE,
	    "Rows deleted since the statistics reset, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_TABLES_SIZE] = {"pg_stat_user_tables_size_bytes", METRICS_GAUGE,
	    "Total size of the table with its indexes and TOAST, bytes, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", NULL}},
	[METRICS_INDEXES_IDX_SCAN] = {"pg_stat_user_indexes_idx_scan", METRICS_GAUGE,
	    "Scans of the index since the statistics reset, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", "indexrelname", NULL}},
	[METRICS_INDEXES_SIZE] = {"pg_stat_user_indexes_size_bytes", METRICS_GAUGE,
	    "Size of the index, bytes, latest snapshot.",
	    {INSTANCE, "datname", "schemaname", "relname", "indexrelname", NULL}},
	[METRICS_IS_REPLICA] = {"pg_replication_is_replica", METRICS_GAUGE,
	    "Whether the instance is a standby (1) or not (0).", {INSTANCE, NULL}},
	[METRICS_REPLICATION_LAG_SECONDS] = {"pg_replication_lag_seconds", METRICS_GAUGE,
	    "A standby's replay delay: age of the last replayed transaction, seconds.",
	    {INSTANCE, NULL}},
	[METRICS_REPLICATION_LAG_BYTES] = {"pg_replication_lag_bytes", METRICS_GAUGE,
	    "A standby's WAL received but not yet replayed, bytes.", {INSTANCE, NULL}},
	[METRICS_REPLICATION_PAUSED] = {"pgfleet_replication_replay_paused", METRICS_GAUGE,
	    "Whether replay is paused on the standby (1) or not (0).", {INSTANCE, NULL}},
	[METRICS_STAT_REPLICATION_LSN_DIFF] = {"pg_stat_replication_pg_wal_lsn_diff",
	    METRICS_GAUGE, "A primary's view of a standby: WAL sent but not replayed, bytes.",
	    {INSTANCE, "application_name", "client_addr", "pid", NULL}},
	[METRICS_STAT_REPLICATION_REPLAY_LAG] = {"pg_stat_replication_replay_lag_seconds",
	    METRICS_GAUGE, "A primary's view of a standby: replay_lag, seconds.",
	    {INSTANCE, "application_name", "client_addr", "pid", NULL}},
	[METRICS_SLOT_RETAINED_BYTES] = {"pg_replication_slots_pg_wal_lsn_diff", METRICS_GAUGE,
	    "WAL a replication slot retains, bytes.", {INSTANCE, "slot_name", NULL}},
	[METRICS_SLOT_ACTIVE] = {"pg_replication_slots_active", METRICS_GAUGE,
	    "Whether the replication slot is in use (1) or not (0).",
	    {INSTANCE, "slot_name", NULL}},
	[METRICS_ACTIVITY_COUNT] = {"pg_stat_activity_connections", METRICS_GAUGE,
	    "Backends by database, state, user and application, latest snapshot (postgres_exporter: pg_stat_activity_count; a _count suffix is for histograms).",
	    {INSTANCE, "datname", "state", "usename", "application_name", NULL}},
	[METRICS_MAX_CONNECTIONS] = {"pg_settings_max_connections", METRICS_GAUGE,
	    "The server's max_connections.", {INSTANCE, NULL}},
	[METRICS_POOL_BUSY] = {"pgfleet_pool_busy_connections", METRICS_GAUGE,
	    "An application's connections to a database that are active or idle in a transaction, latest sample.",
	    {INSTANCE, "application_name", "datname", NULL}},
	[METRICS_POOL_IDLE] = {"pgfleet_pool_idle_connections", METRICS_GAUGE,
	    "An application's idle connections to a database, latest sample.",
	    {INSTANCE, "application_name", "datname", NULL}},
	[METRICS_POOL_WAITING] = {"pgfleet_pool_waiting_connections", METRICS_GAUGE,
	    "An application's connections to a database that wait (locks, I/O), latest sample.",
	    {INSTANCE, "application_name", "datname", NULL}},
	[METRICS_PGBOUNCER_CLIENT_ACTIVE] = {"pgbouncer_pools_client_active_connections",
	    METRICS_GAUGE, "pgbouncer SHOW POOLS cl_active, latest sample.",
	    {INSTANCE, "database", "user", NULL}},
	[METRICS_PGBOUNCER_CLIENT_WAITING] = {"pgbouncer_pools_client_waiting_connections",
	    METRICS_GAUGE, "pgbouncer SHOW POOLS cl_waiting, latest sample.",
	    {INSTANCE, "database", "user", NULL}},
	[METRICS_PGBOUNCER_SERVER_ACTIVE] = {"pgbouncer_pools_server_active_connections",
	    METRICS_GAUGE, "pgbouncer SHOW POOLS sv_active, latest sample.",
	    {INSTANCE, "database", "user", NULL}},
	[METRICS_PGBOUNCER_SERVER_IDLE] = {"pgbouncer_pools_server_idle_connections",
	    METRICS_GAUGE, "pgbouncer SHOW POOLS sv_idle, latest sample.",
	    {INSTANCE, "database", "user", NULL}},
	[METRICS_PGBOUNCER_SERVER_USED] = {"pgbouncer_pools_server_used_connections",
	    METRICS_GAUGE, "pgbouncer SHOW POOLS sv_used, latest sample.",
	    {INSTANCE, "database", "user", NULL}},
	[METRICS_PGBOUNCER_MAXWAIT] = {"pgbouncer_pools_client_maxwait_seconds", METRICS_GAUGE,
	    "pgbouncer SHOW POOLS maxwait: the oldest waiting client's wait, seconds.",
	    {INSTANCE, "database", "user", NULL}},
	[METRICS_PGBOUNCER_POOL_SIZE] = {"pgbouncer_pools_pool_size", METRICS_GAUGE,
	    "pgbouncer's default_pool_size for the pool, latest sample.",
	    {INSTANCE, "database", "user", NULL}},
	[METRICS_COLLECTOR_RECEIVED] = {"pgfleet_reports_received_total", METRICS_COUNTER,
	    "Reports received from agents since the collector started.", {NULL}},
	[METRICS_COLLECTOR_STORED] = {"pgfleet_reports_stored_total", METRICS_COUNTER,
	    "Reports stored for the first time since the collector started.", {NULL}},
	[METRICS_COLLECTOR_DUPLICATES] = {"pgfleet_reports_duplicate_total", METRICS_COUNTER,
	    "Reports acknowledged as already stored (resends) since the collector started.",
	    {NULL}},
	[METRICS_COLLECTOR_REJECTED] = {"pgfleet_reports_rejected_total", METRICS_COUNTER,
	    "Reports rejected as undecodable or invalid since the collector started.", {NULL}},
	[METRICS_COLLECTOR_RETRY] = {"pgfleet_reports_retry_total", METRICS_COUNTER,
	    "Reports not stored (store full or failing) and asked again later.", {NULL}},
	[METRICS_COLLECTOR_UNAUTHORIZED] = {"pgfleet_agent_unauthorized_total", METRICS_COUNTER,
	    "Agent reports and action polls refused for a missing or wrong token (agent_tokens_file).",
	    {NULL}},
	[METRICS_COLLECTOR_RATE_LIMITED] = {"pgfleet_reports_rate_limited_total", METRICS_COUNTER,
	    "Reports asked again later because their agent went over agent_max_reports_per_second.",
	    {NULL}},
	[METRICS_COLLECTOR_CONNECTIONS_REFUSED] = {"pgfleet_agent_connections_refused_total",
	    METRICS_COUNTER, "Agent connections closed because max_agent_connections were open.",
	    {NULL}},
	[METRICS_COLLECTOR_INGEST_SECONDS] = {"pgfleet_ingest_duration_seconds",
	    METRICS_HISTOGRAM, "Time to decode, validate and store one report, seconds.",
	    {"le", NULL}},
	[METRICS_COLLECTOR_STORE_BYTES] = {"pgfleet_store_size_bytes", METRICS_GAUGE,
	    "Size of the store's SQLite file, bytes.", {NULL}},
	[METRICS_COLLECTOR_STORE_WAL_BYTES] = {"pgfleet_store_wal_size_bytes", METRICS_GAUGE,
	    "Size of the store's write-ahead log file, bytes.", {NULL}},
	[METRICS_COLLECTOR_START_TIME] = {"pgfleet_collector_start_time_seconds", METRICS_GAUGE,
	    "When the collector started, Unix time.", {NULL}},
};

void
metrics_set_init(struct metrics_set *set)
{
	set->samples = NULL;
	set->count = 0;
	set->capacity = 0;
}

void
metrics_set_fini(struct metrics_set *set)
{
	for (size_t i = 0; i < set->count; i++) {
		for (int j = 0; j < METRICS_MAX_LABELS; j++)
			free(set->samples[i].values[j]);
	}
	free(set->samples);
	metrics_set_init(set);
}

static int
label_count(enum metrics_family_id family)
{
	int n = 0;
	while (n < METRICS_MAX_LABELS && metrics_families[family].labels[n] != NULL)
		n++;
	return n;
}

int
metrics_add_histogram_part(struct metrics_set *set, enum metrics_family_id family,
    enum metrics_suffix suffix, const char *const *values, double value)
{
	struct metrics_sample *sample;
	int labels = label_count(family);

	if (set->count == set->capacity) {
		size_t capacity = set->capacity == 0 ? 64 : set->capacity * 2;
		struct metrics_sample *grown = realloc(set->samples, capacity * sizeof(*grown));
		if (grown == NULL)
			return PGF_ENOMEM;
		set->samples = grown;
		set->capacity = capacity;
	}
	sample = &set->samples[set->count];
	memset(sample, 0, sizeof(*sample));
	sample->family = family;
	sample->suffix = suffix;
	sample->value = value;
	for (int i = 0; i < labels; i++) {
		if (values == NULL || values[i] == NULL)
			continue;
		if ((sample->values[i] = strdup(values[i])) == NULL) {
			for (int j = 0; j < i; j++)
				free(sample->values[j]);
			return PGF_ENOMEM;
		}
	}
	set->count++;
	return PGF_OK;
}

int
metrics_add(struct metrics_set *set, enum metrics_family_id family, const char *const *values,
    double value)
{
	return metrics_add_histogram_part(set, family, METRICS_SUFFIX_NONE, values, value);
}

const char *
metrics_format_value(double value, char *buf, size_t size)
{
	if (isnan(value))
		snprintf(buf, size, "NaN");
	else if (isinf(value))
		snprintf(buf, size, "%s", value > 0 ? "+Inf" : "-Inf");
	else if (value == floor(value) && fabs(value) < 9007199254740992.0)
		/* counts print as integers, never as 1.2e+06 */
		snprintf(buf, size, "%.0f", value);
	else
		snprintf(buf, size, "%.17g", value);
	return buf;
}

/* Writes a label value with \, " and newline escaped, as the format says. */
static void
write_escaped(const char *value, FILE *out)
{
	for (const char *c = value; *c != '\0'; c++) {
		if (*c == '\\')
			fputs("\\\\", out);
		else if (*c == '"')
			fputs("\\\"", out);
		else if (*c == '\n')
			fputs("\\n", out);
		else
			fputc(*c, out);
	}
}

static const char *const type_names[] = {"gauge", "counter", "histogram"};
static const char *const suffix_names[] = {"", "_bucket", "_sum", "_count"};

int
metrics_render(const struct metrics_set *set, FILE *out)
{
	char number[64];

	for (int f = 0; f < METRICS_FAMILY_COUNT; f++) {
		const struct metrics_family *family = &metrics_families[f];
		bool header = false;

		for (size_t i = 0; i < set->count; i++) {
			const struct metrics_sample *sample = &set->samples[i];
			bool first = true;

			if ((int) sample->family != f)
				continue;
			if (!header) {
				fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", family->name, family->help,
				    family->name, type_names[family->type]);
				header = true;
			}
			fprintf(out, "%s%s", family->name, suffix_names[sample->suffix]);
			for (int l = 0; l < METRICS_MAX_LABELS && family->labels[l] != NULL; l++) {
				if (sample->values[l] == NULL)
					continue;
				fprintf(out, "%s%s=\"", first ? "{" : ",", family->labels[l]);
				write_escaped(sample->values[l], out);
				fputc('"', out);
				first = false;
			}
			fprintf(out, "%s %s\n", first ? "" : "}",
			    metrics_format_value(sample->value, number, sizeof(number)));
		}
	}
	return ferror(out) ? -1 : 0;
}
