/* tests/unit/test_storage_crash.c: crash consistency of the storage engine over a file
 * layer that remembers what was not fsynced and can drop or tear it.
 *
 * The test program defines pwrite, write, ftruncate, fdatasync and fsync itself, so the
 * storage library linked into it calls these (they forward to the kernel with
 * syscall()). For every segment .log under the workload directory they keep a model:
 * the bytes as of the last fdatasync/fsync of the file, the writes and truncations since
 * then, and whether the file's directory entry is durable (its directory was fsynced
 * after it was created). Other files (checkpoints, snapshots, indexes, which storage
 * writes atomically, fsyncs or rebuilds) are copied as they are, or torn on purpose.
 *
 * Workload: one partition with small segments (many rolls), idempotent producers and
 * plain batches, a flush every few appends and a checkpoint now and then. After every
 * append the workload pauses and, for each crash mode, a crash image of the data dir is
 * built in a second directory and opened with sk_logmgr_open (recovery):
 *   ALL     every unsynced write reached the disk (the process was killed);
 *   NONE    none did, and files whose directory entry was not synced are gone;
 *           (directory entries persist in the order they were made, as ext4 and xfs
 *           journal them: in the other modes the unsynced ones survive up to a random
 *           point);
 *   TORN    the unsynced writes reached the disk in order up to a random one, which is
 *           cut short (and followed by garbage half of the time);
 *   RANDOM  each unsynced write reached the disk or not, sector by sector; unsynced
 *           snapshots and indexes are torn too.
 * Each recovered log must pass sk_log_verify and hold exactly a prefix of the appended
 * batches (compared byte for byte), at least everything below the last flush (ALL:
 * everything), and its producer state must match what survived: the last surviving
 * batch of a producer is answered as a duplicate and its next sequence is accepted.
 * The image is then closed, reopened after that clean stop and checked again. The seed
 * is printed (env SEED repeats a run). A second test fails an fsync and checks that the
 * whole data dir goes offline and that no fsync is tried again. A third runs the
 * strict setting (flush.messages=1) through the group-commit flusher (flusher.c, run
 * round by round on this thread) and checks that every acknowledged batch survives
 * every crash mode, the power-loss one (NONE) included. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/storage_int.h"

#define APPENDS 70
#define BATCHES_MAX (APPENDS + 8)

#include "crash_fs.h"

static bool
log_has_pending(const char *dir, const char *name)
{
    /* <base>.index / .timeindex / .snapshot -> <base>.log */
    char path[600];
    snprintf(path, sizeof(path), "%s/%.20s.log", dir, name);
    const mfile_t *f = model_lookup(path);
    return f && f->op_count > 0;
}

static void
copy_entry(crash_ctx_t *c, const char *from_dir, const char *to_dir, const char *name)
{
    char from[600], to[600];
    char *data = NULL;
    size_t len = 0;
    snprintf(from, sizeof(from), "%s/%s", from_dir, name);
    snprintf(to, sizeof(to), "%s/%s", to_dir, name);
    if (has_suffix(name, ".log")) {
        const mfile_t *f = model_lookup(from);
        uint8_t *img = NULL;
        if (!f) {
            if (c->mode != MODE_NONE) put_file(to, (const uint8_t *)"", 0); /* created, never written */
            return;
        }
        if (crash_contents(c, f, &img, &len)) put_file(to, img, len);
        free(img);
        return;
    }
    assert_int_equal(sk_read_file(from, 64u << 20, &data, &len), SK_OK);
    bool torn_kind = has_suffix(name, ".snapshot") || has_suffix(name, "index");
    if (c->mode == MODE_RANDOM && torn_kind && (has_suffix(name, ".snapshot") || log_has_pending(from_dir, name)) &&
        rnd(c) % 2)
        len = len ? (size_t)(rnd(c) % len) : 0;
    put_file(to, (const uint8_t *)data, len);
    free(data);
}

