/* coordinator/txn_log.c: the records of __transaction_state, in Kafka's schemas so that
 * Kafka's tools (kafka-dump-log --transaction-log-decoder) read them. One record per
 * change of a transactional id; the newest record of a key wins, a null value deletes.
 *
 *   key    TransactionLogKey v0    version int16 (0), transactionalId string
 *   value  TransactionLogValue v0  version int16, producerId int64, producerEpoch int16,
 *                                  transactionTimeoutMs int32, transactionStatus int8,
 *                                  transactionPartitions [topic string, partitionIds
 *                                  [int32]] (nullable), transactionLastUpdateTimestampMs
 *                                  int64, transactionStartTimestampMs int64
 *          v1 (read only)          the same, flexible (compact strings and arrays, tagged
 *                                  fields: 0 previousProducerId, 1 nextProducerId,
 *                                  2 clientTransactionVersion)
 *
 * We write v0 (what Kafka writes for transactions v1). transactionStatus is sk_txn_state_t.
 * An id forgotten after transactional.id.expiration.ms gets a tombstone (null value).
 * Loading never asserts on the bytes: a record that does not parse is counted and
 * skipped. A record for an id replaces its whole state (partitions included). */
#include "coordinator_int.h"

#include <unistd.h>

#define TXN_LOAD_DECOMPRESS_MAX (64u << 20)
#define TXN_PARTS_MAX 100000 /* per record; more is corrupt */

static void
wr_str(sk_wr_t *w, const char *s, size_t n)
{
    sk_wr_i16(w, (int16_t)n);
    sk_wr_raw(w, s, n);
}

static int
value_encode(sk_wr_t *w, const txn_meta_t *m)
{
    int32_t topics = 0;
    bool open = m->state == SK_TXN_ONGOING || m->state == SK_TXN_PREPARE_COMMIT || m->state == SK_TXN_PREPARE_ABORT;
    int32_t count = open ? m->part_count : 0;

    sk_wr_i16(w, 0);
    sk_wr_i64(w, m->producer_id);
    sk_wr_i16(w, m->producer_epoch);
    sk_wr_i32(w, m->timeout_ms);
    sk_wr_i8(w, (int8_t)m->state);
    /* Group by topic, in first-seen order. */
    for (int32_t i = 0; i < count; i++) {
        bool seen = false;
        for (int32_t j = 0; j < i && !seen; j++) seen = strcmp(m->parts[j].topic, m->parts[i].topic) == 0;
        topics += !seen;
    }
    sk_wr_i32(w, topics);
    for (int32_t i = 0; i < count; i++) {
        bool seen = false;
        int32_t n = 0;
        for (int32_t j = 0; j < i && !seen; j++) seen = strcmp(m->parts[j].topic, m->parts[i].topic) == 0;
        if (seen) continue;
        size_t len = strlen(m->parts[i].topic);
        if (len > INT16_MAX) return SK_EINVAL;
        wr_str(w, m->parts[i].topic, len);
        for (int32_t j = i; j < count; j++) n += strcmp(m->parts[j].topic, m->parts[i].topic) == 0;
        sk_wr_i32(w, n);
        for (int32_t j = i; j < count; j++)
            if (strcmp(m->parts[j].topic, m->parts[i].topic) == 0) sk_wr_i32(w, m->parts[j].partition);
    }
    sk_wr_i64(w, m->update_wall_ms);
    sk_wr_i64(w, open ? m->start_wall_ms : -1);
    return w->failed ? SK_ENOMEM : SK_OK;
}

static int
log_write(sk_txn_coord_t *t, const txn_meta_t *m, bool tombstone)
{
    sk_wr_t key, value;
    sk_record_t rec = {0};
    sk_batch_spec_t spec = {SK_CODEC_NONE, 0, -1, -1, -1, 0};
    uint8_t *batch = NULL;
    size_t len = 0, id_len = strlen(m->txn_id);
    int rc;

    if (!t->store.append) return SK_OK;
    if (id_len > INT16_MAX) return SK_EINVAL;
    sk_wr_init(&key, 0);
    sk_wr_init(&value, 0);
    sk_wr_i16(&key, 0);
    wr_str(&key, m->txn_id, id_len);
    rc = tombstone ? SK_OK : value_encode(&value, m);
    if (rc == SK_OK && key.failed) rc = SK_ENOMEM;
    if (rc == SK_OK) {
        rec.timestamp = txn_wall(t);
        rec.key = (sk_bytes_t){key.buf, (int32_t)key.len};
        rec.value = tombstone ? (sk_bytes_t){NULL, -1} : (sk_bytes_t){value.buf, (int32_t)value.len};
        rc = sk_batch_build(&spec, &rec, 1, &batch, &len);
    }
    if (rc == SK_OK) rc = t->store.append(t->store.ctx, m->log_partition, batch, len);
    free(batch);
    sk_wr_deinit(&key);
    sk_wr_deinit(&value);
    return rc;
}

