/* interop/rdkafka/txn_eos_copy.c: exactly-once consume-transform-produce with
 * librdkafka, in three modes driven by interop/txn_eos.sh:
 *
 *   txn_eos_copy fill <in> <out> <n>            env BOOTSTRAP
 *       create <in> and <out> (3 partitions each) and write records "r0".."r<n-1>" to
 *       <in> with an idempotent producer
 *   txn_eos_copy copy <in> <out> <group> <txn.id>
 *       consume <in> at read_committed in group <group>, write each record to the same
 *       partition of <out> inside a transaction together with the consumer's offsets
 *       (send_offsets_to_transaction), TXN_RECORDS (default 500) records a
 *       transaction, TXN_PAUSE_MS (default 0) between transactions; prints a
 *       "copied" note every 10 transactions; on an abortable error abort and rewind
 *       to the committed offsets;
 *       exits 0 after IDLE_EXIT_MS (default 8000) without input, 1 on a fatal error.
 *       Meant to be killed with SIGKILL at any moment and started again.
 *   txn_eos_copy verify <out> <n>
 *       read <out> at read_committed to its end: exactly n records, each of "r0" ..
 *       "r<n-1>" once (no loss, no duplicate).
 *
 * Ends with one PASS/FAIL line (itest.h). */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST "txn_eos_copy"
#define PARTS 3

/* ---- fill ---- */

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    if (m->err) ++*(long *)opaque;
}

static int
fill(const char *in, const char *out, long n)
{
    char errstr[512], v[32];
    long failed = 0;
    rd_kafka_conf_t *conf = it_conf_new(TEST, "enable.idempotence", "true", "linger.ms", "20", NULL);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &failed);
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    const char *topics[2] = {in, out};

    for (int i = 0; i < 2; i++) {
        int rc = it_topic_create(rk, topics[i], PARTS, 1, 0, errstr, sizeof(errstr));
        if (rc != 0 && rc != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) it_die(TEST, "create %s: %s", topics[i], errstr);
        it_topic_wait(rk, topics[i], PARTS, 10000);
    }
    for (long i = 0; i < n; i++) {
        int len = snprintf(v, sizeof(v), "r%ld", i);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_PARTITION((int32_t)(i % PARTS)),
                                      RD_KAFKA_V_VALUE(v, (size_t)len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 50);
        if (e) it_die(TEST, "produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    it_check(failed == 0 && rd_kafka_outq_len(rk) == 0, "fill: %ld records failed", failed);
    rd_kafka_destroy(rk);
    return it_finish(TEST, "fill: %ld records into %s", n, in);
}

/* ---- copy ---- */

/* Seek every assigned partition back to its committed offset (or the start). */
static void
rewind_consumer(rd_kafka_t *c)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(c, &a) || !a) return;
    if (a->cnt > 0 && rd_kafka_committed(c, a, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < a->cnt; i++)
            if (a->elems[i].offset < 0) a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_error_t *err = rd_kafka_seek_partitions(c, a, 10000);
        if (err) rd_kafka_error_destroy(err);
    }
    rd_kafka_topic_partition_list_destroy(a);
}

/* Commit the open transaction with the consumer's positions. 0 ok, 1 aborted (rewound),
 * exits on a fatal error. */
