#!/usr/bin/env python3
"""interop/clients/kafka-python/driver.py: the interop matrix driver for kafka-python,
a pure-Python client. The same file runs two clients: kafka-python 3.x from a venv
(pinned in requirements.txt) and Debian's python3-kafka 2.0.2 under /usr/bin/python3.

Usage: driver.py <bootstrap> <scenario> <topic-prefix>
Implements interop/scenarios/scenarios.txt; ends with one PASS/FAIL/SKIP line (exit 0,
1, 0). SKIP is printed only for what the installed kafka-python version lacks
(2.0.2 has no idempotent or transactional producer and no read_committed). All waits
are bounded.
"""
import logging
import os
import sys
import threading
import time

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError


class Fail(Exception):
    pass


class Skip(Exception):
    pass


BOOT, SCN, PREFIX = sys.argv[1], sys.argv[2], sys.argv[3]
DEFAULT_RECORDS = {"produce_consume": 1000, "keyed_6p": 1200, "idempotent": 1000}
RECORDS = int(os.environ.get("SCN_RECORDS") or DEFAULT_RECORDS.get(SCN, 2000))
VERSION = tuple(int(x) for x in kafka.__version__.split(".")[:2])
_ADMIN = []


def admin():
    if not _ADMIN:
        _ADMIN.append(KafkaAdminClient(bootstrap_servers=BOOT, request_timeout_ms=20000))
    return _ADMIN[0]


def leaders(name):
    """partition count with a leader, or None if the topic is not listed"""
    for t in admin().describe_topics([name]):
        # 2.0.2 names the fields topic/leader, 3.x name/leader_id
        if t.get("topic", t.get("name")) == name and t.get("error_code", 0) == 0:
            return sum(1 for p in t["partitions"] if p.get("leader", p.get("leader_id")) >= 0)
    return None


def create_topic(name, partitions):
    try:
        admin().create_topics([NewTopic(name, partitions, 1)], timeout_ms=20000)
    except KafkaError as e:
        raise Fail(f"CreateTopics {name}: {e!r}")
    deadline = time.time() + 15
    n = None
    while time.time() < deadline:
        try:
            n = leaders(name)
        except KafkaError:
            n = None
        if n == partitions:
            return
        time.sleep(0.2)
    raise Fail(f"Metadata for {name}: {n} partitions with leaders, want {partitions}")


def producer(**conf):
    return KafkaProducer(**{"bootstrap_servers": BOOT, "acks": "all", "linger_ms": 20, **conf})


def produce(records, **conf):
    """records: (topic, partition or None, key, value, headers) -> [(partition, offset)]"""
    p = producer(**conf)
    futs = []
    for (t, part, k, v, h) in records:
        futs.append(p.send(t, key=k, value=v, partition=part, headers=h or []))
    p.flush(30)
    acks = []
    for f in futs:
        try:
            md = f.get(30)
        except KafkaError as e:
            raise Fail(f"Produce: {e!r}")
        acks.append((md.partition, md.offset))
    p.close(10)
    return acks


