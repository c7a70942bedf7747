#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py: writes the seed corpus of every fuzz target into
tests/fuzz/corpus/<target>/ (deterministic; rerun after changing it and commit the
result). Seeds for the frame and request targets are the real client requests in
tests/corpus/captures (and, for the frame target, the bad-input corpus); the others are
built from the documented layouts with kafka_bytes.py. Each target's input layout is in
the header comment of tests/fuzz/fuzz_<target>.c."""

import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import kafka_bytes as k  # noqa: E402

CAPTURES = os.path.join(ROOT, "tests", "corpus", "captures")
BAD = os.path.join(ROOT, "tests", "corpus", "bad")
OUT = os.path.join(HERE, "corpus")

# fuzz_req_<name>: API key; fuzz_req_group: its API list, in fuzz_req_group.c's order
REQ_TARGETS = {"produce": 0, "fetch": 1, "list_offsets": 2, "metadata": 3, "api_versions": 18,
               "init_producer_id": 22}
GROUP_APIS = [11, 14, 8, 12, 13, 9]


def api_table():
    """{key: (min_version, max_version, first_flexible)} from the message definitions."""
    t = {}
    for path in glob.glob(os.path.join(ROOT, "src", "protocol", "defs", "*.def")):
        key = None
        for line in open(path):
            m = re.match(r"api \w+ (\d+)", line)
            if m:
                key = int(m.group(1))
            m = re.match(r"request \w+ (\d+)-(\d+)(?: flex (\d+)\+)?", line)
            if m and key is not None:
                t[key] = (int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else -1)
    return t


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def split_capture(data, table):
    """(key, version, body) of a captured request (header + body, no size prefix)."""
    f = data
    key, ver = int.from_bytes(f[0:2], "big", signed=True), int.from_bytes(f[2:4], "big", signed=True)
    clen = int.from_bytes(f[8:10], "big", signed=True)
    pos = 10 + max(clen, 0)
    lo, hi, flex = table.get(key, (0, 0, -1))
    if flex >= 0 and ver >= flex:
        n = f[pos]  # tagged-field count (captures carry none or few)
        pos += 1
        for _ in range(n):
            raise ValueError("tagged header fields in a capture")
    return key, ver, f[pos:]


def captures_seeds(table):
    keys = sorted(table)
    for path in sorted(glob.glob(os.path.join(CAPTURES, "*.bin"))):
        name = os.path.basename(path)[:-4]
        data = open(path, "rb").read()
        put("fuzz_frame", name, k.frame(data))
        key, ver, body = split_capture(data, table)
        lo = table[key][0]
        for tname, tkey in REQ_TARGETS.items():
            if tkey == key:
                put("fuzz_req_" + tname, name, bytes([ver - lo]) + body)
        if key in GROUP_APIS:
            put("fuzz_req_group", name, bytes([GROUP_APIS.index(key), ver - lo]) + body)
        put("fuzz_roundtrip", name, bytes([keys.index(key), (ver - lo) << 1]) + body)
    # pipelined: several requests in one read
    caps = sorted(glob.glob(os.path.join(CAPTURES, "rdkafka-*.bin")))[:6]
    put("fuzz_frame", "pipelined-rdkafka", b"".join(k.frame(open(p, "rb").read()) for p in caps))
    for path in sorted(glob.glob(os.path.join(BAD, "*.bin"))):
        data = open(path, "rb").read()
        if len(data) <= 1 << 20:
            put("fuzz_frame", "bad-" + os.path.basename(path)[:-4], data)


def group_seeds():
    s, b, a = k.string, k.nbytes, k.array
    join_v0 = s("grp") + k.i32(30000) + s("") + s("consumer") + a([s("range") + b(b"\x00\x01meta")])
    sync_v0 = s("grp") + k.i32(1) + s("m-1") + a([s("m-1") + b(b"\x00\x00assignment")])
    commit_v2 = (s("grp") + k.i32(1) + s("m-1") + k.i64(-1)
                 + a([s("t") + a([k.i32(0) + k.i64(42) + s("md")])]))
    hb_v0 = s("grp") + k.i32(1) + s("m-1")
    put("fuzz_req_group", "join-v0", bytes([0, 0]) + join_v0)
    put("fuzz_req_group", "sync-v0", bytes([1, 0]) + sync_v0)
    put("fuzz_req_group", "commit-v2", bytes([2, 2]) + commit_v2)
    put("fuzz_req_group", "heartbeat-v0", bytes([3, 0]) + hb_v0)


def batch_seeds():
    def put(target, name, data):  # byte 0: flags (bit 0: fix the CRC), see fuzz_record_batch.c
        globals()["put"](target, name, b"\x01" + data)
    hdrs = [(b"h1", b"v1"), (b"h2", None)]
    for codec in range(5):
        put("fuzz_record_batch", "codec%d" % codec, k.simple_batch(3, codec=codec, headers=hdrs))
    put("fuzz_record_batch", "nullkey-nullvalue",
        k.batch(k.record(0, None, None), 1))
    put("fuzz_record_batch", "control", k.batch(k.record(0, b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x00"), 1,
                                                attrs=0x30, pid=7, epoch=0))
    put("fuzz_record_batch", "idempotent", k.simple_batch(2, pid=1000, epoch=0, base_seq=0))
    # legacy message set v1: offset, size, crc32, magic 1, attrs, ts, key, value
    import zlib
    body = k.i8(1) + k.i8(0) + k.i64(1700000000000) + k.nbytes(b"k") + k.nbytes(b"value")
    msg = k.u32(zlib.crc32(body)) + body
    put("fuzz_record_batch", "legacy-v1", k.i64(0) + k.i32(len(msg)) + msg)
    body0 = k.i8(0) + k.i8(0) + k.nbytes(None) + k.nbytes(b"v0")
    msg0 = k.u32(zlib.crc32(body0)) + body0
    put("fuzz_record_batch", "legacy-v0", k.i64(0) + k.i32(len(msg0)) + msg0)


def decompress_seeds():
    data = b"".join(k.record(i, b"key", b"value-%d" % i) for i in range(20))
    put("fuzz_decompress", "gzip", b"\x01" + k.compress(1, data))
    put("fuzz_decompress", "snappy-xerial", b"\x02" + k.compress(2, data))
    put("fuzz_decompress", "snappy-raw", b"\x02" + k.snappy_raw(data))
    put("fuzz_decompress", "lz4", b"\x03" + k.compress(3, data))
    put("fuzz_decompress", "zstd", b"\x04" + k.compress(4, data))
    put("fuzz_decompress", "none", b"\x00" + data)


def segment_seeds():
    b0 = k.simple_batch(3, base_offset=0, leader_epoch=0)
    b1 = k.simple_batch(2, base_offset=3, leader_epoch=1, codec=1)
    b2 = k.simple_batch(40, base_offset=5, leader_epoch=1, value_size=30)
    log = b0 + b1 + b2
    put("fuzz_segment_recover", "three-batches", b"\x00" + log)
    put("fuzz_segment_recover", "three-batches-idx64", b"\x01" + log)
    put("fuzz_segment_recover", "torn-tail", b"\x01" + log[:-7])
    put("fuzz_segment_recover", "gap", b"\x00" + b0 + k.simple_batch(1, base_offset=9))
    put("fuzz_segment_recover", "zeros-tail", b"\x01" + b0 + b"\x00" * 200)


def segment_open_seeds():
    """A clean segment with the indexes skiffd would have written, and variants."""
    b0 = k.simple_batch(3, base_offset=0, value_size=40)
    b1 = k.simple_batch(2, base_offset=3, value_size=40)
    b2 = k.simple_batch(4, base_offset=5, value_size=40)
    log = b0 + b1 + b2
    oidx = k.u32(4) + k.u32(len(b0)) + k.u32(8) + k.u32(len(b0) + len(b1))
    tidx = k.i64(1700000000000) + k.u32(8)

    def seed(name, o, t, lg):
        put("fuzz_segment_open", name, k.i16(len(o)) + o + k.i16(len(t)) + t + lg)
    seed("clean", oidx, tidx, log)
    seed("no-index", b"", b"", log)
    seed("index-past-end", oidx + k.u32(50) + k.u32(len(log) + 100), tidx, log)
    seed("torn-log", oidx, tidx, log[:-10])
    seed("empty", b"", b"", b"")
    # regressions: entries naming offsets past the segment's end were trusted
    seed("index-rel-past-end", oidx[:8] + k.u32(50) + k.u32(len(b0) + len(b1)), tidx, log)
    seed("timeindex-rel-past-end", oidx, k.i64(1700000000000) + k.u32(80), log)
    seed("timeindex-ts-past-max", oidx, k.i64(1900000000000) + k.u32(8), log)
    # regressions: offsets beyond what a u32 relative offset can index were trusted
    seed("offset-jump-2^40", b"", b"", b0 + k.simple_batch(2, base_offset=1 << 40))
    seed("offset-jump-2^31", b"", b"", b0 + k.simple_batch(2, base_offset=0x7FFFFFFF))


def checkpoint_seeds():
    put("fuzz_checkpoint", "epochs", b"\x00" + b"0\n3\n0 0\n2 100\n5 100000\n")
    put("fuzz_checkpoint", "epochs-empty", b"\x00" + b"0\n0\n")
    put("fuzz_checkpoint", "offsets", b"\x01" + b"0\n3\norders 0 42\norders 1 7\n__consumer_offsets 12 9000\n")
    put("fuzz_checkpoint", "epochs-same-start-offset", b"\x00" + b"0\n2\n0 0\n1 0\n")
    put("fuzz_checkpoint", "partmeta", b"\x02" + b"version: 0\ntopic_id: AAECAwQFBgcICQoLDA0ODw")


def pstate_entry(pid, epoch, last_seq, last_offset, delta, ts, coord_epoch=-1, txn_first=-1):
    return (k.i64(pid) + k.i16(epoch) + k.i32(last_seq) + k.i64(last_offset) + k.i32(delta) + k.i64(ts) +
            k.i32(coord_epoch) + k.i64(txn_first))


def pstate_snapshot(entries, version=1):
    body = k.i32(len(entries)) + b"".join(entries)
    return k.i16(version) + k.u32(k.crc32c(body)) + body


def pstate_seeds():
    """Producer-state snapshots: version i16, CRC-32C u32 of the rest, count i32, then
    46-byte entries (docs/idempotence.md)."""
    put("fuzz_pstate_snapshot", "empty", pstate_snapshot([]))
    put("fuzz_pstate_snapshot", "two-producers", pstate_snapshot([
        pstate_entry(1000, 0, 41, 9041, 4, 1700000000000),
        pstate_entry(1001, 3, 2147483647, 77, 2, 1700000000500)]))
    put("fuzz_pstate_snapshot", "no-batch-open-txn", pstate_snapshot([
        pstate_entry(5, 1, -1, -1, 0, -1, 7, 120)]))
    put("fuzz_pstate_snapshot", "bad-crc", pstate_snapshot([pstate_entry(9, 0, 0, 0, 0, 0)])[:2] + b"\0\0\0\0" +
        pstate_snapshot([pstate_entry(9, 0, 0, 0, 0, 0)])[6:])


def main():
    table = api_table()
    captures_seeds(table)
    group_seeds()
    batch_seeds()
    decompress_seeds()
    segment_seeds()
    segment_open_seeds()
    checkpoint_seeds()
    pstate_seeds()
    for d in sorted(os.listdir(OUT)):
        print("%-28s %d seeds" % (d, len(os.listdir(os.path.join(OUT, d)))))


if __name__ == "__main__":
    main()
