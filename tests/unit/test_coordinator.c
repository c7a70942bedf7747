/* tests/unit/test_coordinator.c: the classic group state machine and the offset store,
 * driven through the public API with a fake clock: joins (MEMBER_ID_REQUIRED, the
 * initial rebalance delay), protocol selection, syncs, heartbeats, leaves, session
 * expiry, rebalance timeout, generation fencing of commits, static membership, admin
 * views, offset retention, and durability: state written to a real __consumer_offsets
 * log in a temp dir is replayed by a second coordinator. Answers are captured from the
 * callbacks (copied, since they are valid only during the call); sk_coord_verify runs
 * after each step. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "coordinator/coordinator.h"

/* ---- fake clock ---- */
typedef struct fake_clock {
    int64_t mono;
    int64_t wall;
} fake_clock_t;

static int64_t fc_mono(void *ctx) { return ((fake_clock_t *)ctx)->mono; }
static int64_t fc_wall(void *ctx) { return ((fake_clock_t *)ctx)->wall; }

static void
advance(fake_clock_t *fc, int64_t ms)
{
    fc->mono += ms;
    fc->wall += ms;
}

/* ---- captured answers ---- */
typedef struct join_cap {
    int calls;
    int16_t err;
    int32_t gen;
    char member_id[256];
    char leader[256];
    char protocol[64];
    int32_t member_count;
    char members[8][256];
    bool skip;
} join_cap_t;

static void
join_cb(void *ctx, const sk_grp_join_result_t *r)
{
    join_cap_t *c = ctx;
    c->calls++;
    c->err = r->error_code;
    c->gen = r->generation_id;
    snprintf(c->member_id, sizeof(c->member_id), "%s", r->member_id ? r->member_id : "");
    snprintf(c->leader, sizeof(c->leader), "%s", r->leader_id ? r->leader_id : "");
    snprintf(c->protocol, sizeof(c->protocol), "%s", r->protocol_name ? r->protocol_name : "");
    c->member_count = r->member_count;
    c->skip = r->skip_assignment;
    for (int32_t i = 0; i < r->member_count && i < 8; i++)
        snprintf(c->members[i], sizeof(c->members[i]), "%s", r->members[i].member_id);
}

typedef struct sync_cap {
    int calls;
    int16_t err;
    char assignment[64];
} sync_cap_t;

static void
sync_cb(void *ctx, const sk_grp_sync_result_t *r)
{
    sync_cap_t *c = ctx;
    c->calls++;
    c->err = r->error_code;
    snprintf(c->assignment, sizeof(c->assignment), "%.*s", (int)r->assignment.len,
             r->assignment.len > 0 ? (const char *)r->assignment.ptr : "");
}

/* ---- fixture ---- */
typedef struct fx {
    fake_clock_t clock;
    sk_coord_options_t opt;
    sk_coord_t *c;
    char dir[64];
    sk_logmgr_t *logs;
    sk_coord_store_t store;
} fx_t;

#define FX_PARTITIONS 3

static int
store_append(void *ctx, int32_t partition, uint8_t *batch, size_t len)
{
    fx_t *f = ctx;
    sk_append_info_t info;
    sk_log_t *log = sk_logmgr_get(f->logs, SK_COORD_OFFSETS_TOPIC, partition);
    if (!log) return SK_ENOENT;
    return sk_log_append(log, batch, len, 0, f->clock.wall, &info);
}

static sk_log_t *
store_log(void *ctx, int32_t partition)
{
    fx_t *f = ctx;
    return sk_logmgr_get(f->logs, SK_COORD_OFFSETS_TOPIC, partition);
}

static int
setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    f->clock = (fake_clock_t){1000000, 1700000000000LL};
    sk_coord_options_defaults(&f->opt);
    f->opt.initial_rebalance_delay_ms = 0;
    f->opt.offsets_partitions = FX_PARTITIONS;
    f->opt.clock = (sk_coord_clock_t){fc_mono, fc_wall, &f->clock};
    if (sk_coord_new(&f->opt, &f->c) != SK_OK) return -1;
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
    sk_coord_free(f->c);
    if (f->logs) sk_logmgr_close(f->logs);
    if (f->dir[0]) nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A coordinator backed by real logs in a fresh directory. */
