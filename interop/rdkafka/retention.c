/* interop/rdkafka/retention.c: retention.bytes, retention.ms and DeleteRecords seen by
 * a client.
 * A topic with segment.bytes=1 MiB (Kafka 4.x's minimum) and retention.bytes=2 MiB gets
 * ~4 MB; within the
 * broker's retention check interval (the runner sets log.retention.check.interval.ms to
 * 1000; Apache Kafka needs the same override) its low watermark rises and consuming from
 * the beginning starts there (Apache Kafka also needs log.initial.task.delay.ms=0).
 * DeleteRecords then moves the low watermark to a chosen offset, and a consumer reset to
 * the earliest offset starts exactly there. A second topic with retention.ms=3000 and
 * 1 MiB segments gets ~4 MB: within a few seconds its old segments are gone, the low
 * watermark rises, and after one more record a consumer reset to the earliest offset
 * starts at the new log start (Kafka may also roll and drop the expired active segment;
 * either way the consumer starts at the low watermark).
 * Usage: BOOTSTRAP=host:port retention [topic-prefix] */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define TEST "retention"
#define TIMEOUT_MS 15000
#define RECORDS 4000 /* of 1000 bytes */

static int delivered, delivery_errors;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (delivery_errors++ < 3) it_note("delivery failed: %s", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static int64_t
low_watermark(rd_kafka_t *rk, const char *topic)
{
    int64_t lo = -1, hi = -1;
    if (rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, TIMEOUT_MS)) return -1;
    return lo;
}

static int64_t
first_consumed_offset(const char *topic)
{
    rd_kafka_t *c = it_handle_new(TEST, RD_KAFKA_CONSUMER,
                                  it_conf_new(TEST, "group.id", "unused", "enable.auto.commit", "false",
                                              "auto.offset.reset", "earliest", NULL));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int64_t got = -1;
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    for (int i = 0; i < 100 && got < 0; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) continue;
        if (!m->err) got = m->offset;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return got;
}

/* Create a 1-partition topic with segment.bytes=1 MiB and one more setting. */
static void
topic_create(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *topic, const char *key, const char *value)
{
    char errstr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof(errstr));
    rd_kafka_NewTopic_set_config(nt, "segment.bytes", "1048576");
    rd_kafka_NewTopic_set_config(nt, key, value);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
    size_t nres = 0;
    const rd_kafka_topic_result_t **tres =
        ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres) : NULL;
    it_check(nres == 1 && !rd_kafka_topic_result_error(tres[0]), "CreateTopics with segment.bytes and %s: %s", key,
             nres == 1 && rd_kafka_topic_result_error_string(tres[0]) ? rd_kafka_topic_result_error_string(tres[0]) : "ok");
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(nt);
    it_topic_wait(rk, topic, 1, TIMEOUT_MS);
}

/* n records of 1000 bytes to partition 0, all acknowledged. */
static void
produce_n(rd_kafka_t *rk, const char *topic, int n)
{
    static char value[1000];
    int before = delivered;
    memset(value, 'v', sizeof(value));
    for (int i = 0; i < n; i++) {
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_VALUE(value, sizeof(value)), RD_KAFKA_V_END) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
    }
    it_check(rd_kafka_flush(rk, TIMEOUT_MS) == 0 && delivered - before == n, "%d records acknowledged (%d errors)",
             delivered - before, delivery_errors);
}

/* retention.ms: expired segments go, and consumers from the earliest offset start at the
 * new log start. */
static void
retention_by_time(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *prefix)
{
    char topic[200], errstr[256];
    int64_t lo = -1;
    snprintf(topic, sizeof(topic), "%s-time", prefix);
    topic_create(rk, q, topic, "retention.ms", "3000");
    produce_n(rk, topic, RECORDS);
    for (int i = 0; i < 150 && lo <= 0; i++) {
        lo = low_watermark(rk, topic);
        if (lo <= 0) usleep(200 * 1000);
    }
    it_check(lo > 0 && lo <= RECORDS, "retention.ms=3000 raised the low watermark to %lld", (long long)lo);
    produce_n(rk, topic, 1);
    lo = low_watermark(rk, topic);
    int64_t first = first_consumed_offset(topic);
    it_check(first == lo && first > 0, "consumer from the earliest offset starts at %lld, low watermark %lld",
             (long long)first, (long long)lo);
    it_topic_delete(rk, topic, errstr, sizeof(errstr));
}

int
main(int argc, char **argv)
{
    const char *prefix = argc > 1 ? argv[1] : "skiff-interop-retention";
    rd_kafka_conf_t *conf = it_conf_new(TEST, "linger.ms", "5", "batch.size", "100000", NULL);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    char topic[200], errstr[256];
    rd_kafka_event_t *ev;
    int64_t lo = -1;

    snprintf(topic, sizeof(topic), "%s-t", prefix);
    topic_create(rk, q, topic, "retention.bytes", "2097152");
    produce_n(rk, topic, RECORDS);
    for (int i = 0; i < 100 && lo <= 0; i++) {
        lo = low_watermark(rk, topic);
        if (lo <= 0) usleep(200 * 1000);
    }
    it_check(lo > 0 && lo < RECORDS, "retention.bytes raised the low watermark to %lld", (long long)lo);
    int64_t first = first_consumed_offset(topic);
    it_check(first == lo, "consumer from the beginning starts at %lld, low watermark %lld", (long long)first,
             (long long)lo);

    int64_t target = lo + 123;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = target;
    rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(l);
    rd_kafka_DeleteRecords(rk, &dr, 1, NULL, q);
    ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
    const rd_kafka_topic_partition_list_t *res =
        ev ? rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev)) : NULL;
    it_check(res && res->cnt == 1 && !res->elems[0].err && res->elems[0].offset == target,
             "DeleteRecords to %lld: low watermark %lld", (long long)target,
             res && res->cnt == 1 ? (long long)res->elems[0].offset : -1LL);
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_DeleteRecords_destroy(dr);
    rd_kafka_topic_partition_list_destroy(l);
    it_check(low_watermark(rk, topic) == target, "ListOffsets earliest after DeleteRecords");
    first = first_consumed_offset(topic);
    it_check(first == target, "consumer reset to earliest starts at %lld, want %lld", (long long)first,
             (long long)target);
    it_topic_delete(rk, topic, errstr, sizeof(errstr));
    retention_by_time(rk, q, prefix);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return it_finish(TEST, "retention.bytes, retention.ms and DeleteRecords, topic %s", topic);
}
