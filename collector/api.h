/*
 * api.h - the collector's answers: one Request in, one Response out.
 *
 * Each question is one row of a table {oneof case, handler}; the same
 * handlers serve the CLI over nng and (later) HTTP. Handlers read from a
 * read-only store handle and never block ingest.
 */
#ifndef PGFLEET_COLLECTOR_API_H
#define PGFLEET_COLLECTOR_API_H

#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"
#include "pgfleet/v1/api.pb-c.h"

/* Largest request accepted. */
#define API_MAX_REQUEST_BYTES (1024 * 1024)

/*
 * api_answer fills response for request, reading store. response must be
 * initialized; free what this put in it with api_response_fini. Never
 * fails: problems become an Error answer.
 */
void api_answer(struct store *store, const Pgfleet__V1__Request *request,
    Pgfleet__V1__Response *response);

/* api_answer_bytes decodes a packed Request (refusing more than
 * API_MAX_REQUEST_BYTES) and answers it; an undecodable request gets a
 * BAD_REQUEST error. */
void api_answer_bytes(struct store *store, const uint8_t *data, size_t len,
    Pgfleet__V1__Response *response);

void api_response_fini(Pgfleet__V1__Response *response);

#endif
