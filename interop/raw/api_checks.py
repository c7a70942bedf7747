#!/usr/bin/env python3
"""Raw-socket checks of API behaviour the librdkafka 2.0.2 / kcat / kafka-python 2.0.2
suite does not reach (standard library only):

- Fetch long poll: an empty partition answers after max_wait_ms when nothing arrives,
  and as soon as a produce on another connection brings min_bytes.
- Fetch max_bytes: the first partition gets at least one whole batch even when it is
  larger than max_bytes; a second partition then gets nothing.
- DescribeCluster v0 (flexible): cluster id and this broker.
- CreateTopics v7 (flexible) with a config override: topic id and the described configs;
  Metadata v12 by topic id; DeleteTopics v6 by topic id; then the id is unknown.
- Produce v2 with a legacy magic-1 message set (converted to magic 2), read back with
  Fetch v4: offsets, keys, values and timestamps.
- ListOffsets v7 max timestamp (-3): the first record with the largest timestamp.
Against Apache Kafka 4.1 every check passes except the legacy Produce v2 one: Kafka 4.x
closes the connection on Produce v0-2, where Skiff converts the message set.

Usage: BOOTSTRAP=host:port api_checks.py ; exits 1 on failure.
"""
import os
import socket
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_test as pt  # noqa: E402  (framing, batches, CRC-32C)

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("  check failed: " + what, flush=True)


# ---- flexible-version encoding helpers ----
def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def cstr(s):
    if s is None:
        return b"\x00"
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carr(items):
    return uvarint(len(items) + 1) + b"".join(items)


