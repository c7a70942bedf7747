/* broker/config.c: skiffd's configuration: the key table (Kafka names, types, ranges,
 * defaults, one-line reasons, whether the broker uses the key yet), typed parsing of
 * values, the Java-properties file reader, derived values (listeners, log dirs, resolved
 * retention/roll/flush times) and the command line. Runs once at start-up, single
 * threaded. Invariants: every table entry's default parses under its own rules (asserted
 * by sk_config_defaults); a field's storage type matches its entry's type (checked at
 * compile time by the table macros); string fields are owned heap memory unless they
 * point at the entry's default literal. Keys and their status: docs/configuration.md. */
#include "broker/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <strings.h>
#include <unistd.h>

#define CONFIG_FILE_MAX_BYTES (16u << 20) /* a properties file larger than this is a mistake */
#define HOST_MAX 255

typedef enum { CT_INT, CT_LONG, CT_BOOL, CT_STRING, CT_LIST, CT_DOUBLE, CT_ENUM } cfg_type_t;
typedef enum { CS_USED, CS_ACCEPTED } cfg_status_t;

/* Extra validation for string and list values; writes a reason into err. */
typedef int (*cfg_check_fn)(const char *value, char *err, size_t err_len);

typedef struct cfg_entry {
    const char *name;
    cfg_type_t type;
    int64_t min, max;          /* CT_INT, CT_LONG */
    double dmin, dmax;         /* CT_DOUBLE */
    const char *def;           /* default in text form; NULL = null (numbers store -1) */
    const char *const *values; /* CT_ENUM, CT_LIST: allowed words, NULL-terminated; or NULL */
    cfg_check_fn check;        /* CT_STRING, CT_LIST: or NULL */
    size_t off;                /* field offset in sk_config_t */
    cfg_status_t status;
    const char *doc;
} cfg_entry_t;

static int check_listeners(const char *v, char *err, size_t err_len);
static int check_advertised(const char *v, char *err, size_t err_len);
static int check_protomap(const char *v, char *err, size_t err_len);
static int check_names(const char *v, char *err, size_t err_len);
static int check_voters(const char *v, char *err, size_t err_len);
static int check_dirs(const char *v, char *err, size_t err_len);

