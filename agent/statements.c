/*
 * statements.c - pg_stat_statements snapshots and their deltas.
 *
 * pg_stat_statements keeps cumulative counters per (userid, dbid, queryid,
 * toplevel). The agent reads them each interval and sends only what changed
 * since the previous snapshot. Two facts shape the code:
 * - counters go back to zero on pg_stat_statements_reset(), on a crash, and
 *   for a statement that was evicted and came back; a delta is then the
 *   whole current value, never a negative number or a wrap-around spike;
 * - reading query texts makes the server read its whole text file, so texts
 *   are fetched only for statements the collector has not been sent yet.
 */
#include "agent/statements.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Column order of statements_sql's result. */
enum statements_column {
	COL_QUERYID,
	COL_DBID,
	COL_USERID,
	COL_TOPLEVEL,
	COL_CALLS,
	COL_TOTAL_EXEC_TIME,
	COL_MEAN_EXEC_TIME,
	COL_STDDEV_EXEC_TIME,
	COL_MIN_EXEC_TIME,
	COL_MAX_EXEC_TIME,
	COL_ROWS,
	COL_SHARED_BLKS_HIT,
	COL_SHARED_BLKS_READ,
	COL_SHARED_BLKS_DIRTIED,
	COL_SHARED_BLKS_WRITTEN,
	COL_LOCAL_BLKS_HIT,
	COL_LOCAL_BLKS_READ,
	COL_LOCAL_BLKS_DIRTIED,
	COL_LOCAL_BLKS_WRITTEN,
	COL_TEMP_BLKS_READ,
	COL_TEMP_BLKS_WRITTEN,
	COL_BLK_READ_TIME,
	COL_BLK_WRITE_TIME,
	COL_WAL_BYTES,
	COL_TOTAL_PLAN_TIME,
	COL_DATNAME,
	COL_USERNAME,
	COL_COUNT
};

bool
statements_sql(int server_version_num, const char *schema, char *buf, size_t size)
{
	const char *toplevel;
	const char *blk_read_time;
	const char *blk_write_time;
	int n;

	if (server_version_num < STATEMENTS_MIN_SERVER_VERSION)
		return false;
	/* toplevel arrived in 14; 17 split block I/O time into shared and local */
	toplevel = server_version_num >= 140000 ? "s.toplevel" : "true";
	if (server_version_num >= 170000) {
		blk_read_time = "s.shared_blk_read_time + s.local_blk_read_time";
		blk_write_time = "s.shared_blk_write_time + s.local_blk_write_time";
	} else {
		blk_read_time = "s.blk_read_time";
		blk_write_time = "s.blk_write_time";
	}
	n = snprintf(buf, size,
	    "SELECT s.queryid, s.dbid, s.userid, %s, s.calls,"
	    " s.total_exec_time, s.mean_exec_time, s.stddev_exec_time,"
	    " s.min_exec_time, s.max_exec_time, s.rows,"
	    " s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied,"
	    " s.shared_blks_written, s.local_blks_hit, s.local_blks_read,"
	    " s.local_blks_dirtied, s.local_blks_written, s.temp_blks_read, s.temp_blks_written,"
	    " %s, %s, s.wal_bytes, s.total_plan_time,"
	    " coalesce(d.datname, ''), coalesce(r.rolname, '')"
	    " FROM %s.pg_stat_statements(false) s"
	    " LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid"
	    " LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid",
	    toplevel, blk_read_time, blk_write_time, schema);
	return n > 0 && (size_t) n < size;
}

const char *
statements_info_sql(int server_version_num, const char *schema, char *buf,
    size_t size)
{
	int n;
	if (server_version_num < 140000)
		return NULL;
	n = snprintf(buf, size,
	    "SELECT dealloc, coalesce((extract(epoch FROM stats_reset) * 1000000)::int8, 0)"
	    " FROM %s.pg_stat_statements_info",
	    schema);
	if (n < 0 || (size_t) n >= size)
		return NULL;
	return buf;
}

static int
compare_keys(const struct statement_key *a, const struct statement_key *b)
{
	if (a->queryid != b->queryid)
		return a->queryid < b->queryid ? -1 : 1;
	if (a->dbid != b->dbid)
		return a->dbid < b->dbid ? -1 : 1;
	if (a->userid != b->userid)
		return a->userid < b->userid ? -1 : 1;
	if (a->toplevel != b->toplevel)
		return a->toplevel ? 1 : -1;
	return 0;
}

