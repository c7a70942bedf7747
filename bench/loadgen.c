/* bench/loadgen.c: the benchmark's load generator, one librdkafka client for every
 * broker under test, so that Skiff and Apache Kafka see byte-identical load.
 *
 *   loadgen create  -b HOST:PORT -t TOPIC [-p PARTITIONS]
 *   loadgen delete  -b HOST:PORT -t TOPIC
 *   loadgen produce -b HOST:PORT -t TOPIC -s SIZE -n COUNT [-a 1|all] [-z CODEC]
 *                   [-l LINGER_MS]
 *   loadgen consume -b HOST:PORT -t TOPIC -n COUNT
 *   loadgen e2e     -b HOST:PORT -t TOPIC -s SIZE -r RATE -d SECONDS [-w WARMUP_S]
 *                   [-a 1|all] [-z CODEC] [-l LINGER_MS]
 *   loadgen probe   -b HOST:PORT -t TOPIC [-d TIMEOUT_S]
 *   loadgen txn     -b HOST:PORT -t TOPIC -s SIZE -n TRANSACTIONS [-x PER_TXN] [-z CODEC]
 *
 * txn: one transactional producer (transactional.id unique per run, acks=all,
 * idempotent) runs TRANSACTIONS transactions of PER_TXN records (default 100) each:
 * begin, produce, commit (which waits for every record and the commit). Reports
 * transactions, records and MB per second over the whole loop.
 *
 * Every mode prints exactly one JSON object on stdout (the harness parses it) and
 * exits 0 only if the run was complete: every record acknowledged or read.
 *
 * Payloads: a 1 MiB pool of log-like text (words from a fixed list, seeded PRNG), each
 * record a slice of it at a pseudo-random position, so lz4 has realistic work (about
 * 2-3x) and no two consecutive records are equal. Keys are null.
 *
 * e2e: the producer (main thread) sends at a fixed rate on a schedule: record i is due
 * at t0 + i/RATE and carries its due time (CLOCK_MONOTONIC ns) in its first 8 bytes;
 * a consumer thread in the same process reads the topic from the beginning and takes
 * now - due for every record due after the warm-up. The schedule starts only once a
 * primer record (due time 0) has been read back from every partition. Using the due time rather than the
 * send time keeps a stalled producer from hiding latency (coordinated omission).
 *
 * probe: for start-up time. Retries Metadata until TOPIC has a leader for every
 * partition, then fetches one record from partition 0 offset 0; prints the
 * CLOCK_REALTIME seconds of both events so the harness can subtract the time it
 * started the broker.
 *
 * Invariants: nothing here asserts on broker answers; every failure is counted and
 * reported in the JSON and in the exit status. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LG_POOL_BYTES (1u << 20)
#define LG_SIZE_MAX (1u << 20)
#define LG_ADMIN_TIMEOUT_MS 30000
#define LG_IDLE_TIMEOUT_MS 20000
#define LG_LAT_MAX (50u * 1000u * 1000u)

typedef struct {
    const char *mode;
    const char *brokers;
    const char *topic;
    const char *acks;
    const char *codec;
    const char *linger_ms;
    int partitions;
    size_t size;
    long long count;
    double rate;
    double duration_s;
    double warmup_s;
    long long per_txn;
} lg_opts_t;

typedef struct {
    long long acked;
    long long failed;
    long long bytes;
    char first_err[256];
} lg_dr_t;

/* e2e state shared by the producer (main) and the consumer thread */
typedef struct {
    rd_kafka_t *rk;          /* owned: the consumer handle */
    int64_t *lat_ns;         /* owned: LG_LAT_MAX slots */
    size_t lat_count;
    int64_t measure_from_ns; /* records due before this are warm-up */
    long long received;
    long long expected;      /* set by the producer when it is done, else -1 */
    uint64_t primed_mask;    /* partitions (< 64) a primer record was read from */
    volatile int stop;
    pthread_mutex_t mu;
} lg_e2e_t;

static char lg_pool[LG_POOL_BYTES + LG_SIZE_MAX];

static void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double
real_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
prng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* fills lg_pool with log-like text; the tail repeats the head so any slice of up to
 * LG_SIZE_MAX bytes starting in the first LG_POOL_BYTES is valid */
