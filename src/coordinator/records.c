/* coordinator/records.c: the records of __consumer_offsets, in Kafka's schemas so that
 * Kafka's own tools (kafka-dump-log --offsets-decoder) read them. Every key and value
 * starts with an int16 version; the key's version is the record type. Non-flexible
 * encodings: strings int16 length (-1 null), bytes int32 length, arrays int32 count.
 *
 *   key v0/v1  OffsetCommitKey    group string, topic string, partition int32
 *   value      OffsetCommitValue  offset int64, [v3+] leaderEpoch int32, metadata string,
 *                                 commitTimestamp int64, [v1 only] expireTimestamp int64
 *              we write v3, or v1 when the commit carried a retention time
 *   key v2     GroupMetadataKey   group string
 *   value      GroupMetadataValue (we write v3) protocolType string, generation int32,
 *                                 protocol string?, leader string?, [v2+]
 *                                 currentStateTimestamp int64, members [memberId,
 *                                 [v3+] groupInstanceId string?, clientId, clientHost,
 *                                 [v1+] rebalanceTimeout int32, sessionTimeout int32,
 *                                 subscription bytes, assignment bytes]
 *   a null value is a tombstone (offset deleted or expired, group deleted).
 *
 * Loading replays a partition from its log start: later records win, tombstones
 * delete. Offsets in a transactional batch (TxnOffsetCommit) are held pending for their
 * producer and applied at its COMMIT marker, dropped at its ABORT marker. Records we cannot parse (other key types: KIP-848, share groups; flexible
 * versions) are skipped with a count in the log line, never asserted on. */
#include "coordinator_int.h"

#include <errno.h>
#include <unistd.h>

#define REC_LOAD_READ_BYTES (1 << 20)
#define REC_LOAD_DECOMPRESS_MAX (64u << 20)

static int
wr_str(sk_wr_t *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    int rc;
    if (!s) return sk_wr_i16(w, -1);
    if (n > INT16_MAX) return SK_EINVAL;
    if ((rc = sk_wr_i16(w, (int16_t)n)) != SK_OK) return rc;
    return sk_wr_raw(w, s, n);
}

static int
wr_bytes(sk_wr_t *w, const uint8_t *p, int32_t len)
{
    int rc = sk_wr_i32(w, SK_MAX(len, 0));
    if (rc == SK_OK && len > 0) rc = sk_wr_raw(w, p, (size_t)len);
    return rc;
}

int
rec_offset_key(sk_wr_t *w, const char *group, const char *topic, int32_t partition)
{
    sk_wr_i16(w, 1);
    wr_str(w, group);
    wr_str(w, topic);
    sk_wr_i32(w, partition);
    return w->failed ? SK_ENOMEM : SK_OK;
}

int
rec_group_key(sk_wr_t *w, const char *group)
{
    sk_wr_i16(w, 2);
    wr_str(w, group);
    return w->failed ? SK_ENOMEM : SK_OK;
}

int
rec_offset_value(sk_wr_t *w, const sk_coord_offset_t *o)
{
    bool v1 = o->expire_wall_ms > 0;
    int rc;
    sk_wr_i16(w, v1 ? 1 : 3);
    sk_wr_i64(w, o->offset);
    if (!v1) sk_wr_i32(w, o->leader_epoch);
    if ((rc = wr_str(w, o->metadata ? o->metadata : "")) != SK_OK) return rc;
    sk_wr_i64(w, o->commit_wall_ms);
    if (v1) sk_wr_i64(w, o->expire_wall_ms);
    return w->failed ? SK_ENOMEM : SK_OK;
}

