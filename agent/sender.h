/*
 * sender.h - the agent's link to the collector: one nng REQ socket that
 * dials out (agents never listen) and exchanges a Report for an Ack.
 *
 * The dial is non-blocking and redials with growing backoff
 * (NNG_OPT_RECONNMINT/MAXT) by itself; nng's own resend is pushed above the
 * ack deadline, because the agent resends from its pending list and the
 * collector stores each (agent, boot, seq) once anyway.
 */
#ifndef PGFLEET_AGENT_SENDER_H
#define PGFLEET_AGENT_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "pgfleet/v1/agent.pb-c.h"

struct sender;
struct pgf_tls_link;

/* sender_open makes the socket and starts dialing url; a tls+tcp:// url
 * gets tls's certificates (common/tls_link.h; borrowed for the call).
 * Fails only for a bad address (a one-line reason in errbuf), never
 * because nothing listens. */
int sender_open(const char *url, const struct pgf_tls_link *tls, int64_t ack_timeout_ms,
    struct sender **out, char *errbuf, size_t errlen) PGF_MUST_CHECK;

/* sender_close closes the socket; NULL is a no-op. */
void sender_close(struct sender *sender);

/* sender_exchange sends one packed Report and waits up to the ack timeout
 * for its Ack. On PGF_OK the caller owns *ack (pgfleet__v1__ack__free_unpacked).
 * Returns PGF_ETIMEDOUT (no collector, or no answer), PGF_EDECODE (the
 * answer is not an Ack) or PGF_EIO. Blocks. */
int sender_exchange(struct sender *sender, const uint8_t *report, size_t len,
    Pgfleet__V1__Ack **ack) PGF_MUST_CHECK;

#endif
