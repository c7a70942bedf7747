/* protocol/batch_hdr.c: the fixed 61-byte header of a magic-2 record batch and its
 * CRC-32C. Shared by the produce validator, storage (append and recovery) and fetch.
 * Layout: docs/record-format.md. */
#include "protocol.h"

int
sk_batch_hdr_parse(const uint8_t *p, size_t len, sk_batch_hdr_t *h)
{
    if (len < SK_BATCH_HEADER_SIZE) return SK_AGAIN;
    h->base_offset = (int64_t)sk_be64(p);
    h->batch_length = (int32_t)sk_be32(p + 8);
    h->partition_leader_epoch = (int32_t)sk_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = sk_be32(p + 17);
    h->attributes = (int16_t)sk_be16(p + 21);
    h->last_offset_delta = (int32_t)sk_be32(p + 23);
    h->base_timestamp = (int64_t)sk_be64(p + 27);
    h->max_timestamp = (int64_t)sk_be64(p + 35);
    h->producer_id = (int64_t)sk_be64(p + 43);
    h->producer_epoch = (int16_t)sk_be16(p + 51);
    h->base_sequence = (int32_t)sk_be32(p + 53);
    h->records_count = (int32_t)sk_be32(p + 57);
    if (h->magic != 2) return SK_ECORRUPT;
    if (h->batch_length < SK_BATCH_HEADER_SIZE - SK_LOG_OVERHEAD) return SK_ECORRUPT;
    if (h->batch_length > INT32_MAX - SK_LOG_OVERHEAD) return SK_ECORRUPT;
    return SK_OK;
}

bool
sk_batch_crc_ok(const uint8_t *batch, size_t len)
{
    if (len < SK_BATCH_HEADER_SIZE) return false;
    uint32_t want = sk_be32(batch + SK_BATCH_CRC_OFFSET);
    return sk_crc32c(0, batch + SK_BATCH_ATTR_OFFSET, len - SK_BATCH_ATTR_OFFSET) == want;
}

void
sk_batch_crc_set(uint8_t *batch, size_t len)
{
    SK_ASSERT(len >= SK_BATCH_HEADER_SIZE);
    sk_put_be32(batch + SK_BATCH_CRC_OFFSET, sk_crc32c(0, batch + SK_BATCH_ATTR_OFFSET, len - SK_BATCH_ATTR_OFFSET));
}
