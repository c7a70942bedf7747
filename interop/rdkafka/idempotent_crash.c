/* interop/rdkafka/idempotent_crash.c: an idempotent (enable.idempotence=true, acks=all)
 * librdkafka producer writes N records while its broker is killed with SIGKILL several
 * times and started again on the same data; afterwards every acknowledged record must
 * be read back exactly once, at its acknowledged offset, in order per partition.
 *
 *   SKIFFD=<path to skiffd> idempotent_crash [topic]
 *
 * env SKIFFD (required), N (records, default 200,000), KILLS (default 5). The program
 * runs its own broker (a free 127.0.0.1 port, a fresh data dir under /tmp, removed when
 * the test passes) so that the suite's shared broker is never killed; the env BOOTSTRAP
 * that run.sh sets is replaced by the private broker's address.
 * Produce: record seq goes to partition seq % 3 with key "k<seq>" and a 100-byte value
 * derived from seq, at a steady rate over about (KILLS + 1) x 1.5 s, while a second
 * thread kills the broker at random moments (so requests are in flight when it dies)
 * and starts it again after 0-300 ms. message.timeout.ms is
 * long enough that no record may fail: every delivery report must succeed.
 * Verify: assign() every partition from offset 0 and read up to the high watermark:
 * keys must be known sequence numbers of that partition, strictly increasing, each seen
 * once, each acknowledged one at its acknowledged offset; every acknowledged record
 * must be found. Ends with one PASS/FAIL line (itest.h). */
#include "itest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST "idempotent_crash"
#define PARTITION_COUNT 3
#define VALUE_LEN 100
#define KILLS_MAX 64
#define START_TIMEOUT_MS 60000
#define FLUSH_TIMEOUT_MS 300000

typedef struct broker {
    const char *skiffd;
    char dir[64];
    char data[96];
    char logpath[96];
    char bootstrap[32];
    int port;
    pid_t pid;
    int starts;
} broker_t;

typedef struct run {
    int64_t n;
    int32_t *partition; /* owned: per seq, acked partition or -1 */
    int64_t *offset;    /* owned: per seq, acked offset or -1 */
    int64_t acked;
    int64_t failed;
} run_t;

static int
free_port(void)
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
port_answers(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

static void
broker_start(broker_t *b)
{
    char listeners[64], logdirs[128];
    int64_t t0 = it_now_ms();

    snprintf(listeners, sizeof(listeners), "listeners=PLAINTEXT://127.0.0.1:%d", b->port);
    snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", b->data);
    b->pid = fork();
    if (b->pid < 0) it_die(TEST, "fork: %s", strerror(errno));
    if (b->pid == 0) {
        int fd = open(b->logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(b->skiffd, b->skiffd, "--override", listeners, "--override", logdirs, "--override",
              "num.partitions=3", (char *)NULL);
        _exit(127);
    }
    b->starts++;
    while (!port_answers(b->port)) {
        int status;
        if (waitpid(b->pid, &status, WNOHANG) == b->pid)
            it_die(TEST, "skiffd exited during start %d (status %d); log %s", b->starts, status, b->logpath);
        if (it_now_ms() - t0 > START_TIMEOUT_MS) it_die(TEST, "skiffd did not listen within 60 s");
        usleep(20 * 1000);
    }
}

static void
broker_kill(broker_t *b)
{
    int status;
    kill(b->pid, SIGKILL);
    waitpid(b->pid, &status, 0);
    b->pid = -1;
}

/* SIGTERM; the broker must exit 0 (clean shutdown, no sanitizer report). */
static int
broker_stop(broker_t *b)
{
    int status = 0;
    if (b->pid <= 0) return 0;
    kill(b->pid, SIGTERM);
    for (int i = 0; i < 600; i++) {
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            b->pid = -1;
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        }
        usleep(50 * 1000);
    }
    broker_kill(b);
    return 0;
}

static void
value_make(char *buf, int64_t seq)
{
    uint64_t x = (uint64_t)seq * 0x9e3779b97f4a7c15ULL + 1;
    for (int i = 0; i < VALUE_LEN; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (char)('a' + x % 26);
    }
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    run_t *r = opaque;
    int64_t seq = (int64_t)(intptr_t)m->_private;
    (void)rk;
    if (seq < 0 || seq >= r->n) return;
    if (m->err) {
        if (r->failed++ < 5) it_check(0, "delivery of seq %" PRId64 " failed: %s", seq, rd_kafka_err2str(m->err));
        return;
    }
    if (r->partition[seq] >= 0) it_check(0, "seq %" PRId64 " acknowledged twice", seq);
    r->partition[seq] = m->partition;
    r->offset[seq] = m->offset;
    __atomic_add_fetch(&r->acked, 1, __ATOMIC_RELAXED);
}

static void
produce_one(rd_kafka_t *rk, int64_t seq)
{
    char key[32], value[VALUE_LEN];
    int klen = snprintf(key, sizeof(key), "k%" PRId64, seq);
    rd_kafka_resp_err_t err;

    value_make(value, seq);
    for (;;) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(getenv("IT_TOPIC")),
                                RD_KAFKA_V_PARTITION((int32_t)(seq % PARTITION_COUNT)),
                                RD_KAFKA_V_KEY(key, (size_t)klen), RD_KAFKA_V_VALUE(value, VALUE_LEN),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE((void *)(intptr_t)seq), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(rk, 10);
    }
    if (err) it_die(TEST, "produce seq %" PRId64 ": %s", seq, rd_kafka_err2str(err));
}

