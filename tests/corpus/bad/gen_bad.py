#!/usr/bin/env python3
"""tests/corpus/bad/gen_bad.py: writes the bad-input corpus, one file per case, and
MANIFEST, which says for each file how it is sent and what the broker must do. The
cases come from the hostile-input list in docs/hostile-input.md; interop/raw/bad_inputs.py
replays them against a running skiffd and the frame fuzz target uses them as seeds.
Deterministic: rerun after changing it and commit the result.

MANIFEST columns: <file> <send> <expect> <why>
  send:   once     write the bytes, keep the connection open
          eof      write the bytes, then shut down our sending side
          slow     write one byte per second (slowloris), many connections at once
          idle     only the connection matters: thousands are opened and held
          pipe     the bytes are one request, written 1000 times without reading
          hold     200 connections each write the bytes and then stall
  expect: close    the broker closes the connection without answering
          kerr=A,B the first partition of the Produce v7 response has one of these codes
          av=N     ApiVersions answered in the v0 layout with error code N
          meta=N   Metadata v4 answered with error code N for the first topic
          answer   a response with this correlation id arrives (error codes not checked)
          any      a response or a close; the broker must only stay up and unharmed
All Produce cases write to topic skiff-bad-inputs, partition 0; the replayer creates it.
A file may hold several pipelined requests: the expectation is about the last answer.
"""

import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fuzz"))
import kafka_bytes as k  # noqa: E402

TOPIC = "skiff-bad-inputs"
CASES = []  # (name, bytes, send, expect, why)

KERR_BATCH = "kerr=2,87"  # CORRUPT_MESSAGE or INVALID_RECORD


def case(name, data, send, expect, why):
    CASES.append((name, data, send, expect, why))


def produce(records, version=7, corr=7):
    return k.request(0, version, k.produce_body(version, TOPIC, 0, records, acks=1), corr)


def metadata_v1(body, corr=3):
    return k.request(3, 1, body, corr)


def metadata_v9(body, corr=3):
    return k.request(3, 9, body, corr, flexible=True)


def with_records(recs_blob, count, **kw):
    return k.batch(recs_blob, count, **kw)


def framing():
    case("trunc-size-prefix-2B", b"\x00\x00", "eof", "close", "two bytes of a size prefix, then EOF")
    case("size-0", k.i32(0), "once", "close", "frame size 0")
    case("size-neg1", k.i32(-1), "once", "close", "frame size -1")
    case("size-2GiB", k.i32(0x7FFFFFFF) + b"\x00" * 64, "once", "close",
         "frame size 2^31-1: refused before any allocation")
    case("size-over-socket-max", k.i32(104857600 + 1) + b"\x00" * 64, "once", "close",
         "one byte over the default socket.request.max.bytes")
    case("header-only", k.frame(k.i16(18) + k.i16(0) + k.i32(1)), "once", "close",
         "8-byte frame: header without its client id")
    full = k.api_versions_request(corr=5)
    case("eof-mid-body", k.i32(100) + full[4:], "eof", "close", "size says 100, fewer bytes then EOF")


def headers_versions():
    case("unknown-apikey-32767", k.request(32767, 0, b"", 9), "once", "close", "API key 32767")
    case("unknown-apikey-neg1", k.request(-1, 0, b"", 9), "once", "close", "API key -1")
    case("apiversion-too-high", k.request(3, 99, k.array([]), 9), "once", "close", "Metadata v99")
    case("apiversion-negative", k.request(3, -1, k.array([]), 9), "once", "close", "Metadata v-1")
    case("apiversions-version-too-high", k.request(18, 127, b"", 11, flexible=True), "once", "av=35",
         "ApiVersions v127: UNSUPPORTED_VERSION in the v0 layout (KIP-511)")
    hdr = k.i16(18) + k.i16(0) + k.i32(1) + k.i16(32767) + b"x" * 10
    case("clientid-len-32767", k.frame(hdr), "once", "close", "client id length 32767, 10 bytes present")
    hdr = k.i16(18) + k.i16(0) + k.i32(12) + k.i16(32767) + b"c" * 32767
    case("clientid-32767-complete", k.frame(hdr), "once", "answer", "a real 32767-byte client id is fine")
    case("clientid-len-neg2", k.frame(k.i16(18) + k.i16(0) + k.i32(1) + k.i16(-2)), "once", "close",
         "client id length -2")
    # request header v2 (flexible ApiVersions v3): tagged-field count huge, nothing follows
    hdr = k.i16(18) + k.i16(3) + k.i32(13) + k.string("c") + k.uvarint(0x0FFFFFFF)
    case("header-tagged-count-huge", k.frame(hdr), "once", "close", "header tagged-field count 2^28-1")


