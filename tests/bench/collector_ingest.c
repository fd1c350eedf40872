/*
 * collector_ingest.c - load generator and raw-SQLite ceiling for the
 * collector benchmark (tests/bench/collector_ingest.sh drives it).
 *
 * Why: the collector stores every report in one durable SQLite
 * transaction on one writer thread. To know whether that design keeps up
 * with a fleet, we need what it sustains over real nng sockets next to
 * what SQLite itself sustains for the same rows on the same disk.
 *
 * Modes:
 *   send     simulated agents, each with its own REQ socket, agent_id,
 *            boot_id, instance name and system_identifier, send Reports to
 *            a real pgfleet-collector and wait for every Ack. Each report
 *            carries a statements family (`changed` deltas out of a
 *            population of `statements`: half from a hot set that changes
 *            every interval, half rotating through the rest; a statement's
 *            text goes with the first report that carries it, as the agent
 *            does) and, every `tables_every`th report, a tables family of
 *            `tables` tables. collected_at and the interval are simulated
 *            time (start + k * step), so history spans days without waiting.
 *            `threads` workers drive the agents round-robin, one report in
 *            flight per worker. Prints one line of key=value figures.
 *            A run can continue an earlier one (--nonce: the same agent and
 *            boot ids; --first-report: the seq to go on from, texts of the
 *            earlier reports counted as sent), so a warm-up can be left out
 *            of the measurement.
 *   ceiling  the same statement rows, inserted straight into a store made
 *            by store_open (so the schema is the collector's): one prepared
 *            INSERT, one transaction per report's worth of rows, WAL and
 *            synchronous=FULL as the collector commits. Prints the rate.
 *            With a postgresql:// store the same rows go into PostgreSQL
 *            through libpq: one prepared INSERT (text parameters, as the
 *            collector sends them), each report's rows pipelined in one
 *            round trip, as the collector sends a report's statements, and
 *            one transaction per reports_per_commit reports, committed
 *            with the server's own synchronous_commit. By default each
 *            report's rows go in one INSERT ... SELECT FROM unnest, the
 *            collector's own statement (store_pg_statement_rows_sql);
 *            --method insert sends one prepared INSERT a row instead, and
 *            --method copy the rows with COPY, for reference (what
 *            PostgreSQL takes at most; the collector does not use COPY).
 *
 * Bounded: every loop is counted; sockets time out (no endless wait).
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "collector/store.h"
#include "collector/store_pg.h"
#include "collector/store_pg_internal.h"
#include "common/timeutil.h"
#include "common/wire.h"
#include "pgfleet/v1/agent.pb-c.h"

#define ACK_MAX_BYTES 65536
#define ACK_TIMEOUT_MS 60000
#define MAX_AGENTS 100000
#define MAX_STATEMENTS 100000
#define MAX_TABLES 100000

struct options {
	const char *collector;
	const char *store;
	const char *prefix;
	long agents;
	long reports;
	long statements;
	double changed;
	long changed_count; /* from --changed-count, else changed * statements */
	long tables;
	long tables_every;
	long threads;
	long rows;
	long reports_per_commit; /* ceiling: reports in one transaction */
	/* ceiling on PostgreSQL: the collector's INSERT of a report's rows
	 * as arrays (unnest), one INSERT a row, or COPY */
	enum { METHOD_UNNEST, METHOD_INSERT, METHOD_COPY } method;
	long first_report; /* reports before it were sent by an earlier run */
	uint64_t nonce;    /* agent and boot ids: the same in runs that continue */
	int64_t start_us;
	int64_t step_us;
};

/* One simulated agent: identity, sequence and the texts it has sent. */
struct agent {
	long index;
	char agent_id[40];
	char boot_id[40];
	char name[64];
	char system_identifier[32];
	char host[32];
	nng_socket socket;
	bool *text_sent;
};

/* A worker thread's share of the run and its results. */
struct worker {
	const struct options *options;
	struct agent *agents;
	long first;
	long stride;
	long reports;
	long statement_rows;
	long table_rows;
	long texts;
	long not_ok;
	long failed;
	size_t bytes;
	double *latencies_ms;
	long latency_count;
};

static double
now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long
changed_per_report(const struct options *options)
{
	long count = options->changed_count > 0 ? options->changed_count
						: (long) (options->changed * (double) options->statements + 0.5);
	if (count > options->statements)
		count = options->statements;
	return count < 1 ? 1 : count;
}

/* Statement j of the changed set of report k: the first half is the hot
 * set (the same statements every interval), the second rotates through the
 * rest of the population. */
static long
statement_index(const struct options *options, long changed, long k, long j)
{
	long hot = changed / 2;
	long cold = options->statements - hot;
	if (j < hot)
		return j;
	return hot + ((k * (changed - hot) + (j - hot)) % cold);
}

/* The same queryid for the same statement on every instance (one
 * application's schema across the fleet), so a trend spans the fleet. */
static int64_t
statement_queryid(long statement)
{
	uint64_t x = (uint64_t) statement * 0x9E3779B97F4A7C15ULL + 0x1234567ULL;
	x ^= x >> 31;
	return (int64_t) (x & 0x3FFFFFFFFFFFFFFFULL);
}

static const char *const datnames[] = {"bench_a", "bench_b"};

/* Fills the counters of statement s in report k of agent a; deterministic
 * so the ceiling inserts exactly the rows the agents send. */
