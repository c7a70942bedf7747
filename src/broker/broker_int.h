/* broker/broker_int.h: private to src/broker. The server (one libev loop today), its
 * connections, in-flight requests, and the API handler table.
 *
 * Request lifecycle: conn.c frames a request out of the connection's receive buffer
 * (the request holds a ref on that buffer, so record bytes are never copied), dispatch.c
 * decodes the header, checks the version against the handler table and calls the
 * handler with the body. A handler either answers at once (sk_req_respond) or parks the
 * request (fetch long-poll) and answers later; either way responses leave in request
 * order because the connection writes only from the head of its FIFO. */
#ifndef SK_BROKER_INT_H
#define SK_BROKER_INT_H

#include <ev.h>

#include "broker/broker.h"
#include "coordinator/coordinator.h"
#include "replication/replication.h"

typedef struct sk_conn sk_conn_t;
typedef struct sk_req sk_req_t;
typedef struct sk_fetch_wait sk_fetch_wait_t;

struct sk_req {
    sk_req_t *next;          /* connection FIFO */
    sk_conn_t *conn;         /* borrowed: owner */
    sk_rbuf_t *rbuf;         /* ref held: the bytes of this request live here */
    const uint8_t *body;     /* borrowed: rbuf, after the header */
    size_t body_len;
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    sk_str_t client_id;      /* borrowed: rbuf */
    sk_arena_t arena;        /* decode and response structs; freed with the request */
    sk_wr_t out;             /* encoded response (size prefix included) */
    size_t out_part;         /* write progress: current part ... */
    size_t out_off;          /* ... and bytes of it already sent */
    bool done;               /* response complete (or none will be sent) */
    bool no_response;        /* acks=0 produce */
    bool close_after;        /* close the connection once this is reached */
    int64_t start_us;
    void *parked;            /* handler state while waiting (e.g. sk_fetch_wait_t) */
};

struct sk_conn {
    sk_conn_t *prev, *next;  /* server list */
    struct sk_server *srv;   /* borrowed */
    int fd;
    uint64_t id;
    char peer[64];
    ev_io rio, wio;          /* watchers live here; stopped before free */
    sk_rbuf_t *rbuf;         /* ref held: current receive buffer */
    size_t rpos;             /* start of the unparsed bytes in rbuf */
    sk_req_t *head, *tail;   /* in-flight requests, in arrival order */
    int32_t inflight;
    size_t queued_bytes;     /* response bytes waiting to be written */
    bool reading;            /* rio active */
    bool in_read;            /* inside the read handler: responses wait for its kick */
    bool closing;
    int64_t last_active_ms;
};

typedef int (*sk_handler_fn)(sk_req_t *req);

typedef struct sk_handler {
    int16_t key;
    int16_t min_version;     /* lowest version we accept */
    int16_t max_version;     /* highest version we accept and advertise */
    int16_t adv_min_version; /* lowest version we advertise (Produce: 0, see docs/protocol.md) */
    sk_handler_fn fn;
} sk_handler_t;

typedef struct sk_server {
    const sk_config_t *cfg;  /* borrowed: outlives the server */
    struct ev_loop *loop;
    ev_signal sigterm, sigint;
    ev_timer tick;           /* periodic: flushes due, idle connections, checkpoints */
    int listen_fds[8];
    ev_io listen_io[8];
    int listen_count;
    bool accept_paused;      /* listeners stopped after EMFILE/ENFILE; the tick resumes */
    int64_t accept_pause_logged_ms;
    sk_logmgr_t *logs;       /* owned */
    sk_meta_t *meta;         /* owned */
    sk_coord_t *coord;       /* owned: group coordinator (h_group.c, h_offsets.c) */
    sk_txn_coord_t *txn;     /* owned: transaction coordinator (h_txn.c) */
    sk_log_config_t log_defaults;
    sk_conn_t *conns;        /* owned list */
    int32_t conn_count;
    int32_t max_conns;       /* max.connections, or derived from the open-file limit */
    int64_t refused_logged_ms;  /* last connection_refused line (one per 10 s) */
    int64_t refused_since_log;  /* connections refused since that line */
    uint64_t next_conn_id;
    sk_fetch_wait_t *fetch_waits; /* owned list of parked fetches */
    uint64_t notify_seq;     /* sk_fetch_notify rounds */
    const char *adv_host;    /* borrowed: cfg */
    int32_t adv_port;
    int64_t last_checkpoint_ms;
    struct sk_pid_alloc *pids; /* owned: producer-id allocator (h_producer.c) */
    int64_t last_retention_ms;  /* monotonic time of the last retention pass */
    sk_flusher_t *flusher;   /* owned: group-commit fsync thread (storage) */
    sk_trash_t *trash;       /* owned: background deletion thread (storage) */
    sk_cleaner_t *cleaner;   /* owned: compaction thread (storage); NULL when disabled */
    ev_async flush_async;    /* the flusher's wake-up: completes parked produces */
    bool stopping;
} sk_server_t;

