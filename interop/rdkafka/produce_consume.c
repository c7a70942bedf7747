/* interop/rdkafka/produce_consume.c: produce N keyed records to a fresh 6-partition
 * topic and read every one of them back, checking content, order and completeness.
 *
 *   produce_consume produce <codec> <topic> <acks-file>
 *   produce_consume verify  <codec> <topic> <acks-file>
 *   produce_consume both    <codec> <topic>
 *
 * env BOOTSTRAP (required), N (record count, default 1,000,000). codec is librdkafka's
 * compression.codec: none, gzip, snappy, lz4, zstd.
 * produce: CreateTopics (6 partitions), then N records, each with a key carrying its
 *   sequence number and the run's base timestamp, a value and two headers derived from
 *   the sequence number, and timestamp base + seq. Every delivery report must succeed;
 *   the (partition, offset) acknowledged for each record is kept (and written to the
 *   acks file, so a broker restart can sit between produce and verify).
 * verify: ListOffsets per partition (start must be 0, end the number of records acked
 *   there), then a consumer assign()s every partition from the beginning and reads to
 *   the end: every record must sit exactly at its acknowledged partition and offset
 *   (so it is read exactly once and per-partition order is the acknowledged order),
 *   with exactly the expected key, value, headers and CreateTime timestamp.
 * Memory: 12 bytes per record for the acks plus one bit for "seen"; expected contents
 * are recomputed from the sequence number, never stored. */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PARTITION_COUNT 6
#define VALUE_LEN_MAX 128
#define KEY_LEN_MAX 48
#define REPORT_MAX 10
#define IDLE_TIMEOUT_MS 60000
static const char ACKS_MAGIC[8] = "SKACKS1";

typedef struct {
    int64_t record_count;
    int64_t base_ts;
    int32_t *partition; /* owned: per seq, acked partition or -1 */
    int64_t *offset;    /* owned: per seq, acked offset or -1 */
    int64_t acked_count;
    int64_t failed_count;
} run_t;

static char test_name[96];

static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t
key_make(char *buf, int64_t seq, int64_t base_ts)
{
    int n = snprintf(buf, KEY_LEN_MAX, "k%09" PRId64 "-%013" PRId64, seq, base_ts);
    int pad = (int)(seq % 5);

    memset(buf + n, 'x', (size_t)pad);
    return (size_t)(n + pad);
}

/* value bytes for seq; returns length, or -1 for a null value (every 1000th record) */
static int
value_make(char *buf, int64_t seq)
{
    uint64_t h = mix64((uint64_t)seq + 1);
    int len = 8 + (int)(h % 100), i;

    if (seq % 1000 == 999) return -1;
    for (i = 0; i < len; i++) {
        if (i % 16 == 0) h = mix64(h);
        buf[i] = (char)('a' + ((h >> (i % 16 * 4)) & 0xf));
    }
    return len;
}

/* header "h.seq" = decimal seq; "h.bin" = 8 bytes of mix64(seq), null every 100th */
static int
header_bin_make(unsigned char *buf, int64_t seq)
{
    uint64_t h = mix64((uint64_t)seq ^ 0x5a5a5a5aULL);
    int i;

    if (seq % 100 == 50) return -1;
    for (i = 0; i < 8; i++) buf[i] = (unsigned char)(h >> (56 - 8 * i));
    return 8;
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    run_t *run = opaque;
    int64_t seq = (int64_t)(uintptr_t)m->_private - 1;

    (void)rk;
    if (seq < 0 || seq >= run->record_count) {
        it_check(0, "delivery report with unknown opaque %" PRId64, seq);
        return;
    }
    if (m->err) {
        if (run->failed_count++ < REPORT_MAX)
            it_note("delivery of seq %" PRId64 " failed: %s", seq, rd_kafka_err2str(m->err));
        return;
    }
    if (!it_check(run->partition[seq] < 0, "second delivery report for seq %" PRId64, seq))
        return;
    if (!it_check(m->offset >= 0 && m->partition >= 0 && m->partition < PARTITION_COUNT,
                  "seq %" PRId64 " acked at bad partition %d offset %" PRId64, seq,
                  (int)m->partition, (int64_t)m->offset))
        return;
    run->partition[seq] = m->partition;
    run->offset[seq] = m->offset;
    run->acked_count++;
}

