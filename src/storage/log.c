/* storage/log.c: one partition log: an ordered array of segments (segment.c), the last
 * one active, plus the leader epoch cache, log start offset, high watermark and recovery
 * point. Append writes one batch with one write() and indexes it; read returns a file
 * range of whole batches from one segment for sendfile. Runs on the partition's thread.
 * Invariants (sk_log_verify): segments sorted and contiguous, the active segment's
 * next_offset is the LEO, start <= LEO, recovery point <= LEO, epochs increasing.
 * A failed write marks the log offline: appends then return SK_EIO, reads go on.
 * Format: docs/storage-format.md. */
#include "storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void
sk_log_config_defaults(sk_log_config_t *cfg)
{
    cfg->segment_bytes = 1024LL * 1024 * 1024;
    cfg->segment_ms = 7LL * 24 * 3600 * 1000;
    cfg->index_interval_bytes = 4096;
    cfg->segment_index_bytes = 10 * 1024 * 1024;
    cfg->flush_interval_messages = INT64_MAX;
    cfg->flush_interval_ms = INT64_MAX;
    cfg->log_append_time = false;
    cfg->writeback_bytes = 1024 * 1024;
    cfg->compact = false;
    cfg->cleanup_delete = true;
    cfg->min_cleanable_ratio = 0.5;
    cfg->delete_retention_ms = 24LL * 3600 * 1000;
    cfg->min_compaction_lag_ms = 0;
    cfg->max_compaction_lag_ms = INT64_MAX;
}

const char *sk_log_topic(const sk_log_t *log) { return log->topic; }
int32_t sk_log_partition(const sk_log_t *log) { return log->partition; }
const sk_uuid_t *sk_log_topic_id(const sk_log_t *log) { return &log->topic_id; }
int64_t sk_log_start_offset(const sk_log_t *log) { return log->start_offset; }
int64_t sk_log_end_offset(const sk_log_t *log) { return log->leo; }
int32_t sk_log_segment_count(const sk_log_t *log) { return log->seg_count; }
int64_t sk_log_high_watermark(const sk_log_t *log) { return log->hw; }

void
sk_log_set_config(sk_log_t *log, const sk_log_config_t *cfg)
{
    /* Takes effect from the next append; index sizes from the next roll. */
    log->cfg = *cfg;
}

int64_t
sk_log_size_bytes(const sk_log_t *log)
{
    int64_t n = 0;
    for (int32_t i = 0; i < log->seg_count; i++) n += log->segs[i]->size_bytes;
    return n;
}

void
sk_log_set_high_watermark(sk_log_t *log, int64_t hw)
{
    SK_ASSERT(hw >= 0);
    log->hw = SK_MIN(hw, log->leo);
}

int32_t
sk_log_latest_epoch(const sk_log_t *log)
{
    return log->epochs.count ? log->epochs.v[log->epochs.count - 1].epoch : -1;
}

void
sk_log_slice_release(sk_log_slice_t *s)
{
    sk_fref_put(s->file);
    s->file = NULL;
    s->len = 0;
}

sk_seg_t *
sk_log_seg_for(const sk_log_t *log, int64_t offset)
{
    int32_t lo = 0, hi = log->seg_count - 1, best = -1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best >= 0 ? log->segs[best] : NULL;
}

static int32_t
log_seg_index(const sk_log_t *log, const sk_seg_t *seg)
{
    for (int32_t i = log->seg_count - 1; i >= 0; i--)
        if (log->segs[i] == seg) return i;
    SK_ASSERT(!"segment not in log");
    return -1;
}

int
sk_log_seg_push(sk_log_t *log, sk_seg_t *seg)
{
    if (log->seg_count == log->seg_cap) {
        int32_t cap = log->seg_cap ? log->seg_cap * 2 : 8;
        sk_seg_t **v = realloc(log->segs, (size_t)cap * sizeof(*v));
        if (!v) return SK_ENOMEM;
        log->segs = v;
        log->seg_cap = cap;
    }
    SK_ASSERT(log->seg_count == 0 || log->segs[log->seg_count - 1]->base_offset < seg->base_offset);
    log->segs[log->seg_count++] = seg;
    return SK_OK;
}

