/*
 * cli_main.c - pgfleet, the command line client of the collector.
 *
 * pgfleet [--collector ADDR] SUBCOMMAND [options] [--json]
 *
 * Each subcommand is one row of `commands`: it parses its options into a
 * Request; the Response is printed by the generic renderer, as a table for
 * people or as the HTTP API's JSON with --json. Exit status: 0 on an
 * answer, 1 on an error answer or an unreachable collector, 2 on bad usage.
 */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <protobuf-c/protobuf-c.h>

#include "collector/action_cli.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/render.h"
#include "common/secret_file.h"
#include "common/timeutil.h"
#include "common/tls_link.h"
#include "common/wire.h"
#include "pgfleet/v1/api.pb-c.h"

#define EXIT_ANSWER_ERROR 1
#define EXIT_USAGE 2

/* Largest response the CLI accepts. */
#define CLI_MAX_RESPONSE (64u * 1024u * 1024u)

struct cli_config {
	char *collector;
	char *log_level;
	int64_t timeout;
	/* tls+tcp:// (common/tls_link.h): the CA of the collector's
	 * certificate, ours for mutual TLS, the name to check; tls is
	 * built from them in main (NULL: no TLS) */
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	char *tls_server_name;
	struct pgf_tls_link *tls;
	/* file with the collector's admin token (--token-file), sent in
	 * every Request; "" = none */
	char *admin_token_file;
};

static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};

static const struct pgf_cfg_key cli_config_keys[] = {
	{"collector", PGF_CFG_STRING, offsetof(struct cli_config, collector),
	    "tcp://127.0.0.1:7451", 0, 0, NULL, false,
	    "nng address of the collector's API (its api_listen)"},
	{"log_level", PGF_CFG_STRING, offsetof(struct cli_config, log_level), "warning", 0,
	    0, log_levels, false, "debug, info, warning or error"},
	{"timeout", PGF_CFG_DURATION, offsetof(struct cli_config, timeout), "30s", 100,
	    3600000, NULL, false, "give up waiting for the collector after this long"},
	{"tls_ca", PGF_CFG_STRING, offsetof(struct cli_config, tls_ca), "", 0, 0, NULL, false,
	    "CA file that signed the collector's certificate (needed for tls+tcp://)"},
	{"tls_cert", PGF_CFG_STRING, offsetof(struct cli_config, tls_cert), "", 0, 0, NULL,
	    false, "our PEM certificate, for a collector that asks for one (mutual TLS)"},
	{"tls_key", PGF_CFG_STRING, offsetof(struct cli_config, tls_key), "", 0, 0, NULL, false,
	    "PEM private key of tls_cert (refused when others can read it)"},
	{"tls_server_name", PGF_CFG_STRING, offsetof(struct cli_config, tls_server_name), "", 0,
	    0, NULL, false, "name the collector's certificate must carry (default: its host)"},
	{"admin_token_file", PGF_CFG_STRING, offsetof(struct cli_config, admin_token_file), "",
	    0, 0, NULL, false,
	    "file holding the collector's admin token (also --token-file); refused when others can read it"},
	{NULL, 0, 0, NULL, 0, 0, NULL, false, NULL},
};

/* What a subcommand's parser produced. */
struct cli_request {
	Pgfleet__V1__Request request;
	bool json;
	/* storage the request points into */
	Pgfleet__V1__Scope scope;
	Pgfleet__V1__SlowQueriesRequest slow_queries;
	Pgfleet__V1__QueryTrendRequest query_trend;
	Pgfleet__V1__TableTrendRequest table_trend;
	Pgfleet__V1__ReplicationTrendRequest replication_trend;
	/* a listing's question (malloc'd), when the command is one */
	ProtobufCMessage *listing;
};

struct cli_command {
	const char *name;
	const char *usage;
	/* Parses argv (argv[0] is the subcommand) into request; returns 0 or
	 * EXIT_USAGE after printing one line. */
	int (*parse)(int argc, char **argv, struct cli_request *request);
};

static int
usage_error(const char *format, const char *value)
{
	fprintf(stderr, "pgfleet: ");
	fprintf(stderr, format, value);
	fprintf(stderr, "\nTry \"pgfleet --help\".\n");
	return EXIT_USAGE;
}

/* Options every listing shares: the scope and --json. Returns 1 when the
 * option was one of them, 0 when not, EXIT_USAGE + 1 on a bad value. */
enum {
	OPT_INSTANCE = 1000,
	OPT_CLUSTER,
	OPT_DATABASE,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_JSON,
	OPT_LIMIT,
	OPT_MIN_DURATION,
	OPT_ORDER,
	OPT_GROUP,
	OPT_BUCKET,
	OPT_TABLE,
};

