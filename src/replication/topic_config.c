/* replication/topic_config.c: Kafka's topic-level configuration names, their defaults
 * (taken from the broker's settings where Kafka derives them) and value checks, and the
 * mapping from overrides to the effective sk_log_config_t of a topic. */
#include "replication_int.h"

#include <errno.h>
#include <inttypes.h>

typedef enum { TC_LONG, TC_INT, TC_BOOL, TC_DOUBLE, TC_ENUM, TC_LIST, TC_STRING } tc_type_t;

typedef struct topic_cfg_def {
    const char *name;
    tc_type_t type;
    int64_t min;
    const char *def; /* default as Kafka shows it; NULL = taken from the broker (see below) */
    const char *choices; /* TC_ENUM / TC_LIST: comma-separated allowed values */
} topic_cfg_def_t;

static const topic_cfg_def_t topic_cfgs[] = {
    {"cleanup.policy", TC_LIST, 0, NULL, "delete,compact"},
    {"compression.type", TC_ENUM, 0, "producer", "uncompressed,zstd,lz4,snappy,gzip,producer"},
    {"delete.retention.ms", TC_LONG, 0, NULL, NULL},
    {"file.delete.delay.ms", TC_LONG, 0, "60000", NULL},
    {"flush.messages", TC_LONG, 1, NULL, NULL},
    {"flush.ms", TC_LONG, 0, NULL, NULL},
    {"index.interval.bytes", TC_INT, 0, NULL, NULL},
    {"max.compaction.lag.ms", TC_LONG, 1, NULL, NULL},
    {"max.message.bytes", TC_INT, 0, NULL, NULL},
    {"message.timestamp.after.max.ms", TC_LONG, 0, "3600000", NULL},
    {"message.timestamp.before.max.ms", TC_LONG, 0, "9223372036854775807", NULL},
    {"message.timestamp.type", TC_ENUM, 0, NULL, "CreateTime,LogAppendTime"},
    {"min.cleanable.dirty.ratio", TC_DOUBLE, 0, NULL, NULL},
    {"min.compaction.lag.ms", TC_LONG, 0, NULL, NULL},
    {"min.insync.replicas", TC_INT, 1, "1", NULL},
    {"preallocate", TC_BOOL, 0, "false", NULL},
    {"retention.bytes", TC_LONG, INT64_MIN, NULL, NULL},
    {"retention.ms", TC_LONG, -1, NULL, NULL},
    {"segment.bytes", TC_INT, 1048576, NULL, NULL}, /* Kafka 4.x: at least 1 MiB */
    {"segment.index.bytes", TC_INT, 4, NULL, NULL},
    {"segment.jitter.ms", TC_LONG, 0, "0", NULL},
    {"segment.ms", TC_LONG, 1, NULL, NULL},
    {"unclean.leader.election.enable", TC_BOOL, 0, "false", NULL},
    {"local.retention.bytes", TC_LONG, -2, "-2", NULL},
    {"local.retention.ms", TC_LONG, -2, "-2", NULL},
    {"remote.storage.enable", TC_BOOL, 0, "false", NULL},
    {"follower.replication.throttled.replicas", TC_STRING, 0, "", NULL},
    {"leader.replication.throttled.replicas", TC_STRING, 0, "", NULL},
};

const char *const sk_topic_config_names[] = {
    "cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms", "flush.messages",
    "flush.ms", "index.interval.bytes", "max.compaction.lag.ms", "max.message.bytes",
    "message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
    "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
    "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms",
    "segment.ms", "unclean.leader.election.enable", "local.retention.bytes", "local.retention.ms",
    "remote.storage.enable", "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas", NULL,
};
_Static_assert(SK_ARRAY_LEN(sk_topic_config_names) == SK_ARRAY_LEN(topic_cfgs) + 1,
               "topic config name list matches the table");

static const topic_cfg_def_t *
cfg_def(const char *name)
{
    for (size_t i = 0; i < SK_ARRAY_LEN(topic_cfgs); i++)
        if (strcmp(topic_cfgs[i].name, name) == 0) return &topic_cfgs[i];
    return NULL;
}

