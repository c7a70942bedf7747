/* tests/unit/test_storage_cleaner.c: log compaction on real files in a temporary dir,
 * with a fake clock (every timestamp and "now" is chosen by the test). Checks:
 *  - the newest value of every key survives, older ones go, offsets never change (each
 *    surviving record is byte-equal to what was appended at that offset), records
 *    without a key stay, and sk_log_verify holds after every step;
 *  - tombstones get a delete horizon (attribute bit 6, base timestamp = now +
 *    delete.retention.ms) on the first cleaning and disappear on a cleaning after it;
 *  - min.compaction.lag.ms holds young segments back, max.compaction.lag.ms forces a
 *    cleaning below the dirty ratio, and the dirty ratio is dirty / (clean + dirty);
 *  - compressed batches keep their codec, base offset and last offset delta;
 *  - an idempotent producer's last batch stays as an empty batch when all its records
 *    go, an earlier one is removed;
 *  - a key map too small for the dirty range cleans in several passes;
 *  - a crash (stop) after every step of the swap leaves a directory that opens, passes
 *    verify and reads the same latest value per key;
 *  - the boundary survives a restart (cleaner-offset-checkpoint);
 *  - the cleaner thread, fed through sk_cleaner_poll, compacts a log, and a result whose
 *    segments retention removed meanwhile is dropped;
 *  - transactional batches stay whole and the aborted-transaction index of merged
 *    segments survives the swap and a restart;
 *  - property: random keyed writes, tombstones and keyless records over random segment
 *    sizes, codecs, map sizes and cleaning times match a hash map (env SEED repeats a
 *    run, ROUNDS sets how many seeds, TEST_FILTER=test_property runs only this). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage_int.h"

#define KEYS_MAX 4096
#define WRITES_MAX 20000
static int64_t T0; /* the fake clock starts at the real time: producer expiry uses it */

/* What was appended at each offset, and the newest value per key. */
typedef struct written {
    int32_t key;      /* -1: no key */
    int32_t value;    /* -1: tombstone */
} written_t;

typedef struct model {
    written_t at[WRITES_MAX]; /* by offset */
    int64_t count;
    int32_t latest[KEYS_MAX]; /* -2 never written, -1 tombstone, else value */
} model_t;

typedef struct fixture {
    char dir[64];
    sk_log_config_t cfg;
    model_t *m;
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sk-test-clean-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    sk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = 1200;
    f->cfg.segment_index_bytes = 4096;
    f->cfg.index_interval_bytes = 100;
    f->cfg.compact = true;
    f->cfg.min_cleanable_ratio = 0.0;
    f->cfg.delete_retention_ms = 1000;
    f->m = calloc(1, sizeof(*f->m));
    for (int i = 0; i < KEYS_MAX; i++) f->m->latest[i] = -2;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s %s-img", f->dir, f->dir);
    assert_int_equal(system(cmd), 0);
    free(f->m);
    free(f);
    return 0;
}

static void
reset_model(model_t *m)
{
    m->count = 0;
    for (int i = 0; i < KEYS_MAX; i++) m->latest[i] = -2;
}

/* ---- writing ---- */

typedef struct wbatch {
    sk_codec_t codec;
    int64_t producer_id;
    int16_t epoch;
    int32_t seq;
} wbatch_t;

/* Append one batch: keys[i] (-1 none) with values[i] (-1 tombstone), timestamp ts. */
static int64_t
append_kv(sk_log_t *log, model_t *m, const wbatch_t *wb, const int32_t *keys, const int32_t *values, int n,
          int64_t ts)
{
    char kbuf[64][16], vbuf[64][24];
    sk_record_t recs[64];
    sk_batch_spec_t spec = {.codec = wb ? wb->codec : SK_CODEC_NONE,
                            .producer_id = wb && wb->producer_id >= 0 ? wb->producer_id : -1,
                            .producer_epoch = wb && wb->producer_id >= 0 ? wb->epoch : -1,
                            .base_sequence = wb && wb->producer_id >= 0 ? wb->seq : -1};
    uint8_t *b;
    size_t len;
    sk_append_info_t info;

    assert_true(n > 0 && n <= 64);
    for (int i = 0; i < n; i++) {
        int kl = keys[i] >= 0 ? snprintf(kbuf[i], sizeof(kbuf[i]), "key-%05d", keys[i]) : -1;
        int vl = values[i] >= 0 ? snprintf(vbuf[i], sizeof(vbuf[i]), "value-%d-%d", keys[i], values[i]) : -1;
        recs[i] = (sk_record_t){.timestamp = ts + i,
                                .key = {(const uint8_t *)kbuf[i], kl},
                                .value = {(const uint8_t *)vbuf[i], vl}};
    }
    assert_int_equal(sk_batch_build(&spec, recs, n, &b, &len), SK_OK);
    assert_int_equal(sk_log_append(log, b, len, 0, ts, &info), SK_OK);
    free(b);
    assert_int_equal(info.base_offset, m->count);
    for (int i = 0; i < n; i++) {
        assert_true(m->count < WRITES_MAX);
        m->at[m->count++] = (written_t){keys[i], values[i]};
        if (keys[i] >= 0) m->latest[keys[i]] = values[i];
    }
    sk_log_set_high_watermark(log, sk_log_end_offset(log));
    sk_log_verify(log);
    return info.base_offset;
}

