/*
 * test_ingest.c - what the collector does with bytes from an agent:
 * ingest_validate on good and bad reports, and ingest_report's Ack and
 * counters for garbage, oversized, invalid, good and resent reports, on a
 * real SQLite store in a temporary directory.
 */
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "collector/ingest.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/wire.h"

/* A report and everything it points to, in one place. */
struct report_parts {
	Pgfleet__V1__Report report;
	Pgfleet__V1__InstanceIdentity instance;
	Pgfleet__V1__StatementsFamily family;
	Pgfleet__V1__StatementDelta deltas[2];
	Pgfleet__V1__StatementDelta *pointers[2];
};

static uint8_t select_text[] = "SELECT * FROM t WHERE id = $1";

/* good_report fills p with a report ingest_validate accepts. */
static void
good_report(struct report_parts *p)
{
	pgfleet__v1__report__init(&p->report);
	pgfleet__v1__instance_identity__init(&p->instance);
	pgfleet__v1__statements_family__init(&p->family);
	p->report.agent_id = (char *) "0123456789abcdef0123456789abcdef";
	p->report.boot_id = (char *) "fedcba9876543210fedcba9876543210";
	p->report.seq = 1;
	p->report.collected_at_us = 1700000060000000LL;
	p->report.agent_version = (char *) "0.1.0";
	p->report.instance = &p->instance;
	p->report.statements = &p->family;
	p->instance.name = (char *) "db1:5432";
	p->instance.system_identifier = (char *) "7300000000000000001";
	p->instance.host = (char *) "db1";
	p->instance.port = 5432;
	p->instance.server_version_num = 160004;
	p->instance.server_version = (char *) "16.4";
	p->instance.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	p->family.interval_start_us = 1700000000000000LL;
	p->family.interval_end_us = 1700000060000000LL;
	for (size_t i = 0; i < 2; i++) {
		Pgfleet__V1__StatementDelta *d = &p->deltas[i];
		pgfleet__v1__statement_delta__init(d);
		d->queryid = 1000 + (int64_t) i;
		d->dbid = 16384;
		d->datname = (char *) "app";
		d->userid = 10;
		d->username = (char *) "web";
		d->toplevel = true;
		d->calls = 3;
		d->total_exec_time_ms = 4.5;
		d->sum_sq_exec_time_ms2 = 7.25;
		d->max_exec_time_ms = 2.0;
		d->rows = 3;
		p->pointers[i] = d;
	}
	p->deltas[0].query.data = select_text;
	p->deltas[0].query.len = sizeof(select_text) - 1;
	p->family.statements = p->pointers;
	p->family.n_statements = 2;
}

/* pack returns report's encoding, malloc'd. */
static uint8_t *
pack(const Pgfleet__V1__Report *report, size_t *len)
{
	uint8_t *data;
	*len = pgfleet__v1__report__get_packed_size(report);
	data = malloc(*len > 0 ? *len : 1);
	assert_non_null(data);
	assert_int_equal(pgfleet__v1__report__pack(report, data), *len);
	return data;
}

/* text_of makes a NUL-terminated run of len 'x' in buf (len + 1 bytes). */
static char *
text_of(char *buf, size_t len)
{
	memset(buf, 'x', len);
	buf[len] = '\0';
	return buf;
}

/* refused checks that ingest_validate refuses report with a reason that
 * contains want. */
static void
refused(const Pgfleet__V1__Report *report, const char *want)
{
	char errbuf[512] = "";
	assert_false(ingest_validate(report, errbuf, sizeof(errbuf)));
	if (strstr(errbuf, want) == NULL) {
		print_error("reason \"%s\" does not contain \"%s\"\n", errbuf, want);
		fail();
	}
}

