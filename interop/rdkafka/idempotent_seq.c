/* interop/rdkafka/idempotent_seq.c: the broker's answers to idempotent Produce requests
 * with chosen producer ids, epochs and sequences, byte for byte on a raw socket (a
 * client library would never send the wrong ones), compared with Apache Kafka 4.x:
 *
 *   idempotent_seq [topic]        env BOOTSTRAP (host:port)
 *
 * The topic (1 partition) is created with librdkafka's admin API; then InitProducerId
 * v1 hands out producer ids and Produce v7 (acks=-1) sends hand-built magic-2 batches:
 * in-order batches, a retry of an earlier one (NONE with its original base offset), a
 * retry of a batch older than the last five, a gap, a new epoch not starting at 0, a
 * new epoch at 0, the old epoch after it, an unknown producer starting at sequence 42,
 * and a sequence wrapping past INT32_MAX. Expected answers are Kafka's (checked with
 * interop/kafka-ref.sh). Ends with one PASS/FAIL line (itest.h). */
#include "itest.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TEST "idempotent_seq"
#define BUF_MAX 65536

static const char *topic;
static int sock = -1;
static int32_t corr_id;

/* ---- encoding ---- */
typedef struct wbuf {
    uint8_t b[BUF_MAX];
    size_t n;
} wbuf_t;

static void put8(wbuf_t *w, uint8_t v) { w->b[w->n++] = v; }
static void put16(wbuf_t *w, int16_t v) { put8(w, (uint8_t)((uint16_t)v >> 8)), put8(w, (uint8_t)v); }
static void
put32(wbuf_t *w, int32_t v)
{
    put16(w, (int16_t)((uint32_t)v >> 16));
    put16(w, (int16_t)(v & 0xffff));
}
static void put64(wbuf_t *w, int64_t v) { put32(w, (int32_t)((uint64_t)v >> 32)), put32(w, (int32_t)v); }
static void
putstr(wbuf_t *w, const char *s)
{
    if (!s) {
        put16(w, -1);
        return;
    }
    put16(w, (int16_t)strlen(s));
    memcpy(w->b + w->n, s, strlen(s));
    w->n += strlen(s);
}
static void
putvar(wbuf_t *w, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        put8(w, (uint8_t)(z | 0x80));
        z >>= 7;
    }
    put8(w, (uint8_t)z);
}

static uint32_t
crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

static int16_t rd16(const uint8_t *p) { return (int16_t)((p[0] << 8) | p[1]); }
static int32_t rd32(const uint8_t *p) { return (int32_t)(((uint32_t)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]); }
static int64_t rd64(const uint8_t *p) { return (int64_t)(((uint64_t)(uint32_t)rd32(p) << 32) | (uint32_t)rd32(p + 4)); }

/* One magic-2 batch of n records (values "v<i>") from (pid, epoch, seq). */
static void
batch_build(wbuf_t *w, int64_t pid, int16_t epoch, int32_t seq, int32_t n)
{
    size_t start = w->n;
    put64(w, 0);  /* base offset */
    put32(w, 0);  /* batch length, below */
    put32(w, -1); /* partition leader epoch */
    put8(w, 2);   /* magic */
    put32(w, 0);  /* crc, below */
    size_t crc_from = w->n;
    put16(w, 0);  /* attributes */
    put32(w, n - 1);
    put64(w, it_now_ms());
    put64(w, it_now_ms());
    put64(w, pid);
    put16(w, epoch);
    put32(w, seq);
    put32(w, n);
    for (int32_t i = 0; i < n; i++) {
        char v[16];
        int vl = snprintf(v, sizeof(v), "v%d", i);
        wbuf_t r = {.n = 0};
        put8(&r, 0);     /* attributes */
        putvar(&r, 0);   /* timestamp delta */
        putvar(&r, i);   /* offset delta */
        putvar(&r, -1);  /* key: null */
        putvar(&r, vl);
        memcpy(r.b + r.n, v, (size_t)vl);
        r.n += (size_t)vl;
        putvar(&r, 0);   /* headers */
        putvar(w, (int64_t)r.n);
        memcpy(w->b + w->n, r.b, r.n);
        w->n += r.n;
    }
    int32_t blen = (int32_t)(w->n - start - 12);
    wbuf_t t = {.n = 0};
    put32(&t, blen);
    memcpy(w->b + start + 8, t.b, 4);
    uint32_t c = crc32c(w->b + crc_from, w->n - crc_from);
    t.n = 0;
    put32(&t, (int32_t)c);
    memcpy(w->b + start + 17, t.b, 4);
}