def strings_arrays_varints():
    case("string-len-neg2", metadata_v1(k.i32(1) + k.i16(-2)), "once", "close",
         "Metadata v1 topic name length -2")
    case("string-len-past-end", metadata_v1(k.i32(1) + k.i16(500) + b"abc"), "once", "close",
         "topic name length 500, 3 bytes present")
    case("compact-len-huge", metadata_v9(k.uvarint(2) + k.uvarint(0xFFFFFFFF)), "once", "close",
         "Metadata v9 compact topic name length 2^32-2")
    case("varint-5B-msb", metadata_v9(b"\xff\xff\xff\xff\xff\x01"), "once", "close",
         "unsigned varint with the continuation bit in all 5 bytes")
    case("array-count-2^31-1", metadata_v1(k.i32(0x7FFFFFFF)), "once", "close",
         "array count 2^31-1 with no elements: no allocation")
    case("array-neg2", metadata_v1(k.i32(-2)), "once", "close", "array count -2")
    case("compact-array-huge", metadata_v9(k.uvarint(0x7FFFFFFF)), "once", "close",
         "compact array count 2^31-2 with no elements")
    body_end = k.carray([]) + b"\x01\x00\x00"  # topics [], allow_auto, authorized ops flags
    case("tagged-count-huge", metadata_v9(body_end + k.uvarint(0x0FFFFFFF)), "once", "close",
         "body tagged-field count 2^28-1 with no fields")
    case("tagged-dup-tag", metadata_v9(body_end + k.uvarint(2) + b"\x07\x01a" + b"\x07\x01b"), "once", "any",
         "the same unknown tag twice (Kafka skips unknown tags; answer or close)")
    case("tagged-len-past-end", metadata_v9(body_end + k.uvarint(1) + b"\x07" + k.uvarint(1000) + b"xy"), "once",
         "close", "tagged field size 1000, 2 bytes present")


