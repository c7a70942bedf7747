/* coordinator/coord.c: the coordinator object: options, the group table, the injected
 * clock, the periodic tick (member expiry, rebalance deadlines, offset retention),
 * loading __consumer_offsets at start-up and the invariant walk. Loop thread only. */
#include "coordinator_int.h"

static int64_t
real_mono(void *ctx)
{
    (void)ctx;
    return sk_mono_ms();
}

static int64_t
real_wall(void *ctx)
{
    (void)ctx;
    return sk_wall_ms();
}

void
sk_coord_options_defaults(sk_coord_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->offsets_partitions = 50;
    o->offsets_retention_ms = 7LL * 24 * 3600 * 1000;
    o->retention_check_interval_ms = 600000;
    o->initial_rebalance_delay_ms = 3000;
    o->min_session_timeout_ms = 6000;
    o->max_session_timeout_ms = 1800000;
    o->max_group_size = INT32_MAX;
    o->clock = (sk_coord_clock_t){real_mono, real_wall, NULL};
}

int64_t
coord_now(const sk_coord_t *c)
{
    return c->opt.clock.mono_ms(c->opt.clock.ctx);
}

int64_t
coord_wall(const sk_coord_t *c)
{
    return c->opt.clock.wall_ms(c->opt.clock.ctx);
}

char *
coord_strdup(sk_str_t s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *p = malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s.ptr, n);
    p[n] = '\0';
    return p;
}

int
sk_coord_new(const sk_coord_options_t *opt, sk_coord_t **out)
{
    sk_coord_t *c = calloc(1, sizeof(*c));
    if (!c) return SK_ENOMEM;
    SK_ASSERT(opt->offsets_partitions > 0 && opt->clock.mono_ms && opt->clock.wall_ms);
    c->opt = *opt;
    if (opt->store) c->store = *opt->store;
    c->opt.store = NULL;
    sk_map_init(&c->groups);
    c->next_retention_check_ms = coord_now(c) + opt->retention_check_interval_ms;
    *out = c;
    return SK_OK;
}

static void
group_free(sk_grp_t *g)
{
    sk_map_entry_t *e;
    while (g->members) {
        grp_member_t *m = g->members;
        g->members = m->next;
        grp_member_free(m);
    }
    for (size_t i = 0; sk_map_next(&g->pending, &i, &e);) free(e->value);
    sk_map_deinit(&g->pending);
    off_clear(g);
    sk_map_deinit(&g->offsets);
    free(g->group_id);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader_id);
    free(g);
}

void
sk_coord_free(sk_coord_t *c)
{
    sk_map_entry_t *e;
    if (!c) return;
    for (size_t i = 0; sk_map_next(&c->groups, &i, &e);) grp_fail_waiters(e->value, SK_KERR_COORDINATOR_NOT_AVAILABLE);
    for (size_t i = 0; sk_map_next(&c->groups, &i, &e);) group_free(e->value);
    sk_map_deinit(&c->groups);
    off_txn_clear(c);
    free(c);
}

int32_t
sk_coord_partition_for(const sk_coord_t *c, sk_str_t group_id)
{
    return coord_partition_of(group_id, c->opt.offsets_partitions);
}

int32_t
coord_partition_of(sk_str_t key, int32_t partitions)
{
    int32_t h = sk_java_string_hash(key.ptr ? key.ptr : "", key.len > 0 ? (size_t)key.len : 0);
    /* Kafka's Utils.abs: MIN_VALUE maps to 0, everything else to its magnitude. */
    int64_t a = h == INT32_MIN ? 0 : (h < 0 ? -(int64_t)h : h);
    return (int32_t)(a % partitions);
}

sk_grp_t *
coord_group_get(const sk_coord_t *c, sk_str_t id)
{
    if (id.len < 0) return NULL;
    return sk_map_get(&c->groups, id.ptr ? id.ptr : "", (size_t)id.len);
}

sk_grp_t *
coord_group_add(sk_coord_t *c, const char *id, size_t len)
{
    sk_grp_t *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->group_id = coord_strdup((sk_str_t){id, (int32_t)len});
    if (!g->group_id || sk_map_put(&c->groups, id, len, g) != SK_OK) {
        free(g->group_id);
        free(g);
        return NULL;
    }
    sk_map_init(&g->pending);
    sk_map_init(&g->offsets);
    g->state = GRP_EMPTY;
    g->state_wall_ms = coord_wall(c);
    g->partition = sk_coord_partition_for(c, (sk_str_t){id, (int32_t)len});
    return g;
}

void
coord_group_remove(sk_coord_t *c, sk_grp_t *g)
{
    void *old = sk_map_del(&c->groups, g->group_id, strlen(g->group_id));
    SK_ASSERT(old == g);
    grp_fail_waiters(g, SK_KERR_COORDINATOR_NOT_AVAILABLE);
    group_free(g);
}

void
sk_coord_tick(sk_coord_t *c)
{
    int64_t now = coord_now(c);
    sk_map_entry_t *e;
    for (size_t i = 0; sk_map_next(&c->groups, &i, &e);) grp_tick(c, e->value, now);
    if (now >= c->next_retention_check_ms) {
        c->next_retention_check_ms = now + c->opt.retention_check_interval_ms;
        off_expire(c, coord_wall(c));
    }
}

int
sk_coord_load(sk_coord_t *c)
{
    int rc;
    if (!c->store.log) return SK_OK;
    for (int32_t p = 0; p < c->opt.offsets_partitions; p++) {
        sk_log_t *log = c->store.log(c->store.ctx, p);
        if (!log) continue;
        if ((rc = rec_load_partition(c, log)) != SK_OK) return rc;
    }
    return SK_OK;
}

static void
verify_group(const sk_grp_t *g)
{
    int32_t n = 0;
    bool leader_found = false;
    for (const grp_member_t *m = g->members; m; m = m->next, n++) {
        SK_ASSERT(m->member_id != NULL);
        SK_ASSERT(!m->join_cb || g->state == GRP_PREPARING);
        SK_ASSERT(!m->sync_cb || g->state == GRP_COMPLETING);
        if (g->leader_id && strcmp(g->leader_id, m->member_id) == 0) leader_found = true;
        if (m->instance_id)
            for (const grp_member_t *o = m->next; o; o = o->next)
                SK_ASSERT(!o->instance_id || strcmp(o->instance_id, m->instance_id) != 0);
    }
    SK_ASSERT(n == g->member_count);
    if (g->state == GRP_EMPTY || g->state == GRP_DEAD) SK_ASSERT(g->member_count == 0);
    if (g->state == GRP_STABLE || g->state == GRP_COMPLETING) {
        SK_ASSERT(g->member_count > 0 && g->protocol_name != NULL && leader_found);
    }
}

void
sk_coord_verify(const sk_coord_t *c)
{
    sk_map_entry_t *e;
    for (size_t i = 0; sk_map_next(&c->groups, &i, &e);) {
        const sk_grp_t *g = e->value;
        SK_ASSERT(strlen(g->group_id) == e->key_len && memcmp(g->group_id, e->key, e->key_len) == 0);
        verify_group(g);
    }
}
