/* tests/unit/test_storage_txn_crash.c: crash consistency of the transactional state of a
 * partition log: the last stable offset, the aborted-transaction list and the .txnindex
 * files, over the same file layer as test_storage_crash.c (copied here: the program
 * defines pwrite, write, ftruncate, fdatasync and fsync, which forward to the kernel and
 * remember what was not fsynced). Both segment .log files and .txnindex files are
 * modelled: bytes as of the last sync, writes since, and whether the directory entry is
 * durable; snapshots and the other indexes are copied as they are or torn.
 *
 * Workload (seeded): one partition with small segments; four transactional producers
 * open transactions, write into them, commit or abort them, interleaved with plain and
 * idempotent writes, stray markers for producers with nothing open, and a flush every
 * few steps. After every step, for each crash mode (ALL, NONE, TORN, RANDOM, as in
 * test_storage_crash.c) a crash image of the partition directory is recovered with
 * sk_log_open. The recovered log must end at a step boundary at or after the last flush
 * (ALL: at the end), and its LSO, its aborted list and the entries of every .txnindex
 * file must equal what a reference model computes from the surviving steps alone. The
 * image is then closed cleanly, reopened and checked again. The seed is printed; env
 * SEED repeats a run. */
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

#define STEPS 90
#define PRODUCERS 4

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
    if (has_suffix(name, ".log") || has_suffix(name, ".txnindex")) {
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

/* ---- workload, reference model and checks ---- */

typedef struct step {
    int64_t base, last;  /* offsets written */
    int64_t pid;         /* -1 plain */
    bool txn;            /* transactional data */
    bool marker;
    bool commit;
} step_t;

typedef struct fixture {
    char dir[64];
    char work[96];
    char image[96];
    sk_log_config_t cfg;
    step_t steps[STEPS];
    int32_t step_count;
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
    snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-txncrash-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->work, sizeof(f->work), "%s/work", f->dir);
    snprintf(f->image, sizeof(f->image), "%s/image", f->dir);
    sk_log_config_defaults(&f->cfg);
    f->cfg.segment_bytes = 900;
    f->cfg.index_interval_bytes = 300;
    f->cfg.segment_index_bytes = 1200;
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
    free(f);
    return 0;
}

/* What the surviving steps say: open transactions and the aborted list. */
typedef struct expect {
    int64_t open_first[PRODUCERS + 1]; /* by pid 1..PRODUCERS; -1 none */
    sk_aborted_t aborted[STEPS];
    int32_t aborted_count;
    int64_t leo;
} expect_t;

static int64_t
expect_first_unstable(const expect_t *e)
{
    int64_t m = -1;
    for (int p = 1; p <= PRODUCERS; p++)
        if (e->open_first[p] >= 0 && (m < 0 || e->open_first[p] < m)) m = e->open_first[p];
    return m;
}

static void
expect_build(const fixture_t *f, int32_t steps, expect_t *e)
{
    memset(e, 0, sizeof(*e));
    for (int p = 0; p <= PRODUCERS; p++) e->open_first[p] = -1;
    for (int32_t i = 0; i < steps; i++) {
        const step_t *s = &f->steps[i];
        e->leo = s->last + 1;
        if (s->txn && e->open_first[s->pid] < 0) e->open_first[s->pid] = s->base;
        if (!s->marker || s->pid < 1 || e->open_first[s->pid] < 0) continue;
        int64_t first = e->open_first[s->pid];
        e->open_first[s->pid] = -1;
        if (s->commit) continue;
        int64_t lso = expect_first_unstable(e);
        e->aborted[e->aborted_count++] =
            (sk_aborted_t){.producer_id = s->pid, .first_offset = first, .last_offset = s->base,
                           .lso = lso >= 0 ? lso : s->base + 1};
    }
}

typedef struct got {
    int64_t pid[STEPS], first[STEPS];
    int32_t n;
} got_t;

