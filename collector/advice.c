/*
 * advice.c - vacuum-advice, replication-health and checklist answers (see
 * advice.h): store facts in, pure analysis, findings out as answer rows.
 * Every answer is malloc'd throughout, as store_answer_free expects.
 */
#include "collector/advice.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/size_pretty.h"

/* Rows in an answer when the request names no limit, and at most. */
#define ADVICE_DEFAULT_LIMIT    50
#define CHECKLIST_DEFAULT_LIMIT 7000
#define ADVICE_MAX_LIMIT        10000

void *
advice_pool_alloc(struct advice_pool *pool, size_t size)
{
	void *block;

	if (pool->n == pool->capacity) {
		size_t capacity = pool->capacity > 0 ? pool->capacity * 2 : 64;
		void **blocks = realloc(pool->blocks, capacity * sizeof(*blocks));
		if (blocks == NULL)
			return NULL;
		pool->blocks = blocks;
		pool->capacity = capacity;
	}
	block = calloc(1, size > 0 ? size : 1);
	if (block != NULL)
		pool->blocks[pool->n++] = block;
	return block;
}

char *
advice_pool_strdup(struct advice_pool *pool, const char *text)
{
	size_t len = text != NULL ? strlen(text) : 0;
	char *copy = advice_pool_alloc(pool, len + 1);

	if (copy != NULL && len > 0)
		memcpy(copy, text, len);
	return copy;
}

void
advice_pool_free(struct advice_pool *pool)
{
	for (size_t i = 0; i < pool->n; i++)
		free(pool->blocks[i]);
	free(pool->blocks);
	memset(pool, 0, sizeof(*pool));
}

bool
advice_grow(void **array, size_t count, size_t *capacity, size_t element_size)
{
	size_t wanted;
	void *grown;

	if (count < *capacity)
		return true;
	wanted = *capacity > 0 ? *capacity * 2 : 16;
	grown = realloc(*array, wanted * element_size);
	if (grown == NULL)
		return false;
	memset((char *) grown + *capacity * element_size, 0,
	    (wanted - *capacity) * element_size);
	*array = grown;
	*capacity = wanted;
	return true;
}

void
vacuum_fact_set_fini(struct vacuum_fact_set *set)
{
	advice_pool_free(&set->pool);
	free(set->rows);
	memset(set, 0, sizeof(*set));
}

void
replication_fact_set_fini(struct replication_fact_set *set)
{
	advice_pool_free(&set->pool);
	free(set->replicas);
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

void
checklist_fact_set_fini(struct checklist_fact_set *set)
{
	advice_pool_free(&set->pool);
	free(set->rows);
	memset(set, 0, sizeof(*set));
}

/* ---- answers ---- */

static void answer_error(Pgfleet__V1__Response *response, Pgfleet__V1__Error__Code code,
    const char *format, ...) __attribute__((format(printf, 3, 4)));

static void
answer_error(Pgfleet__V1__Response *response, Pgfleet__V1__Error__Code code,
    const char *format, ...)
{
	Pgfleet__V1__Error *error = malloc(sizeof(*error));
	char message[512];
	va_list args;

	va_start(args, format);
	vsnprintf(message, sizeof(message), format, args);
	va_end(args);
	if (error == NULL)
		return;
	pgfleet__v1__error__init(error);
	error->code = code;
	error->message = strdup(message);
	if (error->message == NULL)
		error->message = (char *) protobuf_c_empty_string;
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_ERROR;
	response->error = error;
}

/* Checks what every question here shares; false after answering an
 * error. *limit becomes the rows to answer. */
static bool
question_ok(const Pgfleet__V1__Scope *scope, uint32_t asked, uint32_t default_limit,
    size_t *limit, Pgfleet__V1__Response *response)
{
	if (asked > ADVICE_MAX_LIMIT) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "limit %u is larger than %d", asked, ADVICE_MAX_LIMIT);
		return false;
	}
	if (scope != NULL && scope->until_us != 0 && scope->until_us <= scope->since_us) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_BAD_REQUEST,
		    "the window ends before it starts");
		return false;
	}
	*limit = asked > 0 ? asked : default_limit;
	return true;
}

/* A malloc'd copy; "" is protobuf-c's empty string, which is never
 * freed. NULL only when out of memory. */
