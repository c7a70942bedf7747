/* interop/rdkafka/crash_durable.c: the strict durability setting under kill -9. A
 * private skiffd runs with log.flush.interval.messages=1 (every acknowledged batch is
 * fsynced before its acknowledgement); an idempotent acks=all librdkafka producer
 * writes N records while a second thread kills the broker with SIGKILL KILLS times at
 * random moments and starts it again on the same data; the producer keeps pace with
 * the kills (about N / (KILLS + 1) records between two), so each finds requests in
 * flight.
 *
 *   SKIFFD=<path to skiffd> crash_durable [topic]
 *
 * env SKIFFD (required), N (records, default 100,000), KILLS (default 50), PERIOD_MS
 * (mean time between kills, default 1000). The broker listens on a free 127.0.0.1
 * port with its data in a fresh directory under /tmp (removed when the test passes;
 * the suite's shared broker is never touched, env BOOTSTRAP is replaced).
 * Checks:
 *   - after every restart, each partition's high watermark covers the highest offset
 *     acknowledged for it before the kill (read with ListOffsets right away);
 *   - every delivery report succeeds (no record may fail);
 *   - at the end, after one more kill, reading every partition from offset 0 to its
 *     high watermark finds each acknowledged record exactly once, at its acknowledged
 *     offset, in sequence order within its partition, with its exact value; nothing
 *     unknown, duplicated or corrupt (the client checks CRCs).
 * A kill -9 keeps the page cache, so this shows the strict mode's acknowledgements
 * and recovery work under real crashes; the power-loss half (unsynced data dropped)
 * is tests/unit/test_storage_crash.c. Ends with one PASS/FAIL line (itest.h). */
#include "itest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST "crash_durable"
#define PARTS 3
#define VALUE_LEN 64
#define KILLS_MAX 200
#define START_TIMEOUT_MS 60000

typedef struct skiff {
    const char *bin;
    char dir[64];
    char data[96];
    char log[96];
    int port;
    pid_t pid;
    int starts;
} skiff_t;

typedef struct state {
    int64_t n;
    int32_t *part;                /* owned: per seq, acknowledged partition or -1 */
    int64_t *off;                 /* owned: per seq, acknowledged offset or -1 */
    int64_t acked;                /* atomic */
    int64_t failed;
    int64_t max_acked[PARTS];     /* atomic: highest acknowledged offset per partition */
} state_t;

static int
pick_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static int
listening(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

static void
skiff_start(skiff_t *s)
{
    char listeners[64], dirs[128];
    int64_t t0 = it_now_ms();

    snprintf(listeners, sizeof(listeners), "listeners=PLAINTEXT://127.0.0.1:%d", s->port);
    snprintf(dirs, sizeof(dirs), "log.dirs=%s", s->data);
    s->pid = fork();
    if (s->pid < 0) it_die(TEST, "fork: %s", strerror(errno));
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(s->bin, s->bin, "--override", listeners, "--override", dirs, "--override", "num.partitions=3",
              "--override", "log.flush.interval.messages=1", (char *)NULL);
        _exit(127);
    }
    s->starts++;
    while (!listening(s->port)) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid)
            it_die(TEST, "skiffd exited during start %d (status %d); log %s", s->starts, st, s->log);
        if (it_now_ms() - t0 > START_TIMEOUT_MS) it_die(TEST, "skiffd did not listen within 60 s");
        usleep(10 * 1000);
    }
}

static void
skiff_kill(skiff_t *s)
{
    int st;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = -1;
}

static int
skiff_stop(skiff_t *s)
{
    int st = 0;
    if (s->pid <= 0) return 0;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 600; i++) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = -1;
            return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        usleep(50 * 1000);
    }
    skiff_kill(s);
    return 0;
}

