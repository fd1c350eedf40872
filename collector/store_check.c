/*
 * store_check.c - PRAGMA integrity_check / quick_check before start (see
 * store_check.h).
 *
 * Its own read-write connection (so a WAL left by a crash is recovered
 * and checked too), closed before the collector opens its writer. The
 * first problem SQLite names is enough to decide; it reports up to 100.
 */
#include "collector/store_check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/timeutil.h"

int
store_check_file(const char *path, const char *mode, char *errbuf, size_t errlen)
{
	const char *sql;
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	struct stat st;
	char reason[512] = "";
	int64_t started_ms;
	int rc;
	int rv = PGF_OK;

	/* a PostgreSQL store (postgresql://...) is not a file to check */
	if (strcmp(mode, "off") == 0 || strstr(path, "://") != NULL)
		return PGF_OK;
	sql = strcmp(mode, "quick") == 0 ? "PRAGMA quick_check(1)" : "PRAGMA integrity_check(1)";
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return PGF_OK;
		snprintf(errbuf, errlen, "could not open store \"%s\": %s", path, strerror(errno));
		return PGF_ESTORE;
	}
	started_ms = pgf_monotonic_ms();
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			const unsigned char *text = sqlite3_column_text(stmt, 0);
			if (text == NULL || strcmp((const char *) text, "ok") != 0)
				snprintf(reason, sizeof(reason), "%s",
				    text != NULL ? (const char *) text : "no answer");
			rc = SQLITE_OK;
		}
	}
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		snprintf(errbuf, errlen, "could not check store \"%s\": %s (another collector?)",
		    path, sqlite3_errmsg(db));
		sqlite3_finalize(stmt);
		sqlite3_close(db);
		return PGF_ESTORE;
	}
	if (rc != SQLITE_OK && reason[0] == '\0')
		snprintf(reason, sizeof(reason), "%s",
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	if (reason[0] != '\0') {
		/* one line: SQLite separates its findings with newlines */
		for (char *p = reason; *p != '\0'; p++) {
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		}
		snprintf(errbuf, errlen,
		    "store \"%s\" failed its integrity check: %s; restore a backup or move the file away",
		    path, reason);
		rv = PGF_ESTORE;
	} else
		pgf_info("store \"%s\": %s check ok (%lld ms)", path, mode,
		    (long long) (pgf_monotonic_ms() - started_ms));
	return rv;
}