static sk_log_t *
log_alloc(const char *dir, const char *topic, int32_t partition, const sk_log_config_t *cfg)
{
    sk_log_t *log = calloc(1, sizeof(*log));
    if (!log) return NULL;
    log->topic = strdup(topic);
    log->dir = strdup(dir);
    if (!log->topic || !log->dir) {
        free(log->topic);
        free(log->dir);
        free(log);
        return NULL;
    }
    log->partition = partition;
    log->cfg = *cfg;
    log->dirty_since_ms = -1;
    log->clean_offset = -1;
    log->clean_horizon_ms = -1;
    sk_pstate_init(&log->pstate);
    sk_txnidx_init(&log->aborted);
    return log;
}

static void
log_free(sk_log_t *log)
{
    for (int32_t i = 0; i < log->seg_count; i++) sk_seg_free(log->segs[i]);
    free(log->segs);
    sk_epochs_free(&log->epochs);
    sk_pstate_deinit(&log->pstate);
    sk_txnidx_deinit(&log->aborted);
    free(log->topic);
    free(log->dir);
    free(log);
}

int
sk_log_create_new(const char *dir, const char *topic, int32_t partition, const sk_uuid_t *topic_id,
                  const sk_log_config_t *cfg, sk_log_t **out)
{
    int rc = SK_ENOMEM;
    sk_seg_t *seg = NULL;
    sk_log_t *log = log_alloc(dir, topic, partition, cfg);

    if (!log) return SK_ENOMEM;
    if (topic_id) log->topic_id = *topic_id;
    rc = sk_mkdir_p(dir);
    if (rc != SK_OK) goto fail;
    if (topic_id && !sk_uuid_is_zero(topic_id)) {
        rc = sk_partmeta_write(dir, topic_id);
        if (rc != SK_OK) goto fail;
    }
    rc = sk_epochs_store(&log->epochs, dir, true);
    if (rc != SK_OK) goto fail;
    rc = sk_seg_create(log->dir, 0, cfg, &seg);
    if (rc != SK_OK) goto fail;
    log->dir_dirty = true;
    rc = sk_log_seg_push(log, seg);
    if (rc != SK_OK) goto fail;
    *out = log;
    return SK_OK;
fail:
    sk_seg_free(seg);
    log_free(log);
    return rc;
}

int
sk_log_open(const sk_log_open_args_t *a, sk_log_t **out)
{
    int rc;
    sk_log_t *log = log_alloc(a->dir, a->topic, a->partition, a->cfg);

    if (!log) return SK_ENOMEM;
    rc = sk_partmeta_read(a->dir, &log->topic_id);
    if (rc != SK_OK && rc != SK_ENOENT)
        SK_WARN("event=bad_partition_metadata dir=%s rc=%s", a->dir, sk_strerror(rc));
    rc = sk_epochs_load(&log->epochs, a->dir);
    if (rc != SK_OK) SK_WARN("event=bad_epoch_checkpoint dir=%s rc=%s", a->dir, sk_strerror(rc));
    log->recovery_point = a->clean ? INT64_MAX : SK_MAX(a->recovery_point, 0);
    rc = sk_log_load_segments(log, a->clean);
    if (rc != SK_OK) goto fail;
    log->recovery_point = SK_MIN(log->recovery_point, log->leo);
    log->durable_offset = log->recovery_point;
    log->start_offset = log->segs[0]->base_offset;
    if (a->start_offset > log->start_offset) log->start_offset = SK_MIN(a->start_offset, log->leo);
    log->hw = a->hw >= 0 ? SK_MIN(SK_MAX(a->hw, log->start_offset), log->leo) : log->start_offset;
    rc = sk_log_producers_load(log);
    if (rc != SK_OK) {
        SK_ERROR("event=producer_state_load_failed dir=%s rc=%s", a->dir, sk_strerror(rc));
        goto fail;
    }
    *out = log;
    return SK_OK;
fail:
    log_free(log);
    return rc;
}