/* The value of record seq: a keyed pseudo-random string, so any corruption shows. */
static void
value_of(char *out, int64_t seq)
{
    uint64_t x = (uint64_t)seq * 0xd1342543de82ef95ULL + 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < VALUE_LEN; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        out[i] = (char)('A' + (x >> 59));
    }
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    state_t *st = opaque;
    int64_t seq = (int64_t)(intptr_t)m->_private;
    (void)rk;
    if (seq < 0 || seq >= st->n) return;
    if (m->err) {
        if (st->failed++ < 5) it_check(0, "seq %" PRId64 " not delivered: %s", seq, rd_kafka_err2str(m->err));
        return;
    }
    if (st->part[seq] >= 0) it_check(0, "seq %" PRId64 " acknowledged twice", seq);
    st->part[seq] = m->partition;
    st->off[seq] = m->offset;
    if (m->partition >= 0 && m->partition < PARTS) {
        int64_t cur = __atomic_load_n(&st->max_acked[m->partition], __ATOMIC_RELAXED);
        while (m->offset > cur &&
               !__atomic_compare_exchange_n(&st->max_acked[m->partition], &cur, m->offset, 0, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED)) {}
    }
    __atomic_add_fetch(&st->acked, 1, __ATOMIC_RELAXED);
}

typedef struct killer {
    skiff_t *s;
    state_t *st;
    int kills;
    int64_t period_ms;
    rd_kafka_t *probe; /* a consumer handle for ListOffsets after each restart */
    int done;          /* atomic: kills done (and the broker restarted) */
    int64_t since_ms;  /* atomic: when the current period began */
} killer_t;

/* The producer keeps pace with the killer: by the end of period i (of kills + 1) it
 * may have sent (i + 1) / (kills + 1) of the records, spread over the period, so every
 * kill finds requests in flight however long the restarts take. */
static bool
may_send(killer_t *k, int64_t seq, int64_t n)
{
    int done = __atomic_load_n(&k->done, __ATOMIC_ACQUIRE);
    if (done >= k->kills) return true;
    double in_period = (double)(it_now_ms() - __atomic_load_n(&k->since_ms, __ATOMIC_ACQUIRE)) / (double)k->period_ms;
    double frac = (double)done + (in_period < 1.0 ? in_period : 1.0);
    return (double)seq * (double)(k->kills + 1) <= (double)n * frac;
}

/* After a restart: every acknowledged offset known before the kill is below the HW. */
static void
check_after_restart(killer_t *k, const int64_t before[PARTS], int round)
{
    for (int p = 0; p < PARTS; p++) {
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int tries = 0; tries < 50; tries++) {
            err = rd_kafka_query_watermark_offsets(k->probe, getenv("IT_TOPIC"), p, &lo, &hi, 2000);
            if (!err) break;
            usleep(100 * 1000);
        }
        if (!it_check(err == RD_KAFKA_RESP_ERR_NO_ERROR, "kill %d: watermarks of partition %d: %s", round, p,
                      rd_kafka_err2str(err)))
            continue;
        it_check(hi > before[p], "kill %d: partition %d ends at %" PRId64 " but offset %" PRId64 " was acknowledged",
                 round, p, hi, before[p]);
    }
}

static void *
killer_main(void *arg)
{
    killer_t *k = arg;
    for (int i = 0; i < k->kills; i++) {
        int64_t before[PARTS];
        usleep((useconds_t)(k->period_ms / 2 + rand() % k->period_ms) * 1000);
        skiff_kill(k->s);
        for (int p = 0; p < PARTS; p++) before[p] = __atomic_load_n(&k->st->max_acked[p], __ATOMIC_RELAXED);
        usleep((useconds_t)(rand() % 200) * 1000);
        skiff_start(k->s);
        check_after_restart(k, before, i + 1);
        __atomic_store_n(&k->since_ms, it_now_ms(), __ATOMIC_RELEASE);
        __atomic_store_n(&k->done, i + 1, __ATOMIC_RELEASE);
        if ((i + 1) % 10 == 0)
            it_note("kill -9 #%d: %" PRId64 " acknowledged so far", i + 1,
                    __atomic_load_n(&k->st->acked, __ATOMIC_RELAXED));
    }
    return NULL;
}

