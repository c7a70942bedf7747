/* coordinator/offsets.c: committed offsets. OffsetCommit validation against the group
 * (generation fencing, unknown and fenced members, simple commits from consumers that
 * assign partitions themselves), storing and persisting commits in one batch per
 * request, OffsetFetch, OffsetDelete (refused for topics the live group subscribes to)
 * and retention: offsets of an empty group expire offsets.retention.minutes after it
 * became empty (simple groups: after the commit; v1-v4 commits: at their own expire
 * time), and an empty group without offsets is removed.
 *
 * Offsets are keyed "topic\0<partition as 4 bytes>" in the group's map. */
#include "coordinator_int.h"


static size_t
off_key(char *buf, size_t cap, const char *topic, size_t topic_len, int32_t partition)
{
    if (topic_len + 5 > cap) return 0;
    memcpy(buf, topic, topic_len);
    buf[topic_len] = '\0';
    memcpy(buf + topic_len + 1, &partition, 4);
    return topic_len + 5;
}

sk_coord_offset_t *
off_get(const sk_grp_t *g, const char *topic, size_t topic_len, int32_t partition)
{
    char key[512];
    size_t n = off_key(key, sizeof(key), topic, topic_len, partition);
    return n ? sk_map_get(&g->offsets, key, n) : NULL;
}

static void
off_free(sk_coord_offset_t *o)
{
    if (!o) return;
    free(o->topic);
    free(o->metadata);
    free(o);
}

int
off_put(sk_grp_t *g, const char *topic, size_t topic_len, int32_t partition, int64_t offset, int32_t leader_epoch,
        const char *metadata, size_t metadata_len, int64_t commit_ms, int64_t expire_ms)
{
    char key[512];
    size_t n = off_key(key, sizeof(key), topic, topic_len, partition);
    sk_coord_offset_t *o = calloc(1, sizeof(*o)), *old;
    if (!o || !n) goto fail;
    o->topic = strndup(topic, topic_len);
    o->metadata = strndup(metadata ? metadata : "", metadata_len);
    if (!o->topic || !o->metadata) goto fail;
    o->partition = partition;
    o->offset = offset;
    o->leader_epoch = leader_epoch;
    o->commit_wall_ms = commit_ms;
    o->expire_wall_ms = expire_ms;
    old = sk_map_get(&g->offsets, key, n);
    if (sk_map_put(&g->offsets, key, n, o) != SK_OK) goto fail;
    off_free(old);
    return SK_OK;
fail:
    off_free(o);
    return n ? SK_ENOMEM : SK_EINVAL;
}

void
off_del(sk_grp_t *g, const char *topic, size_t topic_len, int32_t partition)
{
    char key[512];
    size_t n = off_key(key, sizeof(key), topic, topic_len, partition);
    if (n) off_free(sk_map_del(&g->offsets, key, n));
}

void
off_clear(sk_grp_t *g)
{
    sk_map_entry_t *e;
    for (size_t i = 0; sk_map_next(&g->offsets, &i, &e);) off_free(e->value);
    sk_map_deinit(&g->offsets);
    sk_map_init(&g->offsets);
}

/* Kafka's checks of a commit against the group, in Kafka's order. */
static int16_t
commit_check(sk_coord_t *c, const sk_off_commit_args_t *a, sk_grp_t **out)
{
    sk_grp_t *g = coord_group_get(c, a->group_id);
    grp_member_t *m;
    *out = NULL;
    if (a->group_id.len <= 0) return SK_KERR_INVALID_GROUP_ID;
    if (!g) {
        if (a->generation_id >= 0) return SK_KERR_ILLEGAL_GENERATION;
        g = coord_group_add(c, a->group_id.ptr, (size_t)a->group_id.len);
        if (!g) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
        *out = g;
        return SK_KERR_NONE;
    }
    if (g->state == GRP_DEAD) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    m = grp_member_find(g, a->member_id);
    if (a->instance_id.len >= 0) {
        grp_member_t *si = grp_member_by_instance(g, a->instance_id);
        if (si && si != m) return SK_KERR_GRP_FENCED_INSTANCE_ID;
    }
    if (a->generation_id < 0 && g->state == GRP_EMPTY) {
        *out = g;
        return SK_KERR_NONE;
    }
    if (g->state == GRP_COMPLETING) return SK_KERR_REBALANCE_IN_PROGRESS;
    if (!m) return SK_KERR_UNKNOWN_MEMBER_ID;
    if (a->generation_id != g->generation_id) return SK_KERR_ILLEGAL_GENERATION;
    m->heartbeat_deadline_ms = coord_now(c) + m->session_timeout_ms;
    *out = g;
    return SK_KERR_NONE;
}

