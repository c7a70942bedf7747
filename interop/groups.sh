#!/usr/bin/env bash
# interop/groups.sh: consumer groups end to end with librdkafka consumers against a
# broker this script starts itself (it has to restart it), skiffd or the reference
# Apache Kafka, so the same scenario checks both.
#
#   groups.sh [--broker skiff|kafka] [--build-dir DIR] [--assignor NAME] [--client C]
#
#   --build-dir DIR   where skiffd is (default <repo>/build); the group_* programs are
#                     taken from DIR/interop/ (run.sh compiles them) or compiled there
#   --assignor NAME   range (default), roundrobin or cooperative-sticky
#   --bench           instead of the scenario: time rebalances of a 10-member group on a
#                     100-partition topic (rdkafka/group_bench.c); run once per --broker
#                     for the side-by-side numbers. A benchmark, not a test.
#   --client C        the consumers: rdkafka (default, interop/rdkafka/group_consumer.c),
#                     java (the Java client from the cached Kafka jars, see
#                     kafka-ref.sh) or kafka-python (/usr/bin/python3's kafka, 2.0.2
#                     on Debian; no cooperative-sticky there). All write the same
#                     event files, so every check below is the same for each.
#
# Scenario, on a 6-partition topic, consumers committing each record after processing:
#  1. three consumers in one group: each gets two partitions;
#  2. a fourth joins: the partitions are redistributed (2,2,1,1), nothing shared;
#  3. one is killed with kill -9 while records flow: within its session timeout (6 s)
#     plus one rebalance the others own all six partitions again;
#  4. every record produced is consumed, and a record is consumed twice only if the
#     killed member had consumed it after its last acknowledged commit;
#  5. kafka-consumer-groups --describe (Kafka's own tool, when its jars are cached)
#     lists six partitions, three members and lag 0, and (skiffd) Kafka's
#     DumpLogSegments --offsets-decoder decodes our __consumer_offsets records;
#  6. every consumer stops and the broker restarts: new consumers of the group resume
#     exactly at the committed offsets (no record before them is read again);
#  7. a second group on the same topic reads every record too (fan-out); Kafka's CLI
#     lists the groups by state, deletes that group's offsets and the group;
#  8. (rdkafka) a static member (group.instance.id) killed and restarted within its
#     session timeout gets its partitions back, and the other member sees no rebalance.
# Prints progress lines and finally "PASS groups: ..." or "FAIL groups: ..."; exit 0/1.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build"
BROKER=skiff
ASSIGNOR=range
CLIENT=rdkafka
BENCH=0
KREF_LIB=${SKIFF_KREF_HOME:-$HOME/.cache/skiff-kref}/lib
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --broker) BROKER=$2; shift 2 ;;
        --assignor) ASSIGNOR=$2; shift 2 ;;
        --client) CLIENT=$2; shift 2 ;;
        --bench) BENCH=1; shift ;;
        -h|--help) sed -n '2,33p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "groups.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "FAIL groups: no build dir"; exit 1; }
BIN="$BUILD_DIR/interop"
TMP=$(mktemp -d /tmp/skiff-groups.XXXXXX)
DATA="$TMP/broker"
TOPIC=it-groups
GROUP=it-group
PARTS=6
N1=6000       # records before the broker restart
N2=2000       # records after it
SESSION_S=6
BROKER_PID=""
declare -A CPID=()
FAILS=0

note() { echo "  $*"; }
fail() { echo "  check failed: $*"; FAILS=$((FAILS + 1)); }
finish() {
    if [[ $FAILS -eq 0 ]]; then echo "PASS groups: $*"; else echo "FAIL groups: $* ($FAILS failed checks)"; fi
}

cleanup() {
    local p
    trap - EXIT INT TERM
    for p in "${CPID[@]}"; do kill -KILL "$p" 2>/dev/null; done
    broker_stop >/dev/null 2>&1
    [[ $FAILS -ne 0 && -f "$DATA/skiffd.log" ]] && tail -n 30 "$DATA/skiffd.log" | sed 's/^/    broker: /'
    if [[ -n "${GROUPS_KEEP:-}" ]]; then echo "  kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

compile() {
    local p
    mkdir -p "$BIN"
    for p in group_consumer group_produce group_bench; do
        [[ -x "$BIN/$p" && "$BIN/$p" -nt "$HERE/rdkafka/$p.c" ]] && continue
        # shellcheck disable=SC2086
        cc -std=c11 -D_GNU_SOURCE ${INTEROP_CFLAGS:--O2} -Wall -Wextra -o "$BIN/$p" "$HERE/rdkafka/$p.c" \
            "$HERE/rdkafka/itest.c" -lrdkafka || { echo "FAIL groups: cannot compile $p"; exit 1; }
    done
}

pick_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 30000))
        if python3 -c "import socket,sys
