/* broker/h_group.c: the classic group APIs: JoinGroup (v0-9), SyncGroup (v0-5),
 * Heartbeat (v0-4), LeaveGroup (v0-5), DescribeGroups (v0-6), ListGroups (v0-5) and
 * DeleteGroups (v0-2). Handlers translate between the generated structs and the
 * coordinator (src/coordinator), which owns every rule of the state machine.
 *
 * JoinGroup and SyncGroup may wait for other members. The coordinator then calls back
 * later with a grp_wait_t as context; the request might be gone by then (its connection
 * closed), so the callback first looks the request up by connection id, pointer and
 * correlation id among the live connections and answers only if it is still there.
 * The coordinator runs every callback exactly once, so the wait is freed there. */
#include "broker_int.h"

#include <strings.h>

#define GROUP_OPS_ALL 328 /* READ, DELETE, DESCRIBE */

typedef struct grp_wait {
    sk_server_t *srv;  /* borrowed */
    uint64_t conn_id;
    sk_req_t *req;     /* borrowed; valid only if grp_wait_req finds it */
    int32_t correlation_id;
    int16_t api_key;
} grp_wait_t;

static grp_wait_t *
grp_wait_new(sk_req_t *r)
{
    grp_wait_t *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->srv = sk_req_server(r);
    w->conn_id = r->conn->id;
    w->req = r;
    w->correlation_id = r->correlation_id;
    w->api_key = r->api_key;
    return w;
}

/* The parked request if its connection is still open, else NULL. Frees nothing. */
static sk_req_t *
grp_wait_req(const grp_wait_t *w)
{
    for (sk_conn_t *c = w->srv->conns; c; c = c->next) {
        if (c->id != w->conn_id) continue;
        for (sk_req_t *r = c->head; r; r = r->next)
            if (r == w->req && !r->done && r->correlation_id == w->correlation_id && r->api_key == w->api_key)
                return r;
        return NULL;
    }
    return NULL;
}

/* Strings that are not nullable before some version: null becomes "". */
static sk_str_t
str_or_empty(const char *s, bool nullable)
{
    if (!s) return nullable ? SK_STR_NULL : sk_str_c("");
    return sk_str_c(s);
}

/* ---- JoinGroup ---- */

static void
join_done(void *ctx, const sk_grp_join_result_t *res)
{
    grp_wait_t *w = ctx;
    sk_req_t *r = grp_wait_req(w);
    sk_JoinGroupResponse_t resp;

    free(w);
    if (!r) return;
    sk_JoinGroupResponse_init(&resp);
    resp.error_code = res->error_code;
    resp.generation_id = res->generation_id;
    resp.protocol_type = str_or_empty(res->protocol_type, true);
    resp.protocol_name = str_or_empty(res->protocol_name, r->api_version >= 7);
    resp.leader = str_or_empty(res->leader_id, false);
    resp.member_id = str_or_empty(res->member_id, false);
    resp.skip_assignment = res->skip_assignment;
    if (res->member_count > 0) {
        resp.members = sk_req_array(r, (size_t)res->member_count, sizeof(*resp.members));
        if (!resp.members) {
            sk_req_fail_close(r, "out of memory building JoinGroup response");
            return;
        }
        for (int32_t i = 0; i < res->member_count; i++) {
            sk_JoinGroupResponse_JoinGroupResponseMember_t *m = &resp.members[i];
            sk_JoinGroupResponse_JoinGroupResponseMember_init(m);
            m->member_id = sk_str_c(res->members[i].member_id);
            m->group_instance_id = str_or_empty(res->members[i].instance_id, true);
            m->metadata = res->members[i].metadata;
        }
        resp.members_count = res->member_count;
    }
    sk_req_respond(r, &resp);
}

/* Kafka reports client hosts as InetAddress.toString(): "/<address>". */
static sk_str_t
client_host(sk_req_t *r)
{
    char *h = sk_req_alloc(r, sizeof(r->conn->peer) + 2);
    if (!h) return sk_str_c("");
    snprintf(h, sizeof(r->conn->peer) + 2, "/%s", r->conn->peer);
    return sk_str_c(h);
}

