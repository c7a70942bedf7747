/* storage/segment.c: one log segment: <base offset>.log holding record batches exactly
 * as on the wire, with its sparse .index and .timeindex (index.c). Owns the .log fd
 * through a refcounted sk_fref_t, so a read slice handed to sendfile keeps the file open
 * after the segment is closed or deleted. Also the block reader used to walk batch
 * headers, and recovery of one segment (re-validate every batch, cut a torn tail,
 * rebuild the indexes). Runs on the partition's thread.
 * Invariants: batches back to back from position 0 with increasing offsets starting at
 * base_offset (contiguous, except in a segment the cleaner rewrote, which has gaps and
 * may start later; it still ends at the next segment's base); size_bytes is where the
 * next batch goes; an index entry (last offset of
 * a batch, position of that batch) is added once more than index.interval.bytes were
 * appended since the previous one, as Kafka does. Format: docs/storage-format.md. */
#include "storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECOVER_BLOCK_BYTES (1u << 20)

void
sk_seg_path(char *out, size_t cap, const char *dir, int64_t base_offset, const char *ext)
{
    int n = snprintf(out, cap, "%s/%020lld%s", dir, (long long)base_offset, ext);
    SK_ASSERT(n > 0 && (size_t)n < cap);
}

/* ---- block reader ---- */

void
sk_scan_init(sk_scan_t *s, int fd, int64_t limit, uint8_t *buf, size_t cap)
{
    SK_ASSERT(cap >= SK_BATCH_HEADER_SIZE);
    s->fd = fd;
    s->limit = limit;
    s->buf = buf;
    s->cap = cap;
    s->buf_pos = 0;
    s->buf_len = 0;
}

