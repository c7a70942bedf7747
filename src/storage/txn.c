/* storage/txn.c: the transactional side of a partition log.
 *
 *  - Markers: sk_log_append_marker builds a control batch in Kafka's layout (attributes
 *    transactional | control, base sequence -1, the producer's id and epoch) holding one
 *    record: key = version i16 0 + type i16 (0 abort, 1 commit), value = version i16 0 +
 *    coordinator epoch i32. It is appended through sk_log_append like any batch, which
 *    applies every control batch it writes (sk_txn_control_appended, also for batches
 *    a follower will copy): sk_txn_marker_apply ends the producer's ongoing
 *    transaction and, for an abort, records it in the aborted-transaction index.
 *  - Last stable offset: the first offset of the oldest ongoing transaction (the head of
 *    the producer state's ordered list, O(1)), no lower than the log start, capped by
 *    the high watermark; the high watermark when no transaction is open.
 *  - Aborted-transaction index: <base>.txnindex per segment (layout in storage_int.h and
 *    docs/storage-format.md), appended when an abort marker lands in that segment. All
 *    entries of the log are kept in memory too (log->aborted, ascending by last offset,
 *    which is also file order), so that Fetch at read_committed answers without I/O.
 *    The files are fsynced with the log (sk_log_flush); after a crash the producer state
 *    replay (producer_state.c) starts at or below the old recovery point, drops the
 *    entries at or after its start (files cut to match) and re-adds them from the
 *    markers it meets, so an unsynced or torn entry is rebuilt, never trusted.
 * Invariants (sk_txn_verify via sk_log_verify): entries ascending by last offset, each
 * inside a live segment, first <= last < lso's bound (lso <= last + 1); the ongoing
 * list ordered.
 * Runs on the partition's thread. Format: docs/storage-format.md,
 * docs/transactions-storage.md. */
#include "storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define MARKER_DECOMPRESS_MAX (1u << 20)
#define CONTROL_TYPE_ABORT 0
#define CONTROL_TYPE_COMMIT 1

void
sk_txnidx_init(sk_txnidx_t *t)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    t->fd_base = -1;
}

void
sk_txnidx_deinit(sk_txnidx_t *t)
{
    if (t->fd >= 0) close(t->fd);
    free(t->v);
    sk_txnidx_init(t);
}

/* Index of the first entry whose last offset is >= offset (count when none). */
static int32_t
txnidx_lower_bound(const sk_txnidx_t *t, int64_t offset)
{
    int32_t lo = 0, hi = t->count;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].last_offset < offset) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Append an entry; SK_ECORRUPT when it would break the order (a replay of bytes from
 * disk that do not add up: never an assertion). */
static int
txnidx_push(sk_txnidx_t *t, const sk_aborted_t *a)
{
    if (t->count > 0 && t->v[t->count - 1].last_offset >= a->last_offset) return SK_ECORRUPT;
    if (t->count == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 16;
        sk_aborted_t *v = realloc(t->v, (size_t)cap * sizeof(*v));
        if (!v) return SK_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->count++] = *a;
    return SK_OK;
}

static void
txnidx_close_fd(sk_txnidx_t *t)
{
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    t->fd_base = -1;
    t->dirty = false;
    t->created = false;
}

static void
entry_encode(uint8_t out[SK_TXNIDX_ENTRY_SIZE], const sk_aborted_t *a)
{
    sk_put_be16(out, SK_TXNIDX_VERSION);
    sk_put_be64(out + 2, (uint64_t)a->producer_id);
    sk_put_be64(out + 10, (uint64_t)a->first_offset);
    sk_put_be64(out + 18, (uint64_t)a->last_offset);
    sk_put_be64(out + 26, (uint64_t)a->lso);
}

/* ---- loading ---- */

/* Parse one segment's file into the index; false at the first entry that cannot be
 * right (torn tail, bad version, out of the segment, out of order). */
static bool
load_one_file(sk_txnidx_t *t, const sk_seg_t *seg, const uint8_t *p, size_t len, int *rc)
{
    *rc = SK_OK;
    for (size_t at = 0; at + SK_TXNIDX_ENTRY_SIZE <= len; at += SK_TXNIDX_ENTRY_SIZE) {
        const uint8_t *q = p + at;
        sk_aborted_t a = {
            .producer_id = (int64_t)sk_be64(q + 2),
            .first_offset = (int64_t)sk_be64(q + 10),
            .last_offset = (int64_t)sk_be64(q + 18),
            .lso = (int64_t)sk_be64(q + 26),
        };
        if ((int16_t)sk_be16(q) != SK_TXNIDX_VERSION || a.producer_id < 0 || a.first_offset < 0 ||
            a.first_offset > a.last_offset || a.lso < 0 || a.lso > a.last_offset + 1 || a.last_offset < seg->base_offset ||
            a.last_offset >= seg->next_offset || (t->count > 0 && t->v[t->count - 1].last_offset >= a.last_offset))
            return false;
        *rc = txnidx_push(t, &a);
        if (*rc != SK_OK) return false;
    }
    return len % SK_TXNIDX_ENTRY_SIZE == 0;
}