int
sk_h_join_group(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_JoinGroupRequest_t *req = sk_req_decode(r);
    sk_grp_join_args_t a = {0};
    sk_grp_protocol_t *protos = NULL;
    grp_wait_t *w;

    if (!req) return SK_ECORRUPT;
    if (req->protocols_count > 0) {
        protos = sk_req_array(r, (size_t)req->protocols_count, sizeof(*protos));
        if (!protos) return SK_ENOMEM;
        for (int32_t i = 0; i < req->protocols_count; i++)
            protos[i] = (sk_grp_protocol_t){req->protocols[i].name, req->protocols[i].metadata};
    }
    a.version = r->api_version;
    a.group_id = req->group_id;
    a.member_id = req->member_id;
    a.instance_id = req->group_instance_id;
    a.protocol_type = req->protocol_type;
    a.client_id = r->client_id.len >= 0 ? r->client_id : sk_str_c("");
    a.client_host = client_host(r);
    a.session_timeout_ms = req->session_timeout_ms;
    a.rebalance_timeout_ms = req->rebalance_timeout_ms < 0 ? req->session_timeout_ms : req->rebalance_timeout_ms;
    a.protocols = protos;
    a.protocol_count = SK_MAX(req->protocols_count, 0);
    if (!(w = grp_wait_new(r))) return SK_ENOMEM;
    sk_grp_join(srv->coord, &a, join_done, w);
    return SK_OK;
}

/* ---- SyncGroup ---- */

static void
sync_done(void *ctx, const sk_grp_sync_result_t *res)
{
    grp_wait_t *w = ctx;
    sk_req_t *r = grp_wait_req(w);
    sk_SyncGroupResponse_t resp;

    free(w);
    if (!r) return;
    sk_SyncGroupResponse_init(&resp);
    resp.error_code = res->error_code;
    resp.protocol_type = str_or_empty(res->protocol_type, true);
    resp.protocol_name = str_or_empty(res->protocol_name, true);
    resp.assignment = res->assignment.len > 0 ? res->assignment : (sk_bytes_t){(const uint8_t *)"", 0};
    sk_req_respond(r, &resp);
}

int
sk_h_sync_group(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_SyncGroupRequest_t *req = sk_req_decode(r);
    sk_grp_sync_args_t a = {0};
    sk_grp_assignment_t *as = NULL;
    grp_wait_t *w;

    if (!req) return SK_ECORRUPT;
    if (req->assignments_count > 0) {
        as = sk_req_array(r, (size_t)req->assignments_count, sizeof(*as));
        if (!as) return SK_ENOMEM;
        for (int32_t i = 0; i < req->assignments_count; i++)
            as[i] = (sk_grp_assignment_t){req->assignments[i].member_id, req->assignments[i].assignment};
    }
    a.group_id = req->group_id;
    a.generation_id = req->generation_id;
    a.member_id = req->member_id;
    a.instance_id = req->group_instance_id;
    a.protocol_type = req->protocol_type;
    a.protocol_name = req->protocol_name;
    a.assignments = as;
    a.assignment_count = SK_MAX(req->assignments_count, 0);
    if (!(w = grp_wait_new(r))) return SK_ENOMEM;
    sk_grp_sync(srv->coord, &a, sync_done, w);
    return SK_OK;
}

/* ---- Heartbeat ---- */

