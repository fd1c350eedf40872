/*
 * collector_main.c - pgfleet-collector: the fleet's memory.
 *
 * Design note. Two workers, each owning what it touches:
 *   - ingest (ingest_server.c): one REP socket on `listen` with many
 *     contexts, one writer thread with the one writer store handle that
 *     stores what arrived in batches, then acks; maintenance when idle;
 *   - api: one REP socket on `api_listen`, a read-only store handle;
 *     receive -> api_answer_bytes -> Response.
 * SQLite in WAL mode lets the api thread read while ingest writes. The main
 * thread only waits for SIGTERM/SIGINT (the workers see the stop flag
 * within one poll interval) and applies SIGHUP reloads; it tells systemd
 * (service_notify.c) when it is ready, reloading or stopping.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <protobuf-c/protobuf-c.h>
#include <sqlite3.h>

#include "collector/action_broker.h"
#include "collector/admin_auth.h"
#include "collector/agent_gate.h"
#include "collector/conn_limit.h"
#include "collector/store_check.h"
#include "collector/api.h"
#include "collector/collector_config.h"
#include "collector/http_server.h"
#include "collector/ingest_server.h"
#include "collector/store.h"
#include "collector/store_sqlite.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/secret_file.h"
#include "common/service_notify.h"
#include "common/timeutil.h"
#include "common/tls_link.h"
#include "common/wire.h"

/* Longest a shutdown may take before the process ends anyway. */
#define SHUTDOWN_LIMIT_S 20

/* How often a blocked receive wakes up to look at the stop flag. */
#define POLL_MS 200

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void
on_stop_signal(int signo)
{
	(void) signo;
	stop_requested = 1;
}

static void
on_reload_signal(int signo)
{
	(void) signo;
	reload_requested = 1;
}

struct collector {
	struct collector_config config;
	nng_socket ingest_socket;
	nng_socket api_socket;
	struct store *writer;
	struct store *reader;
	struct ingest_server *ingest;
	int64_t next_maintenance_ms;
	/* HTTP API and /metrics (NULL when http_listen is empty) */
	struct http_server *http;
	struct collector_stats stats;
	/* agents' action polls (action_broker.c); NULL when action_listen is "" */
	struct action_broker *actions;
	/* guards the reloadable keys the ingest thread reads (retentions,
	 * maintenance_interval) and next_maintenance_ms while a SIGHUP
	 * reload swaps them */
	pthread_mutex_t config_lock;
	/* who may talk (agent_gate.h, conn_limit.h, admin_auth.h): agents'
	 * tokens and rates, the agents' connection cap, the admin token of
	 * the CLI and HTTP (NULL: none; fixed until restart) */
	struct agent_gate *gate;
	struct conn_limit *agent_connections;
	char *admin_token;
	/* TLS of the tls+tcp:// listeners (NULL: none configured); those
	 * listeners, whose refused handshakes the main loop reports */
	struct pgf_tls_link *tls;
	nng_listener tls_listeners[16];
	size_t tls_listener_count;
	uint64_t tls_failures_reported;
	int64_t tls_next_check_ms;
};

/* Logs the handshakes the tls+tcp:// listeners refused since the last
 * call (wrong CA, no or expired certificate, not TLS at all): nng makes no
 * pipe of them, so nothing else would say they happened. */
static void
report_tls_failures(struct collector *collector)
{
	uint64_t total = 0;

	/* nng's statistics are a snapshot of every socket and pipe: not at
	 * every poll */
	if (collector->tls_listener_count == 0 || pgf_monotonic_ms() < collector->tls_next_check_ms)
		return;
	collector->tls_next_check_ms = pgf_monotonic_ms() + 2000;
	for (size_t i = 0; i < collector->tls_listener_count; i++)
		total += pgf_tls_listener_failures(collector->tls_listeners[i]);
	if (total > collector->tls_failures_reported)
		pgf_warning("tls: refused %llu handshake(s) (untrusted, missing or expired certificate, or not TLS); tls_handshake_failures=%llu",
		    (unsigned long long) (total - collector->tls_failures_reported),
		    (unsigned long long) total);
	collector->tls_failures_reported = total;
}

/* Opens a REP socket listening on every address of a comma-separated
 * list. */
