/*
 * action_check.c - statement checks for EXPLAIN actions (see
 * action_check.h).
 *
 * libpg_query gives the parse tree as JSON; the checks walk every object in
 * it, so a function or a write hidden in a subquery, a CTE, a join or a
 * function's arguments is found wherever it sits. The walk refuses rather
 * than guesses: anything it does not understand is not run.
 */
#include "agent/action_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <pg_query.h>

/*
 * Functions that must not run under EXPLAIN ANALYZE, even in a read-only
 * transaction that is rolled back: they act outside the transaction
 * (signals, remote connections, advisory locks, sequences, notifications,
 * files, configuration, WAL and replication control) or run SQL given as
 * text, which the parse check cannot see. A trailing '*' matches a prefix.
 * pg_sleep is allowed: the statement_timeout bounds it.
 */
static const char *const blocklist[] = {
	"dblink*",
	"pg_terminate_backend",
	"pg_cancel_backend",
	"pg_signal_backend",
	"pg_reload_conf",
	"pg_rotate_logfile",
	"pg_promote",
	"pg_log_backend_memory_contexts",
	"lo_*",
	"loread",
	"lowrite",
	"pg_read_file*",
	"pg_read_binary_file*",
	"pg_ls_*",
	"pg_stat_file",
	"pg_write*",
	"pg_file_*",
	"set_config",
	"pg_advisory*",
	"pg_try_advisory*",
	"nextval",
	"setval",
	"pg_notify",
	"txid_current*",
	"pg_current_xact_id*",
	"pg_switch_wal",
	"pg_create_*",
	"pg_drop_replication_slot",
	"pg_replication_slot_advance",
	"pg_logical_emit_message",
	"pg_logical_slot_*",
	"pg_backup_*",
	"pg_start_backup",
	"pg_stop_backup",
	"pg_wal_replay_*",
	"pg_stat_reset*",
	"pg_stat_statements_reset",
	"pg_import_system_collations",
	"query_to_xml*",
	"cursor_to_xml*",
	NULL,
};

/* Statement kinds plain EXPLAIN accepts (it plans them, runs nothing). */
static const char *const explainable[] = {
	"SelectStmt",
	"InsertStmt",
	"UpdateStmt",
	"DeleteStmt",
	"MergeStmt",
	NULL,
};

/* Statement nodes that write: never inside an ANALYZEd SELECT. */
static const char *const writing_nodes[] = {
	"InsertStmt",
	"UpdateStmt",
	"DeleteStmt",
	"MergeStmt",
	NULL,
};

bool
action_check_blocklisted(const char *function_name)
{
	for (size_t i = 0; blocklist[i] != NULL; i++) {
		size_t len = strlen(blocklist[i]);
		if (blocklist[i][len - 1] == '*') {
			if (strncasecmp(function_name, blocklist[i], len - 1) == 0)
				return true;
		} else if (strcasecmp(function_name, blocklist[i]) == 0) {
			return true;
		}
	}
	return false;
}

static bool
in_list(const char *name, const char *const *list)
{
	for (size_t i = 0; list[i] != NULL; i++) {
		if (strcmp(name, list[i]) == 0)
			return true;
	}
	return false;
}

struct walk {
	bool analyze;
	bool has_params;
	int param_count;
	char *errbuf;
	size_t errlen;
};

/* The function name of a FuncCall node: the last element of funcname. */
static const char *
function_name(json_t *func_call)
{
	json_t *names = json_object_get(func_call, "funcname");
	json_t *last;
	json_t *string;
	const char *text;

	if (!json_is_array(names) || json_array_size(names) == 0)
		return NULL;
	last = json_array_get(names, json_array_size(names) - 1);
	string = json_object_get(last, "String");
	/* libpg_query 15 says "sval", older ones "str" */
	text = json_string_value(json_object_get(string, "sval"));
	if (text == NULL)
		text = json_string_value(json_object_get(string, "str"));
	return text;
}

/* Walks node; false (with the reason in walk->errbuf) at the first thing
 * refused. */
