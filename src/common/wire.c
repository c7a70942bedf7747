/* common/wire.c: bounds-checked readers and the output chain writer for Kafka's wire
 * integers: big-endian fixed ints, unsigned LEB128 varints (flexible versions) and
 * zig-zag varints (records). Readers never read past len and return SK_ECORRUPT. */
#include "common.h"

#include <unistd.h>

static inline int
rd_need(sk_rd_t *r, size_t n)
{
    return r->len - r->pos >= n ? SK_OK : SK_ECORRUPT;
}


int sk_rd_u16(sk_rd_t *r, uint16_t *v)
{
    if (rd_need(r, 2)) return SK_ECORRUPT;
    *v = sk_be16(r->p + r->pos);
    r->pos += 2;
    return SK_OK;
}

int sk_rd_i16(sk_rd_t *r, int16_t *v)
{
    uint16_t u;
    if (sk_rd_u16(r, &u)) return SK_ECORRUPT;
    *v = (int16_t)u;
    return SK_OK;
}

int sk_rd_u32(sk_rd_t *r, uint32_t *v)
{
    if (rd_need(r, 4)) return SK_ECORRUPT;
    *v = sk_be32(r->p + r->pos);
    r->pos += 4;
    return SK_OK;
}

int sk_rd_i32(sk_rd_t *r, int32_t *v)
{
    uint32_t u;
    if (sk_rd_u32(r, &u)) return SK_ECORRUPT;
    *v = (int32_t)u;
    return SK_OK;
}

int sk_rd_i64(sk_rd_t *r, int64_t *v)
{
    if (rd_need(r, 8)) return SK_ECORRUPT;
    *v = (int64_t)sk_be64(r->p + r->pos);
    r->pos += 8;
    return SK_OK;
}

int sk_rd_f64(sk_rd_t *r, double *v)
{
    int64_t i;
    if (sk_rd_i64(r, &i)) return SK_ECORRUPT;
    memcpy(v, &i, sizeof(*v));
    return SK_OK;
}

int sk_rd_uuid(sk_rd_t *r, sk_uuid_t *v)
{
    if (rd_need(r, 16)) return SK_ECORRUPT;
    memcpy(v->b, r->p + r->pos, 16);
    r->pos += 16;
    return SK_OK;
}

int sk_rd_uvarlong_slow(sk_rd_t *r, uint64_t *v)
{
    uint64_t acc = 0;
    for (int i = 0; i < 10; i++) {
        if (r->pos >= r->len) return SK_ECORRUPT;
        uint8_t b = r->p[r->pos++];
        if (i == 9 && b > 1) return SK_ECORRUPT;
        acc |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = acc;
            return SK_OK;
        }
    }
    return SK_ECORRUPT;
}

int sk_rd_uvarint_slow(sk_rd_t *r, uint32_t *v)
{
    uint32_t acc = 0;
    for (int i = 0; i < 5; i++) {
        if (r->pos >= r->len) return SK_ECORRUPT;
        uint8_t b = r->p[r->pos++];
        if (i == 4 && b > 0x0f) return SK_ECORRUPT;
        acc |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = acc;
            return SK_OK;
        }
    }
    return SK_ECORRUPT;
}




int sk_rd_skip(sk_rd_t *r, size_t n)
{
    if (rd_need(r, n)) return SK_ECORRUPT;
    r->pos += n;
    return SK_OK;
}

/* ---- writer ---- */

void
sk_wr_init(sk_wr_t *w, size_t cap_bytes)
{
    memset(w, 0, sizeof(*w));
    w->cap_bytes = cap_bytes;
}

void
sk_wr_reset(sk_wr_t *w)
{
    for (size_t i = 0; i < w->part_count; i++) sk_fref_put(w->parts[i].file);
    w->len = 0;
    w->part_count = 0;
    w->total_bytes = 0;
    w->failed = false;
}

void
sk_wr_deinit(sk_wr_t *w)
{
    sk_wr_reset(w);
    free(w->buf);
    free(w->parts);
    memset(w, 0, sizeof(*w));
}

static int
wr_part_push(sk_wr_t *w)
{
    if (w->part_count == w->part_cap) {
        size_t cap = w->part_cap ? w->part_cap * 2 : 4;
        sk_wpart_t *p = realloc(w->parts, cap * sizeof(*p));
        if (!p) return SK_ENOMEM;
        w->parts = p;
        w->part_cap = cap;
    }
    w->part_count++;
    return SK_OK;
}

/* Make room for n more memory bytes and account them to the last memory part. */
static uint8_t *
wr_room(sk_wr_t *w, size_t n)
{
    if (w->failed) return NULL;
    if (w->cap_bytes && (n > w->cap_bytes || w->total_bytes > w->cap_bytes - n)) goto fail;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) goto fail;
            cap *= 2;
        }
        uint8_t *b = realloc(w->buf, cap);
        if (!b) goto fail;
        w->buf = b;
        w->cap = cap;
    }
    if (w->part_count == 0 || w->parts[w->part_count - 1].file != NULL) {
        if (wr_part_push(w)) goto fail;
        w->parts[w->part_count - 1] = (sk_wpart_t){NULL, (int64_t)w->len, 0};
    }
    w->parts[w->part_count - 1].len += n;
    uint8_t *p = w->buf + w->len;
    w->len += n;
    w->total_bytes += n;
    return p;