static int
produce_one(rd_kafka_t *rk, const char *topic, const run_t *run, int64_t seq)
{
    char key[KEY_LEN_MAX], val[VALUE_LEN_MAX], dec[24];
    unsigned char bin[8];
    size_t key_len = key_make(key, seq, run->base_ts);
    int val_len = value_make(val, seq), bin_len = header_bin_make(bin, seq);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2);
    void *val_ptr = val_len < 0 ? NULL : val; /* the V_ macros do not parenthesize */
    size_t val_size = val_len < 0 ? 0 : (size_t)val_len;
    rd_kafka_resp_err_t err;

    snprintf(dec, sizeof(dec), "%" PRId64, seq);
    rd_kafka_header_add(hdrs, "h.seq", -1, dec, -1);
    rd_kafka_header_add(hdrs, "h.bin", -1, bin_len < 0 ? NULL : bin,
                        bin_len < 0 ? 0 : (ssize_t)bin_len);
    for (;;) {
        err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE(val_ptr, val_size),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_TIMESTAMP(run->base_ts + seq),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(seq + 1)), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        rd_kafka_poll(rk, 50);
    }
    if (err) {
        rd_kafka_headers_destroy(hdrs); /* still ours when producev failed */
        it_check(0, "producev seq %" PRId64 ": %s", seq, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int
run_produce(run_t *run, const char *codec, const char *topic)
{
    rd_kafka_conf_t *conf = it_conf_new(test_name, "compression.codec", codec, "acks",
                                        "all", "linger.ms", "5", "message.timeout.ms",
                                        "300000", NULL);
    char errstr[512];
    int64_t seq, t0;
    rd_kafka_t *rk;
    int rc;

    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, run);
    rk = it_handle_new(test_name, RD_KAFKA_PRODUCER, conf);
    rc = it_topic_create(rk, topic, PARTITION_COUNT, 1, 0, errstr, sizeof(errstr));
    if (rc != 0) it_die(test_name, "CreateTopics %s: code %d %s", topic, rc, errstr);
    rc = it_topic_wait(rk, topic, PARTITION_COUNT, 30000);
    if (rc != PARTITION_COUNT)
        it_die(test_name, "metadata for new topic %s: %d partitions, want %d", topic, rc,
               PARTITION_COUNT);
    t0 = it_now_ms();
    for (seq = 0; seq < run->record_count; seq++) {
        if (produce_one(rk, topic, run, seq) != 0) break;
        if (seq % 1000 == 0) rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0 && it_now_ms() - t0 < 600000) rd_kafka_poll(rk, 100);
    it_check(rd_kafka_outq_len(rk) == 0, "%d messages never delivered",
             rd_kafka_outq_len(rk));
    it_check(run->acked_count == run->record_count && run->failed_count == 0,
             "%" PRId64 " of %" PRId64 " acked, %" PRId64 " failed", run->acked_count,
             run->record_count, run->failed_count);
    it_note("produced %" PRId64 " records (%s) in %.1f s", run->acked_count, codec,
            (double)(it_now_ms() - t0) / 1000.0);
    rd_kafka_destroy(rk);
    return 0;
}

static int
acks_write(const run_t *run, const char *path)
{
    FILE *f = fopen(path, "wb");
    size_t n = (size_t)run->record_count;
    int ok;

    if (f == NULL) return -1;
    ok = fwrite(ACKS_MAGIC, 8, 1, f) == 1 && fwrite(&run->record_count, 8, 1, f) == 1 &&
         fwrite(&run->base_ts, 8, 1, f) == 1 &&
         fwrite(run->partition, sizeof(int32_t), n, f) == n &&
         fwrite(run->offset, sizeof(int64_t), n, f) == n;
    if (fclose(f) != 0) ok = 0;
    return ok ? 0 : -1;
}

static int
run_alloc(run_t *run, int64_t record_count)
{
    int64_t i;

    run->record_count = record_count;
    run->partition = malloc(sizeof(int32_t) * (size_t)record_count + 1);
    run->offset = malloc(sizeof(int64_t) * (size_t)record_count + 1);
    if (run->partition == NULL || run->offset == NULL) return -1;
    for (i = 0; i < record_count; i++) {
        run->partition[i] = -1;
        run->offset[i] = -1;
    }
    return 0;
}

static int
acks_read(run_t *run, const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[8];
    int64_t count = 0;
    size_t n;
    int ok = 0;

    if (f == NULL) return -1;
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, ACKS_MAGIC, 8) != 0) goto done;
    if (fread(&count, 8, 1, f) != 1 || count <= 0 || count > ((int64_t)1 << 32)) goto done;
    if (fread(&run->base_ts, 8, 1, f) != 1) goto done;
    if (run_alloc(run, count) != 0) goto done;
    n = (size_t)count;
    ok = fread(run->partition, sizeof(int32_t), n, f) == n &&
         fread(run->offset, sizeof(int64_t), n, f) == n;
    run->acked_count = count;
