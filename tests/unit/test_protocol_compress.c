/* tests/unit/test_protocol_compress.c: the compression codecs of protocol/compress.c.
 * Checks round trips through every codec at several sizes and data shapes, the exact
 * output cap, a compression bomb per codec (including zstd frames without a declared
 * size and with a huge declared window), truncated and garbage input, both snappy
 * framings (raw and xerial), streams written by the system's gzip/lz4/zstd tools when
 * they are installed, xxHash32, and the lz4 header-checksum quirk of magic-0 messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <snappy-c.h>
#include <unistd.h>
#include <zstd.h>

#include "protocol/protocol_int.h"

static const sk_codec_t all_codecs[] = {SK_CODEC_NONE, SK_CODEC_GZIP, SK_CODEC_SNAPPY, SK_CODEC_LZ4,
                                        SK_CODEC_ZSTD};
static const sk_codec_t real_codecs[] = {SK_CODEC_GZIP, SK_CODEC_SNAPPY, SK_CODEC_LZ4, SK_CODEC_ZSTD};

/* Deterministic data: mostly text-like (compressible) or pseudo-random. */
static uint8_t *
make_data(size_t n, bool random_bytes, uint32_t seed)
{
    uint8_t *d = malloc(n ? n : 1);
    assert_non_null(d);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        if (random_bytes || (x >> 26) == 0)
            d[i] = (uint8_t)(x >> 16);
        else
            d[i] = (uint8_t)"skiff broker record "[i % 20];
    }
    return d;
}

static void
roundtrip(sk_codec_t codec, const uint8_t *data, size_t n)
{
    uint8_t *c = NULL, *d = NULL;
    size_t clen = 0, dlen = 0;
    assert_int_equal(sk_compress(codec, data, n, &c, &clen), SK_OK);
    assert_int_equal(sk_decompress(codec, c, clen, n, &d, &dlen), SK_OK);
    assert_int_equal(dlen, n);
    if (n) assert_memory_equal(d, data, n);
    free(d);
    if (n > 0) {
        /* One byte below the real size must be refused, not truncated. */
        assert_int_equal(sk_decompress(codec, c, clen, n - 1, &d, &dlen), SK_ELIMIT);
        assert_null(d);
    }
    free(c);
}

static void
test_roundtrip_all_codecs(void **state)
{
    static const size_t sizes[] = {0, 1, 100, 4095, 4096, 70000, 300001};
    for (size_t ci = 0; ci < SK_ARRAY_LEN(all_codecs); ci++) {
        for (size_t si = 0; si < SK_ARRAY_LEN(sizes); si++) {
            for (int rnd = 0; rnd < 2; rnd++) {
                uint8_t *data = make_data(sizes[si], rnd, (uint32_t)(si + 7 * ci));
                roundtrip(all_codecs[ci], data, sizes[si]);
                free(data);
            }
        }
    }
}

static void
test_compressible_data_shrinks(void **state)
{
    uint8_t *data = make_data(100000, false, 3);
    for (size_t ci = 0; ci < SK_ARRAY_LEN(real_codecs); ci++) {
        uint8_t *c;
        size_t clen;
        assert_int_equal(sk_compress(real_codecs[ci], data, 100000, &c, &clen), SK_OK);
        assert_true(clen < 50000);
        free(c);
    }
    free(data);
}

/* 16 MiB of zeros squeezed by each codec, decompressed with a 1 MiB cap. */
static void
test_bomb_per_codec(void **state)
{
    size_t n = 16u << 20;
    uint8_t *zeros = calloc(1, n);
    assert_non_null(zeros);
    for (size_t ci = 0; ci < SK_ARRAY_LEN(real_codecs); ci++) {
        uint8_t *c = NULL, *d = NULL;
        size_t clen, dlen;
        assert_int_equal(sk_compress(real_codecs[ci], zeros, n, &c, &clen), SK_OK);
        assert_true(clen < n / 16);
        assert_int_equal(sk_decompress(real_codecs[ci], c, clen, 1u << 20, &d, &dlen), SK_ELIMIT);
        assert_null(d);
        free(c);
    }
    free(zeros);
}

