/*
 * render.c - one generic renderer for every answer (see render.h).
 *
 * Everything here is driven by protobuf-c descriptors: a field's value lives
 * at (char *) message + field->offset; a repeated field's count is the
 * size_t at quantifier_offset; a oneof member is set when the uint32 case at
 * quantifier_offset equals its id. JSON goes through jansson, tables through
 * libsmartcols. Text is made valid UTF-8 by pgf_text_clean, which replaces
 * each maximal invalid subpart (Unicode's recommended practice) and every
 * NUL byte with U+FFFD.
 */
#include "common/render.h"

#include <ctype.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <libsmartcols.h>

/* JSON reals: 15 significant digits (DBL_DIG) print any decimal of up to 15
 * digits as written (45.67, not 45.670000000000002). */
#define RENDER_REAL_PRECISION 15

/* Relative width hint of text columns: on a terminal, text wider than this
 * share of the terminal is truncated first. */
#define RENDER_TEXT_WHINT 0.3

static const char replacement[] = "\xEF\xBF\xBD";	/* U+FFFD */

/* utf8_sequence returns the length of the valid UTF-8 sequence at p (avail
 * bytes left), or 0 when it is invalid or a NUL byte; then *bad is the
 * length of its maximal subpart, the bytes one U+FFFD replaces. */
static size_t
utf8_sequence(const uint8_t *p, size_t avail, size_t *bad)
{
	uint8_t c = p[0];
	uint8_t lo = 0x80;
	uint8_t hi = 0xBF;
	size_t need;

	if (c >= 0x01 && c <= 0x7F)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;	/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;	/* above U+10FFFF */
	} else {
		/* NUL, a continuation byte, C0, C1 or F5..FF */
		*bad = 1;
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= avail || p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

static bool
utf8_valid(const uint8_t *data, size_t len)
{
	size_t i = 0;
	size_t bad;

	while (i < len) {
		size_t n = utf8_sequence(data + i, len - i, &bad);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

char *
pgf_text_clean(const uint8_t *data, size_t len)
{
	char *out;
	size_t i = 0;
	size_t o = 0;

	/* each byte becomes at most one U+FFFD, three bytes */
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;
	while (i < len) {
		size_t bad = 1;
		size_t n = utf8_sequence(data + i, len - i, &bad);
		if (n > 0) {
			memcpy(out + o, data + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, replacement, 3);
			o += 3;
			i += bad;
		}
	}
	out[o] = '\0';
	return out;
}

/* field_present tells whether field has a value to render: false for an
 * unset oneof member and an absent proto2 optional scalar. */
static bool
field_present(const ProtobufCMessage *message,
    const ProtobufCFieldDescriptor *field)
{
	const char *base = (const char *) message;

	if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t which;
		memcpy(&which, base + field->quantifier_offset, sizeof(which));
		return which == field->id;
	}
	if (field->label == PROTOBUF_C_LABEL_OPTIONAL &&
	    field->type != PROTOBUF_C_TYPE_STRING &&
	    field->type != PROTOBUF_C_TYPE_MESSAGE) {
		protobuf_c_boolean has;
		memcpy(&has, base + field->quantifier_offset, sizeof(has));
		return has != 0;
	}
	return true;
}

/* element_size is the size of one value of type in a repeated field. */
static size_t
element_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(int64_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* repeated_count and repeated_items read a repeated field. */
static size_t
repeated_count(const ProtobufCMessage *message,
    const ProtobufCFieldDescriptor *field)
{
	size_t count;
	memcpy(&count, (const char *) message + field->quantifier_offset,
	    sizeof(count));
	return count;
}

static const char *
repeated_items(const ProtobufCMessage *message,
    const ProtobufCFieldDescriptor *field)
{
	const char *items;
	memcpy(&items, (const char *) message + field->offset, sizeof(items));
	return items;
}

/* float_value widens f to the double of its shortest decimal form, so 0.1f
 * renders as 0.1 rather than 0.100000001490116. */
static double
float_value(float f)
{
	char buf[32];

	if (!isfinite(f))
		return f;
	for (int digits = FLT_DIG; digits <= FLT_DECIMAL_DIG; digits++) {
		snprintf(buf, sizeof(buf), "%.*g", digits, (double) f);
		if (strtof(buf, NULL) == f)
			return strtod(buf, NULL);
	}
	return f;
}

static json_t *
real_json(double value)
{
	if (!isfinite(value))
		return json_null();
	return json_real(value);
}

/* text_json renders len bytes of text, cleaned when not valid UTF-8. */
static json_t *
text_json(const uint8_t *data, size_t len)
{
	json_t *json;
	char *clean;

	/* jansson refuses a NULL pointer, which empty bytes may have */
	if (len == 0)
		return json_string_nocheck("");
	if (utf8_valid(data, len))
		return json_stringn_nocheck((const char *) data, len);
	clean = pgf_text_clean(data, len);
	if (clean == NULL)
		return NULL;
	json = json_string_nocheck(clean);
	free(clean);
	return json;
}

static json_t *
enum_json(const ProtobufCEnumDescriptor *descriptor, int32_t value)
{
	const ProtobufCEnumValue *ev =
	    protobuf_c_enum_descriptor_get_value(descriptor, value);

	if (ev == NULL)
		return json_integer(value);
	return json_string(ev->name);
}

/* value_json renders the one value of field's type at p. */
static json_t *
value_json(const ProtobufCFieldDescriptor *field, const void *p)
{
	switch (field->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *) p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *) p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *) p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v = *(const uint64_t *) p;
		char buf[24];
		if (v <= (uint64_t) INT64_MAX)
			return json_integer((json_int_t) v);
		snprintf(buf, sizeof(buf), "%" PRIu64, v);
		return json_string(buf);
	}
	case PROTOBUF_C_TYPE_FLOAT:
		return real_json(float_value(*(const float *) p));
	case PROTOBUF_C_TYPE_DOUBLE:
		return real_json(*(const double *) p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *) p);
	case PROTOBUF_C_TYPE_ENUM:
		return enum_json(field->descriptor, *(const int32_t *) p);
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) p;
		if (s == NULL)
			return json_null();
		return text_json((const uint8_t *) s, strlen(s));
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		return text_json(b->data, b->len);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;
		if (m == NULL)
			return json_null();
		return pgf_render_json(m);
	}
	}
	return json_null();
}

