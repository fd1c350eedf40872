/*
 * http_routes.c - paths to questions, parameters to fields (see
 * http_routes.h).
 *
 * Parameters are set through the question's protobuf descriptor, so a new
 * question needs one row here and no parser of its own: its field names
 * are its parameter names, exactly as its JSON answer uses the field names
 * of its answer.
 */
#include "collector/http_routes.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/timeutil.h"

/* The CLI's bounds on --limit. */
#define HTTP_MAX_LIMIT 10000
/* The CLI's default window for slow-queries: the last day. */
#define DAY_US (86400LL * 1000000)

static void
last_day(ProtobufCMessage *question, Pgfleet__V1__Scope *scope, int64_t now_us)
{
	(void) question;
	scope->since_us = now_us - DAY_US;
}

/* NONE: no required parameter */
#define NONE {NULL}

const struct http_route http_routes[] = {
	{"GET", "/api/db/slow-queries", &pgfleet__v1__slow_queries_request__descriptor, false,
	    last_day, NONE},
	{"GET", "/api/db/table-stats", &pgfleet__v1__table_stats_request__descriptor, false, NULL,
	    NONE},
	{"GET", "/api/db/index-usage", &pgfleet__v1__index_usage_request__descriptor, false, NULL,
	    NONE},
	{"GET", "/api/db/bloat-stats", &pgfleet__v1__bloat_stats_request__descriptor, false, NULL,
	    NONE},
	{"GET", "/api/fleet/instances", &pgfleet__v1__fleet_request__descriptor, false, NULL, NONE},
	{"GET", "/api/db/replication", &pgfleet__v1__replication_request__descriptor, false, NULL,
	    NONE},
	{"GET", "/api/db/activity", &pgfleet__v1__activity_request__descriptor, false, NULL, NONE},
	{"GET", "/api/db/query-trend", &pgfleet__v1__query_trend_request__descriptor, false, NULL,
	    {"queryid", NULL}},
	{"GET", "/api/db/table-trend", &pgfleet__v1__table_trend_request__descriptor, false, NULL,
	    {"table", NULL}},
	{"GET", "/api/db/replication-trend", &pgfleet__v1__replication_trend_request__descriptor,
	    false, NULL, NONE},
	{"GET", "/api/db/index-recommendations",
	    &pgfleet__v1__index_recommendations_request__descriptor, false, NULL, NONE},
	{"GET", "/api/db/vacuum-advice", &pgfleet__v1__vacuum_advice_request__descriptor, false,
	    NULL, NONE},
	{"GET", "/api/db/replication-health", &pgfleet__v1__replication_health_request__descriptor,
	    false, NULL, NONE},
	{"GET", "/api/db/checklist", &pgfleet__v1__checklist_request__descriptor, false, NULL, NONE},
	{"GET", "/api/db/pool-stats", &pgfleet__v1__pool_stats_request__descriptor, false, NULL,
	    NONE},
	{"GET", "/api/db/pool-recommendation", &pgfleet__v1__pool_recommendation_request__descriptor,
	    false, NULL, NONE},
	{"GET", "/api/db/pool-size", &pgfleet__v1__pool_size_request__descriptor, false, NULL,
	    {"concurrent_requests", "avg_query_ms", NULL}},
	{"GET", "/api/db/query-regressions", &pgfleet__v1__query_regressions_request__descriptor,
	    false, NULL, NONE},
	/* the guide's {"query": ..., "analyze": ...}, with "instance" */
	{"POST", "/api/db/explain", &pgfleet__v1__explain_request__descriptor, true, NULL,
	    {"instance", NULL}},
};
const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);

