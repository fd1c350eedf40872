/*
 * family_status.h - how each statistics family of one report went, in the
 * words the API shows (api_families.proto): ok, baseline, unavailable,
 * insufficient_privilege, timeout, error, skipped. Pure: a decoded report
 * in, one entry per family it carries (or names as skipped) out; the store
 * keeps the latest per instance (store_sqlite_families.c).
 */
#ifndef PGFLEET_COLLECTOR_FAMILY_STATUS_H
#define PGFLEET_COLLECTOR_FAMILY_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "pgfleet/v1/agent.pb-c.h"

/* At most one entry per family: statements + 7 families. */
#define FAMILY_STATUS_MAX 8

struct family_status_entry {
	/* static strings: the family's name and status */
	const char *family;
	const char *status;
	/* one line; "" when ok */
	char detail[512];
	/* statements only: pg_stat_statements_info.dealloc during the
	 * interval */
	int64_t dealloc;
};

/* family_status_is_problem: is status one the API counts as a problem
 * (anything but "ok" and "baseline")? */
int family_status_is_problem(const char *status);

/*
 * family_status_of_report fills out[0..max) with the families report
 * carries, in collection order, then the families it names as skipped
 * (unknown names are ignored: the text comes from another host); returns
 * the count. A family with problems takes the most severe problem's
 * status (error, timeout, insufficient_privilege, unavailable) and its
 * detail, with "(and N more)" when there are others.
 */
size_t family_status_of_report(const Pgfleet__V1__Report *report,
    struct family_status_entry *out, size_t max);

#endif
