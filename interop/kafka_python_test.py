#!/usr/bin/python3
"""interop/kafka_python_test.py: kafka-python 2.0.2 (Debian's python3-kafka) against a
running broker.

    BOOTSTRAP=host:port /usr/bin/python3 interop/kafka_python_test.py [topic-prefix]

Three topics, one per producer setting: acks=all, acks=1, and acks=all with gzip. The
acks=all topic is created through KafkaAdminClient (CreateTopics, 3 partitions); the
other two are auto-created by the producer's Metadata request (num.partitions=4
expected). Each gets RECORDS keyed records with a value, two headers and an explicit
timestamp derived from the sequence number; every send must be acknowledged and its
(partition, offset) is kept. A consumer without a group then assign()s every partition,
seek_to_beginning()s and reads up to end_offsets(): every record must sit at its
acknowledged position (so it is read once and in acknowledged order) with exactly the
expected key, value, headers and timestamp. Ends with one line "PASS kafka-python: ..."
or "FAIL kafka-python: ..." and exit status 0/1.
"""
import os
import sys
import time

RECORDS = int(os.environ.get("PY_RECORDS", "3000"))
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        if len(failures) <= 10:
            print("  check failed: " + msg, flush=True)
    return cond


def record(seq, base_ts):
    key = b"pk-%07d" % seq
    value = (b"value-%d-" % seq) * (1 + seq % 7)
    headers = [("seq", b"%d" % seq), ("parity", b"odd" if seq % 2 else b"even")]
    return key, value, headers, base_ts + seq


def produce(bootstrap, topic, acks, compression, base_ts):
    from kafka import KafkaProducer
    prod = KafkaProducer(bootstrap_servers=bootstrap, acks=acks,
                         compression_type=compression, linger_ms=5,
                         retries=3, max_in_flight_requests_per_connection=1)
    futures = []
    for seq in range(RECORDS):
        key, value, headers, ts = record(seq, base_ts)
        futures.append(prod.send(topic, key=key, value=value, headers=headers,
                                 timestamp_ms=ts))
    prod.flush(timeout=60)
    acked = {}
    for seq, fut in enumerate(futures):
        try:
            md = fut.get(timeout=30)
        except Exception as e:  # every send must be acknowledged
            check(False, "%s: send %d failed: %r" % (topic, seq, e))
            continue
        acked[(md.partition, md.offset)] = seq
    prod.close(timeout=10)
    check(len(acked) == RECORDS, "%s: %d distinct acked positions for %d records"
          % (topic, len(acked), RECORDS))
    return acked


def consume(bootstrap, topic, acked, base_ts):
    from kafka import KafkaConsumer, TopicPartition
    cons = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                         enable_auto_commit=False, consumer_timeout_ms=1000)
    parts = sorted(cons.partitions_for_topic(topic) or [])
    tps = [TopicPartition(topic, p) for p in parts]
    cons.assign(tps)
    cons.seek_to_beginning(*tps)
    end = cons.end_offsets(tps)
    want_end = {}
    for (p, off) in acked:
        want_end[p] = max(want_end.get(p, 0), off + 1)
    for tp in tps:
        check(end[tp] == want_end.get(tp.partition, 0), "%s: end offset %d, want %d"
              % (tp, end[tp], want_end.get(tp.partition, 0)))
    seen = set()
    deadline = time.time() + 60
    while time.time() < deadline and any(cons.position(tp) < end[tp] for tp in tps):
        for batch in cons.poll(timeout_ms=500).values():
            for m in batch:
                check_one(topic, m, acked, base_ts, seen)
    cons.close()
    check(len(seen) == RECORDS, "%s: read %d of %d records" % (topic, len(seen), RECORDS))
    return len(parts)


def check_one(topic, m, acked, base_ts, seen):
    seq = acked.get((m.partition, m.offset))
    if not check(seq is not None, "%s: record at unacknowledged p%d@%d"
                 % (topic, m.partition, m.offset)):
        return
    check(seq not in seen, "%s: seq %d read twice" % (topic, seq))
    seen.add(seq)
    key, value, headers, ts = record(seq, base_ts)
    got_headers = [(k, bytes(v)) for k, v in (m.headers or [])]
    check(m.key == key and m.value == value, "%s p%d@%d: key/value differ"
          % (topic, m.partition, m.offset))
    check(got_headers == headers, "%s p%d@%d: headers %r, want %r"
          % (topic, m.partition, m.offset, got_headers, headers))
    check(m.timestamp == ts and m.timestamp_type == 0, "%s p%d@%d: timestamp %r type %r"
          % (topic, m.partition, m.offset, m.timestamp, m.timestamp_type))


def create_topic(bootstrap, topic, partitions):
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)], timeout_ms=30000)
    except Exception as e:
        check(False, "CreateTopics %s: %r" % (topic, e))
    admin.close()


def main():
    import kafka
    bootstrap = os.environ.get("BOOTSTRAP")
    prefix = sys.argv[1] if len(sys.argv) > 1 else "skiff-interop-py"
    if not bootstrap:
        print("FAIL kafka-python: env BOOTSTRAP is not set")
        return 1
    if kafka.__version__ != "2.0.2":
        print("FAIL kafka-python: version %s, want 2.0.2" % kafka.__version__)
        return 1
    base_ts = int(time.time() * 1000) - 3600 * 1000
    cases = [("all", "all", None, 3), ("one", 1, None, 4), ("gzip", "all", "gzip", 4)]
    summary = []
    for name, acks, compression, want_parts in cases:
        topic = "%s-%s" % (prefix, name)
        if name == "all":
            create_topic(bootstrap, topic, want_parts)
        acked = produce(bootstrap, topic, acks, compression, base_ts)
        parts = consume(bootstrap, topic, acked, base_ts)
        check(parts == want_parts, "%s: %d partitions, want %d" % (topic, parts, want_parts))
        summary.append("%s %d recs/%d parts" % (name, RECORDS, parts))
    if failures:
        print("FAIL kafka-python: %d failed checks (%s)" % (len(failures), ", ".join(summary)))
        return 1
    print("PASS kafka-python: " + ", ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
