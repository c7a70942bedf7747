/* tests/unit/test_storage_txn.c: the transactional side of a partition log, on real
 * files in a fresh /tmp directory.
 *  - last stable offset with interleaved transactions of several producers, plain and
 *    idempotent writes between them, commit and abort markers, capped by the high
 *    watermark;
 *  - the producer checks: a plain write inside an open transaction, a marker from an
 *    older producer epoch or an older coordinator epoch;
 *  - the marker batch as written (read back from the .log: attributes, producer fields,
 *    base sequence -1, the control record's key and value);
 *  - aborted-transaction index: lookups by range across several segments, the
 *    .txnindex files read back byte by byte (Kafka's AbortedTxn layout), their removal by
 *    retention, and the same answers after a clean reopen, after a kill (the directory
 *    copied while the log is open, then recovered), after a torn tail that cuts an abort
 *    marker (the transaction is open again and its entry is gone from memory and file),
 *    and with a .txnindex that was lost or corrupted (rebuilt from the log);
 *  - read_committed reads: sk_log_read capped at the LSO never splits a batch, and the
 *    slice's next_offset bounds the aborted list;
 *  - producer-state snapshot round trip with ongoing transactions (first offset and
 *    coordinator epoch in Kafka's snapshot fields).
 * Expected values come from the offsets the test itself wrote, not from the code. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/storage_int.h"

#define KERR_TXN_COORDINATOR_FENCED 52

typedef struct fixture {
    char dir[64];
    char pdir[128];
    char copy[128];
    sk_log_config_t cfg;
} fixture_t;

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-txn-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->pdir, sizeof(f->pdir), "%s/t-0", f->dir);
    snprintf(f->copy, sizeof(f->copy), "%s/c-0", f->dir);
    sk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = 1 << 20;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static sk_log_t *
log_new(fixture_t *f)
{
    sk_log_t *log = NULL;
    assert_int_equal(sk_log_create_new(f->pdir, "t", 0, NULL, &f->cfg, &log), SK_OK);
    return log;
}

static sk_log_t *
log_open_dir(fixture_t *f, const char *dir, bool clean, int64_t recovery_point)
{
    sk_log_t *log = NULL;
    sk_log_open_args_t a = {.dir = dir, .topic = "t", .partition = 0, .cfg = &f->cfg, .clean = clean,
                            .recovery_point = recovery_point, .start_offset = -1, .hw = -1};
    assert_int_equal(sk_log_open(&a, &log), SK_OK);
    sk_log_set_high_watermark(log, sk_log_end_offset(log));
    sk_log_verify(log);
    return log;
}

/* A kill: every write reached the page cache, nothing was closed. */
static void
copy_dir(const fixture_t *f)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", f->copy, f->pdir, f->copy);
    assert_int_equal(system(cmd), 0);
}

/* Append n records of (pid, epoch) from seq; transactional or not. Returns the rc. */
static int
produce(sk_log_t *log, int64_t pid, int16_t epoch, int32_t seq, int32_t n, bool txn, sk_append_info_t *info)
{
    sk_record_t recs[8];
    uint8_t value[40];
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .attributes_extra = txn ? SK_ATTR_TRANSACTIONAL : 0,
                            .producer_id = pid, .producer_epoch = epoch, .base_sequence = seq,
                            .partition_leader_epoch = -1};
    uint8_t *b = NULL;
    size_t len;

    assert_true(n <= 8);
    memset(value, 'v', sizeof(value));
    memset(recs, 0, sizeof(recs));
    for (int32_t i = 0; i < n; i++) {
        recs[i].timestamp = 1000 + i;
        recs[i].key = (sk_bytes_t){NULL, -1};
        recs[i].value = (sk_bytes_t){value, (int32_t)sizeof(value)};
    }
    assert_int_equal(sk_batch_build(&spec, recs, n, &b, &len), SK_OK);
    memset(info, 0x5a, sizeof(*info));
    int rc = sk_log_append(log, b, len, 0, 2000, info);
    free(b);
    if (rc == SK_OK) sk_log_set_high_watermark(log, sk_log_end_offset(log));
    sk_log_verify(log);
    return rc;
}

/* Expect the append to land at want_base; returns the next offset. */
static int64_t
put(sk_log_t *log, int64_t pid, int16_t epoch, int32_t seq, int32_t n, bool txn, int64_t want_base)
{
    sk_append_info_t info;
    assert_int_equal(produce(log, pid, epoch, seq, n, txn, &info), SK_OK);
    assert_int_equal(info.base_offset, want_base);
    return want_base + n;
}

