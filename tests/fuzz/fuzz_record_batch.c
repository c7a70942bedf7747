/* tests/fuzz/fuzz_record_batch.c: libFuzzer target for the produce-path parsers of
 * protocol/record.c and protocol/legacy.c. Byte 0 holds flags: bit 0 stores the right
 * CRC-32C into the batch first (so mutations reach the record parser instead of dying
 * at the CRC check), bit 1 validates as Produce v3 instead of v9 (zstd needs v7+). The
 * rest is treated as a magic-2 batch (validated as from a client and as internal data,
 * then iterated) and as a legacy message set. Nothing may crash, leak or read out of
 * bounds; a batch that validates must also iterate to the same record count.
 * Decompression is capped at 1 MiB. */
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

static void fuzz_batch(const uint8_t *data, size_t size, int16_t produce_version);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t flags = data[0];
    uint8_t *copy = malloc(size);
    SK_ASSERT(copy != NULL);
    memcpy(copy, data + 1, size - 1);
    if ((flags & 1) && size - 1 >= SK_BATCH_HEADER_SIZE) {
        /* the CRC covers [21, 12 + batch_length) when that fits, else the whole input */
        size_t len = size - 1, blen = (size_t)sk_be32(copy + 8) + SK_LOG_OVERHEAD;
        sk_batch_crc_set(copy, blen >= SK_BATCH_HEADER_SIZE && blen <= len ? blen : len);
    }
    fuzz_batch(copy, size - 1, (flags & 2) ? 3 : 9);
    free(copy);
    return 0;
}

static void
fuzz_batch(const uint8_t *data, size_t size, int16_t produce_version)
{
    sk_batch_check_t chk = {
        .max_batch_bytes = 1 << 20,
        .max_decompressed_bytes = FUZZ_CAP,
        .produce_version = produce_version,
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
}