static int
rec_member(sk_wr_t *w, const sk_grp_t *g, const grp_member_t *m)
{
    const grp_proto_t *p = NULL;
    for (int32_t i = 0; g->protocol_name && i < m->protocol_count && !p; i++)
        if (strcmp(m->protocols[i].name, g->protocol_name) == 0) p = &m->protocols[i];
    wr_str(w, m->member_id);
    wr_str(w, m->instance_id);
    wr_str(w, m->client_id ? m->client_id : "");
    wr_str(w, m->client_host ? m->client_host : "");
    sk_wr_i32(w, m->rebalance_timeout_ms);
    sk_wr_i32(w, m->session_timeout_ms);
    wr_bytes(w, p ? p->metadata : NULL, p ? p->metadata_len : 0);
    wr_bytes(w, m->assignment, m->assignment_len);
    return w->failed ? SK_ENOMEM : SK_OK;
}

int
rec_group_value(sk_wr_t *w, const sk_grp_t *g, int64_t wall_ms)
{
    int rc;
    sk_wr_i16(w, 3);
    wr_str(w, g->protocol_type ? g->protocol_type : "");
    sk_wr_i32(w, g->generation_id);
    wr_str(w, g->protocol_name);
    wr_str(w, g->leader_id);
    sk_wr_i64(w, wall_ms);
    sk_wr_i32(w, g->member_count);
    for (const grp_member_t *m = g->members; m; m = m->next)
        if ((rc = rec_member(w, g, m)) != SK_OK) return rc;
    return w->failed ? SK_ENOMEM : SK_OK;
}

int
rec_append(sk_coord_t *c, int32_t partition, rec_kv_t *kvs, int32_t count)
{
    sk_batch_spec_t spec = {SK_CODEC_NONE, 0, -1, -1, -1, 0};
    return rec_append_spec(c, partition, kvs, count, &spec);
}

int
rec_append_spec(sk_coord_t *c, int32_t partition, rec_kv_t *kvs, int32_t count, const sk_batch_spec_t *spec)
{
    sk_record_t *recs;
    uint8_t *batch = NULL;
    size_t len = 0;
    int64_t now = coord_wall(c);
    int rc;

    if (!c->store.append || count == 0) return SK_OK;
    recs = calloc((size_t)count, sizeof(*recs));
    if (!recs) return SK_ENOMEM;
    for (int32_t i = 0; i < count; i++) {
        if (kvs[i].key.failed || kvs[i].value.failed) {
            free(recs);
            return SK_ENOMEM;
        }
        recs[i].timestamp = now;
        recs[i].key = (sk_bytes_t){kvs[i].key.buf, (int32_t)kvs[i].key.len};
        recs[i].value = kvs[i].tombstone ? (sk_bytes_t){NULL, -1}
                                         : (sk_bytes_t){kvs[i].value.buf, (int32_t)kvs[i].value.len};
    }
    rc = sk_batch_build(spec, recs, count, &batch, &len);
    free(recs);
    if (rc != SK_OK) return rc;
    rc = c->store.append(c->store.ctx, partition, batch, len);
    free(batch);
    return rc;
}

int
rec_store_group(sk_coord_t *c, sk_grp_t *g, bool tombstone)
{
    rec_kv_t kv;
    int rc;
    sk_wr_init(&kv.key, 0);
    sk_wr_init(&kv.value, 0);
    kv.tombstone = tombstone;
    rc = rec_group_key(&kv.key, g->group_id);
    if (rc == SK_OK && !tombstone) rc = rec_group_value(&kv.value, g, g->state_wall_ms);
    if (rc == SK_OK) rc = rec_append(c, g->partition, &kv, 1);
    sk_wr_deinit(&kv.key);
    sk_wr_deinit(&kv.value);
    return rc;
}

/* ---- loading ---- */

static int
rd_str(sk_rd_t *r, bool nullable, sk_str_t *out)
{
    int16_t n;
    const uint8_t *p;
    if (sk_rd_i16(r, &n) != SK_OK) return SK_ECORRUPT;
    if (n == -1 && nullable) {
        *out = SK_STR_NULL;
        return SK_OK;
    }
    if (n < 0 || sk_rd_raw(r, (size_t)n, &p) != SK_OK) return SK_ECORRUPT;
    *out = (sk_str_t){(const char *)p, n};
    return SK_OK;
}

