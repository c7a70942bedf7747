/* storage/producer_state.c: idempotent producer state of one partition log, with the
 * semantics of Kafka's ProducerStateManager / ProducerAppendInfo:
 *
 *  - per producer id: the epoch and the last SK_PRODUCER_BATCHES_RETAINED batches
 *    (first/last sequence, first/last offset, timestamp);
 *  - a batch whose epoch and exact sequence range match a retained batch is a retry:
 *    the caller answers with the original offsets and writes nothing;
 *  - a lower epoch is refused (INVALID_PRODUCER_EPOCH); a higher epoch must start at
 *    sequence 0 unless the producer is unknown; in the same epoch the first sequence
 *    must follow the last one (wrapping from INT32_MAX to 0), otherwise
 *    OUT_OF_ORDER_SEQUENCE_NUMBER. An unknown producer may start at any sequence (its
 *    earlier batches may have been removed by retention), as Kafka 4.x accepts it.
 *
 * Snapshots: <20-digit offset>.snapshot in Kafka's ProducerSnapshot v1 layout (all
 * big-endian): version i16 (1), crc u32 (CRC-32C of everything after it), entry count
 * i32, then per producer: producer id i64, epoch i16, last sequence i32, last offset
 * i64 (-1 when no batch is retained), offset delta i32, timestamp i64, coordinator
 * epoch i32, current transaction first offset i64 (-1). A snapshot holds the state as
 * of its offset (exclusive); loading takes the newest valid one at or below the LEO and
 * replays the batch headers after it. Written at segment roll and clean close.
 * Invariants: retained batches are ordered by offset and belong to the entry's epoch;
 * the map holds at most SK_PRODUCERS_MAX producers. Runs on the partition's thread. */
#include "storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#define NO_SEQUENCE (-1)
#define KERR_TXN_COORDINATOR_FENCED 52 /* Kafka's TRANSACTION_COORDINATOR_FENCED */

int32_t
sk_seq_add(int32_t seq, int32_t delta)
{
    SK_ASSERT(seq >= 0 && delta >= 0);
    if (seq > INT32_MAX - delta) return delta - (INT32_MAX - seq) - 1;
    return seq + delta;
}

int32_t
sk_seq_sub(int32_t seq, int32_t delta)
{
    SK_ASSERT(seq >= 0 && delta >= 0);
    if (seq < delta) return INT32_MAX - (delta - seq) + 1;
    return seq - delta;
}