static int
txn_finish(rd_kafka_t *p, rd_kafka_t *c)
{
    rd_kafka_topic_partition_list_t *pos = NULL;
    rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(c);
    rd_kafka_error_t *err = NULL;

    if (rd_kafka_assignment(c, &pos) == RD_KAFKA_RESP_ERR_NO_ERROR && pos) {
        rd_kafka_position(c, pos);
        err = rd_kafka_send_offsets_to_transaction(p, pos, md, 30000);
        rd_kafka_topic_partition_list_destroy(pos);
    }
    rd_kafka_consumer_group_metadata_destroy(md);
    if (!err) err = rd_kafka_commit_transaction(p, 30000);
    if (!err) return 0;
    if (rd_kafka_error_is_fatal(err)) it_die(TEST, "fatal: %s", rd_kafka_error_string(err));
    it_note("transaction aborted: %s", rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
    err = rd_kafka_abort_transaction(p, 30000);
    if (err) {
        if (rd_kafka_error_is_fatal(err)) it_die(TEST, "fatal abort: %s", rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    }
    rewind_consumer(c);
    return 1;
}

static rd_kafka_t *
copy_consumer(const char *in, const char *group)
{
    rd_kafka_conf_t *conf = it_conf_new(TEST, "group.id", group, "isolation.level", "read_committed",
                                        "enable.auto.commit", "false", "auto.offset.reset", "earliest",
                                        "session.timeout.ms", "6000", "heartbeat.interval.ms", "1000", NULL);
    rd_kafka_t *c = it_handle_new(TEST, RD_KAFKA_CONSUMER, conf);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, in, RD_KAFKA_PARTITION_UA);
    rd_kafka_poll_set_consumer(c);
    if (rd_kafka_subscribe(c, t)) it_die(TEST, "subscribe failed");
    rd_kafka_topic_partition_list_destroy(t);
    return c;
}

static int
copy(const char *in, const char *out, const char *group, const char *txn_id)
{
    long per_txn = it_env_ll("TXN_RECORDS", 500), idle_ms = it_env_ll("IDLE_EXIT_MS", 8000), in_txn = 0, copied = 0;
    long txns = 0, aborts = 0, pause_ms = it_env_ll("TXN_PAUSE_MS", 0);
    rd_kafka_conf_t *pconf = it_conf_new(TEST, "transactional.id", txn_id, "transaction.timeout.ms", "20000",
                                         "linger.ms", "10", NULL);
    rd_kafka_t *p = it_handle_new(TEST, RD_KAFKA_PRODUCER, pconf), *c = copy_consumer(in, group);
    rd_kafka_error_t *err = rd_kafka_init_transactions(p, 60000);
    int64_t last_input = it_now_ms();

    if (err) it_die(TEST, "init_transactions: %s", rd_kafka_error_string(err));
    while (it_now_ms() - last_input < idle_ms) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (m && !m->err) {
            if (in_txn == 0 && (err = rd_kafka_begin_transaction(p)))
                it_die(TEST, "begin_transaction: %s", rd_kafka_error_string(err));
            rd_kafka_resp_err_t e;
            while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(out), RD_KAFKA_V_PARTITION(m->partition),
                                          RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                          RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 50);
            if (e) it_note("produce: %s", rd_kafka_err2str(e)); /* the commit will fail and abort */
            in_txn++;
            last_input = it_now_ms();
        } else if (m && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            it_note("consume: %s", rd_kafka_message_errstr(m));
        }
        if (m) rd_kafka_message_destroy(m);
        if (in_txn > 0 && (in_txn >= per_txn || !m)) {
            if (txn_finish(p, c) == 0) copied += in_txn, txns++;
            else aborts++;
            if (txns % 10 == 1) it_note("copied %ld records in %ld transactions", copied, txns);
            if (pause_ms > 0) usleep((useconds_t)pause_ms * 1000);
            in_txn = 0;
        }
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    return it_finish(TEST, "copy: %ld records in %ld transactions, %ld aborted", copied, txns, aborts);
}

/* ---- verify ---- */

static int
verify(const char *out, long n)
{
    unsigned char *seen = calloc((size_t)n, 1);
    long got = 0, dup = 0, bad = 0;
    int eof[PARTS] = {0}, eofs = 0;
    rd_kafka_conf_t *conf = it_conf_new(TEST, "group.id", "txn-eos-verify", "isolation.level", "read_committed",
                                        "enable.auto.commit", "false", "enable.partition.eof", "true", NULL);
    rd_kafka_t *c = it_handle_new(TEST, RD_KAFKA_CONSUMER, conf);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(PARTS);
    int64_t deadline = it_now_ms() + 120000;

    if (!seen) it_die(TEST, "out of memory");
    for (int i = 0; i < PARTS; i++) rd_kafka_topic_partition_list_add(t, out, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, t);
    rd_kafka_topic_partition_list_destroy(t);
    while (eofs < PARTS && it_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 500);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < PARTS && !eof[m->partition]) eof[m->partition] = 1, eofs++;
        } else if (!m->err) {
            char v[32];
            long i = -1;
            snprintf(v, sizeof(v), "%.*s", (int)(m->len < 31 ? m->len : 31), (const char *)m->payload);
            if (v[0] == 'r') i = strtol(v + 1, NULL, 10);
            got++;
            if (i < 0 || i >= n) bad++;
            else if (seen[i]++) dup++;
        }
        rd_kafka_message_destroy(m);
    }
    long missing = 0;
    for (long i = 0; i < n; i++) missing += !seen[i];
    it_check(eofs == PARTS, "verify: end of %d partitions not reached", PARTS - eofs);
    it_check(got == n && dup == 0 && bad == 0 && missing == 0,
             "verify: %ld records (want %ld), %ld duplicates, %ld missing, %ld unknown", got, n, dup, missing, bad);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    free(seen);
    return it_finish(TEST, "verify: %ld records in %s, %ld duplicates, %ld missing", got, out, dup, missing);
}

int
main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "fill") == 0) return fill(argv[2], argv[3], atol(argv[4]));
    if (argc == 6 && strcmp(argv[1], "copy") == 0) return copy(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 4 && strcmp(argv[1], "verify") == 0) return verify(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: txn_eos_copy fill <in> <out> <n> | copy <in> <out> <group> <txn.id> | verify <out> <n>\n");
    return 2;
}