static int
compare_samples(const void *a, const void *b)
{
	return compare_keys(&((const struct statement_sample *) a)->key,
	    &((const struct statement_sample *) b)->key);
}

void
statements_snapshot_sort(struct statements_snapshot *snapshot)
{
	if (snapshot->count > 1)
		qsort(snapshot->rows, snapshot->count, sizeof(snapshot->rows[0]),
		    compare_samples);
}

static const struct statement_sample *
find_sample(const struct statements_snapshot *snapshot,
    const struct statement_key *key)
{
	size_t low = 0;
	size_t high = snapshot->count;
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		int c = compare_keys(&snapshot->rows[mid].key, key);
		if (c == 0)
			return &snapshot->rows[mid];
		if (c < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

void
statements_snapshot_fini(struct statements_snapshot *snapshot)
{
	for (size_t i = 0; i < snapshot->count; i++) {
		free(snapshot->rows[i].datname);
		free(snapshot->rows[i].username);
	}
	free(snapshot->rows);
	free(snapshot->system_identifier);
	free(snapshot->schema);
	memset(snapshot, 0, sizeof(*snapshot));
}

/* Maps SQLSTATEs to the family's status: the extension missing or not
 * preloaded is "unavailable", a refused read is "insufficient privilege". */
static Pgfleet__V1__StatementsFamily__Status
status_for_sqlstate(const char *sqlstate)
{
	if (strcmp(sqlstate, "55000") == 0 || strcmp(sqlstate, "42P01") == 0 ||
	    strcmp(sqlstate, "42883") == 0)
		return PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_UNAVAILABLE;
	if (strcmp(sqlstate, "42501") == 0)
		return PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_INSUFFICIENT_PRIVILEGE;
	return PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_ERROR;
}

/* Appends " (SQLSTATE xxxxx)" to a server's error: the status detail then
 * says which error it was (55000: not preloaded), not only its words. */
static void
note_sqlstate(char *detail, size_t detail_len, const char *sqlstate)
{
	size_t used = strlen(detail);

	if (sqlstate[0] != '\0' && used < detail_len)
		snprintf(detail + used, detail_len - used, " (SQLSTATE %s)", sqlstate);
}

static double
field_double(const PGresult *result, int row, int column)
{
	return PQgetisnull(result, row, column) ? 0.0
						 : strtod(PQgetvalue(result, row, column), NULL);
}

static int64_t
field_int64(const PGresult *result, int row, int column)
{
	return PQgetisnull(result, row, column)
	    ? 0
	    : strtoll(PQgetvalue(result, row, column), NULL, 10);
}

/* Finds the extension's schema, quoted. NULL with *status set when the
 * extension is not installed in the connected database. */
static char *
find_schema(struct pg_session *session, Pgfleet__V1__StatementsFamily__Status *status,
    char *detail, size_t detail_len)
{
	char sqlstate[6];
	char *schema = NULL;
	PGresult *result = pg_session_query(session,
	    "SELECT quote_ident(n.nspname), current_database()"
	    " FROM pg_catalog.pg_extension e"
	    " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
	    " WHERE e.extname = 'pg_stat_statements'"
	    " UNION ALL SELECT NULL, current_database()",
	    detail, detail_len, sqlstate);
	if (result == NULL) {
		*status = status_for_sqlstate(sqlstate);
		note_sqlstate(detail, detail_len, sqlstate);
		return NULL;
	}
	if (PQntuples(result) < 2) {
		snprintf(detail, detail_len,
		    "pg_stat_statements is not installed in database \"%s\":"
		    " CREATE EXTENSION pg_stat_statements",
		    PQntuples(result) > 0 ? PQgetvalue(result, 0, 1) : "?");
		*status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_UNAVAILABLE;
	} else {
		schema = strdup(PQgetvalue(result, 0, 0));
		if (schema == NULL) {
			snprintf(detail, detail_len, "out of memory");
			*status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_ERROR;
		}
	}
	PQclear(result);
	return schema;
}

int
statements_collect(struct pg_session *session, const char *system_identifier,
    int64_t postmaster_start_time_us, struct statements_snapshot *out,
    Pgfleet__V1__StatementsFamily__Status *status, char *detail, size_t detail_len)
{
	char sql[2048];
	char sqlstate[6];
	PGresult *result = NULL;
	int version = pg_session_server_version(session);
	int rv = PGF_EPOSTGRES;
	int rows;

	memset(out, 0, sizeof(*out));
	*status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_ERROR;
	if (!statements_sql(version, "x", sql, sizeof(sql))) {
		snprintf(detail, detail_len,
		    "server version %d is older than 13, which the statements family needs",
		    version);
		*status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_UNAVAILABLE;
		return PGF_EUNAVAILABLE;
	}
	out->schema = find_schema(session, status, detail, detail_len);
	if (out->schema == NULL)
		goto fail;
	out->system_identifier = strdup(system_identifier);
	if (out->system_identifier == NULL)
		goto fail_memory;
	out->postmaster_start_time_us = postmaster_start_time_us;

	if (statements_info_sql(version, out->schema, sql, sizeof(sql)) != NULL) {
		result = pg_session_query(session, sql, detail, detail_len, sqlstate);
		if (result == NULL) {
			*status = status_for_sqlstate(sqlstate);
			note_sqlstate(detail, detail_len, sqlstate);
			goto fail;
		}
		if (PQntuples(result) == 1) {
			out->dealloc = field_int64(result, 0, 0);
			out->stats_reset_us = field_int64(result, 0, 1);
		}
		PQclear(result);
		result = NULL;
	}

	(void) statements_sql(version, out->schema, sql, sizeof(sql));
	result = pg_session_query(session, sql, detail, detail_len, sqlstate);
	if (result == NULL) {
		*status = status_for_sqlstate(sqlstate);
		note_sqlstate(detail, detail_len, sqlstate);
		goto fail;
	}
	if (PQnfields(result) != COL_COUNT) {
		snprintf(detail, detail_len, "pg_stat_statements returned %d columns, expected %d",
		    PQnfields(result), COL_COUNT);
		goto fail;
	}
	rows = PQntuples(result);
	out->rows = calloc(rows > 0 ? (size_t) rows : 1, sizeof(out->rows[0]));
	if (out->rows == NULL)
		goto fail_memory;
	for (int i = 0; i < rows; i++) {
		struct statement_sample *s = &out->rows[out->count];
		double mean = field_double(result, i, COL_MEAN_EXEC_TIME);
		double stddev = field_double(result, i, COL_STDDEV_EXEC_TIME);

		/* without pg_read_all_stats, other users' rows come without a
		 * queryid: count them so the report can say so */
		if (PQgetisnull(result, i, COL_QUERYID)) {
			out->invisible++;
			continue;
		}

		s->key.queryid = field_int64(result, i, COL_QUERYID);
		s->key.dbid = (uint32_t) field_int64(result, i, COL_DBID);
		s->key.userid = (uint32_t) field_int64(result, i, COL_USERID);
		s->key.toplevel = strcmp(PQgetvalue(result, i, COL_TOPLEVEL), "t") == 0;
		s->calls = field_int64(result, i, COL_CALLS);
		s->total_exec_time_ms = field_double(result, i, COL_TOTAL_EXEC_TIME);
		/* pg_stat_statements keeps a population variance: the sum of
		 * squares is calls * (stddev^2 + mean^2), and sums subtract */
		s->sum_sq_exec_time_ms2 = (double) s->calls * (stddev * stddev + mean * mean);
		s->min_exec_time_ms = field_double(result, i, COL_MIN_EXEC_TIME);
		s->max_exec_time_ms = field_double(result, i, COL_MAX_EXEC_TIME);
		s->rows = field_int64(result, i, COL_ROWS);
		s->shared_blks_hit = field_int64(result, i, COL_SHARED_BLKS_HIT);
		s->shared_blks_read = field_int64(result, i, COL_SHARED_BLKS_READ);
		s->shared_blks_dirtied = field_int64(result, i, COL_SHARED_BLKS_DIRTIED);
		s->shared_blks_written = field_int64(result, i, COL_SHARED_BLKS_WRITTEN);
		s->local_blks_hit = field_int64(result, i, COL_LOCAL_BLKS_HIT);
		s->local_blks_read = field_int64(result, i, COL_LOCAL_BLKS_READ);
		s->local_blks_dirtied = field_int64(result, i, COL_LOCAL_BLKS_DIRTIED);
		s->local_blks_written = field_int64(result, i, COL_LOCAL_BLKS_WRITTEN);
		s->temp_blks_read = field_int64(result, i, COL_TEMP_BLKS_READ);
		s->temp_blks_written = field_int64(result, i, COL_TEMP_BLKS_WRITTEN);
		s->blk_read_time_ms = field_double(result, i, COL_BLK_READ_TIME);
		s->blk_write_time_ms = field_double(result, i, COL_BLK_WRITE_TIME);
		s->wal_bytes = field_int64(result, i, COL_WAL_BYTES);
		s->total_plan_time_ms = field_double(result, i, COL_TOTAL_PLAN_TIME);
		s->datname = strdup(PQgetvalue(result, i, COL_DATNAME));
		s->username = strdup(PQgetvalue(result, i, COL_USERNAME));
		out->count++;
		if (s->datname == NULL || s->username == NULL)
			goto fail_memory;
	}
	PQclear(result);
	result = NULL;
	statements_snapshot_sort(out);
	out->minmax_monotonic = version < 170000;
	*status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
	return PGF_OK;

fail_memory:
	snprintf(detail, detail_len, "out of memory");
	*status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_ERROR;
	rv = PGF_ENOMEM;
fail:
	PQclear(result);
	statements_snapshot_fini(out);
	return rv;
}

/* Difference of two cumulative values, or the current value when the
 * counter started again from zero. */
#define COUNTER_DELTA(cur, prev, from_zero) ((from_zero) ? (cur) : (cur) - (prev))

/* A statement counts from zero when any of its counters went down: the
 * entry was reset or evicted and created again since prev. Counters alone
 * miss an entry evicted and made again with as many calls as before (or
 * more): its new count looks like growth, or like no change at all and
 * the calls are lost (tests/e2e/rel_eviction.sh, T13). Where min/max
 * only move outwards (minmax_monotonic), a min that rose or a max that
 * fell gives such an entry away. prev's max is 0 when prev came from an
 * older state file without extremes: nothing to compare. */
static bool
counters_went_down(const struct statement_sample *cur, const struct statement_sample *prev,
    bool minmax_monotonic)
{
	if (minmax_monotonic && prev->max_exec_time_ms > 0.0 &&
	    (cur->min_exec_time_ms > prev->min_exec_time_ms ||
		cur->max_exec_time_ms < prev->max_exec_time_ms))
		return true;
	return cur->calls < prev->calls || cur->rows < prev->rows ||
	    cur->total_exec_time_ms < prev->total_exec_time_ms ||
	    cur->shared_blks_hit < prev->shared_blks_hit ||
	    cur->shared_blks_read < prev->shared_blks_read ||
	    cur->wal_bytes < prev->wal_bytes;
}

static double
nonnegative(double value)
{
	return value > 0.0 ? value : 0.0;
}

static char *
dup_name(const char *name)
{
	return strdup(name != NULL ? name : "");
}

int
statements_delta(const struct statements_snapshot *prev,
    const struct statements_snapshot *cur, Pgfleet__V1__StatementsFamily *family)
{
	bool reset_all = prev->stats_reset_us != cur->stats_reset_us;
	size_t used = 0;

	family->reset_detected = reset_all;
	family->invisible_statements = cur->invisible;
	family->interval_start_us = prev->taken_at_us;
	family->interval_end_us = cur->taken_at_us;
	family->dealloc = cur->dealloc >= prev->dealloc && !reset_all
	    ? cur->dealloc - prev->dealloc
	    : cur->dealloc;
	family->n_statements = 0;
	family->statements = calloc(cur->count > 0 ? cur->count : 1,
	    sizeof(family->statements[0]));
	if (family->statements == NULL)
		return PGF_ENOMEM;

	for (size_t i = 0; i < cur->count; i++) {
		const struct statement_sample *c = &cur->rows[i];
		const struct statement_sample *p = reset_all ? NULL : find_sample(prev, &c->key);
		bool from_zero = p == NULL || counters_went_down(c, p, cur->minmax_monotonic);
		static const struct statement_sample zero;
		Pgfleet__V1__StatementDelta *d;

		if (p == NULL)
			p = &zero;
		if (COUNTER_DELTA(c->calls, p->calls, from_zero) <= 0)
			continue;
		if (from_zero && p != &zero)
			family->reset_detected = true;
		d = malloc(sizeof(*d));
		if (d == NULL)
			return PGF_ENOMEM;
		pgfleet__v1__statement_delta__init(d);
		family->statements[used++] = d;
		family->n_statements = used;
		d->queryid = c->key.queryid;
		d->dbid = c->key.dbid;
		d->userid = c->key.userid;
		d->toplevel = c->key.toplevel;
		d->calls = COUNTER_DELTA(c->calls, p->calls, from_zero);
		d->total_exec_time_ms = nonnegative(
		    COUNTER_DELTA(c->total_exec_time_ms, p->total_exec_time_ms, from_zero));
		d->sum_sq_exec_time_ms2 = nonnegative(
		    COUNTER_DELTA(c->sum_sq_exec_time_ms2, p->sum_sq_exec_time_ms2, from_zero));
		d->max_exec_time_ms = c->max_exec_time_ms;
		d->min_exec_time_ms = c->min_exec_time_ms;
		d->rows = COUNTER_DELTA(c->rows, p->rows, from_zero);
		d->shared_blks_hit = COUNTER_DELTA(c->shared_blks_hit, p->shared_blks_hit, from_zero);
		d->shared_blks_read = COUNTER_DELTA(c->shared_blks_read, p->shared_blks_read, from_zero);
		d->shared_blks_dirtied = COUNTER_DELTA(c->shared_blks_dirtied, p->shared_blks_dirtied, from_zero);
		d->shared_blks_written = COUNTER_DELTA(c->shared_blks_written, p->shared_blks_written, from_zero);
		d->local_blks_hit = COUNTER_DELTA(c->local_blks_hit, p->local_blks_hit, from_zero);
		d->local_blks_read = COUNTER_DELTA(c->local_blks_read, p->local_blks_read, from_zero);
		d->local_blks_dirtied = COUNTER_DELTA(c->local_blks_dirtied, p->local_blks_dirtied, from_zero);
		d->local_blks_written = COUNTER_DELTA(c->local_blks_written, p->local_blks_written, from_zero);
		d->temp_blks_read = COUNTER_DELTA(c->temp_blks_read, p->temp_blks_read, from_zero);
		d->temp_blks_written = COUNTER_DELTA(c->temp_blks_written, p->temp_blks_written, from_zero);
		d->blk_read_time_ms = nonnegative(
		    COUNTER_DELTA(c->blk_read_time_ms, p->blk_read_time_ms, from_zero));
		d->blk_write_time_ms = nonnegative(
		    COUNTER_DELTA(c->blk_write_time_ms, p->blk_write_time_ms, from_zero));
		d->wal_bytes = COUNTER_DELTA(c->wal_bytes, p->wal_bytes, from_zero);
		d->total_plan_time_ms = nonnegative(
		    COUNTER_DELTA(c->total_plan_time_ms, p->total_plan_time_ms, from_zero));
		/* counters other than calls are not watched for resets one by
		 * one; never let one of them go negative */
		if (d->rows < 0)
			d->rows = 0;
		if (d->shared_blks_dirtied < 0)
			d->shared_blks_dirtied = 0;
		if (d->shared_blks_written < 0)
			d->shared_blks_written = 0;
		if (d->temp_blks_read < 0)
			d->temp_blks_read = 0;
		if (d->local_blks_hit < 0)
			d->local_blks_hit = 0;
		if (d->local_blks_read < 0)
			d->local_blks_read = 0;
		if (d->local_blks_dirtied < 0)
			d->local_blks_dirtied = 0;
		if (d->local_blks_written < 0)
			d->local_blks_written = 0;
		if (d->temp_blks_written < 0)
			d->temp_blks_written = 0;
		d->datname = dup_name(c->datname);
		d->username = dup_name(c->username);
		if (d->datname == NULL || d->username == NULL)
			return PGF_ENOMEM;
	}
	return PGF_OK;
}

void
statements_family_fini(Pgfleet__V1__StatementsFamily *family)
{
	for (size_t i = 0; i < family->n_statements; i++) {
		Pgfleet__V1__StatementDelta *d = family->statements[i];
		if (d == NULL)
			continue;
		if (d->datname != protobuf_c_empty_string)
			free(d->datname);
		if (d->username != protobuf_c_empty_string)
			free(d->username);
		free(d->query.data);
		free(d);
	}
	free(family->statements);
	family->statements = NULL;
	family->n_statements = 0;
	if (family->status_detail != protobuf_c_empty_string)
		free(family->status_detail);
	family->status_detail = (char *) protobuf_c_empty_string;
}

/* Cuts text to at most max_len bytes without splitting a UTF-8 sequence. */
static size_t
cut_length(const char *text, size_t len, size_t max_len)
{
	if (len <= max_len)
		return len;
	len = max_len;
	while (len > 0 && ((unsigned char) text[len] & 0xC0) == 0x80)
		len--;
	return len;
}

int
statements_fetch_texts(struct pg_session *session, const char *schema,
    Pgfleet__V1__StatementsFamily *family, size_t max_len,
    bool (*needs_text)(int64_t queryid, void *arg), void *arg, char *detail,
    size_t detail_len)
{
	char sqlstate[6];
	char *sql = NULL;
	size_t sql_size;
	size_t used;
	size_t wanted = 0;
	PGresult *result = NULL;
	int rv = PGF_OK;

	for (size_t i = 0; i < family->n_statements; i++) {
		if (needs_text(family->statements[i]->queryid, arg))
			wanted++;
	}
	if (wanted == 0)
		return PGF_OK;
	/* 21 characters per int8 plus a comma */
	sql_size = 256 + strlen(schema) + wanted * 22;
	sql = malloc(sql_size);
	if (sql == NULL)
		return PGF_ENOMEM;
	used = (size_t) snprintf(sql, sql_size,
	    "SELECT DISTINCT ON (queryid) queryid, query FROM %s.pg_stat_statements(true)"
	    " WHERE queryid IN (", schema);
	wanted = 0;
	for (size_t i = 0; i < family->n_statements; i++) {
		if (!needs_text(family->statements[i]->queryid, arg))
			continue;
		used += (size_t) snprintf(sql + used, sql_size - used, "%s%lld",
		    wanted++ > 0 ? "," : "", (long long) family->statements[i]->queryid);
	}
	snprintf(sql + used, sql_size - used, ")");

	result = pg_session_query(session, sql, detail, detail_len, sqlstate);
	if (result == NULL) {
		rv = PGF_EPOSTGRES;
		goto done;
	}
	for (int row = 0; row < PQntuples(result); row++) {
		int64_t queryid = strtoll(PQgetvalue(result, row, 0), NULL, 10);
		const char *text = PQgetvalue(result, row, 1);
		size_t len = (size_t) PQgetlength(result, row, 1);
		size_t cut = cut_length(text, len, max_len);

		for (size_t i = 0; i < family->n_statements; i++) {
			Pgfleet__V1__StatementDelta *d = family->statements[i];
			if (d->queryid != queryid || d->query.data != NULL)
				continue;
			d->query.data = malloc(cut > 0 ? cut : 1);
			if (d->query.data == NULL) {
				rv = PGF_ENOMEM;
				goto done;
			}
			memcpy(d->query.data, text, cut);
			d->query.len = cut;
			d->query_truncated = cut < len;
		}
	}
done:
	PQclear(result);
	free(sql);
	return rv;
}

int
statements_snapshot_to_proto(const struct statements_snapshot *snapshot,
    Pgfleet__V1__StatementsSnapshot *proto)
{
	pgfleet__v1__statements_snapshot__init(proto);
	proto->system_identifier = snapshot->system_identifier != NULL
	    ? snapshot->system_identifier
	    : (char *) protobuf_c_empty_string;
	proto->taken_at_us = snapshot->taken_at_us;
	proto->stats_reset_us = snapshot->stats_reset_us;
	proto->dealloc = snapshot->dealloc;
	proto->postmaster_start_time_us = snapshot->postmaster_start_time_us;
	proto->statements = calloc(snapshot->count > 0 ? snapshot->count : 1,
	    sizeof(proto->statements[0]) + sizeof(Pgfleet__V1__StatementCounters));
	if (proto->statements == NULL)
		return PGF_ENOMEM;
	/* one allocation: the pointer array, then the messages it points to */
	Pgfleet__V1__StatementCounters *items =
	    (Pgfleet__V1__StatementCounters *) (proto->statements +
		(snapshot->count > 0 ? snapshot->count : 1));
	for (size_t i = 0; i < snapshot->count; i++) {
		const struct statement_sample *s = &snapshot->rows[i];
		Pgfleet__V1__StatementCounters *c = &items[i];
		pgfleet__v1__statement_counters__init(c);
		c->queryid = s->key.queryid;
		c->dbid = s->key.dbid;
		c->userid = s->key.userid;
		c->toplevel = s->key.toplevel;
		c->calls = s->calls;
		c->total_exec_time_ms = s->total_exec_time_ms;
		c->sum_sq_exec_time_ms2 = s->sum_sq_exec_time_ms2;
		c->rows = s->rows;
		c->shared_blks_hit = s->shared_blks_hit;
		c->shared_blks_read = s->shared_blks_read;
		c->shared_blks_dirtied = s->shared_blks_dirtied;
		c->shared_blks_written = s->shared_blks_written;
		c->local_blks_hit = s->local_blks_hit;
		c->local_blks_read = s->local_blks_read;
		c->local_blks_dirtied = s->local_blks_dirtied;
		c->local_blks_written = s->local_blks_written;
		c->temp_blks_read = s->temp_blks_read;
		c->temp_blks_written = s->temp_blks_written;
		c->blk_read_time_ms = s->blk_read_time_ms;
		c->blk_write_time_ms = s->blk_write_time_ms;
		c->wal_bytes = s->wal_bytes;
		c->total_plan_time_ms = s->total_plan_time_ms;
		c->min_exec_time_ms = s->min_exec_time_ms;
		c->max_exec_time_ms = s->max_exec_time_ms;
		proto->statements[i] = c;
	}
	proto->n_statements = snapshot->count;
	return PGF_OK;
}

void
statements_snapshot_proto_fini(Pgfleet__V1__StatementsSnapshot *proto)
{
	free(proto->statements);
	proto->statements = NULL;
	proto->n_statements = 0;
}

int
statements_snapshot_from_proto(const Pgfleet__V1__StatementsSnapshot *proto,
    struct statements_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	out->system_identifier = strdup(proto->system_identifier);
	out->rows = calloc(proto->n_statements > 0 ? proto->n_statements : 1,
	    sizeof(out->rows[0]));
	if (out->system_identifier == NULL || out->rows == NULL) {
		statements_snapshot_fini(out);
		return PGF_ENOMEM;
	}
	out->taken_at_us = proto->taken_at_us;
	out->stats_reset_us = proto->stats_reset_us;
	out->dealloc = proto->dealloc;
	out->postmaster_start_time_us = proto->postmaster_start_time_us;
	for (size_t i = 0; i < proto->n_statements; i++) {
		const Pgfleet__V1__StatementCounters *c = proto->statements[i];
		struct statement_sample *s = &out->rows[i];
		s->key.queryid = c->queryid;
		s->key.dbid = c->dbid;
		s->key.userid = c->userid;
		s->key.toplevel = c->toplevel;
		s->calls = c->calls;
		s->total_exec_time_ms = c->total_exec_time_ms;
		s->sum_sq_exec_time_ms2 = c->sum_sq_exec_time_ms2;
		s->rows = c->rows;
		s->shared_blks_hit = c->shared_blks_hit;
		s->shared_blks_read = c->shared_blks_read;
		s->shared_blks_dirtied = c->shared_blks_dirtied;
		s->shared_blks_written = c->shared_blks_written;
		s->local_blks_hit = c->local_blks_hit;
		s->local_blks_read = c->local_blks_read;
		s->local_blks_dirtied = c->local_blks_dirtied;
		s->local_blks_written = c->local_blks_written;
		s->temp_blks_read = c->temp_blks_read;
		s->temp_blks_written = c->temp_blks_written;
		s->blk_read_time_ms = c->blk_read_time_ms;
		s->blk_write_time_ms = c->blk_write_time_ms;
		s->wal_bytes = c->wal_bytes;
		s->total_plan_time_ms = c->total_plan_time_ms;
		s->min_exec_time_ms = c->min_exec_time_ms;
		s->max_exec_time_ms = c->max_exec_time_ms;
	}
	out->count = proto->n_statements;
	/* a state file written by hand or by an older agent may be unsorted */
	statements_snapshot_sort(out);
	return PGF_OK;
}
