/* test_agent_auth.c - the agent tokens file, the constant-time compare,
 * loopback detection, the integrity check refusal and the gate's verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "collector/admin_auth.h"
#include "collector/agent_auth.h"
#include "collector/agent_gate.h"
#include "collector/ingest.h"
#include "collector/store_check.h"
#include "tests/support/temp_store.h"

#define TOKEN_A "aaaaaaaaaaaaaaaa-1"
#define TOKEN_B "bbbbbbbbbbbbbbbb-2"

static char dir[] = "/tmp/pgfleet-auth.XXXXXX";

static const char *
write_file(const char *name, const char *body, mode_t mode)
{
	static char path[256];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(body, 1, strlen(body), f), strlen(body));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static struct agent_auth *
parse_ok(const char *text)
{
	struct agent_auth *auth = NULL;
	char err[256] = "";
	int rv = agent_auth_parse(text, strlen(text), "tokens", &auth, err, sizeof(err));
	if (rv != PGF_OK)
		fail_msg("unexpected error: %s", err);
	return auth;
}

static void
parse_fails(const char *text, const char *expected)
{
	struct agent_auth *auth = NULL;
	char err[256] = "";
	assert_int_equal(agent_auth_parse(text, strlen(text), "tokens", &auth, err, sizeof(err)),
	    PGF_ECONFIG);
	assert_null(auth);
	if (strstr(err, expected) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, expected);
}

static void
test_parse_lines_comments_blanks(void **state)
{
	struct agent_auth *auth = parse_ok("# fleet tokens\n"
					   "\n"
					   "db-2 " TOKEN_B "\r\n"
					   "   # indented comment\n"
					   "db-1\t" TOKEN_A "   \n"
					   "db-3 cccccccccccccccccccc"); /* no final newline */
	(void) state;
	assert_int_equal(agent_auth_count(auth), 3);
	assert_int_equal(agent_auth_check(auth, "db-1", TOKEN_A), AGENT_AUTH_OK);
	assert_int_equal(agent_auth_check(auth, "db-2", TOKEN_B), AGENT_AUTH_OK);
	assert_int_equal(agent_auth_check(auth, "db-3", "cccccccccccccccccccc"), AGENT_AUTH_OK);
	/* another instance's token is wrong */
	assert_int_equal(agent_auth_check(auth, "db-1", TOKEN_B), AGENT_AUTH_WRONG_TOKEN);
	assert_int_equal(agent_auth_check(auth, "db-1", ""), AGENT_AUTH_WRONG_TOKEN);
	assert_int_equal(agent_auth_check(auth, "db-1", NULL), AGENT_AUTH_WRONG_TOKEN);
	/* a prefix or an extension of the token is wrong too */
	assert_int_equal(agent_auth_check(auth, "db-1", "aaaaaaaaaaaaaaaa-"),
	    AGENT_AUTH_WRONG_TOKEN);
	assert_int_equal(agent_auth_check(auth, "db-1", TOKEN_A "x"), AGENT_AUTH_WRONG_TOKEN);
	assert_int_equal(agent_auth_check(auth, "db-9", TOKEN_A), AGENT_AUTH_UNKNOWN_INSTANCE);
	assert_int_equal(agent_auth_check(NULL, "db-1", TOKEN_A), AGENT_AUTH_UNKNOWN_INSTANCE);
	agent_auth_free(auth);

	/* only comments: a table that refuses everyone */
	auth = parse_ok("# nobody yet\n");
	assert_int_equal(agent_auth_count(auth), 0);
	assert_int_equal(agent_auth_check(auth, "db-1", TOKEN_A), AGENT_AUTH_UNKNOWN_INSTANCE);
	agent_auth_free(auth);
}

