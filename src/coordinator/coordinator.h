/* coordinator/coordinator.h: the public surface of src/coordinator: the group
 * coordinator for Kafka's classic group protocol, the committed-offset store
 * (transactional offsets included) and the transaction coordinator (section
 * "transaction coordinator" below; docs/transactions.md).
 *
 * One sk_coord_t per broker, on the loop thread. Groups follow Kafka's state machine
 * (Empty -> PreparingRebalance -> CompletingRebalance -> Stable, Dead when deleted);
 * JoinGroup and SyncGroup may have to wait for other members, so they answer through a
 * callback that runs exactly once per call, either before the call returns or later
 * from sk_coord_tick / another member's request / sk_coord_free. Time comes from an
 * injected clock, so tests drive it by hand. Nothing here blocks.
 *
 * Durability: committed offsets and group metadata are records in the internal topic
 * __consumer_offsets, in Kafka's key/value schemas (docs/groups.md), appended through
 * the sk_coord_store_t the caller supplies (the broker appends through replication) and
 * read back by sk_coord_load at start-up. A group lives in partition
 * abs(java hash(group id)) % partitions. With no store (tests) state is memory only.
 *
 * Kafka error codes are response data (int16_t); C return values are SK_* codes. */
#ifndef SK_COORDINATOR_H
#define SK_COORDINATOR_H

#include "storage/storage.h"

/* Kafka error codes used only by groups (the rest are in protocol.h). */
enum {
    SK_KERR_GRP_NON_EMPTY_GROUP = 68,
    SK_KERR_GRP_GROUP_ID_NOT_FOUND = 69,
    SK_KERR_GRP_MEMBER_ID_REQUIRED = 79,
    SK_KERR_GRP_GROUP_MAX_SIZE_REACHED = 81,
    SK_KERR_GRP_FENCED_INSTANCE_ID = 82,
    SK_KERR_GRP_GROUP_SUBSCRIBED_TO_TOPIC = 86,
};

#define SK_COORD_OFFSETS_TOPIC "__consumer_offsets"
#define SK_COORD_METADATA_MAX_BYTES 4096 /* offset.metadata.max.bytes */

typedef struct sk_coord sk_coord_t;

/* Injected time: monotonic ms for deadlines, wall ms for record timestamps. */
typedef struct sk_coord_clock {
    int64_t (*mono_ms)(void *ctx);
    int64_t (*wall_ms)(void *ctx);
    void *ctx;
} sk_coord_clock_t;

/* Where records go. append gets one malloc'd magic-2 batch for partition `partition`
 * of __consumer_offsets (the callee may rewrite it in place; the coordinator frees it).
 * log returns that partition's log for loading (NULL: nothing to load). */
typedef struct sk_coord_store {
    int (*append)(void *ctx, int32_t partition, uint8_t *batch, size_t len);
    sk_log_t *(*log)(void *ctx, int32_t partition);
    void *ctx;
} sk_coord_store_t;

typedef struct sk_coord_options {
    int32_t offsets_partitions;          /* offsets.topic.num.partitions */
    int64_t offsets_retention_ms;        /* offsets.retention.minutes * 60000 */
    int64_t retention_check_interval_ms; /* offsets.retention.check.interval.ms */
    int32_t initial_rebalance_delay_ms;  /* group.initial.rebalance.delay.ms */
    int32_t min_session_timeout_ms;      /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;      /* group.max.session.timeout.ms */
    int32_t max_group_size;              /* group.max.size */
    sk_coord_clock_t clock;
    const sk_coord_store_t *store;       /* NULL: memory only */
} sk_coord_options_t;
void sk_coord_options_defaults(sk_coord_options_t *o); /* Kafka's defaults, real clocks */

int sk_coord_new(const sk_coord_options_t *opt, sk_coord_t **out);
/* Answers every parked join/sync with COORDINATOR_NOT_AVAILABLE, then frees. */
void sk_coord_free(sk_coord_t *c);
/* Replay __consumer_offsets into memory (groups with members come back Stable). */
int sk_coord_load(sk_coord_t *c);
/* Expire members, finish rebalances whose time is up, expire offsets. Call often. */
void sk_coord_tick(sk_coord_t *c);
int32_t sk_coord_partition_for(const sk_coord_t *c, sk_str_t group_id);
/* Walk every invariant (tests call it after each step). */
void sk_coord_verify(const sk_coord_t *c);

