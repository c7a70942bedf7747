/* tests/unit/test_protocol_msgs.c: decodes byte vectors written by hand from the Kafka
 * protocol specification (not produced by our encoder) and checks every decoded field:
 * header v1/v2 framing, non-flexible and flexible (compact) strings and arrays, nullable
 * arrays, known and unknown tagged fields, zero-copy record data, and the errors for
 * truncated or absurd input. The round-trip property test lives in tests/prop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol/protocol.h"

static sk_arena_t g_arena;

static int
setup(void **state)
{
    (void)state;
    sk_arena_init(&g_arena, 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    sk_arena_deinit(&g_arena);
    return 0;
}

static void
assert_str(sk_str_t s, const char *want)
{
    assert_true(s.len >= 0);
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

/* ApiVersions v3 request as librdkafka sends it: header v2 (client_id keeps its int16
 * length even though the header is flexible), then compact strings and a tagged-field
 * section holding one tag this version does not know. */
static void
test_api_versions_v3_request(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x12,             /* api key 18 */
        0x00, 0x03,             /* api version 3 */
        0x00, 0x00, 0x00, 0x2a, /* correlation id 42 */
        0x00, 0x07, 'r', 'd', 'k', 'a', 'f', 'k', 'a', /* client_id, int16 length */
        0x00,                   /* header tagged fields: none */
        0x0b, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a', /* compact: len+1 = 11 */
        0x06, '2', '.', '0', '.', '2',
        0x01,                   /* one tagged field */
        0x05, 0x02, 'a', 'b',   /* tag 5, 2 bytes: unknown, skipped */
    };
    sk_rd_t rd;
    sk_RequestHeader_t h;
    sk_ApiVersionsRequest_t req;

    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_RequestHeader_decode(&rd, 2, &g_arena, &h), SK_OK);
    assert_int_equal(h.request_api_key, SK_API_API_VERSIONS);
    assert_int_equal(h.request_api_version, 3);
    assert_int_equal(h.correlation_id, 42);
    assert_str(h.client_id, "rdkafka");
    assert_int_equal(sk_api_request_header_version(h.request_api_key, h.request_api_version), 2);
    assert_int_equal(sk_ApiVersionsRequest_decode(&rd, 3, &g_arena, &req), SK_OK);
    assert_str(req.client_software_name, "librdkafka");
    assert_str(req.client_software_version, "2.0.2");
    assert_int_equal(sk_rd_left(&rd), 0);
    /* the same body read as v2 (no fields) consumes nothing */
    sk_rd_init(&rd, b + 18, sizeof(b) - 18);
    assert_int_equal(sk_ApiVersionsRequest_decode(&rd, 2, &g_arena, &req), SK_OK);
    assert_int_equal(rd.pos, 0);
    assert_int_equal(req.client_software_name.len, 0);
}

/* ApiVersions v3 response with two known tagged fields (FinalizedFeaturesEpoch tag 1,
 * ZkMigrationReady tag 3); the response header is v0 even though v3 is flexible. */
static void
test_api_versions_v3_response_tags(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x00,                         /* error code */
        0x02,                               /* compact array: 1 entry */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x04, 0x00, /* {18, 0, 4}, no tags */
        0x00, 0x00, 0x00, 0x64,             /* throttle 100 */
        0x02,                               /* two tagged fields */
        0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x07, /* tag 1: int64 7 */
        0x03, 0x01, 0x01,                   /* tag 3: true */
    };
    sk_rd_t rd;
    sk_ApiVersionsResponse_t rsp;

    assert_int_equal(sk_api_response_header_version(SK_API_API_VERSIONS, 3), 0);
    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_ApiVersionsResponse_decode(&rd, 3, &g_arena, &rsp), SK_OK);
    assert_int_equal(rsp.error_code, 0);
    assert_int_equal(rsp.api_keys_count, 1);
    assert_int_equal(rsp.api_keys[0].api_key, 18);
    assert_int_equal(rsp.api_keys[0].min_version, 0);
    assert_int_equal(rsp.api_keys[0].max_version, 4);
    assert_int_equal(rsp.throttle_time_ms, 100);
    assert_int_equal(rsp.finalized_features_epoch, 7);
    assert_true(rsp.zk_migration_ready);
    assert_int_equal(rsp.supported_features_count, 0);
    assert_int_equal(rsp.finalized_features_count, 0);
    assert_int_equal(sk_rd_left(&rd), 0);
}

