/* broker/h_metadata.c: Metadata (v0-13) and ListOffsets (v1-10). Metadata lists this
 * node as the only broker and as controller, and auto-creates unknown topics when the
 * request allows it and auto.create.topics.enable is on. Topic ids from v10, lookup by
 * id from v12. ListOffsets answers earliest (-2), latest (-1), max timestamp (-3),
 * earliest local (-4) and by timestamp through the time index; at read_committed the
 * last stable offset takes the place of the high watermark. */
#include "broker_int.h"

#define TOPIC_OPS_ALL 3576   /* READ..DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (no ACLs yet) */
#define CLUSTER_OPS_ALL 8096 /* CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, *_CONFIGS, IDEMPOTENT_WRITE */

typedef sk_MetadataResponse_MetadataResponseTopic_t md_topic_t;

static int
md_fill_topic(sk_req_t *r, const sk_MetadataRequest_t *req, const sk_topic_t *t, md_topic_t *out)
{
    int32_t node = sk_req_server(r)->cfg->node_id;
    int32_t *nodes = sk_req_alloc(r, sizeof(*nodes));
    if (!nodes) return SK_ENOMEM;
    *nodes = node;
    out->name = sk_str_c(t->name);
    out->topic_id = t->id;
    out->is_internal = t->internal;
    if (req->include_topic_authorized_operations) out->topic_authorized_operations = TOPIC_OPS_ALL;
    out->partitions = sk_req_array(r, (size_t)t->partition_count, sizeof(*out->partitions));
    if (!out->partitions) return SK_ENOMEM;
    out->partitions_count = t->partition_count;
    for (int32_t i = 0; i < t->partition_count; i++) {
        sk_MetadataResponse_MetadataResponsePartition_t *p = &out->partitions[i];
        sk_MetadataResponse_MetadataResponsePartition_init(p);
        p->partition_index = i;
        p->leader_id = t->partitions[i].leader_id;
        p->leader_epoch = t->partitions[i].leader_epoch;
        p->replica_nodes = nodes;
        p->replica_nodes_count = 1;
        p->isr_nodes = nodes;
        p->isr_nodes_count = 1;
    }
    return SK_OK;
}

static int
md_requested(sk_req_t *r, const sk_MetadataRequest_t *req, const sk_MetadataRequest_MetadataRequestTopic_t *rt,
             md_topic_t *out)
{
    sk_server_t *srv = sk_req_server(r);
    sk_topic_t *t = NULL;
    bool auto_create = r->api_version < 4 || req->allow_auto_topic_creation;

    out->name = rt->name;
    out->topic_id = rt->topic_id;
    if (rt->name.len < 0) {
        t = sk_meta_topic_by_id(srv->meta, &rt->topic_id);
        if (!t) {
            out->error_code = SK_KERR_UNKNOWN_TOPIC_ID;
            return SK_OK;
        }
        return md_fill_topic(r, req, t, out);
    }
    t = sk_meta_topic(srv->meta, rt->name.ptr, (size_t)rt->name.len);
    if (!t && !sk_topic_name_valid(rt->name.ptr, (size_t)rt->name.len)) {
        out->error_code = SK_KERR_INVALID_TOPIC_EXCEPTION;
        return SK_OK;
    }
    if (!t && auto_create) {
        out->error_code = sk_server_auto_create(srv, rt->name.ptr, (size_t)rt->name.len, &t);
        if (out->error_code != SK_KERR_NONE) return SK_OK;
    }
    if (!t) {
        out->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return SK_OK;
    }
    return md_fill_topic(r, req, t, out);
}

