/*
 * test_store_pg.c - the PostgreSQL store answers like the SQLite store.
 *
 * Needs a real PostgreSQL server: PGFLEET_TEST_PG is the conninfo of an
 * empty database (postgresql://...); tests/e2e/store_pg_compare.sh starts
 * one and runs this. The same synthetic reports (two clusters, a primary
 * and its standby, activity, replication, tables, indexes and bloat (on
 * its own cadence), statements with and without
 * texts, invalid UTF-8, seq gaps, a late report, a duplicate, a role
 * change, an unreachable and a stale instance) are written into a SQLite
 * store in a temporary folder and into the PostgreSQL store, some in a
 * batch and some alone; then every question the PostgreSQL store answers
 * is asked of both, and the answers are packed and compared byte for byte
 * (lists whose order is not defined, the comma-joined instance and cluster
 * names of grouped slow queries, are sorted first). Also: the schema is
 * created once and reopened, a newer schema is refused, a reader handle
 * opens, and what the store does not answer yet fails with one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "collector/store.h"
#include "collector/store_pg.h"
#include "common/log.h"
#include "common/render.h"
#include "common/timeutil.h"
#include "tests/support/temp_store.h"

#define SECOND 1000000LL
#define MINUTE (60 * SECOND)

struct fixture {
	void *sqlite_state; /* struct temp_store */
	struct store *lite;
	struct store *pg;
	int64_t now_us;
};

static const char *
conninfo(void)
{
	const char *c = getenv("PGFLEET_TEST_PG");
	return c != NULL ? c : "";
}

/* ---- building reports -------------------------------------------------- */

#define MAX_DELTAS 8

/* A report and everything it points to. */
struct test_report {
	Pgfleet__V1__Report report;
	Pgfleet__V1__InstanceIdentity instance;
	Pgfleet__V1__StatementsFamily statements;
	Pgfleet__V1__StatementDelta deltas[MAX_DELTAS];
	Pgfleet__V1__StatementDelta *delta_pointers[MAX_DELTAS];
	Pgfleet__V1__ActivityFamily activity;
	Pgfleet__V1__ConnectionGroup groups[2];
	Pgfleet__V1__ConnectionGroup *group_pointers[2];
	Pgfleet__V1__Backend sessions[2];
	Pgfleet__V1__Backend *long_running[1];
	Pgfleet__V1__Backend *idle_in_transaction[1];
	Pgfleet__V1__BlockingPair blocking;
	Pgfleet__V1__BlockingPair *blocking_pointers[1];
	Pgfleet__V1__ReplicationFamily replication;
	Pgfleet__V1__ReplicaConnection replica;
	Pgfleet__V1__ReplicaConnection *replica_pointers[1];
	Pgfleet__V1__ReplicationSlot slot;
	Pgfleet__V1__ReplicationSlot *slot_pointers[1];
	Pgfleet__V1__StandbyStatus standby;
	Pgfleet__V1__TablesFamily tables;
	Pgfleet__V1__TableStat table_rows[3];
	Pgfleet__V1__TableStat *table_pointers[3];
	Pgfleet__V1__IndexesFamily indexes;
	Pgfleet__V1__IndexStat index_rows[3];
	Pgfleet__V1__IndexStat *index_pointers[3];
	Pgfleet__V1__BloatFamily bloat;
	Pgfleet__V1__BloatEstimate estimates[2];
	Pgfleet__V1__BloatEstimate *estimate_pointers[2];
};

static void
init_report(struct test_report *r, const char *name, const char *cluster, const char *host,
    Pgfleet__V1__InstanceIdentity__Role role, const char *agent_id, uint64_t seq,
    int64_t collected_at_us)
{
	memset(r, 0, sizeof(*r));
	pgfleet__v1__report__init(&r->report);
	pgfleet__v1__instance_identity__init(&r->instance);
	r->report.agent_id = (char *) agent_id;
	r->report.boot_id = (char *) "boot-1";
	r->report.agent_version = (char *) "0.9-test";
	r->report.seq = seq;
	r->report.collected_at_us = collected_at_us;
	/* 10 minutes: stale only after half an hour, whenever the test
	 * runs within the minute its times are taken from */
	r->report.report_interval_ms = 600000;
	r->report.instance = &r->instance;
	r->instance.name = (char *) name;
	r->instance.system_identifier = (char *) cluster;
	r->instance.host = (char *) host;
	r->instance.port = 5432;
	r->instance.server_version_num = 150004;
	r->instance.server_version = (char *) "15.4";
	r->instance.role = role;
}

/* add_statement adds a statement whose n calls took first, first + step,
 * ... ms (quarters of a ms: every sum is exact in a double). */
static Pgfleet__V1__StatementDelta *
add_statement(struct test_report *r, int64_t queryid, const char *datname, int64_t n,
    double first, double step, const char *text)
{
	Pgfleet__V1__StatementDelta *d;

	if (r->report.statements == NULL) {
		pgfleet__v1__statements_family__init(&r->statements);
		r->statements.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
		r->statements.interval_start_us = r->report.collected_at_us - MINUTE;
		r->statements.interval_end_us = r->report.collected_at_us;
		r->statements.statements = r->delta_pointers;
		r->report.statements = &r->statements;
	}
	assert_true(r->statements.n_statements < MAX_DELTAS);
	d = &r->deltas[r->statements.n_statements];
	pgfleet__v1__statement_delta__init(d);
	d->queryid = queryid;
	d->dbid = strcmp(datname, "app") == 0 ? 16384 : 16385;
	d->datname = (char *) datname;
	d->userid = 10;
	d->username = (char *) "web";
	d->toplevel = true;
	d->calls = n;
	d->min_exec_time_ms = first;
	for (int64_t i = 0; i < n; i++) {
		double t = first + step * (double) i;
		d->total_exec_time_ms += t;
		d->sum_sq_exec_time_ms2 += t * t;
		if (t > d->max_exec_time_ms)
			d->max_exec_time_ms = t;
	}
	d->rows = n * 3;
	d->shared_blks_hit = 7 * n;
	if (text != NULL) {
		d->query.data = (uint8_t *) text;
		d->query.len = strlen(text);
	}
	r->delta_pointers[r->statements.n_statements++] = d;
	return d;
}

