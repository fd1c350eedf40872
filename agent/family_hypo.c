/*
 * family_hypo.c - hypothetical index checks with hypopg (see
 * family_hypo.h).
 *
 * One check, on the session of the check's database:
 *   1. hypopg must be installed there (pg_extension), else NOT_INSTALLED;
 *   2. BEGIN (the session is read-only by default), and on PG 13-15 SET
 *      LOCAL plan_cache_mode = force_generic_plan;
 *   3. plan the statement (generic plan, see family_hypo_method): cost
 *      before;
 *   4. hypopg_create_index(index statement): a hypothetical index, only in
 *      this backend's memory;
 *   5. plan again under a new prepared name (a prepared statement keeps
 *      its cached plan, which would not see the new index): cost after,
 *      and whether the plan scans the hypothetical index;
 *   6. ROLLBACK, hypopg_reset(), DEALLOCATE both names, whatever happened.
 */
#include "agent/family_hypo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pg_query.h>

#include "common/log.h"

struct hypo_state {
	Pgfleet__V1__IndexCheckRequest *pending[FAMILY_HYPO_MAX_PENDING];
	size_t n_pending;
};

static void
hypo_state_free(void *opaque)
{
	struct hypo_state *state = opaque;
	if (state == NULL)
		return;
	for (size_t i = 0; i < state->n_pending; i++)
		pgfleet__v1__index_check_request__free_unpacked(state->pending[i], NULL);
	free(state);
}

/* A deep copy by packing and unpacking: the ack is freed after this. */
static Pgfleet__V1__IndexCheckRequest *
copy_check(const Pgfleet__V1__IndexCheckRequest *check)
{
	size_t len = pgfleet__v1__index_check_request__get_packed_size(check);
	uint8_t *buffer = malloc(len > 0 ? len : 1);
	Pgfleet__V1__IndexCheckRequest *copy;
	if (buffer == NULL)
		return NULL;
	pgfleet__v1__index_check_request__pack(check, buffer);
	copy = pgfleet__v1__index_check_request__unpack(NULL, len, buffer);
	free(buffer);
	return copy;
}

void
family_hypo_accept(void **slot, const Pgfleet__V1__Ack *ack)
{
	struct hypo_state *state = *slot;

	if (ack->n_index_checks == 0)
		return;
	if (state == NULL && (state = *slot = calloc(1, sizeof(*state))) == NULL)
		return;
	for (size_t i = 0; i < ack->n_index_checks; i++) {
		const Pgfleet__V1__IndexCheckRequest *check = ack->index_checks[i];
		Pgfleet__V1__IndexCheckRequest *copy;
		bool known = false;
		for (size_t j = 0; j < state->n_pending && !known; j++) {
			const Pgfleet__V1__IndexCheckRequest *p = state->pending[j];
			known = p->queryid == check->queryid && strcmp(p->database, check->database) == 0 &&
			    strcmp(p->index_statement, check->index_statement) == 0;
		}
		if (known || state->n_pending >= FAMILY_HYPO_MAX_PENDING)
			continue;
		if ((copy = copy_check(check)) != NULL)
			state->pending[state->n_pending++] = copy;
	}
}

/* ---- pure parts ---- */

enum family_hypo_method
family_hypo_method(int server_version)
{
	/* EXPLAIN (GENERIC_PLAN) came with PostgreSQL 16 */
	return server_version >= 160000 ? FAMILY_HYPO_GENERIC_PLAN_OPTION : FAMILY_HYPO_PREPARE;
}

const char *
family_hypo_method_name(enum family_hypo_method method)
{
	return method == FAMILY_HYPO_GENERIC_PLAN_OPTION
	    ? "generic plan by EXPLAIN (GENERIC_PLAN)"
	    : "generic plan by PREPARE, plan_cache_mode = force_generic_plan, EXPLAIN EXECUTE with NULLs";
}

