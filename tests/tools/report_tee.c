/*
 * report_tee.c - one agent-facing listener that hands every report to two
 * collectors, so two stores (e.g. SQLite and PostgreSQL) hold exactly the
 * same reports (tests/e2e/store_backends_compare.sh).
 *
 *   report_tee LISTEN COLLECTOR_A COLLECTOR_B
 *
 * Listens on LISTEN (nng REP, where agents dial their `collector`), and for
 * every request received sends its bytes, unchanged, to COLLECTOR_A and to
 * COLLECTOR_B (one nng REQ socket each), waits for both answers, then
 * answers the agent with A's answer. Why this shape:
 *   - one report at a time, in the order received: both collectors see the
 *     same sequence, so nothing that depends on arrival order (a role
 *     change, an upstream learnt) can differ between the stores;
 *   - the agent hears only after both collectors answered: when it moves
 *     on (an OK ack), both have committed the report;
 *   - B's answer must be an Ack of the same kind as A's (status, agent,
 *     boot, seq, duplicate, the texts it asks for again). Anything else
 *     (no answer, not an Ack, another status) means the stores diverge:
 *     one "report_tee: MISMATCH ..." line on stderr, counted, and the
 *     exit status is 1. The index checks an Ack asks for are not compared:
 *     the agent acts on A's only, and its results reach both stores.
 * A request A does not answer is not answered (the agent resends it, and
 * both collectors dedupe the copy).
 *
 * Runs until SIGTERM/SIGINT, then prints "report_tee: forwarded=N
 * mismatches=M" on stderr and exits 0 (no mismatch) or 1. Test only.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/wire.h"
#include "pgfleet/v1/agent.pb-c.h"

/* How long a collector may take to store a report (a PostgreSQL store on a
 * loaded machine is slow); nng's REQ resend is set far above it, so a
 * collector never gets a report twice from the tee itself. */
#define ANSWER_TIMEOUT_MS 30000
#define NO_RESEND_MS      (3600 * 1000)
/* How often the receive loop looks at the stop flag. */
#define POLL_MS       200
#define MAX_ACK_BYTES (1024u * 1024u)

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void) sig;
	stopping = 1;
}

/* open_forward opens the REQ socket to one collector; dials without
 * waiting, so the collectors may come up after the tee. */
