/* protocol/compress.c: the record-batch compression codecs: gzip (zlib, RFC 1952
 * wrapper), snappy (raw blocks and the xerial framing Java clients write), lz4 frame
 * and zstd. Used by batch validation, record iteration, legacy conversion and (later)
 * recompression to a topic's compression.type.
 * Invariants: decompression never produces more than max_out bytes and never
 * allocates more than max_out + 1 bytes of output (plus the codec's own bounded state:
 * zlib 32 KiB, lz4 at most one 4 MiB block, a zstd window of at most
 * 2^clamp(ceil(log2(max_out)), 21, 27) bytes); a stream that would exceed the cap
 * returns SK_ELIMIT, a malformed or truncated one SK_ECORRUPT. Outputs are malloc'd
 * and owned by the caller. Format notes: docs/record-format.md. */
#include "protocol_int.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define ZSTD_LEVEL_DEFAULT 3
#define ZSTD_WINDOW_LOG_MIN 21 /* 2 MiB: what a level-3 streaming encoder declares */
#define ZSTD_WINDOW_LOG_MAX 27 /* zstd's own default decoder limit (128 MiB) */
#define OBUF_FIRST_MIN 4096
#define NO_PROGRESS_MAX 4 /* calls without progress before a stream counts as stuck */

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

/* Growable output buffer bounded by max: it holds at most max + 1 bytes so that
 * "exactly max" and "more than max" can be told apart without a second pass. */
typedef struct obuf {
    uint8_t *p; /* owned until handed to the caller */
    size_t len;
    size_t cap;
    size_t lim; /* max + 1 (saturated) */
} obuf_t;

static void
obuf_init(obuf_t *b, size_t max_out)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->lim = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;
}

/* Make room for at least one more byte; first size from a hint (compressed size). */
static int
obuf_room(obuf_t *b, size_t hint)
{
    if (b->len < b->cap) return SK_OK;
    if (b->cap >= b->lim) return SK_ELIMIT;
    size_t ncap;
    if (b->cap == 0) {
        ncap = hint > SIZE_MAX / 4 ? SIZE_MAX : hint * 4;
        if (ncap < OBUF_FIRST_MIN) ncap = OBUF_FIRST_MIN;
    } else {
        ncap = b->cap > SIZE_MAX / 2 ? SIZE_MAX : b->cap * 2;
    }
    if (ncap > b->lim) ncap = b->lim;
    uint8_t *np = realloc(b->p, ncap);
    if (!np) return SK_ENOMEM;
    b->p = np;
    b->cap = ncap;
    return SK_OK;
}

/* Hand the buffer over, or fail with SK_ELIMIT if it went past max. */
static int
obuf_finish(obuf_t *b, uint8_t **out, size_t *out_len)
{
    if (b->len >= b->lim) return SK_ELIMIT;
    if (!b->p) {
        b->p = malloc(1);
        if (!b->p) return SK_ENOMEM;
    }
    *out = b->p;
    *out_len = b->len;
    b->p = NULL;
    return SK_OK;
}

/* ---- gzip ---- */

/* One inflate step; decides whether the stream is done, needs room, or is broken. */
static int
gzip_step(z_stream *z, obuf_t *b, bool *done)
{
    size_t room = b->cap - b->len;
    if (room > UINT_MAX) room = UINT_MAX;
    z->next_out = b->p + b->len;
    z->avail_out = (uInt)room;
    int zr = inflate(z, Z_NO_FLUSH);
    size_t made = room - z->avail_out;
    b->len += made;
    if (zr == Z_STREAM_END) {
        /* Concatenated members are legal gzip; anything else after the end is ignored,
         * as Java's GZIPInputStream does. */
        if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b) {
            if (inflateReset(z) != Z_OK) return SK_ECORRUPT;
            return SK_OK;
        }
        *done = true;
        return SK_OK;
    }
    if (zr == Z_OK || zr == Z_BUF_ERROR) {
        if (z->avail_in == 0 && z->avail_out > 0) return SK_ECORRUPT; /* truncated */
        if (zr == Z_BUF_ERROR && z->avail_out > 0) return SK_ECORRUPT;
        return SK_OK;
    }
    return zr == Z_MEM_ERROR ? SK_ENOMEM : SK_ECORRUPT;
}

