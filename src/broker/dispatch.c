/* broker/dispatch.c: from a framed request to a handler and back. Parses the request
 * header by hand (api key, version, correlation id, the int16-length client id, and the
 * tagged fields of header v2), checks the version against the handler table, and encodes
 * responses with the response header of the API's version. Kafka's rules: an unknown API
 * key or an unsupported version closes the connection, except ApiVersions, which answers
 * a too-high version in the v0 layout with UNSUPPORTED_VERSION (KIP-511). */
#include "broker_int.h"

const sk_handler_t sk_handlers[] = {
    /* key, min, max, advertised min, handler */
    {SK_API_PRODUCE, 0, 12, 0, sk_h_produce},
    {SK_API_FETCH, 4, 17, 4, sk_h_fetch},
    {SK_API_LIST_OFFSETS, 1, 10, 1, sk_h_list_offsets},
    {SK_API_METADATA, 0, 13, 0, sk_h_metadata},
    {SK_API_API_VERSIONS, 0, 4, 0, sk_h_api_versions},
    {SK_API_CREATE_TOPICS, 2, 7, 2, sk_h_create_topics},
    {SK_API_DELETE_TOPICS, 1, 6, 1, sk_h_delete_topics},
    {SK_API_DESCRIBE_CLUSTER, 0, 2, 0, sk_h_describe_cluster},
    /* Advertised from v0: librdkafka <= 2.11 uses lz4 only when FindCoordinator v0 is. */
    {SK_API_FIND_COORDINATOR, 0, 6, 0, sk_h_find_coordinator},
    /* Groups and offsets (h_group.c, h_offsets.c). JoinGroup from v0: librdkafka <= 2.10
     * decides GSSAPI support from it. OffsetCommit 0-1 are accepted, 2+ advertised as
     * in Kafka 4; offsets APIs stop at 9 (10 needs topic ids). */
    {SK_API_JOIN_GROUP, 0, 9, 0, sk_h_join_group},
    {SK_API_SYNC_GROUP, 0, 5, 0, sk_h_sync_group},
    {SK_API_HEARTBEAT, 0, 4, 0, sk_h_heartbeat},
    {SK_API_LEAVE_GROUP, 0, 5, 0, sk_h_leave_group},
    {SK_API_OFFSET_COMMIT, 0, 9, 2, sk_h_offset_commit},
    {SK_API_OFFSET_FETCH, 1, 9, 1, sk_h_offset_fetch},
    {SK_API_OFFSET_DELETE, 0, 0, 0, sk_h_offset_delete},
    {SK_API_DESCRIBE_GROUPS, 0, 6, 0, sk_h_describe_groups},
    {SK_API_LIST_GROUPS, 0, 5, 0, sk_h_list_groups},
    {SK_API_DELETE_GROUPS, 0, 2, 0, sk_h_delete_groups},
    {SK_API_DESCRIBE_CONFIGS, 1, 4, 1, sk_h_describe_configs},
    {SK_API_ALTER_CONFIGS, 0, 2, 0, sk_h_alter_configs},
    {SK_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, 0, sk_h_incremental_alter_configs},
    {SK_API_CREATE_PARTITIONS, 0, 3, 0, sk_h_create_partitions},
    /* Advertised from v0: librdkafka <= 2.11 enables idempotence only when v0 is. */
    {SK_API_INIT_PRODUCER_ID, 0, 5, 0, sk_h_init_producer_id},
    {SK_API_DELETE_RECORDS, 0, 2, 0, sk_h_delete_records},
    /* Transactions (h_txn.c), Kafka 4.x's ranges. AddPartitionsToTxn v4+ is the batched
     * broker form; EndTxn v5, TxnOffsetCommit v5 and Produce v12 are transactions v2,
     * used by clients because ApiVersions finalizes transaction.version 2. */
    {SK_API_ADD_PARTITIONS_TO_TXN, 0, 5, 0, sk_h_add_partitions_to_txn},
    {SK_API_ADD_OFFSETS_TO_TXN, 0, 4, 0, sk_h_add_offsets_to_txn},
    {SK_API_END_TXN, 0, 5, 0, sk_h_end_txn},
    {SK_API_TXN_OFFSET_COMMIT, 0, 5, 0, sk_h_txn_offset_commit},
    {SK_API_DESCRIBE_PRODUCERS, 0, 0, 0, sk_h_describe_producers},
    {SK_API_DESCRIBE_TRANSACTIONS, 0, 0, 0, sk_h_describe_transactions},
    {SK_API_LIST_TRANSACTIONS, 0, 1, 0, sk_h_list_transactions},
    {SK_API_DESCRIBE_LOG_DIRS, 1, 4, 1, sk_h_describe_log_dirs},
    {SK_API_DESCRIBE_TOPIC_PARTITIONS, 0, 0, 0, sk_h_describe_topic_partitions},
};
const size_t sk_handler_count = SK_ARRAY_LEN(sk_handlers);

