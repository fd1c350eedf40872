/*
 * agent_config.h - the agent's settings: one struct, one key table.
 */
#ifndef PGFLEET_AGENT_AGENT_CONFIG_H
#define PGFLEET_AGENT_AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cfg.h"

struct agent_config {
	/* Instance name; "" means host:port as libpq reports them. */
	char *name;
	/* libpq conninfo, passed untouched (service=, .pgpass and PG* work). */
	char *conninfo;
	/* nng address of the collector, e.g. tcp://127.0.0.1:7450 */
	char *collector;
	/* Cadence of the statements family, ms. */
	int64_t interval;
	/* Where the agent keeps its id, last counters and unacknowledged
	 * reports. */
	char *state_dir;
	char *log_level;
	/* Safety options appended to every connection. */
	int64_t statement_timeout;
	int64_t lock_timeout;
	int64_t connect_timeout;
	/* How long to wait for the collector's Ack. */
	int64_t ack_timeout;
	/* Longest query text sent, bytes. */
	long long max_query_text;
	/* Most unacknowledged reports kept; the oldest is dropped first. */
	long long max_pending_reports;
	/* Databases to read (comma-separated; "" = all connectable ones)
	 * and databases never to read. */
	char *databases;
	char *exclude_databases;
	/* A per-database connection unused this long is closed, ms. */
	int64_t idle_connection_timeout;
	/* Cadence of each family, ms; 0 = its default ratio to interval. */
	int64_t tables_interval;
	int64_t indexes_interval;
	int64_t bloat_interval;
	int64_t activity_interval;
	int64_t replication_interval;
	int64_t settings_interval;
	int64_t pool_interval;
	/* An active query older than this is "long-running", ms. */
	int64_t long_query_threshold;
	/* pgbouncer admin console conninfo; "" = no pool family. */
	char *pgbouncer_conninfo;
	/* Collect every family once, print the report as JSON, exit. */
	bool once;
};

/* The key table for pgf_cfg_load / pgf_cfg_free. */
extern const struct pgf_cfg_key agent_config_keys[];

#endif
