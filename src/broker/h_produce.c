/* broker/h_produce.c: Produce (v0-12; v0-2 carry legacy message sets that are converted
 * to one magic-2 batch). Each partition's records must be exactly one valid batch
 * (sk_batch_validate); the batch is appended in place from the receive buffer (no copy
 * of record bytes) and parked fetches are told. acks=0 gets no response, and any error
 * then closes the connection so that the client refreshes metadata, as Kafka does.
 * Idempotent producers: storage checks each batch against the partition's producer
 * state inside the append; a retry of one of the last five batches is answered NONE
 * with its original base offset (as Kafka 4.x does, not DUPLICATE_SEQUENCE_NUMBER)
 * and nothing is written; gaps get OUT_OF_ORDER_SEQUENCE_NUMBER and stale epochs
 * INVALID_PRODUCER_EPOCH (docs/idempotence.md).
 * Durability (docs/durability.md): when an append reaches flush.messages (1 = every
 * batch, the strict setting) the fsync runs on the storage flusher and the response is
 * parked until it covers each such partition's batch (acks=1 and acks=all; acks=0 has
 * no response to hold). A parked response lives in a heap produce_wait_t that finds its
 * request again by connection id; if the connection closed meanwhile, the last flush
 * callback just frees the wait. */
#include "broker_int.h"

#define PRODUCE_DECOMPRESS_MIN (64u << 20)

typedef sk_ProduceResponse_PartitionProduceResponse_t pr_res_t;

typedef struct produce_wait produce_wait_t;
typedef struct produce_part {
    sk_flush_waiter_t w;     /* parked on one partition's log */
    produce_wait_t *pw;      /* borrowed: owner */
    pr_res_t *res;           /* borrowed: req->arena; touched only while the request lives */
} produce_part_t;

struct produce_wait {
    sk_server_t *srv;        /* borrowed */
    uint64_t conn_id;
    sk_req_t *req;           /* borrowed; valid only while conn_id is open (see wait_req) */
    int32_t correlation_id;
    sk_ProduceResponse_t *resp; /* borrowed: req->arena */
    int32_t pending;         /* parts still parked */
    int32_t count;           /* parts used */
    int32_t cap;
    produce_part_t parts[];  /* owned */
};

/* The parked request if its connection is still open, else NULL. */
static sk_req_t *
wait_req(const produce_wait_t *pw)
{
    for (sk_conn_t *c = pw->srv->conns; c; c = c->next) {
        if (c->id != pw->conn_id) continue;
        for (sk_req_t *r = c->head; r; r = r->next)
            if (r == pw->req && !r->done && r->correlation_id == pw->correlation_id) return r;
        return NULL;
    }
    return NULL;
}

static void
produce_flushed(sk_flush_waiter_t *w, int rc)
{
    produce_part_t *part = w->ctx;
    produce_wait_t *pw = part->pw;
    sk_req_t *r = wait_req(pw);

    if (r && rc != SK_OK) {
        part->res->error_code = SK_KERR_KAFKA_STORAGE_ERROR;
        part->res->error_message = sk_str_c(sk_kerr_name(SK_KERR_KAFKA_STORAGE_ERROR));
        part->res->base_offset = -1;
    }
    if (--pw->pending > 0) return;
    if (r) sk_req_respond(r, pw->resp);
    free(pw);
}

/* Hold the answer of this partition until its batch is durable: SK_KERR_NONE when
 * parked or already durable. */
static int16_t
produce_park(sk_req_t *r, produce_wait_t **pwp, int32_t cap, sk_log_t *log, int64_t offset, pr_res_t *res)
{
    produce_wait_t *pw = *pwp;
    if (!pw) {
        pw = calloc(1, sizeof(*pw) + (size_t)cap * sizeof(pw->parts[0]));
        if (!pw) return SK_KERR_KAFKA_STORAGE_ERROR;
        pw->srv = sk_req_server(r);
        pw->conn_id = r->conn->id;
        pw->req = r;
        pw->correlation_id = r->correlation_id;
        pw->cap = cap;
        *pwp = pw;
    }
    SK_ASSERT(pw->count < pw->cap);
    produce_part_t *part = &pw->parts[pw->count];
    part->pw = pw;
    part->res = res;
    int rc = sk_log_flush_wait(log, offset, &part->w, produce_flushed, part);
    if (rc == SK_AGAIN) {
        pw->count++;
        pw->pending++;
        return SK_KERR_NONE;
    }
    return rc == SK_OK ? SK_KERR_NONE : SK_KERR_KAFKA_STORAGE_ERROR;
}

