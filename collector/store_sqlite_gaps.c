/*
 * store_sqlite_gaps.c - delivery bookkeeping per (agent, boot): the
 * highest seq stored, the seqs still missing (as ranges), the agent's own
 * counters (reports it dropped, corrupt spool stretches, spool failures),
 * and each instance's clock skew. `pgfleet fleet` shows them.
 *
 * Missing seqs are kept as ranges [first_seq, last_seq]: a report whose seq
 * jumps far ahead (a long outage with drops, or a hostile seq) costs one
 * row, not one per seq. A late report splits or trims its range.
 *
 * Clock skew: the agent stamps every copy it sends with sent_at_us (its
 * clock); received_at_us - sent_at_us is then the skew plus the network
 * delay, whatever the report's age (a replay after an outage included).
 */
#include "collector/store_sqlite_internal.h"

#include "collector/clock_skew.h"

const char store_sqlite_gaps_schema[] =
    "CREATE TABLE report_boots ("
    "  agent_id TEXT NOT NULL,"
    "  boot_id TEXT NOT NULL,"
    "  instance_id INTEGER NOT NULL REFERENCES instances,"
    "  max_seq INTEGER NOT NULL,"
    "  dropped_reports INTEGER NOT NULL DEFAULT 0,"
    "  corrupt_spool_records INTEGER NOT NULL DEFAULT 0,"
    "  spool_failures INTEGER NOT NULL DEFAULT 0,"
    "  last_received_us INTEGER NOT NULL,"
    "  PRIMARY KEY (agent_id, boot_id)) WITHOUT ROWID;"
    "CREATE INDEX report_boots_instance ON report_boots (instance_id);"
    "CREATE TABLE report_gaps ("
    "  agent_id TEXT NOT NULL,"
    "  boot_id TEXT NOT NULL,"
    "  first_seq INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL,"
    "  PRIMARY KEY (agent_id, boot_id, first_seq)) WITHOUT ROWID;"
    "CREATE TABLE clock_skew ("
    "  instance_id INTEGER PRIMARY KEY REFERENCES instances,"
    "  skew_us INTEGER NOT NULL,"
    "  measured_us INTEGER NOT NULL);";

static int
run(struct store_sqlite *store, const char *sql, const Pgfleet__V1__Report *report,
    int64_t a, int64_t b, int64_t c)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
	int index;

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, report->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, report->boot_id, -1, SQLITE_STATIC);
	if ((index = sqlite3_bind_parameter_index(stmt, "?3")) > 0)
		sqlite3_bind_int64(stmt, index, a);
	if ((index = sqlite3_bind_parameter_index(stmt, "?4")) > 0)
		sqlite3_bind_int64(stmt, index, b);
	if ((index = sqlite3_bind_parameter_index(stmt, "?5")) > 0)
		sqlite3_bind_int64(stmt, index, c);
	rc = sqlite_step_done(stmt);
	sqlite3_finalize(stmt);
	return rc;
}

/* The boot's highest seq so far, or -1 when the boot is new. */
static int
boot_max_seq(struct store_sqlite *store, const Pgfleet__V1__Report *report, int64_t *max_seq)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(store->db,
	    "SELECT max_seq FROM report_boots WHERE agent_id = ?1 AND boot_id = ?2", -1,
	    &stmt, NULL);

	*max_seq = -1;
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(stmt, 1, report->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, report->boot_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*max_seq = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
store_sqlite_gaps_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, int64_t received_at_us)
{
	/* seqs are 1, 2, 3...; SQLite integers are signed */
	int64_t seq = report->seq > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) report->seq;
	int64_t max_seq;
	int rc;

	if ((rc = boot_max_seq(store, report, &max_seq)) != SQLITE_OK)
		return rc;
	if (max_seq < 0)
		max_seq = 0; /* a boot starts at seq 1 */
	if (seq > max_seq + 1) {
		rc = run(store,
		    "INSERT OR IGNORE INTO report_gaps (agent_id, boot_id, first_seq, last_seq)"
		    " VALUES (?1, ?2, ?3, ?4)",
		    report, max_seq + 1, seq - 1, 0);
	} else if (seq <= max_seq) {
		/* a late report: cut it out of the range that holds it */
		rc = run(store,
		    "INSERT OR IGNORE INTO report_gaps (agent_id, boot_id, first_seq, last_seq)"
		    " SELECT agent_id, boot_id, ?3 + 1, last_seq FROM report_gaps"
		    " WHERE agent_id = ?1 AND boot_id = ?2 AND first_seq <= ?3"
		    " AND last_seq > ?3",
		    report, seq, 0, 0);
		if (rc == SQLITE_OK)
			rc = run(store,
			    "UPDATE report_gaps SET last_seq = ?3 - 1"
			    " WHERE agent_id = ?1 AND boot_id = ?2 AND first_seq <= ?3"
			    " AND last_seq >= ?3",
			    report, seq, 0, 0);
		if (rc == SQLITE_OK)
			rc = run(store,
			    "DELETE FROM report_gaps WHERE agent_id = ?1 AND boot_id = ?2"
			    " AND last_seq < first_seq",
			    report, 0, 0, 0);
	}
	if (rc != SQLITE_OK)
		return rc;
	/* the agent's counters as of its newest report of this boot */
	rc = run(store,
	    "INSERT INTO report_boots (agent_id, boot_id, instance_id, max_seq,"
	    " dropped_reports, corrupt_spool_records, spool_failures, last_received_us)"
	    " VALUES (?1, ?2, ?3, ?4, 0, 0, 0, ?5)"
	    " ON CONFLICT (agent_id, boot_id) DO UPDATE SET max_seq = max(max_seq, ?4),"
	    " instance_id = ?3, last_received_us = ?5",
	    report, instance_id, seq, received_at_us);
	if (rc == SQLITE_OK && seq >= max_seq) {
		sqlite3_stmt *stmt = NULL;
		rc = sqlite3_prepare_v2(store->db,
		    "UPDATE report_boots SET dropped_reports = ?3, corrupt_spool_records = ?4,"
		    " spool_failures = ?5 WHERE agent_id = ?1 AND boot_id = ?2",
		    -1, &stmt, NULL);
		if (rc != SQLITE_OK)
			return rc;
		sqlite3_bind_text(stmt, 1, report->agent_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, report->boot_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, (sqlite3_int64) (report->dropped_reports & INT64_MAX));
		sqlite3_bind_int64(stmt, 4, (sqlite3_int64) (report->corrupt_spool_records & INT64_MAX));
		sqlite3_bind_int64(stmt, 5, (sqlite3_int64) (report->spool_failures & INT64_MAX));
		rc = sqlite_step_done(stmt);
		sqlite3_finalize(stmt);
	}
	if (rc == SQLITE_OK && report->sent_at_us > 0) {
		sqlite3_stmt *stmt = NULL;
		rc = sqlite3_prepare_v2(store->db,
		    "INSERT INTO clock_skew (instance_id, skew_us, measured_us) VALUES (?1, ?2, ?3)"
		    " ON CONFLICT (instance_id) DO UPDATE SET skew_us = ?2, measured_us = ?3"
		    " WHERE measured_us <= ?3",
		    -1, &stmt, NULL);
		if (rc != SQLITE_OK)
			return rc;
		sqlite3_bind_int64(stmt, 1, instance_id);
		/* positive: the agent's clock is ahead of the collector's */
		sqlite3_bind_int64(stmt, 2, clock_skew_of(report, received_at_us));
		sqlite3_bind_int64(stmt, 3, received_at_us);
		rc = sqlite_step_done(stmt);
		sqlite3_finalize(stmt);
	}
	return rc;
}
