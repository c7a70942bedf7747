/* broker/config.h: skiffd's static configuration (private to src/broker). Kafka's key
 * names, types, ranges and defaults, held in one const table in config.c; this struct
 * has one typed field per key plus values derived by sk_config_finish(). Sources, in the
 * order they are applied: built-in defaults, a Java-properties file, --override options.
 * Invariants after a successful sk_config_finish(): listener_count in 1..SK_LISTENERS_MAX,
 * advertised_listener_count >= 1 with no wildcard host, log_dir_count >= 1, every listener
 * uses a supported security protocol, the *_ms values below are resolved. Not
 * thread-safe: filled once at start-up, read-only afterwards. Keys: docs/configuration.md.
 *
 * Fields (Kafka key -> field; "derived" = computed by sk_config_finish):
 *   listeners                          listeners_str; derived listeners[listener_count]
 *   advertised.listeners               advertised_listeners_str; derived advertised_listeners[]
 *   listener.security.protocol.map     listener_security_protocol_map
 *   controller.listener.names          controller_listener_names
 *   inter.broker.listener.name         inter_broker_listener_name
 *   node.id / broker.id (alias)        node_id / broker_id; node_id is the effective id
 *   process.roles                      process_roles_str; derived process_roles_broker/_controller
 *   controller.quorum.voters           controller_quorum_voters
 *   log.dirs / log.dir                 log_dirs_str / log_dir_str; derived log_dirs[log_dir_count]
 *   num.partitions                     num_partitions
 *   auto.create.topics.enable          auto_create_topics_enable
 *   default.replication.factor         default_replication_factor
 *   delete.topic.enable                delete_topic_enable
 *   min.insync.replicas                min_insync_replicas
 *   log.segment.bytes                  log_segment_bytes
 *   log.roll.ms / log.roll.hours       log_roll_ms (derived when unset) / log_roll_hours
 *   log.index.interval.bytes           log_index_interval_bytes
 *   log.index.size.max.bytes           log_index_size_max_bytes
 *   message.max.bytes                  message_max_bytes
 *   log.flush.interval.messages        log_flush_interval_messages
 *   log.flush.interval.ms              log_flush_interval_ms (derived; -1 = never)
 *   log.flush.scheduler.interval.ms    log_flush_scheduler_interval_ms
 *   log.flush.offset.checkpoint.interval.ms  log_flush_offset_checkpoint_interval_ms
 *   log.retention.ms/minutes/hours     log_retention_ms (derived; -1 = unlimited),
 *                                      log_retention_minutes, log_retention_hours
 *   log.retention.bytes                log_retention_bytes
 *   log.retention.check.interval.ms    log_retention_check_interval_ms
 *   log.cleanup.policy                 log_cleanup_policy
 *   log.cleaner.enable                 log_cleaner_enable
 *   log.cleaner.min.cleanable.ratio    log_cleaner_min_cleanable_ratio
 *   log.cleaner.threads                log_cleaner_threads
 *   log.cleaner.backoff.ms             log_cleaner_backoff_ms
 *   log.cleaner.delete.retention.ms    log_cleaner_delete_retention_ms
 *   log.cleaner.min.compaction.lag.ms  log_cleaner_min_compaction_lag_ms
 *   log.cleaner.max.compaction.lag.ms  log_cleaner_max_compaction_lag_ms
 *   log.cleaner.dedupe.buffer.size     log_cleaner_dedupe_buffer_size
 *   log.cleaner.io.buffer.size         log_cleaner_io_buffer_size
 *   log.message.timestamp.type         log_message_timestamp_type (enum);
 *                                      derived log_message_timestamp_type_append
 *   compression.type                   compression_type (enum SK_CONFIG_COMPRESSION_*)
 *   socket.request.max.bytes           socket_request_max_bytes
 *   socket.send.buffer.bytes           socket_send_buffer_bytes
 *   socket.receive.buffer.bytes        socket_receive_buffer_bytes
 *   queued.max.requests                queued_max_requests
 *   max.connections                    max_connections
 *   connections.max.idle.ms            connections_max_idle_ms
 *   num.network.threads                num_network_threads
 *   num.io.threads                     num_io_threads
 *   offsets.topic.num.partitions       offsets_topic_num_partitions
 *   offsets.topic.replication.factor   offsets_topic_replication_factor
 *   offsets.topic.segment.bytes        offsets_topic_segment_bytes
 *   offsets.retention.minutes          offsets_retention_minutes
 *   group.initial.rebalance.delay.ms   group_initial_rebalance_delay_ms
 *   group.min.session.timeout.ms       group_min_session_timeout_ms
 *   group.max.session.timeout.ms       group_max_session_timeout_ms
 *   transaction.state.log.num.partitions      transaction_state_log_num_partitions
 *   transaction.state.log.replication.factor  transaction_state_log_replication_factor
 *   transaction.state.log.min.isr             transaction_state_log_min_isr
 *   transaction.state.log.segment.bytes       transaction_state_log_segment_bytes
 *   transaction.max.timeout.ms                transaction_max_timeout_ms
 *   transaction.abort.timed.out.transaction.cleanup.interval.ms  transaction_abort_timed_out_interval_ms
 *   transactional.id.expiration.ms            transactional_id_expiration_ms
 *   transaction.remove.expired.transaction.cleanup.interval.ms  transaction_remove_expired_interval_ms
 *   skiff.request.arena.max.bytes             request_arena_max_bytes
 *   skiff.connection.write.queue.max.bytes    connection_write_queue_max_bytes
 *   skiff.fetch.max.wait.cap.ms               fetch_max_wait_cap_ms
 *   skiff.log.writeback.bytes                 log_writeback_bytes
 */