int
sk_txn_index_load(sk_log_t *log, int64_t *valid_below)
{
    char path[SK_PATH_MAX];
    int rc = SK_OK;

    *valid_below = INT64_MAX;
    sk_txnidx_deinit(&log->aborted);
    for (int32_t i = 0; i < log->seg_count && rc == SK_OK; i++) {
        const sk_seg_t *seg = log->segs[i];
        char *data = NULL;
        size_t len = 0;
        sk_seg_path(path, sizeof(path), log->dir, seg->base_offset, SK_TXNIDX_EXT);
        rc = sk_read_file(path, SK_TXNIDX_FILE_MAX_BYTES, &data, &len);
        if (rc == SK_ENOENT) {
            rc = SK_OK;
            continue;
        }
        if (rc == SK_OK && !load_one_file(&log->aborted, seg, (const uint8_t *)data, len, &rc) && rc == SK_OK) {
            SK_WARN("event=txnindex_corrupt dir=%s base_offset=%lld action=rebuild", log->dir,
                    (long long)seg->base_offset);
            *valid_below = SK_MIN(*valid_below, seg->base_offset);
        } else if (rc != SK_OK && rc != SK_ENOMEM) {
            /* Unreadable (or larger than any sane index): rebuild it from the log. */
            SK_WARN("event=txnindex_unreadable dir=%s base_offset=%lld rc=%s", log->dir,
                    (long long)seg->base_offset, sk_strerror(rc));
            *valid_below = SK_MIN(*valid_below, seg->base_offset);
            rc = SK_OK;
        }
        free(data);
    }
    return rc;
}

/* Cut seg's file to its entries with last offset < offset (remove it when none). */
static int
truncate_file(const sk_log_t *log, const sk_seg_t *seg, int64_t offset)
{
    char path[SK_PATH_MAX];
    const sk_txnidx_t *t = &log->aborted;
    int32_t lo = txnidx_lower_bound(t, seg->base_offset);
    int32_t keep = txnidx_lower_bound(t, SK_MAX(offset, seg->base_offset)) - lo;

    sk_seg_path(path, sizeof(path), log->dir, seg->base_offset, SK_TXNIDX_EXT);
    if (keep == 0) {
        if (unlink(path) != 0 && errno != ENOENT) return SK_EIO;
        return SK_OK;
    }
    if (truncate(path, (off_t)keep * SK_TXNIDX_ENTRY_SIZE) != 0 && errno != ENOENT) return SK_EIO;
    return SK_OK;
}

int
sk_txn_index_truncate(sk_log_t *log, int64_t offset)
{
    sk_txnidx_t *t = &log->aborted;
    int rc = SK_OK;

    txnidx_close_fd(t);
    for (int32_t i = 0; i < log->seg_count; i++) {
        const sk_seg_t *seg = log->segs[i];
        if (seg->next_offset <= offset && i + 1 < log->seg_count) continue;
        int r = truncate_file(log, seg, offset);
        if (r != SK_OK && rc == SK_OK) rc = r;
    }
    t->count = txnidx_lower_bound(t, offset);
    return rc;
}

void
sk_txn_index_drop_below(sk_log_t *log, int64_t offset)
{
    sk_txnidx_t *t = &log->aborted;
    int32_t n = txnidx_lower_bound(t, offset);
    if (t->fd >= 0 && t->fd_base < offset) txnidx_close_fd(t);
    if (n == 0) return;
    memmove(t->v, t->v + n, (size_t)(t->count - n) * sizeof(*t->v));
    t->count -= n;
}

int
sk_txn_index_sync(sk_log_t *log)
{
    sk_txnidx_t *t = &log->aborted;
    if (t->fd < 0 || !t->dirty) return SK_OK;
    if (fdatasync(t->fd) != 0) return SK_EIO;
    /* A new file's entries survive a power loss only with its directory entry. */
    if (t->created && sk_fsync_dir(log->dir) != SK_OK) return SK_EIO;
    t->created = false;
    t->dirty = false;
    return SK_OK;
}

/* ---- appending ---- */

