/* tests/unit/test_storage_flusher.c: the group-commit flusher and the trash thread, on
 * real files under /tmp. The program defines fsync and fdatasync itself (they forward
 * to the kernel with syscall()), so it counts every sync the storage library makes and
 * can fail one. Checked:
 *   - batching: 40 acknowledgements parked under flush.messages=1 while a job waits are
 *     answered by that one job (a few fsyncs, not 40); three logs share one round;
 *     requests arriving while a job runs form the next one;
 *   - completion order: waiters complete in offset order, each once, only after the
 *     round that covered them, and the recovery point follows;
 *   - a failed fsync fails the waiters with SK_EIO, takes the whole data dir offline and
 *     is never retried (no later fsync reaches the file layer);
 *   - a log deleted or a manager closed with parked waiters: the waiters fail (delete)
 *     or complete (close), the job in flight finishes without the log (ASan: no leak,
 *     no use after free);
 *   - the threaded flusher and trash thread wake their owner and finish;
 *   - flush.ms with Kafka's defaults: acknowledged at once, fsynced later by the
 *     worker, never by the thread calling flush_due;
 *   - deletion: retention renames segments to .deleted and the trash removes them;
 *     leftovers are swept at the next open; a deleted partition directory is removed.
 * Most cases use the unthreaded mode, in which the test runs the worker's rounds
 * itself, so the batching is deterministic. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/storage_int.h"

static struct {
    pthread_mutex_t mu;
    int64_t sync_calls;
    int fail_syncs; /* > 0: fail that many more syncs with EIO */
    int delay_us;   /* each sync takes at least this long (a slow disk) */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int
sync_common(int fd, long nr)
{
    pthread_mutex_lock(&g.mu);
    g.sync_calls++;
    bool fail = g.fail_syncs > 0;
    if (fail) g.fail_syncs--;
    int delay = g.delay_us;
    pthread_mutex_unlock(&g.mu);
    if (delay > 0) usleep((useconds_t)delay);
    if (fail) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(nr, fd);
}

int
fdatasync(int fd)
{
    return sync_common(fd, SYS_fdatasync);
}

int
fsync(int fd)
{
    return sync_common(fd, SYS_fsync);
}

static int64_t
sync_calls(void)
{
    pthread_mutex_lock(&g.mu);
    int64_t n = g.sync_calls;
    pthread_mutex_unlock(&g.mu);
    return n;
}

typedef struct fixture {
    char dir[64];
    sk_log_config_t cfg;
    sk_logmgr_t *mgr;
    sk_flusher_t *fl;
    sk_log_t *log;
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
    snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-flusher-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    sk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = 4096;
    f->cfg.flush_interval_messages = 1; /* the strict setting */
    g.fail_syncs = 0;
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

/* Open the manager with an unthreaded flusher and one partition "t-0". */
static void
open_mgr(fixture_t *f)
{
    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &f->mgr), SK_OK);
    assert_int_equal(sk_flusher_new(false, NULL, NULL, &f->fl), SK_OK);
    sk_logmgr_set_flusher(f->mgr, f->fl);
    f->log = sk_logmgr_get(f->mgr, "t", 0);
    if (!f->log) assert_int_equal(sk_logmgr_create(f->mgr, "t", 0, NULL, NULL, &f->log), SK_OK);
}

static void
close_mgr(fixture_t *f)
{
    sk_logmgr_close(f->mgr);
    sk_flusher_free(f->fl);
    f->mgr = NULL;
    f->fl = NULL;
    f->log = NULL;
}

static void
append_one(sk_log_t *log, int32_t vlen, sk_append_info_t *info)
{
    sk_record_t rec;
    uint8_t value[600];
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
    uint8_t *b = NULL;
    size_t len;

    assert_true(vlen <= (int32_t)sizeof(value));
    memset(value, 'v', sizeof(value));
    memset(&rec, 0, sizeof(rec));
    rec.timestamp = 1000;
    rec.key = (sk_bytes_t){NULL, -1};
    rec.value = (sk_bytes_t){value, vlen};
    assert_int_equal(sk_batch_build(&spec, &rec, 1, &b, &len), SK_OK);
    assert_int_equal(sk_log_append(log, b, len, 0, 1000, info), SK_OK);
    free(b);
}

/* A parked acknowledgement. */
typedef struct ack {
    sk_flush_waiter_t w;
    int64_t offset;
    int rc;
    int calls;
    int64_t *order;    /* borrowed: completion order is recorded here */
    int32_t *order_n;
} ack_t;

