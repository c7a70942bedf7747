/* broker/h_fetch.c: Fetch (v4-17). Reads whole batches from each partition's log up to
 * the high watermark (read_uncommitted) or the last stable offset (read_committed:
 * isolation_level 1; a batch is never split, so only batches wholly below the LSO go
 * out), honouring max_bytes, partition_max_bytes and "at least one batch" for the first
 * partition with data; the record bytes go out as file ranges (sendfile). Every answer
 * carries the real LSO; read_committed answers list the aborted transactions that may
 * have records in the returned range [fetch offset, offset after the last batch) so
 * that the client drops them (docs/transactions-storage.md).
 * When fewer than min_bytes are ready the request is parked until enough data arrives
 * (sk_fetch_notify), the topics change, or max_wait_ms passes; then the response is
 * rebuilt from the current state. A parked read_committed fetch counts nothing that is
 * above the LSO: on each notify for its partitions it re-reads what is readable now,
 * so a marker that moves the LSO (sk_partition_append_marker) wakes it. Fetch sessions
 * (KIP-227) are declined: session_id 0 tells clients to keep sending full requests.
 * Topics are named by id from v13. */
#include "broker_int.h"

struct sk_fetch_wait {
    sk_fetch_wait_t *prev, *next; /* server list */
    sk_req_t *req;                /* borrowed: parked request (its parked points here) */
    sk_FetchRequest_t *fr;        /* borrowed: req->arena */
    ev_timer timer;
    int64_t bytes_ready;
    uint64_t seen_seq;            /* last sk_fetch_notify round that counted bytes here */
};

typedef struct fetch_build {
    sk_FetchResponse_t resp;
    /* owned (heap, not the request arena: answering a parked fetch may write and free
     * the request before the slices are released); refs held until released */
    sk_log_slice_t *slices;
    int32_t slice_count;
    int64_t total_bytes;
    bool has_error;
    bool oom;                     /* the arena ran out while filling a partition */
} fetch_build_t;

static void
fetch_release(fetch_build_t *b)
{
    for (int32_t i = 0; i < b->slice_count; i++) sk_log_slice_release(&b->slices[i]);
    b->slice_count = 0;
    free(b->slices);
    b->slices = NULL;
}

typedef struct aborted_fill {
    sk_FetchResponse_AbortedTransaction_t *v; /* borrowed: request arena; NULL: count only */
    int32_t count;
} aborted_fill_t;

static void
aborted_cb(void *ctx, int64_t producer_id, int64_t first_offset)
{
    aborted_fill_t *a = ctx;
    if (a->v) {
        sk_FetchResponse_AbortedTransaction_init(&a->v[a->count]);
        a->v[a->count].producer_id = producer_id;
        a->v[a->count].first_offset = first_offset;
    }
    a->count++;
}

/* read_committed: the aborted transactions of [from, to) into pd (empty list when
 * none). SK_ENOMEM when the arena is out. */
static int
fetch_aborted(sk_req_t *r, sk_log_t *log, int64_t from, int64_t to, sk_FetchResponse_PartitionData_t *pd)
{
    aborted_fill_t a = {0};
    pd->aborted_transactions_count = 0;
    if (to <= from) return SK_OK;
    sk_log_aborted_txns(log, from, to, aborted_cb, &a);
    if (a.count == 0) return SK_OK;
    int32_t n = a.count;
    a = (aborted_fill_t){.v = sk_req_array(r, (size_t)n, sizeof(*a.v))};
    if (!a.v) return SK_ENOMEM;
    sk_log_aborted_txns(log, from, to, aborted_cb, &a);
    SK_ASSERT(a.count == n); /* nothing changes between the two passes */
    pd->aborted_transactions = a.v;
    pd->aborted_transactions_count = a.count;
    return SK_OK;
}

