/* storage/retention.c: deleting old data. Retention removes whole sealed segments from
 * the front of a log: those whose newest timestamp is older than retention.ms, and then
 * the oldest while the log is larger than retention.bytes. DeleteRecords moves the log
 * start offset forward (never past the high watermark) and removes the segments that
 * lie entirely below it. The active segment is never removed, so unflushed data is
 * never touched. Segment files are renamed to .deleted here and unlinked on the trash
 * thread (trash.c); a fetch still sending from one keeps its fd (sk_fref_t) until it
 * is done. Invariant kept: start_offset lies inside the
 * first remaining segment (or equals the LEO). */
#include "storage_int.h"

#include <errno.h>

/* Remove segs[0..count-1] and advance the log start offset past them. */
static int
log_drop_front(sk_log_t *log, int32_t count)
{
    int rc = SK_OK;
    SK_ASSERT(count >= 0 && count < log->seg_count);
    for (int32_t i = 0; i < count; i++) {
        sk_seg_t *seg = log->segs[i];
        int64_t base = seg->base_offset;
        sk_seg_free(seg);
        if (sk_log_seg_unlink(log, base) != SK_OK && rc == SK_OK) rc = SK_EIO;
    }
    memmove(log->segs, log->segs + count, (size_t)(log->seg_count - count) * sizeof(*log->segs));
    log->seg_count -= count;
    sk_txn_index_drop_below(log, log->segs[0]->base_offset);
    log->start_offset = SK_MAX(log->start_offset, log->segs[0]->base_offset);
    log->recovery_point = SK_MAX(log->recovery_point, log->start_offset);
    if (rc != SK_OK) SK_WARN("event=segment_unlink_failed tp=%s-%d errno=%d", log->topic, log->partition, errno);
    return rc;
}

int
sk_log_retention(sk_log_t *log, int64_t now_ms, int64_t retention_ms, int64_t retention_bytes, int32_t *deleted)
{
    int32_t n = 0;
    int64_t size = sk_log_size_bytes(log);

    *deleted = 0;
    /* Never the active (last) segment, and, as Kafka, never one holding offsets at or
     * past the high watermark (the log start never passes it). */
    while (n < log->seg_count - 1 && log->segs[n]->next_offset <= log->hw) {
        const sk_seg_t *seg = log->segs[n];
        bool by_time = retention_ms >= 0 && seg->max_ts >= 0 && seg->max_ts < now_ms - retention_ms;
        bool by_size = retention_bytes >= 0 && size - seg->size_bytes >= retention_bytes;
        if (!by_time && !by_size) break;
        size -= seg->size_bytes;
        n++;
    }
    /* Segments wholly below the start offset (after DeleteRecords) go too. */
    while (n < log->seg_count - 1 && log->segs[n]->next_offset <= log->start_offset) n++;
    if (n == 0) return SK_OK;
    *deleted = n;
    SK_INFO("event=retention tp=%s-%d segments=%d new_start=%lld", log->topic, log->partition, n,
            (long long)log->segs[n]->base_offset);
    return log_drop_front(log, n);
}

int
sk_log_delete_records(sk_log_t *log, int64_t offset)
{
    int32_t n = 0;
    if (offset < 0 || offset > log->hw) return SK_ERANGE;
    if (offset <= log->start_offset) return SK_OK;
    log->start_offset = offset;
    while (n < log->seg_count - 1 && log->segs[n]->next_offset <= offset) n++;
    return n ? log_drop_front(log, n) : SK_OK;
}
