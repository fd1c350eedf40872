/*
 * agent_auth.h - which token each instance's agent must carry.
 *
 * nng 1.5.2 cannot name the TLS peer of a pipe, so the collector cannot
 * tell one agent's certificate from another's: each agent also carries a
 * token (its `token_file`) in every Report and ActionPoll, and the
 * collector checks it against the token its `agent_tokens_file` lists for
 * the report's instance name. The file has one line per instance:
 *
 *     # comment
 *     db-1   3f0c9a...   (INSTANCE_NAME, white space, TOKEN)
 *
 * and is refused when others (not owner, not group) may read it, like every
 * pgfleet secret. Pure code apart from agent_auth_load; the table is
 * read-only once built, so any number of threads may check against it.
 */
#ifndef PGFLEET_COLLECTOR_AGENT_AUTH_H
#define PGFLEET_COLLECTOR_AGENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Shortest token accepted: a guessable token protects nothing. */
#define AGENT_AUTH_MIN_TOKEN 16
/* Longest line (name + token) and largest file accepted. */
#define AGENT_AUTH_MAX_LINE 1024
#define AGENT_AUTH_MAX_FILE (16 * 1024 * 1024)

struct agent_auth;

enum agent_auth_result {
	AGENT_AUTH_OK,
	/* the instance has no line in the file */
	AGENT_AUTH_UNKNOWN_INSTANCE,
	/* the token is missing or not the instance's */
	AGENT_AUTH_WRONG_TOKEN,
};

/*
 * agent_auth_parse builds a table from the text of a tokens file (len
 * bytes; where names the file in errors). PGF_OK with *out (free with
 * agent_auth_free), or PGF_ECONFIG with one line naming where and the line
 * number: a line without exactly two fields, a token shorter than
 * AGENT_AUTH_MIN_TOKEN, an instance listed twice, a NUL byte. An empty
 * table (only comments) is allowed: it refuses every agent. Pure.
 */
PGF_MUST_CHECK int agent_auth_parse(const char *text, size_t len, const char *where,
    struct agent_auth **out, char *errbuf, size_t errlen);

/*
 * agent_auth_load reads path (refused unless a regular file others can
 * neither read nor write, at most AGENT_AUTH_MAX_FILE bytes) and parses it.
 * Errors as agent_auth_parse, plus the file's own (cannot open, others can
 * read it).
 */
PGF_MUST_CHECK int agent_auth_load(const char *path, struct agent_auth **out, char *errbuf,
    size_t errlen);

/* agent_auth_free frees a table; NULL is a no-op. */
void agent_auth_free(struct agent_auth *auth);

/* agent_auth_count is how many instances the table lists. */
size_t agent_auth_count(const struct agent_auth *auth);

/*
 * agent_auth_check says whether token (NULL or "" = none) is the token of
 * instance. The comparison takes the same time whatever the token's
 * content (agent_auth_token_equal). Pure.
 */
enum agent_auth_result agent_auth_check(const struct agent_auth *auth, const char *instance,
    const char *token);

/*
 * agent_auth_token_equal compares given with expected in time that depends
 * only on their lengths, never on where they first differ: a timing
 * observer learns nothing about how much of a guess was right. NULL is "".
 */
bool agent_auth_token_equal(const char *given, const char *expected);

#endif
