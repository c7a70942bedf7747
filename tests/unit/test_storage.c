/* tests/unit/test_storage.c: the storage engine end to end, on real files in a fresh
 * directory under /tmp (removed afterwards): append and read across segment rolls,
 * reads from inside a batch, the max_bytes / min_one / max_offset limits, timestamp
 * lookups and LogAppendTime, restart after a clean close, recovery after an unclean stop
 * (torn tail, trailing garbage, corruption in a sealed segment, lost index), delete,
 * the text formats of the checkpoint files, flush policy and a failed write taking the
 * log offline. Batches come from protocol's sk_batch_build; what is read back is parsed
 * from the files, not taken from storage's own bookkeeping. sk_log_verify runs after
 * each step. */
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
    snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-storage-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    sk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = 4096;
    f->cfg.index_interval_bytes = 256;
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

/* A batch of n records with timestamps ts, ts+1, ... and values of vlen bytes. */
static uint8_t *
make_batch(int32_t n, int64_t ts, int32_t vlen, size_t *len)
{
    sk_record_t recs[64];
    uint8_t value[512];
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
    uint8_t *out = NULL;

    assert_true(n <= 64 && vlen <= (int32_t)sizeof(value));
    memset(value, 'v', sizeof(value));
    memset(recs, 0, sizeof(recs));
    for (int32_t i = 0; i < n; i++) {
        recs[i].timestamp = ts + i;
        recs[i].key = (sk_bytes_t){NULL, -1};
        recs[i].value = (sk_bytes_t){value, vlen};
    }
    assert_int_equal(sk_batch_build(&spec, recs, n, &out, len), SK_OK);
    return out;
}

static void
append_batch(sk_log_t *log, int32_t n, int64_t ts, int32_t vlen, int32_t epoch, sk_append_info_t *info)
{
    size_t len;
    uint8_t *b = make_batch(n, ts, vlen, &len);
    int64_t leo = sk_log_end_offset(log);
    assert_int_equal(sk_log_append(log, b, len, epoch, 1000, info), SK_OK);
    assert_int_equal(info->base_offset, leo);
    assert_int_equal(info->last_offset, leo + n - 1);
    assert_int_equal(sk_log_end_offset(log), leo + n);
    free(b);
    sk_log_verify(log);
}

static uint8_t *
slice_bytes(const sk_log_slice_t *s)
{
    uint8_t *p = malloc((size_t)s->len);
    assert_non_null(p);
    assert_int_equal(pread(s->file->fd, p, (size_t)s->len, s->pos), s->len);
    return p;
}

/* Read the whole log through slices; checks every batch is whole, CRC-valid and that
 * offsets run contiguously from `from`. Returns the next offset after the last batch. */
static int64_t
read_all(sk_log_t *log, int64_t from, int32_t max_bytes, int64_t *batches)
{
    int64_t next = from;
    *batches = 0;
    for (;;) {
        sk_log_slice_t s;
        assert_int_equal(sk_log_read(log, next, max_bytes, INT64_MAX, true, &s), SK_OK);
        if (s.len == 0) break;
        uint8_t *p = slice_bytes(&s);
        size_t at = 0;
        while (at < (size_t)s.len) {
            sk_batch_hdr_t h;
            assert_int_equal(sk_batch_hdr_parse(p + at, (size_t)s.len - at, &h), SK_OK);
            size_t total = (size_t)h.batch_length + SK_LOG_OVERHEAD;
            assert_true(at + total <= (size_t)s.len);
            assert_true(sk_batch_crc_ok(p + at, total));
            if (*batches == 0 && at == 0) assert_true(h.base_offset <= next);
            else assert_int_equal(h.base_offset, next);
            next = h.base_offset + h.last_offset_delta + 1;
            at += total;
            (*batches)++;
        }
        free(p);
        sk_log_slice_release(&s);
    }
    return next;
}