static void
add_activity(struct test_report *r, int64_t total, const char *app)
{
	Pgfleet__V1__ActivityFamily *a = &r->activity;

	pgfleet__v1__activity_family__init(a);
	a->max_connections = 100;
	a->superuser_reserved_connections = 3;
	a->total_connections = total;
	a->active = 2;
	a->idle = total - 3;
	a->idle_in_transaction_count = 1;
	a->waiting = 1;
	a->invisible_backends = 0;
	for (int i = 0; i < 2; i++) {
		Pgfleet__V1__ConnectionGroup *g = &r->groups[i];
		pgfleet__v1__connection_group__init(g);
		g->database = (char *) (i == 0 ? "app" : "other");
		g->user = (char *) "web";
		g->application_name = (char *) app;
		g->client_addr = (char *) "10.1.0.9";
		g->state = (char *) (i == 0 ? "active" : "idle");
		g->count = 5 - i;
		g->waiting = i;
		/* not a sum: any double must come back exactly */
		g->max_state_age_seconds = 0.1 + i / 3.0;
		r->group_pointers[i] = g;
	}
	a->connections = r->group_pointers;
	a->n_connections = 2;
	for (int i = 0; i < 2; i++) {
		Pgfleet__V1__Backend *b = &r->sessions[i];
		pgfleet__v1__backend__init(b);
		b->pid = 4000 + i;
		b->database = (char *) "app";
		b->user = (char *) "web";
		b->application_name = (char *) app;
		b->client_addr = (char *) "10.1.0.9";
		b->state = (char *) (i == 0 ? "active" : "idle in transaction");
		b->backend_type = (char *) "client backend";
		b->backend_start_us = r->report.collected_at_us - 3600 * SECOND;
		b->xact_start_us = r->report.collected_at_us - 120 * SECOND - i;
		b->query_start_us = r->report.collected_at_us - 90 * SECOND;
		b->state_change_us = r->report.collected_at_us - 60 * SECOND;
		b->query_age_seconds = 90.000001;
		b->xact_age_seconds = 120.7 + i;
		b->state_age_seconds = 60.3;
		b->query.data = (uint8_t *) (i == 0 ? "SELECT pg_sleep($1)" : "UPDATE t SET \xff = 1");
		b->query.len = strlen((const char *) b->query.data);
	}
	r->long_running[0] = &r->sessions[0];
	r->idle_in_transaction[0] = &r->sessions[1];
	a->long_running = r->long_running;
	a->n_long_running = 1;
	a->idle_in_transaction = r->idle_in_transaction;
	a->n_idle_in_transaction = 1;
	pgfleet__v1__blocking_pair__init(&r->blocking);
	r->blocking.blocked_pid = 4000;
	r->blocking.blocking_pid = 4001;
	r->blocking.blocked_query.data = (uint8_t *) "UPDATE t SET x = 2";
	r->blocking.blocked_query.len = 18;
	r->blocking.blocking_query.data = (uint8_t *) "UPDATE t SET x = 1";
	r->blocking.blocking_query.len = 18;
	r->blocking.blocked_seconds = 12.25;
	r->blocking.blocking_state = (char *) "idle in transaction";
	r->blocking.locked_relation = (char *) "public.t";
	r->blocking.lock_mode = (char *) "RowExclusiveLock";
	r->blocking_pointers[0] = &r->blocking;
	a->blocking = r->blocking_pointers;
	a->n_blocking = 1;
	r->report.activity = a;
}

/* A primary's replication: one walsender on a slot. */
static void
add_walsender(struct test_report *r, const char *app, const char *slot, int64_t lag_bytes,
    double lag_seconds)
{
	Pgfleet__V1__ReplicationFamily *f = &r->replication;

	pgfleet__v1__replication_family__init(f);
	f->timeline_id = 1;
	f->current_wal_lsn = 0x3000060ULL;
	pgfleet__v1__replica_connection__init(&r->replica);
	r->replica.pid = 5000;
	r->replica.user = (char *) "replicator";
	r->replica.application_name = (char *) app;
	r->replica.client_addr = (char *) "10.0.0.2";
	r->replica.state = (char *) "streaming";
	r->replica.sync_state = (char *) "async";
	r->replica.sent_lsn = 0x3000060ULL;
	r->replica.write_lsn = 0x3000060ULL;
	r->replica.flush_lsn = 0x3000060ULL;
	r->replica.replay_lsn = 0x1A3000000ULL;
	r->replica.replay_lag_bytes = lag_bytes;
	r->replica.write_lag_seconds = 0.001;
	r->replica.flush_lag_seconds = 0.002;
	r->replica.replay_lag_seconds = lag_seconds;
	r->replica.backend_start_us = r->report.collected_at_us - 600 * SECOND;
	r->replica.slot_name = (char *) slot;
	r->replica_pointers[0] = &r->replica;
	f->replicas = r->replica_pointers;
	f->n_replicas = 1;
	pgfleet__v1__replication_slot__init(&r->slot);
	r->slot.slot_name = (char *) slot;
	r->slot.slot_type = (char *) "physical";
	r->slot.active = true;
	r->slot.active_pid = 5000;
	r->slot.restart_lsn = 0x3000000ULL;
	r->slot.retained_bytes = 96;
	r->slot.wal_status = (char *) "reserved";
	r->slot_pointers[0] = &r->slot;
	f->slots = r->slot_pointers;
	f->n_slots = 1;
	r->report.replication = f;
}

/* A standby's replication: its own view of its upstream. */
static void
add_standby(struct test_report *r, const char *upstream_host, const char *slot,
    int64_t lag_bytes, double delay_seconds, bool paused)
{
	Pgfleet__V1__ReplicationFamily *f = &r->replication;

	pgfleet__v1__replication_family__init(f);
	f->timeline_id = 1;
	pgfleet__v1__standby_status__init(&r->standby);
	r->standby.receiver_status = (char *) "streaming";
	r->standby.receive_lsn = 0x3000060ULL;
	r->standby.replay_lsn = 0x3000000ULL;
	r->standby.replay_lag_bytes = lag_bytes;
	r->standby.replay_delay_seconds = delay_seconds;
	r->standby.replay_paused = paused;
	r->standby.upstream_host = (char *) upstream_host;
	r->standby.upstream_port = 5432;
	r->standby.slot_name = (char *) slot;
	r->standby.last_msg_receipt_us = r->report.collected_at_us - SECOND;
	r->standby.last_replay_us = r->report.collected_at_us - 2 * SECOND;
	f->standby = &r->standby;
	r->report.replication = f;
}

/* Tables, indexes and bloat: three tables in two databases whose
 * counters grow with k (the report's number), so each snapshot differs. */