static int64_t
marker(sk_log_t *log, int64_t pid, int16_t epoch, bool commit, int32_t coord_epoch, int64_t want_offset)
{
    sk_append_info_t info;
    assert_int_equal(sk_log_append_marker(log, pid, epoch, commit, coord_epoch, 0, 3000, &info), SK_OK);
    assert_int_equal(info.base_offset, want_offset);
    assert_int_equal(info.last_offset, want_offset);
    sk_log_set_high_watermark(log, sk_log_end_offset(log));
    sk_log_verify(log);
    return want_offset + 1;
}

/* ---- aborted lookups collected into an array ---- */
typedef struct got {
    int64_t pid[32];
    int64_t first[32];
    int n;
} got_t;

static void
got_cb(void *ctx, int64_t pid, int64_t first)
{
    got_t *g = ctx;
    assert_true(g->n < 32);
    g->pid[g->n] = pid;
    g->first[g->n++] = first;
}

static got_t
aborted(sk_log_t *log, int64_t from, int64_t to)
{
    got_t g = {.n = 0};
    assert_int_equal(sk_log_aborted_txns(log, from, to, got_cb, &g), SK_OK);
    return g;
}

static void
test_lso_interleaved(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    int64_t o = 0;

    assert_int_equal(sk_log_last_stable_offset(log), 0);
    o = put(log, 1, 0, 0, 3, true, o);     /* P1 txn: 0..2 */
    assert_int_equal(sk_log_last_stable_offset(log), 0);
    o = put(log, -1, -1, -1, 2, false, o); /* plain: 3..4 */
    o = put(log, 2, 0, 0, 2, true, o);     /* P2 txn: 5..6 */
    o = put(log, 1, 0, 3, 1, true, o);     /* P1 again: 7 (same txn) */
    o = put(log, 3, 0, 0, 2, false, o);    /* idempotent, no txn: 8..9 */
    o = put(log, 4, 0, 0, 1, true, o);     /* P4 txn: 10 */
    assert_int_equal(sk_log_last_stable_offset(log), 0);
    /* The LSO never passes the high watermark. */
    sk_log_set_high_watermark(log, 0);
    assert_int_equal(sk_log_last_stable_offset(log), 0);
    sk_log_set_high_watermark(log, o);
    /* P2 ends first: P1 still holds the LSO at 0. */
    o = marker(log, 2, 0, true, 0, o);     /* 11 */
    assert_int_equal(sk_log_last_stable_offset(log), 0);
    /* P1 aborts: now P4's transaction at 10 is the oldest. */
    o = marker(log, 1, 0, false, 0, o);    /* 12 */
    assert_int_equal(sk_log_last_stable_offset(log), 10);
    /* P1 starts a new transaction later; P4 still holds the LSO. */
    o = put(log, 1, 0, 4, 2, true, o);     /* 13..14 */
    assert_int_equal(sk_log_last_stable_offset(log), 10);
    o = marker(log, 4, 0, true, 0, o);     /* 15 */
    assert_int_equal(sk_log_last_stable_offset(log), 13);
    /* Capped by the high watermark when it lags. */
    sk_log_set_high_watermark(log, 12);
    assert_int_equal(sk_log_last_stable_offset(log), 12);
    sk_log_set_high_watermark(log, o);
    o = marker(log, 1, 0, false, 0, o);    /* 16 */
    assert_int_equal(sk_log_last_stable_offset(log), o);
    assert_int_equal(sk_log_last_stable_offset(log), sk_log_high_watermark(log));
    /* A marker for a producer with nothing open is still written (and ends nothing). */
    o = marker(log, 9, 0, false, 0, o);    /* 17 */
    assert_int_equal(sk_log_last_stable_offset(log), o);
    /* A control batch given to sk_log_append directly (as a follower would copy one)
     * is applied the same way: P6's transaction ends and is listed as aborted. */
    int64_t p6 = o;
    o = put(log, 6, 0, 0, 1, true, o);
    assert_int_equal(sk_log_last_stable_offset(log), p6);
    {
        uint8_t key[4] = {0, 0, 0, 0}, val[6] = {0, 0, 0, 0, 0, 9};
        sk_record_t rec = {.timestamp = 5, .key = {key, 4}, .value = {val, 6}};
        sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .attributes_extra = SK_ATTR_TRANSACTIONAL | SK_ATTR_CONTROL,
                                .producer_id = 6, .producer_epoch = 0, .base_sequence = -1,
                                .partition_leader_epoch = 0};
        uint8_t *b = NULL;
        size_t len;
        sk_append_info_t info;
        assert_int_equal(sk_batch_build(&spec, &rec, 1, &b, &len), SK_OK);
        assert_int_equal(sk_log_append(log, b, len, 0, 3000, &info), SK_OK);
        free(b);
        assert_int_equal(info.base_offset, o);
        o++;
        sk_log_set_high_watermark(log, o);
    }
    assert_int_equal(sk_log_last_stable_offset(log), o);
    got_t g6 = aborted(log, p6, o);
    assert_int_equal(g6.n, 1);
    assert_int_equal(g6.pid[0], 6);
    assert_int_equal(g6.first[0], p6);
    /* Two aborts (P1 at 0..12 and P1 at 13..16), no entry for the idle producer 9. */
    got_t g = aborted(log, 0, p6);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.pid[0], 1);
    assert_int_equal(g.first[0], 0);
    assert_int_equal(g.pid[1], 1);
    assert_int_equal(g.first[1], 13);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

