/*
 * api_actions.c - explain and cancel/terminate through the action broker
 * (see api_actions.h).
 *
 * The collector checks only the request's shape and finds the text of a
 * --queryid; whether an action is allowed and safe is the agent's
 * decision (its allow_* keys, its statement checks), so a refusal is
 * audited on both sides.
 */
#include "collector/api_actions.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/action_broker.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "pgfleet/v1/agent_actions.pb-c.h"

static void action_error(Pgfleet__V1__Response *response, Pgfleet__V1__Error__Code code,
    const char *format, ...) __attribute__((format(printf, 3, 4)));

static void
action_error(Pgfleet__V1__Response *response, Pgfleet__V1__Error__Code code,
    const char *format, ...)
{
	Pgfleet__V1__Error *error = malloc(sizeof(*error));
	char message[1024];
	va_list args;

	va_start(args, format);
	vsnprintf(message, sizeof(message), format, args);
	va_end(args);
	if (error == NULL)
		return;
	pgfleet__v1__error__init(error);
	error->code = code;
	error->message = strdup(message);
	if (error->message == NULL)
		error->message = (char *) protobuf_c_empty_string;
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_ERROR;
	response->error = error;
}

/* The audit line of the collector's side. */
static void
audit(const char *instance, const char *requested_by, const char *what,
    int64_t started_ms, const char *outcome)
{
	pgf_info("action instance=%s requested_by=\"%.64s\" %s: %s (%lld ms)", instance,
	    requested_by[0] != '\0' ? requested_by : "?", what, outcome,
	    (long long) (pgf_monotonic_ms() - started_ms));
}

/* Sends command to instance and turns the agent's answer into response
 * (OUTCOME_CASE's member, detached from the result). */
static void
forward(const char *instance, const char *requested_by, const char *what,
    Pgfleet__V1__Command *command, Pgfleet__V1__Response *response)
{
	struct action_broker *broker = action_broker_current();
	Pgfleet__V1__CommandResult *result = NULL;
	int64_t started_ms = pgf_monotonic_ms();
	char errbuf[1024];
	int rv;

	if (broker == NULL) {
		audit(instance, requested_by, what, started_ms,
		    "refused: no action listener");
		action_error(response, PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE,
		    "this collector takes no actions (no action_listen)");
		return;
	}
	rv = action_broker_call(
	    broker, instance, command, &result, errbuf, sizeof(errbuf));
	if (rv != PGF_OK) {
		audit(instance, requested_by, what, started_ms, errbuf);
		action_error(
		    response, PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE, "%s", errbuf);
		return;
	}
	if (result->error[0] != '\0') {
		char outcome[1100];
		snprintf(outcome, sizeof(outcome), "%s by the agent: %s",
		    result->error_kind, result->error);
		audit(instance, requested_by, what, started_ms, outcome);
		action_error(response,
		    strcmp(result->error_kind, "refused") == 0
			? PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST
			: PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,
		    "instance \"%s\": %s", instance, result->error);
	} else if (result->outcome_case == PGFLEET__V1__COMMAND_RESULT__OUTCOME_EXPLAIN
	    && command->action_case == PGFLEET__V1__COMMAND__ACTION_EXPLAIN) {
		audit(instance, requested_by, what, started_ms, "ok");
		response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_EXPLAIN;
		response->explain = result->explain;
		result->explain = NULL;
		result->outcome_case = PGFLEET__V1__COMMAND_RESULT__OUTCOME__NOT_SET;
	} else if (result->outcome_case
		== PGFLEET__V1__COMMAND_RESULT__OUTCOME_BACKEND_SIGNAL
	    && command->action_case == PGFLEET__V1__COMMAND__ACTION_BACKEND_SIGNAL) {
		audit(instance, requested_by, what, started_ms,
		    result->backend_signal->gone ? "ok, backend gone" : "ok");
		response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_BACKEND_SIGNAL;
		response->backend_signal = result->backend_signal;
		result->backend_signal = NULL;
		result->outcome_case = PGFLEET__V1__COMMAND_RESULT__OUTCOME__NOT_SET;
	} else {
		audit(instance, requested_by, what, started_ms,
		    "failed: the agent's answer does not match");
		action_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,
		    "instance \"%s\": the agent answered another action", instance);
	}
	protobuf_c_message_free_unpacked(&result->base, NULL);
}

void
api_actions_explain(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__ExplainRequest *question = request->explain;
	Pgfleet__V1__ExplainRequest forwarded = *question;
	Pgfleet__V1__Command command = PGFLEET__V1__COMMAND__INIT;
	char *text = NULL;
	char *database = NULL;
	char what[256];
	char errbuf[512];

	if (question->instance[0] == '\0') {
		action_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "explain needs an instance");
		return;
	}
	if ((question->query[0] == '\0') == (question->queryid == 0)) {
		action_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "explain needs either a query or a queryid");
		return;
	}
	snprintf(what, sizeof(what), "%s%s%lld database=\"%.64s\"",
	    question->analyze ? "explain-analyze" : "explain",
	    question->queryid != 0 ? " queryid=" : "", (long long) question->queryid,
	    question->database);
	if (question->queryid == 0)
		snprintf(what, sizeof(what), "%s database=\"%.64s\" query=\"%.80s\"",
		    question->analyze ? "explain-analyze" : "explain", question->database,
		    question->query);
	if (question->queryid != 0) {
		bool truncated = false;
		int rv
		    = store_statement_text(store, question->instance, question->queryid,
			&text, &truncated, &database, errbuf, sizeof(errbuf));
		if (rv != PGF_OK) {
			audit(question->instance, question->requested_by, what,
			    pgf_monotonic_ms(), errbuf);
			action_error(response,
			    rv == PGF_ENOTFOUND ? PGFLEET__V1__ERROR__CODE__CODE_NOT_FOUND
						: PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,
			    "explain: %s", errbuf);
			return;
		}
		if (truncated) {
			audit(question->instance, question->requested_by, what,
			    pgf_monotonic_ms(), "refused: the stored text was cut");
			action_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
			    "the stored text of queryid %lld was cut by the agent "
			    "(max_query_text):"
			    " it cannot be explained",
			    (long long) question->queryid);
			free(text);
			free(database);
			return;
		}
		forwarded.query = text;
		if (question->database[0] == '\0')
			forwarded.database = database;
	}
	command.action_case = PGFLEET__V1__COMMAND__ACTION_EXPLAIN;
	command.explain = &forwarded;
	forward(question->instance, question->requested_by, what, &command, response);
	free(text);
	free(database);
}

void
api_actions_backend_signal(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__BackendSignalRequest *question = request->backend_signal;
	Pgfleet__V1__Command command = PGFLEET__V1__COMMAND__INIT;
	bool terminate = question->signal
	    == PGFLEET__V1__BACKEND_SIGNAL_REQUEST__SIGNAL__SIGNAL_TERMINATE;
	char what[128];

	(void) store;
	if (question->instance[0] == '\0' || question->pid <= 0) {
		action_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "%s needs an instance and a positive pid",
		    terminate ? "terminate" : "cancel");
		return;
	}
	snprintf(what, sizeof(what), "%s pid=%d", terminate ? "terminate" : "cancel",
	    question->pid);
	command.action_case = PGFLEET__V1__COMMAND__ACTION_BACKEND_SIGNAL;
	command.backend_signal = (Pgfleet__V1__BackendSignalRequest *) question;
	forward(question->instance, question->requested_by, what, &command, response);
}
