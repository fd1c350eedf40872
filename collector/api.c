/*
 * api.c - Request -> Response handlers (see api.h).
 *
 * Adding a question is one handler and one row in `handlers`.
 */
#include "collector/api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/advice.h"
#include "collector/analysis_pools.h"
#include "collector/api_actions.h"
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

/* Checks what every listing shares: the limit and the window. */
static bool
listing_ok(const Pgfleet__V1__Scope *scope, uint32_t limit, Pgfleet__V1__Response *response)
{
	if (limit > API_MAX_LIMIT) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "limit %u is larger than %d", limit, API_MAX_LIMIT);
		return false;
	}
	if (scope != NULL && scope->until_us != 0 && scope->until_us <= scope->since_us) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "the window ends before it starts");
		return false;
	}
	return true;
}

/*
 * LISTING_HANDLER defines handle_NAME for a listing question: checks, an
 * answer message of type ANSWER (malloc'd, as store_answer_free expects),
 * the store op NAME, and the response's member NAME.
 */
#define LISTING_HANDLER(name, ANSWER, answer_init, ANSWER_CASE)                         \
	static void handle_##name(struct store *store, const Pgfleet__V1__Request *request, \
	    Pgfleet__V1__Response *response)                                               \
	{                                                                                  \
		ANSWER *answer;                                                            \
		char errbuf[512];                                                          \
		int rv;                                                                    \
		if (!listing_ok(request->name->scope, request->name->limit, response))    \
			return;                                                            \
		answer = malloc(sizeof(*answer));                                          \
		if (answer == NULL) {                                                      \
			answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,     \
			    "out of memory");                                              \
			return;                                                            \
		}                                                                          \
		answer_init(answer);                                                       \
		rv = store->ops->name(store, request->name, answer, errbuf, sizeof(errbuf)); \
		if (rv != PGF_OK) {                                                        \
			store_answer_free(&answer->base);                                  \
			answer_error(response,                                             \
			    rv == PGF_EUNAVAILABLE ? PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE \
						   : PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,   \
			    "%s: %s", #name, errbuf);                                      \
			return;                                                            \
		}                                                                          \
		response->answer_case = ANSWER_CASE;                                       \
		response->name = answer;                                                   \
	}

LISTING_HANDLER(fleet, Pgfleet__V1__Fleet, pgfleet__v1__fleet__init,
    PGFLEET__V1__RESPONSE__ANSWER_FLEET)
LISTING_HANDLER(activity, Pgfleet__V1__Activity, pgfleet__v1__activity__init,
    PGFLEET__V1__RESPONSE__ANSWER_ACTIVITY)
LISTING_HANDLER(replication, Pgfleet__V1__Replication, pgfleet__v1__replication__init,
    PGFLEET__V1__RESPONSE__ANSWER_REPLICATION)
LISTING_HANDLER(table_stats, Pgfleet__V1__TableStats, pgfleet__v1__table_stats__init,
    PGFLEET__V1__RESPONSE__ANSWER_TABLE_STATS)
LISTING_HANDLER(index_usage, Pgfleet__V1__IndexUsage, pgfleet__v1__index_usage__init,
    PGFLEET__V1__RESPONSE__ANSWER_INDEX_USAGE)
LISTING_HANDLER(bloat_stats, Pgfleet__V1__BloatStats, pgfleet__v1__bloat_stats__init,
    PGFLEET__V1__RESPONSE__ANSWER_BLOAT_STATS)
LISTING_HANDLER(index_recommendations, Pgfleet__V1__IndexRecommendations,
    pgfleet__v1__index_recommendations__init,
    PGFLEET__V1__RESPONSE__ANSWER_INDEX_RECOMMENDATIONS)

static void
handle_query_trend(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__QueryTrendRequest *question = request->query_trend;
	Pgfleet__V1__QueryTrend *answer;
	char errbuf[512];
	int rv;

	if (!listing_ok(question->scope, 0, response))
		return;
	if (question->bucket_ms < 0) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "bucket_ms must be zero or more");
		return;
	}
	answer = malloc(sizeof(*answer));
	if (answer == NULL) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL, "out of memory");
		return;
	}
	pgfleet__v1__query_trend__init(answer);
	rv = store->ops->query_trend(store, question, answer, errbuf, sizeof(errbuf));
	if (rv != PGF_OK) {
		store_answer_free(&answer->base);
		answer_error(response, rv == PGF_EINVAL ? PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST
							: PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,
		    "query-trend: %s", errbuf);
		return;
	}
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_QUERY_TREND;
	response->query_trend = answer;
}

