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
};

extern const struct pgf_cfg_key collector_config_keys[];

#endif