int
sk_h_heartbeat(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_HeartbeatRequest_t *req = sk_req_decode(r);
    sk_HeartbeatResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_HeartbeatResponse_init(&resp);
    resp.error_code =
        sk_grp_heartbeat(srv->coord, req->group_id, req->generation_id, req->member_id, req->group_instance_id);
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- LeaveGroup ---- */

int
sk_h_leave_group(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_LeaveGroupRequest_t *req = sk_req_decode(r);
    sk_LeaveGroupResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_LeaveGroupResponse_init(&resp);
    if (r->api_version < 3) {
        resp.error_code = sk_grp_leave(srv->coord, req->group_id, req->member_id, SK_STR_NULL);
        sk_req_respond(r, &resp);
        return SK_OK;
    }
    resp.error_code = sk_grp_leave_check(srv->coord, req->group_id);
    if (resp.error_code == SK_KERR_NONE && req->members_count > 0) {
        resp.members = sk_req_array(r, (size_t)req->members_count, sizeof(*resp.members));
        if (!resp.members) return SK_ENOMEM;
        for (int32_t i = 0; i < req->members_count; i++) {
            const sk_LeaveGroupRequest_MemberIdentity_t *mi = &req->members[i];
            sk_LeaveGroupResponse_MemberResponse_t *mr = &resp.members[resp.members_count++];
            sk_LeaveGroupResponse_MemberResponse_init(mr);
            mr->member_id = mi->member_id;
            mr->group_instance_id = mi->group_instance_id;
            mr->error_code = sk_grp_leave(srv->coord, req->group_id, mi->member_id, mi->group_instance_id);
        }
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- DescribeGroups ---- */

static int
describe_one(sk_req_t *r, const sk_DescribeGroupsRequest_t *req, sk_str_t id,
             sk_DescribeGroupsResponse_DescribedGroup_t *out)
{
    sk_server_t *srv = sk_req_server(r);
    sk_grp_desc_t d;
    int rc;

    sk_DescribeGroupsResponse_DescribedGroup_init(out);
    out->group_id = id;
    if (req->include_authorized_operations) out->authorized_operations = GROUP_OPS_ALL;
    if (id.len <= 0) {
        out->error_code = SK_KERR_INVALID_GROUP_ID;
        return SK_OK;
    }
    if ((rc = sk_grp_describe(srv->coord, id, &r->arena, &d)) != SK_OK) return rc;
    out->group_state = sk_str_c(d.state);
    out->protocol_type = sk_str_c(d.protocol_type);
    out->protocol_data = sk_str_c(d.protocol_name);
    if (d.error_code == SK_KERR_GRP_GROUP_ID_NOT_FOUND) {
        /* Before v6 an unknown group is an empty Dead group without error. */
        if (r->api_version >= 6) {
            out->error_code = d.error_code;
            out->error_message = sk_str_c("Group does not exist");
        }
        return SK_OK;
    }
    if (d.member_count > 0) {
        out->members = sk_req_array(r, (size_t)d.member_count, sizeof(*out->members));
        if (!out->members) return SK_ENOMEM;
        out->members_count = d.member_count;
    }
    for (int32_t i = 0; i < d.member_count; i++) {
        sk_DescribeGroupsResponse_DescribedGroupMember_t *m = &out->members[i];
        sk_DescribeGroupsResponse_DescribedGroupMember_init(m);
        m->member_id = sk_str_c(d.members[i].member_id);
        m->group_instance_id = str_or_empty(d.members[i].instance_id, true);
        m->client_id = sk_str_c(d.members[i].client_id);
        m->client_host = sk_str_c(d.members[i].client_host);
        m->member_metadata = d.members[i].metadata;
        m->member_assignment = d.members[i].assignment;
    }
    return SK_OK;
}

int
sk_h_describe_groups(sk_req_t *r)
{
    sk_DescribeGroupsRequest_t *req = sk_req_decode(r);
    sk_DescribeGroupsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_DescribeGroupsResponse_init(&resp);
    if (req->groups_count > 0) {
        resp.groups = sk_req_array(r, (size_t)req->groups_count, sizeof(*resp.groups));
        if (!resp.groups) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->groups_count; i++)
        if (describe_one(r, req, req->groups[i], &resp.groups[resp.groups_count++]) != SK_OK) return SK_ENOMEM;
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- ListGroups ---- */

static bool
filter_match(const sk_str_t *filter, int32_t count, const char *value)
{
    size_t n = strlen(value);
    if (count <= 0) return true;
    for (int32_t i = 0; i < count; i++)
        if (filter[i].len >= 0 && (size_t)filter[i].len == n && strncasecmp(filter[i].ptr, value, n) == 0) return true;
    return false;
}

int
sk_h_list_groups(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_ListGroupsRequest_t *req = sk_req_decode(r);
    sk_ListGroupsResponse_t resp;
    sk_grp_listed_t *gl;
    int32_t n;

    if (!req) return SK_ECORRUPT;
    sk_ListGroupsResponse_init(&resp);
    if (sk_grp_list(srv->coord, &r->arena, &gl, &n) != SK_OK) return SK_ENOMEM;
    if (n > 0) {
        resp.groups = sk_req_array(r, (size_t)n, sizeof(*resp.groups));
        if (!resp.groups) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        sk_ListGroupsResponse_ListedGroup_t *g;
        if (!filter_match(req->states_filter, req->states_filter_count, gl[i].state) ||
            !filter_match(req->types_filter, req->types_filter_count, "classic"))
            continue;
        g = &resp.groups[resp.groups_count++];
        sk_ListGroupsResponse_ListedGroup_init(g);
        g->group_id = sk_str_c(gl[i].group_id);
        g->protocol_type = sk_str_c(gl[i].protocol_type);
        g->group_state = sk_str_c(gl[i].state);
        g->group_type = sk_str_c("classic");
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}

/* ---- DeleteGroups ---- */

int
sk_h_delete_groups(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_DeleteGroupsRequest_t *req = sk_req_decode(r);
    sk_DeleteGroupsResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_DeleteGroupsResponse_init(&resp);
    if (req->groups_names_count > 0) {
        resp.results = sk_req_array(r, (size_t)req->groups_names_count, sizeof(*resp.results));
        if (!resp.results) return SK_ENOMEM;
    }
    for (int32_t i = 0; i < req->groups_names_count; i++) {
        sk_DeleteGroupsResponse_DeletableGroupResult_t *res = &resp.results[resp.results_count++];
        sk_DeleteGroupsResponse_DeletableGroupResult_init(res);
        res->group_id = req->groups_names[i];
        res->error_code = sk_grp_delete(srv->coord, req->groups_names[i]);
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