static void
statement_fill(Pgfleet__V1__StatementDelta *d, long a, long k, long s)
{
	uint64_t h = (uint64_t) (a * 7919 + k * 104729 + s * 31) * 0x2545F4914F6CDD1DULL;
	int64_t calls = 1 + (int64_t) (h % 2000);
	double mean_ms = 0.05 + (double) (s % 97) * 0.3 + (double) (h % 1000) / 1000.0;

	d->queryid = statement_queryid(s);
	d->dbid = 16384 + (uint32_t) (s % 2);
	d->datname = (char *) datnames[s % 2];
	d->userid = 10;
	d->username = (char *) "app";
	d->toplevel = true;
	d->calls = calls;
	d->total_exec_time_ms = mean_ms * (double) calls;
	d->sum_sq_exec_time_ms2 = mean_ms * mean_ms * (double) calls * 1.2;
	d->max_exec_time_ms = mean_ms * 8.0;
	d->min_exec_time_ms = mean_ms / 4.0;
	d->rows = calls * (int64_t) (1 + s % 20);
	d->shared_blks_hit = calls * 12;
	d->shared_blks_read = (int64_t) (h % 50);
	d->shared_blks_dirtied = (int64_t) (h % 7);
	d->shared_blks_written = (int64_t) (h % 3);
	d->temp_blks_read = 0;
	d->temp_blks_written = 0;
	d->blk_read_time_ms = (double) (h % 50) * 0.01;
	d->blk_write_time_ms = 0.0;
	d->wal_bytes = (int64_t) (h % 10000);
	d->total_plan_time_ms = 0.0;
}

/* A normalized text of about 150 bytes, unique per statement. */
static size_t
statement_text(char *buffer, size_t size, long s)
{
	int n = snprintf(buffer, size,
	    "SELECT o.id, o.status, o.total, c.name, c.email FROM orders_%ld o"
	    " JOIN customers c ON c.id = o.customer_id WHERE o.id = $1 AND o.shard = %ld"
	    " ORDER BY o.created_at DESC LIMIT $2",
	    s % 500, s);
	return n > 0 ? (size_t) n : 0;
}

static void
table_fill(Pgfleet__V1__TableStat *t, char *name, size_t name_size, long k, long i)
{
	snprintf(name, name_size, "orders_%ld", i);
	t->database = (char *) datnames[i % 2];
	t->schema = (char *) "public";
	t->table = name;
	t->relid = 16400 + (uint32_t) i;
	t->table_bytes = 8192 * (1 + i);
	t->indexes_bytes = 8192 * (1 + i / 2);
	t->total_bytes = t->table_bytes + t->indexes_bytes;
	t->n_live_tup = 1000 + i * 10 + k;
	t->n_dead_tup = k % 100;
	t->seq_scan = k;
	t->seq_tup_read = k * 100;
	t->idx_scan = k * 20;
	t->idx_tup_fetch = k * 20;
	t->n_tup_ins = k * 3;
	t->n_tup_upd = k * 2;
	t->autovacuum_enabled = true;
	t->autovacuum_vacuum_threshold = 50;
	t->autovacuum_vacuum_scale_factor = 0.2;
	t->autovacuum_analyze_threshold = 50;
	t->autovacuum_analyze_scale_factor = 0.1;
	t->reltuples = (double) t->n_live_tup;
}