static void
test_parse_errors_name_the_line(void **state)
{
	(void) state;
	parse_fails("db-1 " TOKEN_A "\ndb-2\n", "tokens:2: expected \"INSTANCE_NAME TOKEN\" (no token)");
	parse_fails("db-1 " TOKEN_A " extra\n", "tokens:1: expected \"INSTANCE_NAME TOKEN\" (more than two fields)");
	parse_fails("\n\ndb-1 short\n", "tokens:3: the token of instance \"db-1\" is shorter than 16");
	parse_fails("db-1 " TOKEN_A "\ndb-2 " TOKEN_B "\ndb-1 " TOKEN_B "\n",
	    "tokens:3: instance \"db-1\" is listed twice (first on line 1)");
	{
		char nul[] = "db-1 " TOKEN_A "\0x";
		struct agent_auth *auth = NULL;
		char err[256];
		assert_int_equal(agent_auth_parse(nul, sizeof(nul) - 1, "tokens", &auth, err,
				     sizeof(err)),
		    PGF_ECONFIG);
		assert_non_null(strstr(err, "NUL byte"));
	}
	{
		char line[AGENT_AUTH_MAX_LINE + 10];
		memset(line, 'x', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\0';
		parse_fails(line, "tokens:1: line is longer than");
	}
}

static void
test_load_refuses_world_readable(void **state)
{
	struct agent_auth *auth = NULL;
	char err[256] = "";
	const char *path = write_file("tokens-world", "db-1 " TOKEN_A "\n", 0644);
	(void) state;
	assert_int_equal(agent_auth_load(path, &auth, err, sizeof(err)), PGF_ECONFIG);
	assert_null(auth);
	assert_non_null(strstr(err, "others can read it"));
	assert_non_null(strstr(err, "0644"));
	path = write_file("tokens-ok", "db-1 " TOKEN_A "\n", 0640);
	assert_int_equal(agent_auth_load(path, &auth, err, sizeof(err)), PGF_OK);
	assert_int_equal(agent_auth_check(auth, "db-1", TOKEN_A), AGENT_AUTH_OK);
	agent_auth_free(auth);
	{
		char missing[300];
		snprintf(missing, sizeof(missing), "%s/missing", dir);
		assert_int_equal(agent_auth_load(missing, &auth, err, sizeof(err)), PGF_ECONFIG);
	}
	assert_non_null(strstr(err, "could not open agent tokens file"));
}

static void
test_token_equal(void **state)
{
	(void) state;
	assert_true(agent_auth_token_equal("abc", "abc"));
	assert_true(agent_auth_token_equal("", ""));
	assert_true(agent_auth_token_equal(NULL, ""));
	assert_false(agent_auth_token_equal("abd", "abc"));
	assert_false(agent_auth_token_equal("xbc", "abc"));
	assert_false(agent_auth_token_equal("ab", "abc"));
	assert_false(agent_auth_token_equal("abcd", "abc"));
	assert_false(agent_auth_token_equal("", "abc"));
	assert_false(agent_auth_token_equal(NULL, "abc"));
}

/* The compare's time does not depend on where the guess goes wrong: a
 * guess wrong at the first byte and one wrong at the last take the same
 * time within noise (medians of many runs; generous bound, 2 cores shared). */
static void
test_token_equal_time_is_flat(void **state)
{
	enum { LEN = 1024, ROUNDS = 31, REPS = 200 };
	static char expected[LEN + 1], early[LEN + 1], late[LEN + 1];
	double t_early[ROUNDS], t_late[ROUNDS];
	(void) state;

	memset(expected, 'k', LEN);
	memcpy(early, expected, LEN + 1);
	memcpy(late, expected, LEN + 1);
	early[0] = 'x';
	late[LEN - 1] = 'x';
	for (int r = 0; r < ROUNDS; r++) {
		struct timespec a, b, c;
		volatile bool sink = false;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < REPS; i++)
			sink ^= agent_auth_token_equal(early, expected);
		clock_gettime(CLOCK_MONOTONIC, &b);
		for (int i = 0; i < REPS; i++)
			sink ^= agent_auth_token_equal(late, expected);
		clock_gettime(CLOCK_MONOTONIC, &c);
		(void) sink;
		t_early[r] = (double) (b.tv_sec - a.tv_sec) * 1e9 + (double) (b.tv_nsec - a.tv_nsec);
		t_late[r] = (double) (c.tv_sec - b.tv_sec) * 1e9 + (double) (c.tv_nsec - b.tv_nsec);
	}
	/* medians */
	for (int i = 0; i < ROUNDS; i++)
		for (int j = i + 1; j < ROUNDS; j++) {
			if (t_early[j] < t_early[i]) {
				double t = t_early[i];
				t_early[i] = t_early[j];
				t_early[j] = t;
			}
			if (t_late[j] < t_late[i]) {
				double t = t_late[i];
				t_late[i] = t_late[j];
				t_late[j] = t;
			}
		}
	/* a short-circuit compare would make "early" ~1000x faster */
	if (t_early[ROUNDS / 2] * 3 < t_late[ROUNDS / 2])
		fail_msg("early mismatch %.0f ns, late mismatch %.0f ns: the compare stops early",
		    t_early[ROUNDS / 2], t_late[ROUNDS / 2]);
}

