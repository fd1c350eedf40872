/*
 * http_server.c - HTTP JSON API and /metrics over libmicrohttpd (see
 * http_server.h).
 *
 * Design note. One request is one exchange struct, made on libmicrohttpd's
 * first call for the request and freed in its "completed" callback:
 *   1. headers read: a Content-Length over max_body is refused at once
 *      (413; the body is never read);
 *   2. body pieces: kept up to max_body; a chunked body that goes over is
 *      read and dropped, and answered 413 at the end;
 *   3. request complete: token, route, parameters, instance, then the
 *      answer from a borrowed store handle, rendered as JSON.
 * Every answer is queued in step 1 or 3, from the thread that runs the
 * request; nothing here blocks but the store read (and, for actions, the
 * agent's answer the handler waits for).
 */
#include "collector/http_server.h"

#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>

#include "collector/api.h"
#include "collector/http_routes.h"
#include "collector/metrics.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/render.h"
#include "common/timeutil.h"
#include "common/tls_link.h"

struct http_server {
	struct MHD_Daemon *daemon;
	char *token;
	char *admin_token; /* "" = none; either token is accepted */
	char *store_path;
	size_t max_body;
	void (*ingest_counters)(void *arg, struct ingest_counters *out);
	void *ingest_counters_arg;
	struct collector_stats *stats;
	/* read-only store handles, lent one per request */
	pthread_mutex_t lock;
	pthread_cond_t returned;
	struct store **stores;
	bool *lent;
	unsigned n_stores;
	struct sockaddr_storage address;
	/* HTTPS: the PEM texts libmicrohttpd was given (NULL: plain HTTP);
	 * with a CA, every request needs a client certificate signed by it */
	struct pgf_tls_link *tls;
	bool require_client_cert;
};

/* Mutual TLS for HTTPS. libmicrohttpd asks for a client certificate but
 * lets the handshake finish without one (GNUTLS_CERT_REQUEST), so each
 * request checks it: present, signed by http_tls_ca, in its dates. */
static bool
client_certificate_ok(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	unsigned status = 0;

	if (info == NULL || info->tls_session == NULL)
		return false;
	return gnutls_certificate_verify_peers2((gnutls_session_t) info->tls_session, &status) ==
		   GNUTLS_E_SUCCESS &&
	       status == 0;
}

struct exchange {
	char *body;
	size_t len;
	bool too_large;
};

/* ---- responses --------------------------------------------------------- */