static char *
copy(const char *text)
{
	if (text == NULL || text[0] == '\0')
		return (char *) protobuf_c_empty_string;
	return strdup(text);
}

/* "YYYY-MM-DD HH:MM:SS" UTC of a time, malloc'd; "" when 0. */
static char *
time_text(int64_t us)
{
	char buf[32];
	time_t seconds = (time_t) (us / 1000000);
	struct tm tm;

	if (us <= 0 || gmtime_r(&seconds, &tm) == NULL)
		return (char *) protobuf_c_empty_string;
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	return strdup(buf);
}

static char *
size_text(int64_t bytes)
{
	char buf[32];
	return copy(pgf_size_pretty(bytes, buf, sizeof(buf)));
}

/* Grows rows by one zeroed row of message type; NULL when out of memory. */
static void *
append_row(void ***rows, size_t *n_rows, const ProtobufCMessageDescriptor *descriptor)
{
	void **grown = realloc(*rows, (*n_rows + 1) * sizeof(**rows));
	void *row;

	if (grown == NULL)
		return NULL;
	*rows = grown;
	row = malloc(descriptor->sizeof_message);
	if (row == NULL)
		return NULL;
	protobuf_c_message_init(descriptor, row);
	grown[(*n_rows)++] = row;
	return row;
}

/* Any string of a row NULL: a strdup failed. */
static bool
row_complete(const ProtobufCMessage *row)
{
	const ProtobufCMessageDescriptor *d = row->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (d->fields[i].type == PROTOBUF_C_TYPE_STRING
		    && *(char *const *) ((const char *) row + d->fields[i].offset)
			== NULL)
			return false;
	}
	return true;
}

/* Frees a partly built answer after out of memory and answers that. */
static void
fail_out_of_memory(
    ProtobufCMessage *answer, const char *what, Pgfleet__V1__Response *response)
{
	const ProtobufCMessageDescriptor *d = answer->descriptor;
	/* a NULL string would crash the free: make them empty first */
	const ProtobufCFieldDescriptor *rows
	    = protobuf_c_message_descriptor_get_field_by_name(d, "rows");
	size_t n = *(size_t *) ((char *) answer + rows->quantifier_offset);
	ProtobufCMessage **list
	    = *(ProtobufCMessage ***) ((char *) answer + rows->offset);

	for (size_t r = 0; r < n; r++) {
		const ProtobufCMessageDescriptor *rd = list[r]->descriptor;
		for (unsigned i = 0; i < rd->n_fields; i++) {
			char **field
			    = (char **) ((char *) list[r] + rd->fields[i].offset);
			if (rd->fields[i].type == PROTOBUF_C_TYPE_STRING
			    && *field == NULL)
				*field = (char *) protobuf_c_empty_string;
		}
	}
	store_answer_free(answer);
	answer_error(
	    response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL, "%s: out of memory", what);
}

/* The error of a store op. */
static void
fail_store(int rv, const char *what, const char *errbuf, Pgfleet__V1__Response *response)
{
	pgf_error("%s: %s", what, errbuf);
	answer_error(response,
	    rv == PGF_EUNAVAILABLE ? PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE
				   : PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,
	    "%s: %s", what, errbuf);
}

static bool
fill_vacuum_row(Pgfleet__V1__VacuumAdviceRow *row, const struct vacuum_finding *finding)
{
	const struct vacuum_table_fact *t = finding->fact;
	const struct vacuum_figures *f = &finding->figures;

	row->schema = copy(t->schema);
	row->table = copy(t->table);
	row->type = copy(vacuum_finding_type_name(finding->type));
	row->priority = copy(vacuum_priority_name(finding->priority));
	row->recommendation = copy(finding->recommendation);
	row->evidence = copy(finding->evidence);
	row->needs_vacuum = f->needs_vacuum;
	row->dead_tuples = t->n_dead_tup;
	row->live_tuples = t->n_live_tup;
	row->dead_tuple_percentage = f->dead_tuple_percentage;
	row->vacuum_trigger = f->vacuum_trigger;
	row->inserts_since_vacuum = t->n_ins_since_vacuum;
	row->insert_trigger = f->insert_trigger;
	row->autovacuum_enabled = t->autovacuum_enabled;
	row->bloat_percentage = f->bloat_percentage;
	row->wasted_bytes = f->wasted_bytes;
	row->wasted_size = size_text(f->wasted_bytes);
	row->xid_age = t->relfrozenxid_age;
	row->freeze_max_age = t->freeze_max_age;
	row->xids_to_wraparound = f->xids_to_wraparound;
	row->instance = copy(t->instance);
	row->database = copy(t->database);
	row->last_vacuum = time_text(t->last_vacuum_us);
	row->last_autovacuum = time_text(t->last_autovacuum_us);
	row->collected_at = time_text(t->collected_at_us);
	return row_complete(&row->base);
}

