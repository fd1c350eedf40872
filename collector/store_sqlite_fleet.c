/*
 * store_sqlite_fleet.c - the fleet's live state in the SQLite store:
 * instances and clusters, activity, replication (placeholder: the schema
 * and answers come with the collector issue).
 */
#include "collector/store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>

const char store_sqlite_fleet_schema[] = "SELECT 1;";

int
store_sqlite_fleet_write(struct store_sqlite *store, int64_t instance_id,
    const Pgfleet__V1__Report *report)
{
	(void) store;
	(void) instance_id;
	(void) report;
	return SQLITE_OK;
}

int
store_sqlite_fleet(struct store *store, const Pgfleet__V1__FleetRequest *request,
    Pgfleet__V1__Fleet *answer, char *errbuf, size_t errlen)
{
	(void) store;
	(void) request;
	(void) answer;
	snprintf(errbuf, errlen, "not implemented yet");
	return PGF_EUNAVAILABLE;
}

int
store_sqlite_activity(struct store *store, const Pgfleet__V1__ActivityRequest *request,
    Pgfleet__V1__Activity *answer, char *errbuf, size_t errlen)
{
	(void) store;
	(void) request;
	(void) answer;
	snprintf(errbuf, errlen, "not implemented yet");
	return PGF_EUNAVAILABLE;
}

int
store_sqlite_replication(struct store *store, const Pgfleet__V1__ReplicationRequest *request,
    Pgfleet__V1__Replication *answer, char *errbuf, size_t errlen)
{
	(void) store;
	(void) request;
	(void) answer;
	snprintf(errbuf, errlen, "not implemented yet");
	return PGF_EUNAVAILABLE;
}
