/* storage/storage.h: the public surface of src/storage: partition logs in Kafka's own
 * on-disk layout (so Kafka's tools can read them) and the log manager of one data
 * directory. Uses only common and the record-batch layout from protocol.
 *
 *   <log.dirs>/<topic>-<partition>/00000000000000000000.log        record batches as on the wire
 *                                  00000000000000000000.index      (relative offset u32, pos u32)
 *                                  00000000000000000000.timeindex  (timestamp i64, relative offset u32)
 *                                  00000000000000000000.snapshot   idempotent producer state
 *                                  leader-epoch-checkpoint, partition.metadata
 *   <log.dirs>/recovery-point-offset-checkpoint, replication-offset-checkpoint,
 *              log-start-offset-checkpoint, meta.properties, .skiff-clean-shutdown
 *
 * Runs on the loop thread that owns the partition. Callers validate batches (protocol's
 * sk_batch_validate) before sk_log_append; storage re-checks framing on recovery.
 * Format details: docs/storage-format.md. */
#ifndef SK_STORAGE_H
#define SK_STORAGE_H

#include "protocol/protocol.h"

typedef struct sk_log_config {
    int64_t segment_bytes;          /* log.segment.bytes / segment.bytes (default 1 GiB) */
    int64_t segment_ms;             /* segment.ms (default 7 days) */
    int32_t index_interval_bytes;   /* log.index.interval.bytes (default 4096) */
    int32_t segment_index_bytes;    /* log.index.size.max.bytes (default 10 MiB) */
    int64_t flush_interval_messages;/* log.flush.interval.messages (default INT64_MAX) */
    int64_t flush_interval_ms;      /* log.flush.interval.ms (default INT64_MAX = never) */
    bool log_append_time;           /* message.timestamp.type=LogAppendTime */
    int64_t writeback_bytes;        /* skiff.log.writeback.bytes: start writeback of each
                                     * full chunk of this size (0 = leave it to the kernel) */
    /* compaction (cleaner*.c; docs/compaction.md) */
    bool compact;                   /* cleanup.policy contains compact (default delete) */
    bool cleanup_delete;            /* cleanup.policy contains delete (default true) */
    double min_cleanable_ratio;     /* min.cleanable.dirty.ratio (default 0.5) */
    int64_t delete_retention_ms;    /* delete.retention.ms: tombstones kept (default 1 day) */
    int64_t min_compaction_lag_ms;  /* min.compaction.lag.ms (default 0) */
    int64_t max_compaction_lag_ms;  /* max.compaction.lag.ms (default INT64_MAX) */
} sk_log_config_t;
void sk_log_config_defaults(sk_log_config_t *cfg);

typedef struct sk_log sk_log_t;
typedef struct sk_logmgr sk_logmgr_t;

/* What one append did. */
typedef struct sk_append_info {
    int64_t base_offset;      /* first offset assigned */
    int64_t last_offset;      /* last offset assigned */
    int64_t log_append_time;  /* broker time stamped, or -1 for CreateTime */
    int32_t record_count;
    int16_t error_code;       /* Kafka error when the producer check refused the batch */
    bool duplicate;           /* retry of a retained batch: offsets are the original ones */
    bool flush_wait;          /* flush.messages was reached by this append and the fsync
                               * covering it runs on the flusher: an acknowledgement must
                               * wait for it (sk_log_flush_wait up to last_offset + 1) */
} sk_append_info_t;

/* Batches of one idempotent producer remembered per partition for duplicate detection
 * (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN). */
#define SK_PRODUCER_BATCHES_RETAINED 5

/* A range of whole batches to send (sendfile on plain listeners). len 0 = nothing. */
typedef struct sk_log_slice {
    sk_fref_t *file; /* ref held by the slice: release with sk_log_slice_release */
    int64_t pos;
    int32_t len;
    int64_t next_offset; /* sk_log_read: offset of the first batch after the range (what
                          * bounds the aborted transactions a read_committed fetch lists) */
} sk_log_slice_t;
void sk_log_slice_release(sk_log_slice_t *s);