static const char *const roles_values[] = {"broker", "controller", NULL};
static const char *const cleanup_values[] = {"delete", "compact", NULL};
static const char *const ts_values[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const compression_values[] = {"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd", NULL};

/* Offset of field, refusing to compile when its size does not match the entry type. */
#define FIELD(f, size) (offsetof(sk_config_t, f) + 0 * sizeof(char[sizeof(((sk_config_t *)0)->f) == (size) ? 1 : -1]))
#define E_INT(n, f, lo, hi, d, st, doc) {n, CT_INT, lo, hi, 0, 0, d, NULL, NULL, FIELD(f, 4), st, doc}
#define E_LONG(n, f, lo, hi, d, st, doc) {n, CT_LONG, lo, hi, 0, 0, d, NULL, NULL, FIELD(f, 8), st, doc}
#define E_BOOL(n, f, d, st, doc) {n, CT_BOOL, 0, 0, 0, 0, d, NULL, NULL, FIELD(f, sizeof(bool)), st, doc}
#define E_DBL(n, f, lo, hi, d, st, doc) {n, CT_DOUBLE, 0, 0, lo, hi, d, NULL, NULL, FIELD(f, 8), st, doc}
#define E_ENUM(n, f, vals, d, st, doc) {n, CT_ENUM, 0, 0, 0, 0, d, vals, NULL, FIELD(f, 4), st, doc}
#define E_STR(n, f, chk, d, st, doc) {n, CT_STRING, 0, 0, 0, 0, d, NULL, chk, FIELD(f, sizeof(char *)), st, doc}
#define E_LIST(n, f, vals, chk, d, st, doc) {n, CT_LIST, 0, 0, 0, 0, d, vals, chk, FIELD(f, sizeof(char *)), st, doc}
#define I32MAX INT32_MAX
#define I64MAX INT64_MAX
#define U 0 /* CS_USED */
#define A 1 /* CS_ACCEPTED */

static const cfg_entry_t cfg_table[] = {
    /* ---- listeners and identity ---- */
    E_LIST("listeners", listeners_str, NULL, check_listeners, "PLAINTEXT://127.0.0.1:9092", U,
           "Comma-separated NAME://host:port to listen on; empty host = all interfaces, IPv6 in brackets."),
    E_LIST("advertised.listeners", advertised_listeners_str, NULL, check_advertised, NULL, U,
           "Addresses given to clients in Metadata; unset = listeners minus controller listeners."),
    E_LIST("listener.security.protocol.map", listener_security_protocol_map, NULL, check_protomap,
           "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", U,
           "Listener name to security protocol; only PLAINTEXT is served today."),
    E_LIST("controller.listener.names", controller_listener_names, NULL, check_names, NULL, U,
           "Listeners used by the controller; left out of the derived advertised.listeners."),
    E_STR("inter.broker.listener.name", inter_broker_listener_name, check_names, NULL, A,
          "Listener brokers use to talk to each other; must be one of listeners."),
    E_INT("node.id", node_id, 0, I32MAX, "1", U, "This node's id in the cluster."),
    E_INT("broker.id", broker_id, 0, I32MAX, NULL, U, "Older name of node.id; must agree with it when both are set."),
    E_LIST("process.roles", process_roles_str, roles_values, NULL, "broker,controller", U,
           "Roles of this process: broker, controller or both."),
    E_LIST("controller.quorum.voters", controller_quorum_voters, NULL, check_voters, "", A,
           "Controller quorum as id@host:port,...; empty = this node alone."),
    /* ---- logs ---- */
    E_LIST("log.dirs", log_dirs_str, NULL, check_dirs, NULL, U,
           "Data directories; unset = log.dir. Only the first is used today."),
    E_STR("log.dir", log_dir_str, check_dirs, "./skiff-data", U, "Data directory when log.dirs is unset."),
    E_INT("num.partitions", num_partitions, 1, I32MAX, "1", U, "Partitions of an auto-created topic or CreateTopics with -1."),
    E_BOOL("auto.create.topics.enable", auto_create_topics_enable, "true", U,
           "Create a topic on first Metadata/Produce for it."),
    E_INT("default.replication.factor", default_replication_factor, 1, INT16_MAX, "1", U,
          "Replication factor of auto-created topics and CreateTopics with -1."),
    E_BOOL("delete.topic.enable", delete_topic_enable, "true", U, "Allow DeleteTopics."),
    E_INT("min.insync.replicas", min_insync_replicas, 1, I32MAX, "1", A,
          "Replicas that must hold a batch before acks=all succeeds."),
    E_INT("log.segment.bytes", log_segment_bytes, 1048576, I32MAX, "1073741824", U,
          "Roll a segment at this size (at least 1 MiB, as Kafka 4.x requires)."),
    E_LONG("log.roll.ms", log_roll_ms, 1, I64MAX, NULL, U, "Roll a segment at this age; unset = log.roll.hours."),
    E_INT("log.roll.hours", log_roll_hours, 1, I32MAX, "168", U, "Roll a segment at this age when log.roll.ms is unset."),
    E_INT("log.index.interval.bytes", log_index_interval_bytes, 0, I32MAX, "4096", U,
          "Bytes of batches between two offset-index entries."),
    E_INT("log.index.size.max.bytes", log_index_size_max_bytes, 4, I32MAX, "10485760", U,
          "Size of a segment's offset index; a full index rolls the segment."),
    E_INT("message.max.bytes", message_max_bytes, 0, I32MAX, "1048588", U, "Largest record batch accepted."),
    E_LONG("log.flush.interval.messages", log_flush_interval_messages, 1, I64MAX, "9223372036854775807", U,
           "fsync a partition after this many records."),
    E_LONG("log.flush.interval.ms", log_flush_interval_ms, 0, I64MAX, NULL, U,
           "fsync a partition when its oldest unflushed record is this old; unset = log.flush.scheduler.interval.ms."),
    E_LONG("log.flush.scheduler.interval.ms", log_flush_scheduler_interval_ms, 0, I64MAX, "9223372036854775807", U,
           "Fallback for log.flush.interval.ms; the default means never."),
    E_INT("log.flush.offset.checkpoint.interval.ms", log_flush_offset_checkpoint_interval_ms, 0, I32MAX, "60000", A,
          "How often recovery points are checkpointed."),
    E_LONG("log.retention.ms", log_retention_ms, -1, I64MAX, NULL, U,
           "Delete segments older than this; -1 = no limit; unset = log.retention.minutes."),
    E_INT("log.retention.minutes", log_retention_minutes, -1, I32MAX, NULL, U,
          "Retention in minutes when log.retention.ms is unset; unset = log.retention.hours."),
    E_INT("log.retention.hours", log_retention_hours, -1, I32MAX, "168", U,
          "Retention in hours when neither log.retention.ms nor log.retention.minutes is set."),
    E_LONG("log.retention.bytes", log_retention_bytes, -1, I64MAX, "-1", U, "Delete old segments above this size; -1 = no limit."),
    E_LONG("log.retention.check.interval.ms", log_retention_check_interval_ms, 1, I64MAX, "300000", U,
           "How often retention runs."),
    E_LIST("log.cleanup.policy", log_cleanup_policy, cleanup_values, NULL, "delete", U,
           "Default cleanup policy of topics: delete, compact or both."),
    E_BOOL("log.cleaner.enable", log_cleaner_enable, "true", U, "Run compaction for compacted topics."),
    E_DBL("log.cleaner.min.cleanable.ratio", log_cleaner_min_cleanable_ratio, 0.0, 1.0, "0.5", U,
          "Dirty share of a log that triggers compaction."),
    E_INT("log.cleaner.threads", log_cleaner_threads, 0, I32MAX, "1", U,
          "Threads that compact logs: 0 disables the cleaner; any other value runs one thread."),
    E_LONG("log.cleaner.backoff.ms", log_cleaner_backoff_ms, 0, I64MAX, "15000", U,
           "Sleep this long when no log needs cleaning."),
    E_LONG("log.cleaner.delete.retention.ms", log_cleaner_delete_retention_ms, 0, I64MAX, "86400000", U,
           "Keep tombstones of compacted topics this long (topic: delete.retention.ms)."),
    E_LONG("log.cleaner.min.compaction.lag.ms", log_cleaner_min_compaction_lag_ms, 0, I64MAX, "0", U,
           "A record stays uncompacted at least this long (topic: min.compaction.lag.ms)."),
    E_LONG("log.cleaner.max.compaction.lag.ms", log_cleaner_max_compaction_lag_ms, 1, I64MAX, "9223372036854775807", U,
           "A record is compacted at most this long after it was written (topic: max.compaction.lag.ms)."),
    E_LONG("log.cleaner.dedupe.buffer.size", log_cleaner_dedupe_buffer_size, 0, I64MAX, "134217728", U,
           "Memory for the key map of all cleaner threads."),
    E_INT("log.cleaner.io.buffer.size", log_cleaner_io_buffer_size, 0, I32MAX, "524288", U,
          "Read and write buffer of the cleaner."),
    E_ENUM("log.message.timestamp.type", log_message_timestamp_type, ts_values, "CreateTime", U,
           "CreateTime keeps the producer's timestamps, LogAppendTime stamps the broker's clock."),
    E_ENUM("compression.type", compression_type, compression_values, "producer", U,
           "Codec topics are stored with; producer = keep what the producer sent."),
    /* ---- network ---- */
    E_INT("socket.request.max.bytes", socket_request_max_bytes, 1, I32MAX, "104857600", U,
          "Largest request frame; a larger one closes the connection."),
    E_INT("socket.send.buffer.bytes", socket_send_buffer_bytes, -1, I32MAX, "102400", A, "SO_SNDBUF; -1 = OS default."),
    E_INT("socket.receive.buffer.bytes", socket_receive_buffer_bytes, -1, I32MAX, "102400", A,
          "SO_RCVBUF; -1 = OS default."),
    E_INT("queued.max.requests", queued_max_requests, 1, I32MAX, "500", U,
          "Requests in flight per connection before reading pauses."),
    E_INT("max.connections", max_connections, 0, I32MAX, "2147483647", U, "Connections accepted at once; more are closed. Unset: 3/4 of the open-file limit."),
    E_LONG("connections.max.idle.ms", connections_max_idle_ms, -1, I64MAX, "600000", U,
           "Close connections idle this long; -1 = never."),
    E_INT("num.network.threads", num_network_threads, 1, I32MAX, "3", A, "Network threads (one event loop today)."),
    E_INT("num.io.threads", num_io_threads, 1, I32MAX, "8", A, "Request threads (one event loop today)."),
    /* ---- coordinators ---- */
    E_INT("offsets.topic.num.partitions", offsets_topic_num_partitions, 1, I32MAX, "50", A,
          "Partitions of __consumer_offsets."),
    E_INT("offsets.topic.replication.factor", offsets_topic_replication_factor, 1, INT16_MAX, "1", A,
          "Replication factor of __consumer_offsets (Kafka: 3; 1 suits the single-node default)."),
    E_INT("offsets.topic.segment.bytes", offsets_topic_segment_bytes, 1, I32MAX, "104857600", A,
          "Segment size of __consumer_offsets."),
    E_INT("offsets.retention.minutes", offsets_retention_minutes, 1, I32MAX, "10080", A,
          "Keep committed offsets of empty groups this long."),
    E_INT("group.initial.rebalance.delay.ms", group_initial_rebalance_delay_ms, 0, I32MAX, "3000", A,
          "Wait this long for more members before the first rebalance of a new group."),
    E_INT("group.min.session.timeout.ms", group_min_session_timeout_ms, 0, I32MAX, "6000", A,
          "Smallest session timeout a member may ask for."),
    E_INT("group.max.session.timeout.ms", group_max_session_timeout_ms, 0, I32MAX, "1800000", A,
          "Largest session timeout a member may ask for."),
    E_INT("transaction.state.log.num.partitions", transaction_state_log_num_partitions, 1, I32MAX, "50", U,
          "Partitions of __transaction_state."),
    E_INT("transaction.state.log.replication.factor", transaction_state_log_replication_factor, 1, INT16_MAX, "1", U,
          "Replication factor of __transaction_state (Kafka: 3; 1 suits the single-node default)."),
    E_INT("transaction.state.log.min.isr", transaction_state_log_min_isr, 1, I32MAX, "1", U,
          "min.insync.replicas of __transaction_state (Kafka: 2; 1 suits the single-node default)."),
    E_INT("transaction.state.log.segment.bytes", transaction_state_log_segment_bytes, 1, I32MAX, "104857600", U,
          "Segment size of __transaction_state."),
    E_INT("transaction.max.timeout.ms", transaction_max_timeout_ms, 1, I32MAX, "900000", U,
          "Largest transaction timeout a producer may ask for."),
    E_INT("transaction.abort.timed.out.transaction.cleanup.interval.ms", transaction_abort_timed_out_interval_ms, 1,
          I32MAX, "10000", U, "How often transactions past their timeout are aborted."),
    E_INT("transactional.id.expiration.ms", transactional_id_expiration_ms, 1, I32MAX, "604800000", U,
          "Forget a transactional id unused this long."),
    E_INT("transaction.remove.expired.transaction.cleanup.interval.ms", transaction_remove_expired_interval_ms, 1,
          I32MAX, "3600000", U, "How often expired transactional ids are removed."),
    /* ---- skiff limits ---- */
    E_LONG("skiff.request.arena.max.bytes", request_arena_max_bytes, 65536, (int64_t)1 << 40, "67108864", U,
           "Memory one request may use for its decoded form; over it the request fails."),
    E_LONG("skiff.connection.write.queue.max.bytes", connection_write_queue_max_bytes, 1024, (int64_t)1 << 40,
           "16777216", U, "Response bytes queued on a connection before reading pauses (back-pressure)."),
    E_LONG("skiff.fetch.max.wait.cap.ms", fetch_max_wait_cap_ms, 0, 86400000, "3600000", U,
           "Upper bound on a Fetch's max.wait.ms, however long the client asks to wait."),
    E_LONG("skiff.log.writeback.bytes", log_writeback_bytes, 0, (int64_t)1 << 40, "1048576", U,
           "Start writing each full chunk of this many bytes of a segment to disk right away; 0 = leave it to the "
           "kernel (dirty pages then pile up and later writes stall)."),
};
#define CFG_COUNT SK_ARRAY_LEN(cfg_table)
_Static_assert(SK_ARRAY_LEN(cfg_table) <= SK_CONFIG_KEYS_MAX, "grow SK_CONFIG_KEYS_MAX");

static const char *const type_names[] = {"int", "long", "boolean", "string", "list", "double", "enum"};
static const char *const secproto_names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

const char *
sk_secproto_name(sk_secproto_t p)
{
    return (unsigned)p < SK_ARRAY_LEN(secproto_names) ? secproto_names[p] : "?";
}

/* ---------------------------------------------------------------- small helpers ---- */

static bool
is_ws(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\f' || ch == '\r' || ch == '\n';
}

/* Copy [s, s+len) trimmed of surrounding whitespace into a new string. */
static char *
dup_trim(const char *s, size_t len)
{
    while (len > 0 && is_ws((unsigned char)*s)) s++, len--;
    while (len > 0 && is_ws((unsigned char)s[len - 1])) len--;
    char *out = malloc(len + 1);
    if (!out) return NULL;
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

static const cfg_entry_t *
entry_find(const char *key, size_t *index)
{
    for (size_t i = 0; i < CFG_COUNT; i++) {
        if (strcmp(cfg_table[i].name, key) == 0) {
            if (index) *index = i;
            return &cfg_table[i];
        }
    }
    return NULL;
}

static void *
field_ptr(sk_config_t *c, const cfg_entry_t *e)
{
    return (char *)c + e->off;
}

static const void *
field_cptr(const sk_config_t *c, const cfg_entry_t *e)
{
    return (const char *)c + e->off;
}

static bool
key_is_set(const sk_config_t *c, const char *key)
{
    size_t i;
    SK_ASSERT(entry_find(key, &i));
    return c->source[i] != SK_CONFIG_SRC_DEFAULT;
}

/* Free a string field unless it is the entry's default literal. */
static void
str_field_release(sk_config_t *c, const cfg_entry_t *e)
{
    char **p = field_ptr(c, e);
    if (*p && *p != e->def) free(*p);
    *p = NULL;
}

/* Walk the comma-separated items of s: each call yields the next item trimmed, in
 * [*item, *item + *len). Returns false at the end. An empty s has no items. */
static bool
list_next(const char **cur, const char **item, size_t *len)
{
    const char *s = *cur;
    if (!s) return false;
    const char *comma = strchr(s, ',');
    size_t n = comma ? (size_t)(comma - s) : strlen(s);
    *cur = comma ? comma + 1 : NULL;
    while (n > 0 && is_ws((unsigned char)*s)) s++, n--;
    while (n > 0 && is_ws((unsigned char)s[n - 1])) n--;
    *item = s;
    *len = n;
    return true;
}

/* A list value that is empty after trimming has no items at all (Kafka's LIST). */
static const char *
list_start(const char *s)
{
    if (!s) return NULL;
    while (is_ws((unsigned char)*s)) s++;
    return *s ? s : NULL;
}

/* Whether an item before item in the list v equals [item, item + len). */
static bool
list_repeats(const char *v, const char *item, size_t len, bool nocase)
{
    const char *cur = list_start(v), *o;
    size_t olen;
    while (list_next(&cur, &o, &olen) && o < item)
        if (olen == len && (nocase ? strncasecmp(o, item, len) : memcmp(o, item, len)) == 0) return true;
    return false;
}

static bool
word_eq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

static bool
word_eq_nocase(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Listener names: letters, digits, '_' and '-'; compared case-insensitively. */
static bool
listener_name_ok(const char *s, size_t len)
{
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '_' && ch != '-') return false;
    }
    return true;
}

/* ---------------------------------------------------------------- listeners ---- */

static void
listeners_free(sk_listener_t *l, int32_t count)
{
    for (int32_t i = 0; l && i < count; i++) {
        free(l[i].name);
        free(l[i].host);
    }
    free(l);
}

static int
port_parse(const char *s, size_t len, int32_t *port)
{
    int32_t v = 0;
    if (len == 0 || len > 5) return SK_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return SK_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 65535) return SK_EINVAL;
    *port = v;
    return SK_OK;
}