bool
family_hypo_explain_sql(enum family_hypo_method method, const char *statement,
    unsigned n_params, const char *name, char *prepare, size_t prepare_size, char *explain,
    size_t explain_size, char *deallocate, size_t deallocate_size)
{
	int n;
	size_t used;

	if (method == FAMILY_HYPO_GENERIC_PLAN_OPTION) {
		prepare[0] = '\0';
		deallocate[0] = '\0';
		n = snprintf(explain, explain_size, "EXPLAIN (FORMAT JSON, GENERIC_PLAN) %s",
		    statement);
		return n >= 0 && (size_t) n < explain_size;
	}
	n = snprintf(prepare, prepare_size, "PREPARE %s AS %s", name, statement);
	if (n < 0 || (size_t) n >= prepare_size)
		return false;
	n = snprintf(deallocate, deallocate_size, "DEALLOCATE %s", name);
	if (n < 0 || (size_t) n >= deallocate_size)
		return false;
	n = snprintf(explain, explain_size, "EXPLAIN (FORMAT JSON) EXECUTE %s", name);
	if (n < 0 || (size_t) n >= explain_size)
		return false;
	used = (size_t) n;
	for (unsigned i = 0; i < n_params; i++) {
		n = snprintf(explain + used, explain_size - used, "%s", i == 0 ? "(NULL" : ", NULL");
		if (n < 0 || (size_t) n >= explain_size - used)
			return false;
		used += (size_t) n;
	}
	if (n_params > 0) {
		if (used + 2 > explain_size)
			return false;
		explain[used++] = ')';
		explain[used] = '\0';
	}
	return true;
}

bool
family_hypo_quote(const char *text, char *out, size_t size)
{
	char tag[32];
	int n;
	/* $h$, then $h1$, $h2$... until the tag is not in the text */
	snprintf(tag, sizeof(tag), "$h$");
	for (unsigned i = 1; strstr(text, tag) != NULL; i++) {
		if (i > 1000)
			return false;
		snprintf(tag, sizeof(tag), "$h%u$", i);
	}
	n = snprintf(out, size, "%s%s%s", tag, text, tag);
	return n >= 0 && (size_t) n < size;
}

/* True when a node under plan (a plan object) scans index_name. */
static bool
plan_uses(json_t *plan, const char *index_name)
{
	json_t *name = json_object_get(plan, "Index Name"), *children;
	if (json_is_string(name) && strcmp(json_string_value(name), index_name) == 0)
		return true;
	children = json_object_get(plan, "Plans");
	for (size_t i = 0; i < json_array_size(children); i++) {
		if (plan_uses(json_array_get(children, i), index_name))
			return true;
	}
	return false;
}

bool
family_hypo_plan_cost(const char *text, const char *index_name, double *cost,
    bool *uses_index)
{
	json_t *root = json_loads(text, 0, NULL);
	json_t *plan = json_object_get(json_array_get(root, 0), "Plan");
	json_t *total = json_object_get(plan, "Total Cost");
	bool ok = json_is_number(total);

	if (ok) {
		*cost = json_number_value(total);
		*uses_index = index_name != NULL && plan_uses(plan, index_name);
	}
	json_decref(root);
	return ok;
}

/* The parse tree of text when it is exactly one statement of type
 * `type`; its JSON in *tree (caller frees with
 * pg_query_free_parse_result). */
static bool
one_statement(const char *text, const char *type, PgQueryParseResult *parsed, char *errbuf,
    size_t errlen)
{
	json_t *root, *stmts, *stmt;
	bool ok;
	char key[64];

	*parsed = pg_query_parse(text);
	if (parsed->error != NULL) {
		snprintf(errbuf, errlen, "could not parse: %s", parsed->error->message);
		return false;
	}
	root = json_loads(parsed->parse_tree, 0, NULL);
	stmts = json_object_get(root, "stmts");
	stmt = json_object_get(json_array_get(stmts, 0), "stmt");
	ok = json_array_size(stmts) == 1 && json_object_get(stmt, type) != NULL &&
	    json_object_size(stmt) == 1;
	json_decref(root);
	if (!ok) {
		snprintf(key, sizeof(key), "%s", type);
		snprintf(errbuf, errlen, "not one %s", strcmp(key, "SelectStmt") == 0 ? "SELECT"
												: "CREATE INDEX");
	}
	return ok;
}

bool
family_hypo_statement_ok(const char *text, char *errbuf, size_t errlen)
{
	static const char *const forbidden[] = {
		"\"InsertStmt\":", "\"UpdateStmt\":", "\"DeleteStmt\":", "\"MergeStmt\":",
		"\"intoClause\":", "\"lockingClause\":",
	};
	PgQueryParseResult parsed;
	bool ok = one_statement(text, "SelectStmt", &parsed, errbuf, errlen);

	for (size_t i = 0; ok && i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		if (strstr(parsed.parse_tree, forbidden[i]) != NULL) {
			snprintf(errbuf, errlen,
			    "not a plain SELECT (it writes, locks rows or creates a table)");
			ok = false;
		}
	}
	pg_query_free_parse_result(parsed);
	return ok;
}

