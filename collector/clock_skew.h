/*
 * clock_skew.h - an agent's clock against the collector's.
 *
 * Every copy of a report the agent sends carries sent_at_us (its clock);
 * received_at_us - sent_at_us is the skew plus the network delay, however
 * old the report (a replay after an outage measures the same). Beyond
 * CLOCK_SKEW_BOUND_US the instance is flagged (pgfleet fleet:
 * clock_skewed, clock_skew_seconds) and the report's agent-clock times are
 * moved by the skew before they are stored, so a skewed agent never puts
 * trend buckets in the future or the past. Postgres-clock times (activity,
 * vacuum) are not touched.
 */
#ifndef PGFLEET_COLLECTOR_CLOCK_SKEW_H
#define PGFLEET_COLLECTOR_CLOCK_SKEW_H

#include <stdbool.h>
#include <stdint.h>

#include "pgfleet/v1/agent.pb-c.h"

#define CLOCK_SKEW_BOUND_US (300LL * 1000000LL)

/* clock_skew_of is the agent's clock minus the collector's, us (0 when the
 * report carries no sent_at_us). */
int64_t clock_skew_of(const Pgfleet__V1__Report *report, int64_t received_at_us);

/* clock_skew_correct moves collected_at_us and the statements interval by
 * the skew when it is beyond the bound; true when it did. */
bool clock_skew_correct(Pgfleet__V1__Report *report, int64_t received_at_us);

#endif