for q in ($p, $p + 1):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', q))" \
            2>/dev/null; then PORT=$p; return 0; fi
    done
    echo "FAIL groups: no free port"; exit 1
}

broker_start() {
    local i
    mkdir -p "$DATA"
    if [[ "$BROKER" == kafka ]]; then
        "$HERE/kafka-ref.sh" start "$PORT" "$DATA" >/dev/null 2>>"$TMP/harness.log"
        return
    fi
    "$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$PORT" --override "log.dirs=$DATA/logs" \
        --override group.initial.rebalance.delay.ms=0 >> "$DATA/skiffd.log" 2>&1 < /dev/null &
    BROKER_PID=$!
    for ((i = 0; i < 60; i++)); do
        kill -0 "$BROKER_PID" 2>/dev/null || return 1
        kcat -b "127.0.0.1:$PORT" -L -m 2 >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

broker_stop() {
    local i
    if [[ "$BROKER" == kafka ]]; then
        "$HERE/kafka-ref.sh" stop "$DATA" 2>>"$TMP/harness.log"
        return
    fi
    [[ -n "$BROKER_PID" ]] || return 0
    kill -TERM "$BROKER_PID" 2>/dev/null
    for ((i = 0; i < 60; i++)); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
    local rc=$?
    BROKER_PID=""
    return $rc
}

produce() {   # <first> <count>
    BOOTSTRAP="127.0.0.1:$PORT" "$BIN/group_produce" "$TOPIC" "$PARTS" "$1" "$2" > "$TMP/produce-$1.out" 2>&1 ||
        fail "producing $2 records from v$1: $(tail -n 1 "$TMP/produce-$1.out")"
}

consumer_start() {   # <name> [group]; its output file exists when this returns
    local args=("${2:-$GROUP}" "$TOPIC" "$1" "$TMP/$1.out" "$ASSIGNOR")
    : >> "$TMP/$1.out"
    case "$CLIENT" in
        rdkafka) BOOTSTRAP="127.0.0.1:$PORT" "$BIN/group_consumer" "${args[@]}" > "$TMP/$1.log" 2>&1 & ;;
        java) java -Xmx128m -cp "$KREF_LIB/*:$TMP/classes" GroupConsumer "127.0.0.1:$PORT" "${args[@]}" \
                  > "$TMP/$1.log" 2>&1 & ;;
        kafka-python) /usr/bin/python3 "$TMP/group_consumer.py" "127.0.0.1:$PORT" "${args[@]}" \
                          > "$TMP/$1.log" 2>&1 & ;;
    esac
    CPID[$1]=$!
}

# The Java and kafka-python consumers: same behaviour and output as group_consumer.c.
client_setup() {
    case "$CLIENT" in
        rdkafka) ;;
        java)
            [[ -d "$KREF_LIB" ]] || { echo "FAIL groups: no Kafka jars in $KREF_LIB (kafka-ref.sh setup)"; exit 1; }
            mkdir -p "$TMP/classes"
            java_consumer > "$TMP/GroupConsumer.java"
            javac -d "$TMP/classes" -cp "$KREF_LIB/*" "$TMP/GroupConsumer.java" ||
                { echo "FAIL groups: cannot compile the Java consumer"; exit 1; } ;;
        kafka-python)
            [[ "$ASSIGNOR" != cooperative-sticky ]] || { echo "FAIL groups: kafka-python 2.0.2 has no cooperative-sticky"; exit 1; }
            python_consumer > "$TMP/group_consumer.py" ;;
        *) echo "FAIL groups: unknown client $CLIENT"; exit 1 ;;
    esac
}

