/*
 * wire.h - protobuf messages over nng sockets.
 *
 * Every message received from outside is checked against a size limit
 * before it is unpacked, and unpacked with protobuf-c's validation; the
 * caller validates meaning (ranges, required fields) afterwards.
 */
#ifndef PGFLEET_COMMON_WIRE_H
#define PGFLEET_COMMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>

#include "common/error.h"

/* Largest message a listener accepts (NNG_OPT_RECVMAXSZ) by default. */
#define PGF_WIRE_MAX_MESSAGE (16u * 1024u * 1024u)

/* pgf_wire_pack_msg packs message into a new nng message (*out, owned by
 * the caller until nng takes it), for senders that use contexts and aios.
 * PGF_OK or PGF_ENOMEM. */
int pgf_wire_pack_msg(const ProtobufCMessage *message, nng_msg **out) PGF_MUST_CHECK;

/* pgf_wire_send packs message and sends it on socket. Blocks up to the
 * socket's NNG_OPT_SENDTIMEO. Returns PGF_OK, PGF_ETIMEDOUT when nothing
 * took it in time, PGF_ENOMEM, or PGF_EIO (the nng error is logged at debug
 * level). */
int pgf_wire_send(nng_socket socket, const ProtobufCMessage *message)
	PGF_MUST_CHECK;

/* pgf_wire_send_bytes sends an already packed message. */
int pgf_wire_send_bytes(nng_socket socket, const uint8_t *data, size_t len)
	PGF_MUST_CHECK;

/* pgf_wire_recv receives one message and unpacks it as descriptor. Blocks up
 * to NNG_OPT_RECVTIMEO. On PGF_OK, *out is owned by the caller
 * (protobuf_c_message_free_unpacked). Returns PGF_ETIMEDOUT, PGF_ETOOBIG
 * (over max_bytes), PGF_EDECODE (not a valid message), PGF_EIO. */
int pgf_wire_recv(nng_socket socket, const ProtobufCMessageDescriptor *descriptor,
    size_t max_bytes, ProtobufCMessage **out) PGF_MUST_CHECK;

/* pgf_wire_unpack unpacks data as descriptor after checking its size. Same
 * ownership and errors as pgf_wire_recv. */
int pgf_wire_unpack(const ProtobufCMessageDescriptor *descriptor,
    const uint8_t *data, size_t len, size_t max_bytes, ProtobufCMessage **out)
	PGF_MUST_CHECK;

#endif