done:
    fclose(f);
    return ok ? 0 : -1;
}

/* ---- verify ---- */

typedef struct {
    const run_t *run;
    uint8_t *seen;     /* owned: bitmap by seq */
    int64_t seen_count;
    int64_t bad_count; /* records that failed a check */
    int64_t end[PARTITION_COUNT];
    int eof[PARTITION_COUNT];
} verify_t;

static void
bad(verify_t *v, const rd_kafka_message_t *m, const char *what, int64_t seq)
{
    if (v->bad_count++ < REPORT_MAX)
        it_check(0, "p%d@%" PRId64 " seq %" PRId64 ": %s", (int)m->partition,
                 (int64_t)m->offset, seq, what);
    else
        it_failures++;
}

static int
header_is(const rd_kafka_headers_t *hdrs, size_t idx, const char *name,
          const void *val, int val_len)
{
    const char *got_name;
    const void *got_val;
    size_t got_len;

    if (rd_kafka_header_get_all(hdrs, idx, &got_name, &got_val, &got_len)) return 0;
    if (strcmp(got_name, name) != 0) return 0;
    if (val_len < 0) return got_val == NULL;
    return got_val != NULL && got_len == (size_t)val_len &&
           memcmp(got_val, val, got_len) == 0;
}

/* checks value, headers and timestamp of a record whose key parsed to seq */
static void
verify_body(verify_t *v, const rd_kafka_message_t *m, int64_t seq)
{
    char val[VALUE_LEN_MAX], dec[24];
    unsigned char bin[8];
    int val_len = value_make(val, seq), bin_len = header_bin_make(bin, seq);
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_timestamp_type_t ts_type;
    int64_t ts = rd_kafka_message_timestamp(m, &ts_type);

    if (val_len < 0 ? m->payload != NULL
                    : (m->payload == NULL || m->len != (size_t)val_len ||
                       memcmp(m->payload, val, m->len) != 0))
        bad(v, m, "value differs", seq);
    if (ts != v->run->base_ts + seq || ts_type != RD_KAFKA_TIMESTAMP_CREATE_TIME)
        bad(v, m, "timestamp or its type differs", seq);
    snprintf(dec, sizeof(dec), "%" PRId64, seq);
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_cnt(hdrs) != 2 ||
        !header_is(hdrs, 0, "h.seq", dec, (int)strlen(dec)) ||
        !header_is(hdrs, 1, "h.bin", bin, bin_len))
        bad(v, m, "headers differ", seq);
}

