/* replication/replication.h: the public surface of src/replication: partition state
 * (leader epoch, high watermark, the log it leads) and the metadata image (topics, their
 * ids, partitions and config overrides, the cluster id). Today this is the single-node
 * form: this node leads every partition, the ISR is itself, and the image is persisted
 * as a small file in the data dir. The Raft quorum over __cluster_metadata and follower
 * fetching replace the internals later without changing this surface. Uses storage. */
#ifndef SK_REPLICATION_H
#define SK_REPLICATION_H

#include "storage/storage.h"

/* One config override of a topic (name=value), owned strings. */
typedef struct sk_topic_cfg {
    char *name;
    char *value;
} sk_topic_cfg_t;

typedef struct sk_topic sk_topic_t;

typedef struct sk_partition {
    sk_topic_t *topic; /* borrowed: the owning topic */
    int32_t index;
    int32_t leader_id;
    int32_t leader_epoch;
    sk_log_t *log; /* borrowed: owned by the log manager */
} sk_partition_t;

struct sk_topic {
    char *name; /* owned */
    sk_uuid_t id;
    bool internal;
    int16_t replication_factor;
    int32_t partition_count;
    sk_partition_t *partitions; /* owned: partition_count entries */
    sk_topic_cfg_t *configs;    /* owned: config overrides */
    int32_t config_count;
    sk_log_config_t log_cfg;    /* effective log settings (broker defaults + overrides) */
    int8_t compression;         /* compression.type override: SK_TOPIC_CODEC_BROKER (none:
                                 * the broker's), SK_TOPIC_CODEC_PRODUCER, else sk_codec_t */
};
#define SK_TOPIC_CODEC_BROKER (-2)
#define SK_TOPIC_CODEC_PRODUCER (-1)

typedef struct sk_meta sk_meta_t;

typedef struct sk_meta_options {
    int32_t node_id;
    const char *data_dir;          /* where meta.properties and the topic image live */
    sk_logmgr_t *logs;             /* borrowed */
    const sk_log_config_t *log_defaults;
    int64_t max_message_bytes;     /* broker message.max.bytes (topic max.message.bytes default) */
    int64_t retention_ms;          /* broker log.retention.* resolved (-1 = forever) */
    int64_t retention_bytes;       /* broker log.retention.bytes (-1 = no limit) */
} sk_meta_options_t;

/* Open the metadata image: read or create meta.properties (cluster.id, node.id), load
 * the topic image, attach each partition to its log (creating missing logs). */
int sk_meta_open(const sk_meta_options_t *opt, sk_meta_t **out);
void sk_meta_close(sk_meta_t *m);
const char *sk_meta_cluster_id(const sk_meta_t *m);
int32_t sk_meta_node_id(const sk_meta_t *m);
int32_t sk_meta_topic_count(const sk_meta_t *m);

sk_topic_t *sk_meta_topic(const sk_meta_t *m, const char *name, size_t name_len);
sk_topic_t *sk_meta_topic_by_id(const sk_meta_t *m, const sk_uuid_t *id);
sk_partition_t *sk_meta_partition(const sk_meta_t *m, const char *name, size_t name_len, int32_t index);
/* Iterate topics in no particular order: for (size_t it = 0; (t = sk_meta_next(m, &it));) */
sk_topic_t *sk_meta_next(const sk_meta_t *m, size_t *iter);

/* Kafka's topic-name rules: 1-249 chars of [a-zA-Z0-9._-], not "." or "..". */
bool sk_topic_name_valid(const char *name, size_t len);
/* Topic-level config names and validation. Returns SK_OK, SK_ENOENT (unknown name) or
 * SK_EINVAL (bad value); err gets a message. */
int sk_topic_config_check(const char *name, const char *value, char *err, size_t err_len);
/* Effective value of a topic config (override or broker default) as a string;
 * *is_default says whether it came from the defaults. NULL if the name is unknown. */
const char *sk_topic_config_value(const sk_meta_t *m, const sk_topic_t *t, const char *name, bool *is_default,
                                  char *buf, size_t buf_len);
/* Effective delete-retention of a topic: false when cleanup.policy lacks "delete". */
bool sk_topic_retention(const sk_meta_t *m, const sk_topic_t *t, int64_t *retention_ms, int64_t *retention_bytes);
/* max.message.bytes of the topic (override or broker message.max.bytes). */
int64_t sk_topic_max_message_bytes(const sk_meta_t *m, const sk_topic_t *t);
/* The list of topic config names we describe (NULL-terminated). */
extern const char *const sk_topic_config_names[];

/* Create a topic (all partitions led by this node), persist the image. Checks the
 * name, counts and configs; returns SK_EEXIST, SK_EINVAL (message in err). */
int sk_meta_topic_create(sk_meta_t *m, const char *name, int32_t partitions, int16_t replication_factor,
                         const sk_topic_cfg_t *cfgs, int32_t cfg_count, sk_topic_t **out, char *err,
                         size_t err_len);
/* Replace all config overrides of a topic (checked by the caller), apply them to its
 * logs and persist the image. */
int sk_meta_topic_set_configs(sk_meta_t *m, sk_topic_t *t, const sk_topic_cfg_t *cfgs, int32_t cfg_count);
/* Grow a topic to partitions (> current count): new logs, persisted image. */
int sk_meta_topic_add_partitions(sk_meta_t *m, sk_topic_t *t, int32_t partitions);
/* Delete a topic and its logs, persist the image. */
int sk_meta_topic_delete(sk_meta_t *m, sk_topic_t *t);

/* ---- partition state ---- */
/* Append one validated batch as leader; moves the high watermark (single node: every
 * append is fully replicated at once; under the strict setting only as far as the
 * durable offset, see sk_partition_durable_advance). */
int sk_partition_append(sk_partition_t *p, uint8_t *batch, size_t len, int64_t now_ms, sk_append_info_t *info);
int64_t sk_partition_high_watermark(const sk_partition_t *p);
/* The strict durability setting: flush.messages (topic) / log.flush.interval.messages = 1. */
bool sk_partition_strict(const sk_partition_t *p);
/* Strict setting: raise the high watermark to the durable offset (never past the log
 * end); true if it moved. Called when a flush completes. */
bool sk_partition_durable_advance(sk_partition_t *p);
int64_t sk_partition_last_stable_offset(const sk_partition_t *p);

#endif
