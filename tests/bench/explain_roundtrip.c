/*
 * explain_roundtrip.c - bench client for tests/bench/explain_roundtrip.sh:
 * sends ROUNDS explain Requests for one statement to a collector's API over
 * one REQ connection and prints each round trip in ms, one per line. It
 * measures what the collector and the agent add (hand-over to the held
 * poll, the agent's action, the result on the next poll), without the
 * pgfleet CLI's process start.
 *
 * Usage: bench_explain_roundtrip API_ADDRESS INSTANCE ROUNDS "SQL"
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/timeutil.h"
#include "common/wire.h"
#include "pgfleet/v1/api.pb-c.h"

int
main(int argc, char **argv)
{
	Pgfleet__V1__Request request = PGFLEET__V1__REQUEST__INIT;
	Pgfleet__V1__ExplainRequest explain = PGFLEET__V1__EXPLAIN_REQUEST__INIT;
	nng_socket socket;
	int rounds;
	int rv;

	if (argc != 5 || (rounds = atoi(argv[3])) <= 0) {
		fprintf(stderr,
		    "usage: bench_explain_roundtrip API_ADDRESS INSTANCE ROUNDS SQL\n");
		return 2;
	}
	explain.instance = argv[2];
	explain.query = argv[4];
	explain.requested_by = "bench";
	request.question_case = PGFLEET__V1__REQUEST__QUESTION_EXPLAIN;
	request.explain = &explain;
	if ((rv = nng_req0_open(&socket)) != 0
	    || (rv = nng_socket_set_ms(socket, NNG_OPT_RECVTIMEO, 30000)) != 0
	    || (rv = nng_socket_set_size(socket, NNG_OPT_RECVMAXSZ, PGF_WIRE_MAX_MESSAGE))
		!= 0
	    || (rv = nng_dial(socket, argv[1], NULL, 0)) != 0) {
		fprintf(stderr, "bench_explain_roundtrip: %s: %s\n", argv[1],
		    nng_strerror(rv));
		return 1;
	}
	for (int i = 0; i < rounds; i++) {
		ProtobufCMessage *message = NULL;
		struct timespec start, end;
		Pgfleet__V1__Response *response;

		clock_gettime(CLOCK_MONOTONIC, &start);
		if ((rv = pgf_wire_send(socket, &request.base)) != PGF_OK
		    || (rv = pgf_wire_recv(socket, &pgfleet__v1__response__descriptor,
			    PGF_WIRE_MAX_MESSAGE, &message))
			!= PGF_OK) {
			fprintf(
			    stderr, "bench_explain_roundtrip: %s\n", pgf_error_text(rv));
			nng_close(socket);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &end);
		response = (Pgfleet__V1__Response *) message;
		if (response->answer_case != PGFLEET__V1__RESPONSE__ANSWER_EXPLAIN) {
			fprintf(stderr, "bench_explain_roundtrip: %s\n",
			    response->answer_case == PGFLEET__V1__RESPONSE__ANSWER_ERROR
				? response->error->message
				: "not an explain answer");
			protobuf_c_message_free_unpacked(message, NULL);
			nng_close(socket);
			return 1;
		}
		printf("%.3f\n",
		    (double) (end.tv_sec - start.tv_sec) * 1000.0
			+ (double) (end.tv_nsec - start.tv_nsec) / 1e6);
		protobuf_c_message_free_unpacked(message, NULL);
	}
	nng_close(socket);
	return 0;
}