typedef struct killer {
    broker_t *b;
    run_t *r;
    int kills;
    int64_t period_ms;
    volatile int64_t enqueued; /* written by the producing thread */
} killer_t;

/* Kills the broker at spread-out random moments while the main thread produces. */
static void *
killer_main(void *arg)
{
    killer_t *k = arg;
    for (int i = 0; i < k->kills; i++) {
        usleep((useconds_t)(k->period_ms / 2 + rand() % k->period_ms) * 1000);
        int64_t enq = k->enqueued, acked = __atomic_load_n(&k->r->acked, __ATOMIC_RELAXED);
        broker_kill(k->b);
        usleep((useconds_t)(rand() % 300) * 1000);
        broker_start(k->b);
        it_note("kill -9 #%d with %" PRId64 " records enqueued, %" PRId64 " acknowledged", i + 1, enq, acked);
    }
    return NULL;
}

/* Produces at a steady rate over about (kills + 1) periods so that every kill finds
 * requests in flight. */
static void
produce_all(broker_t *b, run_t *r, int kills)
{
    char errstr[512];
    rd_kafka_conf_t *conf = it_conf_new(TEST, "enable.idempotence", "true", "acks", "all", "linger.ms", "5",
                                        "message.timeout.ms", "300000", "retry.backoff.ms", "50",
                                        "reconnect.backoff.ms", "20", "reconnect.backoff.max.ms", "200",
                                        "queue.buffering.max.messages", "200000", "log.connection.close", "false",
                                        NULL);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, r);
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_PRODUCER, conf);
    killer_t k = {.b = b, .r = r, .kills = kills, .period_ms = 1500};
    int64_t total_ms = (kills + 1) * k.period_ms, t0 = it_now_ms();
    pthread_t th;

    if (kills > 0 && pthread_create(&th, NULL, killer_main, &k) != 0) it_die(TEST, "pthread_create");
    for (int64_t seq = 0; seq < r->n; seq++) {
        while (seq * total_ms > r->n * (it_now_ms() - t0)) rd_kafka_poll(rk, 1);
        produce_one(rk, seq);
        k.enqueued = seq + 1;
        if (seq % 1000 == 0) rd_kafka_poll(rk, 0);
    }
    if (kills > 0) pthread_join(th, NULL);
    rd_kafka_flush(rk, FLUSH_TIMEOUT_MS);
    it_check(rd_kafka_outq_len(rk) == 0, "%d messages still queued after flush", rd_kafka_outq_len(rk));
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, errstr, sizeof(errstr));
    it_check(fatal == RD_KAFKA_RESP_ERR_NO_ERROR, "producer fatal error: %s", errstr);
    rd_kafka_destroy(rk);
}

