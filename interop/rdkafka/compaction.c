/* interop/rdkafka/compaction.c: a compacted topic seen by a client. A topic with
 * cleanup.policy=compact, segment.bytes at its minimum (1 MiB) and
 * min.cleanable.dirty.ratio=0.01 gets 100,000 updates over 1,000 keys (about 10 MB,
 * an idempotent producer so the last update of each key is the newest). A record
 * without a key is refused (INVALID_RECORD). The program then reads the partition
 * from the beginning every few seconds until compaction has shrunk it (the runner sets
 * log.cleaner.backoff.ms=1000 on both brokers), and checks the final read: offsets
 * strictly increasing, with gaps, and exactly the newest value of every key.
 * Usage: BOOTSTRAP=host:port compaction [topic-prefix]; env UPDATES, KEYS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define TEST "compaction"
#define TIMEOUT_MS 15000
#define WAIT_S 180
#define VALUE_PAD 64

static int delivered, delivery_errors, keyless_err = -1;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->key_len == 0 && !m->key) {
        keyless_err = m->err;
        return;
    }
    if (m->err) {
        if (delivery_errors++ < 3) it_note("delivery failed: %s", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

typedef struct readback {
    long long records, batches_gap, last_offset, hw;
    long *latest;      /* per key: sequence number of the newest value read, -1 none */
    int bad;           /* malformed keys/values or offsets going backwards */
} readback_t;

/* Read the whole partition once (until the high watermark). */
static void
read_all(const char *topic, int keys, readback_t *rb)
{
    rd_kafka_t *c = it_handle_new(TEST, RD_KAFKA_CONSUMER,
                                  it_conf_new(TEST, "group.id", "unused", "enable.auto.commit", "false",
                                              "enable.partition.eof", "true", NULL));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int64_t lo = -1, hi = -1;
    memset(rb, 0, sizeof(*rb));
    rb->last_offset = -1;
    rb->latest = malloc((size_t)keys * sizeof(long));
    for (int k = 0; k < keys; k++) rb->latest[k] = -1;
    rd_kafka_query_watermark_offsets(c, topic, 0, &lo, &hi, TIMEOUT_MS);
    rb->hw = hi;
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    for (int idle = 0; idle < 100;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) {
            idle++;
            continue;
        }
        idle = 0;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        if (!m->err) {
            int key;
            long seq;
            char kbuf[32], vbuf[64];
            size_t kl = m->key_len < sizeof(kbuf) - 1 ? m->key_len : sizeof(kbuf) - 1;
            size_t vl = m->len < sizeof(vbuf) - 1 ? m->len : sizeof(vbuf) - 1;
            memcpy(kbuf, m->key ? m->key : "", m->key ? kl : 0);
            kbuf[m->key ? kl : 0] = '\0';
            memcpy(vbuf, m->payload ? m->payload : "", m->payload ? vl : 0);
            vbuf[m->payload ? vl : 0] = '\0';
            if (m->offset <= rb->last_offset) rb->bad++;
            if (m->offset > rb->last_offset + 1) rb->batches_gap++;
            rb->last_offset = m->offset;
            rb->records++;
            if (sscanf(kbuf, "key-%d", &key) != 1 || key < 0 || key >= keys || sscanf(vbuf, "v-%ld-", &seq) != 1)
                rb->bad++;
            else
                rb->latest[key] = seq;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

static void
create_topic(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    char errstr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof(errstr));
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_NewTopic_set_config(nt, "segment.bytes", "1048576");
    rd_kafka_NewTopic_set_config(nt, "min.cleanable.dirty.ratio", "0.01");
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
    size_t nres = 0;
    const rd_kafka_topic_result_t **tres =
        ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres) : NULL;
    it_check(nres == 1 && !rd_kafka_topic_result_error(tres[0]), "CreateTopics compacted: %s",
             nres == 1 && rd_kafka_topic_result_error_string(tres[0]) ? rd_kafka_topic_result_error_string(tres[0])
                                                                     : "ok");
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    it_topic_wait(rk, topic, 1, TIMEOUT_MS);
}

static void
produce_updates(rd_kafka_t *rk, const char *topic, long updates, int keys, long *expect)
{
    char key[32], value[VALUE_PAD + 32];
    for (long i = 0; i < updates; i++) {
        int k = (int)((i * 7919) % keys);
        int kl = snprintf(key, sizeof(key), "key-%04d", k);
        int vl = snprintf(value, sizeof(value), "v-%ld-%0*d", i, VALUE_PAD, 0);
        expect[k] = i;
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, kl),
                                 RD_KAFKA_V_VALUE(value, vl), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 120000);
    it_check(ferr == 0 && delivered == updates, "all %ld updates acknowledged (%d, %d errors, flush: %s)", updates,
             delivered, delivery_errors, rd_kafka_err2name(ferr));
}

int
main(int argc, char **argv)
{
    const char *prefix = argc > 1 ? argv[1] : "skiff-interop-compaction";
    long updates = (long)it_env_ll("UPDATES", 100000);
    int keys = (int)it_env_ll("KEYS", 1000);
    rd_kafka_conf_t *conf = it_conf_new(TEST, "linger.ms", "5", "enable.idempotence", "true", NULL);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    long *expect = malloc((size_t)keys * sizeof(long));
    char topic[200], errstr[256];
    readback_t rb = {0};
    int64_t t0;

    for (int k = 0; k < keys; k++) expect[k] = -1;
    snprintf(topic, sizeof(topic), "%s-t", prefix);
    create_topic(rk, topic);
    produce_updates(rk, topic, updates, keys, expect);
    /* A record without a key cannot be compacted: Kafka refuses it. */
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE("nokey", 5),
                      RD_KAFKA_V_END);
    rd_kafka_flush(rk, TIMEOUT_MS);
    it_check(keyless_err == RD_KAFKA_RESP_ERR_INVALID_RECORD, "record without a key refused: %s",
             keyless_err < 0 ? "no report" : rd_kafka_err2name(keyless_err));

    t0 = it_now_ms();
    long long first_records = -1;
    for (;;) {
        free(rb.latest);
        read_all(topic, keys, &rb);
        if (first_records < 0) first_records = rb.records;
        if (rb.records < updates / 4 || it_now_ms() - t0 > WAIT_S * 1000LL) break;
        sleep(3);
    }
    it_note("compaction took %.1f s: %lld records readable of %lld written (high watermark %lld, %lld gaps)",
            (double)(it_now_ms() - t0) / 1000.0, rb.records, (long long)updates, rb.hw, rb.batches_gap);
    it_check(rb.records < updates / 4, "compaction shrank the log: %lld records left of %ld", rb.records, updates);
    it_check(rb.hw >= updates, "offsets never change: high watermark %lld", rb.hw);
    it_check(rb.bad == 0, "offsets strictly increasing, keys and values well-formed (%d bad)", rb.bad);
    it_check(rb.batches_gap > 0, "readers see gaps in the offsets");
    int wrong = 0, missing = 0;
    for (int k = 0; k < keys; k++) {
        if (rb.latest[k] < 0) missing++;
        else if (rb.latest[k] != expect[k]) wrong++;
    }
    it_check(missing == 0 && wrong == 0, "newest value of every key: %d keys missing, %d with an older value",
             missing, wrong);
    it_topic_delete(rk, topic, errstr, sizeof(errstr));
    free(rb.latest);
    free(expect);
    rd_kafka_destroy(rk);
    return it_finish(TEST, "%ld updates over %d keys compacted to %lld records, topic %s", updates, keys,
                     rb.records, topic);
}
