/* storage/storage_int.h: private structures of src/storage, shared by index.c (offset
 * and time indexes), segment.c (one segment's files, batch scanning, recovery of one
 * segment), log.c (the partition log: append, read, lookups, verify), meta.c (the small
 * text files: checkpoints, leader epochs, partition.metadata) and logmgr.c (the data
 * directory). Everything runs on the thread that owns the partition.
 * Invariants (checked by sk_log_verify): segments sorted by base offset and contiguous
 * (each one's next_offset is the next one's base offset, the last one's is the LEO);
 * index entries strictly increasing in offset and position, inside their segment;
 * time index timestamps strictly increasing. Format: docs/storage-format.md. */
#ifndef SK_STORAGE_INT_H
#define SK_STORAGE_INT_H

#include "storage/storage.h"

#include <pthread.h>

#define SK_OFFIDX_ENTRY_SIZE 8   /* relative offset u32, position u32 */
#define SK_TIMEIDX_ENTRY_SIZE 12 /* timestamp i64, relative offset u32 */
#define SK_SEG_NAME_DIGITS 20
#define SK_CLEAN_SHUTDOWN_FILE ".skiff-clean-shutdown"
#define SK_EPOCH_FILE "leader-epoch-checkpoint"
#define SK_PARTMETA_FILE "partition.metadata"
#define SK_CKPT_RECOVERY "recovery-point-offset-checkpoint"
#define SK_CKPT_REPLICATION "replication-offset-checkpoint"
#define SK_CKPT_LOG_START "log-start-offset-checkpoint"
#define SK_CKPT_CLEANER "cleaner-offset-checkpoint"
#define SK_SCAN_BLOCK_BYTES (16 * 1024)  /* one pread while scanning batch headers */
#define SK_META_FILE_MAX_BYTES (64u << 20) /* cap on checkpoint files we read */
#define SK_PATH_MAX 4096
#define SK_INDEX_ALLOC_BYTES (64u << 10) /* index blocks are allocated this much at a time */
#define SK_LOOKUP_DECOMPRESS_MAX (256u << 20) /* cap when a time lookup reads a batch */
_Static_assert(SK_SCAN_BLOCK_BYTES >= SK_BATCH_HEADER_SIZE, "scan block holds a header");

/* ---- index.c: one .index or .timeindex file ----
 * The active segment's index is sized to segment_index_bytes as a sparse file and mapped
 * read-write, its disk blocks allocated SK_INDEX_ALLOC_BYTES at a time ahead of the
 * entries written; a sealed one is trimmed to its entries and mapped read-only. */
typedef struct sk_index {
    int fd;              /* owned; -1 once a sealed index has been synced and closed */
    uint8_t *map;        /* owned mapping of map_bytes (NULL when map_bytes is 0) */
    size_t map_bytes;
    int32_t entries;     /* valid entries */
    int32_t max_entries; /* capacity of the mapping */
    size_t alloc_bytes;  /* writable: bytes from the start known to have disk blocks */
    int32_t entry_size;  /* SK_OFFIDX_ENTRY_SIZE or SK_TIMEIDX_ENTRY_SIZE */
    bool writable;
} sk_index_t;

/* Open (creating if missing). writable: size to max_bytes (sparse) and map read-write;
 * else map the file as it is. Entries = file size / entry size, rounded down. */
int sk_index_open(sk_index_t *ix, const char *path, int32_t entry_size, int32_t max_bytes, bool writable);
void sk_index_close(sk_index_t *ix); /* unmaps and closes; does not trim */
/* Shrink the file to its entries and remap read-only (sealing or clean close). */
int sk_index_trim(sk_index_t *ix);
int sk_index_sync(sk_index_t *ix);
void sk_index_reset(sk_index_t *ix); /* forget all entries (rebuild) */
bool sk_index_full(const sk_index_t *ix);
void sk_index_append_off(sk_index_t *ix, uint32_t rel_offset, uint32_t pos);
void sk_index_append_time(sk_index_t *ix, int64_t ts, uint32_t rel_offset);
void sk_index_entry_off(const sk_index_t *ix, int32_t i, uint32_t *rel_offset, uint32_t *pos);
void sk_index_entry_time(const sk_index_t *ix, int32_t i, int64_t *ts, uint32_t *rel_offset);
/* Largest entry with relative offset <= rel (offset index) or timestamp <= ts (time
 * index); -1 when none. */
