/*
 * family_settings.c - the settings family: the server settings the guide's
 * checklist and the analysis depend on, the extensions of every database,
 * the server version and when the server and its statistics were reset.
 *
 * Settings rarely change, so the family is sent on change: its fingerprint
 * (family_settings.h) is remembered in the family's state and an unchanged
 * family stays out of the report, except once a day, on --once and on the
 * first report after start, and whenever it has problems to tell.
 */
#include "agent/family_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/family.h"
#include "agent/statements.h"
#include "common/timeutil.h"

/* The settings read from pg_settings. A name the server does not know
 * (an older version, pg_stat_statements not loaded) is simply absent. */
static const char *const settings_names[] = {
	"shared_preload_libraries",
	"pg_stat_statements.max",
	"pg_stat_statements.track",
	"pg_stat_statements.track_utility",
	"pg_stat_statements.save",
	"autovacuum",
	"autovacuum_max_workers",
	"autovacuum_naptime",
	"autovacuum_vacuum_scale_factor",
	"autovacuum_vacuum_threshold",
	"autovacuum_analyze_scale_factor",
	"autovacuum_analyze_threshold",
	"autovacuum_freeze_max_age",
	"autovacuum_vacuum_cost_limit",
	"autovacuum_vacuum_cost_delay",
	"autovacuum_vacuum_insert_threshold",
	"autovacuum_vacuum_insert_scale_factor",
	"max_connections",
	"superuser_reserved_connections",
	/* PG 16+: slots for pg_use_reserved_connections, also not for pools */
	"reserved_connections",
	"work_mem",
	"maintenance_work_mem",
	"shared_buffers",
	"effective_cache_size",
	"wal_level",
	"max_wal_senders",
	"max_replication_slots",
	"hot_standby",
	"hot_standby_feedback",
	"synchronous_commit",
	"synchronous_standby_names",
	"track_io_timing",
	"track_activities",
	"track_counts",
	"statement_timeout",
	"idle_in_transaction_session_timeout",
	"log_min_duration_statement",
	"random_page_cost",
	"max_wal_size",
	"checkpoint_timeout",
	"wal_keep_size",
	"max_slot_wal_keep_size",
	"default_statistics_target",
	"block_size",
};

/* Column order of the settings query. */
enum settings_column {
	COL_NAME,
	COL_SETTING,
	COL_UNIT,
	COL_SOURCE,
	COL_PENDING_RESTART,
};

/* Column order of server_sql. */
enum server_column {
	COL_SERVER_VERSION,
	COL_POSTMASTER_START,
	COL_BGWRITER_RESET,
	COL_STATEMENTS_SCHEMA,
};

/* The same for every supported version: pg_stat_bgwriter keeps its own
 * stats_reset in 17, where the checkpoint counters moved out of it. The
 * last column is pg_stat_statements' schema, quoted, or NULL when the
 * extension is not in the main database. */
static const char server_sql[] =
    "SELECT current_setting('server_version'),"
    " coalesce((extract(epoch FROM pg_catalog.pg_postmaster_start_time()) * 1000000)::int8, 0),"
    " coalesce((SELECT (extract(epoch FROM stats_reset) * 1000000)::int8"
    "  FROM pg_catalog.pg_stat_bgwriter), 0),"
    " (SELECT quote_ident(n.nspname) FROM pg_catalog.pg_extension e"
    "  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
    "  WHERE e.extname = 'pg_stat_statements')";

static const char extensions_sql[] =
    "SELECT extname, extversion FROM pg_catalog.pg_extension ORDER BY extname";

/* ---- fingerprint and decision (pure) ---- */

#define FNV_OFFSET_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t
fnv_bytes(uint64_t hash, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= FNV_PRIME;
	}
	return hash;
}

/* A string and its terminating NUL, so "ab","c" and "a","bc" differ. */
static uint64_t
fnv_text(uint64_t hash, const char *text)
{
	if (text == NULL)
		text = "";
	return fnv_bytes(hash, text, strlen(text) + 1);
}