static int
agent_open(struct agent *agent, const struct options *options, long index)
{
	int rv;

	agent->index = index;
	snprintf(agent->agent_id, sizeof(agent->agent_id), "%016" PRIx64 "%016lx", options->nonce,
	    (unsigned long) index);
	snprintf(agent->boot_id, sizeof(agent->boot_id), "%016" PRIx64 "%016lx",
	    (uint64_t) (options->nonce ^ 0xB007B007B007B007ULL), (unsigned long) index);
	snprintf(agent->name, sizeof(agent->name), "%s-%05ld", options->prefix, index);
	snprintf(agent->system_identifier, sizeof(agent->system_identifier), "%" PRIu64,
	    (uint64_t) 7000000000000000000ULL + (uint64_t) index);
	snprintf(agent->host, sizeof(agent->host), "10.%ld.%ld.%ld", (index >> 16) & 255,
	    (index >> 8) & 255, index & 255);
	agent->text_sent = calloc((size_t) options->statements, sizeof(bool));
	if (agent->text_sent == NULL)
		return -1;
	/* texts an earlier run of the same agents already sent */
	for (long k = 0; k < options->first_report; k++) {
		long changed = changed_per_report(options);
		for (long j = 0; j < changed; j++)
			agent->text_sent[statement_index(options, changed, k, j)] = true;
	}
	if ((rv = nng_req0_open(&agent->socket)) != 0) {
		fprintf(stderr, "bench: could not open a socket: %s\n", nng_strerror(rv));
		return -1;
	}
	nng_socket_set_ms(agent->socket, NNG_OPT_SENDTIMEO, ACK_TIMEOUT_MS);
	nng_socket_set_ms(agent->socket, NNG_OPT_RECVTIMEO, ACK_TIMEOUT_MS);
	/* no resend: a resent report would be counted twice by the collector */
	nng_socket_set_ms(agent->socket, NNG_OPT_REQ_RESENDTIME, ACK_TIMEOUT_MS * 2);
	nng_socket_set_size(agent->socket, NNG_OPT_RECVMAXSZ, ACK_MAX_BYTES);
	if ((rv = nng_dial(agent->socket, options->collector, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(stderr, "bench: could not dial \"%s\": %s\n", options->collector,
		    nng_strerror(rv));
		return -1;
	}
	return 0;
}

/* Sends report k of one agent and waits for its Ack. */
static int
send_one(struct worker *worker, struct agent *agent, long k,
    Pgfleet__V1__StatementDelta *deltas, Pgfleet__V1__StatementDelta **delta_pointers,
    Pgfleet__V1__TableStat *tables, Pgfleet__V1__TableStat **table_pointers,
    char (*table_names)[32], char (*texts)[256], uint8_t **buffer, size_t *buffer_size)
{
	const struct options *options = worker->options;
	long changed = changed_per_report(options);
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity identity = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__StatementsFamily statements = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__TablesFamily tables_family = PGFLEET__V1__TABLES_FAMILY__INIT;
	ProtobufCMessage *message = NULL;
	Pgfleet__V1__Ack *ack;
	int64_t collected_at_us = options->start_us + k * options->step_us;
	double started;
	size_t size;
	int rv;

	identity.name = agent->name;
	identity.system_identifier = agent->system_identifier;
	identity.host = agent->host;
	identity.port = 5432;
	identity.server_version_num = 150018;
	identity.server_version = (char *) "15.18";
	identity.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	identity.postmaster_start_time_us = options->start_us - 86400LL * 1000000;
	report.agent_id = agent->agent_id;
	report.boot_id = agent->boot_id;
	report.seq = (uint64_t) k + 1;
	report.collected_at_us = collected_at_us;
	report.instance = &identity;
	report.agent_version = (char *) PGFLEET_VERSION;
	report.report_interval_ms = 60000;
	report.statements = &statements;
	statements.status = PGFLEET__V1__STATEMENTS_FAMILY__STATUS__STATUS_OK;
	statements.interval_start_us = collected_at_us - options->step_us;
	statements.interval_end_us = collected_at_us;
	statements.n_statements = (size_t) changed;
	statements.statements = delta_pointers;
	for (long j = 0; j < changed; j++) {
		long s = statement_index(options, changed, k, j);
		Pgfleet__V1__StatementDelta *d = &deltas[j];
		pgfleet__v1__statement_delta__init(d);
		statement_fill(d, agent->index, k, s);
		if (!agent->text_sent[s]) {
			d->query.data = (uint8_t *) texts[j];
			d->query.len = statement_text(texts[j], sizeof(texts[j]), s);
			agent->text_sent[s] = true;
			worker->texts++;
		}
		delta_pointers[j] = d;
	}
	if (options->tables > 0 && k % options->tables_every == 0) {
		for (long i = 0; i < options->tables; i++) {
			pgfleet__v1__table_stat__init(&tables[i]);
			table_fill(&tables[i], table_names[i], sizeof(table_names[i]), k, i);
			table_pointers[i] = &tables[i];
		}
		tables_family.n_tables = (size_t) options->tables;
		tables_family.tables = table_pointers;
		report.tables = &tables_family;
	}
	size = protobuf_c_message_get_packed_size(&report.base);
	if (size > *buffer_size) {
		uint8_t *bigger = realloc(*buffer, size);
		if (bigger == NULL)
			return -1;
		*buffer = bigger;
		*buffer_size = size;
	}
	protobuf_c_message_pack(&report.base, *buffer);
	started = now_seconds();
	if ((rv = pgf_wire_send_bytes(agent->socket, *buffer, size)) != PGF_OK ||
	    (rv = pgf_wire_recv(agent->socket, &pgfleet__v1__ack__descriptor, ACK_MAX_BYTES,
		 &message)) != PGF_OK) {
		fprintf(stderr, "bench: instance=%s report seq %ld: %s\n", agent->name, k + 1,
		    pgf_error_text(rv));
		worker->failed++;
		return -1;
	}
	worker->latencies_ms[worker->latency_count++] = (now_seconds() - started) * 1000.0;
	ack = (Pgfleet__V1__Ack *) message;
	if (ack->status != PGFLEET__V1__ACK__STATUS__STATUS_OK || ack->duplicate) {
		if (worker->not_ok++ < 5)
			fprintf(stderr, "bench: instance=%s report seq %ld: ack status %d: %s\n",
			    agent->name, k + 1, ack->status, ack->reason);
	} else {
		worker->reports++;
		worker->statement_rows += changed;
		worker->table_rows += report.tables != NULL ? options->tables : 0;
	}
	worker->bytes += size;
	protobuf_c_message_free_unpacked(message, NULL);
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *worker = arg;
	const struct options *options = worker->options;
	long changed = changed_per_report(options);
	Pgfleet__V1__StatementDelta *deltas = calloc((size_t) changed, sizeof(*deltas));
	Pgfleet__V1__StatementDelta **delta_pointers = calloc((size_t) changed, sizeof(*delta_pointers));
	Pgfleet__V1__TableStat *tables = calloc((size_t) options->tables + 1, sizeof(*tables));
	Pgfleet__V1__TableStat **table_pointers = calloc((size_t) options->tables + 1, sizeof(*table_pointers));
	char (*table_names)[32] = calloc((size_t) options->tables + 1, sizeof(*table_names));
	char (*texts)[256] = calloc((size_t) changed, sizeof(*texts));
	uint8_t *buffer = NULL;
	size_t buffer_size = 0;

	if (deltas == NULL || delta_pointers == NULL || tables == NULL || table_pointers == NULL ||
	    table_names == NULL || texts == NULL) {
		worker->failed++;
		goto done;
	}
	/* report k of every agent before report k + 1 of any: simulated time
	 * moves forward across the fleet as it would */
	for (long k = options->first_report; k < options->first_report + options->reports; k++) {
		for (long a = worker->first; a < options->agents; a += worker->stride) {
			if (send_one(worker, &worker->agents[a], k, deltas, delta_pointers, tables,
				table_pointers, table_names, texts, &buffer, &buffer_size) != 0)
				goto done;
		}
	}
done:
	free(deltas);
	free(delta_pointers);
	free(tables);
	free(table_pointers);
	free(table_names);
	free(texts);
	free(buffer);
	return NULL;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return x < y ? -1 : x > y;
}

static int
run_send(const struct options *options)
{
	struct agent *agents = calloc((size_t) options->agents, sizeof(*agents));
	long threads = options->threads < options->agents ? options->threads : options->agents;
	struct worker *workers = calloc((size_t) threads, sizeof(*workers));
	pthread_t *ids = calloc((size_t) threads, sizeof(*ids));
	double *latencies = NULL;
	long opened = 0, started_threads = 0, count = 0;
	long reports = 0, statement_rows = 0, table_rows = 0, texts = 0, not_ok = 0, failed = 0;
	size_t bytes = 0;
	double started, seconds;
	int status = 1;

	if (agents == NULL || workers == NULL || ids == NULL)
		goto done;
	for (; opened < options->agents; opened++) {
		if (agent_open(&agents[opened], options, opened) != 0) {
			opened++;
			goto done;
		}
	}
	latencies = calloc((size_t) (options->agents * options->reports), sizeof(*latencies));
	if (latencies == NULL)
		goto done;
	/* each worker owns a slice of the latency array: agents it drives
	 * times reports */
	for (long w = 0; w < threads; w++) {
		long mine = (options->agents - w + threads - 1) / threads;
		workers[w].options = options;
		workers[w].agents = agents;
		workers[w].first = w;
		workers[w].stride = threads;
		workers[w].latencies_ms = latencies + count;
		count += mine * options->reports;
	}
	started = now_seconds();
	for (; started_threads < threads; started_threads++) {
		if (pthread_create(&ids[started_threads], NULL, worker_main,
			&workers[started_threads]) != 0)
			break;
	}
	for (long w = 0; w < started_threads; w++)
		pthread_join(ids[w], NULL);
	seconds = now_seconds() - started;
	count = 0;
	for (long w = 0; w < threads; w++) {
		reports += workers[w].reports;
		statement_rows += workers[w].statement_rows;
		table_rows += workers[w].table_rows;
		texts += workers[w].texts;
		not_ok += workers[w].not_ok;
		failed += workers[w].failed;
		bytes += workers[w].bytes;
		/* gather latencies into one sorted run */
		memmove(latencies + count, workers[w].latencies_ms,
		    (size_t) workers[w].latency_count * sizeof(*latencies));
		count += workers[w].latency_count;
	}
	qsort(latencies, (size_t) count, sizeof(*latencies), compare_double);
	printf("reports=%ld statement_rows=%ld table_rows=%ld texts=%ld not_ok=%ld failed=%ld"
	       " bytes=%zu seconds=%.3f reports_per_s=%.1f statement_rows_per_s=%.0f"
	       " all_rows_per_s=%.0f ack_p50_ms=%.2f ack_p99_ms=%.2f ack_max_ms=%.2f"
	       " first_us=%" PRId64 " last_us=%" PRId64 "\n",
	    reports, statement_rows, table_rows, texts, not_ok, failed, bytes, seconds,
	    (double) reports / seconds, (double) statement_rows / seconds,
	    (double) (statement_rows + table_rows) / seconds,
	    count > 0 ? latencies[count / 2] : 0.0,
	    count > 0 ? latencies[(count * 99) / 100] : 0.0,
	    count > 0 ? latencies[count - 1] : 0.0,
	    options->start_us + options->first_report * options->step_us,
	    options->start_us + (options->first_report + options->reports - 1) * options->step_us);
	status = failed == 0 && not_ok == 0 && started_threads == threads ? 0 : 1;
done:
	for (long a = 0; a < opened; a++) {
		nng_close(agents[a].socket);
		free(agents[a].text_sent);
	}
	free(latencies);
	free(agents);
	free(workers);
	free(ids);
	return status;
}

static int
sqlite_check(sqlite3 *db, int rc, const char *what)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	fprintf(stderr, "bench: could not %s: %s\n", what, sqlite3_errmsg(db));
	return -1;
}

static int
run_ceiling(const struct options *options)
{
	long changed = changed_per_report(options);
	long reports = (options->rows + changed - 1) / changed;
	struct store *store = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	char errbuf[512];
	double started, seconds;
	long rows = 0;
	int status = 1;

	/* the collector's schema, made by the collector's code */
	if (store_open(options->store, false, &store, errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "bench: %s\n", errbuf);
		return 1;
	}
	store_close(store);
	if (sqlite_check(db, sqlite3_open_v2(options->store, &db, SQLITE_OPEN_READWRITE, NULL),
		"open the store") != 0 ||
	    sqlite_check(db, sqlite3_exec(db,
		"PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
		"PRAGMA cache_size = -32768;" /* as the collector's writer */
		"INSERT INTO instances (name, first_seen_us, last_seen_us) VALUES ('ceiling', 0, 0)",
		NULL, NULL, NULL), "set up the store") != 0 ||
	    sqlite_check(db, sqlite3_prepare_v2(db,
		"INSERT INTO statement_stats (instance_id, ts_us, interval_start_us, queryid,"
		" dbid, datname, userid, username, toplevel, calls, total_exec_time_ms,"
		" sum_sq_exec_time_ms2, max_exec_time_ms, min_exec_time_ms, rows,"
		" shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written,"
		" temp_blks_read, temp_blks_written, blk_read_time_ms, blk_write_time_ms,"
		" wal_bytes, total_plan_time_ms, local_blks_hit, local_blks_read,"
		" local_blks_dirtied, local_blks_written)"
		" VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
		" ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
		-1, &stmt, NULL), "prepare the insert") != 0)
		goto done;
	started = now_seconds();
	for (long k = 0; k < reports; k++) {
		int64_t ts = options->start_us + k * options->step_us;
		if (k % options->reports_per_commit == 0 &&
		    sqlite_check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			"begin") != 0)
			goto done;
		for (long j = 0; j < changed && rows < options->rows; j++, rows++) {
			Pgfleet__V1__StatementDelta d = PGFLEET__V1__STATEMENT_DELTA__INIT;
			statement_fill(&d, 0, k, statement_index(options, changed, k, j));
			sqlite3_reset(stmt);
			sqlite3_bind_int64(stmt, 1, ts);
			sqlite3_bind_int64(stmt, 2, ts - options->step_us);
			sqlite3_bind_int64(stmt, 3, d.queryid);
			sqlite3_bind_int64(stmt, 4, d.dbid);
			sqlite3_bind_text(stmt, 5, d.datname, -1, SQLITE_STATIC);
			sqlite3_bind_int64(stmt, 6, d.userid);
			sqlite3_bind_text(stmt, 7, d.username, -1, SQLITE_STATIC);
			sqlite3_bind_int(stmt, 8, d.toplevel);
			sqlite3_bind_int64(stmt, 9, d.calls);
			sqlite3_bind_double(stmt, 10, d.total_exec_time_ms);
			sqlite3_bind_double(stmt, 11, d.sum_sq_exec_time_ms2);
			sqlite3_bind_double(stmt, 12, d.max_exec_time_ms);
			sqlite3_bind_double(stmt, 13, d.min_exec_time_ms);
			sqlite3_bind_int64(stmt, 14, d.rows);
			sqlite3_bind_int64(stmt, 15, d.shared_blks_hit);
			sqlite3_bind_int64(stmt, 16, d.shared_blks_read);
			sqlite3_bind_int64(stmt, 17, d.shared_blks_dirtied);
			sqlite3_bind_int64(stmt, 18, d.shared_blks_written);
			sqlite3_bind_int64(stmt, 19, d.temp_blks_read);
			sqlite3_bind_int64(stmt, 20, d.temp_blks_written);
			sqlite3_bind_double(stmt, 21, d.blk_read_time_ms);
			sqlite3_bind_double(stmt, 22, d.blk_write_time_ms);
			sqlite3_bind_int64(stmt, 23, d.wal_bytes);
			sqlite3_bind_double(stmt, 24, d.total_plan_time_ms);
			sqlite3_bind_int64(stmt, 25, d.local_blks_hit);
			sqlite3_bind_int64(stmt, 26, d.local_blks_read);
			sqlite3_bind_int64(stmt, 27, d.local_blks_dirtied);
			sqlite3_bind_int64(stmt, 28, d.local_blks_written);
			if (sqlite_check(db, sqlite3_step(stmt), "insert a row") != 0)
				goto done;
		}
		if ((k % options->reports_per_commit == options->reports_per_commit - 1 ||
			k == reports - 1) &&
		    sqlite_check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit") != 0)
			goto done;
	}
	seconds = now_seconds() - started;
	printf("rows=%ld transactions=%ld seconds=%.3f rows_per_s=%.0f\n", rows,
	    (reports + options->reports_per_commit - 1) / options->reports_per_commit, seconds,
	    (double) rows / seconds);
	status = 0;
done:
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return status;
}

/* ---- the ceiling on PostgreSQL ------------------------------------------ */

#define PG_COLUMNS 29
#define PG_VALUE_SIZE 32

/* The statement_stats columns the collector writes (store_pg.c's
 * insert_statements), in the order of pg_row_values. */
#define PG_COLUMN_LIST \
	"instance_id, ts_us, interval_start_us, queryid, dbid, datname, userid, username," \
	" toplevel, calls, total_exec_time_ms, sum_sq_exec_time_ms2, max_exec_time_ms," \
	" min_exec_time_ms, rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied," \
	" shared_blks_written, temp_blks_read, temp_blks_written, blk_read_time_ms," \
	" blk_write_time_ms, wal_bytes, total_plan_time_ms, local_blks_hit, local_blks_read," \
	" local_blks_dirtied, local_blks_written"

/* One row as text parameters, as the collector sends them (doubles with
 * 17 digits: exact). */
static void
pg_row_values(char values[PG_COLUMNS][PG_VALUE_SIZE], int64_t instance_id, int64_t ts,
    int64_t interval_start, const Pgfleet__V1__StatementDelta *d)
{
	const int64_t ints[] = {instance_id, ts, interval_start, d->queryid, d->dbid};
	int c = 0;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		snprintf(values[c++], PG_VALUE_SIZE, "%" PRId64, ints[i]);
	snprintf(values[c++], PG_VALUE_SIZE, "%s", d->datname);
	snprintf(values[c++], PG_VALUE_SIZE, "%" PRId64, (int64_t) d->userid);
	snprintf(values[c++], PG_VALUE_SIZE, "%s", d->username);
	snprintf(values[c++], PG_VALUE_SIZE, "%s", d->toplevel ? "t" : "f");
	snprintf(values[c++], PG_VALUE_SIZE, "%" PRId64, d->calls);
	snprintf(values[c++], PG_VALUE_SIZE, "%.17g", d->total_exec_time_ms);
	snprintf(values[c++], PG_VALUE_SIZE, "%.17g", d->sum_sq_exec_time_ms2);
	snprintf(values[c++], PG_VALUE_SIZE, "%.17g", d->max_exec_time_ms);
	snprintf(values[c++], PG_VALUE_SIZE, "%.17g", d->min_exec_time_ms);
	{
		const int64_t counts[] = {d->rows, d->shared_blks_hit, d->shared_blks_read,
		    d->shared_blks_dirtied, d->shared_blks_written, d->temp_blks_read,
		    d->temp_blks_written};
		for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
			snprintf(values[c++], PG_VALUE_SIZE, "%" PRId64, counts[i]);
	}
	snprintf(values[c++], PG_VALUE_SIZE, "%.17g", d->blk_read_time_ms);
	snprintf(values[c++], PG_VALUE_SIZE, "%.17g", d->blk_write_time_ms);
	snprintf(values[c++], PG_VALUE_SIZE, "%" PRId64, d->wal_bytes);
	snprintf(values[c++], PG_VALUE_SIZE, "%.17g", d->total_plan_time_ms);
	{
		const int64_t locals[] = {d->local_blks_hit, d->local_blks_read,
		    d->local_blks_dirtied, d->local_blks_written};
		for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++)
			snprintf(values[c++], PG_VALUE_SIZE, "%" PRId64, locals[i]);
	}
}

