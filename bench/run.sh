#!/usr/bin/env bash
# bench/run.sh: the side-by-side benchmark of skiffd and Apache Kafka on this machine.
#
#   bench/run.sh [--quick] [--no-build] [--build-dir DIR] [--out DIR] [--reps N]
#
# Builds skiffd (Release, in <repo>/build-bench unless --build-dir) and bench/loadgen,
# then loads each broker in turn, Skiff first, with the broker pinned to CPU 0
# (taskset -c 0) and the load generator to CPU 1 (taskset -c 1):
#
#   pass 1, per broker (fresh data dir):
#     produce throughput: 100 B and 1 KiB records x acks=1/all x none/lz4, REPS times
#       each, a fresh 4-partition topic per run
#     consume throughput: one topic written, then read REPS times from page cache
#     broker CPU seconds (utime+stime from /proc/<pid>/stat) per GB of record payload
#     moved; peak RSS (VmHWM) at the end of the pass
#   the latency rate: half the lower of the two brokers' median peak for 1 KiB,
#     acks=all, none, so both brokers get the same offered load
#   pass 2, per broker (fresh data dir):
#     end-to-end latency p50/p99/p99.9 at that rate, REPS times after one unmeasured
#       5 s warm-up run; steady RSS (median
#       VmRSS sampled every 0.5 s during those runs)
#     start-up: write LOG_GB of log, stop the broker cleanly, start it again and time
#       until it answers Metadata and serves a fetch (loadgen probe), REPS times;
#       then the data dir is deleted
#
# Raw results go to <work>/raw.jsonl (one object per measurement); bench/report.py
# turns them into <out>/<date>.md, .json and -latency.png (gnuplot, when installed).
# --quick: smaller volumes, one repetition, 0.2 GB of log: a smoke run of ~3 minutes.
# Full results go to bench/results/, quick ones to bench/.work/results/ (not in git).
# Work files live in bench/.work/ and the data dirs are removed on every exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build-bench"
QUICK=0
BUILD=1
OUT=""
REPS=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [[ $QUICK -eq 1 ]]; then
    : "${REPS:=1}"
    N_1K=100000; N_100=500000; N_CONSUME=200000
    E2E_S=5; E2E_WARMUP_S=1; LOG_GB=0.2
    : "${OUT:=$HERE/.work/results}"
else
    : "${REPS:=3}"
    N_1K=500000; N_100=3000000; N_CONSUME=1000000
    E2E_S=20; E2E_WARMUP_S=2; LOG_GB=10
    : "${OUT:=$HERE/results}"
fi
PARTITIONS=4
E2E_LINGER_MS=1
WORK="$HERE/.work"
RAW="$WORK/raw.jsonl"
CMDS="$WORK/commands.txt"
META="$WORK/meta.env"
LG="$BUILD_DIR/loadgen"
KREF="$REPO/interop/kafka-ref.sh"
DATA=""
PORT=""
BROKER=""
BPID=""
SAMPLER_PID=""
LAUNCH_PID=""
CLK_TCK=$(getconf CLK_TCK)

log() { echo "bench: $(date +%H:%M:%S) $*" >&2; }
die() { log "$*"; exit 1; }

cleanup() {
    trap - EXIT INT TERM
    sampler_stop
    broker_stop >/dev/null 2>&1 || true
    [[ -n "$DATA" && -d "$DATA" ]] && rm -rf "$DATA"
}
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# records a command line for the report
logcmd() { printf '%s\n' "$*" >> "$CMDS"; }

# records a command line for the report, then runs it
cmd() {
    logcmd "$@"
    "$@"
}

build() {
    [[ $BUILD -eq 1 ]] || { [[ -x "$BUILD_DIR/skiffd" && -x "$LG" ]] || die "nothing built in $BUILD_DIR"; return; }
    log "building skiffd (Release) and loadgen in $BUILD_DIR"
    cmd cmake -S "$REPO" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DSK_TESTS=OFF > "$WORK/build.log" 2>&1 || die "cmake failed ($WORK/build.log)"
    cmd ninja -C "$BUILD_DIR" -j2 skiffd >> "$WORK/build.log" 2>&1 \
        || die "skiffd build failed ($WORK/build.log)"
    cmd cc -std=c11 -O2 -Wall -Wextra -o "$LG" "$HERE/loadgen.c" -lrdkafka -lpthread \
        >> "$WORK/build.log" 2>&1 || die "loadgen build failed ($WORK/build.log)"
}

