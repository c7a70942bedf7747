/* tests/unit/test_coordinator_txn.c: the transaction coordinator through its public API
 * with a fake clock and a recording marker hook: InitProducerId (new ids, epoch bumps,
 * KIP-360 retries, epoch exhaustion, timeout validation), the Empty -> Ongoing ->
 * Prepare* -> Complete* transitions and the errors of every wrong call, fencing of an
 * older instance, timeouts aborting with an epoch bump, markers that fail and are
 * retried, the KIP-890 produce check, the admin views, and durability: state written to
 * real __transaction_state logs in a temp dir is replayed by a second coordinator, which
 * finishes a transaction it finds in PrepareCommit. Transactional offset commits are
 * checked against a real group coordinator and __consumer_offsets logs: pending until
 * the commit marker, dropped on abort, and replayed from the log the same way.
 * sk_txn_coord_verify runs after each step. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "coordinator/coordinator.h"

typedef struct fake_clock {
    int64_t mono;
    int64_t wall;
} fake_clock_t;

static int64_t fc_mono(void *ctx) { return ((fake_clock_t *)ctx)->mono; }
static int64_t fc_wall(void *ctx) { return ((fake_clock_t *)ctx)->wall; }

#define FX_TXN_PARTITIONS 3
#define FX_OFF_PARTITIONS 2
#define MARKS_MAX 64

typedef struct mark {
    char topic[64];
    int32_t partition;
    int64_t pid;
    int16_t epoch;
    bool commit;
} mark_t;

typedef struct fx {
    fake_clock_t clock;
    sk_txn_options_t opt;
    sk_txn_coord_t *t;
    sk_coord_options_t gopt;
    sk_coord_t *groups;
    int64_t next_pid;
    mark_t marks[MARKS_MAX];
    int32_t mark_count;
    char fail_topic[64];  /* markers to this topic fail while set */
    char dir[64];
    sk_logmgr_t *logs;
    sk_coord_store_t txn_store;
    sk_coord_store_t off_store;
} fx_t;

static int
pid_next(void *ctx, int64_t *id)
{
    fx_t *f = ctx;
    *id = f->next_pid++;
    return SK_OK;
}

static int
marker(void *ctx, const char *topic, int32_t partition, int64_t pid, int16_t epoch, bool commit, int32_t coord_epoch)
{
    fx_t *f = ctx;
    (void)coord_epoch;
    if (f->fail_topic[0] && strcmp(topic, f->fail_topic) == 0) return SK_EIO;
    if (f->logs && strcmp(topic, SK_COORD_OFFSETS_TOPIC) == 0) {
        sk_append_info_t info;
        sk_log_t *log = sk_logmgr_get(f->logs, topic, partition);
        int rc = log ? sk_log_append_marker(log, pid, epoch, commit, 0, 0, f->clock.wall, &info) : SK_ENOENT;
        if (rc != SK_OK) return rc;
    }
    assert_true(f->mark_count < MARKS_MAX);
    mark_t *m = &f->marks[f->mark_count++];
    snprintf(m->topic, sizeof(m->topic), "%s", topic);
    m->partition = partition;
    m->pid = pid;
    m->epoch = epoch;
    m->commit = commit;
    return SK_OK;
}

static int
log_append(fx_t *f, const char *topic, int32_t partition, uint8_t *batch, size_t len)
{
    sk_append_info_t info;
    sk_log_t *log = sk_logmgr_get(f->logs, topic, partition);
    if (!log) return SK_ENOENT;
    return sk_log_append(log, batch, len, 0, f->clock.wall, &info);
}

static int
txn_append(void *ctx, int32_t p, uint8_t *b, size_t n)
{
    return log_append(ctx, SK_TXN_STATE_TOPIC, p, b, n);
}

static sk_log_t *
txn_log(void *ctx, int32_t p)
{
    return sk_logmgr_get(((fx_t *)ctx)->logs, SK_TXN_STATE_TOPIC, p);
}

static int
off_append(void *ctx, int32_t p, uint8_t *b, size_t n)
{
    return log_append(ctx, SK_COORD_OFFSETS_TOPIC, p, b, n);
}

static sk_log_t *
off_log(void *ctx, int32_t p)
{
    return sk_logmgr_get(((fx_t *)ctx)->logs, SK_COORD_OFFSETS_TOPIC, p);
}

static void
fx_start(fx_t *f)
{
    assert_int_equal(sk_coord_new(&f->gopt, &f->groups), SK_OK);
    f->opt.groups = f->groups;
    assert_int_equal(sk_txn_coord_new(&f->opt, &f->t), SK_OK);
}

static void
fx_stop(fx_t *f)
{
    sk_txn_coord_free(f->t);
    sk_coord_free(f->groups);
    f->t = NULL;
    f->groups = NULL;
}