#ifndef SK_BROKER_CONFIG_H
#define SK_BROKER_CONFIG_H

#include "common/common.h"

#define SK_LISTENERS_MAX 8        /* the server has this many listening sockets */
#define SK_CONFIG_KEYS_MAX 96     /* capacity of sk_config_t.source; >= the table size */
#define SK_LOG_DIRS_MAX 64

typedef enum {
    SK_SECPROTO_PLAINTEXT = 0,
    SK_SECPROTO_SSL,
    SK_SECPROTO_SASL_PLAINTEXT,
    SK_SECPROTO_SASL_SSL,
} sk_secproto_t;

/* compression.type, in the table's order */
enum {
    SK_CONFIG_COMPRESSION_PRODUCER = 0,
    SK_CONFIG_COMPRESSION_UNCOMPRESSED,
    SK_CONFIG_COMPRESSION_GZIP,
    SK_CONFIG_COMPRESSION_SNAPPY,
    SK_CONFIG_COMPRESSION_LZ4,
    SK_CONFIG_COMPRESSION_ZSTD,
};
/* log.message.timestamp.type, in the table's order */
enum { SK_CONFIG_TS_CREATE_TIME = 0, SK_CONFIG_TS_LOG_APPEND_TIME };

/* Where a key's current value came from (for DescribeConfigs and diagnostics). */
typedef enum {
    SK_CONFIG_SRC_DEFAULT = 0,
    SK_CONFIG_SRC_FILE,
    SK_CONFIG_SRC_OVERRIDE, /* --override or a direct sk_config_set() */
} sk_config_src_t;

typedef struct sk_listener {
    char *name;             /* owned: upper case, e.g. "PLAINTEXT" */
    char *host;             /* owned: "" = all interfaces; IPv6 without brackets */
    int32_t port;           /* 0..65535; 0 = any free port */
    sk_secproto_t protocol; /* from listener.security.protocol.map (set by finish) */
} sk_listener_t;