static void
fx_with_store(fx_t *f)
{
    sk_uuid_t id;
    sk_log_t *log;
    sk_log_config_t lc;
    sk_log_config_defaults(&lc);
    snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-coord-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(sk_logmgr_open(f->dir, &lc, &f->logs), SK_OK);
    sk_uuid_random(&id);
    for (int32_t p = 0; p < FX_PARTITIONS; p++)
        assert_int_equal(sk_logmgr_create(f->logs, SK_COORD_OFFSETS_TOPIC, p, &id, NULL, &log), SK_OK);
    f->store = (sk_coord_store_t){store_append, store_log, f};
    f->opt.store = &f->store;
    sk_coord_free(f->c);
    assert_int_equal(sk_coord_new(&f->opt, &f->c), SK_OK);
}

/* ---- request helpers ---- */
static sk_grp_protocol_t protos_range[] = {{{"range", 5}, {(const uint8_t *)"\0\0\0\0\0\0", 6}}};

static void
join_full(fx_t *f, int16_t version, const char *member, const char *instance, const sk_grp_protocol_t *protos,
          int32_t nprotos, join_cap_t *cap)
{
    sk_grp_join_args_t a = {0};
    a.version = version;
    a.group_id = sk_str_c("g");
    a.member_id = sk_str_c(member);
    a.instance_id = instance ? sk_str_c(instance) : SK_STR_NULL;
    a.protocol_type = sk_str_c("consumer");
    a.client_id = sk_str_c("client");
    a.client_host = sk_str_c("/127.0.0.1");
    a.session_timeout_ms = 10000;
    a.rebalance_timeout_ms = 30000;
    a.protocols = protos;
    a.protocol_count = nprotos;
    sk_grp_join(f->c, &a, join_cb, cap);
    sk_coord_verify(f->c);
}

static void
join(fx_t *f, const char *member, join_cap_t *cap)
{
    join_full(f, 3, member, NULL, protos_range, 1, cap);
}

static void
sync_(fx_t *f, const char *member, int32_t gen, const sk_grp_assignment_t *as, int32_t n, sync_cap_t *cap)
{
    sk_grp_sync_args_t a = {0};
    a.group_id = sk_str_c("g");
    a.generation_id = gen;
    a.member_id = sk_str_c(member);
    a.instance_id = SK_STR_NULL;
    a.protocol_type = SK_STR_NULL;
    a.protocol_name = SK_STR_NULL;
    a.assignments = as;
    a.assignment_count = n;
    sk_grp_sync(f->c, &a, sync_cb, cap);
    sk_coord_verify(f->c);
}

static int16_t
heartbeat(fx_t *f, const char *member, int32_t gen)
{
    int16_t e = sk_grp_heartbeat(f->c, sk_str_c("g"), gen, sk_str_c(member), SK_STR_NULL);
    sk_coord_verify(f->c);
    return e;
}

static void
tick(fx_t *f)
{
    sk_coord_tick(f->c);
    sk_coord_verify(f->c);
}

static const char *
state_of(fx_t *f)
{
    const char *s = sk_grp_state_name_of(f->c, sk_str_c("g"));
    return s ? s : "none";
}

/* One member joins and syncs: a Stable group of generation 1. */
static void
stable_one(fx_t *f, join_cap_t *j, sync_cap_t *s)
{
    sk_grp_assignment_t as;
    join(f, "", j);
    assert_int_equal(j->calls, 1);
    assert_int_equal(j->err, SK_KERR_NONE);
    as = (sk_grp_assignment_t){sk_str_c(j->member_id), {(const uint8_t *)"A1", 2}};
    sync_(f, j->member_id, j->gen, &as, 1, s);
    assert_int_equal(s->calls, 1);
    assert_int_equal(s->err, SK_KERR_NONE);
}

/* ---- tests ---- */

