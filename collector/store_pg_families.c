/*
 * store_pg_families.c - what the PostgreSQL store keeps of a report's
 * families beyond their history: the latest status of each family per
 * instance (family_status.h, shown in `pgfleet fleet --json`), and the
 * latest settings, extensions and per-table insert triggers the advice
 * reads (advice_* tables).
 *
 * The SQLite store's store_sqlite_families.c and the write half of
 * store_sqlite_advice.c, translated: the same tables and the same rules
 * (a replayed older report never overwrites a newer status or a newer
 * settings or tables family; its problems and evicted-statement counts
 * still add up), so both stores answer alike.
 */
#include "collector/family_status.h"
#include "collector/store_pg_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- family statuses --------------------------------------------------- */

int
store_pg_families_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen)
{
	/* $6 is true for a problem. A skipped family only updates a family
	 * reported before: an agent names every due family, also those it
	 * never collects (no pgbouncer configured) */
	static const char sql[] =
	    "INSERT INTO family_status AS f (instance_id, family, status, detail, updated_at_us,"
	    " last_problem, last_problem_at_us, problem_reports, dealloc)"
	    " SELECT $1, $2, $3, $4, $5,"
	    "  CASE WHEN $6 THEN $3 || ': ' || $4 ELSE '' END, CASE WHEN $6 THEN $5 ELSE 0 END,"
	    "  CASE WHEN $6 THEN 1 ELSE 0 END, $7"
	    " WHERE $3 <> 'skipped' OR EXISTS (SELECT 1 FROM family_status"
	    "  WHERE instance_id = $1 AND family = $2)"
	    " ON CONFLICT (instance_id, family) DO UPDATE SET"
	    "  status = CASE WHEN excluded.updated_at_us >= f.updated_at_us"
	    "   THEN excluded.status ELSE f.status END,"
	    "  detail = CASE WHEN excluded.updated_at_us >= f.updated_at_us"
	    "   THEN excluded.detail ELSE f.detail END,"
	    "  last_problem = CASE WHEN $6 AND excluded.updated_at_us >= f.last_problem_at_us"
	    "   THEN excluded.last_problem ELSE f.last_problem END,"
	    "  last_problem_at_us = CASE WHEN $6 AND excluded.updated_at_us >= f.last_problem_at_us"
	    "   THEN excluded.updated_at_us ELSE f.last_problem_at_us END,"
	    "  problem_reports = f.problem_reports + excluded.problem_reports,"
	    "  dealloc = f.dealloc + excluded.dealloc,"
	    "  updated_at_us = greatest(f.updated_at_us, excluded.updated_at_us)";
	struct family_status_entry entries[FAMILY_STATUS_MAX];
	size_t count = family_status_of_report(report, entries, FAMILY_STATUS_MAX);
	struct pg_pipeline pipeline;

	if (count == 0)
		return PGF_OK;
	/* every report passes here: one round trip for all its families */
	pg_pipeline_begin(store, &pipeline);
	for (size_t i = 0; i < count; i++) {
		struct pg_params params;
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_text(&params, entries[i].family);
		pg_param_text(&params, entries[i].status);
		/* the detail is the server's message: made valid UTF-8 */
		pg_param_text(&params, entries[i].detail);
		pg_param_int(&params, report->collected_at_us);
		pg_param_bool(&params, family_status_is_problem(entries[i].status));
		pg_param_int(&params, entries[i].dealloc);
		pg_pipeline_send(store, &pipeline, sql, &params);
	}
	return pg_pipeline_end(store, &pipeline, "store the family statuses", errbuf, errlen);
}

