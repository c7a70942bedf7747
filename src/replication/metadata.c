/* replication/metadata.c: the single-node metadata image: cluster id and node id in
 * meta.properties (Kafka's format), topics with ids, partition counts and config
 * overrides in <data dir>/skiff-topics (format below), each partition attached to its
 * log. Every change rewrites the image atomically (write temp, fsync, rename).
 *
 * skiff-topics format, one record per line:
 *   version 1
 *   topic <name> <id base64url> <partitions> <replication factor> <internal 0|1>
 *   config <topic name> <key> <value to end of line>
 * Partition directories found on disk but missing from the image (e.g. the image was
 * lost) are adopted: the topic is rebuilt from their partition.metadata ids. */
#include "replication_int.h"

#include <errno.h>
#include <inttypes.h>

#define META_TOPICS_FILE "skiff-topics"
#define META_PROPS_FILE "meta.properties"
#define META_FILE_MAX (64u << 20)

static void
topic_free(sk_topic_t *t)
{
    if (!t) return;
    for (int32_t i = 0; i < t->config_count; i++) {
        free(t->configs[i].name);
        free(t->configs[i].value);
    }
    free(t->configs);
    free(t->partitions);
    free(t->name);
    free(t);
}

static sk_topic_t *
topic_new(const char *name, const sk_uuid_t *id, int32_t partitions, int16_t rf)
{
    sk_topic_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->name = strdup(name);
    t->partitions = calloc((size_t)partitions, sizeof(*t->partitions));
    if (!t->name || !t->partitions) {
        topic_free(t);
        return NULL;
    }
    t->id = *id;
    t->partition_count = partitions;
    t->replication_factor = rf;
    t->internal = name[0] == '_' && name[1] == '_';
    t->compression = SK_TOPIC_CODEC_BROKER;
    return t;
}

static int
topic_add_config(sk_topic_t *t, const char *key, const char *value)
{
    sk_topic_cfg_t *c = realloc(t->configs, (size_t)(t->config_count + 1) * sizeof(*c));
    if (!c) return SK_ENOMEM;
    t->configs = c;
    c[t->config_count].name = strdup(key);
    c[t->config_count].value = strdup(value);
    if (!c[t->config_count].name || !c[t->config_count].value) {
        free(c[t->config_count].name);
        free(c[t->config_count].value);
        return SK_ENOMEM;
    }
    t->config_count++;
    return SK_OK;
}

/* Attach every partition of t to its log, creating logs that do not exist yet. */
static int
topic_attach_logs(sk_meta_t *m, sk_topic_t *t)
{
    meta_topic_log_config(m, t);
    for (int32_t i = 0; i < t->partition_count; i++) {
        sk_partition_t *p = &t->partitions[i];
        p->topic = t;
        p->index = i;
        p->leader_id = m->opt.node_id;
        p->log = sk_logmgr_get(m->opt.logs, t->name, i);
        if (!p->log) {
            int rc = sk_logmgr_create(m->opt.logs, t->name, i, &t->id, &t->log_cfg, &p->log);
            if (rc != SK_OK) return rc;
        } else {
            sk_log_set_config(p->log, &t->log_cfg);
        }
        p->leader_epoch = SK_MAX(0, sk_log_latest_epoch(p->log));
        /* Single node: everything in the log is committed. */
        sk_log_set_high_watermark(p->log, sk_log_end_offset(p->log));
    }
    return SK_OK;
}

static int
meta_index(sk_meta_t *m, sk_topic_t *t)
{
    if (sk_map_put(&m->by_name, t->name, strlen(t->name), t)) return SK_ENOMEM;
    if (sk_map_put(&m->by_id, (const char *)t->id.b, 16, t)) {
        sk_map_del(&m->by_name, t->name, strlen(t->name));
        return SK_ENOMEM;
    }
    return SK_OK;
}

typedef struct text_buf {
    char *buf; /* owned */
    size_t len;
    size_t cap;
    bool failed;
} text_buf_t;

