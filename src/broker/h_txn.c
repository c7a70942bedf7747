/* broker/h_txn.c: the transactional APIs and the transaction coordinator's wiring.
 *
 * AddPartitionsToTxn (v0-3 from clients; v4-5 the batched broker form of KIP-890, with
 * VerifyOnly), AddOffsetsToTxn, EndTxn, TxnOffsetCommit, and the admin side:
 * DescribeTransactions, ListTransactions, DescribeProducers. The state machine is in
 * src/coordinator/txn.c; this file checks what only the broker knows (topics and
 * partitions exist), maps errors to what each request version may carry, and answers.
 * Every call is answered before the handler returns: the coordinator's appends and
 * markers are local and synchronous (single node).
 *
 * Errors as clients expect them: a fenced producer gets PRODUCER_FENCED from the
 * versions that know it (AddPartitionsToTxn, AddOffsetsToTxn and EndTxn v2+) and
 * INVALID_PRODUCER_EPOCH before; TxnOffsetCommit answers INVALID_PRODUCER_EPOCH, as
 * Kafka's group coordinator does. CONCURRENT_TRANSACTIONS (markers still going out) and
 * COORDINATOR_NOT_AVAILABLE are retried by the clients.
 *
 * Start-up (sk_server_txn_start): __transaction_state is created if missing (compacted,
 * transaction.state.log.* settings), the coordinator is created with the broker's
 * producer-id allocator (so ids stay unique across idempotent and transactional
 * producers), the marker hook of txn_markers.c, the group coordinator for
 * transactional offsets, then loaded (finishing transactions found preparing). */
#include "broker_int.h"

/* ---- wiring ---- */

static int
txn_store_append(void *ctx, int32_t partition, uint8_t *batch, size_t len)
{
    return sk_internal_append(ctx, SK_TXN_STATE_TOPIC, partition, batch, len);
}

static sk_log_t *
txn_store_log(void *ctx, int32_t partition)
{
    return sk_internal_log(ctx, SK_TXN_STATE_TOPIC, partition);
}

static int
txn_pid_next(void *ctx, int64_t *id)
{
    sk_server_t *srv = ctx;
    int rc;
    if (!srv->pids && (rc = sk_pid_alloc_open(srv->cfg->log_dirs[0], &srv->pids)) != SK_OK) return rc;
    return sk_pid_alloc_next(srv->pids, id);
}

static int
txn_topic_ensure(sk_server_t *srv, int32_t *partitions)
{
    const sk_config_t *cfg = srv->cfg;
    sk_topic_t *t = sk_meta_topic(srv->meta, SK_TXN_STATE_TOPIC, strlen(SK_TXN_STATE_TOPIC));
    char seg[32], isr[32], err[256];
    sk_topic_cfg_t cfgs[3] = {{(char *)"cleanup.policy", (char *)"compact"},
                              {(char *)"segment.bytes", seg},
                              {(char *)"min.insync.replicas", isr}};
    int rc;

    if (!t) {
        snprintf(seg, sizeof(seg), "%d", cfg->transaction_state_log_segment_bytes);
        snprintf(isr, sizeof(isr), "%d", cfg->transaction_state_log_min_isr);
        rc = sk_meta_topic_create(srv->meta, SK_TXN_STATE_TOPIC, cfg->transaction_state_log_num_partitions,
                                  (int16_t)cfg->transaction_state_log_replication_factor, cfgs, 3, &t, err,
                                  sizeof(err));
        if (rc != SK_OK) {
            SK_ERROR("event=txn_topic_create_failed rc=%s error=\"%s\"", sk_strerror(rc), err);
            return rc;
        }
    }
    if (t->partition_count != cfg->transaction_state_log_num_partitions)
        SK_WARN("event=txn_topic_partitions existing=%d configured=%d using=existing", t->partition_count,
                cfg->transaction_state_log_num_partitions);
    *partitions = t->partition_count;
    return SK_OK;
}

int
sk_server_txn_start(sk_server_t *srv)
{
    sk_coord_store_t store = {txn_store_append, txn_store_log, srv}; /* copied by sk_txn_coord_new */
    sk_txn_options_t o;
    int32_t partitions = 0;
    int rc;

    if ((rc = txn_topic_ensure(srv, &partitions)) != SK_OK) return rc;
    sk_txn_options_defaults(&o);
    o.state_partitions = partitions;
    o.max_timeout_ms = srv->cfg->transaction_max_timeout_ms;
    o.abort_check_interval_ms = srv->cfg->transaction_abort_timed_out_interval_ms;
    o.id_expiration_ms = srv->cfg->transactional_id_expiration_ms;
    o.expire_check_interval_ms = srv->cfg->transaction_remove_expired_interval_ms;
    o.store = &store;
    o.hooks = (sk_txn_hooks_t){txn_pid_next, sk_txn_marker_hook, srv};
    o.groups = srv->coord;
    if ((rc = sk_txn_coord_new(&o, &srv->txn)) != SK_OK) return rc;
    if ((rc = sk_txn_coord_load(srv->txn)) != SK_OK) {
        SK_ERROR("event=txn_state_load_failed rc=%s", sk_strerror(rc));
        return rc;
    }
    return SK_OK;
}