static bool
walk_node(json_t *node, struct walk *walk)
{
	const char *key;
	json_t *value;
	size_t index;

	if (json_is_array(node)) {
		json_array_foreach(node, index, value)
		{
			if (!walk_node(value, walk))
				return false;
		}
		return true;
	}
	if (!json_is_object(node))
		return true;
	json_object_foreach(node, key, value)
	{
		if (strcmp(key, "ParamRef") == 0) {
			json_int_t number
			    = json_integer_value(json_object_get(value, "number"));
			walk->has_params = true;
			if (number > walk->param_count)
				walk->param_count
				    = number > 100000 ? 100000 : (int) number;
		}
		if (strcmp(key, "intoClause") == 0) {
			snprintf(walk->errbuf, walk->errlen,
			    "SELECT INTO creates a table: not allowed in an EXPLAIN "
			    "action");
			return false;
		}
		if (walk->analyze && strcmp(key, "lockingClause") == 0) {
			snprintf(walk->errbuf, walk->errlen,
			    "EXPLAIN ANALYZE refused: FOR UPDATE/SHARE takes row locks");
			return false;
		}
		if (walk->analyze && in_list(key, writing_nodes)) {
			snprintf(walk->errbuf, walk->errlen,
			    "EXPLAIN ANALYZE refused: the statement contains a "
			    "data-modifying %.6s",
			    key);
			return false;
		}
		if (walk->analyze && strcmp(key, "FuncCall") == 0) {
			const char *name = function_name(value);
			if (name == NULL) {
				snprintf(walk->errbuf, walk->errlen,
				    "EXPLAIN ANALYZE refused: a function call without a "
				    "name");
				return false;
			}
			if (action_check_blocklisted(name)) {
				snprintf(walk->errbuf, walk->errlen,
				    "EXPLAIN ANALYZE refused: function \"%.64s\" is not "
				    "allowed",
				    name);
				return false;
			}
		}
		if (!walk_node(value, walk))
			return false;
	}
	return true;
}

int
action_check_statement(const char *sql, bool analyze, struct action_check_result *out,
    char *errbuf, size_t errlen)
{
	PgQueryParseResult parsed;
	json_t *tree = NULL;
	json_t *statements;
	json_t *raw;
	json_t *statement;
	json_error_t json_error;
	struct walk walk = { analyze, false, 0, errbuf, errlen };
	const char *kind = NULL;
	json_t *body = NULL;
	size_t sql_len = strlen(sql);
	int rv = PGF_EINVAL;

	memset(out, 0, sizeof(*out));
	if (sql_len > ACTION_CHECK_MAX_STATEMENT) {
		snprintf(errbuf, errlen, "statement of %zu bytes is longer than %d",
		    sql_len, ACTION_CHECK_MAX_STATEMENT);
		return PGF_EINVAL;
	}
	parsed = pg_query_parse(sql);
	if (parsed.error != NULL) {
		snprintf(errbuf, errlen,
		    "statement does not parse: %.200s (at character %d)",
		    parsed.error->message, parsed.error->cursorpos);
		goto done;
	}
	tree = json_loads(parsed.parse_tree, 0, &json_error);
	if (tree == NULL) {
		snprintf(
		    errbuf, errlen, "could not read the parse tree: %s", json_error.text);
		goto done;
	}
	statements = json_object_get(tree, "stmts");
	if (!json_is_array(statements) || json_array_size(statements) == 0) {
		snprintf(errbuf, errlen, "no statement given");
		goto done;
	}
	if (json_array_size(statements) > 1) {
		snprintf(errbuf, errlen,
		    "%zu statements given: an EXPLAIN action takes exactly one",
		    json_array_size(statements));
		goto done;
	}
	raw = json_array_get(statements, 0);
	statement = json_object_get(raw, "stmt");
	if (!json_is_object(statement) || json_object_size(statement) != 1) {
		snprintf(errbuf, errlen, "could not read the parse tree");
		goto done;
	}
	json_object_foreach(statement, kind, body)
	{
		break;
	}
	if (kind == NULL || body == NULL) {
		snprintf(errbuf, errlen, "could not read the parse tree");
		goto done;
	}
	snprintf(out->kind, sizeof(out->kind), "%s", kind);
	if (analyze && strcmp(kind, "SelectStmt") != 0) {
		snprintf(errbuf, errlen,
		    "EXPLAIN ANALYZE refused: only a SELECT may be executed, not a %.24s",
		    kind);
		goto done;
	}
	if (!in_list(kind, explainable)) {
		snprintf(
		    errbuf, errlen, "EXPLAIN refused: a %.24s cannot be explained", kind);
		goto done;
	}
	if (!walk_node(body, &walk))
		goto done;
	out->has_params = walk.has_params;
	out->param_count
	    = walk.param_count > 0 || !walk.has_params ? walk.param_count : 1;
	{
		json_int_t location
		    = json_integer_value(json_object_get(raw, "stmt_location"));
		json_int_t length = json_integer_value(json_object_get(raw, "stmt_len"));
		if (location < 0 || (size_t) location > sql_len)
			location = 0;
		if (length <= 0 || (size_t) (location + length) > sql_len)
			length = (json_int_t) (sql_len - (size_t) location);
		out->start = (size_t) location;
		out->length = (size_t) length;
	}
	rv = PGF_OK;
done:
	json_decref(tree);
	pg_query_free_parse_result(parsed);
	return rv;
}