/* The error code of a trend's store result. */
static Pgfleet__V1__Error__Code
trend_error_code(int rv)
{
	switch (rv) {
	case PGF_EINVAL:
		return PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST;
	case PGF_ENOTFOUND:
		return PGFLEET__V1__ERROR__CODE__CODE_NOT_FOUND;
	case PGF_EUNAVAILABLE:
		return PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE;
	default:
		return PGFLEET__V1__ERROR__CODE__CODE_INTERNAL;
	}
}

/*
 * TREND_HANDLER defines handle_NAME for a trend question (a scope and a
 * bucket_ms): checks, an answer of type ANSWER (malloc'd, as
 * store_answer_free expects), the store op NAME, the response's member
 * NAME; errors are prefixed with LABEL, the CLI's subcommand.
 */
#define TREND_HANDLER(name, label, ANSWER, answer_init, ANSWER_CASE)                    \
	static void handle_##name(struct store *store, const Pgfleet__V1__Request *request, \
	    Pgfleet__V1__Response *response)                                               \
	{                                                                                  \
		ANSWER *answer;                                                            \
		char errbuf[512];                                                          \
		int rv;                                                                    \
		if (!listing_ok(request->name->scope, 0, response))                        \
			return;                                                            \
		if (request->name->bucket_ms < 0) {                                        \
			answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,  \
			    "bucket_ms must be zero or more");                             \
			return;                                                            \
		}                                                                          \
		answer = malloc(sizeof(*answer));                                          \
		if (answer == NULL) {                                                      \
			answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,     \
			    "out of memory");                                              \
			return;                                                            \
		}                                                                          \
		answer_init(answer);                                                       \
		rv = store->ops->name(store, request->name, answer, errbuf, sizeof(errbuf)); \
		if (rv != PGF_OK) {                                                        \
			store_answer_free(&answer->base);                                  \
			answer_error(response, trend_error_code(rv), "%s: %s", label, errbuf); \
			return;                                                            \
		}                                                                          \
		response->answer_case = ANSWER_CASE;                                       \
		response->name = answer;                                                   \
	}

TREND_HANDLER(table_trend, "table-trend", Pgfleet__V1__TableTrend,
    pgfleet__v1__table_trend__init, PGFLEET__V1__RESPONSE__ANSWER_TABLE_TREND)
TREND_HANDLER(replication_trend, "replication-trend", Pgfleet__V1__ReplicationTrend,
    pgfleet__v1__replication_trend__init, PGFLEET__V1__RESPONSE__ANSWER_REPLICATION_TREND)

/* ---- pools and regressions (api_pools.proto) ---- */

LISTING_HANDLER(pool_stats, Pgfleet__V1__PoolStats, pgfleet__v1__pool_stats__init,
    PGFLEET__V1__RESPONSE__ANSWER_POOL_STATS)
LISTING_HANDLER(pool_recommendation, Pgfleet__V1__PoolRecommendation,
    pgfleet__v1__pool_recommendation__init, PGFLEET__V1__RESPONSE__ANSWER_POOL_RECOMMENDATION)
LISTING_HANDLER(query_regressions, Pgfleet__V1__QueryRegressions,
    pgfleet__v1__query_regressions__init, PGFLEET__V1__RESPONSE__ANSWER_QUERY_REGRESSIONS)

/* A pool spans databases: a database filter would split it. */
static bool
pools_scope_ok(const Pgfleet__V1__Scope *scope, Pgfleet__V1__Response *response)
{
	if (scope != NULL && scope->database[0] != '\0') {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "a pool spans databases: filter pools by instance or cluster, not by database");
		return false;
	}
	return true;
}

static void
handle_pools_stats(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	if (pools_scope_ok(request->pool_stats->scope, response))
		handle_pool_stats(store, request, response);
}

static void
handle_pools_recommendation(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	double buffer = request->pool_recommendation->buffer;

	if (!isfinite(buffer) || buffer < 0.0 || buffer > POOLS_FORMULA_MAX) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "buffer must be a number of connections, zero or more");
		return;
	}
	if (pools_scope_ok(request->pool_recommendation->scope, response))
		handle_pool_recommendation(store, request, response);
}

