/* tests/unit/test_protocol_captures.c: decode byte-for-byte captures of real client
 * requests (tests/corpus/captures/<client>-<api_key>-v<version>-<n>.bin, recorded with
 * tools/capture_proxy.py from kcat 1.7, librdkafka 2.0.2, kafka-python 2.0.2 and the Java
 * client 4.1.1 through Kafka's own command-line tools). Every
 * capture must decode with the generated codec, consume exactly its bytes, and encode
 * back to the identical bytes; a few are checked field by field against what the client
 * was told to send (topic names, keys, headers, codecs). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "protocol/protocol.h"

#define CAPTURE_DIR SK_TEST_DATA_DIR "/corpus/captures"

typedef struct capture {
    uint8_t *bytes;
    size_t len;
    sk_arena_t arena;
    sk_RequestHeader_t hdr;
    const sk_api_desc_t *desc;
    void *body;
    size_t body_pos;
} capture_t;

static void
capture_load(const char *name, capture_t *c)
{
    char path[512];
    char *buf = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", CAPTURE_DIR, name);
    assert_int_equal(sk_read_file(path, 16u << 20, &buf, &len), SK_OK);
    c->bytes = (uint8_t *)buf;
    c->len = len;
    sk_arena_init(&c->arena, 64u << 20);
}

static void
capture_free(capture_t *c)
{
    sk_arena_deinit(&c->arena);
    free(c->bytes);
}

/* Decode header + body; returns the header version. */
static int16_t
capture_decode(capture_t *c)
{
    sk_rd_t rd;
    int16_t key, ver, hv;
    assert_true(c->len >= 4);
    key = (int16_t)sk_be16(c->bytes);
    ver = (int16_t)sk_be16(c->bytes + 2);
    c->desc = sk_api_desc(key);
    assert_non_null(c->desc);
    hv = sk_api_request_header_version(key, ver);
    sk_rd_init(&rd, c->bytes, c->len);
    assert_int_equal(sk_RequestHeader_decode(&rd, hv, &c->arena, &c->hdr), SK_OK);
    assert_int_equal(c->hdr.request_api_key, key);
    assert_int_equal(c->hdr.request_api_version, ver);
    c->body_pos = rd.pos;
    c->body = sk_arena_alloc(&c->arena, c->desc->request_size);
    assert_non_null(c->body);
    assert_int_equal(c->desc->decode_request(&rd, ver, &c->arena, c->body), SK_OK);
    assert_int_equal(sk_rd_left(&rd), 0);
    return hv;
}

static void
test_every_capture_round_trips(void **state)
{
    DIR *d = opendir(CAPTURE_DIR);
    struct dirent *e;
    int count = 0;
    (void)state;
    assert_non_null(d);
    while ((e = readdir(d))) {
        capture_t c = {0};
        sk_wr_t w;
        uint8_t *flat = NULL;
        size_t flat_len = 0;
        if (!strstr(e->d_name, ".bin")) continue;
        capture_load(e->d_name, &c);
        int16_t hv = capture_decode(&c);
        sk_wr_init(&w, 0);
        assert_int_equal(sk_RequestHeader_encode(&w, hv, &c.hdr), SK_OK);
        assert_int_equal(c.desc->encode_request(&w, c.hdr.request_api_version, c.body), SK_OK);
        assert_int_equal(sk_wr_flatten(&w, &flat, &flat_len), SK_OK);
        if (flat_len != c.len || memcmp(flat, c.bytes, c.len) != 0) fail_msg("re-encoding %s differs", e->d_name);
        free(flat);
        sk_wr_deinit(&w);
        capture_free(&c);
        count++;
    }
    closedir(d);
    assert_true(count >= 60);
}

typedef struct rec_seen {
    int count;
    char keys[8][16];
    char values[8][16];
    char header0[32];
} rec_seen_t;