static void
pool_fill(void)
{
    static const char *const words[] = {
        "GET", "POST", "/api/v1/orders", "/api/v1/users", "status=200", "status=404",
        "latency_ms=", "user_id=", "INFO", "WARN", "request", "completed", "session",
        "checkout", "cart", "payment", "accepted", "region=eu-west", "region=us-east",
        "trace=", "span=", "retry", "cache", "hit", "miss", "db.query", "rows=",
    };
    size_t nwords = sizeof(words) / sizeof(words[0]), pos = 0, len;
    uint64_t seed = 42, r;
    char num[24];

    while (pos < LG_POOL_BYTES) {
        r = prng_next(&seed);
        len = strlen(words[r % nwords]);
        if (pos + len + 1 > LG_POOL_BYTES) break;
        memcpy(lg_pool + pos, words[r % nwords], len);
        pos += len;
        if ((r >> 8) % 3 == 0) {
            len = (size_t)snprintf(num, sizeof(num), "%u", (unsigned)((r >> 16) % 100000));
            if (pos + len + 1 > LG_POOL_BYTES) break;
            memcpy(lg_pool + pos, num, len);
            pos += len;
        }
        lg_pool[pos++] = ((r >> 40) % 8 == 0) ? '\n' : ' ';
    }
    while (pos < LG_POOL_BYTES) lg_pool[pos++] = ' ';
    memcpy(lg_pool + LG_POOL_BYTES, lg_pool, LG_SIZE_MAX);
}

static void
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        die("conf %s=%s: %s", name, value, errstr);
}

static void
log_quiet(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

static rd_kafka_conf_t *
conf_base(const lg_opts_t *o, int quiet)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    conf_set(conf, "bootstrap.servers", o->brokers);
    conf_set(conf, "client.id", "skiff-bench-loadgen");
    if (quiet) rd_kafka_conf_set_log_cb(conf, log_quiet);
    return conf;
}

static rd_kafka_t *
handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));

    if (rk == NULL) die("rd_kafka_new: %s", errstr);
    return rk;
}

/* ---- admin ---------------------------------------------------------------- */

static rd_kafka_event_t *
admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
    int64_t deadline = mono_ns() + (int64_t)LG_ADMIN_TIMEOUT_MS * 1000000;
    rd_kafka_event_t *ev;

    while (mono_ns() < deadline) {
        ev = rd_kafka_queue_poll(q, 1000);
        if (ev == NULL) continue;
        if (rd_kafka_event_type(ev) == type) return ev;
        rd_kafka_event_destroy(ev);
    }
    return NULL;
}

/* prints {"mode":..,"error":..}; exits 0 on success or "already exists/unknown" */
static int
admin_report(const lg_opts_t *o, rd_kafka_event_t *ev,
             const rd_kafka_topic_result_t **res, size_t res_count)
{
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    const char *msg = "no result in time";

    if (ev != NULL) {
        err = rd_kafka_event_error(ev);
        msg = rd_kafka_event_error_string(ev);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && res_count == 1) {
            err = rd_kafka_topic_result_error(res[0]);
            msg = rd_kafka_err2str(err);
        }
    } else {
        err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    printf("{\"mode\":\"%s\",\"topic\":\"%s\",\"error\":\"%s\"}\n", o->mode, o->topic,
           err ? msg : "");
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ||
                   err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ||
                   err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
               ? 0
               : 1;
}

static int
run_admin(const lg_opts_t *o)
{
    rd_kafka_t *rk = handle_new(RD_KAFKA_PRODUCER, conf_base(o, 0));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt;
    rd_kafka_event_t *ev;
    const rd_kafka_topic_result_t **res = NULL;
    size_t res_count = 0;
    char errstr[512];
    int rc;

    if (strcmp(o->mode, "create") == 0) {
        rd_kafka_NewTopic_t *nt =
            rd_kafka_NewTopic_new(o->topic, o->partitions, 1, errstr, sizeof(errstr));
        if (nt == NULL) die("NewTopic: %s", errstr);
        opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
        ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
        if (ev != NULL)
            res = rd_kafka_CreateTopics_result_topics(
                rd_kafka_event_CreateTopics_result(ev), &res_count);
        rd_kafka_NewTopic_destroy(nt);
    } else {
        rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(o->topic);
        opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
        rd_kafka_DeleteTopics(rk, &dt, 1, opt, q);
        ev = admin_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
        if (ev != NULL)
            res = rd_kafka_DeleteTopics_result_topics(
                rd_kafka_event_DeleteTopics_result(ev), &res_count);
        rd_kafka_DeleteTopic_destroy(dt);
    }
    rc = admin_report(o, ev, res, res_count);
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- produce -------------------------------------------------------------- */

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    lg_dr_t *dr = opaque;

    (void)rk;
    if (m->err) {
        if (dr->failed++ == 0)
            snprintf(dr->first_err, sizeof(dr->first_err), "%s",
                     rd_kafka_err2str(m->err));
        return;
    }
    dr->acked++;
    dr->bytes += (long long)m->len;
}