static void
test_loopback_detection(void **state)
{
	char remote[128];
	(void) state;
	assert_true(admin_auth_host_is_loopback("127.0.0.1"));
	assert_true(admin_auth_host_is_loopback("127.9.8.7"));
	assert_true(admin_auth_host_is_loopback("::1"));
	assert_true(admin_auth_host_is_loopback("::ffff:127.0.0.1"));
	assert_true(admin_auth_host_is_loopback("localhost"));
	assert_false(admin_auth_host_is_loopback("128.0.0.1"));
	assert_false(admin_auth_host_is_loopback("0.0.0.0"));
	assert_false(admin_auth_host_is_loopback("::"));
	assert_false(admin_auth_host_is_loopback("10.1.2.3"));
	assert_false(admin_auth_host_is_loopback("collector.example"));
	assert_false(admin_auth_host_is_loopback(""));

	assert_true(admin_auth_nng_address_is_local("ipc:///tmp/pgfleet.sock"));
	assert_true(admin_auth_nng_address_is_local("inproc://x"));
	assert_true(admin_auth_nng_address_is_local("tcp://127.0.0.1:7451"));
	assert_true(admin_auth_nng_address_is_local("tcp://[::1]:7451"));
	assert_true(admin_auth_nng_address_is_local("tcp4://localhost:7451"));
	assert_true(admin_auth_nng_address_is_local("tls+tcp://127.0.0.1:7451"));
	assert_true(admin_auth_nng_address_is_local("ws://127.0.0.1:80/api"));
	assert_false(admin_auth_nng_address_is_local("tcp://0.0.0.0:7451"));
	assert_false(admin_auth_nng_address_is_local("tcp://:7451"));
	assert_false(admin_auth_nng_address_is_local("tcp://*:7451"));
	assert_false(admin_auth_nng_address_is_local("tcp://[::]:7451"));
	assert_false(admin_auth_nng_address_is_local("tcp://10.0.0.5:7451"));
	assert_false(admin_auth_nng_address_is_local("tls+tcp://collector.example:7451"));
	assert_false(admin_auth_nng_address_is_local("ws://0.0.0.0:80/api"));
	assert_false(admin_auth_nng_address_is_local("garbage"));

	assert_true(admin_auth_nng_list_is_local(
	    "ipc:///tmp/a.sock, tcp://127.0.0.1:7451", remote, sizeof(remote)));
	assert_string_equal(remote, "");
	assert_false(admin_auth_nng_list_is_local(
	    "ipc:///tmp/a.sock, tcp://0.0.0.0:7451,tcp://127.0.0.1:1", remote, sizeof(remote)));
	assert_string_equal(remote, "tcp://0.0.0.0:7451");

	assert_true(admin_auth_http_is_local(""));
	assert_true(admin_auth_http_is_local("127.0.0.1:7452"));
	assert_true(admin_auth_http_is_local("[::1]:7452"));
	assert_true(admin_auth_http_is_local("localhost:7452"));
	assert_false(admin_auth_http_is_local("0.0.0.0:7452"));
	assert_false(admin_auth_http_is_local(":7452"));
	assert_false(admin_auth_http_is_local("[::]:7452"));
	assert_false(admin_auth_http_is_local("192.168.1.4:7452"));
}

