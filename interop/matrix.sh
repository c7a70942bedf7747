#!/usr/bin/env bash
# interop/matrix.sh: the interop matrix. Every scenario of interop/scenarios/scenarios.txt
# with every client driver of interop/clients/, against skiffd and against the reference
# Apache Kafka (interop/kafka-ref.sh), side by side.
#
#   interop/matrix.sh [--build-dir DIR] [--clients LIST] [--scenarios LIST] [--out FILE]
#                     [--install-only]
#
#   --build-dir DIR    where skiffd is (default <repo>/build)
#   --clients LIST     comma-separated subset of: rdkafka java confluent-python
#                      kafka-python kafka-python-deb franz-go kafkajs platformatic
#   --scenarios LIST   comma-separated subset of the scenario names
#   --out FILE         where the Markdown table goes (default DIR/interop-matrix/matrix.md)
#   --install-only     install and build the drivers, run nothing
#
# Clients are installed by this script, pinned, idempotently, into the cache dir
# ${SKIFF_MATRIX_HOME:-$HOME/.cache/skiff-matrix} (outside git): a stamp per client holds
# the checksum of what it was installed from. Both brokers run at once on free
# 127.0.0.1 ports with fresh temporary data dirs and are always stopped again (trap).
# A scenario needing an API that skiffd does not advertise in ApiVersions is shown as
# "not yet" on the Skiff side and not run there. Exit status: 1 when Skiff fails a cell
# that Kafka passes for a scenario whose APIs skiffd advertises, 2 on a setup error,
# 0 otherwise. Per-cell output: DIR/interop-matrix/logs/<broker>/<scenario>.<client>.out
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build"
ALL_CLIENTS="rdkafka java confluent-python kafka-python kafka-python-deb franz-go kafkajs platformatic"
CLIENTS=$ALL_CLIENTS
SCENARIOS=""
OUT=""
INSTALL_ONLY=0
CACHE=${SKIFF_MATRIX_HOME:-$HOME/.cache/skiff-matrix}
CELL_TIMEOUT_S=${MATRIX_CELL_TIMEOUT_S:-150}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --clients) CLIENTS=${2//,/ }; shift 2 ;;
        --scenarios) SCENARIOS=${2//,/ }; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --install-only) INSTALL_ONLY=1; shift ;;
        -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "matrix.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "matrix.sh: no build dir" >&2; exit 2; }
WORK="$BUILD_DIR/interop-matrix"
OUT=${OUT:-$WORK/matrix.md}
TMP=$(mktemp -d /tmp/skiff-matrix.XXXXXX)
SKIFF_PID=""
SKIFF_PORT=""
KAFKA_PORT=""
TEST_PID=""
KAFKA_UP=0

log() { echo "matrix.sh: $*" >&2; }
die() { log "$*"; exit 2; }

# install_client, driver_cmd, pick_ports, write_table
# shellcheck source=clients/matrix-lib.sh
source "$HERE/clients/matrix-lib.sh"

cleanup() {
    trap - EXIT INT TERM
    [[ -n "$TEST_PID" ]] && kill -TERM "$TEST_PID" 2>/dev/null && wait "$TEST_PID"
    skiff_stop
    [[ $KAFKA_UP -eq 1 ]] && "$HERE/kafka-ref.sh" stop "$TMP/kafka" >/dev/null 2>&1
    mkdir -p "$WORK/logs"
    [[ -f "$TMP/skiff/skiffd.log" ]] && cp "$TMP/skiff/skiffd.log" "$WORK/logs/"
    [[ -f "$TMP/kafka/kafka.log" ]] && cp "$TMP/kafka/kafka.log" "$WORK/logs/"
    rm -rf "$TMP"
}
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# ---- scenarios ------------------------------------------------------------------------
declare -A SCN_REQ SCN_RECORDS SCN_DESC
SCN_ORDER=()
load_scenarios() {
    local name req rec desc want=" $SCENARIOS "
    while read -r name req rec desc; do
        [[ -z "$name" || "$name" == \#* ]] && continue
        [[ -n "$SCENARIOS" && "$want" != *" $name "* ]] && continue
        SCN_ORDER+=("$name")
        SCN_REQ[$name]=$req
        SCN_RECORDS[$name]=$rec
        SCN_DESC[$name]=$desc
    done < "$HERE/scenarios/scenarios.txt"
    [[ ${#SCN_ORDER[@]} -gt 0 ]] || die "no scenario selected"
}

# ---- brokers --------------------------------------------------------------------------
skiff_start() {
    local i
    mkdir -p "$TMP/skiff"
    [[ -x "$BUILD_DIR/skiffd" ]] || { log "no $BUILD_DIR/skiffd"; return 1; }
    "$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$SKIFF_PORT" \
        --override "log.dirs=$TMP/skiff/logs" --override num.partitions=4 \
        >> "$TMP/skiff/skiffd.log" 2>&1 < /dev/null &
    SKIFF_PID=$!
    for ((i = 0; i < 60; i++)); do
        if ! kill -0 "$SKIFF_PID" 2>/dev/null; then
            wait "$SKIFF_PID"
            log "skiffd exited during start-up with status $?"
            tail -n 20 "$TMP/skiff/skiffd.log" >&2
            SKIFF_PID=""
            return 1
        fi
        python3 "$HERE/clients/api_versions.py" "127.0.0.1:$SKIFF_PORT" >/dev/null 2>&1 &&
            return 0
        sleep 0.5
    done
    log "skiffd did not answer ApiVersions within 30 s"
    return 1
}

skiff_stop() {
    local i
    [[ -n "$SKIFF_PID" ]] || return 0
    kill -TERM "$SKIFF_PID" 2>/dev/null
    for ((i = 0; i < 60; i++)); do
        kill -0 "$SKIFF_PID" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$SKIFF_PID" 2>/dev/null && kill -KILL "$SKIFF_PID" 2>/dev/null
    wait "$SKIFF_PID" 2>/dev/null
    SKIFF_PID=""
}

skiff_alive() { [[ -n "$SKIFF_PID" ]] && kill -0 "$SKIFF_PID" 2>/dev/null; }

# ---- cells ----------------------------------------------------------------------------
declare -A RES DETAIL SECS
# run_cell <broker skiff|kafka> <port> <scenario> <client>: RES/DETAIL/SECS[b,s,c]
run_cell() {
    local b=$1 port=$2 s=$3 c=$4 out rc t0=$SECONDS line
    out="$WORK/logs/$b/$s.$c.out"
    mkdir -p "$WORK/logs/$b"
    : > "$out"
    driver_cmd "$c"
    SCN_RECORDS=${SCN_RECORDS[$s]} timeout "$CELL_TIMEOUT_S" "${DRIVER[@]}" \
        "127.0.0.1:$port" "$s" "m$RANDOM${RANDOM}-${c//-/}" >> "$out" 2>&1 < /dev/null &
    TEST_PID=$!
    wait "$TEST_PID"
    rc=$?
    TEST_PID=""
    line=$(grep -E '^(PASS|FAIL|SKIP) ' "$out" | tail -n 1)
    if [[ -z "$line" ]]; then
        line="FAIL $s: no result line (exit $rc$([[ $rc -eq 124 ]] && echo ", timed out")): $(grep -v '^\s*$' "$out" | tail -n 1 | cut -c1-200)"
    elif [[ "$line" == PASS* && $rc -ne 0 ]]; then
        line="FAIL $s: driver printed PASS but exited $rc"
    fi
    if [[ $b == skiff ]] && ! skiff_alive; then
        line="FAIL $s: skiffd died during the cell; ${line#*: }"
        SKIFF_PID=""
        skiff_start || true
    fi
    RES[$b,$s,$c]=${line%% *}
    DETAIL[$b,$s,$c]=${line#*: }
    SECS[$b,$s,$c]=$((SECONDS - t0))
    printf '%-5s %-7s %-18s %-16s %4ss  %s\n' "${line%% *}" "$b" "$s" "$c" \
        "${SECS[$b,$s,$c]}" "${DETAIL[$b,$s,$c]:0:150}" >&2
}

declare -A SKIFF_APIS
missing_apis() {   # <scenario> <client>: required API names skiffd does not advertise
    local a miss="" list="${SCN_REQ[$1]},$(client_requires "$2" "$1")" IFS=,
    for a in $list; do
        [[ -z "$a" || ",$miss," == *",$a,"* ]] && continue
        [[ -n "${SKIFF_APIS[$a]:-}" ]] || miss+="${miss:+,}$a"
    done
    echo "$miss"
}

main() {
    local s c miss api key rest bad=0
    load_scenarios
    mkdir -p "$CACHE" "$WORK"
    for c in $CLIENTS; do
        [[ " $ALL_CLIENTS " == *" $c "* ]] || die "unknown client $c"
        install_client "$c" || die "cannot install client $c (see $CACHE/install-$c.log)"
    done
    [[ $INSTALL_ONLY -eq 1 ]] && { log "clients installed in $CACHE"; return 0; }
    rm -rf "$WORK/logs"
    pick_ports
    log "skiffd on 127.0.0.1:$SKIFF_PORT, Apache Kafka on 127.0.0.1:$KAFKA_PORT"
    skiff_start || die "skiffd did not start"
    while read -r api key rest; do SKIFF_APIS[$api]=$key; done < <(
        python3 "$HERE/clients/api_versions.py" "127.0.0.1:$SKIFF_PORT")
    "$HERE/kafka-ref.sh" start "$KAFKA_PORT" "$TMP/kafka" 2>>"$TMP/harness.log" ||
        die "Apache Kafka did not start: $(tail -n 3 "$TMP/harness.log")"
    KAFKA_UP=1
    for s in "${SCN_ORDER[@]}"; do
        for c in $CLIENTS; do
            miss=$(missing_apis "$s" "$c")
            if [[ -n "$miss" ]]; then
                RES[skiff,$s,$c]=NOTYET
                DETAIL[skiff,$s,$c]="skiffd does not advertise ${miss//,/, }"
            else
                run_cell skiff "$SKIFF_PORT" "$s" "$c"
            fi
            run_cell kafka "$KAFKA_PORT" "$s" "$c"
            if [[ ${RES[skiff,$s,$c]} == FAIL && ${RES[kafka,$s,$c]} == PASS ]]; then
                bad=$((bad + 1))
            fi
        done
    done
    write_table > "$OUT"
    cat "$OUT"
    echo
    echo "matrix: $bad cells where Skiff fails and Apache Kafka passes (table: $OUT)"
    [[ $bad -eq 0 ]] || return 1
}

main