static bool
seq_follows(int32_t last, int32_t next)
{
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

static void
pid_key(uint8_t key[8], int64_t producer_id)
{
    sk_put_be64(key, (uint64_t)producer_id);
}

void
sk_pstate_init(sk_pstate_t *ps)
{
    sk_map_init(&ps->producers);
    ps->txn_head = ps->txn_tail = NULL;
    ps->txn_count = 0;
}

void
sk_pstate_deinit(sk_pstate_t *ps)
{
    sk_map_entry_t *e;
    for (size_t i = 0; sk_map_next(&ps->producers, &i, &e);) free(e->value);
    sk_map_deinit(&ps->producers);
    ps->txn_head = ps->txn_tail = NULL;
    ps->txn_count = 0;
}

/* ---- the list of ongoing transactions, ascending by first offset ---- */

static void
txn_unlink(sk_pstate_t *ps, sk_pentry_t *e)
{
    SK_ASSERT(e->txn_first_offset >= 0 && ps->txn_count > 0);
    if (e->txn_prev) e->txn_prev->txn_next = e->txn_next;
    else ps->txn_head = e->txn_next;
    if (e->txn_next) e->txn_next->txn_prev = e->txn_prev;
    else ps->txn_tail = e->txn_prev;
    e->txn_prev = e->txn_next = NULL;
    e->txn_first_offset = -1;
    ps->txn_count--;
}

/* Link e (txn_first_offset set) in order. Appends come in offset order, so the walk
 * from the tail stops at once on the append path; loading a snapshot may walk. */
static void
txn_link(sk_pstate_t *ps, sk_pentry_t *e)
{
    sk_pentry_t *after = ps->txn_tail;
    SK_ASSERT(e->txn_first_offset >= 0 && !e->txn_prev && !e->txn_next && ps->txn_head != e);
    while (after && after->txn_first_offset > e->txn_first_offset) after = after->txn_prev;
    e->txn_prev = after;
    e->txn_next = after ? after->txn_next : ps->txn_head;
    if (e->txn_next) e->txn_next->txn_prev = e;
    else ps->txn_tail = e;
    if (after) after->txn_next = e;
    else ps->txn_head = e;
    ps->txn_count++;
}

int64_t
sk_pstate_first_unstable(const sk_pstate_t *ps)
{
    return ps->txn_head ? ps->txn_head->txn_first_offset : -1;
}

void
sk_pstate_verify(const sk_pstate_t *ps)
{
    int32_t n = 0, open = 0;
    sk_map_entry_t *me;
    for (const sk_pentry_t *e = ps->txn_head, *prev = NULL; e; prev = e, e = e->txn_next, n++) {
        SK_ASSERT(e->txn_prev == prev && e->txn_first_offset >= 0);
        SK_ASSERT(!prev || prev->txn_first_offset <= e->txn_first_offset);
        SK_ASSERT(sk_pstate_get(ps, e->producer_id) == e);
        if (!e->txn_next) SK_ASSERT(ps->txn_tail == e);
    }
    SK_ASSERT(n == ps->txn_count && (n > 0 || !ps->txn_tail));
    for (size_t i = 0; sk_map_next(&ps->producers, &i, &me);)
        if (((const sk_pentry_t *)me->value)->txn_first_offset >= 0) open++;
    SK_ASSERT(open == n);
}

sk_pentry_t *
sk_pstate_get(const sk_pstate_t *ps, int64_t producer_id)
{
    uint8_t key[8];
    pid_key(key, producer_id);
    return sk_map_get(&ps->producers, (const char *)key, sizeof(key));
}

static const sk_pbatch_t *
entry_last(const sk_pentry_t *e)
{
    return e->batch_count > 0 ? &e->batches[e->batch_count - 1] : NULL;
}

void
sk_pstate_check(const sk_pstate_t *ps, const sk_batch_hdr_t *h, int16_t *kerr, const sk_pbatch_t **dup)
{
    const sk_pentry_t *e;

    *kerr = SK_KERR_NONE;
    *dup = NULL;
    if (h->producer_id < 0) return;
    /* Markers are built by the broker (sk_log_append_marker checks them); a client
     * batch with the control bit never gets this far (sk_batch_validate). */
    if (h->attributes & SK_ATTR_CONTROL) return;
    /* Bytes from the network: refuse, never assert. */
    if (h->base_sequence < 0 || h->producer_epoch < 0 || h->last_offset_delta < 0) {
        *kerr = SK_KERR_INVALID_RECORD;
        return;
    }
    e = sk_pstate_get(ps, h->producer_id);
    if (!e || e->epoch < 0) return; /* unknown producer: any sequence starts it */
    int32_t last_seq = sk_seq_add(h->base_sequence, h->last_offset_delta);
    if (h->producer_epoch == e->epoch) {
        for (int32_t i = 0; i < e->batch_count; i++) {
            if (e->batches[i].first_seq == h->base_sequence && e->batches[i].last_seq == last_seq) {
                *dup = &e->batches[i];
                return;
            }
        }
    }
    if (h->producer_epoch < e->epoch) {
        *kerr = SK_KERR_INVALID_PRODUCER_EPOCH;
    } else if (h->producer_epoch > e->epoch) {
        if (h->base_sequence != 0) *kerr = SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    } else {
        const sk_pbatch_t *last = entry_last(e);
        if (!seq_follows(last ? last->last_seq : NO_SEQUENCE, h->base_sequence))
            *kerr = SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    /* A plain write while the producer's transaction is open here (Kafka's check). */
    if (*kerr == SK_KERR_NONE && e->txn_first_offset >= 0 && !(h->attributes & SK_ATTR_TRANSACTIONAL))
        *kerr = SK_KERR_INVALID_TXN_STATE;
}

void
sk_pstate_check_marker(const sk_pstate_t *ps, int64_t producer_id, int16_t epoch, int32_t coordinator_epoch,
                       int16_t *kerr)
{
    const sk_pentry_t *e = sk_pstate_get(ps, producer_id);
    *kerr = SK_KERR_NONE;
    if (producer_id < 0 || epoch < 0) *kerr = SK_KERR_INVALID_PRODUCER_EPOCH;
    else if (e && e->epoch > epoch) *kerr = SK_KERR_INVALID_PRODUCER_EPOCH;
    else if (e && e->coordinator_epoch > coordinator_epoch) *kerr = KERR_TXN_COORDINATOR_FENCED;
}

typedef struct ts_pick {
    int64_t *v; /* owned */
    size_t count;
} ts_pick_t;

static int
ts_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* At the cap: drop the least recently written tenth, so that a flood of new producer
 * ids costs O(log n) per id, not a scan per id. */
static int
pstate_evict(sk_pstate_t *ps)
{
    ts_pick_t t = {.v = malloc(ps->producers.count * sizeof(int64_t))};
    sk_map_entry_t *e;

    if (!t.v) return SK_ENOMEM;
    for (size_t i = 0; sk_map_next(&ps->producers, &i, &e);) t.v[t.count++] = ((sk_pentry_t *)e->value)->last_timestamp;
    qsort(t.v, t.count, sizeof(int64_t), ts_cmp);
    int64_t cut = t.v[t.count / 10];
    free(t.v);
    SK_WARN("event=producer_state_full producers=%zu evict_before_ts=%lld", ps->producers.count, (long long)cut);
    size_t before = ps->producers.count;
    sk_pstate_expire(ps, cut - 1, 0); /* strictly older than the cut first */
    if (ps->producers.count == before) sk_pstate_expire(ps, cut, 0);
    return SK_OK;
}

static sk_pentry_t *
pstate_entry(sk_pstate_t *ps, int64_t producer_id)
{
    uint8_t key[8];
    sk_pentry_t *e = sk_pstate_get(ps, producer_id);

    if (e) return e;
    if (ps->producers.count >= SK_PRODUCERS_MAX && pstate_evict(ps) != SK_OK) return NULL;
    e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->producer_id = producer_id;
    e->epoch = -1;
    e->coordinator_epoch = -1;
    e->txn_first_offset = -1;
    e->last_timestamp = -1;
    pid_key(key, producer_id);
    if (sk_map_put(&ps->producers, (const char *)key, sizeof(key), e) != SK_OK) {
        free(e);
        return NULL;
    }
    return e;
}

static void
entry_add_batch(sk_pentry_t *e, int16_t epoch, const sk_pbatch_t *b)
{
    if (e->epoch != epoch) {
        e->epoch = epoch;
        e->batch_count = 0;
    }
    if (e->batch_count == SK_PRODUCER_BATCHES_RETAINED) {
        memmove(&e->batches[0], &e->batches[1], sizeof(e->batches[0]) * (SK_PRODUCER_BATCHES_RETAINED - 1));
        e->batch_count--;
    }
    e->batches[e->batch_count++] = *b;
    e->last_timestamp = b->timestamp;
}

int
sk_pstate_update(sk_pstate_t *ps, const sk_batch_hdr_t *h, int64_t timestamp, int64_t now_ms)
{
    sk_pentry_t *e;

    if (h->producer_id < 0 || h->producer_epoch < 0) return SK_OK;
    if (h->attributes & SK_ATTR_CONTROL) return SK_OK; /* markers: sk_pstate_end_txn */
    e = pstate_entry(ps, h->producer_id);
    if (!e) return SK_ENOMEM;
    sk_pbatch_t b = {
        .first_seq = h->base_sequence,
        .last_seq = h->base_sequence >= 0 ? sk_seq_add(h->base_sequence, h->last_offset_delta) : NO_SEQUENCE,
        .first_offset = h->base_offset,
        .last_offset = h->base_offset + h->last_offset_delta,
        .timestamp = timestamp,
    };
    entry_add_batch(e, h->producer_epoch, &b);
    /* Expiry goes by the later of the batch's timestamp and the broker's clock, so a
     * producer writing old CreateTime timestamps is not forgotten while it writes. */
    e->last_timestamp = SK_MAX(timestamp, now_ms);
    if ((h->attributes & SK_ATTR_TRANSACTIONAL) && e->txn_first_offset < 0) {
        e->txn_first_offset = h->base_offset;
        txn_link(ps, e);
    }
    return SK_OK;
}

int
sk_pstate_end_txn(sk_pstate_t *ps, int64_t producer_id, int16_t epoch, int32_t coordinator_epoch,
                  int64_t marker_offset, int64_t timestamp, int64_t *first_offset, int64_t *lso_after)
{
    sk_pentry_t *e = pstate_entry(ps, producer_id);

    *first_offset = -1;
    *lso_after = -1;
    if (!e) return SK_ENOMEM;
    if (e->epoch != epoch) {
        /* A marker at a newer epoch (an aborting coordinator bumped it, or
         * transactions v2): the producer starts over at sequence 0. */
        e->epoch = epoch;
        e->batch_count = 0;
    }
    e->coordinator_epoch = coordinator_epoch;
    e->last_timestamp = SK_MAX(e->last_timestamp, timestamp);
    if (e->txn_first_offset >= 0) {
        *first_offset = e->txn_first_offset;
        txn_unlink(ps, e);
    }
    *lso_after = ps->txn_head ? ps->txn_head->txn_first_offset : marker_offset + 1;
    return SK_OK;
}

void
sk_pstate_expire(sk_pstate_t *ps, int64_t now_ms, int64_t expire_ms)
{
    uint8_t key[8];
    sk_map_entry_t *e;
    int64_t *gone;
    size_t n = 0;

    if (ps->producers.count == 0) return;
    gone = malloc(ps->producers.count * sizeof(*gone));
    if (!gone) return; /* expiry is housekeeping: try again next time */
    /* The map must not change while iterated: collect first, then remove. */
    for (size_t i = 0; sk_map_next(&ps->producers, &i, &e);) {
        const sk_pentry_t *p = e->value;
        if (p->txn_first_offset < 0 && p->last_timestamp <= now_ms - expire_ms) gone[n++] = p->producer_id;
    }
    for (size_t i = 0; i < n; i++) {
        pid_key(key, gone[i]);
        free(sk_map_del(&ps->producers, (const char *)key, sizeof(key)));
    }
    free(gone);
}

/* ---- snapshots ---- */

static size_t
snapshot_encode(const sk_pstate_t *ps, uint8_t *buf)
{
    sk_map_entry_t *e;
    uint8_t *p = buf + SK_SNAPSHOT_HEADER_SIZE;

    sk_put_be16(buf, SK_SNAPSHOT_VERSION);
    sk_put_be32(buf + 6, (uint32_t)ps->producers.count);
    for (size_t i = 0; sk_map_next(&ps->producers, &i, &e);) {
        const sk_pentry_t *pe = e->value;
        const sk_pbatch_t *last = entry_last(pe);
        sk_put_be64(p, (uint64_t)pe->producer_id);
        sk_put_be16(p + 8, (uint16_t)pe->epoch);
        sk_put_be32(p + 10, (uint32_t)(last ? last->last_seq : NO_SEQUENCE));
        sk_put_be64(p + 14, (uint64_t)(last ? last->last_offset : -1));
        sk_put_be32(p + 22, (uint32_t)(last ? (int32_t)(last->last_offset - last->first_offset) : 0));
        sk_put_be64(p + 26, (uint64_t)pe->last_timestamp);
        sk_put_be32(p + 34, (uint32_t)pe->coordinator_epoch);
        sk_put_be64(p + 38, (uint64_t)pe->txn_first_offset);
        p += SK_SNAPSHOT_ENTRY_SIZE;
    }
    size_t len = (size_t)(p - buf);
    sk_put_be32(buf + 2, sk_crc32c(0, buf + 6, len - 6));
    return len;
}

int
sk_pstate_snapshot_parse(sk_pstate_t *ps, const uint8_t *p, size_t len)
{
    if (len < SK_SNAPSHOT_HEADER_SIZE || (int16_t)sk_be16(p) != SK_SNAPSHOT_VERSION) return SK_ECORRUPT;
    if (sk_be32(p + 2) != sk_crc32c(0, p + 6, len - 6)) return SK_ECORRUPT;
    int32_t count = (int32_t)sk_be32(p + 6);
    if (count < 0 || (size_t)count != (len - SK_SNAPSHOT_HEADER_SIZE) / SK_SNAPSHOT_ENTRY_SIZE ||
        (len - SK_SNAPSHOT_HEADER_SIZE) % SK_SNAPSHOT_ENTRY_SIZE != 0)
        return SK_ECORRUPT;
    const uint8_t *q = p + SK_SNAPSHOT_HEADER_SIZE;
    for (int32_t i = 0; i < count; i++, q += SK_SNAPSHOT_ENTRY_SIZE) {
        int64_t pid = (int64_t)sk_be64(q), last_offset = (int64_t)sk_be64(q + 14);
        int16_t epoch = (int16_t)sk_be16(q + 8);
        int32_t last_seq = (int32_t)sk_be32(q + 10), delta = (int32_t)sk_be32(q + 22);
        if (pid < 0 || epoch < 0) return SK_ECORRUPT;
        sk_pentry_t *e = pstate_entry(ps, pid);
        if (!e) return SK_ENOMEM;
        e->epoch = epoch;
        e->batch_count = 0;
        e->last_timestamp = (int64_t)sk_be64(q + 26);
        e->coordinator_epoch = (int32_t)sk_be32(q + 34);
        if (e->txn_first_offset >= 0) txn_unlink(ps, e);
        int64_t txn_first = (int64_t)sk_be64(q + 38);
        if (txn_first < -1) return SK_ECORRUPT;
        if (txn_first >= 0) {
            e->txn_first_offset = txn_first;
            txn_link(ps, e);
        }
        if (last_offset >= 0) {
            if (last_seq < 0 || delta < 0 || delta > last_offset) return SK_ECORRUPT;
            e->batches[0] = (sk_pbatch_t){
                .first_seq = sk_seq_sub(last_seq, delta),
                .last_seq = last_seq,
                .first_offset = last_offset - delta,
                .last_offset = last_offset,
                .timestamp = e->last_timestamp,
            };
            e->batch_count = 1;
        }
    }
    return SK_OK;
}

/* Snapshot offsets in dir, ascending. */
static int
snapshot_list(const char *dir, int64_t **out, int32_t *count)
{
    struct dirent *de;
    int64_t *v = NULL;
    int32_t n = 0, cap = 0;
    DIR *d = opendir(dir);

    *out = NULL;
    *count = 0;
    if (!d) return SK_EIO;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (len != SK_SEG_NAME_DIGITS + strlen(SK_SNAPSHOT_EXT) || strcmp(name + SK_SEG_NAME_DIGITS, SK_SNAPSHOT_EXT))
            continue;
        int64_t off = 0;
        bool ok = true;
        for (int i = 0; i < SK_SEG_NAME_DIGITS && ok; i++) {
            ok = name[i] >= '0' && name[i] <= '9' && off <= (INT64_MAX - 9) / 10;
            off = off * 10 + (name[i] - '0');
        }
        if (!ok) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            int64_t *nv = realloc(v, (size_t)cap * sizeof(*v));
            if (!nv) {
                free(v);
                closedir(d);
                return SK_ENOMEM;
            }
            v = nv;
        }
        v[n++] = off;
    }
    closedir(d);
    if (n > 1) qsort(v, (size_t)n, sizeof(*v), ts_cmp);
    *out = v;
    *count = n;
    return SK_OK;
}