/* The KIP-511 downgrade answer: v0 body with error 35 and only the ApiVersions range. */
static void
test_api_versions_v0_response(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x23,             /* UNSUPPORTED_VERSION */
        0x00, 0x00, 0x00, 0x01, /* int32 array count */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x04,
    };
    sk_rd_t rd;
    sk_ApiVersionsResponse_t rsp;

    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_ApiVersionsResponse_decode(&rd, 0, &g_arena, &rsp), SK_OK);
    assert_int_equal(rsp.error_code, SK_KERR_UNSUPPORTED_VERSION);
    assert_int_equal(rsp.api_keys_count, 1);
    assert_int_equal(rsp.api_keys[0].max_version, 4);
    assert_int_equal(rsp.throttle_time_ms, 0);          /* absent in v0: default */
    assert_int_equal(rsp.finalized_features_epoch, -1); /* absent: default -1 */
    assert_int_equal(sk_rd_left(&rd), 0);
}

/* Metadata v1: a null topic array (int32 -1) means "all topics"; v0 has no null. */
static void
test_metadata_v1_null_topics(void **state)
{
    (void)state;
    static const uint8_t b[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t absurd[] = {0x7f, 0xff, 0xff, 0xff, 0x00, 0x01};
    sk_rd_t rd;
    sk_MetadataRequest_t req;

    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_MetadataRequest_decode(&rd, 1, &g_arena, &req), SK_OK);
    assert_int_equal(req.topics_count, -1);
    assert_null(req.topics);
    assert_true(req.allow_auto_topic_creation); /* absent before v4: default true */
    assert_false(req.include_topic_authorized_operations);
    assert_int_equal(sk_rd_left(&rd), 0);

    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_MetadataRequest_decode(&rd, 0, &g_arena, &req), SK_ECORRUPT);
    /* a count far beyond the bytes present fails before allocating */
    size_t used = g_arena.used_bytes;
    sk_rd_init(&rd, absurd, sizeof(absurd));
    assert_int_equal(sk_MetadataRequest_decode(&rd, 1, &g_arena, &req), SK_ECORRUPT);
    assert_int_equal(g_arena.used_bytes, used);
}

/* Produce v7 as kafka-python 2.0.2 sends it: header v1 and a non-flexible body whose
 * record data must stay a slice of the input. */
static void
test_produce_v7_request(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x00, 0x00, 0x07, /* Produce v7 */
        0x00, 0x00, 0x01, 0x00, /* correlation id 256 */
        0x00, 0x03, 'c', 'l', 'i',
        /* body */
        0xff, 0xff,             /* transactional_id null */
        0xff, 0xff,             /* acks -1 */
        0x00, 0x00, 0x75, 0x30, /* timeout 30000 */
        0x00, 0x00, 0x00, 0x01, /* 1 topic */
        0x00, 0x03, 'f', 'o', 'o',
        0x00, 0x00, 0x00, 0x01, /* 1 partition */
        0x00, 0x00, 0x00, 0x02, /* index 2 */
        0x00, 0x00, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x01, /* records, 5 bytes */
    };
    sk_rd_t rd;
    sk_RequestHeader_t h;
    sk_ProduceRequest_t req;

    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_api_request_header_version(SK_API_PRODUCE, 7), 1);
    assert_int_equal(sk_RequestHeader_decode(&rd, 1, &g_arena, &h), SK_OK);
    assert_int_equal(h.request_api_key, SK_API_PRODUCE);
    assert_int_equal(h.request_api_version, 7);
    assert_int_equal(h.correlation_id, 256);
    assert_str(h.client_id, "cli");
    assert_int_equal(sk_ProduceRequest_decode(&rd, h.request_api_version, &g_arena, &req), SK_OK);
    assert_int_equal(req.transactional_id.len, -1);
    assert_int_equal(req.acks, -1);
    assert_int_equal(req.timeout_ms, 30000);
    assert_int_equal(req.topic_data_count, 1);
    assert_str(req.topic_data[0].name, "foo");
    assert_int_equal(req.topic_data[0].partition_data_count, 1);
    const sk_ProduceRequest_PartitionProduceData_t *p = &req.topic_data[0].partition_data[0];
    assert_int_equal(p->index, 2);
    assert_int_equal(p->records.len, 5);
    assert_ptr_equal(p->records.ptr, b + sizeof(b) - 5); /* zero copy */
    assert_null(p->records.file);
    assert_int_equal(sk_rd_left(&rd), 0);

    /* every truncation of the body is SK_ECORRUPT */
    for (size_t n = 13; n < sizeof(b); n++) {
        sk_rd_init(&rd, b + 13, n - 13);
        assert_int_equal(sk_ProduceRequest_decode(&rd, 7, &g_arena, &req), SK_ECORRUPT);
    }
    /* Produce v13 does not exist for us */
    sk_rd_init(&rd, b + 13, sizeof(b) - 13);
    assert_int_equal(sk_ProduceRequest_decode(&rd, 13, &g_arena, &req), SK_EUNSUP);
}

