/*
 * ingest.c - decode, validate, store once, acknowledge (see ingest.h).
 *
 * The Ack tells the agent what to do next: OK means "forget it" (stored,
 * now or before), RETRY_AFTER means "keep it and send it again later",
 * REJECTED means "this will never be accepted". Only a committed report is
 * acknowledged OK.
 */
#include "collector/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/agent_gate.h"
#include "collector/clock_skew.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

static bool
short_text(const char *text, size_t max)
{
	return text != NULL && strnlen(text, max + 1) <= max;
}

/* Bounds every family's contents, whatever the family: a generic walk over
 * the descriptors, so a new family is bounded without new code. */
struct size_budget {
	size_t messages;
	int depth;
};

#define INGEST_MAX_ROWS 1000000
#define INGEST_MAX_MESSAGES 5000000
#define INGEST_MAX_STRING 65536
#define INGEST_MAX_DEPTH 8

static bool
within_limits(const ProtobufCMessage *message, struct size_budget *budget, char *errbuf,
    size_t errlen)
{
	const ProtobufCMessageDescriptor *descriptor = message->descriptor;

	if (++budget->messages > INGEST_MAX_MESSAGES || budget->depth > INGEST_MAX_DEPTH) {
		snprintf(errbuf, errlen, "report is nested too deeply or has too many rows");
		return false;
	}
	for (unsigned i = 0; i < descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
		const char *member = (const char *) message + field->offset;
		size_t count = 1;
		const char *items = member;

		if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *) ((const char *) message + field->quantifier_offset) !=
			field->id)
			continue;
		if (field->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(const size_t *) ((const char *) message + field->quantifier_offset);
			items = *(const char *const *) member;
			if (count > INGEST_MAX_ROWS) {
				snprintf(errbuf, errlen, "%s.%s has %zu rows, more than %d",
				    descriptor->short_name, field->name, count, INGEST_MAX_ROWS);
				return false;
			}
		}
		for (size_t k = 0; k < count; k++) {
			switch (field->type) {
			case PROTOBUF_C_TYPE_STRING: {
				const char *text = field->label == PROTOBUF_C_LABEL_REPEATED
				    ? ((const char *const *) items)[k]
				    : *(const char *const *) member;
				if (text != NULL && strnlen(text, INGEST_MAX_STRING + 1) > INGEST_MAX_STRING) {
					snprintf(errbuf, errlen, "%s.%s is longer than %d bytes",
					    descriptor->short_name, field->name, INGEST_MAX_STRING);
					return false;
				}
				break;
			}
			case PROTOBUF_C_TYPE_BYTES: {
				const ProtobufCBinaryData *data = field->label == PROTOBUF_C_LABEL_REPEATED
				    ? &((const ProtobufCBinaryData *) items)[k]
				    : (const ProtobufCBinaryData *) member;
				if (data->len > INGEST_MAX_QUERY_TEXT) {
					snprintf(errbuf, errlen, "%s.%s is longer than %d bytes",
					    descriptor->short_name, field->name, INGEST_MAX_QUERY_TEXT);
					return false;
				}
				break;
			}
			case PROTOBUF_C_TYPE_MESSAGE: {
				const ProtobufCMessage *sub = field->label == PROTOBUF_C_LABEL_REPEATED
				    ? ((const ProtobufCMessage *const *) items)[k]
				    : *(const ProtobufCMessage *const *) member;
				bool ok;
				if (sub == NULL)
					break;
				budget->depth++;
				ok = within_limits(sub, budget, errbuf, errlen);
				budget->depth--;
				if (!ok)
					return false;
				break;
			}
			default:
				break;
			}
		}
	}
	return true;
}

