/* tests/fuzz/fuzz_record_batch.c: libFuzzer target for the produce-path parsers of
 * protocol/record.c and protocol/legacy.c. The input is treated as a magic-2 batch
 * (validated as from a client and as internal data, then iterated) and as a legacy
 * message set. Nothing may crash, leak or read out of bounds; a batch that validates
 * must also iterate to the same record count. Decompression is capped at 1 MiB. */
#include "protocol/protocol.h"

#define FUZZ_CAP (1u << 20)

static int
count_cb(void *ctx, const sk_record_t *r)
{
    int32_t *n = ctx;
    sk_header_t h[4];
    if (sk_record_headers(r, h, 4) < 0) return SK_ECORRUPT;
    (*n)++;
    return SK_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_batch_check_t chk = {
        .max_batch_bytes = 1 << 20,
        .max_decompressed_bytes = FUZZ_CAP,
        .produce_version = 9,
        .allow_control = false,
    };
    sk_batch_info_t info;
    int16_t kerr;
    for (int internal = 0; internal < 2; internal++) {
        chk.allow_control = internal;
        if (sk_batch_validate(data, size, &chk, &info, &kerr) == SK_OK) {
            int32_t n = 0;
            SK_ASSERT(kerr == SK_KERR_NONE);
            SK_ASSERT(sk_batch_foreach_record(data, size, FUZZ_CAP, count_cb, &n) == SK_OK);
            SK_ASSERT(n == info.record_count);
        } else {
            SK_ASSERT(kerr != SK_KERR_NONE);
        }
    }
    int32_t n = 0;
    (void)sk_batch_foreach_record(data, size, FUZZ_CAP, count_cb, &n);

    uint8_t *out = NULL;
    size_t out_len = 0;
    if (sk_legacy_to_batch(data, size, FUZZ_CAP, &out, &out_len, &kerr) == SK_OK) {
        chk.allow_control = false;
        SK_ASSERT(sk_batch_validate(out, out_len, &chk, &info, &kerr) == SK_OK || out_len > (1u << 20));
        free(out);
    }
    return 0;
}
