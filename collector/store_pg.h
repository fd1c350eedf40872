/*
 * store_pg.h - the PostgreSQL backend of the store (see store.h): the
 * history in a PostgreSQL database through libpq, so several collectors
 * can share one store and the store can grow onto Citus.
 *
 * Each store handle is one libpq connection (the writer and every reader
 * open their own), application_name pgfleet-collector, a statement
 * timeout. The writer creates or migrates the schema
 * (store_pg_schema.sql) when it opens; a store with a newer schema is
 * refused.
 */
#ifndef PGFLEET_COLLECTOR_STORE_PG_H
#define PGFLEET_COLLECTOR_STORE_PG_H

#include <stdbool.h>

#include "collector/store.h"

/* How long one statement of the store may run, ms: a question that would
 * take longer fails rather than hold the collector's thread. */
#define STORE_PG_STATEMENT_TIMEOUT_MS 30000

/* store_pg_spec: does spec name a PostgreSQL store (a libpq URI starting
 * with postgresql:// or postgres://)? */
bool store_pg_spec(const char *spec);

/* store_pg_open connects to the store named by conninfo and, when
 * writable, creates or migrates its schema. PGF_OK with *out the caller's
 * (store_close), or PGF_ESTORE / PGF_EUNAVAILABLE with a one-line reason
 * that never repeats the conninfo (it may hold a password). */
int store_pg_open(const char *conninfo, bool read_only, struct store **out, char *errbuf,
    size_t errlen) PGF_MUST_CHECK;

/* store_pg_schema_version: the schema version this collector writes (the
 * number of sections of the embedded schema). */
int store_pg_schema_version(void);

#endif