static int
parse_scope_option(int option, const char *value, struct cli_request *request)
{
	int64_t now = pgf_time_now_us();
	switch (option) {
	case OPT_INSTANCE:
		request->scope.instance = (char *) value;
		return 1;
	case OPT_CLUSTER:
		request->scope.cluster = (char *) value;
		return 1;
	case OPT_DATABASE:
		request->scope.database = (char *) value;
		return 1;
	case OPT_SINCE:
		if (!pgf_time_parse(value, now, &request->scope.since_us))
			return usage_error("invalid --since \"%s\" (expected 1h, 7d, or 2026-01-31 12:00)",
				   value) + 1;
		return 1;
	case OPT_UNTIL:
		if (!pgf_time_parse(value, now, &request->scope.until_us))
			return usage_error("invalid --until \"%s\" (expected 1h, 7d, or 2026-01-31 12:00)",
				   value) + 1;
		return 1;
	case OPT_JSON:
		request->json = true;
		return 1;
	default:
		return 0;
	}
}

#define SCOPE_OPTIONS                                              \
	{"instance", required_argument, NULL, OPT_INSTANCE},           \
	    {"cluster", required_argument, NULL, OPT_CLUSTER},         \
	    {"database", required_argument, NULL, OPT_DATABASE},       \
	    {"since", required_argument, NULL, OPT_SINCE},             \
	    {"until", required_argument, NULL, OPT_UNTIL},             \
	    {"json", no_argument, NULL, OPT_JSON}

static bool
parse_unsigned(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long value;
	if (text[0] < '0' || text[0] > '9')
		return false;
	value = strtoul(text, &end, 10);
	if (*end != '\0' || value > max)
		return false;
	*out = value;
	return true;
}

