/* interop/rdkafka/txn_read_committed.c: what consumers of each isolation level get from
 * a transactional producer, while the transactions happen:
 *
 *   txn_read_committed [topic]      env BOOTSTRAP, TXNS (default 30)
 *
 * A 3-partition topic is created; two consumers assign() all partitions from the
 * beginning before anything is written: one read_committed, one read_uncommitted. A
 * transactional producer (librdkafka's transactions API) then runs TXNS transactions of
 * 3..8 records spread over the partitions, committing two of every three and aborting
 * the third; both consumers are polled between transactions, so the read_committed one
 * keeps fetching at the last stable offset while transactions open and close. Then one
 * more transaction is produced and flushed but left open: the read_committed consumer
 * must deliver nothing of it for 2 s (the LSO holds it back) and all of it within 10 s
 * of the commit (the marker wakes its fetch). At the end, per partition:
 *   read_committed   exactly the committed records, in production order;
 *   read_uncommitted every record produced (committed and aborted), in order;
 * and neither consumer delivers a record twice. Values name their transaction and
 * position ("t<txn>-<n>"), so the expected lists are built from what was produced.
 * Ends with one PASS/FAIL line (itest.h). */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST "txn_read_committed"
#define PARTS 3
#define REC_MAX 4096
#define VAL_MAX 32

typedef struct list {
    char v[REC_MAX][VAL_MAX];
    int n;
} list_t;

static list_t committed[PARTS], all_recs[PARTS], got_rc[PARTS], got_ru[PARTS];
static char topic[128];

static void
list_add(list_t *l, const char *v, size_t len)
{
    if (!it_check(l->n < REC_MAX, "more than %d records in a list", REC_MAX)) return;
    if (len >= VAL_MAX) len = VAL_MAX - 1;
    memcpy(l->v[l->n], v, len);
    l->v[l->n][len] = 0;
    l->n++;
}

static rd_kafka_t *
consumer_new(const char *isolation)
{
    char group[160];
    snprintf(group, sizeof(group), "%s-%s", topic, isolation);
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_CONSUMER,
                                   it_conf_new(TEST, "group.id", group, "enable.auto.commit", "false",
                                               "isolation.level", isolation, "fetch.wait.max.ms", "500",
                                               "enable.partition.eof", "false", NULL));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
    for (int p = 0; p < PARTS; p++) rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) it_die(TEST, "assign (%s): %s", isolation, rd_kafka_err2str(err));
    return rk;
}

/* Poll for up to ms; returns the number of records delivered. */
static int
consume(rd_kafka_t *rk, list_t *out, int ms)
{
    int n = 0;
    int64_t end = it_now_ms() + ms;
    do {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m) continue;
        if (m->err) {
            it_check(0, "consumer error: %s", rd_kafka_message_errstr(m));
        } else if (it_check(m->partition >= 0 && m->partition < PARTS, "record from partition %d", m->partition)) {
            list_add(&out[m->partition], m->payload ? m->payload : "", m->len);
            n++;
        }
        rd_kafka_message_destroy(m);
    } while (it_now_ms() < end);
    return n;
}

static void
txn_call(const char *what, rd_kafka_error_t *e)
{
    if (!e) return;
    it_die(TEST, "%s: %s", what, rd_kafka_error_string(e));
}

/* Produce one transaction's records (not committed here); returns how many. */
static int
produce_txn(rd_kafka_t *p, int t, list_t *staged)
{
    int n = 3 + t % 6;
    txn_call("begin_transaction", rd_kafka_begin_transaction(p));
    for (int i = 0; i < n; i++) {
        char v[VAL_MAX];
        int part = (t + i) % PARTS;
        int len = snprintf(v, sizeof(v), "t%d-%d", t, i);
        rd_kafka_resp_err_t err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                                    RD_KAFKA_V_VALUE(v, (size_t)len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                    RD_KAFKA_V_END);
        if (err) it_die(TEST, "produce: %s", rd_kafka_err2str(err));
        list_add(&staged[part], v, (size_t)len);
    }
    return n;
}

static void
lists_move(list_t *to_a, list_t *to_b, list_t *staged)
{
    for (int p = 0; p < PARTS; p++) {
        for (int i = 0; i < staged[p].n; i++) {
            if (to_a) list_add(&to_a[p], staged[p].v[i], strlen(staged[p].v[i]));
            if (to_b) list_add(&to_b[p], staged[p].v[i], strlen(staged[p].v[i]));
        }
        staged[p].n = 0;
    }
}

static int
total(const list_t *l)
{
    int n = 0;
    for (int p = 0; p < PARTS; p++) n += l[p].n;
    return n;
}