bool
family_hypo_index_ok(const char *text, char *errbuf, size_t errlen)
{
	PgQueryParseResult parsed;
	bool ok = one_statement(text, "IndexStmt", &parsed, errbuf, errlen);
	pg_query_free_parse_result(parsed);
	return ok;
}

/* ---- the family ---- */

static int64_t
cadence(const struct agent_config *config)
{
	/* as often as statements: a check asked in an Ack is answered in the
	 * next report or the one after */
	return config->interval;
}

/* Runs sql; NULL with the reason in errbuf on failure. */
static PGresult *
run(struct pg_session *session, const char *sql, char *errbuf, size_t errlen)
{
	char sqlstate[6];
	return pg_session_query(session, sql, errbuf, errlen, sqlstate);
}

/* Plans the statement under name: its total cost, whether it scans
 * index_name (NULL before the index exists). */
static bool
plan(struct pg_session *session, enum family_hypo_method method,
    const Pgfleet__V1__IndexCheckRequest *check, const char *name, const char *index_name,
    double *cost, bool *uses, char *errbuf, size_t errlen)
{
	size_t size = strlen(check->statement) + 128 + 8 * (size_t) check->n_params;
	char *prepare = malloc(size), *explain = malloc(size);
	char deallocate[64];
	PGresult *result = NULL;
	bool ok = false;

	if (prepare == NULL || explain == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto done;
	}
	if (!family_hypo_explain_sql(method, check->statement, check->n_params, name, prepare,
		size, explain, size, deallocate, sizeof(deallocate))) {
		snprintf(errbuf, errlen, "statement too long");
		goto done;
	}
	if (prepare[0] != '\0') {
		if ((result = run(session, prepare, errbuf, errlen)) == NULL)
			goto done;
		PQclear(result);
	}
	if ((result = run(session, explain, errbuf, errlen)) == NULL)
		goto done;
	if (PQntuples(result) < 1 ||
	    !family_hypo_plan_cost(PQgetvalue(result, 0, 0), index_name, cost, uses)) {
		snprintf(errbuf, errlen, "could not read the plan");
		goto done;
	}
	ok = true;
done:
	PQclear(result);
	free(prepare);
	free(explain);
	return ok;
}

