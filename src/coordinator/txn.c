/* coordinator/txn.c: the transaction coordinator: one txn_meta_t per transactional id,
 * moved through Kafka's states
 *
 *   Empty/CompleteCommit/CompleteAbort --AddPartitions/AddOffsets--> Ongoing
 *   Ongoing --EndTxn(commit)--> PrepareCommit --markers written--> CompleteCommit
 *   Ongoing --EndTxn(abort), timeout, new instance--> PrepareAbort --markers--> CompleteAbort
 *
 * Every transition is persisted to __transaction_state (txn_log.c) before it takes
 * effect: on a failed append the in-memory state is put back and the client gets a
 * retriable error. Markers go out through the broker's marker hook; a partition whose
 * marker failed stays pending and sk_txn_coord_tick retries it, while the id answers
 * CONCURRENT_TRANSACTIONS. Loop thread only; time from the injected clock (wall ms,
 * because start times are persisted). Invariants: see coordinator_int.h. */
#include "coordinator_int.h"

#define TXN_EPOCH_EXHAUSTED (INT16_MAX - 1) /* Kafka: an epoch this high is not bumped */
#define TXN_MARKER_RETRY_MS 500                /* markers that failed are tried again this often */

static const char *const txn_state_names[] = {
    "Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence",
};

const char *
sk_txn_state_name(sk_txn_state_t s)
{
    if ((unsigned)s >= SK_ARRAY_LEN(txn_state_names)) return "Unknown";
    return txn_state_names[s];
}

static int64_t
real_mono(void *ctx)
{
    (void)ctx;
    return sk_mono_ms();
}

static int64_t
real_wall(void *ctx)
{
    (void)ctx;
    return sk_wall_ms();
}

void
sk_txn_options_defaults(sk_txn_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->state_partitions = 50;
    o->max_timeout_ms = 900000;
    o->abort_check_interval_ms = 10000;
    o->id_expiration_ms = 7LL * 24 * 3600 * 1000;
    o->expire_check_interval_ms = 3600000;
    o->clock = (sk_coord_clock_t){real_mono, real_wall, NULL};
}

int64_t
txn_wall(const sk_txn_coord_t *t)
{
    return t->opt.clock.wall_ms(t->opt.clock.ctx);
}

static int64_t
txn_mono(const sk_txn_coord_t *t)
{
    return t->opt.clock.mono_ms(t->opt.clock.ctx);
}

int
sk_txn_coord_new(const sk_txn_options_t *opt, sk_txn_coord_t **out)
{
    sk_txn_coord_t *t = calloc(1, sizeof(*t));
    if (!t) return SK_ENOMEM;
    SK_ASSERT(opt->state_partitions > 0 && opt->clock.mono_ms && opt->clock.wall_ms && opt->hooks.pid_next);
    t->opt = *opt;
    if (opt->store) t->store = *opt->store;
    t->opt.store = NULL;
    sk_map_init(&t->txns);
    t->next_abort_check_ms = txn_mono(t) + opt->abort_check_interval_ms;
    t->next_expire_check_ms = txn_mono(t) + opt->expire_check_interval_ms;
    *out = t;
    return SK_OK;
}

static void
meta_free(txn_meta_t *m)
{
    txn_parts_clear(m);
    free(m->parts);
    free(m->txn_id);
    free(m);
}

void
sk_txn_coord_free(sk_txn_coord_t *t)
{
    sk_map_entry_t *e;
    if (!t) return;
    for (size_t i = 0; sk_map_next(&t->txns, &i, &e);) meta_free(e->value);
    sk_map_deinit(&t->txns);
    free(t);
}

int32_t
sk_txn_partition_for(const sk_txn_coord_t *t, sk_str_t id)
{
    return coord_partition_of(id, t->opt.state_partitions);
}

txn_meta_t *
txn_meta_get(const sk_txn_coord_t *t, sk_str_t id)
{
    if (id.len < 0) return NULL;
    return sk_map_get(&t->txns, id.ptr ? id.ptr : "", (size_t)id.len);
}

txn_meta_t *
txn_meta_add(sk_txn_coord_t *t, const char *id, size_t len)
{
    txn_meta_t *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->txn_id = coord_strdup((sk_str_t){id, (int32_t)len});
    if (!m->txn_id || sk_map_put(&t->txns, id, len, m) != SK_OK) {
        free(m->txn_id);
        free(m);
        return NULL;
    }
    m->producer_id = -1;
    m->producer_epoch = -1;
    m->prev_producer_id = -1;
    m->last_epoch = -1;
    m->start_wall_ms = -1;
    m->state = SK_TXN_EMPTY;
    m->log_partition = sk_txn_partition_for(t, (sk_str_t){id, (int32_t)len});
    return m;
}

