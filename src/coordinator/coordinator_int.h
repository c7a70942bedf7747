/* coordinator/coordinator_int.h: private to src/coordinator. The coordinator object,
 * groups, members and committed offsets, shared by coord.c (object, timers, load),
 * group.c (join/sync/heartbeat/leave), group_admin.c (describe/list/delete),
 * offsets.c (commit/fetch/delete/expiry) and records.c (__consumer_offsets records).
 *
 * Invariants (sk_coord_verify checks them):
 *  - a member has a join waiter only while its group is PreparingRebalance, and a sync
 *    waiter only while CompletingRebalance;
 *  - Stable and CompletingRebalance groups have members, a protocol and a leader that
 *    is a member; Empty groups have no members;
 *  - instance ids are unique within a group;
 *  - every waiter's callback runs exactly once (answered, or at sk_coord_free). */
#ifndef SK_COORDINATOR_INT_H
#define SK_COORDINATOR_INT_H

#include "coordinator.h"

typedef enum {
    GRP_EMPTY = 0,
    GRP_PREPARING,  /* PreparingRebalance: collecting joins */
    GRP_COMPLETING, /* CompletingRebalance: waiting for the leader's SyncGroup */
    GRP_STABLE,
    GRP_DEAD,
} grp_state_t;

typedef struct grp_proto {
    char *name;        /* owned */
    uint8_t *metadata; /* owned (may be NULL when len 0) */
    int32_t metadata_len;
} grp_proto_t;

typedef struct grp_member grp_member_t;
struct grp_member {
    grp_member_t *next;        /* group list, in join order */
    char *member_id;           /* owned */
    char *instance_id;         /* owned; NULL = dynamic */
    char *client_id;           /* owned */
    char *client_host;         /* owned */
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    grp_proto_t *protocols;    /* owned */
    int32_t protocol_count;
    uint8_t *assignment;       /* owned */
    int32_t assignment_len;
    int64_t heartbeat_deadline_ms;
    bool is_new;               /* joined in this rebalance for the first time */
    sk_grp_join_cb join_cb;    /* parked JoinGroup (NULL: none) */
    void *join_ctx;
    int16_t join_version;
    sk_grp_sync_cb sync_cb;    /* parked SyncGroup (NULL: none) */
    void *sync_ctx;
};

/* A member id handed out with MEMBER_ID_REQUIRED, valid until it rejoins or expires. */
typedef struct grp_pending {
    int64_t deadline_ms;
} grp_pending_t;

typedef struct sk_grp {
    char *group_id;            /* owned */
    grp_state_t state;
    int32_t generation_id;
    char *protocol_type;       /* owned; NULL until the first member */
    char *protocol_name;       /* owned; NULL unless a generation chose one */
    char *leader_id;           /* owned; NULL when none */
    grp_member_t *members;     /* owned list */
    int32_t member_count;
    sk_map_t pending;          /* member id -> grp_pending_t* (owned) */
    sk_map_t offsets;          /* "topic\0partition" -> sk_coord_offset_t* (owned) */
    int64_t join_deadline_ms;  /* PreparingRebalance: finish joining by then */
    int64_t initial_delay_until_ms; /* first rebalance of an empty group waits for more */
    int64_t sync_deadline_ms;  /* CompletingRebalance: leader must sync by then */
    int64_t state_wall_ms;     /* when the current state began (wall) */
    int32_t partition;         /* __consumer_offsets partition */
} sk_grp_t;

typedef struct sk_coord_offset {
    char *topic;               /* owned */
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;            /* owned, never NULL */
    int64_t commit_wall_ms;
    int64_t expire_wall_ms;    /* -1: by group retention */
} sk_coord_offset_t;

struct sk_coord {
    sk_coord_options_t opt;
    sk_coord_store_t store;    /* copy; append NULL = memory only */
    sk_map_t groups;           /* group id -> sk_grp_t* (owned) */
    int64_t next_retention_check_ms;
    uint64_t member_seq;       /* uniquifies generated member ids */
    struct off_txn_pending *txn_pending; /* owned list: TxnOffsetCommit offsets awaiting their marker */
};

