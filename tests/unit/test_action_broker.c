/* test_action_broker.c - the collector's action broker with simulated
 * agents (REQ sockets) over ipc, no PostgreSQL: a command reaches the
 * polling agent and its result the caller; no agent, a closed agent and a
 * silent agent are each a clear error within the deadline; a newer poll of
 * the same instance replaces the older; a late result is dropped. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "collector/action_broker.h"
#include "common/timeutil.h"
#include "common/wire.h"

#define TIMEOUT_MS 800

static char address[128];

/* A simulated agent: a REQ socket that polls for instance. */
static nng_socket
agent_open(void)
{
	nng_socket socket;
	assert_int_equal(nng_req0_open(&socket), 0);
	nng_socket_set_ms(socket, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(socket, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_ms(socket, NNG_OPT_REQ_RESENDTIME, 60000);
	assert_int_equal(nng_dial(socket, address, NULL, 0), 0);
	return socket;
}

/* Sends a poll for instance (with result when not NULL). */
static void
agent_poll(nng_socket socket, const char *instance, Pgfleet__V1__CommandResult *result,
    uint32_t wait_ms)
{
	Pgfleet__V1__ActionPoll poll = PGFLEET__V1__ACTION_POLL__INIT;
	poll.agent_id = "test";
	poll.instance = (char *) instance;
	poll.result = result;
	poll.wait_ms = wait_ms;
	assert_int_equal(pgf_wire_send(socket, &poll.base), PGF_OK);
}

/* Receives the collector's answer to a poll. */
static Pgfleet__V1__Command *
agent_receive(nng_socket socket)
{
	ProtobufCMessage *message = NULL;
	assert_int_equal(
	    pgf_wire_recv(socket, &pgfleet__v1__command__descriptor, 1 << 20, &message),
	    PGF_OK);
	return (Pgfleet__V1__Command *) message;
}

struct call {
	struct action_broker *broker;
	const char *instance;
	int rv;
	char errbuf[512];
	Pgfleet__V1__CommandResult *result;
	int64_t took_ms;
};

static void *
call_thread(void *arg)
{
	struct call *call = arg;
	Pgfleet__V1__Command command = PGFLEET__V1__COMMAND__INIT;
	Pgfleet__V1__BackendSignalRequest request
	    = PGFLEET__V1__BACKEND_SIGNAL_REQUEST__INIT;
	int64_t start = pgf_monotonic_ms();

	request.instance = (char *) call->instance;
	request.pid = 42;
	command.action_case = PGFLEET__V1__COMMAND__ACTION_BACKEND_SIGNAL;
	command.backend_signal = &request;
	call->rv = action_broker_call(call->broker, call->instance, &command,
	    &call->result, call->errbuf, sizeof(call->errbuf));
	call->took_ms = pgf_monotonic_ms() - start;
	return NULL;
}

/* Waits (up to 5 s) until the broker says whether instance is polling. */
static void
wait_polling(struct action_broker *broker, const char *instance, bool polling)
{
	int64_t deadline = pgf_monotonic_ms() + 5000;
	while (action_broker_polling(broker, instance) != polling) {
		if (pgf_monotonic_ms() > deadline)
			fail_msg("instance %s never became %s", instance,
			    polling ? "polling" : "gone");
		pgf_sleep_ms(2);
	}
}

static int
setup(void **state)
{
	struct action_broker *broker = NULL;
	char errbuf[256];

	snprintf(address, sizeof(address), "ipc:///tmp/pgfleet-test-broker-%d.sock",
	    (int) getpid());
	assert_int_equal(
	    action_broker_start(address, NULL, TIMEOUT_MS, &broker, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_ptr_equal(action_broker_current(), broker);
	*state = broker;
	return 0;
}

static int
teardown(void **state)
{
	action_broker_stop(*state);
	assert_null(action_broker_current());
	return 0;
}

static void
test_no_agent(void **state)
{
	struct call call = { *state, "nobody", 0, "", NULL, 0 };
	call_thread(&call);
	assert_int_equal(call.rv, PGF_ENOTFOUND);
	assert_non_null(strstr(call.errbuf, "no agent of instance \"nobody\""));
	assert_true(call.took_ms < 100);
}

static void
test_command_and_result(void **state)
{
	struct call call = { *state, "db-1", 0, "", NULL, 0 };
	Pgfleet__V1__CommandResult result = PGFLEET__V1__COMMAND_RESULT__INIT;
	Pgfleet__V1__BackendSignal signalled = PGFLEET__V1__BACKEND_SIGNAL__INIT;
	nng_socket agent = agent_open();
	Pgfleet__V1__Command *command;
	pthread_t thread;

	agent_poll(agent, "db-1", NULL, 10000);
	wait_polling(*state, "db-1", true);
	pthread_create(&thread, NULL, call_thread, &call);
	command = agent_receive(agent);
	assert_true(command->id != 0);
	assert_int_equal(
	    command->action_case, PGFLEET__V1__COMMAND__ACTION_BACKEND_SIGNAL);
	assert_int_equal(command->backend_signal->pid, 42);
	assert_true(command->deadline_us > pgf_time_now_us());
	/* the result rides on the next poll */
	result.id = command->id;
	result.outcome_case = PGFLEET__V1__COMMAND_RESULT__OUTCOME_BACKEND_SIGNAL;
	result.backend_signal = &signalled;
	signalled.pid = 42;
	signalled.signalled = true;
	agent_poll(agent, "db-1", &result, 10000);
	pthread_join(thread, NULL);
	assert_int_equal(call.rv, PGF_OK);
	assert_non_null(call.result);
	assert_int_equal(call.result->id, command->id);
	assert_true(call.result->backend_signal->signalled);
	protobuf_c_message_free_unpacked(&call.result->base, NULL);
	protobuf_c_message_free_unpacked(&command->base, NULL);
	nng_close(agent);
}

static void
test_silent_agent_times_out(void **state)
{
	struct call call = { *state, "db-2", 0, "", NULL, 0 };
	Pgfleet__V1__CommandResult late = PGFLEET__V1__COMMAND_RESULT__INIT;
	nng_socket agent = agent_open();
	Pgfleet__V1__Command *command;

	agent_poll(agent, "db-2", NULL, 10000);
	wait_polling(*state, "db-2", true);
	call_thread(&call); /* the agent never answers */
	assert_int_equal(call.rv, PGF_ETIMEDOUT);
	assert_non_null(
	    strstr(call.errbuf, "no answer from the agent of instance \"db-2\""));
	assert_true(call.took_ms >= TIMEOUT_MS - 50 && call.took_ms < TIMEOUT_MS + 500);
	/* the command did arrive; its result now comes too late: dropped */
	command = agent_receive(agent);
	late.id = command->id;
	late.error = "too late";
	agent_poll(agent, "db-2", &late, 300);
	protobuf_c_message_free_unpacked(&command->base, NULL);
	/* the held poll is released empty after its wait */
	command = agent_receive(agent);
	assert_int_equal(command->id, 0);
	protobuf_c_message_free_unpacked(&command->base, NULL);
	nng_close(agent);
}

static void
test_closed_agent_is_gone(void **state)
{
	struct call call = { *state, "db-3", 0, "", NULL, 0 };
	nng_socket agent = agent_open();

	agent_poll(agent, "db-3", NULL, 10000);
	wait_polling(*state, "db-3", true);
	nng_close(agent);
	wait_polling(*state, "db-3", false);
	call_thread(&call);
	assert_int_equal(call.rv, PGF_ENOTFOUND);
	assert_true(call.took_ms < 100);
}

static void
test_newer_poll_replaces_older(void **state)
{
	struct call call = { *state, "db-4", 0, "", NULL, 0 };
	Pgfleet__V1__CommandResult result = PGFLEET__V1__COMMAND_RESULT__INIT;
	nng_socket old_agent = agent_open();
	nng_socket new_agent = agent_open();
	Pgfleet__V1__Command *command;
	pthread_t thread;

	agent_poll(old_agent, "db-4", NULL, 10000);
	wait_polling(*state, "db-4", true);
	agent_poll(new_agent, "db-4", NULL, 10000);
	/* the older poll is answered empty at once */
	command = agent_receive(old_agent);
	assert_int_equal(command->id, 0);
	protobuf_c_message_free_unpacked(&command->base, NULL);
	pthread_create(&thread, NULL, call_thread, &call);
	command = agent_receive(new_agent);
	assert_true(command->id != 0);
	result.id = command->id;
	result.error = "refused here";
	result.error_kind = "refused";
	agent_poll(new_agent, "db-4", &result, 10000);
	pthread_join(thread, NULL);
	assert_int_equal(call.rv, PGF_OK);
	assert_string_equal(call.result->error, "refused here");
	protobuf_c_message_free_unpacked(&call.result->base, NULL);
	protobuf_c_message_free_unpacked(&command->base, NULL);
	nng_close(old_agent);
	nng_close(new_agent);
}

static void
test_garbage_poll_ignored(void **state)
{
	nng_socket agent = agent_open();
	uint8_t junk[] = { 0xff, 0xff, 0xff, 0x01, 0x02 };
	struct call call = { *state, "db-5", 0, "", NULL, 0 };

	assert_int_equal(pgf_wire_send_bytes(agent, junk, sizeof(junk)), PGF_OK);
	/* the same socket then polls properly: the junk did not stick */
	agent_poll(agent, "db-5", NULL, 10000);
	wait_polling(*state, "db-5", true);
	call.instance = "db-6";
	call_thread(&call);
	assert_int_equal(call.rv, PGF_ENOTFOUND);
	nng_close(agent);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_and_result, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_silent_agent_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_closed_agent_is_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_newer_poll_replaces_older, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_garbage_poll_ignored, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