/* Queues body (malloc'd; taken over) with status. */
static enum MHD_Result
respond(struct MHD_Connection *connection, unsigned status, const char *content_type,
    char *body, size_t len, const char *header, const char *header_value)
{
	struct MHD_Response *response =
	    MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result result;

	if (response == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (header != NULL)
		MHD_add_response_header(response, header, header_value);
	result = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return result;
}

/* Queues {"error": message, "code": code} on one line. */
static enum MHD_Result
respond_error(struct MHD_Connection *connection, unsigned status, const char *code,
    const char *message, const char *header, const char *header_value)
{
	/* the message may quote what the client sent: made valid UTF-8 first */
	char *clean = pgf_text_clean((const uint8_t *) message, strlen(message));
	json_t *error = clean != NULL ? json_pack("{s:s, s:s}", "error", clean, "code", code) : NULL;
	char *text = error != NULL ? json_dumps(error, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	char *line;
	size_t len;

	free(clean);
	json_decref(error);
	if (text == NULL)
		return MHD_NO;
	/* jansson allocates with malloc; add the newline curl users expect */
	len = strlen(text);
	line = realloc(text, len + 2);
	if (line == NULL) {
		free(text);
		return MHD_NO;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	pgf_debug("http: %u %s", status, message);
	return respond(connection, status, "application/json", line, len + 1, header,
	    header_value);
}

/* The HTTP status and code word of an Error answer. */
static unsigned
error_status(Pgfleet__V1__Error__Code code, const char **word)
{
	switch (code) {
	case PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST:
		*word = "bad_request";
		return MHD_HTTP_BAD_REQUEST;
	case PGFLEET__V1__ERROR__CODE__CODE_NOT_FOUND:
		*word = "not_found";
		return MHD_HTTP_NOT_FOUND;
	case PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE:
		*word = "unavailable";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		*word = "internal";
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* Writes what the FILE collected into a malloc'd buffer. */
struct memory_file {
	FILE *file;
	char *data;
	size_t len;
};

static bool
memory_file_open(struct memory_file *memory)
{
	memory->data = NULL;
	memory->len = 0;
	memory->file = open_memstream(&memory->data, &memory->len);
	return memory->file != NULL;
}

/* Closes the FILE; true with data/len set, or false (data freed). */
static bool
memory_file_close(struct memory_file *memory, bool ok)
{
	if (fclose(memory->file) != 0)
		ok = false;
	if (!ok) {
		free(memory->data);
		memory->data = NULL;
	}
	return ok;
}

/* Queues the answer in response: its JSON exactly as `pgfleet --json`
 * prints it, or its error. */
static enum MHD_Result
respond_answer(struct MHD_Connection *connection, const Pgfleet__V1__Response *response)
{
	const ProtobufCMessage *answer = NULL;
	const ProtobufCFieldDescriptor *rows;
	struct memory_file memory;
	json_t *rendered;
	bool ok;

	if (response->answer_case == PGFLEET__V1__RESPONSE__ANSWER_ERROR &&
	    response->error != NULL) {
		const char *word;
		unsigned status = error_status(response->error->code, &word);
		return respond_error(connection, status, word, response->error->message, NULL,
		    NULL);
	}
	/* the set member of the oneof is the answer, as the CLI finds it */
	for (unsigned i = 0; i < response->base.descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &response->base.descriptor->fields[i];
		if (field->type == PROTOBUF_C_TYPE_MESSAGE &&
		    *(const uint32_t *) ((const char *) response + field->quantifier_offset) ==
			field->id)
			answer = *(ProtobufCMessage *const *) ((const char *) response + field->offset);
	}
	if (answer == NULL)
		return respond_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "the collector made an empty answer", NULL, NULL);
	/* a list of rows is an array (the guide's endpoints), as --json prints
	 * it; an answer whose one repeated field is a detail, not its rows
	 * (explain's flags), is an object, as `pgfleet explain --json` prints it */
	rows = pgf_render_rows_field(answer);
	rendered = rows != NULL && strcmp(rows->name, "rows") == 0 ? pgf_render_answer_json(answer)
								   : pgf_render_json(answer);
	if (rendered == NULL || !memory_file_open(&memory)) {
		json_decref(rendered);
		return respond_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "out of memory", NULL, NULL);
	}
	ok = pgf_render_json_print(rendered, memory.file) == 0;
	json_decref(rendered);
	if (!memory_file_close(&memory, ok))
		return respond_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "could not render the answer", NULL, NULL);
	return respond(connection, MHD_HTTP_OK, "application/json", memory.data, memory.len,
	    NULL, NULL);
}

/* ---- store handles ----------------------------------------------------- */

static struct store *
borrow_store(struct http_server *server, unsigned *index)
{
	struct store *store = NULL;

	pthread_mutex_lock(&server->lock);
	while (store == NULL) {
		for (unsigned i = 0; i < server->n_stores && store == NULL; i++) {
			if (!server->lent[i]) {
				server->lent[i] = true;
				store = server->stores[i];
				*index = i;
			}
		}
		if (store == NULL)
			pthread_cond_wait(&server->returned, &server->lock);
	}
	pthread_mutex_unlock(&server->lock);
	return store;
}

static void
return_store(struct http_server *server, unsigned index)
{
	pthread_mutex_lock(&server->lock);
	server->lent[index] = false;
	pthread_cond_signal(&server->returned);
	pthread_mutex_unlock(&server->lock);
}

/* ---- requests ---------------------------------------------------------- */

/* Compares the whole of both, whatever differs where: the time taken says
 * nothing about how much of a guess was right. */
static bool
token_matches(const char *given, const char *expected)
{
	size_t given_len = strlen(given);
	size_t expected_len = strlen(expected);
	unsigned char differ = given_len != expected_len;

	for (size_t i = 0; i < expected_len; i++)
		differ |= (unsigned char) expected[i] ^
		    (unsigned char) (i < given_len ? given[i] : 0);
	return differ == 0;
}

static bool
authorized(struct http_server *server, struct MHD_Connection *connection)
{
	const char *header;

	if (server->token[0] == '\0' && server->admin_token[0] == '\0')
		return true;
	header = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return false;
	header += 7;
	while (*header == ' ')
		header++;
	/* both compared, whichever matches: no timing says which one it was */
	{
		bool http_ok = server->token[0] != '\0' && token_matches(header, server->token);
		bool admin_ok = server->admin_token[0] != '\0' &&
		    token_matches(header, server->admin_token);
		return http_ok || admin_ok;
	}
}

struct parameters {
	struct http_question *question;
	int64_t now_us;
	int rv;
	char errbuf[512];
};

static enum MHD_Result
set_parameter(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct parameters *parameters = arg;

	(void) kind;
	parameters->rv = http_question_set(parameters->question, key, value, parameters->now_us,
	    parameters->errbuf, sizeof(parameters->errbuf));
	return parameters->rv == PGF_OK ? MHD_YES : MHD_NO;
}

/* Whether the fleet knows an instance (or cluster): asked like the CLI's
 * `fleet --instance NAME`, through the same handler. */
static bool
fleet_knows(struct store *store, const char *instance, const char *cluster, bool *known)
{
	Pgfleet__V1__Request request = PGFLEET__V1__REQUEST__INIT;
	Pgfleet__V1__FleetRequest fleet = PGFLEET__V1__FLEET_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__Response response = PGFLEET__V1__RESPONSE__INIT;
	bool answered;

	scope.instance = (char *) instance;
	scope.cluster = (char *) cluster;
	fleet.scope = &scope;
	fleet.limit = 1;
	request.question_case = PGFLEET__V1__REQUEST__QUESTION_FLEET;
	request.fleet = &fleet;
	api_answer(store, &request, &response);
	answered = response.answer_case == PGFLEET__V1__RESPONSE__ANSWER_FLEET;
	*known = answered && response.fleet->n_rows > 0;
	api_response_fini(&response);
	return answered;
}

/* Sets the question's requested_by (actions' audit) to the HTTP peer. */
static int
set_requested_by(struct http_question *question, struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[NI_MAXHOST] = "unknown";
	char who[NI_MAXHOST + 16];
	char errbuf[128];

	if (protobuf_c_message_descriptor_get_field_by_name(question->route->question,
		"requested_by") == NULL)
		return PGF_OK;
	if (info != NULL && info->client_addr != NULL)
		(void) getnameinfo(info->client_addr,
		    info->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							    : sizeof(struct sockaddr_in),
		    host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	snprintf(who, sizeof(who), "http %s", host);
	return http_question_set(question, "requested_by", who, 0, errbuf, sizeof(errbuf));
}

static enum MHD_Result
answer_question(struct http_server *server, struct MHD_Connection *connection,
    const struct http_route *route, struct exchange *exchange)
{
	struct http_question question;
	struct parameters parameters = {.rv = PGF_OK};
	Pgfleet__V1__Response response = PGFLEET__V1__RESPONSE__INIT;
	struct store *store;
	unsigned store_index = 0;
	enum MHD_Result result;
	char message[600];
	bool known = true;
	int64_t now_us = pgf_time_now_us();

	if (http_question_init(&question, route, now_us) != PGF_OK) {
		http_question_fini(&question);
		return respond_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "out of memory", NULL, NULL);
	}
	parameters.question = &question;
	parameters.now_us = now_us;
	if (route->json_body && exchange->len > 0) {
		parameters.rv = http_question_set_json(&question, exchange->body, exchange->len,
		    now_us, parameters.errbuf, sizeof(parameters.errbuf));
	} else if (route->json_body) {
		parameters.rv = PGF_EINVAL;
		snprintf(parameters.errbuf, sizeof(parameters.errbuf),
		    "%s needs a JSON object body", route->path);
	}
	if (parameters.rv == PGF_OK)
		MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, set_parameter,
		    &parameters);
	if (parameters.rv == PGF_OK)
		parameters.rv = http_question_check(&question, parameters.errbuf,
		    sizeof(parameters.errbuf));
	if (parameters.rv == PGF_OK)
		parameters.rv = set_requested_by(&question, connection);
	if (parameters.rv != PGF_OK) {
		result = parameters.rv == PGF_EINVAL
		    ? respond_error(connection, MHD_HTTP_BAD_REQUEST, "bad_request",
			  parameters.errbuf, NULL, NULL)
		    : respond_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			  "out of memory", NULL, NULL);
		http_question_fini(&question);
		return result;
	}

	store = borrow_store(server, &store_index);
	/* listings answer an unknown instance with no rows: say so instead */
	if (http_question_instance(&question)[0] != '\0' ||
	    http_question_cluster(&question)[0] != '\0') {
		const char *instance = http_question_instance(&question);
		const char *cluster = http_question_cluster(&question);
		if (fleet_knows(store, instance, "", &known) && !known)
			snprintf(message, sizeof(message), "unknown instance \"%s\"", instance);
		else if (known && cluster[0] != '\0' && fleet_knows(store, "", cluster, &known) &&
		    !known)
			snprintf(message, sizeof(message), "unknown cluster \"%s\"", cluster);
	}
	if (known)
		api_answer(store, &question.request, &response);
	return_store(server, store_index);

	result = known ? respond_answer(connection, &response)
		       : respond_error(connection, MHD_HTTP_NOT_FOUND, "not_found", message, NULL,
			     NULL);
	api_response_fini(&response);
	http_question_fini(&question);
	return result;
}

