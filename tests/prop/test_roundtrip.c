/* tests/prop/test_roundtrip.c: property test of the generated message codecs. For every
 * API in sk_api_descs, every version our codec handles, request and response: fill the
 * struct with seeded random values valid for that version (msgs_test.c), encode, decode,
 * and check that decode consumed exactly the encoded bytes, that every field (including
 * those absent in the version, which must come back as defaults) is equal, and that
 * re-encoding gives the same bytes. Every proper prefix of an encoding must decode to
 * SK_ECORRUPT. The seed is printed; SK_SEED=<n> replays a run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "protocol/protocol.h"

#define ITERATIONS 64      /* random messages per API, version and direction */
#define PREFIX_ITERATIONS 8 /* of which this many also get every prefix decoded */

static uint64_t g_seed;

typedef int (*decode_fn)(sk_rd_t *, int16_t, sk_arena_t *, void *);
typedef int (*encode_fn)(sk_wr_t *, int16_t, const void *);
typedef void (*init_fn)(void *);
typedef void (*fill_fn)(void *, int16_t, sk_arena_t *, uint64_t *);
typedef bool (*equal_fn)(const void *, const void *);

typedef struct codec {
    const char *what; /* "Produce request" */
    size_t size;
    init_fn init;
    fill_fn fill;
    equal_fn equal;
    decode_fn decode;
    encode_fn encode;
} codec_t;

static uint8_t *
encode_flat(const codec_t *c, int16_t version, const void *m, size_t *len)
{
    sk_wr_t wr;
    uint8_t *out = NULL;
    sk_wr_init(&wr, 0);
    int rc = c->encode(&wr, version, m);
    if (rc != SK_OK) {
        fail_msg("%s v%d: encode failed: %s (seed %llu)", c->what, version, sk_strerror(rc),
                 (unsigned long long)g_seed);
    }
    assert_int_equal(sk_wr_flatten(&wr, &out, len), SK_OK);
    sk_wr_deinit(&wr);
    return out;
}

static void
check_prefixes(const codec_t *c, int16_t version, const uint8_t *buf, size_t len, void *scratch)
{
    sk_arena_t arena;
    sk_arena_init(&arena, 0);
    for (size_t n = 0; n < len; n++) {
        sk_rd_t rd;
        sk_rd_init(&rd, buf, n);
        int rc = c->decode(&rd, version, &arena, scratch);
        if (rc != SK_ECORRUPT) {
            fail_msg("%s v%d: prefix %zu of %zu decoded with rc %d (seed %llu)", c->what, version, n, len, rc,
                     (unsigned long long)g_seed);
        }
        sk_arena_reset(&arena);
    }
    sk_arena_deinit(&arena);
}

static void
roundtrip_one(const codec_t *c, int16_t version, uint64_t *rng, bool prefixes)
{
    sk_arena_t fill_arena, dec_arena;
    void *a = calloc(1, c->size);
    void *b = calloc(1, c->size);
    size_t len = 0, len2 = 0;

    assert_non_null(a);
    assert_non_null(b);
    sk_arena_init(&fill_arena, 0);
    sk_arena_init(&dec_arena, 0);
    c->fill(a, version, &fill_arena, rng);
    uint8_t *buf = encode_flat(c, version, a, &len);

    sk_rd_t rd;
    sk_rd_init(&rd, buf, len);
    int rc = c->decode(&rd, version, &dec_arena, b);
    if (rc != SK_OK) {
        fail_msg("%s v%d: decode failed: %s (seed %llu)", c->what, version, sk_strerror(rc),
                 (unsigned long long)g_seed);
    }
    if (rd.pos != len) {
        fail_msg("%s v%d: decode used %zu of %zu bytes (seed %llu)", c->what, version, rd.pos, len,
                 (unsigned long long)g_seed);
    }
    if (!c->equal(a, b)) {
        fail_msg("%s v%d: decoded message differs (seed %llu)", c->what, version, (unsigned long long)g_seed);
    }
    uint8_t *buf2 = encode_flat(c, version, b, &len2);
    if (len2 != len || memcmp(buf, buf2, len) != 0) {
        fail_msg("%s v%d: re-encoding differs (seed %llu)", c->what, version, (unsigned long long)g_seed);
    }
    if (prefixes) check_prefixes(c, version, buf, len, b);

    free(buf);
    free(buf2);
    sk_arena_deinit(&dec_arena);
    sk_arena_deinit(&fill_arena);
    free(a);
    free(b);
}

static void
roundtrip_codec(const codec_t *c, int16_t min_version, int16_t max_version, uint64_t *rng)
{
    for (int16_t v = min_version; v <= max_version; v++) {
        for (int i = 0; i < ITERATIONS; i++) roundtrip_one(c, v, rng, i < PREFIX_ITERATIONS);
    }
}

static void
test_every_api_version(void **state)
{
    (void)state;
    uint64_t rng = g_seed;
    char what[96];

    assert_true(sk_api_desc_count > 0);
    for (size_t i = 0; i < sk_api_desc_count; i++) {
        const sk_api_desc_t *d = &sk_api_descs[i];
        const sk_api_test_desc_t *t = &sk_api_test_descs[i];
        assert_int_equal(t->key, d->key);
        assert_ptr_equal(sk_api_desc(d->key), d);
        snprintf(what, sizeof(what), "%s request", d->name);
        codec_t req = {what, d->request_size, d->init_request, t->fill_request, t->equal_request,
                       d->decode_request, d->encode_request};
        roundtrip_codec(&req, d->min_version, d->max_version, &rng);
        snprintf(what, sizeof(what), "%s response", d->name);
        codec_t rsp = {what, d->response_size, d->init_response, t->fill_response, t->equal_response,
                       d->decode_response, d->encode_response};
        roundtrip_codec(&rsp, d->min_version, d->max_version, &rng);
    }
}