/* ---- classic group membership ---- */
typedef struct sk_grp_protocol {
    sk_str_t name;
    sk_bytes_t metadata;
} sk_grp_protocol_t;

typedef struct sk_grp_join_args {
    int16_t version;               /* JoinGroup version: >= 4 asks for MEMBER_ID_REQUIRED */
    sk_str_t group_id;
    sk_str_t member_id;            /* "" for a new member */
    sk_str_t instance_id;          /* group.instance.id; len -1 = dynamic member */
    sk_str_t protocol_type;
    sk_str_t client_id;
    sk_str_t client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;  /* -1: same as the session timeout (v0) */
    const sk_grp_protocol_t *protocols; /* borrowed for the call only */
    int32_t protocol_count;
} sk_grp_join_args_t;

/* One member as the leader sees it in the join answer. */
typedef struct sk_grp_join_member {
    const char *member_id;
    const char *instance_id;       /* NULL: dynamic */
    sk_bytes_t metadata;           /* for the selected protocol */
} sk_grp_join_member_t;

/* Valid only during the callback. */
typedef struct sk_grp_join_result {
    int16_t error_code;
    int32_t generation_id;
    const char *protocol_type;     /* NULL when unknown */
    const char *protocol_name;     /* NULL when unknown */
    const char *leader_id;         /* "" when unknown */
    const char *member_id;         /* the member's id (new ones get it here) */
    bool skip_assignment;
    const sk_grp_join_member_t *members; /* leader only; else count 0 */
    int32_t member_count;
} sk_grp_join_result_t;
typedef void (*sk_grp_join_cb)(void *ctx, const sk_grp_join_result_t *res);

void sk_grp_join(sk_coord_t *c, const sk_grp_join_args_t *a, sk_grp_join_cb cb, void *ctx);

typedef struct sk_grp_assignment {
    sk_str_t member_id;
    sk_bytes_t assignment;
} sk_grp_assignment_t;

typedef struct sk_grp_sync_args {
    sk_str_t group_id;
    int32_t generation_id;
    sk_str_t member_id;
    sk_str_t instance_id;          /* len -1: none */
    sk_str_t protocol_type;        /* len -1: not sent (before v5) */
    sk_str_t protocol_name;
    const sk_grp_assignment_t *assignments; /* leader only; borrowed for the call */
    int32_t assignment_count;
} sk_grp_sync_args_t;

typedef struct sk_grp_sync_result {
    int16_t error_code;
    const char *protocol_type;
    const char *protocol_name;
    sk_bytes_t assignment;         /* valid only during the callback */
} sk_grp_sync_result_t;
typedef void (*sk_grp_sync_cb)(void *ctx, const sk_grp_sync_result_t *res);

void sk_grp_sync(sk_coord_t *c, const sk_grp_sync_args_t *a, sk_grp_sync_cb cb, void *ctx);

int16_t sk_grp_heartbeat(sk_coord_t *c, sk_str_t group_id, int32_t generation_id, sk_str_t member_id,
                         sk_str_t instance_id);
/* One leaving member (LeaveGroup v3+ sends a batch: call once each). member_id may be
 * "" when instance_id names a static member. */
int16_t sk_grp_leave(sk_coord_t *c, sk_str_t group_id, sk_str_t member_id, sk_str_t instance_id);
/* Group-level check for LeaveGroup: NONE or UNKNOWN_MEMBER_ID / COORDINATOR_NOT_AVAILABLE. */
int16_t sk_grp_leave_check(sk_coord_t *c, sk_str_t group_id);

/* ---- admin views (copied into the caller's arena) ---- */
typedef struct sk_grp_member_desc {
    const char *member_id;
    const char *instance_id; /* NULL: dynamic */
    const char *client_id;
    const char *client_host;
    sk_bytes_t metadata;     /* empty unless Stable */
    sk_bytes_t assignment;   /* empty unless Stable */
} sk_grp_member_desc_t;