/* Reports a failed libpq call in one line; true when it failed. */
static bool
pg_failed(PGconn *conn, PGresult *res, const char *what)
{
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *message = primary != NULL ? primary : PQerrorMessage(conn);
	size_t len = strcspn(message, "\n");

	fprintf(stderr, "bench: could not %s: %.*s\n", what, (int) len, message);
	return true;
}

/* Runs one command outside a pipeline; true when it failed. */
static bool
pg_exec_failed(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType status = PQresultStatus(res);
	bool failed = status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
	    pg_failed(conn, res, what);

	PQclear(res);
	return failed;
}

/* Reads a pipeline's results up to its sync point; true when a statement
 * failed or the connection went. */
static bool
pg_sync_failed(PGconn *conn)
{
	bool failed = false;
	int nulls = 0;

	if (PQpipelineSync(conn) != 1)
		return pg_failed(conn, NULL, "sync the pipeline");
	for (;;) {
		PGresult *res = PQgetResult(conn);
		ExecStatusType status;

		if (res == NULL) {
			/* one NULL ends each statement's results; more in a row
			 * means nothing is coming */
			if (++nulls > 2 || PQstatus(conn) == CONNECTION_BAD)
				return pg_failed(conn, NULL, "read the pipeline's results");
			continue;
		}
		nulls = 0;
		status = PQresultStatus(res);
		if (status == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			return failed;
		}
		if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !failed)
			failed = pg_failed(conn, res, "insert a row");
		PQclear(res);
	}
}

