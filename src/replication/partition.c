/* replication/partition.c: partition state as leader. On a single node every append is
 * fully replicated the moment it is written, so the high watermark follows the log end
 * offset; with followers it will follow the ISR's acknowledged positions instead. The
 * last stable offset equals the high watermark until transactions exist. */
#include "replication_int.h"

int
sk_partition_append(sk_partition_t *p, uint8_t *batch, size_t len, int64_t now_ms, sk_append_info_t *info)
{
    int rc;
    SK_ASSERT(p->log != NULL);
    rc = sk_log_append(p->log, batch, len, p->leader_epoch, now_ms, info);
    if (rc != SK_OK) return rc;
    sk_log_set_high_watermark(p->log, sk_log_end_offset(p->log));
    return SK_OK;
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
