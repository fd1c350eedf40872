/* test_render.c - the generic renderer on the real pgfleet messages. */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/render.h"
#include "pgfleet/v1/agent.pb-c.h"
#include "pgfleet/v1/api.pb-c.h"

#define FFFD "\xEF\xBF\xBD"

/* read_all returns what was written to f (rewound), malloc'd. */
static char *
read_all(FILE *f)
{
	long size;
	char *text;

	assert_int_equal(fflush(f), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	text = malloc((size_t) size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t) size, f), (size_t) size);
	text[size] = '\0';
	return text;
}

/* render_text renders message as JSON text (compact, keys in order). */
static char *
render_text(const ProtobufCMessage *message)
{
	json_t *json = pgf_render_json(message);
	char *text;

	assert_non_null(json);
	text = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(15));
	assert_non_null(text);
	json_decref(json);
	return text;
}

/* clean_equal checks pgf_text_clean(data, len) against want. */
static void
clean_equal(const char *data, size_t len, const char *want)
{
	char *got = pgf_text_clean((const uint8_t *) data, len);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_text_clean(void **state)
{
	(void) state;
	clean_equal("", 0, "");
	clean_equal("SELECT 1", 8, "SELECT 1");
	clean_equal("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14,
	    "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
	/* Latin-1 text, a stray continuation byte, bytes never in UTF-8 */
	clean_equal("caf\xE9", 4, "caf" FFFD);
	clean_equal("a\x80z", 3, "a" FFFD "z");
	clean_equal("\xFE\xFF", 2, FFFD FFFD);
	/* NUL bytes */
	clean_equal("a\0b\0", 4, "a" FFFD "b" FFFD);
	/* overlongs: "/" as C0 AF and E0 80 AF, NUL as C0 80 */
	clean_equal("\xC0\xAF", 2, FFFD FFFD);
	clean_equal("\xE0\x80\xAF", 3, FFFD FFFD FFFD);
	clean_equal("\xC0\x80", 2, FFFD FFFD);
	clean_equal("\xF0\x80\x80\xAF", 4, FFFD FFFD FFFD FFFD);
	/* surrogates U+D800 and U+DFFF, and U+110000 */
	clean_equal("\xED\xA0\x80", 3, FFFD FFFD FFFD);
	clean_equal("\xED\xBF\xBF", 3, FFFD FFFD FFFD);
	clean_equal("\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);
	/* the largest valid: U+D7FF, U+10FFFF */
	clean_equal("\xED\x9F\xBF\xF4\x8F\xBF\xBF", 7,
	    "\xED\x9F\xBF\xF4\x8F\xBF\xBF");
	/* a truncated sequence is one U+FFFD, then the next byte counts */
	clean_equal("\xE2\x82" "x", 3, FFFD "x");
	clean_equal("x\xF0\x9F\x98", 4, "x" FFFD);
	clean_equal("\xE2\x82\xE2\x82\xAC", 5, FFFD "\xE2\x82\xAC");
}

static void
test_json_slow_query_fields(void **state)
{
	Pgfleet__V1__SlowQuery row = PGFLEET__V1__SLOW_QUERY__INIT;
	json_t *json;
	char *text;

	(void) state;
	row.query = "SELECT $1";
	row.calls = INT64_MAX;
	row.total_seconds = 45.67;
	row.mean_seconds = 0.037;
	row.queryid = -1234567890123456789;
	row.instance = "db1:5432";
	/* rows, max_seconds, stddev_seconds, database, query_truncated: zero */

	text = render_text(&row.base);
	assert_string_equal(text,
	    "{\"query\":\"SELECT $1\",\"calls\":9223372036854775807,"
	    "\"total_seconds\":45.67,\"mean_seconds\":0.037,"
	    "\"max_seconds\":0.0,\"stddev_seconds\":0.0,\"rows\":0,"
	    "\"instance\":\"db1:5432\",\"database\":\"\","
	    "\"queryid\":-1234567890123456789,\"query_truncated\":false,"
	    "\"cluster\":\"\",\"instances\":0}");
	free(text);

	json = pgf_render_json(&row.base);
	assert_non_null(json);
	assert_int_equal(json_object_size(json), 13);
	assert_true(json_integer_value(json_object_get(json, "calls")) ==
	    INT64_MAX);
	assert_true(json_integer_value(json_object_get(json, "queryid")) ==
	    -1234567890123456789);
	assert_true(json_is_false(json_object_get(json, "query_truncated")));
	json_decref(json);
}

static void
test_json_oneof_only_set_member(void **state)
{
	Pgfleet__V1__Response response = PGFLEET__V1__RESPONSE__INIT;
	Pgfleet__V1__Error error = PGFLEET__V1__ERROR__INIT;
	Pgfleet__V1__SlowQueries answer = PGFLEET__V1__SLOW_QUERIES__INIT;
	char *text;

	(void) state;
	text = render_text(&response.base);
	assert_string_equal(text, "{}");
	free(text);

	error.code = PGFLEET__V1__ERROR__CODE__CODE_NOT_FOUND;
	error.message = "no instance \"x\"";
	response.answer_case = PGFLEET__V1__RESPONSE__ANSWER_ERROR;
	response.error = &error;
	text = render_text(&response.base);
	assert_string_equal(text,
	    "{\"error\":{\"code\":\"CODE_NOT_FOUND\","
	    "\"message\":\"no instance \\\"x\\\"\"}}");
	free(text);

	response.answer_case = PGFLEET__V1__RESPONSE__ANSWER_SLOW_QUERIES;
	response.slow_queries = &answer;
	text = render_text(&response.base);
	assert_string_equal(text, "{\"slow_queries\":{\"rows\":[]}}");
	free(text);

	/* a set member whose message is missing still renders, as null */
	response.slow_queries = NULL;
	text = render_text(&response.base);
	assert_string_equal(text, "{\"slow_queries\":null}");
	free(text);
}

static void
test_json_report(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity =
	    PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	json_t *json;
	char *text;

	(void) state;
	/* unset submessages are null; uint64 above INT64_MAX is a string */
	report.agent_id = "a1";
	report.seq = UINT64_MAX;
	text = render_text(&report.base);
	/* the leading fields in proto order (families are added later on) */
	assert_non_null(strstr(text,
	    "{\"agent_id\":\"a1\",\"boot_id\":\"\","
	    "\"seq\":\"18446744073709551615\",\"collected_at_us\":0,"
	    "\"instance\":null,\"agent_version\":\"\",\"statements\":null,"
	    "\"unreachable_reason\":\"\","));
	assert_non_null(strstr(text, "\"tables\":null"));
	free(text);

	report.seq = (uint64_t) INT64_MAX;
	report.instance = &identity;
	identity.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA;
	identity.port = 4294967295u;
	json = pgf_render_json(&report.base);
	assert_non_null(json);
	assert_true(json_integer_value(json_object_get(json, "seq")) ==
	    INT64_MAX);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(json, "instance"), "role")), "ROLE_REPLICA");
	assert_true(json_integer_value(json_object_get(
	    json_object_get(json, "instance"), "port")) == 4294967295);
	json_decref(json);

	/* an enum number the descriptor does not know: the number */
	identity.role = (Pgfleet__V1__InstanceIdentity__Role) 99;
	json = pgf_render_json(&identity.base);
	assert_non_null(json);
	assert_true(json_is_integer(json_object_get(json, "role")));
	assert_int_equal(json_integer_value(json_object_get(json, "role")), 99);
	json_decref(json);
}