static void
tb_printf(text_buf_t *tb, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        if (tb->failed) return;
        va_start(ap, fmt);
        int n = vsnprintf(tb->buf ? tb->buf + tb->len : NULL, tb->buf ? tb->cap - tb->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            tb->failed = true;
            return;
        }
        if (tb->buf && (size_t)n < tb->cap - tb->len) {
            tb->len += (size_t)n;
            return;
        }
        size_t cap = tb->cap ? tb->cap * 2 : 4096;
        while (cap - tb->len <= (size_t)n) cap *= 2;
        char *nb = realloc(tb->buf, cap);
        if (!nb) {
            tb->failed = true;
            return;
        }
        tb->buf = nb;
        tb->cap = cap;
    }
}

static int
meta_save(sk_meta_t *m)
{
    text_buf_t tb = {0};
    char path[4096], idb[23];
    sk_map_entry_t *e;
    int rc = SK_ENOMEM;

    tb_printf(&tb, "version 1\n");
    for (size_t it = 0; sk_map_next(&m->by_name, &it, &e);) {
        sk_topic_t *t = e->value;
        sk_uuid_to_base64(&t->id, idb);
        tb_printf(&tb, "topic %s %s %d %d %d\n", t->name, idb, t->partition_count, t->replication_factor,
                  t->internal ? 1 : 0);
        for (int32_t i = 0; i < t->config_count; i++)
            tb_printf(&tb, "config %s %s %s\n", t->name, t->configs[i].name, t->configs[i].value);
    }
    if (!tb.failed) {
        snprintf(path, sizeof(path), "%s/%s", m->data_dir, META_TOPICS_FILE);
        rc = sk_write_file_atomic(path, tb.buf, tb.len, true);
        if (rc != SK_OK) SK_ERROR("event=meta_save_failed path=%s errno=%d", path, errno);
    }
    free(tb.buf);
    return rc;
}

static int
meta_load_line(sk_meta_t *m, char *line)
{
    char name[256], idb[64], key[256];
    int parts, rf, internal, n = 0;
    sk_uuid_t id;

    if (!strncmp(line, "version ", 8)) return strcmp(line, "version 1") ? SK_ECORRUPT : SK_OK;
    if (sscanf(line, "topic %255s %63s %d %d %d", name, idb, &parts, &rf, &internal) == 5) {
        if (!sk_topic_name_valid(name, strlen(name)) || parts <= 0 || sk_uuid_from_base64(idb, &id))
            return SK_ECORRUPT;
        sk_topic_t *t = topic_new(name, &id, parts, (int16_t)rf);
        if (!t) return SK_ENOMEM;
        if (meta_index(m, t)) {
            topic_free(t);
            return SK_ENOMEM;
        }
        return SK_OK;
    }
    if (sscanf(line, "config %255s %255s %n", name, key, &n) == 2 && n > 0) {
        sk_topic_t *t = sk_meta_topic(m, name, strlen(name));
        if (!t) return SK_ECORRUPT;
        return topic_add_config(t, key, line + n);
    }
    return line[0] ? SK_ECORRUPT : SK_OK;
}

static int
meta_load(sk_meta_t *m)
{
    char path[4096], *buf = NULL, *save = NULL;
    size_t len;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", m->data_dir, META_TOPICS_FILE);
    rc = sk_read_file(path, META_FILE_MAX, &buf, &len);
    if (rc == SK_ENOENT) return SK_OK;
    if (rc != SK_OK) return rc;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        rc = meta_load_line(m, line);
        if (rc != SK_OK) {
            SK_ERROR("event=meta_load_failed path=%s line=\"%.80s\"", path, line);
            break;
        }
    }
    free(buf);
    return rc;
}

/* Adopt logs on disk that the image does not know (partition count = highest index+1). */
static void
meta_adopt_log(void *ctx, sk_log_t *log)
{
    sk_meta_t *m = ctx;
    const char *name = sk_log_topic(log);
    sk_topic_t *t = sk_meta_topic(m, name, strlen(name));
    int32_t want = sk_log_partition(log) + 1;

    if (t && t->partition_count >= want) return;
    if (t) {
        sk_partition_t *p = realloc(t->partitions, (size_t)want * sizeof(*p));
        if (!p) return;
        memset(p + t->partition_count, 0, (size_t)(want - t->partition_count) * sizeof(*p));
        t->partitions = p;
        t->partition_count = want;
    } else {
        t = topic_new(name, sk_log_topic_id(log), want, 1);
        if (!t || meta_index(m, t)) {
            topic_free(t);
            return;
        }
    }
    SK_WARN("event=meta_adopt topic=%s partitions=%d", name, want);
}