int
sk_log_flush(sk_log_t *log)
{
    int rc = SK_OK;
    sk_seg_t *from = sk_log_seg_for(log, log->recovery_point);
    int32_t i = from ? log_seg_index(log, from) : 0;

    /* Offline: a write or fsync failed here or elsewhere in the dir. An fsync after a
     * failed one may report success for pages the kernel already dropped: never retry. */
    if (sk_log_offline(log)) return SK_EIO;
    for (; i < log->seg_count; i++) {
        rc = sk_seg_sync(log->segs[i]);
        if (rc != SK_OK) {
            /* Never retry a failed fsync: the kernel may have dropped the dirty pages
             * and a second fsync would report success for data that is gone. */
            log->offline = true;
            if (log->dir_offline) *log->dir_offline = true;
            SK_ERROR("event=flush_failed tp=%s-%d errno=%d action=data_dir_offline", log->topic, log->partition,
                     errno);
            return rc;
        }
    }
    if (sk_txn_index_sync(log) != SK_OK) {
        log->offline = true;
        if (log->dir_offline) *log->dir_offline = true;
        SK_ERROR("event=flush_failed tp=%s-%d what=txnindex errno=%d action=data_dir_offline", log->topic,
                 log->partition, errno);
        return SK_EIO;
    }
    /* A segment created since the last flush exists after a power loss only once its
     * directory entry is durable too (Kafka flushes the directory here as well). */
    if (log->dir_dirty) {
        if (sk_fsync_dir(log->dir) != SK_OK) {
            log->offline = true;
            if (log->dir_offline) *log->dir_offline = true;
            SK_ERROR("event=flush_failed tp=%s-%d what=dir errno=%d action=data_dir_offline", log->topic,
                     log->partition, errno);
            return SK_EIO;
        }
        log->dir_dirty = false;
    }
    log->recovery_point = log->leo;
    log->durable_offset = log->leo;
    log->unflushed_records = 0;
    log->dirty_since_ms = -1;
    return SK_OK;
}

int
sk_log_close(sk_log_t *log, bool flush)
{
    int rc = SK_OK;
    sk_log_flush_detach(log); /* a job in flight finishes without us; waiters fail */
    if (flush && !sk_log_offline(log)) rc = sk_log_flush(log);
    /* The state at the LEO, so that the next open replays nothing. */
    if (flush && rc == SK_OK && sk_log_producers_snapshot(log, true) != SK_OK) rc = SK_EIO;
    if (log->seg_count > 0 && log->segs[log->seg_count - 1]->active) {
        int r2 = sk_seg_seal(log->segs[log->seg_count - 1]);
        if (r2 != SK_OK) rc = r2;
        /* The final time index entry and the trims must be durable too. */
        if (r2 == SK_OK && flush) {
            sk_index_sync(&log->segs[log->seg_count - 1]->oidx);
            sk_index_sync(&log->segs[log->seg_count - 1]->tidx);
        }
    }
    if (flush && log->epochs.count && sk_epochs_store(&log->epochs, log->dir, true) != SK_OK) rc = SK_EIO;
    log_free(log);
    return rc;
}

/* ---- append ---- */

static bool
log_should_roll(const sk_log_t *log, const sk_seg_t *seg, size_t len, int64_t max_ts, int64_t last_offset,
                int64_t now_ms)
{
    if (seg->size_bytes == 0) return false;
    if (seg->size_bytes > log->cfg.segment_bytes - (int64_t)len) return true;
    int64_t waited = (seg->roll_base_ts >= 0 && max_ts >= 0) ? max_ts - seg->roll_base_ts
                                                             : now_ms - seg->created_ms;
    if (waited > log->cfg.segment_ms) return true;
    if (sk_index_full(&seg->oidx) || sk_index_full(&seg->tidx)) return true;
    if (last_offset - seg->base_offset > INT32_MAX) return true;
    if (seg->size_bytes + (int64_t)len > UINT32_MAX) return true;
    return false;
}

