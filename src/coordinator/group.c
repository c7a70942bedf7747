/* coordinator/group.c: Kafka's classic group state machine: JoinGroup (new, known,
 * pending and static members), protocol selection, SyncGroup, Heartbeat, LeaveGroup,
 * and the deadlines driven by sk_coord_tick (session timeout, rebalance timeout, the
 * initial rebalance delay of an empty group, the leader's sync deadline).
 *
 * Parked requests are callbacks stored on the member (join_cb, sync_cb). A callback is
 * detached before it runs and runs exactly once. Callbacks must not call back into the
 * coordinator; they only encode a response. */
#include "coordinator_int.h"

const char *
grp_state_name(grp_state_t s)
{
    switch (s) {
    case GRP_EMPTY: return "Empty";
    case GRP_PREPARING: return "PreparingRebalance";
    case GRP_COMPLETING: return "CompletingRebalance";
    case GRP_STABLE: return "Stable";
    case GRP_DEAD: return "Dead";
    }
    return "Dead";
}

void
grp_set_state(sk_coord_t *c, sk_grp_t *g, grp_state_t s)
{
    g->state = s;
    g->state_wall_ms = coord_wall(c);
}

static bool
str_is(const char *a, sk_str_t b)
{
    return a && b.len >= 0 && strlen(a) == (size_t)b.len && memcmp(a, b.ptr, (size_t)b.len) == 0;
}

grp_member_t *
grp_member_find(const sk_grp_t *g, sk_str_t member_id)
{
    for (grp_member_t *m = g->members; m; m = m->next)
        if (str_is(m->member_id, member_id)) return m;
    return NULL;
}

grp_member_t *
grp_member_by_instance(const sk_grp_t *g, sk_str_t instance_id)
{
    if (instance_id.len < 0) return NULL;
    for (grp_member_t *m = g->members; m; m = m->next)
        if (str_is(m->instance_id, instance_id)) return m;
    return NULL;
}

static void
protos_free(grp_proto_t *p, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].metadata);
    }
    free(p);
}

void
grp_member_free(grp_member_t *m)
{
    SK_ASSERT(!m->join_cb && !m->sync_cb);
    protos_free(m->protocols, m->protocol_count);
    free(m->member_id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m->assignment);
    free(m);
}

static const grp_proto_t *
member_proto(const grp_member_t *m, const char *name)
{
    for (int32_t i = 0; name && i < m->protocol_count; i++)
        if (strcmp(m->protocols[i].name, name) == 0) return &m->protocols[i];
    return NULL;
}

/* Deep-copy the protocols and timeouts of a join into the member. */
static int
member_update(grp_member_t *m, const sk_grp_join_args_t *a)
{
    grp_proto_t *p = calloc((size_t)SK_MAX(a->protocol_count, 1), sizeof(*p));
    char *cid = coord_strdup(a->client_id), *host = coord_strdup(a->client_host);
    if (!p || !cid || !host) goto fail;
    for (int32_t i = 0; i < a->protocol_count; i++) {
        const sk_grp_protocol_t *ap = &a->protocols[i];
        int32_t len = SK_MAX(ap->metadata.len, 0);
        p[i].name = coord_strdup(ap->name);
        p[i].metadata = len ? malloc((size_t)len) : NULL;
        if (!p[i].name || (len && !p[i].metadata)) {
            protos_free(p, i + 1);
            p = NULL;
            goto fail;
        }
        if (len) memcpy(p[i].metadata, ap->metadata.ptr, (size_t)len);
        p[i].metadata_len = len;
    }
    protos_free(m->protocols, m->protocol_count);
    m->protocols = p;
    m->protocol_count = a->protocol_count;
    free(m->client_id);
    free(m->client_host);
    m->client_id = cid;
    m->client_host = host;
    m->session_timeout_ms = a->session_timeout_ms;
    m->rebalance_timeout_ms = a->rebalance_timeout_ms;
    return SK_OK;
fail:
    free(p);
    free(cid);
    free(host);
    return SK_ENOMEM;
}