static int
collect(void *ctx, const sk_record_t *r)
{
    rec_seen_t *s = ctx;
    if (s->count >= 8) return SK_ELIMIT;
    snprintf(s->keys[s->count], 16, "%.*s", r->key.len, (const char *)r->key.ptr);
    snprintf(s->values[s->count], 16, "%.*s", r->value.len, (const char *)r->value.ptr);
    if (s->count == 0 && r->header_count > 0) {
        sk_header_t h[4];
        int n = sk_record_headers(r, h, 4);
        assert_true(n >= 1);
        snprintf(s->header0, sizeof(s->header0), "%.*s=%.*s", h[0].key.len, (const char *)h[0].key.ptr,
                 h[0].value.len, (const char *)h[0].value.ptr);
    }
    s->count++;
    return SK_OK;
}

/* kcat -P -t cap-kcat -K: -H h1=x -z gzip with input "k1:v1\nk2:v2" (librdkafka sends
 * a batch this small uncompressed: gzip would make it larger). */
static void
test_kcat_produce_v7(void **state)
{
    capture_t c = {0};
    sk_batch_check_t chk = {.max_batch_bytes = 1 << 20, .max_decompressed_bytes = 1 << 20, .produce_version = 7};
    sk_batch_info_t info;
    rec_seen_t seen = {0};
    int16_t kerr = 0;
    (void)state;
    capture_load("kcat-0-v7-0.bin", &c);
    capture_decode(&c);
    sk_ProduceRequest_t *p = c.body;
    assert_true(sk_str_eq(c.hdr.client_id, "rdkafka"));
    assert_int_equal(p->topic_data_count, 1);
    assert_true(sk_str_eq(p->topic_data[0].name, "cap-kcat"));
    assert_int_equal(p->topic_data[0].partition_data_count, 1);
    const sk_records_t *recs = &p->topic_data[0].partition_data[0].records;
    assert_int_equal(sk_batch_validate(recs->ptr, (size_t)recs->len, &chk, &info, &kerr), SK_OK);
    assert_int_equal(info.codec, SK_CODEC_NONE);
    assert_int_equal(info.record_count, 1); /* kcat sent each line in its own request */
    assert_int_equal(sk_batch_foreach_record(recs->ptr, (size_t)recs->len, 1 << 20, collect, &seen), SK_OK);
    assert_int_equal(seen.count, 1);
    assert_string_equal(seen.keys[0], "k1");
    assert_string_equal(seen.values[0], "v1");
    assert_string_equal(seen.header0, "h1=x");
    capture_free(&c);
}

/* interop/rdkafka/produce_consume with compression.codec=zstd, 2,000 records. */
static void
test_rdkafka_produce_zstd(void **state)
{
    capture_t c = {0};
    sk_batch_check_t chk = {.max_batch_bytes = 1 << 20, .max_decompressed_bytes = 16 << 20, .produce_version = 7};
    sk_batch_info_t info;
    int16_t kerr = 0;
    int zstd = 0;
    (void)state;
    capture_load("rdkafka-0-v7-0.bin", &c);
    capture_decode(&c);
    sk_ProduceRequest_t *p = c.body;
    assert_true(p->acks == -1 || p->acks == 1);
    for (int32_t i = 0; i < p->topic_data_count; i++) {
        assert_true(sk_str_eq(p->topic_data[i].name, "cap-rdk"));
        for (int32_t j = 0; j < p->topic_data[i].partition_data_count; j++) {
            const sk_records_t *recs = &p->topic_data[i].partition_data[j].records;
            assert_int_equal(sk_batch_validate(recs->ptr, (size_t)recs->len, &chk, &info, &kerr), SK_OK);
            zstd += info.codec == SK_CODEC_ZSTD;
        }
    }
    assert_true(zstd > 0);
    capture_free(&c);
}

/* librdkafka opens every connection with ApiVersions v3 naming itself. */
static void
test_rdkafka_api_versions_v3(void **state)
{
    capture_t c = {0};
    (void)state;
    capture_load("rdkafka-18-v3-0.bin", &c);
    assert_int_equal(capture_decode(&c), 2);
    sk_ApiVersionsRequest_t *a = c.body;
    assert_true(sk_str_eq(a->client_software_name, "librdkafka"));
    assert_true(a->client_software_version.len > 0);
    capture_free(&c);
}

