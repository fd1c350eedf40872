/*
 * http_server.h - the collector's HTTP API (the user's guide's endpoints,
 * JSON) and Prometheus /metrics, served by libmicrohttpd.
 *
 * Each endpoint is a row of http_routes.c: the query string (or, for a
 * POST, the JSON body) becomes the same Request the CLI sends, answered by
 * the same handlers (api_answer) and rendered by the same generic renderer
 * as `pgfleet ... --json`, so the bytes are the same. Errors are one JSON
 * line {"error": "...", "code": "..."} with the HTTP status: 400 a bad
 * parameter (named), 401 a missing or wrong bearer token, 404 an unknown
 * path or instance, 405 a wrong method, 413 a body over max_body, 500/503
 * when the store fails.
 *
 * Threads: libmicrohttpd's own, `threads` of them (its thread pool), each
 * running one request at a time. The server opens `threads` read-only store
 * handles and lends one to each request, so a handle is never used by two
 * threads at once and HTTP never touches the CLI's or the writer's handle.
 * Connections time out after HTTP_SERVER_TIMEOUT_S of silence and at most
 * HTTP_SERVER_MAX_CONNECTIONS are open at once (more are refused).
 */
#ifndef PGFLEET_COLLECTOR_HTTP_SERVER_H
#define PGFLEET_COLLECTOR_HTTP_SERVER_H

#include <stddef.h>

#include "collector/collector_stats.h"
#include "collector/ingest.h"
#include "common/error.h"

#define HTTP_SERVER_TIMEOUT_S 10
#define HTTP_SERVER_MAX_CONNECTIONS 64
/* Statements in /metrics: the ones with the most time over the history. */
#define HTTP_SERVER_METRICS_STATEMENTS 100

struct http_server;

struct http_server_options {
	/* "HOST:PORT" or "[IPV6]:PORT" to listen on */
	const char *listen;
	/* bearer token every request but /healthz must carry; "" = none */
	const char *token;
	/* the collector's admin token (admin_token_file), also accepted as
	 * the bearer: either token opens every endpoint; "" = none */
	const char *admin_token;
	/* largest request body accepted, bytes (more: 413) */
	size_t max_body;
	/* the store, opened read-only once per thread */
	const char *store;
	unsigned threads;
	/* the ingest counters for /metrics (any thread); may be NULL */
	void (*ingest_counters)(void *arg, struct ingest_counters *out);
	void *ingest_counters_arg;
	/* the ingest latency histogram; may be NULL */
	struct collector_stats *stats;
	/* HTTPS (common/tls_link.h checks the files): PEM certificate and
	 * key ("" = plain HTTP), and the CA client certificates must be
	 * signed by ("" = none asked) */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
};

/*
 * http_server_start opens the store handles and starts listening. Returns
 * PGF_OK with *out (stop it with http_server_stop), or PGF_ECONFIG (a bad
 * address), PGF_ESTORE, PGF_EIO (could not listen) with a one-line reason.
 * Options' strings are copied.
 */
int http_server_start(const struct http_server_options *options, struct http_server **out,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* http_server_stop stops listening, waits for requests in progress, and
 * frees everything; NULL is a no-op. */
void http_server_stop(struct http_server *server);

#endif