void
txn_meta_remove(sk_txn_coord_t *t, txn_meta_t *m)
{
    void *old = sk_map_del(&t->txns, m->txn_id, strlen(m->txn_id));
    SK_ASSERT(old == m);
    meta_free(m);
}

static bool
part_equal(const txn_part_t *p, const char *topic, size_t topic_len, int32_t partition)
{
    return p->partition == partition && strlen(p->topic) == topic_len && memcmp(p->topic, topic, topic_len) == 0;
}

static bool
meta_has_part(const txn_meta_t *m, const char *topic, size_t topic_len, int32_t partition)
{
    for (int32_t i = 0; i < m->part_count; i++)
        if (part_equal(&m->parts[i], topic, topic_len, partition)) return true;
    return false;
}

int
txn_part_add(txn_meta_t *m, const char *topic, size_t topic_len, int32_t partition)
{
    if (meta_has_part(m, topic, topic_len, partition)) return SK_OK;
    if (m->part_count == m->part_cap) {
        int32_t cap = m->part_cap ? m->part_cap * 2 : 8;
        txn_part_t *np = realloc(m->parts, (size_t)cap * sizeof(*np));
        if (!np) return SK_ENOMEM;
        m->parts = np;
        m->part_cap = cap;
    }
    char *name = coord_strdup((sk_str_t){topic, (int32_t)topic_len});
    if (!name) return SK_ENOMEM;
    m->parts[m->part_count++] = (txn_part_t){name, partition, false};
    return SK_OK;
}

static void
parts_truncate(txn_meta_t *m, int32_t count)
{
    while (m->part_count > count) free(m->parts[--m->part_count].topic);
}

void
txn_parts_clear(txn_meta_t *m)
{
    parts_truncate(m, 0);
}

/* ---- transitions: change, persist, or put back ---- */

typedef struct txn_snap {
    sk_txn_state_t state;
    int64_t producer_id, prev_producer_id, start_wall_ms, update_wall_ms;
    int16_t producer_epoch, last_epoch;
    int32_t timeout_ms, part_count;
} txn_snap_t;

static txn_snap_t
snap_take(const txn_meta_t *m)
{
    return (txn_snap_t){m->state, m->producer_id, m->prev_producer_id, m->start_wall_ms, m->update_wall_ms,
                        m->producer_epoch, m->last_epoch, m->timeout_ms, m->part_count};
}

static void
snap_restore(txn_meta_t *m, const txn_snap_t *s)
{
    m->state = s->state;
    m->producer_id = s->producer_id;
    m->prev_producer_id = s->prev_producer_id;
    m->start_wall_ms = s->start_wall_ms;
    m->update_wall_ms = s->update_wall_ms;
    m->producer_epoch = s->producer_epoch;
    m->last_epoch = s->last_epoch;
    m->timeout_ms = s->timeout_ms;
    parts_truncate(m, s->part_count);
}

/* Persist the change made since s; on failure put it back. */
static int
meta_commit(sk_txn_coord_t *t, txn_meta_t *m, const txn_snap_t *s)
{
    m->update_wall_ms = txn_wall(t);
    int rc = txn_log_store(t, m);
    if (rc != SK_OK) {
        SK_WARN("event=txn_state_write_failed transactional_id=%s state=%s rc=%s", m->txn_id,
                sk_txn_state_name(m->state), sk_strerror(rc));
        snap_restore(m, s);
    }
    return rc;
}

/* Next epoch (or a new producer id when the epoch is exhausted). */
static int
meta_bump(sk_txn_coord_t *t, txn_meta_t *m)
{
    if (m->producer_id < 0 || m->producer_epoch >= TXN_EPOCH_EXHAUSTED) {
        int64_t id;
        int rc = t->opt.hooks.pid_next(t->opt.hooks.ctx, &id);
        if (rc != SK_OK) return rc;
        m->prev_producer_id = m->producer_id;
        m->last_epoch = -1;
        m->producer_id = id;
        m->producer_epoch = 0;
        return SK_OK;
    }
    m->last_epoch = m->producer_epoch;
    m->producer_epoch++;
    return SK_OK;
}