int32_t sk_index_find_off(const sk_index_t *ix, uint32_t rel);
int32_t sk_index_find_time(const sk_index_t *ix, int64_t ts);
/* Last offset-index entry with pos <= pos_max and relative offset < rel_max; -1 if none. */
int32_t sk_index_find_bound(const sk_index_t *ix, uint32_t pos_max, uint32_t rel_max);

/* ---- segment.c: one segment ---- */
typedef struct sk_seg {
    const char *dir;         /* borrowed: the owning log's directory */
    int64_t base_offset;
    int64_t next_offset;     /* last offset of the last batch + 1; base_offset if empty */
    int64_t size_bytes;      /* bytes of whole batches in .log */
    sk_fref_t *log;          /* ref held: the .log fd; slices take their own refs */
    sk_index_t oidx;         /* owned */
    sk_index_t tidx;         /* owned */
    int64_t max_ts;          /* largest batch max timestamp, -1 when no batch has one */
    int64_t max_ts_offset;   /* last offset of the batch holding max_ts */
    int64_t bytes_since_index;
    int64_t roll_base_ts;    /* max timestamp of the first batch, -1 unknown */
    int64_t created_ms;      /* wall time the segment was opened or created */
    bool active;
    bool synced;             /* everything written has been fsynced */
} sk_seg_t;

/* Block reader over a segment file: reads a block at a time into a caller's buffer,
 * so a scan over batch headers costs one pread per block, not one per batch. */
typedef struct sk_scan {
    int fd;                  /* borrowed */
    int64_t limit;           /* read no further than this file position */
    uint8_t *buf;            /* borrowed: cap bytes */
    size_t cap;
    int64_t buf_pos;         /* file position of buf[0] */
    size_t buf_len;
} sk_scan_t;
void sk_scan_init(sk_scan_t *s, int fd, int64_t limit, uint8_t *buf, size_t cap);
/* Make [pos, pos+len) (len <= cap) available; *p points at it. SK_ECORRUPT if it passes
 * the limit or the file is shorter, SK_EIO on a failed read. */
int sk_scan_get(sk_scan_t *s, int64_t pos, size_t len, const uint8_t **p);
/* Header of the batch at pos: SK_OK, SK_ENOENT at the limit, SK_ECORRUPT for a bad or
 * torn header (or a batch that passes the limit), SK_EIO. */
int sk_scan_hdr(sk_scan_t *s, int64_t pos, sk_batch_hdr_t *h);

void sk_seg_path(char *out, size_t cap, const char *dir, int64_t base_offset, const char *ext);
/* Create a new, empty active segment (dir is borrowed for the segment's life). */
int sk_seg_create(const char *dir, int64_t base_offset, const sk_log_config_t *cfg, sk_seg_t **out);
/* Open an existing segment trusting its index (clean stop); finds next_offset by a
 * short scan from the last index entry. SK_ECORRUPT when that does not add up. */
int sk_seg_open(const char *dir, int64_t base_offset, const sk_log_config_t *cfg, bool active, sk_seg_t **out);
/* Epoch callback used while recovering: (epoch, batch base offset) for each batch. */
typedef void (*sk_seg_epoch_cb)(void *ctx, int32_t epoch, int64_t base_offset);
/* Re-validate every batch, truncate a torn or corrupt tail, rebuild both indexes.
 * *truncated_bytes gets how much was cut. */
int sk_seg_recover(sk_seg_t *seg, const sk_log_config_t *cfg, sk_seg_epoch_cb cb, void *ctx,
                   int64_t *truncated_bytes);
