/*
 * rel_client.c - a hostile and a careful agent for the reliability tests
 * (tests/e2e/rel_*.sh, matrix rows of tests/RELIABILITY.md).
 *
 * Why: the real agent only sends well-formed reports. These tests need a
 * client that sends broken, oversize and amplifying ones, duplicates, and
 * a stream of reports whose acknowledgements are logged so a test can
 * check that every acknowledged report is in the store.
 *
 *   rel_client seeds DIR            write a valid report and truncated /
 *                                   bit-flipped variants (fuzz seed corpus)
 *   rel_client garbage ADDR         T1: a valid report cut at every offset,
 *                                   1000 random buffers, 1000 bit-flips;
 *                                   then a valid report, acked in < 1 s.
 *                                   Prints "sent=N rejected=N ok=N".
 *   rel_client big ADDR BYTES       T2: one message of BYTES bytes; exits 0
 *                                   when the collector did not answer it
 *   rel_client amplify ADDR COUNT   T3: COUNT empty statements; exits 0 when
 *                                   REJECTED as too large
 *   rel_client dup ADDR             T4: one report 3 times: every copy OK,
 *                                   the 2nd and 3rd as duplicates
 *   rel_client send ADDR AGENT FROM COUNT LOG [PAD]
 *                                   seq FROM..FROM+COUNT-1 of AGENT (boot
 *                                   "boot-1"), each with a PAD-byte query
 *                                   text (default 64); resends on
 *                                   RETRY_AFTER and timeouts; appends each
 *                                   acked seq to LOG. With REL_STOP_ON_RETRY
 *                                   set, exits 3 at the first RETRY_AFTER.
 *
 * REL_RESEND_MS sets nng's REQ resend time (default 1 h: no resends), so
 * a slow collector gets the same request again and again (T4 variant).
 *
 * Every wait is bounded (receive timeouts; the send mode gives up after
 * REL_DEADLINE_S seconds, default 60).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "common/timeutil.h"
#include "common/wire.h"
#include "pgfleet/v1/agent.pb-c.h"

#define ACK_MAX (1024 * 1024)

static int
usage(void)
{
	fprintf(stderr, "usage: rel_client seeds DIR | garbage ADDR | big ADDR BYTES |"
			" amplify ADDR COUNT | dup ADDR | send ADDR AGENT FROM COUNT LOG [PAD]\n");
	return 2;
}

/* pack_report packs a valid report of agent, seq with pad bytes of query
 * text (or count empty statements when empty_rows > 0). */
static uint8_t *
pack_report(const char *agent, uint64_t seq, size_t pad, size_t empty_rows, size_t *len)
{
	Pgfleet__V1__Report report = PGFLEET__V1__REPORT__INIT;
	Pgfleet__V1__InstanceIdentity id = PGFLEET__V1__INSTANCE_IDENTITY__INIT;
	Pgfleet__V1__StatementsFamily family = PGFLEET__V1__STATEMENTS_FAMILY__INIT;
	Pgfleet__V1__StatementDelta delta = PGFLEET__V1__STATEMENT_DELTA__INIT;
	Pgfleet__V1__StatementDelta *one = &delta;
	Pgfleet__V1__StatementDelta **rows = NULL;
	char name[128];
	uint8_t *text = NULL, *out;
	int64_t now = pgf_time_now_us();

	snprintf(name, sizeof(name), "rel-%s", agent);
	id.name = name;
	id.system_identifier = "7300000000000000001";
	id.host = "127.0.0.1";
	id.port = 5432;
	id.server_version_num = 150000;
	id.server_version = "15.0";
	id.role = PGFLEET__V1__INSTANCE_IDENTITY__ROLE__ROLE_PRIMARY;
	report.agent_id = (char *) agent;
	report.boot_id = "boot-1";
	report.seq = seq;
	report.collected_at_us = now;
	report.instance = &id;
	report.agent_version = "rel";
	report.report_interval_ms = 1000;
	family.interval_start_us = now - 1000000;
	family.interval_end_us = now;
	if (empty_rows > 0) {
		rows = calloc(empty_rows, sizeof(*rows));
		if (rows == NULL)
			return NULL;
		for (size_t i = 0; i < empty_rows; i++)
			rows[i] = &delta; /* packs as an empty row each time */
		family.statements = rows;
		family.n_statements = empty_rows;
	} else {
		text = malloc(pad + 32);
		if (text == NULL)
			return NULL;
		int n = snprintf((char *) text, pad + 32, "SELECT %llu /*", (unsigned long long) seq);
		memset(text + n, 'x', pad);
		delta.queryid = (int64_t) seq * 7919 + 1;
		delta.datname = "postgres";
		delta.username = "postgres";
		delta.toplevel = true;
		delta.calls = 1;
		delta.rows = 1;
		delta.total_exec_time_ms = 0.5;
		delta.query.data = text;
		delta.query.len = (size_t) n + pad;
		family.statements = &one;
		family.n_statements = 1;
	}
	report.statements = &family;
	*len = protobuf_c_message_get_packed_size(&report.base);
	out = malloc(*len);
	if (out != NULL)
		protobuf_c_message_pack(&report.base, out);
	free(text);
	free(rows);
	return out;
}