static void
ack_done(sk_flush_waiter_t *w, int rc)
{
    ack_t *a = w->ctx;
    a->calls++;
    a->rc = rc;
    if (a->order) a->order[(*a->order_n)++] = a->offset;
    /* storage must have dropped the waiter before calling back */
    assert_null(w->log);
}

/* Append one record and park its acknowledgement as the produce path does. */
static int
append_and_park(sk_log_t *log, ack_t *a)
{
    sk_append_info_t info;
    append_one(log, 100, &info);
    assert_true(info.flush_wait);
    a->offset = info.last_offset;
    return sk_log_flush_wait(log, info.last_offset + 1, &a->w, ack_done, a);
}

static void
test_batching(void **state)
{
    fixture_t *f = *state;
    enum { N = 40 };
    ack_t acks[N];
    int64_t order[N];
    int32_t order_n = 0;
    sk_flusher_stats_t st;
    sk_log_t *u, *v;

    open_mgr(f);
    memset(acks, 0, sizeof(acks));
    /* The first append queues a job; the others extend it while it waits. */
    for (int i = 0; i < N; i++) {
        acks[i].order = order;
        acks[i].order_n = &order_n;
        assert_int_equal(append_and_park(f->log, &acks[i]), SK_AGAIN);
    }
    for (int i = 0; i < N; i++) assert_int_equal(acks[i].calls, 0); /* nothing before an fsync */
    assert_int_equal(sk_flusher_poll(f->fl), 0); /* nor before the worker ran */
    int64_t syncs_before = sync_calls();
    assert_int_equal(sk_flusher_work(f->fl), 1);
    for (int i = 0; i < N; i++) assert_int_equal(acks[i].calls, 0); /* answered on the loop thread only */
    assert_int_equal(sk_flusher_poll(f->fl), 1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(acks[i].calls, 1);
        assert_int_equal(acks[i].rc, SK_OK);
    }
    assert_int_equal(order_n, N);
    for (int i = 0; i < N; i++) assert_int_equal(order[i], i); /* offset order */
    sk_flusher_stats(f->fl, &st);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.jobs, 1);
    assert_true(sync_calls() - syncs_before == st.fsync_calls);
    /* .log, .index, .timeindex of each segment and the directory: not one per ack */
    assert_true(st.fsync_calls <= 3 * sk_log_segment_count(f->log) + 1);
    assert_true(st.fsync_calls < N / 4);
    assert_int_equal(sk_log_durable_offset(f->log), N);
    assert_int_equal(f->log->recovery_point, N);
    assert_int_equal(sk_flusher_work(f->fl), 0); /* nothing left over */
    /* Already durable: no parking. */
    ack_t late = {0};
    assert_int_equal(sk_log_flush_wait(f->log, N, &late.w, ack_done, &late), SK_OK);
    assert_int_equal(late.calls, 0);
    sk_log_verify(f->log);

    /* Three logs with acknowledgements parked: one round of the worker, one job each. */
    assert_int_equal(sk_logmgr_create(f->mgr, "u", 0, NULL, NULL, &u), SK_OK);
    assert_int_equal(sk_logmgr_create(f->mgr, "v", 0, NULL, NULL, &v), SK_OK);
    sk_log_t *logs[3] = {f->log, u, v};
    ack_t more[30];
    memset(more, 0, sizeof(more));
    for (int i = 0; i < 30; i++) assert_int_equal(append_and_park(logs[i % 3], &more[i]), SK_AGAIN);
    assert_int_equal(sk_flusher_work(f->fl), 3);
    assert_int_equal(sk_flusher_poll(f->fl), 3);
    for (int i = 0; i < 30; i++) assert_int_equal(more[i].calls, 1);
    sk_flusher_stats(f->fl, &st);
    assert_int_equal(st.batches, 2);
    assert_int_equal(st.jobs, 4);
    close_mgr(f);
}

/* Requests arriving while a log's job runs (taken by the worker) form the next job.
 * Rolls meanwhile: the job synced the sealed segment through its own descriptors, and
 * the recovery point stays at the base of the segment that was active when the job
 * was built (its final index entries were not in it). */