/* field_json renders field of message: a value, or an array when repeated. */
static json_t *
field_json(const ProtobufCMessage *message,
    const ProtobufCFieldDescriptor *field)
{
	json_t *array;
	const char *items;
	size_t count;
	size_t size;

	if (field->label != PROTOBUF_C_LABEL_REPEATED)
		return value_json(field, (const char *) message + field->offset);
	array = json_array();
	if (array == NULL)
		return NULL;
	count = repeated_count(message, field);
	items = repeated_items(message, field);
	size = element_size(field->type);
	for (size_t i = 0; i < count; i++) {
		json_t *value = value_json(field, items + i * size);
		/* json_array_append_new releases value when it fails */
		if (value == NULL || json_array_append_new(array, value) != 0)
			goto fail;
	}
	return array;
fail:
	json_decref(array);
	return NULL;
}

json_t *
pgf_render_json(const ProtobufCMessage *message)
{
	const ProtobufCMessageDescriptor *descriptor = message->descriptor;
	json_t *object = json_object();

	if (object == NULL)
		return NULL;
	for (unsigned i = 0; i < descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
		json_t *value;

		if (!field_present(message, field))
			continue;
		value = field_json(message, field);
		/* json_object_set_new releases value when it fails */
		if (value == NULL ||
		    json_object_set_new_nocheck(object, field->name, value) != 0)
			goto fail;
	}
	return object;
fail:
	json_decref(object);
	return NULL;
}