/* Sends one report's rows as one COPY; true when it failed. */
static bool
pg_copy_failed(PGconn *conn, char values[PG_COLUMNS][PG_VALUE_SIZE], const struct options *options,
    int64_t instance_id, long k, long changed, long *rows)
{
	int64_t ts = options->start_us + k * options->step_us;
	PGresult *res = PQexec(conn, "COPY statement_stats (" PG_COLUMN_LIST ") FROM STDIN");
	bool failed = PQresultStatus(res) != PGRES_COPY_IN && pg_failed(conn, res, "start a COPY");
	char line[PG_COLUMNS * PG_VALUE_SIZE];

	PQclear(res);
	if (failed)
		return true;
	for (long j = 0; j < changed && *rows < options->rows; j++, (*rows)++) {
		Pgfleet__V1__StatementDelta d = PGFLEET__V1__STATEMENT_DELTA__INIT;
		size_t len = 0;

		statement_fill(&d, 0, k, statement_index(options, changed, k, j));
		pg_row_values(values, instance_id, ts, ts - options->step_us, &d);
		/* text format: no value here holds a tab, newline or backslash */
		for (int c = 0; c < PG_COLUMNS; c++)
			len += (size_t) snprintf(line + len, sizeof(line) - len, "%s%c", values[c],
			    c == PG_COLUMNS - 1 ? '\n' : '\t');
		if (PQputCopyData(conn, line, (int) len) != 1)
			return pg_failed(conn, NULL, "send a row");
	}
	if (PQputCopyEnd(conn, NULL) != 1)
		return pg_failed(conn, NULL, "end a COPY");
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !failed)
			failed = pg_failed(conn, res, "copy the rows");
		PQclear(res);
	}
	return failed;
}