static bool
member_protocols_equal(const grp_member_t *m, const sk_grp_join_args_t *a)
{
    if (m->protocol_count != a->protocol_count) return false;
    for (int32_t i = 0; i < a->protocol_count; i++) {
        const sk_grp_protocol_t *ap = &a->protocols[i];
        int32_t len = SK_MAX(ap->metadata.len, 0);
        if (!str_is(m->protocols[i].name, ap->name) || m->protocols[i].metadata_len != len) return false;
        if (len && memcmp(m->protocols[i].metadata, ap->metadata.ptr, (size_t)len) != 0) return false;
    }
    return true;
}

/* May a member with these protocols be in the group (ignoring member `self`)? */
static bool
grp_supports(const sk_grp_t *g, const grp_member_t *self, const sk_grp_join_args_t *a)
{
    bool others = false;
    if (a->protocol_type.len <= 0 || a->protocol_count <= 0) return false;
    for (const grp_member_t *m = g->members; m; m = m->next) others |= m != self;
    if (!others) return true;
    if (!str_is(g->protocol_type, a->protocol_type)) return false;
    for (int32_t i = 0; i < a->protocol_count; i++) {
        bool all = true;
        for (const grp_member_t *m = g->members; m && all; m = m->next) {
            bool has = false;
            for (int32_t j = 0; m != self && j < m->protocol_count && !has; j++)
                has = str_is(m->protocols[j].name, a->protocols[i].name);
            all = m == self || has;
        }
        if (all) return true;
    }
    return false;
}

/* Protocols every member supports; each member votes for the first of them in its own
 * preference order; the most votes win (ties: the first member's preference). */
static const char *
grp_select_protocol(const sk_grp_t *g)
{
    const grp_member_t *first = g->members;
    const char *best = NULL;
    int32_t best_votes = -1;
    SK_ASSERT(first != NULL);
    for (int32_t i = 0; i < first->protocol_count; i++) {
        const char *cand = first->protocols[i].name;
        int32_t votes = 0;
        bool all = true;
        for (const grp_member_t *m = g->members; m && all; m = m->next) all = member_proto(m, cand) != NULL;
        if (!all) continue;
        for (const grp_member_t *m = g->members; m; m = m->next) {
            for (int32_t j = 0; j < m->protocol_count; j++) {
                bool supported = true;
                for (const grp_member_t *o = g->members; o && supported; o = o->next)
                    supported = member_proto(o, m->protocols[j].name) != NULL;
                if (!supported) continue;
                votes += strcmp(m->protocols[j].name, cand) == 0;
                break;
            }
        }
        if (votes > best_votes) {
            best = cand;
            best_votes = votes;
        }
    }
    return best;
}

static int32_t
grp_max_rebalance_timeout(const sk_grp_t *g)
{
    int32_t t = 0;
    for (const grp_member_t *m = g->members; m; m = m->next) t = SK_MAX(t, m->rebalance_timeout_ms);
    return t;
}

static void
sync_answer(grp_member_t *m, const sk_grp_t *g, int16_t err)
{
    sk_grp_sync_cb cb = m->sync_cb;
    sk_grp_sync_result_t res = {err, g->protocol_type, g->protocol_name, {NULL, 0}};
    if (!cb) return;
    m->sync_cb = NULL;
    if (err == SK_KERR_NONE) res.assignment = (sk_bytes_t){m->assignment, m->assignment_len};
    cb(m->sync_ctx, &res);
}

static void
join_answer_error(grp_member_t *m, int16_t err)
{
    sk_grp_join_cb cb = m->join_cb;
    sk_grp_join_result_t res = {0};
    if (!cb) return;
    m->join_cb = NULL;
    res.error_code = err;
    res.generation_id = -1;
    res.leader_id = "";
    res.member_id = m->member_id;
    cb(m->join_ctx, &res);
}

void
grp_fail_waiters(sk_grp_t *g, int16_t error)
{
    for (grp_member_t *m = g->members; m; m = m->next) {
        join_answer_error(m, error);
        sync_answer(m, g, error);
    }
}