static void
test_single_member(void **state)
{
    fx_t *f = *state;
    join_cap_t j = {0};
    sync_cap_t s = {0};

    stable_one(f, &j, &s);
    assert_int_equal(j.gen, 1);
    assert_string_equal(j.leader, j.member_id);
    assert_string_equal(j.protocol, "range");
    assert_int_equal(j.member_count, 1);
    assert_string_equal(j.members[0], j.member_id);
    assert_string_equal(s.assignment, "A1");
    assert_string_equal(state_of(f), "Stable");
    assert_int_equal(heartbeat(f, j.member_id, 1), SK_KERR_NONE);
    assert_int_equal(heartbeat(f, j.member_id, 0), SK_KERR_ILLEGAL_GENERATION);
    assert_int_equal(heartbeat(f, "nobody", 1), SK_KERR_UNKNOWN_MEMBER_ID);
}

static void
test_member_id_required(void **state)
{
    fx_t *f = *state;
    join_cap_t j1 = {0}, j2 = {0}, j3 = {0};

    join_full(f, 4, "", NULL, protos_range, 1, &j1);
    assert_int_equal(j1.calls, 1);
    assert_int_equal(j1.err, SK_KERR_GRP_MEMBER_ID_REQUIRED);
    assert_true(strncmp(j1.member_id, "client-", 7) == 0);
    join_full(f, 4, j1.member_id, NULL, protos_range, 1, &j2);
    assert_int_equal(j2.err, SK_KERR_NONE);
    assert_string_equal(j2.member_id, j1.member_id);
    assert_int_equal(j2.gen, 1);
    /* an id that was never handed out is refused */
    join_full(f, 4, "client-made-up", NULL, protos_range, 1, &j3);
    assert_int_equal(j3.err, SK_KERR_UNKNOWN_MEMBER_ID);
}

static void
test_invalid_join(void **state)
{
    fx_t *f = *state;
    join_cap_t j = {0};
    sk_grp_join_args_t a = {0};

    a.version = 3;
    a.group_id = sk_str_c("g");
    a.member_id = sk_str_c("");
    a.instance_id = SK_STR_NULL;
    a.protocol_type = sk_str_c("consumer");
    a.protocols = protos_range;
    a.protocol_count = 1;
    a.session_timeout_ms = 10; /* below group.min.session.timeout.ms */
    a.rebalance_timeout_ms = 10;
    sk_grp_join(f->c, &a, join_cb, &j);
    assert_int_equal(j.err, SK_KERR_INVALID_SESSION_TIMEOUT);
    a.session_timeout_ms = 10000;
    a.group_id = sk_str_c("");
    sk_grp_join(f->c, &a, join_cb, &j);
    assert_int_equal(j.err, SK_KERR_INVALID_GROUP_ID);
    assert_int_equal(j.calls, 2);
}

/* A second member triggers a rebalance; the leader learns of it from its heartbeat,
 * rejoins, and both get generation 2; the leader's assignment reaches both. */
static void
test_two_members_rebalance(void **state)
{
    fx_t *f = *state;
    join_cap_t a1 = {0}, b = {0}, a2 = {0};
    sync_cap_t sa1 = {0}, sb = {0}, sa2 = {0};
    sk_grp_assignment_t as[2];

    stable_one(f, &a1, &sa1);
    join(f, "", &b);
    assert_int_equal(b.calls, 0); /* parked until the leader rejoins */
    assert_string_equal(state_of(f), "PreparingRebalance");
    assert_int_equal(heartbeat(f, a1.member_id, 1), SK_KERR_REBALANCE_IN_PROGRESS);
    join(f, a1.member_id, &a2);
    assert_int_equal(a2.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a2.gen, 2);
    assert_int_equal(b.gen, 2);
    assert_string_equal(a2.leader, a1.member_id); /* the old leader stays leader */
    assert_int_equal(a2.member_count, 2);
    assert_int_equal(b.member_count, 0);
    assert_string_equal(state_of(f), "CompletingRebalance");

    sync_(f, b.member_id, 2, NULL, 0, &sb);
    assert_int_equal(sb.calls, 0); /* waits for the leader */
    as[0] = (sk_grp_assignment_t){sk_str_c(a1.member_id), {(const uint8_t *)"PA", 2}};
    as[1] = (sk_grp_assignment_t){sk_str_c(b.member_id), {(const uint8_t *)"PB", 2}};
    sync_(f, a1.member_id, 2, as, 2, &sa2);
    assert_int_equal(sb.calls, 1);
    assert_string_equal(sb.assignment, "PB");
    assert_string_equal(sa2.assignment, "PA");
    assert_string_equal(state_of(f), "Stable");
    /* a sync from the old generation is fenced */
    sync_(f, b.member_id, 1, NULL, 0, &sb);
    assert_int_equal(sb.err, SK_KERR_ILLEGAL_GENERATION);
}

