/*
 * action_cli.c - explain, cancel and terminate for the pgfleet CLI (see
 * action_cli.h).
 */
#include "collector/action_cli.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/render.h"

#define EXIT_USAGE 2

enum {
	OPT_INSTANCE = 2000,
	OPT_DATABASE,
	OPT_ANALYZE,
	OPT_JSON,
	OPT_QUERYID,
	OPT_PID,
	OPT_BACKEND_START,
};

static int
usage_error(const char *format, const char *value)
{
	fprintf(stderr, "pgfleet: ");
	fprintf(stderr, format, value);
	fprintf(stderr, "\nTry \"pgfleet --help\".\n");
	return EXIT_USAGE;
}

/* Who asks, for both sides' audit logs: the OS user running the CLI. */
static char *
requester(void)
{
	static char name[128];
	struct passwd *entry = getpwuid(geteuid());
	snprintf(name, sizeof(name), "%s", entry != NULL ? entry->pw_name : "uid?");
	return name;
}

static bool
parse_int64(const char *text, long long min, long long *out)
{
	char *end = NULL;
	errno = 0;
	*out = strtoll(text, &end, 10);
	return errno == 0 && end != text && *end == '\0' && *out >= min;
}

static int
parse_explain(int argc, char **argv, Pgfleet__V1__Request *request,
    ProtobufCMessage **owned, bool *json)
{
	static const struct option options[] = {
		{ "instance", required_argument, NULL, OPT_INSTANCE },
		{ "database", required_argument, NULL, OPT_DATABASE },
		{ "analyze", no_argument, NULL, OPT_ANALYZE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "queryid", required_argument, NULL, OPT_QUERYID },
		{ NULL, 0, NULL, 0 },
	};
	Pgfleet__V1__ExplainRequest *q = malloc(sizeof(*q));
	long long value;
	int option;

	if (q == NULL) {
		fprintf(stderr, "pgfleet: out of memory\n");
		return EXIT_USAGE;
	}
	pgfleet__v1__explain_request__init(q);
	*owned = &q->base;
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case OPT_INSTANCE:
			q->instance = optarg;
			break;
		case OPT_DATABASE:
			q->database = optarg;
			break;
		case OPT_ANALYZE:
			q->analyze = true;
			break;
		case OPT_JSON:
			*json = true;
			break;
		case OPT_QUERYID:
			if (!parse_int64(optarg, INT64_MIN, &value) || value == 0)
				return usage_error("invalid --queryid \"%s\" (expected a "
						   "pg_stat_statements queryid)",
				    optarg);
			q->queryid = value;
			break;
		default:
			fprintf(stderr, "Try \"pgfleet --help\".\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		q->query = argv[optind++];
	if (optind < argc)
		return usage_error(
		    "unexpected argument \"%s\" (quote the statement as one argument)",
		    argv[optind]);
	if (q->instance[0] == '\0')
		return usage_error("%s", "explain needs --instance NAME");
	if ((q->query[0] == '\0') == (q->queryid == 0))
		return usage_error(
		    "%s", "explain needs either a statement or --queryid ID");
	q->requested_by = requester();
	request->question_case = PGFLEET__V1__REQUEST__QUESTION_EXPLAIN;
	request->explain = q;
	return 0;
}

static int
parse_backend_signal(int argc, char **argv, Pgfleet__V1__Request *request,
    ProtobufCMessage **owned, bool *json)
{
	static const struct option options[] = {
		{ "instance", required_argument, NULL, OPT_INSTANCE },
		{ "pid", required_argument, NULL, OPT_PID },
		{ "backend-start", required_argument, NULL, OPT_BACKEND_START },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	Pgfleet__V1__BackendSignalRequest *q = malloc(sizeof(*q));
	long long value;
	int option;

	if (q == NULL) {
		fprintf(stderr, "pgfleet: out of memory\n");
		return EXIT_USAGE;
	}
	pgfleet__v1__backend_signal_request__init(q);
	*owned = &q->base;
	q->signal = strcmp(argv[0], "terminate") == 0
	    ? PGFLEET__V1__BACKEND_SIGNAL_REQUEST__SIGNAL__SIGNAL_TERMINATE
	    : PGFLEET__V1__BACKEND_SIGNAL_REQUEST__SIGNAL__SIGNAL_CANCEL;
	while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (option) {
		case OPT_INSTANCE:
			q->instance = optarg;
			break;
		case OPT_PID:
			if (!parse_int64(optarg, 1, &value) || value > INT32_MAX)
				return usage_error("invalid --pid \"%s\" (expected a "
						   "backend's process id)",
				    optarg);
			q->pid = (int32_t) value;
			break;
		case OPT_BACKEND_START:
			if (!parse_int64(optarg, 1, &value))
				return usage_error("invalid --backend-start \"%s\" "
						   "(expected microseconds since"
						   " 1970, as extract(epoch FROM "
						   "backend_start) * 1000000)",
				    optarg);
			q->backend_start_us = value;
			break;
		case OPT_JSON:
			*json = true;
			break;
		default:
			fprintf(stderr, "Try \"pgfleet --help\".\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (q->instance[0] == '\0' || q->pid == 0)
		return usage_error("%s needs --instance NAME and --pid PID", argv[0]);
	q->requested_by = requester();
	request->question_case = PGFLEET__V1__REQUEST__QUESTION_BACKEND_SIGNAL;
	request->backend_signal = q;
	return 0;
}

int
action_cli_parse(int argc, char **argv, Pgfleet__V1__Request *request,
    ProtobufCMessage **owned, bool *json)
{
	*owned = NULL;
	if (strcmp(argv[0], "explain") == 0)
		return parse_explain(argc, argv, request, owned, json);
	return parse_backend_signal(argc, argv, request, owned, json);
}

bool
action_cli_print(const Pgfleet__V1__Response *response, bool json, int *status)
{
	const Pgfleet__V1__Explain *explain = response->explain;

	if (response->answer_case != PGFLEET__V1__RESPONSE__ANSWER_EXPLAIN
	    || explain == NULL)
		return false;
	if (json) {
		json_t *rendered = pgf_render_json(&explain->base);
		*status = rendered != NULL && pgf_render_json_print(rendered, stdout) == 0
		    ? 0
		    : 1;
		json_decref(rendered);
		return true;
	}
	printf("%s on instance %s%s%s%s%s%s\n",
	    explain->analyze ? "EXPLAIN ANALYZE" : "EXPLAIN", explain->instance,
	    explain->database[0] != '\0' ? ", database " : "", explain->database,
	    explain->options[0] != '\0' ? " (parameters unknown: " : "", explain->options,
	    explain->options[0] != '\0' ? ")" : "");
	fputs(explain->plan_text, stdout);
	if (explain->n_flags == 0) {
		printf("\nRed flags: none\n");
	} else {
		printf("\nRed flags:\n");
		for (size_t i = 0; i < explain->n_flags; i++)
			printf("  - %s: %s\n    %s\n", explain->flags[i]->kind,
			    explain->flags[i]->node, explain->flags[i]->detail);
	}
	*status = fflush(stdout) == 0 ? 0 : 1;
	return true;
}
