/* protocol/protocol.h: the public surface of src/protocol. Knows nothing of the other
 * modules. Three parts:
 *   1. Kafka error codes (response data, never C return values).
 *   2. Record batches: magic 2 header parsing, validation on produce, record iteration,
 *      building batches; legacy magic 0/1 message sets converted to magic 2; and the
 *      compression codecs (gzip, snappy raw + xerial framing, lz4 frame, zstd).
 *   3. The generated message codecs (protocol/msgs.h in the build directory, written by
 *      tools/gen_protocol.py from src/protocol/defs/ files): one C struct per request and
 *      response with decode/encode per version, and the API version table that
 *      ApiVersions answers from.
 * Formats: docs/protocol.md and docs/record-format.md. */
#ifndef SK_PROTOCOL_H
#define SK_PROTOCOL_H

#include "common/common.h"

/* ---- 1. Kafka error codes ---- */
enum {
    SK_KERR_UNKNOWN_SERVER_ERROR = -1,
    SK_KERR_NONE = 0,
    SK_KERR_OFFSET_OUT_OF_RANGE = 1,
    SK_KERR_CORRUPT_MESSAGE = 2,
    SK_KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    SK_KERR_INVALID_FETCH_SIZE = 4,
    SK_KERR_LEADER_NOT_AVAILABLE = 5,
    SK_KERR_NOT_LEADER_OR_FOLLOWER = 6,
    SK_KERR_REQUEST_TIMED_OUT = 7,
    SK_KERR_BROKER_NOT_AVAILABLE = 8,
    SK_KERR_REPLICA_NOT_AVAILABLE = 9,
    SK_KERR_MESSAGE_TOO_LARGE = 10,
    SK_KERR_OFFSET_METADATA_TOO_LARGE = 12,
    SK_KERR_NETWORK_EXCEPTION = 13,
    SK_KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    SK_KERR_COORDINATOR_NOT_AVAILABLE = 15,
    SK_KERR_NOT_COORDINATOR = 16,
    SK_KERR_INVALID_TOPIC_EXCEPTION = 17,
    SK_KERR_RECORD_LIST_TOO_LARGE = 18,
    SK_KERR_NOT_ENOUGH_REPLICAS = 19,
    SK_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    SK_KERR_INVALID_REQUIRED_ACKS = 21,
    SK_KERR_ILLEGAL_GENERATION = 22,
    SK_KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    SK_KERR_INVALID_GROUP_ID = 24,
    SK_KERR_UNKNOWN_MEMBER_ID = 25,
    SK_KERR_INVALID_SESSION_TIMEOUT = 26,
    SK_KERR_REBALANCE_IN_PROGRESS = 27,
    SK_KERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    SK_KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    SK_KERR_GROUP_AUTHORIZATION_FAILED = 30,
    SK_KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    SK_KERR_INVALID_TIMESTAMP = 32,
    SK_KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    SK_KERR_ILLEGAL_SASL_STATE = 34,
    SK_KERR_UNSUPPORTED_VERSION = 35,
    SK_KERR_TOPIC_ALREADY_EXISTS = 36,
    SK_KERR_INVALID_PARTITIONS = 37,
    SK_KERR_INVALID_REPLICATION_FACTOR = 38,
    SK_KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    SK_KERR_INVALID_CONFIG = 40,
    SK_KERR_NOT_CONTROLLER = 41,
    SK_KERR_INVALID_REQUEST = 42,
    SK_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    SK_KERR_POLICY_VIOLATION = 44,
    SK_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    SK_KERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    SK_KERR_INVALID_PRODUCER_EPOCH = 47,
    SK_KERR_INVALID_TXN_STATE = 48,
    SK_KERR_INVALID_PRODUCER_ID_MAPPING = 49,
    SK_KERR_INVALID_TRANSACTION_TIMEOUT = 50,
    SK_KERR_CONCURRENT_TRANSACTIONS = 51,
    SK_KERR_KAFKA_STORAGE_ERROR = 56,
    SK_KERR_UNKNOWN_PRODUCER_ID = 59,
    SK_KERR_TOPIC_DELETION_DISABLED = 73,
    SK_KERR_FENCED_LEADER_EPOCH = 74,
    SK_KERR_UNKNOWN_LEADER_EPOCH = 75,
    SK_KERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    SK_KERR_OFFSET_NOT_AVAILABLE = 78,
    SK_KERR_INVALID_RECORD = 87,
    SK_KERR_UNSTABLE_OFFSET_COMMIT = 88,
    SK_KERR_PRODUCER_FENCED = 90,
    SK_KERR_UNKNOWN_TOPIC_ID = 100,
    SK_KERR_INCONSISTENT_TOPIC_ID = 103,
};
const char *sk_kerr_name(int16_t code); /* "UNKNOWN_TOPIC_OR_PARTITION"; "UNKNOWN" if not known */

/* ---- 2. Record batches (magic 2), all big-endian; layout in docs/record-format.md ---- */
#define SK_BATCH_HEADER_SIZE 61 /* bytes before the first record */
#define SK_LOG_OVERHEAD 12      /* baseOffset + batchLength */
#define SK_BATCH_MAGIC_OFFSET 16
#define SK_BATCH_CRC_OFFSET 17
#define SK_BATCH_ATTR_OFFSET 21 /* CRC covers [21, end) */

#define SK_ATTR_CODEC_MASK 0x07
#define SK_ATTR_LOG_APPEND_TIME 0x08
#define SK_ATTR_TRANSACTIONAL 0x10
#define SK_ATTR_CONTROL 0x20
#define SK_ATTR_DELETE_HORIZON 0x40

