#!/usr/bin/env bash
# interop/txn_eos.sh: exactly-once copy under crashes. Fills a 3-partition input topic
# with EOS_N (default 100,000) distinct records, then copies it to an output topic with
# txn_eos_copy (librdkafka, read_committed consumer + transactional producer sending its
# offsets into each transaction), killing the copier with SIGKILL three times along the
# way and, on skiffd, the broker once (SIGKILL, restarted on the same data dir) while a
# copier runs. A last copier runs until its input stays idle. The output read at
# read_committed must hold exactly EOS_N records, each input record once.
#
#   txn_eos.sh <path to txn_eos_copy>
#
# env BOOTSTRAP: the broker to use (Apache Kafka, or a skiffd that is not killed).
# env SKIFFD: path to skiffd; when set the script runs its own skiffd on a free port
# with a fresh data dir (so it may kill it) and ignores BOOTSTRAP.
# Ends with one "PASS txn_eos: ..." or "FAIL txn_eos: ..." line; exit status 0 or 1.
set -uo pipefail

COPY=${1:?usage: txn_eos.sh <txn_eos_copy>}
N=${EOS_N:-100000}
TMP=$(mktemp -d /tmp/skiff-txn-eos.XXXXXX)
BROKER_PID=""
COPIER_PID=""
TAG="$$-$(date +%s)"
IN="eos-in-$TAG"
OUT="eos-out-$TAG"
GROUP="eos-group-$TAG"
TXN_ID="eos-copier-$TAG"

log() { echo "txn_eos: $*" >&2; }
fail() { echo "FAIL txn_eos: $*"; exit 1; }

cleanup() {
    [[ -n "$COPIER_PID" ]] && kill -9 "$COPIER_PID" 2>/dev/null
    if [[ -n "$BROKER_PID" ]]; then
        kill "$BROKER_PID" 2>/dev/null
        wait "$BROKER_PID" 2>/dev/null
    fi
    if [[ -n "${EOS_KEEP:-}" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT INT TERM

broker_start() {
    "$SKIFFD" --override "listeners=PLAINTEXT://127.0.0.1:$PORT" --override "log.dirs=$TMP/data" \
        >> "$TMP/skiffd.log" 2>&1 < /dev/null &
    BROKER_PID=$!
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        kill -0 "$BROKER_PID" 2>/dev/null || { tail -n 20 "$TMP/skiffd.log" >&2; fail "skiffd exited at start"; }
        sleep 0.1
    done
    fail "skiffd did not listen within 10 s"
}

copier_start() {
    IDLE_EXIT_MS=${1:-8000} TXN_RECORDS=100 TXN_PAUSE_MS=20 "$COPY" copy "$IN" "$OUT" "$GROUP" "$TXN_ID" >> "$TMP/copier.log" 2>&1 &
    COPIER_PID=$!
    echo "---- copier $COPIER_PID started $(date +%T.%N)" >> "$TMP/copier.log"
}

# wait_progress <k>: until the running copier has printed k "copied" notes (60 s).
wait_progress() {
    local n
    for ((i = 0; i < 600; i++)); do
        n=$(awk '/^---- copier/ { n = 0 } /copied/ { n++ } END { print n + 0 }' "$TMP/copier.log")
        [[ $n -ge $1 ]] && return 0
        kill -0 "$COPIER_PID" 2>/dev/null || { tail -n 20 "$TMP/copier.log"; fail "the copier exited early"; }
        sleep 0.1
    done
    tail -n 20 "$TMP/copier.log"
    fail "the copier made no progress within 60 s"
}

copier_kill() {
    kill -9 "$COPIER_PID" 2>/dev/null
    wait "$COPIER_PID" 2>/dev/null
    COPIER_PID=""
}

if [[ -n "${SKIFFD:-}" ]]; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    broker_start
    export BOOTSTRAP="127.0.0.1:$PORT"
fi
: "${BOOTSTRAP:?BOOTSTRAP or SKIFFD must be set}"

"$COPY" fill "$IN" "$OUT" "$N" > "$TMP/fill.log" 2>&1 || { cat "$TMP/fill.log"; fail "fill failed"; }
log "filled $IN with $N records"

# Each kill waits until the copier has committed transactions (a restarted copier
# first waits for the killed one to leave the group), so every kill hits a copier in
# the middle of its work.
for round in 1 2 3; do
    copier_start
    wait_progress 2
    if [[ $round -eq 2 && -n "$BROKER_PID" ]]; then
        log "round $round: killing the broker while the copier runs"
        kill -9 "$BROKER_PID"
        wait "$BROKER_PID" 2>/dev/null
        broker_start
        wait_progress 4 # the copier carries on after the restart
    fi
    sleep "0.$((RANDOM % 10))"
    log "round $round: killing the copier"
    copier_kill
done

copier_start 10000
for ((i = 0; i < 600; i++)); do
    kill -0 "$COPIER_PID" 2>/dev/null || break
    sleep 1
done
if kill -0 "$COPIER_PID" 2>/dev/null; then
    copier_kill
    tail -n 20 "$TMP/copier.log"
    fail "the last copier did not finish within 600 s"
fi
wait "$COPIER_PID"
st=$?
COPIER_PID=""
grep -E "^(PASS|FAIL)|aborted" "$TMP/copier.log" | tail -n 8 >&2
[[ $st -eq 0 ]] || { tail -n 20 "$TMP/copier.log"; fail "the last copier failed"; }

out=$("$COPY" verify "$OUT" "$N" 2>&1)
echo "$out" | grep -v '^PASS\|^FAIL' >&2
if echo "$out" | grep -q '^PASS'; then
    echo "PASS txn_eos: $N records copied exactly once; copier killed 3 times$([[ -n "$BROKER_PID" ]] && echo ", broker once")"
    exit 0
fi
echo "$out" | tail -n 3
fail "output differs from the input"