const sk_handler_t *
sk_handler_find(int16_t key)
{
    for (size_t i = 0; i < sk_handler_count; i++)
        if (sk_handlers[i].key == key) return &sk_handlers[i];
    return NULL;
}

void
sk_req_free(sk_req_t *r)
{
    sk_wr_deinit(&r->out);
    sk_arena_deinit(&r->arena);
    sk_rbuf_put(r->rbuf);
    free(r);
}

void *
sk_req_alloc(sk_req_t *r, size_t size)
{
    return sk_arena_alloc(&r->arena, size);
}

void *
sk_req_array(sk_req_t *r, size_t n, size_t size)
{
    return sk_arena_calloc(&r->arena, n, size);
}

char *
sk_req_strdup(sk_req_t *r, sk_str_t s)
{
    return sk_arena_strndup(&r->arena, s.ptr ? s.ptr : "", s.len > 0 ? (size_t)s.len : 0);
}

/* Mark r answered. The write happens from the connection's write watcher, never from
 * here: flushing at once could free r (and its arena) while the handler that answered
 * is still using it, e.g. a woken fetch releasing its log slices after responding.
 * Inside the read handler, the kick at its end does the same job. */
static void
req_complete(sk_req_t *r)
{
    sk_conn_t *c = r->conn;
    r->done = true;
    r->parked = NULL;
    c->queued_bytes += r->out.total_bytes;
    if (!c->in_read) ev_feed_event(c->srv->loop, &c->wio, EV_WRITE);
}

void
sk_req_fail_close(sk_req_t *r, const char *why)
{
    SK_WARN("event=request_rejected conn=%llu peer=%s api_key=%d api_version=%d why=\"%s\"",
            (unsigned long long)r->conn->id, r->conn->peer, r->api_key, r->api_version, why);
    sk_wr_reset(&r->out);
    r->no_response = true;
    r->close_after = true;
    r->conn->closing = true;
    req_complete(r);
}

void
sk_req_finish_silent(sk_req_t *r)
{
    r->no_response = true;
    req_complete(r);
}

/* Encode size, response header and body. */
static int
req_encode(sk_req_t *r, const void *resp)
{
    const sk_api_desc_t *d = sk_api_desc(r->api_key);
    size_t at;
    int rc;

    SK_ASSERT(d != NULL);
    sk_wr_reset(&r->out);
    if ((rc = sk_wr_reserve(&r->out, 4, &at)) != SK_OK) return rc;
    if ((rc = sk_wr_i32(&r->out, r->correlation_id)) != SK_OK) return rc;
    if (sk_api_response_header_version(r->api_key, r->api_version) >= 1 &&
        (rc = sk_wr_uvarint(&r->out, 0)) != SK_OK)
        return rc;
    if ((rc = d->encode_response(&r->out, r->api_version, resp)) != SK_OK) return rc;
    if (r->out.failed) return SK_ENOMEM;
    if (r->out.total_bytes - 4 > INT32_MAX) return SK_ELIMIT;
    sk_wr_patch_i32(&r->out, at, (int32_t)(r->out.total_bytes - 4));
    return SK_OK;
}

