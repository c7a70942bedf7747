/* interop/rdkafka/offsets_for_times.c: ListOffsets by timestamp through
 * rd_kafka_offsets_for_times, on a fresh 2-partition topic.
 *
 *   offsets_for_times <topic>          env BOOTSTRAP
 *
 * Partition 0 gets 12 records with CreateTime timestamps T0 + 10*i for i = 0..9, then
 * two records both at T0 + 100. Records 0..4 are sent one batch each (flush after each);
 * records 5..9 and 10..11 are sent as one batch each, so lookups must land inside a
 * batch, not on its base offset. Partition 1 stays empty.
 * Expected answers are Apache Kafka's: the offset of the first record whose timestamp is
 * >= the target; -1 (no offset, no error) when no record is that late or the partition
 * is empty. The watermarks (earliest/latest ListOffsets) must be 0/12 and 0/0. */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TEST "offsets_for_times"
#define RECORD_COUNT 12

typedef struct {
    int32_t partition;
    int64_t ts_delta; /* target = T0 + ts_delta */
    int64_t want_offset;
    const char *what;
} query_t;

static const query_t QUERIES[] = {
    {0, -1000, 0, "before the first record"},
    {0, 0, 0, "exactly the first record"},
    {0, 20, 2, "exact, own batch"},
    {0, 25, 3, "between two single-record batches"},
    {0, 45, 5, "between a single batch and a multi-record batch"},
    {0, 65, 7, "between records inside a batch"},
    {0, 70, 7, "exact, inside a batch"},
    {0, 90, 9, "exact, last record of a batch"},
    {0, 95, 10, "before two records with equal timestamps"},
    {0, 100, 10, "equal timestamps: the first of them"},
    {0, 101, -1, "after the last record"},
    {1, 0, -1, "empty partition"},
};
#define QUERY_COUNT (sizeof(QUERIES) / sizeof(QUERIES[0]))

static int64_t
record_ts_delta(int i)
{
    return i < 10 ? 10 * (int64_t)i : 100;
}

static void
produce_records(rd_kafka_t *rk, const char *topic, int64_t t0)
{
    char val[32];
    rd_kafka_resp_err_t err;
    int i;

    for (i = 0; i < RECORD_COUNT; i++) {
        snprintf(val, sizeof(val), "ts-record-%d", i);
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE(val, strlen(val)),
                                RD_KAFKA_V_TIMESTAMP(t0 + record_ts_delta(i)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err) it_die(TEST, "producev %d: %s", i, rd_kafka_err2str(err));
        if (i < 5 || i == 9 || i == RECORD_COUNT - 1) {
            if (rd_kafka_flush(rk, 30000) != 0) it_die(TEST, "flush timed out");
        }
    }
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    int *acked = opaque;

    (void)rk;
    if (it_check(m->err == 0, "delivery failed: %s", rd_kafka_err2str(m->err)))
        (*acked)++;
}

static void
check_queries(rd_kafka_t *rk, const char *topic, int64_t t0)
{
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(QUERY_COUNT);
    rd_kafka_resp_err_t err;
    size_t i;

    /* one request per query: a list may name each partition only once */
    for (i = 0; i < QUERY_COUNT; i++) {
        const query_t *q = &QUERIES[i];
        rd_kafka_topic_partition_t *tp;

        rd_kafka_topic_partition_list_destroy(tpl);
        tpl = rd_kafka_topic_partition_list_new(1);
        tp = rd_kafka_topic_partition_list_add(tpl, topic, q->partition);
        tp->offset = t0 + q->ts_delta;
        err = rd_kafka_offsets_for_times(rk, tpl, 10000);
        it_check(err == 0 && tp->err == 0 && tp->offset == q->want_offset,
                 "p%d ts T0%+" PRId64 " (%s): got offset %" PRId64 " err %s/%s, want %" PRId64,
                 (int)q->partition, q->ts_delta, q->what, (int64_t)tp->offset,
                 rd_kafka_err2name(err), rd_kafka_err2name(tp->err), q->want_offset);
    }
    rd_kafka_topic_partition_list_destroy(tpl);
}

static void
check_watermarks(rd_kafka_t *rk, const char *topic)
{
    int64_t lo = -9, hi = -9;
    rd_kafka_resp_err_t err;

    err = rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000);
    it_check(err == 0 && lo == 0 && hi == RECORD_COUNT,
             "p0 watermarks %s %" PRId64 "/%" PRId64 ", want 0/%d", rd_kafka_err2name(err),
             lo, hi, RECORD_COUNT);
    err = rd_kafka_query_watermark_offsets(rk, topic, 1, &lo, &hi, 10000);
    it_check(err == 0 && lo == 0 && hi == 0, "p1 watermarks %s %" PRId64 "/%" PRId64
             ", want 0/0", rd_kafka_err2name(err), lo, hi);
}

int
main(int argc, char **argv)
{
    const char *topic = argc > 1 ? argv[1] : "skiff-interop-oft";
    int64_t t0 = (it_now_ms() / 1000 - 600) * 1000; /* recent, whole second */
    rd_kafka_conf_t *conf = it_conf_new(TEST, "linger.ms", "50", "acks", "all", NULL);
    int acked = 0, rc;
    char errstr[512];
    rd_kafka_t *rk;

    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &acked);
    rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    rc = it_topic_create(rk, topic, 2, 1, 0, errstr, sizeof(errstr));
    if (rc != 0) it_die(TEST, "CreateTopics %s: code %d %s", topic, rc, errstr);
    if (it_topic_wait(rk, topic, 2, 30000) != 2) it_die(TEST, "topic %s not ready", topic);
    produce_records(rk, topic, t0);
    it_check(acked == RECORD_COUNT, "%d of %d records acked", acked, RECORD_COUNT);
    check_watermarks(rk, topic);
    check_queries(rk, topic, t0);
    rd_kafka_destroy(rk);
    return it_finish(TEST, "%zu timestamp lookups, topic %s", QUERY_COUNT, topic);
}