static void
verify_record(verify_t *v, const rd_kafka_message_t *m)
{
    const run_t *run = v->run;
    char key[KEY_LEN_MAX + 1];
    long long seq = -1, base = -1;
    int n = 0;

    if (m->key == NULL || m->key_len == 0 || m->key_len > KEY_LEN_MAX) {
        bad(v, m, "missing or oversized key", -1);
        return;
    }
    memcpy(key, m->key, m->key_len);
    key[m->key_len] = '\0';
    if (sscanf(key, "k%9lld-%13lld%n", &seq, &base, &n) != 2 || seq < 0 ||
        seq >= run->record_count || base != run->base_ts) {
        bad(v, m, "key is not one of ours", seq);
        return;
    }
    if (v->seen[seq / 8] & (1u << (seq % 8))) {
        bad(v, m, "record read twice", seq);
        return;
    }
    v->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
    v->seen_count++;
    if (m->key_len != (size_t)n + (size_t)(seq % 5) ||
        run->partition[seq] != m->partition || run->offset[seq] != m->offset) {
        bad(v, m, "key or position differs from the acknowledged one", seq);
        return;
    }
    verify_body(v, m, seq);
}

/* ListOffsets earliest and latest, retried for a while on the errors a client retries
 * (a broker that has just started may not lead its partitions yet) */
static rd_kafka_resp_err_t
watermarks_query(rd_kafka_t *rk, const char *topic, int p, int64_t *lo, int64_t *hi)
{
    int64_t deadline = it_now_ms() + 30000;
    rd_kafka_resp_err_t err;

    for (;;) {
        *lo = *hi = -1;
        err = rd_kafka_query_watermark_offsets(rk, topic, p, lo, hi, 10000);
        if (err != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
            err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
            err != RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE &&
            err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
            err != RD_KAFKA_RESP_ERR__TRANSPORT && err != RD_KAFKA_RESP_ERR__TIMED_OUT)
            return err;
        if (it_now_ms() >= deadline) return err;
        it_note("partition %d: ListOffsets %s, retrying", p, rd_kafka_err2name(err));
        usleep(500 * 1000);
    }
}

/* ListOffsets earliest/latest per partition; fills v->end */
static void
verify_watermarks(verify_t *v, rd_kafka_t *rk, const char *topic)
{
    int64_t want[PARTITION_COUNT] = {0}, lo, hi, seq;
    rd_kafka_resp_err_t err;
    int p;

    for (seq = 0; seq < v->run->record_count; seq++)
        if (v->run->partition[seq] >= 0) want[v->run->partition[seq]]++;
    for (p = 0; p < PARTITION_COUNT; p++) {
        err = watermarks_query(rk, topic, p, &lo, &hi);
        it_check(err == 0 && lo == 0 && hi == want[p],
                 "partition %d: ListOffsets %s start %" PRId64 " end %" PRId64
                 ", want 0 and %" PRId64,
                 p, rd_kafka_err2str(err), lo, hi, want[p]);
        v->end[p] = err ? want[p] : hi;
        v->eof[p] = v->end[p] == 0;
    }
}

static int
all_eof(const verify_t *v)
{
    int p;

    for (p = 0; p < PARTITION_COUNT; p++)
        if (!v->eof[p]) return 0;
    return 1;
}

