/*
 * statement_texts.h - query texts of the statements family, also when the
 * main database cannot show them all.
 *
 * pg_stat_statements converts every text it shows to the encoding of the
 * database the agent is connected to; a text with bytes invalid there
 * (a SQL_ASCII database's "SELECT 1 -- \xff") makes the whole read fail
 * with "invalid byte sequence for encoding" (22021), whatever statements
 * were asked for. A SQL_ASCII database converts nothing, so the texts are
 * read again through one, when one has the extension; the collector makes
 * the bytes valid UTF-8. When no read works, the deltas go without texts
 * (they are asked again later): texts never cost the numbers
 * (tests/e2e/rel_query_text.sh, T19).
 */
#ifndef PGFLEET_AGENT_STATEMENT_TEXTS_H
#define PGFLEET_AGENT_STATEMENT_TEXTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent_config.h"
#include "agent/pg_session.h"
#include "pgfleet/v1/agent.pb-c.h"

/*
 * statement_texts_fetch is statements_fetch_texts through session, then,
 * when that fails and session still works, through a connection to each
 * (at most 3) SQL_ASCII database with pg_stat_statements. PGF_OK when one
 * read worked; otherwise the first failure, with detail set.
 */
int statement_texts_fetch(const struct agent_config *config, struct pg_session *session,
    const char *schema, Pgfleet__V1__StatementsFamily *family, size_t max_len,
    bool (*needs_text)(int64_t queryid, void *arg), void *arg, char *detail,
    size_t detail_len);

#endif