/* ---- conn.c ---- */
void sk_conn_accept(sk_server_t *srv, int fd, const char *peer);
void sk_conn_close(sk_conn_t *c, const char *why);
void sk_conn_kick(sk_conn_t *c);      /* try to write completed responses */
void sk_conn_close_idle(sk_server_t *srv, int64_t now_ms);

/* ---- dispatch.c ---- */
/* Handle one framed request (header+body); takes a ref on rbuf. */
void sk_dispatch(sk_conn_t *c, sk_rbuf_t *rbuf, const uint8_t *frame, size_t len);
void sk_req_free(sk_req_t *r);
/* Encode header + body with the API's generated encoder, mark done, kick the conn. */
void sk_req_respond(sk_req_t *r, const void *resp);
void sk_req_finish_silent(sk_req_t *r);  /* no response (acks=0) */
void sk_req_fail_close(sk_req_t *r, const char *why); /* close the connection at this request */
/* Parse the request header of a frame into r (api key, version, correlation id, client
 * id, body); SK_ECORRUPT when malformed. What sk_dispatch does first; the frame fuzz
 * target calls it directly. */
int sk_req_header_parse(sk_req_t *r, const uint8_t *frame, size_t len);
const sk_handler_t *sk_handler_find(int16_t key);
extern const sk_handler_t sk_handlers[];
extern const size_t sk_handler_count;

/* ---- handlers (h_*.c) ---- */
int sk_h_api_versions(sk_req_t *r);
int sk_h_metadata(sk_req_t *r);
int sk_h_produce(sk_req_t *r);
/* After an append to p ending at end_offset: tell parked fetches, or under the strict
 * durability setting move the high watermark (and tell them) once the fsync is done. */
void sk_partition_appended(sk_server_t *srv, sk_partition_t *p, int64_t end_offset, int64_t bytes);
void sk_produce_hw_follow(sk_server_t *srv, sk_partition_t *p, int64_t end_offset, int64_t bytes);
/* The coordinators' store callbacks: append a batch to / find the log of a partition of
 * an internal topic (__consumer_offsets, __transaction_state). */
int sk_internal_append(sk_server_t *srv, const char *topic, int32_t partition, uint8_t *batch, size_t len);
sk_log_t *sk_internal_log(sk_server_t *srv, const char *topic, int32_t partition);
int sk_h_fetch(sk_req_t *r);
int sk_h_list_offsets(sk_req_t *r);
int sk_h_create_topics(sk_req_t *r);
int sk_h_delete_topics(sk_req_t *r);
int sk_h_describe_cluster(sk_req_t *r);
int sk_h_find_coordinator(sk_req_t *r);
int sk_h_join_group(sk_req_t *r);
int sk_h_sync_group(sk_req_t *r);
int sk_h_heartbeat(sk_req_t *r);
int sk_h_leave_group(sk_req_t *r);
int sk_h_describe_groups(sk_req_t *r);
int sk_h_list_groups(sk_req_t *r);
int sk_h_delete_groups(sk_req_t *r);
int sk_h_offset_commit(sk_req_t *r);
int sk_h_offset_fetch(sk_req_t *r);
int sk_h_offset_delete(sk_req_t *r);
int sk_h_describe_configs(sk_req_t *r);
int sk_h_alter_configs(sk_req_t *r);
int sk_h_incremental_alter_configs(sk_req_t *r);
int sk_h_create_partitions(sk_req_t *r);
int sk_h_init_producer_id(sk_req_t *r);
/* transactions (h_txn.c) */
int sk_h_add_partitions_to_txn(sk_req_t *r);
int sk_h_add_offsets_to_txn(sk_req_t *r);
int sk_h_end_txn(sk_req_t *r);
int sk_h_txn_offset_commit(sk_req_t *r);
int sk_h_describe_producers(sk_req_t *r);
int sk_h_describe_transactions(sk_req_t *r);
int sk_h_list_transactions(sk_req_t *r);
int sk_h_describe_log_dirs(sk_req_t *r);
int sk_h_describe_topic_partitions(sk_req_t *r); /* h_topic_partitions.c */