bool
ingest_validate(const Pgfleet__V1__Report *report, char *errbuf, size_t errlen)
{
	struct size_budget budget = {0, 0};

	const Pgfleet__V1__InstanceIdentity *id = report->instance;

	if (!short_text(report->agent_id, INGEST_MAX_ID) || report->agent_id[0] == '\0') {
		snprintf(errbuf, errlen, "report has no valid agent_id");
		return false;
	}
	if (!short_text(report->boot_id, INGEST_MAX_ID) || report->boot_id[0] == '\0') {
		snprintf(errbuf, errlen, "report has no valid boot_id");
		return false;
	}
	if (report->seq == 0 || report->seq > (uint64_t) INT64_MAX) {
		snprintf(errbuf, errlen, "report seq %llu is out of range",
		    (unsigned long long) report->seq);
		return false;
	}
	if (id == NULL || id->name[0] == '\0' || !short_text(id->name, INGEST_MAX_NAME)) {
		snprintf(errbuf, errlen, "report has no valid instance name");
		return false;
	}
	if (!short_text(id->system_identifier, INGEST_MAX_ID) ||
	    !short_text(id->host, INGEST_MAX_NAME) ||
	    !short_text(id->server_version, INGEST_MAX_NAME) ||
	    !short_text(report->agent_version, INGEST_MAX_ID) ||
	    !short_text(report->unreachable_reason, 1024)) {
		snprintf(errbuf, errlen, "report has an identity field that is too long");
		return false;
	}
	if (report->statements != NULL) {
		const Pgfleet__V1__StatementsFamily *family = report->statements;
		if (family->n_statements > INGEST_MAX_STATEMENTS) {
			snprintf(errbuf, errlen, "report has %zu statements, more than %d",
			    family->n_statements, INGEST_MAX_STATEMENTS);
			return false;
		}
		for (size_t i = 0; i < family->n_statements; i++) {
			const Pgfleet__V1__StatementDelta *d = family->statements[i];
			if (d->query.len > INGEST_MAX_QUERY_TEXT) {
				snprintf(errbuf, errlen, "statement %lld has a %zu-byte text, more than %d",
				    (long long) d->queryid, d->query.len, INGEST_MAX_QUERY_TEXT);
				return false;
			}
			if (d->calls < 0 || d->rows < 0 || !(d->total_exec_time_ms >= 0.0) ||
			    !(d->sum_sq_exec_time_ms2 >= 0.0)) {
				snprintf(errbuf, errlen, "statement %lld has a negative counter",
				    (long long) d->queryid);
				return false;
			}
			if (!short_text(d->datname, INGEST_MAX_NAME) ||
			    !short_text(d->username, INGEST_MAX_NAME)) {
				snprintf(errbuf, errlen, "statement %lld has a name that is too long",
				    (long long) d->queryid);
				return false;
			}
		}
	}
	return within_limits(&report->base, &budget, errbuf, errlen);
}

/* Copies the report's key into the ack so the agent can match it. */
static void
ack_set_key(Pgfleet__V1__Ack *ack, const Pgfleet__V1__Report *report)
{
	ack->agent_id = strdup(report->agent_id);
	ack->boot_id = strdup(report->boot_id);
	if (ack->agent_id == NULL)
		ack->agent_id = (char *) protobuf_c_empty_string;
	if (ack->boot_id == NULL)
		ack->boot_id = (char *) protobuf_c_empty_string;
	ack->seq = report->seq;
}

static void
ack_set_reason(Pgfleet__V1__Ack *ack, const char *reason)
{
	ack->reason = strdup(reason);
	if (ack->reason == NULL)
		ack->reason = (char *) protobuf_c_empty_string;
}

void
ingest_report(struct store *store, const uint8_t *data, size_t len, size_t max_bytes,
    struct ingest_counters *counters, Pgfleet__V1__Ack *ack)
{
	ingest_report_gated(store, NULL, data, len, max_bytes, counters, ack);
}