static void
snapshot_unlink(const char *dir, int64_t offset)
{
    char path[SK_PATH_MAX];
    sk_seg_path(path, sizeof(path), dir, offset, SK_SNAPSHOT_EXT);
    if (unlink(path) != 0 && errno != ENOENT) SK_WARN("event=snapshot_unlink_failed path=%s errno=%d", path, errno);
}

int
sk_pstate_snapshot_write(const sk_pstate_t *ps, const char *dir, int64_t offset, bool do_fsync)
{
    char path[SK_PATH_MAX];
    int64_t *offs = NULL;
    int32_t n = 0;
    size_t cap = SK_SNAPSHOT_HEADER_SIZE + ps->producers.count * SK_SNAPSHOT_ENTRY_SIZE;
    uint8_t *buf = malloc(cap);
    int rc;

    if (!buf) return SK_ENOMEM;
    size_t len = snapshot_encode(ps, buf);
    SK_ASSERT(len == cap);
    sk_seg_path(path, sizeof(path), dir, offset, SK_SNAPSHOT_EXT);
    rc = sk_write_file_atomic(path, buf, len, do_fsync);
    free(buf);
    if (rc != SK_OK) return rc;
    if (snapshot_list(dir, &offs, &n) == SK_OK) {
        for (int32_t i = 0; i + SK_SNAPSHOTS_KEPT < n; i++) snapshot_unlink(dir, offs[i]);
    }
    free(offs);
    return SK_OK;
}

