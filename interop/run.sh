#!/usr/bin/env bash
# interop/run.sh: the interop suite. Builds the librdkafka programs, starts a broker on a
# free 127.0.0.1 port with a fresh data dir, runs every test against it, and tears
# everything down again, whatever happens (trap on EXIT/INT/TERM).
#
#   interop/run.sh [--build-dir DIR] [--broker skiff|kafka] [--quick] [--only REGEX]
#
#   --build-dir DIR   where skiffd is (default <repo>/build); test programs go to
#                     DIR/interop/, logs of the last run to DIR/interop/logs/
#   --broker skiff    DIR/skiffd with num.partitions=4 (default)
#   --broker kafka    the reference Apache Kafka (interop/kafka-ref.sh)
#   --quick           N=100,000 records per produce/consume run instead of 1,000,000
#   --only REGEX      run only the tests whose name matches
#
# env N overrides the record count; env INTEROP_CFLAGS replaces -O2 when compiling
# the test programs (e.g. "-O1 -g -fsanitize=address,undefined"). Prints one line per
# test and finally exactly "interop: <n> passed, <n> failed"; exits non-zero if
# anything failed. A broker that dies during a test fails that test and is started
# again (same data dir) for the next.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build"
BROKER=skiff
QUICK=0
ONLY=""
TEST_TIMEOUT_S=${INTEROP_TEST_TIMEOUT_S:-900}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --broker) BROKER=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --only) ONLY=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ "$BROKER" == skiff || "$BROKER" == kafka ]] || { echo "run.sh: --broker skiff|kafka" >&2; exit 2; }
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "run.sh: no build dir" >&2; exit 2; }
if [[ -z "${N:-}" ]]; then
    if [[ $QUICK -eq 1 ]]; then N=100000; else N=1000000; fi
fi
export N

BIN="$BUILD_DIR/interop"
LOGS="$BIN/logs"
TMP=$(mktemp -d /tmp/skiff-interop.XXXXXX)
DATA="$TMP/data"
BROKER_PID=""
TEST_PID=""
PORT=""
PASSED=0
FAILED=0

log() { echo "run.sh: $*" >&2; }

cleanup() {
    trap - EXIT INT TERM
    [[ -n "$TEST_PID" ]] && kill -TERM "$TEST_PID" 2>/dev/null && wait "$TEST_PID"
    broker_stop >/dev/null 2>&1 || true
    rm -rf "$LOGS"
    mkdir -p "$LOGS"
    cp -r "$TMP/logs/." "$LOGS/" 2>/dev/null || true
    [[ -f "$DATA/skiffd.log" ]] && cp "$DATA/skiffd.log" "$LOGS/"
    [[ -f "$DATA/kafka.log" ]] && cp "$DATA/kafka.log" "$LOGS/"
    rm -rf "$TMP"
}
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

