/*
 * ingest.h - turning bytes from an agent into a stored report and an Ack.
 *
 * decode (size checked first) -> validate -> store once -> Ack. Nothing an
 * agent sends reaches the store without passing ingest_validate.
 */
#ifndef PGFLEET_COLLECTOR_INGEST_H
#define PGFLEET_COLLECTOR_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"
#include "pgfleet/v1/agent.pb-c.h"

/* Bounds on what one report may carry. */
#define INGEST_MAX_ID 64
#define INGEST_MAX_NAME 256
#define INGEST_MAX_STATEMENTS 100000
#define INGEST_MAX_QUERY_TEXT (1024 * 1024)

/* Counters the collector reports about itself. */
struct ingest_counters {
	uint64_t received;
	uint64_t stored;
	uint64_t duplicates;
	uint64_t rejected;
	uint64_t retry_later;
	/* filled by the collector from agent_gate.h and conn_limit.h for
	 * /metrics (ingest_report counts unauthorized reports as rejected
	 * and rate-limited ones as retry_later too) */
	uint64_t unauthorized;
	uint64_t rate_limited;
	uint64_t connections_refused;
};

/* ingest_validate checks a decoded report's meaning: ids present and
 * short, seq > 0, an instance with a name, sizes within the bounds above.
 * Returns true, or false with a one-line reason in errbuf. Pure. */
bool ingest_validate(const Pgfleet__V1__Report *report, char *errbuf, size_t errlen);

/*
 * ingest_report handles one message from an agent: fills ack (its strings
 * point into memory owned by the call until ingest_ack_fini) with OK
 * (stored, or a duplicate), REJECTED (undecodable or invalid: never resend)
 * or RETRY_AFTER (the store is full or failing: nothing was stored).
 * Counts into counters. Blocks on the store's write.
 */
void ingest_report(struct store *store, const uint8_t *data, size_t len,
    size_t max_bytes, struct ingest_counters *counters, Pgfleet__V1__Ack *ack);

/*
 * ingest_report_gated is ingest_report with gate's checks (agent_gate.h)
 * between validating and storing: a wrong or missing agent token is
 * REJECTED with reason "unauthorized" (the agent keeps the report and
 * tries again later), a report over its agent's rate RETRY_AFTER with
 * reason "rate limited"; neither stores anything. gate NULL: no checks.
 */
struct agent_gate;
void ingest_report_gated(struct store *store, struct agent_gate *gate, const uint8_t *data,
    size_t len, size_t max_bytes, struct ingest_counters *counters, Pgfleet__V1__Ack *ack);

/*
 * ingest_batch_failed corrects the ack of a report written inside a store
 * batch that then failed to commit: a report acknowledged as stored was
 * not stored after all, so the agent must keep it and send it again
 * (RETRY_AFTER, with reason). Duplicates and rejections stand.
 */
void ingest_batch_failed(Pgfleet__V1__Ack *ack, struct ingest_counters *counters,
    const char *reason);

/* ingest_ack_fini frees what ingest_report put in ack. */
void ingest_ack_fini(Pgfleet__V1__Ack *ack);

#endif