/* ---- loading: snapshot + replay ---- */

/* A marker found while replaying: read its record and apply it. A control batch that
 * is not a transaction marker (or does not parse) is skipped, as Kafka skips unknown
 * control types. */
static int
replay_marker(sk_log_t *log, sk_scan_t *s, int64_t pos, const sk_batch_hdr_t *h)
{
    const uint8_t *p;
    bool commit = false;
    int32_t coord_epoch = -1;
    size_t total = (size_t)h->batch_length + SK_LOG_OVERHEAD;

    if (h->producer_id < 0 || h->producer_epoch < 0 || total > s->cap) return SK_OK;
    int rc = sk_scan_get(s, pos, total, &p);
    if (rc != SK_OK) return rc;
    if (sk_txn_marker_parse(p, total, &commit, &coord_epoch) != SK_OK) {
        SK_WARN("event=unknown_control_batch dir=%s offset=%lld", log->dir, (long long)h->base_offset);
        return SK_OK;
    }
    return sk_txn_marker_apply(log, h->producer_id, h->producer_epoch, commit, coord_epoch, h->base_offset,
                               h->max_timestamp);
}

/* Replay the headers of every batch whose last offset is >= from (and the record of
 * every transaction marker). */
static int
producers_replay(sk_log_t *log, int64_t from)
{
    uint8_t buf[SK_SCAN_BLOCK_BYTES];
    sk_scan_t s;
    sk_batch_hdr_t h;
    int rc = SK_OK;

    for (int32_t i = 0; i < log->seg_count; i++) {
        const sk_seg_t *seg = log->segs[i];
        int64_t pos = 0;
        bool found = true;
        if (seg->next_offset <= from) continue;
        if (seg->base_offset < from) {
            rc = sk_seg_find(seg, from, &pos, &h, &found);
            if (rc != SK_OK) return rc;
            if (!found) continue;
        }
        sk_scan_init(&s, seg->log->fd, seg->size_bytes, buf, sizeof(buf));
        while ((rc = sk_scan_hdr(&s, pos, &h)) == SK_OK) {
            if (h.attributes & SK_ATTR_CONTROL) rc = replay_marker(log, &s, pos, &h);
            else rc = sk_pstate_update(&log->pstate, &h, h.max_timestamp, -1);
            if (rc != SK_OK) return rc;
            pos += (int64_t)h.batch_length + SK_LOG_OVERHEAD;
        }
        if (rc != SK_ENOENT) return rc;
        rc = SK_OK;
    }
    return rc;
}