static rd_kafka_t *
producer_new(const lg_opts_t *o, lg_dr_t *dr)
{
    rd_kafka_conf_t *conf = conf_base(o, 0);

    conf_set(conf, "acks", o->acks);
    conf_set(conf, "compression.codec", o->codec);
    conf_set(conf, "linger.ms", o->linger_ms);
    conf_set(conf, "queue.buffering.max.messages", "1000000");
    conf_set(conf, "queue.buffering.max.kbytes", "1048576");
    conf_set(conf, "batch.size", "1000000");
    conf_set(conf, "enable.idempotence", "false");
    conf_set(conf, "message.timeout.ms", "120000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, dr);
    return handle_new(RD_KAFKA_PRODUCER, conf);
}

/* one record; waits (serving delivery reports) while the local queue is full.
 * payload is copied only when copy is set (e2e stamps each record). */
static int
produce_one(rd_kafka_topic_t *rkt, rd_kafka_t *rk, void *payload, size_t len, int copy)
{
    int64_t deadline = mono_ns() + 120 * (int64_t)1000000000;

    for (;;) {
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, copy ? RD_KAFKA_MSG_F_COPY : 0,
                             payload, len, NULL, 0, NULL) == 0)
            return 0;
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) return -1;
        if (mono_ns() > deadline) return -1;
        rd_kafka_poll(rk, 1);
    }
}

static void
print_dr_json(const lg_dr_t *dr)
{
    printf("\"acked\":%lld,\"failed\":%lld,\"bytes\":%lld,\"first_error\":\"%s\"",
           dr->acked, dr->failed, dr->bytes, dr->first_err);
}