java_consumer() {
    cat <<'JAVA'
import java.io.*;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

public class GroupConsumer {
    static volatile boolean stop;
    static String lastAssign = null;

    static void writeAssignment(KafkaConsumer<byte[], byte[]> c, String out) throws IOException {
        List<Integer> ps = new ArrayList<>();
        for (TopicPartition tp : c.assignment()) ps.add(tp.partition());
        Collections.sort(ps);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ps.size(); i++) sb.append(i > 0 ? "," : "").append(ps.get(i));
        String a = sb.toString();
        if (a.equals(lastAssign)) return;
        lastAssign = a;
        Path tmp = Paths.get(out + ".assign.tmp");
        Files.write(tmp, (a + "\n").getBytes());
        Files.move(tmp, Paths.get(out + ".assign"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    public static void main(String[] a) throws Exception {
        String group = a[1], topic = a[2], id = a[3], out = a[4];
        String cls = a[5].equals("roundrobin") ? "RoundRobinAssignor"
                   : a[5].equals("cooperative-sticky") ? "CooperativeStickyAssignor" : "RangeAssignor";
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        p.put("group.id", group);
        p.put("client.id", id);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("session.timeout.ms", "6000");
        p.put("heartbeat.interval.ms", "1000");
        p.put("partition.assignment.strategy", "org.apache.kafka.clients.consumer." + cls);
        p.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        p.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        PrintWriter w = new PrintWriter(new FileWriter(out, true));
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p);
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop = true;
            c.wakeup();
            try { main.join(30000); } catch (InterruptedException e) { }
        }));
        c.subscribe(List.of(topic));
        try {
            while (!stop) {
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(100));
                writeAssignment(c, out);
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    w.printf("M %d %d %s%n", r.partition(), r.offset(), new String(r.value()));
                    w.flush();
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    try {
                        c.commitSync(Map.of(tp, new OffsetAndMetadata(r.offset() + 1)));
                        w.printf("C %d %d%n", r.partition(), r.offset() + 1);
                    } catch (WakeupException e) {
                        throw e;
                    } catch (Exception e) {
                        w.printf("F %d %d %s%n", r.partition(), r.offset() + 1, e.getClass().getSimpleName());
                    }
                    w.flush();
                }
            }
        } catch (WakeupException e) {
            // stopping
        }
        c.close();
        w.close();
        System.out.println("PASS group_consumer: " + id + " stopped");
    }
}
JAVA
}

python_consumer() {
    cat <<'PY'
import os, signal, sys
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

bootstrap, group, topic, cid, out, assignor = sys.argv[1:7]
stop = False
def on_signal(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
strategy = RoundRobinPartitionAssignor if assignor == "roundrobin" else RangePartitionAssignor
c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id=cid, enable_auto_commit=False,
                  auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=1000,
                  partition_assignment_strategy=[strategy])
w = open(out, "a")
last = None
while not stop:
    batches = c.poll(100)
    a = ",".join(str(p) for p in sorted(tp.partition for tp in c.assignment()))
    if a != last:
        last = a
        with open(out + ".assign.tmp", "w") as f:
            f.write(a + "\n")
        os.replace(out + ".assign.tmp", out + ".assign")
    for tp, msgs in batches.items():
        for m in msgs:
            w.write("M %d %d %s\n" % (m.partition, m.offset, m.value.decode()))
            w.flush()
            try:
                c.commit({TopicPartition(m.topic, m.partition): OffsetAndMetadata(m.offset + 1, None)})
                w.write("C %d %d\n" % (m.partition, m.offset + 1))
            except Exception as e:
                w.write("F %d %d %s\n" % (m.partition, m.offset + 1, type(e).__name__))
            w.flush()
c.close()
print("PASS group_consumer: %s stopped" % cid)
PY
}

consumer_stop() {   # <name>: SIGTERM, must end with its PASS line (a JVM exits 143)
    local name=$1 i
    kill -TERM "${CPID[$name]}" 2>/dev/null
    for ((i = 0; i < 60; i++)); do kill -0 "${CPID[$name]}" 2>/dev/null || break; sleep 0.5; done
    wait "${CPID[$name]}" 2>/dev/null
    grep -q '^PASS group_consumer' "$TMP/$name.log" ||
        fail "consumer $name did not stop cleanly: $(tail -n 1 "$TMP/$name.log")"
    unset "CPID[$name]"
}

