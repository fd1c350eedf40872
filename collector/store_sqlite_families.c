/*
 * store_sqlite_families.c - the latest status of each statistics family of
 * each instance (family_status.h), shown in `pgfleet fleet --json`.
 *
 * One row per (instance, family), updated by every report that carries the
 * family (or names it as skipped). A replayed older report does not
 * overwrite a newer status, but its problems and its evicted-statement
 * count (dealloc) are still added: those are sums over reports.
 */
#include "collector/family_status.h"
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

const char store_sqlite_families_schema[] =
    "CREATE TABLE family_status ("
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  family TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  detail TEXT NOT NULL,"
    "  updated_at_us INTEGER NOT NULL,"
    "  last_problem TEXT NOT NULL DEFAULT '',"
    "  last_problem_at_us INTEGER NOT NULL DEFAULT 0,"
    "  problem_reports INTEGER NOT NULL DEFAULT 0,"
    "  dealloc INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (instance_id, family)) WITHOUT ROWID;";

int
store_sqlite_families_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report)
{
	/* ?6 is 1 for a problem, 0 otherwise. A skipped family only updates
	 * a family reported before: an agent names every due family, also
	 * those it never collects (no pgbouncer configured) */
	static const char sql[] =
	    "INSERT INTO family_status (instance_id, family, status, detail, updated_at_us,"
	    " last_problem, last_problem_at_us, problem_reports, dealloc)"
	    " SELECT ?1, ?2, ?3, ?4, ?5,"
	    "  CASE WHEN ?6 THEN ?3 || ': ' || ?4 ELSE '' END, CASE WHEN ?6 THEN ?5 ELSE 0 END,"
	    "  ?6, ?7"
	    " WHERE ?3 <> 'skipped' OR EXISTS (SELECT 1 FROM family_status"
	    "  WHERE instance_id = ?1 AND family = ?2)"
	    " ON CONFLICT (instance_id, family) DO UPDATE SET"
	    "  status = CASE WHEN excluded.updated_at_us >= updated_at_us"
	    "   THEN excluded.status ELSE status END,"
	    "  detail = CASE WHEN excluded.updated_at_us >= updated_at_us"
	    "   THEN excluded.detail ELSE detail END,"
	    "  last_problem = CASE WHEN ?6 AND excluded.updated_at_us >= last_problem_at_us"
	    "   THEN excluded.last_problem ELSE last_problem END,"
	    "  last_problem_at_us = CASE WHEN ?6 AND excluded.updated_at_us >= last_problem_at_us"
	    "   THEN excluded.updated_at_us ELSE last_problem_at_us END,"
	    "  problem_reports = problem_reports + ?6,"
	    "  dealloc = dealloc + ?7,"
	    "  updated_at_us = max(updated_at_us, excluded.updated_at_us)";
	struct family_status_entry entries[FAMILY_STATUS_MAX];
	size_t count = family_status_of_report(report, entries, FAMILY_STATUS_MAX);
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (count == 0)
		return SQLITE_OK;
	/* every report passes here: prepared once per store */
	rc = sqlite_prepare_cached(store, sql, &stmt);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < count && rc == SQLITE_OK; i++) {
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, instance_id);
		sqlite3_bind_text(stmt, 2, entries[i].family, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, entries[i].status, -1, SQLITE_STATIC);
		/* the detail is the server's message: made valid UTF-8 */
		sqlite_bind_clean_string(stmt, 4, entries[i].detail);
		sqlite3_bind_int64(stmt, 5, report->collected_at_us);
		sqlite3_bind_int(stmt, 6, family_status_is_problem(entries[i].status) ? 1 : 0);
		sqlite3_bind_int64(stmt, 7, entries[i].dealloc);
		rc = sqlite_step_done(stmt);
	}
	/* the store owns the cached statement: reset, never finalized here */
	sqlite3_reset(stmt);
	return rc;
}

static char *
time_text(int64_t us)
{
	return us > 0 ? store_sqlite_bucket_text(us) : strdup("");
}

/* Reads the families of one fleet row into it. */
static int
fill_row(sqlite3_stmt *stmt, Pgfleet__V1__FleetInstance *row)
{
	size_t capacity = 0;
	int rc;

	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, row->instance, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		Pgfleet__V1__FamilyStatus *family;

		if (row->n_families == capacity) {
			size_t wanted = capacity == 0 ? 8 : capacity * 2;
			Pgfleet__V1__FamilyStatus **grown =
			    realloc(row->families, wanted * sizeof(grown[0]));
			if (grown == NULL)
				return SQLITE_NOMEM;
			row->families = grown;
			capacity = wanted;
		}
		family = malloc(sizeof(*family));
		if (family == NULL)
			return SQLITE_NOMEM;
		pgfleet__v1__family_status__init(family);
		row->families[row->n_families++] = family;
		family->family = sqlite_column_text(stmt, 0);
		family->status = sqlite_column_text(stmt, 1);
		family->detail = sqlite_column_text(stmt, 2);
		family->updated_at_us = sqlite3_column_int64(stmt, 3);
		family->updated_at = time_text(family->updated_at_us);
		family->last_problem = sqlite_column_text(stmt, 4);
		family->last_problem_at_us = sqlite3_column_int64(stmt, 5);
		family->last_problem_at = time_text(family->last_problem_at_us);
		family->problem_reports = (uint64_t) sqlite3_column_int64(stmt, 6);
		family->dealloc = sqlite3_column_int64(stmt, 7);
		if (family->family == NULL || family->status == NULL || family->detail == NULL ||
		    family->updated_at == NULL || family->last_problem == NULL ||
		    family->last_problem_at == NULL)
			return SQLITE_NOMEM;
	}
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
store_sqlite_families_fill(struct store_sqlite *store, Pgfleet__V1__Fleet *answer,
    char *errbuf, size_t errlen)
{
	/* statements first, then the agent's collection order */
	static const char sql[] =
	    "SELECT s.family, s.status, s.detail, s.updated_at_us, s.last_problem,"
	    " s.last_problem_at_us, s.problem_reports, s.dealloc"
	    " FROM family_status s JOIN instances i USING (instance_id) WHERE i.name = ?1"
	    " ORDER BY CASE s.family WHEN 'statements' THEN 0 WHEN 'settings' THEN 1"
	    " WHEN 'activity' THEN 2 WHEN 'replication' THEN 3 WHEN 'tables' THEN 4"
	    " WHEN 'indexes' THEN 5 WHEN 'bloat' THEN 6 ELSE 7 END, s.family";
	sqlite3_stmt *stmt = NULL;
	int rc;

	if (answer->n_rows == 0)
		return PGF_OK;
	rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	for (size_t i = 0; i < answer->n_rows && rc == SQLITE_OK; i++)
		rc = fill_row(stmt, answer->rows[i]);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_NOMEM) {
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	if (rc != SQLITE_OK)
		return sqlite_store_error(store->db, rc, "read the family statuses", errbuf, errlen);
	return PGF_OK;
}
