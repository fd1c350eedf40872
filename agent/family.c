/*
 * family.c - helpers every statistics family uses (see family.h).
 */
#include "agent/family.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* A plain list of "family/database/detail" keys already logged. */
struct family_warned {
	char **keys;
	size_t count;
};

struct family_warned *
family_warned_new(void)
{
	return calloc(1, sizeof(struct family_warned));
}

void
family_warned_free(struct family_warned *warned)
{
	if (warned == NULL)
		return;
	for (size_t i = 0; i < warned->count; i++)
		free(warned->keys[i]);
	free(warned->keys);
	free(warned);
}

/* Returns true the first time key is seen. */
static bool
first_time(struct family_warned *warned, const char *key)
{
	char **keys;
	for (size_t i = 0; i < warned->count; i++) {
		if (strcmp(warned->keys[i], key) == 0)
			return false;
	}
	/* bounded: a flood of distinct problems is still logged, just
	 * without remembering it */
	if (warned->count >= 4096)
		return true;
	keys = realloc(warned->keys, (warned->count + 1) * sizeof(keys[0]));
	if (keys == NULL)
		return true;
	warned->keys = keys;
	warned->keys[warned->count] = strdup(key);
	if (warned->keys[warned->count] != NULL)
		warned->count++;
	return true;
}

void
family_problems_begin(struct family_context *context, const char *family_name,
    Pgfleet__V1__FamilyProblem ***problems, size_t *n_problems)
{
	context->family_name = family_name;
	context->problems = problems;
	context->n_problems = n_problems;
	context->problems_capacity = 0;
	*problems = NULL;
	*n_problems = 0;
}

void
family_problem(struct family_context *context, Pgfleet__V1__FamilyProblem__Code code,
    const char *database, const char *format, ...)
{
	Pgfleet__V1__FamilyProblem *problem;
	char detail[1024];
	char key[1400];
	va_list args;

	va_start(args, format);
	vsnprintf(detail, sizeof(detail), format, args);
	va_end(args);
	snprintf(key, sizeof(key), "%s/%s/%s", context->family_name,
	    database != NULL ? database : "", detail);
	if (first_time(context->warned, key)) {
		if (database != NULL)
			pgf_warning("instance=%s %s: database \"%s\": %s",
			    context->identity->name, context->family_name, database, detail);
		else
			pgf_warning("instance=%s %s: %s", context->identity->name,
			    context->family_name, detail);
	} else {
		pgf_debug("instance=%s %s: %s", context->identity->name, context->family_name,
		    detail);
	}
	if (context->problems == NULL)
		return;
	if (!family_grow(context, context->problems, *context->n_problems,
		&context->problems_capacity, 1))
		return;
	problem = family_new_message(context, &pgfleet__v1__family_problem__descriptor);
	if (problem == NULL)
		return;
	problem->code = code;
	problem->database = pgf_arena_strdup(context->arena, database);
	problem->detail = pgf_arena_strdup(context->arena, detail);
	(*context->problems)[(*context->n_problems)++] = problem;
}

Pgfleet__V1__FamilyProblem__Code
family_code_for_sqlstate(const char *sqlstate)
{
	/* undefined table/function/object, feature not supported, and
	 * "object not in prerequisite state" (pg_stat_statements not
	 * preloaded) */
	static const char *const unavailable[] = {"42P01", "42883", "42704", "0A000", "55000",
	    "3F000", "42703"};
	for (size_t i = 0; i < sizeof(unavailable) / sizeof(unavailable[0]); i++) {
		if (strcmp(sqlstate, unavailable[i]) == 0)
			return PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_UNAVAILABLE;
	}
	if (strcmp(sqlstate, "42501") == 0)
		return PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_INSUFFICIENT_PRIVILEGE;
	if (strcmp(sqlstate, "55P03") == 0 || strcmp(sqlstate, "57014") == 0)
		return PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_TIMEOUT;
	return PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR;
}

PGresult *
family_query(struct family_context *context, struct pg_session *session,
    const char *database, const char *what, const char *sql)
{
	char errbuf[512];
	char sqlstate[6];
	PGresult *result = pg_session_query(session, sql, errbuf, sizeof(errbuf), sqlstate);
	if (result == NULL)
		family_problem(context, family_code_for_sqlstate(sqlstate), database, "%s: %s",
		    what, errbuf);
	return result;
}

int64_t
family_int64(const PGresult *result, int row, int column)
{
	if (column < 0 || PQgetisnull(result, row, column))
		return 0;
	return strtoll(PQgetvalue(result, row, column), NULL, 10);
}

double
family_double(const PGresult *result, int row, int column)
{
	if (column < 0 || PQgetisnull(result, row, column))
		return 0.0;
	return strtod(PQgetvalue(result, row, column), NULL);
}