void
grp_member_remove(sk_coord_t *c, sk_grp_t *g, grp_member_t *m, int16_t waiter_error)
{
    grp_member_t **pp = &g->members;
    (void)c;
    while (*pp != m) pp = &(*pp)->next;
    *pp = m->next;
    g->member_count--;
    join_answer_error(m, waiter_error);
    sync_answer(m, g, waiter_error);
    if (g->leader_id && strcmp(g->leader_id, m->member_id) == 0) {
        free(g->leader_id);
        g->leader_id = NULL;
    }
    grp_member_free(m);
}

void
grp_prepare_rebalance(sk_coord_t *c, sk_grp_t *g)
{
    int64_t now = coord_now(c);
    if (g->state == GRP_COMPLETING) {
        for (grp_member_t *m = g->members; m; m = m->next) {
            sync_answer(m, g, SK_KERR_REBALANCE_IN_PROGRESS);
            free(m->assignment);
            m->assignment = NULL;
            m->assignment_len = 0;
        }
    }
    g->initial_delay_until_ms = 0;
    if (g->state == GRP_EMPTY && c->opt.initial_rebalance_delay_ms > 0)
        g->initial_delay_until_ms = now + c->opt.initial_rebalance_delay_ms;
    g->join_deadline_ms = now + grp_max_rebalance_timeout(g);
    grp_set_state(c, g, GRP_PREPARING);
    SK_DEBUG(REQ, "event=group_rebalance group=%s generation=%d members=%d", g->group_id, g->generation_id,
             g->member_count);
}

/* Answer one member's parked join for the new generation. */
static void
join_answer(const sk_grp_t *g, grp_member_t *m, const sk_grp_join_member_t *all, int32_t all_count, bool skip)
{
    sk_grp_join_cb cb = m->join_cb;
    sk_grp_join_result_t res = {0};
    bool leader = g->leader_id && strcmp(g->leader_id, m->member_id) == 0;
    if (!cb) return;
    m->join_cb = NULL;
    res.error_code = SK_KERR_NONE;
    res.generation_id = g->generation_id;
    res.protocol_type = g->protocol_type;
    res.protocol_name = g->protocol_name;
    res.leader_id = g->leader_id ? g->leader_id : "";
    res.member_id = m->member_id;
    res.skip_assignment = skip;
    if (leader) {
        res.members = all;
        res.member_count = all_count;
    }
    cb(m->join_ctx, &res);
}

/* Fill the leader's view of the members for the selected protocol (malloc'd). */
static sk_grp_join_member_t *
grp_member_views(const sk_grp_t *g)
{
    sk_grp_join_member_t *v = calloc((size_t)SK_MAX(g->member_count, 1), sizeof(*v));
    int32_t i = 0;
    if (!v) return NULL;
    for (const grp_member_t *m = g->members; m; m = m->next, i++) {
        const grp_proto_t *p = member_proto(m, g->protocol_name);
        v[i].member_id = m->member_id;
        v[i].instance_id = m->instance_id;
        v[i].metadata = p ? (sk_bytes_t){p->metadata, p->metadata_len} : (sk_bytes_t){NULL, 0};
    }
    return v;
}

static int
grp_set_str(char **dst, const char *src)
{
    char *p = src ? strdup(src) : NULL;
    if (src && !p) return SK_ENOMEM;
    free(*dst);
    *dst = p;
    return SK_OK;
}