static void
consume_all(verify_t *v, rd_kafka_t *rk)
{
    int64_t last = it_now_ms();
    rd_kafka_message_t *m;

    while (!all_eof(v) && it_now_ms() - last < IDLE_TIMEOUT_MS) {
        m = rd_kafka_consumer_poll(rk, 500);
        if (m == NULL) continue;
        last = it_now_ms();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < PARTITION_COUNT &&
                m->offset >= v->end[m->partition])
                v->eof[m->partition] = 1;
        } else if (m->err) {
            it_check(0, "consumer error p%d: %s", (int)m->partition,
                     rd_kafka_message_errstr(m));
        } else if (m->partition < 0 || m->partition >= PARTITION_COUNT) {
            it_check(0, "record from unassigned partition %d", (int)m->partition);
        } else {
            verify_record(v, m);
        }
        rd_kafka_message_destroy(m);
    }
    it_check(all_eof(v), "consumer stalled for %d s before reaching the end offsets",
             IDLE_TIMEOUT_MS / 1000);
}

static int
run_verify(const run_t *run, const char *topic)
{
    rd_kafka_conf_t *conf = it_conf_new(
        test_name, "group.id", "skiff-interop-verify", "enable.auto.commit", "false",
        "enable.partition.eof", "true", "auto.offset.reset", "earliest", NULL);
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(6);
    verify_t v = {.run = run};
    int64_t t0 = it_now_ms();
    rd_kafka_t *rk = it_handle_new(test_name, RD_KAFKA_CONSUMER, conf);
    rd_kafka_resp_err_t err;
    int p;

    v.seen = calloc((size_t)run->record_count / 8 + 1, 1);
    if (v.seen == NULL) it_die(test_name, "out of memory");
    p = it_topic_wait(rk, topic, PARTITION_COUNT, 30000);
    it_check(p == PARTITION_COUNT, "metadata: topic %s has %d partitions, want %d", topic,
             p, PARTITION_COUNT);
    verify_watermarks(&v, rk, topic);
    for (p = 0; p < PARTITION_COUNT; p++)
        rd_kafka_topic_partition_list_add(tpl, topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, tpl);
    if (err) it_die(test_name, "assign: %s", rd_kafka_err2str(err));
    consume_all(&v, rk);
    it_check(v.seen_count == run->record_count && v.bad_count == 0,
             "read %" PRId64 " of %" PRId64 " records, %" PRId64 " bad", v.seen_count,
             run->record_count, v.bad_count);
    it_note("verified %" PRId64 " records in %.1f s", v.seen_count,
            (double)(it_now_ms() - t0) / 1000.0);
    rd_kafka_topic_partition_list_destroy(tpl);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(v.seen);
    return 0;
}

int
main(int argc, char **argv)
{
    run_t run = {0};
    const char *mode, *codec, *topic, *acks_path;

    if (argc < 4 || (strcmp(argv[1], "both") != 0 && argc < 5)) {
        fprintf(stderr, "usage: %s produce|verify|both <codec> <topic> [acks-file]\n",
                argv[0]);
        return 2;
    }
    mode = argv[1], codec = argv[2], topic = argv[3];
    acks_path = argc > 4 ? argv[4] : NULL;
    snprintf(test_name, sizeof(test_name), "produce_consume[%s,%s]", codec, mode);
    if (strcmp(mode, "verify") == 0) {
        if (acks_read(&run, acks_path) != 0)
            it_die(test_name, "cannot read acks file %s", acks_path);
    } else if (strcmp(mode, "produce") == 0 || strcmp(mode, "both") == 0) {
        if (run_alloc(&run, it_env_ll("N", 1000000)) != 0 || run.record_count <= 0)
            it_die(test_name, "bad N or out of memory");
        run.base_ts = it_now_ms() - 3600 * 1000; /* recent: inside any retention */
        run_produce(&run, codec, topic);
        if (acks_path && acks_write(&run, acks_path) != 0)
            it_die(test_name, "cannot write acks file %s", acks_path);
    } else {
        it_die(test_name, "unknown mode %s", mode);
    }
    if (strcmp(mode, "produce") != 0 && it_failures == 0) run_verify(&run, topic);
    free(run.partition);
    free(run.offset);
    return it_finish(test_name, "%" PRId64 " records, topic %s", run.record_count, topic);
}