void
advice_handle_vacuum(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__VacuumAdviceRequest *question = request->vacuum_advice;
	struct vacuum_fact_set facts;
	struct vacuum_finding *findings = NULL;
	Pgfleet__V1__VacuumAdvice *answer = NULL;
	char errbuf[512];
	size_t limit, count;
	int rv;

	memset(&facts, 0, sizeof(facts));
	if (!question_ok(
		question->scope, question->limit, ADVICE_DEFAULT_LIMIT, &limit, response))
		return;
	if (store->ops->vacuum_facts == NULL) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE,
		    "vacuum-advice: this store cannot answer it");
		return;
	}
	if ((rv = store->ops->vacuum_facts(
		 store, question->scope, &facts, errbuf, sizeof(errbuf)))
	    != PGF_OK) {
		vacuum_fact_set_fini(&facts);
		fail_store(rv, "vacuum-advice", errbuf, response);
		return;
	}
	findings = calloc(limit, sizeof(*findings));
	answer = malloc(sizeof(*answer));
	if (findings == NULL || answer == NULL) {
		free(findings);
		free(answer);
		vacuum_fact_set_fini(&facts);
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,
		    "vacuum-advice: out of memory");
		return;
	}
	pgfleet__v1__vacuum_advice__init(answer);
	count = analysis_vacuum(facts.rows, facts.n, findings, limit);
	for (size_t i = 0; i < count && i < limit; i++) {
		Pgfleet__V1__VacuumAdviceRow *row = append_row((void ***) &answer->rows,
		    &answer->n_rows, &pgfleet__v1__vacuum_advice_row__descriptor);
		if (row == NULL || !fill_vacuum_row(row, &findings[i])) {
			free(findings);
			vacuum_fact_set_fini(&facts);
			fail_out_of_memory(&answer->base, "vacuum-advice", response);
			return;
		}
	}
	free(findings);
	vacuum_fact_set_fini(&facts);
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_VACUUM_ADVICE;
	response->vacuum_advice = answer;
}

static bool
fill_replication_row(
    Pgfleet__V1__ReplicationHealthRow *row, const struct replication_finding *finding)
{
	row->status = copy(finding->status);
	row->priority = copy(replication_priority_name(finding->priority));
	row->recommendation = copy(finding->recommendation);
	row->evidence = copy(finding->evidence);
	if (finding->replica != NULL) {
		const struct replica_fact *r = finding->replica;
		row->type = copy("replica");
		row->instance = copy(r->instance);
		row->lag_bytes = r->lag_bytes;
		row->lag_seconds = r->lag_seconds;
		row->window_first_lag_bytes = finding->trend.first_lag_bytes;
		row->window_max_lag_bytes = finding->trend.max_lag_bytes;
		row->lag_bytes_per_minute = finding->trend.bytes_per_minute;
		row->trend = copy(finding->trend.trend);
		row->window_points = finding->trend.points;
		row->replay_paused = r->replay_paused;
		row->receiver_status = copy(r->receiver_status);
		row->listed_by_upstream = copy(r->listed == REPLICATION_LISTED_YES ? "yes"
			: r->listed == REPLICATION_LISTED_NO                       ? "no"
							     : "unknown");
		row->upstream = copy(r->upstream);
		row->slot_name = copy(r->slot_name);
		row->retained_size = copy("");
		row->wal_status = copy("");
		row->cluster = copy(r->cluster);
		row->collected_at = time_text(r->collected_at_us);
	} else {
		const struct slot_fact *s = finding->slot;
		row->type = copy("slot");
		row->instance = copy(s->instance);
		row->trend = copy("");
		row->receiver_status = copy("");
		row->listed_by_upstream = copy("");
		row->upstream = copy("");
		row->slot_name = copy(s->slot_name);
		row->slot_active = s->active;
		row->retained_bytes = s->retained_bytes;
		row->retained_size = size_text(s->retained_bytes);
		row->wal_status = copy(s->wal_status);
		row->cluster = copy(s->cluster);
		row->collected_at = time_text(s->collected_at_us);
	}
	return row_complete(&row->base);
}

