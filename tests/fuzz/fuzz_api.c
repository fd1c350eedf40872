/*
 * fuzz_api.c - fuzz target: a CLI/HTTP Request decoded and answered by
 * api_answer_bytes against a read-only temporary store; the Response is
 * packed as the collector would send it.
 */
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>

#include "collector/api.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *store = fuzz_open_store(true);
	Pgfleet__V1__Response response = PGFLEET__V1__RESPONSE__INIT;
	uint8_t *packed;

	api_answer_bytes(store, data, size, &response);
	packed = malloc(protobuf_c_message_get_packed_size(&response.base) + 1);
	if (packed != NULL)
		protobuf_c_message_pack(&response.base, packed);
	free(packed);
	api_response_fini(&response);
	return 0;
}
