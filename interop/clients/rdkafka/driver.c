/* interop/clients/rdkafka/driver.c: the interop matrix driver for librdkafka in C
 * (Debian's librdkafka-dev), built by interop/clients/matrix-lib.sh together with the
 * interop suite's helpers interop/rdkafka/itest.c.
 *
 *   rdkafka-driver <bootstrap> <scenario> <topic-prefix>
 *
 * Implements the scenarios of interop/scenarios/scenarios.txt and ends with exactly
 * one "PASS|FAIL <scenario>: ..." line (exit 0/1). Invariants: nothing here aborts on
 * what a broker answers (it_die reports and exits); every wait is bounded; messages
 * returned by read_all are owned by the caller's msgs_t and freed with msgs_free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../rdkafka/itest.h"

static const char *g_scn;     /* borrowed: argv */
static const char *g_prefix;  /* borrowed: argv */
static long long g_records;

typedef struct {
    rd_kafka_message_t **v;   /* owned: each message and the array */
    size_t n, cap;
    rd_kafka_t *rk;           /* owned: the consumer, destroyed after its messages */
} msgs_t;

typedef struct {
    int errors;
    char first_error[256];
} dr_state_t;

static void
msgs_push(msgs_t *m, rd_kafka_message_t *msg)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->v = realloc(m->v, m->cap * sizeof(*m->v));
        if (m->v == NULL) it_die(g_scn, "out of memory");
    }
    m->v[m->n++] = msg;
}

static void
msgs_free(msgs_t *m)
{
    for (size_t i = 0; i < m->n; i++) rd_kafka_message_destroy(m->v[i]);
    free(m->v);
    if (m->rk) rd_kafka_destroy(m->rk);
    memset(m, 0, sizeof(*m));
}

static int
msg_cmp(const void *a, const void *b)
{
    const rd_kafka_message_t *x = *(rd_kafka_message_t *const *)a;
    const rd_kafka_message_t *y = *(rd_kafka_message_t *const *)b;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* 1 if the message's key (or value when is_value) equals s (NULL = null) */
static int
field_is(const rd_kafka_message_t *m, int is_value, const char *s)
{
    const void *p = is_value ? m->payload : m->key;
    size_t len = is_value ? m->len : m->key_len;
    if (s == NULL) return p == NULL;
    return p != NULL && len == strlen(s) && memcmp(p, s, len) == 0;
}

static void
topic_name(char *buf, size_t size, const char *suffix)
{
    snprintf(buf, size, "%s-%s", g_prefix, suffix);
}

static void
create_topic(const char *topic, int partitions)
{
    char errstr[512];
    rd_kafka_t *rk = it_handle_new(g_scn, RD_KAFKA_PRODUCER, it_conf_new(g_scn, NULL));
    int err = it_topic_create(rk, topic, partitions, 1, 0, errstr, sizeof(errstr));
    if (err != 0) it_die(g_scn, "CreateTopics %s: error %d %s", topic, err, errstr);
    err = it_topic_wait(rk, topic, partitions, 15000);
    if (err != partitions)
        it_die(g_scn, "Metadata for %s: %d partitions with leaders, want %d", topic, err,
               partitions);
    rd_kafka_destroy(rk);
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    dr_state_t *st = opaque;
    (void)rk;
    /* records of an aborted transaction may be purged: that is not a failure */
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR || m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
        m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        return;
    if (st->errors++ == 0)
        snprintf(st->first_error, sizeof(st->first_error), "%s", rd_kafka_err2str(m->err));
}

static rd_kafka_t *
producer_new(rd_kafka_conf_t *conf, dr_state_t *st)
{
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, st);
    return it_handle_new(g_scn, RD_KAFKA_PRODUCER, conf);
}