/* Seal: final time index entry, trim both indexes, map read-only. */
int sk_seg_seal(sk_seg_t *seg);
/* Activate a sealed segment again (it became the last one after a truncation). */
int sk_seg_activate(sk_seg_t *seg, const sk_log_config_t *cfg);
int sk_seg_sync(sk_seg_t *seg);
void sk_seg_free(sk_seg_t *seg); /* closes; the .log fd lives on while slices hold it */
int sk_seg_unlink(const char *dir, int64_t base_offset); /* remove the three files */
/* File position of the batch containing `offset` (or the first batch after it);
 * *pos = size_bytes when none. */
int sk_seg_find(const sk_seg_t *seg, int64_t offset, int64_t *pos, sk_batch_hdr_t *h, bool *found);
/* Index bookkeeping after a batch of total bytes at pos was appended (or recovered). */
void sk_seg_note_batch(sk_seg_t *seg, const sk_batch_hdr_t *h, int64_t pos, int64_t total,
                       int32_t index_interval_bytes);

/* ---- meta.c: text files ---- */
typedef struct sk_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
} sk_epoch_entry_t;
typedef struct sk_epochs {
    sk_epoch_entry_t *v; /* owned; epochs and start offsets strictly increasing */
    int32_t count;
    int32_t cap;
} sk_epochs_t;
int sk_epochs_load(sk_epochs_t *e, const char *dir);
int sk_epochs_store(const sk_epochs_t *e, const char *dir, bool do_fsync);
/* Record epoch from start_offset if it is newer than the latest; true if added. */
bool sk_epochs_assign(sk_epochs_t *e, int32_t epoch, int64_t start_offset);
void sk_epochs_truncate_from_end(sk_epochs_t *e, int64_t end_offset);
void sk_epochs_free(sk_epochs_t *e);

int sk_partmeta_write(const char *dir, const sk_uuid_t *topic_id);
int sk_partmeta_read(const char *dir, sk_uuid_t *topic_id);

/* One line of an offset checkpoint file. */
typedef struct sk_ckpt_entry {
    char *topic; /* owned */
    int32_t partition;
    int64_t offset;
} sk_ckpt_entry_t;
typedef struct sk_ckpt {
    sk_ckpt_entry_t *v; /* owned */
    int32_t count;
    int32_t cap;
} sk_ckpt_t;
int sk_ckpt_read(sk_ckpt_t *c, const char *path); /* missing file = empty */
int sk_ckpt_add(sk_ckpt_t *c, const char *topic, int32_t partition, int64_t offset);
int sk_ckpt_write(sk_ckpt_t *c, const char *path); /* sorts, writes atomically with fsync */
bool sk_ckpt_get(const sk_ckpt_t *c, const char *topic, int32_t partition, int64_t *offset);
void sk_ckpt_free(sk_ckpt_t *c);

/* ---- producer_state.c: idempotent producers of one partition ----
 * Per producer id the epoch and the metadata of its last SK_PRODUCER_BATCHES_RETAINED
 * batches (oldest first), as Kafka's ProducerStateEntry keeps them. Snapshots are
 * <20-digit offset>.snapshot files in Kafka's ProducerSnapshot v1 layout, holding the
 * state of every producer as of that offset (only the last batch of each). */