int
sk_h_metadata(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_MetadataRequest_t *req = sk_req_decode(r);
    sk_MetadataResponse_t resp;
    sk_MetadataResponse_MetadataResponseBroker_t *b;
    bool all;

    if (!req) return SK_ECORRUPT;
    sk_MetadataResponse_init(&resp);
    b = sk_req_alloc(r, sizeof(*b));
    if (!b) return SK_ENOMEM;
    sk_MetadataResponse_MetadataResponseBroker_init(b);
    b->node_id = srv->cfg->node_id;
    b->host = sk_str_c(srv->adv_host);
    b->port = srv->adv_port;
    resp.brokers = b;
    resp.brokers_count = 1;
    resp.cluster_id = sk_str_c(sk_meta_cluster_id(srv->meta));
    resp.controller_id = srv->cfg->node_id;
    if (r->api_version >= 8 && r->api_version <= 10 && req->include_cluster_authorized_operations)
        resp.cluster_authorized_operations = CLUSTER_OPS_ALL;

    all = req->topics_count < 0 || (r->api_version == 0 && req->topics_count == 0);
    if (all) {
        int32_t n = sk_meta_topic_count(srv->meta);
        sk_topic_t *t;
        resp.topics = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
        for (size_t it = 0; (t = sk_meta_next(srv->meta, &it));) {
            md_topic_t *mt = &resp.topics[resp.topics_count++];
            sk_MetadataResponse_MetadataResponseTopic_init(mt);
            if (md_fill_topic(r, req, t, mt) != SK_OK) return SK_ENOMEM;
        }
    } else if (req->topics_count > 0) {
        resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
        for (int32_t i = 0; i < req->topics_count; i++) {
            md_topic_t *mt = &resp.topics[resp.topics_count++];
            sk_MetadataResponse_MetadataResponseTopic_init(mt);
            if (md_requested(r, req, &req->topics[i], mt) != SK_OK) return SK_ENOMEM;
        }
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- ListOffsets ---- */

static void
lo_partition(sk_req_t *r, const sk_ListOffsetsRequest_t *req, sk_topic_t *t,
             const sk_ListOffsetsRequest_ListOffsetsPartition_t *rp, sk_ListOffsetsResponse_ListOffsetsPartitionResponse_t *out)
{
    sk_partition_t *p;
    int64_t limit, off = -1, ts = -1;

    sk_ListOffsetsResponse_ListOffsetsPartitionResponse_init(out);
    out->partition_index = rp->partition_index;
    if (!t || rp->partition_index < 0 || rp->partition_index >= t->partition_count) {
        out->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    p = &t->partitions[rp->partition_index];
    if (rp->current_leader_epoch >= 0 && rp->current_leader_epoch != p->leader_epoch) {
        out->error_code = rp->current_leader_epoch > p->leader_epoch ? SK_KERR_UNKNOWN_LEADER_EPOCH
                                                                     : SK_KERR_FENCED_LEADER_EPOCH;
        return;
    }
    /* As Kafka: read_committed answers "latest" with the LSO and never names an offset
     * at or past it, read_uncommitted the same with the high watermark. */
    limit = req->isolation_level == 1 ? sk_log_last_stable_offset(p->log) : sk_partition_high_watermark(p);
    switch (rp->timestamp) {
    case -2: /* earliest */
    case -4: /* earliest local */
        off = sk_log_start_offset(p->log);
        break;
    case -1: /* latest */
        off = limit;
        break;
    case -3: /* max timestamp */
        if (sk_log_max_timestamp(p->log, &off, &ts) != SK_OK || off >= limit) off = ts = -1;
        break;
    default:
        if (rp->timestamp < 0) {
            off = -1;  /* e.g. -5 latest tiered: no tiered storage here */
        } else if (sk_log_offset_for_time(p->log, rp->timestamp, &off, &ts) != SK_OK || off >= limit) {
            off = ts = -1;
        }
        break;
    }
    out->offset = off;
    out->timestamp = ts;
    out->leader_epoch = off >= 0 ? p->leader_epoch : -1;
}

int
sk_h_list_offsets(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_ListOffsetsRequest_t *req = sk_req_decode(r);
    sk_ListOffsetsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_ListOffsetsResponse_init(&resp);
    if (req->topics_count > 0) {
        resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->topics_count; i++) {
        const sk_ListOffsetsRequest_ListOffsetsTopic_t *rt = &req->topics[i];
        sk_ListOffsetsResponse_ListOffsetsTopicResponse_t *tr = &resp.topics[resp.topics_count++];
        sk_topic_t *t = rt->name.len >= 0 ? sk_meta_topic(srv->meta, rt->name.ptr, (size_t)rt->name.len) : NULL;
        sk_ListOffsetsResponse_ListOffsetsTopicResponse_init(tr);
        tr->name = rt->name;
        if (rt->partitions_count > 0) {
            tr->partitions = sk_req_array(r, (size_t)rt->partitions_count, sizeof(*tr->partitions));
            if (!tr->partitions) return SK_ENOMEM;
        }
        for (int32_t j = 0; j < rt->partitions_count; j++)
            lo_partition(r, req, t, &rt->partitions[j], &tr->partitions[tr->partitions_count++]);
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