int
sk_scan_get(sk_scan_t *s, int64_t pos, size_t len, const uint8_t **p)
{
    SK_ASSERT(len <= s->cap && pos >= 0);
    if (pos + (int64_t)len > s->limit) return SK_ECORRUPT;
    if (pos >= s->buf_pos && pos + (int64_t)len <= s->buf_pos + (int64_t)s->buf_len) {
        *p = s->buf + (pos - s->buf_pos);
        return SK_OK;
    }
    size_t want = (size_t)SK_MIN((int64_t)s->cap, s->limit - pos);
    size_t got = 0;
    s->buf_pos = pos;
    s->buf_len = 0;
    while (got < want) {
        ssize_t n = pread(s->fd, s->buf + got, want - got, pos + (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return SK_EIO;
        if (n == 0) break;
        got += (size_t)n;
    }
    s->buf_len = got;
    if (got < len) return SK_ECORRUPT; /* the file is shorter than we were told */
    *p = s->buf;
    return SK_OK;
}

int
sk_scan_hdr(sk_scan_t *s, int64_t pos, sk_batch_hdr_t *h)
{
    const uint8_t *p;
    int rc;

    if (pos >= s->limit) return SK_ENOENT;
    rc = sk_scan_get(s, pos, SK_BATCH_HEADER_SIZE, &p);
    if (rc != SK_OK) return rc;
    if (sk_batch_hdr_parse(p, SK_BATCH_HEADER_SIZE, h) != SK_OK) return SK_ECORRUPT;
    if (h->last_offset_delta < 0 || h->base_offset < 0) return SK_ECORRUPT;
    if (h->base_offset > INT64_MAX - h->last_offset_delta) return SK_ECORRUPT;
    if ((int64_t)h->batch_length + SK_LOG_OVERHEAD > s->limit - pos) return SK_ECORRUPT;
    return SK_OK;
}

/* ---- life cycle ---- */

static sk_seg_t *
seg_alloc(const char *dir, int64_t base_offset)
{
    sk_seg_t *seg = calloc(1, sizeof(*seg));
    if (!seg) return NULL;
    seg->dir = dir;
    seg->base_offset = base_offset;
    seg->next_offset = base_offset;
    seg->max_ts = -1;
    seg->max_ts_offset = -1;
    seg->roll_base_ts = -1;
    seg->created_ms = sk_wall_ms();
    seg->oidx.fd = -1;
    seg->tidx.fd = -1;
    return seg;
}

void
sk_seg_free(sk_seg_t *seg)
{
    if (!seg) return;
    sk_index_close(&seg->oidx);
    sk_index_close(&seg->tidx);
    sk_fref_put(seg->log);
    free(seg);
}

static int
seg_open_indexes(sk_seg_t *seg, const sk_log_config_t *cfg, bool writable)
{
    char path[SK_PATH_MAX];
    int32_t max_bytes = SK_MAX(cfg->segment_index_bytes, 2 * SK_TIMEIDX_ENTRY_SIZE);
    int rc;

    sk_index_close(&seg->oidx);
    sk_index_close(&seg->tidx);
    sk_seg_path(path, sizeof(path), seg->dir, seg->base_offset, ".index");
    rc = sk_index_open(&seg->oidx, path, SK_OFFIDX_ENTRY_SIZE, max_bytes, writable);
    if (rc != SK_OK) return rc;
    sk_seg_path(path, sizeof(path), seg->dir, seg->base_offset, ".timeindex");
    return sk_index_open(&seg->tidx, path, SK_TIMEIDX_ENTRY_SIZE, max_bytes, writable);
}

static int
seg_open_log(sk_seg_t *seg, bool create)
{
    char path[SK_PATH_MAX];
    struct stat st;
    int fd;

    sk_seg_path(path, sizeof(path), seg->dir, seg->base_offset, ".log");
    fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) return errno == ENOENT ? SK_ENOENT : SK_EIO;
    if (fstat(fd, &st) != 0) goto fail;
    if (create && st.st_size > 0) {
        /* Left over beyond the log end by an earlier crash: nothing in it is ours. */
        SK_WARN("event=stale_segment path=%s bytes=%lld", path, (long long)st.st_size);
        if (ftruncate(fd, 0) != 0) goto fail;
        st.st_size = 0;
    }
    seg->log = sk_fref_new(fd);
    if (!seg->log) {
        close(fd);
        return SK_ENOMEM;
    }
    seg->size_bytes = st.st_size;
    return SK_OK;
fail:
    close(fd);
    return SK_EIO;
}

int
sk_seg_create(const char *dir, int64_t base_offset, const sk_log_config_t *cfg, sk_seg_t **out)
{
    char path[SK_PATH_MAX];
    int rc = SK_ENOMEM;
    sk_seg_t *seg = seg_alloc(dir, base_offset);

    SK_ASSERT(base_offset >= 0);
    if (!seg) goto fail;
    sk_seg_path(path, sizeof(path), dir, base_offset, ".index");
    unlink(path);
    sk_seg_path(path, sizeof(path), dir, base_offset, ".timeindex");
    unlink(path);
    rc = seg_open_log(seg, true);
    if (rc != SK_OK) goto fail;
    rc = seg_open_indexes(seg, cfg, true);
    if (rc != SK_OK) goto fail;
    seg->active = true;
    *out = seg;
    return SK_OK;
fail:
    sk_seg_free(seg);
    return rc;
}

/* The index of a segment we did not recover must at least point inside it. */
static bool
seg_index_sane(const sk_seg_t *seg)
{
    int64_t ts_prev = -1;
    uint32_t rel_prev = 0, pos_prev = 0;
    for (int32_t i = 0; i < seg->oidx.entries; i++) {
        uint32_t rel, pos;
        sk_index_entry_off(&seg->oidx, i, &rel, &pos);
        if ((int64_t)pos >= seg->size_bytes) return false;
        if (i > 0 && (rel <= rel_prev || pos <= pos_prev)) return false;
        rel_prev = rel;
        pos_prev = pos;
    }
    for (int32_t i = 0; i < seg->tidx.entries; i++) {
        int64_t ts;
        uint32_t rel;
        sk_index_entry_time(&seg->tidx, i, &ts, &rel);
        if (ts <= ts_prev) return false;
        ts_prev = ts;
    }
    return true;
}

/* Once next_offset is known: every index entry must name an offset inside the segment
 * (a trusted index from disk may not; sk_log_verify requires it). */
static bool
seg_index_within(const sk_seg_t *seg)
{
    int64_t span = seg->next_offset - seg->base_offset;
    for (int32_t i = 0; i < seg->oidx.entries; i++) {
        uint32_t rel, pos;
        sk_index_entry_off(&seg->oidx, i, &rel, &pos);
        if ((int64_t)rel >= span) return false;
    }
    for (int32_t i = 0; i < seg->tidx.entries; i++) {
        int64_t ts;
        uint32_t rel;
        sk_index_entry_time(&seg->tidx, i, &ts, &rel);
        if ((int64_t)rel >= span) return false;
    }
    return true;
}

/* From the last offset-index entry, walk to the end of the file: finds next_offset and
 * checks the tail lines up with the file size. */
static int
seg_scan_tail(sk_seg_t *seg)
{
    uint8_t buf[SK_SCAN_BLOCK_BYTES];
    sk_scan_t s;
    sk_batch_hdr_t h;
    int64_t pos = 0;
    int rc;

    if (seg->oidx.entries > 0) {
        uint32_t rel, p;
        sk_index_entry_off(&seg->oidx, seg->oidx.entries - 1, &rel, &p);
        pos = p;
    }
    sk_scan_init(&s, seg->log->fd, seg->size_bytes, buf, sizeof(buf));
    if (seg->size_bytes > 0) {
        /* The first batch belongs to this segment (a sealed one's may start later,
         * after compaction, never earlier). */
        rc = sk_scan_hdr(&s, 0, &h);
        if (rc != SK_OK) return rc == SK_ENOENT ? SK_ECORRUPT : rc;
        if (seg->active) seg->roll_base_ts = h.max_timestamp;
        if (seg->active ? h.base_offset != seg->base_offset : h.base_offset < seg->base_offset)
            return SK_ECORRUPT;
    }
    while ((rc = sk_scan_hdr(&s, pos, &h)) == SK_OK) {
        int64_t last = h.base_offset + h.last_offset_delta;
        int64_t total = (int64_t)h.batch_length + SK_LOG_OVERHEAD;
        if (h.base_offset < seg->next_offset) return SK_ECORRUPT;
        /* Relative offsets and positions must fit the u32 index entries. */
        if (last - seg->base_offset > INT32_MAX || pos + total > UINT32_MAX) return SK_ECORRUPT;
        if (h.max_timestamp > seg->max_ts) {
            seg->max_ts = h.max_timestamp;
            seg->max_ts_offset = last;
        }
        seg->next_offset = last + 1;
        pos += total;
    }
    return rc == SK_ENOENT ? SK_OK : rc;
}

int
sk_seg_open(const char *dir, int64_t base_offset, const sk_log_config_t *cfg, bool active, sk_seg_t **out)
{
    int rc = SK_ENOMEM;
    sk_seg_t *seg = seg_alloc(dir, base_offset);

    if (!seg) goto fail;
    rc = seg_open_log(seg, false);
    if (rc != SK_OK) goto fail;
    seg->active = active;
    *out = seg; /* from here the caller may recover it instead */
    rc = seg_open_indexes(seg, cfg, active);
    if (rc != SK_OK) return rc == SK_ENOENT ? SK_ECORRUPT : rc;
    if (seg->tidx.entries > 0) {
        int64_t ts;
        uint32_t rel;
        sk_index_entry_time(&seg->tidx, seg->tidx.entries - 1, &ts, &rel);
        seg->max_ts = ts;
        seg->max_ts_offset = seg->base_offset + rel;
    }
    if (!seg_index_sane(seg)) return SK_ECORRUPT;
    rc = seg_scan_tail(seg);
    if (rc != SK_OK) return rc;
    return seg_index_within(seg) ? SK_OK : SK_ECORRUPT;
fail:
    sk_seg_free(seg);
    return rc;
}

static void
seg_time_index_maybe(sk_seg_t *seg, bool final)
{
    sk_index_t *ix = &seg->tidx;
    int64_t last_ts = -1;
    uint32_t rel;

    if (seg->max_ts < 0) return;
    if (ix->entries > 0) sk_index_entry_time(ix, ix->entries - 1, &last_ts, &rel);
    if (seg->max_ts <= last_ts) return;
    if (ix->entries >= ix->max_entries || (!final && sk_index_full(ix))) return;
    sk_index_append_time(ix, seg->max_ts, (uint32_t)(seg->max_ts_offset - seg->base_offset));
}

void
sk_seg_note_batch(sk_seg_t *seg, const sk_batch_hdr_t *h, int64_t pos, int64_t total,
                  int32_t index_interval_bytes)
{
    int64_t last = h->base_offset + h->last_offset_delta;

    SK_ASSERT(pos == seg->size_bytes && h->base_offset >= seg->next_offset);
    SK_ASSERT(last - seg->base_offset <= INT32_MAX && pos <= UINT32_MAX);
    if (pos == 0) seg->roll_base_ts = h->max_timestamp;
    if (h->max_timestamp > seg->max_ts) {
        seg->max_ts = h->max_timestamp;
        seg->max_ts_offset = last;
    }
    if (seg->bytes_since_index > index_interval_bytes && !sk_index_full(&seg->oidx)) {
        sk_index_append_off(&seg->oidx, (uint32_t)(last - seg->base_offset), (uint32_t)pos);
        seg_time_index_maybe(seg, false);
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += total;
    seg->size_bytes = pos + total;
    seg->next_offset = last + 1;
    seg->synced = false;
}

/* CRC-32C of the batch at pos (total bytes), streamed through the block reader. */
static int
seg_batch_crc_ok(sk_scan_t *s, int64_t pos, int64_t total, bool *ok)
{
    const uint8_t *p;
    uint32_t want, crc = 0;
    int64_t at = pos + SK_BATCH_ATTR_OFFSET, end = pos + total;
    int rc = sk_scan_get(s, pos, SK_BATCH_HEADER_SIZE, &p);

    if (rc != SK_OK) return rc;
    want = sk_be32(p + SK_BATCH_CRC_OFFSET);
    while (at < end) {
        size_t n = (size_t)SK_MIN((int64_t)s->cap, end - at);
        rc = sk_scan_get(s, at, n, &p);
        if (rc != SK_OK) return rc;
        crc = sk_crc32c(crc, p, n);
        at += (int64_t)n;
    }
    *ok = crc == want;
    return SK_OK;
}

/* Walk every batch from position 0; stops at the first invalid one. */
static int
seg_recover_walk(sk_seg_t *seg, const sk_log_config_t *cfg, sk_scan_t *s, sk_seg_epoch_cb cb, void *ctx)
{
    sk_batch_hdr_t h;
    int64_t pos = 0;
    int rc;

    for (;;) {
        bool crc_ok = false;
        rc = sk_scan_hdr(s, pos, &h);
        if (rc == SK_ENOENT || rc == SK_ECORRUPT) return SK_OK;
        if (rc != SK_OK) return rc;
        int64_t total = (int64_t)h.batch_length + SK_LOG_OVERHEAD;
        int64_t last = h.base_offset + h.last_offset_delta;
        /* Offsets only increase; a compacted segment has gaps between batches. */
        if (h.base_offset < seg->next_offset) return SK_OK;
        if (last - seg->base_offset > INT32_MAX || pos + total > UINT32_MAX) return SK_OK;
        if (h.records_count < 0 || h.records_count > h.last_offset_delta + 1) return SK_OK;
        rc = seg_batch_crc_ok(s, pos, total, &crc_ok);
        if (rc == SK_ECORRUPT) return SK_OK;
        if (rc != SK_OK) return rc;
        if (!crc_ok) return SK_OK;
        if (cb && h.partition_leader_epoch >= 0) cb(ctx, h.partition_leader_epoch, h.base_offset);
        sk_seg_note_batch(seg, &h, pos, total, cfg->index_interval_bytes);
        pos += total;
    }
}

int
sk_seg_recover(sk_seg_t *seg, const sk_log_config_t *cfg, sk_seg_epoch_cb cb, void *ctx,
               int64_t *truncated_bytes)
{
    struct stat st;
    sk_scan_t s;
    uint8_t *buf = NULL;
    int rc = seg_open_indexes(seg, cfg, true);

    if (rc != SK_OK) goto fail;
    rc = SK_EIO;
    if (fstat(seg->log->fd, &st) != 0) goto fail;
    rc = SK_ENOMEM;
    buf = malloc(RECOVER_BLOCK_BYTES);
    if (!buf) goto fail;
    sk_index_reset(&seg->oidx);
    sk_index_reset(&seg->tidx);
    seg->size_bytes = 0;
    seg->next_offset = seg->base_offset;
    seg->max_ts = seg->max_ts_offset = seg->roll_base_ts = -1;
    seg->bytes_since_index = 0;
    sk_scan_init(&s, seg->log->fd, st.st_size, buf, RECOVER_BLOCK_BYTES);
    rc = seg_recover_walk(seg, cfg, &s, cb, ctx);
    if (rc != SK_OK) goto fail;
    *truncated_bytes = st.st_size - seg->size_bytes;
    if (*truncated_bytes > 0 && ftruncate(seg->log->fd, seg->size_bytes) != 0) {
        rc = SK_EIO;
        goto fail;
    }
    seg->active = true;
    free(buf);
    return SK_OK;
fail:
    free(buf);
    return rc;
}

int
sk_seg_seal(sk_seg_t *seg)
{
    int rc;

    if (seg->oidx.writable) {
        seg_time_index_maybe(seg, true);
        rc = sk_index_trim(&seg->oidx);
        if (rc != SK_OK) return rc;
        rc = sk_index_trim(&seg->tidx);
        if (rc != SK_OK) return rc;
    }
    seg->active = false;
    return SK_OK;
}

int
sk_seg_activate(sk_seg_t *seg, const sk_log_config_t *cfg)
{
    if (!seg->oidx.writable) {
        int rc = seg_open_indexes(seg, cfg, true);
        if (rc != SK_OK) return rc;
    }
    seg->active = true;
    return SK_OK;
}

int
sk_seg_sync(sk_seg_t *seg)
{
    if (seg->synced) return SK_OK;
    if (fdatasync(seg->log->fd) != 0) return SK_EIO;
    if (sk_index_sync(&seg->oidx) != SK_OK || sk_index_sync(&seg->tidx) != SK_OK) return SK_EIO;
    if (!seg->active) {
        /* Sealed and durable: the mappings are enough from now on. */
        close(seg->oidx.fd);
        seg->oidx.fd = -1;
        close(seg->tidx.fd);
        seg->tidx.fd = -1;
    }
    seg->synced = true;
    return SK_OK;
}

int
sk_seg_unlink(const char *dir, int64_t base_offset)
{
    static const char *const exts[] = {".log", ".index", ".timeindex", ".txnindex"};
    char path[SK_PATH_MAX];
    int rc = SK_OK;
    for (size_t i = 0; i < SK_ARRAY_LEN(exts); i++) {
        sk_seg_path(path, sizeof(path), dir, base_offset, exts[i]);
        if (unlink(path) != 0 && errno != ENOENT) rc = SK_EIO;
    }
    return rc;
}

int
sk_seg_find(const sk_seg_t *seg, int64_t offset, int64_t *pos, sk_batch_hdr_t *h, bool *found)
{
    uint8_t buf[SK_SCAN_BLOCK_BYTES];
    sk_scan_t s;
    int64_t p = 0;
    int rc;

    if (offset > seg->base_offset && offset - seg->base_offset <= UINT32_MAX) {
        int32_t i = sk_index_find_off(&seg->oidx, (uint32_t)(offset - seg->base_offset));
        if (i >= 0) {
            uint32_t rel, ipos;
            sk_index_entry_off(&seg->oidx, i, &rel, &ipos);
            if ((int64_t)ipos < seg->size_bytes) p = ipos;
        }
    }
    sk_scan_init(&s, seg->log->fd, seg->size_bytes, buf, sizeof(buf));
    *found = false;
    while ((rc = sk_scan_hdr(&s, p, h)) == SK_OK) {
        if (h->base_offset + h->last_offset_delta >= offset) {
            *found = true;
            *pos = p;
            return SK_OK;
        }
        p += (int64_t)h->batch_length + SK_LOG_OVERHEAD;
    }
    *pos = seg->size_bytes;
    return rc == SK_ENOENT ? SK_OK : rc;
}