int
action_explain_sql(const char *statement, size_t length, bool analyze, int param_count,
    int server_version_num, char **prepare_out, char **sql_out, const char **options_out,
    char *errbuf, size_t errlen)
{
	const char *options;
	size_t size;
	char *sql = NULL;
	char *prepare = NULL;

	*sql_out = NULL;
	*prepare_out = NULL;
	*options_out = "";
	if (param_count > 0 && analyze) {
		snprintf(errbuf, errlen,
		    "EXPLAIN ANALYZE needs values, not parameters ($1, ...): give the "
		    "statement with values");
		return PGF_EINVAL;
	}
	if (param_count > 65535) {
		snprintf(
		    errbuf, errlen, "statement has %d parameters: too many", param_count);
		return PGF_EINVAL;
	}
	if (param_count > 0 && server_version_num < 160000) {
		/* PREPARE + a forced generic plan: what GENERIC_PLAN does in 16 */
		size = strlen("PREPARE " ACTION_EXPLAIN_PREPARED " AS ") + length + 1;
		prepare = malloc(size);
		sql = malloc(
		    strlen("EXPLAIN (FORMAT JSON) EXECUTE " ACTION_EXPLAIN_PREPARED "()")
		    + (size_t) param_count * strlen("NULL, ") + 1);
		if (prepare == NULL || sql == NULL) {
			free(prepare);
			free(sql);
			snprintf(errbuf, errlen, "out of memory");
			return PGF_ENOMEM;
		}
		snprintf(prepare, size, "PREPARE " ACTION_EXPLAIN_PREPARED " AS %.*s",
		    (int) length, statement);
		strcpy(sql, "EXPLAIN (FORMAT JSON) EXECUTE " ACTION_EXPLAIN_PREPARED "(");
		for (int i = 0; i < param_count; i++)
			strcat(sql, i == 0 ? "NULL" : ", NULL");
		strcat(sql, ")");
		*prepare_out = prepare;
		*sql_out = sql;
		*options_out
		    = "generic plan (PREPARE, plan_cache_mode = force_generic_plan)";
		return PGF_OK;
	}
	if (analyze)
		options = "ANALYZE, BUFFERS, FORMAT JSON";
	else if (param_count > 0) {
		options = "GENERIC_PLAN, FORMAT JSON";
		*options_out = "GENERIC_PLAN";
	} else
		options = "FORMAT JSON";
	size = strlen("EXPLAIN () ") + strlen(options) + length + 1;
	sql = malloc(size);
	if (sql == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	snprintf(sql, size, "EXPLAIN (%s) %.*s", options, (int) length, statement);
	*sql_out = sql;
	return PGF_OK;
}
