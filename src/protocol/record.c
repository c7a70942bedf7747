/* protocol/record.c: records inside magic-2 batches: validating a batch from a
 * producer (sk_batch_validate), iterating its records (sk_batch_foreach_record),
 * decoding record headers, and building batches (sk_batch_build).
 * Hot path of produce: an uncompressed batch is validated in place with no copy and no
 * allocation; a compressed one is decompressed once into one buffer bounded by
 * max_decompressed_bytes. No per-record allocation anywhere.
 * Invariants: nothing here trusts a length from the wire before checking it against
 * the bytes that remain; records borrow the batch (or decompressed) buffer and are
 * valid only during the call that produced them.
 * Layout and the validation order: docs/record-format.md. */
#include "protocol_int.h"

/* Kafka's minimum "record size" when it frames any batch (LegacyRecord overhead v0). */
#define LEGACY_MIN_SIZE 14
/* Bytes up to and including magic: what Kafka needs to see a batch at all. */
#define HEADER_UP_TO_MAGIC 17

/* Wrapping add: deltas from the wire must not trigger signed overflow. */
static inline int64_t
add_wrap(int64_t base, int64_t delta)
{
    return (int64_t)((uint64_t)base + (uint64_t)delta);
}

int
sk_rec_decode(sk_rd_t *r, int64_t base_offset, int64_t base_timestamp, sk_record_t *out, int32_t *offset_delta)
{
    int32_t body_len, key_len, value_len, hcount, od;
    int64_t ts_delta;
    int8_t attr;
    sk_rd_t b;

    if (sk_rd_varint(r, &body_len) != SK_OK) return SK_ECORRUPT;
    if (body_len < 0 || (size_t)body_len > sk_rd_left(r)) return SK_ECORRUPT;
    sk_rd_init(&b, r->p + r->pos, (size_t)body_len);
    if (sk_rd_i8(&b, &attr) != SK_OK || sk_rd_varlong(&b, &ts_delta) != SK_OK || sk_rd_varint(&b, &od) != SK_OK)
        return SK_ECORRUPT;
    out->key.ptr = NULL;
    if (sk_rd_varint(&b, &key_len) != SK_OK || key_len < -1) return SK_ECORRUPT;
    if (key_len >= 0 && sk_rd_raw(&b, (size_t)key_len, &out->key.ptr) != SK_OK) return SK_ECORRUPT;
    out->value.ptr = NULL;
    if (sk_rd_varint(&b, &value_len) != SK_OK || value_len < -1) return SK_ECORRUPT;
    if (value_len >= 0 && sk_rd_raw(&b, (size_t)value_len, &out->value.ptr) != SK_OK) return SK_ECORRUPT;
    if (sk_rd_varint(&b, &hcount) != SK_OK || hcount < 0) return SK_ECORRUPT;
    size_t headers_pos = b.pos;
    for (int32_t i = 0; i < hcount; i++) {
        int32_t hk, hv;
        if (sk_rd_varint(&b, &hk) != SK_OK || hk < 0 || sk_rd_skip(&b, (size_t)hk) != SK_OK) return SK_ECORRUPT;
        if (sk_rd_varint(&b, &hv) != SK_OK || hv < -1) return SK_ECORRUPT;
        if (hv >= 0 && sk_rd_skip(&b, (size_t)hv) != SK_OK) return SK_ECORRUPT;
    }
    if (sk_rd_left(&b) != 0) return SK_ECORRUPT; /* body length disagrees with fields */
    out->offset = add_wrap(base_offset, od);
    out->timestamp = add_wrap(base_timestamp, ts_delta);
    out->attributes = attr;
    out->key.len = key_len;
    out->value.len = value_len;
    out->header_count = hcount;
    out->headers = b.p + headers_pos;
    out->headers_len = b.len - headers_pos;
    *offset_delta = od;
    r->pos += (size_t)body_len;
    return SK_OK;
}