static int
run_produce(const lg_opts_t *o)
{
    lg_dr_t dr = {0};
    rd_kafka_t *rk = producer_new(o, &dr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    uint64_t seed = 7;
    long long i, sent = 0;
    int64_t t0, t1;
    double secs;

    t0 = mono_ns();
    for (i = 0; i < o->count; i++) {
        size_t pos = (size_t)(prng_next(&seed) % LG_POOL_BYTES);
        if (produce_one(rkt, rk, lg_pool + pos, o->size, 0) != 0) break;
        sent++;
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0 && mono_ns() - t0 < 600 * (int64_t)1000000000)
        rd_kafka_poll(rk, 50);
    t1 = mono_ns();
    secs = (double)(t1 - t0) / 1e9;
    printf("{\"mode\":\"produce\",\"topic\":\"%s\",\"size\":%zu,\"acks\":\"%s\","
           "\"codec\":\"%s\",\"linger_ms\":%s,\"sent\":%lld,",
           o->topic, o->size, o->acks, o->codec, o->linger_ms, sent);
    print_dr_json(&dr);
    printf(",\"seconds\":%.6f,\"records_per_s\":%.1f,\"mb_per_s\":%.3f}\n", secs,
           (double)dr.acked / secs, (double)dr.bytes / secs / 1e6);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return (dr.acked == o->count && dr.failed == 0) ? 0 : 1;
}

/* ---- consume -------------------------------------------------------------- */

/* the topic's partition count from Metadata, retried until it has one */
static int
partition_count(rd_kafka_t *rk, const char *topic, double timeout_s)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int64_t deadline = mono_ns() + (int64_t)(timeout_s * 1e9);
    int n = -1, i;

    while (n < 0 && mono_ns() < deadline) {
        if (rd_kafka_metadata(rk, 0, rkt, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && md->topics[0].err == 0 &&
                md->topics[0].partition_cnt > 0) {
                n = md->topics[0].partition_cnt;
                for (i = 0; i < n; i++)
                    if (md->topics[0].partitions[i].leader < 0) n = -1;
            }
            rd_kafka_metadata_destroy(md);
        }
        if (n < 0) usleep(20000);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

static rd_kafka_t *
consumer_new(const lg_opts_t *o, int quiet)
{
    rd_kafka_conf_t *conf = conf_base(o, quiet);

    conf_set(conf, "group.id", "skiff-bench");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "fetch.wait.max.ms", "100");
    conf_set(conf, "check.crcs", "false");
    return handle_new(RD_KAFKA_CONSUMER, conf);
}

/* assigns partitions [0, n) of topic, each from its first offset */
static void
assign_from_start(rd_kafka_t *rk, const char *topic, int n)
{
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(n);
    rd_kafka_resp_err_t err;
    int i;

    for (i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(tpl, topic, i)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);
    if (err) die("assign: %s", rd_kafka_err2str(err));
}

static int
run_consume(const lg_opts_t *o)
{
    rd_kafka_t *rk = consumer_new(o, 0);
    int n = partition_count(rk, o->topic, 30);
    long long got = 0, bytes = 0, errors = 0;
    int64_t t0, t1, last;
    rd_kafka_message_t *m;
    double secs;

    if (n <= 0) die("topic %s has no partitions with leaders", o->topic);
    t0 = last = mono_ns();
    assign_from_start(rk, o->topic, n);
    while (got < o->count && mono_ns() - last < (int64_t)LG_IDLE_TIMEOUT_MS * 1000000) {
        m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            got++;
            bytes += (long long)m->len;
            last = mono_ns();
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            errors++;
        }
        rd_kafka_message_destroy(m);
    }
    t1 = mono_ns();
    secs = (double)(t1 - t0) / 1e9;
    printf("{\"mode\":\"consume\",\"topic\":\"%s\",\"partitions\":%d,\"records\":%lld,"
           "\"bytes\":%lld,\"errors\":%lld,\"seconds\":%.6f,\"records_per_s\":%.1f,"
           "\"mb_per_s\":%.3f}\n",
           o->topic, n, got, bytes, errors, secs, (double)got / secs,
           (double)bytes / secs / 1e6);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got >= o->count ? 0 : 1;
}

/* ---- e2e latency ---------------------------------------------------------- */