static void
test_roll_during_round(void **state)
{
    fixture_t *f = *state;
    ack_t acks[60];
    memset(acks, 0, sizeof(acks));

    open_mgr(f);
    assert_int_equal(append_and_park(f->log, &acks[0]), SK_AGAIN);
    int64_t base0 = f->log->segs[0]->base_offset;
    assert_int_equal(sk_flusher_work(f->fl), 1); /* ran; the loop has not polled yet */
    for (int i = 1; i < 60; i++) assert_int_equal(append_and_park(f->log, &acks[i]), SK_AGAIN);
    assert_true(sk_log_segment_count(f->log) > 2); /* 4 KiB segments, ~170 B batches */
    assert_int_equal(sk_flusher_poll(f->fl), 1);
    assert_int_equal(acks[0].calls, 1);
    for (int i = 1; i < 60; i++) assert_int_equal(acks[i].calls, 0);
    assert_int_equal(sk_log_durable_offset(f->log), 1);
    assert_int_equal(f->log->recovery_point, base0); /* its segment was sealed meanwhile */
    assert_int_equal(sk_flusher_work(f->fl), 1);      /* the next job, queued by the poll */
    assert_int_equal(sk_flusher_poll(f->fl), 1);
    for (int i = 0; i < 60; i++) assert_int_equal(acks[i].calls, 1);
    assert_int_equal(sk_log_durable_offset(f->log), 60);
    assert_int_equal(f->log->recovery_point, 60);
    /* Sealed segments were synced with their indexes; the active one's indexes are
     * left to recovery (the recovery point lies inside it). */
    for (int32_t i = 0; i < f->log->seg_count - 1; i++) assert_true(f->log->segs[i]->synced);
    assert_false(f->log->segs[f->log->seg_count - 1]->synced);
    sk_log_verify(f->log);
    close_mgr(f);
    /* The close was clean; a reopen finds everything. */
    open_mgr(f);
    assert_int_equal(sk_log_end_offset(f->log), 60);
    close_mgr(f);
}

static void
test_failed_fsync_offlines_dir(void **state)
{
    fixture_t *f = *state;
    ack_t a = {0}, b = {0}, c = {0};
    sk_log_t *other;
    sk_append_info_t info;

    open_mgr(f);
    assert_int_equal(sk_logmgr_create(f->mgr, "u", 0, NULL, NULL, &other), SK_OK);
    assert_int_equal(append_and_park(f->log, &a), SK_AGAIN);
    assert_int_equal(append_and_park(f->log, &b), SK_AGAIN);
    g.fail_syncs = 1;
    assert_int_equal(sk_flusher_work(f->fl), 1);
    int64_t syncs = sync_calls();
    assert_int_equal(sk_flusher_poll(f->fl), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, SK_EIO);
    assert_int_equal(b.calls, 1); /* its round will never come */
    assert_int_equal(b.rc, SK_EIO);
    assert_true(sk_logmgr_offline(f->mgr));
    assert_true(sk_log_offline(f->log));
    assert_true(sk_log_offline(other)); /* the whole data dir */
    assert_int_equal(sk_flusher_work(f->fl), 0); /* no second round was queued */
    /* Nothing more is written or fsynced. */
    size_t len;
    uint8_t *batch = NULL;
    sk_record_t rec = {.timestamp = 1, .key = {NULL, -1}, .value = {(const uint8_t *)"x", 1}};
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .producer_id = -1, .producer_epoch = -1, .base_sequence = -1};
    assert_int_equal(sk_batch_build(&spec, &rec, 1, &batch, &len), SK_OK);
    assert_int_equal(sk_log_append(f->log, batch, len, 0, 1000, &info), SK_EIO);
    free(batch);
    assert_int_equal(sk_log_flush_wait(f->log, 5, &c.w, ack_done, &c), SK_EIO);
    assert_int_equal(sk_log_flush_request(f->log), SK_EIO);
    assert_int_equal(sk_logmgr_flush_due(f->mgr, INT64_MAX / 2), SK_OK);
    while (sk_flusher_work(f->fl) > 0) sk_flusher_poll(f->fl);
    assert_int_equal(sync_calls(), syncs);
    assert_int_equal(c.calls, 0);
    close_mgr(f);
    /* No clean-shutdown marker after a failure: the next open recovers. */
    char marker[128];
    snprintf(marker, sizeof(marker), "%s/%s", f->dir, SK_CLEAN_SHUTDOWN_FILE);
    assert_int_not_equal(access(marker, F_OK), 0);
}

