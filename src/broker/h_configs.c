/* broker/h_configs.c: DescribeConfigs (v1-4), AlterConfigs (v0-2),
 * IncrementalAlterConfigs (v0-1) and CreatePartitions (v0-3). Topic configs are the
 * overrides of the metadata image over broker defaults; broker configs are the static
 * configuration (read-only here: changing them needs a restart). Config sources follow
 * Kafka's numbering: 1 DYNAMIC_TOPIC_CONFIG, 4 STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG. */
#include "broker_int.h"

#define RES_TOPIC 2
#define RES_BROKER 4
#define SRC_TOPIC 1
#define SRC_STATIC 4
#define SRC_DEFAULT 5
#define TOPIC_OVERRIDES_MAX 256

typedef sk_DescribeConfigsResponse_DescribeConfigsResourceResult_t dc_cfg_t;

static bool
dc_wanted(const sk_DescribeConfigsRequest_DescribeConfigsResource_t *res, const char *name)
{
    if (res->configuration_keys_count < 0) return true;
    for (int32_t i = 0; i < res->configuration_keys_count; i++)
        if (sk_str_eq(res->configuration_keys[i], name)) return true;
    return false;
}

static char *
dc_dup(sk_req_t *r, const char *s)
{
    return s ? sk_arena_strndup(&r->arena, s, strlen(s)) : NULL;
}

static int
dc_topic(sk_req_t *r, const sk_DescribeConfigsRequest_t *req,
         const sk_DescribeConfigsRequest_DescribeConfigsResource_t *res, sk_DescribeConfigsResponse_DescribeConfigsResult_t *out)
{
    sk_server_t *srv = sk_req_server(r);
    sk_topic_t *t = res->resource_name.len >= 0 ? sk_meta_topic(srv->meta, res->resource_name.ptr, (size_t)res->resource_name.len) : NULL;
    size_t n = 0;

    if (!t) {
        out->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->error_message = sk_str_c("The topic does not exist.");
        return SK_OK;
    }
    while (sk_topic_config_names[n]) n++;
    out->configs = sk_req_array(r, n, sizeof(*out->configs));
    if (!out->configs) return SK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = sk_topic_config_names[i];
        bool is_default;
        char buf[64];
        const char *v;
        if (!dc_wanted(res, name)) continue;
        v = sk_topic_config_value(srv->meta, t, name, &is_default, buf, sizeof(buf));
        dc_cfg_t *c = &out->configs[out->configs_count++];
        sk_DescribeConfigsResponse_DescribeConfigsResourceResult_init(c);
        c->name = sk_str_c(name);
        c->value = sk_str_c(dc_dup(r, v));
        c->is_default = is_default;
        c->config_source = is_default ? SRC_DEFAULT : SRC_TOPIC;
        if (req->include_synonyms && !is_default) {
            c->synonyms = sk_req_alloc(r, sizeof(*c->synonyms));
            if (!c->synonyms) return SK_ENOMEM;
            sk_DescribeConfigsResponse_DescribeConfigsSynonym_init(c->synonyms);
            c->synonyms->name = c->name;
            c->synonyms->value = c->value;
            c->synonyms->source = SRC_TOPIC;
            c->synonyms_count = 1;
        }
    }
    return SK_OK;
}

static int
dc_broker(sk_req_t *r, const sk_DescribeConfigsRequest_DescribeConfigsResource_t *res,
          sk_DescribeConfigsResponse_DescribeConfigsResult_t *out)
{
    const sk_config_t *cfg = sk_req_server(r)->cfg;
    char id[16];
    size_t n = 0;

    snprintf(id, sizeof(id), "%d", cfg->node_id);
    if (res->resource_name.len > 0 && !sk_str_eq(res->resource_name, id)) {
        out->error_code = SK_KERR_INVALID_REQUEST;
        out->error_message = sk_str_c("Unexpected broker id");
        return SK_OK;
    }
    while (sk_config_key_name(n)) n++;
    out->configs = sk_req_array(r, n, sizeof(*out->configs));
    if (!out->configs) return SK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = sk_config_key_name(i);
        char buf[1024];
        if (!dc_wanted(res, name) || sk_config_get_string(cfg, name, buf, sizeof(buf)) != SK_OK) continue;
        bool is_default = sk_config_source(cfg, name) == SK_CONFIG_SRC_DEFAULT;
        dc_cfg_t *c = &out->configs[out->configs_count++];
        sk_DescribeConfigsResponse_DescribeConfigsResourceResult_init(c);
        c->name = sk_str_c(name);
        c->value = sk_str_c(dc_dup(r, buf));
        c->read_only = true;
        c->is_default = is_default;
        c->config_source = is_default ? SRC_DEFAULT : SRC_STATIC;
    }
    return SK_OK;
}