/* Make aborted.fd the .txnindex of seg (the segment holding the marker). */
static int
index_file_for(sk_log_t *log, const sk_seg_t *seg)
{
    char path[SK_PATH_MAX];
    sk_txnidx_t *t = &log->aborted;

    if (t->fd >= 0 && t->fd_base == seg->base_offset) return SK_OK;
    /* The previous file holds entries below the recovery point only once synced. */
    if (sk_txn_index_sync(log) != SK_OK) return SK_EIO;
    txnidx_close_fd(t);
    sk_seg_path(path, sizeof(path), log->dir, seg->base_offset, SK_TXNIDX_EXT);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    bool created = fd >= 0;
    if (!created && errno == EEXIST) fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return SK_EIO;
    t->created = created;
    t->fd = fd;
    t->fd_base = seg->base_offset;
    return SK_OK;
}

static int
index_append(sk_log_t *log, const sk_aborted_t *a)
{
    uint8_t buf[SK_TXNIDX_ENTRY_SIZE];
    const sk_seg_t *seg = sk_log_seg_for(log, a->last_offset);
    int rc;

    /* Replayed markers come from disk: a header that does not fit its segment is an
     * error to return, not an assertion. */
    if (!seg || a->last_offset >= seg->next_offset) return SK_ECORRUPT;
    if (log->aborted.count > 0 && log->aborted.v[log->aborted.count - 1].last_offset >= a->last_offset)
        return SK_ECORRUPT;
    rc = index_file_for(log, seg);
    if (rc != SK_OK) return rc;
    entry_encode(buf, a);
    size_t done = 0;
    while (done < sizeof(buf)) {
        ssize_t n = write(log->aborted.fd, buf + done, sizeof(buf) - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return SK_EIO;
        done += (size_t)n;
    }
    log->aborted.dirty = true;
    return txnidx_push(&log->aborted, a);
}

int
sk_txn_marker_apply(sk_log_t *log, int64_t producer_id, int16_t epoch, bool commit, int32_t coordinator_epoch,
                    int64_t offset, int64_t timestamp)
{
    int64_t first = -1, lso = -1;
    int rc = sk_pstate_end_txn(&log->pstate, producer_id, epoch, coordinator_epoch, offset, timestamp, &first, &lso);

    if (rc != SK_OK || commit || first < 0) return rc;
    sk_aborted_t a = {.producer_id = producer_id, .first_offset = first, .last_offset = offset, .lso = lso};
    return index_append(log, &a);
}

typedef struct marker_parse {
    int32_t records;
    bool ok;
    bool commit;
    int32_t coordinator_epoch;
} marker_parse_t;

static int
marker_record_cb(void *ctx, const sk_record_t *r)
{
    marker_parse_t *m = ctx;
    if (m->records++ > 0) return SK_OK;
    if (r->key.len < 4 || r->value.len < 6) return SK_OK;
    int16_t type = (int16_t)sk_be16(r->key.ptr + 2);
    if (type != CONTROL_TYPE_ABORT && type != CONTROL_TYPE_COMMIT) return SK_OK;
    m->ok = true;
    m->commit = type == CONTROL_TYPE_COMMIT;
    m->coordinator_epoch = (int32_t)sk_be32(r->value.ptr + 2);
    return SK_OK;
}

int
sk_txn_marker_parse(const uint8_t *batch, size_t len, bool *commit, int32_t *coordinator_epoch)
{
    marker_parse_t m = {0};
    sk_batch_hdr_t h;

    if (sk_batch_hdr_parse(batch, len, &h) != SK_OK || !(h.attributes & SK_ATTR_CONTROL)) return SK_ECORRUPT;
    if (sk_batch_foreach_record(batch, len, MARKER_DECOMPRESS_MAX, marker_record_cb, &m) != SK_OK || !m.ok)
        return SK_ECORRUPT;
    *commit = m.commit;
    *coordinator_epoch = m.coordinator_epoch;
    return SK_OK;
}

int
sk_txn_control_appended(sk_log_t *log, const uint8_t *batch, size_t len, const sk_batch_hdr_t *h, int64_t now_ms)
{
    bool commit = false;
    int32_t coord_epoch = -1;

    if (h->producer_id < 0 || h->producer_epoch < 0) return SK_OK;
    if (sk_txn_marker_parse(batch, len, &commit, &coord_epoch) != SK_OK) return SK_OK;
    return sk_txn_marker_apply(log, h->producer_id, h->producer_epoch, commit, coord_epoch, h->base_offset, now_ms);
}

int
sk_log_append_marker(sk_log_t *log, int64_t producer_id, int16_t producer_epoch, bool commit,
                     int32_t coordinator_epoch, int32_t leader_epoch, int64_t now_ms, sk_append_info_t *info)
{
    uint8_t key[4], value[6];
    uint8_t *batch = NULL;
    size_t len = 0;
    int16_t kerr = SK_KERR_NONE;
    sk_append_info_t local;
    int rc;

    if (!info) info = &local;
    memset(info, 0, sizeof(*info));
    if (sk_log_offline(log)) return SK_EIO;
    sk_pstate_check_marker(&log->pstate, producer_id, producer_epoch, coordinator_epoch, &kerr);
    if (kerr != SK_KERR_NONE) {
        info->error_code = kerr;
        return SK_EINVAL;
    }
    sk_put_be16(key, 0);
    sk_put_be16(key + 2, commit ? CONTROL_TYPE_COMMIT : CONTROL_TYPE_ABORT);
    sk_put_be16(value, 0);
    sk_put_be32(value + 2, (uint32_t)coordinator_epoch);
    sk_record_t rec = {.timestamp = now_ms, .key = {key, sizeof(key)}, .value = {value, sizeof(value)}};
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .attributes_extra = SK_ATTR_TRANSACTIONAL | SK_ATTR_CONTROL,
                            .producer_id = producer_id, .producer_epoch = producer_epoch, .base_sequence = -1,
                            .partition_leader_epoch = leader_epoch};
    rc = sk_batch_build(&spec, &rec, 1, &batch, &len);
    if (rc != SK_OK) return rc;
    /* sk_log_append applies the marker once written (sk_txn_control_appended); if that
     * fails the log goes offline and a restart replays it. */
    rc = sk_log_append(log, batch, len, leader_epoch, now_ms, info);
    free(batch);
    if (rc != SK_OK) return rc;
    SK_DEBUG(STORAGE, "event=txn_marker tp=%s-%d pid=%lld epoch=%d commit=%d offset=%lld", log->topic,
             log->partition, (long long)producer_id, producer_epoch, commit, (long long)info->base_offset);
    return SK_OK;
}

