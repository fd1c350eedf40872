/*
 * family_indexes.h - the indexes family's SQL, chosen by server version.
 *
 * The family itself is the descriptor family_indexes (family.h); this
 * header only exposes the pure part, so it is tested without a server.
 */
#ifndef PGFLEET_AGENT_FAMILY_INDEXES_H
#define PGFLEET_AGENT_FAMILY_INDEXES_H

/* At most this many indexes, and as many foreign keys, per database. */
#define FAMILY_INDEXES_LIMIT 100000

/* family_indexes_sql returns the index query for server_version_num
 * (pg_stat_user_indexes.last_idx_scan is read from 16 on), or NULL before
 * 13. A static string. Pure. */
const char *family_indexes_sql(int server_version_num);

/* family_indexes_foreign_keys_sql returns the foreign key query (the same
 * for every supported version). A static string. Pure. */
const char *family_indexes_foreign_keys_sql(void);

#endif
