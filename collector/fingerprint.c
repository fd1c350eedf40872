/*
 * fingerprint.c - libpg_query fingerprints of statement texts (see
 * fingerprint.h).
 */
#include "collector/fingerprint.h"

#include <inttypes.h>
#include <stdio.h>

#include <pg_query.h>

void
statement_fingerprint(const char *text, bool truncated, int64_t queryid,
    char out[FINGERPRINT_SIZE])
{
	PgQueryFingerprintResult result;

	/* a cut text would fingerprint as some other statement, or not parse */
	if (!truncated && text[0] != '\0') {
		result = pg_query_fingerprint(text);
		if (result.error == NULL) {
			snprintf(out, FINGERPRINT_SIZE, "fp:%016" PRIx64, result.fingerprint);
			pg_query_free_fingerprint_result(result);
			return;
		}
		pg_query_free_fingerprint_result(result);
	}
	snprintf(out, FINGERPRINT_SIZE, "q:%" PRId64, queryid);
}
