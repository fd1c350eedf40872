/*
 * sender.c - Report/Ack exchange over an nng REQ socket (see sender.h).
 */
#include "agent/sender.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/log.h"
#include "common/tls_link.h"
#include "common/wire.h"

/* An Ack is tiny; anything bigger is not one. */
#define ACK_MAX_BYTES 65536

struct sender {
	nng_socket socket;
	/* a tls+tcp:// dialer and its refused handshakes so far: an exchange
	 * that fails says when TLS, not the network, is why */
	nng_dialer dialer;
	bool tls;
	uint64_t tls_failures;
	char *url;
};

/* After a failed exchange: warns once per exchange when handshakes with
 * the collector failed since the last one (nng retries them quietly). */
static void
warn_tls_failures(struct sender *sender)
{
	uint64_t failures;

	if (!sender->tls)
		return;
	failures = pgf_tls_dialer_failures(sender->dialer);
	if (failures > sender->tls_failures)
		pgf_warning("tls: %llu handshake(s) with collector \"%s\" failed: its certificate is not signed by tls_ca or lacks the name checked (tls_server_name), or it refused this agent's certificate (missing, expired or not signed by its tls_client_ca)",
		    (unsigned long long) (failures - sender->tls_failures), sender->url);
	sender->tls_failures = failures;
}

int
sender_open(const char *url, const struct pgf_tls_link *tls, int64_t ack_timeout_ms,
    struct sender **out, char *errbuf, size_t errlen)
{
	char reason[512];
	struct sender *sender;
	int rv;

	*out = NULL;
	sender = calloc(1, sizeof(*sender));
	if (sender == NULL)
		return PGF_ENOMEM;
	if ((rv = nng_req0_open(&sender->socket)) != 0) {
		snprintf(errbuf, errlen, "could not open socket: %s", nng_strerror(rv));
		free(sender);
		return PGF_EIO;
	}
	nng_socket_set_ms(sender->socket, NNG_OPT_SENDTIMEO, (nng_duration) ack_timeout_ms);
	nng_socket_set_ms(sender->socket, NNG_OPT_RECVTIMEO, (nng_duration) ack_timeout_ms);
	/* the agent resends itself; nng's resend only duplicates work */
	nng_socket_set_ms(sender->socket, NNG_OPT_REQ_RESENDTIME,
	    (nng_duration) (ack_timeout_ms * 2));
	nng_socket_set_ms(sender->socket, NNG_OPT_RECONNMINT, 200);
	nng_socket_set_ms(sender->socket, NNG_OPT_RECONNMAXT, 15000);
	nng_socket_set_size(sender->socket, NNG_OPT_RECVMAXSZ, ACK_MAX_BYTES);
	/* a tls+tcp:// dialer gets its certificates before it starts */
	sender->tls = pgf_tls_address_is_tls(url);
	if ((sender->url = strdup(url)) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		nng_close(sender->socket);
		free(sender);
		return PGF_ENOMEM;
	}
	rv = pgf_tls_dial(sender->socket, url, tls, NNG_FLAG_NONBLOCK, &sender->dialer, reason,
	    sizeof(reason));
	if (rv != 0) {
		snprintf(errbuf, errlen, "invalid collector address %s", reason);
		nng_close(sender->socket);
		free(sender->url);
		free(sender);
		return PGF_ECONFIG;
	}
	*out = sender;
	return PGF_OK;
}

void
sender_close(struct sender *sender)
{
	if (sender == NULL)
		return;
	nng_close(sender->socket);
	free(sender->url);
	free(sender);
}

int
sender_exchange(struct sender *sender, const uint8_t *report, size_t len,
    Pgfleet__V1__Ack **ack)
{
	ProtobufCMessage *message = NULL;
	int rv;

	*ack = NULL;
	if ((rv = pgf_wire_send_bytes(sender->socket, report, len)) != PGF_OK) {
		warn_tls_failures(sender);
		return rv;
	}
	rv = pgf_wire_recv(sender->socket, &pgfleet__v1__ack__descriptor, ACK_MAX_BYTES,
	    &message);
	if (rv != PGF_OK) {
		warn_tls_failures(sender);
		return rv;
	}
	*ack = (Pgfleet__V1__Ack *) message;
	return PGF_OK;
}
