/* interop/rdkafka/group_consumer.c: one member of a consumer group, for
 * interop/groups.sh. It subscribes to a topic, and for every record writes what it
 * consumed, then commits that record's offset synchronously ("process, then commit"),
 * and writes what it committed. Runs until SIGTERM/SIGINT (then closes cleanly: final
 * leave) or until killed.
 *
 *   group_consumer <group> <topic> <client-id> <out-file> <assignor> [instance-id]
 *
 * env BOOTSTRAP (required). assignor: range, roundrobin, cooperative-sticky. out-file
 * gets one line per event, flushed at once so a kill -9 loses nothing written:
 *   M <partition> <offset> <value>      record consumed (processed)
 *   C <partition> <next offset>         commit of that record acknowledged
 *   F <partition> <next offset> <err>   commit refused
 * <out-file>.assign holds the current assignment "p,p,..." (rewritten atomically on
 * every rebalance) and <out-file>.gen how many rebalances this member went through. */
#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST "group_consumer"

static volatile sig_atomic_t stop;
static const char *out_path;
static int rebalances;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int
cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Write the current assignment to <out>.assign (temp file + rename). */
static void
write_assignment(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    char path[512], tmp[520];
    int parts[256], n = 0;
    FILE *f;

    if (rd_kafka_assignment(rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    for (int i = 0; i < l->cnt && n < 256; i++) parts[n++] = l->elems[i].partition;
    rd_kafka_topic_partition_list_destroy(l);
    qsort(parts, (size_t)n, sizeof(int), cmp_int);
    snprintf(path, sizeof(path), "%s.assign", out_path);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w"))) return;
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", parts[i]);
    fputc('\n', f);
    fclose(f);
    rename(tmp, path);
    snprintf(path, sizeof(path), "%s.gen", out_path);
    if ((f = fopen(path, "w"))) {
        fprintf(f, "%d\n", rebalances);
        fclose(f);
    }
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    (void)opaque;
    rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (cooperative) rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else rd_kafka_assign(rk, parts);
    } else {
        if (cooperative) rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else rd_kafka_assign(rk, NULL);
    }
    write_assignment(rk);
}

static void
handle(rd_kafka_t *rk, FILE *out, rd_kafka_message_t *m)
{
    rd_kafka_resp_err_t err;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            fprintf(stderr, "consume error: %s\n", rd_kafka_message_errstr(m));
        return;
    }
    fprintf(out, "M %d %lld %.*s\n", (int)m->partition, (long long)m->offset, (int)m->len,
            m->payload ? (const char *)m->payload : "");
    fflush(out);
    err = rd_kafka_commit_message(rk, m, 0);
    if (err) fprintf(out, "F %d %lld %s\n", (int)m->partition, (long long)m->offset + 1, rd_kafka_err2name(err));
    else fprintf(out, "C %d %lld\n", (int)m->partition, (long long)m->offset + 1);
    fflush(out);
}

int
main(int argc, char **argv)
{
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *sub;
    FILE *out;

    if (argc < 6) it_die(TEST, "usage: group_consumer <group> <topic> <client-id> <out> <assignor> [instance]");
    out_path = argv[4];
    if (!(out = fopen(out_path, "a"))) it_die(TEST, "cannot open %s", out_path);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    conf = it_conf_new(TEST, "group.id", argv[1], "client.id", argv[3], "enable.auto.commit", "false",
                       "auto.offset.reset", "earliest", "session.timeout.ms", "6000", "heartbeat.interval.ms",
                       "1000", "partition.assignment.strategy", argv[5], NULL);
    if (argc > 6 && rd_kafka_conf_set(conf, "group.instance.id", argv[6], NULL, 0) != RD_KAFKA_CONF_OK)
        it_die(TEST, "group.instance.id not accepted");
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rk = it_handle_new(TEST, RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, argv[2], RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, sub)) it_die(TEST, "subscribe failed");
    rd_kafka_topic_partition_list_destroy(sub);
    while (!stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        handle(rk, out, m);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    fclose(out);
    return it_finish(TEST, "%s stopped after %d rebalances", argv[3], rebalances);
}
