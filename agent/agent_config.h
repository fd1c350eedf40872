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
	/* nng address of the collector, e.g. tcp://127.0.0.1:7450, or a
	 * comma-separated list (collector_list.h): the agent sends to one at a
	 * time, moves on after collector_failover_after (ms) of failure and
	 * tries the first again every collector_return_after (ms, 0 = never) */
	char *collector;
	int64_t collector_failover_after;
	int64_t collector_return_after;
	/* Cadence of the statements family, ms. */
	int64_t interval;
	/* Where the agent keeps its id, last counters and unacknowledged
	 * reports. */
	char *state_dir;
	/* File holding this agent's token (agent_gate.h on the collector):
	 * sent with every report and action poll; "" = none. */
	char *token_file;
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
	/* The outbox (outbox.c): spool directory for unacknowledged reports
	 * ("" = memory only) and its bounds: reports (0 = max_pending_reports),
	 * bytes and age (ms, 0 = none); the oldest is dropped first. */
	char *spool_dir;
	long long spool_max_reports;
	long long spool_max_bytes;
	int64_t spool_max_age;
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
	/* Actions (action_channel.c): the collector's action address ("" =
	 * the collector's host, port 7453; "off" = no actions), what this
	 * server's owner allows, and the statement_timeout of an action. */
	char *action_collector;
	bool allow_explain;
	bool allow_explain_analyze;
	bool allow_cancel;
	bool allow_terminate;
	int64_t action_statement_timeout;
	/* TLS of tls+tcp:// collector addresses (common/tls_link.h): the CA
	 * that signed the collector's certificate, this agent's certificate
	 * and key (when the collector asks for one: mutual TLS), and the name
	 * the collector's certificate must carry ("" = the host dialed). */
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	char *tls_server_name;
};

/* The key table for pgf_cfg_load / pgf_cfg_free. */
extern const struct pgf_cfg_key agent_config_keys[];

#endif