static void
test_validate_accepts_good(void **state)
{
	struct report_parts p;
	char errbuf[512] = "";
	char name[INGEST_MAX_NAME + 1];
	char id[INGEST_MAX_ID + 1];
	(void) state;

	good_report(&p);
	assert_true(ingest_validate(&p.report, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "");

	/* no statements family, and an unreachable report, are fine too */
	p.report.statements = NULL;
	p.report.unreachable_reason = (char *) "could not connect: timeout";
	assert_true(ingest_validate(&p.report, errbuf, sizeof(errbuf)));

	/* limits are inclusive; the largest seq is INT64_MAX */
	good_report(&p);
	p.report.agent_id = text_of(id, INGEST_MAX_ID);
	p.instance.name = text_of(name, INGEST_MAX_NAME);
	p.deltas[1].datname = name;
	p.report.seq = (uint64_t) INT64_MAX;
	assert_true(ingest_validate(&p.report, errbuf, sizeof(errbuf)));

	/* zero counters are not negative */
	good_report(&p);
	p.deltas[0].calls = 0;
	p.deltas[0].rows = 0;
	p.deltas[0].total_exec_time_ms = 0.0;
	p.deltas[0].sum_sq_exec_time_ms2 = 0.0;
	assert_true(ingest_validate(&p.report, errbuf, sizeof(errbuf)));
}

static void
test_validate_refuses_bad_ids(void **state)
{
	struct report_parts p;
	char id[INGEST_MAX_ID + 2];
	(void) state;

	good_report(&p);
	p.report.agent_id = (char *) "";
	refused(&p.report, "agent_id");
	p.report.agent_id = text_of(id, INGEST_MAX_ID + 1);
	refused(&p.report, "agent_id");

	good_report(&p);
	p.report.boot_id = text_of(id, INGEST_MAX_ID + 1);
	refused(&p.report, "boot_id");
	p.report.boot_id = (char *) "";
	refused(&p.report, "boot_id");

	good_report(&p);
	p.report.seq = 0;
	refused(&p.report, "seq 0 is out of range");
	p.report.seq = (uint64_t) INT64_MAX + 1;
	refused(&p.report, "out of range");
}

static void
test_validate_refuses_bad_instance(void **state)
{
	struct report_parts p;
	char text[1100];
	(void) state;

	good_report(&p);
	p.report.instance = NULL;
	refused(&p.report, "instance name");

	good_report(&p);
	p.instance.name = (char *) "";
	refused(&p.report, "instance name");
	p.instance.name = text_of(text, INGEST_MAX_NAME + 1);
	refused(&p.report, "instance name");

	good_report(&p);
	p.instance.system_identifier = text_of(text, INGEST_MAX_ID + 1);
	refused(&p.report, "too long");
	good_report(&p);
	p.instance.host = text_of(text, INGEST_MAX_NAME + 1);
	refused(&p.report, "too long");
	good_report(&p);
	p.report.unreachable_reason = text_of(text, 1025);
	refused(&p.report, "too long");
}

/* Families without their own checks are bounded by the generic walk. */
static void
test_validate_bounds_every_family(void **state)
{
	struct report_parts p;
	Pgfleet__V1__TablesFamily tables = PGFLEET__V1__TABLES_FAMILY__INIT;
	Pgfleet__V1__TableStat table = PGFLEET__V1__TABLE_STAT__INIT;
	Pgfleet__V1__TableStat *rows[1] = {&table};
	Pgfleet__V1__ActivityFamily activity = PGFLEET__V1__ACTIVITY_FAMILY__INIT;
	Pgfleet__V1__Backend backend = PGFLEET__V1__BACKEND__INIT;
	Pgfleet__V1__Backend *backends[1] = {&backend};
	char *long_name = malloc(65538);
	uint8_t *long_query = malloc(INGEST_MAX_QUERY_TEXT + 1);
	char errbuf[256];
	(void) state;

	assert_non_null(long_name);
	assert_non_null(long_query);
	memset(long_name, 'x', 65537);
	long_name[65537] = '\0';
	good_report(&p);
	tables.tables = rows;
	tables.n_tables = 1;
	table.table = (char *) "orders";
	p.report.tables = &tables;
	assert_true(ingest_validate(&p.report, errbuf, sizeof(errbuf)));
	table.table = long_name;
	refused(&p.report, "TableStat.table is longer than 65536 bytes");

	good_report(&p);
	activity.long_running = backends;
	activity.n_long_running = 1;
	backend.query.data = long_query;
	backend.query.len = INGEST_MAX_QUERY_TEXT + 1;
	p.report.activity = &activity;
	refused(&p.report, "Backend.query is longer than");
	backend.query.len = 10;
	memset(long_query, 'q', 10);
	assert_true(ingest_validate(&p.report, errbuf, sizeof(errbuf)));
	free(long_name);
	free(long_query);
}

static void
test_validate_refuses_bad_statements(void **state)
{
	struct report_parts p;
	char name[INGEST_MAX_NAME + 2];
	(void) state;

	good_report(&p);
	p.deltas[1].calls = -1;
	refused(&p.report, "statement 1001 has a negative counter");
	good_report(&p);
	p.deltas[0].rows = -5;
	refused(&p.report, "statement 1000 has a negative counter");
	good_report(&p);
	p.deltas[0].total_exec_time_ms = -0.001;
	refused(&p.report, "negative counter");
	good_report(&p);
	p.deltas[0].sum_sq_exec_time_ms2 = -1.0;
	refused(&p.report, "negative counter");
	/* NaN is not a counter either */
	good_report(&p);
	p.deltas[0].total_exec_time_ms = NAN;
	refused(&p.report, "negative counter");

	good_report(&p);
	p.deltas[1].datname = text_of(name, INGEST_MAX_NAME + 1);
	refused(&p.report, "statement 1001 has a name that is too long");
	good_report(&p);
	p.deltas[0].username = text_of(name, INGEST_MAX_NAME + 1);
	refused(&p.report, "name that is too long");

	/* sizes are checked before anything is read */
	good_report(&p);
	p.deltas[0].query.len = INGEST_MAX_QUERY_TEXT + 1;
	refused(&p.report, "text, more than");
	good_report(&p);
	p.family.n_statements = INGEST_MAX_STATEMENTS + 1;
	refused(&p.report, "statements, more than");
}

/* ---- ingest_report against a real store ---- */

struct fixture {
	char dir[64];
	char path[128];
	struct store *store;
};

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static int
open_store(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char errbuf[512];
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pgfleet-test-ingest-XXXXXX");
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
close_store(void **state)
{
	struct fixture *f = *state;
	int rc;
	store_close(f->store);
	rc = nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static void
assert_counters(const struct ingest_counters *c, uint64_t received, uint64_t stored,
    uint64_t duplicates, uint64_t rejected, uint64_t retry_later)
{
	assert_int_equal(c->received, received);
	assert_int_equal(c->stored, stored);
	assert_int_equal(c->duplicates, duplicates);
	assert_int_equal(c->rejected, rejected);
	assert_int_equal(c->retry_later, retry_later);
}

static void
test_report_garbage(void **state)
{
	struct fixture *f = *state;
	/* field 1 says 16 bytes follow; 3 do */
	static const uint8_t garbage[] = { 0x0a, 0x10, 'a', 'b', 'c' };
	/* wire type 7 does not exist */
	static const uint8_t bad_type[] = { 0x0f, 0x01 };
	struct ingest_counters counters = { 0 };
	Pgfleet__V1__Ack ack;

	ingest_report(f->store, garbage, sizeof(garbage), 1024, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_REJECTED);
	assert_non_null(strstr(ack.reason, "could not decode a 5-byte report"));
	assert_string_equal(ack.agent_id, "");
	assert_int_equal(ack.seq, 0);
	assert_false(ack.duplicate);
	assert_counters(&counters, 1, 0, 0, 1, 0);
	ingest_ack_fini(&ack);

	ingest_report(f->store, bad_type, sizeof(bad_type), 1024, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_REJECTED);
	assert_counters(&counters, 2, 0, 0, 2, 0);
	ingest_ack_fini(&ack);
}

static void
test_report_oversized(void **state)
{
	struct fixture *f = *state;
	struct report_parts p;
	struct ingest_counters counters = { 0 };
	Pgfleet__V1__Ack ack;
	uint8_t *data;
	size_t len;

	good_report(&p);
	data = pack(&p.report, &len);
	ingest_report(f->store, data, len, len - 1, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_REJECTED);
	assert_non_null(strstr(ack.reason, pgf_error_text(PGF_ETOOBIG)));
	assert_counters(&counters, 1, 0, 0, 1, 0);
	ingest_ack_fini(&ack);

	/* exactly the limit is fine */
	ingest_report(f->store, data, len, len, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	assert_counters(&counters, 2, 1, 0, 1, 0);
	ingest_ack_fini(&ack);
	free(data);
}

static void
test_report_invalid(void **state)
{
	struct fixture *f = *state;
	struct report_parts p;
	struct ingest_counters counters = { 0 };
	Pgfleet__V1__Ack ack;
	uint8_t *data;
	size_t len;

	good_report(&p);
	p.deltas[1].rows = -1;
	p.report.seq = 9;
	data = pack(&p.report, &len);
	ingest_report(f->store, data, len, PGF_WIRE_MAX_MESSAGE, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_REJECTED);
	/* the key is echoed so the agent can drop the report */
	assert_string_equal(ack.agent_id, p.report.agent_id);
	assert_string_equal(ack.boot_id, p.report.boot_id);
	assert_int_equal(ack.seq, 9);
	assert_string_equal(ack.reason, "statement 1001 has a negative counter");
	assert_counters(&counters, 1, 0, 0, 1, 0);
	ingest_ack_fini(&ack);
	free(data);
}

static void
test_report_stored_once(void **state)
{
	struct fixture *f = *state;
	struct report_parts p;
	struct ingest_counters counters = { 0 };
	Pgfleet__V1__Ack ack;
	Pgfleet__V1__SlowQueriesRequest request;
	Pgfleet__V1__SlowQueries answer;
	char errbuf[512];
	uint8_t *data;
	size_t len;

	good_report(&p);
	p.report.seq = 42;
	data = pack(&p.report, &len);
	ingest_report(f->store, data, len, PGF_WIRE_MAX_MESSAGE, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	assert_false(ack.duplicate);
	assert_string_equal(ack.agent_id, p.report.agent_id);
	assert_string_equal(ack.boot_id, p.report.boot_id);
	assert_int_equal(ack.seq, 42);
	assert_string_equal(ack.reason, "");
	assert_counters(&counters, 1, 1, 0, 0, 0);
	/* statement 1001 came without a text the store has: asked for */
	assert_int_equal(ack.n_missing_query_texts, 1);
	assert_int_equal(ack.missing_query_texts[0], 1001);
	ingest_ack_fini(&ack);

	ingest_report(f->store, data, len, PGF_WIRE_MAX_MESSAGE, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	assert_true(ack.duplicate);
	assert_int_equal(ack.seq, 42);
	assert_counters(&counters, 2, 1, 1, 0, 0);
	ingest_ack_fini(&ack);
	free(data);

	/* the next report sends neither text: only the one never stored is
	 * asked for, once */
	good_report(&p);
	p.report.seq = 43;
	p.deltas[0].query.len = 0;
	p.deltas[0].query.data = NULL;
	data = pack(&p.report, &len);
	ingest_report(f->store, data, len, PGF_WIRE_MAX_MESSAGE, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	assert_int_equal(ack.n_missing_query_texts, 1);
	assert_int_equal(ack.missing_query_texts[0], 1001);
	ingest_ack_fini(&ack);
	free(data);

	/* the store has each report once: two reports of 3 calls each */
	pgfleet__v1__slow_queries_request__init(&request);
	pgfleet__v1__slow_queries__init(&answer);
	request.order = PGFLEET__V1__SLOW_QUERIES_REQUEST__ORDER__ORDER_CALLS;
	assert_int_equal(store_slow_queries(f->store, &request, &answer, errbuf,
	    sizeof(errbuf)), PGF_OK);
	assert_int_equal(answer.n_rows, 2);
	for (size_t i = 0; i < answer.n_rows; i++) {
		assert_int_equal(answer.rows[i]->calls, 6);
		assert_string_equal(answer.rows[i]->instance, "db1:5432");
	}
	assert_int_equal(answer.rows[0]->queryid, 1000);
	assert_string_equal(answer.rows[0]->query, (const char *) select_text);
	store_slow_queries_fini(&answer);
}

static void
test_report_retry_when_store_fails(void **state)
{
	struct fixture *f = *state;
	struct store *reader = NULL;
	struct report_parts p;
	struct ingest_counters counters = { 0 };
	Pgfleet__V1__Ack ack;
	char errbuf[512];
	uint8_t *data;
	size_t len;

	/* a read-only handle cannot write: nothing stored, try again later */
	assert_int_equal(store_open(f->path, true, &reader, errbuf, sizeof(errbuf)), PGF_OK);
	good_report(&p);
	data = pack(&p.report, &len);
	ingest_report(reader, data, len, PGF_WIRE_MAX_MESSAGE, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_RETRY_AFTER);
	assert_int_equal(ack.retry_after_ms, 2000);
	assert_false(ack.duplicate);
	assert_int_equal(ack.seq, 1);
	assert_true(ack.reason[0] != '\0');
	assert_counters(&counters, 1, 0, 0, 0, 1);
	ingest_ack_fini(&ack);
	store_close(reader);

	/* the writer stores it afterwards as new */
	ingest_report(f->store, data, len, PGF_WIRE_MAX_MESSAGE, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	assert_false(ack.duplicate);
	assert_counters(&counters, 2, 1, 0, 0, 1);
	ingest_ack_fini(&ack);
	free(data);
}

/* Reports in a store batch: stored only when the batch commits; a batch
 * undone turns the acks of the reports it stored into RETRY_AFTER, and the
 * agents' second sending stores them as new. Duplicates stand. */
static void
test_batch_commit_and_undo(void **state)
{
	struct fixture *f = *state;
	struct report_parts p;
	struct ingest_counters counters = { 0 };
	Pgfleet__V1__Ack first, second, again;
	char errbuf[512];
	uint8_t *one, *two;
	size_t one_len, two_len;

	good_report(&p);
	one = pack(&p.report, &one_len);
	p.report.seq = 2;
	two = pack(&p.report, &two_len);

	/* a batch that is undone: nothing stored, both acks corrected */
	assert_int_equal(store_batch_begin(f->store, errbuf, sizeof(errbuf)), PGF_OK);
	ingest_report(f->store, one, one_len, PGF_WIRE_MAX_MESSAGE, &counters, &first);
	ingest_report(f->store, two, two_len, PGF_WIRE_MAX_MESSAGE, &counters, &second);
	assert_int_equal(first.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	assert_int_equal(store_batch_end(f->store, false, errbuf, sizeof(errbuf)), PGF_OK);
	ingest_batch_failed(&first, &counters, "the batch was not committed");
	ingest_batch_failed(&second, &counters, "the batch was not committed");
	assert_int_equal(first.status, PGFLEET__V1__ACK__STATUS__STATUS_RETRY_AFTER);
	assert_int_equal(second.status, PGFLEET__V1__ACK__STATUS__STATUS_RETRY_AFTER);
	assert_string_equal(first.reason, "the batch was not committed");
	assert_counters(&counters, 2, 0, 0, 0, 2);
	ingest_ack_fini(&first);
	ingest_ack_fini(&second);

	/* sent again in a batch that commits: stored as new, once; the same
	 * report twice in one batch is a duplicate the second time */
	assert_int_equal(store_batch_begin(f->store, errbuf, sizeof(errbuf)), PGF_OK);
	ingest_report(f->store, one, one_len, PGF_WIRE_MAX_MESSAGE, &counters, &first);
	ingest_report(f->store, two, two_len, PGF_WIRE_MAX_MESSAGE, &counters, &second);
	ingest_report(f->store, two, two_len, PGF_WIRE_MAX_MESSAGE, &counters, &again);
	assert_int_equal(store_batch_end(f->store, true, errbuf, sizeof(errbuf)), PGF_OK);
	assert_int_equal(first.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	assert_false(first.duplicate);
	assert_false(second.duplicate);
	assert_true(again.duplicate);
	assert_counters(&counters, 5, 2, 1, 0, 2);
	/* a duplicate's ack stands even when a batch fails: it was stored
	 * before */
	ingest_batch_failed(&again, &counters, "the batch was not committed");
	assert_int_equal(again.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	ingest_ack_fini(&first);
	ingest_ack_fini(&second);
	ingest_ack_fini(&again);

	/* and they are there, once each */
	ingest_report(f->store, one, one_len, PGF_WIRE_MAX_MESSAGE, &counters, &first);
	assert_true(first.duplicate);
	ingest_ack_fini(&first);
	free(one);
	free(two);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_accepts_good),
		cmocka_unit_test(test_validate_refuses_bad_ids),
		cmocka_unit_test(test_validate_refuses_bad_instance),
		cmocka_unit_test(test_validate_refuses_bad_statements),
		cmocka_unit_test(test_validate_bounds_every_family),
		cmocka_unit_test_setup_teardown(test_report_garbage, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_report_oversized, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_report_invalid, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_report_stored_once, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_batch_commit_and_undo, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_report_retry_when_store_fails, open_store,
		    close_store),
	};
	/* rejected reports are logged as warnings; keep the output to failures */
	pgf_log_init("test_ingest", PGF_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