static void
build_image(crash_ctx_t *c, const char *src, const char *dst)
{
    struct dirent *de;
    struct stat st;
    char sub_src[600], sub_dst[600];
    DIR *d = opendir(src);
    assert_non_null(d);
    assert_int_equal(mkdir(dst, 0755), 0);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        snprintf(sub_src, sizeof(sub_src), "%s/%s", src, de->d_name);
        snprintf(sub_dst, sizeof(sub_dst), "%s/%s", dst, de->d_name);
        assert_int_equal(stat(sub_src, &st), 0);
        if (S_ISDIR(st.st_mode)) build_image(c, sub_src, sub_dst);
        else copy_entry(c, src, dst, de->d_name);
    }
    closedir(d);
}

/* ---- workload and checks ---- */

typedef struct appended {
    uint8_t *bytes; /* owned: the batch as stamped by the append */
    size_t len;
    int64_t base_offset;
    int64_t producer_id;
    int16_t epoch;
    int32_t base_seq;
    int32_t count;
} appended_t;

typedef struct fixture {
    char dir[64];
    char work[96];
    char image[96];
    sk_log_config_t cfg;
    appended_t batches[BATCHES_MAX];
    int32_t batch_count;
    uint64_t seed;
    int64_t images;
} fixture_t;

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void
rm_tree(const char *path)
{
    nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    const char *seed = getenv("SEED");
    snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-crash-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->work, sizeof(f->work), "%s/work", f->dir);
    snprintf(f->image, sizeof(f->image), "%s/image", f->dir);
    sk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = 1500;
    f->cfg.index_interval_bytes = 300;
    f->cfg.segment_index_bytes = 1200; /* small preallocated indexes: cheap images */
    f->seed = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL);
    printf("seed=%llu (SEED=... repeats the run)\n", (unsigned long long)f->seed);
    snprintf(g.root, sizeof(g.root), "%s/", f->work);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    g.active = false;
    model_reset();
    rm_tree(f->dir);
    for (int32_t i = 0; i < f->batch_count; i++) free(f->batches[i].bytes);
    free(f);
    return 0;
}

static appended_t *
append_one(fixture_t *f, sk_log_t *log, uint64_t *rng, int64_t pid, int16_t epoch, int32_t seq)
{
    sk_record_t recs[8];
    uint8_t value[120];
    int32_t n = 1 + (int32_t)(*rng % 6);
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = pid, .producer_epoch = epoch,
                            .base_sequence = pid >= 0 ? seq : -1, .partition_leader_epoch = -1};
    sk_append_info_t info;
    uint8_t *b = NULL;
    size_t len;

    memset(recs, 0, sizeof(recs));
    for (int32_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(value); k++) value[k] = (uint8_t)(f->batch_count * 31 + i * 7 + k);
        recs[i].timestamp = sk_wall_ms() - 1000 + f->batch_count;
        recs[i].key = (sk_bytes_t){NULL, -1};
        recs[i].value = (sk_bytes_t){value, (int32_t)(40 + (*rng >> 8) % 80)};
    }
    assert_int_equal(sk_batch_build(&spec, recs, n, &b, &len), SK_OK);
    assert_int_equal(sk_log_append(log, b, len, 0, sk_wall_ms(), &info), SK_OK);
    assert_false(info.duplicate);
    appended_t *a = &f->batches[f->batch_count++];
    *a = (appended_t){.bytes = b, .len = len, .base_offset = info.base_offset, .producer_id = pid,
                      .epoch = epoch, .base_seq = seq, .count = n};
    return a;
}