void
advice_handle_replication_health(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__ReplicationHealthRequest *question
	    = request->replication_health;
	struct replication_fact_set facts;
	struct replication_finding *findings = NULL;
	Pgfleet__V1__ReplicationHealth *answer = NULL;
	char errbuf[512];
	size_t limit, count;
	int rv;

	memset(&facts, 0, sizeof(facts));
	if (!question_ok(
		question->scope, question->limit, ADVICE_DEFAULT_LIMIT, &limit, response))
		return;
	if (store->ops->replication_facts == NULL) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE,
		    "replication-health: this store cannot answer it");
		return;
	}
	if ((rv = store->ops->replication_facts(
		 store, question->scope, &facts, errbuf, sizeof(errbuf)))
	    != PGF_OK) {
		replication_fact_set_fini(&facts);
		fail_store(rv, "replication-health", errbuf, response);
		return;
	}
	findings = calloc(limit, sizeof(*findings));
	answer = malloc(sizeof(*answer));
	if (findings == NULL || answer == NULL) {
		free(findings);
		free(answer);
		replication_fact_set_fini(&facts);
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,
		    "replication-health: out of memory");
		return;
	}
	pgfleet__v1__replication_health__init(answer);
	count = analysis_replication(facts.replicas, facts.n_replicas, facts.slots,
	    facts.n_slots, findings, limit);
	for (size_t i = 0; i < count && i < limit; i++) {
		Pgfleet__V1__ReplicationHealthRow *row
		    = append_row((void ***) &answer->rows, &answer->n_rows,
			&pgfleet__v1__replication_health_row__descriptor);
		if (row == NULL || !fill_replication_row(row, &findings[i])) {
			free(findings);
			replication_fact_set_fini(&facts);
			fail_out_of_memory(&answer->base, "replication-health", response);
			return;
		}
	}
	free(findings);
	replication_fact_set_fini(&facts);
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_REPLICATION_HEALTH;
	response->replication_health = answer;
}

/* Adds to each instance's checklist facts the tables that need a vacuum
 * now (the same judgement as vacuum-advice). */
static void
count_need_vacuum(struct checklist_fact_set *set, const struct vacuum_fact_set *tables)
{
	for (size_t i = 0; i < tables->n; i++) {
		const struct vacuum_table_fact *t = &tables->rows[i];
		struct vacuum_figures figures;
		char name[400];

		vacuum_figures_of(t, &figures);
		if (!figures.needs_vacuum)
			continue;
		snprintf(
		    name, sizeof(name), "%s.%s.%s", t->database, t->schema, t->table);
		for (size_t j = 0; j < set->n; j++) {
			if (strcmp(set->rows[j].instance, t->instance) == 0) {
				set->rows[j].tables_need_vacuum++;
				checklist_add_name(set->rows[j].need_vacuum_names,
				    sizeof(set->rows[j].need_vacuum_names), name);
			}
		}
	}
}

/* Adds to each instance's checklist facts what pgfleet
 * index-recommendations says about it (a row names its instance, or only
 * its cluster for cluster-wide advice). Unknown when the store cannot
 * answer: the checklist then judges the indexes by itself. */
static void
count_index_advice(
    struct store *store, const Pgfleet__V1__Scope *scope, struct checklist_fact_set *set)
{
	Pgfleet__V1__IndexRecommendationsRequest question;
	Pgfleet__V1__IndexRecommendations *answer;
	char errbuf[512];

