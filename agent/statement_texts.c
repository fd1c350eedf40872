/*
 * statement_texts.c - query texts through another database when the main
 * one cannot convert them (see statement_texts.h).
 */
#include "agent/statement_texts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/statements.h"
#include "common/error.h"
#include "common/log.h"

/* Texts through database dbname, when it has pg_stat_statements. */
static int
fetch_through(const struct agent_config *config, const char *dbname,
    Pgfleet__V1__StatementsFamily *family, size_t max_len,
    bool (*needs_text)(int64_t queryid, void *arg), void *arg)
{
	struct pg_session *other = NULL;
	char errbuf[512];
	char sqlstate[6];
	PGresult *result;
	int rv = PGF_EPOSTGRES;

	if (pg_session_open_database(config, dbname, &other, errbuf, sizeof(errbuf)) != PGF_OK) {
		pgf_debug("query texts through database \"%s\": %s", dbname, errbuf);
		return PGF_ECONNECT;
	}
	result = pg_session_query(other,
	    "SELECT quote_ident(n.nspname) FROM pg_catalog.pg_extension e"
	    " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
	    " WHERE e.extname = 'pg_stat_statements'",
	    errbuf, sizeof(errbuf), sqlstate);
	if (result != NULL && PQntuples(result) == 1) {
		rv = statements_fetch_texts(other, PQgetvalue(result, 0, 0), family, max_len,
		    needs_text, arg, errbuf, sizeof(errbuf));
		if (rv != PGF_OK)
			pgf_debug("query texts through database \"%s\": %s", dbname, errbuf);
	}
	PQclear(result);
	pg_session_close(other);
	return rv;
}

int
statement_texts_fetch(const struct agent_config *config, struct pg_session *session,
    const char *schema, Pgfleet__V1__StatementsFamily *family, size_t max_len,
    bool (*needs_text)(int64_t queryid, void *arg), void *arg, char *detail,
    size_t detail_len)
{
	char errbuf[512];
	char sqlstate[6];
	PGresult *result;
	int rv = statements_fetch_texts(session, schema, family, max_len, needs_text, arg, detail,
	    detail_len);

	if (rv == PGF_OK || rv == PGF_ENOMEM || pg_session_broken(session))
		return rv;
	result = pg_session_query(session,
	    "SELECT datname FROM pg_catalog.pg_database"
	    " WHERE encoding = pg_catalog.pg_char_to_encoding('SQL_ASCII')"
	    " AND datallowconn AND NOT datistemplate AND datname <> current_database()"
	    " ORDER BY datname LIMIT 3",
	    errbuf, sizeof(errbuf), sqlstate);
	if (result == NULL)
		return rv;
	for (int row = 0; row < PQntuples(result); row++) {
		if (fetch_through(config, PQgetvalue(result, row, 0), family, max_len, needs_text,
			arg) == PGF_OK) {
			rv = PGF_OK;
			break;
		}
	}
	PQclear(result);
	return rv;
}