const ProtobufCFieldDescriptor *
pgf_render_rows_field(const ProtobufCMessage *message)
{
	const ProtobufCMessageDescriptor *descriptor = message->descriptor;
	const ProtobufCFieldDescriptor *rows = NULL;

	for (unsigned i = 0; i < descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &descriptor->fields[i];

		if (field->label != PROTOBUF_C_LABEL_REPEATED ||
		    field->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (rows != NULL)
			return NULL;
		rows = field;
	}
	return rows;
}

json_t *
pgf_render_answer_json(const ProtobufCMessage *message)
{
	const ProtobufCFieldDescriptor *rows = pgf_render_rows_field(message);

	if (rows == NULL)
		return pgf_render_json(message);
	return field_json(message, rows);
}

int
pgf_render_json_print(const json_t *json, FILE *out)
{
	size_t flags = JSON_INDENT(2) | JSON_REAL_PRECISION(RENDER_REAL_PRECISION) |
	    JSON_ENCODE_ANY;

	if (json_dumpf(json, out, flags) != 0)
		return -1;
	if (fputc('\n', out) == EOF || fflush(out) != 0)
		return -1;
	return 0;
}

/*
 * Tables.
 */

/* format_double prints value compactly: three decimals without trailing
 * zeros (45.67, 0.037, 12), %g for tiny and huge magnitudes. */
static void
format_double(double value, char *buf, size_t size)
{
	double magnitude = fabs(value);
	size_t len;
	size_t fraction;
	size_t end;

	if (isnan(value)) {
		snprintf(buf, size, "NaN");
		return;
	}
	if (isinf(value)) {
		snprintf(buf, size, "%sInfinity", value < 0 ? "-" : "");
		return;
	}
	if ((magnitude != 0 && magnitude < 0.001) || magnitude >= 1e15) {
		snprintf(buf, size, "%.3g", value);
		return;
	}
	snprintf(buf, size, "%.3f", value);
	/* the last three characters are the decimals; drop trailing zeros,
	 * and the decimal separator (whatever the locale's) after them */
	len = strlen(buf);
	fraction = len - 3;
	end = len;
	while (end > fraction && buf[end - 1] == '0')
		end--;
	if (end == fraction) {
		while (end > 0 && !isdigit((unsigned char) buf[end - 1]))
			end--;
	}
	buf[end] = '\0';
	if (strcmp(buf, "-0") == 0)
		snprintf(buf, size, "0");
}

/* enum_prefix_len is the length of the prefix all of descriptor's value
 * names share up to an underscore ("ROLE_" of ROLE_PRIMARY, ROLE_REPLICA),
 * or 0 when stripping it would leave a name empty. */
static size_t
enum_prefix_len(const ProtobufCEnumDescriptor *descriptor)
{
	const char *first;
	size_t len;

	if (descriptor->n_values < 2)
		return 0;
	first = descriptor->values[0].name;
	len = strlen(first);
	for (unsigned i = 1; i < descriptor->n_values; i++) {
		const char *name = descriptor->values[i].name;
		size_t n = 0;
		while (n < len && name[n] == first[n])
			n++;
		len = n;
	}
	while (len > 0 && first[len - 1] != '_')
		len--;
	for (unsigned i = 0; i < descriptor->n_values; i++) {
		if (strlen(descriptor->values[i].name) <= len)
			return 0;
	}
	return len;
}

/* enum_cell names value for a table: lower case, common prefix stripped. */
static char *
enum_cell(const ProtobufCEnumDescriptor *descriptor, int32_t value)
{
	const ProtobufCEnumValue *ev =
	    protobuf_c_enum_descriptor_get_value(descriptor, value);
	char *text;

	if (ev == NULL) {
		if (asprintf(&text, "%" PRId32, value) < 0)
			return NULL;
		return text;
	}
	text = strdup(ev->name + enum_prefix_len(descriptor));
	if (text == NULL)
		return NULL;
	for (char *c = text; *c != '\0'; c++)
		*c = (char) tolower((unsigned char) *c);
	return text;
}

/* text_cell cleans len bytes of text for one table line: valid UTF-8, every
 * run of white space and control characters one space, no space at the
 * ends (query texts span lines). */
static char *
text_cell(const uint8_t *data, size_t len)
{
	char *text = pgf_text_clean(data, len);
	size_t o = 0;
	bool space = false;

	if (text == NULL)
		return NULL;
	for (size_t i = 0; text[i] != '\0'; i++) {
		unsigned char c = (unsigned char) text[i];
		if (c <= 0x20 || c == 0x7F) {
			space = o > 0;
			continue;
		}
		if (space)
			text[o++] = ' ';
		space = false;
		text[o++] = (char) c;
	}
	text[o] = '\0';
	return text;
}

/* cell_text returns the malloc'd table text of the one value of field's
 * type at p, or NULL when out of memory. */
static char *
cell_text(const ProtobufCFieldDescriptor *field, const void *p)
{
	char buf[64];

	switch (field->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(buf, sizeof(buf), "%" PRId32, *(const int32_t *) p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(buf, sizeof(buf), "%" PRIu32, *(const uint32_t *) p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *) p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *) p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		format_double(float_value(*(const float *) p), buf, sizeof(buf));
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		format_double(*(const double *) p, buf, sizeof(buf));
		break;
	case PROTOBUF_C_TYPE_BOOL:
		snprintf(buf, sizeof(buf), "%s",
		    *(const protobuf_c_boolean *) p ? "yes" : "no");
		break;
	case PROTOBUF_C_TYPE_ENUM:
		return enum_cell(field->descriptor, *(const int32_t *) p);
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) p;
		if (s == NULL)
			s = "";
		return text_cell((const uint8_t *) s, strlen(s));
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		return text_cell(b->data, b->len);
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		buf[0] = '\0';
		break;
	}
	return strdup(buf);
}

