/* protocol/legacy.c: reading legacy message sets (magic 0 and 1, as sent by Produce
 * v0-2 clients) and converting a whole set into one magic-2 batch.
 * A set is a sequence of entries `offset i64, size i32, message`, where a message is
 * `crc u32 (CRC-32 IEEE over magic..end), magic i8, attributes i8, [timestamp i64 if
 * magic 1], key (i32 length, -1 null), value (i32 length, -1 null)`. A message whose
 * attributes name a codec is a wrapper: its value is a compressed inner set of plain
 * messages of the same magic. Offsets in the set are not kept (the broker assigns
 * them), so magic-1 relative inner offsets need no arithmetic here.
 * Invariants: every length is checked against the bytes left before use; the total
 * decompressed size over all wrappers stays within max_decompressed_bytes; converted
 * records borrow the input or the decompressed buffers until the batch is built.
 * Errors: malformed framing or CRC -> CORRUPT_MESSAGE; nested compression or mixed
 * magic inside a wrapper -> INVALID_RECORD; zstd or an unknown codec ->
 * UNSUPPORTED_COMPRESSION_TYPE; over the cap -> MESSAGE_TOO_LARGE. */
#include "protocol_int.h"

#include <zlib.h>

#define LEGACY_OVERHEAD_V0 14 /* crc 4, magic 1, attributes 1, key len 4, value len 4 */
#define LEGACY_OVERHEAD_V1 22 /* + timestamp 8 */
#define LEGACY_ATTR_LOG_APPEND_TIME 0x08
#define LEGACY_CODEC_MAX SK_CODEC_LZ4

typedef struct legacy_msg {
    int8_t magic;
    int8_t attributes;
    int64_t timestamp; /* -1 for magic 0 */
    sk_bytes_t key;    /* borrowed: the set being read */
    sk_bytes_t value;  /* borrowed */
} legacy_msg_t;

typedef struct legacy_conv {
    sk_record_t *recs;   /* owned array; records borrow the input or bufs */
    int32_t count;
    int32_t cap;
    uint8_t **bufs;      /* owned: decompressed inner sets */
    size_t buf_count;
    size_t buf_cap;
    size_t decompressed; /* bytes decompressed so far */
    size_t max_decompressed;
    sk_codec_t codec;    /* codec of the first wrapper: the batch keeps it */
    int16_t kerr;
} legacy_conv_t;

static int
conv_fail(legacy_conv_t *c, int16_t kerr, int rc)
{
    c->kerr = kerr;
    return rc;
}

static int
legacy_bytes(sk_rd_t *r, sk_bytes_t *out)
{
    int32_t n;
    if (sk_rd_i32(r, &n) != SK_OK || n < -1) return SK_ECORRUPT;
    out->len = n;
    out->ptr = NULL;
    if (n >= 0 && sk_rd_raw(r, (size_t)n, &out->ptr) != SK_OK) return SK_ECORRUPT;
    return SK_OK;
}

/* Read the next entry of a set; SK_ECORRUPT for anything malformed or a bad CRC. */
static int
legacy_next(sk_rd_t *set, legacy_msg_t *m)
{
    int64_t offset;
    int32_t size;
    const uint8_t *body;
    sk_rd_t r;

    if (sk_rd_i64(set, &offset) != SK_OK || sk_rd_i32(set, &size) != SK_OK) return SK_ECORRUPT;
    if (size < LEGACY_OVERHEAD_V0 || sk_rd_raw(set, (size_t)size, &body) != SK_OK) return SK_ECORRUPT;
    m->magic = (int8_t)body[4];
    if (m->magic != 0 && m->magic != 1) return SK_ECORRUPT;
    if (m->magic == 1 && size < LEGACY_OVERHEAD_V1) return SK_ECORRUPT;
    if (crc32(0L, body + 4, (uInt)(size - 4)) != sk_be32(body)) return SK_ECORRUPT;
    sk_rd_init(&r, body + 5, (size_t)size - 5);
    if (sk_rd_i8(&r, &m->attributes) != SK_OK) return SK_ECORRUPT;
    m->timestamp = -1;
    if (m->magic == 1 && sk_rd_i64(&r, &m->timestamp) != SK_OK) return SK_ECORRUPT;
    if (legacy_bytes(&r, &m->key) != SK_OK || legacy_bytes(&r, &m->value) != SK_OK) return SK_ECORRUPT;
    return sk_rd_left(&r) == 0 ? SK_OK : SK_ECORRUPT;
}

static int
conv_add(legacy_conv_t *c, const legacy_msg_t *m, int64_t timestamp)
{
    if (c->count == c->cap) {
        if (c->cap > INT32_MAX / 2) return conv_fail(c, SK_KERR_MESSAGE_TOO_LARGE, SK_ELIMIT);
        int32_t ncap = c->cap ? c->cap * 2 : 16;
        sk_record_t *n = realloc(c->recs, (size_t)ncap * sizeof(*n));
        if (!n) return conv_fail(c, SK_KERR_UNKNOWN_SERVER_ERROR, SK_ENOMEM);
        c->recs = n;
        c->cap = ncap;
    }
    sk_record_t *r = &c->recs[c->count++];
    memset(r, 0, sizeof(*r));
    r->timestamp = timestamp;
    r->key = m->key;
    r->value = m->value;
    return SK_OK;
}