static int
gzip_decompress(const uint8_t *in, size_t in_len, obuf_t *b)
{
    int rc = SK_ECORRUPT;
    z_stream z;
    bool done = false;

    memset(&z, 0, sizeof(z));
    if (in_len > UINT_MAX) return SK_ELIMIT;
    if (inflateInit2(&z, 15 + 16) != Z_OK) return SK_ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    while (!done) {
        rc = obuf_room(b, in_len);
        if (rc != SK_OK) goto fail;
        rc = gzip_step(&z, b, &done);
        if (rc != SK_OK) goto fail;
    }
    inflateEnd(&z);
    return SK_OK;
fail:
    inflateEnd(&z);
    return rc;
}

static int
gzip_compress(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    int rc = SK_ENOMEM;
    z_stream z;
    uint8_t *buf = NULL;

    memset(&z, 0, sizeof(z));
    if (in_len > UINT_MAX / 2) return SK_ELIMIT;
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return SK_ENOMEM;
    size_t bound = deflateBound(&z, (uLong)in_len) + 32; /* + gzip header/trailer slack */
    buf = malloc(bound);
    if (!buf) goto fail;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    z.next_out = buf;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        rc = SK_EINVAL;
        goto fail;
    }
    *out = buf;
    *out_len = bound - z.avail_out;
    deflateEnd(&z);
    return SK_OK;
fail:
    free(buf);
    deflateEnd(&z);
    return rc;
}

/* ---- snappy ---- */

/* Walk the xerial chunks; with dst NULL only sums their decompressed sizes. */
static int
xerial_walk(const uint8_t *in, size_t in_len, size_t max_out, uint8_t *dst, size_t *total)
{
    size_t pos = 16, sum = 0;
    while (pos < in_len) {
        if (in_len - pos < 4) return SK_ECORRUPT;
        uint32_t clen = sk_be32(in + pos);
        pos += 4;
        if (clen > in_len - pos) return SK_ECORRUPT;
        if (clen == 0) continue;
        size_t n;
        if (snappy_uncompressed_length((const char *)in + pos, clen, &n) != SNAPPY_OK) return SK_ECORRUPT;
        if (n > max_out - sum) return SK_ELIMIT;
        if (dst) {
            size_t got = n;
            if (snappy_uncompress((const char *)in + pos, clen, (char *)dst + sum, &got) != SNAPPY_OK ||
                got != n)
                return SK_ECORRUPT;
        }
        sum += n;
        pos += clen;
    }
    *total = sum;
    return SK_OK;
}

static int
snappy_decompress(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len)
{
    int rc = SK_ECORRUPT;
    uint8_t *buf = NULL;
    size_t n = 0;

    bool xerial = in_len >= 16 && memcmp(in, xerial_magic, sizeof(xerial_magic)) == 0;
    if (xerial) {
        rc = xerial_walk(in, in_len, max_out, NULL, &n);
        if (rc != SK_OK) goto fail;
    } else {
        if (snappy_uncompressed_length((const char *)in, in_len, &n) != SNAPPY_OK) goto fail;
        rc = SK_ELIMIT;
        if (n > max_out) goto fail;
    }
    rc = SK_ENOMEM;
    buf = malloc(n ? n : 1);
    if (!buf) goto fail;
    if (xerial) {
        size_t again;
        rc = xerial_walk(in, in_len, max_out, buf, &again);
        if (rc != SK_OK) goto fail;
    } else {
        size_t got = n;
        rc = SK_ECORRUPT;
        if (snappy_uncompress((const char *)in, in_len, (char *)buf, &got) != SNAPPY_OK || got != n) goto fail;
    }
    *out = buf;
    *out_len = n;
    return SK_OK;
fail:
    free(buf);
    return rc;
}