/* ---- transport ---- */
static void
sock_open(void)
{
    char host[256];
    const char *bs = it_bootstrap(), *colon = strrchr(bs, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (!colon || (size_t)(colon - bs) >= sizeof(host)) it_die(TEST, "bad BOOTSTRAP %s", bs);
    memcpy(host, bs, (size_t)(colon - bs));
    host[colon - bs] = '\0';
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) it_die(TEST, "cannot resolve %s", bs);
    sock = socket(ai->ai_family, SOCK_STREAM, 0);
    if (sock < 0 || connect(sock, ai->ai_addr, ai->ai_addrlen) != 0) it_die(TEST, "cannot connect to %s", bs);
    freeaddrinfo(ai);
}

static void
io_all(int write_side, uint8_t *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = write_side ? write(sock, p + done, n - done) : read(sock, p + done, n - done);
        if (k <= 0) it_die(TEST, "connection %s failed", write_side ? "write" : "read");
        done += (size_t)k;
    }
}

/* Send header v1 + body; returns the response body (after the correlation id) in out. */
static size_t
roundtrip(int16_t key, int16_t ver, const wbuf_t *body, uint8_t *out, size_t cap)
{
    static wbuf_t w;
    uint8_t len4[4];
    w.n = 0;
    put32(&w, 0);
    put16(&w, key);
    put16(&w, ver);
    put32(&w, ++corr_id);
    putstr(&w, "idempotent_seq");
    memcpy(w.b + w.n, body->b, body->n);
    w.n += body->n;
    wbuf_t t = {.n = 0};
    put32(&t, (int32_t)(w.n - 4));
    memcpy(w.b, t.b, 4);
    io_all(1, w.b, w.n);
    io_all(0, len4, 4);
    int32_t n = rd32(len4);
    if (n < 4 || (size_t)n > cap) it_die(TEST, "bad response size %d", n);
    io_all(0, out, (size_t)n);
    if (rd32(out) != corr_id) it_die(TEST, "correlation id mismatch");
    memmove(out, out + 4, (size_t)n - 4);
    return (size_t)n - 4;
}

static int64_t
init_producer_id(int16_t *epoch)
{
    static wbuf_t body;
    uint8_t resp[256];
    int64_t t0 = it_now_ms();
    size_t n;
    body.n = 0;
    putstr(&body, NULL); /* no transactional id */
    put32(&body, 60000);
    /* A broker that just started may answer COORDINATOR_LOAD_IN_PROGRESS (14) or
     * COORDINATOR_NOT_AVAILABLE (15) for a while: clients retry those. */
    for (;;) {
        n = roundtrip(22, 1, &body, resp, sizeof(resp));
        if (n < 16) it_die(TEST, "short InitProducerId response");
        int16_t e = rd16(resp + 4);
        if ((e != 14 && e != 15) || it_now_ms() - t0 > 30000) break;
        usleep(200 * 1000);
    }
    it_check(rd16(resp + 4) == 0, "InitProducerId error %d", rd16(resp + 4));
    *epoch = rd16(resp + 14);
    return rd64(resp + 6);
}