static void
test_json_text_cleaned(void **state)
{
	static const uint8_t query[] = "SELECT '\xFF', '\0', 'caf\xC3\xA9'";
	Pgfleet__V1__StatementDelta delta = PGFLEET__V1__STATEMENT_DELTA__INIT;
	json_t *json;

	(void) state;
	/* empty bytes (a NULL pointer) */
	json = pgf_render_json(&delta.base);
	assert_non_null(json);
	assert_string_equal(json_string_value(json_object_get(json, "query")),
	    "");
	json_decref(json);

	delta.query.data = (uint8_t *) query;
	delta.query.len = sizeof(query) - 1;
	delta.datname = "caf\xE9";	/* a Latin-1 name in a string field */
	json = pgf_render_json(&delta.base);
	assert_non_null(json);
	assert_string_equal(json_string_value(json_object_get(json, "query")),
	    "SELECT '" FFFD "', '" FFFD "', 'caf\xC3\xA9'");
	assert_int_equal(json_string_length(json_object_get(json, "query")),
	    strlen("SELECT '" FFFD "', '" FFFD "', 'caf\xC3\xA9'"));
	assert_string_equal(json_string_value(json_object_get(json, "datname")),
	    "caf" FFFD);
	json_decref(json);
}

static void
test_rows_field(void **state)
{
	Pgfleet__V1__SlowQueries answer = PGFLEET__V1__SLOW_QUERIES__INIT;
	Pgfleet__V1__StatementsFamily family =
	    PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__Response response = PGFLEET__V1__RESPONSE__INIT;
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	const ProtobufCFieldDescriptor *rows;

	(void) state;
	rows = pgf_render_rows_field(&answer.base);
	assert_non_null(rows);
	assert_string_equal(rows->name, "rows");
	rows = pgf_render_rows_field(&family.base);
	assert_non_null(rows);
	assert_string_equal(rows->name, "statements");
	assert_null(pgf_render_rows_field(&response.base));
	assert_null(pgf_render_rows_field(&report.base));
}

