/*
 * rate_limit.c - token buckets in a hash table (see rate_limit.h).
 *
 * Tokens are counted in thousandths so integer arithmetic refills exactly:
 * per_second tokens a second is per_second thousandths a millisecond. A
 * bucket whose refill reached the burst is indistinguishable from a new
 * one, which is what makes forgetting it safe.
 */
#include "collector/rate_limit.h"

#include <stdlib.h>
#include <string.h>

struct bucket {
	char *key;
	int64_t milli_tokens;
	int64_t updated_ms;
	struct bucket *next;
};

struct rate_limit {
	long long per_second;
	int64_t burst_milli;
	size_t max_keys;
	size_t count;
	size_t n_slots;
	struct bucket **slots;
};

/* FNV-1a: keys are short ids */
static size_t
hash_key(const char *key)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *) key; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (size_t) h;
}

struct rate_limit *
rate_limit_new(long long per_second, long long burst, size_t max_keys)
{
	struct rate_limit *limit = calloc(1, sizeof(*limit));

	if (limit == NULL)
		return NULL;
	limit->per_second = per_second > 0 ? per_second : 0;
	limit->burst_milli = (burst > 0 ? burst : 1) * 1000;
	limit->max_keys = max_keys > 0 ? max_keys : 1;
	/* about two slots per key: short chains */
	limit->n_slots = 64;
	while (limit->n_slots < limit->max_keys * 2 && limit->n_slots < (1u << 24))
		limit->n_slots *= 2;
	limit->slots = calloc(limit->n_slots, sizeof(*limit->slots));
	if (limit->slots == NULL) {
		free(limit);
		return NULL;
	}
	return limit;
}

void
rate_limit_free(struct rate_limit *limit)
{
	if (limit == NULL)
		return;
	for (size_t i = 0; i < limit->n_slots; i++) {
		struct bucket *b = limit->slots[i];
		while (b != NULL) {
			struct bucket *next = b->next;
			free(b->key);
			free(b);
			b = next;
		}
	}
	free(limit->slots);
	free(limit);
}

size_t
rate_limit_keys(const struct rate_limit *limit)
{
	return limit != NULL ? limit->count : 0;
}

/* Brings a bucket's tokens up to now. */
static void
refill(const struct rate_limit *limit, struct bucket *b, int64_t now_ms)
{
	int64_t elapsed = now_ms - b->updated_ms;

	if (elapsed <= 0)
		return;
	/* past a full refill the exact figure does not matter (and the
	 * product cannot overflow) */
	if (elapsed >= limit->burst_milli / limit->per_second + 1)
		b->milli_tokens = limit->burst_milli;
	else {
		b->milli_tokens += elapsed * limit->per_second;
		if (b->milli_tokens > limit->burst_milli)
			b->milli_tokens = limit->burst_milli;
	}
	b->updated_ms = now_ms;
}

/* Forgets every bucket that is full again at now_ms. */
static void
forget_full(struct rate_limit *limit, int64_t now_ms)
{
	for (size_t i = 0; i < limit->n_slots; i++) {
		struct bucket **link = &limit->slots[i];
		while (*link != NULL) {
			struct bucket *b = *link;
			refill(limit, b, now_ms);
			if (b->milli_tokens >= limit->burst_milli) {
				*link = b->next;
				free(b->key);
				free(b);
				limit->count--;
			} else
				link = &b->next;
		}
	}
}

bool
rate_limit_take(struct rate_limit *limit, const char *key, int64_t now_ms,
    int64_t *retry_after_ms)
{
	size_t slot;
	struct bucket *b;

	*retry_after_ms = 0;
	if (limit->per_second == 0)
		return true;
	slot = hash_key(key) & (limit->n_slots - 1);
	for (b = limit->slots[slot]; b != NULL; b = b->next) {
		if (strcmp(b->key, key) == 0)
			break;
	}
	if (b == NULL) {
		if (limit->count >= limit->max_keys)
			forget_full(limit, now_ms);
		if (limit->count >= limit->max_keys) {
			/* every bucket is mid-burst: the newcomer waits for
			 * one to refill (never refused for good) */
			*retry_after_ms = 1000;
			return false;
		}
		b = calloc(1, sizeof(*b));
		if (b == NULL || (b->key = strdup(key)) == NULL) {
			free(b);
			*retry_after_ms = 1000;
			return false;
		}
		b->milli_tokens = limit->burst_milli;
		b->updated_ms = now_ms;
		b->next = limit->slots[slot];
		limit->slots[slot] = b;
		limit->count++;
	}
	refill(limit, b, now_ms);
	if (b->milli_tokens >= 1000) {
		b->milli_tokens -= 1000;
		return true;
	}
	/* round up: asking back too early only earns another refusal */
	*retry_after_ms = (1000 - b->milli_tokens + limit->per_second - 1) / limit->per_second;
	if (*retry_after_ms < 1)
		*retry_after_ms = 1;
	return false;
}