#define SK_SNAPSHOT_EXT ".snapshot"
#define SK_SNAPSHOT_VERSION 1
#define SK_SNAPSHOT_HEADER_SIZE 10  /* version i16, crc u32, entry count i32 */
#define SK_SNAPSHOT_ENTRY_SIZE 46   /* pid, epoch, last seq, last offset, delta, ts, coord epoch, txn */
#define SK_SNAPSHOTS_KEPT 3         /* newest snapshots kept; older ones are deleted */
#define SK_PRODUCERS_MAX 100000     /* per partition; beyond it the least recent are evicted */
#define SK_PRODUCER_EXPIRE_MS (24LL * 3600 * 1000) /* producer.id.expiration.ms default */
typedef struct sk_pbatch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t first_offset;
    int64_t last_offset;
    int64_t timestamp;       /* batch max timestamp (or append time) */
} sk_pbatch_t;
typedef struct sk_pentry {
    int64_t producer_id;
    int16_t epoch;           /* -1 until the first batch */
    int32_t coordinator_epoch;
    int64_t last_timestamp;
    int64_t txn_first_offset;    /* first offset of its ongoing transaction, -1: none */
    sk_pbatch_t batches[SK_PRODUCER_BATCHES_RETAINED]; /* oldest first */
    int32_t batch_count;
    /* borrowed: neighbours in the pstate's list of ongoing transactions (txn.c), which is
     * ordered by txn_first_offset; both NULL when not in it (or alone in it) */
    struct sk_pentry *txn_prev, *txn_next;
} sk_pentry_t;
typedef struct sk_pstate {
    sk_map_t producers;      /* 8-byte big-endian producer id -> sk_pentry_t * (owned) */
    /* borrowed (entries are owned by the map): producers with an ongoing transaction,
     * ascending by txn_first_offset; the head decides the last stable offset */
    sk_pentry_t *txn_head, *txn_tail;
    int32_t txn_count;
} sk_pstate_t;
void sk_pstate_init(sk_pstate_t *ps);
void sk_pstate_deinit(sk_pstate_t *ps);
sk_pentry_t *sk_pstate_get(const sk_pstate_t *ps, int64_t producer_id);
/* Check the producer fields of a client batch (h, offsets not yet assigned) against the
 * state. *kerr gets the Kafka error (NONE when it may be appended); *dup points at the
 * cached batch when h is a retry of one of the retained batches (then nothing must be
 * written). Batches without a producer id always pass. */
void sk_pstate_check(const sk_pstate_t *ps, const sk_batch_hdr_t *h, int16_t *kerr, const sk_pbatch_t **dup);
/* Record an appended (or recovered) batch whose base offset is assigned. timestamp:
 * the batch's (max or append) timestamp; now_ms: the broker's clock (-1 in recovery). */
int sk_pstate_update(sk_pstate_t *ps, const sk_batch_hdr_t *h, int64_t timestamp, int64_t now_ms);
/* Drop producers whose last batch is older than now_ms - expire_ms. */
void sk_pstate_expire(sk_pstate_t *ps, int64_t now_ms, int64_t expire_ms);
/* Write <dir>/<offset>.snapshot atomically (temp file + rename); keeps the newest
 * SK_SNAPSHOTS_KEPT snapshots. */
int sk_pstate_snapshot_write(const sk_pstate_t *ps, const char *dir, int64_t offset, bool do_fsync);
/* Parse a snapshot file image into ps (SK_ECORRUPT on a bad version, size or CRC). */
int sk_pstate_snapshot_parse(sk_pstate_t *ps, const uint8_t *p, size_t len);
/* Transactions. A transactional data batch opens its producer's transaction (linking
 * the entry into the ongoing list) in sk_pstate_update. sk_pstate_check_marker checks
 * a marker's producer and coordinator epochs (*kerr INVALID_PRODUCER_EPOCH or
 * TRANSACTION_COORDINATOR_FENCED); sk_pstate_end_txn applies a written marker: the
 * entry takes the marker's epochs and leaves the ongoing list. *first_offset gets the
 * first offset of the transaction it ended (-1 when none was open); *lso_after the
 * last stable offset right after it (head of the list, or marker offset + 1). */
void sk_pstate_check_marker(const sk_pstate_t *ps, int64_t producer_id, int16_t epoch, int32_t coordinator_epoch,
                            int16_t *kerr);
int sk_pstate_end_txn(sk_pstate_t *ps, int64_t producer_id, int16_t epoch, int32_t coordinator_epoch,
                      int64_t marker_offset, int64_t timestamp, int64_t *first_offset, int64_t *lso_after);
/* First offset of the oldest ongoing transaction, -1 when none. */
int64_t sk_pstate_first_unstable(const sk_pstate_t *ps);
void sk_pstate_verify(const sk_pstate_t *ps);
/* Sequence helpers with Kafka's wrap-around at INT32_MAX. */
int32_t sk_seq_add(int32_t seq, int32_t delta);
int32_t sk_seq_sub(int32_t seq, int32_t delta);

/* ---- txn.c: markers, last stable offset, aborted-transaction index ----
 * <base>.txnindex of a segment holds the transactions aborted by markers in that
 * segment, in Kafka's AbortedTxn layout (big-endian): version i16 (0), producer id i64,
 * first offset i64, last offset i64 (the marker's), last stable offset i64 (after the
 * abort). All entries of a log are also kept in memory, ascending by last offset. */