void
ingest_report_gated(struct store *store, struct agent_gate *gate, const uint8_t *data,
    size_t len, size_t max_bytes, struct ingest_counters *counters, Pgfleet__V1__Ack *ack)
{
	ProtobufCMessage *message = NULL;
	Pgfleet__V1__Report *report;
	char errbuf[512];
	bool duplicate = false;
	int rv;

	pgfleet__v1__ack__init(ack);
	counters->received++;
	rv = pgf_wire_unpack(&pgfleet__v1__report__descriptor, data, len, max_bytes, &message);
	if (rv != PGF_OK) {
		counters->rejected++;
		ack->status = PGFLEET__V1__ACK__STATUS__STATUS_REJECTED;
		snprintf(errbuf, sizeof(errbuf), "could not decode a %zu-byte report: %s", len,
		    pgf_error_text(rv));
		ack_set_reason(ack, errbuf);
		pgf_warning("%s", errbuf);
		return;
	}
	report = (Pgfleet__V1__Report *) message;
	ack_set_key(ack, report);
	if (!ingest_validate(report, errbuf, sizeof(errbuf))) {
		counters->rejected++;
		ack->status = PGFLEET__V1__ACK__STATUS__STATUS_REJECTED;
		ack_set_reason(ack, errbuf);
		pgf_warning("agent=%s rejected report seq %llu: %s", ack->agent_id,
		    (unsigned long long) report->seq, errbuf);
		goto done;
	}
	/* who sent it, and how fast: before anything is stored */
	if (gate != NULL) {
		uint32_t retry_after_ms = 0;
		enum agent_gate_verdict verdict = agent_gate_report(gate, report->agent_id,
		    report->instance->name, report->agent_token, pgf_monotonic_ms(),
		    &retry_after_ms);
		if (verdict != AGENT_GATE_ADMIT) {
			bool unauthorized = verdict == AGENT_GATE_UNAUTHORIZED;
			if (unauthorized)
				counters->rejected++;
			else
				counters->retry_later++;
			ack->status = unauthorized ? PGFLEET__V1__ACK__STATUS__STATUS_REJECTED
						   : PGFLEET__V1__ACK__STATUS__STATUS_RETRY_AFTER;
			ack->retry_after_ms = retry_after_ms;
			/* the agent's contract: "unauthorized" means keep it */
			ack_set_reason(ack, unauthorized ? "unauthorized" : "rate limited");
			goto done;
		}
	}
	/* a skewed agent clock must not put trend buckets in the future */
	(void) clock_skew_correct(report, pgf_time_now_us());
	rv = store_write_report(store, report, pgf_time_now_us(), &duplicate, errbuf,
	    sizeof(errbuf));
	if (rv != PGF_OK) {
		/* not stored: the agent keeps it and tries again */
		counters->retry_later++;
		ack->status = PGFLEET__V1__ACK__STATUS__STATUS_RETRY_AFTER;
		ack->retry_after_ms = rv == PGF_EFULL ? 10000 : 2000;
		ack_set_reason(ack, errbuf);
		pgf_warning("instance=%s agent=%s report seq %llu not stored: %s",
		    report->instance->name, report->agent_id,
		    (unsigned long long) report->seq, errbuf);
		goto done;
	}
	ack->status = PGFLEET__V1__ACK__STATUS__STATUS_OK;
	ack->duplicate = duplicate;
	/* texts the agent believes we have but we do not: ask again */
	if (store_missing_texts(store, report, &ack->missing_query_texts,
		&ack->n_missing_query_texts, errbuf, sizeof(errbuf)) != PGF_OK)
		pgf_warning("instance=%s %s", report->instance->name, errbuf);
	/* index proposals for the agent to check with hypopg (a read: inside
	 * a batch it sees the batch's own writes) */
	if (!duplicate &&
	    store_index_checks(store, report, &ack->index_checks, &ack->n_index_checks,
		errbuf, sizeof(errbuf)) != PGF_OK)
		pgf_warning("instance=%s %s", report->instance->name, errbuf);
	if (duplicate)
		counters->duplicates++;
	else
		counters->stored++;
	pgf_debug("instance=%s agent=%s report seq %llu %s (%zu statements)",
	    report->instance->name, report->agent_id, (unsigned long long) report->seq,
	    duplicate ? "was a duplicate" : "stored",
	    report->statements != NULL ? report->statements->n_statements : 0);
done:
	protobuf_c_message_free_unpacked(message, NULL);
}

void
ingest_batch_failed(Pgfleet__V1__Ack *ack, struct ingest_counters *counters,
    const char *reason)
{
	if (ack->status != PGFLEET__V1__ACK__STATUS__STATUS_OK || ack->duplicate)
		return;
	counters->stored--;
	counters->retry_later++;
	ack->status = PGFLEET__V1__ACK__STATUS__STATUS_RETRY_AFTER;
	ack->retry_after_ms = 2000;
	ack_set_reason(ack, reason);
	/* the texts were looked up in the undone transaction */
	free(ack->missing_query_texts);
	ack->missing_query_texts = NULL;
	ack->n_missing_query_texts = 0;
}

void
ingest_ack_fini(Pgfleet__V1__Ack *ack)
{
	if (ack->agent_id != protobuf_c_empty_string)
		free(ack->agent_id);
	if (ack->boot_id != protobuf_c_empty_string)
		free(ack->boot_id);
	if (ack->reason != protobuf_c_empty_string)
		free(ack->reason);
	free(ack->missing_query_texts);
	for (size_t i = 0; i < ack->n_index_checks; i++)
		store_answer_free(&ack->index_checks[i]->base);
	free(ack->index_checks);
	pgfleet__v1__ack__init(ack);
}
