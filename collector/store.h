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

#include "collector/metrics.h"
#include "common/error.h"
#include "pgfleet/v1/agent.pb-c.h"
#include "pgfleet/v1/api.pb-c.h"

struct store;
/* advice.h */
struct vacuum_fact_set;
struct replication_fact_set;
struct checklist_fact_set;

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
	/* Batches: write_report calls between batch_begin and batch_end share
	 * one transaction (each report its own savepoint). */
	int (*batch_begin)(struct store *store, char *errbuf, size_t errlen);
	int (*batch_end)(struct store *store, bool commit, char *errbuf, size_t errlen);
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
	/* Index recommendations over the scope's window (last 24 h by
	 * default); index_checks: the index proposals an instance's agent
	 * should check with hypopg, asked after a report with a tables
	 * snapshot (*checks malloc'd, each element freed with
	 * store_answer_free; NULL when none). */
	int (*index_recommendations)(struct store *store,
	    const Pgfleet__V1__IndexRecommendationsRequest *request,
	    Pgfleet__V1__IndexRecommendations *answer, char *errbuf, size_t errlen);
	int (*index_checks)(struct store *store, const Pgfleet__V1__Report *report,
	    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count, char *errbuf,
	    size_t errlen);
	/* /metrics: the latest snapshot of each family per instance and the
	 * top_statements statements with the most time over the stored history,
	 * appended to set as Prometheus samples (metrics.h). */
	int (*metrics)(struct store *store, size_t top_statements, int64_t now_us,
	    struct metrics_set *set, char *errbuf, size_t errlen);
	/* Pools over the scope's window (last 24 h by default): each
	 * application's connections on each instance and each pgbouncer pool;
	 * the recommendation adds the statement load and the connection
	 * budget. Regressions: statements whose mean in the window is
	 * min_factor times their baseline mean; PGF_EINVAL for a baseline
	 * that ends before it starts. Answers as the listings'. */
	int (*pool_stats)(struct store *store, const Pgfleet__V1__PoolStatsRequest *request,
	    Pgfleet__V1__PoolStats *answer, char *errbuf, size_t errlen);
	int (*pool_recommendation)(struct store *store,
	    const Pgfleet__V1__PoolRecommendationRequest *request,
	    Pgfleet__V1__PoolRecommendation *answer, char *errbuf, size_t errlen);
	int (*query_regressions)(struct store *store,
	    const Pgfleet__V1__QueryRegressionsRequest *request,
	    Pgfleet__V1__QueryRegressions *answer, char *errbuf, size_t errlen);
	/* Advice facts (collector/advice.h): the latest tables, replication
	 * and checklist facts of each instance in scope (window: last 24 h by
	 * default), filled into *out (the caller's; free with its fini). */
	int (*vacuum_facts)(struct store *store, const Pgfleet__V1__Scope *scope,
	    struct vacuum_fact_set *out, char *errbuf, size_t errlen);
	int (*replication_facts)(struct store *store, const Pgfleet__V1__Scope *scope,
	    struct replication_fact_set *out, char *errbuf, size_t errlen);
	int (*checklist_facts)(struct store *store, const Pgfleet__V1__Scope *scope,
	    struct checklist_fact_set *out, char *errbuf, size_t errlen);
	/* The stored text of queryid on instance (action_broker: explain
	 * --queryid); see store_statement_text. */
	int (*statement_text)(struct store *store, const char *instance, int64_t queryid,
	    char **text, bool *truncated, char **database, char *errbuf, size_t errlen);
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

/*
 * store_display_name writes spec into buf (at most len bytes) as it may be
 * logged: the password of a postgresql://user:PASSWORD@host URI and any
 * password=... parameter become "***". Returns buf.
 */
const char *store_display_name(const char *spec, char *buf, size_t len);

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
 * store_batch_begin starts a batch: the store_write_report calls until
 * store_batch_end share one durable transaction, so one fsync covers many
 * reports. Inside a batch a failed report is undone alone (PGF_EFULL or
 * PGF_ESTORE as above) and the batch goes on. store_batch_end commits (or,
 * with commit false, undoes everything); on failure nothing of the batch
 * is stored and every report in it must be sent again. Writer handles only.
 */
int store_batch_begin(struct store *store, char *errbuf, size_t errlen) PGF_MUST_CHECK;
int store_batch_end(struct store *store, bool commit, char *errbuf, size_t errlen)
	PGF_MUST_CHECK;

/*
 * store_index_checks lists the index proposals report's agent should check
 * with hypopg (malloc'd messages; *checks NULL when none). A backend
 * without index advice answers none.
 */
int store_index_checks(struct store *store, const Pgfleet__V1__Report *report,
    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count, char *errbuf, size_t errlen)
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

/*
 * store_statement_text finds the normalized text of queryid as instance
 * sent it, whether the agent cut it (max_query_text), and the database it
 * ran in most recently ("" when no statistics row is kept). *text and
 * *database are malloc'd (caller frees). PGF_ENOTFOUND when the instance
 * or the text is unknown.
 */
int store_statement_text(struct store *store, const char *instance, int64_t queryid,
    char **text, bool *truncated, char **database, char *errbuf, size_t errlen)
	PGF_MUST_CHECK;

#endif