	if (store->ops->index_recommendations == NULL
	    || (answer = malloc(sizeof(*answer))) == NULL)
		return;
	pgfleet__v1__index_recommendations_request__init(&question);
	pgfleet__v1__index_recommendations__init(answer);
	question.scope = (Pgfleet__V1__Scope *) scope;
	question.limit = ADVICE_MAX_LIMIT;
	if (store->ops->index_recommendations(
		store, &question, answer, errbuf, sizeof(errbuf))
	    != PGF_OK) {
		pgf_warning("checklist: index recommendations unavailable: %s", errbuf);
		store_answer_free(&answer->base);
		return;
	}
	for (size_t j = 0; j < set->n; j++)
		set->rows[j].have_index_advice = true;
	for (size_t i = 0; i < answer->n_rows; i++) {
		const Pgfleet__V1__IndexRecommendation *r = answer->rows[i];
		char name[400];

		snprintf(name, sizeof(name), "%s %s.%s%s%s", r->type, r->schema, r->table,
		    r->index[0] != '\0' ? "." : "", r->index);
		for (size_t j = 0; j < set->n; j++) {
			struct checklist_facts *f = &set->rows[j];
			if (r->instance[0] != '\0' ? strcmp(r->instance, f->instance) != 0
						   : strcmp(r->cluster, f->cluster) != 0)
				continue;
			f->index_advice++;
			if (strcmp(r->priority, "high") == 0)
				f->index_advice_high++;
			/* the answer comes most important first */
			checklist_add_name(
			    f->index_advice_names, sizeof(f->index_advice_names), name);
		}
	}
	store_answer_free(&answer->base);
}

void
advice_handle_checklist(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response)
{
	const Pgfleet__V1__ChecklistRequest *question = request->checklist;
	struct checklist_fact_set facts;
	struct vacuum_fact_set tables;
	Pgfleet__V1__Checklist *answer = NULL;
	char errbuf[512];
	size_t limit;
	int rv;

	memset(&facts, 0, sizeof(facts));
	memset(&tables, 0, sizeof(tables));
	if (!question_ok(question->scope, question->limit, CHECKLIST_DEFAULT_LIMIT,
		&limit, response))
		return;
	if (store->ops->checklist_facts == NULL || store->ops->vacuum_facts == NULL) {
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_UNAVAILABLE,
		    "checklist: this store cannot answer it");
		return;
	}
	if ((rv = store->ops->checklist_facts(
		 store, question->scope, &facts, errbuf, sizeof(errbuf)))
		!= PGF_OK
	    || (rv = store->ops->vacuum_facts(
		    store, question->scope, &tables, errbuf, sizeof(errbuf)))
		!= PGF_OK) {
		checklist_fact_set_fini(&facts);
		vacuum_fact_set_fini(&tables);
		fail_store(rv, "checklist", errbuf, response);
		return;
	}
	count_need_vacuum(&facts, &tables);
	count_index_advice(store, question->scope, &facts);
	vacuum_fact_set_fini(&tables);
	answer = malloc(sizeof(*answer));
	if (answer == NULL) {
		checklist_fact_set_fini(&facts);
		answer_error(response, PGFLEET__V1__ERROR__CODE__CODE_INTERNAL,
		    "checklist: out of memory");
		return;
	}
	pgfleet__v1__checklist__init(answer);
	for (size_t i = 0; i < facts.n && answer->n_rows < limit; i++) {
		struct checklist_item items[CHECKLIST_ITEMS];

		analysis_checklist(&facts.rows[i], items);
		for (size_t k = 0; k < CHECKLIST_ITEMS && answer->n_rows < limit; k++) {
			Pgfleet__V1__ChecklistRow *row
			    = append_row((void ***) &answer->rows, &answer->n_rows,
				&pgfleet__v1__checklist_row__descriptor);
			if (row != NULL) {
				row->instance = copy(facts.rows[i].instance);
				row->item = copy(items[k].item);
				row->status
				    = copy(checklist_status_name(items[k].status));
				row->evidence = copy(items[k].evidence);
				row->recommendation = copy(items[k].recommendation);
				row->role = copy(
				    facts.rows[i].is_standby ? "replica" : "primary");
				row->cluster = copy(facts.rows[i].cluster);
			}
			if (row == NULL || !row_complete(&row->base)) {
				checklist_fact_set_fini(&facts);
				fail_out_of_memory(&answer->base, "checklist", response);
				return;
			}
		}
	}
	checklist_fact_set_fini(&facts);
	response->answer_case = PGFLEET__V1__RESPONSE__ANSWER_CHECKLIST;
	response->checklist = answer;
}
