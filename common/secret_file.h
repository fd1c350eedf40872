/*
 * secret_file.h - files that hold secrets (TLS private keys, tokens).
 *
 * A secret readable by every local user is no secret: pgfleet refuses to
 * start with one, the way ssh refuses a world-readable private key. Group
 * read is allowed (Kubernetes mounts Secrets 0440 with fsGroup; Postgres
 * itself accepts a root-owned key at 0640).
 */
#ifndef PGFLEET_COMMON_SECRET_FILE_H
#define PGFLEET_COMMON_SECRET_FILE_H

#include <stddef.h>

#include "common/error.h"

/* Largest secret pgf_secret_file_read accepts: tokens are short. */
#define PGF_SECRET_MAX_BYTES 4096

/*
 * pgf_secret_file_check refuses path unless it is a regular file that
 * others (not owner, not group) can neither read nor write. what names the
 * secret in the error ("tls_key"). PGF_ECONFIG with one line in errbuf.
 */
PGF_MUST_CHECK int pgf_secret_file_check(const char *path, const char *what, char *errbuf,
    size_t errlen);

/*
 * pgf_secret_file_read checks path as above and reads it whole (at most
 * PGF_SECRET_MAX_BYTES), without trailing newlines or carriage returns,
 * into *out (malloc'd, the caller frees). An empty secret is refused.
 */
PGF_MUST_CHECK int pgf_secret_file_read(const char *path, const char *what, char **out,
    char *errbuf, size_t errlen);

#endif
