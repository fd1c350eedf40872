/*
 * store_pg_gaps.c - delivery bookkeeping per (agent, boot) in the
 * PostgreSQL store: the highest seq stored, the seqs still missing (as
 * ranges), the agent's own counters, and each instance's clock skew. The
 * rules are store_sqlite_gaps.c's; the keys start with instance_id (one
 * boot of an agent reports one instance) so the tables distribute by it.
 */
#include "collector/store_pg_internal.h"

#include "collector/clock_skew.h"

/* Runs sql with $1 instance, $2 agent_id, $3 boot_id, $4..$6 = a, b, c. */
static int
run(struct store_pg *store, const char *sql, int64_t instance_id,
    const Pgfleet__V1__Report *report, int64_t a, int64_t b, int64_t c, char *errbuf,
    size_t errlen)
{
	struct pg_params params;

	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_text(&params, report->agent_id);
	pg_param_text(&params, report->boot_id);
	pg_param_int(&params, a);
	pg_param_int(&params, b);
	pg_param_int(&params, c);
	return pg_run(store, sql, &params, NULL, "store the delivery bookkeeping", errbuf, errlen);
}

int
store_pg_gaps_write(struct store_pg *store, int64_t instance_id,
    const Pgfleet__V1__Report *report, int64_t received_at_us, char *errbuf, size_t errlen)
{
	int64_t seq = report->seq > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) report->seq;
	int64_t max_seq = -1;
	struct pg_params params;
	PGresult *res = NULL;
	int rv;

	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_text(&params, report->agent_id);
	pg_param_text(&params, report->boot_id);
	if ((rv = pg_run(store,
		 "SELECT max_seq FROM report_boots"
		 " WHERE instance_id = $1 AND agent_id = $2 AND boot_id = $3",
		 &params, &res, "read the delivery bookkeeping", errbuf, errlen)) != PGF_OK)
		return rv;
	if (PQntuples(res) == 1)
		max_seq = pg_int(res, 0, 0);
	PQclear(res);
	if (max_seq < 0)
		max_seq = 0; /* a boot starts at seq 1 */
	if (seq > max_seq + 1) {
		rv = run(store,
		    "INSERT INTO report_gaps (instance_id, agent_id, boot_id, first_seq, last_seq)"
		    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
		    instance_id, report, max_seq + 1, seq - 1, 0, errbuf, errlen);
	} else if (seq <= max_seq) {
		/* a late report: cut it out of the range that holds it */
		rv = run(store,
		    "INSERT INTO report_gaps (instance_id, agent_id, boot_id, first_seq, last_seq)"
		    " SELECT instance_id, agent_id, boot_id, $4 + 1, last_seq FROM report_gaps"
		    " WHERE instance_id = $1 AND agent_id = $2 AND boot_id = $3"
		    " AND first_seq <= $4 AND last_seq > $4"
		    " ON CONFLICT DO NOTHING",
		    instance_id, report, seq, 0, 0, errbuf, errlen);
		if (rv == PGF_OK)
			rv = run(store,
			    "UPDATE report_gaps SET last_seq = $4 - 1"
			    " WHERE instance_id = $1 AND agent_id = $2 AND boot_id = $3"
			    " AND first_seq <= $4 AND last_seq >= $4",
			    instance_id, report, seq, 0, 0, errbuf, errlen);
		if (rv == PGF_OK)
			rv = run(store,
			    "DELETE FROM report_gaps"
			    " WHERE instance_id = $1 AND agent_id = $2 AND boot_id = $3"
			    " AND last_seq < first_seq",
			    instance_id, report, 0, 0, 0, errbuf, errlen);
	}
	if (rv != PGF_OK)
		return rv;
	/* the agent's counters as of its newest report of this boot */
	rv = run(store,
	    "INSERT INTO report_boots (instance_id, agent_id, boot_id, max_seq,"
	    " dropped_reports, corrupt_spool_records, spool_failures, last_received_us)"
	    " VALUES ($1, $2, $3, $4, 0, 0, 0, $5)"
	    " ON CONFLICT (instance_id, agent_id, boot_id) DO UPDATE SET"
	    " max_seq = greatest(report_boots.max_seq, $4), last_received_us = $5",
	    instance_id, report, seq, received_at_us, 0, errbuf, errlen);
	if (rv == PGF_OK && seq >= max_seq)
		rv = run(store,
		    "UPDATE report_boots SET dropped_reports = $4, corrupt_spool_records = $5,"
		    " spool_failures = $6"
		    " WHERE instance_id = $1 AND agent_id = $2 AND boot_id = $3",
		    instance_id, report, (int64_t) (report->dropped_reports & INT64_MAX),
		    (int64_t) (report->corrupt_spool_records & INT64_MAX),
		    (int64_t) (report->spool_failures & INT64_MAX), errbuf, errlen);
	if (rv == PGF_OK && report->sent_at_us > 0) {
		pg_params_init(&params);
		pg_param_int(&params, instance_id);
		/* positive: the agent's clock is ahead of the collector's */
		pg_param_int(&params, clock_skew_of(report, received_at_us));
		pg_param_int(&params, received_at_us);
		rv = pg_run(store,
		    "INSERT INTO clock_skew (instance_id, skew_us, measured_us) VALUES ($1, $2, $3)"
		    " ON CONFLICT (instance_id) DO UPDATE SET skew_us = $2, measured_us = $3"
		    " WHERE clock_skew.measured_us <= $3",
		    &params, NULL, "store the clock skew", errbuf, errlen);
	}
	return rv;
}
