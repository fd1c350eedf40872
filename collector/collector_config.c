/*
 * collector_config.c - the collector's key table (deploy/collector.conf
 * documents the same keys).
 */
#include "collector/collector_config.h"

#include <stddef.h>

static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};

#define KEY(field) offsetof(struct collector_config, field)

const struct pgf_cfg_key collector_config_keys[] = {
	{"listen", PGF_CFG_STRING, KEY(listen), "tcp://127.0.0.1:7450", 0, 0, NULL, false,
	    "nng address(es) agents dial, comma-separated (use tcp://0.0.0.0:7450 for remote agents)"},
	{"api_listen", PGF_CFG_STRING, KEY(api_listen),
	    "ipc:///tmp/pgfleet-collector.sock,tcp://127.0.0.1:7451", 0, 0, NULL, false,
	    "nng address(es) for the pgfleet CLI, comma-separated"},
	{"store", PGF_CFG_STRING, KEY(store), "/var/lib/pgfleet/pgfleet.db", 0, 0, NULL,
	    false, "SQLite file that keeps the fleet's history"},
	{"log_level", PGF_CFG_STRING, KEY(log_level), "info", 0, 0, log_levels, true,
	    "debug, info, warning or error"},
	{"max_report_bytes", PGF_CFG_INT, KEY(max_report_bytes), "16777216", 65536,
	    268435456, NULL, false, "largest report accepted from an agent, in bytes"},
	{"raw_retention", PGF_CFG_DURATION, KEY(raw_retention), "7d", 3600000,
	    31536000000LL, NULL, true, "keep per-interval statement rows this long"},
	{"hourly_retention", PGF_CFG_DURATION, KEY(hourly_retention), "90d", 86400000,
	    315360000000LL, NULL, true, "keep hourly statement sums this long"},
	{"daily_retention", PGF_CFG_DURATION, KEY(daily_retention), "365d", 86400000,
	    3153600000000LL, NULL, true, "keep daily statement sums this long"},
	{"maintenance_interval", PGF_CFG_DURATION, KEY(maintenance_interval), "60s", 1000,
	    86400000, NULL, true, "how often rollups and retention run between reports"},
	{"http_listen", PGF_CFG_STRING, KEY(http_listen), "127.0.0.1:7452", 0, 0, NULL, false,
	    "HOST:PORT of the HTTP API and /metrics; empty turns HTTP off"},
	{"http_token", PGF_CFG_STRING, KEY(http_token), "", 0, 0, NULL, false,
	    "bearer token every HTTP request but /healthz must carry; empty: none"},
	{"http_max_body", PGF_CFG_INT, KEY(http_max_body), "65536", 1024, 16777216, NULL, false,
	    "largest HTTP request body accepted, in bytes (larger: 413)"},
	{"http_threads", PGF_CFG_INT, KEY(http_threads), "2", 1, 64, NULL, false,
	    "threads serving HTTP, each with its own read-only store handle"},
	{"action_listen", PGF_CFG_STRING, KEY(action_listen), "tcp://127.0.0.1:7453", 0, 0,
	    NULL, false, "nng address(es) agents dial for actions (EXPLAIN, cancel, terminate)"},
	{"action_timeout", PGF_CFG_DURATION, KEY(action_timeout), "15s", 500, 120000, NULL,
	    false, "how long an action waits for the agent's answer"},
	{"store_max_pages", PGF_CFG_INT, KEY(store_max_pages), "0", 0, 2147483647, NULL, false,
	    "test only: cap the store file at this many pages (0: no cap), to play a full disk"},
	{NULL, 0, 0, NULL, 0, 0, NULL, false, NULL},
};
