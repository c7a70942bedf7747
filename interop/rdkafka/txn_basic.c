/* interop/rdkafka/txn_basic.c: transactions through librdkafka's transactional producer
 * against a running broker, checked from the consumer side:
 *
 *   txn_basic [topic]        env BOOTSTRAP (host:port)
 *
 * 1. A topic with 3 partitions; a producer with transactional.id runs 9 transactions of
 *    5 records per partition, committing six and aborting three (every third).
 * 2. A read_committed consumer reads every partition from the start to its end and must
 *    see exactly the committed records, in produce order per partition; a
 *    read_uncommitted consumer must see every record, aborted ones included.
 * 3. Fencing: the first producer opens a transaction and writes 5 records; a second
 *    producer with the same transactional.id calls init_transactions (the open
 *    transaction is aborted, the first producer fenced); the first producer's commit
 *    must fail with a fatal fenced error; the second producer then commits one more
 *    transaction, and read_committed readers see it but not the fenced records.
 * Expected behaviour is Apache Kafka's (interop/run.sh --broker kafka runs the same
 * binary). Ends with one PASS/FAIL line (itest.h). */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST "txn_basic"
#define PARTS 3
#define TXNS 9
#define PER_PART 5
#define VAL_MAX 48
#define EXPECT_MAX (TXNS * PER_PART + 2 * PER_PART)

static const char *topic;

/* Expected values per partition, in order. */
typedef struct expect {
    char v[EXPECT_MAX][VAL_MAX];
    int n;
} expect_t;

static expect_t committed[PARTS], everything[PARTS];

static void
expect_add(expect_t *e, const char *v)
{
    if (e->n < EXPECT_MAX) snprintf(e->v[e->n++], VAL_MAX, "%s", v);
}

static rd_kafka_t *
txn_producer(const char *txn_id)
{
    rd_kafka_conf_t *conf = it_conf_new(TEST, "transactional.id", txn_id, "transaction.timeout.ms", "30000",
                                        "linger.ms", "5", NULL);
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    rd_kafka_error_t *err = rd_kafka_init_transactions(rk, 30000);
    if (err) it_die(TEST, "init_transactions: %s", rd_kafka_error_string(err));
    return rk;
}

static void
produce(rd_kafka_t *rk, int32_t partition, const char *value)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                              RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e) it_die(TEST, "produce: %s", rd_kafka_err2str(e));
}

/* One transaction of PER_PART records per partition, committed or aborted. */
static void
run_txn(rd_kafka_t *rk, int txn, int commit)
{
    char v[VAL_MAX];
    rd_kafka_error_t *err = rd_kafka_begin_transaction(rk);
    if (err) it_die(TEST, "begin_transaction: %s", rd_kafka_error_string(err));
    for (int p = 0; p < PARTS; p++)
        for (int k = 0; k < PER_PART; k++) {
            snprintf(v, sizeof(v), "t%d-p%d-%d-%s", txn, p, k, commit ? "c" : "a");
            produce(rk, p, v);
            expect_add(&everything[p], v);
            if (commit) expect_add(&committed[p], v);
        }
    /* abort_transaction purges what is still queued: send it first, so that aborted
     * records are in the log for read_uncommitted */
    if (!commit) rd_kafka_flush(rk, 10000);
    err = commit ? rd_kafka_commit_transaction(rk, 30000) : rd_kafka_abort_transaction(rk, 30000);
    if (err) it_die(TEST, "%s_transaction %d: %s", commit ? "commit" : "abort", txn, rd_kafka_error_string(err));
}