port_free() {
    python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}

pick_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 30000))
        if port_free "$p" && port_free $((p + 1)); then PORT=$p; return 0; fi
    done
    die "no free port"
}

# ---- /proc readings of the broker ----------------------------------------------

cpu_s() {   # utime+stime of $BPID in seconds
    awk -v tck="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / tck }' \
        "/proc/$BPID/stat" 2>/dev/null || echo 0
}

status_kb() {   # <field>: VmRSS, VmHWM of $BPID in kB
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$BPID/status" 2>/dev/null || echo 0
}

sampler_start() {   # VmRSS every 0.5 s into <file>
    local file=$1 pid=$BPID
    ( while [[ -r "/proc/$pid/status" ]]; do
          awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" 2>/dev/null
          sleep 0.5
      done ) >> "$file" &
    SAMPLER_PID=$!
}

sampler_stop() {
    [[ -n "$SAMPLER_PID" ]] || return 0
    kill "$SAMPLER_PID" 2>/dev/null
    wait "$SAMPLER_PID" 2>/dev/null
    SAMPLER_PID=""
}

# ---- brokers ---------------------------------------------------------------------

answers() { kcat -b "127.0.0.1:$PORT" -L -m 2 >/dev/null 2>&1; }

# launches the broker pinned to CPU 0 on $DATA; does not wait for it. Not through
# cmd(): $! must be the broker's own pid (taskset execs it), not a subshell's.
broker_launch() {
    mkdir -p "$DATA"
    port_free "$PORT" || die "port $PORT is taken: is an earlier broker still running?"
    if [[ "$BROKER" == kafka ]]; then
        logcmd taskset -c 0 "$KREF" start "$PORT" "$DATA"
        taskset -c 0 "$KREF" start "$PORT" "$DATA" >> "$WORK/kafka-ref.log" 2>&1 &
        LAUNCH_PID=$!
        return 0
    fi
    logcmd taskset -c 0 "$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
        --override "log.dirs=$DATA/logs" --override "num.partitions=$PARTITIONS"
    taskset -c 0 "$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
        --override "log.dirs=$DATA/logs" --override "num.partitions=$PARTITIONS" \
        >> "$DATA/skiffd.log" 2>&1 < /dev/null &
    BPID=$!
}

# waits until the launched broker answers Metadata; sets BPID for Kafka
broker_wait() {
    local i
    for ((i = 0; i < 600; i++)); do
        if [[ "$BROKER" == kafka && -z "$BPID" && -s "$DATA/kafka.pid" ]]; then
            BPID=$(cat "$DATA/kafka.pid")
        fi
        if [[ -n "$BPID" ]] && answers; then
            wait_bg_launcher
            kill -0 "$BPID" 2>/dev/null || die "$BROKER pid $BPID is gone, yet the port answers"
            return 0
        fi
        if [[ "$BROKER" == skiff ]] && ! kill -0 "$BPID" 2>/dev/null; then
            tail -n 20 "$DATA/skiffd.log" >&2
            die "skiffd exited during start-up"
        fi
        sleep 0.2
    done
    die "$BROKER did not answer within 120 s"
}

# kafka-ref.sh start returns once Kafka answers; reap it so its status is known
wait_bg_launcher() {
    [[ -n "$LAUNCH_PID" ]] || return 0
    wait "$LAUNCH_PID" 2>/dev/null || true
    LAUNCH_PID=""
}

broker_start() {
    BPID=""
    broker_launch
    broker_wait
    log "$BROKER up on 127.0.0.1:$PORT pid $BPID"
}

broker_stop() {
    local i
    [[ -n "$BROKER" ]] || return 0
    if [[ "$BROKER" == kafka ]]; then
        [[ -n "$DATA" ]] && "$KREF" stop "$DATA" >> "$WORK/kafka-ref.log" 2>&1
        BPID=""
        return 0
    fi
    [[ -n "$BPID" ]] || return 0
    kill -TERM "$BPID" 2>/dev/null
    for ((i = 0; i < 120; i++)); do
        kill -0 "$BPID" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$BPID" 2>/dev/null && { log "skiffd ignored SIGTERM, killing"; kill -KILL "$BPID"; }
    wait "$BPID" 2>/dev/null
    BPID=""
}

# ---- measurements ----------------------------------------------------------------

