/*
 * sender.c - Report/Ack exchange over an nng REQ socket (see sender.h).
 */
#include "agent/sender.h"

#include <stdio.h>
#include <stdlib.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/wire.h"

/* An Ack is tiny; anything bigger is not one. */
#define ACK_MAX_BYTES 65536

struct sender {
	nng_socket socket;
};

int
sender_open(const char *url, int64_t ack_timeout_ms, struct sender **out,
    char *errbuf, size_t errlen)
{
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
	rv = nng_dial(sender->socket, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		snprintf(errbuf, errlen, "invalid collector address \"%s\": %s", url,
		    nng_strerror(rv));
		nng_close(sender->socket);
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
	free(sender);
}

int
sender_exchange(struct sender *sender, const uint8_t *report, size_t len,
    Pgfleet__V1__Ack **ack)
{
	ProtobufCMessage *message = NULL;
	int rv;

	*ack = NULL;
	if ((rv = pgf_wire_send_bytes(sender->socket, report, len)) != PGF_OK)
		return rv;
	rv = pgf_wire_recv(sender->socket, &pgfleet__v1__ack__descriptor, ACK_MAX_BYTES,
	    &message);
	if (rv != PGF_OK)
		return rv;
	*ack = (Pgfleet__V1__Ack *) message;
	return PGF_OK;
}