static void *
e2e_consumer(void *arg)
{
    lg_e2e_t *e = arg;
    rd_kafka_message_t *m;
    int64_t due, now, last = mono_ns();

    while (!e->stop) {
        m = rd_kafka_consumer_poll(e->rk, 100);
        now = mono_ns();
        if (m != NULL && m->err == 0 && m->len >= sizeof(int64_t)) {
            memcpy(&due, m->payload, sizeof(due));
            last = now;
            pthread_mutex_lock(&e->mu);
            if (due > 0 && due >= e->measure_from_ns && e->lat_count < LG_LAT_MAX)
                e->lat_ns[e->lat_count++] = now - due;
            if (due == 0 && m->partition >= 0 && m->partition < 64)
                e->primed_mask |= (uint64_t)1 << m->partition;
            e->received++;
            pthread_mutex_unlock(&e->mu);
        }
        if (m != NULL) rd_kafka_message_destroy(m);
        pthread_mutex_lock(&e->mu);
        if (e->expected >= 0 &&
            (e->received >= e->expected ||
             now - last > (int64_t)LG_IDLE_TIMEOUT_MS * 1000000))
            e->stop = 1;
        pthread_mutex_unlock(&e->mu);
    }
    return NULL;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* value at percentile p (0..100) of a sorted array, nearest rank */
static double
pct_us(const int64_t *v, size_t n, double p)
{
    size_t idx;

    if (n == 0) return -1;
    idx = (size_t)(p / 100.0 * (double)n);
    if (idx >= n) idx = n - 1;
    return (double)v[idx] / 1000.0;
}

static void
e2e_print(const lg_opts_t *o, lg_e2e_t *e, const lg_dr_t *dr, long long sent,
          double secs)
{
    static const double pts[] = {0,    10,   20,    30,    40,    50,     60,
                                 70,   75,   80,    90,    95,    97,     99,
                                 99.5, 99.7, 99.9,  99.95, 99.97, 99.99,  99.995,
                                 99.999, 100};
    size_t i, n = e->lat_count;

    qsort(e->lat_ns, n, sizeof(int64_t), cmp_i64);
    printf("{\"mode\":\"e2e\",\"topic\":\"%s\",\"size\":%zu,\"acks\":\"%s\","
           "\"codec\":\"%s\",\"linger_ms\":%s,\"rate\":%.1f,\"sent\":%lld,",
           o->topic, o->size, o->acks, o->codec, o->linger_ms, o->rate, sent);
    print_dr_json(dr);
    printf(",\"received\":%lld,\"measured\":%zu,\"seconds\":%.3f,"
           "\"achieved_rate\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
           "\"max_us\":%.1f,\"dist\":[",
           e->received, n, secs, (double)sent / secs, pct_us(e->lat_ns, n, 50),
           pct_us(e->lat_ns, n, 99), pct_us(e->lat_ns, n, 99.9),
           pct_us(e->lat_ns, n, 100));
    for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
        printf("%s[%g,%.1f]", i ? "," : "", pts[i], pct_us(e->lat_ns, n, pts[i]));
    printf("]}\n");
}

/* sends records on schedule for o->duration_s; returns the number sent */
static long long
e2e_produce(const lg_opts_t *o, rd_kafka_t *rk, rd_kafka_topic_t *rkt, int64_t t0)
{
    int64_t end = t0 + (int64_t)(o->duration_s * 1e9), due, now;
    double period_ns = 1e9 / o->rate;
    uint64_t seed = 11;
    long long i;
    struct timespec ts;

    for (i = 0;; i++) {
        due = t0 + (int64_t)((double)i * period_ns);
        if (due >= end) break;
        now = mono_ns();
        if (due - now > 50000) {
            ts.tv_sec = due / 1000000000;
            ts.tv_nsec = due % 1000000000;
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            rd_kafka_poll(rk, 0);
        }
        size_t pos = (size_t)(prng_next(&seed) % LG_POOL_BYTES);
        char *p = lg_pool + pos;
        char save[sizeof(int64_t)];
        memcpy(save, p, sizeof(save));
        memcpy(p, &due, sizeof(due));
        int rc = produce_one(rkt, rk, p, o->size, 1);
        memcpy(p, save, sizeof(save));
        if (rc != 0) break;
        if ((i & 255) == 0) rd_kafka_poll(rk, 0);
    }
    return i;
}

/* sends a primer record (due time 0, never measured) to each of the first n
 * partitions every 100 ms until the consumer has read one from each: a fresh topic
 * can take seconds to become fetchable, and that is not the latency under test.
 * Returns the number of primers sent, -1 if the partitions never all answered. */
static long long
e2e_prime(lg_e2e_t *e, rd_kafka_t *rk, rd_kafka_topic_t *rkt, int n)
{
    uint64_t want = n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1), have = 0;
    int64_t deadline = mono_ns() + 60 * (int64_t)1000000000, zero = 0;
    char buf[64] = {0};
    long long sent = 0;
    int p;

    memcpy(buf, &zero, sizeof(zero));
    while (have != want && mono_ns() < deadline) {
        for (p = 0; p < n && p < 64; p++)
            if (!(have & ((uint64_t)1 << p)) &&
                rd_kafka_produce(rkt, p, RD_KAFKA_MSG_F_COPY, buf, sizeof(buf), NULL, 0,
                                 NULL) == 0)
                sent++;
        rd_kafka_poll(rk, 100);
        pthread_mutex_lock(&e->mu);
        have = e->primed_mask & want;
        pthread_mutex_unlock(&e->mu);
    }
    return have == want ? sent : -1;
}