static int
log_roll(sk_log_t *log)
{
    sk_seg_t *old = log->segs[log->seg_count - 1], *seg = NULL;
    int rc = sk_seg_seal(old);

    if (rc != SK_OK) return rc;
    rc = sk_seg_create(log->dir, log->leo, &log->cfg, &seg);
    if (rc != SK_OK) goto fail;
    rc = sk_log_seg_push(log, seg);
    if (rc != SK_OK) goto fail;
    log->dir_dirty = true;
    /* As Kafka does at each roll: a snapshot bounds the replay after a crash to the
     * segments after it. Not fsynced; a lost or torn one fails its CRC and an older one
     * (or the log itself) is used instead. */
    sk_pstate_expire(&log->pstate, sk_wall_ms(), SK_PRODUCER_EXPIRE_MS);
    if (sk_log_producers_snapshot(log, false) != SK_OK)
        SK_WARN("event=snapshot_failed tp=%s-%d offset=%lld errno=%d", log->topic, log->partition,
                (long long)log->leo, errno);
    SK_DEBUG(STORAGE, "event=roll tp=%s-%d base_offset=%lld", log->topic, log->partition, (long long)log->leo);
    return SK_OK;
fail:
    if (seg) {
        sk_seg_free(seg);
        sk_seg_unlink(log->dir, log->leo);
    }
    sk_seg_activate(old, &log->cfg);
    return rc;
}

/* Once an append completes a chunk of writeback_bytes, ask the kernel to start writing
 * that chunk out (it does not wait for the disk). Without this, dirty pages pile up to
 * the kernel's background threshold (gigabytes on a large machine) and the writes that
 * come after stall for tens or hundreds of milliseconds while it catches up: the
 * produce latency tail. A failure here is harmless (the kernel writes the pages later). */
static void
log_start_writeback(const sk_log_t *log, int fd, int64_t pos, int64_t len)
{
    int64_t chunk = log->cfg.writeback_bytes;
    if (chunk <= 0) return;
    int64_t done = (pos + len) / chunk;
    if (done == pos / chunk) return;
    int64_t from = (pos / chunk) * chunk;
    (void)sync_file_range(fd, (off_t)from, (off_t)(done * chunk - from), SYNC_FILE_RANGE_WRITE);
}

static int
write_all_at(int fd, const uint8_t *p, size_t len, int64_t pos)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, p + done, len - done, (off_t)(pos + (int64_t)done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return SK_EIO;
        done += (size_t)n;
    }
    return SK_OK;
}

bool
sk_log_offline(const sk_log_t *log)
{
    return log->offline || (log->dir_offline && *log->dir_offline);
}

static void
log_go_offline(sk_log_t *log, sk_seg_t *seg, const char *what)
{
    int err = errno;
    log->offline = true;
    if (log->dir_offline) *log->dir_offline = true;
    SK_ERROR("event=log_offline tp=%s-%d what=%s errno=%d", log->topic, log->partition, what, err);
    /* Best effort: do not leave a partial batch behind for readers or the next start. */
    if (seg && ftruncate(seg->log->fd, seg->size_bytes) != 0)
        SK_ERROR("event=truncate_failed tp=%s-%d errno=%d", log->topic, log->partition, errno);
}

/* Rewrite the broker-owned header fields in place. */
static void
log_stamp_batch(const sk_log_t *log, uint8_t *batch, size_t len, int32_t leader_epoch, int64_t now_ms,
                sk_batch_hdr_t *h)
{
    sk_put_be64(batch, (uint64_t)log->leo);
    sk_put_be32(batch + 12, (uint32_t)leader_epoch);
    h->base_offset = log->leo;
    h->partition_leader_epoch = leader_epoch;
    if (log->cfg.log_append_time) {
        h->attributes = (int16_t)(h->attributes | SK_ATTR_LOG_APPEND_TIME);
        h->max_timestamp = now_ms;
        sk_put_be16(batch + SK_BATCH_ATTR_OFFSET, (uint16_t)h->attributes);
        sk_put_be64(batch + 35, (uint64_t)now_ms);
        sk_batch_crc_set(batch, len);
    }
}

