#!/usr/bin/env bash
# bench/compaction.sh: compaction measured side by side on skiffd and Apache Kafka.
#
#   bench/compaction.sh [--build-dir DIR] [--mb N] [--keys K] [--size S] [--out FILE]
#
# For each broker in turn (Skiff first, fresh data dir, broker on CPU 0 and the load on
# CPU 1 when taskset exists): create a topic with cleanup.policy=compact,
# segment.bytes=8 MiB and min.cleanable.dirty.ratio=0.01, write N MB (default 512) of
# keyed updates (S-byte values, default 200, over K keys, default 100,000) with one
# idempotent librdkafka producer, then wait until the cleaner has been idle for 20 s.
# Reports:
#   produce MB/s     record payload (key + value) acknowledged per second, while the
#                    cleaner runs (log.cleaner.backoff.ms=1000 on both brokers);
#   cleaning MB/s    bytes of log the cleaner read per second of its own work: skiffd's
#                    "event=log_cleaned ... bytes_read= elapsed_ms=" lines, Kafka's
#                    "MB of log processed in S seconds" cleaner statistics, summed;
#   log after        bytes of the partition's .log files once the cleaner is idle.
# The producer is a small librdkafka program compiled from this script into the work
# dir. Prints a markdown table and writes it to --out (default
# bench/results/compaction-<date>.md). skiffd comes from DIR (default
# <repo>/build-compact-rel, a Release build); Kafka from interop/kafka-ref.sh.
# Everything it starts is stopped on exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build-compact-rel"
MB=512
KEYS=100000
SIZE=200
OUT=""
IDLE_S=20
WAIT_MAX_S=900

while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --mb) MB=$2; shift 2 ;;
        --keys) KEYS=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "compaction.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n "$OUT" ]] || OUT="$HERE/results/compaction-$(date -u +%Y-%m-%d).md"
WORK=$(mktemp -d /tmp/skiff-bench-compaction.XXXXXX)
SKIFF_PID=""
KAFKA_DATA=""
PIN_BROKER=()
PIN_LOAD=()
if command -v taskset >/dev/null; then PIN_BROKER=(taskset -c 0); PIN_LOAD=(taskset -c 1); fi

log() { echo "compaction.sh: $*" >&2; }

