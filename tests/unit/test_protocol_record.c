/* tests/unit/test_protocol_record.c: magic-2 batches (protocol/record.c), legacy magic
 * 0/1 sets (protocol/legacy.c) and Kafka error names (protocol/kerr.c).
 * Batches are built with sk_batch_build for every codec, then validated and iterated
 * back; each failure class is made by patching one field of a good batch (re-sealing
 * the CRC where the point is not the CRC) and must give Kafka's error for it. Legacy
 * sets are written byte by byte from the message format, with and without compressed
 * wrappers, and must convert into a batch that validates and carries the same records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <zlib.h>

#include "protocol/protocol_int.h"

#define CAP (1u << 20)

static const sk_batch_check_t client_chk = {
    .max_batch_bytes = 1 << 20,
    .max_decompressed_bytes = CAP,
    .produce_version = 9,
    .allow_control = false,
};

/* Header bytes for a record: two headers, the second with a null value. */
static const uint8_t hdr_bytes[] = {
    0x04, 'h', '1',  /* key len 2 (zig-zag 4), "h1" */
    0x06, 'a', 'b', 'c', /* value len 3 */
    0x02, 'z',       /* key len 1 */
    0x01,            /* value len -1: null */
};

typedef struct fixture {
    sk_record_t recs[3];
} fixture_t;

static void
fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    f->recs[0] = (sk_record_t){.timestamp = 1700000000000, .key = {(const uint8_t *)"k0", 2},
                               .value = {(const uint8_t *)"value zero", 10}};
    f->recs[1] = (sk_record_t){.timestamp = 1700000000500, .key = {NULL, -1}, .value = {NULL, -1},
                               .header_count = 2, .headers = hdr_bytes, .headers_len = sizeof(hdr_bytes)};
    f->recs[2] = (sk_record_t){.timestamp = 1699999999000, .key = {(const uint8_t *)"", 0},
                               .value = {(const uint8_t *)"v2", 2}};
}

static uint8_t *
build(sk_codec_t codec, int16_t extra, size_t *len)
{
    fixture_t f;
    uint8_t *b = NULL;
    sk_batch_spec_t spec = {.codec = codec, .attributes_extra = extra, .producer_id = -1, .producer_epoch = -1,
                            .base_sequence = -1, .partition_leader_epoch = 5};
    fixture_init(&f);
    assert_int_equal(sk_batch_build(&spec, f.recs, 3, &b, len), SK_OK);
    return b;
}

static int
validate(const uint8_t *b, size_t len, const sk_batch_check_t *chk, int16_t *kerr)
{
    sk_batch_info_t info;
    return sk_batch_validate(b, len, chk, &info, kerr);
}

/* Collects what foreach hands out. Records borrow a buffer that lives only during
 * the call, so key, value and headers are copied into store. */
typedef struct seen {
    int n;
    sk_record_t r[8];
    uint8_t store[4096];
    size_t used;
} seen_t;

static const uint8_t *
keep(seen_t *s, const uint8_t *p, size_t n)
{
    if (!p) return NULL;
    assert_true(s->used + n <= sizeof(s->store));
    memcpy(s->store + s->used, p, n);
    s->used += n;
    return s->store + s->used - n;
}

static int
collect(void *ctx, const sk_record_t *r)
{
    seen_t *s = ctx;
    if (s->n >= 8) return SK_ELIMIT;
    sk_record_t *c = &s->r[s->n++];
    *c = *r;
    c->key.ptr = keep(s, r->key.ptr, r->key.len > 0 ? (size_t)r->key.len : 0);
    c->value.ptr = keep(s, r->value.ptr, r->value.len > 0 ? (size_t)r->value.len : 0);
    c->headers = keep(s, r->headers, r->headers_len);
    return SK_OK;
}

static void
assert_bytes(sk_bytes_t got, sk_bytes_t want)
{
    assert_int_equal(got.len, want.len);
    if (want.len > 0) assert_memory_equal(got.ptr, want.ptr, (size_t)want.len);
}