static bool
is_offsets_part(const txn_part_t *p)
{
    return strcmp(p->topic, SK_COORD_OFFSETS_TOPIC) == 0;
}

/* Prepare*: write the markers still missing, then persist Complete*. SK_AGAIN while a
 * marker is missing (the tick retries). */
static int
meta_finish(sk_txn_coord_t *t, txn_meta_t *m)
{
    bool commit = m->state == SK_TXN_PREPARE_COMMIT, all = true;
    SK_ASSERT(m->state == SK_TXN_PREPARE_COMMIT || m->state == SK_TXN_PREPARE_ABORT);
    for (int32_t i = 0; i < m->part_count; i++) {
        txn_part_t *p = &m->parts[i];
        if (p->marker_done) continue;
        int rc = t->opt.hooks.marker ? t->opt.hooks.marker(t->opt.hooks.ctx, p->topic, p->partition, m->producer_id,
                                                           m->producer_epoch, commit, 0)
                                     : SK_OK;
        if (rc != SK_OK && rc != SK_ENOENT) {
            SK_WARN("event=txn_marker_failed transactional_id=%s tp=%s-%d rc=%s", m->txn_id, p->topic, p->partition,
                    sk_strerror(rc));
            all = false;
            continue;
        }
        p->marker_done = true;
        if (is_offsets_part(p) && t->opt.groups) sk_off_txn_complete(t->opt.groups, m->producer_id, p->partition, commit);
    }
    if (!all) {
        t->markers_pending = true;
        return SK_AGAIN;
    }
    txn_snap_t s = snap_take(m);
    int32_t parts = m->part_count;
    m->state = commit ? SK_TXN_COMPLETE_COMMIT : SK_TXN_COMPLETE_ABORT;
    m->start_wall_ms = -1;
    m->part_count = 0; /* hidden from the record; restored on failure */
    int rc = meta_commit(t, m, &s);
    m->part_count = parts;
    if (rc != SK_OK) {
        m->state = commit ? SK_TXN_PREPARE_COMMIT : SK_TXN_PREPARE_ABORT;
        m->start_wall_ms = s.start_wall_ms;
        t->markers_pending = true; /* the Complete record is retried with the markers */
        return rc;
    }
    txn_parts_clear(m);
    SK_DEBUG(REQ, "event=txn_completed transactional_id=%s state=%s", m->txn_id, sk_txn_state_name(m->state));
    return SK_OK;
}

/* Ongoing -> Prepare* (persisted), then markers and Complete*. fence bumps the epoch
 * first (timeouts, a new instance): the producer that opened the transaction is fenced. */
static int
meta_end(sk_txn_coord_t *t, txn_meta_t *m, bool commit, bool fence)
{
    txn_snap_t s = snap_take(m);
    int rc;

    SK_ASSERT(m->state == SK_TXN_ONGOING);
    if (fence && m->producer_epoch < TXN_EPOCH_EXHAUSTED) {
        m->last_epoch = m->producer_epoch;
        m->producer_epoch++;
    }
    m->state = commit ? SK_TXN_PREPARE_COMMIT : SK_TXN_PREPARE_ABORT;
    for (int32_t i = 0; i < m->part_count; i++) m->parts[i].marker_done = false;
    if ((rc = meta_commit(t, m, &s)) != SK_OK) return rc;
    rc = meta_finish(t, m);
    return rc == SK_AGAIN ? SK_OK : rc; /* durable: the markers follow from the tick */
}

/* ---- InitProducerId ---- */