/* ---- log manager: one data directory ---- */
/* Open (creating if missing) a data dir: reads checkpoints, opens every partition
 * directory found, recovers unflushed tails after an unclean stop. */
int sk_logmgr_open(const char *dir, const sk_log_config_t *defaults, sk_logmgr_t **out);
/* Flush everything, write checkpoints and the clean-shutdown marker, close. */
void sk_logmgr_close(sk_logmgr_t *mgr);
int sk_logmgr_checkpoint(sk_logmgr_t *mgr); /* write the three checkpoint files */
const char *sk_logmgr_dir(const sk_logmgr_t *mgr);
sk_log_t *sk_logmgr_get(sk_logmgr_t *mgr, const char *topic, int32_t partition);
/* Create a new empty partition log (SK_EEXIST if present). topic_id goes to
 * partition.metadata. cfg may be NULL for the manager's defaults. */
int sk_logmgr_create(sk_logmgr_t *mgr, const char *topic, int32_t partition, const sk_uuid_t *topic_id,
                     const sk_log_config_t *cfg, sk_log_t **out);
/* Close the log and remove its directory (renamed to <topic>-<partition>.<id>-delete
 * first, so a crash mid-delete never leaves a half log under the live name). */
int sk_logmgr_delete(sk_logmgr_t *mgr, const char *topic, int32_t partition);
/* Iterate all logs. */
typedef void (*sk_log_visit_cb)(void *ctx, sk_log_t *log);
void sk_logmgr_foreach(sk_logmgr_t *mgr, sk_log_visit_cb cb, void *ctx);
/* True once a write or fsync failed in this data dir: from then on every log refuses
 * appends (KAFKA_STORAGE_ERROR) until a restart recovers the dir; fsync is never
 * retried. */
bool sk_logmgr_offline(const sk_logmgr_t *mgr);
/* Flush logs whose flush.ms / flush.messages is due; call from a periodic timer. With a
 * flusher attached the fsyncs are only requested here and run on its thread. */
int sk_logmgr_flush_due(sk_logmgr_t *mgr, int64_t now_ms);

/* ---- group-commit flusher (flusher.c): fsync off the loop thread ----
 * Attached to a log manager, it takes over every flush the flush policies ask for; a
 * caller that must not answer before data is durable parks an sk_flush_waiter_t. The
 * wake callback runs on the flusher thread when results are ready (the broker sends an
 * ev_async); the loop thread then calls sk_flusher_poll, which completes waiters. */
typedef struct sk_flusher sk_flusher_t;
typedef struct sk_flush_waiter sk_flush_waiter_t;
typedef void (*sk_flush_done_fn)(sk_flush_waiter_t *w, int rc); /* rc SK_OK or SK_EIO */
typedef void (*sk_flusher_wake_fn)(void *ctx);
struct sk_flush_waiter {          /* embedded in the caller's object */
    sk_flush_waiter_t *prev, *next; /* the log's list while queued */
    sk_log_t *log;                  /* borrowed while queued; NULL once completed */
    int64_t offset;                 /* done once everything below it is durable */
    sk_flush_done_fn done;
    void *ctx;                      /* the caller's */
};
typedef struct sk_flusher_stats {
    int64_t fsync_calls;  /* fsync/fdatasync calls made */
    int64_t batches;      /* rounds of the worker (each takes every queued job) */
    int64_t jobs;         /* per-log jobs run */
} sk_flusher_stats_t;
/* threaded false: no thread; sk_flusher_work runs queued jobs (tests). */
int sk_flusher_new(bool threaded, sk_flusher_wake_fn wake, void *wake_ctx, sk_flusher_t **out);
/* Finish queued jobs and free. Logs still open get their results first. */
void sk_flusher_free(sk_flusher_t *f);
int32_t sk_flusher_poll(sk_flusher_t *f);  /* loop thread: apply finished jobs; count */
int32_t sk_flusher_work(sk_flusher_t *f);  /* unthreaded only: run queued jobs now */
void sk_flusher_drain(sk_flusher_t *f);    /* block until no job is in flight */
void sk_flusher_stats(sk_flusher_t *f, sk_flusher_stats_t *out);
/* Route this manager's flushes through f (NULL: flush on the calling thread). Drained
 * by sk_logmgr_close before the final flush. */
