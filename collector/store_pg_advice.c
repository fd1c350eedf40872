/*
 * store_pg_advice.c - what vacuum-advice, replication-health and the
 * checklist read from the PostgreSQL store: store_sqlite_advice.c's
 * readers, their SQL translated (flags are booleans here), each row handed
 * to the backend-neutral steps of advice_facts.c, so both stores gather
 * the same facts and the pure analysis judges them alike.
 *
 * The settings, extensions, freeze age and per-table insert triggers they
 * read (advice_instance, advice_settings, advice_extensions,
 * advice_table_options: the latest state per instance) are written with
 * the settings and tables families by the PG write path, mirroring
 * store_sqlite_advice_write.
 */
#include "collector/store_pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/advice.h"
#include "collector/advice_facts.h"
#include "common/timeutil.h"

/*
 * The parameters every reader's SQL takes, as store_sqlite_advice.c's
 * named ones: $1 instance, $2 cluster, $3 database ('' = any), $4 since
 * and $5 until (0 = unbounded), $6 the window's start (the last day by
 * default), $7 its end (the largest bigint when open), $8 now. A query
 * need not use them all: their types are given.
 */
static void
scope_params(struct pg_params *params, const Pgfleet__V1__Scope *scope)
{
	int64_t until = scope != NULL ? scope->until_us : 0;

	pg_params_init(params);
	pg_param_text(params, scope != NULL ? scope->instance : "");
	pg_param_text(params, scope != NULL ? scope->cluster : "");
	pg_param_text(params, scope != NULL ? scope->database : "");
	pg_param_int(params, scope != NULL ? scope->since_us : 0);
	pg_param_int(params, until);
	pg_param_int(params, advice_window_since(scope));
	pg_param_int(params, until > 0 ? until : INT64_MAX);
	pg_param_int(params, pgf_time_now_us());
}

/* A text column copied into pool; NULL when out of memory. */
static const char *
column(struct advice_pool *pool, const PGresult *res, int row, int index)
{
	return advice_pool_strdup(pool, PQgetvalue(res, row, index));
}

/* A text column, NULL for SQL NULL (not reported). */
static const char *
nullable(const PGresult *res, int row, int index)
{
	return PQgetisnull(res, row, index) ? NULL : PQgetvalue(res, row, index);
}

static int
out_of_memory(const char *what, char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "could not read %s: out of memory", what);
	return PGF_ENOMEM;
}

/* A setting as an integer where it is one (SQLite's CAST reads a
 * non-number as 0; the callers' coalesce then gives the same). */
#define SETTING_INT(name)                                                              \
	"(SELECT CASE WHEN s.setting ~ '^-?[0-9]{1,18}$' THEN s.setting::bigint END"   \
	" FROM advice_settings s WHERE s.instance_id = snap.instance_id AND s.name = " \
	"'" name "')"

/* The instances in scope and their snapshot times, then each table of the
 * newest tables snapshot (inside the window when the scope has one). */
