/* tests/unit/test_storage_retention.c: retention and DeleteRecords on real files in a
 * temporary dir: segments older than retention.ms and beyond retention.bytes leave from
 * the front, the active segment never does, the log start offset follows, reads below it
 * are out of range, DeleteRecords cannot pass the high watermark, and the new start
 * survives a restart. sk_log_verify runs after each step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "storage/storage.h"

typedef struct fixture {
    char dir[64];
    sk_log_config_t cfg;
} fixture_t;

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sk-test-ret-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    sk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = 1000; /* a couple of batches per segment */
    f->cfg.segment_index_bytes = 4096;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Append one batch of n records with timestamp ts; returns its base offset. */
static int64_t
append(sk_log_t *log, int n, int64_t ts)
{
    sk_record_t recs[16];
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
    uint8_t *b;
    size_t len;
    sk_append_info_t info;
    static const uint8_t value[200];
    assert_true(n <= 16);
    for (int i = 0; i < n; i++)
        recs[i] = (sk_record_t){.timestamp = ts, .key = {NULL, -1}, .value = {value, sizeof(value)}};
    assert_int_equal(sk_batch_build(&spec, recs, n, &b, &len), SK_OK);
    assert_int_equal(sk_log_append(log, b, len, 0, ts, &info), SK_OK);
    free(b);
    sk_log_set_high_watermark(log, sk_log_end_offset(log));
    sk_log_verify(log);
    return info.base_offset;
}

static void
test_retention_by_time_and_size(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log;
    sk_log_slice_t s = {0};
    int32_t deleted;

    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "ret", 0, NULL, NULL, &log), SK_OK);
    for (int i = 0; i < 20; i++) append(log, 2, 1000 + i * 100); /* ~460 bytes each: 2 per segment */
    int32_t segs = sk_log_segment_count(log);
    assert_true(segs >= 8);
    /* Nothing is old enough and there is no size limit. */
    assert_int_equal(sk_log_retention(log, 2000, 100000, -1, &deleted), SK_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(sk_log_start_offset(log), 0);
    /* By time: batches with timestamps < 1500 are older than 500 ms at now=2000. */
    assert_int_equal(sk_log_retention(log, 2000, 500, -1, &deleted), SK_OK);
    assert_true(deleted >= 1);
    int64_t start = sk_log_start_offset(log);
    assert_true(start > 0 && start <= 10);
    sk_log_verify(log);
    assert_int_equal(sk_log_read(log, 0, 1 << 20, INT64_MAX, true, &s), SK_ERANGE);
    assert_int_equal(sk_log_read(log, start, 1 << 20, INT64_MAX, true, &s), SK_OK);
    assert_true(s.len > 0);
    sk_log_slice_release(&s);
    /* By size: keep at most ~1000 bytes; the active segment always stays. */
    assert_int_equal(sk_log_retention(log, 2000, -1, 1000, &deleted), SK_OK);
    assert_true(deleted >= 1);
    assert_true(sk_log_size_bytes(log) <= 1000 + 1000);
    assert_true(sk_log_segment_count(log) >= 1);
    /* Everything expired: still the active segment is kept. */
    assert_int_equal(sk_log_retention(log, 1000000, 0, 0, &deleted), SK_OK);
    assert_int_equal(sk_log_segment_count(log), 1);
    assert_int_equal(sk_log_end_offset(log), 40);
    sk_log_verify(log);
    start = sk_log_start_offset(log);
    sk_logmgr_close(mgr);

    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    log = sk_logmgr_get(mgr, "ret", 0);
    assert_non_null(log);
    assert_int_equal(sk_log_start_offset(log), start);
    assert_int_equal(sk_log_end_offset(log), 40);
    sk_log_verify(log);
    sk_logmgr_close(mgr);
}

static void
test_delete_records(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log;
    int32_t deleted;
    sk_log_slice_t s = {0};

    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "dr", 0, NULL, NULL, &log), SK_OK);
    for (int i = 0; i < 10; i++) append(log, 2, 1000);
    assert_int_equal(sk_log_delete_records(log, 21), SK_ERANGE); /* past the HW (20) */
    assert_int_equal(sk_log_delete_records(log, 7), SK_OK);
    assert_int_equal(sk_log_start_offset(log), 7);
    sk_log_verify(log);
    assert_int_equal(sk_log_read(log, 6, 1 << 20, INT64_MAX, true, &s), SK_ERANGE);
    assert_int_equal(sk_log_read(log, 7, 1 << 20, INT64_MAX, true, &s), SK_OK);
    assert_true(s.len > 0);
    sk_log_slice_release(&s);
    assert_int_equal(sk_log_delete_records(log, 3), SK_OK); /* never backwards */
    assert_int_equal(sk_log_start_offset(log), 7);
    /* Segments wholly below the start offset are gone; retention finds nothing more. */
    assert_int_equal(sk_log_retention(log, 1000, -1, -1, &deleted), SK_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(sk_log_delete_records(log, 20), SK_OK);
    assert_int_equal(sk_log_start_offset(log), 20);
    assert_int_equal(sk_log_read(log, 20, 1 << 20, INT64_MAX, true, &s), SK_OK);
    assert_int_equal(s.len, 0);
    sk_log_verify(log);
    sk_logmgr_close(mgr);
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    log = sk_logmgr_get(mgr, "dr", 0);
    assert_int_equal(sk_log_start_offset(log), 20);
    sk_logmgr_close(mgr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retention_by_time_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_records, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
