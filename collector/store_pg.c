/*
 * store_pg.c - the PostgreSQL backend of the store: the connection, the
 * schema and its migrations, reports and statements, batches, texts,
 * query trends, and the helpers the other store_pg_*.c modules share.
 *
 * The SQL is the SQLite store's (store_sqlite.c and its modules),
 * translated: the same tables and columns (flags as booleans), the same
 * sums and the same orders (text columns are COLLATE "C", byte order like
 * SQLite's), so both stores answer alike.
 */
#include "collector/store_pg.h"
#include "collector/store_pg_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/fingerprint.h"
#include "collector/pg_array.h"
#include "common/log.h"
#include "common/render.h"
#include "common/sparkline.h"
#include "common/timeutil.h"

/* Type oids (pg_type.h is server-side): the parameters' types. */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_TEXT 25
#define OID_FLOAT8 701
#define OID_INT8_ARRAY 1016

/* Any constant: the advisory lock migrations hold, so collectors that
 * open one store at once migrate it once. */
#define MIGRATION_LOCK 0x7067666c /* "pgfl" */

/* The schema as forward migrations, embedded at build time
 * (collector/CMakeLists.txt from store_pg_schema.sql). */
extern const unsigned char store_pg_schema_sql[];

/* ---- parameters -------------------------------------------------------- */

void
pg_params_init(struct pg_params *p)
{
	memset(p, 0, sizeof(*p));
}

void
pg_params_free(struct pg_params *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->owned[i]);
	p->n = 0;
}

/* Adds a value (owned: freed with the params; NULL for SQL NULL). */
static void
add(struct pg_params *p, Oid type, char *owned, bool is_null)
{
	if (p->n >= PG_MAX_PARAMS || (owned == NULL && !is_null)) {
		free(owned);
		p->failed = true;
		return;
	}
	p->types[p->n] = type;
	p->values[p->n] = owned;
	p->owned[p->n] = owned;
	p->n++;
}

static char *
printed(const char *format, ...) __attribute__((format(printf, 1, 2)));

static char *
printed(const char *format, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, format);
	vsnprintf(buf, sizeof(buf), format, ap);
	va_end(ap);
	return strdup(buf);
}

void
pg_param_text(struct pg_params *p, const char *text)
{
	pg_param_bytes(p, (const uint8_t *) text, text != NULL ? strlen(text) : 0);
}

void
pg_param_bytes(struct pg_params *p, const uint8_t *data, size_t len)
{
	/* NUL bytes and invalid UTF-8 become U+FFFD, as the SQLite store
	 * stores them */
	add(p, OID_TEXT, pgf_text_clean(data != NULL ? data : (const uint8_t *) "", len), false);
}

void
pg_param_int(struct pg_params *p, int64_t value)
{
	add(p, OID_INT8, printed("%" PRId64, value), false);
}

void
pg_param_double(struct pg_params *p, double value)
{
	/* 17 digits read back as the same double; inf and nan are words
	 * float8in knows */
	add(p, OID_FLOAT8, printed("%.17g", value), false);
}

void
pg_param_bool(struct pg_params *p, bool value)
{
	add(p, OID_BOOL, strdup(value ? "t" : "f"), false);
}

void
pg_param_null_int(struct pg_params *p)
{
	add(p, OID_INT8, NULL, true);
}

void
pg_param_int_array(struct pg_params *p, char *literal)
{
	add(p, OID_INT8_ARRAY, literal, false);
}

void
pg_param_array(struct pg_params *p, char *literal)
{
	add(p, 0, literal, false);
}

/* ---- running statements ------------------------------------------------ */

/* The first line of a libpq message (they end in newlines). */
static void
one_line(char *out, size_t size, const char *message)
{
	size_t len;

	snprintf(out, size, "%s", message != NULL && message[0] != '\0' ? message : "unknown error");
	len = strcspn(out, "\n");
	out[len] = '\0';
}

/* The store error of a failed result (NULL: out of memory, or the
 * connection), as pg_run describes. */
static int
result_error(struct store_pg *store, const PGresult *result, const char *what, char *errbuf,
    size_t errlen)
{
	char reason[512];
	const char *sqlstate;

	if (PQstatus(store->conn) == CONNECTION_BAD) {
		one_line(reason, sizeof(reason), PQerrorMessage(store->conn));
		snprintf(errbuf, errlen, "could not %s: %s unreachable: %s", what, store->label,
		    reason);
		return PGF_EUNAVAILABLE;
	}
	if (result == NULL) {
		snprintf(errbuf, errlen, "could not %s: out of memory", what);
		return PGF_ENOMEM;
	}
	one_line(reason, sizeof(reason),
	    PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) != NULL
		? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)
		: PQresultErrorMessage(result));
	snprintf(errbuf, errlen, "could not %s: %s", what, reason);
	sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
	/* 53100 disk_full; 54000 program_limit_exceeded is not the disk */
	return sqlstate != NULL && strcmp(sqlstate, "53100") == 0 ? PGF_EFULL : PGF_ESTORE;
}

/* pg_run without freeing the params (pg_read may run them twice). */
static int
run_kept(struct store_pg *store, const char *sql, const struct pg_params *params,
    PGresult **res, const char *what, char *errbuf, size_t errlen)
{
	PGresult *result;
	ExecStatusType status;
	int rv;

	if (res != NULL)
		*res = NULL;
	if (params != NULL && params->failed) {
		/* out of memory, or more than PG_MAX_PARAMS (a bug here) */
		bool too_many = params->n >= PG_MAX_PARAMS;
		snprintf(errbuf, errlen, "could not %s: %s", what,
		    too_many ? "too many parameters" : "out of memory");
		return too_many ? PGF_ESTORE : PGF_ENOMEM;
	}
	/* without parameters, the simple protocol: it takes several
	 * statements in one string (the session's settings) */
	if (params == NULL)
		result = PQexec(store->conn, sql);
	else
		result = PQexecParams(store->conn, sql, params->n, params->types, params->values,
		    NULL, NULL, 0);
	status = result != NULL ? PQresultStatus(result) : PGRES_FATAL_ERROR;
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
		if (res != NULL)
			*res = result;
		else
			PQclear(result);
		return PGF_OK;
	}
	rv = result_error(store, result, what, errbuf, errlen);
	PQclear(result);
	return rv;
}

int
pg_run(struct store_pg *store, const char *sql, struct pg_params *params, PGresult **res,
    const char *what, char *errbuf, size_t errlen)
{
	int rv = run_kept(store, sql, params, res, what, errbuf, errlen);

	if (params != NULL)
		pg_params_free(params);
	return rv;
}

int
pg_read(struct store_pg *store, const char *sql, struct pg_params *params, PGresult **res,
    const char *what, char *errbuf, size_t errlen)
{
	int rv = PGF_OK;

	/* inside a batch a lost connection lost the batch: no new one */
	if (!store->in_batch)
		rv = pg_connected(store, errbuf, errlen);
	if (rv == PGF_OK) {
		rv = run_kept(store, sql, params, res, what, errbuf, errlen);
		/* a server restarted since the last question: the first use
		 * of the old connection is what finds it gone */
		if (rv == PGF_EUNAVAILABLE && !store->in_batch &&
		    pg_connected(store, errbuf, errlen) == PGF_OK)
			rv = run_kept(store, sql, params, res, what, errbuf, errlen);
	}
	if (params != NULL)
		pg_params_free(params);
	return rv;
}