/* ---- helpers ---- */

/* PRODUCER_FENCED exists from v2 of the Add* and EndTxn APIs. */
static int16_t
fenced_for(int16_t err, int16_t version, int16_t first_version)
{
    return err == SK_KERR_PRODUCER_FENCED && version < first_version ? SK_KERR_INVALID_PRODUCER_EPOCH : err;
}

static bool
partition_exists(sk_server_t *srv, sk_str_t topic, int32_t partition)
{
    sk_topic_t *t = topic.len > 0 ? sk_meta_topic(srv->meta, topic.ptr, (size_t)topic.len) : NULL;
    return t && partition >= 0 && partition < t->partition_count;
}

/* ---- AddPartitionsToTxn ---- */

typedef sk_AddPartitionsToTxnRequest_AddPartitionsToTxnTopic_t apt_topic_t;
typedef sk_AddPartitionsToTxnResponse_AddPartitionsToTxnTopicResult_t apt_result_t;

/* One transaction: flatten its partitions, ask the coordinator, fill the results. */
static int
apt_one(sk_req_t *r, sk_str_t id, int64_t pid, int16_t epoch, bool verify, const apt_topic_t *topics, int32_t count,
        apt_result_t **out, int32_t *out_count)
{
    sk_server_t *srv = sk_req_server(r);
    int32_t n = 0, k = 0;
    sk_txn_tp_t *tps;
    apt_result_t *res;
    int16_t err;

    for (int32_t i = 0; i < count; i++) n += SK_MAX(topics[i].partitions_count, 0);
    tps = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*tps));
    res = sk_req_array(r, (size_t)SK_MAX(count, 1), sizeof(*res));
    if (!tps || !res) return SK_ENOMEM;
    for (int32_t i = 0; i < count; i++)
        for (int32_t j = 0; j < topics[i].partitions_count; j++, k++) {
            tps[k] = (sk_txn_tp_t){topics[i].name, topics[i].partitions[j], SK_KERR_NONE};
            if (!partition_exists(srv, topics[i].name, tps[k].partition))
                tps[k].error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    if (id.len <= 0 || !srv->txn) {
        err = id.len <= 0 ? SK_KERR_INVALID_REQUEST : SK_KERR_COORDINATOR_NOT_AVAILABLE;
        for (int32_t i = 0; i < n; i++) tps[i].error_code = err;
    } else {
        (void)sk_txn_add_partitions(srv->txn, id, pid, epoch, tps, n, verify); /* errors land in tps */
    }
    k = 0;
    for (int32_t i = 0; i < count; i++) {
        apt_result_t *t = &res[i];
        sk_AddPartitionsToTxnResponse_AddPartitionsToTxnTopicResult_init(t);
        t->name = topics[i].name;
        if (topics[i].partitions_count <= 0) continue;
        t->results_by_partition = sk_req_array(r, (size_t)topics[i].partitions_count, sizeof(*t->results_by_partition));
        if (!t->results_by_partition) return SK_ENOMEM;
        for (int32_t j = 0; j < topics[i].partitions_count; j++, k++) {
            t->results_by_partition[j].partition_index = tps[k].partition;
            t->results_by_partition[j].partition_error_code = fenced_for(tps[k].error_code, r->api_version, 2);
        }
        t->results_by_partition_count = topics[i].partitions_count;
    }
    *out = res;
    *out_count = count;
    return SK_OK;
}

