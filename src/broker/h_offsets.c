/* broker/h_offsets.c: committed offsets: OffsetCommit (v0-9), OffsetFetch (v1-9; one
 * group before v8, a batch of groups from v8) and OffsetDelete (v0). Partitions of
 * topics that do not exist are refused with UNKNOWN_TOPIC_OR_PARTITION before the
 * coordinator sees them; everything else (generation fencing, unknown members, storage
 * in __consumer_offsets) is the coordinator's. A partition without a committed offset
 * is answered with offset -1 and empty metadata, as Kafka does. */
#include "broker_int.h"

static bool
partition_exists(sk_server_t *srv, sk_str_t topic, int32_t partition)
{
    if (topic.len <= 0) return false;
    return sk_meta_partition(srv->meta, topic.ptr, (size_t)topic.len, partition) != NULL;
}

/* ---- OffsetCommit ---- */

static int32_t
commit_count(const sk_OffsetCommitRequest_t *req)
{
    int32_t n = 0;
    for (int32_t i = 0; i < req->topics_count; i++) n += SK_MAX(req->topics[i].partitions_count, 0);
    return n;
}

int
sk_h_offset_commit(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_OffsetCommitRequest_t *req = sk_req_decode(r);
    sk_OffsetCommitResponse_t resp;
    sk_off_commit_args_t a;
    sk_off_entry_t *e;
    int32_t n, k = 0;

    if (!req) return SK_ECORRUPT;
    n = commit_count(req);
    e = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*e));
    if (!e) return SK_ENOMEM;
    for (int32_t i = 0; i < req->topics_count; i++) {
        const sk_OffsetCommitRequest_OffsetCommitRequestTopic_t *t = &req->topics[i];
        for (int32_t j = 0; j < t->partitions_count; j++, k++) {
            const sk_OffsetCommitRequest_OffsetCommitRequestPartition_t *p = &t->partitions[j];
            e[k] = (sk_off_entry_t){t->name, p->partition_index, p->committed_offset, p->committed_leader_epoch,
                                    p->committed_metadata, SK_KERR_NONE};
            if (!partition_exists(srv, t->name, p->partition_index)) e[k].error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    a = (sk_off_commit_args_t){req->group_id, req->generation_id_or_member_epoch, req->member_id,
                               req->group_instance_id, r->api_version >= 2 && r->api_version <= 4 ? req->retention_time_ms : -1};
    if (r->api_version == 0) a.member_id = sk_str_c("");
    if (sk_off_commit(srv->coord, &a, e, n) != SK_OK) return SK_ENOMEM;

    sk_OffsetCommitResponse_init(&resp);
    if (req->topics_count > 0) {
        resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
    }
    k = 0;
    for (int32_t i = 0; i < req->topics_count; i++) {
        const sk_OffsetCommitRequest_OffsetCommitRequestTopic_t *t = &req->topics[i];
        sk_OffsetCommitResponse_OffsetCommitResponseTopic_t *rt = &resp.topics[resp.topics_count++];
        sk_OffsetCommitResponse_OffsetCommitResponseTopic_init(rt);
        rt->name = t->name;
        if (t->partitions_count > 0) {
            rt->partitions = sk_req_array(r, (size_t)t->partitions_count, sizeof(*rt->partitions));
            if (!rt->partitions) return SK_ENOMEM;
        }
        for (int32_t j = 0; j < t->partitions_count; j++, k++) {
            sk_OffsetCommitResponse_OffsetCommitResponsePartition_t *rp = &rt->partitions[rt->partitions_count++];
            rp->partition_index = t->partitions[j].partition_index;
            rp->error_code = e[k].error_code;
        }
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- OffsetFetch ---- */

/* One partition's answer (shared by both layouts; they have the same fields). */
typedef struct fetch_part {
    int32_t partition_index;
    int64_t committed_offset;
    int32_t committed_leader_epoch;
    sk_str_t metadata;
    int16_t error_code;
} fetch_part_t;

typedef struct fetch_topic {
    sk_str_t name;
    int32_t count;
    fetch_part_t *parts;
} fetch_topic_t;

static void
fetch_fill(sk_server_t *srv, sk_str_t group, sk_str_t topic, int32_t partition, fetch_part_t *out)
{
    sk_off_view_t v;
    out->partition_index = partition;
    out->error_code = SK_KERR_NONE;
    if (sk_off_fetch(srv->coord, group, topic, partition, &v) == SK_OK) {
        out->committed_offset = v.offset;
        out->committed_leader_epoch = v.leader_epoch;
        out->metadata = sk_str_c(v.metadata);
    } else {
        out->committed_offset = -1;
        out->committed_leader_epoch = -1;
        out->metadata = sk_str_c("");
    }
}

/* require_stable (v7+, KIP-447): a partition with a transactional commit waiting for its
 * marker answers UNSTABLE_OFFSET_COMMIT and no offset, as Kafka does, so a consumer
 * taking it over retries instead of starting from an offset about to move. */
static void
fetch_mark_unstable(sk_server_t *srv, sk_str_t group, fetch_topic_t *ts, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < ts[i].count; j++) {
            fetch_part_t *p = &ts[i].parts[j];
            if (p->error_code != SK_KERR_NONE ||
                !sk_off_txn_pending(srv->coord, group, ts[i].name, p->partition_index))
                continue;
            *p = (fetch_part_t){p->partition_index, -1, -1, sk_str_c(""), SK_KERR_UNSTABLE_OFFSET_COMMIT};
        }
}

/* Requested topics (names + partition lists) of one group into fetch_topic_t. */
static int
fetch_requested(sk_req_t *r, sk_str_t group, const sk_str_t *names, const int32_t *const *parts,
                const int32_t *part_counts, int32_t count, fetch_topic_t **out)
{
    fetch_topic_t *ts = sk_req_array(r, (size_t)SK_MAX(count, 1), sizeof(*ts));
    if (!ts) return SK_ENOMEM;
    for (int32_t i = 0; i < count; i++) {
        int32_t pc = SK_MAX(part_counts[i], 0);
        ts[i].name = names[i];
        ts[i].count = pc;
        ts[i].parts = sk_req_array(r, (size_t)SK_MAX(pc, 1), sizeof(fetch_part_t));
        if (!ts[i].parts) return SK_ENOMEM;
        for (int32_t j = 0; j < pc; j++) fetch_fill(sk_req_server(r), group, names[i], parts[i][j], &ts[i].parts[j]);
    }
    *out = ts;
    return SK_OK;
}

/* Every committed offset of the group, grouped by topic. */
static int
fetch_all(sk_req_t *r, sk_str_t group, fetch_topic_t **out, int32_t *count)
{
    sk_off_view_t *v;
    int32_t n, t = -1;
    fetch_topic_t *ts;

    if (sk_off_list(sk_req_server(r)->coord, group, &r->arena, &v, &n) != SK_OK) return SK_ENOMEM;
    ts = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*ts));
    if (!ts) return SK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        if (t < 0 || strcmp(v[i].topic, ts[t].name.ptr) != 0) {
            int32_t k = i;
            while (k < n && strcmp(v[k].topic, v[i].topic) == 0) k++;
            t++;
            ts[t].name = sk_str_c(v[i].topic);
            ts[t].parts = sk_req_array(r, (size_t)(k - i), sizeof(fetch_part_t));
            if (!ts[t].parts) return SK_ENOMEM;
        }
        fetch_part_t *p = &ts[t].parts[ts[t].count++];
        *p = (fetch_part_t){v[i].partition, v[i].offset, v[i].leader_epoch, sk_str_c(v[i].metadata), SK_KERR_NONE};
    }
    *out = ts;
    *count = t + 1;
    return SK_OK;
}

