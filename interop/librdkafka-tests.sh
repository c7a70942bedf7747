#!/usr/bin/env bash
# interop/librdkafka-tests.sh: librdkafka's own numbered test programs, built from
# Debian's source package against the source tree (not the installed library), run
# against skiffd and against the reference Apache Kafka, side by side.
#
#   interop/librdkafka-tests.sh [--build-dir DIR] [--broker skiff|kafka|both]
#                               [--tests "0001 0002 ..."] [--setup-only]
#
#   --build-dir DIR   where skiffd is (default <repo>/build); logs of the last run go to
#                     DIR/librdkafka-tests/<broker>/<test>.log
#   --broker          skiff, kafka or both (default both)
#   --tests LIST      test numbers (default: the smoke set below)
#
# Setup (idempotent, cached in ${SKIFF_MATRIX_HOME:-$HOME/.cache/skiff-matrix}):
# a deb-src entry mirroring the configured Debian sources is written to
# /etc/apt/sources.list.d/skiff-deb-src.sources if none exists, `apt-get source
# librdkafka` unpacks the source, `./configure && make libs` builds the library in
# the tree and `make -C tests build` links the test-runner against it. Each test runs
# alone (TESTS=<n>, quick mode -Q) with a test.conf naming the broker
# (RDKAFKA_TEST_CONF, outside the source tree); a test that fails on a
# broker is retried once there (a few are timing-sensitive on 2 shared cores).
# Prints "PASS|FAIL|NOTYET <broker> <test>" lines and a table; exits 1 when a test
# passes on Kafka but fails on Skiff (NOTYET: a group test while skiffd has no
# JoinGroup), 2 on a setup error.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build"
BROKERS="skiff kafka"
SMOKE="0001 0002 0003 0005 0007 0008 0012 0013 0014 0015 0017 0021 0022 0030 0031 0034
0035 0036 0040 0042 0061 0063 0067 0070 0073 0085"
TESTS=$SMOKE
# tests of the smoke set that subscribe with a consumer group (KafkaConsumer with
# subscribe() or commits): on a skiffd that does not advertise JoinGroup a failure of
# these shows as NOTYET and does not count
GROUP_TESTS=" 0014 0030 0040 0042 0067 "
SETUP_ONLY=0
CACHE=${SKIFF_MATRIX_HOME:-$HOME/.cache/skiff-matrix}
SRC_PARENT="$CACHE/librdkafka-src"
TEST_TIMEOUT_S=${RDK_TEST_TIMEOUT_S:-300}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --broker) BROKERS=${2/both/skiff kafka}; shift 2 ;;
        --tests) TESTS=$2; shift 2 ;;
        --setup-only) SETUP_ONLY=1; shift ;;
        -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "librdkafka-tests.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "librdkafka-tests.sh: no build dir" >&2; exit 2; }
WORK="$BUILD_DIR/librdkafka-tests"
TMP=$(mktemp -d /tmp/skiff-rdktests.XXXXXX)
SKIFF_PID=""
KAFKA_UP=0
TEST_PID=""

log() { echo "librdkafka-tests.sh: $*" >&2; }
die() { log "$*"; exit 2; }