# lg <phase> <rep> <loadgen args...>: one run, one line in $RAW with the broker's CPU
# seconds spent during the run and its memory afterwards
lg() {
    local phase=$1 rep=$2 c0 c1 out rc rss hwm
    shift 2
    c0=$(cpu_s)
    out=$(cmd taskset -c 1 "$LG" "$@" -b "127.0.0.1:$PORT" 2>>"$WORK/loadgen.err")
    rc=$?
    c1=$(cpu_s)
    [[ -n "$out" ]] || out=null
    rss=$(status_kb VmRSS); hwm=$(status_kb VmHWM)
    printf '{"broker":"%s","phase":"%s","rep":%s,"rc":%d,"cpu_s":%s,"rss_kb":%s,"hwm_kb":%s,"result":%s}\n' \
        "$BROKER" "$phase" "$rep" "$rc" "$(awk -v a="${c0:-0}" -v b="${c1:-0}" 'BEGIN{printf "%.2f", b - a}')" \
        "${rss:-0}" "${hwm:-0}" "$out" >> "$RAW"
    [[ $rc -eq 0 ]] || log "loadgen $1 failed (rc $rc) on $BROKER: $out"
    return $rc
}

topic_new() { taskset -c 1 "$LG" create -b "127.0.0.1:$PORT" -t "$1" -p "$PARTITIONS" >/dev/null 2>>"$WORK/loadgen.err"; }
topic_del() { taskset -c 1 "$LG" delete -b "127.0.0.1:$PORT" -t "$1" >/dev/null 2>>"$WORK/loadgen.err"; }

pass_throughput() {
    local rep size acks codec n t
    DATA="$WORK/data-$BROKER"
    rm -rf "$DATA"
    broker_start
    for ((rep = 1; rep <= REPS; rep++)); do
        for size in 100 1024; do
            n=$N_1K; [[ $size -eq 100 ]] && n=$N_100
            for acks in 1 all; do
                for codec in none lz4; do
                    t="bench-p-$size-$acks-$codec-$rep"
                    topic_new "$t"
                    log "$BROKER produce size=$size acks=$acks codec=$codec rep=$rep"
                    lg produce "$rep" produce -t "$t" -s "$size" -n "$n" -a "$acks" -z "$codec"
                    topic_del "$t"
                done
            done
        done
    done
    topic_new bench-c
    lg fill 0 produce -t bench-c -s 1024 -n "$N_CONSUME" -a 1 -z none
    for ((rep = 1; rep <= REPS; rep++)); do
        log "$BROKER consume rep=$rep"
        lg consume "$rep" consume -t bench-c -n "$N_CONSUME"
    done
    broker_stop
    rm -rf "$DATA"
}

# the common latency rate: half the lower median peak (1 KiB, acks=all, none)
latency_rate() {
    python3 - "$RAW" <<'EOF'
import json, statistics, sys
peaks = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    res = r.get("result") or {}
    if r["phase"] == "produce" and r["rc"] == 0 and res.get("size") == 1024 \
            and res.get("acks") == "all" and res.get("codec") == "none":
        peaks.setdefault(r["broker"], []).append(res["records_per_s"])
meds = [statistics.median(v) for v in peaks.values()]
print(int(min(meds) / 2) if meds else 10000)
EOF
}

pass_latency_startup() {
    local rate=$1 rep t n_log
    DATA="$WORK/data-$BROKER"
    rm -rf "$DATA"
    broker_start
    # idle: a fresh broker with no topics, 5 s after it first answered
    sleep 5
    printf '{"broker":"%s","phase":"idle","rep":0,"rc":0,"rss_kb":%s,"hwm_kb":%s}\n' \
        "$BROKER" "$(status_kb VmRSS)" "$(status_kb VmHWM)" >> "$RAW"
    # unmeasured: warms the JIT (Kafka) and the page cache the same way for both
    topic_new bench-e2e-warmup
    log "$BROKER e2e warm-up"
    lg e2e-warmup 0 e2e -t bench-e2e-warmup -s 1024 -r "$rate" -d 5 -w 1 -a all -z none \
        -l "$E2E_LINGER_MS"
    topic_del bench-e2e-warmup
    sampler_start "$WORK/rss-$BROKER.txt"
    for ((rep = 1; rep <= REPS; rep++)); do
        t="bench-e2e-$rep"
        topic_new "$t"
        log "$BROKER e2e rate=$rate rep=$rep"
        lg e2e "$rep" e2e -t "$t" -s 1024 -r "$rate" -d "$E2E_S" -w "$E2E_WARMUP_S" \
            -a all -z none -l "$E2E_LINGER_MS"
        topic_del "$t"
    done
    sampler_stop
    n_log=$(awk -v g="$LOG_GB" 'BEGIN { printf "%d", g * 1e9 / 1024 }')
    topic_new bench-log
    log "$BROKER writing $LOG_GB GB of log ($n_log records)"
    lg logfill 0 produce -t bench-log -s 1024 -n "$n_log" -a 1 -z none
    for ((rep = 1; rep <= REPS; rep++)); do
        broker_stop
        sync
        startup_once "$rep"
    done
    broker_stop
    rm -rf "$DATA"
}