static void
add_collector_figures(struct http_server *server, struct metrics_set *set, bool *ok)
{
	struct ingest_counters counters;
	struct stat info;
	char path[4096];
	char bound[32];

	if (server->ingest_counters != NULL) {
		server->ingest_counters(server->ingest_counters_arg, &counters);
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_RECEIVED, NULL,
				 (double) counters.received) == PGF_OK;
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_STORED, NULL,
				 (double) counters.stored) == PGF_OK;
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_DUPLICATES, NULL,
				 (double) counters.duplicates) == PGF_OK;
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_REJECTED, NULL,
				 (double) counters.rejected) == PGF_OK;
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_RETRY, NULL,
				 (double) counters.retry_later) == PGF_OK;
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_UNAUTHORIZED, NULL,
				 (double) counters.unauthorized) == PGF_OK;
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_RATE_LIMITED, NULL,
				 (double) counters.rate_limited) == PGF_OK;
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_CONNECTIONS_REFUSED, NULL,
				 (double) counters.connections_refused) == PGF_OK;
	}
	if (server->stats != NULL) {
		struct collector_stats_snapshot snapshot;
		collector_stats_read(server->stats, &snapshot);
		for (int i = 0; i < COLLECTOR_STATS_BUCKETS; i++) {
			const char *le[] = {metrics_format_value(collector_stats_bucket_bounds[i],
			    bound, sizeof(bound))};
			*ok = *ok && metrics_add_histogram_part(set, METRICS_COLLECTOR_INGEST_SECONDS,
					 METRICS_SUFFIX_BUCKET, le,
					 (double) snapshot.latency_buckets[i]) == PGF_OK;
		}
		{
			const char *le[] = {"+Inf"};
			*ok = *ok && metrics_add_histogram_part(set, METRICS_COLLECTOR_INGEST_SECONDS,
					 METRICS_SUFFIX_BUCKET, le,
					 (double) snapshot.latency_count) == PGF_OK;
		}
		*ok = *ok && metrics_add_histogram_part(set, METRICS_COLLECTOR_INGEST_SECONDS,
				 METRICS_SUFFIX_SUM, NULL,
				 (double) snapshot.latency_sum_us / 1e6) == PGF_OK;
		*ok = *ok && metrics_add_histogram_part(set, METRICS_COLLECTOR_INGEST_SECONDS,
				 METRICS_SUFFIX_COUNT, NULL,
				 (double) snapshot.latency_count) == PGF_OK;
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_START_TIME, NULL,
				 (double) (snapshot.started_us / 1000000)) == PGF_OK;
	}
	if (stat(server->store_path, &info) == 0)
		*ok = *ok && metrics_add(set, METRICS_COLLECTOR_STORE_BYTES, NULL,
				 (double) info.st_size) == PGF_OK;
	snprintf(path, sizeof(path), "%s-wal", server->store_path);
	/* no WAL file (checkpointed and closed) is an empty one */
	*ok = *ok && metrics_add(set, METRICS_COLLECTOR_STORE_WAL_BYTES, NULL,
			 stat(path, &info) == 0 ? (double) info.st_size : 0.0) == PGF_OK;
}