/* Read all partitions from the start until each reports its end; compare with e. */
static void
read_check(const char *isolation, const expect_t *e)
{
    char gid[64];
    snprintf(gid, sizeof(gid), "%s-%s", topic, isolation);
    rd_kafka_conf_t *conf = it_conf_new(TEST, "group.id", gid, "isolation.level", isolation, "enable.auto.commit",
                                        "false", "enable.partition.eof", "true", NULL);
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_CONSUMER, conf);
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(PARTS);
    int got[PARTS] = {0}, eof[PARTS] = {0}, eofs = 0, bad = 0;
    int64_t deadline = it_now_ms() + 30000;

    for (int p = 0; p < PARTS; p++) rd_kafka_topic_partition_list_add(tl, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    while (eofs < PARTS && it_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        int p = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p >= 0 && p < PARTS && !eof[p] && got[p] >= e[p].n) eof[p] = 1, eofs++;
        } else if (m->err) {
            it_check(0, "%s: consume error %s", isolation, rd_kafka_err2str(m->err));
        } else if (p >= 0 && p < PARTS) {
            int i = got[p]++;
            if (i >= e[p].n || m->len != strlen(e[p].v[i]) || memcmp(m->payload, e[p].v[i], m->len) != 0) {
                if (bad++ < 5)
                    it_check(0, "%s: partition %d record %d is \"%.*s\", want \"%s\"", isolation, p, i, (int)m->len,
                             (const char *)m->payload, i < e[p].n ? e[p].v[i] : "(nothing)");
            }
        }
        rd_kafka_message_destroy(m);
    }
    for (int p = 0; p < PARTS; p++)
        it_check(got[p] == e[p].n && eof[p], "%s: partition %d: %d records (want %d), end %s", isolation, p, got[p],
                 e[p].n, eof[p] ? "reached" : "not reached");
    it_note("%s: %d+%d+%d records", isolation, got[0], got[1], got[2]);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* A second instance fences the first, whose open transaction is aborted. */
static void
fencing(const char *txn_id, rd_kafka_t *first)
{
    char v[VAL_MAX];
    rd_kafka_error_t *err = rd_kafka_begin_transaction(first);
    if (err) it_die(TEST, "begin_transaction: %s", rd_kafka_error_string(err));
    for (int k = 0; k < PER_PART; k++) {
        snprintf(v, sizeof(v), "fenced-%d", k);
        produce(first, 0, v);
        expect_add(&everything[0], v);
    }
    rd_kafka_flush(first, 10000); /* the records are in the log before the fence */
    rd_kafka_t *second = txn_producer(txn_id);
    err = rd_kafka_commit_transaction(first, 30000);
    if (it_check(err != NULL, "the fenced producer's commit succeeded")) {
        rd_kafka_resp_err_t code = rd_kafka_error_code(err);
        it_check(rd_kafka_error_is_fatal(err) || code == RD_KAFKA_RESP_ERR__FENCED ||
                     code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED || code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH,
                 "fenced commit: want a fatal fenced error, got %s (%s)", rd_kafka_err2name(code),
                 rd_kafka_error_string(err));
        it_note("fenced producer: %s: %s", rd_kafka_err2name(code), rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    err = rd_kafka_begin_transaction(second);
    if (err) it_die(TEST, "second begin_transaction: %s", rd_kafka_error_string(err));
    for (int p = 0; p < PARTS; p++) {
        snprintf(v, sizeof(v), "second-p%d", p);
        produce(second, p, v);
        expect_add(&everything[p], v);
        expect_add(&committed[p], v);
    }
    err = rd_kafka_commit_transaction(second, 30000);
    if (err) it_die(TEST, "second commit: %s", rd_kafka_error_string(err));
    rd_kafka_destroy(second);
}

int
main(int argc, char **argv)
{
    char errstr[512], txn_id[96];
    topic = argc > 1 ? argv[1] : "it-txn-basic";
    snprintf(txn_id, sizeof(txn_id), "%s-%d", topic, (int)getpid());

    rd_kafka_t *admin = it_handle_new(TEST, RD_KAFKA_PRODUCER, it_conf_new(TEST, NULL));
    int rc = it_topic_create(admin, topic, PARTS, 1, 0, errstr, sizeof(errstr));
    if (rc != 0 && rc != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) it_die(TEST, "create %s: %d %s", topic, rc, errstr);
    it_topic_wait(admin, topic, PARTS, 10000);
    rd_kafka_destroy(admin);

    rd_kafka_t *rk = txn_producer(txn_id);
    for (int i = 0; i < TXNS; i++) run_txn(rk, i, i % 3 != 1);
    read_check("read_committed", committed);
    read_check("read_uncommitted", everything);
    fencing(txn_id, rk);
    rd_kafka_destroy(rk);
    read_check("read_committed", committed);
    read_check("read_uncommitted", everything);
    return it_finish(TEST, "%d transactions over %d partitions, fencing checked", TXNS + 1, PARTS);
}
