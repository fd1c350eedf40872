/*
 * fuzz_report.c - fuzz target: an agent's Report as the collector decodes
 * it (size check, bounded unpack) and validates it.
 */
#include "tests/fuzz/fuzz.h"

#include "collector/ingest.h"
#include "common/wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *message = NULL;
	char errbuf[512];

	if (pgf_wire_unpack(&pgfleet__v1__report__descriptor, data, size, PGF_WIRE_MAX_MESSAGE,
		&message) != PGF_OK)
		return 0;
	(void) ingest_validate((const Pgfleet__V1__Report *) message, errbuf, sizeof(errbuf));
	protobuf_c_message_free_unpacked(message, NULL);
	return 0;
}