#define SK_TXNIDX_EXT ".txnindex"
#define SK_TXNIDX_ENTRY_SIZE 34
#define SK_TXNIDX_VERSION 0
#define SK_TXNIDX_FILE_MAX_BYTES (256u << 20) /* cap on one .txnindex read at open */
typedef struct sk_aborted {
    int64_t producer_id;
    int64_t first_offset;
    int64_t last_offset;
    int64_t lso;
} sk_aborted_t;
typedef struct sk_txnidx {
    sk_aborted_t *v;         /* owned: ascending last_offset */
    int32_t count;
    int32_t cap;
    int fd;                  /* owned: .txnindex of segment fd_base, appended to; -1 */
    int64_t fd_base;
    bool dirty;              /* fd has writes not yet fsynced */
    bool created;            /* fd's file is new: its directory entry is not yet synced */
} sk_txnidx_t;
void sk_txnidx_init(sk_txnidx_t *t);
void sk_txnidx_deinit(sk_txnidx_t *t);
/* Read the .txnindex of every segment into log->aborted (at open, before the producer
 * state). *valid_below: the base of the first segment whose file is corrupt (entries
 * from there on must be rebuilt by replay), INT64_MAX when all are sound. */
int sk_txn_index_load(sk_log_t *log, int64_t *valid_below);
/* Forget entries whose last offset is >= offset, in memory and in the files (replay
 * rebuilds them). */
int sk_txn_index_truncate(sk_log_t *log, int64_t offset);
/* Forget entries of segments removed from the front (last offset < offset). */
void sk_txn_index_drop_below(sk_log_t *log, int64_t offset);
/* fsync the .txnindex written to since the last flush (sk_log_flush). */
int sk_txn_index_sync(sk_log_t *log);
/* Apply a written (or recovered) marker at offset: end the producer's transaction and,
 * for an abort that ended one, add it to the aborted index. */
int sk_txn_marker_apply(sk_log_t *log, int64_t producer_id, int16_t epoch, bool commit, int32_t coordinator_epoch,
                        int64_t offset, int64_t timestamp);
/* Parse a control batch's record: commit or abort, coordinator epoch. SK_ECORRUPT when
 * it is not a well-formed transaction marker (e.g. another control type). */
int sk_txn_marker_parse(const uint8_t *batch, size_t len, bool *commit, int32_t *coordinator_epoch);
void sk_txn_verify(const sk_log_t *log); /* called by sk_log_verify */
/* sk_log_append wrote the control batch (h, with its assigned offset): apply it if it
 * is a transaction marker (other control types are stored and otherwise ignored). */
int sk_txn_control_appended(sk_log_t *log, const uint8_t *batch, size_t len, const sk_batch_hdr_t *h, int64_t now_ms);

/* ---- log.c: the partition log ---- */
struct sk_log {
    char *topic;         /* owned */
    int32_t partition;
    sk_uuid_t topic_id;
    char *dir;           /* owned: <data dir>/<topic>-<partition> */
    sk_log_config_t cfg;
    sk_seg_t **segs;     /* owned: ascending base offset; the last is active */
    int32_t seg_count;
    int32_t seg_cap;
    sk_epochs_t epochs;  /* owned */
    int64_t start_offset;
    int64_t leo;
    int64_t hw;
    int64_t recovery_point;   /* everything below is fsynced */
    int64_t unflushed_records;
    int64_t dirty_since_ms;   /* flush_due's clock when unflushed data was first seen; -1 */
    bool offline;             /* a write failed: refuse appends */
    bool dir_dirty;           /* a segment file was created since the directory was last
                               * fsynced: the next flush must sync the directory too */
    bool *dir_offline;        /* borrowed: the log manager's flag (NULL outside one): a
                               * failed fsync anywhere takes the whole data dir offline */
    sk_pstate_t pstate;       /* owned: idempotent producer state */
    /* cleaner*.c: compaction */
    int64_t clean_offset;     /* below it the log is clean (cleaner-offset-checkpoint); -1 */
    int64_t clean_horizon_ms; /* earliest tombstone delete horizon written by the cleaner,
                               * -1 none: when it passes, the log is cleanable again */
    bool cleaning;            /* a rewrite of its segments is with the cleaner thread */
    sk_txnidx_t aborted;      /* owned: aborted transactions of every segment (txn.c) */
    /* flusher.c: fsync on the flusher thread */
    sk_flusher_t *flusher;    /* borrowed: the manager's (NULL: flush synchronously) */
    struct flush_job *flush_job; /* the log's job in flight (owned by the flusher) or NULL */
    bool flush_again;         /* a flush was asked for while the job ran */
    int64_t durable_offset;   /* everything below is fsynced */
    sk_flush_waiter_t *waiters, *waiters_tail; /* borrowed: parked callers, by offset */
    sk_trash_t *trash;        /* borrowed: the manager's (NULL: unlink at once) */
};