typedef struct sk_config {
    /* ---- listeners and identity ---- */
    char *listeners_str;                 /* owned* (see below) */
    char *advertised_listeners_str;      /* owned*; NULL = derive from listeners */
    char *listener_security_protocol_map; /* owned* */
    char *controller_listener_names;     /* owned*; NULL = none */
    char *inter_broker_listener_name;    /* owned*; NULL = none */
    int32_t node_id;
    int32_t broker_id;                   /* alias; copied into node_id by finish */
    char *process_roles_str;             /* owned* */
    char *controller_quorum_voters;      /* owned* */
    /* ---- logs ---- */
    char *log_dirs_str;                  /* owned*; NULL = use log.dir */
    char *log_dir_str;                   /* owned* */
    int32_t num_partitions;
    bool auto_create_topics_enable;
    int32_t default_replication_factor;
    bool delete_topic_enable;
    int32_t min_insync_replicas;
    int32_t log_segment_bytes;
    int64_t log_roll_ms;
    int32_t log_roll_hours;
    int32_t log_index_interval_bytes;
    int32_t log_index_size_max_bytes;
    int32_t message_max_bytes;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms;
    int64_t log_flush_scheduler_interval_ms;
    int32_t log_flush_offset_checkpoint_interval_ms;
    int64_t log_retention_ms;
    int32_t log_retention_minutes;
    int32_t log_retention_hours;
    int64_t log_retention_bytes;
    int64_t log_retention_check_interval_ms;
    char *log_cleanup_policy;            /* owned* */
    bool log_cleaner_enable;
    double log_cleaner_min_cleanable_ratio;
    int32_t log_cleaner_threads;
    int64_t log_cleaner_backoff_ms;
    int64_t log_cleaner_delete_retention_ms;
    int64_t log_cleaner_min_compaction_lag_ms;
    int64_t log_cleaner_max_compaction_lag_ms;
    int64_t log_cleaner_dedupe_buffer_size;
    int32_t log_cleaner_io_buffer_size;
    int32_t log_message_timestamp_type;  /* SK_CONFIG_TS_* */
    int32_t compression_type;            /* SK_CONFIG_COMPRESSION_* */
    /* ---- network ---- */
    int32_t socket_request_max_bytes;
    int32_t socket_send_buffer_bytes;    /* -1 = OS default */
    int32_t socket_receive_buffer_bytes; /* -1 = OS default */
    int32_t queued_max_requests;
    int32_t max_connections;
    int64_t connections_max_idle_ms;
    int32_t num_network_threads;
    int32_t num_io_threads;
    /* ---- coordinators ---- */
    int32_t offsets_topic_num_partitions;
    int32_t offsets_topic_replication_factor;
    int32_t offsets_topic_segment_bytes;
    int32_t offsets_retention_minutes;
    int32_t group_initial_rebalance_delay_ms;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t transaction_state_log_num_partitions;
    int32_t transaction_state_log_replication_factor;
    int32_t transaction_state_log_min_isr;
    int32_t transaction_state_log_segment_bytes;
    int32_t transaction_max_timeout_ms;
    int32_t transaction_abort_timed_out_interval_ms;
    int32_t transactional_id_expiration_ms;
    int32_t transaction_remove_expired_interval_ms;
    /* ---- skiff limits ---- */
    int64_t request_arena_max_bytes;
    int64_t connection_write_queue_max_bytes;
    int64_t fetch_max_wait_cap_ms;
    int64_t log_writeback_bytes;

    /* ---- derived by sk_config_finish() ---- */
    sk_listener_t *listeners;            /* owned: listener_count entries */
    int32_t listener_count;
    sk_listener_t *advertised_listeners; /* owned: advertised_listener_count entries */
    int32_t advertised_listener_count;
    char **log_dirs;                     /* owned: log_dir_count strings; the broker uses [0] */
    int32_t log_dir_count;
    bool process_roles_broker;
    bool process_roles_controller;
    bool log_message_timestamp_type_append;

    /* ---- bookkeeping ---- */
    uint8_t source[SK_CONFIG_KEYS_MAX];  /* sk_config_src_t per table entry */
} sk_config_t;
/* owned*: heap memory owned by the config, except when the pointer is the table's
 * default literal (never freed); sk_config_deinit() knows the difference. */

void sk_config_defaults(sk_config_t *c);
void sk_config_deinit(sk_config_t *c); /* frees owned strings/lists */
/* SK_OK; SK_ENOENT unknown key; SK_EINVAL bad value (message in err) */
int sk_config_set(sk_config_t *c, const char *key, const char *value, char *err, size_t err_len);
/* Read a Java-properties file and set every key in it. Returns SK_OK; SK_ENOENT when
 * the file held unknown keys (each logged as a WARN, every known key still applied, err
 * names the first); SK_EINVAL on a bad value or syntax (stops; err says file:line);
 * SK_EIO when the file cannot be read. */
int sk_config_load_file(sk_config_t *c, const char *path, char *err, size_t err_len);
/* Cross-checks and derived values (listeners, log_dirs, resolved *_ms, ...). Call it
 * again after any later sk_config_set(); on failure the derived fields are empty. */
int sk_config_finish(sk_config_t *c, char *err, size_t err_len); /* cross-checks, derived */
/* skiffd [server.properties] [--override key=value ...] [--help] [--version]:
   returns SK_OK to run, or SK_AGAIN meaning "exit now with *exit_code" (help,
   version, error already printed to stderr). Unknown keys: one WARN line each
   (naming the key and where it came from), not fatal. Invalid values: a clear
   message naming key, value and allowed range, exit code 2. */
int sk_cli_parse(int argc, char **argv, sk_config_t *c, int *exit_code);
void sk_cli_usage(FILE *out); /* --help text: usage, options, the key table */
/* Current value of key as text (as DescribeConfigs shows it); a null value yields "".
 * SK_ENOENT unknown key, SK_ELIMIT when out_len is too small. */
int sk_config_get_string(const sk_config_t *c, const char *key, char *out, size_t out_len);
/* The i-th key of the table (for listing all of them), NULL past the end. */
const char *sk_config_key_name(size_t i);
/* Where key's value came from; SK_ENOENT (negative) for an unknown key. */
int sk_config_source(const sk_config_t *c, const char *key);
/* The Kafka name of a security protocol ("PLAINTEXT", ...). */
const char *sk_secproto_name(sk_secproto_t p);

#endif