/* Sends one report's rows as the collector's one INSERT of arrays (in the
 * pipeline); true when it failed. */
static bool
pg_unnest_failed(PGconn *conn, const struct options *options, int64_t instance_id, long k,
    long changed, long *rows)
{
	int64_t ts = options->start_us + k * options->step_us;
	Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__StatementDelta *deltas = calloc((size_t) changed, sizeof(*deltas));
	Pgfleet__V1__StatementDelta **pointers = calloc((size_t) changed, sizeof(*pointers));
	char *arrays[STORE_PG_STATEMENT_ARRAYS] = {0};
	const char *values[3 + STORE_PG_STATEMENT_ARRAYS];
	char scalars[3][24];
	bool failed = deltas == NULL || pointers == NULL;

	for (long j = 0; !failed && j < changed && *rows < options->rows; j++, (*rows)++) {
		pgfleet__v1__statement_delta__init(&deltas[j]);
		statement_fill(&deltas[j], 0, k, statement_index(options, changed, k, j));
		pointers[family.n_statements++] = &deltas[j];
	}
	family.statements = pointers;
	if (!failed)
		store_pg_statement_arrays(&family, arrays);
	snprintf(scalars[0], sizeof(scalars[0]), "%" PRId64, instance_id);
	snprintf(scalars[1], sizeof(scalars[1]), "%" PRId64, ts);
	snprintf(scalars[2], sizeof(scalars[2]), "%" PRId64, ts - options->step_us);
	for (int c = 0; c < 3; c++)
		values[c] = scalars[c];
	for (int c = 0; c < STORE_PG_STATEMENT_ARRAYS; c++) {
		values[3 + c] = arrays[c];
		failed = failed || arrays[c] == NULL;
	}
	if (failed)
		fprintf(stderr, "bench: out of memory\n");
	else if (PQsendQueryPrepared(conn, "ceiling", 3 + STORE_PG_STATEMENT_ARRAYS, values, NULL,
		     NULL, 0) != 1)
		failed = pg_failed(conn, NULL, "send a report's rows");
	for (int c = 0; c < STORE_PG_STATEMENT_ARRAYS; c++)
		free(arrays[c]);
	free(pointers);
	free(deltas);
	return failed;
}