def batches():
    good = k.simple_batch(2)
    case("produce-valid", produce(good), "once", "kerr=0", "a valid batch (control case)")
    case("batch-len-lt-61", produce(good[:8] + k.i32(20) + good[12:32]), "once", KERR_BATCH,
         "batch length 20: shorter than a batch header")
    case("batch-len-past-end", produce(good[:8] + k.i32(len(good)) + good[12:]), "once", KERR_BATCH,
         "batch length larger than the records field")
    body = k.i8(1) + k.i8(0) + k.i64(1700000000000) + k.nbytes(b"k") + k.nbytes(b"value")
    msg = k.u32(zlib.crc32(body)) + body
    case("batch-magic-1-in-v3-produce", produce(k.i64(0) + k.i32(len(msg)) + msg, version=3), "once",
         "kerr=2,43,87", "a magic-1 message set in Produce v3 (v3+ requires magic 2)")
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    case("batch-crc-wrong", produce(bytes(bad)), "once", KERR_BATCH, "one record byte flipped: CRC mismatch")
    recs = b"".join(k.record(i, b"k", b"v") for i in range(3))
    case("batch-records-count-mismatch", produce(with_records(recs, 5, last_offset_delta=4)), "once",
         KERR_BATCH, "header says 5 records, 3 present")
    case("batch-lastoffsetdelta-neg", produce(with_records(recs, 3, last_offset_delta=-1)), "once",
         KERR_BATCH, "last offset delta -1")
    rec = k.varint(-5) + b"\x00" * 8
    case("record-len-neg", produce(with_records(rec, 1)), "once", KERR_BATCH, "record length -5")
    body = b"\x00" + k.varint(0) + k.varint(0) + k.varint(-1) + k.varint(1) + b"v" + k.varint(0x3FFFFFFF)
    case("header-count-huge", produce(with_records(k.varint(len(body)) + body, 1)), "once", KERR_BATCH,
         "record header count 2^30-1 with no headers")
    body = b"\x00" + b"\xff" * 10 + b"\x01" + k.varint(0) + k.varint(-1) + k.varint(-1) + k.varint(0)
    case("varlong-10B-msb", produce(with_records(k.varint(len(body)) + body, 1)), "once", KERR_BATCH,
         "timestamp delta varlong whose 10 bytes all have the continuation bit")
    body = b"\x00" + b"\xff" * 9 + b"\x01" + k.varint(0) + k.varint(-1) + k.varint(-1) + k.varint(0)
    case("varlong-int64-min-ts-delta", produce(with_records(k.varint(len(body)) + body, 1, base_ts=-1)), "once",
         "any", "timestamp delta -2^63 (a valid 10-byte varlong) on base timestamp -1: no overflow")
    case("codec-7", produce(with_records(recs, 3, attrs=7)), "once", "kerr=2,76,87", "compression codec 7")
    case("control-batch-from-client", produce(with_records(recs, 3, attrs=0x20, pid=5, epoch=0)), "once",
         KERR_BATCH, "control batch in a client Produce")
    big = k.simple_batch(1, value_size=1048588 + 100)
    case("batch-over-message-max", produce(big), "once", "kerr=10",
         "valid 1 MiB+ batch over the default message.max.bytes")


def compression():
    # gzip bomb: 128 MiB of zeros in one record value, over the 64 MiB decompression cap
    rec_hdr = b"\x00" + k.varint(0) + k.varint(0) + k.varint(-1) + k.varint(128 << 20)
    n = 128 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    blob = c.compress(k.varint(len(rec_hdr) + n + 1) + rec_hdr)
    zeros = b"\x00" * (1 << 20)
    for _ in range(128):
        blob += c.compress(zeros)
    blob += c.compress(k.varint(0)) + c.flush()
    case("gzip-bomb", produce(with_records(blob, 1, attrs=1)), "once", "kerr=2,10,87",
         "gzip expanding to 128 MiB, beyond the decompression cap")
    # snappy, xerial framing, chunk length 2^31-16 (the CVE-2023-34455 shape)
    blob = b"\x82SNAPPY\x00" + k.i32(1) + k.i32(1) + k.i32(0x7FFFFFF0) + b"\x00" * 32
    case("snappy-bomb", produce(with_records(blob, 1, attrs=2)), "once", KERR_BATCH,
         "xerial chunk length 2^31-16 with 32 bytes present")
    blob = k.uvarint(0xFFFFFFFF) + b"\x00" * 16
    case("snappy-raw-len-huge", produce(with_records(blob, 1, attrs=2)), "once", "kerr=2,10,87",
         "raw snappy announcing 4 GiB")
    recs = b"".join(k.record(i, b"k", b"v" * 100) for i in range(10))
    case("lz4-truncated", produce(with_records(k.lz4_frame(recs, truncate=30), 10, attrs=3)), "once",
         KERR_BATCH, "lz4 frame cut inside its block")
    case("zstd-window-huge", produce(with_records(k.zstd_frame(recs, window_log=41), 10, attrs=4)), "once",
         "kerr=2,10,87", "zstd frame asking for a 2 TiB window")