static void
add_tables(struct test_report *r, int64_t k)
{
	static const char *const databases[] = {"app", "app", "other"};
	static const char *const tables[] = {"orders", "carts", "audit"};
	static const char *const indexes[] = {"orders_pkey", "carts_user_idx", "audit_ts_idx"};

	pgfleet__v1__tables_family__init(&r->tables);
	pgfleet__v1__indexes_family__init(&r->indexes);
	pgfleet__v1__bloat_family__init(&r->bloat);
	for (int i = 0; i < 3; i++) {
		Pgfleet__V1__TableStat *t = &r->table_rows[i];
		Pgfleet__V1__IndexStat *x = &r->index_rows[i];
		pgfleet__v1__table_stat__init(t);
		t->database = (char *) databases[i];
		t->schema = (char *) "public";
		t->table = (char *) tables[i];
		t->relid = 16400 + (uint32_t) i;
		t->table_bytes = 8192 * (10 + 5 * i + k);
		t->indexes_bytes = 8192 * (2 + i);
		t->total_bytes = t->table_bytes + t->indexes_bytes;
		t->n_live_tup = 1000 * (i + 1) + k;
		t->n_dead_tup = 37 * (3 - i) * k;
		t->seq_scan = 3 * k + i;
		t->seq_tup_read = 300 * k;
		t->idx_scan = i == 2 ? 0 : 50 * k;
		t->n_tup_ins = 11 * k;
		t->n_tup_upd = 7 * k;
		t->n_tup_hot_upd = 5 * k;
		t->n_tup_del = k;
		t->last_vacuum_us = i == 0 ? r->report.collected_at_us - 3600 * SECOND : 0;
		t->last_autovacuum_us = r->report.collected_at_us - 600 * SECOND * (i + 1);
		t->reltuples = 1000.5 * (i + 1);
		t->autovacuum_enabled = i != 1;
		t->autovacuum_vacuum_threshold = 50;
		t->autovacuum_vacuum_scale_factor = 0.2;
		t->autovacuum_vacuum_trigger = 50 + 0.2 * (double) t->n_live_tup;
		r->table_pointers[i] = t;
		pgfleet__v1__index_stat__init(x);
		x->database = (char *) databases[i];
		x->schema = (char *) "public";
		x->table = (char *) tables[i];
		x->index = (char *) indexes[i];
		x->indexrelid = 16500 + (uint32_t) i;
		x->idx_scan = i == 2 ? 0 : 40 * k + i;
		x->idx_tup_read = 90 * k;
		x->size_bytes = 8192 * (4 - i);
		x->definition = (char *) (i == 0 ? "CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)"
						 : "CREATE INDEX x ON t USING btree (c)");
		x->access_method = (char *) "btree";
		x->is_unique = i == 0;
		x->is_primary = i == 0;
		x->is_valid = true;
		x->constraint_type = (char *) (i == 0 ? "p" : "");
		r->index_pointers[i] = x;
	}
	r->tables.tables = r->table_pointers;
	r->tables.n_tables = 3;
	r->indexes.indexes = r->index_pointers;
	r->indexes.n_indexes = 3;
	for (int i = 0; i < 2; i++) {
		Pgfleet__V1__BloatEstimate *e = &r->estimates[i];
		pgfleet__v1__bloat_estimate__init(e);
		e->database = (char *) databases[i];
		e->schema = (char *) "public";
		e->table = (char *) tables[i];
		e->index = (char *) "";
		e->real_bytes = 8192 * (10 + k);
		e->expected_bytes = 8192 * 8;
		e->bloat_bytes = e->real_bytes - e->expected_bytes;
		e->bloat_ratio = (double) e->bloat_bytes / (double) e->real_bytes;
		e->is_estimate_unreliable = i == 1;
		r->estimate_pointers[i] = e;
	}
	r->bloat.estimates = r->estimate_pointers;
	r->bloat.n_estimates = 2;
	r->report.tables = &r->tables;
	r->report.indexes = &r->indexes;
	/* bloat on its own cadence: every other report */
	if (k % 2 == 1)
		r->report.bloat = &r->bloat;
}

/* Writes r into both stores at received_at_us; the duplicate flags agree. */
static void
write_both(struct fixture *f, struct test_report *r, int64_t received_at_us,
    bool expect_duplicate)
{
	char errbuf[512];
	bool dup_lite = !expect_duplicate, dup_pg = !expect_duplicate;

	r->report.sent_at_us = received_at_us - 2 * SECOND;
	if (store_write_report(f->lite, &r->report, received_at_us, &dup_lite, errbuf,
		sizeof(errbuf)) != PGF_OK)
		fail_msg("sqlite: %s", errbuf);
	if (store_write_report(f->pg, &r->report, received_at_us, &dup_pg, errbuf,
		sizeof(errbuf)) != PGF_OK)
		fail_msg("postgresql: %s", errbuf);
	assert_int_equal(dup_lite, expect_duplicate);
	assert_int_equal(dup_pg, expect_duplicate);
}

static void
batch(struct fixture *f, bool begin)
{
	char errbuf[512];
	int rv_lite = begin ? store_batch_begin(f->lite, errbuf, sizeof(errbuf))
			    : store_batch_end(f->lite, true, errbuf, sizeof(errbuf));
	assert_int_equal(rv_lite, PGF_OK);
	if ((begin ? store_batch_begin(f->pg, errbuf, sizeof(errbuf))
		   : store_batch_end(f->pg, true, errbuf, sizeof(errbuf))) != PGF_OK)
		fail_msg("postgresql batch: %s", errbuf);
}

/* The fleet the tests ask about; times are relative to f->now_us. */
static void
write_fleet(struct fixture *f)
{
	struct test_report r;
	int64_t now = f->now_us;
	const int P = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	const int R = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA;

	/* a batch: the cluster 7001's first reports */
	batch(f, true);
	for (uint64_t seq = 1; seq <= 3; seq++) {
		int64_t at = now - (int64_t) (40 - 10 * seq) * MINUTE;
		init_report(&r, "c1-primary", "7001", "db1", P, "agent-a", seq, at);
		add_statement(&r, 101, "app", 4 + (int64_t) seq, 10.25, 0.5,
		    "SELECT * FROM orders WHERE id = $1");
		add_statement(&r, 102, "app", 2, 250.0 + (double) seq, 0.25, "UPDATE orders SET paid = $1");
		add_statement(&r, 103, "other", 30, 0.75, 0.0, seq == 1 ? "SELECT 1" : NULL);
		/* invalid UTF-8 and a NUL byte: stored as U+FFFD by both */
		{
			static const char bad[] = "SELECT '\xc3\x28' || \x00'x'";
			Pgfleet__V1__StatementDelta *d =
			    add_statement(&r, 104, "app", 1, 1000.5, 0.0, NULL);
			d->query.data = (uint8_t *) bad;
			d->query.len = sizeof(bad) - 1;
		}
		add_activity(&r, 12 + (int64_t) seq, "shop");
		add_walsender(&r, "c1-replica", "slot_r1", 100 * (int64_t) seq, 0.1 * (double) seq);
		add_tables(&r, (int64_t) seq);
		write_both(f, &r, at + SECOND, false);

		init_report(&r, "c1-replica", "7001", "db2", R, "agent-b", seq, at + SECOND);
		add_statement(&r, 101, "app", 3, 11.0, 0.25, "SELECT * FROM orders WHERE id = $1");
		add_statement(&r, 201, "app", 1, 5000.0, 0.0, "SELECT count(*) FROM orders");
		add_activity(&r, 4, "report");
		add_standby(&r, "db1", "slot_r1", 2048 * (int64_t) seq, 1.5, seq == 3);
		write_both(f, &r, at + 2 * SECOND, false);
	}
	batch(f, false);

	/* alone: a gap (seq 4 and 5 missing), then seq 4 late, then a
	 * duplicate of seq 2 */
	init_report(&r, "c1-primary", "7001", "db1", P, "agent-a", 6, now - 5 * MINUTE);
	add_statement(&r, 101, "app", 1, 99.75, 0.0, NULL);
	r.report.dropped_reports = 2;
	add_walsender(&r, "c1-replica", "slot_r1", 512, 1.0 / 3.0);
	write_both(f, &r, now - 5 * MINUTE + SECOND, false);
	init_report(&r, "c1-primary", "7001", "db1", P, "agent-a", 4, now - 8 * MINUTE);
	add_statement(&r, 105, "app", 7, 3.5, 1.0, "DELETE FROM carts WHERE age > $1");
	write_both(f, &r, now - 4 * MINUTE, false);
	init_report(&r, "c1-primary", "7001", "db1", P, "agent-a", 2, now - 20 * MINUTE);
	write_both(f, &r, now - 3 * MINUTE, true);

	/* cluster 7002: a replica promoted (a role change), its statements
	 * sharing texts with cluster 7001 (the fleet grouping adds them) */
	init_report(&r, "c2-lone", "7002", "db3", R, "agent-c", 1, now - 50 * MINUTE);
	add_statement(&r, 301, "app", 2, 40.5, 1.0, "SELECT * FROM orders WHERE id = $1");
	write_both(f, &r, now - 50 * MINUTE + SECOND, false);
	init_report(&r, "c2-lone", "7002", "db3", P, "agent-c", 2, now - 2 * MINUTE);
	add_statement(&r, 301, "app", 6, 20.25, 0.5, "SELECT * FROM orders WHERE id = $1");
	add_statement(&r, 302, "app", 9, 2.0, 0.25, "SELECT count(*) FROM orders");
	add_statement(&r, 303, "other", 1, 7.5, 0.0, NULL);
	add_tables(&r, 5);
	write_both(f, &r, now - 2 * MINUTE + SECOND, false);
	/* and then unreachable: status down, identity kept */
	init_report(&r, "c2-lone", "7002", "", 0, "agent-c", 3, now - MINUTE);
	r.report.unreachable_reason = (char *) "connection refused";
	write_both(f, &r, now - MINUTE + SECOND, false);

	/* an instance last heard of two hours ago: stale */
	init_report(&r, "c3-old", "7003", "db4", P, "agent-d", 1, now - 120 * MINUTE);
	add_statement(&r, 401, "app", 3, 8.0, 2.0, "VACUUM t");
	write_both(f, &r, now - 120 * MINUTE + SECOND, false);
}

