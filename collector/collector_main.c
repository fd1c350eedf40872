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
 * thread only waits for SIGTERM/SIGINT; the workers see the stop flag
 * within one poll interval.
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
#include "collector/api.h"
#include "collector/collector_config.h"
#include "collector/http_server.h"
#include "collector/ingest_server.h"
#include "collector/store.h"
#include "collector/store_sqlite.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

/* Longest a shutdown may take before the process ends anyway. */
#define SHUTDOWN_LIMIT_S 20

/* How often a blocked receive wakes up to look at the stop flag. */
#define POLL_MS 200

static volatile sig_atomic_t stop_requested;

static void
on_stop_signal(int signo)
{
	(void) signo;
	stop_requested = 1;
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
};

/* Opens a REP socket listening on every address of a comma-separated
 * list. */
static int
listen_all(nng_socket *socket, const char *addresses, size_t max_bytes,
    const char *what, char *errbuf, size_t errlen)
{
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
	for (char *address = strtok_r(copy, ",", &saveptr); address != NULL;
	     address = strtok_r(NULL, ",", &saveptr)) {
		while (*address == ' ')
			address++;
		if (*address == '\0')
			continue;
		if ((rv = nng_listen(*socket, address, NULL, 0)) != 0) {
			snprintf(errbuf, errlen, "could not listen for %s on \"%s\": %s", what,
			    address, nng_strerror(rv));
			free(copy);
			return PGF_EIO;
		}
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
	struct store_retention retention = {
		.raw_us = collector->config.raw_retention * 1000,
		.hourly_us = collector->config.hourly_retention * 1000,
		.daily_us = collector->config.daily_retention * 1000,
	};
	char errbuf[512];
	bool more = false;

	if (pgf_monotonic_ms() < *next_ms)
		return;
	if (store_maintain(collector->writer, pgf_time_now_us(), &retention, &more, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		pgf_warning("%s", errbuf);
		more = false;
	}
	/* with work left, the next idle moment continues it */
	*next_ms = pgf_monotonic_ms() + (more ? 0 : collector->config.maintenance_interval);
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

	ingest_server_counters(collector->ingest, out);
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
		api_answer_bytes(collector->reader, nng_msg_body(msg), nng_msg_len(msg),
		    &response);
		nng_msg_free(msg);
		if ((rv = pgf_wire_send(collector->api_socket, &response.base)) != PGF_OK)
			pgf_warning("could not send a response: %s", pgf_error_text(rv));
		api_response_fini(&response);
	}
	return NULL;
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
	enum pgf_log_level level = PGF_LOG_INFO;
	int first_arg = argc;
	pthread_t api;
	bool api_started = false;
	struct ingest_counters counters;
	bool ingest_started;
	struct sigaction action;
	int status = 1;

	memset(&collector, 0, sizeof(collector));
	collector_stats_init(&collector.stats, pgf_time_now_us());
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("pgfleet-collector %s (sqlite %s, nng %s, protobuf-c %s)\n",
			    PGFLEET_VERSION, sqlite3_libversion(), nng_version(),
			    protobuf_c_version());
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
	signal(SIGPIPE, SIG_IGN);

	/* test only (rel_disk_full.sh): a full disk on demand */
	store_sqlite_set_max_pages(collector.config.store_max_pages);
	if (store_open(collector.config.store, false, &collector.writer, errbuf,
		sizeof(errbuf)) != PGF_OK ||
	    store_open(collector.config.store, true, &collector.reader, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
		goto done;
	}
	if (listen_all(&collector.ingest_socket, collector.config.listen,
		(size_t) collector.config.max_report_bytes, "agents", errbuf,
		sizeof(errbuf)) != PGF_OK ||
	    listen_all(&collector.api_socket, collector.config.api_listen,
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
	    action_broker_start(collector.config.action_listen, collector.config.action_timeout,
		&collector.actions, errbuf, sizeof(errbuf)) != PGF_OK)
		pgf_warning("%s: actions are off", errbuf);
	if (pthread_create(&api, NULL, api_thread, &collector) != 0)
		goto done;
	api_started = true;
	if (collector.config.http_listen[0] != '\0') {
		struct http_server_options http = {
			.listen = collector.config.http_listen,
			.token = collector.config.http_token,
			.max_body = (size_t) collector.config.http_max_body,
			.store = collector.config.store,
			.threads = (unsigned) collector.config.http_threads,
			.ingest_counters = read_ingest_counters,
			.ingest_counters_arg = &collector,
			.stats = &collector.stats,
		};
		if (http_server_start(&http, &collector.http, errbuf, sizeof(errbuf)) != PGF_OK) {
			fprintf(stderr, "pgfleet-collector: %s\n", errbuf);
			goto done;
		}
	}
	pgf_info("collector %s started: store \"%s\"", PGFLEET_VERSION, collector.config.store);
	while (!stop_requested)
		pgf_sleep_ms(POLL_MS);
	status = 0;
done:
	stop_requested = 1;
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
	if (ingest_started)
		pgf_info("collector stopping: %llu report(s) received, %llu stored, %llu duplicate(s), %llu rejected",
		    (unsigned long long) counters.received,
		    (unsigned long long) counters.stored,
		    (unsigned long long) counters.duplicates,
		    (unsigned long long) counters.rejected);
	store_close(collector.reader);
	store_close(collector.writer);
	pgf_cfg_free(collector_config_keys, &collector.config);
	return status;
}