/* Open a partition directory. ckpt_* are the data dir's checkpoint values (-1 absent). */
typedef struct sk_log_open_args {
    const char *dir;
    const char *topic;
    int32_t partition;
    const sk_log_config_t *cfg;
    bool clean;               /* clean-shutdown marker was present */
    int64_t recovery_point;   /* -1 = unknown: recover everything */
    int64_t start_offset;     /* -1 = first segment's base */
    int64_t hw;               /* -1 = unknown */
} sk_log_open_args_t;
int sk_log_open(const sk_log_open_args_t *a, sk_log_t **out);
int sk_log_create_new(const char *dir, const char *topic, int32_t partition, const sk_uuid_t *topic_id,
                      const sk_log_config_t *cfg, sk_log_t **out);
/* Flush (if flush is set), seal the indexes to their real sizes and free. */
int sk_log_close(sk_log_t *log, bool flush);
sk_seg_t *sk_log_seg_for(const sk_log_t *log, int64_t offset); /* floor segment or NULL */
int sk_log_seg_push(sk_log_t *log, sk_seg_t *seg);
typedef struct flush_job flush_job_t;
/* flusher.c: the log is closing: its job finishes without it, its waiters fail. */
void sk_log_flush_detach(sk_log_t *log);
/* trash.c: remove a segment's files the way the log is set up to: renamed to .deleted
 * and unlinked on the trash thread, or unlinked at once (no trash attached). Use it
 * for segments of a live log (retention, DeleteRecords, the cleaner's swap). */
int sk_log_seg_unlink(sk_log_t *log, int64_t base_offset);
/* trash.c: hand a renamed directory (a deleted partition) to the trash thread, or
 * remove it at once when t is NULL. */
int sk_trash_dir(sk_trash_t *t, const char *path);
/* Remove <name>.deleted files left in a partition directory by a crash. */
void sk_trash_sweep_dir(const char *dir);
/* Start a storage worker thread (flusher, trash, cleaner) with every signal blocked, so
 * that SIGTERM and SIGINT always reach the loop thread's handlers (a signal delivered
 * to a worker that does not block it would take its default action: kill the process
 * without a clean shutdown). */
int sk_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* ---- cleaner*.c: compaction (docs/compaction.md) ----
 * The loop thread describes a log's cleanable sealed segments in a task (refs on their
 * files held by the task, taken and dropped on the loop thread only); the cleaner
 * thread fills the key map and writes <base>.{log,index,timeindex}.cleaned per group
 * of segments (sk_clean_task_run); the loop thread swaps them in if those segments are
 * still the log's (sk_clean_task_install). */
