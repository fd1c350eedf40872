/*
 * pg_array.h - PostgreSQL array literals ("{1,2,3}", "{\"a\",\"b\"}") built
 * one element at a time, for statements that take a whole report's rows
 * as one parameter per column (INSERT ... SELECT FROM unnest(...): one
 * statement a report instead of one a row, store_pg.c).
 *
 * Elements are written as array_in reads them back: integers in decimal,
 * doubles with 17 significant digits (or inf, -inf, nan), booleans t/f,
 * text always double-quoted with " and \ escaped, after the same cleaning
 * as any text parameter (NUL bytes and invalid UTF-8 become U+FFFD).
 */
#ifndef PGFLEET_COLLECTOR_PG_ARRAY_H
#define PGFLEET_COLLECTOR_PG_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_array {
	char *text; /* "{" and the elements so far */
	size_t len;
	size_t cap;
	size_t count;
	bool failed; /* out of memory: pg_array_finish returns NULL */
};

/* pg_array_init starts an empty array (no allocation yet). */
void pg_array_init(struct pg_array *array);

void pg_array_add_int(struct pg_array *array, int64_t value);
void pg_array_add_double(struct pg_array *array, double value);
void pg_array_add_bool(struct pg_array *array, bool value);
void pg_array_add_text(struct pg_array *array, const char *text);

/* pg_array_finish closes the literal and hands it over (malloc'd, the
 * caller frees it), or returns NULL when out of memory; the array is
 * empty again either way. */
char *pg_array_finish(struct pg_array *array);

/* pg_array_free drops an unfinished array. */
void pg_array_free(struct pg_array *array);

#endif