# true when the named consumers' assignments are disjoint, cover every partition and
# have these sizes (sorted, space separated)
assigned() {   # <sizes> <names...>
    local want=$1
    shift
    python3 - "$TMP" "$PARTS" "$want" "$@" <<'EOF'
import sys
tmp, parts, want, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
seen, sizes = [], []
for n in names:
    try:
        line = open(f"{tmp}/{n}.out.assign").read().strip()
    except OSError:
        sys.exit(1)
    ps = [int(x) for x in line.split(",") if x]
    seen += ps
    sizes.append(len(ps))
ok = sorted(seen) == list(range(parts)) and " ".join(map(str, sorted(sizes))) == want
sys.exit(0 if ok else 1)
EOF
}

wait_assigned() {   # <timeout s> <sizes> <names...>; prints the seconds it took
    local t=$1 t0=$SECONDS
    shift
    while ((SECONDS - t0 < t)); do
        assigned "$@" && { echo $((SECONDS - t0)); return 0; }
        sleep 0.2
    done
    return 1
}

consumed() {   # distinct values consumed by these consumers (files)
    awk '$1 == "M" { print $4 }' "$@" 2>/dev/null | sort -u | wc -l
}

wait_consumed() {   # <count> <timeout s> <files...>
    local want=$1 t=$2 t0=$SECONDS
    shift 2
    while ((SECONDS - t0 < t)); do
        [[ $(consumed "$@") -ge $want ]] && return 0
        sleep 0.5
    done
    return 1
}

# Step 4: completeness, and duplicates only where the killed member may cause them.
check_exactly() {   # <first> <count> <killed name or -> <files...>
    python3 - "$@" <<'EOF'
import collections, os, sys
first, count, killed, files = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
seen = collections.defaultdict(list)       # (partition, offset) -> [(consumer, value)]
last_commit = {}                           # killed member: partition -> next offset
for f in files:
    who = os.path.basename(f)[:-4]
    for line in open(f):
        w = line.split()
        if w[0] == "M":
            seen[(int(w[1]), int(w[2]))].append((who, w[3]))
        elif w[0] == "C" and who == killed:
            last_commit[int(w[1])] = int(w[2])
values = {v for recs in seen.values() for _, v in recs}
want = {f"v{i}" for i in range(first, first + count)}
bad = 0
if values != want:
    print(f"  check failed: missing {len(want - values)} records (e.g. {sorted(want - values)[:3]}), "
          f"unexpected {len(values - want)} (e.g. {sorted(values - values.intersection(want))[:3]})")
    bad += 1
dups = 0
for (p, off), recs in seen.items():
    if len(recs) < 2:
        continue
    dups += 1
    if not any(who == killed for who, _ in recs) or off < last_commit.get(p, 0):
        if bad < 5:
            print(f"  check failed: partition {p} offset {off} consumed by {[w for w, _ in recs]} "
                  f"(killed member committed up to {last_commit.get(p)})")
        bad += 1
print(f"  {len(values)} distinct records, {dups} consumed twice (all after the killed member's last commit)"
      if not bad else f"  {bad} problems")
sys.exit(1 if bad else 0)
EOF
}

describe_check() {   # Kafka's kafka-consumer-groups --describe; skipped without the jars
    local out="$TMP/describe.out"
    if [[ ! -f "${SKIFF_KREF_HOME:-$HOME/.cache/skiff-kref}/lib/.stamp" ]] || ! command -v java >/dev/null; then
        note "kafka-consumer-groups: skipped (no cached Kafka jars)"
        return 0
    fi
    KAFKA_HEAP_OPTS="-Xmx256m" "$HERE/kafka-ref.sh" tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
        --bootstrap-server "127.0.0.1:$PORT" --describe --group "$GROUP" > "$out" 2>&1
    if ! python3 - "$out" "$GROUP" "$TOPIC" "$PARTS" <<'EOF'; then
import sys
out, group, topic, parts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = [l.split() for l in open(out) if l.strip()]
hdr = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]
rows = [l for l in lines if len(l) == 9 and l[0] == group and l[1] == topic]
assert any(l == hdr for l in lines), "header"
assert sorted(int(r[2]) for r in rows) == list(range(parts)), "partitions"
assert all(r[5] == "0" and r[3] == r[4] for r in rows), "lag"
assert len({r[6] for r in rows}) == 3 and all(r[6] != "-" for r in rows), "members"
assert all(r[7] == "/127.0.0.1" for r in rows), "hosts"
EOF
        fail "kafka-consumer-groups --describe: $(grep -v WARN "$out" | head -c 600)"
        return 0
    fi
    note "kafka-consumer-groups --describe: 6 partitions, 3 members, lag 0"
}