static int
snappy_compress_raw(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    size_t n = snappy_max_compressed_length(in_len);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return SK_ENOMEM;
    if (snappy_compress((const char *)in, in_len, (char *)buf, &n) != SNAPPY_OK) {
        free(buf);
        return SK_EINVAL;
    }
    *out = buf;
    *out_len = n;
    return SK_OK;
}

/* ---- lz4 frame ---- */

/* Feed src into the decoder until it is consumed; *frame_end tells whether the last
 * call finished a frame. */
static int
lz4_feed(LZ4F_dctx *d, obuf_t *b, const uint8_t *src, size_t src_len, bool *frame_end)
{
    int stuck = 0;
    for (;;) {
        int rc = obuf_room(b, src_len);
        if (rc != SK_OK) return rc;
        size_t room = b->cap - b->len, used = src_len;
        size_t r = LZ4F_decompress(d, b->p + b->len, &room, src, &used, NULL);
        if (LZ4F_isError(r)) return SK_ECORRUPT;
        b->len += room;
        src += used;
        src_len -= used;
        *frame_end = r == 0;
        bool out_full = b->len == b->cap;
        if (src_len == 0 && !out_full) return SK_OK; /* caller decides if the end is complete */
        if (room == 0 && used == 0 && !out_full) {
            if (++stuck > NO_PROGRESS_MAX) return SK_ECORRUPT;
        } else {
            stuck = 0;
        }
        if (src_len == 0 && *frame_end) return SK_OK;
    }
}

static int
lz4_decompress(const uint8_t *in, size_t in_len, obuf_t *b, bool ignore_hc)
{
    int rc = SK_ENOMEM;
    LZ4F_dctx *d = NULL;
    bool frame_end = false;
    size_t pos = 0;

    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) return SK_ENOMEM;
    rc = SK_ECORRUPT;
    if (in_len < 7) goto fail;
    if (ignore_hc) {
        /* Rewrite the frame descriptor's checksum byte (KAFKA-3160) and feed the
         * corrected header separately; the rest of the frame is fed as is. */
        uint8_t hdr[19];
        uint8_t flg = in[4];
        size_t hlen = 7 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
        if (in_len < hlen) goto fail;
        memcpy(hdr, in, hlen);
        hdr[hlen - 1] = (uint8_t)(sk_xxh32(hdr + 4, hlen - 5, 0) >> 8);
        rc = lz4_feed(d, b, hdr, hlen, &frame_end);
        if (rc != SK_OK) goto fail;
        pos = hlen;
    }
    if (pos < in_len) {
        rc = lz4_feed(d, b, in + pos, in_len - pos, &frame_end);
        if (rc != SK_OK) goto fail;
    }
    rc = SK_ECORRUPT;
    if (!frame_end) goto fail; /* truncated frame */
    LZ4F_freeDecompressionContext(d);
    return SK_OK;
fail:
    LZ4F_freeDecompressionContext(d);
    return rc;
}

static int
lz4_compress(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    /* What Java writes: 64 KiB independent blocks, no content size or checksum. */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressFrameBound(in_len, &prefs);
    uint8_t *buf = malloc(bound);
    if (!buf) return SK_ENOMEM;
    size_t n = LZ4F_compressFrame(buf, bound, in, in_len, &prefs);
    if (LZ4F_isError(n)) {
        free(buf);
        return SK_EINVAL;
    }
    *out = buf;
    *out_len = n;
    return SK_OK;
}

/* ---- zstd ---- */

/* Largest window a frame may declare: about the output cap, never below 2 MiB (what
 * a default-level streaming encoder declares) nor above zstd's default limit. */
static int
zstd_window_log(size_t max_out)
{
    int lg = 0;
    while (lg < 62 && ((size_t)1 << lg) < max_out) lg++;
    if (lg < ZSTD_WINDOW_LOG_MIN) lg = ZSTD_WINDOW_LOG_MIN;
    if (lg > ZSTD_WINDOW_LOG_MAX) lg = ZSTD_WINDOW_LOG_MAX;
    return lg;
}

