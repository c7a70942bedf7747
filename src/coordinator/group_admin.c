/* coordinator/group_admin.c: the admin views of groups: DescribeGroups (members with
 * metadata and assignment only while Stable, as Kafka does), ListGroups and
 * DeleteGroups (only groups without members; tombstones for the group and all its
 * offsets). Views are copied into the caller's arena, so they outlive later changes. */
#include "coordinator_int.h"

static const char *
arena_str(sk_arena_t *a, const char *s)
{
    if (!s) return NULL;
    return sk_arena_strndup(a, s, strlen(s));
}

static sk_bytes_t
arena_bytes(sk_arena_t *a, const uint8_t *p, int32_t len)
{
    uint8_t *d;
    if (len <= 0) return (sk_bytes_t){(const uint8_t *)"", 0};
    d = sk_arena_alloc(a, (size_t)len);
    if (!d) return (sk_bytes_t){NULL, -1};
    memcpy(d, p, (size_t)len);
    return (sk_bytes_t){d, len};
}

static int
describe_member(const sk_grp_t *g, const grp_member_t *m, sk_arena_t *a, sk_grp_member_desc_t *d)
{
    d->member_id = arena_str(a, m->member_id);
    d->instance_id = arena_str(a, m->instance_id);
    d->client_id = arena_str(a, m->client_id ? m->client_id : "");
    d->client_host = arena_str(a, m->client_host ? m->client_host : "");
    d->metadata = (sk_bytes_t){(const uint8_t *)"", 0};
    d->assignment = (sk_bytes_t){(const uint8_t *)"", 0};
    if (g->state == GRP_STABLE) {
        for (int32_t i = 0; i < m->protocol_count; i++)
            if (g->protocol_name && strcmp(m->protocols[i].name, g->protocol_name) == 0)
                d->metadata = arena_bytes(a, m->protocols[i].metadata, m->protocols[i].metadata_len);
        d->assignment = arena_bytes(a, m->assignment, m->assignment_len);
    }
    if (!d->member_id || !d->client_id || !d->client_host || d->metadata.len < 0 || d->assignment.len < 0)
        return SK_ENOMEM;
    return SK_OK;
}

int
sk_grp_describe(sk_coord_t *c, sk_str_t group_id, sk_arena_t *arena, sk_grp_desc_t *out)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    int32_t i = 0;

    memset(out, 0, sizeof(*out));
    out->state = "Dead";
    out->protocol_type = "";
    out->protocol_name = "";
    if (!g) {
        out->error_code = SK_KERR_GRP_GROUP_ID_NOT_FOUND;
        return SK_OK;
    }
    out->state = grp_state_name(g->state);
    out->protocol_type = arena_str(arena, g->protocol_type ? g->protocol_type : "");
    out->protocol_name = arena_str(arena, g->state == GRP_STABLE && g->protocol_name ? g->protocol_name : "");
    if (!out->protocol_type || !out->protocol_name) return SK_ENOMEM;
    if (g->member_count == 0) return SK_OK;
    out->members = sk_arena_calloc(arena, (size_t)g->member_count, sizeof(*out->members));
    if (!out->members) return SK_ENOMEM;
    for (const grp_member_t *m = g->members; m; m = m->next, i++)
        if (describe_member(g, m, arena, &out->members[i]) != SK_OK) return SK_ENOMEM;
    out->member_count = i;
    return SK_OK;
}

static int
listed_cmp(const void *a, const void *b)
{
    return strcmp(((const sk_grp_listed_t *)a)->group_id, ((const sk_grp_listed_t *)b)->group_id);
}

int
sk_grp_list(sk_coord_t *c, sk_arena_t *arena, sk_grp_listed_t **out, int32_t *count)
{
    sk_map_entry_t *e;
    sk_grp_listed_t *v;
    int32_t n = 0;

    *out = NULL;
    *count = 0;
    if (c->groups.count == 0) return SK_OK;
    v = sk_arena_calloc(arena, c->groups.count, sizeof(*v));
    if (!v) return SK_ENOMEM;
    for (size_t i = 0; sk_map_next(&c->groups, &i, &e);) {
        const sk_grp_t *g = e->value;
        if (g->state == GRP_DEAD) continue;
        v[n].group_id = arena_str(arena, g->group_id);
        v[n].protocol_type = arena_str(arena, g->protocol_type ? g->protocol_type : "");
        v[n].state = grp_state_name(g->state);
        if (!v[n].group_id || !v[n].protocol_type) return SK_ENOMEM;
        n++;
    }
    qsort(v, (size_t)n, sizeof(*v), listed_cmp);
    *out = v;
    *count = n;
    return SK_OK;
}

const char *
sk_grp_state_name_of(sk_coord_t *c, sk_str_t group_id)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    return g ? grp_state_name(g->state) : NULL;
}

int16_t
sk_grp_delete(sk_coord_t *c, sk_str_t group_id)
{
    sk_grp_t *g = coord_group_get(c, group_id);
    sk_map_entry_t *e;
    rec_kv_t *kvs;
    int32_t n = 0;
    int rc = SK_OK;

    if (group_id.len <= 0) return SK_KERR_INVALID_GROUP_ID;
    if (!g || g->state == GRP_DEAD) return SK_KERR_GRP_GROUP_ID_NOT_FOUND;
    if (g->state != GRP_EMPTY) return SK_KERR_GRP_NON_EMPTY_GROUP;
    kvs = calloc(g->offsets.count + 1, sizeof(*kvs));
    if (!kvs) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    for (size_t i = 0; sk_map_next(&g->offsets, &i, &e) && rc == SK_OK; n++) {
        const sk_coord_offset_t *o = e->value;
        sk_wr_init(&kvs[n].key, 0);
        sk_wr_init(&kvs[n].value, 0);
        kvs[n].tombstone = true;
        rc = rec_offset_key(&kvs[n].key, g->group_id, o->topic, o->partition);
    }
    sk_wr_init(&kvs[n].key, 0);
    sk_wr_init(&kvs[n].value, 0);
    kvs[n].tombstone = true;
    if (rc == SK_OK) rc = rec_group_key(&kvs[n].key, g->group_id);
    n++;
    if (rc == SK_OK) rc = rec_append(c, g->partition, kvs, n);
    for (int32_t i = 0; i < n; i++) {
        sk_wr_deinit(&kvs[i].key);
        sk_wr_deinit(&kvs[i].value);
    }
    free(kvs);
    if (rc != SK_OK) return SK_KERR_COORDINATOR_NOT_AVAILABLE;
    SK_INFO("event=group_deleted group=%s", g->group_id);
    grp_set_state(c, g, GRP_DEAD);
    coord_group_remove(c, g);
    return SK_KERR_NONE;
}