typedef struct sk_grp_desc {
    int16_t error_code;      /* GROUP_ID_NOT_FOUND when there is no such group */
    const char *state;       /* "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead" */
    const char *protocol_type;
    const char *protocol_name; /* "" unless Stable */
    sk_grp_member_desc_t *members;
    int32_t member_count;
} sk_grp_desc_t;
int sk_grp_describe(sk_coord_t *c, sk_str_t group_id, sk_arena_t *arena, sk_grp_desc_t *out);

typedef struct sk_grp_listed {
    const char *group_id;
    const char *protocol_type;
    const char *state;
} sk_grp_listed_t;
/* Every group (sorted by id). */
int sk_grp_list(sk_coord_t *c, sk_arena_t *arena, sk_grp_listed_t **out, int32_t *count);
/* DeleteGroups for one group: NONE, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ... */
int16_t sk_grp_delete(sk_coord_t *c, sk_str_t group_id);
const char *sk_grp_state_name_of(sk_coord_t *c, sk_str_t group_id); /* NULL if none */

/* ---- committed offsets ---- */
typedef struct sk_off_commit_args {
    sk_str_t group_id;
    int32_t generation_id;   /* -1: not using group management */
    sk_str_t member_id;
    sk_str_t instance_id;    /* len -1: none */
    int64_t retention_ms;    /* OffsetCommit v2-4 retention_time; -1 default */
} sk_off_commit_args_t;

typedef struct sk_off_entry {
    sk_str_t topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;    /* -1 none */
    sk_str_t metadata;       /* len -1: null (stored as "") */
    int16_t error_code;      /* out */
} sk_off_entry_t;

/* Validate the group and member, then store and persist every entry in one batch.
 * Entries must come with error_code NONE; one the caller already refused (e.g. an
 * unknown topic) keeps its error and is skipped. Errors are written into each entry.
 * Returns SK_OK or SK_ENOMEM. */
int sk_off_commit(sk_coord_t *c, const sk_off_commit_args_t *a, sk_off_entry_t *entries, int32_t count);

typedef struct sk_off_view {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    const char *metadata;
} sk_off_view_t;
/* One committed offset; SK_ENOENT when none (the caller answers offset -1). */
int sk_off_fetch(sk_coord_t *c, sk_str_t group_id, sk_str_t topic, int32_t partition, sk_off_view_t *out);
/* All committed offsets of a group, sorted by topic then partition, copied into arena. */
int sk_off_list(sk_coord_t *c, sk_str_t group_id, sk_arena_t *arena, sk_off_view_t **out, int32_t *count);
/* OffsetDelete: returns the group-level error; per-partition errors go into entries
 * (only topic/partition are read). */
int16_t sk_off_delete(sk_coord_t *c, sk_str_t group_id, sk_off_entry_t *entries, int32_t count);

/* ---- transaction coordinator (txn.c, txn_log.c; docs/transactions.md) ----
 * One sk_txn_coord_t per broker, on the loop thread, beside the group coordinator. A
 * transactional id moves through Kafka's states (sk_txn_state_t; the numbers are the
 * TransactionStatus stored in __transaction_state). Every change is persisted before it
 * is acknowledged; EndTxn writes PrepareCommit/PrepareAbort, then a marker to every
 * partition of the transaction (through the marker hook), then the Complete state.
 * Markers that fail are retried from sk_txn_coord_tick (every 500 ms); until they are
 * all written the id answers CONCURRENT_TRANSACTIONS. Time comes from the injected clock. */
#define SK_TXN_STATE_TOPIC "__transaction_state"
enum {
    SK_KERR_TXN_COORDINATOR_FENCED = 52,
    SK_KERR_TXN_OPERATION_NOT_ATTEMPTED = 55,
    SK_KERR_TXN_TRANSACTIONAL_ID_NOT_FOUND = 105,
};