void
sk_req_respond(sk_req_t *r, const void *resp)
{
    int rc = req_encode(r, resp);
    if (rc != SK_OK) {
        SK_ERROR("event=encode_failed api_key=%d api_version=%d rc=%s", r->api_key, r->api_version,
                 sk_strerror(rc));
        sk_req_fail_close(r, "response encoding failed");
        return;
    }
    req_complete(r);
}

void *
sk_req_decode(sk_req_t *r)
{
    const sk_api_desc_t *d = sk_api_desc(r->api_key);
    sk_rd_t rd;
    void *m;
    int rc;

    SK_ASSERT(d != NULL);
    m = sk_arena_alloc(&r->arena, d->request_size);
    if (!m) return NULL;
    sk_rd_init(&rd, r->body, r->body_len);
    rc = d->decode_request(&rd, r->api_version, &r->arena, m);
    if (rc != SK_OK) {
        SK_DEBUG(PROTO, "event=decode_failed api_key=%d api_version=%d rc=%s", r->api_key, r->api_version,
                 sk_strerror(rc));
        return NULL;
    }
    return m;
}

/* Header: api_key i16, api_version i16, correlation_id i32, client_id (int16-length,
 * nullable), then for header v2 a tagged-field section (skipped). */
static int
req_parse_header(sk_req_t *r, const uint8_t *frame, size_t len)
{
    sk_rd_t rd;
    int16_t clen;
    const uint8_t *cid = NULL;

    sk_rd_init(&rd, frame, len);
    if (sk_rd_i16(&rd, &r->api_key) || sk_rd_i16(&rd, &r->api_version) || sk_rd_i32(&rd, &r->correlation_id) ||
        sk_rd_i16(&rd, &clen))
        return SK_ECORRUPT;
    if (clen < -1) return SK_ECORRUPT;
    if (clen >= 0 && sk_rd_raw(&rd, (size_t)clen, &cid)) return SK_ECORRUPT;
    r->client_id = (sk_str_t){(const char *)cid, clen};
    const sk_api_desc_t *d = sk_api_desc(r->api_key);
    bool flexible = d && d->first_flexible >= 0 && r->api_version >= d->first_flexible;
    if (flexible) {
        uint32_t n, tag, size;
        if (sk_rd_uvarint(&rd, &n)) return SK_ECORRUPT;
        for (uint32_t i = 0; i < n; i++)
            if (sk_rd_uvarint(&rd, &tag) || sk_rd_uvarint(&rd, &size) || sk_rd_skip(&rd, size)) return SK_ECORRUPT;
    }
    r->body = frame + rd.pos;
    r->body_len = len - rd.pos;
    return SK_OK;
}

int
sk_req_header_parse(sk_req_t *r, const uint8_t *frame, size_t len)
{
    return req_parse_header(r, frame, len);
}

void
sk_dispatch(sk_conn_t *c, sk_rbuf_t *rbuf, const uint8_t *frame, size_t len)
{
    sk_req_t *r = calloc(1, sizeof(*r));
    const sk_handler_t *h;

    if (!r) {
        sk_conn_close(c, "out of memory");
        return;
    }
    r->conn = c;
    r->rbuf = sk_rbuf_get(rbuf);
    r->start_us = sk_mono_us();
    sk_arena_init(&r->arena, (size_t)c->srv->cfg->request_arena_max_bytes);
    sk_wr_init(&r->out, 0);
    if (c->tail) c->tail->next = r;
    else c->head = r;
    c->tail = r;
    c->inflight++;

    if (req_parse_header(r, frame, len) != SK_OK) {
        sk_req_fail_close(r, "malformed request header");
        return;
    }
    SK_DEBUG(REQ, "event=request conn=%llu api_key=%d api_version=%d corr=%d", (unsigned long long)c->id,
             r->api_key, r->api_version, r->correlation_id);
    h = sk_handler_find(r->api_key);
    if (!h || !sk_api_desc(r->api_key)) {
        sk_req_fail_close(r, "unknown api key");
        return;
    }
    if (r->api_key != SK_API_API_VERSIONS && (r->api_version < h->min_version || r->api_version > h->max_version)) {
        sk_req_fail_close(r, "unsupported version");
        return;
    }
    if (h->fn(r) != SK_OK && !r->done) sk_req_fail_close(r, "malformed request");
}
