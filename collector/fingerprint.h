/*
 * fingerprint.h - the same statement across clusters.
 *
 * A queryid means one statement only inside one cluster (it hashes catalog
 * OIDs); across clusters pgfleet matches statements by the libpg_query
 * fingerprint of their normalized text, which ignores constants,
 * whitespace, case and comments.
 */
#ifndef PGFLEET_COLLECTOR_FINGERPRINT_H
#define PGFLEET_COLLECTOR_FINGERPRINT_H

#include <stdbool.h>
#include <stdint.h>

/* Room for a fingerprint: "fp:" + 16 hex digits, or "q:" + a queryid. */
#define FINGERPRINT_SIZE 32

/*
 * statement_fingerprint writes the fingerprint of a query text into out:
 * "fp:<16 hex digits>" when the text parses, else "q:<queryid>" (a cut or
 * unparsable text only matches itself). Pure; thread-safe (libpg_query
 * keeps per-thread memory contexts).
 */
void statement_fingerprint(const char *text, bool truncated, int64_t queryid,
    char out[FINGERPRINT_SIZE]);

#endif