/* one record; key/value NULL = null; hdrs NULL-terminated name/value/len triples */
static void
send_one(rd_kafka_t *rk, const char *topic, int32_t part, const char *key,
         const void *val, size_t vlen, rd_kafka_headers_t *hdrs)
{
    rd_kafka_resp_err_t err;
    for (;;) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                RD_KAFKA_V_VALUE((void *)val, val ? vlen : 0),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(rk, 50);
    }
    if (err) it_die(g_scn, "produce: %s", rd_kafka_err2str(err));
    rd_kafka_poll(rk, 0);
}

static void
producer_finish(rd_kafka_t *rk, dr_state_t *st)
{
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        it_die(g_scn, "Produce: %d records not acknowledged within 30 s",
               rd_kafka_outq_len(rk));
    if (st->errors) it_die(g_scn, "Produce delivery error: %s", st->first_error);
    rd_kafka_destroy(rk);
}

/* assign partitions 0..n-1 of topic from offset 0 and read until expect records;
 * then 0.5 s more so that extra records show; sorted by partition and offset */
static void
read_all(const char *topic, int partitions, size_t expect, const char *isolation,
         msgs_t *out)
{
    rd_kafka_conf_t *conf = it_conf_new(g_scn, "group.id", "matrix-unused",
                                        "enable.auto.commit", "false",
                                        "isolation.level", isolation, NULL);
    rd_kafka_t *rk = it_handle_new(g_scn, RD_KAFKA_CONSUMER, conf);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(partitions);
    int64_t deadline = it_now_ms() + 30000, tail = 0;

    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    while (it_now_ms() < (tail ? tail : deadline)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                it_die(g_scn, "Fetch error: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        msgs_push(out, m);
        if (out->n >= expect && !tail) tail = it_now_ms() + 500;
    }
    rd_kafka_consumer_close(rk);
    out->rk = rk;   /* rd_kafka_destroy waits until every message is destroyed */
    if (out->n != expect)
        it_die(g_scn, "Fetch: read %zu records from %s, want %zu", out->n, topic, expect);
    qsort(out->v, out->n, sizeof(*out->v), msg_cmp);
}

static int
sc_metadata_admin(void)
{
    char t[256], errstr[512];
    rd_kafka_t *rk;
    int err;

    topic_name(t, sizeof(t), "adm");
    create_topic(t, 3);
    rk = it_handle_new(g_scn, RD_KAFKA_PRODUCER, it_conf_new(g_scn, NULL));
    err = it_topic_create(rk, t, 3, 1, 0, errstr, sizeof(errstr));
    if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        it_die(g_scn, "CreateTopics duplicate: error %d %s, want TOPIC_ALREADY_EXISTS",
               err, errstr);
    err = it_topic_delete(rk, t, errstr, sizeof(errstr));
    if (err != 0) it_die(g_scn, "DeleteTopics: error %d %s", err, errstr);
    err = it_topic_wait(rk, t, 0, 15000);
    if (err != 0) it_die(g_scn, "Metadata still lists the topic 15 s after DeleteTopics");
    rd_kafka_destroy(rk);
    return it_finish(g_scn, "create 3 partitions, duplicate -> TOPIC_ALREADY_EXISTS, delete");
}

static int
sc_produce_consume(void)
{
    char t[256], k[32], v[32];
    dr_state_t st = {0};
    msgs_t got = {0};
    rd_kafka_t *rk;

    topic_name(t, sizeof(t), "pc");
    create_topic(t, 1);
    rk = producer_new(it_conf_new(g_scn, "acks", "all", "linger.ms", "20", NULL), &st);
    for (long long i = 0; i < g_records; i++) {
        snprintf(k, sizeof(k), "k%lld", i);
        snprintf(v, sizeof(v), "v%lld", i);
        send_one(rk, t, 0, k, v, strlen(v), NULL);
    }
    producer_finish(rk, &st);
    read_all(t, 1, (size_t)g_records, "read_uncommitted", &got);
    for (size_t i = 0; i < got.n; i++) {
        snprintf(k, sizeof(k), "k%zu", i);
        snprintf(v, sizeof(v), "v%zu", i);
        if (got.v[i]->offset != (int64_t)i || !field_is(got.v[i], 0, k) ||
            !field_is(got.v[i], 1, v))
            it_die(g_scn, "record %zu: offset %lld or key/value differ", i,
                   (long long)got.v[i]->offset);
    }
    msgs_free(&got);
    return it_finish(g_scn, "%lld records in order at offsets 0..%lld", g_records,
                     g_records - 1);
}

/* keyed records "key-<i mod nkeys>" = "<key>#<n>", default partitioner */
static void
produce_keyed(const char *t, int nkeys, rd_kafka_conf_t *conf)
{
    dr_state_t st = {0};
    rd_kafka_t *rk = producer_new(conf, &st);
    char k[32], v[64];

    for (long long i = 0; i < g_records; i++) {
        snprintf(k, sizeof(k), "key-%lld", i % nkeys);
        snprintf(v, sizeof(v), "%s#%lld", k, i / nkeys);
        send_one(rk, t, RD_KAFKA_PARTITION_UA, k, v, strlen(v), NULL);
    }
    producer_finish(rk, &st);
}

/* each key in one partition, its n values 0,1,2,... in offset order; returns
 * the number of partitions used */
static int
check_keyed(const msgs_t *got, int nkeys, int partitions)
{
    int where[64], next[64], used = 0, seen[64] = {0};
    char want[64];

    for (int i = 0; i < nkeys; i++) where[i] = -1, next[i] = 0;
    for (size_t i = 0; i < got->n; i++) {
        const rd_kafka_message_t *m = got->v[i];
        int key = -1;
        if (m->key && m->key_len > 4 && m->key_len < 16) {
            char kb[16];
            memcpy(kb, m->key, m->key_len);
            kb[m->key_len] = '\0';
            key = atoi(kb + 4);
        }
        if (key < 0 || key >= nkeys) it_die(g_scn, "record with an unknown key");
        if (where[key] >= 0 && where[key] != m->partition)
            it_die(g_scn, "key-%d in partitions %d and %d", key, where[key], m->partition);
        where[key] = m->partition;
        snprintf(want, sizeof(want), "key-%d#%d", key, next[key]++);
        if (!field_is(m, 1, want))
            it_die(g_scn, "key-%d p%d@%lld: value differs, want %s", key, m->partition,
                   (long long)m->offset, want);
        if (m->partition >= 0 && m->partition < partitions && !seen[m->partition]++)
            used++;
    }
    return used;
}

static int
sc_keyed(int partitions, int nkeys, const char *suffix, int idempotent)
{
    char t[256];
    msgs_t got = {0};
    int used;

    topic_name(t, sizeof(t), suffix);
    create_topic(t, partitions);
    produce_keyed(t, nkeys, it_conf_new(g_scn, "acks", "all", "linger.ms", "20",
                                        "enable.idempotence",
                                        idempotent ? "true" : "false", NULL));
    read_all(t, partitions, (size_t)g_records, "read_uncommitted", &got);
    used = check_keyed(&got, nkeys, partitions);
    msgs_free(&got);
    return it_finish(g_scn, "%lld records, %d keys over %d partitions, per-key order kept",
                     g_records, nkeys, used);
}

static int
check_headers(const rd_kafka_message_t *m)
{
    static const struct { const char *name; const char *val; size_t len; } want[] = {
        {"h1", "a", 1}, {"h2", "\x00\xff\x7f", 3}, {"h1", "b", 1}, {"empty", "", 0}};
    rd_kafka_headers_t *h = NULL;
    const char *name;
    const void *val;
    size_t len;

    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    if (rd_kafka_header_cnt(h) != 4) return 0;
    for (size_t i = 0; i < 4; i++) {
        if (rd_kafka_header_get_all(h, i, &name, &val, &len)) return 0;
        if (strcmp(name, want[i].name) || len != want[i].len || val == NULL ||
            memcmp(val, want[i].val, len))
            return 0;
    }
    return 1;
}

static int
sc_headers_nulls(void)
{
    char t[256];
    dr_state_t st = {0};
    msgs_t got = {0};
    rd_kafka_t *rk;
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_headers_t *none = NULL;

    topic_name(t, sizeof(t), "hdr");
    create_topic(t, 1);
    rd_kafka_header_add(h, "h1", -1, "a", 1);
    rd_kafka_header_add(h, "h2", -1, "\x00\xff\x7f", 3);
    rd_kafka_header_add(h, "h1", -1, "b", 1);
    rd_kafka_header_add(h, "empty", -1, "", 0);
    rk = producer_new(it_conf_new(g_scn, "acks", "all", NULL), &st);
    send_one(rk, t, 0, NULL, "v0", 2, none);
    send_one(rk, t, 0, "k1", NULL, 0, none);
    send_one(rk, t, 0, NULL, NULL, 0, none);
    send_one(rk, t, 0, "k3", "v3", 2, h);   /* the producer owns h now */
    producer_finish(rk, &st);
    read_all(t, 1, 4, "read_uncommitted", &got);
    it_check(field_is(got.v[0], 0, NULL) && field_is(got.v[0], 1, "v0"), "record 0");
    it_check(field_is(got.v[1], 0, "k1") && field_is(got.v[1], 1, NULL), "record 1");
    it_check(field_is(got.v[2], 0, NULL) && field_is(got.v[2], 1, NULL), "record 2");
    it_check(field_is(got.v[3], 0, "k3") && field_is(got.v[3], 1, "v3"), "record 3");
    it_check(check_headers(got.v[3]), "record 3 headers differ from h1=a h2=00ff7f h1=b empty=''");
    for (int i = 0; i < 3; i++) {
        rd_kafka_headers_t *x = NULL;
        it_check(rd_kafka_message_headers(got.v[i], &x) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                     rd_kafka_header_cnt(x) == 0, "record %d has headers", i);
    }
    msgs_free(&got);
    return it_finish(g_scn, "null key/value stay null, 4 headers in order with duplicate "
                            "and empty value");
}

static int
sc_compression(const char *codec)
{
    char t[256], v[160];
    dr_state_t st = {0};
    msgs_t got = {0};
    rd_kafka_t *rk;
    static const char xs[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

    topic_name(t, sizeof(t), "z");
    create_topic(t, 1);
    rk = producer_new(it_conf_new(g_scn, "acks", "all", "linger.ms", "50",
                                  "compression.codec", codec, NULL), &st);
    for (long long i = 0; i < g_records; i++) {
        snprintf(v, sizeof(v), "value-%lld-%s", i, xs);
        send_one(rk, t, 0, NULL, v, strlen(v), NULL);
    }
    producer_finish(rk, &st);
    read_all(t, 1, (size_t)g_records, "read_uncommitted", &got);
    for (size_t i = 0; i < got.n; i++) {
        snprintf(v, sizeof(v), "value-%zu-%s", i, xs);
        if (!field_is(got.v[i], 1, v)) it_die(g_scn, "record %zu: value differs", i);
    }
    msgs_free(&got);
    return it_finish(g_scn, "%lld %s records read back in order", g_records, codec);
}


/* ---- group_commit ---------------------------------------------------------------- */

static rd_kafka_t *
group_consumer(const char *name, const char *topic)
{
    char group[256];
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);

    snprintf(group, sizeof(group), "%s-g", g_prefix);
    rk = it_handle_new(g_scn, RD_KAFKA_CONSUMER,
                       it_conf_new(g_scn, "group.id", group, "client.id", name,
                                   "enable.auto.commit", "false",
                                   "auto.offset.reset", "earliest",
                                   "session.timeout.ms", "10000",
                                   "heartbeat.interval.ms", "500", NULL));
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, sub)) it_die(g_scn, "subscribe failed");
    rd_kafka_topic_partition_list_destroy(sub);
    return rk;
}