void sk_logmgr_set_flusher(sk_logmgr_t *mgr, sk_flusher_t *f);
/* Segment and directory deletion on a background thread (trash.c): removed segments
 * are renamed to <name>.deleted on the loop thread, unlinked there later. */
typedef struct sk_trash sk_trash_t;
int sk_trash_new(bool threaded, sk_trash_t **out);
void sk_trash_free(sk_trash_t *t);            /* finishes what is queued */
int32_t sk_trash_work(sk_trash_t *t);         /* unthreaded only: remove queued now */
void sk_trash_drain(sk_trash_t *t);           /* block until the queue is empty */
int64_t sk_trash_removed(sk_trash_t *t);      /* files and directories removed so far */
void sk_logmgr_set_trash(sk_logmgr_t *mgr, sk_trash_t *t);
/* Bytes the file system holding the data dir has in all and free for us (statvfs). */
int sk_logmgr_disk_space(const sk_logmgr_t *mgr, int64_t *total_bytes, int64_t *usable_bytes);

/* ---- one partition log ---- */
const char *sk_log_topic(const sk_log_t *log);
int32_t sk_log_partition(const sk_log_t *log);
const sk_uuid_t *sk_log_topic_id(const sk_log_t *log);
int64_t sk_log_start_offset(const sk_log_t *log);
int64_t sk_log_end_offset(const sk_log_t *log); /* LEO: next offset to assign */
int64_t sk_log_size_bytes(const sk_log_t *log);
int32_t sk_log_segment_count(const sk_log_t *log);
/* High watermark: owned by replication, persisted here in replication-offset-checkpoint. */
int64_t sk_log_high_watermark(const sk_log_t *log);
void sk_log_set_high_watermark(sk_log_t *log, int64_t hw);
/* Latest leader epoch and its start offset from leader-epoch-checkpoint (-1 if none). */
int32_t sk_log_latest_epoch(const sk_log_t *log);
/* Replace the log's settings (topic overrides changed or loaded). */
void sk_log_set_config(sk_log_t *log, const sk_log_config_t *cfg);

/* Append one validated magic-2 batch (batch is writable: base offset, partition leader
 * epoch and, for LogAppendTime, max timestamp + attributes + CRC are rewritten in
 * place). A batch with a producer id is checked against the idempotent producer state
 * first: a retry of one of the last SK_PRODUCER_BATCHES_RETAINED batches returns SK_OK
 * with info->duplicate and the original offsets and writes nothing; a refused batch
 * returns SK_EINVAL with info->error_code (OUT_OF_ORDER_SEQUENCE_NUMBER,
 * INVALID_PRODUCER_EPOCH, INVALID_RECORD, INVALID_TXN_STATE). Rolls the segment first if needed; indexes every index_interval_bytes; records
 * a new leader epoch in the epoch cache. Returns SK_EIO on a failed write (the log is
 * then marked offline and refuses further appends). */
int sk_log_append(sk_log_t *log, uint8_t *batch, size_t len, int32_t leader_epoch, int64_t now_ms,
                  sk_append_info_t *info);
/* Read whole batches starting at the batch that contains `offset`, from one segment,
 * up to max_bytes (but at least one whole batch when min_one is true), and never past
 * max_offset (exclusive; e.g. the high watermark). offset == LEO gives len 0.
 * SK_ERANGE if offset < log start or > LEO. */
int sk_log_read(sk_log_t *log, int64_t offset, int32_t max_bytes, int64_t max_offset, bool min_one,
                sk_log_slice_t *out);
/* Offset and timestamp of the first record (at or after the log start) whose timestamp
 * is >= ts, found through the time index and then the records of one batch; SK_ENOENT
 * when there is none (the caller answers -1 as Kafka does). */