static enum MHD_Result
answer_metrics(struct http_server *server, struct MHD_Connection *connection)
{
	struct metrics_set set;
	struct memory_file memory;
	struct store *store;
	unsigned store_index = 0;
	char errbuf[512];
	bool ok = true;
	int rv;

	metrics_set_init(&set);
	store = borrow_store(server, &store_index);
	rv = store->ops->metrics(store, HTTP_SERVER_METRICS_STATEMENTS, pgf_time_now_us(), &set,
	    errbuf, sizeof(errbuf));
	return_store(server, store_index);
	if (rv != PGF_OK) {
		metrics_set_fini(&set);
		pgf_error("metrics: %s", errbuf);
		return respond_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", errbuf,
		    NULL, NULL);
	}
	add_collector_figures(server, &set, &ok);
	if (!ok || !memory_file_open(&memory)) {
		metrics_set_fini(&set);
		return respond_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "out of memory", NULL, NULL);
	}
	ok = metrics_render(&set, memory.file) == 0;
	metrics_set_fini(&set);
	if (!memory_file_close(&memory, ok))
		return respond_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
		    "could not render the metrics", NULL, NULL);
	return respond(connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
	    memory.data, memory.len, NULL, NULL);
}

/* The request is complete: answer it. */
static enum MHD_Result
dispatch(struct http_server *server, struct MHD_Connection *connection, const char *url,
    const char *method, struct exchange *exchange)
{
	const struct http_route *route = NULL;
	char allow[16] = "GET";
	char message[600];
	bool own_path = strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0;

	if (exchange->too_large) {
		snprintf(message, sizeof(message), "request body is larger than %zu bytes",
		    server->max_body);
		return respond_error(connection, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
		    message, NULL, NULL);
	}
	if (strcmp(url, "/healthz") != 0 && !authorized(server, connection))
		return respond_error(connection, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		    "missing or wrong bearer token", MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"pgfleet\"");
	if (own_path && strcmp(method, "GET") != 0) {
		snprintf(message, sizeof(message), "method %s is not allowed on %s (use GET)",
		    method, url);
		return respond_error(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
		    message, MHD_HTTP_HEADER_ALLOW, "GET");
	}
	if (strcmp(url, "/healthz") == 0) {
		char *ok = strdup("{\"status\":\"ok\"}\n");
		if (ok == NULL)
			return MHD_NO;
		return respond(connection, MHD_HTTP_OK, "application/json", ok, strlen(ok), NULL,
		    NULL);
	}
	if (strcmp(url, "/metrics") == 0)
		return answer_metrics(server, connection);
	switch (http_route_find(method, url, &route, allow, sizeof(allow))) {
	case HTTP_ROUTE_NO_PATH:
		snprintf(message, sizeof(message), "no such endpoint: %s", url);
		return respond_error(connection, MHD_HTTP_NOT_FOUND, "not_found", message, NULL,
		    NULL);
	case HTTP_ROUTE_WRONG_METHOD:
		snprintf(message, sizeof(message), "method %s is not allowed on %s (use %s)",
		    method, url, allow);
		return respond_error(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
		    message, MHD_HTTP_HEADER_ALLOW, allow);
	case HTTP_ROUTE_FOUND:
		break;
	}
	return answer_question(server, connection, route, exchange);
}

