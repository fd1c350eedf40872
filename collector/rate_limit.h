/*
 * rate_limit.h - a token bucket per key (the collector keys by agent id).
 *
 * Each key may take `per_second` tokens a second on average and up to
 * `burst` at once; a key over its rate is told how long until its next
 * token. The clock is passed in (monotonic ms), so the limiter is plain
 * code, tested with a fake clock. Memory is bounded: at most max_keys
 * buckets; when full, buckets that have refilled completely (the same as
 * a new one) are forgotten first, and a new key finds no room only while
 * max_keys others are all mid-burst. Not thread-safe: the caller locks.
 */
#ifndef PGFLEET_COLLECTOR_RATE_LIMIT_H
#define PGFLEET_COLLECTOR_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rate_limit;

/* rate_limit_new makes a limiter; per_second 0 means no limit (every take
 * succeeds and nothing is remembered). NULL when out of memory. */
struct rate_limit *rate_limit_new(long long per_second, long long burst, size_t max_keys);

/* rate_limit_free frees it; NULL is a no-op. */
void rate_limit_free(struct rate_limit *limit);

/*
 * rate_limit_take takes one token of key at now_ms. true: go ahead. false:
 * over the rate, *retry_after_ms (>= 1) says when a token will be there
 * (also when no bucket is free for a new key). key is copied.
 */
bool rate_limit_take(struct rate_limit *limit, const char *key, int64_t now_ms,
    int64_t *retry_after_ms);

/* rate_limit_keys is how many buckets are remembered. */
size_t rate_limit_keys(const struct rate_limit *limit);

#endif
