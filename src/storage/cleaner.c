/* storage/cleaner.c: the rewriting half of compaction. Given an immutable description
 * of a log's sealed segments (sk_clean_task_t, built by the loop thread in
 * cleaner_swap.c), it builds a key -> newest offset map over the dirty range, then
 * rewrites groups of segments into <base>.log.cleaned with their .index.cleaned and
 * .timeindex.cleaned, fsynced. It touches no sk_log_t and takes or drops no reference:
 * it runs on the cleaner thread (or on the caller's thread in tests) and reads the
 * segment files through the fds the task holds.
 *
 * Per batch (Kafka's MemoryRecords.filterTo and LogCleaner rules):
 *  - control and transactional batches are copied unchanged;
 *  - a keyed record is kept when no newer offset of its key is in the map; a tombstone
 *    (null value) is also dropped once its batch's delete horizon (attribute bit 6,
 *    horizon in the base timestamp, KIP-534) has passed; a batch that keeps a tombstone
 *    and has no horizon yet gets now + delete.retention.ms;
 *  - records without a key are kept;
 *  - a batch that loses records is rebuilt with the same base offset, last offset
 *    delta, producer fields, leader epoch and codec; a batch that loses all of them is
 *    kept as an empty batch (header only) if it is its producer's last batch (so the
 *    idempotent state survives) or the last batch of the group (so the cleaned segment
 *    still ends where the old ones did and segments stay contiguous), else dropped.
 * Invariants: offsets never change and stay increasing inside a cleaned segment; a
 * cleaned segment starts at (or after) the base offset of the first segment of its
 * group and ends exactly at the group's end; nothing read from disk is trusted (a bad
 * header or CRC abandons the cleaning with SK_ECORRUPT). Design: docs/compaction.md. */
#include "storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define MAP_SLOT_BYTES 24        /* two 64-bit hash halves + offset, as Kafka's 16 + 8 */
#define MAP_LOAD_NUM 9           /* fill the map to 90% at most */
#define MAP_LOAD_DEN 10
#define MAP_SLOTS_MIN 1024
#define OUT_BUF_BYTES (1u << 20)

/* ---- key map: open addressing over 128-bit key hashes ---- */

static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void
key_hash(const uint8_t *k, size_t len, uint64_t *h1, uint64_t *h2)
{
    uint64_t a = sk_hash64(k, len), b = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        b = mix64(b ^ w) * 0x9e3779b97f4a7c15ULL;
    }
    uint64_t t = 0;
    for (size_t j = 0; i < len; i++, j++) t |= (uint64_t)k[i] << (8 * j);
    b = mix64(b ^ t ^ 0x5bd1e995ULL);
    *h1 = mix64(a);
    *h2 = b;
}

int
sk_clean_map_init(sk_clean_map_t *m, int64_t bytes)
{
    size_t slots = MAP_SLOTS_MIN;
    memset(m, 0, sizeof(*m));
    while ((int64_t)(slots * 2) * MAP_SLOT_BYTES <= bytes && slots < ((size_t)1 << 40)) slots *= 2;
    m->slots = calloc(slots, sizeof(*m->slots));
    if (!m->slots) return SK_ENOMEM;
    m->slot_count = slots;
    m->max_entries = slots / MAP_LOAD_DEN * MAP_LOAD_NUM;
    return SK_OK;
}