static void
test_build_validate_iterate_every_codec(void **state)
{
    for (int c = SK_CODEC_NONE; c <= SK_CODEC_ZSTD; c++) {
        size_t len;
        uint8_t *b = build((sk_codec_t)c, 0, &len);
        sk_batch_info_t info;
        int16_t kerr = -99;
        fixture_t f;
        fixture_init(&f);
        assert_int_equal(sk_batch_validate(b, len, &client_chk, &info, &kerr), SK_OK);
        assert_int_equal(kerr, SK_KERR_NONE);
        assert_int_equal(info.record_count, 3);
        assert_int_equal(info.codec, c);
        assert_true(info.max_timestamp == 1700000000500);
        assert_int_equal(info.hdr.partition_leader_epoch, 5);
        assert_int_equal(info.hdr.last_offset_delta, 2);
        assert_true(info.hdr.base_timestamp == 1700000000000);
        assert_true(info.hdr.max_timestamp == 1700000000500);
        seen_t s = {0};
        assert_int_equal(sk_batch_foreach_record(b, len, CAP, collect, &s), SK_OK);
        assert_int_equal(s.n, 3);
        for (int i = 0; i < 3; i++) {
            assert_true(s.r[i].offset == i);
            assert_true(s.r[i].timestamp == f.recs[i].timestamp);
            assert_bytes(s.r[i].key, f.recs[i].key);
            assert_bytes(s.r[i].value, f.recs[i].value);
            assert_int_equal(s.r[i].header_count, f.recs[i].header_count);
        }
        free(b);
    }
}

static void
test_record_headers(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    seen_t s = {0};
    sk_header_t h[4];
    assert_int_equal(sk_batch_foreach_record(b, len, CAP, collect, &s), SK_OK);
    assert_int_equal(sk_record_headers(&s.r[1], h, 4), 2);
    assert_int_equal(h[0].key.len, 2);
    assert_memory_equal(h[0].key.ptr, "h1", 2);
    assert_int_equal(h[0].value.len, 3);
    assert_memory_equal(h[0].value.ptr, "abc", 3);
    assert_int_equal(h[1].key.len, 1);
    assert_int_equal(h[1].value.len, -1);
    assert_int_equal(sk_record_headers(&s.r[1], h, 1), 1);
    assert_int_equal(sk_record_headers(&s.r[0], h, 4), 0);
    /* A header whose key claims more bytes than there are. */
    uint8_t bad[] = {0x08, 'h'};
    sk_record_t r = {.header_count = 1, .headers = bad, .headers_len = sizeof(bad)};
    assert_int_equal(sk_record_headers(&r, h, 4), SK_ECORRUPT);
    free(b);
}

static void
reseal(uint8_t *b, size_t len)
{
    sk_batch_crc_set(b, len);
}

static void
expect(const uint8_t *b, size_t len, const sk_batch_check_t *chk, int want_rc, int16_t want_kerr)
{
    int16_t kerr = 0;
    assert_int_equal(validate(b, len, chk, &kerr), want_rc);
    assert_int_equal(kerr, want_kerr);
}

static void
test_wrong_crc(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    b[len - 1] ^= 0x40;
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_CORRUPT_MESSAGE);
    b[len - 1] ^= 0x40;
    b[12] ^= 1; /* partition leader epoch is outside the CRC */
    expect(b, len, &client_chk, SK_OK, SK_KERR_NONE);
    free(b);
}

static void
test_count_mismatch(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    sk_put_be32(b + 57, 4); /* count 4, last offset delta 2 */
    reseal(b, len);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    sk_put_be32(b + 23, 3); /* both say 4, but only 3 records follow */
    reseal(b, len);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    sk_put_be32(b + 23, 1);
    sk_put_be32(b + 57, 2); /* both say 2, but 3 records follow */
    reseal(b, len);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    sk_put_be32(b + 23, -1);
    sk_put_be32(b + 57, 0); /* empty batch from a client */
    reseal(b, len);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    free(b);
}

static void
test_negative_record_length(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    assert_true(b[61] < 0x80); /* first record length is one varint byte */
    b[61] = 0x01;              /* zig-zag -1 */
    reseal(b, len);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    free(b);
}

static void
test_offset_deltas_must_be_positions(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    /* record 0: length, attributes, timestamp delta 0 (one byte), offset delta */
    assert_int_equal(b[64], 0x00);
    b[64] = 0x04; /* offset delta 2 */
    reseal(b, len);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    free(b);
}