static int
run_ceiling_pg(const struct options *options)
{
	long changed = changed_per_report(options);
	long reports = (options->rows + changed - 1) / changed;
	long commit_every = options->reports_per_commit;
	struct store *store = NULL;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	char errbuf[512];
	char (*values)[PG_VALUE_SIZE] = calloc(PG_COLUMNS, PG_VALUE_SIZE);
	const char *pointers[PG_COLUMNS];
	int64_t instance_id;
	double started, seconds;
	long rows = 0;
	int status = 1;

	if (values == NULL)
		return 1;
	for (int c = 0; c < PG_COLUMNS; c++)
		pointers[c] = values[c];
	/* the collector's schema, made by the collector's code */
	if (store_open(options->store, false, &store, errbuf, sizeof(errbuf)) != PGF_OK) {
		fprintf(stderr, "bench: %s\n", errbuf);
		free(values);
		return 1;
	}
	store_close(store);
	conn = PQconnectdb(options->store);
	if (PQstatus(conn) != CONNECTION_OK) {
		pg_failed(conn, NULL, "connect to the store");
		goto done;
	}
	res = PQexec(conn,
	    "INSERT INTO instances (name, first_seen_us, last_seen_us) VALUES ('ceiling', 0, 0)"
	    " RETURNING instance_id");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		pg_failed(conn, res, "add the instance");
		goto done;
	}
	instance_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	if (options->method != METHOD_COPY) {
		/* the parameter types the collector gives (bigint, text,
		 * boolean, double precision) are those of the columns: the
		 * server infers the same */
		res = PQprepare(conn, "ceiling",
		    options->method == METHOD_UNNEST
			? store_pg_statement_rows_sql
			: "INSERT INTO statement_stats (" PG_COLUMN_LIST ") VALUES ($1, $2, $3, $4,"
			  " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,"
			  " $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)",
		    options->method == METHOD_UNNEST ? 0 : PG_COLUMNS, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_failed(conn, res, "prepare the insert");
			goto done;
		}
		PQclear(res);
		res = NULL;
		if (PQenterPipelineMode(conn) != 1) {
			pg_failed(conn, NULL, "enter pipeline mode");
			goto done;
		}
	}
	started = now_seconds();
	for (long k = 0; k < reports; k++) {
		int64_t ts = options->start_us + k * options->step_us;
		bool first = k % commit_every == 0;
		bool last = k % commit_every == commit_every - 1 || k == reports - 1;

		if (options->method == METHOD_COPY) {
			if ((first && pg_exec_failed(conn, "BEGIN", "begin")) ||
			    pg_copy_failed(conn, values, options, instance_id, k, changed, &rows) ||
			    (last && pg_exec_failed(conn, "COMMIT", "commit")))
				goto done;
			continue;
		}
		/* one round trip per report: BEGIN (when due), its rows,
		 * COMMIT (when due), then the sync */
		if (first && PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) != 1) {
			pg_failed(conn, NULL, "begin");
			goto done;
		}
		if (options->method == METHOD_UNNEST) {
			if (pg_unnest_failed(conn, options, instance_id, k, changed, &rows))
				goto done;
		}
		for (long j = 0; options->method == METHOD_INSERT && j < changed &&
		     rows < options->rows;
		     j++, rows++) {
			Pgfleet__V1__StatementDelta d = PGFLEET__V1__STATEMENT_DELTA__INIT;
			statement_fill(&d, 0, k, statement_index(options, changed, k, j));
			pg_row_values(values, instance_id, ts, ts - options->step_us, &d);
			int sent = PQsendQueryPrepared(conn, "ceiling", PG_COLUMNS, pointers, NULL,
			    NULL, 0);
			if (sent != 1) {
				pg_failed(conn, NULL, "send a row");
				goto done;
			}
		}
		if (last && PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1) {
			pg_failed(conn, NULL, "commit");
			goto done;
		}
		if (pg_sync_failed(conn))
			goto done;
	}
	seconds = now_seconds() - started;
	printf("rows=%ld transactions=%ld seconds=%.3f rows_per_s=%.0f\n", rows,
	    (reports + commit_every - 1) / commit_every, seconds, (double) rows / seconds);
	status = 0;
done:
	PQclear(res);
	PQfinish(conn);
	free(values);
	return status;
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "Usage: bench_collector_ingest send --collector ADDR [--agents N]\n"
	    "         [--reports-per-agent R] [--statements S] [--changed F | --changed-count C]\n"
	    "         [--tables T] [--tables-every E] [--threads W] [--prefix NAME]\n"
	    "         [--start-us T] [--step-us U] [--first-report K --nonce N]\n"
	    "       bench_collector_ingest ceiling --store PATH [--rows M] [--statements S]\n"
	    "         [--changed F | --changed-count C] [--start-us T] [--step-us U]\n"
	    "         [--reports-per-commit R] [--method unnest|insert|copy]\n"
	    "         (PATH: a SQLite file, or a postgresql:// URI of an empty database)\n");
}

/* Parses a whole number in [min, max]. */
static bool
parse_long(const char *text, long min, long max, long *out)
{
	char *end = NULL;
	long long value = strtoll(text, &end, 10);
	if (end == text || *end != '\0' || value < min || value > max)
		return false;
	*out = (long) value;
	return true;
}