static int
setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    f->clock = (fake_clock_t){1000000, 1700000000000LL};
    f->next_pid = 1000;
    sk_txn_options_defaults(&f->opt);
    f->opt.state_partitions = FX_TXN_PARTITIONS;
    f->opt.max_timeout_ms = 60000;
    f->opt.abort_check_interval_ms = 1000;
    f->opt.clock = (sk_coord_clock_t){fc_mono, fc_wall, &f->clock};
    f->opt.hooks = (sk_txn_hooks_t){pid_next, marker, f};
    sk_coord_options_defaults(&f->gopt);
    f->gopt.offsets_partitions = FX_OFF_PARTITIONS;
    f->gopt.clock = f->opt.clock;
    fx_start(f);
    *state = f;
    return 0;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    fx_t *f = *state;
    fx_stop(f);
    if (f->logs) sk_logmgr_close(f->logs);
    if (f->dir[0]) nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Both coordinators backed by real logs in a fresh directory. */
static void
fx_with_store(fx_t *f)
{
    sk_uuid_t id;
    sk_log_t *log;
    sk_log_config_t lc;
    sk_log_config_defaults(&lc);
    snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-txn-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(sk_logmgr_open(f->dir, &lc, &f->logs), SK_OK);
    sk_uuid_random(&id);
    for (int32_t p = 0; p < FX_TXN_PARTITIONS; p++)
        assert_int_equal(sk_logmgr_create(f->logs, SK_TXN_STATE_TOPIC, p, &id, NULL, &log), SK_OK);
    sk_uuid_random(&id);
    for (int32_t p = 0; p < FX_OFF_PARTITIONS; p++)
        assert_int_equal(sk_logmgr_create(f->logs, SK_COORD_OFFSETS_TOPIC, p, &id, NULL, &log), SK_OK);
    f->txn_store = (sk_coord_store_t){txn_append, txn_log, f};
    f->off_store = (sk_coord_store_t){off_append, off_log, f};
    f->opt.store = &f->txn_store;
    f->gopt.store = &f->off_store;
    fx_stop(f);
    fx_start(f);
}

static void
fx_restart(fx_t *f)
{
    fx_stop(f);
    fx_start(f);
    assert_int_equal(sk_coord_load(f->groups), SK_OK);
    assert_int_equal(sk_txn_coord_load(f->t), SK_OK);
    sk_txn_coord_verify(f->t);
}

/* ---- helpers ---- */
static sk_txn_init_result_t
init_ex(fx_t *f, const char *id, int32_t timeout, int64_t pid, int16_t epoch)
{
    sk_txn_init_result_t r;
    sk_txn_init_producer(f->t, sk_str_c(id), timeout, pid, epoch, &r);
    sk_txn_coord_verify(f->t);
    return r;
}

static sk_txn_init_result_t
init(fx_t *f, const char *id)
{
    return init_ex(f, id, 10000, -1, -1);
}

static int16_t
add(fx_t *f, const char *id, sk_txn_init_result_t p, const char *topic, int32_t partition)
{
    sk_txn_tp_t tp = {sk_str_c(topic), partition, SK_KERR_NONE};
    int16_t err = sk_txn_add_partitions(f->t, sk_str_c(id), p.producer_id, p.producer_epoch, &tp, 1, false);
    sk_txn_coord_verify(f->t);
    assert_int_equal(tp.error_code, err);
    return err;
}

static int16_t
end(fx_t *f, const char *id, sk_txn_init_result_t p, bool commit)
{
    int16_t err = sk_txn_end(f->t, sk_str_c(id), p.producer_id, p.producer_epoch, commit);
    sk_txn_coord_verify(f->t);
    return err;
}

/* The state name, or "" when unknown; partitions into *parts when given. */
static const char *
state(fx_t *f, const char *id, int32_t *parts)
{
    static char buf[32];
    sk_arena_t arena;
    sk_txn_desc_t d;
    sk_arena_init(&arena, 0);
    assert_int_equal(sk_txn_describe(f->t, sk_str_c(id), &arena, &d), SK_OK);
    snprintf(buf, sizeof(buf), "%s", d.error_code ? "" : d.state);
    if (parts) *parts = d.partition_count;
    sk_arena_deinit(&arena);
    return buf;
}

static void
tick_after(fx_t *f, int64_t ms)
{
    f->clock.mono += ms;
    f->clock.wall += ms;
    sk_txn_coord_tick(f->t);
    sk_txn_coord_verify(f->t);
}

/* ---- tests ---- */