static void
test_answer_json(void **state)
{
	Pgfleet__V1__SlowQuery row1 = PGFLEET__V1__SLOW_QUERY__INIT;
	Pgfleet__V1__SlowQuery row2 = PGFLEET__V1__SLOW_QUERY__INIT;
	Pgfleet__V1__SlowQuery *rows[] = {&row1, &row2};
	Pgfleet__V1__SlowQueries answer = PGFLEET__V1__SLOW_QUERIES__INIT;
	Pgfleet__V1__Error error = PGFLEET__V1__ERROR__INIT;
	json_t *json;

	(void) state;
	json = pgf_render_answer_json(&answer.base);
	assert_non_null(json);
	assert_true(json_is_array(json));
	assert_int_equal(json_array_size(json), 0);
	json_decref(json);

	row1.query = "SELECT 1";
	row1.calls = 3;
	row2.query = "SELECT 2";
	row2.queryid = -5;
	answer.n_rows = 2;
	answer.rows = rows;
	json = pgf_render_answer_json(&answer.base);
	assert_non_null(json);
	assert_true(json_is_array(json));
	assert_int_equal(json_array_size(json), 2);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(json, 0), "query")), "SELECT 1");
	assert_int_equal(json_integer_value(json_object_get(
	    json_array_get(json, 0), "calls")), 3);
	assert_int_equal(json_integer_value(json_object_get(
	    json_array_get(json, 1), "queryid")), -5);
	json_decref(json);

	/* no rows field: the object */
	error.code = PGFLEET__V1__ERROR__CODE__CODE_INTERNAL;
	json = pgf_render_answer_json(&error.base);
	assert_non_null(json);
	assert_true(json_is_object(json));
	assert_string_equal(json_string_value(json_object_get(json, "code")),
	    "CODE_INTERNAL");
	json_decref(json);
}

static void
test_json_print(void **state)
{
	Pgfleet__V1__SlowQuery row = PGFLEET__V1__SLOW_QUERY__INIT;
	Pgfleet__V1__SlowQueries answer = PGFLEET__V1__SLOW_QUERIES__INIT;
	Pgfleet__V1__SlowQuery *rows[] = {&row};
	FILE *f = tmpfile();
	json_t *json;
	char *text;

	(void) state;
	assert_non_null(f);
	row.query = "SELECT 1";
	row.calls = 12;
	row.total_seconds = 45.67;
	row.mean_seconds = 0.037;
	row.max_seconds = 0.1 + 0.2;
	row.stddev_seconds = NAN;	/* null */
	answer.n_rows = 1;
	answer.rows = rows;
	json = pgf_render_answer_json(&answer.base);
	assert_non_null(json);
	assert_int_equal(pgf_render_json_print(json, f), 0);
	json_decref(json);
	text = read_all(f);
	assert_string_equal(text,
	    "[\n"
	    "  {\n"
	    "    \"query\": \"SELECT 1\",\n"
	    "    \"calls\": 12,\n"
	    "    \"total_seconds\": 45.67,\n"
	    "    \"mean_seconds\": 0.037,\n"
	    "    \"max_seconds\": 0.3,\n"
	    "    \"stddev_seconds\": null,\n"
	    "    \"rows\": 0,\n"
	    "    \"instance\": \"\",\n"
	    "    \"database\": \"\",\n"
	    "    \"queryid\": 0,\n"
	    "    \"query_truncated\": false,\n"
	    "    \"cluster\": \"\",\n"
	    "    \"instances\": 0\n"
	    "  }\n"
	    "]\n");
	free(text);
	fclose(f);
}

