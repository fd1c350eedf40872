/*
 * http_api_client.c - the CLI-socket side of tests/bench/http_api.sh: asks
 * the collector's nng API (api_listen) the same slow-queries question the
 * HTTP benchmark asks /api/db/slow-queries, N times, one at a time, and
 * prints requests/s and latency percentiles. One process and one connection
 * for every request, so it measures the collector's answer and the
 * transport, not a CLI process starting.
 *
 * Usage: bench_http_api_client --collector ADDR [--requests N]
 *          [--since-us T] [--limit L] [--question slow-queries|fleet]
 * (fleet: the fleet's instances, a cheap answer, to see the transport).
 * Prints one line: requests=N seconds=S requests_per_s=R p50_ms=M p99_ms=P
 * bytes=B (B: the last answer's size).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/wire.h"
#include "pgfleet/v1/api.pb-c.h"

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{"collector", required_argument, NULL, 'c'},
		{"requests", required_argument, NULL, 'n'},
		{"since-us", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'l'},
		{"question", required_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	const char *collector = NULL;
	long requests = 200;
	Pgfleet__V1__Request request = PGFLEET__V1__REQUEST__INIT;
	Pgfleet__V1__SlowQueriesRequest question = PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
	Pgfleet__V1__FleetRequest fleet = PGFLEET__V1__FLEET_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	bool ask_fleet = false;
	double *latencies;
	double started;
	size_t bytes = 0;
	nng_socket socket;
	int option;
	int rv;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case 'c':
			collector = optarg;
			break;
		case 'n':
			requests = strtol(optarg, NULL, 10);
			break;
		case 's':
			scope.since_us = strtoll(optarg, NULL, 10);
			break;
		case 'l':
			question.limit = (uint32_t) strtoul(optarg, NULL, 10);
			break;
		case 'q':
			ask_fleet = strcmp(optarg, "fleet") == 0;
			break;
		default:
			fprintf(stderr, "usage: bench_http_api_client --collector ADDR [--requests N] [--since-us T] [--limit L]\n");
			return 2;
		}
	}
	if (collector == NULL || requests < 1 || requests > 1000000) {
		fprintf(stderr, "bench_http_api_client: --collector ADDR and --requests 1..1000000 needed\n");
		return 2;
	}
	question.scope = &scope;
	request.question_case = PGFLEET__V1__REQUEST__QUESTION_SLOW_QUERIES;
	request.slow_queries = &question;
	if (ask_fleet) {
		request.question_case = PGFLEET__V1__REQUEST__QUESTION_FLEET;
		request.fleet = &fleet;
	}
	if ((rv = nng_req0_open(&socket)) != 0 ||
	    (rv = nng_socket_set_ms(socket, NNG_OPT_RECVTIMEO, 60000)) != 0 ||
	    (rv = nng_socket_set_size(socket, NNG_OPT_RECVMAXSZ, 256u << 20)) != 0 ||
	    (rv = nng_dial(socket, collector, NULL, 0)) != 0) {
		fprintf(stderr, "bench_http_api_client: could not connect to \"%s\": %s\n", collector,
		    nng_strerror(rv));
		return 1;
	}
	latencies = calloc((size_t) requests, sizeof(*latencies));
	if (latencies == NULL)
		return 1;
	started = now_ms();
	for (long i = 0; i < requests; i++) {
		ProtobufCMessage *message = NULL;
		Pgfleet__V1__Response *response;
		double t0 = now_ms();

		if ((rv = pgf_wire_send(socket, &request.base)) != PGF_OK ||
		    (rv = pgf_wire_recv(socket, &pgfleet__v1__response__descriptor, 256u << 20,
			 &message)) != PGF_OK) {
			fprintf(stderr, "bench_http_api_client: request %ld: %s\n", i,
			    pgf_error_text(rv));
			free(latencies);
			nng_close(socket);
			return 1;
		}
		latencies[i] = now_ms() - t0;
		response = (Pgfleet__V1__Response *) message;
		if (response->answer_case == PGFLEET__V1__RESPONSE__ANSWER_ERROR ||
		    response->answer_case == PGFLEET__V1__RESPONSE__ANSWER__NOT_SET) {
			fprintf(stderr, "bench_http_api_client: an error answer: %s\n",
			    response->answer_case == PGFLEET__V1__RESPONSE__ANSWER_ERROR
				? response->error->message
				: "(no answer)");
			protobuf_c_message_free_unpacked(message, NULL);
			free(latencies);
			nng_close(socket);
			return 1;
		}
		bytes = protobuf_c_message_get_packed_size(message);
		protobuf_c_message_free_unpacked(message, NULL);
	}
	{
		double seconds = (now_ms() - started) / 1e3;
		qsort(latencies, (size_t) requests, sizeof(*latencies), compare_doubles);
		printf("requests=%ld seconds=%.3f requests_per_s=%.1f p50_ms=%.3f p99_ms=%.3f bytes=%zu\n",
		    requests, seconds, (double) requests / seconds, latencies[requests / 2],
		    latencies[(size_t) ((double) requests * 0.99)], bytes);
	}
	free(latencies);
	nng_close(socket);
	return 0;
}