static bool
in_choices(const char *choices, const char *v, size_t len)
{
    const char *p = choices;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == len && strncasecmp(p, v, n) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

int
sk_topic_config_check(const char *name, const char *value, char *err, size_t err_len)
{
    const topic_cfg_def_t *d = cfg_def(name);
    char *end = NULL;

    if (!d) {
        snprintf(err, err_len, "Unknown topic config name: %s", name);
        return SK_ENOENT;
    }
    if (!value || strchr(value, '\n')) goto bad;
    switch (d->type) {
    case TC_LONG:
    case TC_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) goto bad;
        if (v < d->min || (d->type == TC_INT && v > INT32_MAX)) goto bad;
        return SK_OK;
    }
    case TC_DOUBLE: {
        double v = strtod(value, &end);
        if (end == value || *end || v < 0 || v > 1) goto bad;
        return SK_OK;
    }
    case TC_BOOL:
        if (strcasecmp(value, "true") && strcasecmp(value, "false")) goto bad;
        return SK_OK;
    case TC_ENUM:
        if (!in_choices(d->choices, value, strlen(value))) goto bad;
        return SK_OK;
    case TC_LIST: {
        const char *p = value;
        for (;;) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            while (n && *p == ' ') { p++; n--; }
            while (n && p[n - 1] == ' ') n--;
            if (!in_choices(d->choices, p, n)) goto bad;
            if (!e) break;
            p = e + 1;
        }
        return SK_OK;
    }
    case TC_STRING:
        return SK_OK;
    }
bad:
    if ((d->type == TC_LONG || d->type == TC_INT) && value && end && !*end && end != value)
        snprintf(err, err_len, "Invalid value %s for configuration %s: Value must be at least %lld", value, name,
                 (long long)d->min);
    else
        snprintf(err, err_len, "Invalid value %s for configuration %s", value ? value : "null", name);
    return SK_EINVAL;
}

static const char *
override_of(const sk_topic_t *t, const char *name)
{
    for (int32_t i = 0; t && i < t->config_count; i++)
        if (strcmp(t->configs[i].name, name) == 0) return t->configs[i].value;
    return NULL;
}

const char *
sk_topic_config_value(const sk_meta_t *m, const sk_topic_t *t, const char *name, bool *is_default, char *buf,
                      size_t buf_len)
{
    const topic_cfg_def_t *d = cfg_def(name);
    const sk_log_config_t *ld = m->opt.log_defaults;
    const char *v;

    if (!d) return NULL;
    v = override_of(t, name);
    *is_default = v == NULL;
    if (v) return v;
    if (d->def) return d->def;
    /* Defaults Kafka derives from broker settings. */
    if (!strcmp(name, "flush.messages")) snprintf(buf, buf_len, "%" PRId64, ld->flush_interval_messages);
    else if (!strcmp(name, "flush.ms")) snprintf(buf, buf_len, "%" PRId64, ld->flush_interval_ms);
    else if (!strcmp(name, "index.interval.bytes")) snprintf(buf, buf_len, "%d", ld->index_interval_bytes);
    else if (!strcmp(name, "max.message.bytes")) snprintf(buf, buf_len, "%" PRId64, m->opt.max_message_bytes);
    else if (!strcmp(name, "message.timestamp.type"))
        snprintf(buf, buf_len, "%s", ld->log_append_time ? "LogAppendTime" : "CreateTime");
    else if (!strcmp(name, "segment.bytes")) snprintf(buf, buf_len, "%" PRId64, ld->segment_bytes);
    else if (!strcmp(name, "segment.index.bytes")) snprintf(buf, buf_len, "%d", ld->segment_index_bytes);
    else if (!strcmp(name, "segment.ms")) snprintf(buf, buf_len, "%" PRId64, ld->segment_ms);
    else if (!strcmp(name, "retention.ms")) snprintf(buf, buf_len, "%" PRId64, m->opt.retention_ms);
    else if (!strcmp(name, "retention.bytes")) snprintf(buf, buf_len, "%" PRId64, m->opt.retention_bytes);
    else if (!strcmp(name, "cleanup.policy"))
        snprintf(buf, buf_len, "%s", ld->compact ? (ld->cleanup_delete ? "compact,delete" : "compact") : "delete");
    else if (!strcmp(name, "delete.retention.ms")) snprintf(buf, buf_len, "%" PRId64, ld->delete_retention_ms);
    else if (!strcmp(name, "min.compaction.lag.ms")) snprintf(buf, buf_len, "%" PRId64, ld->min_compaction_lag_ms);
    else if (!strcmp(name, "max.compaction.lag.ms")) snprintf(buf, buf_len, "%" PRId64, ld->max_compaction_lag_ms);
    else if (!strcmp(name, "min.cleanable.dirty.ratio")) snprintf(buf, buf_len, "%g", ld->min_cleanable_ratio);
    else return NULL;
    return buf;
}