static void
got_cb(void *ctx, int64_t pid, int64_t first)
{
    got_t *g2 = ctx;
    assert_true(g2->n < STEPS);
    g2->pid[g2->n] = pid;
    g2->first[g2->n++] = first;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .txnindex entry under dir, in file-name (= offset) order. */
static int32_t
read_all_index(const char *dir, sk_aborted_t *out, int32_t max)
{
    char *names[256];
    int32_t nn = 0, n = 0;
    struct dirent *de;
    DIR *d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (has_suffix(de->d_name, ".txnindex") && nn < 256) names[nn++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)nn, sizeof(names[0]), name_cmp);
    for (int32_t i = 0; i < nn; i++) {
        char path[600];
        char *data = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        assert_int_equal(sk_read_file(path, 1 << 20, &data, &len), SK_OK);
        if (len % 34 != 0) fail_msg("%s: %zu bytes, not whole entries", names[i], len);
        for (size_t at = 0; at < len; at += 34) {
            const uint8_t *q = (const uint8_t *)data + at;
            assert_true(n < max);
            assert_int_equal(sk_be16(q), 0);
            out[n++] = (sk_aborted_t){(int64_t)sk_be64(q + 2), (int64_t)sk_be64(q + 10), (int64_t)sk_be64(q + 18),
                                      (int64_t)sk_be64(q + 26)};
        }
        free(data);
        free(names[i]);
    }
    return n;
}

static void
check_against_model(const fixture_t *f, sk_log_t *log, const char *dir, int32_t survived, const char *when)
{
    expect_t e;
    got_t got = {.n = 0};
    sk_aborted_t files[STEPS];

    expect_build(f, survived, &e);
    sk_log_set_high_watermark(log, sk_log_end_offset(log));
    sk_log_verify(log);
    int64_t fu = expect_first_unstable(&e);
    int64_t want_lso = fu >= 0 ? fu : sk_log_end_offset(log);
    if (sk_log_last_stable_offset(log) != want_lso)
        fail_msg("%s: LSO %lld, want %lld (%d steps survived)", when, (long long)sk_log_last_stable_offset(log),
                 (long long)want_lso, survived);
    assert_int_equal(sk_log_aborted_txns(log, 0, sk_log_end_offset(log), got_cb, &got), SK_OK);
    if (got.n != e.aborted_count)
        fail_msg("%s: %d aborted transactions listed, want %d (%d steps survived)", when, got.n, e.aborted_count,
                 survived);
    for (int32_t i = 0; i < got.n; i++) {
        assert_int_equal(got.pid[i], e.aborted[i].producer_id);
        assert_int_equal(got.first[i], e.aborted[i].first_offset);
    }
    /* Sub-ranges against a brute force over the model: every entry that ends at or
     * after from and began before to, in order (the early stop must never cut one). */
    int64_t leo = sk_log_end_offset(log);
    for (int64_t from = 0; from <= leo; from += 1 + leo / 7) {
        for (int64_t to = from + 1; to <= leo + 1; to += 1 + leo / 5) {
            got_t sub = {.n = 0};
            int32_t k = 0;
            assert_int_equal(sk_log_aborted_txns(log, from, to, got_cb, &sub), SK_OK);
            for (int32_t i = 0; i < e.aborted_count; i++) {
                if (e.aborted[i].last_offset < from || e.aborted[i].first_offset >= to) continue;
                if (k >= sub.n || sub.pid[k] != e.aborted[i].producer_id || sub.first[k] != e.aborted[i].first_offset)
                    fail_msg("%s: aborted [%lld, %lld) misses (%lld, %lld)", when, (long long)from, (long long)to,
                             (long long)e.aborted[i].producer_id, (long long)e.aborted[i].first_offset);
                k++;
            }
            if (k != sub.n) fail_msg("%s: aborted [%lld, %lld): %d listed, want %d", when, (long long)from, (long long)to, sub.n, k);
        }
    }
    int32_t nf = read_all_index(dir, files, STEPS);
    if (nf != e.aborted_count)
        fail_msg("%s: %d .txnindex entries on disk, want %d (%d steps survived)", when, nf, e.aborted_count, survived);
    for (int32_t i = 0; i < nf; i++) {
        if (files[i].producer_id != e.aborted[i].producer_id || files[i].first_offset != e.aborted[i].first_offset ||
            files[i].last_offset != e.aborted[i].last_offset || files[i].lso != e.aborted[i].lso)
            fail_msg("%s: .txnindex entry %d is (%lld, %lld, %lld, %lld), want (%lld, %lld, %lld, %lld)", when, i,
                     (long long)files[i].producer_id, (long long)files[i].first_offset,
                     (long long)files[i].last_offset, (long long)files[i].lso,
                     (long long)e.aborted[i].producer_id, (long long)e.aborted[i].first_offset,
                     (long long)e.aborted[i].last_offset, (long long)e.aborted[i].lso);
    }
}

