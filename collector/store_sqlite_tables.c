/*
 * store_sqlite_tables.c - tables, indexes and bloat in the SQLite store
 * (placeholder: the schema and answers come with the collector issue).
 */
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>

const char store_sqlite_tables_schema[] = "SELECT 1;";

int
store_sqlite_tables_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report)
{
	(void) store;
	(void) instance_id;
	(void) report;
	return SQLITE_OK;
}

int
store_sqlite_table_stats(struct store *store, const Pgfleet__V1__TableStatsRequest *request,
    Pgfleet__V1__TableStats *answer, char *errbuf, size_t errlen)
{
	(void) store;
	(void) request;
	(void) answer;
	snprintf(errbuf, errlen, "not implemented yet");
	return PGF_EUNAVAILABLE;
}

int
store_sqlite_index_usage(struct store *store, const Pgfleet__V1__IndexUsageRequest *request,
    Pgfleet__V1__IndexUsage *answer, char *errbuf, size_t errlen)
{
	(void) store;
	(void) request;
	(void) answer;
	snprintf(errbuf, errlen, "not implemented yet");
	return PGF_EUNAVAILABLE;
}

int
store_sqlite_bloat_stats(struct store *store, const Pgfleet__V1__BloatStatsRequest *request,
    Pgfleet__V1__BloatStats *answer, char *errbuf, size_t errlen)
{
	(void) store;
	(void) request;
	(void) answer;
	snprintf(errbuf, errlen, "not implemented yet");
	return PGF_EUNAVAILABLE;
}