static int64_t
file_size(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static char *
file_text(const char *dir, const char *name)
{
    char path[512], *buf = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (sk_read_file(path, 1 << 20, &buf, &len) != SK_OK) return NULL;
    return buf;
}

static sk_log_t *
open_one(fixture_t *f, sk_logmgr_t **mgr, const char *topic)
{
    sk_log_t *log = NULL;
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, mgr), SK_OK);
    log = sk_logmgr_get(*mgr, topic, 0);
    if (!log) assert_int_equal(sk_logmgr_create(*mgr, topic, 0, NULL, NULL, &log), SK_OK);
    sk_log_verify(log);
    return log;
}

/* ---- tests ---- */

static void
test_append_read_roll(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    sk_log_t *log = open_one(f, &mgr, "orders");

    for (int i = 0; i < 200; i++) append_batch(log, 3, 1000 + i * 10, 40, 0, &info);
    assert_int_equal(sk_log_end_offset(log), 600);
    assert_true(sk_log_segment_count(log) > 5);
    for (int32_t i = 0; i < sk_log_segment_count(log) - 1; i++) {
        /* Sealed segments: index files trimmed to whole entries, not preallocated. */
        char name[64], dir[128];
        const sk_seg_t *seg = log->segs[i];
        snprintf(dir, sizeof(dir), "%s/orders-0", f->dir);
        snprintf(name, sizeof(name), "%020lld.index", (long long)seg->base_offset);
        assert_int_equal(file_size(dir, name), seg->oidx.entries * 8);
        assert_true(seg->oidx.entries > 0);
        snprintf(name, sizeof(name), "%020lld.timeindex", (long long)seg->base_offset);
        assert_int_equal(file_size(dir, name), seg->tidx.entries * 12);
        snprintf(name, sizeof(name), "%020lld.log", (long long)seg->base_offset);
        assert_true(file_size(dir, name) <= f->cfg.segment_bytes);
    }
    int64_t batches;
    assert_int_equal(read_all(log, 0, 1 << 20, &batches), 600);
    assert_int_equal(batches, 200);
    assert_int_equal(read_all(log, 0, 100, &batches), 600); /* one batch per read via min_one */
    assert_int_equal(batches, 200);
    /* Every offset finds the batch holding it. */
    for (int64_t off = 0; off < 600; off += 7) {
        sk_log_slice_t s;
        sk_batch_hdr_t h;
        assert_int_equal(sk_log_read(log, off, 1, INT64_MAX, true, &s), SK_OK);
        uint8_t *p = slice_bytes(&s);
        assert_int_equal(sk_batch_hdr_parse(p, (size_t)s.len, &h), SK_OK);
        assert_true(h.base_offset <= off && off <= h.base_offset + h.last_offset_delta);
        assert_int_equal(h.base_offset, off - off % 3);
        free(p);
        sk_log_slice_release(&s);
    }
    sk_logmgr_close(mgr);
}

static void
test_read_middle_and_limits(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    sk_log_slice_t s;
    f->cfg.segment_bytes = 1 << 20;
    sk_log_t *log = open_one(f, &mgr, "lim");
    size_t one;
    free(make_batch(10, 0, 100, &one));

    for (int i = 0; i < 6; i++) append_batch(log, 10, 5000, 100, 0, &info);
    /* From the middle of the third batch: the slice starts at that batch. */
    assert_int_equal(sk_log_read(log, 25, (int32_t)(2 * one), INT64_MAX, false, &s), SK_OK);
    assert_int_equal(s.pos, 2 * (int64_t)one);
    assert_int_equal(s.len, 2 * (int32_t)one);
    sk_log_slice_release(&s);
    /* max_bytes between one and two batches: one batch. */
    assert_int_equal(sk_log_read(log, 0, (int32_t)(one * 3 / 2), INT64_MAX, false, &s), SK_OK);
    assert_int_equal(s.len, (int32_t)one);
    sk_log_slice_release(&s);
    /* Less than one batch: nothing, unless min_one. */
    assert_int_equal(sk_log_read(log, 0, 10, INT64_MAX, false, &s), SK_OK);
    assert_int_equal(s.len, 0);
    assert_null(s.file);
    assert_int_equal(sk_log_read(log, 0, 10, INT64_MAX, true, &s), SK_OK);
    assert_int_equal(s.len, (int32_t)one);
    sk_log_slice_release(&s);
    /* max_offset: only batches entirely below it. */
    assert_int_equal(sk_log_read(log, 0, 1 << 20, 30, false, &s), SK_OK);
    assert_int_equal(s.len, 3 * (int32_t)one);
    sk_log_slice_release(&s);
    assert_int_equal(sk_log_read(log, 0, 1 << 20, 35, true, &s), SK_OK);
    assert_int_equal(s.len, 3 * (int32_t)one);
    sk_log_slice_release(&s);
    assert_int_equal(sk_log_read(log, 30, 1 << 20, 30, true, &s), SK_OK);
    assert_int_equal(s.len, 0);
    /* LEO gives nothing; past it or before the start is out of range. */
    assert_int_equal(sk_log_read(log, 60, 1 << 20, INT64_MAX, true, &s), SK_OK);
    assert_int_equal(s.len, 0);
    assert_int_equal(sk_log_read(log, 61, 1 << 20, INT64_MAX, true, &s), SK_ERANGE);
    assert_int_equal(sk_log_read(log, -1, 1 << 20, INT64_MAX, true, &s), SK_ERANGE);
    sk_logmgr_close(mgr);
}