static void
test_producer_checks(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    sk_append_info_t info;
    int64_t o = 0;

    o = put(log, 5, 2, 0, 2, true, o);
    /* A plain write by a producer inside its transaction. */
    assert_int_equal(produce(log, 5, 2, 2, 1, false, &info), SK_EINVAL);
    assert_int_equal(info.error_code, SK_KERR_INVALID_TXN_STATE);
    assert_int_equal(sk_log_end_offset(log), o);
    /* A retry of the transactional batch is a duplicate, not a second write. */
    assert_int_equal(produce(log, 5, 2, 0, 2, true, &info), SK_OK);
    assert_true(info.duplicate);
    assert_int_equal(info.base_offset, 0);
    /* Markers from a fenced producer epoch or coordinator epoch are refused. */
    o = marker(log, 5, 2, true, 7, o);
    assert_int_equal(sk_log_append_marker(log, 5, 1, false, 7, 0, 3000, &info), SK_EINVAL);
    assert_int_equal(info.error_code, SK_KERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(sk_log_append_marker(log, 5, 2, false, 6, 0, 3000, &info), SK_EINVAL);
    assert_int_equal(info.error_code, KERR_TXN_COORDINATOR_FENCED);
    assert_int_equal(sk_log_end_offset(log), o);
    /* After the commit plain writes go again, sequence following on. */
    o = put(log, 5, 2, 2, 1, false, o);
    /* A marker at a bumped epoch (an abort by the coordinator): the producer must then
     * start at sequence 0 of that epoch, and the old epoch is fenced. */
    o = put(log, 5, 2, 3, 1, true, o);
    o = marker(log, 5, 3, false, 7, o);
    assert_int_equal(produce(log, 5, 2, 4, 1, true, &info), SK_EINVAL);
    assert_int_equal(info.error_code, SK_KERR_INVALID_PRODUCER_EPOCH);
    o = put(log, 5, 3, 0, 1, true, o);
    assert_int_equal(sk_log_last_stable_offset(log), o - 1);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

typedef struct pinfo {
    sk_log_producer_info_t v[8];
    int n;
} pinfo_t;

static void
pinfo_cb(void *ctx, const sk_log_producer_info_t *p)
{
    pinfo_t *pi = ctx;
    assert_true(pi->n < 8);
    pi->v[pi->n++] = *p;
}

static const sk_log_producer_info_t *
pinfo_find(const pinfo_t *pi, int64_t pid)
{
    for (int i = 0; i < pi->n; i++)
        if (pi->v[i].producer_id == pid) return &pi->v[i];
    return NULL;
}

/* The marker batch, read back from the segment file. */
static void
test_marker_layout(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    char path[256];
    uint8_t buf[256];
    sk_batch_hdr_t h;
    bool commit = true;
    int32_t ce = 0;

    int64_t o = put(log, 77, 4, 0, 2, true, 0);
    marker(log, 77, 4, false, 12345, o);
    pinfo_t pi = {.n = 0};
    sk_log_producer_foreach(log, pinfo_cb, &pi);
    assert_int_equal(pi.n, 1);
    assert_int_equal(pi.v[0].producer_epoch, 4);
    assert_int_equal(pi.v[0].coordinator_epoch, 12345);
    assert_int_equal(pi.v[0].txn_start_offset, -1);
    assert_int_equal(sk_log_close(log, true), SK_OK);

    snprintf(path, sizeof(path), "%s/00000000000000000000.log", f->pdir);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    assert_true(n > SK_BATCH_HEADER_SIZE);
    assert_int_equal(sk_batch_hdr_parse(buf, (size_t)n, &h), SK_OK);
    size_t first_len = (size_t)h.batch_length + SK_LOG_OVERHEAD;
    const uint8_t *m = buf + first_len;
    assert_int_equal(sk_batch_hdr_parse(m, (size_t)n - first_len, &h), SK_OK);
    size_t mlen = (size_t)h.batch_length + SK_LOG_OVERHEAD;
    assert_int_equal(first_len + mlen, (size_t)n); /* nothing else in the file */
    assert_int_equal(h.base_offset, 2);
    assert_int_equal(h.attributes & (SK_ATTR_TRANSACTIONAL | SK_ATTR_CONTROL), SK_ATTR_TRANSACTIONAL | SK_ATTR_CONTROL);
    assert_int_equal(h.attributes & SK_ATTR_CODEC_MASK, 0);
    assert_int_equal(h.producer_id, 77);
    assert_int_equal(h.producer_epoch, 4);
    assert_int_equal(h.base_sequence, -1);
    assert_int_equal(h.records_count, 1);
    assert_int_equal(h.last_offset_delta, 0);
    assert_true(sk_batch_crc_ok(m, mlen));
    /* The record, in Kafka's control layout (varints zigzag-encoded): length 16,
     * attributes, timestamp delta, offset delta, key length 4, key = version 0 + type 0
     * (abort), value length 6, value = version 0 + coordinator epoch 12345, 0 headers. */
    static const uint8_t want[] = {
        0x20, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x00, 0x00, 0x00,
        0x0c, 0x00, 0x00, 0x00, 0x00, 0x30, 0x39,
        0x00,
    };
    assert_int_equal(mlen - SK_BATCH_HEADER_SIZE, sizeof(want));
    assert_memory_equal(m + SK_BATCH_HEADER_SIZE, want, sizeof(want));
    assert_int_equal(sk_txn_marker_parse(m, mlen, &commit, &ce), SK_OK);
    assert_false(commit);
    assert_int_equal(ce, 12345);
}

/* ---- aborted index across segments ---- */

typedef struct idx_entry {
    int64_t pid, first, last, lso;
} idx_entry_t;

/* Read <base>.txnindex back; returns the entry count (-1 when absent). */
static int
read_txnindex(const char *dir, int64_t base, idx_entry_t *out, int max)
{
    char path[256];
    uint8_t buf[34 * 16];
    snprintf(path, sizeof(path), "%s/%020lld.txnindex", dir, (long long)base);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    assert_true(n >= 0 && n % 34 == 0 && n / 34 <= max);
    for (int i = 0; i < n / 34; i++) {
        const uint8_t *q = buf + i * 34;
        assert_int_equal(sk_be16(q), 0); /* AbortedTxn version */
        out[i] = (idx_entry_t){(int64_t)sk_be64(q + 2), (int64_t)sk_be64(q + 10), (int64_t)sk_be64(q + 18),
                               (int64_t)sk_be64(q + 26)};
    }
    return (int)(n / 34);
}

/* Workload with small segments: returns the offsets of what it wrote. Layout:
 *   seg A: P1 txn 0..3 (4 batches of 1), P2 txn 4, abort P1 @5   -> entry (1, 0, 5, 4)
 *   ... rolls ...
 *   P2 more, commit P2, P3 txn, P4 txn, abort P4, abort P3 (later segments). */
typedef struct wl {
    int64_t abort1, p2_first, p3_first, p4_first, abort4, abort3, end;
} wl_t;

static wl_t
workload(sk_log_t *log)
{
    wl_t w;
    int64_t o = 0;
    for (int i = 0; i < 4; i++) o = put(log, 1, 0, i, 1, true, o); /* 0..3 */
    w.p2_first = o;
    o = put(log, 2, 0, 0, 1, true, o);                              /* 4 */
    w.abort1 = o;
    o = marker(log, 1, 0, false, 0, o);                             /* 5 */
    for (int i = 0; i < 6; i++) o = put(log, -1, -1, -1, 4, false, o);
    o = put(log, 2, 0, 1, 2, true, o);
    o = marker(log, 2, 0, true, 0, o);
    w.p3_first = o;
    o = put(log, 3, 1, 0, 3, true, o);
    for (int i = 0; i < 6; i++) o = put(log, -1, -1, -1, 4, false, o);
    w.p4_first = o;
    o = put(log, 4, 0, 0, 2, true, o);
    w.abort4 = o;
    o = marker(log, 4, 0, false, 0, o);
    for (int i = 0; i < 6; i++) o = put(log, -1, -1, -1, 4, false, o);
    w.abort3 = o;
    o = marker(log, 3, 1, false, 0, o);
    o = put(log, -1, -1, -1, 2, false, o);
    w.end = o;
    return w;
}

/* Everything a reader can ask, checked against the workload's own offsets. */
static void
check_workload(sk_log_t *log, const wl_t *w)
{
    assert_int_equal(sk_log_end_offset(log), w->end);
    assert_int_equal(sk_log_last_stable_offset(log), w->end);
    got_t g = aborted(log, 0, w->end);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.pid[0], 1);
    assert_int_equal(g.first[0], 0);
    assert_int_equal(g.pid[1], 4);
    assert_int_equal(g.first[1], w->p4_first);
    assert_int_equal(g.pid[2], 3);
    assert_int_equal(g.first[2], w->p3_first);
    /* A range after P1's abort and before P3 began: nothing. */
    g = aborted(log, w->abort1 + 1, w->p3_first);
    assert_int_equal(g.n, 0);
    /* A range inside P3's transaction but before P4 began: P3 only. */
    g = aborted(log, w->p3_first + 1, w->p4_first);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.pid[0], 3);
    /* A range that ends at P1's abort marker: P1 only (its records are in it). */
    g = aborted(log, 0, w->abort1);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.pid[0], 1);
    /* After every abort: nothing. */
    g = aborted(log, w->abort3 + 1, w->end);
    assert_int_equal(g.n, 0);
}