/* ---- producer ids (h_producer.c): never repeat, also across restarts ---- */
typedef struct sk_pid_alloc sk_pid_alloc_t;
int sk_pid_alloc_open(const char *dir, sk_pid_alloc_t **out);
void sk_pid_alloc_free(sk_pid_alloc_t *a);
int sk_pid_alloc_next(sk_pid_alloc_t *a, int64_t *id);
int sk_h_delete_records(sk_req_t *r);
/* Retention pass over every topic (h_records.c); called from the tick. */
void sk_server_retention(sk_server_t *srv, int64_t now_ms);

/* ---- fetch long-poll (h_fetch.c) ---- */
/* New data (bytes) on p, or p == NULL: topics changed; parked fetches re-check. */
void sk_fetch_notify(sk_server_t *srv, const sk_partition_t *p, int64_t bytes);
/* A transaction marker (bytes) was appended to p: read_committed fetches parked on p
 * look again whatever their byte count, since older data may now be stable. */
void sk_fetch_notify_marker(sk_server_t *srv, const sk_partition_t *p, int64_t bytes);
void sk_fetch_wait_cancel(sk_req_t *r);                     /* connection closing */

/* ---- transaction markers (txn_markers.c) ----
 * Append a COMMIT (commit true) or ABORT marker of producer_id to partition p, which
 * this node leads: the control batch goes through sk_log_append_marker (ends the
 * producer's transaction in that log, indexes an abort), the high watermark moves as
 * for a produce, and parked fetches are woken (read_committed ones see the LSO move).
 * Returns SK_OK; SK_EINVAL with *kerr INVALID_PRODUCER_EPOCH or
 * TRANSACTION_COORDINATOR_FENCED (52) when the log refuses the epochs; SK_EIO with
 * *kerr KAFKA_STORAGE_ERROR when the log is offline. kerr may be NULL. */
int sk_partition_append_marker(sk_server_t *srv, sk_partition_t *p, int64_t producer_id, int16_t producer_epoch,
                               bool commit, int32_t coordinator_epoch, int16_t *kerr);
/* The same by topic name, in the shape of sk_txn_hooks_t.marker (ctx = the server):
 * SK_ENOENT when the topic or partition does not exist. */
int sk_txn_marker_hook(void *ctx, const char *topic, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                       bool commit, int32_t coordinator_epoch);

/* ---- shared helpers (server.c) ---- */
/* Create a topic with broker defaults for auto-creation. Returns Kafka error code. */
int16_t sk_server_auto_create(sk_server_t *srv, const char *name, size_t len, sk_topic_t **out);
static inline sk_server_t *sk_req_server(sk_req_t *r) { return r->conn->srv; }
/* Decode the request body with the generated decoder of its API into an arena struct. */
void *sk_req_decode(sk_req_t *r);
void *sk_req_alloc(sk_req_t *r, size_t size);  /* zeroed arena memory or NULL */
void *sk_req_array(sk_req_t *r, size_t n, size_t size);
char *sk_req_strdup(sk_req_t *r, sk_str_t s);

/* ---- group coordinator (h_offsets.c) ---- */
/* Create __consumer_offsets if missing, start the coordinator, load its state. */
int sk_server_coord_start(sk_server_t *srv);
/* Create __transaction_state if missing, start the transaction coordinator (after the
 * group coordinator), load its state and finish transactions found preparing (h_txn.c). */
int sk_server_txn_start(sk_server_t *srv);

#endif