static int
run_e2e(const lg_opts_t *o)
{
    lg_dr_t dr = {0};
    lg_e2e_t e = {0};
    rd_kafka_t *prk = producer_new(o, &dr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prk, o->topic, NULL);
    pthread_t th;
    long long sent, primers;
    int64_t t0;
    int n, ok;

    if (o->size < sizeof(int64_t)) die("e2e needs -s >= 8");
    e.rk = consumer_new(o, 0);
    e.expected = -1;
    pthread_mutex_init(&e.mu, NULL);
    e.lat_ns = malloc(LG_LAT_MAX * sizeof(int64_t));
    if (e.lat_ns == NULL) die("out of memory");
    n = partition_count(e.rk, o->topic, 30);
    if (n <= 0) die("topic %s has no partitions with leaders", o->topic);
    assign_from_start(e.rk, o->topic, n);
    e.measure_from_ns = INT64_MAX;
    if (pthread_create(&th, NULL, e2e_consumer, &e) != 0) die("pthread_create");
    primers = e2e_prime(&e, prk, rkt, n);
    if (primers < 0) fprintf(stderr, "loadgen: e2e: not every partition answered\n");
    t0 = mono_ns();
    pthread_mutex_lock(&e.mu);
    e.measure_from_ns = t0 + (int64_t)(o->warmup_s * 1e9);
    pthread_mutex_unlock(&e.mu);
    sent = e2e_produce(o, prk, rkt, t0) + (primers > 0 ? primers : 0);
    while (rd_kafka_outq_len(prk) > 0 && mono_ns() - t0 < (int64_t)(o->duration_s * 1e9) + 120000000000LL)
        rd_kafka_poll(prk, 50);
    pthread_mutex_lock(&e.mu);
    e.expected = dr.acked;
    pthread_mutex_unlock(&e.mu);
    pthread_join(th, NULL);
    e2e_print(o, &e, &dr, sent, o->duration_s);
    ok = dr.failed == 0 && dr.acked == sent && e.received >= dr.acked;
    rd_kafka_consumer_close(e.rk);
    rd_kafka_destroy(e.rk);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(prk);
    free(e.lat_ns);
    pthread_mutex_destroy(&e.mu);
    return ok ? 0 : 1;
}

/* ---- probe ---------------------------------------------------------------- */

static int
run_probe(const lg_opts_t *o)
{
    rd_kafka_conf_t *conf = conf_base(o, 1);
    rd_kafka_t *rk;
    rd_kafka_message_t *m;
    double t_start = real_s(), t_meta = -1, t_fetch = -1;
    int64_t deadline = mono_ns() + (int64_t)(o->duration_s * 1e9);
    int n;

    conf_set(conf, "group.id", "skiff-bench-probe");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "reconnect.backoff.ms", "10");
    conf_set(conf, "reconnect.backoff.max.ms", "50");
    conf_set(conf, "fetch.wait.max.ms", "10");
    rk = handle_new(RD_KAFKA_CONSUMER, conf);
    n = partition_count(rk, o->topic, o->duration_s);
    if (n > 0) {
        t_meta = real_s();
        assign_from_start(rk, o->topic, 1);
        while (t_fetch < 0 && mono_ns() < deadline) {
            m = rd_kafka_consumer_poll(rk, 10);
            if (m != NULL && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) t_fetch = real_s();
            if (m != NULL) rd_kafka_message_destroy(m);
        }
    }
    printf("{\"mode\":\"probe\",\"topic\":\"%s\",\"partitions\":%d,\"t_start\":%.6f,"
           "\"t_metadata\":%.6f,\"t_fetch\":%.6f}\n",
           o->topic, n, t_start, t_meta, t_fetch);
    rd_kafka_destroy(rk);
    return t_fetch > 0 ? 0 : 1;
}

/* ---- transactions --------------------------------------------------------- */