typedef struct verify {
    run_t *r;
    uint8_t *seen;                  /* owned: per seq */
    int64_t last_seq[PARTITION_COUNT];
    int64_t records;
    int64_t bad;
} verify_t;

static void
verify_msg(verify_t *v, const rd_kafka_message_t *m)
{
    char key[32];
    int64_t seq = -1;
    char want[VALUE_LEN];

    v->records++;
    if (m->key_len > 0 && m->key_len < sizeof(key)) {
        memcpy(key, m->key, m->key_len);
        key[m->key_len] = '\0';
        if (key[0] == 'k') seq = strtoll(key + 1, NULL, 10);
    }
    if (seq < 0 || seq >= v->r->n || seq % PARTITION_COUNT != m->partition) {
        if (v->bad++ < 10) it_check(0, "unknown record at %d/%" PRId64, m->partition, m->offset);
        return;
    }
    value_make(want, seq);
    if (m->len != VALUE_LEN || memcmp(m->payload, want, VALUE_LEN) != 0)
        if (v->bad++ < 10) it_check(0, "seq %" PRId64 ": wrong value", seq);
    if (v->seen[seq]++ && v->bad++ < 10)
        it_check(0, "seq %" PRId64 " read twice (again at %d/%" PRId64 ")", seq, m->partition, m->offset);
    if (seq <= v->last_seq[m->partition] && v->bad++ < 10)
        it_check(0, "partition %d: seq %" PRId64 " after %" PRId64 " (order)", m->partition, seq,
                 v->last_seq[m->partition]);
    v->last_seq[m->partition] = seq;
    if (v->r->partition[seq] >= 0 && v->r->offset[seq] != m->offset && v->bad++ < 10)
        it_check(0, "seq %" PRId64 " acknowledged at offset %" PRId64 " but read at %" PRId64, seq,
                 v->r->offset[seq], m->offset);
}

static void
verify_all(run_t *r)
{
    const char *topic = getenv("IT_TOPIC");
    rd_kafka_t *rk = it_handle_new(TEST, RD_KAFKA_CONSUMER,
                                   it_conf_new(TEST, "group.id", "it-idem-verify", "enable.auto.commit", "false",
                                               "enable.partition.eof", "true", NULL));
    rd_kafka_topic_partition_list_t *tps = rd_kafka_topic_partition_list_new(PARTITION_COUNT);
    verify_t v = {.r = r, .seen = calloc((size_t)r->n, 1)};
    int64_t high[PARTITION_COUNT];
    int eof = 0;

    if (!v.seen) it_die(TEST, "out of memory");
    for (int p = 0; p < PARTITION_COUNT; p++) {
        int64_t lo = -1;
        v.last_seq[p] = -1;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &high[p], 10000))
            it_die(TEST, "watermarks of partition %d unavailable", p);
        it_check(lo == 0, "partition %d starts at %" PRId64, p, lo);
        rd_kafka_topic_partition_list_add(tps, topic, p)->offset = 0;
        if (high[p] == 0) eof++;
    }
    rd_kafka_assign(rk, tps);
    rd_kafka_topic_partition_list_destroy(tps);
    int64_t idle_since = it_now_ms();
    while (eof < PARTITION_COUNT && it_now_ms() - idle_since < 60000) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) continue;
        idle_since = it_now_ms();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->offset >= high[m->partition]) eof++;
        } else if (m->err) {
            it_check(0, "consume: %s", rd_kafka_message_errstr(m));
        } else if (m->offset < high[m->partition]) {
            verify_msg(&v, m);
        }
        rd_kafka_message_destroy(m);
    }
    it_check(eof == PARTITION_COUNT, "did not reach the end of every partition");
    int64_t missing = 0;
    for (int64_t seq = 0; seq < r->n; seq++) {
        if (r->partition[seq] >= 0 && !v.seen[seq] && missing++ < 10)
            it_check(0, "acknowledged seq %" PRId64 " (%d/%" PRId64 ") not found", seq, r->partition[seq],
                     r->offset[seq]);
    }
    it_check(missing == 0, "%" PRId64 " acknowledged records missing", missing);
    it_check(v.bad == 0, "%" PRId64 " bad records (duplicates, order, content)", v.bad);
    it_note("read %" PRId64 " records, high watermarks %" PRId64 "/%" PRId64 "/%" PRId64, v.records, high[0],
            high[1], high[2]);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(v.seen);
}