static int
listen_all(struct collector *collector, nng_socket *socket, const char *addresses,
    size_t max_bytes, const char *what, char *errbuf, size_t errlen)
{
	nng_listener listener;
	char reason[512];
	char *copy = strdup(addresses);
	char *saveptr = NULL;
	int rv;

	if (copy == NULL)
		return PGF_ENOMEM;
	if ((rv = nng_rep0_open(socket)) != 0) {
		snprintf(errbuf, errlen, "could not open the %s socket: %s", what, nng_strerror(rv));
		free(copy);
		return PGF_EIO;
	}
	/* the size limit is set before the socket listens: a hostile peer
	 * never gets a larger buffer */
	nng_socket_set_size(*socket, NNG_OPT_RECVMAXSZ, max_bytes);
	nng_socket_set_ms(*socket, NNG_OPT_RECVTIMEO, POLL_MS);
	nng_socket_set_ms(*socket, NNG_OPT_SENDTIMEO, 5000);
	/* the agents' connection cap counts from the first pipe: attached
	 * before the socket listens */
	if (socket == &collector->ingest_socket &&
	    conn_limit_attach(*socket, collector->config.max_agent_connections, "agent",
		&collector->agent_connections) != PGF_OK) {
		snprintf(errbuf, errlen, "could not cap the %s connections", what);
		free(copy);
		return PGF_EIO;
	}
	for (char *address = strtok_r(copy, ",", &saveptr); address != NULL;
	     address = strtok_r(NULL, ",", &saveptr)) {
		while (*address == ' ')
			address++;
		if (*address == '\0')
			continue;
		/* tls+tcp:// gets its certificates before it starts */
		if ((rv = pgf_tls_listen(*socket, address, collector->tls, &listener, reason,
			 sizeof(reason))) != 0) {
			snprintf(errbuf, errlen, "could not listen for %s on %s", what, reason);
			free(copy);
			return PGF_EIO;
		}
		if (pgf_tls_address_is_tls(address) && collector->tls_listener_count <
		    sizeof(collector->tls_listeners) / sizeof(collector->tls_listeners[0]))
			collector->tls_listeners[collector->tls_listener_count++] = listener;
		pgf_info("listening for %s on %s", what, address);
	}
	free(copy);
	return PGF_OK;
}

/* Runs rollups and retention in bounded steps while no report waits; a
 * step is short, so an agent's report waits at most one step. */
static void
maintain_store(struct collector *collector, int64_t *next_ms)
{
	struct store_retention retention;
	int64_t maintenance_interval;
	char errbuf[512];
	bool more = false;

	pthread_mutex_lock(&collector->config_lock);
	if (pgf_monotonic_ms() < *next_ms) {
		pthread_mutex_unlock(&collector->config_lock);
		return;
	}
	retention.raw_us = collector->config.raw_retention * 1000;
	retention.hourly_us = collector->config.hourly_retention * 1000;
	retention.daily_us = collector->config.daily_retention * 1000;
	maintenance_interval = collector->config.maintenance_interval;
	pthread_mutex_unlock(&collector->config_lock);
	if (store_maintain(collector->writer, pgf_time_now_us(), &retention, &more, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		pgf_warning("%s", errbuf);
		more = false;
	}
	/* with work left, the next idle moment continues it */
	pthread_mutex_lock(&collector->config_lock);
	*next_ms = pgf_monotonic_ms() + (more ? 0 : maintenance_interval);
	pthread_mutex_unlock(&collector->config_lock);
}

/* The ingest writer's idle hook. */
static void
maintain_when_idle(void *arg)
{
	struct collector *collector = arg;

	maintain_store(collector, &collector->next_maintenance_ms);
}

/* The ingest writer's hook after each stored batch: its latency. */
static void
observe_batch(void *arg, size_t reports, int64_t elapsed_us)
{
	collector_stats_observe(arg, reports, elapsed_us);
}

/* /metrics reads the ingest counters through this (any thread). */
static void
read_ingest_counters(void *arg, struct ingest_counters *out)
{
	struct collector *collector = arg;
	uint64_t open = 0;

	ingest_server_counters(collector->ingest, out);
	if (collector->gate != NULL)
		agent_gate_counters(collector->gate, &out->unauthorized, &out->rate_limited);
	conn_limit_read(collector->agent_connections, &open, &out->connections_refused);
}

static void *
api_thread(void *arg)
{
	struct collector *collector = arg;

	while (!stop_requested) {
		Pgfleet__V1__Response response = PGFLEET__V1__RESPONSE__INIT;
		nng_msg *msg = NULL;
		int rv = nng_recvmsg(collector->api_socket, &msg, 0);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0) {
			if (rv == NNG_ECLOSED)
				break;
			pgf_warning("could not receive a request: %s", nng_strerror(rv));
			continue;
		}
		/* with an admin token, a request without it is refused */
		admin_auth_answer_bytes(collector->reader, collector->admin_token,
		    nng_msg_body(msg), nng_msg_len(msg), &response);
		nng_msg_free(msg);
		if ((rv = pgf_wire_send(collector->api_socket, &response.base)) != PGF_OK)
			pgf_warning("could not send a response: %s", pgf_error_text(rv));
		api_response_fini(&response);
	}
	return NULL;
}