bool
family_bool(const PGresult *result, int row, int column)
{
	if (column < 0 || PQgetisnull(result, row, column))
		return false;
	return PQgetvalue(result, row, column)[0] == 't';
}

char *
family_text(struct family_context *context, const PGresult *result, int row, int column)
{
	if (column < 0 || PQgetisnull(result, row, column))
		return pgf_arena_strdup(context->arena, "");
	return pgf_arena_strdup(context->arena, PQgetvalue(result, row, column));
}

ProtobufCBinaryData
family_bytes(struct family_context *context, const PGresult *result, int row, int column,
    size_t max_len, protobuf_c_boolean *truncated)
{
	ProtobufCBinaryData data = {0, NULL};
	const char *text;
	size_t len;

	if (truncated != NULL)
		*truncated = false;
	if (column < 0 || PQgetisnull(result, row, column))
		return data;
	text = PQgetvalue(result, row, column);
	len = (size_t) PQgetlength(result, row, column);
	if (len > max_len) {
		len = max_len;
		/* never cut inside a UTF-8 sequence */
		while (len > 0 && ((unsigned char) text[len] & 0xC0) == 0x80)
			len--;
		if (truncated != NULL)
			*truncated = true;
	}
	data.data = pgf_arena_memdup(context->arena, text, len);
	data.len = data.data != NULL ? len : 0;
	return data;
}

uint64_t
family_lsn(const PGresult *result, int row, int column)
{
	unsigned long high, low;
	if (column < 0 || PQgetisnull(result, row, column))
		return 0;
	if (sscanf(PQgetvalue(result, row, column), "%lX/%lX", &high, &low) != 2)
		return 0;
	return ((uint64_t) high << 32) | (uint64_t) (low & 0xFFFFFFFFu);
}

int
family_column(const PGresult *result, const char *name)
{
	return PQfnumber(result, name);
}

PGresult *
family_query_rows(struct family_context *context, struct pg_session *session,
    const char *database, const char *what, const char *sql,
    const ProtobufCMessageDescriptor *descriptor, void *rows_slot)
{
	PGresult *result = family_query(context, session, database, what, sql);
	void **rows;

	if (result == NULL)
		return NULL;
	rows = family_rows(context, (size_t) PQntuples(result), descriptor);
	if (rows == NULL) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, database,
		    "%s: out of memory", what);
		PQclear(result);
		return NULL;
	}
	memcpy(rows_slot, &rows, sizeof(rows));
	return result;
}

bool
family_grow(struct family_context *context, void *array_slot, size_t count,
    size_t *capacity, size_t needed)
{
	void **old;
	void **grown;
	size_t wanted;

	if (count + needed <= *capacity)
		return true;
	wanted = *capacity < 8 ? 8 : *capacity * 2;
	if (wanted < count + needed)
		wanted = count + needed;
	grown = pgf_arena_array(context->arena, wanted, sizeof(grown[0]));
	if (grown == NULL)
		return false;
	/* the slot holds some T **: copy the pointer bytes, not through a
	 * void ** lvalue */
	memcpy(&old, array_slot, sizeof(old));
	if (count > 0)
		memcpy(grown, old, count * sizeof(grown[0]));
	memcpy(array_slot, &grown, sizeof(grown));
	*capacity = wanted;
	return true;
}

void *
family_new_message(struct family_context *context,
    const ProtobufCMessageDescriptor *descriptor)
{
	void *message = pgf_arena_alloc(context->arena, descriptor->sizeof_message);
	if (message != NULL)
		protobuf_c_message_init(descriptor, message);
	return message;
}

void **
family_rows(struct family_context *context, size_t count,
    const ProtobufCMessageDescriptor *descriptor)
{
	void **rows = pgf_arena_array(context->arena, count > 0 ? count : 1, sizeof(rows[0]));
	if (rows == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		rows[i] = family_new_message(context, descriptor);
		if (rows[i] == NULL)
			return NULL;
	}
	return rows;
}

size_t
family_split_list(struct family_context *context, const char *text, char separator,
    char ***items)
{
	size_t count = 0;
	size_t n = 0;
	const char *p;

	*items = NULL;
	if (text == NULL || text[0] == '\0')
		return 0;
	for (p = text; *p != '\0'; p++)
		count += *p == separator;
	count++;
	*items = pgf_arena_array(context->arena, count, sizeof((*items)[0]));
	if (*items == NULL)
		return 0;
	p = text;
	while (n < count) {
		const char *end = strchr(p, separator);
		size_t len = end != NULL ? (size_t) (end - p) : strlen(p);
		char *item = pgf_arena_alloc(context->arena, len + 1);
		if (item == NULL)
			return n;
		memcpy(item, p, len);
		(*items)[n++] = item;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return n;
}