/* ---- comparing answers ------------------------------------------------- */

/* Sorts the comma-separated names of s in place (their order is not
 * defined: SQLite joins them in the order it reads rows). */
static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
sort_names(char *s)
{
	char *copy = strdup(s);
	char *parts[64];
	size_t n = 0;
	char *save = NULL;

	assert_non_null(copy);
	for (char *p = strtok_r(copy, ",", &save); p != NULL && n < 64;
	     p = strtok_r(NULL, ",", &save))
		parts[n++] = p;
	qsort(parts, n, sizeof(parts[0]), compare_strings);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, parts[i]);
	}
	free(copy);
}

static void
print_json(const char *label, const ProtobufCMessage *m)
{
	json_t *json = pgf_render_json(m);
	char *text = json != NULL ? json_dumps(json, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) : NULL;

	print_error("%s: %s\n", label, text != NULL ? text : "(out of memory)");
	free(text);
	json_decref(json);
}

/* The two answers' JSON, line by line where they differ (diff -u). */
static void
show_diff(const ProtobufCMessage *lite, const ProtobufCMessage *pg)
{
	const ProtobufCMessage *m[2] = {lite, pg};
	char paths[2][64];

	for (int i = 0; i < 2; i++) {
		json_t *json = pgf_render_json(m[i]);
		snprintf(paths[i], sizeof(paths[i]), "/tmp/test_store_pg.%d.%s.json", (int) getpid(),
		    i == 0 ? "sqlite" : "postgresql");
		if (json != NULL)
			json_dump_file(json, paths[i], JSON_INDENT(1) | JSON_REAL_PRECISION(17));
		json_decref(json);
	}
	{
		char command[512];
		snprintf(command, sizeof(command), "diff -u %s %s >&2; rm -f %s %s", paths[0],
		    paths[1], paths[0], paths[1]);
		if (system(command) == -1)
			print_error("could not run diff\n");
	}
}

/* Packs both answers and compares the bytes. */
static void
assert_same(const char *what, const ProtobufCMessage *lite, const ProtobufCMessage *pg)
{
	size_t n_lite = protobuf_c_message_get_packed_size(lite);
	size_t n_pg = protobuf_c_message_get_packed_size(pg);
	uint8_t *a = malloc(n_lite + 1);
	uint8_t *b = malloc(n_pg + 1);

	assert_non_null(a);
	assert_non_null(b);
	protobuf_c_message_pack(lite, a);
	protobuf_c_message_pack(pg, b);
	if (n_lite != n_pg || memcmp(a, b, n_lite) != 0) {
		print_json("sqlite", lite);
		print_json("postgresql", pg);
		show_diff(lite, pg);
		free(a);
		free(b);
		fail_msg("%s: the stores answer differently", what);
	}
	free(a);
	free(b);
}

/* Asks one listing op of both stores and compares; rows_out = count, an
 * expression of the SQLite answer lite_ (so a test can say its question
 * was not empty). */
#define ASK_BOTH(f, op, ANSWER, init, request, what, rows_out, count)                      \
	ASK_BOTH_FIX(f, op, ANSWER, init, request, what, rows_out, count, NULL)
#define ASK_BOTH_FIX(f, op, ANSWER, init, request, what, rows_out, count, fixup)           \
	do {                                                                               \
		ANSWER *lite_ = malloc(sizeof(*lite_));                                    \
		ANSWER *pg_ = malloc(sizeof(*pg_));                                        \
		char errbuf_[512];                                                         \
		assert_non_null(lite_);                                                    \
		assert_non_null(pg_);                                                      \
		init(lite_);                                                               \
		init(pg_);                                                                 \
		if ((f)->lite->ops->op((f)->lite, (request), lite_, errbuf_,               \
			sizeof(errbuf_)) != PGF_OK)                                        \
			fail_msg("sqlite %s: %s", what, errbuf_);                          \
		if ((f)->pg->ops->op((f)->pg, (request), pg_, errbuf_, sizeof(errbuf_)) != \
		    PGF_OK)                                                                \
			fail_msg("postgresql %s: %s", what, errbuf_);                      \
		if ((fixup) != NULL) {                                                     \
			void (*fix_)(ProtobufCMessage *) = (fixup);                        \
			fix_(&lite_->base);                                                \
			fix_(&pg_->base);                                                  \
		}                                                                          \
		assert_same(what, &lite_->base, &pg_->base);                               \
		rows_out = (count);                                                        \
		store_answer_free(&lite_->base);                                           \
		store_answer_free(&pg_->base);                                             \
	} while (0)

/* ---- tests ------------------------------------------------------------- */

/* The fleet rows' family statuses (store_sqlite_families.c) are not kept
 * by the PostgreSQL store yet: left out of the comparison. */
static void
drop_families(ProtobufCMessage *message)
{
	Pgfleet__V1__Fleet *fleet = (Pgfleet__V1__Fleet *) message;

	for (size_t i = 0; i < fleet->n_rows; i++) {
		Pgfleet__V1__FleetInstance *row = fleet->rows[i];
		for (size_t j = 0; j < row->n_families; j++)
			protobuf_c_message_free_unpacked(&row->families[j]->base, NULL);
		free(row->families);
		row->families = NULL;
		row->n_families = 0;
	}
}