static bool
host_chars_ok(const char *s, size_t len, bool allow_colon)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '%') continue;
        if (ch == ':' && allow_colon) continue;
        return false;
    }
    return true;
}

/* One "NAME://host:port" (already trimmed) into l; l's strings are allocated. */
static int
listener_parse_one(const char *s, size_t len, sk_listener_t *l, char *err, size_t err_len)
{
    const char *sep = NULL, *host, *colon;
    size_t host_len;

    for (size_t i = 0; i + 3 <= len; i++) {
        if (memcmp(s + i, "://", 3) == 0) {
            sep = s + i;
            break;
        }
    }
    if (!sep || !listener_name_ok(s, (size_t)(sep - s))) {
        snprintf(err, err_len, "'%.*s' is not NAME://host:port", (int)len, s);
        return SK_EINVAL;
    }
    host = sep + 3;
    const char *end = s + len;
    if (host < end && *host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close || close + 1 >= end || close[1] != ':') {
            snprintf(err, err_len, "'%.*s': expected [ipv6]:port", (int)len, s);
            return SK_EINVAL;
        }
        host++;
        host_len = (size_t)(close - host);
        colon = close + 1;
        if (host_len == 0 || !memchr(host, ':', host_len) || !host_chars_ok(host, host_len, true)) {
            snprintf(err, err_len, "'%.*s': bad IPv6 address in brackets", (int)len, s);
            return SK_EINVAL;
        }
    } else {
        colon = NULL;
        for (const char *p = end; p > host; p--)
            if (p[-1] == ':') {
                colon = p - 1;
                break;
            }
        if (!colon) {
            snprintf(err, err_len, "'%.*s': missing :port", (int)len, s);
            return SK_EINVAL;
        }
        host_len = (size_t)(colon - host);
        if (memchr(host, ':', host_len)) {
            snprintf(err, err_len, "'%.*s': an IPv6 address must be in brackets, e.g. [::1]:9092", (int)len, s);
            return SK_EINVAL;
        }
        if (!host_chars_ok(host, host_len, false) || host_len > HOST_MAX) {
            snprintf(err, err_len, "'%.*s': bad host name", (int)len, s);
            return SK_EINVAL;
        }
    }
    if (port_parse(colon + 1, (size_t)(end - colon - 1), &l->port) != SK_OK) {
        snprintf(err, err_len, "'%.*s': port must be a number from 0 to 65535", (int)len, s);
        return SK_EINVAL;
    }
    l->name = dup_trim(s, (size_t)(sep - s));
    l->host = dup_trim(host, host_len);
    if (!l->name || !l->host) {
        snprintf(err, err_len, "out of memory");
        return SK_ENOMEM;
    }
    for (char *p = l->name; *p; p++) *p = (char)toupper((unsigned char)*p);
    return SK_OK;
}