def read_all(topic, partitions, expect, timeout_s=30.0, **conf):
    c = KafkaConsumer(bootstrap_servers=BOOT, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", **conf)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    out = []
    deadline = time.time() + timeout_s
    while len(out) < expect and time.time() < deadline:
        for recs in c.poll(timeout_ms=300).values():
            out.extend(recs)
    end = time.time() + 0.5
    while time.time() < end:
        for recs in c.poll(timeout_ms=200).values():
            out.extend(recs)
    c.close()
    if len(out) != expect:
        raise Fail(f"Fetch: read {len(out)} records from {topic}, want {expect}")
    return out


def s(b):
    return None if b is None else b.decode("utf-8", "replace")


def sc_metadata_admin():
    name = f"{PREFIX}-adm"
    create_topic(name, 3)
    try:
        admin().create_topics([NewTopic(name, 3, 1)], timeout_ms=20000)
        raise Fail("CreateTopics of an existing topic succeeded, want TOPIC_ALREADY_EXISTS")
    except TopicAlreadyExistsError:
        pass
    except KafkaError as e:
        raise Fail(f"CreateTopics duplicate: {e!r}, want TOPIC_ALREADY_EXISTS")
    try:
        admin().delete_topics([name], timeout_ms=20000)
    except KafkaError as e:
        raise Fail(f"DeleteTopics: {e!r}")
    deadline = time.time() + 15
    while time.time() < deadline:
        if name not in admin().list_topics():
            return "create 3 partitions, duplicate -> TOPIC_ALREADY_EXISTS, delete"
        time.sleep(0.2)
    raise Fail("Metadata still lists the topic 15 s after DeleteTopics")


def sc_produce_consume():
    t = f"{PREFIX}-pc"
    create_topic(t, 1)
    produce([(t, 0, f"k{i}".encode(), f"v{i}".encode(), None) for i in range(RECORDS)])
    got = sorted(read_all(t, 1, RECORDS), key=lambda m: m.offset)
    for i, m in enumerate(got):
        if m.offset != i or s(m.key) != f"k{i}" or s(m.value) != f"v{i}":
            raise Fail(f"record {i}: offset {m.offset} key {s(m.key)} value {s(m.value)}")
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
    for m in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        k = s(m.key)
        if where.setdefault(k, m.partition) != m.partition:
            raise Fail(f"key {k} in partitions {where[k]} and {m.partition}")
        want = f"{k}#{nxt.get(k, 0)}"
        if s(m.value) != want:
            raise Fail(f"key {k} p{m.partition}@{m.offset}: {s(m.value)}, want {want}")
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
    want = [(None, b"v0"), (b"k1", None), (None, None), (b"k3", b"v3")]
    # every kafka-python version refuses a record with neither key nor value
    # (send() raises before any I/O): that one record is left out
    want.pop(2)
    note = " (the client refuses null key with null value: that record left out)"
    produce([(t, 0, k, v, hdrs if k == b"k3" else None) for (k, v) in want])
    got = sorted(read_all(t, 1, len(want)), key=lambda m: m.offset)
    for i, m in enumerate(got):
        if (m.key, m.value) != want[i]:
            raise Fail(f"record {i}: key {m.key!r} value {m.value!r}, want {want[i]}")
        if m.key != b"k3" and m.headers:
            raise Fail(f"record {i}: unexpected headers {m.headers}")
    h = [(k, v) for (k, v) in got[-1].headers]
    if h != hdrs:
        raise Fail(f"record k3 headers {h}, want {hdrs}")
    return "null key/value stay null, 4 headers in order with duplicate and empty value" + note


def sc_compression(codec):
    t = f"{PREFIX}-z"
    create_topic(t, 1)
    try:
        p = producer(compression_type=codec)
        p.close(5)
    except (AssertionError, ValueError) as e:
        raise Skip(f"kafka-python {kafka.__version__} cannot use {codec}: {e}")
    produce([(t, 0, None, f"value-{i}-{'x' * 100}".encode(), None) for i in range(RECORDS)],
            compression_type=codec, linger_ms=50)
    got = sorted(read_all(t, 1, RECORDS), key=lambda m: m.offset)
    for i, m in enumerate(got):
        if s(m.value) != f"value-{i}-{'x' * 100}":
            raise Fail(f"record {i}: value {s(m.value)[:40]}...")
    return f"{RECORDS} {codec} records read back in order"


def sc_idempotent():
    if "enable_idempotence" not in KafkaProducer.DEFAULT_CONFIG:
        raise Skip(f"kafka-python {kafka.__version__} has no idempotent producer")
    t = f"{PREFIX}-idem"
    create_topic(t, 3)
    produce(keyed_records(t, 30), enable_idempotence=True)
    check_keyed(read_all(t, 3, RECORDS))
    return f"{RECORDS} records, no duplicates, per-key order kept"


def group_consumer(name):
    c = KafkaConsumer(bootstrap_servers=BOOT, group_id=f"{PREFIX}-g", client_id=name,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=10000, heartbeat_interval_ms=500)
    c.subscribe([f"{PREFIX}-grp"])
    return c


def poll_values(consumers, want, timeout_s=45.0, until=None):
    """polls every consumer continuously in its own thread (kafka-python 2.0.2 blocks
    in poll() while its JoinGroup waits for the other member, which must keep polling
    to rejoin) until `want` values arrived, until() holds, or the timeout"""
    got = {n: [] for n in consumers}
    stop = threading.Event()
    errors = []

    def run(n, c):
        try:
            while not stop.is_set():
                for recs in c.poll(timeout_ms=200).values():
                    got[n].extend(s(m.value) for m in recs)
        except Exception as e:  # reported by the caller
            errors.append(f"consumer {n}: {e!r}")

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in consumers.items()]
    for t in threads:
        t.start()
    deadline = time.time() + timeout_s
    while time.time() < deadline and not errors:
        if sum(len(v) for v in got.values()) >= want or (until is not None and until()):
            break
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(60)
    if errors:
        raise Fail(errors[0])
    return got


