/* tests/fuzz/fuzz_decompress.c: libFuzzer target for protocol/compress.c. The first
 * input byte picks the codec (and the lz4 magic-0 checksum variant), the rest is the
 * compressed stream. Decompression is capped at 1 MiB: nothing may crash, leak, read
 * out of bounds or return more than the cap; whatever decodes must survive a
 * compress/decompress round trip unchanged. */
#include "protocol/protocol_int.h"

#define FUZZ_CAP (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int sel = data[0] % 6;
    uint8_t *out = NULL, *c = NULL, *back = NULL;
    size_t out_len = 0, c_len = 0, back_len = 0;
    int rc;
    if (sel == 5)
        rc = sk_decompress_lz4_legacy(data + 1, size - 1, FUZZ_CAP, &out, &out_len);
    else
        rc = sk_decompress((sk_codec_t)sel, data + 1, size - 1, FUZZ_CAP, &out, &out_len);
    if (rc != SK_OK) {
        SK_ASSERT(out == NULL);
        return 0;
    }
    SK_ASSERT(out_len <= FUZZ_CAP);
    sk_codec_t codec = sel == 5 ? SK_CODEC_LZ4 : (sk_codec_t)sel;
    SK_ASSERT(sk_compress(codec, out, out_len, &c, &c_len) == SK_OK);
    SK_ASSERT(sk_decompress(codec, c, c_len, out_len, &back, &back_len) == SK_OK);
    SK_ASSERT(back_len == out_len && memcmp(back, out, out_len) == 0);
    free(back);
    free(c);
    free(out);
    return 0;
}
