/*
 * admin_auth.h - who may ask the collector questions and send actions.
 *
 * The CLI socket and HTTP bind to loopback by default, where every local
 * user may use them (as with Postgres' own `trust` on a local socket). A
 * listener bound beyond loopback needs an admin token (admin_token_file):
 * the collector refuses to start without one. With a token, every CLI
 * Request must carry it (Request.admin_token) and every HTTP request but
 * /healthz its bearer; a missing or wrong one is answered "unauthorized"
 * (HTTP 401) and nothing else.
 *
 * Loopback means 127.0.0.0/8, ::1, "localhost", ipc:// and inproc://. A
 * host name other than localhost counts as beyond loopback (what it
 * resolves to can change). Pure code but admin_auth_answer_bytes, which
 * reads the store through api_answer.
 */
#ifndef PGFLEET_COLLECTOR_ADMIN_AUTH_H
#define PGFLEET_COLLECTOR_ADMIN_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"
#include "pgfleet/v1/api.pb-c.h"

/* admin_auth_host_is_loopback: host is 127.x.y.z, ::1 (or an IPv4-mapped
 * 127 address) or localhost. */
bool admin_auth_host_is_loopback(const char *host);

/* admin_auth_nng_address_is_local: an nng address (ipc://, inproc://,
 * tcp://, tcp4://, tcp6://, tls+tcp://, ws://, wss://...) that only this
 * host can reach. "tcp://:7451" and a "*" host listen everywhere. */
bool admin_auth_nng_address_is_local(const char *address);

/* admin_auth_nng_list_is_local: every address of a comma-separated list
 * is local; when not, the first that is not is copied into remote. */
bool admin_auth_nng_list_is_local(const char *addresses, char *remote, size_t len);

/* admin_auth_http_is_local: http_listen "HOST:PORT" / "[V6]:PORT" binds
 * to loopback ("" = HTTP off counts as local; ":PORT" does not). */
bool admin_auth_http_is_local(const char *listen);

/*
 * admin_auth_answer_bytes decodes a packed Request (as api_answer_bytes)
 * and answers it; when admin_token is not empty and the request does not
 * carry it (compared in constant time), the answer is an UNAUTHORIZED
 * error and nothing is read. response as for api_answer.
 */
void admin_auth_answer_bytes(struct store *store, const char *admin_token, const uint8_t *data,
    size_t len, Pgfleet__V1__Response *response);

#endif