enum http_route_match
http_route_find(const char *method, const char *path, const struct http_route **route,
    char *allow, size_t allow_len)
{
	const struct http_route *same_path = NULL;

	for (size_t i = 0; i < http_routes_count; i++) {
		if (strcmp(http_routes[i].path, path) != 0)
			continue;
		if (strcmp(http_routes[i].method, method) == 0) {
			*route = &http_routes[i];
			return HTTP_ROUTE_FOUND;
		}
		same_path = &http_routes[i];
	}
	if (same_path == NULL)
		return HTTP_ROUTE_NO_PATH;
	snprintf(allow, allow_len, "%s", same_path->method);
	return HTTP_ROUTE_WRONG_METHOD;
}

/* Keeps a copy of text for the question's lifetime. */
static char *
keep_string(struct http_question *question, const char *text)
{
	char **grown = realloc(question->strings, (question->n_strings + 1) * sizeof(*grown));
	char *copy;

	if (grown == NULL)
		return NULL;
	question->strings = grown;
	if ((copy = strdup(text)) == NULL)
		return NULL;
	question->strings[question->n_strings++] = copy;
	return copy;
}

int
http_question_init(struct http_question *question, const struct http_route *route,
    int64_t now_us)
{
	const ProtobufCFieldDescriptor *member = NULL;
	const ProtobufCFieldDescriptor *scope;

	memset(question, 0, sizeof(*question));
	question->route = route;
	pgfleet__v1__request__init(&question->request);
	pgfleet__v1__scope__init(&question->scope);
	question->message = malloc(route->question->sizeof_message);
	if (question->message == NULL)
		return PGF_ENOMEM;
	protobuf_c_message_init(route->question, question->message);
	/* the scope, when the question has one, is ours */
	scope = protobuf_c_message_descriptor_get_field_by_name(route->question, "scope");
	if (scope != NULL && scope->type == PROTOBUF_C_TYPE_MESSAGE &&
	    scope->descriptor == &pgfleet__v1__scope__descriptor) {
		Pgfleet__V1__Scope *pointer = &question->scope;
		memcpy((char *) question->message + scope->offset, &pointer, sizeof(pointer));
	}
	/* the Request's oneof member whose type is this question */
	for (unsigned i = 0; i < pgfleet__v1__request__descriptor.n_fields; i++) {
		if (pgfleet__v1__request__descriptor.fields[i].descriptor == route->question)
			member = &pgfleet__v1__request__descriptor.fields[i];
	}
	if (member == NULL)
		return PGF_EINVAL; /* a route row for a question the Request lacks: a bug */
	question->request.question_case = (Pgfleet__V1__Request__QuestionCase) member->id;
	memcpy((char *) &question->request + member->offset, &question->message,
	    sizeof(question->message));
	if (route->defaults != NULL)
		route->defaults(question->message, &question->scope, now_us);
	return PGF_OK;
}

void
http_question_fini(struct http_question *question)
{
	for (size_t i = 0; i < question->n_strings; i++)
		free(question->strings[i]);
	free(question->strings);
	free(question->message);
	memset(question, 0, sizeof(*question));
}

static bool
has_scope(const struct http_question *question)
{
	const ProtobufCFieldDescriptor *scope = protobuf_c_message_descriptor_get_field_by_name(
	    question->route->question, "scope");
	return scope != NULL && scope->descriptor == &pgfleet__v1__scope__descriptor;
}

const char *
http_question_instance(const struct http_question *question)
{
	const ProtobufCFieldDescriptor *field;

	if (question->scope.instance != NULL && question->scope.instance[0] != '\0')
		return question->scope.instance;
	field = protobuf_c_message_descriptor_get_field_by_name(question->route->question,
	    "instance");
	if (field != NULL && field->type == PROTOBUF_C_TYPE_STRING &&
	    field->label != PROTOBUF_C_LABEL_REPEATED) {
		const char *value = *(const char *const *) ((const char *) question->message +
		    field->offset);
		if (value != NULL)
			return value;
	}
	return "";
}

const char *
http_question_cluster(const struct http_question *question)
{
	return question->scope.cluster != NULL ? question->scope.cluster : "";
}

/* The length of the prefix all of an enum's value names share, up to an
 * underscore: "ORDER_" of ORDER_TOTAL, ORDER_MEAN, ORDER_CALLS. */