static void rh_fill(void *m, int16_t v, sk_arena_t *a, uint64_t *r) { sk_RequestHeader_fill_random(m, v, a, r); }
static bool rh_equal(const void *a, const void *b) { return sk_RequestHeader_equal(a, b); }
static int rh_decode(sk_rd_t *rd, int16_t v, sk_arena_t *a, void *m) { return sk_RequestHeader_decode(rd, v, a, m); }
static int rh_encode(sk_wr_t *w, int16_t v, const void *m) { return sk_RequestHeader_encode(w, v, m); }
static void sh_fill(void *m, int16_t v, sk_arena_t *a, uint64_t *r) { sk_ResponseHeader_fill_random(m, v, a, r); }
static bool sh_equal(const void *a, const void *b) { return sk_ResponseHeader_equal(a, b); }
static int sh_decode(sk_rd_t *rd, int16_t v, sk_arena_t *a, void *m) { return sk_ResponseHeader_decode(rd, v, a, m); }
static int sh_encode(sk_wr_t *w, int16_t v, const void *m) { return sk_ResponseHeader_encode(w, v, m); }

static void
test_headers(void **state)
{
    (void)state;
    uint64_t rng = g_seed ^ 0x5bd1e995;
    codec_t rh = {"RequestHeader", sizeof(sk_RequestHeader_t), NULL, rh_fill, rh_equal, rh_decode, rh_encode};
    codec_t sh = {"ResponseHeader", sizeof(sk_ResponseHeader_t), NULL, sh_fill, sh_equal, sh_decode, sh_encode};
    roundtrip_codec(&rh, 0, 2, &rng);
    roundtrip_codec(&sh, 0, 1, &rng);
}

/* Versions outside the range are refused both ways, before any byte is touched. */
static void
test_version_range(void **state)
{
    (void)state;
    uint8_t bytes[64] = {0};
    for (size_t i = 0; i < sk_api_desc_count; i++) {
        const sk_api_desc_t *d = &sk_api_descs[i];
        void *m = calloc(1, SK_MAX(d->request_size, d->response_size));
        sk_arena_t arena;
        sk_wr_t wr;
        sk_rd_t rd;
        assert_non_null(m);
        sk_arena_init(&arena, 0);
        sk_wr_init(&wr, 0);
        int16_t bad[2] = {(int16_t)(d->min_version - 1), (int16_t)(d->max_version + 1)};
        for (int k = 0; k < 2; k++) {
            sk_rd_init(&rd, bytes, sizeof(bytes));
            assert_int_equal(d->decode_request(&rd, bad[k], &arena, m), SK_EUNSUP);
            assert_int_equal(rd.pos, 0);
            assert_int_equal(d->decode_response(&rd, bad[k], &arena, m), SK_EUNSUP);
            d->init_request(m);
            assert_int_equal(d->encode_request(&wr, bad[k], m), SK_EUNSUP);
            d->init_response(m);
            assert_int_equal(d->encode_response(&wr, bad[k], m), SK_EUNSUP);
            assert_int_equal(wr.total_bytes, 0);
        }
        sk_wr_deinit(&wr);
        sk_arena_deinit(&arena);
        free(m);
    }
    assert_null(sk_api_desc(-1));
    assert_null(sk_api_desc(4)); /* LeaderAndIsr: retired, never defined */
}

/* The encoder refuses values the version cannot carry instead of writing garbage. */
static void
test_encode_rejects_invalid(void **state)
{
    (void)state;
    sk_wr_t wr;
    sk_ProduceRequest_t req;
    sk_ProduceRequest_TopicProduceData_t topic;

    sk_wr_init(&wr, 0);
    sk_ProduceRequest_init(&req);
    /* transactional_id is nullable from v3 */
    assert_int_equal(sk_ProduceRequest_encode(&wr, 3, &req), SK_OK);
    sk_wr_reset(&wr);
    /* a null topic name is not allowed in any version */
    sk_ProduceRequest_TopicProduceData_init(&topic);
    topic.name = SK_STR_NULL;
    req.topic_data = &topic;
    req.topic_data_count = 1;
    assert_int_equal(sk_ProduceRequest_encode(&wr, 3, &req), SK_EINVAL);
    sk_wr_reset(&wr);
    assert_int_equal(sk_ProduceRequest_encode(&wr, 9, &req), SK_EINVAL);
    sk_wr_reset(&wr);
    /* a count without items */
    req.topic_data = NULL;
    assert_int_equal(sk_ProduceRequest_encode(&wr, 9, &req), SK_EINVAL);
    sk_wr_reset(&wr);
    /* a null array where the version does not allow one (Metadata topics: nullable from v1) */
    sk_MetadataRequest_t md;
    sk_MetadataRequest_init(&md);
    md.topics_count = -1;
    assert_int_equal(sk_MetadataRequest_encode(&wr, 1, &md), SK_OK);
    sk_wr_reset(&wr);
    assert_int_equal(sk_MetadataRequest_encode(&wr, 0, &md), SK_EINVAL);
    sk_wr_deinit(&wr);
}

int
main(void)
{
    const char *env = getenv("SK_SEED");
    g_seed = env ? strtoull(env, NULL, 0) : ((uint64_t)time(NULL) << 16) ^ (uint64_t)clock();
    if (g_seed == 0) g_seed = 1;
    printf("test_roundtrip: seed %llu (replay with SK_SEED=%llu)\n", (unsigned long long)g_seed,
           (unsigned long long)g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_api_version),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_version_range),
        cmocka_unit_test(test_encode_rejects_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