/* The gate: tokens first (REJECTED "unauthorized"), then the rate. */
static void
test_gate_verdicts(void **state)
{
	struct agent_gate_options options = {
		.tokens_file = write_file("gate-tokens", "db-1 " TOKEN_A "\n", 0600),
		.reports_per_second = 10,
		.burst = 2,
	};
	struct agent_gate *gate = NULL;
	char err[256] = "";
	uint32_t retry = 0;
	uint64_t unauthorized = 0, limited = 0;
	(void) state;

	assert_int_equal(agent_gate_new(&options, &gate, err, sizeof(err)), PGF_OK);
	assert_true(agent_gate_checks_tokens(gate));
	assert_int_equal(agent_gate_report(gate, "a1", "db-1", TOKEN_B, 1000, &retry),
	    AGENT_GATE_UNAUTHORIZED);
	assert_int_equal(retry, AGENT_GATE_UNAUTHORIZED_RETRY_MS);
	assert_int_equal(agent_gate_report(gate, "a1", "db-2", TOKEN_A, 1000, &retry),
	    AGENT_GATE_UNAUTHORIZED);
	/* unauthorized reports take no token from the bucket */
	assert_int_equal(agent_gate_report(gate, "a1", "db-1", TOKEN_A, 1000, &retry),
	    AGENT_GATE_ADMIT);
	assert_int_equal(agent_gate_report(gate, "a1", "db-1", TOKEN_A, 1000, &retry),
	    AGENT_GATE_ADMIT);
	assert_int_equal(agent_gate_report(gate, "a1", "db-1", TOKEN_A, 1000, &retry),
	    AGENT_GATE_RATE_LIMITED);
	assert_int_equal(retry, 100);
	assert_true(agent_gate_poll(gate, "a1", "db-1", TOKEN_A, 1000));
	assert_false(agent_gate_poll(gate, "a1", "db-1", "", 1000));
	agent_gate_counters(gate, &unauthorized, &limited);
	assert_int_equal(unauthorized, 3);
	assert_int_equal(limited, 1);

	/* a bad new file keeps the running table */
	assert_int_equal(agent_gate_reload(gate, write_file("gate-bad", "db-1 " TOKEN_B "\n", 0604),
			     err, sizeof(err)),
	    PGF_ECONFIG);
	assert_true(agent_gate_poll(gate, "a1", "db-1", TOKEN_A, 2000));
	/* a good one replaces it */
	assert_int_equal(agent_gate_reload(gate, write_file("gate-new", "db-1 " TOKEN_B "\n", 0600),
			     err, sizeof(err)),
	    PGF_OK);
	assert_false(agent_gate_poll(gate, "a1", "db-1", TOKEN_A, 2000));
	assert_true(agent_gate_poll(gate, "a1", "db-1", TOKEN_B, 2000));
	/* "" turns tokens off */
	assert_int_equal(agent_gate_reload(gate, "", err, sizeof(err)), PGF_OK);
	assert_false(agent_gate_checks_tokens(gate));
	assert_true(agent_gate_poll(gate, "a1", "db-7", NULL, 2000));
	agent_gate_free(gate);

	/* a world-readable tokens file stops the start */
	options.tokens_file = write_file("gate-world", "db-1 " TOKEN_A "\n", 0644);
	assert_int_equal(agent_gate_new(&options, &gate, err, sizeof(err)), PGF_ECONFIG);
	assert_null(gate);
}

/* A store with bytes overwritten in the middle is refused with the line
 * the operator needs; a good one and a missing one pass. */
static void
test_store_check(void **state)
{
	char path[256], err[512] = "";
	sqlite3 *db = NULL;
	FILE *f;
	(void) state;

	snprintf(path, sizeof(path), "%s/store.db", dir);
	assert_int_equal(store_check_file(path, "full", err, sizeof(err)), PGF_OK);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
			     "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT);"
			     "CREATE INDEX t_b ON t (b);"
			     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
			     " INSERT INTO t SELECT i, printf('row %d %.40c', i, 'x') FROM n;",
			     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_check_file(path, "full", err, sizeof(err)), PGF_OK);
	assert_int_equal(store_check_file(path, "quick", err, sizeof(err)), PGF_OK);

	/* garbage over pages in the middle of the file */
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	{
		long size = ftell(f);
		char junk[8192];
		memset(junk, 0x5a, sizeof(junk));
		assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
		assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	}
	assert_int_equal(fclose(f), 0);
	assert_int_equal(store_check_file(path, "full", err, sizeof(err)), PGF_ESTORE);
	assert_non_null(strstr(err, "failed its integrity check: "));
	assert_non_null(strstr(err, "; restore a backup or move the file away"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(store_check_file(path, "quick", err, sizeof(err)), PGF_ESTORE);
	assert_int_equal(store_check_file(path, "off", err, sizeof(err)), PGF_OK);
}

/* Packs a minimal valid report of instance db-1 carrying token. */
static uint8_t *
pack_report(uint64_t seq, const char *token, size_t *len)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity id = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	uint8_t *data;

	id.name = (char *) "db-1";
	report.agent_id = (char *) "agent-1";
	report.boot_id = (char *) "boot-1";
	report.seq = seq;
	report.collected_at_us = 1700000000000000LL;
	report.instance = &id;
	if (token != NULL)
		report.agent_token = (char *) token;
	*len = pgfleet__v1__report__get_packed_size(&report);
	data = malloc(*len);
	assert_non_null(data);
	pgfleet__v1__report__pack(&report, data);
	return data;
}

