/*
 * collector_config.h - the collector's settings: one struct, one key table.
 */
#ifndef PGFLEET_COLLECTOR_COLLECTOR_CONFIG_H
#define PGFLEET_COLLECTOR_COLLECTOR_CONFIG_H

#include <stdint.h>

#include "common/cfg.h"

struct collector_config {
	/* nng address(es) agents dial, comma-separated. */
	char *listen;
	/* nng address(es) the CLI uses, comma-separated. */
	char *api_listen;
	/* SQLite file of the history store. */
	char *store;
	char *log_level;
	/* Largest report accepted, bytes (NNG_OPT_RECVMAXSZ). */
	long long max_report_bytes;
	/* How long raw, hourly and daily statement history is kept, ms. */
	int64_t raw_retention;
	int64_t hourly_retention;
	int64_t daily_retention;
	/* How often rollups and retention run between reports, ms. */
	int64_t maintenance_interval;
	/* HTTP API and /metrics (http_server.c): "HOST:PORT" ("" = off), an
	 * optional bearer token, the largest request body, bytes, and how many
	 * threads serve it. */
	char *http_listen;
	char *http_token;
	long long http_max_body;
	long long http_threads;
	/* nng address(es) agents dial for actions (action_broker.c), and how
	 * long an action waits for the agent's answer, ms. */
	char *action_listen;
	int64_t action_timeout;
	/* Test only: PRAGMA max_page_count of the writer (0 = SQLite's
	 * default), to play a full disk (tests/e2e/rel_disk_full.sh). */
	long long store_max_pages;
	/* Test only: how long every ack waits after its batch is stored, ms
	 * (0 = none), to play a slow handler (tests/e2e/rel_resend.sh, T4). */
	int64_t test_ack_delay;
	/* Who may talk to the collector (agent_gate.h, admin_auth.h): the
	 * agents' tokens file ("INSTANCE TOKEN" lines; "" = tokens not
	 * checked), the admin token file of the CLI and HTTP ("" = none: then
	 * api_listen and http_listen must stay on loopback), each agent's
	 * report rate and burst (0 = no limit), the most agent connections at
	 * once, and the store check at start (full, quick, off). */
	char *agent_tokens_file;
	char *admin_token_file;
	long long agent_max_reports_per_second;
	long long agent_report_burst;
	long long max_agent_connections;
	char *store_check_at_start;
	/* TLS of the nng links (tls_link.h): this collector's certificate and
	 * key, and the CA agents' and CLIs' certificates must be signed by
	 * ("" = no client certificate asked: TLS without mutual auth); HTTPS
	 * (http_server.c) with its own three. */
	char *tls_cert;
	char *tls_key;
	char *tls_client_ca;
	char *http_tls_cert;
	char *http_tls_key;
	char *http_tls_ca;
};

extern const struct pgf_cfg_key collector_config_keys[];

#endif