/* A member that stops heartbeating is removed after its session timeout. */
static void
test_session_expiry(void **state)
{
    fx_t *f = *state;
    join_cap_t a = {0}, b = {0}, a2 = {0}, a3 = {0};
    sync_cap_t s = {0};

    stable_one(f, &a, &s);
    join(f, "", &b);
    join(f, a.member_id, &a2);
    assert_int_equal(b.gen, 2);
    sync_(f, a.member_id, 2, NULL, 0, &s);
    for (int i = 0; i < 4; i++) { /* 12 s: only a heartbeats (session timeout 10 s) */
        advance(&f->clock, 3000);
        assert_int_equal(heartbeat(f, a.member_id, 2), SK_KERR_NONE);
        tick(f);
    }
    assert_int_equal(heartbeat(f, b.member_id, 2), SK_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(f, a.member_id, 2), SK_KERR_REBALANCE_IN_PROGRESS);
    join(f, a.member_id, &a3);
    assert_int_equal(a3.err, SK_KERR_NONE);
    assert_int_equal(a3.gen, 3);
    assert_int_equal(a3.member_count, 1);
}

/* A member that keeps heartbeating but never rejoins is dropped at the rebalance
 * timeout, and the others get the new generation then. */
static void
test_rebalance_timeout(void **state)
{
    fx_t *f = *state;
    join_cap_t a = {0}, b = {0}, a2 = {0}, c = {0};
    sync_cap_t s = {0};

    stable_one(f, &a, &s);
    join(f, "", &b);
    join(f, a.member_id, &a2);
    sync_(f, a.member_id, 2, NULL, 0, &s);
    memset(&a2, 0, sizeof(a2));
    join(f, "", &c); /* third member: rebalance */
    join(f, a.member_id, &a2);
    assert_int_equal(a2.calls, 0);
    for (int i = 0; i < 12; i++) { /* 36 s > rebalance timeout 30 s; b only heartbeats */
        advance(&f->clock, 3000);
        heartbeat(f, b.member_id, 2);
        tick(f);
    }
    assert_int_equal(a2.calls, 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(a2.gen, 3);
    assert_int_equal(a2.member_count, 2);
    assert_int_equal(heartbeat(f, b.member_id, 3), SK_KERR_UNKNOWN_MEMBER_ID);
}

/* The initial rebalance delay holds the first generation back for more members. */
static void
test_initial_delay(void **state)
{
    fx_t *f = *state;
    join_cap_t a = {0}, b = {0};

    sk_coord_free(f->c);
    f->opt.initial_rebalance_delay_ms = 3000;
    assert_int_equal(sk_coord_new(&f->opt, &f->c), SK_OK);
    join(f, "", &a);
    advance(&f->clock, 2000);
    tick(f);
    assert_int_equal(a.calls, 0);
    join(f, "", &b); /* extends the delay by another 3 s */
    advance(&f->clock, 2000);
    tick(f);
    assert_int_equal(a.calls, 0);
    advance(&f->clock, 1500);
    tick(f);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.gen, 1);
    assert_int_equal(a.member_count + b.member_count, 2);
}

static void
test_protocol_selection(void **state)
{
    fx_t *f = *state;
    sk_grp_protocol_t pa[] = {{{"roundrobin", 10}, {NULL, 0}}, {{"range", 5}, {NULL, 0}}};
    sk_grp_protocol_t pb[] = {{{"range", 5}, {NULL, 0}}, {{"roundrobin", 10}, {NULL, 0}}};
    sk_grp_protocol_t pc[] = {{{"sticky", 6}, {NULL, 0}}, {{"range", 5}, {NULL, 0}}};
    sk_grp_protocol_t px[] = {{{"other", 5}, {NULL, 0}}};
    join_cap_t a = {0}, b = {0}, c = {0}, x = {0};

    sk_coord_free(f->c);
    f->opt.initial_rebalance_delay_ms = 1000;
    assert_int_equal(sk_coord_new(&f->opt, &f->c), SK_OK);
    join_full(f, 3, "", NULL, pa, 2, &a);
    join_full(f, 3, "", NULL, pb, 2, &b);
    join_full(f, 3, "", NULL, pc, 2, &c);
    join_full(f, 3, "", NULL, px, 1, &x); /* shares nothing with the others */
    assert_int_equal(x.err, SK_KERR_INCONSISTENT_GROUP_PROTOCOL);
    advance(&f->clock, 1000);
    tick(f);
    /* range is the only protocol everyone supports */
    assert_string_equal(a.protocol, "range");
    assert_string_equal(c.protocol, "range");
}

