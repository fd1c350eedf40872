/*
 * store_check.h - the store file's integrity, checked before the
 * collector opens it (store_check_at_start).
 *
 * A store damaged by a failing disk or a bad copy must not be written to
 * (SQLite would build on broken pages and acknowledge reports it may not
 * keep): the collector refuses to start with one line saying what to do.
 * "full" is PRAGMA integrity_check (every page, every index entry against
 * its row), "quick" is PRAGMA quick_check (pages and records, no index
 * cross-check: much faster on a large file), "off" skips it.
 */
#ifndef PGFLEET_COLLECTOR_STORE_CHECK_H
#define PGFLEET_COLLECTOR_STORE_CHECK_H

#include <stddef.h>

#include "common/error.h"

/*
 * store_check_file checks the SQLite file at path with mode ("full",
 * "quick" or "off"). A file that does not exist yet passes (the writer
 * creates it). PGF_OK, or PGF_ESTORE with one line in errbuf:
 *   store "PATH" failed its integrity check: REASON; restore a backup or
 *   move the file away
 * Blocks for as long as the check reads the file; call it before any
 * other connection opens the store.
 */
PGF_MUST_CHECK int store_check_file(const char *path, const char *mode, char *errbuf,
    size_t errlen);

#endif