static int
rd_bytes(sk_rd_t *r, sk_bytes_t *out)
{
    int32_t n;
    if (sk_rd_i32(r, &n) != SK_OK || n < -1) return SK_ECORRUPT;
    if (n == -1) {
        *out = (sk_bytes_t){NULL, 0};
        return SK_OK;
    }
    if (sk_rd_raw(r, (size_t)n, &out->ptr) != SK_OK) return SK_ECORRUPT;
    out->len = n;
    return SK_OK;
}

static int
load_offset(sk_coord_t *c, sk_rd_t *k, const sk_record_t *r, int64_t txn_pid, int32_t log_partition)
{
    sk_str_t group, topic, md;
    int32_t partition, epoch = -1;
    int16_t ver;
    int64_t offset, commit_ts, expire_ts = -1;
    sk_grp_t *g;
    sk_rd_t v;

    if (rd_str(k, false, &group) || rd_str(k, false, &topic) || sk_rd_i32(k, &partition)) return SK_ECORRUPT;
    g = coord_group_get(c, group);
    if (r->value.len < 0) {
        if (g) off_del(g, topic.ptr, (size_t)topic.len, partition);
        return SK_OK;
    }
    sk_rd_init(&v, r->value.ptr, (size_t)r->value.len);
    if (sk_rd_i16(&v, &ver) || ver < 0 || ver > 3 || sk_rd_i64(&v, &offset)) return SK_ECORRUPT;
    if (ver >= 3 && sk_rd_i32(&v, &epoch)) return SK_ECORRUPT;
    if (rd_str(&v, false, &md) || sk_rd_i64(&v, &commit_ts)) return SK_ECORRUPT;
    if (ver == 1 && sk_rd_i64(&v, &expire_ts)) return SK_ECORRUPT;
    if (txn_pid >= 0) /* transactional: visible only once its commit marker is replayed */
        return off_txn_pending_add(c, txn_pid, group.ptr, (size_t)group.len, log_partition, topic.ptr,
                                   (size_t)topic.len, partition, offset, epoch, md.ptr, (size_t)md.len, commit_ts);
    if (!g && !(g = coord_group_add(c, group.ptr, (size_t)group.len))) return SK_ENOMEM;
    return off_put(g, topic.ptr, (size_t)topic.len, partition, offset, epoch, md.ptr, (size_t)md.len, commit_ts,
                   expire_ts);
}

/* One member of a GroupMetadataValue; its only protocol is the group's. */
static int
load_member(sk_coord_t *c, sk_grp_t *g, sk_rd_t *v, int16_t ver, sk_str_t protocol)
{
    sk_str_t mid, iid = SK_STR_NULL, cid, host;
    int32_t rebalance = 0, session;
    sk_bytes_t sub, asg;
    sk_grp_protocol_t proto;
    sk_grp_join_args_t a = {0};
    grp_member_t *m, **pp;

    if (rd_str(v, false, &mid) || (ver >= 3 && rd_str(v, true, &iid)) || rd_str(v, false, &cid) ||
        rd_str(v, false, &host) || (ver >= 1 && sk_rd_i32(v, &rebalance)) || sk_rd_i32(v, &session) ||
        rd_bytes(v, &sub) || rd_bytes(v, &asg))
        return SK_ECORRUPT;
    proto = (sk_grp_protocol_t){protocol, sub};
    a = (sk_grp_join_args_t){.client_id = cid, .client_host = host, .session_timeout_ms = session,
                             .rebalance_timeout_ms = ver >= 1 ? rebalance : session, .instance_id = iid,
                             .protocols = &proto, .protocol_count = protocol.len > 0 ? 1 : 0};
    if (!(m = grp_member_new(&a, mid))) return SK_ENOMEM;
    if (asg.len > 0) {
        if (!(m->assignment = malloc((size_t)asg.len))) {
            grp_member_free(m);
            return SK_ENOMEM;
        }
        memcpy(m->assignment, asg.ptr, (size_t)asg.len);
        m->assignment_len = asg.len;
    }
    m->heartbeat_deadline_ms = coord_now(c) + session;
    for (pp = &g->members; *pp; pp = &(*pp)->next) {}
    *pp = m;
    g->member_count++;
    return SK_OK;
}

