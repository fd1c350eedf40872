/*
 * ingest_server.c - reports in over nng contexts, stored in batches (see
 * ingest_server.h).
 *
 * A slot is one context with its aio, cycling receive -> queued -> (the
 * writer stores the batch) -> send the ack -> receive. The aio callbacks
 * run on nng's threads and only move messages and slots; everything that
 * touches the store runs on the writer thread.
 */
#include "collector/ingest_server.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

/* How long the writer waits for a report before calling the idle hook. */
#define IDLE_MS 200

enum slot_state {
	SLOT_RECEIVING,
	SLOT_QUEUED,
	SLOT_SENDING,
};

struct slot {
	struct ingest_server *server;
	nng_ctx ctx;
	nng_aio *aio;
	enum slot_state state;
	nng_msg *report;	/* received, not yet stored */
	Pgfleet__V1__Ack ack;
	struct slot *next;	/* in the queue */
};

struct ingest_server {
	struct ingest_server_options options;
	pthread_t writer;
	bool writer_started;
	pthread_mutex_t lock;
	pthread_cond_t queued;
	/* under lock */
	struct slot *head, *tail;
	bool stopping;
	struct ingest_counters counters;
	struct slot slots[INGEST_SERVER_CONTEXTS];
	size_t n_slots;
};

static void
arm_receive(struct slot *slot)
{
	slot->state = SLOT_RECEIVING;
	nng_ctx_recv(slot->ctx, slot->aio);
}

static bool
server_stopping(struct ingest_server *server)
{
	bool stopping;

	pthread_mutex_lock(&server->lock);
	stopping = server->stopping;
	pthread_mutex_unlock(&server->lock);
	return stopping;
}

/* nng's thread: a receive or a send of this slot finished. */
static void
slot_done(void *arg)
{
	struct slot *slot = arg;
	struct ingest_server *server = slot->server;
	int rv = nng_aio_result(slot->aio);

	if (slot->state == SLOT_SENDING) {
		if (rv != 0) {
			/* the agent hung up: it sends the report again and
			 * gets a duplicate's ack */
			nng_msg *unsent = nng_aio_get_msg(slot->aio);

			if (unsent != NULL)
				nng_msg_free(unsent);
			nng_aio_set_msg(slot->aio, NULL);
			pgf_debug("could not send an ack: %s", nng_strerror(rv));
		}
		if (!server_stopping(server))
			arm_receive(slot);
		return;
	}
	if (rv != 0) {
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || server_stopping(server))
			return;
		pgf_warning("could not receive a report: %s", nng_strerror(rv));
		arm_receive(slot);
		return;
	}
	slot->report = nng_aio_get_msg(slot->aio);
	nng_aio_set_msg(slot->aio, NULL);
	slot->state = SLOT_QUEUED;
	slot->next = NULL;
	pthread_mutex_lock(&server->lock);
	if (server->tail != NULL)
		server->tail->next = slot;
	else
		server->head = slot;
	server->tail = slot;
	pthread_cond_signal(&server->queued);
	pthread_mutex_unlock(&server->lock);
}

/* Takes up to INGEST_SERVER_MAX_BATCH queued slots, waiting up to IDLE_MS
 * for the first. Returns how many; *stopping says the server stops. */
static size_t
take_batch(struct ingest_server *server, struct slot **batch, bool *stopping)
{
	size_t n = 0;

	pthread_mutex_lock(&server->lock);
	if (server->head == NULL && !server->stopping) {
		struct timespec deadline;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += IDLE_MS * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&server->queued, &server->lock, &deadline);
	}
	while (server->head != NULL && n < INGEST_SERVER_MAX_BATCH) {
		batch[n++] = server->head;
		server->head = server->head->next;
	}
	if (server->head == NULL)
		server->tail = NULL;
	*stopping = server->stopping;
	pthread_mutex_unlock(&server->lock);
	return n;
}

