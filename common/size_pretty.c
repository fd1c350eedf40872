/*
 * size_pretty.c - pg_size_pretty() in C (see size_pretty.h).
 *
 * A port of PostgreSQL's src/backend/utils/adt/dbsize.c: the value is kept
 * in half-units of the unit before the one being considered, so that the
 * comparison with the limit (20 * 1024 - 1 half-units, i.e. "rounds to
 * less than 10240") and the final half-up rounding use the same integer.
 * Division rather than shifting keeps negative values rounded like
 * positive ones.
 */
#include "common/size_pretty.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

struct size_unit {
	const char *name;
	/* use this unit while the absolute (half-)value is below this */
	uint64_t limit;
	/* the value is in half-units and is rounded half away from zero */
	bool round;
	/* log2 of the unit in bytes */
	unsigned bits;
};

static const struct size_unit size_units[] = {
	{"bytes", 10 * 1024, false, 0},
	{"kB", 20 * 1024 - 1, true, 10},
	{"MB", 20 * 1024 - 1, true, 20},
	{"GB", 20 * 1024 - 1, true, 30},
	{"TB", 20 * 1024 - 1, true, 40},
	{"PB", 20 * 1024 - 1, true, 50},
};

#define SIZE_UNIT_COUNT (sizeof(size_units) / sizeof(size_units[0]))

/* half_rounded turns half-units into units, halves away from zero. */
static int64_t
half_rounded(int64_t value)
{
	return (value + (value < 0 ? -1 : 1)) / 2;
}

char *
pgf_size_pretty(int64_t bytes, char *buf, size_t size)
{
	int64_t value = bytes;

	for (size_t i = 0; i < SIZE_UNIT_COUNT; i++) {
		const struct size_unit *unit = &size_units[i];
		const struct size_unit *next;
		uint64_t absolute = value < 0 ? 0 - (uint64_t) value : (uint64_t) value;
		unsigned bits;

		if (i + 1 == SIZE_UNIT_COUNT || absolute < unit->limit) {
			if (unit->round)
				value = half_rounded(value);
			snprintf(buf, size, "%" PRId64 " %s", value, unit->name);
			break;
		}
		/* to the next unit, in half-units when it rounds */
		next = &size_units[i + 1];
		bits = next->bits - unit->bits - (next->round ? 1 : 0) + (unit->round ? 1 : 0);
		value /= (int64_t) 1 << bits;
	}
	return buf;
}