static size_t
enum_prefix(const ProtobufCEnumDescriptor *descriptor)
{
	const char *first;
	size_t prefix;

	if (descriptor->n_values < 2)
		return 0;
	first = descriptor->values[0].name;
	prefix = strlen(first);
	for (unsigned i = 1; i < descriptor->n_values; i++) {
		size_t same = 0;
		while (same < prefix && descriptor->values[i].name[same] == first[same])
			same++;
		prefix = same;
	}
	while (prefix > 0 && first[prefix - 1] != '_')
		prefix--;
	return prefix;
}

/* The enum value whose name, or whose name without the shared prefix, is
 * text (any case): ORDER_MEAN for "mean". */
static const ProtobufCEnumValue *
enum_value(const ProtobufCEnumDescriptor *descriptor, const char *text)
{
	size_t prefix = enum_prefix(descriptor);

	for (unsigned i = 0; i < descriptor->n_values; i++) {
		const char *name = descriptor->values[i].name;
		if (strcasecmp(name, text) == 0 || strcasecmp(name + prefix, text) == 0)
			return &descriptor->values[i];
	}
	return NULL;
}

/* Lists an enum's values as the parameter takes them, for an error. */
static void
enum_choices(const ProtobufCEnumDescriptor *descriptor, char *out, size_t len)
{
	size_t used = 0;
	size_t prefix = enum_prefix(descriptor);

	out[0] = '\0';
	for (unsigned i = 0; i < descriptor->n_values && used + 1 < len; i++) {
		int n = snprintf(out + used, len - used, "%s", i == 0 ? "" : ", ");
		used += n > 0 ? (size_t) n : 0;
		for (const char *c = descriptor->values[i].name + prefix; *c != '\0' && used + 1 < len;
		     c++)
			out[used++] = (char) tolower((unsigned char) *c);
		out[used] = '\0';
	}
}

static bool
parse_bool(const char *text, protobuf_c_boolean *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = 1;
			return true;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = 0;
			return true;
		}
	}
	return false;
}

static int
bad_value(const char *name, const char *value, const char *expected, char *errbuf,
    size_t errlen)
{
	snprintf(errbuf, errlen, "invalid parameter \"%s\": \"%s\" (expected %s)", name, value,
	    expected);
	return PGF_EINVAL;
}

/* Sets one scope parameter; false when name is not one. */
static bool
set_scope(struct http_question *question, const char *name, const char *value, int64_t now_us,
    int *rv, char *errbuf, size_t errlen)
{
	char **text = NULL;
	int64_t *time = NULL;

	if (strcmp(name, "instance") == 0)
		text = &question->scope.instance;
	else if (strcmp(name, "cluster") == 0)
		text = &question->scope.cluster;
	else if (strcmp(name, "database") == 0)
		text = &question->scope.database;
	else if (strcmp(name, "since") == 0)
		time = &question->scope.since_us;
	else if (strcmp(name, "until") == 0)
		time = &question->scope.until_us;
	else
		return false;
	*rv = PGF_OK;
	if (text != NULL) {
		if ((*text = keep_string(question, value)) == NULL)
			*rv = PGF_ENOMEM;
	} else if (!pgf_time_parse(value, now_us, time)) {
		*rv = bad_value(name, value, "1h, 7d, or 2026-01-31 12:00", errbuf, errlen);
	}
	return true;
}

static void
mark_given(struct http_question *question, const ProtobufCFieldDescriptor *field)
{
	size_t index = (size_t) (field - question->route->question->fields);
	if (index < 64)
		question->given |= (uint64_t) 1 << index;
}

static int
unknown_parameter(const struct http_question *question, const char *name, char *errbuf,
    size_t errlen)
{
	snprintf(errbuf, errlen, "unknown parameter \"%s\" for %s", name, question->route->path);
	return PGF_EINVAL;
}

/* NAME for a field NAME_us (a time, as --since takes it) or NAME_ms (a
 * duration, as --bucket takes it). */