def topic_names():
    def meta_v4(name, corr=41):
        return k.request(3, 4, k.array([k.string(name)]) + b"\x01", corr)  # allow_auto_topic_creation

    for label, name in (("dotdot-slash", b"../skiff-evil"), ("slash", b"a/b"), ("dotdot", b".."),
                        ("nul", b"ab\x00cd"), ("len-250", b"t" * 250), ("empty", b"")):
        case("topic-name-" + label, meta_v4(name), "once", "meta=17",
             "Metadata v4 auto-creating an invalid topic name: INVALID_TOPIC_EXCEPTION, no directory")


def connections():
    meta = k.request(3, 1, k.array([]), 21)
    case("slowloris-1B-per-s", meta, "slow", "answer",
         "a Metadata request sent one byte per second on many connections")
    case("5000-idle-conns", b"", "idle", "any", "5000 connections that never send")
    case("max-size-prefix-then-stall", k.i32(104857600) + b"\x00" * 1024, "hold", "any",
         "200 connections announce a 100 MiB frame, send 1 KiB and stall: memory follows bytes received")
    case("pipelined-1000-requests-no-read", meta, "pipe", "answer",
         "1000 requests written without reading (queued.max.requests back-pressure)")
    fetch = k.request(1, 4, k.i32(1) + k.i32(100) + k.i32(1) + k.i32(1 << 20) + k.i8(0)
                      + k.array([k.string(TOPIC) + k.array([k.i32(0) + k.i64(0) + k.i32(1 << 20)])]), 31)
    case("fetch-as-replica-from-client", fetch, "once", "any",
         "Fetch claiming replica id 1 (the CVE-2018-1288 shape): no follower privileges")


def idempotence():
    # Two pipelined Produce requests from a producer id nobody allocated (accepted as a
    # producer whose state is unknown, as Kafka does); the second is the bad one and
    # its answer is the one checked.
    pid = 7770000001
    first = produce(k.simple_batch(1, pid=pid, epoch=0, base_seq=0), corr=61)
    gap = produce(k.simple_batch(1, pid=pid, epoch=0, base_seq=5), corr=62)
    case("idempotent-seq-gap", first + gap, "once", "kerr=45",
         "sequence 5 after 0 from one producer: OUT_OF_ORDER_SEQUENCE_NUMBER")
    pid = 7770000002
    first = produce(k.simple_batch(1, pid=pid, epoch=3, base_seq=0), corr=63)
    older = produce(k.simple_batch(1, pid=pid, epoch=1, base_seq=0), corr=64)
    case("epoch-rollback", first + older, "once", "kerr=47",
         "producer epoch 1 after 3: INVALID_PRODUCER_EPOCH")
    case("idempotent-seq-negative", produce(k.simple_batch(1, pid=7770000003, epoch=0, base_seq=-5)), "once",
         KERR_BATCH, "producer id set, base sequence -5")


def long_poll():
    # Parks (min_bytes never reached), then answers with the data it has when max_wait
    # expires; the answer must not touch the request after it was written and freed.
    fetch = k.request(1, 4, k.i32(-1) + k.i32(100) + k.i32(0x7FFFFFFF) + k.i32(1 << 20) + k.i8(0)
                      + k.array([k.string(TOPIC) + k.array([k.i32(0) + k.i64(0) + k.i32(1 << 20)])]), 51)
    case("fetch-min-bytes-unreachable", fetch, "once", "answer",
         "Fetch v4 with min_bytes 2^31-1 over existing data: parks, answers at max_wait")


def main():
    framing()
    headers_versions()
    strings_arrays_varints()
    batches()
    compression()
    topic_names()
    idempotence()
    long_poll()
    connections()
    for f in os.listdir(HERE):
        if f.endswith(".bin"):
            os.unlink(os.path.join(HERE, f))
    lines = ["# generated by gen_bad.py; columns: file send expect why"]
    for name, data, send, expect, why in CASES:
        with open(os.path.join(HERE, name + ".bin"), "wb") as f:
            f.write(data)
        lines.append("%s.bin %s %s %s" % (name, send, expect, why))
    with open(os.path.join(HERE, "MANIFEST"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d cases" % len(CASES))


if __name__ == "__main__":
    main()