static void
produce(skiff_t *s, state_t *st, int kills, int64_t period_ms)
{
    char errstr[512], key[32], value[VALUE_LEN];
    rd_kafka_conf_t *conf = it_conf_new(TEST, "enable.idempotence", "true", "acks", "all", "linger.ms", "2",
                                        "message.timeout.ms", "600000", "retry.backoff.ms", "50",
                                        "reconnect.backoff.ms", "20", "reconnect.backoff.max.ms", "200",
                                        "queue.buffering.max.messages", "500000", "log.connection.close", "false",
                                        NULL);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    killer_t k = {.s = s, .st = st, .kills = kills, .period_ms = period_ms, .since_ms = it_now_ms()};
    pthread_t th;

    k.probe = it_handle_new(TEST, RD_KAFKA_CONSUMER, it_conf_new(TEST, "group.id", "it-durable-probe", NULL));
    if (kills > 0 && pthread_create(&th, NULL, killer_main, &k) != 0) it_die(TEST, "pthread_create");
    for (int64_t seq = 0; seq < st->n; seq++) {
        while (!may_send(&k, seq, st->n)) rd_kafka_poll(rk, 1);
        int klen = snprintf(key, sizeof(key), "%" PRId64, seq);
        value_of(value, seq);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(getenv("IT_TOPIC")),
                                        RD_KAFKA_V_PARTITION((int32_t)(seq % PARTS)),
                                        RD_KAFKA_V_KEY(key, (size_t)klen), RD_KAFKA_V_VALUE(value, VALUE_LEN),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        if (err) it_die(TEST, "produce seq %" PRId64 ": %s", seq, rd_kafka_err2str(err));
        if (seq % 500 == 0) rd_kafka_poll(rk, 0);
    }
    if (kills > 0) pthread_join(th, NULL);
    rd_kafka_flush(rk, 600000);
    it_check(rd_kafka_outq_len(rk) == 0, "%d messages still queued", rd_kafka_outq_len(rk));
    it_check(rd_kafka_fatal_error(rk, errstr, sizeof(errstr)) == RD_KAFKA_RESP_ERR_NO_ERROR,
             "producer fatal error: %s", errstr);
    rd_kafka_destroy(rk);
    rd_kafka_destroy(k.probe);
}

typedef struct reader {
    state_t *st;
    uint8_t *seen;          /* owned: per seq */
    int64_t last[PARTS];
    int64_t records;
    int64_t bad;
} reader_t;

static void
read_one(reader_t *rd, const rd_kafka_message_t *m)
{
    char key[32], want[VALUE_LEN];
    int64_t seq = -1;

    rd->records++;
    if (m->key_len > 0 && m->key_len < sizeof(key)) {
        memcpy(key, m->key, m->key_len);
        key[m->key_len] = '\0';
        seq = strtoll(key, NULL, 10);
    }
    if (seq < 0 || seq >= rd->st->n || seq % PARTS != m->partition) {
        if (rd->bad++ < 10) it_check(0, "unknown record at %d/%" PRId64, m->partition, m->offset);
        return;
    }
    value_of(want, seq);
    if ((m->len != VALUE_LEN || memcmp(m->payload, want, VALUE_LEN) != 0) && rd->bad++ < 10)
        it_check(0, "seq %" PRId64 " at %d/%" PRId64 ": value differs", seq, m->partition, m->offset);
    if (rd->seen[seq]++ && rd->bad++ < 10) it_check(0, "seq %" PRId64 " read twice", seq);
    if (seq <= rd->last[m->partition] && rd->bad++ < 10)
        it_check(0, "partition %d: seq %" PRId64 " after %" PRId64, m->partition, seq, rd->last[m->partition]);
    rd->last[m->partition] = seq;
    if (rd->st->part[seq] >= 0 && rd->st->off[seq] != m->offset && rd->bad++ < 10)
        it_check(0, "seq %" PRId64 " acknowledged at %" PRId64 ", read at %" PRId64, seq, rd->st->off[seq], m->offset);
}