cleanup() {
    trap - EXIT INT TERM
    if [[ -n "$SKIFF_PID" ]]; then kill -TERM "$SKIFF_PID" 2>/dev/null; wait "$SKIFF_PID" 2>/dev/null; fi
    [[ -n "$KAFKA_DATA" ]] && "$REPO/interop/kafka-ref.sh" stop "$KAFKA_DATA" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# ---- the producer ----
cat > "$WORK/keyed.c" <<'EOF'
/* keyed update producer for bench/compaction.sh: creates a compacted topic and writes
 * MB megabytes of updates over KEYS keys; prints one JSON object. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long acked, failed;
static void dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *o)
{
    (void)rk; (void)o;
    if (m->err) failed++; else acked++;
}
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
int main(int argc, char **argv)
{
    if (argc != 6) return 2;
    const char *bs = argv[1], *topic = argv[2];
    long mb = atol(argv[3]), keys = atol(argv[4]), size = atol(argv[5]);
    char err[512], key[32], *val = malloc((size_t)size);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bs, err, sizeof(err));
    rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err));
    rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(c, dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (!rk) { fprintf(stderr, "%s\n", err); return 1; }
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof(err));
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_NewTopic_set_config(nt, "segment.bytes", "8388608");
    rd_kafka_NewTopic_set_config(nt, "min.cleanable.dirty.ratio", "0.01");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    long n = mb * 1000000L / (size + 10);
    unsigned long x = 88172645463325252UL;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int kl = snprintf(key, sizeof(key), "key-%08lu", x % (unsigned long)keys);
        for (long j = 0; j < size; j++) val[j] = (char)('a' + (x >> (j % 48)) % 26);
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, kl),
                                 RD_KAFKA_V_VALUE(val, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 5);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double secs = now_s() - t0;
    printf("{\"records\": %ld, \"acked\": %ld, \"failed\": %ld, \"payload_bytes\": %ld, \"seconds\": %.3f, "
           "\"mb_per_s\": %.1f}\n", n, acked, failed, acked * (size + 12), secs, acked * (size + 12) / 1e6 / secs);
    rd_kafka_destroy(rk);
    return failed == 0 && acked == n ? 0 : 1;
}
EOF
cc -std=c11 -D_GNU_SOURCE -O2 -o "$WORK/keyed" "$WORK/keyed.c" -lrdkafka || { log "cannot compile the producer"; exit 2; }

pick_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Wait until the broker log has had no new cleaner line for IDLE_S seconds.
wait_idle() {   # <log file> <pattern>
    local logf=$1 pat=$2 last=-1 same=0 n t=0
    while ((t < WAIT_MAX_S)); do
        n=$(grep -c -- "$pat" "$logf" 2>/dev/null)
        if [[ "$n" == "$last" ]]; then same=$((same + 2)); else same=0; last=$n; fi
        ((same >= IDLE_S)) && return 0
        sleep 2
        t=$((t + 2))
    done
    log "cleaner still busy after $WAIT_MAX_S s"
}

# Bytes of the partition's segment files (.log; the indexes are preallocated).
dir_bytes() { cat "$1"/*.log 2>/dev/null | wc -c; }

run_skiff() {
    local port data=$WORK/skiff
    port=$(pick_port)
    mkdir -p "$data"
    "${PIN_BROKER[@]}" "$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$port" \
        --override "log.dirs=$data/logs" --override log.cleaner.backoff.ms=1000 > "$data/skiffd.log" 2>&1 &
    SKIFF_PID=$!
    sleep 2
    "${PIN_LOAD[@]}" "$WORK/keyed" "127.0.0.1:$port" bench-compact "$MB" "$KEYS" "$SIZE" > "$WORK/skiff.json" ||
        log "skiff produce incomplete"
    wait_idle "$data/skiffd.log" "event=log_cleaned"
    SKIFF_PRODUCE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mb_per_s"])' "$WORK/skiff.json")
    SKIFF_CLEAN=$(awk '/event=log_cleaned/ { for (i = 1; i <= NF; i++) { split($i, kv, "=");
                       if (kv[1] == "bytes_read") b += kv[2]; if (kv[1] == "elapsed_ms") ms += kv[2]; } }
                       END { if (ms > 0) printf "%.1f", b / 1e6 / (ms / 1000); else print "n/a" }' "$data/skiffd.log")
    SKIFF_RUNS=$(grep -c "event=log_cleaned" "$data/skiffd.log")
    SKIFF_AFTER=$(dir_bytes "$data/logs/bench-compact-0")
    kill -TERM "$SKIFF_PID"; wait "$SKIFF_PID"; SKIFF_PID=""
}

run_kafka() {
    local port
    port=$(pick_port)
    KAFKA_DATA=$WORK/kafka
    "$REPO/interop/kafka-ref.sh" start "$port" "$KAFKA_DATA" --override log.cleaner.backoff.ms=1000 >&2 ||
        { log "kafka did not start"; return 1; }
    command -v taskset >/dev/null && taskset -a -p -c 0 "$(cat "$KAFKA_DATA/kafka.pid")" >/dev/null
    "${PIN_LOAD[@]}" "$WORK/keyed" "127.0.0.1:$port" bench-compact "$MB" "$KEYS" "$SIZE" > "$WORK/kafka.json" ||
        log "kafka produce incomplete"
    wait_idle "$KAFKA_DATA/kafka.log" "MB of log processed"
    KAFKA_PRODUCE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mb_per_s"])' "$WORK/kafka.json")
    KAFKA_CLEAN=$(grep -o "[0-9,.]* MB of log processed in [0-9,.]* seconds" "$KAFKA_DATA/kafka.log" | tr -d , |
                  awk '{ mb += $1; s += $7 } END { if (s > 0) printf "%.1f", mb / s; else print "n/a" }')
    KAFKA_RUNS=$(grep -c "MB of log processed" "$KAFKA_DATA/kafka.log")
    KAFKA_AFTER=$(dir_bytes "$KAFKA_DATA/data/bench-compact-0")
    "$REPO/interop/kafka-ref.sh" stop "$KAFKA_DATA" >/dev/null 2>&1
    KAFKA_DATA=""
}

SKIFF_PRODUCE=n/a SKIFF_CLEAN=n/a SKIFF_RUNS=0 SKIFF_AFTER=0
KAFKA_PRODUCE=n/a KAFKA_CLEAN=n/a KAFKA_RUNS=0 KAFKA_AFTER=0
log "skiffd: $MB MB of keyed updates, $KEYS keys, $SIZE-byte values"
run_skiff
log "Apache Kafka: the same"
run_kafka

mkdir -p "$(dirname "$OUT")"
{
    echo "# Compaction, $(date -u +%Y-%m-%d)"
    echo
    echo "One run each on this machine ($(nproc) cores; broker on CPU 0, producer on CPU 1)."
    echo "$MB MB of updates ($SIZE-byte values) over $KEYS keys to one partition with"
    echo "cleanup.policy=compact, segment.bytes=8 MiB, min.cleanable.dirty.ratio=0.01,"
    echo "log.cleaner.backoff.ms=1000; one idempotent librdkafka producer (linger.ms=5)."
    echo "Cleaning rate: log bytes the cleaner read per second of its own work, from each"
    echo "broker's cleaner log lines. Produced by bench/compaction.sh."
    echo
    echo "| broker | produce MB/s while cleaning | cleaning MB/s | cleanings | log after (MB) |"
    echo "| --- | --- | --- | --- | --- |"
    printf '| skiffd | %s | %s | %s | %.1f |\n' "$SKIFF_PRODUCE" "$SKIFF_CLEAN" "$SKIFF_RUNS" \
        "$(echo "${SKIFF_AFTER:-0} / 1000000" | bc -l)"
    printf '| Apache Kafka | %s | %s | %s | %.1f |\n' "$KAFKA_PRODUCE" "$KAFKA_CLEAN" "$KAFKA_RUNS" \
        "$(echo "${KAFKA_AFTER:-0} / 1000000" | bc -l)"
} | tee "$OUT"
