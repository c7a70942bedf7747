/* protocol/protocol_int.h: declarations private to src/protocol (record.c, legacy.c,
 * compress.c). Nothing outside the module includes this file.
 * Invariants: the varint readers never read past r->len and leave r->pos unchanged
 * on failure only as far as the caller cares (callers abandon the reader on error). */
#ifndef SK_PROTOCOL_INT_H
#define SK_PROTOCOL_INT_H

#include "protocol.h"

/* Decode one record at r (magic-2 layout) without copying: key, value and headers
 * borrow r's bytes. base_offset/base_timestamp turn deltas into absolute values;
 * *offset_delta receives the raw delta. Returns SK_OK or SK_ECORRUPT (malformed:
 * Kafka's INVALID_RECORD). */
int sk_rec_decode(sk_rd_t *r, int64_t base_offset, int64_t base_timestamp, sk_record_t *out,
                  int32_t *offset_delta);

/* lz4 frame decoding that ignores the header checksum byte: magic-0 messages were
 * written with Kafka's broken HC (KAFKA-3160). Same contract as sk_decompress. */
int sk_decompress_lz4_legacy(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len);

/* xxHash32 (used for the lz4 frame header checksum). */
uint32_t sk_xxh32(const void *data, size_t len, uint32_t seed);

#endif