static int
zstd_stream(ZSTD_DCtx *d, const uint8_t *in, size_t in_len, obuf_t *b)
{
    ZSTD_inBuffer ib = {in, in_len, 0};
    int stuck = 0;
    for (;;) {
        int rc = obuf_room(b, in_len);
        if (rc != SK_OK) return rc;
        ZSTD_outBuffer ob = {b->p + b->len, b->cap - b->len, 0};
        size_t before = ib.pos;
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r)) {
            ZSTD_ErrorCode e = ZSTD_getErrorCode(r);
            if (e == ZSTD_error_frameParameter_windowTooLarge) return SK_ELIMIT;
            return e == ZSTD_error_memory_allocation ? SK_ENOMEM : SK_ECORRUPT;
        }
        b->len += ob.pos;
        if (r == 0 && ib.pos == ib.size) return SK_OK;
        if (ib.pos == ib.size && ob.pos < ob.size) return SK_ECORRUPT; /* truncated */
        if (ob.pos == 0 && ib.pos == before) {
            if (++stuck > NO_PROGRESS_MAX) return SK_ECORRUPT;
        } else {
            stuck = 0;
        }
    }
}

static int
zstd_decompress(const uint8_t *in, size_t in_len, size_t max_out, obuf_t *b)
{
    int rc = SK_ENOMEM;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) return SK_ENOMEM;

    rc = SK_ECORRUPT;
    unsigned long long fcs = ZSTD_getFrameContentSize(in, in_len);
    if (fcs == ZSTD_CONTENTSIZE_ERROR) goto fail;
    rc = SK_ELIMIT;
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs > max_out) goto fail;
    if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs > 0) {
        /* Declared size within the cap: decode in one shot straight into a buffer of
         * that size (no window allocation). More frames follow if it does not fit. */
        rc = SK_ENOMEM;
        b->p = malloc((size_t)fcs);
        if (!b->p) goto fail;
        b->cap = (size_t)fcs;
        size_t r = ZSTD_decompressDCtx(d, b->p, b->cap, in, in_len);
        if (!ZSTD_isError(r)) {
            b->len = r;
            ZSTD_freeDCtx(d);
            return SK_OK;
        }
        rc = SK_ECORRUPT;
        if (ZSTD_getErrorCode(r) != ZSTD_error_dstSize_tooSmall) goto fail;
        ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    }
    rc = SK_ENOMEM;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, zstd_window_log(max_out)))) goto fail;
    b->len = 0;
    rc = zstd_stream(d, in, in_len, b);
    if (rc != SK_OK) goto fail;
    ZSTD_freeDCtx(d);
    return SK_OK;
fail:
    ZSTD_freeDCtx(d);
    return rc;
}

static int
zstd_compress(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    size_t bound = ZSTD_compressBound(in_len);
    uint8_t *buf = malloc(bound);
    if (!buf) return SK_ENOMEM;
    size_t n = ZSTD_compress(buf, bound, in, in_len, ZSTD_LEVEL_DEFAULT);
    if (ZSTD_isError(n)) {
        free(buf);
        return SK_EINVAL;
    }
    *out = buf;
    *out_len = n;
    return SK_OK;
}

/* ---- public ---- */

static int
copy_out(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len)
{
    if (in_len > max_out) return SK_ELIMIT;
    uint8_t *buf = malloc(in_len ? in_len : 1);
    if (!buf) return SK_ENOMEM;
    if (in_len) memcpy(buf, in, in_len);
    *out = buf;
    *out_len = in_len;
    return SK_OK;
}

static int
decompress_into(sk_codec_t codec, const uint8_t *in, size_t in_len, size_t max_out, obuf_t *b)
{
    switch (codec) {
    case SK_CODEC_GZIP: return gzip_decompress(in, in_len, b);
    case SK_CODEC_LZ4: return lz4_decompress(in, in_len, b, false);
    case SK_CODEC_ZSTD: return zstd_decompress(in, in_len, max_out, b);
    default: return SK_EUNSUP;
    }
}