/* polls the consumers round robin until want records in all (or timeout_ms);
 * counts[j] gets consumer j's count; values "r<i>" mark seen[i]; returns the total,
 * or -1 if a record outside [lo, hi) or a duplicate arrived */
static int
poll_range(rd_kafka_t **cs, int n, int want, int timeout_ms, int lo, int hi,
           unsigned char *seen, int *counts)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    int total = 0, bad = 0;

    while (total < want && it_now_ms() < deadline) {
        for (int j = 0; j < n; j++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(cs[j], 100);
            char b[32];
            int r;
            if (m == NULL) continue;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    it_die(g_scn, "consumer %d: %s", j, rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                continue;
            }
            snprintf(b, sizeof(b), "%.*s", (int)(m->len < 31 ? m->len : 31),
                     (const char *)m->payload);
            r = (b[0] == 'r') ? atoi(b + 1) : -1;
            if (r < lo || r >= hi || seen[r]++) bad = 1;
            total++;
            counts[j]++;
            rd_kafka_message_destroy(m);
        }
    }
    return bad ? -1 : total;
}

static void
produce_range(const char *t, int lo, int hi)
{
    dr_state_t st = {0};
    rd_kafka_t *rk = producer_new(it_conf_new(g_scn, "acks", "all", NULL), &st);
    char v[32];

    for (int i = lo; i < hi; i++) {
        snprintf(v, sizeof(v), "r%d", i);
        send_one(rk, t, i % 4, NULL, v, strlen(v), NULL);
    }
    producer_finish(rk, &st);
}