/* Parse a listeners value. unique_ports: listeners (not advertised) may not share a
 * non-zero port. On error *out is NULL. */
static int
listeners_parse(const char *value, bool unique_ports, sk_listener_t **out, int32_t *count, char *err, size_t err_len)
{
    sk_listener_t *l = calloc(SK_LISTENERS_MAX, sizeof(*l));
    const char *cur = list_start(value), *item;
    size_t len;
    int32_t n = 0;
    int rc = SK_EINVAL;

    *out = NULL;
    *count = 0;
    if (!l) return SK_ENOMEM;
    while (list_next(&cur, &item, &len)) {
        if (n == SK_LISTENERS_MAX) {
            snprintf(err, err_len, "more than %d listeners", SK_LISTENERS_MAX);
            goto fail;
        }
        if (len == 0) {
            snprintf(err, err_len, "empty item in the list");
            goto fail;
        }
        n++; /* counted first so that a half-filled entry is freed on failure */
        if ((rc = listener_parse_one(item, len, &l[n - 1], err, err_len)) != SK_OK) goto fail;
        rc = SK_EINVAL;
        for (int32_t i = 0; i < n - 1; i++) {
            if (strcmp(l[i].name, l[n - 1].name) == 0) {
                snprintf(err, err_len, "listener name %s appears twice", l[i].name);
                goto fail;
            }
            if (unique_ports && l[i].port != 0 && l[i].port == l[n - 1].port) {
                snprintf(err, err_len, "listeners %s and %s share port %d", l[i].name, l[n - 1].name, l[i].port);
                goto fail;
            }
        }
    }
    if (n == 0) {
        snprintf(err, err_len, "at least one listener is required");
        goto fail;
    }
    *out = l;
    *count = n;
    return SK_OK;
fail:
    listeners_free(l, n);
    return rc;
}

static int
check_listeners(const char *v, char *err, size_t err_len)
{
    sk_listener_t *l;
    int32_t n;
    int rc = listeners_parse(v, true, &l, &n, err, err_len);
    listeners_free(l, n);
    return rc;
}

static int
check_advertised(const char *v, char *err, size_t err_len)
{
    sk_listener_t *l;
    int32_t n;
    int rc = listeners_parse(v, false, &l, &n, err, err_len);
    listeners_free(l, n);
    return rc;
}

/* Look name up in a listener.security.protocol.map value. SK_ENOENT when absent. */
static int
protomap_lookup(const char *map, const char *name, sk_secproto_t *proto)
{
    const char *cur = list_start(map), *item;
    size_t len;
    while (list_next(&cur, &item, &len)) {
        const char *colon = memchr(item, ':', len);
        if (!colon || !word_eq_nocase(item, (size_t)(colon - item), name)) continue;
        const char *p = colon + 1;
        size_t plen = len - (size_t)(p - item);
        for (size_t k = 0; k < SK_ARRAY_LEN(secproto_names); k++) {
            if (word_eq_nocase(p, plen, secproto_names[k])) {
                *proto = (sk_secproto_t)k;
                return SK_OK;
            }
        }
        return SK_EINVAL;
    }
    return SK_ENOENT;
}

static int
check_protomap(const char *v, char *err, size_t err_len)
{
    const char *cur = list_start(v), *item;
    size_t len;
    while (list_next(&cur, &item, &len)) {
        const char *colon = memchr(item, ':', len);
        size_t nlen = colon ? (size_t)(colon - item) : 0;
        bool ok = colon && listener_name_ok(item, nlen), proto_ok = false;
        for (size_t k = 0; ok && k < SK_ARRAY_LEN(secproto_names); k++)
            proto_ok = proto_ok || word_eq_nocase(colon + 1, len - nlen - 1, secproto_names[k]);
        if (!ok || !proto_ok) {
            snprintf(err, err_len, "'%.*s' is not NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, "
                     "SASL_PLAINTEXT, SASL_SSL", (int)len, item);
            return SK_EINVAL;
        }
        const char *cur2 = list_start(v), *other;
        size_t olen;
        while (list_next(&cur2, &other, &olen) && other < item) {
            const char *oc = memchr(other, ':', olen);
            if (oc && (size_t)(oc - other) == nlen && strncasecmp(other, item, nlen) == 0) {
                snprintf(err, err_len, "listener name %.*s is mapped twice", (int)nlen, item);
                return SK_EINVAL;
            }
        }
    }
    return SK_OK;
}

static int
check_names(const char *v, char *err, size_t err_len)
{
    const char *cur = list_start(v), *item;
    size_t len;
    while (list_next(&cur, &item, &len)) {
        if (!listener_name_ok(item, len)) {
            snprintf(err, err_len, "'%.*s' is not a listener name", (int)len, item);
            return SK_EINVAL;
        }
    }
    return SK_OK;
}

static bool
names_contain(const char *list, const char *name)
{
    const char *cur = list_start(list), *item;
    size_t len;
    while (list_next(&cur, &item, &len))
        if (word_eq_nocase(item, len, name)) return true;
    return false;
}

/* controller.quorum.voters: id@host:port,... */
static int
check_voters(const char *v, char *err, size_t err_len)
{
    const char *cur = list_start(v), *item;
    size_t len;
    while (list_next(&cur, &item, &len)) {
        const char *at = memchr(item, '@', len);
        sk_listener_t l = {0};
        char buf[300];
        int rc = SK_EINVAL;
        bool id_ok = at && at > item;
        for (const char *p = item; id_ok && p < at; p++) id_ok = *p >= '0' && *p <= '9';
        if (id_ok && (size_t)(at - item) <= 10) {
            snprintf(buf, sizeof(buf), "V://%.*s", (int)(len - (size_t)(at + 1 - item)), at + 1);
            rc = listener_parse_one(buf, strlen(buf), &l, err, err_len);
        }
        free(l.name);
        free(l.host);
        if (rc != SK_OK) {
            snprintf(err, err_len, "'%.*s' is not id@host:port", (int)len, item);
            return SK_EINVAL;
        }
    }
    return SK_OK;
}

/* Directories: non-empty items, no duplicates. */
static int
check_dirs(const char *v, char *err, size_t err_len)
{
    const char *cur = list_start(v), *item;
    size_t len, n = 0;
    if (!cur) {
        snprintf(err, err_len, "at least one directory is required");
        return SK_EINVAL;
    }
    while (list_next(&cur, &item, &len)) {
        if (len == 0) {
            snprintf(err, err_len, "empty directory name");
            return SK_EINVAL;
        }
        if (++n > SK_LOG_DIRS_MAX) {
            snprintf(err, err_len, "more than %d directories", SK_LOG_DIRS_MAX);
            return SK_EINVAL;
        }
        if (list_repeats(v, item, len, false)) {
            snprintf(err, err_len, "directory '%.*s' appears twice", (int)len, item);
            return SK_EINVAL;
        }
    }
    return SK_OK;
}