/* Runs a command without parameters (BEGIN, SAVEPOINT...). */
static int
pg_command(struct store_pg *store, const char *sql, const char *what, char *errbuf,
    size_t errlen)
{
	return pg_run(store, sql, NULL, NULL, what, errbuf, errlen);
}

/* ---- prepared statements of the write path ----------------------------- */

static uint64_t
sql_hash(const char *sql)
{
	uint64_t hash = 14695981039346656037ULL; /* FNV-1a */

	for (const unsigned char *c = (const unsigned char *) sql; *c != '\0'; c++)
		hash = (hash ^ *c) * 1099511628211ULL;
	return hash;
}

/* The prepared entry of sql, made (not yet prepared) when there is a free
 * slot; NULL when the cache is full or out of memory: the statement is
 * then sent unprepared, as before. */
static struct pg_prepared *
prepared_entry(struct store_pg *store, const char *sql)
{
	uint64_t hash = sql_hash(sql);
	struct pg_prepared *free_slot = NULL;

	for (size_t i = 0; i < PG_PREPARED_MAX; i++) {
		struct pg_prepared *p = &store->prepared[i];
		if (p->sql == NULL) {
			if (free_slot == NULL)
				free_slot = p;
		} else if (p->hash == hash && strcmp(p->sql, sql) == 0) {
			return p;
		}
	}
	if (free_slot == NULL || (free_slot->sql = strdup(sql)) == NULL)
		return NULL;
	free_slot->hash = hash;
	/* a new name every time: a statement dropped from the cache after
	 * a failed pipeline may still exist on the server */
	free_slot->id = ++store->next_prepared_id;
	free_slot->ready = false;
	free_slot->sending = false;
	return free_slot;
}

static void
prepared_drop(struct pg_prepared *p)
{
	free(p->sql);
	memset(p, 0, sizeof(*p));
}

/* A new connection has none of the old one's statements. */
static void
prepared_forget_all(struct store_pg *store)
{
	for (size_t i = 0; i < PG_PREPARED_MAX; i++)
		prepared_drop(&store->prepared[i]);
}

/* At a pipeline's end: the statements it prepared are ready when it ran
 * without error; otherwise their Parse may have been skipped (a pipeline
 * stops at its first error), so they are forgotten. */
static void
prepared_settle(struct store_pg *store, bool ok)
{
	for (size_t i = 0; i < PG_PREPARED_MAX; i++) {
		struct pg_prepared *p = &store->prepared[i];
		if (p->sql == NULL || !p->sending)
			continue;
		p->sending = false;
		if (ok)
			p->ready = true;
		else
			prepared_drop(p);
	}
}

void
pg_pipeline_begin(struct store_pg *store, struct pg_pipeline *pipeline)
{
	pipeline->sent = 0;
	pipeline->rv = PQenterPipelineMode(store->conn) == 1 ? PGF_OK : PGF_ESTORE;
	pipeline->errbuf[0] = '\0';
	if (pipeline->rv != PGF_OK)
		snprintf(pipeline->errbuf, sizeof(pipeline->errbuf), "could not enter pipeline mode");
}

void
pg_pipeline_send(struct store_pg *store, struct pg_pipeline *pipeline, const char *sql,
    struct pg_params *params)
{
	if (pipeline->rv == PGF_OK && params->failed) {
		pipeline->rv = params->n >= PG_MAX_PARAMS ? PGF_ESTORE : PGF_ENOMEM;
		snprintf(pipeline->errbuf, sizeof(pipeline->errbuf), "%s",
		    pipeline->rv == PGF_ENOMEM ? "out of memory" : "too many parameters");
	}
	if (pipeline->rv == PGF_OK) {
		struct pg_prepared *p = prepared_entry(store, sql);
		char name[32];
		int ok = 1;

		if (p == NULL) {
			ok = PQsendQueryParams(store->conn, sql, params->n, params->types,
			    params->values, NULL, NULL, 0);
		} else {
			snprintf(name, sizeof(name), "pgf_%u", p->id);
			if (!p->ready && !p->sending) {
				ok = PQsendPrepare(store->conn, name, sql, params->n, params->types);
				p->sending = ok == 1;
			}
			if (ok == 1)
				ok = PQsendQueryPrepared(store->conn, name, params->n, params->values,
				    NULL, NULL, 0);
		}
		if (ok == 1)
			pipeline->sent++;
		else
			pipeline->rv = result_error(store, NULL, "send a statement", pipeline->errbuf,
			    sizeof(pipeline->errbuf));
	}
	pg_params_free(params);
}

int
pg_pipeline_end(struct store_pg *store, struct pg_pipeline *pipeline, const char *what,
    char *errbuf, size_t errlen)
{
	/* each statement's results end with a NULL; more NULLs in a row than
	 * that means nothing is coming (a lost connection) */
	int nulls = 0;
	int rv = pipeline->rv;

	if (rv != PGF_OK)
		snprintf(errbuf, errlen, "could not %s: %s", what, pipeline->errbuf);
	if (PQpipelineSync(store->conn) != 1) {
		if (rv == PGF_OK)
			rv = result_error(store, NULL, what, errbuf, errlen);
	} else {
		for (;;) {
			PGresult *result = PQgetResult(store->conn);
			ExecStatusType status;
			if (result == NULL) {
				if (++nulls > 2 || PQstatus(store->conn) == CONNECTION_BAD) {
					if (rv == PGF_OK)
						rv = result_error(store, NULL, what, errbuf, errlen);
					break;
				}
				continue;
			}
			nulls = 0;
			status = PQresultStatus(result);
			if (status == PGRES_PIPELINE_SYNC) {
				PQclear(result);
				break;
			}
			/* the first error; the statements after it come back
			 * PGRES_PIPELINE_ABORTED */
			if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
			    status != PGRES_PIPELINE_ABORTED && rv == PGF_OK)
				rv = result_error(store, result, what, errbuf, errlen);
			PQclear(result);
		}
	}
	if (PQexitPipelineMode(store->conn) != 1 && rv == PGF_OK) {
		snprintf(errbuf, errlen, "could not %s: the pipeline did not end", what);
		rv = PGF_ESTORE;
	}
	prepared_settle(store, rv == PGF_OK);
	return rv;
}

int64_t
pg_int(const PGresult *res, int row, int column)
{
	const char *value = PQgetvalue(res, row, column);
	char *end;
	long long n;

	if (PQgetisnull(res, row, column) || value[0] == '\0')
		return 0;
	if (strcmp(value, "t") == 0)
		return 1;
	if (strcmp(value, "f") == 0)
		return 0;
	n = strtoll(value, &end, 10);
	if (*end != '\0')
		/* a double where an integer is read: truncated, as SQLite's
		 * sqlite3_column_int64 does */
		return (int64_t) strtod(value, NULL);
	return (int64_t) n;
}

double
pg_double(const PGresult *res, int row, int column)
{
	const char *value = PQgetvalue(res, row, column);

	if (PQgetisnull(res, row, column) || value[0] == '\0')
		return 0.0;
	if (strcmp(value, "t") == 0)
		return 1.0;
	if (strcmp(value, "f") == 0)
		return 0.0;
	return strtod(value, NULL);
}

bool
pg_bool(const PGresult *res, int row, int column)
{
	return pg_int(res, row, column) != 0;
}

char *
pg_text(const PGresult *res, int row, int column)
{
	return strdup(PQgetisnull(res, row, column) ? "" : PQgetvalue(res, row, column));
}