int
sk_record_headers(const sk_record_t *r, sk_header_t *out, int32_t max)
{
    sk_rd_t rd;
    int32_t n;

    SK_ASSERT(r && (out || max == 0));
    if (r->header_count < 0 || max < 0) return SK_EINVAL;
    n = SK_MIN(r->header_count, max);
    sk_rd_init(&rd, r->headers, r->headers_len);
    for (int32_t i = 0; i < n; i++) {
        int32_t kl, vl;
        out[i].key.ptr = NULL;
        out[i].value.ptr = NULL;
        if (sk_rd_varint(&rd, &kl) != SK_OK || kl < 0) return SK_ECORRUPT;
        if (sk_rd_raw(&rd, (size_t)kl, &out[i].key.ptr) != SK_OK) return SK_ECORRUPT;
        if (sk_rd_varint(&rd, &vl) != SK_OK || vl < -1) return SK_ECORRUPT;
        if (vl >= 0 && sk_rd_raw(&rd, (size_t)vl, &out[i].value.ptr) != SK_OK) return SK_ECORRUPT;
        out[i].key.len = kl;
        out[i].value.len = vl;
    }
    return n;
}

/* ---- walking the records of a batch ---- */

typedef struct rec_walk {
    const sk_batch_hdr_t *h; /* borrowed */
    bool strict;             /* offset deltas must be exactly 0..n-1 */
    sk_record_cb cb;         /* may be NULL (validation only) */
    void *ctx;
    int32_t count;           /* out: records decoded */
    int64_t max_timestamp;   /* out: max CreateTime over the records, -1 if none */
} rec_walk_t;

/* Decode records_count records from recs, which they must fill exactly. Relaxed mode
 * (compacted or internal data) only needs deltas strictly increasing and within
 * last_offset_delta. Returns SK_ECORRUPT for malformed records or a callback's code. */
static int
batch_walk(rec_walk_t *w, const uint8_t *recs, size_t len)
{
    const sk_batch_hdr_t *h = w->h;
    sk_rd_t r;
    int32_t prev = -1;

    sk_rd_init(&r, recs, len);
    w->count = 0;
    w->max_timestamp = -1;
    for (int32_t i = 0; i < h->records_count; i++) {
        sk_record_t rec;
        int32_t od;
        if (sk_rec_decode(&r, h->base_offset, h->base_timestamp, &rec, &od) != SK_OK) return SK_ECORRUPT;
        if (w->strict ? od != i : (od <= prev || od > h->last_offset_delta)) return SK_ECORRUPT;
        prev = od;
        if (rec.timestamp > w->max_timestamp) w->max_timestamp = rec.timestamp;
        if (h->attributes & SK_ATTR_LOG_APPEND_TIME) rec.timestamp = h->max_timestamp;
        w->count++;
        if (w->cb) {
            int rc = w->cb(w->ctx, &rec);
            if (rc != SK_OK) return rc;
        }
    }
    return sk_rd_left(&r) == 0 ? SK_OK : SK_ECORRUPT; /* records left beyond the count */
}

static inline int
fail_with(int16_t *kerr, int16_t code, int rc)
{
    *kerr = code;
    return rc;
}

/* Framing: is there exactly one magic-2 batch, of a size we accept, with a good CRC?
 * Errors follow Kafka's order: framing (no batch at all is INVALID_RECORD), size
 * limit, CRC. */