static void
test_truncated_and_trailing(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    expect(b, len - 1, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    expect(b, 16, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    expect(b, 0, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    uint8_t *two = malloc(2 * len);
    memcpy(two, b, len);
    memcpy(two + len, b, len);
    expect(two, len + 1, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    expect(two, 2 * len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    /* batch_length too small to be any batch */
    sk_put_be32(two + 8, 10);
    expect(two, len, &client_chk, SK_ECORRUPT, SK_KERR_CORRUPT_MESSAGE);
    /* batch_length of a header-only size range below the magic-2 header */
    sk_put_be32(two + 8, 40);
    expect(two, 52, &client_chk, SK_ECORRUPT, SK_KERR_CORRUPT_MESSAGE);
    free(two);
    free(b);
}

static void
test_magic(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    b[16] = 1;
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    b[16] = 7;
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_CORRUPT_MESSAGE);
    free(b);
}

static void
test_codecs_refused(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    b[22] = (uint8_t)((b[22] & ~SK_ATTR_CODEC_MASK) | 7);
    reseal(b, len);
    expect(b, len, &client_chk, SK_EUNSUP, SK_KERR_UNSUPPORTED_COMPRESSION_TYPE);
    free(b);
    b = build(SK_CODEC_ZSTD, 0, &len);
    sk_batch_check_t old = client_chk;
    old.produce_version = 6;
    expect(b, len, &old, SK_EUNSUP, SK_KERR_UNSUPPORTED_COMPRESSION_TYPE);
    old.produce_version = 7;
    expect(b, len, &old, SK_OK, SK_KERR_NONE);
    free(b);
}

static void
test_control_batches(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, SK_ATTR_CONTROL | SK_ATTR_TRANSACTIONAL, &len);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    sk_batch_check_t internal = client_chk;
    internal.allow_control = true;
    expect(b, len, &internal, SK_OK, SK_KERR_NONE);
    free(b);
}

static void
test_size_limit_and_base_offset(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, 0, &len);
    sk_batch_check_t small = client_chk;
    small.max_batch_bytes = (int32_t)len - 1;
    expect(b, len, &small, SK_ELIMIT, SK_KERR_MESSAGE_TOO_LARGE);
    small.max_batch_bytes = (int32_t)len;
    expect(b, len, &small, SK_OK, SK_KERR_NONE);
    sk_put_be64(b, 42); /* clients must send base offset 0 (not covered by the CRC) */
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    free(b);
}

static void
test_producer_sequence(void **state)
{
    fixture_t f;
    uint8_t *b;
    size_t len;
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = 1000, .producer_epoch = 0, .base_sequence = -1};
    fixture_init(&f);
    assert_int_equal(sk_batch_build(&spec, f.recs, 3, &b, &len), SK_OK);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    free(b);
    spec.base_sequence = 7;
    assert_int_equal(sk_batch_build(&spec, f.recs, 3, &b, &len), SK_OK);
    sk_batch_info_t info;
    int16_t kerr;
    assert_int_equal(sk_batch_validate(b, len, &client_chk, &info, &kerr), SK_OK);
    assert_true(info.hdr.producer_id == 1000);
    assert_int_equal(info.hdr.base_sequence, 7);
    free(b);
}

static void
test_compression_bomb(void **state)
{
    size_t vlen = 4u << 20, len;
    uint8_t *zeros = calloc(1, vlen), *b;
    sk_record_t r = {.timestamp = 1, .key = {NULL, -1}, .value = {zeros, (int32_t)vlen}};
    for (int c = SK_CODEC_GZIP; c <= SK_CODEC_ZSTD; c++) {
        sk_batch_spec_t spec = {.codec = (sk_codec_t)c, .producer_id = -1, .producer_epoch = -1,
                                .base_sequence = -1};
        assert_int_equal(sk_batch_build(&spec, &r, 1, &b, &len), SK_OK);
        assert_true(len < (1u << 20));
        expect(b, len, &client_chk, SK_ELIMIT, SK_KERR_MESSAGE_TOO_LARGE);
        assert_int_equal(sk_batch_foreach_record(b, len, CAP, collect, &(seen_t){0}), SK_ELIMIT);
        free(b);
    }
    free(zeros);
}

static void
test_corrupt_compressed_payload(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_GZIP, 0, &len);
    b[len - 12] ^= 0xff; /* inside the deflate data or its CRC trailer */
    reseal(b, len);
    expect(b, len, &client_chk, SK_ECORRUPT, SK_KERR_INVALID_RECORD);
    free(b);
}