/* SIGHUP: reads the configuration again (file, environment, flags) and
 * applies the reloadable keys (log_level, the retentions,
 * maintenance_interval); the others keep their running value and are
 * named. A bad file keeps the running configuration. */
static void
collector_reload(struct collector *collector, int argc, char **argv)
{
	struct collector_config fresh;
	char errbuf[1024];
	char restart[512];
	enum pgf_log_level level = PGF_LOG_INFO;
	int first_arg = argc;
	int changed;

	pgf_service_notify_reloading();
	memset(&fresh, 0, sizeof(fresh));
	if (pgf_cfg_load(collector_config_keys, &fresh, argc, argv, &first_arg, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		pgf_warning("configuration not reloaded: %s", errbuf);
		pgf_cfg_free(collector_config_keys, &fresh);
		pgf_service_notify_ready();
		return;
	}
	pthread_mutex_lock(&collector->config_lock);
	changed = pgf_cfg_reload(collector_config_keys, &collector->config, &fresh, restart,
	    sizeof(restart));
	/* new retentions or cadence apply from the next idle moment */
	collector->next_maintenance_ms = 0;
	pthread_mutex_unlock(&collector->config_lock);
	pgf_cfg_free(collector_config_keys, &fresh);
	if (pgf_log_level_parse(collector->config.log_level, &level))
		pgf_log_set_level(level);
	pgf_info("configuration reloaded: %d key(s) changed%s%s", changed,
	    restart[0] != '\0' ? "; these need a restart: " : "", restart);
	pgf_service_notify_ready();
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "pgfleet-collector keeps the history of a fleet of PostgreSQL servers\n"
	    "and answers questions about it.\n\n"
	    "Usage: pgfleet-collector [--config FILE] [--KEY=VALUE ...]\n\n"
	    "Every key can also be set in FILE or as PGFLEET_KEY in the environment:\n");
	pgf_cfg_print_help(collector_config_keys, out);
	fprintf(out, "  --help         show this help\n  --version      show versions\n");
}