/* Effective log settings of a topic: broker defaults overlaid with its overrides. */
void
meta_topic_log_config(const sk_meta_t *m, sk_topic_t *t)
{
    const char *v;
    t->log_cfg = *m->opt.log_defaults;
    if ((v = override_of(t, "segment.bytes"))) t->log_cfg.segment_bytes = strtoll(v, NULL, 10);
    if ((v = override_of(t, "segment.ms"))) t->log_cfg.segment_ms = strtoll(v, NULL, 10);
    if ((v = override_of(t, "index.interval.bytes"))) t->log_cfg.index_interval_bytes = (int32_t)strtol(v, NULL, 10);
    if ((v = override_of(t, "segment.index.bytes"))) t->log_cfg.segment_index_bytes = (int32_t)strtol(v, NULL, 10);
    if ((v = override_of(t, "flush.messages"))) t->log_cfg.flush_interval_messages = strtoll(v, NULL, 10);
    if ((v = override_of(t, "flush.ms"))) t->log_cfg.flush_interval_ms = strtoll(v, NULL, 10);
    if ((v = override_of(t, "message.timestamp.type"))) t->log_cfg.log_append_time = !strcasecmp(v, "LogAppendTime");
    /* compaction (storage/cleaner*.c) */
    if ((v = override_of(t, "cleanup.policy"))) {
        t->log_cfg.compact = strcasestr(v, "compact") != NULL;
        t->log_cfg.cleanup_delete = strcasestr(v, "delete") != NULL;
    }
    if ((v = override_of(t, "min.cleanable.dirty.ratio"))) t->log_cfg.min_cleanable_ratio = strtod(v, NULL);
    if ((v = override_of(t, "delete.retention.ms"))) t->log_cfg.delete_retention_ms = strtoll(v, NULL, 10);
    if ((v = override_of(t, "min.compaction.lag.ms"))) t->log_cfg.min_compaction_lag_ms = strtoll(v, NULL, 10);
    if ((v = override_of(t, "max.compaction.lag.ms"))) t->log_cfg.max_compaction_lag_ms = strtoll(v, NULL, 10);
    t->compression = SK_TOPIC_CODEC_BROKER;
    if ((v = override_of(t, "compression.type"))) {
        static const char *const names[] = {"uncompressed", "gzip", "snappy", "lz4", "zstd"}; /* sk_codec_t order */
        t->compression = SK_TOPIC_CODEC_PRODUCER;
        for (int8_t i = 0; i < (int8_t)SK_ARRAY_LEN(names); i++)
            if (!strcasecmp(v, names[i])) t->compression = i;
    }
}

int64_t
sk_topic_max_message_bytes(const sk_meta_t *m, const sk_topic_t *t)
{
    const char *v = override_of(t, "max.message.bytes");
    return v ? strtoll(v, NULL, 10) : m->opt.max_message_bytes;
}

bool
sk_topic_retention(const sk_meta_t *m, const sk_topic_t *t, int64_t *retention_ms, int64_t *retention_bytes)
{
    const char *policy = override_of(t, "cleanup.policy");
    const char *v;
    if (policy ? !strcasestr(policy, "delete") : !m->opt.log_defaults->cleanup_delete) return false;
    v = override_of(t, "retention.ms");
    *retention_ms = v ? strtoll(v, NULL, 10) : m->opt.retention_ms;
    v = override_of(t, "retention.bytes");
    *retention_bytes = v ? strtoll(v, NULL, 10) : m->opt.retention_bytes;
    return true;
}