/* Strict durability: the high watermark of a partition follows its durable offset, so a
 * batch becomes visible to consumers (and parked fetches are told) only once its fsync
 * is done, whatever the producer's acks. One heap waiter per such append. */
void
sk_partition_appended(sk_server_t *srv, sk_partition_t *p, int64_t end_offset, int64_t bytes)
{
    if (sk_partition_strict(p)) sk_produce_hw_follow(srv, p, end_offset, bytes);
    else sk_fetch_notify(srv, p, bytes);
}

int
sk_internal_append(sk_server_t *srv, const char *topic, int32_t partition, uint8_t *batch, size_t len)
{
    sk_append_info_t info;
    sk_partition_t *p = sk_meta_partition(srv->meta, topic, strlen(topic), partition);
    if (!p) return SK_ENOENT;
    int rc = sk_partition_append(p, batch, len, sk_wall_ms(), &info);
    if (rc == SK_OK) sk_partition_appended(srv, p, info.last_offset + 1, (int64_t)len);
    return rc;
}

sk_log_t *
sk_internal_log(sk_server_t *srv, const char *topic, int32_t partition)
{
    sk_partition_t *p = sk_meta_partition(srv->meta, topic, strlen(topic), partition);
    return p ? p->log : NULL;
}
typedef struct hw_wait {
    sk_flush_waiter_t w;
    sk_server_t *srv;        /* borrowed */
    sk_partition_t *p;       /* borrowed: a topic deleted meanwhile cancels the wait first */
    int64_t bytes;           /* the batch, for the fetch waiters' min_bytes */
} hw_wait_t;

static void
produce_hw_flushed(sk_flush_waiter_t *w, int rc)
{
    hw_wait_t *hw = w->ctx;
    /* A moved high watermark can move the last stable offset too: tell read_committed fetches. */
    if (rc == SK_OK && sk_partition_durable_advance(hw->p)) sk_fetch_notify_marker(hw->srv, hw->p, hw->bytes);
    free(hw);
}

void
sk_produce_hw_follow(sk_server_t *srv, sk_partition_t *p, int64_t offset, int64_t bytes)
{
    hw_wait_t *hw = calloc(1, sizeof(*hw));
    int rc = SK_ENOMEM;
    if (hw) {
        *hw = (hw_wait_t){.srv = srv, .p = p, .bytes = bytes};
        rc = sk_log_flush_wait(p->log, offset, &hw->w, produce_hw_flushed, hw);
        if (rc == SK_AGAIN) return;
        free(hw);
    }
    if (rc == SK_OK && sk_partition_durable_advance(p)) sk_fetch_notify_marker(srv, p, bytes);
}

/* The codec a topic stores (compression.type: the topic's override, resolved when its
 * configs change, else the broker's), or -1 to keep what the producer sent. */
static int
produce_target_codec(const sk_server_t *srv, const sk_topic_t *t)
{
    if (t->compression != SK_TOPIC_CODEC_BROKER) return t->compression;
    int32_t e = srv->cfg->compression_type; /* SK_CONFIG_COMPRESSION_*: producer, uncompressed, ... */
    return e == SK_CONFIG_COMPRESSION_PRODUCER ? -1 : e - SK_CONFIG_COMPRESSION_UNCOMPRESSED;
}

/* The request's transactional id (v3+: its first field; null/absent gives len -1).
 * Read again from the body so that the append path needs no extra argument. */
