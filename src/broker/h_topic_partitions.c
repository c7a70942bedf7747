/* broker/h_topic_partitions.c: DescribeTopicPartitions (v0), the paginated topic
 * description Kafka 4.x's admin client uses for describeTopics (kafka-topics --describe).
 * As Kafka: no topics = every topic; topics are answered in name order from the
 * cursor's topic on (the cursor's partition index applies to that topic), at most
 * min(ResponsePartitionLimit, 2000) partitions per response, NextCursor naming the
 * first partition left out; a requested topic that does not exist gets
 * UNKNOWN_TOPIC_OR_PARTITION with a zero id (never auto-created); a cursor topic missing
 * from a non-empty topic list is INVALID_REQUEST for every topic. One node holds every
 * replica, so replicas = ISR = [this node] and the eligible-leader lists are empty. */
#include "broker_int.h"

#define DTP_PARTITION_LIMIT 2000  /* Kafka's max.request.partition.size.limit default */
#define DTP_TOPIC_OPS_ALL 3576    /* as Metadata: READ..DESCRIBE, *_CONFIGS (no ACLs yet) */

typedef sk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponseTopic_t dtp_topic_t;
typedef sk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponsePartition_t dtp_part_t;

static int
dtp_str_cmp(const void *a, const void *b)
{
    const sk_str_t *x = a, *y = b;
    int32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, (size_t)n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The topic names to answer, sorted and unique, those before the cursor left out. */
static sk_str_t *
dtp_names(sk_req_t *r, const sk_DescribeTopicPartitionsRequest_t *req, sk_str_t cursor, int32_t *count)
{
    sk_server_t *srv = sk_req_server(r);
    int32_t n = 0, cap = req->topics_count > 0 ? req->topics_count : sk_meta_topic_count(srv->meta);
    sk_str_t *v = sk_req_array(r, (size_t)SK_MAX(cap, 1), sizeof(*v));
    if (!v) return NULL;
    if (req->topics_count > 0) {
        for (int32_t i = 0; i < req->topics_count; i++)
            if (req->topics[i].name.len >= 0) v[n++] = req->topics[i].name;
    } else {
        sk_topic_t *t;
        for (size_t it = 0; n < cap && (t = sk_meta_next(srv->meta, &it));) v[n++] = sk_str_c(t->name);
    }
    qsort(v, (size_t)n, sizeof(*v), dtp_str_cmp);
    int32_t out = 0;
    for (int32_t i = 0; i < n; i++) {
        if (cursor.len >= 0 && dtp_str_cmp(&v[i], &cursor) < 0) continue;
        if (out > 0 && dtp_str_cmp(&v[out - 1], &v[i]) == 0) continue;
        v[out++] = v[i];
    }
    *count = out;
    return v;
}

/* Partitions [first, first + n) of t into out. */
static int
dtp_fill(sk_req_t *r, const sk_topic_t *t, int32_t first, int32_t n, dtp_topic_t *out)
{
    int32_t *node = sk_req_alloc(r, sizeof(*node));
    if (!node) return SK_ENOMEM;
    *node = sk_req_server(r)->cfg->node_id;
    out->name = sk_str_c(t->name);
    out->topic_id = t->id;
    out->is_internal = t->internal;
    out->topic_authorized_operations = DTP_TOPIC_OPS_ALL;
    if (n > 0 && !(out->partitions = sk_req_array(r, (size_t)n, sizeof(*out->partitions)))) return SK_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        dtp_part_t *p = &out->partitions[out->partitions_count++];
        sk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponsePartition_init(p);
        p->partition_index = first + i;
        p->leader_id = t->partitions[first + i].leader_id;
        p->leader_epoch = t->partitions[first + i].leader_epoch;
        p->replica_nodes = node;
        p->replica_nodes_count = 1;
        p->isr_nodes = node;
        p->isr_nodes_count = 1;
        p->eligible_leader_replicas_count = 0; /* empty, not null: as Kafka without ELR */
        p->last_known_elr_count = 0;
    }
    return SK_OK;
}

/* A non-empty topic list must contain the cursor's topic. */
static bool
dtp_cursor_listed(const sk_DescribeTopicPartitionsRequest_t *req)
{
    if (req->cursor_null || req->topics_count <= 0) return true;
    for (int32_t i = 0; i < req->topics_count; i++)
        if (req->topics[i].name.len >= 0 && dtp_str_cmp(&req->topics[i].name, &req->cursor.topic_name) == 0)
            return true;
    return false;
}

static int
dtp_answer(sk_req_t *r, const sk_DescribeTopicPartitionsRequest_t *req, sk_DescribeTopicPartitionsResponse_t *resp)
{
    sk_server_t *srv = sk_req_server(r);
    sk_str_t cursor = req->cursor_null ? SK_STR_NULL : req->cursor.topic_name;
    int32_t n = 0, left = SK_MIN(req->response_partition_limit, DTP_PARTITION_LIMIT);
    sk_str_t *names = dtp_names(r, req, cursor, &n);

    if (!names || !(resp->topics = sk_req_array(r, (size_t)SK_MAX(n, 1), sizeof(*resp->topics)))) return SK_ENOMEM;
    if (left < 1) left = 1;
    for (int32_t i = 0; i < n; i++) {
        sk_topic_t *t = sk_meta_topic(srv->meta, names[i].ptr, (size_t)names[i].len);
        int32_t first = 0;
        if (!t) { /* only a requested topic can be missing */
            dtp_topic_t *mt = &resp->topics[resp->topics_count++];
            sk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponseTopic_init(mt);
            mt->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            mt->name = names[i];
            continue;
        }
        if (cursor.len >= 0 && dtp_str_cmp(&names[i], &cursor) == 0 && req->cursor.partition_index > 0)
            first = SK_MIN(req->cursor.partition_index, t->partition_count);
        if (left == 0) {
            resp->next_cursor_null = false;
            resp->next_cursor.topic_name = names[i];
            resp->next_cursor.partition_index = first;
            break;
        }
        int32_t take = SK_MIN(t->partition_count - first, left);
        dtp_topic_t *mt = &resp->topics[resp->topics_count++];
        sk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponseTopic_init(mt);
        if (dtp_fill(r, t, first, take, mt) != SK_OK) return SK_ENOMEM;
        left -= take;
        if (first + take < t->partition_count) {
            resp->next_cursor_null = false;
            resp->next_cursor.topic_name = names[i];
            resp->next_cursor.partition_index = first + take;
            break;
        }
    }
    return SK_OK;
}

int
sk_h_describe_topic_partitions(sk_req_t *r)
{
    sk_DescribeTopicPartitionsRequest_t *req = sk_req_decode(r);
    sk_DescribeTopicPartitionsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_DescribeTopicPartitionsResponse_init(&resp);
    if (!dtp_cursor_listed(req)) {
        resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
        for (int32_t i = 0; i < req->topics_count; i++) {
            dtp_topic_t *mt = &resp.topics[resp.topics_count++];
            sk_DescribeTopicPartitionsResponse_DescribeTopicPartitionsResponseTopic_init(mt);
            mt->error_code = SK_KERR_INVALID_REQUEST;
            mt->name = req->topics[i].name;
        }
    } else if (dtp_answer(r, req, &resp) != SK_OK) {
        return SK_ENOMEM;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