fail:
    w->failed = true;
    return NULL;
}

int sk_wr_raw(sk_wr_t *w, const void *p, size_t n)
{
    uint8_t *d = wr_room(w, n);
    if (!d) return SK_ENOMEM;
    if (n) memcpy(d, p, n);
    return SK_OK;
}

int sk_wr_i8(sk_wr_t *w, int8_t v)
{
    uint8_t *d = wr_room(w, 1);
    if (!d) return SK_ENOMEM;
    d[0] = (uint8_t)v;
    return SK_OK;
}

int sk_wr_u16(sk_wr_t *w, uint16_t v)
{
    uint8_t *d = wr_room(w, 2);
    if (!d) return SK_ENOMEM;
    sk_put_be16(d, v);
    return SK_OK;
}

int sk_wr_i16(sk_wr_t *w, int16_t v) { return sk_wr_u16(w, (uint16_t)v); }

int sk_wr_u32(sk_wr_t *w, uint32_t v)
{
    uint8_t *d = wr_room(w, 4);
    if (!d) return SK_ENOMEM;
    sk_put_be32(d, v);
    return SK_OK;
}

int sk_wr_i32(sk_wr_t *w, int32_t v) { return sk_wr_u32(w, (uint32_t)v); }

int sk_wr_i64(sk_wr_t *w, int64_t v)
{
    uint8_t *d = wr_room(w, 8);
    if (!d) return SK_ENOMEM;
    sk_put_be64(d, (uint64_t)v);
    return SK_OK;
}

int sk_wr_f64(sk_wr_t *w, double v)
{
    int64_t i;
    memcpy(&i, &v, sizeof(i));
    return sk_wr_i64(w, i);
}

int sk_wr_uuid(sk_wr_t *w, const sk_uuid_t *v) { return sk_wr_raw(w, v->b, 16); }

int sk_wr_uvarlong(sk_wr_t *w, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return sk_wr_raw(w, tmp, n);
}

int sk_wr_uvarint(sk_wr_t *w, uint32_t v) { return sk_wr_uvarlong(w, v); }

int sk_wr_varint(sk_wr_t *w, int32_t v)
{
    return sk_wr_uvarlong(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

int sk_wr_varlong(sk_wr_t *w, int64_t v)
{
    return sk_wr_uvarlong(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int sk_wr_file(sk_wr_t *w, sk_fref_t *file, int64_t pos, size_t len)
{
    if (w->failed) return SK_ENOMEM;
    if (len == 0) return SK_OK;
    if (w->cap_bytes && (len > w->cap_bytes || w->total_bytes > w->cap_bytes - len)) {
        w->failed = true;
        return SK_ENOMEM;
    }
    if (wr_part_push(w)) {
        w->failed = true;
        return SK_ENOMEM;
    }
    w->parts[w->part_count - 1] = (sk_wpart_t){sk_fref_get(file), pos, len};
    w->total_bytes += len;
    return SK_OK;
}

int sk_wr_reserve(sk_wr_t *w, size_t n, size_t *at)
{
    uint8_t *d = wr_room(w, n);
    if (!d) return SK_ENOMEM;
    memset(d, 0, n);
    *at = (size_t)(d - w->buf);
    return SK_OK;
}

void sk_wr_patch_i32(sk_wr_t *w, size_t at, int32_t v)
{
    SK_ASSERT(at + 4 <= w->len);
    sk_put_be32(w->buf + at, (uint32_t)v);
}

int sk_wr_flatten(const sk_wr_t *w, uint8_t **out, size_t *out_len)
{
    uint8_t *b = malloc(w->total_bytes ? w->total_bytes : 1);
    size_t o = 0;
    if (!b) return SK_ENOMEM;
    for (size_t i = 0; i < w->part_count; i++) {
        const sk_wpart_t *p = &w->parts[i];
        if (!p->file) {
            memcpy(b + o, w->buf + p->pos, p->len);
        } else {
            size_t got = 0;
            while (got < p->len) {
                ssize_t n = pread(p->file->fd, b + o + got, p->len - got, (off_t)(p->pos + (int64_t)got));
                if (n <= 0) {
                    free(b);
                    return SK_EIO;
                }
                got += (size_t)n;
            }
        }
        o += p->len;
    }
    SK_ASSERT(o == w->total_bytes);
    *out = b;
    *out_len = o;
    return SK_OK;
}

size_t sk_uvarint_size(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t sk_varint_size(int32_t v) { return sk_uvarint_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)); }

size_t sk_varlong_size(int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}
