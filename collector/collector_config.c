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
	{NULL, 0, 0, NULL, 0, 0, NULL, false, NULL},
};