/* ---------------------------------------------------------------- typed values ---- */

static int
value_error(const cfg_entry_t *e, const char *value, char *err, size_t err_len, const char *why)
{
    snprintf(err, err_len, "invalid value '%s' for %s: %s", value, e->name, why);
    return SK_EINVAL;
}

static int
parse_integer(const cfg_entry_t *e, const char *v, int64_t *out, char *err, size_t err_len)
{
    char why[128];
    char *end = NULL;
    long long x;

    errno = 0;
    x = (*v == '\0' || is_ws((unsigned char)*v)) ? 0 : strtoll(v, &end, 10);
    if (!end || *end != '\0' || end == v) {
        snprintf(why, sizeof(why), "not %s integer (allowed %" PRId64 "..%" PRId64 ")",
                 e->type == CT_INT ? "an" : "a long", e->min, e->max);
        return value_error(e, v, err, err_len, why);
    }
    if (errno == ERANGE || x < e->min || x > e->max) {
        snprintf(why, sizeof(why), "out of range (allowed %" PRId64 "..%" PRId64 ")", e->min, e->max);
        return value_error(e, v, err, err_len, why);
    }
    *out = x;
    return SK_OK;
}

static int
parse_double(const cfg_entry_t *e, const char *v, double *out, char *err, size_t err_len)
{
    char why[128];
    char *end = NULL;
    double x;

    errno = 0;
    x = (*v == '\0' || is_ws((unsigned char)*v)) ? 0 : strtod(v, &end);
    snprintf(why, sizeof(why), "not a number from %g to %g", e->dmin, e->dmax);
    if (!end || *end != '\0' || end == v || errno == ERANGE || !isfinite(x) || x < e->dmin || x > e->dmax)
        return value_error(e, v, err, err_len, why);
    *out = x;
    return SK_OK;
}

static void
allowed_words(const char *const *values, char *out, size_t out_len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; values[i] && n < out_len; i++) {
        int w = snprintf(out + n, out_len - n, "%s%s", i ? ", " : "", values[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
}

static int
parse_enum(const cfg_entry_t *e, const char *v, int32_t *out, char *err, size_t err_len)
{
    char why[160], words[128];
    for (int32_t i = 0; e->values[i]; i++) {
        if (strcmp(e->values[i], v) == 0) {
            *out = i;
            return SK_OK;
        }
    }
    allowed_words(e->values, words, sizeof(words));
    snprintf(why, sizeof(why), "must be one of %s", words);
    return value_error(e, v, err, err_len, why);
}

/* Strings and lists: allowed words, then the entry's own check. */
static int
check_text(const cfg_entry_t *e, const char *v, char *err, size_t err_len)
{
    char why[256], words[128];
    if (e->type == CT_LIST && e->values) {
        const char *cur = list_start(v), *item;
        size_t len;
        while (list_next(&cur, &item, &len)) {
            bool ok = false;
            for (size_t i = 0; e->values[i] && !ok; i++) ok = word_eq(item, len, e->values[i]);
            if (ok && list_repeats(v, item, len, false)) ok = false;
            if (!ok) {
                allowed_words(e->values, words, sizeof(words));
                snprintf(why, sizeof(why), "each item must be one of %s, without repeats", words);
                return value_error(e, v, err, err_len, why);
            }
        }
        /* a process needs a role; log.cleanup.policy may be empty */
        if (!list_start(v) && e->values == roles_values) return value_error(e, v, err, err_len, "must not be empty");
    }
    if (e->check && e->check(v, why, sizeof(why)) != SK_OK) return value_error(e, v, err, err_len, why);
    return SK_OK;
}

/* Parse v (already trimmed) for e and store it. is_default: v is e->def itself. */
static int
value_store(sk_config_t *c, const cfg_entry_t *e, const char *v, bool is_default, char *err, size_t err_len)
{
    void *f = field_ptr(c, e);
    int64_t i64 = 0;
    int32_t i32 = 0;
    double d = 0;
    int rc;

    switch (e->type) {
    case CT_INT:
    case CT_LONG:
        if ((rc = parse_integer(e, v, &i64, err, err_len)) != SK_OK) return rc;
        if (e->type == CT_INT) *(int32_t *)f = (int32_t)i64;
        else *(int64_t *)f = i64;
        return SK_OK;
    case CT_BOOL:
        if (strcasecmp(v, "true") == 0) *(bool *)f = true;
        else if (strcasecmp(v, "false") == 0) *(bool *)f = false;
        else return value_error(e, v, err, err_len, "must be true or false");
        return SK_OK;
    case CT_DOUBLE:
        if ((rc = parse_double(e, v, &d, err, err_len)) != SK_OK) return rc;
        *(double *)f = d;
        return SK_OK;
    case CT_ENUM:
        if ((rc = parse_enum(e, v, &i32, err, err_len)) != SK_OK) return rc;
        *(int32_t *)f = i32;
        return SK_OK;
    case CT_STRING:
    case CT_LIST: {
        if ((rc = check_text(e, v, err, err_len)) != SK_OK) return rc;
        char *copy = is_default ? (char *)e->def : strdup(v);
        if (!copy) {
            snprintf(err, err_len, "out of memory");
            return SK_ENOMEM;
        }
        str_field_release(c, e);
        *(char **)f = copy;
        return SK_OK;
    }
    }
    SK_ASSERT(!"unknown config type");
    return SK_EINVAL;
}

static void
value_store_default(sk_config_t *c, const cfg_entry_t *e)
{
    char err[256];
    if (!e->def) {
        void *f = field_ptr(c, e);
        if (e->type == CT_INT) *(int32_t *)f = -1;
        else if (e->type == CT_LONG) *(int64_t *)f = -1;
        else if (e->type == CT_STRING || e->type == CT_LIST) str_field_release(c, e);
        else SK_ASSERT(!"null default on a type without null");
        return;
    }
    int rc = value_store(c, e, e->def, true, err, sizeof(err));
    if (rc != SK_OK) fprintf(stderr, "config table: %s\n", err);
    SK_ASSERT(rc == SK_OK);
}

static void
derived_free(sk_config_t *c)
{
    listeners_free(c->listeners, c->listener_count);
    listeners_free(c->advertised_listeners, c->advertised_listener_count);
    for (int32_t i = 0; c->log_dirs && i < c->log_dir_count; i++) free(c->log_dirs[i]);
    free(c->log_dirs);
    c->listeners = c->advertised_listeners = NULL;
    c->listener_count = c->advertised_listener_count = 0;
    c->log_dirs = NULL;
    c->log_dir_count = 0;
}

void
sk_config_defaults(sk_config_t *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < CFG_COUNT; i++) value_store_default(c, &cfg_table[i]);
}

void
sk_config_deinit(sk_config_t *c)
{
    derived_free(c);
    for (size_t i = 0; i < CFG_COUNT; i++)
        if (cfg_table[i].type == CT_STRING || cfg_table[i].type == CT_LIST) str_field_release(c, &cfg_table[i]);
}

static int
config_set_src(sk_config_t *c, const char *key, const char *value, sk_config_src_t src, char *err, size_t err_len)
{
    size_t index;
    const cfg_entry_t *e = entry_find(key, &index);
    char *v;
    int rc;

    if (!e) {
        snprintf(err, err_len, "unknown configuration key '%s'", key);
        return SK_ENOENT;
    }
    v = dup_trim(value, strlen(value));
    if (!v) {
        snprintf(err, err_len, "out of memory");
        return SK_ENOMEM;
    }
    rc = value_store(c, e, v, false, err, err_len);
    if (rc == SK_OK) c->source[index] = (uint8_t)src;
    free(v);
    return rc;
}

int
sk_config_set(sk_config_t *c, const char *key, const char *value, char *err, size_t err_len)
{
    return config_set_src(c, key, value, SK_CONFIG_SRC_OVERRIDE, err, err_len);
}

const char *
sk_config_key_name(size_t i)
{
    return i < CFG_COUNT ? cfg_table[i].name : NULL;
}

int
sk_config_source(const sk_config_t *c, const char *key)
{
    size_t index;
    if (!entry_find(key, &index)) return SK_ENOENT;
    return c->source[index];
}

int
sk_config_get_string(const sk_config_t *c, const char *key, char *out, size_t out_len)
{
    size_t index;
    const cfg_entry_t *e = entry_find(key, &index);
    const void *f;
    int n = 0;

    if (!e) return SK_ENOENT;
    if (out_len == 0) return SK_ELIMIT;
    f = field_cptr(c, e);
    if (!e->def && c->source[index] == SK_CONFIG_SRC_DEFAULT) {
        out[0] = '\0'; /* null: derived fields may hold a resolved value, the key does not */
        return SK_OK;
    }
    switch (e->type) {
    case CT_INT: n = snprintf(out, out_len, "%" PRId32, *(const int32_t *)f); break;
    case CT_LONG: n = snprintf(out, out_len, "%" PRId64, *(const int64_t *)f); break;
    case CT_BOOL: n = snprintf(out, out_len, "%s", *(const bool *)f ? "true" : "false"); break;
    case CT_DOUBLE: n = snprintf(out, out_len, "%.17g", *(const double *)f); break;
    case CT_ENUM: n = snprintf(out, out_len, "%s", e->values[*(const int32_t *)f]); break;
    case CT_STRING:
    case CT_LIST: {
        const char *s = *(char *const *)f;
        n = snprintf(out, out_len, "%s", s ? s : "");
        break;
    }
    }
    return (n < 0 || (size_t)n >= out_len) ? SK_ELIMIT : SK_OK;
}

/* ------------------------------------------------ Java-properties file reader ----
 * A logical line is natural lines (ended by \n, \r or \r\n) joined while a line ends in
 * an odd number of backslashes; the continuation's leading whitespace is dropped. Lines
 * whose first non-blank character is # or ! are comments. The key ends at the first
 * unescaped '=', ':' or blank; blanks and one '=' or ':' around the separator are
 * skipped. Escapes: \t \n \r \f, \uXXXX (UTF-16, written as UTF-8), \x = x. Bytes are
 * taken as they are (UTF-8), not as ISO-8859-1. */

typedef struct props_rd {
    const char *p; /* borrowed: the file's bytes */
    size_t len;
    size_t pos;
    int line;      /* number of the next natural line, from 1 */
} props_rd_t;

static bool
props_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\f';
}

