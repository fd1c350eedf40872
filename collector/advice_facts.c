/*
 * advice_facts.c - rows to advice facts, the same for every store backend
 * (store_sqlite_advice.c, store_pg_advice.c): a backend reads its rows
 * with its own SQL and hands the values here, so both stores judge alike.
 */
#include "collector/advice_facts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

int64_t
advice_window_since(const Pgfleet__V1__Scope *scope)
{
	int64_t until = scope != NULL ? scope->until_us : 0;

	if (scope != NULL && scope->since_us > 0)
		return scope->since_us;
	return (until > 0 ? until : pgf_time_now_us()) - ADVICE_DEFAULT_WINDOW_US;
}

int
advice_server_autovacuum(const char *setting)
{
	if (setting == NULL)
		return -1;
	return strcmp(setting, "on") == 0 ? 1 : 0;
}

void
advice_vacuum_insert(struct vacuum_table_fact *fact, bool table_known,
    int64_t table_threshold, double table_scale_factor, const char *server_threshold,
    const char *server_scale_factor)
{
	/* the table's own insert settings, else the server's */
	if (table_known) {
		fact->insert_known = true;
		fact->insert_threshold = table_threshold;
		fact->insert_scale_factor = table_scale_factor;
	} else if (server_threshold != NULL && server_scale_factor != NULL) {
		fact->insert_known = true;
		fact->insert_threshold = atoll(server_threshold);
		fact->insert_scale_factor = atof(server_scale_factor);
	}
}

void
advice_replica_upstream(struct replica_fact *fact, const struct advice_upstream *upstream)
{
	/* listed: surely (its slot or name), surely not (no walsender at
	 * all, or its slot has none), else as many walsenders as standbys
	 * say all are there */
	if (!upstream->reported)
		fact->listed = REPLICATION_LISTED_UNKNOWN;
	else if (upstream->matched > 0)
		fact->listed = REPLICATION_LISTED_YES;
	else if (upstream->walsenders == 0 || fact->slot_name[0] != '\0')
		fact->listed = REPLICATION_LISTED_NO;
	else if (upstream->walsenders >= upstream->standbys)
		fact->listed = REPLICATION_LISTED_YES;
	else
		fact->listed = REPLICATION_LISTED_UNKNOWN;
	/* the upstream's view when it surely is this standby's: WAL sent but
	 * not yet received counts too */
	if (upstream->matched == 1) {
		if (upstream->sent_lag_bytes > fact->lag_bytes)
			fact->lag_bytes = upstream->sent_lag_bytes;
		if (upstream->sent_lag_seconds > 0)
			fact->lag_seconds = upstream->sent_lag_seconds;
	}
}

bool
advice_replica_points(struct advice_pool *pool, struct replica_fact *fact,
    const struct replication_lag_point *points, size_t n)
{
	struct replication_lag_point *kept;

	if (n == 0)
		return true;
	kept = advice_pool_alloc(pool, n * sizeof(*kept));
	if (kept == NULL)
		return false;
	memcpy(kept, points, n * sizeof(*kept));
	fact->points = kept;
	fact->n_points = n;
	return true;
}

struct advice_index_signature {
	char *key; /* database, a separator that is no name's, signature */
	char *name;
};

static int
compare_signatures(const void *a_, const void *b_)
{
	const struct advice_index_signature *a = a_;
	const struct advice_index_signature *b = b_;
	int c = strcmp(a->key, b->key);
	return c != 0 ? c : strcmp(a->name, b->name);
}

bool
advice_indexes_add(struct advice_indexes *indexes, struct checklist_facts *facts,
    const char *database, const char *schema, const char *index, bool valid,
    const char *definition)
{
	struct advice_index_signature *s;
	char name[400], signature[2048];

	snprintf(name, sizeof(name), "%s.%s.%s", database, schema, index);
	if (!valid) {
		facts->invalid_indexes++;
		checklist_add_name(facts->index_names, sizeof(facts->index_names), name);
	}
	if (definition == NULL || definition[0] == '\0')
		return true;
	if (!advice_grow((void **) &indexes->list, indexes->n, &indexes->capacity,
		sizeof(*indexes->list)))
		return false;
	checklist_index_signature(definition, signature, sizeof(signature));
	s = &indexes->list[indexes->n];
	s->key = malloc(strlen(database) + strlen(signature) + 2);
	s->name = strdup(name);
	if (s->key == NULL || s->name == NULL) {
		free(s->key);
		free(s->name);
		return false;
	}
	sprintf(s->key, "%s\x01%s", database, signature);
	indexes->n++;
	return true;
}

void
advice_indexes_finish(struct advice_indexes *indexes, struct checklist_facts *facts)
{
	struct advice_index_signature *list = indexes->list;
	size_t n = indexes->n;

	if (n > 1)
		qsort(list, n, sizeof(*list), compare_signatures);
	/* every index after the first of a run of equal signatures
	 * duplicates it */
	for (size_t i = 1; i < n; i++) {
		if (strcmp(list[i].key, list[i - 1].key) == 0) {
			facts->duplicate_indexes++;
			checklist_add_name(
			    facts->index_names, sizeof(facts->index_names), list[i].name);
		}
	}
	advice_indexes_free(indexes);
}

void
advice_indexes_free(struct advice_indexes *indexes)
{
	for (size_t i = 0; i < indexes->n; i++) {
		free(indexes->list[i].key);
		free(indexes->list[i].name);
	}
	free(indexes->list);
	memset(indexes, 0, sizeof(*indexes));
}