/* n single-key updates (batches of `per` records) over `keys` keys, value = counter. */
static void
append_updates(sk_log_t *log, model_t *m, int n, int keys, int per, int64_t ts, sk_codec_t codec)
{
    static int counter;
    int32_t k[64], v[64];
    wbatch_t wb = {.codec = codec, .producer_id = -1};
    for (int done = 0; done < n;) {
        int c = SK_MIN(per, n - done);
        for (int i = 0; i < c; i++) {
            k[i] = (done + i) % keys;
            v[i] = ++counter;
        }
        append_kv(log, m, &wb, k, v, c, ts);
        done += c;
    }
}

/* ---- reading everything back ---- */

typedef struct readback {
    const model_t *m;
    int32_t latest[KEYS_MAX];  /* as read: -2 absent, -1 tombstone */
    int64_t last_offset;
    int64_t records, keyless;
    int32_t batches, empty_batches, horizon_batches;
    int64_t min_horizon;
    int32_t codecs[8];
} readback_t;

static int32_t
parse_num(const uint8_t *p, int32_t len, const char *prefix)
{
    char tmp[32];
    size_t pl = strlen(prefix);
    assert_true(len > (int32_t)pl && len < (int32_t)sizeof(tmp));
    memcpy(tmp, p, (size_t)len);
    tmp[len] = '\0';
    assert_memory_equal(tmp, prefix, pl);
    return (int32_t)strtol(tmp + pl, NULL, 10);
}

static int
read_rec_cb(void *ctx, const sk_record_t *r)
{
    readback_t *rb = ctx;
    assert_true(r->offset > rb->last_offset);
    assert_true(r->offset < rb->m->count);
    rb->last_offset = r->offset;
    rb->records++;
    const written_t *w = &rb->m->at[r->offset];
    /* Offsets preserved: the record at this offset is the one written there. */
    if (w->key < 0) {
        assert_int_equal(r->key.len, -1);
        rb->keyless++;
    } else {
        assert_int_equal(parse_num(r->key.ptr, r->key.len, "key-"), w->key);
    }
    if (w->value < 0) {
        assert_int_equal(r->value.len, -1);
    } else {
        char want[32];
        int n = snprintf(want, sizeof(want), "value-%d-%d", w->key, w->value);
        assert_int_equal(r->value.len, n);
        assert_memory_equal(r->value.ptr, want, (size_t)n);
    }
    if (w->key >= 0) rb->latest[w->key] = w->value;
    return SK_OK;
}

static void
read_all(sk_log_t *log, const model_t *m, readback_t *rb)
{
    int64_t offset = sk_log_start_offset(log), leo = sk_log_end_offset(log);
    memset(rb, 0, sizeof(*rb));
    rb->m = m;
    rb->last_offset = -1;
    rb->min_horizon = -1;
    for (int i = 0; i < KEYS_MAX; i++) rb->latest[i] = -2;
    while (offset < leo) {
        sk_log_slice_t s;
        assert_int_equal(sk_log_read(log, offset, 1 << 20, leo, true, &s), SK_OK);
        assert_true(s.len > 0);
        uint8_t *buf = malloc((size_t)s.len);
        assert_int_equal(pread(s.file->fd, buf, (size_t)s.len, s.pos), s.len);
        for (int32_t pos = 0; pos < s.len;) {
            sk_batch_hdr_t h;
            assert_int_equal(sk_batch_hdr_parse(buf + pos, (size_t)(s.len - pos), &h), SK_OK);
            size_t total = (size_t)h.batch_length + SK_LOG_OVERHEAD;
            assert_true(sk_batch_crc_ok(buf + pos, total));
            assert_true(h.base_offset >= offset || pos > 0);
            rb->batches++;
            rb->codecs[h.attributes & SK_ATTR_CODEC_MASK]++;
            if (h.records_count == 0) rb->empty_batches++;
            if (h.attributes & SK_ATTR_DELETE_HORIZON) {
                rb->horizon_batches++;
                if (rb->min_horizon < 0 || h.base_timestamp < rb->min_horizon) rb->min_horizon = h.base_timestamp;
            }
            assert_int_equal(sk_batch_foreach_record(buf + pos, total, 1 << 26, read_rec_cb, rb), SK_OK);
            offset = h.base_offset + h.last_offset_delta + 1;
            pos += (int32_t)total;
        }
        free(buf);
        sk_log_slice_release(&s);
    }
}