static int
validate_frame(const uint8_t *p, size_t len, const sk_batch_check_t *chk, sk_batch_hdr_t *h, int16_t *kerr)
{
    if (len < HEADER_UP_TO_MAGIC) return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
    int32_t blen = (int32_t)sk_be32(p + 8);
    int8_t magic = (int8_t)p[SK_BATCH_MAGIC_OFFSET];
    if (blen < LEGACY_MIN_SIZE || blen > INT32_MAX - SK_LOG_OVERHEAD || magic < 0 || magic > 2)
        return fail_with(kerr, SK_KERR_CORRUPT_MESSAGE, SK_ECORRUPT);
    size_t size = (size_t)blen + SK_LOG_OVERHEAD;
    if (len < size || magic != 2) return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
    if (len > size) return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT); /* not exactly one */
    int codec = (int)(sk_be16(p + SK_BATCH_ATTR_OFFSET) & SK_ATTR_CODEC_MASK);
    if (size >= SK_BATCH_HEADER_SIZE &&
        (codec > SK_CODEC_ZSTD || (codec == SK_CODEC_ZSTD && chk->produce_version < 7)))
        return fail_with(kerr, SK_KERR_UNSUPPORTED_COMPRESSION_TYPE, SK_EUNSUP);
    if (chk->max_batch_bytes < 0 || size > (size_t)chk->max_batch_bytes)
        return fail_with(kerr, SK_KERR_MESSAGE_TOO_LARGE, SK_ELIMIT);
    if (sk_batch_hdr_parse(p, len, h) != SK_OK || !sk_batch_crc_ok(p, size))
        return fail_with(kerr, SK_KERR_CORRUPT_MESSAGE, SK_ECORRUPT);
    return SK_OK;
}

/* Header fields a producer must get right (Kafka's LogValidator.validateBatch). */
static int
validate_fields(const sk_batch_hdr_t *h, const sk_batch_check_t *chk, int16_t *kerr)
{
    bool client = !chk->allow_control;
    if (client) {
        if (h->base_offset != 0) return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
        if (h->last_offset_delta < 0 || h->records_count <= 0 || h->records_count != h->last_offset_delta + 1)
            return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
        if (h->attributes & SK_ATTR_CONTROL) return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
        if (h->producer_id > -1 && h->base_sequence < 0)
            return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
    } else {
        if (h->records_count < 0 || (int64_t)h->records_count > (int64_t)h->last_offset_delta + 1)
            return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
    }
    return SK_OK;
}

static int
map_decompress_rc(int rc, int16_t *kerr)
{
    switch (rc) {
    case SK_ELIMIT: return fail_with(kerr, SK_KERR_MESSAGE_TOO_LARGE, SK_ELIMIT);
    case SK_ENOMEM: return fail_with(kerr, SK_KERR_UNKNOWN_SERVER_ERROR, SK_ENOMEM);
    default: return fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
    }
}