static void
test_init(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t a = init(f, "t1"), b, c;

    assert_int_equal(a.error_code, SK_KERR_NONE);
    assert_int_equal(a.producer_id, 1000);
    assert_int_equal(a.producer_epoch, 0);
    b = init(f, "t1"); /* a new instance: same id, next epoch */
    assert_int_equal(b.error_code, SK_KERR_NONE);
    assert_int_equal(b.producer_id, a.producer_id);
    assert_int_equal(b.producer_epoch, 1);
    c = init(f, "t2");
    assert_int_equal(c.producer_id, 1001);
    assert_string_equal(state(f, "t1", NULL), "Empty");
    assert_int_equal(init_ex(f, "t3", 0, -1, -1).error_code, SK_KERR_INVALID_TRANSACTION_TIMEOUT);
    assert_int_equal(init_ex(f, "t3", 60001, -1, -1).error_code, SK_KERR_INVALID_TRANSACTION_TIMEOUT);
    assert_int_equal(init_ex(f, "t3", 60000, -1, -1).error_code, SK_KERR_NONE);
    assert_int_equal(init_ex(f, "t1", 60001, -1, -1).error_code, SK_KERR_INVALID_TRANSACTION_TIMEOUT);
}

static void
test_kip360(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t a = init(f, "t"), b, again;

    b = init_ex(f, "t", 10000, a.producer_id, a.producer_epoch);
    assert_int_equal(b.error_code, SK_KERR_NONE);
    assert_int_equal(b.producer_epoch, a.producer_epoch + 1);
    /* the same request again (its answer was lost): the same answer, no second bump */
    again = init_ex(f, "t", 10000, a.producer_id, a.producer_epoch);
    assert_int_equal(again.error_code, SK_KERR_NONE);
    assert_int_equal(again.producer_epoch, b.producer_epoch);
    assert_int_equal(init_ex(f, "t", 10000, a.producer_id, 7).error_code, SK_KERR_PRODUCER_FENCED);
    assert_int_equal(init_ex(f, "t", 10000, a.producer_id + 1, b.producer_epoch).error_code, SK_KERR_PRODUCER_FENCED);
}

static void
test_epoch_exhausted(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t r = init(f, "t");
    int64_t first = r.producer_id;
    while (r.producer_id == first) {
        int16_t before = r.producer_epoch;
        r = init(f, "t");
        assert_int_equal(r.error_code, SK_KERR_NONE);
        if (r.producer_id == first) assert_int_equal(r.producer_epoch, before + 1);
        else assert_int_equal(before, INT16_MAX - 1);
    }
    assert_int_equal(r.producer_epoch, 0);
    assert_true(r.producer_id != first);
}

static void
test_commit_and_abort(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t p = init(f, "t"), stale = p;
    int32_t parts;

    assert_int_equal(end(f, "t", p, true), SK_KERR_INVALID_TXN_STATE); /* nothing open */
    assert_int_equal(add(f, "t", p, "a", 0), SK_KERR_NONE);
    assert_int_equal(add(f, "t", p, "a", 1), SK_KERR_NONE);
    assert_int_equal(add(f, "t", p, "a", 0), SK_KERR_NONE); /* twice is once */
    assert_string_equal(state(f, "t", &parts), "Ongoing");
    assert_int_equal(parts, 2);
    assert_int_equal(sk_txn_produce_check(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, "a", 1, 1),
                     SK_KERR_NONE);
    assert_int_equal(sk_txn_produce_check(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, "a", 1, 2),
                     SK_KERR_INVALID_TXN_STATE);
    assert_int_equal(sk_txn_produce_check(f->t, sk_str_c("t"), p.producer_id + 5, p.producer_epoch, "a", 1, 1),
                     SK_KERR_INVALID_PRODUCER_ID_MAPPING);
    stale.producer_epoch = (int16_t)(p.producer_epoch + 1);
    assert_int_equal(end(f, "t", stale, true), SK_KERR_PRODUCER_FENCED);
    stale = p;
    stale.producer_id++;
    assert_int_equal(end(f, "t", stale, true), SK_KERR_INVALID_PRODUCER_ID_MAPPING);
    assert_int_equal(end(f, "nope", p, true), SK_KERR_INVALID_PRODUCER_ID_MAPPING);

    assert_int_equal(end(f, "t", p, true), SK_KERR_NONE);
    assert_int_equal(f->mark_count, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(f->marks[i].topic, "a");
        assert_true(f->marks[i].commit);
        assert_int_equal(f->marks[i].pid, p.producer_id);
        assert_int_equal(f->marks[i].epoch, p.producer_epoch);
    }
    assert_int_equal(f->marks[0].partition + f->marks[1].partition, 1);
    assert_string_equal(state(f, "t", &parts), "CompleteCommit");
    assert_int_equal(parts, 0);
    assert_int_equal(end(f, "t", p, true), SK_KERR_NONE);            /* a retried commit */
    assert_int_equal(end(f, "t", p, false), SK_KERR_INVALID_TXN_STATE);
    assert_int_equal(f->mark_count, 2);
    assert_int_equal(sk_txn_produce_check(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, "a", 1, 1),
                     SK_KERR_INVALID_TXN_STATE); /* a late write after the commit */

    /* the next transaction, aborted */
    assert_int_equal(add(f, "t", p, "b", 3), SK_KERR_NONE);
    assert_int_equal(end(f, "t", p, false), SK_KERR_NONE);
    assert_int_equal(f->mark_count, 3);
    assert_string_equal(f->marks[2].topic, "b");
    assert_false(f->marks[2].commit);
    assert_string_equal(state(f, "t", NULL), "CompleteAbort");
    assert_int_equal(end(f, "t", p, true), SK_KERR_INVALID_TXN_STATE);
}

