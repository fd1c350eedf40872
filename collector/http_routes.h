/*
 * http_routes.h - the HTTP API's route table: which path is which
 * question, and how a query string or a JSON body becomes the same Request
 * the CLI sends. Pure (no I/O), so it is unit-tested with plain data.
 *
 * One row per path: {method, path, question message, defaults}. Parameters
 * are the question's own field names (limit, min_duration_ms, order,
 * group, bucket_ms, queryid, ...) plus the scope every question shares:
 * instance, cluster, database, since, until (durations such as 1h, or UTC
 * times, as the CLI's --since/--until). Enum values are written as the
 * CLI writes them: order=mean, group=cluster. A field NAME_us (a time, µs)
 * is also the parameter NAME written as the CLI's times (baseline_since=7d),
 * a field NAME_ms (a duration) the parameter NAME written as a duration
 * (bucket=1h).
 */
#ifndef PGFLEET_COLLECTOR_HTTP_ROUTES_H
#define PGFLEET_COLLECTOR_HTTP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common/error.h"
#include "pgfleet/v1/api.pb-c.h"

struct http_route {
	const char *method;
	const char *path;
	/* the Request's oneof member whose message this is */
	const ProtobufCMessageDescriptor *question;
	/* the question takes a JSON object body (POST) instead of a query
	 * string */
	bool json_body;
	/* what the CLI does by default for this question (e.g. slow-queries:
	 * the last 24 hours); may be NULL */
	void (*defaults)(ProtobufCMessage *question, Pgfleet__V1__Scope *scope, int64_t now_us);
	/* parameters that must be given (NULL-terminated; the CLI's
	 * required options) */
	const char *required[3];
};

/* What finding a route found. */
enum http_route_match {
	HTTP_ROUTE_FOUND,
	HTTP_ROUTE_NO_PATH,
	HTTP_ROUTE_WRONG_METHOD,
};

/*
 * http_route_find looks up method and path (without the query string).
 * On HTTP_ROUTE_WRONG_METHOD, allow receives the path's method (for the
 * Allow header). *route is set only on HTTP_ROUTE_FOUND.
 */
enum http_route_match http_route_find(const char *method, const char *path,
    const struct http_route **route, char *allow, size_t allow_len);

/* A Request being built; owns everything it points to. */
struct http_question {
	const struct http_route *route;
	Pgfleet__V1__Request request;
	Pgfleet__V1__Scope scope;
	/* the question message (malloc'd, of route->question's type) */
	ProtobufCMessage *message;
	/* strings the message and scope point to (malloc'd) */
	char **strings;
	size_t n_strings;
	/* which of the question's fields were given (bit = field index) */
	uint64_t given;
};

/* http_question_init starts the Request of route, with its defaults as of
 * now_us. PGF_OK or PGF_ENOMEM. */
int http_question_init(struct http_question *question, const struct http_route *route,
    int64_t now_us) PGF_MUST_CHECK;

/*
 * http_question_set sets parameter name to value (text from a query
 * string; value may be NULL for "?name"). PGF_EINVAL with a one-line reason
 * naming the parameter (unknown parameter, bad value), or PGF_ENOMEM.
 */
int http_question_set(struct http_question *question, const char *name, const char *value,
    int64_t now_us, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/*
 * http_question_set_json sets the parameters of a JSON object body (the
 * same names; strings, numbers and booleans as JSON values). PGF_EINVAL
 * with a one-line reason (not JSON, not an object, a bad member).
 */
int http_question_set_json(struct http_question *question, const char *body, size_t len,
    int64_t now_us, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* http_question_check says which required parameter is missing:
 * PGF_EINVAL with a one-line reason, or PGF_OK. */
int http_question_check(const struct http_question *question, char *errbuf, size_t errlen)
	PGF_MUST_CHECK;

/* http_question_instance is the instance the question names ("" for the
 * fleet): the scope's, or the question's own `instance` field. */
const char *http_question_instance(const struct http_question *question);
/* http_question_cluster is the scope's cluster ("" when none). */
const char *http_question_cluster(const struct http_question *question);

/* http_question_fini frees what the question owns; safe after a failed
 * init. */
void http_question_fini(struct http_question *question);

/* The route table, for listing (tests, README). */
extern const struct http_route http_routes[];
extern const size_t http_routes_count;

#endif