static void
test_fleet(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__Scope scopes[4];
	Pgfleet__V1__FleetRequest request = PGFLEET__V1__FLEET_REQUEST__INIT;
	static const size_t expected[] = {4, 1, 2, 0};
	size_t rows = 0;

	for (int i = 0; i < 4; i++)
		pgfleet__v1__scope__init(&scopes[i]);
	scopes[1].instance = (char *) "c1-replica";
	scopes[2].cluster = (char *) "7001";
	scopes[3].instance = (char *) "nobody";
	for (int i = 0; i < 4; i++) {
		char what[64];
		request.scope = &scopes[i];
		request.limit = 0;
		snprintf(what, sizeof(what), "fleet scope %d", i);
		ASK_BOTH_FIX(f, fleet, Pgfleet__V1__Fleet, pgfleet__v1__fleet__init, &request,
		    what, rows, lite_->n_rows, drop_families);
		assert_int_equal(rows, expected[i]);
	}
	{
		/* what the reports caused, in the PostgreSQL store's answer */
		Pgfleet__V1__Fleet *answer = malloc(sizeof(*answer));
		char errbuf[512];
		assert_non_null(answer);
		pgfleet__v1__fleet__init(answer);
		request.scope = NULL;
		if (f->pg->ops->fleet(f->pg, &request, answer, errbuf, sizeof(errbuf)) != PGF_OK)
			fail_msg("%s", errbuf);
		assert_int_equal(answer->n_rows, 4);
		/* c1-primary: seq 5 never came, 2 dropped, the clock 2 s off */
		assert_string_equal(answer->rows[0]->instance, "c1-primary");
		assert_string_equal(answer->rows[0]->status, "ok");
		assert_int_equal(answer->rows[0]->missing_reports, 1);
		assert_int_equal(answer->rows[0]->dropped_reports, 2);
		assert_true(answer->rows[0]->clock_skew_seconds == -2.0);
		/* its standby streams from it, paused in its newest report */
		assert_string_equal(answer->rows[1]->instance, "c1-replica");
		assert_string_equal(answer->rows[1]->upstream, "c1-primary");
		assert_true(answer->rows[1]->replay_paused);
		/* the walsender's view of the lag (the newest report's) */
		assert_true(answer->rows[1]->replay_lag_seconds == 1.0 / 3.0);
		/* promoted, then unreachable */
		assert_string_equal(answer->rows[2]->instance, "c2-lone");
		assert_string_equal(answer->rows[2]->role, "primary");
		assert_string_equal(answer->rows[2]->status, "down");
		assert_true(answer->rows[2]->role_changed_us == f->now_us - 2 * MINUTE);
		assert_string_equal(answer->rows[3]->status, "stale");
		store_answer_free(&answer->base);
	}
	request.scope = NULL;
	request.limit = 2;
	ASK_BOTH_FIX(f, fleet, Pgfleet__V1__Fleet, pgfleet__v1__fleet__init, &request,
	    "fleet limit", rows, lite_->n_rows, drop_families);
	assert_int_equal(rows, 2);
}

static void
test_activity_replication(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__Scope scopes[3];
	Pgfleet__V1__ActivityRequest activity = PGFLEET__V1__ACTIVITY_REQUEST__INIT;
	Pgfleet__V1__ReplicationRequest replication = PGFLEET__V1__REPLICATION_REQUEST__INIT;
	/* instances, connections, long running, idle in transaction and
	 * blocking: the database scope filters connections and sessions */
	static const size_t expected[] = {2 + 4 + 2 + 2 + 2, 2 + 2 + 0 + 0 + 2, 2 + 4 + 2 + 2 + 2};
	size_t rows = 0;

	for (int i = 0; i < 3; i++)
		pgfleet__v1__scope__init(&scopes[i]);
	scopes[1].database = (char *) "other";
	scopes[2].cluster = (char *) "7001";
	for (int i = 0; i < 3; i++) {
		char what[64];
		activity.scope = &scopes[i];
		replication.scope = &scopes[i];
		snprintf(what, sizeof(what), "activity scope %d", i);
		ASK_BOTH(f, activity, Pgfleet__V1__Activity, pgfleet__v1__activity__init, &activity,
		    what, rows,
		    lite_->n_instances + lite_->n_connections + lite_->n_long_running +
			lite_->n_idle_in_transaction + lite_->n_blocking);
		/* every list has rows (the database scope filters some) */
		assert_int_equal(rows, expected[i]);
		snprintf(what, sizeof(what), "replication scope %d", i);
		ASK_BOTH(f, replication, Pgfleet__V1__Replication, pgfleet__v1__replication__init,
		    &replication, what, rows, lite_->n_rows);
		/* walsender, standby, slot of cluster 7001 */
		assert_int_equal(rows, 3);
	}
	for (int i = 0; i < 3; i++) {
		/* the standby's lag over the last hour, in buckets */
		Pgfleet__V1__ReplicationTrendRequest trend =
		    PGFLEET__V1__REPLICATION_TREND_REQUEST__INIT;
		Pgfleet__V1__Scope window = PGFLEET__V1__SCOPE__INIT;
		char what[64];
		window.since_us = f->now_us - 3600 * SECOND;
		window.until_us = f->now_us;
		window.instance = (char *) (i == 1 ? "c1-replica" : "");
		window.cluster = (char *) (i == 2 ? "7002" : "");
		trend.scope = &window;
		trend.bucket_ms = i == 0 ? 0 : 600000;
		snprintf(what, sizeof(what), "replication-trend %d", i);
		ASK_BOTH(f, replication_trend, Pgfleet__V1__ReplicationTrend,
		    pgfleet__v1__replication_trend__init, &trend, what, rows, lite_->n_rows);
		/* c1-replica's reports of 30, 20 and 10 minutes ago, and the
		 * walsender's view 5 minutes ago; none in cluster 7002 */
		if (i < 2)
			assert_true(rows >= 3);
		else
			assert_int_equal(rows, 0);
	}
	activity.scope = NULL;
	activity.limit = 1;
	ASK_BOTH(f, activity, Pgfleet__V1__Activity, pgfleet__v1__activity__init, &activity,
	    "activity limit", rows, lite_->n_instances);
	assert_int_equal(rows, 1);
}