int sk_log_offset_for_time(sk_log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts);
/* Offset and timestamp of the first record with the largest timestamp (ListOffsets -3). */
int sk_log_max_timestamp(sk_log_t *log, int64_t *offset, int64_t *ts);
int sk_log_flush(sk_log_t *log); /* fsync the active segment and indexes */
/* Everything below this offset is known fsynced. */
int64_t sk_log_durable_offset(const sk_log_t *log);
/* Ask for a flush up to the LEO: on the flusher when one is attached, else now. */
int sk_log_flush_request(sk_log_t *log);
/* Park w until everything below offset is durable: SK_AGAIN when parked (done is then
 * called once from sk_flusher_poll, or with SK_EIO when the log fails or closes),
 * SK_OK when it already is (done is not called), SK_EIO when the log is offline. */
int sk_log_flush_wait(sk_log_t *log, int64_t offset, sk_flush_waiter_t *w, sk_flush_done_fn done, void *ctx);
void sk_log_flush_cancel(sk_flush_waiter_t *w); /* unpark without calling done */
/* Idempotent producer state of the log: epoch and last sequence of producer_id
 * (SK_ENOENT when unknown; last_seq -1 when no batch is retained). */
int sk_log_producer_get(const sk_log_t *log, int64_t producer_id, int16_t *epoch, int32_t *last_seq);
int32_t sk_log_producer_count(const sk_log_t *log);
bool sk_log_offline(const sk_log_t *log); /* the log or its data dir failed a write or fsync */
/* Retention (retention.c): remove sealed segments from the front whose newest timestamp
 * is older than retention_ms (-1 = forever), then while the log exceeds retention_bytes
 * (-1 = no limit), and any wholly below the log start offset. *deleted = segments gone. */
int sk_log_retention(sk_log_t *log, int64_t now_ms, int64_t retention_ms, int64_t retention_bytes,
                     int32_t *deleted);
/* DeleteRecords: move the log start offset to offset (<= high watermark; SK_ERANGE
 * otherwise) and remove segments wholly below it. */
int sk_log_delete_records(sk_log_t *log, int64_t offset);
/* ---- transactions (txn.c; the aborted-transaction index is <base>.txnindex) ----
 * A batch with the transactional attribute opens (or continues) an ongoing transaction
 * of its producer in this log; a control batch (COMMIT or ABORT marker) ends it. */
/* Append a control batch ending producer_id's ongoing transaction in this log (commit or
 * abort marker record, coordinator_epoch in its value). A producer with no ongoing
 * transaction here still gets the marker (Kafka writes it to every partition the
 * coordinator knows of). An older producer_epoch than the log knows gives SK_EINVAL
 * with info->error_code INVALID_PRODUCER_EPOCH. An abort records (producer_id, first
 * offset, last offset) in the aborted-transaction index of the active segment. */
int sk_log_append_marker(sk_log_t *log, int64_t producer_id, int16_t producer_epoch, bool commit,
                         int32_t coordinator_epoch, int32_t leader_epoch, int64_t now_ms, sk_append_info_t *info);
/* Last stable offset: the first offset of the oldest ongoing transaction, capped by the
 * high watermark; the high watermark when none is ongoing. */
int64_t sk_log_last_stable_offset(const sk_log_t *log);
/* Aborted transactions that may hold records in [from, to): one callback per entry of
 * the aborted-transaction indexes whose range overlaps it, in offset order (what Fetch
 * at read_committed returns as aborted_transactions). */
typedef void (*sk_log_aborted_cb)(void *ctx, int64_t producer_id, int64_t first_offset);
int sk_log_aborted_txns(sk_log_t *log, int64_t from, int64_t to, sk_log_aborted_cb cb, void *ctx);
/* Every producer with state in this log (DescribeProducers). txn_start_offset is the
 * first offset of its ongoing transaction or -1. */
