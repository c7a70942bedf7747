/* protocol/batch_hdr.c: the fixed 61-byte header of a magic-2 record batch and its
 * CRC-32C, and recompression to another codec. Shared by the produce validator, storage
 * (append and recovery) and fetch.
 * Layout: docs/record-format.md. */
#include "protocol.h"

#include <stdlib.h>
#include <string.h>

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

/* The records section is the same bytes under every codec: recompressing a batch is
 * decompress, compress, then a new length, codec bits and CRC in a copy of the header. */
int
sk_batch_recompress(const uint8_t *batch, size_t len, sk_codec_t to, size_t max_decompressed, uint8_t **out,
                    size_t *out_len)
{
    sk_batch_hdr_t h;
    uint8_t *plain = NULL, *packed = NULL, *b = NULL;
    size_t plain_len, packed_len;
    const uint8_t *body = batch + SK_BATCH_HEADER_SIZE;
    int rc = sk_batch_hdr_parse(batch, len, &h);

    *out = NULL;
    if (rc != SK_OK) return rc == SK_AGAIN ? SK_ECORRUPT : rc;
    if ((size_t)h.batch_length + SK_LOG_OVERHEAD != len) return SK_ECORRUPT;
    sk_codec_t from = (sk_codec_t)(h.attributes & SK_ATTR_CODEC_MASK);
    plain_len = len - SK_BATCH_HEADER_SIZE;
    if (from != SK_CODEC_NONE) {
        rc = sk_decompress(from, body, plain_len, max_decompressed, &plain, &plain_len);
        if (rc != SK_OK) goto done;
        body = plain;
    }
    packed_len = plain_len;
    if (to != SK_CODEC_NONE) {
        rc = sk_compress(to, body, plain_len, &packed, &packed_len);
        if (rc != SK_OK) goto done;
        body = packed;
    }
    if (packed_len > (size_t)INT32_MAX - SK_BATCH_HEADER_SIZE || !(b = malloc(SK_BATCH_HEADER_SIZE + packed_len))) {
        rc = SK_ENOMEM;
        goto done;
    }
    memcpy(b, batch, SK_BATCH_HEADER_SIZE);
    memcpy(b + SK_BATCH_HEADER_SIZE, body, packed_len);
    sk_put_be32(b + 8, (uint32_t)(SK_BATCH_HEADER_SIZE + packed_len - SK_LOG_OVERHEAD));
    sk_put_be16(b + SK_BATCH_ATTR_OFFSET, (uint16_t)((h.attributes & ~SK_ATTR_CODEC_MASK) | (int16_t)to));
    sk_batch_crc_set(b, SK_BATCH_HEADER_SIZE + packed_len);
    *out = b;
    *out_len = SK_BATCH_HEADER_SIZE + packed_len;
    rc = SK_OK;
done:
    free(plain);
    free(packed);
    return rc;
}