/* slow_queries fills answer with two rows, one with a long query text. */
static void
slow_queries(Pgfleet__V1__SlowQueries *answer, Pgfleet__V1__SlowQuery *rows[2],
    char *long_query)
{
	rows[0]->query = long_query;
	rows[0]->calls = 1200;
	rows[0]->total_seconds = 45.67;
	rows[0]->mean_seconds = 0.037;
	rows[0]->max_seconds = 2;
	rows[0]->rows = 9223372036854775807;
	rows[0]->instance = "db1:5432";
	rows[0]->database = "shop";
	rows[0]->queryid = -1234567890123456789;
	rows[0]->query_truncated = 1;
	rows[1]->query = "SELECT now()";
	rows[1]->instance = "db2:5432";
	rows[1]->database = "shop";
	answer->n_rows = 2;
	answer->rows = rows;
}

/* long_query returns a query text of size bytes, over several lines. */
static char *
long_query(size_t size)
{
	char *query = malloc(size + 1);
	assert_non_null(query);
	memcpy(query, "SELECT\n\tid,\n\tname\nFROM orders WHERE ", 36);
	for (size_t i = 36; i < size; i++)
		query[i] = (char) ('a' + i % 26);
	query[size - 1] = 'Z';
	query[size] = '\0';
	return query;
}

static void
test_table_not_a_terminal(void **state)
{
	Pgfleet__V1__SlowQuery row1 = PGFLEET__V1__SLOW_QUERY__INIT;
	Pgfleet__V1__SlowQuery row2 = PGFLEET__V1__SLOW_QUERY__INIT;
	Pgfleet__V1__SlowQuery *rows[] = {&row1, &row2};
	Pgfleet__V1__SlowQueries answer = PGFLEET__V1__SLOW_QUERIES__INIT;
	char *query = long_query(500);
	FILE *f = tmpfile();
	char *text;
	char *line2;

	(void) state;
	assert_non_null(f);
	slow_queries(&answer, rows, query);
	assert_int_equal(pgf_render_table(&answer.base, f), 0);
	text = read_all(f);

	/* headers: every scalar field, in order */
	assert_non_null(strstr(text, "query"));
	assert_true(strstr(text, "calls") < strstr(text, "total_seconds"));
	assert_true(strstr(text, "total_seconds") < strstr(text, "mean_seconds"));
	assert_non_null(strstr(text, "stddev_seconds"));
	assert_non_null(strstr(text, "queryid"));
	assert_non_null(strstr(text, "query_truncated"));
	/* values; the query on one line, whole (no terminal, no cut) */
	assert_non_null(strstr(text, " 45.67 "));
	assert_non_null(strstr(text, " 0.037 "));
	assert_non_null(strstr(text, " 1200 "));
	assert_non_null(strstr(text, "9223372036854775807"));
	assert_non_null(strstr(text, "-1234567890123456789"));
	assert_non_null(strstr(text, "db1:5432"));
	assert_non_null(strstr(text, "SELECT id, name FROM orders WHERE "));
	/* the widest text column goes last: nothing pads it */
	assert_non_null(strstr(text, "Z\n"));
	assert_non_null(strstr(text, " query\n"));
	assert_non_null(strstr(text, "yes"));
	assert_non_null(strstr(text, "SELECT now()"));
	assert_non_null(strstr(text, " no"));
	/* three lines: header and two rows */
	line2 = strchr(text, '\n');
	assert_non_null(line2);
	line2 = strchr(line2 + 1, '\n');
	assert_non_null(line2);
	line2 = strchr(line2 + 1, '\n');
	assert_non_null(line2);
	assert_string_equal(line2, "\n");
	free(text);
	fclose(f);
	free(query);
}

static void
test_table_empty(void **state)
{
	Pgfleet__V1__SlowQueries answer = PGFLEET__V1__SLOW_QUERIES__INIT;
	FILE *f = tmpfile();
	char *text;

	(void) state;
	assert_non_null(f);
	assert_int_equal(pgf_render_table(&answer.base, f), 0);
	text = read_all(f);
	assert_string_equal(text, "(0 rows)\n");
	free(text);
	fclose(f);
}

