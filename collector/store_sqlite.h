/*
 * store_sqlite.h - the SQLite backend of the store (see store.h).
 *
 * One file in WAL mode. The writer handle commits with synchronous=FULL, so
 * an acknowledged report survives a power cut; read-only handles see a
 * consistent snapshot and never block it.
 */
#ifndef PGFLEET_COLLECTOR_STORE_SQLITE_H
#define PGFLEET_COLLECTOR_STORE_SQLITE_H

#include "collector/store.h"

/* The schema version this collector writes; a newer file is refused. */
#define STORE_SQLITE_SCHEMA_VERSION 14

/* store_sqlite_open opens (and, when writable, creates or migrates) the
 * SQLite store at path. */
int store_sqlite_open(const char *path, bool read_only, struct store **out,
    char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* store_sqlite_set_max_pages caps writable stores opened afterwards at
 * pages pages (PRAGMA max_page_count; 0 = no cap). Test only: a full disk
 * on demand (SQLITE_FULL). */
void store_sqlite_set_max_pages(long long pages);

#endif
