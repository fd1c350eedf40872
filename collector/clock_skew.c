/*
 * clock_skew.c - measuring and correcting an agent's clock skew (see
 * clock_skew.h).
 */
#include "collector/clock_skew.h"

int64_t
clock_skew_of(const Pgfleet__V1__Report *report, int64_t received_at_us)
{
	/* out-of-range stamps (hostile or broken) are not a measurement */
	if (report->sent_at_us <= 0 || received_at_us <= 0)
		return 0;
	return report->sent_at_us - received_at_us;
}

/* t - skew, or t when it would leave the positive range */
static int64_t
shift(int64_t t, int64_t skew)
{
	if (t <= 0)
		return t;
	if (skew > 0 && t < skew)
		return t;
	if (skew < 0 && t > INT64_MAX + skew)
		return t;
	return t - skew;
}

bool
clock_skew_correct(Pgfleet__V1__Report *report, int64_t received_at_us)
{
	int64_t skew = clock_skew_of(report, received_at_us);

	if (skew <= CLOCK_SKEW_BOUND_US && skew >= -CLOCK_SKEW_BOUND_US)
		return false;
	report->collected_at_us = shift(report->collected_at_us, skew);
	if (report->statements != NULL) {
		report->statements->interval_start_us =
		    shift(report->statements->interval_start_us, skew);
		report->statements->interval_end_us =
		    shift(report->statements->interval_end_us, skew);
	}
	return true;
}