static sk_topic_t *
fetch_topic(sk_req_t *r, const sk_FetchRequest_FetchTopic_t *ft)
{
    sk_server_t *srv = sk_req_server(r);
    if (r->api_version >= 13) return sk_meta_topic_by_id(srv->meta, &ft->topic_id);
    if (ft->topic.len < 0) return NULL;
    return sk_meta_topic(srv->meta, ft->topic.ptr, (size_t)ft->topic.len);
}

/* Fill one partition's answer; reads at most *budget bytes. */
static void
fetch_partition(sk_req_t *r, const sk_FetchRequest_t *fr, sk_topic_t *t, const sk_FetchRequest_FetchPartition_t *fp,
                sk_FetchResponse_PartitionData_t *pd, fetch_build_t *b)
{
    sk_partition_t *p;
    sk_log_slice_t s = {0};
    int64_t max_offset;
    int32_t budget;
    int rc;

    sk_FetchResponse_PartitionData_init(pd);
    pd->partition_index = fp->partition;
    pd->records = (sk_records_t){(const uint8_t *)"", 0, NULL, 0};
    if (!t) {
        pd->error_code = r->api_version >= 13 ? SK_KERR_UNKNOWN_TOPIC_ID : SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        goto err;
    }
    if (fp->partition < 0 || fp->partition >= t->partition_count) {
        pd->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        goto err;
    }
    p = &t->partitions[fp->partition];
    pd->high_watermark = sk_partition_high_watermark(p);
    pd->last_stable_offset = sk_log_last_stable_offset(p->log);
    pd->log_start_offset = sk_log_start_offset(p->log);
    pd->aborted_transactions_count = fr->isolation_level == 1 ? 0 : -1;
    if (fp->current_leader_epoch >= 0 && fp->current_leader_epoch != p->leader_epoch) {
        pd->error_code = fp->current_leader_epoch > p->leader_epoch ? SK_KERR_UNKNOWN_LEADER_EPOCH
                                                                    : SK_KERR_FENCED_LEADER_EPOCH;
        goto err;
    }
    max_offset = fr->isolation_level == 1 ? pd->last_stable_offset : pd->high_watermark;
    budget = (int32_t)SK_MIN((int64_t)fp->partition_max_bytes, (int64_t)fr->max_bytes - b->total_bytes);
    if (budget <= 0 && b->total_bytes > 0) return;
    rc = sk_log_read(p->log, fp->fetch_offset, SK_MAX(budget, 0), max_offset, b->total_bytes == 0, &s);
    if (rc == SK_ERANGE) {
        pd->error_code = SK_KERR_OFFSET_OUT_OF_RANGE;
        goto err;
    }
    if (rc != SK_OK) {
        pd->error_code = SK_KERR_KAFKA_STORAGE_ERROR;
        goto err;
    }
    if (s.len > 0) {
        b->slices[b->slice_count++] = s;
        pd->records = (sk_records_t){NULL, s.len, s.file, s.pos};
        b->total_bytes += s.len;
        if (fr->isolation_level == 1 && fetch_aborted(r, p->log, fp->fetch_offset, s.next_offset, pd) != SK_OK)
            b->oom = true;
    } else {
        sk_log_slice_release(&s);
    }
    return;
err:
    b->has_error = true;
}