/* A retry of a retained batch: answer with where it went, write nothing. */
static int
log_answer_duplicate(const sk_log_t *log, const sk_pbatch_t *dup, sk_append_info_t *info)
{
    SK_DEBUG(STORAGE, "event=duplicate_batch tp=%s-%d base_offset=%lld", log->topic, log->partition,
             (long long)dup->first_offset);
    if (info) {
        info->duplicate = true;
        info->base_offset = dup->first_offset;
        info->last_offset = dup->last_offset;
        info->log_append_time = log->cfg.log_append_time ? dup->timestamp : -1;
        info->record_count = (int32_t)(dup->last_offset - dup->first_offset + 1);
    }
    return SK_OK;
}

int
sk_log_append(sk_log_t *log, uint8_t *batch, size_t len, int32_t leader_epoch, int64_t now_ms,
              sk_append_info_t *info)
{
    sk_batch_hdr_t h;
    sk_seg_t *seg;
    const sk_pbatch_t *dup = NULL;
    int16_t kerr = SK_KERR_NONE;
    int rc;

    if (sk_log_offline(log)) return SK_EIO;
    if (sk_batch_hdr_parse(batch, len, &h) != SK_OK) return SK_ECORRUPT;
    if ((size_t)h.batch_length + SK_LOG_OVERHEAD != len || h.last_offset_delta < 0) return SK_ECORRUPT;
    if ((int64_t)len > log->cfg.segment_bytes || len > INT32_MAX) return SK_ELIMIT;
    if (info) {
        info->error_code = SK_KERR_NONE;
        info->duplicate = false;
        info->flush_wait = false;
    }
    sk_pstate_check(&log->pstate, &h, &kerr, &dup);
    if (dup) return log_answer_duplicate(log, dup, info);
    if (kerr != SK_KERR_NONE) {
        if (info) info->error_code = kerr;
        return SK_EINVAL;
    }
    int64_t last = log->leo + h.last_offset_delta;
    int64_t ts = log->cfg.log_append_time ? now_ms : h.max_timestamp;
    seg = log->segs[log->seg_count - 1];
    if (log_should_roll(log, seg, len, ts, last, now_ms)) {
        rc = log_roll(log);
        if (rc != SK_OK) {
            log_go_offline(log, NULL, "roll");
            return SK_EIO;
        }
        seg = log->segs[log->seg_count - 1];
    }
    if (leader_epoch >= 0 && sk_epochs_assign(&log->epochs, leader_epoch, log->leo) &&
        sk_epochs_store(&log->epochs, log->dir, false) != SK_OK) {
        log_go_offline(log, NULL, "epoch_checkpoint");
        return SK_EIO;
    }
    log_stamp_batch(log, batch, len, leader_epoch, now_ms, &h);
    int64_t pos = seg->size_bytes;
    if (write_all_at(seg->log->fd, batch, len, pos) != SK_OK) {
        log_go_offline(log, seg, "write");
        return SK_EIO;
    }
    log_start_writeback(log, seg->log->fd, pos, (int64_t)len);
    sk_seg_note_batch(seg, &h, pos, (int64_t)len, log->cfg.index_interval_bytes);
    log->leo = last + 1;
    if (sk_pstate_update(&log->pstate, &h, log->cfg.log_append_time ? now_ms : h.max_timestamp, now_ms) != SK_OK) {
        /* Written but not remembered: a retry would be written twice. Refuse more
         * appends rather than risk it; a restart rebuilds the state from the log. */
        log_go_offline(log, NULL, "producer_state");
        return SK_ENOMEM;
    }
    /* A transaction marker ends its producer's transaction (txn.c), whoever wrote it. */
    if ((h.attributes & SK_ATTR_CONTROL) && sk_txn_control_appended(log, batch, len, &h, now_ms) != SK_OK) {
        log_go_offline(log, NULL, "txn_marker");
        return SK_EIO;
    }
    if (info) {
        info->base_offset = h.base_offset;
        info->last_offset = last;
        info->log_append_time = log->cfg.log_append_time ? now_ms : -1;
        info->record_count = h.records_count;
    }
    log->unflushed_records += h.records_count > 0 ? h.records_count : 1;
    if (log->unflushed_records >= log->cfg.flush_interval_messages) {
        /* flush.messages reached: with a flusher the fsync runs there and the caller
         * holds the acknowledgement until it is done (sk_log_flush_wait). */
        if (!log->flusher) return sk_log_flush(log);
        if (info) info->flush_wait = true;
        return sk_log_flush_request(log);
    }
    return SK_OK;
}