/* The recovered log must hold a prefix of the appended batches, byte for byte. */
static int32_t
check_prefix(fixture_t *f, sk_log_t *log)
{
    int64_t next = 0;
    int32_t i = 0;
    if (sk_log_start_offset(log) != 0)
        fail_msg("the log starts at %lld, not 0 (LEO %lld): its first segment was lost",
                 (long long)sk_log_start_offset(log), (long long)sk_log_end_offset(log));
    for (;;) {
        sk_log_slice_t s;
        assert_int_equal(sk_log_read(log, next, 1 << 20, INT64_MAX, true, &s), SK_OK);
        if (s.len == 0) break;
        uint8_t *p = malloc((size_t)s.len);
        assert_int_equal(pread(s.file->fd, p, (size_t)s.len, s.pos), s.len);
        size_t at = 0;
        while (at < (size_t)s.len) {
            assert_true(i < f->batch_count);
            const appended_t *a = &f->batches[i++];
            assert_true(at + a->len <= (size_t)s.len);
            assert_memory_equal(p + at, a->bytes, a->len);
            at += a->len;
            next = a->base_offset + a->count;
        }
        free(p);
        sk_log_slice_release(&s);
    }
    assert_int_equal(sk_log_end_offset(log), next);
    return i;
}

/* Producer state after recovery agrees with the surviving batches. */
static void
check_producers(fixture_t *f, sk_log_t *log, int32_t survived)
{
    for (int64_t pid = 100; pid <= 101; pid++) {
        const appended_t *last = NULL;
        for (int32_t i = 0; i < survived; i++)
            if (f->batches[i].producer_id == pid) last = &f->batches[i];
        int16_t epoch;
        int32_t last_seq;
        int rc = sk_log_producer_get(log, pid, &epoch, &last_seq);
        if (!last) {
            assert_int_equal(rc, SK_ENOENT);
            continue;
        }
        if (rc != SK_OK)
            fail_msg("producer %lld unknown after recovery; its last batch at offset %lld survived (%d of %d)",
                     (long long)pid, (long long)last->base_offset, survived, f->batch_count);
        assert_int_equal(epoch, last->epoch);
        assert_int_equal(last_seq, last->base_seq + last->count - 1);
        /* A retry of it is a duplicate with its original offset. */
        uint8_t *copy = malloc(last->len);
        memcpy(copy, last->bytes, last->len);
        sk_append_info_t info;
        assert_int_equal(sk_log_append(log, copy, last->len, 0, sk_wall_ms(), &info), SK_OK);
        assert_true(info.duplicate);
        assert_int_equal(info.base_offset, last->base_offset);
        free(copy);
    }
}

static void
crash_and_check(fixture_t *f, int64_t flushed)
{
    for (int mode = 0; mode < MODE_COUNT; mode++) {
        crash_ctx_t c = {.rng = f->seed * 1000003 + (uint64_t)f->images * 31 + (uint64_t)mode + 1, .mode = mode};
        sk_logmgr_t *mgr = NULL;
        g.active = false; /* the image is not modelled */
        rm_tree(f->image);
        /* Directory entries reach the disk in the order they were made (ext4 and xfs
         * journal them in order): the unsynced ones survive up to a random point. */
        c.vanish_from = g.count;
        if (mode != MODE_ALL) {
            int32_t first = g.count, n = 0;
            for (int32_t i = 0; i < g.count; i++)
                if (!g.files[i].entry_durable) first = SK_MIN(first, i), n++;
            c.vanish_from = mode == MODE_NONE || n == 0 ? first : first + (int32_t)(rnd(&c) % (uint64_t)(n + 1));
        }
        build_image(&c, f->work, f->image);
        f->images++;
        int rc = sk_logmgr_open(f->image, &f->cfg, &mgr);
        if (rc != SK_OK) fail_msg("open failed: mode=%s batches=%d rc=%d", mode_names[mode], f->batch_count, rc);
        sk_log_t *log = sk_logmgr_get(mgr, "c", 0);
        assert_non_null(log);
        sk_log_verify(log);
        printf("crash image %lld: mode=%s after %d appends, flushed below %lld\n", (long long)f->images,
               mode_names[mode], f->batch_count, (long long)flushed);
        int32_t survived = check_prefix(f, log);
        int64_t leo = sk_log_end_offset(log);
        if (leo < flushed)
            fail_msg("lost flushed data: mode=%s leo=%lld flushed=%lld", mode_names[mode], (long long)leo,
                     (long long)flushed);
        if (mode == MODE_ALL) assert_int_equal(survived, f->batch_count);
        check_producers(f, log, survived);
        sk_log_verify(log);
        sk_logmgr_close(mgr);
        /* After that clean stop everything is trusted as it is. */
        assert_int_equal(sk_logmgr_open(f->image, &f->cfg, &mgr), SK_OK);
        log = sk_logmgr_get(mgr, "c", 0);
        sk_log_verify(log);
        assert_int_equal(sk_log_end_offset(log), leo);
        sk_logmgr_close(mgr);
        g.active = true;
    }
}

