/*
 * api.c - Request -> Response handlers (see api.h).
 *
 * Adding a question is one handler and one row in `handlers`.
 */
#include "collector/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/wire.h"

/* Largest number of rows one slow-queries answer may hold. */
#define API_MAX_LIMIT 10000

static void
answer_error(Pgfleet__V1__Response *response, Pgfleet__V1__Error__Code code,
    const char *format, ...) __attribute__((format(printf, 3, 4)));

static void
answer_error(Pgfleet__V1__Response *response, Pgfleet__V1__Error__Code code,
    const char *format, ...)
{
	Pgfleet__V1__Error *error = malloc(sizeof(*error));
	char message[512];
	va_list args;

	va_start(args, format);
	vsnprintf(message, sizeof(message), format, args);
	va_end(args);
	if (error == NULL)
		return; /* out of memory: the client sees an empty response */
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_ERROR;
	response->error = error;
	pgfleet__v1__error__init(error);
	error->code = code;
	error->message = strdup(message);
	if (error->message == NULL)
		error->message = (char *) protobuf_c_empty_string;
}

static void
handle_slow_queries(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__SlowQueriesRequest *question = request->slow_queries;
	Pgfleet__V1__SlowQueries *answer;
	char errbuf[512];

	if (question->limit > API_MAX_LIMIT) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "limit %u is larger than %d", question->limit, API_MAX_LIMIT);
		return;
	}
	if (!(question->min_duration_ms >= 0.0)) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "min_duration_ms must be zero or more");
		return;
	}
	if (question->scope != NULL && question->scope->until_us != 0 &&
	    question->scope->until_us <= question->scope->since_us) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "the window ends before it starts");
		return;
	}
	answer = malloc(sizeof(*answer));
	if (answer == NULL) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL, "out of memory");
		return;
	}
	pgfleet__v1__slow_queries__init(answer);
	if (store_slow_queries(store, question, answer, errbuf, sizeof(errbuf)) != PGF_OK) {
		free(answer);
		pgf_error("slow-queries: %s", errbuf);
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL, "%s", errbuf);
		return;
	}
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_SLOW_QUERIES;
	response->slow_queries = answer;
}

static const struct {
	Pgfleet__V1__Request__QuestionCase question;
	void (*handle)(struct store *store, const Pgfleet__V1__Request *request,
	    Pgfleet__V1__Response *response);
} handlers[] = {
	{PGFLEET__V1__REQUEST__QUESTION_SLOW_QUERIES, handle_slow_queries},
};

void
api_answer(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].question == request->question_case) {
			handlers[i].handle(store, request, response);
			return;
		}
	}
	answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
	    "unknown question %d: this collector is older than the client",
	    (int) request->question_case);
}

void
api_answer_bytes(struct store *store, const uint8_t *data, size_t len,
    Pgfleet__V1__Response *response)
{
	ProtobufCMessage *message = NULL;
	int rv = pgf_wire_unpack(&pgfleet__v1__request__descriptor, data, len,
	    API_MAX_REQUEST_BYTES, &message);
	if (rv != PGF_OK) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "could not decode the request: %s", pgf_error_text(rv));
		return;
	}
	api_answer(store, (Pgfleet__V1__Request *) message, response);
	protobuf_c_message_free_unpacked(message, NULL);
}

void
api_response_fini(Pgfleet__V1__Response *response)
{
	switch (response->answer_case) {
	case PGFLEET__V1__RESPONSE__ANSWER_ERROR:
		if (response->error != NULL) {
			if (response->error->message != protobuf_c_empty_string)
				free(response->error->message);
			free(response->error);
		}
		break;
	case PGFLEET__V1__RESPONSE__ANSWER_SLOW_QUERIES:
		store_slow_queries_fini(response->slow_queries);
		free(response->slow_queries);
		break;
	default:
		break;
	}
	pgfleet__v1__response__init(response);
}