/* One transactional offset commit waiting for its producer's marker (offsets.c). */
typedef struct off_txn_pending {
    struct off_txn_pending *next;
    int64_t producer_id;
    int32_t log_partition;     /* __consumer_offsets partition (the group's) */
    char *group_id;            /* owned */
    sk_coord_offset_t off;     /* topic, metadata owned */
} off_txn_pending_t;

/* ---- coord.c ---- */
int64_t coord_now(const sk_coord_t *c);
int64_t coord_wall(const sk_coord_t *c);
sk_grp_t *coord_group_get(const sk_coord_t *c, sk_str_t id);
sk_grp_t *coord_group_add(sk_coord_t *c, const char *id, size_t len);
void coord_group_remove(sk_coord_t *c, sk_grp_t *g);
char *coord_strdup(sk_str_t s); /* NULL on OOM; "" for null */

/* ---- group.c ---- */
grp_member_t *grp_member_find(const sk_grp_t *g, sk_str_t member_id);
grp_member_t *grp_member_by_instance(const sk_grp_t *g, sk_str_t instance_id);
void grp_member_remove(sk_coord_t *c, sk_grp_t *g, grp_member_t *m, int16_t waiter_error);
/* A member with the identity, timeouts and protocols of a join (deep copies), unlinked. */
grp_member_t *grp_member_new(const sk_grp_join_args_t *a, sk_str_t member_id);
void grp_member_free(grp_member_t *m);
void grp_prepare_rebalance(sk_coord_t *c, sk_grp_t *g);
void grp_tick(sk_coord_t *c, sk_grp_t *g, int64_t now);
void grp_fail_waiters(sk_grp_t *g, int16_t error);
const char *grp_state_name(grp_state_t s);
void grp_set_state(sk_coord_t *c, sk_grp_t *g, grp_state_t s);

/* ---- offsets.c ---- */
sk_coord_offset_t *off_get(const sk_grp_t *g, const char *topic, size_t topic_len, int32_t partition);
int off_put(sk_grp_t *g, const char *topic, size_t topic_len, int32_t partition, int64_t offset,
            int32_t leader_epoch, const char *metadata, size_t metadata_len, int64_t commit_ms, int64_t expire_ms);
void off_del(sk_grp_t *g, const char *topic, size_t topic_len, int32_t partition);
void off_clear(sk_grp_t *g);
void off_expire(sk_coord_t *c, int64_t wall_now);
/* Keep a transactional offset of producer_id until its marker (copies everything). */
int off_txn_pending_add(sk_coord_t *c, int64_t producer_id, const char *group, size_t group_len, int32_t log_partition,
                        const char *topic, size_t topic_len, int32_t partition, int64_t offset, int32_t leader_epoch,
                        const char *metadata, size_t metadata_len, int64_t commit_ms);
void off_txn_clear(sk_coord_t *c); /* drop every pending one (sk_coord_free) */

/* ---- records.c: Kafka's __consumer_offsets schemas ---- */
/* Key bytes of an offset commit (key version 1) or group metadata (key version 2). */
int rec_offset_key(sk_wr_t *w, const char *group, const char *topic, int32_t partition);
int rec_group_key(sk_wr_t *w, const char *group);
/* Value bytes: OffsetCommitValue v3 (v1 when an expire time is set). */
int rec_offset_value(sk_wr_t *w, const sk_coord_offset_t *o);
/* GroupMetadataValue v3 of the group's current generation and members. */
int rec_group_value(sk_wr_t *w, const sk_grp_t *g, int64_t wall_ms);
/* Append records (key/value pairs; value NULL/len -1 = tombstone) for one group. */
typedef struct rec_kv {
    sk_wr_t key;
    sk_wr_t value;
    bool tombstone;
} rec_kv_t;
int rec_append(sk_coord_t *c, int32_t partition, rec_kv_t *kvs, int32_t count);
/* The same with the batch's producer fields and attributes (transactional commits). */
int rec_append_spec(sk_coord_t *c, int32_t partition, rec_kv_t *kvs, int32_t count, const sk_batch_spec_t *spec);
/* Persist the group's metadata (or a tombstone when it is gone). */
int rec_store_group(sk_coord_t *c, sk_grp_t *g, bool tombstone);
/* Replay one partition. */
int rec_load_partition(sk_coord_t *c, sk_log_t *log);