static enum MHD_Result
on_request(void *arg, struct MHD_Connection *connection, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **request_arg)
{
	struct http_server *server = arg;
	struct exchange *exchange = *request_arg;

	(void) version;
	if (exchange == NULL && server->require_client_cert &&
	    !client_certificate_ok(connection)) {
		pgf_warning("http: refused a request without a client certificate signed by http_tls_ca");
		return respond_error(connection, MHD_HTTP_FORBIDDEN, "client_certificate",
		    "a client certificate signed by the collector's http_tls_ca is required",
		    NULL, NULL);
	}
	if (exchange == NULL) {
		/* 1. headers read */
		const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if ((exchange = calloc(1, sizeof(*exchange))) == NULL)
			return MHD_NO;
		*request_arg = exchange;
		if (length != NULL && strtoull(length, NULL, 10) > server->max_body) {
			exchange->too_large = true;
			return dispatch(server, connection, url, method, exchange);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* 2. a piece of the body */
		size_t piece = *upload_data_size;
		*upload_data_size = 0;
		if (exchange->too_large || exchange->len + piece > server->max_body) {
			exchange->too_large = true;
			free(exchange->body);
			exchange->body = NULL;
			exchange->len = 0;
			return MHD_YES;
		}
		{
			char *grown = realloc(exchange->body, exchange->len + piece + 1);
			if (grown == NULL)
				return MHD_NO;
			exchange->body = grown;
		}
		memcpy(exchange->body + exchange->len, upload_data, piece);
		exchange->len += piece;
		exchange->body[exchange->len] = '\0';
		return MHD_YES;
	}
	/* 3. complete */
	return dispatch(server, connection, url, method, exchange);
}

static void
on_completed(void *arg, struct MHD_Connection *connection, void **request_arg,
    enum MHD_RequestTerminationCode code)
{
	struct exchange *exchange = *request_arg;

	(void) arg;
	(void) connection;
	(void) code;
	if (exchange != NULL) {
		free(exchange->body);
		free(exchange);
		*request_arg = NULL;
	}
}

static void
on_log(void *arg, const char *format, va_list args)
{
	char line[512];
	size_t len;

	(void) arg;
	vsnprintf(line, sizeof(line), format, args);
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	pgf_warning("http: %s", line);
}

/* ---- start and stop ---------------------------------------------------- */

/* Parses "HOST:PORT" / "[IPV6]:PORT" into server->address. */
static int
parse_listen(struct http_server *server, const char *listen, char *errbuf, size_t errlen)
{
	char host[256];
	const char *port;
	const char *colon;
	struct addrinfo hints;
	struct addrinfo *found = NULL;
	size_t host_len;
	int rc;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		host_len = (size_t) (close - listen - 1);
		memcpy(host, listen + 1, host_len < sizeof(host) ? host_len : 0);
		port = close + 2;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			goto bad;
		host_len = (size_t) (colon - listen);
		memcpy(host, listen, host_len < sizeof(host) ? host_len : 0);
		port = colon + 1;
	}
	if (host_len >= sizeof(host) || port[0] == '\0')
		goto bad;
	host[host_len] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &found)) != 0) {
		snprintf(errbuf, errlen, "invalid http_listen \"%s\": %s", listen, gai_strerror(rc));
		return PGF_ECONFIG;
	}
	memcpy(&server->address, found->ai_addr, found->ai_addrlen);
	freeaddrinfo(found);
	return PGF_OK;
