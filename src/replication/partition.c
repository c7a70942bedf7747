/* replication/partition.c: partition state as leader. On a single node every append is
 * fully replicated the moment it is written, so the high watermark follows the log end
 * offset; with followers it will follow the ISR's acknowledged positions instead. Under
 * the strict durability setting (flush.messages=1) it follows the durable offset, so a
 * consumer never reads a record before it is on disk (Kafka flushes before it moves the
 * high watermark there); sk_partition_durable_advance moves it when a flush completes.
 * The last stable offset comes from the log's open transactions. */
#include "replication_int.h"

int
sk_partition_append(sk_partition_t *p, uint8_t *batch, size_t len, int64_t now_ms, sk_append_info_t *info)
{
    int rc;
    SK_ASSERT(p->log != NULL);
    rc = sk_log_append(p->log, batch, len, p->leader_epoch, now_ms, info);
    if (rc != SK_OK) return rc;
    if (sk_partition_strict(p)) (void)sk_partition_durable_advance(p);
    else sk_log_set_high_watermark(p->log, sk_log_end_offset(p->log));
    return SK_OK;
}

bool
sk_partition_strict(const sk_partition_t *p)
{
    return p->topic && p->topic->log_cfg.flush_interval_messages <= 1;
}

bool
sk_partition_durable_advance(sk_partition_t *p)
{
    int64_t hw = SK_MIN(sk_log_end_offset(p->log), sk_log_durable_offset(p->log));
    if (hw <= sk_log_high_watermark(p->log)) return false;
    sk_log_set_high_watermark(p->log, hw);
    return true;
}

int64_t
sk_partition_high_watermark(const sk_partition_t *p)
{
    return sk_log_high_watermark(p->log);
}

int64_t
sk_partition_last_stable_offset(const sk_partition_t *p)
{
    return sk_log_last_stable_offset(p->log);
}