static int
fetch_group_v7(sk_req_t *r, const sk_OffsetFetchRequest_t *req, sk_OffsetFetchResponse_t *resp)
{
    fetch_topic_t *ts = NULL;
    int32_t n = 0;
    int rc;

    if (req->topics_count < 0) {
        rc = fetch_all(r, req->group_id, &ts, &n);
    } else {
        n = req->topics_count;
        sk_str_t *names = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*names));
        const int32_t **parts = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*parts));
        int32_t *pcs = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*pcs));
        if (!names || !parts || !pcs) return SK_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            names[i] = req->topics[i].name;
            parts[i] = req->topics[i].partition_indexes;
            pcs[i] = req->topics[i].partition_indexes_count;
        }
        rc = fetch_requested(r, req->group_id, names, (const int32_t *const *)parts, pcs, n, &ts);
    }
    if (rc != SK_OK) return rc;
    if (r->api_version >= 7 && req->require_stable) fetch_mark_unstable(sk_req_server(r), req->group_id, ts, n);
    resp->topics = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*resp->topics));
    if (!resp->topics) return SK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        sk_OffsetFetchResponse_OffsetFetchResponseTopic_t *t = &resp->topics[resp->topics_count++];
        sk_OffsetFetchResponse_OffsetFetchResponseTopic_init(t);
        t->name = ts[i].name;
        t->partitions = sk_req_array(r, (size_t)SK_MAX(ts[i].count, 1), sizeof(*t->partitions));
        if (!t->partitions) return SK_ENOMEM;
        for (int32_t j = 0; j < ts[i].count; j++) {
            const fetch_part_t *p = &ts[i].parts[j];
            t->partitions[t->partitions_count++] = (sk_OffsetFetchResponse_OffsetFetchResponsePartition_t){
                p->partition_index, p->committed_offset, p->committed_leader_epoch, p->metadata, p->error_code};
        }
    }
    return SK_OK;
}