static const char vacuum_sql[]
    = "WITH snap AS ("
      " SELECT i.instance_id, i.name, i.server_version_num, i.role,"
      "  (SELECT max(t.ts_us) FROM table_stats t WHERE t.instance_id = i.instance_id"
      "   AND ($4 = 0 OR t.ts_us >= $4) AND ($5 = 0 OR t.ts_us < $5)) AS ts,"
      "  (SELECT max(b.ts_us) FROM bloat_estimates b WHERE b.instance_id = i.instance_id"
      "   AND ($4 = 0 OR b.ts_us >= $4) AND ($5 = 0 OR b.ts_us < $5)) AS bloat_ts"
      " FROM instances i"
      " WHERE ($1 = '' OR i.name = $1)"
      "  AND ($2 = '' OR i.system_identifier = $2))"
      " SELECT snap.name, t.datname, t.schemaname, t.relname, snap.server_version_num,"
      "  t.n_live_tup, t.n_dead_tup, t.n_ins_since_vacuum, t.reltuples, "
      "t.autovacuum_enabled,"
      "  (SELECT s.setting FROM advice_settings s WHERE s.instance_id = snap.instance_id"
      "   AND s.name = 'autovacuum'),"
      "  t.autovacuum_vacuum_threshold, t.autovacuum_vacuum_scale_factor,"
      "  o.insert_threshold, o.insert_scale_factor,"
      "  (SELECT s.setting FROM advice_settings s WHERE s.instance_id = snap.instance_id"
      "   AND s.name = 'autovacuum_vacuum_insert_threshold'),"
      "  (SELECT s.setting FROM advice_settings s WHERE s.instance_id = snap.instance_id"
      "   AND s.name = 'autovacuum_vacuum_insert_scale_factor'),"
      "  t.relfrozenxid_age,"
      "  coalesce(nullif(ai.freeze_max_age, 0), " SETTING_INT(
	  "autovacuum_freeze_max_age") ", 0),"
				       "  b.real_bytes, b.bloat_bytes, b.unreliable,"
				       "  t.last_vacuum_us, t.last_autovacuum_us, "
				       "t.ts_us,"
				       "  snap.role = 'replica' OR coalesce((SELECT "
				       "rl.is_standby FROM replication_latest rl"
				       "   WHERE rl.instance_id = snap.instance_id), "
				       "false)"
				       " FROM snap JOIN table_stats t ON t.instance_id = "
				       "snap.instance_id AND t.ts_us = snap.ts"
				       " LEFT JOIN advice_table_options o ON "
				       "o.instance_id = t.instance_id"
				       "  AND o.datname = t.datname AND o.schemaname = "
				       "t.schemaname AND o.relname = t.relname"
				       " LEFT JOIN advice_instance ai ON ai.instance_id "
				       "= snap.instance_id"
				       " LEFT JOIN bloat_estimates b ON b.instance_id = "
				       "snap.instance_id"
				       "  AND b.ts_us = snap.bloat_ts AND b.datname = "
				       "t.datname"
				       "  AND b.schemaname = t.schemaname AND b.relname "
				       "= t.relname AND b.indexrelname = ''"
				       " WHERE ($3 = '' OR t.datname = $3)"
				       " ORDER BY snap.name, t.datname, t.schemaname, "
				       "t.relname";

int
store_pg_vacuum_facts(struct store *base, const Pgfleet__V1__Scope *scope,
    struct vacuum_fact_set *out, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct pg_params params;
	PGresult *res = NULL;
	int rv;

	scope_params(&params, scope);
	if ((rv = pg_read(
		 store, vacuum_sql, &params, &res, "read the tables", errbuf, errlen))
	    != PGF_OK)
		return rv;
	for (int r = 0; r < PQntuples(res); r++) {
		struct vacuum_table_fact *f;

		if (!advice_grow(
			(void **) &out->rows, out->n, &out->capacity, sizeof(*out->rows)))
			goto oom;
		f = &out->rows[out->n];
		memset(f, 0, sizeof(*f));
		f->instance = column(&out->pool, res, r, 0);
		f->database = column(&out->pool, res, r, 1);
		f->schema = column(&out->pool, res, r, 2);
		f->table = column(&out->pool, res, r, 3);
		if (f->instance == NULL || f->database == NULL || f->schema == NULL
		    || f->table == NULL)
			goto oom;
		f->server_version_num = (int) pg_int(res, r, 4);
		f->n_live_tup = pg_int(res, r, 5);
		f->n_dead_tup = pg_int(res, r, 6);
		f->n_ins_since_vacuum = pg_int(res, r, 7);
		f->reltuples = pg_double(res, r, 8);
		f->autovacuum_enabled = pg_bool(res, r, 9);
		f->server_autovacuum = advice_server_autovacuum(nullable(res, r, 10));
		f->vacuum_threshold = pg_int(res, r, 11);
		f->vacuum_scale_factor = pg_double(res, r, 12);
		advice_vacuum_insert(f, !PQgetisnull(res, r, 13), pg_int(res, r, 13),
		    pg_double(res, r, 14), nullable(res, r, 15), nullable(res, r, 16));
		f->relfrozenxid_age = pg_int(res, r, 17);
		f->freeze_max_age = pg_int(res, r, 18);
		f->has_bloat = !PQgetisnull(res, r, 19);
		f->real_bytes = pg_int(res, r, 19);
		f->bloat_bytes = pg_int(res, r, 20);
		f->bloat_unreliable = pg_bool(res, r, 21);
		f->last_vacuum_us = pg_int(res, r, 22);
		f->last_autovacuum_us = pg_int(res, r, 23);
		f->collected_at_us = pg_int(res, r, 24);
		f->is_standby = pg_bool(res, r, 25);
		out->n++;
	}
	PQclear(res);
	return PGF_OK;
oom:
	PQclear(res);
	return out_of_memory("the tables", errbuf, errlen);
}