/* ---- read ---- */

/* End of the run of whole batches from start in seg: at most max_bytes (but the first
 * batch whatever its size when min_one) and only batches whose last offset is below
 * max_offset. */
static int
log_read_end(const sk_seg_t *seg, int64_t start, const sk_batch_hdr_t *first, int32_t max_bytes,
             int64_t max_offset, bool min_one, int64_t *end, int64_t *next)
{
    uint8_t buf[SK_SCAN_BLOCK_BYTES];
    sk_scan_t s;
    sk_batch_hdr_t h = *first;
    int64_t limit = start + (int64_t)SK_MAX(max_bytes, 0), pos = start;
    int rc;

    *end = start;
    *next = first->base_offset;
    if (first->base_offset + first->last_offset_delta >= max_offset) return SK_OK;
    int64_t total = (int64_t)first->batch_length + SK_LOG_OVERHEAD;
    if (start + total > limit && !min_one) return SK_OK;
    pos = *end = start + total;
    *next = first->base_offset + first->last_offset_delta + 1;
    if (seg->next_offset <= max_offset && seg->size_bytes <= limit) {
        *end = seg->size_bytes; /* the rest of the segment fits */
        *next = seg->next_offset;
        return SK_OK;
    }
    /* Jump over whole batches with the index, then walk the last few headers. */
    if (max_offset - seg->base_offset > 0 && limit > pos) {
        uint32_t rel_max = (uint32_t)SK_MIN(max_offset - seg->base_offset, (int64_t)UINT32_MAX);
        int32_t i = sk_index_find_bound(&seg->oidx, (uint32_t)SK_MIN(limit, (int64_t)UINT32_MAX), rel_max);
        if (i >= 0) {
            uint32_t rel, ipos;
            sk_index_entry_off(&seg->oidx, i, &rel, &ipos);
            if ((int64_t)ipos > pos && (int64_t)ipos < seg->size_bytes) pos = *end = ipos;
        }
    }
    sk_scan_init(&s, seg->log->fd, seg->size_bytes, buf, sizeof(buf));
    while ((rc = sk_scan_hdr(&s, pos, &h)) == SK_OK) {
        total = (int64_t)h.batch_length + SK_LOG_OVERHEAD;
        *next = h.base_offset;
        if (h.base_offset + h.last_offset_delta >= max_offset || pos + total > limit) return SK_OK;
        pos = *end = pos + total;
    }
    if (rc == SK_ENOENT) *next = seg->next_offset;
    return rc == SK_ENOENT ? SK_OK : rc;
}

int
sk_log_read(sk_log_t *log, int64_t offset, int32_t max_bytes, int64_t max_offset, bool min_one,
            sk_log_slice_t *out)
{
    sk_batch_hdr_t h;
    int64_t pos = 0, end = 0;
    bool found = false;
    int rc;

    memset(out, 0, sizeof(*out));
    if (offset < log->start_offset || offset > log->leo) return SK_ERANGE;
    if (offset == log->leo || offset >= max_offset) return SK_OK;
    sk_seg_t *seg = sk_log_seg_for(log, offset);
    int32_t i = seg ? log_seg_index(log, seg) : 0;
    for (; i < log->seg_count && !found; i++) {
        seg = log->segs[i];
        rc = sk_seg_find(seg, offset, &pos, &h, &found);
        if (rc != SK_OK) return rc;
    }
    if (!found) return SK_OK;
    rc = log_read_end(seg, pos, &h, max_bytes, max_offset, min_one, &end, &out->next_offset);
    if (rc != SK_OK) return rc;
    if (end > pos) {
        out->file = sk_fref_get(seg->log);
        out->pos = pos;
        out->len = (int32_t)(end - pos);
    }
    return SK_OK;
}

