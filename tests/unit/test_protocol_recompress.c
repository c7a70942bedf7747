/* tests/unit/test_protocol_recompress.c: sk_batch_recompress, used when a topic's
 * compression.type differs from the producer's codec. Every codec to every codec: the
 * result validates, carries the target codec, keeps every header field but length,
 * codec bits and CRC, and holds the same records; a round trip back to the original
 * codec gives the original bytes; malformed input is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/protocol.h"

#define N 50
#define DECOMP_MAX (64u << 20)

static const sk_codec_t codecs[] = {SK_CODEC_NONE, SK_CODEC_GZIP, SK_CODEC_SNAPPY, SK_CODEC_LZ4, SK_CODEC_ZSTD};

typedef struct seen {
    int32_t n;
    char values[N][32];
    int64_t ts[N];
} seen_t;

static int
collect_cb(void *ctx, const sk_record_t *r)
{
    seen_t *s = ctx;
    if (s->n >= N) return SK_ELIMIT;
    snprintf(s->values[s->n], sizeof(s->values[0]), "%.*s", (int)r->value.len, (const char *)r->value.ptr);
    s->ts[s->n++] = r->timestamp;
    return SK_OK;
}

/* A transactional batch of an idempotent producer, N records with keys and values. */
static void
build(sk_codec_t codec, uint8_t **b, size_t *len)
{
    sk_record_t recs[N];
    char keys[N][16], vals[N][32];
    sk_batch_spec_t spec = {.codec = codec, .attributes_extra = SK_ATTR_TRANSACTIONAL, .producer_id = 4242,
                            .producer_epoch = 3, .base_sequence = 77, .partition_leader_epoch = -1};
    memset(recs, 0, sizeof(recs));
    for (int i = 0; i < N; i++) {
        int kl = snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        int vl = snprintf(vals[i], sizeof(vals[i]), "value number %d of the batch", i);
        recs[i].timestamp = 1700000000000 + i * 7;
        recs[i].key = (sk_bytes_t){(const uint8_t *)keys[i], kl};
        recs[i].value = (sk_bytes_t){(const uint8_t *)vals[i], vl};
    }
    assert_int_equal(sk_batch_build(&spec, recs, N, b, len), SK_OK);
}

static void
check_batch(const uint8_t *b, size_t len, sk_codec_t want, const sk_batch_hdr_t *orig)
{
    sk_batch_check_t chk = {.max_batch_bytes = 1 << 24, .max_decompressed_bytes = DECOMP_MAX, .produce_version = 12};
    sk_batch_info_t info;
    int16_t kerr = 0;
    seen_t s = {0};
    assert_int_equal(sk_batch_validate(b, len, &chk, &info, &kerr), SK_OK);
    assert_int_equal(info.codec, want);
    assert_int_equal(info.record_count, N);
    const sk_batch_hdr_t *h = &info.hdr;
    assert_int_equal(h->producer_id, orig->producer_id);
    assert_int_equal(h->producer_epoch, orig->producer_epoch);
    assert_int_equal(h->base_sequence, orig->base_sequence);
    assert_int_equal(h->last_offset_delta, orig->last_offset_delta);
    assert_int_equal(h->base_timestamp, orig->base_timestamp);
    assert_int_equal(h->max_timestamp, orig->max_timestamp);
    assert_int_equal(h->attributes & ~SK_ATTR_CODEC_MASK, orig->attributes & ~SK_ATTR_CODEC_MASK);
    assert_int_equal(sk_batch_foreach_record(b, len, DECOMP_MAX, collect_cb, &s), SK_OK);
    assert_int_equal(s.n, N);
    for (int i = 0; i < N; i++) {
        char want_v[32];
        snprintf(want_v, sizeof(want_v), "value number %d of the batch", i);
        assert_string_equal(s.values[i], want_v);
        assert_int_equal(s.ts[i], 1700000000000 + i * 7);
    }
}

static void
test_every_codec_to_every_codec(void **state)
{
    (void)state;
    for (size_t f = 0; f < SK_ARRAY_LEN(codecs); f++) {
        uint8_t *src = NULL;
        size_t src_len;
        sk_batch_hdr_t orig;
        build(codecs[f], &src, &src_len);
        assert_int_equal(sk_batch_hdr_parse(src, src_len, &orig), SK_OK);
        for (size_t t = 0; t < SK_ARRAY_LEN(codecs); t++) {
            uint8_t *out = NULL, *back = NULL;
            size_t out_len, back_len;
            assert_int_equal(sk_batch_recompress(src, src_len, codecs[t], DECOMP_MAX, &out, &out_len), SK_OK);
            check_batch(out, out_len, codecs[t], &orig);
            /* and back: the original bytes (codecs here are deterministic) */
            assert_int_equal(sk_batch_recompress(out, out_len, codecs[f], DECOMP_MAX, &back, &back_len), SK_OK);
            assert_int_equal(back_len, src_len);
            assert_memory_equal(back, src, src_len);
            free(back);
            free(out);
        }
        free(src);
    }
}

static void
test_malformed_refused(void **state)
{
    uint8_t *src = NULL, *out = (uint8_t *)1;
    size_t len, out_len;
    (void)state;
    build(SK_CODEC_LZ4, &src, &len);
    assert_int_equal(sk_batch_recompress(src, 30, SK_CODEC_NONE, DECOMP_MAX, &out, &out_len), SK_ECORRUPT);
    assert_null(out);
    assert_int_equal(sk_batch_recompress(src, len - 1, SK_CODEC_NONE, DECOMP_MAX, &out, &out_len), SK_ECORRUPT);
    /* a decompression cap below the records' size */
    assert_int_not_equal(sk_batch_recompress(src, len, SK_CODEC_NONE, 16, &out, &out_len), SK_OK);
    assert_null(out);
    free(src);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_codec_to_every_codec),
        cmocka_unit_test(test_malformed_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
