/*
 * wire.c - protobuf messages over nng sockets (see wire.h).
 */
#include "common/wire.h"

#include <stdlib.h>

#include "common/decode_budget.h"
#include "common/log.h"

int
pgf_wire_send_bytes(nng_socket socket, const uint8_t *data, size_t len)
{
	nng_msg *msg = NULL;
	int rv;

	if ((rv = nng_msg_alloc(&msg, 0)) != 0)
		return PGF_ENOMEM;
	if ((rv = nng_msg_append(msg, data, len)) != 0) {
		nng_msg_free(msg);
		return PGF_ENOMEM;
	}
	if ((rv = nng_sendmsg(socket, msg, 0)) != 0) {
		nng_msg_free(msg);
		if (rv == NNG_ETIMEDOUT)
			return PGF_ETIMEDOUT;
		pgf_debug("nng send failed: %s", nng_strerror(rv));
		return PGF_EIO;
	}
	return PGF_OK;
}

int
pgf_wire_send(nng_socket socket, const ProtobufCMessage *message)
{
	size_t len = protobuf_c_message_get_packed_size(message);
	uint8_t *data = malloc(len > 0 ? len : 1);
	int rv;

	if (data == NULL)
		return PGF_ENOMEM;
	protobuf_c_message_pack(message, data);
	rv = pgf_wire_send_bytes(socket, data, len);
	free(data);
	return rv;
}

int
pgf_wire_pack_msg(const ProtobufCMessage *message, nng_msg **out)
{
	size_t len = protobuf_c_message_get_packed_size(message);

	*out = NULL;
	if (nng_msg_alloc(out, len) != 0)
		return PGF_ENOMEM;
	protobuf_c_message_pack(message, nng_msg_body(*out));
	return PGF_OK;
}

int
pgf_wire_unpack(const ProtobufCMessageDescriptor *descriptor,
    const uint8_t *data, size_t len, size_t max_bytes, ProtobufCMessage **out)
{
	ProtobufCMessage *message;
	struct pgf_decode_budget budget;

	*out = NULL;
	if (len > max_bytes)
		return PGF_ETOOBIG;
	/* bounded: a small message must not unpack into unbounded memory */
	pgf_decode_budget_init(&budget, PGF_DECODE_BUDGET);
	message = protobuf_c_message_unpack(descriptor, &budget.allocator, len, data);
	if (message == NULL)
		return budget.exceeded ? PGF_ETOOBIG : PGF_EDECODE;
	*out = message;
	return PGF_OK;
}

int
pgf_wire_recv(nng_socket socket, const ProtobufCMessageDescriptor *descriptor,
    size_t max_bytes, ProtobufCMessage **out)
{
	nng_msg *msg = NULL;
	int rv;

	*out = NULL;
	if ((rv = nng_recvmsg(socket, &msg, 0)) != 0) {
		if (rv == NNG_ETIMEDOUT)
			return PGF_ETIMEDOUT;
		pgf_debug("nng receive failed: %s", nng_strerror(rv));
		return PGF_EIO;
	}
	rv = pgf_wire_unpack(descriptor, nng_msg_body(msg), nng_msg_len(msg),
	    max_bytes, out);
	nng_msg_free(msg);
	return rv;
}