static void
test_timestamps(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    sk_log_t *log = open_one(f, &mgr, "ts");
    int64_t off, ts;
    /* Timestamps not monotonic across batches; segments roll in between. */
    static const int64_t base_ts[] = {1000, 5000, 3000, 6000, 2000, 9000, 8000, 12000};
    for (int r = 0; r < 10; r++)
        for (size_t i = 0; i < SK_ARRAY_LEN(base_ts); i++)
            append_batch(log, 2, base_ts[i] + r * 100000, 60, 0, &info);
    assert_true(sk_log_segment_count(log) > 2);

    assert_int_equal(sk_log_offset_for_time(log, 0, &off, &ts), SK_OK);
    assert_int_equal(off, 0);
    assert_int_equal(ts, 1000); /* a record, not the batch maximum */
    assert_int_equal(sk_log_offset_for_time(log, 4000, &off, &ts), SK_OK);
    assert_int_equal(off, 2); /* second batch (5000, 5001): its first record */
    assert_int_equal(ts, 5000);
    assert_int_equal(sk_log_offset_for_time(log, 5001, &off, &ts), SK_OK);
    assert_int_equal(off, 3); /* inside the second batch: its second record */
    assert_int_equal(ts, 5001);
    assert_int_equal(sk_log_offset_for_time(log, 5002, &off, &ts), SK_OK);
    assert_int_equal(off, 6); /* fourth batch, 6000 */
    /* In a later round, found through the time index of a later segment. */
    assert_int_equal(sk_log_offset_for_time(log, 700000 + 8500, &off, &ts), SK_OK);
    assert_int_equal(off, 7 * 16 + 10);
    assert_int_equal(ts, 709000);
    assert_int_equal(sk_log_offset_for_time(log, 10000000, &off, &ts), SK_ENOENT);
    assert_int_equal(sk_log_max_timestamp(log, &off, &ts), SK_OK);
    assert_int_equal(ts, 912001);
    assert_int_equal(off, 159);
    sk_logmgr_close(mgr);
}

static void
test_log_append_time(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_log_t *log;
    sk_log_slice_t s;
    sk_batch_hdr_t h;
    size_t len;

    f->cfg.log_append_time = true;
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "lat", 0, NULL, NULL, &log), SK_OK);
    uint8_t *b = make_batch(4, 100, 10, &len);
    sk_append_info_t info;
    assert_int_equal(sk_log_append(log, b, len, 7, 424242, &info), SK_OK);
    assert_int_equal(info.log_append_time, 424242);
    assert_int_equal(info.record_count, 4);
    assert_int_equal(sk_log_read(log, 0, 1 << 20, INT64_MAX, true, &s), SK_OK);
    uint8_t *p = slice_bytes(&s);
    assert_int_equal(sk_batch_hdr_parse(p, (size_t)s.len, &h), SK_OK);
    assert_true(h.attributes & SK_ATTR_LOG_APPEND_TIME);
    assert_int_equal(h.max_timestamp, 424242);
    assert_int_equal(h.partition_leader_epoch, 7);
    assert_true(sk_batch_crc_ok(p, (size_t)s.len));
    int64_t off, ts;
    assert_int_equal(sk_log_offset_for_time(log, 424000, &off, &ts), SK_OK);
    assert_int_equal(off, 0);
    assert_int_equal(sk_log_latest_epoch(log), 7);
    free(p);
    free(b);
    sk_log_slice_release(&s);
    sk_logmgr_close(mgr);
}