static bool
type_is_numeric(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		return true;
	default:
		return false;
	}
}

/* is_column: a scalar field, one column of a rows table. */
static bool
is_column(const ProtobufCFieldDescriptor *field)
{
	return field->label != PROTOBUF_C_LABEL_REPEATED &&
	    field->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* set_cell gives text (malloc'd) to cell n of line, or frees it. */
static int
set_cell(struct libscols_line *line, size_t n, char *text)
{
	if (text == NULL)
		return -1;
	if (scols_line_refer_data(line, n, text) != 0) {
		free(text);
		return -1;
	}
	return 0;
}

/* add_rows fills tb with one column per scalar field of the rows' message
 * and one line per row; *n_rows is the number of rows. The widest text
 * column (a query text, typically) is moved last, so its width never pushes
 * the other columns apart. */
static int
add_rows(struct libscols_table *tb, const ProtobufCMessage *message,
    const ProtobufCFieldDescriptor *rows, size_t *n_rows)
{
	const ProtobufCMessageDescriptor *row_descriptor = rows->descriptor;
	const char *items = repeated_items(message, rows);
	size_t count = repeated_count(message, rows);

	size_t widest_column = 0;
	size_t widest_length = 0;

	*n_rows = count;
	for (unsigned i = 0; i < row_descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &row_descriptor->fields[i];
		double whint = 0;
		int flags = 0;

		if (!is_column(field))
			continue;
		if (type_is_numeric(field->type)) {
			flags = SCOLS_FL_RIGHT;
		} else if (field->type == PROTOBUF_C_TYPE_STRING ||
		    field->type == PROTOBUF_C_TYPE_BYTES) {
			flags = SCOLS_FL_TRUNC;
			whint = RENDER_TEXT_WHINT;
		}
		if (scols_table_new_column(tb, field->name, whint, flags) == NULL)
			return -1;
	}
	for (size_t r = 0; r < count; r++) {
		const ProtobufCMessage *row;
		struct libscols_line *line = scols_table_new_line(tb, NULL);
		size_t column = 0;

		if (line == NULL)
			return -1;
		memcpy(&row, items + r * sizeof(row), sizeof(row));
		for (unsigned i = 0; i < row_descriptor->n_fields; i++) {
			const ProtobufCFieldDescriptor *field =
			    &row_descriptor->fields[i];

			if (!is_column(field))
				continue;
			if (row != NULL && field_present(row, field)) {
				char *text = cell_text(field,
				    (const char *) row + field->offset);
				if (text != NULL &&
				    (field->type == PROTOBUF_C_TYPE_STRING ||
				    field->type == PROTOBUF_C_TYPE_BYTES) &&
				    strlen(text) > widest_length) {
					widest_length = strlen(text);
					widest_column = column;
				}
				if (set_cell(line, column, text) != 0)
					return -1;
			}
			column++;
		}
	}
	if (widest_length > 0) {
		size_t last = scols_table_get_ncols(tb) - 1;
		if (widest_column != last &&
		    scols_table_move_column(tb, scols_table_get_column(tb, last),
		    scols_table_get_column(tb, widest_column)) != 0)
			return -1;
	}
	return 0;
}

/* add_field_line adds one field/value line; value is malloc'd (or NULL when
 * out of memory) and taken over. */
static int
add_field_line(struct libscols_table *tb, const char *name, char *value)
{
	struct libscols_line *line;

	if (value == NULL)
		return -1;
	line = scols_table_new_line(tb, NULL);
	if (line == NULL || scols_line_set_data(line, 0, name) != 0) {
		free(value);
		return -1;
	}
	return set_cell(line, 1, value);
}

/* join_cells renders the values of a repeated scalar field joined by ", ". */
static char *
join_cells(const ProtobufCMessage *message,
    const ProtobufCFieldDescriptor *field)
{
	const char *items = repeated_items(message, field);
	size_t count = repeated_count(message, field);
	size_t size = element_size(field->type);
	char *joined = strdup("");
	size_t len = 0;

	for (size_t i = 0; joined != NULL && i < count; i++) {
		char *text = cell_text(field, items + i * size);
		size_t n;
		char *grown;

		if (text == NULL)
			goto fail;
		n = strlen(text);
		grown = realloc(joined, len + n + 3);
		if (grown == NULL) {
			free(text);
			goto fail;
		}
		joined = grown;
		if (i > 0) {
			memcpy(joined + len, ", ", 2);
			len += 2;
		}
		memcpy(joined + len, text, n + 1);
		len += n;
		free(text);
	}
	return joined;
fail:
	free(joined);
	return NULL;
}

static int add_fields(struct libscols_table *tb,
    const ProtobufCMessage *message, const char *prefix);

/* add_field adds the lines of one field named name (its full path). */
static int
add_field(struct libscols_table *tb, const ProtobufCMessage *message,
    const ProtobufCFieldDescriptor *field, const char *name)
{
	const char *p = (const char *) message + field->offset;

	if (field->label == PROTOBUF_C_LABEL_REPEATED) {
		const char *items = repeated_items(message, field);
		size_t count = repeated_count(message, field);

		if (field->type != PROTOBUF_C_TYPE_MESSAGE || count == 0)
			return add_field_line(tb, name, join_cells(message, field));
		for (size_t i = 0; i < count; i++) {
			const ProtobufCMessage *item;
			char *item_name;
			int rc;

			memcpy(&item, items + i * sizeof(item), sizeof(item));
			if (asprintf(&item_name, "%s[%zu]", name, i) < 0)
				return -1;
			if (item == NULL)
				rc = add_field_line(tb, item_name, strdup(""));
			else
				rc = add_fields(tb, item, item_name);
			free(item_name);
			if (rc != 0)
				return -1;
		}
		return 0;
	}
	if (field->type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCMessage *sub;

		memcpy(&sub, p, sizeof(sub));
		if (sub == NULL)
			return add_field_line(tb, name, strdup(""));
		return add_fields(tb, sub, name);
	}
	return add_field_line(tb, name, cell_text(field, p));
}

/* add_fields adds a field/value line for every scalar of message, nested
 * messages flattened to dotted paths under prefix (NULL at the top). */
static int
add_fields(struct libscols_table *tb, const ProtobufCMessage *message,
    const char *prefix)
{
	const ProtobufCMessageDescriptor *descriptor = message->descriptor;

	for (unsigned i = 0; i < descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
		char *name = NULL;
		int rc;

		if (!field_present(message, field))
			continue;
		if (prefix == NULL)
			name = strdup(field->name);
		else if (asprintf(&name, "%s.%s", prefix, field->name) < 0)
			name = NULL;
		if (name == NULL)
			return -1;
		rc = add_field(tb, message, field, name);
		free(name);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* set_terminal decides truncation from out itself, not from stdout as
 * libsmartcols would: on a terminal, fit its width; elsewhere never cut. */
static int
set_terminal(struct libscols_table *tb, FILE *out)
{
	int fd = fileno(out);
	struct winsize ws;

	if (fd < 0 || !isatty(fd))
		return scols_table_set_termforce(tb, SCOLS_TERMFORCE_NEVER);
	if (scols_table_set_termforce(tb, SCOLS_TERMFORCE_ALWAYS) != 0)
		return -1;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return scols_table_set_termwidth(tb, ws.ws_col);
	return 0;
}

/* print_scalars prints an answer's non-empty string fields besides its
 * rows (a trend's sparkline, say) as "name: value" lines under the table. */
static int
print_scalars(const ProtobufCMessage *message, FILE *out)
{
	const ProtobufCMessageDescriptor *descriptor = message->descriptor;
	for (unsigned i = 0; i < descriptor->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
		const char *text;
		if (field->type != PROTOBUF_C_TYPE_STRING ||
		    field->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		text = *(const char *const *) ((const char *) message + field->offset);
		if (text == NULL || text[0] == '\0')
			continue;
		if (fprintf(out, "%s: %s\n", field->name, text) < 0)
			return -1;
	}
	return 0;
}

int
pgf_render_table(const ProtobufCMessage *message, FILE *out)
{
	const ProtobufCFieldDescriptor *rows = pgf_render_rows_field(message);
	struct libscols_table *tb = scols_new_table();
	size_t n_rows = 0;
	int rc = -1;

	if (tb == NULL)
		goto fail;
	if (scols_table_set_stream(tb, out) != 0 || set_terminal(tb, out) != 0)
		goto fail;
	if (rows != NULL) {
		if (add_rows(tb, message, rows, &n_rows) != 0)
			goto fail;
	} else {
		if (scols_table_new_column(tb, "field", 0, 0) == NULL ||
		    scols_table_new_column(tb, "value", RENDER_TEXT_WHINT,
		    SCOLS_FL_TRUNC) == NULL)
			goto fail;
		if (add_fields(tb, message, NULL) != 0)
			goto fail;
	}
	if (scols_table_get_nlines(tb) > 0 && scols_table_get_ncols(tb) > 0) {
		if (scols_print_table(tb) != 0)
			goto fail;
	} else if (rows != NULL) {
		/* libsmartcols prints nothing, not even the header, for an
		 * empty table: say so */
		if (fprintf(out, "(%zu row%s)\n", n_rows,
		    n_rows == 1 ? "" : "s") < 0)
			goto fail;
	}
	if (rows != NULL && print_scalars(message, out) != 0)
		goto fail;
	if (fflush(out) != 0 || ferror(out))
		goto fail;
	rc = 0;
fail:
	scols_unref_table(tb);
	return rc;
}
