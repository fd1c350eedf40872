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
 * created once and reopened, a newer schema is refused, and a reader
 * handle opens.
 * Index recommendations and index checks have a fleet of their own in
 * their own pair of stores (test_indexes).
 * So do pools, settings, family statuses and regressions (test_pools).
 * And the advice (vacuum, replication health, checklist, through
 * api_answer) and /metrics (test_advice, which also compares /metrics of
 * the shared fleet before and after a rollup).
 * And slow-queries pruned by the totals' bounds over a month of rolled-up
 * history (test_slow_pruning: the pruned way equals the plain way, and
 * the SQLite store's answer).
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
#include <sqlite3.h>

#include "collector/advice.h"
#include "collector/api.h"
#include "collector/store.h"
#include "collector/store_pg.h"
#include "collector/store_pg_internal.h"
#include "common/log.h"
#include "common/render.h"
#include "common/timeutil.h"
#include "tests/support/slow_history.h"
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
	/* the third's names need quoting and escaping in an array literal
	 * (the PostgreSQL store sends a family as one array per column) */
	static const char *const tables[] = {"orders", "carts", "Audit \"log\", {x} \\"};
	static const char *const indexes[] = {"orders_pkey", "carts_user_idx", "audit \"ts\" idx"};

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
	/* names an array literal must quote and escape (the PostgreSQL store
	 * sends a family's rows as one array per column), and invalid UTF-8 */
	add_statement(&r, 106, "we\"ird, {db} \\x NULL", 2, 4.5, 0.5, "SELECT 106")->username =
	    (char *) "u\"s,er \xff";
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
		/* with each row's family statuses */
		ASK_BOTH(f, fleet, Pgfleet__V1__Fleet, pgfleet__v1__fleet__init, &request, what,
		    rows, lite_->n_rows);
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
	ASK_BOTH(f, fleet, Pgfleet__V1__Fleet, pgfleet__v1__fleet__init, &request,
	    "fleet limit", rows, lite_->n_rows);
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

/* Asks slow-queries of both stores and compares the answers (the
 * instance and cluster names of a row sorted first); true when it found
 * statements. */
static bool
ask_slow_both(struct fixture *f, const Pgfleet__V1__SlowQueriesRequest *request,
    const char *what)
{
	Pgfleet__V1__SlowQueries lite = PGFLEET__V1__SLOW_QUERIES__INIT;
	Pgfleet__V1__SlowQueries pg = PGFLEET__V1__SLOW_QUERIES__INIT;
	Pgfleet__V1__SlowQueries *answers[2] = {&lite, &pg};
	char errbuf[512];
	bool found;

	if (store_slow_queries(f->lite, request, &lite, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("sqlite %s: %s", what, errbuf);
	if (store_slow_queries(f->pg, request, &pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("postgresql %s: %s", what, errbuf);
	for (int a = 0; a < 2; a++)
		for (size_t i = 0; i < answers[a]->n_rows; i++) {
			sort_names(answers[a]->rows[i]->instance);
			sort_names(answers[a]->rows[i]->cluster);
		}
	assert_same(what, &lite.base, &pg.base);
	found = lite.n_rows > 0;
	store_slow_queries_fini(&lite);
	store_slow_queries_fini(&pg);
	return found;
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
					char what[96];

					request.scope = &scopes[s];
					request.group = group;
					request.order = order;
					request.limit = variant == 1 ? 2 : 0;
					request.min_duration_ms = variant == 2 ? 20.0 : 0.0;
					snprintf(what, sizeof(what),
					    "slow-queries group %d order %d scope %d variant %d", group,
					    order, s, variant);
					asked++;
					nonempty += ask_slow_both(f, &request, what);
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
			{"c2-lone", "", "Audit \"log\", {x} \\", 60000, PGF_OK},
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
/* How many statements the store's own session has prepared (the view is
 * per session: asked through the store's connection). */
static long
prepared_count(struct store *store)
{
	PGresult *res = PQexec(((struct store_pg *) store)->conn,
	    "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgf\\_%'");
	long n;

	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

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
	/* the write path's statements are prepared on the store's own
	 * connection, once: another report adds none */
	long before = prepared_count(f->pg);
	assert_true(before > 0);
	init_report(&r, "c9-batch", "7009", "db9", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY,
	    "agent-z", 4, f->now_us - 6 * MINUTE);
	add_statement(&r, 601, "app", 1, 1.0, 0.0, "SELECT 6");
	assert_int_equal(store_write_report(f->pg, &r.report, f->now_us, &duplicate, errbuf,
			     sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(prepared_count(f->pg), before);
}

/* ---- rollups and retention (store_pg_rollup.c) ------------------------- */

/*
 * A week of history of three instances (a report every 100 minutes
 * each, at minutes that cross hour and day boundaries; statements,
 * tables, activity, lag) go into a fresh SQLite store and a fresh
 * PostgreSQL store (its own schema, so the shared fixture stays as it
 * is). Maintenance runs on both until it has no work left, late reports
 * arrive for an hour rolled up to the daily level and one rolled up to
 * the hourly level only, the rest of the history follows, and maintenance
 * runs again with retention removing the oldest days. After each round
 * slow-queries (every grouping and order, windows up to 30 days), the
 * query trends (instance, cluster, fleet) and the number of rows at each
 * level must be the same in both stores, and the calls still answered
 * must be exactly those of the days retention keeps, late reports
 * counted once.
 */
#define ROLLUP_HOUR (60 * MINUTE)
#define ROLLUP_DAY (24 * ROLLUP_HOUR)
/* the history's end: a whole day, fixed (maintenance is given its "now") */
#define ROLLUP_END (1790000000LL * SECOND - 1790000000LL * SECOND % ROLLUP_DAY)
#define ROLLUP_START (ROLLUP_END - 7 * ROLLUP_DAY)
#define ROLLUP_STEP (100 * MINUTE)
#define ROLLUP_SCHEMA "pgroll_test"

static const struct {
	const char *name, *cluster, *host, *agent;
	int role;
	int64_t queryid;
} rollup_instances[] = {
	{"r1-primary", "8001", "rh1", "agent-r1", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY, 901},
	{"r1-replica", "8001", "rh2", "agent-r2", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA, 901},
	{"r2-lone", "8002", "rh3", "agent-r3", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY, 951},
};
#define ROLLUP_INSTANCES 3

struct rollup_history {
	struct fixture f; /* lite and pg: the stores of this test only */
	const char *lite_path;
	/* every report written: its time and calls */
	int64_t ts[1024];
	int64_t calls[1024];
	size_t n;
};

/* Writes one report of instance i (its k-th, or a late one: seq) at ts. */
static void
rollup_report(struct rollup_history *h, int i, int64_t k, uint64_t seq, int64_t ts)
{
	struct test_report r;
	int64_t calls = 1 + (k * 7 + i * 3) % 11;

	init_report(&r, rollup_instances[i].name, rollup_instances[i].cluster,
	    rollup_instances[i].host, rollup_instances[i].role, rollup_instances[i].agent, seq, ts);
	/* one text on every instance: the fleet grouping adds the clusters */
	add_statement(&r, rollup_instances[i].queryid, "app", calls, 2.25 + (double) (k % 5), 0.5,
	    "SELECT * FROM items WHERE id = $1");
	add_statement(&r, 902, "app", 2, 40.0 + (double) (k % 3), 0.25,
	    k % 10 == 0 ? "UPDATE items SET n = n + 1" : NULL);
	add_statement(&r, 903, "other", 1, 7.5 + (double) (k % 4), 0.0, k == 0 ? "SELECT 1" : NULL);
	/* bloat comes with odd k: every other snapshot */
	if (i == 0 && k % 3 == 1)
		add_tables(&r, k);
	if (k % 3 == 0) {
		add_activity(&r, 10 + k % 7, "shop");
		if (i == 0)
			add_walsender(&r, "r1-replica", "slot_r", 10 * k, 0.25);
		else if (i == 1)
			add_standby(&r, "rh1", "slot_r", 20 * k, 0.5, false);
	}
	write_both(&h->f, &r, ts + SECOND, false);
	assert_true(h->n < sizeof(h->ts) / sizeof(h->ts[0]));
	h->ts[h->n] = ts;
	h->calls[h->n++] = calls + 2 + 1;
}

/* The regular reports with times in [from, to), a batch a day. */
static void
rollup_write(struct rollup_history *h, int64_t from, int64_t to)
{
	int64_t batch_day = -1;

	for (int64_t k = 0; ROLLUP_START + k * ROLLUP_STEP < to; k++)
		for (int i = 0; i < ROLLUP_INSTANCES; i++) {
			int64_t ts = ROLLUP_START + k * ROLLUP_STEP + 7 * MINUTE * i;
			if (ts < from || ts >= to)
				continue;
			if (ts / ROLLUP_DAY != batch_day) {
				if (batch_day >= 0)
					batch(&h->f, false);
				batch(&h->f, true);
				batch_day = ts / ROLLUP_DAY;
			}
			rollup_report(h, i, k, (uint64_t) k + 1, ts);
		}
	if (batch_day >= 0)
		batch(&h->f, false);
}

/* Maintenance as of now on both stores until neither has work left. */
static void
rollup_maintain(struct rollup_history *h, int64_t now)
{
	struct store_retention retention = {ROLLUP_DAY, 2 * ROLLUP_DAY, 5 * ROLLUP_DAY};
	struct store *stores[2] = {h->f.lite, h->f.pg};
	char errbuf[512];

	for (int s = 0; s < 2; s++) {
		bool more = true;
		int steps = 0;
		while (more) {
			if (store_maintain(stores[s], now, &retention, &more, errbuf, sizeof(errbuf)) !=
			    PGF_OK)
				fail_msg("%s maintain: %s", s == 0 ? "sqlite" : "postgresql", errbuf);
			assert_true(++steps < 1000);
		}
		/* bounded steps: a day of raw rows each */
		assert_true(steps > 1);
	}
}

static int64_t
lite_value(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int64_t n;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

static int64_t
pg_value(const char *sql)
{
	char *value = sql_value(sql);
	int64_t n = strtoll(value, NULL, 10);

	free(value);
	return n;
}

/* The rows at each level and the watermarks: the same in both stores;
 * every level holds rows (none was emptied by mistake). */
static void
rollup_compare_levels(struct rollup_history *h)
{
	static const char *const tables[] = {"statement_stats", "statement_stats_hourly",
	    "statement_stats_daily", "statement_fleet_hourly", "statement_fleet_daily",
	    "statement_totals", "table_stats", "index_stats", "bloat_estimates",
	    "activity_history", "replica_lag_history", "standby_lag_history"};
	static const char *const marks[] = {"hourly", "daily", "thinned"};
	char sql[256];

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		int64_t lite, pg;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[t]);
		lite = lite_value(h->lite_path, sql);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM " ROLLUP_SCHEMA ".%s", tables[t]);
		pg = pg_value(sql);
		if (lite != pg)
			fail_msg("%s: %lld rows in sqlite, %lld in postgresql", tables[t],
			    (long long) lite, (long long) pg);
		if (lite == 0)
			fail_msg("%s: no rows left", tables[t]);
	}
	for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
		int64_t lite, pg;
		snprintf(sql, sizeof(sql), "SELECT until_us FROM rollup_state WHERE name = '%s'",
		    marks[m]);
		lite = lite_value(h->lite_path, sql);
		snprintf(sql, sizeof(sql),
		    "SELECT until_us FROM " ROLLUP_SCHEMA ".rollup_state WHERE name = '%s'", marks[m]);
		pg = pg_value(sql);
		assert_int_equal(lite, pg);
		assert_true(lite > ROLLUP_START);
	}
}

/* Slow-queries and query trends as of now: the same answers. */
static void
rollup_compare_answers(struct rollup_history *h, int64_t now)
{
	const struct {
		int64_t since, until;
	} windows[] = {{0, 0}, {now - 30 * ROLLUP_DAY, now}, {now - ROLLUP_DAY, now},
	    {now - 6 * ROLLUP_HOUR, now}, {now - 84 * ROLLUP_HOUR, now - 30 * ROLLUP_HOUR}};
	const size_t n_windows = sizeof(windows) / sizeof(windows[0]);
	static const int64_t queryids[] = {901, 951, 903};
	Pgfleet__V1__Scope scopes[4];
	size_t rows = 0;
	int nonempty = 0;

	for (int s = 0; s < 4; s++)
		pgfleet__v1__scope__init(&scopes[s]);
	scopes[1].instance = (char *) "r1-primary";
	scopes[2].cluster = (char *) "8001";
	scopes[3].database = (char *) "app";
	for (int s = 0; s < 4; s++)
		for (size_t w = 0; w < n_windows; w++)
			for (int group = 0; group < 3; group++) {
					/* every order, over the scopes and windows */
					int order = (s + (int) w + group) % 3;
					Pgfleet__V1__SlowQueriesRequest request =
					    PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
					char what[96];

					scopes[s].since_us = windows[w].since;
					scopes[s].until_us = windows[w].until;
					request.scope = &scopes[s];
					request.group = group;
					request.order = order;
					snprintf(what, sizeof(what),
					    "rollup slow-queries scope %d window %zu group %d order %d", s,
					    w, group, order);
					nonempty += ask_slow_both(&h->f, &request, what);
				}
	/* every window holds history */
	assert_int_equal(nonempty, 4 * (int) n_windows * 3);
	for (int s = 0; s < 4; s++)
		for (size_t q = 0; q < sizeof(queryids) / sizeof(queryids[0]); q++)
			for (int width = 0; width < 3; width++) {
				Pgfleet__V1__QueryTrendRequest request =
				    PGFLEET__V1__QUERY_TREND_REQUEST__INIT;
				char what[96];
				/* 30 days in days, 2 days in 2 hours, 2 days in hours */
				scopes[s].since_us = now - (width == 0 ? 30 : 2) * ROLLUP_DAY;
				scopes[s].until_us = now;
				request.scope = &scopes[s];
				request.queryid = queryids[q];
				request.bucket_ms = width == 2 ? 3600000 : 0;
				snprintf(what, sizeof(what), "rollup query-trend scope %d query %lld width %d",
				    s, (long long) queryids[q], width);
				ASK_BOTH(&h->f, query_trend, Pgfleet__V1__QueryTrend,
				    pgfleet__v1__query_trend__init, &request, what, rows, lite_->n_rows);
				assert_true(rows > 0);
			}
}

/* The calls every instance made in the reports kept after maintenance as
 * of now: the daily level drops whole days older than the daily
 * retention, nothing else is lost. The PostgreSQL store's answer. */
static void
rollup_check_kept(struct rollup_history *h, int64_t now)
{
	int64_t cutoff = now - 5 * ROLLUP_DAY;
	int64_t kept_since = cutoff % ROLLUP_DAY == 0 ? cutoff : cutoff - cutoff % ROLLUP_DAY + ROLLUP_DAY;
	int64_t expected = 0, answered = 0, dropped = 0;
	Pgfleet__V1__SlowQueriesRequest request = PGFLEET__V1__SLOW_QUERIES_REQUEST__INIT;
	Pgfleet__V1__SlowQueries pg = PGFLEET__V1__SLOW_QUERIES__INIT;
	char errbuf[512];

	for (size_t i = 0; i < h->n; i++) {
		if (h->ts[i] >= kept_since)
			expected += h->calls[i];
		else
			dropped += h->calls[i];
	}
	request.group = PGFLEET__V1__SLOW_QUERIES_REQUEST__GROUP__GROUP_FLEET;
	request.limit = 100;
	if (store_slow_queries(h->f.pg, &request, &pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("postgresql: %s", errbuf);
	for (size_t i = 0; i < pg.n_rows; i++)
		answered += pg.rows[i]->calls;
	store_slow_queries_fini(&pg);
	assert_int_equal(answered, expected);
	/* retention did remove the oldest days */
	assert_true(dropped > 0);
}

static void
test_rollups(void **state)
{
	struct rollup_history *h = calloc(1, sizeof(*h));
	void *lite_state = NULL;
	char spec[512];
	char errbuf[512];
	/* the first round: the hourly level ahead of the daily one */
	int64_t t1 = ROLLUP_END - ROLLUP_DAY + 5 * ROLLUP_HOUR + 30 * MINUTE;
	int64_t t2 = ROLLUP_END + ROLLUP_HOUR;

	(void) state;
	assert_non_null(h);
	free(sql_value("SET client_min_messages = warning;"
		       " DROP SCHEMA IF EXISTS " ROLLUP_SCHEMA " CASCADE;"
		       " CREATE SCHEMA " ROLLUP_SCHEMA));
	snprintf(spec, sizeof(spec), "%s%soptions=-csearch_path%%3D" ROLLUP_SCHEMA, conninfo(),
	    strchr(conninfo(), '?') != NULL ? "&" : "?");
	assert_int_equal(temp_store_setup(&lite_state), 0);
	h->f.lite = ((struct temp_store *) lite_state)->store;
	h->lite_path = ((struct temp_store *) lite_state)->path;
	if (store_open(spec, false, &h->f.pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	h->f.now_us = ROLLUP_END;

	rollup_write(h, ROLLUP_START, t1);
	rollup_maintain(h, t1);
	rollup_compare_levels(h);
	rollup_compare_answers(h, t1);
	rollup_check_kept(h, t1);
	assert_true(pg_value("SELECT until_us FROM " ROLLUP_SCHEMA ".rollup_state WHERE name = 'hourly'") ==
	    ROLLUP_END - ROLLUP_DAY + 5 * ROLLUP_HOUR);
	assert_true(pg_value("SELECT until_us FROM " ROLLUP_SCHEMA ".rollup_state WHERE name = 'daily'") ==
	    ROLLUP_END - ROLLUP_DAY);

	/* late: a report for an hour rolled up to the daily level, one for
	 * an hour rolled up to the hourly level only */
	rollup_report(h, 0, 3, 5000, ROLLUP_END - 3 * ROLLUP_DAY + 17 * MINUTE);
	rollup_report(h, 2, 4, 5000, ROLLUP_END - ROLLUP_DAY + 2 * ROLLUP_HOUR + 5 * MINUTE);
	rollup_compare_levels(h);
	rollup_compare_answers(h, t1);
	rollup_check_kept(h, t1);

	rollup_write(h, t1, ROLLUP_END + 30 * MINUTE);
	rollup_maintain(h, t2);
	rollup_compare_levels(h);
	rollup_compare_answers(h, t2);
	rollup_check_kept(h, t2);

	store_close(h->f.pg);
	temp_store_teardown(&lite_state);
	free(sql_value("SET client_min_messages = warning; DROP SCHEMA " ROLLUP_SCHEMA " CASCADE"));
	free(h);
}

/* ---- index recommendations and index checks ---------------------------- */

/*
 * Their own pair of stores (a SQLite file and the PostgreSQL schema
 * pgidx_test), so that the fleet above keeps its counts and these
 * answers hold only what this test wrote: cluster 7100, a primary and two
 * replicas, and a lone primary in cluster 7200. Database "shop":
 *   events     64 MiB, read by sequential scans (high priority), its
 *              statements filter on kind, on user_id (partial: archived_at
 *              IS NULL), and an UPDATE on session_id
 *   orders     16 MiB, sequential scans (medium), filtered on customer_id,
 *              whose foreign key has no index; status has an index that
 *              a wider one makes redundant
 *   customers  tiny; a unique constraint's index never scanned (kept), a
 *              duplicate pair
 * events_old_idx is scanned on ix-replica1 only (kept), events_unused_idx
 * nowhere, events_broken_idx is invalid. ix-replica2's statistics were
 * reset at -40 minutes: a window holding the reset knows no scan count
 * of it, so nothing is unused there. Snapshots at -55, -45 ... -5 minutes
 * (the primary also at -2); hypopg verdicts in a late report at -70.
 */
#define IX_TABLES 3
#define IX_INDEXES 12
#define IX_SCHEMA "pgidx_test"

struct ix_report {
	struct test_report base; /* identity and statements */
	Pgfleet__V1__TableStat table_rows[IX_TABLES];
	Pgfleet__V1__TableStat *table_pointers[IX_TABLES];
	Pgfleet__V1__DatabaseStatsReset reset;
	Pgfleet__V1__DatabaseStatsReset *reset_pointers[1];
	Pgfleet__V1__IndexStat index_rows[IX_INDEXES];
	Pgfleet__V1__IndexStat *index_pointers[IX_INDEXES];
	Pgfleet__V1__ForeignKey keys[2];
	Pgfleet__V1__ForeignKey *key_pointers[2];
	Pgfleet__V1__IndexChecksFamily checks;
	Pgfleet__V1__IndexCheckResult results[2];
	Pgfleet__V1__IndexCheckResult *result_pointers[2];
};

/* The report of instance (0 primary, 1 and 2 replicas of 7100, 3 the
 * lone 7200) at snapshot k (1...), collected at at_us. */
static void
ix_snapshot(struct ix_report *r, int instance, uint64_t seq, int64_t k, int64_t at_us,
    int64_t now_us)
{
	static const char *const names[] = {"ix-primary", "ix-replica1", "ix-replica2", "ix-other"};
	static const char *const tables[IX_TABLES] = {"events", "orders", "customers"};
	static const struct {
		int table;
		const char *name;
		const char *columns[2];
		const char *constraint_type;
		bool is_valid;
		int64_t scans_per_snapshot[3]; /* primary, replica1, replica2 */
	} indexes[IX_INDEXES] = {
		{0, "events_pkey", {"id"}, "p", true, {30, 20, 10}},
		{0, "events_old_idx", {"old_ref"}, "", true, {0, 7, 0}},
		{0, "events_unused_idx", {"note"}, "", true, {0, 0, 0}},
		{0, "events_broken_idx", {"payload"}, "", false, {0, 0, 0}},
		{0, "events_order_idx", {"order_id"}, "", true, {4, 3, 2}},
		{1, "orders_pkey", {"id"}, "p", true, {9, 9, 9}},
		{1, "orders_status_idx", {"status"}, "", true, {5, 1, 0}},
		{1, "orders_status_created_idx", {"status", "created_at"}, "", true, {2, 2, 2}},
		{2, "customers_pkey", {"id"}, "p", true, {8, 8, 8}},
		{2, "customers_email_key", {"email"}, "u", true, {0, 0, 0}},
		{2, "customers_name_idx", {"name"}, "", true, {6, 0, 0}},
		{2, "customers_name_idx2", {"name"}, "", true, {0, 0, 0}},
	};
	const int P = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	const int R = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA;
	/* counters restart at ix-replica2's reset (between snapshots 2 and 3) */
	int64_t n = instance == 2 && k >= 3 ? k - 2 : k;
	int row = instance == 3 ? 0 : instance;
	size_t n_indexes = instance == 3 ? 1 : IX_INDEXES;

	memset(r, 0, sizeof(*r));
	init_report(&r->base, names[instance], instance == 3 ? "7200" : "7100",
	    instance == 0 ? "ixdb1" : "ixdb2", instance == 0 || instance == 3 ? P : R,
	    names[instance], seq, at_us);
	pgfleet__v1__tables_family__init(&r->base.tables);
	for (int i = 0; i < IX_TABLES; i++) {
		Pgfleet__V1__TableStat *t = &r->table_rows[i];
		/* events on the primary and ix-replica1, orders on the primary */
		static const int64_t scans[IX_TABLES][4] = {{40, 10, 0, 0}, {20, 0, 0, 0}, {3, 3, 0, 0}};
		static const int64_t tuples_per_scan[IX_TABLES] = {300000, 100000, 2000};
		static const int64_t bytes[IX_TABLES] = {64 << 20, 16 << 20, 512 << 10};
		pgfleet__v1__table_stat__init(t);
		t->database = (char *) "shop";
		t->schema = (char *) "public";
		t->table = (char *) tables[i];
		t->relid = 17000 + (uint32_t) i;
		t->table_bytes = bytes[i];
		t->total_bytes = bytes[i] * 2;
		t->n_live_tup = bytes[i] / 32;
		t->seq_scan = scans[i][instance] * n;
		t->seq_tup_read = t->seq_scan * tuples_per_scan[i];
		t->idx_scan = (5 - i) * n;
		r->table_pointers[i] = t;
	}
	r->base.tables.tables = r->table_pointers;
	r->base.tables.n_tables = instance == 3 ? 1 : IX_TABLES;
	pgfleet__v1__database_stats_reset__init(&r->reset);
	r->reset.database = (char *) "shop";
	r->reset.stats_reset_us = instance == 2 && k >= 3 ? now_us - 40 * MINUTE
							  : now_us - 10 * 24 * 60 * MINUTE;
	r->reset_pointers[0] = &r->reset;
	r->base.tables.databases = r->reset_pointers;
	r->base.tables.n_databases = 1;
	r->base.report.tables = &r->base.tables;

	pgfleet__v1__indexes_family__init(&r->base.indexes);
	for (size_t i = 0; i < n_indexes; i++) {
		Pgfleet__V1__IndexStat *x = &r->index_rows[i];
		pgfleet__v1__index_stat__init(x);
		x->database = (char *) "shop";
		x->schema = (char *) "public";
		x->table = (char *) tables[indexes[i].table];
		x->index = (char *) (instance == 3 ? "other_unused_idx" : indexes[i].name);
		x->indexrelid = 18000 + (uint32_t) i;
		x->idx_scan = instance == 3 ? 0 : indexes[i].scans_per_snapshot[row] * n;
		x->size_bytes = (int64_t) (i + 1) << 20;
		x->definition = (char *) "CREATE INDEX ... (as pg_get_indexdef says)";
		x->access_method = (char *) "btree";
		x->columns = (char **) indexes[i].columns;
		x->n_columns = indexes[i].columns[1] != NULL ? 2 : 1;
		/* the lone primary's one index backs nothing */
		x->constraint_type = (char *) (instance == 3 ? "" : indexes[i].constraint_type);
		x->is_unique = x->constraint_type[0] != '\0';
		x->is_primary = x->constraint_type[0] == 'p';
		x->is_valid = indexes[i].is_valid;
		r->index_pointers[i] = x;
	}
	r->base.indexes.indexes = r->index_pointers;
	r->base.indexes.n_indexes = n_indexes;
	for (int i = 0; i < 2 && instance != 3; i++) {
		static char *const fk_columns[2][1] = {{(char *) "customer_id"}, {(char *) "order_id"}};
		Pgfleet__V1__ForeignKey *key = &r->keys[i];
		pgfleet__v1__foreign_key__init(key);
		key->database = (char *) "shop";
		key->schema = (char *) "public";
		key->table = (char *) (i == 0 ? "orders" : "events");
		key->name = (char *) (i == 0 ? "orders_customer_id_fkey" : "events_order_id_fkey");
		key->columns = (char **) fk_columns[i];
		key->n_columns = 1;
		key->referenced_table = (char *) (i == 0 ? "public.customers" : "public.orders");
		r->key_pointers[i] = key;
	}
	r->base.indexes.foreign_keys = r->key_pointers;
	r->base.indexes.n_foreign_keys = instance == 3 ? 0 : 2;
	r->base.report.indexes = &r->base.indexes;

	/* statements whose totals all differ (no tie to order) */
	if (instance == 0) {
		add_statement(&r->base, 9001, "shop", 40, 120.25, 0.5,
		    "SELECT * FROM events WHERE kind = $1");
		add_statement(&r->base, 9002, "shop", 20, 80.5, 0.25,
		    "SELECT id, note FROM events WHERE user_id = $1 AND archived_at IS NULL ORDER BY created_at");
		add_statement(&r->base, 9003, "shop", 10, 60.75, 0.0,
		    "UPDATE events SET seen = $1 WHERE session_id = $2");
		add_statement(&r->base, 9004, "shop", 30, 40.25, 0.5,
		    "SELECT * FROM orders WHERE customer_id = $1");
		add_statement(&r->base, 9005, "shop", 5, 20.5, 0.0,
		    "SELECT * FROM orders WHERE status = $1");
	} else if (instance == 1) {
		add_statement(&r->base, 9001, "shop", 15, 110.5, 0.25,
		    "SELECT * FROM events WHERE kind = $1");
	}
}

/* Writes r into both stores, then asks both for the proposals an agent
 * would be sent in the Ack (as ingest does) and compares them; the
 * SQLite store's are left in lite_checks (freed by ix_free_checks). */
static void
ix_write(struct fixture *s, struct ix_report *r, Pgfleet__V1__IndexCheckRequest ***lite_checks,
    size_t *n_lite)
{
	Pgfleet__V1__IndexCheckRequest **pg_checks = NULL;
	size_t n_pg = 0;
	char errbuf[512];
	bool dup_lite = true, dup_pg = true;

	r->base.report.sent_at_us = r->base.report.collected_at_us;
	if (store_write_report(s->lite, &r->base.report, r->base.report.collected_at_us, &dup_lite,
		errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("sqlite: %s", errbuf);
	if (store_write_report(s->pg, &r->base.report, r->base.report.collected_at_us, &dup_pg,
		errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("postgresql: %s", errbuf);
	assert_false(dup_lite);
	assert_false(dup_pg);
	if (store_index_checks(s->lite, &r->base.report, lite_checks, n_lite, errbuf,
		sizeof(errbuf)) != PGF_OK)
		fail_msg("sqlite checks: %s", errbuf);
	if (store_index_checks(s->pg, &r->base.report, &pg_checks, &n_pg, errbuf, sizeof(errbuf)) !=
	    PGF_OK)
		fail_msg("postgresql checks: %s", errbuf);
	assert_int_equal(n_pg, *n_lite);
	for (size_t i = 0; i < n_pg; i++) {
		assert_same("index checks", &(*lite_checks)[i]->base, &pg_checks[i]->base);
		store_answer_free(&pg_checks[i]->base);
	}
	free(pg_checks);
}

static void
ix_free_checks(Pgfleet__V1__IndexCheckRequest **checks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_answer_free(&checks[i]->base);
	free(checks);
}

/* The check of checks[0..n) whose statement contains word; NULL if none. */
static const Pgfleet__V1__IndexCheckRequest *
ix_check_about(Pgfleet__V1__IndexCheckRequest **checks, size_t n, const char *word)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(checks[i]->statement, word) != NULL)
			return checks[i];
	return NULL;
}

/* Writes the fleet of this test, comparing the proposals at every report
 * and checking the every-third-snapshot rule and the verdicts' ages. */
static void
ix_write_fleet(struct fixture *s)
{
	static const int64_t minutes[] = {55, 45, 35, 25, 15, 5, 2};
	struct ix_report *r = calloc(1, sizeof(*r));
	Pgfleet__V1__IndexCheckRequest **first = NULL, **checks = NULL;
	size_t n_first = 0, n = 0;
	uint64_t seq = 0;

	assert_non_null(r);
	for (int k = 1; k <= 7; k++) {
		for (int instance = 0; instance < 4; instance++) {
			/* the replicas and the lone primary stop at -5 minutes,
			 * the lone primary has two snapshots */
			if ((k == 7 && instance != 0) || (instance == 3 && k < 5))
				continue;
			ix_snapshot(r, instance, instance == 0 ? ++seq : (uint64_t) k, k,
			    s->now_us - minutes[k - 1] * MINUTE + instance * 30 * SECOND, s->now_us);
			ix_write(s, r, &checks, &n);
			if (instance == 0 && k == 4) {
				/* the every-third rule: the fourth snapshot is
				 * when proposals are worked out again */
				first = checks;
				n_first = n;
				checks = NULL;
				n = 0;
				continue;
			}
			if (instance == 1 && k == 4)
				/* the replica's own statement on events */
				assert_non_null(ix_check_about(checks, n, "kind"));
			else if (!(instance == 0 && k == 7))
				/* snapshots 1 (one snapshot in its window), 2, 3,
				 * 5, 6 ask nothing */
				assert_int_equal(n, 0);
			if (instance == 0 && k == 7) {
				/* verdicts stand: the OK one for a day, the failed
				 * one for an hour (it was at -70 minutes) */
				assert_null(ix_check_about(checks, n, "kind"));
				assert_non_null(ix_check_about(checks, n, "user_id"));
				assert_non_null(ix_check_about(checks, n, "customer_id"));
			}
			ix_free_checks(checks, n);
			checks = NULL;
			n = 0;
		}
		if (k == 4) {
			/* the agent's answer, late: hypopg verdicts on two of
			 * the proposals, collected at -70 minutes */
			const Pgfleet__V1__IndexCheckRequest *kind = ix_check_about(first, n_first, "kind");
			const Pgfleet__V1__IndexCheckRequest *user = ix_check_about(first, n_first, "user_id");
			/* kind, user_id and customer_id, not the UPDATE's */
			assert_int_equal(n_first, 3);
			assert_non_null(kind);
			assert_non_null(user);
			assert_null(ix_check_about(first, n_first, "session_id"));
			memset(r, 0, sizeof(*r));
			init_report(&r->base, "ix-primary", "7100", "ixdb1",
			    PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY, "ix-primary", ++seq,
			    s->now_us - 70 * MINUTE);
			pgfleet__v1__index_checks_family__init(&r->checks);
			for (int i = 0; i < 2; i++) {
				const Pgfleet__V1__IndexCheckRequest *q = i == 0 ? kind : user;
				Pgfleet__V1__IndexCheckResult *v = &r->results[i];
				pgfleet__v1__index_check_result__init(v);
				v->database = q->database;
				v->queryid = q->queryid;
				v->index_statement = q->index_statement;
				v->status = i == 0 ? PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_OK
						   : PGFLEET__V1__INDEX_CHECK_RESULT__STATUS__STATUS_NOT_INSTALLED;
				v->cost_before = i == 0 ? 5000.5 : 0.0;
				v->cost_after = i == 0 ? 12.25 : 0.0;
				v->index_used = i == 0;
				v->detail = (char *) (i == 0 ? "generic plan" : "extension \"hypopg\" is not installed");
				v->estimated_index_bytes = i == 0 ? 8192 * 300 : 0;
				r->result_pointers[i] = v;
			}
			r->checks.results = r->result_pointers;
			r->checks.n_results = 2;
			r->base.report.index_checks = &r->checks;
			ix_write(s, r, &checks, &n);
			assert_int_equal(n, 0);
			ix_free_checks(first, n_first);
		}
	}
	free(r);
}

/* One index-recommendations question of both stores, compared; the
 * SQLite answer is returned (the caller frees it). */
static Pgfleet__V1__IndexRecommendations *
ix_ask(struct fixture *s, const char *instance, const char *cluster, const char *database,
    int64_t since_us, int64_t until_us, uint32_t limit)
{
	Pgfleet__V1__IndexRecommendationsRequest request =
	    PGFLEET__V1__INDEX_RECOMMENDATIONS_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__IndexRecommendations *lite = malloc(sizeof(*lite));
	Pgfleet__V1__IndexRecommendations *pg = malloc(sizeof(*pg));
	char errbuf[512], what[160];

	assert_non_null(lite);
	assert_non_null(pg);
	pgfleet__v1__index_recommendations__init(lite);
	pgfleet__v1__index_recommendations__init(pg);
	scope.instance = (char *) instance;
	scope.cluster = (char *) cluster;
	scope.database = (char *) database;
	scope.since_us = since_us;
	scope.until_us = until_us;
	request.scope = &scope;
	request.limit = limit;
	if (s->lite->ops->index_recommendations(s->lite, &request, lite, errbuf, sizeof(errbuf)) !=
	    PGF_OK)
		fail_msg("sqlite: %s", errbuf);
	if (s->pg->ops->index_recommendations(s->pg, &request, pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("postgresql: %s", errbuf);
	snprintf(what, sizeof(what), "index-recommendations instance \"%s\" cluster \"%s\" database \"%s\" window %lld..%lld limit %u",
	    instance, cluster, database, (long long) since_us, (long long) until_us, limit);
	assert_same(what, &lite->base, &pg->base);
	store_answer_free(&pg->base);
	return lite;
}

/* The row of answer of type about index (or table, for rows without an
 * index); NULL when none. */
static const Pgfleet__V1__IndexRecommendation *
ix_find(const Pgfleet__V1__IndexRecommendations *answer, const char *type, const char *name)
{
	for (size_t i = 0; i < answer->n_rows; i++) {
		const Pgfleet__V1__IndexRecommendation *row = answer->rows[i];
		if (strcmp(row->type, type) == 0 &&
		    (strcmp(row->index, name) == 0 || (row->index[0] == '\0' && strcmp(row->table, name) == 0)))
			return row;
	}
	return NULL;
}

static void
test_indexes(void **state)
{
	struct fixture *f = *state;
	struct fixture s;
	char errbuf[512];
	char *conn;
	const int64_t now = f->now_us;
	const struct {
		int64_t since, until;
	} windows[] = {{0, 0}, {now - 30 * MINUTE, 0}, {now - 60 * MINUTE, now - 20 * MINUTE},
	    {now - 12 * MINUTE, now - 3 * MINUTE}};
	const struct {
		const char *instance, *cluster, *database;
	} scopes[] = {{"ix-primary", "", ""}, {"ix-replica1", "", ""}, {"", "7100", ""},
	    {"", "7200", ""}, {"", "", ""}, {"", "", "shop"}, {"ix-replica2", "", "nowhere"}};
	Pgfleet__V1__IndexRecommendations *a;
	const Pgfleet__V1__IndexRecommendation *row;
	size_t seen = 0;

	/* the shared fleet's answer too: both stores alike */
	a = ix_ask(f, "", "", "", 0, 0, 0);
	store_answer_free(&a->base);

	free(sql_value("SET client_min_messages = warning; DROP SCHEMA IF EXISTS " IX_SCHEMA
			" CASCADE; CREATE SCHEMA " IX_SCHEMA));
	conn = malloc(strlen(conninfo()) + 64);
	assert_non_null(conn);
	sprintf(conn, "%s%soptions=-csearch_path%%3D" IX_SCHEMA, conninfo(),
	    strchr(conninfo(), '?') != NULL ? "&" : "?");
	memset(&s, 0, sizeof(s));
	s.now_us = now;
	assert_int_equal(temp_store_setup(&s.sqlite_state), 0);
	s.lite = ((struct temp_store *) s.sqlite_state)->store;
	if (store_open(conn, false, &s.pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	ix_write_fleet(&s);

	for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++)
		for (size_t c = 0; c < sizeof(scopes) / sizeof(scopes[0]); c++)
			/* a limit (the first rows, after the sort) on the fleet */
			for (uint32_t limit = 0; limit <= (c == 4 ? 4u : 0u); limit += 4) {
				a = ix_ask(&s, scopes[c].instance, scopes[c].cluster, scopes[c].database,
				    windows[w].since, windows[w].until, limit);
				/* every scope says something, but the database
				 * nobody has, and the lone primary outside its two
				 * snapshots (-14 and -4 minutes) */
				if (c == 6)
					assert_int_equal(a->n_rows, 0);
				else if (c != 3 || w < 2)
					assert_true(a->n_rows > 0);
				store_answer_free(&a->base);
			}

	/* what the test made happen, in the cluster over the last 30 minutes
	 * (snapshots -25 ... -2, after ix-replica2's reset) */
	a = ix_ask(&s, "", "7100", "", now - 30 * MINUTE, 0, 0);
	row = ix_find(a, "unused", "events_unused_idx");
	assert_non_null(row);
	assert_string_equal(row->instance, "ix-primary,ix-replica1,ix-replica2");
	assert_string_equal(row->cluster, "7100");
	assert_null(ix_find(a, "unused", "events_old_idx"));	   /* scanned on ix-replica1 */
	assert_null(ix_find(a, "unused", "customers_email_key")); /* backs a constraint */
	assert_non_null(ix_find(a, "duplicate", "customers_name_idx2"));
	assert_null(ix_find(a, "duplicate", "customers_name_idx"));
	assert_non_null(ix_find(a, "redundant", "orders_status_idx"));
	assert_non_null(ix_find(a, "invalid", "events_broken_idx"));
	row = ix_find(a, "foreign_key_without_index", "orders");
	assert_non_null(row);
	assert_null(ix_find(a, "foreign_key_without_index", "events"));
	row = ix_find(a, "high_sequential_scans", "events");
	assert_non_null(row);
	assert_string_equal(row->priority, "high");
	assert_string_equal(row->instance, "ix-primary");
	/* snapshots 4 (-25) to 7 (-2): 3 x 40 scans of 300000 tuples */
	assert_int_equal(row->seq_scans, 120);
	assert_int_equal(row->seq_tuples_read, 120 * 300000);
	assert_int_equal(row->window_seconds, 23 * 60);
	assert_string_equal(ix_find(a, "high_sequential_scans", "orders")->priority, "medium");
	for (size_t i = 0; i < a->n_rows; i++) {
		const Pgfleet__V1__IndexRecommendation *m = a->rows[i];
		if (strcmp(m->type, "missing_index") != 0 || strcmp(m->instance, "ix-primary") != 0)
			continue;
		seen++;
		if (strstr(m->query, "kind") != NULL) {
			assert_int_equal(m->n_columns, 1);
			assert_string_equal(m->columns[0], "kind");
			assert_string_equal(m->hypopg_check, "ok");
			assert_true(m->cost_before == 5000.5 && m->cost_after == 12.25);
			assert_true(m->hypothetical_index_used);
		} else if (strstr(m->query, "user_id") != NULL) {
			assert_string_equal(m->hypopg_check, "not_installed");
			assert_string_equal(m->predicate, "archived_at IS NULL");
		} else if (strstr(m->query, "session_id") != NULL) {
			assert_string_equal(m->hypopg_check, "not_checked");
		} else {
			assert_non_null(strstr(m->query, "customer_id"));
			assert_string_equal(m->hypopg_check, "pending");
		}
	}
	/* kind, user_id, session_id (the UPDATE) and customer_id */
	assert_int_equal(seen, 4);
	store_answer_free(&a->base);
	/* a window holding ix-replica2's reset: its scans are unknown, so
	 * nothing is unused; the rest stands */
	a = ix_ask(&s, "", "7100", "", now - 60 * MINUTE, 0, 0);
	assert_null(ix_find(a, "unused", "events_unused_idx"));
	assert_non_null(ix_find(a, "duplicate", "customers_name_idx2"));
	store_answer_free(&a->base);
	/* the lone primary's index, unused in its own cluster */
	a = ix_ask(&s, "", "", "", 0, 0, 0);
	row = ix_find(a, "unused", "other_unused_idx");
	assert_non_null(row);
	assert_string_equal(row->instance, "ix-other");
	assert_string_equal(row->cluster, "7200");
	store_answer_free(&a->base);

	store_close(s.pg);
	temp_store_teardown(&s.sqlite_state);
	free(conn);
	free(sql_value("SET client_min_messages = warning; DROP SCHEMA " IX_SCHEMA " CASCADE"));
}

/* ---- pools, settings, family statuses and regressions ------------------ */

/* Their own fleet in their own schema (the shared fleet's answers are
 * compared too): cluster 7301, a primary with pgbouncer and a replica,
 * and cluster 7302, one primary. */
#define PL_SCHEMA "pgfleet_test_pools"
#define PL_DAY (86400 * SECOND)
/* the primary's activity snapshots: every 5 minutes over the last hour */
#define PL_SAMPLES 6

/* A report with the families test_report lacks. */
struct pl_report {
	struct test_report r;
	Pgfleet__V1__ConnectionGroup groups[6];
	Pgfleet__V1__ConnectionGroup *group_pointers[6];
	Pgfleet__V1__SettingsFamily settings;
	Pgfleet__V1__Setting setting_rows[3];
	Pgfleet__V1__Setting *setting_pointers[3];
	Pgfleet__V1__Extension extension;
	Pgfleet__V1__Extension *extension_pointers[1];
	Pgfleet__V1__FamilyProblem problems[2];
	Pgfleet__V1__FamilyProblem *problem_pointers[2];
	Pgfleet__V1__PoolFamily pool;
	Pgfleet__V1__PoolerPool pooler[3];
	Pgfleet__V1__PoolerPool *pooler_pointers[3];
	Pgfleet__V1__TablesFamily tables;
	Pgfleet__V1__TableStat table;
	Pgfleet__V1__TableStat *table_pointers[1];
	char *skipped[2];
};

/* A connection group of the activity family. */
static void
pl_group(struct pl_report *p, const char *application, const char *database,
    const char *state, int64_t count, int64_t waiting)
{
	Pgfleet__V1__ActivityFamily *a = &p->r.activity;
	Pgfleet__V1__ConnectionGroup *g;

	if (p->r.report.activity == NULL) {
		pgfleet__v1__activity_family__init(a);
		a->connections = p->group_pointers;
		p->r.report.activity = a;
	}
	assert_true(a->n_connections < 6);
	g = &p->groups[a->n_connections];
	pgfleet__v1__connection_group__init(g);
	g->application_name = (char *) application;
	g->database = (char *) database;
	g->user = (char *) "web";
	g->client_addr = (char *) "10.1.0.7";
	g->state = (char *) state;
	g->count = count;
	g->waiting = waiting;
	a->total_connections += count;
	p->group_pointers[a->n_connections++] = g;
}

/* The settings family: max_connections as given, and one extension. */
static void
pl_settings(struct pl_report *p, const char *max_connections)
{
	static const char *const names[] = {"max_connections", "autovacuum",
	    "shared_preload_libraries"};
	Pgfleet__V1__SettingsFamily *s = &p->settings;

	pgfleet__v1__settings_family__init(s);
	for (int i = 0; i < 3; i++) {
		pgfleet__v1__setting__init(&p->setting_rows[i]);
		p->setting_rows[i].name = (char *) names[i];
		p->setting_rows[i].setting = (char *) (i == 0 ? max_connections
						      : i == 1 ? "on" : "pg_stat_statements");
		p->setting_pointers[i] = &p->setting_rows[i];
	}
	s->settings = p->setting_pointers;
	s->n_settings = 3;
	pgfleet__v1__extension__init(&p->extension);
	p->extension.database = (char *) "shop";
	p->extension.name = (char *) "pg_stat_statements";
	p->extension.version = (char *) max_connections; /* differs with the family */
	p->extension_pointers[0] = &p->extension;
	s->extensions = p->extension_pointers;
	s->n_extensions = 1;
	p->r.report.settings = s;
}

/* n problems of code on a family (its problems and n_problems). */
static void
pl_problems(struct pl_report *p, Pgfleet__V1__FamilyProblem ***problems, size_t *count,
    Pgfleet__V1__FamilyProblem__Code code, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pgfleet__v1__family_problem__init(&p->problems[i]);
		p->problems[i].code = code;
		p->problems[i].database = (char *) (i == 0 ? "shop" : "");
		p->problems[i].detail = (char *) (i == 0 ? "permission denied for view x" : "and \xff");
		p->problem_pointers[i] = &p->problems[i];
	}
	*problems = p->problem_pointers;
	*count = n;
}

/* pgbouncer's pools at sample k: shop/web grows and once keeps 3 clients
 * waiting; its admin console is a pool too (never sized). */
static void
pl_pooler(struct pl_report *p, int64_t k)
{
	static const char *const databases[] = {"shop", "stock", "pgbouncer"};
	Pgfleet__V1__PoolFamily *f = &p->pool;

	pgfleet__v1__pool_family__init(f);
	f->default_pool_size = 5;
	f->reserve_pool_size = 2;
	for (int i = 0; i < 3; i++) {
		Pgfleet__V1__PoolerPool *pool = &p->pooler[i];
		pgfleet__v1__pooler_pool__init(pool);
		pool->database = (char *) databases[i];
		pool->user = (char *) (i == 2 ? "pgbouncer" : "web");
		pool->cl_active = 10 + k;
		pool->cl_waiting = i == 0 && k == 4 ? 3 : 0;
		pool->sv_active = i == 0 ? 1 + k : i == 1 ? k % 2 : 0;
		pool->sv_idle = i == 2 ? 0 : 1;
		pool->sv_used = i == 1 ? 1 : 0;
		pool->sv_login = i == 0 && k == 1 ? 1 : 0;
		pool->maxwait_seconds = i == 0 && k == 4 ? 0.75 : 0.0;
		p->pooler_pointers[i] = pool;
	}
	f->pools = p->pooler_pointers;
	f->n_pools = 3;
	p->r.report.pool = f;
}

/* A tables family with one table whose insert trigger is set. */
static void
pl_tables(struct pl_report *p, int64_t threshold)
{
	pgfleet__v1__tables_family__init(&p->tables);
	pgfleet__v1__table_stat__init(&p->table);
	p->table.database = (char *) "shop";
	p->table.schema = (char *) "public";
	p->table.table = (char *) "orders";
	p->table.n_live_tup = 500;
	p->table.autovacuum_enabled = true;
	p->table.autovacuum_vacuum_insert_threshold = threshold;
	p->table.autovacuum_vacuum_insert_scale_factor = 0.25;
	p->table_pointers[0] = &p->table;
	p->tables.tables = p->table_pointers;
	p->tables.n_tables = 1;
	p->tables.autovacuum_freeze_max_age = 200000000 + threshold;
	p->r.report.tables = &p->tables;
}

static int
pl_compare_doubles(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return x < y ? -1 : x > y;
}

/* Held connections of the application "web" on pl-primary at sample k
 * (pl_write_fleet's groups): 6 + k % 3 + k % 2. */
static int64_t
pl_web_held(int64_t k)
{
	return (2 + k % 3) + 3 + 1 + k % 2;
}

static void
pl_write_fleet(struct fixture *f)
{
	const int P = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	const int R = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA;
	const int64_t now = f->now_us;
	struct pl_report *p = malloc(sizeof(*p));
	uint64_t seq = 0;

	assert_non_null(p);
	/* the baseline: 5 and 3 days ago, statement 9001 fast (10 ms), 9002
	 * steady, 9003 and 9004 fast too */
	for (int64_t d = 5; d >= 3; d -= 2) {
		memset(p, 0, sizeof(*p));
		init_report(&p->r, "pl-primary", "7301", "pl1", P, "agent-pl1", ++seq, now - d * PL_DAY);
		add_statement(&p->r, 9001, "shop", 20, 8.0, 0.25, "SELECT * FROM carts WHERE id = $1");
		add_statement(&p->r, 9002, "shop", 15, 3.0, 0.5, "SELECT 2");
		add_statement(&p->r, 9003, "shop", 10, 1.0, 0.25, "SELECT 3");
		add_statement(&p->r, 9004, "shop", 12, 1.0, 0.0, "SELECT 4");
		write_both(f, &p->r, now - d * PL_DAY + SECOND, false);
		memset(p, 0, sizeof(*p));
		init_report(&p->r, "pl-replica", "7301", "pl2", R, "agent-pl2", (uint64_t) (6 - d),
		    now - d * PL_DAY + MINUTE);
		add_statement(&p->r, 9001, "shop", 10, 9.0, 0.5, "SELECT * FROM carts WHERE id = $1");
		write_both(f, &p->r, now - d * PL_DAY + MINUTE + SECOND, false);
	}
	/* the last hour, in one batch: 9001 five times slower, 9003 slower
	 * but with few calls, 9004 three times slower but less than a
	 * second more in all */
	batch(f, true);
	for (int64_t k = 0; k < PL_SAMPLES; k++) {
		int64_t at = now - (60 - 10 * k) * MINUTE;
		memset(p, 0, sizeof(*p));
		init_report(&p->r, "pl-primary", "7301", "pl1", P, "agent-pl1", ++seq, at);
		add_statement(&p->r, 9001, "shop", 5, 49.0, 0.5, NULL);
		add_statement(&p->r, 9002, "shop", 3, 3.5, 0.25, NULL);
		add_statement(&p->r, 9003, "shop", 1, 7.0, 0.0, NULL);
		add_statement(&p->r, 9004, "shop", 2, 3.0, 0.0, NULL);
		add_statement(&p->r, 9005, "stock", 4, 2.0, 0.25, "SELECT 5");
		p->r.statements.dealloc = k == 2 ? 3 : 0;
		/* web: busy and idle in two databases; batch comes and goes;
		 * a client without an application name */
		pl_group(p, "web", "shop", "active", 2 + k % 3, k % 3 == 2 ? 1 : 0);
		pl_group(p, "web", "shop", "idle", 3, 0);
		pl_group(p, "web", "shop", "idle in transaction", 1, 0);
		if (k % 2 == 1)
			pl_group(p, "web", "stock", "active", 1, 0);
		if (k >= 3)
			pl_group(p, "batch", "shop", "active", 1, 0);
		pl_group(p, "", "shop", "idle", 2, 0);
		p->r.activity.max_connections = 8;
		p->r.activity.superuser_reserved_connections = 2;
		pl_pooler(p, k);
		if (k == 0 || k == 3)
			/* the settings: changed at the fourth sample */
			pl_settings(p, k == 0 ? "8" : "9");
		if (k == 0)
			/* two problems: the worse one's status, "(and more)" */
			pl_problems(p, &p->settings.problems, &p->settings.n_problems,
			    PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_INSUFFICIENT_PRIVILEGE, 2);
		if (k == 2)
			pl_problems(p, &p->pool.problems, &p->pool.n_problems,
			    PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_TIMEOUT, 1);
		if (k == 1 || k == 3)
			pl_tables(p, 1000 * k);
		if (k == 4) {
			/* tables was reported before, bloat never: only tables
			 * shows as skipped */
			p->skipped[0] = (char *) "tables";
			p->skipped[1] = (char *) "bloat";
			p->r.report.skipped_families = p->skipped;
			p->r.report.n_skipped_families = 2;
		}
		write_both(f, &p->r, at + SECOND, false);

		memset(p, 0, sizeof(*p));
		init_report(&p->r, k % 2 == 0 ? "pl-replica" : "pl-other", k % 2 == 0 ? "7301" : "7302",
		    k % 2 == 0 ? "pl2" : "pl3", k % 2 == 0 ? R : P, k % 2 == 0 ? "agent-pl2" : "agent-pl3",
		    (uint64_t) (10 + k), at + 2 * SECOND);
		add_statement(&p->r, 9001, "shop", 10, 59.0, 0.25, NULL);
		pl_group(p, "report", "shop", "active", 2, 0);
		pl_group(p, "report", "shop", "idle", 1 + k % 3, 0);
		p->r.activity.max_connections = 100;
		p->r.activity.superuser_reserved_connections = 3;
		write_both(f, &p->r, at + 3 * SECOND, false);
	}
	batch(f, false);
	/* a replayed older report: its settings and statuses do not replace
	 * the newer ones, its problem still counts */
	memset(p, 0, sizeof(*p));
	init_report(&p->r, "pl-primary", "7301", "pl1", P, "agent-pl1", ++seq, now - 58 * MINUTE);
	pl_settings(p, "999");
	pl_tables(p, 7);
	pgfleet__v1__pool_family__init(&p->pool);
	p->r.report.pool = &p->pool;
	pl_problems(p, &p->pool.problems, &p->pool.n_problems,
	    PGFLEET__V1__FAMILY_PROBLEM__CODE__CODE_ERROR, 1);
	write_both(f, &p->r, now - MINUTE, false);
	free(p);
}

/* The text of a SQLite query's first value, malloc'd. */
static char *
pl_lite_text(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	char *text;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	text = strdup(sqlite3_column_text(stmt, 0) != NULL ? (const char *) sqlite3_column_text(stmt, 0)
							    : "");
	assert_non_null(text);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return text;
}

/* What the settings writers stored, the same in both stores; returns the
 * SQLite store's text (malloc'd). */
static char *
pl_compare_table(const char *lite_path, const char *lite_sql, const char *pg_sql)
{
	char *lite = pl_lite_text(lite_path, lite_sql);
	char *pg = sql_value(pg_sql);

	if (strcmp(lite, pg) != 0)
		fail_msg("stored differently:\n sqlite:     %s\n postgresql: %s", lite, pg);
	free(pg);
	return lite;
}

static void
pl_check_settings(const char *lite_path)
{
	char *text;

	/* the newest settings family (the fourth sample's), not the replayed
	 * older one */
	text = pl_compare_table(lite_path,
	    "SELECT group_concat(x, ';') FROM (SELECT i.name || ':' || s.name || '=' || s.setting AS x"
	    " FROM advice_settings s JOIN instances i USING (instance_id) ORDER BY 1)",
	    "SELECT string_agg(x, ';' ORDER BY x) FROM (SELECT i.name || ':' || s.name || '='"
	    " || s.setting AS x FROM " PL_SCHEMA ".advice_settings s JOIN " PL_SCHEMA
	    ".instances i USING (instance_id)) q");
	assert_non_null(strstr(text, "pl-primary:max_connections=9"));
	assert_null(strstr(text, "999"));
	free(text);
	text = pl_compare_table(lite_path,
	    "SELECT group_concat(x, ';') FROM (SELECT i.name || ':' || e.datname || '.' || e.name"
	    " || '=' || e.version AS x FROM advice_extensions e JOIN instances i USING (instance_id)"
	    " ORDER BY 1)",
	    "SELECT string_agg(x, ';' ORDER BY x) FROM (SELECT i.name || ':' || e.datname || '.'"
	    " || e.name || '=' || e.version AS x FROM " PL_SCHEMA ".advice_extensions e JOIN "
	    PL_SCHEMA ".instances i USING (instance_id)) q");
	assert_string_equal(text, "pl-primary:shop.pg_stat_statements=9");
	free(text);
	/* the newest tables family's trigger and freeze age (the fourth
	 * sample's: 3000) */
	text = pl_compare_table(lite_path,
	    "SELECT group_concat(x, ';') FROM (SELECT i.name || ':' || a.settings_ts_us || ','"
	    " || a.tables_ts_us || ',' || a.freeze_max_age || ',' || o.relname || ','"
	    " || o.insert_threshold || ',' || o.insert_scale_factor AS x FROM advice_instance a"
	    " JOIN instances i USING (instance_id) JOIN advice_table_options o USING (instance_id)"
	    " ORDER BY 1)",
	    "SELECT string_agg(x, ';' ORDER BY x) FROM (SELECT i.name || ':' || a.settings_ts_us"
	    " || ',' || a.tables_ts_us || ',' || a.freeze_max_age || ',' || o.relname || ','"
	    " || o.insert_threshold || ',' || o.insert_scale_factor AS x FROM " PL_SCHEMA
	    ".advice_instance a JOIN " PL_SCHEMA ".instances i USING (instance_id) JOIN " PL_SCHEMA
	    ".advice_table_options o USING (instance_id)) q");
	assert_non_null(strstr(text, ",200003000,orders,3000,0.25"));
	free(text);
}

/* The fleet with its family statuses, and what the reports caused. */
static void
pl_check_fleet(struct fixture *f)
{
	Pgfleet__V1__FleetRequest request = PGFLEET__V1__FLEET_REQUEST__INIT;
	Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
	Pgfleet__V1__Fleet *answer = malloc(sizeof(*answer));
	const Pgfleet__V1__FleetInstance *primary = NULL;
	char errbuf[512];
	size_t rows = 0;
	static const char *const families[] = {"statements", "settings", "activity", "tables",
	    "pool"};

	ASK_BOTH(f, fleet, Pgfleet__V1__Fleet, pgfleet__v1__fleet__init, &request, "pools fleet",
	    rows, lite_->n_rows);
	assert_int_equal(rows, 3);
	scope.cluster = (char *) "7301";
	request.scope = &scope;
	ASK_BOTH(f, fleet, Pgfleet__V1__Fleet, pgfleet__v1__fleet__init, &request,
	    "pools fleet 7301", rows, lite_->n_rows);
	assert_int_equal(rows, 2);
	assert_non_null(answer);
	pgfleet__v1__fleet__init(answer);
	if (f->pg->ops->fleet(f->pg, &request, answer, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	for (size_t i = 0; i < answer->n_rows; i++)
		if (strcmp(answer->rows[i]->instance, "pl-primary") == 0)
			primary = answer->rows[i];
	assert_non_null(primary);
	/* statements first, then the agent's order; bloat was only ever
	 * skipped: no row */
	assert_int_equal(primary->n_families, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(primary->families[i]->family, families[i]);
	assert_int_equal(primary->families[0]->dealloc, 3);
	assert_string_equal(primary->families[1]->status, "ok");
	/* the newest problem of the settings: the worse of two, and more */
	assert_string_equal(primary->families[1]->last_problem,
	    "insufficient_privilege: database \"shop\": permission denied for view x (and more)");
	assert_int_equal(primary->families[1]->problem_reports, 1);
	assert_string_equal(primary->families[3]->status, "skipped");
	/* the pool's newest status is ok; its problems: the timeout at the
	 * third sample (the newest), and the replayed report's error */
	assert_string_equal(primary->families[4]->status, "ok");
	assert_int_equal(primary->families[4]->problem_reports, 2);
	assert_non_null(strstr(primary->families[4]->last_problem, "timeout: "));
	assert_true(primary->families[4]->last_problem_at_us == f->now_us - 40 * MINUTE);
	store_answer_free(&answer->base);
}

/* pool-stats and pool-recommendation over several scopes. */
static void
pl_check_pools(struct fixture *f)
{
	const struct {
		const char *instance, *cluster;
		int64_t since, until;
		uint32_t limit;
	} asks[] = {{"", "", 0, 0, 0}, {"pl-primary", "", 0, 0, 0}, {"", "7301", 0, 0, 0},
	    {"", "7302", 0, 0, 0}, {"", "", f->now_us - 35 * MINUTE, f->now_us - 5 * MINUTE, 0},
	    {"", "", 0, 0, 3}, {"nobody", "", 0, 0, 0}};
	size_t rows = 0;

	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		Pgfleet__V1__PoolStatsRequest stats = PGFLEET__V1__POOL_STATS_REQUEST__INIT;
		Pgfleet__V1__PoolRecommendationRequest recommend =
		    PGFLEET__V1__POOL_RECOMMENDATION_REQUEST__INIT;
		Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
		char what[64];

		scope.instance = (char *) asks[i].instance;
		scope.cluster = (char *) asks[i].cluster;
		scope.since_us = asks[i].since;
		scope.until_us = asks[i].until;
		stats.scope = recommend.scope = &scope;
		stats.limit = recommend.limit = asks[i].limit;
		recommend.buffer = i == 2 ? 2.5 : 0.0;
		snprintf(what, sizeof(what), "pool-stats %zu", i);
		ASK_BOTH(f, pool_stats, Pgfleet__V1__PoolStats, pgfleet__v1__pool_stats__init, &stats,
		    what, rows, lite_->n_rows);
		/* pl-primary: "", batch, web, shop/web, stock/web; the others
		 * one each (report) */
		assert_int_equal(rows, i == 0 ? 7 : i == 1 ? 5 : i == 2 ? 6 : i == 3 ? 1 : i == 4 ? 7
			: i == 5 ? 3 : 0);
		snprintf(what, sizeof(what), "pool-recommendation %zu", i);
		ASK_BOTH(f, pool_recommendation, Pgfleet__V1__PoolRecommendation,
		    pgfleet__v1__pool_recommendation__init, &recommend, what, rows, lite_->n_rows);
	}
	{
		/* what the samples caused, in the PostgreSQL store's answers */
		Pgfleet__V1__PoolStatsRequest stats = PGFLEET__V1__POOL_STATS_REQUEST__INIT;
		Pgfleet__V1__PoolRecommendationRequest recommend =
		    PGFLEET__V1__POOL_RECOMMENDATION_REQUEST__INIT;
		Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
		Pgfleet__V1__PoolStats *s = malloc(sizeof(*s));
		Pgfleet__V1__PoolRecommendation *r = malloc(sizeof(*r));
		double held[PL_SAMPLES];
		int64_t median;
		char errbuf[512];

		assert_non_null(s);
		assert_non_null(r);
		pgfleet__v1__pool_stats__init(s);
		pgfleet__v1__pool_recommendation__init(r);
		scope.instance = (char *) "pl-primary";
		stats.scope = recommend.scope = &scope;
		if (f->pg->ops->pool_stats(f->pg, &stats, s, errbuf, sizeof(errbuf)) != PGF_OK ||
		    f->pg->ops->pool_recommendation(f->pg, &recommend, r, errbuf, sizeof(errbuf)) !=
			PGF_OK)
			fail_msg("%s", errbuf);
		assert_int_equal(s->n_rows, 5);
		/* by application: "", batch, web; then pgbouncer's pools by
		 * name, its admin console left out */
		assert_string_equal(s->rows[0]->application, "");
		assert_string_equal(s->rows[1]->application, "batch");
		assert_string_equal(s->rows[2]->application, "web");
		assert_string_equal(s->rows[3]->application, "shop/web");
		assert_string_equal(s->rows[4]->application, "stock/web");
		/* web: the median (nearest rank) of what it held, the latest
		 * sample's connections (k = 5: 4 active and 1 idle in
		 * transaction in shop, 1 active in stock, 3 idle) */
		for (int64_t k = 0; k < PL_SAMPLES; k++)
			held[k] = (double) pl_web_held(k);
		qsort(held, PL_SAMPLES, sizeof(held[0]), pl_compare_doubles);
		median = (int64_t) held[(PL_SAMPLES + 1) / 2 - 1];
		assert_int_equal(s->rows[2]->pool_size, median);
		assert_int_equal(s->rows[2]->total_connections, pl_web_held(PL_SAMPLES - 1));
		assert_int_equal(s->rows[2]->checked_out, 4 + 1 + 1);
		assert_int_equal(s->rows[2]->checked_in, 3);
		assert_int_equal(s->rows[2]->samples, PL_SAMPLES);
		/* batch was there in 3 samples of 6 */
		assert_int_equal(s->rows[1]->samples, 3);
		/* shop/web: default_pool_size 5, the latest sample 6 active and
		 * 1 idle, 3 clients waited once */
		assert_string_equal(s->rows[3]->source, "pgbouncer");
		assert_int_equal(s->rows[3]->pool_size, 5);
		assert_int_equal(s->rows[3]->checked_out, PL_SAMPLES);
		assert_int_equal(s->rows[3]->total_connections, PL_SAMPLES + 1);
		assert_int_equal(s->rows[3]->overflow, PL_SAMPLES + 1 - 5);
		/* max_connections 8 - 2 reserved: the budget bounds every pool
		 * of the primary but stock/web */
		assert_int_equal(r->n_rows, 5);
		for (size_t i = 0; i < 4; i++) {
			assert_int_equal(r->rows[i]->connection_budget, 6);
			assert_string_equal(r->rows[i]->driven_by, "budget");
		}
		assert_int_equal(r->rows[3]->recommended_pool_size, 6);
		assert_string_not_equal(r->rows[4]->driven_by, "budget");
		store_answer_free(&s->base);
		store_answer_free(&r->base);
	}
}

/* query-regressions per instance and per cluster, with the defaults and
 * other settings; a bad baseline is refused alike. */
static void
pl_check_regressions(struct fixture *f)
{
	const int CLUSTER = PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__GROUP__GROUP_CLUSTER;
	const int64_t now = f->now_us;
	const struct {
		const char *instance, *cluster, *database;
		int group;
		double min_factor, min_extra;
		int64_t min_calls, baseline_since, baseline_until;
		uint32_t limit;
		size_t expected;
	} asks[] = {
		/* 9001 on pl-primary and on pl-replica */
		{"", "", "", 0, 0, 0, 0, 0, 0, 0, 2},
		{"pl-primary", "", "", 0, 0, 0, 0, 0, 0, 0, 1},
		/* one row for the cluster */
		{"", "7301", "", CLUSTER, 0, 0, 0, 0, 0, 0, 1},
		{"", "", "", CLUSTER, 0, 0, 0, 0, 0, 0, 1},
		/* 9003 (6 calls) with min_calls 5, and 9004: both with less
		 * than a second more in all */
		{"pl-primary", "", "", 0, 0, 0.01, 5, 0, 0, 0, 3},
		{"pl-primary", "", "shop", 0, 1.5, 0.01, 0, 0, 0, 0, 2},
		{"", "", "", 0, 0, 0, 0, 0, 0, 1, 1},
		/* a baseline holding only the first day of it */
		{"", "", "", 0, 0, 0, 0, now - 6 * PL_DAY, now - 4 * PL_DAY, 0, 2},
		/* the baseline is the window: nothing regressed */
		{"", "", "", 0, 0, 0, 0, now - PL_DAY, now, 0, 0},
		{"", "", "stock", 0, 0, 0, 0, 0, 0, 0, 0},
	};
	size_t rows = 0;

	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		Pgfleet__V1__QueryRegressionsRequest request =
		    PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__INIT;
		Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
		char what[64];

		scope.instance = (char *) asks[i].instance;
		scope.cluster = (char *) asks[i].cluster;
		scope.database = (char *) asks[i].database;
		/* a fixed end: the answers name their window */
		scope.until_us = now;
		request.scope = &scope;
		request.group = asks[i].group;
		request.min_factor = asks[i].min_factor;
		request.min_extra_seconds = asks[i].min_extra;
		request.min_calls = asks[i].min_calls;
		request.baseline_since_us = asks[i].baseline_since;
		request.baseline_until_us = asks[i].baseline_until;
		request.limit = asks[i].limit;
		snprintf(what, sizeof(what), "query-regressions %zu", i);
		/* the names of a cluster's instances in byte order by both */
		ASK_BOTH(f, query_regressions, Pgfleet__V1__QueryRegressions,
		    pgfleet__v1__query_regressions__init, &request, what, rows, lite_->n_rows);
		if (rows != asks[i].expected)
			fail_msg("%s: %zu rows, expected %zu", what, rows, asks[i].expected);
	}
	{
		/* the values: 9001 on pl-primary, 30 calls at 49..51 ms against
		 * 40 at 8..12.75 ms */
		Pgfleet__V1__QueryRegressionsRequest request =
		    PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__INIT;
		Pgfleet__V1__Scope scope = PGFLEET__V1__SCOPE__INIT;
		Pgfleet__V1__QueryRegressions *a = malloc(sizeof(*a));
		Pgfleet__V1__QueryRegressions *b = malloc(sizeof(*b));
		char e1[512], e2[512];

		assert_non_null(a);
		assert_non_null(b);
		pgfleet__v1__query_regressions__init(a);
		pgfleet__v1__query_regressions__init(b);
		scope.instance = (char *) "pl-primary";
		scope.until_us = now;
		request.scope = &scope;
		if (f->pg->ops->query_regressions(f->pg, &request, a, e1, sizeof(e1)) != PGF_OK)
			fail_msg("%s", e1);
		assert_int_equal(a->n_rows, 1);
		assert_int_equal(a->rows[0]->queryid, 9001);
		assert_int_equal(a->rows[0]->calls, 5 * PL_SAMPLES);
		assert_int_equal(a->rows[0]->baseline_calls, 40);
		assert_true(a->rows[0]->mean_seconds == 0.050);
		assert_true(a->rows[0]->baseline_mean_seconds == (8.0 + 12.75) / 2 / 1000.0);
		assert_string_equal(a->rows[0]->query, "SELECT * FROM carts WHERE id = $1");
		/* a baseline that ends before it starts: one line, alike */
		request.baseline_since_us = now - PL_DAY;
		request.baseline_until_us = now - 2 * PL_DAY;
		assert_int_equal(f->lite->ops->query_regressions(f->lite, &request, b, e1, sizeof(e1)),
		    PGF_EINVAL);
		assert_int_equal(f->pg->ops->query_regressions(f->pg, &request, b, e2, sizeof(e2)),
		    PGF_EINVAL);
		assert_string_equal(e1, e2);
		store_answer_free(&a->base);
		store_answer_free(&b->base);
	}
}

static void
test_pools(void **state)
{
	struct fixture *shared = *state;
	struct fixture f;
	char spec[512];
	char errbuf[512];
	size_t rows = 0;

	/* the shared fleet first: its activity groups are pools too */
	{
		Pgfleet__V1__PoolStatsRequest stats = PGFLEET__V1__POOL_STATS_REQUEST__INIT;
		Pgfleet__V1__PoolRecommendationRequest recommend =
		    PGFLEET__V1__POOL_RECOMMENDATION_REQUEST__INIT;
		Pgfleet__V1__QueryRegressionsRequest regressions =
		    PGFLEET__V1__QUERY_REGRESSIONS_REQUEST__INIT;
		Pgfleet__V1__Scope window = PGFLEET__V1__SCOPE__INIT;
		window.until_us = shared->now_us;
		regressions.scope = &window;
		ASK_BOTH(shared, pool_stats, Pgfleet__V1__PoolStats, pgfleet__v1__pool_stats__init,
		    &stats, "shared pool-stats", rows, lite_->n_rows);
		assert_true(rows > 0);
		ASK_BOTH(shared, pool_recommendation, Pgfleet__V1__PoolRecommendation,
		    pgfleet__v1__pool_recommendation__init, &recommend, "shared pool-recommendation",
		    rows, lite_->n_rows);
		assert_true(rows > 0);
		ASK_BOTH(shared, query_regressions, Pgfleet__V1__QueryRegressions,
		    pgfleet__v1__query_regressions__init, &regressions, "shared query-regressions",
		    rows, lite_->n_rows);
	}

	free(sql_value("DROP SCHEMA IF EXISTS " PL_SCHEMA " CASCADE; CREATE SCHEMA " PL_SCHEMA));
	snprintf(spec, sizeof(spec), "%s%soptions=-csearch_path%%3D" PL_SCHEMA, conninfo(),
	    strchr(conninfo(), '?') != NULL ? "&" : "?");
	memset(&f, 0, sizeof(f));
	f.now_us = shared->now_us;
	assert_int_equal(temp_store_setup(&f.sqlite_state), 0);
	f.lite = ((struct temp_store *) f.sqlite_state)->store;
	if (store_open(spec, false, &f.pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	pl_write_fleet(&f);

	pl_check_settings(((struct temp_store *) f.sqlite_state)->path);
	pl_check_fleet(&f);
	pl_check_pools(&f);
	pl_check_regressions(&f);

	store_close(f.pg);
	temp_store_teardown(&f.sqlite_state);
}

/* ---- advice facts and /metrics (store_pg_advice.c, store_pg_metrics.c) - */

/*
 * A cluster of its own in a fresh pair of stores (its own schema): a
 * primary whose tables have dead tuples past autovacuum's trigger, one
 * with autovacuum off in its reloptions, wraparound ages past the freeze
 * age and near the limit, a large bloat estimate, an invalid index and two
 * duplicate ones, settings and extensions (sent twice: the newest count),
 * many connections, a walsender, an active and an inactive slot; its
 * standby lagging more with each report and paused in the newest. The
 * same reports go into both stores; then vacuum-advice,
 * replication-health and checklist, asked through api_answer (as the CLI
 * and HTTP ask) for the fleet, the instance, the cluster, a database and a
 * window, must be the same bytes, and so must /metrics' text.
 */
#define AD_SCHEMA "pgadv_test"

/* What a report of this test carries beyond struct test_report. */
struct ad_extra {
	Pgfleet__V1__SettingsFamily settings;
	Pgfleet__V1__Setting rows[8];
	Pgfleet__V1__Setting *row_pointers[8];
	Pgfleet__V1__Extension extension;
	Pgfleet__V1__Extension *extension_pointers[1];
	Pgfleet__V1__ReplicationSlot old_slot;
	Pgfleet__V1__ReplicationSlot *slot_pointers[2];
};

static void
ad_add_settings(struct test_report *r, struct ad_extra *x, const char *autovacuum)
{
	static const char *const names[] = {"autovacuum", "track_counts",
	    "shared_preload_libraries", "autovacuum_freeze_max_age",
	    "superuser_reserved_connections", "autovacuum_vacuum_insert_threshold",
	    "autovacuum_vacuum_insert_scale_factor", "max_connections"};
	const char *values[] = {autovacuum, "on", "pg_stat_statements,auto_explain", "200000000",
	    "3", "1000", "0.2", "100"};

	pgfleet__v1__settings_family__init(&x->settings);
	for (int i = 0; i < 8; i++) {
		pgfleet__v1__setting__init(&x->rows[i]);
		x->rows[i].name = (char *) names[i];
		x->rows[i].setting = (char *) values[i];
		x->row_pointers[i] = &x->rows[i];
	}
	x->settings.settings = x->row_pointers;
	x->settings.n_settings = 8;
	pgfleet__v1__extension__init(&x->extension);
	x->extension.database = (char *) "app";
	x->extension.name = (char *) "pg_stat_statements";
	x->extension.version = (char *) "1.10";
	x->extension_pointers[0] = &x->extension;
	x->settings.extensions = x->extension_pointers;
	x->settings.n_extensions = 1;
	r->report.settings = &x->settings;
}

/* The primary's k-th report (1..3) at at. */
static void
ad_primary(struct fixture *f, struct ad_extra *x, int64_t k, int64_t at)
{
	struct test_report r;

	init_report(&r, "a1-primary", "7401", "adb1", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY,
	    "agent-a1", (uint64_t) k, at);
	add_statement(&r, 701, "app", 3 * k, 12.5, 0.25, "SELECT * FROM carts WHERE user_id = $1");
	add_statement(&r, 702, "other", k, 400.0, 0.5, "UPDATE audit SET seen = $1");
	add_activity(&r, 80 + k, "shop");
	add_walsender(&r, "a1-standby", "slot_a1", 4096 * k, 0.5 * (double) k);
	/* an old slot nothing uses: 2 GB of WAL kept */
	pgfleet__v1__replication_slot__init(&x->old_slot);
	x->old_slot.slot_name = (char *) "slot_old";
	x->old_slot.slot_type = (char *) "physical";
	x->old_slot.restart_lsn = 0x1000000ULL;
	x->old_slot.retained_bytes = 2LL * 1024 * 1024 * 1024;
	x->old_slot.wal_status = (char *) "extended";
	x->slot_pointers[0] = &r.slot;
	x->slot_pointers[1] = &x->old_slot;
	r.replication.slots = x->slot_pointers;
	r.replication.n_slots = 2;
	add_tables(&r, k);
	/* orders: dead tuples past the trigger, inserts past the insert
	 * trigger (its own settings), past the freeze age */
	r.table_rows[0].n_dead_tup = 5000 + k;
	r.table_rows[0].n_ins_since_vacuum = 4000;
	r.table_rows[0].autovacuum_vacuum_insert_threshold = 1000;
	r.table_rows[0].autovacuum_vacuum_insert_scale_factor = 0.25;
	r.table_rows[0].relfrozenxid_age = 250000000 + k;
	/* carts: autovacuum off in its reloptions (add_tables), dead tuples */
	r.table_rows[1].n_dead_tup = 900 * k;
	/* audit: near wraparound */
	r.table_rows[2].relfrozenxid_age = 1800000000 + k;
	r.tables.autovacuum_freeze_max_age = 200000000;
	/* an invalid index, and two doing the same */
	r.index_rows[0].definition = (char *) "CREATE INDEX orders_dup ON public.carts USING btree (user_id)";
	r.index_rows[0].is_unique = false;
	r.index_rows[0].is_primary = false;
	r.index_rows[0].constraint_type = (char *) "";
	r.index_rows[1].definition = (char *) "CREATE INDEX carts_user_idx ON public.carts USING btree (user_id)";
	r.index_rows[2].is_valid = false;
	/* a large, reliable bloat estimate of orders */
	r.estimates[0].real_bytes = 300LL * 1024 * 1024;
	r.estimates[0].bloat_bytes = 200LL * 1024 * 1024 + k;
	r.estimates[0].bloat_ratio = 0.66;
	/* settings in the first and the third report: autovacuum was off */
	if (k != 2)
		ad_add_settings(&r, x, k == 1 ? "off" : "on");
	write_both(f, &r, at + SECOND, false);
}

static void
ad_write_fleet(struct fixture *f)
{
	struct ad_extra x;
	struct test_report r;

	for (int64_t k = 1; k <= 3; k++) {
		int64_t at = f->now_us - (40 - 10 * k) * MINUTE;
		ad_primary(f, &x, k, at);
		init_report(&r, "a1-standby", "7401", "adb2", PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA,
		    "agent-a2", (uint64_t) k, at + SECOND);
		add_statement(&r, 701, "app", k, 11.0, 0.5, "SELECT * FROM carts WHERE user_id = $1");
		add_activity(&r, 5, "report");
		/* lag growing, paused in the newest report */
		add_standby(&r, "adb1", "slot_a1", 8 * 1024 * 1024 * k, 30.0 * (double) k, k == 3);
		add_tables(&r, k);
		write_both(f, &r, at + 2 * SECOND, false);
	}
}

/* Asks request of both stores through api_answer; the packed responses
 * must be the same. Returns the row count of the SQLite answer's
 * `answer` (0 for an error answer). */
static size_t
ad_ask(struct fixture *f, const Pgfleet__V1__Request *request, const char *what)
{
	Pgfleet__V1__Response lite = PGFLEET__V1__RESPONSE__INIT;
	Pgfleet__V1__Response pg = PGFLEET__V1__RESPONSE__INIT;
	size_t rows = 0;

	api_answer(f->lite, request, &lite);
	api_answer(f->pg, request, &pg);
	if (lite.answer_case == PGFLEET__V1__RESPONSE__ANSWER_ERROR)
		fail_msg("%s: sqlite: %s", what, lite.error->message);
	assert_same(what, &lite.base, &pg.base);
	switch (lite.answer_case) {
	case PGFLEET__V1__RESPONSE__ANSWER_VACUUM_ADVICE:
		rows = lite.vacuum_advice->n_rows;
		break;
	case PGFLEET__V1__RESPONSE__ANSWER_REPLICATION_HEALTH:
		rows = lite.replication_health->n_rows;
		break;
	case PGFLEET__V1__RESPONSE__ANSWER_CHECKLIST:
		rows = lite.checklist->n_rows;
		break;
	default:
		break;
	}
	api_response_fini(&lite);
	api_response_fini(&pg);
	return rows;
}

/* The store's /metrics text (the store's part). */
static char *
ad_metrics_text(struct store *store, int64_t now_us)
{
	struct metrics_set set;
	char errbuf[512];
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	metrics_set_init(&set);
	if (store->ops->metrics(store, 100, now_us, &set, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("metrics: %s", errbuf);
	assert_int_equal(metrics_render(&set, out), 0);
	fclose(out);
	metrics_set_fini(&set);
	return text;
}

/* Both stores' /metrics text is the same; own: f is this test's pair
 * (what its reports caused is checked too). */
static void
ad_check_metrics(struct fixture *f, bool own)
{
	char *lite = ad_metrics_text(f->lite, f->now_us);
	char *pg = ad_metrics_text(f->pg, f->now_us);

	if (strcmp(lite, pg) != 0) {
		print_error("sqlite:\n%s\npostgresql:\n%s\n", lite, pg);
		fail_msg("/metrics: the stores answer differently");
	}
	/* what the reports caused: 3 + 6 + 9 calls of 701 on the primary;
	 * the standby's paused replay; the old slot */
	if (own) {
		assert_non_null(strstr(pg, "pg_stat_statements_calls_total{instance=\"a1-primary\","
					   "cluster=\"7401\",datname=\"app\",queryid=\"701\"} 18\n"));
		assert_non_null(strstr(pg, "pgfleet_replication_replay_paused{instance=\"a1-standby\","
					   "cluster=\"7401\"} 1\n"));
		assert_non_null(strstr(pg, "slot_name=\"slot_old\"} 2147483648\n"));
	} else {
		assert_non_null(strstr(pg, "pg_stat_statements_calls_total{instance=\"c1-primary\""));
	}
	free(lite);
	free(pg);
}

static void
ad_check_advice(struct fixture *f)
{
	Pgfleet__V1__Scope scopes[5];
	Pgfleet__V1__VacuumAdviceRequest vacuum = PGFLEET__V1__VACUUM_ADVICE_REQUEST__INIT;
	Pgfleet__V1__ReplicationHealthRequest health = PGFLEET__V1__REPLICATION_HEALTH_REQUEST__INIT;
	Pgfleet__V1__ChecklistRequest checklist = PGFLEET__V1__CHECKLIST_REQUEST__INIT;
	Pgfleet__V1__Request request = PGFLEET__V1__REQUEST__INIT;

	for (int i = 0; i < 5; i++)
		pgfleet__v1__scope__init(&scopes[i]);
	scopes[1].instance = (char *) "a1-primary";
	scopes[2].cluster = (char *) "7401";
	scopes[3].database = (char *) "app";
	/* the first two reports only */
	scopes[4].since_us = f->now_us - 35 * MINUTE;
	scopes[4].until_us = f->now_us - 15 * MINUTE;
	for (int s = 0; s < 5; s++) {
		char what[64];
		size_t rows;

		vacuum.scope = health.scope = checklist.scope = &scopes[s];
		for (int limit = 0; limit < 2; limit++) {
			vacuum.limit = health.limit = checklist.limit = limit == 0 ? 0 : 3;
			request.question_case = PGFLEET__V1__REQUEST__QUESTION_VACUUM_ADVICE;
			request.vacuum_advice = &vacuum;
			snprintf(what, sizeof(what), "vacuum-advice scope %d limit %d", s, limit);
			rows = ad_ask(f, &request, what);
			/* the primary's tables: needs_vacuum, autovacuum_disabled,
			 * bloat, wraparound at least */
			assert_true(rows >= (limit == 0 ? 4u : 3u));
			request.question_case = PGFLEET__V1__REQUEST__QUESTION_REPLICATION_HEALTH;
			request.replication_health = &health;
			snprintf(what, sizeof(what), "replication-health scope %d limit %d", s, limit);
			rows = ad_ask(f, &request, what);
			/* the standby, and the inactive slot (not on a database scope's
			 * instance filter: it has none) */
			if (s != 1)
				assert_true(rows >= 2);
			request.question_case = PGFLEET__V1__REQUEST__QUESTION_CHECKLIST;
			request.checklist = &checklist;
			snprintf(what, sizeof(what), "checklist scope %d limit %d", s, limit);
			rows = ad_ask(f, &request, what);
			assert_true(rows >= (limit == 0 ? 7u : 3u));
		}
	}
	{
		/* what the reports caused, in the PostgreSQL store's facts */
		struct vacuum_fact_set tables;
		struct replication_fact_set replication;
		struct checklist_fact_set facts;
		char errbuf[512];
		bool orders = false;

		memset(&tables, 0, sizeof(tables));
		memset(&replication, 0, sizeof(replication));
		memset(&facts, 0, sizeof(facts));
		if (f->pg->ops->vacuum_facts(f->pg, &scopes[1], &tables, errbuf, sizeof(errbuf)) != PGF_OK ||
		    f->pg->ops->replication_facts(f->pg, &scopes[2], &replication, errbuf,
			sizeof(errbuf)) != PGF_OK ||
		    f->pg->ops->checklist_facts(f->pg, &scopes[1], &facts, errbuf, sizeof(errbuf)) !=
			PGF_OK)
			fail_msg("%s", errbuf);
		for (size_t i = 0; i < tables.n; i++) {
			const struct vacuum_table_fact *t = &tables.rows[i];
			if (strcmp(t->table, "orders") != 0)
				continue;
			orders = true;
			assert_int_equal(t->n_dead_tup, 5003);
			assert_int_equal(t->relfrozenxid_age, 250000003);
			assert_int_equal(t->freeze_max_age, 200000000);
			assert_int_equal(t->server_autovacuum, 1);
			assert_true(t->insert_known);
			assert_int_equal(t->insert_threshold, 1000);
			assert_true(t->insert_scale_factor == 0.25);
			assert_true(t->has_bloat);
			assert_int_equal(t->bloat_bytes, 200LL * 1024 * 1024 + 3);
		}
		assert_true(orders);
		assert_int_equal(replication.n_replicas, 1);
		assert_true(replication.replicas[0].replay_paused);
		assert_int_equal(replication.replicas[0].listed, REPLICATION_LISTED_YES);
		assert_int_equal(replication.replicas[0].n_points, 3);
		assert_int_equal(replication.replicas[0].points[2].lag_bytes, 24 * 1024 * 1024);
		assert_int_equal(replication.n_slots, 2);
		assert_string_equal(replication.slots[1].slot_name, "slot_old");
		assert_false(replication.slots[1].active);
		assert_int_equal(facts.n, 1);
		assert_true(facts.rows[0].statements_extension);
		assert_string_equal(facts.rows[0].autovacuum, "on");
		assert_int_equal(facts.rows[0].tables_autovacuum_off, 1);
		assert_int_equal(facts.rows[0].invalid_indexes, 1);
		assert_int_equal(facts.rows[0].duplicate_indexes, 1);
		assert_int_equal(facts.rows[0].peak_connections, 83);
		assert_int_equal(facts.rows[0].reserved_connections, 3);
		vacuum_fact_set_fini(&tables);
		replication_fact_set_fini(&replication);
		checklist_fact_set_fini(&facts);
	}
}

static void
test_advice(void **state)
{
	struct fixture *shared = *state;
	struct fixture f;
	char spec[1024];
	char errbuf[512];

	/* the shared fixture first: every instance it has, judged alike */
	ad_check_metrics(shared, false);
	{
		Pgfleet__V1__Request request = PGFLEET__V1__REQUEST__INIT;
		Pgfleet__V1__VacuumAdviceRequest vacuum = PGFLEET__V1__VACUUM_ADVICE_REQUEST__INIT;
		Pgfleet__V1__ReplicationHealthRequest health =
		    PGFLEET__V1__REPLICATION_HEALTH_REQUEST__INIT;
		Pgfleet__V1__ChecklistRequest checklist = PGFLEET__V1__CHECKLIST_REQUEST__INIT;
		request.question_case = PGFLEET__V1__REQUEST__QUESTION_VACUUM_ADVICE;
		request.vacuum_advice = &vacuum;
		ad_ask(shared, &request, "shared vacuum-advice");
		request.question_case = PGFLEET__V1__REQUEST__QUESTION_REPLICATION_HEALTH;
		request.replication_health = &health;
		assert_true(ad_ask(shared, &request, "shared replication-health") > 0);
		request.question_case = PGFLEET__V1__REQUEST__QUESTION_CHECKLIST;
		request.checklist = &checklist;
		assert_true(ad_ask(shared, &request, "shared checklist") > 0);
	}
	{
		/* rolled up (nothing deleted): the statements' counters now come
		 * from statement_counters, filled by the triggers, on both */
		const struct store_retention keep = {7 * 24 * 60 * MINUTE, 90 * 24 * 60 * MINUTE,
		    365 * 24 * 60 * MINUTE};
		struct store *stores[2] = {shared->lite, shared->pg};
		char *counters;
		for (int s = 0; s < 2; s++) {
			bool more = true;
			for (int i = 0; more && i < 100; i++)
				if (store_maintain(stores[s], shared->now_us, &keep, &more, errbuf,
					sizeof(errbuf)) != PGF_OK)
					fail_msg("maintain: %s", errbuf);
		}
		counters = sql_value("SELECT count(*) FROM statement_counters");
		assert_true(atoi(counters) > 0);
		free(counters);
		ad_check_metrics(shared, false);
	}

	free(sql_value("DROP SCHEMA IF EXISTS " AD_SCHEMA " CASCADE; CREATE SCHEMA " AD_SCHEMA));
	snprintf(spec, sizeof(spec), "%s%soptions=-csearch_path%%3D" AD_SCHEMA, conninfo(),
	    strchr(conninfo(), '?') != NULL ? "&" : "?");
	memset(&f, 0, sizeof(f));
	f.now_us = shared->now_us;
	assert_int_equal(temp_store_setup(&f.sqlite_state), 0);
	f.lite = ((struct temp_store *) f.sqlite_state)->store;
	if (store_open(spec, false, &f.pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	ad_write_fleet(&f);
	ad_check_advice(&f);
	ad_check_metrics(&f, true);
	store_close(f.pg);
	temp_store_teardown(&f.sqlite_state);
	free(sql_value("DROP SCHEMA " AD_SCHEMA " CASCADE"));
}

#define SP_SCHEMA "pgslow_test"

/* slow-queries over a month of rolled-up history (tests/support/
 * slow_history.c), in a schema of its own: the pruned way answers as the
 * plain way (test_slow_pruning.c's check of the SQLite store), and the
 * op answers as the SQLite store's op */
static void
test_slow_pruning(void **state)
{
	void *sqlite_state = NULL;
	struct store *lite, *pg = NULL;
	char spec[1024], errbuf[512];
	const char *why = "";
	size_t pruned = 0;

	(void) state;
	free(sql_value("DROP SCHEMA IF EXISTS " SP_SCHEMA " CASCADE; CREATE SCHEMA " SP_SCHEMA));
	snprintf(spec, sizeof(spec), "%s%soptions=-csearch_path%%3D" SP_SCHEMA, conninfo(),
	    strchr(conninfo(), '?') != NULL ? "&" : "?");
	assert_int_equal(temp_store_setup(&sqlite_state), 0);
	lite = ((struct temp_store *) sqlite_state)->store;
	if (store_open(spec, false, &pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	if (slow_history_write(lite, errbuf, sizeof(errbuf)) != PGF_OK ||
	    slow_history_write(pg, errbuf, sizeof(errbuf)) != PGF_OK)
		fail_msg("%s", errbuf);
	for (size_t c = 0; c < slow_history_cases(); c++) {
		Pgfleet__V1__SlowQueriesRequest request;
		Pgfleet__V1__Scope scope;
		Pgfleet__V1__SlowQueries plain = PGFLEET__V1__SLOW_QUERIES__INIT;
		Pgfleet__V1__SlowQueries fast = PGFLEET__V1__SLOW_QUERIES__INIT;
		Pgfleet__V1__SlowQueries sqlite = PGFLEET__V1__SLOW_QUERIES__INIT;
		bool answered = false;

		slow_history_case(c, &request, &scope);
		if (store_pg_slow_queries_plain(pg, &request, &plain, errbuf, sizeof(errbuf)) !=
			PGF_OK ||
		    store_pg_slow_queries_pruned(pg, &request, &fast, &answered, errbuf,
			sizeof(errbuf)) != PGF_OK)
			fail_msg("case %zu: %s", c, errbuf);
		if (answered) {
			pruned++;
			if (!slow_history_same(&fast, &plain, &why))
				fail_msg("case %zu: the pruned answer has %s", c, why);
		}
		store_slow_queries_fini(&fast);
		assert_int_equal(store_slow_queries(pg, &request, &fast, errbuf, sizeof(errbuf)),
		    PGF_OK);
		assert_int_equal(store_slow_queries(lite, &request, &sqlite, errbuf,
		    sizeof(errbuf)), PGF_OK);
		if (!slow_history_same(&fast, &sqlite, &why))
			fail_msg("case %zu: the PostgreSQL store's answer has %s", c, why);
		store_slow_queries_fini(&plain);
		store_slow_queries_fini(&fast);
		store_slow_queries_fini(&sqlite);
	}
	/* as on SQLite: limit 200 exceeds the statements, those fall back */
	print_message("pruned %zu of %zu cases\n", pruned, slow_history_cases());
	assert_true(pruned * 2 > slow_history_cases());
	store_close(pg);
	temp_store_teardown(&sqlite_state);
	free(sql_value("DROP SCHEMA " SP_SCHEMA " CASCADE"));
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
		cmocka_unit_test(test_indexes),
		cmocka_unit_test(test_texts),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_rollups),
		cmocka_unit_test(test_pools),
		cmocka_unit_test(test_advice),
		cmocka_unit_test(test_slow_pruning),
		cmocka_unit_test(test_batch_failure),
	};

	pgf_log_init("test_store_pg", PGF_LOG_WARNING);
	return cmocka_run_group_tests(tests, setup, teardown);
}