static void
test_restart_clean(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    sk_log_t *log = open_one(f, &mgr, "keep");
    for (int i = 0; i < 120; i++) append_batch(log, 2, 1000 + i, 50, i < 60 ? 1 : 3, &info);
    int64_t leo = sk_log_end_offset(log), size = sk_log_size_bytes(log);
    int32_t segs = sk_log_segment_count(log);
    int64_t mts_off, mts;
    assert_int_equal(sk_log_max_timestamp(log, &mts_off, &mts), SK_OK);
    sk_logmgr_close(mgr);
    assert_true(file_size(f->dir, SK_CLEAN_SHUTDOWN_FILE) == 0);

    log = open_one(f, &mgr, "keep");
    assert_true(file_size(f->dir, SK_CLEAN_SHUTDOWN_FILE) < 0); /* consumed */
    assert_int_equal(sk_log_end_offset(log), leo);
    assert_int_equal(sk_log_size_bytes(log), size);
    assert_int_equal(sk_log_segment_count(log), segs);
    assert_int_equal(sk_log_latest_epoch(log), 3);
    int64_t o2, t2, batches;
    assert_int_equal(sk_log_max_timestamp(log, &o2, &t2), SK_OK);
    assert_int_equal(o2, mts_off);
    assert_int_equal(t2, mts);
    assert_int_equal(read_all(log, 0, 1 << 20, &batches), leo);
    assert_int_equal(batches, 120);
    append_batch(log, 2, 5000, 50, 3, &info);
    assert_int_equal(info.base_offset, leo);
    sk_logmgr_close(mgr);
}

/* Stop "uncleanly": close, then remove the marker and the recovery checkpoint. */
static void
make_unclean(fixture_t *f)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, SK_CLEAN_SHUTDOWN_FILE);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof(path), "%s/%s", f->dir, SK_CKPT_RECOVERY);
    unlink(path);
}

static void
seg_file(char *out, size_t cap, fixture_t *f, const char *tp, int64_t base, const char *ext)
{
    snprintf(out, cap, "%s/%s/%020lld%s", f->dir, tp, (long long)base, ext);
}

static void
test_unclean_torn_tail(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    char path[512];
    sk_log_t *log = open_one(f, &mgr, "torn");
    for (int i = 0; i < 50; i++) append_batch(log, 2, 1000 + i, 50, i < 45 ? 1 : 2, &info);
    const sk_seg_t *act = log->segs[log->seg_count - 1];
    int64_t base = act->base_offset, size = act->size_bytes;
    int64_t last_batch_pos = size - (int64_t)0;
    int64_t pos;
    sk_batch_hdr_t h;
    bool found;
    assert_int_equal(sk_seg_find(act, 98, &pos, &h, &found), SK_OK);
    assert_true(found);
    last_batch_pos = pos;
    sk_logmgr_close(mgr);
    make_unclean(f);
    /* Tear the last batch in half. */
    seg_file(path, sizeof(path), f, "torn-0", base, ".log");
    assert_int_equal(truncate(path, last_batch_pos + (size - last_batch_pos) / 2), 0);

    log = open_one(f, &mgr, "torn");
    assert_int_equal(sk_log_end_offset(log), 98);
    assert_int_equal(log->segs[log->seg_count - 1]->size_bytes, last_batch_pos);
    assert_int_equal(sk_log_latest_epoch(log), 2); /* epoch 2 started at 90: still there */
    int64_t batches;
    assert_int_equal(read_all(log, 0, 1 << 20, &batches), 98);
    append_batch(log, 2, 7000, 50, 2, &info);
    assert_int_equal(info.base_offset, 98);
    sk_logmgr_close(mgr);

    /* Garbage after the last batch is cut away. */
    make_unclean(f);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage", 71), 71);
    close(fd);
    log = open_one(f, &mgr, "torn");
    assert_int_equal(sk_log_end_offset(log), 100);
    assert_int_equal(read_all(log, 0, 1 << 20, &batches), 100);
    sk_logmgr_close(mgr);
}