#define SK_CLEANED_EXT ".cleaned"
#define SK_SWAP_EXT ".swap"
typedef struct sk_clean_slot {
    uint64_t h1, h2;         /* 128-bit hash of the key */
    int64_t offset;          /* newest offset of the key */
    bool used, offset_set;
} sk_clean_slot_t;
typedef struct sk_clean_map {
    sk_clean_slot_t *slots;  /* owned: slot_count, a power of two */
    size_t slot_count;
    size_t entries;
    size_t max_entries;      /* 90% of the slots */
} sk_clean_map_t;
int sk_clean_map_init(sk_clean_map_t *m, int64_t bytes);
void sk_clean_map_deinit(sk_clean_map_t *m);
bool sk_clean_map_put(sk_clean_map_t *m, const uint8_t *key, size_t len, int64_t offset); /* false: full */
bool sk_clean_map_get(const sk_clean_map_t *m, const uint8_t *key, size_t len, int64_t *offset);
typedef struct sk_clean_seg {
    int64_t base_offset;
    int64_t next_offset;
    int64_t size_bytes;
    sk_fref_t *file;         /* ref held by the task */
} sk_clean_seg_t;
typedef struct sk_clean_prod {
    int64_t producer_id;
    int64_t last_offset;     /* last offset of its last batch */
} sk_clean_prod_t;
typedef struct sk_clean_group {
    int32_t first, count;    /* task->segs[first .. first+count) become one segment */
    bool written;            /* its .cleaned files exist */
    int64_t size_bytes;      /* of the cleaned .log */
} sk_clean_group_t;
typedef struct sk_clean_task {
    char *dir;               /* owned copy of the log's directory */
    char *topic;             /* owned copy */
    int32_t partition;
    sk_clean_seg_t *segs;    /* owned: the sealed segments below first_uncleanable */
    int32_t seg_count;
    sk_clean_prod_t *prods;  /* owned: ascending producer id */
    int32_t prod_count;
    int64_t first_dirty;
    int64_t first_uncleanable;
    int64_t now_ms;
    int64_t delete_retention_ms;
    int64_t segment_bytes;
    int32_t index_interval_bytes;
    int64_t map_bytes;
    int32_t io_buffer_bytes;
    const _Atomic int *cancel; /* borrowed, may be NULL: non-zero abandons the work */
    /* results (cleaner thread) */
    int rc;
    int64_t map_end;         /* the map covers [first_dirty, map_end): the new boundary */
    sk_clean_group_t *groups; /* owned */
    int32_t group_count;
    int64_t min_horizon_ms;  /* earliest delete horizon written, -1 none */
    sk_clean_stats_t stats;
    struct sk_clean_task *next; /* the cleaner's queue */
} sk_clean_task_t;
int sk_clean_build_map(sk_clean_task_t *t, sk_clean_map_t *map, uint8_t *buf, size_t cap);
/* Cleaner thread: build the map, write every group's .cleaned files (fsynced). */
void sk_clean_task_run(sk_clean_task_t *t);
/* Loop thread: describe the log's cleanable segments (NULL task + SK_ENOENT when
 * nothing is cleanable), swap a finished task in, free a task (removing .cleaned files
 * it left), remove the .cleaned files of one group. */
int sk_clean_task_new(sk_log_t *log, const sk_clean_opts_t *opts, sk_clean_task_t **out);
int sk_clean_task_install(sk_log_t *log, sk_clean_task_t *t, int32_t stop_step);
void sk_clean_task_free(sk_clean_task_t *t);
void sk_clean_group_unlink(const char *dir, int64_t base); /* remove <base>.*.cleaned */
/* logmgr.c: write cleaner-offset-checkpoint (the clean offsets of the compacted logs). */
int sk_logmgr_checkpoint_cleaner(sk_logmgr_t *mgr);

/* cleaner_swap.c: before a partition directory is listed at open, finish or undo an
 * interrupted swap: <base>.*.cleaned are removed; a <base>.log.swap is complete (it was
 * fsynced before its rename), so the segments it replaces are removed and its files
 * take their final names; a lone index .swap is removed. */
int sk_clean_recover_dir(const char *dir);

/* recovery.c: load segments of a log directory, recovering after an unclean stop. */
int sk_log_load_segments(sk_log_t *log, bool clean);
/* producer_state.c: rebuild the producer state of an opened log: the newest valid
 * snapshot at or below the LEO, then every batch after it (snapshots past the LEO or
 * corrupt are deleted). */
int sk_log_producers_load(sk_log_t *log);
/* Snapshot the producer state at the LEO (segment roll, clean close). */
int sk_log_producers_snapshot(sk_log_t *log, bool do_fsync);

#endif