/* ---- queries ---- */

int64_t
sk_log_last_stable_offset(const sk_log_t *log)
{
    int64_t first = sk_pstate_first_unstable(&log->pstate);
    if (first < 0) return log->hw;
    /* A transaction may have begun in segments retention has removed since. */
    return SK_MIN(log->hw, SK_MAX(first, log->start_offset));
}

int
sk_log_aborted_txns(sk_log_t *log, int64_t from, int64_t to, sk_log_aborted_cb cb, void *ctx)
{
    const sk_txnidx_t *t = &log->aborted;
    /* Every transaction that may hold records in [from, to): ended at or after from,
     * begun before to. Once an entry's LSO reaches to, every transaction begun before
     * to had ended by then, so no later entry can qualify (Kafka's early stop). */
    for (int32_t i = txnidx_lower_bound(t, from); i < t->count; i++) {
        if (t->v[i].first_offset < to) cb(ctx, t->v[i].producer_id, t->v[i].first_offset);
        if (t->v[i].lso >= to) break;
    }
    return SK_OK;
}

void
sk_log_producer_foreach(const sk_log_t *log, sk_log_producer_cb cb, void *ctx)
{
    sk_map_entry_t *me;
    for (size_t i = 0; sk_map_next(&log->pstate.producers, &i, &me);) {
        const sk_pentry_t *e = me->value;
        sk_log_producer_info_t p = {
            .producer_id = e->producer_id,
            .producer_epoch = e->epoch,
            .last_sequence = e->batch_count ? e->batches[e->batch_count - 1].last_seq : -1,
            .last_timestamp = e->last_timestamp,
            .coordinator_epoch = e->coordinator_epoch,
            .txn_start_offset = e->txn_first_offset,
        };
        cb(ctx, &p);
    }
}

void
sk_txn_verify(const sk_log_t *log)
{
    const sk_txnidx_t *t = &log->aborted;
    sk_pstate_verify(&log->pstate);
    for (int32_t i = 0; i < t->count; i++) {
        const sk_aborted_t *a = &t->v[i];
        SK_ASSERT(a->first_offset <= a->last_offset && a->lso <= a->last_offset + 1 && a->last_offset < log->leo);
        SK_ASSERT(i == 0 || t->v[i - 1].last_offset < a->last_offset);
        SK_ASSERT(a->last_offset >= log->segs[0]->base_offset);
    }
    SK_ASSERT(t->fd < 0 || t->fd_base >= log->segs[0]->base_offset);
}
