/*
 * action_broker.c - held polls and waiting calls (see action_broker.h).
 *
 * Design note. One REP socket on action_listen with ACTION_BROKER_MAX_POLLS
 * contexts; each context is a poll job with one aio and one callback that
 * switches on the job's state:
 *   1. RECEIVING: a poll arrived: decode it, hand its result (if any) to
 *      the waiting call with that id, then HOLD the poll under the
 *      instance's name (a newer poll of the same instance releases the
 *      older one);
 *   2. HOLDING: the poll waits for a call (action_broker_call moves it to
 *      SENDING with the command) or for its wait to pass (the ticker
 *      thread moves it to SENDING with an empty command); a poll whose pipe
 *      closed is released the same way and is never given a command;
 *   3. SENDING: the reply went out (or the pipe is gone): receive again.
 * One mutex guards jobs, calls and the seen-instances list; nng operations
 * are started only outside it (never complete an aio under our lock). A
 * call waits on a condition variable (CLOCK_MONOTONIC) for its result or
 * its deadline; a result that comes after its call gave up is dropped.
 */
#include "collector/action_broker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "collector/agent_gate.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/tls_link.h"
#include "common/wire.h"

/* A poll is tiny: a result with a plan is the largest thing an agent
 * sends. */
#define POLL_MAX_BYTES (16u * 1024u * 1024u)
/* Longest a poll is held, whatever the agent asks. */
#define HOLD_MAX_MS 30000
#define TICK_MS     100
#define NAME_SIZE   256

enum job_state {
	JOB_RECEIVING,
	JOB_HOLDING,
	JOB_SENDING,
};

struct poll_job {
	struct action_broker *broker;
	nng_ctx ctx;
	nng_aio *aio;
	enum job_state state;
	/* while HOLDING: whose poll, on which pipe, until when */
	char instance[NAME_SIZE];
	uint32_t pipe_id;
	int64_t hold_until_ms;
	bool pipe_gone;
};

struct pending_call {
	uint64_t id;
	Pgfleet__V1__CommandResult *result;
	bool done;
	struct pending_call *next;
};

struct action_broker {
	nng_socket socket;
	bool socket_open;
	int64_t timeout_ms;
	pthread_mutex_t lock;
	pthread_cond_t answered;
	struct poll_job jobs[ACTION_BROKER_MAX_POLLS];
	size_t job_count;
	struct pending_call *calls;
	uint64_t next_id;
	pthread_t ticker;
	bool ticker_started;
	atomic_bool stopping;
};

static struct action_broker *current_broker;
/* set before brokers start (action_broker_use_gate), read-only after */
static struct agent_gate *poll_gate;

void
action_broker_use_gate(struct agent_gate *gate)
{
	poll_gate = gate;
}

struct action_broker *
action_broker_current(void)
{
	return current_broker;
}

/* Starts an empty reply on a job the caller moved to SENDING. */
static void
send_empty(struct poll_job *job)
{
	Pgfleet__V1__Command command = PGFLEET__V1__COMMAND__INIT;
	size_t len = protobuf_c_message_get_packed_size(&command.base);
	nng_msg *msg = NULL;

	if (nng_msg_alloc(&msg, len) != 0) {
		/* no reply: receiving again drops the held request, and the
		 * agent's receive timeout makes it poll again */
		job->state = JOB_RECEIVING;
		nng_ctx_recv(job->ctx, job->aio);
		return;
	}
	protobuf_c_message_pack(&command.base, nng_msg_body(msg));
	nng_aio_set_msg(job->aio, msg);
	nng_ctx_send(job->ctx, job->aio);
}

/* Hands result to its call (takes ownership); under the lock. */
static void
deliver_result(struct action_broker *broker, Pgfleet__V1__CommandResult *result,
    const char *instance)
{
	for (struct pending_call *call = broker->calls; call != NULL; call = call->next) {
		if (call->id == result->id && !call->done) {
			call->result = result;
			call->done = true;
			pthread_cond_broadcast(&broker->answered);
			return;
		}
	}
	pgf_warning(
	    "instance=%s action %llu: result came after its request gave up; dropped",
	    instance, (unsigned long long) result->id);
	protobuf_c_message_free_unpacked(&result->base, NULL);
}