static void
grp_complete_join(sk_coord_t *c, sk_grp_t *g)
{
    int64_t now = coord_now(c);
    grp_member_t *m, *next;
    sk_grp_join_member_t *views;

    for (m = g->members; m; m = next) {
        next = m->next;
        if (!m->join_cb) grp_member_remove(c, g, m, SK_KERR_UNKNOWN_MEMBER_ID);
    }
    g->generation_id++;
    if (g->member_count == 0) {
        grp_set_str(&g->protocol_name, NULL);
        grp_set_str(&g->leader_id, NULL);
        grp_set_state(c, g, GRP_EMPTY);
        (void)rec_store_group(c, g, false);
        return;
    }
    if (grp_set_str(&g->protocol_name, grp_select_protocol(g)) != SK_OK ||
        (!g->leader_id && grp_set_str(&g->leader_id, g->members->member_id) != SK_OK) ||
        !(views = grp_member_views(g))) {
        grp_fail_waiters(g, SK_KERR_COORDINATOR_NOT_AVAILABLE);
        grp_prepare_rebalance(c, g);
        return;
    }
    SK_ASSERT(g->protocol_name != NULL);
    grp_set_state(c, g, GRP_COMPLETING);
    g->sync_deadline_ms = now + grp_max_rebalance_timeout(g);
    for (m = g->members; m; m = m->next) {
        m->heartbeat_deadline_ms = now + m->session_timeout_ms;
        m->is_new = false;
        join_answer(g, m, views, g->member_count, false);
    }
    free(views);
    SK_INFO("event=group_generation group=%s generation=%d protocol=%s members=%d leader=%s", g->group_id,
            g->generation_id, g->protocol_name, g->member_count, g->leader_id);
}

static void
grp_maybe_complete_join(sk_coord_t *c, sk_grp_t *g)
{
    int64_t now = coord_now(c);
    bool all = g->pending.count == 0;
    if (g->state != GRP_PREPARING) return;
    for (const grp_member_t *m = g->members; m && all; m = m->next) all = m->join_cb != NULL;
    if (now < g->initial_delay_until_ms && now < g->join_deadline_ms) return;
    if (all || now >= g->join_deadline_ms) grp_complete_join(c, g);
}

/* Answer a join at once with the current generation (no rebalance needed). skip: a
 * static leader that came back gets the members but must not assign again (KIP-814). */
static void
join_answer_current(const sk_grp_t *g, grp_member_t *m, sk_grp_join_cb cb, void *ctx, bool with_members,
                    bool skip)
{
    sk_grp_join_member_t *views = with_members ? grp_member_views(g) : NULL;
    m->join_cb = cb;
    m->join_ctx = ctx;
    join_answer(g, m, views, views ? g->member_count : 0, skip);
    free(views);
}

static void
join_error(sk_grp_join_cb cb, void *ctx, int16_t err, const char *member_id)
{
    sk_grp_join_result_t res = {0};
    res.error_code = err;
    res.generation_id = -1;
    res.leader_id = "";
    res.member_id = member_id;
    cb(ctx, &res);
}

/* Park the member's join and move the rebalance along. */
static void
join_park(sk_coord_t *c, sk_grp_t *g, grp_member_t *m, sk_grp_join_cb cb, void *ctx, int16_t version)
{
    int64_t now = coord_now(c);
    if (m->join_cb) join_answer_error(m, SK_KERR_REBALANCE_IN_PROGRESS);
    m->join_cb = cb;
    m->join_ctx = ctx;
    m->join_version = version;
    if (g->state != GRP_PREPARING) {
        grp_prepare_rebalance(c, g);
    } else if (m->is_new && g->initial_delay_until_ms > now) {
        /* More members are arriving: wait one more delay, within the rebalance timeout. */
        g->initial_delay_until_ms = SK_MIN(now + c->opt.initial_rebalance_delay_ms, g->join_deadline_ms);
        g->join_deadline_ms = SK_MAX(g->join_deadline_ms, now + m->rebalance_timeout_ms);
    } else {
        g->join_deadline_ms = SK_MAX(g->join_deadline_ms, now + m->rebalance_timeout_ms);
    }
    grp_maybe_complete_join(c, g);
}

grp_member_t *
grp_member_new(const sk_grp_join_args_t *a, sk_str_t member_id)
{
    grp_member_t *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->member_id = coord_strdup(member_id);
    m->instance_id = a->instance_id.len >= 0 ? coord_strdup(a->instance_id) : NULL;
    if (!m->member_id || (a->instance_id.len >= 0 && !m->instance_id) || member_update(m, a) != SK_OK) {
        free(m->member_id);
        free(m->instance_id);
        free(m);
        return NULL;
    }
    return m;
}