/* Build the whole response from the current state. */
static int
fetch_build(sk_req_t *r, const sk_FetchRequest_t *fr, fetch_build_t *b)
{
    int32_t nparts = 0;

    memset(b, 0, sizeof(*b));
    sk_FetchResponse_init(&b->resp);
    if (fr->session_id != 0) {
        b->resp.error_code = 70; /* FETCH_SESSION_ID_NOT_FOUND: we never hand out sessions */
        b->has_error = true;
        return SK_OK;
    }
    if (fr->session_epoch > 0) {
        b->resp.error_code = 71; /* INVALID_FETCH_SESSION_EPOCH */
        b->has_error = true;
        return SK_OK;
    }
    for (int32_t i = 0; i < fr->topics_count; i++) nparts += SK_MAX(fr->topics[i].partitions_count, 0);
    b->slices = calloc((size_t)SK_MAX(nparts, 1), sizeof(*b->slices));
    if (fr->topics_count > 0) b->resp.responses = sk_req_array(r, (size_t)fr->topics_count, sizeof(*b->resp.responses));
    if (!b->slices || (fr->topics_count > 0 && !b->resp.responses)) return SK_ENOMEM;
    for (int32_t i = 0; i < fr->topics_count; i++) {
        const sk_FetchRequest_FetchTopic_t *ft = &fr->topics[i];
        sk_FetchResponse_FetchableTopicResponse_t *tr = &b->resp.responses[b->resp.responses_count++];
        sk_topic_t *t = fetch_topic(r, ft);
        sk_FetchResponse_FetchableTopicResponse_init(tr);
        tr->topic = ft->topic;
        tr->topic_id = ft->topic_id;
        if (ft->partitions_count > 0) {
            tr->partitions = sk_req_array(r, (size_t)ft->partitions_count, sizeof(*tr->partitions));
            if (!tr->partitions) return SK_ENOMEM;
        }
        for (int32_t j = 0; j < ft->partitions_count; j++)
            fetch_partition(r, fr, t, &ft->partitions[j], &tr->partitions[tr->partitions_count++], b);
    }
    return b->oom ? SK_ENOMEM : SK_OK;
}

static void
fetch_answer(sk_req_t *r, const sk_FetchRequest_t *fr)
{
    fetch_build_t b;
    if (fetch_build(r, fr, &b) != SK_OK) {
        fetch_release(&b);
        sk_req_fail_close(r, "out of memory building fetch response");
        return;
    }
    sk_req_respond(r, &b.resp); /* the output chain holds its own file refs */
    fetch_release(&b);
}

static void
fetch_wait_free(sk_server_t *srv, sk_fetch_wait_t *w)
{
    ev_timer_stop(srv->loop, &w->timer);
    if (w->prev) w->prev->next = w->next;
    else srv->fetch_waits = w->next;
    if (w->next) w->next->prev = w->prev;
    w->req->parked = NULL;
    free(w);
}

static void
fetch_wake(sk_server_t *srv, sk_fetch_wait_t *w)
{
    sk_req_t *r = w->req;
    sk_FetchRequest_t *fr = w->fr;
    fetch_wait_free(srv, w);
    fetch_answer(r, fr);
}

static void
fetch_on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    sk_fetch_wait_t *w = t->data;
    (void)loop;
    (void)revents;
    fetch_wake(w->req->conn->srv, w);
}

void
sk_fetch_wait_cancel(sk_req_t *r)
{
    sk_fetch_wait_t *w = r->parked;
    if (w) fetch_wait_free(r->conn->srv, w);
}

/* The request's entry for p, or NULL when it does not fetch p. */
static const sk_FetchRequest_FetchPartition_t *
fetch_wants(const sk_fetch_wait_t *w, const sk_partition_t *p)
{
    const sk_FetchRequest_t *fr = w->fr;
    const sk_topic_t *t = p->topic;
    for (int32_t i = 0; i < fr->topics_count; i++) {
        const sk_FetchRequest_FetchTopic_t *ft = &fr->topics[i];
        bool match = w->req->api_version >= 13 ? !memcmp(ft->topic_id.b, t->id.b, 16) : sk_str_eq(ft->topic, t->name);
        if (!match) continue;
        for (int32_t j = 0; j < ft->partitions_count; j++)
            if (ft->partitions[j].partition == p->index) return &ft->partitions[j];
    }
    return NULL;
}

/* A parked read_committed fetch: bytes above the LSO are not readable, so notified
 * bytes only say when to look again (min_bytes of them since the last look, or a marker
 * that moved the LSO); it answers once the LSO of a partition it reads has passed its
 * fetch offset and a rebuilt response holds min_bytes. After a look that falls short,
 * bytes_ready restarts from what is readable, so a steady trickle costs one rebuild per
 * min_bytes, not one per produce. True when answered (w is then gone). */