cleanup() {
    trap - EXIT INT TERM
    [[ -n "$TEST_PID" ]] && kill -TERM "$TEST_PID" 2>/dev/null && wait "$TEST_PID"
    if [[ -n "$SKIFF_PID" ]]; then
        kill -TERM "$SKIFF_PID" 2>/dev/null
        wait "$SKIFF_PID" 2>/dev/null
    fi
    [[ $KAFKA_UP -eq 1 ]] && "$HERE/kafka-ref.sh" stop "$TMP/kafka" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# a deb-src twin of every configured Debian source, unless one exists already
ensure_deb_src() {
    local f=/etc/apt/sources.list.d/skiff-deb-src.sources
    if grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
    if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
        sed -n 's/^Types:.*/Types: deb-src/; p' /etc/apt/sources.list.d/*.sources > "$f.tmp"
    else
        grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > "${f%.sources}.list"
    fi
    [[ -f "$f.tmp" ]] && mv "$f.tmp" "$f"
    apt-get update -q >&2
}

setup() {
    local dir stamp="$SRC_PARENT/.built"
    if [[ -f "$stamp" ]] && [[ -x "$(cat "$stamp")/tests/test-runner" ]]; then
        SRC=$(cat "$stamp")
        return 0
    fi
    command -v dpkg-source >/dev/null 2>&1 || apt-get install -y dpkg-dev >&2 || return 1
    ensure_deb_src || return 1
    rm -rf "$SRC_PARENT" && mkdir -p "$SRC_PARENT"
    (cd "$SRC_PARENT" && apt-get source -q librdkafka) >&2 || return 1
    dir=$(find "$SRC_PARENT" -mindepth 1 -maxdepth 1 -type d -name 'librdkafka-*' | head -n 1)
    [[ -n "$dir" ]] || return 1
    log "building librdkafka and its test programs in $dir (a few minutes)"
    (cd "$dir" && ./configure --disable-gssapi >/dev/null &&
        make -j2 libs >/dev/null && make -C tests -j2 build >/dev/null) >&2 || return 1
    [[ -x "$dir/tests/test-runner" ]] || return 1
    echo "$dir" > "$stamp"
    SRC=$dir
}

skiff_start() {   # <port>
    local i
    mkdir -p "$TMP/skiff"
    "$BUILD_DIR/skiffd" --override "listeners=PLAINTEXT://127.0.0.1:$1" \
        --override "log.dirs=$TMP/skiff/logs" --override num.partitions=4 \
        >> "$WORK/skiff/skiffd.log" 2>&1 < /dev/null &
    SKIFF_PID=$!
    for ((i = 0; i < 60; i++)); do
        kill -0 "$SKIFF_PID" 2>/dev/null || { SKIFF_PID=""; return 1; }
        python3 "$HERE/clients/api_versions.py" "127.0.0.1:$1" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

# shellcheck source=clients/matrix-lib.sh
source "$HERE/clients/matrix-lib.sh"   # port_free, pick_ports

declare -A RES
NO_GROUPS=0
run_one() {   # <broker> <port> <test>: RES[broker,test]
    local b=$1 port=$2 t=$3 out="$WORK/$1/$3.log" rc try
    for try in 1 2; do
        {
            echo "bootstrap.servers=127.0.0.1:$port"
            echo "broker.address.family=v4"
        } > "$WORK/$b/test.conf"
        (cd "$SRC/tests" && RDKAFKA_TEST_CONF="$WORK/$b/test.conf" TESTS=$t \
            TEST_KAFKA_VERSION=4.1.1 timeout "$TEST_TIMEOUT_S" ./test-runner -Q > "$out" 2>&1) &
        TEST_PID=$!
        wait "$TEST_PID"
        rc=$?
        TEST_PID=""
        [[ $rc -eq 0 ]] && break
        [[ $b == skiff && -n "$SKIFF_PID" ]] && ! kill -0 "$SKIFF_PID" 2>/dev/null && {
            log "skiffd died during $t; starting it again"
            SKIFF_PID=""
            skiff_start "$port" || die "skiffd does not start again"
        }
    done
    if [[ $rc -eq 0 ]]; then
        RES[$b,$t]=PASS
    elif [[ $b == skiff && $NO_GROUPS -eq 1 && "$GROUP_TESTS" == *" $t "* ]]; then
        RES[$b,$t]=NOTYET
    else
        RES[$b,$t]=FAIL
    fi
    printf '%s %-5s %s%s\n' "${RES[$b,$t]}" "$b" "$t" "$([[ $rc -ne 0 ]] && echo "  ($(
        sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E 'error|FAIL|Assert' |
        sort -s -t: -k1,1 | grep -m1 -iE 'error' || echo "see $out"))")"
}

main() {
    local b t bad=0 port
    setup || die "cannot build librdkafka's test programs (apt-get source librdkafka)"
    [[ $SETUP_ONLY -eq 1 ]] && { log "test-runner ready in $SRC/tests"; return 0; }
    rm -rf "$WORK" && mkdir -p "$WORK/skiff" "$WORK/kafka"
    SKIFF_PORT="" KAFKA_PORT=""
    pick_ports
    for b in $BROKERS; do
        if [[ $b == skiff ]]; then
            [[ -x "$BUILD_DIR/skiffd" ]] || die "no $BUILD_DIR/skiffd"
            skiff_start "$SKIFF_PORT" || die "skiffd did not start"
            port=$SKIFF_PORT
            python3 "$HERE/clients/api_versions.py" "127.0.0.1:$port" | grep -q '^JoinGroup ' ||
                NO_GROUPS=1
        else
            "$HERE/kafka-ref.sh" start "$KAFKA_PORT" "$TMP/kafka" 2>> "$WORK/kafka/harness.log" ||
                die "Apache Kafka did not start"
            KAFKA_UP=1
            port=$KAFKA_PORT
        fi
        for t in $TESTS; do run_one "$b" "$port" "$t"; done
        if [[ $b == skiff ]]; then kill -TERM "$SKIFF_PID"; wait "$SKIFF_PID"; SKIFF_PID=""; fi
        if [[ $b == kafka ]]; then "$HERE/kafka-ref.sh" stop "$TMP/kafka" >/dev/null 2>&1; KAFKA_UP=0; fi
    done
    echo
    echo "| test | Skiff | Apache Kafka |"
    echo "| --- | --- | --- |"
    for t in $TESTS; do
        echo "| $t | ${RES[skiff,$t]:--} | ${RES[kafka,$t]:--} |"
        [[ ${RES[skiff,$t]:-} == FAIL && ${RES[kafka,$t]:-} == PASS ]] && bad=$((bad + 1))
    done
    echo
    echo "librdkafka-tests: $bad tests pass on Apache Kafka and fail on Skiff (logs: $WORK)"
    [[ $bad -eq 0 ]]
}

main