int
txn_log_store(sk_txn_coord_t *t, const txn_meta_t *m)
{
    return log_write(t, m, false);
}

int
txn_log_delete(sk_txn_coord_t *t, const txn_meta_t *m)
{
    return log_write(t, m, true);
}

/* ---- loading ---- */

typedef struct vrd {
    sk_rd_t rd;
    bool flex;
} vrd_t;

static int
vrd_len(vrd_t *v, int32_t *n)
{
    if (!v->flex) {
        int32_t x;
        if (sk_rd_i32(&v->rd, &x) != SK_OK) return SK_ECORRUPT;
        *n = x;
        return SK_OK;
    }
    uint32_t u;
    if (sk_rd_uvarint(&v->rd, &u) != SK_OK || u > (uint32_t)INT32_MAX) return SK_ECORRUPT;
    *n = (int32_t)u - 1;
    return SK_OK;
}

static int
vrd_str(vrd_t *v, sk_str_t *out)
{
    int32_t n;
    const uint8_t *p;
    if (!v->flex) {
        int16_t s;
        if (sk_rd_i16(&v->rd, &s) != SK_OK) return SK_ECORRUPT;
        n = s;
    } else if (vrd_len(v, &n) != SK_OK) {
        return SK_ECORRUPT;
    }
    if (n < 0 || sk_rd_raw(&v->rd, (size_t)n, &p) != SK_OK) return SK_ECORRUPT;
    *out = (sk_str_t){(const char *)p, n};
    return SK_OK;
}

/* Skip a tagged-field section; tag 0 (previousProducerId) is kept when asked. */
static int
vrd_tags(vrd_t *v, int64_t *prev_pid)
{
    uint32_t n, tag, size;
    if (!v->flex) return SK_OK;
    if (sk_rd_uvarint(&v->rd, &n) != SK_OK) return SK_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        if (sk_rd_uvarint(&v->rd, &tag) || sk_rd_uvarint(&v->rd, &size)) return SK_ECORRUPT;
        if (tag == 0 && prev_pid && size == 8) {
            if (sk_rd_i64(&v->rd, prev_pid) != SK_OK) return SK_ECORRUPT;
        } else if (sk_rd_skip(&v->rd, size) != SK_OK) {
            return SK_ECORRUPT;
        }
    }
    return SK_OK;
}

static int
load_parts(txn_meta_t *m, vrd_t *v)
{
    int32_t topics, n, partition;
    sk_str_t topic;
    int rc;

    if (vrd_len(v, &topics) != SK_OK || topics > TXN_PARTS_MAX) return SK_ECORRUPT;
    for (int32_t i = 0; i < topics; i++) {
        if (vrd_str(v, &topic) || vrd_len(v, &n) || n < 0 || n > TXN_PARTS_MAX) return SK_ECORRUPT;
        for (int32_t j = 0; j < n; j++) {
            if (sk_rd_i32(&v->rd, &partition) != SK_OK) return SK_ECORRUPT;
            if ((rc = txn_part_add(m, topic.ptr, (size_t)topic.len, partition)) != SK_OK) return rc;
        }
        if (vrd_tags(v, NULL) != SK_OK) return SK_ECORRUPT;
    }
    return SK_OK;
}