static void
check_one(struct family_context *context, struct pg_session *session,
    const Pgfleet__V1__IndexCheckRequest *check, Pgfleet__V1__IndexCheckResult *out)
{
	enum family_hypo_method method = family_hypo_method(context->server_version);
	char errbuf[512] = "", *quoted = NULL, *sql = NULL, index_name[128] = "";
	char ignored[512];
	PGresult *result = NULL;
	bool begun = false, created = false, uses = false;
	size_t size;

	out->status = PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_ERROR;
	if (!family_hypo_statement_ok(check->statement, errbuf, sizeof(errbuf)) ||
	    !family_hypo_index_ok(check->index_statement, errbuf, sizeof(errbuf)))
		goto done;
	if ((result = run(session, "SELECT 1 FROM pg_extension WHERE extname = 'hypopg'", errbuf,
		 sizeof(errbuf))) == NULL)
		goto done;
	if (PQntuples(result) == 0) {
		out->status = PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_NOT_INSTALLED;
		snprintf(errbuf, sizeof(errbuf),
		    "hypopg is not installed in database \"%s\" (CREATE EXTENSION hypopg)",
		    check->database);
		goto done;
	}
	PQclear(result);
	result = NULL;
	if ((result = run(session, "BEGIN", errbuf, sizeof(errbuf))) == NULL)
		goto done;
	begun = true;
	PQclear(result);
	if (method == FAMILY_HYPO_PREPARE) {
		if ((result = run(session, "SET LOCAL plan_cache_mode = force_generic_plan", errbuf,
			 sizeof(errbuf))) == NULL)
			goto done;
		PQclear(result);
	}
	result = NULL;
	if (!plan(session, method, check, "pgfleet_hypo_before", NULL, &out->cost_before, &uses,
		errbuf, sizeof(errbuf)))
		goto done;
	size = 2 * strlen(check->index_statement) + 128;
	if ((quoted = malloc(size)) == NULL || (sql = malloc(size + 128)) == NULL ||
	    !family_hypo_quote(check->index_statement, quoted, size)) {
		snprintf(errbuf, sizeof(errbuf), "could not quote the index statement");
		goto done;
	}
	snprintf(sql, size + 128, "SELECT indexrelid, indexname FROM hypopg_create_index(%s)",
	    quoted);
	if ((result = run(session, sql, errbuf, sizeof(errbuf))) == NULL)
		goto done;
	created = true;
	if (PQntuples(result) != 1) {
		snprintf(errbuf, sizeof(errbuf), "hypopg made no index");
		goto done;
	}
	snprintf(index_name, sizeof(index_name), "%s", PQgetvalue(result, 0, 1));
	snprintf(sql, size + 128, "SELECT hypopg_relation_size(%s)", PQgetvalue(result, 0, 0));
	PQclear(result);
	result = NULL;
	if (!plan(session, method, check, "pgfleet_hypo_after", index_name, &out->cost_after,
		&uses, errbuf, sizeof(errbuf)))
		goto done;
	out->index_used = uses;
	if ((result = run(session, sql, errbuf, sizeof(errbuf))) != NULL &&
	    PQntuples(result) == 1)
		out->estimated_index_bytes = family_int64(result, 0, 0);
	out->status = PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK;
	snprintf(errbuf, sizeof(errbuf), "%s", family_hypo_method_name(method));
done:
	PQclear(result);
	/* undo everything, whatever failed: nothing of the check stays in
	 * the session */
	if (begun)
		PQclear(run(session, "ROLLBACK", ignored, sizeof(ignored)));
	if (created)
		PQclear(run(session, "SELECT hypopg_reset()", ignored, sizeof(ignored)));
	if (method == FAMILY_HYPO_PREPARE && begun) {
		PQclear(run(session, "DEALLOCATE pgfleet_hypo_before", ignored, sizeof(ignored)));
		PQclear(run(session, "DEALLOCATE pgfleet_hypo_after", ignored, sizeof(ignored)));
	}
	free(quoted);
	free(sql);
	out->detail = pgf_arena_strdup(context->arena, errbuf);
	if (out->status != PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK)
		pgf_debug("instance=%s index check of statement %lld in \"%s\": %s",
		    context->identity->name, (long long) check->queryid, check->database, errbuf);
}

static void
collect(struct family_context *context, Pgfleet__V1__Report *report)
{
	struct hypo_state *state = *context->state;
	Pgfleet__V1__IndexChecksFamily *family;
	Pgfleet__V1__IndexCheckResult **results;

	if (state == NULL || state->n_pending == 0)
		return;
	family = family_new_message(context, &pgfleet__v1__index_checks_family__descriptor);
	results = (Pgfleet__V1__IndexCheckResult **) family_rows(context, state->n_pending,
	    &pgfleet__v1__index_check_result__descriptor);
	if (family == NULL || results == NULL)
		return;
	family->results = results;
	for (size_t i = 0; i < state->n_pending; i++) {
		const Pgfleet__V1__IndexCheckRequest *check = state->pending[i];
		Pgfleet__V1__IndexCheckResult *out = results[family->n_results++];
		struct pg_session *session = NULL;
		char errbuf[512] = "";

		out->database = pgf_arena_strdup(context->arena, check->database);
		out->index_statement = pgf_arena_strdup(context->arena, check->index_statement);
		out->queryid = check->queryid;
		for (size_t d = 0; d < db_pool_count(context->databases) && session == NULL; d++) {
			if (strcmp(db_pool_name(context->databases, d), check->database) == 0)
				session = db_pool_session(context->databases, d, errbuf, sizeof(errbuf));
		}
		if (session == NULL) {
			out->status = PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_ERROR;
			out->detail = pgf_arena_strdup(context->arena,
			    errbuf[0] != '\0' ? errbuf : "the agent does not read this database");
			continue;
		}
		check_one(context, session, check, out);
	}
	report->index_checks = family;
	/* answered: the collector asks again for what it still wants */
	for (size_t i = 0; i < state->n_pending; i++)
		pgfleet__v1__index_check_request__free_unpacked(state->pending[i], NULL);
	state->n_pending = 0;
}

const struct agent_family family_index_checks = {
	.name = "index_checks",
	.cadence_ms = cadence,
	.min_server_version = 130000,
	.collect = collect,
	.state_free = hypo_state_free,
};