/* The newest value of every key equals the model's; a tombstoned key reads as a
 * tombstone or not at all. */
static void
check_latest(sk_log_t *log, const model_t *m, readback_t *rb)
{
    sk_log_verify(log);
    read_all(log, m, rb);
    for (int k = 0; k < KEYS_MAX; k++) {
        if (m->latest[k] == -1) assert_true(rb->latest[k] == -1 || rb->latest[k] == -2);
        else assert_int_equal(rb->latest[k], m->latest[k]);
    }
}

static sk_clean_opts_t
opts_at(int64_t now_ms)
{
    return (sk_clean_opts_t){.now_ms = now_ms, .map_bytes = 1 << 20, .io_buffer_bytes = 64 << 10,
                             .swap_stop_step = -1};
}

static sk_log_t *
make_log(fixture_t *f, sk_logmgr_t **mgr)
{
    sk_log_t *log;
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, mgr), SK_OK);
    assert_int_equal(sk_logmgr_create(*mgr, "c", 0, NULL, &f->cfg, &log), SK_OK);
    return log;
}

/* ---- tests ---- */

static void
test_compact_basic(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log = make_log(f, &mgr);
    sk_clean_stats_t st;
    readback_t rb;

    append_updates(log, f->m, 600, 20, 4, T0, SK_CODEC_NONE);
    int32_t keyless_k[2] = {-1, -1}, keyless_v[2] = {7, 8};
    append_kv(log, f->m, NULL, keyless_k, keyless_v, 2, T0);
    append_updates(log, f->m, 200, 20, 3, T0, SK_CODEC_NONE);
    int32_t segs_before = sk_log_segment_count(log);
    int64_t size_before = sk_log_size_bytes(log);
    int64_t leo = sk_log_end_offset(log);
    assert_true(segs_before > 10);

    assert_int_equal(sk_log_clean(log, &(sk_clean_opts_t){.now_ms = T0, .map_bytes = 1 << 20,
                                                           .io_buffer_bytes = 4096, .swap_stop_step = -1},
                                  &st),
                     SK_OK);
    check_latest(log, f->m, &rb);
    assert_int_equal(rb.keyless, 2);
    assert_int_equal(sk_log_end_offset(log), leo);
    assert_true(sk_log_size_bytes(log) < size_before / 2);
    assert_true(sk_log_segment_count(log) < segs_before);
    assert_true(st.records_removed > 600);
    /* Every key appears once in the sealed part at most: at most 20 keyed records there
     * plus those of the active segment. */
    assert_true(rb.records - rb.keyless <= 20 + 200);
    /* Nothing new is dirty: a second cleaning has nothing to do. */
    assert_int_equal(sk_log_clean(log, &(sk_clean_opts_t){.now_ms = T0, .map_bytes = 1 << 20,
                                                           .swap_stop_step = -1},
                                  NULL),
                     SK_ENOENT);
    int64_t clean_offset = sk_log_clean_offset(log);
    assert_true(clean_offset > 0);
    /* The boundary and the data survive a restart. */
    sk_logmgr_close(mgr);
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    log = sk_logmgr_get(mgr, "c", 0);
    sk_log_set_config(log, &f->cfg);
    assert_int_equal(sk_log_clean_offset(log), clean_offset);
    check_latest(log, f->m, &rb);
    sk_logmgr_close(mgr);
}

static void
test_tombstone_horizon(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log = make_log(f, &mgr);
    sk_clean_opts_t o;
    sk_clean_check_t ck;
    readback_t rb;

    append_updates(log, f->m, 200, 10, 5, T0, SK_CODEC_NONE);
    for (int k = 0; k < 5; k++) { /* delete keys 0..4 */
        int32_t key = k, val = -1;
        append_kv(log, f->m, NULL, &key, &val, 1, T0 + 10);
    }
    append_updates(log, f->m, 100, 5, 5, T0 + 20, SK_CODEC_NONE); /* keys 0..4 written again */
    /* ... and deleted once more, so they end deleted */
    for (int k = 0; k < 5; k++) {
        int32_t key = k, val = -1;
        append_kv(log, f->m, NULL, &key, &val, 1, T0 + 30);
    }
    int32_t filler_k[8], filler_v[8];
    for (int i = 0; i < 40; i++) { /* keys 100.. push the tombstones out of the active segment */
        for (int j = 0; j < 8; j++) filler_k[j] = 100 + j, filler_v[j] = i;
        append_kv(log, f->m, NULL, filler_k, filler_v, 8, T0 + 40);
    }
    int64_t now = T0 + 1000;
    o = opts_at(now);
    assert_int_equal(sk_log_clean(log, &o, NULL), SK_OK);
    check_latest(log, f->m, &rb);
    /* The tombstones are still there, their batches carry the horizon. */
    int tomb_seen = 0;
    for (int k = 0; k < 5; k++) tomb_seen += rb.latest[k] == -1;
    assert_int_equal(tomb_seen, 5);
    assert_true(rb.horizon_batches > 0);
    assert_int_equal(rb.min_horizon, now + f->cfg.delete_retention_ms);
    /* Before the horizon nothing is cleanable (nothing dirty) and a forced cleaning
     * keeps them. */
    sk_log_clean_check(log, now + f->cfg.delete_retention_ms - 1, &ck);
    assert_false(ck.cleanable);
    /* At the horizon the log becomes cleanable and the tombstones go. */
    sk_log_clean_check(log, now + f->cfg.delete_retention_ms, &ck);
    assert_true(ck.cleanable);
    o = opts_at(now + f->cfg.delete_retention_ms);
    assert_int_equal(sk_log_clean(log, &o, NULL), SK_OK);
    check_latest(log, f->m, &rb);
    for (int k = 0; k < 5; k++) assert_int_equal(rb.latest[k], -2);
    for (int k = 5; k < 10; k++) assert_int_equal(rb.latest[k], f->m->latest[k]);
    sk_logmgr_close(mgr);
}

