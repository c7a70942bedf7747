/* broker/h_topics.c: CreateTopics and DeleteTopics. This node is the controller of the
 * single-node cluster (Metadata names it as controller_id), so these are answered here.
 * Checks and error codes follow Kafka's controller: invalid names, duplicates in one
 * request, partition and replication-factor rules, manual assignments, topic configs,
 * validate_only. */
#include "broker_int.h"

#define TOPIC_PARTITIONS_MAX 10000

typedef sk_CreateTopicsRequest_CreatableTopic_t ct_req_t;
typedef sk_CreateTopicsResponse_CreatableTopicResult_t ct_res_t;

static void
ct_error(sk_req_t *r, ct_res_t *res, int16_t code, const char *msg)
{
    res->error_code = code;
    res->error_message = sk_str_c(sk_arena_strndup(&r->arena, msg, strlen(msg)));
}

/* Check assignments: partitions 0..n-1 each listed once, replicas = this node only. */
static int16_t
ct_check_assignments(sk_req_t *r, const ct_req_t *t, int32_t *partitions, char *msg, size_t msg_len)
{
    int32_t n = t->assignments_count;
    int32_t node = sk_req_server(r)->cfg->node_id;
    if (t->num_partitions != -1 || t->replication_factor != -1) {
        snprintf(msg, msg_len, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.");
        return SK_KERR_INVALID_REQUEST;
    }
    if (n > TOPIC_PARTITIONS_MAX) goto bad;
    for (int32_t i = 0; i < n; i++) {
        const sk_CreateTopicsRequest_CreatableReplicaAssignment_t *a = &t->assignments[i];
        bool seen = false;
        if (a->partition_index < 0 || a->partition_index >= n) goto bad;
        for (int32_t j = 0; j < i; j++) seen |= t->assignments[j].partition_index == a->partition_index;
        if (seen || a->broker_ids_count != 1) goto bad;
        if (a->broker_ids[0] != node) goto bad;
    }
    *partitions = n;
    return SK_KERR_NONE;
bad:
    snprintf(msg, msg_len, "Invalid replica assignment: partitions must be 0..n-1, each with exactly one replica on broker %d.", node);
    return SK_KERR_INVALID_REPLICA_ASSIGNMENT;
}

/* Validate one topic; on success fill partitions, rf and the config overrides. */
static int16_t
ct_check(sk_req_t *r, const ct_req_t *t, int32_t *partitions, int16_t *rf, sk_topic_cfg_t *cfgs, char *msg,
         size_t msg_len)
{
    sk_server_t *srv = sk_req_server(r);
    int16_t code;

    if (t->name.len < 0 || !sk_topic_name_valid(t->name.ptr, (size_t)t->name.len)) {
        snprintf(msg, msg_len, "Topic name \"%.*s\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-', or is empty, too long, '.' or '..'",
                 t->name.len > 0 ? SK_MIN(t->name.len, 300) : 0, t->name.ptr ? t->name.ptr : "");
        return SK_KERR_INVALID_TOPIC_EXCEPTION;
    }
    if (sk_meta_topic(srv->meta, t->name.ptr, (size_t)t->name.len)) {
        snprintf(msg, msg_len, "Topic '%.*s' already exists.", t->name.len, t->name.ptr);
        return SK_KERR_TOPIC_ALREADY_EXISTS;
    }
    *rf = 1;
    if (t->assignments_count > 0) {
        if ((code = ct_check_assignments(r, t, partitions, msg, msg_len)) != SK_KERR_NONE) return code;
    } else {
        *partitions = t->num_partitions == -1 ? srv->cfg->num_partitions : t->num_partitions;
        *rf = t->replication_factor == -1 ? (int16_t)srv->cfg->default_replication_factor : t->replication_factor;
        if (*partitions <= 0) {
            snprintf(msg, msg_len, "Number of partitions was set to an invalid non-positive value.");
            return SK_KERR_INVALID_PARTITIONS;
        }
        if (*partitions > TOPIC_PARTITIONS_MAX) {
            snprintf(msg, msg_len, "Number of partitions %d is above this broker's limit of %d.", *partitions, TOPIC_PARTITIONS_MAX);
            return SK_KERR_INVALID_PARTITIONS;
        }
        if (*rf <= 0) {
            snprintf(msg, msg_len, "Replication factor must be larger than 0, or -1 to use the default value.");
            return SK_KERR_INVALID_REPLICATION_FACTOR;
        }
        if (*rf > 1) {
            snprintf(msg, msg_len, "Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only 1 broker(s) are registered.", *rf, *rf);
            return SK_KERR_INVALID_REPLICATION_FACTOR;
        }
    }
    for (int32_t i = 0; i < t->configs_count; i++) {
        const sk_CreateTopicsRequest_CreatableTopicConfig_t *c = &t->configs[i];
        cfgs[i].name = sk_req_strdup(r, c->name);
        cfgs[i].value = c->value.len < 0 ? NULL : sk_req_strdup(r, c->value);
        if (!cfgs[i].name || (c->value.len >= 0 && !cfgs[i].value)) return SK_KERR_UNKNOWN_SERVER_ERROR;
        if (!cfgs[i].value) {
            snprintf(msg, msg_len, "Null value not supported for topic configs: %s", cfgs[i].name);
            return SK_KERR_INVALID_CONFIG;
        }
        if (sk_topic_config_check(cfgs[i].name, cfgs[i].value, msg, msg_len) != SK_OK) return SK_KERR_INVALID_CONFIG;
    }
    return SK_KERR_NONE;
}

/* The v5+ description of the created topic's configs. */
static int
ct_describe(sk_req_t *r, ct_res_t *res, const sk_topic_t *t, const sk_topic_cfg_t *cfgs, int32_t cfg_count)
{
    sk_server_t *srv = sk_req_server(r);
    size_t n = 0;
    while (sk_topic_config_names[n]) n++;
    res->configs = sk_req_array(r, n, sizeof(*res->configs));
    if (!res->configs) return SK_ENOMEM;
    res->configs_count = (int32_t)n;
    for (size_t i = 0; i < n; i++) {
        sk_CreateTopicsResponse_CreatableTopicConfigs_t *c = &res->configs[i];
        const char *name = sk_topic_config_names[i];
        const char *v = NULL;
        bool is_default = true;
        char buf[64];
        sk_CreateTopicsResponse_CreatableTopicConfigs_init(c);
        for (int32_t j = 0; !t && j < cfg_count; j++)
            if (!strcmp(cfgs[j].name, name)) v = cfgs[j].value, is_default = false;
        if (!v) v = sk_topic_config_value(srv->meta, t, name, &is_default, buf, sizeof(buf));
        c->name = sk_str_c(name);
        c->value = sk_str_c(v ? sk_arena_strndup(&r->arena, v, strlen(v)) : NULL);
        c->config_source = is_default ? 5 /* DEFAULT_CONFIG */ : 1 /* DYNAMIC_TOPIC_CONFIG */;
    }
    return SK_OK;
}

static int
ct_one(sk_req_t *r, const ct_req_t *t, ct_res_t *res, bool validate_only, bool dup)
{
    sk_server_t *srv = sk_req_server(r);
    sk_topic_cfg_t *cfgs = sk_req_array(r, (size_t)SK_MAX(t->configs_count, 1), sizeof(*cfgs));
    sk_topic_t *topic = NULL;
    char msg[512], name[256];
    int32_t partitions = 0;
    int16_t rf = 0, code;

    if (!cfgs) return SK_ENOMEM;
    sk_CreateTopicsResponse_CreatableTopicResult_init(res);
    res->name = t->name;
    if (dup) {
        snprintf(msg, sizeof(msg), "Create topics request from client contains duplicate topic name.");
        ct_error(r, res, SK_KERR_INVALID_REQUEST, msg);
        return SK_OK;
    }
    code = ct_check(r, t, &partitions, &rf, cfgs, msg, sizeof(msg));
    if (code != SK_KERR_NONE) {
        ct_error(r, res, code, msg);
        return SK_OK;
    }
    if (!validate_only) {
        memcpy(name, t->name.ptr, (size_t)t->name.len);
        name[t->name.len] = '\0';
        int rc = sk_meta_topic_create(srv->meta, name, partitions, rf, cfgs, t->configs_count, &topic, msg, sizeof(msg));
        if (rc != SK_OK) {
            ct_error(r, res, rc == SK_EEXIST ? SK_KERR_TOPIC_ALREADY_EXISTS : SK_KERR_UNKNOWN_SERVER_ERROR, msg);
            return SK_OK;
        }
        res->topic_id = topic->id;
    }
    res->num_partitions = partitions;
    res->replication_factor = rf;
    return ct_describe(r, res, topic, cfgs, t->configs_count);
}

int
sk_h_create_topics(sk_req_t *r)
{
    sk_CreateTopicsRequest_t *req = sk_req_decode(r);
    sk_CreateTopicsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_CreateTopicsResponse_init(&resp);
    if (req->topics_count > 0) {
        resp.topics = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.topics));
        if (!resp.topics) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->topics_count; i++) {
        bool dup = false;
        for (int32_t j = 0; j < req->topics_count; j++) {
            const sk_str_t *a = &req->topics[i].name, *b = &req->topics[j].name;
            if (j != i && a->len == b->len && a->len >= 0 && !memcmp(a->ptr, b->ptr, (size_t)a->len)) dup = true;
        }
        int rc = ct_one(r, &req->topics[i], &resp.topics[resp.topics_count++], req->validate_only, dup);
        if (rc != SK_OK) return rc;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

static void
dt_one(sk_req_t *r, sk_str_t name, const sk_uuid_t *id, sk_DeleteTopicsResponse_DeletableTopicResult_t *res)
{
    sk_server_t *srv = sk_req_server(r);
    sk_topic_t *t = NULL;

    sk_DeleteTopicsResponse_DeletableTopicResult_init(res);
    res->name = name;
    if (id && !sk_uuid_is_zero(id)) {
        res->topic_id = *id;
        if (name.len >= 0) {
            res->error_code = SK_KERR_INVALID_REQUEST;
            res->error_message = sk_str_c("Only one of topic name or topic id may be set.");
            return;
        }
        t = sk_meta_topic_by_id(srv->meta, id);
        if (!t) {
            res->error_code = SK_KERR_UNKNOWN_TOPIC_ID;
            return;
        }
        res->name = sk_str_c(sk_arena_strndup(&r->arena, t->name, strlen(t->name)));
    } else if (name.len >= 0) {
        t = sk_meta_topic(srv->meta, name.ptr, (size_t)name.len);
    }
    if (!t) {
        res->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    res->topic_id = t->id;
    if (!srv->cfg->delete_topic_enable) {
        res->error_code = SK_KERR_TOPIC_DELETION_DISABLED;
        return;
    }
    if (sk_meta_topic_delete(srv->meta, t) != SK_OK) res->error_code = SK_KERR_KAFKA_STORAGE_ERROR;
    sk_fetch_notify(srv, NULL, 0); /* parked fetches re-check their topics */
}

int
sk_h_delete_topics(sk_req_t *r)
{
    sk_DeleteTopicsRequest_t *req = sk_req_decode(r);
    sk_DeleteTopicsResponse_t resp;
    int32_t n;

    if (!req) return SK_ECORRUPT;
    sk_DeleteTopicsResponse_init(&resp);
    n = r->api_version >= 6 ? req->topics_count : req->topic_names_count;
    if (n > 0) {
        resp.responses = sk_req_array(r, (size_t)n, sizeof(*resp.responses));
        if (!resp.responses) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        if (r->api_version >= 6) dt_one(r, req->topics[i].name, &req->topics[i].topic_id, &resp.responses[i]);
        else dt_one(r, req->topic_names[i], NULL, &resp.responses[i]);
        resp.responses_count++;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