/* zstd written by a streaming encoder carries no content size: the cap must still hold. */
static void
test_zstd_stream_bomb_without_size(void **state)
{
    size_t n = 8u << 20, bound = ZSTD_compressBound(n);
    uint8_t *zeros = calloc(1, n), *c = malloc(bound), *d = NULL;
    size_t dlen;
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(zeros);
    assert_non_null(c);
    ZSTD_inBuffer in = {zeros, n, 0};
    ZSTD_outBuffer out = {c, bound, 0};
    assert_int_equal(ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue), 0);
    assert_int_equal(ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end), 0);
    assert_true(ZSTD_getFrameContentSize(c, out.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
    assert_int_equal(sk_decompress(SK_CODEC_ZSTD, c, out.pos, 1u << 20, &d, &dlen), SK_ELIMIT);
    assert_int_equal(sk_decompress(SK_CODEC_ZSTD, c, out.pos, n, &d, &dlen), SK_OK);
    assert_int_equal(dlen, n);
    assert_memory_equal(d, zeros, n);
    free(d);
    ZSTD_freeCCtx(cc);
    free(c);
    free(zeros);
}

/* A frame that declares a 2 GiB window for one byte of data must not allocate it. */
static void
test_zstd_huge_window_refused(void **state)
{
    const uint8_t frame[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, (uint8_t)((31 - 10) << 3), 0x09, 0x00, 0x00, 'x'};
    uint8_t *d = NULL;
    size_t dlen;
    assert_int_equal(sk_decompress(SK_CODEC_ZSTD, frame, sizeof(frame), 1u << 20, &d, &dlen), SK_ELIMIT);
    assert_null(d);
    /* The same frame with a 1 KiB window decodes to its byte. */
    uint8_t small[sizeof(frame)];
    memcpy(small, frame, sizeof(frame));
    small[5] = 0;
    assert_int_equal(sk_decompress(SK_CODEC_ZSTD, small, sizeof(small), 1u << 20, &d, &dlen), SK_OK);
    assert_int_equal(dlen, 1);
    assert_int_equal(d[0], 'x');
    free(d);
}

static void
test_truncated_and_garbage(void **state)
{
    uint8_t *data = make_data(200000, true, 9);
    uint8_t garbage[64];
    for (size_t i = 0; i < sizeof(garbage); i++) garbage[i] = (uint8_t)(i * 37 + 11);
    for (size_t ci = 0; ci < SK_ARRAY_LEN(real_codecs); ci++) {
        uint8_t *c, *d = NULL;
        size_t clen, dlen;
        assert_int_equal(sk_compress(real_codecs[ci], data, 200000, &c, &clen), SK_OK);
        int rc = sk_decompress(real_codecs[ci], c, clen / 2, 1u << 24, &d, &dlen);
        assert_int_equal(rc, SK_ECORRUPT);
        assert_null(d);
        rc = sk_decompress(real_codecs[ci], garbage, sizeof(garbage), 1u << 24, &d, &dlen);
        assert_int_equal(rc, SK_ECORRUPT);
        rc = sk_decompress(real_codecs[ci], garbage, 0, 1u << 24, &d, &dlen);
        assert_int_equal(rc, SK_ECORRUPT);
        free(c);
    }
    free(data);
}

static void
test_unknown_codec(void **state)
{
    uint8_t b[4] = {1, 2, 3, 4}, *o;
    size_t ol;
    assert_int_equal(sk_decompress((sk_codec_t)7, b, 4, 100, &o, &ol), SK_EUNSUP);
    assert_int_equal(sk_compress((sk_codec_t)5, b, 4, &o, &ol), SK_EUNSUP);
    assert_string_equal(sk_codec_name(SK_CODEC_LZ4), "lz4");
    assert_string_equal(sk_codec_name((sk_codec_t)6), "unknown");
}

/* xerial framing: magic, two versions, then (int32 length, raw block) chunks. */
static uint8_t *
xerial_build(const uint8_t *data, size_t n, size_t chunk, size_t *out_len)
{
    size_t cap = 16 + (n / chunk + 2) * (4 + snappy_max_compressed_length(chunk));
    uint8_t *x = malloc(cap);
    assert_non_null(x);
    const uint8_t hdr[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(x, hdr, 16);
    size_t pos = 16;
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = SK_MIN(chunk, n - off), clen = cap - pos - 4;
        assert_int_equal(snappy_compress((const char *)data + off, len, (char *)x + pos + 4, &clen), SNAPPY_OK);
        sk_put_be32(x + pos, (uint32_t)clen);
        pos += 4 + clen;
    }
    *out_len = pos;
    return x;
}

static void
test_snappy_xerial_and_raw(void **state)
{
    size_t n = 100000, xlen, dlen;
    uint8_t *data = make_data(n, false, 5), *d;
    uint8_t *x = xerial_build(data, n, 32 * 1024, &xlen);
    assert_int_equal(sk_decompress(SK_CODEC_SNAPPY, x, xlen, n, &d, &dlen), SK_OK);
    assert_int_equal(dlen, n);
    assert_memory_equal(d, data, n);
    free(d);
    assert_int_equal(sk_decompress(SK_CODEC_SNAPPY, x, xlen, n - 1, &d, &dlen), SK_ELIMIT);
    /* A chunk length pointing past the end is corrupt. */
    sk_put_be32(x + 16, (uint32_t)xlen);
    assert_int_equal(sk_decompress(SK_CODEC_SNAPPY, x, xlen, n, &d, &dlen), SK_ECORRUPT);
    /* Truncated in the middle of a chunk. */
    free(x);
    x = xerial_build(data, n, 32 * 1024, &xlen);
    assert_int_equal(sk_decompress(SK_CODEC_SNAPPY, x, xlen - 3, n, &d, &dlen), SK_ECORRUPT);
    free(x);
    /* Raw block (what sk_compress writes) decodes too. */
    roundtrip(SK_CODEC_SNAPPY, data, n);
    free(data);
}

/* Run a system tool as `tool -c` on data; returns its output or NULL if unavailable. */
static uint8_t *
tool_compress(const char *tool, const uint8_t *data, size_t n, size_t *out_len)
{
    char in_path[] = "/tmp/skiff-codec-XXXXXX";
    char cmd[256], path[128];
    int fd = mkstemp(in_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    snprintf(path, sizeof(path), "/usr/bin/%s", tool);
    uint8_t *out = NULL;
    if (access(path, X_OK) == 0) {
        /* stdin, so the tool does not know the size in advance (streaming frames) */
        snprintf(cmd, sizeof(cmd), "%s -c < %s 2>/dev/null", tool, in_path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t cap = n + 65536, len = 0;
        out = malloc(cap);
        assert_non_null(out);
        size_t got;
        while ((got = fread(out + len, 1, cap - len, p)) > 0) len += got;
        assert_int_equal(pclose(p), 0);
        *out_len = len;
    }
    unlink(in_path);
    return out;
}

static void
test_system_tools(void **state)
{
    static const struct {
        const char *tool;
        sk_codec_t codec;
    } tools[] = {{"gzip", SK_CODEC_GZIP}, {"lz4", SK_CODEC_LZ4}, {"zstd", SK_CODEC_ZSTD}};
    size_t n = 500000;
    uint8_t *data = make_data(n, false, 11);
    int ran = 0;
    for (size_t i = 0; i < SK_ARRAY_LEN(tools); i++) {
        size_t clen, dlen;
        uint8_t *c = tool_compress(tools[i].tool, data, n, &clen), *d;
        if (!c) continue;
        ran++;
        assert_int_equal(sk_decompress(tools[i].codec, c, clen, n, &d, &dlen), SK_OK);
        assert_int_equal(dlen, n);
        assert_memory_equal(d, data, n);
        free(d);
        assert_int_equal(sk_decompress(tools[i].codec, c, clen, n / 2, &d, &dlen), SK_ELIMIT);
        free(c);
    }
    free(data);
    if (ran == 0) skip();
}

static void
test_gzip_concatenated_members(void **state)
{
    uint8_t *a, *b, *d;
    size_t al, bl, dl;
    assert_int_equal(sk_compress(SK_CODEC_GZIP, (const uint8_t *)"hello ", 6, &a, &al), SK_OK);
    assert_int_equal(sk_compress(SK_CODEC_GZIP, (const uint8_t *)"world", 5, &b, &bl), SK_OK);
    uint8_t *both = malloc(al + bl);
    memcpy(both, a, al);
    memcpy(both + al, b, bl);
    assert_int_equal(sk_decompress(SK_CODEC_GZIP, both, al + bl, 100, &d, &dl), SK_OK);
    assert_int_equal(dl, 11);
    assert_memory_equal(d, "hello world", 11);
    free(d);
    free(both);
    free(a);
    free(b);
}

static void
test_xxh32(void **state)
{
    /* Published test vector for the empty input with seed 0. */
    assert_int_equal(sk_xxh32("", 0, 0), 0x02CC5D05u);
    /* liblz4 writes HC = second byte of xxh32(FLG, BD): ours must agree, for short and
     * (via a content-size frame descriptor) longer descriptors. */
    uint8_t *c;
    size_t cl;
    assert_int_equal(sk_compress(SK_CODEC_LZ4, (const uint8_t *)"abc", 3, &c, &cl), SK_OK);
    assert_int_equal(c[6], (uint8_t)(sk_xxh32(c + 4, 2, 0) >> 8));
    free(c);
    uint8_t *data = make_data(64, true, 1);
    assert_int_not_equal(sk_xxh32(data, 64, 0), sk_xxh32(data, 64, 1));
    assert_int_not_equal(sk_xxh32(data, 17, 0), sk_xxh32(data, 18, 0));
    free(data);
}

/* Kafka wrote magic-0 lz4 frames with HC computed over magic+FLG+BD (KAFKA-3160). */
static void
test_lz4_broken_header_checksum(void **state)
{
    size_t n = 10000, cl, dl;
    uint8_t *data = make_data(n, false, 2), *c, *d;
    assert_int_equal(sk_compress(SK_CODEC_LZ4, data, n, &c, &cl), SK_OK);
    c[6] = (uint8_t)(sk_xxh32(c, 6, 0) >> 8);
    assert_int_equal(sk_decompress(SK_CODEC_LZ4, c, cl, n, &d, &dl), SK_ECORRUPT);
    assert_int_equal(sk_decompress_lz4_legacy(c, cl, n, &d, &dl), SK_OK);
    assert_int_equal(dl, n);
    assert_memory_equal(d, data, n);
    free(d);
    assert_int_equal(sk_decompress_lz4_legacy(c, cl, n - 1, &d, &dl), SK_ELIMIT);
    assert_int_equal(sk_decompress_lz4_legacy(c, 5, n, &d, &dl), SK_ECORRUPT);
    free(c);
    free(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_codecs),
        cmocka_unit_test(test_compressible_data_shrinks),
        cmocka_unit_test(test_bomb_per_codec),
        cmocka_unit_test(test_zstd_stream_bomb_without_size),
        cmocka_unit_test(test_zstd_huge_window_refused),
        cmocka_unit_test(test_truncated_and_garbage),
        cmocka_unit_test(test_unknown_codec),
        cmocka_unit_test(test_snappy_xerial_and_raw),
        cmocka_unit_test(test_system_tools),
        cmocka_unit_test(test_gzip_concatenated_members),
        cmocka_unit_test(test_xxh32),
        cmocka_unit_test(test_lz4_broken_header_checksum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