static void
test_add_refused(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t p = init(f, "t");
    sk_txn_tp_t tps[2] = {{sk_str_c("a"), 0, SK_KERR_NONE}, {sk_str_c("gone"), 0, SK_KERR_UNKNOWN_TOPIC_OR_PARTITION}};

    assert_int_equal(sk_txn_add_partitions(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, tps, 2, false),
                     SK_KERR_NONE);
    assert_int_equal(tps[0].error_code, SK_KERR_TXN_OPERATION_NOT_ATTEMPTED);
    assert_int_equal(tps[1].error_code, SK_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_string_equal(state(f, "t", NULL), "Empty");
    /* verify-only (KIP-890): nothing is added, missing partitions are named */
    tps[1] = (sk_txn_tp_t){sk_str_c("a"), 1, SK_KERR_NONE};
    tps[0].error_code = SK_KERR_NONE;
    assert_int_equal(add(f, "t", p, "a", 0), SK_KERR_NONE);
    assert_int_equal(sk_txn_add_partitions(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, tps, 2, true),
                     SK_KERR_NONE);
    assert_int_equal(tps[0].error_code, SK_KERR_NONE);
    assert_int_equal(tps[1].error_code, SK_KERR_INVALID_TXN_STATE);
}

static void
test_fencing(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t old = init(f, "t"), neu;

    assert_int_equal(add(f, "t", old, "a", 0), SK_KERR_NONE);
    neu = init(f, "t"); /* a second instance: the open transaction is aborted */
    assert_int_equal(neu.error_code, SK_KERR_NONE);
    assert_int_equal(neu.producer_id, old.producer_id);
    assert_int_equal(neu.producer_epoch, old.producer_epoch + 2); /* fence bump, then its own */
    assert_int_equal(f->mark_count, 1);
    assert_false(f->marks[0].commit);
    assert_int_equal(f->marks[0].epoch, old.producer_epoch + 1);
    assert_string_equal(state(f, "t", NULL), "Empty");
    assert_int_equal(add(f, "t", old, "a", 0), SK_KERR_PRODUCER_FENCED);
    assert_int_equal(end(f, "t", old, true), SK_KERR_PRODUCER_FENCED);
    assert_int_equal(sk_txn_add_offsets(f->t, sk_str_c("t"), old.producer_id, old.producer_epoch, sk_str_c("g")),
                     SK_KERR_PRODUCER_FENCED);
    assert_int_equal(sk_txn_produce_check(f->t, sk_str_c("t"), old.producer_id, old.producer_epoch, "a", 1, 0),
                     SK_KERR_INVALID_PRODUCER_EPOCH);
    assert_int_equal(add(f, "t", neu, "a", 0), SK_KERR_NONE);
    assert_int_equal(end(f, "t", neu, true), SK_KERR_NONE);
}

static void
test_timeout(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t p = init_ex(f, "t", 5000, -1, -1), q = init(f, "u");

    assert_int_equal(add(f, "t", p, "a", 0), SK_KERR_NONE);
    assert_int_equal(add(f, "u", q, "a", 1), SK_KERR_NONE); /* 10 s timeout */
    tick_after(f, 4000);
    assert_string_equal(state(f, "t", NULL), "Ongoing");
    tick_after(f, 1500);
    assert_string_equal(state(f, "t", NULL), "CompleteAbort");
    assert_string_equal(state(f, "u", NULL), "Ongoing");
    assert_int_equal(f->mark_count, 1);
    assert_false(f->marks[0].commit);
    assert_int_equal(f->marks[0].epoch, p.producer_epoch + 1);
    assert_int_equal(end(f, "t", p, true), SK_KERR_PRODUCER_FENCED);
    assert_int_equal(add(f, "t", p, "a", 0), SK_KERR_PRODUCER_FENCED);
    /* KIP-360: the timed-out producer may recover with its old epoch */
    sk_txn_init_result_t r = init_ex(f, "t", 5000, p.producer_id, p.producer_epoch);
    assert_int_equal(r.error_code, SK_KERR_NONE);
    assert_true(r.producer_epoch > p.producer_epoch);
    tick_after(f, 5000);
    assert_string_equal(state(f, "u", NULL), "CompleteAbort");
}

static void
test_marker_retry(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t p = init(f, "t");

    assert_int_equal(add(f, "t", p, "a", 0), SK_KERR_NONE);
    assert_int_equal(add(f, "t", p, "b", 0), SK_KERR_NONE);
    snprintf(f->fail_topic, sizeof(f->fail_topic), "b");
    assert_int_equal(end(f, "t", p, true), SK_KERR_NONE); /* the decision is durable */
    assert_string_equal(state(f, "t", NULL), "PrepareCommit");
    assert_int_equal(f->mark_count, 1);
    assert_int_equal(init(f, "t").error_code, SK_KERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(add(f, "t", p, "c", 0), SK_KERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(end(f, "t", p, true), SK_KERR_CONCURRENT_TRANSACTIONS);
    assert_int_equal(end(f, "t", p, false), SK_KERR_INVALID_TXN_STATE);
    tick_after(f, 2000);
    assert_string_equal(state(f, "t", NULL), "PrepareCommit");
    f->fail_topic[0] = '\0';
    tick_after(f, 600); /* markers are retried sooner than the timeout check (1 s here) */
    assert_string_equal(state(f, "t", NULL), "CompleteCommit");
    assert_int_equal(f->mark_count, 2); /* only the missing marker was written again */
    assert_string_equal(f->marks[1].topic, "b");
}

static void
test_list_describe(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t a = init(f, "b-txn"), b = init(f, "a-txn");
    sk_arena_t arena;
    sk_txn_listed_t *l;
    sk_txn_desc_t d;
    int32_t n;
    sk_str_t ongoing = sk_str_c("Ongoing");

    (void)a;
    assert_int_equal(add(f, "a-txn", b, "x", 4), SK_KERR_NONE);
    sk_arena_init(&arena, 0);
    assert_int_equal(sk_txn_list(f->t, NULL, 0, NULL, 0, -1, &arena, &l, &n), SK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].transactional_id, "a-txn");
    assert_string_equal(l[1].state, "Empty");
    assert_int_equal(sk_txn_list(f->t, &ongoing, 1, NULL, 0, -1, &arena, &l, &n), SK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(l[0].producer_id, b.producer_id);
    assert_int_equal(sk_txn_list(f->t, NULL, 0, &a.producer_id, 1, -1, &arena, &l, &n), SK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].transactional_id, "b-txn");
    assert_int_equal(sk_txn_list(f->t, NULL, 0, NULL, 0, 1000, &arena, &l, &n), SK_OK);
    assert_int_equal(n, 0);
    f->clock.wall += 1001;
    assert_int_equal(sk_txn_list(f->t, NULL, 0, NULL, 0, 1000, &arena, &l, &n), SK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sk_txn_describe(f->t, sk_str_c("a-txn"), &arena, &d), SK_OK);
    assert_int_equal(d.error_code, SK_KERR_NONE);
    assert_string_equal(d.state, "Ongoing");
    assert_int_equal(d.partition_count, 1);
    assert_int_equal(d.partitions[0].partition, 4);
    assert_int_equal(d.timeout_ms, 10000);
    assert_true(d.start_wall_ms > 0);
    assert_int_equal(sk_txn_describe(f->t, sk_str_c("zzz"), &arena, &d), SK_OK);
    assert_int_equal(d.error_code, SK_KERR_TXN_TRANSACTIONAL_ID_NOT_FOUND);
    sk_arena_deinit(&arena);
}

static void
test_reload(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t p1, p2, p3;
    int32_t parts;

    fx_with_store(f);
    p1 = init(f, "t1");
    p2 = init(f, "t2");
    p3 = init(f, "t3");
    assert_int_equal(add(f, "t1", p1, "a", 0), SK_KERR_NONE);
    assert_int_equal(end(f, "t1", p1, true), SK_KERR_NONE);
    assert_int_equal(add(f, "t2", p2, "a", 1), SK_KERR_NONE);
    assert_int_equal(add(f, "t2", p2, "b", 2), SK_KERR_NONE);
    assert_int_equal(add(f, "t3", p3, "c", 0), SK_KERR_NONE);
    snprintf(f->fail_topic, sizeof(f->fail_topic), "c"); /* t3 stays in PrepareCommit */
    assert_int_equal(end(f, "t3", p3, true), SK_KERR_NONE);
    assert_string_equal(state(f, "t3", NULL), "PrepareCommit");
    f->fail_topic[0] = '\0';
    f->mark_count = 0;

    fx_restart(f); /* a crash: nothing but the logs survives */
    assert_string_equal(state(f, "t1", &parts), "CompleteCommit");
    assert_int_equal(parts, 0);
    assert_string_equal(state(f, "t2", &parts), "Ongoing");
    assert_int_equal(parts, 2);
    assert_int_equal(sk_txn_produce_check(f->t, sk_str_c("t2"), p2.producer_id, p2.producer_epoch, "b", 1, 2),
                     SK_KERR_NONE);
    /* t3's commit was finished by the load */
    assert_string_equal(state(f, "t3", NULL), "CompleteCommit");
    assert_int_equal(f->mark_count, 1);
    assert_string_equal(f->marks[0].topic, "c");
    assert_true(f->marks[0].commit);
    assert_int_equal(f->marks[0].pid, p3.producer_id);
    /* producer ids and epochs carry on */
    sk_txn_init_result_t again = init(f, "t1");
    assert_int_equal(again.producer_id, p1.producer_id);
    assert_int_equal(again.producer_epoch, p1.producer_epoch + 1);
    assert_int_equal(end(f, "t2", p2, false), SK_KERR_NONE);
    fx_restart(f);
    assert_string_equal(state(f, "t2", NULL), "CompleteAbort");
    assert_string_equal(state(f, "t3", NULL), "CompleteCommit");
    assert_int_equal(init(f, "t1").producer_epoch, p1.producer_epoch + 2);
}

static int64_t
fetched(fx_t *f, const char *group, int32_t partition)
{
    sk_off_view_t v;
    if (sk_off_fetch(f->groups, sk_str_c(group), sk_str_c("in"), partition, &v) != SK_OK) return -1;
    return v.offset;
}

static void
txn_commit_offset(fx_t *f, const char *id, sk_txn_init_result_t p, const char *group, int64_t offset)
{
    sk_off_commit_args_t a = {sk_str_c(group), -1, sk_str_c(""), SK_STR_NULL, -1};
    sk_off_entry_t e = {sk_str_c("in"), 0, offset, -1, SK_STR_NULL, 0};
    assert_int_equal(sk_txn_add_offsets(f->t, sk_str_c(id), p.producer_id, p.producer_epoch, sk_str_c(group)),
                     SK_KERR_NONE);
    assert_int_equal(sk_txn_offsets_check(f->t, sk_str_c(id), p.producer_id, p.producer_epoch, sk_str_c(group)),
                     SK_KERR_NONE);
    assert_int_equal(sk_off_txn_commit(f->groups, p.producer_id, p.producer_epoch, &a, &e, 1), SK_OK);
    assert_int_equal(e.error_code, SK_KERR_NONE);
}

static void
test_txn_offsets(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t p;

    fx_with_store(f);
    p = init(f, "t");
    assert_int_equal(sk_txn_offsets_check(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, sk_str_c("g")),
                     SK_KERR_INVALID_TXN_STATE); /* AddOffsetsToTxn first */
    txn_commit_offset(f, "t", p, "g", 10);
    assert_int_equal(fetched(f, "g", 0), -1); /* pending */
    assert_true(sk_off_txn_pending(f->groups, sk_str_c("g"), sk_str_c("in"), 0));
    assert_false(sk_off_txn_pending(f->groups, sk_str_c("g"), sk_str_c("in"), 1));
    assert_false(sk_off_txn_pending(f->groups, sk_str_c("h"), sk_str_c("in"), 0));
    assert_int_equal(end(f, "t", p, true), SK_KERR_NONE);
    assert_int_equal(fetched(f, "g", 0), 10);
    assert_false(sk_off_txn_pending(f->groups, sk_str_c("g"), sk_str_c("in"), 0));
    txn_commit_offset(f, "t", p, "g", 20);
    assert_int_equal(end(f, "t", p, false), SK_KERR_NONE);
    assert_int_equal(fetched(f, "g", 0), 10); /* aborted: dropped */
    txn_commit_offset(f, "t", p, "g", 30);
    txn_commit_offset(f, "t", p, "g", 31); /* the later one wins */
    assert_int_equal(end(f, "t", p, true), SK_KERR_NONE);
    assert_int_equal(fetched(f, "g", 0), 31);
    txn_commit_offset(f, "t", p, "g", 40); /* left open at the crash */

    fx_restart(f);
    assert_int_equal(fetched(f, "g", 0), 31);
    assert_string_equal(state(f, "t", NULL), "Ongoing");
    /* the coordinator's abort of the open transaction drops the pending offset */
    sk_txn_init_result_t q = init(f, "t");
    assert_int_equal(q.error_code, SK_KERR_NONE);
    assert_int_equal(fetched(f, "g", 0), 31);
    txn_commit_offset(f, "t", q, "g", 50);
    assert_int_equal(end(f, "t", q, true), SK_KERR_NONE);
    fx_restart(f);
    assert_int_equal(fetched(f, "g", 0), 50);
    /* a fenced producer's offsets are refused */
    sk_off_commit_args_t a = {sk_str_c("g"), -1, sk_str_c(""), SK_STR_NULL, -1};
    sk_off_entry_t e = {sk_str_c("in"), 0, 99, -1, SK_STR_NULL, 0};
    assert_int_equal(sk_off_txn_commit(f->groups, p.producer_id, p.producer_epoch, &a, &e, 1), SK_OK);
    assert_int_equal(e.error_code, SK_KERR_PRODUCER_FENCED);
}

/* Transactions v2 (EndTxn v5): the epoch moves on at every end, markers carry the new
 * one, an EndTxn with nothing added still bumps, a retry gets the same answer, the old
 * epoch is fenced. */
static void
test_v2_end(void **st)
{
    fx_t *f = *st;
    sk_txn_init_result_t p = init(f, "t");
    int64_t pid;
    int16_t epoch;

    assert_int_equal(add(f, "t", p, "a", 0), SK_KERR_NONE); /* Produce v12 adds implicitly the same way */
    assert_int_equal(sk_txn_end_v2(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, true, &pid, &epoch),
                     SK_KERR_NONE);
    sk_txn_coord_verify(f->t);
    assert_int_equal(pid, p.producer_id);
    assert_int_equal(epoch, p.producer_epoch + 1);
    assert_int_equal(f->mark_count, 1);
    assert_true(f->marks[0].commit);
    assert_int_equal(f->marks[0].epoch, epoch); /* the old epoch is fenced in the partition */
    assert_string_equal(state(f, "t", NULL), "CompleteCommit");
    /* the same request again: the same answer, no second bump */
    int64_t pid2;
    int16_t epoch2;
    assert_int_equal(sk_txn_end_v2(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, true, &pid2, &epoch2),
                     SK_KERR_NONE);
    assert_int_equal(epoch2, epoch);
    assert_int_equal(sk_txn_end_v2(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, false, &pid2, &epoch2),
                     SK_KERR_INVALID_TXN_STATE);
    /* the old epoch cannot add or produce any more */
    assert_int_equal(add(f, "t", p, "a", 0), SK_KERR_PRODUCER_FENCED);
    assert_int_equal(sk_txn_produce_check(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, "a", 1, 0),
                     SK_KERR_INVALID_PRODUCER_EPOCH);
    /* an end with nothing added (an abort before any write) bumps too, without markers */
    assert_int_equal(sk_txn_end_v2(f->t, sk_str_c("t"), pid, epoch, false, &pid2, &epoch2), SK_KERR_NONE);
    assert_int_equal(epoch2, epoch + 1);
    assert_int_equal(f->mark_count, 1);
    assert_string_equal(state(f, "t", NULL), "CompleteAbort");
    /* two epochs back is fenced */
    assert_int_equal(sk_txn_end_v2(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, true, &pid2, &epoch2),
                     SK_KERR_PRODUCER_FENCED);
    /* an epoch replaced by InitProducerId is fenced, not a retry */
    sk_txn_init_result_t q = init_ex(f, "t", 10000, -1, -1);
    assert_int_equal(sk_txn_end_v2(f->t, sk_str_c("t"), pid, epoch + 1, false, &pid2, &epoch2),
                     SK_KERR_PRODUCER_FENCED);
    assert_int_equal(sk_txn_end_v2(f->t, sk_str_c("t"), q.producer_id + 1, q.producer_epoch, false, &pid2, &epoch2),
                     SK_KERR_INVALID_PRODUCER_ID_MAPPING);
}

/* Ids with nothing open are forgotten after transactional.id.expiration.ms, durably. */
static void
test_id_expiry(void **st)
{
    fx_t *f = *st;
    f->opt.id_expiration_ms = 60000;
    f->opt.expire_check_interval_ms = 1000;
    fx_with_store(f);
    sk_txn_init_result_t a = init(f, "idle"), b = init_ex(f, "busy", 60000, -1, -1);

    assert_int_equal(add(f, "busy", b, "x", 0), SK_KERR_NONE);
    tick_after(f, 30000);
    assert_string_equal(state(f, "idle", NULL), "Empty");
    tick_after(f, 31000); /* idle 61 s; busy was aborted by its timeout at 60 s */
    assert_string_equal(state(f, "idle", NULL), "");
    assert_string_equal(state(f, "busy", NULL), "CompleteAbort");
    assert_int_equal(add(f, "idle", a, "x", 0), SK_KERR_INVALID_PRODUCER_ID_MAPPING);
    fx_restart(f); /* the tombstone is replayed */
    assert_string_equal(state(f, "idle", NULL), "");
    assert_string_equal(state(f, "busy", NULL), "CompleteAbort");
    sk_txn_init_result_t again = init(f, "idle");
    assert_int_equal(again.error_code, SK_KERR_NONE);
    assert_true(again.producer_id != a.producer_id); /* a fresh id */
}

typedef struct join_cap {
    int16_t err;
    int32_t gen;
    char member[128];
} join_cap_t;

static void
join_cb(void *ctx, const sk_grp_join_result_t *r)
{
    join_cap_t *j = ctx;
    j->err = r->error_code;
    j->gen = r->generation_id;
    snprintf(j->member, sizeof(j->member), "%s", r->member_id ? r->member_id : "");
}

static void
sync_cb(void *ctx, const sk_grp_sync_result_t *r)
{
    *(int16_t *)ctx = r->error_code;
}

/* TxnOffsetCommit and a live group: a member's commit is checked like OffsetCommit, one
 * without member identity (v0-2) is accepted, the producer epoch being the fence. */
static void
test_txn_offsets_group(void **st)
{
    fx_t *f = *st;
    sk_grp_protocol_t proto = {sk_str_c("range"), {(const uint8_t *)"", 0}};
    sk_grp_join_args_t ja = {.version = 3, .group_id = sk_str_c("g"), .member_id = sk_str_c(""),
                             .instance_id = SK_STR_NULL, .protocol_type = sk_str_c("consumer"),
                             .client_id = sk_str_c("c"), .client_host = sk_str_c("h"), .session_timeout_ms = 10000,
                             .rebalance_timeout_ms = 10000, .protocols = &proto, .protocol_count = 1};
    join_cap_t j = {0};
    int16_t sync_err = -2;
    sk_grp_assignment_t asg = {{NULL, 0}, {(const uint8_t *)"", 0}};
    sk_txn_init_result_t p = init(f, "t");

    sk_coord_free(f->groups); /* no initial rebalance delay */
    f->gopt.initial_rebalance_delay_ms = 0;
    assert_int_equal(sk_coord_new(&f->gopt, &f->groups), SK_OK);
    f->opt.groups = f->groups;
    sk_txn_coord_free(f->t);
    assert_int_equal(sk_txn_coord_new(&f->opt, &f->t), SK_OK);
    p = init(f, "t");
    sk_grp_join(f->groups, &ja, join_cb, &j);
    f->clock.mono += 10;
    sk_coord_tick(f->groups);
    assert_int_equal(j.err, SK_KERR_NONE);
    asg.member_id = sk_str_c(j.member);
    sk_grp_sync_args_t sa = {sk_str_c("g"), j.gen, sk_str_c(j.member), SK_STR_NULL, SK_STR_NULL, SK_STR_NULL, &asg, 1};
    sk_grp_sync(f->groups, &sa, sync_cb, &sync_err);
    assert_int_equal(sync_err, SK_KERR_NONE);
    assert_int_equal(sk_txn_add_offsets(f->t, sk_str_c("t"), p.producer_id, p.producer_epoch, sk_str_c("g")),
                     SK_KERR_NONE);

    sk_off_entry_t e = {sk_str_c("in"), 0, 5, -1, SK_STR_NULL, 0};
    sk_off_commit_args_t stale = {sk_str_c("g"), j.gen + 1, sk_str_c(j.member), SK_STR_NULL, -1};
    assert_int_equal(sk_off_txn_commit(f->groups, p.producer_id, p.producer_epoch, &stale, &e, 1), SK_OK);
    assert_int_equal(e.error_code, SK_KERR_ILLEGAL_GENERATION);
    sk_off_commit_args_t member = {sk_str_c("g"), j.gen, sk_str_c(j.member), SK_STR_NULL, -1};
    e.error_code = 0;
    assert_int_equal(sk_off_txn_commit(f->groups, p.producer_id, p.producer_epoch, &member, &e, 1), SK_OK);
    assert_int_equal(e.error_code, SK_KERR_NONE);
    sk_off_commit_args_t anon = {sk_str_c("g"), -1, sk_str_c(""), SK_STR_NULL, -1};
    e.error_code = 0;
    e.offset = 6;
    assert_int_equal(sk_off_txn_commit(f->groups, p.producer_id, p.producer_epoch, &anon, &e, 1), SK_OK);
    assert_int_equal(e.error_code, SK_KERR_NONE);
    assert_int_equal(end(f, "t", p, true), SK_KERR_NONE);
    assert_int_equal(fetched(f, "g", 0), 6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kip360, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_and_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fencing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marker_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_offsets_group, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