/* ---- txn.c, txn_log.c: the transaction coordinator ----
 * Invariants (sk_txn_coord_verify): Ongoing and Prepare* transactions have a start time
 * and at least one partition; Empty and Complete* ones have no partitions; the epoch of a
 * live id is >= 0; marker_done is set only while Prepare*; every id maps to its
 * __transaction_state partition. */
typedef struct txn_part {
    char *topic;               /* owned */
    int32_t partition;
    bool marker_done;          /* Prepare*: this partition has its marker */
} txn_part_t;

typedef struct txn_meta {
    char *txn_id;              /* owned */
    int64_t producer_id;
    int16_t producer_epoch;
    int64_t prev_producer_id;  /* before the last id rollover; -1 none */
    int16_t last_epoch;        /* epoch before the last bump; -1 none */
    int32_t timeout_ms;
    sk_txn_state_t state;
    txn_part_t *parts;         /* owned array */
    int32_t part_count;
    int32_t part_cap;
    int64_t start_wall_ms;     /* -1 unless Ongoing/Prepare* */
    int64_t update_wall_ms;
    int32_t log_partition;     /* __transaction_state partition */
} txn_meta_t;

struct sk_txn_coord {
    sk_txn_options_t opt;
    sk_coord_store_t store;    /* copy; append NULL = memory only */
    sk_map_t txns;             /* transactional id -> txn_meta_t* (owned) */
    int64_t next_abort_check_ms;
    int64_t next_expire_check_ms;
    int64_t next_marker_retry_ms;
    bool markers_pending;      /* some Prepare* id has a marker left to write */
};

txn_meta_t *txn_meta_get(const sk_txn_coord_t *t, sk_str_t id);
txn_meta_t *txn_meta_add(sk_txn_coord_t *t, const char *id, size_t len);
void txn_meta_remove(sk_txn_coord_t *t, txn_meta_t *m);
int txn_part_add(txn_meta_t *m, const char *topic, size_t topic_len, int32_t partition);
void txn_parts_clear(txn_meta_t *m);
int64_t txn_wall(const sk_txn_coord_t *t);
/* Persist m as it is now (TransactionLogValue v0; Empty and Complete states carry no partitions). */
int txn_log_store(sk_txn_coord_t *t, const txn_meta_t *m);
/* Persist the removal of m's id (a tombstone). */
int txn_log_delete(sk_txn_coord_t *t, const txn_meta_t *m);
/* Replay one __transaction_state partition into t. */
int txn_log_load_partition(sk_txn_coord_t *t, sk_log_t *log);

/* records.c: read [offset, end) of an internal topic's log in chunks of whole batches
 * (1 MiB, at least one batch) and hand each chunk to fn, which sets *next to the offset
 * after the last batch it used. Stops at the first error of fn; SK_ENOMEM / SK_EIO for
 * its own failures. Used to load __consumer_offsets and __transaction_state. */
typedef int (*sk_coord_replay_fn)(void *ctx, const uint8_t *buf, size_t len, int64_t *next);
int sk_coord_log_replay(sk_log_t *log, int64_t offset, int64_t end, sk_coord_replay_fn fn, void *ctx);

/* coord.c: the internal-topic partition of a group or transactional id, as Kafka:
 * abs(Java String.hashCode(key)) % partitions. */
int32_t coord_partition_of(sk_str_t key, int32_t partitions);

#endif