static int
parse_slow_queries(int argc, char **argv, struct cli_request *request)
{
	static const struct option options[] = {
		SCOPE_OPTIONS,
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"min-duration-ms", required_argument, NULL, OPT_MIN_DURATION},
		{"order", required_argument, NULL, OPT_ORDER},
		{"group", required_argument, NULL, OPT_GROUP},
		{NULL, 0, NULL, 0},
	};
	Pgfleet__V1__SlowQueriesRequest *q = &request->slow_queries;
	int option;

	/* default window: the last day */
	request->scope.since_us = pgf_time_now_us() - 86400LL * 1000000;
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int scoped = parse_scope_option(option, optarg, request);
		unsigned long value;
		char *end;

		if (scoped == 1)
			continue;
		if (scoped > 1)
			return EXIT_USAGE;
		switch (option) {
		case OPT_LIMIT:
			if (!parse_unsigned(optarg, 10000, &value) || value == 0)
				return usage_error("invalid --limit \"%s\" (expected 1 to 10000)", optarg);
			q->limit = (uint32_t) value;
			break;
		case OPT_MIN_DURATION:
			q->min_duration_ms = strtod(optarg, &end);
			if (*end != '\0' || end == optarg || !(q->min_duration_ms >= 0.0))
				return usage_error("invalid --min-duration-ms \"%s\" (expected milliseconds, 0 or more)",
				    optarg);
			break;
		case OPT_ORDER:
			if (strcmp(optarg, "total") == 0)
				q->order = PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_TOTAL;
			else if (strcmp(optarg, "mean") == 0)
				q->order = PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_MEAN;
			else if (strcmp(optarg, "calls") == 0)
				q->order = PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS;
			else
				return usage_error("invalid --order \"%s\" (expected total, mean or calls)",
				    optarg);
			break;
		case OPT_GROUP:
			if (strcmp(optarg, "instance") == 0)
				q->group = PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_INSTANCE;
			else if (strcmp(optarg, "cluster") == 0)
				q->group = PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_CLUSTER;
			else if (strcmp(optarg, "fleet") == 0)
				q->group = PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET;
			else
				return usage_error("invalid --group \"%s\" (expected instance, cluster or fleet)",
				    optarg);
			break;
		default:
			/* getopt_long printed what was wrong */
			fprintf(stderr, "Try \"pgfleet --help\".\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	q->scope = &request->scope;
	request->request.question_case = PGFLEET__V1__REQUEST__QUESTION_SLOW_QUERIES;
	request->request.slow_queries = q;
	return 0;
}

/* The listings: every one takes the scope options and --limit, and its
 * question is a message with `scope` and `limit` fields. */
static const struct {
	const char *name;
	const ProtobufCMessageDescriptor *question;
} listings[] = {
	{"fleet", &pgfleet__v1__fleet_request__descriptor},
	{"table-stats", &pgfleet__v1__table_stats_request__descriptor},
	{"index-usage", &pgfleet__v1__index_usage_request__descriptor},
	{"bloat-stats", &pgfleet__v1__bloat_stats_request__descriptor},
	{"index-recommendations", &pgfleet__v1__index_recommendations_request__descriptor},
	{"replication", &pgfleet__v1__replication_request__descriptor},
	{"activity", &pgfleet__v1__activity_request__descriptor},
	{"vacuum-advice", &pgfleet__v1__vacuum_advice_request__descriptor},
	{"replication-health", &pgfleet__v1__replication_health_request__descriptor},
	{"checklist", &pgfleet__v1__checklist_request__descriptor},
	{"pool-stats", &pgfleet__v1__pool_stats_request__descriptor},
};

/* Sets the message field named name (a pointer or uint32) by descriptor. */
static void
set_field(ProtobufCMessage *message, const char *name, const void *value, size_t size)
{
	const ProtobufCFieldDescriptor *field =
	    protobuf_c_message_descriptor_get_field_by_name(message->descriptor, name);
	if (field != NULL)
		memcpy((char *) message + field->offset, value, size);
}

static int
parse_listing(int argc, char **argv, struct cli_request *request)
{
	static const struct option options[] = {
		SCOPE_OPTIONS,
		{"limit", required_argument, NULL, OPT_LIMIT},
		{NULL, 0, NULL, 0},
	};
	const ProtobufCMessageDescriptor *question = NULL;
	const ProtobufCFieldDescriptor *member;
	Pgfleet__V1__Scope *scope = &request->scope;
	uint32_t limit = 0;
	int option;

	for (size_t i = 0; i < sizeof(listings) / sizeof(listings[0]); i++) {
		if (strcmp(argv[0], listings[i].name) == 0)
			question = listings[i].question;
	}
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int scoped = parse_scope_option(option, optarg, request);
		unsigned long value;
		if (scoped == 1)
			continue;
		if (scoped > 1)
			return EXIT_USAGE;
		if (option == OPT_LIMIT) {
			if (!parse_unsigned(optarg, 10000, &value) || value == 0)
				return usage_error("invalid --limit \"%s\" (expected 1 to 10000)", optarg);
			limit = (uint32_t) value;
			continue;
		}
		fprintf(stderr, "Try \"pgfleet --help\".\n");
		return EXIT_USAGE;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	request->listing = malloc(question->sizeof_message);
	if (request->listing == NULL)
		return usage_error("%s", "out of memory");
	protobuf_c_message_init(question, request->listing);
	set_field(request->listing, "scope", &scope, sizeof(scope));
	set_field(request->listing, "limit", &limit, sizeof(limit));
	/* the Request's oneof member whose type is this question */
	for (unsigned i = 0; i < request->request.base.descriptor->n_fields; i++) {
		member = &request->request.base.descriptor->fields[i];
		if (member->descriptor == question) {
			request->request.question_case = (Pgfleet__V1__Request__QuestionCase) member->id;
			memcpy((char *) &request->request + member->offset, &request->listing,
			    sizeof(request->listing));
		}
	}
	return 0;
}

static int
parse_query_trend(int argc, char **argv, struct cli_request *request)
{
	static const struct option options[] = {
		SCOPE_OPTIONS,
		{"bucket", required_argument, NULL, OPT_BUCKET},
		{NULL, 0, NULL, 0},
	};
	Pgfleet__V1__QueryTrendRequest *q = &request->query_trend;
	char *end;
	int option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int scoped = parse_scope_option(option, optarg, request);
		if (scoped == 1)
			continue;
		if (scoped > 1)
			return EXIT_USAGE;
		if (option == OPT_BUCKET) {
			if (!pgf_duration_parse(optarg, &q->bucket_ms) || q->bucket_ms < 60000)
				return usage_error("invalid --bucket \"%s\" (expected a duration of 1m or more)",
				    optarg);
			continue;
		}
		fprintf(stderr, "Try \"pgfleet --help\".\n");
		return EXIT_USAGE;
	}
	if (optind != argc - 1)
		return usage_error("%s", "query-trend needs one QUERYID");
	q->queryid = strtoll(argv[optind], &end, 10);
	if (*end != '\0' || end == argv[optind])
		return usage_error("invalid QUERYID \"%s\" (expected a number, as in slow-queries)",
		    argv[optind]);
	q->scope = &request->scope;
	request->request.question_case = PGFLEET__V1__REQUEST__QUESTION_QUERY_TREND;
	request->request.query_trend = q;
	return 0;
}

/* parse_bucket parses --bucket (a duration of 1m or more) into *bucket_ms;
 * 0 or EXIT_USAGE after printing one line. */
static int
parse_bucket(const char *value, int64_t *bucket_ms)
{
	if (!pgf_duration_parse(value, bucket_ms) || *bucket_ms < 60000)
		return usage_error("invalid --bucket \"%s\" (expected a duration of 1m or more)",
		    value);
	return 0;
}

