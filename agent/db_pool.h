/*
 * db_pool.h - the agent's connections, at most one per database.
 *
 * Per-database views (tables, indexes, bloat, extensions) are read from
 * every database the agent may enter: discovered from pg_database
 * (templates and datallowconn = false skipped), filtered by the
 * `databases` / `exclude_databases` settings. Connections are opened on
 * first use and closed after `idle_connection_timeout` unused; the
 * database of the main session reuses that session.
 */
#ifndef PGFLEET_AGENT_DB_POOL_H
#define PGFLEET_AGENT_DB_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "agent/agent_config.h"
#include "agent/pg_session.h"

struct db_pool;

/* db_pool_new returns an empty pool (borrowing config for its life), or
 * NULL when out of memory. */
struct db_pool *db_pool_new(const struct agent_config *config);

/* db_pool_free closes every connection of the pool; NULL is a no-op. */
void db_pool_free(struct db_pool *pool);

/*
 * db_pool_refresh reads the list of databases through main (the agent's
 * main session, borrowed until the next refresh), keeps open connections
 * to databases still listed and closes the others (a dropped database).
 * Returns PGF_OK or PGF_EPOSTGRES with a one-line reason.
 */
int db_pool_refresh(struct db_pool *pool, struct pg_session *main, char *errbuf,
    size_t errlen) PGF_MUST_CHECK;

/* db_pool_count is the number of databases of the last refresh. */
size_t db_pool_count(const struct db_pool *pool);

/* db_pool_name is database i's name, valid until the next refresh. */
const char *db_pool_name(const struct db_pool *pool, size_t i);

/* db_pool_session returns a live session to database i, connecting if
 * needed (blocks up to connect_timeout), or NULL with a one-line reason.
 * A broken session is closed and reopened once. Borrowed: the pool owns
 * it. */
struct pg_session *db_pool_session(struct db_pool *pool, size_t i, char *errbuf,
    size_t errlen);

/* db_pool_close_idle closes connections unused for longer than the
 * configured idle timeout (never the main session). */
void db_pool_close_idle(struct db_pool *pool);

/* db_pool_close_all closes every connection but keeps the list (after the
 * server restarted or the main session broke). */
void db_pool_close_all(struct db_pool *pool);

#endif
