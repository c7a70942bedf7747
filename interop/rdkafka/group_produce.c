/* interop/rdkafka/group_produce.c: the producer side of interop/groups.sh. Creates the
 * topic with the given partition count if it does not exist, then produces records
 * whose values are "v<seq>" for seq in [first, first + count), record seq going to
 * partition seq % partitions, and waits until every one is acknowledged.
 *
 *   group_produce <topic> <partitions> <first> <count>
 *
 * env BOOTSTRAP (required). Ends with one PASS/FAIL line. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST "group_produce"

static long long delivered, failed;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) failed++;
    else delivered++;
}

int
main(int argc, char **argv)
{
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    char errstr[256];
    int parts, rc;
    long long first, count;

    if (argc != 5) it_die(TEST, "usage: group_produce <topic> <partitions> <first> <count>");
    parts = atoi(argv[2]);
    first = atoll(argv[3]);
    count = atoll(argv[4]);
    conf = it_conf_new(TEST, "linger.ms", "5", NULL);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    rc = it_topic_create(rk, argv[1], parts, 1, 0, errstr, sizeof(errstr));
    it_check(rc == 0 || rc == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "CreateTopics: %d %s", rc, errstr);
    it_check(it_topic_wait(rk, argv[1], parts, 30000) == parts, "topic %s has %d partitions", argv[1], parts);
    for (long long i = first; i < first + count; i++) {
        char v[32];
        int n = snprintf(v, sizeof(v), "v%lld", i);
        rd_kafka_resp_err_t err;
        do {
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[1]), RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
                                    RD_KAFKA_V_VALUE(v, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk, 10);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        it_check(err == 0, "produce v%lld: %s", i, rd_kafka_err2name(err));
    }
    rd_kafka_flush(rk, 60000);
    it_check(delivered == count && failed == 0, "delivered %lld of %lld, %lld failed", delivered, count, failed);
    rd_kafka_destroy(rk);
    return it_finish(TEST, "%lld records to %s", delivered, argv[1]);
}
