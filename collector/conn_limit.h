/*
 * conn_limit.h - a cap on the pipes (connections) of one nng socket.
 *
 * Attached to the agents' listener: every pipe that completes nng's
 * handshake is counted at NNG_PIPE_EV_ADD_PRE, and one beyond the cap is
 * closed there (before the protocol sees it), counted and logged at most
 * every 10 s; NNG_PIPE_EV_REM_POST uncounts it. A connection that never
 * completes the handshake is not a pipe yet: nng 1.5.2's TCP transport
 * drops it after 10 s (its negotiation timeout), whatever the cap.
 */
#ifndef PGFLEET_COLLECTOR_CONN_LIMIT_H
#define PGFLEET_COLLECTOR_CONN_LIMIT_H

#include <stdint.h>

#include <nng/nng.h>

#include "common/error.h"

struct conn_limit;

/*
 * conn_limit_attach starts counting the pipes of socket, which must not
 * listen or dial yet (a pipe added before it would be uncounted when it
 * closes). max is the most pipes at once; what names them in logs
 * ("agent"). PGF_OK with *out, PGF_ENOMEM or PGF_EIO. Free *out only after
 * the socket is closed (nng calls it while closing pipes).
 */
PGF_MUST_CHECK int conn_limit_attach(nng_socket socket, long long max, const char *what,
    struct conn_limit **out);

/* conn_limit_free frees it; NULL is a no-op. */
void conn_limit_free(struct conn_limit *limit);

/* conn_limit_read reads the pipes open now and those refused so far
 * (any thread; NULL reads zeros). */
void conn_limit_read(struct conn_limit *limit, uint64_t *open, uint64_t *refused);

#endif