static void
test_unclean_epoch_truncated(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    char path[512];
    f->cfg.segment_bytes = 1 << 20;
    sk_log_t *log = open_one(f, &mgr, "ep");
    for (int i = 0; i < 5; i++) append_batch(log, 2, 1000, 50, 4, &info);
    int64_t cut = log->segs[0]->size_bytes;
    append_batch(log, 2, 1000, 50, 9, &info);
    sk_logmgr_close(mgr);
    make_unclean(f);
    seg_file(path, sizeof(path), f, "ep-0", 0, ".log");
    assert_int_equal(truncate(path, cut + 30), 0);
    log = open_one(f, &mgr, "ep");
    assert_int_equal(sk_log_end_offset(log), 10);
    assert_int_equal(sk_log_latest_epoch(log), 4);
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/ep-0", f->dir);
    char *t = file_text(dir, SK_EPOCH_FILE);
    assert_string_equal(t, "0\n1\n4 0\n");
    free(t);
    sk_logmgr_close(mgr);
}

static void
test_unclean_corrupt_sealed_and_lost_index(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    char path[512];
    sk_log_t *log = open_one(f, &mgr, "cor");
    for (int i = 0; i < 150; i++) append_batch(log, 3, 1000 + i, 40, 0, &info);
    assert_true(sk_log_segment_count(log) >= 4);
    int64_t base1 = log->segs[1]->base_offset, base2 = log->segs[2]->base_offset;
    int32_t idx_entries = log->segs[1]->oidx.entries;
    /* The batch to damage later: in the middle of segment 2. */
    int64_t bad_pos;
    sk_batch_hdr_t bad;
    bool found;
    assert_int_equal(sk_seg_find(log->segs[2], base2 + 9, &bad_pos, &bad, &found), SK_OK);
    assert_true(found && bad.base_offset > base2);
    sk_logmgr_close(mgr);

    /* Lost index of a sealed segment: rebuilt identically (same entries as at append). */
    char *orig_index = NULL;
    size_t orig_len;
    seg_file(path, sizeof(path), f, "cor-0", base1, ".index");
    assert_int_equal(sk_read_file(path, 1 << 20, &orig_index, &orig_len), SK_OK);
    assert_int_equal(orig_len, (size_t)idx_entries * 8);
    assert_int_equal(unlink(path), 0);
    make_unclean(f);
    log = open_one(f, &mgr, "cor");
    assert_int_equal(sk_log_end_offset(log), 450);
    sk_logmgr_close(mgr);
    char *idx = NULL;
    size_t idx_len;
    assert_int_equal(sk_read_file(path, 1 << 20, &idx, &idx_len), SK_OK);
    assert_int_equal(idx_len, orig_len);
    assert_memory_equal(idx, orig_index, orig_len);
    free(idx);
    free(orig_index);

    /* A flipped byte inside a batch of segment 2: cut there, later segments deleted. */
    make_unclean(f);
    seg_file(path, sizeof(path), f, "cor-0", base2, ".log");
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    int64_t at = bad_pos + SK_BATCH_HEADER_SIZE + 5; /* inside the records: only the CRC notices */
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 0xff;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    log = open_one(f, &mgr, "cor");
    int64_t leo = sk_log_end_offset(log);
    assert_int_equal(leo, bad.base_offset);
    assert_int_equal(sk_log_segment_count(log), 3);
    int64_t batches;
    assert_int_equal(read_all(log, 0, 1 << 20, &batches), leo);
    append_batch(log, 3, 9000, 40, 0, &info);
    sk_logmgr_close(mgr);
}

