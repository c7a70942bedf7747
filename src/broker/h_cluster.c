/* broker/h_cluster.c: ApiVersions and DescribeCluster. ApiVersions answers from the
 * handler table intersected with the generated codec's range, so we never advertise a
 * version we cannot parse; a too-high ApiVersions version gets the v0 layout with
 * UNSUPPORTED_VERSION and our ApiVersions range (KIP-511), never a closed connection. */
#include "broker_int.h"

#include <ctype.h>

/* Kafka's pattern for client software name/version: [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool
software_field_valid(sk_str_t s)
{
    if (s.len <= 0) return false;
    for (int32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        bool edge = i == 0 || i == s.len - 1;
        if (!isalnum(c) && (edge || (c != '-' && c != '.'))) return false;
    }
    return true;
}

/* Features (KIP-584): transaction.version 2 is supported and finalized, so clients that
 * know it (the Java 4.x client, franz-go) use transactions v2 (KIP-890 part 2:
 * docs/transactions.md). The finalized epoch never changes on a single node. */
static int
api_versions_features(sk_req_t *r, sk_ApiVersionsResponse_t *resp)
{
    sk_ApiVersionsResponse_SupportedFeatureKey_t *s = sk_req_alloc(r, sizeof(*s));
    sk_ApiVersionsResponse_FinalizedFeatureKey_t *f = sk_req_alloc(r, sizeof(*f));
    if (!s || !f) return SK_ENOMEM;
    sk_ApiVersionsResponse_SupportedFeatureKey_init(s);
    s->name = sk_str_c("transaction.version");
    s->min_version = 0;
    s->max_version = 2;
    sk_ApiVersionsResponse_FinalizedFeatureKey_init(f);
    f->name = sk_str_c("transaction.version");
    f->min_version_level = 2;
    f->max_version_level = 2;
    resp->supported_features = s;
    resp->supported_features_count = 1;
    resp->finalized_features = f;
    resp->finalized_features_count = 1;
    resp->finalized_features_epoch = 1;
    return SK_OK;
}

int
sk_h_api_versions(sk_req_t *r)
{
    const sk_handler_t *self = sk_handler_find(SK_API_API_VERSIONS);
    sk_ApiVersionsResponse_t resp;

    sk_ApiVersionsResponse_init(&resp);
    if (r->api_version > self->max_version || r->api_version < 0) {
        sk_ApiVersionsResponse_ApiVersion_t *k = sk_req_alloc(r, sizeof(*k));
        if (!k) return SK_ENOMEM;
        sk_ApiVersionsResponse_ApiVersion_init(k);
        k->api_key = SK_API_API_VERSIONS;
        k->min_version = self->adv_min_version;
        k->max_version = self->max_version;
        resp.error_code = SK_KERR_UNSUPPORTED_VERSION;
        resp.api_keys = k;
        resp.api_keys_count = 1;
        r->api_version = 0;
        sk_req_respond(r, &resp);
        return SK_OK;
    }
    sk_ApiVersionsRequest_t *req = sk_req_decode(r);
    if (!req) return SK_ECORRUPT;
    if (r->api_version >= 3 &&
        (!software_field_valid(req->client_software_name) || !software_field_valid(req->client_software_version))) {
        resp.error_code = SK_KERR_INVALID_REQUEST;
        sk_req_respond(r, &resp);
        return SK_OK;
    }
    resp.api_keys = sk_req_array(r, sk_handler_count, sizeof(*resp.api_keys));
    if (!resp.api_keys) return SK_ENOMEM;
    for (size_t i = 0; i < sk_handler_count; i++) {
        const sk_handler_t *h = &sk_handlers[i];
        const sk_api_desc_t *d = sk_api_desc(h->key);
        SK_ASSERT(d != NULL && h->max_version <= d->max_version && h->min_version >= d->min_version);
        sk_ApiVersionsResponse_ApiVersion_t *k = &resp.api_keys[resp.api_keys_count++];
        sk_ApiVersionsResponse_ApiVersion_init(k);
        k->api_key = h->key;
        k->min_version = h->adv_min_version;
        k->max_version = h->max_version;
    }
    if (r->api_version >= 3 && api_versions_features(r, &resp) != SK_OK) return SK_ENOMEM;
    sk_req_respond(r, &resp);
    return SK_OK;
}

int
sk_h_describe_cluster(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_DescribeClusterRequest_t *req = sk_req_decode(r);
    sk_DescribeClusterResponse_t resp;
    sk_DescribeClusterResponse_DescribeClusterBroker_t *b;

    if (!req) return SK_ECORRUPT;
    sk_DescribeClusterResponse_init(&resp);
    resp.endpoint_type = req->endpoint_type;
    resp.cluster_id = sk_str_c(sk_meta_cluster_id(srv->meta));
    resp.controller_id = srv->cfg->node_id;
    if (req->endpoint_type != 1 && req->endpoint_type != 2) {
        resp.error_code = SK_KERR_UNSUPPORTED_VERSION;
        resp.error_message = sk_str_c("Unsupported endpoint type");
        sk_req_respond(r, &resp);
        return SK_OK;
    }
    b = sk_req_alloc(r, sizeof(*b));
    if (!b) return SK_ENOMEM;
    sk_DescribeClusterResponse_DescribeClusterBroker_init(b);
    b->broker_id = srv->cfg->node_id;
    b->host = sk_str_c(srv->adv_host);
    b->port = srv->adv_port;
    resp.brokers = b;
    resp.brokers_count = 1;
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* FindCoordinator (v0-6; batched keys from v4). In a single-node cluster every group's
 * and every transactional id's coordinator is this node; share groups are not
 * supported. */
static int16_t
coordinator_error(int8_t key_type, const char **msg)
{
    if (key_type == 0 || key_type == 1) return SK_KERR_NONE;
    *msg = "Unsupported coordinator key type";
    return SK_KERR_INVALID_REQUEST;
}

int
sk_h_find_coordinator(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_FindCoordinatorRequest_t *req = sk_req_decode(r);
    sk_FindCoordinatorResponse_t resp;
    const char *msg = NULL;
    int16_t err;

    if (!req) return SK_ECORRUPT;
    sk_FindCoordinatorResponse_init(&resp);
    err = coordinator_error(req->key_type, &msg);
    if (r->api_version < 4) {
        resp.error_code = err;
        resp.error_message = sk_str_c(msg);
        resp.node_id = err ? -1 : srv->cfg->node_id;
        resp.host = sk_str_c(err ? "" : srv->adv_host);
        resp.port = err ? -1 : srv->adv_port;
        sk_req_respond(r, &resp);
        return SK_OK;
    }
    if (req->coordinator_keys_count > 0) {
        resp.coordinators = sk_req_array(r, (size_t)req->coordinator_keys_count, sizeof(*resp.coordinators));
        if (!resp.coordinators) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->coordinator_keys_count; i++) {
        sk_FindCoordinatorResponse_Coordinator_t *c = &resp.coordinators[resp.coordinators_count++];
        sk_FindCoordinatorResponse_Coordinator_init(c);
        c->key = req->coordinator_keys[i];
        c->error_code = err;
        c->error_message = sk_str_c(msg);
        c->node_id = err ? -1 : srv->cfg->node_id;
        c->host = sk_str_c(err ? "" : srv->adv_host);
        c->port = err ? -1 : srv->adv_port;
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