/* ---- timestamps ---- */

/* ---- lookups by time: Kafka answers with single records, so the batch that the
 * indexes lead to is read and its records searched (LogAppendTime batches carry one
 * timestamp for all records and need no read). ---- */

typedef struct ts_find {
    int64_t ts;         /* wanted: first record with timestamp >= ts (or == ts if exact) */
    int64_t min_offset; /* records below this (log start) do not count */
    bool exact;
    int64_t offset;     /* out */
    int64_t found_ts;   /* out */
} ts_find_t;

static int
ts_find_cb(void *ctx, const sk_record_t *r)
{
    ts_find_t *f = ctx;
    if (r->offset < f->min_offset) return SK_OK;
    if (f->exact ? r->timestamp != f->ts : r->timestamp < f->ts) return SK_OK;
    f->offset = r->offset;
    f->found_ts = r->timestamp;
    return SK_EEXIST; /* stop */
}

/* Search the records of the batch with header h at pos. SK_OK when found. */
static int
log_batch_find_ts(const sk_seg_t *seg, int64_t pos, const sk_batch_hdr_t *h, ts_find_t *f)
{
    size_t len = (size_t)h->batch_length + SK_LOG_OVERHEAD;
    uint8_t *buf;
    size_t got = 0;
    int rc;

    if (h->attributes & SK_ATTR_LOG_APPEND_TIME) {
        if (f->exact ? h->max_timestamp != f->ts : h->max_timestamp < f->ts) return SK_ENOENT;
        f->offset = SK_MAX(h->base_offset, f->min_offset);
        f->found_ts = h->max_timestamp;
        return SK_OK;
    }
    buf = malloc(len);
    if (!buf) return SK_ENOMEM;
    while (got < len) {
        ssize_t n = pread(seg->log->fd, buf + got, len - got, (off_t)(pos + (int64_t)got));
        if (n <= 0) {
            free(buf);
            return SK_EIO;
        }
        got += (size_t)n;
    }
    rc = sk_batch_foreach_record(buf, len, SK_LOOKUP_DECOMPRESS_MAX, ts_find_cb, f);
    free(buf);
    if (rc == SK_EEXIST) return SK_OK;
    return rc == SK_OK ? SK_ENOENT : rc;
}

int
sk_log_offset_for_time(sk_log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts)
{
    uint8_t buf[SK_SCAN_BLOCK_BYTES];
    ts_find_t f = {.ts = ts, .min_offset = log->start_offset};
    sk_scan_t s;
    sk_batch_hdr_t h;
    int rc;

    for (int32_t i = 0; i < log->seg_count; i++) {
        const sk_seg_t *seg = log->segs[i];
        if (seg->max_ts < ts || seg->next_offset <= log->start_offset) continue;
        int64_t from = seg->base_offset, pos = 0;
        int32_t t = sk_index_find_time(&seg->tidx, ts);
        if (t >= 0) {
            int64_t its;
            uint32_t rel;
            sk_index_entry_time(&seg->tidx, t, &its, &rel);
            from = seg->base_offset + rel;
        }
        bool found = false;
        rc = sk_seg_find(seg, from, &pos, &h, &found);
        if (rc != SK_OK) return rc;
        sk_scan_init(&s, seg->log->fd, seg->size_bytes, buf, sizeof(buf));
        while (found && (rc = sk_scan_hdr(&s, pos, &h)) == SK_OK) {
            if (h.max_timestamp >= ts && h.base_offset + h.last_offset_delta >= log->start_offset) {
                rc = log_batch_find_ts(seg, pos, &h, &f);
                if (rc == SK_OK) {
                    *offset = f.offset;
                    *found_ts = f.found_ts;
                    return SK_OK;
                }
                if (rc != SK_ENOENT) return rc;
            }
            pos += (int64_t)h.batch_length + SK_LOG_OVERHEAD;
        }
        if (found && rc != SK_ENOENT) return rc;
    }
    return SK_ENOENT;
}