/* The upstream of standby i: the instance its walreceiver names (host and
 * port, same cluster), else the cluster's only primary. */
#define UPSTREAM_ID(i)                                                                \
	"coalesce((SELECT u.instance_id FROM instances u WHERE u.instance_id <> " i   \
	".instance_id AND u.system_identifier = " i ".system_identifier"              \
	" AND u.port = " i ".upstream_port AND u.host = " i ".upstream_host"          \
	" ORDER BY u.role <> 'primary', u.last_seen_us DESC LIMIT 1),"                \
	" (SELECT max(u.instance_id) FROM instances u WHERE u.system_identifier = " i \
	".system_identifier AND u.role = 'primary' AND u.instance_id <> " i           \
	".instance_id HAVING count(*) = 1))"

/* The walsenders of the upstream that surely are standby s's. */
#define SURELY_ITS                                                         \
	" FROM replication_replicas r WHERE r.instance_id = s.upstream_id" \
	"  AND ((s.slot_name <> '' AND r.slot_name = s.slot_name) OR "     \
	"r.application_name = s.name)"

static const char replicas_sql[]
    = "WITH s AS ("
      " SELECT i.instance_id, i.name, i.system_identifier, i.upstream_host, "
      "i.upstream_port,"
      "  " UPSTREAM_ID(
	  "i") " AS upstream_id, rl.receiver_status, rl.replay_paused,"
	       "  rl.replay_lag_bytes, rl.replay_delay_seconds, rl.slot_name, rl.ts_us,"
	       /* stale as fleet says it: three report intervals without a report */
	       "  ($8 - i.last_seen_us > 3 * 1000 * (CASE WHEN i.report_interval_ms > 0"
	       "   THEN i.report_interval_ms ELSE 60000 END)) AS stale"
	       " FROM replication_latest rl JOIN instances i USING (instance_id)"
	       " WHERE rl.is_standby AND ($1 = '' OR i.name = $1)"
	       "  AND ($2 = '' OR i.system_identifier = $2))"
	       " SELECT s.instance_id, s.name, s.system_identifier,"
	       "  coalesce((SELECT u.name FROM instances u WHERE u.instance_id = "
	       "s.upstream_id),"
	       "   CASE WHEN s.upstream_port = 0 THEN '' ELSE s.upstream_host || ':' || "
	       "s.upstream_port"
	       "   END),"
	       "  s.receiver_status, s.replay_paused, s.replay_lag_bytes, "
	       "s.replay_delay_seconds,"
	       "  s.slot_name, s.ts_us, s.stale,"
	       /* 11: the upstream reported its walsenders */
	       "  (SELECT count(*) FROM replication_latest url WHERE url.instance_id = "
	       "s.upstream_id),"
	       /* 12: its walsenders, 13: the standbys naming it */
	       "  (SELECT count(*) FROM replication_replicas r WHERE r.instance_id = "
	       "s.upstream_id),"
	       "  (SELECT count(*) FROM instances y JOIN replication_latest yl USING "
	       "(instance_id)"
	       "   WHERE yl.is_standby AND " UPSTREAM_ID(
		   "y") " = s.upstream_id),"
			/* 14, 15, 16: the walsender that is surely this standby's, its
			 * lag in bytes and s */
			"  (SELECT count(*)" SURELY_ITS "),"
			"  (SELECT max(r.replay_lag_bytes)" SURELY_ITS "),"
			"  (SELECT max(r.replay_lag_seconds)" SURELY_ITS ")"
			" FROM s"
			" ORDER BY s.system_identifier, s.name";

/* Every standby's lag history in the window at once (one round trip),
 * in the order of each standby's points. */
static const char points_sql[]
    = "SELECT h.instance_id, h.ts_us, h.replay_lag_bytes FROM standby_lag_history h"
      " WHERE h.instance_id = ANY ($1::bigint[]) AND h.ts_us >= $2 AND h.ts_us < $3"
      " ORDER BY h.instance_id, h.ts_us, h.id";

/* At most this many points per standby, as store_sqlite_advice.c reads. */
#define MAX_POINTS 100000

