/* broker/txn_markers.c: writing transaction markers (COMMIT / ABORT control batches)
 * into partitions this broker leads, for the transaction coordinator. A marker goes
 * through the same steps as a produced batch: appended to the partition's log as its
 * leader (sk_log_append_marker builds the batch, ends the producer's transaction and
 * indexes an abort), the high watermark moved as sk_partition_append moves it, and the
 * parked fetches of that partition told, so that a read_committed long poll waiting for
 * the last stable offset to move answers at once. Runs on the loop thread that owns the
 * partition. Storage side: src/storage/txn.c, docs/transactions-storage.md. */
#include "broker_int.h"

int
sk_partition_append_marker(sk_server_t *srv, sk_partition_t *p, int64_t producer_id, int16_t producer_epoch,
                           bool commit, int32_t coordinator_epoch, int16_t *kerr)
{
    sk_append_info_t info;
    int16_t local;
    int rc;

    SK_ASSERT(srv && p && p->log);
    if (!kerr) kerr = &local;
    *kerr = SK_KERR_NONE;
    int64_t size_before = sk_log_size_bytes(p->log);
    rc = sk_log_append_marker(p->log, producer_id, producer_epoch, commit, coordinator_epoch, p->leader_epoch,
                              sk_wall_ms(), &info);
    if (rc == SK_EINVAL && info.error_code != SK_KERR_NONE) {
        *kerr = info.error_code;
        SK_WARN("event=txn_marker_refused tp=%s-%d pid=%lld epoch=%d error=%s", sk_log_topic(p->log),
                sk_log_partition(p->log), (long long)producer_id, producer_epoch, sk_kerr_name(info.error_code));
        return rc;
    }
    if (rc != SK_OK) {
        *kerr = rc == SK_EIO ? SK_KERR_KAFKA_STORAGE_ERROR : SK_KERR_UNKNOWN_SERVER_ERROR;
        return rc;
    }
    /* Single node: written is replicated (as sk_partition_append does); under the strict
     * durability setting visible once fsynced, like any batch. */
    int64_t bytes = SK_MAX(sk_log_size_bytes(p->log) - size_before, 1);
    if (sk_partition_strict(p)) {
        if (sk_log_flush_request(p->log) != SK_OK) {
            *kerr = SK_KERR_KAFKA_STORAGE_ERROR;
            return SK_EIO;
        }
        sk_produce_hw_follow(srv, p, sk_log_end_offset(p->log), bytes); /* tells fetches */
        return SK_OK;
    }
    sk_log_set_high_watermark(p->log, sk_log_end_offset(p->log));
    sk_fetch_notify_marker(srv, p, bytes);
    return SK_OK;
}

int
sk_txn_marker_hook(void *ctx, const char *topic, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                   bool commit, int32_t coordinator_epoch)
{
    sk_server_t *srv = ctx;
    sk_partition_t *p = sk_meta_partition(srv->meta, topic, strlen(topic), partition);
    if (!p || !p->log) return SK_ENOENT;
    return sk_partition_append_marker(srv, p, producer_id, producer_epoch, commit, coordinator_epoch, NULL);
}