static sk_str_t
produce_txn_id(const sk_req_t *r)
{
    sk_rd_t rd;
    const uint8_t *p;
    if (r->api_version < 3) return SK_STR_NULL;
    sk_rd_init(&rd, r->body, r->body_len);
    if (r->api_version >= 9) {
        uint32_t n;
        if (sk_rd_uvarint(&rd, &n) != SK_OK || n == 0 || sk_rd_raw(&rd, n - 1, &p) != SK_OK) return SK_STR_NULL;
        return (sk_str_t){(const char *)p, (int32_t)(n - 1)};
    }
    int16_t n;
    if (sk_rd_i16(&rd, &n) != SK_OK || n < 0 || sk_rd_raw(&rd, (size_t)n, &p) != SK_OK) return SK_STR_NULL;
    return (sk_str_t){(const char *)p, n};
}

/* KIP-890 part 1: a transactional batch is accepted only for a partition in the ongoing
 * transaction of its producer id and epoch, so a late or hanging write cannot slip into
 * a later transaction. Kafka's answers: INVALID_TXN_STATE (not added, or no open
 * transaction), INVALID_PRODUCER_EPOCH (fenced), INVALID_PRODUCER_ID_MAPPING. From
 * v12 (transactions v2, KIP-890 part 2) the partition is added to the producer's
 * transaction instead; coordinator trouble is NOT_ENOUGH_REPLICAS (retried). */
static int16_t
produce_check_txn(sk_req_t *r, const sk_topic_t *t, int32_t index, const sk_batch_info_t *info)
{
    sk_server_t *srv = sk_req_server(r);
    sk_str_t id;

    if (!(info->hdr.attributes & SK_ATTR_TRANSACTIONAL)) return SK_KERR_NONE;
    id = produce_txn_id(r);
    if (id.len <= 0) return SK_KERR_INVALID_TXN_STATE;
    if (!srv->txn) return SK_KERR_NOT_ENOUGH_REPLICAS; /* retriable, as Kafka maps coordinator trouble */
    if (r->api_version < 12)
        return sk_txn_produce_check(srv->txn, id, info->hdr.producer_id, info->hdr.producer_epoch, t->name,
                                    strlen(t->name), index);
    /* Produce v12 is transactions v2: the partition joins the transaction implicitly. */
    sk_txn_tp_t tp = {{t->name, (int32_t)strlen(t->name)}, index, SK_KERR_NONE};
    int16_t err = sk_txn_add_partitions(srv->txn, id, info->hdr.producer_id, info->hdr.producer_epoch, &tp, 1, false);
    if (err == SK_KERR_PRODUCER_FENCED) return SK_KERR_INVALID_PRODUCER_EPOCH;
    if (err == SK_KERR_CONCURRENT_TRANSACTIONS || err == SK_KERR_COORDINATOR_NOT_AVAILABLE)
        return SK_KERR_NOT_ENOUGH_REPLICAS;
    return err;
}

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

/* Kafka refuses a record without a key in a topic whose cleanup.policy has compact
 * (LogValidator: INVALID_RECORD); the cleaner could never replace it. */
static int
produce_key_cb(void *ctx, const sk_record_t *rec)
{
    (void)ctx;
    return rec->key.len < 0 ? SK_EINVAL : SK_OK;
}

static int16_t
produce_append(sk_req_t *r, sk_topic_t *t, int32_t index, const sk_records_t *recs, pr_res_t *res,
               sk_log_t **flush_log, int64_t *flush_offset)
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
    if (t->log_cfg.compact &&
        sk_batch_foreach_record(batch, len, chk.max_decompressed_bytes, produce_key_cb, NULL) != SK_OK) {
        kerr = SK_KERR_INVALID_RECORD;
        rc = SK_EINVAL;
        goto out;
    }
    if ((kerr = produce_check_txn(r, t, index, &info)) != SK_KERR_NONE) {
        rc = SK_EINVAL;
        goto out;
    }
    int target = produce_target_codec(srv, t);
    if (target >= 0 && (sk_codec_t)target != info.codec) { /* as Kafka: stored in the topic's codec */
        uint8_t *re = NULL;
        size_t re_len;
        if ((rc = sk_batch_recompress(batch, len, (sk_codec_t)target, chk.max_decompressed_bytes, &re, &re_len)) !=
            SK_OK) {
            kerr = SK_KERR_CORRUPT_MESSAGE;
            goto out;
        }
        free(converted);
        batch = converted = re;
        len = re_len;
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
    /* The acknowledgement waits for the fsync flush.messages asked for; a retry of a
     * batch under the strict setting waits until the original is durable. */
    if (ai.flush_wait || (ai.duplicate && t->log_cfg.flush_interval_messages <= 1)) {
        *flush_log = p->log;
        *flush_offset = ai.last_offset + 1;
    }
    if (!ai.duplicate) sk_partition_appended(srv, p, ai.last_offset + 1, (int64_t)len);
out:
    free(converted);
    if (rc != SK_OK && kerr == SK_KERR_NONE) kerr = SK_KERR_CORRUPT_MESSAGE;
    return kerr;
}