/* Metadata v12 response: flexible, compact arrays and strings, nullable compact
 * strings (0 = null), per-struct empty tagged sections. */
static void
test_metadata_v12_response(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x00, 0x00, 0x00,                   /* throttle */
        0x02,                                     /* brokers: 1 */
        0x00, 0x00, 0x00, 0x01,                   /*   node 1 */
        0x02, 'h',                                /*   host "h" */
        0x00, 0x00, 0x23, 0x84,                   /*   port 9092 */
        0x00,                                     /*   rack null */
        0x00,                                     /*   tags */
        0x03, 'c', '1',                           /* cluster id "c1" */
        0x00, 0x00, 0x00, 0x01,                   /* controller 1 */
        0x02,                                     /* topics: 1 */
        0x00, 0x03,                               /*   error 3 */
        0x02, 't',                                /*   name "t" */
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, /* topic id */
        0x01,                                     /*   internal */
        0x02,                                     /*   partitions: 1 */
        0x00, 0x00,                               /*     error */
        0x00, 0x00, 0x00, 0x04,                   /*     index 4 */
        0x00, 0x00, 0x00, 0x01,                   /*     leader 1 */
        0x00, 0x00, 0x00, 0x05,                   /*     epoch 5 */
        0x03, 0, 0, 0, 1, 0, 0, 0, 2,             /*     replicas [1,2] */
        0x02, 0, 0, 0, 1,                         /*     isr [1] */
        0x01,                                     /*     offline [] */
        0x00,                                     /*     tags */
        0x80, 0x00, 0x00, 0x00,                   /*   authorized ops INT32_MIN */
        0x00,                                     /*   tags */
        0x00,                                     /* tags */
    };
    sk_rd_t rd;
    sk_MetadataResponse_t rsp;

    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_MetadataResponse_decode(&rd, 12, &g_arena, &rsp), SK_OK);
    assert_int_equal(sk_rd_left(&rd), 0);
    assert_int_equal(rsp.throttle_time_ms, 0);
    assert_int_equal(rsp.brokers_count, 1);
    assert_int_equal(rsp.brokers[0].node_id, 1);
    assert_str(rsp.brokers[0].host, "h");
    assert_int_equal(rsp.brokers[0].port, 9092);
    assert_int_equal(rsp.brokers[0].rack.len, -1);
    assert_str(rsp.cluster_id, "c1");
    assert_int_equal(rsp.controller_id, 1);
    assert_int_equal(rsp.topics_count, 1);
    const sk_MetadataResponse_MetadataResponseTopic_t *t = &rsp.topics[0];
    assert_int_equal(t->error_code, SK_KERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_str(t->name, "t");
    for (int i = 0; i < 16; i++) assert_int_equal(t->topic_id.b[i], i);
    assert_true(t->is_internal);
    assert_int_equal(t->partitions_count, 1);
    assert_int_equal(t->partitions[0].partition_index, 4);
    assert_int_equal(t->partitions[0].leader_id, 1);
    assert_int_equal(t->partitions[0].leader_epoch, 5);
    assert_int_equal(t->partitions[0].replica_nodes_count, 2);
    assert_int_equal(t->partitions[0].replica_nodes[0], 1);
    assert_int_equal(t->partitions[0].replica_nodes[1], 2);
    assert_int_equal(t->partitions[0].isr_nodes_count, 1);
    assert_int_equal(t->partitions[0].isr_nodes[0], 1);
    assert_int_equal(t->partitions[0].offline_replicas_count, 0);
    assert_int_equal(t->topic_authorized_operations, INT32_MIN);
    assert_int_equal(rsp.cluster_authorized_operations, INT32_MIN); /* v8-10 only: default */
    assert_int_equal(rsp.error_code, 0);                            /* v13+: default */
    assert_int_equal(sk_api_response_header_version(SK_API_METADATA, 12), 1);
    assert_int_equal(sk_api_response_header_version(SK_API_METADATA, 8), 0);
}

