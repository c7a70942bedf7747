/* broker/h_produce.c: Produce (v0-12; v0-2 carry legacy message sets that are converted
 * to one magic-2 batch). Each partition's records must be exactly one valid batch
 * (sk_batch_validate); the batch is appended in place from the receive buffer (no copy
 * of record bytes) and parked fetches are told. acks=0 gets no response, and any error
 * then closes the connection so that the client refreshes metadata, as Kafka does.
 * Idempotent producers: storage checks each batch against the partition's producer
 * state inside the append; a retry of one of the last five batches is answered NONE
 * with its original base offset (as Kafka 4.x does, not DUPLICATE_SEQUENCE_NUMBER)
 * and nothing is written; gaps get OUT_OF_ORDER_SEQUENCE_NUMBER and stale epochs
 * INVALID_PRODUCER_EPOCH (docs/idempotence.md). */
#include "broker_int.h"

#define PRODUCE_DECOMPRESS_MIN (64u << 20)

typedef sk_ProduceResponse_PartitionProduceResponse_t pr_res_t;

/* message.timestamp.after.max.ms (CreateTime topics): no record may be further in the
 * future than this; the batch's maximum decides. */
static int16_t
produce_check_time(sk_server_t *srv, const sk_topic_t *t, const sk_batch_info_t *info, int64_t now)
{
    char buf[32];
    bool is_default;
    const char *v;
    int64_t after;

    if (t->log_cfg.log_append_time) return SK_KERR_NONE;
    v = sk_topic_config_value(srv->meta, t, "message.timestamp.after.max.ms", &is_default, buf, sizeof(buf));
    after = v ? strtoll(v, NULL, 10) : INT64_MAX;
    if (after < INT64_MAX - now && info->max_timestamp > now + after) return SK_KERR_INVALID_TIMESTAMP;
    return SK_KERR_NONE;
}

static int16_t
produce_append(sk_req_t *r, sk_topic_t *t, int32_t index, const sk_records_t *recs, pr_res_t *res)
{
    sk_server_t *srv = sk_req_server(r);
    int64_t max_bytes = sk_topic_max_message_bytes(srv->meta, t);
    sk_batch_check_t chk = {
        .max_batch_bytes = (int32_t)SK_MIN(max_bytes, INT32_MAX),
        .max_decompressed_bytes = SK_MAX(PRODUCE_DECOMPRESS_MIN, (size_t)max_bytes * 32),
        .produce_version = r->api_version,
        .allow_control = false,
    };
    sk_batch_info_t info;
    sk_append_info_t ai;
    uint8_t *batch, *converted = NULL;
    size_t len;
    int16_t kerr = SK_KERR_NONE;
    int rc;

    if (index < 0 || index >= t->partition_count) return SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    sk_partition_t *p = &t->partitions[index];
    res->log_start_offset = sk_log_start_offset(p->log);
    if (recs->len <= 0) return SK_KERR_INVALID_RECORD;
    /* The batch lives in this request's receive buffer, which we own: storage rewrites
     * its offset and epoch fields in place. */
    batch = (uint8_t *)recs->ptr;
    len = (size_t)recs->len;
    if (r->api_version < 3) {
        if (sk_legacy_to_batch(batch, len, chk.max_decompressed_bytes, &converted, &len, &kerr) != SK_OK)
            return kerr ? kerr : SK_KERR_CORRUPT_MESSAGE;
        batch = converted;
    }
    rc = sk_batch_validate(batch, len, &chk, &info, &kerr);
    if (rc != SK_OK) goto out;
    int64_t now = sk_wall_ms();
    if ((kerr = produce_check_time(srv, t, &info, now)) != SK_KERR_NONE) {
        rc = SK_EINVAL;
        goto out;
    }
    rc = sk_partition_append(p, batch, len, now, &ai);
    if (rc == SK_EINVAL && ai.error_code != SK_KERR_NONE) {
        kerr = ai.error_code; /* refused by the producer state: sequence or epoch */
        goto out;
    }
    if (rc != SK_OK) {
        /* A batch larger than segment.bytes can never be stored (Kafka: RECORD_LIST_TOO_LARGE). */
        kerr = rc == SK_EIO      ? SK_KERR_KAFKA_STORAGE_ERROR
               : rc == SK_ELIMIT ? SK_KERR_RECORD_LIST_TOO_LARGE
                                 : SK_KERR_UNKNOWN_SERVER_ERROR;
        goto out;
    }
    res->base_offset = ai.base_offset;
    res->log_append_time_ms = ai.log_append_time;
    if (!ai.duplicate) sk_fetch_notify(srv, p, (int64_t)len);
out:
    free(converted);
    if (rc != SK_OK && kerr == SK_KERR_NONE) kerr = SK_KERR_CORRUPT_MESSAGE;
    return kerr;
}

int
sk_h_produce(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_ProduceRequest_t *req = sk_req_decode(r);
    sk_ProduceResponse_t resp;
    bool any_error = false;

    if (!req) return SK_ECORRUPT;
    sk_ProduceResponse_init(&resp);
    if (req->topic_data_count > 0) {
        resp.responses = sk_req_array(r, (size_t)req->topic_data_count, sizeof(*resp.responses));
        if (!resp.responses) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->topic_data_count; i++) {
        const sk_ProduceRequest_TopicProduceData_t *td = &req->topic_data[i];
        sk_ProduceResponse_TopicProduceResponse_t *tr = &resp.responses[resp.responses_count++];
        sk_topic_t *t = td->name.len >= 0 ? sk_meta_topic(srv->meta, td->name.ptr, (size_t)td->name.len) : NULL;
        sk_ProduceResponse_TopicProduceResponse_init(tr);
        tr->name = td->name;
        if (td->partition_data_count > 0) {
            tr->partition_responses = sk_req_array(r, (size_t)td->partition_data_count, sizeof(*tr->partition_responses));
            if (!tr->partition_responses) return SK_ENOMEM;
        }
        for (int32_t j = 0; j < td->partition_data_count; j++) {
            const sk_ProduceRequest_PartitionProduceData_t *pd = &td->partition_data[j];
            pr_res_t *res = &tr->partition_responses[tr->partition_responses_count++];
            sk_ProduceResponse_PartitionProduceResponse_init(res);
            res->index = pd->index;
            res->base_offset = -1;
            if (req->acks != 0 && req->acks != 1 && req->acks != -1) res->error_code = SK_KERR_INVALID_REQUIRED_ACKS;
            else if (!t) res->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else res->error_code = produce_append(r, t, pd->index, &pd->records, res);
            if (res->error_code != SK_KERR_NONE) {
                any_error = true;
                res->error_message = sk_str_c(sk_kerr_name(res->error_code));
            }
        }
    }
    if (req->acks == 0) {
        if (any_error) sk_req_fail_close(r, "error in an acks=0 produce");
        else sk_req_finish_silent(r);
        return SK_OK;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