static const char slots_sql[]
    = "SELECT i.name, i.system_identifier, sl.slot_name, sl.slot_type, sl.active,"
      " sl.temporary, sl.retained_bytes, sl.wal_status, coalesce(rl.ts_us, 0)"
      " FROM replication_slots sl JOIN instances i USING (instance_id)"
      " LEFT JOIN replication_latest rl USING (instance_id)"
      " WHERE ($1 = '' OR i.name = $1)"
      "  AND ($2 = '' OR i.system_identifier = $2)"
      " ORDER BY i.name, sl.slot_name, sl.id";

/* The first row of res (ordered by column 0) whose column 0 is at least
 * id. */
static int
first_row(const PGresult *res, int64_t id)
{
	int low = 0, high = PQntuples(res);

	while (low < high) {
		int middle = low + (high - low) / 2;
		if (pg_int(res, middle, 0) < id)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

/* Loads the standbys' lag points: ids[0..n) are the instance ids of the
 * last n replica facts of out, in their order. */
static int
read_points(struct store_pg *store, const int64_t *ids, size_t n, int64_t since,
    int64_t until, struct replication_fact_set *out, char *errbuf, size_t errlen)
{
	struct replication_lag_point *list = NULL;
	struct pg_params params;
	PGresult *res = NULL;
	char *literal;
	size_t used = 0;
	int rv;

	if (n == 0)
		return PGF_OK;
	/* the ids as one bigint[] literal: 21 characters and a comma each */
	literal = malloc(n * 22 + 3);
	if (literal == NULL)
		return out_of_memory("the lag history", errbuf, errlen);
	literal[used++] = '{';
	for (size_t i = 0; i < n; i++)
		used += (size_t) sprintf(
		    literal + used, "%s%lld", i > 0 ? "," : "", (long long) ids[i]);
	literal[used++] = '}';
	literal[used] = '\0';
	pg_params_init(&params);
	pg_param_int_array(&params, literal);
	pg_param_int(&params, since);
	pg_param_int(&params, until);
	if ((rv = pg_read(store, points_sql, &params, &res, "read the lag history",
		 errbuf, errlen))
	    != PGF_OK)
		return rv;
	list = malloc(((size_t) PQntuples(res) + 1) * sizeof(*list));
	if (list == NULL) {
		PQclear(res);
		return out_of_memory("the lag history", errbuf, errlen);
	}
	for (size_t i = 0; i < n; i++) {
		struct replica_fact *f = &out->replicas[out->n_replicas - n + i];
		size_t count = 0;

		/* each standby's run of rows, oldest first */
		for (int r = first_row(res, ids[i]); r < PQntuples(res)
		     && pg_int(res, r, 0) == ids[i] && count < MAX_POINTS;
		     r++) {
			list[count].ts_us = pg_int(res, r, 1);
			list[count].lag_bytes = pg_int(res, r, 2);
			count++;
		}
		if (!advice_replica_points(&out->pool, f, list, count)) {
			free(list);
			PQclear(res);
			return out_of_memory("the lag history", errbuf, errlen);
		}
	}
	free(list);
	PQclear(res);
	return PGF_OK;
}

int
store_pg_replication_facts(struct store *base, const Pgfleet__V1__Scope *scope,
    struct replication_fact_set *out, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	int64_t until
	    = scope != NULL && scope->until_us > 0 ? scope->until_us : INT64_MAX;
	int64_t since = advice_window_since(scope);
	struct pg_params params;
	PGresult *res = NULL;
	int64_t *ids = NULL;
	size_t first = out->n_replicas;
	int rv;

	scope_params(&params, scope);
	if ((rv = pg_read(store, replicas_sql, &params, &res,
		 "read the replication state", errbuf, errlen))
	    != PGF_OK)
		return rv;
	ids = calloc((size_t) PQntuples(res) + 1, sizeof(*ids));
	if (ids == NULL)
		goto oom;
	for (int r = 0; r < PQntuples(res); r++) {
		struct replica_fact *f;
		struct advice_upstream upstream;

		if (!advice_grow((void **) &out->replicas, out->n_replicas,
			&out->replicas_capacity, sizeof(*out->replicas)))
			goto oom;
		f = &out->replicas[out->n_replicas];
		memset(f, 0, sizeof(*f));
		f->instance = column(&out->pool, res, r, 1);
		f->cluster = column(&out->pool, res, r, 2);
		f->upstream = column(&out->pool, res, r, 3);
		f->receiver_status = column(&out->pool, res, r, 4);
		f->slot_name = column(&out->pool, res, r, 8);
		if (f->instance == NULL || f->cluster == NULL || f->upstream == NULL
		    || f->receiver_status == NULL || f->slot_name == NULL)
			goto oom;
		f->replay_paused = pg_bool(res, r, 5);
		f->lag_bytes = pg_int(res, r, 6);
		f->lag_seconds = pg_double(res, r, 7);
		f->collected_at_us = pg_int(res, r, 9);
		f->stale = pg_bool(res, r, 10);
		upstream.reported = pg_int(res, r, 11) != 0;
		upstream.walsenders = pg_int(res, r, 12);
		upstream.standbys = pg_int(res, r, 13);
		upstream.matched = pg_int(res, r, 14);
		upstream.sent_lag_bytes = pg_int(res, r, 15);
		upstream.sent_lag_seconds = pg_double(res, r, 16);
		advice_replica_upstream(f, &upstream);
		ids[out->n_replicas - first] = pg_int(res, r, 0);
		out->n_replicas++;
	}
	PQclear(res);
	res = NULL;
	rv = read_points(
	    store, ids, out->n_replicas - first, since, until, out, errbuf, errlen);
	free(ids);
	ids = NULL;
	if (rv != PGF_OK)
		return rv;
	scope_params(&params, scope);
	if ((rv = pg_read(store, slots_sql, &params, &res, "read the replication state",
		 errbuf, errlen))
	    != PGF_OK)
		return rv;
	for (int r = 0; r < PQntuples(res); r++) {
		struct slot_fact *s;

		if (!advice_grow((void **) &out->slots, out->n_slots,
			&out->slots_capacity, sizeof(*out->slots)))
			goto oom;
		s = &out->slots[out->n_slots];
		memset(s, 0, sizeof(*s));
		s->instance = column(&out->pool, res, r, 0);
		s->cluster = column(&out->pool, res, r, 1);
		s->slot_name = column(&out->pool, res, r, 2);
		s->slot_type = column(&out->pool, res, r, 3);
		s->wal_status = column(&out->pool, res, r, 7);
		if (s->instance == NULL || s->cluster == NULL || s->slot_name == NULL
		    || s->slot_type == NULL || s->wal_status == NULL)
			goto oom;
		s->active = pg_bool(res, r, 4);
		s->temporary = pg_bool(res, r, 5);
		s->retained_bytes = pg_int(res, r, 6);
		s->collected_at_us = pg_int(res, r, 8);
		out->n_slots++;
	}
	PQclear(res);
	return PGF_OK;
oom:
	free(ids);
	PQclear(res);
	return out_of_memory("the replication state", errbuf, errlen);
}

/* One row per instance in scope with what its checklist needs. */
static const char checklist_sql[]
    = "WITH i AS (SELECT * FROM instances"
      " WHERE ($1 = '' OR name = $1)"
      "  AND ($2 = '' OR system_identifier = $2)),"
      " snap AS (SELECT i.instance_id,"
      "  (SELECT max(ts_us) FROM table_stats t WHERE t.instance_id = i.instance_id) AS "
      "tables_ts,"
      "  (SELECT max(ts_us) FROM index_stats x WHERE x.instance_id = i.instance_id) AS "
      "indexes_ts"
      "  FROM i)"
      " SELECT i.instance_id, i.name, i.system_identifier,"
      "  i.role = 'replica' OR coalesce(rl.is_standby, false),"
      "  coalesce(ai.settings_ts_us, 0) > 0,"
      "  (SELECT setting FROM advice_settings s WHERE s.instance_id = i.instance_id"
      "   AND s.name = 'shared_preload_libraries'),"
      "  (SELECT setting FROM advice_settings s WHERE s.instance_id = i.instance_id"
      "   AND s.name = 'autovacuum'),"
      "  (SELECT setting FROM advice_settings s WHERE s.instance_id = i.instance_id"
      "   AND s.name = 'track_counts'),"
      "  EXISTS (SELECT 1 FROM advice_extensions e WHERE e.instance_id = i.instance_id"
      "   AND e.name = 'pg_stat_statements'),"
      /* 9: the newest only, one seek in the (instance_id, ts_us) key */
      "  coalesce((SELECT max(st.ts_us) FROM statement_stats st"
      "   WHERE st.instance_id = i.instance_id AND st.ts_us < $7), 0),"
      /* 10, 11 */
      "  snap.tables_ts IS NOT NULL,"
      "  (SELECT count(*) FROM table_stats t WHERE t.instance_id = i.instance_id"
      "   AND t.ts_us = snap.tables_ts),"
      /* 12, 13, 14 */
      "  (SELECT max(a.total) FROM activity_history a WHERE a.instance_id = i.instance_id"
      "   AND a.ts_us >= $6 AND a.ts_us < $7),"
      "  (SELECT a.max_connections FROM activity_history a WHERE a.instance_id = "
      "i.instance_id"
      "   AND a.ts_us >= $6 AND a.ts_us < $7 ORDER BY a.ts_us DESC, a.id DESC LIMIT 1),"
      /* slots ordinary roles cannot use: reserved_connections is PG 16+ */
      "  coalesce((SELECT sum(CASE WHEN s.setting ~ '^-?[0-9]{1,18}$' THEN s.setting::bigint "
      "ELSE 0"
      "   END)::bigint FROM advice_settings s"
      "   WHERE s.instance_id = i.instance_id AND s.name IN "
      "('superuser_reserved_connections', 'reserved_connections')),"
      "   0),"
      /* 15, 16 */
      "  snap.indexes_ts IS NOT NULL,"
      "  (SELECT count(*) FROM index_stats x WHERE x.instance_id = i.instance_id"
      "   AND x.ts_us = snap.indexes_ts),"
      /* 17 */
      "  coalesce((SELECT max(b.ts_us) FROM bloat_estimates b"
      "   WHERE b.instance_id = i.instance_id AND b.ts_us < $7), 0),"
      /* 18, 19, 20, 21 */
      "  rl.instance_id IS NOT NULL, coalesce(rl.receiver_status, ''),"
      "  (SELECT count(*) FROM replication_replicas r WHERE r.instance_id = "
      "i.instance_id),"
      "  (SELECT count(*) FROM replication_replicas r WHERE r.instance_id = i.instance_id"
      "   AND r.state = 'streaming'),"
      /* 22, 23 */
      "  snap.tables_ts, snap.indexes_ts"
      " FROM i JOIN snap USING (instance_id)"
      " LEFT JOIN advice_instance ai USING (instance_id)"
      " LEFT JOIN replication_latest rl USING (instance_id)"
      " ORDER BY i.system_identifier, i.role <> 'primary', i.name";

/* Tables of the snapshot with autovacuum off. */
static const char autovacuum_off_sql[]
    = "SELECT datname || '.' || schemaname || '.' || relname FROM table_stats"
      " WHERE instance_id = $1 AND ts_us = $2 AND NOT autovacuum_enabled"
      " ORDER BY datname, schemaname, relname";

/* Indexes of the snapshot: invalid ones, and every definition (for the
 * duplicates). */
static const char indexes_sql[]
    = "SELECT x.datname, x.schemaname, x.indexrelname, x.is_valid, "
      "coalesce(d.definition, '')"
      " FROM index_stats x LEFT JOIN index_definitions d ON d.instance_id = x.instance_id"
      "  AND d.datname = x.datname AND d.schemaname = x.schemaname"
      "  AND d.indexrelname = x.indexrelname"
      " WHERE x.instance_id = $1 AND x.ts_us = $2"
      " ORDER BY x.datname, x.schemaname, x.indexrelname";

/* Runs one of the per-snapshot queries ($1 instance, $2 snapshot time). */
static int
read_snapshot(struct store_pg *store, const char *sql, int64_t instance_id, int64_t ts,
    PGresult **res, char *errbuf, size_t errlen)
{
	struct pg_params params;

	pg_params_init(&params);
	pg_param_int(&params, instance_id);
	pg_param_int(&params, ts);
	return pg_read(
	    store, sql, &params, res, "read the checklist facts", errbuf, errlen);
}

static int
read_autovacuum_off(struct store_pg *store, int64_t instance_id, int64_t ts,
    struct checklist_facts *f, char *errbuf, size_t errlen)
{
	PGresult *res = NULL;
	int rv = read_snapshot(
	    store, autovacuum_off_sql, instance_id, ts, &res, errbuf, errlen);

	if (rv != PGF_OK)
		return rv;
	for (int r = 0; r < PQntuples(res); r++) {
		f->tables_autovacuum_off++;
		checklist_add_name(f->autovacuum_off_names,
		    sizeof(f->autovacuum_off_names), PQgetvalue(res, r, 0));
	}
	PQclear(res);
	return PGF_OK;
}

static int
read_indexes(struct store_pg *store, int64_t instance_id, int64_t ts,
    struct checklist_facts *f, char *errbuf, size_t errlen)
{
	struct advice_indexes indexes = { 0 };
	PGresult *res = NULL;
	int rv = read_snapshot(store, indexes_sql, instance_id, ts, &res, errbuf, errlen);

	if (rv != PGF_OK)
		return rv;
	for (int r = 0; r < PQntuples(res); r++) {
		if (!advice_indexes_add(&indexes, f, PQgetvalue(res, r, 0),
			PQgetvalue(res, r, 1), PQgetvalue(res, r, 2), pg_bool(res, r, 3),
			PQgetvalue(res, r, 4))) {
			advice_indexes_free(&indexes);
			PQclear(res);
			return out_of_memory("the checklist facts", errbuf, errlen);
		}
	}
	advice_indexes_finish(&indexes, f);
	PQclear(res);
	return PGF_OK;
}

int
store_pg_checklist_facts(struct store *base, const Pgfleet__V1__Scope *scope,
    struct checklist_fact_set *out, char *errbuf, size_t errlen)
{
	struct store_pg *store = (struct store_pg *) base;
	struct pg_params params;
	PGresult *res = NULL;
	int rv;

	scope_params(&params, scope);
	if ((rv = pg_read(store, checklist_sql, &params, &res, "read the checklist facts",
		 errbuf, errlen))
	    != PGF_OK)
		return rv;
	for (int r = 0; r < PQntuples(res); r++) {
		struct checklist_facts *f;
		int64_t instance_id = pg_int(res, r, 0);
		const char *text;

		if (!advice_grow(
			(void **) &out->rows, out->n, &out->capacity, sizeof(*out->rows)))
			goto oom;
		f = &out->rows[out->n];
		memset(f, 0, sizeof(*f));
		f->instance = column(&out->pool, res, r, 1);
		f->cluster = column(&out->pool, res, r, 2);
		f->receiver_status = column(&out->pool, res, r, 19);
		if (f->instance == NULL || f->cluster == NULL
		    || f->receiver_status == NULL)
			goto oom;
		f->is_standby = pg_bool(res, r, 3);
		f->have_settings = pg_bool(res, r, 4);
		/* NULL stays NULL: "not reported" */
		if ((text = nullable(res, r, 5)) != NULL
		    && (f->shared_preload_libraries
			   = advice_pool_strdup(&out->pool, text))
			== NULL)
			goto oom;
		if ((text = nullable(res, r, 6)) != NULL
		    && (f->autovacuum = advice_pool_strdup(&out->pool, text)) == NULL)
			goto oom;
		if ((text = nullable(res, r, 7)) != NULL
		    && (f->track_counts = advice_pool_strdup(&out->pool, text)) == NULL)
			goto oom;
		f->statements_extension = pg_bool(res, r, 8);
		f->last_statement_us = pg_int(res, r, 9);
		f->have_tables = pg_bool(res, r, 10);
		f->tables = pg_int(res, r, 11);
		f->have_activity = !PQgetisnull(res, r, 12);
		f->peak_connections = pg_int(res, r, 12);
		f->max_connections = pg_int(res, r, 13);
		f->reserved_connections = pg_int(res, r, 14);
		f->have_indexes = pg_bool(res, r, 15);
		f->indexes = pg_int(res, r, 16);
		f->last_bloat_us = pg_int(res, r, 17);
		f->window_since_us = advice_window_since(scope);
		f->have_replication = pg_bool(res, r, 18);
		f->walsenders = pg_int(res, r, 20);
		f->streaming_walsenders = pg_int(res, r, 21);
		/* counted before the per-snapshot reads: the set frees it */
		out->n++;
		if ((f->have_tables
			&& (rv = read_autovacuum_off(store, instance_id,
				pg_int(res, r, 22), f, errbuf, errlen))
			    != PGF_OK)
		    || (f->have_indexes
			&& (rv = read_indexes(store, instance_id, pg_int(res, r, 23), f,
				errbuf, errlen))
			    != PGF_OK)) {
			PQclear(res);
			return rv;
		}
	}
	PQclear(res);
	return PGF_OK;
oom:
	PQclear(res);
	return out_of_memory("the checklist facts", errbuf, errlen);
}
