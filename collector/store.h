/*
 * store.h - the collector's history store: one narrow interface, backends
 * behind it (SQLite now; a PostgreSQL backend can be added without touching
 * ingest or the API handlers).
 *
 * A store handle is used by one thread at a time. The collector opens one
 * writer handle (owned by the ingest thread) and one read-only handle per
 * reader thread; with SQLite in WAL mode readers never block the writer.
 */
#ifndef PGFLEET_COLLECTOR_STORE_H
#define PGFLEET_COLLECTOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "pgfleet/v1/agent.pb-c.h"
#include "pgfleet/v1/api.pb-c.h"

struct store;

/* How long each level of statement history is kept, µs. */
struct store_retention {
	int64_t raw_us;
	int64_t hourly_us;
	int64_t daily_us;
};

/* The operations a backend provides; see the wrappers below. */
struct store_ops {
	int (*write_report)(struct store *store, const Pgfleet__V1__Report *report,
	    int64_t received_at_us, bool *duplicate, char *errbuf, size_t errlen);
	int (*slow_queries)(struct store *store,
	    const Pgfleet__V1__SlowQueriesRequest *request,
	    Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen);
	int (*missing_texts)(struct store *store, const Pgfleet__V1__Report *report,
	    int64_t **missing, size_t *count, char *errbuf, size_t errlen);
	/* Listings: each fills answer->rows (the answer's own memory is
	 * freed with protobuf_c_message_free_unpacked-compatible ownership:
	 * every row and string malloc'd; see store_answer_free). */
	int (*fleet)(struct store *store, const Pgfleet__V1__FleetRequest *request,
	    Pgfleet__V1__Fleet *answer, char *errbuf, size_t errlen);
	int (*activity)(struct store *store, const Pgfleet__V1__ActivityRequest *request,
	    Pgfleet__V1__Activity *answer, char *errbuf, size_t errlen);
	int (*replication)(struct store *store, const Pgfleet__V1__ReplicationRequest *request,
	    Pgfleet__V1__Replication *answer, char *errbuf, size_t errlen);
	int (*table_stats)(struct store *store, const Pgfleet__V1__TableStatsRequest *request,
	    Pgfleet__V1__TableStats *answer, char *errbuf, size_t errlen);
	int (*index_usage)(struct store *store, const Pgfleet__V1__IndexUsageRequest *request,
	    Pgfleet__V1__IndexUsage *answer, char *errbuf, size_t errlen);
	int (*bloat_stats)(struct store *store, const Pgfleet__V1__BloatStatsRequest *request,
	    Pgfleet__V1__BloatStats *answer, char *errbuf, size_t errlen);
	int (*query_trend)(struct store *store, const Pgfleet__V1__QueryTrendRequest *request,
	    Pgfleet__V1__QueryTrend *answer, char *errbuf, size_t errlen);
	int (*maintain)(struct store *store, int64_t now_us,
	    const struct store_retention *retention, bool *more, char *errbuf, size_t errlen);
	/* Trends: like query_trend, one row per bucket with data; PGF_EINVAL
	 * for a question the store cannot answer as asked (too many buckets,
	 * a table name that is ambiguous), PGF_ENOTFOUND for no such table. */
	int (*table_trend)(struct store *store, const Pgfleet__V1__TableTrendRequest *request,
	    Pgfleet__V1__TableTrend *answer, char *errbuf, size_t errlen);
	int (*replication_trend)(struct store *store,
	    const Pgfleet__V1__ReplicationTrendRequest *request,
	    Pgfleet__V1__ReplicationTrend *answer, char *errbuf, size_t errlen);
	void (*close)(struct store *store);
};

struct store {
	const struct store_ops *ops;
};

/*
 * store_open opens the store named by spec (a SQLite file path), creating
 * or migrating its schema when writable. A read-only handle needs the store
 * to exist. Returns PGF_OK with *out owned by the caller (store_close), or
 * PGF_ESTORE with a one-line reason (e.g. a file with a newer schema).
 */
int store_open(const char *spec, bool read_only, struct store **out,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* store_close closes; NULL is a no-op. */
void store_close(struct store *store);

/*
 * store_write_report stores one validated report in one durable
 * transaction. A report whose (agent_id, boot_id, seq) is already stored is
 * not stored again: PGF_OK with *duplicate = true. PGF_EFULL when the disk
 * (or the configured size limit) is full; PGF_ESTORE otherwise. Nothing is
 * half-written on failure.
 */
int store_write_report(struct store *store, const Pgfleet__V1__Report *report,
    int64_t received_at_us, bool *duplicate, char *errbuf, size_t errlen)
	PGF_MUST_CHECK;

/*
 * store_missing_texts lists the queryids of report's statements that came
 * without a text and whose text the store lacks for that instance (lost,
 * or never arrived). *missing is malloc'd (NULL when none), each queryid
 * once.
 */
int store_missing_texts(struct store *store, const Pgfleet__V1__Report *report,
    int64_t **missing, size_t *count, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/*
 * store_slow_queries adds up each statement (per instance, database and
 * queryid) over the request's scope and window, keeps those whose mean is
 * at least min_duration_ms, orders them and fills answer->rows (malloc'd;
 * free with store_slow_queries_fini).
 */
int store_slow_queries(struct store *store,
    const Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/*
 * store_maintain does one bounded step of rollups (raw -> hourly -> daily)
 * and retention, as of now_us; *more says there is work left (call again
 * soon). Writer handles only. Never loses a sum: only rows a coarser level
 * already holds are deleted.
 */
int store_maintain(struct store *store, int64_t now_us,
    const struct store_retention *retention, bool *more, char *errbuf, size_t errlen)
	PGF_MUST_CHECK;

/* store_slow_queries_fini frees the rows store_slow_queries made. */
void store_slow_queries_fini(Pgfleet__V1__SlowQueries *answer);

/*
 * store_answer_free frees an answer message the listing ops made: the
 * message, every submessage, string and bytes in it (all malloc'd, the
 * same ownership as protobuf-c's unpacked messages, whose free function
 * walks the descriptors). NULL is a no-op.
 */
void store_answer_free(ProtobufCMessage *answer);

#endif