static void
test_log_append_time(void **state)
{
    size_t len;
    uint8_t *b = build(SK_CODEC_NONE, SK_ATTR_LOG_APPEND_TIME, &len);
    sk_put_be64(b + 35, 1800000000000); /* the broker's time */
    reseal(b, len);
    seen_t s = {0};
    assert_int_equal(sk_batch_foreach_record(b, len, CAP, collect, &s), SK_OK);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) assert_true(s.r[i].timestamp == 1800000000000);
    free(b);
}

/* ---- legacy message sets ---- */

typedef struct set {
    uint8_t b[4096];
    size_t len;
} set_t;

static void
put_bytes(set_t *s, const char *p, int32_t n)
{
    sk_put_be32(s->b + s->len, (uint32_t)n);
    s->len += 4;
    if (n > 0) memcpy(s->b + s->len, p, (size_t)n), s->len += (size_t)n;
}

/* Append `offset, size, crc, magic, attributes, [timestamp], key, value`. */
static void
legacy_put(set_t *s, int64_t offset, int8_t magic, int8_t attr, int64_t ts, const char *key, int32_t klen,
           const char *val, int32_t vlen)
{
    size_t start = s->len;
    sk_put_be64(s->b + s->len, (uint64_t)offset);
    s->len += 12; /* offset + size, size patched below */
    size_t crc_at = s->len;
    s->len += 4;
    s->b[s->len++] = (uint8_t)magic;
    s->b[s->len++] = (uint8_t)attr;
    if (magic == 1) sk_put_be64(s->b + s->len, (uint64_t)ts), s->len += 8;
    put_bytes(s, key, klen);
    put_bytes(s, val, vlen);
    sk_put_be32(s->b + start + 8, (uint32_t)(s->len - crc_at));
    sk_put_be32(s->b + crc_at, (uint32_t)crc32(0L, s->b + crc_at + 4, (uInt)(s->len - crc_at - 4)));
}

static void
legacy_convert_ok(const set_t *s, seen_t *seen, sk_codec_t want_codec)
{
    uint8_t *b;
    size_t len;
    int16_t kerr = -99;
    sk_batch_info_t info;
    assert_int_equal(sk_legacy_to_batch(s->b, s->len, CAP, &b, &len, &kerr), SK_OK);
    assert_int_equal(kerr, SK_KERR_NONE);
    assert_int_equal(sk_batch_validate(b, len, &client_chk, &info, &kerr), SK_OK);
    assert_int_equal(info.codec, want_codec);
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(sk_batch_foreach_record(b, len, CAP, collect, seen), SK_OK);
    assert_int_equal(seen->n, info.record_count);
    free(b);
}

static void
test_legacy_v0_plain(void **state)
{
    set_t s = {.len = 0};
    seen_t seen;
    legacy_put(&s, 0, 0, 0, 0, "a", 1, "one", 3);
    legacy_put(&s, 1, 0, 0, 0, NULL, -1, "two", 3);
    legacy_put(&s, 2, 0, 0, 0, "c", 1, NULL, -1);
    legacy_convert_ok(&s, &seen, SK_CODEC_NONE);
    assert_int_equal(seen.n, 3);
    assert_true(seen.r[0].timestamp == -1);
    assert_int_equal(seen.r[1].key.len, -1);
    assert_int_equal(seen.r[1].value.len, 3);
    assert_memory_equal(seen.r[1].value.ptr, "two", 3);
    assert_int_equal(seen.r[2].value.len, -1);
    assert_true(seen.r[2].offset == 2);
}