typedef struct sk_log_producer_info {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t last_sequence;
    int64_t last_timestamp;
    int32_t coordinator_epoch;
    int64_t txn_start_offset;
} sk_log_producer_info_t;
typedef void (*sk_log_producer_cb)(void *ctx, const sk_log_producer_info_t *p);
void sk_log_producer_foreach(const sk_log_t *log, sk_log_producer_cb cb, void *ctx);
/* ---- compaction (cleaner.c, cleaner_swap.c, cleaner_thread.c; docs/compaction.md) ----
 * A log whose config has compact set keeps the newest record per key in its sealed
 * segments: the cleaner rewrites them into <base>.log.cleaned (+ indexes) off the loop
 * thread and the loop thread swaps them in (.cleaned -> .swap -> final names). Offsets
 * never change. The clean/dirty boundary of each log is kept per data dir in
 * cleaner-offset-checkpoint. */
typedef struct sk_clean_stats {
    int64_t bytes_read;       /* bytes of the segments rewritten */
    int64_t bytes_written;    /* bytes of the cleaned segments */
    int64_t records_removed;
    int64_t batches_removed;
    int32_t segments_in;      /* segments replaced */
    int32_t segments_out;     /* cleaned segments swapped in */
    int64_t clean_offset;     /* new clean/dirty boundary */
    int64_t elapsed_us;       /* time spent rewriting (cleaner thread) */
} sk_clean_stats_t;
typedef struct sk_clean_opts {
    int64_t now_ms;
    int64_t map_bytes;        /* key map budget (log.cleaner.dedupe.buffer.size / threads) */
    int32_t io_buffer_bytes;  /* log.cleaner.io.buffer.size */
    int32_t swap_stop_step;   /* tests: stop the swap after this many steps (-1: all) */
} sk_clean_opts_t;
/* What sk_log_clean_check found: the cleanable range [first_dirty, first_uncleanable)
 * and its dirty ratio. */
typedef struct sk_clean_check {
    int64_t first_dirty;
    int64_t first_uncleanable;
    int64_t clean_bytes;
    int64_t dirty_bytes;
    double dirty_ratio;
    bool cleanable;           /* past the ratio, due by max.compaction.lag.ms, or a
                               * tombstone horizon has passed */
} sk_clean_check_t;
void sk_log_clean_check(const sk_log_t *log, int64_t now_ms, sk_clean_check_t *out);
int64_t sk_log_clean_offset(const sk_log_t *log);
/* Compact the log now on the calling thread (tests, tools): check, rewrite, swap.
 * SK_ENOENT when there is nothing cleanable. */
int sk_log_clean(sk_log_t *log, const sk_clean_opts_t *opts, sk_clean_stats_t *stats);
/* The cleaner thread of a log manager (log.cleaner.threads = 1). The loop thread calls
 * sk_cleaner_poll from its tick: it installs a finished result (if its segments are
 * still there) and hands the filthiest cleanable log to the thread every backoff_ms. */
typedef struct sk_cleaner sk_cleaner_t;
typedef struct sk_cleaner_options {
    int64_t dedupe_buffer_bytes; /* log.cleaner.dedupe.buffer.size */
    int32_t io_buffer_bytes;     /* log.cleaner.io.buffer.size */
    int64_t backoff_ms;          /* log.cleaner.backoff.ms */
    bool threaded;               /* false: sk_cleaner_poll runs the work itself (tests) */
} sk_cleaner_options_t;
int sk_cleaner_new(sk_logmgr_t *mgr, const sk_cleaner_options_t *opt, sk_cleaner_t **out);
/* Stop the thread (an unfinished rewrite is abandoned, its .cleaned files removed). */
void sk_cleaner_free(sk_cleaner_t *c);
/* Loop thread. Returns the number of logs whose cleaning was installed. */
int32_t sk_cleaner_poll(sk_cleaner_t *c, int64_t now_ms);
void sk_cleaner_totals(const sk_cleaner_t *c, sk_clean_stats_t *out); /* sums so far */
/* Walk every invariant (tests call it after each step). */
void sk_log_verify(const sk_log_t *log);

#endif