void
sk_clean_map_deinit(sk_clean_map_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static sk_clean_slot_t *
map_find(const sk_clean_map_t *m, uint64_t h1, uint64_t h2)
{
    size_t mask = m->slot_count - 1, i = (size_t)h1 & mask;
    for (;;) {
        sk_clean_slot_t *s = &m->slots[i];
        if (!s->used || (s->h1 == h1 && s->h2 == h2)) return s;
        i = (i + 1) & mask;
    }
}

bool
sk_clean_map_put(sk_clean_map_t *m, const uint8_t *key, size_t len, int64_t offset)
{
    uint64_t h1, h2;
    key_hash(key, len, &h1, &h2);
    sk_clean_slot_t *s = map_find(m, h1, h2);
    if (!s->used) {
        if (m->entries >= m->max_entries) return false;
        s->used = true;
        s->h1 = h1;
        s->h2 = h2;
        m->entries++;
    }
    if (offset > s->offset || !s->offset_set) {
        s->offset = offset;
        s->offset_set = true;
    }
    return true;
}

bool
sk_clean_map_get(const sk_clean_map_t *m, const uint8_t *key, size_t len, int64_t *offset)
{
    uint64_t h1, h2;
    if (m->entries == 0) return false;
    key_hash(key, len, &h1, &h2);
    const sk_clean_slot_t *s = map_find(m, h1, h2);
    if (!s->used) return false;
    *offset = s->offset;
    return true;
}

/* ---- reading batches ---- */

/* Batch bytes at pos (total bytes): from the scan buffer, or a malloc'd copy when the
 * batch is larger than the buffer (*owned then set). */
static int
batch_get(sk_scan_t *s, int64_t pos, int64_t total, const uint8_t **p, uint8_t **owned)
{
    *owned = NULL;
    if ((size_t)total <= s->cap) return sk_scan_get(s, pos, (size_t)total, p);
    uint8_t *b = malloc((size_t)total);
    size_t got = 0;
    if (!b) return SK_ENOMEM;
    while (got < (size_t)total) {
        ssize_t n = pread(s->fd, b + got, (size_t)total - got, (off_t)(pos + (int64_t)got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            free(b);
            return n == 0 ? SK_ECORRUPT : SK_EIO;
        }
        got += (size_t)n;
    }
    *p = b;
    *owned = b;
    return SK_OK;
}

/* Walk the batches of segment seg from its start: cb(ctx, header, bytes) for each,
 * after checking framing, offsets and CRC. */
typedef int (*batch_visit_cb)(void *ctx, const sk_batch_hdr_t *h, const uint8_t *b, size_t len);

static int
seg_walk(const sk_clean_seg_t *seg, uint8_t *buf, size_t cap, batch_visit_cb cb, void *ctx)
{
    sk_scan_t s;
    sk_batch_hdr_t h;
    int64_t pos = 0, next = seg->base_offset;
    int rc;

    sk_scan_init(&s, seg->file->fd, seg->size_bytes, buf, cap);
    while ((rc = sk_scan_hdr(&s, pos, &h)) == SK_OK) {
        int64_t total = (int64_t)h.batch_length + SK_LOG_OVERHEAD;
        const uint8_t *p;
        uint8_t *owned;
        if (h.base_offset < next || h.base_offset + h.last_offset_delta >= seg->next_offset) return SK_ECORRUPT;
        if (h.records_count < 0 || h.records_count > h.last_offset_delta + 1) return SK_ECORRUPT;
        rc = batch_get(&s, pos, total, &p, &owned);
        if (rc != SK_OK) return rc;
        if (!sk_batch_crc_ok(p, (size_t)total)) rc = SK_ECORRUPT;
        else rc = cb(ctx, &h, p, (size_t)total);
        free(owned);
        if (rc != SK_OK) return rc;
        next = h.base_offset + h.last_offset_delta + 1;
        pos += total;
    }
    return rc == SK_ENOENT ? SK_OK : rc;
}

/* ---- building the map ---- */

/* The owner wants the thread back (shutdown): stop between two batches. */
static bool
task_cancelled(const sk_clean_task_t *t)
{
    return t->cancel && *t->cancel;
}

typedef struct map_ctx {
    const sk_clean_task_t *t;
    sk_clean_map_t *map;
    int64_t from;      /* first dirty offset: records below are clean already */
    int64_t end;       /* out: the map covers [from, end) */
    bool full;
} map_ctx_t;

static int
map_record_cb(void *ctx, const sk_record_t *r)
{
    map_ctx_t *mc = ctx;
    if (r->key.len < 0 || r->offset < mc->from) return SK_OK;
    if (!sk_clean_map_put(mc->map, r->key.ptr, (size_t)r->key.len, r->offset)) return SK_ELIMIT;
    return SK_OK;
}

static int
map_batch_cb(void *ctx, const sk_batch_hdr_t *h, const uint8_t *b, size_t len)
{
    map_ctx_t *mc = ctx;
    int64_t last = h->base_offset + h->last_offset_delta;
    if (task_cancelled(mc->t)) return SK_EINVAL;
    if (last < mc->from) return SK_OK;
    /* Room for every record of the batch, or stop before it. */
    if (mc->map->entries + (size_t)h->last_offset_delta + 1 > mc->map->max_entries) {
        mc->full = true;
        return SK_ELIMIT;
    }
    mc->end = last + 1;
    /* Markers and transactional records stay out of the map for now: they are kept
     * unchanged, so an older value of their keys must stay too. */
    if (h->attributes & (SK_ATTR_CONTROL | SK_ATTR_TRANSACTIONAL)) return SK_OK;
    int rc = sk_batch_foreach_record(b, len, SK_LOOKUP_DECOMPRESS_MAX, map_record_cb, mc);
    return rc == SK_ELIMIT ? SK_ECORRUPT : rc; /* the batch was announced smaller */
}

/* Fill the map from the dirty segments, whole segments while they fit (their offset
 * span bounds their records), then batch by batch inside the first one that does not;
 * task->map_end gets the end of what the map covers. */
int
sk_clean_build_map(sk_clean_task_t *t, sk_clean_map_t *map, uint8_t *buf, size_t cap)
{
    map_ctx_t mc = {.t = t, .map = map, .from = t->first_dirty, .end = t->first_dirty};
    int rc = SK_OK;

    for (int32_t i = 0; i < t->seg_count && rc == SK_OK; i++) {
        const sk_clean_seg_t *seg = &t->segs[i];
        if (seg->next_offset <= t->first_dirty) continue;
        int64_t span = seg->next_offset - SK_MAX(seg->base_offset, t->first_dirty);
        if (map->entries > 0 && (int64_t)(map->max_entries - map->entries) < span) break;
        rc = seg_walk(seg, buf, cap, map_batch_cb, &mc);
        if (rc == SK_ELIMIT && mc.full) rc = SK_OK, i = t->seg_count;
        else if (rc == SK_OK) mc.end = seg->next_offset;
    }
    t->map_end = mc.end;
    /* Not even one batch fits the map (log.cleaner.dedupe.buffer.size far too small
     * for this batch): no progress is possible. */
    if (rc == SK_OK && mc.full && mc.end == t->first_dirty) rc = SK_ELIMIT;
    return rc;
}

/* ---- writing a cleaned segment ---- */

typedef struct out_file {
    int fd;               /* owned */
    uint8_t *buf;         /* owned: OUT_BUF_BYTES */
    size_t buf_len;
    int64_t pos;          /* bytes written (incl. buffered) */
} out_file_t;

static int
out_flush(out_file_t *o)
{
    size_t done = 0;
    while (done < o->buf_len) {
        ssize_t n = write(o->fd, o->buf + done, o->buf_len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return SK_EIO;
        done += (size_t)n;
    }
    o->buf_len = 0;
    return SK_OK;
}

static int
out_write(out_file_t *o, const uint8_t *p, size_t len)
{
    o->pos += (int64_t)len;
    if (o->buf_len + len > OUT_BUF_BYTES) {
        int rc = out_flush(o);
        if (rc != SK_OK) return rc;
    }
    if (len > OUT_BUF_BYTES) {
        size_t done = 0;
        while (done < len) {
            ssize_t n = write(o->fd, p + done, len - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return SK_EIO;
            done += (size_t)n;
        }
        return SK_OK;
    }
    memcpy(o->buf + o->buf_len, p, len);
    o->buf_len += len;
    return SK_OK;
}

/* Growable array of index entries, written as a file at the end. */
typedef struct idx_buf {
    uint8_t *v;           /* owned */
    size_t len, cap;
} idx_buf_t;

static int
idx_add(idx_buf_t *x, const uint8_t *e, size_t n)
{
    if (x->len + n > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 4096;
        uint8_t *v = realloc(x->v, cap);
        if (!v) return SK_ENOMEM;
        x->v = v;
        x->cap = cap;
    }
    memcpy(x->v + x->len, e, n);
    x->len += n;
    return SK_OK;
}

/* State of one output segment. */
typedef struct out_seg {
    out_file_t log;
    idx_buf_t oidx, tidx;
    int64_t base_offset;
    int64_t bytes_since_index;
    int64_t max_ts, max_ts_offset, last_tidx_ts;
    int32_t index_interval_bytes;
} out_seg_t;

static int
out_time_entry(out_seg_t *o)
{
    uint8_t e[SK_TIMEIDX_ENTRY_SIZE];
    if (o->max_ts < 0 || o->max_ts <= o->last_tidx_ts) return SK_OK;
    sk_put_be64(e, (uint64_t)o->max_ts);
    sk_put_be32(e + 8, (uint32_t)(o->max_ts_offset - o->base_offset));
    o->last_tidx_ts = o->max_ts;
    return idx_add(&o->tidx, e, sizeof(e));
}

/* Append one finished batch (base offset, last offset and max timestamp given by the
 * caller, who checked them) and index it the way sk_seg_note_batch does. */
static int
out_batch(out_seg_t *o, const uint8_t *b, size_t len, int64_t base_offset, int64_t last, int64_t max_ts)
{
    int64_t pos = o->log.pos;
    int rc;

    SK_ASSERT(base_offset >= o->base_offset && last >= base_offset && last - o->base_offset <= INT32_MAX);
    if (max_ts > o->max_ts) {
        o->max_ts = max_ts;
        o->max_ts_offset = last;
    }
    if (o->bytes_since_index > o->index_interval_bytes) {
        uint8_t e[SK_OFFIDX_ENTRY_SIZE];
        sk_put_be32(e, (uint32_t)(last - o->base_offset));
        sk_put_be32(e + 4, (uint32_t)pos);
        rc = idx_add(&o->oidx, e, sizeof(e));
        if (rc == SK_OK) rc = out_time_entry(o);
        if (rc != SK_OK) return rc;
        o->bytes_since_index = 0;
    }
    o->bytes_since_index += (int64_t)len;
    return out_write(&o->log, b, len);
}

/* ---- filtering batches ---- */

typedef struct clean_ctx {
    sk_clean_task_t *t;
    const sk_clean_map_t *map;
    out_seg_t *out;
    int64_t group_end;        /* next offset of the group: its last batch always stays */
    bool changed;             /* the output differs from the input */
    uint8_t *plain;           /* owned: re-encoded records of the batch being rebuilt */
    size_t plain_len, plain_cap;
    /* the batch being filtered */
    const sk_batch_hdr_t *h;
    int64_t horizon;          /* its delete horizon, -1 none */
    int64_t new_base_ts;      /* pass 2: base timestamp of the rebuilt batch */
    int32_t kept, dropped;
    bool kept_tombstone;
    int64_t first_ts, max_ts; /* of the kept records */
    int rc;                   /* pass 2: first encoding error */
} clean_ctx_t;

static bool
record_keep(const clean_ctx_t *c, const sk_record_t *r)
{
    int64_t newest;
    if (r->key.len < 0) return true; /* no key: nothing supersedes it */
    if (sk_clean_map_get(c->map, r->key.ptr, (size_t)r->key.len, &newest) && newest > r->offset) return false;
    if (r->value.len < 0 && c->horizon >= 0 && c->t->now_ms >= c->horizon) return false;
    return true;
}

static int
count_cb(void *ctx, const sk_record_t *r)
{
    clean_ctx_t *c = ctx;
    if (!record_keep(c, r)) {
        c->dropped++;
        return SK_OK;
    }
    if (c->kept == 0) c->first_ts = r->timestamp;
    if (r->timestamp > c->max_ts) c->max_ts = r->timestamp;
    if (r->value.len < 0) c->kept_tombstone = true;
    c->kept++;
    return SK_OK;
}

static uint8_t *
put_uvarlong(uint8_t *d, uint64_t v)
{
    while (v >= 0x80) {
        *d++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *d++ = (uint8_t)v;
    return d;
}

static uint8_t *
put_varlong(uint8_t *d, int64_t v)
{
    return put_uvarlong(d, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static int
encode_cb(void *ctx, const sk_record_t *r)
{
    clean_ctx_t *c = ctx;
    if (!record_keep(c, r)) return SK_OK;
    int32_t od = (int32_t)(r->offset - c->h->base_offset);
    int64_t tsd = (int64_t)((uint64_t)r->timestamp - (uint64_t)c->new_base_ts);
    size_t body = 1 + sk_varlong_size(tsd) + sk_varint_size(od);
    body += sk_varint_size(r->key.len) + (r->key.len > 0 ? (size_t)r->key.len : 0);
    body += sk_varint_size(r->value.len) + (r->value.len > 0 ? (size_t)r->value.len : 0);
    body += sk_varint_size(r->header_count) + r->headers_len;
    if (body > INT32_MAX) return SK_ELIMIT;
    size_t need = c->plain_len + 5 + body;
    if (need > c->plain_cap) {
        size_t cap = SK_MAX(need, c->plain_cap * 2);
        uint8_t *v = realloc(c->plain, cap);
        if (!v) return SK_ENOMEM;
        c->plain = v;
        c->plain_cap = cap;
    }
    uint8_t *d = c->plain + c->plain_len;
    d = put_varlong(d, (int32_t)body);
    *d++ = (uint8_t)r->attributes;
    d = put_varlong(d, tsd);
    d = put_varlong(d, od);
    d = put_varlong(d, r->key.len);
    if (r->key.len > 0) memcpy(d, r->key.ptr, (size_t)r->key.len), d += r->key.len;
    d = put_varlong(d, r->value.len);
    if (r->value.len > 0) memcpy(d, r->value.ptr, (size_t)r->value.len), d += r->value.len;
    d = put_varlong(d, r->header_count);
    if (r->headers_len) memcpy(d, r->headers, r->headers_len), d += r->headers_len;
    c->plain_len = (size_t)(d - c->plain);
    return SK_OK;
}

/* Header of a rebuilt (or emptied) batch: the original's identity, new contents. */
static void
batch_header_write(uint8_t *b, size_t total, const sk_batch_hdr_t *h, int16_t attributes, int64_t base_ts,
                   int64_t max_ts, int32_t count)
{
    sk_put_be64(b, (uint64_t)h->base_offset);
    sk_put_be32(b + 8, (uint32_t)(total - SK_LOG_OVERHEAD));
    sk_put_be32(b + 12, (uint32_t)h->partition_leader_epoch);
    b[SK_BATCH_MAGIC_OFFSET] = 2;
    sk_put_be16(b + SK_BATCH_ATTR_OFFSET, (uint16_t)attributes);
    sk_put_be32(b + 23, (uint32_t)h->last_offset_delta);
    sk_put_be64(b + 27, (uint64_t)base_ts);
    sk_put_be64(b + 35, (uint64_t)max_ts);
    sk_put_be64(b + 43, (uint64_t)h->producer_id);
    sk_put_be16(b + 51, (uint16_t)h->producer_epoch);
    sk_put_be32(b + 53, (uint32_t)h->base_sequence);
    sk_put_be32(b + 57, (uint32_t)count);
    sk_batch_crc_set(b, total);
}

/* Kafka's DefaultRecordBatch.writeEmptyHeader: no records, same offsets and producer
 * fields, no codec, both timestamps the original maximum. */
static int
batch_write_empty(clean_ctx_t *c, const sk_batch_hdr_t *h)
{
    uint8_t b[SK_BATCH_HEADER_SIZE];
    int16_t attr = (int16_t)(h->attributes & ~(SK_ATTR_CODEC_MASK | SK_ATTR_DELETE_HORIZON));
    batch_header_write(b, sizeof(b), h, attr, h->max_timestamp, h->max_timestamp, 0);
    return out_batch(c->out, b, sizeof(b), h->base_offset, h->base_offset + h->last_offset_delta, h->max_timestamp);
}

/* Re-encode the kept records (pass 2) into a batch with the original's identity and
 * codec, and the delete horizon when there is one. */
static int
batch_rebuild(clean_ctx_t *c, const uint8_t *b, size_t len, const sk_batch_hdr_t *h, int64_t horizon)
{
    sk_codec_t codec = (sk_codec_t)(h->attributes & SK_ATTR_CODEC_MASK);
    uint8_t *packed = NULL, *out = NULL;
    size_t packed_len = 0;
    int rc;

    c->plain_len = 0;
    c->new_base_ts = horizon >= 0 ? horizon : c->first_ts;
    rc = sk_batch_foreach_record(b, len, SK_LOOKUP_DECOMPRESS_MAX, encode_cb, c);
    if (rc != SK_OK) goto done;
    const uint8_t *body = c->plain;
    size_t body_len = c->plain_len;
    if (codec != SK_CODEC_NONE) {
        rc = sk_compress(codec, c->plain, c->plain_len, &packed, &packed_len);
        if (rc != SK_OK) goto done;
        body = packed;
        body_len = packed_len;
    }
    rc = SK_ELIMIT;
    if (body_len > (size_t)INT32_MAX - SK_BATCH_HEADER_SIZE) goto done;
    size_t total = SK_BATCH_HEADER_SIZE + body_len;
    rc = SK_ENOMEM;
    out = malloc(total);
    if (!out) goto done;
    memcpy(out + SK_BATCH_HEADER_SIZE, body, body_len);
    int16_t attr = (int16_t)(h->attributes & ~SK_ATTR_DELETE_HORIZON);
    if (horizon >= 0) attr = (int16_t)(attr | SK_ATTR_DELETE_HORIZON);
    int64_t max_ts = (h->attributes & SK_ATTR_LOG_APPEND_TIME) ? h->max_timestamp : c->max_ts;
    batch_header_write(out, total, h, attr, c->new_base_ts, max_ts, c->kept);
    rc = out_batch(c->out, out, total, h->base_offset, h->base_offset + h->last_offset_delta, max_ts);
done:
    free(packed);
    free(out);
    return rc;
}

static bool
producer_last_batch(const sk_clean_task_t *t, const sk_batch_hdr_t *h)
{
    int32_t lo = 0, hi = t->prod_count - 1;
    if (h->producer_id < 0) return false;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (t->prods[mid].producer_id == h->producer_id)
            return t->prods[mid].last_offset == h->base_offset + h->last_offset_delta;
        if (t->prods[mid].producer_id < h->producer_id) lo = mid + 1;
        else hi = mid - 1;
    }
    return false;
}

static int64_t
horizon_add(int64_t now_ms, int64_t retention_ms)
{
    return retention_ms > INT64_MAX - now_ms ? INT64_MAX : now_ms + retention_ms;
}

static int
clean_batch_cb(void *ctx, const sk_batch_hdr_t *h, const uint8_t *b, size_t len)
{
    clean_ctx_t *c = ctx;
    int64_t last = h->base_offset + h->last_offset_delta;
    bool keep_empty = last == c->group_end - 1 || producer_last_batch(c->t, h);
    int rc;

    if (task_cancelled(c->t)) return SK_EINVAL;
    if (h->attributes & (SK_ATTR_CONTROL | SK_ATTR_TRANSACTIONAL))
        return out_batch(c->out, b, len, h->base_offset, last, h->max_timestamp);
    c->h = h;
    c->horizon = (h->attributes & SK_ATTR_DELETE_HORIZON) ? h->base_timestamp : -1;
    c->kept = c->dropped = 0;
    c->kept_tombstone = false;
    c->first_ts = c->max_ts = -1;
    if (h->records_count > 0) {
        rc = sk_batch_foreach_record(b, len, SK_LOOKUP_DECOMPRESS_MAX, count_cb, c);
        if (rc != SK_OK) return rc;
    }
    int64_t horizon = c->horizon;
    if (c->kept_tombstone && horizon < 0) horizon = horizon_add(c->t->now_ms, c->t->delete_retention_ms);
    if (c->kept_tombstone && (c->t->min_horizon_ms < 0 || horizon < c->t->min_horizon_ms))
        c->t->min_horizon_ms = horizon;
    c->t->stats.records_removed += c->dropped;
    if (c->dropped == 0 && horizon == c->horizon && (c->kept > 0 || keep_empty))
        return out_batch(c->out, b, len, h->base_offset, last, h->max_timestamp);
    c->changed = true;
    if (c->kept == 0) {
        if (keep_empty) return batch_write_empty(c, h);
        c->t->stats.batches_removed++;
        return SK_OK;
    }
    return batch_rebuild(c, b, len, h, horizon);
}

/* ---- one group ---- */

static void
cleaned_path(char *out, size_t cap, const char *dir, int64_t base, const char *ext)
{
    char e[32];
    snprintf(e, sizeof(e), "%s%s", ext, SK_CLEANED_EXT);
    sk_seg_path(out, cap, dir, base, e);
}

void
sk_clean_group_unlink(const char *dir, int64_t base)
{
    static const char *const exts[] = {".log", ".index", ".timeindex", SK_TXNIDX_EXT};
    char path[SK_PATH_MAX];
    for (size_t i = 0; i < SK_ARRAY_LEN(exts); i++) {
        cleaned_path(path, sizeof(path), dir, base, exts[i]);
        unlink(path);
    }
}

static int
write_index_file(const char *dir, int64_t base, const char *ext, const idx_buf_t *x)
{
    char path[SK_PATH_MAX];
    size_t done = 0;
    int rc = SK_EIO;
    cleaned_path(path, sizeof(path), dir, base, ext);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return SK_EIO;
    while (done < x->len) {
        ssize_t n = write(fd, x->v + done, x->len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) goto done;
        done += (size_t)n;
    }
    rc = fdatasync(fd) == 0 ? SK_OK : SK_EIO;
done:
    close(fd);
    return rc;
}

/* May segment j join the group that starts at first and has written out_pos bytes?
 * Kafka groups by the input sizes (groupSegmentsBySize); grouping by what the cleaned
 * output will be at most lets segments that shrank merge in the same pass. */
static bool
group_extends(const sk_clean_task_t *t, int32_t first, int32_t j, int64_t out_pos)
{
    int64_t max_bytes = SK_MIN(t->segment_bytes, (int64_t)INT32_MAX);
    if (j >= t->seg_count || t->segs[j].base_offset >= t->map_end) return false;
    if (out_pos + t->segs[j].size_bytes > max_bytes) return false;
    return t->segs[j].next_offset - 1 - t->segs[first].base_offset <= INT32_MAX;
}

/* Write the group starting at segs[g->first]: as many following segments as fit. */
/* The aborted transactions of the group's segments, in order, into one
 * <base>.txnindex.cleaned (none when no segment had any): the swap keeps what
 * read_committed fetches need. Sealed segments' .txnindex files no longer change. */
static int
group_txnindex(const sk_clean_task_t *t, const sk_clean_group_t *g)
{
    char path[SK_PATH_MAX];
    idx_buf_t x = {0};
    int rc = SK_OK;

    for (int32_t i = 0; rc == SK_OK && i < g->count; i++) {
        char *data = NULL;
        size_t len = 0;
        sk_seg_path(path, sizeof(path), t->dir, t->segs[g->first + i].base_offset, SK_TXNIDX_EXT);
        rc = sk_read_file(path, SK_TXNIDX_FILE_MAX_BYTES, &data, &len);
        if (rc == SK_ENOENT) {
            rc = SK_OK;
            continue;
        }
        if (rc == SK_OK) rc = idx_add(&x, (const uint8_t *)data, len - len % SK_TXNIDX_ENTRY_SIZE);
        free(data);
    }
    if (rc == SK_OK && x.len > 0) rc = write_index_file(t->dir, t->segs[g->first].base_offset, SK_TXNIDX_EXT, &x);
    free(x.v);
    return rc;
}

static int
group_clean(sk_clean_task_t *t, const sk_clean_map_t *map, sk_clean_group_t *g, uint8_t *buf, size_t cap)
{
    char path[SK_PATH_MAX];
    const sk_clean_seg_t *first = &t->segs[g->first];
    out_seg_t o = {.log.fd = -1, .base_offset = first->base_offset, .max_ts = -1, .max_ts_offset = -1,
                   .last_tidx_ts = -1, .index_interval_bytes = t->index_interval_bytes};
    clean_ctx_t c = {.t = t, .map = map, .out = &o};
    int rc = SK_ENOMEM;

    o.log.buf = malloc(OUT_BUF_BYTES);
    if (!o.log.buf) goto done;
    cleaned_path(path, sizeof(path), t->dir, first->base_offset, ".log");
    rc = SK_EIO;
    o.log.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o.log.fd < 0) goto done;
    g->count = 0;
    do {
        const sk_clean_seg_t *seg = &t->segs[g->first + g->count];
        /* The group may end with this segment: its last batch must stay. */
        c.group_end = seg->next_offset;
        rc = seg_walk(seg, buf, cap, clean_batch_cb, &c);
        if (rc != SK_OK) goto done;
        t->stats.bytes_read += seg->size_bytes;
        g->count++;
    } while (group_extends(t, g->first, g->first + g->count, o.log.pos));
    if (g->count > 1) c.changed = true;
    if (!c.changed) {
        rc = SK_OK;
        goto done; /* identical: nothing to swap */
    }
    rc = out_flush(&o.log);
    if (rc == SK_OK) rc = fdatasync(o.log.fd) == 0 ? SK_OK : SK_EIO;
    if (rc == SK_OK) rc = out_time_entry(&o);
    if (rc == SK_OK) rc = write_index_file(t->dir, first->base_offset, ".index", &o.oidx);
    if (rc == SK_OK) rc = write_index_file(t->dir, first->base_offset, ".timeindex", &o.tidx);
    if (rc == SK_OK) rc = group_txnindex(t, g);
    if (rc != SK_OK) goto done;
    g->written = true;
    g->size_bytes = o.log.pos;
    t->stats.bytes_written += o.log.pos;
done:
    if (o.log.fd >= 0) close(o.log.fd);
    if (!g->written) sk_clean_group_unlink(t->dir, first->base_offset);
    free(o.log.buf);
    free(o.oidx.v);
    free(o.tidx.v);
    free(c.plain);
    return rc;
}

/* Groups of consecutive segments below map_end, one cleaned segment each. */
static int
groups_write(sk_clean_task_t *t, const sk_clean_map_t *map, uint8_t *buf, size_t cap)
{
    int rc = SK_OK;
    t->groups = calloc((size_t)SK_MAX(t->seg_count, 1), sizeof(*t->groups));
    if (!t->groups) return SK_ENOMEM;
    for (int32_t i = 0; rc == SK_OK && i < t->seg_count && t->segs[i].base_offset < t->map_end;) {
        sk_clean_group_t *g = &t->groups[t->group_count++];
        g->first = i;
        rc = group_clean(t, map, g, buf, cap);
        i += SK_MAX(g->count, 1);
    }
    return rc;
}

void
sk_clean_task_run(sk_clean_task_t *t)
{
    sk_clean_map_t map = {0};
    size_t cap = (size_t)SK_MAX(t->io_buffer_bytes, SK_SCAN_BLOCK_BYTES);
    int64_t t0 = sk_mono_us();
    uint8_t *buf = malloc(cap);
    int rc = SK_ENOMEM;

    t->min_horizon_ms = -1;
    if (!buf) goto done;
    rc = sk_clean_map_init(&map, t->map_bytes);
    if (rc == SK_OK) rc = sk_clean_build_map(t, &map, buf, cap);
    if (rc == SK_OK) rc = groups_write(t, &map, buf, cap);
    if (rc != SK_OK) {
        for (int32_t i = 0; i < t->group_count; i++) {
            if (t->groups[i].written) sk_clean_group_unlink(t->dir, t->segs[t->groups[i].first].base_offset);
            t->groups[i].written = false;
        }
    }
done:
    t->stats.elapsed_us = sk_mono_us() - t0;
    t->stats.clean_offset = t->map_end;
    t->rc = rc;
    sk_clean_map_deinit(&map);
    free(buf);
}
