/* tests/unit/test_storage_producer.c: idempotent producer state of a partition log, on
 * real files in a fresh /tmp directory: sequence checks through sk_log_append (retries
 * of each of the last five batches answered with their original offsets and not
 * written, the sixth-oldest refused, gaps, fencing by epoch, a new epoch starting at 0,
 * unknown producers, wrap-around at INT32_MAX, bad producer fields), the snapshot file
 * layout (Kafka's ProducerSnapshot v1, checked field by field against the schema, CRC
 * and size checks), and that the state survives a clean restart (from the snapshot),
 * an unclean one (rebuilt from the log), a corrupt snapshot and a snapshot that lies
 * past a truncated tail, expiry and the cap on producers per partition. What is on disk
 * is read back from the files. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/storage_int.h"

typedef struct fixture {
    char dir[64];
    char pdir[128];
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
    snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-producer-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->pdir, sizeof(f->pdir), "%s/t-0", f->dir);
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
log_reopen(fixture_t *f, bool clean, int64_t recovery_point)
{
    sk_log_t *log = NULL;
    sk_log_open_args_t a = {.dir = f->pdir, .topic = "t", .partition = 0, .cfg = &f->cfg, .clean = clean,
                            .recovery_point = recovery_point, .start_offset = -1, .hw = -1};
    assert_int_equal(sk_log_open(&a, &log), SK_OK);
    sk_log_verify(log);
    return log;
}

/* Append n records of producer (pid, epoch) from sequence seq; returns sk_log_append's
 * rc and fills info. */
static int
produce(sk_log_t *log, int64_t pid, int16_t epoch, int32_t seq, int32_t n, sk_append_info_t *info)
{
    sk_record_t recs[16];
    uint8_t value[32];
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = pid, .producer_epoch = epoch,
                            .base_sequence = seq, .partition_leader_epoch = -1};
    uint8_t *b = NULL;
    size_t len;

    assert_true(n <= 16);
    memset(value, 'p', sizeof(value));
    memset(recs, 0, sizeof(recs));
    for (int32_t i = 0; i < n; i++) {
        recs[i].timestamp = 5000 + i;
        recs[i].key = (sk_bytes_t){NULL, -1};
        recs[i].value = (sk_bytes_t){value, (int32_t)sizeof(value)};
    }
    assert_int_equal(sk_batch_build(&spec, recs, n, &b, &len), SK_OK);
    memset(info, 0x5a, sizeof(*info));
    int rc = sk_log_append(log, b, len, 0, 6000, info);
    free(b);
    sk_log_verify(log);
    return rc;
}

static void
expect_ok(sk_log_t *log, int64_t pid, int16_t epoch, int32_t seq, int32_t n, int64_t want_base)
{
    sk_append_info_t info;
    assert_int_equal(produce(log, pid, epoch, seq, n, &info), SK_OK);
    assert_false(info.duplicate);
    assert_int_equal(info.error_code, SK_KERR_NONE);
    assert_int_equal(info.base_offset, want_base);
}

static void
expect_dup(sk_log_t *log, int64_t pid, int16_t epoch, int32_t seq, int32_t n, int64_t want_base)
{
    sk_append_info_t info;
    int64_t leo = sk_log_end_offset(log), size = sk_log_size_bytes(log);
    assert_int_equal(produce(log, pid, epoch, seq, n, &info), SK_OK);
    assert_true(info.duplicate);
    assert_int_equal(info.base_offset, want_base);
    assert_int_equal(info.last_offset, want_base + n - 1);
    assert_int_equal(sk_log_end_offset(log), leo);
    assert_int_equal(sk_log_size_bytes(log), size); /* nothing written */
}

static void
expect_err(sk_log_t *log, int64_t pid, int16_t epoch, int32_t seq, int32_t n, int16_t kerr)
{
    sk_append_info_t info;
    int64_t leo = sk_log_end_offset(log), size = sk_log_size_bytes(log);
    assert_int_equal(produce(log, pid, epoch, seq, n, &info), SK_EINVAL);
    assert_int_equal(info.error_code, kerr);
    assert_int_equal(sk_log_end_offset(log), leo);
    assert_int_equal(sk_log_size_bytes(log), size);
}

/* Batches of 3 records each from producer 7 epoch 0: seq 0,3,6,...; offsets from 0. */
static void
produce_run(sk_log_t *log, int32_t batches)
{
    for (int32_t i = 0; i < batches; i++) expect_ok(log, 7, 0, i * 3, 3, (int64_t)i * 3);
}