static void
test_lags_and_ratio(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log;
    sk_clean_check_t ck;
    readback_t rb;

    f->cfg.min_compaction_lag_ms = 5000;
    log = make_log(f, &mgr);
    append_updates(log, f->m, 100, 10, 5, T0, SK_CODEC_NONE);        /* old */
    int64_t old_end = sk_log_end_offset(log);
    append_updates(log, f->m, 100, 10, 5, T0 + 10000, SK_CODEC_NONE); /* young */
    /* At T0 + 12000 only segments whose newest record is <= T0 + 7000 may be cleaned. */
    sk_log_clean_check(log, T0 + 12000, &ck);
    assert_true(ck.cleanable);
    assert_true(ck.first_uncleanable <= old_end + 5);
    assert_true(ck.first_uncleanable >= old_end - 40);
    sk_clean_opts_t o = opts_at(T0 + 12000);
    assert_int_equal(sk_log_clean(log, &o, NULL), SK_OK);
    check_latest(log, f->m, &rb);
    /* Records past the lag are all still there. */
    assert_true(rb.records >= 100);
    /* Once the young ones age, they go as well. */
    o = opts_at(T0 + 20000);
    assert_int_equal(sk_log_clean(log, &o, NULL), SK_OK);
    check_latest(log, f->m, &rb);
    assert_true(rb.records < 100);

    /* Dirty ratio: sizes of the sealed segments below and above the boundary. */
    f->cfg.min_compaction_lag_ms = 0;
    f->cfg.min_cleanable_ratio = 0.99;
    sk_log_set_config(log, &f->cfg);
    int64_t clean_bytes = sk_log_size_bytes(log) - log->segs[log->seg_count - 1]->size_bytes;
    append_updates(log, f->m, 100, 10, 5, T0 + 30000, SK_CODEC_NONE);
    int64_t dirty_bytes = sk_log_size_bytes(log) - log->segs[log->seg_count - 1]->size_bytes - clean_bytes;
    sk_log_clean_check(log, T0 + 40000, &ck);
    assert_true(dirty_bytes > 0);
    assert_int_equal(ck.clean_bytes, clean_bytes);
    assert_int_equal(ck.dirty_bytes, dirty_bytes);
    assert_true(ck.dirty_ratio > (double)dirty_bytes / (double)(clean_bytes + dirty_bytes) - 1e-9);
    assert_true(ck.dirty_ratio < (double)dirty_bytes / (double)(clean_bytes + dirty_bytes) + 1e-9);
    assert_false(ck.cleanable); /* below 0.99 */
    /* max.compaction.lag.ms: due once the first dirty segment's first batch is older
     * than the lag. That segment was the active one at the last cleaning: its first
     * batch is one of the young ones (T0 + 10000 .. T0 + 10004). */
    f->cfg.max_compaction_lag_ms = 60000;
    sk_log_set_config(log, &f->cfg);
    sk_log_clean_check(log, T0 + 10000 + 59000, &ck);
    assert_false(ck.cleanable);
    sk_log_clean_check(log, T0 + 10004 + 60001, &ck);
    assert_true(ck.cleanable);
    o = opts_at(T0 + 10004 + 60001);
    assert_int_equal(sk_log_clean(log, &o, NULL), SK_OK);
    check_latest(log, f->m, &rb);
    /* Compaction off: never cleanable. */
    f->cfg.compact = false;
    sk_log_set_config(log, &f->cfg);
    append_updates(log, f->m, 100, 10, 5, T0 + 100000, SK_CODEC_NONE);
    sk_log_clean_check(log, T0 + 200000, &ck);
    assert_false(ck.cleanable);
    sk_logmgr_close(mgr);
}