static int
dial(const char *addr, nng_socket *socket, int timeout_ms)
{
	const char *resend = getenv("REL_RESEND_MS");
	int rv;
	if ((rv = nng_req0_open(socket)) != 0 ||
	    (rv = nng_socket_set_ms(*socket, NNG_OPT_RECVTIMEO, timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(*socket, NNG_OPT_SENDTIMEO, timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(*socket, NNG_OPT_REQ_RESENDTIME,
		 resend != NULL ? atoi(resend) : 3600000)) != 0 ||
	    (rv = nng_socket_set_size(*socket, NNG_OPT_RECVMAXSZ, ACK_MAX)) != 0 ||
	    (rv = nng_dial(*socket, addr, NULL, 0)) != 0) {
		fprintf(stderr, "rel_client: cannot dial %s: %s\n", addr, nng_strerror(rv));
		return -1;
	}
	return 0;
}

/* exchange sends data and waits for an Ack: 0 with *ack set, or -1 when
 * nothing came back in time. */
static int
exchange(nng_socket socket, const uint8_t *data, size_t len, Pgfleet__V1__Ack **ack)
{
	ProtobufCMessage *message = NULL;

	*ack = NULL;
	if (pgf_wire_send_bytes(socket, data, len) != PGF_OK)
		return -1;
	if (pgf_wire_recv(socket, &pgfleet__v1__ack__descriptor, ACK_MAX, &message) != PGF_OK)
		return -1;
	*ack = (Pgfleet__V1__Ack *) message;
	return 0;
}

static int
write_file(const char *dir, const char *name, const uint8_t *data, size_t len)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		fprintf(stderr, "rel_client: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fwrite(data, 1, len, f);
	return fclose(f) == 0 ? 0 : -1;
}

static int
cmd_seeds(const char *dir)
{
	size_t len;
	uint8_t *data = pack_report("seed", 1, 40, 0, &len);
	char name[64];
	int rc = 0;

	if (data == NULL)
		return 1;
	rc |= write_file(dir, "valid", data, len);
	for (size_t cut = 1; cut < len; cut += len / 6 + 1) {
		snprintf(name, sizeof(name), "cut-%zu", cut);
		rc |= write_file(dir, name, data, cut);
	}
	srand(1);
	for (int i = 0; i < 6; i++) {
		uint8_t *copy = malloc(len);
		size_t bit = (size_t) rand() % (len * 8);
		memcpy(copy, data, len);
		copy[bit / 8] ^= (uint8_t) (1u << (bit % 8));
		snprintf(name, sizeof(name), "flip-%zu", bit);
		rc |= write_file(dir, name, copy, len);
		free(copy);
	}
	free(data);
	return rc == 0 ? 0 : 1;
}

static int
cmd_garbage(const char *addr)
{
	nng_socket socket;
	size_t len, sent = 0, rejected = 0, ok = 0, lost = 0;
	uint8_t *valid = pack_report("garbage", 1, 40, 0, &len);
	uint8_t buf[4096];
	Pgfleet__V1__Ack *ack;

	if (valid == NULL || dial(addr, &socket, 5000) != 0)
		return 1;
	srand(42);
	for (size_t round = 0; round < len + 2000; round++) {
		size_t n;
		if (round < len) { /* every proper prefix */
			n = round;
			memcpy(buf, valid, n);
		} else if (round < len + 1000) { /* random bytes */
			n = (size_t) rand() % sizeof(buf);
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t) rand();
		} else { /* one bit flipped */
			size_t bit = (size_t) rand() % (len * 8);
			n = len;
			memcpy(buf, valid, n);
			buf[bit / 8] ^= (uint8_t) (1u << (bit % 8));
		}
		sent++;
		if (exchange(socket, buf, n, &ack) != 0) {
			lost++;
			continue;
		}
		if (ack->status == PGFLEET__V1__ACK__STATUS__STATUS_REJECTED)
			rejected++;
		else if (ack->status == PGFLEET__V1__ACK__STATUS__STATUS_OK)
			ok++;
		protobuf_c_message_free_unpacked(&ack->base, NULL);
	}
	printf("sent=%zu rejected=%zu ok=%zu lost=%zu\n", sent, rejected, ok, lost);
	/* the same client, right after: a valid report is acked quickly */
	free(valid);
	valid = pack_report("garbage-after", 1, 40, 0, &len);
	int64_t start = pgf_time_now_us();
	int rc = 1;
	if (valid != NULL && exchange(socket, valid, len, &ack) == 0) {
		int64_t ms = (pgf_time_now_us() - start) / 1000;
		printf("valid_after status=%d ms=%lld\n", (int) ack->status, (long long) ms);
		if (ack->status == PGFLEET__V1__ACK__STATUS__STATUS_OK && ms < 1000 && lost == 0)
			rc = 0;
		protobuf_c_message_free_unpacked(&ack->base, NULL);
	} else {
		printf("valid_after no answer\n");
	}
	free(valid);
	nng_close(socket);
	return rc;
}

static int
cmd_big(const char *addr, size_t bytes)
{
	nng_socket socket;
	uint8_t *data = malloc(bytes);
	Pgfleet__V1__Ack *ack;
	int rc;

	if (data == NULL || dial(addr, &socket, 3000) != 0)
		return 1;
	memset(data, 0x0a, bytes);
	rc = exchange(socket, data, bytes, &ack) == 0 ? 1 : 0;
	if (ack != NULL) {
		printf("big: unexpected answer status=%d\n", (int) ack->status);
		protobuf_c_message_free_unpacked(&ack->base, NULL);
	} else {
		printf("big: no answer (refused)\n");
	}
	free(data);
	/* nng 1.5's nng_close can wait forever for the send of a message the
	 * peer refused (seen under ASan): leave, and let exit reclaim it */
	fflush(stdout);
	_exit(rc);
}

static int
cmd_amplify(const char *addr, size_t count)
{
	nng_socket socket;
	size_t len;
	uint8_t *data = pack_report("amplify", 1, 0, count, &len);
	Pgfleet__V1__Ack *ack;
	int rc = 1;

	if (data == NULL || dial(addr, &socket, 10000) != 0)
		return 1;
	printf("amplify: %zu rows in %zu bytes\n", count, len);
	if (exchange(socket, data, len, &ack) == 0) {
		printf("amplify: status=%d reason=%s\n", (int) ack->status, ack->reason);
		if (ack->status == PGFLEET__V1__ACK__STATUS__STATUS_REJECTED &&
		    strstr(ack->reason, "too large") != NULL)
			rc = 0;
		protobuf_c_message_free_unpacked(&ack->base, NULL);
	}
	free(data);
	nng_close(socket);
	return rc;
}

static int
cmd_dup(const char *addr)
{
	nng_socket socket;
	size_t len;
	char agent[64];
	uint8_t *data;
	Pgfleet__V1__Ack *ack;
	int rc = 0;

	snprintf(agent, sizeof(agent), "dup-%ld", (long) time(NULL));
	data = pack_report(agent, 5, 40, 0, &len);
	if (data == NULL || dial(addr, &socket, 5000) != 0)
		return 1;
	for (int copy = 0; copy < 3; copy++) {
		if (exchange(socket, data, len, &ack) != 0) {
			printf("dup: copy %d not answered\n", copy + 1);
			rc = 1;
			continue;
		}
		printf("dup: copy %d status=%d duplicate=%d\n", copy + 1, (int) ack->status,
		    (int) ack->duplicate);
		if (ack->status != PGFLEET__V1__ACK__STATUS__STATUS_OK ||
		    ack->duplicate != (copy > 0))
			rc = 1;
		protobuf_c_message_free_unpacked(&ack->base, NULL);
	}
	printf("agent=%s\n", agent);
	free(data);
	nng_close(socket);
	return rc;
}

static int
cmd_send(const char *addr, const char *agent, uint64_t from, uint64_t count, const char *log,
    size_t pad)
{
	nng_socket socket;
	const char *env = getenv("REL_DEADLINE_S");
	int64_t deadline = pgf_time_now_us() + (env != NULL ? atoll(env) : 60) * 1000000LL;
	bool stop_on_retry = getenv("REL_STOP_ON_RETRY") != NULL;
	FILE *out = fopen(log, "a");
	int rc = 0;

	if (out == NULL || dial(addr, &socket, 2000) != 0)
		return 1;
	for (uint64_t seq = from; seq < from + count && rc == 0;) {
		size_t len;
		uint8_t *data = pack_report(agent, seq, pad, 0, &len);
		Pgfleet__V1__Ack *ack;

		if (data == NULL) {
			rc = 1;
			break;
		}
		if (exchange(socket, data, len, &ack) == 0) {
			if (ack->status == PGFLEET__V1__ACK__STATUS__STATUS_OK) {
				fprintf(out, "%llu\n", (unsigned long long) seq);
				fflush(out);
				seq++;
			} else if (ack->status == PGFLEET__V1__ACK__STATUS__STATUS_RETRY_AFTER) {
				if (stop_on_retry) {
					printf("retry_after at seq %llu: %s\n", (unsigned long long) seq,
					    ack->reason);
					rc = 3;
				} else {
					nng_msleep(200);
				}
			} else {
				printf("rejected seq %llu: %s\n", (unsigned long long) seq, ack->reason);
				rc = 1;
			}
			protobuf_c_message_free_unpacked(&ack->base, NULL);
		}
		free(data);
		if (rc == 0 && pgf_time_now_us() > deadline) {
			printf("send: deadline passed at seq %llu\n", (unsigned long long) seq);
			rc = 4;
		}
	}
	fclose(out);
	/* with resends on, nng_close may wait on copies still unanswered
	 * (seen hanging once): every ack is logged, so leave */
	if (getenv("REL_RESEND_MS") != NULL)
		_exit(rc);
	nng_close(socket);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	if (strcmp(argv[1], "seeds") == 0)
		return cmd_seeds(argv[2]);
	if (strcmp(argv[1], "garbage") == 0)
		return cmd_garbage(argv[2]);
	if (strcmp(argv[1], "big") == 0 && argc == 4)
		return cmd_big(argv[2], strtoull(argv[3], NULL, 10));
	if (strcmp(argv[1], "amplify") == 0 && argc == 4)
		return cmd_amplify(argv[2], strtoull(argv[3], NULL, 10));
	if (strcmp(argv[1], "dup") == 0)
		return cmd_dup(argv[2]);
	if (strcmp(argv[1], "send") == 0 && argc >= 7)
		return cmd_send(argv[2], argv[3], strtoull(argv[4], NULL, 10),
		    strtoull(argv[5], NULL, 10), argv[6],
		    argc > 7 ? strtoull(argv[7], NULL, 10) : 64);
	return usage();
}
