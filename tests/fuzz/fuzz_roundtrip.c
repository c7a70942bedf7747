/* tests/fuzz/fuzz_roundtrip.c: structured differential target over every generated
 * codec: every API in sk_api_descs, request and response, every version, plus the
 * request and response headers. Byte 0 picks the codec, byte 1 the direction (bit 0)
 * and the version (the rest), the remaining bytes are the message. Whatever decodes
 * must encode, decode to an equal struct and encode to the same bytes again
 * (fuzz_msg.h). Differs from the property test in tests/prop, which starts from
 * well-formed structs: here the decoder sees arbitrary bytes first. */
#include "fuzz_msg.h"

static int hdr_req_decode(sk_rd_t *rd, int16_t v, sk_arena_t *a, void *m) { return sk_RequestHeader_decode(rd, v, a, m); }
static int hdr_req_encode(sk_wr_t *w, int16_t v, const void *m) { return sk_RequestHeader_encode(w, v, m); }
static bool hdr_req_equal(const void *a, const void *b) { return sk_RequestHeader_equal(a, b); }
static void hdr_req_init(void *m) { sk_RequestHeader_init(m); }
static int hdr_resp_decode(sk_rd_t *rd, int16_t v, sk_arena_t *a, void *m) { return sk_ResponseHeader_decode(rd, v, a, m); }
static int hdr_resp_encode(sk_wr_t *w, int16_t v, const void *m) { return sk_ResponseHeader_encode(w, v, m); }
static bool hdr_resp_equal(const void *a, const void *b) { return sk_ResponseHeader_equal(a, b); }
static void hdr_resp_init(void *m) { sk_ResponseHeader_init(m); }

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t sel = data[0] % (sk_api_desc_count + 1);
    bool response = data[1] & 1;
    uint8_t vsel = data[1] >> 1;
    fuzz_codec_t c;
    int16_t version;

    if (sel == sk_api_desc_count) { /* the headers: request v0-2, response v0-1 */
        if (response) {
            c = (fuzz_codec_t){sizeof(sk_ResponseHeader_t), hdr_resp_init, hdr_resp_decode, hdr_resp_encode,
                               hdr_resp_equal};
            version = (int16_t)(vsel % 2);
        } else {
            c = (fuzz_codec_t){sizeof(sk_RequestHeader_t), hdr_req_init, hdr_req_decode, hdr_req_encode,
                               hdr_req_equal};
            version = (int16_t)(vsel % 3);
        }
    } else {
        const sk_api_desc_t *d = &sk_api_descs[sel];
        c = fuzz_codec_of(d, response);
        version = fuzz_pick_version(d, vsel);
    }
    (void)fuzz_msg_check(&c, version, data + 2, size - 2);
    return 0;
}