static void
test_close_with_pending(void **state)
{
    fixture_t *f = *state;
    ack_t a = {0}, b = {0}, c = {0}, d = {0};

    open_mgr(f);
    assert_int_equal(append_and_park(f->log, &a), SK_AGAIN);
    assert_int_equal(append_and_park(f->log, &b), SK_AGAIN);
    /* A cancelled waiter is never called. */
    sk_log_flush_cancel(&b.w);
    /* Deleting the partition with a round queued: waiters fail at once, the round
     * runs on descriptors of its own and finishes without the log. */
    assert_int_equal(sk_logmgr_delete(f->mgr, "t", 0), SK_OK);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.rc, SK_EIO);
    assert_int_equal(sk_flusher_work(f->fl), 1);
    assert_int_equal(sk_flusher_poll(f->fl), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 0);
    /* Closing the manager with waiters parked: they complete (the final flush runs
     * their round first), and the close is clean. */
    assert_int_equal(sk_logmgr_create(f->mgr, "t", 1, NULL, NULL, &f->log), SK_OK);
    assert_int_equal(append_and_park(f->log, &c), SK_AGAIN);
    assert_int_equal(append_and_park(f->log, &d), SK_AGAIN);
    close_mgr(f);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.rc, SK_OK);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.rc, SK_OK);
    char marker[128];
    snprintf(marker, sizeof(marker), "%s/%s", f->dir, SK_CLEAN_SHUTDOWN_FILE);
    assert_int_equal(access(marker, F_OK), 0);
}

/* ---- threaded ---- */

typedef struct wake_ctx {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wakes;
} wake_ctx_t;

static void
on_wake(void *p)
{
    wake_ctx_t *w = p;
    pthread_mutex_lock(&w->mu);
    w->wakes++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void
test_threaded(void **state)
{
    fixture_t *f = *state;
    wake_ctx_t wc = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    enum { N = 200 };
    ack_t *acks = calloc(N, sizeof(*acks));
    int64_t order[N];
    int32_t order_n = 0, done = 0;

    assert_int_equal(sk_logmgr_open(f->dir, &f->cfg, &f->mgr), SK_OK);
    assert_int_equal(sk_flusher_new(true, on_wake, &wc, &f->fl), SK_OK);
    sk_logmgr_set_flusher(f->mgr, f->fl);
    assert_int_equal(sk_logmgr_create(f->mgr, "t", 0, NULL, NULL, &f->log), SK_OK);
    g.delay_us = 2000; /* a slow disk: appends keep coming while a job runs */
    int64_t syncs0 = sync_calls();
    for (int i = 0; i < N; i++) {
        while (i == 1 && sync_calls() == syncs0) usleep(100); /* the worker took the first job */
        acks[i].order = order;
        acks[i].order_n = &order_n;
        int rc = append_and_park(f->log, &acks[i]);
        assert_true(rc == SK_AGAIN || rc == SK_OK);
        if (rc == SK_OK) acks[i].calls = 1, order[order_n++] = acks[i].offset;
        sk_flusher_poll(f->fl); /* what the loop does when woken */
    }
    while (order_n < N) {
        pthread_mutex_lock(&wc.mu);
        int seen = wc.wakes;
        while (wc.wakes == seen && f->log->flush_job) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 5;
            assert_int_equal(pthread_cond_timedwait(&wc.cv, &wc.mu, &ts), 0);
        }
        pthread_mutex_unlock(&wc.mu);
        sk_flusher_poll(f->fl);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(acks[i].calls, 1);
        assert_int_equal(acks[i].rc, SK_OK);
        assert_int_equal(order[i], i);
        done++;
    }
    assert_int_equal(done, N);
    assert_true(wc.wakes > 0);
    sk_flusher_stats_t st;
    sk_flusher_stats(f->fl, &st);
    /* Each job takes >= 6 ms (three syncs): 200 appends in far fewer jobs. */
    printf("threaded: %d acks in %lld jobs, %lld fsyncs\n", N, (long long)st.jobs, (long long)st.fsync_calls);
    assert_true(st.jobs >= 2 && st.jobs < N / 4);
    g.delay_us = 0;
    close_mgr(f);
    free(acks);
}

/* ---- deletion ---- */

static int
count_suffix(const char *dir, const char *suffix)
{
    struct dirent *de;
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t m = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        size_t k = strlen(de->d_name);
        if (k >= m && strcmp(de->d_name + k - m, suffix) == 0) n++;
    }
    closedir(d);
    return n;
}

