/*
 * store.c - the store interface: picks a backend and forwards to it.
 */
#include "collector/store.h"

#include <stdlib.h>
#include <string.h>

#include "collector/store_pg.h"
#include "collector/store_sqlite.h"

int
store_open(const char *spec, bool read_only, struct store **out, char *errbuf,
    size_t errlen)
{
	/* a postgresql:// (or postgres://) conninfo picks the PostgreSQL
	 * backend; anything else is a SQLite file */
	if (store_pg_spec(spec))
		return store_pg_open(spec, read_only, out, errbuf, errlen);
	return store_sqlite_open(spec, read_only, out, errbuf, errlen);
}

const char *
store_display_name(const char *spec, char *buf, size_t len)
{
	const char *scheme_end = strstr(spec, "://");
	const char *at, *colon, *p;
	size_t out = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	/* copy, leaving out what follows "user:" up to "@" in the authority
	 * and what follows "password=" up to the next '&' or space */
	for (p = spec; *p != '\0' && out + 1 < len; p++) {
		if (scheme_end != NULL && p == scheme_end + 3) {
			at = strchr(p, '@');
			colon = strchr(p, ':');
			if (at != NULL && colon != NULL && colon < at && strcspn(p, "/?") > (size_t) (at - p)) {
				size_t user = (size_t) (colon - p) + 1;
				if (out + user + 3 >= len)
					break;
				memcpy(buf + out, p, user);
				memcpy(buf + out + user, "***", 3);
				out += user + 3;
				p = at - 1;
				continue;
			}
		}
		if (strncmp(p, "password=", 9) == 0 && out + 12 < len) {
			memcpy(buf + out, "password=***", 12);
			out += 12;
			p += 9;
			while (*p != '\0' && *p != '&' && *p != ' ')
				p++;
			p--;
			continue;
		}
		buf[out++] = *p;
	}
	buf[out] = '\0';
	return buf;
}

void
store_close(struct store *store)
{
	if (store != NULL)
		store->ops->close(store);
}

int
store_write_report(struct store *store, const Pgfleet__V1__Report *report,
    int64_t received_at_us, bool *duplicate, char *errbuf, size_t errlen)
{
	return store->ops->write_report(store, report, received_at_us, duplicate, errbuf,
	    errlen);
}

int
store_batch_begin(struct store *store, char *errbuf, size_t errlen)
{
	return store->ops->batch_begin(store, errbuf, errlen);
}

int
store_batch_end(struct store *store, bool commit, char *errbuf, size_t errlen)
{
	return store->ops->batch_end(store, commit, errbuf, errlen);
}

int
store_index_checks(struct store *store, const Pgfleet__V1__Report *report,
    Pgfleet__V1__IndexCheckRequest ***checks, size_t *count, char *errbuf, size_t errlen)
{
	*checks = NULL;
	*count = 0;
	if (store->ops->index_checks == NULL)
		return PGF_OK;
	return store->ops->index_checks(store, report, checks, count, errbuf, errlen);
}

int
store_missing_texts(struct store *store, const Pgfleet__V1__Report *report,
    int64_t **missing, size_t *count, char *errbuf, size_t errlen)
{
	return store->ops->missing_texts(store, report, missing, count, errbuf, errlen);
}

int
store_slow_queries(struct store *store, const Pgfleet__V1__SlowQueriesRequest *request,
    Pgfleet__V1__SlowQueries *answer, char *errbuf, size_t errlen)
{
	return store->ops->slow_queries(store, request, answer, errbuf, errlen);
}

int
store_maintain(struct store *store, int64_t now_us, const struct store_retention *retention,
    bool *more, char *errbuf, size_t errlen)
{
	return store->ops->maintain(store, now_us, retention, more, errbuf, errlen);
}

void
store_answer_free(ProtobufCMessage *answer)
{
	/* every pointer in the answer is malloc'd: the unpacked-message free
	 * walks the descriptor and frees exactly that */
	if (answer != NULL)
		protobuf_c_message_free_unpacked(answer, NULL);
}

void
store_slow_queries_fini(Pgfleet__V1__SlowQueries *answer)
{
	for (size_t i = 0; i < answer->n_rows; i++) {
		Pgfleet__V1__SlowQuery *row = answer->rows[i];
		free(row->query);
		free(row->instance);
		free(row->database);
		free(row->cluster);
		free(row);
	}
	free(answer->rows);
	answer->rows = NULL;
	answer->n_rows = 0;
}

int
store_statement_text(struct store *store, const char *instance, int64_t queryid,
    char **text, bool *truncated, char **database, char *errbuf, size_t errlen)
{
	return store->ops->statement_text(store, instance, queryid, text, truncated, database,
	    errbuf, errlen);
}