static void
test_crash_points(void **state)
{
    fixture_t *f = *state;
    uint64_t rng = f->seed | 1;
    sk_logmgr_t *mgr = NULL;
    sk_log_t *log = NULL;
    int32_t seq[2] = {0, 0};
    int16_t epoch[2] = {0, 0};

    g.active = true;
    assert_int_equal(sk_logmgr_open(f->work, &f->cfg, &mgr), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "c", 0, NULL, NULL, &log), SK_OK);
    for (int32_t step = 0; step < APPENDS; step++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int which = (int)(rng % 3); /* producer 100, producer 101, or no producer */
        if (which < 2) {
            if (rng % 17 == 0) { /* a new epoch starts at sequence 0 */
                epoch[which]++;
                seq[which] = 0;
            }
            appended_t *a = append_one(f, log, &rng, 100 + which, epoch[which], seq[which]);
            seq[which] += a->count;
        } else {
            append_one(f, log, &rng, -1, -1, -1);
        }
        if (step % 7 == 6) assert_int_equal(sk_log_flush(log), SK_OK);
        if (step % 11 == 10) assert_int_equal(sk_logmgr_checkpoint(mgr), SK_OK);
        sk_log_verify(log);
        crash_and_check(f, log->recovery_point);
    }
    assert_true(sk_log_segment_count(log) >= 5);
    printf("crash images recovered and checked: %lld over %d segments\n", (long long)f->images,
           sk_log_segment_count(log));
    g.active = false;
    sk_logmgr_close(mgr);
}

/* A failed fsync takes the whole data dir offline at once and is never retried: after
 * a failed fsync the kernel may have dropped the dirty pages, and a second fsync could
 * report success for data that is gone. */
static void
test_fsync_failure_takes_dir_offline(void **state)
{
    fixture_t *f = *state;
    uint64_t rng = 7;
    sk_logmgr_t *mgr = NULL;
    sk_log_t *a = NULL, *b = NULL;
    sk_append_info_t info;

    g.active = true;
    assert_int_equal(sk_logmgr_open(f->work, &f->cfg, &mgr), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "c", 0, NULL, NULL, &a), SK_OK);
    assert_int_equal(sk_logmgr_create(mgr, "d", 0, NULL, NULL, &b), SK_OK);
    append_one(f, a, &rng, -1, -1, -1);
    append_one(f, b, &rng, -1, -1, -1);
    g.fail_syncs = 1;
    assert_int_equal(sk_log_flush(a), SK_EIO);
    assert_true(sk_logmgr_offline(mgr));
    assert_true(sk_log_offline(b)); /* the other log of the dir too */
    int64_t calls = g.sync_calls;
    assert_int_equal(sk_log_flush(a), SK_EIO); /* no second fsync of the failed log */
    assert_int_equal(g.sync_calls, calls);
    uint8_t *batch = malloc(f->batches[0].len);
    memcpy(batch, f->batches[0].bytes, f->batches[0].len);
    assert_int_equal(sk_log_append(b, batch, f->batches[0].len, 0, sk_wall_ms(), &info), SK_EIO);
    free(batch);
    /* Periodic flushes skip the offline dir. */
    a->cfg.flush_interval_ms = b->cfg.flush_interval_ms = 0;
    assert_int_equal(sk_logmgr_flush_due(mgr, sk_wall_ms()), SK_OK);
    assert_int_equal(g.sync_calls, calls);
    g.active = false;
    sk_logmgr_close(mgr); /* no clean-shutdown marker: the next start recovers */
    char marker[256];
    snprintf(marker, sizeof(marker), "%s/%s", f->work, SK_CLEAN_SHUTDOWN_FILE);
    assert_int_equal(access(marker, F_OK), -1);
}