static void
test_trash(void **state)
{
    fixture_t *f = *state;
    sk_trash_t *t;
    sk_append_info_t info;
    char pdir[128];
    int32_t deleted;

    f->cfg.flush_interval_messages = INT64_MAX;
    open_mgr(f);
    assert_int_equal(sk_trash_new(false, &t), SK_OK);
    sk_logmgr_set_trash(f->mgr, t);
    for (int i = 0; i < 60; i++) append_one(f->log, 300, &info);
    int32_t segs = sk_log_segment_count(f->log);
    assert_true(segs >= 4);
    snprintf(pdir, sizeof(pdir), "%s/t-0", f->dir);
    int logs_before = count_suffix(pdir, ".log");
    sk_log_set_high_watermark(f->log, sk_log_end_offset(f->log));
    /* Everything but the active segment goes by size. */
    assert_int_equal(sk_log_retention(f->log, 2000, -1, 0, &deleted), SK_OK);
    assert_int_equal(deleted, segs - 1);
    assert_int_equal(count_suffix(pdir, ".log"), logs_before - deleted);
    assert_int_equal(count_suffix(pdir, ".log.deleted"), deleted); /* renamed, not gone */
    assert_int_equal(count_suffix(pdir, ".index.deleted"), deleted);
    int32_t n = sk_trash_work(t);
    assert_true(n >= deleted * 3);
    assert_int_equal(count_suffix(pdir, ".deleted"), 0);
    assert_true(sk_trash_removed(t) >= deleted * 3);
    sk_log_verify(f->log);
    /* A crash between rename and unlink: the next open sweeps them. */
    for (int i = 0; i < 30; i++) append_one(f->log, 300, &info);
    sk_log_set_high_watermark(f->log, sk_log_end_offset(f->log));
    assert_int_equal(sk_log_retention(f->log, 2000, -1, 0, &deleted), SK_OK);
    assert_true(deleted > 0);
    assert_true(count_suffix(pdir, ".deleted") > 0);
    int64_t end = sk_log_end_offset(f->log);
    close_mgr(f);
    sk_trash_free(t); /* runs what is still queued */
    assert_int_equal(count_suffix(pdir, ".deleted"), 0);
    open_mgr(f);
    assert_int_equal(sk_log_end_offset(f->log), end);
    close_mgr(f);

    /* Leftovers of a crash are swept at open. */
    char junk[256];
    snprintf(junk, sizeof(junk), "%s/00000000000000000007.log.deleted", pdir);
    FILE *fp = fopen(junk, "w");
    assert_non_null(fp);
    fclose(fp);
    open_mgr(f);
    assert_int_equal(count_suffix(pdir, ".deleted"), 0);
    assert_int_equal(sk_log_end_offset(f->log), end);

    /* A deleted partition's directory goes on the (threaded) trash. */
    assert_int_equal(sk_trash_new(true, &t), SK_OK);
    sk_logmgr_set_trash(f->mgr, t);
    assert_int_equal(sk_logmgr_delete(f->mgr, "t", 0), SK_OK);
    sk_trash_drain(t);
    assert_int_equal(count_suffix(f->dir, "-delete"), 0);
    assert_int_equal(access(pdir, F_OK), -1);
    assert_true(sk_trash_removed(t) > 0);
    close_mgr(f);
    sk_trash_free(t);
}

/* Kafka's defaults plus flush.ms: appends are acknowledged at once (no flush_wait) and
 * the periodic flush_due only queues a job; the fsync happens on the worker, never on
 * the calling (loop) thread. */
static void
test_flush_ms_in_background(void **state)
{
    fixture_t *f = *state;
    sk_append_info_t info;

    f->cfg.flush_interval_messages = INT64_MAX;
    f->cfg.flush_interval_ms = 100;
    open_mgr(f);
    int64_t syncs = sync_calls();
    for (int i = 0; i < 5; i++) {
        append_one(f->log, 100, &info);
        assert_false(info.flush_wait);
    }
    assert_int_equal(sync_calls(), syncs); /* nothing fsynced by the appends */
    assert_int_equal(sk_logmgr_flush_due(f->mgr, 10000), SK_OK); /* starts the clock */
    assert_int_equal(sk_logmgr_flush_due(f->mgr, 10099), SK_OK);
    assert_int_equal(sk_flusher_work(f->fl), 0);
    assert_int_equal(sk_logmgr_flush_due(f->mgr, 10100), SK_OK); /* due: a job is queued */
    assert_int_equal(sync_calls(), syncs);                      /* but not run here */
    assert_int_equal(sk_log_durable_offset(f->log), 0);
    assert_int_equal(sk_flusher_work(f->fl), 1);
    assert_true(sync_calls() > syncs);
    assert_int_equal(sk_flusher_poll(f->fl), 1);
    assert_int_equal(sk_log_durable_offset(f->log), 5);
    assert_int_equal(f->log->recovery_point, 5);
    assert_int_equal(sk_logmgr_flush_due(f->mgr, 20000), SK_OK); /* nothing new: no job */
    assert_int_equal(sk_flusher_work(f->fl), 0);
    close_mgr(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_during_round, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_fsync_offlines_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threaded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_ms_in_background, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
