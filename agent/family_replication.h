/*
 * family_replication.h - the version-dependent SQL of the replication
 * family, exposed so it can be tested without a server (the family itself
 * is the family_replication descriptor in family.h).
 */
#ifndef PGFLEET_AGENT_FAMILY_REPLICATION_H
#define PGFLEET_AGENT_FAMILY_REPLICATION_H

/*
 * replication_paused_sql returns the boolean SQL expression "replay is
 * paused (or a pause was requested)" for server_version_num (13..17): PG
 * 14 replaced pg_is_wal_replay_paused() by pg_get_wal_replay_pause_state(),
 * which also shows a pause requested but not reached yet. Only valid on a
 * standby (both functions fail on a primary). A static string.
 */
const char *replication_paused_sql(int server_version_num);

#endif
