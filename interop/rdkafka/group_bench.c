/* interop/rdkafka/group_bench.c: a benchmark, not a test: how long a consumer-group
 * rebalance takes. Nine consumers share a topic; a tenth joins (and the time until all
 * ten own their new partitions, covering every partition, is measured), then leaves
 * again (time until the nine cover every partition). Repeated ROUNDS times; prints the
 * median and the worst of each. All consumers live in this process and are polled in
 * turn; heartbeat.interval.ms is 100 so that members learn of a rebalance quickly on
 * any broker.
 *
 *   group_bench <topic> <partitions> <group> [rounds]
 *
 * env BOOTSTRAP (required). Output: "BENCH group-rebalance: members=10 partitions=100
 * join_ms=<median>/<max> leave_ms=<median>/<max>" and a PASS/FAIL line. */
#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST "group_bench"
#define MEMBERS 10
#define ROUNDS_MAX 50
#define WAIT_MS 120000

typedef struct member {
    rd_kafka_t *rk;
    int assigned; /* partitions owned now */
    int rebalances;
} member_t;

static member_t members[MEMBERS];

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    member_t *m = opaque;
    (void)rk;
    m->rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(m->rk, parts);
        m->assigned = parts->cnt;
    } else {
        rd_kafka_assign(m->rk, NULL);
        m->assigned = 0;
    }
}

static void
member_start(member_t *m, const char *topic, const char *group, int i)
{
    char cid[32];
    rd_kafka_conf_t *conf;
    rd_kafka_topic_partition_list_t *sub;

    snprintf(cid, sizeof(cid), "bench-%d", i);
    conf = it_conf_new(TEST, "group.id", group, "client.id", cid, "session.timeout.ms", "10000",
                       "heartbeat.interval.ms", "100", "auto.offset.reset", "latest", NULL);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, m);
    memset(m, 0, sizeof(*m));
    m->rk = it_handle_new(TEST, RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(m->rk);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(m->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
}

static void
poll_all(int n)
{
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(members[i].rk, 1);
        if (msg) rd_kafka_message_destroy(msg);
    }
}

/* Poll until members 0..n-1 each went through a rebalance since `since` counts (when
 * given), own partitions and cover all of them; returns elapsed ms or -1. */
static int64_t
wait_cover(int n, int parts, const int *since)
{
    int64_t t0 = it_now_ms();
    while (it_now_ms() - t0 < WAIT_MS) {
        int total = 0, ok = 1;
        poll_all(n);
        for (int i = 0; i < n; i++) {
            total += members[i].assigned;
            if (members[i].assigned == 0 || (since && members[i].rebalances <= since[i])) ok = 0;
        }
        if (ok && total == parts) return it_now_ms() - t0;
    }
    return -1;
}

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    int parts, rounds, since[MEMBERS];
    int64_t join_ms[ROUNDS_MAX], leave_ms[ROUNDS_MAX];
    char errstr[256];
    rd_kafka_t *admin;

    if (argc < 4) it_die(TEST, "usage: group_bench <topic> <partitions> <group> [rounds]");
    parts = atoi(argv[2]);
    rounds = argc > 4 ? atoi(argv[4]) : 5;
    if (rounds < 1 || rounds > ROUNDS_MAX) it_die(TEST, "rounds 1..%d", ROUNDS_MAX);
    admin = it_handle_new(TEST, RD_KAFKA_PRODUCER, it_conf_new(TEST, NULL));
    int rc = it_topic_create(admin, argv[1], parts, 1, 0, errstr, sizeof(errstr));
    if (rc != 0 && rc != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) it_die(TEST, "CreateTopics: %s", errstr);
    it_topic_wait(admin, argv[1], parts, 30000);
    for (int i = 0; i < MEMBERS - 1; i++) member_start(&members[i], argv[1], argv[3], i);
    if (wait_cover(MEMBERS - 1, parts, NULL) < 0) it_die(TEST, "nine members never covered the topic");
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < MEMBERS - 1; i++) since[i] = members[i].rebalances;
        member_start(&members[MEMBERS - 1], argv[1], argv[3], MEMBERS - 1 + r * 100);
        since[MEMBERS - 1] = 0;
        join_ms[r] = wait_cover(MEMBERS, parts, since);
        it_check(join_ms[r] >= 0, "round %d: the tenth member's join did not complete", r);
        for (int i = 0; i < MEMBERS - 1; i++) since[i] = members[i].rebalances;
        int64_t t0 = it_now_ms();
        rd_kafka_consumer_close(members[MEMBERS - 1].rk);
        rd_kafka_destroy(members[MEMBERS - 1].rk);
        int64_t w = wait_cover(MEMBERS - 1, parts, since);
        leave_ms[r] = w < 0 ? -1 : it_now_ms() - t0;
        it_check(w >= 0, "round %d: the leave did not complete", r);
        if (it_failures) break;
    }
    for (int i = 0; i < MEMBERS - 1; i++) {
        rd_kafka_consumer_close(members[i].rk);
        rd_kafka_destroy(members[i].rk);
    }
    rd_kafka_destroy(admin);
    if (it_failures) return it_finish(TEST, "incomplete");
    qsort(join_ms, (size_t)rounds, sizeof(int64_t), cmp64);
    qsort(leave_ms, (size_t)rounds, sizeof(int64_t), cmp64);
    printf("BENCH group-rebalance: members=%d partitions=%d rounds=%d join_ms=%lld/%lld leave_ms=%lld/%lld "
           "(median/max)\n",
           MEMBERS, parts, rounds, (long long)join_ms[rounds / 2], (long long)join_ms[rounds - 1],
           (long long)leave_ms[rounds / 2], (long long)leave_ms[rounds - 1]);
    return it_finish(TEST, "%d rounds", rounds);
}