int
sk_h_describe_configs(sk_req_t *r)
{
    sk_DescribeConfigsRequest_t *req = sk_req_decode(r);
    sk_DescribeConfigsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_DescribeConfigsResponse_init(&resp);
    if (req->resources_count > 0) {
        resp.results = sk_req_array(r, (size_t)req->resources_count, sizeof(*resp.results));
        if (!resp.results) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->resources_count; i++) {
        const sk_DescribeConfigsRequest_DescribeConfigsResource_t *res = &req->resources[i];
        sk_DescribeConfigsResponse_DescribeConfigsResult_t *out = &resp.results[resp.results_count++];
        int rc = SK_OK;
        sk_DescribeConfigsResponse_DescribeConfigsResult_init(out);
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        if (res->resource_type == RES_TOPIC) rc = dc_topic(r, req, res, out);
        else if (res->resource_type == RES_BROKER) rc = dc_broker(r, res, out);
        else {
            out->error_code = SK_KERR_INVALID_REQUEST;
            out->error_message = sk_str_c("Unsupported resource type");
        }
        if (rc != SK_OK) return rc;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- AlterConfigs / IncrementalAlterConfigs ---- */

typedef struct cfg_set {
    sk_topic_cfg_t v[TOPIC_OVERRIDES_MAX];
    int32_t count;
} cfg_set_t;

static int
cfg_set_find(const cfg_set_t *s, const char *name)
{
    for (int32_t i = 0; i < s->count; i++)
        if (!strcmp(s->v[i].name, name)) return i;
    return -1;
}

/* cleanup.policy as a set of {delete, compact}: add or remove the items of v. */
static char *
policy_merge(sk_req_t *r, const char *cur, const char *v, bool add)
{
    bool del = strstr(cur, "delete") != NULL, cmp = strstr(cur, "compact") != NULL;
    if (strstr(v, "delete")) del = add;
    if (strstr(v, "compact")) cmp = add;
    const char *out = del && cmp ? "delete,compact" : del ? "delete" : cmp ? "compact" : "";
    return sk_arena_strndup(&r->arena, out, strlen(out));
}

/* op: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT (lists only: cleanup.policy here). */
static int16_t
cfg_set_apply(sk_req_t *r, cfg_set_t *s, int8_t op, sk_str_t name, sk_str_t value, char *msg, size_t msg_len)
{
    char *n = sk_req_strdup(r, name);
    char *v = value.len >= 0 ? sk_req_strdup(r, value) : NULL;
    int at;

    if (!n || (value.len >= 0 && !v)) return SK_KERR_UNKNOWN_SERVER_ERROR;
    at = cfg_set_find(s, n);
    if (op == 1) {
        if (sk_topic_config_check(n, "0", msg, msg_len) == SK_ENOENT) return SK_KERR_INVALID_CONFIG;
        if (at >= 0) s->v[at] = s->v[--s->count];
        return SK_KERR_NONE;
    }
    if (op == 2 || op == 3) {
        if (strcmp(n, "cleanup.policy") != 0) {
            snprintf(msg, msg_len, "Config %s is not a list; APPEND and SUBTRACT need a list", n);
            return SK_KERR_INVALID_CONFIG;
        }
        if (!v || sk_topic_config_check(n, v, msg, msg_len) != SK_OK) return SK_KERR_INVALID_CONFIG;
        v = policy_merge(r, at >= 0 ? s->v[at].value : "delete", v, op == 2);
        if (!v || !*v) {
            snprintf(msg, msg_len, "cleanup.policy cannot become empty");
            return SK_KERR_INVALID_CONFIG;
        }
    }
    if (!v) {
        snprintf(msg, msg_len, "Null value not supported for topic config %s", n);
        return SK_KERR_INVALID_CONFIG;
    }
    if (sk_topic_config_check(n, v, msg, msg_len) != SK_OK) return SK_KERR_INVALID_CONFIG;
    if (at < 0) {
        if (s->count >= TOPIC_OVERRIDES_MAX) return SK_KERR_INVALID_CONFIG;
        at = s->count++;
        s->v[at].name = n;
    }
    s->v[at].value = v;
    return SK_KERR_NONE;
}

/* Shared by both APIs: configs of one resource, incremental or replacing. */
static void
alter_one(sk_req_t *r, int8_t type, sk_str_t name, bool incremental, bool validate_only, const void *configs,
          int32_t count, sk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_t *out)
{
    sk_server_t *srv = sk_req_server(r);
    char msg[256] = "";
    cfg_set_t *s = sk_req_alloc(r, sizeof(*s));
    sk_topic_t *t;

    out->resource_type = type;
    out->resource_name = name;
    if (!s) {
        out->error_code = SK_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    if (type == RES_BROKER) {
        out->error_code = SK_KERR_INVALID_REQUEST;
        out->error_message = sk_str_c("Broker configs are static in this broker: change server.properties and restart");
        return;
    }
    if (type != RES_TOPIC) {
        out->error_code = SK_KERR_INVALID_REQUEST;
        out->error_message = sk_str_c("Unsupported resource type");
        return;
    }
    t = name.len >= 0 ? sk_meta_topic(srv->meta, name.ptr, (size_t)name.len) : NULL;
    if (!t) {
        out->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (incremental) {
        for (int32_t i = 0; i < t->config_count && i < TOPIC_OVERRIDES_MAX; i++) s->v[s->count++] = t->configs[i];
    }
    for (int32_t i = 0; i < count; i++) {
        int16_t code;
        if (incremental) {
            const sk_IncrementalAlterConfigsRequest_AlterableConfig_t *c =
                &((const sk_IncrementalAlterConfigsRequest_AlterableConfig_t *)configs)[i];
            code = c->config_operation < 0 || c->config_operation > 3
                       ? SK_KERR_INVALID_REQUEST
                       : cfg_set_apply(r, s, c->config_operation, c->name, c->value, msg, sizeof(msg));
        } else {
            const sk_AlterConfigsRequest_AlterableConfig_t *c = &((const sk_AlterConfigsRequest_AlterableConfig_t *)configs)[i];
            code = cfg_set_apply(r, s, 0, c->name, c->value, msg, sizeof(msg));
        }
        if (code != SK_KERR_NONE) {
            out->error_code = code;
            out->error_message = sk_str_c(sk_arena_strndup(&r->arena, msg, strlen(msg)));
            return;
        }
    }
    if (!validate_only && sk_meta_topic_set_configs(srv->meta, t, s->v, s->count) != SK_OK)
        out->error_code = SK_KERR_KAFKA_STORAGE_ERROR;
}

int
sk_h_incremental_alter_configs(sk_req_t *r)
{
    sk_IncrementalAlterConfigsRequest_t *req = sk_req_decode(r);
    sk_IncrementalAlterConfigsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_IncrementalAlterConfigsResponse_init(&resp);
    if (req->resources_count > 0) {
        resp.responses = sk_req_array(r, (size_t)req->resources_count, sizeof(*resp.responses));
        if (!resp.responses) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->resources_count; i++) {
        const sk_IncrementalAlterConfigsRequest_AlterConfigsResource_t *res = &req->resources[i];
        sk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_t *out = &resp.responses[resp.responses_count++];
        sk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_init(out);
        alter_one(r, res->resource_type, res->resource_name, true, req->validate_only, res->configs,
                  res->configs_count, out);
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

int
sk_h_alter_configs(sk_req_t *r)
{
    sk_AlterConfigsRequest_t *req = sk_req_decode(r);
    sk_AlterConfigsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_AlterConfigsResponse_init(&resp);
    if (req->resources_count > 0) {
        resp.responses = sk_req_array(r, (size_t)req->resources_count, sizeof(*resp.responses));
        if (!resp.responses) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->resources_count; i++) {
        const sk_AlterConfigsRequest_AlterConfigsResource_t *res = &req->resources[i];
        sk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_t tmp;
        sk_AlterConfigsResponse_AlterConfigsResourceResponse_t *out = &resp.responses[resp.responses_count++];
        sk_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse_init(&tmp);
        alter_one(r, res->resource_type, res->resource_name, false, req->validate_only, res->configs,
                  res->configs_count, &tmp);
        sk_AlterConfigsResponse_AlterConfigsResourceResponse_init(out);
        out->error_code = tmp.error_code;
        out->error_message = tmp.error_message;
        out->resource_type = tmp.resource_type;
        out->resource_name = tmp.resource_name;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- CreatePartitions ---- */

static void
cp_one(sk_req_t *r, const sk_CreatePartitionsRequest_CreatePartitionsTopic_t *ct, bool validate_only,
       sk_CreatePartitionsResponse_CreatePartitionsTopicResult_t *out)
{
    sk_server_t *srv = sk_req_server(r);
    sk_topic_t *t = ct->name.len >= 0 ? sk_meta_topic(srv->meta, ct->name.ptr, (size_t)ct->name.len) : NULL;
    char msg[200];

    out->name = ct->name;
    if (!t) {
        out->error_code = SK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (ct->count <= t->partition_count) {
        snprintf(msg, sizeof(msg), "Topic currently has %d partitions, which is higher than the requested %d.",
                 t->partition_count, ct->count);
        if (ct->count == t->partition_count) snprintf(msg, sizeof(msg), "Topic already has %d partitions.", ct->count);
        out->error_code = SK_KERR_INVALID_PARTITIONS;
        out->error_message = sk_str_c(sk_arena_strndup(&r->arena, msg, strlen(msg)));
        return;
    }
    if (ct->count > 10000) {
        out->error_code = SK_KERR_INVALID_PARTITIONS;
        out->error_message = sk_str_c("Number of partitions is above this broker's limit of 10000.");
        return;
    }
    if (ct->assignments_count >= 0 && ct->assignments_count != ct->count - t->partition_count) {
        out->error_code = SK_KERR_INVALID_REPLICA_ASSIGNMENT;
        out->error_message = sk_str_c("Assignments must be given for exactly the new partitions.");
        return;
    }
    for (int32_t i = 0; i < ct->assignments_count; i++) {
        const sk_CreatePartitionsRequest_CreatePartitionsAssignment_t *a = &ct->assignments[i];
        if (a->broker_ids_count != 1 || a->broker_ids[0] != srv->cfg->node_id) {
            out->error_code = SK_KERR_INVALID_REPLICA_ASSIGNMENT;
            out->error_message = sk_str_c("Each new partition must have exactly one replica, on this broker.");
            return;
        }
    }
    if (t->internal) {
        out->error_code = SK_KERR_INVALID_REQUEST;
        out->error_message = sk_str_c("Cannot add partitions to an internal topic.");
        return;
    }
    if (!validate_only && sk_meta_topic_add_partitions(srv->meta, t, ct->count) != SK_OK)
        out->error_code = SK_KERR_KAFKA_STORAGE_ERROR;
}

int
sk_h_create_partitions(sk_req_t *r)
{
    sk_CreatePartitionsRequest_t *req = sk_req_decode(r);
    sk_CreatePartitionsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_CreatePartitionsResponse_init(&resp);
    if (req->topics_count > 0) {
        resp.results = sk_req_array(r, (size_t)req->topics_count, sizeof(*resp.results));
        if (!resp.results) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->topics_count; i++) {
        sk_CreatePartitionsResponse_CreatePartitionsTopicResult_t *out = &resp.results[resp.results_count++];
        sk_CreatePartitionsResponse_CreatePartitionsTopicResult_init(out);
        cp_one(r, &req->topics[i], req->validate_only, out);
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
