/* broker/h_producer.c: InitProducerId (v0-5) for idempotent producers, and the
 * producer-id allocator behind it.
 *
 * Without a transactional id Kafka always hands out a fresh producer id with epoch 0,
 * whatever producer id and epoch a v3+ request carries (KIP-360 epoch bumps apply to
 * transactional ids; an idempotent producer that asks for a bump gets a new id, and
 * starts its sequences again from 0, which every client handles). We do the same. An
 * empty transactional id is INVALID_REQUEST, as in Kafka; a non-empty one goes to the
 * transaction coordinator (src/coordinator/txn.c): a new id or an epoch bump that
 * fences the older instance, aborting its open transaction first; v3+ producer id and
 * epoch drive KIP-360 recovery. PRODUCER_FENCED exists from v4; older versions get
 * INVALID_PRODUCER_EPOCH.
 *
 * Allocator: ids must never repeat, also across restarts and crashes, or a new producer
 * could be taken for a retry of an old one. Ids are reserved in blocks of
 * PID_BLOCK_SIZE: before the first id of a block is handed out, the block's end is
 * written (temp file + rename + fsync) to <data dir>/producer-id-block as
 * "next.block.start=<n>"; a restart starts from there, skipping the unused rest of the
 * last block, as Kafka's block allocation does. The transaction coordinator allocates
 * through the same allocator (h_txn.c), so ids never repeat across both paths. With a
 * controller quorum the blocks move into the metadata log, as in Kafka. Invariant: next <= block_end, and block_end is on disk
 * before any id below it is handed out. Runs on the loop thread. */
#include "broker_int.h"

#include <errno.h>

#define PID_BLOCK_SIZE 1000
#define PID_FILE "producer-id-block"
#define PID_FILE_MAX_BYTES 4096

struct sk_pid_alloc {
    char *path;        /* owned: <data dir>/producer-id-block */
    int64_t next;      /* next id to hand out */
    int64_t block_end; /* exclusive end of the reserved block (persisted) */
};

/* "next.block.start=<n>" with n >= 0; SK_ECORRUPT otherwise. */
static int
pid_file_parse(const char *text, int64_t *start)
{
    const char *key = "next.block.start=";
    const char *p = strstr(text, key);
    char *end = NULL;

    if (!p) return SK_ECORRUPT;
    p += strlen(key);
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno != 0 || end == p || v < 0 || v > INT64_MAX - PID_BLOCK_SIZE) return SK_ECORRUPT;
    *start = v;
    return SK_OK;
}

int
sk_pid_alloc_open(const char *dir, sk_pid_alloc_t **out)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    int64_t start = 0;
    int rc;
    sk_pid_alloc_t *a = calloc(1, sizeof(*a));

    if (!a) return SK_ENOMEM;
    snprintf(path, sizeof(path), "%s/%s", dir, PID_FILE);
    a->path = strdup(path);
    rc = a->path ? SK_OK : SK_ENOMEM;
    if (rc != SK_OK) goto fail;
    rc = sk_read_file(path, PID_FILE_MAX_BYTES, &text, &len);
    if (rc == SK_OK) {
        rc = pid_file_parse(text, &start);
        if (rc != SK_OK) {
            /* Guessing could repeat ids: refuse to start. */
            SK_ERROR("event=producer_id_file_corrupt path=%s", path);
            goto fail;
        }
    } else if (rc == SK_ENOENT) {
        rc = SK_OK;
    } else {
        goto fail;
    }
    a->next = a->block_end = start;
    free(text);
    *out = a;
    return SK_OK;
fail:
    free(text);
    sk_pid_alloc_free(a);
    return rc;
}

void
sk_pid_alloc_free(sk_pid_alloc_t *a)
{
    if (!a) return;
    free(a->path);
    free(a);
}

int
sk_pid_alloc_next(sk_pid_alloc_t *a, int64_t *id)
{
    char text[64];

    SK_ASSERT(a->next <= a->block_end);
    if (a->next == a->block_end) {
        if (a->block_end > INT64_MAX - PID_BLOCK_SIZE) return SK_ELIMIT;
        int64_t end = a->block_end + PID_BLOCK_SIZE;
        int n = snprintf(text, sizeof(text), "version=1\nnext.block.start=%lld\n", (long long)end);
        int rc = sk_write_file_atomic(a->path, text, (size_t)n, true);
        if (rc != SK_OK) {
            SK_ERROR("event=producer_id_block_write_failed path=%s errno=%d", a->path, errno);
            return rc;
        }
        a->block_end = end;
        SK_INFO("event=producer_id_block first=%lld end=%lld", (long long)a->next, (long long)end);
    }
    *id = a->next++;
    return SK_OK;
}

int
sk_h_init_producer_id(sk_req_t *r)
{
    sk_server_t *srv = sk_req_server(r);
    sk_InitProducerIdRequest_t *req = sk_req_decode(r);
    sk_InitProducerIdResponse_t resp;

    if (!req) return SK_ECORRUPT;
    sk_InitProducerIdResponse_init(&resp);
    resp.producer_id = -1;
    resp.producer_epoch = -1;
    if (req->transactional_id.len == 0) {
        resp.error_code = SK_KERR_INVALID_REQUEST;
    } else if (req->transactional_id.len > 0 && !srv->txn) {
        resp.error_code = SK_KERR_COORDINATOR_NOT_AVAILABLE;
    } else if (req->transactional_id.len > 0) {
        sk_txn_init_result_t res;
        sk_txn_init_producer(srv->txn, req->transactional_id, req->transaction_timeout_ms, req->producer_id,
                             req->producer_epoch, &res);
        resp.error_code = res.error_code == SK_KERR_PRODUCER_FENCED && r->api_version < 4
                              ? SK_KERR_INVALID_PRODUCER_EPOCH
                              : res.error_code;
        resp.producer_id = res.producer_id;
        resp.producer_epoch = res.producer_epoch;
    } else if (!srv->pids && sk_pid_alloc_open(srv->cfg->log_dirs[0], &srv->pids) != SK_OK) {
        resp.error_code = SK_KERR_KAFKA_STORAGE_ERROR;
    } else if (sk_pid_alloc_next(srv->pids, &resp.producer_id) != SK_OK) {
        resp.error_code = SK_KERR_KAFKA_STORAGE_ERROR;
        resp.producer_id = -1;
    } else {
        resp.producer_epoch = 0;
        SK_DEBUG(REQ, "event=init_producer_id conn=%llu producer_id=%lld", (unsigned long long)r->conn->id,
                 (long long)resp.producer_id);
    }
    sk_req_respond(r, &resp);
    return SK_OK;
}