static int16_t
init_new(sk_txn_coord_t *t, sk_str_t id, int32_t timeout_ms, sk_txn_init_result_t *res)
{
    txn_meta_t *m = txn_meta_add(t, id.ptr ? id.ptr : "", (size_t)id.len);
    if (!m) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    txn_snap_t s = snap_take(m);
    m->timeout_ms = timeout_ms;
    if (meta_bump(t, m) != SK_OK || meta_commit(t, m, &s) != SK_OK) {
        txn_meta_remove(t, m);
        return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    res->producer_id = m->producer_id;
    res->producer_epoch = m->producer_epoch;
    return SK_KERR_NONE;
}

void
sk_txn_init_producer(sk_txn_coord_t *t, sk_str_t id, int32_t timeout_ms, int64_t expected_pid, int16_t expected_epoch,
                     sk_txn_init_result_t *res)
{
    txn_meta_t *m = txn_meta_get(t, id);
    *res = (sk_txn_init_result_t){SK_KERR_NONE, -1, -1};

    if (timeout_ms <= 0 || timeout_ms > t->opt.max_timeout_ms) {
        res->error_code = SK_KERR_INVALID_TRANSACTION_TIMEOUT;
        return;
    }
    if (!m) {
        res->error_code = init_new(t, id, timeout_ms, res);
        return;
    }
    if (m->state == SK_TXN_PREPARE_COMMIT || m->state == SK_TXN_PREPARE_ABORT) {
        res->error_code = SK_KERR_CONCURRENT_TRANSACTIONS; /* markers still going out */
        return;
    }
    if (expected_pid >= 0) {
        bool current = expected_pid == m->producer_id && expected_epoch == m->producer_epoch;
        bool retry = expected_pid == m->producer_id && expected_epoch == m->last_epoch && m->state != SK_TXN_ONGOING;
        bool rolled = expected_pid == m->prev_producer_id && m->producer_epoch == 0 && m->state != SK_TXN_ONGOING;
        if (retry || rolled) { /* the answer to that request was lost: give it again */
            res->producer_id = m->producer_id;
            res->producer_epoch = m->producer_epoch;
            return;
        }
        if (!current) {
            res->error_code = SK_KERR_PRODUCER_FENCED;
            return;
        }
    }
    if (m->state == SK_TXN_ONGOING) {
        /* A new instance: abort what the old one left open, fencing it. */
        if (meta_end(t, m, false, true) != SK_OK) {
            res->error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
            return;
        }
        if (m->state != SK_TXN_COMPLETE_ABORT) {
            res->error_code = SK_KERR_CONCURRENT_TRANSACTIONS;
            return;
        }
    }
    txn_snap_t s = snap_take(m);
    m->timeout_ms = timeout_ms;
    m->state = SK_TXN_EMPTY; /* as Kafka: a new epoch starts from Empty */
    if (meta_bump(t, m) != SK_OK || meta_commit(t, m, &s) != SK_OK) {
        snap_restore(m, &s);
        res->error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
        return;
    }
    res->producer_id = m->producer_id;
    res->producer_epoch = m->producer_epoch;
    SK_DEBUG(REQ, "event=txn_init transactional_id=%s producer_id=%lld epoch=%d", m->txn_id,
             (long long)m->producer_id, m->producer_epoch);
}

/* ---- AddPartitionsToTxn, AddOffsetsToTxn, EndTxn ---- */

/* Common checks of a request naming (id, producer id, epoch). */
static int16_t
check_producer(const txn_meta_t *m, int64_t producer_id, int16_t producer_epoch)
{
    if (!m || m->producer_id != producer_id) return SK_KERR_INVALID_PRODUCER_ID_MAPPING;
    if (m->producer_epoch != producer_epoch) return SK_KERR_PRODUCER_FENCED;
    if (m->state == SK_TXN_PREPARE_COMMIT || m->state == SK_TXN_PREPARE_ABORT) return SK_KERR_CONCURRENT_TRANSACTIONS;
    if (m->state == SK_TXN_DEAD || m->state == SK_TXN_PREPARE_EPOCH_FENCE) return SK_KERR_INVALID_TXN_STATE;
    return SK_KERR_NONE;
}

static void
tps_fail(sk_txn_tp_t *tps, int32_t count, int16_t err)
{
    for (int32_t i = 0; i < count; i++) tps[i].error_code = err;
}

static int16_t
add_verify(const txn_meta_t *m, sk_txn_tp_t *tps, int32_t count)
{
    for (int32_t i = 0; i < count; i++) {
        bool in = m->state == SK_TXN_ONGOING &&
                  meta_has_part(m, tps[i].topic.ptr ? tps[i].topic.ptr : "", (size_t)SK_MAX(tps[i].topic.len, 0),
                                tps[i].partition);
        if (tps[i].error_code == SK_KERR_NONE && !in) tps[i].error_code = SK_KERR_INVALID_TXN_STATE;
    }
    return SK_KERR_NONE;
}

int16_t
sk_txn_add_partitions(sk_txn_coord_t *t, sk_str_t id, int64_t producer_id, int16_t producer_epoch, sk_txn_tp_t *tps,
                      int32_t count, bool verify_only)
{
    txn_meta_t *m = txn_meta_get(t, id);
    int16_t err = check_producer(m, producer_id, producer_epoch);
    bool refused = false;

    for (int32_t i = 0; i < count; i++) refused |= tps[i].error_code != SK_KERR_NONE;
    if (err != SK_KERR_NONE || refused) {
        /* Kafka: nothing is added when any partition is refused. */
        for (int32_t i = 0; i < count; i++)
            if (tps[i].error_code == SK_KERR_NONE) tps[i].error_code = err ? err : SK_KERR_TXN_OPERATION_NOT_ATTEMPTED;
        return err;
    }
    if (verify_only) return add_verify(m, tps, count);
    txn_snap_t s = snap_take(m);
    for (int32_t i = 0; i < count; i++) {
        if (txn_part_add(m, tps[i].topic.ptr ? tps[i].topic.ptr : "", (size_t)SK_MAX(tps[i].topic.len, 0),
                         tps[i].partition) != SK_OK) {
            snap_restore(m, &s);
            tps_fail(tps, count, SK_KERR_COORDINATOR_NOT_AVAILABLE);
            return SK_KERR_COORDINATOR_NOT_AVAILABLE;
        }
    }
    if (m->state == SK_TXN_ONGOING && m->part_count == s.part_count) return SK_KERR_NONE; /* nothing new */
    if (m->state != SK_TXN_ONGOING) {
        m->state = SK_TXN_ONGOING;
        m->start_wall_ms = txn_wall(t);
    }
    if (meta_commit(t, m, &s) != SK_OK) {
        tps_fail(tps, count, SK_KERR_COORDINATOR_NOT_AVAILABLE);
        return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    return SK_KERR_NONE;
}

int16_t
sk_txn_add_offsets(sk_txn_coord_t *t, sk_str_t id, int64_t producer_id, int16_t producer_epoch, sk_str_t group_id)
{
    sk_txn_tp_t tp = {sk_str_c(SK_COORD_OFFSETS_TOPIC), 0, SK_KERR_NONE};
    if (!t->opt.groups) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    tp.partition = sk_coord_partition_for(t->opt.groups, group_id);
    return sk_txn_add_partitions(t, id, producer_id, producer_epoch, &tp, 1, false);
}

int16_t
sk_txn_end(sk_txn_coord_t *t, sk_str_t id, int64_t producer_id, int16_t producer_epoch, bool commit)
{
    txn_meta_t *m = txn_meta_get(t, id);

    if (!m || m->producer_id != producer_id) return SK_KERR_INVALID_PRODUCER_ID_MAPPING;
    if (m->producer_epoch != producer_epoch) return SK_KERR_PRODUCER_FENCED;
    switch (m->state) {
    case SK_TXN_ONGOING:
        return meta_end(t, m, commit, false) == SK_OK ? SK_KERR_NONE : SK_KERR_COORDINATOR_NOT_AVAILABLE;
    case SK_TXN_PREPARE_COMMIT:
        return commit ? SK_KERR_CONCURRENT_TRANSACTIONS : SK_KERR_INVALID_TXN_STATE;
    case SK_TXN_PREPARE_ABORT:
        return commit ? SK_KERR_INVALID_TXN_STATE : SK_KERR_CONCURRENT_TRANSACTIONS;
    case SK_TXN_COMPLETE_COMMIT:
        return commit ? SK_KERR_NONE : SK_KERR_INVALID_TXN_STATE; /* a retry of the commit */
    case SK_TXN_COMPLETE_ABORT:
        return commit ? SK_KERR_INVALID_TXN_STATE : SK_KERR_NONE;
    default:
        return SK_KERR_INVALID_TXN_STATE;
    }
}

/* Transactions v2: the state of a retried EndTxn whose epoch bump already happened. */
static int16_t
end_v2_retry(const txn_meta_t *m, bool commit)
{
    switch (m->state) {
    case SK_TXN_PREPARE_COMMIT:
        return commit ? SK_KERR_CONCURRENT_TRANSACTIONS : SK_KERR_INVALID_TXN_STATE;
    case SK_TXN_PREPARE_ABORT:
        return commit ? SK_KERR_INVALID_TXN_STATE : SK_KERR_CONCURRENT_TRANSACTIONS;
    case SK_TXN_COMPLETE_COMMIT:
        return commit ? SK_KERR_NONE : SK_KERR_INVALID_TXN_STATE;
    case SK_TXN_COMPLETE_ABORT:
        return commit ? SK_KERR_INVALID_TXN_STATE : SK_KERR_NONE;
    default:
        return SK_KERR_PRODUCER_FENCED; /* the bump came from InitProducerId */
    }
}

/* Nothing was added: bump the epoch and record the outcome, without markers. */
static int16_t
end_v2_empty(sk_txn_coord_t *t, txn_meta_t *m, bool commit)
{
    txn_snap_t s = snap_take(m);
    if (meta_bump(t, m) != SK_OK) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    m->state = commit ? SK_TXN_COMPLETE_COMMIT : SK_TXN_COMPLETE_ABORT;
    m->start_wall_ms = -1;
    return meta_commit(t, m, &s) == SK_OK ? SK_KERR_NONE : SK_KERR_COORDINATOR_NOT_AVAILABLE;
}

int16_t
sk_txn_end_v2(sk_txn_coord_t *t, sk_str_t id, int64_t producer_id, int16_t producer_epoch, bool commit,
              int64_t *out_pid, int16_t *out_epoch)
{
    txn_meta_t *m = txn_meta_get(t, id);
    int16_t err;

    *out_pid = -1;
    *out_epoch = -1;
    if (!m || m->producer_id != producer_id) return SK_KERR_INVALID_PRODUCER_ID_MAPPING;
    if (producer_epoch != m->producer_epoch) {
        if (producer_epoch != m->last_epoch) return SK_KERR_PRODUCER_FENCED;
        err = end_v2_retry(m, commit);
    } else if (m->state == SK_TXN_ONGOING) {
        err = meta_end(t, m, commit, true) == SK_OK ? SK_KERR_NONE : SK_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (m->state == SK_TXN_PREPARE_COMMIT || m->state == SK_TXN_PREPARE_ABORT) {
        err = end_v2_retry(m, commit);
    } else if (m->state == SK_TXN_EMPTY || m->state == SK_TXN_COMPLETE_COMMIT || m->state == SK_TXN_COMPLETE_ABORT) {
        err = end_v2_empty(t, m, commit);
    } else {
        err = SK_KERR_INVALID_TXN_STATE;
    }
    /* An exhausted epoch moves to a new producer id once the markers are out. */
    if (err == SK_KERR_NONE && m->producer_epoch >= TXN_EPOCH_EXHAUSTED &&
        (m->state == SK_TXN_COMPLETE_COMMIT || m->state == SK_TXN_COMPLETE_ABORT)) {
        txn_snap_t s = snap_take(m);
        if (meta_bump(t, m) != SK_OK || meta_commit(t, m, &s) != SK_OK) snap_restore(m, &s);
    }
    if (err == SK_KERR_NONE) {
        *out_pid = m->producer_id;
        *out_epoch = m->producer_epoch;
    }
    return err;
}

int16_t
sk_txn_produce_check(const sk_txn_coord_t *t, sk_str_t id, int64_t producer_id, int16_t producer_epoch,
                     const char *topic, size_t topic_len, int32_t partition)
{
    const txn_meta_t *m = txn_meta_get(t, id);
    if (!m || m->producer_id != producer_id) return SK_KERR_INVALID_PRODUCER_ID_MAPPING;
    if (producer_epoch < m->producer_epoch) return SK_KERR_INVALID_PRODUCER_EPOCH;
    if (producer_epoch != m->producer_epoch || m->state != SK_TXN_ONGOING ||
        !meta_has_part(m, topic, topic_len, partition))
        return SK_KERR_INVALID_TXN_STATE;
    return SK_KERR_NONE;
}

int16_t
sk_txn_offsets_check(const sk_txn_coord_t *t, sk_str_t id, int64_t producer_id, int16_t producer_epoch,
                     sk_str_t group_id)
{
    const txn_meta_t *m = txn_meta_get(t, id);
    if (!m || m->producer_id != producer_id) return SK_KERR_INVALID_PRODUCER_ID_MAPPING;
    if (producer_epoch != m->producer_epoch) return SK_KERR_PRODUCER_FENCED;
    if (!t->opt.groups) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    int32_t p = sk_coord_partition_for(t->opt.groups, group_id);
    if (m->state != SK_TXN_ONGOING || !meta_has_part(m, SK_COORD_OFFSETS_TOPIC, strlen(SK_COORD_OFFSETS_TOPIC), p))
        return SK_KERR_INVALID_TXN_STATE;
    return SK_KERR_NONE;
}

/* ---- load, tick, verify ---- */

int
sk_txn_coord_load(sk_txn_coord_t *t)
{
    sk_map_entry_t *e;
    int rc;

    if (t->store.log) {
        for (int32_t p = 0; p < t->opt.state_partitions; p++) {
            sk_log_t *log = t->store.log(t->store.ctx, p);
            if (log && (rc = txn_log_load_partition(t, log)) != SK_OK) return rc;
        }
    }
    /* A crash between Prepare* and Complete*: the decision is durable, finish it. */
    for (size_t i = 0; sk_map_next(&t->txns, &i, &e);) {
        txn_meta_t *m = e->value;
        if (m->state != SK_TXN_PREPARE_COMMIT && m->state != SK_TXN_PREPARE_ABORT) continue;
        SK_INFO("event=txn_recovered transactional_id=%s state=%s partitions=%d", m->txn_id,
                sk_txn_state_name(m->state), m->part_count);
        (void)meta_finish(t, m); /* failures are retried by the tick */
    }
    return SK_OK;
}

/* Forget ids with nothing open that were not used for transactional.id.expiration.ms:
 * the tombstone first, then memory (Kafka moves them through Dead the same way). */
static void
expire_ids(sk_txn_coord_t *t, int64_t wall)
{
    sk_map_entry_t *e;
    txn_meta_t *gone[64];
    int n = 0;

    for (size_t i = 0; n < (int)SK_ARRAY_LEN(gone) && sk_map_next(&t->txns, &i, &e);) {
        txn_meta_t *m = e->value;
        bool idle = m->state == SK_TXN_EMPTY || m->state == SK_TXN_COMPLETE_COMMIT || m->state == SK_TXN_COMPLETE_ABORT;
        if (idle && wall - m->update_wall_ms > t->opt.id_expiration_ms) gone[n++] = m;
    }
    for (int i = 0; i < n; i++) {
        if (txn_log_delete(t, gone[i]) != SK_OK) continue; /* kept; tried again next time */
        SK_INFO("event=txn_id_expired transactional_id=%s producer_id=%lld", gone[i]->txn_id,
                (long long)gone[i]->producer_id);
        txn_meta_remove(t, gone[i]);
    }
    if (n == (int)SK_ARRAY_LEN(gone)) t->next_expire_check_ms = txn_mono(t); /* more next tick */
}

void
sk_txn_coord_tick(sk_txn_coord_t *t)
{
    int64_t now = txn_mono(t), wall;
    sk_map_entry_t *e;

    if (now >= t->next_expire_check_ms) {
        t->next_expire_check_ms = now + t->opt.expire_check_interval_ms;
        expire_ids(t, txn_wall(t));
    }
    if (t->markers_pending && now >= t->next_marker_retry_ms) {
        t->next_marker_retry_ms = now + TXN_MARKER_RETRY_MS;
        t->markers_pending = false; /* set again by meta_finish while one fails */
        for (size_t i = 0; sk_map_next(&t->txns, &i, &e);) {
            txn_meta_t *m = e->value;
            if (m->state == SK_TXN_PREPARE_COMMIT || m->state == SK_TXN_PREPARE_ABORT) (void)meta_finish(t, m);
        }
    }
    if (now < t->next_abort_check_ms) return;
    t->next_abort_check_ms = now + t->opt.abort_check_interval_ms;
    wall = txn_wall(t);
    for (size_t i = 0; sk_map_next(&t->txns, &i, &e);) {
        txn_meta_t *m = e->value;
        if (m->state == SK_TXN_ONGOING && wall - m->start_wall_ms > m->timeout_ms) {
            SK_INFO("event=txn_timed_out transactional_id=%s producer_id=%lld epoch=%d", m->txn_id,
                    (long long)m->producer_id, m->producer_epoch);
            (void)meta_end(t, m, false, true);
        }
    }
}

void
sk_txn_coord_verify(const sk_txn_coord_t *t)
{
    sk_map_entry_t *e;
    for (size_t i = 0; sk_map_next(&t->txns, &i, &e);) {
        const txn_meta_t *m = e->value;
        bool open = m->state == SK_TXN_ONGOING || m->state == SK_TXN_PREPARE_COMMIT || m->state == SK_TXN_PREPARE_ABORT;
        SK_ASSERT(strlen(m->txn_id) == e->key_len && memcmp(m->txn_id, e->key, e->key_len) == 0);
        SK_ASSERT(m->log_partition == sk_txn_partition_for(t, (sk_str_t){m->txn_id, (int32_t)e->key_len}));
        SK_ASSERT(m->producer_id >= 0 && m->producer_epoch >= 0);
        SK_ASSERT(m->part_count >= 0 && m->part_count <= m->part_cap);
        if (open) SK_ASSERT(m->start_wall_ms >= 0 && m->part_count > 0);
        else SK_ASSERT(m->part_count == 0);
        for (int32_t j = 0; j < m->part_count; j++) {
            SK_ASSERT(m->parts[j].topic != NULL);
            if (m->state == SK_TXN_ONGOING) SK_ASSERT(!m->parts[j].marker_done);
        }
    }
}

/* ---- admin views ---- */

int
sk_txn_describe(sk_txn_coord_t *t, sk_str_t id, sk_arena_t *arena, sk_txn_desc_t *out)
{
    const txn_meta_t *m = txn_meta_get(t, id);
    memset(out, 0, sizeof(*out));
    if (!m) {
        out->error_code = SK_KERR_TXN_TRANSACTIONAL_ID_NOT_FOUND;
        out->state = "";
        out->producer_id = -1;
        out->producer_epoch = -1;
        out->start_wall_ms = -1;
        return SK_OK;
    }
    out->state = sk_txn_state_name(m->state);
    out->timeout_ms = m->timeout_ms;
    out->start_wall_ms = m->start_wall_ms;
    out->producer_id = m->producer_id;
    out->producer_epoch = m->producer_epoch;
    if (m->part_count == 0) return SK_OK;
    out->partitions = sk_arena_calloc(arena, (size_t)m->part_count, sizeof(*out->partitions));
    if (!out->partitions) return SK_ENOMEM;
    for (int32_t i = 0; i < m->part_count; i++) {
        char *s = sk_arena_strndup(arena, m->parts[i].topic, strlen(m->parts[i].topic));
        if (!s) return SK_ENOMEM;
        out->partitions[i] = (sk_txn_tp_t){sk_str_c(s), m->parts[i].partition, SK_KERR_NONE};
    }
    out->partition_count = m->part_count;
    return SK_OK;
}

static bool
list_match(const txn_meta_t *m, const sk_str_t *states, int32_t state_count, const int64_t *pids, int32_t pid_count,
           int64_t duration_ms, int64_t wall)
{
    bool ok = state_count <= 0;
    const char *name = sk_txn_state_name(m->state);
    for (int32_t i = 0; i < state_count && !ok; i++)
        ok = states[i].len == (int32_t)strlen(name) && memcmp(states[i].ptr, name, (size_t)states[i].len) == 0;
    if (!ok) return false;
    ok = pid_count <= 0;
    for (int32_t i = 0; i < pid_count && !ok; i++) ok = pids[i] == m->producer_id;
    if (!ok) return false;
    if (duration_ms >= 0) return m->start_wall_ms >= 0 && wall - m->start_wall_ms > duration_ms;
    return true;
}

static int
listed_cmp(const void *a, const void *b)
{
    return strcmp(((const sk_txn_listed_t *)a)->transactional_id, ((const sk_txn_listed_t *)b)->transactional_id);
}

int
sk_txn_list(sk_txn_coord_t *t, const sk_str_t *states, int32_t state_count, const int64_t *pids, int32_t pid_count,
            int64_t duration_ms, sk_arena_t *arena, sk_txn_listed_t **out, int32_t *count)
{
    size_t n = t->txns.count, k = 0;
    sk_map_entry_t *e;
    int64_t wall = txn_wall(t);
    sk_txn_listed_t *v = n ? sk_arena_calloc(arena, n, sizeof(*v)) : NULL;

    *out = NULL;
    *count = 0;
    if (n && !v) return SK_ENOMEM;
    for (size_t i = 0; sk_map_next(&t->txns, &i, &e);) {
        const txn_meta_t *m = e->value;
        if (!list_match(m, states, state_count, pids, pid_count, duration_ms, wall)) continue;
        char *s = sk_arena_strndup(arena, m->txn_id, strlen(m->txn_id));
        if (!s) return SK_ENOMEM;
        v[k++] = (sk_txn_listed_t){s, m->producer_id, sk_txn_state_name(m->state)};
    }
    if (k > 1) qsort(v, k, sizeof(*v), listed_cmp);
    *out = v;
    *count = (int32_t)k;
    return SK_OK;
}
