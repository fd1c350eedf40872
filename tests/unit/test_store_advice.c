/*
 * test_store_advice.c - the advice facts the SQLite store gathers:
 * reports with tables, settings and replication families go in, the fact
 * sets of vacuum-advice, replication-health and the checklist come out.
 * A replayed older report never replaces newer settings or insert
 * triggers.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/advice.h"
#include "collector/store.h"
#include "common/timeutil.h"

#define SECOND INT64_C(1000000)

struct fixture {
	char dir[64];
	char path[96];
	struct store *store;
};

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char errbuf[512];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pgfleet-test-advice-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (store_open(f->path, false, &f->store, errbuf, sizeof(errbuf)) != PGF_OK) {
		print_error("%s\n", errbuf);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	store_close(f->store);
	rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

/* A report of instance `name` at time ts, with the families given. */
struct report {
	Pgfleet__V1__Report report;
	Pgfleet__V1__InstanceIdentity instance;
	Pgfleet__V1__TablesFamily tables;
	Pgfleet__V1__TableStat table;
	Pgfleet__V1__TableStat *table_pointer;
	Pgfleet__V1__SettingsFamily settings;
	Pgfleet__V1__Setting setting[4];
	Pgfleet__V1__Setting *setting_pointers[4];
	Pgfleet__V1__ReplicationFamily replication;
	Pgfleet__V1__StandbyStatus standby;
	Pgfleet__V1__ReplicaConnection walsender;
	Pgfleet__V1__ReplicaConnection *walsender_pointer;
	Pgfleet__V1__ReplicationSlot slot;
	Pgfleet__V1__ReplicationSlot *slot_pointer;
};

static void
init_report(struct report *r, const char *name, bool standby, uint64_t seq, int64_t ts)
{
	memset(r, 0, sizeof(*r));
	pgfleet__v1__report__init(&r->report);
	pgfleet__v1__instance_identity__init(&r->instance);
	r->report.agent_id = (char *) name;
	r->report.boot_id = (char *) "boot";
	r->report.seq = seq;
	r->report.collected_at_us = ts;
	r->report.instance = &r->instance;
	r->instance.name = (char *) name;
	r->instance.system_identifier = (char *) "7000";
	r->instance.host = (char *) "10.0.0.1";
	r->instance.port = standby ? 5433 : 5432;
	r->instance.server_version_num = 150004;
	r->instance.server_version = (char *) "15.4";
	r->instance.role = standby ? PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_REPLICA
				   : PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
}

static void
add_table(struct report *r, int64_t dead, int64_t insert_threshold)
{
	pgfleet__v1__tables_family__init(&r->tables);
	pgfleet__v1__table_stat__init(&r->table);
	r->table.database = (char *) "app";
	r->table.schema = (char *) "public";
	r->table.table = (char *) "v";
	r->table.n_live_tup = 1000;
	r->table.n_dead_tup = dead;
	r->table.reltuples = 2000;
	r->table.relfrozenxid_age = 1234;
	r->table.autovacuum_enabled = false;
	r->table.autovacuum_vacuum_threshold = 50;
	r->table.autovacuum_vacuum_scale_factor = 0.2;
	r->table.autovacuum_vacuum_insert_threshold = insert_threshold;
	r->table.autovacuum_vacuum_insert_scale_factor = 0.0;
	r->table_pointer = &r->table;
	r->tables.tables = &r->table_pointer;
	r->tables.n_tables = 1;
	r->tables.autovacuum_freeze_max_age = 150000000;
	r->report.tables = &r->tables;
}

static void
add_settings(struct report *r, const char *autovacuum)
{
	/* PG 16's reserved_connections counts as reserved too: 3 + 2 */
	static const char *const names[4] = { "autovacuum", "shared_preload_libraries",
		"superuser_reserved_connections", "reserved_connections" };
	const char *values[4] = { autovacuum, "pg_stat_statements", "3", "2" };

	pgfleet__v1__settings_family__init(&r->settings);
	for (int i = 0; i < 4; i++) {
		pgfleet__v1__setting__init(&r->setting[i]);
		r->setting[i].name = (char *) names[i];
		r->setting[i].setting = (char *) values[i];
		r->setting_pointers[i] = &r->setting[i];
	}
	r->settings.settings = r->setting_pointers;
	r->settings.n_settings = 4;
	r->report.settings = &r->settings;
}

static void
write_one(struct store *store, struct report *r)
{
	char errbuf[512] = "";
	bool duplicate;
	int rv = store_write_report(store, &r->report, r->report.collected_at_us,
	    &duplicate, errbuf, sizeof(errbuf));
	if (rv != PGF_OK)
		fail_msg("store_write_report: %s", errbuf);
}

