#!/usr/bin/env bash
# bench/txn.sh: transactional produce throughput, skiffd and Apache Kafka side by side.
#
#   bench/txn.sh [--build-dir DIR] [--txns N] [--per-txn K] [--size S] [--reps R] [--out FILE]
#
# For each broker in turn (Skiff first, fresh data dir; broker on CPU 0 and the load on
# CPU 1 when taskset exists): create a 3-partition topic per repetition and run
# `loadgen txn`: one librdkafka 2.0.2 transactional producer (acks=all, idempotent,
# linger.ms=5) committing N transactions (default 500) of K records (default 100) of S
# bytes (default 1024), records spread over the partitions. Reports the median and
# spread of transactions/s, records/s and MB/s over R repetitions (default 3), the
# broker's CPU seconds per transaction, and the ratio Skiff / Kafka. Results go to
# --out (default bench/results/txn-<date>.md). skiffd comes from DIR (default
# <repo>/build-bench, built Release by bench/run.sh); loadgen is compiled from
# bench/loadgen.c into the work dir. Everything it starts is stopped on exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build-bench"
TXNS=500
PER=100
SIZE=1024
REPS=3
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --txns) TXNS=$2; shift 2 ;;
        --per-txn) PER=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "txn.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n "$OUT" ]] || OUT="$HERE/results/txn-$(date -u +%Y-%m-%d).md"
WORK=$(mktemp -d /tmp/skiff-bench-txn.XXXXXX)
LG="$WORK/loadgen"
SKIFF_PID=""
KAFKA_DATA=""
PIN_BROKER=()
PIN_LOAD=()
if command -v taskset >/dev/null; then PIN_BROKER=(taskset -c 0); PIN_LOAD=(taskset -c 1); fi

log() { echo "txn.sh: $(date +%H:%M:%S) $*" >&2; }

cleanup() {
    trap - EXIT INT TERM
    if [[ -n "$SKIFF_PID" ]]; then kill -TERM "$SKIFF_PID" 2>/dev/null; wait "$SKIFF_PID" 2>/dev/null; fi
    [[ -n "$KAFKA_DATA" ]] && "$REPO/interop/kafka-ref.sh" stop "$KAFKA_DATA" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

[[ -x "$BUILD_DIR/skiffd" ]] || { log "no $BUILD_DIR/skiffd (run bench/run.sh or build Release there)"; exit 2; }
cc -std=c11 -O2 -o "$LG" "$HERE/loadgen.c" -lrdkafka -lpthread || { log "cannot build loadgen"; exit 2; }

pick_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cpu_s() {   # <pid>: utime+stime in seconds
    awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12] + f[13]) / t }' \
        "/proc/$1/stat" 2>/dev/null || echo 0
}

# one broker: prints one JSON line per repetition, with the broker's CPU seconds
run_broker() {   # <skiff|kafka>
    local b=$1 port pid rep c0 c1 out
    port=$(pick_port)
    if [[ $b == skiff ]]; then
        "${PIN_BROKER[@]}" "$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$port" \
            --override "log.dirs=$WORK/skiff" > "$WORK/skiffd.log" 2>&1 &
        SKIFF_PID=$!
        pid=$SKIFF_PID
        sleep 0.5
    else
        KAFKA_DATA="$WORK/kafka"
        "${PIN_BROKER[@]}" "$REPO/interop/kafka-ref.sh" start "$port" "$KAFKA_DATA" > "$WORK/kref.log" 2>&1 ||
            { log "kafka did not start"; return 1; }
        pid=$(cat "$KAFKA_DATA/kafka.pid")
    fi
    # unmeasured warm-up: the JIT, and the coordinators' internal topics on first use
    "$LG" create -b "127.0.0.1:$port" -t warm -p 3 > /dev/null
    "${PIN_LOAD[@]}" "$LG" txn -b "127.0.0.1:$port" -t warm -s "$SIZE" -n 50 -x "$PER" > /dev/null
    for ((rep = 1; rep <= REPS; rep++)); do
        "$LG" create -b "127.0.0.1:$port" -t "txn-$rep" -p 3 > /dev/null
        log "$b rep $rep"
        c0=$(cpu_s "$pid")
        out=$("${PIN_LOAD[@]}" "$LG" txn -b "127.0.0.1:$port" -t "txn-$rep" -s "$SIZE" -n "$TXNS" -x "$PER")
        c1=$(cpu_s "$pid")
        echo "{\"broker\":\"$b\",\"cpu_s\":$(awk -v a="$c0" -v b2="$c1" 'BEGIN{printf "%.2f", b2 - a}'),\"result\":${out:-null}}"
    done
    if [[ $b == skiff ]]; then
        kill -TERM "$SKIFF_PID"; wait "$SKIFF_PID"; SKIFF_PID=""
    else
        "$REPO/interop/kafka-ref.sh" stop "$KAFKA_DATA" > /dev/null 2>&1; KAFKA_DATA=""
    fi
}

{ run_broker skiff; run_broker kafka; } > "$WORK/raw.jsonl"

python3 - "$WORK/raw.jsonl" "$OUT" "$TXNS" "$PER" "$SIZE" "$REPS" <<'EOF'
import json, statistics, sys, datetime, os
raw, out, txns, per, size, reps = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
rows = [json.loads(l) for l in open(raw) if l.strip()]
def cell(b, key):
    v = [r["result"][key] for r in rows if r["broker"] == b and r.get("result") and r["result"]["committed"] == txns]
    return (statistics.median(v), min(v), max(v)) if v else None
def cpu(b):
    v = [r["cpu_s"] / txns for r in rows if r["broker"] == b and r.get("result")]
    return (statistics.median(v), min(v), max(v)) if v else None
fmt = lambda c: "-" if not c else "%.4g (%.4g-%.4g)" % c
L = ["# Transactional produce: Skiff vs Apache Kafka, %s" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), "",
     "`bench/txn.sh`: one librdkafka 2.0.2 transactional producer (acks=all, idempotent, linger.ms=5), "
     "%d transactions of %d records of %d bytes over 3 partitions per run, median (min-max) of %d runs after "
     "an unmeasured warm-up of 50 transactions; broker on CPU 0, load on CPU 1; Apache Kafka 4.1.1 in KRaft mode "
     "(`interop/kafka-ref.sh`)." % (txns, per, size, reps), "",
     "| metric | Skiff | Kafka | Skiff/Kafka |", "| --- | --- | --- | --- |"]
for name, key, better in (("transactions/s", "txn_per_s", "higher"), ("records/s", "records_per_s", "higher"),
                          ("MB/s", "mb_per_s", "higher")):
    s, k = cell("skiff", key), cell("kafka", key)
    L.append("| %s | %s | %s | %s |" % (name, fmt(s), fmt(k), "%.2fx" % (s[0] / k[0]) if s and k else "-"))
s, k = cpu("skiff"), cpu("kafka")
L.append("| broker CPU ms per transaction | %s | %s | %s |" % (
    fmt(tuple(x * 1000 for x in s)) if s else "-", fmt(tuple(x * 1000 for x in k)) if k else "-",
    "%.2fx" % (s[0] / k[0]) if s and k and k[0] else "-"))
bad = [r for r in rows if not r.get("result") or r["result"]["committed"] != txns]
if bad:
    L += ["", "Failed runs: " + "; ".join("%s: %s" % (r["broker"], (r.get("result") or {}).get("first_error")) for r in bad)]
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