static void
group_clear_members(sk_coord_t *c, sk_grp_t *g)
{
    while (g->members) grp_member_remove(c, g, g->members, SK_KERR_COORDINATOR_NOT_AVAILABLE);
}

static int
load_group(sk_coord_t *c, sk_rd_t *k, const sk_record_t *r)
{
    sk_str_t gid, ptype, proto, leader;
    int16_t ver;
    int32_t gen, n;
    int64_t state_ts = -1;
    sk_grp_t *g;
    sk_rd_t v;
    int rc;

    if (rd_str(k, false, &gid)) return SK_ECORRUPT;
    g = coord_group_get(c, gid);
    if (r->value.len < 0) {
        if (g) coord_group_remove(c, g);
        return SK_OK;
    }
    sk_rd_init(&v, r->value.ptr, (size_t)r->value.len);
    if (sk_rd_i16(&v, &ver) || ver < 0 || ver > 3 || rd_str(&v, false, &ptype) || sk_rd_i32(&v, &gen) ||
        rd_str(&v, true, &proto) || rd_str(&v, true, &leader) || (ver >= 2 && sk_rd_i64(&v, &state_ts)) ||
        sk_rd_i32(&v, &n) || n < 0 || (size_t)n > sk_rd_left(&v))
        return SK_ECORRUPT;
    if (!g && !(g = coord_group_add(c, gid.ptr, (size_t)gid.len))) return SK_ENOMEM;
    group_clear_members(c, g);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader_id);
    g->protocol_type = ptype.len > 0 ? coord_strdup(ptype) : NULL;
    g->protocol_name = proto.len >= 0 ? coord_strdup(proto) : NULL;
    g->leader_id = leader.len >= 0 ? coord_strdup(leader) : NULL;
    g->generation_id = gen;
    for (int32_t i = 0; i < n; i++)
        if ((rc = load_member(c, g, &v, ver, proto)) != SK_OK) break;
    bool ok = g->member_count == n && n > 0 && g->protocol_name && g->leader_id && grp_member_find(g, leader);
    if (!ok) group_clear_members(c, g);
    grp_set_state(c, g, ok ? GRP_STABLE : GRP_EMPTY);
    if (state_ts > 0) g->state_wall_ms = state_ts;
    return SK_OK;
}

typedef struct load_ctx {
    sk_coord_t *c;
    int64_t applied;
    int64_t skipped;
    int64_t txn_pid;       /* producer of the transactional batch being replayed, else -1 */
    int32_t log_partition;
    int16_t marker_type;   /* control batch: 0 abort, 1 commit, -1 unknown */
} load_ctx_t;

static int
load_record(void *arg, const sk_record_t *r)
{
    load_ctx_t *lc = arg;
    sk_rd_t k;
    int16_t type;
    int rc = SK_ECORRUPT;

    if (r->key.len < 2) {
        lc->skipped++;
        return SK_OK;
    }
    sk_rd_init(&k, r->key.ptr, (size_t)r->key.len);
    (void)sk_rd_i16(&k, &type);
    if (type == 0 || type == 1) rc = load_offset(lc->c, &k, r, lc->txn_pid, lc->log_partition);
    else if (type == 2) rc = load_group(lc->c, &k, r);
    if (rc == SK_ENOMEM) return rc;
    if (rc == SK_OK) lc->applied++;
    else lc->skipped++;
    return SK_OK;
}

/* A control record's key: version int16, type int16 (0 abort, 1 commit). */
static int
load_marker_record(void *arg, const sk_record_t *r)
{
    load_ctx_t *lc = arg;
    sk_rd_t k;
    int16_t ver, type;
    sk_rd_init(&k, r->key.ptr, (size_t)SK_MAX(r->key.len, 0));
    if (r->key.len >= 4 && sk_rd_i16(&k, &ver) == SK_OK && sk_rd_i16(&k, &type) == SK_OK && (type == 0 || type == 1))
        lc->marker_type = type;
    return SK_OK;
}