static void
test_protocol_votes(void **state)
{
    fx_t *f = *state;
    sk_grp_protocol_t pa[] = {{{"roundrobin", 10}, {NULL, 0}}, {{"range", 5}, {NULL, 0}}};
    sk_grp_protocol_t pb[] = {{{"range", 5}, {NULL, 0}}, {{"roundrobin", 10}, {NULL, 0}}};
    join_cap_t a = {0}, b = {0}, c = {0};

    sk_coord_free(f->c);
    f->opt.initial_rebalance_delay_ms = 1000;
    assert_int_equal(sk_coord_new(&f->opt, &f->c), SK_OK);
    join_full(f, 3, "", NULL, pa, 2, &a);
    join_full(f, 3, "", NULL, pb, 2, &b);
    join_full(f, 3, "", NULL, pb, 2, &c);
    advance(&f->clock, 1000);
    tick(f);
    assert_string_equal(a.protocol, "range"); /* two votes against one */
}

/* A static member that restarts within its session timeout keeps its generation and
 * its assignment; the old member id is fenced. */
static void
test_static_member(void **state)
{
    fx_t *f = *state;
    join_cap_t a = {0}, b = {0}, a2 = {0};
    sync_cap_t sa = {0}, sb = {0}, sa2 = {0};
    sk_grp_assignment_t as[2];

    sk_coord_free(f->c);
    f->opt.initial_rebalance_delay_ms = 100;
    assert_int_equal(sk_coord_new(&f->opt, &f->c), SK_OK);
    join_full(f, 5, "", "inst-a", protos_range, 1, &a);
    join_full(f, 5, "", "inst-b", protos_range, 1, &b);
    advance(&f->clock, 100);
    tick(f);
    assert_int_equal(a.gen, 1);
    assert_true(strncmp(a.member_id, "inst-a-", 7) == 0);
    as[0] = (sk_grp_assignment_t){sk_str_c(a.member_id), {(const uint8_t *)"PA", 2}};
    as[1] = (sk_grp_assignment_t){sk_str_c(b.member_id), {(const uint8_t *)"PB", 2}};
    const char *leader = strcmp(a.leader, a.member_id) == 0 ? a.member_id : b.member_id;
    const char *other = leader == a.member_id ? b.member_id : a.member_id;
    sync_(f, other, 1, NULL, 0, &sb);
    sync_(f, leader, 1, as, 2, &sa);
    assert_string_equal(state_of(f), "Stable");

    /* b restarts: joins with no member id but the same instance id */
    advance(&f->clock, 5000);
    assert_int_equal(heartbeat(f, a.member_id, 1), SK_KERR_NONE);
    join_full(f, 5, "", "inst-b", protos_range, 1, &a2);
    assert_int_equal(a2.err, SK_KERR_NONE);
    assert_int_equal(a2.gen, 1); /* no rebalance */
    assert_string_not_equal(a2.member_id, b.member_id);
    assert_string_equal(state_of(f), "Stable");
    sync_(f, a2.member_id, 1, NULL, 0, &sa2);
    assert_int_equal(sa2.err, SK_KERR_NONE);
    assert_string_equal(sa2.assignment, "PB");
    assert_int_equal(sk_grp_heartbeat(f->c, sk_str_c("g"), 1, sk_str_c(b.member_id), sk_str_c("inst-b")),
                     SK_KERR_GRP_FENCED_INSTANCE_ID);
    assert_int_equal(heartbeat(f, a.member_id, 1), SK_KERR_NONE);
}

/* A static leader that comes back is told to skip the assignment from JoinGroup v9;
 * an older leader cannot be, so its return starts a rebalance. */
