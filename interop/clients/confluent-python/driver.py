#!/usr/bin/env python3
"""interop/clients/confluent-python/driver.py: the interop matrix driver for
confluent-kafka-python (librdkafka underneath, pinned in interop/matrix.sh).

Usage: driver.py <bootstrap> <scenario> <topic-prefix>
Implements the scenarios of interop/scenarios/scenarios.txt and ends with exactly one
PASS/FAIL/SKIP line (exit 0, 1, 0). Every wait is bounded; nothing here asserts on
broker answers beyond reporting them as FAIL.
"""
import os
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


class Fail(Exception):
    pass


BOOT, SCN, PREFIX = sys.argv[1], sys.argv[2], sys.argv[3]
DEFAULT_RECORDS = {"produce_consume": 1000, "keyed_6p": 1200, "idempotent": 1000}
RECORDS = int(os.environ.get("SCN_RECORDS") or DEFAULT_RECORDS.get(SCN, 2000))
BASE = {"bootstrap.servers": BOOT}


_ADMIN = []


def admin():
    """one admin client for the run (a dropped handle fails its pending futures)"""
    if not _ADMIN:
        _ADMIN.append(AdminClient(dict(BASE)))
    return _ADMIN[0]


def create_topic(name, partitions):
    fs = admin().create_topics([NewTopic(name, partitions, 1)], operation_timeout=15)
    try:
        fs[name].result(20)
    except KafkaException as e:
        raise Fail(f"CreateTopics {name}: {e.args[0]}")
    wait_metadata(name, partitions)


def wait_metadata(name, partitions, timeout_s=15.0):
    deadline = time.time() + timeout_s
    seen = None
    while time.time() < deadline:
        md = admin().list_topics(timeout=5)
        t = md.topics.get(name)
        if t is not None and t.error is None:
            seen = len(t.partitions)
            if seen == partitions and all(p.leader >= 0 for p in t.partitions.values()):
                return
        time.sleep(0.2)
    raise Fail(f"Metadata for {name}: {seen} partitions with leaders, want {partitions}")