static grp_member_t *
member_add(sk_coord_t *c, sk_grp_t *g, const sk_grp_join_args_t *a, const char *member_id)
{
    grp_member_t *m = grp_member_new(a, sk_str_c(member_id)), **pp = &g->members;
    if (!m) return NULL;
    if (!g->protocol_type || g->member_count == 0) {
        char *pt = coord_strdup(a->protocol_type);
        if (pt) {
            free(g->protocol_type);
            g->protocol_type = pt;
        }
    }
    m->is_new = true;
    m->heartbeat_deadline_ms = coord_now(c) + a->session_timeout_ms;
    while (*pp) pp = &(*pp)->next;
    *pp = m;
    g->member_count++;
    return m;
}

/* "<prefix>-<uuid>", like Kafka's generated member ids. */
static void
member_id_make(sk_coord_t *c, sk_str_t prefix, char *out, size_t out_len)
{
    sk_uuid_t u;
    const uint8_t *b = u.b;
    sk_uuid_random(&u);
    c->member_seq++;
    snprintf(out, out_len,
             "%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             (int)SK_MIN(SK_MAX(prefix.len, 0), 200), prefix.ptr ? prefix.ptr : "", b[0], b[1], b[2], b[3], b[4],
             b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* A static member came back with a new connection: it takes over its old identity. */
static void
join_static_rejoin(sk_coord_t *c, sk_grp_t *g, grp_member_t *m, const sk_grp_join_args_t *a, sk_grp_join_cb cb,
                   void *ctx)
{
    char id[320];
    bool was_leader = g->leader_id && strcmp(g->leader_id, m->member_id) == 0;
    bool same = member_protocols_equal(m, a);
    char *nid;

    member_id_make(c, a->instance_id, id, sizeof(id));
    if (!(nid = strdup(id)) || member_update(m, a) != SK_OK) {
        free(nid);
        join_error(cb, ctx, SK_KERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    join_answer_error(m, SK_KERR_GRP_FENCED_INSTANCE_ID);
    sync_answer(m, g, SK_KERR_GRP_FENCED_INSTANCE_ID);
    free(m->member_id);
    m->member_id = nid;
    if (was_leader) grp_set_str(&g->leader_id, nid);
    m->heartbeat_deadline_ms = coord_now(c) + m->session_timeout_ms;
    SK_INFO("event=static_member_rejoin group=%s instance=%s member=%s", g->group_id, m->instance_id, nid);
    if (g->state == GRP_STABLE && same && (!was_leader || a->version >= 9)) {
        /* No rebalance: the member gets its old assignment through SyncGroup. A leader
         * can be told to skip assigning only from v9; older leaders rebalance. */
        join_answer_current(g, m, cb, ctx, was_leader && a->version >= 9, was_leader && a->version >= 9);
        return;
    }
    join_park(c, g, m, cb, ctx, a->version);
}

static void
join_new_member(sk_coord_t *c, sk_grp_t *g, const sk_grp_join_args_t *a, sk_grp_join_cb cb, void *ctx)
{
    char id[320];
    grp_member_t *m = grp_member_by_instance(g, a->instance_id);

    if (m) {
        if (!grp_supports(g, m, a)) {
            join_error(cb, ctx, SK_KERR_INCONSISTENT_GROUP_PROTOCOL, "");
            return;
        }
        join_static_rejoin(c, g, m, a, cb, ctx);
        return;
    }
    if (!grp_supports(g, NULL, a)) {
        join_error(cb, ctx, SK_KERR_INCONSISTENT_GROUP_PROTOCOL, "");
        return;
    }
    if (g->member_count >= c->opt.max_group_size) {
        join_error(cb, ctx, SK_KERR_GRP_GROUP_MAX_SIZE_REACHED, "");
        return;
    }
    member_id_make(c, a->instance_id.len >= 0 ? a->instance_id : a->client_id, id, sizeof(id));
    if (a->instance_id.len < 0 && a->version >= 4) {
        grp_pending_t *p = calloc(1, sizeof(*p));
        if (!p || sk_map_put(&g->pending, id, strlen(id), p) != SK_OK) {
            free(p);
            join_error(cb, ctx, SK_KERR_COORDINATOR_NOT_AVAILABLE, "");
            return;
        }
        p->deadline_ms = coord_now(c) + a->session_timeout_ms;
        join_error(cb, ctx, SK_KERR_GRP_MEMBER_ID_REQUIRED, id);
        return;
    }
    if (!(m = member_add(c, g, a, id))) {
        join_error(cb, ctx, SK_KERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    join_park(c, g, m, cb, ctx, a->version);
}

static void
join_known_member(sk_coord_t *c, sk_grp_t *g, const sk_grp_join_args_t *a, sk_grp_join_cb cb, void *ctx)
{
    grp_member_t *m = grp_member_find(g, a->member_id);
    grp_member_t *si = grp_member_by_instance(g, a->instance_id);
    char mid[320];
    bool leader;

    snprintf(mid, sizeof(mid), "%.*s", (int)SK_MIN(a->member_id.len, 300), a->member_id.ptr);
    if (!m) {
        grp_pending_t *p = sk_map_del(&g->pending, a->member_id.ptr, (size_t)a->member_id.len);
        if (si) {
            join_error(cb, ctx, SK_KERR_GRP_FENCED_INSTANCE_ID, mid);
        } else if (!p) {
            join_error(cb, ctx, SK_KERR_UNKNOWN_MEMBER_ID, mid);
        } else if (!grp_supports(g, NULL, a)) {
            join_error(cb, ctx, SK_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        } else if (!(m = member_add(c, g, a, mid))) {
            join_error(cb, ctx, SK_KERR_COORDINATOR_NOT_AVAILABLE, mid);
        } else {
            join_park(c, g, m, cb, ctx, a->version);
        }
        free(p);
        return;
    }
    if ((a->instance_id.len >= 0 || m->instance_id) && si != m) {
        join_error(cb, ctx, SK_KERR_GRP_FENCED_INSTANCE_ID, mid);
        return;
    }
    if (!grp_supports(g, m, a)) {
        join_error(cb, ctx, SK_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    leader = g->leader_id && strcmp(g->leader_id, m->member_id) == 0;
    if ((g->state == GRP_COMPLETING || (g->state == GRP_STABLE && !leader)) && member_protocols_equal(m, a)) {
        m->heartbeat_deadline_ms = coord_now(c) + m->session_timeout_ms;
        join_answer_current(g, m, cb, ctx, leader && g->state == GRP_COMPLETING, false);
        return;
    }
    if (member_update(m, a) != SK_OK) {
        join_error(cb, ctx, SK_KERR_COORDINATOR_NOT_AVAILABLE, mid);
        return;
    }
    join_park(c, g, m, cb, ctx, a->version);
}

void
sk_grp_join(sk_coord_t *c, const sk_grp_join_args_t *a, sk_grp_join_cb cb, void *ctx)
{
    sk_grp_t *g;
    bool new_member = a->member_id.len <= 0;

    if (a->group_id.len <= 0) {
        join_error(cb, ctx, SK_KERR_INVALID_GROUP_ID, "");
        return;
    }
    if (a->session_timeout_ms < c->opt.min_session_timeout_ms || a->session_timeout_ms > c->opt.max_session_timeout_ms) {
        join_error(cb, ctx, SK_KERR_INVALID_SESSION_TIMEOUT, "");
        return;
    }
    g = coord_group_get(c, a->group_id);
    if (!g && !new_member) {
        join_error(cb, ctx, SK_KERR_UNKNOWN_MEMBER_ID, "");
        return;
    }
    if (!g && !(g = coord_group_add(c, a->group_id.ptr, (size_t)a->group_id.len))) {
        join_error(cb, ctx, SK_KERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    if (g->state == GRP_DEAD) {
        join_error(cb, ctx, SK_KERR_COORDINATOR_NOT_AVAILABLE, "");
        return;
    }
    if (g->protocol_type && g->member_count > 0 && !str_is(g->protocol_type, a->protocol_type)) {
        join_error(cb, ctx, SK_KERR_INCONSISTENT_GROUP_PROTOCOL, "");
        return;
    }
    if (new_member) join_new_member(c, g, a, cb, ctx);
    else join_known_member(c, g, a, cb, ctx);
}

/* Common checks of SyncGroup and Heartbeat: the member and its generation. */
static int16_t
grp_check_member(sk_grp_t *g, sk_str_t member_id, sk_str_t instance_id, int32_t generation, grp_member_t **out)
{
    grp_member_t *m;
    *out = NULL;
    if (!g || g->state == GRP_EMPTY) return SK_KERR_UNKNOWN_MEMBER_ID;
    if (g->state == GRP_DEAD) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    m = grp_member_find(g, member_id);
    if (instance_id.len >= 0) {
        grp_member_t *si = grp_member_by_instance(g, instance_id);
        if (si && si != m) return SK_KERR_GRP_FENCED_INSTANCE_ID;
    }
    if (!m) return SK_KERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation_id) return SK_KERR_ILLEGAL_GENERATION;
    *out = m;
    return SK_KERR_NONE;
}

static void
sync_error(sk_grp_sync_cb cb, void *ctx, int16_t err)
{
    sk_grp_sync_result_t res = {err, NULL, NULL, {NULL, 0}};
    cb(ctx, &res);
}

/* The leader's assignments: store them, persist the generation, go Stable. */
static void
sync_leader(sk_coord_t *c, sk_grp_t *g, const sk_grp_sync_args_t *a)
{
    for (grp_member_t *m = g->members; m; m = m->next) {
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        for (int32_t i = 0; i < a->assignment_count; i++) {
            const sk_grp_assignment_t *as = &a->assignments[i];
            int32_t len = SK_MAX(as->assignment.len, 0);
            if (!str_is(m->member_id, as->member_id) || len == 0) continue;
            m->assignment = malloc((size_t)len);
            if (m->assignment) {
                memcpy(m->assignment, as->assignment.ptr, (size_t)len);
                m->assignment_len = len;
            }
            break;
        }
    }
    if (rec_store_group(c, g, false) != SK_OK) {
        SK_WARN("event=group_store_failed group=%s generation=%d", g->group_id, g->generation_id);
        grp_prepare_rebalance(c, g); /* answers the parked syncs with REBALANCE_IN_PROGRESS */
        return;
    }
    grp_set_state(c, g, GRP_STABLE);
    for (grp_member_t *m = g->members; m; m = m->next) sync_answer(m, g, SK_KERR_NONE);
}

void
sk_grp_sync(sk_coord_t *c, const sk_grp_sync_args_t *a, sk_grp_sync_cb cb, void *ctx)
{
    sk_grp_t *g = coord_group_get(c, a->group_id);
    grp_member_t *m;
    int16_t err = grp_check_member(g, a->member_id, a->instance_id, a->generation_id, &m);

    if (err == SK_KERR_NONE && ((a->protocol_type.len >= 0 && !str_is(g->protocol_type, a->protocol_type)) ||
                                (a->protocol_name.len >= 0 && !str_is(g->protocol_name, a->protocol_name))))
        err = SK_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == SK_KERR_NONE && g->state == GRP_PREPARING) err = SK_KERR_REBALANCE_IN_PROGRESS;
    if (err != SK_KERR_NONE) {
        sync_error(cb, ctx, err);
        return;
    }
    m->heartbeat_deadline_ms = coord_now(c) + m->session_timeout_ms;
    if (m->sync_cb) sync_answer(m, g, SK_KERR_REBALANCE_IN_PROGRESS);
    m->sync_cb = cb;
    m->sync_ctx = ctx;
    if (g->state == GRP_STABLE) {
        sync_answer(m, g, SK_KERR_NONE);
        return;
    }
    SK_ASSERT(g->state == GRP_COMPLETING);
    if (g->leader_id && strcmp(g->leader_id, m->member_id) == 0) sync_leader(c, g, a);
}

int16_t
sk_grp_heartbeat(sk_coord_t *c, sk_str_t group_id, int32_t generation_id, sk_str_t member_id, sk_str_t instance_id)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    grp_member_t *m;
    int16_t err = grp_check_member(g, member_id, instance_id, generation_id, &m);

    if (err != SK_KERR_NONE) return err;
    m->heartbeat_deadline_ms = coord_now(c) + m->session_timeout_ms;
    return g->state == GRP_PREPARING ? SK_KERR_REBALANCE_IN_PROGRESS : SK_KERR_NONE;
}

/* After members left or expired: start or finish a rebalance. */
static void
grp_members_changed(sk_coord_t *c, sk_grp_t *g)
{
    if (g->state == GRP_STABLE || g->state == GRP_COMPLETING) grp_prepare_rebalance(c, g);
    grp_maybe_complete_join(c, g);
}

int16_t
sk_grp_leave_check(sk_coord_t *c, sk_str_t group_id)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    if (!g) return SK_KERR_UNKNOWN_MEMBER_ID;
    if (g->state == GRP_DEAD) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    return SK_KERR_NONE;
}

int16_t
sk_grp_leave(sk_coord_t *c, sk_str_t group_id, sk_str_t member_id, sk_str_t instance_id)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    grp_member_t *m;
    int16_t err = sk_grp_leave_check(c, group_id);

    if (err != SK_KERR_NONE) return err;
    if (instance_id.len >= 0) {
        m = grp_member_by_instance(g, instance_id);
        if (!m) return SK_KERR_UNKNOWN_MEMBER_ID;
        if (member_id.len > 0 && !sk_str_eq(member_id, "UNKNOWN_MEMBER_ID") && !str_is(m->member_id, member_id))
            return SK_KERR_GRP_FENCED_INSTANCE_ID;
    } else {
        m = grp_member_find(g, member_id);
        if (!m) {
            grp_pending_t *p = member_id.len > 0 ? sk_map_del(&g->pending, member_id.ptr, (size_t)member_id.len) : NULL;
            if (!p) return SK_KERR_UNKNOWN_MEMBER_ID;
            free(p);
            grp_maybe_complete_join(c, g);
            return SK_KERR_NONE;
        }
    }
    SK_INFO("event=member_leave group=%s member=%s", g->group_id, m->member_id);
    grp_member_remove(c, g, m, SK_KERR_UNKNOWN_MEMBER_ID);
    grp_members_changed(c, g);
    return SK_KERR_NONE;
}

static void
grp_expire_pending(sk_grp_t *g, int64_t now)
{
    sk_map_entry_t *e;
    char *expired[16];
    size_t n = 0;
    for (size_t i = 0; n < SK_ARRAY_LEN(expired) && sk_map_next(&g->pending, &i, &e);) {
        grp_pending_t *p = e->value;
        if (p->deadline_ms <= now && (expired[n] = strndup(e->key, e->key_len))) n++;
    }
    for (size_t i = 0; i < n; i++) {
        free(sk_map_del(&g->pending, expired[i], strlen(expired[i])));
        free(expired[i]);
    }
}

void
grp_tick(sk_coord_t *c, sk_grp_t *g, int64_t now)
{
    grp_member_t *m, *next;
    bool changed = false;

    grp_expire_pending(g, now);
    for (m = g->members; m; m = next) {
        next = m->next;
        if (m->join_cb || m->sync_cb || m->heartbeat_deadline_ms > now) continue;
        SK_INFO("event=member_expired group=%s member=%s session_timeout_ms=%d", g->group_id, m->member_id,
                m->session_timeout_ms);
        grp_member_remove(c, g, m, SK_KERR_UNKNOWN_MEMBER_ID);
        changed = true;
    }
    if (g->state == GRP_COMPLETING && now >= g->sync_deadline_ms) {
        /* The leader (or others) never synced: drop those that did not and start over. */
        for (m = g->members; m; m = next) {
            next = m->next;
            if (!m->sync_cb) grp_member_remove(c, g, m, SK_KERR_UNKNOWN_MEMBER_ID);
        }
        changed = true;
    }
    if (changed) grp_members_changed(c, g);
    else grp_maybe_complete_join(c, g);
}
