/* tests/fuzz/fuzz_req_group.c: libFuzzer target for the generated decoders of the group
 * requests that carry client-chosen blobs and arrays: JoinGroup, SyncGroup and
 * OffsetCommit (also Heartbeat, LeaveGroup, OffsetFetch). Byte 0 picks the API, byte 1
 * the version, the rest is the body. Checks are in fuzz_msg.h: no crash, leak or
 * out-of-bounds read, the arena cap holds, and whatever decodes survives
 * encode/decode unchanged. */
#include "fuzz_msg.h"

static const int16_t group_apis[] = {
    SK_API_JOIN_GROUP, SK_API_SYNC_GROUP, SK_API_OFFSET_COMMIT,
    SK_API_HEARTBEAT,  SK_API_LEAVE_GROUP, SK_API_OFFSET_FETCH,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    return fuzz_req_api(group_apis[data[0] % SK_ARRAY_LEN(group_apis)], data + 1, size - 1);
}
