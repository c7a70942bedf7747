#!/usr/bin/env bash
# interop/crash_durable.sh: the strict durability setting under kill -9. Builds
# interop/rdkafka/crash_durable.c and runs it: a private skiffd with
# log.flush.interval.messages=1, an idempotent acks=all producer, skiffd killed with
# SIGKILL at random moments KILLS times (default 50) and restarted on the same data,
# then every acknowledged record must be read back once, in order, uncorrupted (see the
# program's header for every check). Power loss (unsynced data dropped) is covered by
# tests/unit/test_storage_crash.c, which a process kill cannot show.
#
#   interop/crash_durable.sh [--build-dir DIR]     DIR holds skiffd (default <repo>/build)
#
# env N (records, default 100,000), KILLS, PERIOD_MS pass through to the program; env
# INTEROP_CFLAGS replaces -O2. Prints the program's PASS/FAIL line; exit status 0 = pass.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BUILD_DIR="$REPO/build"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "crash_durable.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x "$BUILD_DIR/skiffd" ]] || { echo "crash_durable.sh: no skiffd in $BUILD_DIR" >&2; exit 2; }
BIN="$BUILD_DIR/interop"
mkdir -p "$BIN"
# shellcheck disable=SC2086
cc -std=c11 -D_GNU_SOURCE ${INTEROP_CFLAGS:--O2} -Wall -Wextra -o "$BIN/crash_durable" \
    "$HERE/rdkafka/crash_durable.c" "$HERE/rdkafka/itest.c" -lrdkafka -lpthread
SKIFFD="$BUILD_DIR/skiffd" exec "$BIN/crash_durable" "${1:-it-durable}"
