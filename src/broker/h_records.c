/* broker/h_records.c: DeleteRecords (v0-2) and the periodic retention pass. DeleteRecords
 * moves a partition's log start offset (offset -1 = the high watermark; beyond it
 * OFFSET_OUT_OF_RANGE) and answers the new low watermark; a topic whose cleanup.policy
 * lacks delete answers POLICY_VIOLATION, as Kafka does. Retention runs every
 * log.retention.check.interval.ms over topics whose cleanup.policy includes delete,
 * with the topic's retention.ms / retention.bytes or the broker's. */
#include "broker_int.h"

static void
dr_partition(const sk_meta_t *meta, sk_topic_t *t, const sk_DeleteRecordsRequest_DeleteRecordsPartition_t *rp,
             sk_DeleteRecordsResponse_DeleteRecordsPartitionResult_t *out)
{
    sk_partition_t *p;
    int64_t offset;
    int rc;

    sk_DeleteRecordsResponse_DeleteRecordsPartitionResult_init(out);
    out->partition_index = rp->partition_index;
    out->low_watermark = -1;
    if (!t || rp->partition_index < 0 || rp->partition_index >= t->partition_count) {
        out->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    /* As Kafka: records of a compact-only topic are removed by the cleaner alone. */
    char buf[64];
    bool dflt;
    const char *policy = sk_topic_config_value(meta, t, "cleanup.policy", &dflt, buf, sizeof(buf));
    if (policy && !strstr(policy, "delete")) {
        out->error_code = SK_KERR_POLICY_VIOLATION;
        return;
    }
    p = &t->partitions[rp->partition_index];
    offset = rp->offset == -1 ? sk_partition_high_watermark(p) : rp->offset;
    rc = sk_log_delete_records(p->log, offset);
    if (rc == SK_ERANGE) out->error_code = SK_KERR_OFFSET_OUT_OF_RANGE;
    else if (rc != SK_OK) out->error_code = SK_KERR_KAFKA_STORAGE_ERROR;
    out->low_watermark = sk_log_start_offset(p->log);
}

int
sk_h_delete_records(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_DeleteRecordsRequest_t *req = sk_req_decode(r);
    sk_DeleteRecordsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_DeleteRecordsResponse_init(&resp);
    if (req->topics_count > 0) {
        resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->topics_count; i++) {
        const sk_DeleteRecordsRequest_DeleteRecordsTopic_t *rt = &req->topics[i];
        sk_DeleteRecordsResponse_DeleteRecordsTopicResult_t *tr = &resp.topics[resp.topics_count++];
        sk_topic_t *t = rt->name.len >= 0 ? sk_meta_topic(srv->meta, rt->name.ptr, (size_t)rt->name.len) : NULL;
        sk_DeleteRecordsResponse_DeleteRecordsTopicResult_init(tr);
        tr->name = rt->name;
        if (rt->partitions_count > 0) {
            tr->partitions = sk_req_array(r, (size_t)rt->partitions_count, sizeof(*tr->partitions));
            if (!tr->partitions) return SK_ENOMEM;
        }
        for (int32_t j = 0; j < rt->partitions_count; j++)
            dr_partition(srv->meta, t, &rt->partitions[j], &tr->partitions[tr->partitions_count++]);
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

void
sk_server_retention(sk_server_t *srv, int64_t now_ms)
{
    sk_topic_t *t;
    int64_t ms, bytes;
    for (size_t it = 0; (t = sk_meta_next(srv->meta, &it));) {
        if (!sk_topic_retention(srv->meta, t, &ms, &bytes)) continue;
        for (int32_t i = 0; i < t->partition_count; i++) {
            int32_t deleted = 0;
            sk_log_retention(t->partitions[i].log, now_ms, ms, bytes, &deleted);
        }
    }
}