/* A count, so items cannot slide from one list into the next. */
static uint64_t
fnv_count(uint64_t hash, size_t count)
{
	unsigned char bytes[8];
	for (int i = 0; i < 8; i++)
		bytes[i] = (unsigned char) ((uint64_t) count >> (8 * i));
	return fnv_bytes(hash, bytes, sizeof(bytes));
}

uint64_t
settings_fingerprint(const Pgfleet__V1__SettingsFamily *family)
{
	uint64_t hash = FNV_OFFSET_BASIS;

	hash = fnv_count(hash, family->n_settings);
	for (size_t i = 0; i < family->n_settings; i++) {
		const Pgfleet__V1__Setting *setting = family->settings[i];
		hash = fnv_text(hash, setting->name);
		hash = fnv_text(hash, setting->setting);
		hash = fnv_text(hash, setting->unit);
		hash = fnv_text(hash, setting->source);
		hash = fnv_text(hash, setting->pending_restart ? "t" : "f");
	}
	hash = fnv_count(hash, family->n_extensions);
	for (size_t i = 0; i < family->n_extensions; i++) {
		const Pgfleet__V1__Extension *extension = family->extensions[i];
		hash = fnv_text(hash, extension->database);
		hash = fnv_text(hash, extension->name);
		hash = fnv_text(hash, extension->version);
	}
	return fnv_text(hash, family->server_version);
}

bool
settings_should_send(struct settings_memory *memory, uint64_t fingerprint,
    bool has_problems, bool everything, int64_t now_ms)
{
	bool send;

	if (memory == NULL)
		return true;
	send = everything || has_problems || !memory->sent ||
	    memory->fingerprint != fingerprint || now_ms - memory->sent_ms >= SETTINGS_RESEND_MS;
	if (send) {
		memory->sent = true;
		memory->fingerprint = fingerprint;
		memory->sent_ms = now_ms;
	}
	return send;
}

/* ---- reading the server ---- */

/* settings_sql writes the pg_settings query into buf; false when it does
 * not fit (a bug: the list is fixed). */
static bool
settings_sql(char *buf, size_t size)
{
	size_t used;
	int n = snprintf(buf, size,
	    "SELECT name, setting, coalesce(unit, ''), source, pending_restart"
	    " FROM pg_catalog.pg_settings WHERE name = ANY (ARRAY[");
	if (n < 0 || (size_t) n >= size)
		return false;
	used = (size_t) n;
	/* the names are constants without quotes: no escaping needed */
	for (size_t i = 0; i < sizeof(settings_names) / sizeof(settings_names[0]); i++) {
		n = snprintf(buf + used, size - used, "%s'%s'", i > 0 ? ", " : "",
		    settings_names[i]);
		if (n < 0 || (size_t) n >= size - used)
			return false;
		used += (size_t) n;
	}
	n = snprintf(buf + used, size - used, "]::text[]) ORDER BY name");
	return n >= 0 && (size_t) n < size - used;
}

static void
read_settings(struct family_context *context, Pgfleet__V1__SettingsFamily *family)
{
	char sql[4096];
	PGresult *result;
	int rows;

	if (!settings_sql(sql, sizeof(sql))) {
		family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, NULL,
		    "settings query does not fit in %zu bytes", sizeof(sql));
		return;
	}
	result = family_query(context, context->session, NULL, "settings", sql);
	if (result == NULL)
		return;
	rows = PQntuples(result);
	family->settings = (Pgfleet__V1__Setting **) family_rows(context, (size_t) rows,
	    &pgfleet__v1__setting__descriptor);
	if (family->settings != NULL) {
		for (int row = 0; row < rows; row++) {
			Pgfleet__V1__Setting *setting = family->settings[row];
			setting->name = family_text(context, result, row, COL_NAME);
			setting->setting = family_text(context, result, row, COL_SETTING);
			setting->unit = family_text(context, result, row, COL_UNIT);
			setting->source = family_text(context, result, row, COL_SOURCE);
			setting->pending_restart = family_bool(result, row, COL_PENDING_RESTART);
		}
		family->n_settings = (size_t) rows;
	}
	PQclear(result);
}

/*
 * read_statements_reset reads pg_stat_statements_info's stats_reset (14+)
 * when the extension is in the main database. Errors are not this
 * family's to report: the statements family already says when
 * pg_stat_statements cannot be read.
 */