static int
conv_keep(legacy_conv_t *c, uint8_t *buf)
{
    if (c->buf_count == c->buf_cap) {
        size_t ncap = c->buf_cap ? c->buf_cap * 2 : 4;
        uint8_t **n = realloc(c->bufs, ncap * sizeof(*n));
        if (!n) return SK_ENOMEM;
        c->bufs = n;
        c->buf_cap = ncap;
    }
    c->bufs[c->buf_count++] = buf;
    return SK_OK;
}

static int
wrapper_decompress(legacy_conv_t *c, const legacy_msg_t *w, sk_codec_t codec, uint8_t **out, size_t *out_len)
{
    size_t left = c->max_decompressed - c->decompressed;
    int rc;
    if (w->value.len < 0) return conv_fail(c, SK_KERR_CORRUPT_MESSAGE, SK_ECORRUPT);
    if (codec == SK_CODEC_LZ4 && w->magic == 0)
        rc = sk_decompress_lz4_legacy(w->value.ptr, (size_t)w->value.len, left, out, out_len);
    else
        rc = sk_decompress(codec, w->value.ptr, (size_t)w->value.len, left, out, out_len);
    if (rc == SK_ELIMIT) return conv_fail(c, SK_KERR_MESSAGE_TOO_LARGE, SK_ELIMIT);
    if (rc == SK_ENOMEM) return conv_fail(c, SK_KERR_UNKNOWN_SERVER_ERROR, SK_ENOMEM);
    if (rc != SK_OK) return conv_fail(c, SK_KERR_CORRUPT_MESSAGE, SK_ECORRUPT);
    c->decompressed += *out_len;
    if (conv_keep(c, *out) != SK_OK) {
        free(*out);
        return conv_fail(c, SK_KERR_UNKNOWN_SERVER_ERROR, SK_ENOMEM);
    }
    return SK_OK;
}

/* Unpack one compressed wrapper: its inner messages become records. */
static int
conv_wrapper(legacy_conv_t *c, const legacy_msg_t *w, sk_codec_t codec)
{
    uint8_t *inner;
    size_t inner_len;
    sk_rd_t r;
    int rc = wrapper_decompress(c, w, codec, &inner, &inner_len);
    if (rc != SK_OK) return rc;
    if (c->codec == SK_CODEC_NONE) c->codec = codec;
    bool log_append = w->magic == 1 && (w->attributes & LEGACY_ATTR_LOG_APPEND_TIME);
    sk_rd_init(&r, inner, inner_len);
    if (inner_len == 0) return conv_fail(c, SK_KERR_CORRUPT_MESSAGE, SK_ECORRUPT);
    while (sk_rd_left(&r) > 0) {
        legacy_msg_t m;
        if (legacy_next(&r, &m) != SK_OK) return conv_fail(c, SK_KERR_CORRUPT_MESSAGE, SK_ECORRUPT);
        if ((m.attributes & SK_ATTR_CODEC_MASK) != SK_CODEC_NONE || m.magic != w->magic)
            return conv_fail(c, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
        rc = conv_add(c, &m, log_append ? w->timestamp : m.timestamp);
        if (rc != SK_OK) return rc;
    }
    return SK_OK;
}

static int
conv_set(legacy_conv_t *c, const uint8_t *msgset, size_t len)
{
    sk_rd_t r;
    sk_rd_init(&r, msgset, len);
    while (sk_rd_left(&r) > 0) {
        legacy_msg_t m;
        int rc;
        if (legacy_next(&r, &m) != SK_OK) return conv_fail(c, SK_KERR_CORRUPT_MESSAGE, SK_ECORRUPT);
        int codec = m.attributes & SK_ATTR_CODEC_MASK;
        if (codec > LEGACY_CODEC_MAX) return conv_fail(c, SK_KERR_UNSUPPORTED_COMPRESSION_TYPE, SK_EUNSUP);
        if (codec == SK_CODEC_NONE)
            rc = conv_add(c, &m, m.timestamp);
        else
            rc = conv_wrapper(c, &m, (sk_codec_t)codec);
        if (rc != SK_OK) return rc;
    }
    if (c->count == 0) return conv_fail(c, SK_KERR_INVALID_RECORD, SK_ECORRUPT);
    return SK_OK;
}

int
sk_legacy_to_batch(const uint8_t *msgset, size_t len, size_t max_decompressed_bytes, uint8_t **out,
                   size_t *out_len, int16_t *kerr)
{
    legacy_conv_t c;
    int rc;

    SK_ASSERT(out && out_len && kerr && (msgset || len == 0));
    memset(&c, 0, sizeof(c));
    c.max_decompressed = max_decompressed_bytes;
    c.codec = SK_CODEC_NONE;
    *kerr = SK_KERR_NONE;
    rc = conv_set(&c, msgset, len);
    if (rc != SK_OK) goto fail;
    sk_batch_spec_t spec = {
        .codec = c.codec,
        .producer_id = -1,
        .producer_epoch = -1,
        .base_sequence = -1,
        .partition_leader_epoch = -1,
    };
    rc = sk_batch_build(&spec, c.recs, c.count, out, out_len);
    if (rc != SK_OK) {
        c.kerr = rc == SK_ELIMIT ? SK_KERR_MESSAGE_TOO_LARGE : SK_KERR_UNKNOWN_SERVER_ERROR;
        goto fail;
    }
    rc = SK_OK;
fail:
    *kerr = c.kerr;
    for (size_t i = 0; i < c.buf_count; i++) free(c.bufs[i]);
    free(c.bufs);
    free(c.recs);
    return rc;
}
