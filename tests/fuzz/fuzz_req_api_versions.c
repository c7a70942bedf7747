/* tests/fuzz/fuzz_req_api_versions.c: libFuzzer target for the generated ApiVersionsRequest decoder
 * (every version it handles). Byte 0 picks the version, the rest is the request body
 * as it follows the request header. Checks are in fuzz_msg.h: no crash, leak or
 * out-of-bounds read, the arena cap holds, and whatever decodes survives
 * encode/decode unchanged. Seeds: real client requests (tests/corpus/captures). */
#include "fuzz_msg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_req_api(SK_API_API_VERSIONS, data, size);
}