/* Batch layout of every batch in the log: base offset -> (last offset delta, codec). */
typedef struct layout {
    int64_t base[WRITES_MAX];
    int32_t delta[WRITES_MAX];
    int32_t count;
} layout_t;

static void
batches_of(sk_log_t *log, layout_t *lay, int32_t *codec_seen)
{
    lay->count = 0;
    for (int32_t i = 0; i < log->seg_count; i++) {
        const sk_seg_t *seg = log->segs[i];
        for (int64_t pos = 0; pos < seg->size_bytes;) {
            uint8_t hb[SK_BATCH_HEADER_SIZE];
            sk_batch_hdr_t h;
            assert_int_equal(pread(seg->log->fd, hb, sizeof(hb), pos), (ssize_t)sizeof(hb));
            assert_int_equal(sk_batch_hdr_parse(hb, sizeof(hb), &h), SK_OK);
            lay->base[lay->count] = h.base_offset;
            lay->delta[lay->count++] = h.last_offset_delta;
            if (codec_seen && h.records_count > 0) codec_seen[h.attributes & SK_ATTR_CODEC_MASK]++;
            pos += h.batch_length + SK_LOG_OVERHEAD;
        }
    }
}

static void
test_compressed(void **state)
{
    static const sk_codec_t codecs[] = {SK_CODEC_GZIP, SK_CODEC_SNAPPY, SK_CODEC_LZ4, SK_CODEC_ZSTD};
    fixture_t *f = *state;
    readback_t rb;

    f->cfg.segment_bytes = 3000;
    for (size_t c = 0; c < SK_ARRAY_LEN(codecs); c++) {
        sk_logmgr_t *mgr;
        char cmd[160];
        static layout_t before, after;
        int32_t seen[8] = {0};
        snprintf(cmd, sizeof(cmd), "rm -rf %s/*", f->dir);
        assert_int_equal(system(cmd), 0);
        reset_model(f->m);
        sk_log_t *log = make_log(f, &mgr);
        append_updates(log, f->m, 400, 30, 7, T0, codecs[c]); /* 7 records per batch */
        batches_of(log, &before, NULL);
        sk_clean_opts_t o = opts_at(T0);
        assert_int_equal(sk_log_clean(log, &o, NULL), SK_OK);
        check_latest(log, f->m, &rb);
        batches_of(log, &after, seen);
        /* Kept batches keep their base offset and last offset delta. */
        int32_t j = 0;
        for (int32_t i = 0; i < after.count; i++) {
            while (j < before.count && before.base[j] < after.base[i]) j++;
            assert_true(j < before.count);
            assert_int_equal(before.base[j], after.base[i]);
            assert_int_equal(before.delta[j], after.delta[i]);
        }
        assert_true(after.count < before.count);
        /* The rebuilt batches are still compressed with the same codec. */
        for (int k = 0; k < 8; k++)
            if (k != (int)codecs[c]) assert_int_equal(seen[k], 0);
        assert_true(seen[codecs[c]] > 0);
        sk_logmgr_close(mgr);
    }
}

