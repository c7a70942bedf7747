/* interop/rdkafka/configs.c: topic configuration and partition growth through
 * librdkafka's admin API: CreateTopics with a config, DescribeConfigs of the topic
 * (override with its source, a default) and of the broker, AlterConfigs replacing the
 * overrides (and refusing an unknown key), CreatePartitions growing the topic (and
 * refusing to shrink it). Every expected answer is what Apache Kafka 4.1 gives.
 * Usage: BOOTSTRAP=host:port configs [topic-prefix] */
#include <stdio.h>
#include <string.h>

#include "itest.h"

#define TEST "configs"
#define TIMEOUT_MS 15000

static rd_kafka_event_t *
admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
    for (;;) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
        if (!ev) it_die(TEST, "no admin result within %d ms", TIMEOUT_MS);
        if (rd_kafka_event_type(ev) == type) return ev;
        rd_kafka_event_destroy(ev);
    }
}

/* DescribeConfigs of one resource; returns the value of `name` (static buffer) and its
 * source via *source, or NULL. */
static const char *
describe(rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *res_name, const char *name,
         rd_kafka_ConfigSource_t *source, int *err)
{
    static char value[256];
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, res_name);
    const char *found = NULL;
    size_t n, cn;

    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    *err = rd_kafka_event_error(ev) ? rd_kafka_event_error(ev) : (n == 1 ? rd_kafka_ConfigResource_error(rs[0]) : -1);
    if (n == 1 && !*err) {
        const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[0], &cn);
        for (size_t i = 0; i < cn; i++) {
            if (strcmp(rd_kafka_ConfigEntry_name(es[i]), name)) continue;
            const char *v = rd_kafka_ConfigEntry_value(es[i]);
            snprintf(value, sizeof(value), "%s", v ? v : "(null)");
            *source = rd_kafka_ConfigEntry_source(es[i]);
            found = value;
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
    return found;
}

static int
alter(rd_kafka_t *rk, const char *topic, const char *name, const char *value)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    size_t n;
    int err;

    rd_kafka_ConfigResource_set_config(res, name, value);
    rd_kafka_AlterConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    err = rd_kafka_event_error(ev) ? rd_kafka_event_error(ev) : (n == 1 ? rd_kafka_ConfigResource_error(rs[0]) : -1);
    rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
    return err;
}

static int
grow(rd_kafka_t *rk, const char *topic, int count)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    char errstr[256];
    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(topic, (size_t)count, errstr, sizeof(errstr));
    size_t n;
    int err;

    rd_kafka_CreatePartitions(rk, &np, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
    const rd_kafka_topic_result_t **tr =
        rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
    err = rd_kafka_event_error(ev) ? rd_kafka_event_error(ev) : (n == 1 ? rd_kafka_topic_result_error(tr[0]) : -1);
    rd_kafka_event_destroy(ev);
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_queue_destroy(q);
    return err;
}

int
main(int argc, char **argv)
{
    const char *prefix = argc > 1 ? argv[1] : "skiff-interop-configs";
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, it_conf_new(TEST, NULL));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ConfigSource_t src = RD_KAFKA_CONFIG_SOURCE_UNKNOWN_CONFIG;
    char topic[200], errstr[256];
    const char *v;
    int err;

    snprintf(topic, sizeof(topic), "%s-t", prefix);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 2, 1, errstr, sizeof(errstr));
    rd_kafka_NewTopic_set_config(nt, "retention.ms", "3600000");
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    it_check(n == 1 && rd_kafka_topic_result_error(tr[0]) == 0, "CreateTopics with retention.ms");
    rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(nt);
    it_topic_wait(rk, topic, 2, TIMEOUT_MS);

    v = describe(rk, RD_KAFKA_RESOURCE_TOPIC, topic, "retention.ms", &src, &err);
    it_check(!err && v && !strcmp(v, "3600000") && src == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG,
             "retention.ms override: %s source %d err %d", v ? v : "-", src, err);
    v = describe(rk, RD_KAFKA_RESOURCE_TOPIC, topic, "cleanup.policy", &src, &err);
    it_check(!err && v && !strcmp(v, "delete") && src == RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG,
             "cleanup.policy default: %s source %d", v ? v : "-", src);
    v = describe(rk, RD_KAFKA_RESOURCE_BROKER, "1", "num.partitions", &src, &err);
    it_check(!err && v != NULL, "broker num.partitions described (err %d)", err);

    err = alter(rk, topic, "segment.bytes", "1048576");
    it_check(err == 0, "AlterConfigs segment.bytes: err %d", err);
    v = describe(rk, RD_KAFKA_RESOURCE_TOPIC, topic, "segment.bytes", &src, &err);
    it_check(v && !strcmp(v, "1048576") && src == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG,
             "segment.bytes after alter: %s", v ? v : "-");
    /* AlterConfigs replaces every override: retention.ms is back to its default. */
    v = describe(rk, RD_KAFKA_RESOURCE_TOPIC, topic, "retention.ms", &src, &err);
    it_check(v && !strcmp(v, "604800000") && src == RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG,
             "retention.ms after a replacing alter: %s source %d", v ? v : "-", src);
    err = alter(rk, topic, "no.such.config", "1");
    it_check(err == RD_KAFKA_RESP_ERR_INVALID_CONFIG, "unknown config: err %d, want INVALID_CONFIG", err);
    err = alter(rk, topic, "segment.bytes", "not-a-number");
    it_check(err == RD_KAFKA_RESP_ERR_INVALID_CONFIG, "bad value: err %d, want INVALID_CONFIG", err);

    err = grow(rk, topic, 5);
    it_check(err == 0, "CreatePartitions to 5: err %d", err);
    it_check(it_topic_wait(rk, topic, 5, TIMEOUT_MS) == 5, "topic has 5 partitions");
    err = grow(rk, topic, 3);
    it_check(err == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS, "shrinking: err %d, want INVALID_PARTITIONS", err);

    it_topic_delete(rk, topic, errstr, sizeof(errstr));
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return it_finish(TEST, "describe/alter configs and create partitions, topic %s", topic);
}