static void
test_legacy_v1_plain_and_bad(void **state)
{
    set_t s = {.len = 0};
    seen_t seen;
    uint8_t *b = NULL;
    size_t len;
    int16_t kerr;
    legacy_put(&s, 0, 1, 0, 1600000000000, "k", 1, "v", 1);
    legacy_put(&s, 1, 1, 0, 1600000000123, "k2", 2, "v2", 2);
    legacy_convert_ok(&s, &seen, SK_CODEC_NONE);
    assert_int_equal(seen.n, 2);
    assert_true(seen.r[1].timestamp == 1600000000123);
    assert_memory_equal(seen.r[1].key.ptr, "k2", 2);
    /* CRC damage */
    s.b[s.len - 1] ^= 1;
    assert_int_equal(sk_legacy_to_batch(s.b, s.len, CAP, &b, &len, &kerr), SK_ECORRUPT);
    assert_int_equal(kerr, SK_KERR_CORRUPT_MESSAGE);
    s.b[s.len - 1] ^= 1;
    /* truncated entry */
    assert_int_equal(sk_legacy_to_batch(s.b, s.len - 3, CAP, &b, &len, &kerr), SK_ECORRUPT);
    assert_int_equal(kerr, SK_KERR_CORRUPT_MESSAGE);
    /* empty set */
    assert_int_equal(sk_legacy_to_batch(s.b, 0, CAP, &b, &len, &kerr), SK_ECORRUPT);
    assert_int_equal(kerr, SK_KERR_INVALID_RECORD);
    assert_null(b);
}

/* A wrapper holding `inner` compressed with codec; magic 1 inner offsets are relative. */
static void
wrap(set_t *out, const set_t *inner, int8_t magic, sk_codec_t codec, int8_t extra_attr, int64_t ts,
     bool broken_lz4_hc)
{
    uint8_t *c;
    size_t clen;
    assert_int_equal(sk_compress(codec, inner->b, inner->len, &c, &clen), SK_OK);
    if (broken_lz4_hc) c[6] = (uint8_t)(sk_xxh32(c, 6, 0) >> 8);
    legacy_put(out, magic == 1 ? 2 : 0, magic, (int8_t)(codec | extra_attr), ts, NULL, -1, (const char *)c,
               (int32_t)clen);
    free(c);
}

static void
test_legacy_compressed_wrappers(void **state)
{
    set_t inner = {.len = 0}, s = {.len = 0};
    seen_t seen;
    legacy_put(&inner, 0, 1, 0, 1000, "x", 1, "first", 5);
    legacy_put(&inner, 1, 1, 0, 2000, "y", 1, "second", 6);
    legacy_put(&inner, 2, 1, 0, 3000, NULL, -1, "third", 5);
    for (int c = SK_CODEC_GZIP; c <= SK_CODEC_LZ4; c++) {
        s.len = 0;
        wrap(&s, &inner, 1, (sk_codec_t)c, 0, 3000, false);
        legacy_put(&s, 3, 1, 0, 4000, "z", 1, "plain", 5); /* a plain message after it */
        legacy_convert_ok(&s, &seen, (sk_codec_t)c);
        assert_int_equal(seen.n, 4);
        assert_memory_equal(seen.r[1].value.ptr, "second", 6);
        assert_true(seen.r[1].timestamp == 2000);
        assert_int_equal(seen.r[2].key.len, -1);
        assert_memory_equal(seen.r[3].value.ptr, "plain", 5);
        assert_true(seen.r[3].offset == 3);
    }
    /* LogAppendTime wrapper: inner messages take the wrapper's timestamp. */
    s.len = 0;
    wrap(&s, &inner, 1, SK_CODEC_GZIP, 0x08, 9999, false);
    legacy_convert_ok(&s, &seen, SK_CODEC_GZIP);
    for (int i = 0; i < 3; i++) assert_true(seen.r[i].timestamp == 9999);
}