static void
on_poll_received(struct poll_job *job)
{
	struct action_broker *broker = job->broker;
	struct poll_job *released[ACTION_BROKER_MAX_POLLS];
	size_t released_count = 0;
	Pgfleet__V1__ActionPoll *poll = NULL;
	ProtobufCMessage *message = NULL;
	nng_msg *msg = nng_aio_get_msg(job->aio);
	uint32_t pipe_id = nng_pipe_id(nng_msg_get_pipe(msg));
	int rv = pgf_wire_unpack(&pgfleet__v1__action_poll__descriptor, nng_msg_body(msg),
	    nng_msg_len(msg), POLL_MAX_BYTES, &message);
	int64_t wait_ms;

	nng_msg_free(msg);
	poll = (Pgfleet__V1__ActionPoll *) message;
	if (rv != PGF_OK || poll->instance[0] == '\0'
	    || strlen(poll->instance) >= NAME_SIZE) {
		pgf_warning("actions: dropped a poll that is not one (%s)",
		    rv != PGF_OK ? pgf_error_text(rv) : "no instance name");
		if (message != NULL)
			protobuf_c_message_free_unpacked(message, NULL);
		nng_ctx_recv(job->ctx, job->aio);
		return;
	}
	/* a wrong token: no reply, no hold, no result delivered (a forged
	 * result must not answer an operator's call) */
	if (poll_gate != NULL && !agent_gate_poll(poll_gate, poll->agent_id, poll->instance,
				     poll->agent_token, pgf_monotonic_ms())) {
		protobuf_c_message_free_unpacked(message, NULL);
		nng_ctx_recv(job->ctx, job->aio);
		return;
	}
	wait_ms = poll->wait_ms > 0 && poll->wait_ms < HOLD_MAX_MS ? poll->wait_ms
								   : HOLD_MAX_MS;
	pthread_mutex_lock(&broker->lock);
	if (poll->result != NULL) {
		deliver_result(broker, poll->result, poll->instance);
		poll->result = NULL;
	}
	/* one held poll per instance: the newest (an agent restarted, or a
	 * second agent claims the name) */
	for (size_t i = 0; i < broker->job_count; i++) {
		struct poll_job *other = &broker->jobs[i];
		if (other != job && other->state == JOB_HOLDING
		    && strcmp(other->instance, poll->instance) == 0) {
			other->state = JOB_SENDING;
			released[released_count++] = other;
		}
	}
	job->state = JOB_HOLDING;
	snprintf(job->instance, sizeof(job->instance), "%s", poll->instance);
	job->pipe_id = pipe_id;
	job->pipe_gone = false;
	job->hold_until_ms = pgf_monotonic_ms() + wait_ms;
	pthread_mutex_unlock(&broker->lock);
	pgf_debug(
	    "instance=%s agent=%s polling for actions", poll->instance, poll->agent_id);
	protobuf_c_message_free_unpacked(message, NULL);
	for (size_t i = 0; i < released_count; i++)
		send_empty(released[i]);
}

static void
job_callback(void *arg)
{
	struct poll_job *job = arg;
	int rv = nng_aio_result(job->aio);

	if (atomic_load(&job->broker->stopping) || rv == NNG_ECLOSED
	    || rv == NNG_ECANCELED) {
		if (rv != 0 && job->state == JOB_SENDING)
			nng_msg_free(nng_aio_get_msg(job->aio));
		return;
	}
	switch (job->state) {
	case JOB_RECEIVING:
		if (rv != 0) {
			pgf_debug("actions: receive failed: %s", nng_strerror(rv));
			nng_ctx_recv(job->ctx, job->aio);
			return;
		}
		on_poll_received(job);
		return;
	case JOB_SENDING:
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(job->aio));
		pthread_mutex_lock(&job->broker->lock);
		job->state = JOB_RECEIVING;
		job->instance[0] = '\0';
		pthread_mutex_unlock(&job->broker->lock);
		nng_ctx_recv(job->ctx, job->aio);
		return;
	case JOB_HOLDING:
		/* no aio runs while holding */
		return;
	}
}