static void
read_back(state_t *st)
{
    const char *topic = getenv("IT_TOPIC");
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_CONSUMER,
                                   it_conf_new(TEST, "group.id", "it-durable-verify", "enable.auto.commit", "false",
                                               "enable.partition.eof", "true", "check.crcs", "true", NULL));
    rd_kafka_topic_partition_list_t *tps = rd_kafka_topic_partition_list_new(PARTS);
    reader_t rd = {.st = st, .seen = calloc((size_t)st->n, 1)};
    int64_t hi[PARTS];
    int eof = 0;

    if (!rd.seen) it_die(TEST, "out of memory");
    for (int p = 0; p < PARTS; p++) {
        int64_t lo = -1;
        rd.last[p] = -1;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], 10000))
            it_die(TEST, "watermarks of partition %d unavailable", p);
        it_check(lo == 0, "partition %d starts at %" PRId64, p, lo);
        rd_kafka_topic_partition_list_add(tps, topic, p)->offset = 0;
        if (hi[p] == 0) eof++;
    }
    rd_kafka_assign(rk, tps);
    rd_kafka_topic_partition_list_destroy(tps);
    int64_t idle = it_now_ms();
    while (eof < PARTS && it_now_ms() - idle < 60000) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) continue;
        idle = it_now_ms();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->offset >= hi[m->partition]) eof++;
        } else if (m->err) {
            it_check(0, "consume: %s", rd_kafka_message_errstr(m));
        } else if (m->offset < hi[m->partition]) {
            read_one(&rd, m);
        }
        rd_kafka_message_destroy(m);
    }
    it_check(eof == PARTS, "did not reach the end of every partition");
    int64_t missing = 0;
    for (int64_t seq = 0; seq < st->n; seq++)
        if (st->part[seq] >= 0 && !rd.seen[seq] && missing++ < 10)
            it_check(0, "acknowledged seq %" PRId64 " (%d/%" PRId64 ") missing", seq, st->part[seq], st->off[seq]);
    it_check(missing == 0, "%" PRId64 " acknowledged records missing", missing);
    it_check(rd.bad == 0, "%" PRId64 " bad records", rd.bad);
    it_note("read %" PRId64 " records; high watermarks %" PRId64 "/%" PRId64 "/%" PRId64, rd.records, hi[0], hi[1],
            hi[2]);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(rd.seen);
}

int
main(int argc, char **argv)
{
    skiff_t s = {.bin = getenv("SKIFFD")};
    state_t st = {.n = it_env_ll("N", 100000)};
    int kills = (int)it_env_ll("KILLS", 50);
    int64_t period_ms = it_env_ll("PERIOD_MS", 1000);
    char cmd[128], errstr[256];

    if (!s.bin || !*s.bin) it_die(TEST, "env SKIFFD is not set");
    if (st.n <= 0 || kills < 0 || kills > KILLS_MAX || period_ms < 10) it_die(TEST, "bad N, KILLS or PERIOD_MS");
    setenv("IT_TOPIC", argc > 1 ? argv[1] : "it-durable", 1);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(s.dir, sizeof(s.dir), "/tmp/skiff-durable-XXXXXX");
    if (!mkdtemp(s.dir)) it_die(TEST, "mkdtemp: %s", strerror(errno));
    snprintf(s.data, sizeof(s.data), "%s/data", s.dir);
    snprintf(s.log, sizeof(s.log), "%s/skiffd.log", s.dir);
    s.port = pick_port();
    snprintf(cmd, sizeof(cmd), "127.0.0.1:%d", s.port);
    setenv("BOOTSTRAP", cmd, 1);
    st.part = malloc((size_t)st.n * sizeof(*st.part));
    st.off = malloc((size_t)st.n * sizeof(*st.off));
    if (!st.part || !st.off) it_die(TEST, "out of memory");
    memset(st.part, 0xff, (size_t)st.n * sizeof(*st.part));
    memset(st.off, 0xff, (size_t)st.n * sizeof(*st.off));
    for (int p = 0; p < PARTS; p++) st.max_acked[p] = -1;

    skiff_start(&s);
    rd_kafka_t *adm = it_handle_new(TEST, RD_KAFKA_PRODUCER, it_conf_new(TEST, NULL));
    int err = it_topic_create(adm, getenv("IT_TOPIC"), PARTS, 1, 0, errstr, sizeof(errstr));
    if (err != 0) it_die(TEST, "CreateTopics: %d %s", err, errstr);
    it_topic_wait(adm, getenv("IT_TOPIC"), PARTS, 30000);
    rd_kafka_destroy(adm);

    produce(&s, &st, kills, period_ms);
    it_check(st.failed == 0, "%" PRId64 " deliveries failed", st.failed);
    it_check(st.acked == st.n, "%" PRId64 " of %" PRId64 " acknowledged", st.acked, st.n);
    skiff_kill(&s); /* everything acknowledged: one more crash, then read it all */
    skiff_start(&s);
    read_back(&st);
    it_check(skiff_stop(&s), "skiffd did not exit 0 on SIGTERM (log %s)", s.log);
    if (it_failures == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s.dir);
        if (system(cmd) != 0) it_note("could not remove %s", s.dir);
    } else {
        it_note("broker log and data kept in %s", s.dir);
    }
    free(st.part);
    free(st.off);
    return it_finish(TEST, "%" PRId64 " records, log.flush.interval.messages=1, %d kill -9 while producing + 1 after, "
                           "%" PRId64 " acknowledged", st.n, kills, st.acked);
}