/* Segment base offsets of the log, and every .txnindex entry, in order. */
static int
all_index_entries(const sk_log_t *log, const char *dir, idx_entry_t *out, int max)
{
    int total = 0;
    for (int32_t i = 0; i < log->seg_count; i++) {
        int n = read_txnindex(dir, log->segs[i]->base_offset, out + total, max - total);
        if (n > 0) {
            for (int k = 0; k < n; k++) {
                /* Each entry sits in the segment holding its marker. */
                assert_true(out[total + k].last >= log->segs[i]->base_offset);
                assert_true(out[total + k].last < log->segs[i]->next_offset);
            }
            total += n;
        }
    }
    return total;
}

static void
check_files(const sk_log_t *log, const char *dir, const wl_t *w)
{
    idx_entry_t e[16];
    int n = all_index_entries(log, dir, e, 16);
    assert_int_equal(n, 3);
    /* P1 aborted while P2 (from p2_first) was open: the LSO after it is P2's start. */
    assert_true(e[0].pid == 1 && e[0].first == 0 && e[0].last == w->abort1 && e[0].lso == w->p2_first);
    /* P4 aborted while P3 was open. */
    assert_true(e[1].pid == 4 && e[1].first == w->p4_first && e[1].last == w->abort4 && e[1].lso == w->p3_first);
    /* P3 was the last open one: the LSO after it is the marker's offset + 1. */
    assert_true(e[2].pid == 3 && e[2].first == w->p3_first && e[2].last == w->abort3 && e[2].lso == w->abort3 + 1);
}