/* Copies column of res's row into the row message's field of that name. */
static int
fill_field(ProtobufCMessage *message, const PGresult *res, int row, int column)
{
	const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name(
	    message->descriptor, PQfname(res, column));
	void *member;

	if (field == NULL || field->label == PROTOBUF_C_LABEL_REPEATED)
		return PGF_ESTORE;
	member = (char *) message + field->offset;
	switch (field->type) {
	case PROTOBUF_C_TYPE_STRING: {
		char *text = pg_text(res, row, column);
		if (text == NULL)
			return PGF_ENOMEM;
		*(char **) member = text;
		break;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		*(int64_t *) member = pg_int(res, row, column);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *) member = (uint64_t) pg_int(res, row, column);
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		*(int32_t *) member = (int32_t) pg_int(res, row, column);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		*(uint32_t *) member = (uint32_t) pg_int(res, row, column);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *) member = pg_bool(res, row, column);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		*(double *) member = pg_double(res, row, column);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		*(float *) member = (float) pg_double(res, row, column);
		break;
	default:
		return PGF_ESTORE;
	}
	return PGF_OK;
}

int
pg_append_rows(ProtobufCMessage *answer, const char *list, const PGresult *res, char *errbuf,
    size_t errlen)
{
	const ProtobufCFieldDescriptor *field =
	    protobuf_c_message_descriptor_get_field_by_name(answer->descriptor, list);
	const ProtobufCMessageDescriptor *row_descriptor;
	ProtobufCMessage ***rows;
	size_t *count;
	int ntuples = PQntuples(res);
	int rv;

	if (field == NULL || field->label != PROTOBUF_C_LABEL_REPEATED ||
	    field->type != PROTOBUF_C_TYPE_MESSAGE) {
		snprintf(errbuf, errlen, "could not read %s: the answer has no such list", list);
		return PGF_ESTORE;
	}
	if (ntuples == 0)
		return PGF_OK;
	row_descriptor = field->descriptor;
	count = (size_t *) ((char *) answer + field->quantifier_offset);
	rows = (ProtobufCMessage ***) ((char *) answer + field->offset);
	{
		/* all rows are known: one array of the final size */
		ProtobufCMessage **grown =
		    realloc(*rows, (*count + (size_t) ntuples) * sizeof(grown[0]));
		if (grown == NULL)
			goto oom;
		*rows = grown;
	}
	for (int r = 0; r < ntuples; r++) {
		ProtobufCMessage *row = malloc(row_descriptor->sizeof_message);
		if (row == NULL)
			goto oom;
		row_descriptor->message_init(row);
		(*rows)[(*count)++] = row;
		for (int column = 0; column < PQnfields(res); column++) {
			if (PQfname(res, column)[0] == '_')
				continue;
			if ((rv = fill_field(row, res, r, column)) == PGF_ENOMEM)
				goto oom;
			if (rv != PGF_OK) {
				snprintf(errbuf, errlen,
				    "could not read %s: column \"%s\" has no field in the answer", list,
				    PQfname(res, column));
				return rv;
			}
		}
	}
	return PGF_OK;
oom:
	snprintf(errbuf, errlen, "out of memory");
	return PGF_ENOMEM;
}

int
pg_list(struct store_pg *store, ProtobufCMessage *answer, const char *list, const char *sql,
    const Pgfleet__V1__Scope *scope, uint32_t limit, char *errbuf, size_t errlen)
{
	struct pg_params params;
	PGresult *res = NULL;
	char what[64];
	int rv;

	pg_params_init(&params);
	pg_param_text(&params, scope != NULL ? scope->instance : "");
	pg_param_text(&params, scope != NULL ? scope->cluster : "");
	pg_param_text(&params, scope != NULL ? scope->database : "");
	pg_param_int(&params, pgf_time_now_us());
	if (limit > 0)
		pg_param_int(&params, (int64_t) limit);
	else
		pg_param_null_int(&params);
	snprintf(what, sizeof(what), "read %s", list);
	if ((rv = pg_read(store, sql, &params, &res, what, errbuf, errlen)) != PGF_OK)
		return rv;
	rv = pg_append_rows(answer, list, res, errbuf, errlen);
	PQclear(res);
	return rv;
}

/* ---- the connection and the schema ------------------------------------- */

bool
store_pg_spec(const char *spec)
{
	return strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0;
}

/* libpq prints notices on stderr by default: the store's are not the
 * operator's business (CREATE TABLE's "will create implicit..." etc.). */
static void
drop_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/* The section of the embedded schema for version (1-based): its text
 * starts at *start, *len bytes. false when there is no such section. */
static bool
schema_section(int version, const char **start, size_t *len)
{
	const char *schema = (const char *) store_pg_schema_sql;
	const char *marker = "\n-- version ";
	const char *at = strstr(schema, marker);
	const char *next;

	while (at != NULL) {
		int number = atoi(at + strlen(marker));
		next = strstr(at + 1, marker);
		if (number == version) {
			*start = at + 1;
			*len = next != NULL ? (size_t) (next - at - 1) : strlen(at + 1);
			return true;
		}
		at = next;
	}
	return false;
}

int
store_pg_schema_version(void)
{
	const char *start;
	size_t len;
	int version = 0;

	while (schema_section(version + 1, &start, &len))
		version++;
	return version;
}

/* The settings every session of the store runs with. */
static int
setup_session(struct store_pg *store, char *errbuf, size_t errlen)
{
	char sql[256];

	/* extra_float_digits 3: every double reads back exactly; jit off:
	 * the advice queries' correlated subqueries are estimated far above
	 * jit_above_cost on a handful of rows, and compiling them took 1.5 s
	 * of a 2 ms query (replication-health); custom plans: the write
	 * path's prepared statements (pg_pipeline_send) save the parsing,
	 * and every execution is still planned for its own values, as an
	 * unprepared one was (the rollups' ranges vary a lot) */
	snprintf(sql, sizeof(sql),
	    "SET statement_timeout = %d; SET extra_float_digits = 3;"
	    " SET client_min_messages = warning; SET jit = off;%s%s",
	    STORE_PG_STATEMENT_TIMEOUT_MS,
	    PQserverVersion(store->conn) >= 120000 ? " SET plan_cache_mode = force_custom_plan;"
						   : "",
	    store->read_only ? " SET default_transaction_read_only = on;" : "");
	if (PQsetClientEncoding(store->conn, "UTF8") != 0) {
		snprintf(errbuf, errlen, "%s: could not use UTF-8", store->label);
		return PGF_ESTORE;
	}
	PQsetNoticeProcessor(store->conn, drop_notice, NULL);
	return pg_command(store, sql, "set up the session", errbuf, errlen);
}

/* A lost connection is made again before the next operation (outside a
 * batch: a batch on a lost connection is lost and fails at its end). */
int
pg_connected(struct store_pg *store, char *errbuf, size_t errlen)
{
	char reason[512];

	if (PQstatus(store->conn) == CONNECTION_OK)
		return PGF_OK;
	PQreset(store->conn);
	prepared_forget_all(store);
	if (PQstatus(store->conn) != CONNECTION_OK) {
		one_line(reason, sizeof(reason), PQerrorMessage(store->conn));
		snprintf(errbuf, errlen, "%s unreachable: %s", store->label, reason);
		return PGF_EUNAVAILABLE;
	}
	pgf_info("%s: connected again", store->label);
	return setup_session(store, errbuf, errlen);
}