int
store_pg_families_fill(struct store_pg *store, Pgfleet__V1__Fleet *answer, char *errbuf,
    size_t errlen)
{
	/* statements first, then the agent's collection order (the SQLite
	 * store's order); times as SQLite's strftime writes them */
#define FAMILY_TIME(us)                                                           \
	"CASE WHEN " us " > 0 THEN to_char(to_timestamp(" us " / 1000000)"           \
	" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') ELSE '' END"
	static const char sql[] =
	    "SELECT s.family, s.status, s.detail, s.updated_at_us,"
	    " " FAMILY_TIME("s.updated_at_us") " AS updated_at,"
	    " s.last_problem, s.last_problem_at_us,"
	    " " FAMILY_TIME("s.last_problem_at_us") " AS last_problem_at,"
	    " s.problem_reports, s.dealloc"
	    " FROM family_status s JOIN instances i USING (instance_id) WHERE i.name = $1"
	    " ORDER BY CASE s.family WHEN 'statements' THEN 0 WHEN 'settings' THEN 1"
	    " WHEN 'activity' THEN 2 WHEN 'replication' THEN 3 WHEN 'tables' THEN 4"
	    " WHEN 'indexes' THEN 5 WHEN 'bloat' THEN 6 ELSE 7 END, s.family";
#undef FAMILY_TIME
	/* one question per row, as the SQLite store asks: a fleet answer
	 * has one row per instance */
	for (size_t i = 0; i < answer->n_rows; i++) {
		Pgfleet__V1__FleetInstance *row = answer->rows[i];
		struct pg_params params;
		PGresult *res = NULL;
		int rv;

		pg_params_init(&params);
		pg_param_text(&params, row->instance);
		if ((rv = pg_read(store, sql, &params, &res, "read the family statuses", errbuf,
			 errlen)) != PGF_OK)
			return rv;
		rv = pg_append_rows(&row->base, "families", res, errbuf, errlen);
		PQclear(res);
		if (rv != PGF_OK)
			return rv;
	}
	return PGF_OK;
}

/* ---- settings, extensions and insert triggers -------------------------- */

/*
 * Moves advice_instance's column (settings_ts_us or tables_ts_us) to ts
 * when the family collected at ts is at least as new as the one stored;
 * *newer says whether it was (an older one, a replayed backlog, is
 * ignored).
 */
static int
claim_newer(struct store_pg *store, const char *column, int64_t instance_id, int64_t ts,
    bool *newer, char *errbuf, size_t errlen)
{
	struct pg_params params;
	PGresult *res = NULL;
	char sql[320];
	int rv;

	snprintf(sql, sizeof(sql),
	    "INSERT INTO advice_instance AS a (instance_id, %s) VALUES ($1, $2)"
	    " ON CONFLICT (instance_id) DO UPDATE SET %s = excluded.%s"
	    " WHERE a.%s <= excluded.%s RETURNING 1",
	    column, column, column, column, column);
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, ts);
	if ((rv = pg_run(store, sql, &params, &res, "store the advice state", errbuf, errlen)) !=
	    PGF_OK)
		return rv;
	*newer = PQntuples(res) == 1;
	PQclear(res);
	return PGF_OK;
}

/* Sends "sql" with $1 = instance_id into the pipeline. */
static void
send_instance(struct store_pg *store, struct pg_pipeline *pipeline, const char *sql,
    int64_t instance_id)
{
	struct pg_params params;

	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_pipeline_send(store, pipeline, sql, &params);
}