bad:
	snprintf(errbuf, errlen, "invalid http_listen \"%s\" (expected HOST:PORT, e.g. 127.0.0.1:7452)",
	    listen);
	return PGF_ECONFIG;
}

void
http_server_stop(struct http_server *server)
{
	if (server == NULL)
		return;
	if (server->daemon != NULL)
		MHD_stop_daemon(server->daemon);
	for (unsigned i = 0; i < server->n_stores; i++)
		store_close(server->stores[i]);
	free(server->stores);
	free(server->lent);
	pthread_cond_destroy(&server->returned);
	pthread_mutex_destroy(&server->lock);
	free(server->token);
	free(server->admin_token);
	free(server->store_path);
	pgf_tls_link_free(server->tls);
	free(server);
}

int
http_server_start(const struct http_server_options *options, struct http_server **out,
    char *errbuf, size_t errlen)
{
	struct http_server *server = calloc(1, sizeof(*server));
	unsigned threads = options->threads > 0 ? options->threads : 1;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
	struct MHD_OptionItem tls_items[4];
	int rv;

	*out = NULL;
	if (server == NULL)
		return PGF_ENOMEM;
	pthread_mutex_init(&server->lock, NULL);
	pthread_cond_init(&server->returned, NULL);
	server->max_body = options->max_body;
	server->ingest_counters = options->ingest_counters;
	server->ingest_counters_arg = options->ingest_counters_arg;
	server->stats = options->stats;
	server->token = strdup(options->token != NULL ? options->token : "");
	server->admin_token = strdup(options->admin_token != NULL ? options->admin_token : "");
	server->store_path = strdup(options->store);
	server->stores = calloc(threads, sizeof(*server->stores));
	server->lent = calloc(threads, sizeof(*server->lent));
	if (server->token == NULL || server->admin_token == NULL || server->store_path == NULL || server->stores == NULL ||
	    server->lent == NULL) {
		rv = PGF_ENOMEM;
		goto fail;
	}
	if ((rv = parse_listen(server, options->listen, errbuf, errlen)) != PGF_OK)
		goto fail;
	/* HTTPS: the files checked (a key others can read is refused) and
	 * read once; libmicrohttpd takes the texts */
	{
		struct pgf_tls_options tls = {
			.server = true,
			.ca = options->tls_ca,
			.cert = options->tls_cert,
			.key = options->tls_key,
			.ca_name = "http_tls_ca",
			.cert_name = "http_tls_cert",
			.key_name = "http_tls_key",
		};
		const char *ca = NULL, *cert = NULL, *key = NULL;
		if ((rv = pgf_tls_link_open(&tls, &server->tls, errbuf, errlen)) != PGF_OK)
			goto fail;
		pgf_tls_link_pem(server->tls, &ca, &cert, &key);
		tls_items[0] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
		if (server->tls != NULL) {
			flags |= MHD_USE_TLS;
			tls_items[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *) key};
			tls_items[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *) cert};
			tls_items[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
			if (ca != NULL) {
				tls_items[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
				    (void *) ca};
				tls_items[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
				server->require_client_cert = true;
			}
		}
	}
	for (; server->n_stores < threads; server->n_stores++) {
		if ((rv = store_open(options->store, true, &server->stores[server->n_stores], errbuf,
			 errlen)) != PGF_OK)
			goto fail;
	}
	if (server->address.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the logger first, so libmicrohttpd's own start-up messages use it */
	server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, server,
	    MHD_OPTION_EXTERNAL_LOGGER, on_log, server,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &server->address,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) HTTP_SERVER_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HTTP_SERVER_MAX_CONNECTIONS,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
	    MHD_OPTION_ARRAY, tls_items,
	    threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (unsigned int) threads,
	    MHD_OPTION_END);
	if (server->daemon == NULL) {
		snprintf(errbuf, errlen, "could not listen for HTTP on \"%s\" (address in use?)",
		    options->listen);
		rv = PGF_EIO;
		goto fail;
	}
	pgf_info("listening for HTTP on %s (%u thread(s)%s)", options->listen, threads,
	    server->token[0] != '\0' || server->admin_token[0] != '\0' ? ", bearer token required"
									     : "");
	if (server->tls != NULL)
		pgf_info("HTTP is served as HTTPS%s", server->require_client_cert
		    ? ", client certificates signed by http_tls_ca required" : "");
	*out = server;
	return PGF_OK;
fail:
	http_server_stop(server);
	return rv;
}
