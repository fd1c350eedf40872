/*
 * family_activity.h - the version-dependent SQL of the activity family,
 * exposed so it can be tested without a server (the family itself is the
 * family_activity descriptor in family.h).
 */
#ifndef PGFLEET_AGENT_FAMILY_ACTIVITY_H
#define PGFLEET_AGENT_FAMILY_ACTIVITY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * activity_blocking_sql writes into buf (size bytes) the query of blocking
 * pairs for server_version_num (13..17): PG 14+ knows when a lock wait
 * began (pg_locks.waitstart), PG 13 only when the waiting query began.
 * Returns false when buf is too small.
 */
bool activity_blocking_sql(int server_version_num, char *buf, size_t size);

/*
 * activity_limits_sql returns the query of max_connections and the
 * connection slots ordinary roles cannot use, for server_version_num:
 * superuser_reserved_connections, plus on PG 16+ reserved_connections
 * (slots kept for roles with pg_use_reserved_connections). An
 * application's pool can only count on what is left.
 */
const char *activity_limits_sql(int server_version_num);

#endif