/* kafka-python 2.0.2 sends fixed old versions: ApiVersions v0, Metadata v1, Fetch v4. */
static void
test_kafka_python_fixed_versions(void **state)
{
    capture_t c = {0};
    (void)state;
    capture_load("kafkapython-3-v1-0.bin", &c);
    capture_decode(&c);
    sk_MetadataRequest_t *m = c.body;
    assert_true(m->topics_count == -1 || m->topics_count >= 0);
    capture_free(&c);

    memset(&c, 0, sizeof(c));
    capture_load("kafkapython-1-v4-0.bin", &c);
    capture_decode(&c);
    sk_FetchRequest_t *f = c.body;
    assert_int_equal(f->replica_id, -1);
    assert_true(f->topics_count >= 1);
    assert_true(f->topics[0].topic.len > 0);
    capture_free(&c);
}

/* Java 4.1 kafka-topics --describe --partition-size-limit-per-response 2 of a
 * 3-partition topic: the first page with a null cursor (marker byte -1), the second
 * with the cursor the first answer gave (marker 1, then the struct). */
static void
test_java_describe_topic_partitions_cursor(void **state)
{
    capture_t c = {0};
    (void)state;
    capture_load("java-75-v0-0.bin", &c);
    assert_int_equal(capture_decode(&c), 2);
    sk_DescribeTopicPartitionsRequest_t *d = c.body;
    assert_int_equal(d->topics_count, 1);
    assert_true(sk_str_eq(d->topics[0].name, "za"));
    assert_int_equal(d->response_partition_limit, 2);
    assert_true(d->cursor_null);
    capture_free(&c);

    memset(&c, 0, sizeof(c));
    capture_load("java-75-v0-1.bin", &c);
    capture_decode(&c);
    d = c.body;
    assert_false(d->cursor_null);
    assert_true(sk_str_eq(d->cursor.topic_name, "za"));
    assert_int_equal(d->cursor.partition_index, 2);
    capture_free(&c);
}

/* Java 4.1 console producer (acks=1, lz4, idempotence off) and consumer (assign). */
static void
test_java_produce_fetch(void **state)
{
    capture_t c = {0};
    sk_batch_check_t chk = {.max_batch_bytes = 1 << 20, .max_decompressed_bytes = 1 << 20, .produce_version = 12};
    sk_batch_info_t info;
    int16_t kerr = 0;
    (void)state;
    capture_load("java-0-v12-0.bin", &c);
    assert_int_equal(capture_decode(&c), 2);
    sk_ProduceRequest_t *p = c.body;
    assert_int_equal(p->acks, 1);
    assert_int_equal(p->transactional_id.len, -1);
    assert_true(sk_str_eq(p->topic_data[0].name, "jcap"));
    const sk_records_t *recs = &p->topic_data[0].partition_data[0].records;
    assert_int_equal(sk_batch_validate(recs->ptr, (size_t)recs->len, &chk, &info, &kerr), SK_OK);
    assert_true(info.record_count >= 1);
    capture_free(&c);

    /* Fetch v17 names topics by id only. */
    memset(&c, 0, sizeof(c));
    capture_load("java-1-v17-0.bin", &c);
    capture_decode(&c);
    sk_FetchRequest_t *f = c.body;
    assert_true(f->topics_count >= 1);
    assert_false(sk_uuid_is_zero(&f->topics[0].topic_id));
    assert_int_equal(f->topics[0].topic.len, 0); /* absent in v13+: default "" */
    capture_free(&c);

    memset(&c, 0, sizeof(c));
    capture_load("java-18-v4-0.bin", &c);
    capture_decode(&c);
    sk_ApiVersionsRequest_t *a = c.body;
    assert_true(sk_str_eq(a->client_software_name, "apache-kafka-java"));
    capture_free(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_capture_round_trips),
        cmocka_unit_test(test_kcat_produce_v7),
        cmocka_unit_test(test_rdkafka_produce_zstd),
        cmocka_unit_test(test_rdkafka_api_versions_v3),
        cmocka_unit_test(test_kafka_python_fixed_versions),
        cmocka_unit_test(test_java_produce_fetch),
        cmocka_unit_test(test_java_describe_topic_partitions_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