class Rd:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uv(self):
        v, shift = 0, 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return v

    def cstr(self):
        n = self.uv()
        return None if n == 0 else self.take(n - 1).decode()

    def str16(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def tags(self):
        for _ in range(self.uv()):
            self.uv()
            self.take(self.uv())


def flex_request(api, ver, corr, body):
    return pt.frame(api, ver, corr, body, flexible=True)


def flex_response(s):
    corr, body = pt.read_response(s)
    r = Rd(body)
    r.tags()  # response header v1
    return corr, r


# ---- checks ----
def test_long_poll():
    topic = "raw-long-poll-%d" % os.getpid()
    s, p = pt.conn(), pt.conn()
    pt.wait_topic(s, topic)
    t0 = time.time()
    s.sendall(pt.frame(1, 4, 1, fetch_body(topic, 0, 1 << 20, max_wait=600, min_bytes=1)))
    pt.read_response(s)
    waited = time.time() - t0
    check(0.45 <= waited <= 3.0, "long poll without data waited %.2f s for max_wait 600 ms" % waited)
    t0 = time.time()
    s.sendall(pt.frame(1, 4, 2, fetch_body(topic, 0, 1 << 20, max_wait=10000, min_bytes=1)))
    time.sleep(0.3)
    p.sendall(pt.produce_v3(3, topic, pt.produce_batch_v2(2, 10)))
    pt.read_response(p)
    _, body = pt.read_response(s)
    waited = time.time() - t0
    check(waited < 2.0, "long poll answered %.2f s after a produce (max_wait 10 s)" % waited)
    check(len(body) > 100, "long poll answer carries the new records")
    s.close()
    p.close()


def fetch_body(topic, offset, max_bytes, max_wait=0, min_bytes=0, partitions=(0,), part_max=None):
    b = struct.pack(">iiiib", -1, max_wait, min_bytes, max_bytes, 0)
    b += struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic.encode()
    b += struct.pack(">i", len(partitions))
    for part in partitions:
        b += struct.pack(">iqi", part, offset, part_max or max_bytes)
    return b


def fetch_v4_partitions(body):
    """[(partition, error, hw, records bytes)] of a single-topic Fetch v4 response."""
    r = Rd(body)
    r.i32()  # throttle
    out = []
    for _ in range(r.i32()):
        r.str16()
        for _ in range(r.i32()):
            part, err, hw, _lso = r.i32(), r.i16(), r.i64(), r.i64()
            n = r.i32()
            for _ in range(max(n, 0)):
                r.i64(), r.i64()
            size = r.i32()
            out.append((part, err, hw, r.take(max(size, 0))))
    return out


def test_fetch_max_bytes():
    topic = "raw-max-bytes-%d" % os.getpid()
    s = pt.conn()
    pt.wait_topic(s, topic)
    big = pt.produce_batch_v2(50, 1000)  # ~50 KB batch
    for part in (0, 1):
        body = struct.pack(">hhi", -1, 1, 10000) + struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic.encode()
        body += struct.pack(">i", 1) + struct.pack(">ii", part, len(big)) + big
        s.sendall(pt.frame(0, 3, 10 + part, body))
        pt.read_response(s)
    s.sendall(pt.frame(1, 4, 20, fetch_body(topic, 0, 1000, partitions=(0, 1))))
    parts = fetch_v4_partitions(pt.read_response(s)[1])
    check(len(parts) == 2, "fetch answers both partitions")
    if len(parts) == 2:
        check(len(parts[0][3]) == len(big), "first partition: one whole batch over max_bytes (%d bytes)" % len(parts[0][3]))
        check(len(parts[1][3]) == 0, "second partition: nothing once max_bytes is used up")
    s.close()


def test_describe_cluster():
    s = pt.conn()
    s.sendall(flex_request(60, 0, 1, b"\x00" + b"\x00"))  # include ops=false, tags
    _, r = flex_response(s)
    r.i32()
    err = r.i16()
    r.cstr()
    cluster_id = r.cstr()
    controller = r.i32()
    brokers = [(r.i32(), r.cstr(), r.i32(), r.cstr(), r.tags()) for _ in range(r.uv() - 1)]
    check(err == 0 and cluster_id and len(cluster_id) == 22, "DescribeCluster: cluster id %r" % cluster_id)
    check(len(brokers) == 1 and brokers[0][0] == controller, "DescribeCluster: one broker, the controller")
    host, port = os.environ.get("BOOTSTRAP").rsplit(":", 1)
    check(brokers and brokers[0][2] == int(port), "DescribeCluster: advertised port")
    s.close()


def create_topic_v7(s, name, partitions, configs):
    cfgs = [cstr(k) + cstr(v) + b"\x00" for k, v in configs]
    topic = cstr(name) + struct.pack(">ih", partitions, -1) + carr([]) + carr(cfgs) + b"\x00"
    s.sendall(flex_request(19, 7, 1, carr([topic]) + struct.pack(">ib", 30000, 0) + b"\x00"))
    _, r = flex_response(s)
    r.i32()
    res = []
    for _ in range(r.uv() - 1):
        tname, tid, err, msg = r.cstr(), r.take(16), r.i16(), r.cstr()
        nparts, rf = r.i32(), r.i16()
        described = {}
        n = r.uv()
        for _ in range(max(n - 1, 0)):
            k, v, _ro, _src, _sens = r.cstr(), r.cstr(), r.i8(), r.i8(), r.i8()
            r.tags()
            described[k] = v
        r.tags()
        res.append((tname, tid, err, msg, nparts, rf, described))
    return res


def test_topics_by_id():
    s = pt.conn()
    name = "raw-by-id-%d" % os.getpid()
    res = create_topic_v7(s, name, 3, [("retention.ms", "3600000")])
    check(len(res) == 1 and res[0][2] == 0, "CreateTopics v7: created (%r)" % (res[0][2:4],))
    if not res or res[0][2] != 0:
        return
    _, tid, _, _, nparts, rf, described = res[0]
    check(nparts == 3 and rf == 1, "CreateTopics v7: partitions 3, rf 1")
    check(described.get("retention.ms") == "3600000", "CreateTopics v7: override described")
    check(described.get("cleanup.policy") == "delete", "CreateTopics v7: defaults described")
    check(tid != b"\x00" * 16, "CreateTopics v7: topic id")
    # Metadata v12 by id.
    md = carr([tid + cstr(None) + b"\x00"]) + struct.pack(">bb", 0, 0) + b"\x00"
    s.sendall(flex_request(3, 12, 2, md))
    _, r = flex_response(s)
    r.i32()
    for _ in range(r.uv() - 1):
        r.i32(), r.cstr(), r.i32(), r.cstr(), r.tags()
    r.cstr(), r.i32()
    ntop = r.uv() - 1
    err, tname, tid2 = r.i16(), r.cstr(), r.take(16)
    check(ntop == 1 and err == 0 and tname == name and tid2 == tid, "Metadata v12 by id names the topic")
    # DeleteTopics v6 by id.
    s.sendall(flex_request(20, 6, 3, carr([cstr(None) + tid + b"\x00"]) + struct.pack(">i", 30000) + b"\x00"))
    _, r = flex_response(s)
    r.i32()
    n = r.uv() - 1
    dname, did, derr = r.cstr(), r.take(16), r.i16()
    check(n == 1 and derr == 0 and dname == name and did == tid, "DeleteTopics v6 by id (err %d)" % derr)
    s.sendall(flex_request(20, 6, 4, carr([cstr(None) + tid + b"\x00"]) + struct.pack(">i", 30000) + b"\x00"))
    _, r = flex_response(s)
    r.i32()
    r.uv(), r.cstr(), r.take(16)
    check(r.i16() == 100, "DeleteTopics v6 of a deleted id: UNKNOWN_TOPIC_ID")
    s.close()


def legacy_v1_set(records, base_ts):
    out = bytearray()
    for i, (k, v) in enumerate(records):
        body = struct.pack(">bbq", 1, 0, base_ts + i) + struct.pack(">i", len(k)) + k + struct.pack(">i", len(v)) + v
        msg = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + body
        out += struct.pack(">qi", i, len(msg)) + msg
    return bytes(out)


def batches(records_bytes):
    """[(base_offset, [(offset, ts, key, value)])] of uncompressed magic-2 batches."""
    out, pos = [], 0
    while pos + 61 <= len(records_bytes):
        base, length = struct.unpack(">qi", records_bytes[pos:pos + 12])
        if pos + 12 + length > len(records_bytes):
            break
        b = records_bytes[pos:pos + 12 + length]
        base_ts = struct.unpack(">q", b[27:35])[0]
        count = struct.unpack(">i", b[57:61])[0]
        r = Rd(b[61:])
        recs = []

        def zz():
            v = r.uv()
            return (v >> 1) ^ -(v & 1)

        for _ in range(count):
            zz()
            r.i8()
            tsd, od = zz(), zz()
            kl = zz()
            k = r.take(kl) if kl >= 0 else None
            vl = zz()
            v = r.take(vl) if vl >= 0 else None
            for _ in range(zz()):
                r.take(zz())
                hv = zz()
                if hv > 0:
                    r.take(hv)
            recs.append((base + od, base_ts + tsd, k, v))
        out.append((base, recs))
        pos += 12 + length
    return out


def test_legacy_produce_v2():
    topic = "raw-legacy-v2-%d" % os.getpid()
    s = pt.conn()
    pt.wait_topic(s, topic)
    ts = int(time.time() * 1000) - 5000
    recs = [(b"k%d" % i, b"value-%d" % i) for i in range(5)]
    mset = legacy_v1_set(recs, ts)
    body = struct.pack(">hi", 1, 10000) + struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic.encode()
    body += struct.pack(">i", 1) + struct.pack(">ii", 0, len(mset)) + mset
    s.sendall(pt.frame(0, 2, 1, body))
    try:
        err = pt.produce_error(pt.read_response(s)[1])
    except EOFError:
        # Apache Kafka 4.x closes the connection here: it no longer accepts Produce v0-2.
        check(False, "Produce v2 closed the connection (Kafka 4.x behaviour; Skiff accepts legacy sets)")
        return
    check(err == 0, "Produce v2 with a magic-1 message set accepted (err %d)" % err)
    s.sendall(pt.frame(1, 4, 2, fetch_body(topic, 0, 1 << 20)))
    parts = fetch_v4_partitions(pt.read_response(s)[1])
    got = [rs for _, rs in batches(parts[0][3])] if parts else []
    flat = [r for rs in got for r in rs]
    want = [(i, ts + i, k, v) for i, (k, v) in enumerate(recs)]
    check(flat == want, "legacy records read back as magic 2: %r" % (flat[:2],))
    s.close()


def test_max_timestamp():
    topic = "raw-max-ts-%d" % os.getpid()
    s = pt.conn()
    pt.wait_topic(s, topic)
    ts = int(time.time() * 1000) - 5000
    for i in range(3):  # three batches; the middle one holds the largest timestamp
        s.sendall(pt.produce_v3(10 + i, topic, pt.produce_batch_v2(2, 10, ts=ts + (1000 if i == 1 else i))))
        pt.read_response(s)
    # ListOffsets v7 max timestamp (-3): the first record carrying the maximum.
    lo = struct.pack(">ib", -1, 0) + carr([cstr(topic) + carr([struct.pack(">iiq", 0, -1, -3) + b"\x00"]) + b"\x00"]) + b"\x00"
    s.sendall(flex_request(2, 7, 3, lo))
    _, r = flex_response(s)
    r.i32()
    r.uv(), r.cstr(), r.uv()
    _p, lerr, lts, loff = r.i32(), r.i16(), r.i64(), r.i64()
    check(lerr == 0 and loff == 2 and lts == ts + 1000, "ListOffsets max timestamp: offset %d ts %d" % (loff, lts))
    s.close()


def main():
    for t in (test_long_poll, test_fetch_max_bytes, test_describe_cluster, test_topics_by_id, test_max_timestamp,
              test_legacy_produce_v2):
        first = len(FAILS) + len(pt.FAILS)
        t()
        ok = len(FAILS) + len(pt.FAILS) == first
        print("%s %s" % ("PASS" if ok else "FAIL", t.__name__[5:]), flush=True)
    if FAILS or pt.FAILS:
        print("FAIL api checks: %d failed checks" % (len(FAILS) + len(pt.FAILS)))
        sys.exit(1)
    print("PASS api checks: long poll, max_bytes, DescribeCluster, topics by id, legacy produce, max timestamp")


if __name__ == "__main__":
    main()
