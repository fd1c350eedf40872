/*
 * outbox.h - the agent's unacknowledged reports, oldest first.
 *
 * Kept in memory and, when a spool directory is configured, on disk as
 * append-only records in segment files (spool_dir/seg-<first record>.log),
 * each fsync'd before the report is sent, so a kill -9 loses nothing that
 * was made. Retiring (an ack, a rejection, a drop) always takes the oldest
 * record: the outbox is a FIFO, so one "retired through record N" mark,
 * appended like a report, says which records are done; a segment whose
 * records are all retired is deleted. Nothing is ever rewritten in place,
 * so a report costs O(its size), not O(backlog).
 *
 * Record layout (little-endian): u32 magic "PGOB", u32 payload length,
 * u32 CRC-32C of the payload, then the payload: u8 kind, u64 record
 * number, i64 made-at (us since the epoch), then the kind's data (a
 * packed Report, or the u64 number of the last retired record). A bad CRC
 * or a truncated tail is skipped and counted as corrupt; the scan
 * resynchronises on the next magic.
 *
 * Bounds (reports, bytes, age) hold in memory and on disk: when one is hit
 * the oldest record is dropped and counted. A spool that cannot be written
 * (full disk, permissions) makes the outbox memory-only for the rest of
 * the run, with one warning and a counter.
 */
#ifndef PGFLEET_AGENT_OUTBOX_H
#define PGFLEET_AGENT_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define OUTBOX_MAGIC 0x424F4750u /* "PGOB" little-endian */
#define OUTBOX_HEADER 12u
/* kind byte, record number, made-at */
#define OUTBOX_PAYLOAD_HEADER 17u
/* A length above this is corruption, not a record. */
#define OUTBOX_MAX_RECORD (64u * 1024u * 1024u)

enum outbox_kind {
	OUTBOX_REPORT = 1,
	OUTBOX_RETIRED = 2,
};

struct outbox_limits {
	long long max_reports;
	int64_t max_bytes;
	/* ms; 0 = no age bound */
	int64_t max_age_ms;
};

/* One decoded record; data points into the scanned buffer. */
struct outbox_record_view {
	enum outbox_kind kind;
	uint64_t number;
	int64_t made_at_us;
	const uint8_t *data;
	size_t len;
};

/* outbox_crc32c is CRC-32C (Castagnoli) of len bytes. */
uint32_t outbox_crc32c(const uint8_t *data, size_t len);

/* outbox_encode_size is the encoded size of a record carrying len bytes. */
size_t outbox_encode_size(size_t len);

/* outbox_encode writes one record into out (outbox_encode_size bytes). */
void outbox_encode(uint8_t *out, enum outbox_kind kind, uint64_t number,
    int64_t made_at_us, const uint8_t *data, size_t len);

/* outbox_scan walks a segment's bytes: each valid record goes to visit
 * (which returns false to stop); each bad stretch (bad CRC, bad length,
 * truncated tail, garbage) adds one to *corrupt. Never reads outside buf. */
void outbox_scan(const uint8_t *buf, size_t len,
    bool (*visit)(const struct outbox_record_view *record, void *arg), void *arg,
    uint64_t *corrupt);

struct outbox;

/* outbox_keep says whether a recovered report stays (the agent drops the
 * ones its saved baseline does not cover yet). */
typedef bool (*outbox_keep_fn)(const uint8_t *data, size_t len, void *arg);

/* outbox_open makes an outbox; spool_dir NULL or "" = memory only. A spool
 * directory is created if needed and its records are recovered (oldest
 * first; those keep rejects are forgotten; bounds apply) and rewritten into
 * one fresh segment. A spool that cannot be used is a warning and a
 * fallback to memory, not an error; only running out of memory fails. */
int outbox_open(const char *spool_dir, const struct outbox_limits *limits,
    outbox_keep_fn keep, void *keep_arg, struct outbox **out) PGF_MUST_CHECK;

/* outbox_close frees everything (the spool stays on disk); NULL is a no-op. */
void outbox_close(struct outbox *box);

/* outbox_set_limits applies new bounds from the next append on. */
void outbox_set_limits(struct outbox *box, const struct outbox_limits *limits);

/* outbox_append takes ownership of data (malloc'd) and queues it, dropping
 * the oldest records a bound forbids; on disk it is fsync'd before this
 * returns. PGF_ENOMEM leaves data to the caller. */
int outbox_append(struct outbox *box, uint8_t *data, size_t len, int64_t now_us) PGF_MUST_CHECK;

/* outbox_count is the number of queued reports; outbox_head the oldest
 * (false when empty). */
size_t outbox_count(const struct outbox *box);
bool outbox_head(const struct outbox *box, const uint8_t **data, size_t *len);

/* outbox_retire forgets the oldest report (acknowledged or rejected). */
void outbox_retire(struct outbox *box);

/* Counters: reports dropped by a bound (this run and recovered ones),
 * corrupt stretches found when recovering, spool write failures. */
uint64_t outbox_dropped(const struct outbox *box);
uint64_t outbox_corrupt(const struct outbox *box);
uint64_t outbox_spool_failures(const struct outbox *box);
/* true when the spool is in use (configured and writable) */
bool outbox_spooling(const struct outbox *box);

#endif