/* Stores a batch in one transaction, then acknowledges each report. */
static void
store_batch(struct ingest_server *server, struct slot **batch, size_t n)
{
	struct store *store = server->options.writer;
	struct ingest_counters counters;
	char errbuf[512];
	bool batched;
	int64_t started_us = pgf_time_now_us();

	memset(&counters, 0, sizeof(counters));
	/* when the batch cannot begin (store busy or failing), each report
	 * tries alone and gets its own answer */
	batched = store_batch_begin(store, errbuf, sizeof(errbuf)) == PGF_OK;
	if (!batched)
		pgf_warning("%s", errbuf);
	for (size_t i = 0; i < n; i++) {
		ingest_report_gated(store, server->options.gate, nng_msg_body(batch[i]->report),
		    nng_msg_len(batch[i]->report),
		    server->options.max_report_bytes, &counters, &batch[i]->ack);
		nng_msg_free(batch[i]->report);
		batch[i]->report = NULL;
	}
	if (batched && store_batch_end(store, true, errbuf, sizeof(errbuf)) != PGF_OK) {
		pgf_warning("%s: %zu report(s) will be sent again", errbuf, n);
		for (size_t i = 0; i < n; i++)
			ingest_batch_failed(&batch[i]->ack, &counters, errbuf);
	}
	pthread_mutex_lock(&server->lock);
	server->counters.received += counters.received;
	server->counters.stored += counters.stored;
	server->counters.duplicates += counters.duplicates;
	server->counters.rejected += counters.rejected;
	server->counters.retry_later += counters.retry_later;
	pthread_mutex_unlock(&server->lock);
	if (server->options.stored != NULL)
		server->options.stored(server->options.stored_arg, n,
		    pgf_time_now_us() - started_us);

	/* test only (test_ack_delay): a slow handler, so agents resend */
	if (server->options.ack_delay_ms > 0)
		pgf_sleep_ms(server->options.ack_delay_ms);
	/* acks only now: an OK ack promises a committed report */
	for (size_t i = 0; i < n; i++) {
		struct slot *slot = batch[i];
		nng_msg *msg = NULL;

		if (pgf_wire_pack_msg(&slot->ack.base, &msg) != PGF_OK) {
			pgf_warning("could not send an ack to agent=%s: out of memory",
			    slot->ack.agent_id);
			ingest_ack_fini(&slot->ack);
			arm_receive(slot);
			continue;
		}
		ingest_ack_fini(&slot->ack);
		slot->state = SLOT_SENDING;
		nng_aio_set_msg(slot->aio, msg);
		nng_ctx_send(slot->ctx, slot->aio);
	}
}

static void *
writer_thread(void *arg)
{
	struct ingest_server *server = arg;
	struct slot *batch[INGEST_SERVER_MAX_BATCH];

	for (;;) {
		bool stopping = false;
		size_t n = take_batch(server, batch, &stopping);

		if (n > 0)
			store_batch(server, batch, n);
		else if (stopping)
			break;
		if (server->options.idle != NULL && !stopping)
			server->options.idle(server->options.idle_arg);
	}
	return NULL;
}

static void
free_slots(struct ingest_server *server)
{
	/* stop every aio first (waits for its callback), then free: a
	 * callback may still be queueing another slot */
	for (size_t i = 0; i < server->n_slots; i++)
		nng_aio_stop(server->slots[i].aio);
	for (size_t i = 0; i < server->n_slots; i++) {
		struct slot *slot = &server->slots[i];

		nng_msg *pending = nng_aio_get_msg(slot->aio);

		if (slot->report != NULL)
			nng_msg_free(slot->report);
		if (pending != NULL)
			nng_msg_free(pending);
		nng_ctx_close(slot->ctx);
		nng_aio_free(slot->aio);
	}
	server->n_slots = 0;
}

int
ingest_server_start(nng_socket socket, const struct ingest_server_options *options,
    struct ingest_server **out, char *errbuf, size_t errlen)
{
	struct ingest_server *server = calloc(1, sizeof(*server));
	int rv;

	*out = NULL;
	if (server == NULL)
		return PGF_ENOMEM;
	server->options = *options;
	pthread_mutex_init(&server->lock, NULL);
	pthread_cond_init(&server->queued, NULL);
	for (size_t i = 0; i < INGEST_SERVER_CONTEXTS; i++) {
		struct slot *slot = &server->slots[i];

		slot->server = server;
		pgfleet__v1__ack__init(&slot->ack);
		if ((rv = nng_aio_alloc(&slot->aio, slot_done, slot)) != 0)
			goto fail;
		if ((rv = nng_ctx_open(&slot->ctx, socket)) != 0) {
			nng_aio_free(slot->aio);
			goto fail;
		}
		/* a context waits for a report as long as it takes (the
		 * socket's receive timeout is for its other users) */
		nng_aio_set_timeout(slot->aio, NNG_DURATION_INFINITE);
		server->n_slots++;
	}
	if (pthread_create(&server->writer, NULL, writer_thread, server) != 0) {
		snprintf(errbuf, errlen, "could not start the ingest writer thread");
		free_slots(server);
		pthread_cond_destroy(&server->queued);
		pthread_mutex_destroy(&server->lock);
		free(server);
		return PGF_EIO;
	}
	server->writer_started = true;
	for (size_t i = 0; i < server->n_slots; i++)
		arm_receive(&server->slots[i]);
	*out = server;
	return PGF_OK;
fail:
	snprintf(errbuf, errlen, "could not set up report contexts: %s", nng_strerror(rv));
	free_slots(server);
	pthread_cond_destroy(&server->queued);
	pthread_mutex_destroy(&server->lock);
	free(server);
	return PGF_EIO;
}

void
ingest_server_stop(struct ingest_server *server)
{
	if (server == NULL)
		return;
	pthread_mutex_lock(&server->lock);
	server->stopping = true;
	pthread_cond_signal(&server->queued);
	pthread_mutex_unlock(&server->lock);
	if (server->writer_started)
		pthread_join(server->writer, NULL);
	free_slots(server);
	pthread_cond_destroy(&server->queued);
	pthread_mutex_destroy(&server->lock);
	free(server);
}

void
ingest_server_counters(struct ingest_server *server, struct ingest_counters *out)
{
	pthread_mutex_lock(&server->lock);
	*out = server->counters;
	pthread_mutex_unlock(&server->lock);
}