static void
handle_pools_size(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__PoolSizeRequest *question = request->pool_size;
	Pgfleet__V1__PoolSize *answer;
	char text[256];

	(void) store;
	if (!pools_size_check(question->concurrent_requests, question->avg_query_ms,
		question->buffer, text, sizeof(text))) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST, "%s", text);
		return;
	}
	answer = malloc(sizeof(*answer));
	if (answer == NULL) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL, "out of memory");
		return;
	}
	pgfleet__v1__pool_size__init(answer);
	answer->concurrent_requests = question->concurrent_requests;
	answer->avg_query_seconds = question->avg_query_ms / 1000.0;
	answer->buffer = question->buffer;
	answer->exact_pool_size = pools_formula(answer->concurrent_requests,
	    answer->avg_query_seconds, answer->buffer);
	answer->pool_size = pools_round_up(answer->exact_pool_size);
	snprintf(text, sizeof(text), "(%g * %g) + %g = %g", answer->concurrent_requests,
	    answer->avg_query_seconds, answer->buffer, answer->exact_pool_size);
	answer->formula = strdup(text);
	if (answer->formula == NULL) {
		free(answer);
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL, "out of memory");
		return;
	}
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_POOL_SIZE;
	response->pool_size = answer;
}

static void
handle_regressions(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__QueryRegressionsRequest *question = request->query_regressions;

	if (question->min_factor != 0.0 &&
	    !(isfinite(question->min_factor) && question->min_factor > 1.0)) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "min_factor must be more than 1");
		return;
	}
	if (!(isfinite(question->min_extra_seconds) && question->min_extra_seconds >= 0.0)) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "min_extra_seconds must be zero or more");
		return;
	}
	if (question->min_calls < 0) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "min_calls must be zero or more");
		return;
	}
	if (question->baseline_until_us != 0 &&
	    question->baseline_until_us <= question->baseline_since_us) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "the baseline ends before it starts");
		return;
	}
	handle_query_regressions(store, request, response);
}

static const struct {
	Pgfleet__V1__Request__QuestionCase question;
	void (*handle)(struct store *store, const Pgfleet__V1__Request *request,
	    Pgfleet__V1__Response *response);
} handlers[] = {
	{PGFLEET__V1__REQUEST__QUESTION_SLOW_QUERIES, handle_slow_queries},
	/* actions: forwarded to the instance's agent (api_actions.c) */
	{PGFLEET__V1__REQUEST__QUESTION_EXPLAIN, api_actions_explain},
	{PGFLEET__V1__REQUEST__QUESTION_BACKEND_SIGNAL, api_actions_backend_signal},
	{PGFLEET__V1__REQUEST__QUESTION_FLEET, handle_fleet},
	{PGFLEET__V1__REQUEST__QUESTION_ACTIVITY, handle_activity},
	{PGFLEET__V1__REQUEST__QUESTION_REPLICATION, handle_replication},
	{PGFLEET__V1__REQUEST__QUESTION_TABLE_STATS, handle_table_stats},
	{PGFLEET__V1__REQUEST__QUESTION_INDEX_USAGE, handle_index_usage},
	{PGFLEET__V1__REQUEST__QUESTION_BLOAT_STATS, handle_bloat_stats},
	{PGFLEET__V1__REQUEST__QUESTION_QUERY_TREND, handle_query_trend},
	{PGFLEET__V1__REQUEST__QUESTION_TABLE_TREND, handle_table_trend},
	{PGFLEET__V1__REQUEST__QUESTION_REPLICATION_TREND, handle_replication_trend},
	{PGFLEET__V1__REQUEST__QUESTION_INDEX_RECOMMENDATIONS, handle_index_recommendations},
	{PGFLEET__V1__REQUEST__QUESTION_VACUUM_ADVICE, advice_handle_vacuum},
	{PGFLEET__V1__REQUEST__QUESTION_REPLICATION_HEALTH, advice_handle_replication_health},
	{PGFLEET__V1__REQUEST__QUESTION_CHECKLIST, advice_handle_checklist},
	{PGFLEET__V1__REQUEST__QUESTION_POOL_STATS, handle_pools_stats},
	{PGFLEET__V1__REQUEST__QUESTION_POOL_RECOMMENDATION, handle_pools_recommendation},
	{PGFLEET__V1__REQUEST__QUESTION_POOL_SIZE, handle_pools_size},
	{PGFLEET__V1__REQUEST__QUESTION_QUERY_REGRESSIONS, handle_regressions},
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
	case PGFLEET__V1__RESPONSE__ANSWER__NOT_SET:
		break;
	default:
		/* the listings' answers: the set member of the oneof */
		for (unsigned i = 0; i < response->base.descriptor->n_fields; i++) {
			const ProtobufCFieldDescriptor *field = &response->base.descriptor->fields[i];
			if (field->id == (uint32_t) response->answer_case)
				store_answer_free(*(ProtobufCMessage **) ((char *) response +
				    field->offset));
		}
		break;
	}
	pgfleet__v1__response__init(response);
}