/* Produce v7, acks=-1, one batch; returns the error code, *base the base offset. */
static int16_t
produce(int64_t pid, int16_t epoch, int32_t seq, int32_t n, int64_t *base)
{
    static wbuf_t body, batch;
    uint8_t resp[1024];
    body.n = batch.n = 0;
    batch_build(&batch, pid, epoch, seq, n);
    putstr(&body, NULL); /* transactional id */
    put16(&body, -1);
    put32(&body, 30000);
    put32(&body, 1);
    putstr(&body, topic);
    put32(&body, 1);
    put32(&body, 0);
    put32(&body, (int32_t)batch.n);
    memcpy(body.b + body.n, batch.b, batch.n);
    body.n += batch.n;
    size_t len = roundtrip(0, 7, &body, resp, sizeof(resp));
    /* [topics: name, [partitions: index, error, base offset, append time, start]] */
    size_t at = 4;
    if (len < at + 2) it_die(TEST, "short Produce response");
    at += 2 + (size_t)rd16(resp + at) + 4 + 4; /* name, partition count, index */
    if (len < at + 10) it_die(TEST, "short Produce response");
    *base = rd64(resp + at + 2);
    return rd16(resp + at);
}

static void
expect(const char *what, int64_t pid, int16_t epoch, int32_t seq, int32_t n, int16_t want_err, int64_t want_base)
{
    int64_t base = -2;
    int16_t err = produce(pid, epoch, seq, n, &base);
    it_check(err == want_err, "%s: error %d, Kafka answers %d", what, err, want_err);
    if (want_err == 0 && want_base >= 0)
        it_check(base == want_base, "%s: base offset %lld, want %lld", what, (long long)base, (long long)want_base);
}

int
main(int argc, char **argv)
{
    char errstr[256];
    int16_t e1, e2, e3;
    topic = argc > 1 ? argv[1] : "it-idem-seq";

    rd_kafka_t *adm = it_handle_new(TEST, RD_KAFKA_PRODUCER, it_conf_new(TEST, NULL));
    int err = it_topic_create(adm, topic, 1, 1, 0, errstr, sizeof(errstr));
    if (err != 0) it_die(TEST, "CreateTopics: %d %s", err, errstr);
    if (it_topic_wait(adm, topic, 1, 30000) != 1) it_die(TEST, "topic has no leader");
    rd_kafka_destroy(adm);
    sock_open();

    int64_t p = init_producer_id(&e1);
    int64_t q = init_producer_id(&e2);
    int64_t r = init_producer_id(&e3);
    it_check(p >= 0 && q != p && r != q && r != p, "producer ids %lld %lld %lld not distinct", (long long)p,
             (long long)q, (long long)r);
    it_check(e1 == 0 && e2 == 0 && e3 == 0, "epochs %d %d %d, want 0", e1, e2, e3);

    expect("first batch", p, 0, 0, 2, 0, 0);                 /* offsets 0-1, seq 0-1 */
    expect("next batch", p, 0, 2, 1, 0, 2);                  /* offset 2, seq 2 */
    expect("retry of the first batch", p, 0, 0, 2, 0, 0);    /* duplicate: original offset */
    expect("retry of the second batch", p, 0, 2, 1, 0, 2);
    expect("gap", p, 0, 4, 1, 45, -1);                       /* OUT_OF_ORDER_SEQUENCE_NUMBER */
    expect("overlap", p, 0, 1, 2, 45, -1);
    for (int i = 0; i < 5; i++) expect("in order", p, 0, 3 + i, 1, 0, 3 + i); /* offsets 3-7 */
    expect("retry older than the last five", p, 0, 2, 1, 45, -1);
    expect("retry of the fifth-newest", p, 0, 3, 1, 0, 3);
    expect("new epoch not at 0", p, 1, 8, 1, 45, -1);
    expect("new epoch at 0", p, 1, 0, 1, 0, 8);
    expect("old epoch after a new one", p, 0, 8, 1, 47, -1); /* INVALID_PRODUCER_EPOCH */
    expect("unknown producer at 42", q, 0, 42, 2, 0, 9);     /* accepted by Kafka 4.x */
    expect("then a gap", q, 0, 45, 1, 45, -1);
    expect("then in order", q, 0, 44, 1, 0, 11);
    expect("wrapping past INT32_MAX", r, 0, INT32_MAX - 1, 3, 0, 12); /* seq MAX-1, MAX, 0 */
    expect("after the wrap", r, 0, 1, 1, 0, 15);
    expect("retry across the wrap", r, 0, INT32_MAX - 1, 3, 0, 12);
    close(sock);
    return it_finish(TEST, "sequence, epoch and duplicate answers for 3 producers, topic %s", topic);
}