/* Steps that survive: the recovered LEO must be a step boundary. */
static int32_t
survived_steps(const fixture_t *f, int64_t leo)
{
    if (leo == 0) return 0;
    for (int32_t i = 0; i < f->step_count; i++)
        if (f->steps[i].last + 1 == leo) return i + 1;
    fail_msg("recovered LEO %lld is not a step boundary", (long long)leo);
    return -1;
}

static void
crash_check(fixture_t *f, uint64_t *rng, int64_t flushed)
{
    char pdir[160];
    snprintf(pdir, sizeof(pdir), "%s/t-0", f->image);
    for (int mode = 0; mode < MODE_COUNT; mode++) {
        crash_ctx_t c = {.rng = *rng ^ (uint64_t)(mode + 1) * 0x9e3779b97f4a7c15ULL, .mode = mode};
        g.active = false; /* the image is not modelled */
        /* Unsynced directory entries survive in the order they were made, up to a
         * random point (none of them in NONE, all in ALL), as in test_storage_crash.c. */
        c.vanish_from = g.count;
        if (mode != MODE_ALL) {
            int32_t first = g.count, n = 0;
            for (int32_t i = 0; i < g.count; i++)
                if (!g.files[i].entry_durable) first = SK_MIN(first, i), n++;
            c.vanish_from = mode == MODE_NONE || n == 0 ? first : first + (int32_t)(rnd(&c) % (uint64_t)(n + 1));
        }
        rm_tree(f->image);
        build_image(&c, f->work, f->image);
        f->images++;
        sk_log_t *log = NULL;
        sk_log_open_args_t a = {.dir = pdir, .topic = "t", .partition = 0, .cfg = &f->cfg, .clean = false,
                                .recovery_point = flushed, .start_offset = -1, .hw = -1};
        if (sk_log_open(&a, &log) != SK_OK) fail_msg("mode %s: recovery failed", mode_names[mode]);
        int64_t leo = sk_log_end_offset(log);
        if (leo < flushed)
            fail_msg("mode %s: LEO %lld below the flushed %lld", mode_names[mode], (long long)leo, (long long)flushed);
        if (mode == MODE_ALL) assert_int_equal(leo, f->steps[f->step_count - 1].last + 1);
        int32_t survived = survived_steps(f, leo);
        check_against_model(f, log, pdir, survived, mode_names[mode]);
        assert_int_equal(sk_log_close(log, true), SK_OK);
        a.clean = true;
        a.recovery_point = -1;
        assert_int_equal(sk_log_open(&a, &log), SK_OK);
        check_against_model(f, log, pdir, survived, "reopened");
        assert_int_equal(sk_log_close(log, false), SK_OK);
        g.active = true;
    }
    *rng = rnd(&(crash_ctx_t){.rng = *rng});
}

