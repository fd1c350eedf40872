/*
 * pg_array.c - PostgreSQL array literals built one element at a time (see
 * pg_array.h).
 */
#include "collector/pg_array.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/render.h"

void
pg_array_init(struct pg_array *array)
{
	memset(array, 0, sizeof(*array));
}

/* Room for n more bytes and the closing "}" and NUL. */
static bool
reserve(struct pg_array *array, size_t n)
{
	size_t need, cap;
	char *bigger;

	if (array->failed)
		return false;
	if (n > SIZE_MAX / 4 || array->len > SIZE_MAX / 4) {
		array->failed = true;
		return false;
	}
	need = array->len + n + 2;
	if (need <= array->cap)
		return true;
	cap = array->cap == 0 ? 256 : array->cap;
	while (cap < need)
		cap *= 2;
	bigger = realloc(array->text, cap);
	if (bigger == NULL) {
		array->failed = true;
		return false;
	}
	array->text = bigger;
	array->cap = cap;
	return true;
}

/* Appends the separator (or the opening brace) and element. */
static void
add_raw(struct pg_array *array, const char *element, size_t len)
{
	if (!reserve(array, len + 1))
		return;
	array->text[array->len++] = array->count == 0 ? '{' : ',';
	memcpy(array->text + array->len, element, len);
	array->len += len;
	array->count++;
}

void
pg_array_add_int(struct pg_array *array, int64_t value)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, value);
	add_raw(array, buf, (size_t) n);
}

void
pg_array_add_double(struct pg_array *array, double value)
{
	/* as pg_param_double: read back as the same double; inf, -inf and
	 * nan are words float8in knows */
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%.17g", value);
	add_raw(array, buf, (size_t) n);
}

void
pg_array_add_bool(struct pg_array *array, bool value)
{
	add_raw(array, value ? "t" : "f", 1);
}

void
pg_array_add_text(struct pg_array *array, const char *text)
{
	const char *source = text != NULL ? text : "";
	char *clean = pgf_text_clean((const uint8_t *) source, strlen(source));
	size_t escapes = 0, len;

	if (clean == NULL) {
		array->failed = true;
		return;
	}
	len = strlen(clean);
	for (size_t i = 0; i < len; i++)
		escapes += clean[i] == '"' || clean[i] == '\\';
	/* quoted always: an empty string, NULL, spaces and commas need it */
	if (!reserve(array, len + escapes + 3)) {
		free(clean);
		return;
	}
	array->text[array->len++] = array->count == 0 ? '{' : ',';
	array->text[array->len++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (clean[i] == '"' || clean[i] == '\\')
			array->text[array->len++] = '\\';
		array->text[array->len++] = clean[i];
	}
	array->text[array->len++] = '"';
	array->count++;
	free(clean);
}

char *
pg_array_finish(struct pg_array *array)
{
	char *text;

	if (array->count == 0 && !array->failed) {
		free(array->text);
		pg_array_init(array);
		return strdup("{}");
	}
	if (!reserve(array, 0)) {
		pg_array_free(array);
		return NULL;
	}
	array->text[array->len++] = '}';
	array->text[array->len] = '\0';
	text = array->text;
	pg_array_init(array);
	return text;
}

void
pg_array_free(struct pg_array *array)
{
	free(array->text);
	pg_array_init(array);
}