static void
read_statements_reset(struct family_context *context, const char *schema,
    Pgfleet__V1__SettingsFamily *family)
{
	char sql[512];
	char errbuf[256];
	char sqlstate[6];
	PGresult *result;

	if (statements_info_sql(context->server_version, schema, sql, sizeof(sql)) == NULL)
		return;
	result = pg_session_query(context->session, sql, errbuf, sizeof(errbuf), sqlstate);
	if (result == NULL)
		return;
	if (PQntuples(result) == 1)
		family->statements_stats_reset_us = family_int64(result, 0, 1);
	PQclear(result);
}

static void
read_server(struct family_context *context, Pgfleet__V1__SettingsFamily *family)
{
	PGresult *result = family_query(context, context->session, NULL, "server", server_sql);
	if (result == NULL)
		return;
	if (PQntuples(result) == 1) {
		family->server_version = family_text(context, result, 0, COL_SERVER_VERSION);
		family->postmaster_start_time_us = family_int64(result, 0, COL_POSTMASTER_START);
		family->bgwriter_stats_reset_us = family_int64(result, 0, COL_BGWRITER_RESET);
		if (!PQgetisnull(result, 0, COL_STATEMENTS_SCHEMA))
			read_statements_reset(context,
			    PQgetvalue(result, 0, COL_STATEMENTS_SCHEMA), family);
	}
	PQclear(result);
}

/* The extensions of every database so far, grown in the arena. */
struct extension_list {
	Pgfleet__V1__Extension **rows;
	size_t count;
	size_t capacity;
};


static void
read_extensions(struct family_context *context, Pgfleet__V1__SettingsFamily *family)
{
	struct extension_list list = {NULL, 0, 0};

	for (size_t i = 0; i < db_pool_count(context->databases); i++) {
		const char *database = db_pool_name(context->databases, i);
		char errbuf[512];
		struct pg_session *session =
		    db_pool_session(context->databases, i, errbuf, sizeof(errbuf));
		PGresult *result;
		int rows;

		if (session == NULL) {
			family_problem(context, PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR,
			    database, "could not connect: %s", errbuf);
			continue;
		}
		result = family_query(context, session, database, "extensions", extensions_sql);
		if (result == NULL)
			continue;
		rows = PQntuples(result);
		if (!family_grow(context, &list.rows, list.count, &list.capacity, (size_t) rows)) {
			PQclear(result);
			break;
		}
		for (int row = 0; row < rows; row++) {
			Pgfleet__V1__Extension *extension =
			    family_new_message(context, &pgfleet__v1__extension__descriptor);
			if (extension == NULL)
				break;
			extension->database = pgf_arena_strdup(context->arena, database);
			extension->name = family_text(context, result, row, 0);
			extension->version = family_text(context, result, row, 1);
			list.rows[list.count++] = extension;
		}
		PQclear(result);
	}
	family->extensions = list.rows;
	family->n_extensions = list.count;
}

static void
collect_settings(struct family_context *context, Pgfleet__V1__Report *report)
{
	struct settings_memory *memory;
	Pgfleet__V1__SettingsFamily *family =
	    family_new_message(context, &pgfleet__v1__settings_family__descriptor);
	if (family == NULL)
		return;
	family_problems_begin(context, "settings", &family->problems, &family->n_problems);
	read_settings(context, family);
	read_server(context, family);
	read_extensions(context, family);
	family->fingerprint = settings_fingerprint(family);

	/* the memory is allocated once and kept for the agent's life; without
	 * it (out of memory) the family is simply always sent */
	memory = NULL;
	if (context->state != NULL) {
		if (*context->state == NULL)
			*context->state = calloc(1, sizeof(struct settings_memory));
		memory = *context->state;
	}
	if (settings_should_send(memory, family->fingerprint, family->n_problems > 0,
		context->everything, pgf_monotonic_ms()))
		report->settings = family;
}

const struct agent_family family_settings = {
	.name = "settings",
	.cadence_ms = family_cadence_settings,
	.min_server_version = 130000,
	.collect = collect_settings,
	.state_free = free,
};