static int
txn_error(rd_kafka_error_t *e, const char *what, char *first, size_t first_len)
{
    if (!e) return 0;
    if (first[0] == '\0') snprintf(first, first_len, "%s: %s", what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return 1;
}

static int
run_txn(const lg_opts_t *o)
{
    lg_dr_t dr = {0};
    rd_kafka_conf_t *conf = conf_base(o, 0);
    char txn_id[64], first[512] = "";
    uint64_t seed = 11;
    long long t, i, committed = 0;

    snprintf(txn_id, sizeof(txn_id), "skiff-bench-txn-%d-%lld", (int)getpid(), (long long)mono_ns());
    conf_set(conf, "transactional.id", txn_id);
    conf_set(conf, "compression.codec", o->codec);
    conf_set(conf, "linger.ms", o->linger_ms);
    conf_set(conf, "batch.size", "1000000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &dr);
    rd_kafka_t *rk = handle_new(RD_KAFKA_PRODUCER, conf);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    int64_t t0 = mono_ns();
    int bad = txn_error(rd_kafka_init_transactions(rk, 60000), "init", first, sizeof(first));
    int64_t t1 = mono_ns();
    for (t = 0; !bad && t < o->count; t++) {
        bad = txn_error(rd_kafka_begin_transaction(rk), "begin", first, sizeof(first));
        for (i = 0; !bad && i < o->per_txn; i++) {
            size_t pos = (size_t)(prng_next(&seed) % LG_POOL_BYTES);
            if (produce_one(rkt, rk, lg_pool + pos, o->size, 0) != 0) bad = 1;
        }
        if (!bad) bad = txn_error(rd_kafka_commit_transaction(rk, 60000), "commit", first, sizeof(first));
        if (!bad) committed++;
    }
    int64_t t2 = mono_ns();
    double secs = (double)(t2 - t1) / 1e9;
    if (first[0] == '\0' && dr.failed) snprintf(first, sizeof(first), "%s", dr.first_err);
    printf("{\"mode\":\"txn\",\"topic\":\"%s\",\"size\":%zu,\"per_txn\":%lld,\"codec\":\"%s\","
           "\"transactions\":%lld,\"committed\":%lld,\"acked\":%lld,\"bytes\":%lld,\"first_error\":\"%s\","
           "\"init_seconds\":%.3f,\"seconds\":%.6f,\"txn_per_s\":%.1f,\"records_per_s\":%.1f,"
           "\"mb_per_s\":%.3f}\n",
           o->topic, o->size, o->per_txn, o->codec, o->count, committed, dr.acked, dr.bytes, first,
           (double)(t1 - t0) / 1e9, secs, (double)committed / secs, (double)dr.acked / secs,
           (double)dr.bytes / secs / 1e6);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return committed == o->count && dr.acked == o->count * o->per_txn ? 0 : 1;
}

/* ---- main ----------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr,
            "usage: loadgen create|delete|produce|consume|e2e|probe|txn -b BROKERS -t TOPIC\n"
            "  [-p PARTITIONS] [-s SIZE] [-n COUNT] [-a 1|all] [-z CODEC] [-l LINGER_MS]\n"
            "  [-r RATE] [-d SECONDS] [-w WARMUP_S] [-x PER_TXN]\n");
    exit(2);
}

static void
opts_parse(lg_opts_t *o, int argc, char **argv)
{
    int c;

    *o = (lg_opts_t){.acks = "1", .codec = "none", .linger_ms = "5", .partitions = 4,
                     .size = 1024, .count = 100000, .rate = 1000, .duration_s = 10,
                     .warmup_s = 1, .per_txn = 100};
    if (argc < 2) usage();
    o->mode = argv[1];
    optind = 2;
    while ((c = getopt(argc, argv, "b:t:p:s:n:a:z:l:r:d:w:x:")) != -1) {
        switch (c) {
        case 'b': o->brokers = optarg; break;
        case 't': o->topic = optarg; break;
        case 'p': o->partitions = atoi(optarg); break;
        case 's': o->size = (size_t)strtoull(optarg, NULL, 10); break;
        case 'n': o->count = strtoll(optarg, NULL, 10); break;
        case 'a': o->acks = optarg; break;
        case 'z': o->codec = optarg; break;
        case 'l': o->linger_ms = optarg; break;
        case 'r': o->rate = strtod(optarg, NULL); break;
        case 'd': o->duration_s = strtod(optarg, NULL); break;
        case 'w': o->warmup_s = strtod(optarg, NULL); break;
        case 'x': o->per_txn = strtoll(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (o->brokers == NULL || o->topic == NULL) usage();
    if (o->size == 0 || o->size > LG_SIZE_MAX) die("-s must be 1..%u", LG_SIZE_MAX);
    if (o->per_txn <= 0) die("-x must be positive");
    if (o->count <= 0 || o->rate <= 0 || o->duration_s <= 0 || o->partitions <= 0)
        die("-n, -r, -d and -p must be positive");
}

int
main(int argc, char **argv)
{
    lg_opts_t o;

    opts_parse(&o, argc, argv);
    pool_fill();
    if (strcmp(o.mode, "create") == 0 || strcmp(o.mode, "delete") == 0)
        return run_admin(&o);
    if (strcmp(o.mode, "produce") == 0) return run_produce(&o);
    if (strcmp(o.mode, "consume") == 0) return run_consume(&o);
    if (strcmp(o.mode, "e2e") == 0) return run_e2e(&o);
    if (strcmp(o.mode, "probe") == 0) return run_probe(&o);
    if (strcmp(o.mode, "txn") == 0) return run_txn(&o);
    usage();
    return 2;
}