/* Poll until want records arrived or 30 s passed with nothing new. */
static void
drain(rd_kafka_t *rk, list_t *out, int want)
{
    int64_t idle_until = it_now_ms() + 30000;
    while (total(out) < want && it_now_ms() < idle_until)
        if (consume(rk, out, 200) > 0) idle_until = it_now_ms() + 30000;
    consume(rk, out, 1000); /* anything extra would show up now */
}

static void
compare(const char *what, const list_t *want, const list_t *got)
{
    for (int p = 0; p < PARTS; p++) {
        int same = want[p].n == got[p].n;
        for (int i = 0; same && i < want[p].n; i++) same = !strcmp(want[p].v[i], got[p].v[i]);
        if (!it_check(same, "%s partition %d: %d records, want %d", what, p, got[p].n, want[p].n)) {
            for (int i = 0; i < want[p].n || i < got[p].n; i++) {
                const char *w = i < want[p].n ? want[p].v[i] : "-", *g = i < got[p].n ? got[p].v[i] : "-";
                if (strcmp(w, g)) {
                    it_note("  first difference at %d: want %s got %s", i, w, g);
                    break;
                }
            }
        }
    }
}

int
main(int argc, char **argv)
{
    static list_t staged[PARTS];
    char errstr[512], txn_id[160];
    int txns = (int)it_env_ll("TXNS", 30), aborted = 0;

    snprintf(topic, sizeof(topic), "%s", argc > 1 ? argv[1] : "it-txn-rc");
    snprintf(txn_id, sizeof(txn_id), "%s-%d", topic, (int)getpid());
    rd_kafka_t *p = it_handle_new(TEST, RD_KAFKA_PRODUCER,
                                  it_conf_new(TEST, "transactional.id", txn_id, "linger.ms", "5", NULL));
    int rc = it_topic_create(p, topic, PARTS, 1, 0, errstr, sizeof(errstr));
    if (rc != 0 && rc != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) it_die(TEST, "create %s: %d %s", topic, rc, errstr);
    if (it_topic_wait(p, topic, PARTS, 30000) != PARTS) it_die(TEST, "topic %s has no leaders", topic);
    rd_kafka_t *rc_c = consumer_new("read_committed"), *ru_c = consumer_new("read_uncommitted");
    txn_call("init_transactions", rd_kafka_init_transactions(p, 30000));

    for (int t = 0; t < txns; t++) {
        produce_txn(p, t, staged);
        if (t % 3 == 1) {
            /* abort_transaction purges what is not sent yet: send it all first, so the
             * aborted records are in the log for read_uncommitted to see. */
            if (rd_kafka_flush(p, 10000)) it_check(0, "flush before abort timed out");
            txn_call("abort_transaction", rd_kafka_abort_transaction(p, 30000));
            lists_move(NULL, all_recs, staged);
            aborted++;
        } else {
            txn_call("commit_transaction", rd_kafka_commit_transaction(p, 30000));
            lists_move(committed, all_recs, staged);
        }
        consume(rc_c, got_rc, 20);
        consume(ru_c, got_ru, 20);
    }
    /* An open transaction holds the read_committed consumer back. */
    drain(rc_c, got_rc, total(committed));
    int before = total(got_rc);
    produce_txn(p, txns, staged);
    if (rd_kafka_flush(p, 10000)) it_check(0, "flush of the open transaction timed out");
    consume(rc_c, got_rc, 2000);
    it_check(total(got_rc) == before, "read_committed delivered %d records of an open transaction",
             total(got_rc) - before);
    int64_t t0 = it_now_ms();
    txn_call("commit_transaction", rd_kafka_commit_transaction(p, 30000));
    lists_move(committed, all_recs, staged);
    while (total(got_rc) < total(committed) && it_now_ms() - t0 < 10000) consume(rc_c, got_rc, 100);
    it_check(total(got_rc) == total(committed), "read_committed: the last commit not delivered within 10 s");

    drain(rc_c, got_rc, total(committed));
    drain(ru_c, got_ru, total(all_recs));
    compare("read_committed", committed, got_rc);
    compare("read_uncommitted", all_recs, got_ru);
    rd_kafka_consumer_close(rc_c);
    rd_kafka_consumer_close(ru_c);
    rd_kafka_destroy(rc_c);
    rd_kafka_destroy(ru_c);
    rd_kafka_destroy(p);
    return it_finish(TEST, "%d transactions (%d aborted) over %d partitions: read_committed %d records, "
                     "read_uncommitted %d", txns + 1, aborted, PARTS, total(got_rc), total(got_ru));
}