static int
open_forward(const char *address, nng_socket *socket)
{
	int rv;

	if ((rv = nng_req0_open(socket)) != 0)
		return rv;
	if ((rv = nng_socket_set_ms(*socket, NNG_OPT_REQ_RESENDTIME, NO_RESEND_MS)) != 0
	    || (rv = nng_socket_set_ms(*socket, NNG_OPT_SENDTIMEO, ANSWER_TIMEOUT_MS))
		!= 0
	    || (rv = nng_socket_set_ms(*socket, NNG_OPT_RECVTIMEO, ANSWER_TIMEOUT_MS))
		!= 0
	    || (rv = nng_socket_set_ms(*socket, NNG_OPT_RECONNMINT, 100)) != 0
	    || (rv = nng_socket_set_ms(*socket, NNG_OPT_RECONNMAXT, 1000)) != 0
	    || (rv = nng_socket_set_size(*socket, NNG_OPT_RECVMAXSZ, MAX_ACK_BYTES)) != 0
	    || (rv = nng_dial(*socket, address, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		nng_close(*socket);
		return rv;
	}
	return 0;
}

/* send_copy sends a copy of request on socket (request stays ours). */
static int
send_copy(nng_socket socket, nng_msg *request)
{
	nng_msg *copy = NULL;
	int rv;

	if ((rv = nng_msg_dup(&copy, request)) != 0)
		return rv;
	if ((rv = nng_sendmsg(socket, copy, 0)) != 0)
		nng_msg_free(copy);
	return rv;
}

static const char *
status_name(int status)
{
	const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value(
	    &pgfleet__v1__ack__status__descriptor, status);

	return value != NULL ? value->name : "?";
}

/* decode_ack unpacks an answer as an Ack; NULL when it is none. */
static Pgfleet__V1__Ack *
decode_ack(nng_msg *answer)
{
	ProtobufCMessage *message = NULL;

	if (answer == NULL
	    || pgf_wire_unpack(&pgfleet__v1__ack__descriptor, nng_msg_body(answer),
		   nng_msg_len(answer), MAX_ACK_BYTES, &message)
		!= PGF_OK)
		return NULL;
	return (Pgfleet__V1__Ack *) message;
}

/* same_kind: B's Ack says what A's says about the report. */
static bool
same_kind(const Pgfleet__V1__Ack *a, const Pgfleet__V1__Ack *b)
{
	if (a->status != b->status || a->seq != b->seq || a->duplicate != b->duplicate
	    || strcmp(a->agent_id, b->agent_id) != 0
	    || strcmp(a->boot_id, b->boot_id) != 0
	    || a->n_missing_query_texts != b->n_missing_query_texts)
		return false;
	for (size_t i = 0; i < a->n_missing_query_texts; i++)
		if (a->missing_query_texts[i] != b->missing_query_texts[i])
			return false;
	return true;
}

/* describe writes one Ack's kind, or why there is none, into buf. */
static const char *
describe(const Pgfleet__V1__Ack *ack, int rv, char *buf, size_t len)
{
	if (rv != 0)
		snprintf(buf, len, "no answer (%s)", nng_strerror(rv));
	else if (ack == NULL)
		snprintf(buf, len, "an answer that is not an Ack");
	else
		snprintf(buf, len,
		    "%s agent=%s boot=%s seq=%llu duplicate=%d missing_texts=%zu",
		    status_name((int) ack->status), ack->agent_id, ack->boot_id,
		    (unsigned long long) ack->seq, ack->duplicate ? 1 : 0,
		    ack->n_missing_query_texts);
	return buf;
}

/*
 * forward hands one request to both collectors and answers the agent.
 * Returns false when B's answer differs from A's (logged).
 */
static bool
forward(nng_socket rep, nng_socket a, nng_socket b, nng_msg *request)
{
	nng_msg *answer_a = NULL, *answer_b = NULL;
	Pgfleet__V1__Ack *ack_a = NULL, *ack_b = NULL;
	char text_a[256], text_b[256];
	int rv_a, rv_b;
	bool same;

	/* both at once, then both answers: the stores work in parallel */
	rv_a = send_copy(a, request);
	rv_b = send_copy(b, request);
	if (rv_a == 0)
		rv_a = nng_recvmsg(a, &answer_a, 0);
	if (rv_b == 0)
		rv_b = nng_recvmsg(b, &answer_b, 0);
	ack_a = rv_a == 0 ? decode_ack(answer_a) : NULL;
	ack_b = rv_b == 0 ? decode_ack(answer_b) : NULL;
	same = ack_a != NULL && ack_b != NULL && same_kind(ack_a, ack_b);
	if (!same)
		fprintf(stderr, "report_tee: MISMATCH collector A: %s; collector B: %s\n",
		    describe(ack_a, rv_a, text_a, sizeof(text_a)),
		    describe(ack_b, rv_b, text_b, sizeof(text_b)));
	if (answer_a != NULL) {
		/* the agent may have gone meanwhile: nothing to do then */
		if (nng_sendmsg(rep, answer_a, 0) != 0)
			nng_msg_free(answer_a);
		answer_a = NULL;
	}
	if (answer_b != NULL)
		nng_msg_free(answer_b);
	if (ack_a != NULL)
		pgfleet__v1__ack__free_unpacked(ack_a, NULL);
	if (ack_b != NULL)
		pgfleet__v1__ack__free_unpacked(ack_b, NULL);
	return same;
}

int
main(int argc, char **argv)
{
	struct sigaction action;
	nng_socket rep = NNG_SOCKET_INITIALIZER, a = NNG_SOCKET_INITIALIZER,
		   b = NNG_SOCKET_INITIALIZER;
	bool rep_open = false, a_open = false, b_open = false;
	unsigned long long forwarded = 0, mismatches = 0;
	int rv, status = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: report_tee LISTEN COLLECTOR_A COLLECTOR_B\n");
		return 2;
	}
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_signal;
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);

	if ((rv = open_forward(argv[2], &a)) != 0) {
		fprintf(stderr, "report_tee: could not dial collector A \"%s\": %s\n",
		    argv[2], nng_strerror(rv));
		goto done;
	}
	a_open = true;
	if ((rv = open_forward(argv[3], &b)) != 0) {
		fprintf(stderr, "report_tee: could not dial collector B \"%s\": %s\n",
		    argv[3], nng_strerror(rv));
		goto done;
	}
	b_open = true;
	if ((rv = nng_rep0_open(&rep)) != 0) {
		fprintf(stderr, "report_tee: could not open the listener: %s\n",
		    nng_strerror(rv));
		goto done;
	}
	rep_open = true;
	if ((rv = nng_socket_set_ms(rep, NNG_OPT_RECVTIMEO, POLL_MS)) != 0
	    || (rv = nng_socket_set_ms(rep, NNG_OPT_SENDTIMEO, 1000)) != 0
	    || (rv = nng_socket_set_size(rep, NNG_OPT_RECVMAXSZ, PGF_WIRE_MAX_MESSAGE))
		!= 0
	    || (rv = nng_listen(rep, argv[1], NULL, 0)) != 0) {
		fprintf(stderr, "report_tee: could not listen on \"%s\": %s\n", argv[1],
		    nng_strerror(rv));
		goto done;
	}
	fprintf(stderr, "report_tee: listening on %s, forwarding to %s and %s\n", argv[1],
	    argv[2], argv[3]);
	while (!stopping) {
		nng_msg *request = NULL;

		rv = nng_recvmsg(rep, &request, 0);
		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0) {
			fprintf(stderr, "report_tee: could not receive: %s\n",
			    nng_strerror(rv));
			break;
		}
		if (!forward(rep, a, b, request))
			mismatches++;
		forwarded++;
		nng_msg_free(request);
	}
	status = mismatches == 0 && (rv == 0 || rv == NNG_ETIMEDOUT) ? 0 : 1;
	fprintf(stderr, "report_tee: forwarded=%llu mismatches=%llu\n", forwarded,
	    mismatches);
done:
	if (rep_open)
		nng_close(rep);
	if (b_open)
		nng_close(b);
	if (a_open)
		nng_close(a);
	return status;
}