static void
test_producer_last_batch(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log = make_log(f, &mgr);
    readback_t rb;
    wbatch_t p = {.codec = SK_CODEC_NONE, .producer_id = 4242, .epoch = 3, .seq = 0};
    int32_t k[2] = {1, 2}, v[2] = {1, 1};

    append_kv(log, f->m, &p, k, v, 2, T0);      /* producer batch 1, superseded below */
    p.seq = 2;
    v[0] = v[1] = 2;
    int64_t last_base = append_kv(log, f->m, &p, k, v, 2, T0); /* its last batch */
    append_updates(log, f->m, 300, 3, 3, T0, SK_CODEC_NONE);   /* keys 0..2 overwritten */
    int32_t epoch_before_seq;
    int16_t epoch_before;
    assert_int_equal(sk_log_producer_get(log, 4242, &epoch_before, &epoch_before_seq), SK_OK);
    sk_clean_opts_t o = opts_at(T0);
    assert_int_equal(sk_log_clean(log, &o, NULL), SK_OK);
    check_latest(log, f->m, &rb);
    /* Batch 1 is gone, batch 2 stays empty with its producer fields. */
    bool found_last = false, found_first = false;
    for (int32_t i = 0; i < log->seg_count; i++) {
        const sk_seg_t *seg = log->segs[i];
        for (int64_t pos = 0; pos < seg->size_bytes;) {
            uint8_t hb[SK_BATCH_HEADER_SIZE];
            sk_batch_hdr_t h;
            assert_int_equal(pread(seg->log->fd, hb, sizeof(hb), pos), (ssize_t)sizeof(hb));
            assert_int_equal(sk_batch_hdr_parse(hb, sizeof(hb), &h), SK_OK);
            if (h.producer_id == 4242 && h.base_offset == last_base) {
                found_last = true;
                assert_int_equal(h.records_count, 0);
                assert_int_equal(h.last_offset_delta, 1);
                assert_int_equal(h.base_sequence, 2);
                assert_int_equal(h.producer_epoch, 3);
            } else if (h.producer_id == 4242) {
                found_first = true;
            }
            pos += h.batch_length + SK_LOG_OVERHEAD;
        }
    }
    assert_true(found_last);
    assert_false(found_first);
    /* After a restart that rebuilds the producer state from the log, the producer is
     * known with its last sequence. */
    sk_logmgr_close(mgr);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -f %s/c-0/*.snapshot", f->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    log = sk_logmgr_get(mgr, "c", 0);
    int16_t epoch;
    int32_t last_seq;
    assert_int_equal(sk_log_producer_get(log, 4242, &epoch, &last_seq), SK_OK);
    assert_int_equal(epoch, 3);
    assert_int_equal(last_seq, 3);
    sk_logmgr_close(mgr);
}

static void
test_map_full_passes(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    f->cfg.segment_bytes = 4000;
    sk_log_t *log = make_log(f, &mgr);
    readback_t rb;
    int passes = 0;
    int64_t prev = -1;

    append_updates(log, f->m, 2500, 2500, 10, T0, SK_CODEC_NONE); /* 2500 distinct keys */
    append_updates(log, f->m, 2500, 2500, 10, T0, SK_CODEC_NONE); /* each once more */
    /* The smallest map holds ~900 keys: several passes, each moving the boundary. */
    sk_clean_opts_t o = {.now_ms = T0, .map_bytes = 0, .io_buffer_bytes = 0, .swap_stop_step = -1};
    for (int rc; (rc = sk_log_clean(log, &o, NULL)) == SK_OK;) {
        passes++;
        assert_true(sk_log_clean_offset(log) > prev);
        prev = sk_log_clean_offset(log);
        check_latest(log, f->m, &rb);
        assert_true(passes < 50);
    }
    assert_true(passes >= 3);
    check_latest(log, f->m, &rb);
    assert_true(rb.records <= 2500 + 600);
    sk_logmgr_close(mgr);
}

/* Copy the data dir as a crash would leave it (no clean-shutdown marker). */
static void
crash_image(const fixture_t *f, char *img, size_t cap)
{
    char cmd[512];
    snprintf(img, cap, "%s-img", f->dir);
    snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s %s", img, f->dir, img);
    assert_int_equal(system(cmd), 0);
}

static int
count_files_with(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) n += strstr(de->d_name, needle) != NULL;
    closedir(d);
    return n;
}

static void
test_swap_crash_every_step(void **state)
{
    fixture_t *f = *state;
    readback_t rb;
    int32_t step;
    bool completed = false;

    for (step = 1; step < 2000 && !completed; step++) {
        sk_logmgr_t *mgr, *img_mgr;
        char cmd[160], img[96], pdir[256];
        snprintf(cmd, sizeof(cmd), "rm -rf %s/*", f->dir);
        assert_int_equal(system(cmd), 0);
        reset_model(f->m);
        sk_log_t *log = make_log(f, &mgr);
        append_updates(log, f->m, 300, 12, 4, T0, SK_CODEC_NONE);
        int32_t tk = 3, tv = -1;
        append_kv(log, f->m, NULL, &tk, &tv, 1, T0);
        append_updates(log, f->m, 60, 5, 4, T0, SK_CODEC_LZ4);
        sk_log_flush(log);
        sk_logmgr_checkpoint(mgr);
        sk_clean_opts_t o = opts_at(T0);
        o.swap_stop_step = step;
        int rc = sk_log_clean(log, &o, NULL);
        if (rc == SK_OK) {
            completed = true;
        } else {
            assert_int_equal(rc, SK_AGAIN);
        }
        crash_image(f, img, sizeof(img));
        sk_logmgr_close(mgr);
        /* The crashed image opens (recovery finishes or undoes the swap) and reads the
         * same newest values. */
        assert_int_equal(sk_logmgr_open(img, &f->cfg, &img_mgr), SK_OK);
        sk_log_t *il = sk_logmgr_get(img_mgr, "c", 0);
        assert_non_null(il);
        check_latest(il, f->m, &rb);
        assert_int_equal(sk_log_end_offset(il), f->m->count);
        snprintf(pdir, sizeof(pdir), "%s/c-0", img);
        assert_int_equal(count_files_with(pdir, ".cleaned"), 0);
        assert_int_equal(count_files_with(pdir, ".swap"), 0);
        /* And it can be cleaned (again) from there. */
        sk_log_set_config(il, &f->cfg);
        o.swap_stop_step = -1;
        rc = sk_log_clean(il, &o, NULL);
        assert_true(rc == SK_OK || rc == SK_ENOENT);
        check_latest(il, f->m, &rb);
        sk_logmgr_close(img_mgr);
    }
    assert_true(completed);
    assert_true(step > 8); /* renames, unlinks and directory syncs were all visited */
}

