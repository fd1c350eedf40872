/*
 * store_sqlite_actions.c - what actions read from the SQLite store: the
 * text of a statement to explain by queryid (see store_statement_text).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "collector/store_sqlite_internal.h"

int
store_sqlite_statement_text(struct store *base, const char *instance, int64_t queryid,
    char **text, bool *truncated, char **database, char *errbuf, size_t errlen)
{
	struct store_sqlite *store = (struct store_sqlite *) base;
	sqlite3_stmt *stmt = NULL;
	int rc;
	int rv;

	*text = NULL;
	*database = NULL;
	*truncated = false;
	/* the database: the one the statement ran in most recently (a
	 * queryid is per database, but the same text in two databases is the
	 * same statement to explain) */
	rc = sqlite3_prepare_v2(store->db,
	    "SELECT t.query, t.truncated,"
	    " coalesce((SELECT s.datname FROM statement_stats s"
	    "   WHERE s.instance_id = t.instance_id AND s.queryid = t.queryid"
	    "   ORDER BY s.ts_us DESC LIMIT 1), '')"
	    " FROM statement_texts t JOIN instances i ON i.instance_id = t.instance_id"
	    " WHERE i.name = ?1 AND t.queryid = ?2",
	    -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sqlite_store_error(
		    store->db, rc, "read the statement text", errbuf, errlen);
	sqlite3_bind_text(stmt, 1, instance, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, queryid);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*text = sqlite_column_text(stmt, 0);
		*truncated = sqlite3_column_int(stmt, 1) != 0;
		*database = sqlite_column_text(stmt, 2);
		if (*text == NULL || *database == NULL) {
			free(*text);
			free(*database);
			*text = NULL;
			*database = NULL;
			snprintf(errbuf, errlen, "out of memory");
			rv = PGF_ENOMEM;
		} else {
			rv = PGF_OK;
		}
	} else if (rc == SQLITE_DONE) {
		snprintf(errbuf, errlen,
		    "instance \"%s\" has sent no statement with queryid %lld", instance,
		    (long long) queryid);
		rv = PGF_ENOTFOUND;
	} else {
		rv = sqlite_store_error(
		    store->db, rc, "read the statement text", errbuf, errlen);
	}
	sqlite3_finalize(stmt);
	return rv;
}
