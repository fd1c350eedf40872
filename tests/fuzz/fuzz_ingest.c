/*
 * fuzz_ingest.c - fuzz target: the whole of ingest_report (decode,
 * validate, store once, Ack) against a temporary store; the Ack is packed
 * as the collector would send it.
 */
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>

#include "collector/ingest.h"
#include "common/wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *store = fuzz_open_store(false);
	struct ingest_counters counters = {0};
	Pgfleet__V1__Ack ack;
	uint8_t *packed;

	ingest_report(store, data, size, PGF_WIRE_MAX_MESSAGE, &counters, &ack);
	packed = malloc(protobuf_c_message_get_packed_size(&ack.base) + 1);
	if (packed != NULL)
		protobuf_c_message_pack(&ack.base, packed);
	free(packed);
	ingest_ack_fini(&ack);
	return 0;
}