/* Load the snapshot at offset into a fresh state; SK_ECORRUPT if it does not parse. */
static int
snapshot_load(sk_log_t *log, int64_t offset)
{
    char path[SK_PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    size_t max = SK_SNAPSHOT_HEADER_SIZE + (size_t)SK_PRODUCERS_MAX * SK_SNAPSHOT_ENTRY_SIZE;
    int rc;

    sk_seg_path(path, sizeof(path), log->dir, offset, SK_SNAPSHOT_EXT);
    rc = sk_read_file(path, max, &data, &len);
    if (rc == SK_OK) rc = sk_pstate_snapshot_parse(&log->pstate, (const uint8_t *)data, len);
    free(data);
    if (rc != SK_OK) {
        sk_pstate_deinit(&log->pstate);
        sk_pstate_init(&log->pstate);
    }
    return rc;
}

int
sk_log_producers_load(sk_log_t *log)
{
    int64_t *offs = NULL, from = log->segs[0]->base_offset, valid_below = INT64_MAX;
    int32_t n = 0;
    int rc = sk_txn_index_load(log, &valid_below);

    if (rc != SK_OK) return rc;
    /* The replay re-adds the aborted-transaction entries at and after its start, so it
     * must start at or below a corrupt .txnindex. Entries below a snapshot were fsynced
     * before it was written (sk_log_producers_snapshot). */
    int64_t snap_max = SK_MIN(log->leo, valid_below);
    rc = snapshot_list(log->dir, &offs, &n);
    if (rc != SK_OK) return rc;
    for (int32_t i = n - 1; i >= 0; i--) {
        if (offs[i] > snap_max) {
            if (offs[i] <= log->leo) continue; /* good, but too new to start from */
            /* State of batches that did not survive recovery. */
            SK_WARN("event=snapshot_past_end dir=%s offset=%lld leo=%lld", log->dir, (long long)offs[i],
                    (long long)log->leo);
            snapshot_unlink(log->dir, offs[i]);
            continue;
        }
        if (offs[i] < log->segs[0]->base_offset) break;
        if (snapshot_load(log, offs[i]) == SK_OK) {
            from = offs[i];
            break;
        }
        SK_WARN("event=snapshot_corrupt dir=%s offset=%lld", log->dir, (long long)offs[i]);
        snapshot_unlink(log->dir, offs[i]);
    }
    free(offs);
    rc = sk_txn_index_truncate(log, from);
    if (rc == SK_OK) rc = producers_replay(log, from);
    if (rc == SK_OK && from < log->leo)
        SK_INFO("event=producer_state_rebuilt dir=%s from=%lld to=%lld producers=%zu", log->dir, (long long)from,
                (long long)log->leo, log->pstate.producers.count);
    return rc;
}

int
sk_log_producers_snapshot(sk_log_t *log, bool do_fsync)
{
    /* A snapshot at S lets recovery trust the aborted-transaction entries below S: make
     * them durable first (a no-op unless an abort was indexed since the last flush). */
    int rc = sk_txn_index_sync(log);
    if (rc != SK_OK) return rc;
    return sk_pstate_snapshot_write(&log->pstate, log->dir, log->leo, do_fsync);
}

int
sk_log_producer_get(const sk_log_t *log, int64_t producer_id, int16_t *epoch, int32_t *last_seq)
{
    const sk_pentry_t *e = sk_pstate_get(&log->pstate, producer_id);
    if (!e) return SK_ENOENT;
    *epoch = e->epoch;
    *last_seq = e->batch_count ? e->batches[e->batch_count - 1].last_seq : NO_SEQUENCE;
    return SK_OK;
}

int32_t
sk_log_producer_count(const sk_log_t *log)
{
    return (int32_t)log->pstate.producers.count;
}
