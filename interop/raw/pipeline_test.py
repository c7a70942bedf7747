#!/usr/bin/env python3
"""Raw-socket checks of the broker's connection handling (standard library only).

1. Pipelining: 2,000 ApiVersions and Metadata requests written back to back without
   reading; every response must arrive, complete, in request order (correlation ids
   0..N-1), while the broker pauses reading instead of buffering without bound.
2. Slow reader: a client that requests ~200 MB of fetch data and reads it slowly must
   not make the broker's memory grow by that much (back-pressure), and other clients
   keep being served meanwhile.
3. Bad frames: a negative size, a size over socket.request.max.bytes, an unknown API
   key and an unsupported version each close that connection (no crash); a too-high
   ApiVersions version gets UNSUPPORTED_VERSION in the v0 layout.

Usage: BOOTSTRAP=host:port [BROKER_PID=pid] pipeline_test.py
Prints PASS/FAIL lines; exits 1 on failure.
"""
import os
import socket
import struct
import sys
import time

HOST, PORT = os.environ.get("BOOTSTRAP", "127.0.0.1:9092").rsplit(":", 1)
PORT = int(PORT)
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("  check failed: " + what, flush=True)


def conn():
    s = socket.create_connection((HOST, PORT), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def frame(api_key, version, corr, body=b"", client=b"raw-test", flexible=False):
    hdr = struct.pack(">hhih", api_key, version, corr, len(client)) + client
    if flexible:
        hdr += b"\x00"  # request header v2: empty tagged-field section
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def read_response(s):
    size = struct.unpack(">i", read_exact(s, 4))[0]
    data = read_exact(s, size)
    return struct.unpack(">i", data[:4])[0], data[4:]


def is_closed(s, timeout=5.0):
    s.settimeout(timeout)
    try:
        data = s.recv(1)
        return data == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def rss_kb(pid):
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def metadata_v1_body(topics):
    if topics is None:
        return struct.pack(">i", -1)
    b = struct.pack(">i", len(topics))
    for t in topics:
        b += struct.pack(">h", len(t)) + t.encode()
    return b


def wait_topic(s, topic, timeout_s=30):
    """Send Metadata v1 for topic (auto-creating it) until every partition has a leader;
    Kafka creates topics asynchronously, so the first answers may not have one yet."""
    deadline = time.time() + timeout_s
    corr = 900000
    while time.time() < deadline:
        corr += 1
        s.sendall(frame(3, 1, corr, metadata_v1_body([topic])))
        _, b = read_response(s)
        pos = 0
        (nb,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4
        for _ in range(nb):
            pos += 4
            (hl,) = struct.unpack(">h", b[pos:pos + 2]); pos += 2 + hl + 4
            (rl,) = struct.unpack(">h", b[pos:pos + 2]); pos += 2 + max(rl, 0)
        pos += 4  # controller id
        (nt,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4
        ok = nt == 1
        if ok:
            (terr,) = struct.unpack(">h", b[pos:pos + 2]); pos += 2
            (tl,) = struct.unpack(">h", b[pos:pos + 2]); pos += 2 + tl + 1
            (np_,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4
            ok = terr == 0 and np_ > 0
            for _ in range(np_ if ok else 0):
                perr, _idx, leader = struct.unpack(">hii", b[pos:pos + 10]); pos += 10
                (nr,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4 + 4 * nr
                (ni,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4 + 4 * ni
                ok = ok and perr == 0 and leader >= 0
        if ok:
            return True
        time.sleep(0.2)
    check(False, "topic %s has no leader after %d s" % (topic, timeout_s))
    return False


def test_pipelining():
    first_fail = len(FAILS)
    s = conn()
    n = 2000
    out = bytearray()
    for i in range(n):
        if i % 2 == 0:
            out += frame(18, 0, i)
        else:
            out += frame(3, 1, i, metadata_v1_body([]))
    s.sendall(out)
    for i in range(n):
        corr, body = read_response(s)
        if corr != i:
            check(False, "pipelining: response %d has correlation id %d" % (i, corr))
            break
        if i % 2 == 0:
            check(struct.unpack(">h", body[:2])[0] == 0, "pipelining: ApiVersions error")
    s.close()
    print("PASS pipelining: %d requests answered in order" % n if len(FAILS) == first_fail else "FAIL pipelining", flush=True)


def produce_batch_v2(n_records, value_size, ts=None):
    """An uncompressed magic-2 batch with n records (CRC-32C computed here)."""
    def varint(v):
        v = (v << 1) ^ (v >> 63)
        out = bytearray()
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
        return bytes(out)

    recs = bytearray()
    value = b"x" * value_size
    for i in range(n_records):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(value)) + value + varint(0)
        recs += varint(len(body)) + body
    now = int(time.time() * 1000) if ts is None else ts
    after_crc = struct.pack(">hiqqqhii", 0, n_records - 1, now, now, -1, -1, -1, n_records) + bytes(recs)
    crc = crc32c(after_crc)
    inner = struct.pack(">ibI", 0, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(inner)) + inner


_CRC_TABLE = []


def crc32c(data):
    if not _CRC_TABLE:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
            _CRC_TABLE.append(c)
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _CRC_TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def produce_v3(corr, topic, batch):
    body = struct.pack(">hhi", -1, 1, 10000)  # null transactional id, acks=1, timeout
    body += struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic.encode()
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(batch)) + batch
    return frame(0, 3, corr, body)


def fetch_v4(corr, topic, offset, max_bytes):
    body = struct.pack(">iiiib", -1, 0, 1, max_bytes, 0)
    body += struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic.encode()
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, offset, max_bytes)
    return frame(1, 4, corr, body)


def test_slow_reader(pid):
    first_fail = len(FAILS)
    topic = "raw-slow-reader"
    s = conn()
    wait_topic(s, topic)  # Metadata v1 auto-creates it
    batch = produce_batch_v2(500, 1000)  # ~0.5 MB
    for i in range(4):
        s.sendall(produce_v3(10 + i, topic, batch))
        corr, body = read_response(s)
    # 400 fetches of ~2 MB each, written without reading: ~800 MB of responses.
    before = rss_kb(pid) if pid else None
    reqs = bytearray()
    for i in range(400):
        reqs += fetch_v4(100 + i, topic, 0, 2 * 1024 * 1024)
    s.setblocking(True)
    s.sendall(reqs)
    time.sleep(2)
    during = rss_kb(pid) if pid else None
    # Another client is served meanwhile.
    o = conn()
    o.sendall(frame(18, 0, 7))
    corr, _ = read_response(o)
    check(corr == 7, "slow reader: other client not served")
    o.close()
    got = 0
    for i in range(400):
        corr, body = read_response(s)
        if corr != 100 + i:
            check(False, "slow reader: out of order response %d" % corr)
            break
        got += len(body)
    s.close()
    if before is not None and during is not None:
        grew_mb = (during - before) / 1024.0
        print("  broker RSS before %.1f MB, while 800 MB were requested %.1f MB" % (before / 1024.0, during / 1024.0))
        check(grew_mb < 200, "slow reader: broker RSS grew by %.0f MB" % grew_mb)
    check(got > 100 * 1024 * 1024, "slow reader: only %d bytes received" % got)
    print("%s slow reader: %d MB received in order" % ("PASS" if len(FAILS) == first_fail else "FAIL", got >> 20), flush=True)


def test_bad_frames():
    first_fail = len(FAILS)
    s = conn()
    s.sendall(struct.pack(">i", -1))
    check(is_closed(s), "negative size: connection not closed")
    s = conn()
    s.sendall(struct.pack(">i", 0x7FFFFFFF))
    check(is_closed(s), "2 GiB size: connection not closed")
    s = conn()
    s.sendall(frame(32767, 0, 1))
    check(is_closed(s), "unknown api key: connection not closed")
    s = conn()
    s.sendall(frame(3, 99, 1, metadata_v1_body(None)))
    check(is_closed(s), "unsupported Metadata version: connection not closed")
    s = conn()
    s.sendall(frame(18, 99, 5, flexible=True))
    corr, body = read_response(s)
    err, count = struct.unpack(">hi", body[:6])
    check(corr == 5 and err == 35 and count == 1, "ApiVersions v99: want v0 layout with error 35")
    key, vmin, vmax = struct.unpack(">hhh", body[6:12])
    check(key == 18 and vmin == 0 and vmax >= 3, "ApiVersions v99: want the ApiVersions range")
    s.close()
    # The broker is still fine.
    s = conn()
    s.sendall(frame(18, 0, 9))
    check(read_response(s)[0] == 9, "broker unusable after bad frames")
    s.close()
    print("%s bad frames" % ("PASS" if len(FAILS) == first_fail else "FAIL"), flush=True)


def produce_error(body):
    """Error code of the single partition in a Produce v3 response body."""
    # topics[1]: name, partitions[1]: index, error_code
    pos = 4
    nlen = struct.unpack(">h", body[pos:pos + 2])[0]
    pos += 2 + nlen + 4 + 4
    return struct.unpack(">h", body[pos:pos + 2])[0]


def test_produce_errors():
    first_fail = len(FAILS)
    topic = "raw-produce-errors"
    s = conn()
    wait_topic(s, topic)
    future = int(time.time() * 1000) + 2 * 3600 * 1000
    s.sendall(produce_v3(2, topic, produce_batch_v2(3, 10, ts=future)))
    check(produce_error(read_response(s)[1]) == 32, "record 2 h in the future: want INVALID_TIMESTAMP")
    bad = bytearray(produce_batch_v2(3, 10))
    bad[-1] ^= 0xFF  # breaks the CRC
    s.sendall(produce_v3(3, topic, bytes(bad)))
    check(produce_error(read_response(s)[1]) == 2, "wrong CRC: want CORRUPT_MESSAGE")
    s.sendall(produce_v3(4, "raw-no-such-topic-x", produce_batch_v2(1, 10)))
    check(produce_error(read_response(s)[1]) == 3, "unknown topic: want UNKNOWN_TOPIC_OR_PARTITION")
    s.sendall(produce_v3(5, topic, produce_batch_v2(2, 10)))
    check(produce_error(read_response(s)[1]) == 0, "valid batch after errors: want NONE")
    s.close()
    print("%s produce errors" % ("PASS" if len(FAILS) == first_fail else "FAIL"), flush=True)


def main():
    pid = os.environ.get("BROKER_PID")
    test_pipelining()
    test_bad_frames()
    test_produce_errors()
    test_slow_reader(pid)
    if FAILS:
        print("FAIL raw: %d failed checks" % len(FAILS))
        sys.exit(1)
    print("PASS raw: pipelining, back-pressure, bad frames")


if __name__ == "__main__":
    main()