/* A tagged field whose size runs past the end, and a compact string longer than the
 * input, are SK_ECORRUPT. */
static void
test_bad_lengths(void **state)
{
    (void)state;
    static const uint8_t tag_overrun[] = {0x02, 'x', 0x02, 'y', 0x01, 0x07, 0x09, 0x00}; /* tag 7, 9 bytes, 1 present */
    static const uint8_t str_overrun[] = {0x10, 'a', 'b'};
    sk_rd_t rd;
    sk_ApiVersionsRequest_t req;

    sk_rd_init(&rd, tag_overrun, sizeof(tag_overrun));
    assert_int_equal(sk_ApiVersionsRequest_decode(&rd, 3, &g_arena, &req), SK_ECORRUPT);
    sk_rd_init(&rd, str_overrun, sizeof(str_overrun));
    assert_int_equal(sk_ApiVersionsRequest_decode(&rd, 4, &g_arena, &req), SK_ECORRUPT);
}

/* Fetch v4 request (kafka-python 2.0.2): replica id, isolation level, no sessions. */
static void
test_fetch_v4_request(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0xff, 0xff, 0xff, 0xff, /* replica id -1 */
        0x00, 0x00, 0x01, 0xf4, /* max wait 500 */
        0x00, 0x00, 0x00, 0x01, /* min bytes 1 */
        0x03, 0x20, 0x00, 0x00, /* max bytes 52428800 */
        0x01,                   /* read_committed */
        0x00, 0x00, 0x00, 0x01, /* 1 topic */
        0x00, 0x02, 't', '1',
        0x00, 0x00, 0x00, 0x01, /* 1 partition */
        0x00, 0x00, 0x00, 0x03, /* partition 3 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, /* fetch offset 256 */
        0x00, 0x10, 0x00, 0x00, /* partition max bytes 1 MiB */
    };
    sk_rd_t rd;
    sk_FetchRequest_t req;

    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_FetchRequest_decode(&rd, 4, &g_arena, &req), SK_OK);
    assert_int_equal(sk_rd_left(&rd), 0);
    assert_int_equal(req.replica_id, -1);
    assert_int_equal(req.max_wait_ms, 500);
    assert_int_equal(req.min_bytes, 1);
    assert_int_equal(req.max_bytes, 52428800);
    assert_int_equal(req.isolation_level, 1);
    assert_int_equal(req.session_id, 0);     /* v7+: default */
    assert_int_equal(req.session_epoch, -1); /* v7+: default */
    assert_int_equal(req.cluster_id.len, -1);
    assert_int_equal(req.topics_count, 1);
    assert_str(req.topics[0].topic, "t1");
    assert_int_equal(req.topics[0].partitions_count, 1);
    assert_int_equal(req.topics[0].partitions[0].partition, 3);
    assert_int_equal(req.topics[0].partitions[0].current_leader_epoch, -1);
    assert_int_equal(req.topics[0].partitions[0].fetch_offset, 256);
    assert_int_equal(req.topics[0].partitions[0].log_start_offset, -1);
    assert_int_equal(req.topics[0].partitions[0].partition_max_bytes, 1048576);
    assert_int_equal(req.forgotten_topics_data_count, 0);
    assert_int_equal(req.rack_id.len, 0);
}

