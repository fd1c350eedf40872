/*
 * ingest_server.h - the collector's agent listener: many reports in
 * flight, one writer that stores them in batches.
 *
 * Each of INGEST_SERVER_CONTEXTS nng REP contexts receives one report at a
 * time and hands it to a queue; the writer thread takes whatever is
 * queued (up to INGEST_SERVER_MAX_BATCH reports), stores it in one store
 * batch (one transaction, one fsync), and only then sends the acks. A
 * busy collector therefore pays one commit for many reports, and an idle
 * one still answers each report at once. Between batches, and whenever
 * nothing waits, the writer calls an idle hook (the store's maintenance).
 */
#ifndef PGFLEET_COLLECTOR_INGEST_SERVER_H
#define PGFLEET_COLLECTOR_INGEST_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "collector/ingest.h"
#include "collector/store.h"
#include "common/error.h"

/* Reports received at once (one per agent waiting for its ack). */
#define INGEST_SERVER_CONTEXTS 64
/* Reports stored in one transaction at most. */
#define INGEST_SERVER_MAX_BATCH 64

struct ingest_server;

struct ingest_server_options {
	/* the writer store handle: used by the writer thread only */
	struct store *writer;
	size_t max_report_bytes;
	/* called by the writer thread after each batch and every 200 ms of
	 * quiet; may take a little while (it delays the next batch) */
	void (*idle)(void *arg);
	void *idle_arg;
	/* called by the writer thread after each batch with its number of
	 * reports and how long storing it took, µs (the /metrics ingest
	 * latency); may be NULL */
	void (*stored)(void *arg, size_t reports, int64_t elapsed_us);
	void *stored_arg;
	/* agents' tokens and rates (agent_gate.h), checked on every report
	 * before it is stored; NULL = none */
	struct agent_gate *gate;
	/* test only: the acks of a batch wait this long after it is stored,
	 * ms (collector key test_ack_delay; 0 = none) */
	int64_t ack_delay_ms;
};

/*
 * ingest_server_start starts receiving on socket (a REP socket already
 * listening; the server only uses contexts on it) and the writer thread.
 * PGF_OK with *out, or an error with a one-line reason.
 */
int ingest_server_start(nng_socket socket, const struct ingest_server_options *options,
    struct ingest_server **out, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/*
 * ingest_server_stop stores and acknowledges what was already queued,
 * stops receiving and frees the server (NULL is a no-op). Reports received
 * but not stored are not acknowledged: their agents send them again.
 * Close the socket after this.
 */
void ingest_server_stop(struct ingest_server *server);

/* ingest_server_counters copies the running counters (any thread). */
void ingest_server_counters(struct ingest_server *server, struct ingest_counters *out);

#endif