static bool
props_natural_line(props_rd_t *r, const char **s, size_t *n)
{
    size_t start = r->pos, end;
    if (r->pos >= r->len) return false;
    end = start;
    while (end < r->len && r->p[end] != '\n' && r->p[end] != '\r') end++;
    r->pos = end;
    if (r->pos < r->len && r->p[r->pos] == '\r') r->pos++;
    if (r->pos < r->len && r->p[r->pos] == '\n' && (r->pos == end || r->p[end] == '\r')) r->pos++;
    r->line++;
    while (start < end && props_blank(r->p[start])) start++;
    *s = r->p + start;
    *n = end - start;
    return true;
}

/* Next logical line into buf (at least r->len + 1 bytes). false at the end. */
static bool
props_logical_line(props_rd_t *r, char *buf, size_t *out_len, int *line_no)
{
    const char *s;
    size_t n, used = 0;

    for (;;) {
        *line_no = r->line;
        if (!props_natural_line(r, &s, &n)) return false;
        if (n > 0 && *s != '#' && *s != '!') break;
    }
    for (;;) {
        size_t k = 0;
        while (k < n && s[n - 1 - k] == '\\') k++;
        bool cont = (k % 2) == 1;
        memcpy(buf + used, s, cont ? n - 1 : n);
        used += cont ? n - 1 : n;
        if (!cont || !props_natural_line(r, &s, &n)) break;
    }
    buf[used] = '\0';
    *out_len = used;
    return true;
}

static int
hex4(const char *s, size_t left, uint32_t *out)
{
    uint32_t v = 0;
    if (left < 4) return SK_EINVAL;
    for (int i = 0; i < 4; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) return SK_EINVAL;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return SK_OK;
}

static size_t
utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode escapes of [s, s+n) into out (room for n + 1 bytes: output never grows). */
static int
props_unescape(const char *s, size_t n, char *out, char *err, size_t err_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        if (++i == n) break; /* a lone trailing backslash means nothing */
        char ch = s[i];
        if (ch != 'u') {
            out[o++] = ch == 't' ? '\t' : ch == 'n' ? '\n' : ch == 'r' ? '\r' : ch == 'f' ? '\f' : ch;
            continue;
        }
        uint32_t u, lo;
        if (hex4(s + i + 1, n - i - 1, &u) != SK_OK) goto bad;
        i += 4;
        if (u >= 0xDC00 && u <= 0xDFFF) goto bad;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (n - i - 1 < 6 || s[i + 1] != '\\' || s[i + 2] != 'u' || hex4(s + i + 3, n - i - 3, &lo) != SK_OK ||
                lo < 0xDC00 || lo > 0xDFFF)
                goto bad;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        }
        o += utf8_put(out + o, u);
    }
    out[o] = '\0';
    return SK_OK;
bad:
    snprintf(err, err_len, "malformed \\uXXXX escape");
    return SK_EINVAL;
}

/* Split a logical line into its unescaped key and value (each with room for n + 1). */
static int
props_split(const char *line, size_t n, char *key, char *val, char *err, size_t err_len)
{
    size_t i = 0, key_end, v;
    bool has_sep = false;

    while (i < n) {
        char ch = line[i];
        if (ch == '\\') {
            i += 2;
            continue;
        }
        if (ch == '=' || ch == ':' || props_blank(ch)) {
            has_sep = ch == '=' || ch == ':';
            break;
        }
        i++;
    }
    key_end = SK_MIN(i, n);
    v = key_end < n ? key_end + 1 : n;
    while (v < n && props_blank(line[v])) v++;
    if (!has_sep && v < n && (line[v] == '=' || line[v] == ':')) {
        v++;
        while (v < n && props_blank(line[v])) v++;
    }
    int rc = props_unescape(line, key_end, key, err, err_len);
    if (rc == SK_OK) rc = props_unescape(line + v, n - v, val, err, err_len);
    return rc;
}