int
sk_batch_validate(const uint8_t *p, size_t len, const sk_batch_check_t *chk, sk_batch_info_t *info,
                  int16_t *kerr)
{
    sk_batch_hdr_t h;
    uint8_t *plain = NULL; /* owned: decompressed records, if compressed */
    size_t plain_len = 0;
    int rc;

    SK_ASSERT(chk && info && kerr && (p || len == 0));
    *kerr = SK_KERR_NONE;
    rc = validate_frame(p, len, chk, &h, kerr);
    if (rc != SK_OK) goto fail;
    rc = validate_fields(&h, chk, kerr);
    if (rc != SK_OK) goto fail;

    sk_codec_t codec = (sk_codec_t)(h.attributes & SK_ATTR_CODEC_MASK);
    const uint8_t *recs = p + SK_BATCH_HEADER_SIZE;
    size_t recs_len = len - SK_BATCH_HEADER_SIZE;
    if (codec != SK_CODEC_NONE) {
        rc = sk_decompress(codec, recs, recs_len, chk->max_decompressed_bytes, &plain, &plain_len);
        if (rc != SK_OK) {
            rc = map_decompress_rc(rc, kerr);
            goto fail;
        }
        recs = plain;
        recs_len = plain_len;
    }
    rec_walk_t w = {.h = &h, .strict = !chk->allow_control};
    rc = batch_walk(&w, recs, recs_len);
    if (rc != SK_OK) {
        rc = fail_with(kerr, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
        goto fail;
    }
    info->hdr = h;
    info->record_count = w.count;
    info->max_timestamp = w.max_timestamp;
    info->codec = codec;
    free(plain);
    return SK_OK;
fail:
    free(plain);
    return rc;
}

int
sk_batch_foreach_record(const uint8_t *batch, size_t len, size_t max_decompressed_bytes, sk_record_cb cb,
                        void *ctx)
{
    sk_batch_hdr_t h;
    uint8_t *plain = NULL; /* owned: decompressed records */
    size_t plain_len = 0;
    int rc;

    SK_ASSERT(cb && (batch || len == 0));
    rc = sk_batch_hdr_parse(batch, len, &h);
    if (rc != SK_OK) return rc == SK_AGAIN ? SK_ECORRUPT : rc;
    size_t size = (size_t)h.batch_length + SK_LOG_OVERHEAD;
    if (size > len || size < SK_BATCH_HEADER_SIZE) return SK_ECORRUPT;
    sk_codec_t codec = (sk_codec_t)(h.attributes & SK_ATTR_CODEC_MASK);
    const uint8_t *recs = batch + SK_BATCH_HEADER_SIZE;
    size_t recs_len = size - SK_BATCH_HEADER_SIZE;
    if (codec != SK_CODEC_NONE) {
        rc = sk_decompress(codec, recs, recs_len, max_decompressed_bytes, &plain, &plain_len);
        if (rc != SK_OK) goto done;
        recs = plain;
        recs_len = plain_len;
    }
    rec_walk_t w = {.h = &h, .strict = false, .cb = cb, .ctx = ctx};
    rc = batch_walk(&w, recs, recs_len);
done:
    free(plain);
    return rc;
}

/* ---- building ---- */

static inline uint8_t *
put_uvarlong(uint8_t *d, uint64_t u)
{
    while (u >= 0x80) {
        *d++ = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    *d++ = (uint8_t)u;
    return d;
}

static inline uint8_t *
put_varint(uint8_t *d, int32_t v)
{
    return put_uvarlong(d, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

static inline uint8_t *
put_varlong(uint8_t *d, int64_t v)
{
    return put_uvarlong(d, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static size_t
rec_body_size(const sk_record_t *r, int32_t od, int64_t ts_delta)
{
    size_t n = 1 + sk_varlong_size(ts_delta) + sk_varint_size(od);
    n += sk_varint_size(r->key.len) + (r->key.len > 0 ? (size_t)r->key.len : 0);
    n += sk_varint_size(r->value.len) + (r->value.len > 0 ? (size_t)r->value.len : 0);
    n += sk_varint_size(r->header_count) + r->headers_len;
    return n;
}

static uint8_t *
rec_write(uint8_t *d, const sk_record_t *r, int32_t od, int64_t ts_delta, size_t body)
{
    d = put_varint(d, (int32_t)body);
    *d++ = (uint8_t)r->attributes;
    d = put_varlong(d, ts_delta);
    d = put_varint(d, od);
    d = put_varint(d, r->key.len);
    if (r->key.len > 0) memcpy(d, r->key.ptr, (size_t)r->key.len), d += r->key.len;
    d = put_varint(d, r->value.len);
    if (r->value.len > 0) memcpy(d, r->value.ptr, (size_t)r->value.len), d += r->value.len;
    d = put_varint(d, r->header_count);
    if (r->headers_len) memcpy(d, r->headers, r->headers_len), d += r->headers_len;
    return d;
}

/* Size of the encoded records, or SK_ELIMIT if a batch could not hold them. */
static int
records_size(const sk_record_t *records, int32_t count, size_t *total)
{
    size_t sum = 0;
    for (int32_t i = 0; i < count; i++) {
        const sk_record_t *r = &records[i];
        SK_ASSERT(r->key.len >= -1 && r->value.len >= -1 && r->header_count >= 0);
        SK_ASSERT(r->headers_len == 0 || r->headers);
        SK_ASSERT((r->key.len <= 0 || r->key.ptr) && (r->value.len <= 0 || r->value.ptr));
        int64_t tsd = (int64_t)((uint64_t)r->timestamp - (uint64_t)records[0].timestamp);
        size_t body = rec_body_size(r, i, tsd);
        if (body > INT32_MAX) return SK_ELIMIT;
        sum += sk_varint_size((int32_t)body) + body;
        if (sum > (size_t)INT32_MAX - SK_BATCH_HEADER_SIZE) return SK_ELIMIT;
    }
    *total = sum;
    return SK_OK;
}

static void
header_write(uint8_t *b, size_t size, const sk_batch_spec_t *spec, const sk_record_t *records, int32_t count)
{
    int64_t max_ts = -1;
    for (int32_t i = 0; i < count; i++)
        if (records[i].timestamp > max_ts) max_ts = records[i].timestamp;
    sk_put_be64(b + 0, 0);
    sk_put_be32(b + 8, (uint32_t)(size - SK_LOG_OVERHEAD));
    sk_put_be32(b + 12, (uint32_t)spec->partition_leader_epoch);
    b[SK_BATCH_MAGIC_OFFSET] = 2;
    sk_put_be16(b + 21, (uint16_t)((spec->attributes_extra & ~SK_ATTR_CODEC_MASK) | spec->codec));
    sk_put_be32(b + 23, (uint32_t)(count - 1));
    sk_put_be64(b + 27, (uint64_t)records[0].timestamp);
    sk_put_be64(b + 35, (uint64_t)max_ts);
    sk_put_be64(b + 43, (uint64_t)spec->producer_id);
    sk_put_be16(b + 51, (uint16_t)spec->producer_epoch);
    sk_put_be32(b + 53, (uint32_t)spec->base_sequence);
    sk_put_be32(b + 57, (uint32_t)count);
    sk_batch_crc_set(b, size);
}

int
sk_batch_build(const sk_batch_spec_t *spec, const sk_record_t *records, int32_t count, uint8_t **out,
               size_t *out_len)
{
    int rc;
    size_t total = 0;
    uint8_t *plain = NULL; /* owned: records, encoded */
    uint8_t *packed = NULL; /* owned: compressed records */
    size_t packed_len = 0;
    uint8_t *b = NULL;

    SK_ASSERT(spec && out && out_len && (records || count == 0));
    SK_ASSERT((int)spec->codec >= SK_CODEC_NONE && spec->codec <= SK_CODEC_ZSTD);
    if (count < 1) return SK_EINVAL;
    rc = records_size(records, count, &total);
    if (rc != SK_OK) return rc;
    bool raw = spec->codec == SK_CODEC_NONE;
    rc = SK_ENOMEM;
    plain = malloc(raw ? SK_BATCH_HEADER_SIZE + total : total + 1);
    if (!plain) goto fail;
    uint8_t *d = raw ? plain + SK_BATCH_HEADER_SIZE : plain;
    for (int32_t i = 0; i < count; i++) {
        int64_t tsd = (int64_t)((uint64_t)records[i].timestamp - (uint64_t)records[0].timestamp);
        d = rec_write(d, &records[i], i, tsd, rec_body_size(&records[i], i, tsd));
    }
    SK_ASSERT((size_t)(d - plain) == total + (raw ? SK_BATCH_HEADER_SIZE : 0));
    if (raw) {
        b = plain;
        plain = NULL;
    } else {
        rc = sk_compress(spec->codec, plain, total, &packed, &packed_len);
        if (rc != SK_OK) goto fail;
        rc = SK_ELIMIT;
        if (packed_len > (size_t)INT32_MAX - SK_BATCH_HEADER_SIZE) goto fail;
        rc = SK_ENOMEM;
        b = malloc(SK_BATCH_HEADER_SIZE + packed_len);
        if (!b) goto fail;
        memcpy(b + SK_BATCH_HEADER_SIZE, packed, packed_len);
        total = packed_len;
    }
    header_write(b, SK_BATCH_HEADER_SIZE + total, spec, records, count);
    *out = b;
    *out_len = SK_BATCH_HEADER_SIZE + total;
    free(packed);
    free(plain);
    return SK_OK;
fail:
    free(packed);
    free(plain);
    return rc;
}
