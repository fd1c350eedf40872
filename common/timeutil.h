/*
 * timeutil.h - clocks, and durations as people write them.
 */
#ifndef PGFLEET_COMMON_TIMEUTIL_H
#define PGFLEET_COMMON_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall clock, microseconds since the Unix epoch. */
int64_t pgf_time_now_us(void);

/* Monotonic clock in milliseconds, for deadlines and schedules. */
int64_t pgf_monotonic_ms(void);

/* pgf_sleep_ms sleeps up to ms milliseconds (returns early on a signal). */
void pgf_sleep_ms(int64_t ms);

/*
 * pgf_duration_parse reads "500ms", "30s", "5m", "2h", "7d", "1h02m", "1w"
 * (units may be combined, largest first) or a bare non-negative integer
 * (seconds) into milliseconds. Returns false on anything else or overflow.
 */
bool pgf_duration_parse(const char *text, int64_t *ms);

/*
 * pgf_time_parse reads a point in time for --since/--until: a duration
 * meaning that long before now_us ("1h", "30m", "7d"), "now", or a UTC
 * date "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" or "YYYY-MM-DDTHH:MM[:SS][Z]".
 * Writes microseconds since the Unix epoch; false on anything else.
 */
bool pgf_time_parse(const char *text, int64_t now_us, int64_t *us);

/* pgf_duration_format writes ms like "1h02m", "45s", "1.5s", "120ms" into
 * buf (always NUL-terminated); returns buf. */
char *pgf_duration_format(int64_t ms, char *buf, size_t size);

#endif