static void
test_slow_queries(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__Scope scopes[5];
	int asked = 0, nonempty = 0;

	for (int i = 0; i < 5; i++)
		pgfleet__v1__scope__init(&scopes[i]);
	scopes[1].instance = (char *) "c1-primary";
	scopes[2].database = (char *) "app";
	/* a window cutting the history: the reports of 25..6 minutes ago */
	scopes[3].since_us = f->now_us - 25 * MINUTE;
	scopes[3].until_us = f->now_us - 6 * MINUTE;
	scopes[4].cluster = (char *) "7002";
	for (int group = 0; group < 3; group++)
		for (int order = 0; order < 3; order++)
			for (int s = 0; s < 5; s++)
				for (int variant = 0; variant < 3; variant++) {
					Pgfleet__V1__SlowQueriesRequest request =
					    PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
					Pgfleet__V1__SlowQueries lite = PGFLEET__V1__SLOW_QUERIES__INIT;
					Pgfleet__V1__SlowQueries pg = PGFLEET__V1__SLOW_QUERIES__INIT;
					char errbuf[512];
					char what[96];

					request.scope = &scopes[s];
					request.group = group;
					request.order = order;
					request.limit = variant == 1 ? 2 : 0;
					request.min_duration_ms = variant == 2 ? 20.0 : 0.0;
					snprintf(what, sizeof(what),
					    "slow-queries group %d order %d scope %d variant %d", group,
					    order, s, variant);
					if (store_slow_queries(f->lite, &request, &lite, errbuf,
						sizeof(errbuf)) != PGF_OK)
						fail_msg("sqlite %s: %s", what, errbuf);
					if (store_slow_queries(f->pg, &request, &pg, errbuf,
						sizeof(errbuf)) != PGF_OK)
						fail_msg("postgresql %s: %s", what, errbuf);
					for (size_t i = 0; i < lite.n_rows; i++) {
						sort_names(lite.rows[i]->instance);
						sort_names(lite.rows[i]->cluster);
					}
					for (size_t i = 0; i < pg.n_rows; i++) {
						sort_names(pg.rows[i]->instance);
						sort_names(pg.rows[i]->cluster);
					}
					assert_same(what, &lite.base, &pg.base);
					asked++;
					nonempty += lite.n_rows > 0;
					store_slow_queries_fini(&lite);
					store_slow_queries_fini(&pg);
				}
	{
		/* fleet-wide by fingerprint: "SELECT * FROM orders WHERE id = $1"
		 * ran on three instances of two clusters: 5+6+7+1 calls on
		 * c1-primary (101; the 99.75 ms one came without its text but
		 * has it from before), 3x3 on c1-replica, 2+6 on c2-lone (301) */
		Pgfleet__V1__SlowQueriesRequest request = PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
		Pgfleet__V1__SlowQueries pg = PGFLEET__V1__SLOW_QUERIES__INIT;
		char errbuf[512];
		bool found = false;
		request.group = PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET;
		request.limit = 100;
		assert_int_equal(store_slow_queries(f->pg, &request, &pg, errbuf, sizeof(errbuf)),
		    PGF_OK);
		for (size_t i = 0; i < pg.n_rows; i++) {
			if (strcmp(pg.rows[i]->query, "SELECT * FROM orders WHERE id = $1") != 0)
				continue;
			found = true;
			assert_int_equal(pg.rows[i]->calls, 5 + 6 + 7 + 1 + 3 * 3 + 2 + 6);
			assert_int_equal(pg.rows[i]->instances, 3);
			sort_names(pg.rows[i]->cluster);
			assert_string_equal(pg.rows[i]->cluster, "7001,7002");
		}
		assert_true(found);
		store_slow_queries_fini(&pg);
	}
	/* the questions found statements (not two empty answers) */
	assert_true(nonempty > asked * 3 / 4);
}

static void
test_query_trend(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__QueryTrendRequest request = PGFLEET__V1__QUERY_TREND_REQUEST__INIT;
	const int64_t queryids[] = {101, 301, 999};
	size_t rows = 0;

	scope.since_us = f->now_us - 3 * 3600 * SECOND;
	scope.until_us = f->now_us;
	request.scope = &scope;
	for (size_t q = 0; q < 3; q++)
		for (int width = 0; width < 2; width++) {
			char what[64];
			request.queryid = queryids[q];
			request.bucket_ms = width == 0 ? 0 : 600000;
			snprintf(what, sizeof(what), "query-trend %lld bucket %lld",
			    (long long) request.queryid, (long long) request.bucket_ms);
			ASK_BOTH(f, query_trend, Pgfleet__V1__QueryTrend,
			    pgfleet__v1__query_trend__init, &request, what, rows, lite_->n_rows);
			assert_true(rows > 0);
		}
	/* too many buckets: the same refusal */
	{
		Pgfleet__V1__QueryTrend lite = PGFLEET__V1__QUERY_TREND__INIT;
		Pgfleet__V1__QueryTrend pg = PGFLEET__V1__QUERY_TREND__INIT;
		char e1[512], e2[512];
		request.bucket_ms = 1;
		assert_int_equal(f->lite->ops->query_trend(f->lite, &request, &lite, e1, sizeof(e1)),
		    PGF_EINVAL);
		assert_int_equal(f->pg->ops->query_trend(f->pg, &request, &pg, e2, sizeof(e2)),
		    PGF_EINVAL);
		assert_string_equal(e1, e2);
	}
}