/* A pipe closed: its held poll (if any) can never carry a command. */
static void
on_pipe_removed(nng_pipe pipe, nng_pipe_ev event, void *arg)
{
	struct action_broker *broker = arg;
	uint32_t id = nng_pipe_id(pipe);

	(void) event;
	pthread_mutex_lock(&broker->lock);
	for (size_t i = 0; i < broker->job_count; i++) {
		struct poll_job *job = &broker->jobs[i];
		if (job->state == JOB_HOLDING && job->pipe_id == id) {
			pgf_info("instance=%s action channel closed by the agent",
			    job->instance);
			job->pipe_gone = true;
			job->hold_until_ms = 0;
		}
	}
	pthread_mutex_unlock(&broker->lock);
}

/* Releases polls whose wait passed (or whose pipe closed). */
static void *
ticker_thread(void *arg)
{
	struct action_broker *broker = arg;

	while (!atomic_load(&broker->stopping)) {
		struct poll_job *released[ACTION_BROKER_MAX_POLLS];
		size_t released_count = 0;
		int64_t now = pgf_monotonic_ms();

		pthread_mutex_lock(&broker->lock);
		for (size_t i = 0; i < broker->job_count; i++) {
			struct poll_job *job = &broker->jobs[i];
			if (job->state == JOB_HOLDING && job->hold_until_ms <= now) {
				job->state = JOB_SENDING;
				released[released_count++] = job;
			}
		}
		pthread_mutex_unlock(&broker->lock);
		for (size_t i = 0; i < released_count; i++)
			send_empty(released[i]);
		pgf_sleep_ms(TICK_MS);
	}
	return NULL;
}

/* Finds the held poll of instance; under the lock. */
static struct poll_job *
find_holding(struct action_broker *broker, const char *instance)
{
	for (size_t i = 0; i < broker->job_count; i++) {
		struct poll_job *job = &broker->jobs[i];
		if (job->state == JOB_HOLDING && !job->pipe_gone
		    && strcmp(job->instance, instance) == 0)
			return job;
	}
	return NULL;
}

bool
action_broker_polling(struct action_broker *broker, const char *instance)
{
	bool polling;

	pthread_mutex_lock(&broker->lock);
	polling = find_holding(broker, instance) != NULL;
	pthread_mutex_unlock(&broker->lock);
	return polling;
}