/* The strict setting (flush.messages=1) with the group-commit flusher: an append's
 * acknowledgement is what its flush waiter reports. Rounds run now and then, so some
 * cover several appends; before each round and after it, crash images are checked:
 * every acknowledged batch must survive every crash mode, NONE included (all unsynced
 * writes lost, unsynced directory entries gone: a power loss). */
typedef struct strict_ack {
    sk_flush_waiter_t w;
    int64_t offset; /* everything below is acknowledged once done */
    int64_t *acked; /* borrowed: the highest acknowledged offset */
    int calls;
} strict_ack_t;

static void
strict_ack_done(sk_flush_waiter_t *w, int rc)
{
    strict_ack_t *a = w->ctx;
    assert_int_equal(rc, SK_OK);
    a->calls++;
    *a->acked = SK_MAX(*a->acked, a->offset);
}

static void
test_strict_acks_survive_power_loss(void **state)
{
    fixture_t *f = *state;
    enum { STRICT_APPENDS = 40 };
    strict_ack_t acks[STRICT_APPENDS];
    uint64_t rng = f->seed * 7 + 3;
    sk_logmgr_t *mgr = NULL;
    sk_flusher_t *fl = NULL;
    sk_log_t *log = NULL;
    int64_t acked = 0;
    int32_t seq = 0, rounds = 0;

    memset(acks, 0, sizeof(acks));
    f->cfg.flush_interval_messages = 1;
    g.active = true;
    assert_int_equal(sk_logmgr_open(f->work, &f->cfg, &mgr), SK_OK);
    assert_int_equal(sk_flusher_new(false, NULL, NULL, &fl), SK_OK);
    sk_logmgr_set_flusher(mgr, fl);
    assert_int_equal(sk_logmgr_create(mgr, "c", 0, NULL, NULL, &log), SK_OK);
    for (int32_t step = 0; step < STRICT_APPENDS; step++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        appended_t *a = rng % 2 ? append_one(f, log, &rng, 100, 0, seq) : append_one(f, log, &rng, -1, -1, -1);
        if (a->producer_id >= 0) seq += a->count;
        acks[step].offset = a->base_offset + a->count;
        acks[step].acked = &acked;
        int rc = sk_log_flush_wait(log, acks[step].offset, &acks[step].w, strict_ack_done, &acks[step]);
        assert_int_equal(rc, SK_AGAIN); /* never acknowledged before an fsync */
        if (rng % 3 == 0) continue;     /* the next append joins the same round */
        crash_and_check(f, acked);      /* round not run: only older acks must hold */
        while (sk_flusher_work(fl) > 0) {
            sk_flusher_poll(fl);
            rounds++;
        }
        assert_int_equal(acked, sk_log_end_offset(log));
        sk_log_verify(log);
        crash_and_check(f, acked);
    }
    sk_flusher_drain(fl);
    for (int32_t i = 0; i < STRICT_APPENDS; i++) assert_int_equal(acks[i].calls, 1);
    assert_true(rounds < STRICT_APPENDS); /* some rounds covered several appends */
    assert_true(sk_log_segment_count(log) >= 3);
    printf("strict: %d appends acknowledged in %d rounds, %lld crash images\n", STRICT_APPENDS, rounds,
           (long long)f->images);
    g.active = false;
    sk_logmgr_close(mgr);
    sk_flusher_free(fl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_failure_takes_dir_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_acks_survive_power_loss, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