int
sk_log_max_timestamp(sk_log_t *log, int64_t *offset, int64_t *ts)
{
    const sk_seg_t *best = NULL;
    sk_batch_hdr_t h;
    int64_t pos = 0;
    bool found = false;
    int rc;

    for (int32_t i = 0; i < log->seg_count; i++) {
        const sk_seg_t *seg = log->segs[i];
        if (seg->max_ts >= 0 && (!best || seg->max_ts > best->max_ts)) best = seg;
    }
    if (!best) return SK_ENOENT;
    /* The first record carrying the maximum inside the batch that holds it. */
    rc = sk_seg_find(best, best->max_ts_offset, &pos, &h, &found);
    if (rc != SK_OK) return rc;
    ts_find_t f = {.ts = best->max_ts, .min_offset = log->start_offset, .exact = true};
    if (found && log_batch_find_ts(best, pos, &h, &f) == SK_OK) {
        *offset = f.offset;
        *ts = f.found_ts;
        return SK_OK;
    }
    *offset = best->max_ts_offset;
    *ts = best->max_ts;
    return SK_OK;
}

/* ---- verify ---- */

static void
verify_seg(const sk_seg_t *seg, bool last)
{
    struct stat st;
    SK_ASSERT(seg->next_offset >= seg->base_offset && seg->size_bytes >= 0);
    SK_ASSERT((seg->size_bytes == 0) == (seg->next_offset == seg->base_offset));
    SK_ASSERT(seg->active == last);
    SK_ASSERT(seg->log && seg->log->refs >= 1);
    SK_ASSERT(fstat(seg->log->fd, &st) == 0 && st.st_size == seg->size_bytes);
    uint32_t prev_rel = 0, prev_pos = 0;
    for (int32_t i = 0; i < seg->oidx.entries; i++) {
        uint32_t rel, pos;
        sk_index_entry_off(&seg->oidx, i, &rel, &pos);
        SK_ASSERT(i == 0 || (rel > prev_rel && pos > prev_pos));
        SK_ASSERT((int64_t)pos < seg->size_bytes && seg->base_offset + rel < seg->next_offset);
        prev_rel = rel;
        prev_pos = pos;
    }
    int64_t prev_ts = -1;
    for (int32_t i = 0; i < seg->tidx.entries; i++) {
        int64_t ts;
        uint32_t rel;
        sk_index_entry_time(&seg->tidx, i, &ts, &rel);
        SK_ASSERT(ts > prev_ts && ts <= seg->max_ts);
        SK_ASSERT(seg->base_offset + rel < seg->next_offset);
        prev_ts = ts;
    }
    SK_ASSERT(seg->max_ts < 0 || (seg->max_ts_offset >= seg->base_offset && seg->max_ts_offset < seg->next_offset));
}

void
sk_log_verify(const sk_log_t *log)
{
    SK_ASSERT(log->seg_count >= 1);
    for (int32_t i = 0; i < log->seg_count; i++) {
        const sk_seg_t *seg = log->segs[i];
        verify_seg(seg, i == log->seg_count - 1);
        if (i > 0) {
            SK_ASSERT(seg->base_offset > log->segs[i - 1]->base_offset);
            SK_ASSERT(seg->base_offset == log->segs[i - 1]->next_offset);
        }
    }
    SK_ASSERT(log->segs[log->seg_count - 1]->next_offset == log->leo);
    SK_ASSERT(log->start_offset >= log->segs[0]->base_offset && log->start_offset <= log->leo);
    SK_ASSERT(log->hw >= 0 && log->hw <= log->leo);
    SK_ASSERT(log->recovery_point >= 0 && log->recovery_point <= log->leo);
    sk_txn_verify(log);
    for (int32_t i = 0; i < log->epochs.count; i++) {
        SK_ASSERT(log->epochs.v[i].epoch >= 0 && log->epochs.v[i].start_offset <= log->leo);
        SK_ASSERT(i == 0 || (log->epochs.v[i].epoch > log->epochs.v[i - 1].epoch &&
                             log->epochs.v[i].start_offset > log->epochs.v[i - 1].start_offset));
    }
}