static void
test_index_segments_and_reopen(void **state)
{
    fixture_t *f = *state;
    f->cfg.segment_bytes = 400; /* a few batches per segment */
    sk_log_t *log = log_new(f);
    wl_t w = workload(log);
    assert_true(sk_log_segment_count(log) >= 4);
    assert_true(sk_log_seg_for(log, w.abort1) != sk_log_seg_for(log, w.abort3));
    check_workload(log, &w);
    check_files(log, f->pdir, &w);
    assert_int_equal(sk_log_close(log, true), SK_OK);

    /* Clean reopen: from the files and the snapshot. */
    log = log_open_dir(f, f->pdir, true, -1);
    check_workload(log, &w);
    check_files(log, f->pdir, &w);
    /* The same after a lost index file and lost snapshots: the producer state is
     * rebuilt from the whole log, and the index with it. */
    char path[256], cmd[512];
    const sk_seg_t *s3 = sk_log_seg_for(log, w.abort3);
    snprintf(path, sizeof(path), "%s/%020lld.txnindex", f->pdir, (long long)s3->base_offset);
    assert_int_equal(sk_log_close(log, true), SK_OK);
    assert_int_equal(unlink(path), 0);
    snprintf(cmd, sizeof(cmd), "rm -f '%s'/*.snapshot", f->pdir);
    assert_int_equal(system(cmd), 0);
    log = log_open_dir(f, f->pdir, false, 0);
    check_workload(log, &w);
    check_files(log, f->pdir, &w);
    assert_int_equal(sk_log_close(log, true), SK_OK);

    /* A corrupt entry (bad version) in a clean dir: rebuilt from the log. */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\x07\x07", 2, 0), 2);
    close(fd);
    log = log_open_dir(f, f->pdir, true, -1);
    check_workload(log, &w);
    check_files(log, f->pdir, &w);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

static void
test_index_after_kill(void **state)
{
    fixture_t *f = *state;
    f->cfg.segment_bytes = 400;
    sk_log_t *log = log_new(f);
    wl_t w = workload(log);
    assert_int_equal(sk_log_flush(log), SK_OK); /* recovery point at the end */
    /* P5 opens a transaction and aborts it after the flush point. */
    int64_t p5 = put(log, 5, 0, 0, 2, true, w.end);
    int64_t abort5 = p5;
    int64_t end = marker(log, 5, 0, false, 0, abort5);
    copy_dir(f); /* killed here: recovery point w.end, no clean-shutdown marker */
    assert_int_equal(sk_log_close(log, true), SK_OK);

    log = log_open_dir(f, f->copy, false, w.end);
    assert_int_equal(sk_log_end_offset(log), end);
    got_t g = aborted(log, w.end, end);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.pid[0], 5);
    assert_int_equal(g.first[0], w.end);
    assert_int_equal(sk_log_last_stable_offset(log), end);
    idx_entry_t e[16];
    assert_int_equal(all_index_entries(log, f->copy, e, 16), 4);
    assert_true(e[3].pid == 5 && e[3].first == w.end && e[3].last == abort5 && e[3].lso == abort5 + 1);
    assert_int_equal(sk_log_close(log, true), SK_OK);

    /* Killed again, this time with the abort marker torn: recovery cuts it, P5's
     * transaction is open again (LSO back at its start) and its entry is gone from
     * memory and from the file. */
    char path[256], cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", f->copy, f->pdir, f->copy);
    assert_int_equal(system(cmd), 0);
    /* f->pdir was closed cleanly: remove the marker that says so, then tear the tail. */
    snprintf(path, sizeof(path), "%s/.skiff-clean-shutdown", f->copy);
    unlink(path);
    log = log_open_dir(f, f->copy, true, -1);
    const sk_seg_t *last = sk_log_seg_for(log, abort5);
    int64_t base = last->base_offset, size = last->size_bytes;
    assert_int_equal(sk_log_close(log, false), SK_OK);
    snprintf(path, sizeof(path), "%s/%020lld.log", f->copy, (long long)base);
    assert_int_equal(truncate(path, (off_t)(size - 5)), 0);
    log = log_open_dir(f, f->copy, false, w.end);
    assert_int_equal(sk_log_end_offset(log), abort5);
    assert_int_equal(sk_log_last_stable_offset(log), w.end);
    g = aborted(log, w.end, abort5);
    assert_int_equal(g.n, 0);
    assert_int_equal(all_index_entries(log, f->copy, e, 16), 3);
    check_files(log, f->copy, &w);
    /* The coordinator retries the abort: the same answer as before the crash. */
    marker(log, 5, 0, false, 0, abort5);
    g = aborted(log, w.end, end);
    assert_int_equal(g.n, 1);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

static void
test_retention_drops_entries(void **state)
{
    fixture_t *f = *state;
    f->cfg.segment_bytes = 400;
    sk_log_t *log = log_new(f);
    wl_t w = workload(log);
    int32_t deleted = 0;
    const sk_seg_t *s1 = sk_log_seg_for(log, w.abort1);
    int64_t s1_base = s1->base_offset;
    /* Remove every segment before the one holding P4's abort. */
    int64_t keep_from = sk_log_seg_for(log, w.abort4)->base_offset;
    int32_t before = sk_log_segment_count(log);
    assert_int_equal(sk_log_delete_records(log, keep_from), SK_OK);
    assert_int_equal(sk_log_retention(log, 0, -1, -1, &deleted), SK_OK);
    assert_true(sk_log_segment_count(log) < before);
    sk_log_verify(log);
    idx_entry_t e[4];
    assert_int_equal(read_txnindex(f->pdir, s1_base, e, 4), -1); /* file gone with its segment */
    got_t g = aborted(log, keep_from, w.end);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.pid[0], 4);
    assert_int_equal(g.pid[1], 3);
    assert_int_equal(sk_log_close(log, true), SK_OK);
    log = log_open_dir(f, f->pdir, true, -1);
    g = aborted(log, 0, w.end);
    assert_int_equal(g.n, 2);
    /* Retention never removes a segment holding offsets at or past the high
     * watermark (Kafka's bound): with the watermark held back, nothing goes. */
    int32_t segs = sk_log_segment_count(log);
    sk_log_set_high_watermark(log, sk_log_seg_for(log, w.abort4)->next_offset - 1);
    assert_int_equal(sk_log_retention(log, INT64_MAX / 2, 0, 0, &deleted), SK_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(sk_log_segment_count(log), segs);
    sk_log_set_high_watermark(log, sk_log_end_offset(log));
    assert_int_equal(sk_log_retention(log, INT64_MAX / 2, 0, 0, &deleted), SK_OK);
    assert_int_equal(sk_log_segment_count(log), 1);
    g = aborted(log, 0, w.end);
    assert_int_equal(g.n, 0);
    sk_log_verify(log);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

/* read_committed: reading up to the LSO returns whole batches below it, and the
 * slice's next offset bounds the aborted list. */
static void
test_read_committed(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    sk_log_slice_t s;
    int64_t o = 0;

    o = put(log, -1, -1, -1, 3, false, o); /* 0..2 */
    o = put(log, 1, 0, 0, 2, true, o);     /* 3..4 P1 open */
    o = put(log, -1, -1, -1, 3, false, o); /* 5..7 */
    int64_t lso = sk_log_last_stable_offset(log);
    assert_int_equal(lso, 3);
    assert_int_equal(sk_log_read(log, 0, 1 << 20, lso, true, &s), SK_OK);
    assert_true(s.len > 0);
    assert_int_equal(s.next_offset, 3);
    sk_batch_hdr_t h;
    uint8_t buf[128];
    assert_int_equal(pread(s.file->fd, buf, sizeof(buf), (off_t)s.pos), (ssize_t)sizeof(buf));
    assert_int_equal(sk_batch_hdr_parse(buf, sizeof(buf), &h), SK_OK);
    assert_int_equal(s.len, h.batch_length + SK_LOG_OVERHEAD); /* exactly the first batch */
    sk_log_slice_release(&s);
    /* At the LSO there is nothing to read. */
    assert_int_equal(sk_log_read(log, 3, 1 << 20, lso, true, &s), SK_OK);
    assert_int_equal(s.len, 0);
    sk_log_slice_release(&s);
    o = marker(log, 1, 0, false, 0, o); /* 8 */
    lso = sk_log_last_stable_offset(log);
    assert_int_equal(lso, o);
    assert_int_equal(sk_log_read(log, 3, 1 << 20, lso, true, &s), SK_OK);
    assert_int_equal(s.next_offset, o);
    sk_log_slice_release(&s);
    got_t g = aborted(log, 3, o);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.first[0], 3);
    /* Reading only the plain batch before P1's data: the list stays empty. */
    g = aborted(log, 0, 3);
    assert_int_equal(g.n, 0);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

/* sk_log_read's next_offset, checked against the bytes it returns, over index jumps,
 * byte limits and offset caps in a log of many small batches. */
static void
test_read_next_offset(void **state)
{
    fixture_t *f = *state;
    f->cfg.index_interval_bytes = 256;
    sk_log_t *log = log_new(f);
    int64_t o = 0;
    for (int i = 0; i < 120; i++) o = put(log, -1, -1, -1, 1 + i % 3, false, o);
    uint64_t r = 88172645463325252ull;
    for (int k = 0; k < 400; k++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int64_t from = (int64_t)(r % (uint64_t)o);
        int64_t cap = from + 1 + (int64_t)((r >> 20) % (uint64_t)(o - from));
        int32_t max_bytes = (int32_t)((r >> 40) % 3000);
        sk_log_slice_t s;
        assert_int_equal(sk_log_read(log, from, max_bytes, cap, true, &s), SK_OK);
        if (s.len == 0) {
            sk_log_slice_release(&s);
            continue;
        }
        uint8_t *buf = malloc((size_t)s.len);
        assert_int_equal(pread(s.file->fd, buf, (size_t)s.len, (off_t)s.pos), s.len);
        int64_t last = -1;
        for (int32_t at = 0; at < s.len;) {
            sk_batch_hdr_t h;
            assert_int_equal(sk_batch_hdr_parse(buf + at, (size_t)(s.len - at), &h), SK_OK);
            last = h.base_offset + h.last_offset_delta;
            at += h.batch_length + SK_LOG_OVERHEAD;
            assert_true(at <= s.len);
        }
        free(buf);
        /* Nothing at or past the cap; offsets are contiguous here, so the next batch
         * starts right after the last one returned. */
        assert_true(last < cap);
        assert_int_equal(s.next_offset, last + 1);
        sk_log_slice_release(&s);
    }
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

static void
test_snapshot_round_trip(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    int64_t o = 0;

    o = put(log, 1, 0, 0, 2, true, o);  /* 0..1 */
    o = marker(log, 1, 0, true, 4, o);  /* 2 */
    o = put(log, 1, 0, 2, 1, true, o);  /* 3: a new transaction, coordinator epoch 4 */
    o = put(log, 2, 3, 0, 2, true, o);  /* 4..5 */
    o = put(log, 3, 0, 0, 1, false, o); /* 6 */
    assert_int_equal(sk_log_producers_snapshot(log, true), SK_OK);

    char path[256];
    char *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%020lld.snapshot", f->pdir, (long long)o);
    assert_int_equal(sk_read_file(path, 1 << 20, &data, &len), SK_OK);
    assert_int_equal(len, 10 + 3 * 46);
    /* Producer 1's entry in Kafka's field order: CoordinatorEpoch at 34,
     * CurrentTxnFirstOffset at 38. */
    bool seen1 = false;
    for (int i = 0; i < 3; i++) {
        const uint8_t *q = (const uint8_t *)data + 10 + i * 46;
        int64_t pid = (int64_t)sk_be64(q);
        int64_t txn = (int64_t)sk_be64(q + 38);
        if (pid == 1) {
            seen1 = true;
            assert_int_equal((int32_t)sk_be32(q + 34), 4);
            assert_int_equal(txn, 3);
        }
        if (pid == 2) assert_int_equal(txn, 4);
        if (pid == 3) assert_int_equal(txn, -1);
    }
    assert_true(seen1);

    sk_pstate_t ps;
    sk_pstate_init(&ps);
    assert_int_equal(sk_pstate_snapshot_parse(&ps, (const uint8_t *)data, len), SK_OK);
    sk_pstate_verify(&ps);
    assert_int_equal(sk_pstate_first_unstable(&ps), 3);
    assert_int_equal(ps.txn_count, 2);
    /* Ending producer 1's transaction moves the first unstable offset to producer 2's. */
    int64_t first = -1, lso = -1;
    assert_int_equal(sk_pstate_end_txn(&ps, 1, 0, 4, 7, 0, &first, &lso), SK_OK);
    assert_int_equal(first, 3);
    assert_int_equal(lso, 4);
    sk_pstate_verify(&ps);
    sk_pstate_deinit(&ps);
    free(data);

    /* The log reopened from that snapshot keeps both transactions open. */
    assert_int_equal(sk_log_close(log, true), SK_OK);
    log = log_open_dir(f, f->pdir, true, -1);
    assert_int_equal(sk_log_last_stable_offset(log), 3);
    pinfo_t pi = {.n = 0};
    sk_log_producer_foreach(log, pinfo_cb, &pi);
    assert_int_equal(pi.n, 3);
    assert_int_equal(pinfo_find(&pi, 1)->txn_start_offset, 3);
    assert_int_equal(pinfo_find(&pi, 1)->coordinator_epoch, 4);
    assert_int_equal(pinfo_find(&pi, 2)->txn_start_offset, 4);
    assert_int_equal(pinfo_find(&pi, 3)->txn_start_offset, -1);
    o = marker(log, 2, 3, false, 4, o);
    assert_int_equal(sk_log_last_stable_offset(log), 3);
    o = marker(log, 1, 0, true, 4, o);
    assert_int_equal(sk_log_last_stable_offset(log), o);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lso_interleaved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marker_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_segments_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_after_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_drops_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_next_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