static int64_t
do_data(sk_log_t *log, int64_t pid, int32_t *seq, bool txn, uint64_t r, int64_t *base)
{
    sk_record_t recs[4];
    uint8_t value[64];
    int32_t n = 1 + (int32_t)(r % 4);
    sk_batch_spec_t spec = {.codec = SK_CODEC_NONE, .attributes_extra = txn ? SK_ATTR_TRANSACTIONAL : 0,
                            .producer_id = pid, .producer_epoch = pid >= 0 ? 0 : -1,
                            .base_sequence = pid >= 0 ? *seq : -1, .partition_leader_epoch = -1};
    sk_append_info_t info;
    uint8_t *b = NULL;
    size_t len;

    memset(value, (int)(r & 0xff), sizeof(value));
    memset(recs, 0, sizeof(recs));
    for (int32_t i = 0; i < n; i++) {
        recs[i].timestamp = sk_wall_ms();
        recs[i].key = (sk_bytes_t){NULL, -1};
        recs[i].value = (sk_bytes_t){value, (int32_t)(20 + (r >> 8) % 40)};
    }
    assert_int_equal(sk_batch_build(&spec, recs, n, &b, &len), SK_OK);
    assert_int_equal(sk_log_append(log, b, len, 0, sk_wall_ms(), &info), SK_OK);
    free(b);
    if (pid >= 0) *seq += n;
    *base = info.base_offset;
    return info.last_offset;
}

static void
test_txn_crash_points(void **state)
{
    fixture_t *f = *state;
    char pdir[160];
    uint64_t rng = f->seed * 2654435761u + 1;
    int32_t seq[PRODUCERS + 1] = {0};
    bool open[PRODUCERS + 1] = {false};
    int64_t flushed = 0;
    sk_log_t *log = NULL;

    assert_int_equal(mkdir(f->work, 0755), 0);
    snprintf(pdir, sizeof(pdir), "%s/t-0", f->work);
    g.active = true;
    assert_int_equal(sk_log_create_new(pdir, "t", 0, NULL, &f->cfg, &log), SK_OK);
    assert_int_equal(sk_log_flush(log), SK_OK);
    for (int32_t i = 0; i < STEPS; i++) {
        crash_ctx_t c = {.rng = rng};
        uint64_t r = rnd(&c);
        rng = c.rng;
        step_t *s = &f->steps[f->step_count];
        int64_t pid = 1 + (int64_t)(r % PRODUCERS);
        int kind = (int)((r >> 16) % 10);
        *s = (step_t){.pid = pid};
        if (kind < 4) { /* transactional data */
            s->txn = true;
            s->last = do_data(log, pid, &seq[pid], true, r >> 20, &s->base);
            open[pid] = true;
        } else if (kind < 6 && !open[pid]) { /* idempotent, no transaction */
            s->last = do_data(log, pid, &seq[pid], false, r >> 20, &s->base);
        } else if (kind < 7) { /* plain */
            s->pid = -1;
            s->last = do_data(log, -1, NULL, false, r >> 20, &s->base);
        } else { /* a marker (also for a producer with nothing open, now and then) */
            if (!open[pid] && (r >> 40) % 3) continue;
            sk_append_info_t info;
            s->marker = true;
            s->commit = (r >> 44) % 2;
            assert_int_equal(sk_log_append_marker(log, pid, 0, s->commit, 0, 0, sk_wall_ms(), &info), SK_OK);
            s->base = s->last = info.base_offset;
            open[pid] = false;
        }
        f->step_count++;
        sk_log_set_high_watermark(log, sk_log_end_offset(log));
        sk_log_verify(log);
        if ((r >> 50) % 6 == 0) {
            assert_int_equal(sk_log_flush(log), SK_OK);
            flushed = sk_log_end_offset(log);
        }
        crash_check(f, &rng, flushed);
    }
    g.active = false;
    /* The live log agrees with the model too. */
    check_against_model(f, log, pdir, f->step_count, "live");
    assert_int_equal(sk_log_close(log, true), SK_OK);
    printf("%lld crash images recovered, %d steps, %d segments' worth of files\n", (long long)f->images,
           f->step_count, g.count);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_txn_crash_points, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