int
sk_config_load_file(sk_config_t *c, const char *path, char *err, size_t err_len)
{
    char *data = NULL, *line = NULL, *key = NULL, *val = NULL;
    char why[512];
    size_t len = 0, n;
    int line_no, rc;
    bool unknown = false;
    props_rd_t r;

    rc = sk_read_file(path, CONFIG_FILE_MAX_BYTES, &data, &len);
    if (rc != SK_OK) {
        snprintf(err, err_len, "%s: cannot read the file (%s)", path,
                 rc == SK_ELIMIT ? "larger than 16 MiB" : strerror(errno));
        return SK_EIO;
    }
    line = malloc(len + 1);
    key = malloc(len + 1);
    val = malloc(len + 1);
    rc = SK_ENOMEM;
    if (!line || !key || !val) {
        snprintf(err, err_len, "%s: out of memory", path);
        goto fail;
    }
    r = (props_rd_t){.p = data, .len = len, .pos = 0, .line = 1};
    while (props_logical_line(&r, line, &n, &line_no)) {
        if ((rc = props_split(line, n, key, val, why, sizeof(why))) != SK_OK) {
            snprintf(err, err_len, "%s:%d: %s", path, line_no, why);
            goto fail;
        }
        rc = config_set_src(c, key, val, SK_CONFIG_SRC_FILE, why, sizeof(why));
        if (rc == SK_ENOENT) {
            SK_WARN("event=config_unknown_key key=\"%s\" source=%s:%d", key, path, line_no);
            if (!unknown) snprintf(err, err_len, "%s:%d: unknown configuration key '%s'", path, line_no, key);
            unknown = true;
            continue;
        }
        if (rc != SK_OK) {
            snprintf(err, err_len, "%s:%d: %s", path, line_no, why);
            goto fail;
        }
    }
    rc = unknown ? SK_ENOENT : SK_OK;
fail:
    free(val);
    free(key);
    free(line);
    free(data);
    return rc;
}

/* ---------------------------------------------------------------- finish ---- */

static bool
list_has(const char *list, const char *word)
{
    const char *cur = list_start(list), *item;
    size_t len;
    while (list_next(&cur, &item, &len))
        if (word_eq(item, len, word)) return true;
    return false;
}

static int
finish_identity(sk_config_t *c, char *err, size_t err_len)
{
    if (key_is_set(c, "broker.id")) {
        if (key_is_set(c, "node.id") && c->node_id != c->broker_id) {
            snprintf(err, err_len, "node.id (%d) and broker.id (%d) disagree; set only node.id", c->node_id,
                     c->broker_id);
            return SK_EINVAL;
        }
        c->node_id = c->broker_id;
    }
    c->process_roles_broker = list_has(c->process_roles_str, "broker");
    c->process_roles_controller = list_has(c->process_roles_str, "controller");
    if (!c->process_roles_broker) {
        snprintf(err, err_len, "process.roles=%s: a process without the broker role is not supported yet",
                 c->process_roles_str);
        return SK_EINVAL;
    }
    if (c->group_min_session_timeout_ms > c->group_max_session_timeout_ms) {
        snprintf(err, err_len, "group.min.session.timeout.ms (%d) is above group.max.session.timeout.ms (%d)",
                 c->group_min_session_timeout_ms, c->group_max_session_timeout_ms);
        return SK_EINVAL;
    }
    return SK_OK;
}

static int
finish_dirs(sk_config_t *c, char *err, size_t err_len)
{
    const char *src = c->log_dirs_str ? c->log_dirs_str : c->log_dir_str;
    const char *key = c->log_dirs_str ? "log.dirs" : "log.dir";
    const char *cur, *item;
    size_t len;
    char why[256];

    if (!src || check_dirs(src, why, sizeof(why)) != SK_OK) {
        snprintf(err, err_len, "%s: %s", key, src ? why : "no data directory configured");
        return SK_EINVAL;
    }
    c->log_dirs = calloc(SK_LOG_DIRS_MAX, sizeof(char *));
    if (!c->log_dirs) goto nomem;
    for (cur = list_start(src); list_next(&cur, &item, &len);) {
        SK_ASSERT(c->log_dir_count < SK_LOG_DIRS_MAX); /* check_dirs bounds it */
        c->log_dirs[c->log_dir_count] = dup_trim(item, len);
        if (!c->log_dirs[c->log_dir_count]) goto nomem;
        c->log_dir_count++;
    }
    return SK_OK;
nomem:
    snprintf(err, err_len, "out of memory");
    return SK_ENOMEM;
}

static sk_listener_t *
listener_find(sk_listener_t *l, int32_t n, const char *name)
{
    for (int32_t i = 0; i < n; i++)
        if (strcasecmp(l[i].name, name) == 0) return &l[i];
    return NULL;
}

/* Security protocol of every listener, from the map. */
static int
finish_protocols(sk_config_t *c, char *err, size_t err_len)
{
    for (int32_t i = 0; i < c->listener_count; i++) {
        sk_listener_t *l = &c->listeners[i];
        int rc = protomap_lookup(c->listener_security_protocol_map, l->name, &l->protocol);
        if (rc == SK_ENOENT && !key_is_set(c, "listener.security.protocol.map") &&
            names_contain(c->controller_listener_names, l->name)) {
            l->protocol = SK_SECPROTO_PLAINTEXT; /* Kafka's rule for controller listeners */
            rc = SK_OK;
        }
        if (rc != SK_OK) {
            snprintf(err, err_len, "listener %s has no entry in listener.security.protocol.map (add %s:PLAINTEXT)",
                     l->name, l->name);
            return SK_EINVAL;
        }
        if (l->protocol != SK_SECPROTO_PLAINTEXT) {
            snprintf(err, err_len, "listener %s uses security protocol %s; only PLAINTEXT is served yet", l->name,
                     sk_secproto_name(l->protocol));
            return SK_EINVAL;
        }
    }
    const char *ib = c->inter_broker_listener_name;
    if (ib && (!listener_find(c->listeners, c->listener_count, ib) || names_contain(c->controller_listener_names, ib))) {
        snprintf(err, err_len, "inter.broker.listener.name=%s must name a listener that is not a controller listener",
                 ib);
        return SK_EINVAL;
    }
    if (c->process_roles_controller) {
        const char *cur = list_start(c->controller_listener_names), *item;
        size_t len;
        while (list_next(&cur, &item, &len)) {
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)SK_MIN(len, sizeof(name) - 1), item);
            if (!listener_find(c->listeners, c->listener_count, name)) {
                snprintf(err, err_len, "controller.listener.names: %s is not one of listeners", name);
                return SK_EINVAL;
            }
        }
    }
    return SK_OK;
}

/* advertised.listeners as given, or listeners minus controller listeners; fills empty
 * hosts with this machine's name and refuses wildcard addresses. */
static int
finish_advertised(sk_config_t *c, char *err, size_t err_len)
{
    int32_t n = 0;
    int rc;

    if (c->advertised_listeners_str) {
        char why[512];
        rc = listeners_parse(c->advertised_listeners_str, false, &c->advertised_listeners,
                             &c->advertised_listener_count, why, sizeof(why));
        if (rc != SK_OK) {
            snprintf(err, err_len, "advertised.listeners: %s", why);
            return rc;
        }
    } else {
        c->advertised_listeners = calloc(SK_LISTENERS_MAX, sizeof(sk_listener_t));
        if (!c->advertised_listeners) goto nomem;
        for (int32_t i = 0; i < c->listener_count; i++) {
            if (names_contain(c->controller_listener_names, c->listeners[i].name)) continue;
            sk_listener_t *a = &c->advertised_listeners[n++];
            c->advertised_listener_count = n;
            a->name = strdup(c->listeners[i].name);
            a->host = strdup(c->listeners[i].host);
            a->port = c->listeners[i].port;
            if (!a->name || !a->host) goto nomem;
        }
        if (n == 0) {
            snprintf(err, err_len, "every listener is a controller listener: set advertised.listeners");
            return SK_EINVAL;
        }
    }
    for (int32_t i = 0; i < c->advertised_listener_count; i++) {
        sk_listener_t *a = &c->advertised_listeners[i];
        sk_listener_t *l = listener_find(c->listeners, c->listener_count, a->name);
        if (!l) {
            snprintf(err, err_len, "advertised.listeners: %s is not one of listeners", a->name);
            return SK_EINVAL;
        }
        a->protocol = l->protocol;
        if (strcmp(a->host, "0.0.0.0") == 0 || strcmp(a->host, "::") == 0) {
            snprintf(err, err_len, "advertised listener %s uses the wildcard address %s, which clients cannot reach: "
                     "set advertised.listeners to a routable host", a->name, a->host);
            return SK_EINVAL;
        }
        if (a->host[0] == '\0') {
            char host[HOST_MAX + 1];
            if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0') snprintf(host, sizeof(host), "localhost");
            host[HOST_MAX] = '\0';
            char *h = strdup(host);
            if (!h) goto nomem;
            free(a->host);
            a->host = h;
        }
    }
    return SK_OK;
nomem:
    snprintf(err, err_len, "out of memory");
    return SK_ENOMEM;
}