static void
test_static_leader(void **state)
{
    fx_t *f = *state;
    join_cap_t a = {0}, a2 = {0}, a3 = {0};
    sync_cap_t s = {0};
    sk_grp_assignment_t as;

    join_full(f, 9, "", "lead", protos_range, 1, &a);
    assert_int_equal(a.err, SK_KERR_NONE);
    assert_false(a.skip);
    as = (sk_grp_assignment_t){sk_str_c(a.member_id), {(const uint8_t *)"PL", 2}};
    sync_(f, a.member_id, a.gen, &as, 1, &s);
    join_full(f, 9, "", "lead", protos_range, 1, &a2);
    assert_int_equal(a2.gen, a.gen);
    assert_true(a2.skip);
    assert_string_equal(a2.leader, a2.member_id);
    assert_int_equal(a2.member_count, 1);
    assert_string_equal(state_of(f), "Stable");
    join_full(f, 5, "", "lead", protos_range, 1, &a3);
    assert_int_equal(a3.err, SK_KERR_NONE);
    assert_int_equal(a3.gen, a.gen + 1);
    assert_false(a3.skip);
    assert_string_equal(state_of(f), "CompletingRebalance");
}

/* Commits: simple commits on an empty group, fencing by generation and member. */
static void
test_commit_fencing(void **state)
{
    fx_t *f = *state;
    join_cap_t j = {0};
    sync_cap_t s = {0};
    sk_off_entry_t e[1];
    sk_off_commit_args_t ca;
    sk_off_view_t v;

    e[0] = (sk_off_entry_t){sk_str_c("t"), 0, 42, 7, sk_str_c("meta"), 0};
    ca = (sk_off_commit_args_t){sk_str_c("g"), 5, sk_str_c("m"), SK_STR_NULL, -1};
    assert_int_equal(sk_off_commit(f->c, &ca, e, 1), SK_OK);
    assert_int_equal(e[0].error_code, SK_KERR_ILLEGAL_GENERATION); /* no such group */
    ca = (sk_off_commit_args_t){sk_str_c("g"), -1, sk_str_c(""), SK_STR_NULL, -1};
    e[0].error_code = 0;
    assert_int_equal(sk_off_commit(f->c, &ca, e, 1), SK_OK);
    assert_int_equal(e[0].error_code, SK_KERR_NONE); /* simple commit */
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("t"), 0, &v), SK_OK);
    assert_int_equal(v.offset, 42);
    assert_int_equal(v.leader_epoch, 7);
    assert_string_equal(v.metadata, "meta");
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("t"), 1, &v), SK_ENOENT);

    stable_one(f, &j, &s);
    e[0].offset = 50;
    e[0].error_code = 0;
    ca = (sk_off_commit_args_t){sk_str_c("g"), j.gen, sk_str_c(j.member_id), SK_STR_NULL, -1};
    sk_off_commit(f->c, &ca, e, 1);
    assert_int_equal(e[0].error_code, SK_KERR_NONE);
    ca.generation_id = j.gen - 1;
    e[0].offset = 1;
    e[0].error_code = 0;
    sk_off_commit(f->c, &ca, e, 1);
    assert_int_equal(e[0].error_code, SK_KERR_ILLEGAL_GENERATION);
    ca = (sk_off_commit_args_t){sk_str_c("g"), j.gen, sk_str_c("stranger"), SK_STR_NULL, -1};
    e[0].error_code = 0;
    sk_off_commit(f->c, &ca, e, 1);
    assert_int_equal(e[0].error_code, SK_KERR_UNKNOWN_MEMBER_ID);
    ca = (sk_off_commit_args_t){sk_str_c("g"), -1, sk_str_c(""), SK_STR_NULL, -1};
    e[0].error_code = 0;
    sk_off_commit(f->c, &ca, e, 1); /* a simple commit into a live group */
    assert_int_equal(e[0].error_code, SK_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("t"), 0, &v), SK_OK);
    assert_int_equal(v.offset, 50); /* none of the refused commits landed */
    /* metadata over offset.metadata.max.bytes */
    char big[SK_COORD_METADATA_MAX_BYTES + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    e[0] = (sk_off_entry_t){sk_str_c("t"), 0, 60, -1, sk_str_c(big), 0};
    ca = (sk_off_commit_args_t){sk_str_c("g"), j.gen, sk_str_c(j.member_id), SK_STR_NULL, -1};
    sk_off_commit(f->c, &ca, e, 1);
    assert_int_equal(e[0].error_code, SK_KERR_OFFSET_METADATA_TOO_LARGE);
}