compile() {
    local src prog
    mkdir -p "$BIN" "$TMP/logs"
    for src in "$HERE"/rdkafka/*.c; do
        prog=$(basename "$src" .c)
        [[ "$prog" == itest ]] && continue
        # shellcheck disable=SC2086
        cc -std=c11 -D_GNU_SOURCE ${INTEROP_CFLAGS:--O2} -Wall -Wextra -o "$BIN/$prog" "$src" \
            "$HERE/rdkafka/itest.c" -lrdkafka || { log "cannot compile $prog"; exit 2; }
    done
}

port_free() {   # true if 127.0.0.1:<port> can be bound
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

pick_port() {   # a free port whose successor is free too (Kafka's controller)
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 30000))
        if port_free "$p" && port_free $((p + 1)); then PORT=$p; return 0; fi
    done
    log "no free port"; exit 2
}

answers() { kcat -b "127.0.0.1:$PORT" -L -m 2 >/dev/null 2>&1; }

log_dir() {   # the broker's log.dirs
    if [[ "$BROKER" == kafka ]]; then echo "$DATA/data"; else echo "$DATA/logs"; fi
}

broker_pid() {
    if [[ "$BROKER" == kafka ]]; then cat "$DATA/kafka.pid" 2>/dev/null; else echo "$BROKER_PID"; fi
}

broker_alive() {
    if [[ "$BROKER" == kafka ]]; then
        [[ -f "$DATA/kafka.pid" ]] && kill -0 "$(cat "$DATA/kafka.pid")" 2>/dev/null
    else
        [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null
    fi
}

broker_start() {
    local i
    mkdir -p "$DATA"
    if [[ "$BROKER" == kafka ]]; then
        "$HERE/kafka-ref.sh" start "$PORT" "$DATA" --override log.retention.check.interval.ms=1000 \
            --override log.initial.task.delay.ms=0 --override log.cleaner.backoff.ms=1000 \
            2>>"$TMP/logs/harness.log"
        return
    fi
    [[ -x "$BUILD_DIR/skiffd" ]] || { log "no $BUILD_DIR/skiffd"; return 1; }
    "$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
        --override "log.dirs=$DATA/logs" --override num.partitions=4 \
        --override log.retention.check.interval.ms=1000 --override log.cleaner.backoff.ms=1000 \
        >> "$DATA/skiffd.log" 2>&1 < /dev/null &
    BROKER_PID=$!
    for ((i = 0; i < 60; i++)); do
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            wait "$BROKER_PID"
            log "skiffd exited during start-up with status $? (log: $LOGS/skiffd.log)"
            tail -n 20 "$DATA/skiffd.log" >&2
            BROKER_PID=""
            return 1
        fi
        answers && return 0
        sleep 0.5
    done
    log "skiffd did not answer Metadata within 30 s"
    return 1
}

# SIGTERM and wait; returns 1 if the broker had to be killed or exited non-zero
broker_stop() {
    local i rc=0
    if [[ "$BROKER" == kafka ]]; then
        "$HERE/kafka-ref.sh" stop "$DATA" 2>>"$TMP/logs/harness.log"
        return
    fi
    [[ -n "$BROKER_PID" ]] || return 0
    kill -TERM "$BROKER_PID" 2>/dev/null
    for ((i = 0; i < 60; i++)); do
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$BROKER_PID" 2>/dev/null; then
        log "skiffd ignored SIGTERM for 30 s, killing it"
        kill -KILL "$BROKER_PID" 2>/dev/null
        rc=1
    fi
    wait "$BROKER_PID" 2>/dev/null || rc=1
    BROKER_PID=""
    return $rc
}

result() {   # <name> <ok 0/1> <seconds> <detail>
    if [[ $2 -eq 0 ]]; then
        PASSED=$((PASSED + 1))
        printf 'PASS %-28s %4ss  %s\n' "$1" "$3" "$4"
    else
        FAILED=$((FAILED + 1))
        printf 'FAIL %-28s %4ss  %s\n' "$1" "$3" "$4"
    fi
}

# runs a test command in the background, so that a signal to this script is handled
# at once (bash defers traps until a foreground child exits); output to <out>
run_bg() {   # <out> <command...>
    local out=$1 rc
    shift
    BOOTSTRAP="127.0.0.1:$PORT" timeout "$TEST_TIMEOUT_S" "$@" >> "$out" 2>&1 &
    TEST_PID=$!
    wait "$TEST_PID"
    rc=$?
    TEST_PID=""
    return $rc
}

# run_test <name> <command...>: runs with BOOTSTRAP set, output to logs/<name>.out
run_test() {
    local name=$1 out="$TMP/logs/$1.out" t0=$SECONDS rc detail
    shift
    [[ -n "$ONLY" && ! "$name" =~ $ONLY ]] && return 0
    if ! broker_alive; then
        broker_start || { result "$name" 1 0 "broker not running"; return 0; }
    fi
    run_bg "$out" "$@"
    rc=$?
    detail=$(grep -E '^(PASS|FAIL) ' "$out" | tail -n 1)
    [[ -z "$detail" ]] && detail="$(grep -v '^\s*$' "$out" | tail -n 1) (exit $rc)"
    if ! broker_alive; then
        rc=1
        detail="broker died during the test; $detail"
        BROKER_PID=""
    fi
    result "$name" $((rc != 0)) $((SECONDS - t0)) "$detail"
    [[ $rc -ne 0 ]] && grep -E '^  ' "$out" | head -n 12 | sed 's/^/      /'
    return 0
}

# produce, SIGTERM the broker, start it again on the same data, verify
restart_test() {
    local name=restart t0=$SECONDS out="$TMP/logs/restart.out" ok=1 detail
    [[ -n "$ONLY" && ! "$name" =~ $ONLY ]] && return 0
    broker_alive || broker_start || { result "$name" 1 0 "broker not running"; return 0; }
    if run_bg "$out" "$BIN/produce_consume" produce lz4 it-restart "$TMP/restart.acks"; then
        if ! broker_stop; then
            detail="broker did not stop cleanly on SIGTERM"
        elif ! broker_start; then
            detail="broker did not start again on the same data"
        elif run_bg "$out" "$BIN/produce_consume" verify lz4 it-restart "$TMP/restart.acks"; then
            ok=0
        fi
    fi
    [[ -z "${detail:-}" ]] && detail=$(grep -E '^(PASS|FAIL) ' "$out" | tail -n 1)
    result "$name" $ok $((SECONDS - t0)) "$detail"
    [[ $ok -ne 0 ]] && grep -E '^  ' "$out" | head -n 12 | sed 's/^/      /'
    return 0
}

# the broker must stop cleanly on SIGTERM (exit 0: no crash, no sanitizer report)
final_stop() {
    local t0=$SECONDS ok=0 detail="exit 0 on SIGTERM" logf="$DATA/skiffd.log"
    [[ "$BROKER" == skiff ]] || return 0
    broker_alive || { result clean-shutdown 1 0 "broker was not running at the end"; return 0; }
    broker_stop || { ok=1; detail="non-zero exit or had to be killed"; }
    if [[ -f "$logf" ]] && grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$logf"; then
        ok=1
        detail="sanitizer report in the broker log"
    fi
    result clean-shutdown $ok $((SECONDS - t0)) "$detail"
    return 0
}

main() {
    local codec
    compile
    pick_port
    log "broker $BROKER on 127.0.0.1:$PORT, N=$N, logs -> $LOGS"
    broker_start || { result broker-start 1 0 "broker did not start"; }
    for codec in none gzip snappy lz4 zstd; do
        run_test "produce_consume[$codec]" "$BIN/produce_consume" both "$codec" "it-pc-$codec"
        # the records round-tripped; were they really stored with that codec?
        [[ -f "$HERE/raw/segment_codecs.py" ]] &&
            run_test "stored_codec[$codec]" python3 "$HERE/raw/segment_codecs.py" \
                "$(log_dir)" "it-pc-$codec" "$codec"
    done
    run_test offsets_for_times "$BIN/offsets_for_times" it-oft
    run_test admin "$BIN/admin" it-admin
    run_test configs "$BIN/configs" it-configs
    run_test retention "$BIN/retention" it-retention
    run_test compaction "$BIN/compaction" it-compaction
    restart_test
    [[ "$BROKER" == skiff ]] && SKIFFD="$BUILD_DIR/skiffd" run_test idempotent-crash "$BIN/idempotent_crash" it-idem-crash
    [[ "$BROKER" == skiff ]] && SKIFFD="$BUILD_DIR/skiffd" run_test durable-crash "$BIN/crash_durable" it-durable
    [[ "$BROKER" == skiff ]] && run_test log-dirs "$HERE/log_dirs.sh" --build-dir "$BUILD_DIR"
    run_test idempotent-seq "$BIN/idempotent_seq" it-idem-seq
    run_test txn-basic "$BIN/txn_basic" it-txn-basic
    if [[ "$BROKER" == skiff ]]; then SKIFFD="$BUILD_DIR/skiffd" run_test txn-eos "$HERE/txn_eos.sh" "$BIN/txn_eos_copy"
    else run_test txn-eos "$HERE/txn_eos.sh" "$BIN/txn_eos_copy"; fi
    run_test txn-read-committed "$BIN/txn_read_committed" it-txn-rc
    run_test kcat "$HERE/kcat.sh" it-kcat
    run_test kafka-python /usr/bin/python3 "$HERE/kafka_python_test.py" it-py
    run_test groups "$HERE/groups.sh" --broker "$BROKER" --build-dir "$BUILD_DIR"
    run_test java-idempotent "$HERE/java/run.sh" it-java-idem
    run_test java-eos "$HERE/java/eos.sh" it-java-eos
    run_test java-streams-eos "$HERE/java/streams.sh" it-streams-eos
    # Kafka's CLI tools against skiffd and against a reference Kafka it starts itself
    [[ "$BROKER" == skiff ]] && run_test kafka-cli "$HERE/kafka_cli.sh" it-cli
    run_test topic-codec "$HERE/topic_codec.sh" "$(log_dir)" it-codec
    [[ -f "$HERE/raw/pipeline_test.py" ]] &&
        BROKER_PID=$(broker_pid) run_test raw-connection python3 "$HERE/raw/pipeline_test.py"
    run_test raw-api python3 "$HERE/raw/api_checks.py"
    run_test raw-txn-fetch python3 "$HERE/raw/txn_fetch.py"
    BROKER_PID=$(broker_pid) BROKER_LOG="$DATA/skiffd.log" run_test bad-inputs python3 "$HERE/raw/bad_inputs.py"
    # starts its own skiffd with a low open-file limit
    [[ "$BROKER" == skiff ]] &&
        run_test fd-exhaustion python3 "$HERE/raw/bad_inputs.py" --fd-exhaustion "$BUILD_DIR/skiffd"
    final_stop
    echo "interop: $PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]]
}

main