static void
test_vacuum_facts(void **state)
{
	struct fixture *f = *state;
	struct vacuum_fact_set set;
	struct report r;
	int64_t now = pgf_time_now_us();
	char errbuf[512];

	init_report(&r, "p", false, 1, now - 10 * SECOND);
	add_table(&r, 1000, 100);
	add_settings(&r, "on");
	write_one(f->store, &r);
	/* a replayed older report: other settings, other insert trigger */
	init_report(&r, "p", false, 2, now - 100 * SECOND);
	add_table(&r, 5, 999);
	add_settings(&r, "off");
	write_one(f->store, &r);

	memset(&set, 0, sizeof(set));
	assert_int_equal(
	    f->store->ops->vacuum_facts(f->store, NULL, &set, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.rows[0].instance, "p");
	assert_string_equal(set.rows[0].table, "v");
	assert_int_equal(set.rows[0].n_dead_tup, 1000);
	assert_false(set.rows[0].autovacuum_enabled);
	assert_int_equal(set.rows[0].server_autovacuum, 1);
	assert_true(set.rows[0].insert_known);
	assert_int_equal(set.rows[0].insert_threshold, 100);
	assert_int_equal(set.rows[0].freeze_max_age, 150000000);
	assert_int_equal(set.rows[0].relfrozenxid_age, 1234);
	assert_false(set.rows[0].is_standby);
	assert_false(set.rows[0].has_bloat);
	vacuum_fact_set_fini(&set);
}

static void
test_replication_and_checklist_facts(void **state)
{
	struct fixture *f = *state;
	struct replication_fact_set set;
	struct checklist_fact_set checklist;
	struct report r;
	int64_t now = pgf_time_now_us();
	char errbuf[512];

	/* the primary: one walsender, one inactive slot */
	init_report(&r, "p", false, 1, now - 5 * SECOND);
	pgfleet__v1__replication_family__init(&r.replication);
	pgfleet__v1__replica_connection__init(&r.walsender);
	r.walsender.application_name = (char *) "walreceiver";
	r.walsender.state = (char *) "streaming";
	r.walsender.replay_lag_bytes = 4096;
	r.walsender_pointer = &r.walsender;
	r.replication.replicas = &r.walsender_pointer;
	r.replication.n_replicas = 1;
	pgfleet__v1__replication_slot__init(&r.slot);
	r.slot.slot_name = (char *) "idle_slot";
	r.slot.slot_type = (char *) "physical";
	r.slot.retained_bytes = 123456;
	r.slot.wal_status = (char *) "reserved";
	r.slot_pointer = &r.slot;
	r.replication.slots = &r.slot_pointer;
	r.replication.n_slots = 1;
	r.report.replication = &r.replication;
	add_settings(&r, "on");
	write_one(f->store, &r);
	/* the standby, paused, its lag growing over three reports */
	for (int i = 0; i < 3; i++) {
		init_report(&r, "s", true, (uint64_t) i + 1, now - (3 - i) * SECOND);
		pgfleet__v1__replication_family__init(&r.replication);
		pgfleet__v1__standby_status__init(&r.standby);
		r.standby.receiver_status = (char *) "streaming";
		r.standby.replay_paused = true;
		r.standby.replay_lag_bytes = (i + 1) * 1000000;
		r.standby.upstream_host = (char *) "10.0.0.1";
		r.standby.upstream_port = 5432;
		r.replication.standby = &r.standby;
		r.report.replication = &r.replication;
		write_one(f->store, &r);
	}

	memset(&set, 0, sizeof(set));
	assert_int_equal(f->store->ops->replication_facts(
			     f->store, NULL, &set, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(set.n_replicas, 1);
	assert_string_equal(set.replicas[0].instance, "s");
	assert_string_equal(set.replicas[0].upstream, "p");
	assert_true(set.replicas[0].replay_paused);
	/* the standby's own view (3 MB) is larger than the walsender's */
	assert_int_equal(set.replicas[0].lag_bytes, 3000000);
	assert_int_equal(set.replicas[0].listed, REPLICATION_LISTED_YES);
	assert_int_equal(set.replicas[0].n_points, 3);
	assert_int_equal(set.replicas[0].points[2].lag_bytes, 3000000);
	assert_int_equal(set.n_slots, 1);
	assert_string_equal(set.slots[0].slot_name, "idle_slot");
	assert_false(set.slots[0].active);
	assert_int_equal(set.slots[0].retained_bytes, 123456);
	replication_fact_set_fini(&set);

	memset(&checklist, 0, sizeof(checklist));
	assert_int_equal(f->store->ops->checklist_facts(
			     f->store, NULL, &checklist, errbuf, sizeof(errbuf)),
	    PGF_OK);
	assert_int_equal(checklist.n, 2);
	assert_string_equal(checklist.rows[0].instance, "p");
	assert_true(checklist.rows[0].have_settings);
	assert_string_equal(
	    checklist.rows[0].shared_preload_libraries, "pg_stat_statements");
	assert_string_equal(checklist.rows[0].autovacuum, "on");
	assert_int_equal(checklist.rows[0].reserved_connections, 5);
	assert_int_equal(checklist.rows[0].walsenders, 1);
	assert_int_equal(checklist.rows[0].streaming_walsenders, 1);
	assert_false(checklist.rows[0].is_standby);
	assert_string_equal(checklist.rows[1].instance, "s");
	assert_true(checklist.rows[1].is_standby);
	assert_false(checklist.rows[1].have_settings);
	assert_null(checklist.rows[1].autovacuum);
	assert_string_equal(checklist.rows[1].receiver_status, "streaming");
	checklist_fact_set_fini(&checklist);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vacuum_facts, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_replication_and_checklist_facts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
