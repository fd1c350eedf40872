/*
 * advice.h - the vacuum-advice, replication-health and checklist
 * questions: the store gathers facts (the fact sets below, filled by the
 * store ops vacuum_facts, replication_facts and checklist_facts), the
 * pure analysis judges them (analysis_vacuum.h, analysis_replication.h,
 * analysis_checklist.h), and these handlers turn the findings into
 * answers.
 */
#ifndef PGFLEET_COLLECTOR_ADVICE_H
#define PGFLEET_COLLECTOR_ADVICE_H

#include <stddef.h>

#include "collector/analysis_checklist.h"
#include "collector/analysis_replication.h"
#include "collector/analysis_vacuum.h"
#include "collector/store.h"

/* Memory a fact set's strings and arrays live in; freed at once. */
struct advice_pool {
	void **blocks;
	size_t n;
	size_t capacity;
};

/* advice_pool_alloc: zeroed memory owned by pool; NULL when out of
 * memory. advice_pool_strdup: a copy owned by pool ("" for NULL). */
void *advice_pool_alloc(struct advice_pool *pool, size_t size);
char *advice_pool_strdup(struct advice_pool *pool, const char *text);
void advice_pool_free(struct advice_pool *pool);

/* advice_grow makes room for one more element in *array (count
 * used, *capacity allocated, element_size each); false when out of memory.
 * The array is the caller's (free it). */
bool advice_grow(void **array, size_t count, size_t *capacity, size_t element_size);

struct vacuum_fact_set {
	struct advice_pool pool;
	struct vacuum_table_fact *rows;
	size_t n;
	size_t capacity;
};

struct replication_fact_set {
	struct advice_pool pool;
	struct replica_fact *replicas;
	size_t n_replicas;
	size_t replicas_capacity;
	struct slot_fact *slots;
	size_t n_slots;
	size_t slots_capacity;
};

struct checklist_fact_set {
	struct advice_pool pool;
	struct checklist_facts *rows;
	size_t n;
	size_t capacity;
};

/* The sets' fini: frees everything in them; a zeroed set is empty. */
void vacuum_fact_set_fini(struct vacuum_fact_set *set);
void replication_fact_set_fini(struct replication_fact_set *set);
void checklist_fact_set_fini(struct checklist_fact_set *set);

/* Handlers for api.c's table: answer request into response (an Error
 * answer on failure; never fails otherwise). */
void advice_handle_vacuum(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response);
void advice_handle_replication_health(struct store *store,
    const Pgfleet__V1__Request *request, Pgfleet__V1__Response *response);
void advice_handle_checklist(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response);

#endif