static int
fetch_group_v8(sk_req_t *r, const sk_OffsetFetchRequest_OffsetFetchRequestGroup_t *rg, bool require_stable,
               sk_OffsetFetchResponse_OffsetFetchResponseGroup_t *out)
{
    fetch_topic_t *ts = NULL;
    int32_t n = 0;
    int rc;

    sk_OffsetFetchResponse_OffsetFetchResponseGroup_init(out);
    out->group_id = rg->group_id;
    if (rg->topics_count < 0) {
        rc = fetch_all(r, rg->group_id, &ts, &n);
    } else {
        n = rg->topics_count;
        sk_str_t *names = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*names));
        const int32_t **parts = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*parts));
        int32_t *pcs = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*pcs));
        if (!names || !parts || !pcs) return SK_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            names[i] = rg->topics[i].name;
            parts[i] = rg->topics[i].partition_indexes;
            pcs[i] = rg->topics[i].partition_indexes_count;
        }
        rc = fetch_requested(r, rg->group_id, names, (const int32_t *const *)parts, pcs, n, &ts);
    }
    if (rc != SK_OK) return rc;
    if (require_stable) fetch_mark_unstable(sk_req_server(r), rg->group_id, ts, n);
    out->topics = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*out->topics));
    if (!out->topics) return SK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        sk_OffsetFetchResponse_OffsetFetchResponseTopics_t *t = &out->topics[out->topics_count++];
        sk_OffsetFetchResponse_OffsetFetchResponseTopics_init(t);
        t->name = ts[i].name;
        t->partitions = sk_req_array(r, (size_t)SK_MAX(ts[i].count, 1), sizeof(*t->partitions));
        if (!t->partitions) return SK_ENOMEM;
        for (int32_t j = 0; j < ts[i].count; j++) {
            const fetch_part_t *p = &ts[i].parts[j];
            t->partitions[t->partitions_count++] = (sk_OffsetFetchResponse_OffsetFetchResponsePartitions_t){
                p->partition_index, p->committed_offset, p->committed_leader_epoch, p->metadata, p->error_code};
        }
    }
    return SK_OK;
}

