/* tests/fuzz/fuzz_msg.h: shared by the message fuzz targets (fuzz_req_*.c,
 * fuzz_roundtrip.c). fuzz_msg_check() runs one generated codec over untrusted bytes:
 * decode (arena capped like a request arena); when that succeeds, encode the struct,
 * decode the encoding again and require the same struct (the generated equality) and,
 * after a second encode, the same bytes. A decode may fail; nothing may crash, leak,
 * read outside the input or allocate past the cap. Header-only: each target is one
 * translation unit with these static helpers. */
#ifndef SK_FUZZ_MSG_H
#define SK_FUZZ_MSG_H

#include "protocol/protocol.h"

#define FUZZ_ARENA_CAP (4u << 20) /* per-decode arena cap, like skiff.request.arena.max.bytes */

typedef struct fuzz_codec {
    size_t size;
    void (*init)(void *m);
    int (*decode)(sk_rd_t *, int16_t, sk_arena_t *, void *);
    int (*encode)(sk_wr_t *, int16_t, const void *);
    bool (*equal)(const void *a, const void *b);
} fuzz_codec_t;

/* The request (response = false) or response codec of one API. */
static inline fuzz_codec_t
fuzz_codec_of(const sk_api_desc_t *d, bool response)
{
    const sk_api_test_desc_t *t = &sk_api_test_descs[d - sk_api_descs];
    SK_ASSERT(t->key == d->key);
    if (response)
        return (fuzz_codec_t){d->response_size, d->init_response, d->decode_response, d->encode_response,
                              t->equal_response};
    return (fuzz_codec_t){d->request_size, d->init_request, d->decode_request, d->encode_request, t->equal_request};
}

/* Version in the codec's range picked by one selector byte. */
static inline int16_t
fuzz_pick_version(const sk_api_desc_t *d, uint8_t sel)
{
    int span = d->max_version - d->min_version + 1;
    SK_ASSERT(span > 0);
    return (int16_t)(d->min_version + sel % span);
}

static inline uint8_t *
fuzz_encode_flat(const fuzz_codec_t *c, int16_t version, const void *m, size_t *len)
{
    sk_wr_t wr;
    uint8_t *out = NULL;
    sk_wr_init(&wr, 0);
    int rc = c->encode(&wr, version, m);
    if (rc != SK_OK) {
        fprintf(stderr, "encode of a decoded message failed: v%d rc=%s\n", version, sk_strerror(rc));
        SK_ASSERT(rc == SK_OK);
    }
    SK_ASSERT(sk_wr_flatten(&wr, &out, len) == SK_OK);
    sk_wr_deinit(&wr);
    return out;
}

/* Decode bytes; if accepted, check decode(encode(m)) == m and encode is stable.
 * Returns the decode result. */
static inline int
fuzz_msg_check(const fuzz_codec_t *c, int16_t version, const uint8_t *data, size_t size)
{
    sk_arena_t arena, arena2; /* one per decode: each may use up to the cap */
    sk_rd_t rd;
    void *m1 = calloc(1, c->size), *m2 = calloc(1, c->size);
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;

    SK_ASSERT(m1 && m2);
    sk_arena_init(&arena, FUZZ_ARENA_CAP);
    sk_arena_init(&arena2, FUZZ_ARENA_CAP);
    c->init(m1);
    sk_rd_init(&rd, data, size);
    int rc = c->decode(&rd, version, &arena, m1);
    SK_ASSERT(rd.pos <= size);
    SK_ASSERT(arena.used_bytes <= FUZZ_ARENA_CAP);
    if (rc != SK_OK) {
        SK_ASSERT(rc < 0);
        goto done;
    }
    b1 = fuzz_encode_flat(c, version, m1, &l1);
    c->init(m2);
    sk_rd_init(&rd, b1, l1);
    SK_ASSERT(c->decode(&rd, version, &arena2, m2) == SK_OK);
    SK_ASSERT(rd.pos == l1);        /* the decoder reads exactly what the encoder wrote */
    SK_ASSERT(c->equal(m1, m2));
    b2 = fuzz_encode_flat(c, version, m2, &l2);
    SK_ASSERT(l1 == l2 && memcmp(b1, b2, l1) == 0);
done:
    free(b2);
    free(b1);
    sk_arena_deinit(&arena2);
    sk_arena_deinit(&arena);
    free(m2);
    free(m1);
    return rc;
}

/* Fuzz the request codec of `key`: byte 0 picks the version, the rest is the body. */
static inline int
fuzz_req_api(int16_t key, const uint8_t *data, size_t size)
{
    const sk_api_desc_t *d = sk_api_desc(key);
    SK_ASSERT(d != NULL);
    if (size < 1) return 0;
    fuzz_codec_t c = fuzz_codec_of(d, false);
    (void)fuzz_msg_check(&c, fuzz_pick_version(d, data[0]), data + 1, size - 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