typedef enum {
    SK_CODEC_NONE = 0,
    SK_CODEC_GZIP = 1,
    SK_CODEC_SNAPPY = 2,
    SK_CODEC_LZ4 = 3,
    SK_CODEC_ZSTD = 4,
} sk_codec_t;

typedef struct sk_batch_hdr {
    int64_t base_offset;
    int32_t batch_length; /* bytes after this field; total = batch_length + 12 */
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} sk_batch_hdr_t;

/* Parse the fixed header of the magic-2 batch at p (len bytes available, >= 61).
 * Checks only that magic is 2 and batch_length is sane (>= 49, fits an int32);
 * SK_ECORRUPT otherwise, SK_AGAIN if len < 61. Does not check the CRC. */
int sk_batch_hdr_parse(const uint8_t *p, size_t len, sk_batch_hdr_t *h);
/* CRC-32C of [21, end) compared with the stored CRC. */
bool sk_batch_crc_ok(const uint8_t *batch, size_t len);
/* Recompute and store the CRC (after the broker changed covered fields). */
void sk_batch_crc_set(uint8_t *batch, size_t len);

/* One record, as iterated. key/value len -1 = null. Headers are left encoded. */
typedef struct sk_record {
    int64_t offset;    /* base_offset + offset_delta */
    int64_t timestamp; /* base_timestamp + timestamp_delta (or the batch's LogAppendTime) */
    int8_t attributes;
    sk_bytes_t key;
    sk_bytes_t value;
    int32_t header_count;
    const uint8_t *headers; /* borrowed: header_count encoded headers */
    size_t headers_len;
} sk_record_t;
typedef struct sk_header {
    sk_bytes_t key;
    sk_bytes_t value;
} sk_header_t;
/* Decode the i-th..n-th headers of a record into out (at most max); returns count or <0. */
int sk_record_headers(const sk_record_t *r, sk_header_t *out, int32_t max);

/* Options and results of validating one batch from a producer. */
typedef struct sk_batch_check {
    int32_t max_batch_bytes;         /* message.max.bytes: the whole batch incl. overhead */
    size_t max_decompressed_bytes;   /* cap on decompressed size (compression bombs) */
    int16_t produce_version;         /* zstd needs >= 7 */
    bool allow_control;              /* false for client produce */
} sk_batch_check_t;
typedef struct sk_batch_info {
    sk_batch_hdr_t hdr;
    int32_t record_count;
    int64_t max_timestamp;   /* from the records (CreateTime) */
    sk_codec_t codec;
} sk_batch_info_t;
/* Validate that [p, p+len) is exactly one well-formed magic-2 batch: sizes, CRC, codec,
 * record count against last_offset_delta, every record well-formed (decompressing if
 * needed, within the cap), offset deltas 0..n-1. On failure returns SK_ECORRUPT (or
 * SK_ELIMIT/SK_EUNSUP) and sets *kerr to the Kafka error for the partition:
 * CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE, UNSUPPORTED_COMPRESSION_TYPE,
 * INVALID_TIMESTAMP. */
int sk_batch_validate(const uint8_t *p, size_t len, const sk_batch_check_t *chk, sk_batch_info_t *info,
                      int16_t *kerr);

/* Call cb for each record of the batch (decompressing into a temporary buffer bounded by
 * max_decompressed_bytes). cb returns SK_OK to continue, anything else stops and is
 * returned. */
typedef int (*sk_record_cb)(void *ctx, const sk_record_t *r);
int sk_batch_foreach_record(const uint8_t *batch, size_t len, size_t max_decompressed_bytes, sk_record_cb cb,
                            void *ctx);

/* Build one magic-2 batch from records (offset deltas 0..n-1 by position, timestamps
 * from records[i].timestamp, headers copied as encoded). producer_id -1 for none.
 * The result is malloc'd; base_offset 0, CRC set. */
typedef struct sk_batch_spec {
    sk_codec_t codec;
    int16_t attributes_extra; /* e.g. SK_ATTR_TRANSACTIONAL | SK_ATTR_CONTROL */
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t partition_leader_epoch;
} sk_batch_spec_t;
int sk_batch_build(const sk_batch_spec_t *spec, const sk_record_t *records, int32_t count, uint8_t **out,
                   size_t *out_len);

/* Legacy message sets (magic 0/1, CRC-32 IEEE), e.g. from Produce v0-2: convert the
 * whole set (including compressed wrappers) into one magic-2 batch, malloc'd. */
int sk_legacy_to_batch(const uint8_t *msgset, size_t len, size_t max_decompressed_bytes, uint8_t **out,
                       size_t *out_len, int16_t *kerr);

/* Compression. Decompression writes at most max_out bytes (SK_ELIMIT beyond); the
 * output is malloc'd. Snappy input may be raw or xerial-framed; output of compress is
 * raw snappy for SK_CODEC_SNAPPY (what librdkafka writes; every client reads it). */
int sk_decompress(sk_codec_t codec, const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out,
                  size_t *out_len);
int sk_compress(sk_codec_t codec, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len);
/* A copy of one magic-2 batch with its records section in codec `to` (a topic's
 * compression.type differing from the producer's): header fields kept, length, codec
 * bits and CRC new. *out malloc'd. SK_ECORRUPT for a malformed batch, decompression
 * errors (SK_ELIMIT over max_decompressed) as sk_decompress gives them. */
int sk_batch_recompress(const uint8_t *batch, size_t len, sk_codec_t to, size_t max_decompressed, uint8_t **out,
                        size_t *out_len);
const char *sk_codec_name(sk_codec_t codec);

/* ---- 3. Generated message codecs and the API table ---- */
#include "protocol/msgs.h"

#endif