int
sk_decompress(sk_codec_t codec, const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out,
              size_t *out_len)
{
    obuf_t b;
    int rc;

    SK_ASSERT(out && out_len && (in || in_len == 0));
    *out = NULL;
    *out_len = 0;
    if (codec == SK_CODEC_NONE) return copy_out(in, in_len, max_out, out, out_len);
    if (codec == SK_CODEC_SNAPPY) return snappy_decompress(in, in_len, max_out, out, out_len);
    obuf_init(&b, max_out);
    rc = decompress_into(codec, in, in_len, max_out, &b);
    if (rc == SK_OK) rc = obuf_finish(&b, out, out_len);
    free(b.p);
    return rc;
}

int
sk_decompress_lz4_legacy(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len)
{
    obuf_t b;
    int rc;

    SK_ASSERT(out && out_len && (in || in_len == 0));
    *out = NULL;
    *out_len = 0;
    obuf_init(&b, max_out);
    rc = lz4_decompress(in, in_len, &b, true);
    if (rc == SK_OK) rc = obuf_finish(&b, out, out_len);
    free(b.p);
    return rc;
}

int
sk_compress(sk_codec_t codec, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    SK_ASSERT(out && out_len && (in || in_len == 0));
    *out = NULL;
    *out_len = 0;
    switch (codec) {
    case SK_CODEC_NONE: return copy_out(in, in_len, SIZE_MAX, out, out_len);
    case SK_CODEC_GZIP: return gzip_compress(in, in_len, out, out_len);
    case SK_CODEC_SNAPPY: return snappy_compress_raw(in, in_len, out, out_len);
    case SK_CODEC_LZ4: return lz4_compress(in, in_len, out, out_len);
    case SK_CODEC_ZSTD: return zstd_compress(in, in_len, out, out_len);
    default: return SK_EUNSUP;
    }
}

const char *
sk_codec_name(sk_codec_t codec)
{
    switch (codec) {
    case SK_CODEC_NONE: return "none";
    case SK_CODEC_GZIP: return "gzip";
    case SK_CODEC_SNAPPY: return "snappy";
    case SK_CODEC_LZ4: return "lz4";
    case SK_CODEC_ZSTD: return "zstd";
    default: return "unknown";
    }
}

/* ---- xxHash32, per its published specification ---- */

#define XXH_P1 2654435761u
#define XXH_P2 2246822519u
#define XXH_P3 3266489917u
#define XXH_P4 668265263u
#define XXH_P5 374761393u

static inline uint32_t
xxh_rotl(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint32_t
xxh_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint32_t
xxh_round(uint32_t acc, uint32_t lane)
{
    return xxh_rotl(acc + lane * XXH_P2, 13) * XXH_P1;
}

uint32_t
sk_xxh32(const void *data, size_t len, uint32_t seed)
{
    const uint8_t *p = data, *end = p + len;
    uint32_t h;

    if (len >= 16) {
        uint32_t v1 = seed + XXH_P1 + XXH_P2, v2 = seed + XXH_P2, v3 = seed, v4 = seed - XXH_P1;
        while (end - p >= 16) {
            v1 = xxh_round(v1, xxh_le32(p));
            v2 = xxh_round(v2, xxh_le32(p + 4));
            v3 = xxh_round(v3, xxh_le32(p + 8));
            v4 = xxh_round(v4, xxh_le32(p + 12));
            p += 16;
        }
        h = xxh_rotl(v1, 1) + xxh_rotl(v2, 7) + xxh_rotl(v3, 12) + xxh_rotl(v4, 18);
    } else {
        h = seed + XXH_P5;
    }
    h += (uint32_t)len;
    while (end - p >= 4) {
        h = xxh_rotl(h + xxh_le32(p) * XXH_P3, 17) * XXH_P4;
        p += 4;
    }
    while (p < end) {
        h = xxh_rotl(h + (*p++) * XXH_P5, 11) * XXH_P1;
    }
    h ^= h >> 15;
    h *= XXH_P2;
    h ^= h >> 13;
    h *= XXH_P3;
    h ^= h >> 16;
    return h;
}
