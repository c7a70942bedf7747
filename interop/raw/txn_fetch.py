#!/usr/bin/env python3
"""Raw-socket checks of the transactional read path (standard library only): what a
read_committed consumer is given, which no client library shows directly.

With the transaction APIs advertised (AddPartitionsToTxn, EndTxn): a transactional
producer (InitProducerId v1 with a transactional id) commits a transaction, aborts a
second one, a plain producer writes between them, and a third transaction stays open.
Then:
- Fetch v4 read_uncommitted returns every batch; its last_stable_offset is the first
  offset of the open transaction, its high watermark the log end;
- Fetch v4 read_committed returns only whole batches below the LSO and lists the
  aborted transaction (producer id, first offset); filtering the batches the way
  clients do leaves exactly the committed and plain records, in order;
- ListOffsets v2 latest: the LSO at read_committed, the high watermark at
  read_uncommitted;
- a read_committed long poll parked at the LSO answers as soon as the open
  transaction commits (EndTxn from another connection), with its records;
- OffsetFetch v7 with require_stable answers UNSTABLE_OFFSET_COMMIT while a
  TxnOffsetCommit waits for its transaction, and the offset after the commit (KIP-447).
Without the transaction APIs (a broker without a coordinator), a transactional batch
of a made-up producer id is written directly and the LSO, the read_committed cap and
ListOffsets are checked against it (no aborted list can exist then).

Usage: BOOTSTRAP=host:port txn_fetch.py ; exits 1 on failure.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_test as pt  # noqa: E402  (framing, CRC-32C, topic creation)

FAILS = []
ABORT, COMMIT = 0, 1


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("  check failed: " + what, flush=True)


def zz(v):
    v = (v << 1) ^ (v >> 63)
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def read_zz(b, pos):
    shift, v = 0, 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return (v >> 1) ^ -(v & 1), pos


def str16(s):
    if s is None:
        return struct.pack(">h", -1)
    return struct.pack(">h", len(s)) + s.encode()


def batch(values, pid=-1, epoch=-1, seq=-1, txn=False, ts=None):
    """An uncompressed magic-2 batch of records with the given values."""
    recs = bytearray()
    for i, v in enumerate(values):
        body = b"\x00" + zz(0) + zz(i) + zz(-1) + zz(len(v)) + v + zz(0)
        recs += zz(len(body)) + body
    now = int(time.time() * 1000) if ts is None else ts
    attrs = 0x10 if txn else 0
    after_crc = struct.pack(">hiqqqhii", attrs, len(values) - 1, now, now, pid, epoch, seq, len(values)) + bytes(recs)
    inner = struct.pack(">ibI", 0, 2, pt.crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(inner)) + inner


class Client:
    def __init__(self):
        self.s = pt.conn()
        self.corr = 0

    def call(self, api, ver, body):
        self.corr += 1
        self.s.sendall(pt.frame(api, ver, self.corr, body))
        corr, resp = pt.read_response(self.s)
        assert corr == self.corr, "correlation id %d, expected %d" % (corr, self.corr)
        return resp

    def call_flex(self, api, ver, body):
        """A flexible-version request (header v2); the answer without its header."""
        self.corr += 1
        self.s.sendall(pt.frame(api, ver, self.corr, body, flexible=True))
        corr, resp = pt.read_response(self.s)
        assert corr == self.corr, "correlation id %d, expected %d" % (corr, self.corr)
        return resp[1:]  # response header v1: empty tagged fields

    def send(self, api, ver, body):
        self.corr += 1
        self.s.sendall(pt.frame(api, ver, self.corr, body))

    def close(self):
        self.s.close()


def api_versions(c):
    b = c.call(18, 0, b"")
    err, n = struct.unpack(">hi", b[:6])
    apis = {}
    for i in range(n):
        k, lo, hi = struct.unpack(">hhh", b[6 + 6 * i:12 + 6 * i])
        apis[k] = (lo, hi)
    return apis


def produce(c, topic, data, txn_id=None):
    body = str16(txn_id) + struct.pack(">hi", -1, 10000)
    body += struct.pack(">i", 1) + str16(topic) + struct.pack(">i", 1) + struct.pack(">ii", 0, len(data)) + data
    b = c.call(0, 3, body)
    pos = 4 + 2 + len(topic) + 4  # responses count, topic, partitions count
    _part, err, base = struct.unpack(">ihq", b[pos:pos + 14])
    return err, base


def fetch_body(topic, offset, isolation, max_wait=0, min_bytes=0):
    b = struct.pack(">iiiib", -1, max_wait, min_bytes, 1 << 20, isolation)
    b += struct.pack(">i", 1) + str16(topic) + struct.pack(">i", 1) + struct.pack(">iqi", 0, offset, 1 << 20)
    return b


def parse_fetch(b):
    """(error, hw, lso, aborted [(pid, first)] or None, records bytes) of partition 0."""
    pos = 4
    (nt,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4
    assert nt == 1
    (tl,) = struct.unpack(">h", b[pos:pos + 2]); pos += 2 + tl
    (np_,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4
    assert np_ == 1
    _part, err, hw, lso = struct.unpack(">ihqq", b[pos:pos + 22]); pos += 22
    (na,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4
    aborted = None
    if na >= 0:
        aborted = [struct.unpack(">qq", b[pos + 16 * i:pos + 16 * i + 16]) for i in range(na)]
        pos += 16 * na
    (rl,) = struct.unpack(">i", b[pos:pos + 4]); pos += 4
    return err, hw, lso, aborted, b[pos:pos + max(rl, 0)]


def batches(data):
    """[(base_offset, last_offset, attributes, pid, [values] or control type)]."""
    out, pos = [], 0
    while pos + 61 <= len(data):
        base, blen = struct.unpack(">qi", data[pos:pos + 12])
        if pos + 12 + blen > len(data):
            break  # a partial batch at the end of a fetch
        attrs, delta = struct.unpack(">hi", data[pos + 21:pos + 27])
        (pid,) = struct.unpack(">q", data[pos + 43:pos + 51])
        (count,) = struct.unpack(">i", data[pos + 57:pos + 61])
        rp, vals = pos + 61, []
        for _ in range(count):
            ln, rp = read_zz(data, rp)
            end = rp + ln
            rp += 1  # attributes
            _, rp = read_zz(data, rp)
            _, rp = read_zz(data, rp)
            kl, rp = read_zz(data, rp)
            key = data[rp:rp + kl] if kl >= 0 else None
            rp += max(kl, 0)
            vl, rp = read_zz(data, rp)
            val = data[rp:rp + vl] if vl >= 0 else None
            vals.append(struct.unpack(">h", key[2:4])[0] if attrs & 0x20 else val)
            rp = end
        out.append((base, base + delta, attrs, pid, vals))
        pos += 12 + blen
    return out


def visible(data, aborted):
    """Values a read_committed consumer delivers (the clients' filter: a batch of a
    producer whose aborted transaction began at or before it is dropped until that
    producer's abort marker; control batches are never delivered)."""
    pending = sorted(aborted or [], key=lambda a: a[1])
    active, out = set(), []
    for base, _last, attrs, pid, vals in batches(data):
        while pending and pending[0][1] <= base:
            active.add(pending.pop(0)[0])
        if attrs & 0x20:
            if vals and vals[0] == ABORT:
                active.discard(pid)
            continue
        if attrs & 0x10 and pid in active:
            continue
        out += vals
    return out


def list_offsets_latest(c, topic, isolation, ts=-1):
    body = struct.pack(">ib", -1, isolation) + struct.pack(">i", 1) + str16(topic)
    body += struct.pack(">i", 1) + struct.pack(">iq", 0, ts)
    b = c.call(2, 2, body)
    pos = 4 + 4 + 2 + len(topic) + 4
    _part, err, _ts, off = struct.unpack(">ihqq", b[pos:pos + 22])
    return err, off


# ---- with the transaction APIs ----
RETRIABLE = (14, 15, 16, 51)  # COORDINATOR_LOAD_IN_PROGRESS, _NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS


class TxnProducer:
    def __init__(self, c, txn_id):
        self.c, self.txn_id, self.seq = c, txn_id, 0
        # FindCoordinator(transaction) first: Kafka creates __transaction_state on it
        # and answers NOT_COORDINATOR until its partition is loaded.
        deadline = time.time() + 60
        while True:
            b = c.call(10, 1, str16(txn_id) + struct.pack(">b", 1))
            (_thr, err) = struct.unpack(">ih", b[:6])
            if err == 0 or time.time() > deadline:
                break
            time.sleep(0.2)
        check(err == 0, "FindCoordinator(transaction) error %d" % err)
        while True:
            b = c.call(22, 1, str16(txn_id) + struct.pack(">i", 60000))
            _thr, err, self.pid, self.epoch = struct.unpack(">ihqh", b[:16])
            if err not in RETRIABLE or time.time() > deadline:
                break
            time.sleep(0.2)
        check(err == 0, "InitProducerId(%s) error %d" % (txn_id, err))

    def add(self, topic):
        body = str16(self.txn_id) + struct.pack(">qh", self.pid, self.epoch)
        body += struct.pack(">i", 1) + str16(topic) + struct.pack(">ii", 1, 0)
        for _ in range(100):  # CONCURRENT_TRANSACTIONS while the last one completes
            b = self.c.call(24, 1, body)
            pos = 4 + 4 + 2 + len(topic) + 4
            _part, err = struct.unpack(">ih", b[pos:pos + 6])
            if err not in RETRIABLE:
                break
            time.sleep(0.1)
        check(err == 0, "AddPartitionsToTxn error %d" % err)

    def send(self, topic, values, ts=None):
        err, base = produce(self.c, topic, batch(values, self.pid, self.epoch, self.seq, True, ts), self.txn_id)
        check(err == 0, "transactional produce error %d" % err)
        self.seq += len(values)
        return base

    def end_body(self, commit):
        return str16(self.txn_id) + struct.pack(">qhb", self.pid, self.epoch, 1 if commit else 0)

    def end(self, commit):
        b = self.c.call(26, 1, self.end_body(commit))
        (_thr, err) = struct.unpack(">ih", b[:6])
        check(err == 0, "EndTxn(%s) error %d" % ("commit" if commit else "abort", err))


def wait_lso(c, topic, want, timeout_s=10):
    """Markers may land after EndTxn answers: wait until the LSO reaches want."""
    deadline = time.time() + timeout_s
    lso = -1
    while time.time() < deadline:
        _err, _hw, lso, _ab, _recs = parse_fetch(c.call(1, 4, fetch_body(topic, 0, 0)))
        if lso >= want:
            return lso
        time.sleep(0.05)
    check(False, "LSO stayed at %d, expected %d" % (lso, want))
    return lso


def test_with_coordinator():
    topic = "raw-txn-fetch-%d" % os.getpid()
    c, other = Client(), Client()
    pt.wait_topic(c.s, topic)
    tp = TxnProducer(c, "raw-txn-%d" % os.getpid())
    tp.add(topic)
    tp.send(topic, [b"c1", b"c2", b"c3"])
    tp.end(True)
    tp.add(topic)
    aborted_first = tp.send(topic, [b"a1", b"a2"])
    tp.end(False)
    err, _ = produce(c, topic, batch([b"p1"]))
    check(err == 0, "plain produce error %d" % err)
    tp.add(topic)
    future_ts = int(time.time() * 1000) + 60000  # newer than anything committed
    open_first = tp.send(topic, [b"o1", b"o2"], future_ts)
    # Every marker of the first two transactions is in: the LSO is the open one's start.
    lso = wait_lso(c, topic, open_first)
    check(lso == open_first, "LSO %d, expected the open transaction's first offset %d" % (lso, open_first))

    err, hw, lso_u, ab_u, recs_u = parse_fetch(c.call(1, 4, fetch_body(topic, 0, 0)))
    check(err == 0 and ab_u is None, "read_uncommitted: error %d, aborted list %r (want null)" % (err, ab_u))
    check(lso_u == open_first, "read_uncommitted answer carries LSO %d, want %d" % (lso_u, open_first))
    bs = batches(recs_u)
    check(bs and bs[-1][1] == hw - 1, "read_uncommitted reaches the high watermark %d" % hw)
    check(any(b[4] == [b"a1", b"a2"] for b in bs), "read_uncommitted returns the aborted records")
    check(sum(1 for b in bs if b[2] & 0x20) == 2, "read_uncommitted returns both markers")
    # Kafka writes markers after answering EndTxn, so other writes may land before them:
    # find the abort marker of the aborted transaction rather than assume its offset.
    aborts = [b[0] for b in bs if b[2] & 0x20 and b[3] == tp.pid and b[4] == [0] and b[0] > aborted_first]
    check(len(aborts) == 1, "one abort marker after the aborted records, found %r" % aborts)
    abort_marker = aborts[0] if aborts else aborted_first + 2

    err, hw2, lso_c, ab_c, recs_c = parse_fetch(c.call(1, 4, fetch_body(topic, 0, 1)))
    check(err == 0 and lso_c == open_first and hw2 == hw, "read_committed: error %d lso %d hw %d" % (err, lso_c, hw2))
    bs = batches(recs_c)
    check(bs and all(b[1] < open_first for b in bs), "read_committed returns only batches below the LSO")
    check(bs and bs[-1][1] == open_first - 1, "read_committed returns everything below the LSO")
    check(ab_c == [(tp.pid, aborted_first)], "aborted list %r, want [(%d, %d)]" % (ab_c, tp.pid, aborted_first))
    got = visible(recs_c, ab_c)
    check(got == [b"c1", b"c2", b"c3", b"p1"], "read_committed consumer sees %r" % got)
    # From past the abort marker: the aborted transaction is not listed again.
    err, _, _, ab_late, _ = parse_fetch(c.call(1, 4, fetch_body(topic, abort_marker + 1, 1)))
    check(ab_late == [], "aborted list from after the abort marker: %r (want empty)" % ab_late)

    err, off = list_offsets_latest(c, topic, 1)
    check(err == 0 and off == open_first, "ListOffsets latest read_committed %d, want %d" % (off, open_first))
    err, off = list_offsets_latest(c, topic, 0)
    check(err == 0 and off == hw, "ListOffsets latest read_uncommitted %d, want %d" % (off, hw))
    # A timestamp only the open transaction reaches: found at read_uncommitted, not at
    # read_committed (Kafka answers -1 for an offset at or past the LSO).
    err, off = list_offsets_latest(c, topic, 0, future_ts)
    check(err == 0 and off == open_first, "ListOffsets by time read_uncommitted %d, want %d" % (off, open_first))
    err, off = list_offsets_latest(c, topic, 1, future_ts)
    check(err == 0 and off == -1, "ListOffsets by time read_committed %d, want -1" % off)

    # A read_committed long poll at the LSO wakes when the open transaction commits.
    t0 = time.time()
    c.send(1, 4, fetch_body(topic, open_first, 1, max_wait=10000, min_bytes=1))
    time.sleep(0.3)
    tp_other = tp
    tp_other.c = other
    tp_other.end(True)
    _, body = pt.read_response(c.s)
    waited = time.time() - t0
    err, _, lso_end, ab_end, recs_end = parse_fetch(body)
    check(waited < 3.0, "read_committed long poll answered %.2f s after the commit (max_wait 10 s)" % waited)
    check(visible(recs_end, ab_end) == [b"o1", b"o2"], "long poll returned %r" % visible(recs_end, ab_end))
    check(lso_end == hw + 1, "LSO after the commit %d, want %d (after the marker)" % (lso_end, hw + 1))
    c.close()
    other.close()


def uvarint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def cstr(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def offset_fetch_stable(c, group, topic):
    """OffsetFetch v7 with require_stable for partition 0: (error, committed offset),
    retried while the group coordinator is loading (Kafka answers NOT_COORDINATOR then)."""
    for _ in range(100):
        err, off = offset_fetch_stable_once(c, group, topic)
        if err not in RETRIABLE:
            break
        time.sleep(0.1)
    return err, off


def offset_fetch_stable_once(c, group, topic):
    body = cstr(group) + uvarint(2) + cstr(topic) + uvarint(2) + struct.pack(">i", 0) + b"\0"
    b = c.call_flex(9, 7, body + b"\1\0")
    if len(b) < 4 + 1 + 1 or b[4] != 2:  # no topic in the answer: the group-level error
        return struct.unpack(">h", b[-3:-1])[0] if len(b) >= 3 else -1, -1
    pos = 4 + 1  # throttle, one topic
    n = b[pos] - 1
    pos += 1 + n + 1  # name, one partition
    _part, offset, _epoch = struct.unpack(">iqi", b[pos:pos + 16])
    pos += 16
    mlen = b[pos] - 1
    pos += 1 + max(mlen, 0)
    (err,) = struct.unpack(">h", b[pos:pos + 2])
    return err, offset


def test_unstable_offsets():
    """KIP-447: OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT (88) while
    a transactional offset commit waits for its marker, and the offset once committed."""
    topic, group = "raw-txn-stable-%d" % os.getpid(), "raw-txn-stable-g-%d" % os.getpid()
    c = Client()
    pt.wait_topic(c.s, topic)
    deadline = time.time() + 60
    while True:  # the group coordinator (Kafka creates __consumer_offsets here)
        b = c.call(10, 1, str16(group) + struct.pack(">b", 0))
        (_thr, err) = struct.unpack(">ih", b[:6])
        if err == 0 or time.time() > deadline:
            break
        time.sleep(0.2)
    check(err == 0, "FindCoordinator(group) error %d" % err)
    tp = TxnProducer(c, "raw-txn-stable-%d" % os.getpid())
    tp.add(topic)
    tp.send(topic, [b"s1"])
    b = c.call(25, 1, str16(tp.txn_id) + struct.pack(">qh", tp.pid, tp.epoch) + str16(group))
    (_thr, err) = struct.unpack(">ih", b[:6])
    check(err == 0, "AddOffsetsToTxn error %d" % err)
    body = str16(tp.txn_id) + str16(group) + struct.pack(">qh", tp.pid, tp.epoch)
    body += struct.pack(">i", 1) + str16(topic) + struct.pack(">i", 1) + struct.pack(">iqi", 0, 42, -1) + str16("")
    for _ in range(100):  # Kafka answers NOT_COORDINATOR while the group's partition loads
        b = c.call(28, 2, body)
        pos = 4 + 4 + 2 + len(topic) + 4
        _part, err = struct.unpack(">ih", b[pos:pos + 6])
        if err not in RETRIABLE:
            break
        time.sleep(0.1)
    check(err == 0, "TxnOffsetCommit error %d" % err)
    err, off = offset_fetch_stable(c, group, topic)
    check(err == 88 and off == -1, "OffsetFetch(require_stable) during the transaction: error %d offset %d "
          "(want 88 UNSTABLE_OFFSET_COMMIT, -1)" % (err, off))
    tp.end(True)
    for _ in range(100):  # Kafka writes the markers after answering EndTxn
        err, off = offset_fetch_stable(c, group, topic)
        if err == 0 and off == 42:
            break
        time.sleep(0.1)
    check(err == 0 and off == 42, "OffsetFetch(require_stable) after the commit: error %d offset %d (want 0, 42)"
          % (err, off))
    c.close()


# ---- without a coordinator ----
def test_without_coordinator():
    topic = "raw-txn-direct-%d" % os.getpid()
    c = Client()
    pt.wait_topic(c.s, topic)
    err, _ = produce(c, topic, batch([b"p1", b"p2"]))
    check(err == 0, "plain produce error %d" % err)
    pid = 0x5EED0000 + os.getpid()
    err, first = produce(c, topic, batch([b"t1"], pid, 0, 0, True))
    if err != 0:
        check(False, "a transactional batch was refused (error %d) by a broker without the "
                     "transaction APIs" % err)
        return
    produce(c, topic, batch([b"p3"]))
    err, hw, lso, ab, recs = parse_fetch(c.call(1, 4, fetch_body(topic, 0, 1)))
    check(lso == first == 2, "LSO %d with a transaction open at %d" % (lso, first))
    check(hw == 4, "high watermark %d, want 4" % hw)
    check(ab == [], "aborted list %r (want empty)" % ab)
    check(visible(recs, ab) == [b"p1", b"p2"], "read_committed sees %r" % visible(recs, ab))
    err, _, _, _, recs = parse_fetch(c.call(1, 4, fetch_body(topic, 0, 0)))
    check(visible(recs, []) == [b"p1", b"p2", b"t1", b"p3"], "read_uncommitted sees %r" % visible(recs, []))
    err, off = list_offsets_latest(c, topic, 1)
    check(off == 2, "ListOffsets latest read_committed %d, want 2" % off)
    # A plain batch of the same producer inside its transaction is refused.
    err, _ = produce(c, topic, batch([b"x"], pid, 0, 1, False))
    check(err == 48, "plain write inside an open transaction: error %d, want INVALID_TXN_STATE" % err)
    c.close()


def main():
    c = Client()
    apis = api_versions(c)
    c.close()
    if 24 in apis and 26 in apis:
        name, t = "with_coordinator", lambda: (test_with_coordinator(), test_unstable_offsets())
    else:
        name, t = "without_coordinator", test_without_coordinator
    t()
    fails = FAILS + pt.FAILS
    print("%s txn_fetch %s" % ("FAIL" if fails else "PASS", name), flush=True)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