typedef enum {
    SK_TXN_EMPTY = 0,
    SK_TXN_ONGOING = 1,
    SK_TXN_PREPARE_COMMIT = 2,
    SK_TXN_PREPARE_ABORT = 3,
    SK_TXN_COMPLETE_COMMIT = 4,
    SK_TXN_COMPLETE_ABORT = 5,
    SK_TXN_DEAD = 6,
    SK_TXN_PREPARE_EPOCH_FENCE = 7,
} sk_txn_state_t;
const char *sk_txn_state_name(sk_txn_state_t s); /* Kafka's names: "Ongoing", ... */

typedef struct sk_txn_coord sk_txn_coord_t;

/* What the coordinator needs from the broker. pid_next hands out a producer id that is
 * never repeated (shared with idempotent producers). marker appends a COMMIT or ABORT
 * control batch to one partition: SK_OK when written, SK_ENOENT when the partition no
 * longer exists (skipped), anything else: retried later. */
typedef struct sk_txn_hooks {
    int (*pid_next)(void *ctx, int64_t *id);
    int (*marker)(void *ctx, const char *topic, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                  bool commit, int32_t coordinator_epoch);
    void *ctx;
} sk_txn_hooks_t;

typedef struct sk_txn_options {
    int32_t state_partitions;          /* transaction.state.log.num.partitions */
    int32_t max_timeout_ms;            /* transaction.max.timeout.ms */
    int64_t abort_check_interval_ms;   /* transaction.abort.timed.out.transaction.cleanup.interval.ms */
    int64_t id_expiration_ms;          /* transactional.id.expiration.ms */
    int64_t expire_check_interval_ms;  /* transaction.remove.expired.transaction.cleanup.interval.ms */
    sk_coord_clock_t clock;
    const sk_coord_store_t *store;     /* __transaction_state; NULL: memory only */
    sk_txn_hooks_t hooks;
    sk_coord_t *groups;                /* borrowed: pending TxnOffsetCommit offsets; may be NULL */
} sk_txn_options_t;
void sk_txn_options_defaults(sk_txn_options_t *o);

int sk_txn_coord_new(const sk_txn_options_t *opt, sk_txn_coord_t **out);
void sk_txn_coord_free(sk_txn_coord_t *t);
/* Replay __transaction_state, then finish every transaction found in PrepareCommit or
 * PrepareAbort (markers, then the Complete state). */
int sk_txn_coord_load(sk_txn_coord_t *t);
/* Abort transactions past their timeout (epoch bumped: the producer is fenced), retry
 * markers that failed, and forget ids idle (Empty or Complete*) for longer than
 * transactional.id.expiration.ms (a tombstone in __transaction_state). Call often. */
void sk_txn_coord_tick(sk_txn_coord_t *t);
void sk_txn_coord_verify(const sk_txn_coord_t *t);
int32_t sk_txn_partition_for(const sk_txn_coord_t *t, sk_str_t transactional_id);

/* InitProducerId with a transactional id. expected_* are the v3+ fields (-1: none).
 * A new id gets a fresh producer id at epoch 0; a known one gets its epoch bumped (an
 * ongoing transaction is aborted first), which fences the older instance. */
typedef struct sk_txn_init_result {
    int16_t error_code;
    int64_t producer_id;
    int16_t producer_epoch;
} sk_txn_init_result_t;
void sk_txn_init_producer(sk_txn_coord_t *t, sk_str_t transactional_id, int32_t timeout_ms,
                          int64_t expected_producer_id, int16_t expected_producer_epoch, sk_txn_init_result_t *res);

typedef struct sk_txn_tp {
    sk_str_t topic;
    int32_t partition;
    int16_t error_code;  /* in: NONE, or the caller's refusal (kept); out: the answer */
} sk_txn_tp_t;
/* AddPartitionsToTxn (verify_only: check that each is in the ongoing transaction).
 * Returns the transaction-level error; per-partition errors go into tps. */
int16_t sk_txn_add_partitions(sk_txn_coord_t *t, sk_str_t transactional_id, int64_t producer_id,
                              int16_t producer_epoch, sk_txn_tp_t *tps, int32_t count, bool verify_only);