int
main(int argc, char **argv)
{
	enum { OPT_COLLECTOR = 256, OPT_STORE, OPT_AGENTS, OPT_REPORTS, OPT_STATEMENTS,
		OPT_CHANGED, OPT_CHANGED_COUNT, OPT_TABLES, OPT_TABLES_EVERY, OPT_THREADS,
		OPT_ROWS, OPT_START, OPT_STEP, OPT_PREFIX, OPT_FIRST_REPORT, OPT_NONCE,
		OPT_REPORTS_PER_COMMIT, OPT_METHOD };
	static const struct option long_options[] = {
		{"collector", required_argument, NULL, OPT_COLLECTOR},
		{"store", required_argument, NULL, OPT_STORE},
		{"agents", required_argument, NULL, OPT_AGENTS},
		{"reports-per-agent", required_argument, NULL, OPT_REPORTS},
		{"statements", required_argument, NULL, OPT_STATEMENTS},
		{"changed", required_argument, NULL, OPT_CHANGED},
		{"changed-count", required_argument, NULL, OPT_CHANGED_COUNT},
		{"tables", required_argument, NULL, OPT_TABLES},
		{"tables-every", required_argument, NULL, OPT_TABLES_EVERY},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"rows", required_argument, NULL, OPT_ROWS},
		{"reports-per-commit", required_argument, NULL, OPT_REPORTS_PER_COMMIT},
		{"method", required_argument, NULL, OPT_METHOD},
		{"start-us", required_argument, NULL, OPT_START},
		{"step-us", required_argument, NULL, OPT_STEP},
		{"prefix", required_argument, NULL, OPT_PREFIX},
		{"first-report", required_argument, NULL, OPT_FIRST_REPORT},
		{"nonce", required_argument, NULL, OPT_NONCE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct options options = {
		.prefix = "bench",
		.agents = 20,
		.reports = 30,
		.statements = 5000,
		.changed = 0.1,
		.tables = 500,
		.tables_every = 5,
		.threads = 4,
		.rows = 1000000,
		.reports_per_commit = 1,
		.step_us = 60LL * 1000000,
	};
	const char *mode;
	long value = 0;
	int option;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	mode = argv[1];
	optind = 2;
	while ((option = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		bool ok = true;
		switch (option) {
		case OPT_COLLECTOR:
			options.collector = optarg;
			break;
		case OPT_STORE:
			options.store = optarg;
			break;
		case OPT_PREFIX:
			options.prefix = optarg;
			break;
		case OPT_FIRST_REPORT:
			ok = parse_long(optarg, 0, 100000000, &options.first_report);
			break;
		case OPT_NONCE:
			ok = parse_long(optarg, 1, INT64_MAX, &value);
			options.nonce = (uint64_t) value;
			break;
		case OPT_AGENTS:
			ok = parse_long(optarg, 1, MAX_AGENTS, &options.agents);
			break;
		case OPT_REPORTS:
			ok = parse_long(optarg, 1, 100000000, &options.reports);
			break;
		case OPT_STATEMENTS:
			ok = parse_long(optarg, 1, MAX_STATEMENTS, &options.statements);
			break;
		case OPT_CHANGED: {
			char *end = NULL;
			options.changed = strtod(optarg, &end);
			ok = end != optarg && *end == '\0' && options.changed > 0.0 &&
			    options.changed <= 1.0;
			break;
		}
		case OPT_CHANGED_COUNT:
			ok = parse_long(optarg, 1, MAX_STATEMENTS, &options.changed_count);
			break;
		case OPT_TABLES:
			ok = parse_long(optarg, 0, MAX_TABLES, &options.tables);
			break;
		case OPT_TABLES_EVERY:
			ok = parse_long(optarg, 1, 1000000, &options.tables_every);
			break;
		case OPT_THREADS:
			ok = parse_long(optarg, 1, 256, &options.threads);
			break;
		case OPT_ROWS:
			ok = parse_long(optarg, 1, 1000000000, &options.rows);
			break;
		case OPT_REPORTS_PER_COMMIT:
			ok = parse_long(optarg, 1, 100000, &options.reports_per_commit);
			break;
		case OPT_METHOD:
			ok = strcmp(optarg, "unnest") == 0 || strcmp(optarg, "insert") == 0 ||
			     strcmp(optarg, "copy") == 0;
			options.method = strcmp(optarg, "copy") == 0	  ? METHOD_COPY
					 : strcmp(optarg, "insert") == 0 ? METHOD_INSERT
									  : METHOD_UNNEST;
			break;
		case OPT_START:
			ok = parse_long(optarg, 1, INT64_MAX / 2, &value);
			options.start_us = value;
			break;
		case OPT_STEP:
			ok = parse_long(optarg, 1, 86400000000LL * 365, &value);
			options.step_us = value;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			ok = false;
			break;
		}
		if (!ok) {
			fprintf(stderr, "bench: invalid option value \"%s\"\n", optarg != NULL ? optarg : "");
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	/* by default simulated time ends now: questions about "the last 30
	 * days" see all of it */
	if (options.start_us == 0)
		options.start_us = pgf_time_now_us() -
		    options.step_us * (options.first_report + options.reports);
	if (options.nonce == 0)
		options.nonce = (uint64_t) pgf_time_now_us() * 2654435761ULL;
	if (strcmp(mode, "send") == 0) {
		if (options.collector == NULL) {
			fprintf(stderr, "bench: send needs --collector ADDR\n");
			return 2;
		}
		return run_send(&options);
	}
	if (strcmp(mode, "ceiling") == 0) {
		if (options.store == NULL) {
			fprintf(stderr, "bench: ceiling needs --store PATH\n");
			return 2;
		}
		if (store_pg_spec(options.store))
			return run_ceiling_pg(&options);
		if (options.method != METHOD_UNNEST) {
			fprintf(stderr, "bench: --method insert|copy needs a postgresql:// store\n");
			return 2;
		}
		return run_ceiling(&options);
	}
	fprintf(stderr, "bench: unknown mode \"%s\"\n", mode);
	usage(stderr);
	return 2;
}
