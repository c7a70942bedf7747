/* tests/fuzz/fuzz_frame.c: libFuzzer target for what a connection receives: a stream of
 * Kafka frames (int32 size prefix, request header, body). Frames are cut as conn.c cuts
 * them (a size below 8 or over the cap ends the stream, as the broker closes the
 * connection there), each header goes through the broker's own parser
 * (sk_req_header_parse in broker/dispatch.c), and the body goes to the generated decoder
 * of its API and version, for every (api key, version) the codecs handle, with the
 * round-trip checks of fuzz_msg.h. The broker's hand-written header parser is checked
 * against the generated RequestHeader codec: both must accept the same headers and agree
 * on every field and on where the body starts. Also checked once: no handler accepts a
 * version its codec cannot decode. No sockets, no disk. */
#include "broker/broker_int.h"
#include "fuzz_msg.h"

#define FUZZ_FRAME_MAX (1 << 20) /* stands in for socket.request.max.bytes */

static void
check_handler_table(void)
{
    static bool done;
    if (done) return;
    for (size_t i = 0; i < sk_handler_count; i++) {
        const sk_handler_t *h = &sk_handlers[i];
        const sk_api_desc_t *d = sk_api_desc(h->key);
        SK_ASSERT(d != NULL);
        SK_ASSERT(h->min_version >= d->min_version && h->max_version <= d->max_version);
        SK_ASSERT(h->adv_min_version <= h->max_version);
    }
    done = true;
}

/* The generated header codec must agree with the broker's parser. */
static void
check_header(const sk_req_t *r, int rc, const uint8_t *frame, size_t len)
{
    sk_arena_t arena;
    sk_RequestHeader_t h;
    sk_rd_t rd;
    int16_t key = (int16_t)sk_be16(frame), ver = (int16_t)sk_be16(frame + 2);

    sk_arena_init(&arena, FUZZ_ARENA_CAP);
    sk_RequestHeader_init(&h);
    sk_rd_init(&rd, frame, len);
    int grc = sk_RequestHeader_decode(&rd, sk_api_request_header_version(key, ver), &arena, &h);
    SK_ASSERT((rc == SK_OK) == (grc == SK_OK));
    if (rc == SK_OK) {
        SK_ASSERT(h.request_api_key == r->api_key && h.request_api_version == r->api_version);
        SK_ASSERT(h.correlation_id == r->correlation_id);
        SK_ASSERT(h.client_id.len == r->client_id.len);
        SK_ASSERT(h.client_id.len <= 0 || h.client_id.ptr == r->client_id.ptr);
        SK_ASSERT(r->body == frame + rd.pos && r->body_len == len - rd.pos);
    }
    sk_arena_deinit(&arena);
}

static void
frame_one(const uint8_t *frame, size_t len)
{
    sk_req_t r;

    memset(&r, 0, sizeof(r));
    int rc = sk_req_header_parse(&r, frame, len);
    check_header(&r, rc, frame, len);
    if (rc != SK_OK) return; /* the broker closes the connection */
    SK_ASSERT(r.body >= frame && r.body + r.body_len == frame + len);
    const sk_api_desc_t *d = sk_api_desc(r.api_key);
    if (!d || r.api_version < d->min_version || r.api_version > d->max_version) return;
    fuzz_codec_t c = fuzz_codec_of(d, false);
    (void)fuzz_msg_check(&c, r.api_version, r.body, r.body_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;

    check_handler_table();
    while (size - pos >= 4) {
        int32_t fsize = (int32_t)sk_be32(data + pos);
        if (fsize < 8 || fsize > FUZZ_FRAME_MAX) break;
        if (size - pos - 4 < (size_t)fsize) break; /* incomplete: wait for more bytes */
        frame_one(data + pos + 4, (size_t)fsize);
        pos += 4 + (size_t)fsize;
    }
    return 0;
}