static int
meta_props(sk_meta_t *m)
{
    char path[4096], *buf = NULL, *p;
    size_t len;
    sk_uuid_t u;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", m->data_dir, META_PROPS_FILE);
    rc = sk_read_file(path, 1 << 20, &buf, &len);
    if (rc == SK_OK) {
        p = strstr(buf, "cluster.id=");
        if (p && sscanf(p, "cluster.id=%22s", m->cluster_id) == 1 && strlen(m->cluster_id) == 22) {
            free(buf);
            return SK_OK;
        }
        free(buf);
        SK_ERROR("event=meta_properties_invalid path=%s", path);
        return SK_ECORRUPT;
    }
    if (rc != SK_ENOENT) return rc;
    sk_uuid_random(&u);
    sk_uuid_to_base64(&u, m->cluster_id);
    char dirid[23], text[512];
    sk_uuid_random(&u);
    sk_uuid_to_base64(&u, dirid);
    int n = snprintf(text, sizeof(text), "#\n#Written by skiffd\ncluster.id=%s\ndirectory.id=%s\nnode.id=%d\nversion=1\n",
                     m->cluster_id, dirid, m->opt.node_id);
    return sk_write_file_atomic(path, text, (size_t)n, true);
}

int
sk_meta_open(const sk_meta_options_t *opt, sk_meta_t **out)
{
    sk_meta_t *m = calloc(1, sizeof(*m));
    sk_map_entry_t *e;
    int rc = SK_ENOMEM;

    if (!m) return SK_ENOMEM;
    m->opt = *opt;
    m->data_dir = strdup(opt->data_dir);
    sk_map_init(&m->by_name);
    sk_map_init(&m->by_id);
    if (!m->data_dir) goto fail;
    if ((rc = meta_props(m)) != SK_OK) goto fail;
    if ((rc = meta_load(m)) != SK_OK) goto fail;
    size_t before = m->by_name.count;
    sk_logmgr_foreach(opt->logs, meta_adopt_log, m);
    for (size_t it = 0; sk_map_next(&m->by_name, &it, &e);)
        if ((rc = topic_attach_logs(m, e->value)) != SK_OK) goto fail;
    if (m->by_name.count != before && (rc = meta_save(m)) != SK_OK) goto fail;
    SK_INFO("event=meta_open cluster_id=%s node_id=%d topics=%zu", m->cluster_id, opt->node_id, m->by_name.count);
    *out = m;
    return SK_OK;
fail:
    sk_meta_close(m);
    return rc;
}

void
sk_meta_close(sk_meta_t *m)
{
    sk_map_entry_t *e;
    if (!m) return;
    for (size_t it = 0; sk_map_next(&m->by_name, &it, &e);) topic_free(e->value);
    sk_map_deinit(&m->by_name);
    sk_map_deinit(&m->by_id);
    free(m->data_dir);
    free(m);
}

const char *sk_meta_cluster_id(const sk_meta_t *m) { return m->cluster_id; }
int32_t sk_meta_node_id(const sk_meta_t *m) { return m->opt.node_id; }
int32_t sk_meta_topic_count(const sk_meta_t *m) { return (int32_t)m->by_name.count; }

sk_topic_t *
sk_meta_topic(const sk_meta_t *m, const char *name, size_t name_len)
{
    return sk_map_get(&m->by_name, name, name_len);
}

sk_topic_t *
sk_meta_topic_by_id(const sk_meta_t *m, const sk_uuid_t *id)
{
    return sk_map_get(&m->by_id, (const char *)id->b, 16);
}

sk_partition_t *
sk_meta_partition(const sk_meta_t *m, const char *name, size_t name_len, int32_t index)
{
    sk_topic_t *t = sk_meta_topic(m, name, name_len);
    if (!t || index < 0 || index >= t->partition_count) return NULL;
    return &t->partitions[index];
}

sk_topic_t *
sk_meta_next(const sk_meta_t *m, size_t *iter)
{
    sk_map_entry_t *e;
    return sk_map_next(&m->by_name, iter, &e) ? e->value : NULL;
}