/* Reads the schema version: 0 for a database without the store's tables. */
static int
read_schema_version(struct store_pg *store, int *version, char *errbuf, size_t errlen)
{
	PGresult *res = NULL;
	int rv;

	*version = 0;
	/* two statements: a query naming a missing table fails to parse */
	rv = pg_run(store, "SELECT to_regclass('schema_version') IS NOT NULL", NULL, &res,
	    "read the schema version", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	if (!pg_bool(res, 0, 0)) {
		PQclear(res);
		return PGF_OK;
	}
	PQclear(res);
	rv = pg_run(store, "SELECT coalesce(max(version), 0) FROM schema_version", NULL, &res,
	    "read the schema version", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	*version = (int) pg_int(res, 0, 0);
	PQclear(res);
	return PGF_OK;
}

static int
migrate(struct store_pg *store, char *errbuf, size_t errlen)
{
	int target = store_pg_schema_version();
	int version = 0;
	char sql[128];
	int rv;

	if ((rv = pg_command(store, "BEGIN", "begin the migration", errbuf, errlen)) != PGF_OK)
		return rv;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d)", MIGRATION_LOCK);
	if ((rv = pg_command(store, sql, "lock the schema", errbuf, errlen)) != PGF_OK ||
	    (rv = pg_command(store,
		 "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)",
		 "create the schema version", errbuf, errlen)) != PGF_OK ||
	    (rv = read_schema_version(store, &version, errbuf, errlen)) != PGF_OK)
		goto fail;
	if (version > target) {
		snprintf(errbuf, errlen,
		    "%s has schema version %d, newer than this collector's %d: use a newer pgfleet-collector",
		    store->label, version, target);
		rv = PGF_ESTORE;
		goto fail;
	}
	for (; version < target; version++) {
		const char *start;
		size_t len;
		char *section;
		struct pg_params params;

		if (!schema_section(version + 1, &start, &len)) {
			snprintf(errbuf, errlen, "the embedded schema has no version %d", version + 1);
			rv = PGF_ESTORE;
			goto fail;
		}
		section = strndup(start, len);
		if (section == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			rv = PGF_ENOMEM;
			goto fail;
		}
		/* several statements: the simple protocol (no parameters) */
		{
			PGresult *res = PQexec(store->conn, section);
			free(section);
			if (PQresultStatus(res) != PGRES_COMMAND_OK &&
			    PQresultStatus(res) != PGRES_TUPLES_OK) {
				char reason[512];
				one_line(reason, sizeof(reason), PQresultErrorMessage(res));
				snprintf(errbuf, errlen, "could not migrate %s to schema version %d: %s",
				    store->label, version + 1, reason);
				PQclear(res);
				rv = PGF_ESTORE;
				goto fail;
			}
			PQclear(res);
		}
		pg_params_init(&params);
		pg_param_int(&params, version + 1);
		if ((rv = pg_command(store, "DELETE FROM schema_version", "record the schema version",
			 errbuf, errlen)) != PGF_OK ||
		    (rv = pg_run(store, "INSERT INTO schema_version VALUES ($1)", &params, NULL,
			 "record the schema version", errbuf, errlen)) != PGF_OK)
			goto fail;
		pgf_info("%s migrated to schema version %d", store->label, version + 1);
	}
	return pg_command(store, "COMMIT", "commit the migration", errbuf, errlen);
fail:
	{
		PGresult *res = PQexec(store->conn, "ROLLBACK");
		PQclear(res);
	}
	return rv;
}

/* ---- reports ----------------------------------------------------------- */

static const char *
role_name(Pgfleet__V1__InstanceIdentity__Role role)
{
	switch (role) {
	case PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY:
		return "primary";
	case PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA:
		return "replica";
	default:
		return "unknown";
	}
}

/* As store_sqlite.c's upsert_instance: the identity from the newest
 * report by collection time; an unreachable report only moves the reason
 * and the times. */
static int
upsert_instance(struct store_pg *store, const Pgfleet__V1__Report *report,
    int64_t received_at_us, int64_t *instance_id, char *errbuf, size_t errlen)
{
	const Pgfleet__V1__InstanceIdentity *id = report->instance;
	struct pg_params params;
	PGresult *res = NULL;
	int rv;

	pg_params_init(&params);
	pg_param_text(&params, id->name);
	pg_param_text(&params, id->system_identifier);
	pg_param_text(&params, id->host);
	pg_param_int(&params, id->port);
	pg_param_int(&params, id->server_version_num);
	pg_param_text(&params, id->server_version);
	pg_param_text(&params, role_name(id->role));
	pg_param_text(&params, report->agent_id);
	pg_param_text(&params, report->agent_version);
	pg_param_int(&params, received_at_us);
	pg_param_text(&params, report->unreachable_reason);
	pg_param_bool(&params, report->unreachable_reason[0] != '\0');
	pg_param_int(&params, report->collected_at_us);
	/* the name is looked up first: an INSERT .. ON CONFLICT takes a
	 * sequence number each time, and instance ids are kept dense like
	 * the SQLite store's */
	rv = pg_run(store,
	    "WITH old AS (SELECT instance_id FROM instances WHERE name = $1),"
	    " ins AS (INSERT INTO instances (name, system_identifier, host, port,"
	    "  server_version_num, server_version, role, agent_id, agent_version,"
	    "  first_seen_us, last_seen_us, last_collected_us, unreachable_reason)"
	    "  SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $13, $11"
	    "  WHERE NOT EXISTS (SELECT 1 FROM old)"
	    "  ON CONFLICT (name) DO NOTHING RETURNING instance_id)"
	    " SELECT instance_id, true FROM ins UNION ALL SELECT instance_id, false FROM old",
	    &params, &res, "store the instance", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	if (PQntuples(res) == 1 && pg_bool(res, 0, 1)) {
		*instance_id = pg_int(res, 0, 0);
		PQclear(res);
		return PGF_OK;
	}
	PQclear(res);
	/* known (or inserted by another collector meanwhile): update */
	pg_params_init(&params);
	pg_param_text(&params, id->name);
	pg_param_text(&params, id->system_identifier);
	pg_param_text(&params, id->host);
	pg_param_int(&params, id->port);
	pg_param_int(&params, id->server_version_num);
	pg_param_text(&params, id->server_version);
	pg_param_text(&params, role_name(id->role));
	pg_param_text(&params, report->agent_id);
	pg_param_text(&params, report->agent_version);
	pg_param_int(&params, received_at_us);
	pg_param_text(&params, report->unreachable_reason);
	pg_param_bool(&params, report->unreachable_reason[0] != '\0');
	pg_param_int(&params, report->collected_at_us);
	rv = pg_run(store,
	    "UPDATE instances SET"
	    " system_identifier = CASE WHEN $12 OR $13 < last_collected_us THEN system_identifier ELSE $2 END,"
	    " host = CASE WHEN $12 OR $13 < last_collected_us THEN host ELSE $3 END,"
	    " port = CASE WHEN $12 OR $13 < last_collected_us THEN port ELSE $4 END,"
	    " server_version_num = CASE WHEN $12 OR $13 < last_collected_us THEN server_version_num ELSE $5 END,"
	    " server_version = CASE WHEN $12 OR $13 < last_collected_us THEN server_version ELSE $6 END,"
	    " role = CASE WHEN $12 OR $13 < last_collected_us THEN role ELSE $7 END,"
	    " agent_id = CASE WHEN $13 < last_collected_us THEN agent_id ELSE $8 END,"
	    " agent_version = CASE WHEN $13 < last_collected_us THEN agent_version ELSE $9 END,"
	    " unreachable_reason = CASE WHEN $13 < last_collected_us THEN unreachable_reason ELSE $11 END,"
	    " last_seen_us = greatest(last_seen_us, $10),"
	    " last_collected_us = greatest(last_collected_us, $13)"
	    " WHERE name = $1 RETURNING instance_id",
	    &params, &res, "store the instance", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	if (PQntuples(res) != 1) {
		PQclear(res);
		snprintf(errbuf, errlen, "could not store the instance: it vanished");
		return PGF_ESTORE;
	}
	*instance_id = pg_int(res, 0, 0);
	PQclear(res);
	return PGF_OK;
}

/* The statement rows' columns after instance_id, ts_us and
 * interval_start_us, in the order of store_pg_statement_rows_sql. */
enum statement_column {
	COL_QUERYID,
	COL_DBID,
	COL_DATNAME,
	COL_USERID,
	COL_USERNAME,
	COL_TOPLEVEL,
	COL_CALLS,
	COL_TOTAL_EXEC_TIME,
	COL_SUM_SQ_EXEC_TIME,
	COL_MAX_EXEC_TIME,
	COL_MIN_EXEC_TIME,
	COL_ROWS,
	COL_SHARED_BLKS_HIT,
	COL_SHARED_BLKS_READ,
	COL_SHARED_BLKS_DIRTIED,
	COL_SHARED_BLKS_WRITTEN,
	COL_TEMP_BLKS_READ,
	COL_TEMP_BLKS_WRITTEN,
	COL_BLK_READ_TIME,
	COL_BLK_WRITE_TIME,
	COL_WAL_BYTES,
	COL_TOTAL_PLAN_TIME,
	COL_LOCAL_BLKS_HIT,
	COL_LOCAL_BLKS_READ,
	COL_LOCAL_BLKS_DIRTIED,
	COL_LOCAL_BLKS_WRITTEN,
	STATEMENT_COLUMNS
};

_Static_assert(STATEMENT_COLUMNS == STORE_PG_STATEMENT_ARRAYS, "one array per column");

/* One INSERT for a family's rows: a parameter per column, each an array of
 * the rows' values, unnested in the statements' order (so ids grow as the
 * per-row INSERTs made them). The server plans and starts one statement a
 * report instead of one a row. */
const char store_pg_statement_rows_sql[] =
    "INSERT INTO statement_stats (instance_id, ts_us, interval_start_us, queryid,"
    " dbid, datname, userid, username, toplevel, calls, total_exec_time_ms,"
    " sum_sq_exec_time_ms2, max_exec_time_ms, min_exec_time_ms, rows,"
    " shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written,"
    " temp_blks_read, temp_blks_written, blk_read_time_ms, blk_write_time_ms,"
    " wal_bytes, total_plan_time_ms, local_blks_hit, local_blks_read,"
    " local_blks_dirtied, local_blks_written)"
    " SELECT $1, $2, $3, u.* FROM unnest($4::bigint[], $5::bigint[], $6::text[],"
    "  $7::bigint[], $8::text[], $9::boolean[], $10::bigint[], $11::float8[],"
    "  $12::float8[], $13::float8[], $14::float8[], $15::bigint[], $16::bigint[],"
    "  $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[],"
    "  $22::float8[], $23::float8[], $24::bigint[], $25::float8[], $26::bigint[],"
    "  $27::bigint[], $28::bigint[], $29::bigint[]) AS u";

void
store_pg_statement_arrays(const Pgfleet__V1__StatementsFamily *family,
    char *arrays[STORE_PG_STATEMENT_ARRAYS])
{
	struct pg_array columns[STATEMENT_COLUMNS];

	for (int c = 0; c < STATEMENT_COLUMNS; c++)
		pg_array_init(&columns[c]);
	for (size_t i = 0; i < family->n_statements; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		pg_array_add_int(&columns[COL_QUERYID], d->queryid);
		pg_array_add_int(&columns[COL_DBID], d->dbid);
		pg_array_add_text(&columns[COL_DATNAME], d->datname);
		pg_array_add_int(&columns[COL_USERID], d->userid);
		pg_array_add_text(&columns[COL_USERNAME], d->username);
		pg_array_add_bool(&columns[COL_TOPLEVEL], d->toplevel);
		pg_array_add_int(&columns[COL_CALLS], d->calls);
		pg_array_add_double(&columns[COL_TOTAL_EXEC_TIME], d->total_exec_time_ms);
		pg_array_add_double(&columns[COL_SUM_SQ_EXEC_TIME], d->sum_sq_exec_time_ms2);
		pg_array_add_double(&columns[COL_MAX_EXEC_TIME], d->max_exec_time_ms);
		pg_array_add_double(&columns[COL_MIN_EXEC_TIME], d->min_exec_time_ms);
		pg_array_add_int(&columns[COL_ROWS], d->rows);
		pg_array_add_int(&columns[COL_SHARED_BLKS_HIT], d->shared_blks_hit);
		pg_array_add_int(&columns[COL_SHARED_BLKS_READ], d->shared_blks_read);
		pg_array_add_int(&columns[COL_SHARED_BLKS_DIRTIED], d->shared_blks_dirtied);
		pg_array_add_int(&columns[COL_SHARED_BLKS_WRITTEN], d->shared_blks_written);
		pg_array_add_int(&columns[COL_TEMP_BLKS_READ], d->temp_blks_read);
		pg_array_add_int(&columns[COL_TEMP_BLKS_WRITTEN], d->temp_blks_written);
		pg_array_add_double(&columns[COL_BLK_READ_TIME], d->blk_read_time_ms);
		pg_array_add_double(&columns[COL_BLK_WRITE_TIME], d->blk_write_time_ms);
		pg_array_add_int(&columns[COL_WAL_BYTES], d->wal_bytes);
		pg_array_add_double(&columns[COL_TOTAL_PLAN_TIME], d->total_plan_time_ms);
		pg_array_add_int(&columns[COL_LOCAL_BLKS_HIT], d->local_blks_hit);
		pg_array_add_int(&columns[COL_LOCAL_BLKS_READ], d->local_blks_read);
		pg_array_add_int(&columns[COL_LOCAL_BLKS_DIRTIED], d->local_blks_dirtied);
		pg_array_add_int(&columns[COL_LOCAL_BLKS_WRITTEN], d->local_blks_written);
	}
	for (int c = 0; c < STATEMENT_COLUMNS; c++)
		arrays[c] = pg_array_finish(&columns[c]);
}

static void
send_statement_rows(struct store_pg *store, struct pg_pipeline *pipeline, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family)
{
	char *arrays[STORE_PG_STATEMENT_ARRAYS];
	struct pg_params params;

	store_pg_statement_arrays(family, arrays);
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, family->interval_end_us);
	pg_param_int(&params, family->interval_start_us);
	/* an array out of memory is a NULL literal: the parameters fail,
	 * and so does the pipeline */
	for (int c = 0; c < STATEMENT_COLUMNS; c++)
		pg_param_array(&params, arrays[c]);
	pg_pipeline_send(store, pipeline, store_pg_statement_rows_sql, &params);
}

static int
insert_statements(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__StatementsFamily *family, char *errbuf, size_t errlen)
{
	struct pg_pipeline pipeline;
	struct pg_params params;

	/* one round trip for the whole family: its rows, then its texts */
	pg_pipeline_begin(store, &pipeline);
	if (family->n_statements > 0)
		send_statement_rows(store, &pipeline, instance_id, family);
	for (size_t i = 0; i < family->n_statements; i++) {
		const Pgfleet__V1__StatementDelta *d = family->statements[i];
		if (d->query.len == 0)
			continue;
		{
			/* the text as stored (valid UTF-8) is what is fingerprinted */
			char fingerprint[FINGERPRINT_SIZE];
			char *clean = pgf_text_clean(d->query.data, d->query.len);
			if (clean == NULL) {
				pipeline.rv = PGF_ENOMEM;
				snprintf(pipeline.errbuf, sizeof(pipeline.errbuf), "out of memory");
				break;
			}
			statement_fingerprint(clean, d->query_truncated, d->queryid, fingerprint);
			pg_params_init(&params);
			pg_param_int(&params, instance_id);
			pg_param_int(&params, d->queryid);
			pg_param_text(&params, clean);
			pg_param_bool(&params, d->query_truncated);
			pg_param_text(&params, fingerprint);
			free(clean);
		}
		pg_pipeline_send(store, &pipeline,
		    "INSERT INTO statement_texts (instance_id, queryid, query, truncated, fingerprint)"
		    " VALUES ($1, $2, $3, $4, $5)"
		    " ON CONFLICT (instance_id, queryid) DO UPDATE SET"
		    " query = excluded.query, truncated = excluded.truncated,"
		    " fingerprint = excluded.fingerprint",
		    &params);
	}
	{
		int rv = pg_pipeline_end(store, &pipeline, "store the statements", errbuf, errlen);
		/* a late family (a time already rolled up) goes to the rollups
		 * too, as store_sqlite_rollup_late adds it */
		return rv != PGF_OK ? rv
				    : store_pg_rollup_late(store, instance_id, family, errbuf, errlen);
	}
}

static int
pg_write_report(struct store *base, const Pgfleet__V1__Report *report, int64_t received_at_us,
    bool *duplicate, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct pg_params params;
	PGresult *res = NULL;
	int64_t instance_id = 0;
	int rv;

	*duplicate = false;
	if (!store->in_batch && (rv = pg_connected(store, errbuf, errlen)) != PGF_OK)
		return rv;
	/* alone: its own durable transaction; in a batch: a savepoint, so a
	 * failing report is undone without undoing the others */
	rv = pg_command(store, store->in_batch ? "SAVEPOINT report" : "BEGIN",
	    "begin a transaction", errbuf, errlen);
	if (rv == PGF_EUNAVAILABLE && !store->in_batch &&
	    pg_connected(store, errbuf, errlen) == PGF_OK)
		rv = pg_command(store, "BEGIN", "begin a transaction", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	if ((rv = upsert_instance(store, report, received_at_us, &instance_id, errbuf, errlen)) !=
	    PGF_OK)
		goto fail;
	pg_params_init(&params);
	pg_param_text(&params, report->agent_id);
	pg_param_text(&params, report->boot_id);
	/* seqs are 1, 2, 3...; bigints are signed */
	pg_param_int(&params, report->seq > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) report->seq);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, report->collected_at_us);
	pg_param_int(&params, received_at_us);
	rv = pg_run(store,
	    "INSERT INTO reports (agent_id, boot_id, seq, instance_id, collected_at_us,"
	    " received_at_us) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
	    &params, &res, "store the report", errbuf, errlen);
	if (rv != PGF_OK)
		goto fail;
	*duplicate = strcmp(PQcmdTuples(res), "0") == 0;
	PQclear(res);
	if (!*duplicate) {
		if (report->statements != NULL &&
		    report->statements->status == PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK &&
		    (rv = insert_statements(store, instance_id, report->statements, errbuf,
			 errlen)) != PGF_OK)
			goto fail;
		if ((rv = store_pg_fleet_write(store, instance_id, report, errbuf, errlen)) !=
			PGF_OK ||
		    (rv = store_pg_tables_write(store, instance_id, report, errbuf, errlen)) !=
			PGF_OK ||
		    (rv = store_pg_indexes_write(store, instance_id, report, errbuf, errlen)) !=
			PGF_OK ||
		    (rv = store_pg_pools_write(store, instance_id, report, errbuf, errlen)) !=
			PGF_OK ||
		    (rv = store_pg_settings_write(store, instance_id, report, errbuf, errlen)) !=
			PGF_OK ||
		    (rv = store_pg_gaps_write(store, instance_id, report, received_at_us, errbuf,
			 errlen)) != PGF_OK ||
		    (rv = store_pg_families_write(store, instance_id, report, errbuf, errlen)) !=
			PGF_OK)
			goto fail;
	}
	if ((rv = pg_command(store, store->in_batch ? "RELEASE report" : "COMMIT",
		 "commit the report", errbuf, errlen)) != PGF_OK)
		goto fail;
	return PGF_OK;
fail:
	{
		PGresult *undo = PQexec(store->conn,
		    store->in_batch ? "ROLLBACK TO report; RELEASE report" : "ROLLBACK");
		PQclear(undo);
	}
	return rv;
}

static int
pg_batch_begin(struct store *base, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	int rv = pg_connected(store, errbuf, errlen);

	if (rv == PGF_OK)
		rv = pg_command(store, "BEGIN", "begin a batch", errbuf, errlen);
	/* a server restarted since the last batch: BEGIN finds it out */
	if (rv == PGF_EUNAVAILABLE && pg_connected(store, errbuf, errlen) == PGF_OK)
		rv = pg_command(store, "BEGIN", "begin a batch", errbuf, errlen);
	store->in_batch = rv == PGF_OK;
	return rv;
}

static int
pg_batch_end(struct store *base, bool commit, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	int rv;

	if (!store->in_batch)
		return PGF_OK;
	store->in_batch = false;
	/* a lost connection, or a transaction the server aborted: nothing of
	 * the batch is stored */
	if (PQtransactionStatus(store->conn) != PQTRANS_INTRANS) {
		PGresult *undo = PQexec(store->conn, "ROLLBACK");
		PQclear(undo);
		snprintf(errbuf, errlen, "could not store the batch: it was rolled back");
		return PQstatus(store->conn) == CONNECTION_BAD ? PGF_EUNAVAILABLE : PGF_ESTORE;
	}
	if (!commit) {
		PGresult *undo = PQexec(store->conn, "ROLLBACK");
		PQclear(undo);
		return PGF_OK;
	}
	rv = pg_command(store, "COMMIT", "commit a batch", errbuf, errlen);
	if (rv != PGF_OK && PQtransactionStatus(store->conn) != PQTRANS_IDLE) {
		PGresult *undo = PQexec(store->conn, "ROLLBACK");
		PQclear(undo);
	}
	return rv;
}

static int
pg_missing_texts(struct store *base, const Pgfleet__V1__Report *report, int64_t **missing,
    size_t *count, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	const Pgfleet__V1__StatementsFamily *family = report->statements;
	struct pg_params params;
	PGresult *res = NULL;
	char *ids;
	size_t used = 0;
	size_t wanted = 0;
	int rv;

	*missing = NULL;
	*count = 0;
	if (family == NULL || family->n_statements == 0)
		return PGF_OK;
	/* one query per report: the textless queryids as one bigint[] (21
	 * characters and a comma each) */
	ids = malloc(family->n_statements * 22 + 3);
	if (ids == NULL)
		goto oom;
	ids[used++] = '{';
	for (size_t i = 0; i < family->n_statements; i++) {
		if (family->statements[i]->query.len > 0)
			continue;
		used += (size_t) sprintf(ids + used, "%s%" PRId64, wanted++ > 0 ? "," : "",
		    family->statements[i]->queryid);
	}
	ids[used++] = '}';
	ids[used] = '\0';
	if (wanted == 0) {
		free(ids);
		return PGF_OK;
	}
	pg_params_init(&params);
	pg_param_text(&params, report->instance->name);
	pg_param_int_array(&params, ids);
	rv = pg_read(store,
	    "SELECT DISTINCT q FROM unnest($2::bigint[]) q WHERE NOT EXISTS ("
	    " SELECT 1 FROM statement_texts t"
	    " WHERE t.instance_id = (SELECT instance_id FROM instances WHERE name = $1)"
	    "  AND t.queryid = q) ORDER BY q",
	    &params, &res, "look up query texts", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	if (PQntuples(res) > 0) {
		*missing = malloc((size_t) PQntuples(res) * sizeof((*missing)[0]));
		if (*missing == NULL) {
			PQclear(res);
			goto oom;
		}
		for (int i = 0; i < PQntuples(res); i++)
			(*missing)[(*count)++] = pg_int(res, i, 0);
	}
	PQclear(res);
	return PGF_OK;
oom:
	snprintf(errbuf, errlen, "out of memory");
	return PGF_ENOMEM;
}

/* ---- statements over time ---------------------------------------------- */

const char store_pg_statement_source[] =
    "(SELECT instance_id, ts_us, dbid, datname, queryid, calls, total_exec_time_ms,"
    "  sum_sq_exec_time_ms2, max_exec_time_ms, rows FROM statement_stats"
    "  WHERE ts_us >= (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
    " UNION ALL"
    " SELECT instance_id, bucket_us, dbid, datname, queryid, calls, total_exec_time_ms,"
    "  sum_sq_exec_time_ms2, max_exec_time_ms, rows FROM statement_stats_hourly"
    "  WHERE bucket_us >= (SELECT until_us FROM rollup_state WHERE name = 'daily')"
    "   AND bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'hourly')"
    " UNION ALL"
    " SELECT instance_id, bucket_us, dbid, datname, queryid, calls, total_exec_time_ms,"
    "  sum_sq_exec_time_ms2, max_exec_time_ms, rows FROM statement_stats_daily"
    "  WHERE bucket_us < (SELECT until_us FROM rollup_state WHERE name = 'daily'))";

/* Bucket widths a trend may use: the smallest that gives at most 30
 * buckets over the window (store_sqlite.c's). */
static int64_t
trend_bucket_ms(int64_t window_ms)
{
	static const int64_t widths[] = {60000, 300000, 900000, 3600000, 10800000,
	    21600000, 43200000, 86400000, 604800000};
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		if (window_ms / widths[i] <= 30)
			return widths[i];
	}
	return widths[sizeof(widths) / sizeof(widths[0]) - 1];
}

int
pg_buckets_init(struct pg_buckets *buckets, const Pgfleet__V1__Scope *scope, int64_t bucket_ms,
    char *errbuf, size_t errlen)
{
	int64_t until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : pgf_time_now_us();
	int64_t since_us = scope != NULL && scope->since_us != 0 ? scope->since_us
								  : until_us - 86400LL * 1000000;
	int64_t width_us;
	int64_t count;

	if (until_us <= since_us) {
		snprintf(errbuf, errlen, "the window ends before it starts");
		return PGF_EINVAL;
	}
	width_us = (bucket_ms > 0 ? bucket_ms : trend_bucket_ms((until_us - since_us) / 1000)) *
	    1000;
	/* whole multiples of the width (UTC); floor, also before the epoch */
	since_us -= ((since_us % width_us) + width_us) % width_us;
	count = (until_us - since_us + width_us - 1) / width_us;
	if (count <= 0 || count > 10000) {
		snprintf(errbuf, errlen, "the window holds %lld buckets: choose between 1 and 10000",
		    (long long) count);
		return PGF_EINVAL;
	}
	buckets->since_us = since_us;
	buckets->until_us = until_us;
	buckets->width_us = width_us;
	buckets->count = (size_t) count;
	return PGF_OK;
}

static int
pg_query_trend(struct store *base, const Pgfleet__V1__QueryTrendRequest *request,
    Pgfleet__V1__QueryTrend *answer, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	const Pgfleet__V1__Scope *scope = request->scope;
	int64_t until_us = scope != NULL && scope->until_us != 0 ? scope->until_us : pgf_time_now_us();
	int64_t since_us = scope != NULL && scope->since_us != 0 ? scope->since_us
								  : until_us - 86400LL * 1000000;
	int64_t bucket_us;
	size_t count;
	double *means = NULL;
	double *calls = NULL;
	bool *present = NULL;
	struct pg_params params;
	PGresult *res = NULL;
	char width[32];
	char sql[4096];
	int rv = PGF_ENOMEM;

	bucket_us = (request->bucket_ms > 0 ? request->bucket_ms
					     : trend_bucket_ms((until_us - since_us) / 1000)) * 1000;
	/* buckets start on whole multiples of their width (UTC) */
	since_us -= since_us % bucket_us;
	count = (size_t) ((until_us - since_us + bucket_us - 1) / bucket_us);
	if (count == 0 || count > 10000) {
		snprintf(errbuf, errlen, "the window holds %zu buckets: choose between 1 and 10000",
		    count);
		return PGF_EINVAL;
	}
	answer->rows = calloc(count, sizeof(answer->rows[0]));
	means = calloc(count, sizeof(means[0]));
	calls = calloc(count, sizeof(calls[0]));
	present = calloc(count, sizeof(present[0]));
	if (answer->rows == NULL || means == NULL || calls == NULL || present == NULL)
		goto done;
	for (size_t i = 0; i < count; i++) {
		Pgfleet__V1__QueryTrendPoint *point = malloc(sizeof(*point));
		char stamp[32];
		time_t seconds;
		struct tm tm;
		if (point == NULL)
			goto done;
		pgfleet__v1__query_trend_point__init(point);
		answer->rows[answer->n_rows++] = point;
		point->bucket_start_us = since_us + (int64_t) i * bucket_us;
		seconds = (time_t) (point->bucket_start_us / 1000000);
		gmtime_r(&seconds, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		point->bucket = strdup(stamp);
		if (point->bucket == NULL)
			goto done;
	}
	if (scope == NULL || (scope->instance[0] == '\0' && scope->cluster[0] == '\0'))
		/* the whole fleet: its own rollups, a row per bucket, not one
		 * per instance per bucket, as the SQLite store reads it ($5 and
		 * $6 are '' here) */
		snprintf(sql, sizeof(sql),
		    "SELECT (s.ts_us - $1) / $2, sum(s.calls), sum(s.total_exec_time_ms),"
		    " sum(s.rows) FROM %s s"
		    " WHERE s.queryid = $3 AND s.ts_us >= $1 AND s.ts_us < $4"
		    "  AND $5 = '' AND $6 = '' AND ($7 = '' OR s.datname = $7)"
		    " GROUP BY 1 ORDER BY 1",
		    store_pg_fleet_statement_source);
	else
		snprintf(sql, sizeof(sql),
		    "SELECT (s.ts_us - $1) / $2, sum(s.calls), sum(s.total_exec_time_ms), sum(s.rows)"
		    " FROM %s s JOIN instances i USING (instance_id)"
		    " WHERE s.queryid = $3 AND s.ts_us >= $1 AND s.ts_us < $4"
		    "  AND ($5 = '' OR i.name = $5) AND ($6 = '' OR i.system_identifier = $6)"
		    "  AND ($7 = '' OR s.datname = $7)"
		    " GROUP BY 1 ORDER BY 1",
		    store_pg_statement_source);
	pg_params_init(&params);
	pg_param_int(&params, since_us);
	pg_param_int(&params, bucket_us);
	pg_param_int(&params, request->queryid);
	pg_param_int(&params, until_us);
	pg_param_text(&params, scope != NULL ? scope->instance : "");
	pg_param_text(&params, scope != NULL ? scope->cluster : "");
	pg_param_text(&params, scope != NULL ? scope->database : "");
	if ((rv = pg_read(store, sql, &params, &res, "read the trend", errbuf, errlen)) != PGF_OK)
		goto done;
	rv = PGF_ENOMEM;
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t bucket = pg_int(res, r, 0);
		Pgfleet__V1__QueryTrendPoint *point;
		if (bucket < 0 || (size_t) bucket >= count)
			continue;
		point = answer->rows[bucket];
		point->calls = pg_int(res, r, 1);
		point->total_seconds = pg_double(res, r, 2) / 1000.0;
		point->rows = pg_int(res, r, 3);
		point->mean_seconds = point->calls > 0 ? point->total_seconds / (double) point->calls : 0.0;
		present[bucket] = point->calls > 0;
		means[bucket] = point->mean_seconds;
		calls[bucket] = (double) point->calls;
	}
	PQclear(res);
	res = NULL;
	/* the text, from any instance that sent it (the first, as SQLite's
	 * primary key order gives it) */
	pg_params_init(&params);
	pg_param_int(&params, request->queryid);
	if (pg_run(store,
		"SELECT query FROM statement_texts WHERE queryid = $1 ORDER BY instance_id LIMIT 1",
		&params, &res, "read the trend's text", errbuf, errlen) == PGF_OK &&
	    PQntuples(res) == 1) {
		answer->query = pg_text(res, 0, 0);
		if (answer->query == NULL)
			goto done;
	}
	{
		/* 3 bytes of UTF-8 per bucket */
		size_t size = count * 3 + 1;
		answer->mean_sparkline = malloc(size);
		answer->calls_sparkline = malloc(size);
		if (answer->mean_sparkline == NULL || answer->calls_sparkline == NULL)
			goto done;
		pgf_sparkline(means, present, count, answer->mean_sparkline, size);
		pgf_sparkline(calls, present, count, answer->calls_sparkline, size);
	}
	answer->bucket_width = strdup(pgf_duration_format(bucket_us / 1000, width, sizeof(width)));
	if (answer->bucket_width == NULL)
		goto done;
	rv = PGF_OK;
done:
	if (rv == PGF_ENOMEM)
		snprintf(errbuf, errlen, "out of memory");
	PQclear(res);
	free(means);
	free(calls);
	free(present);
	return rv;
}

static int
pg_statement_text(struct store *base, const char *instance, int64_t queryid, char **text,
    bool *truncated, char **database, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct pg_params params;
	PGresult *res = NULL;
	int rv;

	*text = NULL;
	*database = NULL;
	*truncated = false;
	pg_params_init(&params);
	pg_param_text(&params, instance);
	pg_param_int(&params, queryid);
	/* the database the statement ran in most recently */
	rv = pg_read(store,
	    "SELECT t.query, t.truncated,"
	    " coalesce((SELECT s.datname FROM statement_stats s"
	    "   WHERE s.instance_id = t.instance_id AND s.queryid = t.queryid"
	    "   ORDER BY s.ts_us DESC LIMIT 1), '')"
	    " FROM statement_texts t JOIN instances i ON i.instance_id = t.instance_id"
	    " WHERE i.name = $1 AND t.queryid = $2",
	    &params, &res, "read the statement text", errbuf, errlen);
	if (rv != PGF_OK)
		return rv;
	if (PQntuples(res) == 0) {
		PQclear(res);
		snprintf(errbuf, errlen, "instance \"%s\" has sent no statement with queryid %lld",
		    instance, (long long) queryid);
		return PGF_ENOTFOUND;
	}
	*text = pg_text(res, 0, 0);
	*truncated = pg_bool(res, 0, 1);
	*database = pg_text(res, 0, 2);
	PQclear(res);
	if (*text == NULL || *database == NULL) {
		free(*text);
		free(*database);
		*text = NULL;
		*database = NULL;
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	return PGF_OK;
}

/* ---- opening and closing ----------------------------------------------- */

static void
pg_close(struct store *base)
{
	struct store_pg *store = (struct store_pg *) base;

	PQfinish(store->conn);
	prepared_forget_all(store);
	free(store->label);
	free(store);
}

static const struct store_ops pg_ops = {
	.write_report = pg_write_report,
	.slow_queries = store_pg_slow_queries,
	.missing_texts = pg_missing_texts,
	.fleet = store_pg_fleet,
	.activity = store_pg_activity,
	.replication = store_pg_replication,
	.table_stats = store_pg_table_stats,
	.index_usage = store_pg_index_usage,
	.bloat_stats = store_pg_bloat_stats,
	.query_trend = pg_query_trend,
	.batch_begin = pg_batch_begin,
	.batch_end = pg_batch_end,
	.maintain = store_pg_maintain,
	.table_trend = store_pg_table_trend,
	.replication_trend = store_pg_replication_trend,
	.index_recommendations = store_pg_index_recommendations,
	.index_checks = store_pg_index_checks,
	.metrics = store_pg_metrics,
	.pool_stats = store_pg_pool_stats,
	.pool_recommendation = store_pg_pool_recommendation,
	.query_regressions = store_pg_query_regressions,
	.vacuum_facts = store_pg_vacuum_facts,
	.replication_facts = store_pg_replication_facts,
	.checklist_facts = store_pg_checklist_facts,
	.statement_text = pg_statement_text,
	.close = pg_close,
};

int
store_pg_open(const char *conninfo, bool read_only, struct store **out, char *errbuf,
    size_t errlen)
{
	/* connect_timeout before dbname: the conninfo may set its own;
	 * application_name after it: every session of the store says what
	 * it is */
	const char *const keys[] = {"connect_timeout", "dbname", "application_name", NULL};
	const char *const values[] = {"10", conninfo, "pgfleet-collector", NULL};
	struct store_pg *store;
	char reason[512];
	char label[256];
	int version = 0;
	int rv;

	*out = NULL;
	store = calloc(1, sizeof(*store));
	if (store == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	store->base.ops = &pg_ops;
	store->read_only = read_only;
	store->conn = PQconnectdbParams(keys, values, 1);
	if (store->conn == NULL || PQstatus(store->conn) != CONNECTION_OK) {
		one_line(reason, sizeof(reason),
		    store->conn != NULL ? PQerrorMessage(store->conn) : "out of memory");
		snprintf(errbuf, errlen, "could not open the postgresql store: %s", reason);
		PQfinish(store->conn);
		free(store);
		return PGF_EUNAVAILABLE;
	}
	snprintf(label, sizeof(label), "postgresql store \"%s\" on %s:%s", PQdb(store->conn),
	    PQhost(store->conn), PQport(store->conn));
	store->label = strdup(label);
	if (store->label == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		rv = PGF_ENOMEM;
		goto fail;
	}
	if ((rv = setup_session(store, errbuf, errlen)) != PGF_OK)
		goto fail;
	if (!read_only) {
		if ((rv = migrate(store, errbuf, errlen)) != PGF_OK)
			goto fail;
	} else {
		if ((rv = read_schema_version(store, &version, errbuf, errlen)) != PGF_OK)
			goto fail;
		if (version != store_pg_schema_version()) {
			snprintf(errbuf, errlen, "%s has schema version %d, this collector reads %d",
			    store->label, version, store_pg_schema_version());
			rv = PGF_ESTORE;
			goto fail;
		}
	}
	*out = &store->base;
	return PGF_OK;
fail:
	pg_close(&store->base);
	return rv;
}