static void
test_cleaner_thread(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log = make_log(f, &mgr);
    sk_cleaner_t *c;
    sk_clean_stats_t tot;
    readback_t rb;

    append_updates(log, f->m, 800, 25, 4, T0, SK_CODEC_NONE);
    int64_t size_before = sk_log_size_bytes(log);
    sk_cleaner_options_t co = {.dedupe_buffer_bytes = 1 << 20, .io_buffer_bytes = 1 << 16, .backoff_ms = 0,
                               .threaded = true};
    assert_int_equal(sk_cleaner_new(mgr, &co, &c), SK_OK);
    int32_t installed = 0;
    for (int i = 0; i < 500 && installed == 0; i++) {
        installed += sk_cleaner_poll(c, T0);
        if (!installed) usleep(10000);
        sk_log_verify(log);
    }
    assert_int_equal(installed, 1);
    sk_cleaner_totals(c, &tot);
    assert_true(tot.bytes_read > 0 && tot.bytes_written < tot.bytes_read);
    check_latest(log, f->m, &rb);
    assert_true(sk_log_size_bytes(log) < size_before);
    /* A log that retention shrinks while its task is out: the result is dropped. */
    append_updates(log, f->m, 400, 25, 4, T0, SK_CODEC_NONE);
    int32_t deleted = 0;
    assert_int_equal(sk_cleaner_poll(c, T0 + 1), 0); /* hands the task out */
    assert_int_equal(sk_log_retention(log, T0, -1, 1, &deleted), SK_OK);
    assert_true(deleted > 0);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(sk_cleaner_poll(c, T0 + 2), 0);
        usleep(5000);
    }
    sk_log_verify(log);
    sk_cleaner_free(c);
    char pdir[160];
    snprintf(pdir, sizeof(pdir), "%s/c-0", f->dir);
    assert_int_equal(count_files_with(pdir, ".cleaned"), 0);
    sk_logmgr_close(mgr);
}

static void
aborted_cb(void *ctx, int64_t producer_id, int64_t first_offset)
{
    int64_t *v = ctx;
    v[0]++;
    v[1] = producer_id;
    v[2] = first_offset;
}

/* Transactional batches and markers stay as they are, and the aborted-transaction
 * index of merged segments survives the swap and a restart. */
static void
test_transactions_kept(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log = make_log(f, &mgr);
    sk_append_info_t info;
    char kb[16], vb[16];
    sk_record_t recs[4];
    uint8_t *b;
    size_t len;

    append_updates(log, f->m, 100, 4, 4, T0, SK_CODEC_NONE);
    /* An aborted transaction writing keys 0..3, which later updates supersede. */
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .attributes_extra = SK_ATTR_TRANSACTIONAL, .producer_id = 777,
                            .producer_epoch = 0, .base_sequence = 0};
    for (int i = 0; i < 4; i++) {
        snprintf(kb, sizeof(kb), "key-%05d", i);
        snprintf(vb, sizeof(vb), "aborted");
        recs[i] = (sk_record_t){.timestamp = T0, .key = {(const uint8_t *)strdup(kb), 9},
                                .value = {(const uint8_t *)strdup(vb), 7}};
    }
    assert_int_equal(sk_batch_build(&spec, recs, 4, &b, &len), SK_OK);
    for (int i = 0; i < 4; i++) free((void *)recs[i].key.ptr), free((void *)recs[i].value.ptr);
    assert_int_equal(sk_log_append(log, b, len, 0, T0, &info), SK_OK);
    free(b);
    int64_t txn_first = info.base_offset;
    f->m->count += 4; /* not in the model's values: checked separately below */
    assert_int_equal(sk_log_append_marker(log, 777, 0, false, 0, 0, T0, &info), SK_OK);
    f->m->count += 1;
    sk_log_set_high_watermark(log, sk_log_end_offset(log));
    /* Much more data so the transaction's segment is sealed and merged with others. */
    for (int64_t i = txn_first; i < txn_first + 5; i++) f->m->at[i] = (written_t){-1, -1};
    append_updates(log, f->m, 300, 4, 4, T0, SK_CODEC_NONE);
    sk_clean_opts_t o = opts_at(T0);
    assert_int_equal(sk_log_clean(log, &o, NULL), SK_OK);
    sk_log_verify(log);
    int64_t seen[3] = {0};
    assert_int_equal(sk_log_aborted_txns(log, 0, sk_log_end_offset(log), aborted_cb, seen), SK_OK);
    assert_int_equal(seen[0], 1);
    sk_logmgr_close(mgr);
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    log = sk_logmgr_get(mgr, "c", 0);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(sk_log_aborted_txns(log, 0, sk_log_end_offset(log), aborted_cb, seen), SK_OK);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 777);
    assert_int_equal(seen[2], txn_first);
    /* The transactional batch is still there, whole. */
    sk_log_slice_t sl;
    assert_int_equal(sk_log_read(log, txn_first, 1 << 20, sk_log_end_offset(log), true, &sl), SK_OK);
    uint8_t hb[SK_BATCH_HEADER_SIZE];
    sk_batch_hdr_t h;
    assert_int_equal(pread(sl.file->fd, hb, sizeof(hb), sl.pos), (ssize_t)sizeof(hb));
    sk_log_slice_release(&sl);
    assert_int_equal(sk_batch_hdr_parse(hb, sizeof(hb), &h), SK_OK);
    assert_int_equal(h.base_offset, txn_first);
    assert_int_equal(h.records_count, 4);
    assert_true(h.attributes & SK_ATTR_TRANSACTIONAL);
    sk_logmgr_close(mgr);
}