static void
test_table_fields(void **state)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity =
	    PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__StatementsFamily family =
	    PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__StatementDelta delta = PGFLEET__V1__STATEMENT_DELTA__INIT;
	Pgfleet__V1__StatementDelta *deltas[] = {&delta};
	FILE *f = tmpfile();
	char *text;

	(void) state;
	assert_non_null(f);
	report.agent_id = "0123abcd";
	report.seq = UINT64_MAX;
	report.instance = &identity;
	identity.name = "db1:5432";
	identity.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	report.statements = &family;
	family.status =
	    PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_INSUFFICIENT_PRIVILEGE;
	family.n_statements = 1;
	family.statements = deltas;
	delta.queryid = -7;
	delta.total_exec_time_ms = 1.5;
	delta.query.data = (uint8_t *) "SELECT 1";
	delta.query.len = 8;
	assert_int_equal(pgf_render_table(&report.base, f), 0);
	text = read_all(f);
	assert_non_null(strstr(text, "field"));
	assert_non_null(strstr(text, "value"));
	assert_non_null(strstr(text, "agent_id"));
	assert_non_null(strstr(text, "0123abcd"));
	assert_non_null(strstr(text, "18446744073709551615"));
	assert_non_null(strstr(text, "instance.name"));
	assert_non_null(strstr(text, "instance.role"));
	assert_non_null(strstr(text, "primary"));
	assert_non_null(strstr(text, "statements.status"));
	assert_non_null(strstr(text, "insufficient_privilege"));
	assert_non_null(strstr(text, "statements.statements[0].queryid"));
	assert_non_null(strstr(text, "-7"));
	assert_non_null(strstr(text, "statements.statements[0].query "));
	assert_non_null(strstr(text, "SELECT 1"));
	assert_non_null(strstr(text, "1.5\n"));
	free(text);
	fclose(f);
}

static void
test_table_terminal_truncates(void **state)
{
	Pgfleet__V1__SlowQuery row1 = PGFLEET__V1__SLOW_QUERY__INIT;
	Pgfleet__V1__SlowQuery row2 = PGFLEET__V1__SLOW_QUERY__INIT;
	Pgfleet__V1__SlowQuery *rows[] = {&row1, &row2};
	Pgfleet__V1__SlowQueries answer = PGFLEET__V1__SLOW_QUERIES__INIT;
	struct winsize ws = {.ws_row = 24, .ws_col = 200};
	char *query = long_query(500);
	struct termios tio;
	char buf[8192];
	size_t len = 0;
	ssize_t n;
	int master;
	int slave;
	FILE *out;
	int lines = 0;
	size_t width = 0;

	(void) state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0) {
		free(query);
		skip();
	}
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &tio), 0);
	cfmakeraw(&tio);
	assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
	assert_int_equal(ioctl(slave, TIOCSWINSZ, &ws), 0);
	out = fdopen(slave, "w");
	assert_non_null(out);

	slow_queries(&answer, rows, query);
	assert_int_equal(pgf_render_table(&answer.base, out), 0);
	fclose(out);
	while (len < sizeof(buf) - 1 &&
	    (n = read(master, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t) n;
	buf[len] = '\0';
	close(master);

	/* three lines, none wider than the terminal; the query cut */
	for (char *line = buf; *line != '\0'; lines++) {
		char *end = strchr(line, '\n');
		assert_non_null(end);
		if ((size_t) (end - line) > width)
			width = (size_t) (end - line);
		line = end + 1;
	}
	assert_int_equal(lines, 3);
	assert_true(width <= 200);
	assert_non_null(strstr(buf, "SELECT id, name"));
	assert_null(strstr(buf, "Z "));
	assert_non_null(strstr(buf, " 45.67 "));
	assert_non_null(strstr(buf, "query_truncated"));
	free(query);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_clean),
		cmocka_unit_test(test_json_slow_query_fields),
		cmocka_unit_test(test_json_oneof_only_set_member),
		cmocka_unit_test(test_json_report),
		cmocka_unit_test(test_json_text_cleaned),
		cmocka_unit_test(test_rows_field),
		cmocka_unit_test(test_answer_json),
		cmocka_unit_test(test_json_print),
		cmocka_unit_test(test_table_not_a_terminal),
		cmocka_unit_test(test_table_empty),
		cmocka_unit_test(test_table_fields),
		cmocka_unit_test(test_table_terminal_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