int
main(int argc, char **argv)
{
    broker_t b = {.skiffd = getenv("SKIFFD")};
    run_t r = {.n = it_env_ll("N", 200000)};
    int kills = (int)it_env_ll("KILLS", 5);
    char cmd[128], errstr[256];

    if (!b.skiffd || !*b.skiffd) it_die(TEST, "env SKIFFD is not set");
    if (r.n <= 0 || kills < 0 || kills > KILLS_MAX) it_die(TEST, "bad N or KILLS");
    setenv("IT_TOPIC", argc > 1 ? argv[1] : "it-idem-crash", 1);
    srand((unsigned)time(NULL));
    snprintf(b.dir, sizeof(b.dir), "/tmp/skiff-idem-crash-XXXXXX");
    if (!mkdtemp(b.dir)) it_die(TEST, "mkdtemp: %s", strerror(errno));
    snprintf(b.data, sizeof(b.data), "%s/data", b.dir);
    snprintf(b.logpath, sizeof(b.logpath), "%s/skiffd.log", b.dir);
    b.port = free_port();
    snprintf(b.bootstrap, sizeof(b.bootstrap), "127.0.0.1:%d", b.port);
    setenv("BOOTSTRAP", b.bootstrap, 1);
    r.partition = malloc((size_t)r.n * sizeof(*r.partition));
    r.offset = malloc((size_t)r.n * sizeof(*r.offset));
    if (!r.partition || !r.offset) it_die(TEST, "out of memory");
    memset(r.partition, 0xff, (size_t)r.n * sizeof(*r.partition));
    memset(r.offset, 0xff, (size_t)r.n * sizeof(*r.offset));

    broker_start(&b);
    rd_kafka_t *adm = it_handle_new(TEST, RD_KAFKA_PRODUCER, it_conf_new(TEST, NULL));
    int err = it_topic_create(adm, getenv("IT_TOPIC"), PARTITION_COUNT, 1, 0, errstr, sizeof(errstr));
    if (err != 0) it_die(TEST, "CreateTopics: %d %s", err, errstr);
    it_topic_wait(adm, getenv("IT_TOPIC"), PARTITION_COUNT, 30000);
    rd_kafka_destroy(adm);

    produce_all(&b, &r, kills);
    it_check(r.failed == 0, "%" PRId64 " deliveries failed", r.failed);
    it_check(r.acked == r.n, "%" PRId64 " of %" PRId64 " acknowledged", r.acked, r.n);
    /* One more crash with everything acknowledged, then read it all back. */
    broker_kill(&b);
    broker_start(&b);
    verify_all(&r);
    it_check(broker_stop(&b), "skiffd did not exit 0 on SIGTERM (log %s)", b.logpath);
    if (it_failures == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b.dir);
        if (system(cmd) != 0) it_note("could not remove %s", b.dir);
    } else {
        it_note("broker log and data kept in %s", b.dir);
    }
    free(r.partition);
    free(r.offset);
    return it_finish(TEST, "%" PRId64 " records, %d kill -9 while producing + 1 after, %" PRId64 " acknowledged",
                     r.n, kills, r.acked);
}
