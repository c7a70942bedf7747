#!/usr/bin/env bash
# interop/log_dirs.sh: Kafka's own kafka-log-dirs tool (org.apache.kafka.tools.
# LogDirsCommand from the cached Kafka 4.1 jars, see kafka-ref.sh) against skiffd and
# against the reference Apache Kafka, both started here side by side with fresh data
# dirs, the same topic and the same records. The tool prints one JSON document; the
# two must have the same shape (keys and value types at every level), and each must
# say the same things: the data dir's absolute path, error null, the topic's three
# partitions (with --topic-list exactly those), sizes > 0 where records went and 0
# where none did, offsetLag 0, isFuture false. Without --topic-list every partition
# of the broker is listed, the topic's among them.
#
#   interop/log_dirs.sh [--build-dir DIR]     DIR holds skiffd (default <repo>/build)
#
# Skips (exit 0, one "SKIP log_dirs: ..." line) only when java is missing. Prints
# "PASS log_dirs: ..." or "FAIL log_dirs: ..."; exit 0/1.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "log_dirs.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if ! command -v java >/dev/null 2>&1; then
    echo "SKIP log_dirs: java is missing (kafka-log-dirs is a Java tool)"
    exit 0
fi
fail() { echo "FAIL log_dirs: $*"; exit 1; }
[[ -x "$BUILD_DIR/skiffd" ]] || fail "no skiffd in $BUILD_DIR"
"$HERE/kafka-ref.sh" setup >/dev/null || fail "cannot set up the Kafka jars"

TMP=$(mktemp -d /tmp/skiff-logdirs-XXXXXX)
SKIFF_PID=""
cleanup() {
    [[ -n "$SKIFF_PID" ]] && kill -TERM "$SKIFF_PID" 2>/dev/null && wait "$SKIFF_PID" 2>/dev/null
    "$HERE/kafka-ref.sh" stop "$TMP/kafka" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {   # a free port whose successor is free too (Kafka's controller)
    python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 50000)
    ok = True
    for q in (p, p + 1):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try: s.bind(("127.0.0.1", q))
        except OSError: ok = False
        s.close()
    if ok: print(p); break
PY
}

SPORT=$(free_port)
mkdir -p "$TMP/skiff"
"$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$SPORT" \
    --override "log.dirs=$TMP/skiff/data" >"$TMP/skiff/skiffd.log" 2>&1 &
SKIFF_PID=$!
KPORT=$(free_port)
"$HERE/kafka-ref.sh" start "$KPORT" "$TMP/kafka" >/dev/null || fail "Apache Kafka did not start"
for _ in $(seq 100); do kcat -b "127.0.0.1:$SPORT" -L -m 2 >/dev/null 2>&1 && break; sleep 0.1; done

TOPIC=it-logdirs
for port in "$SPORT" "$KPORT"; do
    "$HERE/kafka-ref.sh" tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" \
        --create --topic "$TOPIC" --partitions 3 --replication-factor 1 >/dev/null 2>&1 ||
        fail "kafka-topics --create on port $port"
    # records in partitions 0 and 1, none in 2
    seq 1 200 | kcat -P -b "127.0.0.1:$port" -t "$TOPIC" -p 0 -X acks=all || fail "produce on $port"
    seq 1 50 | kcat -P -b "127.0.0.1:$port" -t "$TOPIC" -p 1 -X acks=all || fail "produce on $port"
done
sleep 1 # Kafka reports segment sizes as of its last look at the files

describe() {   # port, extra args -> the tool's JSON line in $TMP/<name>.json
    local port=$1 name=$2; shift 2
    "$HERE/kafka-ref.sh" tool org.apache.kafka.tools.LogDirsCommand --bootstrap-server "127.0.0.1:$port" \
        --describe "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || fail "kafka-log-dirs $* on port $port: $(tail -1 "$TMP/$name.err")"
    grep '^{' "$TMP/$name.out" >"$TMP/$name.json" || fail "kafka-log-dirs printed no JSON on port $port"
}
describe "$SPORT" skiff-topic --topic-list "$TOPIC"
describe "$KPORT" kafka-topic --topic-list "$TOPIC"
describe "$SPORT" skiff-all
describe "$KPORT" kafka-all

python3 - "$TMP" "$TOPIC" <<'PY' || exit 1
import json, os, sys
tmp, topic = sys.argv[1], sys.argv[2]
fails = []
def check(cond, msg):
    if not cond: fails.append(msg)
def shape(v):
    """Keys and value types at every level (lists: the union of their items' shapes)."""
    if isinstance(v, dict): return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        shapes = [json.dumps(shape(x), sort_keys=True) for x in v]
        return sorted(set(shapes))
    return type(v).__name__
def load(name): return json.load(open(os.path.join(tmp, name + ".json")))
for mode in ("topic", "all"):
    s, k = load("skiff-" + mode), load("kafka-" + mode)
    check(shape(s) == shape(k), f"{mode}: shape differs:\n skiff {json.dumps(shape(s))}\n kafka {json.dumps(shape(k))}")
    for name, doc, datadir in (("skiff", s, f"{tmp}/skiff/data"), ("kafka", k, f"{tmp}/kafka/data")):
        brokers = doc.get("brokers", [])
        check(len(brokers) == 1, f"{name} {mode}: {len(brokers)} brokers")
        if not brokers: continue
        dirs = brokers[0]["logDirs"]
        check(len(dirs) == 1, f"{name} {mode}: {len(dirs)} log dirs")
        d = dirs[0]
        check(d["logDir"] == os.path.realpath(datadir), f"{name} {mode}: logDir {d['logDir']} is not {datadir}")
        check(d["error"] is None, f"{name} {mode}: error {d['error']}")
        parts = {p["partition"]: p for p in d["partitions"]}
        mine = {n: p for n, p in parts.items() if n.rsplit("-", 1)[0] == topic}
        check(sorted(mine) == [f"{topic}-0", f"{topic}-1", f"{topic}-2"], f"{name} {mode}: partitions {sorted(mine)}")
        if mode == "topic": check(len(parts) == 3, f"{name} topic: other partitions listed: {sorted(parts)}")
        for n, p in mine.items():
            want_data = not n.endswith("-2")
            check((p["size"] > 0) == want_data, f"{name} {mode}: {n} size {p['size']}")
            check(p["offsetLag"] == 0 and p["isFuture"] is False, f"{name} {mode}: {n} {p}")
    check(s.get("version") == k.get("version"), f"{mode}: version differs")
for f in fails: print("  check:", f)
if fails:
    print(f"FAIL log_dirs: {len(fails)} checks failed"); sys.exit(1)
s = load("skiff-topic")["brokers"][0]["logDirs"][0]["partitions"]
k = load("kafka-topic")["brokers"][0]["logDirs"][0]["partitions"]
sz = lambda ps: "/".join(str(p["size"]) for p in sorted(ps, key=lambda p: p["partition"]))
print(f"PASS log_dirs: same JSON shape as Apache Kafka; sizes skiff {sz(s)} kafka {sz(k)} bytes")
PY