static void
test_sequence_checks(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    int16_t epoch;
    int32_t last_seq;

    produce_run(log, 8); /* seq 0..23, offsets 0..23 */
    /* Each of the last five batches: the original offsets, nothing written. */
    for (int32_t i = 3; i < 8; i++) expect_dup(log, 7, 0, i * 3, 3, (int64_t)i * 3);
    /* The sixth-oldest is no longer remembered: it is out of order, as in Kafka. */
    expect_err(log, 7, 0, 2 * 3, 3, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* Same first sequence, different range: not a duplicate. */
    expect_err(log, 7, 0, 21, 2, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* A gap. */
    expect_err(log, 7, 0, 25, 1, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_ok(log, 7, 0, 24, 1, 24);
    /* A new epoch must start at 0; then the old one is fenced. */
    expect_err(log, 7, 1, 25, 1, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_ok(log, 7, 1, 0, 2, 25);
    expect_err(log, 7, 0, 25, 1, SK_KERR_INVALID_PRODUCER_EPOCH);
    expect_err(log, 7, 0, 24, 1, SK_KERR_INVALID_PRODUCER_EPOCH); /* even a retry of the old epoch */
    assert_int_equal(sk_log_producer_get(log, 7, &epoch, &last_seq), SK_OK);
    assert_int_equal(epoch, 1);
    assert_int_equal(last_seq, 1);
    /* An unknown producer may start anywhere (Kafka 4.x), then must follow on. */
    expect_ok(log, 9, 3, 42, 2, 27);
    expect_err(log, 9, 3, 45, 1, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_ok(log, 9, 3, 44, 1, 29);
    /* Bad producer fields from the wire. */
    expect_err(log, 11, 0, -1, 1, SK_KERR_INVALID_RECORD);
    expect_err(log, 11, -1, 0, 1, SK_KERR_INVALID_RECORD);
    /* No producer id: no checks at all. */
    expect_ok(log, -1, -1, -1, 2, 30);
    expect_ok(log, -1, -1, -1, 2, 32);
    assert_int_equal(sk_log_producer_count(log), 2);
    assert_int_equal(sk_log_producer_get(log, 11, &epoch, &last_seq), SK_ENOENT);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

static void
test_sequence_wrap(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    int16_t epoch;
    int32_t last_seq;

    expect_ok(log, 5, 0, INT32_MAX - 1, 3, 0); /* INT32_MAX-1, INT32_MAX, 0 */
    assert_int_equal(sk_log_producer_get(log, 5, &epoch, &last_seq), SK_OK);
    assert_int_equal(last_seq, 0);
    expect_dup(log, 5, 0, INT32_MAX - 1, 3, 0);
    expect_err(log, 5, 0, 0, 1, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_ok(log, 5, 0, 1, 1, 3);
    /* Ending exactly at INT32_MAX: the next batch starts at 0. */
    expect_ok(log, 6, 0, INT32_MAX - 1, 2, 4);
    expect_err(log, 6, 0, INT32_MAX, 1, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_ok(log, 6, 0, 0, 1, 6);
    assert_int_equal(sk_seq_add(INT32_MAX, 1), 0);
    assert_int_equal(sk_seq_sub(0, 1), INT32_MAX);
    assert_int_equal(sk_seq_sub(sk_seq_add(INT32_MAX - 3, 10), 10), INT32_MAX - 3);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

static uint8_t *
read_snapshot(const char *dir, int64_t offset, size_t *len)
{
    char path[512], *buf = NULL;
    sk_seg_path(path, sizeof(path), dir, offset, SK_SNAPSHOT_EXT);
    if (sk_read_file(path, 1 << 20, &buf, len) != SK_OK) return NULL;
    return (uint8_t *)buf;
}

static int64_t
be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    if (n < 8 && (v >> (8 * n - 1))) v |= ~0ULL << (8 * n); /* sign-extend */
    return (int64_t)v;
}

/* The layout, read field by field as Kafka's ProducerSnapshot v1 schema lists them. */
static void
test_snapshot_layout(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    size_t len;

    expect_ok(log, 0x0102030405060708LL, 4, 10, 3, 0); /* seq 10..12, offsets 0..2 */
    assert_int_equal(sk_log_close(log, true), SK_OK);   /* snapshot at the LEO, 3 */
    uint8_t *p = read_snapshot(f->pdir, 3, &len);
    assert_non_null(p);
    assert_int_equal(len, 2 + 4 + 4 + 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8);
    assert_int_equal(be(p, 2), 1);                          /* version */
    assert_int_equal((uint32_t)be(p + 2, 4), sk_crc32c(0, p + 6, len - 6)); /* crc over the rest */
    assert_int_equal(be(p + 6, 4), 1);                      /* entry count */
    const uint8_t *e = p + 10;
    assert_int_equal(be(e, 8), 0x0102030405060708LL);       /* producer id */
    assert_int_equal(be(e + 8, 2), 4);                      /* epoch */
    assert_int_equal(be(e + 10, 4), 12);                    /* last sequence */
    assert_int_equal(be(e + 14, 8), 2);                     /* last offset */
    assert_int_equal(be(e + 22, 4), 2);                     /* offset delta */
    /* Timestamp: the later of the batch's max timestamp (5002) and the broker's clock at
     * the append (6000); it only drives producer expiry. */
    assert_int_equal(be(e + 26, 8), 6000);
    assert_int_equal(be(e + 34, 4), -1);                    /* coordinator epoch */
    assert_int_equal(be(e + 38, 8), -1);                    /* no open transaction */

    /* Parsing refuses damage. */
    sk_pstate_t ps;
    sk_pstate_init(&ps);
    assert_int_equal(sk_pstate_snapshot_parse(&ps, p, len), SK_OK);
    const sk_pentry_t *pe = sk_pstate_get(&ps, 0x0102030405060708LL);
    assert_non_null(pe);
    assert_int_equal(pe->batch_count, 1);
    assert_int_equal(pe->batches[0].first_seq, 10);
    assert_int_equal(pe->batches[0].first_offset, 0);
    p[20] ^= 1;
    assert_int_equal(sk_pstate_snapshot_parse(&ps, p, len), SK_ECORRUPT);
    p[20] ^= 1;
    assert_int_equal(sk_pstate_snapshot_parse(&ps, p, len - 1), SK_ECORRUPT);
    assert_int_equal(sk_pstate_snapshot_parse(&ps, p, 5), SK_ECORRUPT);
    p[1] = 2; /* unknown version */
    assert_int_equal(sk_pstate_snapshot_parse(&ps, p, len), SK_ECORRUPT);
    sk_pstate_deinit(&ps);
    free(p);
}

static void
test_restart_clean(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);

    produce_run(log, 8);
    assert_int_equal(sk_log_close(log, true), SK_OK);
    log = log_reopen(f, true, -1);
    /* Kafka's snapshot keeps only each producer's last batch. */
    expect_dup(log, 7, 0, 21, 3, 21);
    expect_err(log, 7, 0, 18, 3, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_err(log, 7, 0, 25, 3, SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect_ok(log, 7, 0, 24, 3, 24);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

static void
test_restart_unclean_rebuilds(void **state)
{
    fixture_t *f = *state;
    sk_log_t *log = log_new(f);
    char path[512];

    produce_run(log, 8);
    expect_ok(log, 8, 2, 0, 1, 24);
    sk_log_close(log, false); /* like kill -9: no snapshot, no flush marker */
    sk_seg_path(path, sizeof(path), f->pdir, 25, SK_SNAPSHOT_EXT);
    assert_int_equal(access(path, F_OK), -1);
    log = log_reopen(f, false, 0);
    /* Rebuilt from the log: all five retained batches are known again. */
    for (int32_t i = 3; i < 8; i++) expect_dup(log, 7, 0, i * 3, 3, (int64_t)i * 3);
    expect_dup(log, 8, 2, 0, 1, 24);
    expect_err(log, 8, 1, 1, 1, SK_KERR_INVALID_PRODUCER_EPOCH);
    expect_ok(log, 7, 0, 24, 3, 25);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

/* Small segments: a snapshot at each roll; the newest corrupt, one past a torn tail. */
static void
test_roll_snapshots_and_recovery(void **state)
{
    fixture_t *f = *state;
    char path[512];
    sk_log_t *log;

    f->cfg.segment_bytes = 600; /* a batch of 3 x 32-byte values is ~160 bytes */
    log = log_new(f);
    produce_run(log, 20);
    int32_t segs = sk_log_segment_count(log);
    assert_true(segs >= 5);
    int64_t last_base = log->segs[segs - 1]->base_offset, prev_base = log->segs[segs - 2]->base_offset;
    int64_t cut_base = log->segs[segs - 3]->base_offset;
    sk_seg_path(path, sizeof(path), f->pdir, last_base, SK_SNAPSHOT_EXT);
    assert_int_equal(access(path, F_OK), 0);
    sk_seg_path(path, sizeof(path), f->pdir, log->segs[1]->base_offset, SK_SNAPSHOT_EXT);
    assert_int_equal(access(path, F_OK), -1); /* only the newest SK_SNAPSHOTS_KEPT stay */
    sk_log_close(log, false);

    /* Corrupt the newest snapshot: the one before it plus a longer replay is used. */
    sk_seg_path(path, sizeof(path), f->pdir, last_base, SK_SNAPSHOT_EXT);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff\xff\xff\xff", 4, 2), 4);
    close(fd);
    log = log_reopen(f, false, 0);
    assert_int_equal(access(path, F_OK), -1); /* the corrupt one is gone */
    for (int32_t i = 15; i < 20; i++) expect_dup(log, 7, 0, i * 3, 3, (int64_t)i * 3);
    sk_log_close(log, false);

    /* Cut the log inside an earlier segment: the snapshot at the next segment's base
     * now lies past the LEO and must not be used. */
    sk_seg_path(path, sizeof(path), f->pdir, cut_base, ".log");
    assert_int_equal(truncate(path, 200), 0); /* one whole batch (~160 bytes) survives */
    sk_seg_path(path, sizeof(path), f->pdir, prev_base, SK_SNAPSHOT_EXT);
    assert_int_equal(access(path, F_OK), 0);
    log = log_reopen(f, false, 0);
    int64_t leo = sk_log_end_offset(log);
    assert_int_equal(leo, cut_base + 3);
    assert_int_equal(access(path, F_OK), -1);
    int16_t epoch;
    int32_t last_seq;
    assert_int_equal(sk_log_producer_get(log, 7, &epoch, &last_seq), SK_OK);
    assert_int_equal(last_seq, (int32_t)leo - 1); /* seq == offset in this run */
    expect_dup(log, 7, 0, (int32_t)leo - 3, 3, leo - 3);
    expect_ok(log, 7, 0, (int32_t)leo, 3, leo);
    assert_int_equal(sk_log_close(log, true), SK_OK);
}

static void
test_state_update_expire(void **state)
{
    (void)state;
    sk_pstate_t ps;
    sk_batch_hdr_t h = {.producer_id = 1, .producer_epoch = 0, .base_sequence = 0, .last_offset_delta = 0};
    sk_pstate_init(&ps);
    for (int64_t pid = 1; pid <= 10; pid++) {
        h.producer_id = pid;
        h.base_offset = pid;
        assert_int_equal(sk_pstate_update(&ps, &h, pid * 100, pid == 10 ? 2000 : -1), SK_OK);
    }
    assert_int_equal(ps.producers.count, 10);
    sk_pstate_expire(&ps, 1000, 450); /* keeps last_timestamp > 550 */
    assert_int_equal(ps.producers.count, 5);
    assert_null(sk_pstate_get(&ps, 5));
    assert_non_null(sk_pstate_get(&ps, 6));
    /* Producer 10 wrote at broker time 2000: it outlives its own timestamp. */
    sk_pstate_expire(&ps, 1500, 450);
    assert_int_equal(ps.producers.count, 1);
    assert_non_null(sk_pstate_get(&ps, 10));
    sk_pstate_deinit(&ps);
}

/* At SK_PRODUCERS_MAX a new producer evicts the least recently active tenth. */
static void
test_state_cap(void **state)
{
    (void)state;
    sk_pstate_t ps;
    sk_batch_hdr_t h = {.producer_epoch = 0, .base_sequence = 0, .last_offset_delta = 0};
    sk_pstate_init(&ps);
    for (int64_t pid = 0; pid < SK_PRODUCERS_MAX; pid++) {
        h.producer_id = pid;
        assert_int_equal(sk_pstate_update(&ps, &h, 1000 + pid, -1), SK_OK);
    }
    assert_int_equal(ps.producers.count, SK_PRODUCERS_MAX);
    h.producer_id = SK_PRODUCERS_MAX;
    assert_int_equal(sk_pstate_update(&ps, &h, 5000000, -1), SK_OK);
    assert_int_equal(ps.producers.count, SK_PRODUCERS_MAX - SK_PRODUCERS_MAX / 10 + 1);
    assert_null(sk_pstate_get(&ps, 0));
    assert_null(sk_pstate_get(&ps, SK_PRODUCERS_MAX / 10 - 1));
    assert_non_null(sk_pstate_get(&ps, SK_PRODUCERS_MAX / 10));
    assert_non_null(sk_pstate_get(&ps, SK_PRODUCERS_MAX));
    sk_pstate_deinit(&ps);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sequence_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequence_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_unclean_rebuilds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_snapshots_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_update_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_cap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