/* LeaveGroup of the last member empties the group; admin views follow. */
static void
test_leave_describe_delete(void **state)
{
    fx_t *f = *state;
    join_cap_t j = {0};
    sync_cap_t s = {0};
    sk_arena_t arena;
    sk_grp_desc_t d;
    sk_grp_listed_t *l;
    int32_t n;

    sk_arena_init(&arena, 0);
    stable_one(f, &j, &s);
    assert_int_equal(sk_grp_describe(f->c, sk_str_c("g"), &arena, &d), SK_OK);
    assert_string_equal(d.state, "Stable");
    assert_string_equal(d.protocol_name, "range");
    assert_int_equal(d.member_count, 1);
    assert_string_equal(d.members[0].client_host, "/127.0.0.1");
    assert_int_equal(d.members[0].assignment.len, 2);
    assert_int_equal(sk_grp_delete(f->c, sk_str_c("g")), SK_KERR_GRP_NON_EMPTY_GROUP);
    assert_int_equal(sk_grp_leave(f->c, sk_str_c("g"), sk_str_c("nobody"), SK_STR_NULL), SK_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(sk_grp_leave(f->c, sk_str_c("g"), sk_str_c(j.member_id), SK_STR_NULL), SK_KERR_NONE);
    sk_coord_verify(f->c);
    assert_string_equal(state_of(f), "Empty");
    assert_int_equal(sk_grp_list(f->c, &arena, &l, &n), SK_OK);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].group_id, "g");
    assert_string_equal(l[0].state, "Empty");
    assert_string_equal(l[0].protocol_type, "consumer");
    assert_int_equal(sk_grp_delete(f->c, sk_str_c("g")), SK_KERR_NONE);
    assert_int_equal(sk_grp_delete(f->c, sk_str_c("g")), SK_KERR_GRP_GROUP_ID_NOT_FOUND);
    assert_int_equal(sk_grp_describe(f->c, sk_str_c("g"), &arena, &d), SK_OK);
    assert_int_equal(d.error_code, SK_KERR_GRP_GROUP_ID_NOT_FOUND);
    sk_arena_deinit(&arena);
}

/* Offsets of an empty group expire after the retention; then the group goes. */
static void
test_retention(void **state)
{
    fx_t *f = *state;
    sk_off_entry_t e = {sk_str_c("t"), 0, 42, -1, SK_STR_NULL, 0};
    sk_off_commit_args_t ca = {sk_str_c("g"), -1, sk_str_c(""), SK_STR_NULL, -1};
    sk_off_view_t v;

    sk_coord_free(f->c);
    f->opt.offsets_retention_ms = 60000;
    f->opt.retention_check_interval_ms = 1000;
    assert_int_equal(sk_coord_new(&f->opt, &f->c), SK_OK);
    sk_off_commit(f->c, &ca, &e, 1);
    advance(&f->clock, 30000);
    tick(f);
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("t"), 0, &v), SK_OK);
    advance(&f->clock, 31000);
    tick(f);
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("t"), 0, &v), SK_ENOENT);
    assert_string_equal(state_of(f), "none");
}

