/*
 * agent_config.c - the agent's key table: every setting, its default, its
 * bounds and one line of help (deploy/agent.conf documents the same keys).
 */
#include "agent/agent_config.h"

#include <stddef.h>

static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};

#define KEY(field) offsetof(struct agent_config, field)

const struct pgf_cfg_key agent_config_keys[] = {
	{"name", PGF_CFG_STRING, KEY(name), "", 0, 0, NULL, false,
	    "instance name in the fleet (default: host:port of the server)"},
	{"conninfo", PGF_CFG_STRING, KEY(conninfo), "", 0, 0, NULL, false,
	    "libpq connection string of the watched server (PG* variables apply)"},
	{"collector", PGF_CFG_STRING, KEY(collector), "tcp://127.0.0.1:7450", 0, 0,
	    NULL, false, "nng address of the collector to dial"},
	{"interval", PGF_CFG_DURATION, KEY(interval), "60s", 1000, 86400000, NULL,
	    true, "how often statements are collected and a report is sent"},
	{"state_dir", PGF_CFG_STRING, KEY(state_dir), "/var/lib/pgfleet-agent", 0, 0,
	    NULL, false, "directory for the agent id, last counters and unsent reports"},
	{"log_level", PGF_CFG_STRING, KEY(log_level), "info", 0, 0, log_levels, true,
	    "debug, info, warning or error"},
	{"statement_timeout", PGF_CFG_DURATION, KEY(statement_timeout), "5s", 100,
	    600000, NULL, false, "statement_timeout of the agent's own queries"},
	{"lock_timeout", PGF_CFG_DURATION, KEY(lock_timeout), "1s", 10, 60000, NULL,
	    false, "lock_timeout of the agent's own queries"},
	{"connect_timeout", PGF_CFG_DURATION, KEY(connect_timeout), "5s", 1000,
	    300000, NULL, false, "give up connecting to Postgres after this long"},
	{"ack_timeout", PGF_CFG_DURATION, KEY(ack_timeout), "10s", 100, 600000, NULL,
	    true, "wait this long for the collector to acknowledge a report"},
	{"max_query_text", PGF_CFG_INT, KEY(max_query_text), "8192", 64, 1048576,
	    NULL, true, "longest query text sent, in bytes (longer ones are cut)"},
	{"max_pending_reports", PGF_CFG_INT, KEY(max_pending_reports), "1000", 1,
	    1000000, NULL, true, "unacknowledged reports kept; the oldest is dropped first"},
	{"databases", PGF_CFG_STRING, KEY(databases), "", 0, 0, NULL, false,
	    "databases to read, comma-separated (default: every connectable one)"},
	{"exclude_databases", PGF_CFG_STRING, KEY(exclude_databases), "", 0, 0, NULL,
	    false, "databases never to read, comma-separated"},
	{"idle_connection_timeout", PGF_CFG_DURATION, KEY(idle_connection_timeout),
	    "10m", 0, 86400000, NULL, false,
	    "close a per-database connection unused for this long"},
	{"tables_interval", PGF_CFG_DURATION, KEY(tables_interval), "0", 0, 86400000,
	    NULL, false, "cadence of the tables family (0: 5 x interval)"},
	{"indexes_interval", PGF_CFG_DURATION, KEY(indexes_interval), "0", 0, 86400000,
	    NULL, false, "cadence of the indexes family (0: 5 x interval)"},
	{"bloat_interval", PGF_CFG_DURATION, KEY(bloat_interval), "0", 0, 86400000,
	    NULL, false, "cadence of the bloat estimate (0: 15 x interval)"},
	{"activity_interval", PGF_CFG_DURATION, KEY(activity_interval), "0", 0,
	    86400000, NULL, false, "cadence of the activity family (0: interval / 6)"},
	{"replication_interval", PGF_CFG_DURATION, KEY(replication_interval), "0", 0,
	    86400000, NULL, false, "cadence of the replication family (0: interval / 6)"},
	{"settings_interval", PGF_CFG_DURATION, KEY(settings_interval), "0", 0,
	    86400000, NULL, false,
	    "how often settings are checked; sent when changed (0: 60 x interval)"},
	{"pool_interval", PGF_CFG_DURATION, KEY(pool_interval), "0", 0, 86400000, NULL,
	    false, "cadence of the pgbouncer family (0: interval / 6)"},
	{"long_query_threshold", PGF_CFG_DURATION, KEY(long_query_threshold), "30s", 0,
	    86400000, NULL, false, "an active query running longer is reported as long-running"},
	{"pgbouncer_conninfo", PGF_CFG_STRING, KEY(pgbouncer_conninfo), "", 0, 0, NULL,
	    false, "libpq conninfo of pgbouncer's admin console (dbname=pgbouncer); empty: off"},
	{"once", PGF_CFG_BOOL, KEY(once), "off", 0, 0, NULL, false,
	    "collect every family once, print the report as JSON on stdout and exit"},
	{NULL, 0, 0, NULL, 0, 0, NULL, false, NULL},
};