int
action_broker_call(struct action_broker *broker, const char *instance,
    Pgfleet__V1__Command *command, Pgfleet__V1__CommandResult **result, char *errbuf,
    size_t errlen)
{
	struct pending_call call = { 0, NULL, false, NULL };
	struct poll_job *job;
	struct timespec deadline;
	nng_msg *msg = NULL;
	size_t len;
	int rv = PGF_OK;

	*result = NULL;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += broker->timeout_ms / 1000;
	deadline.tv_nsec += (broker->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	command->deadline_us = pgf_time_now_us() + broker->timeout_ms * 1000;
	pthread_mutex_lock(&broker->lock);
	job = find_holding(broker, instance);
	if (job == NULL) {
		pthread_mutex_unlock(&broker->lock);
		snprintf(errbuf, errlen,
		    "no agent of instance \"%s\" is connected to the action channel"
		    " (agent stopped or unreachable, older than this collector, or "
		    "action_collector = off)",
		    instance);
		return PGF_ENOTFOUND;
	}
	call.id = ++broker->next_id;
	command->id = call.id;
	len = protobuf_c_message_get_packed_size(&command->base);
	if (nng_msg_alloc(&msg, len) != 0) {
		pthread_mutex_unlock(&broker->lock);
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	protobuf_c_message_pack(&command->base, nng_msg_body(msg));
	job->state = JOB_SENDING;
	call.next = broker->calls;
	broker->calls = &call;
	pthread_mutex_unlock(&broker->lock);

	nng_aio_set_msg(job->aio, msg);
	nng_ctx_send(job->ctx, job->aio);

	pthread_mutex_lock(&broker->lock);
	while (!call.done) {
		if (pthread_cond_timedwait(&broker->answered, &broker->lock, &deadline)
			!= 0
		    && !call.done) {
			rv = PGF_ETIMEDOUT;
			break;
		}
	}
	for (struct pending_call **link = &broker->calls; *link != NULL;
	     link = &(*link)->next) {
		if (*link == &call) {
			*link = call.next;
			break;
		}
	}
	pthread_mutex_unlock(&broker->lock);
	if (rv == PGF_ETIMEDOUT) {
		snprintf(errbuf, errlen,
		    "no answer from the agent of instance \"%s\" within %lld ms (agent "
		    "stalled, or"
		    " the action took longer)",
		    instance, (long long) broker->timeout_ms);
		return rv;
	}
	*result = call.result;
	return PGF_OK;
}

int
action_broker_start(const char *addresses, const struct pgf_tls_link *tls, int64_t timeout_ms,
    struct action_broker **out, char *errbuf, size_t errlen)
{
	char reason[512];
	struct action_broker *broker = calloc(1, sizeof(*broker));
	pthread_condattr_t attributes;
	char *copy = NULL;
	char *saveptr = NULL;
	int rv;

	*out = NULL;
	if (broker == NULL || (copy = strdup(addresses)) == NULL) {
		free(broker);
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	broker->timeout_ms = timeout_ms;
	pthread_mutex_init(&broker->lock, NULL);
	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&broker->answered, &attributes);
	pthread_condattr_destroy(&attributes);
	if ((rv = nng_rep0_open(&broker->socket)) != 0) {
		snprintf(errbuf, errlen, "could not open the action socket: %s",
		    nng_strerror(rv));
		goto fail;
	}
	broker->socket_open = true;
	/* the size limit is set before the socket listens */
	nng_socket_set_size(broker->socket, NNG_OPT_RECVMAXSZ, POLL_MAX_BYTES);
	nng_pipe_notify(broker->socket, NNG_PIPE_EV_REM_POST, on_pipe_removed, broker);
	for (size_t i = 0; i < ACTION_BROKER_MAX_POLLS; i++) {
		struct poll_job *job = &broker->jobs[i];
		job->broker = broker;
		if ((rv = nng_ctx_open(&job->ctx, broker->socket)) != 0
		    || (rv = nng_aio_alloc(&job->aio, job_callback, job)) != 0) {
			if (rv == 0)
				nng_ctx_close(job->ctx);
			snprintf(errbuf, errlen, "could not set up action polls: %s",
			    nng_strerror(rv));
			goto fail;
		}
		broker->job_count++;
	}
	for (char *address = strtok_r(copy, ",", &saveptr); address != NULL;
	     address = strtok_r(NULL, ",", &saveptr)) {
		while (*address == ' ')
			address++;
		if (*address == '\0')
			continue;
		/* tls+tcp:// gets its certificates before it starts */
		if ((rv = pgf_tls_listen(broker->socket, address, tls, NULL, reason,
			 sizeof(reason))) != 0) {
			snprintf(errbuf, errlen, "could not listen for actions on %s", reason);
			goto fail;
		}
		pgf_info("listening for agents' action polls on %s", address);
	}
	for (size_t i = 0; i < broker->job_count; i++)
		nng_ctx_recv(broker->jobs[i].ctx, broker->jobs[i].aio);
	if (pthread_create(&broker->ticker, NULL, ticker_thread, broker) != 0) {
		snprintf(errbuf, errlen, "could not start the action ticker");
		goto fail;
	}
	broker->ticker_started = true;
	free(copy);
	current_broker = broker;
	*out = broker;
	return PGF_OK;
fail:
	free(copy);
	action_broker_stop(broker);
	return PGF_EIO;
}

void
action_broker_stop(struct action_broker *broker)
{
	if (broker == NULL)
		return;
	if (current_broker == broker)
		current_broker = NULL;
	atomic_store(&broker->stopping, true);
	if (broker->ticker_started)
		pthread_join(broker->ticker, NULL);
	/* stop every aio (waits for running callbacks), then close */
	for (size_t i = 0; i < broker->job_count; i++)
		nng_aio_stop(broker->jobs[i].aio);
	for (size_t i = 0; i < broker->job_count; i++) {
		nng_ctx_close(broker->jobs[i].ctx);
		nng_aio_free(broker->jobs[i].aio);
	}
	if (broker->socket_open)
		nng_close(broker->socket);
	pthread_cond_destroy(&broker->answered);
	pthread_mutex_destroy(&broker->lock);
	free(broker);
}