# start the broker on its existing log with a probe already waiting for it
startup_once() {
    local rep=$1 out t_launch du_b
    du_b=$(du -scB1 "$DATA"/*/bench-log-* | tail -n 1 | cut -f1)
    taskset -c 1 "$LG" probe -b "127.0.0.1:$PORT" -t bench-log -d 600 \
        > "$WORK/probe.out" 2>>"$WORK/loadgen.err" &
    local probe_pid=$!
    logcmd taskset -c 1 "$LG" probe -b "127.0.0.1:$PORT" -t bench-log -d 600
    sleep 0.5
    t_launch=$(date +%s.%N)
    BPID=""
    broker_launch
    wait "$probe_pid"
    out=$(cat "$WORK/probe.out")
    broker_wait
    [[ -n "$out" ]] || out=null
    printf '{"broker":"%s","phase":"startup","rep":%s,"rc":0,"t_launch":%s,"log_bytes":%s,"result":%s}\n' \
        "$BROKER" "$rep" "$t_launch" "$du_b" "$out" >> "$RAW"
    log "$BROKER start-up rep=$rep: $out"
}

machine_meta() {   # <suffix>: load and facts for the report
    local s=$1
    {
        echo "load_$s=$(cut -d' ' -f1-3 /proc/loadavg)"
        echo "time_$s=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >> "$META"
}

main() {
    local rate
    mkdir -p "$WORK" "$OUT"
    : > "$RAW"; : > "$CMDS"; : > "$META"; : > "$WORK/loadgen.err"
    rm -f "$WORK"/rss-*.txt
    machine_meta before
    {
        echo "quick=$QUICK"
        echo "reps=$REPS"
        echo "commit=$(git -C "$REPO" rev-parse HEAD)"
        echo "dirty=$(git -C "$REPO" status --porcelain -- src CMakeLists.txt | wc -l)"
        echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
        echo "cores=$(nproc)"
        echo "kernel=$(uname -sr)"
        echo "mem_gb=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
        echo "java=$(java -version 2>&1 | head -n 1)"
        echo "librdkafka=$(pkg-config --modversion rdkafka 2>/dev/null || echo unknown)"
        echo "kafka=$(ls "${SKIFF_KREF_HOME:-$HOME/.cache/skiff-kref}/lib" 2>/dev/null | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p')"
        echo "n_1k=$N_1K"; echo "n_100=$N_100"; echo "n_consume=$N_CONSUME"
        echo "e2e_s=$E2E_S"; echo "e2e_warmup_s=$E2E_WARMUP_S"; echo "e2e_linger_ms=$E2E_LINGER_MS"
        echo "log_gb=$LOG_GB"; echo "partitions=$PARTITIONS"
    } >> "$META"
    build
    "$KREF" setup || die "kafka-ref setup failed"
    echo "kafka=$(ls "${SKIFF_KREF_HOME:-$HOME/.cache/skiff-kref}/lib" | sed -n 's/^kafka_2.13-\(.*\)\.jar$/\1/p')" >> "$META"
    pick_port
    for BROKER in skiff kafka; do
        log "pass 1 (throughput) on $BROKER"
        pass_throughput
    done
    rate=$(latency_rate)
    echo "e2e_rate=$rate" >> "$META"
    for BROKER in skiff kafka; do
        log "pass 2 (latency at $rate rec/s, start-up) on $BROKER"
        pass_latency_startup "$rate"
    done
    BROKER=""
    machine_meta after
    python3 "$HERE/report.py" --work "$WORK" --out "$OUT" || die "report failed"
}

main