static unsigned
assigned_mask(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    unsigned mask = 0;

    if (rd_kafka_assignment(rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    for (int i = 0; i < a->cnt; i++)
        if (a->elems[i].partition >= 0 && a->elems[i].partition < 32)
            mask |= 1u << a->elems[i].partition;
    rd_kafka_topic_partition_list_destroy(a);
    return mask;
}

static void
commit_sync(rd_kafka_t *rk, const char *who)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        it_die(g_scn, "OffsetCommit by %s: %s", who, rd_kafka_err2str(err));
}

static int
sc_group_commit(void)
{
    char t[256];
    unsigned char seen[448] = {0};
    int counts[2] = {0}, n;
    unsigned ma = 0, mb = 0;
    rd_kafka_t *cs[2];
    int64_t deadline;

    topic_name(t, sizeof(t), "grp");
    create_topic(t, 4);
    produce_range(t, 0, 400);
    cs[0] = group_consumer("A", t);
    n = poll_range(cs, 1, 400, 45000, 0, 400, seen, counts);
    if (n != 400) it_die(g_scn, "step 1: A read %d records, want the 400 produced", n);
    commit_sync(cs[0], "A");
    cs[1] = group_consumer("B", t);
    for (deadline = it_now_ms() + 45000; it_now_ms() < deadline;) {
        if (poll_range(cs, 2, 1, 400, 0, 0, seen, counts) != 0)
            it_die(g_scn, "step 2: committed records delivered again");
        ma = assigned_mask(cs[0]);
        mb = assigned_mask(cs[1]);
        if (ma && mb && !(ma & mb) && (ma | mb) == 0xf) break;
    }
    if (!(ma && mb && !(ma & mb) && (ma | mb) == 0xf))
        it_die(g_scn, "step 2: no rebalance to two members: A %#x, B %#x", ma, mb);
    produce_range(t, 400, 440);
    n = poll_range(cs, 2, 40, 45000, 400, 440, seen, counts);
    if (n != 40) it_die(g_scn, "step 3: A+B read %d records, want exactly r400..r439", n);
    commit_sync(cs[0], "A");
    commit_sync(cs[1], "B");
    rd_kafka_consumer_close(cs[0]);
    rd_kafka_consumer_close(cs[1]);
    rd_kafka_destroy(cs[0]);
    rd_kafka_destroy(cs[1]);
    produce_range(t, 440, 448);
    cs[0] = group_consumer("C", t);
    n = poll_range(cs, 1, 8, 45000, 440, 448, seen, counts);
    if (n == 8) n = poll_range(cs, 1, 1, 1000, 440, 448, seen, counts) == 0 ? 8 : -1;
    rd_kafka_consumer_close(cs[0]);
    rd_kafka_destroy(cs[0]);
    if (n != 8) it_die(g_scn, "step 4: C did not read exactly r440..r447 (%d)", n);
    return it_finish(g_scn, "rebalance A=%#x B=%#x, commits resumed by C", ma, mb);
}

/* ---- transactions ------------------------------------------------------------------ */

static void
txn_check(rd_kafka_error_t *e, const char *what)
{
    if (e == NULL) return;
    it_die(g_scn, "%s: %s", what, rd_kafka_error_string(e));
}

static int
sc_transactions(void)
{
    char t[256], txid[256], v[32];
    dr_state_t st = {0};
    msgs_t got = {0};
    static const char *tags[] = {"c1", "a", "c2"};
    rd_kafka_t *rk;

    topic_name(t, sizeof(t), "txn");
    create_topic(t, 1);
    snprintf(txid, sizeof(txid), "%s-tx", g_prefix);
    rk = producer_new(it_conf_new(g_scn, "transactional.id", txid, NULL), &st);
    txn_check(rd_kafka_init_transactions(rk, 30000), "InitProducerId");
    for (int k = 0; k < 3; k++) {
        txn_check(rd_kafka_begin_transaction(rk), "begin");
        for (int i = 0; i < 10; i++) {
            snprintf(v, sizeof(v), "%s-%d", tags[k], i);
            send_one(rk, t, 0, NULL, v, strlen(v), NULL);
        }
        rd_kafka_flush(rk, 30000);
        if (k == 1) txn_check(rd_kafka_abort_transaction(rk, 30000), "abort (EndTxn)");
        else txn_check(rd_kafka_commit_transaction(rk, 30000), "commit (EndTxn)");
    }
    producer_finish(rk, &st);
    read_all(t, 1, 20, "read_committed", &got);
    for (size_t i = 0; i < got.n; i++) {
        snprintf(v, sizeof(v), "%s-%zu", i < 10 ? "c1" : "c2", i % 10);
        if (!field_is(got.v[i], 1, v))
            it_die(g_scn, "read_committed record %zu is not %s", i, v);
    }
    msgs_free(&got);
    return it_finish(g_scn, "read_committed sees the two committed transactions only, "
                            "in order");
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s <bootstrap> <scenario> <topic-prefix>\n", argv[0]);
        return 2;
    }
    setenv("BOOTSTRAP", argv[1], 1);
    g_scn = argv[2];
    g_prefix = argv[3];
    g_records = it_env_ll("SCN_RECORDS", 1000);
    if (!strcmp(g_scn, "metadata_admin")) return sc_metadata_admin();
    if (!strcmp(g_scn, "produce_consume")) return sc_produce_consume();
    if (!strcmp(g_scn, "keyed_6p")) return sc_keyed(6, 24, "keyed", 0);
    if (!strcmp(g_scn, "headers_nulls")) return sc_headers_nulls();
    if (!strncmp(g_scn, "compression_", 12)) return sc_compression(g_scn + 12);
    if (!strcmp(g_scn, "idempotent")) return sc_keyed(3, 30, "idem", 1);
    if (!strcmp(g_scn, "group_commit")) return sc_group_commit();
    if (!strcmp(g_scn, "transactions")) return sc_transactions();
    it_die(g_scn, "unknown scenario");
}