def sc_group_commit():
    t = f"{PREFIX}-grp"
    create_topic(t, 4)
    produce([(t, i % 4, None, f"r{i}".encode(), None) for i in range(400)])
    a = group_consumer("A")
    got = poll_values({"A": a}, 400)
    if sorted(got["A"]) != sorted(f"r{i}" for i in range(400)):
        raise Fail(f"step 1: A read {len(got['A'])} records, want the 400 produced")
    a.commit()
    b = group_consumer("B")
    parts = {}

    def split():
        parts["A"] = {p.partition for p in a.assignment()}
        parts["B"] = {p.partition for p in b.assignment()}
        pa, pb = parts["A"], parts["B"]
        return bool(pa and pb and not (pa & pb) and (pa | pb) == {0, 1, 2, 3})

    extra = poll_values({"A": a, "B": b}, 1, 45, until=split)
    if any(extra.values()):
        raise Fail(f"step 2: committed records delivered again: {extra}")
    if not split():
        raise Fail(f"step 2: no rebalance to two members: {parts}")
    pa, pb = parts["A"], parts["B"]
    produce([(t, i % 4, None, f"r{i}".encode(), None) for i in range(400, 440)])
    got = poll_values({"A": a, "B": b}, 40)
    vals = got["A"] + got["B"]
    if sorted(vals) != sorted(f"r{i}" for i in range(400, 440)):
        raise Fail(f"step 3: A+B read {len(vals)} records, want exactly r400..r439")
    a.commit()
    b.commit()
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
    if "transactional_id" not in KafkaProducer.DEFAULT_CONFIG:
        raise Skip(f"kafka-python {kafka.__version__} has no transactional producer")
    t = f"{PREFIX}-txn"
    create_topic(t, 1)
    p = KafkaProducer(bootstrap_servers=BOOT, transactional_id=f"{PREFIX}-tx")
    try:
        p.init_transactions()
        for tag, commit in (("c1", True), ("a", False), ("c2", True)):
            p.begin_transaction()
            for i in range(10):
                p.send(t, value=f"{tag}-{i}".encode(), partition=0)
            p.flush(30)
            if commit:
                p.commit_transaction()
            else:
                p.abort_transaction()
        p.close(10)
    except KafkaError as e:
        raise Fail(f"transactional producer: {e!r}")
    got = sorted(read_all(t, 1, 20, isolation_level="read_committed"),
                 key=lambda m: m.offset)
    got = [s(m.value) for m in got]
    want = [f"c1-{i}" for i in range(10)] + [f"c2-{i}" for i in range(10)]
    if got != want:
        raise Fail(f"read_committed read {got}, want {want}")
    return "read_committed sees the two committed transactions only, in order"


def main():
    logging.basicConfig(level=os.environ.get("DRIVER_LOG_LEVEL", "CRITICAL"))
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
        print(f"PASS {SCN}: {fn()} (kafka-python {kafka.__version__})")
        return 0
    except Skip as e:
        print(f"SKIP {SCN}: {e}")
        return 0
    except Fail as e:
        print(f"FAIL {SCN}: {e}")
    except Exception as e:  # a client-side crash is a failed cell, with its reason
        print(f"FAIL {SCN}: {type(e).__name__}: {e}")
    return 1


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    rc = main()
    sys.stdout.flush()
    os._exit(rc)  # do not wait for background client threads