int
sk_h_offset_fetch(sk_req_t *r)
{
    sk_OffsetFetchRequest_t *req = sk_req_decode(r);
    sk_OffsetFetchResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_OffsetFetchResponse_init(&resp);
    if (r->api_version < 8) {
        if (fetch_group_v7(r, req, &resp) != SK_OK) return SK_ENOMEM;
    } else if (req->groups_count > 0) {
        resp.groups = sk_req_array(r, (size_t)req->groups_count, sizeof(*resp.groups));
        if (!resp.groups) return SK_ENOMEM;
        for (int32_t i = 0; i < req->groups_count; i++)
            if (fetch_group_v8(r, &req->groups[i], req->require_stable, &resp.groups[resp.groups_count++]) != SK_OK)
                return SK_ENOMEM;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- OffsetDelete ---- */

int
sk_h_offset_delete(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_OffsetDeleteRequest_t *req = sk_req_decode(r);
    sk_OffsetDeleteResponse_t resp;
    sk_off_entry_t *e;
    int32_t n = 0, k = 0;

    if (!req) return SK_ECORRUPT;
    for (int32_t i = 0; i < req->topics_count; i++) n += SK_MAX(req->topics[i].partitions_count, 0);
    e = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*e));
    if (!e) return SK_ENOMEM;
    for (int32_t i = 0; i < req->topics_count; i++)
        for (int32_t j = 0; j < req->topics[i].partitions_count; j++, k++)
            e[k] = (sk_off_entry_t){req->topics[i].name, req->topics[i].partitions[j].partition_index, -1, -1,
                                    SK_STR_NULL, SK_KERR_NONE};
    sk_OffsetDeleteResponse_init(&resp);
    resp.error_code = sk_off_delete(srv->coord, req->group_id, e, n);
    if (resp.error_code == SK_KERR_NONE && req->topics_count > 0) {
        resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
        k = 0;
        for (int32_t i = 0; i < req->topics_count; i++) {
            sk_OffsetDeleteResponse_OffsetDeleteResponseTopic_t *t = &resp.topics[resp.topics_count++];
            sk_OffsetDeleteResponse_OffsetDeleteResponseTopic_init(t);
            t->name = req->topics[i].name;
            if (req->topics[i].partitions_count <= 0) continue;
            t->partitions = sk_req_array(r, (size_t)req->topics[i].partitions_count, sizeof(*t->partitions));
            if (!t->partitions) return SK_ENOMEM;
            for (int32_t j = 0; j < req->topics[i].partitions_count; j++, k++) {
                t->partitions[t->partitions_count].partition_index = e[k].partition;
                t->partitions[t->partitions_count++].error_code =
                    partition_exists(srv, e[k].topic, e[k].partition) ? e[k].error_code
                                                                      : SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
        }
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- the coordinator's store: __consumer_offsets through replication ---- */

static int
coord_store_append(void *ctx, int32_t partition, uint8_t *batch, size_t len)
{
    return sk_internal_append(ctx, SK_COORD_OFFSETS_TOPIC, partition, batch, len);
}

static sk_log_t *
coord_store_log(void *ctx, int32_t partition)
{
    return sk_internal_log(ctx, SK_COORD_OFFSETS_TOPIC, partition);
}

/* The internal topic, compacted, with offsets.topic.* settings. An existing topic keeps
 * its partition count (groups hash over it). */
static int
offsets_topic_ensure(sk_server_t *srv, int32_t *partitions)
{
    const sk_config_t *cfg = srv->cfg;
    sk_topic_t *t = sk_meta_topic(srv->meta, SK_COORD_OFFSETS_TOPIC, strlen(SK_COORD_OFFSETS_TOPIC));
    char seg[32], err[256];
    sk_topic_cfg_t cfgs[2] = {{(char *)"cleanup.policy", (char *)"compact"}, {(char *)"segment.bytes", seg}};
    int rc;

    if (!t) {
        snprintf(seg, sizeof(seg), "%d", cfg->offsets_topic_segment_bytes);
        rc = sk_meta_topic_create(srv->meta, SK_COORD_OFFSETS_TOPIC, cfg->offsets_topic_num_partitions,
                                  (int16_t)cfg->offsets_topic_replication_factor, cfgs, 2, &t, err, sizeof(err));
        if (rc != SK_OK) {
            SK_ERROR("event=offsets_topic_create_failed rc=%s error=\"%s\"", sk_strerror(rc), err);
            return rc;
        }
    }
    if (t->partition_count != cfg->offsets_topic_num_partitions)
        SK_WARN("event=offsets_topic_partitions existing=%d configured=%d using=existing", t->partition_count,
                cfg->offsets_topic_num_partitions);
    *partitions = t->partition_count;
    return SK_OK;
}

int
sk_server_coord_start(sk_server_t *srv)
{
    sk_coord_store_t store = {coord_store_append, coord_store_log, srv}; /* copied by sk_coord_new */
    const sk_config_t *cfg = srv->cfg;
    sk_coord_options_t o;
    int32_t partitions = 0;
    int rc;

    if ((rc = offsets_topic_ensure(srv, &partitions)) != SK_OK) return rc;
    sk_coord_options_defaults(&o);
    o.offsets_partitions = partitions;
    o.offsets_retention_ms = (int64_t)cfg->offsets_retention_minutes * 60000;
    o.initial_rebalance_delay_ms = cfg->group_initial_rebalance_delay_ms;
    o.min_session_timeout_ms = cfg->group_min_session_timeout_ms;
    o.max_session_timeout_ms = cfg->group_max_session_timeout_ms;
    o.store = &store;
    if ((rc = sk_coord_new(&o, &srv->coord)) != SK_OK) return rc;
    if ((rc = sk_coord_load(srv->coord)) != SK_OK) {
        SK_ERROR("event=offsets_load_failed rc=%s", sk_strerror(rc));
        return rc;
    }
    return SK_OK;
}