int
sk_h_add_partitions_to_txn(sk_req_t *r)
{
    sk_AddPartitionsToTxnRequest_t *req = sk_req_decode(r);
    sk_AddPartitionsToTxnResponse_t resp;
    int rc;

    if (!req) return SK_ECORRUPT;
    sk_AddPartitionsToTxnResponse_init(&resp);
    if (r->api_version <= 3) {
        rc = apt_one(r, req->v3_and_below_transactional_id, req->v3_and_below_producer_id,
                     req->v3_and_below_producer_epoch, false, req->v3_and_below_topics,
                     SK_MAX(req->v3_and_below_topics_count, 0), &resp.results_by_topic_v3_and_below,
                     &resp.results_by_topic_v3_and_below_count);
        if (rc != SK_OK) return rc;
        sk_req_respond(r, &resp);
        return SK_OK;
    }
    if (req->transactions_count > 0) {
        resp.results_by_transaction = sk_req_array(r, (size_t)req->transactions_count, sizeof(*resp.results_by_transaction));
        if (!resp.results_by_transaction) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->transactions_count; i++) {
        const sk_AddPartitionsToTxnRequest_AddPartitionsToTxnTransaction_t *tx = &req->transactions[i];
        sk_AddPartitionsToTxnResponse_AddPartitionsToTxnResult_t *o = &resp.results_by_transaction[i];
        sk_AddPartitionsToTxnResponse_AddPartitionsToTxnResult_init(o);
        o->transactional_id = tx->transactional_id;
        rc = apt_one(r, tx->transactional_id, tx->producer_id, tx->producer_epoch, tx->verify_only, tx->topics,
                     SK_MAX(tx->topics_count, 0), &o->topic_results, &o->topic_results_count);
        if (rc != SK_OK) return rc;
        resp.results_by_transaction_count++;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- AddOffsetsToTxn, EndTxn ---- */

int
sk_h_add_offsets_to_txn(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_AddOffsetsToTxnRequest_t *req = sk_req_decode(r);
    sk_AddOffsetsToTxnResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_AddOffsetsToTxnResponse_init(&resp);
    if (req->transactional_id.len <= 0) resp.error_code = SK_KERR_INVALID_REQUEST;
    else if (req->group_id.len <= 0) resp.error_code = SK_KERR_INVALID_GROUP_ID;
    else if (!srv->txn) resp.error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
    else
        resp.error_code = sk_txn_add_offsets(srv->txn, req->transactional_id, req->producer_id, req->producer_epoch,
                                             req->group_id);
    resp.error_code = fenced_for(resp.error_code, r->api_version, 2);
    sk_req_respond(r, &resp);
    return SK_OK;
}

int
sk_h_end_txn(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_EndTxnRequest_t *req = sk_req_decode(r);
    sk_EndTxnResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_EndTxnResponse_init(&resp);
    if (req->transactional_id.len <= 0) resp.error_code = SK_KERR_INVALID_REQUEST;
    else if (!srv->txn) resp.error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
    else if (r->api_version >= 5) /* transactions v2: the epoch moves on at every end */
        resp.error_code = sk_txn_end_v2(srv->txn, req->transactional_id, req->producer_id, req->producer_epoch,
                                        req->committed, &resp.producer_id, &resp.producer_epoch);
    else
        resp.error_code = sk_txn_end(srv->txn, req->transactional_id, req->producer_id, req->producer_epoch,
                                     req->committed);
    resp.error_code = fenced_for(resp.error_code, r->api_version, 2);
    SK_DEBUG(REQ, "event=end_txn conn=%llu commit=%d error=%d", (unsigned long long)r->conn->id, req->committed,
             resp.error_code);
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- TxnOffsetCommit ---- */

int
sk_h_txn_offset_commit(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_TxnOffsetCommitRequest_t *req = sk_req_decode(r);
    sk_TxnOffsetCommitResponse_t resp;
    sk_off_entry_t *e;
    int32_t n = 0, k = 0;
    int16_t err = SK_KERR_NONE;

    if (!req) return SK_ECORRUPT;
    sk_TxnOffsetCommitResponse_init(&resp);
    for (int32_t i = 0; i < req->topics_count; i++) n += SK_MAX(req->topics[i].partitions_count, 0);
    e = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*e));
    if (!e) return SK_ENOMEM;
    for (int32_t i = 0; i < req->topics_count; i++)
        for (int32_t j = 0; j < req->topics[i].partitions_count; j++, k++) {
            const sk_TxnOffsetCommitRequest_TxnOffsetCommitRequestPartition_t *p = &req->topics[i].partitions[j];
            e[k] = (sk_off_entry_t){req->topics[i].name, p->partition_index, p->committed_offset,
                                    p->committed_leader_epoch, p->committed_metadata, SK_KERR_NONE};
            if (!partition_exists(srv, e[k].topic, e[k].partition)) e[k].error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    if (req->transactional_id.len <= 0) err = SK_KERR_INVALID_REQUEST;
    else if (!srv->txn || !srv->coord) err = SK_KERR_COORDINATOR_NOT_AVAILABLE;
    else if (r->api_version >= 5) /* transactions v2: the offsets partition joins implicitly */
        err = sk_txn_add_offsets(srv->txn, req->transactional_id, req->producer_id, req->producer_epoch,
                                 req->group_id);
    else
        err = sk_txn_offsets_check(srv->txn, req->transactional_id, req->producer_id, req->producer_epoch,
                                   req->group_id);
    /* Kafka turns retriable coordinator answers into one that keeps the coordinator. */
    if (err == SK_KERR_CONCURRENT_TRANSACTIONS) err = SK_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    if (err != SK_KERR_NONE) {
        for (int32_t i = 0; i < n; i++)
            if (e[i].error_code == SK_KERR_NONE) e[i].error_code = err;
    } else {
        sk_off_commit_args_t a = {req->group_id, req->generation_id, req->member_id, req->group_instance_id, -1};
        if (sk_off_txn_commit(srv->coord, req->producer_id, req->producer_epoch, &a, e, n) != SK_OK) return SK_ENOMEM;
    }
    if (req->topics_count > 0) {
        resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
    }
    k = 0;
    for (int32_t i = 0; i < req->topics_count; i++) {
        sk_TxnOffsetCommitResponse_TxnOffsetCommitResponseTopic_t *t = &resp.topics[resp.topics_count++];
        sk_TxnOffsetCommitResponse_TxnOffsetCommitResponseTopic_init(t);
        t->name = req->topics[i].name;
        if (req->topics[i].partitions_count <= 0) continue;
        t->partitions = sk_req_array(r, (size_t)req->topics[i].partitions_count, sizeof(*t->partitions));
        if (!t->partitions) return SK_ENOMEM;
        for (int32_t j = 0; j < req->topics[i].partitions_count; j++, k++) {
            int16_t pe = e[k].error_code == SK_KERR_PRODUCER_FENCED ? SK_KERR_INVALID_PRODUCER_EPOCH : e[k].error_code;
            t->partitions[t->partitions_count].partition_index = e[k].partition;
            t->partitions[t->partitions_count++].error_code = pe;
        }
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- DescribeTransactions, ListTransactions ---- */

int
sk_h_describe_transactions(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_DescribeTransactionsRequest_t *req = sk_req_decode(r);
    sk_DescribeTransactionsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_DescribeTransactionsResponse_init(&resp);
    if (req->transactional_ids_count > 0) {
        resp.transaction_states = sk_req_array(r, (size_t)req->transactional_ids_count, sizeof(*resp.transaction_states));
        if (!resp.transaction_states) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->transactional_ids_count; i++) {
        sk_DescribeTransactionsResponse_TransactionState_t *o = &resp.transaction_states[resp.transaction_states_count++];
        sk_txn_desc_t d;
        sk_DescribeTransactionsResponse_TransactionState_init(o);
        o->transactional_id = req->transactional_ids[i];
        if (!srv->txn) {
            o->error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
            continue;
        }
        if (sk_txn_describe(srv->txn, req->transactional_ids[i], &r->arena, &d) != SK_OK) return SK_ENOMEM;
        o->error_code = d.error_code;
        o->transaction_state = sk_str_c(d.state);
        o->transaction_timeout_ms = d.timeout_ms;
        o->transaction_start_time_ms = d.start_wall_ms;
        o->producer_id = d.producer_id;
        o->producer_epoch = d.producer_epoch;
        if (d.partition_count == 0) continue;
        /* One entry per topic, partitions in the order they were added. */
        o->topics = sk_req_array(r, (size_t)d.partition_count, sizeof(*o->topics));
        if (!o->topics) return SK_ENOMEM;
        for (int32_t j = 0; j < d.partition_count; j++) {
            sk_DescribeTransactionsResponse_TopicData_t *td = NULL;
            for (int32_t x = 0; x < o->topics_count && !td; x++)
                if (o->topics[x].topic.len == d.partitions[j].topic.len &&
                    memcmp(o->topics[x].topic.ptr, d.partitions[j].topic.ptr, (size_t)d.partitions[j].topic.len) == 0)
                    td = &o->topics[x];
            if (!td) {
                td = &o->topics[o->topics_count++];
                sk_DescribeTransactionsResponse_TopicData_init(td);
                td->topic = d.partitions[j].topic;
                td->partitions = sk_req_array(r, (size_t)d.partition_count, sizeof(int32_t));
                if (!td->partitions) return SK_ENOMEM;
                td->partitions_count = 0;
            }
            td->partitions[td->partitions_count++] = d.partitions[j].partition;
        }
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

static bool
state_known(sk_str_t s)
{
    for (int i = SK_TXN_EMPTY; i <= SK_TXN_PREPARE_EPOCH_FENCE; i++)
        if (sk_str_eq(s, sk_txn_state_name((sk_txn_state_t)i))) return true;
    return false;
}

int
sk_h_list_transactions(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_ListTransactionsRequest_t *req = sk_req_decode(r);
    sk_ListTransactionsResponse_t resp;
    sk_txn_listed_t *l = NULL;
    int32_t n = 0;

    if (!req) return SK_ECORRUPT;
    sk_ListTransactionsResponse_init(&resp);
    if (req->state_filters_count > 0) {
        resp.unknown_state_filters = sk_req_array(r, (size_t)req->state_filters_count, sizeof(sk_str_t));
        if (!resp.unknown_state_filters) return SK_ENOMEM;
        for (int32_t i = 0; i < req->state_filters_count; i++)
            if (!state_known(req->state_filters[i]))
                resp.unknown_state_filters[resp.unknown_state_filters_count++] = req->state_filters[i];
    }
    if (!srv->txn) {
        resp.error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        if (sk_txn_list(srv->txn, req->state_filters, SK_MAX(req->state_filters_count, 0), req->producer_id_filters,
                        SK_MAX(req->producer_id_filters_count, 0), req->duration_filter, &r->arena, &l, &n) != SK_OK)
            return SK_ENOMEM;
        if (n > 0 && !(resp.transaction_states = sk_req_array(r, (size_t)n, sizeof(*resp.transaction_states))))
            return SK_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            sk_ListTransactionsResponse_TransactionState_t *o = &resp.transaction_states[resp.transaction_states_count++];
            sk_ListTransactionsResponse_TransactionState_init(o);
            o->transactional_id = sk_str_c(l[i].transactional_id);
            o->producer_id = l[i].producer_id;
            o->transaction_state = sk_str_c(l[i].state);
        }
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- DescribeProducers ---- */

typedef sk_DescribeProducersResponse_PartitionResponse_t dp_part_t;

typedef struct dp_ctx {
    sk_req_t *r;
    dp_part_t *out;
    int32_t cap;
    bool oom;
} dp_ctx_t;

static void
dp_one(void *arg, const sk_log_producer_info_t *p)
{
    dp_ctx_t *c = arg;
    if (c->oom) return;
    if (c->out->active_producers_count == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 8;
        sk_DescribeProducersResponse_ProducerState_t *v = sk_req_array(c->r, (size_t)cap, sizeof(*v));
        if (!v) {
            c->oom = true;
            return;
        }
        if (c->cap) memcpy(v, c->out->active_producers, (size_t)c->cap * sizeof(*v));
        c->out->active_producers = v;
        c->cap = cap;
    }
    sk_DescribeProducersResponse_ProducerState_t *s = &c->out->active_producers[c->out->active_producers_count++];
    sk_DescribeProducersResponse_ProducerState_init(s);
    s->producer_id = p->producer_id;
    s->producer_epoch = p->producer_epoch;
    s->last_sequence = p->last_sequence;
    s->last_timestamp = p->last_timestamp;
    s->coordinator_epoch = p->coordinator_epoch;
    s->current_txn_start_offset = p->txn_start_offset;
}

int
sk_h_describe_producers(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_DescribeProducersRequest_t *req = sk_req_decode(r);
    sk_DescribeProducersResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_DescribeProducersResponse_init(&resp);
    if (req->topics_count > 0 && !(resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics))))
        return SK_ENOMEM;
    for (int32_t i = 0; i < req->topics_count; i++) {
        const sk_DescribeProducersRequest_TopicRequest_t *tq = &req->topics[i];
        sk_DescribeProducersResponse_TopicResponse_t *to = &resp.topics[resp.topics_count++];
        sk_topic_t *t = tq->name.len > 0 ? sk_meta_topic(srv->meta, tq->name.ptr, (size_t)tq->name.len) : NULL;
        sk_DescribeProducersResponse_TopicResponse_init(to);
        to->name = tq->name;
        if (tq->partition_indexes_count <= 0) continue;
        to->partitions = sk_req_array(r, (size_t)tq->partition_indexes_count, sizeof(*to->partitions));
        if (!to->partitions) return SK_ENOMEM;
        for (int32_t j = 0; j < tq->partition_indexes_count; j++) {
            dp_part_t *po = &to->partitions[to->partitions_count++];
            int32_t index = tq->partition_indexes[j];
            sk_DescribeProducersResponse_PartitionResponse_init(po);
            po->partition_index = index;
            if (!t || index < 0 || index >= t->partition_count) {
                po->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            dp_ctx_t c = {r, po, 0, false};
            sk_log_producer_foreach(t->partitions[index].log, dp_one, &c);
            if (c.oom) return SK_ENOMEM;
        }
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
