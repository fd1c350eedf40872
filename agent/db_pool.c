/*
 * db_pool.c - one connection per database, opened lazily, closed when idle
 * (see db_pool.h).
 */
#include "agent/db_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"

struct db_entry {
	char *name;
	struct pg_session *session;	/* NULL when closed; main's when shared */
	bool is_main;
	int64_t last_used_ms;
};

struct db_pool {
	const struct agent_config *config;
	struct pg_session *main;
	struct db_entry *entries;
	size_t count;
};

struct db_pool *
db_pool_new(const struct agent_config *config)
{
	struct db_pool *pool = calloc(1, sizeof(*pool));
	if (pool != NULL)
		pool->config = config;
	return pool;
}

static void
entry_close(struct db_entry *entry)
{
	if (!entry->is_main)
		pg_session_close(entry->session);
	entry->session = NULL;
}

static void
entries_free(struct db_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		entry_close(&entries[i]);
		free(entries[i].name);
	}
	free(entries);
}

void
db_pool_free(struct db_pool *pool)
{
	if (pool == NULL)
		return;
	entries_free(pool->entries, pool->count);
	free(pool);
}

/* Is name in the comma-separated list (spaces around names ignored)? */
static bool
listed(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;
	while (*p != '\0') {
		const char *end;
		while (*p == ' ' || *p == ',')
			p++;
		end = p;
		while (*end != '\0' && *end != ',')
			end++;
		{
			const char *last = end;
			while (last > p && last[-1] == ' ')
				last--;
			if ((size_t) (last - p) == len && strncmp(p, name, len) == 0)
				return true;
		}
		p = end;
	}
	return false;
}

int
db_pool_refresh(struct db_pool *pool, struct pg_session *main, char *errbuf, size_t errlen)
{
	char sqlstate[6];
	PGresult *result;
	struct db_entry *entries = NULL;
	size_t count = 0;
	int rows;

	result = pg_session_query(main,
	    "SELECT datname, datname = current_database() FROM pg_catalog.pg_database"
	    " WHERE datallowconn AND NOT datistemplate ORDER BY datname",
	    errbuf, errlen, sqlstate);
	if (result == NULL)
		return PGF_EPOSTGRES;
	rows = PQntuples(result);
	entries = calloc(rows > 0 ? (size_t) rows : 1, sizeof(entries[0]));
	if (entries == NULL) {
		PQclear(result);
		snprintf(errbuf, errlen, "out of memory");
		return PGF_ENOMEM;
	}
	for (int row = 0; row < rows; row++) {
		const char *name = PQgetvalue(result, row, 0);
		bool is_main = strcmp(PQgetvalue(result, row, 1), "t") == 0;
		struct db_entry *entry = &entries[count];

		if (!is_main && pool->config->databases[0] != '\0' &&
		    !listed(pool->config->databases, name))
			continue;
		if (!is_main && listed(pool->config->exclude_databases, name))
			continue;
		entry->name = strdup(name);
		if (entry->name == NULL)
			break;
		entry->is_main = is_main;
		count++;
		/* keep an open connection to a database still listed */
		for (size_t old = 0; old < pool->count; old++) {
			struct db_entry *previous = &pool->entries[old];
			if (!previous->is_main && previous->session != NULL &&
			    strcmp(previous->name, name) == 0 && !is_main) {
				entry->session = previous->session;
				entry->last_used_ms = previous->last_used_ms;
				previous->session = NULL;
			}
		}
		if (is_main)
			entry->session = main;
	}
	PQclear(result);
	/* whatever was not carried over belongs to a dropped or excluded
	 * database */
	entries_free(pool->entries, pool->count);
	pool->entries = entries;
	pool->count = count;
	pool->main = main;
	return PGF_OK;
}

size_t
db_pool_count(const struct db_pool *pool)
{
	return pool->count;
}

const char *
db_pool_name(const struct db_pool *pool, size_t i)
{
	return pool->entries[i].name;
}

struct pg_session *
db_pool_session(struct db_pool *pool, size_t i, char *errbuf, size_t errlen)
{
	struct db_entry *entry = &pool->entries[i];

	if (entry->is_main)
		return pool->main;
	if (entry->session != NULL && pg_session_broken(entry->session))
		entry_close(entry);
	if (entry->session == NULL) {
		if (pg_session_open_database(pool->config, entry->name, &entry->session,
			errbuf, errlen) != PGF_OK) {
			entry->session = NULL;
			return NULL;
		}
	}
	entry->last_used_ms = pgf_monotonic_ms();
	return entry->session;
}

void
db_pool_close_idle(struct db_pool *pool)
{
	int64_t now = pgf_monotonic_ms();
	for (size_t i = 0; i < pool->count; i++) {
		struct db_entry *entry = &pool->entries[i];
		if (!entry->is_main && entry->session != NULL &&
		    now - entry->last_used_ms > pool->config->idle_connection_timeout) {
			pgf_debug("closing the idle connection to database \"%s\"", entry->name);
			entry_close(entry);
		}
	}
}

void
db_pool_close_all(struct db_pool *pool)
{
	for (size_t i = 0; i < pool->count; i++) {
		entry_close(&pool->entries[i]);
	}
	pool->main = NULL;
}