int
main(int argc, char **argv)
{
	struct collector collector;
	char errbuf[1024];
	char store_label[1024];
	enum pgf_log_level level = PGF_LOG_INFO;
	int first_arg = argc;
	pthread_t api;
	bool api_started = false;
	struct ingest_counters counters;
	bool ingest_started;
	struct sigaction action;
	int status = 1;

	memset(&collector, 0, sizeof(collector));
	pthread_mutex_init(&collector.config_lock, NULL);
	collector_stats_init(&collector.stats, pgf_time_now_us());
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("pgfleet-collector %s (sqlite %s, nng %s, protobuf-c %s, %s)\n",
			    PGFLEET_VERSION, sqlite3_libversion(), nng_version(),
			    protobuf_c_version(), pgf_service_notify_version());
			return 0;
		}
	}
	pgf_log_init("pgfleet-collector", PGF_LOG_INFO);
	if (pgf_cfg_load(collector_config_keys, &collector.config, argc, argv, &first_arg,
		errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
		pgf_cfg_free(collector_config_keys, &collector.config);
		return 2;
	}
	if (first_arg < argc) {
		fprintf(stderr, "pgfleet-collector: unexpected argument \"%s\"\n"
				"Try \"pgfleet-collector --help\".\n",
		    argv[first_arg]);
		pgf_cfg_free(collector_config_keys, &collector.config);
		return 2;
	}
	(void) pgf_log_level_parse(collector.config.log_level, &level);
	pgf_log_set_level(level);

	memset(&action, 0, sizeof(action));
	action.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	action.sa_handler = on_reload_signal;
	sigaction(SIGHUP, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* TLS first: a bad certificate or a key others can read stops the
	 * start before anything listens */
	{
		struct pgf_tls_options tls = {
			.server = true,
			.ca = collector.config.tls_client_ca,
			.cert = collector.config.tls_cert,
			.key = collector.config.tls_key,
			.ca_name = "tls_client_ca",
		};
		struct pgf_tls_options https = {
			.server = true,
			.ca = collector.config.http_tls_ca,
			.cert = collector.config.http_tls_cert,
			.key = collector.config.http_tls_key,
			.ca_name = "http_tls_ca",
			.cert_name = "http_tls_cert",
			.key_name = "http_tls_key",
		};
		struct pgf_tls_link *https_check = NULL;
		bool uses_tls = false;
		/* HTTPS files are read again by http_server_start: checked here
		 * so that they too stop the start before anything listens */
		if (pgf_tls_link_open(&https, &https_check, errbuf, sizeof(errbuf)) != PGF_OK) {
			fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
			status = 2;
			goto done;
		}
		pgf_tls_link_free(https_check);
		if (pgf_tls_link_open(&tls, &collector.tls, errbuf, sizeof(errbuf)) != PGF_OK ||
		    pgf_tls_check_addresses(collector.tls, collector.config.listen, "listen",
			&uses_tls, errbuf, sizeof(errbuf)) != PGF_OK ||
		    pgf_tls_check_addresses(collector.tls, collector.config.api_listen,
			"api_listen", &uses_tls, errbuf, sizeof(errbuf)) != PGF_OK ||
		    pgf_tls_check_addresses(collector.tls, collector.config.action_listen,
			"action_listen", &uses_tls, errbuf, sizeof(errbuf)) != PGF_OK) {
			fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
			status = 2;
			goto done;
		}
		if (collector.tls != NULL && !uses_tls) {
			fprintf(stderr, "pgfleet-collector: tls_cert is set but no listen, api_listen or action_listen address is tls+tcp://\n");
			status = 2;
			goto done;
		}
	}
	/* who may talk: an API or HTTP listener beyond loopback needs the
	 * admin token; tokens files others can read are refused */
	{
		char remote[512];
		const char *reason = NULL;

		if (collector.config.admin_token_file[0] != '\0' &&
		    pgf_secret_file_read(collector.config.admin_token_file, "admin token",
			&collector.admin_token, errbuf, sizeof(errbuf)) != PGF_OK) {
			fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
			goto done;
		}
		if (!admin_auth_nng_list_is_local(collector.config.api_listen, remote,
			sizeof(remote)))
			reason = "api_listen";
		else if (!admin_auth_http_is_local(collector.config.http_listen) &&
		    collector.config.http_token[0] == '\0') {
			reason = "http_listen";
			snprintf(remote, sizeof(remote), "%s", collector.config.http_listen);
		}
		if (reason != NULL && collector.admin_token == NULL) {
			fprintf(stderr,
			    "pgfleet-collector: %s \"%s\" is reachable beyond loopback and no admin_token_file is set: set one (or bind to 127.0.0.1)\n",
			    reason, remote);
			goto done;
		}
		struct agent_gate_options gate = {
			.tokens_file = collector.config.agent_tokens_file,
			.reports_per_second = collector.config.agent_max_reports_per_second,
			.burst = collector.config.agent_report_burst,
		};
		if (agent_gate_new(&gate, &collector.gate, errbuf, sizeof(errbuf)) != PGF_OK) {
			fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
			goto done;
		}
		action_broker_use_gate(collector.gate);
	}
	/* a damaged store is refused before anything writes to it */
	if (store_check_file(collector.config.store, collector.config.store_check_at_start,
		errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
		goto done;
	}
	/* test only (rel_disk_full.sh): a full disk on demand */
	store_sqlite_set_max_pages(collector.config.store_max_pages);
	if (store_open(collector.config.store, false, &collector.writer, errbuf,
		sizeof(errbuf)) != PGF_OK ||
	    store_open(collector.config.store, true, &collector.reader, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
		goto done;
	}
	if (listen_all(&collector, &collector.ingest_socket, collector.config.listen,
		(size_t) collector.config.max_report_bytes, "agents", errbuf,
		sizeof(errbuf)) != PGF_OK ||
	    listen_all(&collector, &collector.api_socket, collector.config.api_listen,
		API_MAX_REQUEST_BYTES, "clients", errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
		goto done;
	}
	{
		struct ingest_server_options options = {
			.writer = collector.writer,
			.max_report_bytes = (size_t) collector.config.max_report_bytes,
			.idle = maintain_when_idle,
			.idle_arg = &collector,
			.stored = observe_batch,
			.stored_arg = &collector.stats,
			.gate = collector.gate,
			.ack_delay_ms = collector.config.test_ack_delay,
		};
		if (ingest_server_start(collector.ingest_socket, &options, &collector.ingest,
			errbuf, sizeof(errbuf)) != PGF_OK) {
			fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
			goto done;
		}
	}
	/* before the API: its handlers find the broker (action_broker_current).
	 * Actions are an extra: without their listener the collector still
	 * keeps the fleet's history, and says why actions are off */
	if (collector.config.action_listen[0] != '\0' &&
	    action_broker_start(collector.config.action_listen, collector.tls,
		collector.config.action_timeout,
		&collector.actions, errbuf, sizeof(errbuf)) != PGF_OK)
		pgf_warning("%s: actions are off", errbuf);
	if (pthread_create(&api, NULL, api_thread, &collector) != 0)
		goto done;
	api_started = true;
	if (collector.config.http_listen[0] != '\0') {
		struct http_server_options http = {
			.listen = collector.config.http_listen,
			.token = collector.config.http_token,
			.admin_token = collector.admin_token,
			.max_body = (size_t) collector.config.http_max_body,
			.store = collector.config.store,
			.threads = (unsigned) collector.config.http_threads,
			.ingest_counters = read_ingest_counters,
			.ingest_counters_arg = &collector,
			.stats = &collector.stats,
			.tls_cert = collector.config.http_tls_cert,
			.tls_key = collector.config.http_tls_key,
			.tls_ca = collector.config.http_tls_ca,
		};
		if (http_server_start(&http, &collector.http, errbuf, sizeof(errbuf)) != PGF_OK) {
			fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
			goto done;
		}
	}
	pgf_info("collector %s started: store \"%s\"", PGFLEET_VERSION,
	    store_display_name(collector.config.store, store_label, sizeof(store_label)));
	pgf_service_notify_ready();
	while (!stop_requested) {
		if (reload_requested) {
			reload_requested = 0;
			collector_reload(&collector, argc, argv);
			/* the agents' tokens file is read again (a bad one
			 * keeps the running table) */
			if (collector.gate != NULL &&
			    agent_gate_reload(collector.gate, collector.config.agent_tokens_file,
				errbuf, sizeof(errbuf)) != PGF_OK)
				pgf_warning("agent tokens not reloaded: %s", errbuf);
		}
		pgf_sleep_ms(POLL_MS);
		report_tls_failures(&collector);
	}
	status = 0;
done:
	stop_requested = 1;
	pgf_service_notify_stopping();
	/* a bounded shutdown: nng 1.5's nng_close can deadlock on a REQ/REP
	 * socket closing under traffic (fixed upstream in 1.8); everything
	 * acknowledged is committed already, so a stuck close ends the
	 * process instead of hanging it */
	alarm(SHUTDOWN_LIMIT_S);
	/* HTTP first: /metrics reads the ingest server's counters */
	http_server_stop(collector.http);
	collector.http = NULL;
	ingest_started = collector.ingest != NULL;
	if (ingest_started)
		ingest_server_counters(collector.ingest, &counters);
	ingest_server_stop(collector.ingest);
	collector.ingest = NULL;
	if (api_started)
		pthread_join(api, NULL);
	nng_close(collector.ingest_socket);
	nng_close(collector.api_socket);
	/* after the API and HTTP threads: none of them waits on it any more */
	action_broker_stop(collector.actions);
	/* after every socket closed: nng calls the pipe hooks while closing */
	conn_limit_free(collector.agent_connections);
	action_broker_use_gate(NULL);
	agent_gate_free(collector.gate);
	if (collector.admin_token != NULL) {
		memset(collector.admin_token, 0, strlen(collector.admin_token));
		free(collector.admin_token);
	}
	pgf_tls_link_free(collector.tls);
	if (ingest_started)
		pgf_info("collector stopping: %llu report(s) received, %llu stored, %llu duplicate(s), %llu rejected",
		    (unsigned long long) counters.received,
		    (unsigned long long) counters.stored,
		    (unsigned long long) counters.duplicates,
		    (unsigned long long) counters.rejected);
	store_close(collector.reader);
	store_close(collector.writer);
	pgf_cfg_free(collector_config_keys, &collector.config);
	pthread_mutex_destroy(&collector.config_lock);
	/* every socket is closed: free what nng still holds (messages queued
	 * on closed pipes showed as LeakSanitizer reports from nng's threads) */
	nng_fini();
	return status;
}