/* AddOffsetsToTxn: adds the group's __consumer_offsets partition. */
int16_t sk_txn_add_offsets(sk_txn_coord_t *t, sk_str_t transactional_id, int64_t producer_id, int16_t producer_epoch,
                           sk_str_t group_id);
/* EndTxn. The answer is given once the Prepare state is durable and the markers are
 * written (they are local appends). */
int16_t sk_txn_end(sk_txn_coord_t *t, sk_str_t transactional_id, int64_t producer_id, int16_t producer_epoch,
                   bool commit);
/* EndTxn v5, transactions v2 (KIP-890 part 2): every commit or abort bumps the epoch
 * (markers carry the new one; a new producer id once the epoch is exhausted), also for
 * a transaction to which nothing was added; a retry with the epoch just replaced gets
 * the same answer. *out_pid / *out_epoch: what the producer uses next. */
int16_t sk_txn_end_v2(sk_txn_coord_t *t, sk_str_t transactional_id, int64_t producer_id, int16_t producer_epoch,
                      bool commit, int64_t *out_pid, int16_t *out_epoch);
/* KIP-890 part 1: may this transactional batch go to topic/partition? NONE when the
 * partition is in the ongoing transaction of exactly this producer id and epoch. */
int16_t sk_txn_produce_check(const sk_txn_coord_t *t, sk_str_t transactional_id, int64_t producer_id,
                             int16_t producer_epoch, const char *topic, size_t topic_len, int32_t partition);
/* TxnOffsetCommit's check: the group's offsets partition is in the ongoing transaction. */
int16_t sk_txn_offsets_check(const sk_txn_coord_t *t, sk_str_t transactional_id, int64_t producer_id,
                             int16_t producer_epoch, sk_str_t group_id);

/* ---- admin views (copied into the caller's arena) ---- */
typedef struct sk_txn_desc {
    int16_t error_code;          /* TRANSACTIONAL_ID_NOT_FOUND when unknown */
    const char *state;
    int32_t timeout_ms;
    int64_t start_wall_ms;       /* -1 unless a transaction is open */
    int64_t producer_id;
    int16_t producer_epoch;
    sk_txn_tp_t *partitions;     /* topic strings in the arena */
    int32_t partition_count;
} sk_txn_desc_t;
int sk_txn_describe(sk_txn_coord_t *t, sk_str_t transactional_id, sk_arena_t *arena, sk_txn_desc_t *out);

typedef struct sk_txn_listed {
    const char *transactional_id;
    int64_t producer_id;
    const char *state;
} sk_txn_listed_t;
/* Filters: states by name (none: all), producer ids (none: all), duration_ms (-1: all;
 * else only transactions open longer). Sorted by transactional id. */
int sk_txn_list(sk_txn_coord_t *t, const sk_str_t *states, int32_t state_count, const int64_t *pids,
                int32_t pid_count, int64_t duration_ms, sk_arena_t *arena, sk_txn_listed_t **out, int32_t *count);

/* ---- transactional offset commits (offsets.c) ----
 * TxnOffsetCommit: validate the group like a commit, then write the offsets to
 * __consumer_offsets as a transactional batch of producer_id/epoch and keep them pending:
 * invisible to OffsetFetch until the commit marker, dropped on abort. */
int sk_off_txn_commit(sk_coord_t *c, int64_t producer_id, int16_t producer_epoch, const sk_off_commit_args_t *a,
                      sk_off_entry_t *entries, int32_t count);
/* A marker of producer_id was written to __consumer_offsets partition `partition`:
 * apply (commit) or drop (abort) its pending offsets there. */
void sk_off_txn_complete(sk_coord_t *c, int64_t producer_id, int32_t partition, bool commit);
/* Is a transactional commit of this group's topic/partition waiting for its marker?
 * OffsetFetch with require_stable (v7+) answers UNSTABLE_OFFSET_COMMIT (88) then, as
 * Kafka does (KIP-447), so a new owner does not start from an offset about to move. */
bool sk_off_txn_pending(const sk_coord_t *c, sk_str_t group_id, sk_str_t topic, int32_t partition);

#endif