/* Parse into a scratch meta first, so that a bad record changes nothing. */
static int
load_value(sk_txn_coord_t *t, sk_str_t id, const sk_record_t *r)
{
    txn_meta_t tmp = {0}, *m;
    vrd_t v;
    int16_t ver;
    int8_t status;
    int rc = SK_ECORRUPT;

    sk_rd_init(&v.rd, r->value.ptr, (size_t)r->value.len);
    if (sk_rd_i16(&v.rd, &ver) || ver < 0 || ver > 1) return SK_ECORRUPT;
    v.flex = ver >= 1;
    tmp.prev_producer_id = -1;
    tmp.last_epoch = -1;
    if (sk_rd_i64(&v.rd, &tmp.producer_id) || sk_rd_i16(&v.rd, &tmp.producer_epoch) ||
        sk_rd_i32(&v.rd, &tmp.timeout_ms) || sk_rd_i8(&v.rd, &status) || status < 0 || status > SK_TXN_PREPARE_EPOCH_FENCE)
        goto out;
    tmp.state = (sk_txn_state_t)status;
    if ((rc = load_parts(&tmp, &v)) != SK_OK) goto out;
    rc = SK_ECORRUPT;
    if (sk_rd_i64(&v.rd, &tmp.update_wall_ms) || sk_rd_i64(&v.rd, &tmp.start_wall_ms) ||
        vrd_tags(&v, &tmp.prev_producer_id) || tmp.producer_id < 0 || tmp.producer_epoch < 0)
        goto out;
    bool open = tmp.state == SK_TXN_ONGOING || tmp.state == SK_TXN_PREPARE_COMMIT || tmp.state == SK_TXN_PREPARE_ABORT;
    if (open != (tmp.part_count > 0) || (open && tmp.start_wall_ms < 0)) goto out;
    if (!(m = txn_meta_get(t, id)) && !(m = txn_meta_add(t, id.ptr, (size_t)id.len))) {
        rc = SK_ENOMEM;
        goto out;
    }
    txn_parts_clear(m);
    free(m->parts);
    m->parts = tmp.parts;
    m->part_count = tmp.part_count;
    m->part_cap = tmp.part_cap;
    tmp.parts = NULL;
    tmp.part_count = 0;
    m->producer_id = tmp.producer_id;
    m->producer_epoch = tmp.producer_epoch;
    m->prev_producer_id = tmp.prev_producer_id;
    m->timeout_ms = tmp.timeout_ms;
    m->state = tmp.state;
    m->update_wall_ms = tmp.update_wall_ms;
    m->start_wall_ms = open ? tmp.start_wall_ms : -1;
    rc = SK_OK;
out:
    txn_parts_clear(&tmp);
    free(tmp.parts);
    return rc;
}

typedef struct load_ctx {
    sk_txn_coord_t *t;
    int64_t applied;
    int64_t skipped;
} load_ctx_t;

static int
load_record(void *arg, const sk_record_t *r)
{
    load_ctx_t *lc = arg;
    sk_rd_t k;
    int16_t ver, n;
    const uint8_t *p;
    int rc = SK_ECORRUPT;

    sk_rd_init(&k, r->key.ptr, (size_t)SK_MAX(r->key.len, 0));
    if (r->key.len >= 4 && sk_rd_i16(&k, &ver) == SK_OK && ver == 0 && sk_rd_i16(&k, &n) == SK_OK && n >= 0 &&
        sk_rd_raw(&k, (size_t)n, &p) == SK_OK) {
        sk_str_t id = {(const char *)p, n};
        txn_meta_t *m = txn_meta_get(lc->t, id);
        if (r->value.len < 0) {
            if (m) txn_meta_remove(lc->t, m);
            rc = SK_OK;
        } else {
            rc = load_value(lc->t, id, r);
        }
    }
    if (rc == SK_ENOMEM) return rc;
    if (rc == SK_OK) lc->applied++;
    else lc->skipped++;
    return SK_OK;
}

static int
load_buffer(void *ctx, const uint8_t *buf, size_t len, int64_t *next)
{
    load_ctx_t *lc = ctx;
    size_t pos = 0;
    while (len - pos >= SK_BATCH_HEADER_SIZE) {
        sk_batch_hdr_t h;
        size_t total;
        if (sk_batch_hdr_parse(buf + pos, len - pos, &h) != SK_OK) return SK_ECORRUPT;
        total = (size_t)h.batch_length + SK_LOG_OVERHEAD;
        if (total > len - pos) break;
        if (!(h.attributes & SK_ATTR_CONTROL)) {
            int rc = sk_batch_foreach_record(buf + pos, total, TXN_LOAD_DECOMPRESS_MAX, load_record, lc);
            if (rc == SK_ENOMEM) return rc;
            if (rc != SK_OK) lc->skipped++;
        }
        *next = h.base_offset + h.last_offset_delta + 1;
        pos += total;
    }
    return SK_OK;
}

int
txn_log_load_partition(sk_txn_coord_t *t, sk_log_t *log)
{
    load_ctx_t lc = {t, 0, 0};
    int64_t offset = sk_log_start_offset(log), end = sk_log_end_offset(log);
    int rc = sk_coord_log_replay(log, offset, end, load_buffer, &lc);
    if (lc.applied || lc.skipped)
        SK_INFO("event=txn_state_loaded partition=%s-%d records=%lld skipped=%lld", sk_log_topic(log),
                sk_log_partition(log), (long long)lc.applied, (long long)lc.skipped);
    return rc == SK_ENOMEM || rc == SK_EIO ? rc : SK_OK;
}