static void
test_texts(void **state)
{
	struct fixture *f = *state;
	struct test_report r;
	int64_t *lite = NULL, *pg = NULL;
	size_t n_lite = 0, n_pg = 0;
	char errbuf[512];
	const struct {
		const char *instance;
		int64_t queryid;
	} asks[] = {{"c1-primary", 101}, {"c1-primary", 104}, {"c2-lone", 302},
	    {"c1-primary", 999}, {"nobody", 101}};

	/* 101 and 103 have texts on c1-primary, 303 is on another
	 * instance, 777 nowhere */
	init_report(&r, "c1-primary", "7001", "db1", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY,
	    "agent-a", 99, f->now_us);
	add_statement(&r, 101, "app", 1, 1.0, 0.0, NULL);
	add_statement(&r, 103, "other", 1, 1.0, 0.0, NULL);
	add_statement(&r, 303, "app", 1, 1.0, 0.0, NULL);
	add_statement(&r, 777, "app", 1, 1.0, 0.0, NULL);
	add_statement(&r, 777, "other", 1, 1.0, 0.0, NULL);
	add_statement(&r, 105, "app", 1, 1.0, 0.0, "with its text");
	assert_int_equal(store_missing_texts(f->lite, &r.report, &lite, &n_lite, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	if (store_missing_texts(f->pg, &r.report, &pg, &n_pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("postgresql: %s", errbuf);
	assert_int_equal(n_lite, 2);
	assert_int_equal(n_pg, n_lite);
	/* both ascending: SQLite groups by the queryid */
	for (size_t i = 0; i < n_lite; i++)
		assert_int_equal(pg[i], lite[i]);
	assert_int_equal(lite[0], 303);
	assert_int_equal(lite[1], 777);
	free(lite);
	free(pg);

	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		char *t1 = NULL, *t2 = NULL, *d1 = NULL, *d2 = NULL;
		bool c1 = false, c2 = false;
		int rv1;
		errbuf[0] = '\0';
		rv1 = store_statement_text(f->lite, asks[i].instance, asks[i].queryid, &t1, &c1,
		    &d1, errbuf, sizeof(errbuf));
		char e1[512];
		int rv2;
		snprintf(e1, sizeof(e1), "%s", errbuf);
		rv2 = store_statement_text(f->pg, asks[i].instance, asks[i].queryid, &t2, &c2, &d2,
		    errbuf, sizeof(errbuf));
		assert_int_equal(rv1, rv2);
		if (rv1 == PGF_OK) {
			assert_string_equal(t1, t2);
			assert_string_equal(d1, d2);
			assert_int_equal(c1, c2);
		} else {
			assert_int_equal(rv1, PGF_ENOTFOUND);
			assert_string_equal(e1, errbuf);
		}
		free(t1);
		free(t2);
		free(d1);
		free(d2);
	}
}

static void
test_schema(void **state)
{
	struct fixture *f = *state;
	struct store *again = NULL;
	char errbuf[512];
	PGconn *conn;
	PGresult *res;

	(void) f;
	/* a second writer finds the schema in place; a reader opens */
	if (store_open(conninfo(), false, &again, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("reopen: %s", errbuf);
	store_close(again);
	if (store_open(conninfo(), true, &again, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("reader: %s", errbuf);
	{
		/* the reader answers, and cannot write */
		Pgfleet__V1__FleetRequest request = PGFLEET__V1__FLEET_REQUEST__INIT;
		Pgfleet__V1__Fleet *answer = malloc(sizeof(*answer));
		bool duplicate = false;
		struct test_report r;
		assert_non_null(answer);
		pgfleet__v1__fleet__init(answer);
		assert_int_equal(again->ops->fleet(again, &request, answer, errbuf, sizeof(errbuf)),
		    PGF_OK);
		assert_int_equal(answer->n_rows, 4);
		store_answer_free(&answer->base);
		init_report(&r, "x", "1", "h", 0, "agent-x", 1, f->now_us);
		assert_int_equal(store_write_report(again, &r.report, f->now_us, &duplicate, errbuf,
				     sizeof(errbuf)),
		    PGF_ESTORE);
		assert_non_null(strstr(errbuf, "read-only"));
	}
	store_close(again);

	conn = PQconnectdb(conninfo());
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	res = PQexec(conn, "SELECT max(version) FROM schema_version");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(atoi(PQgetvalue(res, 0, 0)), store_pg_schema_version());
	PQclear(res);
	/* one copy of each table: the migration ran once */
	res = PQexec(conn, "SELECT count(*) FROM rollup_state");
	assert_string_equal(PQgetvalue(res, 0, 0), "3");
	PQclear(res);
	res = PQexec(conn, "UPDATE schema_version SET version = version + 1");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(store_open(conninfo(), false, &again, errbuf, sizeof(errbuf)), PGF_ESTORE);
	assert_non_null(strstr(errbuf, "newer than this collector's"));
	/* never the conninfo (a password may be in it) */
	assert_null(strstr(errbuf, "postgresql://"));
	assert_int_equal(store_open(conninfo(), true, &again, errbuf, sizeof(errbuf)), PGF_ESTORE);
	res = PQexec(conn, "UPDATE schema_version SET version = version - 1");
	PQclear(res);
	PQfinish(conn);

	/* nothing listens there: one line, unavailable */
	assert_int_equal(store_open("postgresql://127.0.0.1:1/x?connect_timeout=2", false, &again,
			     errbuf, sizeof(errbuf)),
	    PGF_EUNAVAILABLE);
	assert_null(strchr(errbuf, '\n'));
}

static void
test_not_yet(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__PoolStatsRequest request = PGFLEET__V1__POOL_STATS_REQUEST__INIT;
	Pgfleet__V1__PoolStats *answer = malloc(sizeof(*answer));
	struct store_retention retention = {0, 0, 0};
	bool more = true;
	char errbuf[512];

	assert_non_null(answer);
	pgfleet__v1__pool_stats__init(answer);
	assert_int_equal(f->pg->ops->pool_stats(f->pg, &request, answer, errbuf, sizeof(errbuf)),
	    PGF_EINVAL);
	assert_string_equal(errbuf, "the postgresql store does not answer pool-stats yet");
	store_answer_free(&answer->base);
	assert_int_equal(store_maintain(f->pg, f->now_us, &retention, &more, errbuf, sizeof(errbuf)),
	    PGF_EINVAL);
	assert_false(more);
	assert_non_null(strstr(errbuf, "does not answer maintain"));
}

static void
test_tables(void **state)
{
	struct fixture *f = *state;
	Pgfleet__V1__Scope scopes[5];
	size_t rows = 0;

	for (int i = 0; i < 5; i++)
		pgfleet__v1__scope__init(&scopes[i]);
	scopes[1].database = (char *) "app";
	scopes[2].instance = (char *) "c1-primary";
	/* a window holding c1-primary's first two snapshots only */
	scopes[3].since_us = f->now_us - 35 * MINUTE;
	scopes[3].until_us = f->now_us - 15 * MINUTE;
	scopes[4].cluster = (char *) "7002";
	for (int s = 0; s < 5; s++)
		for (int limit = 0; limit < 2; limit++) {
			Pgfleet__V1__TableStatsRequest tables = PGFLEET__V1__TABLE_STATS_REQUEST__INIT;
			Pgfleet__V1__IndexUsageRequest indexes = PGFLEET__V1__INDEX_USAGE_REQUEST__INIT;
			Pgfleet__V1__BloatStatsRequest bloat = PGFLEET__V1__BLOAT_STATS_REQUEST__INIT;
			char what[64];

			tables.scope = indexes.scope = bloat.scope = &scopes[s];
			tables.limit = indexes.limit = bloat.limit = limit == 0 ? 0 : 2;
			snprintf(what, sizeof(what), "table-stats scope %d limit %d", s, limit);
			ASK_BOTH(f, table_stats, Pgfleet__V1__TableStats,
			    pgfleet__v1__table_stats__init, &tables, what, rows, lite_->n_rows);
			assert_true(rows > 0);
			snprintf(what, sizeof(what), "index-usage scope %d limit %d", s, limit);
			ASK_BOTH(f, index_usage, Pgfleet__V1__IndexUsage,
			    pgfleet__v1__index_usage__init, &indexes, what, rows, lite_->n_rows);
			assert_true(rows > 0);
			snprintf(what, sizeof(what), "bloat-stats scope %d limit %d", s, limit);
			ASK_BOTH(f, bloat_stats, Pgfleet__V1__BloatStats,
			    pgfleet__v1__bloat_stats__init, &bloat, what, rows, lite_->n_rows);
			assert_true(rows > 0);
		}
	{
		/* table-trend: the answers, and the refusals, alike */
		static const struct {
			const char *instance, *schema, *table;
			int64_t bucket_ms;
			int rv;
		} asks[] = {
			{"c1-primary", "", "orders", 0, PGF_OK},
			{"c1-primary", "public", "carts", 600000, PGF_OK},
			{"c2-lone", "", "audit", 60000, PGF_OK},
			{"", "", "orders", 0, PGF_EINVAL},	   /* on two instances */
			{"c1-primary", "", "nothing", 0, PGF_ENOTFOUND},
			{"c1-primary", "", "", 0, PGF_EINVAL},
			{"c1-primary", "", "orders", 1, PGF_EINVAL}, /* too many buckets */
		};
		for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
			Pgfleet__V1__TableTrendRequest request = PGFLEET__V1__TABLE_TREND_REQUEST__INIT;
			Pgfleet__V1__Scope window = PGFLEET__V1__SCOPE__INIT;
			Pgfleet__V1__TableTrend *lite = malloc(sizeof(*lite));
			Pgfleet__V1__TableTrend *pg = malloc(sizeof(*pg));
			char e1[512] = "", e2[512] = "";
			char what[64];
			int rv1, rv2;

			assert_non_null(lite);
			assert_non_null(pg);
			pgfleet__v1__table_trend__init(lite);
			pgfleet__v1__table_trend__init(pg);
			window.since_us = f->now_us - 3600 * SECOND;
			window.until_us = f->now_us;
			window.instance = (char *) asks[i].instance;
			request.scope = &window;
			request.schema = (char *) asks[i].schema;
			request.table = (char *) asks[i].table;
			request.bucket_ms = asks[i].bucket_ms;
			rv1 = f->lite->ops->table_trend(f->lite, &request, lite, e1, sizeof(e1));
			rv2 = f->pg->ops->table_trend(f->pg, &request, pg, e2, sizeof(e2));
			snprintf(what, sizeof(what), "table-trend %zu", i);
			if (rv1 != asks[i].rv || rv2 != asks[i].rv)
				fail_msg("%s: %d (%s) and %d (%s), expected %d", what, rv1, e1, rv2, e2,
				    asks[i].rv);
			if (rv1 == PGF_OK) {
				assert_true(lite->n_rows > 0);
				assert_same(what, &lite->base, &pg->base);
			} else {
				assert_string_equal(e1, e2);
			}
			store_answer_free(&lite->base);
			store_answer_free(&pg->base);
		}
	}
	{
		/* the newest snapshot of c1-primary is its third report's:
		 * orders has 1000 + 3 live tuples and 37 * 3 * 3 dead; the
		 * newest bloat estimate is the third report's too (bloat
		 * comes with every other report: the first and the third) */
		Pgfleet__V1__BloatStatsRequest bloat = PGFLEET__V1__BLOAT_STATS_REQUEST__INIT;
		Pgfleet__V1__BloatStats *answer = malloc(sizeof(*answer));
		char errbuf[512];
		bool seen = false;
		assert_non_null(answer);
		pgfleet__v1__bloat_stats__init(answer);
		bloat.scope = &scopes[2];
		if (f->pg->ops->bloat_stats(f->pg, &bloat, answer, errbuf, sizeof(errbuf)) != PGF_OK)
			fail_msg("%s", errbuf);
		for (size_t i = 0; i < answer->n_rows; i++) {
			if (strcmp(answer->rows[i]->table, "orders") != 0)
				continue;
			seen = true;
			assert_int_equal(answer->rows[i]->live_tuples, 1003);
			assert_int_equal(answer->rows[i]->dead_tuples, 37 * 3 * 3);
			/* the third report's bloat (k = 3: odd) */
			assert_int_equal(answer->rows[i]->estimated_bloat_bytes, 8192 * 5);
		}
		assert_true(seen);
		store_answer_free(&answer->base);
	}
}

/* Runs sql on the test database (its own connection); the result's
 * first value, malloc'd. */
static char *
sql_value(const char *sql)
{
	PGconn *conn = PQconnectdb(conninfo());
	PGresult *res;
	char *value;

	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	value = strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	PQfinish(conn);
	return value;
}

/* Inside a batch a failing report is undone alone (its savepoint) and
 * the batch goes on; the report can be sent again. The failure is made
 * with a constraint the test adds (last test: it changes the store). */
static void
test_batch_failure(void **state)
{
	struct fixture *f = *state;
	struct test_report r;
	char errbuf[512];
	bool duplicate = false;
	char *value;

	free(sql_value("ALTER TABLE statement_stats ADD CONSTRAINT test_no_666 CHECK (queryid <> 666)"));
	assert_int_equal(store_batch_begin(f->pg, errbuf, sizeof(errbuf)), PGF_OK);
	for (uint64_t seq = 1; seq <= 3; seq++) {
		init_report(&r, "c9-batch", "7009", "db9", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY,
		    "agent-z", seq, f->now_us - (int64_t) (10 - seq) * MINUTE);
		/* many statements: the failing one is in the middle of a
		 * pipelined family */
		for (int64_t q = 0; q < 7; q++)
			add_statement(&r, seq == 2 && q == 3 ? 666 : 600 + q, "app", 1, 1.0, 0.0, "SELECT 6");
		if (seq == 2) {
			assert_int_equal(store_write_report(f->pg, &r.report, f->now_us, &duplicate,
					     errbuf, sizeof(errbuf)),
			    PGF_ESTORE);
			assert_non_null(strstr(errbuf, "test_no_666"));
			assert_null(strchr(errbuf, '\n'));
		} else if (store_write_report(f->pg, &r.report, f->now_us, &duplicate, errbuf,
			       sizeof(errbuf)) != PGF_OK) {
			fail_msg("seq %d: %s", (int) seq, errbuf);
		}
	}
	if (store_batch_end(f->pg, true, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("batch end: %s", errbuf);
	value = sql_value("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM reports r"
			  " JOIN instances i USING (instance_id) WHERE i.name = 'c9-batch'");
	assert_string_equal(value, "1,3");
	free(value);
	value = sql_value("SELECT count(*) FROM statement_stats s JOIN instances i USING (instance_id)"
			  " WHERE i.name = 'c9-batch'");
	assert_string_equal(value, "14");
	free(value);
	/* sent again without the constraint: stored, not a duplicate */
	free(sql_value("ALTER TABLE statement_stats DROP CONSTRAINT test_no_666"));
	init_report(&r, "c9-batch", "7009", "db9", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY,
	    "agent-z", 2, f->now_us - 8 * MINUTE);
	add_statement(&r, 666, "app", 1, 1.0, 0.0, "SELECT 6");
	assert_int_equal(store_write_report(f->pg, &r.report, f->now_us, &duplicate, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	assert_false(duplicate);
	/* and seq 2 is no longer missing */
	value = sql_value("SELECT count(*) FROM report_gaps g JOIN instances i USING (instance_id)"
			  " WHERE i.name = 'c9-batch'");
	assert_string_equal(value, "0");
	free(value);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char errbuf[512];

	if (f == NULL)
		return -1;
	if (!store_pg_spec(conninfo())) {
		fprintf(stderr,
		    "test_store_pg: set PGFLEET_TEST_PG to the postgresql:// conninfo of an empty database (tests/e2e/store_pg_compare.sh does)\n");
		free(f);
		return -1;
	}
	if (temp_store_setup(&f->sqlite_state) != 0) {
		free(f);
		return -1;
	}
	f->lite = ((struct temp_store *) f->sqlite_state)->store;
	if (store_open(conninfo(), false, &f->pg, errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "test_store_pg: %s\n", errbuf);
		temp_store_teardown(&f->sqlite_state);
		free(f);
		return -1;
	}
	/* a whole minute: report times land on minutes */
	f->now_us = pgf_time_now_us() / MINUTE * MINUTE;
	*state = f;
	write_fleet(f);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0; /* the setup failed and said why */
	store_close(f->pg);
	temp_store_teardown(&f->sqlite_state);
	free(f);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fleet),
		cmocka_unit_test(test_activity_replication),
		cmocka_unit_test(test_slow_queries),
		cmocka_unit_test(test_query_trend),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_texts),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_not_yet),
		cmocka_unit_test(test_batch_failure),
	};

	pgf_log_init("test_store_pg", PGF_LOG_WARNING);
	return cmocka_run_group_tests(tests, setup, teardown);
}
