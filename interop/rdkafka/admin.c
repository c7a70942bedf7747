/* interop/rdkafka/admin.c: CreateTopics, DeleteTopics and Metadata through librdkafka's
 * admin API, then auto-creation by a producer.
 *
 *   admin <topic-prefix>               env BOOTSTRAP; broker with num.partitions=4 and
 *                                      auto.create.topics.enable=true, one broker
 *
 * Each step compares the per-topic error code with what Apache Kafka 4.1 answers:
 * validate_only creates nothing; a duplicate is TOPIC_ALREADY_EXISTS (36); names with
 * illegal characters, "." / ".." or longer than 249 are INVALID_TOPIC_EXCEPTION (17);
 * 0 partitions is INVALID_PARTITIONS (37); replication factor 0 or above the broker
 * count is INVALID_REPLICATION_FACTOR (38); -1 partitions takes num.partitions; deleting
 * an unknown topic is UNKNOWN_TOPIC_OR_PARTITION (3). After DeleteTopics the topic must
 * leave the metadata, and producing to it again must auto-create it with
 * num.partitions partitions. */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TEST "admin"
#define DEFAULT_PARTITIONS 4
#define WAIT_MS 30000

enum {
    UNKNOWN_TOPIC_OR_PARTITION = 3,
    INVALID_TOPIC_EXCEPTION = 17,
    TOPIC_ALREADY_EXISTS = 36,
    INVALID_PARTITIONS = 37,
    INVALID_REPLICATION_FACTOR = 38,
};

static void
expect_create(rd_kafka_t *rk, const char *topic, int partition_count, int rf,
              int validate_only, int want)
{
    char errstr[512] = "";
    int got = it_topic_create(rk, topic, partition_count, rf, validate_only, errstr,
                              sizeof(errstr));

    it_check(got == want,
             "CreateTopics '%.60s' partitions=%d rf=%d validate_only=%d: code %d (%s), "
             "want %d",
             topic, partition_count, rf, validate_only, got, errstr, want);
}

static void
expect_partitions(rd_kafka_t *rk, const char *topic, int want, const char *when)
{
    int got = it_topic_wait(rk, topic, want, WAIT_MS);

    it_check(got == want, "metadata %s: topic %s has %d partitions, want %d (0 = absent)",
             when, topic, got, want);
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    int *acked = opaque;

    (void)rk;
    if (it_check(m->err == 0, "produce to deleted topic: %s", rd_kafka_err2str(m->err)))
        (*acked)++;
}

/* a fresh producer writes one record to topic, which does not exist */
static void
produce_autocreate(const char *topic)
{
    rd_kafka_conf_t *conf = it_conf_new(TEST, "message.timeout.ms", "30000", NULL);
    int acked = 0;
    rd_kafka_t *rk;
    rd_kafka_resp_err_t err;

    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &acked);
    rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE("again", 5),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    it_check(err == 0, "producev to deleted topic: %s", rd_kafka_err2str(err));
    rd_kafka_flush(rk, 40000);
    it_check(acked == 1, "record to the deleted topic was not acknowledged");
    expect_partitions(rk, topic, DEFAULT_PARTITIONS, "after auto-creation");
    rd_kafka_destroy(rk);
}

static void
check_bad_creates(rd_kafka_t *rk, const char *prefix)
{
    char name[300];

    snprintf(name, sizeof(name), "%s-bad/slash", prefix);
    expect_create(rk, name, 1, 1, 0, INVALID_TOPIC_EXCEPTION);
    snprintf(name, sizeof(name), "%s bad space", prefix);
    expect_create(rk, name, 1, 1, 0, INVALID_TOPIC_EXCEPTION);
    expect_create(rk, ".", 1, 1, 0, INVALID_TOPIC_EXCEPTION);
    expect_create(rk, "..", 1, 1, 0, INVALID_TOPIC_EXCEPTION);
    memset(name, 'a', 250);
    name[250] = '\0';
    expect_create(rk, name, 1, 1, 0, INVALID_TOPIC_EXCEPTION);
    name[249] = '\0'; /* 249 is the longest legal name */
    expect_create(rk, name, 1, 1, 1, 0);
    snprintf(name, sizeof(name), "%s-zero-partitions", prefix);
    expect_create(rk, name, 0, 1, 0, INVALID_PARTITIONS);
    expect_partitions(rk, name, 0, "after a refused create");
    snprintf(name, sizeof(name), "%s-rf0", prefix);
    expect_create(rk, name, 1, 0, 0, INVALID_REPLICATION_FACTOR);
    snprintf(name, sizeof(name), "%s-rf3", prefix);
    expect_create(rk, name, 1, 3, 0, INVALID_REPLICATION_FACTOR);
    expect_partitions(rk, name, 0, "after a refused create");
}

int
main(int argc, char **argv)
{
    const char *prefix = argc > 1 ? argv[1] : "skiff-interop-admin";
    char x[200], y[200], errstr[512];
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, it_conf_new(TEST, NULL));
    int got;

    snprintf(x, sizeof(x), "%s-x", prefix);
    snprintf(y, sizeof(y), "%s-default", prefix);
    expect_create(rk, x, 6, 1, 1, 0);
    expect_partitions(rk, x, 0, "after validate_only");
    expect_create(rk, x, 3, 1, 0, 0);
    expect_partitions(rk, x, 3, "after create");
    expect_create(rk, x, 3, 1, 0, TOPIC_ALREADY_EXISTS);
    expect_create(rk, x, 5, 1, 1, TOPIC_ALREADY_EXISTS);
    expect_partitions(rk, x, 3, "after duplicate creates");
    check_bad_creates(rk, prefix);
    expect_create(rk, y, -1, -1, 0, 0);
    expect_partitions(rk, y, DEFAULT_PARTITIONS, "after create with defaults");
    got = it_topic_delete(rk, x, errstr, sizeof(errstr));
    it_check(got == 0, "DeleteTopics %s: code %d (%s), want 0", x, got, errstr);
    expect_partitions(rk, x, 0, "after delete");
    got = it_topic_delete(rk, x, errstr, sizeof(errstr));
    it_check(got == UNKNOWN_TOPIC_OR_PARTITION, "DeleteTopics %s again: code %d (%s), "
             "want %d", x, got, errstr, UNKNOWN_TOPIC_OR_PARTITION);
    produce_autocreate(x);
    got = it_topic_delete(rk, y, errstr, sizeof(errstr));
    it_check(got == 0, "DeleteTopics %s: code %d (%s), want 0", y, got, errstr);
    rd_kafka_destroy(rk);
    return it_finish(TEST, "create/validate/duplicate/invalid/delete/auto-create, prefix %s",
                     prefix);
}