static int
write_settings(struct store_pg *store, int64_t instance_id, int64_t ts,
    const Pgfleet__V1__SettingsFamily *family, char *errbuf, size_t errlen)
{
	struct pg_pipeline pipeline;
	bool newer = false;
	int rv;

	if ((rv = claim_newer(store, "settings_ts_us", instance_id, ts, &newer, errbuf,
		 errlen)) != PGF_OK ||
	    !newer)
		return rv;
	/* the newest family replaces the instance's rows; a name twice in
	 * one family keeps the last, as SQLite's INSERT OR REPLACE */
	pg_pipeline_begin(store, &pipeline);
	send_instance(store, &pipeline, "DELETE FROM advice_settings WHERE instance_id = $1",
	    instance_id);
	send_instance(store, &pipeline, "DELETE FROM advice_extensions WHERE instance_id = $1",
	    instance_id);
	for (size_t i = 0; i < family->n_settings; i++) {
		struct pg_params params;
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_text(&params, family->settings[i]->name);
		pg_param_text(&params, family->settings[i]->setting);
		pg_pipeline_send(store, &pipeline,
		    "INSERT INTO advice_settings (instance_id, name, setting) VALUES ($1, $2, $3)"
		    " ON CONFLICT (instance_id, name) DO UPDATE SET setting = excluded.setting",
		    &params);
	}
	for (size_t i = 0; i < family->n_extensions; i++) {
		const Pgfleet__V1__Extension *e = family->extensions[i];
		struct pg_params params;
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_text(&params, e->database);
		pg_param_text(&params, e->name);
		pg_param_text(&params, e->version);
		pg_pipeline_send(store, &pipeline,
		    "INSERT INTO advice_extensions (instance_id, datname, name, version)"
		    " VALUES ($1, $2, $3, $4) ON CONFLICT (instance_id, datname, name)"
		    " DO UPDATE SET version = excluded.version",
		    &params);
	}
	return pg_pipeline_end(store, &pipeline, "store the settings", errbuf, errlen);
}

static int
write_table_options(struct store_pg *store, int64_t instance_id, int64_t ts,
    const Pgfleet__V1__TablesFamily *family, char *errbuf, size_t errlen)
{
	struct pg_pipeline pipeline;
	struct pg_params params;
	bool newer = false;
	int rv;

	if ((rv = claim_newer(store, "tables_ts_us", instance_id, ts, &newer, errbuf, errlen)) !=
		PGF_OK ||
	    !newer)
		return rv;
	pg_pipeline_begin(store, &pipeline);
	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, family->autovacuum_freeze_max_age);
	pg_pipeline_send(store, &pipeline,
	    "UPDATE advice_instance SET freeze_max_age = $2 WHERE instance_id = $1", &params);
	send_instance(store, &pipeline,
	    "DELETE FROM advice_table_options WHERE instance_id = $1", instance_id);
	for (size_t i = 0; i < family->n_tables; i++) {
		const Pgfleet__V1__TableStat *t = family->tables[i];
		/* both 0: an agent older than these fields (or a server that
		 * really has both at 0, which the server's settings then stand
		 * in for) */
		if (t->autovacuum_vacuum_insert_threshold == 0 &&
		    t->autovacuum_vacuum_insert_scale_factor == 0.0)
			continue;
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		pg_param_text(&params, t->database);
		pg_param_text(&params, t->schema);
		pg_param_text(&params, t->table);
		pg_param_int(&params, t->autovacuum_vacuum_insert_threshold);
		/* a NaN from a broken agent is stored as 0, as the SQLite
		 * store stores it */
		pg_param_double(&params, isnan(t->autovacuum_vacuum_insert_scale_factor)
			? 0.0
			: t->autovacuum_vacuum_insert_scale_factor);
		pg_pipeline_send(store, &pipeline,
		    "INSERT INTO advice_table_options (instance_id, datname, schemaname, relname,"
		    " insert_threshold, insert_scale_factor) VALUES ($1, $2, $3, $4, $5, $6)"
		    " ON CONFLICT (instance_id, datname, schemaname, relname) DO UPDATE SET"
		    " insert_threshold = excluded.insert_threshold,"
		    " insert_scale_factor = excluded.insert_scale_factor",
		    &params);
	}
	return pg_pipeline_end(store, &pipeline, "store the table options", errbuf, errlen);
}

int
store_pg_settings_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, char *errbuf, size_t errlen)
{
	int rv = PGF_OK;

	if (report->settings != NULL && report->settings->n_settings > 0)
		rv = write_settings(store, instance_id, report->collected_at_us, report->settings,
		    errbuf, errlen);
	if (rv == PGF_OK && report->tables != NULL)
		rv = write_table_options(store, instance_id, report->collected_at_us,
		    report->tables, errbuf, errlen);
	return rv;
}
