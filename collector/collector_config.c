/*
 * collector_config.c - the collector's key table (deploy/collector.conf
 * documents the same keys).
 */
#include "collector/collector_config.h"

#include <stddef.h>

static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};
static const char *const store_checks[] = {"full", "quick", "off", NULL};

#define KEY(field) offsetof(struct collector_config, field)

const struct pgf_cfg_key collector_config_keys[] = {
	{"listen", PGF_CFG_STRING, KEY(listen), "tcp://127.0.0.1:7450", 0, 0, NULL, false,
	    "nng address(es) agents dial, comma-separated (use tcp://0.0.0.0:7450 for remote agents)"},
	{"api_listen", PGF_CFG_STRING, KEY(api_listen),
	    "ipc:///tmp/pgfleet-collector.sock,tcp://127.0.0.1:7451", 0, 0, NULL, false,
	    "nng address(es) for the pgfleet CLI, comma-separated"},
	{"store", PGF_CFG_STRING, KEY(store), "/var/lib/pgfleet/pgfleet.db", 0, 0, NULL,
	    false,
	    "SQLite file that keeps the fleet's history, or a postgresql:// (postgres://) "
	    "libpq URI of a PostgreSQL store"},
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
	{"test_ack_delay", PGF_CFG_DURATION, KEY(test_ack_delay), "0", 0, 60000, NULL, false,
	    "test only: hold every ack this long after its report is stored, to play a slow collector"},
	{"agent_tokens_file", PGF_CFG_STRING, KEY(agent_tokens_file), "", 0, 0, NULL, false,
	    "file of \"INSTANCE_NAME TOKEN\" lines: reports and action polls must carry their instance's token (SIGHUP re-reads it)"},
	{"admin_token_file", PGF_CFG_STRING, KEY(admin_token_file), "", 0, 0, NULL, false,
	    "file holding the token the CLI (--token-file) and HTTP (bearer) must send; required when api_listen or http_listen is beyond loopback"},
	{"agent_max_reports_per_second", PGF_CFG_INT, KEY(agent_max_reports_per_second), "50", 0,
	    1000000, NULL, false,
	    "reports a second one agent may send on average (more: RETRY_AFTER \"rate limited\"; 0: no limit)"},
	{"agent_report_burst", PGF_CFG_INT, KEY(agent_report_burst), "200", 1, 1000000, NULL,
	    false, "reports one agent may send at once above its rate"},
	{"max_agent_connections", PGF_CFG_INT, KEY(max_agent_connections), "2048", 1, 1000000,
	    NULL, false, "most agent connections open at once on listen (more are closed)"},
	{"store_check_at_start", PGF_CFG_STRING, KEY(store_check_at_start), "full", 0, 0,
	    store_checks, false,
	    "check the store file before opening it: full (integrity_check), quick (quick_check) or off"},
	{"tls_cert", PGF_CFG_STRING, KEY(tls_cert), "", 0, 0, NULL, false,
	    "PEM certificate of the tls+tcp:// listeners (agents, CLI, actions)"},
	{"tls_key", PGF_CFG_STRING, KEY(tls_key), "", 0, 0, NULL, false,
	    "PEM private key of tls_cert (refused when others can read it)"},
	{"tls_client_ca", PGF_CFG_STRING, KEY(tls_client_ca), "", 0, 0, NULL, false,
	    "CA file: tls+tcp:// clients must present a certificate signed by it (mutual TLS)"},
	{"http_tls_cert", PGF_CFG_STRING, KEY(http_tls_cert), "", 0, 0, NULL, false,
	    "PEM certificate: set, HTTP is served as HTTPS"},
	{"http_tls_key", PGF_CFG_STRING, KEY(http_tls_key), "", 0, 0, NULL, false,
	    "PEM private key of http_tls_cert (refused when others can read it)"},
	{"http_tls_ca", PGF_CFG_STRING, KEY(http_tls_ca), "", 0, 0, NULL, false,
	    "CA file: HTTPS clients must present a certificate signed by it"},
	{NULL, 0, 0, NULL, 0, 0, NULL, false, NULL},
};