/* Answer one partition of the request; parks it when its batch must be durable first. */
static void
produce_partition(sk_req_t *r, const sk_ProduceRequest_t *req, sk_topic_t *t,
                  const sk_ProduceRequest_PartitionProduceData_t *pd, pr_res_t *res, produce_wait_t **pw,
                  int32_t parts)
{
    sk_log_t *flush_log = NULL;
    int64_t flush_offset = -1;

    sk_ProduceResponse_PartitionProduceResponse_init(res);
    res->index = pd->index;
    res->base_offset = -1;
    if (req->acks != 0 && req->acks != 1 && req->acks != -1) res->error_code = SK_KERR_INVALID_REQUIRED_ACKS;
    else if (!t) res->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    else res->error_code = produce_append(r, t, pd->index, &pd->records, res, &flush_log, &flush_offset);
    if (res->error_code == SK_KERR_NONE && flush_log && req->acks != 0) {
        res->error_code = produce_park(r, pw, parts, flush_log, flush_offset, res);
        if (res->error_code != SK_KERR_NONE) res->base_offset = -1;
    }
    if (res->error_code != SK_KERR_NONE) res->error_message = sk_str_c(sk_kerr_name(res->error_code));
}

int
sk_h_produce(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_ProduceRequest_t *req = sk_req_decode(r);
    sk_ProduceResponse_t *resp = sk_req_alloc(r, sizeof(*resp)); /* arena: outlives a parked answer */
    produce_wait_t *pw = NULL;
    int32_t parts = 0;
    bool any_error = false;

    if (!req) return SK_ECORRUPT;
    if (!resp) return SK_ENOMEM;
    sk_ProduceResponse_init(resp);
    for (int32_t i = 0; i < req->topic_data_count; i++) parts += SK_MAX(req->topic_data[i].partition_data_count, 0);
    if (req->topic_data_count > 0) {
        resp->responses = sk_req_array(r, (size_t)req->topic_data_count, sizeof(*resp->responses));
        if (!resp->responses) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->topic_data_count; i++) {
        const sk_ProduceRequest_TopicProduceData_t *td = &req->topic_data[i];
        sk_ProduceResponse_TopicProduceResponse_t *tr = &resp->responses[resp->responses_count++];
        sk_topic_t *t = td->name.len >= 0 ? sk_meta_topic(srv->meta, td->name.ptr, (size_t)td->name.len) : NULL;
        sk_ProduceResponse_TopicProduceResponse_init(tr);
        tr->name = td->name;
        if (td->partition_data_count > 0) {
            tr->partition_responses = sk_req_array(r, (size_t)td->partition_data_count, sizeof(*tr->partition_responses));
            if (!tr->partition_responses) {
                /* Parts parked already find their request gone and free the wait. */
                if (pw && pw->pending == 0) free(pw);
                return SK_ENOMEM;
            }
        }
        for (int32_t j = 0; j < td->partition_data_count; j++) {
            pr_res_t *res = &tr->partition_responses[tr->partition_responses_count++];
            produce_partition(r, req, t, &td->partition_data[j], res, &pw, parts);
            if (res->error_code != SK_KERR_NONE) any_error = true;
        }
    }
    if (req->acks == 0) {
        if (any_error) sk_req_fail_close(r, "error in an acks=0 produce");
        else sk_req_finish_silent(r);
        return SK_OK;
    }
    if (pw && pw->pending > 0) {
        pw->resp = resp; /* answered by the last produce_flushed */
        return SK_OK;
    }
    free(pw);
    sk_req_respond(r, resp);
    return SK_OK;
}