static long
stored_reports(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long n = -1;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM reports", -1, &stmt, NULL),
	    SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

/* Ingest with the gate: a wrong or missing token is REJECTED
 * "unauthorized" and stores nothing; over the rate is RETRY_AFTER "rate
 * limited" (never REJECTED) and stores nothing; the right token stores. */
static void
test_ingest_gated(void **state)
{
	struct temp_store *t = *state;
	struct agent_gate_options options = {
		.tokens_file = write_file("ingest-tokens", "db-1 " TOKEN_A "\n", 0600),
		.reports_per_second = 1,
		.burst = 1,
	};
	struct agent_gate *gate = NULL;
	struct ingest_counters counters = {0};
	Pgfleet__V1__Ack ack;
	char err[256];
	size_t len;
	uint8_t *data;

	assert_int_equal(agent_gate_new(&options, &gate, err, sizeof(err)), PGF_OK);
	data = pack_report(1, TOKEN_B, &len);
	ingest_report_gated(t->store, gate, data, len, 1 << 20, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_REJECTED);
	assert_string_equal(ack.reason, "unauthorized");
	assert_true(ack.retry_after_ms > 0);
	ingest_ack_fini(&ack);
	free(data);
	data = pack_report(1, NULL, &len);
	ingest_report_gated(t->store, gate, data, len, 1 << 20, &counters, &ack);
	assert_string_equal(ack.reason, "unauthorized");
	ingest_ack_fini(&ack);
	free(data);
	assert_int_equal(counters.rejected, 2);
	assert_int_equal(stored_reports(t->path), 0);

	data = pack_report(1, TOKEN_A, &len);
	ingest_report_gated(t->store, gate, data, len, 1 << 20, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_OK);
	ingest_ack_fini(&ack);
	free(data);
	assert_int_equal(stored_reports(t->path), 1);

	/* burst 1: the next one at once is paced, not refused */
	data = pack_report(2, TOKEN_A, &len);
	ingest_report_gated(t->store, gate, data, len, 1 << 20, &counters, &ack);
	assert_int_equal(ack.status, PGFLEET__V1__ACK__STATUS__STATUS_RETRY_AFTER);
	assert_string_equal(ack.reason, "rate limited");
	assert_true(ack.retry_after_ms > 0 && ack.retry_after_ms <= 1000);
	ingest_ack_fini(&ack);
	free(data);
	assert_int_equal(counters.retry_later, 1);
	assert_int_equal(stored_reports(t->path), 1);
	agent_gate_free(gate);
}

static int
teardown(void **state)
{
	char cmd[300];
	(void) state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_lines_comments_blanks),
	    cmocka_unit_test(test_parse_errors_name_the_line),
	    cmocka_unit_test(test_load_refuses_world_readable),
	    cmocka_unit_test(test_token_equal),
	    cmocka_unit_test(test_token_equal_time_is_flat),
	    cmocka_unit_test(test_loopback_detection),
	    cmocka_unit_test(test_gate_verdicts),
	    cmocka_unit_test(test_store_check),
	    cmocka_unit_test_setup_teardown(test_ingest_gated, temp_store_setup,
		temp_store_teardown),
	};
	if (mkdtemp(dir) == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, teardown);
}