static void
test_legacy_v0_lz4_broken_checksum(void **state)
{
    set_t inner = {.len = 0}, s = {.len = 0};
    seen_t seen;
    uint8_t *b;
    size_t len;
    int16_t kerr;
    legacy_put(&inner, 0, 0, 0, 0, "a", 1, "alpha", 5);
    legacy_put(&inner, 1, 0, 0, 0, "b", 1, "beta", 4);
    wrap(&s, &inner, 0, SK_CODEC_LZ4, 0, 0, true);
    legacy_convert_ok(&s, &seen, SK_CODEC_LZ4);
    assert_int_equal(seen.n, 2);
    assert_memory_equal(seen.r[1].value.ptr, "beta", 4);
    /* Magic 1 must carry the correct checksum. */
    set_t inner1 = {.len = 0}, s1 = {.len = 0};
    legacy_put(&inner1, 0, 1, 0, 5, "a", 1, "alpha", 5);
    wrap(&s1, &inner1, 1, SK_CODEC_LZ4, 0, 5, true);
    assert_int_equal(sk_legacy_to_batch(s1.b, s1.len, CAP, &b, &len, &kerr), SK_ECORRUPT);
    assert_int_equal(kerr, SK_KERR_CORRUPT_MESSAGE);
}

static void
test_legacy_refusals(void **state)
{
    set_t inner = {.len = 0}, mid = {.len = 0}, s = {.len = 0};
    uint8_t *b;
    size_t len;
    int16_t kerr;
    legacy_put(&inner, 0, 1, 0, 1, "a", 1, "b", 1);
    wrap(&mid, &inner, 1, SK_CODEC_GZIP, 0, 1, false);
    wrap(&s, &mid, 1, SK_CODEC_SNAPPY, 0, 1, false); /* compression inside compression */
    assert_int_equal(sk_legacy_to_batch(s.b, s.len, CAP, &b, &len, &kerr), SK_ECORRUPT);
    assert_int_equal(kerr, SK_KERR_INVALID_RECORD);
    s.len = 0;
    legacy_put(&s, 0, 1, 4, 1, NULL, -1, "zz", 2); /* zstd is magic 2 only */
    assert_int_equal(sk_legacy_to_batch(s.b, s.len, CAP, &b, &len, &kerr), SK_EUNSUP);
    assert_int_equal(kerr, SK_KERR_UNSUPPORTED_COMPRESSION_TYPE);
    s.len = 0;
    wrap(&s, &inner, 1, SK_CODEC_GZIP, 0, 1, false);
    assert_int_equal(sk_legacy_to_batch(s.b, s.len, inner.len - 1, &b, &len, &kerr), SK_ELIMIT);
    assert_int_equal(kerr, SK_KERR_MESSAGE_TOO_LARGE);
}

static void
test_kerr_names(void **state)
{
    assert_string_equal(sk_kerr_name(SK_KERR_UNKNOWN_TOPIC_OR_PARTITION), "UNKNOWN_TOPIC_OR_PARTITION");
    assert_string_equal(sk_kerr_name(-1), "UNKNOWN_SERVER_ERROR");
    assert_string_equal(sk_kerr_name(0), "NONE");
    assert_string_equal(sk_kerr_name(SK_KERR_INVALID_RECORD), "INVALID_RECORD");
    assert_string_equal(sk_kerr_name(129), "REBOOTSTRAP_REQUIRED");
    assert_string_equal(sk_kerr_name(62), "UNKNOWN"); /* a gap in the table */
    assert_string_equal(sk_kerr_name(-2), "UNKNOWN");
    assert_string_equal(sk_kerr_name(30000), "UNKNOWN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_validate_iterate_every_codec),
        cmocka_unit_test(test_record_headers),
        cmocka_unit_test(test_wrong_crc),
        cmocka_unit_test(test_count_mismatch),
        cmocka_unit_test(test_negative_record_length),
        cmocka_unit_test(test_offset_deltas_must_be_positions),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_magic),
        cmocka_unit_test(test_codecs_refused),
        cmocka_unit_test(test_control_batches),
        cmocka_unit_test(test_size_limit_and_base_offset),
        cmocka_unit_test(test_producer_sequence),
        cmocka_unit_test(test_compression_bomb),
        cmocka_unit_test(test_corrupt_compressed_payload),
        cmocka_unit_test(test_log_append_time),
        cmocka_unit_test(test_legacy_v0_plain),
        cmocka_unit_test(test_legacy_v1_plain_and_bad),
        cmocka_unit_test(test_legacy_compressed_wrappers),
        cmocka_unit_test(test_legacy_v0_lz4_broken_checksum),
        cmocka_unit_test(test_legacy_refusals),
        cmocka_unit_test(test_kerr_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