# Kafka's DumpLogSegments --offsets-decoder must read our __consumer_offsets records
dump_check() {
    local seg out="$TMP/dump.out"
    [[ "$BROKER" == skiff && -f "$KREF_LIB/.stamp" ]] || return 0
    seg=$(grep -l "$GROUP" "$DATA"/logs/__consumer_offsets-*/*.log 2>/dev/null | head -n 1)
    [[ -n "$seg" ]] || { fail "no __consumer_offsets segment holds $GROUP"; return 0; }
    KAFKA_HEAP_OPTS="-Xmx256m" "$HERE/kafka-ref.sh" tool kafka.tools.DumpLogSegments --offsets-decoder \
        --files "$seg" > "$out" 2>&1
    if grep -q "\"type\":\"1\",\"data\":{\"group\":\"$GROUP\",\"topic\":\"$TOPIC\"" "$out" &&
        grep -q "\"type\":\"2\",\"data\":{\"group\":\"$GROUP\"}} payload: {\"version\":\"3\",\"data\":{\"protocolType\":\"consumer\"" "$out" &&
        ! grep -qi "exception\|could not\|unknown" "$out"; then
        note "kafka-dump-log --offsets-decoder reads $(grep -c '| offset:' "$out") records of $(basename "$(dirname "$seg")")"
    else
        fail "DumpLogSegments --offsets-decoder: $(grep -v '^| offset' "$out" | head -c 400)"
    fi
}

# Static membership: a member restarted with its group.instance.id within the session
# timeout gets its partitions back and the other member sees no rebalance.
static_check() {
    local before gen_before
    [[ "$CLIENT" == rdkafka ]] || return 0
    static_start s1; sleep 1; static_start s2
    if ! wait_assigned 60 "3 3" s1 s2 >/dev/null; then
        fail "static members did not get 3 partitions each"; return 0
    fi
    sleep 2
    before=$(cat "$TMP/s2.out.assign"); gen_before=$(cat "$TMP/s1.out.gen")
    kill -KILL "${CPID[s2]}"; wait "${CPID[s2]}" 2>/dev/null; unset "CPID[s2]"
    rm -f "$TMP/s2.out.assign"
    static_start s2
    if ! wait_assigned 30 "3 3" s1 s2 >/dev/null; then
        fail "the restarted static member did not get partitions back"
    elif [[ "$(cat "$TMP/s2.out.assign")" != "$before" || "$(cat "$TMP/s1.out.gen")" != "$gen_before" ]]; then
        fail "static restart: s2 had $before, now $(cat "$TMP/s2.out.assign"); s1 rebalances $gen_before -> $(cat "$TMP/s1.out.gen")"
    else
        note "static member restarted (kill -9): same partitions $before, no rebalance for the other"
    fi
    consumer_stop s1; consumer_stop s2
}

static_start() {   # <name>: group.instance.id = name
    : >> "$TMP/$1.out"
    BOOTSTRAP="127.0.0.1:$PORT" "$BIN/group_consumer" it-static "$TOPIC" "$1" "$TMP/$1.out" "$ASSIGNOR" "$1" \
        > "$TMP/$1.log" 2>&1 &
    CPID[$1]=$!
}

# Kafka's CLI on the finished groups: list with states, delete offsets, delete a group.
admin_check() {
    local out="$TMP/admin.out"
    [[ -f "$KREF_LIB/.stamp" ]] || return 0
    cgc() { KAFKA_HEAP_OPTS="-Xmx256m" "$HERE/kafka-ref.sh" tool \
                org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "127.0.0.1:$PORT" "$@"; }
    cgc --list --state Empty > "$out" 2>&1
    grep -Eq "^$GROUP +Empty" "$out" && grep -Eq "^it-fanout +Empty" "$out" ||
        { fail "--list --state Empty: $(grep -v WARN "$out" | head -c 300)"; return 0; }
    cgc --delete-offsets --group it-fanout --topic "$TOPIC" > "$out" 2>&1
    [[ $(grep -Ec "^$TOPIC +[0-9]+ +Successful" "$out") -eq $PARTS ]] ||
        { fail "--delete-offsets: $(grep -v WARN "$out" | head -c 300)"; return 0; }
    cgc --delete --group it-fanout > "$out" 2>&1
    grep -q "Deletion of requested consumer groups ('it-fanout') was successful" "$out" ||
        { fail "--delete: $(grep -v WARN "$out" | head -c 300)"; return 0; }
    cgc --list > "$out" 2>&1
    grep -q "^it-fanout$" "$out" && { fail "it-fanout still listed after --delete"; return 0; }
    note "kafka-consumer-groups --list --state, --delete-offsets, --delete: as expected"
}

bench_main() {
    local out="$TMP/bench.out"
    pick_port
    broker_start || { echo "FAIL groups-bench: broker did not start"; exit 1; }
    BOOTSTRAP="127.0.0.1:$PORT" "$BIN/group_bench" it-bench 100 it-bench-group 5 > "$out" 2>&1
    local rc=$?
    sed "s/^BENCH /BENCH $BROKER /" "$out" | grep -E '^(BENCH|PASS|FAIL)'
    return $rc
}

main() {
    local t k
    compile
    [[ $BENCH -eq 1 ]] && { bench_main; exit $?; }
    client_setup
    pick_port
    broker_start || { echo "FAIL groups: broker did not start"; exit 1; }
    note "broker $BROKER on 127.0.0.1:$PORT, $CLIENT consumers, assignor $ASSIGNOR"
    produce 0 $((N1 / 2))

    consumer_start c1; consumer_start c2; consumer_start c3
    if t=$(wait_assigned 60 "2 2 2" c1 c2 c3); then note "3 consumers: 2 partitions each after ${t}s"
    else fail "3 consumers did not get 2 partitions each: $(cat "$TMP"/c?.out.assign 2>/dev/null | tr '\n' ' ')"; fi
    wait_consumed $((N1 / 2)) 60 "$TMP"/c[123].out || fail "first $((N1 / 2)) records not consumed"

    consumer_start c4
    if t=$(wait_assigned 60 "1 1 2 2" c1 c2 c3 c4); then note "4 consumers: redistributed after ${t}s"
    else fail "4th consumer: no redistribution: $(cat "$TMP"/c?.out.assign 2>/dev/null | tr '\n' ' ')"; fi

    produce $((N1 / 2)) $((N1 / 2)) &
    k=$!
    sleep 0.3
    kill -KILL "${CPID[c2]}"
    wait "${CPID[c2]}" 2>/dev/null
    unset "CPID[c2]"
    if t=$(wait_assigned $((SESSION_S + 15)) "2 2 2" c1 c3 c4); then note "c2 killed (-9): others own all partitions after ${t}s"
    else fail "after kill -9 of c2 the others did not take over: $(cat "$TMP"/c[134].out.assign | tr '\n' ' ')"; fi
    wait $k
    wait_consumed "$N1" 60 "$TMP"/c[1234].out || fail "not all $N1 records consumed"
    check_exactly 0 "$N1" c2 "$TMP"/c[1234].out || FAILS=$((FAILS + 1))
    describe_check

    consumer_stop c1; consumer_stop c3; consumer_stop c4
    broker_stop || fail "broker did not stop cleanly"
    dump_check
    broker_start || { fail "broker did not start again"; finish "broker restart"; exit 1; }
    produce "$N1" "$N2"
    consumer_start r1; consumer_start r2
    wait_consumed "$N2" 90 "$TMP/r1.out" "$TMP/r2.out" || fail "after the restart not all $N2 new records were consumed"
    check_exactly "$N1" "$N2" - "$TMP/r1.out" "$TMP/r2.out" || fail "after the restart the group did not resume at its commits"
    consumer_stop r1; consumer_stop r2

    consumer_start f1 it-fanout
    wait_consumed $((N1 + N2)) 90 "$TMP/f1.out" || fail "a second group did not read every record"
    check_exactly 0 $((N1 + N2)) - "$TMP/f1.out" >/dev/null || fail "second group: records missing or repeated"
    consumer_stop f1
    admin_check
    static_check
    finish "$BROKER, $CLIENT, $ASSIGNOR: 3->4 members, kill -9, restart, fan-out; $((N1 + N2)) records"
    [[ $FAILS -eq 0 ]]
}

main
