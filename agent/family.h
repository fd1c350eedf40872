/*
 * family.h - what every statistics family shares.
 *
 * A family is one file that exports one descriptor {name, cadence, collect}
 * and is one row of agent_families (families.c). collect fills the family's
 * member of the report from the server; everything it puts there comes
 * from the cycle's arena, so families have no free code. A family never
 * stops the others: what it cannot read becomes a FamilyProblem in its
 * message (sent every time, so the collector always knows) and a log line
 * (written once per problem, so logs do not fill up).
 */
#ifndef PGFLEET_AGENT_FAMILY_H
#define PGFLEET_AGENT_FAMILY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "agent/agent_config.h"
#include "agent/db_pool.h"
#include "agent/pg_session.h"
#include "common/arena.h"
#include "pgfleet/v1/agent.pb-c.h"

/* Problems already logged, so each is logged once until it goes away. */
struct family_warned;

struct family_context {
	const struct agent_config *config;
	/* the agent's main session (the conninfo's database) */
	struct pg_session *session;
	/* one session per database, for per-database views */
	struct db_pool *databases;
	const Pgfleet__V1__InstanceIdentity *identity;
	int server_version;
	/* memory of everything put into the report */
	struct pgf_arena *arena;
	struct family_warned *warned;
	/* where the family adds its problems (set by family_problems_begin) */
	Pgfleet__V1__FamilyProblem ***problems;
	size_t *n_problems;
	size_t problems_capacity;
	const char *family_name;
	/* the family's own state across collections (e.g. the last settings
	 * fingerprint): NULL at first, the family allocates it */
	void **state;
	/* every family is collected now, whatever its cadence (--once, and
	 * the first report after start) */
	bool everything;
};

struct agent_family {
	const char *name;
	/* cadence in ms for this configuration */
	int64_t (*cadence_ms)(const struct agent_config *config);
	/* oldest server_version_num the family supports */
	int min_server_version;
	/* fills its member of report; must not block beyond the session
	 * deadlines of the queries it runs */
	void (*collect)(struct family_context *context, Pgfleet__V1__Report *report);
	/* frees the family's own state (context->state), or NULL when the
	 * family keeps none */
	void (*state_free)(void *state);
};

/* The families, in collection order; the list ends with NULL. */
extern const struct agent_family *const agent_families[];

/* Default cadences (families.c), for the descriptors' cadence_ms. */
int64_t family_cadence_tables(const struct agent_config *config);
int64_t family_cadence_indexes(const struct agent_config *config);
int64_t family_cadence_bloat(const struct agent_config *config);
int64_t family_cadence_activity(const struct agent_config *config);
int64_t family_cadence_replication(const struct agent_config *config);
int64_t family_cadence_settings(const struct agent_config *config);
int64_t family_cadence_pool(const struct agent_config *config);

/* family_problems_begin points context's problem list at a family
 * message's problems field (e.g. &tables->problems, &tables->n_problems). */
void family_problems_begin(struct family_context *context, const char *family_name,
    Pgfleet__V1__FamilyProblem ***problems, size_t *n_problems);

/*
 * family_problem records a problem of the current family (database may be
 * NULL) in its message and logs it once (WARNING the first time, DEBUG
 * after). code comes from family_code_for_sqlstate for server errors.
 */
void family_problem(struct family_context *context,
    Pgfleet__V1__FamilyProblem__Code code, const char *database, const char *format,
    ...) __attribute__((format(printf, 4, 5)));

/* family_code_for_sqlstate maps a SQLSTATE to a problem code: missing
 * objects are UNAVAILABLE, 42501 INSUFFICIENT_PRIVILEGE, 55P03/57014
 * (lock or statement timeout) TIMEOUT, anything else ERROR. */
Pgfleet__V1__FamilyProblem__Code family_code_for_sqlstate(const char *sqlstate);

/* family_query runs sql on session; on failure records a problem ("what:
 * reason") for database and returns NULL. */
PGresult *family_query(struct family_context *context, struct pg_session *session,
    const char *database, const char *what, const char *sql);

/* family_warned_new / _free: the log-once set, kept for the agent's life. */
struct family_warned *family_warned_new(void);
void family_warned_free(struct family_warned *warned);

/* Column readers: NULL reads as 0 / false / "" / 0 µs. Text is copied into
 * the arena. Timestamps must be selected as microseconds since the epoch
 * (extract(epoch from x) * 1e6)::int8. */
int64_t family_int64(const PGresult *result, int row, int column);
double family_double(const PGresult *result, int row, int column);
bool family_bool(const PGresult *result, int row, int column);
char *family_text(struct family_context *context, const PGresult *result, int row,
    int column);
/* family_bytes copies a text value as bytes, cut to max_len (UTF-8 safe)
 * with *truncated set when cut. */
ProtobufCBinaryData family_bytes(struct family_context *context,
    const PGresult *result, int row, int column, size_t max_len, protobuf_c_boolean *truncated);
/* family_lsn parses a pg_lsn text ("16/B374D848") into a number; 0 for
 * NULL or garbage. */
uint64_t family_lsn(const PGresult *result, int row, int column);
/* family_column finds a column by name (pgbouncer moves columns between
 * versions); -1 when absent. */
int family_column(const PGresult *result, const char *name);

/* family_rows allocates an array of count pointers to initialised
 * messages of descriptor's type (e.g. &pgfleet__v1__table_stat__descriptor)
 * in the arena; NULL when out of memory. Cast the result to the field's
 * type (Pgfleet__V1__TableStat **). */
void **family_rows(struct family_context *context, size_t count,
    const ProtobufCMessageDescriptor *descriptor);

/* family_query_rows runs sql like family_query and allocates one
 * initialised message of descriptor's type per result row; rows_slot is
 * the address of the caller's array variable (e.g. Pgfleet__V1__Backend
 * ***). Returns the result (caller PQclear) or NULL with a problem
 * recorded (query failed, or out of memory). */
PGresult *family_query_rows(struct family_context *context, struct pg_session *session,
    const char *database, const char *what, const char *sql,
    const ProtobufCMessageDescriptor *descriptor, void *rows_slot);

/* family_grow makes room for needed more pointers in a growing array of
 * message pointers: array_slot is the address of the array variable (e.g.
 * &family->tables, of type Pgfleet__V1__TableStat ***), count the pointers
 * used, *capacity those allocated. New arrays come from the arena (the old
 * one is left behind). False when out of memory (the array is unchanged). */
bool family_grow(struct family_context *context, void *array_slot, size_t count,
    size_t *capacity, size_t needed);

/* family_new_message allocates one initialised message in the arena. */
void *family_new_message(struct family_context *context,
    const ProtobufCMessageDescriptor *descriptor);

/* family_split_list splits text at separator (e.g. string_agg output with
 * E'\\x1f', which no identifier or expression contains) into *items (arena
 * strings); returns the count. */
size_t family_split_list(struct family_context *context, const char *text,
    char separator, char ***items);

/* The families other than statements (agent_main.c drives statements,
 * whose baseline lives in the state file). Each is defined in its own
 * family_<name>.c. */
extern const struct agent_family family_tables;
extern const struct agent_family family_indexes;
extern const struct agent_family family_bloat;
extern const struct agent_family family_activity;
extern const struct agent_family family_replication;
extern const struct agent_family family_settings;
extern const struct agent_family family_pool;

#endif