static int
parse_table_trend(int argc, char **argv, struct cli_request *request)
{
	static const struct option options[] = {
		SCOPE_OPTIONS,
		{"bucket", required_argument, NULL, OPT_BUCKET},
		{"table", required_argument, NULL, OPT_TABLE},
		{NULL, 0, NULL, 0},
	};
	Pgfleet__V1__TableTrendRequest *q = &request->table_trend;
	char *dot;
	int option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int scoped = parse_scope_option(option, optarg, request);
		if (scoped == 1)
			continue;
		if (scoped > 1)
			return EXIT_USAGE;
		if (option == OPT_BUCKET) {
			if (parse_bucket(optarg, &q->bucket_ms) != 0)
				return EXIT_USAGE;
			continue;
		}
		if (option == OPT_TABLE) {
			/* SCHEMA.TABLE: split at the first dot, in place */
			q->table = optarg;
			if ((dot = strchr(optarg, '.')) != NULL) {
				*dot = '\0';
				q->schema = optarg;
				q->table = dot + 1;
			}
			if (q->table[0] == '\0' || (dot != NULL && q->schema[0] == '\0'))
				return usage_error("%s", "invalid --table (expected [SCHEMA.]TABLE)");
			continue;
		}
		fprintf(stderr, "Try \"pgfleet --help\".\n");
		return EXIT_USAGE;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (q->table == NULL || q->table[0] == '\0')
		return usage_error("%s", "table-trend needs --table [SCHEMA.]TABLE");
	q->scope = &request->scope;
	request->request.question_case = PGFLEET__V1__REQUEST__QUESTION_TABLE_TREND;
	request->request.table_trend = q;
	return 0;
}

static int
parse_replication_trend(int argc, char **argv, struct cli_request *request)
{
	static const struct option options[] = {
		SCOPE_OPTIONS,
		{"bucket", required_argument, NULL, OPT_BUCKET},
		{NULL, 0, NULL, 0},
	};
	Pgfleet__V1__ReplicationTrendRequest *q = &request->replication_trend;
	int option;

	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int scoped = parse_scope_option(option, optarg, request);
		if (scoped == 1)
			continue;
		if (scoped > 1)
			return EXIT_USAGE;
		if (option == OPT_BUCKET) {
			if (parse_bucket(optarg, &q->bucket_ms) != 0)
				return EXIT_USAGE;
			continue;
		}
		fprintf(stderr, "Try \"pgfleet --help\".\n");
		return EXIT_USAGE;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	q->scope = &request->scope;
	request->request.question_case = PGFLEET__V1__REQUEST__QUESTION_REPLICATION_TREND;
	request->request.replication_trend = q;
	return 0;
}

/* ---- pools and regressions ---- */

enum {
	OPT_POOLS_BUFFER = 2000,
	OPT_POOLS_CONCURRENT,
	OPT_POOLS_AVG_QUERY_MS,
	OPT_REGRESSIONS_MIN_FACTOR,
	OPT_REGRESSIONS_MIN_CALLS,
	OPT_REGRESSIONS_BASELINE_SINCE,
	OPT_REGRESSIONS_BASELINE_UNTIL,
	OPT_REGRESSIONS_MIN_EXTRA,
};

/* A plain decimal number, zero or more, at most max. */
static bool
parse_number(const char *text, double max, double *out)
{
	char *end;
	double value = strtod(text, &end);
	if (end == text || *end != '\0' || !(value >= 0.0) || value > max)
		return false;
	*out = value;
	return true;
}

/* Allocates the question of descriptor's type as the request's listing
 * (freed with it) and sets the Request's member of that type. */
static ProtobufCMessage *
question_new(struct cli_request *request, const ProtobufCMessageDescriptor *descriptor)
{
	request->listing = malloc(descriptor->sizeof_message);
	if (request->listing == NULL)
		return NULL;
	protobuf_c_message_init(descriptor, request->listing);
	for (unsigned i = 0; i < request->request.base.descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *member = &request->request.base.descriptor->fields[i];
		if (member->descriptor == descriptor) {
			request->request.question_case = (Pgfleet__V1__Request__QuestionCase) member->id;
			memcpy((char *) &request->request + member->offset, &request->listing,
			    sizeof(request->listing));
		}
	}
	return request->listing;
}

static int
parse_pool_recommendation(int argc, char **argv, struct cli_request *request)
{
	static const struct option options[] = {
		SCOPE_OPTIONS,
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"buffer", required_argument, NULL, OPT_POOLS_BUFFER},
		{NULL, 0, NULL, 0},
	};
	Pgfleet__V1__PoolRecommendationRequest *q = (Pgfleet__V1__PoolRecommendationRequest *)
	    question_new(request, &pgfleet__v1__pool_recommendation_request__descriptor);
	int option;

	if (q == NULL)
		return usage_error("%s", "out of memory");
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int scoped = parse_scope_option(option, optarg, request);
		unsigned long value;
		if (scoped == 1)
			continue;
		if (scoped > 1)
			return EXIT_USAGE;
		if (option == OPT_LIMIT) {
			if (!parse_unsigned(optarg, 10000, &value) || value == 0)
				return usage_error("invalid --limit \"%s\" (expected 1 to 10000)", optarg);
			q->limit = (uint32_t) value;
			continue;
		}
		if (option == OPT_POOLS_BUFFER) {
			if (!parse_number(optarg, 1e6, &q->buffer))
				return usage_error("invalid --buffer \"%s\" (expected connections, 0 or more)",
				    optarg);
			continue;
		}
		fprintf(stderr, "Try \"pgfleet --help\".\n");
		return EXIT_USAGE;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	q->scope = &request->scope;
	return 0;
}