/* OffsetDelete refuses topics the live group consumes. */
static void
test_offset_delete(void **state)
{
    fx_t *f = *state;
    /* ConsumerProtocolSubscription v0: version, [topics] = ["t"], user data null */
    static const uint8_t sub[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff};
    sk_grp_protocol_t p[] = {{{"range", 5}, {sub, sizeof(sub)}}};
    sk_off_entry_t e[2] = {{sk_str_c("t"), 0, 1, -1, SK_STR_NULL, 0}, {sk_str_c("u"), 0, 2, -1, SK_STR_NULL, 0}};
    sk_off_commit_args_t ca;
    join_cap_t j = {0};
    sync_cap_t s = {0};
    sk_off_view_t v;

    assert_int_equal(sk_off_delete(f->c, sk_str_c("g"), e, 2), SK_KERR_GRP_GROUP_ID_NOT_FOUND);
    join_full(f, 3, "", NULL, p, 1, &j);
    sync_(f, j.member_id, j.gen, NULL, 0, &s);
    ca = (sk_off_commit_args_t){sk_str_c("g"), j.gen, sk_str_c(j.member_id), SK_STR_NULL, -1};
    sk_off_commit(f->c, &ca, e, 2);
    assert_int_equal(e[0].error_code, SK_KERR_NONE);
    assert_int_equal(sk_off_delete(f->c, sk_str_c("g"), e, 2), SK_KERR_NONE);
    assert_int_equal(e[0].error_code, SK_KERR_GRP_GROUP_SUBSCRIBED_TO_TOPIC);
    assert_int_equal(e[1].error_code, SK_KERR_NONE);
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("t"), 0, &v), SK_OK);
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("u"), 0, &v), SK_ENOENT);
}

/* Everything written goes to __consumer_offsets and a new coordinator reads it back:
 * offsets, the Stable group with its member and assignment, deletions. */
static void
test_durability(void **state)
{
    fx_t *f = *state;
    join_cap_t j = {0}, j2 = {0};
    sync_cap_t s = {0}, s2 = {0};
    sk_off_entry_t e[2] = {{sk_str_c("t"), 0, 11, 3, sk_str_c("m0"), 0}, {sk_str_c("t"), 1, 22, -1, SK_STR_NULL, 0}};
    sk_off_commit_args_t ca;
    sk_off_view_t v;
    sk_arena_t arena;
    sk_grp_desc_t d;

    fx_with_store(f);
    stable_one(f, &j, &s);
    ca = (sk_off_commit_args_t){sk_str_c("g"), j.gen, sk_str_c(j.member_id), SK_STR_NULL, -1};
    sk_off_commit(f->c, &ca, e, 2);
    assert_int_equal(e[0].error_code, SK_KERR_NONE);
    e[1].offset = 23; /* a later commit wins on replay */
    e[1].error_code = 0;
    sk_off_commit(f->c, &ca, &e[1], 1);
    ca = (sk_off_commit_args_t){sk_str_c("other"), -1, sk_str_c(""), SK_STR_NULL, -1};
    e[0].error_code = 0;
    sk_off_commit(f->c, &ca, e, 1);
    assert_int_equal(sk_grp_delete(f->c, sk_str_c("other")), SK_KERR_NONE);

    sk_coord_free(f->c);
    assert_int_equal(sk_coord_new(&f->opt, &f->c), SK_OK);
    assert_int_equal(sk_coord_load(f->c), SK_OK);
    sk_coord_verify(f->c);
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("t"), 0, &v), SK_OK);
    assert_int_equal(v.offset, 11);
    assert_int_equal(v.leader_epoch, 3);
    assert_string_equal(v.metadata, "m0");
    assert_int_equal(sk_off_fetch(f->c, sk_str_c("g"), sk_str_c("t"), 1, &v), SK_OK);
    assert_int_equal(v.offset, 23);
    assert_null(sk_grp_state_name_of(f->c, sk_str_c("other")));
    sk_arena_init(&arena, 0);
    assert_int_equal(sk_grp_describe(f->c, sk_str_c("g"), &arena, &d), SK_OK);
    assert_string_equal(d.state, "Stable");
    assert_int_equal(d.member_count, 1);
    assert_string_equal(d.members[0].member_id, j.member_id);
    assert_int_equal(d.members[0].assignment.len, 2);
    sk_arena_deinit(&arena);
    /* the loaded member still heartbeats in its generation, and gets its assignment */
    assert_int_equal(heartbeat(f, j.member_id, j.gen), SK_KERR_NONE);
    sync_(f, j.member_id, j.gen, NULL, 0, &s2);
    assert_string_equal(s2.assignment, "A1");
    /* and expires when it does not come back */
    advance(&f->clock, 11000);
    tick(f);
    assert_string_equal(state_of(f), "Empty");
    join(f, "", &j2);
    assert_int_equal(j2.gen, j.gen + 2); /* expiry made generation +1 (empty), join +1 */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_id_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_members_rebalance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_initial_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_votes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_fencing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_describe_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durability, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