static bool
fetch_committed_ready(sk_server_t *srv, sk_fetch_wait_t *w, const sk_partition_t *p,
                      const sk_FetchRequest_FetchPartition_t *fp, int64_t bytes, bool lso_moved)
{
    fetch_build_t b;
    sk_req_t *r = w->req;
    sk_FetchRequest_t *fr = w->fr;

    w->bytes_ready += bytes;
    if (!lso_moved && w->bytes_ready < fr->min_bytes) return false;
    if (sk_log_last_stable_offset(p->log) <= fp->fetch_offset) return false;
    if (fetch_build(r, fr, &b) != SK_OK) {
        fetch_release(&b);
        fetch_wait_free(srv, w);
        sk_req_fail_close(r, "out of memory building fetch response");
        return true;
    }
    if (!b.has_error && b.total_bytes < fr->min_bytes) {
        w->bytes_ready = b.total_bytes;
        fetch_release(&b);
        return false;
    }
    fetch_wait_free(srv, w);
    sk_req_respond(r, &b.resp);
    fetch_release(&b);
    return true;
}

/* Answering one wait may close its connection and cancel other waits, so after every
 * wake the scan restarts from the head; the round number keeps bytes counted once. */
static void
fetch_notify(sk_server_t *srv, const sk_partition_t *p, int64_t bytes, bool lso_moved)
{
    uint64_t seq = ++srv->notify_seq;
    bool woke = true;
    while (woke) {
        woke = false;
        for (sk_fetch_wait_t *w = srv->fetch_waits; w; w = w->next) {
            const sk_FetchRequest_FetchPartition_t *fp = p ? fetch_wants(w, p) : NULL;
            if (w->seen_seq == seq || (p && !fp)) continue;
            w->seen_seq = seq;
            if (p && w->fr->isolation_level == 1) {
                if (fetch_committed_ready(srv, w, p, fp, bytes, lso_moved)) {
                    woke = true;
                    break;
                }
                continue;
            }
            w->bytes_ready += bytes;
            if (!p || w->bytes_ready >= w->fr->min_bytes) {
                fetch_wake(srv, w);
                woke = true;
                break;
            }
        }
    }
}

void
sk_fetch_notify(sk_server_t *srv, const sk_partition_t *p, int64_t bytes)
{
    fetch_notify(srv, p, bytes, false);
}

void
sk_fetch_notify_marker(sk_server_t *srv, const sk_partition_t *p, int64_t bytes)
{
    SK_ASSERT(p);
    fetch_notify(srv, p, bytes, true);
}

int
sk_h_fetch(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_FetchRequest_t *fr = sk_req_decode(r);
    fetch_build_t b;
    sk_fetch_wait_t *w;

    if (!fr) return SK_ECORRUPT;
    if (fetch_build(r, fr, &b) != SK_OK) {
        fetch_release(&b);
        return SK_ENOMEM;
    }
    if (b.has_error || b.total_bytes >= fr->min_bytes || fr->max_wait_ms <= 0 || srv->stopping) {
        sk_req_respond(r, &b.resp);
        fetch_release(&b);
        return SK_OK;
    }
    fetch_release(&b);
    w = calloc(1, sizeof(*w));
    if (!w) return SK_ENOMEM;
    w->req = r;
    w->fr = fr;
    w->bytes_ready = b.total_bytes;
    r->parked = w;
    ev_timer_init(&w->timer, fetch_on_timeout, SK_MIN((int64_t)fr->max_wait_ms, srv->cfg->fetch_max_wait_cap_ms) / 1000.0, 0);
    w->timer.data = w;
    ev_timer_start(srv->loop, &w->timer);
    w->next = srv->fetch_waits;
    if (w->next) w->next->prev = w;
    srv->fetch_waits = w;
    return SK_OK;
}