/* JoinGroup v5 request: nullable group instance id (null), protocols with bytes. */
static void
test_join_group_v5_request(void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x01, 'g',
        0x00, 0x00, 0x27, 0x10, /* session timeout 10000 */
        0x00, 0x04, 0x93, 0xe0, /* rebalance timeout 300000 */
        0x00, 0x00,             /* member id "" */
        0xff, 0xff,             /* group instance id null */
        0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
        0x00, 0x00, 0x00, 0x01,
        0x00, 0x05, 'r', 'a', 'n', 'g', 'e',
        0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x02, /* metadata bytes */
    };
    sk_rd_t rd;
    sk_JoinGroupRequest_t req;

    sk_rd_init(&rd, b, sizeof(b));
    assert_int_equal(sk_JoinGroupRequest_decode(&rd, 5, &g_arena, &req), SK_OK);
    assert_int_equal(sk_rd_left(&rd), 0);
    assert_str(req.group_id, "g");
    assert_int_equal(req.session_timeout_ms, 10000);
    assert_int_equal(req.rebalance_timeout_ms, 300000);
    assert_int_equal(req.member_id.len, 0);
    assert_int_equal(req.group_instance_id.len, -1);
    assert_str(req.protocol_type, "consumer");
    assert_int_equal(req.protocols_count, 1);
    assert_str(req.protocols[0].name, "range");
    assert_int_equal(req.protocols[0].metadata.len, 3);
    assert_int_equal(req.protocols[0].metadata.ptr[2], 0x02);
    assert_int_equal(req.reason.len, -1); /* v8+: default null */
}

/* Encoding records from a file range: the length goes to memory, the bytes stay a file
 * part of the writer (sendfile), and flattening reads them back. */
static void
test_records_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sk_msgs_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, "xxHELLOyy", 9), 9);
    sk_fref_t *file = sk_fref_new(fd);
    assert_non_null(file);

    sk_FetchResponse_t rsp;
    sk_FetchResponse_FetchableTopicResponse_t topic;
    sk_FetchResponse_PartitionData_t part;
    sk_FetchResponse_init(&rsp);
    sk_FetchResponse_FetchableTopicResponse_init(&topic);
    sk_FetchResponse_PartitionData_init(&part);
    part.records = (sk_records_t){NULL, 5, file, 2};
    topic.topic = sk_str_c("t");
    topic.partitions = &part;
    topic.partitions_count = 1;
    rsp.responses = &topic;
    rsp.responses_count = 1;

    sk_wr_t wr;
    sk_wr_init(&wr, 0);
    assert_int_equal(sk_FetchResponse_encode(&wr, 11, &rsp), SK_OK);
    assert_int_equal(wr.total_bytes, wr.len + 5);
    sk_fref_put(file); /* the writer holds its own ref */
    uint8_t *flat = NULL;
    size_t flat_len = 0;
    assert_int_equal(sk_wr_flatten(&wr, &flat, &flat_len), SK_OK);
    sk_wr_deinit(&wr);

    sk_rd_t rd;
    sk_FetchResponse_t back;
    sk_rd_init(&rd, flat, flat_len);
    assert_int_equal(sk_FetchResponse_decode(&rd, 11, &g_arena, &back), SK_OK);
    assert_int_equal(sk_rd_left(&rd), 0);
    assert_int_equal(back.responses[0].partitions[0].records.len, 5);
    assert_memory_equal(back.responses[0].partitions[0].records.ptr, "HELLO", 5);
    free(flat);
}

/* The API table: keys sorted, versions as specified, lookups by key. */
static void
test_api_table(void **state)
{
    (void)state;
    for (size_t i = 1; i < sk_api_desc_count; i++) assert_true(sk_api_descs[i - 1].key < sk_api_descs[i].key);
    const sk_api_desc_t *d = sk_api_desc(SK_API_FETCH);
    assert_non_null(d);
    assert_string_equal(d->name, "Fetch");
    assert_int_equal(d->min_version, 0);
    assert_int_equal(d->max_version, 17);
    assert_int_equal(d->first_flexible, 12);
    assert_int_equal(d->request_size, sizeof(sk_FetchRequest_t));
    d = sk_api_desc(SK_API_DESCRIBE_CLUSTER);
    assert_non_null(d);
    assert_int_equal(d->first_flexible, 0);
    assert_int_equal(sk_api_request_header_version(SK_API_DESCRIBE_CLUSTER, 0), 2);
    assert_int_equal(SK_API_PRODUCE, 0);
    assert_int_equal(SK_API_LIST_OFFSETS, 2);
    assert_int_equal(SK_API_CREATE_TOPICS, 19);
    assert_int_equal(SK_API_DELETE_TOPICS, 20);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_versions_v3_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_versions_v3_response_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_versions_v0_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_v1_null_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_produce_v7_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_v12_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_v4_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_group_v5_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_from_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