static int
parse_pool_size(int argc, char **argv, struct cli_request *request)
{
	static const struct option options[] = {
		{"concurrent-requests", required_argument, NULL, OPT_POOLS_CONCURRENT},
		{"avg-query-ms", required_argument, NULL, OPT_POOLS_AVG_QUERY_MS},
		{"buffer", required_argument, NULL, OPT_POOLS_BUFFER},
		{"json", no_argument, NULL, OPT_JSON},
		{NULL, 0, NULL, 0},
	};
	Pgfleet__V1__PoolSizeRequest *q = (Pgfleet__V1__PoolSizeRequest *) question_new(request,
	    &pgfleet__v1__pool_size_request__descriptor);
	bool have_requests = false, have_time = false;
	int option;

	if (q == NULL)
		return usage_error("%s", "out of memory");
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case OPT_POOLS_CONCURRENT:
			if (!parse_number(optarg, 1e9, &q->concurrent_requests))
				return usage_error("invalid --concurrent-requests \"%s\" (expected requests per second, 0 or more)",
				    optarg);
			have_requests = true;
			break;
		case OPT_POOLS_AVG_QUERY_MS:
			if (!parse_number(optarg, 1e9, &q->avg_query_ms))
				return usage_error("invalid --avg-query-ms \"%s\" (expected milliseconds, 0 or more)",
				    optarg);
			have_time = true;
			break;
		case OPT_POOLS_BUFFER:
			if (!parse_number(optarg, 1e9, &q->buffer))
				return usage_error("invalid --buffer \"%s\" (expected connections, 0 or more)",
				    optarg);
			break;
		case OPT_JSON:
			request->json = true;
			break;
		default:
			fprintf(stderr, "Try \"pgfleet --help\".\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (!have_requests || !have_time)
		return usage_error("%s", "pool-size needs --concurrent-requests N and --avg-query-ms MS");
	return 0;
}

static int
parse_query_regressions(int argc, char **argv, struct cli_request *request)
{
	static const struct option options[] = {
		SCOPE_OPTIONS,
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"min-factor", required_argument, NULL, OPT_REGRESSIONS_MIN_FACTOR},
		{"min-calls", required_argument, NULL, OPT_REGRESSIONS_MIN_CALLS},
		{"min-extra-seconds", required_argument, NULL, OPT_REGRESSIONS_MIN_EXTRA},
		{"baseline-since", required_argument, NULL, OPT_REGRESSIONS_BASELINE_SINCE},
		{"baseline-until", required_argument, NULL, OPT_REGRESSIONS_BASELINE_UNTIL},
		{"group", required_argument, NULL, OPT_GROUP},
		{NULL, 0, NULL, 0},
	};
	Pgfleet__V1__QueryRegressionsRequest *q = (Pgfleet__V1__QueryRegressionsRequest *)
	    question_new(request, &pgfleet__v1__query_regressions_request__descriptor);
	int64_t now = pgf_time_now_us();
	int option;

	if (q == NULL)
		return usage_error("%s", "out of memory");
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int scoped = parse_scope_option(option, optarg, request);
		unsigned long value;
		if (scoped == 1)
			continue;
		if (scoped > 1)
			return EXIT_USAGE;
		switch (option) {
		case OPT_LIMIT:
			if (!parse_unsigned(optarg, 10000, &value) || value == 0)
				return usage_error("invalid --limit \"%s\" (expected 1 to 10000)", optarg);
			q->limit = (uint32_t) value;
			break;
		case OPT_REGRESSIONS_MIN_FACTOR:
			if (!parse_number(optarg, 1e9, &q->min_factor) || !(q->min_factor > 1.0))
				return usage_error("invalid --min-factor \"%s\" (expected a number above 1)",
				    optarg);
			break;
		case OPT_REGRESSIONS_MIN_CALLS:
			if (!parse_unsigned(optarg, 1000000000, &value) || value == 0)
				return usage_error("invalid --min-calls \"%s\" (expected 1 or more)", optarg);
			q->min_calls = (int64_t) value;
			break;
		case OPT_REGRESSIONS_MIN_EXTRA:
			if (!parse_number(optarg, 1e9, &q->min_extra_seconds) ||
			    !(q->min_extra_seconds > 0.0))
				return usage_error("invalid --min-extra-seconds \"%s\" (expected seconds, above 0)",
				    optarg);
			break;
		case OPT_REGRESSIONS_BASELINE_SINCE:
			if (!pgf_time_parse(optarg, now, &q->baseline_since_us))
				return usage_error("invalid --baseline-since \"%s\" (expected 1h, 7d, or 2026-01-31 12:00)",
				    optarg);
			break;
		case OPT_REGRESSIONS_BASELINE_UNTIL:
			if (!pgf_time_parse(optarg, now, &q->baseline_until_us))
				return usage_error("invalid --baseline-until \"%s\" (expected 1h, 7d, or 2026-01-31 12:00)",
				    optarg);
			break;
		case OPT_GROUP:
			if (strcmp(optarg, "instance") == 0)
				q->group = PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_INSTANCE;
			else if (strcmp(optarg, "cluster") == 0)
				q->group = PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_CLUSTER;
			else
				return usage_error("invalid --group \"%s\" (expected instance or cluster)",
				    optarg);
			break;
		default:
			fprintf(stderr, "Try \"pgfleet --help\".\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (q->baseline_until_us != 0 && q->baseline_until_us <= q->baseline_since_us)
		return usage_error("%s", "the baseline ends before it starts (--baseline-since, --baseline-until)");
	q->scope = &request->scope;
	return 0;
}

/* explain, cancel, terminate (action_cli.c) */
static int
parse_action(int argc, char **argv, struct cli_request *request)
{
	return action_cli_parse(argc, argv, &request->request, &request->listing, &request->json);
}

static const struct cli_command commands[] = {
	{"slow-queries",
	    "slow-queries [--limit N] [--min-duration-ms MS] [--order total|mean|calls]\n"
	    "               [--group instance|cluster|fleet]\n"
	    "               [--instance NAME] [--cluster ID] [--database DB]\n"
	    "               [--since 1h] [--until TIME] [--json]\n"
	    "      statements by time spent over the window (default: the last 24h)",
	    parse_slow_queries},
	{"query-trend", "query-trend QUERYID [SCOPE] [--bucket 1h]\n"
	    "      calls, total and mean time per bucket (sized to the window), with sparklines",
	    parse_query_trend},
	{"table-trend", "table-trend --table [SCHEMA.]TABLE [SCOPE] [--bucket 1d]\n"
	    "      one table's size, growth and dead tuples per bucket (--instance when on several)",
	    parse_table_trend},
	{"replication-trend", "replication-trend [SCOPE] [--bucket 1h]\n"
	    "      each standby's largest replay lag (bytes, seconds) per bucket, paused or not",
	    parse_replication_trend},
	{"fleet", "fleet [SCOPE]\n      clusters, instances, roles, versions, lag, last seen, health",
	    parse_listing},
	{"table-stats", "table-stats [SCOPE] [--limit N]\n      sizes, scans and writes of every table",
	    parse_listing},
	{"index-usage", "index-usage [SCOPE] [--limit N]\n      scans and size of every index, and which are unused",
	    parse_listing},
	{"bloat-stats", "bloat-stats [SCOPE] [--limit N]\n      dead tuples, estimated bloat, vacuum times, needs_vacuum",
	    parse_listing},
	{"index-recommendations", "index-recommendations [SCOPE] [--limit N]\n"
	    "      missing indexes (with hypopg's cost check), unused, duplicate, redundant, invalid\n"
	    "      indexes and unindexed foreign keys over the window, with DDL and evidence",
	    parse_listing},
	{"replication", "replication [SCOPE]\n      replicas, lag in bytes and seconds, slots",
	    parse_listing},
	{"activity", "activity [SCOPE]\n      connections by state, long-running queries, blocking locks",
	    parse_listing},
	{"vacuum-advice", "vacuum-advice [SCOPE] [--limit N]\n"
	    "      tables that need VACUUM, autovacuum off, bloat, wraparound risk; with the command",
	    parse_listing},
	{"replication-health", "replication-health [SCOPE] [--limit N]\n"
	    "      per replica: lag and its trend, replay paused, stopped streaming; inactive slots",
	    parse_listing},
	{"checklist", "checklist [SCOPE] [--limit N]\n"
	    "      the guide's production checklist per instance: pass/warn/fail with evidence",
	    parse_listing},
	{"pool-stats", "pool-stats [SCOPE] [--limit N]\n"
	    "      each application's connections (or pgbouncer's pools): pool size, checked out, overflow",
	    parse_listing},
	{"pool-recommendation", "pool-recommendation [SCOPE] [--limit N] [--buffer N]\n"
	    "      the pool size measured load asks for (p95 busy, Little's law, the guide's formula)",
	    parse_pool_recommendation},
	{"pool-size", "pool-size --concurrent-requests N --avg-query-ms MS [--buffer N] [--json]\n"
	    "      the guide's formula: (requests/s x query seconds) + buffer",
	    parse_pool_size},
	{"query-regressions", "query-regressions [SCOPE] [--limit N] [--min-factor 2] [--min-calls 10]\n"
	    "               [--min-extra-seconds 1] [--baseline-since T] [--baseline-until T]\n"
	    "               [--group instance|cluster]\n"
	    "      statements whose mean time in the window is min-factor times their baseline's\n"
	    "      (default baseline: the 7 days before the window), significantly (Welch's t >= 3)",
	    parse_query_regressions},
	{"explain", "explain --instance NAME [--database DB] [--analyze] [--json] \"SQL\"\n"
	    "  explain --instance NAME --queryid ID [--database DB] [--json]\n"
	    "      the plan of a statement, run by the instance's agent, with the guide's red flags\n"
	    "      (--analyze executes a single SELECT read-only, rolled back, if the agent allows)",
	    parse_action},
	{"cancel", "cancel --instance NAME --pid PID [--backend-start US]\n"
	    "      pg_cancel_backend of a client backend, if the instance's agent allows it",
	    parse_action},
	{"terminate", "terminate --instance NAME --pid PID [--backend-start US]\n"
	    "      pg_terminate_backend of a client backend, if the instance's agent allows it",
	    parse_action},
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "pgfleet asks a pgfleet collector about the fleet it watches.\n\n"
	    "Usage: pgfleet [--collector ADDR] SUBCOMMAND [options]\n\n"
	    "Subcommands (SCOPE: --instance NAME --cluster ID --database DB --since T --until T --json):\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].usage);
	fprintf(out, "\nGlobal options (also PGFLEET_KEY in the environment):\n");
	pgf_cfg_print_help(cli_config_keys, out);
	fprintf(out, "  --help         show this help\n  --version      show versions\n"
		     "\nExit status: 0 answered, 1 error answer or collector unreachable, 2 bad usage.\n");
}

/* Sends request and waits for the response. Returns 0 or
 * EXIT_ANSWER_ERROR after printing one line. */
static int
exchange(const struct cli_config *config, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response **response)
{
	nng_socket socket;
	ProtobufCMessage *message = NULL;
	char reason[512];
	int rv;

	*response = NULL;
	if ((rv = nng_req0_open(&socket)) != 0) {
		fprintf(stderr, "pgfleet: could not open a socket: %s\n", nng_strerror(rv));
		return EXIT_ANSWER_ERROR;
	}
	nng_socket_set_ms(socket, NNG_OPT_SENDTIMEO, (nng_duration) config->timeout);
	nng_socket_set_ms(socket, NNG_OPT_RECVTIMEO, (nng_duration) config->timeout);
	nng_socket_set_ms(socket, NNG_OPT_REQ_RESENDTIME, (nng_duration) config->timeout * 2);
	nng_socket_set_size(socket, NNG_OPT_RECVMAXSZ, CLI_MAX_RESPONSE);
	/* a tls+tcp:// dial returns after the handshake: a refused
	 * certificate is this error */
	if ((rv = pgf_tls_dial(socket, config->collector, config->tls, 0, NULL, reason,
		 sizeof(reason))) != 0) {
		fprintf(stderr, "pgfleet: could not connect to collector %s\n", reason);
		nng_close(socket);
		return EXIT_ANSWER_ERROR;
	}
	if ((rv = pgf_wire_send(socket, &request->base)) != PGF_OK ||
	    (rv = pgf_wire_recv(socket, &pgfleet__v1__response__descriptor, CLI_MAX_RESPONSE,
		 &message)) != PGF_OK) {
		fprintf(stderr, "pgfleet: no answer from collector \"%s\": %s\n",
		    config->collector, pgf_error_text(rv));
		nng_close(socket);
		return EXIT_ANSWER_ERROR;
	}
	nng_close(socket);
	*response = (Pgfleet__V1__Response *) message;
	return 0;
}

/* Prints the answer of response; returns the exit status. */
static int
print_response(const Pgfleet__V1__Response *response, bool json)
{
	const ProtobufCMessage *answer = NULL;

	if (response->answer_case == PGFLEET__V1__RESPONSE__ANSWER_ERROR) {
		fprintf(stderr, "pgfleet: %s\n", response->error->message);
		return EXIT_ANSWER_ERROR;
	}
	{
		int status;
		if (action_cli_print(response, json, &status))
			return status;
	}
	/* the set member of the oneof is the answer, whatever the question */
	for (unsigned i = 0; i < response->base.descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &response->base.descriptor->fields[i];
		if (field->type == PROTOBUF_C_TYPE_MESSAGE &&
		    *(const uint32_t *) ((const char *) response + field->quantifier_offset) ==
			field->id) {
			answer = *(ProtobufCMessage *const *) ((const char *) response +
			    field->offset);
		}
	}
	if (answer == NULL) {
		fprintf(stderr, "pgfleet: the collector sent an empty answer\n");
		return EXIT_ANSWER_ERROR;
	}
	if (json) {
		json_t *rendered = pgf_render_answer_json(answer);
		int rv = rendered != NULL ? pgf_render_json_print(rendered, stdout) : -1;
		json_decref(rendered);
		return rv == 0 ? 0 : EXIT_ANSWER_ERROR;
	}
	return pgf_render_table(answer, stdout) == 0 ? 0 : EXIT_ANSWER_ERROR;
}

int
main(int argc, char **argv)
{
	struct cli_config config;
	struct cli_request request;
	Pgfleet__V1__Response *response = NULL;
	const struct cli_command *command = NULL;
	enum pgf_log_level level = PGF_LOG_WARNING;
	char errbuf[1024];
	int first_arg = argc;
	int status;
	char *token_alias = NULL;
	char *admin_token = NULL;

	setlocale(LC_ALL, "");
	memset(&config, 0, sizeof(config));
	memset(&request, 0, sizeof(request));
	pgfleet__v1__request__init(&request.request);
	pgfleet__v1__scope__init(&request.scope);
	pgfleet__v1__slow_queries_request__init(&request.slow_queries);
	pgfleet__v1__query_trend_request__init(&request.query_trend);
	pgfleet__v1__table_trend_request__init(&request.table_trend);
	pgfleet__v1__replication_trend_request__init(&request.replication_trend);

	/* global --help/--version come before the subcommand */
	for (int i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("pgfleet %s (nng %s, protobuf-c %s, jansson %s)\n", PGFLEET_VERSION,
			    nng_version(), protobuf_c_version(), jansson_version_str());
			return 0;
		}
	}
	pgf_log_init("pgfleet", PGF_LOG_WARNING);
	/* --token-file is the short name of --admin-token-file (the key
	 * keeps the environment's PGFLEET_ADMIN_TOKEN_FILE apart from the
	 * agent's PGFLEET_TOKEN_FILE) */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--token-file") == 0 || strcmp(argv[i], "--token_file") == 0)
			argv[i] = (char *) "--admin-token-file";
		else if (strncmp(argv[i], "--token-file=", 13) == 0 ||
		    strncmp(argv[i], "--token_file=", 13) == 0) {
			free(token_alias);
			if ((token_alias = malloc(strlen(argv[i]) + 7)) == NULL)
				return EXIT_ANSWER_ERROR;
			sprintf(token_alias, "--admin-token-file=%s", argv[i] + 13);
			argv[i] = token_alias;
		}
	}
	if (pgf_cfg_load(cli_config_keys, &config, argc, argv, &first_arg, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet: %s\nTry \"pgfleet --help\".\n", errbuf);
		pgf_cfg_free(cli_config_keys, &config);
		free(token_alias);
		return EXIT_USAGE;
	}
	free(token_alias);
	token_alias = NULL;
	(void) pgf_log_level_parse(config.log_level, &level);
	pgf_log_set_level(level);
	{
		struct pgf_tls_options tls = {
			.ca = config.tls_ca,
			.cert = config.tls_cert,
			.key = config.tls_key,
			.server_name = config.tls_server_name,
		};
		if (pgf_tls_link_open(&tls, &config.tls, errbuf, sizeof(errbuf)) != PGF_OK ||
		    pgf_tls_check_addresses(config.tls, config.collector, "collector", NULL,
			errbuf, sizeof(errbuf)) != PGF_OK) {
			fprintf(stderr, "pgfleet: %s\n", errbuf);
			pgf_tls_link_free(config.tls);
			pgf_cfg_free(cli_config_keys, &config);
			return EXIT_USAGE;
		}
	}
	if (first_arg >= argc) {
		usage(stderr);
		pgf_tls_link_free(config.tls);
		pgf_cfg_free(cli_config_keys, &config);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[first_arg], commands[i].name) == 0)
			command = &commands[i];
	}
	if (command == NULL) {
		status = usage_error("unknown subcommand \"%s\"", argv[first_arg]);
		pgf_tls_link_free(config.tls);
		pgf_cfg_free(cli_config_keys, &config);
		return status;
	}
	optind = 1;
	status = command->parse(argc - first_arg, argv + first_arg, &request);
	if (status == 0 && config.admin_token_file[0] != '\0' &&
	    pgf_secret_file_read(config.admin_token_file, "admin token", &admin_token, errbuf,
		sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "pgfleet: %s\n", errbuf);
		status = EXIT_USAGE;
	}
	if (admin_token != NULL)
		request.request.admin_token = admin_token;
	if (status == 0)
		status = exchange(&config, &request.request, &response);
	if (admin_token != NULL) {
		memset(admin_token, 0, strlen(admin_token));
		free(admin_token);
	}
	if (status == 0)
		status = print_response(response, request.json);
	if (response != NULL)
		pgfleet__v1__response__free_unpacked(response, NULL);
	free(request.listing);
	pgf_tls_link_free(config.tls);
	pgf_cfg_free(cli_config_keys, &config);
	return status;
}