/* ---- property test ---- */

static uint64_t rng_state;
static uint32_t
rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? (uint32_t)(rng_state % n) : 0;
}

static void
prop_round(fixture_t *f, uint64_t seed)
{
    static const sk_codec_t codecs[] = {SK_CODEC_NONE, SK_CODEC_NONE, SK_CODEC_GZIP, SK_CODEC_LZ4, SK_CODEC_ZSTD,
                                        SK_CODEC_SNAPPY};
    sk_logmgr_t *mgr;
    readback_t rb;
    char cmd[160];

    rng_state = seed * 2654435761ULL + 1;
    snprintf(cmd, sizeof(cmd), "rm -rf %s/*", f->dir);
    assert_int_equal(system(cmd), 0);
    reset_model(f->m);
    f->cfg.segment_bytes = 300 + rnd(3000);
    f->cfg.index_interval_bytes = 50 + (int32_t)rnd(500);
    f->cfg.delete_retention_ms = rnd(3) * 500;
    f->cfg.min_cleanable_ratio = rnd(2) ? 0.0 : 0.5;
    sk_log_t *log = make_log(f, &mgr);
    int keys = 1 + (int)rnd(300), ops = 200 + (int)rnd(1500);
    int64_t now = T0;
    int32_t k[16], v[16];
    for (int done = 0; done < ops;) {
        int n = 1 + (int)rnd(8);
        wbatch_t wb = {.codec = codecs[rnd(SK_ARRAY_LEN(codecs))], .producer_id = -1};
        for (int i = 0; i < n; i++) {
            uint32_t r = rnd(100);
            k[i] = r < 3 ? -1 : (int32_t)rnd((uint32_t)keys);
            v[i] = (r >= 3 && r < 15) ? -1 : done + i;
        }
        now += rnd(50);
        append_kv(log, f->m, &wb, k, v, n, now);
        done += n;
        if (rnd(40) == 0) {
            sk_clean_opts_t o = {.now_ms = now, .map_bytes = rnd(2) ? 0 : 1 << 20,
                                 .io_buffer_bytes = (int32_t)rnd(1 << 16), .swap_stop_step = -1};
            int rc = sk_log_clean(log, &o, NULL);
            assert_true(rc == SK_OK || rc == SK_ENOENT);
            check_latest(log, f->m, &rb);
        }
    }
    /* Clean until nothing is left to do, far past every horizon. */
    for (int i = 0; i < 30; i++) {
        sk_clean_opts_t o = {.now_ms = now + 100000, .map_bytes = 0, .swap_stop_step = -1};
        int rc = sk_log_clean(log, &o, NULL);
        assert_true(rc == SK_OK || rc == SK_ENOENT);
        check_latest(log, f->m, &rb);
        if (rc == SK_ENOENT) break;
    }
    /* Keyless records are all kept. */
    int64_t keyless = 0;
    for (int64_t i = 0; i < f->m->count; i++) keyless += f->m->at[i].key < 0;
    assert_int_equal(rb.keyless, keyless);
    sk_logmgr_close(mgr);
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    check_latest(sk_logmgr_get(mgr, "c", 0), f->m, &rb);
    sk_logmgr_close(mgr);
}

static void
test_property(void **state)
{
    fixture_t *f = *state;
    const char *env = getenv("SEED"), *n = getenv("ROUNDS");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    int rounds = n ? atoi(n) : env ? 1 : 25;
    for (int i = 0; i < rounds; i++) {
        print_message("cleaner property seed=%llu\n", (unsigned long long)(seed + (uint64_t)i));
        prop_round(f, seed + (uint64_t)i);
    }
}

int
main(void)
{
    T0 = sk_wall_ms();
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER")); /* e.g. test_property */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compact_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_horizon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lags_and_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_last_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_crash_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleaner_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