static void
commit_fail_all(sk_off_entry_t *entries, int32_t count, int16_t err)
{
    for (int32_t i = 0; i < count; i++)
        if (entries[i].error_code == SK_KERR_NONE) entries[i].error_code = err;
}

/* Build the records of the accepted entries, append them, then apply in memory. */
static int
commit_store(sk_coord_t *c, sk_grp_t *g, const sk_off_commit_args_t *a, sk_off_entry_t *entries, int32_t count)
{
    rec_kv_t *kvs = calloc((size_t)SK_MAX(count, 1), sizeof(*kvs));
    int64_t now = coord_wall(c);
    int64_t expire = a->retention_ms > 0 ? now + a->retention_ms : -1;
    int32_t n = 0;
    int rc = SK_ENOMEM;

    if (!kvs) return SK_ENOMEM;
    for (int32_t i = 0; i < count; i++) {
        sk_off_entry_t *e = &entries[i];
        sk_coord_offset_t o = {NULL, e->partition, e->offset, e->leader_epoch, NULL, now, expire};
        char *topic = coord_strdup(e->topic), *md = coord_strdup(e->metadata);
        if (e->error_code != SK_KERR_NONE) {
            free(topic);
            free(md);
            continue;
        }
        o.topic = topic;
        o.metadata = md;
        sk_wr_init(&kvs[n].key, 0);
        sk_wr_init(&kvs[n].value, 0);
        rc = topic && md ? rec_offset_key(&kvs[n].key, g->group_id, topic, e->partition) : SK_ENOMEM;
        if (rc == SK_OK) rc = rec_offset_value(&kvs[n].value, &o);
        n++;
        free(topic);
        free(md);
        if (rc != SK_OK) goto done;
    }
    rc = n ? rec_append(c, g->partition, kvs, n) : SK_OK;
    if (rc != SK_OK) goto done;
    for (int32_t i = 0; i < count; i++) {
        sk_off_entry_t *e = &entries[i];
        if (e->error_code != SK_KERR_NONE) continue;
        if (off_put(g, e->topic.ptr, (size_t)SK_MAX(e->topic.len, 0), e->partition, e->offset, e->leader_epoch,
                    e->metadata.ptr, (size_t)SK_MAX(e->metadata.len, 0), now, expire) != SK_OK)
            e->error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
done:
    for (int32_t i = 0; i < n; i++) {
        sk_wr_deinit(&kvs[i].key);
        sk_wr_deinit(&kvs[i].value);
    }
    free(kvs);
    return rc;
}

int
sk_off_commit(sk_coord_t *c, const sk_off_commit_args_t *a, sk_off_entry_t *entries, int32_t count)
{
    sk_grp_t *g;
    int16_t err = commit_check(c, a, &g);
    int rc;

    for (int32_t i = 0; i < count; i++) {
        sk_off_entry_t *e = &entries[i];
        if (e->error_code != SK_KERR_NONE) continue; /* refused by the caller already */
        e->error_code = err;
        if (err != SK_KERR_NONE) continue;
        if (e->metadata.len > SK_COORD_METADATA_MAX_BYTES) e->error_code = SK_KERR_OFFSET_METADATA_TOO_LARGE;
        else if (e->topic.len <= 0 || e->topic.len > 255 || e->partition < 0)
            e->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (err != SK_KERR_NONE) return SK_OK;
    rc = commit_store(c, g, a, entries, count);
    if (rc != SK_OK) {
        SK_WARN("event=offset_commit_failed group=%s rc=%s", g->group_id, sk_strerror(rc));
        commit_fail_all(entries, count, SK_KERR_COORDINATOR_NOT_AVAILABLE);
    }
    return SK_OK;
}

int
sk_off_fetch(sk_coord_t *c, sk_str_t group_id, sk_str_t topic, int32_t partition, sk_off_view_t *out)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    sk_coord_offset_t *o;
    if (!g || topic.len <= 0) return SK_ENOENT;
    o = off_get(g, topic.ptr, (size_t)topic.len, partition);
    if (!o) return SK_ENOENT;
    *out = (sk_off_view_t){o->topic, o->partition, o->offset, o->leader_epoch, o->metadata};
    return SK_OK;
}

static int
off_view_cmp(const void *a, const void *b)
{
    const sk_off_view_t *x = a, *y = b;
    int r = strcmp(x->topic, y->topic);
    if (r) return r;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

int
sk_off_list(sk_coord_t *c, sk_str_t group_id, sk_arena_t *arena, sk_off_view_t **out, int32_t *count)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    sk_map_entry_t *e;
    sk_off_view_t *v;
    int32_t n = 0;

    *out = NULL;
    *count = 0;
    if (!g || g->offsets.count == 0) return SK_OK;
    v = sk_arena_calloc(arena, g->offsets.count, sizeof(*v));
    if (!v) return SK_ENOMEM;
    for (size_t i = 0; sk_map_next(&g->offsets, &i, &e);) {
        const sk_coord_offset_t *o = e->value;
        v[n].topic = sk_arena_strndup(arena, o->topic, strlen(o->topic));
        v[n].metadata = sk_arena_strndup(arena, o->metadata, strlen(o->metadata));
        if (!v[n].topic || !v[n].metadata) return SK_ENOMEM;
        v[n].partition = o->partition;
        v[n].offset = o->offset;
        v[n].leader_epoch = o->leader_epoch;
        n++;
    }
    qsort(v, (size_t)n, sizeof(*v), off_view_cmp);
    *out = v;
    *count = n;
    return SK_OK;
}

/* Does a live member's subscription (ConsumerProtocolSubscription: int16 version,
 * [string] topics, ...) name this topic? Malformed metadata names nothing. */
static bool
member_subscribes(const grp_member_t *m, const char *protocol, sk_str_t topic)
{
    for (int32_t i = 0; i < m->protocol_count; i++) {
        sk_rd_t rd;
        int16_t ver, len;
        int32_t n;
        if (!protocol || strcmp(m->protocols[i].name, protocol) != 0) continue;
        sk_rd_init(&rd, m->protocols[i].metadata, (size_t)m->protocols[i].metadata_len);
        if (sk_rd_i16(&rd, &ver) || sk_rd_i32(&rd, &n) || n < 0) return false;
        for (int32_t j = 0; j < n; j++) {
            const uint8_t *p;
            if (sk_rd_i16(&rd, &len) || len < 0 || sk_rd_raw(&rd, (size_t)len, &p)) return false;
            if (len == topic.len && memcmp(p, topic.ptr, (size_t)len) == 0) return true;
        }
    }
    return false;
}

static bool
group_subscribes(const sk_grp_t *g, sk_str_t topic)
{
    for (const grp_member_t *m = g->members; m; m = m->next)
        if (member_subscribes(m, g->protocol_name, topic)) return true;
    return false;
}

/* Tombstones for the given offsets, then drop them from memory. */
static int
off_tombstones(sk_coord_t *c, sk_grp_t *g, sk_coord_offset_t **offs, int32_t n)
{
    rec_kv_t *kvs = calloc((size_t)SK_MAX(n, 1), sizeof(*kvs));
    int rc = SK_OK;
    if (!kvs) return SK_ENOMEM;
    for (int32_t i = 0; i < n && rc == SK_OK; i++) {
        sk_wr_init(&kvs[i].key, 0);
        sk_wr_init(&kvs[i].value, 0);
        kvs[i].tombstone = true;
        rc = rec_offset_key(&kvs[i].key, g->group_id, offs[i]->topic, offs[i]->partition);
    }
    if (rc == SK_OK && n > 0) rc = rec_append(c, g->partition, kvs, n);
    for (int32_t i = 0; i < n; i++) {
        sk_wr_deinit(&kvs[i].key);
        sk_wr_deinit(&kvs[i].value);
    }
    free(kvs);
    if (rc != SK_OK) return rc;
    for (int32_t i = 0; i < n; i++) off_del(g, offs[i]->topic, strlen(offs[i]->topic), offs[i]->partition);
    return SK_OK;
}

int16_t
sk_off_delete(sk_coord_t *c, sk_str_t group_id, sk_off_entry_t *entries, int32_t count)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    sk_coord_offset_t **del;
    int32_t n = 0;
    bool consumer;

    if (!g || g->state == GRP_DEAD) return SK_KERR_GRP_GROUP_ID_NOT_FOUND;
    consumer = g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
    if (g->member_count > 0 && !consumer) return SK_KERR_GRP_NON_EMPTY_GROUP;
    del = calloc((size_t)SK_MAX(count, 1), sizeof(*del));
    if (!del) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    for (int32_t i = 0; i < count; i++) {
        sk_off_entry_t *e = &entries[i];
        sk_coord_offset_t *o;
        e->error_code = SK_KERR_NONE;
        if (g->member_count > 0 && group_subscribes(g, e->topic)) {
            e->error_code = SK_KERR_GRP_GROUP_SUBSCRIBED_TO_TOPIC;
            continue;
        }
        o = e->topic.len > 0 ? off_get(g, e->topic.ptr, (size_t)e->topic.len, e->partition) : NULL;
        bool dup = false;
        for (int32_t j = 0; j < n && !dup; j++) dup = del[j] == o;
        if (o && !dup) del[n++] = o;
    }
    if (off_tombstones(c, g, del, n) != SK_OK) {
        free(del);
        return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    free(del);
    return SK_KERR_NONE;
}

/* Expire the offsets of one empty group; true when the group should go away. */
static bool
off_expire_group(sk_coord_t *c, sk_grp_t *g, int64_t now)
{
    sk_map_entry_t *e;
    sk_coord_offset_t **exp;
    int32_t n = 0;
    bool gone;

    if (g->state != GRP_EMPTY) return false;
    exp = calloc(g->offsets.count + 1, sizeof(*exp));
    if (!exp) return false;
    for (size_t i = 0; sk_map_next(&g->offsets, &i, &e);) {
        sk_coord_offset_t *o = e->value;
        int64_t base = g->protocol_type ? g->state_wall_ms : o->commit_wall_ms;
        int64_t at = o->expire_wall_ms > 0 ? o->expire_wall_ms : base + c->opt.offsets_retention_ms;
        if (now >= at) exp[n++] = o;
    }
    if (n > 0) SK_INFO("event=offsets_expired group=%s count=%d", g->group_id, n);
    gone = off_tombstones(c, g, exp, n) == SK_OK && g->offsets.count == 0;
    free(exp);
    return gone;
}

void
off_expire(sk_coord_t *c, int64_t wall_now)
{
    sk_map_entry_t *e;
    sk_grp_t **gone = calloc(c->groups.count + 1, sizeof(*gone));
    size_t n = 0;
    if (!gone) return;
    for (size_t i = 0; sk_map_next(&c->groups, &i, &e);)
        if (off_expire_group(c, e->value, wall_now)) gone[n++] = e->value;
    for (size_t i = 0; i < n; i++) {
        if (rec_store_group(c, gone[i], true) != SK_OK) continue;
        SK_INFO("event=group_removed group=%s reason=empty_without_offsets", gone[i]->group_id);
        coord_group_remove(c, gone[i]);
    }
    free(gone);
}

/* ---- transactional offset commits (TxnOffsetCommit) ----
 * Pending offsets live in one coordinator-wide list, in commit order, until the
 * producer's marker reaches the group's __consumer_offsets partition: a COMMIT applies
 * them in that order (a later commit of the same partition wins), an ABORT drops them.
 * The batch written for them is transactional (producer id and epoch, sequence numbers
 * continuing the producer's state in that partition), so the log itself says which
 * offsets a replay may apply (records.c). */

int
off_txn_pending_add(sk_coord_t *c, int64_t producer_id, const char *group, size_t group_len, int32_t log_partition,
                    const char *topic, size_t topic_len, int32_t partition, int64_t offset, int32_t leader_epoch,
                    const char *metadata, size_t metadata_len, int64_t commit_ms)
{
    off_txn_pending_t *p = calloc(1, sizeof(*p)), **pp;
    if (!p) return SK_ENOMEM;
    p->producer_id = producer_id;
    p->log_partition = log_partition;
    p->group_id = coord_strdup((sk_str_t){group, (int32_t)group_len});
    p->off = (sk_coord_offset_t){coord_strdup((sk_str_t){topic, (int32_t)topic_len}), partition, offset, leader_epoch,
                                 coord_strdup((sk_str_t){metadata, (int32_t)metadata_len}), commit_ms, -1};
    if (!p->group_id || !p->off.topic || !p->off.metadata) {
        free(p->group_id);
        free(p->off.topic);
        free(p->off.metadata);
        free(p);
        return SK_ENOMEM;
    }
    for (pp = &c->txn_pending; *pp; pp = &(*pp)->next) {}
    *pp = p;
    return SK_OK;
}

static void
txn_pending_free(off_txn_pending_t *p)
{
    free(p->group_id);
    free(p->off.topic);
    free(p->off.metadata);
    free(p);
}

void
off_txn_clear(sk_coord_t *c)
{
    while (c->txn_pending) {
        off_txn_pending_t *p = c->txn_pending;
        c->txn_pending = p->next;
        txn_pending_free(p);
    }
}

void
sk_off_txn_complete(sk_coord_t *c, int64_t producer_id, int32_t partition, bool commit)
{
    off_txn_pending_t **pp = &c->txn_pending;
    int32_t applied = 0;

    while (*pp) {
        off_txn_pending_t *p = *pp;
        if (p->producer_id != producer_id || p->log_partition != partition) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        if (commit) {
            sk_str_t gid = sk_str_c(p->group_id);
            sk_grp_t *g = coord_group_get(c, gid);
            if (!g) g = coord_group_add(c, p->group_id, strlen(p->group_id));
            if (!g || off_put(g, p->off.topic, strlen(p->off.topic), p->off.partition, p->off.offset,
                              p->off.leader_epoch, p->off.metadata, strlen(p->off.metadata), p->off.commit_wall_ms,
                              -1) != SK_OK)
                SK_WARN("event=txn_offset_apply_failed group=%s producer_id=%lld", p->group_id, (long long)producer_id);
            else applied++;
        }
        txn_pending_free(p);
    }
    if (applied)
        SK_DEBUG(REQ, "event=txn_offsets_committed producer_id=%lld partition=%d offsets=%d", (long long)producer_id,
                 partition, applied);
}

bool
sk_off_txn_pending(const sk_coord_t *c, sk_str_t group_id, sk_str_t topic, int32_t partition)
{
    for (const off_txn_pending_t *p = c->txn_pending; p; p = p->next)
        if (p->off.partition == partition && sk_str_eq(group_id, p->group_id) && sk_str_eq(topic, p->off.topic))
            return true;
    return false;
}

/* The next sequence of producer_id in the group's partition (0 when it starts there or
 * comes with a newer epoch); SK_EINVAL when the log knows a newer epoch (fenced). */
static int
txn_next_sequence(sk_coord_t *c, int32_t partition, int64_t producer_id, int16_t producer_epoch, int32_t *seq)
{
    sk_log_t *log = c->store.log ? c->store.log(c->store.ctx, partition) : NULL;
    int16_t epoch;
    int32_t last;

    *seq = 0;
    if (!log || sk_log_producer_get(log, producer_id, &epoch, &last) != SK_OK) return SK_OK;
    if (epoch > producer_epoch) return SK_EINVAL;
    if (epoch == producer_epoch) *seq = last < 0 ? 0 : (last == INT32_MAX ? 0 : last + 1);
    return SK_OK;
}

/* Write the accepted entries as one transactional batch, then hold them pending. */
static int
txn_commit_store(sk_coord_t *c, sk_grp_t *g, int64_t producer_id, int16_t producer_epoch, sk_off_entry_t *entries,
                 int32_t count)
{
    rec_kv_t *kvs = calloc((size_t)SK_MAX(count, 1), sizeof(*kvs));
    int64_t now = coord_wall(c);
    sk_batch_spec_t spec = {SK_CODEC_NONE, SK_ATTR_TRANSACTIONAL, producer_id, producer_epoch, 0, 0};
    int32_t n = 0;
    int rc = SK_OK;

    if (!kvs) return SK_ENOMEM;
    for (int32_t i = 0; i < count && rc == SK_OK; i++) {
        sk_off_entry_t *e = &entries[i];
        if (e->error_code != SK_KERR_NONE) continue;
        char *topic = coord_strdup(e->topic), *md = coord_strdup(e->metadata);
        sk_coord_offset_t o = {topic, e->partition, e->offset, e->leader_epoch, md, now, -1};
        sk_wr_init(&kvs[n].key, 0);
        sk_wr_init(&kvs[n].value, 0);
        rc = topic && md ? rec_offset_key(&kvs[n].key, g->group_id, topic, e->partition) : SK_ENOMEM;
        if (rc == SK_OK) rc = rec_offset_value(&kvs[n].value, &o);
        n++;
        free(topic);
        free(md);
    }
    if (rc == SK_OK && n > 0) rc = txn_next_sequence(c, g->partition, producer_id, producer_epoch, &spec.base_sequence);
    if (rc == SK_OK && n > 0) rc = rec_append_spec(c, g->partition, kvs, n, &spec);
    for (int32_t i = 0; i < count && rc == SK_OK; i++) {
        sk_off_entry_t *e = &entries[i];
        if (e->error_code != SK_KERR_NONE) continue;
        if (off_txn_pending_add(c, producer_id, g->group_id, strlen(g->group_id), g->partition, e->topic.ptr,
                                (size_t)SK_MAX(e->topic.len, 0), e->partition, e->offset, e->leader_epoch,
                                e->metadata.ptr ? e->metadata.ptr : "", (size_t)SK_MAX(e->metadata.len, 0),
                                now) != SK_OK)
            e->error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    for (int32_t i = 0; i < n; i++) {
        sk_wr_deinit(&kvs[i].key);
        sk_wr_deinit(&kvs[i].value);
    }
    free(kvs);
    return rc;
}

int
sk_off_txn_commit(sk_coord_t *c, int64_t producer_id, int16_t producer_epoch, const sk_off_commit_args_t *a,
                  sk_off_entry_t *entries, int32_t count)
{
    sk_grp_t *g = NULL;
    int16_t err;
    int rc;

    if (a->group_id.len > 0 && a->generation_id < 0 && a->member_id.len <= 0) {
        /* No member identity (TxnOffsetCommit v0-2): Kafka accepts it whatever the group's
         * state, the producer epoch being the fence. */
        g = coord_group_get(c, a->group_id);
        if (!g) g = coord_group_add(c, a->group_id.ptr, (size_t)a->group_id.len);
        err = g ? SK_KERR_NONE : SK_KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        err = commit_check(c, a, &g);
    }
    for (int32_t i = 0; i < count; i++) {
        sk_off_entry_t *e = &entries[i];
        if (e->error_code != SK_KERR_NONE) continue;
        e->error_code = err;
        if (err != SK_KERR_NONE) continue;
        if (e->metadata.len > SK_COORD_METADATA_MAX_BYTES) e->error_code = SK_KERR_OFFSET_METADATA_TOO_LARGE;
        else if (e->topic.len <= 0 || e->topic.len > 255 || e->partition < 0)
            e->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (err != SK_KERR_NONE) return SK_OK;
    rc = txn_commit_store(c, g, producer_id, producer_epoch, entries, count);
    if (rc == SK_EINVAL) {
        commit_fail_all(entries, count, SK_KERR_PRODUCER_FENCED);
    } else if (rc != SK_OK) {
        SK_WARN("event=txn_offset_commit_failed group=%s rc=%s", g->group_id, sk_strerror(rc));
        commit_fail_all(entries, count, SK_KERR_COORDINATOR_NOT_AVAILABLE);
    }
    return SK_OK;
}