bool
sk_topic_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > 249) return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int
sk_meta_topic_create(sk_meta_t *m, const char *name, int32_t partitions, int16_t replication_factor,
                     const sk_topic_cfg_t *cfgs, int32_t cfg_count, sk_topic_t **out, char *err, size_t err_len)
{
    sk_uuid_t id;
    sk_topic_t *t;
    int rc;

    SK_ASSERT(sk_topic_name_valid(name, strlen(name)));
    SK_ASSERT(partitions > 0);
    if (sk_meta_topic(m, name, strlen(name))) {
        snprintf(err, err_len, "Topic '%s' already exists.", name);
        return SK_EEXIST;
    }
    do sk_uuid_random(&id);
    while (sk_meta_topic_by_id(m, &id));
    t = topic_new(name, &id, partitions, replication_factor);
    if (!t) return SK_ENOMEM;
    for (int32_t i = 0; i < cfg_count; i++) {
        if ((rc = topic_add_config(t, cfgs[i].name, cfgs[i].value)) != SK_OK) goto fail;
    }
    if ((rc = meta_index(m, t)) != SK_OK) goto fail;
    rc = topic_attach_logs(m, t);
    if (rc == SK_OK) rc = meta_save(m);
    if (rc != SK_OK) {
        snprintf(err, err_len, "Could not create the logs of '%s': %s", name, sk_strerror(rc));
        sk_meta_topic_delete(m, t);
        return rc;
    }
    SK_INFO("event=topic_create topic=%s partitions=%d", name, partitions);
    *out = t;
    return SK_OK;
fail:
    topic_free(t);
    return rc;
}

int
sk_meta_topic_delete(sk_meta_t *m, sk_topic_t *t)
{
    int rc = SK_OK;
    SK_ASSERT(sk_meta_topic(m, t->name, strlen(t->name)) == t);
    sk_map_del(&m->by_name, t->name, strlen(t->name));
    sk_map_del(&m->by_id, (const char *)t->id.b, 16);
    for (int32_t i = 0; i < t->partition_count; i++) {
        if (!t->partitions[i].log) continue;
        int r = sk_logmgr_delete(m->opt.logs, t->name, i);
        if (r != SK_OK && rc == SK_OK) rc = r;
    }
    SK_INFO("event=topic_delete topic=%s", t->name);
    topic_free(t);
    int r = meta_save(m);
    return rc != SK_OK ? rc : r;
}

int
sk_meta_topic_set_configs(sk_meta_t *m, sk_topic_t *t, const sk_topic_cfg_t *cfgs, int32_t cfg_count)
{
    sk_topic_cfg_t *old = t->configs;
    int32_t old_count = t->config_count;
    int rc = SK_OK;

    t->configs = NULL;
    t->config_count = 0;
    for (int32_t i = 0; i < cfg_count && rc == SK_OK; i++) rc = topic_add_config(t, cfgs[i].name, cfgs[i].value);
    if (rc != SK_OK) { /* keep the old overrides */
        for (int32_t i = 0; i < t->config_count; i++) {
            free(t->configs[i].name);
            free(t->configs[i].value);
        }
        free(t->configs);
        t->configs = old;
        t->config_count = old_count;
        return rc;
    }
    for (int32_t i = 0; i < old_count; i++) {
        free(old[i].name);
        free(old[i].value);
    }
    free(old);
    meta_topic_log_config(m, t);
    for (int32_t i = 0; i < t->partition_count; i++) sk_log_set_config(t->partitions[i].log, &t->log_cfg);
    SK_INFO("event=topic_configs topic=%s overrides=%d", t->name, t->config_count);
    return meta_save(m);
}

int
sk_meta_topic_add_partitions(sk_meta_t *m, sk_topic_t *t, int32_t partitions)
{
    sk_partition_t *p;
    int32_t old = t->partition_count;
    int rc;

    SK_ASSERT(partitions > old);
    p = realloc(t->partitions, (size_t)partitions * sizeof(*p));
    if (!p) return SK_ENOMEM;
    memset(p + old, 0, (size_t)(partitions - old) * sizeof(*p));
    t->partitions = p;
    t->partition_count = partitions;
    /* realloc may have moved the array: re-point every partition at its topic. */
    rc = topic_attach_logs(m, t);
    if (rc == SK_OK) rc = meta_save(m);
    SK_INFO("event=topic_partitions topic=%s from=%d to=%d rc=%s", t->name, old, partitions, sk_strerror(rc));
    return rc;
}