def produce(records, conf=None, topic=None):
    """records: list of (topic, partition or None, key, value, headers) -> acks list"""
    p = Producer({**BASE, "acks": "all", "linger.ms": 20, **(conf or {})})
    acks, errors = [], []

    def cb(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acks.append((msg.partition(), msg.offset()))

    for (t, part, k, v, h) in records:
        kw = {"key": k, "value": v, "on_delivery": cb}
        if part is not None:
            kw["partition"] = part
        if h:
            kw["headers"] = h
        while True:
            try:
                p.produce(t, **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(30)
    if errors:
        raise Fail(f"Produce delivery error: {errors[0]}")
    if left:
        raise Fail(f"Produce: {left} records not acknowledged within 30 s")
    return acks


def read_all(topic, partitions, expect, conf=None, timeout_s=30.0):
    """assign partitions from offset 0, read until `expect` records arrived"""
    c = Consumer({**BASE, "group.id": f"{PREFIX}-unused", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", **(conf or {})})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = []
    deadline = time.time() + timeout_s
    try:
        while len(out) < expect and time.time() < deadline:
            for m in c.consume(500, 0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise Fail(f"Fetch error: {m.error()}")
                out.append(m)
        # a little longer: nothing beyond `expect` may show up
        end = time.time() + 0.5
        while time.time() < end:
            out.extend(m for m in c.consume(500, 0.2) if not m.error())
    finally:
        c.close()
    if len(out) != expect:
        raise Fail(f"Fetch: read {len(out)} records from {topic}, want {expect}")
    return out


def s(b):
    return None if b is None else b.decode("utf-8", "replace")


def sc_metadata_admin():
    name = f"{PREFIX}-adm"
    create_topic(name, 3)
    fs = admin().create_topics([NewTopic(name, 3, 1)], operation_timeout=15)
    try:
        fs[name].result(20)
        raise Fail("CreateTopics of an existing topic succeeded, want TOPIC_ALREADY_EXISTS")
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise Fail(f"CreateTopics duplicate: {e.args[0]}, want TOPIC_ALREADY_EXISTS")
    fs = admin().delete_topics([name], operation_timeout=15)
    try:
        fs[name].result(20)
    except KafkaException as e:
        raise Fail(f"DeleteTopics: {e.args[0]}")
    deadline = time.time() + 15
    while time.time() < deadline:
        if name not in admin().list_topics(timeout=5).topics:
            return "create 3 partitions, duplicate -> TOPIC_ALREADY_EXISTS, delete"
        time.sleep(0.2)
    raise Fail("Metadata still lists the topic 15 s after DeleteTopics")


def sc_produce_consume():
    t = f"{PREFIX}-pc"
    create_topic(t, 1)
    produce([(t, 0, f"k{i}".encode(), f"v{i}".encode(), None) for i in range(RECORDS)])
    for i, m in enumerate(read_all(t, 1, RECORDS)):
        if m.offset() != i or s(m.key()) != f"k{i}" or s(m.value()) != f"v{i}":
            raise Fail(f"record {i}: offset {m.offset()} key {s(m.key())} value {s(m.value())}")
    return f"{RECORDS} records in order at offsets 0..{RECORDS - 1}"


def keyed_records(t, nkeys):
    counts, recs = {}, []
    for i in range(RECORDS):
        k = f"key-{i % nkeys}"
        n = counts.get(k, 0)
        counts[k] = n + 1
        recs.append((t, None, k.encode(), f"{k}#{n}".encode(), None))
    return recs


def check_keyed(msgs):
    where, nxt = {}, {}
    for m in sorted(msgs, key=lambda m: (m.partition(), m.offset())):
        k = s(m.key())
        if where.setdefault(k, m.partition()) != m.partition():
            raise Fail(f"key {k} in partitions {where[k]} and {m.partition()}")
        want = f"{k}#{nxt.get(k, 0)}"
        if s(m.value()) != want:
            raise Fail(f"key {k} p{m.partition()}@{m.offset()}: {s(m.value())}, want {want}")
        nxt[k] = nxt.get(k, 0) + 1
    return len(set(where.values()))


def sc_keyed_6p():
    t = f"{PREFIX}-keyed"
    create_topic(t, 6)
    produce(keyed_records(t, 24))
    used = check_keyed(read_all(t, 6, RECORDS))
    return f"{RECORDS} records, 24 keys over {used} partitions, per-key order kept"


def sc_headers_nulls():
    t = f"{PREFIX}-hdr"
    create_topic(t, 1)
    hdrs = [("h1", b"a"), ("h2", b"\x00\xff\x7f"), ("h1", b"b"), ("empty", b"")]
    produce([(t, 0, None, b"v0", None), (t, 0, b"k1", None, None),
             (t, 0, None, None, None), (t, 0, b"k3", b"v3", hdrs)])
    got = read_all(t, 1, 4)
    want = [(None, b"v0"), (b"k1", None), (None, None), (b"k3", b"v3")]
    for i, m in enumerate(got):
        if (m.key(), m.value()) != want[i]:
            raise Fail(f"record {i}: key {m.key()!r} value {m.value()!r}, want {want[i]}")
        h = m.headers() or []
        if i < 3 and h:
            raise Fail(f"record {i}: unexpected headers {h}")
    h = [(k, v if v is not None else None) for (k, v) in (got[3].headers() or [])]
    if h != hdrs:
        raise Fail(f"record 3 headers {h}, want {hdrs}")
    return "null key/value stay null, 4 headers in order with duplicate and empty value"


def sc_compression(codec):
    t = f"{PREFIX}-z"
    create_topic(t, 1)
    produce([(t, 0, None, f"value-{i}-{'x' * 100}".encode(), None) for i in range(RECORDS)],
            {"compression.type": codec, "linger.ms": 50})
    for i, m in enumerate(read_all(t, 1, RECORDS)):
        if s(m.value()) != f"value-{i}-{'x' * 100}":
            raise Fail(f"record {i}: value {s(m.value())[:40]}...")
    return f"{RECORDS} {codec} records read back in order"


def sc_idempotent():
    t = f"{PREFIX}-idem"
    create_topic(t, 3)
    produce(keyed_records(t, 30), {"enable.idempotence": True})
    check_keyed(read_all(t, 3, RECORDS))
    return f"{RECORDS} records, no duplicates, per-key order kept"


def group_consumer(name):
    c = Consumer({**BASE, "group.id": f"{PREFIX}-g", "client.id": name,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 500})
    c.subscribe([f"{PREFIX}-grp"])
    return c


def poll_values(consumers, want, timeout_s=45.0):
    """poll all consumers round robin until `want` values arrived; returns {name: [values]}"""
    got = {n: [] for n in consumers}
    deadline = time.time() + timeout_s
    while sum(len(v) for v in got.values()) < want and time.time() < deadline:
        for n, c in consumers.items():
            for m in c.consume(100, 0.2):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        raise Fail(f"consumer {n}: {m.error()}")
                    continue
                got[n].append(s(m.value()))
    return got


def sc_group_commit():
    t = f"{PREFIX}-grp"
    create_topic(t, 4)
    produce([(t, i % 4, None, f"r{i}".encode(), None) for i in range(400)])
    a = group_consumer("A")
    got = poll_values({"A": a}, 400)
    if sorted(got["A"]) != sorted(f"r{i}" for i in range(400)):
        raise Fail(f"step 1: A read {len(got['A'])} records, want the 400 produced")
    a.commit(asynchronous=False)
    b = group_consumer("B")
    deadline = time.time() + 45
    while time.time() < deadline:
        extra = poll_values({"A": a, "B": b}, 1, 0.4)
        if any(extra.values()):
            raise Fail(f"step 2: committed records delivered again: {extra}")
        pa = {p.partition for p in a.assignment()}
        pb = {p.partition for p in b.assignment()}
        if pa and pb and not (pa & pb) and (pa | pb) == {0, 1, 2, 3}:
            break
    else:
        raise Fail(f"step 2: no rebalance to two members: A {pa}, B {pb}")
    produce([(t, i % 4, None, f"r{i}".encode(), None) for i in range(400, 440)])
    got = poll_values({"A": a, "B": b}, 40)
    vals = got["A"] + got["B"]
    if sorted(vals) != sorted(f"r{i}" for i in range(400, 440)):
        raise Fail(f"step 3: A+B read {len(vals)} records, want exactly r400..r439")
    a.commit(asynchronous=False)
    b.commit(asynchronous=False)
    a.close()
    b.close()
    produce([(t, i % 4, None, f"r{i}".encode(), None) for i in range(440, 448)])
    c = group_consumer("C")
    got = poll_values({"C": c}, 8)
    extra = poll_values({"C": c}, 1, 1.0)
    c.close()
    vals = got["C"] + extra["C"]
    if sorted(vals) != sorted(f"r{i}" for i in range(440, 448)):
        raise Fail(f"step 4: C read {sorted(vals)[:10]}..., want exactly r440..r447")
    return f"rebalance A={sorted(pa)} B={sorted(pb)}, commits resumed by C"


def sc_transactions():
    t = f"{PREFIX}-txn"
    create_topic(t, 1)
    p = Producer({**BASE, "transactional.id": f"{PREFIX}-tx"})
    try:
        p.init_transactions(30)
        for tag, commit in (("c1", True), ("a", False), ("c2", True)):
            p.begin_transaction()
            for i in range(10):
                p.produce(t, value=f"{tag}-{i}".encode(), partition=0)
            p.flush(30)
            if commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)
    except KafkaException as e:
        raise Fail(f"transactional producer: {e.args[0]}")
    got = [s(m.value()) for m in read_all(t, 1, 20, {"isolation.level": "read_committed"})]
    want = [f"c1-{i}" for i in range(10)] + [f"c2-{i}" for i in range(10)]
    if got != want:
        raise Fail(f"read_committed read {got}, want {want}")
    return "read_committed sees the two committed transactions only, in order"


def main():
    fn = {"metadata_admin": sc_metadata_admin, "produce_consume": sc_produce_consume,
          "keyed_6p": sc_keyed_6p, "headers_nulls": sc_headers_nulls,
          "idempotent": sc_idempotent, "group_commit": sc_group_commit,
          "transactions": sc_transactions}.get(SCN)
    if fn is None and SCN.startswith("compression_"):
        fn = lambda: sc_compression(SCN.split("_", 1)[1])  # noqa: E731
    if fn is None:
        print(f"FAIL {SCN}: unknown scenario")
        return 1
    try:
        print(f"PASS {SCN}: {fn()}")
        return 0
    except Fail as e:
        print(f"FAIL {SCN}: {e}")
    except KafkaException as e:
        print(f"FAIL {SCN}: {e.args[0]}")
    except Exception as e:  # a client-side crash is a failed cell, with its reason
        print(f"FAIL {SCN}: {type(e).__name__}: {e}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