/* A transaction marker of h's producer: apply or drop its pending offsets. */
static void
load_marker(load_ctx_t *lc, const sk_batch_hdr_t *h, const uint8_t *batch, size_t len)
{
    if (!(h->attributes & SK_ATTR_TRANSACTIONAL) || h->producer_id < 0) return;
    lc->marker_type = -1;
    (void)sk_batch_foreach_record(batch, len, REC_LOAD_DECOMPRESS_MAX, load_marker_record, lc);
    if (lc->marker_type >= 0) sk_off_txn_complete(lc->c, h->producer_id, lc->log_partition, lc->marker_type == 1);
}

/* Apply every whole batch in buf; returns the next offset to read. */
static int
load_buffer(void *ctx, const uint8_t *buf, size_t len, int64_t *next)
{
    load_ctx_t *lc = ctx;
    size_t pos = 0;
    while (len - pos >= SK_BATCH_HEADER_SIZE) {
        sk_batch_hdr_t h;
        size_t total;
        int rc;
        if (sk_batch_hdr_parse(buf + pos, len - pos, &h) != SK_OK) return SK_ECORRUPT;
        total = (size_t)h.batch_length + SK_LOG_OVERHEAD;
        if (total > len - pos) break;
        if (!(h.attributes & SK_ATTR_CONTROL)) {
            lc->txn_pid = (h.attributes & SK_ATTR_TRANSACTIONAL) ? h.producer_id : -1;
            rc = sk_batch_foreach_record(buf + pos, total, REC_LOAD_DECOMPRESS_MAX, load_record, lc);
            lc->txn_pid = -1;
            if (rc == SK_ENOMEM) return rc;
            if (rc != SK_OK) lc->skipped++;
        } else {
            load_marker(lc, &h, buf + pos, total);
        }
        *next = h.base_offset + h.last_offset_delta + 1;
        pos += total;
    }
    return SK_OK;
}

int
sk_coord_log_replay(sk_log_t *log, int64_t offset, int64_t end, sk_coord_replay_fn fn, void *ctx)
{
    uint8_t *buf = NULL;
    int rc = SK_OK;

    while (offset < end) {
        sk_log_slice_t s;
        int64_t next = offset;
        rc = sk_log_read(log, offset, REC_LOAD_READ_BYTES, end, true, &s);
        if (rc != SK_OK || s.len == 0) {
            sk_log_slice_release(&s);
            break;
        }
        uint8_t *nb = realloc(buf, (size_t)s.len);
        if (!nb) {
            sk_log_slice_release(&s);
            rc = SK_ENOMEM;
            break;
        }
        buf = nb;
        int32_t want = s.len;
        ssize_t got = pread(s.file->fd, buf, (size_t)want, s.pos);
        sk_log_slice_release(&s);
        if (got != want) {
            rc = SK_EIO;
            break;
        }
        rc = fn(ctx, buf, (size_t)got, &next);
        if (rc != SK_OK || next <= offset) break;
        offset = next;
    }
    free(buf);
    return rc;
}

int
rec_load_partition(sk_coord_t *c, sk_log_t *log)
{
    load_ctx_t lc = {c, 0, 0, -1, sk_log_partition(log), -1};
    int64_t offset = sk_log_start_offset(log), end = sk_log_end_offset(log);
    int rc = sk_coord_log_replay(log, offset, end, load_buffer, &lc);
    if (lc.applied || lc.skipped)
        SK_INFO("event=offsets_loaded partition=%s-%d records=%lld skipped=%lld", sk_log_topic(log),
                sk_log_partition(log), (long long)lc.applied, (long long)lc.skipped);
    return rc == SK_ENOMEM || rc == SK_EIO ? rc : SK_OK;
}
