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
	{NULL, 0, 0, NULL, 0, 0, NULL, false, NULL},
};