static int
set_time_or_duration(struct http_question *question, const char *name, const char *value,
    int64_t now_us, char *errbuf, size_t errlen)
{
	char field_name[128];
	const ProtobufCFieldDescriptor *field;
	int64_t number;

	for (int kind = 0; kind < 2; kind++) {
		snprintf(field_name, sizeof(field_name), "%s%s", name, kind == 0 ? "_us" : "_ms");
		field = protobuf_c_message_descriptor_get_field_by_name(question->route->question,
		    field_name);
		if (field == NULL || field->type != PROTOBUF_C_TYPE_INT64 ||
		    field->label == PROTOBUF_C_LABEL_REPEATED ||
		    (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		if (kind == 0 && !pgf_time_parse(value, now_us, &number))
			return bad_value(name, value, "1h, 7d, or 2026-01-31 12:00", errbuf, errlen);
		if (kind == 1 && !pgf_duration_parse(value, &number))
			return bad_value(name, value, "a duration such as 30s, 5m, 1h", errbuf, errlen);
		memcpy((char *) question->message + field->offset, &number, sizeof(number));
		mark_given(question, field);
		return PGF_OK;
	}
	return unknown_parameter(question, name, errbuf, errlen);
}

int
http_question_check(const struct http_question *question, char *errbuf, size_t errlen)
{
	for (int i = 0; i < 3 && question->route->required[i] != NULL; i++) {
		const char *name = question->route->required[i];
		const ProtobufCFieldDescriptor *field =
		    protobuf_c_message_descriptor_get_field_by_name(question->route->question, name);
		size_t index = field != NULL ? (size_t) (field - question->route->question->fields) : 64;
		/* the scope's instance counts for an "instance" */
		if (strcmp(name, "instance") == 0 && http_question_instance(question)[0] != '\0')
			continue;
		if (index >= 64 || !(question->given & ((uint64_t) 1 << index))) {
			snprintf(errbuf, errlen, "missing parameter \"%s\" for %s", name,
			    question->route->path);
			return PGF_EINVAL;
		}
	}
	return PGF_OK;
}

int
http_question_set(struct http_question *question, const char *name, const char *value,
    int64_t now_us, char *errbuf, size_t errlen)
{
	const ProtobufCFieldDescriptor *field;
	char *member;
	char *end = NULL;
	int rv;

	if (value == NULL)
		value = "";
	if (has_scope(question) &&
	    set_scope(question, name, value, now_us, &rv, errbuf, errlen))
		return rv;
	field = protobuf_c_message_descriptor_get_field_by_name(question->route->question, name);
	if (field == NULL)
		return set_time_or_duration(question, name, value, now_us, errbuf, errlen);
	if (field->label == PROTOBUF_C_LABEL_REPEATED ||
	    (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
	    field->type == PROTOBUF_C_TYPE_MESSAGE || field->type == PROTOBUF_C_TYPE_BYTES)
		return unknown_parameter(question, name, errbuf, errlen);
	member = (char *) question->message + field->offset;
	mark_given(question, field);
	errno = 0;
	switch (field->type) {
	case PROTOBUF_C_TYPE_STRING: {
		char *copy = keep_string(question, value);
		if (copy == NULL)
			return PGF_ENOMEM;
		memcpy(member, &copy, sizeof(copy));
		return PGF_OK;
	}
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean flag;
		if (!parse_bool(value, &flag))
			return bad_value(name, value, "true or false", errbuf, errlen);
		memcpy(member, &flag, sizeof(flag));
		return PGF_OK;
	}
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: {
		unsigned long long number;
		/* the CLI's --limit: 1 to 10000 */
		unsigned long long max = strcmp(name, "limit") == 0 ? HTTP_MAX_LIMIT : UINT32_MAX;
		unsigned long long min = strcmp(name, "limit") == 0 ? 1 : 0;
		char expected[64];
		uint32_t stored;

		snprintf(expected, sizeof(expected), "a whole number from %llu to %llu", min, max);
		if (!isdigit((unsigned char) value[0]))
			return bad_value(name, value, expected, errbuf, errlen);
		number = strtoull(value, &end, 10);
		if (*end != '\0' || errno != 0 || number < min || number > max)
			return bad_value(name, value, expected, errbuf, errlen);
		stored = (uint32_t) number;
		memcpy(member, &stored, sizeof(stored));
		return PGF_OK;
	}
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: {
		long long number = strtoll(value, &end, 10);
		int32_t stored;
		if (end == value || *end != '\0' || errno != 0 || number < INT32_MIN ||
		    number > INT32_MAX)
			return bad_value(name, value, "a whole number", errbuf, errlen);
		stored = (int32_t) number;
		memcpy(member, &stored, sizeof(stored));
		return PGF_OK;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: {
		int64_t number = strtoll(value, &end, 10);
		if (end == value || *end != '\0' || errno != 0)
			return bad_value(name, value, "a whole number", errbuf, errlen);
		memcpy(member, &number, sizeof(number));
		return PGF_OK;
	}
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t number;
		if (!isdigit((unsigned char) value[0]))
			return bad_value(name, value, "a whole number, 0 or more", errbuf, errlen);
		number = strtoull(value, &end, 10);
		if (*end != '\0' || errno != 0)
			return bad_value(name, value, "a whole number, 0 or more", errbuf, errlen);
		memcpy(member, &number, sizeof(number));
		return PGF_OK;
	}
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_FLOAT: {
		double number = strtod(value, &end);
		if (end == value || *end != '\0' || !isfinite(number) || number < 0)
			return bad_value(name, value, "a number, 0 or more", errbuf, errlen);
		if (field->type == PROTOBUF_C_TYPE_FLOAT) {
			float narrow = (float) number;
			memcpy(member, &narrow, sizeof(narrow));
		} else {
			memcpy(member, &number, sizeof(number));
		}
		return PGF_OK;
	}
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *descriptor = field->descriptor;
		const ProtobufCEnumValue *found = enum_value(descriptor, value);
		char choices[256];
		if (found == NULL) {
			enum_choices(descriptor, choices, sizeof(choices));
			return bad_value(name, value, choices, errbuf, errlen);
		}
		memcpy(member, &found->value, sizeof(found->value));
		return PGF_OK;
	}
	default:
		return unknown_parameter(question, name, errbuf, errlen);
	}
}

int
http_question_set_json(struct http_question *question, const char *body, size_t len,
    int64_t now_us, char *errbuf, size_t errlen)
{
	json_error_t error;
	json_t *object = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
	const char *key;
	json_t *value;
	int rv = PGF_OK;

	if (object == NULL) {
		snprintf(errbuf, errlen, "invalid JSON body at line %d, column %d: %s", error.line,
		    error.column, error.text);
		return PGF_EINVAL;
	}
	if (!json_is_object(object)) {
		json_decref(object);
		snprintf(errbuf, errlen, "invalid JSON body: expected an object");
		return PGF_EINVAL;
	}
	json_object_foreach(object, key, value) {
		char text[64];
		const char *as_text = text;

		if (json_is_string(value))
			as_text = json_string_value(value);
		else if (json_is_integer(value))
			snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		else if (json_is_real(value))
			snprintf(text, sizeof(text), "%.17g", json_real_value(value));
		else if (json_is_boolean(value))
			snprintf(text, sizeof(text), "%s", json_is_true(value) ? "true" : "false");
		else if (json_is_null(value))
			continue;
		else {
			snprintf(errbuf, errlen,
			    "invalid member \"%s\" of the JSON body: expected a string, number or boolean",
			    key);
			rv = PGF_EINVAL;
			break;
		}
		if ((rv = http_question_set(question, key, as_text, now_us, errbuf, errlen)) !=
		    PGF_OK)
			break;
	}
	json_decref(object);
	return rv;
}