static void
test_delete(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    sk_log_slice_t s;
    char path[512];
    sk_log_t *log = open_one(f, &mgr, "gone");
    for (int i = 0; i < 3; i++) append_batch(log, 2, 1000, 50, 0, &info);
    assert_int_equal(sk_log_read(log, 0, 1 << 20, INT64_MAX, true, &s), SK_OK);
    assert_int_equal(sk_logmgr_delete(mgr, "gone", 0), SK_OK);
    assert_null(sk_logmgr_get(mgr, "gone", 0));
    assert_int_equal(sk_logmgr_delete(mgr, "gone", 0), SK_ENOENT);
    snprintf(path, sizeof(path), "%s/gone-0", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
    /* The slice still reads after deletion. */
    uint8_t *p = slice_bytes(&s);
    sk_batch_hdr_t h;
    assert_int_equal(sk_batch_hdr_parse(p, (size_t)s.len, &h), SK_OK);
    assert_int_equal(h.base_offset, 0);
    assert_true(sk_batch_crc_ok(p, (size_t)h.batch_length + SK_LOG_OVERHEAD));
    free(p);
    sk_log_slice_release(&s);
    sk_logmgr_close(mgr);

    /* A half-done deletion is finished on open; the live name can be reused. */
    snprintf(path, sizeof(path), "%s/gone-0.0123456789abcdef0123456789abcdef-delete", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    char file[600];
    snprintf(file, sizeof(file), "%s/00000000000000000000.log", path);
    close(open(file, O_CREAT | O_WRONLY, 0644));
    log = open_one(f, &mgr, "gone");
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(sk_log_end_offset(log), 0);
    assert_int_equal(sk_logmgr_create(mgr, "gone", 0, NULL, NULL, &log), SK_EEXIST);
    sk_logmgr_close(mgr);
}

static void
test_checkpoint_files(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    sk_log_t *a, *b;
    sk_uuid_t id;
    char b64[23], want[128], dir[256];

    f->cfg.segment_bytes = 1 << 20;
    sk_uuid_random(&id);
    sk_uuid_to_base64(&id, b64);
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "my-topic", 3, &id, NULL, &a), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "t", 0, NULL, NULL, &b), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "bad/name", 0, NULL, NULL, &b), SK_EINVAL);
    for (int i = 0; i < 4; i++) append_batch(a, 5, 1000, 10, i < 2 ? 1 : 6, &info);
    sk_log_set_high_watermark(a, 15);
    assert_int_equal(sk_log_flush(a), SK_OK);
    append_batch(a, 5, 1000, 10, 6, &info);
    assert_int_equal(sk_logmgr_checkpoint(mgr), SK_OK);

    char *t = file_text(f->dir, SK_CKPT_RECOVERY);
    assert_string_equal(t, "0\n2\nmy-topic 3 20\nt 0 0\n");
    free(t);
    t = file_text(f->dir, SK_CKPT_REPLICATION);
    assert_string_equal(t, "0\n2\nmy-topic 3 15\nt 0 0\n");
    free(t);
    t = file_text(f->dir, SK_CKPT_LOG_START);
    assert_string_equal(t, "0\n2\nmy-topic 3 0\nt 0 0\n");
    free(t);
    snprintf(dir, sizeof(dir), "%s/my-topic-3", f->dir);
    t = file_text(dir, SK_EPOCH_FILE);
    assert_string_equal(t, "0\n2\n1 0\n6 10\n");
    free(t);
    t = file_text(dir, SK_PARTMETA_FILE);
    snprintf(want, sizeof(want), "version: 0\ntopic_id: %s", b64);
    assert_string_equal(t, want);
    free(t);
    sk_logmgr_close(mgr);

    /* Reopen: the dashed topic name splits at the last '-'; values come back. */
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &mgr), SK_OK);
    a = sk_logmgr_get(mgr, "my-topic", 3);
    assert_non_null(a);
    assert_non_null(sk_logmgr_get(mgr, "t", 0));
    assert_int_equal(sk_log_high_watermark(a), 15);
    assert_int_equal(sk_log_end_offset(a), 25);
    assert_memory_equal(sk_log_topic_id(a)->b, id.b, 16);
    assert_int_equal(sk_log_latest_epoch(a), 6);
    sk_log_verify(a);
    sk_logmgr_close(mgr);
}