/* Kafka's precedence: log.roll.ms over log.roll.hours; log.retention.ms over .minutes
 * over .hours (negative = no limit, -1); log.flush.interval.ms unset falls back to
 * log.flush.scheduler.interval.ms, whose Long.MAX default means never (-1 here). */
static void
finish_times(sk_config_t *c)
{
    if (!key_is_set(c, "log.roll.ms")) c->log_roll_ms = (int64_t)c->log_roll_hours * 3600000;
    if (!key_is_set(c, "log.retention.ms")) {
        if (key_is_set(c, "log.retention.minutes")) c->log_retention_ms = (int64_t)c->log_retention_minutes * 60000;
        else c->log_retention_ms = (int64_t)c->log_retention_hours * 3600000;
    }
    if (c->log_retention_ms < 0) c->log_retention_ms = -1;
    if (!key_is_set(c, "log.flush.interval.ms")) c->log_flush_interval_ms = c->log_flush_scheduler_interval_ms;
    if (c->log_flush_interval_ms == INT64_MAX) c->log_flush_interval_ms = -1;
    c->log_message_timestamp_type_append = c->log_message_timestamp_type == SK_CONFIG_TS_LOG_APPEND_TIME;
}

int
sk_config_finish(sk_config_t *c, char *err, size_t err_len)
{
    char why[512];
    int rc;

    derived_free(c);
    if ((rc = finish_identity(c, err, err_len)) != SK_OK) goto fail;
    if ((rc = finish_dirs(c, err, err_len)) != SK_OK) goto fail;
    rc = listeners_parse(c->listeners_str, true, &c->listeners, &c->listener_count, why, sizeof(why));
    if (rc != SK_OK) {
        snprintf(err, err_len, "listeners: %s", why);
        goto fail;
    }
    if ((rc = finish_protocols(c, err, err_len)) != SK_OK) goto fail;
    if ((rc = finish_advertised(c, err, err_len)) != SK_OK) goto fail;
    finish_times(c);
    return SK_OK;
fail:
    derived_free(c);
    return rc;
}

/* ---------------------------------------------------------------- command line ---- */

void
sk_cli_usage(FILE *out)
{
    fprintf(out,
            "usage: skiffd [server.properties] [--override key=value ...] [--help] [--version]\n"
            "\n"
            "Runs a Kafka-compatible broker. With no file and no overrides it serves one node\n"
            "on 127.0.0.1:9092 with its data in ./skiff-data.\n"
            "\n"
            "options:\n"
            "  server.properties      Java-properties file of the keys below (optional)\n"
            "  --override key=value   set one key; repeatable; applied after the file\n"
            "                         (also --override=key=value)\n"
            "  -h, --help             print this text and exit\n"
            "  --version              print the version and exit\n"
            "\n"
            "keys (type, default; [later] = accepted and checked, not acted on yet):\n");
    for (size_t i = 0; i < CFG_COUNT; i++) {
        const cfg_entry_t *e = &cfg_table[i];
        char range[96] = "";
        if (e->type == CT_INT || e->type == CT_LONG)
            snprintf(range, sizeof(range), ", %" PRId64 "..%" PRId64, e->min, e->max);
        else if (e->type == CT_DOUBLE)
            snprintf(range, sizeof(range), ", %g..%g", e->dmin, e->dmax);
        fprintf(out, "  %s (%s%s, default %s)%s\n      %s\n", e->name, type_names[e->type], range,
                e->def ? (e->def[0] ? e->def : "\"\"") : "null", e->status == CS_ACCEPTED ? " [later]" : "",
                e->doc);
    }
}

/* "key=value" into the config; unknown keys warn. exit code 2 on a bad value. */
static int
cli_override(sk_config_t *c, const char *kv, char *err, size_t err_len)
{
    const char *eq = strchr(kv, '=');
    char why[512];
    char *key;
    int rc;

    if (!eq || eq == kv) {
        snprintf(err, err_len, "--override expects key=value, got '%s'", kv);
        return SK_EINVAL;
    }
    key = dup_trim(kv, (size_t)(eq - kv));
    if (!key) return SK_ENOMEM;
    rc = key[0] ? config_set_src(c, key, eq + 1, SK_CONFIG_SRC_OVERRIDE, why, sizeof(why)) : SK_EINVAL;
    if (rc == SK_ENOENT) {
        SK_WARN("event=config_unknown_key key=\"%s\" source=--override", key);
        rc = SK_OK;
    } else if (rc != SK_OK) {
        if (key[0]) snprintf(err, err_len, "--override %s: %s", kv, why);
        else snprintf(err, err_len, "--override expects key=value, got '%s'", kv);
    }
    free(key);
    return rc;
}

/* First pass: options and their syntax. *path gets the properties file, if any. */
static int
cli_scan(int argc, char **argv, const char **path, int *exit_code)
{
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            sk_cli_usage(stdout);
            *exit_code = 0;
            return SK_AGAIN;
        }
        if (options && !strcmp(a, "--version")) {
            printf("skiffd %s\n", SKIFF_VERSION);
            *exit_code = 0;
            return SK_AGAIN;
        }
        if (options && !strcmp(a, "--override")) {
            if (++i == argc) {
                fprintf(stderr, "skiffd: --override needs key=value\n");
                goto usage;
            }
            continue;
        }
        if (options && !strncmp(a, "--override=", 11)) continue;
        if (options && !strcmp(a, "--")) {
            options = false;
            continue;
        }
        if (options && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "skiffd: unknown option %s\n", a);
            goto usage;
        }
        if (*path) {
            fprintf(stderr, "skiffd: more than one properties file (%s, %s)\n", *path, a);
            goto usage;
        }
        *path = a;
    }
    return SK_OK;
usage:
    fprintf(stderr, "usage: skiffd [server.properties] [--override key=value ...] [--help] [--version]\n");
    *exit_code = 2;
    return SK_AGAIN;
}

int
sk_cli_parse(int argc, char **argv, sk_config_t *c, int *exit_code)
{
    const char *path = NULL;
    char err[1024];
    int rc;

    *exit_code = 0;
    if (cli_scan(argc, argv, &path, exit_code) != SK_OK) return SK_AGAIN;
    if (path) {
        rc = sk_config_load_file(c, path, err, sizeof(err));
        if (rc != SK_OK && rc != SK_ENOENT) goto fail; /* unknown keys were warned about */
    }
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *kv = NULL;
        if (options && !strcmp(argv[i], "--")) options = false;
        else if (options && !strcmp(argv[i], "--override")) kv = argv[++i];
        else if (options && !strncmp(argv[i], "--override=", 11)) kv = argv[i] + 11;
        if (kv && (rc = cli_override(c, kv, err, sizeof(err))) != SK_OK) goto fail;
    }
    if ((rc = sk_config_finish(c, err, sizeof(err))) != SK_OK) goto fail;
    return SK_OK;
fail:
    fprintf(stderr, "skiffd: %s\n", err);
    *exit_code = 2;
    return SK_AGAIN;
}