static void
test_flush_policy(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    f->cfg.flush_interval_messages = 5;
    sk_log_t *log = open_one(f, &mgr, "fl");
    append_batch(log, 3, 1000, 10, 0, &info);
    assert_int_equal(log->recovery_point, 0);
    append_batch(log, 3, 1000, 10, 0, &info);
    assert_int_equal(log->recovery_point, 6);
    sk_logmgr_close(mgr);

    f->cfg.flush_interval_messages = INT64_MAX;
    f->cfg.flush_interval_ms = 100;
    log = open_one(f, &mgr, "fl");
    append_batch(log, 3, 1000, 10, 0, &info);
    assert_int_equal(sk_logmgr_flush_due(mgr, 10000), SK_OK);
    assert_int_equal(log->recovery_point, 6);
    assert_int_equal(sk_logmgr_flush_due(mgr, 10099), SK_OK);
    assert_int_equal(log->recovery_point, 6);
    assert_int_equal(sk_logmgr_flush_due(mgr, 10100), SK_OK);
    assert_int_equal(log->recovery_point, 9);
    sk_logmgr_close(mgr);
}

static void
test_index_full_rolls(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    f->cfg.segment_bytes = 1 << 20;
    f->cfg.segment_index_bytes = 48; /* 6 offset entries, 4 time entries (one kept back) */
    f->cfg.index_interval_bytes = 0;
    sk_log_t *log = open_one(f, &mgr, "ix");
    for (int i = 0; i < 40; i++) append_batch(log, 1, 1000 + i, 10, 0, &info);
    assert_true(sk_log_segment_count(log) >= 8);
    for (int32_t i = 0; i < log->seg_count; i++) assert_true(log->segs[i]->tidx.entries <= 4);
    int64_t batches;
    assert_int_equal(read_all(log, 0, 1 << 20, &batches), 40);
    sk_logmgr_close(mgr);
}

static void
test_write_failure_offline(void **state)
{
    fixture_t *f = *state;
    sk_logmgr_t *mgr;
    sk_append_info_t info;
    size_t len;
    f->cfg.segment_bytes = 1 << 20;
    sk_log_t *log = open_one(f, &mgr, "off");
    append_batch(log, 2, 1000, 10, 0, &info);
    int full = open("/dev/full", O_WRONLY);
    if (full < 0) {
        sk_logmgr_close(mgr);
        skip();
    }
    sk_seg_t *seg = log->segs[0];
    int saved = dup(seg->log->fd);
    assert_true(dup2(full, seg->log->fd) >= 0);
    uint8_t *b = make_batch(2, 1000, 10, &len);
    assert_int_equal(sk_log_append(log, b, len, 0, 1000, &info), SK_EIO);
    assert_int_equal(sk_log_end_offset(log), 2);
    assert_int_equal(sk_log_append(log, b, len, 0, 1000, &info), SK_EIO);
    assert_true(dup2(saved, seg->log->fd) >= 0);
    assert_int_equal(sk_log_append(log, b, len, 0, 1000, &info), SK_EIO); /* stays offline */
    close(saved);
    close(full);
    free(b);
    sk_logmgr_close(mgr);
    /* No clean marker after an offline log: the next open recovers. */
    assert_true(file_size(f->dir, SK_CLEAN_SHUTDOWN_FILE) < 0);
    log = open_one(f, &mgr, "off");
    assert_int_equal(sk_log_end_offset(log), 2);
    sk_logmgr_close(mgr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_read_roll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_middle_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_append_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclean_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclean_epoch_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclean_corrupt_sealed_and_lost_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_full_rolls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_offline, setup, teardown),
    };
    sk_log_setup(SK_LOG_ERROR, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
